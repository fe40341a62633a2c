//===- EmitCpp.cpp - net dialect to shape-specialised C++ -----------------===//
//
// Over 1,200 lines, not split yet on purpose: about 330 of them are the
// compiled model's fixed runtime held as strings, which issue 15 moves into
// runtime headers (net/Runtime/ModelImpl.h) along with one op-to-kernel
// mapping shared with the CUDA emitter (Target/Common). The file is split
// along those seams then; splitting it now would cut it twice.
//
//===----------------------------------------------------------------------===//

#include "net/Target/Cpp/EmitCpp.h"
#include "CppEmitter.h"

#include "net/Analysis/LayerTable.h"
#include "net/Dialect/NetOps.h"
#include "net/Dialect/Shapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
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
using namespace mlir::net::cpp;

namespace {

/// A C string literal (names come from the .net file: quote what needs it).
std::string quote(StringRef text) {
  std::string s = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      s += '\\';
    s += c;
  }
  return s + "\"";
}

/// A number that reads back as the double `v` (17 significant digits); an
/// integral value prints as an integer (`0`), so never put a suffix after it:
/// floatLiteral is for floats.
std::string number(double v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.17g", v);
  return s;
}

/// A float attribute (a double in the IR) as the float literal the kernels
/// take: `0.0f`, not `0f`, which neither the C++ compiler nor nvcc accepts.
std::string floatLiteral(const llvm::APFloat &attribute) {
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

/// The kernels' codes: activation none 0, relu 1, sigmoid 2, tanh 3.
int64_t activationCode(StringRef activation) {
  return llvm::StringSwitch<int64_t>(activation)
      .Case("relu", 1)
      .Case("sigmoid", 2)
      .Case("tanh", 3)
      .Default(0);
}

/// `<K, M, ACT, BIAS>` of fused_dense and fused_dense_grad.
std::string denseArgs(int64_t k, int64_t m, StringRef activation, bool bias) {
  return "<" + std::to_string(k) + ", " + std::to_string(m) + ", " +
         std::to_string(activationCode(activation)) + (bias ? ", true>" : ", false>");
}

/// Pooling none 0, max 1, average 2.
int64_t poolCode(StringRef pool) {
  return llvm::StringSwitch<int64_t>(pool).Case("max", 1).Case("avg", 2).Default(0);
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
                               conv[2], conv[3], activationCode(op.getActivation()),
                               poolCode(op.getPool())};
  if (op.getPool() == "none") {
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

LogicalResult CppEmitter::collect() {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError("the C++ emitter needs @forward");
  auto arena = module->getAttrOfType<DenseI64ArrayAttr>("net.arena");
  if (!arena || arena.size() != 2)
    return module.emitError("the C++ emitter needs a planned module (run net-plan-memory)");
  arenaPerSample = arena[0];
  arenaFixed = arena[1];
  auto input = shapeOf(forward.getArgument(0));
  inputShape.assign(input.begin() + 1, input.end());
  auto output = cast<RankedTensorType>(forward.getResultTypes()[0]).getShape();
  if (output.size() != 2)
    return forward.emitError("the C++ emitter expects a (batch, classes) output");
  classes = output[1];

  auto addParam = [&](ParamOp param) {
    if (paramIndex.count(param.getName()))
      return;
    TensorEntry e;
    e.name = param.getName().str();
    auto shape = shapeOf(param.getResult());
    e.shape.assign(shape.begin(), shape.end());
    e.size = product(shape);
    e.offset = paramFloats;
    e.init = param.getInit().str();
    e.trainable = !param.getFrozen();
    // Keras' fans: conv [F, C, KH, KW] and dense [out, in].
    if (shape.size() == 4) {
      e.fanIn = shape[1] * shape[2] * shape[3];
      e.fanOut = shape[0] * shape[2] * shape[3];
    } else if (shape.size() == 2) {
      e.fanIn = shape[1];
      e.fanOut = shape[0];
    } else {
      e.fanIn = e.fanOut = e.size;
    }
    paramFloats += alignUp(e.size);
    paramIndex[e.name] = params.size();
    params.push_back(std::move(e));
  };
  module.walk([&](ParamOp param) { addParam(param); });

  auto addSlot = [&](Value param, StringRef slot) {
    auto p = param.getDefiningOp<ParamOp>();
    TensorEntry e;
    e.name = (p.getName() + "/" + slot).str();
    auto shape = shapeOf(param);
    e.shape.assign(shape.begin(), shape.end());
    e.size = product(shape);
    e.offset = stateFloats;
    stateFloats += alignUp(e.size);
    stateIndex[e.name] = state.size();
    state.push_back(std::move(e));
  };
  if (auto base = module.lookupSymbol<func::FuncOp>("base_forward");
      base && module.lookupSymbol("head_train_step")) {
    hasBase = true;
    auto features = cast<RankedTensorType>(base.getResultTypes()[0]).getShape();
    featureShape.assign(features.begin() + 1, features.end());
    if (featureShape.size() > 3)
      return base.emitError("the C++ emitter expects features of at most 3 dimensions");
    if (auto name = module->getAttrOfType<StringAttr>("net.features"))
      featureLayer = name.str();
  }
  if (auto train = module.lookupSymbol<func::FuncOp>("train_step")) {
    hasTrain = true;
    train.walk([&](Operation *op) {
      if (auto sgd = dyn_cast<SgdUpdateOp>(op))
        addSlot(sgd.getParam(), "velocity");
      else if (auto adam = dyn_cast<AdamUpdateOp>(op)) {
        addSlot(adam.getParam(), "adam_m");
        addSlot(adam.getParam(), "adam_v");
      }
    });
  }
  return success();
}

void CppEmitter::emitTables() {
  auto tensorRow = [&](const TensorEntry &e) {
    os << "    {" << quote(e.name) << ", " << e.shape.size() << ", {";
    for (size_t i = 0; i < 4; ++i)
      os << (i ? ", " : "") << (i < e.shape.size() ? e.shape[i] : 0);
    os << "}, " << e.size << ", " << quote(e.init) << ", " << e.fanIn << ", " << e.fanOut
       << ", " << (e.trainable ? 1 : 0) << "},\n";
  };
  os << "const netc_tensor_info kParams[] = {\n";
  for (const TensorEntry &e : params)
    tensorRow(e);
  if (params.empty())
    os << "    {\"\", 0, {0, 0, 0, 0}, 0, \"zeros\", 0, 0, 0},\n";
  os << "};\nconst int64_t kParamOffsets[] = {";
  for (const TensorEntry &e : params)
    os << e.offset << ", ";
  os << "0};\n\n";

  os << "const netc_tensor_info kState[] = {\n";
  for (const TensorEntry &e : state)
    tensorRow(e);
  if (state.empty())
    os << "    {\"\", 0, {0, 0, 0, 0}, 0, \"zeros\", 0, 0, 0},\n";
  os << "};\nconst int64_t kStateOffsets[] = {";
  for (const TensorEntry &e : state)
    os << e.offset << ", ";
  os << "0};\n\n";

  os << "const netc_layer_info kLayers[] = {\n";
  for (const LayerRow &row : table.rows) {
    os << "    {" << quote(row.name) << ", " << quote(row.kind) << ", "
       << quote(row.activation) << ", " << row.outputShape.size() << ", {";
    for (size_t i = 0; i < 4; ++i) {
      int64_t d = i < row.outputShape.size() ? row.outputShape[i] : 0;
      os << (i ? ", " : "") << (ShapedType::isDynamic(d) ? -1 : d);
    }
    os << "}, " << row.trainableParams + row.frozenParams << ", " << row.flops << "},\n";
  }
  os << "};\n\n";

  // The training set-up.
  auto train = module->getAttrOfType<DictionaryAttr>("net.train");
  auto get = [&](DictionaryAttr dict, StringRef key, double fallback) {
    if (!dict)
      return fallback;
    if (auto f = dict.getAs<FloatAttr>(key))
      return f.getValueAsDouble();
    if (auto i = dict.getAs<IntegerAttr>(key))
      return double(i.getInt());
    return fallback;
  };
  DictionaryAttr opt = train ? train.getAs<DictionaryAttr>("optimizer") : DictionaryAttr();
  bool sgd = opt && opt.getAs<StringAttr>("name") && opt.getAs<StringAttr>("name").getValue() == "sgd";
  std::string network = "model";
  if (auto name = module->getAttrOfType<StringAttr>("net.network"))
    network = name.str();

  // The input normalisation, one value per channel (default: pixel / 255).
  size_t channels = inputShape.size() == 3 ? size_t(inputShape[0]) : 1;
  auto norm = module->getAttrOfType<DictionaryAttr>("net.input_normalization");
  auto emitPerChannel = [&](StringRef cname, StringRef key, double fallback) {
    auto values = norm ? norm.getAs<DenseF64ArrayAttr>(key) : DenseF64ArrayAttr();
    os << "const float " << cname << "[] = {";
    for (size_t c = 0; c < channels; ++c)
      os << (c ? ", " : "") << "float("
         << number(values && c < values.size() ? values[c] : fallback) << ")";
    os << "};\n";
  };
  emitPerChannel("kInputMean", "mean", 0.0);
  emitPerChannel("kInputStd", "std", 1.0);
  os << "\n";

  // The schedule and early stopping; what the .net file leaves out takes
  // netrun's defaults (docs/netrun.md).
  DictionaryAttr schedule = train ? train.getAs<DictionaryAttr>("lr_schedule") : DictionaryAttr();
  DictionaryAttr stopping = train ? train.getAs<DictionaryAttr>("early_stopping") : DictionaryAttr();
  std::string scheduleName = "constant";
  if (auto name = schedule ? schedule.getAs<StringAttr>("name") : StringAttr())
    scheduleName = name.str();
  std::replace(scheduleName.begin(), scheduleName.end(), '_', '-'); // netrun's spelling
  std::string monitor = "val_loss";
  if (auto m = stopping ? stopping.getAs<StringAttr>("monitor") : StringAttr())
    monitor = m.str();
  auto flag = [&](DictionaryAttr dict, StringRef key) {
    auto b = dict ? dict.getAs<BoolAttr>(key) : BoolAttr();
    return b && b.getValue() ? 1 : 0;
  };

  // The forward graph for `netrun export`, one literal a line.
  os << "const char *const kGraph =";
  if (table.graph.empty())
    os << " nullptr";
  else
    for (StringRef line : llvm::split(StringRef(table.graph).rtrim('\n'), '\n')) {
      std::string literal = quote(line);
      literal.insert(literal.size() - 1, "\\n");
      os << "\n    " << literal;
    }
  os << ";\n\n";
  os << "const netc_model_info kModel = {\n"
     << "    NETC_MAGIC, NETC_ABI_VERSION, " << quote(network) << ", " << quote("netc " NETC_COMPILER_VERSION) << ",\n"
     << "    " << inputShape.size() << ", {";
  for (size_t i = 0; i < 3; ++i)
    os << (i ? ", " : "") << (i < inputShape.size() ? inputShape[i] : 0);
  os << "}, kInputMean, kInputStd, " << classes << ",\n"
     << "    " << params.size() << ", kParams, " << state.size() << ", kState,\n"
     << "    " << table.rows.size() << ", kLayers, " << table.flops << ",\n"
     << "    {" << (sgd ? "NETC_OPTIMIZER_SGD" : "NETC_OPTIMIZER_ADAM") << ", "
     << number(get(opt, "lr", sgd ? 0.01 : 0.001)) << ", " << number(get(opt, "momentum", 0))
     << ", " << (get(opt, "nesterov", 0) != 0 ? 1 : 0) << ", " << number(get(opt, "beta1", 0.9))
     << ", " << number(get(opt, "beta2", 0.999)) << ", " << number(get(opt, "epsilon", 1e-7))
     << ", " << int64_t(get(train, "batch", 32)) << ", " << int64_t(get(train, "epochs", 1))
     << ",\n     " << quote(scheduleName) << ", " << int64_t(get(schedule, "step_size", 10))
     << ", " << number(get(schedule, "gamma", 0.1)) << ", " << number(get(schedule, "decay", 0.95))
     << ", " << number(get(schedule, "min_lr", 0)) << ", " << int64_t(get(schedule, "patience", 10))
     << ", " << number(get(schedule, "factor", 0.1)) << ",\n     " << (stopping ? 1 : 0) << ", "
     << quote(monitor) << ", " << int64_t(get(stopping, "patience", 0)) << ", "
     << number(get(stopping, "min_delta", 0)) << ", " << flag(stopping, "restore_best_weights")
     << "},\n"
     << "    kDevices,\n";
  // The frozen base's features (net-split-frozen-base); size 0 without one.
  os << "    " << quote(featureLayer) << ", " << featureShape.size() << ", {";
  for (size_t i = 0; i < 3; ++i)
    os << (i ? ", " : "") << (i < featureShape.size() ? featureShape[i] : 0);
  os << "}, " << (hasBase ? product(featureShape) : 0) << ",\n"
     << "    kGraph,\n};\n\n";
}

LogicalResult CppEmitter::emitFunction(func::FuncOp func) {
  names.clear();
  deferredUpdates.clear();
  StringRef name = func.getName();
  bool isForward = name == "forward" || name == "base_forward";
  bool isTrain = name.ends_with("train_step");
  // On the GPU the inputs are already in I->input and I->labels (copied in
  // or gathered on the device) and the step's scalars are I->run's.
  if (cuda)
    os << "void run_" << name << "(Instance *I, int n" << (isForward ? ", float *out" : "")
       << ") {\n";
  else if (isForward)
    os << "void run_" << name << "(netc_instance *I, const float *in0, int n, float *out) {\n";
  else
    os << "void run_" << name << "(netc_instance *I, const float *in0, const int32_t *labels, "
       << "int n, " << (isTrain ? "uint64_t seed, " : "")
       << "float *loss, int32_t *correct) {\n";
  os << "  float *const A = I->arena;\n"
     << "  const int64_t B = I->batch;\n"
     << "  float *const F = A + kArenaPerSample * B; // the fixed-size section\n"
     << "  float *const P = I->params;\n";
  if (isTrain)
    os << "  float *const S = I->state;\n"
       << (cuda ? "" : "  const int64_t t = ++I->step; // Adam's bias correction counts from 1\n");
  os << "  (void)A; (void)F; (void)P;\n";
  if (cuda) {
    os << "  const float *const in0 = I->input;\n";
    if (!isForward)
      os << "  const int32_t *const labels = I->labels;\n";
  }
  names[func.getArgument(0)] = "in0";
  if (func.getNumArguments() > 1)
    names[func.getArgument(1)] = "labels";

  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      if (isForward) {
        Value v = ret.getOperand(0);
        if (cuda) // host pointers out
          os << "  NETC_CUDA_CHECK(cudaMemcpy(out, " << ref(v) << ", sizeof(float) * "
             << perSample(v) << " * n, cudaMemcpyDeviceToHost));\n";
        else
          os << "  k::copy" << targs({perSample(v)}) << "(n, " << ref(v) << ", out);\n";
      } else if (cuda) { // the loss and correct count are in I->run already
        emitDeferredUpdates();
      } else {
        os << "  *loss = " << ref(ret.getOperand(0)) << ";\n"
           << "  *correct = " << ref(ret.getOperand(1)) << ";\n";
      }
      continue;
    }
    if (failed(emitOp(&op)))
      return failure();
  }
  os << "}\n\n";
  return success();
}

