//===- Checkpoint.cpp - Checkpoints as protobuf, written atomically -------===//

#include "net/Runtime/Checkpoint.h"

#include "proto/checkpoint.pb.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace netc::runtime;
namespace pb = netc::checkpoint;

namespace {

constexpr uint32_t kMagic = 0x4b43454e; // "NECK"
constexpr uint32_t kFormatVersion = 1;

std::string errnoText() { return std::strerror(errno); }

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void toProto(const NamedTensor &t, pb::Tensor &out) {
  out.set_name(t.name);
  for (int64_t d : t.shape)
    out.add_shape(d);
  out.mutable_data()->Add(t.data.begin(), t.data.end());
}

NamedTensor fromProto(const pb::Tensor &t) {
  NamedTensor out;
  out.name = t.name();
  out.shape.assign(t.shape().begin(), t.shape().end());
  out.data.assign(t.data().begin(), t.data().end());
  return out;
}

bool writeAll(int fd, const char *data, size_t size) {
  while (size) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

void runToProto(const RunConfig &config, pb::RunConfig &run) {
  run.set_seed(config.seed);
  run.set_batch(config.batch);
  run.set_epochs(config.epochs);
  run.set_learning_rate(config.learningRate);
  run.set_threads(config.threads);
  run.set_validation_split(config.validationSplit);
  run.set_limit(config.limit);
  run.set_data(config.data);
  run.set_device(config.device);
  const LrScheduleConfig &schedule = config.schedule;
  run.set_lr_schedule(schedule.kind);
  run.set_lr_step_size(schedule.stepSize);
  run.set_lr_gamma(schedule.gamma);
  run.set_lr_decay(schedule.decay);
  run.set_lr_min(schedule.minLr);
  run.set_lr_patience(schedule.patience);
  run.set_lr_factor(schedule.factor);
  const EarlyStoppingConfig &early = config.earlyStopping;
  run.set_early_stopping(early.enabled);
  run.set_early_monitor(early.monitor);
  run.set_early_patience(early.patience);
  run.set_early_min_delta(early.minDelta);
  run.set_early_restore_best_weights(early.restoreBestWeights);
  const AugmentConfig &augment = config.augment;
  run.set_augment_rotation_range(augment.rotationRange);
  run.set_augment_width_shift_range(augment.widthShiftRange);
  run.set_augment_height_shift_range(augment.heightShiftRange);
  run.set_augment_zoom_low(augment.zoomLow);
  run.set_augment_zoom_high(augment.zoomHigh);
  run.set_augment_shear_range(augment.shearRange);
  run.set_augment_horizontal_flip(augment.horizontalFlip);
  run.set_augment_fill_mode(augment.fillMode);
  run.set_augment_fill_value(augment.fillValue);
  run.set_augment_interpolation(augment.interpolation);
  run.set_validation_data(config.validationData);
}

void checkpointToProto(const Checkpoint &checkpoint, pb::Checkpoint &message) {
  message.set_network(checkpoint.network);
  message.set_compiler(checkpoint.compiler);
  for (const NamedTensor &t : checkpoint.params)
    toProto(t, *message.add_params());
  for (const NamedTensor &t : checkpoint.state)
    toProto(t, *message.add_state());
  message.set_step(checkpoint.step);
  message.set_epoch(checkpoint.epoch);
  for (uint64_t word : checkpoint.rngState)
    message.add_rng_state(word);
  runToProto(checkpoint.run, *message.mutable_run());
  message.set_best_val_accuracy(checkpoint.bestValAccuracy);
  message.set_best_epoch(checkpoint.bestEpoch);
  for (const std::string &name : checkpoint.classNames)
    message.add_class_names(name);
  for (float v : checkpoint.inputMean)
    message.add_input_mean(v);
  for (float v : checkpoint.inputStd)
    message.add_input_std(v);
  message.set_epoch_step(checkpoint.epochStep);
  message.set_epoch_loss_sum(checkpoint.epochLossSum);
  message.set_epoch_correct(checkpoint.epochCorrect);
  message.set_epoch_seen(checkpoint.epochSeen);
  message.set_schedule_learning_rate(checkpoint.schedule.learningRate);
  message.set_schedule_best(checkpoint.schedule.best);
  message.set_schedule_wait(checkpoint.schedule.wait);
  message.set_early_best(checkpoint.earlyStopping.best);
  message.set_early_best_epoch(checkpoint.earlyStopping.bestEpoch);
  message.set_early_wait(checkpoint.earlyStopping.wait);
  message.set_early_stopped_epoch(checkpoint.earlyStopping.stoppedEpoch);
}

uint32_t crc32Of(const std::string &bytes) {
  return uint32_t(
      ::crc32(0L, reinterpret_cast<const Bytef *>(bytes.data()), uInt(bytes.size())));
}

/// The file's bytes: the message in its envelope (magic, format version,
/// the checksum of the message's bytes).
Result<std::string> fileBytesOf(const pb::Checkpoint &message, const std::string &path) {
  using R = Result<std::string>;
  pb::CheckpointFile file;
  file.set_magic(kMagic);
  file.set_format_version(kFormatVersion);
  std::string *payload = file.mutable_checkpoint();
  if (!message.SerializeToString(payload))
    return R::failure(path + ": cannot serialise the checkpoint (over 2 GiB?)");
  file.set_crc32(crc32Of(*payload));
  std::string bytes;
  if (!file.SerializeToString(&bytes))
    return R::failure(path + ": cannot serialise the checkpoint (over 2 GiB?)");
  return R::success(std::move(bytes));
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it,
/// synced, then renamed over it. NETRUN_TEST_KILL_DURING_CHECKPOINT=N kills
/// the process halfway through its Nth write, for the tests of that promise.
Status writeFileAtomically(const std::string &path, const std::string &bytes) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::failure(path + ": cannot write checkpoint: " + temp + ": " + errnoText());
  static int writes = 0;
  if (const char *hook = std::getenv("NETRUN_TEST_KILL_DURING_CHECKPOINT");
      hook && std::atoi(hook) == ++writes) {
    writeAll(fd, bytes.data(), bytes.size() / 2);
    ::fsync(fd);
    ::raise(SIGKILL);
  }
  bool ok = writeAll(fd, bytes.data(), bytes.size());
  std::string why = ok ? "" : errnoText();
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    why = errnoText();
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    why = errnoText();
  }
  if (ok && ::rename(temp.c_str(), path.c_str()) != 0) {
    ok = false;
    why = errnoText();
  }
  if (!ok) {
    ::unlink(temp.c_str());
    return Status::failure(path + ": cannot write checkpoint: " + why +
                           " (the previous file, if any, is unchanged)");
  }
  // Make the rename itself durable.
  int dir = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::success();
}

/// The whole file; a directory or an empty file is refused.
Result<std::string> readFileBytes(const std::string &path) {
  using R = Result<std::string>;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return R::failure(path + ": cannot open checkpoint: " + errnoText());
  if (S_ISDIR(st.st_mode))
    return R::failure(path + ": is a directory, expected a checkpoint file");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return R::failure(path + ": cannot open checkpoint: " + errnoText());
  std::string bytes(size_t(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      std::string why = errnoText();
      ::close(fd);
      return R::failure(path + ": cannot read checkpoint: " + why);
    }
    if (n == 0)
      break;
    done += size_t(n);
  }
  ::close(fd);
  bytes.resize(done);
  if (bytes.empty())
    return R::failure(path + ": not a checkpoint: the file is empty");
  return R::success(std::move(bytes));
}

/// The message inside the file's envelope, once its magic, format version
/// and checksum are right.
Result<pb::Checkpoint> messageOf(const std::string &bytes, const std::string &path) {
  using R = Result<pb::Checkpoint>;
  pb::CheckpointFile file;
  if (!file.ParseFromString(bytes))
    return R::failure(path + ": not a netrun checkpoint, or truncated or corrupted (" +
                      std::to_string(bytes.size()) + " bytes that do not parse)");
  if (file.magic() != kMagic)
    return R::failure(path + ": not a netrun checkpoint (wrong magic number)");
  if (file.format_version() != kFormatVersion)
    return R::failure(path + ": checkpoint format version " +
                      std::to_string(file.format_version()) + ", this netrun reads " +
                      std::to_string(kFormatVersion));
  const std::string &payload = file.checkpoint();
  if (crc32Of(payload) != file.crc32())
    return R::failure(path + ": corrupted checkpoint (checksum mismatch)");
  pb::Checkpoint message;
  if (!message.ParseFromString(payload))
    return R::failure(path + ": corrupted checkpoint (its contents do not parse)");
  return R::success(std::move(message));
}

/// Every tensor holds as many values as its shape says.
Status checkTensorSizes(const Checkpoint &checkpoint, const std::string &path) {
  for (const std::vector<NamedTensor> *list : {&checkpoint.params, &checkpoint.state})
    for (const NamedTensor &t : *list) {
      // A product that overflows could wrap around to the stored count.
      int64_t n = 1;
      for (int64_t d : t.shape)
        if (n >= 0 && (d < 0 || __builtin_mul_overflow(n, d, &n)))
          n = -1;
      if (n < 0 || size_t(n) != t.data.size())
        return Status::failure(path + ": corrupted checkpoint: tensor '" + t.name +
                               "' has shape " + shapeText(t.shape) + " but " +
                               std::to_string(t.data.size()) + " values");
    }
  return Status::success();
}

/// The learning-rate schedule and its state, when the run had one.
void readSchedule(const pb::Checkpoint &message, Checkpoint &out) {
  const pb::RunConfig &run = message.run();
  if (run.lr_schedule().empty())
    return;
  LrScheduleConfig &schedule = out.run.schedule;
  schedule.kind = run.lr_schedule();
  schedule.stepSize = run.lr_step_size();
  schedule.gamma = run.lr_gamma();
  schedule.decay = run.lr_decay();
  schedule.minLr = run.lr_min();
  schedule.patience = run.lr_patience();
  schedule.factor = run.lr_factor();
  out.schedule.learningRate = message.schedule_learning_rate();
  out.schedule.best = message.schedule_best();
  out.schedule.wait = message.schedule_wait();
}

/// Early stopping and its state. Older files have none: off, with no state.
Status readEarlyStopping(const pb::Checkpoint &message, Checkpoint &out,
                         const std::string &path) {
  const pb::RunConfig &run = message.run();
  EarlyStoppingConfig &early = out.run.earlyStopping;
  early.enabled = run.early_stopping();
  if (!run.early_monitor().empty())
    early.monitor = run.early_monitor();
  early.patience = run.early_patience();
  early.minDelta = run.early_min_delta();
  early.restoreBestWeights = run.early_restore_best_weights();
  out.earlyStopping.best = message.early_best();
  out.earlyStopping.bestEpoch = message.early_best_epoch();
  out.earlyStopping.wait = message.early_wait();
  out.earlyStopping.stoppedEpoch = message.early_stopped_epoch();
  const netc::settings::Setting &monitor = netc::settings::setting(netc::settings::Monitor);
  const std::vector<std::string> monitors = netc::settings::choices(monitor);
  if (std::find(monitors.begin(), monitors.end(), early.monitor) == monitors.end())
    return Status::failure(path + ": corrupted checkpoint: early stopping monitors '" +
                           early.monitor + "', expected " + monitor.expects);
  return Status::success();
}

/// The augmentation. Older files have none: every field reads as its
/// neutral value.
Status readAugment(const pb::RunConfig &run, AugmentConfig &augment, const std::string &path) {
  augment.rotationRange = run.augment_rotation_range();
  augment.widthShiftRange = run.augment_width_shift_range();
  augment.heightShiftRange = run.augment_height_shift_range();
  if (run.augment_zoom_low() != 0 || run.augment_zoom_high() != 0) {
    augment.zoomLow = run.augment_zoom_low();
    augment.zoomHigh = run.augment_zoom_high();
  }
  augment.shearRange = run.augment_shear_range();
  augment.horizontalFlip = run.augment_horizontal_flip();
  if (!run.augment_fill_mode().empty())
    augment.fillMode = run.augment_fill_mode();
  augment.fillValue = run.augment_fill_value();
  if (!run.augment_interpolation().empty())
    augment.interpolation = run.augment_interpolation();
  const std::vector<std::string> &fills = fillModeNames();
  if (std::find(fills.begin(), fills.end(), augment.fillMode) == fills.end() ||
      (augment.interpolation != "bilinear" && augment.interpolation != "nearest"))
    return Status::failure(path + ": corrupted checkpoint: augmentation fill mode '" +
                           augment.fillMode + "' or interpolation '" + augment.interpolation +
                           "' is unknown");
  return Status::success();
}

/// The run's settings and the state of its schedule and early stopping.
Status readRun(const pb::Checkpoint &message, Checkpoint &out, const std::string &path) {
  const pb::RunConfig &run = message.run();
  out.run.seed = run.seed();
  out.run.batch = run.batch();
  out.run.epochs = run.epochs();
  out.run.learningRate = run.learning_rate();
  out.run.threads = run.threads();
  out.run.validationSplit = run.validation_split();
  out.run.limit = run.limit();
  out.run.data = run.data();
  out.run.device = run.device();
  readSchedule(message, out);
  if (Status s = readEarlyStopping(message, out, path); !s)
    return s;
  if (Status s = readAugment(run, out.run.augment, path); !s)
    return s;
  out.run.validationData = run.validation_data();
  return Status::success();
}

/// The class names, the input normalisation and the position within the
/// epoch.
Status readDataState(const pb::Checkpoint &message, Checkpoint &out, const std::string &path) {
  out.classNames.assign(message.class_names().begin(), message.class_names().end());
  out.inputMean.assign(message.input_mean().begin(), message.input_mean().end());
  out.inputStd.assign(message.input_std().begin(), message.input_std().end());
  if (out.inputMean.size() != out.inputStd.size())
    return Status::failure(path + ": corrupted checkpoint: " +
                           std::to_string(out.inputMean.size()) + " input means but " +
                           std::to_string(out.inputStd.size()) + " standard deviations");
  out.epochStep = message.epoch_step();
  out.epochLossSum = message.epoch_loss_sum();
  out.epochCorrect = message.epoch_correct();
  out.epochSeen = message.epoch_seen();
  if (out.epochStep < 0 || out.epochSeen < 0 || out.epochCorrect < 0 ||
      out.epochCorrect > out.epochSeen)
    return Status::failure(path + ": corrupted checkpoint: the position within the epoch " +
                           "(step " + std::to_string(out.epochStep) + ", " +
                           std::to_string(out.epochSeen) + " images) is impossible");
  return Status::success();
}

} // namespace

