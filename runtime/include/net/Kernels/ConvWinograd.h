//===- ConvWinograd.h - 3x3 stride-1 convolutions by Winograd F(2x2,3x3) -*- C++ -*-===//
//
// y = conv2d(x, w) for 3x3 windows at stride 1 by Winograd's minimal
// filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", CVPR 2016): each 2x2 tile of outputs is
//   Y = A^T [ sum_c (G g_fc G^T) .* (B^T d_c B) ] A
// for the 4x4 input patch d_c of every input channel, so a tile costs 16
// multiply-adds per (f, c) where the direct form costs 36: 2.25x fewer.
// The sum over c at each of the 16 points is a GEMM, which is where the time
// goes: U [16][F][C] (the transformed weights) times V [16][C][tiles] (the
// transformed input) into M [16][F][tiles], vectorised over 16 tiles with a
// register tile of R filters x NV vectors of tiles (a broadcast of U per
// filter, a load of V per vector).
//
// Tasks are (sample, block of TB consecutive tiles in raster order); a task
// transforms its block's input channel by channel (the input rows each
// deinterleaved into even and odd columns, so every transform step is a
// unit-stride vector operation), multiplies, and transforms the products
// back group by group of R filters, storing the outputs (and passing each
// stored run through the epilogue) while they are in L1. Every output sums
// in the same order whatever the batch and thread count.
//
// The transforms add and subtract (and G halves), so the result differs from
// the direct sum by rounding only: about 1e-6 relative on the shapes taken
// (ConvTest).
//
// grad_input of the same convolution is the convolution of dy with the
// weights flipped and transposed, padded by 2 - PT and 2 - PL: the same path.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CONVWINOGRAD_H
#define NETC_KERNELS_CONVWINOGRAD_H

#include "net/Kernels/Common.h"

#include <cstddef>
#include <cstdint>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace netc::kernels {
namespace detail {

/// Points of a transformed tile (4x4).
constexpr int kWinogradPoints = 16;

/// Vector accumulators of the GEMM's register tile: 24 of the 32 AVX-512
/// registers; 6 16-lane vectors (12 registers) with AVX2.
#if defined(__AVX512F__)
constexpr int kWinogradAccumulators = 24;
#else
constexpr int kWinogradAccumulators = 6;
#endif

/// Per-thread stack floats of a task's transformed input and products (256
/// KiB), and of the transformed weights, shared by the tasks of one call
/// (256 KiB: C * F <= 4096).
constexpr int kWinogradStackFloats = 65536;
constexpr int kWinogradWeightFloats = 65536;

/// Tiles a call needs for the path (Conv.h, ConvUseWinograd).
constexpr std::int64_t kWinogradMinTiles = 512;

template <int C, int F, int OH, int OW> struct WinogradPlan {
  /// Tiles per output row and column, and per sample.
  static constexpr int TH = ceilDiv(OH, 2), TW = ceilDiv(OW, 2), T = TH * TW;
  /// Vectors of one tile row, and of a row's even (odd) input columns (the
  /// tile row reads TW + 1 of each).
  static constexpr int NH = ceilDiv(TW, kVectorFloats);
  static constexpr int NE = ceilDiv(TW + 1, kVectorFloats);
  /// Filters of the register tile for NV vectors of tiles.
  static constexpr int rowsFor(int nv) { return max(1, kWinogradAccumulators / nv); }
  /// Transformed input and products of a block of nv vectors of tiles.
  static constexpr std::int64_t floatsFor(int nv) {
    return std::int64_t(kWinogradPoints) * nv * kVectorFloats * (C + rowsFor(nv));
  }
  /// Vectors of tiles a block: three where they fit, fewer for deep inputs;
  /// no more than a sample has.
  static constexpr int NV = min(ceilDiv(T, kVectorFloats),
                                floatsFor(3) <= kWinogradStackFloats   ? 3
                                : floatsFor(2) <= kWinogradStackFloats ? 2
                                                                       : 1);
  static constexpr int TB = NV * kVectorFloats;
  static constexpr int blocks = ceilDiv(T, TB);
  static constexpr bool fits = floatsFor(NV) <= kWinogradStackFloats &&
                               std::int64_t(kWinogradPoints) * C * F <= kWinogradWeightFloats;
};

// The vector helpers take and give vectors by reference: a 64-byte vector
// passed or returned by value changes the ABI where AVX-512 is off, and GCC
// warns of it (-Wpsabi) in every build of these headers for AVX2.

/// out = the even (I = 0) or odd (I = 1) lanes of a and then of b.
template <int I, std::size_t... L>
NETC_INLINE void winogradLanesOf(const FloatVec &a, const FloatVec &b, FloatVec &out,
                                 std::index_sequence<L...>) {
  out = __builtin_shufflevector(a, b, (2 * L + I)...);
}
/// out = the lanes of a and b interleaved, the first (H = 0) or second half.
template <int H, std::size_t... L>
NETC_INLINE void winogradInterleave(const FloatVec &a, const FloatVec &b, FloatVec &out,
                                    std::index_sequence<L...>) {
  out = __builtin_shufflevector(a, b,
                                ((L + H * kVectorFloats) / 2 + (L % 2) * kVectorFloats)...);
}
/// out = lanes 1..16 of a then b: a vector one column on.
template <std::size_t... L>
NETC_INLINE void winogradNext(const FloatVec &a, const FloatVec &b, FloatVec &out,
                              std::index_sequence<L...>) {
  out = __builtin_shufflevector(a, b, (L + 1)...);
}

NETC_INLINE void winogradLoad(FloatVec &v, const float *p) { __builtin_memcpy(&v, p, sizeof v); }
NETC_INLINE void winogradStore(float *p, const FloatVec &v) { __builtin_memcpy(p, &v, sizeof v); }

/// Lanes l of a vector at p + begin whose index begin + l lies in [lo, hi).
NETC_INLINE unsigned winogradLaneMask(int begin, int lo, int hi) {
  const int a = max(0, lo - begin), b = min(kVectorFloats, hi - begin);
  return b > a ? ((1u << b) - 1u) & ~((1u << a) - 1u) : 0u;
}

/// v = p[begin + l] for the lanes in mask (winogradLaneMask), zero in the
/// others (which are not read: with AVX-512 a masked load).
NETC_INLINE void winogradLoadPart(FloatVec &v, const float *p, int begin, unsigned mask) {
#if defined(__AVX512F__)
  v = (FloatVec)_mm512_maskz_loadu_ps(__mmask16(mask), p + begin);
#else
  v = FloatVec{};
  for (int l = 0; l < kVectorFloats; ++l)
    if (mask >> l & 1u)
      v[l] = p[begin + l];
#endif
}

/// p[begin + l] = v[l] for the lanes in mask.
NETC_INLINE void winogradStorePart(float *p, int begin, unsigned mask, const FloatVec &v) {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p + begin, __mmask16(mask), (__m512)v);
#else
  for (int l = 0; l < kVectorFloats; ++l)
    if (mask >> l & 1u)
      p[begin + l] = v[l];
#endif
}

