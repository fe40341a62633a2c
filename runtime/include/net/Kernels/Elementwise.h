//===- Elementwise.h - bias, add, mul, copy ---------------------*- C++ -*-===//
//
// bias_add:  y[i,c,s] = x[i,c,s] + b[c]          (S = H*W, or 1 after flatten)
// bias_grad: db[c]    = sum_{i,s} dy[i,c,s]
// add, mul, copy: elementwise over n*E floats (mul with a dropout mask is the
// dropout forward and backward).
// zeros:     y[k] = 0 for E floats (a parameter's exact zero gradient).
// Memory-bound one-pass loops, vectorised along the contiguous axis and split
// over samples (bias_grad over channels: each sum is owned by one thread and
// added in a fixed order, so db is the same for any thread count).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_ELEMENTWISE_H
#define NETC_KERNELS_ELEMENTWISE_H

#include "net/Kernels/Common.h"

namespace netc::kernels {

template <int C, int S>
void bias_add(int n, const float *x, const float *b, float *y) {
  detail::parallelFor(int(n), std::int64_t(n) * C * S > detail::kParallelThreshold, [&](int i) {
    for (int c = 0; c < C; ++c) {
      const std::size_t o = (std::size_t(i) * C + c) * S;
      const float bc = b[c];
#pragma omp simd
      for (int s = 0; s < S; ++s)
        y[o + s] = x[o + s] + bc;
    }
  });
}

template <int C, int S>
void bias_grad(int n, const float *NETC_RESTRICT dy,
               float *NETC_RESTRICT db) {
  detail::parallelFor(int(C), std::int64_t(n) * C * S > detail::kParallelThreshold, [&](int c) {
    float total = 0.f;
    for (int i = 0; i < n; ++i) {
      const float *p = dy + (std::size_t(i) * C + c) * S;
      float s = 0.f;
#pragma omp simd reduction(+ : s)
      for (int k = 0; k < S; ++k)
        s += p[k];
      total += s;
    }
    db[c] = total;
  });
}

template <int E> void add(int n, const float *a, const float *b, float *y) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k)
      y[k] = a[k] + b[k];
  });
}

template <int E> void mul(int n, const float *a, const float *b, float *y) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k)
      y[k] = a[k] * b[k];
  });
}

template <int E> void zeros(float *y) {
#pragma omp simd
  for (int k = 0; k < E; ++k)
    y[k] = 0.f;
}

template <int E> void copy(int n, const float *x, float *y) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k)
      y[k] = x[k];
  });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_ELEMENTWISE_H
