//===- Train.cpp - netrun train ---------------------------------------------===//

#include "Distributed.h"
#include "Verbs.h"

#include "net/Runtime/Plot.h"

#include "net/Runtime/Checkpoint.h"
#include "net/Version.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/ImageFolder.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Summary.h"
#include "net/Runtime/Trainer.h"
#include "net/Runtime/TrainSettings.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <type_traits>
#include <unistd.h>


using namespace netc::runtime;
namespace settings = netc::settings;

namespace netc::runtime::cli {

namespace {

/// terminal, otherwise a plain line every ten seconds.
class Progress {
public:
  explicit Progress(DriverStreams &streams) : s(streams) {}
  void step(const StepProgress &p) {
    double now = p.seconds;
    bool done = p.seen == p.total;
    if (s.interactive) {
      if (!done && now - lastDraw < 0.1)
        return;
      lastDraw = now;
      const int width = 30;
      int filled = int(double(width) * double(p.seen) / double(std::max<int64_t>(p.total, 1)));
      std::string bar(size_t(filled), '=');
      if (filled < width)
        bar += '>' + std::string(size_t(width - filled - 1), '.');
      s.out << "\r" << withThousands(p.seen) << "/" << withThousands(p.total) << " [" << bar
            << "] - " << fixed(now, 1) << "s - loss: " << fixed(p.loss, 4)
            << " - accuracy: " << fixed(p.accuracy, 4) << "\033[K" << std::flush;
      drawn = true;
      return;
    }
    if (now - lastDraw < 10.0 || done)
      return;
    lastDraw = now;
    s.out << "  epoch " << p.epoch << "/" << p.epochs << ": " << withThousands(p.seen) << "/"
          << withThousands(p.total) << " images - loss: " << fixed(p.loss, 4)
          << " - accuracy: " << fixed(p.accuracy, 4) << std::endl;
  }
  /// Before a line of its own: clears the bar and starts the next epoch.
  void clear() {
    if (drawn)
      s.out << "\r\033[K";
    drawn = false;
    lastDraw = 0;
  }

private:
  DriverStreams &s;
  double lastDraw = 0;
  bool drawn = false;
};

//===----------------------------------------------------------------------===//
// Interruption: SIGINT and SIGTERM during training
//===----------------------------------------------------------------------===//

/// Signals received while training; the trainer asks between steps. A second
/// signal exits at once: checkpoints are written atomically, so nothing
/// already on disk can be damaged by it.
std::atomic<int> interrupts{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void onInterrupt(int) {
  if (interrupts.fetch_add(1) > 0)
    ::_exit(130);
}

/// Installs the handlers for its lifetime, restoring the previous ones after.
class InterruptHandlers {
public:
  InterruptHandlers() {
    interrupts = 0;
    struct sigaction action = {};
    action.sa_handler = onInterrupt;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &previousInt);
    ::sigaction(SIGTERM, &action, &previousTerm);
  }
  ~InterruptHandlers() {
    ::sigaction(SIGINT, &previousInt, nullptr);
    ::sigaction(SIGTERM, &previousTerm, nullptr);
  }
  InterruptHandlers(const InterruptHandlers &) = delete;
  InterruptHandlers &operator=(const InterruptHandlers &) = delete;
  static bool requested() { return interrupts.load() > 0; }

private:
  struct sigaction previousInt = {}, previousTerm = {};
};

/// Test hook: NETRUN_TEST_INTERRUPT_AFTER_STEPS=N raises SIGINT after the
/// Nth step of this process, as a Ctrl-C would arrive.
int64_t interruptAfterSteps() {
  const char *hook = std::getenv("NETRUN_TEST_INTERRUPT_AFTER_STEPS");
  return hook ? std::atoll(hook) : 0;
}

/// --resume: the settings saved in last.ckpt take the place of those of `c`
/// that were not given as flags; a flag given with another value wins, with
/// a warning that the run will not match an uninterrupted one.
Status inheritFromLastCheckpoint(const Options &o, RunConfig &c, DriverStreams &s) {
  std::string last = o.out + "/last.ckpt";
  Result<Checkpoint> checkpoint = readCheckpoint(last);
  if (!checkpoint)
    return Status::failure(checkpoint.error + " (--resume continues from the --out folder's "
                                         "last.ckpt)");
  const RunConfig &saved = checkpoint->run;
  auto inherit = [&](const char *flag, auto &field, auto value, const std::string &shown) {
    if (!o.given.count(flag)) {
      field = value;
      return;
    }
    if (field != value)
      s.err << "netrun: warning: --" << flag << " differs from the " << shown
            << " saved in " << last << "; the resumed run will not match an "
            << "uninterrupted one\n";
  };
  inherit("seed", c.seed, saved.seed, "seed " + std::to_string(saved.seed));
  inherit("batch", c.batch, saved.batch, "batch " + std::to_string(saved.batch));
  inherit("lr", c.learningRate, saved.learningRate, "learning rate");
  inherit("threads", c.threads, saved.threads, "thread count");
  inherit("validation-split", c.validationSplit, saved.validationSplit, "validation split");
  inherit("limit", c.limit, saved.limit, "limit");
  // The saved settings, with those given now in their place: `field` takes
  // the flag's value when the flag was given, with a warning naming `what`.
  auto override = [&](const char *what) {
    return [&, what](const char *flag, auto &field, auto value) {
      if (!o.given.count(flag) || field == value)
        return;
      field = value;
      s.err << "netrun: warning: --" << flag << " differs from the " << what << " saved in "
            << last << "; the resumed run will not match an uninterrupted one\n";
    };
  };
  LrScheduleConfig merged = saved.schedule;
  const LrScheduleConfig &given = o.schedule;
  auto take = override("schedule");
  take("lr-schedule", merged.kind, given.kind);
#define NETC_SCHEDULE_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
take(Flag, merged.Member, given.Member);
#include "net/Runtime/TrainSettings.def"
  c.schedule = merged;
  EarlyStoppingConfig early = saved.earlyStopping;
  const EarlyStoppingConfig &now = o.earlyStopping;
  auto takeEarly = override("early stopping");
  takeEarly("early-stopping", early.enabled, now.enabled);
  takeEarly("no-early-stopping", early.enabled, now.enabled);
  if (!early.enabled)
    for (const char *flag : earlyStoppingFlags())
      if (o.given.count(flag))
        return Status::failure("option '--" + std::string(flag) +
                          "' applies only with --early-stopping (" + last +
                          " has none; add --early-stopping)");
#define NETC_EARLY_STOPPING_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
takeEarly(Flag, early.Member, now.Member);
#include "net/Runtime/TrainSettings.def"
  c.earlyStopping = early;
  AugmentConfig augment = saved.augment;
  const AugmentConfig &a = o.augment;
  auto takeAugment = override("augmentation");
  takeAugment("rotation-range", augment.rotationRange, a.rotationRange);
  takeAugment("width-shift-range", augment.widthShiftRange, a.widthShiftRange);
  takeAugment("height-shift-range", augment.heightShiftRange, a.heightShiftRange);
  takeAugment("zoom-range", augment.zoomLow, a.zoomLow);
  takeAugment("zoom-range", augment.zoomHigh, a.zoomHigh);
  takeAugment("shear-range", augment.shearRange, a.shearRange);
  takeAugment("horizontal-flip", augment.horizontalFlip, a.horizontalFlip);
  takeAugment("fill-mode", augment.fillMode, a.fillMode);
  takeAugment("fill-value", augment.fillValue, a.fillValue);
  takeAugment("interpolation", augment.interpolation, a.interpolation);
  if (o.given.count("fill-value") && augment.fillMode != "constant")
    return Status::failure("option '--fill-value' applies only to --fill-mode constant (" + last +
                      " has " + augment.fillMode + ")");
  c.augment = augment;
  inherit("validation-data", c.validationData, saved.validationData, "validation data");
  if (!o.given.count("epochs"))
    c.epochs = saved.epochs;
  if (!o.given.count("data"))
    c.data = saved.data;
  return Status::success();
}

/// The run's settings: the flags given, then with --resume the settings
/// saved in last.ckpt, then the model's set-up.
Result<RunConfig> trainConfig(const Options &o, const netc_model_info &info, DriverStreams &s) {
  using R = Result<RunConfig>;
  RunConfig c;
  c.seed = o.seed;
  c.batch = o.batch ? o.batch : info.train.batch;
  c.epochs = o.epochs ? o.epochs : info.train.epochs;
  c.learningRate = o.learningRate ? o.learningRate : info.train.learning_rate;
  c.threads = o.threads;
  c.validationSplit = o.validationSplit;
  c.limit = o.limit;
  c.data = o.data;
  c.device = o.device;
  overModelSetup(o, info.train, c);
  c.augment = o.augment;
  c.validationData = o.validationData;
  if (o.resume)
    if (Status st = inheritFromLastCheckpoint(o, c, s); !st)
      return R::failure(st.error());
  if (std::string e = checkCombinations(o, c); !e.empty())
    return R::failure(e);
  if (c.batch <= 0 || c.epochs <= 0)
    return R::failure("the model sets no batch or epochs; give --batch and --epochs");
  if (c.data.empty())
    return R::failure("train needs --data NAME|DIR (e.g. --data mnist)");
  return R::success(c);
}

/// A number as the shortest text that reads back as the same double.
std::string exactNumber(double value) {
  char buffer[64];
  // Whole numbers as such: 10, not 1e+01.
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
    return buffer;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  return buffer;
}

/// `word`, quoted for a POSIX shell when it needs to be.
std::string shellQuoted(const std::string &word) {
  bool plain = !word.empty() &&
               std::all_of(word.begin(), word.end(), [](char c) {
                 return std::isalnum(static_cast<unsigned char>(c)) ||
                        std::strchr("-_./=:,+@%", c);
               });
  if (plain)
    return word;
  std::string out = "'";
  for (char c : word)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// DIR/config.txt: `key = value` lines, the keys after the header being the
/// flags of `netrun train` with their effective values.
std::string runConfigText(const Options &o, const RunConfig &c, const netc_model_info &info,
                          const std::string &dataDirectory) {
  std::ostringstream t;
  std::string command = "netrun";
  for (const std::string &a : o.commandLine)
    command += " " + shellQuoted(a);
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  auto line = [&](const std::string &key, const std::string &value) {
    t << key << " = " << value << "\n";
  };
  t << "# netrun train: the run's configuration (keys after 'compiler' are the flags)\n";
  line("netrun", NETC_VERSION);
  line("date", date);
  line("command", command);
  line("model", o.positional[0]);
  line("network", info.network);
  line("compiler", info.compiler ? info.compiler : "");
  line("data", c.data);
  line("data-directory", dataDirectory);
  line("out", o.out);
  line("resume", o.resume ? "true" : "false");
  line("epochs", std::to_string(c.epochs));
  line("batch", std::to_string(c.batch));
  line("lr", exactNumber(c.learningRate));
  // A setting's value as its flag takes it.
  auto value = [](const auto &v) -> std::string {
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<T, bool>)
      return v ? "true" : "false";
    else if constexpr (std::is_same_v<T, std::string>)
      return v;
    else if constexpr (std::is_integral_v<T>)
      return std::to_string(v);
    else
      return exactNumber(v);
  };
  line("lr-schedule", c.schedule.kind);
  // The settings of the run's schedule, in table order.
  const settings::Schedule *schedule = settings::scheduleByFlag(c.schedule.kind);
#define NETC_SCHEDULE_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  if (schedule && schedule->uses(settings::Id))                                     \
    line(Flag, value(c.schedule.Member));
#include "net/Runtime/TrainSettings.def"
  line("early-stopping", value(c.earlyStopping.enabled));
#define NETC_EARLY_STOPPING_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  if (c.earlyStopping.enabled)                                                      \
    line(Flag, value(c.earlyStopping.Member));
#include "net/Runtime/TrainSettings.def"
  line("seed", std::to_string(c.seed));
  line("threads", std::to_string(c.threads));
  line("device", c.device);
  line("limit", std::to_string(c.limit));
  line("validation-split", exactNumber(c.validationSplit));
  if (!c.validationData.empty())
    line("validation-data", c.validationData);
  line("strict-images", o.strictImages ? "true" : "false");
  // Augmentation's flags when it is on, as early stopping's.
  const AugmentConfig &a = c.augment;
  line("augmentation", a.enabled() ? "true" : "false");
  if (a.enabled()) {
    line("rotation-range", exactNumber(a.rotationRange));
    line("width-shift-range", exactNumber(a.widthShiftRange));
    line("height-shift-range", exactNumber(a.heightShiftRange));
    line("zoom-range", "[" + exactNumber(a.zoomLow) + "," + exactNumber(a.zoomHigh) + "]");
    line("shear-range", exactNumber(a.shearRange));
    line("horizontal-flip", a.horizontalFlip ? "true" : "false");
    line("fill-mode", a.fillMode);
    if (a.fillMode == "constant")
      line("fill-value", exactNumber(a.fillValue));
    line("interpolation", a.interpolation);
    line("augment-workers", std::to_string(augmentWorkerCount(o.augmentWorkers)));
  }
  return t.str();
}

/// The training and validation sets of a run, from IDX files or image folders.
struct TrainingData {
  std::string directory;
  Samples train, validation;
  std::string validationName;
  std::vector<std::string> classNames; // image folders only
};


Result<TrainingData> loadTrainingData(const RunConfig &c, const netc_model_info &info,
                                      const Options &o, DriverStreams &s) {
  using R = Result<TrainingData>;
  TrainingData out;
  if (!isImageFolder(c.data)) {
    if (!c.validationData.empty())
      return R::failure("--validation-data " + c.validationData +
                        " needs --data to be an image folder too (" + c.data + " is not)");
    Result<TrainTestData> data = loadIdxForModel(c.data, info, c.limit);
    if (!data)
      return R::failure(data.error);
    out.directory = data->directory;
    out.train = std::move(data->train);
    out.validation = std::move(data->test);
    out.validationName = "the test split";
    if (c.validationSplit > 0) {
      out.validation = splitValidation(out.train, c.validationSplit);
      out.validationName = "the last " + fixed(c.validationSplit * 100, 1) + "% of training";
    }
    return R::success(std::move(out));
  }
  if (c.limit > 0)
    return R::failure(c.data + ": --limit applies to IDX datasets, not to an image folder");
  if (c.validationSplit <= 0 && c.validationData.empty())
    return R::failure(c.data + ": an image folder has no test split; give --validation-split F "
                               "or --validation-data DIR");
  for (const std::string &dir : {c.data, c.validationData})
    if (!dir.empty())
      if (Status st = outOutsideImageFolder(o.out, dir); !st)
        return R::failure(st.error());
  Result<ImageFolder> folder = readFolder(c.data, info, o, s);
  if (!folder)
    return R::failure(folder.error);
  noteUntaughtOutputs(s, o, info, c.data, folder->classNames);
  out.directory = c.data;
  out.classNames = folder->classNames;
  if (c.validationSplit > 0) {
    out.validation = splitFolderValidation(*folder, c.validationSplit);
    out.validationName = "the first " + fixed(c.validationSplit * 100, 1) + "% of each class";
  } else {
    Result<ImageFolder> held = readFolder(c.validationData, info, o, s);
    if (!held)
      return R::failure(held.error);
    if (held->classNames != folder->classNames)
      return R::failure(c.validationData + ": classes (" + joined(held->classNames) +
                        ") differ from those of " + c.data + " (" +
                        joined(folder->classNames) + ")");
    out.validation = std::move(held->samples);
    out.validationName = c.validationData;
  }
  out.train = std::move(folder->samples);
  return R::success(std::move(out));
}

} // namespace

namespace {

/// netrun train in this process; in a data-parallel run, this rank's part.
int trainHere(const Options &o, DriverStreams &s, Collective *ranks) {
  if (o.positional.size() != 1)
    return fail(s, "train expects one model: netrun train MODEL.so --data mnist");
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  const netc_model_info &info = (*model)->info();
  Result<RunConfig> config = trainConfig(o, info, s);
  if (!config)
    return fail(s, config.error);
  Result<TrainingData> data = loadTrainingData(*config, info, o, s);
  if (!data)
    return fail(s, data.error);
  const int32_t rank = ranks ? ranks->rank() : 0, rankCount = ranks ? ranks->size() : 1;
  if (rank == 0)
    if (Status st = prepareOutputDirectory(o.out); !st)
      return fail(s, st.error());
  Samples &trainSet = data->train;
  Samples &validation = data->validation;
  const std::string &validationName = data->validationName;
  if (config->validationSplit > 0 && (validation.count == 0 || trainSet.count == 0))
    return fail(s, "--validation-split " + fixed(config->validationSplit, 4) + " of " +
                       withThousands(trainSet.count + validation.count) +
                       " images leaves no training or no validation images");
  // A data-parallel run: the batch is the global one, each rank's instance
  // holds its shard (DataParallel.h).
  if (config->batch < rankCount)
    return fail(s, "a batch of " + std::to_string(config->batch) + " for " +
                       std::to_string(rankCount) + " ranks: every rank needs a sample of "
                       "each batch; give --batch " + std::to_string(rankCount) + " or more");
  // A batch larger than the training set takes the whole set each step (as
  // Keras does): the instance needs room for the set, not for the batch.
  const int32_t stepSamples = int32_t(std::min<int64_t>(config->batch, trainSet.count));
  if (stepSamples < config->batch && rank == 0)
    s.err << "netrun: note: batch " << config->batch << " is more than the "
          << withThousands(trainSet.count) << " training images: each step takes them all\n";
  const int32_t shardBatch = (std::max(stepSamples, rankCount) + rankCount - 1) / rankCount;
  Result<std::shared_ptr<Instance>> instance =
      Instance::create(*model, deviceChoice(o), shardBatch, config->threads);
  if (!instance)
    return fail(s, instance.error);
  config->device = deviceName((*instance)->device());
  noteFallback(s, o, **instance, "training");
  if (rank == 0)
    if (Status st = writeTextFile(o.out + "/config.txt",
                                  runConfigText(o, *config, info, data->directory));
        !st)
      return fail(s, st.error());

  // Keras warns of the same: a model with every parameter frozen (or none)
  // "trains" without changing, which is rarely what was meant.
  if (rank == 0 && std::none_of(info.params, info.params + info.num_params,
                                [](const netc_tensor_info &p) { return p.trainable != 0; }))
    s.err << "netrun: note: " << o.positional[0] << " has no trainable parameters ("
          << (info.num_params ? "all of them are frozen" : "it has none")
          << "): training measures it but leaves it as it is\n";
  s.out << "Training " << info.network << " on " << data->directory << ": "
        << withThousands(trainSet.count) << " images, validating on "
        << withThousands(validation.count) << " (" << validationName << "); batch "
        << config->batch << ", " << config->epochs << (config->epochs == 1 ? " epoch, " : " epochs, ")
        << (info.train.optimizer == NETC_OPTIMIZER_ADAM ? "adam" : "sgd") << " lr "
        << config->learningRate << ", seed " << config->seed << ", device "
        << config->device << (config->augment.enabled() ? ", augmented" : "") << "\n";
  if (ranks)
    s.out << "Data-parallel on " << ranks->describe() << ": each trains on "
          << (config->batch % rankCount ? "about " : "") << config->batch / rankCount
          << " images of each batch of " << config->batch << " with "
          << (config->threads ? std::to_string(config->threads) : std::string("all"))
          << (config->threads == 1 ? " thread" : " threads") << "; rank 0 writes " << o.out
          << "\n";

  TrainOptions options;
  options.epochs = config->epochs;
  options.learningRate = config->learningRate;
  options.seed = config->seed;
  options.validationSplit = config->validationSplit;
  options.outDir = o.out;
  options.resume = o.resume;
  options.initialWeights = o.weights;
  options.cacheFeatures = !o.noFeatureCache;
  options.config = *config;
  options.augmentWorkers = o.augmentWorkers;
  options.histograms = o.histograms;
  options.logImages = o.logImages;
  options.classNames = data->classNames;
  options.collective = ranks;
  options.globalBatch = config->batch;
  Progress progress(s);
  TrainCallbacks callbacks;
  int64_t steps = 0, raiseAfter = interruptAfterSteps();
  callbacks.onStep = [&](const StepProgress &p) {
    progress.step(p);
    if (++steps == raiseAfter)
      ::raise(SIGINT);
  };
  callbacks.stopRequested = [] { return InterruptHandlers::requested(); };
  callbacks.onEpoch = [&](const EpochStats &e) {
    progress.clear();
    s.out << formatEpochLine(e) << std::endl;
  };
  callbacks.onNote = [&](const std::string &note) {
    progress.clear();
    s.out << note << "\n";
  };
  Result<TrainResult> result = [&] {
    InterruptHandlers handlers;
    return train(**instance, trainSet, validation, options, callbacks);
  }();
  progress.clear();
  if (!result)
    return fail(s, result.error);
  if (result->interrupted) {
    s.out << std::flush;
    s.err << "netrun: interrupted at epoch " << result->stoppedEpoch << ", step "
          << result->stoppedStep << " of " << result->stepsPerEpoch << "; saved " << o.out
          << "/last.ckpt; resume with: netrun train " << o.positional[0] << " --data "
          << config->data << " --out " << o.out << " --resume" << std::endl;
    return 130;
  }
  const EarlyStoppingConfig &early = config->earlyStopping;
  if (result->bestEpoch > 0 && early.enabled)
    s.out << "best " << early.monitor << " " << fixed(result->earlyStopping.best, 4)
          << " at epoch " << result->bestEpoch << " (val_accuracy "
          << fixed(result->bestValAccuracy, 4) << "); ";
  else if (result->bestEpoch > 0)
    s.out << "best val_accuracy " << fixed(result->bestValAccuracy, 4) << " at epoch "
          << result->bestEpoch << "; ";
  if (result->bestEpoch > 0)
    s.out << o.out << "/best.ckpt, " << o.out << "/last.ckpt, " << o.out << "/history.csv, "
          << o.out << "/config.txt\n";
  return 0;
}

} // namespace

int runTrain(const Options &o, DriverStreams &s) {
  if (!launchedByMpi())
    return trainHere(o, s, nullptr);
  Result<std::unique_ptr<Collective>> ranks = openMpiRanks(o.mpiTimeout);
  if (!ranks)
    return fail(s, ranks.error);
  const int32_t rank = (*ranks)->rank();
  if (rank == 0) {
    int code = trainHere(o, s, ranks->get());
    if (code != 0 && code != 130 && (*ranks)->size() > 1) {
      s.out << std::flush;
      s.err << std::flush;
      (*ranks)->abort(code); // the other ranks would wait for this one
    }
    return code;
  }
  // The other ranks report nothing but their own failure, named by rank.
  std::ostringstream quiet, errors;
  DriverStreams rankStreams{quiet, errors, /*interactive=*/false};
  int code = trainHere(o, rankStreams, ranks->get());
  if (code != 0 && code != 130) {
    std::istringstream lines(errors.str());
    for (std::string line; std::getline(lines, line);)
      s.err << "rank " << rank << ": " << line << "\n";
    s.err << std::flush;
    (*ranks)->abort(code);
  }
  return code;
}

} // namespace netc::runtime::cli
