//===- CudaLayers.cu - per conv layer: netc's fused CUDA kernel vs cuDNN 9 ===//
//
// The layer shapes of Layers.cpp (the conv layers of lenet5, lenet5_classic,
// mnist_cnn and tf_cnn, with the template arguments netc emits for them:
// `netc models/X.net -emit=cuda`), each one instantiation of GpuLayer<...>.
// Per (layer, batch), on the same device buffers:
//   forward (inference):
//     netc   fused_conv2d (Fused.cuh; saved = null): one kernel;
//     cuDNN  fused: cudnnConvolutionBiasActivationForward + cudnnPoolingForward;
//            separate: cudnnConvolutionForward, cudnnAddTensor,
//            cudnnActivationForward, cudnnPoolingForward (Cudnn.cuh);
//   backward (from each side's training forward):
//     netc   fused_conv2d_grad: the dz kernel, conv2d_grad_weight, bias_grad,
//            conv2d_grad_input;
//     cuDNN  cudnnPoolingBackward, cudnnActivationBackward,
//            cudnnConvolutionBackwardBias, ...BackwardFilter, ...BackwardData.
// dx is computed only when C > 1 (a model's first layer gets no input
// gradient, as netc emits it). cuDNN's algorithms are those its own search
// (cudnnFind...AlgorithmEx) ranks fastest on these buffers.
//
// Checks before timing. Forward: y against cuDNN's separate form (the
// plainest cuDNN calls) within 1e-4 of its largest |value| (5e-3 with
// --tf32). Backward: netc's dw, db, dx against the double reference from
// netc's own forward decisions (ConvGradReference.h; sampled, and at the
// element where cuDNN differed most) within 1e-4; the comparison with
// cuDNN's gradients (1e-3, 1e-2 with --tf32) is printed beside it, for
// cuDNN's gradients start from cuDNN's forward, which can route a pooling
// window or a relu near 0 the other way. A side that fails its check is not
// timed.
// FLOPs: 2*F*C*K*K*OH*OW*n per conv product (the epilogue ignored); the
// backward counts one product for dw and one for dx when computed.
//
//===----------------------------------------------------------------------===//

#include "Cuda.h"
#include "CudaCommon.cuh"
#include "ConvGradReference.h"
#include "Cudnn.cuh"
#include "CudaRun.h"

#include "net/Kernels/cuda/Fused.cuh"

#include <cstdio>
#include <string>
#include <vector>

namespace netc::bench::gpu {
namespace {

namespace k = netc::cuda;

struct Spec {
  const char *name;
  ConvGeometry g;
};

struct Row {
  std::string layer;
  int batch = 0;
  double gflop = 0, bwdGflop = 0;
  GpuTiming fwdNetc, fwdFused, fwdSeparate, bwdNetc, bwdCudnn;
  std::string fwdAlgos, bwdAlgos;
  bool failed = false;
};

/// netc's gradients against the double reference: its own rounding only
/// (dw and db summed in double, dx in float over F*K*K terms).
constexpr double kReferenceTolerance = 1e-4;

/// "rel 3.1e-08 ok (64 of 18432 elements)"; when cuDNN differed beyond its
/// tolerance and netc agrees with the reference, says whose the difference is.
std::string describeSampled(const SampledAgreement &g, double tolerance, bool cudnnAgreed) {
  char buf[320];
  if (g.ok(tolerance))
    std::snprintf(buf, sizeof buf, "rel %.2e ok (%lld elements%s)", g.relative(),
                  (long long)g.checked,
                  cudnnAgreed ? "" : "; cuDNN's difference is its own rounding or routing");
  else
    std::snprintf(buf, sizeof buf,
                  "rel %.2e (tolerance %.0e) DISAGREES: worst at flat index %lld: %.6g vs %.6g%s",
                  g.relative(), tolerance, (long long)g.worstIndex, g.worstGot, g.worstRef,
                  g.finite ? "" : " (non-finite values)");
  return buf;
}

struct Context {
  Handles &handles;
  Workspace &workspace;
  std::size_t searchBytes;
  double fwdTolerance, bwdTolerance;
};

template <int C, int H, int W, int F, int K, int PAD, int OH, int OW, int POOL, int POH, int POW>
struct GpuLayer {
  static constexpr int ACT = 1; // every conv of these models is relu
  static constexpr int YH = POOL ? POH : OH, YW = POOL ? POW : OW;
  static constexpr std::size_t xs = std::size_t(C) * H * W, ws = std::size_t(F) * C * K * K,
                               zs = std::size_t(F) * OH * OW, ys = std::size_t(F) * YH * YW;
  static constexpr bool kDx = C > 1;

