//===- ConvGemm.h - conv2d as im2col + GEMM, forward and backward -*- C++ -*-===//
//
// The im2col + GEMM (Gemm.h) path of Conv.h. The patch matrix of one sample is
//   cols[(c*KH + kh)*KW + kw][oh*OW + ow] = x[c, oh*SH+kh-PT, ow*SW+kw-PL]
// (zero outside), so with CKK = C*KH*KW and P = OH*OW:
//   forward      y_i [F, P]   = w [F, CKK] * cols_i [CKK, P]
//   grad_input   dcols [CKK, P] = w^T * dy_i [F, P], then col2im into dx_i
//   grad_weight  dw [F, CKK] = sum_i dy_i [F, P] * cols_i^T [P, CKK]
// The patch matrices are built a chunk of output rows at a time in a stack
// buffer of at most kConvGemmStackFloats floats (160 KiB) per thread, its rows
// padded to a multiple of 16 floats; a shape whose chunk of one output row
// does not fit takes the direct path. The forward is parallel over (sample,
// chunk of output rows) pairs, grad_input over samples; grad_weight gives
// each thread a fixed range of CKK columns (whole vectors of 16) of dw, taken
// in blocks whose part of dw stays in L2 over the batch (dwBlockColumns), and
// builds only those columns of cols_i^T, summing over (sample, position) in
// increasing order, so dw is the same for any thread count.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CONVGEMM_H
#define NETC_KERNELS_CONVGEMM_H

#include "net/Kernels/Common.h"
#include "net/Kernels/Gemm.h"

#include <numeric>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace netc::kernels {
namespace detail {

/// Stack floats of the GEMM path's patch buffers, per thread.
constexpr int kConvGemmStackFloats = kConvStackFloats;

/// Floats of dw that grad_weight's GEMM keeps in one block (256 KiB: a
/// quarter of the L2 of one core of the machines measured).
constexpr int kGemmWeightBlockFloats = 65536;

/// Positions grad_weight's GEMM aims to sum per pass over a block of dw.
constexpr int kGemmWeightDepth = 256;

/// The most output rows (<= OH) whose chunk fits `rowFloats(rows)` into the
/// budget; 0 when not even one row does.
template <int OH, int OW, int PER_COLUMN_ROWS, int EXTRA_ROWS>
constexpr int gemmChunkRows() {
  int best = 0;
  for (int r = 1; r <= OH; ++r)
    if (std::int64_t(PER_COLUMN_ROWS + EXTRA_ROWS) * roundUpLanes(r * OW) <=
        kConvGemmStackFloats)
      best = r;
  return best;
}

/// Columns [0, rows*OW) of cols (row stride ld) for output rows oh0.. of
/// sample xi: its patch rows k0..k1-1 (all by default), row k at k - k0.
template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OW>
NETC_INLINE void im2colRows(const float *NETC_RESTRICT xi, int oh0, int rows,
                            float *NETC_RESTRICT cols, int ld, int k0 = 0,
                            int k1 = C * KH * KW) {
  for (int c = k0 / (KH * KW); c < C && c * KH * KW < k1; ++c)
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) {
        const int k = (c * KH + kh) * KW + kw;
        if (k < k0 || k >= k1)
          continue;
        float *row = cols + std::size_t(k - k0) * ld;
        if constexpr (KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 &&
                      OW == W) {
          // A pointwise conv's patch row is a run of the input plane.
          copyFloats(row, xi + (std::size_t(c) * H + oh0) * W, rows * OW);
          continue;
        }
        const int lo = min(OW, max(0, ceilDiv(PL - kw, SW)));
        const int hi = max(lo, min(OW, floorDiv(W - 1 + PL - kw, SW) + 1));
        for (int r = 0; r < rows; ++r) {
          const int ih = (oh0 + r) * SH + kh - PT;
          float *dst = row + r * OW;
          if (ih < 0 || ih >= H) {
            for (int ow = 0; ow < OW; ++ow)
              dst[ow] = 0.f;
            continue;
          }
          const float *src = xi + (std::size_t(c) * H + ih) * W;
          for (int ow = 0; ow < lo; ++ow)
            dst[ow] = 0.f;
          if constexpr (SW == 1) {
            copyFloats(dst + lo, src + lo + kw - PL, hi - lo);
          } else {
#pragma omp simd
            for (int ow = lo; ow < hi; ++ow)
              dst[ow] = src[ow * SW + kw - PL];
          }
          for (int ow = hi; ow < OW; ++ow)
            dst[ow] = 0.f;
        }
      }
}

