//===- ImportInitializers.cpp - ONNX constants into net parameters --------===//
//
// Initializers and Constant values as the importer holds them (float32
// weights, int64 shapes and pads), their lookup as a node's operands, and the
// `net.param` each weight becomes.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "net/Dialect/NetOps.h"

#include <cstring>

using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

namespace netc::onnx {

void Importer::readInitializers() {
  const ::onnx::GraphProto &graph = model.graph();
  for (const auto &init : graph.initializer())
    fileNames.insert(init.name());
  for (const Node &node : graph.node())
    for (const std::string &out : node.output())
      fileNames.insert(out);
  for (const auto &init : graph.initializer()) {
    Constant c;
    if (readConstant(init, c, "initializer"))
      constants[init.name()] = std::move(c);
  }
}

bool Importer::readConstant(const ::onnx::TensorProto &t, Constant &out, const Twine &what) {
  if (t.data_location() == ::onnx::TensorProto_DataLocation_EXTERNAL) {
    fail(what + " '" + t.name() + "' keeps its data in an external file, which is not "
                                  "supported; save the model with its data inside");
    return false;
  }
  out.shape.assign(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : out.shape)
    if (d < 0 || (d && __builtin_mul_overflow(n, d, &n)) || n > (int64_t(1) << 34)) {
      fail(what + " '" + t.name() + "' has an impossible shape " + formatDims(out.shape));
      return false;
    }
  if (llvm::is_contained(out.shape, 0))
    n = 0;
  const std::string &raw = t.raw_data();
  auto sizeError = [&](size_t got) {
    fail(what + " '" + t.name() + "' has shape " + formatDims(out.shape) + " but " +
         Twine(got).str() + " values");
    return false;
  };
  switch (t.data_type()) {
  case ::onnx::TensorProto_DataType_FLOAT:
    out.isFloat = true;
    if (t.has_raw_data()) {
      if (raw.size() != size_t(n) * 4)
        return sizeError(raw.size() / 4);
      out.floats.resize(size_t(n));
      // ONNX raw data is little-endian, as every host netc builds for.
      std::memcpy(out.floats.data(), raw.data(), raw.size());
      return true;
    }
    if (t.float_data_size() != n)
      return sizeError(size_t(t.float_data_size()));
    out.floats.assign(t.float_data().begin(), t.float_data().end());
    return true;
  case ::onnx::TensorProto_DataType_INT64:
    if (t.has_raw_data()) {
      if (raw.size() != size_t(n) * 8)
        return sizeError(raw.size() / 8);
      out.ints.resize(size_t(n));
      std::memcpy(out.ints.data(), raw.data(), raw.size());
      return true;
    }
    if (t.int64_data_size() != n)
      return sizeError(size_t(t.int64_data_size()));
    out.ints.assign(t.int64_data().begin(), t.int64_data().end());
    return true;
  case ::onnx::TensorProto_DataType_BOOL:
  case ::onnx::TensorProto_DataType_INT32:
    if (t.has_raw_data()) {
      size_t width = t.data_type() == ::onnx::TensorProto_DataType_BOOL ? 1 : 4;
      if (raw.size() != size_t(n) * width)
        return sizeError(raw.size() / width);
      for (size_t i = 0; i < size_t(n); ++i) {
        int32_t v = 0;
        std::memcpy(&v, raw.data() + i * width, width);
        out.ints.push_back(v);
      }
      return true;
    }
    if (t.int32_data_size() != n)
      return sizeError(size_t(t.int32_data_size()));
    out.ints.assign(t.int32_data().begin(), t.int32_data().end());
    return true;
  default:
    fail(what + " '" + t.name() + "' has ONNX data type " + Twine(t.data_type()).str() +
         "; only float32 weights (and int64 shapes) are supported");
    return false;
  }
}

Constant *Importer::constantInput(const Node &node, int index, StringRef role) {
  if (index >= node.input_size() || node.input(index).empty()) {
    failNode(node, "expects its " + role + " as input " + Twine(index + 1).str());
    return nullptr;
  }
  const std::string &name = node.input(index);
  auto it = constants.find(name);
  if (it != constants.end())
    return &it->second;
  if (bad.count(name))
    return nullptr;
  if (tensors.count(name))
    failNode(node, "its " + role + " '" + name + "' is computed by the graph; only an "
                                                 "initializer is supported");
  else
    failNode(node, "its " + role + " '" + name + "' is missing: no initializer or "
                                                 "Constant of that name");
  return nullptr;
}

mlir::Value Importer::param(const Node &node, StringRef name, llvm::ArrayRef<int64_t> shape,
                            std::vector<float> data, StringRef init, bool frozen) {
  // An initializer read by several nodes (PyTorch's exporter shares equal
  // constants) becomes one parameter per use, each with the values: the same
  // function, and parameters that train apart, as they did before export.
  // A copy's name is neither a parameter's yet nor any tensor's of the file.
  auto source = constants.find(name);
  if (source != constants.end() && !source->second.origin.empty())
    name = source->second.origin;
  std::string unique = name.str();
  int use = 1;
  while (paramNames.count(unique) || (use > 1 && fileNames.count(unique)))
    unique = (name + "." + Twine(++use)).str();
  paramNames.insert(unique);
  auto op = builder.create<mlir::net::ParamOp>(
      location(node), type(shape), builder.getStringAttr(unique), builder.getStringAttr(init),
      frozen ? builder.getUnitAttr() : nullptr);
  weights.push_back(Weight{unique, std::vector<int64_t>(shape.begin(), shape.end()),
                           std::move(data)});
  return op.getResult();
}

} // namespace netc::onnx
