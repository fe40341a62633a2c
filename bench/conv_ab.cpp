//===- conv_ab.cpp - one build of the conv kernels, timed on ResNet50's shapes -===//
//
// Built twice by bench/conv_ab.sh, against a base revision's runtime/include
// and the working tree's, and run in turns: prints one line per (shape, op,
// batch) with the median microseconds of conv2d_grad_weight, conv2d_grad_input
// or conv2d (the paths Conv.h chooses), and a checksum of the result so that
// the script can tell the two builds agree.
//
//===----------------------------------------------------------------------===//

#include "net/Kernels/Conv.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

using namespace netc::kernels;

namespace {

template <class Fn> double medianMicros(Fn &&fn, int reps) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a)
                    .count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<float> randomVec(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(size);
  for (float &x : v)
    x = dist(gen);
  return v;
}

double checksum(const std::vector<float> &v) {
  double s = 0;
  for (std::size_t k = 0; k < v.size(); k += 7)
    s += v[k];
  return s;
}

// A 1x1 conv C -> F on an HW x HW plane at stride S (output OHW x OHW).
template <int C, int HW, int F, int S, int OHW> void shape(const char *name, int n) {
  const auto x = randomVec(std::size_t(n) * C * HW * HW, 1);
  const auto w = randomVec(std::size_t(C) * F, 2);
  const auto dy = randomVec(std::size_t(n) * F * OHW * OHW, 3);
  std::vector<float> dw(C * std::size_t(F)), dx(x.size()), y(dy.size());
  const double flops = 2.0 * n * F * C * OHW * OHW;
  const int reps = flops > 2e9 ? 5 : 11;
  const double tw = medianMicros(
      [&] {
        conv2d_grad_weight<C, HW, HW, F, 1, 1, S, S, 0, 0, OHW, OHW>(n, dy.data(), x.data(),
                                                                     dw.data());
      },
      reps);
  const double ti = medianMicros(
      [&] {
        conv2d_grad_input<C, HW, HW, F, 1, 1, S, S, 0, 0, OHW, OHW>(n, dy.data(), w.data(),
                                                                    dx.data());
      },
      reps);
  const double tf = medianMicros(
      [&] { conv2d<C, HW, HW, F, 1, 1, S, S, 0, 0, OHW, OHW>(n, x.data(), w.data(), y.data()); },
      reps);
  std::printf("%s|grad_weight|%d|%.1f|%.1f|%.6e\n", name, n, tw, flops / tw * 1e-3, checksum(dw));
  std::printf("%s|grad_input|%d|%.1f|%.1f|%.6e\n", name, n, ti, flops / ti * 1e-3, checksum(dx));
  std::printf("%s|forward|%d|%.1f|%.1f|%.6e\n", name, n, tf, flops / tf * 1e-3, checksum(y));
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int> batches;
  for (int a = 1; a < argc; ++a)
    batches.push_back(std::atoi(argv[a]));
  if (batches.empty())
    batches = {1, 16, 64};
  for (int n : batches) {
    shape<256, 56, 64, 1, 56>("s1 1x1 reduce 256->64 @56", n);
    shape<64, 56, 256, 1, 56>("s1 1x1 expand 64->256 @56", n);
    shape<256, 56, 512, 2, 28>("s2 shortcut 1x1/2 256->512 @56", n);
    shape<1024, 14, 256, 1, 14>("s3 1x1 reduce 1024->256 @14", n);
    shape<256, 14, 1024, 1, 14>("s3 1x1 expand 256->1024 @14", n);
    shape<2048, 7, 512, 1, 7>("s4 1x1 reduce 2048->512 @7", n);
    shape<512, 7, 2048, 1, 7>("s4 1x1 expand 512->2048 @7", n);
  }
}
