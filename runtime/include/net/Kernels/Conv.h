//===- Conv.h - 2-D convolution, forward and backward -----------*- C++ -*-===//
//
// y[n,f,oh,ow] = sum_{c,kh,kw} x[n,c,oh*SH+kh-PT, ow*SW+kw-PL] * w[f,c,kh,kw]
// (cross-correlation, as every framework; out-of-range taps read zero).
//
// Each kernel has three implementations, chosen at compile time per shape
// (ConvUseRows, ConvUseChannels and ConvUseGemm, at the end), in this order
// (the first layers, at most 3 input channels, first take the rows paths:
// grad_weight's in ConvWeightRows.h, the forward's in ConvForwardRows.h;
// 3x3 stride-1 convolutions on 16+ channels, Winograd's F(2x2, 3x3) in
// ConvWinograd.h and ConvWinogradWeights.h, where the call has enough tiles):
//   - vectorised over 16 output channels (ConvChannels.h; grad_input's over
//     16 input channels, at stride 1), where measured faster;
//   - im2col + GEMM (ConvGemm.h) whenever its patch buffers fit the
//     per-thread stack budget kConvGemmStackFloats (160 KiB) for at least one
//     output row (roughly C*KH*KW * roundup16(OW) <= 40960: every lenet5,
//     mnist_cnn and tf_cnn layer, resnet50's 1x1 layers and stem);
//   - for the forward, else the output-channel path with its input channels
//     in chunks (resnet50's 3x3 convolutions on 256+ channels: 14x-19x the
//     direct kernel on stage 4's);
//   - the direct kernels below otherwise (the gradients of those layers),
//     2x-30x slower than GEMM on the lenet5 and mnist_cnn layers
//     (docs/kernels.md, Speed).
// Scratch is on the stack, sized by the template parameters: no allocation.
//
// The direct kernels are vectorised along the width of an output row, the
// only axis that is contiguous in both NCHW operands:
//   - one input row is copied into a zero-padded stack buffer `prow`, so every
//     tap kw reads prow[ow*SW + kw] for all ow with no bounds test and a
//     compile-time trip count;
//   - a register tile of T=4 output channels x one output row accumulates
//     over the KW taps of that row, so each padded-row load feeds 4 FMAs and
//     the tile is written back once per (c, kh) rather than once per tap;
//   - the tile rows of a whole chunk of output channels live in `acc`, a
//     stack buffer of at most kMaxStackFloats floats, zeroed once and stored
//     once per output row: the output is overwritten, never accumulated into.
// Direct grad_input at stride 1 is the same engine run as a "full" correlation
// of dy with the kernel flipped (gather form, so it overwrites dx with no
// atomics); at other strides it falls back to a per-sample scatter.
// Direct grad_weight gives each thread a fixed set of (f, c) pairs; each pair
// sums KW width-vectors over the output rows of a sample, reduces them in a
// fixed order and adds the result to its own dw: no float is reduced across
// threads, so dw does not depend on the thread count.
// Parallel over (sample, output row) for the direct forward and grad_input.
// No alignment assumptions.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CONV_H
#define NETC_KERNELS_CONV_H

