//===- FoldBatchNorm.cpp - net-fold-batch-norm ----------------------------===//
//
// At inference a batch norm is an affine map per channel; after a
// convolution it folds into the convolution's weight and bias, so the
// activations are read and written once instead of twice. Only @forward, the
// inference entry point, is rewritten: the training step keeps the batch norm
// it differentiates. The folded weight is computed from the parameters as
// they are (net.fold_batch_norm), so new weights need no recompilation; the
// C++ emitter keeps it between calls until they may have changed.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "net/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::net {
#define GEN_PASS_DEF_NETFOLDBATCHNORM
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

struct FoldIntoConv : OpRewritePattern<BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BatchNormOp bn, PatternRewriter &rewriter) const override {
    Value input = bn.getInput();
    if (!input.hasOneUse())
      return rewriter.notifyMatchFailure(bn, "the batch norm's input is read elsewhere");
    // The convolution (and its bias) the batch norm follows.
    Value x, weight, bias;
    DenseI64ArrayAttr strides, pads;
    SmallVector<Operation *> chain;
    Operation *def = input.getDefiningOp();
    if (auto add = dyn_cast_or_null<BiasAddOp>(def)) {
      auto conv = add.getInput().getDefiningOp<Conv2dOp>();
      if (!conv || !conv.getResult().hasOneUse())
        return rewriter.notifyMatchFailure(bn, "no convolution before the bias");
      x = conv.getInput(), weight = conv.getWeight(), bias = add.getBias();
      strides = conv.getStridesAttr(), pads = conv.getPadsAttr();
      chain = {add, conv};
    } else if (auto conv = dyn_cast_or_null<Conv2dOp>(def)) {
      x = conv.getInput(), weight = conv.getWeight();
      strides = conv.getStridesAttr(), pads = conv.getPadsAttr();
      chain = {conv};
    } else if (auto fused = dyn_cast_or_null<FusedConv2dOp>(def)) {
      if (fused.getActivation() != Activation::None || fused.getPool() != Pool::None)
        return rewriter.notifyMatchFailure(bn, "an activation or pool sits in between");
      x = fused.getInput(), weight = fused.getWeight(), bias = fused.getBias();
      strides = fused.getStridesAttr(), pads = fused.getPadsAttr();
      chain = {fused};
    } else {
      return rewriter.notifyMatchFailure(bn, "not after a convolution");
    }

    Location loc = rewriter.getFusedLoc({def->getLoc(), bn.getLoc()});
    auto weightType = cast<RankedTensorType>(weight.getType());
    auto biasType = RankedTensorType::get({weightType.getDimSize(0)}, weightType.getElementType());
    auto fold = rewriter.create<FoldBatchNormOp>(
        loc, TypeRange{weightType, biasType}, weight, bias, bn.getGamma(), bn.getBeta(),
        bn.getMean(), bn.getVariance(), bn.getEpsilonAttr());
    auto conv = rewriter.create<Conv2dOp>(loc, bn.getType(), x, fold.getFoldedWeight(),
                                          strides, pads);
    auto add = rewriter.create<BiasAddOp>(loc, bn.getType(), conv, fold.getFoldedBias());
    rewriter.replaceOp(bn, add.getResult());
    for (Operation *op : chain)
      rewriter.eraseOp(op);
    return success();
  }
};

struct FoldBatchNormPass : mlir::net::impl::NetFoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    // The inference functions: the model's and its frozen base's.
    for (StringRef name : {"forward", "base_forward"}) {
      auto func = getOperation().lookupSymbol<func::FuncOp>(name);
      if (!func)
        continue;
      RewritePatternSet patterns(&getContext());
      patterns.add<FoldIntoConv>(&getContext());
      if (failed(applyPatternsAndFoldGreedily(func, std::move(patterns))))
        return signalPassFailure();
    }
  }
};

} // namespace
