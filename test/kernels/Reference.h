//===- Reference.h - plain reference versions of every kernel ---*- C++ -*-===//
//
// netc::kernels::reference holds, for every kernel of the library, a version
// with the same signature written as the textbook formula: serial loops in
// the order of the definition, no tiling, accumulation in double where a sum
// is long. They are the oracle the GoogleTest suite compares the fast kernels
// against (and whose forwards the finite-difference checks differentiate);
// generated code never includes this file.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_REFERENCE_H
#define NETC_KERNELS_REFERENCE_H

#include "net/Kernels/Random.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace netc::kernels::reference {

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void conv2d(int n, const float *x, const float *w, float *y) {
  for (int i = 0; i < n; ++i)
    for (int f = 0; f < F; ++f)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          double s = 0;
          for (int c = 0; c < C; ++c)
            for (int kh = 0; kh < KH; ++kh)
              for (int kw = 0; kw < KW; ++kw) {
                const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue;
                s += double(x[((std::size_t(i) * C + c) * H + ih) * W + iw]) *
                     w[((std::size_t(f) * C + c) * KH + kh) * KW + kw];
              }
          y[((std::size_t(i) * F + f) * OH + oh) * OW + ow] = float(s);
        }
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void conv2d_grad_input(int n, const float *dy, const float *w, float *dx) {
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c)
      for (int ih = 0; ih < H; ++ih)
        for (int iw = 0; iw < W; ++iw) {
          // Every (oh, ow) whose window holds (ih, iw), in increasing order:
          // kh = ih - oh*SH + PT decreases as oh increases.
          double s = 0;
          for (int f = 0; f < F; ++f)
            for (int kh = KH - 1; kh >= 0; --kh)
              for (int kw = KW - 1; kw >= 0; --kw) {
                const int ohS = ih + PT - kh, owS = iw + PL - kw;
                if (ohS < 0 || owS < 0 || ohS % SH != 0 || owS % SW != 0)
                  continue;
                const int oh = ohS / SH, ow = owS / SW;
                if (oh >= OH || ow >= OW)
                  continue;
                s += double(dy[((std::size_t(i) * F + f) * OH + oh) * OW + ow]) *
                     w[((std::size_t(f) * C + c) * KH + kh) * KW + kw];
              }
          dx[((std::size_t(i) * C + c) * H + ih) * W + iw] = float(s);
        }
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void conv2d_grad_weight(int n, const float *dy, const float *x, float *dw) {
  for (int f = 0; f < F; ++f)
    for (int c = 0; c < C; ++c)
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw) {
          double s = 0;
          for (int i = 0; i < n; ++i)
            for (int oh = 0; oh < OH; ++oh)
              for (int ow = 0; ow < OW; ++ow) {
                const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue;
                s += double(dy[((std::size_t(i) * F + f) * OH + oh) * OW + ow]) *
                     x[((std::size_t(i) * C + c) * H + ih) * W + iw];
              }
          dw[((std::size_t(f) * C + c) * KH + kh) * KW + kw] = float(s);
        }
}

template <int C, int S> void bias_add(int n, const float *x, const float *b, float *y) {
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c)
      for (int s = 0; s < S; ++s)
        y[(std::size_t(i) * C + c) * S + s] = x[(std::size_t(i) * C + c) * S + s] + b[c];
}

template <int C, int S> void bias_grad(int n, const float *dy, float *db) {
  for (int c = 0; c < C; ++c) {
    double s = 0;
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < S; ++k)
        s += dy[(std::size_t(i) * C + c) * S + k];
    db[c] = float(s);
  }
}

template <int K, int M> void dense(int n, const float *x, const float *w, float *y) {
  for (int i = 0; i < n; ++i)
    for (int m = 0; m < M; ++m) {
      double s = 0;
      for (int k = 0; k < K; ++k)
        s += double(x[std::size_t(i) * K + k]) * w[std::size_t(m) * K + k];
      y[std::size_t(i) * M + m] = float(s);
    }
}

template <int K, int M> void dense_grad_input(int n, const float *dy, const float *w, float *dx) {
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < K; ++k) {
      double s = 0;
      for (int m = 0; m < M; ++m)
        s += double(dy[std::size_t(i) * M + m]) * w[std::size_t(m) * K + k];
      dx[std::size_t(i) * K + k] = float(s);
    }
}

template <int K, int M> void dense_grad_weight(int n, const float *dy, const float *x, float *dw) {
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) {
      double s = 0;
      for (int i = 0; i < n; ++i)
        s += double(dy[std::size_t(i) * M + m]) * x[std::size_t(i) * K + k];
      dw[std::size_t(m) * K + k] = float(s);
    }
}

