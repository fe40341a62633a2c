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
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace netc::runtime;

namespace netc::runtime::cli {

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
  noteFallback(s, o, **instance, "predicting");
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

} // namespace netc::runtime::cli
