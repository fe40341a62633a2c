//===- Norm.h - batch normalisation ------------------------------*- C++ -*-===//
//
// y[i,c,s] = gamma[c] * (x[i,c,s] - mean[c]) / sqrt(var[c] + eps) + beta[c]
// Inference mode (running statistics), as in a frozen ResNet50 base: the
// statistics are constants, so the op is a per-channel affine map, and
// dx[i,c,s] = dy[i,c,s] * gamma[c] / sqrt(var[c] + eps).
// Training mode (a trained gamma and beta): the statistics are the batch's,
// computed per channel in double and in a fixed order, so the result does not
// depend on the thread count; the channels are the parallel dimension.
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
  detail::parallelFor(int(n), std::int64_t(n) * C * S > detail::kParallelThreshold, [&](int i) {
    for (int c = 0; c < C; ++c) {
      const float scale = gamma[c] / std::sqrt(var[c] + eps);
      const float shift = beta[c] - mean[c] * scale;
      const std::size_t o = (std::size_t(i) * C + c) * S;
#pragma omp simd
      for (int s = 0; s < S; ++s)
        y[o + s] = x[o + s] * scale + shift;
    }
  });
}

template <int C, int S>
void batch_norm_inference_grad(int n, const float *dy, const float *gamma, const float *var,
                               float eps, float *dx) {
  detail::parallelFor(int(n), std::int64_t(n) * C * S > detail::kParallelThreshold, [&](int i) {
    for (int c = 0; c < C; ++c) {
      const float scale = gamma[c] / std::sqrt(var[c] + eps);
      const std::size_t o = (std::size_t(i) * C + c) * S;
#pragma omp simd
      for (int s = 0; s < S; ++s)
        dx[o + s] = dy[o + s] * scale;
    }
  });
}

namespace detail {
/// The sum of x[i, c, s] over i and s, in double, always in the same order.
template <int C, int S>
double channel_sum(int n, const float *x, int c) {
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const float *row = x + (std::size_t(i) * C + c) * S;
    double part = 0;
    for (int s = 0; s < S; ++s)
      part += row[s];
    sum += part;
  }
  return sum;
}
} // namespace detail

// Batch statistics (biased variance, as Keras and PyTorch normalise with),
// the running statistics updated as Keras: r = momentum * r + (1 - momentum)
// * batch. batch_mean and batch_inv_std = 1/sqrt(var + eps) are kept for the
// backward.
template <int C, int S>
void batch_norm_train(int n, const float *x, const float *gamma, const float *beta,
                      float *running_mean, float *running_var, float eps, float momentum,
                      float *y, float *batch_mean, float *batch_inv_std) {
  const double count = double(n) * S;
  detail::parallelFor(int(C), std::int64_t(n) * C * S > detail::kParallelThreshold, [&](int c) {
    const double mean = detail::channel_sum<C, S>(n, x, c) / count;
    double squares = 0; // two passes: no cancellation for large means
    for (int i = 0; i < n; ++i) {
      const float *row = x + (std::size_t(i) * C + c) * S;
      double part = 0;
      for (int s = 0; s < S; ++s) {
        const double d = row[s] - mean;
        part += d * d;
      }
      squares += part;
    }
    const double var = squares / count;
    const float inv_std = float(1.0 / std::sqrt(var + double(eps)));
    batch_mean[c] = float(mean);
    batch_inv_std[c] = inv_std;
    running_mean[c] = momentum * running_mean[c] + (1 - momentum) * float(mean);
    running_var[c] = momentum * running_var[c] + (1 - momentum) * float(var);
    const float scale = gamma[c] * inv_std;
    const float shift = beta[c] - float(mean) * scale;
    for (int i = 0; i < n; ++i) {
      const std::size_t o = (std::size_t(i) * C + c) * S;
#pragma omp simd
      for (int s = 0; s < S; ++s)
        y[o + s] = x[o + s] * scale + shift;
    }
  });
}

// dbeta = sum dy, dgamma = sum dy * xhat,
// dx = gamma * inv_std / M * (M * dy - dbeta - xhat * dgamma), M = n * S;
// dx may be null.
template <int C, int S>
void batch_norm_train_grad(int n, const float *dy, const float *x, const float *gamma,
                           const float *batch_mean, const float *batch_inv_std, float *dx,
                           float *dgamma, float *dbeta) {
  const double count = double(n) * S;
  detail::parallelFor(int(C), std::int64_t(n) * C * S > detail::kParallelThreshold, [&](int c) {
    const float mean = batch_mean[c], inv_std = batch_inv_std[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int i = 0; i < n; ++i) {
      const std::size_t o = (std::size_t(i) * C + c) * S;
      double a = 0, b = 0;
      for (int s = 0; s < S; ++s) {
        a += dy[o + s];
        b += double(dy[o + s]) * ((x[o + s] - mean) * inv_std);
      }
      sum_dy += a;
      sum_dy_xhat += b;
    }
    dbeta[c] = float(sum_dy);
    dgamma[c] = float(sum_dy_xhat);
    if (!dx)
      return; // the layer's input needs no gradient (a first layer)
    const float k = gamma[c] * inv_std;
    const float mean_dy = float(sum_dy / count), mean_dy_xhat = float(sum_dy_xhat / count);
    for (int i = 0; i < n; ++i) {
      const std::size_t o = (std::size_t(i) * C + c) * S;
#pragma omp simd
      for (int s = 0; s < S; ++s) {
        const float xhat = (x[o + s] - mean) * inv_std;
        dx[o + s] = k * (dy[o + s] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  });
}

// fold_batch_norm: the weight [F][K] (K = C*KH*KW) and bias of a convolution
// with the inference batch norm after it folded in: s = gamma/sqrt(var+eps),
// w' = w*s per output channel, b' = (b - mean)*s + beta (b = 0 when null).
// F*K multiplies, next to the conv's n*F*K*OH*OW, but a pass over the
// weights through memory (resnet50's 94 MB): parallel over output channels.
// The CPU path runs it when the parameters may have changed, the CUDA path
// at each inference call.
template <int F, int K>
void fold_batch_norm(const float *w, const float *b, const float *gamma, const float *beta,
                     const float *mean, const float *var, float eps, float *w_out,
                     float *b_out) {
  detail::parallelFor(int(F), std::int64_t(F) * K > 4 * detail::kParallelThreshold, [&](int f) {
    const float s = gamma[f] / std::sqrt(var[f] + eps);
    const float *wr = w + std::size_t(f) * K;
    float *wo = w_out + std::size_t(f) * K;
    for (int k = 0; k < K; ++k)
      wo[k] = wr[k] * s;
    b_out[f] = ((b ? b[f] : 0.f) - mean[f]) * s + beta[f];
  });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_NORM_H