LogicalResult CppEmitter::emitFunctions() {
  for (StringRef name : {"forward", "eval_step", "train_step", "base_forward", "head_eval_step",
                         "head_train_step"}) {
    auto func = module.lookupSymbol<func::FuncOp>(name);
    if (name.starts_with("base_") || name.starts_with("head_")) {
      if (hasBase && failed(emitFunction(func)))
        return failure();
      continue;
    }
    if (!func) {
      if (name == "train_step")
        continue;
      return module.emitError("the ") << (cuda ? "CUDA" : "C++") << " emitter needs @" << name
                                      << " (run net-autodiff)";
    }
    if (failed(emitFunction(func)))
      return failure();
  }
  return success();
}

std::optional<int64_t> CppEmitter::fixedOffset(Value v) {
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

/// The deferred updates, one launch per kind and hyper-parameters (a model
/// has one optimizer: one launch), after the backward: net-plan-memory keeps
/// their gradients live until the end of the step.
void CppEmitter::emitDeferredUpdates() {
  std::vector<bool> done(deferredUpdates.size(), false);
  for (size_t i = 0; i < deferredUpdates.size(); ++i) {
    if (done[i])
      continue;
    Operation *first = deferredUpdates[i].op;
    std::vector<std::string> entries;
    for (size_t j = i; j < deferredUpdates.size(); ++j) {
      Operation *other = deferredUpdates[j].op;
      if (done[j] || other->getName() != first->getName() ||
          other->getAttrDictionary() != first->getAttrDictionary())
        continue;
      done[j] = true;
      entries.push_back(deferredUpdates[j].entry);
    }
    std::string table = "k::UpdateTable<" + std::to_string(entries.size()) + ">{{";
    for (size_t e = 0; e < entries.size(); ++e)
      table += (e ? ", " : "") + entries[e];
    table += "}}";
    if (auto sgd = dyn_cast<SgdUpdateOp>(first))
      os << "  k::sgd_update_all<" << entries.size() << ">(" << table << ", P, F, S, I->run, "
         << floatLiteral(sgd.getMomentum()) << ", "
         << (sgd.getNesterov() ? "true" : "false") << ");\n";
    else if (auto adam = dyn_cast<AdamUpdateOp>(first))
      os << "  k::adam_update_all<" << entries.size() << ">(" << table << ", P, F, S, I->run, "
         << floatLiteral(adam.getBeta1()) << ", "
         << floatLiteral(adam.getBeta2()) << ", "
         << floatLiteral(adam.getEpsilon()) << ");\n";
  }
  deferredUpdates.clear();
}

LogicalResult CppEmitter::emitOp(Operation *op) {
  // Name and place the result.
  if (auto param = dyn_cast<ParamOp>(op)) {
    names[param.getResult()] =
        "(P + " + std::to_string(params[paramIndex.lookup(param.getName())].offset) + ")";
    return success();
  }
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
      return op->emitError("the C++ emitter found no planned slot for this result "
                           "(run net-plan-memory)");
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
           << floatLiteral(o.getRate()) << ", " << (cuda ? "I->run" : "seed")
           << ", " << o.getStream() << ", " << result << ");\n";
        return success();
      })
      .Case([&](MulOp o) { return elementwise("mul", {o.getLhs(), o.getRhs()}); })
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
        if (cuda) {
          os << "  k::cross_entropy" << targs({shapeOf(o.getProbs())[1]}) << "(n, "
             << ref(o.getProbs()) << ", " << ref(o.getLabels()) << ", I->run);\n";
          return success();
        }
        os << "  const float " << result << " = k::cross_entropy"
           << targs({shapeOf(o.getProbs())[1]}) << "(n, " << ref(o.getProbs()) << ", "
           << ref(o.getLabels()) << ");\n";
        return success();
      })
      .Case([&](CountCorrectOp o) {
        if (cuda) {
          os << "  k::count_correct" << targs({shapeOf(o.getProbs())[1]}) << "(n, "
             << ref(o.getProbs()) << ", " << ref(o.getLabels()) << ", I->run);\n";
          return success();
        }
        os << "  const int32_t " << result << " = k::count_correct"
           << targs({shapeOf(o.getProbs())[1]}) << "(n, " << ref(o.getProbs()) << ", "
           << ref(o.getLabels()) << ");\n";
        return success();
      })
      .Case([&](SoftmaxCrossEntropyGradOp o) {
        call("softmax_cross_entropy_grad", targs({shapeOf(o)[1]}),
             {"n", ref(o.getProbs()), ref(o.getLabels()), result});
        return success();
      })
      .Case([&](SgdUpdateOp o) {
        StringRef name = o.getParam().getDefiningOp<ParamOp>().getName();
        if (auto grad = cuda ? fixedOffset(o.getGrad()) : std::nullopt) {
          deferredUpdates.push_back(
              {o, "{" + std::to_string(params[paramIndex.lookup(name)].offset) + ", " +
                      std::to_string(*grad) + ", " +
                      std::to_string(stateOffset(name, "velocity")) + ", 0, " +
                      std::to_string(product(shapeOf(o.getParam()))) + "}"});
          return success();
        }
        os << "  k::sgd_update(" << product(shapeOf(o.getParam())) << ", " << ref(o.getParam())
           << ", " << ref(o.getGrad()) << ", S + " << stateOffset(name, "velocity") << ", "
           << (cuda ? "I->run" : "I->learning_rate") << ", " << floatLiteral(o.getMomentum())
           << ", "
           << (o.getNesterov() ? "true" : "false") << ");\n";
        return success();
      })
      .Case([&](AdamUpdateOp o) {
        StringRef name = o.getParam().getDefiningOp<ParamOp>().getName();
        if (auto grad = cuda ? fixedOffset(o.getGrad()) : std::nullopt) {
          deferredUpdates.push_back(
              {o, "{" + std::to_string(params[paramIndex.lookup(name)].offset) + ", " +
                      std::to_string(*grad) + ", " + std::to_string(stateOffset(name, "adam_m")) +
                      ", " + std::to_string(stateOffset(name, "adam_v")) + ", " +
                      std::to_string(product(shapeOf(o.getParam()))) + "}"});
          return success();
        }
        os << "  k::adam_update(" << product(shapeOf(o.getParam())) << ", " << ref(o.getParam())
           << ", " << ref(o.getGrad()) << ", S + " << stateOffset(name, "adam_m") << ", S + "
           << stateOffset(name, "adam_v") << ", " << (cuda ? "I->run" : "I->learning_rate")
           << ", " << floatLiteral(o.getBeta1()) << ", "
           << floatLiteral(o.getBeta2()) << ", "
           << floatLiteral(o.getEpsilon()) << (cuda ? "" : ", t") << ");\n";
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitError("the C++ emitter cannot translate ") << other->getName();
      });
}

