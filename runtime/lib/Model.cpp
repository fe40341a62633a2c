//===- Model.cpp - Loading a compiled model through its C ABI -------------===//

#include "net/Runtime/Model.h"

#include "net/Runtime/CudaPath.h"

#include "net/Runtime/TrainSetupFields.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace netc::runtime;

namespace {

/// Whether `path` starts with the ELF magic; dlerror's text for other files
/// is obscure, so the common mistake gets its own message.
bool looksLikeElf(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  unsigned char magic[4] = {0, 0, 0, 0};
  ssize_t got = ::read(fd, magic, sizeof(magic));
  ::close(fd);
  return got == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' &&
         magic[3] == 'F';
}

template <typename F> bool resolve(void *handle, const char *name, F &out) {
  out = reinterpret_cast<F>(::dlsym(handle, name));
  return out != nullptr;
}

/// "has lr_gamma 0, expected a factor in (0, 1]" when `s` is out of range.
std::string checkSetting(const netc_train_setup &t, const netc::settings::Setting &s) {
  if (s.type == netc::settings::Type::Choice) {
    const char *value = netc::settings::textIn(t, s.id);
    std::vector<std::string> choices = netc::settings::choices(s);
    if (value && std::find(choices.begin(), choices.end(), value) != choices.end())
      return "";
    return "has " + std::string(s.field) + " '" + (value ? value : "") + "', expected " +
           s.expects;
  }
  double value = netc::settings::numberIn(t, s.id);
  if (netc::settings::within(s, value))
    return "";
  return "has " + std::string(s.field) + " " + netc::settings::numberText(value) +
         ", expected " + s.expects;
}

/// The run, the schedule and early stopping of the model's set-up, in the
/// ranges of TrainSettings.def (netc checks them; a hand-written model may
/// not): the run's settings always, a schedule's arguments when the model
/// uses that schedule, early stopping's when it is on.
std::string checkTrainSetup(const netc_train_setup &t) {
  const netc::settings::Schedule *schedule =
      t.lr_schedule ? netc::settings::scheduleByFlag(t.lr_schedule) : nullptr;
  if (!schedule)
    return "names an unknown learning-rate schedule '" +
           std::string(t.lr_schedule ? t.lr_schedule : "") + "'";
  for (const netc::settings::Setting &s : netc::settings::kSettings) {
    bool applies = s.group == netc::settings::Group::Run ||
                   (s.group == netc::settings::Group::Schedule && schedule->uses(s.id)) ||
                   (s.group == netc::settings::Group::EarlyStopping && t.early_stopping);
    if (!applies)
      continue;
    if (std::string e = checkSetting(t, s); !e.empty())
      return e;
  }
  return "";
}

/// Checks the metadata a model exports before the runtime trusts it.
std::string checkInfo(const netc_model_info &info) {
  if (!info.network || !info.compiler)
    return "its metadata has no network or compiler name";
  if (info.input_rank != 1 && info.input_rank != 3)
    return "input rank " + std::to_string(info.input_rank) + ", expected 1 or 3";
  for (int i = 0; i < info.input_rank; ++i)
    if (info.input_shape[i] <= 0)
      return "input dimension " + std::to_string(i) + " is " +
             std::to_string(info.input_shape[i]) + ", expected a positive size";
  if (info.classes <= 0)
    return "it has " + std::to_string(info.classes) + " classes";
  if (!info.input_mean || !info.input_std)
    return "it has no input normalisation (input_mean, input_std)";
  int64_t channels = info.input_rank == 3 ? info.input_shape[0] : 1;
  for (int64_t c = 0; c < channels; ++c)
    if (!std::isfinite(info.input_mean[c]) || !std::isfinite(info.input_std[c]) ||
        !(info.input_std[c] > 0))
      return "input normalisation of channel " + std::to_string(c) + " has mean " +
             std::to_string(info.input_mean[c]) + " and std " +
             std::to_string(info.input_std[c]) + ", expected finite values and std above 0";
  if (std::string e = checkTrainSetup(info.train); !e.empty())
    return "its training set-up " + e;
  if (info.num_params < 0 || info.num_state < 0 || info.num_layers < 0 ||
      (info.num_params && !info.params) || (info.num_state && !info.state) ||
      (info.num_layers && !info.layers))
    return "its parameter, state or layer table is malformed";
  auto checkTensors = [](const netc_tensor_info *tensors, int32_t count) -> std::string {
    for (int32_t i = 0; i < count; ++i) {
      const netc_tensor_info &t = tensors[i];
      if (!t.name || !t.init || t.rank < 0 || t.rank > NETC_MAX_RANK)
        return "tensor " + std::to_string(i) + " is malformed";
      if (elementCount(t) != t.size)
        return "tensor '" + std::string(t.name) + "' has size " +
               std::to_string(t.size) + " but shape " + shapeText(t.shape, t.rank);
    }
    return "";
  };
  if (std::string e = checkTensors(info.params, info.num_params); !e.empty())
    return e;
  if (std::string e = checkTensors(info.state, info.num_state); !e.empty())
    return e;
  if (info.feature_size < 0 || info.feature_rank < 0 || info.feature_rank > 3 ||
      (info.feature_size > 0 && !info.feature_layer))
    return "its frozen-base features are malformed";
  int64_t features = info.feature_rank ? 1 : 0;
  for (int i = 0; i < info.feature_rank; ++i)
    features *= info.feature_shape[i];
  if (info.feature_size > 0 && features != info.feature_size)
    return "its features have size " + std::to_string(info.feature_size) + " but shape " +
           shapeText(info.feature_shape, info.feature_rank);
  return "";
}

} // namespace