/// dxi += col2im of columns [0, rows*OW) of dcols for output rows oh0.., in a
/// fixed order; input channels [c0, c1) (all by default).
template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OW>
NETC_INLINE void col2imRows(const float *NETC_RESTRICT dcols, int ld, int oh0, int rows,
                            float *NETC_RESTRICT dxi, int c0 = 0, int c1 = C) {
  for (int c = c0; c < c1; ++c)
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) {
        const float *row = dcols + std::size_t((c * KH + kh) * KW + kw) * ld;
        const int lo = min(OW, max(0, ceilDiv(PL - kw, SW)));
        const int hi = max(lo, min(OW, floorDiv(W - 1 + PL - kw, SW) + 1));
        for (int r = 0; r < rows; ++r) {
          const int ih = (oh0 + r) * SH + kh - PT;
          if (ih < 0 || ih >= H)
            continue;
          const float *src = row + r * OW;
          float *dst = dxi + (std::size_t(c) * H + ih) * W;
#pragma omp simd
          for (int ow = lo; ow < hi; ++ow)
            dst[ow * SW + kw - PL] += src[ow];
        }
      }
}

/// colsT[p*ld + (j - j0)] = cols[j][oh0*OW + p] for j in [j0, j1), p < rows*OW,
/// via a zero-padded copy `xpad` ([channels][RP][WP]) of the input rows the
/// chunk reads in the channels those columns take (from j0 / (KH*KW)): row p
/// of colsT is then runs of KW contiguous floats,
/// xpad[c][r*SH + kh][ow*SW .. ow*SW + KW).
template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OW,
          int RP, int WP>
NETC_INLINE void im2colTransposedPadded(const float *NETC_RESTRICT xi, int oh0, int rows,
                                        int j0, int j1, float *NETC_RESTRICT xpad,
                                        float *NETC_RESTRICT colsT, int ld) {
  const int nrr = (rows - 1) * SH + KH;
  const int c0 = j0 / (KH * KW), c1 = (j1 - 1) / (KH * KW) + 1;
  for (int c = c0; c < c1; ++c)
    for (int rr = 0; rr < nrr; ++rr) {
      const int ih = oh0 * SH - PT + rr;
      float *dst = xpad + (std::size_t(c - c0) * RP + rr) * WP;
      if (ih < 0 || ih >= H) {
        for (int k = 0; k < WP; ++k)
          dst[k] = 0.f;
      } else {
        padRow<WP, W, PL>(dst, xi + (std::size_t(c) * H + ih) * W);
      }
    }
  const int q0 = j0 / KW, q1 = (j1 + KW - 1) / KW;
  for (int r = 0; r < rows; ++r)
    for (int ow = 0; ow < OW; ++ow) {
      float *row = colsT + std::size_t(r * OW + ow) * ld - j0;
      const float *base = xpad + r * SH * WP + ow * SW;
      int c = q0 / KH - c0, kh = q0 % KH;
      for (int q = q0; q < q1; ++q) {
        const float *src = base + (c * RP + kh) * WP;
        const int jb = q * KW;
        if (jb >= j0 && jb + KW <= j1) {
          for (int kw = 0; kw < KW; ++kw)
            row[jb + kw] = src[kw];
        } else {
          for (int kw = 0; kw < KW; ++kw)
            if (jb + kw >= j0 && jb + kw < j1)
              row[jb + kw] = src[kw];
        }
        if (++kh == KH)
          kh = 0, ++c;
      }
    }
}

