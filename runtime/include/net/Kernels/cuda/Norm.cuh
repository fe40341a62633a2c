//===- Norm.cuh - batch normalisation ----------------------------*- CUDA -*-===//
//
// Norm.h's semantics on the GPU. Inference (and its gradient) is element-wise
// with the per-channel scale gamma/sqrt(var+eps) and shift computed in float
// as the CPU does. Training is one block per channel: the mean and then the
// biased variance (two passes, no cancellation) summed in double in a fixed
// tree, batch_mean and batch_inv_std kept for the backward, the running
// statistics updated as Keras (r = momentum*r + (1-momentum)*batch), then the
// channel normalised. The backward is one block per channel too: dbeta =
// sum dy, dgamma = sum dy*xhat, dx = gamma*inv_std*(dy - mean(dy) -
// xhat*mean(dy*xhat)); dx may be null. fold_batch_norm folds the inference
// batch norm into a conv's weight and bias (w' = w*s, b' = (b-mean)*s+beta).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_NORM_CUH
#define NETC_KERNELS_CUDA_NORM_CUH

#include "net/Kernels/cuda/Common.cuh"

namespace netc::cuda {
namespace detail {

template <int C, int S>
__global__ void batchNormInference(std::int64_t total, const float *__restrict__ x,
                                   const float *__restrict__ gamma, const float *__restrict__ beta,
                                   const float *__restrict__ mean, const float *__restrict__ var,
                                   float eps, float *__restrict__ y) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int c = int(o / S % C);
    const float scale = gamma[c] / sqrtf(var[c] + eps);
    const float shift = beta[c] - mean[c] * scale;
    y[o] = x[o] * scale + shift;
  }
}

template <int C, int S>
__global__ void batchNormInferenceGrad(std::int64_t total, const float *__restrict__ dy,
                                       const float *__restrict__ gamma,
                                       const float *__restrict__ var, float eps,
                                       float *__restrict__ dx) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int c = int(o / S % C);
    dx[o] = dy[o] * (gamma[c] / sqrtf(var[c] + eps));
  }
}

/// Element j of channel c over the batch: sample j / S, pixel j % S.
template <int C, int S> __device__ inline std::int64_t channelIndex(int c, std::int64_t j) {
  return (j / S * C + c) * S + j % S;
}

template <int C, int S>
__global__ void batchNormTrain(int n, const float *__restrict__ x, const float *__restrict__ gamma,
                               const float *__restrict__ beta, float *__restrict__ running_mean,
                               float *__restrict__ running_var, float eps, float momentum,
                               float *__restrict__ y, float *__restrict__ batch_mean,
                               float *__restrict__ batch_inv_std) {
  __shared__ double shared[kThreads];
  const int c = blockIdx.x;
  const std::int64_t count = std::int64_t(n) * S;
  double sum = 0;
  for (std::int64_t j = threadIdx.x; j < count; j += kThreads)
    sum += x[channelIndex<C, S>(c, j)];
  const double mean = blockSum(sum, shared) / double(count);
  __syncthreads(); // everyone has read shared[0] before it is reused
  double squares = 0;
  for (std::int64_t j = threadIdx.x; j < count; j += kThreads) {
    const double d = x[channelIndex<C, S>(c, j)] - mean;
    squares += d * d;
  }
  const double var = blockSum(squares, shared) / double(count);
  const float inv_std = float(1.0 / sqrt(var + double(eps)));
  if (threadIdx.x == 0) {
    batch_mean[c] = float(mean);
    batch_inv_std[c] = inv_std;
    running_mean[c] = momentum * running_mean[c] + (1 - momentum) * float(mean);
    running_var[c] = momentum * running_var[c] + (1 - momentum) * float(var);
  }
  const float scale = gamma[c] * inv_std;
  const float shift = beta[c] - float(mean) * scale;
  for (std::int64_t j = threadIdx.x; j < count; j += kThreads) {
    const std::int64_t o = channelIndex<C, S>(c, j);
    y[o] = x[o] * scale + shift;
  }
}

