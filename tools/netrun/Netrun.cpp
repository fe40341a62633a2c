//===- Netrun.cpp - the verb table, the dispatch, runNetrun -----------------===//

#include "Distributed.h"
#include "Verbs.h"

#include "net/Runtime/Plot.h"

#include "net/Runtime/Checkpoint.h"
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

using namespace netc::runtime;
using namespace netc::runtime::cli;

namespace {

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
      {"predict", "MODEL.so --weights FILE IMAGE|FOLDER... [--csv FILE]",
       "class and probabilities of PNG, JPEG or PGM images, or of every image in folders",
       runPredict},
      {"plot", "DIR", "draw DIR/loss.png and DIR/accuracy.png from DIR/history.csv", runPlot},
      {"show", "--data NAME|DIR --out FILE.png [--count N --seed N] [augmentation flags]",
       "a grid of training images with their labels, or each beside augmented versions",
       runShow},
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
  // Under mpirun every rank would run the verb whole; only train splits work.
  if (const int32_t ranks = cli::launchedRanks(); std::string(verb->name) != "train" && ranks > 1)
    return fail(s, std::string("netrun ") + verb->name + " under mpirun with " +
                       std::to_string(ranks) + " ranks: only train is data-parallel "
                       "(docs/distributed.md); run " + verb->name + " in one process");
  return verb->handler(options, s);
}


} // namespace

std::string netc::runtime::closestMatch(const std::string &word,
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

netc::runtime::NetrunOutcome
netc::runtime::runNetrunCaptured(const std::vector<std::string> &args) {
  std::ostringstream out, err;
  NetrunOutcome outcome;
  outcome.status = runNetrun(args, DriverStreams{out, err, /*interactive=*/false});
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

int netc::runtime::runNetrun(const std::vector<std::string> &args, DriverStreams streams) {
  try {
    return dispatch(args, streams);
  } catch (const std::bad_alloc &) {
    return fail(streams, "out of memory");
  } catch (const std::exception &e) {
    return fail(streams, std::string("internal error: ") + e.what());
  }
}
