//===- Fused.h - conv/dense + bias + activation (+ pooling), fused -*- C++ -*-===//
//
// The kernels the graph-fusion pass emits for conv2d -> bias -> activation ->
// pooling and dense -> bias -> activation. ACT: 0 none, 1 relu, 2 sigmoid,
// 3 tanh; POOL: 0 none, 1 max, 2 average (divided by the in-range count, as
// Pool.h); BIAS: whether b is read (b may be null when false).
//
// fused_conv2d: parallel over blocks of samples (schedule(static)); each
// block's conv output z is computed by the public conv2d kernel (called from
// inside the region, so its own region is serialised; when the batch loop is
// serial, n = 1, it may open one) into a per-thread stack buffer of at most
// kFusedStackFloats floats, then bias, activation and pooling run from that
// L2-resident buffer into y, so neither z nor the activation a reaches memory.
// A block is as many samples as fit the buffer (and no more than n/threads);
// when one sample's F*OH*OW does not fit, a block is one sample and blocks of
// output channels. POOL 0: y itself is the buffer, and the block is the
// whole batch: one conv2d call (its own parallel split) into y, with bias
// and activation its epilogue (applied per tile while in L1 on the rows and
// output-channel paths; a pass of its own read and rewrote mnist_cnn
// conv1's 11 MB at batch 128). Blocks of a sample each repacked
// every weight per block (ResNet50 stage 4's 3x3, 9.4 MB of weights: 0.78x
// the unfused chain at batch 16) and called conv2d inside the blocks' region
// (mnist_cnn conv1: 0.65x its unfused chain at batch 128, 1.68x as one call).
// conv2d computes each sample the same way whatever n, so y and saved do not
// depend on the blocking or the thread count (tested).
// `saved` (null = inference) receives what the backward needs:
//   POOL 1: the argmax of each window as the flat index oh*OW+ow in the
//           channel plane (first maximum of a wins, padding never wins, -1
//           for a window with no in-range pixel), [n,F,POH,POW];
//   POOL 0/2 with ACT != 0: the activation a, [n,F,OH,OW];
//   POOL 0/2 with ACT == 0: nothing.
// fused_conv2d_grad: dz [n,F,OH,OW] is built in `scratch` (parallel over
// (sample, channel) planes: each plane by one thread in a fixed order), then
// the deterministic conv2d_grad_weight / bias_grad / conv2d_grad_input of
// Conv.h and Elementwise.h run on it, so dw and db do not depend on the thread
// count. With POOL 0 and ACT 0, dz = dy and scratch is not touched. `y` is
// read only for POOL 1 with ACT != 0 (a at the argmax is the pooled output).
// A first layer (dx null) whose grad_weight takes the rows path
// (fusedGradBuildsDzInRows) builds each dz plane inside that path's own
// buffers and sums db there: dz never reaches scratch (2-2.5x on the MNIST
// models' first-layer backward at batch 128).
// fused_dense: dense() of Dense.h into y, then bias + activation in place
// (y is [n,M]: tiny next to the product). fused_dense_grad: dz = dy * act'(y)
// in scratch (dy itself when ACT 0), then dense_grad_weight / bias_grad /
// dense_grad_input.
// Every output is overwritten. No allocation: the forward's stack buffer
// (160 KiB) plus the conv kernel's own (Conv.h) stay well under a worker
// stack (libgomp: the pthread default, 8 MiB here; mind a small OMP_STACKSIZE);
// the backward keeps one OH*OW plane on the stack for overlapping max
// windows with an activation, and, building dz in the rows path, one more
// beside that path's own buffers (at most 160 KiB).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_FUSED_H
#define NETC_KERNELS_FUSED_H

#include "net/Kernels/Codes.h"
#include "net/Kernels/Common.h"
#include "net/Kernels/Conv.h"
#include "net/Kernels/Dense.h"
#include "net/Kernels/Elementwise.h"
#include "net/Kernels/Pool.h"

