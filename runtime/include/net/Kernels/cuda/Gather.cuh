//===- Gather.cuh - a batch of the training set held on the device -*- CUDA -*-===//
//
// gather_batch: the running step's samples (order[first + i], `first` from
// its StepArgs, so a captured step gathers the right batch when replayed)
// of the training set kept on the device as bytes, normalised by table
// lookup: byte p of plane c becomes table[c * tableStride + p], the floats
// the runtime's own gather computes (Data.h, Normalization::table), so the
// CPU and GPU inputs are identical bit for bit. One thread per value; the
// first value's thread of each sample copies its label.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_GATHER_CUH
#define NETC_KERNELS_CUDA_GATHER_CUH

#include "net/Kernels/cuda/Common.cuh"

namespace netc::cuda {
namespace detail {

template <std::int64_t SIZE, std::int64_t PLANES>
__global__ void gatherBatch(int n, const std::uint8_t *__restrict__ pixels,
                            const std::int32_t *__restrict__ labels,
                            const float *__restrict__ table, int tableStride,
                            const std::int64_t *__restrict__ order, Step step,
                            float *__restrict__ input, std::int32_t *__restrict__ labelsOut) {
  constexpr std::int64_t kPlane = SIZE / PLANES;
  const std::int64_t first = step.at().first;
  const std::int64_t total = std::int64_t(n) * SIZE;
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t i = o / SIZE, k = o % SIZE;
    const std::int64_t sample = order[first + i];
    input[o] = table[(k / kPlane) * tableStride + pixels[sample * SIZE + k]];
    if (k == 0)
      labelsOut[i] = labels[sample];
  }
}

} // namespace detail

/// n samples of SIZE values in PLANES planes; `tableStride` is 0 when one
/// table serves every plane, else 256.
template <std::int64_t SIZE, std::int64_t PLANES>
void gather_batch(int n, const std::uint8_t *pixels, const std::int32_t *labels,
                  const float *table, int tableStride, const std::int64_t *order, Step step,
                  float *input, std::int32_t *labelsOut) {
  static_assert(SIZE > 0 && PLANES > 0 && SIZE % PLANES == 0,
                "gather_batch: a sample splits into whole planes");
  detail::gatherBatch<SIZE, PLANES><<<detail::blocksFor(std::int64_t(n) * SIZE),
                                      detail::kThreads>>>(n, pixels, labels, table, tableStride,
                                                          order, step, input, labelsOut);
  NETC_CUDA_CHECK_LAUNCH("gather_batch");
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_GATHER_CUH
