//===- ModelImpl.h - the fixed part of every compiled model -------*- C++ -*-===//
//
// ModelABI.h's functions, the same for every model: argument checks, the
// instance's allocation, the host mirror of the CUDA path, the training set
// held in the instance. It defines the exported functions, so exactly one
// translation unit of a model includes it: the generated one, which supplies
// what depends on the model and includes this header last:
//
//   struct NetcCompiledModel {
//     static constexpr int64_t kArenaPerSample, kArenaFixed;  // arena floats
//     static constexpr int64_t kParamFloats, kStateFloats;
//     static constexpr int64_t kFoldedFloats;                 // CPU fold cache
//     static constexpr int64_t kInputSize, kInputPlanes;      // one sample
//     static constexpr bool kHasTrain, kHasBase, kHasExchanged;
//     static constexpr const netc_model_info *kInfo;
//     static constexpr const int64_t *kParamOffsets, *kStateOffsets;
//     static void forward(netc_instance *, const float *in, int n, float *out);
//     static void evalStep(netc_instance *, const float *in, const int32_t *labels,
//                          int n, float *loss, int32_t *correct);
//     // with kHasTrain:
//     static void trainStep(netc_instance *, const float *in, const int32_t *labels,
//                           int n, uint64_t seed, float *loss, int32_t *correct);
//     // with kHasBase: baseForward (as forward), headEvalStep (as evalStep),
//     // headTrainStep (as trainStep), on features instead of the input.
//     // with kHasExchanged: trainStepExchanged (and with kHasBase
//     // headTrainStepExchanged), the data-parallel copies (as trainStep).
//   };
//
// and, with NETC_WITH_CUDA, the functions of net/Runtime/CudaPath.h. The
// step functions a model lacks are never named: their callers are in
// discarded `if constexpr` branches of ModelAbi<M>.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_MODELIMPL_H
#define NET_RUNTIME_MODELIMPL_H

#include "net/Runtime/ModelABI.h"
#include "net/Runtime/ModelInstance.h"

#if NETC_WITH_CUDA
#include "net/Runtime/DeviceMirror.h"
#endif

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#define NETC_EXPORT extern "C" __attribute__((visibility("default")))