template <int E> void relu(int n, const float *x, float *y) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    y[k] = x[k] > 0 ? x[k] : 0.f;
}
template <int E> void relu_grad(int n, const float *dy, const float *y, float *dx) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    dx[k] = y[k] > 0 ? dy[k] : 0.f;
}
template <int E> void sigmoid(int n, const float *x, float *y) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    y[k] = float(1.0 / (1.0 + std::exp(-double(x[k]))));
}
template <int E> void sigmoid_grad(int n, const float *dy, const float *y, float *dx) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    dx[k] = dy[k] * y[k] * (1.f - y[k]);
}
template <int E> void tanh(int n, const float *x, float *y) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    y[k] = float(std::tanh(double(x[k])));
}
template <int E> void tanh_grad(int n, const float *dy, const float *y, float *dx) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    dx[k] = dy[k] * (1.f - y[k] * y[k]);
}

template <int K> void softmax_grad(int n, const float *dy, const float *y, float *dx) {
  for (int i = 0; i < n; ++i) {
    double dot = 0;
    for (int k = 0; k < K; ++k)
      dot += double(dy[std::size_t(i) * K + k]) * y[std::size_t(i) * K + k];
    for (int k = 0; k < K; ++k)
      dx[std::size_t(i) * K + k] =
          float(y[std::size_t(i) * K + k] * (dy[std::size_t(i) * K + k] - dot));
  }
}

template <int K> void softmax(int n, const float *x, float *y) {
  for (int i = 0; i < n; ++i) {
    double mx = x[std::size_t(i) * K];
    for (int k = 1; k < K; ++k)
      mx = std::fmax(mx, double(x[std::size_t(i) * K + k]));
    double sum = 0;
    for (int k = 0; k < K; ++k)
      sum += std::exp(double(x[std::size_t(i) * K + k]) - mx);
    for (int k = 0; k < K; ++k)
      y[std::size_t(i) * K + k] = float(std::exp(double(x[std::size_t(i) * K + k]) - mx) / sum);
  }
}
template <int K> float cross_entropy(int n, const float *probs, const std::int32_t *labels) {
  double s = 0;
  for (int i = 0; i < n; ++i)
    s += -std::log(std::fmax(double(probs[std::size_t(i) * K + labels[i]]), double(1e-7f)));
  return float(s / n);
}
template <int K> std::int32_t count_correct(int n, const float *probs, const std::int32_t *labels) {
  std::int32_t c = 0;
  for (int i = 0; i < n; ++i) {
    int arg = 0;
    for (int k = 0; k < K; ++k)
      if (probs[std::size_t(i) * K + k] > probs[std::size_t(i) * K + arg])
        arg = k;
    if (arg == labels[i])
      ++c;
  }
  return c;
}
template <int K>
void softmax_cross_entropy_grad(int n, const float *probs, const std::int32_t *labels, float *dlogits) {
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < K; ++k)
      dlogits[std::size_t(i) * K + k] =
          (probs[std::size_t(i) * K + k] - (k == labels[i] ? 1.f : 0.f)) / float(n);
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void max_pool2d(int n, const float *x, float *y) {
  for (int p = 0; p < n * C; ++p)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        bool any = false;
        float m = 0;
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw) {
            const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
              continue;
            const float v = x[(std::size_t(p) * H + ih) * W + iw];
            if (!any || v > m)
              m = v;
            any = true;
          }
        y[(std::size_t(p) * OH + oh) * OW + ow] = m;
      }
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void max_pool2d_grad(int n, const float *dy, const float *x, float *dx) {
  for (std::size_t k = 0; k < std::size_t(n) * C * H * W; ++k)
    dx[k] = 0;
  for (int p = 0; p < n * C; ++p)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        std::int64_t arg = -1;
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw) {
            const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
              continue;
            const std::int64_t at = (std::int64_t(p) * H + ih) * W + iw;
            if (arg < 0 || x[at] > x[arg])
              arg = at;
          }
        if (arg >= 0)
          dx[arg] += dy[(std::size_t(p) * OH + oh) * OW + ow];
      }
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void avg_pool2d(int n, const float *x, float *y) {
  for (int p = 0; p < n * C; ++p)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        double s = 0;
        int count = 0;
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw) {
            const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
              continue;
            s += x[(std::size_t(p) * H + ih) * W + iw];
            ++count;
          }
        y[(std::size_t(p) * OH + oh) * OW + ow] = count ? float(s / count) : 0.f;
      }
}

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void avg_pool2d_grad(int n, const float *dy, float *dx) {
  for (std::size_t k = 0; k < std::size_t(n) * C * H * W; ++k)
    dx[k] = 0;
  for (int p = 0; p < n * C; ++p)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        int count = 0;
        for (int pass = 0; pass < 2; ++pass)
          for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw) {
              const int ih = oh * SH + kh - PT, iw = ow * SW + kw - PL;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                continue;
              if (pass == 0)
                ++count;
              else
                dx[(std::size_t(p) * H + ih) * W + iw] +=
                    dy[(std::size_t(p) * OH + oh) * OW + ow] / float(count);
            }
      }
}

