//===- Autodiff.cpp - net-autodiff: the training and evaluation steps -----===//
//
// Reverse-mode differentiation of @forward, written as IR so that the
// training step is fused, planned and emitted like any other function.
// Only values that depend on a trainable parameter get a gradient: the
// backward pass stops at the frozen boundary by construction.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Dialect/Shapes.h"
#include "net/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <functional>

namespace mlir::net {
#define GEN_PASS_DEF_NETAUTODIFF
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

/// The optimizer of the module's `net.train` set-up.
struct Optimizer {
  std::string name = "adam";
  double momentum = 0, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  bool nesterov = false;
};

/// The convolution's output shape (before any fused pooling).
SmallVector<int64_t, 4> shapesOfConv(ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                                     ArrayRef<int64_t> strides, ArrayRef<int64_t> pads) {
  auto conv = shapes::conv2d(input, weight, strides, pads);
  return SmallVector<int64_t, 4>(conv.shape.begin(), conv.shape.end());
}

Optimizer readOptimizer(ModuleOp module) {
  Optimizer opt;
  auto train = module->getAttrOfType<DictionaryAttr>("net.train");
  auto dict = train ? train.getAs<DictionaryAttr>("optimizer") : DictionaryAttr();
  if (!dict)
    return opt;
  if (auto name = dict.getAs<StringAttr>("name"))
    opt.name = name.str();
  auto number = [&](StringRef key, double &out) {
    if (auto v = dict.getAs<FloatAttr>(key))
      out = v.getValueAsDouble();
  };
  number("momentum", opt.momentum);
  number("beta1", opt.beta1);
  number("beta2", opt.beta2);
  number("epsilon", opt.epsilon);
  double nesterov = 0;
  number("nesterov", nesterov);
  opt.nesterov = nesterov != 0;
  return opt;
}

/// Builds one step function from @forward.
class StepBuilder {
public:
  /// Builds `<prefix>train_step` and `<prefix>eval_step` from `forward`.
  StepBuilder(ModuleOp module, func::FuncOp forward, StringRef prefix = "")
      : module(module), forward(forward), builder(module.getContext()), prefix(prefix) {}

  /// @eval_step: the forward pass, the loss and the correct count.
  LogicalResult buildEval();
  /// @train_step: the same, then the backward pass and the updates.
  LogicalResult buildTrain(const Optimizer &optimizer);

private:
  /// Creates `name(input, labels) -> (loss, correct)` and clones the forward
  /// body into it; `training` turns dropout into mask * input.
  func::FuncOp cloneForward(StringRef name, bool training, IRMapping &mapping,
                            Value &labels, Value &probs);
  void finish(Location loc, Value probs, Value labels);

  /// A fused convolution's backward needs the argmax of a max pooling or,
  /// behind a pooling, the activation's output; otherwise its own output is
  /// enough (with no pooling it is the activation's output: saving a copy
  /// wrote mnist_cnn conv1's 11 MB twice a step).
  static bool needsSaved(FusedConv2dOp op) {
    return op.getPool() == Pool::Max ||
           (op.getActivation() != Activation::None && op.getPool() != Pool::None);
  }
  void cloneFusedForTraining(FusedConv2dOp op, IRMapping &mapping);
  static bool isTrained(BatchNormOp bn);
  void cloneBatchNormForTraining(BatchNormOp bn, IRMapping &mapping);

  void accumulate(Value value, Value grad, Location loc);
  LogicalResult differentiate(Operation *op, Value dy);
  template <typename FusedOp> void differentiateFusedConv(FusedOp fused, Value dy);
  /// Accumulates the gradients a fused backward op produced into the
  /// operands of its forward op `op` that need them.
  void accumulateFused(Operation *op, Value input, Value weight, Value bias, Value inputGrad,
                       Value weightGrad, Value biasGrad, Location loc);
  void findBiasesBeforeTrainedNorms(ArrayRef<Operation *> ops);
  /// Accumulates the gradient `makeGrad` builds into the trained bias `op`
  /// adds, unless the op's shift only reaches trained norms: then the bias
  /// is recorded as one this use gives an exactly zero gradient.
  void accumulateBias(Operation *op, Value bias, Location loc,
                      function_ref<Value()> makeGrad);

