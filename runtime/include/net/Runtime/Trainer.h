//===- Trainer.h - The training loop, evaluation and initialisers -*- C++ -*-===//
//
// The runtime never computes a layer: it initialises the parameters from the
// seed, shuffles, batches, calls netc_train_step, validates each epoch,
// writes checkpoints and the history, and reports through a callback.
//
// Determinism: initialisation uses a generator seeded from the run seed, the
// shuffle generator is seeded from it too and saved in every checkpoint, and
// the seed of each step is deriveSeed(seed, kStepStream, global step). With
// the same seed, batch and thread count a run, interrupted and resumed or
// not, gives the same weights bit for bit (as far as the model's own kernels
// are deterministic for a thread count). Augmented batches are drawn from
// deriveSeed(seed, kAugmentStream, global step) (Augment.h) and prepared
// ahead by worker threads (Prefetch.h) without changing a bit.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_TRAINER_H
#define NET_RUNTIME_TRAINER_H

#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/Collective.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Status.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace netc::runtime {

/// Fills every parameter from its initializer (netc_tensor_info::init),
/// in index order, from `seed`; zeroes the optimizer slots and the step.
Status initializeParameters(const Instance &instance, uint64_t seed);

struct TrainOptions {
  int32_t epochs = 1;
  double learningRate = 0;   // 0: the model's
  uint64_t seed = 0;
  double validationSplit = 0; // 0: validate on the test split
  std::string outDir = "run";
  bool resume = false;        // continue from outDir/last.ckpt
  /// Start from this checkpoint's parameters, matched by name (a base
  /// trained before); the model's others are initialised from the seed.
  std::string initialWeights;
  /// Train the head on features the frozen base computes once per image,
  /// when the model has such a base; false when something random (an
  /// augmentation) is applied to the images.
  bool cacheFeatures = true;
  RunConfig config;           // saved in checkpoints; config.schedule is the
                              // learning-rate schedule, config.augment the
                              // augmentation of the training batches
  int32_t augmentWorkers = 0; // threads preparing augmented batches; 0: auto
  std::vector<std::string> classNames; // saved in checkpoints (image folders)
  /// Steps per netc_train_steps call when the model holds the training set
  /// (no augmentation, no cached features); 0: 64 on a GPU, where a call is
  /// one synchronisation, and 1 on the CPU, where it costs nothing extra.
  /// Progress, TensorBoard and a stop request are handled between calls.
  int32_t stepsPerCall = 0;
  /// TensorBoard: a histogram of every trainable parameter after each epoch.
  bool histograms = false;
  /// TensorBoard: the first `logImages` training images, once, at the start
  /// of a run (not of a resumed one).
  int32_t logImages = 0;
  /// Data-parallel training over these ranks (DataParallel.h,
  /// docs/distributed.md); null: this process alone. Each rank calls train()
  /// with the same options; rank 0 alone writes files and reports.
  Collective *collective = nullptr;
  /// The global batch of a data-parallel run, whose shards the ranks'
  /// instances train on; 0: the instance's batch.
  int32_t globalBatch = 0;
};

/// The metrics of one epoch, as a history.csv row.
struct EpochStats {
  int32_t epoch = 0;          // 1-based
  int32_t epochs = 0;
  double loss = 0, accuracy = 0;
  double valLoss = 0, valAccuracy = 0;
  double learningRate = 0;
  double seconds = 0;
  double imagesPerSecond = 0;
  bool scheduled = false;     // a --lr-schedule: the epoch line shows the rate
  double waitedSeconds = 0;   // training waited for augmented batches (not in history.csv)
};

/// Progress within an epoch, after each step.
struct StepProgress {
  int32_t epoch = 0, epochs = 0;
  int64_t seen = 0, total = 0; // images this epoch
  double loss = 0, accuracy = 0; // running means this epoch
  double seconds = 0;
};

struct TrainCallbacks {
  std::function<void(const StepProgress &)> onStep;
  std::function<void(const EpochStats &)> onEpoch;
  std::function<void(const std::string &)> onNote; // "resuming from ..."
  /// Asked after each step (and each epoch); true stops the run after
  /// writing last.ckpt with the position within the epoch.
  std::function<bool()> stopRequested;
};

