//===- FuzzImage.cpp - libFuzzer target for decodeImage -------------------===//
//
// Decodes the input as `netrun predict` does, then converts the image to the
// two model inputs the examples use (1x28x28 grey, 3x32x32 colour), which
// exercises both the shrinking and the enlarging resize.
//
//===----------------------------------------------------------------------===//
#include "TempFile.h"

#include "net/Runtime/Image.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  netc::fuzz::TempFile file(data, size, ".img");
  auto image = netc::runtime::decodeImage(file.path());
  if (!image) {
    if (image.error.empty())
      std::abort(); // a failure must say why
    return 0;
  }
  // Shrinking a huge image is slow, not wrong: keep the fuzzer fast.
  if (uint64_t(image->width) * uint64_t(image->height) > (uint64_t(1) << 22))
    return 0;
  auto grey = netc::runtime::imageToInput(*image, 1, 28, 28, /*invert=*/true);
  auto colour = netc::runtime::imageToInput(*image, 3, 32, 32, /*invert=*/false);
  if (grey.size() != 28 * 28 || colour.size() != 3 * 32 * 32)
    std::abort();
  for (float v : grey)
    if (!(v >= 0.0f && v <= 1.0f))
      std::abort(); // out of [0, 1] (or NaN)
  for (float v : colour)
    if (!(v >= 0.0f && v <= 1.0f))
      std::abort();
  return 0;
}
