//===- Layers.cpp - per-layer: fused kernel vs unfused chain vs oneDNN -----===//
//
// The kernels take every extent but the batch as a template parameter, so
// each layer shape is one instantiation of LayerBench<...> (the table in
// runLayers). Per (layer, batch):
//   forward:  fused_conv2d (inference: saved = null)
//             vs conv2d -> bias_add (in place) -> relu -> max/avg_pool2d
//             vs oneDNN conv(+bias, relu post-op) -> pooling, nchw and 'any';
//   backward: fused_conv2d_grad (from a training forward's saved argmax / a)
//             vs pool_grad -> relu_grad -> bias_grad -> conv2d_grad_weight
//                -> conv2d_grad_input
//             vs oneDNN's training backward (DnnlBackward), nchw and 'any'.
// dx is computed only when C > 1: a model's first layer (C = 1 here, the
// image) gets no input gradient, as netc emits it.
// FLOPs: 2*F*C*K*K*OH*OW*n for the conv (epilogue ignored); the backward
// counts one such product for dw and one for dx.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Dnnl.h"
#include "Layers.h"

#include "net/Kernels/Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <vector>

namespace netc::bench {
namespace {

namespace k = netc::kernels;

struct Row {
  std::string layer;
  int batch = 0;
  double gflop = 0;      // forward conv GFLOP per call
  Timing fwd[4] = {};    // fused, unfused, dnnl nchw, dnnl any (median 0: not timed)
  Timing bwd[4] = {};    // fused, unfused, dnnl nchw, dnnl any
  double bwdGflop = 0;
  std::string note;
};

template <int C, int H, int W, int F, int K, int S, int PAD, int OH, int OW, int POOL, int POH,
          int POW>
struct LayerBench {
  static constexpr int P = OH * OW;
  static constexpr int YH = POOL ? POH : OH, YW = POOL ? POW : OW;
  static constexpr std::size_t xs = std::size_t(C) * H * W, ws = std::size_t(F) * C * K * K,
                               zs = std::size_t(F) * P, ys = std::size_t(F) * YH * YW,
                               ss = POOL == 1 ? ys : zs;
  static constexpr bool kDx = C > 1;

  static void fused(int n, const float *x, const float *w, const float *b, float *y,
                    float *saved) {
    if constexpr (POOL)
      k::fused_conv2d<C, H, W, F, K, K, S, S, PAD, PAD, OH, OW, /*ACT=*/1, POOL, 2, 2, 2, 2, 0,
                      0, POH, POW, true>(n, x, w, b, y, saved);
    else
      k::fused_conv2d<C, H, W, F, K, K, S, S, PAD, PAD, OH, OW, /*ACT=*/1, 0, 0, 0, 0, 0, 0, 0,
                      OH, OW, true>(n, x, w, b, y, saved);
  }

  static void fusedGrad(int n, const float *dy, const float *x, const float *w, const float *y,
                        const float *saved, float *scratch, float *dx, float *dw, float *db) {
    if constexpr (POOL)
      k::fused_conv2d_grad<C, H, W, F, K, K, S, S, PAD, PAD, OH, OW, 1, POOL, 2, 2, 2, 2, 0, 0,
                           POH, POW, true>(n, dy, x, w, y, saved, scratch, dx, dw, db);
    else
      k::fused_conv2d_grad<C, H, W, F, K, K, S, S, PAD, PAD, OH, OW, 1, 0, 0, 0, 0, 0, 0, 0, OH,
                           OW, true>(n, dy, x, w, y, saved, scratch, dx, dw, db);
  }

