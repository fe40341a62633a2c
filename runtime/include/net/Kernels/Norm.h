//===- Norm.h - batch normalisation with frozen statistics -----*- C++ -*-===//
//
// y[i,c,s] = gamma[c] * (x[i,c,s] - mean[c]) / sqrt(var[c] + eps) + beta[c]
// dx[i,c,s] = dy[i,c,s] * gamma[c] / sqrt(var[c] + eps)
// Inference mode (running statistics), as in a frozen ResNet50 base: the
// statistics are constants, so the op is a per-channel affine map; the scale
// and shift are computed once per channel and the loop over S vectorised.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_NORM_H
#define NETC_KERNELS_NORM_H

#include "net/Kernels/Common.h"

#include <cmath>

namespace netc::kernels {

template <int C, int S>
void batch_norm_inference(int n, const float *x, const float *gamma, const float *beta,
                          const float *mean, const float *var, float eps, float *y) {
#pragma omp parallel for schedule(static) if (std::int64_t(n) * C * S > detail::kParallelThreshold)
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c) {
      const float scale = gamma[c] / std::sqrt(var[c] + eps);
      const float shift = beta[c] - mean[c] * scale;
      const std::size_t o = (std::size_t(i) * C + c) * S;
#pragma omp simd
      for (int s = 0; s < S; ++s)
        y[o + s] = x[o + s] * scale + shift;
    }
}

template <int C, int S>
void batch_norm_inference_grad(int n, const float *dy, const float *gamma, const float *var,
                               float eps, float *dx) {
#pragma omp parallel for schedule(static) if (std::int64_t(n) * C * S > detail::kParallelThreshold)
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c) {
      const float scale = gamma[c] / std::sqrt(var[c] + eps);
      const std::size_t o = (std::size_t(i) * C + c) * S;
#pragma omp simd
      for (int s = 0; s < S; ++s)
        dx[o + s] = dy[o + s] * scale;
    }
}

// fold_batch_norm: the weight [F][K] (K = C*KH*KW) and bias of a convolution
// with the inference batch norm after it folded in: s = gamma/sqrt(var+eps),
// w' = w*s per output channel, b' = (b - mean)*s + beta (b = 0 when null).
// Run at each inference call: F*K multiplies, next to the conv's n*F*K*OH*OW.
template <int F, int K>
void fold_batch_norm(const float *w, const float *b, const float *gamma, const float *beta,
                     const float *mean, const float *var, float eps, float *w_out,
                     float *b_out) {
  for (int f = 0; f < F; ++f) {
    const float s = gamma[f] / std::sqrt(var[f] + eps);
    const float *wr = w + std::size_t(f) * K;
    float *wo = w_out + std::size_t(f) * K;
    for (int k = 0; k < K; ++k)
      wo[k] = wr[k] * s;
    b_out[f] = ((b ? b[f] : 0.f) - mean[f]) * s + beta[f];
  }
}

} // namespace netc::kernels

#endif // NETC_KERNELS_NORM_H
