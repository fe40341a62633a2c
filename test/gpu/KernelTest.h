//===- KernelTest.h - every CUDA kernel against its CPU twin ---*- CUDA -*-===//
//
// The tests, one file per family of kernels: LayerKernelTest.cu (conv,
// dense, their fused forms, pooling), ChannelKernelTest.cu (per-channel,
// fold_batch_norm, element-wise, dropout), StepKernelTest.cu (loss,
// optimizers, gather_batch, advance_step, error reporting); here what they
// share: the tolerances, device buffers, the Step the kernels read, and the
// fixture.
//
// Each launcher of net/Kernels/cuda (namespace netc::cuda) runs on random
// inputs with fixed seeds at the shapes of KernelCases.h (the template
// arguments netc's emitters pass for models/*.net, resnet50_head's kinds of
// layer at reduced size, and a few variants), and its outputs are compared
// with the CPU kernel of the same name (netc::kernels, built apart in
// KernelReference.cpp) on the same inputs. Where the CUDA kernel reads a
// Step instead of a scalar (dropout's seed, the learning rate, Adam's t) the
// test puts the scalar into a StepArgs that is not the first of its array, so
// a kernel that ignored the cursor would read another value; cross_entropy and
// count_correct are read back from StepArgs::loss / ::correct, the other
// entries checked untouched. gather_batch has no CPU twin and is checked
// against a table lookup on the host. Every output buffer starts as NaN on
// both sides, so an element a kernel fails to write fails the comparison.
// Backward kernels get the CPU forward's outputs (y, saved, batch statistics)
// as inputs on both sides, so each kernel is judged on identical inputs.
//
// Tolerances (element i passes when |gpu - cpu| <= rel*|cpu| + ofMax*max|cpu|,
// KernelCheck.h):
//   exact        equal values. Kernels with no arithmetic or the same single
//                IEEE operations in the same order on both sides: copy, add,
//                mul, relu, relu_grad, bias_add, dropout masks (the same
//                Random.h functions), max pooling and its argmax-routed
//                gradient (ties included: inputs are quantized so that windows
//                hold equal values, and the first maximum must win on both
//                sides), average pooling and its gradient (same summation
//                order, IEEE division on both), global_avg_pool_grad,
//                gather_batch, count_correct, and
//                fused_conv2d's forward outputs and argmax for ACT 0/1: its
//                inputs are multiples of 1/8 and 1/64, so every partial sum
//                is exact in float and the summation order cannot matter.
//   elementwise  rel 1e-6, ofMax 1e-6: the same float formula, which may
//                differ by FMA contraction (nvcc contracts a*b+c, the
//                x86-64-v3 host build may too, differently) or by the 1-2 ulp
//                of CUDA's expf/tanhf against libm (sigmoid, tanh and their
//                gradients, batch norm's affine maps, fold_batch_norm, the
//                optimizers, the fused kernels' dz with sigmoid/tanh,
//                softmax_cross_entropy_grad, whose (p - onehot) * (1/n) may
//                as well be written (p - onehot) / n).
//   forward      rel 1e-5, ofMax 1e-5: float sums of up to ~10^4 products
//                (conv C*KH*KW, dense K, conv grad_input F*KH*KW) in another
//                order; the observed error is ~1e-7..1e-6 of the largest
//                magnitude; a wrong index or tap is off by O(1) of it.
//   reduction    rel 1e-4, ofMax 1e-4: sums over the batch (conv and dense
//                weight gradients, bias_grad, batch norm's dgamma/dbeta,
//                several thousand terms), which the GPU adds in double in a
//                fixed tree or in float 16-wide tiles and the CPU in float
//                in its own order; relative to the largest magnitude, as
//                terms of both signs cancel in individual elements.
//   cross_entropy's loss: rel 1e-6 (a double sum in another order, cast).
//
// Without a usable device (no driver, no GPU, or one below compute
// capability 8.0, which the binary has no code for) every test is skipped
// with "no usable CUDA device: ..."; the check runs in the fixture's SetUp,
// never at static initialisation, so test discovery does not touch the GPU.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_TEST_GPU_KERNELTEST_H
#define NETC_TEST_GPU_KERNELTEST_H

#include "KernelCases.h"
#include "KernelCheck.h"

#include "net/Kernels/cuda/Kernels.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace netc::kgtest {

namespace cu = netc::cuda;

inline constexpr Tolerance kExact{"exact", 0, 0};
inline constexpr Tolerance kElementwise{"elementwise", 1e-6, 1e-6};
inline constexpr Tolerance kForward{"forward", 1e-5, 1e-5};
inline constexpr Tolerance kReduction{"reduction", 1e-4, 1e-4};

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Dims = std::vector<std::int64_t>;

/// Throws (GoogleTest reports it as the test's failure) when a CUDA call of
/// the test itself fails.
inline void cudaOk(cudaError_t status, const char *call, const char *file, int line) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call +
                             " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}
