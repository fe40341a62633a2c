//===- Trainer.cpp - The training loop, evaluation and initialisers -------===//

#include "net/Runtime/Trainer.h"
#include "net/Runtime/Features.h"

#include "net/Runtime/Augment.h"
#include "net/Runtime/Plot.h"
#include "net/Runtime/Prefetch.h"
#include "net/Runtime/TensorBoard.h"

#include "net/Runtime/Random.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace net::runtime;
namespace fs = std::filesystem;

namespace {

std::string oneDecimal(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

// The streams of deriveSeed: one per use of randomness in a run.
constexpr uint64_t kInitStream = 1;
constexpr uint64_t kShuffleStream = 2;
constexpr uint64_t kStepStream = 3;
constexpr uint64_t kAugmentStream = 4;

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

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Keeps the header and the rows of epochs up to `epochs` of an existing
/// history.csv (for --resume), or starts a new one.
Status startHistory(const std::string &path, int32_t epochs) {
  std::vector<std::string> rows;
  if (epochs > 0) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      int32_t epoch = std::atoi(line.c_str());
      if (epoch >= 1 && epoch <= epochs)
        rows.push_back(line);
    }
  }
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << historyHeader();
    for (const std::string &row : rows)
      out << row << '\n';
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      return Status::failure(path + ": cannot write: " + std::strerror(errno));
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0)
    return Status::failure(path + ": cannot write: " + std::strerror(errno));
  return Status::success();
}

Status appendHistory(const std::string &path, const EpochStats &stats) {
  std::ofstream out(path, std::ios::app);
  out << historyRow(stats);
  out.flush();
  if (!out)
    return Status::failure(path + ": cannot append the epoch's row: " + std::strerror(errno));
  return Status::success();
}

/// Removes the temporary files of a run killed while writing (last.ckpt.tmp.PID,
/// ...): never read, they would only pile up.
void removeStaleTemporaries(const std::string &dir) {
  std::error_code error;
  for (const fs::directory_entry &entry : fs::directory_iterator(dir, error)) {
    std::string name = entry.path().filename().string();
    for (const char *prefix : {"last.ckpt.tmp.", "best.ckpt.tmp.", "history.csv.tmp.",
                               "config.txt.tmp."})
      if (name.rfind(prefix, 0) == 0)
        fs::remove(entry.path(), error);
  }
}

std::string formatNumber(const char *format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

} // namespace

Status net::runtime::initializeParameters(const Instance &instance, uint64_t seed) {
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

Status net::runtime::writeTextFile(const std::string &path, const std::string &text) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc | std::ios::binary);
    out << text;
    out.flush();
    if (!out) {
      std::string why = std::strerror(errno);
      std::error_code ignored;
      fs::remove(temp, ignored);
      return Status::failure(path + ": cannot write: " + why);
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return Status::failure(path + ": cannot write: " + why);
  }
  return Status::success();
}

