//===- Conv.cuh - direct 2-D convolution and its gradients -------*- CUDA -*-===//
//
// Conv.h's three kernels in their plainest correct GPU form, every extent a
// template parameter (so the tap loops unroll and the index arithmetic
// folds):
//   conv2d             one thread per output element, summing C*KH*KW taps;
//   conv2d_grad_input  gather form, one thread per input pixel summing the
//                      outputs whose window covers it (no atomics, no zeroing);
//   conv2d_grad_weight per weight element (f, c, kh, kw), the n*OH*OW
//                      products summed in double: by one block in a fixed
//                      tree, or, when they are at most kSerialGradWeight
//                      (late layers: conv3 of lenet5 has OH*OW = 1), by one
//                      thread in order; a 256-thread tree over a few products
//                      is 8 barriers for almost no work (the CUDA emulator
//                      showed it as 70% of a lenet5 step: docs/cuda.md).
// Taps outside the input read zero (padding top PT, left PL; bottom and right
// implied by OH/OW), as on the CPU. They are the baseline a GPU run
// measures implicit-GEMM and cuDNN against (docs/cuda.md).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_CONV_CUH
#define NETC_KERNELS_CUDA_CONV_CUH

#include "net/Kernels/cuda/Common.cuh"

namespace netc::cuda {
namespace detail {

/// One output element of a convolution of sample plane set `x` (C x H x W)
/// with filter `wf` (C x KH x KW).
template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL>
__device__ inline float convAt(const float *__restrict__ x, const float *__restrict__ wf, int oh,
                               int ow) {
  float s = 0.f;
  for (int c = 0; c < C; ++c) {
    const float *xc = x + std::size_t(c) * H * W;
    const float *wc = wf + c * KH * KW;
#pragma unroll
    for (int kh = 0; kh < KH; ++kh) {
      const int ih = oh * SH + kh - PT;
      if (ih < 0 || ih >= H)
        continue;
#pragma unroll
      for (int kw = 0; kw < KW; ++kw) {
        const int iw = ow * SW + kw - PL;
        if (iw >= 0 && iw < W)
          s += xc[ih * W + iw] * wc[kh * KW + kw];
      }
    }
  }
  return s;
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
__global__ void conv2d(std::int64_t total, const float *__restrict__ x,
                       const float *__restrict__ w, float *__restrict__ y) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int ow = int(o % OW), oh = int(o / OW % OH), f = int(o / (OH * OW) % F);
    const std::int64_t i = o / (std::int64_t(F) * OH * OW);
    y[o] = convAt<C, H, W, KH, KW, SH, SW, PT, PL>(x + i * C * H * W,
                                                    w + std::size_t(f) * C * KH * KW, oh, ow);
  }
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
__global__ void conv2dGradInput(std::int64_t total, const float *__restrict__ dy,
                                const float *__restrict__ w, float *__restrict__ dx) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const int iw = int(o % W), ih = int(o / W % H), c = int(o / (H * W) % C);
    const std::int64_t i = o / (std::int64_t(C) * H * W);
    const float *dyi = dy + i * F * OH * OW;
    float s = 0.f;
    for (int f = 0; f < F; ++f) {
      const float *wfc = w + (std::size_t(f) * C + c) * KH * KW;
      const float *dyf = dyi + std::size_t(f) * OH * OW;
#pragma unroll
      for (int kh = 0; kh < KH; ++kh) {
        const int th = ih + PT - kh; // = oh * SH
        if (th < 0 || th % SH != 0 || th / SH >= OH)
          continue;
#pragma unroll
        for (int kw = 0; kw < KW; ++kw) {
          const int tw = iw + PL - kw;
          if (tw < 0 || tw % SW != 0 || tw / SW >= OW)
            continue;
          s += dyf[(th / SH) * OW + tw / SW] * wfc[kh * KW + kw];
        }
      }
    }
    dx[o] = s;
  }
}

