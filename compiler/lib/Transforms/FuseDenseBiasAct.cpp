//===- FuseDenseBiasAct.cpp - net-fuse-dense-bias-act ---------------------===//
//
// One pattern, anchored on each dense: its bias_add and its activation, each
// joining only when the value before it has no other user.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "net/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::net {
#define GEN_PASS_DEF_NETFUSEDENSEBIASACT
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

struct FuseDenseChain : OpRewritePattern<DenseOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DenseOp dense, PatternRewriter &rewriter) const override {
    SmallVector<Operation *> chain = {dense};
    Value current = dense.getResult();
    Value bias;
    if (BiasAddOp add = fusableBias(current, dense.getWeight())) {
      bias = add.getBias();
      chain.push_back(add);
      current = add.getResult();
    }
    StringRef activation = activationOf(soleUser(current));
    if (!activation.empty()) {
      chain.push_back(soleUser(current));
      current = chain.back()->getResult(0);
    } else {
      activation = "none";
    }
    if (chain.size() < 2)
      return rewriter.notifyMatchFailure(dense, "nothing to fuse with this dense");
    SmallVector<Location> locs;
    for (Operation *op : chain)
      locs.push_back(op->getLoc());
    // At the end of the chain, where every operand (the bias parameter
    // included, declared between the ops) is defined.
    rewriter.setInsertionPoint(chain.back());
    auto fused = rewriter.create<FusedDenseOp>(rewriter.getFusedLoc(locs), current.getType(),
                                               dense.getInput(), dense.getWeight(), bias,
                                               rewriter.getStringAttr(activation));
    rewriter.replaceOp(chain.back(), fused.getResult());
    for (Operation *op : llvm::reverse(ArrayRef(chain).drop_back()))
      rewriter.eraseOp(op);
    return success();
  }
};

struct FuseDenseBiasActPass : mlir::net::impl::NetFuseDenseBiasActBase<FuseDenseBiasActPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseDenseChain>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