#include <cmath>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace netc::kernels {
namespace detail {

/// Per-thread stack floats of fused_conv2d's conv-output buffer (160 KiB):
/// mnist_cnn conv2 (64 x 24 x 24 = 36,864) fits in one block.
constexpr int kFusedStackFloats = 40960;

/// fused_conv2d's buffer of SB samples x FB channels x P floats: when a
/// sample's output (F planes of P) fits, a block of samples per conv2d call
/// (its per-call set-up amortised); otherwise one sample and blocks of FB
/// channels (FT: the last, smaller).
template <int F, int P> struct FusedConvPlan {
  static constexpr bool whole = F * P <= kFusedStackFloats;
  static constexpr int FB = whole ? F : max(1, kFusedStackFloats / P);
  static constexpr int SB = whole ? max(1, kFusedStackFloats / (F * P)) : 1;
  static constexpr int FT = F % FB;
  static constexpr int bufferFloats = SB * FB * P;
};

/// act(v), as Activation.h computes it.
template <int ACT> NETC_INLINE float fusedAct(float v) {
  if constexpr (ACT == kActRelu)
    return v > 0.f ? v : 0.f;
  else if constexpr (ACT == kActSigmoid)
    return 1.f / (1.f + std::exp(-v));
  else if constexpr (ACT == kActTanh)
    return std::tanh(v);
  else
    return v;
}

/// g * act'(in terms of the output a), as the _grad kernels of Activation.h.
template <int ACT> NETC_INLINE float fusedActGrad(float g, float a) {
  if constexpr (ACT == kActRelu)
    return a > 0.f ? g : 0.f;
  else if constexpr (ACT == kActSigmoid)
    return g * a * (1.f - a);
  else if constexpr (ACT == kActTanh)
    return g * (1.f - a * a);
  else
    return g;
}

/// a[k] = act(z[k] + b[channel]) over a run of one channel's values, in
/// place: the convolutions' epilogue (conv2d) in fused_conv2d without
/// pooling, and over each plane of the pooled blocks.
template <int ACT, bool BIAS> struct FusedBiasActEpilogue {
  const float *bias;
  /// The identity and ReLU as vector operations (the same per lane as
  /// fusedAct); sigmoid and tanh over the stored run.
  static constexpr bool kOnVectors = ACT == kActNone || ACT == kActRelu;
  template <class Vec> NETC_INLINE Vec onVector(int channel, Vec v) const {
    if constexpr (BIAS)
      v += bias[channel];
    if constexpr (ACT == kActRelu)
      v = v > 0.f ? v : 0.f;
    return v;
  }
  NETC_INLINE void operator()(int channel, float *NETC_RESTRICT z, int count) const {
    const float add = BIAS ? bias[channel] : 0.f;
    if constexpr (ACT == kActNone || ACT == kActRelu) {
#pragma omp simd
      for (int k = 0; k < count; ++k)
        z[k] = fusedAct<ACT>(BIAS ? z[k] + add : z[k]);
    } else {
      for (int k = 0; k < count; ++k)
        z[k] = fusedAct<ACT>(BIAS ? z[k] + add : z[k]);
    }
  }
};

/// Pools one activation plane a [OH,OW] into yp [POH,POW]; for max pooling
/// the argmax (flat index in the plane, -1 for an empty window) goes to ip
/// when ip is not null. The max is branch-free (selects): on real data the
/// comparisons are unpredictable, and a mispredicted branch per tap cost more
/// than the pooling itself.
template <int OH, int OW, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW>
NETC_INLINE void fusedPoolPlane(const float *NETC_RESTRICT a, float *NETC_RESTRICT yp,
                                float *NETC_RESTRICT ip) {
  if constexpr (POOL == kPoolAvg) {
    avgPoolPlane<OH, OW, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(a, yp);
  } else {
    for (int oh = 0; oh < POH; ++oh) {
      const int h0 = max(0, oh * PSH - PPT), h1 = min(OH, oh * PSH - PPT + PKH);
      for (int ow = 0; ow < POW; ++ow) {
        const int w0 = max(0, ow * PSW - PPL), w1 = min(OW, ow * PSW - PPL + PKW);
        int best = -1;
        float m = 0.f; // 0 for a window of padding only, as Pool.h
        if (h1 - h0 == PKH && w1 - w0 == PKW) {
          // A whole window: compile-time taps.
          const float *base = a + h0 * OW + w0;
          m = base[0];
          best = h0 * OW + w0;
          for (int kh = 0; kh < PKH; ++kh)
            for (int kw = 0; kw < PKW; ++kw) {
              const float v = base[kh * OW + kw];
              const bool gt = v > m; // first maximum wins
              m = gt ? v : m;
              best = gt ? (h0 + kh) * OW + w0 + kw : best;
            }
        } else if (h0 < h1 && w0 < w1) {
          m = a[h0 * OW + w0];
          best = h0 * OW + w0;
          for (int ih = h0; ih < h1; ++ih)
            for (int iw = w0; iw < w1; ++iw) {
              const float v = a[ih * OW + iw];
              const bool gt = v > m;
              m = gt ? v : m;
              best = gt ? ih * OW + iw : best;
            }
        }
        yp[oh * POW + ow] = m;
        if (ip)
          ip[oh * POW + ow] = float(best);
      }
    }
  }
}

/// dz of one (sample, channel) plane, P = OH*OW contiguous floats, from the
/// plane's dy (PO floats), what the forward saved for it (sp: argmax or a)
/// and its pooled output yp (read for max pooling with an activation).
template <int OH, int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT,
          int PPL, int POH, int POW>
NETC_INLINE void fusedDzPlane(const float *NETC_RESTRICT dyp, const float *NETC_RESTRICT sp,
                              const float *NETC_RESTRICT yp, float *NETC_RESTRICT dzp) {
  constexpr int P = OH * OW;
  constexpr int PO = POOL ? POH * POW : P;
  // Overlapping max windows can route several dy to one pixel: sum them
  // first, then apply act' once (as the unfused chain).
  constexpr bool OVERLAP = PSH < PKH || PSW < PKW;
  if constexpr (POOL == kPoolNone) {
    const float *ap = sp;
#pragma omp simd
    for (int k = 0; k < P; ++k)
      dzp[k] = fusedActGrad<ACT>(dyp[k], ap[k]);
  } else if constexpr (POOL == kPoolMax) {
    const float *ip = sp;
    for (int k = 0; k < P; ++k)
      dzp[k] = 0.f;
    if constexpr (!OVERLAP || ACT == kActNone) {
      // Each pixel is the argmax of at most one window (or no act').
      for (int j = 0; j < PO; ++j) {
        const int idx = int(ip[j]);
        if (idx < 0)
          continue;
        if constexpr (OVERLAP)
          dzp[idx] += dyp[j];
        else
          dzp[idx] = fusedActGrad<ACT>(dyp[j], ACT ? yp[j] : 0.f);
      }
    } else {
      // Sum, then scale each routed pixel once by act'(a), a being the
      // pooled output of any window that routes there (all equal).
      static_assert(P <= kFusedStackFloats,
                    "one conv output plane exceeds the fused kernel's stack buffer");
      alignas(64) float ap[P];
      for (int k = 0; k < P; ++k)
        ap[k] = 0.f; // act'(0) is finite: 0 * act'(0) = 0 where nothing routes
      for (int j = 0; j < PO; ++j) {
        const int idx = int(ip[j]);
        if (idx < 0)
          continue;
        dzp[idx] += dyp[j];
        ap[idx] = yp[j];
      }
#pragma omp simd
      for (int k = 0; k < P; ++k)
        dzp[k] = fusedActGrad<ACT>(dzp[k], ap[k]);
    }
  } else {
    if constexpr (ACT == kActNone)
      avgPoolGradPlane<OH, OW, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(dyp, dzp);
    else
      avgPoolGradPlane<OH, OW, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(
          dyp, dzp, [sp](float g, int k) { return fusedActGrad<ACT>(g, sp[k]); });
  }
}

/// Whether fused_conv2d_grad builds dz inside the rows path's grad_weight
/// when it is given no dx (a first layer): then dz never reaches `scratch`.
template <int C, int F, int KH, int KW, int SH, int SW, int OH, int OW, int ACT, int POOL>
constexpr bool fusedGradBuildsDzInRows() {
  return (POOL != kPoolNone || ACT != kActNone) &&
         ConvUseRows<C, F, KH, KW, SH, SW, OH, OW>::gradWeight;
}

} // namespace detail

