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
    FusableChain chain = followBiasAndActivation(dense, dense.getWeight());
    if (chain.ops.size() < 2)
      return rewriter.notifyMatchFailure(dense, "nothing to fuse with this dense");
    // At the end of the chain, where every operand (the bias parameter
    // included, declared between the ops) is defined.
    rewriter.setInsertionPoint(chain.ops.back());
    auto fused = rewriter.create<FusedDenseOp>(
        fusedLoc(rewriter, chain.ops), chain.output.getType(), dense.getInput(),
        dense.getWeight(), chain.bias,
        ActivationAttr::get(rewriter.getContext(), chain.activation));
    replaceChain(rewriter, chain.ops, fused);
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