#include "net/Kernels/Common.h"
#include "net/Kernels/ConvChannelWeights.h"
#include "net/Kernels/ConvChannels.h"
#include "net/Kernels/ConvForwardRows.h"
#include "net/Kernels/ConvGemm.h"
#include "net/Kernels/ConvWeightRows.h"
#include "net/Kernels/ConvWinograd.h"
#include "net/Kernels/ConvWinogradWeights.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace netc::kernels {
namespace detail {

/// acc[t][j] += sum_kw w[t*WT + (FLIP ? KW-1-kw : kw)] * row[j*S + kw] for
/// t < NT, j < L: NT output rows of length L accumulated over KW taps.
template <int NT, int L, int S, int KW, int WT, bool FLIP>
NETC_INLINE void rowTile(float *NETC_RESTRICT acc, const float *NETC_RESTRICT row,
                         const float *NETC_RESTRICT w) {
  float r[NT][L];
  for (int t = 0; t < NT; ++t)
#pragma omp simd
    for (int j = 0; j < L; ++j)
      r[t][j] = acc[t * L + j];
  for (int kw = 0; kw < KW; ++kw)
    for (int t = 0; t < NT; ++t) {
      const float wt = w[t * WT + (FLIP ? KW - 1 - kw : kw)];
#pragma omp simd
      for (int j = 0; j < L; ++j)
        r[t][j] += wt * row[j * S + kw];
    }
  for (int t = 0; t < NT; ++t)
#pragma omp simd
    for (int j = 0; j < L; ++j)
      acc[t * L + j] = r[t][j];
}

/// Runs rowTile over `count` consecutive output rows in tiles of 4.
template <int L, int S, int KW, int WT, bool FLIP>
NETC_INLINE void rowTiles(int count, float *NETC_RESTRICT acc,
                          const float *NETC_RESTRICT row,
                          const float *NETC_RESTRICT w) {
  constexpr int T = 4;
  int t = 0;
  for (; t + T <= count; t += T)
    rowTile<T, L, S, KW, WT, FLIP>(acc + std::size_t(t) * L, row, w + std::size_t(t) * WT);
  for (; t < count; ++t)
    rowTile<1, L, S, KW, WT, FLIP>(acc + std::size_t(t) * L, row, w + std::size_t(t) * WT);
}

/// Direct forward (see the file comment).
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dDirect(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
            float *NETC_RESTRICT y) {
  constexpr int PW = (OW - 1) * SW + KW; // padded input row
  constexpr int FB = detail::max(1, detail::min(F, detail::kMaxStackFloats / OW));
  constexpr int CKK = C * KH * KW;
  detail::parallelFor(int(n * OH), n * OH > 1, [&](int t) {
    const int i = t / OH, oh = t % OH;
    float acc[FB * OW];
    float prow[PW];
    for (int f0 = 0; f0 < F; f0 += FB) {
      const int nf = detail::min(FB, F - f0);
      for (int k = 0; k < nf * OW; ++k)
        acc[k] = 0.f;
      for (int c = 0; c < C; ++c)
        for (int kh = 0; kh < KH; ++kh) {
          const int ih = oh * SH + kh - PT;
          if (ih < 0 || ih >= H)
            continue;
          detail::padRow<PW, W, PL>(prow, x + ((std::size_t(i) * C + c) * H + ih) * W);
          detail::rowTiles<OW, SW, KW, CKK, false>(
              nf, acc, prow, w + (std::size_t(f0) * C + c) * KH * KW + kh * KW);
        }
      float *yo = y + ((std::size_t(i) * F + f0) * OH + oh) * OW;
      for (int f = 0; f < nf; ++f)
#pragma omp simd
        for (int ow = 0; ow < OW; ++ow)
          yo[std::size_t(f) * OH * OW + ow] = acc[f * OW + ow];
    }
  });
}

/// Direct grad_input: gather at stride 1, scatter otherwise.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGradInputDirect(int n, const float *NETC_RESTRICT dy,
                       const float *NETC_RESTRICT w, float *NETC_RESTRICT dx) {
  if constexpr (SH == 1 && SW == 1) {
    // Gather form: dx[c,ih,iw] = sum_{f,kh,kw} dy[f, ih+PT-kh, iw+PL-kw] w[f,c,kh,kw].
    constexpr int PW = W + KW - 1; // padded dy row, indexed iw + (KW-1-kw)
    constexpr int OFF = KW - 1 - PL;
    constexpr int CB = detail::max(1, detail::min(C, detail::kMaxStackFloats / W));
    detail::parallelFor(int(n * H), n * H > 1, [&](int t) {
      const int i = t / H, ih = t % H;
      float acc[CB * W];
      float prow[PW];
      for (int c0 = 0; c0 < C; c0 += CB) {
        const int nc = detail::min(CB, C - c0);
        for (int k = 0; k < nc * W; ++k)
          acc[k] = 0.f;
        for (int f = 0; f < F; ++f)
          for (int kh = 0; kh < KH; ++kh) {
            const int oh = ih + PT - kh;
            if (oh < 0 || oh >= OH)
              continue;
            detail::padRow<PW, OW, OFF>(prow, dy + ((std::size_t(i) * F + f) * OH + oh) * OW);
            detail::rowTiles<W, 1, KW, KH * KW, true>(
                nc, acc, prow, w + (std::size_t(f) * C + c0) * KH * KW + kh * KW);
          }
        float *xo = dx + ((std::size_t(i) * C + c0) * H + ih) * W;
        for (int c = 0; c < nc; ++c)
#pragma omp simd
          for (int iw = 0; iw < W; ++iw)
            xo[std::size_t(c) * H * W + iw] = acc[c * W + iw];
      }
    });
  } else {
    // Strided: scatter each sample's dy into its own dx (rare: the strided
    // convolutions of the models sit in frozen bases).
    detail::parallelFor(int(n), n > 1, [&](int i) {
      float *dxi = dx + std::size_t(i) * C * H * W;
      for (int k = 0; k < C * H * W; ++k)
        dxi[k] = 0.f;
      for (int f = 0; f < F; ++f)
        for (int c = 0; c < C; ++c)
          for (int oh = 0; oh < OH; ++oh)
            for (int kh = 0; kh < KH; ++kh) {
              const int ih = oh * SH + kh - PT;
              if (ih < 0 || ih >= H)
                continue;
              const float *dyr = dy + ((std::size_t(i) * F + f) * OH + oh) * OW;
              float *dxr = dxi + (std::size_t(c) * H + ih) * W;
              for (int kw = 0; kw < KW; ++kw) {
                const float wv = w[((std::size_t(f) * C + c) * KH + kh) * KW + kw];
                const int lo = detail::max(0, -detail::floorDiv(kw - PL, SW));
                const int hi = detail::min(OW, detail::floorDiv(W - 1 + PL - kw, SW) + 1);
                for (int ow = lo; ow < hi; ++ow)
                  dxr[ow * SW + kw - PL] += wv * dyr[ow];
              }
            }
    });
  }
}

