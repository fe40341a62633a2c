//===- Schedule.h - Learning-rate schedules -------------------------*- C++ -*-===//
//
// The learning rate of every step of a run as a pure function of the run's
// flags, the epoch and the global step, plus the one schedule with a state of
// its own, reduce-on-plateau (Keras' ReduceLROnPlateau), whose state is saved
// in the checkpoints so that a resumed run is the same run. The trainer
// applies the rate through netc_set_learning_rate before a step when it
// changes. docs/netrun.md gives the formulas.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_SCHEDULE_H
#define NET_RUNTIME_SCHEDULE_H

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace net::runtime {

/// --lr-schedule and its parameters (saved in checkpoints as run flags).
struct LrScheduleConfig {
  std::string kind = "constant"; // one of lrScheduleNames()
  int32_t stepSize = 10;         // step: epochs between decays
  double gamma = 0.1;            // step: factor per stepSize epochs
  double decay = 0.95;           // exponential: factor per epoch
  double minLr = 0;              // cosine: the floor; reduce-on-plateau: the floor
  int32_t patience = 10;         // reduce-on-plateau: epochs without improvement
  double factor = 0.1;           // reduce-on-plateau: factor of a reduction
};

/// constant, step, exponential, cosine, one-cycle, reduce-on-plateau.
const std::vector<std::string> &lrScheduleNames();

/// The state of reduce-on-plateau after some epochs (unused by the others).
struct LrScheduleState {
  double learningRate = 0; // the current rate; 0: not started (the base rate)
  double best = std::numeric_limits<double>::infinity(); // best val_loss so far
  int32_t wait = 0;        // epochs since the last improvement
};

/// The learning rate of global step `step` (0-based) in epoch `epoch`
/// (0-based) of a run of `epochs` epochs of `stepsPerEpoch` steps, for the
/// base rate `base` (--lr).
double scheduledLearningRate(const LrScheduleConfig &config, double base, int32_t epoch,
                             int32_t epochs, int64_t step, int64_t stepsPerEpoch,
                             const LrScheduleState &state);

/// Reduce-on-plateau after an epoch with validation loss `valLoss`, as Keras
/// (mode min, min_delta 1e-4, cooldown 0): returns true when it reduced the rate.
bool updatePlateau(const LrScheduleConfig &config, double base, LrScheduleState &state,
                   double valLoss);

} // namespace net::runtime

#endif // NET_RUNTIME_SCHEDULE_H
