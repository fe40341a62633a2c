//===- ConvGradReference.h - a fused conv layer's gradients in double ------===//
//
// The gradients of conv (stride 1, padding `pad` on every side) + bias +
// relu (+ 2x2/2 pooling), taken from the forward decisions netc's own
// training forward made: the relu mask from its activation and, for max
// pooling, the window's argmax from `saved` (Fused.h's contract). Computed
// on the host in double at chosen elements, so that a layer of 2048 samples
// is checked in a fraction of a second.
//
// Why not cuDNN's gradients: cuDNN's backward starts from cuDNN's forward,
// whose FFT and Winograd algorithms round differently; where two taps of a
// pooling window or an activation near 0 are within that rounding, the two
// forwards route the gradient differently and dx differs by a whole term at
// that pixel. Over a million windows some always do. Against the decisions
// netc made, the only difference left is netc's own rounding.
//
//===----------------------------------------------------------------------===//

#ifndef NETBENCH_CONV_GRAD_REFERENCE_H
#define NETBENCH_CONV_GRAD_REFERENCE_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace netc::bench {

/// One layer's extents and its host buffers: x [n,c,h,w], w [f,c,k,k],
/// dy and y [n,f,yh,yw] (y pooled when pool != 0), saved per Fused.h (max
/// pooling: argmax [n,f,poh,pow]; otherwise the activation [n,f,oh,ow]).
struct ConvGradProblem {
  int n, c, h, w, f, k, pad, oh, ow;
  int pool; // 0 none, 1 max, 2 average; windows 2x2 with stride 2
  int poh, pow;
  const float *x, *weights, *dy, *y, *saved;
};

class ConvGradReference {
public:
  explicit ConvGradReference(const ConvGradProblem &p) : p_(p) {}

  /// dz at conv output (i, f, oh, ow): relu' times the pooling's gradient.
  double dz(std::int64_t i, int f, int oh, int ow) const {
    const ConvGradProblem &p = p_;
    if (p.pool == 0) {
      const std::int64_t o = ((i * p.f + f) * p.oh + oh) * p.ow + ow;
      return p.saved[o] > 0.f ? double(p.dy[o]) : 0.0;
    }
    const int ph = oh / 2, pw = ow / 2;
    if (ph >= p.poh || pw >= p.pow)
      return 0.0; // a row or column no window covers
    const std::int64_t j = ((i * p.f + f) * p.poh + ph) * p.pow + pw;
    if (p.pool == 1) {
      const bool routed = int(p.saved[j]) == oh * p.ow + ow;
      return routed && p.y[j] > 0.f ? double(p.dy[j]) : 0.0;
    }
    const std::int64_t o = ((i * p.f + f) * p.oh + oh) * p.ow + ow;
    return p.saved[o] > 0.f ? double(p.dy[j]) / 4.0 : 0.0;
  }

  /// dw at flat index e of [f,c,k,k].
  double dw(std::int64_t e) const {
    const ConvGradProblem &p = p_;
    const int kw = int(e % p.k), kh = int(e / p.k % p.k), c = int(e / (p.k * p.k) % p.c),
              f = int(e / (std::int64_t(p.c) * p.k * p.k));
    double s = 0;
    for (std::int64_t i = 0; i < p.n; ++i)
      for (int oh = 0; oh < p.oh; ++oh) {
        const int ih = oh + kh - p.pad;
        if (ih < 0 || ih >= p.h)
          continue;
        for (int ow = 0; ow < p.ow; ++ow) {
          const int iw = ow + kw - p.pad;
          if (iw < 0 || iw >= p.w)
            continue;
          s += dz(i, f, oh, ow) * p.x[((i * p.c + c) * p.h + ih) * p.w + iw];
        }
      }
    return s;
  }

  /// db at output channel f.
  double db(int f) const {
    double s = 0;
    for (std::int64_t i = 0; i < p_.n; ++i)
      for (int oh = 0; oh < p_.oh; ++oh)
        for (int ow = 0; ow < p_.ow; ++ow)
          s += dz(i, f, oh, ow);
    return s;
  }

  /// dx at flat index e of [n,c,h,w].
  double dx(std::int64_t e) const {
    const ConvGradProblem &p = p_;
    const int iw = int(e % p.w), ih = int(e / p.w % p.h), c = int(e / (p.w * p.h) % p.c);
    const std::int64_t i = e / (std::int64_t(p.c) * p.h * p.w);
    double s = 0;
    for (int f = 0; f < p.f; ++f)
      for (int kh = 0; kh < p.k; ++kh) {
        const int oh = ih + p.pad - kh;
        if (oh < 0 || oh >= p.oh)
          continue;
        for (int kw = 0; kw < p.k; ++kw) {
          const int ow = iw + p.pad - kw;
          if (ow >= 0 && ow < p.ow)
            s += dz(i, f, oh, ow) * p.weights[((std::int64_t(f) * p.c + c) * p.k + kh) * p.k + kw];
        }
      }
    return s;
  }

private:
  ConvGradProblem p_;
};

/// Agreement of `got` with a reference at some of its elements: the largest
/// |difference| over the largest |reference value| seen.
struct SampledAgreement {
  double maxAbsDiff = 0, maxAbsRef = 0;
  std::int64_t worstIndex = -1, checked = 0;
  double worstGot = 0, worstRef = 0;
  bool finite = true;
  double relative() const {
    return finite ? maxAbsDiff / (maxAbsRef > 1e-30 ? maxAbsRef : 1e-30) : INFINITY;
  }
  bool ok(double tolerance) const { return finite && relative() <= tolerance; }
};

/// Compares got[e] with ref(e) at every element when there are at most
/// `budget` of them, else at `budget` elements drawn with a fixed seed plus
/// the `extra` ones (say, where another implementation disagreed most).
template <class Ref>
SampledAgreement compareSampled(const std::vector<float> &got, Ref ref, std::int64_t budget,
                                const std::vector<std::int64_t> &extra = {}) {
  SampledAgreement g;
  const std::int64_t size = std::int64_t(got.size());
  auto visit = [&](std::int64_t e) {
    if (e < 0 || e >= size)
      return;
    const double r = ref(e), v = got[std::size_t(e)];
    ++g.checked;
    if (!std::isfinite(v) || !std::isfinite(r)) {
      if (g.finite)
        g.worstIndex = e, g.worstGot = v, g.worstRef = r;
      g.finite = false;
      return;
    }
    const double d = std::fabs(v - r);
    if (d > g.maxAbsDiff || g.worstIndex < 0) {
      g.maxAbsDiff = std::max(g.maxAbsDiff, d);
      g.worstIndex = e, g.worstGot = v, g.worstRef = r;
    }
    g.maxAbsRef = std::max(g.maxAbsRef, std::fabs(r));
  };
  if (size <= budget) {
    for (std::int64_t e = 0; e < size; ++e)
      visit(e);
  } else {
    std::mt19937_64 rng(12345);
    std::uniform_int_distribution<std::int64_t> pick(0, size - 1);
    for (std::int64_t s = 0; s < budget; ++s)
      visit(pick(rng));
    for (std::int64_t e : extra)
      visit(e);
  }
  return g;
}

} // namespace netc::bench

#endif // NETBENCH_CONV_GRAD_REFERENCE_H
