//===- Common.cuh - shared helpers of the CUDA kernel library ---*- CUDA -*-===//
//
// The CUDA kernel library is header-only CUDA C++17 in namespace netc::cuda,
// instantiated by the .cu file netc emits (compiler/lib/Target/CUDA). Every
// launcher has the name, template parameters and arguments of the CPU kernel
// of net/Kernels that it stands for, so one op-to-call printer serves both
// emitters; the pointers are device pointers. Conventions, as on the CPU:
//   - float32, contiguous, NCHW activations; (N, K) after flatten;
//   - `int n` is the samples in this call; every other extent is a template
//     parameter, so index arithmetic folds to constants;
//   - outputs are overwritten, never accumulated into;
//   - no atomics and no float reduced in an order that depends on scheduling:
//     every sum is owned by one thread or reduced by one block in a fixed
//     tree, so a step is bit-for-bit reproducible run to run;
//   - no launcher allocates, copies or synchronises, so a training step can
//     be captured once as a CUDA graph and replayed: what changes from one
//     step to the next (dropout's seed, the learning rate, Adam's t, the
//     step's samples) is read on the device through a `Step` (below), and
//     the loss and correct count are written there.
// Errors: every CUDA call and every launch goes through NETC_CUDA_CHECK, which
// records the first failure with its file and line (library code never
// exits); the model's entry points clear it before a step and turn it into
// NETC_ERROR_DEVICE after (detail::takeError).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_COMMON_CUH
#define NETC_KERNELS_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace netc::cuda {
namespace detail {

/// The first CUDA error since the last takeError(), "" when none. One per
/// host thread: two instances stepped from two threads do not mix errors.
inline std::string &firstError() {
  static thread_local std::string error;
  return error;
}

/// Records `status` when it is an error and none is recorded yet; returns
/// whether the call succeeded.
inline bool check(cudaError_t status, const char *what, const char *file, int line) {
  if (status == cudaSuccess)
    return true;
  std::string &error = firstError();
  if (error.empty())
    error = std::string(file) + ":" + std::to_string(line) + ": " + what + " failed: " +
            cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
  return false;
}

/// The recorded error, cleared.
inline std::string takeError() {
  std::string error;
  error.swap(firstError());
  return error;
}

/// Threads per block of the one-dimensional kernels.
constexpr int kThreads = 256;

/// Blocks to cover `total` elements with kThreads each, capped: the kernels
/// loop grid-stride, so any count is covered.
inline unsigned blocksFor(std::int64_t total) {
  const std::int64_t blocks = (total + kThreads - 1) / kThreads;
  return unsigned(blocks < 1 ? 1 : (blocks > 65535 * 4 ? 65535 * 4 : blocks));
}

/// Sums `value` over a block of kThreads threads in a fixed tree; the result
/// is valid in thread 0. `shared` holds kThreads doubles.
__device__ inline double blockSum(double value, double *shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride)
      shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

} // namespace detail

} // namespace netc::cuda

/// Checks a CUDA runtime call; the failure is recorded with file and line.
#define NETC_CUDA_CHECK(call) ::netc::cuda::detail::check((call), #call, __FILE__, __LINE__)

/// Checks the launch just made (a bad configuration fails here; a fault in
/// the kernel surfaces at the entry point's synchronisation).
#define NETC_CUDA_CHECK_LAUNCH(name)                                                       \
  ::netc::cuda::detail::check(cudaGetLastError(), "launch of " name, __FILE__, __LINE__)

namespace netc::cuda {

/// What changes from one training step to the next, kept on the device.
struct StepArgs {
  std::uint64_t seed = 0;      // dropout's
  std::int64_t t = 0;          // Adam's step, from 1
  std::int64_t first = 0;      // the step's first position in the run's sample order
  float learning_rate = 0;
  float loss = 0;              // written by cross_entropy
  std::int32_t correct = 0;    // written by count_correct
};

/// The step running: args[*cursor]. Kernels read it when they run, not when
/// they are launched, so a captured step serves every step of a run; the
/// cursor advances on the device (advance_step).
struct Step {
  StepArgs *args = nullptr;
  std::int64_t *cursor = nullptr;
  __device__ StepArgs &at() const { return args[*cursor]; }
};

namespace detail {
static __global__ void advanceStep(std::int64_t *cursor) { ++*cursor; }
} // namespace detail

/// Moves `step` to the next StepArgs of its run.
inline void advance_step(Step step) {
  detail::advanceStep<<<1, 1>>>(step.cursor);
  NETC_CUDA_CHECK_LAUNCH("advance_step");
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_COMMON_CUH
