//===- PlanMemory.cpp - net-plan-memory: one arena, reused by liveness ----===//
//
// Every tensor an op produces lives in one arena allocated when a model
// instance is created, so a training step allocates nothing. A tensor's slot
// is free again once its last reader has run. Tensors with a batch dimension
// are planned per sample (their real offsets scale with the batch fixed at
// creation); tensors of fixed size (weight gradients) get a section of their
// own after them. A gradient an optimizer update reads stays live to the end
// of the step, so that the CUDA path can apply every update in one launch
// after the backward (EmitCuda); the C++ path still updates each parameter
// where the update stands.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetOps.h"
#include "net/Transforms/Passes.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"

#include <map>

namespace mlir::net {
#define GEN_PASS_DEF_NETPLANMEMORY
#include "net/Transforms/Passes.h.inc"
} // namespace mlir::net

using namespace mlir;
using namespace mlir::net;

namespace {

constexpr int64_t kAlignFloats = 16; // 64 bytes: a cache line, an AVX-512 vector

int64_t alignUp(int64_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

/// First-fit placement in one section.
class Section {
public:
  int64_t allocate(int64_t size) {
    int64_t offset = 0;
    for (auto [start, length] : live) {
      if (start - offset >= size)
        break;
      offset = std::max(offset, start + length);
    }
    live.emplace(offset, size);
    peak = std::max(peak, offset + size);
    return offset;
  }
  void release(int64_t offset) { live.erase(offset); }
  int64_t getPeak() const { return peak; }

private:
  std::map<int64_t, int64_t> live; // offset -> size, ordered by offset
  int64_t peak = 0;
};

enum SectionKind : int64_t { kPerSample = 0, kFixed = 1 };

/// Whether `value` gets a slot: ranked tensors that ops produce, except
/// parameters (their own storage) and 0-d results (scalars in registers).
bool needsSlot(Value value) {
  if (value.getDefiningOp<ParamOp>())
    return false;
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.getRank() > 0;
}

/// Plans one function; returns its peaks (per sample, fixed).
std::pair<int64_t, int64_t> planFunction(func::FuncOp func) {
  Block &block = func.getBody().front();
  DenseMap<Operation *, int64_t> index;
  int64_t i = 0;
  for (Operation &op : block)
    index[&op] = i++;

  // The last op that reads each value (its producer when it has no reader).
  DenseMap<Value, int64_t> lastUse;
  for (Operation &op : block)
    for (Value result : op.getResults()) {
      if (!needsSlot(result))
        continue;
      int64_t last = index[&op];
      for (Operation *user : result.getUsers())
        last = std::max(last, isa<SgdUpdateOp, AdamUpdateOp>(user)
                                  ? index[&block.back()]
                                  : index[block.findAncestorOpInBlock(*user)]);
      lastUse[result] = last;
    }

  Section sections[2];
  struct Placed {
    int64_t last;
    SectionKind section;
    int64_t offset;
  };
  std::vector<Placed> placed;
  Builder builder(func.getContext());
  for (Operation &op : block) {
    int64_t now = index[&op];
    // Slots whose last reader ran before this op are free again; an op's own
    // operands stay live while it runs.
    llvm::erase_if(placed, [&](const Placed &p) {
      if (p.last >= now)
        return false;
      sections[p.section].release(p.offset);
      return true;
    });
    SmallVector<int64_t> slots; // one (section, offset, size) per result
    for (Value result : op.getResults()) {
      if (!needsSlot(result))
        continue;
      auto type = cast<RankedTensorType>(result.getType());
      bool batched = type.isDynamicDim(0);
      int64_t elements = 1;
      for (int64_t d = batched ? 1 : 0; d < type.getRank(); ++d)
        elements *= type.getDimSize(d);
      SectionKind kind = batched ? kPerSample : kFixed;
      int64_t size = alignUp(elements);
      int64_t offset = sections[kind].allocate(size);
      placed.push_back({lastUse[result], kind, offset});
      slots.append({kind, offset, size});
    }
    if (!slots.empty())
      op.setAttr("net.slot", builder.getDenseI64ArrayAttr(slots));
  }
  int64_t perSample = sections[kPerSample].getPeak();
  int64_t fixed = sections[kFixed].getPeak();
  func->setAttr("net.arena", builder.getDenseI64ArrayAttr({perSample, fixed}));
  return {perSample, fixed};
}

struct PlanMemoryPass : mlir::net::impl::NetPlanMemoryBase<PlanMemoryPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t perSample = 0, fixed = 0;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      auto [p, f] = planFunction(func);
      perSample = std::max(perSample, p);
      fixed = std::max(fixed, f);
    }
    // Steps never run at once: the largest function's plan sizes the arena.
    module->setAttr("net.arena",
                    Builder(module.getContext()).getDenseI64ArrayAttr({perSample, fixed}));
  }
};

} // namespace
