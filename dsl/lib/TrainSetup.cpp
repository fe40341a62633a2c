//===- TrainSetup.cpp - The `train` statement of a .net network -----------===//
//
// The train set-up of elaboration (Elaborator.h names the other parts): what
// a Keras user writes in compile() and fit() – loss, optimizer (sgd, adam),
// batch, epochs – with the learning-rate schedules and early stopping that
// netrun's flags of the same meaning accept, checked against the same ranges
// and completed with the same defaults. The result is the module's
// `net.train` dictionary.
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <cmath>
#include <iterator>

namespace net::dsl::elaboration {

namespace {

/// The learning-rate schedules of `lr_schedule = ...`: netrun's
/// --lr-schedule names with '_' for '-'.
const char *const kSchedules[] = {"constant", "step",      "exponential",
                                  "cosine",   "one_cycle", "reduce_on_plateau"};

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

} // namespace

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
    if (auto attr = settingAttr(specs[i], args->get(i), args->locs[i], name))
      attrs.push_back(builder.getNamedAttr(specs[i].name, *attr));
    else
      ok = false;
  }
  if (!ok)
    return std::nullopt;
  return builder.getDictionaryAttr(attrs);
}

/// One argument of `name`(...) as its attribute: `v` checked against `spec`,
/// or the default when absent; nullopt after reporting what is wrong.
std::optional<mlir::Attribute> Elaborator::settingAttr(const SettingSpec &spec,
                                                       const Value *v, SMLoc at,
                                                       StringRef name) {
  auto outOfRange = [&](const std::string &got) {
    error(at, name + " expects '" + spec.name + "' " + spec.range + ", got " + got);
  };
  switch (spec.type) {
  case SettingType::Int: {
    int64_t n = int64_t(spec.fallback);
    if (v && v->kind != Value::Kind::Int) {
      error(at, name + " expects '" + spec.name + "' to be an integer, got " + v->describe());
      return std::nullopt;
    }
    if (v && (v->i < int64_t(spec.low) || v->i > int64_t(spec.high))) {
      outOfRange(std::to_string(v->i));
      return std::nullopt;
    }
    if (v)
      n = v->i;
    return builder.getI64IntegerAttr(n);
  }
  case SettingType::Real: {
    double x = spec.fallback;
    if (v) {
      auto f = toFloat(*v, at, "'" + Twine(spec.name) + "'");
      if (!f)
        return std::nullopt;
      x = *f;
      if (!std::isfinite(x) || x < spec.low || x > spec.high ||
          (spec.lowOpen && x == spec.low) || (spec.highOpen && x == spec.high)) {
        outOfRange(formatNumber(x));
        return std::nullopt;
      }
    }
    return builder.getF64FloatAttr(x);
  }
  case SettingType::Bool: {
    bool b = spec.fallback != 0;
    if (v) {
      auto given = toBool(*v, at, "'" + Twine(spec.name) + "'");
      if (!given)
        return std::nullopt;
      b = *given;
    }
    return builder.getBoolAttr(b);
  }
  case SettingType::Monitor: {
    std::string monitor = "val_loss";
    if (v) {
      if (v->kind != Value::Kind::Symbol ||
          (v->s != "val_loss" && v->s != "val_accuracy")) {
        if (!v->isError())
          error(at, name + " expects '" + spec.name + "' to be " + spec.range + ", got " +
                        v->describe());
        return std::nullopt;
      }
      monitor = v->s;
    }
    return builder.getStringAttr(monitor);
  }
  }
  return std::nullopt;
}

/// optimizer ::= sgd(lr, momentum, nesterov) | adam(lr, beta1, beta2, epsilon)
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

} // namespace net::dsl::elaboration
