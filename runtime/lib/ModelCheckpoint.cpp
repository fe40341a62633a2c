//===- ModelCheckpoint.cpp - Checkpoints into and out of a loaded model ---===//

#include "net/Runtime/ModelCheckpoint.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

using namespace netc::runtime;

namespace {

Status checkTensors(const std::vector<NamedTensor> &saved, const netc_tensor_info *expected,
                    int32_t count, const char *what, const std::string &path) {
  for (int32_t i = 0; i < count; ++i) {
    const netc_tensor_info &e = expected[i];
    if (size_t(i) >= saved.size())
      return Status::failure(path + ": has no " + what + " '" + e.name +
                             "' (it holds " + std::to_string(saved.size()) + " " + what +
                             "s, the model " + std::to_string(count) + ")");
    const NamedTensor &t = saved[size_t(i)];
    if (t.name != e.name)
      return Status::failure(path + ": " + what + " " + std::to_string(i) + " is '" + t.name +
                             "', the model expects '" + e.name + "'");
    std::vector<int64_t> shape(e.shape, e.shape + e.rank);
    if (t.shape != shape)
      return Status::failure(path + ": " + what + " '" + t.name + "' has shape " +
                             shapeText(t.shape) + ", the model expects " + shapeText(shape));
  }
  if (saved.size() > size_t(count))
    return Status::failure(path + ": has an extra " + what + " '" + saved[size_t(count)].name +
                           "' that the model does not have");
  return Status::success();
}

/// The model's input_mean and input_std, one value per input channel.
std::pair<std::vector<float>, std::vector<float>> normalisationOf(const netc_model_info &info) {
  const size_t channels = info.input_rank == 3 ? size_t(info.input_shape[0]) : 1;
  return {std::vector<float>(info.input_mean, info.input_mean + channels),
          std::vector<float>(info.input_std, info.input_std + channels)};
}

/// "[0.485, 0.456, 0.406]"
std::string listText(const std::vector<float> &values) {
  std::string text = "[";
  char number[32];
  for (size_t i = 0; i < values.size(); ++i) {
    std::snprintf(number, sizeof(number), "%g", double(values[i]));
    text += (i ? ", " : "") + std::string(number);
  }
  return text + "]";
}

} // namespace

Checkpoint netc::runtime::captureCheckpoint(const Instance &instance) {
  const netc_model_info &info = instance.info();
  Checkpoint out;
  out.network = info.network;
  out.compiler = info.compiler;
  auto copy = [](const netc_tensor_info &t, const float *data) {
    NamedTensor n;
    n.name = t.name;
    n.shape.assign(t.shape, t.shape + t.rank);
    n.data.assign(data, data + t.size);
    return n;
  };
  for (int32_t i = 0; i < info.num_params; ++i)
    out.params.push_back(copy(info.params[i], instance.param(i)));
  for (int32_t i = 0; i < info.num_state; ++i)
    out.state.push_back(copy(info.state[i], instance.state(i)));
  out.step = instance.step();
  std::tie(out.inputMean, out.inputStd) = normalisationOf(info);
  return out;
}

Status netc::runtime::checkCompatible(const Checkpoint &checkpoint, const netc_model_info &info,
                                     const std::string &path, bool withState) {
  if (checkpoint.network != info.network)
    return Status::failure(path + ": a checkpoint of network '" + checkpoint.network +
                           "', the model is '" + info.network + "'");
  if (Status s = checkTensors(checkpoint.params, info.params, info.num_params, "parameter", path);
      !s)
    return s;
  const auto [mean, stddev] = normalisationOf(info);
  if (!checkpoint.inputMean.empty() &&
      (checkpoint.inputMean != mean || checkpoint.inputStd != stddev))
    return Status::failure(path + ": its weights were trained on inputs normalised with mean " +
                           listText(checkpoint.inputMean) + ", std " +
                           listText(checkpoint.inputStd) + "; this model normalises with mean " +
                           listText(mean) + ", std " + listText(stddev) +
                           " (recompile it with the input's original mean and std)");
  if (!withState)
    return Status::success();
  return checkTensors(checkpoint.state, info.state, info.num_state, "optimizer slot", path);
}

Status netc::runtime::restoreCheckpoint(const Checkpoint &checkpoint, const Instance &instance,
                                       const std::string &path, bool withState) {
  const netc_model_info &info = instance.info();
  if (Status s = checkCompatible(checkpoint, info, path, withState); !s)
    return s;
  for (int32_t i = 0; i < info.num_params; ++i) {
    const std::vector<float> &data = checkpoint.params[size_t(i)].data;
    std::copy(data.begin(), data.end(), instance.param(i));
  }
  if (!withState)
    return Status::success();
  for (int32_t i = 0; i < info.num_state; ++i) {
    const std::vector<float> &data = checkpoint.state[size_t(i)].data;
    std::copy(data.begin(), data.end(), instance.state(i));
  }
  instance.setStep(checkpoint.step);
  return Status::success();
}

Result<LoadReport> netc::runtime::loadParametersByName(const Checkpoint &checkpoint,
                                                      const Instance &instance,
                                                      const std::string &path) {
  using R = Result<LoadReport>;
  const netc_model_info &info = instance.info();
  std::map<std::string, const NamedTensor *> byName;
  for (const NamedTensor &t : checkpoint.params)
    byName[t.name] = &t;
  LoadReport report;
  std::set<std::string> used;
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &p = info.params[i];
    auto it = byName.find(p.name);
    if (it == byName.end()) {
      report.notInCheckpoint.push_back(p.name);
      if (!p.trainable)
        report.frozenNotInCheckpoint.push_back(p.name);
      continue;
    }
    const NamedTensor &t = *it->second;
    std::vector<int64_t> shape(p.shape, p.shape + p.rank);
    if (t.shape != shape || int64_t(t.data.size()) != p.size)
      return R::failure(path + ": parameter '" + p.name + "' has the shape " +
                        shapeText(t.shape) +
                        ", the model's is " + shapeText(p.shape, p.rank));
    std::copy(t.data.begin(), t.data.end(), instance.param(i));
    used.insert(p.name);
    ++report.loaded;
  }
  for (const NamedTensor &t : checkpoint.params)
    if (!used.count(t.name))
      report.notInModel.push_back(t.name);
  return R::success(std::move(report));
}

std::string netc::runtime::formatLoadReport(const LoadReport &report, const std::string &path) {
  auto list = [](const std::vector<std::string> &names) {
    std::string out;
    for (size_t i = 0; i < names.size() && i < 8; ++i)
      out += (i ? ", " : "") + names[i];
    if (names.size() > 8)
      out += " and " + std::to_string(names.size() - 8) + " more";
    return out;
  };
  std::string text = "loaded " + std::to_string(report.loaded) + " of " +
                     std::to_string(report.loaded + int32_t(report.notInCheckpoint.size())) +
                     " parameters from " + path;
  if (!report.notInCheckpoint.empty())
    text += "; initialised from the seed: " + list(report.notInCheckpoint);
  if (!report.notInModel.empty())
    text += "; not in this model, unused: " + list(report.notInModel);
  if (!report.frozenNotInCheckpoint.empty())
    text += "\nwarning: frozen parameters not in " + path +
            " keep their random initialisation and are never trained: " +
            list(report.frozenNotInCheckpoint);
  return text;
}
