//===- Loss.h - softmax, cross-entropy, accuracy ----------------*- C++ -*-===//
//
// softmax: rows of K logits, max-subtracted before exp.
// cross_entropy: mean over the n rows of -log(max(p[label], 1e-7)) (Keras
//   clips probabilities at epsilon = 1e-7); summed serially in double, so the
//   loss is independent of the thread count.
// count_correct: rows whose argmax (first index on ties) equals the label.
// softmax_cross_entropy_grad: d(mean loss)/d(logits) = (p - onehot(label))/n,
//   the fused softmax + cross-entropy backward (the clip is ignored there, as
//   Keras' fused path does).
// K is small (the classes), so rows are independent and split over samples.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_LOSS_H
#define NETC_KERNELS_LOSS_H

#include "net/Kernels/Common.h"

#include <cmath>

namespace netc::kernels {

template <int K> void softmax(int n, const float *x, float *y) {
  detail::parallelFor(int(n), std::int64_t(n) * K > detail::kParallelThreshold, [&](int i) {
    const float *xr = x + std::size_t(i) * K;
    float *yr = y + std::size_t(i) * K;
    float mx = xr[0];
    for (int k = 1; k < K; ++k)
      mx = xr[k] > mx ? xr[k] : mx;
    float sum = 0.f;
    for (int k = 0; k < K; ++k) {
      yr[k] = std::exp(xr[k] - mx);
      sum += yr[k];
    }
    const float inv = 1.f / sum;
    for (int k = 0; k < K; ++k)
      yr[k] *= inv;
  });
}

// softmax_grad: dx = y * (dy - sum_k dy_k y_k) per row, through the output y:
//   the backward of a softmax that is not followed by the loss.
template <int K> void softmax_grad(int n, const float *dy, const float *y, float *dx) {
  detail::parallelFor(int(n), std::int64_t(n) * K > detail::kParallelThreshold, [&](int i) {
    const float *dyr = dy + std::size_t(i) * K;
    const float *yr = y + std::size_t(i) * K;
    float *dxr = dx + std::size_t(i) * K;
    float dot = 0.f;
    for (int k = 0; k < K; ++k)
      dot += dyr[k] * yr[k];
    for (int k = 0; k < K; ++k)
      dxr[k] = yr[k] * (dyr[k] - dot);
  });
}

template <int K> float cross_entropy(int n, const float *probs, const std::int32_t *labels) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const float p = probs[std::size_t(i) * K + labels[i]];
    sum -= std::log(double(p > 1e-7f ? p : 1e-7f));
  }
  return n > 0 ? float(sum / n) : 0.f;
}

template <int K> std::int32_t count_correct(int n, const float *probs, const std::int32_t *labels) {
  std::int32_t correct = 0;
  for (int i = 0; i < n; ++i) {
    const float *p = probs + std::size_t(i) * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (p[k] > p[best])
        best = k;
    correct += best == labels[i];
  }
  return correct;
}

template <int K>
void softmax_cross_entropy_grad(int n, const float *probs, const std::int32_t *labels,
                                float *dlogits) {
  const float scale = 1.f / float(n);
  detail::parallelFor(int(n), std::int64_t(n) * K > detail::kParallelThreshold, [&](int i) {
    for (int k = 0; k < K; ++k) {
      const std::size_t o = std::size_t(i) * K + k;
      dlogits[o] = (probs[o] - (k == labels[i] ? 1.f : 0.f)) * scale;
    }
  });
}

} // namespace netc::kernels

#endif // NETC_KERNELS_LOSS_H
