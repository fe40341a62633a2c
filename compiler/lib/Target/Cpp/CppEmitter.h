//===- CppEmitter.h - the kernel-call renderer of both emitters -*- C++ -*-===//
//
// Private to compiler/lib/Target. The C++ and the CUDA emitters are variants
// of one renderer: the CUDA kernel library (runtime/include/net/Kernels/cuda)
// keeps the CPU kernels' names and signatures, so the op-to-call translation
// (emitOp), the module's parameter/slot/arena layout (collect) and the
// function bodies are shared; the CUDA emitter (Target/CUDA/EmitCuda.cpp)
// differs only in its prologue, its data movement and its entry points
// (`cuda` below).
//
//===----------------------------------------------------------------------===//
#ifndef NET_TARGET_CPP_CPPEMITTER_H
#define NET_TARGET_CPP_CPPEMITTER_H

#include "net/Analysis/LayerTable.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::net::cpp {

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

struct TensorEntry {
  std::string name;
  SmallVector<int64_t, 4> shape;
  int64_t size = 0, offset = 0;
  std::string init = "zeros";
  int64_t fanIn = 0, fanOut = 0;
  bool trainable = false;
};

class CppEmitter {
public:
  virtual ~CppEmitter() = default;
  CppEmitter(ModuleOp module, raw_ostream &os, const LayerTable *layers)
      : module(module), os(os), table(layers ? *layers : buildLayerTable(module)) {}
  LogicalResult emit();

protected:
  LogicalResult collect();
  void emitTables();
  LogicalResult emitFunction(func::FuncOp func);
  /// run_<name> of every step function the module has, in the ABI's order.
  LogicalResult emitFunctions();
  LogicalResult emitOp(Operation *op);
  /// NetcCompiledModel, what net/Runtime/ModelImpl.h builds the C ABI on,
  /// and the include of that header.
  void emitModelTraits();
  /// Values of one input sample (@forward's first argument).
  int64_t inputSize() {
    return perSample(module.lookupSymbol<func::FuncOp>("forward").getArgument(0));
  }
  /// The input's planes: its channels for an image, 1 for a vector.
  int64_t inputPlanes() const { return inputShape.size() == 3 ? inputShape[0] : 1; }

  std::string ref(Value v) { return names.lookup(v); }
  int64_t stateOffset(StringRef param, StringRef slot) {
    return state[stateIndex.lookup((param + "/" + slot).str())].offset;
  }

  ModuleOp module;
  raw_ostream &os;
  LayerTable table;
  std::vector<TensorEntry> params, state;
  llvm::StringMap<size_t> paramIndex, stateIndex;
  int64_t paramFloats = 0, stateFloats = 0;
  int64_t arenaPerSample = 0, arenaFixed = 0;
  int64_t classes = 0;
  SmallVector<int64_t, 4> inputShape;
  DenseMap<Value, std::string> names;
  bool hasTrain = false;
  /// A frozen base split off (@base_forward, @head_train_step): its features.
  bool hasBase = false;
  std::string featureLayer;
  SmallVector<int64_t, 3> featureShape;
  int counter = 0;
  /// Emitting the CUDA translation unit: device pointers, inputs copied in
  /// and outputs copied out by each function (EmitCuda.cpp).
  bool cuda = false;
  /// The CUDA path's optimizer updates of the function being emitted, applied
  /// in one launch per kind at its end (emitDeferredUpdates): the update op
  /// and its table entry ({param, grad, slot0, slot1, size} offsets).
  struct DeferredUpdate {
    Operation *op;
    std::string entry;
  };
  std::vector<DeferredUpdate> deferredUpdates;
  /// The offset of `v` in the arena's fixed section, if it lives there.
  std::optional<int64_t> fixedOffset(Value v);
  void emitDeferredUpdates();
};

} // namespace mlir::net::cpp

#endif // NET_TARGET_CPP_CPPEMITTER_H
