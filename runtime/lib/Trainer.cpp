//===- Trainer.cpp - The training loop and evaluation ---------------------===//
//
// train() is a loop over epochs; TrainingRun holds what carries from one to
// the next. A batch source (BatchSources.h) feeds the steps and a list of
// observers (TrainObservers.h) writes what the run leaves behind.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Trainer.h"

#include "BatchSources.h"
#include "Format.h"
#include "SeedStreams.h"
#include "TrainObservers.h"

#include "net/Runtime/DataParallel.h"
#include "net/Runtime/Features.h"
#include "net/Runtime/Random.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <thread>

using namespace netc::runtime;

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int32_t netc::runtime::augmentWorkerCount(int32_t requested) {
  if (requested > 0)
    return requested;
  return std::clamp(int32_t(std::thread::hardware_concurrency() / 4), 1, 4);
}

//===----------------------------------------------------------------------===//
// The training loop
//===----------------------------------------------------------------------===//

namespace {

/// The running sums of an epoch.
struct EpochSums {
  double lossSum = 0;
  int64_t correct = 0, seen = 0;
};

/// How an epoch ended.
enum class EpochOutcome { Continue, StoppedEarly, Interrupted };

/// One call of train(): the state carried from step to step and epoch to
/// epoch (and through a checkpoint into a resumed run), the batch source
/// and the observers.
class TrainingRun {
public:
  TrainingRun(const Instance &instance, const TrainOptions &options,
              const TrainCallbacks &callbacks);

  /// Resumes from last.ckpt, or initialises the parameters (and loads
  /// options.initialWeights); in a data-parallel run, then gives every rank
  /// rank 0's parameters.
  Status start();
  /// Trains on a frozen base's features, computed once, when nothing random
  /// precedes the base; else on the images.
  void chooseData(const Samples &trainImages, const Samples &validationImages);
  /// True, saying why, when the resumed last.ckpt has already run its course
  /// (all its epochs done, or stopped early): the run then trains nothing.
  bool resumedRunIsComplete();
  /// Starts the observers and the batch source.
  Status prepare();
  int32_t firstEpoch() const { return startEpoch; }
  Result<EpochOutcome> trainEpoch(int32_t epoch);
  /// With early stopping's restoreBestWeights, ends on best.ckpt's parameters.
  Status restoreBestWeights();
  TrainResult takeResult() { return std::move(result); }

private:
  void note(const std::string &text) const {
    if (callbacks.onNote)
      callbacks.onNote(text);
  }
  bool stopRequested() const { return callbacks.stopRequested && callbacks.stopRequested(); }
  Status startHere();
  /// In a data-parallel run: the step's loss and correct count over the
  /// whole batch from each rank's, and whether any rank was asked to stop.
  Status combineStep(const BatchShard &shard, float &loss, int32_t &correct, bool &stop);
  /// Rank 0's volume of gradients exchanged a step, and the time the steps
  /// waited for their sums.
  void noteExchange(double trainSeconds);
  /// Whether any rank was asked to stop (this one alone in one process).
  Result<bool> anyStopRequested();
  /// The validation figures over the whole set: each rank evaluates its
  /// part in a data-parallel run.
  Result<Evaluation> validate();
  BatchShard shardOf(int64_t step) const {
    return shardOfStep(step, globalBatch, trainSet->count, rank, ranks);
  }
  uint64_t globalStepOf(int32_t epoch, int64_t step) const {
    return uint64_t(epoch) * uint64_t(stepsPerEpoch) + uint64_t(step);
  }
  /// Fills the call's learning rates and seeds for its steps from `first`.
  void planCall(int32_t epoch, int64_t first);
  std::string divergedMessage(int32_t epoch, int64_t step, float loss) const;
  /// Validates, tells the observers, and decides whether the run goes on.
  Result<EpochOutcome> endEpoch(int32_t epoch, const EpochSums &sums,
                                std::chrono::steady_clock::time_point epochStart,
                                double trainSeconds, double waitedSeconds);
  RunPosition positionAfter(int32_t epochsDone, const Random::State &shuffleState) const;
  Status tellObservers(const std::function<Status(TrainObserver &)> &event);

