//===- StepEmitter.h - the op-to-kernel mapping both targets share -*- C++ -*-===//
//
// Private to compiler/lib/Target. The CUDA kernel library
// (runtime/include/net/Kernels/cuda) keeps the CPU kernels' names and
// template arguments, so one mapping turns every op of a planned module into
// a kernel call for either target (EmitOps.cpp), over one layout of the
// parameters, optimizer slots and arena (Layout.cpp), in step functions of
// one shape (EmitSteps.cpp). Where the targets differ, the mapping asks the
// target through the hooks below: Target/Cpp (CppEmitter) and Target/CUDA
// (CudaEmitter) implement them.
//
//===----------------------------------------------------------------------===//
#ifndef NET_TARGET_COMMON_STEPEMITTER_H
#define NET_TARGET_COMMON_STEPEMITTER_H

#include "net/Dialect/NetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::net::target {

constexpr int64_t kAlignFloats = 16;

inline int64_t alignUp(int64_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

inline ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }

/// Elements per sample of a batched tensor (all of them for a fixed one).
inline int64_t perSample(Value v) {
  auto shape = shapeOf(v);
  int64_t n = 1;
  for (auto [i, d] : llvm::enumerate(shape))
    if (!(i == 0 && ShapedType::isDynamic(d)))
      n *= d;
  return n;
}

inline int64_t product(ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

/// `<1, 28, 28>`: kernel template arguments.
inline std::string targs(ArrayRef<int64_t> values) {
  std::string s = "<";
  for (auto [i, v] : llvm::enumerate(values))
    s += (i ? ", " : "") + std::to_string(v);
  return s + ">";
}

/// A float attribute (a double in the IR) as the float literal the kernels
/// take, in its shortest spelling.
std::string floatLiteral(const llvm::APFloat &attribute);

struct TensorEntry {
  std::string name;
  SmallVector<int64_t, 4> shape;
  int64_t size = 0, offset = 0;
  std::string init = "zeros";
  int64_t fanIn = 0, fanOut = 0;
  bool trainable = false;
};

/// The step functions the ABI knows, by what they take and give.
enum class StepKind { Forward, Eval, Train };

class StepEmitter {
public:
  virtual ~StepEmitter() = default;

protected:
  StepEmitter(ModuleOp module, raw_ostream &os) : module(module), os(os) {}

  /// Lays out the parameters, the optimizer slots and the arena.
  LogicalResult collect();
  /// run_<name> of every step function the module has, in the ABI's order.
  LogicalResult emitFunctions();
  LogicalResult emitFunction(func::FuncOp func);
  LogicalResult emitOp(Operation *op);
  /// One optimizer update where it stands.
  LogicalResult emitUpdate(Operation *update);

  // The hooks: what each target prints where the mapping meets its instance.

  /// The target's name in messages: "C++", "CUDA".
  virtual StringRef targetName() const = 0;
  /// run_<name>'s signature and opening brace.
  virtual void emitSignature(StringRef name, StepKind kind) = 0;
  /// The locals the target adds after the arena's (A, B, F, P, S): where the
  /// inputs are, the step count.
  virtual void emitTargetLocals(StepKind kind) = 0;
  /// @forward's result into the caller's `out`.
  virtual void emitForwardResult(Value result) = 0;
  /// The end of an evaluation or training step, its loss and correct count.
  virtual void emitStepResults(Value loss, Value correct) = 0;
  /// A batch reduced to a scalar (the loss, the correct count) of C type
  /// `cType`, by `kernel` over the probabilities and labels.
  virtual void emitReduction(StringRef kernel, Value probs, Value labels, Value result,
                             StringRef cType) = 0;
  /// A net.update_group: its updates, together.
  virtual LogicalResult emitUpdateGroup(UpdateGroupOp group) = 0;
  /// A net.exchange_start of parameter `param`'s `size` values at `values`,
  /// and a net.exchange_wait: calls into the instance's exchange that end
  /// the step (before its updates) when it fails.
  virtual void emitExchangeStart(int64_t param, const std::string &values, int64_t size) = 0;
  virtual void emitExchangeWait() = 0;
  /// Expressions for the step's scalars: the dropout seed, the learning rate,
  /// and Adam's step count as a trailing argument (", t"), or "" where the
  /// kernel reads them from the device.
  virtual StringRef dropoutSeed() const = 0;
  virtual StringRef learningRate() const = 0;
  virtual StringRef adamStepArgument() const = 0;
  /// Whether the instance keeps batch norms folded into their convolutions
  /// between inference calls (I->folded, valid while bit f of
  /// I->folds_valid is set for step function f), instead of folding them at
  /// every call.
  virtual bool cachesFoldedWeights() const { return false; }
  /// A fold of parameters only, placed in the instance's fold cache and run
  /// only when the cache is stale (cachesFoldedWeights).
  LogicalResult emitCachedFold(FoldBatchNormOp fold);

  /// Values of one input sample (@forward's first argument).
  int64_t inputSize() {
    return perSample(module.lookupSymbol<func::FuncOp>("forward").getArgument(0));
  }
  /// The input's planes: its channels for an image, 1 for a vector.
  int64_t inputPlanes() const { return inputShape.size() == 3 ? inputShape[0] : 1; }

  std::string ref(Value v) { return names.lookup(v); }
  int64_t paramOffset(StringRef param) { return params[paramIndex.lookup(param)].offset; }
  int64_t stateOffset(StringRef param, StringRef slot) {
    return state[stateIndex.lookup((param + "/" + slot).str())].offset;
  }
  /// The offset of `v` in the arena's fixed section, if it lives there.
  std::optional<int64_t> fixedOffset(Value v);

  ModuleOp module;
  raw_ostream &os;
  std::vector<TensorEntry> params, state;
  llvm::StringMap<size_t> paramIndex, stateIndex;
  int64_t paramFloats = 0, stateFloats = 0;
  int64_t arenaPerSample = 0, arenaFixed = 0;
  int64_t classes = 0;
  SmallVector<int64_t, 4> inputShape;
  DenseMap<Value, std::string> names;
  bool hasTrain = false;
  /// @train_step_exchanged (and @head_train_step_exchanged with a base):
  /// the data-parallel copies net-exchange-gradients made.
  bool hasExchanged = false;
  /// A frozen base split off (@base_forward, @head_train_step): its features.
  bool hasBase = false;
  std::string featureLayer;
  SmallVector<int64_t, 3> featureShape;
  int counter = 0;
  /// The fold cache: each distinct fold's (weight, bias) offsets in
  /// I->folded, by its call's arguments, so that @forward and @base_forward
  /// share a fold of the same parameters; its size; the folds_valid bit of
  /// the function being emitted, and whether it cached any fold.
  llvm::StringMap<std::pair<int64_t, int64_t>> foldPlaces;
  int64_t foldedFloats = 0;
  unsigned foldBit = 0;
  bool functionFolds = false;
};

} // namespace mlir::net::target

#endif // NET_TARGET_COMMON_STEPEMITTER_H