/// Forward of conv2d + bias + activation + pooling (see the file comment).
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW, bool BIAS>
void fused_conv2d(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                  const float *NETC_RESTRICT b, float *NETC_RESTRICT y,
                  float *NETC_RESTRICT saved) {
  static_assert(ACT >= 0 && ACT <= 3, "ACT: 0 none, 1 relu, 2 sigmoid, 3 tanh");
  static_assert(POOL >= 0 && POOL <= 2, "POOL: 0 none, 1 max, 2 average");
  static_assert(POOL != kPoolMax || OH * OW < (1 << 24), "argmax indices must be exact in float");
  constexpr int P = OH * OW;
  constexpr int PO = POOL ? POH * POW : P;
  constexpr int CKK = C * KH * KW;
  // Saved floats per channel plane: argmax (max pool) or a (activation).
  constexpr int SP = POOL == kPoolMax ? POH * POW : (ACT != kActNone ? P : 0);
  if (SP == 0)
    saved = nullptr;
  static_assert(POOL == kPoolNone || P <= detail::kFusedStackFloats,
                "one conv output plane exceeds the fused kernel's stack buffer");
  if constexpr (POOL == kPoolNone) {
    // y is the buffer: the whole batch in one conv2d call (see the file
    // comment), bias + activation its epilogue.
    if constexpr (ACT != kActNone || BIAS)
      conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(
          n, x, w, y, detail::FusedBiasActEpilogue<ACT, BIAS>{b});
    else
      conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
    // The activation for the backward, where asked (the compiler passes y
    // itself to the backward instead).
    if (saved) {
      const bool planesInParallel = std::int64_t(n) * F * P > detail::kParallelThreshold &&
                                    detail::convInParallel(n, F, P, CKK);
      detail::parallelFor(int(n * F), planesInParallel, [&](int k) {
        detail::copyFloats(saved + std::size_t(k) * P, y + std::size_t(k) * P, P);
      });
    }
  } else {
    const bool par = n > 1 && detail::convInParallel(n, F, P, CKK);
    using Plan = detail::FusedConvPlan<F, P>;
    constexpr bool WHOLE = Plan::whole;
    constexpr int FB = Plan::FB, SB = Plan::SB, FT = Plan::FT;
    const int threads = detail::threadsToSplitOver(par);
    // Samples per block: at most SB, and the same number of blocks for every
    // thread (each thread's share cut into equal blocks), so no thread idles
    // while another finishes a long tail (32 samples in blocks of 13 would
    // give one thread 26 and the other 6).
    const int share = (n + threads - 1) / threads;
    const int perThread = (share + SB - 1) / SB;
    const int nb = detail::max(1, (share + perThread - 1) / perThread);
    const int blocks = (n + nb - 1) / nb;
    // Winograd's path (ConvWinograd.h) where conv2d would take it for the
    // whole batch: the weights transformed once, not per block.
    using Winograd = detail::ConvUseWinograd<C, F, KH, KW, SH, SW, OH, OW, H, W>;
    constexpr bool WINOGRAD = WHOLE && Winograd::forward;
    const bool winograd = WINOGRAD && Winograd::forwardFor(n);
    alignas(64) float u[WINOGRAD ? detail::kWinogradPoints * F * C : 1];
    if constexpr (WINOGRAD)
      if (winograd)
        detail::winogradWeights<C, F>(w, u);
    auto block = [&](int blk) {
      const int i0 = blk * nb, cnt = detail::min(nb, n - i0);
      const float *xb = x + std::size_t(i0) * C * H * W;
      // (Spelled from the template parameters: GCC 12 fails on a captured
      // constexpr in an array bound.)
      alignas(64) float buf[detail::FusedConvPlan<F, OH * OW>::bufferFloats];
      for (int f0 = 0; f0 < F; f0 += FB) {
        const int nf = detail::min(FB, F - f0);
        if constexpr (WINOGRAD) {
          if (winograd)
            detail::conv2dWinogradTransformed<C, H, W, F, PT, PL, OH, OW>(cnt, xb, u, buf);
          else
            conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(cnt, xb, w, buf);
        } else if constexpr (WHOLE)
          conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(cnt, xb, w, buf);
        else if (nf == FB)
          conv2d<C, H, W, FB, KH, KW, SH, SW, PT, PL, OH, OW>(1, xb, w + std::size_t(f0) * CKK,
                                                              buf);
        else if constexpr (FT > 0)
          conv2d<C, H, W, FT, KH, KW, SH, SW, PT, PL, OH, OW>(1, xb, w + std::size_t(f0) * CKK,
                                                              buf);
        for (int s = 0; s < cnt; ++s)
          for (int f = 0; f < nf; ++f) {
            float *a = buf + (std::size_t(s) * nf + f) * P;
            const std::size_t plane = (std::size_t(i0) + s) * F + f0 + f;
            detail::FusedBiasActEpilogue<ACT, BIAS>{b}(f0 + f, a, P);
            float *sp = saved ? saved + plane * SP : nullptr;
            detail::fusedPoolPlane<OH, OW, POOL, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(
                a, y + plane * PO, POOL == kPoolMax ? sp : nullptr);
            if constexpr (POOL == kPoolAvg && ACT != kActNone)
              if (sp) {
#pragma omp simd
                for (int j = 0; j < P; ++j)
                  sp[j] = a[j];
              }
          }
      }
    };
    // A single block runs outside any region, not in an inactive one: a
    // region conv2d opens inside an inactive one would be nested, and libgomp
    // starts new threads for every nested team (at batch 1, once a call).
    detail::parallelFor(blocks, par, block);
  }
}

