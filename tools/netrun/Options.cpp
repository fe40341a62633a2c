//===- Options.cpp - netrun's options, parsed in one place ------------------===//
//
// The option table (names, metavariables, the verbs each applies to, help
// and checked setters), the parser, the checks of options that only mean
// something together, and the model's set-up under the flags given.
//
//===----------------------------------------------------------------------===//

#include "Verbs.h"

#include "net/Runtime/Plot.h"

#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/ImageFolder.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Summary.h"
#include "net/Runtime/Trainer.h"
#include "net/Runtime/TrainSettings.h"

#include <algorithm>
#include <atomic>
#include <cassert>
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

/// "a, b or c".
std::string orList(const std::vector<std::string> &names) {
  std::string list;
  for (size_t i = 0; i < names.size(); ++i)
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return list;
}

/// A value out of `names`, or the error with the nearest name.
Setter choiceIn(std::vector<std::string> names, std::function<void(Options &, const std::string &)> store,
                std::string what) {
  return [=](Options &o, const std::string &v) -> std::string {
    if (std::find(names.begin(), names.end(), v) != names.end()) {
      store(o, v);
      return "";
    }
    std::string near = closestMatch(v, names);
    return "expects " + what + ", got '" + v + "'" +
           (near.empty() ? "" : "; did you mean '" + near + "'?");
  };
}

/// The option of a setting of TrainSettings.def, storing into the member
/// `member(o)` returns; its C++ type chooses the parser.
template <typename Member>
OptionSpec settingOption(const settings::Setting &s, Member member) {
  using T = std::remove_reference_t<decltype(member(std::declval<Options &>()))>;
  std::string help = s.help;
  if (s.group != settings::Group::Run && s.type != settings::Type::Bool)
    help += " (default " + settings::defaultText(s) + ")";
  Setter set;
  if constexpr (std::is_same_v<T, std::string>) {
    assert(s.type == settings::Type::Choice);
    set = choiceIn(settings::choices(s),
                   [member](Options &o, const std::string &v) { member(o) = v; }, s.expects);
  } else if constexpr (std::is_same_v<T, bool>) {
    assert(s.type == settings::Type::Bool);
    set = [member](Options &o, const std::string &) {
      member(o) = true;
      return std::string();
    };
  } else if constexpr (std::is_integral_v<T>) {
    assert(s.type == settings::Type::Int);
    set = intIn(int64_t(s.low), int64_t(s.high), [member](Options &o, int64_t n) { member(o) = T(n); },
                s.expects);
  } else {
    assert(s.type == settings::Type::Real);
    set = realIn(s.low, s.high, s.lowOpen, [member](Options &o, double x) { member(o) = x; },
                 s.expects);
  }
  return {s.flag, s.metavar, s.verbs, help, set};
}

/// The options of the settings of `group`, in table order.
std::vector<OptionSpec> settingOptions(settings::Group group) {
  std::vector<OptionSpec> options;
  auto add = [&](settings::SettingId id, auto member) {
    if (settings::setting(id).group == group)
      options.push_back(settingOption(settings::setting(id), member));
  };
#define NETC_RUN_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  add(settings::Id, [](Options &o) -> auto & { return o.Member; });
#define NETC_SCHEDULE_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  add(settings::Id, [](Options &o) -> auto & { return o.schedule.Member; });
#define NETC_EARLY_STOPPING_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  add(settings::Id, [](Options &o) -> auto & { return o.earlyStopping.Member; });
#include "net/Runtime/TrainSettings.def"
  return options;
}

/// `more` after `table`.
void append(std::vector<OptionSpec> &table, std::vector<OptionSpec> more) {
  table.insert(table.end(), std::make_move_iterator(more.begin()),
               std::make_move_iterator(more.end()));
}