/// The CUDA branch of an entry point: `call` on the instance's device when
/// it has one; a training step leaves the device's parameters newer.
static std::string deviceCall(StringRef call, bool train) {
  return ("#if NETC_WITH_CUDA\n"
          "  if (I->cuda) {\n"
          "    const bool ok = deviceReady(I) && netc::cudapath::" +
          call + ";\n" + (train ? "    I->device_newer = true;\n" : "") +
          "    return deviceResult(I, ok);\n"
          "  }\n"
          "#endif\n")
      .str();
}

void CppEmitter::emitAbi() {
  os << R"cpp(} // namespace

// The C ABI (runtime/include/net/Runtime/ModelABI.h).
#define NETC_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
bool checkCall(netc_instance *I, const void *input, int32_t n, const void *out) {
  if (!I)
    return false;
  if (!input || !out) {
    I->error = "null input or output pointer";
    return false;
  }
  if (n < 1 || n > I->batch) {
    I->error = "n = " + std::to_string(n) + " is outside [1, " + std::to_string(I->batch) +
               "], the batch this instance was created for";
    return false;
  }
  I->error.clear();
  return true;
}

#if NETC_WITH_CUDA
// The CUDA path (net/Runtime/CudaPath.h): params and state above are the host
// mirror of the device's. A step first uploads what the host may have
// written (host_dirty); netc_param_data and netc_state_data first download
// what a training step changed (device_newer), and mark the mirror dirty
// since the caller may write through the pointer.
int deviceResult(netc_instance *I, bool ok) {
  if (ok)
    return NETC_OK;
  if (I->error.empty())
    I->error = "CUDA step failed";
  return NETC_ERROR_DEVICE;
}
bool deviceReady(netc_instance *I) {
  if (!I->host_dirty)
    return true;
  if (!netc::cudapath::upload(I->cuda, I->params, I->state, I->error))
    return false;
  I->host_dirty = false;
  return true;
}
bool hostMirror(netc_instance *I) {
  if (I->device_newer && !netc::cudapath::download(I->cuda, I->params, I->state, I->error))
    return false;
  I->device_newer = false;
  I->host_dirty = true;
  return true;
}
#endif

float *allocateFloats(int64_t count) {
  size_t bytes = size_t(std::max<int64_t>(count, 1)) * sizeof(float);
  bytes = (bytes + 63) / 64 * 64;
  void *p = std::aligned_alloc(64, bytes);
  if (p)
    std::memset(p, 0, bytes);
  return static_cast<float *>(p);
}
} // namespace