Status netc::runtime::writeCheckpoint(const std::string &path, const Checkpoint &checkpoint) {
  pb::Checkpoint message;
  checkpointToProto(checkpoint, message);
  Result<std::string> bytes = fileBytesOf(message, path);
  if (!bytes)
    return Status::failure(bytes.error);
  return writeFileAtomically(path, *bytes);
}

Result<Checkpoint> netc::runtime::readCheckpoint(const std::string &path) {
  using R = Result<Checkpoint>;
  Result<std::string> bytes = readFileBytes(path);
  if (!bytes)
    return R::failure(bytes.error);
  Result<pb::Checkpoint> message = messageOf(*bytes, path);
  if (!message)
    return R::failure(message.error);

  Checkpoint out;
  out.network = message->network();
  out.compiler = message->compiler();
  for (const pb::Tensor &t : message->params())
    out.params.push_back(fromProto(t));
  for (const pb::Tensor &t : message->state())
    out.state.push_back(fromProto(t));
  if (Status s = checkTensorSizes(out, path); !s)
    return R::failure(s.error());
  out.step = message->step();
  out.epoch = message->epoch();
  out.rngState.assign(message->rng_state().begin(), message->rng_state().end());
  out.bestValAccuracy = message->best_val_accuracy();
  out.bestEpoch = message->best_epoch();
  if (Status s = readRun(*message, out, path); !s)
    return R::failure(s.error());
  if (Status s = readDataState(*message, out, path); !s)
    return R::failure(s.error());
  return R::success(std::move(out));
}