/// u [16][ROWS][COLS] = G g G^T for the 3x3 window g = tap(row, col, k)
/// (k = 3 kh + kw) of every (row, col), G = [1 0 0; .5 .5 .5; .5 -.5 .5;
/// 0 0 1]: 16 columns a vector.
template <int ROWS, int COLS, class Tap>
void winogradWeightsOf(const Tap &tap, float *NETC_RESTRICT u) {
  constexpr std::size_t point = std::size_t(ROWS) * COLS;
  for (int row = 0; row < ROWS; ++row)
    for (int c0 = 0; c0 < COLS; c0 += kVectorFloats) {
      const int lanes = min(kVectorFloats, COLS - c0);
      float g[9][kVectorFloats] = {};
      for (int l = 0; l < lanes; ++l)
        for (int k = 0; k < 9; ++k)
          g[k][l] = tap(row, c0 + l, k);
      FloatVec t[4][3];
      for (int kw = 0; kw < 3; ++kw) {
        FloatVec g0, g1, g2;
        winogradLoad(g0, g[kw]);
        winogradLoad(g1, g[3 + kw]);
        winogradLoad(g2, g[6 + kw]);
        t[0][kw] = g0;
        t[1][kw] = 0.5f * (g0 + g1 + g2);
        t[2][kw] = 0.5f * (g0 - g1 + g2);
        t[3][kw] = g2;
      }
      for (int i = 0; i < 4; ++i) {
        const FloatVec r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                               0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) {
          float out[kVectorFloats];
          winogradStore(out, r[j]);
          copyFloats(u + (4 * i + j) * point + std::size_t(row) * COLS + c0, out, lanes);
        }
      }
    }
}

/// u [16][F][C] from w [F][C][3][3] (the forward).
template <int C, int F>
void winogradWeights(const float *NETC_RESTRICT w, float *NETC_RESTRICT u) {
  winogradWeightsOf<F, C>(
      [w](int f, int c, int k) { return w[(std::size_t(f) * C + c) * 9 + k]; }, u);
}

