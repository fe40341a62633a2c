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
    FusableChain chain = followBiasAndActivation(conv, conv.getWeight());
    Pool pool = Pool::None;
    DenseI64ArrayAttr window, windowStrides, windowPads;
    Operation *user = soleUser(chain.output);
    auto shape = cast<RankedTensorType>(chain.output.getType()).getShape();
    auto join = [&](Pool kind, auto poolOp) {
      if (!tiles(shape, poolOp.getKernel(), poolOp.getStrides(), poolOp.getPads()))
        return;
      pool = kind;
      window = poolOp.getKernelAttr();
      windowStrides = poolOp.getStridesAttr();
      windowPads = poolOp.getPadsAttr();
      chain.ops.push_back(poolOp);
      chain.output = poolOp.getResult();
    };
    if (auto max = dyn_cast_or_null<MaxPool2dOp>(user))
      join(Pool::Max, max);
    else if (auto avg = dyn_cast_or_null<AvgPool2dOp>(user))
      join(Pool::Avg, avg);
    if (chain.ops.size() < 2)
      return rewriter.notifyMatchFailure(conv, "nothing to fuse with this conv2d");

    // At the end of the chain, where every operand (the bias parameter
    // included, declared between the ops) is defined.
    rewriter.setInsertionPoint(chain.ops.back());
    DenseI64ArrayAttr none = rewriter.getDenseI64ArrayAttr({});
    auto fused = rewriter.create<FusedConv2dOp>(
        fusedLoc(rewriter, chain.ops), chain.output.getType(), conv.getInput(),
        conv.getWeight(), chain.bias, conv.getStridesAttr(), conv.getPadsAttr(),
        ActivationAttr::get(rewriter.getContext(), chain.activation),
        PoolAttr::get(rewriter.getContext(), pool),
        window ? window : none, windowStrides ? windowStrides : none,
        windowPads ? windowPads : none);
    replaceChain(rewriter, chain.ops, fused);
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
