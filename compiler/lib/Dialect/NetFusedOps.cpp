//===- NetFusedOps.cpp - verifiers of the fused ops -----------------------===//
//
// A fused op is checked as the chain it replaces: the convolution's shape
// rule, then the pooling's on its output, with the bias and the kept tensors
// shaped to match.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Dialect/Ranges.h"
#include "net/Dialect/Shapes.h"

using namespace mlir;
using namespace mlir::net;

namespace {

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

LogicalResult checkShape(Operation *op, StringRef what, ArrayRef<int64_t> want,
                         Value value) {
  if (shapeOf(value) != want)
    return op->emitOpError("expects ")
           << what << " of shape " << shapes::format(want) << ", got "
           << shapes::format(shapeOf(value));
  return success();
}

/// The convolution's output and the fused op's output, or an error.
struct FusedShapes {
  shapes::Shape conv, output;
};

FailureOr<FusedShapes> fusedShapes(Operation *op, ArrayRef<int64_t> input,
                                   ArrayRef<int64_t> weight, ArrayRef<int64_t> strides,
                                   ArrayRef<int64_t> pads, Pool pool,
                                   ArrayRef<int64_t> poolKernel, ArrayRef<int64_t> poolStrides,
                                   ArrayRef<int64_t> poolPads) {
  auto conv = shapes::conv2d(input, weight, strides, pads);
  if (!conv.ok())
    return op->emitOpError(conv.error);
  FusedShapes result{conv.shape, conv.shape};
  if (pool == Pool::None) {
    if (!poolKernel.empty() || !poolStrides.empty() || !poolPads.empty())
      return op->emitOpError("expects no pooling window when pool is none");
    return result;
  }
  auto pooled = shapes::pool2d(conv.shape, poolKernel, poolStrides, poolPads,
                               pool == Pool::Max ? "max_pool2d" : "avg_pool2d");
  if (!pooled.ok())
    return op->emitOpError(pooled.error);
  result.output = pooled.shape;
  return result;
}

template <typename Op> FailureOr<FusedShapes> fusedShapesOf(Op op) {
  return fusedShapes(op, shapeOf(op.getInput()), shapeOf(op.getWeight()), op.getStrides(),
                     op.getPads(), op.getPool(), op.getPoolKernel(), op.getPoolStrides(),
                     op.getPoolPads());
}

LogicalResult checkBias(Operation *op, Value bias, Value weight) {
  if (!bias)
    return success();
  return checkShape(op, "the bias", {shapeOf(weight)[0]}, bias);
}

/// What every fused backward op checks: the incoming gradient and the forward
/// output have the forward op's output shape; the input, weight and bias
/// gradients their tensors' shapes; the pre-activation gradient `preShape`.
template <typename GradOp>
LogicalResult checkGradients(GradOp op, ArrayRef<int64_t> outputShape,
                             ArrayRef<int64_t> preShape) {
  Operation *o = op.getOperation();
  if (failed(checkShape(o, "the incoming gradient", outputShape, op.getGrad())) ||
      failed(checkShape(o, "the forward output", outputShape, op.getOutput())) ||
      failed(checkShape(o, "the input gradient", shapeOf(op.getInput()), op.getInputGrad())) ||
      failed(checkShape(o, "the weight gradient", shapeOf(op.getWeight()), op.getWeightGrad())) ||
      failed(checkShape(o, "the bias gradient", {shapeOf(op.getWeight())[0]}, op.getBiasGrad())))
    return failure();
  return checkShape(o, "the pre-activation gradient", preShape, op.getPreActivationGrad());
}

/// The shape of `saved`: the argmax per pooled output for max pooling, the
/// activation before pooling otherwise.
shapes::Shape savedShape(Pool pool, const FusedShapes &s) {
  return pool == Pool::Max ? s.output : s.conv;
}

} // namespace

SmallVector<int64_t, 4> FusedConv2dOp::getConvShape() {
  auto conv = shapes::conv2d(shapeOf(getInput()), shapeOf(getWeight()), getStrides(), getPads());
  return conv.shape;
}

LogicalResult FusedConv2dOp::verify() {
  auto s = fusedShapesOf(*this);
  if (failed(s) || failed(checkBias(*this, getBias(), getWeight())))
    return failure();
  return checkShape(*this, "the result", s->output, getResult());
}

LogicalResult FusedConv2dTrainOp::verify() {
  auto s = fusedShapesOf(*this);
  if (failed(s) || failed(checkBias(*this, getBias(), getWeight())) ||
      failed(checkShape(*this, "the result", s->output, getResult())))
    return failure();
  return checkShape(*this, "saved", savedShape(getPool(), *s), getSaved());
}

LogicalResult FusedConv2dGradOp::verify() {
  auto s = fusedShapes(*this, shapeOf(getInput()), shapeOf(getWeight()), getStrides(),
                       getPads(), getPool(), getPoolKernel(), getPoolStrides(),
                       getPoolPads());
  if (failed(s))
    return failure();
  if (failed(checkGradients(*this, s->output, s->conv)))
    return failure();
  // Nothing kept: the forward output stands in for `saved`.
  if (getSaved() == getOutput())
    return success();
  return checkShape(*this, "saved", savedShape(getPool(), *s), getSaved());
}

LogicalResult FusedDenseOp::verify() {
  auto r = shapes::dense(shapeOf(getInput()), shapeOf(getWeight()));
  if (!r.ok())
    return emitOpError(r.error);
  if (failed(checkBias(*this, getBias(), getWeight())))
    return failure();
  return checkShape(*this, "the result", r.shape, getResult());
}

LogicalResult FusedDenseGradOp::verify() {
  auto r = shapes::dense(shapeOf(getInput()), shapeOf(getWeight()));
  if (!r.ok())
    return emitOpError(r.error);
  return checkGradients(*this, r.shape, r.shape);
}

LogicalResult FoldBatchNormOp::verify() {
  auto weight = shapeOf(getWeight());
  if (weight.size() != 4)
    return emitOpError("expects a conv weight (F, C, KH, KW), got ") << shapes::format(weight);
  SmallVector<int64_t, 1> channels = {weight[0]};
  if (!ranges::withinAsFloat32(getEpsilon(), ranges::Range::Positive))
    return emitOpError("expects epsilon above 0 and finite as a float32");
  for (auto [value, name] : {std::pair{getGamma(), "gamma"}, {getBeta(), "beta"},
                             {getMean(), "mean"}, {getVariance(), "variance"},
                             {getFoldedBias(), "the folded bias"}})
    if (failed(checkShape(*this, name, channels, value)))
      return failure();
  if (getBias() && failed(checkShape(*this, "the bias", channels, getBias())))
    return failure();
  return checkShape(*this, "the folded weight", weight, getFoldedWeight());
}