/// u [16][C][F] from w [F][C][3][3] flipped in both axes: the weights of
/// grad_input as a convolution of dy (F input channels, C outputs).
template <int C, int F>
void winogradWeightsFlipped(const float *NETC_RESTRICT w, float *NETC_RESTRICT u) {
  winogradWeightsOf<C, F>(
      [w](int c, int f, int k) { return w[(std::size_t(f) * C + c) * 9 + 8 - k]; }, u);
}

/// The even and odd columns of input row `row` of one channel plane, zero
/// outside it: e[k] = x[row][2k - PL], o[k] = x[row][2k + 1 - PL].
template <int H, int W, int PL, int NE>
NETC_INLINE void winogradSplitRow(const float *NETC_RESTRICT plane, int row, FloatVec *e,
                                  FloatVec *o) {
  if (row < 0 || row >= H) {
    for (int j = 0; j < NE; ++j)
      e[j] = o[j] = FloatVec{};
    return;
  }
  const float *xr = plane + std::size_t(row) * W;
  for (int j = 0; j < NE; ++j) {
    const int begin = 2 * j * kVectorFloats - PL;
    FloatVec a, b;
    winogradLoadPart(a, xr, begin, winogradLaneMask(begin, 0, W));
    winogradLoadPart(b, xr, begin + kVectorFloats, winogradLaneMask(begin + kVectorFloats, 0, W));
    winogradLanesOf<0>(a, b, e[j], std::make_index_sequence<kVectorFloats>());
    winogradLanesOf<1>(a, b, o[j], std::make_index_sequence<kVectorFloats>());
  }
}

/// v [16][C][TB] for the tiles [t0, t0 + count) of one sample (lanes past
/// count zero): each channel's input rows split into even and odd columns,
/// B^T applied down the columns, then B along each tile row, B^T = [1 0 -1
/// 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; all in registers.
template <int C, int H, int W, int PT, int PL, class Plan>
void winogradInputBlock(const float *NETC_RESTRICT xs, int t0, int count,
                        float *NETC_RESTRICT v) {
  constexpr int TW = Plan::TW, TB = Plan::TB, NE = Plan::NE, NH = Plan::NH;
  constexpr std::size_t point = TB;
  const int ty0 = t0 / TW, ty1 = (t0 + count - 1) / TW;
  for (int c = 0; c < C; ++c) {
    const float *plane = xs + std::size_t(c) * H * W;
    // The next channel's part of v, for writing: without, the stores wait
    // for its lines from L2 (1.55x slower on mnist_cnn conv2's blocks).
    if (c + 1 < C) {
      for (int q = 0; q < kWinogradPoints * TB; q += 16)
        __builtin_prefetch(v + (std::size_t(c) + 1) * kWinogradPoints * TB + q, 1, 3);
      const int r0 = max(0, 2 * ty0 - PT), r1 = min(H, 2 * ty1 - PT + 4);
      for (int q = r0 * W; q < r1 * W; q += 16)
        __builtin_prefetch(plane + std::size_t(H) * W + q, 0, 3);
    }
    for (int ty = ty0; ty <= ty1; ++ty) {
      // The tile row's four input rows, split (each read by two tile rows).
      FloatVec d[4][2][NE];
      for (int r = 0; r < 4; ++r)
        winogradSplitRow<H, W, PL, NE>(plane, 2 * ty - PT + r, d[r][0], d[r][1]);
      const auto &d0 = d[0], &d1 = d[1], &d2 = d[2], &d3 = d[3];
      FloatVec a[4][2][NE];
      for (int p = 0; p < 2; ++p)
        for (int j = 0; j < NE; ++j) {
          a[0][p][j] = d0[p][j] - d2[p][j];
          a[1][p][j] = d1[p][j] + d2[p][j];
          a[2][p][j] = d2[p][j] - d1[p][j];
          a[3][p][j] = d1[p][j] - d3[p][j];
        }
      // The row's tiles in the block [tx0, tx1), at v's lanes tile - t0.
      const int tx0 = ty == ty0 ? t0 - ty * TW : 0;
      const int tx1 = min(TW, t0 + count - ty * TW);
      float *vt = v + std::size_t(c) * kWinogradPoints * TB;
      const int base = ty * TW - t0;
      unsigned masks[NH];
      for (int j = 0; j < NH; ++j)
        masks[j] = winogradLaneMask(base + j * kVectorFloats, base + tx0, base + tx1);
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < NH; ++j) {
          const auto lanes = std::make_index_sequence<kVectorFloats>();
          // (Past the last vector of columns, zero: only lanes past TW read it.)
          const FloatVec eNext = j + 1 < NE ? a[i][0][j + 1] : FloatVec{};
          const FloatVec oNext = j + 1 < NE ? a[i][1][j + 1] : FloatVec{};
          const FloatVec &e0 = a[i][0][j], &o0 = a[i][1][j];
          FloatVec e1, o1;
          winogradNext(e0, eNext, e1, lanes);
          winogradNext(o0, oNext, o1, lanes);
          const int begin = base + j * kVectorFloats;
          winogradStorePart(vt + (4 * i + 0) * point, begin, masks[j], e0 - e1);
          winogradStorePart(vt + (4 * i + 1) * point, begin, masks[j], o0 + e1);
          winogradStorePart(vt + (4 * i + 2) * point, begin, masks[j], e1 - o0);
          winogradStorePart(vt + (4 * i + 3) * point, begin, masks[j], o0 - o1);
        }
    }
  }
  if (count < TB)
    for (int q = 0; q < kWinogradPoints * C; ++q)
      for (int t = count; t < TB; ++t)
        v[std::size_t(q) * TB + t] = 0.0f;
}

