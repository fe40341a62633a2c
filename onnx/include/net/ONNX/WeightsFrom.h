//===- WeightsFrom.h - ONNX weights for a .net model's parameters -*- C++ -*-===//
//
// `netc model.net --weights-from pretrained.onnx -o model.so` fills the .net
// model's parameters from the ONNX initializers, matched by graph structure:
// both graphs are walked from their output back to their input, operands in
// order, and their parameters paired in the order reached; a pair must play
// the same part (the weight of a conv2d, the variance of a batch_norm, ...)
// and have the same shape. Parameters past the ONNX graph's last (a new head)
// keep their initializers. docs/onnx.md explains the order with an example.
//
//===----------------------------------------------------------------------===//
#ifndef NET_ONNX_WEIGHTSFROM_H
#define NET_ONNX_WEIGHTSFROM_H

#include "net/ONNX/Import.h"

#include <string>
#include <vector>

namespace netc::onnx {

struct MatchedWeights {
  /// Values for the .net model's matched parameters, named as they are there.
  std::vector<Weight> weights;
  /// One line per parameter, "conv2d_1.kernel <- conv1.weight [64, 3, 7, 7]"
  /// or "... left to its initializer".
  std::vector<std::string> report;
};

/// Matches `model`'s parameters with `onnx`'s (imported from `path`); every
/// mismatch, by name and shape, is in the error, one line each.
llvm::Expected<MatchedWeights> matchWeights(mlir::ModuleOp model, const ImportedModel &onnx,
                                            llvm::StringRef path);

} // namespace netc::onnx

#endif // NET_ONNX_WEIGHTSFROM_H
