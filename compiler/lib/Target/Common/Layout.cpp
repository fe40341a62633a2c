//===- Layout.cpp - where a compiled model keeps its tensors --------------===//
//
// StepEmitter::collect: the parameters in the order the module first uses
// them, each 16-float aligned in one block; the optimizer's slots (SGD's
// velocity, Adam's two moments) of every trained parameter in a second; and
// the arena's two sections as net-plan-memory sized them. Both targets lay
// out their instances so, which is what lets the CPU and the CUDA path share
// parameters and checkpoints.
//
//===----------------------------------------------------------------------===//

#include "StepEmitter.h"

#include "net/Dialect/NetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace mlir::net;
using namespace mlir::net::target;

LogicalResult StepEmitter::collect() {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError("the ") << targetName() << " emitter needs @forward";
  auto arena = module->getAttrOfType<DenseI64ArrayAttr>("net.arena");
  if (!arena || arena.size() != 2)
    return module.emitError("the ")
           << targetName() << " emitter needs a planned module (run net-plan-memory)";
  arenaPerSample = arena[0];
  arenaFixed = arena[1];
  auto input = shapeOf(forward.getArgument(0));
  inputShape.assign(input.begin() + 1, input.end());
  if (inputShape.size() != 1 && inputShape.size() != 3)
    return forward.emitError("the ")
           << targetName() << " emitter expects an input of 1 or 3 dimensions per sample";
  auto output = cast<RankedTensorType>(forward.getResultTypes()[0]).getShape();
  if (output.size() != 2)
    return forward.emitError("the ") << targetName() << " emitter expects a (batch, classes) output";
  classes = output[1];

  auto addParam = [&](ParamOp param) {
    if (paramIndex.count(param.getName()))
      return;
    TensorEntry e;
    e.name = param.getName().str();
    auto shape = shapeOf(param.getResult());
    e.shape.assign(shape.begin(), shape.end());
    e.size = product(shape);
    e.offset = paramFloats;
    e.init = param.getInit().str();
    e.trainable = !param.getFrozen();
    // Keras' fans: conv [F, C, KH, KW] and dense [out, in].
    if (shape.size() == 4) {
      e.fanIn = shape[1] * shape[2] * shape[3];
      e.fanOut = shape[0] * shape[2] * shape[3];
    } else if (shape.size() == 2) {
      e.fanIn = shape[1];
      e.fanOut = shape[0];
    } else {
      e.fanIn = e.fanOut = e.size;
    }
    paramFloats += alignUp(e.size);
    paramIndex[e.name] = params.size();
    params.push_back(std::move(e));
  };
  module.walk([&](ParamOp param) { addParam(param); });

  auto addSlot = [&](Value param, StringRef slot) {
    auto p = param.getDefiningOp<ParamOp>();
    TensorEntry e;
    e.name = (p.getName() + "/" + slot).str();
    auto shape = shapeOf(param);
    e.shape.assign(shape.begin(), shape.end());
    e.size = product(shape);
    e.offset = stateFloats;
    stateFloats += alignUp(e.size);
    stateIndex[e.name] = state.size();
    state.push_back(std::move(e));
  };
  if (auto base = module.lookupSymbol<func::FuncOp>("base_forward");
      base && module.lookupSymbol("head_train_step")) {
    hasBase = true;
    auto features = cast<RankedTensorType>(base.getResultTypes()[0]).getShape();
    featureShape.assign(features.begin() + 1, features.end());
    if (featureShape.size() > 3)
      return base.emitError("the ")
             << targetName() << " emitter expects features of at most 3 dimensions";
    if (auto name = module->getAttrOfType<StringAttr>("net.features"))
      featureLayer = name.str();
  }
  if (auto train = module.lookupSymbol<func::FuncOp>("train_step")) {
    hasTrain = true;
    hasExchanged = bool(module.lookupSymbol("train_step_exchanged"));
    train.walk([&](Operation *op) {
      if (auto sgd = dyn_cast<SgdUpdateOp>(op))
        addSlot(sgd.getParam(), "velocity");
      else if (auto adam = dyn_cast<AdamUpdateOp>(op)) {
        addSlot(adam.getParam(), "adam_m");
        addSlot(adam.getParam(), "adam_v");
      }
    });
  }
  return success();
}
