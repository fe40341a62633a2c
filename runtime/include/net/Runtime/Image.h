//===- Image.h - Image files as model input ---------------------*- C++ -*-===//
//
// Decodes PNG, JPEG, PGM/PPM and BMP files (stb_image), converts them to the
// model's channel count (grey = ITU-R 601 luma of RGB; grey copied into each
// of three channels), resizes them to the model's height and width (area
// averaging when shrinking, bilinear when enlarging), and scales to [0, 1]
// and normalises as the training data is, in CHW order.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_IMAGE_H
#define NET_RUNTIME_IMAGE_H

#include "net/Runtime/Data.h"
#include "net/Runtime/IDX.h"

#include <cstdint>
#include <string>
#include <vector>

namespace net::runtime {

/// 8-bit pixels, interleaved (HWC).
struct Image {
  int32_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

Result<Image> decodeImage(const std::string &path);

/// `channels` x `height` x `width` floats v in [0, 1], normalised as the
/// model asks ((v - mean[c]) / std[c]); `invert` takes 1 - v first (dark
/// digits on white paper, for a model trained on MNIST's white on black).
std::vector<float> imageToInput(const Image &image, int32_t channels, int32_t height,
                                int32_t width, bool invert,
                                const Normalization &normalization = Normalization());

} // namespace net::runtime

#endif // NET_RUNTIME_IMAGE_H