/// Backward of fused_conv2d (see the file comment). scratch: n*F*OH*OW floats.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW, bool BIAS>
void fused_conv2d_grad(int n, const float *NETC_RESTRICT dy, const float *NETC_RESTRICT x,
                       const float *NETC_RESTRICT w, const float *NETC_RESTRICT y,
                       const float *NETC_RESTRICT saved, float *NETC_RESTRICT scratch,
                       float *NETC_RESTRICT dx, float *NETC_RESTRICT dw,
                       float *NETC_RESTRICT db) {
  static_assert(ACT >= 0 && ACT <= 3, "ACT: 0 none, 1 relu, 2 sigmoid, 3 tanh");
  static_assert(POOL >= 0 && POOL <= 2, "POOL: 0 none, 1 max, 2 average");
  constexpr int P = OH * OW;
  constexpr int PO = POOL ? POH * POW : P;
  constexpr int SP = POOL == kPoolMax ? PO : (ACT != kActNone ? P : 0);
  auto dzPlane = [&](int p, float *NETC_RESTRICT dzp) {
    detail::fusedDzPlane<OH, OW, ACT, POOL, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(
        dy + std::size_t(p) * PO, SP ? saved + std::size_t(p) * SP : nullptr,
        POOL == kPoolMax && ACT != kActNone ? y + std::size_t(p) * PO : nullptr, dzp);
  };
  if constexpr (detail::fusedGradBuildsDzInRows<C, F, KH, KW, SH, SW, OH, OW, ACT, POOL>()) {
    if (!dx) {
      // A first layer: dz feeds only dw and db, so each plane is built where
      // the rows path copies it, in cache (one pass over dy and saved where
      // the act'/pool-gradient pass and bias_grad each went through memory).
      constexpr int OWV = detail::RowWeightPlan<C, KH, KW, SH, OH, OW>::OWV;
      detail::conv2dGradWeightRowsOf<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(
          n,
          [&](int i, int f, float *NETC_RESTRICT rows) {
            alignas(64) float plane[P];
            dzPlane(i * F + f, plane);
            for (int oh = 0; oh < OH; ++oh)
              detail::padRow<OWV, OW, 0>(rows + oh * OWV, plane + oh * OW);
          },
          x, dw, BIAS ? db : nullptr);
      return;
    }
  }
  const float *dz = dy;
  if constexpr (POOL != kPoolNone || ACT != kActNone) {
    const int planes = n * F;
    const bool parallel = std::int64_t(planes) * P > detail::kParallelThreshold;
    detail::parallelFor(int(planes), parallel, [&](int p) {
      dzPlane(p, scratch + std::size_t(p) * P);
    });
    dz = scratch;
  }
  conv2d_grad_weight<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dz, x, dw);
  if constexpr (BIAS)
    bias_grad<F, P>(n, dz, db);
  if (dx)
    conv2d_grad_input<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dz, w, dx);
}

