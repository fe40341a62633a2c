//===- Common.cpp - what several verbs use ----------------------------------===//

#include "Verbs.h"

#include "net/Runtime/Plot.h"

#include "net/Runtime/ModelCheckpoint.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/ImageFolder.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Summary.h"
#include "net/Runtime/Trainer.h"
#include "net/Runtime/Random.h"

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
#include <filesystem>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace netc::runtime;

namespace netc::runtime::cli {

int fail(DriverStreams &s, const std::string &message) {
  s.err << "netrun: error: " << message << "\n";
  return 1;
}

/// Says so when --device auto wanted the model's GPU path and got the CPU:
/// in one short line where there is no GPU (the CUDA runtime's words with
/// --verbose), and with the reason where the GPU path failed on one.
void noteFallback(DriverStreams &s, const Options &o, const Instance &instance,
                  const char *what) {
  if (instance.fallbackReason().empty())
    return;
  if (instance.fellBackForWantOfGpu() && !o.verbose)
    s.err << "netrun: note: no usable NVIDIA GPU found; " << what << " on the CPU\n";
  else
    s.err << "netrun: note: the model's GPU path is not usable here ("
          << instance.fallbackReason() << "); " << what << " on the CPU\n";
}

void noteBatchAboveImages(DriverStreams &s, int32_t batch, int64_t images) {
  s.err << "netrun: note: batch " << batch << " is more than the " << withThousands(images)
        << (images == 1 ? " image" : " images") << ": they run as one batch\n";
}

DeviceChoice deviceChoice(const Options &o) {
  if (o.device == "cpu")
    return DeviceChoice::Cpu;
  if (o.device == "cuda")
    return DeviceChoice::Cuda;
  return DeviceChoice::Auto;
}

const char *deviceName(int32_t device) { return device == NETC_DEVICE_CUDA ? "cuda" : "cpu"; }

std::vector<int64_t> chooseIndices(int64_t total, int64_t count, uint64_t seed,
                                   uint64_t stream) {
  std::vector<int64_t> all(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i)
    all[size_t(i)] = i;
  Random random(deriveSeed(seed, stream, 0));
  count = std::min(count, total);
  for (int64_t i = 0; i < count; ++i) // the first `count` steps of a Fisher-Yates shuffle
    std::swap(all[size_t(i)], all[size_t(i) + random.below(uint64_t(total - i))]);
  all.resize(size_t(count));
  std::sort(all.begin(), all.end());
  return all;
}

std::string csvField(const std::string &text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos)
    return text;
  std::string quoted = "\"";
  for (char c : text)
    quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

Result<Checkpoint> readWeights(const Model &model, const Options &o) {
  using R = Result<Checkpoint>;
  if (o.weights.empty())
    return R::failure("--weights FILE is required (a checkpoint written by 'netrun train', "
                      "e.g. run/best.ckpt)");
  Result<Checkpoint> checkpoint = readCheckpoint(o.weights);
  if (!checkpoint)
    return checkpoint;
  if (Status s = checkCompatible(*checkpoint, model.info(), o.weights, /*withState=*/false); !s)
    return R::failure(s.error());
  return checkpoint;
}

Result<std::shared_ptr<Instance>> instanceWithWeights(const std::shared_ptr<Model> &model,
                                                      const Options &o, int32_t batch,
                                                      const Checkpoint &weights) {
  using R = Result<std::shared_ptr<Instance>>;
  Result<std::shared_ptr<Instance>> instance =
      Instance::create(model, deviceChoice(o), batch, o.threads);
  if (!instance)
    return instance;
  if (Status s = restoreCheckpoint(weights, **instance, o.weights, /*withState=*/false); !s)
    return R::failure(s.error());
  return instance;
}

/// A one-line progress display within an epoch: a bar redrawn in place on a

std::string joined(const std::vector<std::string> &names) {
  std::string list;
  for (const std::string &n : names)
    list += (list.empty() ? "" : ", ") + n;
  return list;
}

Status outOutsideImageFolder(const std::string &out, const std::string &folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto resolved = [&](const std::string &path) {
    fs::path p = fs::absolute(path, ec);
    if (!ec)
      p = fs::weakly_canonical(p, ec).lexically_normal();
    return p.has_filename() || !p.has_parent_path() ? p : p.parent_path(); // "dir/" -> "dir"
  };
  const fs::path f = resolved(folder);
  const fs::path o = ec ? fs::path() : resolved(out);
  // A path that cannot be resolved is left to the write that follows to
  // report; an empty one must not read as inside everything.
  if (ec || f.empty())
    return Status::success();
  auto rest = std::mismatch(f.begin(), f.end(), o.begin(), o.end());
  if (rest.first != f.end())
    return Status::success();
  return Status::failure("--out " + out + " is " +
                         (rest.second == o.end() ? "the image folder " + folder
                                                 : "inside the image folder " + folder) +
                         ": what is written there would be read as its images or classes "
                         "next time; give a place outside it");
}

Status outputIsNoInput(const std::string &output, const std::string &flag,
                       const std::vector<std::string> &inputs) {
  for (const std::string &input : inputs) {
    std::error_code ec;
    if (!input.empty() && std::filesystem::equivalent(output, input, ec) && !ec)
      return Status::failure(flag + " " + output + " is the input '" + input +
                             "': writing would overwrite it; give another file");
  }
  return Status::success();
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

void noteUntaughtOutputs(DriverStreams &s, const Options &o, const netc_model_info &info,
                         const std::string &dir, const std::vector<std::string> &classNames) {
  const size_t classes = classNames.size(), outputs = size_t(info.classes);
  if (classes < outputs)
    s.err << "netrun: note: " << o.positional[0] << " has " << outputs << " outputs and " << dir
          << " " << classes << " classes (" << joined(classNames) << "): "
          << (outputs - classes == 1 ? "output " + std::to_string(classes) + " gets"
                                     : "outputs " + std::to_string(classes) + "-" +
                                           std::to_string(outputs - 1) + " get")
          << " no images\n";
}

} // namespace netc::runtime::cli
