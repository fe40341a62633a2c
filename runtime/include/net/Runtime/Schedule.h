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

namespace netc::runtime {

/// --lr-schedule and its parameters (saved in checkpoints as run flags).
/// Its parameters are TrainSettings.def's schedule settings, with their
/// defaults: stepSize, gamma (step), decay (exponential), minLr (cosine,
/// reduce-on-plateau), patience, factor (reduce-on-plateau).
struct LrScheduleConfig {
  std::string kind = "constant"; // one of lrScheduleNames()
#define NETC_SCHEDULE_TYPE_Int int32_t
#define NETC_SCHEDULE_TYPE_Real double
#define NETC_SCHEDULE_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, Type, Default, \
                              ...)                                                           \
  NETC_SCHEDULE_TYPE_##Type Member = Default;
#include "net/Runtime/TrainSettings.def"
#undef NETC_SCHEDULE_TYPE_Int
#undef NETC_SCHEDULE_TYPE_Real
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

} // namespace netc::runtime

#endif // NET_RUNTIME_SCHEDULE_H
