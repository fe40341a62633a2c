//===- Image.h - Image files as model input ---------------------*- C++ -*-===//
//
// Decodes PNG, JPEG, PGM/PPM and BMP files (stb_image), converts them to the
// model's channel count (grey = ITU-R 601 luma of RGB; grey copied into each
// of three channels), resizes them to the model's height and width (area
// averaging when shrinking, bilinear when enlarging), and scales to [0, 1]
// and normalises as the training data is, in CHW order. Image folders keep
// the converted pixels as uint8 (imageToPixels); `netrun export-images`
// writes PNGs (writePng).
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_IMAGE_H
#define NET_RUNTIME_IMAGE_H

#include "net/Runtime/Data.h"
#include "net/Runtime/IDX.h"
#include "net/Runtime/ModelABI.h"
#include "net/Runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// 8-bit pixels, interleaved (HWC).
struct Image {
  int32_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

/// Decodes `path`; 16-bit files come back as 8 bits per channel, 1 to 4
/// channels (grey, grey + alpha, RGB, RGBA) as the file has them.
Result<Image> decodeImage(const std::string &path);

/// The image the model takes: (C, H, W), or a square (H*W) as one plane.
struct ImageGeometry {
  int32_t channels = 1, height = 0, width = 0;
};

/// The model's input as an image, or why it is not one.
Result<ImageGeometry> inputGeometry(const netc_model_info &info);

/// `geometry.channels` x height x width uint8 values (CHW): converted and
/// resized as imageToInput does, then rounded.
std::vector<uint8_t> imageToPixels(const Image &image, const ImageGeometry &geometry);

/// `channels` x `height` x `width` floats v in [0, 1], normalised as the
/// model asks ((v - mean[c]) / std[c]); `invert` takes 1 - v first (dark
/// digits on white paper, for a model trained on MNIST's white on black).
std::vector<float> imageToInput(const Image &image, int32_t channels, int32_t height,
                                int32_t width, bool invert,
                                const Normalization &normalization = Normalization());

/// The interleaved image of CHW planes (what Samples and imageToPixels hold).
Image imageFromPlanes(const uint8_t *planes, int32_t channels, int32_t height, int32_t width);

/// `image` shrunk (area averaging) to fit `maxSide` at its aspect ratio; as
/// it is when it fits. Grey stays grey, colour becomes RGB (alpha dropped).
Image thumbnail(const Image &image, int maxSide);

/// `pixels` (HWC, `channels` of 1 to 4) as the bytes of a PNG file.
Result<std::string> encodePng(int32_t width, int32_t height, int32_t channels,
                              const uint8_t *pixels);

/// Writes `pixels` (HWC, `channels` of 1 to 4) as a PNG, atomically (a
/// temporary file in the same folder, then rename).
Status writePng(const std::string &path, int32_t width, int32_t height, int32_t channels,
                const uint8_t *pixels);

} // namespace netc::runtime

#endif // NET_RUNTIME_IMAGE_H
