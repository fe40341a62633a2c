//===- PlanMemory.cpp - net-plan-memory: one arena, reused by liveness ----===//
//
// Every tensor an op produces lives in one arena allocated when a model
// instance is created, so a training step allocates nothing. A tensor's slot
// is free again once its last reader has run. Tensors with a batch dimension
// are planned per sample (their real offsets scale with the batch fixed at
// creation); tensors of fixed size (weight gradients) get a section of their
// own after them. A view (flatten, reshape, inference dropout) gets no slot
// of its own: it shares its input's, which then lives as long as the view.
// A gradient read by a net.update_group (net-group-updates) lives until the
// group.
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

/// Whether `op` is a view of its input: flatten and reshape keep the
/// elements in order, and dropout at inference is the identity. Such a
/// result shares its input's storage when both are batched alike, so
/// nothing is copied.
bool isView(Operation &op) {
  if (!isa<FlattenOp, ReshapeOp, DropoutOp>(op))
    return false;
  auto in = cast<RankedTensorType>(op.getOperand(0).getType());
  auto out = cast<RankedTensorType>(op.getResult(0).getType());
  // Elements per sample, or all of them for a tensor without a batch.
  auto elements = [](RankedTensorType t) {
    return ShapedType::getNumElements(t.isDynamicDim(0) ? t.getShape().drop_front()
                                                        : t.getShape());
  };
  return in.isDynamicDim(0) == out.isDynamicDim(0) && elements(in) == elements(out);
}

/// Plans one function; returns its peaks (per sample, fixed).
std::pair<int64_t, int64_t> planFunction(func::FuncOp func) {
  Block &block = func.getBody().front();
  DenseMap<Operation *, int64_t> index;
  int64_t i = 0;
  for (Operation &op : block)
    index[&op] = i++;

  // Views and what they are views of, through chains of views.
  Builder builder(func.getContext());
  DenseMap<Value, Value> viewOf;
  auto storage = [&](Value v) { return viewOf.lookup(v) ? viewOf.lookup(v) : v; };
  for (Operation &op : block)
    if (isView(op)) {
      viewOf[op.getResult(0)] = storage(op.getOperand(0));
      op.setAttr("net.view", builder.getUnitAttr());
    }

  // The last op that reads each stored value or a view of it (its producer
  // when it has no reader). An update inside a net.update_group counts as
  // read by the group.
  DenseMap<Value, int64_t> lastUse;
  for (Operation &op : block)
    for (Value result : op.getResults()) {
      Value stored = storage(result);
      if (!needsSlot(stored))
        continue;
      int64_t &last = lastUse[stored];
      last = std::max(last, index[&op]);
      for (Operation *user : result.getUsers())
        last = std::max(last, index[block.findAncestorOpInBlock(*user)]);
    }

  Section sections[2];
  struct Placed {
    int64_t last;
    SectionKind section;
    int64_t offset;
  };
  std::vector<Placed> placed;
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
      if (!needsSlot(result) || viewOf.count(result))
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
