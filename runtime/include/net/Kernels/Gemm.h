//===- Gemm.h - register-tiled float GEMM micro-kernel -----------*- C++ -*-===//
//
// c[m*cm + j] (= or +=) sum_{k<K} a[m*am + k*ak] * b[k*bk + j]
// for m < M and j in [j0, j1): the engine of the im2col convolutions (Conv.h).
//
// A tile of MR=6 rows x NV<=4 vectors of 16 lanes (24 vector-extension
// accumulators: GCC keeps those in registers, not a plain float array) runs
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

constexpr int kGemmMR = 6;
constexpr int kGemmNV = 4;

/// Rounds up to a multiple of the vector width.
constexpr int roundUpLanes(int x) {
  return (x + kVectorFloats - 1) / kVectorFloats * kVectorFloats;
}

/// One MR x (NV*16) tile; only `lastValid` (1..16) lanes of the last vector
/// are loaded (add) and stored.
template <int MR, int NV>
NETC_INLINE void gemmTile(int K, const float *NETC_RESTRICT a, std::ptrdiff_t am,
                          std::ptrdiff_t ak, const float *NETC_RESTRICT b,
                          std::ptrdiff_t bk, float *NETC_RESTRICT c, std::ptrdiff_t cm,
                          bool add, int lastValid) {
  constexpr int V = kVectorFloats;
#if defined(__GNUC__) || defined(__clang__)
  typedef FloatVec vec;
  // Unaligned, aliasing view for loads and stores.
  typedef float uvec __attribute__((vector_size(V * sizeof(float)), aligned(4), may_alias));
  vec acc[MR][NV];
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v)
      acc[m][v] = vec{};
  if (add)
    for (int m = 0; m < MR; ++m) {
      for (int v = 0; v + 1 < NV; ++v)
        acc[m][v] = *reinterpret_cast<const uvec *>(c + m * cm + v * V);
      if (lastValid == V) {
        acc[m][NV - 1] = *reinterpret_cast<const uvec *>(c + m * cm + (NV - 1) * V);
      } else {
        // Lane by lane over all 16 lanes: a loop of run-time length became
        // a memcpy call per row.
        const float *from = c + m * cm + (NV - 1) * V;
        for (int l = 0; l < V; ++l)
          acc[m][NV - 1][l] = l < lastValid ? from[l] : 0.f;
      }
    }
  for (int k = 0; k < K; ++k) {
    vec bv[NV];
    for (int v = 0; v < NV; ++v)
      bv[v] = *reinterpret_cast<const uvec *>(b + k * bk + v * V);
    for (int m = 0; m < MR; ++m) {
      const float av = a[m * am + k * ak];
      for (int v = 0; v < NV; ++v)
        acc[m][v] += av * bv[v];
    }
  }
  for (int m = 0; m < MR; ++m) {
    for (int v = 0; v + 1 < NV; ++v)
      *reinterpret_cast<uvec *>(c + m * cm + v * V) = acc[m][v];
    if (lastValid == V) {
      *reinterpret_cast<uvec *>(c + m * cm + (NV - 1) * V) = acc[m][NV - 1];
    } else {
      float *to = c + m * cm + (NV - 1) * V;
      for (int l = 0; l < V; ++l)
        if (l < lastValid)
          to[l] = acc[m][NV - 1][l];
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

/// Runs the MR-row tiles of columns [j, j + width), width <= NV*16.
template <int MR>
NETC_INLINE void gemmColumnTile(int K, const float *a, std::ptrdiff_t am, std::ptrdiff_t ak,
                                const float *b, std::ptrdiff_t bk, float *c,
                                std::ptrdiff_t cm, bool add, int width) {
  const int nv = (width + kVectorFloats - 1) / kVectorFloats;
  const int last = width - (nv - 1) * kVectorFloats;
  static_assert(kGemmNV == 4, "dispatch below covers NV = 1..4");
  switch (nv) {
  case 4:
    gemmTile<MR, 4>(K, a, am, ak, b, bk, c, cm, add, last);
    break;
  case 3:
    gemmTile<MR, 3>(K, a, am, ak, b, bk, c, cm, add, last);
    break;
  case 2:
    gemmTile<MR, 2>(K, a, am, ak, b, bk, c, cm, add, last);
    break;
  default:
    gemmTile<MR, 1>(K, a, am, ak, b, bk, c, cm, add, last);
    break;
  }
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