/// Direct grad_weight over (f, c) pairs.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGradWeightDirect(int n, const float *NETC_RESTRICT dy,
                        const float *NETC_RESTRICT x, float *NETC_RESTRICT dw) {
  constexpr int PW = (OW - 1) * SW + KW;
  constexpr int P = F * C;
  const bool parallel = detail::convInParallel(n, F, OH * OW, C * KH * KW);
  detail::parallelRegion(parallel, [&](int tid, int nt) {
    // A fixed, contiguous range of (f, c) pairs per thread: dw + p*KH*KW.
    const int p0 = int(std::int64_t(P) * tid / nt);
    const int p1 = int(std::int64_t(P) * (tid + 1) / nt);
    for (int k = p0 * KH * KW; k < p1 * KH * KW; ++k)
      dw[k] = 0.f;
    float prow[PW];
    float r[KW][OW];
    for (int i = 0; i < n; ++i)
      for (int p = p0; p < p1; ++p) {
        const int f = p / C, c = p % C;
        const float *dyp = dy + (std::size_t(i) * F + f) * OH * OW;
        const float *xp = x + (std::size_t(i) * C + c) * H * W;
        for (int kh = 0; kh < KH; ++kh) {
          for (int kw = 0; kw < KW; ++kw)
#pragma omp simd
            for (int ow = 0; ow < OW; ++ow)
              r[kw][ow] = 0.f;
          for (int oh = 0; oh < OH; ++oh) {
            const int ih = oh * SH + kh - PT;
            if (ih < 0 || ih >= H)
              continue;
            detail::padRow<PW, W, PL>(prow, xp + ih * W);
            const float *dyr = dyp + oh * OW;
            for (int kw = 0; kw < KW; ++kw)
#pragma omp simd
              for (int ow = 0; ow < OW; ++ow)
                r[kw][ow] += dyr[ow] * prow[ow * SW + kw];
          }
          float *dwp = dw + (std::size_t(p) * KH + kh) * KW;
          for (int kw = 0; kw < KW; ++kw) {
            float s = 0.f;
            for (int ow = 0; ow < OW; ++ow)
              s += r[kw][ow];
            dwp[kw] += s;
          }
        }
      }
  });
}

