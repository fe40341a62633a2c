//===- Import.cpp - ONNX graphs into the net dialect ----------------------===//
//
// The graph and the module: the file is read, the initializers and the one
// input taken, the nodes converted in order, and the forward function closed
// on the graph's output with the module's attributes. Importer.h says where
// the other parts live.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "net/Dialect/NetDialect.h"
#include "net/Dialect/NetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

#include <cerrno>
#include <cstring>
#include <fstream>

using namespace netc::onnx;
using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

namespace {

/// Largest ONNX file read: ResNet50 is 100 MB, protobuf's own limit is 2 GB.
constexpr uint64_t kMaxFileBytes = uint64_t(1) << 31;

} // namespace

namespace netc::onnx {

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
  if (!t.logSoftmaxNode.empty()) {
    failNode(node, "takes the output of LogSoftmax '" + t.logSoftmaxNode +
                       "', which is supported only as the graph's output");
    return nullptr;
  }
  if (t.unitDims && !allowPooled) {
    std::string dims = "(N, C";
    for (int i = 0; i < t.unitDims; ++i)
      dims += ", 1";
    failNode(node, "takes the " + dims + ") output of a global pool, which is supported "
                   "only through Flatten, Reshape or Squeeze to (N, C)");
    return nullptr;
  }
  if (rank && t.shape.size() != rank) {
    failNode(node, "expects a " + Twine(rank).str() + "-d input, got " + shapes::format(t.shape));
    return nullptr;
  }
  return &t;
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

llvm::Error Importer::problemsError() const {
  std::string text;
  for (const std::string &p : problems)
    text += (text.empty() ? "" : "\n") + p;
  return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
}

/// Parses the file into `model` and finds its ai.onnx opset.
bool Importer::readModelFile() {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    fail("cannot read the file: " + std::string(std::strerror(errno)));
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.size() > kMaxFileBytes) {
    fail("is larger than 2 GiB; not supported");
    return false;
  }
  if (!model.ParseFromString(bytes) || !model.has_graph()) {
    fail("not an ONNX model (it does not parse as a ModelProto with a graph)");
    return false;
  }
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      opset = o.version();
  if (opset == 0) {
    fail("declares no ai.onnx opset");
    return false;
  }
  return true;
}

void Importer::importNodes() {
  for (const Node &node : model.graph().node()) {
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
}

/// The graph's one output, (N, classes); null after a problem.
const Tensor *Importer::graphOutput() {
  const ::onnx::GraphProto &graph = model.graph();
  if (graph.output_size() != 1) {
    fail("the graph has " + Twine(graph.output_size()).str() +
         " outputs; a model has one, its classes");
    return nullptr;
  }
  auto it = tensors.find(graph.output(0).name());
  if (it == tensors.end()) {
    fail("the graph's output '" + graph.output(0).name() + "' is not computed by any node");
    return nullptr;
  }
  if (it->second.shape.size() != 2) {
    fail("the graph's output '" + graph.output(0).name() + "' is " +
         shapes::format(it->second.shape) + "; expected (N, classes)");
    return nullptr;
  }
  return &it->second;
}

/// Keras' defaults for compile() and fit(), as a .net file without `train`.
void Importer::setTrainDefaults(mlir::ModuleOp module) {
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
}

llvm::Expected<ImportedModel> Importer::run() {
  if (!readModelFile())
    return problemsError();

  mlir::ModuleOp module =
      mlir::ModuleOp::create(mlir::FileLineColLoc::get(builder.getStringAttr(path), 0, 0));
  mlir::OwningOpRef<mlir::ModuleOp> owned(module);
  module->setAttr("net.network", builder.getStringAttr(networkName));
  builder.setInsertionPointToEnd(module.getBody());
  auto func = builder.create<mlir::func::FuncOp>(module.getLoc(), "forward",
                                                 builder.getFunctionType({}, {}));
  entry = func.addEntryBlock();
  builder.setInsertionPointToEnd(entry);

  readInitializers();
  if (!problems.empty() || !readGraphInput())
    return problemsError();
  importNodes();
  if (!problems.empty())
    return problemsError();
  const Tensor *graphResult = graphOutput();
  if (!graphResult)
    return problemsError();

  ImportedModel result;
  mlir::Value out = graphResult->value;
  // The runtime trains with cross-entropy on probabilities and returns
  // probabilities: a graph that ends in logits gets its softmax here, and
  // one that ends in LogSoftmax the softmax of its logits (exp of it).
  result.endsInLogSoftmax = !graphResult->logSoftmaxNode.empty();
  if (result.endsInLogSoftmax || !out.getDefiningOp<mlir::net::SoftmaxOp>()) {
    auto loc = mlir::NameLoc::get(builder.getStringAttr(result.endsInLogSoftmax
                                                            ? graphResult->logSoftmaxNode
                                                            : std::string("softmax")),
                                  mlir::FileLineColLoc::get(builder.getStringAttr(path), 0, 0));
    out = builder.create<mlir::net::SoftmaxOp>(loc, out.getType(), out);
    result.appendedSoftmax = true;
  }
  builder.create<mlir::func::ReturnOp>(module.getLoc(), out);
  func.setFunctionType(builder.getFunctionType(entry->getArgumentTypes(), {out.getType()}));
  func.setArgAttr(0, "net.input", builder.getStringAttr(inputName));
  module->setAttr("net.classes", builder.getI64IntegerAttr(graphResult->shape[1]));
  setTrainDefaults(module);

  if (mlir::failed(mlir::verify(*owned))) {
    fail("internal error: the imported IR does not verify (the messages above say where)");
    return problemsError();
  }
  result.module = std::move(owned);
  result.weights = std::move(weights);
  return result;
}

} // namespace netc::onnx

llvm::Expected<ImportedModel> netc::onnx::importModel(mlir::MLIRContext &context,
                                                     llvm::StringRef path,
                                                     llvm::StringRef networkName) {
  context.getOrLoadDialect<mlir::net::NetDialect>();
  context.getOrLoadDialect<mlir::func::FuncDialect>();
  return Importer(context, path, networkName).run();
}
