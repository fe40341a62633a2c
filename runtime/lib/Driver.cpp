//===- Driver.cpp - The netrun command line -------------------------------===//

#include "net/Runtime/Driver.h"

#include "net/Runtime/Plot.h"

#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/ExportONNX.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/ImageFolder.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Summary.h"
#include "net/Runtime/Trainer.h"

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
#include <unistd.h>

using namespace net::runtime;

// The build may define it from the project's version; this is that version.
#ifndef NETRUN_VERSION
#define NETRUN_VERSION "0.1.0"
#endif

namespace {

//===----------------------------------------------------------------------===//
// Options: parsed in one place
//===----------------------------------------------------------------------===//

struct Options {
  std::vector<std::string> positional;
  std::set<std::string> given; // option names that appeared
  std::string data;
  int32_t epochs = 0;          // 0: the model's
  int32_t batch = 0;           // 0: the model's
  double learningRate = 0;     // 0: the model's
  uint64_t seed = 42;
  int32_t threads = 0;         // 0: all cores
  std::string out = "run";
  double validationSplit = 0;
  int64_t limit = 0;
  bool resume = false;
  LrScheduleConfig schedule;
  EarlyStoppingConfig earlyStopping;
  std::string weights;
  bool noFeatureCache = false;
  std::string onnx;            // export: the file to write
  std::string device = "auto";
  bool invert = false;
  bool help = false;
  // Image folders and augmentation.
  std::string validationData;
  bool strictImages = false;
  AugmentConfig augment;
  int32_t augmentWorkers = 0; // 0: auto
  // export-images.
  int64_t perClass = 0;       // 0: every image
  std::vector<int32_t> classes;
  std::string split = "train";
  std::vector<std::string> commandLine; // the arguments after "netrun"
};

using Setter = std::function<std::string(Options &, const std::string &)>;

struct OptionSpec {
  const char *name;   // without "--"
  const char *value;  // metavariable, or nullptr for a switch
  const char *verbs;  // the verbs it applies to
  const char *help;
  Setter set;
};

template <typename T> bool parseNumber(const std::string &text, T &out) {
  std::istringstream in(text);
  in >> out;
  return !text.empty() && in && in.peek() == EOF;
}

Setter intIn(int64_t low, int64_t high, std::function<void(Options &, int64_t)> store,
             const char *what) {
  return [=](Options &o, const std::string &v) -> std::string {
    int64_t n = 0;
    if (!parseNumber(v, n) || n < low || n > high)
      return std::string("expects ") + what + ", got '" + v + "'";
    store(o, n);
    return "";
  };
}

Setter realIn(double low, double high, bool lowOpen, std::function<void(Options &, double)> store,
              const char *what) {
  return [=](Options &o, const std::string &v) -> std::string {
    double x = 0;
    if (!parseNumber(v, x) || !std::isfinite(x) || x < low || x > high || (lowOpen && x == low))
      return std::string("expects ") + what + ", got '" + v + "'";
    store(o, x);
    return "";
  };
}

const std::vector<OptionSpec> &optionTable() {
  static const std::vector<OptionSpec> table = {
      {"data", "NAME|DIR", "train eval export-images",
       "dataset by name (mnist, fashion-mnist), IDX folder or image folder",
       [](Options &o, const std::string &v) { o.data = v; return std::string(); }},
      {"epochs", "N", "train", "epochs to train to (default: the model's)",
       intIn(1, 1000000, [](Options &o, int64_t n) { o.epochs = int32_t(n); },
             "a positive number of epochs")},
      {"batch", "N", "train eval predict", "batch size (default: the model's)",
       intIn(1, 1 << 20, [](Options &o, int64_t n) { o.batch = int32_t(n); },
             "a positive batch size")},
      {"lr", "RATE", "train", "learning rate (default: the model's)",
       [](Options &o, const std::string &v) -> std::string {
         if (!parseNumber(v, o.learningRate) || !(o.learningRate > 0) ||
             !std::isfinite(o.learningRate))
           return "expects a positive learning rate, got '" + v + "'";
         return "";
       }},
      {"seed", "N", "train", "seed of initialisation, shuffling and dropout (default 42)",
       [](Options &o, const std::string &v) -> std::string {
         if (v.empty() || v[0] == '-' || !parseNumber(v, o.seed))
           return "expects a non-negative integer seed, got '" + v + "'";
         return "";
       }},
      {"threads", "N", "train eval predict", "CPU threads (default 0: all cores)",
       intIn(0, 4096, [](Options &o, int64_t n) { o.threads = int32_t(n); },
             "a number of threads (0: all cores)")},
      {"device", "auto|cpu|cuda", "train eval predict", "where to run (default auto)",
       [](Options &o, const std::string &v) -> std::string {
         if (v != "auto" && v != "cpu" && v != "cuda")
           return "expects auto, cpu or cuda, got '" + v + "'";
         o.device = v;
         return "";
       }},
      {"out", "DIR", "train export-images",
       "train: folder for checkpoints and history.csv (default run); export-images: the "
       "image folder",
       [](Options &o, const std::string &v) -> std::string {
         if (v.empty())
           return "expects a folder";
         o.out = v;
         return "";
       }},
      {"validation-split", "F", "train",
       "validate on the last fraction F of the training images (default: the test split)",
       [](Options &o, const std::string &v) -> std::string {
         if (!parseNumber(v, o.validationSplit) || !(o.validationSplit > 0) ||
             !(o.validationSplit < 1))
           return "expects a fraction between 0 and 1, got '" + v + "'";
         return "";
       }},
      {"limit", "N", "train", "use only the first N training images",
       intIn(1, int64_t(1) << 40, [](Options &o, int64_t n) { o.limit = n; },
             "a positive number of images")},
      {"resume", nullptr, "train", "continue from DIR/last.ckpt, bit for bit",
       [](Options &o, const std::string &) { o.resume = true; return std::string(); }},
      {"lr-schedule", "NAME", "train",
       "constant, step, exponential, cosine, one-cycle or reduce-on-plateau (default constant)",
       [](Options &o, const std::string &v) -> std::string {
         const std::vector<std::string> &names = lrScheduleNames();
         if (std::find(names.begin(), names.end(), v) != names.end()) {
           o.schedule.kind = v;
           return "";
         }
         std::string near = closestMatch(v, names);
         return "expects constant, step, exponential, cosine, one-cycle or reduce-on-plateau, "
                "got '" + v + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?");
       }},
      {"lr-step-size", "N", "train", "step: epochs between decays (default 10)",
       intIn(1, 1000000, [](Options &o, int64_t n) { o.schedule.stepSize = int32_t(n); },
             "a positive number of epochs")},
      {"lr-gamma", "G", "train", "step: factor every --lr-step-size epochs (default 0.1)",
       realIn(0, 1, /*lowOpen=*/true, [](Options &o, double x) { o.schedule.gamma = x; },
              "a factor in (0, 1]")},
      {"lr-decay", "G", "train", "exponential: factor per epoch (default 0.95)",
       realIn(0, 1, /*lowOpen=*/true, [](Options &o, double x) { o.schedule.decay = x; },
              "a factor in (0, 1]")},
      {"lr-min", "RATE", "train", "cosine, reduce-on-plateau: the lowest rate (default 0)",
       realIn(0, 1e9, /*lowOpen=*/false, [](Options &o, double x) { o.schedule.minLr = x; },
              "a non-negative learning rate")},
      {"lr-patience", "N", "train",
       "reduce-on-plateau: epochs without a better val_loss before reducing (default 10)",
       intIn(1, 1000000, [](Options &o, int64_t n) { o.schedule.patience = int32_t(n); },
             "a positive number of epochs")},
      {"lr-factor", "F", "train", "reduce-on-plateau: factor of a reduction (default 0.1)",
       realIn(0, 1, /*lowOpen=*/true, [](Options &o, double x) { o.schedule.factor = x; },
              "a factor in (0, 1)")},
      {"early-stopping", nullptr, "train",
       "stop when --monitor stops improving, as Keras' EarlyStopping",
       [](Options &o, const std::string &) {
         o.earlyStopping.enabled = true;
         return std::string();
       }},
      {"no-early-stopping", nullptr, "train", "train without the model's early stopping",
       [](Options &o, const std::string &) {
         o.earlyStopping.enabled = false;
         return std::string();
       }},
      {"monitor", "val_loss|val_accuracy", "train",
       "early stopping: the quantity watched (default val_loss)",
       [](Options &o, const std::string &v) -> std::string {
         std::vector<std::string> names = {"val_loss", "val_accuracy"};
         if (std::find(names.begin(), names.end(), v) != names.end()) {
           o.earlyStopping.monitor = v;
           return "";
         }
         std::string near = closestMatch(v, names);
         return "expects val_loss or val_accuracy, got '" + v + "'" +
                (near.empty() ? "" : "; did you mean '" + near + "'?");
       }},
      {"patience", "N", "train",
       "early stopping: epochs without improvement before stopping (default 0)",
       intIn(0, 1000000, [](Options &o, int64_t n) { o.earlyStopping.patience = int32_t(n); },
             "a non-negative number of epochs")},
      {"min-delta", "D", "train",
       "early stopping: the smallest change that counts as an improvement (default 0)",
       realIn(0, 1e9, /*lowOpen=*/false,
              [](Options &o, double x) { o.earlyStopping.minDelta = x; },
              "a non-negative change")},
      {"restore-best-weights", nullptr, "train",
       "early stopping: end with the parameters of the best epoch",
       [](Options &o, const std::string &) {
         o.earlyStopping.restoreBestWeights = true;
         return std::string();
       }},
      {"validation-data", "DIR", "train",
       "validate on the image folder DIR (the same classes as --data)",
       [](Options &o, const std::string &v) -> std::string {
         if (v.empty())
           return "expects an image folder";
         o.validationData = v;
         return "";
       }},
      {"strict-images", nullptr, "train eval",
       "refuse an image folder with a file that is not an image (default: skip it, warning)",
       [](Options &o, const std::string &) { o.strictImages = true; return std::string(); }},
      {"rotation-range", "DEG", "train", "augmentation: rotate by up to DEG degrees",
       realIn(0, 360, /*lowOpen=*/false,
              [](Options &o, double x) { o.augment.rotationRange = x; },
              "degrees in [0, 360]")},
      {"width-shift-range", "F", "train",
       "augmentation: shift by up to F of the width (F >= 1: pixels)",
       realIn(0, 1e6, /*lowOpen=*/false,
              [](Options &o, double x) { o.augment.widthShiftRange = x; },
              "a non-negative fraction (or pixels from 1)")},
      {"height-shift-range", "F", "train",
       "augmentation: shift by up to F of the height (F >= 1: pixels)",
       realIn(0, 1e6, /*lowOpen=*/false,
              [](Options &o, double x) { o.augment.heightShiftRange = x; },
              "a non-negative fraction (or pixels from 1)")},
      {"zoom-range", "F|[LO,HI]", "train",
       "augmentation: zoom x and y by factors in [1-F, 1+F] or [LO, HI] (above 1 zooms out)",
       [](Options &o, const std::string &v) -> std::string {
         std::string text = v;
         if (!text.empty() && text.front() == '[' && text.back() == ']')
           text = text.substr(1, text.size() - 2);
         double low = 0, high = 0;
         if (size_t comma = text.find(','); comma != std::string::npos) {
           if (parseNumber(text.substr(0, comma), low) &&
               parseNumber(text.substr(comma + 1), high) && low > 0 && low <= high &&
               high <= 100) {
             o.augment.zoomLow = low;
             o.augment.zoomHigh = high;
             return "";
           }
         } else if (parseNumber(text, low) && low >= 0 && low < 1) {
           o.augment.zoomLow = 1 - low;
           o.augment.zoomHigh = 1 + low;
           return "";
         }
         return "expects a fraction in [0, 1) or [LO,HI] with 0 < LO <= HI, got '" + v + "'";
       }},
      {"shear-range", "DEG", "train", "augmentation: shear by up to DEG degrees",
       realIn(0, 89, /*lowOpen=*/false, [](Options &o, double x) { o.augment.shearRange = x; },
              "degrees in [0, 89]")},
      {"horizontal-flip", nullptr, "train", "augmentation: flip half of the images left to right",
       [](Options &o, const std::string &) {
         o.augment.horizontalFlip = true;
         return std::string();
       }},
      {"fill-mode", "nearest|constant|reflect|wrap", "train",
       "augmentation: how points outside the image are filled (default nearest)",
       [](Options &o, const std::string &v) -> std::string {
         const std::vector<std::string> &names = fillModeNames();
         if (std::find(names.begin(), names.end(), v) != names.end()) {
           o.augment.fillMode = v;
           return "";
         }
         std::string near = closestMatch(v, names);
         return "expects nearest, constant, reflect or wrap, got '" + v + "'" +
                (near.empty() ? "" : "; did you mean '" + near + "'?");
       }},
      {"fill-value", "V", "train", "augmentation: --fill-mode constant's pixel value (default 0)",
       realIn(0, 255, /*lowOpen=*/false, [](Options &o, double x) { o.augment.fillValue = x; },
              "a pixel value in [0, 255]")},
      {"interpolation", "bilinear|nearest", "train",
       "augmentation: how the transformed image is sampled (default bilinear)",
       [](Options &o, const std::string &v) -> std::string {
         if (v != "bilinear" && v != "nearest")
           return "expects bilinear or nearest, got '" + v + "'";
         o.augment.interpolation = v;
         return "";
       }},
      {"augment-workers", "N", "train",
       "threads preparing augmented batches ahead (default 0: a quarter of the cores)",
       intIn(0, 256, [](Options &o, int64_t n) { o.augmentWorkers = int32_t(n); },
             "a number of threads (0: auto)")},
      {"per-class", "N", "export-images", "images per class (default: all)",
       intIn(1, int64_t(1) << 40, [](Options &o, int64_t n) { o.perClass = n; },
             "a positive number of images")},
      {"classes", "A,B,...", "export-images", "the labels to export (default: all)",
       [](Options &o, const std::string &v) -> std::string {
         std::istringstream in(v);
         std::string item;
         o.classes.clear();
         while (std::getline(in, item, ',')) {
           int32_t label = 0;
           if (!parseNumber(item, label) || label < 0 || label > 255)
             return "expects labels separated by commas (0,1,2), got '" + v + "'";
           if (std::find(o.classes.begin(), o.classes.end(), label) == o.classes.end())
             o.classes.push_back(label);
         }
         if (o.classes.empty())
           return "expects labels separated by commas (0,1,2), got '" + v + "'";
         return "";
       }},
      {"split", "train|test", "export-images", "the split exported (default train)",
       [](Options &o, const std::string &v) -> std::string {
         if (v != "train" && v != "test")
           return "expects train or test, got '" + v + "'";
         o.split = v;
         return "";
       }},
      {"weights", "FILE", "train eval predict export",
       "checkpoint to load (run/best.ckpt); train: start from its parameters, matched by "
       "name (a base trained before), the others initialised from the seed",
       [](Options &o, const std::string &v) { o.weights = v; return std::string(); }},
      {"no-feature-cache", nullptr, "train",
       "run a frozen base every step instead of computing its features once",
       [](Options &o, const std::string &) {
         o.noFeatureCache = true;
         return std::string();
       }},
      {"onnx", "FILE", "export", "the ONNX file to write (model.onnx)",
       [](Options &o, const std::string &v) { o.onnx = v; return std::string(); }},
      {"invert", nullptr, "predict", "invert grey levels (dark digits on white paper)",
       [](Options &o, const std::string &) { o.invert = true; return std::string(); }},
      {"help", nullptr, "info train eval predict export-images export", "this help",
       [](Options &o, const std::string &) { o.help = true; return std::string(); }},
  };
  return table;
}

bool appliesTo(const OptionSpec &spec, const std::string &verb) {
  std::istringstream verbs(spec.verbs);
  std::string v;
  while (verbs >> v)
    if (v == verb)
      return true;
  return false;
}

/// The flags that only mean something with --early-stopping.
const std::vector<const char *> &earlyStoppingFlags() {
  static const std::vector<const char *> flags = {"monitor", "patience", "min-delta",
                                                  "restore-best-weights"};
  return flags;
}

/// Options that only mean something together, checked against the run's
/// effective flags `c` (given, the model's, or with --resume the
/// checkpoint's): a schedule's parameters need that schedule, early
/// stopping's flags need early stopping (trainConfig checks those on resume).
std::string checkCombinations(const Options &o, const RunConfig &c) {
  if (o.given.count("validation-data") && o.given.count("validation-split"))
    return "options '--validation-data' and '--validation-split' exclude each other";
  if (o.given.count("fill-value") && o.augment.fillMode != "constant" &&
      !(o.resume && !o.given.count("fill-mode")))
    return "option '--fill-value' applies only to --fill-mode constant (the mode is " +
           o.augment.fillMode + ")";
  if (o.resume && o.given.count("weights"))
    return "--weights starts a run from a checkpoint's parameters; --resume continues "
           "the --out folder's run: give one of them";
  if (!o.resume && !c.earlyStopping.enabled)
    for (const char *flag : earlyStoppingFlags())
      if (o.given.count(flag))
        return "option '--" + std::string(flag) + "' applies only with --early-stopping" +
               (o.given.count("no-early-stopping") ? " (--no-early-stopping is given)" : "");
  static const std::vector<std::pair<const char *, std::vector<std::string>>> uses = {
      {"lr-step-size", {"step"}},
      {"lr-gamma", {"step"}},
      {"lr-decay", {"exponential"}},
      {"lr-min", {"cosine", "reduce-on-plateau"}},
      {"lr-patience", {"reduce-on-plateau"}},
      {"lr-factor", {"reduce-on-plateau"}},
  };
  if (o.resume && !o.given.count("lr-schedule"))
    return "";
  const std::string &kind = c.schedule.kind;
  for (const auto &[flag, kinds] : uses) {
    if (!o.given.count(flag) || std::find(kinds.begin(), kinds.end(), kind) != kinds.end())
      continue;
    std::string list;
    for (const std::string &k : kinds)
      list += (list.empty() ? "" : " or ") + k;
    bool fromModel = !o.resume && !o.given.count("lr-schedule") && kind != "constant";
    return "option '--" + std::string(flag) + "' applies only to --lr-schedule " + list +
           " (the schedule is " + kind + (fromModel ? ", the model's" : "") + ")";
  }
  if (kind == "reduce-on-plateau" && !(c.schedule.factor < 1))
    return "option '--lr-factor' expects a factor in (0, 1), got 1";
  return "";
}

/// The model's learning-rate schedule (netc_train_setup) as run flags.
LrScheduleConfig modelSchedule(const netc_train_setup &t) {
  LrScheduleConfig c;
  c.kind = t.lr_schedule;
  c.stepSize = t.lr_step_size;
  c.gamma = t.lr_gamma;
  c.decay = t.lr_decay;
  c.minLr = t.lr_min;
  c.patience = t.lr_patience;
  c.factor = t.lr_factor;
  return c;
}

/// The model's early stopping (netc_train_setup) as run flags.
EarlyStoppingConfig modelEarlyStopping(const netc_train_setup &t) {
  EarlyStoppingConfig c;
  c.enabled = t.early_stopping != 0;
  c.monitor = t.monitor;
  c.patience = t.patience;
  c.minDelta = t.min_delta;
  c.restoreBestWeights = t.restore_best_weights != 0;
  return c;
}

/// The flags given now over the model's schedule and early stopping. The
/// model's schedule parameters hold for the model's schedule only: another
/// --lr-schedule starts from netrun's defaults.
void overModelSetup(const Options &o, const netc_train_setup &t, RunConfig &c) {
  auto take = [&](const char *flag, auto &field, auto value) {
    if (o.given.count(flag))
      field = value;
  };
  c.schedule = modelSchedule(t);
  if (o.given.count("lr-schedule") && o.schedule.kind != c.schedule.kind) {
    c.schedule = LrScheduleConfig();
    c.schedule.kind = o.schedule.kind;
  }
  take("lr-step-size", c.schedule.stepSize, o.schedule.stepSize);
  take("lr-gamma", c.schedule.gamma, o.schedule.gamma);
  take("lr-decay", c.schedule.decay, o.schedule.decay);
  take("lr-min", c.schedule.minLr, o.schedule.minLr);
  take("lr-patience", c.schedule.patience, o.schedule.patience);
  take("lr-factor", c.schedule.factor, o.schedule.factor);
  c.earlyStopping = modelEarlyStopping(t);
  take("early-stopping", c.earlyStopping.enabled, o.earlyStopping.enabled);
  take("no-early-stopping", c.earlyStopping.enabled, o.earlyStopping.enabled);
  take("monitor", c.earlyStopping.monitor, o.earlyStopping.monitor);
  take("patience", c.earlyStopping.patience, o.earlyStopping.patience);
  take("min-delta", c.earlyStopping.minDelta, o.earlyStopping.minDelta);
  take("restore-best-weights", c.earlyStopping.restoreBestWeights,
       o.earlyStopping.restoreBestWeights);
}

/// Parses the arguments after the verb; returns an error line or "".
std::string parseOptions(const std::string &verb, const std::vector<std::string> &args,
                         Options &options) {
  const std::vector<OptionSpec> &table = optionTable();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (arg == "-h") {
      options.help = true;
      continue;
    }
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0 || arg == "--") {
      options.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool hasValue = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    auto spec = std::find_if(table.begin(), table.end(),
                             [&](const OptionSpec &s) { return name == s.name; });
    if (spec == table.end()) {
      std::vector<std::string> names;
      for (const OptionSpec &s : table)
        if (appliesTo(s, verb))
          names.push_back(s.name);
      std::string near = closestMatch(name, names);
      return "unknown option '--" + name + "' for '" + verb + "'" +
             (near.empty() ? "" : "; did you mean '--" + near + "'?");
    }
    if (!appliesTo(*spec, verb))
      return "option '--" + name + "' does not apply to '" + verb + "'";
    if (spec->value && !hasValue) {
      if (i + 1 >= args.size())
        return "option '--" + name + "' needs a value (" + spec->value + ")";
      value = args[++i];
    } else if (!spec->value && hasValue) {
      return "option '--" + name + "' takes no value";
    }
    if (std::string e = spec->set(options, value); !e.empty())
      return "option '--" + name + "' " + e;
    options.given.insert(name);
  }
  if (options.given.count("early-stopping") && options.given.count("no-early-stopping"))
    return "options '--early-stopping' and '--no-early-stopping' contradict each other";
  return ""; // the combinations need the model's set-up: trainConfig checks them
}

