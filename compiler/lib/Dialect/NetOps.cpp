//===- NetOps.cpp - verifiers of the net ops ------------------------------===//
//
// Each verifier runs the op's shape function from Shapes.cpp, reports its
// error as is, and then requires the declared result type to be exactly the
// computed shape (a dynamic batch stays dynamic, a static one must match).
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Dialect/Ranges.h"
#include "net/Dialect/Shapes.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::net;

namespace {

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

/// Reports a shape-function error, or a result whose shape differs from the
/// computed one.
LogicalResult checkResult(Operation *op, const shapes::ShapeResult &computed) {
  if (!computed.ok())
    return op->emitOpError(computed.error);
  ArrayRef<int64_t> declared = shapeOf(op->getResult(0));
  if (declared != ArrayRef<int64_t>(computed.shape))
    return op->emitOpError("expects result shape ")
           << shapes::format(computed.shape) << ", got "
           << shapes::format(declared);
  return success();
}

/// The initializers the runtime implements.
constexpr llvm::StringLiteral kInitializers[] = {
    "zeros", "ones", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal"};

} // namespace

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("expects a non-empty name");
  if (!llvm::is_contained(kInitializers, getInit()))
    return emitOpError("expects init to be one of ")
           << llvm::join(std::begin(kInitializers), std::end(kInitializers), ", ") << ", got '" << getInit() << "'";
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError("expects a static shape, got ")
           << shapes::format(type.getShape());
  if (llvm::any_of(type.getShape(), [](int64_t dim) { return dim <= 0; }))
    return emitOpError("expects positive dims, got ")
           << shapes::format(type.getShape());
  return success();
}

LogicalResult Conv2dOp::verify() {
  return checkResult(*this, shapes::conv2d(shapeOf(getInput()), shapeOf(getWeight()),
                                           getStrides(), getPads()));
}

LogicalResult DenseOp::verify() {
  return checkResult(*this,
                     shapes::dense(shapeOf(getInput()), shapeOf(getWeight())));
}

LogicalResult BiasAddOp::verify() {
  return checkResult(*this,
                     shapes::biasAdd(shapeOf(getInput()), shapeOf(getBias())));
}

LogicalResult ReluOp::verify() {
  return checkResult(*this, shapes::unary(shapeOf(getInput()), "relu"));
}

LogicalResult SigmoidOp::verify() {
  return checkResult(*this, shapes::unary(shapeOf(getInput()), "sigmoid"));
}

LogicalResult TanhOp::verify() {
  return checkResult(*this, shapes::unary(shapeOf(getInput()), "tanh"));
}

LogicalResult SoftmaxOp::verify() {
  return checkResult(*this, shapes::softmax(shapeOf(getInput())));
}

LogicalResult MaxPool2dOp::verify() {
  return checkResult(*this, shapes::pool2d(shapeOf(getInput()), getKernel(),
                                           getStrides(), getPads(), "max_pool2d"));
}

LogicalResult AvgPool2dOp::verify() {
  return checkResult(*this, shapes::pool2d(shapeOf(getInput()), getKernel(),
                                           getStrides(), getPads(), "avg_pool2d"));
}

LogicalResult GlobalAvgPoolOp::verify() {
  return checkResult(*this, shapes::globalAvgPool(shapeOf(getInput())));
}

LogicalResult FlattenOp::verify() {
  return checkResult(*this, shapes::flatten(shapeOf(getInput())));
}

LogicalResult DropoutOp::verify() {
  if (!ranges::withinAsFloat32(getRate(), ranges::Range::Unit))
    return emitOpError("expects rate in [0, 1) as a float32, got ")
           << getRate().convertToDouble();
  return checkResult(*this, shapes::unary(shapeOf(getInput()), "dropout"));
}

LogicalResult BatchNormOp::verify() {
  if (!ranges::withinAsFloat32(getEpsilon(), ranges::Range::Positive))
    return emitOpError("expects epsilon > 0 and finite as a float32, got ")
           << getEpsilon().convertToDouble();
  if (!ranges::withinAsFloat32(getMomentum(), ranges::Range::Unit))
    return emitOpError("expects momentum in [0, 1) as a float32, got ")
           << getMomentum().convertToDouble();
  ArrayRef<int64_t> input = shapeOf(getInput());
  std::pair<Value, StringRef> params[] = {{getGamma(), "gamma"},
                                          {getBeta(), "beta"},
                                          {getMean(), "mean"},
                                          {getVariance(), "variance"}};
  for (auto [param, name] : params) {
    shapes::ShapeResult computed = shapes::batchNorm(input, shapeOf(param), name);
    if (!computed.ok())
      return emitOpError(computed.error);
  }
  return checkResult(*this, shapes::batchNorm(input, shapeOf(getGamma()), "gamma"));
}

LogicalResult AddOp::verify() {
  return checkResult(*this, shapes::add(shapeOf(getLhs()), shapeOf(getRhs())));
}

LogicalResult CrossEntropyOp::verify() {
  // The result is constrained to a 0-d tensor by ODS.
  shapes::ShapeResult computed =
      shapes::crossEntropy(shapeOf(getProbs()), shapeOf(getLabels()));
  if (!computed.ok())
    return emitOpError(computed.error);
  return success();
}

#define GET_OP_CLASSES
#include "net/Dialect/NetOps.cpp.inc"
