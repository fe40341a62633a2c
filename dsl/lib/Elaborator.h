//===- Elaborator.h - The state of one elaboration, shared by its parts ---===//
//
// The elaborator runs a .net AST and builds the `net` dialect as it goes. Its
// parts live in one file each:
//   MLIRGen.cpp     the driver: top-level declarations, network parameters
//                   and -D overrides, the input and output statements, and
//                   the assembly and verification of the module;
//   Interpreter.cpp values, scopes, statements, expressions, argument
//                   binding and block calls;
//   TrainSetup.cpp  the `train` statement: loss, optimizer, batch, epochs,
//                   learning-rate schedules and early stopping;
//   Layers.cpp      one builder per layer, with the checks of its arguments.
// Private to the front end: the public entry point is net/DSL/MLIRGen.h.
//
//===----------------------------------------------------------------------===//
#ifndef NET_DSL_LIB_ELABORATOR_H
#define NET_DSL_LIB_ELABORATOR_H

#include "net/DSL/AST.h"
#include "net/DSL/Diagnostics.h"
#include "net/DSL/MLIRGen.h"

#include "net/Dialect/Ranges.h"
#include "net/Dialect/Shapes.h"
#include "net/Runtime/TrainSettings.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/IR/Value.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace netc::dsl::elaboration {

using llvm::SMLoc;
using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

/// Words that stand for themselves where a setting expects one.
inline constexpr const char *kSymbols[] = {
    "same",  "valid",   "none",    "relu",          "sigmoid",
    "tanh",  "softmax", "linear",  "cross_entropy", "zeros",
    "ones",  "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "val_loss", "val_accuracy"};

/// Prints a number the way it would be written: 0.1, 1e-07, 3; with as many
/// digits as it takes to read back as itself (0.99999999999, not 1).
std::string formatNumber(double value);

/// What a float setting out of `range` expects, for its error: "above 0", or
/// "above 0 as a float32 (...)" where only its float32 leaves the range.
std::string expectedRange(double v, mlir::net::ranges::Range range);

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
  std::string describe() const;
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
  // Diagnostics (MLIRGen.cpp).
  void error(SMLoc loc, const Twine &message);
  mlir::Location location(SMLoc loc, StringRef layerName = "");

  // The network and its module (MLIRGen.cpp).
  const Decl *collectDeclarations();
  Scope networkScope(const Decl &network, llvm::ArrayRef<Override> overrides);
  mlir::OwningOpRef<mlir::ModuleOp> finishModule(const Decl &network,
                                                 mlir::func::FuncOp func, Scope &scope);
  void execInput(const Stmt &stmt, Scope &scope);
  void execOutput(const Stmt &stmt, Scope &scope);
  void inputNormalization(const Stmt &stmt, const Shape &shape, Scope &scope);

  // Statements and expressions (Interpreter.cpp).
  void execBody(const StmtList &body, Scope &scope);
  void execStmt(const Stmt &stmt, Scope &scope);
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

  // The train set-up (TrainSetup.cpp).
  void execTrain(const Stmt &stmt, Scope &scope);
  std::optional<mlir::DictionaryAttr> lrSchedule(const Expr &expr, Scope &scope);
  std::optional<mlir::DictionaryAttr> earlyStopping(const Expr &expr, Scope &scope);
  std::optional<mlir::DictionaryAttr> settingCall(const Expr &call, StringRef name,
                                                  llvm::ArrayRef<netc::settings::SettingId> ids,
                                                  Scope &scope);
  std::optional<mlir::Attribute> settingAttr(const netc::settings::Setting &spec,
                                             const Value *v, SMLoc at, StringRef name);
  Value optimizer(const Expr &call, Scope &scope);

  // Layer arguments (Layers.cpp).
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

  // Layers (Layers.cpp).
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

} // namespace netc::dsl::elaboration

#endif // NET_DSL_LIB_ELABORATOR_H