//===----------------------------------------------------------------------===//
// Helpers shared by the verbs
//===----------------------------------------------------------------------===//

int fail(DriverStreams &s, const std::string &message) {
  s.err << "netrun: error: " << message << "\n";
  return 1;
}

/// Says so when --device auto wanted the model's GPU path and got the CPU.
void noteFallback(DriverStreams &s, const Instance &instance, const char *what) {
  if (!instance.fallbackReason().empty())
    s.err << "netrun: note: the model's GPU path is not usable here ("
          << instance.fallbackReason() << "); " << what << " on the CPU\n";
}

DeviceChoice deviceChoice(const Options &o) {
  if (o.device == "cpu")
    return DeviceChoice::Cpu;
  if (o.device == "cuda")
    return DeviceChoice::Cuda;
  return DeviceChoice::Auto;
}

const char *deviceName(int32_t device) { return device == NETC_DEVICE_CUDA ? "cuda" : "cpu"; }

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

/// Loads --weights into a new instance after checking it against the model.
/// `classNames` gets the checkpoint's class names (empty for IDX datasets).
Result<std::shared_ptr<Instance>> instanceWithWeights(const std::shared_ptr<Model> &model,
                                                      const Options &o, int32_t batch,
                                                      std::vector<std::string> &classNames) {
  using R = Result<std::shared_ptr<Instance>>;
  if (o.weights.empty())
    return R::failure("--weights FILE is required (a checkpoint written by 'netrun train', "
                      "e.g. run/best.ckpt)");
  Result<Checkpoint> checkpoint = readCheckpoint(o.weights);
  if (!checkpoint)
    return R::failure(checkpoint.error);
  if (Status s = checkCompatible(*checkpoint, model->info(), o.weights, /*withState=*/false); !s)
    return R::failure(s.error());
  classNames = checkpoint->classNames;
  Result<std::shared_ptr<Instance>> instance =
      Instance::create(model, deviceChoice(o), batch, o.threads);
  if (!instance)
    return instance;
  if (Status s = restoreCheckpoint(*checkpoint, **instance, o.weights, /*withState=*/false); !s)
    return R::failure(s.error());
  return instance;
}