Result<std::shared_ptr<Model>> Model::load(const std::string &path) {
  using R = Result<std::shared_ptr<Model>>;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return R::failure(path + ": cannot open model: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    return R::failure(path + ": is a directory, expected a model .so built by netc");
  if (!looksLikeElf(path))
    return R::failure(path + ": not a model: not a shared library (netc -o model.so builds one)");
  // dlopen searches the library path for a name without a slash.
  std::string openPath = path.find('/') == std::string::npos ? "./" + path : path;
  void *handle = ::dlopen(openPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = ::dlerror();
    return R::failure(path + ": not a model: cannot load it as a shared library: " +
                      (why ? why : "unknown error"));
  }
  std::shared_ptr<Model> model(new Model());
  model->handle = handle;
  model->libraryPath = path;

  decltype(&netc_model) entry = nullptr;
  if (!resolve(handle, "netc_model", entry))
    return R::failure(path + ": not a model: it exports no 'netc_model' symbol "
                             "(is it a library built by netc?)");
  const netc_model_info *info = entry();
  if (!info)
    return R::failure(path + ": not a model: netc_model() returned null");
  if (info->magic != NETC_MAGIC)
    return R::failure(path + ": not a model: netc_model() has the wrong magic number");
  if (info->abi_version != NETC_ABI_VERSION)
    return R::failure(path + ": built for model ABI version " +
                      std::to_string(info->abi_version) + ", this netrun reads version " +
                      std::to_string(NETC_ABI_VERSION) +
                      "; recompile the model with the matching netc");
  if (std::string e = checkInfo(*info); !e.empty())
    return R::failure(path + ": malformed model: " + e);
  model->modelInfo = info;

  ModelFunctions &f = model->fns;
  struct Entry {
    const char *name;
    bool ok;
  } entries[] = {
      {"netc_create", resolve(handle, "netc_create", f.create)},
      {"netc_destroy", resolve(handle, "netc_destroy", f.destroy)},
      {"netc_param_data", resolve(handle, "netc_param_data", f.paramData)},
      {"netc_state_data", resolve(handle, "netc_state_data", f.stateData)},
      {"netc_get_step", resolve(handle, "netc_get_step", f.getStep)},
      {"netc_set_step", resolve(handle, "netc_set_step", f.setStep)},
      {"netc_set_learning_rate", resolve(handle, "netc_set_learning_rate", f.setLearningRate)},
      {"netc_forward", resolve(handle, "netc_forward", f.forward)},
      {"netc_train_step", resolve(handle, "netc_train_step", f.trainStep)},
      {"netc_eval_step", resolve(handle, "netc_eval_step", f.evalStep)},
      {"netc_last_error", resolve(handle, "netc_last_error", f.lastError)},
      {"netc_base_forward", resolve(handle, "netc_base_forward", f.baseForward)},
      {"netc_head_train_step", resolve(handle, "netc_head_train_step", f.headTrainStep)},
      {"netc_head_eval_step", resolve(handle, "netc_head_eval_step", f.headEvalStep)},
      {"netc_set_train_data", resolve(handle, "netc_set_train_data", f.setTrainData)},
      {"netc_train_steps", resolve(handle, "netc_train_steps", f.trainSteps)},
      {"netc_set_exchange", resolve(handle, "netc_set_exchange", f.setExchange)},
  };
  for (const Entry &e : entries)
    if (!e.ok)
      return R::failure(path + ": malformed model: it exports no '" + e.name + "'");
  return R::success(std::move(model));
}

Model::~Model() {
  if (handle)
    ::dlclose(handle);
}

int64_t Model::inputSize() const {
  int64_t n = 1;
  for (int i = 0; i < modelInfo->input_rank; ++i)
    n *= modelInfo->input_shape[i];
  return n;
}

std::string Model::inputShapeText() const {
  std::string s = "(";
  for (int i = 0; i < modelInfo->input_rank; ++i)
    s += (i ? ", " : "") + std::to_string(modelInfo->input_shape[i]);
  return s + ")";
}

bool Instance::fellBackForWantOfGpu() const {
  const std::string prefix = std::string("cuda: ") + cudapath::kNoUsableDevice;
  return fallback.compare(0, prefix.size(), prefix) == 0;
}

Result<std::shared_ptr<Instance>> Instance::create(std::shared_ptr<Model> model,
                                                   DeviceChoice device,
                                                   int32_t batch, int32_t threads) {
  using R = Result<std::shared_ptr<Instance>>;
  const netc_model_info &info = model->info();
  bool hasCuda = (info.devices >> NETC_DEVICE_CUDA) & 1u;
  if (device == DeviceChoice::Cuda && !hasCuda)
    return R::failure(model->path() + ": this model was compiled without a CUDA path");
  std::vector<int32_t> tries;
  if (device == DeviceChoice::Cuda || (device == DeviceChoice::Auto && hasCuda))
    tries.push_back(NETC_DEVICE_CUDA);
  if (device != DeviceChoice::Cuda)
    tries.push_back(NETC_DEVICE_CPU);
  std::string errors;
  for (int32_t kind : tries) {
    char error[512] = {0};
    netc_instance *raw = model->functions().create(kind, batch, threads, error, sizeof(error));
    if (raw) {
      std::shared_ptr<Instance> instance(new Instance());
      instance->owner = model;
      instance->handle = raw;
      instance->batchSize = batch;
      instance->deviceKind = kind;
      instance->fallback = errors;
      return R::success(std::move(instance));
    }
    errors += std::string(errors.empty() ? "" : "; ") +
              (kind == NETC_DEVICE_CUDA ? "cuda: " : "cpu: ") +
              (error[0] ? error : "unknown error");
  }
  return R::failure(model->path() + ": cannot create an instance for batch " +
                    std::to_string(batch) + ": " + errors);
}

Instance::~Instance() {
  if (handle)
    owner->functions().destroy(handle);
}

float *Instance::param(int32_t index) const {
  return owner->functions().paramData(handle, index);
}
float *Instance::state(int32_t index) const {
  return owner->functions().stateData(handle, index);
}
int64_t Instance::step() const { return owner->functions().getStep(handle); }
void Instance::setStep(int64_t step) const { owner->functions().setStep(handle, step); }
void Instance::setLearningRate(float rate) const {
  owner->functions().setLearningRate(handle, rate);
}

Status Instance::check(int code, const char *what) const {
  if (code == NETC_OK)
    return Status::success();
  const char *text = owner->functions().lastError(handle);
  return Status::failure(owner->path() + ": " + what + " failed (code " +
                         std::to_string(code) + "): " +
                         (text && *text ? text : "no message"));
}

Status Instance::forward(const float *input, int32_t n, float *probabilities) const {
  return check(owner->functions().forward(handle, input, n, probabilities), "netc_forward");
}

Status Instance::trainStep(const float *input, const int32_t *labels, int32_t n,
                           uint64_t seed, float &loss, int32_t &correct) const {
  return check(owner->functions().trainStep(handle, input, labels, n, seed, &loss, &correct),
               "netc_train_step");
}

Status Instance::evalStep(const float *input, const int32_t *labels, int32_t n,
                          float &loss, int32_t &correct) const {
  return check(owner->functions().evalStep(handle, input, labels, n, &loss, &correct),
               "netc_eval_step");
}

Status Instance::baseForward(const float *input, int32_t n, float *features) const {
  return check(owner->functions().baseForward(handle, input, n, features),
               "netc_base_forward");
}

Status Instance::headTrainStep(const float *features, const int32_t *labels, int32_t n,
                               uint64_t seed, float &loss, int32_t &correct) const {
  return check(
      owner->functions().headTrainStep(handle, features, labels, n, seed, &loss, &correct),
      "netc_head_train_step");
}

Status Instance::headEvalStep(const float *features, const int32_t *labels, int32_t n,
                              float &loss, int32_t &correct) const {
  return check(owner->functions().headEvalStep(handle, features, labels, n, &loss, &correct),
               "netc_head_eval_step");
}

Status Instance::setTrainData(const uint8_t *pixels, const int32_t *labels, int64_t count,
                              const float *table, int32_t tableChannels) const {
  return check(owner->functions().setTrainData(handle, pixels, labels, count, table,
                                               tableChannels),
               "netc_set_train_data");
}

Status Instance::trainSteps(const int64_t *indices, int64_t count, const uint64_t *seeds,
                            const float *rates, float *losses, int32_t *corrects) const {
  return check(
      owner->functions().trainSteps(handle, indices, count, seeds, rates, losses, corrects),
      "netc_train_steps");
}

Status Instance::setExchange(const netc_exchange *exchange) const {
  return check(owner->functions().setExchange(handle, exchange), "netc_set_exchange");
}

std::string netc::runtime::withThousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

int64_t netc::runtime::elementCount(const netc_tensor_info &tensor) {
  int64_t n = 1;
  for (int32_t i = 0; i < tensor.rank; ++i)
    n *= tensor.shape[i];
  return n;
}
