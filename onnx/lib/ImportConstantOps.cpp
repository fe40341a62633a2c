//===- ImportConstantOps.cpp - ONNX ops evaluated on constants ------------===//
//
// PyTorch's exporter writes the arithmetic of a traced `x.view(x.size(0), -1)`
// as ops on the graph's shapes (Shape, Gather, Unsqueeze, Concat, and Mul
// for products of sizes), and, without constant folding, a Linear without
// bias as MatMul over Transpose(weight). Every shape is known when netc
// imports, so these ops are evaluated here on constants, as an exporter's
// constant folding would: their outputs are constants, and only the ops
// that use them (Reshape's target, MatMul's weight) reach the net module.
// The batch, which stays open, is the one unknown: a shape holds it as
// kBatchDim, which only passes through these ops and into a Reshape's
// first dim.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include <algorithm>
#include <numeric>

using llvm::StringRef;
using llvm::Twine;

namespace netc::onnx {

namespace {

/// Rank-r index `axis` from ONNX's [-r, r - 1], or -1 when out of range.
int64_t normalisedAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return -1;
  return axis < 0 ? axis + rank : axis;
}

} // namespace

/// The integer constant of input `index`, or null (reported).
const Constant *Importer::intConstantInput(const Node &node, int index, StringRef role) {
  Constant *c = constantInput(node, index, role);
  if (!c)
    return nullptr;
  if (c->isFloat) {
    failNode(node, "its " + role + " '" + node.input(index) +
                       "' is a float tensor; only shapes and indices (integers) are "
                       "computed at import");
    return nullptr;
  }
  return c;
}

/// An op that takes only constants: when an input is computed, the op would
/// compute on the network's values, which net has no op for.
bool Importer::onlyConstantInputs(const Node &node) {
  for (int i = 0; i < node.input_size(); ++i) {
    const std::string &in = node.input(i);
    if (in.empty() || constants.count(in))
      continue;
    if (bad.count(in))
      return false;
    if (tensors.count(in))
      failNode(node, "computes on the network's values ('" + in +
                         "'), which is not supported; only on shapes and constants "
                         "(docs/onnx.md)");
    else
      constantInput(node, i, "input");
    return false;
  }
  return true;
}

/// Shape(x) of a computed tensor: its dims as an int64 constant, the batch
/// as kBatchDim; opset 15's `start` and `end` take a slice.
void Importer::shapeOf(const Node &node) {
  const Tensor *x = input(node, 0, 0, /*allowPooled=*/true);
  if (!x || !onlyAttributes(node, {"start", "end"}))
    return;
  std::vector<int64_t> dims(x->shape.begin(), x->shape.end());
  dims.insert(dims.end(), size_t(x->unitDims), 1); // ONNX's (N, C, 1, 1)
  dims[0] = kBatchDim;
  int64_t rank = int64_t(dims.size());
  auto start = intAttr(node, "start", 0), end = intAttr(node, "end", rank);
  if (!start || !end)
    return;
  auto clampIndex = [&](int64_t i) {
    return std::clamp(i < 0 ? i + rank : i, int64_t(0), rank);
  };
  int64_t from = clampIndex(*start), to = std::max(from, clampIndex(*end));
  Constant out;
  out.ints.assign(dims.begin() + from, dims.begin() + to);
  out.shape = {to - from};
  constants[node.output(0)] = std::move(out);
}

/// Gather on a 1-d integer constant (a shape) at constant indices.
void Importer::gatherConstant(const Node &node) {
  if (!onlyConstantInputs(node) || !onlyAttributes(node, {"axis"}))
    return;
  const Constant *data = intConstantInput(node, 0, "data");
  const Constant *indices = intConstantInput(node, 1, "indices");
  auto axis = intAttr(node, "axis", 0);
  if (!data || !indices || !axis)
    return;
  if (data->shape.size() != 1 || normalisedAxis(*axis, 1) != 0) {
    failNode(node, "gathers from a constant of shape " + formatDims(data->shape) +
                       " on axis " + Twine(*axis).str() +
                       "; only from a 1-d shape is supported");
    return;
  }
  int64_t size = data->shape[0];
  Constant out;
  out.shape = indices->shape;
  for (int64_t i : indices->ints) {
    int64_t at = normalisedAxis(i, size);
    if (at < 0) {
      failNode(node, "index " + Twine(i).str() + " is out of range for " +
                         Twine(size).str() + " values");
      return;
    }
    out.ints.push_back(data->ints[size_t(at)]);
  }
  constants[node.output(0)] = std::move(out);
}

/// Unsqueeze and Squeeze of an integer constant: its values, reshaped.
/// The axes are an attribute before opset 13 and an input from 13 on.
void Importer::reshapeConstant(const Node &node, bool unsqueeze) {
  if (!onlyConstantInputs(node) || !onlyAttributes(node, {"axes"}))
    return;
  const Constant *data = intConstantInput(node, 0, "data");
  if (!data)
    return;
  auto axesGiven = intsInputOrAttr(node, 1, "axes");
  if (!axesGiven)
    return;
  const std::vector<int64_t> &axes = *axesGiven;
  std::vector<int64_t> shape = data->shape;
  if (unsqueeze) {
    int64_t rank = int64_t(shape.size() + axes.size());
    std::vector<int64_t> at;
    for (int64_t a : axes)
      at.push_back(normalisedAxis(a, rank));
    llvm::sort(at);
    if (llvm::is_contained(at, -1) || std::adjacent_find(at.begin(), at.end()) != at.end()) {
      failNode(node, "axes " + formatDims(axes) + " are not distinct axes of a rank-" +
                         Twine(rank).str() + " result");
      return;
    }
    for (int64_t a : at)
      shape.insert(shape.begin() + a, 1);
  } else {
    int64_t rank = int64_t(shape.size());
    std::vector<bool> drop(shape.size(), axes.empty());
    for (int64_t a : axes) {
      int64_t at = normalisedAxis(a, rank);
      if (at < 0 || shape[size_t(at)] != 1) {
        failNode(node, "axis " + Twine(a).str() + " of " + formatDims(shape) +
                           " is not a dim of size 1");
        return;
      }
      drop[size_t(at)] = true;
    }
    std::vector<int64_t> kept;
    for (size_t i = 0; i < shape.size(); ++i)
      if (!drop[i] || shape[i] != 1)
        kept.push_back(shape[i]);
    shape = kept;
  }
  Constant out = *data;
  out.shape = shape;
  constants[node.output(0)] = std::move(out);
}

