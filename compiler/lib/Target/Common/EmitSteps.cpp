//===- EmitSteps.cpp - the step functions, one kernel call per op ---------===//
//
// StepEmitter::emitFunctions: one run_<name> per step function of the
// module, in the ABI's order. Every function starts from the instance's
// arena (A, per sample, times the batch B; F, its fixed section), parameters
// (P) and optimizer slots (S); the target adds where its inputs are, and
// says what leaves the function at its end.
//
//===----------------------------------------------------------------------===//

#include "StepEmitter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::net;
using namespace mlir::net::target;

LogicalResult StepEmitter::emitFunction(func::FuncOp func) {
  names.clear();
  StringRef name = func.getName();
  StepKind kind = name == "forward" || name == "base_forward" ? StepKind::Forward
                  : name.contains("train_step")              ? StepKind::Train
                                                             : StepKind::Eval;
  emitSignature(name, kind);
  os << "  float *const A = I->arena;\n"
     << "  const int64_t B = I->batch;\n"
     << "  float *const F = A + kArenaPerSample * B; // the fixed-size section\n"
     << "  float *const P = I->params;\n";
  if (kind == StepKind::Train)
    os << "  float *const S = I->state;\n";
  os << "  (void)A; (void)F; (void)P;\n";
  emitTargetLocals(kind);
  // The fold cache: each inference function its bit; a training step may
  // change every parameter it folds.
  foldBit = name == "forward" ? 1u : name == "base_forward" ? 2u : 0u;
  functionFolds = false;
  if (kind == StepKind::Train && cachesFoldedWeights())
    os << "  I->folds_valid = 0;\n";
  names[func.getArgument(0)] = "in0";
  if (func.getNumArguments() > 1)
    names[func.getArgument(1)] = "labels";

  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      if (functionFolds)
        os << "  I->folds_valid |= " << foldBit << "u;\n";
      if (kind == StepKind::Forward)
        emitForwardResult(ret.getOperand(0));
      else
        emitStepResults(ret.getOperand(0), ret.getOperand(1));
      continue;
    }
    if (failed(emitOp(&op)))
      return failure();
  }
  os << "}\n\n";
  return success();
}

LogicalResult StepEmitter::emitFunctions() {
  for (StringRef name : {"forward", "eval_step", "train_step", "train_step_exchanged",
                         "base_forward", "head_eval_step", "head_train_step",
                         "head_train_step_exchanged"}) {
    auto func = module.lookupSymbol<func::FuncOp>(name);
    // A data-parallel copy (net-exchange-gradients) where the pipeline made one.
    if (name.ends_with("_exchanged")) {
      if (func && (hasBase || !name.starts_with("head_")) && failed(emitFunction(func)))
        return failure();
      continue;
    }
    if (name.starts_with("base_") || name.starts_with("head_")) {
      if (hasBase && failed(emitFunction(func)))
        return failure();
      continue;
    }
    if (!func) {
      if (name == "train_step")
        continue;
      return module.emitError("the ") << targetName() << " emitter needs @" << name
                                      << " (run net-autodiff)";
    }
    if (failed(emitFunction(func)))
      return failure();
  }
  return success();
}
