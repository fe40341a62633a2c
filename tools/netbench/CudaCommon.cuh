//===- CudaCommon.cuh - netbench's GPU pieces: checks, buffers, timing -*- CUDA -*-===//
//
// Every CUDA, cuDNN and cuBLAS call of netbench goes through NB_CUDA,
// NB_CUDNN or NB_CUBLAS, which throw GpuError with the call's text, file and
// line and the library's own name for the status; netc's launchers record
// their first failure instead (Common.cuh's NETC_CUDA_CHECK), which NB_NETC
// turns into the same exception. A tool, not a library: the exception stops
// the layer or model being measured, and the caller decides whether the
// device is still usable (a sticky error ends the run).
//
// Timing is on the device: events recorded on the legacy default stream
// (where netc's launchers and, with the handles' default stream, cuDNN and
// cuBLAS run) around a run of back-to-back calls; the median over rounds.
//
//===----------------------------------------------------------------------===//

#ifndef NETBENCH_CUDACOMMON_CUH
#define NETBENCH_CUDACOMMON_CUH

#include "net/Kernels/cuda/Common.cuh"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace netc::bench::gpu {

struct GpuError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::string where(const char *what, const char *file, int line) {
  std::string f = file;
  const std::size_t slash = f.rfind('/');
  return (slash == std::string::npos ? f : f.substr(slash + 1)) + ":" + std::to_string(line) +
         ": " + what + " failed: ";
}

inline void checkCuda(cudaError_t s, const char *what, const char *file, int line) {
  if (s != cudaSuccess)
    throw GpuError(where(what, file, line) + cudaGetErrorName(s) + " (" +
                   cudaGetErrorString(s) + ")");
}
inline void checkCudnn(cudnnStatus_t s, const char *what, const char *file, int line) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw GpuError(where(what, file, line) + cudnnGetErrorString(s));
}
inline void checkCublas(cublasStatus_t s, const char *what, const char *file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw GpuError(where(what, file, line) + cublasGetStatusName(s) + " (" +
                   cublasGetStatusString(s) + ")");
}
/// netc's launchers record the first failure (NETC_CUDA_CHECK_LAUNCH); this
/// throws it, and the launch error that a launcher may not have seen yet.
inline void checkNetc(const char *what, const char *file, int line) {
  std::string error = netc::cuda::detail::takeError();
  if (!error.empty())
    throw GpuError(where(what, file, line) + error);
  checkCuda(cudaGetLastError(), what, file, line);
}

} // namespace netc::bench::gpu

#define NB_CUDA(call) ::netc::bench::gpu::checkCuda((call), #call, __FILE__, __LINE__)
#define NB_CUDNN(call) ::netc::bench::gpu::checkCudnn((call), #call, __FILE__, __LINE__)
#define NB_CUBLAS(call) ::netc::bench::gpu::checkCublas((call), #call, __FILE__, __LINE__)
#define NB_NETC(what) ::netc::bench::gpu::checkNetc(what, __FILE__, __LINE__)