  ModuleOp module;
  func::FuncOp forward;
  OpBuilder builder;
  std::string prefix;
  Value loss, correct;
  DenseMap<Value, Value> grads;
  /// The `saved` result of each fused training op, by its output.
  DenseMap<Value, Value> saved;
  DenseSet<Value> needsGrad;
  /// Ops whose bias (a norm's beta) shifts channels by constants that only
  /// batch norms on the batch's statistics read (and remove).
  DenseSet<Operation *> biasBeforeTrainedNorm;
  /// Trained biases that one of those ops' backward gave no gradient: an
  /// update with no other gradient gets `net.zeros`.
  DenseSet<Value> zeroGradBiases;
};

func::FuncOp StepBuilder::cloneForward(StringRef name, bool training,
                                       IRMapping &mapping, Value &labels,
                                       Value &probs) {
  MLIRContext *ctx = module.getContext();
  Type input = forward.getArgumentTypes()[0];
  auto labelType = RankedTensorType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 32));
  auto lossType = RankedTensorType::get({}, Float32Type::get(ctx));
  auto countType = RankedTensorType::get({}, IntegerType::get(ctx, 32));
  builder.setInsertionPointToEnd(module.getBody());
  auto func = builder.create<func::FuncOp>(
      forward.getLoc(), name,
      builder.getFunctionType({input, labelType}, {lossType, countType}));
  if (auto name = forward.getArgAttrOfType<StringAttr>(0, "net.input"))
    func.setArgAttr(0, "net.input", name);
  Block *entry = func.addEntryBlock();
  labels = entry->getArgument(1);
  builder.setInsertionPointToEnd(entry);

  Block &body = forward.getBody().front();
  mapping.map(body.getArgument(0), entry->getArgument(0));
  int64_t stream = 0;
  for (Operation &op : body.without_terminator()) {
    if (auto fused = dyn_cast<FusedConv2dOp>(op); fused && training &&
                                                  needsSaved(fused)) {
      cloneFusedForTraining(fused, mapping);
      continue;
    }
    if (auto bn = dyn_cast<BatchNormOp>(op); bn && training && isTrained(bn)) {
      cloneBatchNormForTraining(bn, mapping);
      continue;
    }
    auto dropout = dyn_cast<DropoutOp>(op);
    if (!dropout) {
      builder.clone(op, mapping);
      continue;
    }
    Value x = mapping.lookup(dropout.getInput());
    if (!training) {
      mapping.map(dropout.getResult(), x); // identity at inference
      continue;
    }
    auto mask = builder.create<DropoutMaskOp>(dropout.getLoc(), x.getType(),
                                              dropout.getRateAttr(),
                                              builder.getI64IntegerAttr(stream++));
    auto y = builder.create<MulOp>(dropout.getLoc(), x, mask);
    mapping.map(dropout.getResult(), y.getResult());
  }
  probs = mapping.lookup(body.getTerminator()->getOperand(0));
  return func;
}

void StepBuilder::cloneFusedForTraining(FusedConv2dOp op, IRMapping &mapping) {
  auto output = cast<RankedTensorType>(op.getType());
  SmallVector<int64_t, 4> savedShape(op.getPool() == Pool::Max ? output.getShape()
                                                               : ArrayRef(op.getConvShape()));
  Type savedType = RankedTensorType::get(savedShape, output.getElementType());
  Value bias = op.getBias() ? mapping.lookup(op.getBias()) : Value();
  auto train = builder.create<FusedConv2dTrainOp>(
      op.getLoc(), TypeRange{output, savedType}, mapping.lookup(op.getInput()),
      mapping.lookup(op.getWeight()), bias, op.getStridesAttr(), op.getPadsAttr(),
      op.getActivationAttr(), op.getPoolAttr(), op.getPoolKernelAttr(),
      op.getPoolStridesAttr(), op.getPoolPadsAttr());
  mapping.map(op.getResult(), train.getResult());
  saved[train.getResult()] = train.getSaved();
}

/// A batch norm whose gamma or beta is trained runs on the batch's
/// statistics in training; a frozen one keeps its running statistics, as
/// Keras runs a frozen layer with training=False.
bool StepBuilder::isTrained(BatchNormOp bn) {
  auto trained = [](Value v) {
    auto param = v.getDefiningOp<ParamOp>();
    return param && !param.getFrozen();
  };
  return trained(bn.getGamma()) || trained(bn.getBeta());
}