  static void fused(int n, const float *x, const float *w, const float *b, float *y,
                    float *saved) {
    if constexpr (POOL)
      k::fused_conv2d<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, ACT, POOL, 2, 2, 2, 2, 0, 0, POH,
                      POW, true>(n, x, w, b, y, saved);
    else
      k::fused_conv2d<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, ACT, 0, 0, 0, 0, 0, 0, 0, OH, OW,
                      true>(n, x, w, b, y, saved);
    NB_NETC("netc::cuda::fused_conv2d");
  }

  static void fusedGrad(int n, const float *dy, const float *x, const float *w, const float *y,
                        const float *saved, float *scratch, float *dx, float *dw, float *db) {
    if constexpr (POOL)
      k::fused_conv2d_grad<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, ACT, POOL, 2, 2, 2, 2, 0, 0,
                           POH, POW, true>(n, dy, x, w, y, saved, scratch, dx, dw, db);
    else
      k::fused_conv2d_grad<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, ACT, 0, 0, 0, 0, 0, 0, 0, OH,
                           OW, true>(n, dy, x, w, y, saved, scratch, dx, dw, db);
    NB_NETC("netc::cuda::fused_conv2d_grad");
  }

  /// The inputs and both sides' outputs, on the device.
  struct Buffers {
    explicit Buffers(std::size_t N)
        : x(N * xs), w(ws), b(F), dy(N * ys), yN(N * ys), saved(N * zs), scratch(N * zs),
          dxN(kDx ? N * xs : 1), dwN(ws), dbN(F), z(N * zs), a(N * zs), yS(POOL ? N * ys : 1),
          zeros(N * zs), aF(N * zs), yF(POOL ? N * ys : 1), da(N * zs), dz(N * zs),
          dxC(kDx ? N * xs : 1), dwC(ws), dbC(F) {}
    DeviceBuffer x, w, b, dy;
    // netc's.
    DeviceBuffer yN, saved, scratch, dxN, dwN, dbN;
    // cuDNN's: separate (z, a, y), fused (zeros, af, yf), backward (da, dz, dx, dw, db).
    DeviceBuffer z, a, yS, zeros, aF, yF, da, dz, dxC, dwC, dbC;
    float *ySep() { return POOL ? yS.get() : a.get(); }
    float *yFus() { return POOL ? yF.get() : aF.get(); }
  };

