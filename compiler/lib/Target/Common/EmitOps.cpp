//===- EmitOps.cpp - one kernel call per op, for both targets -------------===//
//
// StepEmitter::emitOp: the op-to-kernel mapping the C++ and the CUDA
// emitters share (the CUDA kernels keep the CPU kernels' names and template
// arguments), with the kernels' activation and pooling codes. A view
// (net-plan-memory's `net.view`) is a name for its input's storage, no call.
//
//===----------------------------------------------------------------------===//

#include "StepEmitter.h"

#include "net/Analysis/LayerTable.h"
#include "net/Dialect/NetOps.h"
#include "net/Dialect/Shapes.h"
#include "net/Kernels/Codes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::net;
using namespace mlir::net::target;

/// `0.0f`, not `0f`, which neither the C++ compiler nor nvcc accepts.
std::string mlir::net::target::floatLiteral(const llvm::APFloat &attribute) {
  float f = static_cast<float>(attribute.convertToDouble());
  assert(std::isfinite(f) && "the verifiers keep float attributes finite as float32s (Ranges.h)");
  // The shortest spelling that reads back as the same float: `0.9f`, not
  // `0.899999976f`.
  std::string s;
  for (int digits = 1; digits <= 9; ++digits) {
    s.clear();
    llvm::raw_string_ostream os(s);
    os << llvm::format("%.*g", digits, static_cast<double>(f));
    if (std::strtof(s.c_str(), nullptr) == f)
      break;
  }
  if (StringRef(s).find_first_of(".eE") == StringRef::npos)
    s += ".0";
  return s + "f";
}

namespace {

// The dialect's kinds are the kernels' codes (NetEnums.td, Codes.h).
static_assert(static_cast<int>(Activation::None) == netc::kActNone &&
              static_cast<int>(Activation::Relu) == netc::kActRelu &&
              static_cast<int>(Activation::Sigmoid) == netc::kActSigmoid &&
              static_cast<int>(Activation::Tanh) == netc::kActTanh);
static_assert(static_cast<int>(Pool::None) == netc::kPoolNone &&
              static_cast<int>(Pool::Max) == netc::kPoolMax &&
              static_cast<int>(Pool::Avg) == netc::kPoolAvg);

int64_t code(Activation activation) { return static_cast<int64_t>(activation); }
int64_t code(Pool pool) { return static_cast<int64_t>(pool); }

/// `<K, M, ACT, BIAS>` of fused_dense and fused_dense_grad.
std::string denseArgs(int64_t k, int64_t m, Activation activation, bool bias) {
  return "<" + std::to_string(k) + ", " + std::to_string(m) + ", " +
         std::to_string(code(activation)) + (bias ? ", true>" : ", false>");
}

/// The template arguments of fused_conv2d and fused_conv2d_grad: the conv's
/// twelve, the activation and pooling codes, the pooling window's eight
/// (zeros and the conv's extent when there is no pooling), and BIAS.
template <typename FusedOp> std::string fusedConvArgs(FusedOp op, bool bias) {
  auto x = shapeOf(op.getInput());
  auto w = shapeOf(op.getWeight());
  auto conv = shapes::conv2d(x, w, op.getStrides(), op.getPads()).shape;
  ArrayRef<int64_t> s = op.getStrides(), p = op.getPads();
  SmallVector<int64_t> args = {x[1], x[2], x[3], w[0], w[2], w[3], s[0], s[1], p[0], p[1],
                               conv[2], conv[3], code(op.getActivation()),
                               code(op.getPool())};
  if (op.getPool() == Pool::None) {
    args.append({0, 0, 0, 0, 0, 0, conv[2], conv[3]});
  } else {
    auto pooled = shapes::pool2d(conv, op.getPoolKernel(), op.getPoolStrides(),
                                 op.getPoolPads()).shape;
    ArrayRef<int64_t> k = op.getPoolKernel(), ps = op.getPoolStrides(), pp = op.getPoolPads();
    args.append({k[0], k[1], ps[0], ps[1], pp[0], pp[1], pooled[2], pooled[3]});
  }
  args.push_back(bias ? 1 : 0);
  std::string text = targs(args);
  // BIAS is a bool template parameter.
  size_t last = text.rfind(", ");
  return text.substr(0, last + 2) + (bias ? "true>" : "false>");
}

} // namespace

