//===- GroupUpdates.cpp - net-group-updates: one launch per optimizer -----===//
//
// A target that pays per launch (the CUDA path) applies a step's optimizer
// updates together after the backward. This pass makes that decision
// visible in the IR: each step function's updates move, in order, into one
// net.update_group per kind and hyper-parameters at the function's end.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <vector>

namespace mlir::net {
#define GEN_PASS_DEF_NETGROUPUPDATES
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

void groupUpdates(func::FuncOp func) {
  Block &block = func.getBody().front();
  // The groups in order of their first update.
  std::vector<std::vector<Operation *>> groups;
  for (Operation &op : block) {
    if (!isa<SgdUpdateOp, AdamUpdateOp>(op))
      continue;
    auto same = [&](const std::vector<Operation *> &group) {
      return group.front()->getName() == op.getName() &&
             group.front()->getAttrDictionary() == op.getAttrDictionary();
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end())
      groups.push_back({&op});
    else
      it->push_back(&op);
  }
  OpBuilder builder(block.getTerminator());
  for (const std::vector<Operation *> &updates : groups) {
    auto group = builder.create<UpdateGroupOp>(updates.front()->getLoc());
    Block *body = builder.createBlock(&group.getBody());
    for (Operation *update : updates)
      update->moveBefore(body, body->end());
    builder.setInsertionPoint(block.getTerminator());
  }
}

struct GroupUpdatesPass : mlir::net::impl::NetGroupUpdatesBase<GroupUpdatesPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (!func.getBody().empty())
        groupUpdates(func);
  }
};

} // namespace