  /// oneDNN's backward chain, checked against the unfused gradients (dw, db
  /// and, when C > 1, dx) before it is timed; a zero Timing when it is not.
  static Timing measureDnnlBackward(const LayerSpec &spec, int n, DnnlLayout layout,
                                    const Buffer &x, const Buffer &w, const Buffer &z,
                                    const Buffer &dy, const Buffer &dz, const Buffer &dwu,
                                    const Buffer &dbu, const Buffer &dxu) {
    const char *name = layout == DnnlLayout::Any ? "any" : "nchw";
    std::string why;
    std::unique_ptr<DnnlBackward> back =
        DnnlBackward::create(spec, n, layout, x.data(), w.data(), z.data(), dy.data(), why);
    if (!back) {
      std::printf("  oneDNN backward %s skipped: %s\n", name, why.c_str());
      return {};
    }
    back->run();
    Buffer dw(ws), db(F), dx(kDx ? std::size_t(n) * xs : 1);
    back->gradients(dw.data(), db.data(), kDx ? dx.data() : nullptr);
    Agreement g = worst(compare(dw.data(), dwu.data(), ws), compare(db.data(), dbu.data(), F));
    if (kDx)
      g = worst(g, compare(dx.data(), dxu.data(), std::size_t(n) * xs));
    bool ok = g.ok();
    std::string verdict = ok ? "ok" : "";
    if (!ok) {
      // A long reduction (dw sums n*OH*OW products) rounds differently in
      // each library: judge both against dw in double at sampled elements.
      const double ours = dwErrorAgainstDouble(n, x.data(), dz.data(), dwu.data());
      const double theirs = dwErrorAgainstDouble(n, x.data(), dz.data(), dw.data());
      ok = theirs <= 1e-3 && ours <= 1e-3;
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s: against dw in double, netc %.1e, oneDNN %.1e",
                    ok ? "rounding" : "DISAGREES (not timed)", ours, theirs);
      verdict = buf;
    }
    std::printf("  check %-22s n=%-3d oneDNN bwd %-4s vs unfused: rel %.2e %s [%s]\n",
                spec.name, n, name, g.relative(), verdict.c_str(), back->describe().c_str());
    if (!ok)
      return {};
    return measure([&] { back->run(); });
  }

  /// The largest difference of `dw` from dw computed in double, over 64
  /// sampled elements, relative to the largest sampled |dw|.
  static double dwErrorAgainstDouble(int n, const float *x, const float *dz, const float *dw) {
    double maxDiff = 0, maxRef = 0;
    for (std::size_t sample = 0; sample < 64; ++sample) {
      const std::size_t e = (sample * 2654435761u) % ws; // spread over the tensor
      const int f = int(e / (std::size_t(C) * K * K)), c = int(e / (K * K) % C),
                ky = int(e / K % K), kx = int(e % K);
      double sum = 0;
      for (int b = 0; b < n; ++b)
        for (int oy = 0; oy < OH; ++oy)
          for (int ox = 0; ox < OW; ++ox) {
            const int iy = oy * S - PAD + ky, ix = ox * S - PAD + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
              continue;
            sum += double(dz[((std::size_t(b) * F + f) * OH + oy) * OW + ox]) *
                   double(x[((std::size_t(b) * C + c) * H + iy) * W + ix]);
          }
      maxDiff = std::max(maxDiff, std::fabs(sum - double(dw[e])));
      maxRef = std::max(maxRef, std::fabs(sum));
    }
    return maxDiff / std::max(maxRef, 1e-30);
  }

  /// conv -> bias (in place) -> relu into a -> pool into y (y = a without pool).
  static void unfused(int n, const float *x, const float *w, const float *b, float *z, float *a,
                      float *y) {
    k::conv2d<C, H, W, F, K, K, S, S, PAD, PAD, OH, OW>(n, x, w, z);
    k::bias_add<F, P>(n, z, b, z);
    if constexpr (POOL == 0) {
      k::relu<F * P>(n, z, y);
      return;
    }
    k::relu<F * P>(n, z, a);
    if constexpr (POOL == 1)
      k::max_pool2d<F, OH, OW, 2, 2, 2, 2, 0, 0, POH, POW>(n, a, y);
    else
      k::avg_pool2d<F, OH, OW, 2, 2, 2, 2, 0, 0, POH, POW>(n, a, y);
  }

