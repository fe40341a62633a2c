//===- ImageFolder.cpp - Folders of images, one sub-folder per class ------===//

#include "net/Runtime/ImageFolder.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

using namespace netc::runtime;
namespace fs = std::filesystem;

namespace {

bool hidden(const fs::path &path) { return path.filename().string().rfind('.', 0) == 0; }



/// Decodes and converts every file, `threads` at a time; each result is the
/// pixels or the reason they are not there.
std::vector<Result<std::vector<uint8_t>>> decodeAll(const std::vector<std::string> &files,
                                                    const ImageGeometry &geometry,
                                                    int32_t threads) {
  std::vector<Result<std::vector<uint8_t>>> results(files.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      Result<Image> image = decodeImage(files[i]);
      results[i] = image ? Result<std::vector<uint8_t>>::success(imageToPixels(*image, geometry))
                         : Result<std::vector<uint8_t>>::failure(image.error);
    }
  };
  size_t count = threads > 0 ? size_t(threads) : std::max(1u, std::thread::hardware_concurrency());
  count = std::min(count, std::max<size_t>(files.size(), 1));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < count; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &t : pool)
    t.join();
  return results;
}

} // namespace

std::vector<std::string> netc::runtime::classFolders(const std::string &directory) {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry &entry : fs::directory_iterator(directory, error))
    if (!hidden(entry.path()) && entry.is_directory(error))
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> netc::runtime::filesUnder(const std::string &folder) {
  std::vector<std::string> files;
  std::error_code error;
  fs::recursive_directory_iterator it(folder, error), end;
  for (; !error && it != end; it.increment(error)) {
    if (hidden(it->path())) {
      if (it->is_directory(error))
        it.disable_recursion_pending();
      continue;
    }
    if (!it->is_directory(error))
      files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool netc::runtime::isImageFolder(const std::string &path) {
  std::error_code error;
  if (!fs::is_directory(path, error))
    return false;
  for (const char *idx : {"/train-images-idx3-ubyte", "/train-images-idx3-ubyte.gz",
                          "/t10k-images-idx3-ubyte", "/t10k-images-idx3-ubyte.gz"})
    if (fs::exists(path + idx, error))
      return false;
  return !classFolders(path).empty();
}

Result<ImageFolder> netc::runtime::loadImageFolder(const std::string &directory,
                                                  const ImageGeometry &geometry,
                                                  const ImageFolderOptions &options) {
  using R = Result<ImageFolder>;
  std::error_code error;
  if (!fs::is_directory(directory, error))
    return R::failure(directory + ": no such directory");
  ImageFolder out;
  out.directory = directory;
  out.classNames = classFolders(directory);
  size_t classes = out.classNames.size();
  if (classes == 0)
    return R::failure(directory + ": has no class sub-folders (an image folder holds one "
                                  "sub-folder of images per class)");
  if (classes == 1)
    return R::failure(directory + ": has one class sub-folder ('" + out.classNames[0] +
                      "'); a classifier needs at least two");
  if (options.maxClasses > 0 && classes > size_t(options.maxClasses))
    return R::failure(directory + ": has " + std::to_string(classes) +
                      " class sub-folders, more than the model's " +
                      std::to_string(options.maxClasses) + " classes");
  std::vector<std::string> files;
  std::vector<int32_t> labels;
  for (size_t c = 0; c < classes; ++c) {
    std::string folder = directory + "/" + out.classNames[c];
    std::vector<std::string> found = filesUnder(folder);
    if (found.empty())
      return R::failure(folder + ": class folder has no images");
    files.insert(files.end(), found.begin(), found.end());
    labels.insert(labels.end(), found.size(), int32_t(c));
  }

  std::vector<Result<std::vector<uint8_t>>> decoded = decodeAll(files, geometry, options.threads);
  Samples &samples = out.samples;
  samples.channels = geometry.channels;
  samples.height = geometry.height;
  samples.width = geometry.width;
  samples.sampleSize = int64_t(geometry.channels) * geometry.height * geometry.width;
  samples.pixels.reserve(files.size() * size_t(samples.sampleSize));
  std::vector<int64_t> perClass(classes, 0), skippedPerClass(classes, 0);
  for (size_t i = 0; i < files.size(); ++i) {
    int32_t label = labels[i];
    if (!decoded[i]) {
      if (options.strict)
        return R::failure(decoded[i].error + " (--strict-images refuses a file that is not "
                                             "an image)");
      if (options.onWarning)
        options.onWarning(decoded[i].error + "; skipped");
      ++out.skipped;
      ++skippedPerClass[size_t(label)];
      continue;
    }
    samples.pixels.insert(samples.pixels.end(), decoded[i]->begin(), decoded[i]->end());
    samples.labels.push_back(label);
    out.files.push_back(files[i]);
    ++perClass[size_t(label)];
    decoded[i].value.reset(); // the decoded copy is no longer needed
  }
  for (size_t c = 0; c < classes; ++c)
    if (perClass[c] == 0)
      return R::failure(directory + "/" + out.classNames[c] + ": none of the class folder's " +
                        std::to_string(skippedPerClass[c]) + " files is an image");
  samples.count = int64_t(samples.labels.size());
  out.classStart.push_back(0);
  for (size_t c = 0; c < classes; ++c)
    out.classStart.push_back(out.classStart.back() + perClass[c]);
  return R::success(std::move(out));
}

Samples netc::runtime::splitFolderValidation(ImageFolder &folder, double fraction) {
  Samples &all = folder.samples;
  Samples train, held;
  for (Samples *s : {&train, &held}) {
    s->sampleSize = all.sampleSize;
    s->normalization = all.normalization;
    s->channels = all.channels;
    s->height = all.height;
    s->width = all.width;
  }
  std::vector<std::string> trainFiles;
  for (size_t c = 0; c + 1 < folder.classStart.size(); ++c) {
    int64_t begin = folder.classStart[c], end = folder.classStart[c + 1];
    int64_t cut = begin + int64_t(fraction * double(end - begin));
    for (int64_t i = begin; i < end; ++i) {
      Samples &to = i < cut ? held : train;
      to.pixels.insert(to.pixels.end(), all.sample(i), all.sample(i) + all.sampleSize);
      to.labels.push_back(all.labels[size_t(i)]);
      if (i >= cut)
        trainFiles.push_back(folder.files[size_t(i)]);
    }
  }
  train.count = int64_t(train.labels.size());
  held.count = int64_t(held.labels.size());
  all = std::move(train);
  folder.files = std::move(trainFiles);
  // What is left of each class, for a later split.
  folder.classStart.assign(1, 0);
  std::vector<int64_t> counts(folder.classNames.size(), 0);
  for (int32_t label : all.labels)
    ++counts[size_t(label)];
  for (int64_t n : counts)
    folder.classStart.push_back(folder.classStart.back() + n);
  return held;
}