/// Whether a conv's patch matrix is its input (1x1, stride 1, no padding):
/// cols[c][p] = x[c][p], and col2im adds nothing up.
template <int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
constexpr bool patchesAreInput =
    KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && OH == H && OW == W;

template <int C, int KH, int KW, int SH, int SW, int OH, int OW> struct ConvGemmPlan {
  static constexpr int CKK = C * KH * KW, P = OH * OW;
  static constexpr int fwdRows = gemmChunkRows<OH, OW, CKK, 0>();
  template <int F> static constexpr int dxRows = gemmChunkRows<OH, OW, CKK, F>();
  static constexpr int LD = roundUpLanes(CKK);
  /// grad_weight: a padded copy of the input rows of a chunk ...
  static constexpr int WP = (OW - 1) * SW + KW;
  static constexpr int padRows(int r) { return (r - 1) * SH + KH; }
  /// ... and its positions x LD columns of cols^T: whether the path fits
  /// (the most rows whose buffers fit with every column; 0 if none).
  static constexpr int dwRows = [] {
    int best = 0;
    for (int r = 1; r <= OH; ++r)
      if (std::int64_t(r) * OW * LD + std::int64_t(C) * padRows(r) * WP <= kConvGemmStackFloats)
        best = r;
    return best;
  }();
  /// grad_weight's columns of dw in blocks of dwBlockColumns<F>, each GEMM
  /// summing dwBlockRows<F> output rows' positions: the widest block (a
  /// multiple of the GEMM's 64-column tile, up to kGemmWeightBlockFloats of dw,
  /// which then stays in L2 over the whole batch) whose patches give a GEMM
  /// kGemmWeightDepth positions, or the whole plane. (With every column at
  /// once, 2048 -> 512 at 7x7 summed 7 positions per pass over its 4 MiB dw,
  /// at 75-83 GFLOP/s on 2 threads; in blocks of 128 columns, 49 positions:
  /// 270-320. 256 -> 64 at 56x56: 56 positions, 103-114; blocks of 64, 280
  /// positions: 180-233.)
  static constexpr int blockChannels(int columns) {
    return min(C, (columns - 1) / (KH * KW) + 2);
  }
  static constexpr int blockRows(int columns) {
    int best = 0;
    for (int r = 1; r <= OH; ++r)
      if (std::int64_t(r) * OW * columns + std::int64_t(blockChannels(columns)) * padRows(r) * WP <=
          kConvGemmStackFloats)
        best = r;
    return best;
  }
  template <int F>
  static constexpr int dwBlockColumns = [] {
    constexpr int NT = kGemmPlanColumns;
    const int widest = min(LD, max(NT, kGemmWeightBlockFloats / F / NT * NT));
    const int depth = min(P, kGemmWeightDepth);
    for (int columns = widest; columns > NT; columns = (columns - 1) / NT * NT)
      if (blockRows(columns) * OW >= depth)
        return columns;
    return min(widest, NT);
  }();
  template <int F> static constexpr int dwBlockRows = blockRows(dwBlockColumns<F>);
};

/// Zeroes lanes [from, NP) of each of `count` rows of a patch buffer: lanes
/// past a chunk only reach outputs never stored, but zeroed once they hold
/// no stack garbage (a later short chunk leaves finite values).
template <int NP> NETC_INLINE void zeroColumnTails(float *cols, int count, int from) {
  for (int k = 0; k < count; ++k)
    for (int j = from; j < NP; ++j)
      cols[k * NP + j] = 0.f;
}

/// The first filter of part `part` of `parts`: a multiple of the GEMM tile's
/// rows (gemmRows), F for part == parts.
template <int F> NETC_INLINE int gemmFilterPartStart(int part, int parts) {
  if (part >= parts)
    return F;
  const int f = int((std::int64_t(F) * part / parts + kGemmMR / 2) / kGemmMR * kGemmMR);
  return min(F, f);
}