NETC_EXPORT const netc_model_info *netc_model(void) { return &kModel; }

NETC_EXPORT netc_instance *netc_create(int32_t device, int32_t batch, int32_t threads,
                                       char *error, size_t error_size) {
  auto fail = [&](const std::string &message) -> netc_instance * {
    if (error && error_size)
      std::snprintf(error, error_size, "%s", message.c_str());
    return nullptr;
  };
  if (device == NETC_DEVICE_CUDA && !NETC_WITH_CUDA)
    return fail("this model was compiled for the CPU only (no CUDA path: netc found no nvcc "
                "or was given --no-cuda)");
  if (device != NETC_DEVICE_CPU && device != NETC_DEVICE_CUDA)
    return fail("unknown device " + std::to_string(device));
  const bool onCpu = device == NETC_DEVICE_CPU;
  if (batch < 1 || batch > (1 << 20))
    return fail("batch " + std::to_string(batch) + " is outside [1, 1048576]");
  if (threads > 0)
    omp_set_num_threads(threads);
  auto *I = new (std::nothrow) netc_instance();
  if (!I)
    return fail("out of memory");
  I->batch = batch;
  I->learning_rate = float(kModel.train.learning_rate);
  I->params = allocateFloats(kParamFloats);
  I->state = allocateFloats(kStateFloats);
  // On the GPU the arena is the device's; params and state are its host mirror.
  I->arena = onCpu ? allocateFloats(kArenaPerSample * int64_t(batch) + kArenaFixed) : nullptr;
  if (!I->params || !I->state || (onCpu && !I->arena)) {
    netc_destroy(I);
    return fail("cannot allocate " +
                std::to_string((kArenaPerSample * int64_t(batch) + kArenaFixed) * 4 >> 20) +
                " MiB for the activations of batch " + std::to_string(batch));
  }
#if NETC_WITH_CUDA
  if (!onCpu) {
    std::string why;
    I->cuda = netc::cudapath::create(batch, why);
    if (!I->cuda) {
      netc_destroy(I);
      return fail(why);
    }
  }
#endif
  return I;
}

