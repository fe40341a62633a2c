//===- Model.h - A compiled model (.so) loaded through its C ABI -*- C++ -*-===//
//
// Model wraps dlopen/dlsym of a model library and checks what it exports
// against ModelABI.h before anything is called: the netc_model symbol, its
// magic and ABI version, the sanity of its metadata, and every entry point.
// Instance owns one netc_instance (a fixed batch on one device).
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_MODEL_H
#define NET_RUNTIME_MODEL_H

#include "net/Runtime/IDX.h"
#include "net/Runtime/ModelABI.h"
#include "net/Runtime/Shape.h"
#include "net/Runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace netc::runtime {

/// The entry points of a model library, resolved with dlsym.
struct ModelFunctions {
  decltype(&netc_create) create = nullptr;
  decltype(&netc_destroy) destroy = nullptr;
  decltype(&netc_param_data) paramData = nullptr;
  decltype(&netc_state_data) stateData = nullptr;
  decltype(&netc_get_step) getStep = nullptr;
  decltype(&netc_set_step) setStep = nullptr;
  decltype(&netc_set_learning_rate) setLearningRate = nullptr;
  decltype(&netc_forward) forward = nullptr;
  decltype(&netc_train_step) trainStep = nullptr;
  decltype(&netc_eval_step) evalStep = nullptr;
  decltype(&netc_last_error) lastError = nullptr;
  decltype(&netc_base_forward) baseForward = nullptr;
  decltype(&netc_head_train_step) headTrainStep = nullptr;
  decltype(&netc_head_eval_step) headEvalStep = nullptr;
  decltype(&netc_set_train_data) setTrainData = nullptr;
  decltype(&netc_train_steps) trainSteps = nullptr;
  decltype(&netc_set_exchange) setExchange = nullptr;
};

class Instance;

/// A loaded model library; unloaded when destroyed (after its instances).
class Model {
public:
  /// Loads `path`, refusing a file that is not a shared library, exports no
  /// netc_model, or was built for another ABI version, with one line saying so.
  static Result<std::shared_ptr<Model>> load(const std::string &path);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const netc_model_info &info() const { return *modelInfo; }
  const ModelFunctions &functions() const { return fns; }
  const std::string &path() const { return libraryPath; }

  /// Elements of one input sample: product of input_shape.
  int64_t inputSize() const;
  /// "(1, 28, 28)"
  std::string inputShapeText() const;

private:
  Model() = default;
  void *handle = nullptr;
  const netc_model_info *modelInfo = nullptr;
  ModelFunctions fns;
  std::string libraryPath;
};

/// The device a user asks for; Auto picks CUDA when the model has a CUDA
/// path and an instance can be created there, else the CPU.
enum class DeviceChoice { Auto, Cpu, Cuda };

/// One netc_instance; keeps its Model loaded.
class Instance {
public:
  static Result<std::shared_ptr<Instance>>
  create(std::shared_ptr<Model> model, DeviceChoice device, int32_t batch,
         int32_t threads);
  ~Instance();
  Instance(const Instance &) = delete;
  Instance &operator=(const Instance &) = delete;

  const Model &model() const { return *owner; }
  const netc_model_info &info() const { return owner->info(); }
  netc_instance *raw() const { return handle; }
  int32_t batch() const { return batchSize; }
  /// NETC_DEVICE_CPU or NETC_DEVICE_CUDA.
  int32_t device() const { return deviceKind; }
  /// Why DeviceChoice::Auto did not get the GPU of a model with a CUDA path
  /// ("cuda: no usable CUDA device: ..."); empty otherwise.
  const std::string &fallbackReason() const { return fallback; }
  /// True when that fallback was for want of a GPU (no device, or no driver
  /// for the CUDA runtime), not a failure of the model's GPU path on one.
  bool fellBackForWantOfGpu() const;

  float *param(int32_t index) const;
  float *state(int32_t index) const;
  int64_t step() const;
  void setStep(int64_t step) const;
  void setLearningRate(float rate) const;

  Status forward(const float *input, int32_t n, float *probabilities) const;
  Status trainStep(const float *input, const int32_t *labels, int32_t n,
                   uint64_t seed, float &loss, int32_t &correct) const;
  Status evalStep(const float *input, const int32_t *labels, int32_t n,
                  float &loss, int32_t &correct) const;

  /// The frozen base's features and the head's steps on them; only for a
  /// model with info().feature_size > 0.
  Status baseForward(const float *input, int32_t n, float *features) const;
  Status headTrainStep(const float *features, const int32_t *labels, int32_t n,
                       uint64_t seed, float &loss, int32_t &correct) const;
  Status headEvalStep(const float *features, const int32_t *labels, int32_t n,
                      float &loss, int32_t &correct) const;

  /// The training set held by the instance (netc_set_train_data; a CPU
  /// instance reads the arrays in place) and runs of steps over it
  /// (netc_train_steps): one entry of seeds, rates, losses and corrects per
  /// step, ceil(count / batch()) of them.
  Status setTrainData(const uint8_t *pixels, const int32_t *labels, int64_t count,
                      const float *table, int32_t tableChannels) const;
  Status trainSteps(const int64_t *indices, int64_t count, const uint64_t *seeds,
                    const float *rates, float *losses, int32_t *corrects) const;
  /// The data-parallel steps' exchange (netc_set_exchange); null: off.
  Status setExchange(const netc_exchange *exchange) const;

private:
  Instance() = default;
  Status check(int code, const char *what) const;
  std::shared_ptr<Model> owner;
  netc_instance *handle = nullptr;
  int32_t batchSize = 0;
  int32_t deviceKind = NETC_DEVICE_CPU;
  std::string fallback;
};

/// "1,234,567"
std::string withThousands(int64_t value);

/// The product of a tensor's shape.
int64_t elementCount(const netc_tensor_info &tensor);

} // namespace netc::runtime

#endif // NET_RUNTIME_MODEL_H