/// A one-line progress display within an epoch: a bar redrawn in place on a
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

//===----------------------------------------------------------------------===//
// The verbs
//===----------------------------------------------------------------------===//

int runInfo(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "info expects one model: netrun info MODEL.so");
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  s.out << formatSummary((*model)->info(), o.positional[0]);
  return 0;
}

int runPlot(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "plot expects a run directory: netrun plot DIR");
  const std::string &dir = o.positional[0];
  if (Status plotted = renderTrainingPlots(dir + "/history.csv", dir); !plotted)
    return fail(s, plotted.error());
  s.out << "wrote " << dir << "/loss.png and " << dir << "/accuracy.png\n";
  return 0;
}

/// The flags of a training run: explicit flags first, then (with --resume)
/// those saved in last.ckpt, then the model's set-up.
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
  if (o.resume) {
    std::string last = o.out + "/last.ckpt";
    Result<Checkpoint> checkpoint = readCheckpoint(last);
    if (!checkpoint)
      return R::failure(checkpoint.error + " (--resume continues from the --out folder's "
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
    take("lr-step-size", merged.stepSize, given.stepSize);
    take("lr-gamma", merged.gamma, given.gamma);
    take("lr-decay", merged.decay, given.decay);
    take("lr-min", merged.minLr, given.minLr);
    take("lr-patience", merged.patience, given.patience);
    take("lr-factor", merged.factor, given.factor);
    c.schedule = merged;
    EarlyStoppingConfig early = saved.earlyStopping;
    const EarlyStoppingConfig &now = o.earlyStopping;
    auto takeEarly = override("early stopping");
    takeEarly("early-stopping", early.enabled, now.enabled);
    takeEarly("no-early-stopping", early.enabled, now.enabled);
    if (!early.enabled)
      for (const char *flag : earlyStoppingFlags())
        if (o.given.count(flag))
          return R::failure("option '--" + std::string(flag) +
                            "' applies only with --early-stopping (" + last +
                            " has none; add --early-stopping)");
    takeEarly("monitor", early.monitor, now.monitor);
    takeEarly("patience", early.patience, now.patience);
    takeEarly("min-delta", early.minDelta, now.minDelta);
    takeEarly("restore-best-weights", early.restoreBestWeights, now.restoreBestWeights);
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
      return R::failure("option '--fill-value' applies only to --fill-mode constant (" + last +
                        " has " + augment.fillMode + ")");
    c.augment = augment;
    inherit("validation-data", c.validationData, saved.validationData, "validation data");
    if (!o.given.count("epochs"))
      c.epochs = saved.epochs;
    if (!o.given.count("data"))
      c.data = saved.data;
  }
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
  line("netrun", NETRUN_VERSION);
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
  line("lr-schedule", c.schedule.kind);
  const LrScheduleConfig &k = c.schedule;
  if (k.kind == "step") {
    line("lr-step-size", std::to_string(k.stepSize));
    line("lr-gamma", exactNumber(k.gamma));
  } else if (k.kind == "exponential") {
    line("lr-decay", exactNumber(k.decay));
  } else if (k.kind == "cosine") {
    line("lr-min", exactNumber(k.minLr));
  } else if (k.kind == "reduce-on-plateau") {
    line("lr-min", exactNumber(k.minLr));
    line("lr-patience", std::to_string(k.patience));
    line("lr-factor", exactNumber(k.factor));
  }
  const EarlyStoppingConfig &e = c.earlyStopping;
  line("early-stopping", e.enabled ? "true" : "false");
  if (e.enabled) {
    line("monitor", e.monitor);
    line("patience", std::to_string(e.patience));
    line("min-delta", exactNumber(e.minDelta));
    line("restore-best-weights", e.restoreBestWeights ? "true" : "false");
  }
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

std::string joined(const std::vector<std::string> &names) {
  std::string list;
  for (const std::string &n : names)
    list += (list.empty() ? "" : ", ") + n;
  return list;
}

/// Reads an image folder for the model, warnings on stderr, saying what it
/// read and how long it took.
Result<ImageFolder> readFolder(const std::string &dir, const netc_model_info &info,
                               const Options &o, DriverStreams &s) {
  using R = Result<ImageFolder>;
  Result<ImageGeometry> geometry = inputGeometry(info);
  if (!geometry)
    return R::failure(o.positional[0] + ": input " + shapeText(info.input_shape,
                                                               info.input_rank) +
                      " " + geometry.error);
  ImageFolderOptions options;
  options.strict = o.strictImages;
  options.threads = o.threads;
  options.maxClasses = info.classes;
  options.onWarning = [&](const std::string &w) { s.err << "netrun: warning: " << w << "\n"; };
  auto start = std::chrono::steady_clock::now();
  Result<ImageFolder> folder = loadImageFolder(dir, *geometry, options);
  if (!folder)
    return folder;
  folder->samples.normalization = Normalization::of(info);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.out << "Found " << withThousands(folder->samples.count) << " images of "
        << folder->classNames.size() << " classes in " << dir << " (" << fixed(seconds, 2)
        << "s";
  if (folder->skipped)
    s.out << ", " << withThousands(folder->skipped) << " skipped";
  s.out << ")\n";
  return folder;
}

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
  Result<ImageFolder> folder = readFolder(c.data, info, o, s);
  if (!folder)
    return R::failure(folder.error);
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

int runTrain(const Options &o, DriverStreams &s) {
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
  if (Status st = prepareOutputDirectory(o.out); !st)
    return fail(s, st.error());
  Samples &trainSet = data->train;
  Samples &validation = data->validation;
  const std::string &validationName = data->validationName;
  if (config->validationSplit > 0 && (validation.count == 0 || trainSet.count == 0))
    return fail(s, "--validation-split " + fixed(config->validationSplit, 4) + " of " +
                       withThousands(trainSet.count + validation.count) +
                       " images leaves no training or no validation images");
  Result<std::shared_ptr<Instance>> instance =
      Instance::create(*model, deviceChoice(o), config->batch, config->threads);
  if (!instance)
    return fail(s, instance.error);
  config->device = deviceName((*instance)->device());
  noteFallback(s, **instance, "training");
  if (Status st = writeTextFile(o.out + "/config.txt",
                                runConfigText(o, *config, info, data->directory));
      !st)
    return fail(s, st.error());

  s.out << "Training " << info.network << " on " << data->directory << ": "
        << withThousands(trainSet.count) << " images, validating on "
        << withThousands(validation.count) << " (" << validationName << "); batch "
        << config->batch << ", " << config->epochs << (config->epochs == 1 ? " epoch, " : " epochs, ")
        << (info.train.optimizer == NETC_OPTIMIZER_ADAM ? "adam" : "sgd") << " lr "
        << config->learningRate << ", seed " << config->seed << ", device "
        << config->device << (config->augment.enabled() ? ", augmented" : "") << "\n";

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
  options.classNames = data->classNames;
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
  callbacks.onNote = [&](const std::string &note) { s.out << note << "\n"; };
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

int runEval(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "eval expects one model: netrun eval MODEL.so --weights FILE --data mnist");
  if (o.data.empty())
    return fail(s, "eval needs --data NAME|DIR (e.g. --data mnist)");
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  const netc_model_info &info = (*model)->info();
  int32_t batch = o.batch ? o.batch : std::max(info.train.batch, 1);
  std::vector<std::string> names;
  Result<std::shared_ptr<Instance>> instance = instanceWithWeights(*model, o, batch, names);
  if (!instance)
    return fail(s, instance.error);
  noteFallback(s, **instance, "evaluating");
  // An image folder is evaluated whole; an IDX dataset on its test split.
  Samples samples;
  std::string what;
  if (isImageFolder(o.data)) {
    Result<ImageFolder> folder = readFolder(o.data, info, o, s);
    if (!folder)
      return fail(s, folder.error);
    if (!names.empty() && folder->classNames != names)
      return fail(s, o.data + ": classes (" + joined(folder->classNames) + ") differ from those " +
                         o.weights + " was trained on (" + joined(names) + ")");
    names = folder->classNames;
    samples = std::move(folder->samples);
    what = o.data + " (image folder)";
  } else {
    Result<TrainTestData> data = loadIdxForModel(o.data, info, /*limit=*/0);
    if (!data)
      return fail(s, data.error);
    samples = std::move(data->test);
    what = data->directory + " test split";
  }
  Result<Evaluation> e = evaluate(**instance, samples, /*withConfusion=*/true);
  if (!e)
    return fail(s, e.error);

  size_t classes = e->confusion.size();
  // Class names, when the checkpoint or the folder has them, head the table.
  size_t nameWidth = 5;
  for (const std::string &n : names)
    nameWidth = std::max(nameWidth, n.size());
  auto className = [&](size_t c) {
    return c < names.size() ? names[c] : std::to_string(c);
  };
  s.out << info.network << " (" << o.weights << ") on " << what << ", "
        << withThousands(e->count) << " images: loss " << fixed(e->loss, 4) << ", accuracy "
        << fixed(e->accuracy, 4) << "\n\n"
        << std::string(nameWidth - 5, ' ') << "class  accuracy  images\n";
  for (size_t c = 0; c < classes; ++c) {
    int64_t total = 0;
    for (int64_t v : e->confusion[c])
      total += v;
    s.out << std::right << std::setw(int(nameWidth)) << className(c) << "  "
          << (total ? fixed(double(e->confusion[c][c]) / double(total), 4) : "   -  ") << "  "
          << std::setw(6) << total << "\n";
  }
  if (!names.empty()) {
    s.out << "\nclasses:";
    for (size_t c = 0; c < names.size(); ++c)
      s.out << " " << c << " " << names[c] << (c + 1 < names.size() ? "," : "\n");
  }
  s.out << "\nconfusion matrix (rows: true class, columns: predicted)\n      ";
  for (size_t c = 0; c < classes; ++c)
    s.out << std::setw(6) << c;
  s.out << "\n";
  for (size_t r = 0; r < classes; ++r) {
    s.out << std::setw(6) << r;
    for (int64_t v : e->confusion[r])
      s.out << std::setw(6) << v;
    s.out << "\n";
  }
  return 0;
}

int runPredict(const Options &o, DriverStreams &s) {
  if (o.positional.size() < 2)
    return fail(s, "predict expects a model and images: netrun predict MODEL.so --weights FILE "
                   "IMAGE...");
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  const netc_model_info &info = (*model)->info();
  int32_t channels = 1, height = 0, width = 0;
  if (info.input_rank == 3) {
    channels = int32_t(info.input_shape[0]);
    height = int32_t(info.input_shape[1]);
    width = int32_t(info.input_shape[2]);
  } else {
    int32_t side = int32_t(std::lround(std::sqrt(double(info.input_shape[0]))));
    if (int64_t(side) * side != info.input_shape[0])
      return fail(s, o.positional[0] + ": input " + (*model)->inputShapeText() +
                         " is not an image; predict needs (C, H, W) or a square (H*W)");
    height = width = side;
  }
  std::vector<std::string> paths(o.positional.begin() + 1, o.positional.end());
  // Decode everything first: a bad file is reported before any output.
  std::vector<std::vector<float>> inputs;
  for (const std::string &path : paths) {
    Result<Image> image = decodeImage(path);
    if (!image)
      return fail(s, image.error);
    inputs.push_back(
        imageToInput(*image, channels, height, width, o.invert, Normalization::of(info)));
  }
  int32_t batch = o.batch ? o.batch : int32_t(std::min<size_t>(paths.size(), 64));
  std::vector<std::string> names;
  Result<std::shared_ptr<Instance>> instance = instanceWithWeights(*model, o, batch, names);
  if (!instance)
    return fail(s, instance.error);
  noteFallback(s, **instance, "predicting");
  size_t classes = size_t(info.classes), sample = inputs[0].size();
  std::vector<float> input(size_t(batch) * sample), probabilities(size_t(batch) * classes);
  for (size_t first = 0; first < paths.size(); first += size_t(batch)) {
    size_t n = std::min(paths.size() - first, size_t(batch));
    for (size_t i = 0; i < n; ++i)
      std::copy(inputs[first + i].begin(), inputs[first + i].end(), input.begin() + i * sample);
    if (Status st = (*instance)->forward(input.data(), int32_t(n), probabilities.data()); !st)
      return fail(s, st.error());
    for (size_t i = 0; i < n; ++i) {
      const float *p = probabilities.data() + i * classes;
      size_t best = size_t(std::max_element(p, p + classes) - p);
      // With the checkpoint's class names: `x.png: class 1 cat (98.50%)`.
      auto label = [&](size_t c) {
        return c < names.size() ? std::to_string(c) + " " + names[c] : std::to_string(c);
      };
      s.out << paths[first + i] << ": class " << label(best) << " ("
            << fixed(p[best] * 100.0, 2) << "%)\n ";
      std::vector<size_t> shown(classes);
      for (size_t c = 0; c < classes; ++c)
        shown[c] = c;
      if (classes > 10) { // the five most likely
        std::partial_sort(shown.begin(), shown.begin() + 5, shown.end(),
                          [&](size_t a, size_t b) { return p[a] > p[b]; });
        shown.resize(5);
      }
      for (size_t c : shown)
        s.out << " " << label(c) << ": " << fixed(p[c], 4);
      s.out << "\n";
    }
  }
  return 0;
}

int runExportImages(const Options &o, DriverStreams &s) {
  if (!o.positional.empty())
    return fail(s, "export-images takes no model: netrun export-images --data mnist --out DIR "
                   "--per-class N");
  if (o.data.empty())
    return fail(s, "export-images needs --data NAME|DIR (an IDX dataset, e.g. --data mnist)");
  if (!o.given.count("out"))
    return fail(s, "export-images needs --out DIR (the image folder to write)");
  Result<std::string> directory = findDataset(o.data);
  if (!directory)
    return fail(s, directory.error);
  Result<IdxDataset> dataset = readIdxDataset(*directory);
  if (!dataset)
    return fail(s, dataset.error);
  ExportOptions options;
  options.outDir = o.out;
  options.perClass = o.perClass > 0 ? o.perClass : int64_t(1) << 40;
  options.classes = o.classes;
  options.testSplit = o.split == "test";
  const LabelledImages &images = options.testSplit ? dataset->test : dataset->train;
  std::string source = *directory + (options.testSplit ? "/t10k" : "/train") + "-images-idx3-ubyte";
  Result<int64_t> written = exportImages(images, source, options);
  if (!written)
    return fail(s, written.error);
  s.out << "wrote " << withThousands(*written) << " PNG images of the " << o.split
        << " split of " << *directory << " into " << o.out << "/<class>/\n";
  return 0;
}

/// netrun export MODEL.so --weights FILE --onnx OUT.onnx
int runExport(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "export expects one model: netrun export MODEL.so --weights FILE "
                   "--onnx OUT.onnx");
  if (o.onnx.empty())
    return fail(s, "--onnx FILE is required (the ONNX file to write)");
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  std::vector<std::string> classNames; // not carried into the ONNX file
  Result<std::shared_ptr<Instance>> instance =
      instanceWithWeights(*model, o, /*batch=*/1, classNames);
  if (!instance)
    return fail(s, instance.error);
  if (Status st = exportOnnx(**instance, o.onnx); !st)
    return fail(s, st.error());
  s.out << "Exported " << (*model)->info().network << " (" << o.weights << ") to " << o.onnx
        << " (ONNX opset " << kOnnxOpset << ")\n";
  return 0;
}

