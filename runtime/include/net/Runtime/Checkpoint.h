//===- Checkpoint.h - Saving and restoring a training run --------*- C++ -*-===//
//
// A checkpoint holds what a run needs to go on bit for bit: the parameters
// and optimizer slots by name and shape, the optimizer step, the epochs done,
// the shuffling generator's state, the best validation accuracy so far, the
// state of the learning-rate schedule and of early stopping, and the run's
// flags. The file format is runtime/proto/checkpoint.proto; this
// header keeps protobuf out of the runtime's interface. It is a leaf (the
// NetCheckpoint library): netc writes imported weights with it and links
// nothing else of the runtime. Moving tensors between a checkpoint and a
// loaded model is ModelCheckpoint.h's.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_CHECKPOINT_H
#define NET_RUNTIME_CHECKPOINT_H

#include "net/Runtime/AugmentConfig.h"
#include "net/Runtime/Schedule.h"
#include "net/Runtime/Shape.h"
#include "net/Runtime/Status.h"
#include "net/Runtime/TrainSettings.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// --early-stopping and its flags, as Keras' EarlyStopping (mode from the
/// monitor: min for val_loss, max for val_accuracy; baseline none,
/// start_from_epoch 0). Its flags are TrainSettings.def's early-stopping
/// settings, with their defaults: monitor (val_loss or val_accuracy),
/// patience, minDelta, restoreBestWeights.
struct EarlyStoppingConfig {
  bool enabled = false;
#define NETC_EARLY_TYPE_Int int32_t
#define NETC_EARLY_TYPE_Real double
#define NETC_EARLY_TYPE_Bool bool
#define NETC_EARLY_TYPE_Choice std::string
#define NETC_EARLY_DEFAULT_Int(Default, Choices) Default
#define NETC_EARLY_DEFAULT_Real(Default, Choices) Default
#define NETC_EARLY_DEFAULT_Bool(Default, Choices) Default != 0
#define NETC_EARLY_DEFAULT_Choice(Default, Choices) ::netc::settings::firstChoice(Choices)
#define NETC_EARLY_STOPPING_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, Type, \
                                    Default, Low, High, LowOpen, HighOpen, Choices, ...)  \
  NETC_EARLY_TYPE_##Type Member = NETC_EARLY_DEFAULT_##Type(Default, Choices);
#include "net/Runtime/TrainSettings.def"
#undef NETC_EARLY_TYPE_Int
#undef NETC_EARLY_TYPE_Real
#undef NETC_EARLY_TYPE_Bool
#undef NETC_EARLY_TYPE_Choice
#undef NETC_EARLY_DEFAULT_Int
#undef NETC_EARLY_DEFAULT_Real
#undef NETC_EARLY_DEFAULT_Bool
#undef NETC_EARLY_DEFAULT_Choice
};

/// Early stopping's state after some epochs (saved in checkpoints).
struct EarlyStoppingState {
  double best = 0;          // the best monitored value; meaningless while bestEpoch is 0
  int32_t bestEpoch = 0;    // 1-based; 0: none yet
  int32_t wait = 0;         // epochs since the best (Keras' `wait`)
  int32_t stoppedEpoch = 0; // 1-based epoch at which it stopped; 0: not stopped
};

/// The flags of the run that wrote a checkpoint.
struct RunConfig {
  uint64_t seed = 0;
  int32_t batch = 0;
  int32_t epochs = 0;
  double learningRate = 0;
  int32_t threads = 0;
  double validationSplit = 0;
  int64_t limit = 0;
  std::string data;
  std::string device;
  LrScheduleConfig schedule;
  EarlyStoppingConfig earlyStopping;
  AugmentConfig augment;
  std::string validationData; // --validation-data, or ""
};

struct Checkpoint {
  std::string network;
  std::string compiler;
  std::vector<NamedTensor> params;
  std::vector<NamedTensor> state;
  int64_t step = 0;
  int32_t epoch = 0;
  std::vector<uint64_t> rngState;
  RunConfig run;
  double bestValAccuracy = -1;
  int32_t bestEpoch = 0;
  /// Interrupted within epoch `epoch` + 1: its steps done (0: at an epoch's
  /// end) and its running sums; rngState is then the state before its shuffle.
  int64_t epochStep = 0;
  double epochLossSum = 0;
  int64_t epochCorrect = 0, epochSeen = 0;
  LrScheduleState schedule;
  EarlyStoppingState earlyStopping;
  /// An image folder's classes (label i is classNames[i]); empty for IDX.
  std::vector<std::string> classNames;
  /// The model's input_mean and input_std when written (captureCheckpoint);
  /// empty when unknown (older files, imported weights).
  std::vector<float> inputMean, inputStd;
};

/// Writes `checkpoint` to `path` atomically: a temporary file in the same
/// directory, fsync, rename, fsync of the directory. On failure the old file
/// at `path`, if any, is untouched and the temporary file is removed.
///
/// Test hook: NETRUN_TEST_KILL_DURING_CHECKPOINT=N makes the Nth call of the
/// process raise SIGKILL after writing half of its temporary file.
Status writeCheckpoint(const std::string &path, const Checkpoint &checkpoint);

/// Reads a checkpoint, refusing a missing, truncated or corrupted file.
Result<Checkpoint> readCheckpoint(const std::string &path);

} // namespace netc::runtime

#endif // NET_RUNTIME_CHECKPOINT_H
