//===- Importer.h - The ONNX importer, shared by its parts ------*- C++ -*-===//
//
// The importer walks the graph's nodes in order (ONNX stores them
// topologically sorted) and builds one `net` op per node, checking every
// attribute against what the op computes. A node that cannot be mapped is
// reported and its outputs are marked bad, so the nodes after it stay quiet
// about them and one run reports every independent problem.
//
// Its parts, one file each: the graph and module assembly (Import.cpp),
// initializers and parameters (ImportInitializers.cpp), attributes
// (ImportAttributes.cpp), and the per-op converters: the dispatch, the
// activations and the glue (ImportNodes.cpp) and the layers with weights or
// windows (ImportLayers.cpp). Which ONNX op becomes which net op, and the
// attributes they exchange, is net/ONNX/OpMapping.h, shared with the export.
//
//===----------------------------------------------------------------------===//
#ifndef NET_ONNX_LIB_IMPORTER_H
#define NET_ONNX_LIB_IMPORTER_H

#include "net/ONNX/Import.h"
#include "net/ONNX/OpMapping.h"

#include "net/Dialect/Shapes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace netc::onnx {

/// A constant: an initializer or the value of a Constant node.
struct Constant {
  std::vector<int64_t> shape;
  std::vector<float> floats;   // FLOAT tensors
  std::vector<int64_t> ints;   // INT64 / INT32 tensors
  bool isFloat = false;
  /// The initializer a computed constant was made from (a Transpose of a
  /// weight): the parameter made from it takes that name.
  std::string origin;
};

/// The batch in a shape computed at import (Shape of a tensor): it stays
/// open until the model is instantiated, as net's dim 0 does.
inline constexpr int64_t kBatchDim = mlir::ShapedType::kDynamic;

/// A tensor flowing through the graph.
struct Tensor {
  mlir::Value value;
  mlir::net::shapes::Shape shape; // the net value's shape
  /// Trailing dims of size 1 that ONNX has beyond the net value's [N, C]:
  /// 2 for GlobalAveragePool's (N, C, 1, 1), 1 after a Squeeze of one of
  /// them. Only a Flatten, a Reshape to [N, C] or a Squeeze may take it.
  int unitDims = 0;
  /// LogSoftmax's output, held as its input (the logits): only the graph's
  /// output may be it, and the softmax appended there gives exp of it. The
  /// LogSoftmax node's name; empty for any other tensor.
  std::string logSoftmaxNode;
};

inline int64_t product(llvm::ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

/// "[1, 2, 3]", as the messages write shapes.
inline std::string formatDims(llvm::ArrayRef<int64_t> dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    out += (i ? ", " : "") + (dims[i] == kBatchDim ? std::string("N") : std::to_string(dims[i]));
  return out + "]";
}

class Importer {
public:
  Importer(mlir::MLIRContext &context, llvm::StringRef path, llvm::StringRef networkName)
      : context(context), path(path.str()), networkName(networkName.str()),
        builder(&context) {}

  llvm::Expected<ImportedModel> run();

private:
  using Node = ::onnx::NodeProto;

  // Reporting.
  void fail(const llvm::Twine &message) { problems.push_back(path + ": " + message.str()); }
  void failNode(const Node &node, const llvm::Twine &message) {
    fail("node '" + nodeName(node) + "' (" + node.op_type() + "): " + message);
  }
  /// Every problem found, one line each.
  llvm::Error problemsError() const;
  std::string nodeName(const Node &node) const;

  // The graph and the module (Import.cpp).
  bool readModelFile();
  bool readGraphInput();
  void importNodes();
  const Tensor *graphOutput();
  void setTrainDefaults(mlir::ModuleOp module);
  mlir::Location location(const Node &node);
  mlir::RankedTensorType type(llvm::ArrayRef<int64_t> shape);
  const Tensor *input(const Node &node, int index, size_t rank = 0, bool allowPooled = false);
  bool setOutput(const Node &node, Tensor t);

  // Initializers and parameters (ImportInitializers.cpp).
  void readInitializers();
  bool readConstant(const ::onnx::TensorProto &t, Constant &out, const llvm::Twine &what);
  Constant *constantInput(const Node &node, int index, llvm::StringRef role);
  mlir::Value param(const Node &node, llvm::StringRef name, llvm::ArrayRef<int64_t> shape,
                    std::vector<float> data, llvm::StringRef init, bool frozen);

  // Attributes, checked against the node's op (ImportAttributes.cpp).
  const ::onnx::AttributeProto *attr(const Node &node, llvm::StringRef name) const;
  std::optional<int64_t> intAttr(const Node &node, llvm::StringRef name, int64_t fallback);
  std::optional<float> floatAttr(const Node &node, llvm::StringRef name, float fallback);
  std::optional<std::vector<int64_t>> intsAttr(const Node &node, llvm::StringRef name,
                                               std::vector<int64_t> fallback);
  bool onlyAttributes(const Node &node, std::initializer_list<llvm::StringRef> known);
  bool expectInt(const Node &node, llvm::StringRef name, int64_t fallback, int64_t wanted,
                 llvm::StringRef why);
  bool expectOnes(const Node &node, llvm::StringRef name);
  std::optional<std::vector<int64_t>> intsInputOrAttr(const Node &node, int index,
                                                      llvm::StringRef name);
  std::optional<std::array<int64_t, 4>> windowPads(const Node &node,
                                                   llvm::ArrayRef<int64_t> inputShape,
                                                   llvm::ArrayRef<int64_t> kernel,
                                                   llvm::ArrayRef<int64_t> strides);

  // The dispatch, activations and glue (ImportNodes.cpp).
  void importNode(const Node &node);
  void constant(const Node &node);
  void identity(const Node &node);
  void activation(const Node &node, const OpMapping &row);
  const Tensor *classesInput(const Node &node, const OpMapping &row);
  void softmax(const Node &node);
  void logSoftmax(const Node &node);
  void globalAvgPool(const Node &node);
  void reduceMean(const Node &node);
  void add(const Node &node);
  void flattenLike(const Node &node);
  void squeezeSpatial(const Node &node);
  void dropout(const Node &node);
  void pad(const Node &node);

  // Ops evaluated on constants: shape arithmetic, Transpose of a weight
  // (ImportConstantOps.cpp).
  const Constant *intConstantInput(const Node &node, int index, llvm::StringRef role);
  bool onlyConstantInputs(const Node &node);
  void shapeOf(const Node &node);
  void gatherConstant(const Node &node);
  void reshapeConstant(const Node &node, bool unsqueeze);
  void concatConstants(const Node &node);
  void mulConstants(const Node &node);
  void castConstant(const Node &node);
  void transposeConstant(const Node &node);

  // Layers with weights or windows (ImportLayers.cpp).
  void conv(const Node &node);
  void pool(const Node &node, bool isMax);
  void batchNorm(const Node &node);
  void gemm(const Node &node);
  void matMul(const Node &node);

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

} // namespace netc::onnx

#endif // NET_ONNX_LIB_IMPORTER_H
