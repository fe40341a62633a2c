//===- MLIRGen.cpp - Elaborating a .net AST into the net dialect ----------===//
//
// Over 1,600 lines, not split yet on purpose: the training set-up's settings
// (names, types, defaults, ranges) are to be declared once, in a settings
// schema that generates their checks here and in netrun, and the layer
// elaborators then split by family (conv and dense, pooling, normalisation,
// joins) with the Elaborator in a private header. Splitting first would cut
// the file twice.
//
//===----------------------------------------------------------------------===//

#include "net/DSL/MLIRGen.h"

#include "net/Dialect/NetDialect.h"
#include "net/Dialect/NetOps.h"
#include "net/Dialect/Ranges.h"
#include "net/Dialect/Shapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cstdlib>
#include <functional>
#include <optional>
#include <set>

using namespace net::dsl;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

namespace {

/// Limits that keep a hostile or mistaken file from running away.
constexpr int64_t kMaxLayers = 100000;
constexpr int64_t kMaxRepeat = 10000;
constexpr size_t kMaxBlockDepth = 64;
/// Statements executed in all, so nested repeats cannot spin for hours.
constexpr int64_t kMaxSteps = 10000000;

/// Words that stand for themselves where a setting expects one.
const char *const kSymbols[] = {
    "same",  "valid",   "none",    "relu",          "sigmoid",
    "tanh",  "softmax", "linear",  "cross_entropy", "zeros",
    "ones",  "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "val_loss", "val_accuracy"};

/// The learning-rate schedules of `lr_schedule = ...`: netrun's
/// --lr-schedule names with '_' for '-'.
const char *const kSchedules[] = {"constant", "step",      "exponential",
                                  "cosine",   "one_cycle", "reduce_on_plateau"};

/// An argument of a schedule or of early_stopping(...), with its default and
/// the range that netrun's flag of the same meaning accepts.
struct SettingSpec {
  enum class Type { Int, Real, Bool, Monitor };
  const char *name;
  Type type;
  double fallback;
  double low, high;
  bool lowOpen, highOpen;
  const char *range; // for messages: "in (0, 1]"
};

using SettingType = SettingSpec::Type;

/// The arguments of schedule `name` (netrun: --lr-step-size, --lr-gamma, ...).
llvm::ArrayRef<SettingSpec> scheduleSpecs(StringRef name) {
  static const SettingSpec kStep[] = {
      {"step_size", SettingType::Int, 10, 1, 1000000, false, false, "in [1, 1000000]"},
      {"gamma", SettingType::Real, 0.1, 0, 1, true, false, "in (0, 1]"}};
  static const SettingSpec kExponential[] = {
      {"decay", SettingType::Real, 0.95, 0, 1, true, false, "in (0, 1]"}};
  static const SettingSpec kCosine[] = {
      {"min_lr", SettingType::Real, 0, 0, 1e9, false, false, "in [0, 1e9]"}};
  static const SettingSpec kPlateau[] = {
      {"patience", SettingType::Int, 10, 1, 1000000, false, false, "in [1, 1000000]"},
      {"factor", SettingType::Real, 0.1, 0, 1, true, true, "in (0, 1)"},
      {"min_lr", SettingType::Real, 0, 0, 1e9, false, false, "in [0, 1e9]"}};
  if (name == "step")
    return kStep;
  if (name == "exponential")
    return kExponential;
  if (name == "cosine")
    return kCosine;
  if (name == "reduce_on_plateau")
    return kPlateau;
  return {};
}

/// early_stopping(monitor, patience, min_delta, restore_best_weights), as
/// netrun's --monitor, --patience, --min-delta, --restore-best-weights.
const SettingSpec kEarlyStopping[] = {
    {"monitor", SettingType::Monitor, 0, 0, 0, false, false, "val_loss or val_accuracy"},
    {"patience", SettingType::Int, 0, 0, 1000000, false, false, "in [0, 1000000]"},
    {"min_delta", SettingType::Real, 0, 0, 1e9, false, false, "in [0, 1e9]"},
    {"restore_best_weights", SettingType::Bool, 0, 0, 0, false, false, "true or false"}};

/// Prints a number the way it would be written: 0.1, 1e-07, 3; with as many
/// digits as it takes to read back as itself (0.99999999999, not 1).
std::string formatNumber(double value) {
  char text[32];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value)
      break;
  }
  return text;
}

/// What a float setting out of `range` expects, for its error: "above 0", or
/// "above 0 as a float32 (...)" where only its float32 leaves the range.
std::string expectedRange(double v, mlir::net::ranges::Range range) {
  std::string text = mlir::net::ranges::describe(range);
  if (mlir::net::ranges::within(v, range))
    text += " as a float32 (the precision the model computes in)";
  return text;
}

/// A value during elaboration. Errors are values too: an operation on an
/// error yields an error without a new message, so one mistake is reported once.
struct Value {
  enum class Kind { Error, Int, Float, Bool, Symbol, String, List, Tensor, Optimizer };
  Kind kind = Kind::Error;
  int64_t i = 0;
  double f = 0;
  std::string s;                   // Symbol, String, Optimizer name
  std::vector<Value> items;        // List
  std::vector<std::pair<std::string, double>> settings; // Optimizer
  mlir::Value tensor;
  Shape shape;

  static Value error() { return Value(); }
  static Value integer(int64_t v) { Value r; r.kind = Kind::Int; r.i = v; return r; }
  static Value number(double v) { Value r; r.kind = Kind::Float; r.f = v; return r; }
  static Value boolean(bool v) { Value r; r.kind = Kind::Bool; r.i = v; return r; }
  static Value symbol(StringRef v) { Value r; r.kind = Kind::Symbol; r.s = v.str(); return r; }
  static Value string(StringRef v) { Value r; r.kind = Kind::String; r.s = v.str(); return r; }
  static Value ofTensor(mlir::Value t, Shape shape) {
    Value r;
    r.kind = Kind::Tensor;
    r.tensor = t;
    r.shape = std::move(shape);
    return r;
  }

  bool isError() const { return kind == Kind::Error; }

