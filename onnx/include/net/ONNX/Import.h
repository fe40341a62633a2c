//===- Import.h - ONNX graphs into the net dialect --------------*- C++ -*-===//
//
// The second front end: an ONNX model (a graph of Conv, BatchNormalization,
// Relu, pooling, Add, Gemm, ... with its weights as initializers) becomes the
// same `net` module the .net front end builds, and its initializers become
// the values of the module's parameters. Every unsupported op or attribute
// is reported by node name and op type; nothing is approximated.
// docs/onnx.md lists what maps to what.
//
//===----------------------------------------------------------------------===//
#ifndef NET_ONNX_IMPORT_H
#define NET_ONNX_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace netc::onnx {

/// A parameter's value: named as the `net.param` it fills, shaped and laid
/// out as that parameter (a MatMul weight [K, M] is stored transposed, [M, K]).
struct Weight {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct ImportedModel {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// One entry per `net.param` of the module, in the module's order.
  std::vector<Weight> weights;
  /// Whether a softmax was appended because the graph ends in logits.
  bool appendedSoftmax = false;
  /// Whether the graph ends in LogSoftmax, whose exponent the model returns.
  bool endsInLogSoftmax = false;
};

/// Reads the ONNX model at `path` and builds its `net` module. The network
/// is named `networkName` (checkpoints carry it). All the problems found
/// are returned in one error, one line each, each naming the file.
llvm::Expected<ImportedModel> importModel(mlir::MLIRContext &context, llvm::StringRef path,
                                          llvm::StringRef networkName);

} // namespace netc::onnx

#endif // NET_ONNX_IMPORT_H