namespace netc::modelimpl {

/// The checks of every batch call; clears the last error when they pass.
inline bool checkCall(netc_instance *I, const void *input, int32_t n, const void *out) {
  if (!I)
    return false;
  if (!input || !out) {
    I->error = "null input or output pointer";
    return false;
  }
  if (n < 1 || n > I->batch) {
    I->error = "n = " + std::to_string(n) + " is outside [1, " + std::to_string(I->batch) +
               "], the batch this instance was created for";
    return false;
  }
  I->error.clear();
  return true;
}

/// Zeroed floats, 64-byte aligned (whole cache lines, any vector width).
inline float *allocateFloats(int64_t count) {
  size_t bytes = size_t(std::max<int64_t>(count, 1)) * sizeof(float);
  bytes = (bytes + 63) / 64 * 64;
  void *p = std::aligned_alloc(64, bytes);
  if (p)
    std::memset(p, 0, bytes);
  return static_cast<float *>(p);
}


inline int noTrainingStep(netc_instance *I) {
  I->error = "this model has no training step";
  return NETC_ERROR_ARGUMENT;
}
inline int noFrozenBase(netc_instance *I) {
  I->error = "this model has no frozen base to compute features with";
  return NETC_ERROR_ARGUMENT;
}

/// ModelABI.h over the model M (see the top of the file).
template <class M> struct ModelAbi {
  static netc_instance *create(int32_t device, int32_t batch, int32_t threads, char *error,
                               size_t error_size) {
    auto fail = [&](const std::string &message) -> netc_instance * {
      if (error && error_size)
        std::snprintf(error, error_size, "%s", message.c_str());
      return nullptr;
    };
    if (device == NETC_DEVICE_CUDA && !NETC_WITH_CUDA)
      return fail("this model was compiled for the CPU only (no CUDA path: netc found no nvcc "
                  "or was given --no-cuda)");
    if (device != NETC_DEVICE_CPU && device != NETC_DEVICE_CUDA)
      return fail("unknown device " + std::to_string(device));
    const bool onCpu = device == NETC_DEVICE_CPU;
    if (batch < 1 || batch > (1 << 20))
      return fail("batch " + std::to_string(batch) + " is outside [1, 1048576]");
    if (threads > 0)
      omp_set_num_threads(threads);
    auto *I = new (std::nothrow) netc_instance();
    if (!I)
      return fail("out of memory");
    I->batch = batch;
    I->learning_rate = float(M::kInfo->train.learning_rate);
    I->params = allocateFloats(M::kParamFloats);
    I->state = allocateFloats(M::kStateFloats);
    // On the GPU the arena is the device's; params and state are its host mirror.
    const int64_t arenaFloats = M::kArenaPerSample * int64_t(batch) + M::kArenaFixed;
    I->arena = onCpu ? allocateFloats(arenaFloats) : nullptr;
    I->folded = onCpu && M::kFoldedFloats > 0 ? allocateFloats(M::kFoldedFloats) : nullptr;
    if (!I->params || !I->state || (onCpu && !I->arena) ||
        (onCpu && M::kFoldedFloats > 0 && !I->folded)) {
      destroy(I);
      const int64_t folded = onCpu ? M::kFoldedFloats : 0;
      return fail("cannot allocate " + std::to_string(arenaFloats * 4 >> 20) +
                  " MiB for the activations of batch " + std::to_string(batch) +
                  (folded ? " and " + std::to_string(folded * 4 >> 20) +
                                " MiB for the folded batch-norm weights"
                          : std::string()));
    }
#if NETC_WITH_CUDA
    if (!onCpu) {
      std::string why;
      I->cuda = netc::cudapath::create(batch, why);
      if (!I->cuda) {
        destroy(I);
        return fail(why);
      }
    }
#endif
    return I;
  }

  static void destroy(netc_instance *I) {
    if (!I)
      return;
#if NETC_WITH_CUDA
    if (I->cuda)
      netc::cudapath::destroy(I->cuda);
#endif
    std::free(I->params);
    std::free(I->state);
    std::free(I->arena);
    std::free(I->folded);
    std::free(I->gathered);
    std::free(I->gathered_labels);
    delete I;
  }

  static float *paramData(netc_instance *I, int32_t index) {
    if (!I || index < 0 || index >= M::kInfo->num_params)
      return nullptr;
#if NETC_WITH_CUDA
    if (I->cuda && !hostMirror(I))
      return nullptr;
#endif
    I->folds_valid = 0; // the caller may write through the pointer
    return I->params + M::kParamOffsets[index];
  }

  static float *stateData(netc_instance *I, int32_t index) {
    if (!I || index < 0 || index >= M::kInfo->num_state)
      return nullptr;
#if NETC_WITH_CUDA
    if (I->cuda && !hostMirror(I))
      return nullptr;
#endif
    I->folds_valid = 0;
    return I->state + M::kStateOffsets[index];
  }

  static int forward(netc_instance *I, const float *input, int32_t n, float *probabilities) {
    if (!checkCall(I, input, n, probabilities))
      return NETC_ERROR_ARGUMENT;
#if NETC_WITH_CUDA
    if (I->cuda)
      return deviceResult(I, deviceReady(I) && netc::cudapath::forward(I->cuda, input, n,
                                                                       probabilities, I->error));
#endif
    M::forward(I, input, n, probabilities);
    return NETC_OK;
  }

  static int evalStep(netc_instance *I, const float *input, const int32_t *labels, int32_t n,
                      float *loss, int32_t *correct) {
    if (!checkCall(I, input, n, labels) || !loss || !correct)
      return NETC_ERROR_ARGUMENT;
#if NETC_WITH_CUDA
    if (I->cuda)
      return deviceResult(I, deviceReady(I) && netc::cudapath::evalStep(I->cuda, input, labels,
                                                                        n, loss, correct,
                                                                        I->error));
#endif
    M::evalStep(I, input, labels, n, loss, correct);
    return NETC_OK;
  }

  static int trainStep(netc_instance *I, const float *input, const int32_t *labels, int32_t n,
                       uint64_t seed, float *loss, int32_t *correct) {
    if (!checkCall(I, input, n, labels) || !loss || !correct)
      return NETC_ERROR_ARGUMENT;
    if constexpr (!M::kHasTrain) {
      (void)seed;
      return noTrainingStep(I);
    } else {
#if NETC_WITH_CUDA
      if (I->cuda) {
        const int64_t before = I->step;
        return deviceTrained(I,
                             deviceReady(I) &&
                                 netc::cudapath::trainStep(I->cuda, input, labels, n, seed,
                                                           I->learning_rate, ++I->step, loss,
                                                           correct, I->error),
                             before);
      }
#endif
      return hostTrainStep(I, input, labels, n, seed, loss, correct);
    }
  }

  /// A training step on the CPU path, in its data-parallel form
  /// (run_train_step_exchanged) when an exchange is set. A failed exchange
  /// ends that form before its updates; the step count is then restored.
  static int hostTrainStep(netc_instance *I, const float *input, const int32_t *labels, int n,
                           uint64_t seed, float *loss, int32_t *correct) {
    if constexpr (M::kHasExchanged) {
      if (I->exchange.start)
        return exchanged(I, [&] {
          M::trainStepExchanged(I, input, labels, n, seed, loss, correct);
        });
    }
    M::trainStep(I, input, labels, n, seed, loss, correct);
    return NETC_OK;
  }

  template <typename Step>
  static int exchanged(netc_instance *I, Step step) {
    const int64_t count = I->step;
    I->exchange_failed = false;
    step();
    if (!I->exchange_failed)
      return NETC_OK;
    I->step = count;
    I->error = "the data-parallel exchange failed; the step changed no parameter";
    return NETC_ERROR_EXCHANGE;
  }

  static int setExchange(netc_instance *I, const netc_exchange *exchange) {
    if (!I)
      return NETC_ERROR_ARGUMENT;
    if (exchange && (!exchange->start || !exchange->wait)) {
      I->error = "an exchange without its start or wait function";
      return NETC_ERROR_ARGUMENT;
    }
#if NETC_WITH_CUDA
    // The device instance keeps its own (CudaInstance.cuh).
    if (I->cuda) {
      if (!netc::cudapath::setExchange(I->cuda, exchange, I->error))
        return NETC_ERROR_ARGUMENT;
      I->error.clear();
      return NETC_OK;
    }
#endif
    if (!exchange) {
      I->exchange = netc_exchange{};
      return NETC_OK;
    }
    if constexpr (!M::kHasExchanged) {
      I->error = M::kHasTrain ? "this model has no data-parallel training step (recompile it "
                                "with this netc)"
                              : "this model has no training step";
      return NETC_ERROR_ARGUMENT;
    }
    I->error.clear();
    I->exchange = *exchange;
    return NETC_OK;
  }

  static int baseForward(netc_instance *I, const float *input, int32_t n, float *features) {
    if (!checkCall(I, input, n, features))
      return NETC_ERROR_ARGUMENT;
    if constexpr (!M::kHasBase) {
      return noFrozenBase(I);
    } else {
#if NETC_WITH_CUDA
      if (I->cuda)
        return deviceResult(I, deviceReady(I) && netc::cudapath::baseForward(I->cuda, input, n,
                                                                             features, I->error));
#endif
      M::baseForward(I, input, n, features);
      return NETC_OK;
    }
  }

  static int headEvalStep(netc_instance *I, const float *features, const int32_t *labels,
                          int32_t n, float *loss, int32_t *correct) {
    if (!checkCall(I, features, n, labels) || !loss || !correct)
      return NETC_ERROR_ARGUMENT;
    if constexpr (!M::kHasBase) {
      return noFrozenBase(I);
    } else {
#if NETC_WITH_CUDA
      if (I->cuda)
        return deviceResult(I, deviceReady(I) &&
                                   netc::cudapath::headEvalStep(I->cuda, features, labels, n,
                                                                loss, correct, I->error));
#endif
      M::headEvalStep(I, features, labels, n, loss, correct);
      return NETC_OK;
    }
  }

  static int headTrainStep(netc_instance *I, const float *features, const int32_t *labels,
                           int32_t n, uint64_t seed, float *loss, int32_t *correct) {
    if (!checkCall(I, features, n, labels) || !loss || !correct)
      return NETC_ERROR_ARGUMENT;
    if constexpr (!M::kHasBase) {
      (void)seed;
      return noFrozenBase(I);
    } else {
#if NETC_WITH_CUDA
      if (I->cuda) {
        const int64_t before = I->step;
        return deviceTrained(I,
                             deviceReady(I) &&
                                 netc::cudapath::headTrainStep(I->cuda, features, labels, n,
                                                               seed, I->learning_rate, ++I->step,
                                                               loss, correct, I->error),
                             before);
      }
#endif
      if constexpr (M::kHasExchanged) {
        if (I->exchange.start)
          return exchanged(I, [&] {
            M::headTrainStepExchanged(I, features, labels, n, seed, loss, correct);
          });
      }
      M::headTrainStep(I, features, labels, n, seed, loss, correct);
      return NETC_OK;
    }
  }

  static int setTrainData(netc_instance *I, const uint8_t *pixels, const int32_t *labels,
                          int64_t count, const float *table, int32_t table_channels) {
    if (!I)
      return NETC_ERROR_ARGUMENT;
    if (!pixels || !labels || !table) {
      I->error = "null pixels, labels or table";
      return NETC_ERROR_ARGUMENT;
    }
    if (count < 1) {
      I->error = "a training set of " + std::to_string(count) + " samples";
      return NETC_ERROR_ARGUMENT;
    }
    if (table_channels != 1 && table_channels != M::kInputPlanes) {
      I->error = "a normalisation table for " + std::to_string(table_channels) +
                 " channels; the input has " + std::to_string(M::kInputPlanes);
      return NETC_ERROR_ARGUMENT;
    }
    const int32_t classes = M::kInfo->classes;
    for (int64_t i = 0; i < count; ++i)
      if (labels[i] < 0 || labels[i] >= classes) {
        I->error = "label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                   " is outside [0, " + std::to_string(classes) + ")";
        return NETC_ERROR_ARGUMENT;
      }
    I->error.clear();
    I->train_count = 0;
#if NETC_WITH_CUDA
    if (I->cuda) {
      const int code = netc::cudapath::setTrainData(I->cuda, pixels, labels, count, table,
                                                    table_channels, I->error);
      if (code == NETC_OK)
        I->train_count = count;
      return code;
    }
#endif
    I->train_pixels = pixels;
    I->train_labels = labels;
    I->train_table = table;
    I->train_table_channels = table_channels;
    I->train_count = count;
    return NETC_OK;
  }

  static int trainSteps(netc_instance *I, const int64_t *indices, int64_t count,
                        const uint64_t *seeds, const float *learning_rates, float *losses,
                        int32_t *corrects) {
    if (!I)
      return NETC_ERROR_ARGUMENT;
    if (!indices || !seeds || !learning_rates || !losses || !corrects) {
      I->error = "null indices, seeds, learning_rates, losses or corrects";
      return NETC_ERROR_ARGUMENT;
    }
    if (I->train_count == 0) {
      I->error = "no training set: netc_set_train_data first";
      return NETC_ERROR_ARGUMENT;
    }
    if (count < 1) {
      I->error = "netc_train_steps over " + std::to_string(count) + " samples";
      return NETC_ERROR_ARGUMENT;
    }
    for (int64_t i = 0; i < count; ++i)
      if (indices[i] < 0 || indices[i] >= I->train_count) {
        I->error = "indices[" + std::to_string(i) + "] = " + std::to_string(indices[i]) +
                   " is outside the training set of " + std::to_string(I->train_count) +
                   " samples";
        return NETC_ERROR_ARGUMENT;
      }
    I->error.clear();
    if constexpr (!M::kHasTrain) {
      return noTrainingStep(I);
    } else {
      const int64_t steps = (count + I->batch - 1) / I->batch;
#if NETC_WITH_CUDA
      if (I->cuda) {
        if (!deviceReady(I))
          return deviceResult(I, false);
        const bool ok = netc::cudapath::trainSteps(I->cuda, indices, count, seeds,
                                                   learning_rates, I->step, losses, corrects,
                                                   I->error);
        const int64_t before = I->step;
        if (ok) {
          I->step += steps;
          I->learning_rate = learning_rates[steps - 1];
        }
        return deviceTrained(I, ok, before);
      }
#endif
      if (!I->gathered) {
        I->gathered = allocateFloats(M::kInputSize * I->batch);
        I->gathered_labels =
            static_cast<int32_t *>(std::malloc(sizeof(int32_t) * size_t(I->batch)));
        if (!I->gathered || !I->gathered_labels) {
          I->error = "out of memory for a gathered batch";
          return NETC_ERROR_MEMORY;
        }
      }
      constexpr int64_t kPlaneSize = M::kInputSize / M::kInputPlanes;
      const int64_t tableStride = I->train_table_channels == 1 ? 0 : 256;
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t first = s * I->batch;
        const int n = int(std::min<int64_t>(I->batch, count - first));
        // The runtime's gather, as a table lookup: byte p of plane c is
        // table[c * 256 + p], the very floats Samples::gather computes.
        for (int i = 0; i < n; ++i) {
          const int64_t sample = indices[first + i];
          const uint8_t *src = I->train_pixels + sample * M::kInputSize;
          float *dst = I->gathered + int64_t(i) * M::kInputSize;
          for (int64_t c = 0; c < M::kInputPlanes; ++c) {
            const float *values = I->train_table + c * tableStride;
            for (int64_t k = c * kPlaneSize; k < (c + 1) * kPlaneSize; ++k)
              dst[k] = values[src[k]];
          }
          I->gathered_labels[i] = I->train_labels[sample];
        }
        I->learning_rate = learning_rates[s];
        if (int code = hostTrainStep(I, I->gathered, I->gathered_labels, n, seeds[s],
                                     &losses[s], &corrects[s]);
            code != NETC_OK)
          return code;
      }
      return NETC_OK;
    }
  }
};

} // namespace netc::modelimpl

