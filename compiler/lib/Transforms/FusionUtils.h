//===- FusionUtils.h - what the fusion patterns share -----------*- C++ -*-===//
#ifndef NET_TRANSFORMS_FUSIONUTILS_H
#define NET_TRANSFORMS_FUSIONUTILS_H

#include "net/Dialect/NetOps.h"

#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::net {

/// The single op that reads `value`, if it has exactly one use.
inline Operation *soleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// Whether a parameter is frozen; values that are not parameters count as
/// trainable (they are computed, so they carry gradients).
inline bool isFrozen(Value value) {
  auto param = value.getDefiningOp<ParamOp>();
  return param && param.getFrozen();
}

/// The activation op `user` stands for, if it is one.
inline std::optional<Activation> activationOf(Operation *user) {
  if (!user)
    return std::nullopt;
  if (isa<ReluOp>(user))
    return Activation::Relu;
  if (isa<SigmoidOp>(user))
    return Activation::Sigmoid;
  if (isa<TanhOp>(user))
    return Activation::Tanh;
  return std::nullopt;
}

/// A bias_add that reads `value` as its input (not as its bias) and may join
/// the fused op: its bias is exactly as frozen as `weight`.
inline BiasAddOp fusableBias(Value value, Value weight) {
  auto bias = dyn_cast_or_null<BiasAddOp>(soleUser(value));
  if (!bias || bias.getInput() != value || isFrozen(bias.getBias()) != isFrozen(weight))
    return nullptr;
  return bias;
}

/// What follows a conv2d or dense that may join it: its bias_add and its
/// activation, each only if the value before it has no other reader.
struct FusableChain {
  SmallVector<Operation *> ops; // the anchor first
  Value bias;                   // null when no bias_add joined
  Activation activation = Activation::None;
  Value output;                 // the last joined op's result
};

inline FusableChain followBiasAndActivation(Operation *anchor, Value weight) {
  FusableChain chain;
  chain.ops.push_back(anchor);
  chain.output = anchor->getResult(0);
  if (BiasAddOp add = fusableBias(chain.output, weight)) {
    chain.bias = add.getBias();
    chain.ops.push_back(add);
    chain.output = add.getResult();
  }
  Operation *user = soleUser(chain.output);
  if (std::optional<Activation> activation = activationOf(user)) {
    chain.activation = *activation;
    chain.ops.push_back(user);
    chain.output = user->getResult(0);
  }
  return chain;
}

/// The location of a fused op: all of the fused ops' locations.
inline Location fusedLoc(PatternRewriter &rewriter, ArrayRef<Operation *> ops) {
  SmallVector<Location> locs;
  for (Operation *op : ops)
    locs.push_back(op->getLoc());
  return rewriter.getFusedLoc(locs);
}

/// Replaces the chain's last op by `fused` and erases the rest, which only
/// fed one another.
inline void replaceChain(PatternRewriter &rewriter, ArrayRef<Operation *> ops,
                         Operation *fused) {
  rewriter.replaceOp(ops.back(), fused->getResults());
  for (Operation *op : llvm::reverse(ops.drop_back()))
    rewriter.eraseOp(op);
}

} // namespace mlir::net

#endif // NET_TRANSFORMS_FUSIONUTILS_H
