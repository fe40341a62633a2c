//===- Verbs.h - what netrun's verbs share -----------------------*- C++ -*-===//
//
// Private to tools/netrun: the verbs (one file each), the helpers several of
// them use (Common.cpp) and the options (Options.h). Netrun.cpp dispatches.
//
//===----------------------------------------------------------------------===//

#ifndef NETRUN_VERBS_H
#define NETRUN_VERBS_H

#include "Netrun.h"
#include "Options.h"

#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/ImageFolder.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Status.h"

#include <memory>
#include <string>
#include <vector>

namespace netc::runtime::cli {

int runInfo(const Options &o, DriverStreams &s);
int runShow(const Options &o, DriverStreams &s);
int runPlot(const Options &o, DriverStreams &s);
int runTrain(const Options &o, DriverStreams &s);
int runEval(const Options &o, DriverStreams &s);
int runPredict(const Options &o, DriverStreams &s);
int runExportImages(const Options &o, DriverStreams &s);
int runExport(const Options &o, DriverStreams &s);

/// "netrun: error: MESSAGE" on stderr; returns 1.
int fail(DriverStreams &s, const std::string &message);
/// Says so when --device auto wanted the model's GPU path and got the CPU.
void noteFallback(DriverStreams &s, const Options &o, const Instance &instance,
                  const char *what);
/// eval and predict: a --batch larger than the images given runs them as one
/// batch, with a note (train says the same of its training set).
void noteBatchAboveImages(DriverStreams &s, int32_t batch, int64_t images);
DeviceChoice deviceChoice(const Options &o);
const char *deviceName(int32_t device);
/// `count` of the indices [0, total) chosen at random from `seed` and
/// `stream` (all of them when count >= total), in increasing order.
std::vector<int64_t> chooseIndices(int64_t total, int64_t count, uint64_t seed,
                                   uint64_t stream);
/// A CSV field, quoted as RFC 4180 says where it holds a comma, a quote or
/// a line break.
std::string csvField(const std::string &text);
/// `value` with `digits` decimals.
std::string fixed(double value, int digits);
/// Reads --weights and checks it against the model: the verbs that also
/// read data do this first, so that a missing or wrong checkpoint is refused
/// before seconds go into reading images.
Result<Checkpoint> readWeights(const Model &model, const Options &o);
/// A new instance for `batch` samples holding the checkpoint's weights.
Result<std::shared_ptr<Instance>> instanceWithWeights(const std::shared_ptr<Model> &model,
                                                      const Options &o, int32_t batch,
                                                      const Checkpoint &weights);
/// "a, b, c".
std::string joined(const std::vector<std::string> &names);
/// Refuses an --out that is an image folder or lies inside one (links and
/// ".." resolved): a run's plots and checkpoints, or show's picture, would
/// become images, and a run's folder a class, when the folder is read again.
Status outOutsideImageFolder(const std::string &out, const std::string &folder);
/// Refuses an output file that is one of the inputs (by any name, links
/// included), which writing it would destroy: `export --onnx` over the
/// checkpoint it reads.
Status outputIsNoInput(const std::string &output, const std::string &flag,
                       const std::vector<std::string> &inputs);
/// Reads an image folder for the model, warnings on stderr, saying what it
/// read and how long it took.
Result<ImageFolder> readFolder(const std::string &dir, const netc_model_info &info,
                               const Options &o, DriverStreams &s);
/// Fewer classes than outputs is allowed (a subset of the classes) but is
/// more often a model written for another dataset: a note names the outputs
/// no image of the training folder will teach.
void noteUntaughtOutputs(DriverStreams &s, const Options &o, const netc_model_info &info,
                         const std::string &dir, const std::vector<std::string> &classNames);

} // namespace netc::runtime::cli

#endif // NETRUN_VERBS_H