/// Whether the im2col + GEMM path is used for a shape: whenever its buffers
/// fit, whole patches or (the forward) patches in depth chunks. kernel-bench
/// (1 and 2 threads) found it faster than the direct kernels for every lenet5
/// and mnist_cnn convolution and every kernel, C=1 included; the direct
/// kernels remain for layers with very wide patches
/// (C*KH*KW * 16 > kConvGemmStackFloats).
template <int C, int F, int KH, int KW, int SH, int SW, int OH, int OW>
struct ConvUseGemm {
  using Plan = ConvGemmPlan<C, KH, KW, SH, SW, OH, OW>;
  static constexpr bool forward =
      Plan::fwdRows > 0 || gemmForwardInDepthChunks<Plan::CKK, OH, OW, Plan::fwdRows>;
  static constexpr bool gradInput = Plan::template dxRows<F> > 0;
  static constexpr bool gradWeight = Plan::dwRows > 0;
};

/// Whether the paths vectorised over output channels (ConvChannels.h,
/// ConvChannelWeights.h) are used for a shape: when their buffers fit and at
/// most a quarter of their lanes are past F; the forward also needs a tile to
/// sum at least 64 taps (with fewer, its transposed stores dominate: C = 1
/// first layers), and a window wider than 1x1 where the GEMM's patches fit: a
/// pointwise conv is a GEMM, and the GEMM tile's 10 loads per 24 FMAs beat one
/// broadcast per FMA on every 1x1 shape measured (64 -> 256 at 7x7 to 512 ->
/// 2048, 96 -> 96 at 12x12, 64 -> 64 at 14x14: 1.04x-1.58x at batch 1 and 16, 1
/// and 2 threads; docs/kernels.md). kernel-bench (2 threads, batch 128;
/// docs/kernels.md) measured them against im2col + GEMM: forward 3.4x on lenet5
/// conv2, 1.36x on conv3, 1.0x on mnist_cnn conv2, behind on mnist_cnn conv1
/// (C*KH*KW = 9); grad_weight 1.6x on lenet5 conv2, 1.16x on conv3, 1.7x on
/// mnist_cnn conv1, 1.55x on conv2.
template <int C, int F, int KH, int KW, int SH, int SW, int OH, int OW>
struct ConvUseChannels {
  static constexpr int blocks = ceilDiv(F, kChannelLanes);
  static constexpr bool fullLanes = 4 * F >= 3 * kChannelLanes * blocks;
  static constexpr bool pointwiseOnGemm =
      KH == 1 && KW == 1 && ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>::forward;
  /// Without AVX-512 a tile holds at most 6 positions (kChannelTileMax), each
  /// 16-lane accumulator taking two AVX2 registers, and the GEMM's wider tile
  /// is ahead from planes of about 24x24 (kernel-bench built for x86-64-v3:
  /// mnist_cnn conv2 forward 177 vs 131 GFLOP/s, grad_weight 148 vs 97; a
  /// 5x5 28x28 first layer's grad_weight 106 vs 83, a 3-channel 32x32 one's
  /// 64 vs 36); on lenet5's 10x10 and 3x3 planes this path leads (169 vs
  /// 142, 138 vs 100). The chunked variants below, for shapes no GEMM plan
  /// fits, are unchanged.
  static constexpr bool planeFits = kRegisterFloats == kChannelLanes || OH * OW <= 256;
  static constexpr bool forward =
      channelStackFloats<C, KH, KW, SH, SW, OH, OW>() <= kChannelStackFloats &&
      C * KH * KW >= 64 && fullLanes && !pointwiseOnGemm && planeFits;
  /// Where no GEMM plan fits either (rows of more than 320 outputs on deep
  /// patches), the input channels taken in chunks beat the direct kernels by
  /// 10x-20x (docs/benchmarks.md, ResNet50's layers). The GEMM in depth
  /// chunks beat this path on 3x3 layers of 288-512 channels at 7x7 to 28x28
  /// by 1.08x-1.48x (batch 1 and 16, 2 threads), a 5x5 128 -> 128 at 14x14
  /// by 0.91x-1.01x (docs/kernels.md).
  static constexpr bool forwardInChunks = C * KH * KW >= 64 && fullLanes;
  using WeightPlan = ChannelWeightPlan<C, KH, KW, SH, SW, OH, OW>;
  /// A pointwise conv of 64 x 64 weights or more takes the GEMM grad_weight
  /// (its tiles reuse a broadcast across 64 columns): 1.1x-5x this path on
  /// 64 -> 256 at 7x7 to 512 -> 2048 at 7x7, batch 1 and 16; the small ones
  /// stay here (16 -> 32 at 7x7 0.78x, 32 -> 32 at 28x28 0.90x at batch 16).
  static constexpr bool pointwiseGradWeightOnGemm =
      KH == 1 && KW == 1 && C * F >= 64 * 64 &&
      ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>::gradWeight;
  static constexpr bool gradWeight = WeightPlan::bandRows == OH &&
                                     WeightPlan::groupChannels == C &&
                                     KW <= kChannelTileMax && fullLanes &&
                                     !pointwiseGradWeightOnGemm && planeFits;
  /// Where neither the whole plane nor GEMM's patches fit (resnet50's 3x3
  /// layers), the plane in bands and the input channels in groups.
  static constexpr bool gradWeightInChunks =
      WeightPlan::groupChannels >= 1 && KW <= kChannelTileMax && fullLanes;
  /// grad_input runs the forward engine on dy: its lanes are C's, and it is
  /// only ahead of im2col + GEMM on small planes (lenet5 conv3, 7x7: 1.15x;
  /// mnist_cnn conv2, 26x26: 0.6x, where the GEMM's columns are long). A
  /// pointwise conv whose patches are its input takes the GEMM before it
  /// (gradInputOnPointwiseGemm: resnet50's 1x1 layers 1.2x-3.9x at batch 1,
  /// 16 and 64; docs/kernels.md).
  static constexpr int inputBlocks = ceilDiv(C, kChannelLanes);
  static constexpr bool gradInput =
      SH == 1 && SW == 1 && OH * OW <= 256 && F * KH * KW >= 64 &&
      4 * C >= 3 * kChannelLanes * inputBlocks;
};