std::optional<int64_t> StepEmitter::fixedOffset(Value v) {
  auto result = dyn_cast<OpResult>(v);
  if (!result)
    return std::nullopt;
  auto slots = result.getOwner()->getAttrOfType<DenseI64ArrayAttr>("net.slot");
  // The slots are those of the results of rank > 0, in result order.
  int64_t k = 0;
  for (unsigned r = 0; r < result.getResultNumber(); ++r)
    k += cast<RankedTensorType>(result.getOwner()->getResult(r).getType()).getRank() > 0;
  if (!slots || slots.size() < 3 * (k + 1) || slots[3 * k] != 1)
    return std::nullopt;
  return slots[3 * k + 1];
}

LogicalResult StepEmitter::emitCachedFold(FoldBatchNormOp fold) {
  auto w = shapeOf(fold.getWeight());
  const int64_t filters = w[0], perFilter = w[1] * w[2] * w[3];
  std::string args = ref(fold.getWeight()) + ", " +
                     (fold.getBias() ? ref(fold.getBias()) : "nullptr") + ", " +
                     ref(fold.getGamma()) + ", " + ref(fold.getBeta()) + ", " +
                     ref(fold.getMean()) + ", " + ref(fold.getVariance()) + ", " +
                     floatLiteral(fold.getEpsilon());
  auto [place, inserted] = foldPlaces.try_emplace(args, foldedFloats, 0);
  if (inserted) {
    foldedFloats += alignUp(filters * perFilter);
    place->second.second = foldedFloats;
    foldedFloats += alignUp(filters);
  }
  std::string weight = "v" + std::to_string(counter++), bias = "v" + std::to_string(counter++);
  names[fold.getFoldedWeight()] = weight;
  names[fold.getFoldedBias()] = bias;
  os << "  float *const " << weight << " = I->folded + " << place->second.first << ";\n"
     << "  float *const " << bias << " = I->folded + " << place->second.second << ";\n"
     << "  if (!(I->folds_valid & " << foldBit << "u))\n"
     << "    k::fold_batch_norm" << targs({filters, perFilter}) << "(" << args << ", " << weight
     << ", " << bias << ");\n";
  functionFolds = true;
  return success();
}

