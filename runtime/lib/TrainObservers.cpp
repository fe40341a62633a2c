//===- TrainObservers.cpp - What a training run leaves behind -------------===//

#include "TrainObservers.h"

#include "net/Runtime/Image.h"

#include "net/Runtime/Plot.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace netc::runtime;
namespace fs = std::filesystem;

//===----------------------------------------------------------------------===//
// The run's folder
//===----------------------------------------------------------------------===//

Status netc::runtime::writeTextFile(const std::string &path, const std::string &text) {
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

Status netc::runtime::prepareOutputDirectory(const std::string &dir) {
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

void netc::runtime::removeStaleTemporaries(const std::string &dir) {
  std::error_code error;
  for (const fs::directory_entry &entry : fs::directory_iterator(dir, error)) {
    std::string name = entry.path().filename().string();
    for (const char *prefix : {"last.ckpt.tmp.", "best.ckpt.tmp.", "history.csv.tmp.",
                               "config.txt.tmp."})
      if (name.rfind(prefix, 0) == 0)
        fs::remove(entry.path(), error);
  }
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

CheckpointFiles::CheckpointFiles(const Instance &instance, const TrainOptions &options)
    : lastPath(options.outDir + "/last.ckpt"), bestPath(options.outDir + "/best.ckpt"),
      instance(instance), options(options) {}

Checkpoint CheckpointFiles::capture(const RunPosition &position) const {
  Checkpoint checkpoint = captureCheckpoint(instance);
  checkpoint.classNames = options.classNames;
  checkpoint.epoch = position.epoch;
  checkpoint.rngState.assign(position.shuffleState.begin(), position.shuffleState.end());
  checkpoint.run = options.config;
  checkpoint.bestValAccuracy = position.bestValAccuracy;
  checkpoint.bestEpoch = position.bestEpoch;
  checkpoint.epochStep = position.epochStep;
  checkpoint.epochLossSum = position.epochLossSum;
  checkpoint.epochCorrect = position.epochCorrect;
  checkpoint.epochSeen = position.epochSeen;
  checkpoint.schedule = position.schedule;
  checkpoint.earlyStopping = position.earlyStopping;
  return checkpoint;
}

Status CheckpointFiles::epochEnded(const EpochRecord &epoch) {
  Checkpoint checkpoint = capture(epoch.position);
  if (epoch.improved)
    if (Status s = writeCheckpoint(bestPath, checkpoint); !s)
      return s;
  if (Status s = writeCheckpoint(lastPath, checkpoint); !s)
    return s;
  lastEpoch = std::move(checkpoint);
  return Status::success();
}

// best.ckpt and history.csv stay as they were: they describe whole epochs.
Status CheckpointFiles::stoppedWithinEpoch(const RunPosition &position) {
  return writeCheckpoint(lastPath, capture(position));
}

Status CheckpointFiles::restoreBestWeights() {
  Result<Checkpoint> best = readCheckpoint(bestPath);
  if (!best)
    return Status::failure(best.error + " (--restore-best-weights loads it at the end)");
  if (Status s = restoreCheckpoint(*best, instance, bestPath, /*withState=*/false); !s)
    return s;
  lastEpoch.params = best->params;
  return writeCheckpoint(lastPath, lastEpoch);
}

//===----------------------------------------------------------------------===//
// history.csv
//===----------------------------------------------------------------------===//

Result<std::unique_ptr<HistoryFile>> HistoryFile::start(const std::string &path,
                                                        int32_t epochsDone) {
  using R = Result<std::unique_ptr<HistoryFile>>;
  std::vector<std::string> rows;
  if (epochsDone > 0) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      int32_t epoch = std::atoi(line.c_str());
      if (epoch >= 1 && epoch <= epochsDone)
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
      return R::failure(path + ": cannot write: " + std::strerror(errno));
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0)
    return R::failure(path + ": cannot write: " + std::strerror(errno));
  return R::success(std::unique_ptr<HistoryFile>(new HistoryFile(path)));
}

Status HistoryFile::epochEnded(const EpochRecord &epoch) {
  std::ofstream out(path, std::ios::app);
  out << historyRow(epoch.stats);
  out.flush();
  if (!out)
    return Status::failure(path + ": cannot append the epoch's row: " + std::strerror(errno));
  return Status::success();
}

std::string netc::runtime::historyHeader() {
  return "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second\n";
}

std::string netc::runtime::historyRow(const EpochStats &s) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), "%d,%.6f,%.6f,%.6f,%.6f,%g,%.3f,%.1f\n", s.epoch,
                s.loss, s.accuracy, s.valLoss, s.valAccuracy, s.learningRate, s.seconds,
                s.imagesPerSecond);
  return buffer;
}

