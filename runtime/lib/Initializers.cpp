//===- Initializers.cpp - Parameters filled from their initializers -------===//

#include "SeedStreams.h"

#include "net/Runtime/Random.h"
#include "net/Runtime/Trainer.h"

#include <algorithm>
#include <cmath>
#include <string>

using namespace netc::runtime;

namespace {

/// Keras' truncated normal: values beyond two standard deviations are drawn
/// again, and the standard deviation is divided by 0.8796..., the standard
/// deviation of a unit normal truncated at 2, so the variance is as asked.
float truncatedNormal(Random &rng, double stddev) {
  for (;;) {
    double z = rng.normal();
    if (std::fabs(z) <= 2.0)
      return float(z * stddev / 0.87962566103423978);
  }
}

Status fillParameter(const netc_tensor_info &t, float *data, uint64_t seed) {
  std::string init = t.init;
  Random rng(seed);
  auto fans = [&](bool inOnly) -> double {
    return inOnly ? double(t.fan_in) : double(t.fan_in + t.fan_out);
  };
  bool needsFans = init != "zeros" && init != "ones";
  bool heInit = init == "he_uniform" || init == "he_normal";
  if (needsFans && (t.fan_in <= 0 || (!heInit && t.fan_in + t.fan_out <= 0)))
    return Status::failure(std::string("parameter '") + t.name + "' has initializer '" +
                           init + "' but fan_in " + std::to_string(t.fan_in) +
                           " and fan_out " + std::to_string(t.fan_out));
  if (init == "zeros" || init == "ones") {
    std::fill(data, data + t.size, init == "ones" ? 1.0f : 0.0f);
  } else if (init == "glorot_uniform" || init == "he_uniform") {
    double limit = std::sqrt(6.0 / fans(heInit));
    for (int64_t i = 0; i < t.size; ++i)
      data[i] = float((2.0 * rng.uniform() - 1.0) * limit);
  } else if (init == "glorot_normal" || init == "he_normal") {
    double stddev = std::sqrt(2.0 / fans(heInit));
    for (int64_t i = 0; i < t.size; ++i)
      data[i] = truncatedNormal(rng, stddev);
  } else {
    return Status::failure(std::string("parameter '") + t.name +
                           "' has an unknown initializer '" + init +
                           "' (expected zeros, ones, glorot_uniform, glorot_normal, "
                           "he_uniform or he_normal)");
  }
  return Status::success();
}

} // namespace

Status netc::runtime::initializeParameters(const Instance &instance, uint64_t seed) {
  const netc_model_info &info = instance.info();
  for (int32_t i = 0; i < info.num_params; ++i) {
    float *data = instance.param(i);
    if (!data)
      return Status::failure(instance.model().path() + ": netc_param_data(" +
                             std::to_string(i) + ") returned null");
    if (Status s = fillParameter(info.params[i], data, deriveSeed(seed, kInitStream, uint64_t(i)));
        !s)
      return Status::failure(instance.model().path() + ": " + s.error());
  }
  for (int32_t i = 0; i < info.num_state; ++i) {
    float *data = instance.state(i);
    if (!data)
      return Status::failure(instance.model().path() + ": netc_state_data(" +
                             std::to_string(i) + ") returned null");
    std::fill(data, data + info.state[i].size, 0.0f);
  }
  instance.setStep(0);
  return Status::success();
}
