//===- Machine.cpp - load, CPU model and the 2-thread FMA peak -------------===//
//
// Peak napkin (Zen 5, AVX-512): 2 cores x 2 FMA pipes x 16 lanes x 2 flops x
// GHz = 128 flops/cycle, ~ 500 GFLOP/s at ~4 GHz. The loop keeps 16
// independent accumulators per thread (FMA latency 4 x 2 pipes = 8 in flight
// needed), so it is throughput-bound, not latency-bound.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"

#include <fstream>
#include <immintrin.h>
#include <omp.h>
#include <unistd.h>

namespace netc::bench {

double loadAverage() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

CpuSnapshot cpuSnapshot() {
  CpuSnapshot snap;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long v[8] = {};
  stat >> cpu;
  for (long long &x : v)
    stat >> x;
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  snap.machineBusy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  std::ifstream self("/proc/self/stat");
  std::string field;
  for (int i = 1; i <= 15 && self >> field; ++i)
    if (i == 14 || i == 15) // utime, stime
      snap.self += std::atoll(field.c_str());
  return snap;
}

double othersCores(const CpuSnapshot &a, const CpuSnapshot &b, double wall) {
  const double ticks = double(sysconf(_SC_CLK_TCK));
  const double others = double((b.machineBusy - a.machineBusy) - (b.self - a.self));
  return std::max(0.0, others / ticks / std::max(wall, 1e-9));
}

namespace {

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
constexpr const char *kIsa = "AVX-512 (16 lanes)";
inline Vec vset(float v) { return _mm512_set1_ps(v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(Vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8;
constexpr const char *kIsa = "AVX2+FMA (8 lanes)";
inline Vec vset(float v) { return _mm256_set1_ps(v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(Vec v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  float s = 0;
  for (float f : t)
    s += f;
  return s;
}
#else
using Vec = float;
constexpr int kLanes = 1;
constexpr const char *kIsa = "scalar";
inline Vec vset(float v) { return v; }
inline Vec vfma(Vec a, Vec b, Vec c) { return a * b + c; }
inline float vsum(Vec v) { return v; }
#endif

constexpr int kAcc = 16;

/// iters x kAcc FMAs of kLanes lanes; returns a value so nothing is dropped.
float fmaLoop(long iters) {
  Vec acc[kAcc];
  for (int i = 0; i < kAcc; ++i)
    acc[i] = vset(float(i) * 1e-3f);
  const Vec m = vset(0.999999f), c = vset(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < kAcc; ++i)
      acc[i] = vfma(acc[i], m, c);
  float s = 0;
  for (int i = 0; i < kAcc; ++i)
    s += vsum(acc[i]);
  return s;
}

} // namespace

double measurePeakGflops(int threads, std::string &isa) {
  isa = kIsa;
  volatile float sink = 0;
  const long iters = 20'000'000;
  // The best of up to 10 runs of ~0.1 s, counting only runs during which
  // other processes took < 10% of a core (any run if none was clean).
  double best = 0, bestAny = 0;
  for (int rep = 0, clean = 0; rep < 10 && clean < 3; ++rep) {
    const CpuSnapshot c0 = cpuSnapshot();
    auto t0 = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fmaLoop(iters);
    const double dt = seconds(t0, Clock::now());
    const double rate = 2.0 * kLanes * kAcc * double(iters) * threads / dt * 1e-9;
    bestAny = std::max(bestAny, rate);
    if (othersCores(c0, cpuSnapshot(), dt) < 0.1) {
      best = std::max(best, rate);
      ++clean;
    } else {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  (void)sink;
  if (best == 0)
    isa += ", machine shared during every run: a low estimate";
  return best > 0 ? best : bestAny;
}

} // namespace netc::bench