// The exported C ABI (ModelABI.h), over the model the including file defines.
using NetcModelAbi = netc::modelimpl::ModelAbi<NetcCompiledModel>;

NETC_EXPORT const netc_model_info *netc_model(void) { return NetcCompiledModel::kInfo; }

NETC_EXPORT netc_instance *netc_create(int32_t device, int32_t batch, int32_t threads,
                                       char *error, size_t error_size) {
  return NetcModelAbi::create(device, batch, threads, error, error_size);
}

NETC_EXPORT void netc_destroy(netc_instance *I) { NetcModelAbi::destroy(I); }

NETC_EXPORT float *netc_param_data(netc_instance *I, int32_t index) {
  return NetcModelAbi::paramData(I, index);
}

NETC_EXPORT float *netc_state_data(netc_instance *I, int32_t index) {
  return NetcModelAbi::stateData(I, index);
}

NETC_EXPORT int64_t netc_get_step(const netc_instance *I) { return I ? I->step : 0; }
NETC_EXPORT void netc_set_step(netc_instance *I, int64_t step) {
  if (I)
    I->step = step;
}
NETC_EXPORT void netc_set_learning_rate(netc_instance *I, float learning_rate) {
  if (I)
    I->learning_rate = learning_rate;
}
NETC_EXPORT const char *netc_last_error(const netc_instance *I) {
  return I ? I->error.c_str() : "no instance";
}

