//===- RemoveDropout.cpp - net-remove-dropout -----------------------------===//
//
// Dropout is the identity at inference: in @forward each net.dropout is
// replaced by its input. The training step, built before, keeps its masks.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Transforms/Passes.h"

namespace mlir::net {
#define GEN_PASS_DEF_NETREMOVEDROPOUT
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

struct RemoveDropoutPass : mlir::net::impl::NetRemoveDropoutBase<RemoveDropoutPass> {
  void runOnOperation() override {
    auto forward = getOperation().lookupSymbol<func::FuncOp>("forward");
    if (!forward)
      return;
    forward.walk([](DropoutOp dropout) {
      dropout.getResult().replaceAllUsesWith(dropout.getInput());
      dropout.erase();
    });
  }
};

} // namespace