/// How many parts a GEMM forward splits its F filters into: 1, or one per
/// thread where its (sample, chunk of R output rows) pairs split unevenly
/// over the threads (fewer pairs than threads, or batch 1's chunks of 11 and
/// 3 rows) and the filters split more evenly. With parts, thread t takes
/// filter part t over every pair, building the patches itself: the copies
/// are repeated, the products are not.
template <int F, int OH, int R> int gemmFilterParts(std::int64_t n, int threads) {
  // Whole samples a thread (training batches): the rows split evenly.
  if (threads <= 1 || n % threads == 0)
    return 1;
  constexpr int CHUNKS = ceilDiv(OH, R);
  const std::int64_t pairs = n * CHUNKS;
  // The busiest thread's load against an even share (1 = even): output rows
  // under the static split of the pairs; 6-row tiles of filters by parts.
  std::int64_t busiestRows = 0;
  for (int t = 0; t < threads; ++t) {
    const StaticRange range = staticRange(pairs, t, threads);
    std::int64_t rows = 0;
    for (std::int64_t p = range.begin; p < range.end; ++p)
      rows += min(R, OH - int(p % CHUNKS) * R);
    busiestRows = max(busiestRows, rows);
  }
  const double byRows = double(busiestRows) * threads / (double(n) * OH);
  int busiestTiles = 0;
  for (int t = 0; t < threads; ++t)
    busiestTiles = max(busiestTiles, ceilDiv(gemmFilterPartStart<F>(t + 1, threads) -
                                                 gemmFilterPartStart<F>(t, threads),
                                             kGemmMR));
  const double byFilters = double(busiestTiles) * kGemmMR * threads / F;
  return byRows > 1.1 && byFilters < byRows ? threads : 1;
}

/// One task of a GEMM forward: filters [f0, f1) over output rows
/// [oh0, oh0 + rows) of one sample.
struct GemmForwardTask {
  int f0, f1, sample, oh0, rows;
};

/// The tasks of a GEMM forward over n samples, in chunks of R of the OH output
/// rows, the F filters in gemmFilterParts' parts; part-major, so a thread's
/// static range runs one part over consecutive (sample, chunk) pairs.
template <int F, int OH, int R> struct GemmForwardTasks {
  static constexpr int kChunks = ceilDiv(OH, R);
  std::int64_t pairs;
  int parts;
  GemmForwardTasks(std::int64_t n, int threads)
      : pairs(n * kChunks), parts(gemmFilterParts<F, OH, R>(n, threads)) {}
  std::int64_t count() const { return pairs * parts; }
  GemmForwardTask operator[](std::int64_t task) const {
    const int part = int(task / pairs);
    const std::int64_t pair = task % pairs;
    const int oh0 = int(pair % kChunks) * R;
    return {gemmFilterPartStart<F>(part, parts), gemmFilterPartStart<F>(part + 1, parts),
            int(pair / kChunks), oh0, min(R, OH - oh0)};
  }
};

/// 16-lane vector slots that the GEMM's tiles spend on `columns` columns:
/// four per full 64-column tile, and at least two for the last one (a tile
/// of one vector has too few accumulators to hide the FMA latency).
constexpr int gemmColumnSlots(int columns) {
  const int tail = ceilDiv(columns % kGemmPlanColumns, kVectorFloats);
  return columns / kGemmPlanColumns * (kGemmPlanColumns / kVectorFloats) +
         (tail == 0 ? 0 : max(tail, 2));
}

