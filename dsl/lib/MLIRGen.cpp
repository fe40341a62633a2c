//===- MLIRGen.cpp - Elaborating a .net AST into the net dialect ----------===//
//
// The driver of elaboration (Elaborator.h names the other parts): it sorts
// the file's declarations, binds the network's parameters to their defaults
// or to -D overrides, runs the network's body into `func.func @forward`,
// takes its `input` and `output` statements as the function's argument and
// result, and assembles and verifies the module with its attributes (the
// network's name, classes, input normalization and train set-up). Errors
// are reported here with the block calls that led to them.
//
//===----------------------------------------------------------------------===//

#include "Elaborator.h"

#include "net/Dialect/NetDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSet.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace netc::dsl::elaboration {

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

  const Decl *network = collectDeclarations();
  if (!network) {
    diags.error(SMLoc::getFromPointer(sm.getMemoryBuffer(sm.getMainFileID())
                                          ->getBufferStart()),
                "expected a 'network' declaration in the file");
    return nullptr;
  }
  Scope scope = networkScope(*network, overrides);

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
  return finishModule(*network, func, scope);
}

/// Evaluates the constants and records the blocks, in file order; returns the
/// one network, or null when the file has none.
const Decl *Elaborator::collectDeclarations() {
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
  return network;
}

/// The value of `-D name=text`: an integer, a number, true, false or one of
/// kSymbols; nullopt for anything else.
static std::optional<Value> overrideValue(const std::string &text) {
  char *end = nullptr;
  errno = 0;
  long long iv = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0' && errno == 0)
    return Value::integer(iv);
  double fv = std::strtod(text.c_str(), &end);
  if (!text.empty() && *end == '\0' && std::isfinite(fv))
    return Value::number(fv);
  if (text == "true" || text == "false")
    return Value::boolean(text == "true");
  if (llvm::is_contained(kSymbols, StringRef(text)))
    return Value::symbol(text);
  return std::nullopt;
}

/// The constants and the network's parameters: their defaults, overridden by
/// -D name=value.
Scope Elaborator::networkScope(const Decl &network, llvm::ArrayRef<Override> overrides) {
  Scope scope = globals;
  llvm::StringSet<> known;
  for (const Param &p : network.params)
    known.insert(p.name);
  llvm::StringMap<Value> given;
  for (const Override &o : overrides) {
    if (!known.count(o.name)) {
      std::vector<StringRef> names;
      for (const Param &p : network.params)
        names.push_back(p.name);
      std::string hint = closestMatch(o.name, names);
      std::string list;
      for (StringRef n : names)
        list += (list.empty() ? "" : ", ") + n.str();
      error(network.loc, "-D " + o.name + ": network '" + network.name +
                             "' has no parameter '" + o.name + "'" +
                             (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                             (list.empty() ? " (it has none)" : " (it has: " + list + ")"));
      continue;
    }
    if (std::optional<Value> v = overrideValue(o.value)) {
      given[o.name] = *v;
      continue;
    }
    std::string words;
    for (const char *sym : kSymbols)
      words += std::string(words.empty() ? "" : ", ") + sym;
    error(network.loc, "-D " + o.name + "=" + o.value +
                           ": expected a number, true, false or one of " + words);
  }
  for (const Param &p : network.params) {
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
  return scope;
}

/// After the network's body: its result returned, the function's signature,
/// the module's attributes, and the verifier's word. Null after any error.
mlir::OwningOpRef<mlir::ModuleOp>
Elaborator::finishModule(const Decl &network, mlir::func::FuncOp func, Scope &scope) {
  if (!haveInput)
    error(network.loc, "network '" + network.name +
                           "' has no 'input' statement (e.g. input image[1, 28, 28])");
  if (!sawOutput)
    error(network.loc, "network '" + network.name +
                           "' has no 'output' statement naming its result");
  if (diags.hadError()) {
    module->erase();
    return nullptr;
  }

  builder.create<mlir::func::ReturnOp>(location(network.loc), output->tensor);
  func.setFunctionType(builder.getFunctionType(entry->getArgumentTypes(),
                                               {output->tensor.getType()}));
  func.setArgAttr(0, "net.input", builder.getStringAttr(inputName));
  if (output->shape.size() == 2)
    module->setAttr("net.classes", builder.getI64IntegerAttr(output->shape[1]));
  if (!trainSetup) {
    // Keras' defaults for compile() and fit().
    execTrain(Stmt(Stmt::Kind::Train, network.loc), scope);
  }
  module->setAttr("net.train", trainSetup);

  mlir::OwningOpRef<mlir::ModuleOp> result(module);
  if (mlir::failed(mlir::verify(*result))) {
    diags.error(network.loc, "internal error: the generated IR does not verify "
                             "(the messages above say where); please report it");
    return nullptr;
  }
  return result;
}

//===----------------------------------------------------------------------===//
// The network's input and output
//===----------------------------------------------------------------------===//

/// input ::= 'input' NAME list ('(' args ')')?
/// The forward function's one argument, [batch, channels, height, width] or
/// [batch, features].
void Elaborator::execInput(const Stmt &stmt, Scope &scope) {
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

/// output ::= 'output' expr
/// The forward function's result.
void Elaborator::execOutput(const Stmt &stmt, Scope &scope) {
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
}

} // namespace netc::dsl::elaboration

mlir::OwningOpRef<mlir::ModuleOp> netc::dsl::mlirGen(mlir::MLIRContext &context,
                                                    const Module &module,
                                                    Diagnostics &diags,
                                                    llvm::ArrayRef<Override> overrides) {
  return elaboration::Elaborator(context, module, diags).run(overrides);
}
