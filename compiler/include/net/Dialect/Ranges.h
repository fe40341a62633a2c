//===- Ranges.h - the ranges of the net ops' float attributes ---*- C++ -*-===//
//
// Float attributes (epsilons, momenta, betas, dropout rates) are doubles in
// the IR and float32s in the kernels, so a value holds only if its float32
// does too: 1e-50 is 0 there, 1e39 is infinite, 0.99999999999 is 1. Shared,
// like Shapes.h, by the op verifiers and the front end, which reports the
// error at the .net line before it builds any op.
//
//===----------------------------------------------------------------------===//

#ifndef NET_DIALECT_RANGES_H
#define NET_DIALECT_RANGES_H

#include "llvm/ADT/APFloat.h"

#include <cmath>

namespace mlir::net::ranges {

enum class Range {
  Positive, // (0, +inf): epsilons, learning rates
  Unit,     // [0, 1): momenta, betas, dropout rates
};

/// Whether `v` is in `range` as a double. NaN is in none.
inline bool within(double v, Range range) {
  return range == Range::Unit ? (v >= 0 && v < 1) : (v > 0 && std::isfinite(v));
}

/// Whether `v` is in `range` as a double and as the float32 the kernels use.
inline bool withinAsFloat32(double v, Range range) {
  return within(v, range) && within(static_cast<float>(v), range);
}

inline bool withinAsFloat32(const llvm::APFloat &v, Range range) {
  return withinAsFloat32(v.convertToDouble(), range);
}

/// "above 0" or "in [0, 1)", for messages.
inline const char *describe(Range range) {
  return range == Range::Unit ? "in [0, 1)" : "above 0";
}

} // namespace mlir::net::ranges

#endif // NET_DIALECT_RANGES_H