/// The forward of deep patches (C*KH*KW of 1024 channels or 256 3x3 ones)
/// on small planes, where a chunk of whole patches holds too few output rows
/// to fill one 64-column tile (1024 channels at 14x14: two rows, 28
/// columns; 2048 at 7x7: 14): the patch rows are taken in chunks of KC
/// instead, the GEMM adding each chunk's products to y, and the output rows
/// in chunks of R chosen to fill the tiles best. A lane still sums its
/// products in increasing k (y holds the partial sum between chunks, as the
/// accumulator did), so the results are those of the one-chunk GEMM.
template <int CKK, int OH, int OW> struct GemmDeepPlan {
  static constexpr int kMinChunk = 128;
  static constexpr int chunkFor(int rows) {
    return min(CKK, int(kConvGemmStackFloats / roundUpLanes(rows * OW)));
  }
  /// Slots the tiles spend on the whole plane in chunks of `rows` rows.
  static constexpr int slotsFor(int rows) {
    return OH / rows * gemmColumnSlots(rows * OW) + gemmColumnSlots(OH % rows * OW);
  }
  static constexpr int rows = [] {
    int best = 0;
    for (int r = 1; r <= OH; ++r)
      if (chunkFor(r) >= min(CKK, kMinChunk) && (best == 0 || slotsFor(r) <= slotsFor(best)))
        best = r;
    return best;
  }();
  static constexpr int kChunk = rows > 0 ? chunkFor(rows) : 0;
};

/// Whether the forward takes its patches in chunks (GemmDeepPlan): one
/// output row of whole patches does not fit the stack (FWD_ROWS == 0), or
/// the one-chunk plan fills less than one tile, and the deep plan's tiles
/// spend at least a fifth fewer slots. (At equal slots the chunks of patch rows
/// cost more: 1024 -> 256 at 14x14 ran at 180 GFLOP/s in them, at 312 in
/// two-row chunks of 28 columns; 2048 -> 512 at 7x7 went from 222 to 315.)
template <int CKK, int OH, int OW, int FWD_ROWS>
constexpr bool gemmForwardInDepthChunks = [] {
  using Deep = GemmDeepPlan<CKK, OH, OW>;
  if (FWD_ROWS == 0)
    return Deep::rows > 0;
  return FWD_ROWS < OH && FWD_ROWS * OW < kGemmPlanColumns && Deep::rows > 0 &&
         5 * Deep::slotsFor(Deep::rows) <= 4 * Deep::slotsFor(FWD_ROWS);
}();

/// The forward of GemmDeepPlan. Tasks are (filter part, sample, chunk of
/// rows), the filters in parts only where the pairs split unevenly
/// (gemmFilterParts).
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGemmInDepthChunks(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                             float *NETC_RESTRICT y) {
  using Plan = ConvGemmPlan<C, KH, KW, SH, SW, OH, OW>;
  using Deep = GemmDeepPlan<Plan::CKK, OH, OW>;
  constexpr int CKK = Plan::CKK, P = Plan::P, R = Deep::rows, KC = Deep::kChunk;
  constexpr int NP = roundUpLanes(R * OW);
  static_assert(R > 0 && KC > 0, "GemmDeepPlan found no chunking that fits");
  const bool parallel = convInParallel(n, F, P, CKK);
  const GemmForwardTasks<F, OH, R> tasks(n, threadsToSplitOver(parallel));
  parallelRegion(tasks.count() > 1 && parallel, [&](int thread, int team) {
    alignas(64) float cols[KC * NP];
    zeroColumnTails<NP>(cols, KC, R * OW);
    const StaticRange range = staticRange(tasks.count(), thread, team);
    for (std::int64_t index = range.begin; index < range.end; ++index) {
      const GemmForwardTask task = tasks[index];
      const float *xi = x + std::size_t(task.sample) * C * H * W;
      float *yi = y + std::size_t(task.sample) * F * P + task.oh0 * OW;
      for (int k0 = 0; k0 < CKK; k0 += KC) {
        const int kn = min(KC, CKK - k0);
        im2colRows<C, H, W, KH, KW, SH, SW, PT, PL, OW>(xi, task.oh0, task.rows, cols, NP, k0,
                                                        k0 + kn);
        gemmRowsInlined<F>(task.f0, task.f1, kn, w + k0, CKK, 1, cols, NP, yi, P, k0 > 0, 0,
                           task.rows * OW);
      }
    }
  });
}