NETC_EXPORT void netc_destroy(netc_instance *I) {
  if (!I)
    return;
#if NETC_WITH_CUDA
  if (I->cuda)
    netc::cudapath::destroy(I->cuda);
#endif
  std::free(I->params);
  std::free(I->state);
  std::free(I->arena);
  std::free(I->gathered);
  std::free(I->gathered_labels);
  delete I;
}

NETC_EXPORT float *netc_param_data(netc_instance *I, int32_t index) {
  if (!I || index < 0 || index >= kModel.num_params)
    return nullptr;
#if NETC_WITH_CUDA
  if (I->cuda && !hostMirror(I))
    return nullptr;
#endif
  return I->params + kParamOffsets[index];
}

NETC_EXPORT float *netc_state_data(netc_instance *I, int32_t index) {
  if (!I || index < 0 || index >= kModel.num_state)
    return nullptr;
#if NETC_WITH_CUDA
  if (I->cuda && !hostMirror(I))
    return nullptr;
#endif
  return I->state + kStateOffsets[index];
}

NETC_EXPORT int64_t netc_get_step(const netc_instance *I) { return I ? I->step : 0; }
NETC_EXPORT void netc_set_step(netc_instance *I, int64_t step) {
  if (I)
    I->step = step;
}
NETC_EXPORT void netc_set_learning_rate(netc_instance *I, float learning_rate) {
  if (I)
    I->learning_rate = learning_rate;
}
NETC_EXPORT const char *netc_last_error(const netc_instance *I) {
  return I ? I->error.c_str() : "no instance";
}