struct TrainResult {
  std::vector<EpochStats> history; // the epochs run now
  /// The epoch of best.ckpt and its val_accuracy: the best val_accuracy, or
  /// with early stopping the epoch it found best.
  int32_t bestEpoch = 0;
  double bestValAccuracy = -1;
  /// Early stopping's state at the end; `stoppedEarly` when it ended the run,
  /// `restored` when best.ckpt's parameters were loaded at the end.
  EarlyStoppingState earlyStopping;
  bool stoppedEarly = false;
  bool restored = false;
  /// Stopped by stopRequested: last.ckpt holds epoch `stoppedEpoch` (1-based)
  /// after `stoppedStep` of its `stepsPerEpoch` steps.
  bool interrupted = false;
  int32_t stoppedEpoch = 0;
  int64_t stoppedStep = 0, stepsPerEpoch = 0;
};

/// Trains `instance` on `train`, validating on `validation` after each epoch.
/// Writes outDir/last.ckpt, outDir/best.ckpt and outDir/history.csv. A loss
/// that becomes NaN or infinite stops with a failure naming the epoch and
/// step; the checkpoints of the last good epoch stay as they were. The
/// learning rate follows options.config.schedule. With
/// options.config.earlyStopping, best.ckpt follows its monitor, the run stops
/// when it says so, and with restoreBestWeights best.ckpt's parameters are
/// loaded at the end (and written into last.ckpt).
Result<TrainResult> train(const Instance &instance, const Samples &train,
                          const Samples &validation, const TrainOptions &options,
                          const TrainCallbacks &callbacks);

/// What early stopping decides after an epoch.
struct EarlyStoppingDecision {
  bool improved = false; // the epoch is the new best (best.ckpt is written)
  bool stop = false;     // the run ends after this epoch
};

/// Keras' EarlyStopping.on_epoch_end after epoch `epoch` (1-based) whose
/// monitored value is `value`: an improvement is `value + minDelta < best`
/// for val_loss, `value - minDelta > best` for val_accuracy (the first epoch
/// is compared with +/-infinity); `wait` counts up every epoch and restarts
/// at 0 on an improvement; without one, the run stops when `wait` reaches
/// `patience` (so patience 0 and 1 both stop at the first epoch without
/// improvement), never after the first epoch. Sets state.stoppedEpoch.
EarlyStoppingDecision updateEarlyStopping(const EarlyStoppingConfig &config,
                                          EarlyStoppingState &state, int32_t epoch,
                                          double value);

/// `Epoch 7: early stopping (val_loss did not improve by 0.0001 for 3 epochs;
/// best 0.0312 at epoch 4)`.
std::string formatEarlyStop(const EarlyStoppingConfig &config, const EarlyStoppingState &state);

/// Loss and accuracy over `samples` (netc_eval_step), and, when
/// `withConfusion`, the confusion matrix [true][predicted] from netc_forward.
struct Evaluation {
  double loss = 0, accuracy = 0;
  int64_t count = 0;
  std::vector<std::vector<int64_t>> confusion;
  /// With the confusion matrix: each image's predicted class and its
  /// probability, in the samples' order.
  std::vector<int32_t> predicted;
  std::vector<float> probability;
};
Result<Evaluation> evaluate(const Instance &instance, const Samples &samples,
                            bool withConfusion);
/// evaluate() over samples [begin, end) alone: a rank's part of a
/// data-parallel validation.
Result<Evaluation> evaluateRange(const Instance &instance, const Samples &samples,
                                 bool withConfusion, int64_t begin, int64_t end);

/// The prefetching workers for `requested` (0: auto, a quarter of the cores,
/// one to four).
int32_t augmentWorkerCount(int32_t requested);

/// `Epoch 3/12 - 4.1s - loss: 0.0712 - accuracy: 0.9781 - val_loss: 0.0503 -
/// val_accuracy: 0.9836 - 14,634 images/s`, with ` - learning_rate: 0.001`
/// before the images/s when the rate follows a schedule.
std::string formatEpochLine(const EpochStats &stats);

/// The header and one row of history.csv.
std::string historyHeader();
std::string historyRow(const EpochStats &stats);

/// Writes `text` to `path` atomically (a temporary file in the same folder,
/// then rename): a reader sees the old file or the new one, never a part.
Status writeTextFile(const std::string &path, const std::string &text);

/// Checks that `dir` exists (creating it) and that a file can be written in it.
Status prepareOutputDirectory(const std::string &dir);

} // namespace netc::runtime

#endif // NET_RUNTIME_TRAINER_H