/// Concat of 1-d integer constants (the pieces of a target shape).
void Importer::concatConstants(const Node &node) {
  if (!onlyConstantInputs(node) || !onlyAttributes(node, {"axis"}))
    return;
  auto axis = intAttr(node, "axis", 0);
  if (!axis)
    return;
  Constant out;
  for (int i = 0; i < node.input_size(); ++i) {
    const Constant *piece = intConstantInput(node, i, "input");
    if (!piece)
      return;
    if (piece->shape.size() != 1 || normalisedAxis(*axis, 1) != 0) {
      failNode(node, "concatenates " + formatDims(piece->shape) + " on axis " +
                         Twine(*axis).str() + "; only 1-d shapes are supported");
      return;
    }
    out.ints.insert(out.ints.end(), piece->ints.begin(), piece->ints.end());
  }
  out.shape = {int64_t(out.ints.size())};
  constants[node.output(0)] = std::move(out);
}

/// Mul of two integer constants of one shape, or one a scalar (a product of
/// sizes). The batch is unknown at import, so a product with it is refused.
void Importer::mulConstants(const Node &node) {
  if (!onlyConstantInputs(node) || !onlyAttributes(node, {}))
    return;
  const Constant *a = intConstantInput(node, 0, "A");
  const Constant *b = intConstantInput(node, 1, "B");
  if (!a || !b)
    return;
  bool aScalar = a->ints.size() == 1, bScalar = b->ints.size() == 1;
  if (a->shape != b->shape && !aScalar && !bScalar) {
    failNode(node, "multiplies shapes " + formatDims(a->shape) + " and " +
                       formatDims(b->shape) + "; only equal shapes or a scalar are supported");
    return;
  }
  Constant out;
  out.shape = aScalar ? b->shape : a->shape;
  size_t n = std::max(a->ints.size(), b->ints.size());
  for (size_t i = 0; i < n; ++i) {
    int64_t x = a->ints[aScalar ? 0 : i], y = b->ints[bScalar ? 0 : i], product = 0;
    if (x == kBatchDim || y == kBatchDim) {
      failNode(node, "multiplies the batch size, which stays open until the model is "
                     "instantiated; not supported");
      return;
    }
    if (__builtin_mul_overflow(x, y, &product)) {
      failNode(node, "overflows int64");
      return;
    }
    out.ints.push_back(product);
  }
  constants[node.output(0)] = std::move(out);
}

/// Cast of an integer constant to an integer type: the same values.
void Importer::castConstant(const Node &node) {
  if (!onlyConstantInputs(node) || !onlyAttributes(node, {"to", "saturate"}))
    return;
  const Constant *x = intConstantInput(node, 0, "input");
  auto to = intAttr(node, "to", 0);
  if (!x || !to)
    return;
  if (*to != ::onnx::TensorProto_DataType_INT64 && *to != ::onnx::TensorProto_DataType_INT32) {
    failNode(node, "casts to ONNX data type " + Twine(*to).str() +
                       "; only shapes to int64 or int32 are supported");
    return;
  }
  constants[node.output(0)] = *x;
}

/// Transpose of a float constant (MatMul's weight written as
/// Transpose(weight) without constant folding): the constant transposed,
/// which keeps the name of the initializer it came from.
void Importer::transposeConstant(const Node &node) {
  if (!onlyConstantInputs(node) || !onlyAttributes(node, {"perm"}))
    return;
  Constant *x = constantInput(node, 0, "input");
  if (!x)
    return;
  size_t rank = x->shape.size();
  std::vector<int64_t> reversed(rank);
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  auto perm = intsAttr(node, "perm", reversed);
  if (!perm)
    return;
  std::vector<int64_t> sorted = *perm;
  llvm::sort(sorted);
  std::vector<int64_t> identity(rank);
  std::iota(identity.begin(), identity.end(), 0);
  if (sorted != identity) {
    failNode(node, "perm " + formatDims(*perm) + " is not a permutation of the " +
                       Twine(rank).str() + " dims of '" + node.input(0) + "'");
    return;
  }
  Constant out;
  out.isFloat = x->isFloat;
  out.origin = x->origin.empty() ? node.input(0) : x->origin;
  for (int64_t p : *perm)
    out.shape.push_back(x->shape[size_t(p)]);
  // Strides of the input, read in the output's order.
  std::vector<int64_t> inStride(rank, 1);
  for (size_t d = rank; d-- > 1;)
    inStride[d - 1] = inStride[d] * x->shape[d];
  int64_t n = product(out.shape);
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t from = 0;
    for (size_t d = 0; d < rank; ++d)
      from += index[d] * inStride[size_t((*perm)[d])];
    if (x->isFloat)
      out.floats.push_back(x->floats[size_t(from)]);
    else
      out.ints.push_back(x->ints[size_t(from)]);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < out.shape[d])
        break;
      index[d] = 0;
    }
  }
  constants[node.output(0)] = std::move(out);
}

} // namespace netc::onnx