//===----------------------------------------------------------------------===//
// The verb table and the dispatch
//===----------------------------------------------------------------------===//

struct Verb {
  const char *name;
  const char *usage;
  const char *help;
  int (*handler)(const Options &, DriverStreams &);
};

const std::vector<Verb> &verbTable() {
  static const std::vector<Verb> table = {
      {"info", "MODEL.so", "the layer table, parameters and FLOPs of a model", runInfo},
      {"train", "MODEL.so --data NAME|DIR [--epochs N --batch N --lr R --seed N --out DIR ...]",
       "train with the model's set-up; checkpoints and history into --out", runTrain},
      {"eval", "MODEL.so --weights FILE --data NAME|DIR",
       "loss, accuracy, per-class accuracy and confusion matrix on the test split or a folder",
       runEval},
      {"predict", "MODEL.so --weights FILE IMAGE...",
       "class and probabilities of PNG, JPEG or PGM images", runPredict},
      {"plot", "DIR", "draw DIR/loss.png and DIR/accuracy.png from DIR/history.csv", runPlot},
      {"export-images",
       "--data NAME|DIR --out DIR [--per-class N --classes A,B,... --split train|test]",
       "write an IDX dataset as a folder of PNGs, one sub-folder per class", runExportImages},
      {"export", "MODEL.so --weights FILE --onnx OUT.onnx",
       "the model and its weights as an ONNX file (opset 13)", runExport},
  };
  return table;
}

