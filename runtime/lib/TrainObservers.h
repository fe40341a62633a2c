//===- TrainObservers.h - What a training run leaves behind -----*- C++ -*-===//
//
// The trainer tells a list of observers about each step and each epoch, in
// order: the checkpoints, history.csv, the TensorBoard events, the plots
// and the caller's progress report. A checkpoint or history row that cannot
// be written stops the run; the events and the plots are only there to be
// watched, so failing to write them warns once and training goes on.
// TrainObservers.cpp also holds the helpers of the run's folder (Trainer.h's
// writeTextFile and prepareOutputDirectory).
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_LIB_TRAINOBSERVERS_H
#define NET_RUNTIME_LIB_TRAINOBSERVERS_H

#include "net/Runtime/ModelCheckpoint.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Random.h"
#include "net/Runtime/Status.h"
#include "net/Runtime/TensorBoard.h"
#include "net/Runtime/Trainer.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace netc::runtime {

using NoteFn = std::function<void(const std::string &)>;

/// Where a run stands, as a checkpoint records it beside the model's state.
struct RunPosition {
  int32_t epoch = 0; // epochs complete
  /// Stopped within epoch `epoch` + 1: its steps done and running sums
  /// (all 0 at an epoch's end).
  int64_t epochStep = 0;
  double epochLossSum = 0;
  int64_t epochCorrect = 0, epochSeen = 0;
  /// The shuffler before the next epoch's shuffle.
  Random::State shuffleState{};
  LrScheduleState schedule;
  EarlyStoppingState earlyStopping;
  double bestValAccuracy = -1;
  int32_t bestEpoch = 0;
};

/// One step done: its own figures and the epoch's running sums.
struct StepRecord {
  int32_t epoch = 0, epochs = 0; // epoch 0-based
  int64_t step = 0;              // within the epoch, 0-based
  uint64_t globalStep = 0;       // 0-based
  int32_t batchSize = 0;         // samples in this step
  float loss = 0;
  int32_t correct = 0;
  float learningRate = 0;        // as the model was given it
  double lossSum = 0;            // over the epoch so far
  int64_t correctSum = 0, seen = 0, epochSize = 0;
  std::chrono::steady_clock::time_point epochStart;
};

/// One epoch done and validated.
struct EpochRecord {
  const EpochStats &stats;
  bool improved; // the new best: best.ckpt takes it
  const RunPosition &position;
};

class TrainObserver {
public:
  virtual ~TrainObserver() = default;
  virtual Status stepEnded(const StepRecord &) { return Status::success(); }
  virtual Status epochEnded(const EpochRecord &) { return Status::success(); }
  /// The run stops within an epoch, to be resumed from `position`.
  virtual Status stoppedWithinEpoch(const RunPosition &) { return Status::success(); }
};

/// last.ckpt after every epoch and at a stop within one, best.ckpt after an
/// improving epoch.
class CheckpointFiles : public TrainObserver {
public:
  CheckpointFiles(const Instance &instance, const TrainOptions &options);
  Status epochEnded(const EpochRecord &epoch) override;
  Status stoppedWithinEpoch(const RunPosition &position) override;
  /// Loads best.ckpt's parameters into the model and writes them into
  /// last.ckpt, whose optimizer slots and position stay the last epoch's.
  Status restoreBestWeights();

  const std::string lastPath, bestPath;

private:
  Checkpoint capture(const RunPosition &position) const;
  const Instance &instance;
  const TrainOptions &options;
  Checkpoint lastEpoch; // written into last.ckpt after the last epoch
};

/// history.csv: a row per epoch, its earlier rows kept on --resume.
class HistoryFile : public TrainObserver {
public:
  /// Keeps the rows of epochs up to `epochsDone` of an existing file.
  static Result<std::unique_ptr<HistoryFile>> start(const std::string &path, int32_t epochsDone);
  Status epochEnded(const EpochRecord &epoch) override;

private:
  explicit HistoryFile(std::string path) : path(std::move(path)) {}
  std::string path;
};

/// TensorBoard events: each epoch's figures, and a step's own loss,
/// accuracy and learning rate every 100 steps; with options.histograms each
/// trainable parameter's histogram after each epoch (tag params/NAME); with
/// options.logImages the first training images once, when a run starts
/// afresh (tags train_images/I, labels in the tag: train_images/0_label_5).
class TensorBoardLog : public TrainObserver {
public:
  TensorBoardLog(const Instance &instance, const TrainOptions &options, const Samples &images,
                 bool freshStart, NoteFn note);
  Status stepEnded(const StepRecord &step) override;
  Status epochEnded(const EpochRecord &epoch) override;

private:
  /// Stops the events after a failed write, saying why.
  void check(const Status &written);
  Status logImages(const Samples &images, int32_t count);
  const Instance &instance;
  bool histograms;
  std::optional<TensorBoardWriter> board;
  NoteFn note;
};

/// loss.png and accuracy.png, drawn again from history.csv after each epoch.
class TrainingPlots : public TrainObserver {
public:
  TrainingPlots(std::string historyPath, std::string outDir, NoteFn note)
      : historyPath(std::move(historyPath)), outDir(std::move(outDir)), note(std::move(note)) {}
  Status epochEnded(const EpochRecord &epoch) override;

private:
  std::string historyPath, outDir;
  NoteFn note;
  bool warned = false;
};

/// The caller's progress report (TrainCallbacks::onStep and onEpoch): the
/// terminal's progress bar and epoch lines.
class ProgressReport : public TrainObserver {
public:
  explicit ProgressReport(const TrainCallbacks &callbacks) : callbacks(callbacks) {}
  Status stepEnded(const StepRecord &step) override;
  Status epochEnded(const EpochRecord &epoch) override;

private:
  const TrainCallbacks &callbacks;
};

/// Removes the temporary files of a run killed while writing (last.ckpt.tmp.PID,
/// ...) from the run's folder: never read, they would only pile up.
void removeStaleTemporaries(const std::string &dir);

} // namespace netc::runtime

#endif // NET_RUNTIME_LIB_TRAINOBSERVERS_H