/// im2col + GEMM forward on whole patches: a chunk of R output rows' patches
/// at once.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGemmWholePatches(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                            float *NETC_RESTRICT y) {
  using Plan = ConvGemmPlan<C, KH, KW, SH, SW, OH, OW>;
  constexpr int CKK = Plan::CKK, P = Plan::P, R = Plan::fwdRows;
  static_assert(R > 0, "one output row of patches exceeds the stack budget");
  constexpr int NP = roundUpLanes(R * OW);
  // Tasks are (filter part, sample, chunk of R output rows), each writing its
  // own outputs: batch 1 still uses every thread, evenly (gemmFilterParts).
  const bool parallel = convInParallel(n, F, P, CKK);
  const GemmForwardTasks<F, OH, R> tasks(n, threadsToSplitOver(parallel));
  parallelRegion(tasks.count() > 1 && parallel, [&](int thread, int team) {
    alignas(64) float cols[CKK * NP];
    zeroColumnTails<NP>(cols, CKK, R * OW);
    const StaticRange range = staticRange(tasks.count(), thread, team);
    for (std::int64_t index = range.begin; index < range.end; ++index) {
      const GemmForwardTask task = tasks[index];
      const float *xi = x + std::size_t(task.sample) * C * H * W;
      float *yi = y + std::size_t(task.sample) * F * P + task.oh0 * OW;
      im2colRows<C, H, W, KH, KW, SH, SW, PT, PL, OW>(xi, task.oh0, task.rows, cols, NP);
      gemmRowsInlined<F>(task.f0, task.f1, CKK, w, CKK, 1, cols, NP, yi, P, false, 0,
                         task.rows * OW);
    }
  });
}

/// im2col + GEMM forward: whole patches, or patches in depth chunks where
/// those fill the GEMM's tiles better or whole ones do not fit.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGemm(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                float *NETC_RESTRICT y) {
  using Plan = ConvGemmPlan<C, KH, KW, SH, SW, OH, OW>;
  if constexpr (gemmForwardInDepthChunks<Plan::CKK, OH, OW, Plan::fwdRows>)
    conv2dGemmInDepthChunks<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
  else
    conv2dGemmWholePatches<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
}

/// grad_input of a pointwise conv (patchesAreInput): dx_i [C, P] = w^T *
/// dy_i, the GEMM storing straight into dx (through dcols and col2im,
/// resnet50's 2048 -> 512 at 7x7 took its positions 14 at a time, in
/// one-vector tiles). Only dy is copied, into a buffer of kChunk of its F rows
/// x `rows` output rows (at least a 64-column tile of positions, or the
/// plane) that the GEMM may read past each row's end; with F in chunks, each
/// chunk's products are added to dx, a lane still summing in increasing f.
template <int F, int OH, int OW> struct GemmPointwisePlan {
  static constexpr int rows = [] {
    const int most = gemmChunkRows<OH, OW, F, 0>();
    const int full = min(OH, ceilDiv(kGemmPlanColumns, OW));
    return most * OW >= kGemmPlanColumns || most == OH ? most : full;
  }();
  static constexpr int kChunk =
      min(F, int(kConvGemmStackFloats / roundUpLanes(rows * OW)));
};

/// Whether grad_input takes the pointwise GEMM (conv2dGradInputPointwise).
template <int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
constexpr bool gradInputOnPointwiseGemm =
    patchesAreInput<H, W, KH, KW, SH, SW, PT, PL, OH, OW> &&
    GemmPointwisePlan<F, OH, OW>::kChunk > 0;

