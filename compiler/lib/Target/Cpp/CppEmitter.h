//===- CppEmitter.h - the C++ target of the step emitter --------*- C++ -*-===//
//
// Private to compiler/lib/Target/Cpp. The host side of a compiled model:
// the step functions on the instance of net/Runtime/ModelInstance.h, the
// model's tables (EmitTables.cpp) and NetcCompiledModel, which
// net/Runtime/ModelImpl.h builds the C ABI on (EmitCpp.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef NET_TARGET_CPP_CPPEMITTER_H
#define NET_TARGET_CPP_CPPEMITTER_H

#include "../Common/StepEmitter.h"

#include "net/Analysis/LayerTable.h"

namespace mlir::net::target {

class CppEmitter final : public StepEmitter {
public:
  CppEmitter(ModuleOp module, raw_ostream &os, const LayerTable *layers)
      : StepEmitter(module, os), table(layers ? *layers : buildLayerTable(module)) {}
  LogicalResult emit();

private:
  /// The parameters, slots, layers, train set-up and netc_model_info.
  void emitTables();
  /// The input normalisation per channel and the forward graph's text.
  void emitInputAndGraph();
  /// netc_model_info, field by field, as constant data (kModel).
  void emitModelInfo();
  /// NetcCompiledModel and the include of net/Runtime/ModelImpl.h.
  void emitModelTraits();

  StringRef targetName() const override { return "C++"; }
  void emitSignature(StringRef name, StepKind kind) override;
  void emitTargetLocals(StepKind kind) override;
  void emitForwardResult(Value result) override;
  void emitStepResults(Value loss, Value correct) override;
  void emitReduction(StringRef kernel, Value probs, Value labels, Value result,
                     StringRef cType) override;
  LogicalResult emitUpdateGroup(UpdateGroupOp group) override;
  void emitExchangeStart(int64_t param, const std::string &values, int64_t size) override;
  void emitExchangeWait() override;
  // The step's seed and learning rate are arguments and fields of the host
  // instance; Adam's step count is the local `t`.
  StringRef dropoutSeed() const override { return "seed"; }
  StringRef learningRate() const override { return "I->learning_rate"; }
  StringRef adamStepArgument() const override { return ", t"; }
  bool cachesFoldedWeights() const override { return true; }

  LayerTable table;
};

} // namespace mlir::net::target

#endif // NET_TARGET_CPP_CPPEMITTER_H
