//===- Optimizer.h - in-place parameter updates -----------------*- C++ -*-===//
//
// One call updates one whole parameter of `size` floats in place.
// SGD (Keras semantics): v = momentum*v - lr*g; p += v, or with Nesterov
//   p += momentum*v - lr*g (with the new v). With momentum == 0 the velocity
//   is not touched and may be null.
// Adam (PyTorch / Keras 2.11): m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), t the 1-based
//   step. The bias corrections are computed once per call, in double.
// Elementwise, so split over the flat index with no reduction. Adam's square
// root vectorises only under -fno-math-errno (netc builds models with it):
// without, each is a scalar call that may set errno, 4.7x slower.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_OPTIMIZER_H
#define NETC_KERNELS_OPTIMIZER_H

#include "net/Kernels/Common.h"

#include <cmath>

namespace netc::kernels {

inline void sgd_update(std::int64_t size, float *NETC_RESTRICT p, const float *NETC_RESTRICT g,
                       float *NETC_RESTRICT velocity, float lr, float momentum, bool nesterov) {
  if (momentum == 0.f) {
    detail::parallelRanges(size, size > detail::kParallelThreshold * 4,
                            [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
      for (std::int64_t k = k0; k < k1; ++k)
        p[k] -= lr * g[k];
    });
    return;
  }
  detail::parallelRanges(size, size > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k) {
      const float v = momentum * velocity[k] - lr * g[k];
      velocity[k] = v;
      p[k] += nesterov ? momentum * v - lr * g[k] : v;
    }
  });
}

inline void adam_update(std::int64_t size, float *NETC_RESTRICT p, const float *NETC_RESTRICT g,
                        float *NETC_RESTRICT m, float *NETC_RESTRICT v, float lr, float beta1,
                        float beta2, float eps, std::int64_t t) {
  const float c1 = float(1.0 / (1.0 - std::pow(double(beta1), double(t))));
  const float c2 = float(1.0 / (1.0 - std::pow(double(beta2), double(t))));
  detail::parallelRanges(size, size > detail::kParallelThreshold * 4,
                          [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
    for (std::int64_t k = k0; k < k1; ++k) {
      const float mk = beta1 * m[k] + (1.f - beta1) * g[k];
      const float vk = beta2 * v[k] + (1.f - beta2) * g[k] * g[k];
      m[k] = mk;
      v[k] = vk;
      p[k] -= lr * (mk * c1) / (std::sqrt(vk * c2) + eps);
    }
  });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_OPTIMIZER_H
