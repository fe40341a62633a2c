//===- ConvWeightRows.h - grad_weight of few-input-channel convs -*- C++ -*-===//
//
// dw[f,c,kh,kw] = sum over samples and output positions of
//   dy[i,f,oh,ow] * x[i,c,oh*SH+kh-PT, ow+kw-PL]
// for the first layers of a network (one to a few input channels, few
// filters, wide planes: lenet5's 1 -> 6 at 28x28, mnist_cnn's 1 -> 32). There
// the other paths have too little to reuse: im2col's patch matrix has a row
// per tap of a single channel and every element feeds only F products, and
// the output-channel path's 16 lanes are mostly past F. This one vectorises
// along the output row instead, as the direct kernel does, but keeps a
// register tile of FC filters x KW taps (one vector of 16 positions each):
// per 16 positions of a row and kernel row kh, KW input vectors and FC dy
// vectors feed FC*KW FMAs; each tap's window of 16 inputs comes from two
// aligned input vectors by a register shuffle. Each sample's rows are first
// copied into zero-padded stack buffers (dy rows to a whole number of
// vectors, input rows a vector more), so every load is in range and the
// padding lanes add zero.
//
// Tasks are (chunk of filters, input channel) pairs, each owning its weights
// and summing them over the samples, rows and vectors in order, then over a
// vector's lanes in order: dw does not depend on the thread count. Stride 1
// along the width only (the vectors are runs of adjacent positions).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CONVWEIGHTROWS_H
#define NETC_KERNELS_CONVWEIGHTROWS_H

#include "net/Kernels/Common.h"

#include <cstdint>
#include <utility>