//===----------------------------------------------------------------------===//
// TensorBoard and plots
//===----------------------------------------------------------------------===//

TensorBoardLog::TensorBoardLog(const Instance &instance, const TrainOptions &options,
                               const Samples &images, bool freshStart, NoteFn note)
    : instance(instance), histograms(options.histograms), note(std::move(note)) {
  if (auto opened = TensorBoardWriter::open(options.outDir); opened)
    board.emplace(std::move(*opened));
  else
    this->note("warning: no TensorBoard events: " + opened.error);
  if (board && freshStart && options.logImages > 0) {
    Status written = logImages(images, options.logImages);
    if (written)
      written = board->flush();
    check(written);
  }
}

Status TensorBoardLog::logImages(const Samples &images, int32_t count) {
  int64_t n = std::min<int64_t>(count, images.count);
  for (int64_t i = 0; i < n; ++i) {
    Image image = imageFromPlanes(images.sample(i), images.channels, images.height, images.width);
    std::string tag = "train_images/" + std::to_string(i) + "_label_" +
                      std::to_string(images.labels[size_t(i)]);
    if (Status s = board->image(tag, image.pixels.data(), image.width, image.height,
                                image.channels, 0);
        !s)
      return s;
  }
  return Status::success();
}

void TensorBoardLog::check(const Status &written) {
  if (written)
    return;
  note("warning: TensorBoard events stopped: " + written.error());
  board.reset();
}

// The scalars of a step are buffered, and flushed with the epoch's.
Status TensorBoardLog::stepEnded(const StepRecord &step) {
  constexpr uint64_t kStepsPerScalar = 100;
  if (!board || (step.globalStep + 1) % kStepsPerScalar != 0)
    return Status::success();
  const int64_t at = int64_t(step.globalStep) + 1;
  Status written = board->scalar("step/loss", step.loss, at);
  if (written)
    written = board->scalar("step/accuracy", float(step.correct) / float(step.batchSize), at);
  if (written)
    written = board->scalar("step/learning_rate", step.learningRate, at);
  check(written);
  return Status::success();
}

Status TensorBoardLog::epochEnded(const EpochRecord &epoch) {
  if (!board)
    return Status::success();
  const EpochStats &stats = epoch.stats;
  const int64_t at = stats.epoch;
  Status written = board->scalar("epoch/loss", float(stats.loss), at);
  for (auto [tag, value] : {std::pair{"epoch/accuracy", stats.accuracy},
                            {"epoch/val_loss", stats.valLoss},
                            {"epoch/val_accuracy", stats.valAccuracy},
                            {"epoch/learning_rate", stats.learningRate},
                            {"epoch/images_per_second", stats.imagesPerSecond}})
    if (written)
      written = board->scalar(tag, float(value), at);
  const netc_model_info &info = instance.info();
  for (int32_t p = 0; histograms && written && p < info.num_params; ++p)
    if (info.params[p].trainable)
      written = board->histogram(std::string("params/") + info.params[p].name, instance.param(p),
                                 size_t(info.params[p].size), at);
  if (written)
    written = board->flush();
  check(written);
  return Status::success();
}

Status TrainingPlots::epochEnded(const EpochRecord &) {
  if (Status plotted = renderTrainingPlots(historyPath, outDir); !plotted && !warned) {
    note("warning: no plots: " + plotted.error());
    warned = true;
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// The caller's progress report
//===----------------------------------------------------------------------===//

Status ProgressReport::stepEnded(const StepRecord &step) {
  if (!callbacks.onStep)
    return Status::success();
  StepProgress progress;
  progress.epoch = step.epoch + 1;
  progress.epochs = step.epochs;
  progress.seen = step.seen;
  progress.total = step.epochSize;
  progress.loss = step.lossSum / double(step.seen);
  progress.accuracy = double(step.correctSum) / double(step.seen);
  progress.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - step.epochStart).count();
  callbacks.onStep(progress);
  return Status::success();
}

Status ProgressReport::epochEnded(const EpochRecord &epoch) {
  if (callbacks.onEpoch)
    callbacks.onEpoch(epoch.stats);
  return Status::success();
}
