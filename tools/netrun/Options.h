//===- Options.h - netrun's options ---------------------------*- C++ -*-===//
//
// Private to tools/netrun: the parsed command line of one verb, the option
// table every verb's help and parser read, and the checks of options that
// only mean something together.
//
//===----------------------------------------------------------------------===//

#ifndef NETRUN_OPTIONS_H
#define NETRUN_OPTIONS_H

#include "net/Runtime/Augment.h"
#include "net/Runtime/ModelABI.h"
#include "net/Runtime/Trainer.h"

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace netc::runtime::cli {

struct Options {
  std::vector<std::string> positional;
  std::set<std::string> given; // option names that appeared
  std::string data;
  int32_t epochs = 0;          // 0: the model's
  int32_t batch = 0;           // 0: the model's
  double learningRate = 0;     // 0: the model's
  uint64_t seed = 42;
  int32_t threads = 0;         // 0: all cores
  double mpiTimeout = 300;     // train under mpirun: seconds a rank waits for the others
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
  std::string csv;             // predict: the predictions as CSV
  int64_t grid = 100;          // eval --out: the images predictions.png shows
  int64_t count = 0;           // show: the images shown (0: its default)
  bool histograms = false;     // train: TensorBoard histograms of the parameters
  int32_t logImages = 0;       // train: training images logged to TensorBoard
  bool help = false;
  bool verbose = false;        // the CUDA runtime's words when the GPU is not used
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
  std::string help;
  Setter set;
};

/// Every option of every verb.
const std::vector<OptionSpec> &optionTable();
/// Whether `spec` is an option of `verb`.
bool appliesTo(const OptionSpec &spec, const std::string &verb);
/// The flags that only mean something with --early-stopping.
const std::vector<const char *> &earlyStoppingFlags();
/// Parses the arguments after the verb; returns an error line or "".
std::string parseOptions(const std::string &verb, const std::vector<std::string> &args,
                         Options &o);
/// Options that only mean something together, against the run's effective
/// flags `c`: an error line or "".
std::string checkCombinations(const Options &o, const RunConfig &c);
/// The flags given now over the model's schedule and early stopping.
void overModelSetup(const Options &o, const netc_train_setup &t, RunConfig &c);

} // namespace netc::runtime::cli

#endif // NETRUN_OPTIONS_H
