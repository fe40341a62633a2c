//===- Layers.cpp - One builder per .net layer ----------------------------===//
//
// The layer builders of elaboration (Elaborator.h names the other parts):
// conv2d, dense, max_pool and avg_pool, batch_norm, dropout, the activations,
// flatten, global_avg_pool and add. Each binds its arguments, checks them
// (kernel and stride pairs, padding, activation, the input tensor), names the
// layer within its block, infers its shape with the rules the verifiers use
// (net/Dialect/Shapes.h), and builds its parameters and ops located at the
// call.
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"

#include "net/Dialect/NetOps.h"

#include "mlir/IR/BuiltinTypes.h"

#include <algorithm>

namespace netc::dsl::elaboration {

namespace {

/// Layers in all, so that a hostile or mistaken file cannot run away.
constexpr int64_t kMaxLayers = 100000;

} // namespace

//===----------------------------------------------------------------------===//
// Layer arguments
//===----------------------------------------------------------------------===//

std::optional<std::array<int64_t, 2>>
Elaborator::toPair(const Value &v, SMLoc loc, const Twine &what) {
  if (v.kind == Value::Kind::Int) {
    if (auto x = toInt(v, loc, what, 1, 1 << 16))
      return std::array<int64_t, 2>{*x, *x};
    return std::nullopt;
  }
  if (v.kind == Value::Kind::List && v.items.size() == 2) {
    auto a = toInt(v.items[0], loc, what, 1, 1 << 16);
    auto b = toInt(v.items[1], loc, what, 1, 1 << 16);
    if (a && b)
      return std::array<int64_t, 2>{*a, *b};
    return std::nullopt;
  }
  if (!v.isError())
    error(loc, what + " expects an integer or [height, width], got " + v.describe());
  return std::nullopt;
}

/// padding ::= valid | same | N | [vertical, horizontal] | [top, left, bottom, right]
std::optional<std::array<int64_t, 4>>
Elaborator::toPads(const Value &v, SMLoc loc, StringRef layer,
                   llvm::ArrayRef<int64_t> input, std::array<int64_t, 2> kernel,
                   std::array<int64_t, 2> stride) {
  if (v.kind == Value::Kind::Symbol && v.s == "valid")
    return std::array<int64_t, 4>{0, 0, 0, 0};
  if (v.kind == Value::Kind::Symbol && v.s == "same") {
    if (input.size() != 4)
      return std::array<int64_t, 4>{0, 0, 0, 0}; // the shape check reports the rank
    // As TensorFlow: output ceil(in / stride), the odd pixel at the bottom/right.
    std::array<int64_t, 4> pads{};
    for (int d = 0; d < 2; ++d) {
      int64_t in = input[2 + d];
      int64_t out = (in + stride[d] - 1) / stride[d];
      int64_t total = std::max<int64_t>((out - 1) * stride[d] + kernel[d] - in, 0);
      pads[d] = total / 2;
      pads[d + 2] = total - total / 2;
    }
    return pads;
  }
  auto padInt = [&](const Value &item) {
    return toInt(item, loc, "'" + layer + "' padding", 0, 1 << 16);
  };
  if (v.kind == Value::Kind::Int) {
    if (auto p = padInt(v))
      return std::array<int64_t, 4>{*p, *p, *p, *p};
    return std::nullopt;
  }
  if (v.kind == Value::Kind::List && (v.items.size() == 2 || v.items.size() == 4)) {
    std::array<int64_t, 4> pads{};
    for (size_t i = 0; i < v.items.size(); ++i) {
      auto p = padInt(v.items[i]);
      if (!p)
        return std::nullopt;
      pads[i] = *p;
    }
    if (v.items.size() == 2)
      pads = {pads[0], pads[1], pads[0], pads[1]};
    return pads;
  }
  if (!v.isError())
    error(loc, "'" + layer + "' padding expects valid, same, an integer, "
               "[vertical, horizontal] or [top, left, bottom, right], got " + v.describe());
  return std::nullopt;
}

std::optional<StringRef> Elaborator::toActivation(const Value &v, SMLoc loc,
                                                   StringRef layer) {
  if (v.kind == Value::Kind::Symbol &&
      (v.s == "none" || v.s == "linear" || v.s == "relu" || v.s == "sigmoid" ||
       v.s == "tanh" || v.s == "softmax")) {
    if (v.s == "linear")
      return StringRef("none");
    return StringRef(v.s);
  }
  if (!v.isError())
    error(loc, "'" + layer + "' activation expects relu, sigmoid, tanh, softmax or "
               "none, got " + v.describe());
  return std::nullopt;
}

std::optional<bool> Elaborator::optionalBool(const BoundArgs &args, size_t index,
                                            StringRef layer, StringRef what,
                                            bool fallback) {
  const Value *v = args.get(index);
  if (!v)
    return fallback;
  return toBool(*v, args.locs[index], "'" + layer + "' " + what);
}

std::optional<StringRef> Elaborator::optionalActivation(const BoundArgs &args,
                                                        size_t index, StringRef layer) {
  const Value *v = args.get(index);
  if (!v)
    return StringRef("none");
  return toActivation(*v, args.locs[index], layer);
}

const Value *Elaborator::tensorArg(const BoundArgs &args, size_t index, SMLoc callLoc,
                                   StringRef layer) {
  const Value *v = args.get(index);
  if (!v || v->isError())
    return nullptr;
  if (v->kind == Value::Kind::Tensor)
    return v;
  error(args.locs[index], "'" + layer + "' expects a tensor as its input, got " +
                              v->describe());
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

mlir::RankedTensorType Elaborator::tensorType(llvm::ArrayRef<int64_t> shape) {
  return mlir::RankedTensorType::get(shape, builder.getF32Type());
}

bool Elaborator::countLayer(SMLoc loc) {
  if (++layers <= kMaxLayers)
    return true;
  if (layers == kMaxLayers + 1)
    error(loc, "the network has more than " + Twine(kMaxLayers) + " layers");
  return false;
}

std::string Elaborator::layerName(StringRef kind, const BoundArgs &args,
                                  size_t nameIndex, SMLoc loc) {
  NameScope &scope = nameScopes.back();
  std::string base;
  if (const Value *n = args.get(nameIndex)) {
    if (n->kind != Value::Kind::String || n->s.empty() ||
        StringRef(n->s).find_first_of("/. \t\"") != StringRef::npos) {
      error(args.locs[nameIndex], "'name' expects a non-empty string without '/', '.' "
                                  "or spaces, got " + n->describe());
    } else {
      base = n->s;
    }
  }
  if (base.empty())
    base = kind.str() + "_" + std::to_string(++scope.counters[kind]);
  std::string full = scope.prefix + base;
  auto [it, inserted] = usedLayerNames.try_emplace(full, loc);
  if (!inserted) {
    error(loc, "layer name '" + full + "' is already used");
    diags.note(it->second, "first used here");
  }
  return full;
}

mlir::Value Elaborator::param(StringRef layer, StringRef which,
                              llvm::ArrayRef<int64_t> shape, StringRef init,
                              bool frozen, mlir::Location loc) {
  auto op = builder.create<mlir::net::ParamOp>(
      loc, tensorType(shape), builder.getStringAttr(layer + "." + which),
      builder.getStringAttr(init), frozen ? builder.getUnitAttr() : nullptr);
  return op.getResult();
}

bool Elaborator::checkShape(const shapes::ShapeResult &result, SMLoc loc,
                            StringRef layer) {
  if (result.ok())
    return true;
  error(loc, "layer '" + layer + "': " + result.error);
  return false;
}

Value Elaborator::applyActivation(Value input, StringRef activation,
                                  mlir::Location loc, SMLoc at, StringRef layer) {
  if (activation == "none")
    return input;
  mlir::Type type = input.tensor.getType();
  mlir::Value out;
  if (activation == "relu")
    out = builder.create<mlir::net::ReluOp>(loc, type, input.tensor);
  else if (activation == "sigmoid")
    out = builder.create<mlir::net::SigmoidOp>(loc, type, input.tensor);
  else if (activation == "tanh")
    out = builder.create<mlir::net::TanhOp>(loc, type, input.tensor);
  else {
    if (!checkShape(shapes::softmax(input.shape), at, layer))
      return Value::error();
    out = builder.create<mlir::net::SoftmaxOp>(loc, type, input.tensor);
  }
  return Value::ofTensor(out, input.shape);
}

/// conv2d(input, filters, kernel, stride = 1, padding = valid, bias = true,
///        activation = none, frozen = false, name)
Value Elaborator::conv2d(const Expr &call, Scope &scope) {
  static const ParamSpec kParams[] = {
      {"input", true},  {"filters", true},    {"kernel", true},
      {"stride", false}, {"padding", false},  {"bias", false},
      {"activation", false}, {"frozen", false}, {"name", false}};
  auto args = bind(call, kParams, scope);
  if (!args || !countLayer(call.loc))
    return Value::error();
  const Value *input = tensorArg(*args, 0, call.loc, "conv2d");
  std::string name = layerName("conv2d", *args, 8, call.loc);
  auto filters = toInt(*args->get(1), args->locs[1], "'" + name + "' filters", 1, 1 << 20);
  auto kernel = toPair(*args->get(2), args->locs[2], "'" + name + "' kernel");
  std::optional<std::array<int64_t, 2>> stride = std::array<int64_t, 2>{1, 1};
  if (const Value *s = args->get(3))
    stride = toPair(*s, args->locs[3], "'" + name + "' stride");
  auto bias = optionalBool(*args, 5, name, "bias", /*fallback=*/true);
  auto activation = optionalActivation(*args, 6, name);
  auto frozenArg = optionalBool(*args, 7, name, "frozen", /*fallback=*/false);
  if (!input || !filters || !kernel || !stride || !bias || !activation || !frozenArg)
    return Value::error();
  bool frozen = *frozenArg || frozenDepth > 0;
  Value validPad = Value::symbol("valid");
  const Value *padding = args->get(4) ? args->get(4) : &validPad;
  auto pads = toPads(*padding, args->get(4) ? args->locs[4] : call.loc, name,
                     input->shape, *kernel, *stride);
  if (!pads)
    return Value::error();

  int64_t channels = input->shape.size() == 4 ? input->shape[1] : 0;
  Shape weightShape{*filters, channels, (*kernel)[0], (*kernel)[1]};
  auto result = shapes::conv2d(input->shape, weightShape, *stride, *pads);
  if (!checkShape(result, call.loc, name))
    return Value::error();

  mlir::Location loc = location(call.loc, name);
  mlir::Value w = param(name, "kernel", weightShape, "glorot_uniform", frozen, loc);
  mlir::Value out = builder.create<mlir::net::Conv2dOp>(
      loc, tensorType(result.shape), input->tensor, w,
      builder.getDenseI64ArrayAttr(*stride), builder.getDenseI64ArrayAttr(*pads));
  if (*bias) {
    mlir::Value b = param(name, "bias", {*filters}, "zeros", frozen, loc);
    out = builder.create<mlir::net::BiasAddOp>(loc, out.getType(), out, b);
  }
  return applyActivation(Value::ofTensor(out, result.shape), *activation, loc,
                         call.loc, name);
}

/// dense(input, units, activation = none, bias = true, frozen = false, name)
Value Elaborator::dense(const Expr &call, Scope &scope) {
  static const ParamSpec kParams[] = {{"input", true},  {"units", true},
                                      {"activation", false}, {"bias", false},
                                      {"frozen", false}, {"name", false}};
  auto args = bind(call, kParams, scope);
  if (!args || !countLayer(call.loc))
    return Value::error();
  const Value *input = tensorArg(*args, 0, call.loc, "dense");
  std::string name = layerName("dense", *args, 5, call.loc);
  auto units = toInt(*args->get(1), args->locs[1], "'" + name + "' units", 1, 1 << 24);
  auto activation = optionalActivation(*args, 2, name);
  auto bias = optionalBool(*args, 3, name, "bias", /*fallback=*/true);
  auto frozenArg = optionalBool(*args, 4, name, "frozen", /*fallback=*/false);
  if (!input || !units || !bias || !activation || !frozenArg)
    return Value::error();
  bool frozen = *frozenArg || frozenDepth > 0;
  int64_t features = input->shape.size() == 2 ? input->shape[1] : 0;
  Shape weightShape{*units, features};
  auto result = shapes::dense(input->shape, weightShape);
  if (!checkShape(result, call.loc, name)) {
    if (input->shape.size() == 4)
      diags.note(call.loc, "a 4-d tensor needs 'flatten' or 'global_avg_pool' before 'dense'");
    return Value::error();
  }
  mlir::Location loc = location(call.loc, name);
  mlir::Value w = param(name, "kernel", weightShape, "glorot_uniform", frozen, loc);
  mlir::Value out = builder.create<mlir::net::DenseOp>(loc, tensorType(result.shape),
                                                       input->tensor, w);
  if (*bias) {
    mlir::Value b = param(name, "bias", {*units}, "zeros", frozen, loc);
    out = builder.create<mlir::net::BiasAddOp>(loc, out.getType(), out, b);
  }
  return applyActivation(Value::ofTensor(out, result.shape), *activation, loc,
                         call.loc, name);
}

/// max_pool / avg_pool(input, size = 2, stride = size, padding = valid, name)
Value Elaborator::pool(const Expr &call, Scope &scope, bool isMax) {
  static const ParamSpec kParams[] = {{"input", true},   {"size", false},
                                      {"stride", false}, {"padding", false},
                                      {"name", false}};
  auto args = bind(call, kParams, scope);
  if (!args || !countLayer(call.loc))
    return Value::error();
  StringRef kind = isMax ? "max_pool" : "avg_pool";
  const Value *input = tensorArg(*args, 0, call.loc, kind);
  std::string name = layerName(kind, *args, 4, call.loc);
  std::optional<std::array<int64_t, 2>> size = std::array<int64_t, 2>{2, 2};
  if (const Value *s = args->get(1))
    size = toPair(*s, args->locs[1], "'" + name + "' size");
  if (!size)
    return Value::error();
  std::optional<std::array<int64_t, 2>> stride = size;
  if (const Value *s = args->get(2))
    stride = toPair(*s, args->locs[2], "'" + name + "' stride");
  if (!input || !stride)
    return Value::error();
  Value validPad = Value::symbol("valid");
  const Value *padding = args->get(3) ? args->get(3) : &validPad;
  auto pads = toPads(*padding, args->get(3) ? args->locs[3] : call.loc, name,
                     input->shape, *size, *stride);
  if (!pads)
    return Value::error();
  auto result = shapes::pool2d(input->shape, *size, *stride, *pads, kind);
  if (!checkShape(result, call.loc, name))
    return Value::error();
  mlir::Location loc = location(call.loc, name);
  mlir::Type type = tensorType(result.shape);
  auto kernelAttr = builder.getDenseI64ArrayAttr(*size);
  auto strideAttr = builder.getDenseI64ArrayAttr(*stride);
  auto padAttr = builder.getDenseI64ArrayAttr(*pads);
  mlir::Value out =
      isMax ? builder.create<mlir::net::MaxPool2dOp>(loc, type, input->tensor, kernelAttr,
                                                     strideAttr, padAttr)
                  .getResult()
            : builder.create<mlir::net::AvgPool2dOp>(loc, type, input->tensor, kernelAttr,
                                                     strideAttr, padAttr)
                  .getResult();
  return Value::ofTensor(out, result.shape);
}

/// batch_norm(input, epsilon = 0.001, momentum = 0.99, frozen = false, name)
Value Elaborator::batchNorm(const Expr &call, Scope &scope) {
  static const ParamSpec kParams[] = {{"input", true},    {"epsilon", false},
                                      {"momentum", false}, {"frozen", false},
                                      {"name", false}};
  auto args = bind(call, kParams, scope);
  if (!args || !countLayer(call.loc))
    return Value::error();
  const Value *input = tensorArg(*args, 0, call.loc, "batch_norm");
  std::string name = layerName("batch_norm", *args, 4, call.loc);
  double epsilon = 1e-3, momentum = 0.99; // Keras' defaults
  if (const Value *e = args->get(1)) {
    auto v = toFloat(*e, args->locs[1], "'" + name + "' epsilon");
    if (!v)
      return Value::error();
    if (!mlir::net::ranges::withinAsFloat32(*v, mlir::net::ranges::Range::Positive)) {
      error(args->locs[1], "'" + name + "' epsilon expects a number " +
                               expectedRange(*v, mlir::net::ranges::Range::Positive) +
                               ", got " + formatNumber(*v));
      return Value::error();
    }
    epsilon = *v;
  }
  if (const Value *m = args->get(2)) {
    auto v = toFloat(*m, args->locs[2], "'" + name + "' momentum");
    if (!v)
      return Value::error();
    if (!mlir::net::ranges::withinAsFloat32(*v, mlir::net::ranges::Range::Unit)) {
      error(args->locs[2], "'" + name + "' momentum expects a number " +
                               expectedRange(*v, mlir::net::ranges::Range::Unit) + ", got " +
                               formatNumber(*v));
      return Value::error();
    }
    momentum = *v;
  }
  auto frozenArg = optionalBool(*args, 3, name, "frozen", /*fallback=*/false);
  if (!input || !frozenArg)
    return Value::error();
  bool frozen = *frozenArg || frozenDepth > 0;
  int64_t channels = input->shape.size() >= 2 ? input->shape[1] : 0;
  Shape paramShape{channels};
  auto result = shapes::batchNorm(input->shape, paramShape);
  if (!checkShape(result, call.loc, name))
    return Value::error();
  mlir::Location loc = location(call.loc, name);
  mlir::Value gamma = param(name, "gamma", paramShape, "ones", frozen, loc);
  mlir::Value beta = param(name, "beta", paramShape, "zeros", frozen, loc);
  // Running statistics are never trained by gradients (Keras: non-trainable).
  mlir::Value mean = param(name, "moving_mean", paramShape, "zeros", true, loc);
  mlir::Value var = param(name, "moving_variance", paramShape, "ones", true, loc);
  mlir::Value out = builder.create<mlir::net::BatchNormOp>(
      loc, input->tensor.getType(), input->tensor, gamma, beta, mean, var,
      builder.getF64FloatAttr(epsilon), builder.getF64FloatAttr(momentum));
  return Value::ofTensor(out, input->shape);
}

/// dropout(input, rate, name)
Value Elaborator::dropout(const Expr &call, Scope &scope) {
  static const ParamSpec kParams[] = {{"input", true}, {"rate", true}, {"name", false}};
  auto args = bind(call, kParams, scope);
  if (!args || !countLayer(call.loc))
    return Value::error();
  const Value *input = tensorArg(*args, 0, call.loc, "dropout");
  std::string name = layerName("dropout", *args, 2, call.loc);
  auto rate = toFloat(*args->get(1), args->locs[1], "'" + name + "' rate");
  if (!input || !rate)
    return Value::error();
  if (!mlir::net::ranges::withinAsFloat32(*rate, mlir::net::ranges::Range::Unit)) {
    error(args->locs[1], "'" + name + "' rate expects a number " +
                             expectedRange(*rate, mlir::net::ranges::Range::Unit) + ", got " +
                             formatNumber(*rate));
    return Value::error();
  }
  mlir::Value out = builder.create<mlir::net::DropoutOp>(
      location(call.loc, name), input->tensor.getType(), input->tensor,
      builder.getF64FloatAttr(*rate));
  return Value::ofTensor(out, input->shape);
}

/// relu | sigmoid | tanh | softmax | flatten | global_avg_pool (input, name)
Value Elaborator::simpleLayer(const Expr &call, Scope &scope, StringRef kind) {
  static const ParamSpec kParams[] = {{"input", true}, {"name", false}};
  auto args = bind(call, kParams, scope);
  if (!args || !countLayer(call.loc))
    return Value::error();
  const Value *input = tensorArg(*args, 0, call.loc, kind);
  std::string name = layerName(kind, *args, 1, call.loc);
  if (!input)
    return Value::error();
  mlir::Location loc = location(call.loc, name);
  if (kind == "flatten" || kind == "global_avg_pool") {
    auto result = kind == "flatten" ? shapes::flatten(input->shape)
                                    : shapes::globalAvgPool(input->shape);
    if (!checkShape(result, call.loc, name))
      return Value::error();
    mlir::Type type = tensorType(result.shape);
    mlir::Value out =
        kind == "flatten"
            ? builder.create<mlir::net::FlattenOp>(loc, type, input->tensor).getResult()
            : builder.create<mlir::net::GlobalAvgPoolOp>(loc, type, input->tensor)
                  .getResult();
    return Value::ofTensor(out, result.shape);
  }
  return applyActivation(*input, kind, loc, call.loc, name);
}

Value Elaborator::addLayer(Value lhs, Value rhs, SMLoc loc, StringRef explicitName) {
  if (!countLayer(loc))
    return Value::error();
  BoundArgs none;
  Value nameValue = Value::string(explicitName);
  none.values.push_back(explicitName.empty() ? std::nullopt
                                             : std::optional<Value>(nameValue));
  none.locs.push_back(loc);
  std::string name = layerName("add", none, 0, loc);
  auto result = shapes::add(lhs.shape, rhs.shape);
  if (!checkShape(result, loc, name))
    return Value::error();
  mlir::Value out = builder.create<mlir::net::AddOp>(
      location(loc, name), lhs.tensor.getType(), lhs.tensor, rhs.tensor);
  return Value::ofTensor(out, result.shape);
}

} // namespace netc::dsl::elaboration
