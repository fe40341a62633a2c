//===- Interpreter.cpp - Running a .net file's statements and expressions -===//
//
// The interpreter of elaboration (Elaborator.h names the other parts): values
// and their descriptions for messages, statements (assignment, repeat,
// frozen, return), expressions with checked integer arithmetic, the binding
// of a call's arguments to a signature, the dispatch of a call to a layer,
// an optimizer or a block, and the expansion of blocks in their own scopes.
// Limits on repeats, block depth and statements executed keep a mistaken
// file from running away.
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace netc::dsl::elaboration {

namespace {

/// Limits that keep a hostile or mistaken file from running away.
constexpr int64_t kMaxRepeat = 10000;
constexpr size_t kMaxBlockDepth = 64;
/// Statements executed in all, so nested repeats cannot spin for hours.
constexpr int64_t kMaxSteps = 10000000;

} // namespace

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

std::string formatNumber(double value) {
  char text[32];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value)
      break;
  }
  return text;
}

std::string expectedRange(double v, mlir::net::ranges::Range range) {
  std::string text = mlir::net::ranges::describe(range);
  if (mlir::net::ranges::within(v, range))
    text += " as a float32 (the precision the model computes in)";
  return text;
}

std::string Value::describe() const {
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
  case Stmt::Kind::Input:
    execInput(stmt, scope);
    return;
  case Stmt::Kind::Output:
    execOutput(stmt, scope);
    return;
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

} // namespace netc::dsl::elaboration
