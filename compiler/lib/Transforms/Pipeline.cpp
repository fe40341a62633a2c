//===- Pipeline.cpp - netc's pass pipeline, registered --------------------===//

#include "net/Transforms/Pipeline.h"
#include "net/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void mlir::net::buildNetPipeline(OpPassManager &pm, const NetPipelineOptions &options) {
  if (options.fuse) {
    pm.addPass(createNetFuseConvBiasActPool());
    pm.addPass(createNetFuseDenseBiasAct());
  }
  // A frozen base is split off its trained head, so that the runtime can
  // compute its features once.
  pm.addPass(createNetSplitFrozenBase());
  pm.addPass(createNetAutodiff());
  if (options.fuse) {
    pm.addPass(createNetFoldBatchNorm());
    pm.addPass(createNetRemoveDropout());
    pm.addPass(createNetFuseConvBiasActPool());
    pm.addPass(createNetFuseDenseBiasAct());
  }
  // A data-parallel copy of each training step (netrun under mpirun).
  pm.addPass(createNetExchangeGradients());
  if (options.target == NetPipelineOptions::Target::Cuda)
    pm.addPass(createNetGroupUpdates());
  pm.addPass(createNetPlanMemory());
}

void mlir::net::registerNetPipeline() {
  PassPipelineRegistration<NetPipelineOptions>(
      "net-pipeline",
      "netc's passes in netc's order: fusion, autodiff, memory planning for a target",
      buildNetPipeline);
}
