//===- CudaPath.h - the model's CUDA path, as its C++ part sees it -*- C++ -*-===//
//
// Internal to one model .so, not part of the ABI: a model built with nvcc is
// two translation units, the C++ one netc -emit=cpp prints (the ABI, the
// metadata and the CPU path) and the CUDA one netc -emit=cuda prints (this
// interface, on the device). Both include this header, so a mismatch fails
// to compile; the library is built with -fvisibility=hidden, so none of it
// is exported.
//
// An Instance holds the device arena, parameters, optimizer slots and input
// buffers of one netc_instance created for NETC_DEVICE_CUDA, and the
// training set once given. Every function takes host pointers (inputs
// copied in, outputs copied out per call),
// returns false on failure and then says why in `error` (the CUDA call, file
// and line). params and state are laid out as the C++ part's (kParamOffsets,
// kStateOffsets), so upload and download copy each in one piece.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_CUDAPATH_H
#define NET_RUNTIME_CUDAPATH_H

#include "net/Runtime/ModelABI.h"

#include <cstdint>
#include <string>

namespace netc::cudapath {

struct Instance;

/// How create's message begins when there is no GPU to use (no device, or no
/// driver the CUDA runtime can use), as against a failure on one: the
/// runtime says the first in one short line (Instance::fellBackForWantOfGpu).
inline constexpr char kNoUsableDevice[] = "no usable CUDA device";

/// Null and a message when no device is usable (cudaGetDeviceCount fails or
/// finds none, or the memory cannot be had).
Instance *create(std::int32_t batch, std::string &error);
void destroy(Instance *instance);

/// Parameters and optimizer slots, all of them, host to device and back.
bool upload(Instance *instance, const float *params, const float *state, std::string &error);
bool download(Instance *instance, float *params, float *state, std::string &error);

/// The steps of the ABI; `t` is the optimizer step (from 1) and `learning_rate`
/// the rate, both kept by the C++ part's instance.
bool forward(Instance *instance, const float *input, std::int32_t n, float *probabilities,
             std::string &error);
bool evalStep(Instance *instance, const float *input, const std::int32_t *labels, std::int32_t n,
              float *loss, std::int32_t *correct, std::string &error);
bool trainStep(Instance *instance, const float *input, const std::int32_t *labels,
               std::int32_t n, std::uint64_t seed, float learning_rate, std::int64_t t,
               float *loss, std::int32_t *correct, std::string &error);
bool baseForward(Instance *instance, const float *input, std::int32_t n, float *features,
                 std::string &error);
bool headEvalStep(Instance *instance, const float *features, const std::int32_t *labels,
                  std::int32_t n, float *loss, std::int32_t *correct, std::string &error);
bool headTrainStep(Instance *instance, const float *features, const std::int32_t *labels,
                   std::int32_t n, std::uint64_t seed, float learning_rate, std::int64_t t,
                   float *loss, std::int32_t *correct, std::string &error);

/// The training set, copied to the device (netc_set_train_data): NETC_OK,
/// or NETC_ERROR_MEMORY / NETC_ERROR_DEVICE with `error` saying why.
int setTrainData(Instance *instance, const std::uint8_t *pixels, const std::int32_t *labels,
                 std::int64_t count, const float *table, std::int32_t tableChannels,
                 std::string &error);
/// netc_train_steps on the device: the order and the steps' scalars copied
/// in once, every full batch a replay of one captured step graph, the
/// losses and correct counts copied out once. `t` is the optimizer step
/// before the run.
bool trainSteps(Instance *instance, const std::int64_t *indices, std::int64_t count,
                const std::uint64_t *seeds, const float *learningRates, std::int64_t t,
                float *losses, std::int32_t *corrects, std::string &error);

/// netc_set_exchange on the device: the data-parallel steps' exchange, or
/// none (null). While one is set, every training step runs its exchanged
/// copy, staged through host memory, and a run of steps launches each step
/// (no captured graph: the exchange is host code). exchangeFailed says
/// whether the last training call failed in the exchange (then nothing was
/// updated).
bool setExchange(Instance *instance, const netc_exchange *exchange, std::string &error);
bool exchangeFailed(const Instance *instance);
} // namespace netc::cudapath

#endif // NET_RUNTIME_CUDAPATH_H