namespace netc::kernels {
namespace detail {

/// Positions per vector of this path.
constexpr int kRowLanes = kVectorFloats;

/// Vector accumulators one register tile may hold: with AVX-512's 32
/// registers, a tile of FC x KW plus the KW input vectors and one dy vector
/// in flight; with 256-bit vectors each 16-lane accumulator takes two.
#if defined(__AVX512F__)
constexpr int kRowTileMax = 24;
#else
constexpr int kRowTileMax = 6;
#endif

template <int C, int KH, int KW, int SH, int OH, int OW> struct RowWeightPlan {
  /// Output positions of a row, rounded up to whole vectors.
  static constexpr int OWV = ceilDiv(OW, kRowLanes) * kRowLanes;
  /// A padded input row: the vectors' inputs for every tap, and a whole
  /// vector past the last (the shuffles read two).
  static constexpr int WPV = OWV + kRowLanes;
  static constexpr int HP = (OH - 1) * SH + KH;
  /// Filters of one register tile.
  static constexpr int filterTile = max(1, kRowTileMax / KW);
  /// Floats of a task's buffers: one padded input plane and the dy planes
  /// of one tile of filters.
  static constexpr std::int64_t stackFloats =
      std::int64_t(HP) * WPV + std::int64_t(filterTile) * OH * OWV;
  /// Whether the path compiles for the shape (at stride 1 along the width).
  static constexpr bool fits = stackFloats <= kConvStackFloats && KW <= kRowLanes + 1;
};

/// out = the 16 floats from lane S of lo on (S < 16): lo[S..15] then
/// hi[0..S-1]. A register shuffle (valignd), where a load at an offset would
/// split cache lines and GCC would reload it for every filter. Vectors pass
/// by reference: by value, a build without AVX-512 warns that the 64-byte
/// vectors' calling convention differs (-Wpsabi), though this is inlined.
template <int S, std::size_t... I>
NETC_INLINE void shiftRow(const FloatVec &lo, const FloatVec &hi, FloatVec &out,
                          std::index_sequence<I...>) {
  out = __builtin_shufflevector(lo, hi, (int(I) + S)...);
}

/// xv[kw] = the inputs of tap kw for the 16 positions whose first input is
/// lo[0], for every kw < KW (at most 17: lo and the vector after it, hi,
/// hold every tap's window).
template <int KW, int K = 0>
NETC_INLINE void rowTaps(const FloatVec &lo, const FloatVec &hi, FloatVec *xv) {
  if constexpr (K < KW) {
    if constexpr (K == 0)
      xv[0] = lo;
    else if constexpr (K < kRowLanes)
      shiftRow<K>(lo, hi, xv[K], std::make_index_sequence<kRowLanes>{});
    else
      xv[K] = hi;
    rowTaps<KW, K + 1>(lo, hi, xv);
  }
}

/// acc[f][kw] over every row and vector of one sample for kernel row kh,
/// FC filters: the register tile.
template <int FC, int KW, int SH, int OH, int OWV, int WPV>
NETC_INLINE void rowWeightTile(const float *NETC_RESTRICT xpad, const float *NETC_RESTRICT dyp,
                               int kh, float *NETC_RESTRICT accKh) {
  static_assert(KW <= kRowLanes + 1, "two vectors hold the taps of at most 17 columns");
  typedef FloatVec vec;
  vec acc[FC][KW];
  for (int f = 0; f < FC; ++f)
    for (int kw = 0; kw < KW; ++kw)
      __builtin_memcpy(&acc[f][kw], accKh + (f * KW + kw) * kRowLanes, sizeof(vec));
  for (int oh = 0; oh < OH; ++oh) {
    const float *xrow = xpad + (oh * SH + kh) * WPV;
    for (int v = 0; v < OWV; v += kRowLanes) {
      vec lo, hi, xv[KW];
      __builtin_memcpy(&lo, xrow + v, sizeof(vec));
      if constexpr (KW > 1)
        __builtin_memcpy(&hi, xrow + v + kRowLanes, sizeof(vec));
      else
        hi = lo;
      rowTaps<KW>(lo, hi, xv);
      for (int f = 0; f < FC; ++f) {
        vec d;
        __builtin_memcpy(&d, dyp + (f * OH + oh) * OWV + v, sizeof(vec));
        for (int kw = 0; kw < KW; ++kw)
          acc[f][kw] += d * xv[kw];
      }
    }
  }
  for (int f = 0; f < FC; ++f)
    for (int kw = 0; kw < KW; ++kw)
      __builtin_memcpy(accKh + (f * KW + kw) * kRowLanes, &acc[f][kw], sizeof(vec));
}

/// dw [F,C,KH,KW] (overwritten) = sum over the batch of dz (x) x, where
/// dzRows(i, f, rows) writes the gradient plane of sample i and filter f as
/// OH rows of Plan::OWV floats (zero past OW) into the task's buffer. db, when
/// not null: db[f] (overwritten) = the sum of those planes, added up by the
/// tasks of input channel 0 in the same fixed order. The fused backward of a
/// first layer builds its dz planes here (Fused.h), in cache, where a
/// separate pass wrote and re-read them from memory.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW, class DzRows>
void conv2dGradWeightRowsOf(int n, DzRows &&dzRows, const float *NETC_RESTRICT x,
                            float *NETC_RESTRICT dw, float *NETC_RESTRICT db) {
  static_assert(SW == 1, "the rows path needs stride 1 along the width");
  using Plan = RowWeightPlan<C, KH, KW, SH, OH, OW>;
  constexpr int OWV = Plan::OWV, WPV = Plan::WPV, HP = Plan::HP, FT = Plan::filterTile;
  // Chunks of at most FT filters, as equal as they can be.
  constexpr int CHUNKS = ceilDiv(F, FT);
  constexpr int tasks = CHUNKS * C;
  static_assert(Plan::fits, "the rows path's buffers exceed the stack budget");
  const bool parallel =
      tasks > 1 && convInParallel(n, F, OH * OW, C * KH * KW);
  detail::parallelFor(int(tasks), parallel, [&](int task) {
    const int chunk = task / C, c = task % C;
    const int f0 = F * chunk / CHUNKS, fc = F * (chunk + 1) / CHUNKS - f0;
    const bool sumsBias = db && c == 0;
    alignas(64) float xpad[HP * WPV];
    alignas(64) float dyp[FT * OH * OWV];
    alignas(64) float acc[KH * FT * KW * kRowLanes];
    float biasSum[FT] = {};
    for (int k = 0; k < KH * FT * KW * kRowLanes; ++k)
      acc[k] = 0.f;
    for (int i = 0; i < n; ++i) {
      padChannelRows<H, W, WPV, PT, PL>(x + std::size_t(i) * C * H * W, c, 1, 0, HP, HP, xpad);
      for (int f = 0; f < fc; ++f) {
        float *plane = dyp + f * OH * OWV;
        dzRows(i, f0 + f, plane);
        if (sumsBias) {
          // Vector by vector, then the lanes in order (a scalar sum of the
          // plane would be a chain of dependent adds).
          FloatVec partial{};
          for (int k = 0; k < OH * OWV; k += kRowLanes) {
            FloatVec v;
            __builtin_memcpy(&v, plane + k, sizeof(v));
            partial += v;
          }
          float s = 0.f;
          for (int l = 0; l < kRowLanes; ++l)
            s += partial[l];
          biasSum[f] += s;
        }
      }
      for (int kh = 0; kh < KH; ++kh)
        withCompileTimeCount<FT>(fc, [&](auto filters) {
          rowWeightTile<decltype(filters)::value, KW, SH, OH, OWV, WPV>(
              xpad, dyp, kh, acc + kh * FT * KW * kRowLanes);
        });
    }
    for (int f = 0; f < fc; ++f) {
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw) {
          const float *lanes = acc + ((kh * FT + f) * KW + kw) * kRowLanes;
          float s = 0.f;
          for (int l = 0; l < kRowLanes; ++l)
            s += lanes[l];
          dw[((std::size_t(f0 + f) * C + c) * KH + kh) * KW + kw] = s;
        }
      if (sumsBias)
        db[f0 + f] = biasSum[f];
    }
  });
}

/// dw [F,C,KH,KW] (overwritten) = sum over the batch of dy (x) x.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGradWeightRows(int n, const float *NETC_RESTRICT dy, const float *NETC_RESTRICT x,
                          float *NETC_RESTRICT dw) {
  constexpr int OWV = RowWeightPlan<C, KH, KW, SH, OH, OW>::OWV;
  conv2dGradWeightRowsOf<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(
      n,
      [dy](int i, int f, float *NETC_RESTRICT rows) {
        const float *plane = dy + (std::size_t(i) * F + f) * OH * OW;
        for (int oh = 0; oh < OH; ++oh)
          padRow<OWV, OW, 0>(rows + oh * OWV, plane + oh * OW);
      },
      x, dw, nullptr);
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_CONVWEIGHTROWS_H
