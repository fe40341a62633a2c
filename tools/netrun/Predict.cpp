//===- Predict.cpp - netrun predict -----------------------------------------===//

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
#include <filesystem>
#include <functional>
#include <iomanip>
#include <optional>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace netc::runtime;

namespace netc::runtime::cli {

namespace {

/// One image to predict: its file and, for a file named on the command line,
/// its image, decoded up front (a folder's files are decoded batch by batch,
/// and one that does not decode is skipped, as image folders skip them).
struct PredictInput {
  std::string path;
  std::optional<Image> decoded;
};

/// The images PATHS name: a file as given, a folder as every file under it
/// in sorted order (dot-files left out). A file given by name must decode:
/// they are checked before any output.
Result<std::vector<PredictInput>> predictInputs(const std::vector<std::string> &paths) {
  using R = Result<std::vector<PredictInput>>;
  std::vector<PredictInput> inputs;
  for (const std::string &path : paths) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      std::vector<std::string> files = filesUnder(path);
      if (files.empty())
        return R::failure(path + ": folder has no files");
      for (std::string &f : files)
        inputs.push_back({std::move(f), std::nullopt});
      continue;
    }
    Result<Image> image = decodeImage(path);
    if (!image)
      return R::failure(image.error);
    inputs.push_back({path, std::move(*image)});
  }
  return R::success(std::move(inputs));
}

/// `x.png: class 7 (98.50%)  0: 0.0001 ... 9: 0.0002` on one line: every
/// class's probability, or the five most likely above ten classes.
void printPrediction(std::ostream &out, const std::string &path, const float *p, size_t classes,
                     const std::vector<std::string> &names) {
  auto label = [&](size_t c) {
    return c < names.size() ? std::to_string(c) + " " + names[c] : std::to_string(c);
  };
  size_t best = size_t(std::max_element(p, p + classes) - p);
  out << path << ": class " << label(best) << " (" << fixed(p[best] * 100.0, 2) << "%) ";
  std::vector<size_t> shown(classes);
  for (size_t c = 0; c < classes; ++c)
    shown[c] = c;
  if (classes > 10) {
    std::partial_sort(shown.begin(), shown.begin() + 5, shown.end(),
                      [&](size_t a, size_t b) { return p[a] > p[b]; });
    shown.resize(5);
  }
  for (size_t c : shown)
    out << " " << label(c) << ": " << fixed(p[c], 4);
  out << "\n";
}

/// --csv's header: file, the predicted class, its name and probability, then
/// every class's probability.
std::string csvHeader(size_t classes, const std::vector<std::string> &names) {
  std::string header = "file,class,name,probability";
  for (size_t c = 0; c < classes; ++c)
    header += ",p_" + csvField(c < names.size() ? names[c] : std::to_string(c));
  return header + "\n";
}

std::string csvRow(const std::string &path, const float *p, size_t classes,
                   const std::vector<std::string> &names) {
  size_t best = size_t(std::max_element(p, p + classes) - p);
  std::ostringstream row;
  row << csvField(path) << "," << best << ","
      << csvField(best < names.size() ? names[best] : "") << "," << fixed(p[best], 6);
  for (size_t c = 0; c < classes; ++c)
    row << "," << fixed(p[c], 6);
  row << "\n";
  return row.str();
}

} // namespace

int runPredict(const Options &o, DriverStreams &s) {
  if (o.positional.size() < 2)
    return fail(s, "predict expects a model and images or folders: netrun predict MODEL.so "
                   "--weights FILE IMAGE|FOLDER...");
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
  Result<Checkpoint> weights = readWeights(**model, o);
  if (!weights)
    return fail(s, weights.error);
  Result<std::vector<PredictInput>> images =
      predictInputs({o.positional.begin() + 1, o.positional.end()});
  if (!images)
    return fail(s, images.error);
  // At most one batch of the images there are, however large --batch is.
  const int32_t batch = int32_t(
      std::min<size_t>(o.batch ? size_t(o.batch) : 64, std::max<size_t>(images->size(), 1)));
  std::vector<std::string> names = weights->classNames; // empty for IDX datasets
  Result<std::shared_ptr<Instance>> instance = instanceWithWeights(*model, o, batch, *weights);
  if (!instance)
    return fail(s, instance.error);
  if (o.batch > batch)
    noteBatchAboveImages(s, o.batch, int64_t(images->size()));
  noteFallback(s, o, **instance, "predicting");
  const size_t classes = size_t(info.classes), sample = size_t(channels) * height * width;
  std::vector<float> input(size_t(batch) * sample), probabilities(size_t(batch) * classes);
  std::string csv = csvHeader(classes, names);
  size_t predicted = 0, skipped = 0, next = 0;
  // Batch by batch, so that a folder of any size needs one batch of memory.
  while (next < images->size()) {
    std::vector<std::string> batchPaths;
    while (next < images->size() && batchPaths.size() < size_t(batch)) {
      PredictInput &in = (*images)[next++];
      Result<Image> image = in.decoded ? Result<Image>::success(std::move(*in.decoded))
                                       : decodeImage(in.path);
      in.decoded.reset();
      if (!image) {
        if (o.strictImages)
          return fail(s, image.error);
        s.err << "netrun: warning: " << image.error << "; skipped\n";
        ++skipped;
        continue;
      }
      std::vector<float> pixels =
          imageToInput(*image, channels, height, width, o.invert, Normalization::of(info));
      std::copy(pixels.begin(), pixels.end(), input.begin() + batchPaths.size() * sample);
      batchPaths.push_back(in.path);
    }
    if (batchPaths.empty())
      continue;
    int32_t n = int32_t(batchPaths.size());
    if (Status st = (*instance)->forward(input.data(), n, probabilities.data()); !st)
      return fail(s, st.error());
    for (int32_t i = 0; i < n; ++i) {
      const float *p = probabilities.data() + size_t(i) * classes;
      printPrediction(s.out, batchPaths[size_t(i)], p, classes, names);
      csv += csvRow(batchPaths[size_t(i)], p, classes, names);
    }
    predicted += size_t(n);
  }
  if (predicted == 0)
    return fail(s, "no image decoded among the " + withThousands(int64_t(images->size())) +
                       " files given");
  if (skipped)
    s.err << "netrun: " << withThousands(int64_t(skipped)) << (skipped == 1 ? " file" : " files")
          << " skipped (not images)\n";
  if (!o.csv.empty())
    if (Status st = writeTextFile(o.csv, csv); !st)
      return fail(s, st.error());
  return 0;
}

} // namespace netc::runtime::cli