/// y [n,M] = act(x [n,K] * w [M,K]^T + b).
template <int K, int M, int ACT, bool BIAS>
void fused_dense(int n, const float *x, const float *w, const float *b, float *y) {
  static_assert(ACT >= 0 && ACT <= 3, "ACT: 0 none, 1 relu, 2 sigmoid, 3 tanh");
  dense<K, M>(n, x, w, y);
  if constexpr (ACT != kActNone || BIAS) {
    detail::parallelFor(int(n), std::int64_t(n) * M > detail::kParallelThreshold, [&](int i) {
      float *yi = y + std::size_t(i) * M;
      if constexpr (ACT == kActNone || ACT == kActRelu) {
#pragma omp simd
        for (int m = 0; m < M; ++m)
          yi[m] = detail::fusedAct<ACT>(BIAS ? yi[m] + b[m] : yi[m]);
      } else {
        for (int m = 0; m < M; ++m)
          yi[m] = detail::fusedAct<ACT>(BIAS ? yi[m] + b[m] : yi[m]);
      }
    });
  }
}

/// dz = dy * act'(y) (scratch, n*M floats; dy itself when ACT 0); dw = dz^T x;
/// db = sum dz over the batch (BIAS); dx = dz w (when dx is not null).
template <int K, int M, int ACT, bool BIAS>
void fused_dense_grad(int n, const float *dy, const float *x, const float *w, const float *y,
                      float *scratch, float *dx, float *dw, float *db) {
  static_assert(ACT >= 0 && ACT <= 3, "ACT: 0 none, 1 relu, 2 sigmoid, 3 tanh");
  const float *dz = dy;
  if constexpr (ACT != kActNone) {
    const std::int64_t total = std::int64_t(n) * M;
    detail::parallelRanges(total, total > detail::kParallelThreshold * 4,
                            [=](std::int64_t k0, std::int64_t k1) {
#pragma omp simd
      for (std::int64_t k = k0; k < k1; ++k)
        scratch[k] = detail::fusedActGrad<ACT>(dy[k], y[k]);
    });
    dz = scratch;
  }
  dense_grad_weight<K, M>(n, dz, x, dw);
  if constexpr (BIAS)
    bias_grad<M, 1>(n, dz, db);
  if (dx)
    dense_grad_input<K, M>(n, dz, w, dx);
}

} // namespace netc::kernels

#endif // NETC_KERNELS_FUSED_H