#define KG_CUDA(call) cudaOk((call), #call, __FILE__, __LINE__)

/// Why no device can run the tests, "" when one can. Asked once, from the
/// first test's SetUp.
inline const std::string &deviceProblem() {
  static const std::string problem = [] {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess)
      return std::string("cudaGetDeviceCount failed with ") + cudaGetErrorName(status) + " (" +
             cudaGetErrorString(status) + ")";
    if (count == 0)
      return std::string("cudaGetDeviceCount found none");
    cudaDeviceProp prop;
    const cudaError_t props = cudaGetDeviceProperties(&prop, 0);
    if (props != cudaSuccess)
      return std::string("cudaGetDeviceProperties failed with ") + cudaGetErrorName(props);
    if (prop.major < 8)
      return std::string("device 0 (") + prop.name + ") has compute capability " +
             std::to_string(prop.major) + "." + std::to_string(prop.minor) +
             "; these tests are built for 8.0 and 9.0 and later";
    return std::string();
  }();
  return problem;
}

/// A device array of T, NaN-filled (0xFF bytes: NaN for floats, -1 for ints).
template <typename T> class DeviceBuffer {
public:
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    KG_CUDA(cudaMalloc(&data_, bytes()));
    KG_CUDA(cudaMemset(data_, 0xFF, bytes()));
  }
  explicit DeviceBuffer(const std::vector<T> &host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  operator T *() const { return data_; }
  T *get() const { return data_; }

  void upload(const std::vector<T> &host) {
    if (host.size() != count_)
      throw std::logic_error("DeviceBuffer::upload: size mismatch");
    KG_CUDA(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    KG_CUDA(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

private:
  std::size_t bytes() const { return (count_ ? count_ : 1) * sizeof(T); }
  T *data_ = nullptr;
  std::size_t count_;
};

/// StepArgs on the device with a cursor: the Step the kernels read.
class DeviceStep {
public:
  DeviceStep(const std::vector<cu::StepArgs> &args, std::int64_t cursor)
      : args_(args), cursor_(std::vector<std::int64_t>{cursor}) {}
  cu::Step step() const { return cu::Step{args_.get(), cursor_.get()}; }
  std::vector<cu::StepArgs> args() const { return args_.download(); }
  std::int64_t cursor() const { return cursor_.download()[0]; }

private:
  DeviceBuffer<cu::StepArgs> args_;
  DeviceBuffer<std::int64_t> cursor_;
};

/// StepArgs whose every field is a recognisable sentinel.
inline cu::StepArgs sentinelArgs(int k) {
  cu::StepArgs args;
  args.seed = 0xDEADBEEF00000000ull + k;
  args.t = 1000 + k;
  args.first = 10000 + k;
  args.learning_rate = 1000.f + k;
  args.loss = -1000.f - k;
  args.correct = -1000 - k;
  return args;
}

inline bool sameArgs(const cu::StepArgs &a, const cu::StepArgs &b) {
  return a.seed == b.seed && a.t == b.t && a.first == b.first &&
         a.learning_rate == b.learning_rate && a.loss == b.loss && a.correct == b.correct;
}

/// Waits for the launches, then fails the test when the launchers recorded
/// a CUDA error (NETC_CUDA_CHECK) or a kernel faulted.
inline void expectCleanLaunches(const std::string &what) {
  const cudaError_t sync = cudaDeviceSynchronize();
  const std::string recorded = cu::detail::takeError();
  EXPECT_TRUE(recorded.empty()) << what << ": a launcher recorded a CUDA error: " << recorded;
  if (sync != cudaSuccess)
    throw std::runtime_error(what + ": cudaDeviceSynchronize failed with " +
                             cudaGetErrorName(sync) + " (" + cudaGetErrorString(sync) +
                             "): a kernel faulted");
}

inline std::size_t product(const Dims &dims) {
  std::size_t count = 1;
  for (std::int64_t d : dims)
    count *= std::size_t(d);
  return count;
}

inline std::vector<float> nans(std::size_t count) { return std::vector<float>(count, kNaN); }

/// "<params> (name), n=N": the shape part of a kernel's description.
inline std::string shapeOf(const char *params, const char *name, int n) {
  return std::string("<") + params + "> (" + name + "), n=" + std::to_string(n);
}

template <typename T> const T *orNull(bool present, const std::vector<T> &v) {
  return present ? v.data() : nullptr;
}

} // namespace netc::kgtest

/// Skips without a usable device; clears what an earlier test left recorded.
class CudaKernel : public ::testing::Test {
protected:
  void SetUp() override {
    if (!netc::kgtest::deviceProblem().empty())
      GTEST_SKIP() << "no usable CUDA device: " << netc::kgtest::deviceProblem();
    netc::cuda::detail::takeError();
  }
};

#endif // NETC_TEST_GPU_KERNELTEST_H