NETC_EXPORT int netc_forward(netc_instance *I, const float *input, int32_t n,
                             float *probabilities) {
  if (!checkCall(I, input, n, probabilities))
    return NETC_ERROR_ARGUMENT;
#if NETC_WITH_CUDA
  if (I->cuda)
    return deviceResult(I, deviceReady(I) && netc::cudapath::forward(I->cuda, input, n,
                                                                     probabilities, I->error));
#endif
  run_forward(I, input, n, probabilities);
  return NETC_OK;
}

NETC_EXPORT int netc_eval_step(netc_instance *I, const float *input, const int32_t *labels,
                               int32_t n, float *loss, int32_t *correct) {
  if (!checkCall(I, input, n, labels) || !loss || !correct)
    return NETC_ERROR_ARGUMENT;
#if NETC_WITH_CUDA
  if (I->cuda)
    return deviceResult(I, deviceReady(I) && netc::cudapath::evalStep(I->cuda, input, labels, n,
                                                                      loss, correct, I->error));
#endif
  run_eval_step(I, input, labels, n, loss, correct);
  return NETC_OK;
}

NETC_EXPORT int netc_train_step(netc_instance *I, const float *input, const int32_t *labels,
                                int32_t n, uint64_t seed, float *loss, int32_t *correct) {
  if (!checkCall(I, input, n, labels) || !loss || !correct)
    return NETC_ERROR_ARGUMENT;
)cpp";
  if (hasTrain)
    os << deviceCall("trainStep(I->cuda, input, labels, n, seed, I->learning_rate, ++I->step, "
                     "loss, correct, I->error)", /*train=*/true)
       << "  run_train_step(I, input, labels, n, seed, loss, correct);\n  return NETC_OK;\n}\n";
  else
    os << "  (void)seed;\n  I->error = \"this model has no training step\";\n"
          "  return NETC_ERROR_ARGUMENT;\n}\n";
  emitTrainingSet();

  // The frozen base and its head: exported by every model, refused by one
  // without a split base (feature_size 0).
  os << R"cpp(
NETC_EXPORT int netc_base_forward(netc_instance *I, const float *input, int32_t n,
                                  float *features) {
  if (!checkCall(I, input, n, features))
    return NETC_ERROR_ARGUMENT;
)cpp";
  auto noBase = [&]() {
    os << "  I->error = \"this model has no frozen base to compute features with\";\n"
          "  return NETC_ERROR_ARGUMENT;\n}\n";
  };
  if (hasBase)
    os << deviceCall("baseForward(I->cuda, input, n, features, I->error)", /*train=*/false)
       << "  run_base_forward(I, input, n, features);\n  return NETC_OK;\n}\n";
  else
    noBase();
  os << R"cpp(
