//===- Image.cpp - Image files as model input (stb_image) -----------------===//

#include "net/Runtime/Image.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_FAILURE_USERMSG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "stb_image.h"
#pragma GCC diagnostic pop

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>
#include <cmath>
#include <sys/stat.h>

using namespace netc::runtime;

namespace {
/// Largest image decoded: 64 megapixels (a 8192 x 8192 photo), far above
/// what a classifier input is resized from.
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;
/// Pixels a file's bytes can plausibly hold (solid colour through deflate
/// compresses about 1000:1).
constexpr int64_t kMaxPixelsPerByte = 2048;
/// Largest image file read.
constexpr int64_t kMaxImageFileBytes = int64_t(256) << 20;

/// A binary PGM/PPM header's width, height and maximum, each a decimal
/// number: the decoder multiplies them up in an int without a check, so a
/// number of more than 8 digits is refused here.
std::string checkPnmHeader(const std::string &path, const std::vector<unsigned char> &bytes) {
  size_t pos = 2;
  for (int field = 0; field < 3; ++field) {
    while (pos < bytes.size() && (std::isspace(bytes[pos]) || bytes[pos] == '#')) {
      if (bytes[pos] == '#')
        while (pos < bytes.size() && bytes[pos] != '\n')
          ++pos;
      else
        ++pos;
    }
    size_t digits = 0;
    while (pos < bytes.size() && std::isdigit(bytes[pos]))
      ++pos, ++digits;
    if (digits > 8)
      return path + ": corrupt PGM/PPM header: a number of " + std::to_string(digits) +
             " digits (at most 8)";
    if (digits == 0)
      return ""; // malformed: the decoder says so
  }
  return "";
}

/// PNG chunks declare their lengths, and the decoder grows its buffer to
/// what a chunk declares before reading it: a 60-byte file can ask for a
/// gigabyte. Every chunk must fit in the file.
std::string checkPngChunks(const std::string &path, int64_t fileSize) {
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes(static_cast<size_t>(fileSize));
  in.read(reinterpret_cast<char *>(bytes.data()), fileSize);
  if (fileSize >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6'))
    return checkPnmHeader(path, bytes);
  static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (fileSize < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0)
    return ""; // not a PNG: the other decoders read what they are given
  int64_t pos = 8;
  bool sawImageData = false;
  // Every chunk whose length field is in the file, the last partial one too.
  while (pos + 4 <= fileSize) {
    int64_t length = int64_t(bytes[pos]) << 24 | int64_t(bytes[pos + 1]) << 16 |
                     int64_t(bytes[pos + 2]) << 8 | int64_t(bytes[pos + 3]);
    int64_t left = std::max<int64_t>(fileSize - pos - 12, 0);
    if (length > left)
      return path + ": corrupt PNG: a chunk at byte " + std::to_string(pos) + " claims " +
             std::to_string(length) + " bytes, the file has " + std::to_string(left) +
             " left";
    if (pos + 8 > fileSize)
      break;
    if (std::memcmp(&bytes[pos + 4], "IEND", 4) == 0)
      break;
    // stb_image copies an empty IDAT into its not yet allocated buffer
    // (memcpy to null, undefined behaviour); no encoder writes one first.
    if (std::memcmp(&bytes[pos + 4], "IDAT", 4) == 0) {
      if (length == 0 && !sawImageData)
        return path + ": unsupported PNG: an empty IDAT chunk at byte " + std::to_string(pos) +
               " before the image data";
      sawImageData = sawImageData || length > 0;
    }
    pos += 12 + length;
  }
  return "";
}
} // namespace

Result<Image> netc::runtime::decodeImage(const std::string &path) {
  using R = Result<Image>;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return R::failure(path + ": no such image file");
  if (S_ISDIR(st.st_mode))
    return R::failure(path + ": is a directory, expected an image file");
  if (int64_t(st.st_size) > kMaxImageFileBytes)
    return R::failure(path + ": " + std::to_string(int64_t(st.st_size) >> 20) +
                      " MiB is larger than the image file limit of " +
                      std::to_string(kMaxImageFileBytes >> 20) + " MiB");
  if (std::string corrupt = checkPngChunks(path, int64_t(st.st_size)); !corrupt.empty())
    return R::failure(corrupt);
  int width = 0, height = 0, channels = 0;
  // The header alone can claim gigapixels: refuse before the decoder
  // allocates what it claims. What stb_image cannot size it cannot decode
  // either, so a file without readable dimensions goes no further.
  if (!stbi_info(path.c_str(), &width, &height, &channels))
    return R::failure(path + ": cannot decode image (PNG, JPEG, PGM/PPM or BMP expected): " +
                      stbi_failure_reason());
  // A top-down BMP stores its height negated; the decoder takes its magnitude.
  int64_t rows = std::abs(int64_t(height));
  int64_t pixels = int64_t(width) * rows;
  if (width <= 0 || rows == 0)
    return R::failure(path + ": image has no pixels (" + std::to_string(width) + "x" +
                      std::to_string(height) + ")");
  if (pixels > kMaxImagePixels)
    return R::failure(path + ": image of " + std::to_string(width) + "x" +
                      std::to_string(rows) + " pixels is larger than the limit of " +
                      std::to_string(kMaxImagePixels >> 20) + " megapixels");
  // No format here stores more than ~1000 pixels a byte (deflate's limit):
  // a 59-byte BMP claiming ten million pixels is a lie, not a picture.
  if (pixels > kMaxPixelsPerByte * int64_t(st.st_size))
    return R::failure(path + ": header claims " + std::to_string(width) + "x" +
                      std::to_string(rows) + " pixels but the file has only " +
                      std::to_string(int64_t(st.st_size)) + " bytes");
  stbi_uc *data = stbi_load(path.c_str(), &width, &height, &channels, 0);
  if (!data)
    return R::failure(path + ": cannot decode image (PNG, JPEG, PGM/PPM or BMP expected): " +
                      stbi_failure_reason());
  // stb_image accepts some headers that declare no pixels at all.
  if (width <= 0 || height <= 0 || channels <= 0) {
    stbi_image_free(data);
    return R::failure(path + ": image has no pixels (" + std::to_string(width) + "x" +
                      std::to_string(height) + ")");
  }
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.assign(data, data + size_t(width) * size_t(height) * size_t(channels));
  stbi_image_free(data);
  return R::success(std::move(image));
}

namespace {

/// One plane of the image in [0, 255] as the model's channel `c` of `channels`.
std::vector<float> plane(const Image &image, int32_t c, int32_t channels) {
  size_t n = size_t(image.width) * size_t(image.height);
  std::vector<float> out(n);
  int32_t colour = image.channels >= 3 ? 3 : 1; // alpha is dropped
  for (size_t i = 0; i < n; ++i) {
    const uint8_t *p = image.pixels.data() + i * size_t(image.channels);
    if (channels == 1 && colour == 3)
      out[i] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    else if (colour == 3)
      out[i] = p[std::min(c, 2)];
    else
      out[i] = p[0];
  }
  return out;
}

/// Resizes one plane: each output pixel averages the source area it covers
/// when shrinking, and interpolates bilinearly when enlarging.
std::vector<float> resize(const std::vector<float> &src, int32_t sw, int32_t sh, int32_t dw,
                          int32_t dh) {
  std::vector<float> out(size_t(dw) * size_t(dh));
  double sx = double(sw) / dw, sy = double(sh) / dh;
  for (int32_t y = 0; y < dh; ++y)
    for (int32_t x = 0; x < dw; ++x) {
      double value;
      if (sx > 1.0 || sy > 1.0) {
        double x0 = x * sx, x1 = (x + 1) * sx, y0 = y * sy, y1 = (y + 1) * sy;
        double sum = 0, weight = 0;
        for (int32_t yy = int32_t(y0); yy < std::min<int32_t>(sh, int32_t(std::ceil(y1))); ++yy)
          for (int32_t xx = int32_t(x0); xx < std::min<int32_t>(sw, int32_t(std::ceil(x1)));
               ++xx) {
            double wy = std::min(y1, yy + 1.0) - std::max(y0, double(yy));
            double wx = std::min(x1, xx + 1.0) - std::max(x0, double(xx));
            double w = std::max(0.0, wx) * std::max(0.0, wy);
            sum += w * src[size_t(yy) * size_t(sw) + size_t(xx)];
            weight += w;
          }
        value = weight > 0 ? sum / weight : 0;
      } else {
        double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, double(sw - 1));
        double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, double(sh - 1));
        int32_t x0 = int32_t(fx), y0 = int32_t(fy);
        int32_t x1 = std::min(x0 + 1, sw - 1), y1 = std::min(y0 + 1, sh - 1);
        double ax = fx - x0, ay = fy - y0;
        auto at = [&](int32_t xx, int32_t yy) { return src[size_t(yy) * size_t(sw) + size_t(xx)]; };
        value = (1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) +
                ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1));
      }
      out[size_t(y) * size_t(dw) + size_t(x)] = float(value);
    }
  return out;
}

} // namespace