  static Row run(const Spec &spec, int n, Context &ctx) {
    Row row;
    row.layer = spec.name;
    row.batch = n;
    row.gflop = 2.0 * F * C * K * K * OH * OW * double(n) * 1e-9;
    row.bwdGflop = row.gflop * (kDx ? 2 : 1);
    const std::size_t N = std::size_t(n);
    ConvGeometry g{C, H, W, F, K, PAD, OH, OW, ACT, POOL, POH, POW};

    // Inputs: the CPU benchmark's distributions and seeds.
    const float scale = 1.f / std::sqrt(float(C * K * K));
    Buffers B(N);
    upload(B.x, uniform(N * xs, -1.f, 1.f, 1));
    upload(B.w, uniform(ws, -scale, scale, 2));
    upload(B.b, uniform(F, -0.1f, 0.1f, 3));
    upload(B.dy, uniform(N * ys, -1.f, 1.f, 4));

    CudnnConv conv(ctx.handles, ctx.workspace, g, n);
    conv.search(B.x.get(), B.w.get(), B.z.get(), B.dz.get(), kDx ? B.dxC.get() : nullptr,
                B.dwC.get(), ctx.searchBytes);
    row.fwdAlgos = conv.describeForward();
    row.bwdAlgos = conv.describeBackward();
    if (!conv.fusedOk())
      std::printf("  cuDNN fused form skipped: %s\n", conv.fusedWhy().c_str());

    checkAndTimeForward(spec, n, ctx, conv, B, row);
    checkAndTimeBackward(spec, n, ctx, conv, B, row);
    NB_NETC("netc kernels (after timing)");
    return row;
  }

  /// The forward of each side checked against cuDNN's separate form, then
  /// timed where it agrees.
  static void checkAndTimeForward(const Spec &spec, int n, Context &ctx, CudnnConv &conv,
                                  Buffers &B, Row &row) {
    const std::size_t N = std::size_t(n);
    fused(n, B.x.get(), B.w.get(), B.b.get(), B.yN.get(), nullptr);
    conv.forwardSeparate(B.x.get(), B.w.get(), B.b.get(), B.z.get(), B.a.get(), B.ySep());
    if (conv.fusedOk())
      conv.forwardFused(B.x.get(), B.w.get(), B.b.get(), B.zeros.get(), B.aF.get(), B.yFus());
    NB_CUDA(cudaDeviceSynchronize());
    const std::vector<float> ref = download(B.ySep(), N * ys), yn = download(B.yN);
    const Agreement fa = compare(yn, ref);
    std::printf("  check %-22s n=%-4d netc fwd  vs cuDNN separate: %s\n", spec.name, n,
                describe(fa, ctx.fwdTolerance, yn, ref).c_str());
    bool fusedAgrees = false;
    if (conv.fusedOk()) {
      const std::vector<float> yf = download(B.yFus(), N * ys);
      const Agreement ca = compare(yf, ref);
      fusedAgrees = ca.ok(ctx.fwdTolerance);
      std::printf("  check %-22s n=%-4d cuDNN fused vs separate:    %s\n", spec.name, n,
                  describe(ca, ctx.fwdTolerance, yf, ref).c_str());
    }
    if (fa.ok(ctx.fwdTolerance))
      row.fwdNetc =
          timeGpu([&] { fused(n, B.x.get(), B.w.get(), B.b.get(), B.yN.get(), nullptr); });
    if (fusedAgrees)
      row.fwdFused = timeGpu([&] {
        conv.forwardFused(B.x.get(), B.w.get(), B.b.get(), B.zeros.get(), B.aF.get(), B.yFus());
      });
    row.fwdSeparate = timeGpu([&] {
      conv.forwardSeparate(B.x.get(), B.w.get(), B.b.get(), B.z.get(), B.a.get(), B.ySep());
    });
  }

