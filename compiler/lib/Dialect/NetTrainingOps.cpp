//===- NetTrainingOps.cpp - verifiers of the training-step ops ------------===//
//
// A gradient op is checked by running its forward shape rule on what it
// produces: the forward op applied to the gradient's result (or with it as
// the weight) must give exactly the shape of the incoming gradient.
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

/// `forward` is the forward op's output shape computed from this op's
/// operands and result; it must be the shape of the incoming gradient.
LogicalResult checkForward(Operation *op, const shapes::ShapeResult &forward,
                           Value grad) {
  if (!forward.ok())
    return op->emitOpError(forward.error);
  if (ArrayRef<int64_t>(forward.shape) != shapeOf(grad))
    return op->emitOpError("expects the incoming gradient to have the forward output's shape ")
           << shapes::format(forward.shape) << ", got " << shapes::format(shapeOf(grad));
  return success();
}

LogicalResult checkSameType(Operation *op, Value a, Value b, StringRef what) {
  if (a.getType() != b.getType())
    return op->emitOpError("expects ")
           << what << " to have the type " << a.getType() << ", got " << b.getType();
  return success();
}

LogicalResult checkParam(Operation *op, Value param, Value grad) {
  auto def = param.getDefiningOp<ParamOp>();
  if (!def)
    return op->emitOpError("expects its first operand to be a net.param");
  if (def.getFrozen())
    return op->emitOpError("updates frozen parameter '") << def.getName() << "'";
  return checkSameType(op, param, grad, "the gradient");
}

} // namespace

LogicalResult Conv2dGradInputOp::verify() {
  return checkForward(*this,
                      shapes::conv2d(shapeOf(getResult()), shapeOf(getWeight()),
                                     getStrides(), getPads()),
                      getGrad());
}

LogicalResult Conv2dGradWeightOp::verify() {
  return checkForward(*this,
                      shapes::conv2d(shapeOf(getInput()), shapeOf(getResult()),
                                     getStrides(), getPads()),
                      getGrad());
}

LogicalResult DenseGradInputOp::verify() {
  return checkForward(*this, shapes::dense(shapeOf(getResult()), shapeOf(getWeight())),
                      getGrad());
}

LogicalResult DenseGradWeightOp::verify() {
  return checkForward(*this, shapes::dense(shapeOf(getInput()), shapeOf(getResult())),
                      getGrad());
}

LogicalResult BiasGradOp::verify() {
  return checkForward(*this, shapes::biasAdd(shapeOf(getGrad()), shapeOf(getResult())),
                      getGrad());
}

LogicalResult MaxPool2dGradOp::verify() {
  if (failed(checkSameType(*this, getInput(), getResult(), "the result")))
    return failure();
  return checkForward(*this,
                      shapes::pool2d(shapeOf(getInput()), getKernel(), getStrides(),
                                     getPads(), "max_pool2d"),
                      getGrad());
}

LogicalResult AvgPool2dGradOp::verify() {
  return checkForward(*this,
                      shapes::pool2d(shapeOf(getResult()), getKernel(), getStrides(),
                                     getPads(), "avg_pool2d"),
                      getGrad());
}

LogicalResult GlobalAvgPoolGradOp::verify() {
  return checkForward(*this, shapes::globalAvgPool(shapeOf(getResult())), getGrad());
}

LogicalResult ReshapeOp::verify() {
  auto in = shapes::flatten(shapeOf(getInput()));
  auto out = shapes::flatten(shapeOf(getResult()));
  if (!in.ok())
    return emitOpError(in.error);
  if (!out.ok())
    return emitOpError(out.error);
  if (in.shape != out.shape)
    return emitOpError("expects the same batch and values per sample: ")
           << shapes::format(shapeOf(getInput())) << " vs "
           << shapes::format(shapeOf(getResult()));
  return success();
}

LogicalResult BatchNormInferenceGradOp::verify() {
  if (failed(checkSameType(*this, getGrad(), getResult(), "the result")))
    return failure();
  if (!ranges::withinAsFloat32(getEpsilon(), ranges::Range::Positive))
    return emitOpError("expects epsilon above 0 and finite as a float32");
  for (auto [param, name] : {std::pair{getGamma(), "gamma"}, {getVariance(), "variance"}}) {
    auto r = shapes::batchNorm(shapeOf(getGrad()), shapeOf(param), name);
    if (!r.ok())
      return emitOpError(r.error);
  }
  return success();
}