Status net::runtime::prepareOutputDirectory(const std::string &dir) {
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_directory(dir, error))
    return Status::failure(dir + ": exists and is not a directory (--out names the run's folder)");
  fs::create_directories(dir, error);
  if (error)
    return Status::failure(dir + ": cannot create the output directory: " + error.message());
  std::string probe = dir + "/.netrun-probe." + std::to_string(::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::failure(dir + ": cannot write into the output directory: " +
                           std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::success();
}

int32_t net::runtime::augmentWorkerCount(int32_t requested) {
  if (requested > 0)
    return requested;
  return std::clamp(int32_t(std::thread::hardware_concurrency() / 4), 1, 4);
}

Result<Evaluation> net::runtime::evaluate(const Instance &instance, const Samples &samples,
                                          bool withConfusion) {
  using R = Result<Evaluation>;
  const netc_model_info &info = instance.info();
  int32_t batch = instance.batch();
  if (withConfusion && samples.featureSize)
    return R::failure("a confusion matrix needs the images, not their features");
  std::vector<float> input(size_t(batch * samples.floatsPerSample()));
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> probabilities(size_t(batch) * size_t(info.classes));
  Evaluation out;
  if (withConfusion)
    out.confusion.assign(size_t(info.classes), std::vector<int64_t>(size_t(info.classes), 0));
  double lossSum = 0;
  int64_t correctSum = 0;
  for (int64_t first = 0; first < samples.count; first += batch) {
    int32_t n = int32_t(std::min<int64_t>(batch, samples.count - first));
    samples.gatherRange(first, n, input.data(), labels.data());
    float loss = 0;
    int32_t correct = 0;
    Status s = samples.featureSize
                   ? instance.headEvalStep(input.data(), labels.data(), n, loss, correct)
                   : instance.evalStep(input.data(), labels.data(), n, loss, correct);
    if (!s)
      return R::failure(s.error());
    lossSum += double(loss) * n;
    correctSum += correct;
    if (!withConfusion)
      continue;
    if (Status s = instance.forward(input.data(), n, probabilities.data()); !s)
      return R::failure(s.error());
    for (int32_t i = 0; i < n; ++i) {
      const float *p = probabilities.data() + size_t(i) * size_t(info.classes);
      int32_t predicted = int32_t(std::max_element(p, p + info.classes) - p);
      ++out.confusion[size_t(labels[size_t(i)])][size_t(predicted)];
    }
  }
  out.count = samples.count;
  if (samples.count) {
    out.loss = lossSum / double(samples.count);
    out.accuracy = double(correctSum) / double(samples.count);
  }
  return R::success(std::move(out));
}

Result<TrainResult> net::runtime::train(const Instance &instance, const Samples &trainImages,
                                        const Samples &validationImages,
                                        const TrainOptions &options,
                                        const TrainCallbacks &callbacks) {
  using R = Result<TrainResult>;
  const netc_model_info &info = instance.info();
  auto note = [&](const std::string &text) {
    if (callbacks.onNote)
      callbacks.onNote(text);
  };
  if (Status s = prepareOutputDirectory(options.outDir); !s)
    return R::failure(s.error());
  std::string lastPath = options.outDir + "/last.ckpt";
  std::string bestPath = options.outDir + "/best.ckpt";
  std::string historyPath = options.outDir + "/history.csv";
  removeStaleTemporaries(options.outDir);

  TrainResult result;
  Random shuffler(deriveSeed(options.seed, kShuffleStream, 0));
  const LrScheduleConfig &schedule = options.config.schedule;
  LrScheduleState scheduleState;
  const EarlyStoppingConfig &early = options.config.earlyStopping;
  EarlyStoppingState &earlyState = result.earlyStopping;
  int32_t startEpoch = 0;
  int64_t startStep = 0; // within startEpoch, when resuming an interrupted epoch
  double startLossSum = 0;
  int64_t startCorrect = 0, startSeen = 0;
  if (options.resume) {
    Result<Checkpoint> last = readCheckpoint(lastPath);
    if (!last)
      return R::failure(last.error + " (--resume continues from the --out folder's last.ckpt)");
    if (Status s = restoreCheckpoint(*last, instance, lastPath, /*withState=*/true); !s)
      return R::failure(s.error());
    if (last->classNames != options.classNames)
      return R::failure(lastPath + ": was trained on " +
                        (last->classNames.empty() ? std::string("an IDX dataset")
                                                  : std::to_string(last->classNames.size()) +
                                                        " classes of an image folder") +
                        ", the data now has " +
                        (options.classNames.empty()
                             ? std::string("none of its class names")
                             : std::to_string(options.classNames.size()) +
                                   " classes (the class folders must stay the same)"));
    if (last->rngState.size() != 4)
      return R::failure(lastPath + ": corrupted checkpoint: the shuffling state has " +
                        std::to_string(last->rngState.size()) + " words, expected 4");
    Random::State state;
    std::copy(last->rngState.begin(), last->rngState.end(), state.begin());
    shuffler.setState(state);
    startEpoch = last->epoch;
    startStep = last->epochStep;
    startLossSum = last->epochLossSum;
    startCorrect = last->epochCorrect;
    startSeen = last->epochSeen;
    scheduleState = last->schedule;
    result.bestValAccuracy = last->bestValAccuracy;
    result.bestEpoch = last->bestEpoch;
    earlyState = last->earlyStopping;
    note("resuming from " + lastPath +
         (startStep ? " within epoch " + std::to_string(startEpoch + 1) + " after step " +
                          std::to_string(startStep)
                    : " after epoch " + std::to_string(startEpoch)) +
         " (step " + std::to_string(last->step) + ")");
  } else {
    if (Status s = initializeParameters(instance, options.seed); !s)
      return R::failure(s.error());
    if (!options.initialWeights.empty()) {
      Result<Checkpoint> start = readCheckpoint(options.initialWeights);
      if (!start)
        return R::failure(start.error);
      Result<LoadReport> loaded = loadParametersByName(*start, instance, options.initialWeights);
      if (!loaded)
        return R::failure(loaded.error);
      note(formatLoadReport(*loaded, options.initialWeights));
    }
  }

  // A frozen base's features, computed once when nothing random precedes it.
  Samples trainFeatures, validationFeatures;
  const Samples *trainData = &trainImages, *validationData = &validationImages;
  if (options.cacheFeatures && hasFrozenBase(info) && options.config.augment.enabled()) {
    note("frozen base: running it every step (augmentation changes its input every epoch)");
  } else if (options.cacheFeatures && hasFrozenBase(info)) {
    auto started = std::chrono::steady_clock::now();
    Result<Samples> t = computeFeatures(instance, trainImages);
    Result<Samples> v = t ? computeFeatures(instance, validationImages) : t;
    if (t && v) {
      trainFeatures = std::move(*t);
      validationFeatures = std::move(*v);
      trainData = &trainFeatures;
      validationData = &validationFeatures;
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      note("frozen base: the features of '" + std::string(info.feature_layer) + "' " +
           shapeText(info.feature_shape, info.feature_rank) + " for " +
           withThousands(trainImages.count + validationImages.count) +
           " images computed once in " + oneDecimal(seconds) +
           " s; training the head on them");
    } else {
      note("frozen base: running it every step (" + (t ? v.error : t.error) + ")");
    }
  }
  const Samples &trainSet = *trainData, &validation = *validationData;
  if (earlyState.stoppedEpoch > 0) {
    note("nothing to do: " + lastPath + " was stopped early at epoch " +
         std::to_string(earlyState.stoppedEpoch));
    result.stoppedEarly = true;
    return R::success(std::move(result));
  }
  if (startEpoch >= options.epochs) {
    note("nothing to do: " + lastPath + " is already at epoch " + std::to_string(startEpoch) +
         " of " + std::to_string(options.epochs));
    return R::success(std::move(result));
  }
  if (Status s = startHistory(historyPath, startEpoch); !s)
    return R::failure(s.error());
  // TensorBoard event files and the PNG plots: what a run leaves to watch.
  // Failing to write them warns once and never stops the training.
  std::optional<TensorBoardWriter> board;
  if (auto opened = TensorBoardWriter::open(options.outDir); opened)
    board.emplace(std::move(*opened));
  else
    note("warning: no TensorBoard events: " + opened.error);
  bool plotWarned = false;
  constexpr uint64_t kStepsPerScalar = 100;

  double baseRate = options.learningRate > 0 ? options.learningRate : info.train.learning_rate;
  double learningRate = -1; // the rate last given to the model

  int32_t batch = instance.batch();
  int64_t stepsPerEpoch = (trainSet.count + batch - 1) / batch;
  if (startStep >= stepsPerEpoch)
    return R::failure(lastPath + ": was interrupted after step " + std::to_string(startStep) +
                      " of an epoch, but this run has " + std::to_string(stepsPerEpoch) +
                      " steps per epoch (resume with the same --batch and --limit)");
  result.stepsPerEpoch = stepsPerEpoch;
  std::vector<int64_t> order(size_t(trainSet.count));
  std::vector<float> input(size_t(batch * trainSet.floatsPerSample()));
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  Checkpoint lastCheckpoint; // the last epoch's, for --restore-best-weights
  auto stopRequested = [&] { return callbacks.stopRequested && callbacks.stopRequested(); };
  const AugmentConfig &augment = options.config.augment;
  auto globalStepOf = [&](int32_t epoch, int64_t step) {
    return uint64_t(epoch) * uint64_t(stepsPerEpoch) + uint64_t(step);
  };

  // Without augmentation or cached features the model holds the training
  // set itself (on the GPU for a CUDA instance) and trains runs of steps
  // over it; a set too large for the GPU falls back to a batch a step.
  bool heldByModel = !augment.enabled() && !trainSet.featureSize;
  std::vector<float> table; // read in place by a CPU instance: kept to the end
  if (heldByModel) {
    table = trainSet.normalization.table();
    Status held = instance.setTrainData(trainSet.pixels.data(), trainSet.labels.data(),
                                        trainSet.count, table.data(),
                                        int32_t(trainSet.normalization.mean.size()));
    if (!held && instance.device() == NETC_DEVICE_CUDA) {
      note("training set not held on the GPU, sending a batch a step (" + held.error() + ")");
      heldByModel = false;
    } else if (!held) {
      return R::failure(held.error());
    }
  }
  const int64_t stepsPerCall =
      !heldByModel ? 1
      : options.stepsPerCall > 0 ? options.stepsPerCall
      : instance.device() == NETC_DEVICE_CUDA ? 64
                                              : 1;
  // Each step's learning rate (as scheduled, and as the model is given it),
  // dropout seed, loss and correct count, for the steps of one call.
  const size_t callCapacity = static_cast<size_t>(stepsPerCall);
  std::vector<double> callRates(callCapacity);
  std::vector<float> callRatesGiven(callCapacity), callLosses(callCapacity);
  std::vector<uint64_t> callSeeds(callCapacity);
  std::vector<int32_t> callCorrects(callCapacity);

  for (int32_t epoch = startEpoch; epoch < options.epochs; ++epoch) {
    auto epochStart = std::chrono::steady_clock::now();
    Random::State beforeShuffle = shuffler.state();
    std::iota(order.begin(), order.end(), int64_t(0));
    shuffler.shuffle(order);
    bool resumed = epoch == startEpoch;
    double lossSum = resumed ? startLossSum : 0;
    int64_t correctSum = resumed ? startCorrect : 0, seen = resumed ? startSeen : 0;
    int64_t firstStep = resumed ? startStep : 0;
    // Augmented batches are made ahead by workers while the model trains;
    // plain ones are copied here, which costs next to nothing.
    std::optional<BatchPrefetcher> prefetch;
    if (augment.enabled())
      prefetch.emplace(firstStep, stepsPerEpoch, input.size(), labels.size(),
                       augmentWorkerCount(options.augmentWorkers),
                       augmentWorkerCount(options.augmentWorkers) + 2,
                       [&, epoch](int64_t step, float *in, int32_t *out) {
                         int64_t first = step * batch;
                         int64_t n = std::min<int64_t>(batch, trainSet.count - first);
                         augmentBatch(trainSet, order, first, n, augment,
                                      deriveSeed(options.seed, kAugmentStream,
                                                 globalStepOf(epoch, step)),
                                      trainSet.normalization, in, out);
                       });
    for (int64_t callStep = firstStep; callStep < stepsPerEpoch;) {
      // The steps of this call: a run over the training set held by the
      // model, or one step on a batch gathered (or augmented) here.
      const int64_t callSteps =
          heldByModel ? std::min<int64_t>(stepsPerCall, stepsPerEpoch - callStep) : 1;
      const int64_t callFirst = callStep * batch;
      const int64_t callCount = std::min<int64_t>(callSteps * batch, trainSet.count - callFirst);
      for (int64_t j = 0; j < callSteps; ++j) {
        const uint64_t globalStep = globalStepOf(epoch, callStep + j);
        callRates[size_t(j)] = scheduledLearningRate(schedule, baseRate, epoch, options.epochs,
                                                     int64_t(globalStep), stepsPerEpoch,
                                                     scheduleState);
        callRatesGiven[size_t(j)] = float(callRates[size_t(j)]);
        callSeeds[size_t(j)] = deriveSeed(options.seed, kStepStream, globalStep);
      }
      Status stepped = Status::success();
      if (heldByModel) {
        stepped = instance.trainSteps(order.data() + callFirst, callCount, callSeeds.data(),
                                      callRatesGiven.data(), callLosses.data(),
                                      callCorrects.data());
        learningRate = callRates[size_t(callSteps - 1)];
      } else {
        const int32_t n = int32_t(callCount);
        const float *stepInput = input.data();
        const int32_t *stepLabels = labels.data();
        if (prefetch) {
          BatchPrefetcher::Batch ready = prefetch->wait(callStep);
          stepInput = ready.input;
          stepLabels = ready.labels;
        } else {
          trainSet.gather(order, callFirst, n, input.data(), labels.data());
        }
        if (callRates[0] != learningRate) {
          learningRate = callRates[0];
          instance.setLearningRate(float(learningRate));
        }
        stepped = trainSet.featureSize
                      ? instance.headTrainStep(stepInput, stepLabels, n, callSeeds[0],
                                               callLosses[0], callCorrects[0])
                      : instance.trainStep(stepInput, stepLabels, n, callSeeds[0],
                                           callLosses[0], callCorrects[0]);
        if (prefetch)
          prefetch->release(callStep);
      }
      if (!stepped)
        return R::failure(stepped.error());
      for (int64_t step = callStep; step < callStep + callSteps; ++step) {
        const size_t j = size_t(step - callStep);
        const int32_t n = int32_t(std::min<int64_t>(batch, trainSet.count - step * batch));
        const float loss = callLosses[j];
        const int32_t correct = callCorrects[j];
        const uint64_t globalStep = globalStepOf(epoch, step);
        if (!std::isfinite(loss)) {
          std::string kept = epoch > 0 ? "the last good checkpoint (" + lastPath + ", epoch " +
                                             std::to_string(epoch) + ") is kept"
                                       : "no checkpoint was written";
          return R::failure("loss became " + std::string(std::isnan(loss) ? "nan" : "inf") +
                            " at epoch " + std::to_string(epoch + 1) + ", step " +
                            std::to_string(step + 1) + " of " + std::to_string(stepsPerEpoch) +
                            " (global step " + std::to_string(globalStep + 1) +
                            "); training stopped, " + kept + "; try a lower --lr");
        }
        lossSum += double(loss) * n;
        correctSum += correct;
        seen += n;
        // TensorBoard within the epoch: the step's own loss and accuracy every
        // kStepsPerScalar steps (buffered; flushed with the epoch's scalars).
        if (board && (globalStep + 1) % kStepsPerScalar == 0) {
          const int64_t at = int64_t(globalStep) + 1;
          Status written = board->scalar("step/loss", loss, at);
          if (written)
            written = board->scalar("step/accuracy", float(correct) / float(n), at);
          if (written)
            written = board->scalar("step/learning_rate", callRatesGiven[j], at);
          if (!written) {
            note("warning: TensorBoard events stopped: " + written.error());
            board.reset();
          }
        }
        if (callbacks.onStep) {
          StepProgress progress;
          progress.epoch = epoch + 1;
          progress.epochs = options.epochs;
          progress.seen = seen;
          progress.total = trainSet.count;
          progress.loss = lossSum / double(seen);
          progress.accuracy = double(correctSum) / double(seen);
          progress.seconds = secondsSince(epochStart);
          callbacks.onStep(progress);
        }
        // Stopped within the epoch (after its last step it finishes the epoch):
        // last.ckpt gets the position, best.ckpt and history.csv are untouched.
        if (step + 1 == callStep + callSteps && step + 1 < stepsPerEpoch && stopRequested()) {
          Checkpoint checkpoint = captureCheckpoint(instance);
          checkpoint.classNames = options.classNames;
          checkpoint.epoch = epoch;
          checkpoint.rngState.assign(beforeShuffle.begin(), beforeShuffle.end());
          checkpoint.run = options.config;
          checkpoint.bestValAccuracy = result.bestValAccuracy;
          checkpoint.bestEpoch = result.bestEpoch;
          checkpoint.epochStep = step + 1;
          checkpoint.epochLossSum = lossSum;
          checkpoint.epochCorrect = correctSum;
          checkpoint.epochSeen = seen;
          checkpoint.schedule = scheduleState;
          checkpoint.earlyStopping = earlyState;
          if (Status s = writeCheckpoint(lastPath, checkpoint); !s)
            return R::failure(s.error());
          result.interrupted = true;
          result.stoppedEpoch = epoch + 1;
          result.stoppedStep = step + 1;
          return R::success(std::move(result));
        }
      }
      callStep += callSteps;
    }
    double trainSeconds = secondsSince(epochStart);
    double waitedSeconds = prefetch ? prefetch->waitedSeconds() : 0;
    prefetch.reset();
    Result<Evaluation> val =
        evaluate(instance, validation, /*withConfusion=*/false);
    if (!val)
      return R::failure(val.error);

    EpochStats stats;
    stats.epoch = epoch + 1;
    stats.epochs = options.epochs;
    stats.loss = seen ? lossSum / double(seen) : 0;
    stats.accuracy = seen ? double(correctSum) / double(seen) : 0;
    stats.valLoss = val->loss;
    stats.valAccuracy = val->accuracy;
    stats.learningRate = learningRate;
    stats.scheduled = schedule.kind != "constant";
    stats.seconds = secondsSince(epochStart);
    stats.imagesPerSecond = trainSeconds > 0 ? double(seen) / trainSeconds : 0;
    stats.waitedSeconds = waitedSeconds;
    bool reduced = updatePlateau(schedule, baseRate, scheduleState, stats.valLoss);
    EarlyStoppingDecision decision;
    if (early.enabled)
      decision = updateEarlyStopping(
          early, earlyState, epoch + 1,
          early.monitor == "val_accuracy" ? stats.valAccuracy : stats.valLoss);

    Checkpoint checkpoint = captureCheckpoint(instance);
    checkpoint.classNames = options.classNames;
    checkpoint.epoch = epoch + 1;
    checkpoint.rngState.assign(shuffler.state().begin(), shuffler.state().end());
    checkpoint.run = options.config;
    checkpoint.schedule = scheduleState;
    checkpoint.earlyStopping = earlyState;
    // best.ckpt: the best val_accuracy, or the epoch early stopping found best.
    bool improved =
        early.enabled ? decision.improved : stats.valAccuracy > result.bestValAccuracy;
    if (improved) {
      result.bestValAccuracy = stats.valAccuracy;
      result.bestEpoch = epoch + 1;
    }
    checkpoint.bestValAccuracy = result.bestValAccuracy;
    checkpoint.bestEpoch = result.bestEpoch;
    if (improved)
      if (Status s = writeCheckpoint(bestPath, checkpoint); !s)
        return R::failure(s.error());
    if (Status s = writeCheckpoint(lastPath, checkpoint); !s)
      return R::failure(s.error());
    if (Status s = appendHistory(historyPath, stats); !s)
      return R::failure(s.error());
    result.history.push_back(stats);
    if (board) {
      const int64_t at = stats.epoch;
      Status written = board->scalar("epoch/loss", float(stats.loss), at);
      for (auto [tag, value] : {std::pair{"epoch/accuracy", stats.accuracy},
                                {"epoch/val_loss", stats.valLoss},
                                {"epoch/val_accuracy", stats.valAccuracy},
                                {"epoch/learning_rate", stats.learningRate},
                                {"epoch/images_per_second", stats.imagesPerSecond}})
        if (written)
          written = board->scalar(tag, float(value), at);
      if (written)
        written = board->flush();
      if (!written) {
        note("warning: TensorBoard events stopped: " + written.error());
        board.reset();
      }
    }
    if (Status plotted = renderTrainingPlots(historyPath, options.outDir); !plotted && !plotWarned) {
      note("warning: no plots: " + plotted.error());
      plotWarned = true;
    }
    if (callbacks.onEpoch)
      callbacks.onEpoch(stats);
    if (reduced)
      note("reduce-on-plateau: val_loss has not improved for " +
           std::to_string(schedule.patience) + " epochs; learning rate " +
           formatNumber("%g", learningRate) + " -> " +
           formatNumber("%g", scheduleState.learningRate));
    lastCheckpoint = std::move(checkpoint);
    if (decision.stop) {
      note(formatEarlyStop(early, earlyState));
      result.stoppedEarly = true;
      break;
    }
    if (epoch + 1 < options.epochs && stopRequested()) {
      result.interrupted = true;
      result.stoppedEpoch = epoch + 1;
      result.stoppedStep = stepsPerEpoch;
      return R::success(std::move(result));
    }
  }
  // Keras (3) restores the best weights at the end of training, stopped early
  // or not; the optimizer slots and step stay those of the last epoch.
  if (early.enabled && early.restoreBestWeights && earlyState.bestEpoch > 0) {
    Result<Checkpoint> best = readCheckpoint(bestPath);
    if (!best)
      return R::failure(best.error + " (--restore-best-weights loads it at the end)");
    if (Status s = restoreCheckpoint(*best, instance, bestPath, /*withState=*/false); !s)
      return R::failure(s.error());
    lastCheckpoint.params = best->params;
    if (Status s = writeCheckpoint(lastPath, lastCheckpoint); !s)
      return R::failure(s.error());
    result.restored = true;
    note("Restoring model weights from the end of the best epoch: " +
         std::to_string(earlyState.bestEpoch) + " (" + bestPath + "; " + lastPath +
         " now holds them)");
  }
  return R::success(std::move(result));
}

EarlyStoppingDecision net::runtime::updateEarlyStopping(const EarlyStoppingConfig &config,
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

std::string net::runtime::formatEarlyStop(const EarlyStoppingConfig &config,
                                          const EarlyStoppingState &state) {
  std::string by = config.minDelta > 0 ? " by " + formatNumber("%g", config.minDelta) : "";
  std::string best = state.bestEpoch > 0 ? "; best " + formatNumber("%.4f", state.best) +
                                               " at epoch " + std::to_string(state.bestEpoch)
                                         : "";
  return "Epoch " + std::to_string(state.stoppedEpoch) + ": early stopping (" + config.monitor +
         " did not improve" + by + " for " + std::to_string(state.wait) +
         (state.wait == 1 ? " epoch" : " epochs") + best + ")";
}

std::string net::runtime::formatEpochLine(const EpochStats &s) {
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

std::string net::runtime::historyHeader() {
  return "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second\n";
}

std::string net::runtime::historyRow(const EpochStats &s) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), "%d,%.6f,%.6f,%.6f,%.6f,%g,%.3f,%.1f\n", s.epoch,
                s.loss, s.accuracy, s.valLoss, s.valAccuracy, s.learningRate, s.seconds,
                s.imagesPerSecond);
  return buffer;
}
