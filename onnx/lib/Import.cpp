//===- Import.cpp - ONNX graphs into the net dialect ----------------------===//
//
// Walks the graph's nodes in order (ONNX stores them topologically sorted)
// and builds one `net` op per node, checking every attribute against what
// the op computes. A node that cannot be mapped is reported and its outputs
// are marked bad, so the nodes after it stay quiet about them and one run
// reports every independent problem.
//
// Over 1,000 lines, not split yet on purpose: ONNX export is to sit beside
// this import with one op mapping table for both, and the per-family
// importers (conv, pooling, batch norm, dense, glue) split out along that
// table then, with the Importer in a private header.
//
//===----------------------------------------------------------------------===//

#include "net/ONNX/Import.h"

#include "net/Dialect/NetDialect.h"
#include "net/Dialect/NetOps.h"
#include "net/Dialect/Shapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

using namespace net::onnx;
using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

namespace {

/// Largest ONNX file read: ResNet50 is 100 MB, protobuf's own limit is 2 GB.
constexpr uint64_t kMaxFileBytes = uint64_t(1) << 31;

/// A constant: an initializer or the value of a Constant node.
struct Constant {
  std::vector<int64_t> shape;
  std::vector<float> floats;   // FLOAT tensors
  std::vector<int64_t> ints;   // INT64 / INT32 tensors
  bool isFloat = false;
};

/// A tensor flowing through the graph.
struct Tensor {
  mlir::Value value;
  Shape shape;           // the net value's shape
  /// GlobalAveragePool's (N, C, 1, 1), held as the net op's [N, C]; only a
  /// Flatten, Reshape or Squeeze to [N, C] may take it.
  bool pooled1x1 = false;
};

int64_t product(llvm::ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::string formatDims(llvm::ArrayRef<int64_t> dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

class Importer {
public:
  Importer(mlir::MLIRContext &context, StringRef path, StringRef networkName)
      : context(context), path(path.str()), networkName(networkName.str()),
        builder(&context) {}

  llvm::Expected<ImportedModel> run();

private:
  using Node = ::onnx::NodeProto;

  // Reporting.
  void fail(const Twine &message) { problems.push_back(path + ": " + message.str()); }
  void failNode(const Node &node, const Twine &message) {
    fail("node '" + nodeName(node) + "' (" + node.op_type() + "): " + message);
  }
  std::string nodeName(const Node &node) const;

  // Reading.
  bool readConstant(const ::onnx::TensorProto &t, Constant &out, const Twine &what);
  bool readGraphInput();

  // Attributes, checked against the node's op.
  const ::onnx::AttributeProto *attr(const Node &node, StringRef name) const;
  std::optional<int64_t> intAttr(const Node &node, StringRef name, int64_t fallback);
  std::optional<float> floatAttr(const Node &node, StringRef name, float fallback);
  std::optional<std::vector<int64_t>> intsAttr(const Node &node, StringRef name,
                                               std::vector<int64_t> fallback);
  bool onlyAttributes(const Node &node, std::initializer_list<StringRef> known);
  bool expectInt(const Node &node, StringRef name, int64_t fallback, int64_t wanted,
                 StringRef why);
  bool expectOnes(const Node &node, StringRef name);

  // Operands.
  const Tensor *input(const Node &node, int index, size_t rank = 0, bool allowPooled = false);
  Constant *constantInput(const Node &node, int index, StringRef role);
  bool setOutput(const Node &node, Tensor t);
  mlir::Value param(const Node &node, StringRef name, llvm::ArrayRef<int64_t> shape,
                    std::vector<float> data, StringRef init, bool frozen);
  mlir::Location location(const Node &node);
  mlir::RankedTensorType type(llvm::ArrayRef<int64_t> shape);
  std::optional<std::array<int64_t, 4>> windowPads(const Node &node,
                                                   llvm::ArrayRef<int64_t> inputShape,
                                                   llvm::ArrayRef<int64_t> kernel,
                                                   llvm::ArrayRef<int64_t> strides);

  // One method per op family.
  void importNode(const Node &node);
  void conv(const Node &node);
  void pool(const Node &node, bool isMax);
  void batchNorm(const Node &node);
  void gemm(const Node &node);
  void matMul(const Node &node);
  void add(const Node &node);
  void flattenLike(const Node &node);
  void dropout(const Node &node);
  void pad(const Node &node);

  mlir::MLIRContext &context;
  std::string path;
  std::string networkName;
  mlir::OpBuilder builder;
  ::onnx::ModelProto model;
  int64_t opset = 0;
  mlir::Block *entry = nullptr;
  std::vector<std::string> problems;
  llvm::StringMap<Constant> constants;
  llvm::StringMap<Tensor> tensors;
  llvm::StringSet<> bad; // outputs of nodes that failed
  std::string inputName;
  std::vector<Weight> weights;
  llvm::StringSet<> paramNames;
  llvm::StringSet<> fileNames; // every initializer and node output of the file
  size_t nodeIndex = 0;
};

std::string Importer::nodeName(const Node &node) const {
  if (!node.name().empty())
    return node.name();
  // Unnamed nodes are named after their op and position, as a user counts them.
  return node.op_type() + "_" + std::to_string(nodeIndex);
}

mlir::Location Importer::location(const Node &node) {
  auto file = mlir::FileLineColLoc::get(builder.getStringAttr(path), 0, 0);
  return mlir::NameLoc::get(builder.getStringAttr(nodeName(node)), file);
}

mlir::RankedTensorType Importer::type(llvm::ArrayRef<int64_t> shape) {
  return mlir::RankedTensorType::get(shape, builder.getF32Type());
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
      // ONNX raw data is little-endian, as this machine.
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

bool Importer::readGraphInput() {
  const ::onnx::GraphProto &graph = model.graph();
  const ::onnx::ValueInfoProto *found = nullptr;
  for (const auto &in : graph.input()) {
    if (constants.count(in.name()))
      continue; // IR version < 4 lists the initializers as inputs too
    if (found) {
      fail("the graph has more than one input ('" + found->name() + "', '" + in.name() +
           "'); a model takes one image or feature tensor");
      return false;
    }
    found = &in;
  }
  if (!found) {
    fail("the graph has no input");
    return false;
  }
  const auto &tt = found->type().tensor_type();
  if (!found->type().has_tensor_type() || tt.elem_type() != ::onnx::TensorProto_DataType_FLOAT) {
    fail("input '" + found->name() + "' must be a float32 tensor");
    return false;
  }
  Shape shape{mlir::ShapedType::kDynamic};
  int rank = tt.shape().dim_size();
  if (rank != 2 && rank != 4) {
    fail("input '" + found->name() + "' has rank " + Twine(rank).str() +
         "; expected (N, C, H, W) or (N, features)");
    return false;
  }
  // The batch (dim 0) is left open whatever the file says; the rest must be fixed.
  for (int i = 1; i < rank; ++i) {
    const auto &d = tt.shape().dim(i);
    if (!d.has_dim_value() || d.dim_value() <= 0 || d.dim_value() > (1 << 20)) {
      fail("input '" + found->name() + "' dim " + Twine(i).str() +
           " must be a fixed positive size; only the batch (dim 0) may be symbolic");
      return false;
    }
    shape.push_back(d.dim_value());
  }
  mlir::Value arg = entry->addArgument(
      type(shape), mlir::NameLoc::get(builder.getStringAttr(found->name()),
                                      mlir::FileLineColLoc::get(builder.getStringAttr(path), 0, 0)));
  tensors[found->name()] = Tensor{arg, shape};
  inputName = found->name();
  return true;
}

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

bool Importer::expectOnes(const Node &node, StringRef name) {
  auto v = intsAttr(node, name, {});
  if (!v)
    return false;
  if (llvm::all_of(*v, [](int64_t d) { return d == 1; }))
    return true;
  failNode(node, name + " = " + formatDims(*v) + " is not supported (only 1)");
  return false;
}

const Tensor *Importer::input(const Node &node, int index, size_t rank, bool allowPooled) {
  if (index >= node.input_size() || node.input(index).empty()) {
    failNode(node, "expects input " + Twine(index + 1).str());
    return nullptr;
  }
  const std::string &name = node.input(index);
  if (bad.count(name))
    return nullptr;
  auto it = tensors.find(name);
  if (it == tensors.end()) {
    if (constants.count(name))
      failNode(node, "input '" + name + "' is a constant where a computed tensor is "
                                        "expected; not supported");
    else
      failNode(node, "input '" + name + "' is neither the graph's input, an initializer "
                                        "nor the output of an earlier node");
    return nullptr;
  }
  const Tensor &t = it->second;
  if (t.pooled1x1 && !allowPooled) {
    failNode(node, "takes the (N, C, 1, 1) output of a GlobalAveragePool, which is "
                   "supported only through Flatten or Reshape to (N, C)");
    return nullptr;
  }
  if (rank && t.shape.size() != rank) {
    failNode(node, "expects a " + Twine(rank).str() + "-d input, got " + shapes::format(t.shape));
    return nullptr;
  }
  return &t;
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

bool Importer::setOutput(const Node &node, Tensor t) {
  if (node.output_size() < 1 || node.output(0).empty()) {
    failNode(node, "has no output");
    return false;
  }
  for (int i = 1; i < node.output_size(); ++i)
    if (!node.output(i).empty()) {
      failNode(node, "output " + Twine(i + 1).str() + " ('" + node.output(i) +
                         "') is not supported");
      return false;
    }
  tensors[node.output(0)] = std::move(t);
  return true;
}

mlir::Value Importer::param(const Node &node, StringRef name, llvm::ArrayRef<int64_t> shape,
                            std::vector<float> data, StringRef init, bool frozen) {
  // An initializer read by several nodes (PyTorch's exporter shares equal
  // constants) becomes one parameter per use, each with the values: the same
  // function, and parameters that train apart, as they did before export.
  // A copy's name is neither a parameter's yet nor any tensor's of the file.
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

/// Resolves `pads` / `auto_pad` of Conv and the pools into
/// [top, left, bottom, right] (ONNX writes [top, left, bottom, right] too).
std::optional<std::array<int64_t, 4>>
Importer::windowPads(const Node &node, llvm::ArrayRef<int64_t> in,
                     llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> strides) {
  std::string autoPad = "NOTSET";
  if (const auto *a = attr(node, "auto_pad"))
    autoPad = a->s();
  auto pads = intsAttr(node, "pads", {0, 0, 0, 0});
  if (!pads)
    return std::nullopt;
  if (pads->size() != 4 || llvm::any_of(*pads, [](int64_t p) { return p < 0; })) {
    failNode(node, "pads = " + formatDims(*pads) + " must be 4 non-negative values");
    return std::nullopt;
  }
  std::array<int64_t, 4> out{(*pads)[0], (*pads)[1], (*pads)[2], (*pads)[3]};
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

//===----------------------------------------------------------------------===//
// Nodes
//===----------------------------------------------------------------------===//

void Importer::importNode(const Node &node) {
  const std::string &op = node.op_type();
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    failNode(node, "op domain '" + node.domain() + "' is not supported");
    return;
  }
  if (op == "Constant") {
    const auto *value = attr(node, "value");
    if (!onlyAttributes(node, {"value"}) || !value || node.output_size() != 1) {
      if (!value)
        failNode(node, "only the 'value' form of Constant is supported");
      return;
    }
    Constant c;
    if (readConstant(value->t(), c, "constant"))
      constants[node.output(0)] = std::move(c);
    return;
  }
  if (op == "Conv")
    return conv(node);
  if (op == "MaxPool" || op == "AveragePool")
    return pool(node, op == "MaxPool");
  if (op == "BatchNormalization")
    return batchNorm(node);
  if (op == "Gemm")
    return gemm(node);
  if (op == "MatMul")
    return matMul(node);
  if (op == "Add")
    return add(node);
  if (op == "Flatten" || op == "Reshape")
    return flattenLike(node);
  if (op == "Dropout")
    return dropout(node);
  if (op == "Pad")
    return pad(node);
  if (op == "Identity") {
    // PyTorch's exporter writes Identity over an initializer it deduplicated
    // (equal constants, such as the zero biases of an untrained model): the
    // output is that constant under the duplicate's own name.
    if (node.input_size() >= 1 && node.output_size() == 1 &&
        !tensors.count(node.input(0)) && constants.count(node.input(0))) {
      if (onlyAttributes(node, {}))
        constants[node.output(0)] = constants[node.input(0)];
      return;
    }
    if (const Tensor *x = input(node, 0))
      setOutput(node, *x);
    return;
  }
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
    const Tensor *x = input(node, 0);
    if (!onlyAttributes(node, {}) || !x)
      return;
    mlir::Location loc = location(node);
    mlir::Value out;
    if (op == "Relu")
      out = builder.create<mlir::net::ReluOp>(loc, x->value.getType(), x->value);
    else if (op == "Sigmoid")
      out = builder.create<mlir::net::SigmoidOp>(loc, x->value.getType(), x->value);
    else
      out = builder.create<mlir::net::TanhOp>(loc, x->value.getType(), x->value);
    setOutput(node, Tensor{out, x->shape});
    return;
  }
  if (op == "Softmax") {
    const Tensor *x = input(node, 0, 2);
    auto axis = intAttr(node, "axis", opset >= 13 ? -1 : 1);
    if (!onlyAttributes(node, {"axis"}) || !x || !axis)
      return;
    if (*axis != 1 && *axis != -1) {
      failNode(node, "axis = " + Twine(*axis).str() + " is not supported (only the classes, 1)");
      return;
    }
    mlir::Value out =
        builder.create<mlir::net::SoftmaxOp>(location(node), x->value.getType(), x->value);
    setOutput(node, Tensor{out, x->shape});
    return;
  }
  if (op == "GlobalAveragePool") {
    const Tensor *x = input(node, 0, 4);
    if (!onlyAttributes(node, {}) || !x)
      return;
    auto result = shapes::globalAvgPool(x->shape);
    mlir::Value out = builder.create<mlir::net::GlobalAvgPoolOp>(
        location(node), type(result.shape), x->value);
    setOutput(node, Tensor{out, result.shape, /*pooled1x1=*/true});
    return;
  }
  failNode(node, "op " + op + " is not supported (docs/onnx.md lists the ops that are)");
}

/// Conv(X, W[F, C, KH, KW], B[F]?) -> net.conv2d (+ net.bias_add).
void Importer::conv(const Node &node) {
  const Tensor *x = input(node, 0, 4);
  Constant *w = constantInput(node, 1, "weight");
  Constant *b = node.input_size() > 2 && !node.input(2).empty()
                    ? constantInput(node, 2, "bias")
                    : nullptr;
  bool ok = onlyAttributes(node, {"auto_pad", "dilations", "group", "kernel_shape", "pads",
                                  "strides"});
  ok &= expectInt(node, "group", 1, 1, "grouped and depthwise convolutions are not");
  ok &= expectOnes(node, "dilations");
  if (!ok || !x || !w || (node.input_size() > 2 && !node.input(2).empty() && !b))
    return;
  if (!w->isFloat || w->shape.size() != 4) {
    failNode(node, "weight '" + node.input(1) + "' must be a float32 [F, C, KH, KW], got " +
                       formatDims(w->shape));
    return;
  }
  std::vector<int64_t> kernel{w->shape[2], w->shape[3]};
  auto kernelShape = intsAttr(node, "kernel_shape", kernel);
  auto strides = intsAttr(node, "strides", {1, 1});
  if (!kernelShape || !strides)
    return;
  if (*kernelShape != kernel) {
    failNode(node, "kernel_shape = " + formatDims(*kernelShape) + " disagrees with weight '" +
                       node.input(1) + "' " + formatDims(w->shape));
    return;
  }
  if (strides->size() != 2 || (*strides)[0] < 1 || (*strides)[1] < 1) {
    failNode(node, "strides = " + formatDims(*strides) + " must be 2 positive values");
    return;
  }
  auto pads = windowPads(node, x->shape, kernel, *strides);
  if (!pads)
    return;
  auto result = shapes::conv2d(x->shape, w->shape, *strides, *pads);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  if (b && (!b->isFloat || b->shape != std::vector<int64_t>{w->shape[0]})) {
    failNode(node, "bias '" + node.input(2) + "' has shape " + formatDims(b->shape) +
                       ", expected " + formatDims({w->shape[0]}));
    return;
  }
  mlir::Location loc = location(node);
  mlir::Value weight = param(node, node.input(1), w->shape, w->floats, "glorot_uniform",
                             /*frozen=*/false);
  mlir::Value out = builder.create<mlir::net::Conv2dOp>(
      loc, type(result.shape), x->value, weight, builder.getDenseI64ArrayAttr(*strides),
      builder.getDenseI64ArrayAttr(*pads));
  if (b) {
    mlir::Value bias = param(node, node.input(2), b->shape, b->floats, "zeros", false);
    out = builder.create<mlir::net::BiasAddOp>(loc, out.getType(), out, bias);
  }
  setOutput(node, Tensor{out, result.shape});
}

void Importer::pool(const Node &node, bool isMax) {
  const Tensor *x = input(node, 0, 4);
  bool ok = isMax ? onlyAttributes(node, {"auto_pad", "ceil_mode", "dilations", "kernel_shape",
                                          "pads", "storage_order", "strides"})
                  : onlyAttributes(node, {"auto_pad", "ceil_mode", "count_include_pad",
                                          "kernel_shape", "pads", "strides"});
  ok &= expectInt(node, "ceil_mode", 0, 0, "the output size is rounded down");
  if (isMax) {
    ok &= expectOnes(node, "dilations");
    ok &= expectInt(node, "storage_order", 0, 0, "row-major only");
  }
  auto kernel = intsAttr(node, "kernel_shape", {});
  auto strides = intsAttr(node, "strides", {1, 1});
  if (!ok || !x || !kernel || !strides)
    return;
  if (kernel->size() != 2 || strides->size() != 2 || llvm::is_contained(*kernel, 0) ||
      (*strides)[0] < 1 || (*strides)[1] < 1) {
    failNode(node, "expects 2-d kernel_shape and strides, got " + formatDims(*kernel) +
                       " and " + formatDims(*strides));
    return;
  }
  auto pads = windowPads(node, x->shape, *kernel, *strides);
  if (!pads)
    return;
  if (!isMax) {
    // net.avg_pool2d divides by the real elements under the window, as
    // count_include_pad = 0; with no padding the two agree.
    auto include = intAttr(node, "count_include_pad", 0);
    if (!include)
      return;
    if (*include && llvm::any_of(*pads, [](int64_t p) { return p != 0; })) {
      failNode(node, "count_include_pad = 1 with padding is not supported (the padding "
                     "is left out of the mean)");
      return;
    }
  }
  const char *opName = isMax ? "max_pool2d" : "avg_pool2d";
  auto result = shapes::pool2d(x->shape, *kernel, *strides, *pads, opName);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  auto kernelAttr = builder.getDenseI64ArrayAttr(*kernel);
  auto stridesAttr = builder.getDenseI64ArrayAttr(*strides);
  auto padsAttr = builder.getDenseI64ArrayAttr(*pads);
  mlir::Location loc = location(node);
  mlir::Value out =
      isMax ? builder.create<mlir::net::MaxPool2dOp>(loc, type(result.shape), x->value,
                                                     kernelAttr, stridesAttr, padsAttr)
                  .getResult()
            : builder.create<mlir::net::AvgPool2dOp>(loc, type(result.shape), x->value,
                                                     kernelAttr, stridesAttr, padsAttr)
                  .getResult();
  setOutput(node, Tensor{out, result.shape});
}

/// BatchNormalization in inference form. Its parameters are frozen, so it
/// keeps running on the exported running statistics (docs/onnx.md).
void Importer::batchNorm(const Node &node) {
  const Tensor *x = input(node, 0);
  const char *roles[] = {"scale", "bias", "mean", "variance"};
  Constant *c[4];
  bool ok = onlyAttributes(node, {"epsilon", "momentum", "training_mode", "spatial"});
  ok &= expectInt(node, "training_mode", 0, 0, "only inference form");
  ok &= expectInt(node, "spatial", 1, 1, "per-channel statistics only");
  for (int i = 0; i < 4; ++i)
    ok &= (c[i] = constantInput(node, i + 1, roles[i])) != nullptr;
  auto epsilon = floatAttr(node, "epsilon", 1e-5f);
  auto momentum = floatAttr(node, "momentum", 0.9f);
  if (!ok || !x || !epsilon || !momentum)
    return;
  if (x->shape.size() != 2 && x->shape.size() != 4) {
    failNode(node, "expects a 2-d or 4-d input, got " + shapes::format(x->shape));
    return;
  }
  Shape channel{x->shape[1]};
  for (int i = 0; i < 4; ++i)
    if (!c[i]->isFloat || llvm::ArrayRef<int64_t>(c[i]->shape) != llvm::ArrayRef<int64_t>(channel)) {
      failNode(node, Twine(roles[i]) + " '" + node.input(i + 1) + "' has shape " +
                         formatDims(c[i]->shape) + ", expected " + formatDims(channel));
      return;
    }
  if (!(*epsilon > 0) || !(*momentum >= 0 && *momentum < 1)) {
    failNode(node, "expects epsilon > 0 and momentum in [0, 1)");
    return;
  }
  const char *inits[] = {"ones", "zeros", "zeros", "ones"};
  mlir::Value p[4];
  for (int i = 0; i < 4; ++i)
    p[i] = param(node, node.input(i + 1), channel, c[i]->floats, inits[i], /*frozen=*/true);
  // ONNX's momentum is the weight of the running value, as Keras' and net's.
  mlir::Value out = builder.create<mlir::net::BatchNormOp>(
      location(node), x->value.getType(), x->value, p[0], p[1], p[2], p[3],
      builder.getF64FloatAttr(*epsilon), builder.getF64FloatAttr(*momentum));
  setOutput(node, Tensor{out, x->shape});
}

/// Transposes a row-major [rows, cols] matrix.
std::vector<float> transposed(const std::vector<float> &m, int64_t rows, int64_t cols) {
  std::vector<float> out(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[size_t(c * rows + r)] = m[size_t(r * cols + c)];
  return out;
}

/// Gemm(A[N, K], B, C?) with alpha = beta = 1 and transA = 0 -> net.dense
/// (+ net.bias_add). transB = 1 is net's [out, in] layout; transB = 0 is
/// stored transposed.
void Importer::gemm(const Node &node) {
  const Tensor *a = input(node, 0, 2);
  Constant *b = constantInput(node, 1, "weight");
  bool hasC = node.input_size() > 2 && !node.input(2).empty();
  Constant *c = hasC ? constantInput(node, 2, "bias") : nullptr;
  bool ok = onlyAttributes(node, {"alpha", "beta", "transA", "transB"});
  ok &= expectInt(node, "transA", 0, 0, "the input is [N, K]");
  auto alpha = floatAttr(node, "alpha", 1), beta = floatAttr(node, "beta", 1);
  auto transB = intAttr(node, "transB", 0);
  if (!ok || !a || !b || (hasC && !c) || !alpha || !beta || !transB)
    return;
  if (*alpha != 1 || (hasC && *beta != 1)) {
    failNode(node, "alpha and beta other than 1 are not supported");
    return;
  }
  if (!b->isFloat || b->shape.size() != 2) {
    failNode(node, "weight '" + node.input(1) + "' must be a float32 matrix, got " +
                       formatDims(b->shape));
    return;
  }
  std::vector<int64_t> shape = b->shape;
  std::vector<float> data = b->floats;
  if (!*transB) {
    data = transposed(data, shape[0], shape[1]);
    std::swap(shape[0], shape[1]);
  }
  auto result = shapes::dense(a->shape, shape);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  int64_t m = shape[0];
  if (c && (!c->isFloat || !(c->shape == std::vector<int64_t>{m} ||
                             c->shape == std::vector<int64_t>{1, m}))) {
    failNode(node, "bias '" + node.input(2) + "' has shape " + formatDims(c->shape) +
                       ", expected " + formatDims({m}));
    return;
  }
  mlir::Location loc = location(node);
  mlir::Value w = param(node, node.input(1), shape, std::move(data), "glorot_uniform", false);
  mlir::Value out =
      builder.create<mlir::net::DenseOp>(loc, type(result.shape), a->value, w);
  if (c) {
    mlir::Value bias = param(node, node.input(2), {m}, c->floats, "zeros", false);
    out = builder.create<mlir::net::BiasAddOp>(loc, out.getType(), out, bias);
  }
  setOutput(node, Tensor{out, result.shape});
}

/// MatMul(A[N, K], B[K, M]) -> net.dense with B stored transposed; a bias
/// comes as the Add after it.
void Importer::matMul(const Node &node) {
  const Tensor *a = input(node, 0, 2);
  Constant *b = constantInput(node, 1, "weight");
  if (!onlyAttributes(node, {}) || !a || !b)
    return;
  if (!b->isFloat || b->shape.size() != 2) {
    failNode(node, "weight '" + node.input(1) + "' must be a float32 matrix [K, M], got " +
                       formatDims(b->shape));
    return;
  }
  std::vector<int64_t> shape{b->shape[1], b->shape[0]};
  auto result = shapes::dense(a->shape, shape);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  mlir::Value w = param(node, node.input(1), shape,
                        transposed(b->floats, b->shape[0], b->shape[1]), "glorot_uniform",
                        false);
  mlir::Value out =
      builder.create<mlir::net::DenseOp>(location(node), type(result.shape), a->value, w);
  setOutput(node, Tensor{out, result.shape});
}

/// Add of two computed tensors of one shape (a residual join) -> net.add;
/// of a computed tensor and a per-channel initializer -> net.bias_add.
void Importer::add(const Node &node) {
  if (node.input_size() != 2) {
    failNode(node, "expects two inputs");
    return;
  }
  if (!onlyAttributes(node, {}))
    return;
  int constIndex = constants.count(node.input(1)) ? 1 : constants.count(node.input(0)) ? 0 : -1;
  if (constIndex < 0) {
    const Tensor *lhs = input(node, 0), *rhs = input(node, 1);
    if (!lhs || !rhs)
      return;
    auto result = shapes::add(lhs->shape, rhs->shape);
    if (!result.ok()) {
      failNode(node, result.error + " (broadcasting is not supported)");
      return;
    }
    mlir::Value out = builder.create<mlir::net::AddOp>(location(node), type(result.shape),
                                                       lhs->value, rhs->value);
    setOutput(node, Tensor{out, result.shape});
    return;
  }
  const Tensor *x = input(node, 1 - constIndex);
  Constant *b = constantInput(node, constIndex, "bias");
  if (!x || !b)
    return;
  int64_t channels = x->shape[1];
  bool perChannel = x->shape.size() == 2
                        ? b->shape == std::vector<int64_t>{channels} ||
                              b->shape == std::vector<int64_t>{1, channels}
                        : b->shape == std::vector<int64_t>{channels, 1, 1} ||
                              b->shape == std::vector<int64_t>{1, channels, 1, 1};
  if (!b->isFloat || !perChannel) {
    failNode(node, "adds constant '" + node.input(constIndex) + "' of shape " +
                       formatDims(b->shape) + " to " + shapes::format(x->shape) +
                       "; only a per-channel bias is supported");
    return;
  }
  mlir::Value bias =
      param(node, node.input(constIndex), {channels}, b->floats, "zeros", /*frozen=*/false);
  mlir::Value out =
      builder.create<mlir::net::BiasAddOp>(location(node), x->value.getType(), x->value, bias);
  setOutput(node, Tensor{out, x->shape});
}

/// Flatten(axis = 1), or Reshape to [N, features] -> net.flatten (nothing
/// when the input is already [N, features]).
void Importer::flattenLike(const Node &node) {
  bool isReshape = node.op_type() == "Reshape";
  const Tensor *x = input(node, 0, 0, /*allowPooled=*/true);
  if (!x)
    return;
  if (isReshape) {
    Constant *target = constantInput(node, 1, "shape");
    if (!onlyAttributes(node, {"allowzero"}) || !target)
      return;
    int64_t features = product(llvm::ArrayRef<int64_t>(x->shape).drop_front());
    const auto &t = target->ints;
    bool toFeatures = t.size() == 2 && (t[0] == -1 || t[0] == 0 || t[0] > 0) &&
                      (t[1] == features || (t[1] == -1 && t[0] != -1));
    if (!toFeatures) {
      failNode(node, "reshapes " + shapes::format(x->shape) + " to " + formatDims(t) +
                         "; only a reshape to [N, " + Twine(features).str() +
                         "] (a flatten) is supported");
      return;
    }
  } else {
    if (!onlyAttributes(node, {"axis"}) ||
        !expectInt(node, "axis", 1, 1, "flatten keeps the batch, dim 0"))
      return;
  }
  if (x->shape.size() == 2) {
    setOutput(node, Tensor{x->value, x->shape});
    return;
  }
  auto result = shapes::flatten(x->shape);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  mlir::Value out =
      builder.create<mlir::net::FlattenOp>(location(node), type(result.shape), x->value);
  setOutput(node, Tensor{out, result.shape});
}

/// Dropout -> net.dropout with its ratio (attribute before opset 12, input
/// after); the mask output is not supported.
void Importer::dropout(const Node &node) {
  const Tensor *x = input(node, 0);
  if (!x || !onlyAttributes(node, {"ratio", "seed"}))
    return;
  auto ratio = floatAttr(node, "ratio", 0.5f);
  if (!ratio)
    return;
  double rate = *ratio;
  if (node.input_size() > 1 && !node.input(1).empty()) {
    Constant *r = constantInput(node, 1, "ratio");
    if (!r)
      return;
    if (!r->isFloat || r->floats.size() != 1) {
      failNode(node, "ratio '" + node.input(1) + "' must be a float32 scalar");
      return;
    }
    rate = r->floats[0];
  }
  if (node.input_size() > 2 && !node.input(2).empty()) {
    Constant *mode = constantInput(node, 2, "training_mode");
    if (!mode)
      return;
    if (mode->ints.size() != 1 || mode->ints[0] != 0) {
      failNode(node, "training_mode must be false (dropout trains in the training step)");
      return;
    }
  }
  if (!(rate >= 0 && rate < 1)) {
    failNode(node, "ratio " + std::to_string(rate) + " must be in [0, 1)");
    return;
  }
  mlir::Value out = builder.create<mlir::net::DropoutOp>(
      location(node), x->value.getType(), x->value, builder.getF64FloatAttr(rate));
  setOutput(node, Tensor{out, x->shape});
}

/// Pad with all pads zero is glue (PyTorch writes one before AveragePool);
/// any real padding belongs to the next op and is not supported here.
void Importer::pad(const Node &node) {
  const Tensor *x = input(node, 0);
  if (!x || !onlyAttributes(node, {"mode", "pads", "value"}))
    return;
  std::vector<int64_t> pads;
  if (node.input_size() > 1 && !node.input(1).empty()) {
    Constant *p = constantInput(node, 1, "pads");
    if (!p)
      return;
    pads = p->ints;
  } else if (auto a = intsAttr(node, "pads", {})) {
    pads = *a;
  } else {
    return;
  }
  if (llvm::any_of(pads, [](int64_t p) { return p != 0; })) {
    failNode(node, "pads = " + formatDims(pads) + " is not supported (only all zero); "
                                                  "padding belongs in the Conv or pool");
    return;
  }
  setOutput(node, Tensor{x->value, x->shape});
}

llvm::Expected<ImportedModel> Importer::run() {
  auto error = [&]() {
    std::string text;
    for (const std::string &p : problems)
      text += (text.empty() ? "" : "\n") + p;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
  };

  std::ifstream file(path, std::ios::binary);
  if (!file) {
    fail("cannot read the file: " + std::string(std::strerror(errno)));
    return error();
  }
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() > kMaxFileBytes) {
    fail("is larger than 2 GiB; not supported");
    return error();
  }
  if (!model.ParseFromString(bytes) || !model.has_graph()) {
    fail("not an ONNX model (it does not parse as a ModelProto with a graph)");
    return error();
  }
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      opset = o.version();
  if (opset == 0) {
    fail("declares no ai.onnx opset");
    return error();
  }

  mlir::ModuleOp module =
      mlir::ModuleOp::create(mlir::FileLineColLoc::get(builder.getStringAttr(path), 0, 0));
  mlir::OwningOpRef<mlir::ModuleOp> owned(module);
  module->setAttr("net.network", builder.getStringAttr(networkName));
  builder.setInsertionPointToEnd(module.getBody());
  auto func = builder.create<mlir::func::FuncOp>(module.getLoc(), "forward",
                                                 builder.getFunctionType({}, {}));
  entry = func.addEntryBlock();
  builder.setInsertionPointToEnd(entry);

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
  if (!problems.empty() || !readGraphInput())
    return error();

  for (const Node &node : graph.node()) {
    size_t before = problems.size();
    bool badInput = llvm::any_of(node.input(), [&](const std::string &in) {
      return bad.count(in) != 0;
    });
    // A node after a refused one is still checked on its own (an unknown op
    // is worth reporting), but its outputs stay bad.
    importNode(node);
    if (problems.size() != before || badInput)
      for (const std::string &out : node.output())
        bad.insert(out);
    ++nodeIndex;
  }
  if (!problems.empty())
    return error();

  if (graph.output_size() != 1) {
    fail("the graph has " + Twine(graph.output_size()).str() +
         " outputs; a model has one, its classes");
    return error();
  }
  auto it = tensors.find(graph.output(0).name());
  if (it == tensors.end()) {
    fail("the graph's output '" + graph.output(0).name() + "' is not computed by any node");
    return error();
  }
  Tensor out = it->second;
  if (out.shape.size() != 2) {
    fail("the graph's output '" + graph.output(0).name() + "' is " +
         shapes::format(out.shape) + "; expected (N, classes)");
    return error();
  }
  ImportedModel result;
  // The runtime trains with cross-entropy on probabilities and returns
  // probabilities: a graph that ends in logits gets its softmax here.
  if (!out.value.getDefiningOp<mlir::net::SoftmaxOp>()) {
    auto loc = mlir::NameLoc::get(builder.getStringAttr("softmax"),
                                  mlir::FileLineColLoc::get(builder.getStringAttr(path), 0, 0));
    out.value = builder.create<mlir::net::SoftmaxOp>(loc, out.value.getType(), out.value);
    result.appendedSoftmax = true;
  }
  builder.create<mlir::func::ReturnOp>(module.getLoc(), out.value);
  func.setFunctionType(builder.getFunctionType(entry->getArgumentTypes(), {out.value.getType()}));
  func.setArgAttr(0, "net.input", builder.getStringAttr(inputName));
  module->setAttr("net.classes", builder.getI64IntegerAttr(out.shape[1]));
  // Keras' defaults for compile() and fit(), as a .net file without `train`.
  module->setAttr(
      "net.train",
      builder.getDictionaryAttr({
          builder.getNamedAttr("batch", builder.getI64IntegerAttr(32)),
          builder.getNamedAttr("epochs", builder.getI64IntegerAttr(1)),
          builder.getNamedAttr("loss", builder.getStringAttr("cross_entropy")),
          builder.getNamedAttr(
              "optimizer",
              builder.getDictionaryAttr({
                  builder.getNamedAttr("name", builder.getStringAttr("adam")),
                  builder.getNamedAttr("lr", builder.getF64FloatAttr(0.001)),
                  builder.getNamedAttr("beta1", builder.getF64FloatAttr(0.9)),
                  builder.getNamedAttr("beta2", builder.getF64FloatAttr(0.999)),
                  builder.getNamedAttr("epsilon", builder.getF64FloatAttr(1e-7)),
              })),
      }));

  if (mlir::failed(mlir::verify(*owned))) {
    fail("internal error: the imported IR does not verify (the messages above say where)");
    return error();
  }
  result.module = std::move(owned);
  result.weights = std::move(weights);
  return result;
}

} // namespace

llvm::Expected<ImportedModel> net::onnx::importModel(mlir::MLIRContext &context,
                                                     llvm::StringRef path,
                                                     llvm::StringRef networkName) {
  context.getOrLoadDialect<mlir::net::NetDialect>();
  context.getOrLoadDialect<mlir::func::FuncDialect>();
  return Importer(context, path, networkName).run();
}
