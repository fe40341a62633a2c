//===- Data.cpp - IDX datasets in the model's input layout ----------------===//

#include "net/Runtime/Data.h"

#include <algorithm>
#include <sys/stat.h>

using namespace netc::runtime;

Normalization Normalization::of(const netc_model_info &info) {
  size_t channels = info.input_rank == 3 ? size_t(info.input_shape[0]) : 1;
  Normalization n;
  n.mean.assign(info.input_mean, info.input_mean + channels);
  n.std.assign(info.input_std, info.input_std + channels);
  return n;
}

std::vector<float> Normalization::table() const {
  std::vector<float> values(mean.size() * 256);
  for (size_t c = 0; c < mean.size(); ++c)
    for (int p = 0; p < 256; ++p)
      values[c * 256 + size_t(p)] = apply(float(p) / 255.0f, c);
  return values;
}

void Normalization::apply(const uint8_t *src, float *dst, int64_t channels,
                          int64_t planeSize) const {
  // The model's channels decide the planes when it has a mean per channel.
  if (mean.size() > 1 && int64_t(mean.size()) != channels) {
    planeSize = channels * planeSize / int64_t(mean.size());
    channels = int64_t(mean.size());
  }
  for (int64_t c = 0; c < channels; ++c) {
    const size_t m = mean.size() == 1 ? 0 : size_t(c);
    for (int64_t k = c * planeSize; k < (c + 1) * planeSize; ++k)
      dst[k] = apply(float(src[k]) / 255.0f, m);
  }
}

void Samples::gather(const std::vector<int64_t> &indices, int64_t first, int64_t n,
                     float *input, int32_t *labelsOut) const {
  if (featureSize) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t sample = indices[size_t(first + i)];
      std::copy_n(features.data() + sample * featureSize, featureSize, input + i * featureSize);
      if (labelsOut)
        labelsOut[i] = labels[size_t(sample)];
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t index = indices[size_t(first + i)];
    normalization.apply(sample(index), input + i * sampleSize, channels, sampleSize / channels);
    if (labelsOut)
      labelsOut[i] = labels[size_t(index)];
  }
}

void Samples::gatherRange(int64_t first, int64_t n, float *input, int32_t *labelsOut) const {
  if (featureSize) {
    std::copy_n(features.data() + first * featureSize, n * featureSize, input);
    if (labelsOut)
      std::copy(labels.begin() + first, labels.begin() + first + n, labelsOut);
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    normalization.apply(sample(first + i), input + i * sampleSize, channels,
                        sampleSize / channels);
  if (labelsOut)
    std::copy(labels.begin() + first, labels.begin() + first + n, labelsOut);
}

namespace {

/// The file readIdxDataset read for `stem`, plain or .gz, for messages.
std::string fileFor(const std::string &directory, const std::string &stem) {
  struct stat st;
  std::string plain = directory + "/" + stem;
  if (::stat(plain.c_str(), &st) == 0)
    return plain;
  return plain + ".gz";
}

/// Checks one split's images and labels against the model and converts it.
Result<Samples> toSamples(LabelledImages &images, const netc_model_info &info,
                          const std::string &directory, const std::string &prefix,
                          int64_t limit) {
  using R = Result<Samples>;
  std::string imagesFile = fileFor(directory, prefix + "-images-idx3-ubyte");
  std::string labelsFile = fileFor(directory, prefix + "-labels-idx1-ubyte");
  std::string dataShape = "(1, " + std::to_string(images.height) + ", " +
                          std::to_string(images.width) + ")";
  int64_t pixels = int64_t(images.height) * images.width;
  if (info.input_rank == 3) {
    if (info.input_shape[0] != 1 || info.input_shape[1] != images.height ||
        info.input_shape[2] != images.width)
      return R::failure(imagesFile + ": images of shape " + dataShape +
                        " (channels, height, width) do not match the model's input (" +
                        std::to_string(info.input_shape[0]) + ", " +
                        std::to_string(info.input_shape[1]) + ", " +
                        std::to_string(info.input_shape[2]) + ")");
  } else if (info.input_shape[0] != pixels) {
    return R::failure(imagesFile + ": images of shape " + dataShape + " (" +
                      std::to_string(pixels) + " values) do not match the model's input (" +
                      std::to_string(info.input_shape[0]) + ")");
  }
  for (uint32_t i = 0; i < images.count; ++i)
    if (images.labels[i] >= uint32_t(info.classes))
      return R::failure(labelsFile + ": label " + std::to_string(images.labels[i]) +
                        " of image " + std::to_string(i) + " is not below the model's " +
                        std::to_string(info.classes) + " classes");
  Samples out;
  out.normalization = Normalization::of(info);
  out.count = limit > 0 ? std::min<int64_t>(limit, images.count) : images.count;
  out.sampleSize = pixels;
  out.height = int32_t(images.height);
  out.width = int32_t(images.width);
  images.pixels.resize(size_t(out.count * pixels));
  out.pixels = std::move(images.pixels);
  out.labels.assign(images.labels.begin(), images.labels.begin() + out.count);
  return R::success(std::move(out));
}

} // namespace

Result<TrainTestData> netc::runtime::loadIdxForModel(const std::string &nameOrPath,
                                                    const netc_model_info &info,
                                                    int64_t limit) {
  using R = Result<TrainTestData>;
  Result<std::string> directory = findDataset(nameOrPath);
  if (!directory)
    return R::failure(directory.error);
  Result<IdxDataset> dataset = readIdxDataset(*directory);
  if (!dataset)
    return R::failure(dataset.error);
  TrainTestData out;
  out.directory = *directory;
  Result<Samples> train = toSamples(dataset->train, info, *directory, "train", limit);
  if (!train)
    return R::failure(train.error);
  Result<Samples> test = toSamples(dataset->test, info, *directory, "t10k", 0);
  if (!test)
    return R::failure(test.error);
  out.train = std::move(*train);
  out.test = std::move(*test);
  return R::success(std::move(out));
}

Samples netc::runtime::splitValidation(Samples &train, double fraction) {
  Samples held;
  held.sampleSize = train.sampleSize;
  held.normalization = train.normalization;
  held.channels = train.channels;
  held.height = train.height;
  held.width = train.width;
  held.count = int64_t(double(train.count) * fraction);
  int64_t keep = train.count - held.count;
  held.pixels.assign(train.pixels.begin() + keep * train.sampleSize, train.pixels.end());
  held.labels.assign(train.labels.begin() + keep, train.labels.end());
  train.pixels.resize(size_t(keep * train.sampleSize));
  train.labels.resize(size_t(keep));
  train.count = keep;
  return held;
}