/// Term j = (i, oh, ow) of weight element (f, c, kh, kw)'s gradient sum:
/// dy times the input tap it met, 0 where the tap is padding. Both forms of
/// conv2dGradWeight add these terms.
template <int C, int H, int W, int F, int SH, int SW, int PT, int PL, int OH, int OW>
__device__ inline double gradWeightTerm(std::int64_t j, int f, int c, int kh, int kw,
                                        const float *__restrict__ dy,
                                        const float *__restrict__ x) {
  const int ow = int(j % OW), oh = int(j / OW % OH);
  const std::int64_t i = j / (OH * OW);
  const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
  if (ih < 0 || ih >= H || iw < 0 || iw >= W)
    return 0;
  return double(dy[((i * F + f) * OH + oh) * OW + ow]) * x[((i * C + c) * H + ih) * W + iw];
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
__global__ void conv2dGradWeight(int n, const float *__restrict__ dy, const float *__restrict__ x,
                                 float *__restrict__ dw) {
  __shared__ double shared[kThreads];
  const int e = blockIdx.x; // (f, c, kh, kw)
  const int kw = e % KW, kh = e / KW % KH, c = e / (KH * KW) % C, f = e / (C * KH * KW);
  double s = 0;
  for (std::int64_t j = threadIdx.x; j < std::int64_t(n) * OH * OW; j += kThreads)
    s += gradWeightTerm<C, H, W, F, SH, SW, PT, PL, OH, OW>(j, f, c, kh, kw, dy, x);
  s = blockSum(s, shared);
  if (threadIdx.x == 0)
    dw[e] = float(s);
}

/// conv2dGradWeight's sum by one thread per weight element, in (i, oh, ow)
/// order: consecutive threads take consecutive kw, so x is read contiguously
/// and dy is the same address across the row.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
__global__ void conv2dGradWeightSerial(std::int64_t total, int n, const float *__restrict__ dy,
                                       const float *__restrict__ x, float *__restrict__ dw) {
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < total;
       e += std::int64_t(gridDim.x) * blockDim.x) {
    const int kw = int(e % KW), kh = int(e / KW % KH), c = int(e / (KH * KW) % C),
              f = int(e / (std::int64_t(C) * KH * KW));
    double s = 0;
    for (std::int64_t j = 0; j < std::int64_t(n) * OH * OW; ++j)
      s += gradWeightTerm<C, H, W, F, SH, SW, PT, PL, OH, OW>(j, f, c, kh, kw, dy, x);
    dw[e] = float(s);
  }
}

/// Products per weight element up to which one thread sums them.
constexpr std::int64_t kSerialGradWeight = 2048;

} // namespace detail

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
void conv2d(int n, const float *x, const float *w, float *y) {
  static_assert(C > 0 && F > 0 && KH > 0 && KW > 0 && SH > 0 && SW > 0 && OH > 0 && OW > 0,
                "conv2d: empty extents");
  const std::int64_t total = std::int64_t(n) * F * OH * OW;
  detail::conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, x, w, y);
  NETC_CUDA_CHECK_LAUNCH("conv2d");
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
void conv2d_grad_input(int n, const float *dy, const float *w, float *dx) {
  static_assert(SH > 0 && SW > 0, "conv2d_grad_input: zero stride");
  const std::int64_t total = std::int64_t(n) * C * H * W;
  detail::conv2dGradInput<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>
      <<<detail::blocksFor(total), detail::kThreads>>>(total, dy, w, dx);
  NETC_CUDA_CHECK_LAUNCH("conv2d_grad_input");
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
void conv2d_grad_weight(int n, const float *dy, const float *x, float *dw) {
  static_assert(std::int64_t(F) * C * KH * KW < (std::int64_t(1) << 31),
                "conv2d_grad_weight: one block per weight element");
  const std::int64_t weights = std::int64_t(F) * C * KH * KW;
  if (std::int64_t(n) * OH * OW <= detail::kSerialGradWeight)
    detail::conv2dGradWeightSerial<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>
        <<<detail::blocksFor(weights), detail::kThreads>>>(weights, n, dy, x, dw);
  else
    detail::conv2dGradWeight<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>
        <<<unsigned(weights), detail::kThreads>>>(n, dy, x, dw);
  NETC_CUDA_CHECK_LAUNCH("conv2d_grad_weight");
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_CONV_CUH