LogicalResult BatchNormTrainOp::verify() {
  if (failed(checkSameType(*this, getInput(), getResult(), "the result")))
    return failure();
  if (!ranges::withinAsFloat32(getEpsilon(), ranges::Range::Positive))
    return emitOpError("expects epsilon above 0 and finite as a float32");
  if (!ranges::withinAsFloat32(getMomentum(), ranges::Range::Unit))
    return emitOpError("expects momentum in [0, 1) as a float32, got ")
           << getMomentum().convertToDouble();
  std::pair<Value, StringRef> perChannel[] = {
      {getGamma(), "gamma"},           {getBeta(), "beta"},
      {getMean(), "mean"},             {getVariance(), "variance"},
      {getBatchMean(), "batch_mean"},  {getBatchInvStd(), "batch_inv_std"}};
  for (auto [value, name] : perChannel) {
    auto r = shapes::batchNorm(shapeOf(getInput()), shapeOf(value), name);
    if (!r.ok())
      return emitOpError(r.error);
  }
  // The running statistics are written in place: they must be parameters.
  for (auto [value, name] : {std::pair{getMean(), "mean"}, {getVariance(), "variance"}})
    if (!value.getDefiningOp<ParamOp>())
      return emitOpError("expects the running ") << name << " to be a net.param";
  return success();
}

LogicalResult BatchNormTrainGradOp::verify() {
  if (failed(checkSameType(*this, getGrad(), getInput(), "the input")) ||
      failed(checkSameType(*this, getGrad(), getInputGrad(), "the input gradient")) ||
      failed(checkSameType(*this, getGamma(), getGammaGrad(), "the gamma gradient")) ||
      failed(checkSameType(*this, getGamma(), getBetaGrad(), "the beta gradient")))
    return failure();
  std::pair<Value, StringRef> perChannel[] = {{getGamma(), "gamma"},
                                              {getBatchMean(), "batch_mean"},
                                              {getBatchInvStd(), "batch_inv_std"}};
  for (auto [value, name] : perChannel) {
    auto r = shapes::batchNorm(shapeOf(getGrad()), shapeOf(value), name);
    if (!r.ok())
      return emitOpError(r.error);
  }
  return success();
}

LogicalResult DropoutMaskOp::verify() {
  if (!ranges::withinAsFloat32(getRate(), ranges::Range::Unit))
    return emitOpError("expects rate in [0, 1) as a float32, got ")
           << getRate().convertToDouble();
  if (getStream() < 0)
    return emitOpError("expects a non-negative stream, got ") << getStream();
  return success();
}

LogicalResult ZerosOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError("expects a static shape (a parameter's), got ") << type;
  return success();
}

LogicalResult CountCorrectOp::verify() {
  auto r = shapes::crossEntropy(shapeOf(getProbs()), shapeOf(getLabels()));
  return r.ok() ? success() : emitOpError(r.error);
}

LogicalResult SoftmaxCrossEntropyGradOp::verify() {
  auto r = shapes::crossEntropy(shapeOf(getProbs()), shapeOf(getLabels()));
  if (!r.ok())
    return emitOpError(r.error);
  return checkSameType(*this, getProbs(), getResult(), "the result");
}

LogicalResult SgdUpdateOp::verify() {
  if (!ranges::withinAsFloat32(getMomentum(), ranges::Range::Unit))
    return emitOpError("expects momentum in [0, 1) as a float32, got ")
           << getMomentum().convertToDouble();
  return checkParam(*this, getParam(), getGrad());
}

LogicalResult AdamUpdateOp::verify() {
  if (!ranges::withinAsFloat32(getBeta1(), ranges::Range::Unit) ||
      !ranges::withinAsFloat32(getBeta2(), ranges::Range::Unit))
    return emitOpError("expects beta1 and beta2 in [0, 1) as float32s, got ")
           << getBeta1().convertToDouble() << " and " << getBeta2().convertToDouble();
  if (!ranges::withinAsFloat32(getEpsilon(), ranges::Range::Positive))
    return emitOpError("expects epsilon above 0 and finite as a float32");
  return checkParam(*this, getParam(), getGrad());
}

LogicalResult ExchangeStartOp::verify() {
  if (!getParam().getDefiningOp<ParamOp>())
    return emitOpError("expects its first operand to be a net.param");
  return success();
}

LogicalResult UpdateGroupOp::verify() {
  Block &body = getBody().front();
  if (body.empty())
    return emitOpError("expects at least one update in its body");
  Operation &first = body.front();
  for (Operation &op : body) {
    if (!isa<SgdUpdateOp, AdamUpdateOp>(op))
      return emitOpError("expects only net.sgd_update and net.adam_update in its body, got ")
             << op.getName();
    // One launch applies one kind with one set of hyper-parameters.
    if (op.getName() != first.getName() ||
        op.getAttrDictionary() != first.getAttrDictionary())
      return emitOpError("expects updates of one kind with equal hyper-parameters");
  }
  return success();
}
