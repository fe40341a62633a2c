//===- FusedReference.h - plain versions of the fused kernels ---*- C++ -*-===//
//
// netc::kernels::reference versions of Fused.h's kernels, with the same
// signatures, written as the unfused chain of the reference kernels of
// Reference.h (conv2d, bias_add, relu/sigmoid/tanh, max/avg_pool2d and their
// gradients) over full-size temporaries. The test oracle; generated code
// never includes this file (it allocates).
//
// The reference backward needs the activation a as the unfused chain keeps
// it: for POOL 0/2 with ACT != 0 it is `saved`; for max pooling it rebuilds
// the planes max_pool2d_grad recomputes the argmax from: the pooled output y
// at each saved argmax and -inf elsewhere (so the saved argmax is the window's
// unique maximum), and the act grad reads y at those pixels (0 elsewhere,
// where nothing is routed).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_FUSEDREFERENCE_H
#define NETC_KERNELS_FUSEDREFERENCE_H

#include "Reference.h"

#include <cstddef>
#include <limits>
#include <vector>

namespace netc::kernels::reference {
namespace fused_detail {

template <int E, int ACT> void act(int n, const float *x, float *y) {
  if constexpr (ACT == 1)
    relu<E>(n, x, y);
  else if constexpr (ACT == 2)
    sigmoid<E>(n, x, y);
  else if constexpr (ACT == 3)
    tanh<E>(n, x, y);
  else
    copy<E>(n, x, y);
}

template <int E, int ACT> void actGrad(int n, const float *dy, const float *y, float *dx) {
  if constexpr (ACT == 1)
    relu_grad<E>(n, dy, y, dx);
  else if constexpr (ACT == 2)
    sigmoid_grad<E>(n, dy, y, dx);
  else if constexpr (ACT == 3)
    tanh_grad<E>(n, dy, y, dx);
  else
    copy<E>(n, dy, dx);
}

} // namespace fused_detail

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW, bool BIAS>
void fused_conv2d(int n, const float *x, const float *w, const float *b, float *y,
                  float *saved) {
  constexpr int P = OH * OW;
  const std::size_t zs = std::size_t(n) * F * P;
  std::vector<float> z(zs), a(zs);
  conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, z.data());
  if constexpr (BIAS)
    bias_add<F, P>(n, z.data(), b, z.data());
  fused_detail::act<F * P, ACT>(n, z.data(), a.data());
  if constexpr (POOL == 0) {
    copy<F * P>(n, a.data(), y);
  } else if constexpr (POOL == 1) {
    max_pool2d<F, OH, OW, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(n, a.data(), y);
  } else {
    avg_pool2d<F, OH, OW, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(n, a.data(), y);
  }
  if (!saved)
    return;
  if constexpr (POOL == 1) {
    // The argmax max_pool2d_grad recomputes (first maximum wins).
    for (int p = 0; p < n * F; ++p)
      for (int oh = 0; oh < POH; ++oh)
        for (int ow = 0; ow < POW; ++ow) {
          int arg = -1;
          for (int kh = 0; kh < PKH; ++kh)
            for (int kw = 0; kw < PKW; ++kw) {
              const int ih = oh * PSH + kh - PPT, iw = ow * PSW + kw - PPL;
              if (ih < 0 || ih >= OH || iw < 0 || iw >= OW)
                continue;
              if (arg < 0 || a[std::size_t(p) * P + ih * OW + iw] > a[std::size_t(p) * P + arg])
                arg = ih * OW + iw;
            }
          saved[(std::size_t(p) * POH + oh) * POW + ow] = float(arg);
        }
  } else if constexpr (ACT != 0) {
    copy<F * P>(n, a.data(), saved);
  }
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW, bool BIAS>
void fused_conv2d_grad(int n, const float *dy, const float *x, const float *w, const float *y,
                       const float *saved, float *scratch, float *dx, float *dw, float *db) {
  constexpr int P = OH * OW;
  const std::size_t zs = std::size_t(n) * F * P;
  std::vector<float> da(zs), dz(zs);
  if constexpr (POOL == 0) {
    copy<F * P>(n, dy, da.data());
    if constexpr (ACT != 0)
      fused_detail::actGrad<F * P, ACT>(n, da.data(), saved, dz.data());
    else
      dz = da;
  } else if constexpr (POOL == 1) {
    constexpr int PO = POH * POW;
    std::vector<float> amax(zs, -std::numeric_limits<float>::infinity()), aact(zs, 0.f);
    for (int p = 0; p < n * F; ++p)
      for (int j = 0; j < PO; ++j) {
        const int idx = int(saved[std::size_t(p) * PO + j]);
        if (idx < 0)
          continue;
        amax[std::size_t(p) * P + idx] = aact[std::size_t(p) * P + idx] = y[std::size_t(p) * PO + j];
      }
    max_pool2d_grad<F, OH, OW, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(n, dy, amax.data(),
                                                                      da.data());
    fused_detail::actGrad<F * P, ACT>(n, da.data(), aact.data(), dz.data());
  } else {
    avg_pool2d_grad<F, OH, OW, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW>(n, dy, da.data());
    if constexpr (ACT != 0)
      fused_detail::actGrad<F * P, ACT>(n, da.data(), saved, dz.data());
    else
      dz = da;
  }
  if (scratch)
    copy<F * P>(n, dz.data(), scratch);
  conv2d_grad_weight<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dz.data(), x, dw);
  if constexpr (BIAS)
    bias_grad<F, P>(n, dz.data(), db);
  if (dx)
    conv2d_grad_input<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dz.data(), w, dx);
}

template <int K, int M, int ACT, bool BIAS>
void fused_dense(int n, const float *x, const float *w, const float *b, float *y) {
  std::vector<float> z(std::size_t(n) * M);
  dense<K, M>(n, x, w, z.data());
  if constexpr (BIAS)
    bias_add<M, 1>(n, z.data(), b, z.data());
  fused_detail::act<M, ACT>(n, z.data(), y);
}

template <int K, int M, int ACT, bool BIAS>
void fused_dense_grad(int n, const float *dy, const float *x, const float *w, const float *y,
                      float *scratch, float *dx, float *dw, float *db) {
  std::vector<float> dz(std::size_t(n) * M);
  fused_detail::actGrad<M, ACT>(n, dy, y, dz.data());
  if (scratch)
    copy<M>(n, dz.data(), scratch);
  dense_grad_weight<K, M>(n, dz.data(), x, dw);
  if constexpr (BIAS)
    bias_grad<M, 1>(n, dz.data(), db);
  if (dx)
    dense_grad_input<K, M>(n, dz.data(), w, dx);
}

} // namespace netc::kernels::reference

#endif // NETC_KERNELS_FUSEDREFERENCE_H
