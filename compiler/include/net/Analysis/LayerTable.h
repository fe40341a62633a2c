//===- LayerTable.h - The layer table of a net module -----------*- C++ -*-===//
//
// Groups the ops of `@forward` into the layers the user wrote (every op of a
// layer carries its name in a NameLoc), with output shape and parameter counts,
// as Keras' model.summary() prints them. `netc -emit=summary` prints it; the
// model ABI's layer table is built from the same rows.
//
//===----------------------------------------------------------------------===//
#ifndef NET_ANALYSIS_LAYERTABLE_H
#define NET_ANALYSIS_LAYERTABLE_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::net {

struct LayerRow {
  std::string name;   // conv2d_1, stage_2/bottleneck_1/conv2d_3
  std::string kind;   // the op that names the layer: conv2d, dense, max_pool2d
  std::string activation; // relu, sigmoid, tanh, softmax, or empty
  llvm::SmallVector<int64_t, 4> outputShape;
  int64_t trainableParams = 0;
  int64_t frozenParams = 0;
  /// Forward multiply-adds counted twice, per image (convolutions and dense
  /// layers; the element-wise rest is noise next to them).
  int64_t flops = 0;
};

struct LayerTable {
  std::string network;
  llvm::SmallVector<int64_t, 4> inputShape;
  std::vector<LayerRow> rows;
  int64_t trainableParams = 0;
  int64_t frozenParams = 0;
  int64_t flops = 0;
  /// The forward graph for the runtime (GraphText.h); empty when some op
  /// has no description.
  std::string graph;
};

/// Builds the table of `module`'s `@forward` function.
LayerTable buildLayerTable(ModuleOp module);

/// Prints it as Keras' summary(): one row a layer, then the totals.
void printLayerTable(const LayerTable &table, llvm::raw_ostream &os);

/// Prints the training set-up (`net.train`) and the input normalisation
/// (`net.input_normalization`) that follow the table in `netc -emit=summary`.
void printTrainSetup(ModuleOp module, llvm::raw_ostream &os);

} // namespace mlir::net

#endif // NET_ANALYSIS_LAYERTABLE_H
