//===- ImportAttributes.cpp - A node's attributes, checked ----------------===//
//
// Reading an attribute checks its type; an attribute the mapping does not
// read is refused, so none is silently ignored; `pads` and `auto_pad` resolve
// into the four pads net's windows take.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

namespace netc::onnx {

const ::onnx::AttributeProto *Importer::attr(const Node &node, StringRef name) const {
  for (const auto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

std::optional<int64_t> Importer::intAttr(const Node &node, StringRef name, int64_t fallback) {
  const auto *a = attr(node, name);
  if (!a)
    return fallback;
  if (a->type() != ::onnx::AttributeProto_AttributeType_INT) {
    failNode(node, "attribute '" + name + "' must be an integer");
    return std::nullopt;
  }
  return a->i();
}

std::optional<float> Importer::floatAttr(const Node &node, StringRef name, float fallback) {
  const auto *a = attr(node, name);
  if (!a)
    return fallback;
  if (a->type() != ::onnx::AttributeProto_AttributeType_FLOAT) {
    failNode(node, "attribute '" + name + "' must be a float");
    return std::nullopt;
  }
  return a->f();
}

std::optional<std::vector<int64_t>>
Importer::intsAttr(const Node &node, StringRef name, std::vector<int64_t> fallback) {
  const auto *a = attr(node, name);
  if (!a)
    return fallback;
  if (a->type() != ::onnx::AttributeProto_AttributeType_INTS) {
    failNode(node, "attribute '" + name + "' must be a list of integers");
    return std::nullopt;
  }
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

/// Refuses attributes the mapping does not read, so none is silently ignored.
bool Importer::onlyAttributes(const Node &node, std::initializer_list<StringRef> known) {
  bool ok = true;
  for (const auto &a : node.attribute())
    if (!llvm::is_contained(known, StringRef(a.name()))) {
      failNode(node, "attribute '" + a.name() + "' is not supported");
      ok = false;
    }
  return ok;
}

bool Importer::expectInt(const Node &node, StringRef name, int64_t fallback, int64_t wanted,
                         StringRef why) {
  auto v = intAttr(node, name, fallback);
  if (!v)
    return false;
  if (*v == wanted)
    return true;
  failNode(node, name + " = " + Twine(*v).str() + " is not supported (" + why + ")");
  return false;
}

/// Integers that newer opsets give as input `index` (an integer constant)
/// and older ones as attribute `name` (Unsqueeze's axes before 13, Pad's
/// pads before 11, ...); empty when neither is given; nullopt on an error
/// (reported).
std::optional<std::vector<int64_t>> Importer::intsInputOrAttr(const Node &node, int index,
                                                              StringRef name) {
  if (node.input_size() > index && !node.input(index).empty()) {
    const Constant *c = intConstantInput(node, index, name);
    if (!c)
      return std::nullopt;
    return c->ints;
  }
  return intsAttr(node, name, {});
}

bool Importer::expectOnes(const Node &node, StringRef name) {
  auto v = intsAttr(node, name, {});
  if (!v)
    return false;
  if (llvm::all_of(*v, [](int64_t d) { return d == 1; }))
    return true;
  failNode(node, name + " = " + formatDims(*v) + " is not supported (only 1)");
  return false;
}

/// Resolves `pads` / `auto_pad` of Conv and the pools into
/// [top, left, bottom, right] (ONNX writes [top, left, bottom, right] too).
std::optional<std::array<int64_t, 4>>
Importer::windowPads(const Node &node, llvm::ArrayRef<int64_t> in,
                     llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> strides) {
  std::string autoPad = "NOTSET";
  if (const auto *a = attr(node, "auto_pad"))
    autoPad = a->s();
  auto pads = intsAttr(node, kPads.onnx, {0, 0, 0, 0});
  if (!pads)
    return std::nullopt;
  if (pads->size() != 4 || (*pads)[0] < 0 || (*pads)[1] < 0) {
    failNode(node, StringRef(kPads.onnx) + " = " + formatDims(*pads) +
                       " must be 4 values, the first two non-negative");
    return std::nullopt;
  }
  std::array<int64_t, 4> out{(*pads)[0], (*pads)[1], (*pads)[2], (*pads)[3]};
  // PyTorch's exporter writes ceil_mode before opset 10 as pads, negative
  // at the end where rounding up adds no window: the trimmed rows are ones
  // no window reads, so such a pad is 0. One that drops a window is not.
  for (int d = 0; d < 2; ++d) {
    if (out[2 + d] >= 0)
      continue;
    int64_t kept = in[2 + d] + out[d] + out[2 + d];
    if (kept < kernel[d] || (kept - kernel[d]) / strides[d] !=
                                (in[2 + d] + out[d] - kernel[d]) / strides[d]) {
      failNode(node, StringRef(kPads.onnx) + " = " + formatDims(*pads) +
                         ": a negative end pad that drops a window is not supported");
      return std::nullopt;
    }
    out[2 + d] = 0;
  }
  if (autoPad == "NOTSET")
    return out;
  if (autoPad == "VALID")
    return std::array<int64_t, 4>{0, 0, 0, 0};
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (int d = 0; d < 2; ++d) {
      int64_t size = in[2 + d], o = (size + strides[d] - 1) / strides[d];
      int64_t total = std::max<int64_t>(0, (o - 1) * strides[d] + kernel[d] - size);
      int64_t small = total / 2, large = total - small;
      bool upper = autoPad == "SAME_UPPER";
      out[d] = upper ? small : large;
      out[2 + d] = upper ? large : small;
    }
    return out;
  }
  failNode(node, "auto_pad = " + autoPad + " is not supported");
  return std::nullopt;
}

} // namespace netc::onnx
