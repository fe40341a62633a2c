//===- FusionUtils.h - what the fusion patterns share -----------*- C++ -*-===//
#ifndef NET_TRANSFORMS_FUSIONUTILS_H
#define NET_TRANSFORMS_FUSIONUTILS_H

#include "net/Dialect/NetOps.h"

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

/// The activation op `user` stands for ("relu", "sigmoid", "tanh"), or "".
inline StringRef activationOf(Operation *user) {
  if (!user)
    return "";
  if (isa<ReluOp>(user))
    return "relu";
  if (isa<SigmoidOp>(user))
    return "sigmoid";
  if (isa<TanhOp>(user))
    return "tanh";
  return "";
}

/// A bias_add that reads `value` as its input (not as its bias) and may join
/// the fused op: its bias is exactly as frozen as `weight`.
inline BiasAddOp fusableBias(Value value, Value weight) {
  auto bias = dyn_cast_or_null<BiasAddOp>(soleUser(value));
  if (!bias || bias.getInput() != value || isFrozen(bias.getBias()) != isFrozen(weight))
    return nullptr;
  return bias;
}

} // namespace mlir::net

#endif // NET_TRANSFORMS_FUSIONUTILS_H
