//===- ModelInstance.h - the state of one compiled-model instance -*- C++ -*-===//
//
// What the generated step functions (run_forward, run_train_step, ...) and
// the fixed ABI code of ModelImpl.h share: the instance behind ModelABI.h's
// opaque netc_instance. Included by every generated CPU translation unit
// before its step functions. Not part of the ABI: nothing outside the
// model's .so sees the layout.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_MODELINSTANCE_H
#define NET_RUNTIME_MODELINSTANCE_H

#include "net/Runtime/ModelABI.h"

#include <cstdint>
#include <string>

// netc defines NETC_WITH_CUDA=1 when it links the model with its CUDA path
// (netc -emit=cuda); without it the library is CPU-only.
#ifndef NETC_WITH_CUDA
#define NETC_WITH_CUDA 0
#endif

namespace netc::cudapath {
struct Instance;
} // namespace netc::cudapath

struct netc_instance {
  int32_t batch = 0;
  float learning_rate = 0;
  int64_t step = 0;
  float *params = nullptr;
  float *state = nullptr;
  float *arena = nullptr;
  // The CPU path's batch-norm weights folded into their convolutions,
  // computed by the first inference call after the parameters may have
  // changed; bit f of folds_valid says step function f's are current
  // (cleared by netc_param_data, netc_state_data and every training step).
  float *folded = nullptr;
  uint32_t folds_valid = 0;
  std::string error;
  // NETC_DEVICE_CUDA: the device's instance; params and state are then its
  // host mirror, synchronised lazily (ModelImpl.h: deviceReady, hostMirror).
  netc::cudapath::Instance *cuda = nullptr;
  bool host_dirty = false, device_newer = false;
  // netc_set_train_data: the caller's arrays (read in place on the CPU), and
  // netc_train_steps' gathered batch.
  const uint8_t *train_pixels = nullptr;
  const int32_t *train_labels = nullptr;
  int64_t train_count = 0;
  const float *train_table = nullptr;
  int32_t train_table_channels = 0;
  float *gathered = nullptr;
  int32_t *gathered_labels = nullptr;
  // netc_set_exchange: the data-parallel steps' exchange (start is null
  // when off), and whether a call of it failed in the current step.
  netc_exchange exchange{};
  bool exchange_failed = false;
};

namespace netc {

// What the data-parallel copies of the training steps (run_*_exchanged)
// call; false ends the step before its updates.
inline bool exchangeStart(netc_instance *I, int32_t param, float *values, int64_t size) {
  if (I->exchange.start(I->exchange.user, param, values, size) == 0)
    return true;
  I->exchange_failed = true;
  return false;
}

inline bool exchangeWait(netc_instance *I) {
  if (I->exchange.wait(I->exchange.user) == 0)
    return true;
  I->exchange_failed = true;
  return false;
}

} // namespace netc

#endif // NET_RUNTIME_MODELINSTANCE_H
