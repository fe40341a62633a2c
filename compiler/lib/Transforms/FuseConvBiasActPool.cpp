//===- FuseConvBiasActPool.cpp - net-fuse-conv-bias-act-pool --------------===//
//
// One pattern, anchored on each conv2d: follow the single-user chain through
// bias_add, an activation and a pooling that tiles the conv output, and
// replace what was found by one net.fused_conv2d.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "net/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::net {
#define GEN_PASS_DEF_NETFUSECONVBIASACTPOOL
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

/// A pooling window that tiles `input` exactly: every conv output pixel is
/// read by exactly one window, so pooling inside the conv's kernel is sound.
bool tiles(ArrayRef<int64_t> input, ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
           ArrayRef<int64_t> pads) {
  return kernel == strides && llvm::all_of(pads, [](int64_t p) { return p == 0; }) &&
         input[2] % kernel[0] == 0 && input[3] % kernel[1] == 0;
}

struct FuseConvChain : OpRewritePattern<Conv2dOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(Conv2dOp conv, PatternRewriter &rewriter) const override {
    SmallVector<Operation *> chain = {conv};
    Value current = conv.getResult();
    Value bias;
    if (BiasAddOp add = fusableBias(current, conv.getWeight())) {
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
    StringRef pool = "none";
    SmallVector<int64_t> window, windowStrides, windowPads;
    Operation *user = soleUser(current);
    auto shape = cast<RankedTensorType>(current.getType()).getShape();
    if (auto max = dyn_cast_or_null<MaxPool2dOp>(user)) {
      if (tiles(shape, max.getKernel(), max.getStrides(), max.getPads())) {
        pool = "max";
        window.assign(max.getKernel().begin(), max.getKernel().end());
        windowStrides.assign(max.getStrides().begin(), max.getStrides().end());
        windowPads.assign(max.getPads().begin(), max.getPads().end());
      }
    } else if (auto avg = dyn_cast_or_null<AvgPool2dOp>(user)) {
      if (tiles(shape, avg.getKernel(), avg.getStrides(), avg.getPads())) {
        pool = "avg";
        window.assign(avg.getKernel().begin(), avg.getKernel().end());
        windowStrides.assign(avg.getStrides().begin(), avg.getStrides().end());
        windowPads.assign(avg.getPads().begin(), avg.getPads().end());
      }
    }
    if (pool != "none") {
      chain.push_back(user);
      current = user->getResult(0);
    }
    if (chain.size() < 2)
      return rewriter.notifyMatchFailure(conv, "nothing to fuse with this conv2d");

    SmallVector<Location> locs;
    for (Operation *op : chain)
      locs.push_back(op->getLoc());
    // At the end of the chain, where every operand (the bias parameter
    // included, declared between the ops) is defined.
    rewriter.setInsertionPoint(chain.back());
    auto fused = rewriter.create<FusedConv2dOp>(
        rewriter.getFusedLoc(locs), current.getType(), conv.getInput(), conv.getWeight(),
        bias, conv.getStridesAttr(), conv.getPadsAttr(), rewriter.getStringAttr(activation),
        rewriter.getStringAttr(pool), rewriter.getDenseI64ArrayAttr(window),
        rewriter.getDenseI64ArrayAttr(windowStrides), rewriter.getDenseI64ArrayAttr(windowPads));
    rewriter.replaceOp(chain.back(), fused.getResult());
    for (Operation *op : llvm::reverse(ArrayRef(chain).drop_back()))
      rewriter.eraseOp(op);
    return success();
  }
};

struct FuseConvBiasActPoolPass
    : mlir::net::impl::NetFuseConvBiasActPoolBase<FuseConvBiasActPoolPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseConvChain>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
