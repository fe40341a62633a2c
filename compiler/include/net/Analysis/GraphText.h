//===- GraphText.h - The forward graph as text for the runtime --*- C++ -*-===//
//
// `netrun export` writes a trained model as ONNX without MLIR: it reads the
// layers from this description, which netc embeds in the model library
// (netc_model_info::graph, docs/abi.md). One op of `@forward` a line, in
// order, before fusion:
//
//   v0 input image
//   v2 conv2d conv2d_1 v0 @conv2d_1.kernel strides=1,1 pads=2,2,2,2
//   v4 bias_add conv2d_1 v2 @conv2d_1.bias
//   return v4
//
// Fields are separated by one space; in names, '%', spaces and control
// characters are written %XX (hex) so that every field is one token.
//
//===----------------------------------------------------------------------===//
#ifndef NET_ANALYSIS_GRAPHTEXT_H
#define NET_ANALYSIS_GRAPHTEXT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::net {

/// Describes `module`'s `@forward`; fails on an op it has no line for.
FailureOr<std::string> describeGraph(ModuleOp module);

} // namespace mlir::net

#endif // NET_ANALYSIS_GRAPHTEXT_H