/// The options of TrainSettings.def in their groups, among the others. One
/// long function because it is a table, one row per option in help order.
std::vector<OptionSpec> buildOptionTable() {
  std::vector<OptionSpec> table = {
      {"data", "NAME|DIR", "train eval show export-images",
       "dataset by name (mnist, fashion-mnist, or one in the dataset folders: docs/netrun.md), "
       "IDX folder or image folder (required)",
       [](Options &o, const std::string &v) { o.data = v; return std::string(); }},
  };
  append(table, settingOptions(settings::Group::Run));
  append(table, {
      {"seed", "N", "train eval show",
       "train: seed of initialisation, shuffling and dropout; eval, show: of the images "
       "the pictures show (default 42)",
       [](Options &o, const std::string &v) -> std::string {
         if (v.empty() || v[0] == '-' || !parseNumber(v, o.seed))
           return "expects a non-negative integer seed, got '" + v + "'";
         return "";
       }},
      {"threads", "N", "train eval predict", "CPU threads (default 0: all cores)",
       intIn(0, 4096, [](Options &o, int64_t n) { o.threads = int32_t(n); },
             "a number of threads (0: all cores)")},
      {"mpi-timeout", "S", "train",
       "under mpirun: end the run when the other ranks do not answer within S seconds "
       "(default 300)",
       realIn(0, 1e6, /*lowOpen=*/true, [](Options &o, double x) { o.mpiTimeout = x; },
              "a positive number of seconds")},
      {"device", "auto|cpu|cuda", "train eval predict", "where to run (default auto)",
       [](Options &o, const std::string &v) -> std::string {
         if (v != "auto" && v != "cpu" && v != "cuda")
           return "expects auto, cpu or cuda, got '" + v + "'";
         o.device = v;
         return "";
       }},
      {"out", "DIR", "train eval show export-images",
       "train: folder for checkpoints and history.csv (default run); eval: write "
       "predictions.csv, predictions.png and confusion.png there; show: the PNG to write; "
       "export-images: the image folder",
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
      {"limit", "N", "train", "use only the first N training images (default: all)",
       intIn(1, int64_t(1) << 40, [](Options &o, int64_t n) { o.limit = n; },
             "a positive number of images")},
      {"resume", nullptr, "train", "continue from DIR/last.ckpt, bit for bit",
       [](Options &o, const std::string &) { o.resume = true; return std::string(); }},
      {"lr-schedule", "NAME", "train",
       orList(lrScheduleNames()) + " (default " + lrScheduleNames().front() + ")",
       choiceIn(lrScheduleNames(), [](Options &o, const std::string &v) { o.schedule.kind = v; },
                orList(lrScheduleNames()))},
  });
  append(table, settingOptions(settings::Group::Schedule));
  append(table, {
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
  });
  append(table, settingOptions(settings::Group::EarlyStopping));
  append(table, {
      {"validation-data", "DIR", "train",
       "validate on the image folder DIR (the same classes as --data)",
       [](Options &o, const std::string &v) -> std::string {
         if (v.empty())
           return "expects an image folder";
         o.validationData = v;
         return "";
       }},
      {"strict-images", nullptr, "train eval predict",
       "refuse an image folder with a file that is not an image (default: skip it, warning)",
       [](Options &o, const std::string &) { o.strictImages = true; return std::string(); }},
      {"rotation-range", "DEG", "train show", "augmentation: rotate by up to DEG degrees",
       realIn(0, 360, /*lowOpen=*/false,
              [](Options &o, double x) { o.augment.rotationRange = x; },
              "degrees in [0, 360]")},
      {"width-shift-range", "F", "train show",
       "augmentation: shift by up to F of the width (F >= 1: pixels)",
       realIn(0, 1e6, /*lowOpen=*/false,
              [](Options &o, double x) { o.augment.widthShiftRange = x; },
              "a non-negative fraction (or pixels from 1)")},
      {"height-shift-range", "F", "train show",
       "augmentation: shift by up to F of the height (F >= 1: pixels)",
       realIn(0, 1e6, /*lowOpen=*/false,
              [](Options &o, double x) { o.augment.heightShiftRange = x; },
              "a non-negative fraction (or pixels from 1)")},
      {"zoom-range", "F|[LO,HI]", "train show",
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
      {"shear-range", "DEG", "train show", "augmentation: shear by up to DEG degrees",
       realIn(0, 89, /*lowOpen=*/false, [](Options &o, double x) { o.augment.shearRange = x; },
              "degrees in [0, 89]")},
      {"horizontal-flip", nullptr, "train show", "augmentation: flip half of the images left to right",
       [](Options &o, const std::string &) {
         o.augment.horizontalFlip = true;
         return std::string();
       }},
      {"fill-mode", "nearest|constant|reflect|wrap", "train show",
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
      {"fill-value", "V", "train show", "augmentation: --fill-mode constant's pixel value (default 0)",
       realIn(0, 255, /*lowOpen=*/false, [](Options &o, double x) { o.augment.fillValue = x; },
              "a pixel value in [0, 255]")},
      {"interpolation", "bilinear|nearest", "train show",
       "augmentation: how the transformed image is sampled (default bilinear)",
       [](Options &o, const std::string &v) -> std::string {
         if (v != "bilinear" && v != "nearest")
           return "expects bilinear or nearest, got '" + v + "'";
         o.augment.interpolation = v;
         return "";
       }},
      {"histograms", nullptr, "train",
       "TensorBoard: a histogram of every trainable parameter after each epoch",
       [](Options &o, const std::string &) { o.histograms = true; return std::string(); }},
      {"log-images", "N", "train", "TensorBoard: the first N training images, at the start",
       intIn(1, 1000, [](Options &o, int64_t n) { o.logImages = int32_t(n); },
             "a number of images in [1, 1000]")},
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
       "checkpoint to load (e.g. run/best.ckpt; required but for train); train: start from "
       "its parameters, matched by name, the others initialised from the seed",
       [](Options &o, const std::string &v) { o.weights = v; return std::string(); }},
      {"no-feature-cache", nullptr, "train",
       "run a frozen base every step instead of computing its features once",
       [](Options &o, const std::string &) {
         o.noFeatureCache = true;
         return std::string();
       }},
      {"onnx", "FILE", "export", "the ONNX file to write (required, e.g. model.onnx)",
       [](Options &o, const std::string &v) { o.onnx = v; return std::string(); }},
      {"count", "N", "show",
       "the images shown (default 100; with augmentation flags 8, each beside 5 augmented "
       "versions)",
       intIn(1, 400, [](Options &o, int64_t n) { o.count = n; }, "a number of images in [1, 400]")},
      {"grid", "N", "eval",
       "with --out: the images predictions.png shows, chosen with --seed (default 100)",
       intIn(1, 400, [](Options &o, int64_t n) { o.grid = n; }, "a number of images in [1, 400]")},
      {"csv", "FILE", "predict",
       "also write the predictions to FILE: file, class, name, probability, then each "
       "class's probability",
       [](Options &o, const std::string &v) -> std::string {
         if (v.empty())
           return "expects a file name";
         o.csv = v;
         return "";
       }},
      {"invert", nullptr, "predict", "invert grey levels (dark digits on white paper)",
       [](Options &o, const std::string &) { o.invert = true; return std::string(); }},
      {"verbose", nullptr, "train eval predict",
       "say why the GPU is not used in the CUDA runtime's words (default: one short line)",
       [](Options &o, const std::string &) { o.verbose = true; return std::string(); }},
      {"help", nullptr, "info train eval predict plot show export-images export", "this help",
       [](Options &o, const std::string &) { o.help = true; return std::string(); }},
  });
  return table;
}

const std::vector<OptionSpec> &optionTable() {
  static const std::vector<OptionSpec> table = buildOptionTable();
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
  static const std::vector<const char *> flags = [] {
    std::vector<const char *> out;
    for (const settings::Setting &s : settings::kSettings)
      if (s.group == settings::Group::EarlyStopping)
        out.push_back(s.flag);
    return out;
  }();
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
  // Each schedule setting's flag with the schedules that take it.
  static const std::vector<std::pair<const char *, std::vector<std::string>>> uses = [] {
    std::vector<std::pair<const char *, std::vector<std::string>>> out;
    for (const settings::Setting &s : settings::kSettings) {
      if (s.group != settings::Group::Schedule)
        continue;
      out.push_back({s.flag, {}});
      for (const settings::Schedule &schedule : settings::kSchedules)
        if (schedule.uses(s.id))
          out.back().second.push_back(schedule.flag);
    }
    return out;
  }();
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
#define NETC_SCHEDULE_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  c.Member = t.Field;
#include "net/Runtime/TrainSettings.def"
  return c;
}

/// The model's early stopping (netc_train_setup) as run flags.
EarlyStoppingConfig modelEarlyStopping(const netc_train_setup &t) {
  EarlyStoppingConfig c;
  c.enabled = t.early_stopping != 0;
#define NETC_EARLY_STOPPING_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  c.Member = t.Field;
#include "net/Runtime/TrainSettings.def"
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
#define NETC_SCHEDULE_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  take(Flag, c.schedule.Member, o.schedule.Member);
#include "net/Runtime/TrainSettings.def"
  c.earlyStopping = modelEarlyStopping(t);
  take("early-stopping", c.earlyStopping.enabled, o.earlyStopping.enabled);
  take("no-early-stopping", c.earlyStopping.enabled, o.earlyStopping.enabled);
#define NETC_EARLY_STOPPING_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, Member, ...) \
  take(Flag, c.earlyStopping.Member, o.earlyStopping.Member);
#include "net/Runtime/TrainSettings.def"
}

/// The error for '-x' or '-name': options take two dashes (a path that
/// starts with '-' goes after '--'). Suggests the option of that name, or the
/// one option of the verb that starts with that letter (netc's '-o' is
/// netrun's '--out' or '--onnx').
static std::string singleDashError(const std::string &arg, const std::string &verb,
                                   const std::vector<OptionSpec> &table) {
  const std::string name = arg.substr(1);
  std::vector<std::string> names, initial;
  for (const OptionSpec &s : table)
    if (appliesTo(s, verb)) {
      names.push_back(s.name);
      if (name.size() == 1 && s.name[0] == name[0])
        initial.push_back(s.name);
    }
  std::string near = name.size() == 1 ? (initial.size() == 1 ? initial[0] : "")
                                      : closestMatch(name, names);
  return "unknown option '" + arg + "' for '" + verb + "': options start with '--'" +
         (near.empty() ? "" : "; did you mean '--" + near + "'?");
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
    if (arg == "--") { // the rest are paths, even those that start with '-'
      options.positional.insert(options.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-')
      return singleDashError(arg, verb, table);
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
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

} // namespace netc::runtime::cli