namespace netc::bench::gpu {

/// Device memory of `count` T, freed on destruction.
template <class T> class DeviceArray {
public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t count) { resize(count); }
  DeviceArray(const DeviceArray &) = delete;
  DeviceArray &operator=(const DeviceArray &) = delete;
  DeviceArray(DeviceArray &&o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceArray &operator=(DeviceArray &&o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~DeviceArray() {
    if (p_)
      cudaFree(p_); // nothing to report during unwinding
  }
  void resize(std::size_t count) {
    if (p_)
      NB_CUDA(cudaFree(p_));
    p_ = nullptr;
    n_ = count;
    NB_CUDA(cudaMalloc(reinterpret_cast<void **>(&p_), std::max<std::size_t>(count, 1) * sizeof(T)));
    NB_CUDA(cudaMemset(p_, 0, std::max<std::size_t>(count, 1) * sizeof(T)));
  }
  T *get() const { return p_; }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(T); }

private:
  T *p_ = nullptr;
  std::size_t n_ = 0;
};
using DeviceBuffer = DeviceArray<float>;

inline void upload(DeviceBuffer &d, const std::vector<float> &h) {
  if (h.size() != d.size())
    throw GpuError("upload: " + std::to_string(h.size()) + " floats into a buffer of " +
                   std::to_string(d.size()));
  NB_CUDA(cudaMemcpy(d.get(), h.data(), d.bytes(), cudaMemcpyHostToDevice));
}
inline std::vector<float> download(const float *d, std::size_t count) {
  std::vector<float> h(count);
  NB_CUDA(cudaMemcpy(h.data(), d, count * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}
inline std::vector<float> download(const DeviceBuffer &d) { return download(d.get(), d.size()); }

inline std::vector<float> uniform(std::size_t count, float lo, float hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(count);
  for (float &x : v)
    x = u(rng);
  return v;
}

/// max |a - ref| over max |ref|, where it is, and NaN/Inf detection (a NaN
/// anywhere makes the agreement fail, which fabs-and-max alone would miss).
struct Agreement {
  double maxAbsDiff = 0, maxAbsRef = 0;
  std::size_t worstIndex = 0;
  bool finite = true;
  double relative() const {
    return finite ? maxAbsDiff / std::max(maxAbsRef, 1e-30) : INFINITY;
  }
  bool ok(double tolerance) const { return finite && relative() <= tolerance; }
};

inline Agreement compare(const std::vector<float> &a, const std::vector<float> &ref) {
  Agreement g;
  if (a.size() != ref.size()) {
    g.finite = false;
    return g;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(ref[i])) {
      if (g.finite)
        g.worstIndex = i;
      g.finite = false;
      continue;
    }
    const double d = std::fabs(double(a[i]) - double(ref[i]));
    if (d > g.maxAbsDiff) {
      g.maxAbsDiff = d;
      g.worstIndex = i;
    }
    g.maxAbsRef = std::max(g.maxAbsRef, double(std::fabs(ref[i])));
  }
  return g;
}

/// "rel 1.2e-07 ok" or "rel 3.4e-02 DISAGREES at [i] (a vs ref)".
inline std::string describe(const Agreement &g, double tolerance, const std::vector<float> &a,
                            const std::vector<float> &ref) {
  char buf[256];
  if (g.ok(tolerance)) {
    std::snprintf(buf, sizeof buf, "rel %.2e ok", g.relative());
    return buf;
  }
  const std::size_t i = g.worstIndex;
  std::snprintf(buf, sizeof buf, "rel %.2e (tolerance %.0e) DISAGREES: worst at flat index %zu: "
                "%.6g vs %.6g%s", g.relative(), tolerance, i, i < a.size() ? a[i] : NAN,
                i < ref.size() ? ref[i] : NAN, g.finite ? "" : " (non-finite values)");
  return buf;
}

/// Device events around back-to-back calls of fn on the default stream.
class EventTimer {
public:
  EventTimer() {
    NB_CUDA(cudaEventCreate(&start_));
    NB_CUDA(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer &) = delete;
  EventTimer &operator=(const EventTimer &) = delete;

  /// Seconds per call of fn over `reps` back-to-back calls.
  template <class Fn> double perCall(Fn &fn, int reps) {
    NB_CUDA(cudaEventRecord(start_, 0));
    for (int r = 0; r < reps; ++r)
      fn();
    NB_CUDA(cudaEventRecord(stop_, 0));
    NB_CUDA(cudaEventSynchronize(stop_));
    float ms = 0;
    NB_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
    return double(ms) * 1e-3 / reps;
  }

private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

/// One device measurement: the median of `rounds` rounds, each the mean of
/// back-to-back calls filling about `roundSeconds`; fastest round too.
struct GpuTiming {
  double median = 0, fastest = 0; // seconds per call; 0: not timed
  int callsPerRound = 0;
};

/// Times fn (which must throw on failure): 3 warm-up calls, a calibration
/// call, then `rounds` rounds of back-to-back calls.
template <class Fn>
GpuTiming timeGpu(Fn &&fn, double roundSeconds = 0.02, int rounds = 7) {
  EventTimer timer;
  for (int i = 0; i < 3; ++i)
    fn();
  NB_CUDA(cudaDeviceSynchronize());
  const double once = timer.perCall(fn, 1);
  const int reps = int(std::clamp(roundSeconds / std::max(once, 1e-7), 1.0, 2000.0));
  std::vector<double> perRound;
  for (int r = 0; r < rounds; ++r)
    perRound.push_back(timer.perCall(fn, reps));
  GpuTiming t;
  t.callsPerRound = reps;
  t.fastest = *std::min_element(perRound.begin(), perRound.end());
  std::nth_element(perRound.begin(), perRound.begin() + perRound.size() / 2, perRound.end());
  t.median = perRound[perRound.size() / 2];
  return t;
}

/// cuDNN and cuBLAS handles on the legacy default stream (as netc's launches).
struct Handles {
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  bool tf32 = false;
  explicit Handles(bool allowTf32) : tf32(allowTf32) {
    NB_CUDNN(cudnnCreate(&cudnn));
    NB_CUBLAS(cublasCreate(&cublas));
    // CUBLAS_DEFAULT_MATH keeps FP32 GEMMs in FP32 (TF32 only when asked).
    NB_CUBLAS(cublasSetMathMode(cublas, allowTf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                   : CUBLAS_DEFAULT_MATH));
  }
  ~Handles() {
    if (cublas)
      cublasDestroy(cublas);
    if (cudnn)
      cudnnDestroy(cudnn);
  }
  Handles(const Handles &) = delete;
  Handles &operator=(const Handles &) = delete;
};

/// Formats for the tables.
std::string fmtUs(double seconds);
std::string fmtRate(double perCall, double seconds); // per-call amount / time, 1 decimal
std::string fmtImages(int batch, double seconds);    // batch / time, with thousands commas
std::string fmtRatio(double num, double den);        // "1.23x", "-" if either is 0

} // namespace netc::bench::gpu

#endif // NETBENCH_CUDACOMMON_CUH