Result<ImageGeometry> netc::runtime::inputGeometry(const netc_model_info &info) {
  using R = Result<ImageGeometry>;
  ImageGeometry g;
  if (info.input_rank == 3) {
    g.channels = int32_t(info.input_shape[0]);
    g.height = int32_t(info.input_shape[1]);
    g.width = int32_t(info.input_shape[2]);
    return R::success(g);
  }
  int32_t side = int32_t(std::lround(std::sqrt(double(info.input_shape[0]))));
  if (info.input_rank != 1 || int64_t(side) * side != info.input_shape[0])
    return R::failure("is not an image; images need an input (C, H, W) or a square (H*W)");
  g.height = g.width = side;
  return R::success(g);
}

std::vector<uint8_t> netc::runtime::imageToPixels(const Image &image,
                                                 const ImageGeometry &geometry) {
  std::vector<float> values =
      imageToInput(image, geometry.channels, geometry.height, geometry.width, /*invert=*/false);
  std::vector<uint8_t> out(values.size());
  // Exact for an image already at the model's size: v / 255 * 255 rounds back to v.
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = uint8_t(std::lround(std::clamp(values[i] * 255.0f, 0.0f, 255.0f)));
  return out;
}

std::vector<float> netc::runtime::imageToInput(const Image &image, int32_t channels,
                                              int32_t height, int32_t width, bool invert,
                                              const Normalization &normalization) {
  std::vector<float> out;
  out.reserve(size_t(channels) * size_t(height) * size_t(width));
  for (int32_t c = 0; c < channels; ++c) {
    std::vector<float> resized =
        resize(plane(image, c, channels), image.width, image.height, width, height);
    for (float v : resized) {
      float scaled = std::clamp(v / 255.0f, 0.0f, 1.0f);
      size_t channel = normalization.mean.size() == 1 ? 0 : size_t(c);
      out.push_back(normalization.apply(invert ? 1.0f - scaled : scaled, channel));
    }
  }
  return out;
}

Image netc::runtime::thumbnail(const Image &image, int maxSide) {
  if (std::max(image.width, image.height) <= maxSide)
    return image;
  double scale = double(maxSide) / std::max(image.width, image.height);
  ImageGeometry geometry;
  geometry.channels = image.channels >= 3 ? 3 : 1;
  geometry.width = std::max(1, int32_t(std::lround(image.width * scale)));
  geometry.height = std::max(1, int32_t(std::lround(image.height * scale)));
  return imageFromPlanes(imageToPixels(image, geometry).data(), geometry.channels,
                         geometry.height, geometry.width);
}

Image netc::runtime::imageFromPlanes(const uint8_t *planes, int32_t channels, int32_t height,
                                     int32_t width) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  size_t plane = size_t(width) * size_t(height);
  image.pixels.resize(plane * size_t(channels));
  for (size_t i = 0; i < plane; ++i)
    for (size_t c = 0; c < size_t(channels); ++c)
      image.pixels[i * size_t(channels) + c] = planes[c * plane + i];
  return image;
}
