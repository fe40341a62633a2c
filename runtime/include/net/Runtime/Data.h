//===- Data.h - Training data in the model's input layout -------*- C++ -*-===//
//
// Images stay uint8 in memory (60,000 MNIST images are 47 MB, not 188 MB as
// floats) and are converted to float one batch at a time, in the order a
// shuffled index list asks for. The conversion is InputNormalization's, in
// one place: /255 today; a per-model mean and standard deviation per channel
// plug in there.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_DATA_H
#define NET_RUNTIME_DATA_H

#include "net/Runtime/IDX.h"
#include "net/Runtime/ModelABI.h"

#include <cstdint>
#include <string>
#include <vector>

namespace net::runtime {

/// How a pixel value v in [0, 255] of channel c becomes model input:
/// (v * scale - mean[c]) / stddev[c]; an empty mean or stddev means 0 or 1.
/// The defaults give v / 255, what every model is trained on today.
struct InputNormalization {
  float scale = 1.0f / 255.0f;
  std::vector<float> mean, stddev; // one per channel, or empty

  float operator()(float value, int64_t channel) const {
    float x = value * scale;
    if (!mean.empty())
      x -= mean[size_t(channel)];
    if (!stddev.empty())
      x /= stddev[size_t(channel)];
    return x;
  }
  /// One sample of `channels` planes of `planeSize` pixels.
  void apply(const uint8_t *src, float *dst, int64_t channels, int64_t planeSize) const;
};

/// Labelled samples, each `sampleSize` uint8 values in the model's layout:
/// `channels` planes of `height` x `width` (an input (784) is one 28 x 28
/// plane).
struct Samples {
  int64_t count = 0;
  int64_t sampleSize = 0;
  int32_t channels = 1, height = 0, width = 0;
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;

  /// Writes samples indices[first, first + n) as normalised floats into
  /// `input` and their labels into `labelsOut` (when not null).
  void gather(const std::vector<int64_t> &indices, int64_t first, int64_t n, float *input,
              int32_t *labelsOut, const InputNormalization &norm = {}) const;
  /// Samples [first, first + n) in order.
  void gatherRange(int64_t first, int64_t n, float *input, int32_t *labelsOut,
                   const InputNormalization &norm = {}) const;
  /// The `index`th sample's pixels.
  const uint8_t *sample(int64_t index) const { return pixels.data() + index * sampleSize; }
};

struct TrainTestData {
  std::string directory; // where the files were found
  Samples train;
  Samples test;
};

/// Finds `nameOrPath` (findDataset) and reads it (readIdxDataset), checking
/// it against the model: image size and channels against input_shape, each
/// label against `classes` (naming the file). `limit` > 0 keeps the first
/// `limit` training images.
Result<TrainTestData> loadIdxForModel(const std::string &nameOrPath,
                                      const netc_model_info &info, int64_t limit);

/// Moves the last `fraction` of `train` into a validation set, as Keras'
/// validation_split does (before any shuffling).
Samples splitValidation(Samples &train, double fraction);

} // namespace net::runtime

#endif // NET_RUNTIME_DATA_H
