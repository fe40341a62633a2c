//===- KernelBench.cpp - speed of conv and dense against the reference ----===//
//
// Not a test: prints GFLOP/s of conv2d, conv2d_grad_input, conv2d_grad_weight
// (the chosen path, then its direct and im2col + GEMM paths) and dense (forward and both gradients) at batch 128 for the layer shapes of
// lenet5 and the Keras MNIST CNN, beside the plain reference. Each fast result
// is validated against the reference (on 16 samples) before it is timed.
//   ninja -C build-kernels kernel-bench && OMP_NUM_THREADS=2 build-kernels/bin/kernel-bench
// FLOPs counted as 2 * MACs of the dense formula (padding taps included).
//
//===----------------------------------------------------------------------===//

#include "net/Kernels/Conv.h"
#include "net/Kernels/Dense.h"
#include "Reference.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

using namespace netc::kernels;

namespace {

std::vector<float> randomVec(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(size);
  for (float &x : v)
    x = dist(gen);
  return v;
}

template <class F> double bestSeconds(F f, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

double maxRelErr(const std::vector<float> &a, const std::vector<float> &b, std::size_t count) {
  double worst = 0, scale = 1e-3;
  for (std::size_t k = 0; k < count; ++k)
    scale = std::max(scale, double(std::fabs(b[k])));
  for (std::size_t k = 0; k < count; ++k)
    worst = std::max(worst, std::fabs(double(a[k]) - b[k]) / scale);
  return worst;
}

void report(const char *name, const char *op, double flops, double fast, double ref, double err) {
  std::printf("%-10s %-12s %8.3f ms %7.1f GFLOP/s   reference %6.2f GFLOP/s   x%-6.0f err %.1e%s\n",
              name, op, fast * 1e3, flops / fast * 1e-9, flops / ref * 1e-9, ref / fast, err,
              err > 1e-4 ? "  MISMATCH" : "");
}

/// The two conv paths (detail::*Direct, detail::*Gemm) beside the chosen one.
void reportPaths(double flops, double direct, double gemm) {
  std::printf("           %-12s direct %7.1f GFLOP/s   im2col+gemm %7.1f GFLOP/s\n", "",
              flops / direct * 1e-9, flops / gemm * 1e-9);
}

/// The output-channel path (detail::*Channels), with its error on the
/// validation samples.
void reportChannels(double flops, double seconds, double err) {
  std::printf("           %-12s channels %7.1f GFLOP/s  err %.1e%s\n", "", flops / seconds * 1e-9,
              err, err > 1e-4 ? "  MISMATCH" : "");
}

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void benchConv(const char *name) {
  constexpr int n = 128, nr = 16;
  constexpr std::size_t xs = std::size_t(C) * H * W, ys = std::size_t(F) * OH * OW,
                        ws = std::size_t(F) * C * KH * KW;
  const double flops = 2.0 * n * ys * C * KH * KW, flopsRef = flops * nr / n;
  const auto x = randomVec(n * xs, 1), w = randomVec(ws, 2), dy = randomVec(n * ys, 3);
  std::vector<float> y(n * ys), yr(n * ys), dx(n * xs), dxr(n * xs), dw(ws), dwr(ws);
#define ARGS C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW
  // Validate on nr samples, then time.
  conv2d<ARGS>(nr, x.data(), w.data(), y.data());
  double tr = bestSeconds([&] { reference::conv2d<ARGS>(nr, x.data(), w.data(), yr.data()); }, 1);
  const double e0 = maxRelErr(y, yr, nr * ys);
  double tf = bestSeconds([&] { conv2d<ARGS>(n, x.data(), w.data(), y.data()); }, 10);
  report(name, "forward", flops, tf, tr * flops / flopsRef, e0);
  reportPaths(flops,
              bestSeconds([&] { detail::conv2dDirect<ARGS>(n, x.data(), w.data(), y.data()); }, 10),
              bestSeconds([&] { detail::conv2dGemm<ARGS>(n, x.data(), w.data(), y.data()); }, 10));
  if constexpr (detail::channelFloatsPerInput<KH, KW, SH, SW, OH, OW>() <=
                detail::kChannelStackFloats) {
    detail::conv2dChannels<ARGS>(nr, x.data(), w.data(), y.data());
    const double ec = maxRelErr(y, yr, nr * ys);
    const double tc =
        bestSeconds([&] { detail::conv2dChannels<ARGS>(n, x.data(), w.data(), y.data()); }, 10);
    reportChannels(flops, tc, ec);
  }
  if constexpr (SW == 1 && C <= 3 && detail::RowForwardPlan<C, KH, KW, SH, OH, OW>::fits) {
    detail::conv2dForwardRows<ARGS>(nr, x.data(), w.data(), y.data());
    const double er = maxRelErr(y, yr, nr * ys);
    const double trows =
        bestSeconds([&] { detail::conv2dForwardRows<ARGS>(n, x.data(), w.data(), y.data()); }, 10);
    std::printf("           %-12s rows %7.1f GFLOP/s  err %.1e%s\n", "", flops / trows * 1e-9,
                er, er > 1e-4 ? "  MISMATCH" : "");
  }

  conv2d_grad_input<ARGS>(nr, dy.data(), w.data(), dx.data());
  tr = bestSeconds([&] { reference::conv2d_grad_input<ARGS>(nr, dy.data(), w.data(), dxr.data()); }, 1);
  const double e1 = maxRelErr(dx, dxr, nr * xs);
  tf = bestSeconds([&] { conv2d_grad_input<ARGS>(n, dy.data(), w.data(), dx.data()); }, 10);
  report(name, "grad_input", flops, tf, tr * flops / flopsRef, e1);
  reportPaths(flops,
              bestSeconds([&] { detail::conv2dGradInputDirect<ARGS>(n, dy.data(), w.data(), dx.data()); }, 10),
              bestSeconds([&] { detail::conv2dGradInputGemm<ARGS>(n, dy.data(), w.data(), dx.data()); }, 10));
  if constexpr (SH == 1 && SW == 1) {
    detail::conv2dGradInputChannels<ARGS>(nr, dy.data(), w.data(), dx.data());
    const double ec = maxRelErr(dx, dxr, nr * xs);
    const double tc = bestSeconds(
        [&] { detail::conv2dGradInputChannels<ARGS>(n, dy.data(), w.data(), dx.data()); }, 10);
    reportChannels(flops, tc, ec);
  }

  conv2d_grad_weight<ARGS>(nr, dy.data(), x.data(), dw.data());
  tr = bestSeconds([&] { reference::conv2d_grad_weight<ARGS>(nr, dy.data(), x.data(), dwr.data()); }, 1);
  const double e2 = maxRelErr(dw, dwr, ws);
  tf = bestSeconds([&] { conv2d_grad_weight<ARGS>(n, dy.data(), x.data(), dw.data()); }, 10);
  report(name, "grad_weight", flops, tf, tr * flops / flopsRef, e2);
  reportPaths(flops,
              bestSeconds([&] { detail::conv2dGradWeightDirect<ARGS>(n, dy.data(), x.data(), dw.data()); }, 10),
              bestSeconds([&] { detail::conv2dGradWeightGemm<ARGS>(n, dy.data(), x.data(), dw.data()); }, 10));
  if constexpr (detail::ChannelWeightPlan<C, KH, KW, SH, SW, OH, OW>::groupChannels >= 1) {
    detail::conv2dGradWeightChannels<ARGS>(nr, dy.data(), x.data(), dw.data());
    const double ec = maxRelErr(dw, dwr, ws);
    const double tc = bestSeconds(
        [&] { detail::conv2dGradWeightChannels<ARGS>(n, dy.data(), x.data(), dw.data()); }, 10);
    reportChannels(flops, tc, ec);
  }
  if constexpr (SW == 1 && detail::RowWeightPlan<C, KH, KW, SH, OH, OW>::fits) {
    detail::conv2dGradWeightRows<ARGS>(nr, dy.data(), x.data(), dw.data());
    const double er = maxRelErr(dw, dwr, ws);
    const double trows = bestSeconds(
        [&] { detail::conv2dGradWeightRows<ARGS>(n, dy.data(), x.data(), dw.data()); }, 10);
    std::printf("           %-12s rows %7.1f GFLOP/s  err %.1e%s\n", "", flops / trows * 1e-9,
                er, er > 1e-4 ? "  MISMATCH" : "");
  }
#undef ARGS
}

template <int K, int M> void benchDense(const char *name) {
  constexpr int n = 128, nr = 16;
  const double flops = 2.0 * n * K * M, flopsRef = flops * nr / n;
  const auto x = randomVec(std::size_t(n) * K, 1), w = randomVec(std::size_t(M) * K, 2),
             dy = randomVec(std::size_t(n) * M, 3);
  std::vector<float> y(n * M), yr(n * M), dx(std::size_t(n) * K), dxr(std::size_t(n) * K),
      dw(static_cast<std::size_t>(M) * K), dwr(static_cast<std::size_t>(M) * K);
  dense<K, M>(nr, x.data(), w.data(), y.data());
  double tr = bestSeconds([&] { reference::dense<K, M>(nr, x.data(), w.data(), yr.data()); }, 1);
  const double e0 = maxRelErr(y, yr, nr * M);
  double tf = bestSeconds([&] { dense<K, M>(n, x.data(), w.data(), y.data()); }, 20);
  report(name, "forward", flops, tf, tr * flops / flopsRef, e0);
  dense_grad_input<K, M>(nr, dy.data(), w.data(), dx.data());
  tr = bestSeconds([&] { reference::dense_grad_input<K, M>(nr, dy.data(), w.data(), dxr.data()); }, 1);
  const double e1 = maxRelErr(dx, dxr, std::size_t(nr) * K);
  tf = bestSeconds([&] { dense_grad_input<K, M>(n, dy.data(), w.data(), dx.data()); }, 20);
  report(name, "grad_input", flops, tf, tr * flops / flopsRef, e1);
  dense_grad_weight<K, M>(nr, dy.data(), x.data(), dw.data());
  tr = bestSeconds([&] { reference::dense_grad_weight<K, M>(nr, dy.data(), x.data(), dwr.data()); }, 1);
  const double e2 = maxRelErr(dw, dwr, std::size_t(M) * K);
  tf = bestSeconds([&] { dense_grad_weight<K, M>(n, dy.data(), x.data(), dw.data()); }, 20);
  // The reference's grad_weight sums over nr samples only: scale its time.
  report(name, "grad_weight", flops, tf, tr * flops / flopsRef, e2);
}

} // namespace

int main(int argc, char **argv) {
  // An optional argument keeps only the layers whose name contains it.
  const char *only = argc > 1 ? argv[1] : "";
  auto want = [&](const char *name) { return std::strstr(name, only) != nullptr; };
  std::printf("batch 128, %d threads (reference timed on 16 samples, serial; err vs reference "
              "on those)\n", omp_get_max_threads());
  if (want("lenet.c1"))
    benchConv<1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28>("lenet.c1");
  if (want("lenet.c2"))
    benchConv<6, 14, 14, 16, 5, 5, 1, 1, 2, 2, 14, 14>("lenet.c2");
  if (want("lenet.c3"))
    benchConv<16, 7, 7, 120, 5, 5, 1, 1, 2, 2, 7, 7>("lenet.c3");
  if (want("mnist.c1"))
    benchConv<1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 26, 26>("mnist.c1");
  if (want("tf.c1"))
    benchConv<1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 28, 28>("tf.c1");
  if (want("rgb.c1"))
    benchConv<3, 32, 32, 16, 3, 3, 1, 1, 1, 1, 32, 32>("rgb.c1");
  if (want("classic.c1"))
    benchConv<1, 32, 32, 6, 5, 5, 1, 1, 0, 0, 28, 28>("classic.c1");
  if (want("mnist.c2"))
    benchConv<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24>("mnist.c2");
  if (want("lenet.d1"))
    benchDense<5880, 84>("lenet.d1");
  if (want("mnist.d1"))
    benchDense<9216, 128>("mnist.d1");
  return 0;
}
