//===- ExportImages.cpp - An IDX dataset written as a folder of PNGs ------===//

#include "net/Runtime/ImageFolder.h"

#include <algorithm>
#include <filesystem>

using namespace netc::runtime;
namespace fs = std::filesystem;

namespace {

/// `value` in decimal, zero-padded to `digits`.
std::string padded(int64_t value, size_t digits) {
  std::string text = std::to_string(value);
  return std::string(digits > text.size() ? digits - text.size() : 0, '0') + text;
}

} // namespace

Result<int64_t> netc::runtime::exportImages(const LabelledImages &images,
                                           const std::string &source,
                                           const ExportOptions &options) {
  using R = Result<int64_t>;
  std::vector<int32_t> classes = options.classes;
  uint8_t maxLabel = 0;
  for (uint8_t label : images.labels)
    maxLabel = std::max(maxLabel, label);
  if (classes.empty())
    for (int32_t c = 0; c <= maxLabel; ++c)
      classes.push_back(c);
  for (int32_t c : classes)
    if (c < 0 || c > maxLabel)
      return R::failure(source + ": has no class " + std::to_string(c) + " (its labels are 0 to " +
                        std::to_string(maxLabel) + ")");
  // Folder names sort as the labels do ("07" before "10").
  size_t labelDigits = std::to_string(maxLabel).size();
  size_t indexDigits = std::max<size_t>(5, std::to_string(images.count).size());
  int64_t written = 0;
  for (int32_t c : classes) {
    std::string folder = options.outDir + "/" + padded(c, labelDigits);
    std::error_code error;
    fs::create_directories(folder, error);
    if (error)
      return R::failure(folder + ": cannot create the folder: " + error.message());
    int64_t count = 0;
    size_t pixels = size_t(images.height) * images.width;
    for (uint32_t i = 0; i < images.count && count < options.perClass; ++i) {
      if (images.labels[i] != c)
        continue;
      std::string file = folder + "/" + padded(i, indexDigits) + ".png";
      if (Status s = writePng(file, int32_t(images.width), int32_t(images.height), 1,
                              images.pixels.data() + i * pixels);
          !s)
        return R::failure(s.error());
      ++count;
    }
    written += count;
  }
  return R::success(written);
}