NETC_EXPORT int netc_head_eval_step(netc_instance *I, const float *features,
                                    const int32_t *labels, int32_t n, float *loss,
                                    int32_t *correct) {
  if (!checkCall(I, features, n, labels) || !loss || !correct)
    return NETC_ERROR_ARGUMENT;
)cpp";
  if (hasBase)
    os << deviceCall("headEvalStep(I->cuda, features, labels, n, loss, correct, I->error)",
                     /*train=*/false)
       << "  run_head_eval_step(I, features, labels, n, loss, correct);\n  return NETC_OK;\n}\n";
  else
    noBase();
  os << R"cpp(
NETC_EXPORT int netc_head_train_step(netc_instance *I, const float *features,
                                     const int32_t *labels, int32_t n, uint64_t seed,
                                     float *loss, int32_t *correct) {
  if (!checkCall(I, features, n, labels) || !loss || !correct)
    return NETC_ERROR_ARGUMENT;
)cpp";
  if (hasBase)
    os << deviceCall("headTrainStep(I->cuda, features, labels, n, seed, I->learning_rate, "
                     "++I->step, loss, correct, I->error)",
                     /*train=*/true)
       << "  run_head_train_step(I, features, labels, n, seed, loss, correct);\n"
          "  return NETC_OK;\n}\n";
  else {
    os << "  (void)seed;\n";
    noBase();
  }
}

void CppEmitter::emitTrainingSet() {
  os << R"cpp(
NETC_EXPORT int netc_set_train_data(netc_instance *I, const uint8_t *pixels,
                                    const int32_t *labels, int64_t count, const float *table,
                                    int32_t table_channels) {
  if (!I)
    return NETC_ERROR_ARGUMENT;
  if (!pixels || !labels || !table) {
    I->error = "null pixels, labels or table";
    return NETC_ERROR_ARGUMENT;
  }
  if (count < 1) {
    I->error = "a training set of " + std::to_string(count) + " samples";
    return NETC_ERROR_ARGUMENT;
  }
  if (table_channels != 1 && table_channels != kInputPlanes) {
    I->error = "a normalisation table for " + std::to_string(table_channels) +
               " channels; the input has " + std::to_string(kInputPlanes);
    return NETC_ERROR_ARGUMENT;
  }
  for (int64_t i = 0; i < count; ++i)
    if (labels[i] < 0 || labels[i] >= kModel.classes) {
      I->error = "label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                 " is outside [0, " + std::to_string(kModel.classes) + ")";
      return NETC_ERROR_ARGUMENT;
    }
  I->error.clear();
  I->train_count = 0;
#if NETC_WITH_CUDA
  if (I->cuda) {
    const int code = netc::cudapath::setTrainData(I->cuda, pixels, labels, count, table,
                                                  table_channels, I->error);
    if (code == NETC_OK)
      I->train_count = count;
    return code;
  }
#endif
  I->train_pixels = pixels;
  I->train_labels = labels;
  I->train_table = table;
  I->train_table_channels = table_channels;
  I->train_count = count;
  return NETC_OK;
}
)cpp";
  os << R"cpp(
NETC_EXPORT int netc_train_steps(netc_instance *I, const int64_t *indices, int64_t count,
                                 const uint64_t *seeds, const float *learning_rates,
                                 float *losses, int32_t *corrects) {
  if (!I)
    return NETC_ERROR_ARGUMENT;
  if (!indices || !seeds || !learning_rates || !losses || !corrects) {
    I->error = "null indices, seeds, learning_rates, losses or corrects";
    return NETC_ERROR_ARGUMENT;
  }
  if (I->train_count == 0) {
    I->error = "no training set: netc_set_train_data first";
    return NETC_ERROR_ARGUMENT;
  }
  if (count < 1) {
    I->error = "netc_train_steps over " + std::to_string(count) + " samples";
    return NETC_ERROR_ARGUMENT;
  }
  for (int64_t i = 0; i < count; ++i)
    if (indices[i] < 0 || indices[i] >= I->train_count) {
      I->error = "indices[" + std::to_string(i) + "] = " + std::to_string(indices[i]) +
                 " is outside the training set of " + std::to_string(I->train_count) +
                 " samples";
      return NETC_ERROR_ARGUMENT;
    }
  I->error.clear();
  const int64_t steps = (count + I->batch - 1) / I->batch;
)cpp";
  if (!hasTrain) {
    os << "  (void)steps;\n  I->error = \"this model has no training step\";\n"
          "  return NETC_ERROR_ARGUMENT;\n}\n";
    return;
  }
  os << R"cpp(#if NETC_WITH_CUDA
  if (I->cuda) {
    if (!deviceReady(I))
      return deviceResult(I, false);
    const bool ok = netc::cudapath::trainSteps(I->cuda, indices, count, seeds, learning_rates,
                                               I->step, losses, corrects, I->error);
    I->device_newer = true; // a failed run may have changed some parameters
    if (ok) {
      I->step += steps;
      I->learning_rate = learning_rates[steps - 1];
    }
    return deviceResult(I, ok);
  }
