//===- ConvForwardRows.h - forward of few-input-channel convs ---*- C++ -*-===//
//
// y[i,f,oh,ow] = sum over c, kh, kw of w[f,c,kh,kw] * x[i,c,oh*SH+kh-PT, ow+kw-PL]
// for the first layers of a network (one to three input channels: lenet5's
// 1 -> 6 at 28x28, mnist_cnn's 1 -> 32). A patch there has only C*KH*KW
// (9-75) taps: im2col + GEMM rebuilds a patch matrix whose every element feeds
// only F products, and the output-channel path leaves most of its 16 lanes
// idle at F = 6 and stores a transposed tile per few taps. This path
// vectorises along the output row, as the rows path of grad_weight
// (ConvWeightRows.h) does: a register tile of FC filters x the NV vectors of
// one output row (16 positions each) accumulates over every (c, kh, kw); per
// input row and vector, two aligned vectors give every tap's window by
// register shuffles (rowTaps), and each tap's weight is a broadcast feeding
// FC FMAs. Each task copies the input rows it reads into a zero-padded stack
// buffer once, so every load is in range and the lanes past a row add zero.
//
// Tasks are (sample, band of output rows): one band a sample when there are
// at least as many samples as threads, else each sample's rows split among
// the threads (batch 1). Every output sums its taps in the order (c, kh, kw),
// whichever task computes it: y does not depend on the thread count, and a
// sample's outputs not on the batch. Stride 1 along the width only.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CONVFORWARDROWS_H
#define NETC_KERNELS_CONVFORWARDROWS_H

#include "net/Kernels/Common.h"
#include "net/Kernels/ConvWeightRows.h"

#include <cstdint>