  /// Describes the value for a message: "integer 6", "tensor ?x6x28x28".
  std::string describe() const {
    switch (kind) {
    case Kind::Error: return "an invalid value";
    case Kind::Int: return "integer " + std::to_string(i);
    case Kind::Float: return "number " + formatNumber(f);
    case Kind::Bool: return i ? "true" : "false";
    case Kind::Symbol: return "'" + s + "'";
    case Kind::String: return "string \"" + s + "\"";
    case Kind::List: return "a list of " + std::to_string(items.size());
    case Kind::Tensor: return "tensor " + shapes::format(shape);
    case Kind::Optimizer: return "optimizer " + s;
    }
    return "a value";
  }
};

/// One call's arguments matched to a signature.
struct BoundArgs {
  std::vector<std::optional<Value>> values;
  std::vector<SMLoc> locs;
  const Value *get(size_t index) const {
    return values[index] ? &*values[index] : nullptr;
  }
};

/// A builtin's parameter: name and whether a call must give it.
struct ParamSpec {
  const char *name;
  bool required;
};

using Scope = llvm::StringMap<Value>;

/// Where layer names are counted: the network, or one block instance.
struct NameScope {
  std::string prefix;
  llvm::StringMap<int> counters;
};

class Elaborator {
public:
  Elaborator(mlir::MLIRContext &context, const Module &ast, Diagnostics &diags)
      : context(context), ast(ast), diags(diags), builder(&context) {}

  mlir::OwningOpRef<mlir::ModuleOp> run(llvm::ArrayRef<Override> overrides);

private:
  // Diagnostics.
  void error(SMLoc loc, const Twine &message);
  mlir::Location location(SMLoc loc, StringRef layerName = "");

  // Statements and expressions.
  void execBody(const StmtList &body, Scope &scope);
  void execStmt(const Stmt &stmt, Scope &scope);
  void execTrain(const Stmt &stmt, Scope &scope);
  void inputNormalization(const Stmt &stmt, const Shape &shape, Scope &scope);
  std::optional<mlir::DictionaryAttr> lrSchedule(const Expr &expr, Scope &scope);
  std::optional<mlir::DictionaryAttr> earlyStopping(const Expr &expr, Scope &scope);
  std::optional<mlir::DictionaryAttr> settingCall(const Expr &call, StringRef name,
                                                  llvm::ArrayRef<SettingSpec> specs,
                                                  Scope &scope);
  Value eval(const Expr &expr, Scope &scope);
  Value evalName(const Expr &expr, Scope &scope);
  Value evalBinary(const Expr &expr, Scope &scope);
  Value evalCall(const Expr &expr, Scope &scope);
  Value callBlock(const Decl &block, const Expr &call, Scope &scope);
  std::optional<BoundArgs> bind(const Expr &call, llvm::ArrayRef<ParamSpec> params,
                                Scope &scope);

  // Conversions with messages that name the layer and the argument.
  std::optional<int64_t> toInt(const Value &v, SMLoc loc, const Twine &what,
                               int64_t min, int64_t max);
  std::optional<double> toFloat(const Value &v, SMLoc loc, const Twine &what);
  std::optional<bool> toBool(const Value &v, SMLoc loc, const Twine &what);
  std::optional<std::array<int64_t, 2>> toPair(const Value &v, SMLoc loc,
                                               const Twine &what);
  std::optional<std::array<int64_t, 4>>
  toPads(const Value &v, SMLoc loc, StringRef layer, llvm::ArrayRef<int64_t> input,
         std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride);
  std::optional<StringRef> toActivation(const Value &v, SMLoc loc, StringRef layer);
  const Value *tensorArg(const BoundArgs &args, size_t index, SMLoc callLoc,
                         StringRef layer);
  /// An optional argument: `fallback` when absent, nullopt (reported) when
  /// it is not of the kind expected.
  std::optional<bool> optionalBool(const BoundArgs &args, size_t index,
                                   StringRef layer, StringRef what, bool fallback);
  std::optional<StringRef> optionalActivation(const BoundArgs &args, size_t index,
                                              StringRef layer);

  // Layers.
  std::string layerName(StringRef kind, const BoundArgs &args, size_t nameIndex,
                        SMLoc loc);
  mlir::Value param(StringRef layer, StringRef which, llvm::ArrayRef<int64_t> shape,
                    StringRef init, bool frozen, mlir::Location loc);
  mlir::RankedTensorType tensorType(llvm::ArrayRef<int64_t> shape);
  bool checkShape(const shapes::ShapeResult &result, SMLoc loc, StringRef layer);
  bool countLayer(SMLoc loc);
  Value applyActivation(Value input, StringRef activation, mlir::Location loc,
                        SMLoc at, StringRef layer);

  Value conv2d(const Expr &call, Scope &scope);
  Value dense(const Expr &call, Scope &scope);
  Value pool(const Expr &call, Scope &scope, bool isMax);
  Value batchNorm(const Expr &call, Scope &scope);
  Value dropout(const Expr &call, Scope &scope);
  Value simpleLayer(const Expr &call, Scope &scope, StringRef kind);
  Value addLayer(Value lhs, Value rhs, SMLoc loc, StringRef name);
  Value optimizer(const Expr &call, Scope &scope);

  mlir::MLIRContext &context;
  const Module &ast;
  Diagnostics &diags;
  mlir::OpBuilder builder;
  mlir::ModuleOp module;
  mlir::Block *entry = nullptr;
  mlir::StringAttr filename;

  Scope globals;
  llvm::StringMap<const Decl *> blocks;
  std::vector<NameScope> nameScopes;
  llvm::StringMap<SMLoc> usedLayerNames;
  /// Blocks being expanded, with the call that expanded each (for notes).
  std::vector<std::pair<const Decl *, SMLoc>> callStack;
  std::set<std::pair<const char *, std::string>> reported;
  int frozenDepth = 0;
  int64_t layers = 0;
  int64_t steps = 0;
  bool inNetwork = false;
  bool returned = false;
  Value returnValue;

