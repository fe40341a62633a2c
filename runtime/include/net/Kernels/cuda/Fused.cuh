//===- Fused.cuh - conv + bias + activation (+ pooling), fused ---*- CUDA -*-===//
//
// The kernels net-fuse-conv-bias-act-pool emits, with Fused.h's signatures
// and codes (ACT: 0 none, 1 relu, 2 sigmoid, 3 tanh; POOL: 0 none, 1 max,
// 2 average; BIAS: whether b is read) and its `saved` contract:
//   POOL 1: the flat argmax oh*OW+ow of each window in the conv plane
//           (first maximum wins), [n,F,POH,POW];
//   POOL 0/2 with ACT != 0: the activation a, [n,F,OH,OW]; otherwise nothing.
//
// fused_conv2d is ONE kernel. A block owns one (sample, output channel, band
// of TR conv rows), with as many threads as the band has outputs (whole
// warps, at most 256); it stages the channel's filter in shared memory when it
// fits, computes the band's conv outputs + bias + activation into a shared
// tile, and pools from that tile, so the conv output z and the activation a
// never reach global memory (the point of fusing). The band is a whole
// number of pooling windows because the fusion pass fuses a pooling only when
// its windows tile the conv output exactly (stride = window, no padding,
// extents that divide: docs/fusion.md); the launcher asserts it.
//
// fused_conv2d_grad: one kernel builds dz = act'(a) * (the pooling's
// gradient of dy) in `scratch` (the argmax is read from `saved`, the
// activation at the argmax is the pooled output y), then Conv.cuh's weight
// and input gradients and bias_grad run on it. With POOL 0 and ACT 0, dz is
// dy and scratch is not touched, as on the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_FUSED_CUH
#define NETC_KERNELS_CUDA_FUSED_CUH

#include "net/Kernels/Codes.h"
#include "net/Kernels/cuda/Common.cuh"
#include "net/Kernels/cuda/Conv.cuh"
#include "net/Kernels/cuda/Dense.cuh"
#include "net/Kernels/cuda/Elementwise.cuh"

