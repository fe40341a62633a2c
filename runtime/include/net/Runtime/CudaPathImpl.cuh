//===- CudaPathImpl.cuh - the fixed part of every model's CUDA path -*- CUDA -*-===//
//
// CudaPath.h's functions, the same for every model: the device instance's
// allocation, the copies of a call's inputs in and outputs out, error
// collection, the training set held on the device and the run of steps
// over it, captured once as a CUDA graph and replayed. It defines
// CudaPath.h's functions, so exactly one translation unit of a model
// includes it: the generated CUDA one, which supplies what depends on the
// model and includes this header last:
//
//   struct NetcDeviceModel {
//     static constexpr int64_t kArenaPerSample, kArenaFixed;  // arena floats
//     static constexpr int64_t kParamFloats, kStateFloats;
//     static constexpr int64_t kInputSize, kInputPlanes;      // one sample
//     static constexpr int64_t kFeatureSize;                  // 0 without a base
//     static constexpr int64_t kInputFloats;                  // the input buffer's, a sample
//     static constexpr bool kHasTrain, kHasBase;
//     static void forward(Instance *, int n, float *out);     // host out
//     static void evalStep(Instance *, int n);                // into I->run
//     // with kHasTrain:
//     static void trainStep(Instance *, int n);
//     // with kHasBase: baseForward (as forward), headEvalStep, headTrainStep.
//   };
//
// The steps read their inputs from I->input and I->labels and their scalars
// (seed, learning rate, Adam's t) from I->run, and write the loss and the
// correct count there. The step functions a model lacks are never named.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_CUDAPATHIMPL_CUH
#define NET_RUNTIME_CUDAPATHIMPL_CUH

#include "net/Kernels/cuda/Kernels.cuh"
#include "net/Runtime/CudaInstance.cuh"
#include "net/Runtime/CudaPath.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace netc::cudapath::impl {

namespace k = netc::cuda;

/// Runs `body` (kernel launches), waits for the device and turns the first
/// CUDA error recorded on the way into `error`.
template <typename Body> bool step(std::string &error, Body body) {
  k::detail::takeError();
  body();
  NETC_CUDA_CHECK(cudaDeviceSynchronize());
  error = k::detail::takeError();
  return error.empty();
}

/// Zeroed device memory for `count` values (at least one).
template <typename T> bool allocate(T **p, int64_t count) {
  const size_t bytes = size_t(std::max<int64_t>(count, 1)) * sizeof(T);
  return NETC_CUDA_CHECK(cudaMalloc(p, bytes)) && NETC_CUDA_CHECK(cudaMemset(*p, 0, bytes));
}

/// A call from the host is a run of one step: its scalars into run.args[0],
/// the cursor at 0, and n samples of `floats` values (and their labels)
/// copied into the input buffers.
inline bool beginCall(Instance *I, uint64_t seed, float learning_rate, int64_t t,
                      const float *input, int64_t floats, const int32_t *labels, int n) {
  k::StepArgs args;
  args.seed = seed;
  args.learning_rate = learning_rate;
  args.t = t;
  return NETC_CUDA_CHECK(cudaMemcpy(I->run.args, &args, sizeof args, cudaMemcpyHostToDevice)) &&
         NETC_CUDA_CHECK(cudaMemset(I->run.cursor, 0, sizeof(int64_t))) &&
         NETC_CUDA_CHECK(cudaMemcpy(I->input, input, sizeof(float) * floats * n,
                                    cudaMemcpyHostToDevice)) &&
         (!labels || NETC_CUDA_CHECK(cudaMemcpy(I->labels, labels, sizeof(int32_t) * n,
                                                cudaMemcpyHostToDevice)));
}

/// The loss and correct count the step of a call wrote.
inline void endCall(Instance *I, float *loss, int32_t *correct) {
  k::StepArgs args;
  if (NETC_CUDA_CHECK(cudaMemcpy(&args, I->run.args, sizeof args, cudaMemcpyDeviceToHost))) {
    *loss = args.loss;
    *correct = args.correct;
  }
}

inline void dropGraph(Instance *I) {
  if (I->step_graph)
    NETC_CUDA_CHECK(cudaGraphExecDestroy(I->step_graph));
  I->step_graph = nullptr;
}