/// m [R][TB] (one point) = u [R][C] (rows C apart) x v [C][TB]: R filters x
/// NV vectors of tiles in registers over the C-long sum.
template <int R, int NV, int C, int TB, int VS>
NETC_INLINE void winogradProductTile(const float *NETC_RESTRICT u, const float *NETC_RESTRICT v,
                                     float *NETC_RESTRICT m) {
  FloatVec acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NV; ++j)
      acc[r][j] = FloatVec{};
  for (int c = 0; c < C; ++c) {
    FloatVec vv[NV];
    for (int j = 0; j < NV; ++j)
      __builtin_memcpy(&vv[j], v + std::size_t(c) * VS + j * kVectorFloats, sizeof(FloatVec));
    for (int r = 0; r < R; ++r) {
      const float b = u[std::size_t(r) * C + c];
      for (int j = 0; j < NV; ++j)
        acc[r][j] += b * vv[j];
    }
  }
  for (int r = 0; r < R; ++r)
    __builtin_memcpy(m + std::size_t(r) * TB, acc[r], sizeof(acc[r]));
}

/// The outputs of filters [f0, f0 + R) over the block's tiles from their
/// products m [16][R][TB]: A^T m A per tile, A^T = [1 1 1 0; 0 1 -1 -1],
/// stored into ys [F][OH][OW] (through epi: on the vectors where it has a
/// vector form, else over each stored run).
template <int R, int F, int OH, int OW, class Plan, class Epi>
NETC_INLINE void winogradOutputBlock(const float *NETC_RESTRICT m, int f0, int t0, int count,
                                     float *NETC_RESTRICT ys, const Epi &epi) {
  constexpr int TW = Plan::TW, TB = Plan::TB, NH = Plan::NH;
  constexpr std::size_t point = std::size_t(R) * TB;
  // (onVector takes and returns a 64-byte vector: with AVX-512 only.)
  constexpr bool kOnVectors = Epi::kOnVectors && kRegisterFloats == kVectorFloats;
  const int ty0 = t0 / TW, ty1 = (t0 + count - 1) / TW;
  const auto lanes = std::make_index_sequence<kVectorFloats>();
  for (int r = 0; r < R; ++r) {
    const int f = f0 + r;
    float *plane = ys + std::size_t(f) * OH * OW;
    for (int ty = ty0; ty <= ty1; ++ty) {
      const int tx0 = ty == ty0 ? t0 - ty * TW : 0;
      const int tx1 = min(TW, t0 + count - ty * TW);
      const float *mt = m + std::size_t(r) * TB;
      const int base = ty * TW - t0;
      const int x0 = 2 * tx0, x1 = min(OW, 2 * tx1);
      for (int j = 0; j < NH; ++j) {
        const int begin = base + j * kVectorFloats;
        const unsigned in = winogradLaneMask(begin, base + tx0, base + tx1);
        FloatVec s[2][4];
        for (int k = 0; k < 4; ++k) {
          FloatVec m0, m1, m2, m3;
          winogradLoadPart(m0, mt + k * point, begin, in);
          winogradLoadPart(m1, mt + (4 + k) * point, begin, in);
          winogradLoadPart(m2, mt + (8 + k) * point, begin, in);
          winogradLoadPart(m3, mt + (12 + k) * point, begin, in);
          s[0][k] = m0 + m1 + m2;
          s[1][k] = m1 - m2 - m3;
        }
        for (int i = 0; i < 2 && 2 * ty + i < OH; ++i) {
          const FloatVec even = s[i][0] + s[i][1] + s[i][2];
          const FloatVec odd = s[i][1] - s[i][2] - s[i][3];
          FloatVec out[2];
          winogradInterleave<0>(even, odd, out[0], lanes);
          winogradInterleave<1>(even, odd, out[1], lanes);
          float *row = plane + std::size_t(2 * ty + i) * OW;
          for (int h = 0; h < 2; ++h) {
            if constexpr (kOnVectors)
              out[h] = epi.onVector(f, out[h]);
            const int at = (2 * j + h) * kVectorFloats;
            winogradStorePart(row, at, winogradLaneMask(at, x0, x1), out[h]);
          }
        }
      }
      if constexpr (!kOnVectors)
        for (int i = 0; i < 2 && 2 * ty + i < OH; ++i)
          epi(f, plane + std::size_t(2 * ty + i) * OW + x0, x1 - x0);
    }
  }
}