#endif
  if (!I->gathered) {
    I->gathered = allocateFloats(kInputSize * I->batch);
    I->gathered_labels = static_cast<int32_t *>(std::malloc(sizeof(int32_t) * size_t(I->batch)));
    if (!I->gathered || !I->gathered_labels) {
      I->error = "out of memory for a gathered batch";
      return NETC_ERROR_MEMORY;
    }
  }
  constexpr int64_t kPlaneSize = kInputSize / kInputPlanes;
  const int64_t tableStride = I->train_table_channels == 1 ? 0 : 256;
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t first = s * I->batch;
    const int n = int(std::min<int64_t>(I->batch, count - first));
    // The runtime's gather, as a table lookup: byte p of plane c is
    // table[c * 256 + p], the very floats Samples::gather computes.
    for (int i = 0; i < n; ++i) {
      const int64_t sample = indices[first + i];
      const uint8_t *src = I->train_pixels + sample * kInputSize;
      float *dst = I->gathered + int64_t(i) * kInputSize;
      for (int64_t c = 0; c < kInputPlanes; ++c) {
        const float *values = I->train_table + c * tableStride;
        for (int64_t k = c * kPlaneSize; k < (c + 1) * kPlaneSize; ++k)
          dst[k] = values[src[k]];
      }
      I->gathered_labels[i] = I->train_labels[sample];
    }
    I->learning_rate = learning_rates[s];
    run_train_step(I, I->gathered, I->gathered_labels, n, seeds[s], &losses[s], &corrects[s]);
  }
  return NETC_OK;
}
)cpp";
}

LogicalResult CppEmitter::emit() {
  if (failed(collect()))
    return failure();
  std::string network = "model";
  if (auto name = module->getAttrOfType<StringAttr>("net.network"))
    network = name.str();
  os << "// Generated by netc " NETC_COMPILER_VERSION " for the network '" << network
     << "'. Do not edit: recompile the .net file.\n"
     << "//\n"
     << "// Every extent but the batch is a template argument of the kernels in\n"
     << "// net/Kernels; every tensor is a slot of one arena planned by\n"
     << "// net-plan-memory, so a step allocates nothing.\n\n"
     << "#include \"net/Kernels/Kernels.h\"\n"
     << "#include \"net/Runtime/ModelABI.h\"\n\n"
     << "#include <omp.h>\n\n"
     << "#include <algorithm>\n#include <cstdint>\n#include <cstdio>\n#include <cstdlib>\n"
     << "#include <cstring>\n#include <new>\n#include <string>\n\n"
     << "// netc defines NETC_WITH_CUDA=1 when it links this file with the model's\n"
     << "// CUDA path (netc -emit=cuda); without it the library is CPU-only.\n"
     << "#ifndef NETC_WITH_CUDA\n#define NETC_WITH_CUDA 0\n#endif\n"
     << "#if NETC_WITH_CUDA\n#include \"net/Runtime/CudaPath.h\"\n#endif\n"
     << "namespace netc::cudapath {\nstruct Instance;\n}\n\n"
     << "struct netc_instance {\n"
     << "  int32_t batch = 0;\n"
     << "  float learning_rate = 0;\n"
     << "  int64_t step = 0;\n"
     << "  float *params = nullptr;\n"
     << "  float *state = nullptr;\n"
     << "  float *arena = nullptr;\n"
     << "  std::string error;\n"
     << "  // NETC_DEVICE_CUDA: the device's instance; params and state are then\n"
     << "  // its host mirror, synchronised lazily (see deviceReady, hostMirror).\n"
     << "  netc::cudapath::Instance *cuda = nullptr;\n"
     << "  bool host_dirty = false, device_newer = false;\n"
     << "  // netc_set_train_data: the caller's arrays (read in place on the CPU),\n"
     << "  // and netc_train_steps' gathered batch.\n"
     << "  const uint8_t *train_pixels = nullptr;\n"
     << "  const int32_t *train_labels = nullptr;\n"
     << "  int64_t train_count = 0;\n"
     << "  const float *train_table = nullptr;\n"
     << "  int32_t train_table_channels = 0;\n"
     << "  float *gathered = nullptr;\n"
     << "  int32_t *gathered_labels = nullptr;\n"
     << "};\n\n"
     << "namespace {\n"
     << "namespace k = netc::kernels;\n\n"
     << "// Floats per sample and fixed floats of the arena; of the parameters and\n"
     << "// the optimizer's slots.\n"
     << "constexpr int64_t kArenaPerSample = " << arenaPerSample << ";\n"
     << "constexpr int64_t kArenaFixed = " << arenaFixed << ";\n"
     << "constexpr int64_t kParamFloats = " << paramFloats << ";\n"
     << "constexpr int64_t kStateFloats = " << stateFloats << ";\n"
     << "// Values of one input sample, in kInputPlanes planes (the channels).\n"
     << "constexpr int64_t kInputSize = "
     << inputSize() << ";\n"
     << "constexpr int64_t kInputPlanes = " << inputPlanes() << ";\n"
     << "constexpr uint32_t kDevices =\n"
     << "    (1u << NETC_DEVICE_CPU) | (NETC_WITH_CUDA ? 1u << NETC_DEVICE_CUDA : 0u);\n\n";
  emitTables();
  if (failed(emitFunctions()))
    return failure();
  emitAbi();
  return success();
}

LogicalResult mlir::net::emitCpp(ModuleOp module, raw_ostream &os, const LayerTable *layers) {
  return CppEmitter(module, os, layers).emit();
}
