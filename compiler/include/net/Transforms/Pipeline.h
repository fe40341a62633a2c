//===- Pipeline.h - what netc runs between the front end and the emitters -===//
//
// One registered pipeline, `net-pipeline`, so that `net-opt --net-pipeline`
// runs exactly the passes `netc` runs and lit can test the whole of it:
//
//   [fuse]  net-fuse-conv-bias-act-pool, net-fuse-dense-bias-act
//           net-split-frozen-base, net-autodiff
//   [fuse]  net-fold-batch-norm, net-remove-dropout,
//           net-fuse-conv-bias-act-pool, net-fuse-dense-bias-act
//           net-plan-memory
//
// The training step is built from the fused forward, so its backward is
// fused too; the inference entry points are then simplified on their own.
// `fuse=false` is netc's -O0 / --no-fuse.
//
//===----------------------------------------------------------------------===//

#ifndef NET_TRANSFORMS_PIPELINE_H
#define NET_TRANSFORMS_PIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::net {

struct NetPipelineOptions : public PassPipelineOptions<NetPipelineOptions> {
  Option<bool> fuse{*this, "fuse",
                    llvm::cl::desc("fuse layers and simplify the inference entry points"),
                    llvm::cl::init(true)};
};

/// Adds netc's passes, in netc's order, to `pm` (a module pass manager).
void buildNetPipeline(OpPassManager &pm, const NetPipelineOptions &options);

/// Registers `net-pipeline` for net-opt.
void registerNetPipeline();

} // namespace mlir::net

#endif // NET_TRANSFORMS_PIPELINE_H