/// Whether grad_weight takes the rows path (ConvWeightRows.h) with AVX-512:
/// the first layers, at most 3 input channels at stride 1 along the width,
/// where its buffers fit. Measured at batch 128, 2 threads (docs/kernels.md):
/// 4.6x the im2col + GEMM path on lenet5 conv1, 1.56x the output-channel
/// path on mnist_cnn conv1, 1.3x on tf_cnn conv1; behind from 6 channels on
/// (lenet5 conv2: 0.85x), where the other paths reuse more per load. With
/// AVX2 its tile of 16-lane vectors spills: 0.23x-0.46x the GEMM path on
/// lenet5 and mnist_cnn conv1 (kernel-bench built for x86-64-v3).
template <int C, int F, int KH, int KW, int SH, int SW, int OH, int OW> struct ConvUseRows {
#if defined(__AVX512F__)
  static constexpr bool gradWeight =
      SW == 1 && C <= 3 && RowWeightPlan<C, KH, KW, SH, OH, OW>::fits;
#else
  static constexpr bool gradWeight = false;
#endif
  /// The forward (ConvForwardRows.h) with AVX-512, where its buffers fit,
  /// for few filters or narrow windows: against im2col + GEMM, 2.9-3.2x on
  /// lenet5 conv1 (6 filters), 1.3x on lenet5_classic conv1, 1.2-1.4x on
  /// mnist_cnn conv1 (32 of 3x3), 1.5-1.9x on 3 -> 16 3x3 at 32x32; about
  /// even to 0.9x on tf_cnn conv1 (32 of 5x5), where GEMM's wider tile
  /// reuses more, so not chosen there. Tested on every ISA (ConvTest).
#if defined(__AVX512F__)
  static constexpr bool forward = SW == 1 && C <= 3 && (F <= 16 || KW <= 3) &&
                                  RowForwardPlan<C, KH, KW, SH, OH, OW>::fits;
#else
  static constexpr bool forward = false;
#endif
};

