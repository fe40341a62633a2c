//===- conv_ab.cpp - one build of the conv kernels, timed on chosen shapes -===//
//
// Built twice by bench/conv_ab.sh as shared libraries, against a base
// revision's runtime/include and the working tree's; conv_ab_driver.cpp
// loads both into one process and runs every case in turns (the machine's
// slow phases then hit both builds alike). Each case is one (shape, op,
// batch): conv2d_grad_weight, conv2d_grad_input or conv2d (the paths Conv.h
// chooses), timed as the median microseconds of a few calls, with a
// checksum of the result so that the script can tell the two builds agree.
//
//===----------------------------------------------------------------------===//

#include "net/Kernels/Conv.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
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

// Which ops to time (all unless the command line names some).
bool timeForward = true, timeGradWeight = true, timeGradInput = true;

// One timed (shape, op, batch): writes its line "name|op|n|us|GFLOP/s|checksum".
using Case = std::function<void(char *line, int size)>;
std::vector<Case> cases;

// A KxK conv C -> F on an HW x HW plane at stride S, padding PAD (output OHW x OHW).
template <int C, int HW, int F, int K, int S, int PAD, int OHW>
void shape(const char *name, int n) {
  const double flops = 2.0 * n * F * C * K * K * OHW * OHW;
  const int reps = flops > 2e9 ? 5 : 11;
  auto add = [&](bool enabled, const char *op, auto call) {
    if (!enabled)
      return;
    cases.push_back([=](char *line, int size) {
      const auto x = randomVec(std::size_t(n) * C * HW * HW, 1);
      const auto w = randomVec(std::size_t(C) * F * K * K, 2);
      const auto dy = randomVec(std::size_t(n) * F * OHW * OHW, 3);
      std::vector<float> result(std::string(op) == "grad_weight" ? w.size()
                                : std::string(op) == "grad_input" ? x.size()
                                                                  : dy.size());
      const double t = medianMicros([&] { call(n, x, w, dy, result); }, reps);
      std::snprintf(line, std::size_t(size), "%s|%s|%d|%.1f|%.1f|%.6e", name, op, n, t,
                    flops / t * 1e-3, checksum(result));
    });
  };
  using V = std::vector<float>;
  add(timeGradWeight, "grad_weight", [](int n, const V &x, const V &, const V &dy, V &dw) {
    conv2d_grad_weight<C, HW, HW, F, K, K, S, S, PAD, PAD, OHW, OHW>(n, dy.data(), x.data(),
                                                                     dw.data());
  });
  add(timeGradInput, "grad_input", [](int n, const V &, const V &w, const V &dy, V &dx) {
    conv2d_grad_input<C, HW, HW, F, K, K, S, S, PAD, PAD, OHW, OHW>(n, dy.data(), w.data(),
                                                                    dx.data());
  });
  add(timeForward, "forward", [](int n, const V &x, const V &w, const V &, V &y) {
    conv2d<C, HW, HW, F, K, K, S, S, PAD, PAD, OHW, OHW>(n, x.data(), w.data(), y.data());
  });
}

} // namespace

/// Builds the cases the arguments name; their count, or -1 (with a message)
/// for an argument that is not a batch, an op or a family.
extern "C" __attribute__((visibility("default"))) int conv_ab_prepare(int argc, char **argv) {
  std::vector<int> batches;
  bool pointwise = true, spatial = true, mnist = false;
  for (int a = 0; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "forward" || arg == "grad_weight" || arg == "grad_input") {
      if (timeForward && timeGradWeight && timeGradInput)
        timeForward = timeGradWeight = timeGradInput = false;
      (arg == "forward" ? timeForward : arg == "grad_weight" ? timeGradWeight : timeGradInput) =
          true;
    } else if (arg == "1x1" || arg == "3x3" || arg == "mnist") {
      pointwise = arg == "1x1";
      spatial = arg == "3x3";
      mnist = arg == "mnist";
    } else if (const int n = std::atoi(argv[a]); n > 0) {
      batches.push_back(n);
    } else {
      std::fprintf(stderr, "conv_ab: '%s' is not a batch, an op (forward, grad_weight, "
                           "grad_input) or a family (1x1, 3x3, mnist)\n", argv[a]);
      return -1;
    }
  }
  if (batches.empty())
    batches = {1, 16, 64};
  for (int n : batches) {
    if (pointwise) {
      shape<256, 56, 64, 1, 1, 0, 56>("s1 1x1 reduce 256->64 @56", n);
      shape<64, 56, 256, 1, 1, 0, 56>("s1 1x1 expand 64->256 @56", n);
      shape<256, 56, 512, 1, 2, 0, 28>("s2 shortcut 1x1/2 256->512 @56", n);
      shape<1024, 14, 256, 1, 1, 0, 14>("s3 1x1 reduce 1024->256 @14", n);
      shape<256, 14, 1024, 1, 1, 0, 14>("s3 1x1 expand 256->1024 @14", n);
      shape<2048, 7, 512, 1, 1, 0, 7>("s4 1x1 reduce 2048->512 @7", n);
      shape<512, 7, 2048, 1, 1, 0, 7>("s4 1x1 expand 512->2048 @7", n);
    }
    if (spatial) {
      shape<64, 56, 64, 3, 1, 1, 56>("s1 3x3 64->64 @56", n);
      shape<128, 56, 128, 3, 2, 1, 28>("s2 3x3/2 128->128 @56", n);
      shape<128, 28, 128, 3, 1, 1, 28>("s2 3x3 128->128 @28", n);
      shape<256, 28, 256, 3, 2, 1, 14>("s3 3x3/2 256->256 @28", n);
      shape<256, 14, 256, 3, 1, 1, 14>("s3 3x3 256->256 @14", n);
      shape<512, 7, 512, 3, 1, 1, 7>("s4 3x3 512->512 @7", n);
    }
    if (mnist) {
      shape<6, 14, 16, 5, 1, 2, 14>("lenet5 conv2 5x5 6->16 @14", n);
      shape<16, 7, 120, 5, 1, 2, 7>("lenet5 conv3 5x5 16->120 @7", n);
      shape<6, 14, 16, 5, 1, 0, 10>("lenet5_classic conv2 5x5 6->16 @14", n);
      shape<32, 26, 64, 3, 1, 0, 24>("mnist_cnn conv2 3x3 32->64 @26", n);
    }
  }
  return int(cases.size());
}

/// Times case `index` and writes its line.
extern "C" __attribute__((visibility("default"))) void conv_ab_run(int index, char *line,
                                                                    int size) {
  cases[std::size_t(index)](line, size);
}
