//===- Pool.cuh - max, average and global average pooling --------*- CUDA -*-===//
//
// The CPU's Pool.h on the GPU, one thread per output element: max pooling
// takes the first maximum (padding never wins; a window of padding only gives
// 0), average pooling divides by the in-range count (Keras). The gradients
// are written in gather form, one thread per input pixel summing the windows
// that cover it, so they need no atomics and no zeroing pass: max_pool2d_grad
// recomputes each covering window's argmax from x, as the CPU's does.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_POOL_CUH
#define NETC_KERNELS_CUDA_POOL_CUH

#include "net/Kernels/cuda/Common.cuh"

namespace netc::cuda {
namespace detail {

/// The flat index (ih*W + iw) of the window's first maximum, -1 for a window
/// of padding only.
template <int H, int W, int KH, int KW, int SH, int SW, int PT, int PL>
__device__ inline int windowArgmax(const float *plane, int oh, int ow) {
  int best = -1;
  for (int kh = 0; kh < KH; ++kh)
    for (int kw = 0; kw < KW; ++kw) {
      const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W)
        continue;
      if (best < 0 || plane[ih * W + iw] > plane[best])
        best = ih * W + iw;
    }
  return best;
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW,
          bool MAX>
__global__ void pool(std::int64_t total, const float *__restrict__ x, float *__restrict__ y) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int ow = int(o % OW), oh = int(o / OW % OH);
    const float *plane = x + (o / (OH * OW)) * (H * W);
    if constexpr (MAX) {
      const int best = windowArgmax<H, W, KH, KW, SH, SW, PT, PL>(plane, oh, ow);
      y[o] = best < 0 ? 0.f : plane[best];
    } else {
      float s = 0.f;
      int count = 0;
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw) {
          const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
          if (ih < 0 || ih >= H || iw < 0 || iw >= W)
            continue;
          s += plane[ih * W + iw];
          ++count;
        }
      y[o] = count ? s / float(count) : 0.f;
    }
  }
}

/// dx of one input pixel: the sum over the windows covering it.
template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW,
          bool MAX>
__global__ void poolGrad(std::int64_t total, const float *__restrict__ dy,
                         const float *__restrict__ x, float *__restrict__ dx) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int iw = int(o % W), ih = int(o / W % H);
    const std::int64_t p = o / (H * W);
    const float *dyp = dy + p * (OH * OW);
    // Windows oh with oh*SH - PT <= ih < oh*SH - PT + KH.
    const int oh0 = max(0, (ih + PT - KH + SH) / SH), oh1 = min(OH - 1, (ih + PT) / SH);
    const int ow0 = max(0, (iw + PL - KW + SW) / SW), ow1 = min(OW - 1, (iw + PL) / SW);
    float g = 0.f;
    for (int oh = oh0; oh <= oh1; ++oh)
      for (int ow = ow0; ow <= ow1; ++ow) {
        if (oh * SH - PT > ih || oh * SH - PT + KH <= ih || ow * SW - PL > iw ||
            ow * SW - PL + KW <= iw)
          continue;
        if constexpr (MAX) {
          if (windowArgmax<H, W, KH, KW, SH, SW, PT, PL>(x + p * (H * W), oh, ow) == ih * W + iw)
            g += dyp[oh * OW + ow];
        } else {
          const int h0 = max(0, oh * SH - PT), h1 = min(H, oh * SH - PT + KH);
          const int w0 = max(0, ow * SW - PL), w1 = min(W, ow * SW - PL + KW);
          g += dyp[oh * OW + ow] / float((h1 - h0) * (w1 - w0));
        }
      }
    dx[o] = g;
  }
}

template <int S>
__global__ void globalAvgPool(std::int64_t planes, const float *__restrict__ x,
                              float *__restrict__ y) {
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < planes;
       p += std::int64_t(gridDim.x) * blockDim.x) {
    double s = 0;
    for (int k = 0; k < S; ++k)
      s += x[p * S + k];
    y[p] = float(s / S);
  }
}

template <int S>
__global__ void globalAvgPoolGrad(std::int64_t total, const float *__restrict__ dy,
                                  float *__restrict__ dx) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x)
    dx[o] = dy[o / S] / float(S);
}

} // namespace detail

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void max_pool2d(int n, const float *x, float *y) {
  static_assert(KH > 0 && KW > 0 && SH > 0 && SW > 0, "max_pool2d: empty window or stride");
  const std::int64_t total = std::int64_t(n) * C * OH * OW;
  detail::pool<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW, true>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, x, y);
  NETC_CUDA_CHECK_LAUNCH("max_pool2d");
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void max_pool2d_grad(int n, const float *dy, const float *x, float *dx) {
  static_assert(KH > 0 && KW > 0 && SH > 0 && SW > 0, "max_pool2d_grad: empty window or stride");
  const std::int64_t total = std::int64_t(n) * C * H * W;
  detail::poolGrad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW, true>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, dy, x, dx);
  NETC_CUDA_CHECK_LAUNCH("max_pool2d_grad");
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void avg_pool2d(int n, const float *x, float *y) {
  static_assert(KH > 0 && KW > 0 && SH > 0 && SW > 0, "avg_pool2d: empty window or stride");
  const std::int64_t total = std::int64_t(n) * C * OH * OW;
  detail::pool<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW, false>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, x, y);
  NETC_CUDA_CHECK_LAUNCH("avg_pool2d");
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void avg_pool2d_grad(int n, const float *dy, float *dx) {
  static_assert(KH > 0 && KW > 0 && SH > 0 && SW > 0, "avg_pool2d_grad: empty window or stride");
  const std::int64_t total = std::int64_t(n) * C * H * W;
  detail::poolGrad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW, false>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, dy, nullptr, dx);
  NETC_CUDA_CHECK_LAUNCH("avg_pool2d_grad");
}

template <int C, int S> void global_avg_pool(int n, const float *x, float *y) {
  const std::int64_t planes = std::int64_t(n) * C;
  detail::globalAvgPool<S><<<detail::blocksFor(planes), detail::kThreads>>>(planes, x, y);
  NETC_CUDA_CHECK_LAUNCH("global_avg_pool");
}

template <int C, int S> void global_avg_pool_grad(int n, const float *dy, float *dx) {
  const std::int64_t total = std::int64_t(n) * C * S;
  detail::globalAvgPoolGrad<S><<<detail::blocksFor(total), detail::kThreads>>>(total, dy, dx);
  NETC_CUDA_CHECK_LAUNCH("global_avg_pool_grad");
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_POOL_CUH