/// Whether a convolution takes Winograd's F(2x2, 3x3) (ConvWinograd.h): 3x3
/// windows at stride 1 on at least 16 input and output channels whose
/// buffers fit, with AVX-512, and (`forBatch`) at least kWinogradMinTiles
/// tiles in the call, so that transforming the weights and the last block's
/// idle lanes are paid back. Measured against the paths above (a throwaway
/// program, 2 threads; docs/kernels.md): mnist_cnn conv2 at batch 128 1.63x
/// forward, 1.37x grad_input and 1.68x grad_weight (kernel-bench), 64 -> 64
/// at 56x56 2.3x at batch 16 and 1.7x at batch 1; mnist_cnn conv2 at batch 1
/// 0.64x (144 tiles: the weights' transform and three blocks on two
/// threads).
template <int C, int F, int KH, int KW, int SH, int SW, int OH, int OW, int H, int W>
struct ConvUseWinograd {
  static constexpr bool window = KH == 3 && KW == 3 && SH == 1 && SW == 1 && C >= 16 && F >= 16;
  using ForwardPlan = WinogradPlan<C, F, OH, OW>;
  /// grad_input convolves dy (F channels, OH x OW) into dx (C, H x W).
  using GradInputPlan = WinogradPlan<F, C, H, W>;
#if defined(__AVX512F__)
  static constexpr bool forward = window && ForwardPlan::fits;
  static constexpr bool gradInput = window && GradInputPlan::fits;
  static constexpr bool gradWeight = window && WinogradWeightPlan<C, F, OH, OW>::fits;
#else
  static constexpr bool forward = false;
  static constexpr bool gradInput = false;
  static constexpr bool gradWeight = false;
#endif
  static bool forwardFor(int n) { return std::int64_t(n) * ForwardPlan::T >= kWinogradMinTiles; }
  static bool gradInputFor(int n) {
    return std::int64_t(n) * GradInputPlan::T >= kWinogradMinTiles;
  }
  static bool gradWeightFor(int n) { return forwardFor(n); }
};

} // namespace detail

namespace detail {
/// epi over every output plane of a finished convolution, for the paths
/// that do not take it per tile: parallel over planes where the
/// convolution was (a serial one's output is in the caller's cache).
template <int F, int P, int CKK, class Epi>
void convEpiloguePass(int n, float *NETC_RESTRICT y, const Epi &epi) {
  if constexpr (!std::is_same_v<Epi, NoEpilogue>) {
    const bool parallel =
        std::int64_t(n) * F * P > kParallelThreshold && convInParallel(n, F, P, CKK);
    parallelFor(int(n * F), parallel,
                [&](int k) { epi(k % F, y + std::size_t(k) * P, P); });
  }
}
} // namespace detail