namespace netc::cuda {
namespace detail {

/// Floats of the shared conv tile (16 KiB) and of a staged filter (16 KiB).
constexpr int kFusedTileFloats = 4096;
constexpr int kFusedFilterFloats = 4096;

/// Conv rows per block: as many whole pooling windows (rows of PKH; 1 without
/// pooling) as fit the tile, at most OH.
template <int OH, int OW, int PKH> constexpr int fusedBandRows() {
  constexpr int unit = PKH > 0 ? PKH : 1;
  constexpr int fit = kFusedTileFloats / OW / unit * unit;
  return fit < unit ? unit : (fit > OH ? OH : fit);
}

/// Threads of a fused block for a band of `outputs`: whole warps, 32 to
/// kThreads.
constexpr int fusedBlockThreads(int outputs) {
  const int warps = (outputs + 31) / 32 * 32;
  return warps < 32 ? 32 : (warps > kThreads ? kThreads : warps);
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int POH, int POW, bool BIAS, int TR>
__global__ void fusedConv2d(const float *__restrict__ x, const float *__restrict__ w,
                            const float *__restrict__ b, float *__restrict__ y,
                            float *__restrict__ saved) {
  constexpr int CKK = C * KH * KW;
  constexpr bool kStageFilter = CKK <= kFusedFilterFloats;
  __shared__ float tile[TR * OW];
  __shared__ float filter[kStageFilter ? CKK : 1];
  const int band = blockIdx.x, f = blockIdx.y;
  const std::int64_t i = blockIdx.z;
  const int row0 = band * TR, rows = min(TR, OH - row0);
  const float *wf = w + std::size_t(f) * CKK;
  if constexpr (kStageFilter) {
    for (int k = threadIdx.x; k < CKK; k += blockDim.x)
      filter[k] = wf[k];
    __syncthreads();
    wf = filter;
  }
  const float bias = BIAS ? b[f] : 0.f;
  const float *xi = x + i * C * H * W;
  // Conv + bias + activation of the band into the shared tile.
  for (int k = threadIdx.x; k < rows * OW; k += blockDim.x) {
    const int oh = row0 + k / OW, ow = k % OW;
    tile[k] = act<ACT>(convAt<C, H, W, KH, KW, SH, SW, PT, PL>(xi, wf, oh, ow) + bias);
  }
  __syncthreads();
  const std::size_t plane = (i * F + f) * std::size_t(OH) * OW;
  if constexpr (POOL == kPoolNone) {
    for (int k = threadIdx.x; k < rows * OW; k += blockDim.x) {
      y[plane + std::size_t(row0) * OW + k] = tile[k];
      if (ACT != kActNone && saved)
        saved[plane + std::size_t(row0) * OW + k] = tile[k];
    }
    return;
  } else {
    const std::size_t pooled = (i * F + f) * std::size_t(POH) * POW;
    const int prow0 = row0 / PKH, prows = rows / PKH;
    for (int k = threadIdx.x; k < prows * POW; k += blockDim.x) {
      const int pr = k / POW, pw = k % POW;
      const float *window = tile + pr * PKH * OW + pw * PKW;
      if constexpr (POOL == kPoolMax) {
        float m = window[0];
        int best = 0;
        for (int kh = 0; kh < PKH; ++kh)
          for (int kw = 0; kw < PKW; ++kw)
            if (window[kh * OW + kw] > m) { // the first maximum wins
              m = window[kh * OW + kw];
              best = kh * OW + kw;
            }
        y[pooled + std::size_t(prow0 + pr) * POW + pw] = m;
        if (saved)
          saved[pooled + std::size_t(prow0 + pr) * POW + pw] =
              float((row0 + pr * PKH) * OW + pw * PKW + best);
      } else {
        float s = 0.f;
        for (int kh = 0; kh < PKH; ++kh)
          for (int kw = 0; kw < PKW; ++kw)
            s += window[kh * OW + kw];
        y[pooled + std::size_t(prow0 + pr) * POW + pw] = s / float(PKH * PKW);
      }
    }
    if constexpr (POOL == kPoolAvg && ACT != kActNone) {
      if (saved)
        for (int k = threadIdx.x; k < rows * OW; k += blockDim.x)
          saved[plane + std::size_t(row0) * OW + k] = tile[k];
    }
  }
}

/// dz of one conv output element (see the file comment).
template <int F, int OH, int OW, int ACT, int POOL, int PKH, int PKW, int POH, int POW>
__global__ void fusedConv2dDz(std::int64_t total, const float *__restrict__ dy,
                              const float *__restrict__ y, const float *__restrict__ saved,
                              float *__restrict__ dz) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    if constexpr (POOL == kPoolNone) {
      dz[o] = actGrad<ACT>(dy[o], ACT != kActNone ? saved[o] : 0.f);
    } else {
      const int ow = int(o % OW), oh = int(o / OW % OH);
      const std::int64_t p = o / (OH * OW);
      const std::int64_t j = p * (POH * POW) + (oh / PKH) * POW + ow / PKW;
      if constexpr (POOL == kPoolMax) {
        const bool routed = int(saved[j]) == oh * OW + ow;
        dz[o] = routed ? actGrad<ACT>(dy[j], ACT != kActNone ? y[j] : 0.f) : 0.f;
      } else {
        const float g = dy[j] / float(PKH * PKW);
        dz[o] = actGrad<ACT>(g, ACT != kActNone ? saved[o] : 0.f);
      }
    }
  }
}

} // namespace detail

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW, bool BIAS>
void fused_conv2d(int n, const float *x, const float *w, const float *b, float *y,
                  float *saved) {
  static_assert(ACT >= 0 && ACT <= 3 && POOL >= 0 && POOL <= 2, "fused_conv2d: unknown code");
  static_assert(POOL == kPoolNone || (PSH == PKH && PSW == PKW && PPT == 0 && PPL == 0 &&
                              POH * PKH == OH && POW * PKW == OW),
                "fused_conv2d: the pooling windows must tile the conv output exactly "
                "(net-fuse-conv-bias-act-pool fuses no other pooling)");
  static_assert(OW <= detail::kFusedTileFloats / (POOL ? PKH : 1),
                "fused_conv2d: a band of one pooling window's rows must fit the shared tile");
  if (n <= 0)
    return;
  constexpr int TR = detail::fusedBandRows<OH, OW, (POOL ? PKH : 1)>();
  static_assert(POOL == kPoolNone || TR % (PKH > 0 ? PKH : 1) == 0, "fused_conv2d: a band holds whole windows");
  const dim3 grid((OH + TR - 1) / TR, F, unsigned(n));
  // As many threads as the band has outputs, in whole warps: a late layer's
  // band is a few outputs (lenet5's conv3 one), and the rest of a 256-thread
  // block would only wait at its barriers.
  constexpr int kBlock = detail::fusedBlockThreads(TR * OW);
  detail::fusedConv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW, ACT, POOL, PKH, PKW, POH, POW,
                      BIAS, TR><<<grid, kBlock>>>(x, w, b, y, saved);
  NETC_CUDA_CHECK_LAUNCH("fused_conv2d");
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW, bool BIAS>
void fused_conv2d_grad(int n, const float *dy, const float *x, const float *w, const float *y,
                       const float *saved, float *scratch, float *dx, float *dw, float *db) {
  static_assert(POOL == kPoolNone || (PSH == PKH && PSW == PKW && PPT == 0 && PPL == 0 &&
                              POH * PKH == OH && POW * PKW == OW),
                "fused_conv2d_grad: the pooling windows must tile the conv output exactly");
  const float *dz = dy;
  if constexpr (POOL != kPoolNone || ACT != kActNone) {
    const std::int64_t total = std::int64_t(n) * F * OH * OW;
    detail::fusedConv2dDz<F, OH, OW, ACT, POOL, PKH, PKW, POH, POW>
        <<<detail::blocksFor(total), detail::kThreads>>>(total, dy, y, saved, scratch);
    NETC_CUDA_CHECK_LAUNCH("fused_conv2d_grad (dz)");
    dz = scratch;
  }
  conv2d_grad_weight<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dz, x, dw);
  if constexpr (BIAS)
    if (db)
      bias_grad<F, OH * OW>(n, dz, db);
  if (dx)
    conv2d_grad_input<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dz, w, dx);
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_FUSED_CUH
