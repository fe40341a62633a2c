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

namespace netc::dsl::elaboration {

namespace {

namespace settings = netc::settings;
using settings::SettingId;
using SettingType = settings::Type;

/// The learning-rate schedules of `lr_schedule = ...`: netrun's
/// --lr-schedule names with '_' for '-'.
std::vector<StringRef> scheduleNames() {
  std::vector<StringRef> names;
  for (const settings::Schedule &s : settings::kSchedules)
    names.push_back(s.netName);
  return names;
}

/// The arguments of schedule `name` (netrun: --lr-step-size, --lr-gamma, ...).
llvm::ArrayRef<SettingId> scheduleSettings(StringRef name) {
  for (const settings::Schedule &s : settings::kSchedules)
    if (name == s.netName)
      return llvm::ArrayRef<SettingId>(s.args, size_t(s.numArgs));
  return {};
}

/// The arguments of the settings of `group`, in table order.
std::vector<SettingId> groupSettings(settings::Group group) {
  std::vector<SettingId> ids;
  for (const settings::Setting &s : settings::kSettings)
    if (s.group == group)
      ids.push_back(s.id);
  return ids;
}

/// early_stopping(monitor, patience, min_delta, restore_best_weights), as
/// netrun's --monitor, --patience, --min-delta, --restore-best-weights.
const std::vector<SettingId> &earlyStoppingSettings() {
  static const std::vector<SettingId> ids = groupSettings(settings::Group::EarlyStopping);
  return ids;
}

/// The settings a `train { }` block names: loss and optimizer, the run's
/// settings with a .net name (batch, epochs), the schedule, early stopping.
const std::vector<StringRef> &trainSettingNames() {
  static const std::vector<StringRef> names = [] {
    std::vector<StringRef> out = {"loss", "optimizer"};
    for (const settings::Setting &s : settings::kSettings)
      if (s.group == settings::Group::Run && *s.netName)
        out.push_back(s.netName);
    out.push_back("lr_schedule");
    out.push_back("early_stopping");
    return out;
  }();
  return names;
}

/// The .net-named run setting `name` (batch, epochs), or nullptr.
const settings::Setting *runSetting(StringRef name) {
  for (const settings::Setting &s : settings::kSettings)
    if (s.group == settings::Group::Run && name == s.netName)
      return &s;
  return nullptr;
}

/// The arguments of optimizer `name` (sgd, adam) with their defaults.
std::vector<const settings::OptimizerSetting *> optimizerSettings(StringRef name) {
  std::vector<const settings::OptimizerSetting *> out;
  for (const settings::OptimizerSetting &s : settings::kOptimizerSettings)
    if (name == s.optimizer)
      out.push_back(&s);
  return out;
}

/// The optimizer of a `train { }` block without one: Adam, Keras' defaults.
Value defaultOptimizer() {
  Value opt;
  opt.kind = Value::Kind::Optimizer;
  opt.s = "adam";
  for (const settings::OptimizerSetting *s : optimizerSettings(opt.s))
    opt.settings.push_back({s->netName, s->fallback});
  return opt;
}

} // namespace

/// The set-up a Keras user writes in compile() and fit(); Keras' defaults for
/// what is not given.
void Elaborator::execTrain(const Stmt &stmt, Scope &scope) {
  std::string loss = "cross_entropy";
  Value opt;
  int64_t batch = int64_t(settings::setting(settings::Batch).fallback);
  int64_t epochs = int64_t(settings::setting(settings::Epochs).fallback);
  std::optional<mlir::DictionaryAttr> schedule, stopping;
  const std::vector<StringRef> &names = trainSettingNames();
  for (const auto &setting : stmt.body) {
    if (!llvm::is_contained(names, StringRef(setting->name))) {
      std::string hint = closestMatch(setting->name, names);
      std::string expected;
      for (size_t i = 0; i < names.size(); ++i)
        expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i].str();
      error(setting->loc, "unknown training setting '" + setting->name + "'" +
                              (hint.empty() ? "; expected " + expected
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
    } else if (const settings::Setting *run = runSetting(setting->name)) {
      // The run's settings named in .net are batch and epochs, integers both.
      auto n = toInt(v, at, "'" + Twine(run->netName) + "'", int64_t(run->low),
                     int64_t(run->high));
      if (n)
        (run->id == settings::Batch ? batch : epochs) = *n;
    }
  }
  if (opt.kind != Value::Kind::Optimizer)
    opt = defaultOptimizer();
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
  std::vector<StringRef> names = scheduleNames();
  std::string expected;
  for (size_t i = 0; i < names.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i].str();
  if (expr.kind == Expr::Kind::Call || expr.kind == Expr::Kind::Name) {
    if (llvm::is_contained(names, StringRef(expr.text))) {
      if (expr.kind == Expr::Kind::Call)
        return settingCall(expr, expr.text, scheduleSettings(expr.text), scope);
      Expr call(Expr::Kind::Call, expr.loc); // `cosine` is `cosine()`
      call.text = expr.text;
      return settingCall(call, expr.text, scheduleSettings(expr.text), scope);
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
    return settingCall(expr, "early_stopping", earlyStoppingSettings(), scope);
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
      return v.i ? settingCall(none, "early_stopping", earlyStoppingSettings(), scope)
                 : mlir::DictionaryAttr();
    got = v.describe();
  }
  error(expr.loc, "'early_stopping' expects early_stopping(monitor = ..., patience = ..., "
                  "min_delta = ..., restore_best_weights = ...), true or false, got " + got);
  return std::nullopt;
}

/// The arguments of a schedule or of early_stopping(...), checked against
/// the settings `ids` and completed with their defaults, as a dictionary with
/// `name` (schedules only).
std::optional<mlir::DictionaryAttr>
Elaborator::settingCall(const Expr &call, StringRef name, llvm::ArrayRef<SettingId> ids,
                        Scope &scope) {
  std::vector<const settings::Setting *> specs;
  std::vector<ParamSpec> params;
  for (SettingId id : ids) {
    specs.push_back(&settings::setting(id));
    params.push_back({specs.back()->netName, false});
  }
  auto args = bind(call, params, scope);
  if (!args)
    return std::nullopt;
  llvm::SmallVector<mlir::NamedAttribute> attrs;
  if (name != "early_stopping")
    attrs.push_back(builder.getNamedAttr("name", builder.getStringAttr(name)));
  bool ok = true;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (auto attr = settingAttr(*specs[i], args->get(i), args->locs[i], name))
      attrs.push_back(builder.getNamedAttr(specs[i]->netName, *attr));
    else
      ok = false;
  }
  if (!ok)
    return std::nullopt;
  return builder.getDictionaryAttr(attrs);
}

/// One argument of `name`(...) as its attribute: `v` checked against `spec`,
/// or the default when absent; nullopt after reporting what is wrong.
std::optional<mlir::Attribute> Elaborator::settingAttr(const settings::Setting &spec,
                                                       const Value *v, SMLoc at,
                                                       StringRef name) {
  auto outOfRange = [&](const std::string &got) {
    error(at, name + " expects '" + spec.netName + "' " + settings::rangeText(spec) +
                  ", got " + got);
  };
  switch (spec.type) {
  case SettingType::Int: {
    int64_t n = int64_t(spec.fallback);
    if (v && v->kind != Value::Kind::Int) {
      error(at, name + " expects '" + spec.netName + "' to be an integer, got " +
                    v->describe());
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
      auto f = toFloat(*v, at, "'" + Twine(spec.netName) + "'");
      if (!f)
        return std::nullopt;
      x = *f;
      if (!settings::within(spec, x)) {
        outOfRange(formatNumber(x));
        return std::nullopt;
      }
    }
    return builder.getF64FloatAttr(x);
  }
  case SettingType::Bool: {
    bool b = spec.fallback != 0;
    if (v) {
      auto given = toBool(*v, at, "'" + Twine(spec.netName) + "'");
      if (!given)
        return std::nullopt;
      b = *given;
    }
    return builder.getBoolAttr(b);
  }
  case SettingType::Choice: {
    std::vector<std::string> choices = settings::choices(spec);
    std::string choice = choices.front();
    if (v) {
      if (v->kind != Value::Kind::Symbol || !llvm::is_contained(choices, v->s)) {
        if (!v->isError())
          error(at, name + " expects '" + spec.netName + "' to be " +
                        settings::rangeText(spec) + ", got " + v->describe());
        return std::nullopt;
      }
      choice = v->s;
    }
    return builder.getStringAttr(choice);
  }
  }
  return std::nullopt;
}

/// optimizer ::= sgd(lr, momentum, nesterov) | adam(lr, beta1, beta2, epsilon)
Value Elaborator::optimizer(const Expr &call, Scope &scope) {
  // Keras' defaults.
  std::vector<const settings::OptimizerSetting *> rows = optimizerSettings(call.text);
  std::vector<std::pair<std::string, double>> values;
  std::vector<ParamSpec> specs;
  for (const settings::OptimizerSetting *row : rows) {
    values.push_back({row->netName, row->fallback});
    specs.push_back({row->netName, false});
  }
  auto args = bind(call, specs, scope);
  if (!args)
    return Value::error();
  for (size_t i = 0; i < rows.size(); ++i) {
    const Value *v = args->get(i);
    if (!v)
      continue;
    StringRef name = rows[i]->netName;
    if (rows[i]->type == SettingType::Bool) {
      auto b = toBool(*v, args->locs[i], "'nesterov'");
      if (!b)
        return Value::error();
      values[i].second = *b;
      continue;
    }
    auto f = toFloat(*v, args->locs[i], "'" + name + "'");
    if (!f)
      return Value::error();
    auto range = rows[i]->bound == settings::Bound::Unit ? mlir::net::ranges::Range::Unit
                                                         : mlir::net::ranges::Range::Positive;
    if (!mlir::net::ranges::withinAsFloat32(*f, range)) {
      error(args->locs[i], call.text + " expects '" + name + "' " + expectedRange(*f, range) +
                               ", got " + formatNumber(*f));
      return Value::error();
    }
    values[i].second = *f;
  }
  Value opt;
  opt.kind = Value::Kind::Optimizer;
  opt.s = call.text;
  opt.settings = std::move(values);
  return opt;
}

} // namespace netc::dsl::elaboration
