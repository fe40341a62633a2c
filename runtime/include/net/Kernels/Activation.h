//===- Activation.h - relu, sigmoid, tanh and their gradients ---*- C++ -*-===//
//
// Forward: y = f(x) elementwise over n*E floats (E = elements per sample).
// Backward kernels take the forward OUTPUT y, not x, so the planner can free x:
//   relu:    dx = dy * (y > 0)
//   sigmoid: dx = dy * y * (1 - y)
//   tanh:    dx = dy * (1 - y*y)
// One pass, vectorised, split over the flat index. sigmoid/tanh call libm
// (std::exp, std::tanh), which is not vectorised without -ffast-math; they are
// used by the classic LeNet-5 only, on small tensors.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_ACTIVATION_H
#define NETC_KERNELS_ACTIVATION_H

#include "net/Kernels/Common.h"

#include <cmath>

namespace netc::kernels {

template <int E> void relu(int n, const float *x, float *y) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k)
      y[k] = x[k] > 0.f ? x[k] : 0.f;
  });
}

template <int E> void relu_grad(int n, const float *dy, const float *y, float *dx) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k)
      dx[k] = y[k] > 0.f ? dy[k] : 0.f;
  });
}

template <int E> void sigmoid(int n, const float *x, float *y) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelFor(std::int64_t(total), total > detail::kParallelThreshold, [&](std::int64_t k) {
    y[k] = 1.f / (1.f + std::exp(-x[k]));
  });
}

template <int E> void sigmoid_grad(int n, const float *dy, const float *y, float *dx) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k)
      dx[k] = dy[k] * y[k] * (1.f - y[k]);
  });
}

template <int E> void tanh(int n, const float *x, float *y) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelFor(std::int64_t(total), total > detail::kParallelThreshold, [&](std::int64_t k) {
    y[k] = std::tanh(x[k]);
  });
}

template <int E> void tanh_grad(int n, const float *dy, const float *y, float *dx) {
  const std::int64_t total = std::int64_t(n) * E;
  detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k)
      dx[k] = dy[k] * (1.f - y[k] * y[k]);
  });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_ACTIVATION_H