template <int C, int S>
__global__ void batchNormTrainGrad(int n, const float *__restrict__ dy,
                                   const float *__restrict__ x, const float *__restrict__ gamma,
                                   const float *__restrict__ batch_mean,
                                   const float *__restrict__ batch_inv_std, float *__restrict__ dx,
                                   float *__restrict__ dgamma, float *__restrict__ dbeta) {
  __shared__ double shared[kThreads];
  const int c = blockIdx.x;
  const std::int64_t count = std::int64_t(n) * S;
  const float mean = batch_mean[c], inv_std = batch_inv_std[c];
  double a = 0, b = 0;
  for (std::int64_t j = threadIdx.x; j < count; j += kThreads) {
    const std::int64_t o = channelIndex<C, S>(c, j);
    a += dy[o];
    b += double(dy[o]) * ((x[o] - mean) * inv_std);
  }
  const double sum_dy = blockSum(a, shared);
  __syncthreads();
  const double sum_dy_xhat = blockSum(b, shared);
  if (threadIdx.x == 0) {
    dbeta[c] = float(sum_dy);
    dgamma[c] = float(sum_dy_xhat);
  }
  if (!dx)
    return;
  const float k = gamma[c] * inv_std;
  const float mean_dy = float(sum_dy / double(count));
  const float mean_dy_xhat = float(sum_dy_xhat / double(count));
  for (std::int64_t j = threadIdx.x; j < count; j += kThreads) {
    const std::int64_t o = channelIndex<C, S>(c, j);
    const float xhat = (x[o] - mean) * inv_std;
    dx[o] = k * (dy[o] - mean_dy - xhat * mean_dy_xhat);
  }
}

template <int F, int K>
__global__ void foldBatchNorm(const float *__restrict__ w, const float *__restrict__ b,
                              const float *__restrict__ gamma, const float *__restrict__ beta,
                              const float *__restrict__ mean, const float *__restrict__ var,
                              float eps, float *__restrict__ w_out, float *__restrict__ b_out) {
  const std::int64_t total = std::int64_t(F) * K;
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int f = int(o / K);
    const float s = gamma[f] / sqrtf(var[f] + eps);
    w_out[o] = w[o] * s;
    if (o % K == 0)
      b_out[f] = ((b ? b[f] : 0.f) - mean[f]) * s + beta[f];
  }
}

} // namespace detail

template <int C, int S>
void batch_norm_inference(int n, const float *x, const float *gamma, const float *beta,
                          const float *mean, const float *var, float eps, float *y) {
  const std::int64_t total = std::int64_t(n) * C * S;
  detail::batchNormInference<C, S>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, x, gamma, beta, mean, var, eps, y);
  NETC_CUDA_CHECK_LAUNCH("batch_norm_inference");
}

template <int C, int S>
void batch_norm_inference_grad(int n, const float *dy, const float *gamma, const float *var,
                               float eps, float *dx) {
  const std::int64_t total = std::int64_t(n) * C * S;
  detail::batchNormInferenceGrad<C, S>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, dy, gamma, var, eps, dx);
  NETC_CUDA_CHECK_LAUNCH("batch_norm_inference_grad");
}

template <int C, int S>
void batch_norm_train(int n, const float *x, const float *gamma, const float *beta,
                      float *running_mean, float *running_var, float eps, float momentum,
                      float *y, float *batch_mean, float *batch_inv_std) {
  static_assert(C > 0 && S > 0, "batch_norm_train: empty extents");
  detail::batchNormTrain<C, S><<<C, detail::kThreads>>>(n, x, gamma, beta, running_mean,
                                                        running_var, eps, momentum, y,
                                                        batch_mean, batch_inv_std);
  NETC_CUDA_CHECK_LAUNCH("batch_norm_train");
}

template <int C, int S>
void batch_norm_train_grad(int n, const float *dy, const float *x, const float *gamma,
                           const float *batch_mean, const float *batch_inv_std, float *dx,
                           float *dgamma, float *dbeta) {
  static_assert(C > 0 && S > 0, "batch_norm_train_grad: empty extents");
  detail::batchNormTrainGrad<C, S><<<C, detail::kThreads>>>(n, dy, x, gamma, batch_mean,
                                                            batch_inv_std, dx, dgamma, dbeta);
  NETC_CUDA_CHECK_LAUNCH("batch_norm_train_grad");
}

template <int F, int K>
void fold_batch_norm(const float *w, const float *b, const float *gamma, const float *beta,
                     const float *mean, const float *var, float eps, float *w_out,
                     float *b_out) {
  detail::foldBatchNorm<F, K><<<detail::blocksFor(std::int64_t(F) * K), detail::kThreads>>>(
      w, b, gamma, beta, mean, var, eps, w_out, b_out);
  NETC_CUDA_CHECK_LAUNCH("fold_batch_norm");
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_NORM_CUH
