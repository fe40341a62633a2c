//===- Gemm.h - register-tiled float GEMM micro-kernel -----------*- C++ -*-===//
//
// c[m*cm + j] (= or +=) sum_{k<K} a[m*am + k*ak] * b[k*bk + j]
// for m < M and j in [j0, j1): the engine of the im2col convolutions (Conv.h).
//
// A tile of MR=6 rows x NV vectors of 16 lanes (NV 4 with AVX-512, 1 with
// narrower vectors: vector-extension accumulators that GCC keeps in
// registers, not a plain float array, as long as they fit them) runs
// over the whole reduction K: per k, NV vector loads of b and MR broadcasts
// of a feed MR*NV FMAs. Every lane of a tile sums its K products in
// increasing k, so a result does not depend on how the columns are split into
// tiles or across threads. Rows of b must be readable up to the next multiple
// of 16 columns past j1 (the callers' buffers are padded); what those extra
// lanes hold only reaches lanes that are never stored. No allocation.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_GEMM_H
#define NETC_KERNELS_GEMM_H

#include "net/Kernels/Common.h"

namespace netc::kernels {
namespace detail {

/// The tile: MR rows x NV vectors of accumulators. AVX-512's 32 registers
/// hold 6 x 4 and the 4 b vectors; AVX2's 16 (a 16-lane vector takes two
/// 256-bit registers) hold 6 x 1, its b vector and a broadcast. 6 x 4 there
/// spilled the accumulators to the stack in every FMA: the GEMM layers ran
/// at 3-8 GFLOP/s on two cores, 16x-45x below 6 x 1 (docs/benchmarks.md).
constexpr int kGemmMR = 6;
constexpr int kGemmNV = kRegisterFloats == 16 ? 4 : 1;

/// Columns the convolutions' plans (ConvGemm.h) size their chunks and
/// blocks in: one AVX-512 tile, four tiles of the narrower targets.
constexpr int kGemmPlanColumns = 64;

/// Rounds up to a multiple of the vector width.
constexpr int roundUpLanes(int x) {
  return (x + kVectorFloats - 1) / kVectorFloats * kVectorFloats;
}

/// One MR x (NV*16) tile; only `lastValid` (1..16) lanes of the last vector
/// are loaded (add) and stored. The accumulators are registers of the
/// target's width (kRegisterFloats), NV*16/kRegisterFloats per row: GCC
/// kept 16-lane vector-extension values that take two AVX2 registers on the
/// stack, and the tile ran at 15 GFLOP/s per core.
template <int MR, int NV>
NETC_INLINE void gemmTile(int K, const float *NETC_RESTRICT a, std::ptrdiff_t am,
                          std::ptrdiff_t ak, const float *NETC_RESTRICT b,
                          std::ptrdiff_t bk, float *NETC_RESTRICT c, std::ptrdiff_t cm,
                          bool add, int lastValid) {
  constexpr int V = kVectorFloats;
#if defined(__GNUC__) || defined(__clang__)
  constexpr int R = kRegisterFloats, NR = NV * V / R, FULL = (NV - 1) * V / R;
  typedef RegisterVec reg;
  // Unaligned, aliasing view for loads and stores.
  typedef float ureg __attribute__((vector_size(R * sizeof(float)), aligned(4), may_alias));
  // Lanes of register r of a row that are loaded and stored: all of them
  // but in the last vector's registers past lastValid.
  auto lanesOf = [lastValid](int r) {
    return r < FULL ? R : min(R, max(0, lastValid - (r - FULL) * R));
  };
  reg acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r)
      acc[m][r] = reg{};
  if (add)
    for (int m = 0; m < MR; ++m)
      for (int r = 0; r < NR; ++r) {
        const float *from = c + m * cm + r * R;
        const int lanes = lanesOf(r);
        if (lanes == R) {
          acc[m][r] = *reinterpret_cast<const ureg *>(from);
        } else {
          // Lane by lane over all R lanes: a loop of run-time length became
          // a memcpy call per row.
          for (int l = 0; l < R; ++l)
            acc[m][r][l] = l < lanes ? from[l] : 0.f;
        }
      }
  for (int k = 0; k < K; ++k) {
    reg bv[NR];
    for (int r = 0; r < NR; ++r)
      bv[r] = *reinterpret_cast<const ureg *>(b + k * bk + r * R);
    for (int m = 0; m < MR; ++m) {
      const float av = a[m * am + k * ak];
      for (int r = 0; r < NR; ++r)
        acc[m][r] += av * bv[r];
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) {
      float *to = c + m * cm + r * R;
      const int lanes = lanesOf(r);
      if (lanes == R) {
        *reinterpret_cast<ureg *>(to) = acc[m][r];
      } else {
        for (int l = 0; l < R; ++l)
          if (l < lanes)
            to[l] = acc[m][r][l];
      }
    }
#else
  const int width = (NV - 1) * V + lastValid;
  for (int m = 0; m < MR; ++m)
    for (int j = 0; j < width; ++j) {
      float s = add ? c[m * cm + j] : 0.f;
      for (int k = 0; k < K; ++k)
        s += a[m * am + k * ak] * b[k * bk + j];
      c[m * cm + j] = s;
    }
#endif
}

/// Runs the MR-row tiles of columns [j, j + width), width <= NV*16: the
/// tile of the fewest vectors that covers the width.
template <int MR, int NV = kGemmNV>
NETC_INLINE void gemmColumnTile(int K, const float *a, std::ptrdiff_t am, std::ptrdiff_t ak,
                                const float *b, std::ptrdiff_t bk, float *c,
                                std::ptrdiff_t cm, bool add, int width) {
  if constexpr (NV > 1)
    if (width <= (NV - 1) * kVectorFloats) {
      gemmColumnTile<MR, NV - 1>(K, a, am, ak, b, bk, c, cm, add, width);
      return;
    }
  gemmTile<MR, NV>(K, a, am, ak, b, bk, c, cm, add, width - (NV - 1) * kVectorFloats);
}

/// Rows [m0, m1) of gemm<M> below (a and c still point at row 0): m0 a
/// multiple of the tile's MR rows, m1 one too or M. Threads that split the
/// rows so get the same bits as one thread taking them all: a lane's sum
/// does not depend on which tile holds its row. Always inlined, for callers
/// whose strides are constants: out of line (as GCC leaves it in a model
/// library of many convs) the k loop took them as run-time values and
/// spilled pointers to the stack (the forwards, 7-11 % of ResNet50's).
template <int M>
NETC_INLINE void gemmRowsInlined(int m0, int m1, int K, const float *a, std::ptrdiff_t am,
                                 std::ptrdiff_t ak, const float *b, std::ptrdiff_t bk,
                                 float *c, std::ptrdiff_t cm, bool add, int j0, int j1) {
  constexpr int MR = kGemmMR, MT = M % MR;
  constexpr int NT = kGemmNV * kVectorFloats;
  for (int j = j0; j < j1; j += NT) {
    const int width = min(NT, j1 - j);
    int m = m0;
    for (; m + MR <= m1; m += MR)
      gemmColumnTile<MR>(K, a + m * am, am, ak, b + j, bk, c + m * cm + j, cm, add, width);
    if constexpr (MT > 0)
      if (m < m1)
        gemmColumnTile<MT>(K, a + m * am, am, ak, b + j, bk, c + m * cm + j, cm, add, width);
  }
}

/// gemmRowsInlined, inlined where GCC chooses: forced into grad_weight's
/// loop nest, the tiles ran 10 % slower (3x3 64 -> 64 at 56x56, batch 16).
template <int M>
inline void gemmRows(int m0, int m1, int K, const float *a, std::ptrdiff_t am,
                     std::ptrdiff_t ak, const float *b, std::ptrdiff_t bk, float *c,
                     std::ptrdiff_t cm, bool add, int j0, int j1) {
  gemmRowsInlined<M>(m0, m1, K, a, am, ak, b, bk, c, cm, add, j0, j1);
}

/// gemmRowsInlined over `rows` rows known only at run time (a batch): the
/// rows past the last whole tile run as one tile of their number.
NETC_INLINE void gemmRowsOfBatch(int rows, int K, const float *a, std::ptrdiff_t am,
                                 std::ptrdiff_t ak, const float *b, std::ptrdiff_t bk,
                                 float *c, std::ptrdiff_t cm, bool add, int j0, int j1) {
  constexpr int MR = kGemmMR, NT = kGemmNV * kVectorFloats;
  for (int j = j0; j < j1; j += NT) {
    const int width = min(NT, j1 - j);
    int m = 0;
    for (; m + MR <= rows; m += MR)
      gemmColumnTile<MR>(K, a + m * am, am, ak, b + j, bk, c + m * cm + j, cm, add, width);
    withCompileTimeCount<MR - 1>(rows - m, [&](auto tileRows) {
      constexpr int T = decltype(tileRows)::value;
      gemmColumnTile<T>(K, a + m * am, am, ak, b + j, bk, c + m * cm + j, cm, add, width);
    });
  }
}

/// c[m*cm + j] (=|+=) sum_k a[m*am + k*ak] b[k*bk + j], m < M, j in [j0, j1).
/// b and c point at column 0; j0 is a multiple of 16.
template <int M>
inline void gemm(int K, const float *a, std::ptrdiff_t am, std::ptrdiff_t ak,
                 const float *b, std::ptrdiff_t bk, float *c, std::ptrdiff_t cm, bool add,
                 int j0, int j1) {
  gemmRows<M>(0, M, K, a, am, ak, b, bk, c, cm, add, j0, j1);
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_GEMM_H