  /// The backward of each side, each from its own training forward; netc's
  /// checked against the double reference, then timed where it agrees.
  static void checkAndTimeBackward(const Spec &spec, int n, Context &ctx, CudnnConv &conv,
                                   Buffers &B, Row &row) {
    float *dxn = kDx ? B.dxN.get() : nullptr, *dxc = kDx ? B.dxC.get() : nullptr;
    fused(n, B.x.get(), B.w.get(), B.b.get(), B.yN.get(), B.saved.get());
    fusedGrad(n, B.dy.get(), B.x.get(), B.w.get(), B.yN.get(), B.saved.get(), B.scratch.get(),
              dxn, B.dwN.get(), B.dbN.get());
    conv.forwardSeparate(B.x.get(), B.w.get(), B.b.get(), B.z.get(), B.a.get(), B.ySep());
    auto cudnnGrad = [&] {
      conv.backward(B.dy.get(), B.x.get(), B.w.get(), B.z.get(), B.a.get(), B.ySep(), B.da.get(),
                    B.dz.get(), dxc, B.dwC.get(), B.dbC.get());
    };
    cudnnGrad();
    NB_CUDA(cudaDeviceSynchronize());
    // netc's gradients gate its timing against the double reference from its
    // own forward (ConvGradReference.h), at sampled elements plus where cuDNN
    // differed most; the comparison with cuDNN is printed beside it.
    const std::vector<float> hx = download(B.x), hw = download(B.w), hdy = download(B.dy),
                             hy = download(B.yN), hsaved = download(B.saved);
    const ConvGradReference reference(ConvGradProblem{n, C, H, W, F, K, PAD, OH, OW, POOL, POH, POW,
                                                      hx.data(), hw.data(), hdy.data(), hy.data(),
                                                      hsaved.data()});
    bool agree = true;
    auto check = [&](const char *what, const DeviceBuffer &mine, const DeviceBuffer &theirs,
                     auto ref, std::int64_t budget) {
      const std::vector<float> m = download(mine), t = download(theirs);
      const Agreement ag = compare(m, t);
      std::printf("  check %-22s n=%-4d netc bwd %-2s vs cuDNN:        %s\n", spec.name, n, what,
                  describe(ag, ctx.bwdTolerance, m, t).c_str());
      const SampledAgreement sa = compareSampled(m, ref, budget, {std::int64_t(ag.worstIndex)});
      agree = agree && sa.ok(kReferenceTolerance);
      std::printf("  check %-22s n=%-4d netc bwd %-2s vs double ref:   %s\n", spec.name, n, what,
                  describeSampled(sa, kReferenceTolerance, ag.ok(ctx.bwdTolerance)).c_str());
    };
    check(
        "dw", B.dwN, B.dwC, [&](std::int64_t e) { return reference.dw(e); }, 64);
    check(
        "db", B.dbN, B.dbC, [&](std::int64_t e) { return reference.db(int(e)); }, F);
    if (kDx)
      check(
          "dx", B.dxN, B.dxC, [&](std::int64_t e) { return reference.dx(e); }, 20000);
    if (agree)
      row.bwdNetc = timeGpu([&] {
        fusedGrad(n, B.dy.get(), B.x.get(), B.w.get(), B.yN.get(), B.saved.get(),
                  B.scratch.get(), dxn, B.dwN.get(), B.dbN.get());
      });
    row.bwdCudnn = timeGpu(cudnnGrad);
  }
};

struct Entry {
  Spec spec;
  Row (*run)(const Spec &, int, Context &);
};

#define NETBENCH_GPU_LAYER(NAME, C, H, W, F, K, PAD, OH, OW, POOL, POH, POW)                    \
  Entry {                                                                                       \
    Spec{NAME, ConvGeometry{C, H, W, F, K, PAD, OH, OW, 1, POOL, POH, POW}},                    \
        &GpuLayer<C, H, W, F, K, PAD, OH, OW, POOL, POH, POW>::run                              \
  }

// As Layers.cpp: C, H, W, F, K, pad (top/left), OH, OW, pool (0 none, 1 max,
// 2 avg), pooled OH, OW; every activation relu, stride 1, pooling 2x2/2.
const Entry kLayers[] = {
    NETBENCH_GPU_LAYER("lenet5 conv1", 1, 28, 28, 6, 5, 2, 28, 28, 1, 14, 14),
    NETBENCH_GPU_LAYER("lenet5 conv2", 6, 14, 14, 16, 5, 2, 14, 14, 1, 7, 7),
    NETBENCH_GPU_LAYER("lenet5 conv3", 16, 7, 7, 120, 5, 2, 7, 7, 0, 7, 7),
    NETBENCH_GPU_LAYER("lenet5_classic conv1", 1, 28, 28, 6, 5, 2, 28, 28, 2, 14, 14),
    NETBENCH_GPU_LAYER("lenet5_classic conv2", 6, 14, 14, 16, 5, 0, 10, 10, 2, 5, 5),
    NETBENCH_GPU_LAYER("mnist_cnn conv1", 1, 28, 28, 32, 3, 0, 26, 26, 0, 26, 26),
    NETBENCH_GPU_LAYER("mnist_cnn conv2", 32, 26, 26, 64, 3, 0, 24, 24, 1, 12, 12),
    NETBENCH_GPU_LAYER("tf_cnn conv1", 1, 28, 28, 32, 3, 0, 26, 26, 1, 13, 13),
    NETBENCH_GPU_LAYER("tf_cnn conv2", 32, 13, 13, 64, 3, 0, 11, 11, 0, 11, 11),
    NETBENCH_GPU_LAYER("tf_cnn conv3", 64, 5, 5, 64, 3, 0, 3, 3, 0, 3, 3),
};

const char *poolName(int pool) { return pool == 1 ? " +max" : pool == 2 ? " +avg" : ""; }

std::string pct(double gflop, double s, double peak) {
  if (s <= 0 || peak <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * gflop / s / peak);
  return buf;
}

/// A measured layer at one batch, with the entry it measured.
struct MeasuredRow {
  Row row;
  const Entry *entry;
};

/// Every layer at every batch, in order; a layer that fails is a failed row.
/// 0, or 1 when one failed; `stopped` when a failure left the device unusable.
int measureLayers(const CudaOptions &opt, Context &ctx, std::vector<MeasuredRow> &rows,
                  bool &stopped) {
  int rc = 0;
  for (const Entry &e : kLayers) {
    for (int n : opt.batches) {
      std::printf("%s%s n=%d\n", e.spec.name, poolName(e.spec.g.pool), n);
      std::fflush(stdout);
      Row row;
      try {
        row = e.run(e.spec, n, ctx);
      } catch (const GpuError &err) {
        row.layer = e.spec.name;
        row.batch = n;
        row.failed = true;
        rc = 1;
        std::printf("  error: %s\n", err.what());
        netc::cuda::detail::takeError();
        // A fault in a kernel is sticky: nothing after it can run.
        const cudaError_t sticky = cudaDeviceSynchronize();
        if (sticky != cudaSuccess) {
          std::printf("error: the device is unusable after that (%s: %s); stopping\n",
                      cudaGetErrorName(sticky), cudaGetErrorString(sticky));
          stopped = true;
          return 1;
        }
      }
      rows.push_back({row, &e});
      std::fflush(stdout);
    }
  }
  return rc;
}

void printForwardTable(const std::vector<MeasuredRow> &rows, double peak) {
  std::printf("\nForward, inference (microseconds per call, device events, median of 7 rounds; "
              "cuDNN fused = ConvolutionBiasActivationForward + PoolingForward, separate = "
              "ConvolutionForward + AddTensor + ActivationForward + PoolingForward; best = the "
              "faster of the two; ratio > 1: netc faster)\n\n");
  std::printf("| layer | batch | netc us | cuDNN fused us | cuDNN separate us | netc images/s | "
              "cuDNN best images/s | netc GFLOP/s | cuDNN best GFLOP/s | netc %% of FP32 peak | "
              "cuDNN best us / netc us | cuDNN algorithms |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row &r = rows[i].row;
    const int pool = rows[i].entry->spec.g.pool;
    if (r.failed) {
      std::printf("| %s%s | %d | failed | | | | | | | | | |\n", r.layer.c_str(), poolName(pool),
                  r.batch);
      continue;
    }
    const bool fusedBest =
        r.fwdFused.median > 0 && (r.fwdSeparate.median <= 0 || r.fwdFused.median <= r.fwdSeparate.median);
    const double best = fusedBest ? r.fwdFused.median : r.fwdSeparate.median;
    std::printf("| %s%s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | best %s; %s |\n",
                r.layer.c_str(), poolName(pool), r.batch, fmtUs(r.fwdNetc.median).c_str(),
                fmtUs(r.fwdFused.median).c_str(), fmtUs(r.fwdSeparate.median).c_str(),
                fmtImages(r.batch, r.fwdNetc.median).c_str(), fmtImages(r.batch, best).c_str(),
                fmtRate(r.gflop, r.fwdNetc.median).c_str(), fmtRate(r.gflop, best).c_str(),
                pct(r.gflop, r.fwdNetc.median, peak).c_str(),
                fmtRatio(best, r.fwdNetc.median).c_str(), fusedBest ? "fused" : "separate",
                r.fwdAlgos.c_str());
  }
}

void printBackwardTable(const std::vector<MeasuredRow> &rows, double peak) {
  std::printf("\nBackward (netc fused_conv2d_grad vs cuDNN PoolingBackward + ActivationBackward "
              "+ ConvolutionBackwardBias + BackwardFilter + BackwardData; dx only when C > 1; "
              "GFLOP/s counts 2*F*C*K*K*OH*OW*n per product computed; ratio > 1: netc faster)\n\n");
  std::printf("| layer | batch | netc us | cuDNN us | netc images/s | cuDNN images/s | netc "
              "GFLOP/s | cuDNN GFLOP/s | netc %% of FP32 peak | cuDNN us / netc us | cuDNN "
              "algorithms |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row &r = rows[i].row;
    const ConvGeometry &g = rows[i].entry->spec.g;
    if (r.failed) {
      std::printf("| %s%s | %d | failed | | | | | | | | |\n", r.layer.c_str(), poolName(g.pool),
                  r.batch);
      continue;
    }
    std::printf("| %s%s%s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                r.layer.c_str(), poolName(g.pool), g.c > 1 ? "" : " (no dx)", r.batch,
                fmtUs(r.bwdNetc.median).c_str(), fmtUs(r.bwdCudnn.median).c_str(),
                fmtImages(r.batch, r.bwdNetc.median).c_str(),
                fmtImages(r.batch, r.bwdCudnn.median).c_str(),
                fmtRate(r.bwdGflop, r.bwdNetc.median).c_str(),
                fmtRate(r.bwdGflop, r.bwdCudnn.median).c_str(),
                pct(r.bwdGflop, r.bwdNetc.median, peak).c_str(),
                fmtRatio(r.bwdCudnn.median, r.bwdNetc.median).c_str(), r.bwdAlgos.c_str());
  }
}

} // namespace

int runCudaLayers(const CudaOptions &opt, const DeviceInfo &dev) {
  Handles handles(opt.tf32);
  Workspace workspace;
  std::size_t freeBytes = 0, totalBytes = 0;
  NB_CUDA(cudaMemGetInfo(&freeBytes, &totalBytes));
  Context ctx{handles, workspace, std::min<std::size_t>(std::size_t(1) << 30, freeBytes / 8),
              opt.tf32 ? 5e-3 : 1e-4, opt.tf32 ? 1e-2 : 1e-3};
  std::printf("layers: batches");
  for (int n : opt.batches)
    std::printf(" %d", n);
  std::printf("; cuDNN search workspace %zu MiB; math %s\n\n", ctx.searchBytes >> 20,
              opt.tf32 ? "TF32 allowed (--tf32)" : "FP32 (CUDNN_FMA_MATH, CUBLAS_DEFAULT_MATH)");

  std::vector<MeasuredRow> rows;
  bool stopped = false;
  const int rc = measureLayers(opt, ctx, rows, stopped);
  if (stopped)
    return rc;
  printForwardTable(rows, dev.peakGflops);
  printBackwardTable(rows, dev.peakGflops);
  std::printf("\n'-' = not timed: its outputs failed their check (see the check lines), or "
              "the form does not exist for the layer\n");
  return rc;
}

} // namespace netc::bench::gpu