/// The pointwise grad_input. Tasks are (part of dx's C rows, sample), in
/// parts where the samples split unevenly over the threads (batch 1).
template <int C, int F, int OH, int OW>
void conv2dGradInputPointwise(int n, const float *NETC_RESTRICT dy, const float *NETC_RESTRICT w,
                              float *NETC_RESTRICT dx) {
  using Plan = GemmPointwisePlan<F, OH, OW>;
  constexpr int P = OH * OW, R = Plan::rows, KC = Plan::kChunk, NP = roundUpLanes(R * OW);
  static_assert(KC > 0, "one tile of positions exceeds the stack budget");
  const bool parallel = convInParallel(n, F, P, C);
  const int threads = threadsToSplitOver(parallel);
  const int parts = n % threads == 0 || C < 2 * kGemmMR ? 1 : threads;
  const std::int64_t tasks = std::int64_t(n) * parts;
  parallelRegion(tasks > 1 && parallel, [&](int thread, int team) {
    alignas(64) float dyp[KC * NP];
    zeroColumnTails<NP>(dyp, KC, R * OW);
    const StaticRange range = staticRange(tasks, thread, team);
    for (std::int64_t task = range.begin; task < range.end; ++task) {
      const int part = int(task / n), i = int(task % n);
      const int m0 = gemmFilterPartStart<C>(part, parts);
      const int m1 = gemmFilterPartStart<C>(part + 1, parts);
      const float *dyi = dy + std::size_t(i) * F * P;
      float *dxi = dx + std::size_t(i) * C * P;
      for (int oh0 = 0; oh0 < OH; oh0 += R) {
        const int count = min(R, OH - oh0) * OW;
        for (int f0 = 0; f0 < F; f0 += KC) {
          const int kn = min(KC, F - f0);
          for (int f = 0; f < kn; ++f)
            copyFloats(dyp + f * NP, dyi + (f0 + f) * P + oh0 * OW, count);
          gemmRows<C>(m0, m1, kn, w + std::size_t(f0) * C, 1, C, dyp, NP, dxi + oh0 * OW, P,
                      f0 > 0, 0, count);
        }
      }
    }
  });
}

/// The first input channel of group `group` of `groups` of grad_input's
/// GEMM: a multiple of the channels whose patch rows fill whole tiles of the
/// GEMM's MR rows (gemmRows splits rows only there), C for group == groups.
template <int C, int KK> constexpr int gemmChannelGroupStart(int group, int groups) {
  constexpr int step = kGemmMR / std::gcd(KK, kGemmMR);
  if (group >= groups)
    return C;
  return min(C, int(std::int64_t(C) * group / groups / step * step));
}

/// GEMM (w^T * dy) + col2im grad_input. Tasks are (sample, group of input
/// channels): a group's rows of dcols and its channels of dx are its own, so
/// where the samples split unevenly over the threads (batch 1) the threads
/// split the channels instead. Each dx element is summed by one task in one
/// order (each dcols lane over f, then col2im over the taps), whatever the
/// groups: the same bits for any thread count.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGradInputGemm(int n, const float *NETC_RESTRICT dy,
                         const float *NETC_RESTRICT w, float *NETC_RESTRICT dx) {
  using Plan = ConvGemmPlan<C, KH, KW, SH, SW, OH, OW>;
  constexpr int CKK = Plan::CKK, P = Plan::P, R = Plan::template dxRows<F>;
  static_assert(R > 0, "one output row of patches exceeds the stack budget");
  constexpr int NP = roundUpLanes(R * OW);
  const bool parallel = convInParallel(n, F, P, CKK);
  const int threads = threadsToSplitOver(parallel);
  const int groups = n % threads == 0 ? 1 : threads;
  const std::int64_t tasks = std::int64_t(n) * groups;
  parallelRegion(tasks > 1 && parallel, [&](int thread, int team) {
    alignas(64) float dcols[CKK * NP];
    alignas(64) float dyp[F * NP];
    zeroColumnTails<NP>(dyp, F, R * OW);
    const StaticRange range = staticRange(tasks, thread, team);
    for (std::int64_t task = range.begin; task < range.end; ++task) {
      const int i = int(task / groups), group = int(task % groups);
      const int c0 = gemmChannelGroupStart<C, KH * KW>(group, groups),
                c1 = gemmChannelGroupStart<C, KH * KW>(group + 1, groups);
      if (c0 == c1)
        continue;
      const float *dyi = dy + std::size_t(i) * F * P;
      float *dxi = dx + std::size_t(i) * C * H * W;
      for (std::size_t k = std::size_t(c0) * H * W; k < std::size_t(c1) * H * W; ++k)
        dxi[k] = 0.f;
      for (int oh0 = 0; oh0 < OH; oh0 += R) {
        const int rows = min(R, OH - oh0);
        // (copyFloats: as a loop, `rep movs` per row took a tenth of
        // mnist_cnn conv2's grad_input.)
        for (int f = 0; f < F; ++f)
          copyFloats(dyp + f * NP, dyi + f * P + oh0 * OW, rows * OW);
        gemmRows<CKK>(c0 * KH * KW, c1 * KH * KW, F, w, 1, CKK, dyp, NP, dcols, NP, false, 0,
                      rows * OW);
        col2imRows<C, H, W, KH, KW, SH, SW, PT, PL, OW>(dcols, NP, oh0, rows, dxi, c0, c1);
      }
    }
  });
}