/// y [n,F,OH,OW] = the 3x3 stride-1 convolution of x [n,C,H,W] padded by PT
/// and PL, from its transformed weights u [16][F][C] (winogradWeights).
template <int C, int H, int W, int F, int PT, int PL, int OH, int OW, class Epi = NoEpilogue>
void conv2dWinogradTransformed(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT u,
                               float *NETC_RESTRICT y, const Epi &epi = Epi{}) {
  using Plan = WinogradPlan<C, F, OH, OW>;
  static_assert(Plan::fits, "the Winograd path's buffers exceed the stack budget");
  static constexpr int NV = Plan::NV, TB = Plan::TB, R = Plan::rowsFor(NV);
  static constexpr int FULL = F / R, RT = F % R;
  const std::int64_t tasks = std::int64_t(n) * Plan::blocks;
  const bool parallel = convInParallel(n, F, OH * OW, C * 9);
  parallelFor(tasks, parallel && tasks > 1, [&](std::int64_t task) {
    const int i = int(task / Plan::blocks), t0 = int(task % Plan::blocks) * TB;
    const int count = min(TB, Plan::T - t0);
    alignas(64) float v[kWinogradPoints * C * TB];
    alignas(64) float m[kWinogradPoints * R * TB];
    winogradInputBlock<C, H, W, PT, PL, Plan>(x + std::size_t(i) * C * H * W, t0, count, v);
    float *ys = y + std::size_t(i) * F * OH * OW;
    auto group = [&](auto rows, int f0) {
      constexpr int RG = decltype(rows)::value;
      for (int p = 0; p < kWinogradPoints; ++p)
        winogradProductTile<RG, NV, C, TB, kWinogradPoints * TB>(
            u + (std::size_t(p) * F + f0) * C, v + std::size_t(p) * TB,
                                           m + std::size_t(p) * RG * TB);
      winogradOutputBlock<RG, F, OH, OW, Plan>(m, f0, t0, count, ys, epi);
    };
    for (int g = 0; g < FULL; ++g)
      group(std::integral_constant<int, R>{}, g * R);
    if constexpr (RT > 0)
      group(std::integral_constant<int, RT>{}, FULL * R);
  });
}

/// conv2d by Winograd F(2x2, 3x3): transforms w, then the above.
template <int C, int H, int W, int F, int PT, int PL, int OH, int OW, class Epi = NoEpilogue>
void conv2dWinograd(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                    float *NETC_RESTRICT y, const Epi &epi = Epi{}) {
  alignas(64) float u[kWinogradPoints * F * C];
  winogradWeights<C, F>(w, u);
  conv2dWinogradTransformed<C, H, W, F, PT, PL, OH, OW>(n, x, u, y, epi);
}

/// dx [n,C,H,W] of the 3x3 stride-1 convolution (padding PT, PL): dy [n,F,
/// OH,OW] convolved with the flipped, transposed weights, padded by 2 - PT
/// and 2 - PL.
template <int C, int H, int W, int F, int PT, int PL, int OH, int OW>
void conv2dGradInputWinograd(int n, const float *NETC_RESTRICT dy, const float *NETC_RESTRICT w,
                             float *NETC_RESTRICT dx) {
  alignas(64) float u[kWinogradPoints * F * C];
  winogradWeightsFlipped<C, F>(w, u);
  conv2dWinogradTransformed<F, OH, OW, C, 2 - PT, 2 - PL, H, W>(n, dy, u, dx);
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_CONVWINOGRAD_H
