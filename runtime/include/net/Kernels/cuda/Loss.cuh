//===- Loss.cuh - softmax, cross-entropy, accuracy ---------------*- CUDA -*-===//
//
// softmax and softmax_grad: one thread per sample row (K is the number of
// classes: 10 to 1000 here, so a row is a short serial loop, in the CPU's
// float order). cross_entropy and count_correct write their scalar into the
// running step's StepArgs on the device (Common.cuh), where the entry points
// read it back once per call or once per run of steps: one block sums the n
// terms in double in a fixed tree. softmax_cross_entropy_grad is
// (p - onehot) / n.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_LOSS_CUH
#define NETC_KERNELS_CUDA_LOSS_CUH

#include "net/Kernels/cuda/Common.cuh"

namespace netc::cuda {
namespace detail {

template <int K>
__global__ void softmaxRows(int n, const float *__restrict__ x, float *__restrict__ y) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const float *xr = x + std::size_t(i) * K;
    float *yr = y + std::size_t(i) * K;
    float mx = xr[0];
    for (int k = 1; k < K; ++k)
      mx = xr[k] > mx ? xr[k] : mx;
    float sum = 0.f;
    for (int k = 0; k < K; ++k) {
      yr[k] = expf(xr[k] - mx);
      sum += yr[k];
    }
    const float inv = 1.f / sum;
    for (int k = 0; k < K; ++k)
      yr[k] *= inv;
  }
}

template <int K>
__global__ void softmaxGradRows(int n, const float *__restrict__ dy, const float *__restrict__ y,
                                float *__restrict__ dx) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const float *dyr = dy + std::size_t(i) * K, *yr = y + std::size_t(i) * K;
    float *dxr = dx + std::size_t(i) * K;
    float dot = 0.f;
    for (int k = 0; k < K; ++k)
      dot += dyr[k] * yr[k];
    for (int k = 0; k < K; ++k)
      dxr[k] = yr[k] * (dyr[k] - dot);
  }
}

template <int K>
__global__ void crossEntropy(int n, const float *__restrict__ probs,
                             const std::int32_t *__restrict__ labels, Step step) {
  __shared__ double shared[kThreads];
  double sum = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) {
    const float p = probs[std::size_t(i) * K + labels[i]];
    sum -= log(double(p > 1e-7f ? p : 1e-7f));
  }
  sum = blockSum(sum, shared);
  if (threadIdx.x == 0)
    step.at().loss = n > 0 ? float(sum / n) : 0.f;
}

template <int K>
__global__ void countCorrect(int n, const float *__restrict__ probs,
                             const std::int32_t *__restrict__ labels, Step step) {
  __shared__ double shared[kThreads];
  double correct = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) {
    const float *p = probs + std::size_t(i) * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (p[k] > p[best]) // the first maximum wins, as on the CPU
        best = k;
    correct += best == labels[i];
  }
  correct = blockSum(correct, shared);
  if (threadIdx.x == 0)
    step.at().correct = int(correct);
}

template <int K>
__global__ void softmaxCrossEntropyGrad(int n, const float *__restrict__ probs,
                                        const std::int32_t *__restrict__ labels,
                                        float *__restrict__ dlogits) {
  const float scale = 1.f / float(n);
  const std::int64_t total = std::int64_t(n) * K;
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int k = int(o % K);
    dlogits[o] = (probs[o] - (k == labels[o / K] ? 1.f : 0.f)) * scale;
  }
}

} // namespace detail

template <int K> void softmax(int n, const float *x, float *y) {
  static_assert(K > 0, "softmax: no classes");
  detail::softmaxRows<K><<<detail::blocksFor(n), detail::kThreads>>>(n, x, y);
  NETC_CUDA_CHECK_LAUNCH("softmax");
}

template <int K> void softmax_grad(int n, const float *dy, const float *y, float *dx) {
  detail::softmaxGradRows<K><<<detail::blocksFor(n), detail::kThreads>>>(n, dy, y, dx);
  NETC_CUDA_CHECK_LAUNCH("softmax_grad");
}

/// The mean loss, into the running step's StepArgs::loss.
template <int K>
void cross_entropy(int n, const float *probs, const std::int32_t *labels, Step step) {
  detail::crossEntropy<K><<<1, detail::kThreads>>>(n, probs, labels, step);
  NETC_CUDA_CHECK_LAUNCH("cross_entropy");
}

/// The correct count, into the running step's StepArgs::correct.
template <int K>
void count_correct(int n, const float *probs, const std::int32_t *labels, Step step) {
  detail::countCorrect<K><<<1, detail::kThreads>>>(n, probs, labels, step);
  NETC_CUDA_CHECK_LAUNCH("count_correct");
}

template <int K>
void softmax_cross_entropy_grad(int n, const float *probs, const std::int32_t *labels,
                                float *dlogits) {
  detail::softmaxCrossEntropyGrad<K>
      <<<detail::blocksFor(std::int64_t(n) * K), detail::kThreads>>>(n, probs, labels, dlogits);
  NETC_CUDA_CHECK_LAUNCH("softmax_cross_entropy_grad");
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_LOSS_CUH
