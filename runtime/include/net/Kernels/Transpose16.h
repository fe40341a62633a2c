//===- Transpose16.h - 16 x 16 float transpositions in registers -*- C++ -*-===//
//
// The output-channel path's (ConvChannels.h, ConvChannelWeights.h)
// transpositions between 16 planes and position-major runs of 16 lanes:
// transpose16 on a tile of AVX-512 registers, transposeChannelPlanes over
// runs of planes; shared by the path's forward, grad_input and grad_weight.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_TRANSPOSE16_H
#define NETC_KERNELS_TRANSPOSE16_H

#include "net/Kernels/Common.h"

#include <cstddef>
#include <utility>

namespace netc::kernels {
namespace detail {

#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
/// Row r of the result takes, at columns with bit B set, row r|B's column
/// with that bit cleared (Low), or keeps them (High): one step of swapping
/// bit B of the row and column indices.
template <int B, std::size_t... I>
NETC_INLINE FloatVec transposeStepLow(FloatVec a, FloatVec b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, ((I & B) ? 16 + (I ^ B) : I)...);
}
template <int B, std::size_t... I>
NETC_INLINE FloatVec transposeStepHigh(FloatVec a, FloatVec b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, ((I & B) ? 16 + I : (I ^ B))...);
}
template <int B> NETC_INLINE void transposeStep(FloatVec *rows) {
  for (int r = 0; r < kVectorFloats; ++r)
    if (!(r & B)) {
      const FloatVec a = rows[r], b = rows[r | B];
      rows[r] = transposeStepLow<B>(a, b, std::make_index_sequence<kVectorFloats>());
      rows[r | B] = transposeStepHigh<B>(a, b, std::make_index_sequence<kVectorFloats>());
    }
}

/// rows[j][l] = rows[l][j] (a 16 x 16 tile, in four steps of one index bit).
NETC_INLINE void transpose16(FloatVec *rows) {
  transposeStep<1>(rows);
  transposeStep<2>(rows);
  transposeStep<4>(rows);
  transposeStep<8>(rows);
}
#endif

/// out[p*16 + l] = src[l*STRIDE + p] for p < count and l < lanes, zero for
/// the lanes past them: runs of `count` floats of 16 planes STRIDE apart made
/// position-major (the forward's OIHW weights packed, grad_weight's dy).
/// Out of line: see storeChannelTileTransposed.
template <std::size_t STRIDE>
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
void transposeChannelPlanes(const float *NETC_RESTRICT src, int count, int lanes,
                            float *NETC_RESTRICT out) {
  int p = 0;
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
  // 16 positions at a time, transposed in registers: 16 contiguous loads
  // where the element loop below takes 16 gathers or 256 scalar loads (a
  // tenth of mnist_cnn conv2's forward in its weight packing, of lenet5
  // conv3's grad_weight in its dy).
  for (; p + kVectorFloats <= count; p += kVectorFloats) {
    FloatVec rows[kVectorFloats];
    for (int l = 0; l < kVectorFloats; ++l)
      if (l < lanes)
        __builtin_memcpy(&rows[l], src + l * STRIDE + p, sizeof(FloatVec));
      else
        rows[l] = FloatVec{};
    transpose16(rows);
    for (int j = 0; j < kVectorFloats; ++j)
      __builtin_memcpy(out + (p + j) * kVectorFloats, &rows[j], sizeof(FloatVec));
  }
#endif
  // (Indices in size_t: in int, GCC warned that a large count overflows.)
  for (; p < count; ++p)
    for (int l = 0; l < kVectorFloats; ++l)
      out[std::size_t(p) * kVectorFloats + l] = l < lanes ? src[l * STRIDE + p] : 0.f;
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_TRANSPOSE16_H