/// GEMM (dy * cols^T) grad_weight, threads owning CKK column ranges of dw.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGradWeightGemm(int n, const float *NETC_RESTRICT dy,
                          const float *NETC_RESTRICT x, float *NETC_RESTRICT dw) {
  using Plan = ConvGemmPlan<C, KH, KW, SH, SW, OH, OW>;
  constexpr int CKK = Plan::CKK, P = Plan::P, LD = Plan::LD;
  static_assert(Plan::dwRows > 0, "one output row of patches exceeds the stack budget");
  if (n <= 0) {
    for (int k = 0; k < F * CKK; ++k)
      dw[k] = 0.f;
    return;
  }
  // Each thread owns a range of dw's columns, in blocks of BC: per block,
  // every sample's positions, R output rows a GEMM (samples inner, so the
  // block of dw stays in L2). A weight sums its samples and positions in one
  // order whatever the blocks and threads: the same bits for any count.
  constexpr int BC = Plan::template dwBlockColumns<F>, R = Plan::template dwBlockRows<F>;
  static_assert(R > 0, "a block of grad_weight's patches exceeds the stack budget");
  parallelRegion(convInParallel(n, F, P, CKK), [&](int tid, int nt) {
    constexpr int VN = LD / kVectorFloats;
    const int j0 = VN * tid / nt * kVectorFloats;
    const int j1 = min(CKK, VN * (tid + 1) / nt * kVectorFloats);
    constexpr int WP = Plan::WP, RP = Plan::padRows(R);
    alignas(64) float colsT[R * OW * BC];
    alignas(64) float xpad[Plan::blockChannels(BC) * RP * WP];
    for (int b0 = j0; b0 < j1; b0 += BC) {
      const int b1 = min(j1, b0 + BC), width = b1 - b0, ld = roundUpLanes(width);
      for (int p = 0; p < R * OW; ++p)
        for (int j = width; j < ld; ++j)
          colsT[p * ld + j] = 0.f;
      for (int i = 0; i < n; ++i) {
        const float *xi = x + std::size_t(i) * C * H * W;
        const float *dyi = dy + std::size_t(i) * F * P;
        for (int oh0 = 0; oh0 < OH; oh0 += R) {
          const int rows = min(R, OH - oh0);
          im2colTransposedPadded<C, H, W, KH, KW, SH, SW, PT, PL, OW, RP, WP>(
              xi, oh0, rows, b0, b1, xpad, colsT, ld);
          gemm<F>(rows * OW, dyi + oh0 * OW, P, 1, colsT, ld, dw + b0, CKK, i > 0 || oh0 > 0,
                  0, width);
        }
      }
    }
  });
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_CONVGEMM_H