void printVerbs(std::ostream &out) {
  out << "usage: netrun VERB [options]\n\nverbs:\n";
  for (const Verb &v : verbTable())
    out << "  " << std::left << std::setw(15) << v.name << v.help << "\n";
  out << "\n'netrun VERB --help' lists a verb's options.\n";
}

void printVerbHelp(const Verb &verb, std::ostream &out) {
  out << "usage: netrun " << verb.name << " " << verb.usage << "\n\n" << verb.help
      << "\n\noptions:\n";
  for (const OptionSpec &spec : optionTable()) {
    if (!appliesTo(spec, verb.name))
      continue;
    std::string flag = std::string("--") + spec.name + (spec.value ? std::string(" ") + spec.value : "");
    // A flag wider than the column gets its own line, so help never runs into it.
    constexpr std::size_t kFlagColumn = 26;
    if (flag.size() >= kFlagColumn)
      out << "  " << flag << "\n  " << std::string(kFlagColumn, ' ') << spec.help << "\n";
    else
      out << "  " << std::left << std::setw(int(kFlagColumn)) << flag << spec.help << "\n";
  }
}

int dispatch(const std::vector<std::string> &args, DriverStreams &s) {
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    printVerbs(s.out);
    return 0;
  }
  const std::vector<Verb> &verbs = verbTable();
  auto verb = std::find_if(verbs.begin(), verbs.end(),
                           [&](const Verb &v) { return args[0] == v.name; });
  if (verb == verbs.end()) {
    std::vector<std::string> names;
    for (const Verb &v : verbs)
      names.push_back(v.name);
    std::string near = closestMatch(args[0], names);
    std::string list;
    for (const std::string &n : names)
      list += (list.empty() ? "" : ", ") + n;
    return fail(s, "unknown verb '" + args[0] + "'" +
                       (near.empty() ? "" : "; did you mean '" + near + "'?") +
                       " (verbs: " + list + ")");
  }
  Options options;
  options.commandLine = args;
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (std::string e = parseOptions(verb->name, rest, options); !e.empty())
    return fail(s, e);
  if (options.help) {
    printVerbHelp(*verb, s.out);
    return 0;
  }
  return verb->handler(options, s);
}

} // namespace

std::string net::runtime::closestMatch(const std::string &word,
                                       const std::vector<std::string> &candidates) {
  std::string best;
  size_t bestDistance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string &c : candidates) {
    // Levenshtein distance, one row at a time.
    std::vector<size_t> row(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j)
      row[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                           diagonal + (word[i - 1] == c[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    // One is the start of the other ("pred", "evaluate"), unless much shorter
    // ("lr" in "lr-scheduel").
    bool prefix = !word.empty() && 2 * std::min(word.size(), c.size()) >=
                                       std::max(word.size(), c.size()) &&
                  (c.compare(0, word.size(), word) == 0 || word.compare(0, c.size(), c) == 0);
    size_t distance = prefix ? 1 : row[c.size()];
    if (distance < bestDistance) {
      bestDistance = distance;
      best = c;
    }
  }
  return best;
}

int net::runtime::runNetrun(const std::vector<std::string> &args, DriverStreams streams) {
  try {
    return dispatch(args, streams);
  } catch (const std::bad_alloc &) {
    return fail(streams, "out of memory");
  } catch (const std::exception &e) {
    return fail(streams, std::string("internal error: ") + e.what());
  }
}