// One TypeSwitch case per op, read as the op-to-kernel table: kept whole so that the
// mapping sits in one place.
LogicalResult StepEmitter::emitOp(Operation *op) {
  // Name and place the result.
  if (auto param = dyn_cast<ParamOp>(op)) {
    names[param.getResult()] = "(P + " + std::to_string(paramOffset(param.getName())) + ")";
    return success();
  }
  if (op->hasAttr("net.view")) {
    names[op->getResult(0)] = ref(op->getOperand(0));
    return success();
  }
  if (auto fold = dyn_cast<FoldBatchNormOp>(op);
      fold && foldBit && cachesFoldedWeights() &&
      llvm::all_of(op->getOperands(), [](Value v) { return v.getDefiningOp<ParamOp>(); }))
    return emitCachedFold(fold);
  // Name each result and point it at its slot: (section, offset, size)
  // triples in result order.
  auto slots = op->getAttrOfType<DenseI64ArrayAttr>("net.slot");
  size_t slot = 0;
  for (Value r : op->getResults()) {
    std::string name = "v" + std::to_string(counter++);
    names[r] = name;
    if (cast<RankedTensorType>(r.getType()).getRank() == 0)
      continue; // scalars (loss, correct count) are locals
    if (!slots || slots.size() < int64_t(3 * (slot + 1)))
      return op->emitError("the ") << targetName()
                                   << " emitter found no planned slot for this result "
                                      "(run net-plan-memory)";
    int64_t section = slots[3 * slot], offset = slots[3 * slot + 1];
    ++slot;
    os << "  float *const " << name << " = "
       << (section == 0 ? "A + " + std::to_string(offset) + " * B"
                        : "F + " + std::to_string(offset))
       << ";\n";
  }
  std::string result = op->getNumResults() ? names[op->getResult(0)] : "";
  /// A result's pointer, or nullptr when nothing reads it (not computed).
  auto optionalResult = [&](Value v) { return v.use_empty() ? std::string("nullptr") : ref(v); };

  auto convArgs = [&](ArrayRef<int64_t> x, ArrayRef<int64_t> w, ArrayRef<int64_t> y,
                      ArrayRef<int64_t> strides, ArrayRef<int64_t> pads) {
    return targs({x[1], x[2], x[3], w[0], w[2], w[3], strides[0], strides[1], pads[0],
                  pads[1], y[2], y[3]});
  };
  auto poolArgs = [&](ArrayRef<int64_t> x, ArrayRef<int64_t> y, ArrayRef<int64_t> kernel,
                      ArrayRef<int64_t> strides, ArrayRef<int64_t> pads) {
    return targs({x[1], x[2], x[3], kernel[0], kernel[1], strides[0], strides[1], pads[0],
                  pads[1], y[2], y[3]});
  };
  /// Channels and pixels per channel of an NCHW or (N, C) tensor.
  auto channelArgs = [&](Value v) {
    auto s = shapeOf(v);
    return targs({s[1], s.size() > 2 ? product(s.drop_front(2)) : 1});
  };
  auto call = [&](StringRef kernel, const std::string &templateArgs,
                  std::initializer_list<std::string> args) {
    os << "  k::" << kernel << templateArgs << "(";
    bool first = true;
    for (const std::string &a : args) {
      os << (first ? "" : ", ") << a;
      first = false;
    }
    os << ");\n";
  };
  auto elementwise = [&](StringRef kernel, std::initializer_list<Value> inputs) {
    os << "  k::" << kernel << targs({perSample(op->getResult(0))}) << "(n";
    for (Value v : inputs)
      os << ", " << ref(v);
    os << ", " << result << ");\n";
    return success();
  };

  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](Conv2dOp o) {
        call("conv2d", convArgs(shapeOf(o.getInput()), shapeOf(o.getWeight()), shapeOf(o),
                                o.getStrides(), o.getPads()),
             {"n", ref(o.getInput()), ref(o.getWeight()), result});
        return success();
      })
      .Case([&](Conv2dGradInputOp o) {
        call("conv2d_grad_input",
             convArgs(shapeOf(o), shapeOf(o.getWeight()), shapeOf(o.getGrad()),
                      o.getStrides(), o.getPads()),
             {"n", ref(o.getGrad()), ref(o.getWeight()), result});
        return success();
      })
      .Case([&](Conv2dGradWeightOp o) {
        call("conv2d_grad_weight",
             convArgs(shapeOf(o.getInput()), shapeOf(o), shapeOf(o.getGrad()),
                      o.getStrides(), o.getPads()),
             {"n", ref(o.getGrad()), ref(o.getInput()), result});
        return success();
      })
      .Case([&](FusedConv2dOp o) {
        call("fused_conv2d", fusedConvArgs(o, o.getBias() != nullptr),
             {"n", ref(o.getInput()), ref(o.getWeight()),
              o.getBias() ? ref(o.getBias()) : "nullptr", result, "nullptr"});
        return success();
      })
      .Case([&](FusedConv2dTrainOp o) {
        call("fused_conv2d", fusedConvArgs(o, o.getBias() != nullptr),
             {"n", ref(o.getInput()), ref(o.getWeight()),
              o.getBias() ? ref(o.getBias()) : "nullptr", result, ref(o.getSaved())});
        return success();
      })
      .Case([&](FusedConv2dGradOp o) {
        call("fused_conv2d_grad", fusedConvArgs(o, !o.getBiasGrad().use_empty()),
             {"n", ref(o.getGrad()), ref(o.getInput()), ref(o.getWeight()), ref(o.getOutput()),
              ref(o.getSaved()), ref(o.getPreActivationGrad()), optionalResult(o.getInputGrad()),
              ref(o.getWeightGrad()), optionalResult(o.getBiasGrad())});
        return success();
      })
      .Case([&](FusedDenseOp o) {
        call("fused_dense",
             denseArgs(shapeOf(o.getInput())[1], shapeOf(o)[1], o.getActivation(),
                       o.getBias() != nullptr),
             {"n", ref(o.getInput()), ref(o.getWeight()),
              o.getBias() ? ref(o.getBias()) : "nullptr", result});
        return success();
      })
      .Case([&](FusedDenseGradOp o) {
        call("fused_dense_grad",
             denseArgs(shapeOf(o.getInput())[1], shapeOf(o.getGrad())[1], o.getActivation(),
                       !o.getBiasGrad().use_empty()),
             {"n", ref(o.getGrad()), ref(o.getInput()), ref(o.getWeight()), ref(o.getOutput()),
              ref(o.getPreActivationGrad()), optionalResult(o.getInputGrad()),
              ref(o.getWeightGrad()), optionalResult(o.getBiasGrad())});
        return success();
      })
      .Case([&](FoldBatchNormOp o) {
        auto w = shapeOf(o.getWeight());
        call("fold_batch_norm", targs({w[0], w[1] * w[2] * w[3]}),
             {ref(o.getWeight()), o.getBias() ? ref(o.getBias()) : "nullptr",
              ref(o.getGamma()), ref(o.getBeta()), ref(o.getMean()), ref(o.getVariance()),
              floatLiteral(o.getEpsilon()), ref(o.getFoldedWeight()),
              ref(o.getFoldedBias())});
        return success();
      })
      .Case([&](DenseOp o) {
        call("dense", targs({shapeOf(o.getInput())[1], shapeOf(o)[1]}),
             {"n", ref(o.getInput()), ref(o.getWeight()), result});
        return success();
      })
      .Case([&](DenseGradInputOp o) {
        call("dense_grad_input", targs({shapeOf(o)[1], shapeOf(o.getGrad())[1]}),
             {"n", ref(o.getGrad()), ref(o.getWeight()), result});
        return success();
      })
      .Case([&](DenseGradWeightOp o) {
        call("dense_grad_weight", targs({shapeOf(o.getInput())[1], shapeOf(o.getGrad())[1]}),
             {"n", ref(o.getGrad()), ref(o.getInput()), result});
        return success();
      })
      .Case([&](BiasAddOp o) {
        call("bias_add", channelArgs(o.getInput()),
             {"n", ref(o.getInput()), ref(o.getBias()), result});
        return success();
      })
      .Case([&](BiasGradOp o) {
        call("bias_grad", channelArgs(o.getGrad()), {"n", ref(o.getGrad()), result});
        return success();
      })
      .Case([&](ReluOp o) { return elementwise("relu", {o.getInput()}); })
      .Case([&](SigmoidOp o) { return elementwise("sigmoid", {o.getInput()}); })
      .Case([&](TanhOp o) { return elementwise("tanh", {o.getInput()}); })
      .Case([&](ReluGradOp o) { return elementwise("relu_grad", {o.getGrad(), o.getOutput()}); })
      .Case([&](SigmoidGradOp o) {
        return elementwise("sigmoid_grad", {o.getGrad(), o.getOutput()});
      })
      .Case([&](TanhGradOp o) { return elementwise("tanh_grad", {o.getGrad(), o.getOutput()}); })
      .Case([&](SoftmaxOp o) {
        call("softmax", targs({shapeOf(o)[1]}), {"n", ref(o.getInput()), result});
        return success();
      })
      .Case([&](SoftmaxGradOp o) {
        call("softmax_grad", targs({shapeOf(o)[1]}),
             {"n", ref(o.getGrad()), ref(o.getOutput()), result});
        return success();
      })
      .Case([&](MaxPool2dOp o) {
        call("max_pool2d",
             poolArgs(shapeOf(o.getInput()), shapeOf(o), o.getKernel(), o.getStrides(),
                      o.getPads()),
             {"n", ref(o.getInput()), result});
        return success();
      })
      .Case([&](MaxPool2dGradOp o) {
        call("max_pool2d_grad",
             poolArgs(shapeOf(o.getInput()), shapeOf(o.getGrad()), o.getKernel(),
                      o.getStrides(), o.getPads()),
             {"n", ref(o.getGrad()), ref(o.getInput()), result});
        return success();
      })
      .Case([&](AvgPool2dOp o) {
        call("avg_pool2d",
             poolArgs(shapeOf(o.getInput()), shapeOf(o), o.getKernel(), o.getStrides(),
                      o.getPads()),
             {"n", ref(o.getInput()), result});
        return success();
      })
      .Case([&](AvgPool2dGradOp o) {
        call("avg_pool2d_grad",
             poolArgs(shapeOf(o), shapeOf(o.getGrad()), o.getKernel(), o.getStrides(),
                      o.getPads()),
             {"n", ref(o.getGrad()), result});
        return success();
      })
      .Case([&](GlobalAvgPoolOp o) {
        call("global_avg_pool", channelArgs(o.getInput()), {"n", ref(o.getInput()), result});
        return success();
      })
      .Case([&](GlobalAvgPoolGradOp o) {
        call("global_avg_pool_grad", channelArgs(o), {"n", ref(o.getGrad()), result});
        return success();
      })
      .Case([&](FlattenOp o) { return elementwise("copy", {o.getInput()}); })
      .Case([&](ReshapeOp o) { return elementwise("copy", {o.getInput()}); })
      .Case([&](DropoutOp o) { return elementwise("copy", {o.getInput()}); }) // inference
      .Case([&](DropoutMaskOp o) {
        os << "  k::dropout_mask" << targs({perSample(o)}) << "(n, "
           << floatLiteral(o.getRate()) << ", " << dropoutSeed() << ", " << o.getStream()
           << ", " << result << ");\n";
        return success();
      })
      .Case([&](MulOp o) { return elementwise("mul", {o.getLhs(), o.getRhs()}); })
      .Case([&](ZerosOp o) {
        call("zeros", targs({product(shapeOf(o))}), {result});
        return success();
      })
      .Case([&](AddOp o) { return elementwise("add", {o.getLhs(), o.getRhs()}); })
      .Case([&](BatchNormOp o) {
        // The running statistics: @forward and frozen layers in training.
        call("batch_norm_inference", channelArgs(o.getInput()),
             {"n", ref(o.getInput()), ref(o.getGamma()), ref(o.getBeta()), ref(o.getMean()),
              ref(o.getVariance()), floatLiteral(o.getEpsilon()), result});
        return success();
      })
      .Case([&](BatchNormTrainOp o) {
        call("batch_norm_train", channelArgs(o.getInput()),
             {"n", ref(o.getInput()), ref(o.getGamma()), ref(o.getBeta()), ref(o.getMean()),
              ref(o.getVariance()), floatLiteral(o.getEpsilon()),
              floatLiteral(o.getMomentum()), result, ref(o.getBatchMean()),
              ref(o.getBatchInvStd())});
        return success();
      })
      .Case([&](BatchNormTrainGradOp o) {
        call("batch_norm_train_grad", channelArgs(o.getGrad()),
             {"n", ref(o.getGrad()), ref(o.getInput()), ref(o.getGamma()), ref(o.getBatchMean()),
              ref(o.getBatchInvStd()), optionalResult(o.getInputGrad()), ref(o.getGammaGrad()),
              ref(o.getBetaGrad())});
        return success();
      })
      .Case([&](BatchNormInferenceGradOp o) {
        call("batch_norm_inference_grad", channelArgs(o.getGrad()),
             {"n", ref(o.getGrad()), ref(o.getGamma()), ref(o.getVariance()),
              floatLiteral(o.getEpsilon()), result});
        return success();
      })
      .Case([&](CrossEntropyOp o) {
        emitReduction("cross_entropy", o.getProbs(), o.getLabels(), o, "float");
        return success();
      })
      .Case([&](CountCorrectOp o) {
        emitReduction("count_correct", o.getProbs(), o.getLabels(), o, "int32_t");
        return success();
      })
      .Case([&](SoftmaxCrossEntropyGradOp o) {
        call("softmax_cross_entropy_grad", targs({shapeOf(o)[1]}),
             {"n", ref(o.getProbs()), ref(o.getLabels()), result});
        return success();
      })
      .Case<SgdUpdateOp, AdamUpdateOp>([&](Operation *update) { return emitUpdate(update); })
      .Case([&](UpdateGroupOp group) { return emitUpdateGroup(group); })
      .Case([&](ExchangeStartOp o) {
        StringRef name = o.getParam().getDefiningOp<ParamOp>().getName();
        emitExchangeStart(int64_t(paramIndex.lookup(name)), ref(o.getValues()),
                          product(shapeOf(o.getValues())));
        return success();
      })
      .Case([&](ExchangeWaitOp) {
        emitExchangeWait();
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitError("the ")
               << targetName() << " emitter cannot translate " << other->getName();
      });
}

LogicalResult StepEmitter::emitUpdate(Operation *update) {
  if (auto o = dyn_cast<SgdUpdateOp>(update)) {
    StringRef name = o.getParam().getDefiningOp<ParamOp>().getName();
    os << "  k::sgd_update(" << product(shapeOf(o.getParam())) << ", " << ref(o.getParam())
       << ", " << ref(o.getGrad()) << ", S + " << stateOffset(name, "velocity") << ", "
       << learningRate() << ", " << floatLiteral(o.getMomentum()) << ", "
       << (o.getNesterov() ? "true" : "false") << ");\n";
    return success();
  }
  auto o = cast<AdamUpdateOp>(update);
  StringRef name = o.getParam().getDefiningOp<ParamOp>().getName();
  os << "  k::adam_update(" << product(shapeOf(o.getParam())) << ", " << ref(o.getParam())
     << ", " << ref(o.getGrad()) << ", S + " << stateOffset(name, "adam_m") << ", S + "
     << stateOffset(name, "adam_v") << ", " << learningRate() << ", "
     << floatLiteral(o.getBeta1()) << ", " << floatLiteral(o.getBeta2()) << ", "
     << floatLiteral(o.getEpsilon()) << adamStepArgument() << ");\n";
  return success();
}
