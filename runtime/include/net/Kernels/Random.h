//===- Random.h - counter-based dropout masks -------------------*- C++ -*-===//
//
// dropout_mask writes mask[i*E + k] = 0 with probability `rate`, else
// 1/(1-rate) (inverted dropout: the forward is mul(x, mask), the backward
// mul(dy, mask), and inference skips the op).
// The random number of element j = i*E + k is a pure function of
// (seed, stream, j): splitmix64's finaliser applied to a key mixed from the
// three, so the mask is identical for any thread count and any split of the
// batch. `stream` tells dropout layers apart; the caller advances `seed` per
// step. The top 24 bits give a uniform u in [0, 1); the element is kept when
// u >= rate. The CUDA kernel (Kernels/cuda/Elementwise.cuh) calls these same
// functions, so CPU and GPU masks are identical bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_RANDOM_H
#define NETC_KERNELS_RANDOM_H

#include "net/Kernels/Common.h"

namespace netc::kernels {
namespace detail {

NETC_HOST_DEVICE constexpr std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Uniform in [0, 1) with 24 random bits, from (seed, stream, counter).
NETC_HOST_DEVICE NETC_INLINE float uniform01(std::uint64_t key, std::uint64_t counter) {
  const std::uint64_t h = splitmix64(key ^ (counter * 0xD2B74407B1CE6E93ull));
  return float(h >> 40) * (1.f / 16777216.f);
}

NETC_HOST_DEVICE constexpr std::uint64_t streamKey(std::uint64_t seed, std::uint64_t stream) {
  return splitmix64(seed ^ splitmix64(stream + 0x632BE59BD9B4E019ull));
}

} // namespace detail

template <int E>
void dropout_mask(int n, float rate, std::uint64_t seed, std::uint64_t stream, float *mask) {
  const std::int64_t total = std::int64_t(n) * E;
  const std::uint64_t key = detail::streamKey(seed, stream);
  const float keep = rate < 1.f ? 1.f / (1.f - rate) : 0.f;
  detail::parallelRanges(total, total > detail::kParallelThreshold,
                          [=](std::int64_t j0, std::int64_t j1) {
#pragma omp simd
    for (std::int64_t j = j0; j < j1; ++j)
      mask[j] = detail::uniform01(key, std::uint64_t(j)) >= rate ? keep : 0.f;
  });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_RANDOM_H
