//===- Dense.h - fully connected layer, forward and backward ----*- C++ -*-===//
//
// y[i,m]   = sum_k x[i,k] w[m,k]          (w is [M][K]: out, in)
// dx[i,k]  = sum_m dy[i,m] w[m,k]
// dw[m,k]  = sum_i dy[i,m] x[i,k]
//
// The forward is a tile of RB samples x CB outputs of dot products along K,
// which is contiguous in both x and w: with AVX-512, 4 x 4 = 16 vector
// accumulators of V=16 lanes (8 loads per 16 FMAs), summed at the end of a
// chunk by a tree of shuffles and vector adds into one vector holding the 16
// sums (15 vector adds where summing each accumulator's lanes one by one
// took 240 scalar ones: 1.25x-1.4x on the MNIST models' layers); elsewhere
// 2 x 2 (fewer registers, each 16-lane accumulator taking two AVX2 ones),
// each accumulator reduced alone in the tree's order, so an output is
// bitwise the same whichever tile computed it. K is
// cut into chunks of KC floats so that the w chunk of every output (M*KC*4
// bytes) stays in L2 while all samples pass over it; the first chunk writes
// y, later ones add.
// The two backward kernels are GEMMs along K instead (Gemm.h's 6 x 64 tile
// of the result in registers while the reduction runs over M for
// grad_input, over the batch for grad_weight), each task's 64 columns of
// the source (w or x) first copied into a contiguous stack buffer.
// Each output element is computed by one thread in a fixed order, so results
// do not depend on the thread count. No scratch, no allocation.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_DENSE_H
#define NETC_KERNELS_DENSE_H

#include "net/Kernels/Common.h"
#include "net/Kernels/Gemm.h"

#include <type_traits>
#include <utility>