template <int C, int S> void global_avg_pool(int n, const float *x, float *y) {
  for (int p = 0; p < n * C; ++p) {
    double s = 0;
    for (int k = 0; k < S; ++k)
      s += x[std::size_t(p) * S + k];
    y[p] = float(s / S);
  }
}
template <int C, int S> void global_avg_pool_grad(int n, const float *dy, float *dx) {
  for (int p = 0; p < n * C; ++p)
    for (int k = 0; k < S; ++k)
      dx[std::size_t(p) * S + k] = dy[p] / float(S);
}

template <int E> void add(int n, const float *a, const float *b, float *y) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    y[k] = a[k] + b[k];
}
template <int E> void mul(int n, const float *a, const float *b, float *y) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    y[k] = a[k] * b[k];
}
template <int E> void copy(int n, const float *x, float *y) {
  for (std::int64_t k = 0; k < std::int64_t(n) * E; ++k)
    y[k] = x[k];
}
template <int E> void zeros(float *y) {
  for (int k = 0; k < E; ++k)
    y[k] = 0.f;
}

template <int E>
void dropout_mask(int n, float rate, std::uint64_t seed, std::uint64_t stream, float *mask) {
  const std::uint64_t key = detail::streamKey(seed, stream);
  for (std::int64_t j = 0; j < std::int64_t(n) * E; ++j) {
    const bool keep = detail::uniform01(key, std::uint64_t(j)) >= rate;
    mask[j] = keep ? 1.f / (1.f - rate) : 0.f;
  }
}

template <int C, int S>
void batch_norm_inference(int n, const float *x, const float *gamma, const float *beta,
                          const float *mean, const float *var, float eps, float *y) {
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c)
      for (int s = 0; s < S; ++s) {
        const std::size_t o = (std::size_t(i) * C + c) * S + s;
        y[o] = float(double(gamma[c]) * (double(x[o]) - mean[c]) / std::sqrt(double(var[c]) + eps) +
                     beta[c]);
      }
}
template <int C, int S>
void batch_norm_inference_grad(int n, const float *dy, const float *gamma, const float *var,
                               float eps, float *dx) {
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c)
      for (int s = 0; s < S; ++s) {
        const std::size_t o = (std::size_t(i) * C + c) * S + s;
        dx[o] = float(double(dy[o]) * gamma[c] / std::sqrt(double(var[c]) + eps));
      }
}

/// Training-mode batch norm, straight from the definition in double: the
/// batch mean and biased variance per channel, the running statistics
/// updated as Keras does.
template <int C, int S>
void batch_norm_train(int n, const float *x, const float *gamma, const float *beta,
                      float *running_mean, float *running_var, float eps, float momentum,
                      float *y, float *batch_mean, float *batch_inv_std) {
  const double count = double(n) * S;
  for (int c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    for (int i = 0; i < n; ++i)
      for (int s = 0; s < S; ++s)
        mean += x[(std::size_t(i) * C + c) * S + s];
    mean /= count;
    for (int i = 0; i < n; ++i)
      for (int s = 0; s < S; ++s) {
        const double d = x[(std::size_t(i) * C + c) * S + s] - mean;
        var += d * d;
      }
    var /= count;
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (int i = 0; i < n; ++i)
      for (int s = 0; s < S; ++s) {
        const std::size_t o = (std::size_t(i) * C + c) * S + s;
        y[o] = float(gamma[c] * (x[o] - mean) * inv_std + beta[c]);
      }
    batch_mean[c] = float(mean);
    batch_inv_std[c] = float(inv_std);
    running_mean[c] = float(momentum * double(running_mean[c]) + (1.0 - momentum) * mean);
    running_var[c] = float(momentum * double(running_var[c]) + (1.0 - momentum) * var);
  }
}

inline void sgd_update(std::int64_t size, float *p, const float *g, float *velocity, float lr,
                       float momentum, bool nesterov) {
  for (std::int64_t k = 0; k < size; ++k) {
    if (momentum == 0.f) {
      p[k] = p[k] - lr * g[k];
      continue;
    }
    velocity[k] = momentum * velocity[k] - lr * g[k];
    if (nesterov)
      p[k] = p[k] + (momentum * velocity[k] - lr * g[k]);
    else
      p[k] = p[k] + velocity[k];
  }
}

inline void adam_update(std::int64_t size, float *p, const float *g, float *m, float *v, float lr,
                        float beta1, float beta2, float eps, std::int64_t t) {
  for (std::int64_t k = 0; k < size; ++k) {
    m[k] = beta1 * m[k] + (1 - beta1) * g[k];
    v[k] = beta2 * v[k] + (1 - beta2) * g[k] * g[k];
    const double mhat = m[k] / (1.0 - std::pow(double(beta1), double(t)));
    const double vhat = v[k] / (1.0 - std::pow(double(beta2), double(t)));
    p[k] = float(p[k] - lr * mhat / (std::sqrt(vhat) + eps));
  }
}

} // namespace netc::kernels::reference

#endif // NETC_KERNELS_REFERENCE_H