/// conv: x [n,C,H,W], w [F,C,KH,KW] -> y [n,F,OH,OW], every output value
/// passed through `epi` (on the rows and output-channel paths per tile, while
/// in L1; on the others in a pass after).
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW, class Epi = detail::NoEpilogue>
void conv2d(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
            float *NETC_RESTRICT y, const Epi &epi = Epi{}) {
  using Channels = detail::ConvUseChannels<C, F, KH, KW, SH, SW, OH, OW>;
  using Winograd = detail::ConvUseWinograd<C, F, KH, KW, SH, SW, OH, OW, H, W>;
  constexpr bool gemm = detail::ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>::forward;
  if constexpr (Winograd::forward)
    if (Winograd::forwardFor(n))
      return detail::conv2dWinograd<C, H, W, F, PT, PL, OH, OW>(n, x, w, y, epi);
  if constexpr (detail::ConvUseRows<C, F, KH, KW, SH, SW, OH, OW>::forward) {
    detail::conv2dForwardRows<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y, epi);
  } else if constexpr (Channels::forward || (!gemm && Channels::forwardInChunks)) {
    detail::conv2dChannels<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y, epi);
  } else {
    if constexpr (gemm)
      detail::conv2dGemm<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
    else
      detail::conv2dDirect<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
    detail::convEpiloguePass<F, OH * OW, C * KH * KW>(n, y, epi);
  }
}

/// dx [n,C,H,W] = conv2d^T(dy [n,F,OH,OW], w).
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2d_grad_input(int n, const float *NETC_RESTRICT dy,
                       const float *NETC_RESTRICT w, float *NETC_RESTRICT dx) {
  using Winograd = detail::ConvUseWinograd<C, F, KH, KW, SH, SW, OH, OW, H, W>;
  if constexpr (Winograd::gradInput)
    if (Winograd::gradInputFor(n))
      return detail::conv2dGradInputWinograd<C, H, W, F, PT, PL, OH, OW>(n, dy, w, dx);
  if constexpr (detail::gradInputOnPointwiseGemm<H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>)
    detail::conv2dGradInputPointwise<C, F, OH, OW>(n, dy, w, dx);
  else if constexpr (detail::ConvUseChannels<C, F, KH, KW, SH, SW, OH, OW>::gradInput)
    detail::conv2dGradInputChannels<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
  else if constexpr (detail::ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>::gradInput)
    detail::conv2dGradInputGemm<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
  else
    detail::conv2dGradInputDirect<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
}

/// dw [F,C,KH,KW] = sum over the batch of dy (x) x.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2d_grad_weight(int n, const float *NETC_RESTRICT dy,
                        const float *NETC_RESTRICT x, float *NETC_RESTRICT dw) {
  using Winograd = detail::ConvUseWinograd<C, F, KH, KW, SH, SW, OH, OW, H, W>;
  if constexpr (Winograd::gradWeight)
    if (Winograd::gradWeightFor(n))
      return detail::conv2dGradWeightWinograd<C, H, W, F, PT, PL, OH, OW>(n, dy, x, dw);
  if constexpr (detail::ConvUseRows<C, F, KH, KW, SH, SW, OH, OW>::gradWeight)
    detail::conv2dGradWeightRows<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  else if constexpr (detail::ConvUseChannels<C, F, KH, KW, SH, SW, OH, OW>::gradWeight)
    detail::conv2dGradWeightChannels<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  else if constexpr (detail::ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>::gradWeight)
    detail::conv2dGradWeightGemm<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  else if constexpr (detail::ConvUseChannels<C, F, KH, KW, SH, SW, OH, OW>::gradWeightInChunks)
    detail::conv2dGradWeightChannels<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  else
    detail::conv2dGradWeightDirect<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
}

} // namespace netc::kernels

#endif // NETC_KERNELS_CONV_H