void StepBuilder::cloneBatchNormForTraining(BatchNormOp bn, IRMapping &mapping) {
  Type channels = bn.getGamma().getType();
  auto train = builder.create<BatchNormTrainOp>(
      bn.getLoc(), TypeRange{bn.getType(), channels, channels}, mapping.lookup(bn.getInput()),
      mapping.lookup(bn.getGamma()), mapping.lookup(bn.getBeta()), mapping.lookup(bn.getMean()),
      mapping.lookup(bn.getVariance()), bn.getEpsilonAttr(), bn.getMomentumAttr());
  mapping.map(bn.getResult(), train.getResult());
}

void StepBuilder::finish(Location loc, Value probs, Value labels) {
  loss = builder.create<CrossEntropyOp>(
      loc, RankedTensorType::get({}, builder.getF32Type()), probs, labels);
  correct = builder.create<CountCorrectOp>(
      loc, RankedTensorType::get({}, builder.getI32Type()), probs, labels);
}

LogicalResult StepBuilder::buildEval() {
  IRMapping mapping;
  Value labels, probs;
  cloneForward(prefix + "eval_step", /*training=*/false, mapping, labels, probs);
  Location loc = forward.getBody().front().getTerminator()->getLoc();
  finish(loc, probs, labels);
  builder.create<func::ReturnOp>(loc, ValueRange{loss, correct});
  return success();
}

void StepBuilder::accumulate(Value value, Value grad, Location loc) {
  auto [it, inserted] = grads.try_emplace(value, grad);
  if (!inserted)
    it->second = builder.create<AddOp>(loc, grad.getType(), it->second, grad);
}

LogicalResult StepBuilder::buildTrain(const Optimizer &optimizer) {
  IRMapping mapping;
  Value labels, probs;
  func::FuncOp func =
      cloneForward(prefix + "train_step", /*training=*/true, mapping, labels, probs);
  Location loc = forward.getBody().front().getTerminator()->getLoc();

  auto softmax = probs.getDefiningOp<SoftmaxOp>();
  if (!softmax) {
    // At the last layer's line where there is one: that is what to change.
    Operation *last = forward.getBody().front().getTerminator()->getOperand(0).getDefiningOp();
    return (last ? last->emitError() : forward.emitError())
           << "training with cross_entropy needs the network to end in a softmax "
              "(e.g. activation = softmax on the last layer)";
  }

  // Which values depend on a trainable parameter.
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front()) {
    ops.push_back(&op);
    if (auto param = dyn_cast<ParamOp>(op)) {
      if (!param.getFrozen())
        needsGrad.insert(param.getResult());
      continue;
    }
    if (llvm::any_of(op.getOperands(), [&](Value v) { return needsGrad.contains(v); }))
      for (Value r : op.getResults())
        needsGrad.insert(r);
  }

  findBiasesBeforeTrainedNorms(ops);
  finish(loc, probs, labels);
  if (needsGrad.contains(softmax.getInput()))
    grads[softmax.getInput()] =
        builder.create<SoftmaxCrossEntropyGradOp>(loc, probs.getType(), probs, labels);

  for (Operation *op : llvm::reverse(ops)) {
    if (auto param = dyn_cast<ParamOp>(op)) {
      Value grad = grads.lookup(param.getResult());
      if (!grad && zeroGradBiases.contains(param.getResult()))
        grad = builder.create<ZerosOp>(param.getLoc(), param.getType());
      if (!grad)
        continue; // frozen, or nothing trainable flows through it
      if (optimizer.name == "sgd")
        builder.create<SgdUpdateOp>(param.getLoc(), param.getResult(), grad,
                                    builder.getF64FloatAttr(optimizer.momentum),
                                    optimizer.nesterov ? builder.getUnitAttr() : nullptr);
      else
        builder.create<AdamUpdateOp>(param.getLoc(), param.getResult(), grad,
                                     builder.getF64FloatAttr(optimizer.beta1),
                                     builder.getF64FloatAttr(optimizer.beta2),
                                     builder.getF64FloatAttr(optimizer.epsilon));
      continue;
    }
    if (op == softmax.getOperation() || op->getNumResults() == 0)
      continue;
    Value dy = grads.lookup(op->getResult(0));
    if (!dy)
      continue;
    if (failed(differentiate(op, dy)))
      return failure();
  }
  builder.create<func::ReturnOp>(loc, ValueRange{loss, correct});
  return success();
}

