//===- EpochEnd.cpp - Early stopping's decision and the epoch line -------===//

#include "Format.h"

#include "net/Runtime/Trainer.h"

#include <limits>
#include <sstream>

using namespace netc::runtime;

EarlyStoppingDecision netc::runtime::updateEarlyStopping(const EarlyStoppingConfig &config,
                                                        EarlyStoppingState &state,
                                                        int32_t epoch, double value) {
  EarlyStoppingDecision decision;
  bool maximize = config.monitor == "val_accuracy";
  double infinity = std::numeric_limits<double>::infinity();
  double reference = state.bestEpoch > 0 ? state.best : (maximize ? -infinity : infinity);
  ++state.wait;
  // As Keras: monitor_op(value - min_delta, best), min_delta negated for min.
  bool better = maximize ? value - config.minDelta > reference
                         : value + config.minDelta < reference;
  if (better) {
    state.best = value;
    state.bestEpoch = epoch;
    state.wait = 0;
    decision.improved = true;
    return decision;
  }
  if (state.wait >= config.patience && epoch > 1) {
    state.stoppedEpoch = epoch;
    decision.stop = true;
  }
  return decision;
}

std::string netc::runtime::formatEarlyStop(const EarlyStoppingConfig &config,
                                          const EarlyStoppingState &state) {
  std::string by = config.minDelta > 0 ? " by " + formatNumber("%g", config.minDelta) : "";
  std::string best = state.bestEpoch > 0 ? "; best " + formatNumber("%.4f", state.best) +
                                               " at epoch " + std::to_string(state.bestEpoch)
                                         : "";
  return "Epoch " + std::to_string(state.stoppedEpoch) + ": early stopping (" + config.monitor +
         " did not improve" + by + " for " + std::to_string(state.wait) +
         (state.wait == 1 ? " epoch" : " epochs") + best + ")";
}

std::string netc::runtime::formatEpochLine(const EpochStats &s) {
  std::ostringstream line;
  line << "Epoch " << s.epoch << "/" << s.epochs << " - " << formatNumber("%.1f", s.seconds)
       << "s - loss: " << formatNumber("%.4f", s.loss)
       << " - accuracy: " << formatNumber("%.4f", s.accuracy)
       << " - val_loss: " << formatNumber("%.4f", s.valLoss)
       << " - val_accuracy: " << formatNumber("%.4f", s.valAccuracy) << " - ";
  if (s.scheduled)
    line << "learning_rate: " << formatNumber("%.4g", s.learningRate) << " - ";
  line
       << withThousands(int64_t(std::llround(s.imagesPerSecond))) << " images/s";
  return line.str();
}