namespace netc::kernels {
namespace detail {

/// Vector accumulators of one forward register tile, FC*NV. With AVX-512,
/// kernel-bench (batch 128, 2 threads) measured 8 best: 1.5-2x the speed of
/// 16 or 20 on lenet5, mnist_cnn and a 3-channel 32x32 layer, 6 about the
/// same, 4 behind.
#if defined(NETC_ROW_FORWARD_TILE_MAX) // for tuning with kernel-bench
constexpr int kRowForwardTileMax = NETC_ROW_FORWARD_TILE_MAX;
#elif defined(__AVX512F__)
constexpr int kRowForwardTileMax = 8;
#else
constexpr int kRowForwardTileMax = 4;
#endif

template <int C, int KH, int KW, int SH, int OH, int OW> struct RowForwardPlan {
  /// Vectors of one output row, and the row rounded up to them.
  static constexpr int NV = ceilDiv(OW, kRowLanes);
  static constexpr int OWV = NV * kRowLanes;
  /// A padded input row: every vector's taps, and a whole vector past the
  /// last (the shuffles read two).
  static constexpr int WPV = OWV + kRowLanes;
  /// Input rows the whole output plane reads.
  static constexpr int HP = (OH - 1) * SH + KH;
  /// Filters of one register tile.
  static constexpr int filterTile = max(1, kRowForwardTileMax / NV);
  /// Floats of a task's buffer: the padded rows of every input channel.
  static constexpr std::int64_t stackFloats = std::int64_t(C) * HP * WPV;
  /// Whether the path compiles for the shape (at stride 1 along the width).
  static constexpr bool fits =
      stackFloats <= kConvStackFloats && KW <= kRowLanes + 1 && NV <= kRowForwardTileMax;
};

/// Output row `oh` of FC filters from f0, for every vector of the row: the
/// register tile, summed over the C padded planes of `rows` input rows
/// (RP floats apart per plane, the band's first input row at row 0).
template <int FC, int C, int KH, int KW, int SH, int OW, int NV, int WPV, class Epi>
NETC_INLINE void rowForwardTile(const float *NETC_RESTRICT xpad, int RP, int localRow,
                                const float *NETC_RESTRICT w, int f0, float *NETC_RESTRICT yRow,
                                std::size_t planeStride, const Epi &epi) {
  typedef FloatVec vec;
  vec acc[FC][NV];
  for (int f = 0; f < FC; ++f)
    for (int v = 0; v < NV; ++v)
      acc[f][v] = vec{};
  for (int c = 0; c < C; ++c)
    for (int kh = 0; kh < KH; ++kh) {
      const float *xrow = xpad + (c * RP + localRow * SH + kh) * WPV;
      const float *wt = w + ((std::size_t(f0) * C + c) * KH + kh) * KW;
      for (int v = 0; v < NV; ++v) {
        vec lo, hi, xv[KW];
        __builtin_memcpy(&lo, xrow + v * kRowLanes, sizeof(vec));
        if constexpr (KW > 1)
          __builtin_memcpy(&hi, xrow + (v + 1) * kRowLanes, sizeof(vec));
        else
          hi = lo;
        rowTaps<KW>(lo, hi, xv);
        for (int f = 0; f < FC; ++f)
          for (int kw = 0; kw < KW; ++kw)
            acc[f][v] += wt[std::size_t(f) * C * KH * KW + kw] * xv[kw];
      }
    }
  for (int f = 0; f < FC; ++f) {
    float *dst = yRow + f * planeStride;
    if constexpr (Epi::kOnVectors)
      for (int v = 0; v < NV; ++v)
        acc[f][v] = epi.onVector(f0 + f, acc[f][v]);
    for (int v = 0; v < NV; ++v) {
      if ((v + 1) * kRowLanes <= OW) {
        __builtin_memcpy(dst + v * kRowLanes, &acc[f][v], sizeof(vec));
      } else {
        for (int l = 0; l < OW - v * kRowLanes; ++l)
          dst[v * kRowLanes + l] = acc[f][v][l];
      }
    }
    if constexpr (!Epi::kOnVectors)
      epi(f0 + f, dst, OW);
  }
}

/// y [n,F,OH,OW] (overwritten) = conv2d(x [n,C,H,W], w [F,C,KH,KW]), each
/// output row passed through `epi` as it is stored.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, class Epi = NoEpilogue>
void conv2dForwardRows(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                       float *NETC_RESTRICT y, const Epi &epi = Epi{}) {
  static_assert(SW == 1, "the rows path needs stride 1 along the width");
  using Plan = RowForwardPlan<C, KH, KW, SH, OH, OW>;
  // (static: GCC 12 fails on a captured constexpr in a lambda's array bound.)
  static constexpr int NV = Plan::NV, WPV = Plan::WPV, HP = Plan::HP, FT = Plan::filterTile;
  static_assert(Plan::fits, "the rows path's buffers exceed the stack budget");
  // Chunks of at most FT filters, as equal as they can be.
  constexpr int CHUNKS = ceilDiv(F, FT);
  const bool parallel = convInParallel(n, F, OH * OW, C * KH * KW);
  const int threads = threadsToSplitOver(parallel);
  const int bands = n < threads ? min(OH, ceilDiv(threads, max(1, n))) : 1;
  const std::int64_t tasks = std::int64_t(n) * bands;
  detail::parallelFor(std::int64_t(tasks), parallel && tasks > 1, [&](std::int64_t task) {
    const int i = int(task / bands), band = int(task % bands);
    const int r0 = OH * band / bands, r1 = OH * (band + 1) / bands;
    // The input rows the band reads, zero-padded, channel by channel.
    const int rows = (r1 - r0 - 1) * SH + KH;
    alignas(64) float xpad[C * HP * WPV];
    padChannelRows<H, W, WPV, PT, PL>(x + std::size_t(i) * C * H * W, 0, C, r0 * SH, rows, rows,
                                      xpad);
    for (int chunk = 0; chunk < CHUNKS; ++chunk) {
      const int f0 = F * chunk / CHUNKS, fc = F * (chunk + 1) / CHUNKS - f0;
      for (int oh = r0; oh < r1; ++oh)
        withCompileTimeCount<FT>(fc, [&](auto filters) {
          rowForwardTile<decltype(filters)::value, C, KH, KW, SH, OW, NV, WPV>(
              xpad, rows, oh - r0, w, f0,
              y + ((std::size_t(i) * F + f0) * OH + oh) * OW, std::size_t(OH) * OW, epi);
        });
    }
  });
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_CONVFORWARDROWS_H
