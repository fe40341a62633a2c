//===- CudaInstance.cuh - the device state of one model instance -*- CUDA -*-===//
//
// What the generated device step functions (run_forward(Instance *, int n,
// ...), run_train_step(Instance *, int n), ...) and the fixed CUDA path of
// CudaPathImpl.cuh share: CudaPath.h's opaque Instance. Included first by
// every generated CUDA translation unit.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_CUDAINSTANCE_CUH
#define NET_RUNTIME_CUDAINSTANCE_CUH

#include "net/Kernels/cuda/Kernels.cuh"
#include "net/Runtime/CudaPath.h"

#include <cstdint>
#include <vector>

namespace netc::cudapath {

struct Instance {
  int32_t batch = 0;
  float *params = nullptr; // device memory, laid out as the C++ part's
  float *state = nullptr;
  float *arena = nullptr;
  float *input = nullptr; // the batch's inputs (or features)
  int32_t *labels = nullptr;
  // The running step: run.args[*run.cursor], args_capacity of them.
  netc::cuda::Step run;
  int64_t args_capacity = 0;
  std::vector<netc::cuda::StepArgs> host_args; // their host copy, as large
  // The training set (setTrainData) and a run's sample order.
  uint8_t *train_pixels = nullptr;
  int32_t *train_labels = nullptr;
  float *train_table = nullptr;
  int train_table_stride = 0;
  int64_t *order = nullptr;
  int64_t order_capacity = 0;
  // One full-batch training step over the training set, captured; null until
  // the first run, and again whenever a buffer it reads moves.
  cudaGraphExec_t step_graph = nullptr;
  bool use_graph = true; // NETC_CUDA_GRAPHS=0 at creation: launch without it
  // setExchange: the data-parallel steps' exchange (start null: off). Each
  // value handed out is staged in `staging` (host memory laid out as the
  // parameters, so a gradient and its parameter share a place) and copied
  // back after the wait; `staged` lists the step's (device, host, floats).
  netc_exchange exchange{};
  std::vector<float> staging;
  struct Staged {
    float *device, *host;
    int64_t size;
  };
  std::vector<Staged> staged;
  bool exchange_failed = false;
};

// What the data-parallel copies of the training steps (run_*_exchanged)
// call. The exchange works on host memory (Open MPI from Debian is not
// CUDA-aware), so each value goes through `staging`: copied out when it is
// final (the copy waits for the kernels before it), handed out, and copied
// back after the wait, before the updates. False ends the step there.
inline bool exchangeStart(Instance *I, int32_t param, int64_t offset, float *values,
                          int64_t size) {
  float *host = I->staging.data() + offset;
  if (!NETC_CUDA_CHECK(
          cudaMemcpy(host, values, sizeof(float) * size_t(size), cudaMemcpyDeviceToHost)) ||
      I->exchange.start(I->exchange.user, param, host, size) != 0) {
    I->exchange_failed = true;
    return false;
  }
  I->staged.push_back({values, host, size});
  return true;
}

inline bool exchangeWait(Instance *I) {
  bool ok = I->exchange.wait(I->exchange.user) == 0;
  for (const Instance::Staged &s : I->staged)
    ok = ok && NETC_CUDA_CHECK(cudaMemcpy(s.device, s.host, sizeof(float) * size_t(s.size),
                                          cudaMemcpyHostToDevice));
  I->staged.clear();
  I->exchange_failed = !ok;
  return ok;
}

} // namespace netc::cudapath

#endif // NET_RUNTIME_CUDAINSTANCE_CUH
