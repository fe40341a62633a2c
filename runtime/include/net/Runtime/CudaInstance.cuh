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
};

} // namespace netc::cudapath

#endif // NET_RUNTIME_CUDAINSTANCE_CUH