inline bool missing(std::string &error, const char *what) {
  error = std::string("this model has no ") + what;
  return false;
}

/// Room for a run of `count` samples in `steps` steps; buffers that move
/// drop the captured graph.
inline bool reserveRun(Instance *I, int64_t count, int64_t steps) {
  if (count > I->order_capacity) {
    dropGraph(I);
    cudaFree(I->order);
    I->order = nullptr;
    I->order_capacity = 0;
    if (!allocate(&I->order, count))
      return false;
    I->order_capacity = count;
  }
  if (steps > I->args_capacity) {
    dropGraph(I);
    cudaFree(I->run.args);
    I->run.args = nullptr;
    I->args_capacity = 0;
    if (!allocate(&I->run.args, steps))
      return false;
    I->args_capacity = steps;
    I->host_args.resize(size_t(steps));
  }
  return true;
}

/// CudaPath.h over the model M (see the top of the file).
template <class M> struct CudaPathImpl {
  static Instance *create(int32_t batch, std::string &error) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      (void)cudaGetLastError(); // not sticky: clear it
      error = std::string(kNoUsableDevice) + ": cudaGetDeviceCount failed with " +
              cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
      return nullptr;
    }
    if (count == 0) {
      error = std::string(kNoUsableDevice) + ": cudaGetDeviceCount found none";
      return nullptr;
    }
    if (batch > 65535) { // the kernels put the samples in a grid dimension
      error = "batch " + std::to_string(batch) + " is above the GPU path's 65535";
      return nullptr;
    }
    auto *I = new (std::nothrow) Instance();
    if (!I) {
      error = "out of memory";
      return nullptr;
    }
    I->batch = batch;
    const int64_t arena = M::kArenaPerSample * int64_t(batch) + M::kArenaFixed;
    k::detail::takeError();
    const bool ok = allocate(&I->params, M::kParamFloats) &&
                    allocate(&I->state, M::kStateFloats) && allocate(&I->arena, arena) &&
                    allocate(&I->input, M::kInputFloats * batch) &&
                    allocate(&I->labels, int64_t(batch)) && allocate(&I->run.args, 1) &&
                    allocate(&I->run.cursor, 1);
    if (!ok) {
      error = "cannot allocate " +
              std::to_string((M::kParamFloats + M::kStateFloats + arena +
                              M::kInputFloats * batch) *
                                 4 >>
                             20) +
              " MiB on the GPU for batch " + std::to_string(batch) + ": " +
              k::detail::takeError();
      destroy(I);
      return nullptr;
    }
    I->args_capacity = 1;
    I->host_args.resize(1);
    const char *graphs = std::getenv("NETC_CUDA_GRAPHS");
    I->use_graph = !(graphs && std::string(graphs) == "0");
    return I;
  }

  static void destroy(Instance *I) {
    if (!I)
      return;
    dropGraph(I);
    for (void *p : {(void *)I->params, (void *)I->state, (void *)I->arena, (void *)I->input,
                    (void *)I->labels, (void *)I->run.args, (void *)I->run.cursor,
                    (void *)I->train_pixels, (void *)I->train_labels, (void *)I->train_table,
                    (void *)I->order})
      cudaFree(p);
    k::detail::takeError();
    delete I;
  }

  static bool upload(Instance *I, const float *params, const float *state, std::string &error) {
    return step(error, [&] {
      NETC_CUDA_CHECK(cudaMemcpy(I->params, params, sizeof(float) * M::kParamFloats,
                                 cudaMemcpyHostToDevice));
      if (M::kStateFloats)
        NETC_CUDA_CHECK(cudaMemcpy(I->state, state, sizeof(float) * M::kStateFloats,
                                   cudaMemcpyHostToDevice));
    });
  }

  static bool download(Instance *I, float *params, float *state, std::string &error) {
    return step(error, [&] {
      NETC_CUDA_CHECK(cudaMemcpy(params, I->params, sizeof(float) * M::kParamFloats,
                                 cudaMemcpyDeviceToHost));
      if (M::kStateFloats)
        NETC_CUDA_CHECK(cudaMemcpy(state, I->state, sizeof(float) * M::kStateFloats,
                                   cudaMemcpyDeviceToHost));
    });
  }

  static bool forward(Instance *I, const float *input, int32_t n, float *probabilities,
                      std::string &error) {
    return step(error, [&] {
      if (beginCall(I, 0, 0, 0, input, M::kInputSize, nullptr, n))
        M::forward(I, n, probabilities);
    });
  }

  static bool evalStep(Instance *I, const float *input, const int32_t *labels, int32_t n,
                       float *loss, int32_t *correct, std::string &error) {
    return step(error, [&] {
      if (!beginCall(I, 0, 0, 0, input, M::kInputSize, labels, n))
        return;
      M::evalStep(I, n);
      endCall(I, loss, correct);
    });
  }

  static bool trainStep(Instance *I, const float *input, const int32_t *labels, int32_t n,
                        uint64_t seed, float learning_rate, int64_t t, float *loss,
                        int32_t *correct, std::string &error) {
    if constexpr (!M::kHasTrain) {
      return missing(error, "training step");
    } else {
      return exchanged(I, error, step(error, [&] {
        if (!beginCall(I, seed, learning_rate, t, input, M::kInputSize, labels, n))
          return;
        if (runTrainStep(I, n))
          endCall(I, loss, correct);
      }));
    }
  }

  /// The step, or its exchanged copy while an exchange is set; false when
  /// the exchange failed.
  static bool runTrainStep(Instance *I, int n) {
    if constexpr (M::kHasExchanged) {
      if (I->exchange.start) {
        I->exchange_failed = false;
        M::trainStepExchanged(I, n);
        return !I->exchange_failed;
      }
    }
    M::trainStep(I, n);
    return true;
  }

  static bool runHeadTrainStep(Instance *I, int n) {
    if constexpr (M::kHasExchanged && M::kHasBase) {
      if (I->exchange.start) {
        I->exchange_failed = false;
        M::headTrainStepExchanged(I, n);
        return !I->exchange_failed;
      }
    }
    M::headTrainStep(I, n);
    return true;
  }

  /// A training call's outcome: `ok`, unless its exchange failed.
  static bool exchanged(Instance *I, std::string &error, bool ok) {
    if (!I->exchange_failed)
      return ok;
    error = "the data-parallel exchange failed; the step changed no parameter";
    return false;
  }

  static bool setExchange(Instance *I, const netc_exchange *exchange, std::string &error) {
    I->exchange = netc_exchange{};
    I->exchange_failed = false;
    if (!exchange)
      return true;
    if constexpr (!M::kHasExchanged) {
      return missing(error, "data-parallel training step (recompile it with this netc)");
    } else {
      I->exchange = *exchange;
      if (I->staging.size() != size_t(M::kParamFloats))
        I->staging.assign(size_t(M::kParamFloats), 0.f);
      return true;
    }
  }

  static bool baseForward(Instance *I, const float *input, int32_t n, float *features,
                          std::string &error) {
    if constexpr (!M::kHasBase) {
      return missing(error, "frozen base");
    } else {
      return step(error, [&] {
        if (beginCall(I, 0, 0, 0, input, M::kInputSize, nullptr, n))
          M::baseForward(I, n, features);
      });
    }
  }

  static bool headEvalStep(Instance *I, const float *features, const int32_t *labels, int32_t n,
                           float *loss, int32_t *correct, std::string &error) {
    if constexpr (!M::kHasBase) {
      return missing(error, "frozen base");
    } else {
      return step(error, [&] {
        if (!beginCall(I, 0, 0, 0, features, M::kFeatureSize, labels, n))
          return;
        M::headEvalStep(I, n);
        endCall(I, loss, correct);
      });
    }
  }

  static bool headTrainStep(Instance *I, const float *features, const int32_t *labels,
                            int32_t n, uint64_t seed, float learning_rate, int64_t t,
                            float *loss, int32_t *correct, std::string &error) {
    if constexpr (!M::kHasBase) {
      return missing(error, "frozen base");
    } else {
      return exchanged(I, error, step(error, [&] {
        if (!beginCall(I, seed, learning_rate, t, features, M::kFeatureSize, labels, n))
          return;
        if (runHeadTrainStep(I, n))
          endCall(I, loss, correct);
      }));
    }
  }

  static int setTrainData(Instance *I, const uint8_t *pixels, const int32_t *labels,
                          int64_t count, const float *table, int32_t table_channels,
                          std::string &error) {
    k::detail::takeError();
    dropGraph(I); // it reads the buffers replaced here
    cudaFree(I->train_pixels);
    cudaFree(I->train_labels);
    cudaFree(I->train_table);
    I->train_pixels = nullptr;
    I->train_labels = nullptr;
    I->train_table = nullptr;
    const size_t bytes = size_t(count) * size_t(M::kInputSize);
    const cudaError_t status = cudaMalloc(&I->train_pixels, bytes);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      I->train_pixels = nullptr;
      error = "the training set (" + std::to_string(bytes >> 20) +
              " MiB) does not fit on the GPU: " + cudaGetErrorString(status);
      return status == cudaErrorMemoryAllocation ? NETC_ERROR_MEMORY : NETC_ERROR_DEVICE;
    }
    const bool ok = step(error, [&] {
      NETC_CUDA_CHECK(cudaMemcpy(I->train_pixels, pixels, bytes, cudaMemcpyHostToDevice));
      if (allocate(&I->train_labels, count))
        NETC_CUDA_CHECK(cudaMemcpy(I->train_labels, labels, sizeof(int32_t) * size_t(count),
                                   cudaMemcpyHostToDevice));
      if (allocate(&I->train_table, int64_t(table_channels) * 256))
        NETC_CUDA_CHECK(cudaMemcpy(I->train_table, table, sizeof(float) * 256 * table_channels,
                                   cudaMemcpyHostToDevice));
    });
    I->train_table_stride = table_channels == 1 ? 0 : 256;
    return ok ? NETC_OK : NETC_ERROR_DEVICE;
  }

  /// One training step of n samples of the training set: the batch gathered
  /// on the device, the step, the cursor moved on. No copy, no
  /// synchronisation: what a graph captures.
  static bool trainBatch(Instance *I, int n) {
    k::gather_batch<M::kInputSize, M::kInputPlanes>(n, I->train_pixels, I->train_labels,
                                                    I->train_table, I->train_table_stride,
                                                    I->order, I->run, I->input, I->labels);
    const bool trained = runTrainStep(I, n);
    k::advance_step(I->run);
    return trained;
  }

  /// The full-batch step captured as a graph on this thread's default stream
  /// (the library is compiled with --default-stream per-thread, so the
  /// kernels' launches go there).
  static bool captureStep(Instance *I) {
    if (I->step_graph)
      return true;
    cudaGraph_t graph = nullptr;
    if (!NETC_CUDA_CHECK(cudaStreamBeginCapture(cudaStreamPerThread,
                                                cudaStreamCaptureModeThreadLocal)))
      return false;
    (void)trainBatch(I, I->batch); // no exchange while a graph is used
    const bool captured = NETC_CUDA_CHECK(cudaStreamEndCapture(cudaStreamPerThread, &graph));
    const bool ok = captured && NETC_CUDA_CHECK(cudaGraphInstantiate(&I->step_graph, graph, 0));
    if (graph)
      NETC_CUDA_CHECK(cudaGraphDestroy(graph));
    if (!ok)
      I->step_graph = nullptr;
    return ok;
  }

  static bool trainSteps(Instance *I, const int64_t *indices, int64_t count,
                         const uint64_t *seeds, const float *learning_rates, int64_t t,
                         float *losses, int32_t *corrects, std::string &error) {
    if constexpr (!M::kHasTrain) {
      return missing(error, "training step");
    } else {
      if (!I->train_pixels) {
        error = "no training set on the GPU";
        return false;
      }
      const int64_t steps = (count + I->batch - 1) / I->batch;
      const int64_t full = count / I->batch;
      // The host copy grows with the device's (reserveRun), so a run
      // allocates nothing once the first has reserved its size.
      k::StepArgs *args = I->host_args.data();
      const size_t argBytes = sizeof(k::StepArgs) * size_t(steps);
      I->exchange_failed = false;
      return exchanged(I, error, step(error, [&] {
        if (!reserveRun(I, count, steps))
          return;
        args = I->host_args.data();
        for (int64_t s = 0; s < steps; ++s) {
          args[s] = k::StepArgs();
          args[s].seed = seeds[s];
          args[s].learning_rate = learning_rates[s];
          args[s].t = t + s + 1;
          args[s].first = s * I->batch;
        }
        if (!NETC_CUDA_CHECK(cudaMemcpy(I->order, indices, sizeof(int64_t) * size_t(count),
                                        cudaMemcpyHostToDevice)) ||
            !NETC_CUDA_CHECK(cudaMemcpy(I->run.args, args, argBytes, cudaMemcpyHostToDevice)) ||
            !NETC_CUDA_CHECK(cudaMemset(I->run.cursor, 0, sizeof(int64_t))))
          return;
        if (full > 0 && I->use_graph && !I->exchange.start) {
          if (!captureStep(I))
            return;
          for (int64_t s = 0; s < full; ++s)
            if (!NETC_CUDA_CHECK(cudaGraphLaunch(I->step_graph, cudaStreamPerThread)))
              return;
        } else {
          for (int64_t s = 0; s < full; ++s)
            if (!trainBatch(I, I->batch))
              return;
        }
        if (count % I->batch && !trainBatch(I, int(count % I->batch)))
          return;
        if (!NETC_CUDA_CHECK(cudaMemcpy(args, I->run.args, argBytes, cudaMemcpyDeviceToHost)))
          return;
        for (int64_t s = 0; s < steps; ++s) {
          losses[s] = args[s].loss;
          corrects[s] = args[s].correct;
        }
      }));
    }
  }
};

} // namespace netc::cudapath::impl

