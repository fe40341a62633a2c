//===- Eval.cpp - netrun eval -----------------------------------------------===//

#include "Verbs.h"

#include "net/Runtime/ConfusionPlot.h"
#include "net/Runtime/ImageGrid.h"

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

namespace {

/// DIR/predictions.csv: one row per image (its index in the test split, or
/// its file in an image folder), its true and predicted class and the
/// predicted class's probability.
std::string predictionsCsv(const Samples &samples, const std::vector<std::string> &files,
                           const Evaluation &e, const std::vector<std::string> &names) {
  auto name = [&](int32_t c) { return size_t(c) < names.size() ? csvField(names[size_t(c)]) : ""; };
  std::string csv = "image,true_class,true_name,predicted_class,predicted_name,probability\n";
  for (size_t i = 0; i < e.predicted.size(); ++i) {
    int32_t label = samples.labels[i];
    csv += (i < files.size() ? csvField(files[i]) : std::to_string(i)) + "," +
           std::to_string(label) + "," + name(label) + "," + std::to_string(e.predicted[i]) +
           "," + name(e.predicted[i]) + "," + fixed(e.probability[i], 6) + "\n";
  }
  return csv;
}

/// DIR/predictions.png: --grid images chosen with --seed, in their order,
/// each with its predicted class and probability, marked right or wrong,
/// the true class under a wrong one. An image folder's files are shown as
/// they are (their aspect ratio), the IDX images as the model saw them.
Status writePredictionGrid(const Options &o, const Samples &samples,
                           const std::vector<std::string> &files, const Evaluation &e,
                           const std::vector<std::string> &names) {
  std::vector<int64_t> chosen =
      chooseIndices(e.count, o.grid, o.seed, /*stream=*/0x67726964 /* "grid" */);
  int64_t count = int64_t(chosen.size());
  auto label = [&](int32_t c) {
    return size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c);
  };
  std::vector<GridTile> tiles;
  int64_t wrong = 0;
  for (int64_t i : chosen) {
    GridTile tile;
    if (size_t(i) < files.size()) {
      Result<Image> image = decodeImage(files[size_t(i)]);
      if (!image)
        return Status::failure(image.error);
      tile.image = thumbnail(*image, 2 * ImageGridLayout::kTile); // a photo needs no more
    } else {
      tile.image = imageFromPlanes(samples.sample(i), samples.channels, samples.height,
                                   samples.width);
    }
    int32_t predicted = e.predicted[size_t(i)], truth = samples.labels[size_t(i)];
    tile.caption = label(predicted) + "  " + fixed(e.probability[size_t(i)] * 100, 1) + "%";
    tile.mark = predicted == truth ? TileMark::Right : TileMark::Wrong;
    if (predicted != truth) {
      tile.detail = "true " + label(truth);
      ++wrong;
    }
    tiles.push_back(std::move(tile));
  }
  std::string title = withThousands(count) + " of " + withThousands(e.count) +
                      " images (seed " + std::to_string(o.seed) + "): " +
                      withThousands(count - wrong) + " right, " + withThousands(wrong) + " wrong";
  return renderImageGrid(tiles, title, o.out + "/predictions.png");
}

/// --out DIR: predictions.csv, predictions.png and confusion.png.
Status writeEvaluationFiles(const Options &o, const netc_model_info &info, const Samples &samples,
                            const std::vector<std::string> &files, const Evaluation &e,
                            const std::vector<std::string> &names) {
  if (Status st = prepareOutputDirectory(o.out); !st)
    return st;
  if (Status st = writeTextFile(o.out + "/predictions.csv",
                                predictionsCsv(samples, files, e, names));
      !st)
    return st;
  if (Status st = writePredictionGrid(o, samples, files, e, names); !st)
    return st;
  std::string title = std::string(info.network) + ": " + withThousands(e.count) +
                      " images, accuracy " + fixed(e.accuracy, 4);
  return renderConfusionMatrix(e.confusion, names, title, o.out + "/confusion.png");
}

} // namespace

int runEval(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "eval expects one model: netrun eval MODEL.so --weights FILE --data mnist");
  if (o.data.empty())
    return fail(s, "eval needs --data NAME|DIR (e.g. --data mnist)");
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  const netc_model_info &info = (*model)->info();
  Result<Checkpoint> weights = readWeights(**model, o);
  if (!weights)
    return fail(s, weights.error);
  // An image folder is evaluated whole; an IDX dataset on its test split.
  Samples samples;
  std::vector<std::string> files; // an image folder's, in the samples' order
  std::vector<std::string> folderClasses;
  std::string what;
  const bool folder = isImageFolder(o.data);
  if (folder) {
    if (o.given.count("out"))
      if (Status st = outOutsideImageFolder(o.out, o.data); !st)
        return fail(s, st.error());
    Result<ImageFolder> read = readFolder(o.data, info, o, s);
    if (!read)
      return fail(s, read.error);
    folderClasses = std::move(read->classNames);
    samples = std::move(read->samples);
    files = std::move(read->files);
    what = o.data + " (image folder)";
  } else {
    Result<TrainTestData> data = loadIdxForModel(o.data, info, /*limit=*/0);
    if (!data)
      return fail(s, data.error);
    samples = std::move(data->test);
    what = data->directory + " test split";
  }
  // --batch only sets how many images run at once: the instance is made for
  // no more than the data has (as train's is for its set).
  const int32_t batch = int32_t(std::min<int64_t>(o.batch ? o.batch : std::max(info.train.batch, 1),
                                                  std::max<int64_t>(samples.count, 1)));
  std::vector<std::string> names = weights->classNames; // empty for IDX datasets
  Result<std::shared_ptr<Instance>> instance = instanceWithWeights(*model, o, batch, *weights);
  if (!instance)
    return fail(s, instance.error);
  if (o.batch > batch)
    noteBatchAboveImages(s, o.batch, samples.count);
  noteFallback(s, o, **instance, "evaluating");
  if (folder) {
    if (!names.empty() && folderClasses != names)
      return fail(s, o.data + ": classes (" + joined(folderClasses) + ") differ from those " +
                         o.weights + " was trained on (" + joined(names) + ")");
    names = std::move(folderClasses);
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
  if (o.given.count("out")) {
    if (Status st = writeEvaluationFiles(o, info, samples, files, *e, names); !st)
      return fail(s, st.error());
    s.out << "\nwrote " << o.out << "/predictions.csv, " << o.out << "/predictions.png, "
          << o.out << "/confusion.png\n";
  }
  return 0;
}

} // namespace netc::runtime::cli
