//===- Pool.h - max, average and global average pooling ---------*- C++ -*-===//
//
// Windows KHxKW at stride SHxSW, padding top PT / left PL (bottom and right
// implied by OH/OW). Padding never takes part:
//   max_pool2d: the max over the in-range pixels of the window;
//   avg_pool2d: the sum over in-range pixels divided by their count (Keras'
//     'same' average pooling, not Caffe's count-the-padding);
// max_pool2d_grad recomputes each window's argmax from x (the first maximum
// in row-major window order wins, as in the forward) instead of storing
// indices, and routes dy there; dx is zeroed first, so it is overwritten.
// Every (sample, channel) plane is independent: split over planes, so each
// dx plane is written by one thread in a fixed order.
// global_avg_pool: y[i,c] = mean over S = H*W; its gradient spreads dy/S.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_POOL_H
#define NETC_KERNELS_POOL_H

#include "net/Kernels/Common.h"

#include <limits>

namespace netc::kernels {

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void max_pool2d(int n, const float *NETC_RESTRICT x, float *NETC_RESTRICT y) {
  const int planes = n * C;
  const bool parallel = std::int64_t(planes) * OH * OW * KH * KW > detail::kParallelThreshold;
  detail::parallelFor(int(planes), parallel, [&](int p) {
    const float *xp = x + std::size_t(p) * H * W;
    float *yp = y + std::size_t(p) * OH * OW;
    for (int oh = 0; oh < OH; ++oh) {
      const int h0 = detail::max(0, oh * SH - PT), h1 = detail::min(H, oh * SH - PT + KH);
      for (int ow = 0; ow < OW; ++ow) {
        const int w0 = detail::max(0, ow * SW - PL), w1 = detail::min(W, ow * SW - PL + KW);
        float m = -std::numeric_limits<float>::infinity();
        for (int ih = h0; ih < h1; ++ih)
          for (int iw = w0; iw < w1; ++iw)
            m = xp[ih * W + iw] > m ? xp[ih * W + iw] : m;
        yp[oh * OW + ow] = (h0 < h1 && w0 < w1) ? m : 0.f;
      }
    }
  });
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void max_pool2d_grad(int n, const float *NETC_RESTRICT dy, const float *NETC_RESTRICT x,
                     float *NETC_RESTRICT dx) {
  const int planes = n * C;
  const bool parallel = std::int64_t(planes) * OH * OW * KH * KW > detail::kParallelThreshold;
  detail::parallelFor(int(planes), parallel, [&](int p) {
    const float *xp = x + std::size_t(p) * H * W;
    const float *dyp = dy + std::size_t(p) * OH * OW;
    float *dxp = dx + std::size_t(p) * H * W;
    for (int k = 0; k < H * W; ++k)
      dxp[k] = 0.f;
    for (int oh = 0; oh < OH; ++oh) {
      const int h0 = detail::max(0, oh * SH - PT), h1 = detail::min(H, oh * SH - PT + KH);
      for (int ow = 0; ow < OW; ++ow) {
        const int w0 = detail::max(0, ow * SW - PL), w1 = detail::min(W, ow * SW - PL + KW);
        int best = -1;
        for (int ih = h0; ih < h1; ++ih)
          for (int iw = w0; iw < w1; ++iw)
            if (best < 0 || xp[ih * W + iw] > xp[best])
              best = ih * W + iw;
        if (best >= 0)
          dxp[best] += dyp[oh * OW + ow];
      }
    }
  });
}

namespace detail {
/// Whether every window lies inside the plane (no padding on any side: the
/// bottom and right ones are implied by OH and OW) and no two windows share
/// a pixel: each window then averages KH*KW pixels and each pixel belongs to
/// at most one window.
template <int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
constexpr bool avgPoolWindowsApart() {
  return PT == 0 && PL == 0 && (OH - 1) * SH + KH <= H && (OW - 1) * SW + KW <= W &&
         SH >= KH && SW >= KW;
}

/// yp [OH,OW] = the average pooling of one plane xp [H,W].
template <int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
NETC_INLINE void avgPoolPlane(const float *NETC_RESTRICT xp, float *NETC_RESTRICT yp) {
  if constexpr (avgPoolWindowsApart<H, W, KH, KW, SH, SW, PT, PL, OH, OW>()) {
    // Vectorised across a row of windows; each window still sums its pixels
    // in row-major order from 0, as the general loop below does.
    for (int oh = 0; oh < OH; ++oh) {
      const float *rows = xp + oh * SH * W;
#pragma omp simd
      for (int ow = 0; ow < OW; ++ow) {
        float s = 0.f;
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw)
            s += rows[kh * W + ow * SW + kw];
        yp[oh * OW + ow] = s / float(KH * KW);
      }
    }
  } else {
    for (int oh = 0; oh < OH; ++oh) {
      const int h0 = max(0, oh * SH - PT), h1 = min(H, oh * SH - PT + KH);
      for (int ow = 0; ow < OW; ++ow) {
        const int w0 = max(0, ow * SW - PL), w1 = min(W, ow * SW - PL + KW);
        float s = 0.f;
        for (int ih = h0; ih < h1; ++ih)
          for (int iw = w0; iw < w1; ++iw)
            s += xp[ih * W + iw];
        const int count = (h1 - h0) * (w1 - w0);
        yp[oh * OW + ow] = count > 0 ? s / float(count) : 0.f;
      }
    }
  }
}
} // namespace detail

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void avg_pool2d(int n, const float *NETC_RESTRICT x, float *NETC_RESTRICT y) {
  const int planes = n * C;
  const bool parallel = std::int64_t(planes) * OH * OW * KH * KW > detail::kParallelThreshold;
  detail::parallelFor(int(planes), parallel, [&](int p) {
    detail::avgPoolPlane<H, W, KH, KW, SH, SW, PT, PL, OH, OW>(
        x + std::size_t(p) * H * W, y + std::size_t(p) * OH * OW);
  });
}

namespace detail {
/// The identity: avgPoolGradPlane's default for what it does to each pixel.
struct KeepPixel {
  NETC_INLINE float operator()(float g, int) const { return g; }
};

/// dx plane [H,W] (overwritten) = pixel(the gradient of one average-pooled
/// plane at k, k): each window's dy spread evenly over its in-range pixels.
/// `pixel` lets a fused backward apply act' in the same pass.
template <int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW,
          class Pixel = KeepPixel>
NETC_INLINE void avgPoolGradPlane(const float *NETC_RESTRICT dyp, float *NETC_RESTRICT dxp,
                                  Pixel pixel = {}) {
  if constexpr (avgPoolWindowsApart<H, W, KH, KW, SH, SW, PT, PL, OH, OW>()) {
    // Each pixel reads its one window's share, or 0 outside every window: a
    // vector loop of stores, where the scatter below adds one pixel at a time
    // (and its scalar stores stall the vector loads that read the plane next).
    for (int ih = 0; ih < H; ++ih) {
      const int oh = ih / SH;
      float *row = dxp + ih * W;
      if (oh >= OH || ih - oh * SH >= KH) {
#pragma omp simd
        for (int iw = 0; iw < W; ++iw)
          row[iw] = pixel(0.f, ih * W + iw);
        continue;
      }
      const float *windows = dyp + oh * OW;
#pragma omp simd
      for (int iw = 0; iw < W; ++iw) {
        const int ow = iw / SW;
        const bool inside = ow < OW && iw - ow * SW < KW;
        const float share = windows[inside ? ow : 0] / float(KH * KW);
        row[iw] = pixel(inside ? share : 0.f, ih * W + iw);
      }
    }
    return;
  }
  for (int k = 0; k < H * W; ++k)
    dxp[k] = 0.f;
  for (int oh = 0; oh < OH; ++oh) {
    const int h0 = max(0, oh * SH - PT), h1 = min(H, oh * SH - PT + KH);
    for (int ow = 0; ow < OW; ++ow) {
      const int w0 = max(0, ow * SW - PL), w1 = min(W, ow * SW - PL + KW);
      const int count = (h1 - h0) * (w1 - w0);
      if (count <= 0)
        continue;
      const float g = dyp[oh * OW + ow] / float(count);
      for (int ih = h0; ih < h1; ++ih)
        for (int iw = w0; iw < w1; ++iw)
          dxp[ih * W + iw] += g;
    }
  }
#pragma omp simd
  for (int k = 0; k < H * W; ++k)
    dxp[k] = pixel(dxp[k], k);
}
} // namespace detail

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void avg_pool2d_grad(int n, const float *NETC_RESTRICT dy, float *NETC_RESTRICT dx) {
  const int planes = n * C;
  const bool parallel = std::int64_t(planes) * OH * OW * KH * KW > detail::kParallelThreshold;
  detail::parallelFor(int(planes), parallel, [&](int p) {
    detail::avgPoolGradPlane<H, W, KH, KW, SH, SW, PT, PL, OH, OW>(
        dy + std::size_t(p) * OH * OW, dx + std::size_t(p) * H * W);
  });
}

template <int C, int S>
void global_avg_pool(int n, const float *NETC_RESTRICT x,
                     float *NETC_RESTRICT y) {
  const int planes = n * C;
  const bool parallel = std::int64_t(planes) * S > detail::kParallelThreshold;
  detail::parallelFor(int(planes), parallel, [&](int p) {
    const float *xp = x + std::size_t(p) * S;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < S; ++k)
      s += xp[k];
    y[p] = s / float(S);
  });
}

template <int C, int S>
void global_avg_pool_grad(int n, const float *NETC_RESTRICT dy,
                          float *NETC_RESTRICT dx) {
  const int planes = n * C;
  const bool parallel = std::int64_t(planes) * S > detail::kParallelThreshold;
  detail::parallelFor(int(planes), parallel, [&](int p) {
    const float g = dy[p] / float(S);
    float *dxp = dx + std::size_t(p) * S;
#pragma omp simd
    for (int k = 0; k < S; ++k)
      dxp[k] = g;
  });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_POOL_H