  const Instance &instance;
  const netc_model_info &info;
  const TrainOptions &options;
  const TrainCallbacks &callbacks;
  // A data-parallel run's ranks (one, this process, without a collective);
  // rank 0 alone writes files and reports through the observers.
  Collective *const collective;
  const int32_t rank, ranks;
  std::optional<GradientExchange> exchange;
  int64_t globalBatch = 0;
  TrainResult result;
  Random shuffler;
  LrScheduleState scheduleState;
  // Where a resumed run starts: within epoch startEpoch after startStep steps.
  int32_t startEpoch = 0;
  int64_t startStep = 0;
  EpochSums startSums;

  Samples trainFeatures, validationFeatures;
  const Samples *trainSet = nullptr, *validation = nullptr;
  const Samples *images = nullptr; // the training images, whatever trainSet holds
  double baseRate = 0;
  double learningRate = -1; // the last trained step's, as scheduled
  int64_t stepsPerEpoch = 0;
  std::vector<int64_t> order; // the epoch's, read by the batch source

  std::vector<std::unique_ptr<TrainObserver>> observers;
  CheckpointFiles *checkpoints = nullptr; // the first observer (rank 0)
  std::unique_ptr<CheckpointFiles> unobserved; // another rank's: read, never written
  // Declared after what it reads (order, the features): its workers stop first.
  std::unique_ptr<BatchSource> source;
  std::optional<StepCall> call;
};

TrainingRun::TrainingRun(const Instance &instance, const TrainOptions &options,
                         const TrainCallbacks &callbacks)
    : instance(instance), info(instance.info()), options(options), callbacks(callbacks),
      collective(options.collective), rank(collective ? collective->rank() : 0),
      ranks(collective ? collective->size() : 1),
      shuffler(deriveSeed(options.seed, kShuffleStream, 0)) {
  auto files = std::make_unique<CheckpointFiles>(instance, options);
  checkpoints = files.get();
  if (rank == 0)
    observers.push_back(std::move(files));
  else
    unobserved = std::move(files);
}

Status TrainingRun::start() {
  if (Status s = startHere(); !s)
    return s;
  return collective ? broadcastModelState(instance, *collective) : Status::success();
}

Status TrainingRun::startHere() {
  if (rank == 0) {
    if (Status s = prepareOutputDirectory(options.outDir); !s)
      return s;
    removeStaleTemporaries(options.outDir);
  }
  if (!options.resume) {
    if (Status s = initializeParameters(instance, options.seed); !s)
      return s;
    if (options.initialWeights.empty())
      return Status::success();
    Result<Checkpoint> initial = readCheckpoint(options.initialWeights);
    if (!initial)
      return Status::failure(initial.error);
    Result<LoadReport> loaded = loadParametersByName(*initial, instance, options.initialWeights);
    if (!loaded)
      return Status::failure(loaded.error);
    note(formatLoadReport(*loaded, options.initialWeights));
    return Status::success();
  }
  const std::string &lastPath = checkpoints->lastPath;
  Result<Checkpoint> last = readCheckpoint(lastPath);
  if (!last)
    return Status::failure(last.error + " (--resume continues from the --out folder's last.ckpt)");
  if (Status s = restoreCheckpoint(*last, instance, lastPath, /*withState=*/true); !s)
    return s;
  if (last->classNames != options.classNames)
    return Status::failure(
        lastPath + ": was trained on " +
        (last->classNames.empty() ? std::string("an IDX dataset")
                                  : std::to_string(last->classNames.size()) +
                                        " classes of an image folder") +
        ", the data now has " +
        (options.classNames.empty() ? std::string("none of its class names")
                                    : std::to_string(options.classNames.size()) +
                                          " classes (the class folders must stay the same)"));
  if (last->rngState.size() != 4)
    return Status::failure(lastPath + ": corrupted checkpoint: the shuffling state has " +
                           std::to_string(last->rngState.size()) + " words, expected 4");
  Random::State state;
  std::copy(last->rngState.begin(), last->rngState.end(), state.begin());
  shuffler.setState(state);
  startEpoch = last->epoch;
  startStep = last->epochStep;
  startSums = {last->epochLossSum, last->epochCorrect, last->epochSeen};
  scheduleState = last->schedule;
  result.bestValAccuracy = last->bestValAccuracy;
  result.bestEpoch = last->bestEpoch;
  result.earlyStopping = last->earlyStopping;
  note("resuming from " + lastPath +
       (startStep ? " within epoch " + std::to_string(startEpoch + 1) + " after step " +
                        std::to_string(startStep)
                  : " after epoch " + std::to_string(startEpoch)) +
       " (step " + std::to_string(last->step) + ")");
  return Status::success();
}

void TrainingRun::chooseData(const Samples &trainImages, const Samples &validationImages) {
  images = &trainImages;
  trainSet = &trainImages;
  validation = &validationImages;
  if (!options.cacheFeatures || !hasFrozenBase(info))
    return;
  if (options.config.augment.enabled()) {
    note("frozen base: running it every step (augmentation changes its input every epoch)");
    return;
  }
  auto started = std::chrono::steady_clock::now();
  // Each rank of a data-parallel run computes its share of the images.
  Result<Samples> t = computeFeatures(instance, trainImages, kMaxFeatureBytes, collective);
  Result<Samples> v =
      t ? computeFeatures(instance, validationImages, kMaxFeatureBytes, collective) : t;
  if (!t || !v) {
    note("frozen base: running it every step (" + (t ? v.error : t.error) + ")");
    return;
  }
  trainFeatures = std::move(*t);
  validationFeatures = std::move(*v);
  trainSet = &trainFeatures;
  validation = &validationFeatures;
  note("frozen base: the features of '" + std::string(info.feature_layer) + "' " +
       shapeText(info.feature_shape, info.feature_rank) + " for " +
       withThousands(trainImages.count + validationImages.count) + " images computed once in " +
       formatNumber("%.1f", secondsSince(started)) + " s; training the head on them");
}

bool TrainingRun::resumedRunIsComplete() {
  const std::string &lastPath = checkpoints->lastPath;
  if (result.earlyStopping.stoppedEpoch > 0) {
    note("nothing to do: " + lastPath + " was stopped early at epoch " +
         std::to_string(result.earlyStopping.stoppedEpoch));
    result.stoppedEarly = true;
    return true;
  }
  if (startEpoch >= options.epochs) {
    note("nothing to do: " + lastPath + " is already at epoch " + std::to_string(startEpoch) +
         " of " + std::to_string(options.epochs));
    return true;
  }
  return false;
}

Status TrainingRun::prepare() {
  NoteFn noteFn = [this](const std::string &text) { note(text); };
  if (rank == 0) {
    std::string historyPath = options.outDir + "/history.csv";
    Result<std::unique_ptr<HistoryFile>> history = HistoryFile::start(historyPath, startEpoch);
    if (!history)
      return Status::failure(history.error);
    observers.push_back(std::move(*history));
    observers.push_back(std::make_unique<TensorBoardLog>(
        instance, options, *images, /*freshStart=*/startEpoch == 0 && startStep == 0, noteFn));
    observers.push_back(std::make_unique<TrainingPlots>(historyPath, options.outDir, noteFn));
    observers.push_back(std::make_unique<ProgressReport>(callbacks));
  }

  baseRate = options.learningRate > 0 ? options.learningRate : info.train.learning_rate;
  globalBatch = options.globalBatch > 0 ? options.globalBatch : instance.batch();
  stepsPerEpoch = (trainSet->count + globalBatch - 1) / globalBatch;
  if (startStep >= stepsPerEpoch)
    return Status::failure(checkpoints->lastPath + ": was interrupted after step " +
                           std::to_string(startStep) + " of an epoch, but this run has " +
                           std::to_string(stepsPerEpoch) +
                           " steps per epoch (resume with the same --batch and --limit)");
  result.stepsPerEpoch = stepsPerEpoch;
  order.resize(size_t(trainSet->count));
  Result<std::unique_ptr<BatchSource>> made = makeBatchSource(
      {instance, *trainSet, order, options, stepsPerEpoch, noteFn, globalBatch, rank, ranks});
  if (!made)
    return Status::failure(made.error);
  source = std::move(*made);
  call.emplace(source->stepsPerCall());
  if (collective) {
    exchange.emplace(*collective);
    if (Status s = exchange->attach(instance); !s)
      return s;
  }
  return Status::success();
}

Status TrainingRun::combineStep(const BatchShard &shard, float &loss, int32_t &correct,
                                bool &stop) {
  double values[3] = {shard.share * double(loss), shard.empty ? 0.0 : double(correct),
                      stopRequested() ? 1.0 : 0.0};
  if (Status s = collective->sum(values, 3); !s)
    return s;
  loss = float(values[0]);
  correct = int32_t(std::llround(values[1]));
  stop = values[2] > 0;
  return Status::success();
}

void TrainingRun::noteExchange(double trainSeconds) {
  const GradientExchange::Totals totals = exchange->takeTotals();
  if (rank != 0 || totals.steps == 0)
    return;
  const double megabytes = double(totals.floats) * 4 / double(totals.steps) / 1e6;
  const double waited = totals.waitSeconds / double(totals.steps) * 1e3;
  note("exchange: " + formatNumber("%.2f", megabytes) + " MB of gradients a step summed over " +
       std::to_string(ranks) + (ranks == 1 ? " rank" : " ranks") + "; the steps waited " +
       formatNumber("%.2f", waited) + " ms each for the sums (" +
       formatNumber("%.1f", trainSeconds > 0 ? 100 * totals.waitSeconds / trainSeconds : 0) +
       "% of the epoch's training)");
}

Result<bool> TrainingRun::anyStopRequested() {
  if (!collective)
    return Result<bool>::success(stopRequested());
  double asked = stopRequested() ? 1.0 : 0.0;
  if (Status s = collective->sum(&asked, 1); !s)
    return Result<bool>::failure(s.error());
  return Result<bool>::success(asked > 0);
}

Result<Evaluation> TrainingRun::validate() {
  if (!collective)
    return evaluate(instance, *validation, /*withConfusion=*/false);
  const int64_t count = validation->count;
  Result<Evaluation> part = evaluateRange(instance, *validation, /*withConfusion=*/false,
                                          count * rank / ranks, count * (rank + 1) / ranks);
  if (!part)
    return part;
  double sums[2] = {part->loss * double(part->count), part->accuracy * double(part->count)};
  if (Status s = collective->sum(sums, 2); !s)
    return Result<Evaluation>::failure(s.error());
  Evaluation whole;
  whole.count = count;
  if (count) {
    whole.loss = sums[0] / double(count);
    whole.accuracy = std::round(sums[1]) / double(count);
  }
  return Result<Evaluation>::success(std::move(whole));
}

void TrainingRun::planCall(int32_t epoch, int64_t first) {
  call->firstStep = first;
  call->steps = std::min<int64_t>(source->stepsPerCall(), stepsPerEpoch - first);
  for (int64_t j = 0; j < call->steps; ++j) {
    const uint64_t globalStep = globalStepOf(epoch, first + j);
    call->rates[size_t(j)] =
        scheduledLearningRate(options.config.schedule, baseRate, epoch, options.epochs,
                              int64_t(globalStep), stepsPerEpoch, scheduleState);
    call->ratesGiven[size_t(j)] = float(call->rates[size_t(j)]);
    call->seeds[size_t(j)] =
        rankSeed(deriveSeed(options.seed, kStepStream, globalStep), rank, ranks);
  }
}

std::string TrainingRun::divergedMessage(int32_t epoch, int64_t step, float loss) const {
  std::string kept = epoch > 0 ? "the last good checkpoint (" + checkpoints->lastPath +
                                     ", epoch " + std::to_string(epoch) + ") is kept"
                               : "no checkpoint was written";
  return "loss became " + std::string(std::isnan(loss) ? "nan" : "inf") + " at epoch " +
         std::to_string(epoch + 1) + ", step " + std::to_string(step + 1) + " of " +
         std::to_string(stepsPerEpoch) + " (global step " +
         std::to_string(globalStepOf(epoch, step) + 1) + "); training stopped, " + kept +
         "; try a lower --lr";
}

Status TrainingRun::tellObservers(const std::function<Status(TrainObserver &)> &event) {
  for (const std::unique_ptr<TrainObserver> &observer : observers)
    if (Status s = event(*observer); !s)
      return s;
  return Status::success();
}

RunPosition TrainingRun::positionAfter(int32_t epochsDone,
                                       const Random::State &shuffleState) const {
  RunPosition position;
  position.epoch = epochsDone;
  position.shuffleState = shuffleState;
  position.schedule = scheduleState;
  position.earlyStopping = result.earlyStopping;
  position.bestValAccuracy = result.bestValAccuracy;
  position.bestEpoch = result.bestEpoch;
  return position;
}

Result<EpochOutcome> TrainingRun::trainEpoch(int32_t epoch) {
  using R = Result<EpochOutcome>;
  auto epochStart = std::chrono::steady_clock::now();
  Random::State beforeShuffle = shuffler.state();
  std::iota(order.begin(), order.end(), int64_t(0));
  shuffler.shuffle(order);
  bool resumed = epoch == startEpoch;
  EpochSums sums = resumed ? startSums : EpochSums{};
  const int64_t firstStep = resumed ? startStep : 0;
  source->beginEpoch(epoch, firstStep);
  for (int64_t callStep = firstStep; callStep < stepsPerEpoch; callStep += call->steps) {
    planCall(epoch, callStep);
    const BatchShard shard = shardOf(callStep); // a step a call when data-parallel
    if (exchange)
      exchange->setShare(shard.share);
    if (Status s = source->trainSteps(*call); !s)
      return R::failure(exchange && !exchange->error().empty()
                            ? s.error() + " (" + exchange->error() + ")"
                            : s.error());
    bool anyStop = false;
    if (collective)
      if (Status s = combineStep(shard, call->losses[0], call->corrects[0], anyStop); !s)
        return R::failure(s.error());
    learningRate = call->rates[size_t(call->steps - 1)];
    for (int64_t step = callStep; step < callStep + call->steps; ++step) {
      const size_t j = size_t(step - callStep);
      StepRecord record;
      record.epoch = epoch;
      record.epochs = options.epochs;
      record.step = step;
      record.globalStep = globalStepOf(epoch, step);
      record.batchSize =
          int32_t(std::min<int64_t>(globalBatch, trainSet->count - step * globalBatch));
      record.loss = call->losses[j];
      record.correct = call->corrects[j];
      record.learningRate = call->ratesGiven[j];
      if (!std::isfinite(record.loss))
        return R::failure(divergedMessage(epoch, step, record.loss));
      sums.lossSum += double(record.loss) * record.batchSize;
      sums.correct += record.correct;
      sums.seen += record.batchSize;
      record.lossSum = sums.lossSum;
      record.correctSum = sums.correct;
      record.seen = sums.seen;
      record.epochSize = trainSet->count;
      record.epochStart = epochStart;
      if (Status s = tellObservers([&](TrainObserver &o) { return o.stepEnded(record); }); !s)
        return R::failure(s.error());
      // A stop after the epoch's last step waits for the epoch's end.
      bool lastOfCall = step + 1 == callStep + call->steps;
      if (!lastOfCall || step + 1 >= stepsPerEpoch || !(collective ? anyStop : stopRequested()))
        continue;
      RunPosition position = positionAfter(epoch, beforeShuffle);
      position.epochStep = step + 1;
      position.epochLossSum = sums.lossSum;
      position.epochCorrect = sums.correct;
      position.epochSeen = sums.seen;
      if (Status s = tellObservers(
              [&](TrainObserver &o) { return o.stoppedWithinEpoch(position); });
          !s)
        return R::failure(s.error());
      result.interrupted = true;
      result.stoppedEpoch = epoch + 1;
      result.stoppedStep = step + 1;
      return R::success(EpochOutcome::Interrupted);
    }
  }
  double trainSeconds = secondsSince(epochStart);
  double waitedSeconds = source->endEpoch();
  return endEpoch(epoch, sums, epochStart, trainSeconds, waitedSeconds);
}

Result<EpochOutcome> TrainingRun::endEpoch(int32_t epoch, const EpochSums &sums,
                                           std::chrono::steady_clock::time_point epochStart,
                                           double trainSeconds, double waitedSeconds) {
  using R = Result<EpochOutcome>;
  Result<Evaluation> val = validate();
  if (!val)
    return R::failure(val.error);
  if (collective)
    if (Status s = checkReplicasAgree(instance, *collective,
                                      "after epoch " + std::to_string(epoch + 1));
        !s)
      return R::failure(s.error());
  const LrScheduleConfig &schedule = options.config.schedule;
  const EarlyStoppingConfig &early = options.config.earlyStopping;
  EpochStats stats;
  stats.epoch = epoch + 1;
  stats.epochs = options.epochs;
  stats.loss = sums.seen ? sums.lossSum / double(sums.seen) : 0;
  stats.accuracy = sums.seen ? double(sums.correct) / double(sums.seen) : 0;
  stats.valLoss = val->loss;
  stats.valAccuracy = val->accuracy;
  stats.learningRate = learningRate;
  stats.scheduled = schedule.kind != "constant";
  stats.seconds = secondsSince(epochStart);
  stats.imagesPerSecond = trainSeconds > 0 ? double(sums.seen) / trainSeconds : 0;
  stats.waitedSeconds = waitedSeconds;
  bool reduced = updatePlateau(schedule, baseRate, scheduleState, stats.valLoss);
  EarlyStoppingDecision decision;
  if (early.enabled)
    decision = updateEarlyStopping(
        early, result.earlyStopping, epoch + 1,
        early.monitor == "val_accuracy" ? stats.valAccuracy : stats.valLoss);
  // best.ckpt: the best val_accuracy, or the epoch early stopping found best.
  bool improved = early.enabled ? decision.improved : stats.valAccuracy > result.bestValAccuracy;
  if (improved) {
    result.bestValAccuracy = stats.valAccuracy;
    result.bestEpoch = epoch + 1;
  }
  RunPosition position = positionAfter(epoch + 1, shuffler.state());
  EpochRecord record{stats, improved, position};
  if (Status s = tellObservers([&](TrainObserver &o) { return o.epochEnded(record); }); !s)
    return R::failure(s.error());
  result.history.push_back(stats);
  if (exchange)
    noteExchange(trainSeconds);
  if (reduced)
    note("reduce-on-plateau: val_loss has not improved for " +
         std::to_string(schedule.patience) + " epochs; learning rate " +
         formatNumber("%g", learningRate) + " -> " +
         formatNumber("%g", scheduleState.learningRate));
  if (decision.stop) {
    note(formatEarlyStop(early, result.earlyStopping));
    result.stoppedEarly = true;
    return R::success(EpochOutcome::StoppedEarly);
  }
  Result<bool> stop = epoch + 1 < options.epochs ? anyStopRequested() : Result<bool>::success(false);
  if (!stop)
    return R::failure(stop.error);
  if (*stop) {
    result.interrupted = true;
    result.stoppedEpoch = epoch + 1;
    result.stoppedStep = stepsPerEpoch;
    return R::success(EpochOutcome::Interrupted);
  }
  return R::success(EpochOutcome::Continue);
}

// Keras (3) restores the best weights at the end of training, stopped early
// or not; the optimizer slots and step stay those of the last epoch.
Status TrainingRun::restoreBestWeights() {
  const EarlyStoppingConfig &early = options.config.earlyStopping;
  if (!early.enabled || !early.restoreBestWeights || result.earlyStopping.bestEpoch <= 0)
    return Status::success();
  if (rank == 0)
    if (Status s = checkpoints->restoreBestWeights(); !s)
      return s;
  if (collective)
    if (Status s = broadcastModelState(instance, *collective); !s)
      return s;
  result.restored = true;
  note("Restoring model weights from the end of the best epoch: " +
       std::to_string(result.earlyStopping.bestEpoch) + " (" + checkpoints->bestPath + "; " +
       checkpoints->lastPath + " now holds them)");
  return Status::success();
}

} // namespace

Result<TrainResult> netc::runtime::train(const Instance &instance, const Samples &trainImages,
                                        const Samples &validationImages,
                                        const TrainOptions &options,
                                        const TrainCallbacks &callbacks) {
  using R = Result<TrainResult>;
  TrainingRun run(instance, options, callbacks);
  if (Status s = run.start(); !s)
    return R::failure(s.error());
  run.chooseData(trainImages, validationImages);
  if (run.resumedRunIsComplete())
    return R::success(run.takeResult());
  if (Status s = run.prepare(); !s)
    return R::failure(s.error());
  for (int32_t epoch = run.firstEpoch(); epoch < options.epochs; ++epoch) {
    Result<EpochOutcome> outcome = run.trainEpoch(epoch);
    if (!outcome)
      return R::failure(outcome.error);
    if (*outcome == EpochOutcome::Interrupted)
      return R::success(run.takeResult());
    if (*outcome == EpochOutcome::StoppedEarly)
      break;
  }
  if (Status s = run.restoreBestWeights(); !s)
    return R::failure(s.error());
  return R::success(run.takeResult());
}
