//===- Pipeline.h - what netc runs between the front end and the emitters -===//
//
// One registered pipeline, `net-pipeline`, so that `net-opt --net-pipeline`
// runs exactly the passes `netc` runs and lit can test the whole of it:
//
//   [fuse]  net-fuse-conv-bias-act-pool, net-fuse-dense-bias-act
//           net-split-frozen-base, net-autodiff
//   [fuse]  net-fold-batch-norm, net-remove-dropout,
//           net-fuse-conv-bias-act-pool, net-fuse-dense-bias-act
//  [cuda]  net-group-updates
//           net-plan-memory
//
// The training step is built from the fused forward, so its backward is
// fused too; the inference entry points are then simplified on their own.
// `fuse=false` is netc's -O0 / --no-fuse. The two targets of a fat library
// get their own plans from the same elaborated module: `target=cuda` groups
// the optimizer updates into one launch each, which keeps their gradients
// live to the step's end; the CPU plan frees each gradient at its update.
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
  enum class Target { Cpu, Cuda };
  Option<Target> target{
      *this, "target", llvm::cl::desc("the path the plan is for"),
      llvm::cl::init(Target::Cpu),
      llvm::cl::values(clEnumValN(Target::Cpu, "cpu", "the C++ path"),
                       clEnumValN(Target::Cuda, "cuda", "the CUDA path"))};
};

/// Adds netc's passes, in netc's order, to `pm` (a module pass manager).
void buildNetPipeline(OpPassManager &pm, const NetPipelineOptions &options);

/// Registers `net-pipeline` for net-opt.
void registerNetPipeline();

} // namespace mlir::net

#endif // NET_TRANSFORMS_PIPELINE_H
