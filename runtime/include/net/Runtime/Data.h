//===- Data.h - Training data in the model's input layout -------*- C++ -*-===//
//
// Images stay uint8 in memory (60,000 MNIST images are 47 MB, not 188 MB as
// floats) and are converted to float, /255 and normalised as the model asks,
// one batch at a time, in the order a shuffled index list asks for.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_DATA_H
#define NET_RUNTIME_DATA_H

#include "net/Runtime/IDX.h"
#include "net/Runtime/ModelABI.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// The model's input normalisation (netc_model_info::input_mean, input_std):
/// pixel p of channel c becomes (p / 255 - mean[c]) / std[c]. The default,
/// mean 0 and std 1, is p / 255 exactly.
struct Normalization {
  std::vector<float> mean = {0.0f}, std = {1.0f}; // one per channel

  /// The model's, input_shape[0] channels for rank 3, one for rank 1.
  static Normalization of(const netc_model_info &info);
  /// A value v in [0, 1] (p / 255) of channel c, normalised.
  float apply(float v, size_t c) const { return (v - mean[c]) / std[c]; }
  /// The float of each of the 256 pixel values, channel after channel.
  std::vector<float> table() const;
  /// One sample of `channels` planes of `planeSize` pixels; a single mean
  /// and std apply to every plane.
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
  /// A frozen base's features of each sample (computeFeatures), which
  /// gather and gatherRange then give instead of the pixels; 0 when none.
  int64_t featureSize = 0;
  std::vector<float> features;

  /// Floats gather writes per sample.
  int64_t floatsPerSample() const { return featureSize ? featureSize : sampleSize; }
  /// Applied by gather and gatherRange; the planes of a sample are its
  /// channels (sampleSize / channels values each).
  Normalization normalization;

  /// Writes samples indices[first, first + n) as normalised floats into
  /// `input` and their labels into `labelsOut` (when not null).
  void gather(const std::vector<int64_t> &indices, int64_t first, int64_t n,
              float *input, int32_t *labelsOut) const;
  /// Samples [first, first + n) in order.
  void gatherRange(int64_t first, int64_t n, float *input, int32_t *labelsOut) const;
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

} // namespace netc::runtime

#endif // NET_RUNTIME_DATA_H
