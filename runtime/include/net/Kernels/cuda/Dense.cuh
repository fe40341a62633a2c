//===- Dense.cuh - dense layers on one tiled SGEMM ---------------*- CUDA -*-===//
//
// Every product of the dense layers is one generated GEMM, C[R][N] =
// sum_k A(r, k) * B(k, c), with the operands' layouts as template flags:
//   dense             y  = x  . w^T   (R = n, N = M, over K)
//   dense_grad_input  dx = dy . w     (R = n, N = K, over M)
//   dense_grad_weight dw = dy^T . x   (R = M, N = K, over n)
// A 16 x 16 thread block computes a 16 x 16 tile of C, staging 16-wide
// slices of A and B in shared memory; each thread sums its element in
// increasing k, so results do not depend on the launch. A simple kernel by
// design: the baseline a register-blocked or cuBLAS version is measured
// against on a GPU (docs/cuda.md).
// The fused dense layer adds bias and activation in the GEMM's epilogue;
// its backward builds dz = dy * act'(y) (dy itself without an activation),
// then the two products and bias_grad.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_DENSE_CUH
#define NETC_KERNELS_CUDA_DENSE_CUH

#include "net/Kernels/Codes.h"
#include "net/Kernels/cuda/Common.cuh"
#include "net/Kernels/cuda/Elementwise.cuh"

namespace netc::cuda {
namespace detail {

constexpr int kTile = 16;

/// act(v) and g * act'(a) with the activation codes of Fused.h (0 none,
/// 1 relu, 2 sigmoid, 3 tanh), in the CPU's float formulas.
template <int ACT> __device__ inline float act(float v) {
  if constexpr (ACT == kActRelu)
    return v > 0.f ? v : 0.f;
  else if constexpr (ACT == kActSigmoid)
    return 1.f / (1.f + expf(-v));
  else if constexpr (ACT == kActTanh)
    return tanhf(v);
  else
    return v;
}
template <int ACT> __device__ inline float actGrad(float g, float a) {
  if constexpr (ACT == kActRelu)
    return a > 0.f ? g : 0.f;
  else if constexpr (ACT == kActSigmoid)
    return g * a * (1.f - a);
  else if constexpr (ACT == kActTanh)
    return g * (1.f - a * a);
  else
    return g;
}

/// C[r][c] = act(sum_k A(r,k) B(k,c) + bias[c]); A(r,k) = a[r*KA + k], or
/// a[k*RA + r] when TA; B(k,c) = b[c*KB + k] when TB, else b[k*NB + c]. The
/// leading extents are arguments (one of them is the batch).
template <bool TA, bool TB, int ACT, bool BIAS>
__global__ void gemm(int R, int N, int K, const float *__restrict__ a, int lda,
                     const float *__restrict__ b, int ldb, const float *__restrict__ bias,
                     float *__restrict__ c) {
  __shared__ float as[kTile][kTile + 1], bs[kTile][kTile + 1];
  const int tr = threadIdx.y, tc = threadIdx.x;
  const int r = blockIdx.y * kTile + tr, col = blockIdx.x * kTile + tc;
  float sum = 0.f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    // Thread (tr, tc) loads A(blockRow + tr, k0 + tc) and B(k0 + tr, blockCol + tc).
    const int ar = blockIdx.y * kTile + tr, ak = k0 + tc;
    as[tr][tc] = ar < R && ak < K ? (TA ? a[std::size_t(ak) * lda + ar] : a[std::size_t(ar) * lda + ak])
                                  : 0.f;
    const int bk = k0 + tr, bc = blockIdx.x * kTile + tc;
    bs[tr][tc] = bk < K && bc < N ? (TB ? b[std::size_t(bc) * ldb + bk] : b[std::size_t(bk) * ldb + bc])
                                  : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTile; ++k)
      sum += as[tr][k] * bs[k][tc];
    __syncthreads();
  }
  if (r < R && col < N)
    c[std::size_t(r) * N + col] = act<ACT>(BIAS ? sum + bias[col] : sum);
}

template <bool TA, bool TB, int ACT, bool BIAS>
void launchGemm(int R, int N, int K, const float *a, int lda, const float *b, int ldb,
                const float *bias, float *c) {
  if (R <= 0 || N <= 0)
    return;
  const dim3 block(kTile, kTile), grid((N + kTile - 1) / kTile, (R + kTile - 1) / kTile);
  gemm<TA, TB, ACT, BIAS><<<grid, block>>>(R, N, K, a, lda, b, ldb, bias, c);
  NETC_CUDA_CHECK_LAUNCH("gemm");
}

template <int ACT>
__global__ void denseActGrad(std::int64_t total, const float *__restrict__ dy,
                             const float *__restrict__ y, float *__restrict__ dz) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x)
    dz[o] = actGrad<ACT>(dy[o], y[o]);
}

} // namespace detail

/// y[n][M] = x[n][K] . w[M][K]^T
template <int K, int M> void dense(int n, const float *x, const float *w, float *y) {
  static_assert(K > 0 && M > 0, "dense: empty extents");
  detail::launchGemm<false, true, 0, false>(n, M, K, x, K, w, K, nullptr, y);
}

/// dx[n][K] = dy[n][M] . w[M][K]
template <int K, int M> void dense_grad_input(int n, const float *dy, const float *w, float *dx) {
  detail::launchGemm<false, false, 0, false>(n, K, M, dy, M, w, K, nullptr, dx);
}

/// dw[M][K] = dy[n][M]^T . x[n][K]
template <int K, int M> void dense_grad_weight(int n, const float *dy, const float *x, float *dw) {
  detail::launchGemm<true, false, 0, false>(M, K, n, dy, M, x, K, nullptr, dw);
}

template <int K, int M, int ACT, bool BIAS>
void fused_dense(int n, const float *x, const float *w, const float *b, float *y) {
  static_assert(ACT >= 0 && ACT <= 3, "fused_dense: unknown activation code");
  detail::launchGemm<false, true, ACT, BIAS>(n, M, K, x, K, w, K, b, y);
}

/// As the CPU's: dz in scratch (dy itself when ACT 0), dw, db, dx (dx and db
/// may be null).
template <int K, int M, int ACT, bool BIAS>
void fused_dense_grad(int n, const float *dy, const float *x, const float *w, const float *y,
                      float *scratch, float *dx, float *dw, float *db) {
  const float *dz = dy;
  if constexpr (ACT != kActNone) {
    const std::int64_t total = std::int64_t(n) * M;
    detail::denseActGrad<ACT><<<detail::blocksFor(total), detail::kThreads>>>(total, dy, y,
                                                                             scratch);
    NETC_CUDA_CHECK_LAUNCH("fused_dense_grad (activation)");
    dz = scratch;
  }
  dense_grad_weight<K, M>(n, dz, x, dw);
  if constexpr (BIAS)
    if (db)
      bias_grad<M, 1>(n, dz, db);
  if (dx)
    dense_grad_input<K, M>(n, dz, w, dx);
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_DENSE_CUH
