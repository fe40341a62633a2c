//===- ExchangeGradients.cpp - net-exchange-gradients ---------------------===//
//
// A data-parallel run combines every replica's gradients before any update.
// Each training step gets a copy, <step>_exchanged, that hands each gradient
// out (net.exchange_start) as soon as the backward has produced it and
// applies the updates after one net.exchange_wait at the end of the
// backward; a gradient the compiler knows is zero (net.zeros) is not handed
// out, and is made next to its update. The step itself keeps its fused
// order, where each update runs while its gradient is still in cache.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <vector>

namespace mlir::net {
#define GEN_PASS_DEF_NETEXCHANGEGRADIENTS
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

/// The parameter and gradient an optimizer update reads.
std::pair<Value, Value> updateOperands(Operation *update) {
  if (auto sgd = dyn_cast<SgdUpdateOp>(update))
    return {sgd.getParam(), sgd.getGrad()};
  auto adam = cast<AdamUpdateOp>(update);
  return {adam.getParam(), adam.getGrad()};
}

void exchangeGradients(func::FuncOp exchanged) {
  Block &block = exchanged.getBody().front();
  OpBuilder builder(exchanged.getContext());
  std::vector<Operation *> updates;
  for (Operation &op : llvm::make_early_inc_range(block)) {
    if (isa<SgdUpdateOp, AdamUpdateOp>(op)) {
      auto [param, grad] = updateOperands(&op);
      // A net.zeros gradient is zero on every replica: their mean already.
      if (!grad.getDefiningOp<ZerosOp>()) {
        builder.setInsertionPoint(&op);
        builder.create<ExchangeStartOp>(op.getLoc(), param, grad);
      }
      updates.push_back(&op);
      continue;
    }
    // The running statistics are final once the batch's are folded in.
    if (auto norm = dyn_cast<BatchNormTrainOp>(op)) {
      builder.setInsertionPointAfter(norm);
      for (Value statistic : {norm.getMean(), norm.getVariance()})
        builder.create<ExchangeStartOp>(norm.getLoc(), statistic, statistic);
    }
  }
  Operation *terminator = block.getTerminator();
  builder.setInsertionPoint(terminator);
  builder.create<ExchangeWaitOp>(exchanged.getLoc());
  llvm::SmallPtrSet<Operation *, 8> movedZeros;
  for (Operation *update : updates) {
    // A zero gradient read only by updates follows its first one, so that
    // it is not live (and takes no arena slot) across the exchange.
    if (auto zeros = updateOperands(update).second.getDefiningOp<ZerosOp>())
      if (zeros->getBlock() == &block && !movedZeros.contains(zeros) &&
          llvm::all_of(zeros->getUsers(), [](Operation *user) {
            return isa<SgdUpdateOp, AdamUpdateOp>(user);
          })) {
        zeros->moveBefore(terminator);
        movedZeros.insert(zeros);
      }
    update->moveBefore(terminator);
  }
}

struct ExchangeGradientsPass
    : mlir::net::impl::NetExchangeGradientsBase<ExchangeGradientsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (StringRef name : {"train_step", "head_train_step"}) {
      auto step = module.lookupSymbol<func::FuncOp>(name);
      if (!step || step.getBody().empty())
        continue;
      std::string copyName = (name + "_exchanged").str();
      if (module.lookupSymbol(copyName)) {
        step.emitError("@") << copyName << " already exists";
        return signalPassFailure();
      }
      func::FuncOp copy = step.clone();
      copy.setName(copyName);
      module.insert(std::next(Block::iterator(step)), copy);
      exchangeGradients(copy);
    }
  }
};

} // namespace