/// A batch norm on the batch's statistics subtracts each channel's mean, so
/// a bias that only shifts channels by constants on every path into such
/// norms leaves the loss unchanged: its gradient is exactly zero. Computed,
/// it is a sum of rounding noise whose sign depends on the summation order,
/// which Adam scales up to steps of the learning rate's size; such biases
/// get a zero gradient instead. The shift passes unchanged in kind (a
/// constant per channel, or per feature over the batch) through the linear
/// maps that treat every position alike: an unpadded convolution, a dense
/// layer, a bias, an add, pooling (padding never counts, in a maximum or an
/// average), flattening and a frozen norm; an activation, dropout or a
/// padded convolution's border stop it.
void StepBuilder::findBiasesBeforeTrainedNorms(ArrayRef<Operation *> ops) {
  DenseMap<Value, bool> memo;
  std::function<bool(Value)> absorbed = [&](Value v) -> bool {
    if (auto it = memo.find(v); it != memo.end())
      return it->second;
    auto unpadded = [](ArrayRef<int64_t> pads) {
      return llvm::all_of(pads, [](int64_t p) { return p == 0; });
    };
    // The shift reaches an op through its data input (operand 0; either
    // side of an add), never through a weight.
    auto passesOn = [&](OpOperand &use) -> bool {
      Operation *user = use.getOwner();
      if (use.getOperandNumber() != 0 && !isa<AddOp>(user))
        return false;
      return llvm::TypeSwitch<Operation *, bool>(user)
          .Case([&](BatchNormTrainOp) { return true; })
          .Case([&](Conv2dOp conv) {
            return unpadded(conv.getPads()) && absorbed(conv.getResult());
          })
          .Case<FusedConv2dOp, FusedConv2dTrainOp>([&](auto conv) {
            return unpadded(conv.getPads()) && conv.getActivation() == Activation::None &&
                   absorbed(conv->getResult(0));
          })
          .Case([&](FusedDenseOp dense) {
            return dense.getActivation() == Activation::None && absorbed(dense.getResult());
          })
          .Case<DenseOp, BatchNormOp, BiasAddOp, AddOp, MaxPool2dOp, AvgPool2dOp,
                GlobalAvgPoolOp, FlattenOp>(
              [&](Operation *op) { return absorbed(op->getResult(0)); })
          .Default([](Operation *) { return false; });
    };
    bool result = !v.use_empty() && llvm::all_of(v.getUses(), passesOn);
    memo[v] = result;
    return result;
  };
  // Whether all an op adds after its linear part (pooling aside) is a
  // per-channel shift: a bias_add's bias, a trained norm's beta, or a fused
  // conv or dense bias with no activation after it.
  auto addsOnlyAShift = [](Operation *op) {
    return llvm::TypeSwitch<Operation *, bool>(op)
        .Case<BiasAddOp, BatchNormTrainOp>([](Operation *) { return true; })
        .Case<FusedConv2dOp, FusedConv2dTrainOp, FusedDenseOp>(
            [](auto fused) { return fused.getActivation() == Activation::None; })
        .Default([](Operation *) { return false; });
  };
  for (Operation *op : ops)
    if (addsOnlyAShift(op) && absorbed(op->getResult(0)))
      biasBeforeTrainedNorm.insert(op);
}

/// Emits the backward of `op` given the gradient `dy` of its result, and
/// accumulates into its operands that need one.
/// One fused backward op for a fused convolution, whatever it fused.
template <typename FusedOp>
void StepBuilder::differentiateFusedConv(FusedOp fused, Value dy) {
  Location loc = fused.getLoc();
  Value output = fused->getResult(0);
  Value kept = saved.lookup(output);
  auto weight = cast<RankedTensorType>(fused.getWeight().getType());
  auto outputType = cast<RankedTensorType>(output.getType());
  Type biasType = RankedTensorType::get({weight.getDimSize(0)}, weight.getElementType());
  SmallVector<int64_t, 4> convShape(outputType.getShape());
  auto in = cast<RankedTensorType>(fused.getInput().getType()).getShape();
  auto conv = shapesOfConv(in, weight.getShape(), fused.getStrides(), fused.getPads());
  Type dzType = RankedTensorType::get(conv, outputType.getElementType());
  auto grad = builder.create<FusedConv2dGradOp>(
      loc, TypeRange{fused.getInput().getType(), weight, biasType, dzType}, dy,
      fused.getInput(), fused.getWeight(), output, kept ? kept : output,
      fused.getStridesAttr(), fused.getPadsAttr(), fused.getActivationAttr(),
      fused.getPoolAttr(), fused.getPoolKernelAttr(), fused.getPoolStridesAttr(),
      fused.getPoolPadsAttr());
  accumulateFused(fused, fused.getInput(), fused.getWeight(), fused.getBias(),
                  grad.getInputGrad(), grad.getWeightGrad(), grad.getBiasGrad(), loc);
}