NETC_EXPORT int netc_forward(netc_instance *I, const float *input, int32_t n,
                             float *probabilities) {
  return NetcModelAbi::forward(I, input, n, probabilities);
}

NETC_EXPORT int netc_eval_step(netc_instance *I, const float *input, const int32_t *labels,
                               int32_t n, float *loss, int32_t *correct) {
  return NetcModelAbi::evalStep(I, input, labels, n, loss, correct);
}

NETC_EXPORT int netc_train_step(netc_instance *I, const float *input, const int32_t *labels,
                                int32_t n, uint64_t seed, float *loss, int32_t *correct) {
  return NetcModelAbi::trainStep(I, input, labels, n, seed, loss, correct);
}

NETC_EXPORT int netc_set_train_data(netc_instance *I, const uint8_t *pixels,
                                    const int32_t *labels, int64_t count, const float *table,
                                    int32_t table_channels) {
  return NetcModelAbi::setTrainData(I, pixels, labels, count, table, table_channels);
}

NETC_EXPORT int netc_train_steps(netc_instance *I, const int64_t *indices, int64_t count,
                                 const uint64_t *seeds, const float *learning_rates,
                                 float *losses, int32_t *corrects) {
  return NetcModelAbi::trainSteps(I, indices, count, seeds, learning_rates, losses, corrects);
}

NETC_EXPORT int netc_set_exchange(netc_instance *I, const netc_exchange *exchange) {
  return NetcModelAbi::setExchange(I, exchange);
}

NETC_EXPORT int netc_base_forward(netc_instance *I, const float *input, int32_t n,
                                  float *features) {
  return NetcModelAbi::baseForward(I, input, n, features);
}

NETC_EXPORT int netc_head_eval_step(netc_instance *I, const float *features,
                                    const int32_t *labels, int32_t n, float *loss,
                                    int32_t *correct) {
  return NetcModelAbi::headEvalStep(I, features, labels, n, loss, correct);
}

NETC_EXPORT int netc_head_train_step(netc_instance *I, const float *features,
                                     const int32_t *labels, int32_t n, uint64_t seed,
                                     float *loss, int32_t *correct) {
  return NetcModelAbi::headTrainStep(I, features, labels, n, seed, loss, correct);
}

#endif // NET_RUNTIME_MODELIMPL_H
