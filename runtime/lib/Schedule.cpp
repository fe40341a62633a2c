//===- Schedule.cpp - Learning-rate schedules -----------------------------===//

#include "net/Runtime/Schedule.h"
#include "net/Runtime/TrainSettings.h"

#include <algorithm>
#include <cmath>

using namespace netc::runtime;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kPlateauMinDelta = 1e-4;  // Keras ReduceLROnPlateau's min_delta
constexpr double kOneCycleWarmUp = 0.3;    // fraction of the steps spent warming up
constexpr double kOneCycleStartDiv = 25;   // the warm-up starts at lr / 25
constexpr double kOneCycleEndDiv = 1e4;    // and the anneal ends at lr / 1e4

/// From `from` at t = 0 to `to` at t = 1 along half a cosine.
double cosineBetween(double from, double to, double t) {
  return to + (from - to) * 0.5 * (1.0 + std::cos(kPi * t));
}

} // namespace

const std::vector<std::string> &netc::runtime::lrScheduleNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const netc::settings::Schedule &s : netc::settings::kSchedules)
      out.push_back(s.flag);
    return out;
  }();
  return names;
}

double netc::runtime::scheduledLearningRate(const LrScheduleConfig &c, double base, int32_t epoch,
                                           int32_t epochs, int64_t step, int64_t stepsPerEpoch,
                                           const LrScheduleState &state) {
  if (c.kind == "step")
    return base * std::pow(c.gamma, double(epoch / std::max(c.stepSize, 1)));
  if (c.kind == "exponential")
    return base * std::pow(c.decay, double(epoch));
  if (c.kind == "cosine")
    return cosineBetween(base, c.minLr, double(epoch) / double(std::max(epochs, 1)));
  if (c.kind == "one-cycle") {
    int64_t total = std::max<int64_t>(int64_t(epochs) * stepsPerEpoch, 1);
    int64_t warm = std::max<int64_t>(int64_t(std::llround(kOneCycleWarmUp * double(total))), 1);
    double start = base / kOneCycleStartDiv;
    if (step < warm)
      return start + (base - start) * double(step) / double(warm);
    int64_t anneal = std::max<int64_t>(total - 1 - warm, 1);
    return cosineBetween(base, base / kOneCycleEndDiv,
                         std::min(1.0, double(step - warm) / double(anneal)));
  }
  if (c.kind == "reduce-on-plateau")
    return state.learningRate > 0 ? state.learningRate : base;
  return base;
}

bool netc::runtime::updatePlateau(const LrScheduleConfig &c, double base, LrScheduleState &state,
                                 double valLoss) {
  if (c.kind != "reduce-on-plateau")
    return false;
  if (state.learningRate <= 0)
    state.learningRate = base;
  if (valLoss < state.best - kPlateauMinDelta) {
    state.best = valLoss;
    state.wait = 0;
    return false;
  }
  if (++state.wait < c.patience)
    return false;
  // Keras compares with the rate as float32 and counts on at the floor.
  if (!(float(state.learningRate) > float(c.minLr)))
    return false;
  state.wait = 0;
  state.learningRate = std::max(state.learningRate * c.factor, c.minLr);
  return true;
}
