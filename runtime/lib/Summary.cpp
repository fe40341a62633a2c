//===- Summary.cpp - The layer table of `netrun info` ---------------------===//

#include "net/Runtime/Summary.h"

#include "net/Runtime/Model.h"
#include "net/Runtime/TrainSetupFields.h"

#include <algorithm>
#include <sstream>

using namespace netc::runtime;

namespace {

std::string outputShape(const netc_layer_info &layer) {
  std::string s = "(";
  for (int32_t i = 0; i < layer.rank; ++i) {
    s += i ? ", " : "";
    s += layer.shape[i] < 0 ? "None" : std::to_string(layer.shape[i]);
  }
  return s + ")";
}

std::string pad(const std::string &s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string flopsText(int64_t flops) {
  char buffer[32];
  if (flops >= 1000000000)
    std::snprintf(buffer, sizeof(buffer), "%.2f G", double(flops) / 1e9);
  else if (flops >= 1000000)
    std::snprintf(buffer, sizeof(buffer), "%.2f M", double(flops) / 1e6);
  else
    return withThousands(flops);
  return buffer;
}

/// The table of layers with their shapes, parameters and FLOPs, and the
/// totals under it.
void writeLayerTable(std::ostream &out, const netc_model_info &info, const std::string &path) {
  std::vector<std::string> names;
  size_t nameWidth = 28;
  for (int32_t i = 0; i < info.num_layers; ++i) {
    const netc_layer_info &l = info.layers[i];
    std::string kind = l.kind ? l.kind : "?";
    if (l.activation && *l.activation)
      kind += ", " + std::string(l.activation);
    names.push_back(std::string(l.name ? l.name : "?") + " (" + kind + ")");
    nameWidth = std::max(nameWidth, names.back().size() + 2);
  }
  const size_t shapeWidth = 24, paramWidth = 14;
  size_t total = nameWidth + shapeWidth + paramWidth + 12;
  std::string thin(total, '_'), thick(total, '=');
  out << "Model: \"" << info.network << "\" (" << path << ", " << info.compiler << ")\n"
      << thin << "\n"
      << pad(" Layer (type)", nameWidth) << pad("Output Shape", shapeWidth)
      << pad("Param #", paramWidth) << "FLOPs\n"
      << thick << "\n";
  for (int32_t i = 0; i < info.num_layers; ++i) {
    const netc_layer_info &l = info.layers[i];
    out << pad(" " + names[size_t(i)], nameWidth) << pad(outputShape(l), shapeWidth)
        << pad(withThousands(l.params), paramWidth) << flopsText(l.flops) << "\n";
  }
  int64_t trainable = 0, frozen = 0;
  for (int32_t i = 0; i < info.num_params; ++i)
    (info.params[i].trainable ? trainable : frozen) += info.params[i].size;
  int64_t stateSize = 0;
  for (int32_t i = 0; i < info.num_state; ++i)
    stateSize += info.state[i].size;
  out << thick << "\n"
      << "Total params: " << withThousands(trainable + frozen) << "\n"
      << "Trainable params: " << withThousands(trainable) << "\n"
      << "Non-trainable params: " << withThousands(frozen) << "\n"
      << "Optimizer state: " << withThousands(stateSize) << " values\n"
      << "FLOPs per image (forward): " << withThousands(info.flops_per_image) << " ("
      << flopsText(info.flops_per_image) << ")\n"
      << thin << "\n";
}

/// The optimizer, then the schedule and early stopping as the netrun flags
/// that would override them.
void writeTrainSetup(std::ostream &out, const netc_train_setup &t) {
  namespace settings = netc::settings;
  out << "Training: ";
  if (t.optimizer == NETC_OPTIMIZER_ADAM)
    out << "adam(learning_rate=" << t.learning_rate << ", beta1=" << t.beta1
        << ", beta2=" << t.beta2 << ", epsilon=" << t.epsilon << ")";
  else
    out << "sgd(learning_rate=" << t.learning_rate << ", momentum=" << t.momentum
        << (t.nesterov ? ", nesterov" : "") << ")";
  out << ", batch " << t.batch << ", " << t.epochs << " epochs\n";
  const settings::Schedule *schedule =
      t.lr_schedule ? settings::scheduleByFlag(t.lr_schedule) : nullptr;
  out << "Learning-rate schedule: " << (schedule ? schedule->flag : "?");
  if (schedule && schedule->numArgs) {
    for (int i = 0; i < schedule->numArgs; ++i) {
      const settings::Setting &s = settings::setting(schedule->args[i]);
      out << (i ? " --" : " (--") << s.flag << " " << settings::valueTextIn(t, s);
    }
    out << ")";
  }
  out << "\nEarly stopping: ";
  if (!t.early_stopping) {
    out << "off\n";
    return;
  }
  out << "on (";
  const char *separator = "";
  for (const settings::Setting &s : settings::kSettings) {
    if (s.group != settings::Group::EarlyStopping)
      continue;
    bool isBool = s.type == settings::Type::Bool;
    if (isBool && settings::numberIn(t, s.id) == 0)
      continue;
    out << separator << "--" << s.flag;
    if (!isBool)
      out << " " << settings::valueTextIn(t, s);
    separator = " ";
  }
  out << ")\n";
}

/// The input's normalisation, the frozen base and the devices.
void writeInputAndDevices(std::ostream &out, const netc_model_info &info) {
  int64_t channels = info.input_rank == 3 ? info.input_shape[0] : 1;
  bool identity = true;
  for (int64_t c = 0; c < channels; ++c)
    identity = identity && info.input_mean[c] == 0.0f && info.input_std[c] == 1.0f;
  out << "Input normalisation: " << (identity ? "pixel / 255" : "(pixel / 255 - mean) / std");
  if (!identity) {
    auto list = [&](const float *values) {
      std::ostringstream text;
      text << "[";
      for (int64_t c = 0; c < channels; ++c)
        text << (c ? ", " : "") << values[c];
      return text.str() + "]";
    };
    out << ", mean " << list(info.input_mean) << ", std " << list(info.input_std);
  }
  out << "\nFrozen base: ";
  if (info.feature_size > 0)
    out << "features of '" << info.feature_layer << "' "
        << shapeText(info.feature_shape, info.feature_rank)
        << ", computed once per image when training without augmentation\n";
  else
    out << "none\n";
  out << "Devices: cpu" << (((info.devices >> NETC_DEVICE_CUDA) & 1u) ? ", cuda" : "") << "\n";
}

} // namespace

std::string netc::runtime::formatSummary(const netc_model_info &info, const std::string &path) {
  std::ostringstream out;
  writeLayerTable(out, info, path);
  std::string input = "(None";
  for (int32_t i = 0; i < info.input_rank; ++i)
    input += ", " + std::to_string(info.input_shape[i]);
  out << "Input: " << input << "), classes: " << info.classes << "\n";
  writeTrainSetup(out, info.train);
  writeInputAndDevices(out, info);
  return out.str();
}