namespace netc::kernels {
namespace detail {

#if defined(__GNUC__) || defined(__clang__)

/// Halves of two vectors, added: lanes [i*G, i*G+G) of the result are the
/// sum of the two halves of group i of a (even i) or b (odd i), G = 16/2^L
/// after level L. One level of the tree of sumLanes16.
/// (Vectors by reference: passed by value, a 64-byte vector changes the
/// calling convention with the ISA, and GCC warns of it.)
template <int G, std::size_t... I>
NETC_INLINE void addGroupHalves(const FloatVec &a, const FloatVec &b, FloatVec &out,
                                std::index_sequence<I...>) {
  // Result lane j: group j/G of the interleaved groups of a and b (a's group
  // g/2 for even g, b's for odd), first half (lo) or second half (hi).
  constexpr auto lane = [](int j, bool second) {
    const int g = j / G, within = j % G;
    const int src = (g / 2) * 2 * G + within + (second ? G : 0);
    return (g % 2 == 0) ? src : src + 16;
  };
  out = __builtin_shufflevector(a, b, lane(int(I), false)...) +
        __builtin_shufflevector(a, b, lane(int(I), true)...);
}

/// sums[j] = the sum of acc[j]'s 16 lanes, j < 16; the additions run in a
/// fixed order (a tree), whatever the call site.
NETC_INLINE void sumLanes16(const FloatVec *acc, float *sums) {
  using Seq = std::make_index_sequence<kVectorFloats>;
  FloatVec s8[8], s4[4], s2[2], r;
  for (int p = 0; p < 8; ++p)
    addGroupHalves<8>(acc[2 * p], acc[2 * p + 1], s8[p], Seq{});
  for (int p = 0; p < 4; ++p)
    addGroupHalves<4>(s8[2 * p], s8[2 * p + 1], s4[p], Seq{});
  for (int p = 0; p < 2; ++p)
    addGroupHalves<2>(s4[2 * p], s4[2 * p + 1], s2[p], Seq{});
  addGroupHalves<1>(s2[0], s2[1], r, Seq{});
  // Each level interleaves its two inputs' groups, so the sums come out in
  // bit-reversed order: lane j holds acc[bitrev4(j)]. Put them back.
  const FloatVec ordered =
      __builtin_shufflevector(r, r, 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
  __builtin_memcpy(sums, &ordered, sizeof(ordered));
}

/// out lane j = v's lane j + W (mod the register's width).
template <int W, std::size_t... I>
NETC_INLINE void lanesFrom(const RegisterVec &v, RegisterVec &out, std::index_sequence<I...>) {
  out = __builtin_shufflevector(v, v, int((I + W) % kRegisterFloats)...);
}

/// The sum of the 16 lanes held in regs[0..16/kRegisterFloats) in
/// sumLanes16's order (lane j plus lane j+8, then j+4, j+2, j+1), so that an
/// output's value does not depend on the shape of the tile that computed it
/// (a sample gives the same outputs in any batch). In registers: summed
/// through a stack array, the scalar adds each waited on the last one's
/// store (AVX2's dense forward spent most of its time here).
NETC_INLINE float sumLanesHalving(const RegisterVec *regs) {
  constexpr int S = kVectorFloats / kRegisterFloats;
  using Seq = std::make_index_sequence<kRegisterFloats>;
  RegisterVec v[S];
  for (int r = 0; r < S; ++r)
    v[r] = regs[r];
  // Halves across registers: lane j plus lane j + n*R/2.
  for (int n = S; n > 1; n /= 2)
    for (int j = 0; j < n / 2; ++j)
      v[j] += v[j + n / 2];
  RegisterVec t = v[0], shifted;
  if constexpr (kRegisterFloats >= 16) {
    lanesFrom<8>(t, shifted, Seq{});
    t += shifted;
  }
  if constexpr (kRegisterFloats >= 8) {
    lanesFrom<4>(t, shifted, Seq{});
    t += shifted;
  }
  lanesFrom<2>(t, shifted, Seq{});
  t += shifted;
  lanesFrom<1>(t, shifted, Seq{});
  t += shifted;
  return t[0];
}
#endif

/// out[a*ldo + b] (=|+=) sum_{k<len} x[a*K + k] * w[b*K + k], a < NR, b < NC.
/// GCC does not keep a [NR][NC][16] float array in registers, so the
/// accumulators are vector-extension values (plain arrays elsewhere): each
/// a 16-lane vector as S registers of the target, every loop over them
/// unrolled (16-lane values kept AVX2's accumulators on the stack).
template <int NR, int NC, int K>
NETC_INLINE void dotTile(const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                         int len, float *NETC_RESTRICT out, int ldo, bool add) {
  constexpr int V = kVectorFloats;
#if defined(__GNUC__) || defined(__clang__)
  if (len > K)
    __builtin_unreachable(); // a chunk of K: lets the tail loop's bound be known
#endif
  float s[NR][NC];
  int k = 0;
#if defined(__GNUC__) || defined(__clang__)
  constexpr int R = kRegisterFloats, S = V / R;
  typedef RegisterVec reg;
  reg acc[NR][NC][S];
#pragma GCC unroll 16
  for (int a = 0; a < NR; ++a)
#pragma GCC unroll 16
    for (int b = 0; b < NC; ++b)
#pragma GCC unroll 4
      for (int r = 0; r < S; ++r)
        acc[a][b][r] = reg{};
  for (; k + V <= len; k += V) {
    reg xv[NR][S];
#pragma GCC unroll 16
    for (int a = 0; a < NR; ++a)
#pragma GCC unroll 4
      for (int r = 0; r < S; ++r) {
        __builtin_memcpy(&xv[a][r], x + a * K + k + r * R, sizeof(reg));
        keepInRegister(xv[a][r]);
      }
#pragma GCC unroll 16
    for (int b = 0; b < NC; ++b)
#pragma GCC unroll 4
      for (int r = 0; r < S; ++r) {
        reg wv;
        __builtin_memcpy(&wv, w + b * K + k + r * R, sizeof(reg));
        keepInRegister(wv);
#pragma GCC unroll 16
        for (int a = 0; a < NR; ++a)
          acc[a][b][r] += xv[a][r] * wv;
      }
  }
  if constexpr (S == 1 && NR * NC == V) {
    sumLanes16(reinterpret_cast<const FloatVec *>(&acc[0][0][0]), &s[0][0]);
  } else {
    for (int a = 0; a < NR; ++a)
      for (int b = 0; b < NC; ++b)
        s[a][b] = sumLanesHalving(&acc[a][b][0]);
  }
#else
  for (int a = 0; a < NR; ++a)
    for (int b = 0; b < NC; ++b)
      s[a][b] = 0.f;
#endif
  for (int a = 0; a < NR; ++a)
    for (int b = 0; b < NC; ++b) {
      float t = s[a][b];
      for (int kk = k; kk < len; ++kk)
        t += x[std::size_t(a) * K + kk] * w[std::size_t(b) * K + kk];
      out[a * ldo + b] = add ? out[a * ldo + b] + t : t;
    }
}

/// Columns of the gradients' tasks: one AVX-512 GEMM tile wide.
constexpr int kDenseChunkColumns = kGemmPlanColumns;
/// Reduction rows packed at once: 256 x 64 floats, 64 KiB of stack.
constexpr int kDenseReductionRows = 256;
/// Result rows of one task (whole GEMM tiles): grad_input's samples, of
/// which a batch of 128 gives 3 blocks; grad_weight's outputs.
constexpr int kDenseGradInputRows = 8 * kGemmMR;
constexpr int kDenseGradWeightRows = 16 * kGemmMR;

/// pk[t*kDenseChunkColumns + j] = src[(t0 + t)*lds + k0 + j] for t < count,
/// j < width, and 0 up to the next whole vector (the GEMM tile loads whole
/// vectors; those lanes are never stored). The gradients' source rows are
/// K floats apart, for the MNIST models' K a multiple of 4 KiB or nearly:
/// read in place, a chunk's rows fell into a few L1 sets and left L1 at
/// every tile (mnist_cnn's 9216 -> 128: grad_input 196 GFLOP/s in place,
/// 289 packed).
NETC_INLINE void packDenseColumns(const float *NETC_RESTRICT src, std::ptrdiff_t lds, int t0,
                                  int count, int k0, int width, float *NETC_RESTRICT pk) {
  const int padded = roundUpLanes(width);
  for (int t = 0; t < count; ++t) {
    const float *from = src + std::ptrdiff_t(t0 + t) * lds + k0;
    float *to = pk + std::ptrdiff_t(t) * kDenseChunkColumns;
    copyFloats(to, from, width);
    for (int j = width; j < padded; ++j)
      to[j] = 0.f;
  }
}

/// The dense gradients' tasks: (64-column chunk of K, block of result
/// rows), chunk-major and split statically over the threads. Per task the
/// reduction runs in passes of at most PC rows, each pass's columns of src
/// packed (packDenseColumns) and handed to run(rowBlock, k0, width, r0,
/// count, pk); a pass holding the whole reduction is packed once per chunk,
/// for a thread's consecutive tasks share it.
template <int K, int PC, class Run>
NETC_INLINE void denseChunkTasks(int rowBlocks, int reduction, bool parallel,
                                 const float *NETC_RESTRICT src, Run &&run) {
  constexpr int KT = kDenseChunkColumns, chunks = ceilDiv(K, KT);
  parallelRegion(parallel, [&](int thread, int team) {
    const StaticRange range = staticRange(std::int64_t(chunks) * rowBlocks, thread, team);
    alignas(64) float pk[PC * KT];
    int packed = -1;
    for (std::int64_t t = range.begin; t < range.end; ++t) {
      const int ch = int(t / rowBlocks), rb = int(t % rowBlocks);
      const int k0 = ch * KT, width = min(KT, K - k0);
      for (int r0 = 0; r0 < reduction; r0 += PC) {
        const int count = min(PC, reduction - r0);
        if (reduction > PC || packed != ch)
          packDenseColumns(src, K, r0, count, k0, width, pk);
        packed = ch;
        run(rb, k0, width, r0, count, static_cast<const float *>(pk));
      }
    }
  });
}

} // namespace detail

/// y [n,M] = x [n,K] * w [M,K]^T.
template <int K, int M> void dense(int n, const float *x, const float *w, float *y) {
#if defined(__AVX512F__)
  constexpr int RB = 4, CB = 4;
#else
  // 2 x 2 accumulators of two registers each (AVX2), and the two samples'
  // vectors: 12 of its 16 registers.
  constexpr int RB = 2, CB = 2;
#endif
  constexpr int KC = K < 1024 ? K : 1024;
  const int rowBlocks = (n + RB - 1) / RB;
  constexpr int colBlocks = (M + CB - 1) / CB;
  const bool par = std::int64_t(n) * M * K > detail::kParallelThreshold * 4;
  detail::parallelRegion(par, [&](int thread, int team) {
    // Output-block major: the w rows of a block are reused by every sample.
    // No barrier between K chunks: a thread computes the same outputs in
    // every chunk, so it only ever adds to its own.
    const detail::StaticRange range =
        detail::staticRange(std::int64_t(colBlocks) * rowBlocks, thread, team);
    // Tasks are taken `group` at a time through every chunk: all of them
    // (each w chunk serves every sample of the thread's tiles while in L2),
    // or one where a single row block leaves no sample to reuse a chunk
    // (batch <= RB: each w row is then read as one stream rather than in
    // pieces a page long; lenet5's 5880 -> 84 at batch 1: 0.98x-1.15x).
    // Each output adds its chunks in the same order either way.
    const std::int64_t group =
        rowBlocks == 1 || range.end <= range.begin ? 1 : range.end - range.begin;
    for (std::int64_t t0 = range.begin; t0 < range.end; t0 += group) {
      for (int k0 = 0; k0 < K; k0 += KC) {
        const int len = detail::min(KC, K - k0);
        for (std::int64_t t = t0; t < t0 + group; ++t) {
          const int cb = int(t / rowBlocks), rb = int(t % rowBlocks);
          const int i = rb * RB, m = cb * CB;
          const float *xi = x + std::size_t(i) * K + k0;
          const float *wm = w + std::size_t(m) * K + k0;
          float *yo = y + std::size_t(i) * M + m;
          const int nr = detail::min(RB, n - i), nc = detail::min(CB, M - m);
          if (nr == RB && nc == CB) {
            detail::dotTile<RB, CB, K>(xi, wm, len, yo, M, k0 > 0);
            continue;
          }
          if (nc == CB) {
            // Fewer samples than a tile (batch 1): a row at a time, still CB
            // independent sums (one would wait on its FMA's latency).
            for (int a = 0; a < nr; ++a)
              detail::dotTile<1, CB, K>(xi + std::size_t(a) * K, wm, len, yo + std::size_t(a) * M,
                                        M, k0 > 0);
            continue;
          }
          for (int a = 0; a < nr; ++a)
            for (int b = 0; b < nc; ++b)
              detail::dotTile<1, 1, K>(xi + std::size_t(a) * K, wm + std::size_t(b) * K,
                                       len, yo + std::size_t(a) * M + b, M, k0 > 0);
        }
      }
    }
  });
}

/// dx [n,K] = dy [n,M] * w [M,K]: a GEMM (Gemm.h) of the batch's rows over
/// 64-column chunks of w, packed per task (packDenseColumns), the reduction
/// over M in increasing m for every element.
template <int K, int M>
void dense_grad_input(int n, const float *dy, const float *w, float *dx) {
  constexpr int KT = detail::kDenseChunkColumns, RC = detail::kDenseReductionRows;
  constexpr int RB = detail::kDenseGradInputRows, MC = M < RC ? M : RC;
  detail::denseChunkTasks<K, MC>(
      (n + RB - 1) / RB, M, std::int64_t(n) * M * K > detail::kParallelThreshold * 4, w,
      [&](int rb, int k0, int width, int m0, int count, const float *pk) {
        const int i0 = rb * RB;
        // a[i*am + t*ak] = dy[(i0 + i)*M + m0 + t].
        detail::gemmRowsOfBatch(detail::min(RB, n - i0), count, dy + std::size_t(i0) * M + m0, M,
                                1, pk, KT, dx + std::size_t(i0) * K + k0, K, m0 > 0, 0, width);
      });
}

/// dw [M,K] = dy [n,M]^T * x [n,K]: a GEMM of w's rows over 64-column
/// chunks of x, packed per task, the reduction over the batch in increasing
/// sample order for every element.
template <int K, int M>
void dense_grad_weight(int n, const float *dy, const float *x, float *dw) {
  constexpr int KT = detail::kDenseChunkColumns, RC = detail::kDenseReductionRows;
  constexpr int RB = detail::kDenseGradWeightRows;
  detail::denseChunkTasks<K, RC>(
      (M + RB - 1) / RB, n, std::int64_t(n) * M * K > detail::kParallelThreshold * 4, x,
      [&](int rb, int k0, int width, int i0, int count, const float *pk) {
        const int m0 = rb * RB;
        // a[m*am + t*ak] = dy[(i0 + t)*M + m].
        detail::gemmRows<M>(m0, detail::min(M, m0 + RB), count, dy + std::size_t(i0) * M, 1, M, pk,
                            KT, dw + k0, K, i0 > 0, 0, width);
      });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_DENSE_H
