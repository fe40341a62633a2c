//===- SplitFrozenBase.cpp - net-split-frozen-base ------------------------===//
//
// A frozen base under a trained head (transfer learning) computes the same
// features for an image in every epoch. Splitting @forward where the two
// meet lets the runtime compute them once per image and train the head on
// them alone.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::net {
#define GEN_PASS_DEF_NETSPLITFROZENBASE
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

/// The layer name a value's op carries (its NameLoc), or "".
std::string layerName(Value value) {
  Location loc = value.getDefiningOp() ? value.getDefiningOp()->getLoc() : value.getLoc();
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  return "";
}

/// Clones `ops` into a new function `name(argument) -> result`, with `from`
/// standing for the argument and the parameters they read cloned in first.
void buildFunction(OpBuilder &builder, ModuleOp module, func::FuncOp forward, StringRef name,
                   Value from, Value result, ArrayRef<Operation *> ops) {
  builder.setInsertionPointToEnd(module.getBody());
  auto func = builder.create<func::FuncOp>(
      forward.getLoc(), name,
      builder.getFunctionType({from.getType()}, {result.getType()}));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToEnd(entry);
  IRMapping mapping;
  mapping.map(from, entry->getArgument(0));
  for (Operation *op : ops) {
    for (Value operand : op->getOperands())
      if (auto param = operand.getDefiningOp<ParamOp>(); param && !mapping.contains(operand))
        builder.clone(*param, mapping);
    builder.clone(*op, mapping);
  }
  builder.create<func::ReturnOp>(forward.getLoc(), mapping.lookup(result));
}

struct SplitFrozenBasePass
    : mlir::net::impl::NetSplitFrozenBaseBase<SplitFrozenBasePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward || forward.getNumArguments() != 1 || forward.getNumResults() != 1 ||
        module.lookupSymbol("base_forward"))
      return;
    Block &body = forward.getBody().front();

    // The head: every op with a trained parameter, or something random
    // (dropout), behind it. Everything else but the parameters is the base.
    DenseSet<Value> headValues;
    SmallVector<Operation *> base, head;
    for (Operation &op : body.without_terminator()) {
      if (auto param = dyn_cast<ParamOp>(op)) {
        if (!param.getFrozen())
          headValues.insert(param.getResult());
        continue;
      }
      bool inHead = isa<DropoutOp>(op) || llvm::any_of(op.getOperands(), [&](Value v) {
                      return headValues.contains(v);
                    });
      if (inHead) {
        head.push_back(&op);
        for (Value r : op.getResults())
          headValues.insert(r);
      } else {
        base.push_back(&op);
      }
    }
    if (base.empty() || head.empty())
      return; // nothing frozen, or nothing to train

    // Where the two meet: base results read by the head (parameters aside).
    llvm::SetVector<Value> cut;
    Value input = body.getArgument(0);
    for (Operation *op : head)
      for (Value v : op->getOperands())
        if (!headValues.contains(v) && !v.getDefiningOp<ParamOp>())
          cut.insert(v);
    Value output = body.getTerminator()->getOperand(0);
    if (cut.size() != 1 || cut[0] == input || !headValues.contains(output))
      return;
    Value features = cut[0];
    auto type = dyn_cast<RankedTensorType>(features.getType());
    if (!type || type.getRank() < 2 || !type.isDynamicDim(0))
      return;

    OpBuilder builder(module.getContext());
    buildFunction(builder, module, forward, "base_forward", input, features, base);
    buildFunction(builder, module, forward, "head_forward", features, output, head);
    module->setAttr("net.features", builder.getStringAttr(layerName(features)));
  }
};

} // namespace