// CudaPath.h, over the model the including file defines.
namespace netc::cudapath {

using NetcDevicePath = impl::CudaPathImpl<NetcDeviceModel>;

Instance *create(int32_t batch, std::string &error) {
  return NetcDevicePath::create(batch, error);
}
void destroy(Instance *I) { NetcDevicePath::destroy(I); }
bool upload(Instance *I, const float *params, const float *state, std::string &error) {
  return NetcDevicePath::upload(I, params, state, error);
}
bool download(Instance *I, float *params, float *state, std::string &error) {
  return NetcDevicePath::download(I, params, state, error);
}
bool forward(Instance *I, const float *input, int32_t n, float *probabilities,
             std::string &error) {
  return NetcDevicePath::forward(I, input, n, probabilities, error);
}
bool evalStep(Instance *I, const float *input, const int32_t *labels, int32_t n, float *loss,
              int32_t *correct, std::string &error) {
  return NetcDevicePath::evalStep(I, input, labels, n, loss, correct, error);
}
bool trainStep(Instance *I, const float *input, const int32_t *labels, int32_t n, uint64_t seed,
               float learning_rate, int64_t t, float *loss, int32_t *correct,
               std::string &error) {
  return NetcDevicePath::trainStep(I, input, labels, n, seed, learning_rate, t, loss, correct,
                                   error);
}
bool baseForward(Instance *I, const float *input, int32_t n, float *features,
                 std::string &error) {
  return NetcDevicePath::baseForward(I, input, n, features, error);
}
bool headEvalStep(Instance *I, const float *features, const int32_t *labels, int32_t n,
                  float *loss, int32_t *correct, std::string &error) {
  return NetcDevicePath::headEvalStep(I, features, labels, n, loss, correct, error);
}
bool headTrainStep(Instance *I, const float *features, const int32_t *labels, int32_t n,
                   uint64_t seed, float learning_rate, int64_t t, float *loss, int32_t *correct,
                   std::string &error) {
  return NetcDevicePath::headTrainStep(I, features, labels, n, seed, learning_rate, t, loss,
                                       correct, error);
}
int setTrainData(Instance *I, const uint8_t *pixels, const int32_t *labels, int64_t count,
                 const float *table, int32_t table_channels, std::string &error) {
  return NetcDevicePath::setTrainData(I, pixels, labels, count, table, table_channels, error);
}
bool trainSteps(Instance *I, const int64_t *indices, int64_t count, const uint64_t *seeds,
                const float *learning_rates, int64_t t, float *losses, int32_t *corrects,
                std::string &error) {
  return NetcDevicePath::trainSteps(I, indices, count, seeds, learning_rates, t, losses,
                                    corrects, error);
}
bool setExchange(Instance *I, const netc_exchange *exchange, std::string &error) {
  return NetcDevicePath::setExchange(I, exchange, error);
}
bool exchangeFailed(const Instance *I) { return I->exchange_failed; }

} // namespace netc::cudapath

#endif // NET_RUNTIME_CUDAPATHIMPL_CUH