void StepBuilder::accumulateBias(Operation *op, Value bias, Location loc,
                                 function_ref<Value()> makeGrad) {
  if (biasBeforeTrainedNorm.contains(op))
    zeroGradBiases.insert(bias);
  else
    accumulate(bias, makeGrad(), loc);
}

void StepBuilder::accumulateFused(Operation *op, Value input, Value weight, Value bias,
                                  Value inputGrad, Value weightGrad, Value biasGrad,
                                  Location loc) {
  if (needsGrad.contains(input))
    accumulate(input, inputGrad, loc);
  if (needsGrad.contains(weight))
    accumulate(weight, weightGrad, loc);
  if (bias && needsGrad.contains(bias))
    accumulateBias(op, bias, loc, [&] { return biasGrad; });
}

// One TypeSwitch case per op, read as a table of each op's backward: kept whole so that
// the mapping from op to gradient ops sits in one place.
LogicalResult StepBuilder::differentiate(Operation *op, Value dy) {
  Location loc = op->getLoc();
  auto needs = [&](Value v) { return needsGrad.contains(v); };
  auto typeOf = [](Value v) { return v.getType(); };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](Conv2dOp conv) {
        if (needs(conv.getInput()))
          accumulate(conv.getInput(),
                     builder.create<Conv2dGradInputOp>(
                         loc, typeOf(conv.getInput()), dy, conv.getWeight(),
                         conv.getStridesAttr(), conv.getPadsAttr()),
                     loc);
        if (needs(conv.getWeight()))
          accumulate(conv.getWeight(),
                     builder.create<Conv2dGradWeightOp>(
                         loc, typeOf(conv.getWeight()), dy, conv.getInput(),
                         conv.getStridesAttr(), conv.getPadsAttr()),
                     loc);
        return success();
      })
      .Case([&](DenseOp dense) {
        if (needs(dense.getInput()))
          accumulate(dense.getInput(),
                     builder.create<DenseGradInputOp>(loc, typeOf(dense.getInput()), dy,
                                                      dense.getWeight()),
                     loc);
        if (needs(dense.getWeight()))
          accumulate(dense.getWeight(),
                     builder.create<DenseGradWeightOp>(loc, typeOf(dense.getWeight()),
                                                       dy, dense.getInput()),
                     loc);
        return success();
      })
      .Case<FusedConv2dOp, FusedConv2dTrainOp>([&](auto fused) {
        differentiateFusedConv(fused, dy);
        return success();
      })
      .Case([&](FusedDenseOp fused) {
        auto weight = cast<RankedTensorType>(fused.getWeight().getType());
        Type biasType = RankedTensorType::get({weight.getDimSize(0)}, weight.getElementType());
        auto grad = builder.create<FusedDenseGradOp>(
            loc,
            TypeRange{typeOf(fused.getInput()), weight, biasType, typeOf(fused.getResult())},
            dy, fused.getInput(), fused.getWeight(), fused.getResult(),
            fused.getActivationAttr());
        accumulateFused(fused, fused.getInput(), fused.getWeight(), fused.getBias(),
                        grad.getInputGrad(), grad.getWeightGrad(), grad.getBiasGrad(), loc);
        return success();
      })
      .Case([&](BiasAddOp bias) {
        if (needs(bias.getInput()))
          accumulate(bias.getInput(), dy, loc);
        if (needs(bias.getBias()))
          accumulateBias(bias, bias.getBias(), loc, [&]() -> Value {
            return builder.create<BiasGradOp>(loc, typeOf(bias.getBias()), dy);
          });
        return success();
      })
      .Case([&](ReluOp relu) {
        accumulate(relu.getInput(),
                   builder.create<ReluGradOp>(loc, typeOf(dy), dy, relu.getResult()), loc);
        return success();
      })
      .Case([&](SigmoidOp sigmoid) {
        accumulate(sigmoid.getInput(),
                   builder.create<SigmoidGradOp>(loc, typeOf(dy), dy, sigmoid.getResult()),
                   loc);
        return success();
      })
      .Case([&](TanhOp tanh) {
        accumulate(tanh.getInput(),
                   builder.create<TanhGradOp>(loc, typeOf(dy), dy, tanh.getResult()), loc);
        return success();
      })
      .Case([&](SoftmaxOp softmax) {
        accumulate(softmax.getInput(),
                   builder.create<SoftmaxGradOp>(loc, typeOf(dy), dy, softmax.getResult()),
                   loc);
        return success();
      })
      .Case([&](MaxPool2dOp pool) {
        accumulate(pool.getInput(),
                   builder.create<MaxPool2dGradOp>(loc, typeOf(pool.getInput()), dy,
                                                   pool.getInput(), pool.getKernelAttr(),
                                                   pool.getStridesAttr(), pool.getPadsAttr()),
                   loc);
        return success();
      })
      .Case([&](AvgPool2dOp pool) {
        accumulate(pool.getInput(),
                   builder.create<AvgPool2dGradOp>(loc, typeOf(pool.getInput()), dy,
                                                   pool.getKernelAttr(),
                                                   pool.getStridesAttr(), pool.getPadsAttr()),
                   loc);
        return success();
      })
      .Case([&](GlobalAvgPoolOp pool) {
        accumulate(pool.getInput(),
                   builder.create<GlobalAvgPoolGradOp>(loc, typeOf(pool.getInput()), dy),
                   loc);
        return success();
      })
      .Case([&](FlattenOp flatten) {
        accumulate(flatten.getInput(),
                   builder.create<ReshapeOp>(loc, typeOf(flatten.getInput()), dy), loc);
        return success();
      })
      .Case([&](MulOp mul) {
        // Dropout: the mask needs no gradient, the input gets dy * mask.
        for (auto [value, other] : {std::pair{mul.getLhs(), mul.getRhs()},
                                    std::pair{mul.getRhs(), mul.getLhs()}})
          if (needs(value))
            accumulate(value, builder.create<MulOp>(loc, dy, other), loc);
        return success();
      })
      .Case([&](AddOp add) {
        if (needs(add.getLhs()))
          accumulate(add.getLhs(), dy, loc);
        if (needs(add.getRhs()))
          accumulate(add.getRhs(), dy, loc);
        return success();
      })
      .Case([&](BatchNormTrainOp bn) {
        auto grad = builder.create<BatchNormTrainGradOp>(
            loc, TypeRange{typeOf(bn.getInput()), typeOf(bn.getGamma()), typeOf(bn.getBeta())},
            dy, bn.getInput(), bn.getGamma(), bn.getBatchMean(), bn.getBatchInvStd());
        accumulateFused(bn, bn.getInput(), bn.getGamma(), bn.getBeta(), grad.getInputGrad(),
                        grad.getGammaGrad(), grad.getBetaGrad(), loc);
        return success();
      })
      .Case([&](BatchNormOp bn) -> LogicalResult {
        // Frozen: its statistics and affine map are constants.
        if (needs(bn.getInput()))
          accumulate(bn.getInput(),
                     builder.create<BatchNormInferenceGradOp>(
                         loc, typeOf(bn.getInput()), dy, bn.getGamma(), bn.getVariance(),
                         bn.getEpsilonAttr()),
                     loc);
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitError("net-autodiff has no gradient for ") << other->getName();
      });
}

struct AutodiffPass : mlir::net::impl::NetAutodiffBase<AutodiffPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward || forward.getNumArguments() != 1 || forward.getNumResults() != 1) {
      module.emitError("net-autodiff expects @forward with one input and one output");
      return signalPassFailure();
    }
    if (module.lookupSymbol("train_step") || module.lookupSymbol("eval_step")) {
      module.emitError("net-autodiff: the module already has a training step");
      return signalPassFailure();
    }
    Optimizer optimizer = readOptimizer(module);
    StepBuilder steps(module, forward);
    if (failed(steps.buildEval()))
      return signalPassFailure();
    StepBuilder train(module, forward);
    if (failed(train.buildTrain(optimizer)))
      return signalPassFailure();
    // The head of a split frozen base (net-split-frozen-base), trained on
    // features computed once.
    if (auto head = module.lookupSymbol<func::FuncOp>("head_forward")) {
      StepBuilder headEval(module, head, "head_");
      StepBuilder headTrain(module, head, "head_");
      if (failed(headEval.buildEval()) || failed(headTrain.buildTrain(optimizer)))
        return signalPassFailure();
    }
  }
};

} // namespace