  // What the network statement produced.
  bool haveInput = false;
  std::optional<Value> output;
  bool sawOutput = false;
  std::string inputName;
  mlir::DictionaryAttr trainSetup;
};

} // namespace

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

void Elaborator::error(SMLoc loc, const Twine &message) {
  // A block expanded sixteen times reports its mistake once.
  std::string text = message.str();
  if (!reported.insert({loc.getPointer(), text}).second)
    return;
  diags.error(loc, text);
  for (auto it = callStack.rbegin(); it != callStack.rend(); ++it)
    diags.note(it->second, "in block '" + it->first->name + "' used here");
}

mlir::Location Elaborator::location(SMLoc loc, StringRef layerName) {
  auto [line, col] = diags.getSourceMgr().getLineAndColumn(loc);
  mlir::Location fileLoc = mlir::FileLineColLoc::get(filename, line, col);
  if (layerName.empty())
    return fileLoc;
  return mlir::NameLoc::get(builder.getStringAttr(layerName), fileLoc);
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

mlir::OwningOpRef<mlir::ModuleOp> Elaborator::run(llvm::ArrayRef<Override> overrides) {
  context.getOrLoadDialect<mlir::net::NetDialect>();
  context.getOrLoadDialect<mlir::func::FuncDialect>();
  llvm::SourceMgr &sm = diags.getSourceMgr();
  filename = builder.getStringAttr(
      sm.getMemoryBuffer(sm.getMainFileID())->getBufferIdentifier());

  const Decl *network = nullptr;
  for (const auto &decl : ast.decls) {
    switch (decl->kind) {
    case Decl::Kind::Const: {
      if (globals.count(decl->name)) {
        error(decl->loc, "constant '" + decl->name + "' is defined twice");
        break;
      }
      globals[decl->name] = eval(*decl->value, globals);
      break;
    }
    case Decl::Kind::Block: {
      auto [it, inserted] = blocks.try_emplace(decl->name, decl.get());
      if (!inserted) {
        error(decl->loc, "block '" + decl->name + "' is defined twice");
        diags.note(it->second->loc, "first defined here");
      }
      break;
    }
    case Decl::Kind::Network:
      if (network) {
        error(decl->loc, "a file holds one network; '" + network->name +
                             "' is already defined");
        diags.note(network->loc, "first network here");
        break;
      }
      network = decl.get();
      break;
    }
  }
  if (!network) {
    diags.error(SMLoc::getFromPointer(sm.getMemoryBuffer(sm.getMainFileID())
                                          ->getBufferStart()),
                "expected a 'network' declaration in the file");
    return nullptr;
  }

  // Network parameters: defaults, overridden by -D name=value.
  Scope scope = globals;
  llvm::StringSet<> known;
  for (const Param &p : network->params)
    known.insert(p.name);
  llvm::StringMap<Value> given;
  for (const Override &o : overrides) {
    if (!known.count(o.name)) {
      std::vector<StringRef> names;
      for (const Param &p : network->params)
        names.push_back(p.name);
      std::string hint = closestMatch(o.name, names);
      std::string list;
      for (StringRef n : names)
        list += (list.empty() ? "" : ", ") + n.str();
      error(network->loc, "-D " + o.name + ": network '" + network->name +
                              "' has no parameter '" + o.name + "'" +
                              (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                              (list.empty() ? " (it has none)" : " (it has: " + list + ")"));
      continue;
    }
    char *end = nullptr;
    errno = 0;
    long long iv = std::strtoll(o.value.c_str(), &end, 10);
    if (!o.value.empty() && *end == '\0' && errno == 0) {
      given[o.name] = Value::integer(iv);
      continue;
    }
    double fv = std::strtod(o.value.c_str(), &end);
    if (!o.value.empty() && *end == '\0' && std::isfinite(fv)) {
      given[o.name] = Value::number(fv);
      continue;
    }
    if (o.value == "true" || o.value == "false") {
      given[o.name] = Value::boolean(o.value == "true");
      continue;
    }
    if (llvm::is_contained(kSymbols, StringRef(o.value))) {
      given[o.name] = Value::symbol(o.value);
      continue;
    }
    std::string words;
    for (const char *sym : kSymbols)
      words += std::string(words.empty() ? "" : ", ") + sym;
    error(network->loc, "-D " + o.name + "=" + o.value +
                            ": expected a number, true, false or one of " + words);
  }
  for (const Param &p : network->params) {
    if (auto it = given.find(p.name); it != given.end()) {
      scope[p.name] = it->second;
    } else if (p.defaultValue) {
      scope[p.name] = eval(*p.defaultValue, scope);
    } else {
      error(p.loc, "network parameter '" + p.name +
                       "' has no default; give it with -D " + p.name + "=VALUE");
      scope[p.name] = Value::error();
    }
  }

  // The module and its forward function; the signature is set at the end.
  module = mlir::ModuleOp::create(location(network->loc));
  module->setAttr("net.network", builder.getStringAttr(network->name));
  builder.setInsertionPointToEnd(module.getBody());
  auto func = builder.create<mlir::func::FuncOp>(
      location(network->loc), "forward", builder.getFunctionType({}, {}));
  entry = func.addEntryBlock();
  builder.setInsertionPointToEnd(entry);

  nameScopes.push_back(NameScope{});
  inNetwork = true;
  execBody(network->body, scope);

  if (!haveInput)
    error(network->loc, "network '" + network->name +
                            "' has no 'input' statement (e.g. input image[1, 28, 28])");
  if (!sawOutput)
    error(network->loc, "network '" + network->name +
                            "' has no 'output' statement naming its result");
  if (diags.hadError()) {
    module->erase();
    return nullptr;
  }

  builder.create<mlir::func::ReturnOp>(location(network->loc), output->tensor);
  func.setFunctionType(builder.getFunctionType(entry->getArgumentTypes(),
                                               {output->tensor.getType()}));
  func.setArgAttr(0, "net.input", builder.getStringAttr(inputName));
  if (output->shape.size() == 2)
    module->setAttr("net.classes", builder.getI64IntegerAttr(output->shape[1]));
  if (!trainSetup) {
    // Keras' defaults for compile() and fit().
    execTrain(Stmt(Stmt::Kind::Train, network->loc), scope);
  }
  module->setAttr("net.train", trainSetup);

  mlir::OwningOpRef<mlir::ModuleOp> result(module);
  if (mlir::failed(mlir::verify(*result))) {
    diags.error(network->loc, "internal error: the generated IR does not verify "
                              "(the messages above say where); please report it");
    return nullptr;
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

void Elaborator::execBody(const StmtList &body, Scope &scope) {
  for (const auto &stmt : body) {
    if (returned) {
      error(stmt->loc, "nothing may follow 'return' in a block");
      return;
    }
    if (++steps > kMaxSteps) {
      if (steps == kMaxSteps + 1)
        error(stmt->loc, "elaboration runs more than " + Twine(kMaxSteps) +
                             " statements; is a 'repeat' count too large?");
      return;
    }
    execStmt(*stmt, scope);
  }
}

void Elaborator::execStmt(const Stmt &stmt, Scope &scope) {
  switch (stmt.kind) {
  case Stmt::Kind::Input: {
    if (!inNetwork || !callStack.empty()) {
      error(stmt.loc, "'input' belongs in the network, not in a block");
      return;
    }
    if (haveInput) {
      error(stmt.loc, "a network has one input; '" + stmt.name + "' is a second");
      return;
    }
    haveInput = true;
    // Until the declaration proves good, uses of the name stay quiet.
    scope[stmt.name] = Value::error();
    Value shapeValue = eval(*stmt.value, scope);
    if (shapeValue.isError())
      return;
    Shape shape{mlir::ShapedType::kDynamic};
    int64_t elements = 1;
    bool ok = shapeValue.items.size() == 1 || shapeValue.items.size() == 3;
    if (!ok)
      error(stmt.value->loc, "input '" + stmt.name +
                                 "' expects [channels, height, width] or [features], got " +
                                 Twine(shapeValue.items.size()) + " dimensions");
    for (const Value &dim : shapeValue.items) {
      auto d = toInt(dim, stmt.value->loc, "each input dimension", 1, 1 << 20);
      if (!d)
        return;
      if (__builtin_mul_overflow(elements, *d, &elements) ||
          elements > shapes::kMaxFeatures) {
        error(stmt.value->loc, "input '" + stmt.name + "' is too large (over 2^40 values)");
        return;
      }
      shape.push_back(*d);
    }
    if (!ok)
      return;
    mlir::Value arg = entry->addArgument(tensorType(shape), location(stmt.loc, stmt.name));
    inputName = stmt.name;
    scope[stmt.name] = Value::ofTensor(arg, shape);
    if (stmt.options)
      inputNormalization(stmt, shape, scope);
    return;
  }
  case Stmt::Kind::Output: {
    if (!inNetwork || !callStack.empty()) {
      error(stmt.loc, "'output' belongs in the network; a block ends with 'return'");
      return;
    }
    sawOutput = true;
    Value v = eval(*stmt.value, scope);
    if (v.isError())
      return;
    if (v.kind != Value::Kind::Tensor) {
      error(stmt.value->loc, "'output' expects a tensor, got " + v.describe());
      return;
    }
    if (output) {
      error(stmt.loc, "a network has one output");
      return;
    }
    output = v;
    return;
  }
  case Stmt::Kind::Return: {
    if (callStack.empty()) {
      error(stmt.loc, "'return' ends a block; the network names its result with 'output'");
      return;
    }
    returnValue = eval(*stmt.value, scope);
    returned = true;
    return;
  }
  case Stmt::Kind::Assign:
    scope[stmt.name] = eval(*stmt.value, scope);
    return;
  case Stmt::Kind::Repeat: {
    Value count = eval(*stmt.value, scope);
    auto n = toInt(count, stmt.value->loc, "'repeat' count", 0, kMaxRepeat);
    if (!n)
      return;
    for (int64_t i = 0; i < *n && !returned; ++i) {
      unsigned before = diags.errorCount();
      execBody(stmt.body, scope);
      if (diags.errorCount() != before)
        return; // the same mistake again on every pass helps no one
    }
    return;
  }
  case Stmt::Kind::Frozen:
    ++frozenDepth;
    execBody(stmt.body, scope);
    --frozenDepth;
    return;
  case Stmt::Kind::Train:
    if (!inNetwork || !callStack.empty()) {
      error(stmt.loc, "'train' belongs in the network");
      return;
    }
    if (trainSetup) {
      error(stmt.loc, "a network has one 'train' set-up");
      return;
    }
    execTrain(stmt, scope);
    return;
  }
}

/// The set-up a Keras user writes in compile() and fit(); Keras' defaults for
/// what is not given.
void Elaborator::execTrain(const Stmt &stmt, Scope &scope) {
  std::string loss = "cross_entropy";
  Value opt;
  int64_t batch = 32, epochs = 1;
  std::optional<mlir::DictionaryAttr> schedule, stopping;
  static const StringRef kSettings[] = {"loss",   "optimizer",   "batch",
                                        "epochs", "lr_schedule", "early_stopping"};
  for (const auto &setting : stmt.body) {
    if (!llvm::is_contained(kSettings, StringRef(setting->name))) {
      std::string hint = closestMatch(setting->name, kSettings);
      error(setting->loc, "unknown training setting '" + setting->name + "'" +
                              (hint.empty() ? "; expected loss, optimizer, batch, epochs, "
                                              "lr_schedule or early_stopping"
                                            : "; did you mean '" + hint + "'?"));
      continue;
    }
    // Schedules are named only here, so that a block named 'step' stays usable.
    if (setting->name == "lr_schedule") {
      if (auto d = lrSchedule(*setting->value, scope))
        schedule = *d;
      continue;
    }
    if (setting->name == "early_stopping") {
      if (auto d = earlyStopping(*setting->value, scope))
        stopping = *d;
      continue;
    }
    Value v = eval(*setting->value, scope);
    if (v.isError())
      continue;
    SMLoc at = setting->value->loc;
    if (setting->name == "loss") {
      if (v.kind != Value::Kind::Symbol || v.s != "cross_entropy")
        error(at, "'loss' expects cross_entropy, got " + v.describe());
    } else if (setting->name == "optimizer") {
      if (v.kind != Value::Kind::Optimizer)
        error(at, "'optimizer' expects sgd(...) or adam(...), got " + v.describe());
      else
        opt = v;
    } else if (setting->name == "batch") {
      if (auto b = toInt(v, at, "'batch'", 1, 1 << 20))
        batch = *b;
    } else if (setting->name == "epochs") {
      if (auto e = toInt(v, at, "'epochs'", 1, 1000000))
        epochs = *e;
    }
  }
  if (opt.kind != Value::Kind::Optimizer) {
    opt.kind = Value::Kind::Optimizer;
    opt.s = "adam";
    opt.settings = {{"lr", 0.001}, {"beta1", 0.9}, {"beta2", 0.999}, {"epsilon", 1e-7}};
  }
  llvm::SmallVector<mlir::NamedAttribute> optAttrs;
  optAttrs.push_back(builder.getNamedAttr("name", builder.getStringAttr(opt.s)));
  for (auto &[name, value] : opt.settings)
    optAttrs.push_back(builder.getNamedAttr(name, builder.getF64FloatAttr(value)));
  llvm::SmallVector<mlir::NamedAttribute> setup = {
      builder.getNamedAttr("batch", builder.getI64IntegerAttr(batch)),
      builder.getNamedAttr("epochs", builder.getI64IntegerAttr(epochs)),
      builder.getNamedAttr("loss", builder.getStringAttr(loss)),
      builder.getNamedAttr("optimizer", builder.getDictionaryAttr(optAttrs)),
  };
  // Absent: a constant rate and no early stopping.
  if (schedule && *schedule)
    setup.push_back(builder.getNamedAttr("lr_schedule", *schedule));
  if (stopping && *stopping)
    setup.push_back(builder.getNamedAttr("early_stopping", *stopping));
  trainSetup = builder.getDictionaryAttr(setup);
}

/// input image[3, 224, 224](mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225]):
/// one value for every channel or one per channel; std above 0.
void Elaborator::inputNormalization(const Stmt &stmt, const Shape &shape, Scope &scope) {
  static const ParamSpec kParams[] = {{"mean", false}, {"std", false}};
  auto args = bind(*stmt.options, kParams, scope);
  if (!args)
    return;
  int64_t channels = shape.size() == 4 ? shape[1] : 1;
  llvm::SmallVector<mlir::NamedAttribute> attrs;
  bool ok = true;
  for (size_t i = 0; i < 2; ++i) {
    StringRef name = kParams[i].name;
    llvm::SmallVector<double> values(size_t(channels), i == 0 ? 0.0 : 1.0);
    if (const Value *v = args->get(i)) {
      SMLoc at = args->locs[i];
      std::vector<Value> items = v->kind == Value::Kind::List ? v->items : std::vector<Value>{*v};
      if (items.size() != 1 && int64_t(items.size()) != channels) {
        error(at, "input '" + stmt.name + "' has " + Twine(channels) +
                      (channels == 1 ? " channel; '" + name + "' expects one value"
                                     : " channels; '" + name + "' expects one value or " +
                                           Twine(channels)) +
                      ", got " + v->describe());
        ok = false;
        continue;
      }
      for (size_t c = 0; c < items.size(); ++c) {
        auto f = toFloat(items[c], at, "'" + name + "'");
        if (f && (!std::isfinite(*f) || (i == 1 && !(*f > 0)))) {
          error(at, "input '" + stmt.name + "' expects '" + name + "' " +
                        (i == 1 ? "above 0" : "to be finite") + ", got " + formatNumber(*f));
          f.reset();
        }
        if (!f) {
          ok = false;
          break;
        }
        values[c] = *f;
      }
      if (items.size() == 1)
        values.assign(size_t(channels), values[0]);
    }
    attrs.push_back(builder.getNamedAttr(name, builder.getDenseF64ArrayAttr(values)));
  }
  if (!ok)
    return;
  module->setAttr("net.input_normalization", builder.getDictionaryAttr(attrs));
}

/// lr_schedule ::= constant | step(step_size, gamma) | exponential(decay)
///               | cosine(min_lr) | one_cycle | reduce_on_plateau(patience, factor, min_lr)
/// (each with or without parentheses).
std::optional<mlir::DictionaryAttr> Elaborator::lrSchedule(const Expr &expr, Scope &scope) {
  std::vector<StringRef> names(std::begin(kSchedules), std::end(kSchedules));
  std::string expected;
  for (size_t i = 0; i < names.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i].str();
  if (expr.kind == Expr::Kind::Call || expr.kind == Expr::Kind::Name) {
    if (llvm::is_contained(kSchedules, StringRef(expr.text))) {
      if (expr.kind == Expr::Kind::Call)
        return settingCall(expr, expr.text, scheduleSpecs(expr.text), scope);
      Expr call(Expr::Kind::Call, expr.loc); // `cosine` is `cosine()`
      call.text = expr.text;
      return settingCall(call, expr.text, scheduleSpecs(expr.text), scope);
    }
    // A misspelt schedule, unless the name is a value of the scope.
    if (expr.kind == Expr::Kind::Call || !scope.count(expr.text)) {
      std::string hint = closestMatch(expr.text, names);
      error(expr.loc, "'lr_schedule' expects " + expected + ", got '" + expr.text + "'" +
                          (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      return std::nullopt;
    }
  }
  Value v = eval(expr, scope);
  if (!v.isError())
    error(expr.loc, "'lr_schedule' expects " + expected + ", got " + v.describe());
  return std::nullopt;
}

/// early_stopping ::= early_stopping(monitor, patience, min_delta, restore_best_weights)
///                  | true | false
/// Returns a null attribute for `false`.
std::optional<mlir::DictionaryAttr> Elaborator::earlyStopping(const Expr &expr, Scope &scope) {
  if (expr.kind == Expr::Kind::Call && expr.text == "early_stopping")
    return settingCall(expr, "early_stopping", kEarlyStopping, scope);
  Expr none(Expr::Kind::Call, expr.loc);
  none.text = "early_stopping";
  std::string got;
  if (expr.kind == Expr::Kind::Call) {
    std::string hint = closestMatch(expr.text, {StringRef("early_stopping")});
    got = "'" + expr.text + "(...)'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?");
  } else {
    Value v = eval(expr, scope);
    if (v.isError())
      return std::nullopt;
    if (v.kind == Value::Kind::Bool)
      return v.i ? settingCall(none, "early_stopping", kEarlyStopping, scope)
                 : mlir::DictionaryAttr();
    got = v.describe();
  }
  error(expr.loc, "'early_stopping' expects early_stopping(monitor = ..., patience = ..., "
                  "min_delta = ..., restore_best_weights = ...), true or false, got " + got);
  return std::nullopt;
}

/// The arguments of a schedule or of early_stopping(...), checked against
/// `specs` and completed with their defaults, as a dictionary with `name`
/// (schedules only).
std::optional<mlir::DictionaryAttr>
Elaborator::settingCall(const Expr &call, StringRef name, llvm::ArrayRef<SettingSpec> specs,
                        Scope &scope) {
  std::vector<ParamSpec> params;
  for (const SettingSpec &spec : specs)
    params.push_back({spec.name, false});
  auto args = bind(call, params, scope);
  if (!args)
    return std::nullopt;
  llvm::SmallVector<mlir::NamedAttribute> attrs;
  if (name != "early_stopping")
    attrs.push_back(builder.getNamedAttr("name", builder.getStringAttr(name)));
  bool ok = true;
  for (size_t i = 0; i < specs.size(); ++i) {
    const SettingSpec &spec = specs[i];
    const Value *v = args->get(i);
    SMLoc at = args->locs[i];
    auto outOfRange = [&](const std::string &got) {
      error(at, name + " expects '" + spec.name + "' " + spec.range + ", got " + got);
      ok = false;
    };
    mlir::Attribute attr;
    switch (spec.type) {
    case SettingType::Int: {
      int64_t n = int64_t(spec.fallback);
      if (v && v->kind != Value::Kind::Int) {
        error(at, name + " expects '" + spec.name + "' to be an integer, got " + v->describe());
        ok = false;
        continue;
      }
      if (v && (v->i < int64_t(spec.low) || v->i > int64_t(spec.high))) {
        outOfRange(std::to_string(v->i));
        continue;
      }
      if (v)
        n = v->i;
      attr = builder.getI64IntegerAttr(n);
      break;
    }
    case SettingType::Real: {
      double x = spec.fallback;
      if (v) {
        auto f = toFloat(*v, at, "'" + Twine(spec.name) + "'");
        if (!f) {
          ok = false;
          continue;
        }
        x = *f;
        if (!std::isfinite(x) || x < spec.low || x > spec.high ||
            (spec.lowOpen && x == spec.low) || (spec.highOpen && x == spec.high)) {
          outOfRange(formatNumber(x));
          continue;
        }
      }
      attr = builder.getF64FloatAttr(x);
      break;
    }
    case SettingType::Bool: {
      bool b = spec.fallback != 0;
      if (v) {
        auto given = toBool(*v, at, "'" + Twine(spec.name) + "'");
        if (!given) {
          ok = false;
          continue;
        }
        b = *given;
      }
      attr = builder.getBoolAttr(b);
      break;
    }
    case SettingType::Monitor: {
      std::string monitor = "val_loss";
      if (v) {
        if (v->kind != Value::Kind::Symbol ||
            (v->s != "val_loss" && v->s != "val_accuracy")) {
          if (!v->isError())
            error(at, name + " expects '" + spec.name + "' to be " + spec.range + ", got " +
                          v->describe());
          ok = false;
          continue;
        }
        monitor = v->s;
      }
      attr = builder.getStringAttr(monitor);
      break;
    }
    }
    attrs.push_back(builder.getNamedAttr(spec.name, attr));
  }
  if (!ok)
    return std::nullopt;
  return builder.getDictionaryAttr(attrs);
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

Value Elaborator::eval(const Expr &expr, Scope &scope) {
  switch (expr.kind) {
  case Expr::Kind::Integer: return Value::integer(expr.intValue);
  case Expr::Kind::Float: return Value::number(expr.floatValue);
  case Expr::Kind::Bool: return Value::boolean(expr.intValue);
  case Expr::Kind::String: return Value::string(expr.text);
  case Expr::Kind::Name: return evalName(expr, scope);
  case Expr::Kind::List: {
    Value list;
    list.kind = Value::Kind::List;
    for (const auto &item : expr.operands) {
      Value v = eval(*item, scope);
      if (v.isError())
        return v;
      list.items.push_back(std::move(v));
    }
    return list;
  }
  case Expr::Kind::Negate: {
    Value v = eval(*expr.operands[0], scope);
    if (v.kind == Value::Kind::Int) {
      if (v.i == INT64_MIN) {
        error(expr.loc, "integer overflow in negation");
        return Value::error();
      }
      return Value::integer(-v.i);
    }
    if (v.kind == Value::Kind::Float)
      return Value::number(-v.f);
    if (!v.isError())
      error(expr.loc, "'-' expects a number, got " + v.describe());
    return Value::error();
  }
  case Expr::Kind::Binary: return evalBinary(expr, scope);
  case Expr::Kind::Call: return evalCall(expr, scope);
  }
  return Value::error();
}

Value Elaborator::evalName(const Expr &expr, Scope &scope) {
  if (auto it = scope.find(expr.text); it != scope.end())
    return it->second;
  for (const char *sym : kSymbols)
    if (expr.text == sym)
      return Value::symbol(sym);
  std::vector<StringRef> candidates;
  for (auto &entry : scope)
    candidates.push_back(entry.getKey());
  for (const char *sym : kSymbols)
    candidates.push_back(sym);
  std::string hint = closestMatch(expr.text, candidates);
  if (blocks.count(expr.text) || expr.text == "conv2d" || expr.text == "dense")
    error(expr.loc, "'" + expr.text + "' is a layer; use it as '" + expr.text +
                        "(...)' or after '->'");
  else
    error(expr.loc, "unknown name '" + expr.text + "'" +
                        (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  return Value::error();
}

Value Elaborator::evalBinary(const Expr &expr, Scope &scope) {
  Value lhs = eval(*expr.operands[0], scope);
  Value rhs = eval(*expr.operands[1], scope);
  if (lhs.isError() || rhs.isError())
    return Value::error();
  StringRef op = expr.text;
  if (lhs.kind == Value::Kind::Tensor && rhs.kind == Value::Kind::Tensor && op == "+")
    return addLayer(lhs, rhs, expr.loc, "");
  if (lhs.kind == Value::Kind::Int && rhs.kind == Value::Kind::Int) {
    int64_t r = 0;
    bool overflow = false;
    if (op == "+") {
      overflow = __builtin_add_overflow(lhs.i, rhs.i, &r);
    } else if (op == "-") {
      overflow = __builtin_sub_overflow(lhs.i, rhs.i, &r);
    } else if (op == "*") {
      overflow = __builtin_mul_overflow(lhs.i, rhs.i, &r);
    } else {
      if (rhs.i == 0) {
        error(expr.loc, "division by zero");
        return Value::error();
      }
      if (lhs.i == INT64_MIN && rhs.i == -1)
        overflow = true;
      else
        r = op == "/" ? lhs.i / rhs.i : lhs.i % rhs.i;
    }
    if (overflow) {
      error(expr.loc, "integer overflow in " + std::to_string(lhs.i) + " " + op.str() +
                          " " + std::to_string(rhs.i));
      return Value::error();
    }
    return Value::integer(r);
  }
  auto isNumber = [](const Value &v) {
    return v.kind == Value::Kind::Int || v.kind == Value::Kind::Float;
  };
  if (isNumber(lhs) && isNumber(rhs) && op != "%") {
    double a = lhs.kind == Value::Kind::Int ? double(lhs.i) : lhs.f;
    double b = rhs.kind == Value::Kind::Int ? double(rhs.i) : rhs.f;
    if (op == "/" && b == 0) {
      error(expr.loc, "division by zero");
      return Value::error();
    }
    double r = op == "+" ? a + b : op == "-" ? a - b : op == "*" ? a * b : a / b;
    return Value::number(r);
  }
  error(expr.loc, "'" + op + "' cannot combine " + lhs.describe() + " and " +
                      rhs.describe() +
                      (op == "+" ? " (two tensors of one shape add; numbers add)" : ""));
  return Value::error();
}

std::optional<BoundArgs> Elaborator::bind(const Expr &call,
                                          llvm::ArrayRef<ParamSpec> params,
                                          Scope &scope) {
  BoundArgs bound;
  bound.values.resize(params.size());
  bound.locs.assign(params.size(), call.loc);
  bool ok = true;
  size_t position = 0;
  bool sawNamed = false;
  for (const Arg &arg : call.args) {
    size_t index = params.size();
    if (arg.name.empty()) {
      if (sawNamed) {
        error(arg.loc, "positional argument after a named one in '" + call.text + "'");
        ok = false;
        continue;
      }
      index = position++;
      if (index >= params.size()) {
        error(arg.loc, "'" + call.text + "' takes at most " + Twine(params.size()) +
                           " arguments" + (call.chained ? " (its input comes through '->')" : ""));
        ok = false;
        continue;
      }
    } else {
      sawNamed = true;
      for (size_t i = 0; i < params.size(); ++i)
        if (arg.name == params[i].name)
          index = i;
      if (index == params.size()) {
        std::vector<StringRef> names;
        for (const ParamSpec &p : params)
          names.push_back(p.name);
        std::string hint = closestMatch(arg.name, names);
        std::string list;
        for (StringRef n : names)
          list += (list.empty() ? "" : ", ") + n.str();
        error(arg.loc, "'" + call.text + "' has no argument '" + arg.name + "'" +
                           (!hint.empty()  ? "; did you mean '" + hint + "'?"
                            : list.empty() ? std::string(" (it takes none)")
                                           : " (it takes " + list + ")"));
        ok = false;
        continue;
      }
      if (bound.values[index]) {
        error(arg.loc, "argument '" + arg.name + "' of '" + call.text + "' is given twice");
        ok = false;
        continue;
      }
    }
    Value v = eval(*arg.value, scope);
    if (v.isError())
      ok = false;
    bound.values[index] = std::move(v);
    bound.locs[index] = arg.loc;
  }
  // After a misspelt or misplaced argument, "missing" would only repeat it.
  for (size_t i = 0; ok && i < params.size(); ++i) {
    if (params[i].required && !bound.values[i]) {
      error(call.loc, "'" + call.text + "' needs its argument '" + params[i].name + "'");
      ok = false;
    }
  }
  if (!ok)
    return std::nullopt;
  return bound;
}

Value Elaborator::evalCall(const Expr &call, Scope &scope) {
  StringRef callee = call.text;
  if (callee == "conv2d") return conv2d(call, scope);
  if (callee == "dense") return dense(call, scope);
  if (callee == "max_pool") return pool(call, scope, /*isMax=*/true);
  if (callee == "avg_pool") return pool(call, scope, /*isMax=*/false);
  if (callee == "batch_norm") return batchNorm(call, scope);
  if (callee == "dropout") return dropout(call, scope);
  if (callee == "relu" || callee == "sigmoid" || callee == "tanh" ||
      callee == "softmax" || callee == "flatten" || callee == "global_avg_pool")
    return simpleLayer(call, scope, callee);
  if (callee == "add") {
    static const ParamSpec kParams[] = {{"lhs", true}, {"rhs", true}, {"name", false}};
    auto args = bind(call, kParams, scope);
    if (!args)
      return Value::error();
    const Value *lhs = tensorArg(*args, 0, call.loc, "add");
    const Value *rhs = tensorArg(*args, 1, call.loc, "add");
    if (!lhs || !rhs)
      return Value::error();
    std::string name;
    if (const Value *n = args->get(2)) {
      if (n->kind != Value::Kind::String) {
        error(args->locs[2], "'name' expects a string, got " + n->describe());
        return Value::error();
      }
      name = n->s;
    }
    return addLayer(*lhs, *rhs, call.loc, name);
  }
  if (callee == "sgd" || callee == "adam")
    return optimizer(call, scope);
  if (auto it = blocks.find(callee); it != blocks.end())
    return callBlock(*it->second, call, scope);

  std::vector<StringRef> names = {"conv2d", "dense",   "max_pool", "avg_pool",
                                  "batch_norm", "dropout", "relu", "sigmoid",
                                  "tanh", "softmax", "flatten", "global_avg_pool",
                                  "add", "sgd", "adam"};
  for (auto &b : blocks)
    names.push_back(b.getKey());
  std::string hint = closestMatch(callee, names);
  error(call.loc, "unknown layer or block '" + callee + "'" +
                      (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  return Value::error();
}

Value Elaborator::callBlock(const Decl &block, const Expr &call, Scope &scope) {
  for (auto &[active, at] : callStack) {
    if (active == &block) {
      error(call.loc, "block '" + block.name + "' uses itself; blocks cannot recurse "
                      "(use 'repeat' to stack layers)");
      return Value::error();
    }
  }
  if (callStack.size() >= kMaxBlockDepth) {
    error(call.loc, "blocks nested deeper than " + Twine(kMaxBlockDepth) + " levels");
    return Value::error();
  }
  std::vector<ParamSpec> specs;
  for (const Param &p : block.params)
    specs.push_back({p.name.c_str(), !p.defaultValue});
  auto args = bind(call, specs, scope);
  if (!args)
    return Value::error();

  // Defaults see the constants and the parameters before them.
  Scope inner = globals;
  callStack.push_back({&block, call.loc});
  for (size_t i = 0; i < block.params.size(); ++i) {
    if (args->values[i])
      inner[block.params[i].name] = *args->values[i];
    else
      inner[block.params[i].name] = eval(*block.params[i].defaultValue, inner);
  }

  NameScope &outer = nameScopes.back();
  int n = ++outer.counters[block.name];
  nameScopes.push_back(NameScope{outer.prefix + block.name + "_" + std::to_string(n) + "/", {}});
  bool savedReturned = returned;
  returned = false;
  returnValue = Value::error();
  execBody(block.body, inner);
  Value result = returnValue;
  bool didReturn = returned;
  if (!didReturn)
    error(block.loc, "block '" + block.name + "' ends without 'return'");
  returned = savedReturned;
  nameScopes.pop_back();
  callStack.pop_back();
  return didReturn ? result : Value::error();
}

Value Elaborator::optimizer(const Expr &call, Scope &scope) {
  bool isAdam = call.text == "adam";
  // Keras' defaults.
  std::vector<std::pair<std::string, double>> settings =
      isAdam ? std::vector<std::pair<std::string, double>>{{"lr", 0.001},
                                                           {"beta1", 0.9},
                                                           {"beta2", 0.999},
                                                           {"epsilon", 1e-7}}
             : std::vector<std::pair<std::string, double>>{
                   {"lr", 0.01}, {"momentum", 0.0}, {"nesterov", 0.0}};
  std::vector<ParamSpec> specs;
  for (auto &s : settings)
    specs.push_back({s.first.c_str(), false});
  auto args = bind(call, specs, scope);
  if (!args)
    return Value::error();
  for (size_t i = 0; i < settings.size(); ++i) {
    const Value *v = args->get(i);
    if (!v)
      continue;
    StringRef name = settings[i].first;
    if (name == "nesterov") {
      auto b = toBool(*v, args->locs[i], "'nesterov'");
      if (!b)
        return Value::error();
      settings[i].second = *b;
      continue;
    }
    auto f = toFloat(*v, args->locs[i], "'" + name + "'");
    if (!f)
      return Value::error();
    auto range = name == "beta1" || name == "beta2" || name == "momentum"
                     ? mlir::net::ranges::Range::Unit
                     : mlir::net::ranges::Range::Positive;
    if (!mlir::net::ranges::withinAsFloat32(*f, range)) {
      error(args->locs[i], call.text + " expects '" + name + "' " + expectedRange(*f, range) +
                               ", got " + formatNumber(*f));
      return Value::error();
    }
    settings[i].second = *f;
  }
  Value opt;
  opt.kind = Value::Kind::Optimizer;
  opt.s = call.text;
  opt.settings = std::move(settings);
  return opt;
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

std::optional<int64_t> Elaborator::toInt(const Value &v, SMLoc loc, const Twine &what,
                                         int64_t min, int64_t max) {
  if (v.isError())
    return std::nullopt;
  if (v.kind != Value::Kind::Int) {
    error(loc, what + " expects an integer, got " + v.describe());
    return std::nullopt;
  }
  if (v.i < min || v.i > max) {
    error(loc, what + " expects an integer in [" + Twine(min) + ", " + Twine(max) +
                   "], got " + Twine(v.i));
    return std::nullopt;
  }
  return v.i;
}

std::optional<double> Elaborator::toFloat(const Value &v, SMLoc loc, const Twine &what) {
  if (v.kind == Value::Kind::Int)
    return double(v.i);
  if (v.kind == Value::Kind::Float)
    return v.f;
  if (!v.isError())
    error(loc, what + " expects a number, got " + v.describe());
  return std::nullopt;
}

std::optional<bool> Elaborator::toBool(const Value &v, SMLoc loc, const Twine &what) {
  if (v.kind == Value::Kind::Bool)
    return v.i != 0;
  if (!v.isError())
    error(loc, what + " expects true or false, got " + v.describe());
  return std::nullopt;
}

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

mlir::OwningOpRef<mlir::ModuleOp> net::dsl::mlirGen(mlir::MLIRContext &context,
                                                    const Module &module,
                                                    Diagnostics &diags,
                                                    llvm::ArrayRef<Override> overrides) {
  return Elaborator(context, module, diags).run(overrides);
}