  /// dy -> pool_grad -> relu_grad (with a) -> bias_grad, grad_weight, grad_input.
  static void unfusedGrad(int n, const float *dy, const float *x, const float *w, const float *a,
                          float *da, float *dz, float *dx, float *dw, float *db) {
    const float *g = dy;
    if constexpr (POOL == 1) {
      k::max_pool2d_grad<F, OH, OW, 2, 2, 2, 2, 0, 0, POH, POW>(n, dy, a, da);
      g = da;
    } else if constexpr (POOL == 2) {
      k::avg_pool2d_grad<F, OH, OW, 2, 2, 2, 2, 0, 0, POH, POW>(n, dy, da);
      g = da;
    }
    k::relu_grad<F * P>(n, g, a, dz);
    k::bias_grad<F, P>(n, dz, db);
    k::conv2d_grad_weight<C, H, W, F, K, K, S, S, PAD, PAD, OH, OW>(n, dz, x, dw);
    if (dx)
      k::conv2d_grad_input<C, H, W, F, K, K, S, S, PAD, PAD, OH, OW>(n, dz, w, dx);
  }

  static Row run(const LayerSpec &spec, int n, const Options &opt, double peak) {
    Row row;
    row.layer = spec.name;
    row.batch = n;
    row.gflop = 2.0 * F * C * K * K * OH * OW * double(n) * 1e-9;
    row.bwdGflop = row.gflop * (kDx ? 2 : 1);
    const std::size_t N = std::size_t(n);
    Buffer x(N * xs), w(ws), b(F), y(N * ys), yu(N * ys), yd(N * ys), saved(N * ss),
        z(N * zs), a(N * zs), dy(N * ys), scratch(N * zs), da(N * zs), dz(N * zs),
        dx(kDx ? N * xs : 1), dxu(kDx ? N * xs : 1), dw(ws), dwu(ws), db(F), dbu(F);
    fillUniform(x, -1.f, 1.f, 1);
    const float scale = 1.f / std::sqrt(float(C * K * K));
    fillUniform(w, -scale, scale, 2);
    fillUniform(b, -0.1f, 0.1f, 3);
    fillUniform(dy, -1.f, 1.f, 4);

    // --- forward: check, then time -----------------------------------------
    unfused(n, x.data(), w.data(), b.data(), z.data(), a.data(), yu.data());
    fused(n, x.data(), w.data(), b.data(), y.data(), nullptr);
    const Agreement fa = compare(y.data(), yu.data(), N * ys);
    std::printf("  check %-22s n=%-3d fused fwd vs unfused: rel %.2e %s\n", spec.name, n,
                fa.relative(), fa.ok() ? "ok" : "DISAGREES (not timed)");
    std::unique_ptr<DnnlLayer> dn[2];
    if (opt.dnnl)
      for (int l = 0; l < 2; ++l) {
        std::string why;
        dn[l] = DnnlLayer::create(spec, n, l ? DnnlLayout::Any : DnnlLayout::Nchw, x.data(),
                                  w.data(), b.data(), why);
        if (!dn[l]) {
          std::printf("  oneDNN %s skipped: %s\n", l ? "any" : "nchw", why.c_str());
          continue;
        }
        dn[l]->run();
        dn[l]->output(yd.data());
        const Agreement g = compare(yd.data(), yu.data(), N * ys);
        std::printf("  check %-22s n=%-3d oneDNN %-4s vs unfused: rel %.2e %s [%s]\n", spec.name,
                    n, l ? "any" : "nchw", g.relative(), g.ok() ? "ok" : "DISAGREES (not timed)",
                    dn[l]->describe().c_str());
        if (!g.ok())
          dn[l].reset();
      }
    if (fa.ok())
      row.fwd[0] = measure([&] { fused(n, x.data(), w.data(), b.data(), y.data(), nullptr); });
    row.fwd[1] = measure(
        [&] { unfused(n, x.data(), w.data(), b.data(), z.data(), a.data(), yu.data()); });
    for (int l = 0; l < 2; ++l)
      if (dn[l])
        row.fwd[2 + l] = measure([&] { dn[l]->run(); });
    dn[0].reset();
    dn[1].reset();

    // --- backward: fused from a training forward's saved; unfused from a ----
    fused(n, x.data(), w.data(), b.data(), y.data(), saved.data());
    unfused(n, x.data(), w.data(), b.data(), z.data(), a.data(), yu.data());
    float *dxf = kDx ? dx.data() : nullptr, *dxr = kDx ? dxu.data() : nullptr;
    fusedGrad(n, dy.data(), x.data(), w.data(), y.data(), saved.data(), scratch.data(), dxf,
              dw.data(), db.data());
    // The relu output: a, or y itself when the layer does not pool.
    const float *act = POOL ? a.data() : yu.data();
    unfusedGrad(n, dy.data(), x.data(), w.data(), act, da.data(), dz.data(), dxr, dwu.data(),
                dbu.data());
    Agreement ga = worst(compare(dw.data(), dwu.data(), ws), compare(db.data(), dbu.data(), F));
    if (kDx)
      ga = worst(ga, compare(dx.data(), dxu.data(), N * xs));
    std::printf("  check %-22s n=%-3d fused bwd vs unfused (dw, db%s): rel %.2e %s\n", spec.name,
                n, kDx ? ", dx" : "", ga.relative(), ga.ok() ? "ok" : "DISAGREES (not timed)");
    if (ga.ok())
      row.bwd[0] = measure([&] {
        fusedGrad(n, dy.data(), x.data(), w.data(), y.data(), saved.data(), scratch.data(), dxf,
                  dw.data(), db.data());
      });
    row.bwd[1] = measure([&] {
      unfusedGrad(n, dy.data(), x.data(), w.data(), act, da.data(), dz.data(), dxr, dwu.data(),
                  dbu.data());
    });
    if (opt.dnnl)
      for (int l = 0; l < 2; ++l)
        row.bwd[2 + l] = measureDnnlBackward(spec, n, l ? DnnlLayout::Any : DnnlLayout::Nchw, x,
                                             w, z, dy, dz, dwu, dbu, dxu);
    (void)peak;
    return row;
  }
};

/// One entry of the table: the runtime spec and its instantiation.
struct Entry {
  LayerSpec spec;
  Row (*run)(const LayerSpec &, int, const Options &, double);
};

#define NETBENCH_STRIDED_LAYER(NAME, C, H, W, F, K, S, PAD, OH, OW, POOL, POH, POW)             \
  Entry {                                                                                       \
    LayerSpec{NAME, C, H, W, F, K, PAD, OH, OW, POOL, POH, POW, S},                             \
        &LayerBench<C, H, W, F, K, S, PAD, OH, OW, POOL, POH, POW>::run                         \
  }
#define NETBENCH_LAYER(NAME, C, H, W, F, K, PAD, OH, OW, POOL, POH, POW)                        \
  NETBENCH_STRIDED_LAYER(NAME, C, H, W, F, K, 1, PAD, OH, OW, POOL, POH, POW)

// C, H, W, F, K, pad (top/left), OH, OW, pool (0 none, 1 max, 2 avg), pooled OH, OW.
const Entry kLayers[] = {
    NETBENCH_LAYER("lenet5 conv1", 1, 28, 28, 6, 5, 2, 28, 28, 1, 14, 14),
    NETBENCH_LAYER("lenet5 conv2", 6, 14, 14, 16, 5, 2, 14, 14, 1, 7, 7),
    NETBENCH_LAYER("lenet5 conv3", 16, 7, 7, 120, 5, 2, 7, 7, 0, 7, 7),
    NETBENCH_LAYER("lenet5_classic conv1", 1, 28, 28, 6, 5, 2, 28, 28, 2, 14, 14),
    NETBENCH_LAYER("lenet5_classic conv2", 6, 14, 14, 16, 5, 0, 10, 10, 2, 5, 5),
    NETBENCH_LAYER("mnist_cnn conv1", 1, 28, 28, 32, 3, 0, 26, 26, 0, 26, 26),
    NETBENCH_LAYER("mnist_cnn conv2", 32, 26, 26, 64, 3, 0, 24, 24, 1, 12, 12),
    NETBENCH_LAYER("tf_cnn conv1", 1, 28, 28, 32, 3, 0, 26, 26, 1, 13, 13),
    NETBENCH_LAYER("tf_cnn conv2", 32, 13, 13, 64, 3, 0, 11, 11, 0, 11, 11),
    NETBENCH_LAYER("tf_cnn conv3", 64, 5, 5, 64, 3, 0, 3, 3, 0, 3, 3),
};

// ResNet50 at 224 x 224 (models/resnet50_head.net, torchvision's v1.5: the
// stride on the 3x3), one of each distinct conv shape: C, H, W, F, K,
// stride, pad, OH, OW; none pools (the stem's 3x3 max pool is not Pool.h's
// 2x2 window that fuses).
const Entry kResNet50Layers[] = {
    NETBENCH_STRIDED_LAYER("resnet50 stem 7x7/2", 3, 224, 224, 64, 7, 2, 3, 112, 112, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s1 1x1 reduce", 256, 56, 56, 64, 1, 1, 0, 56, 56, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s1 3x3", 64, 56, 56, 64, 3, 1, 1, 56, 56, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s1 1x1 expand", 64, 56, 56, 256, 1, 1, 0, 56, 56, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s2 3x3/2", 128, 56, 56, 128, 3, 2, 1, 28, 28, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s2 shortcut 1x1/2", 256, 56, 56, 512, 1, 2, 0, 28, 28, 0,
                           0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s2 3x3", 128, 28, 28, 128, 3, 1, 1, 28, 28, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s3 3x3", 256, 14, 14, 256, 3, 1, 1, 14, 14, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s3 1x1 expand", 256, 14, 14, 1024, 1, 1, 0, 14, 14, 0, 0,
                           0),
    NETBENCH_STRIDED_LAYER("resnet50 s4 3x3", 512, 7, 7, 512, 3, 1, 1, 7, 7, 0, 0, 0),
    NETBENCH_STRIDED_LAYER("resnet50 s4 1x1 reduce", 2048, 7, 7, 512, 1, 1, 0, 7, 7, 0, 0, 0),
};

const char *poolName(int pool) { return pool == 1 ? " +max" : pool == 2 ? " +avg" : ""; }

/// Microseconds; '*' marks a measurement still contended after its retries.
std::string fmtUs(const Timing &t) {
  if (t.median <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, t.median * 1e6 < 100 ? "%.1f%s" : "%.0f%s", t.median * 1e6,
                t.contended ? "*" : "");
  return buf;
}
std::string fmtRate(double gflop, double s) {
  if (s <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", gflop / s);
  return buf;
}
std::string fmtRatio(double num, double den) {
  if (num <= 0 || den <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", num / den);
  return buf;
}
std::string fmtPct(double gflop, double s, double peak) {
  if (s <= 0 || peak <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * gflop / s / peak);
  return buf;
}

} // namespace

int runLayers(const Options &opt, double peak) {
  std::vector<Row> rows;
  std::vector<Entry> layers = opt.resnet
                                  ? std::vector<Entry>(std::begin(kResNet50Layers),
                                                       std::end(kResNet50Layers))
                                  : std::vector<Entry>(std::begin(kLayers), std::end(kLayers));
  for (const Entry &e : layers) {
    for (int n : opt.batches) {
      std::printf("%s%s n=%d (load %.2f)\n", e.spec.name, poolName(e.spec.pool), n,
                  loadAverage());
      std::fflush(stdout);
      rows.push_back(e.run(e.spec, n, opt, peak));
      std::fflush(stdout);
    }
  }

  std::printf("\nForward (microseconds per call; GFLOP/s = 2*F*C*K*K*OH*OW*n / time; "
              "oneDNN: conv+bias+relu as one primitive, then pooling; 'any' = weights and "
              "conv output in oneDNN's chosen layout)\n\n");
  std::printf("| layer | batch | fused us | unfused us | oneDNN nchw us | oneDNN any us | fused "
              "GFLOP/s | unfused GFLOP/s | oneDNN nchw GFLOP/s | oneDNN any GFLOP/s | fused / "
              "unfused speedup | oneDNN nchw / fused | oneDNN any / fused | fused %% of peak |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
              "| ---: | ---: |\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row &r = rows[i];
    const LayerSpec &s = layers[i / opt.batches.size()].spec;
    std::printf("| %s%s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                r.layer.c_str(), poolName(s.pool), r.batch, fmtUs(r.fwd[0]).c_str(),
                fmtUs(r.fwd[1]).c_str(), fmtUs(r.fwd[2]).c_str(), fmtUs(r.fwd[3]).c_str(),
                fmtRate(r.gflop, r.fwd[0].median).c_str(), fmtRate(r.gflop, r.fwd[1].median).c_str(),
                fmtRate(r.gflop, r.fwd[2].median).c_str(), fmtRate(r.gflop, r.fwd[3].median).c_str(),
                fmtRatio(r.fwd[1].median, r.fwd[0].median).c_str(), fmtRatio(r.fwd[2].median, r.fwd[0].median).c_str(),
                fmtRatio(r.fwd[3].median, r.fwd[0].median).c_str(), fmtPct(r.gflop, r.fwd[0].median, peak).c_str());
  }

  std::printf("\nBackward (fused_conv2d_grad vs pool_grad, relu_grad, bias_grad, "
              "conv2d_grad_weight, conv2d_grad_input vs oneDNN's pooling_backward, "
              "eltwise_backward, convolution_backward_weights (with bias), "
              "convolution_backward_data; dx only when C > 1; GFLOP/s counts "
              "2*F*C*K*K*OH*OW*n per product computed)\n\n");
  std::printf("| layer | batch | fused us | unfused us | oneDNN nchw us | oneDNN any us | fused "
              "GFLOP/s | oneDNN any GFLOP/s | fused / unfused speedup | oneDNN nchw / fused | "
              "oneDNN any / fused | fused %% of peak |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
              "|\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row &r = rows[i];
    const LayerSpec &s = layers[i / opt.batches.size()].spec;
    std::printf("| %s%s%s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                r.layer.c_str(), poolName(s.pool), s.c > 1 ? "" : " (no dx)", r.batch,
                fmtUs(r.bwd[0]).c_str(), fmtUs(r.bwd[1]).c_str(), fmtUs(r.bwd[2]).c_str(),
                fmtUs(r.bwd[3]).c_str(), fmtRate(r.bwdGflop, r.bwd[0].median).c_str(),
                fmtRate(r.bwdGflop, r.bwd[3].median).c_str(),
                fmtRatio(r.bwd[1].median, r.bwd[0].median).c_str(),
                fmtRatio(r.bwd[2].median, r.bwd[0].median).c_str(),
                fmtRatio(r.bwd[3].median, r.bwd[0].median).c_str(),
                fmtPct(r.bwdGflop, r.bwd[0].median, peak).c_str());
  }
  std::printf("\n* = other processes used > 10%% of a core during each of 3 tries: the "
              "machine was shared, the figure is not the kernel's alone\n");
  std::printf("(load after the layers: %.2f)\n", loadAverage());
  return 0;
}

} // namespace netc::bench
