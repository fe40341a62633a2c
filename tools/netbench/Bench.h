//===- Bench.h - netbench's shared pieces: buffers, checks, timing -*- C++ -*-===//
//
// netbench times, per conv layer shape of the models, the fused kernel
// (Fused.h), the unfused chain of this project's kernels and oneDNN, and a
// whole compiled training step. Every figure is validated before it is timed:
// a kernel whose output disagrees with the unfused chain (the oracle here: its
// kernels are checked against Reference.h by kernel-tests) is not timed.
//
//===----------------------------------------------------------------------===//

#ifndef NETBENCH_BENCH_H
#define NETBENCH_BENCH_H

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace netc::bench {

/// A 64-byte aligned float buffer (the kernels assume only alignof(float);
/// oneDNN prefers cache-line alignment).
class Buffer {
public:
  Buffer() = default;
  explicit Buffer(std::size_t size)
      : size_(size), data_(static_cast<float *>(std::aligned_alloc(
                         64, std::max<std::size_t>(64, (size * sizeof(float) + 63) / 64 * 64)))) {}
  float *data() { return data_.get(); }
  const float *data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  float &operator[](std::size_t i) { return data_.get()[i]; }
  float operator[](std::size_t i) const { return data_.get()[i]; }

private:
  struct Free {
    void operator()(float *p) const { std::free(p); }
  };
  std::size_t size_ = 0;
  std::unique_ptr<float, Free> data_;
};

inline void fillUniform(Buffer &b, float lo, float hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (std::size_t i = 0; i < b.size(); ++i)
    b[i] = u(rng);
}

/// max |a - ref| relative to max |ref| (1 when ref is all zero).
struct Agreement {
  double maxAbsDiff = 0, maxAbsRef = 0;
  double relative() const { return maxAbsDiff / std::max(maxAbsRef, 1e-30); }
  bool ok(double tolerance = 1e-4) const { return relative() <= tolerance; }
};

inline Agreement compare(const float *a, const float *ref, std::size_t size) {
  Agreement g;
  for (std::size_t i = 0; i < size; ++i) {
    g.maxAbsDiff = std::max(g.maxAbsDiff, double(std::fabs(a[i] - ref[i])));
    g.maxAbsRef = std::max(g.maxAbsRef, double(std::fabs(ref[i])));
  }
  return g;
}

/// Combines the agreement of several outputs (dw, db, dx): the worst ratio.
inline Agreement worst(const Agreement &a, const Agreement &b) {
  return a.relative() >= b.relative() ? a : b;
}

using Clock = std::chrono::steady_clock;
inline double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// One measurement: the median call and the fastest, in seconds.
struct Timing {
  double median = 0, fastest = 0;
  bool contended = false; // median still > 1.5x the fastest after every retry
};

/// Times fn: two warm-up calls, then calls timed one by one until >= minTotal
/// seconds and >= 5 calls (3 when a call takes > 0.1 s); median and fastest.
/// Each call is timed alone, not batches of calls, so that a call whose
/// thread was descheduled is an outlier rather than part of every sample.
template <class Fn> Timing timeCalls(Fn &fn, double minTotal) {
  fn();
  fn();
  std::vector<double> calls;
  double total = 0;
  std::size_t minCalls = 5;
  while (total < minTotal || calls.size() < minCalls) {
    auto t0 = Clock::now();
    fn();
    const double dt = seconds(t0, Clock::now());
    calls.push_back(dt);
    total += dt;
    if (dt > 0.1)
      minCalls = 3;
  }
  Timing t;
  t.fastest = *std::min_element(calls.begin(), calls.end());
  std::nth_element(calls.begin(), calls.begin() + calls.size() / 2, calls.end());
  t.median = calls[calls.size() / 2];
  return t;
}

/// CPU time of the whole machine and of this process (clock ticks), to tell
/// how much of a core other processes took during a measurement.
struct CpuSnapshot {
  long long machineBusy = 0, self = 0;
};
CpuSnapshot cpuSnapshot();
/// Cores' worth of CPU that other processes used between a and b, over `wall` s.
double othersCores(const CpuSnapshot &a, const CpuSnapshot &b, double wall);

/// The median seconds per call of fn (timeCalls), retried while the machine
/// is shared. With 2 threads on 2 cores, one other busy process makes every
/// OpenMP region wait a time slice (4-8 ms) to wake its second thread, so
/// the median of a contended run is that slice, not the kernel (every call,
/// the fastest included, pays it). A run during which other processes used
/// more than 10% of a core (/proc/stat minus this process) is retried, up to
/// `tries` times 1 s apart; the run with the lowest median is kept and marked
/// contended if none was clean.
template <class Fn> Timing measure(Fn &&fn, double minTotal = 0.2, int tries = 3) {
  Timing best;
  for (int i = 0; i < tries; ++i) {
    const CpuSnapshot a = cpuSnapshot();
    const auto t0 = Clock::now();
    Timing t = timeCalls(fn, minTotal);
    const double wall = seconds(t0, Clock::now());
    t.contended = othersCores(a, cpuSnapshot(), wall) > 0.1;
    if (i == 0 || (best.contended && !t.contended) ||
        (best.contended == t.contended && t.median < best.median))
      best = t;
    if (!best.contended)
      break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return best;
}

/// The 1-minute load average (/proc/loadavg), or -1.
double loadAverage();
/// "model name" of the first CPU in /proc/cpuinfo.
std::string cpuModel();

/// GFLOP/s of a 2-thread FMA loop (AVX-512 when built for it, else AVX2/FMA,
/// else scalar): the machine's peak for netbench's figures.
double measurePeakGflops(int threads, std::string &isa);

} // namespace netc::bench

#endif // NETBENCH_BENCH_H
