//===- Show.cpp - netrun show ---------------------------------------------===//
//
// A look at the data before training on it, as Keras users plot a sample
// with plt.imshow: a grid of training images with their labels, or, with
// augmentation flags, each image beside augmented versions of it drawn as
// training would draw them.
//
//===----------------------------------------------------------------------===//

#include "Verbs.h"

#include "net/Runtime/Augment.h"
#include "net/Runtime/IDX.h"
#include "net/Runtime/ImageFolder.h"
#include "net/Runtime/ImageGrid.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Random.h"

#include <algorithm>
#include <cmath>

using namespace netc::runtime;

namespace netc::runtime::cli {

namespace {

constexpr int kAugmentedVersions = 5;
constexpr uint64_t kShowStream = 0x73686f77; // "show"

/// A labelled image to show; `label` is a class name or number.
struct Shown {
  Image image;
  std::string label;
};

/// `count` training images of an IDX dataset.
Result<std::vector<Shown>> idxImages(const std::string &dir, int64_t count, uint64_t seed) {
  using R = Result<std::vector<Shown>>;
  Result<IdxDataset> data = readIdxDataset(dir);
  if (!data)
    return R::failure(data.error);
  const LabelledImages &train = data->train;
  std::vector<Shown> shown;
  for (int64_t i : chooseIndices(int64_t(train.count), count, seed, kShowStream)) {
    const uint8_t *pixels = train.pixels.data() + size_t(i) * train.height * train.width;
    shown.push_back({imageFromPlanes(pixels, 1, int32_t(train.height), int32_t(train.width)),
                     std::to_string(train.labels[size_t(i)])});
  }
  return R::success(std::move(shown));
}

/// `count` images of an image folder, as thumbnails; files that do not
/// decode are skipped with a warning.
Result<std::vector<Shown>> folderImages(const std::string &dir, int64_t count, uint64_t seed,
                                        DriverStreams &s) {
  using R = Result<std::vector<Shown>>;
  std::vector<std::pair<std::string, std::string>> files; // file, class
  for (const std::string &name : classFolders(dir))
    for (std::string &f : filesUnder(dir + "/" + name))
      files.push_back({std::move(f), name});
  if (files.empty())
    return R::failure(dir + ": has no images in class sub-folders");
  std::vector<Shown> shown;
  for (int64_t i : chooseIndices(int64_t(files.size()), count, seed, kShowStream)) {
    Result<Image> image = decodeImage(files[size_t(i)].first);
    if (!image) {
      s.err << "netrun: warning: " << image.error << "; skipped\n";
      continue;
    }
    shown.push_back({thumbnail(*image, 2 * ImageGridLayout::kTile), files[size_t(i)].second});
  }
  if (shown.empty())
    return R::failure(dir + ": none of the chosen files is an image");
  return R::success(std::move(shown));
}

/// Version `version` of `image` augmented as training does, from its own
/// draw of `seed`.
Image augmented(const Image &image, const AugmentConfig &config, uint64_t seed, int64_t index,
                int version) {
  Random rng(deriveSeed(seed, kShowStream + 1, uint64_t(index) * kAugmentedVersions + version));
  TransformParams params = drawTransform(config, image.width, image.height, rng);
  AffineMap map = inverseMap(params, image.width, image.height);
  // Its CHW planes at its own size, as warpImage takes them.
  const ImageGeometry geometry{image.channels >= 3 ? 3 : 1, image.height, image.width};
  std::vector<uint8_t> planes = imageToPixels(image, geometry);
  std::vector<float> warped(planes.size());
  warpImage(planes.data(), geometry.channels, image.height, image.width, map, config,
            warped.data());
  for (size_t i = 0; i < planes.size(); ++i)
    planes[i] = uint8_t(std::clamp(std::lround(warped[i]), 0L, 255L));
  return imageFromPlanes(planes.data(), geometry.channels, image.height, image.width);
}

} // namespace

int runShow(const Options &o, DriverStreams &s) {
  if (!o.positional.empty())
    return fail(s, "show takes no model: netrun show --data NAME|DIR --out FILE.png");
  if (o.data.empty())
    return fail(s, "show needs --data NAME|DIR (e.g. --data mnist)");
  if (!o.given.count("out"))
    return fail(s, "show needs --out FILE.png, the picture to write");
  if (o.given.count("fill-value") && o.augment.fillMode != "constant")
    return fail(s, "option '--fill-value' applies only to --fill-mode constant (the mode is " +
                       o.augment.fillMode + ")");
  Result<std::string> dir = findDataset(o.data);
  if (!dir)
    return fail(s, dir.error);
  if (isImageFolder(*dir))
    if (Status st = outOutsideImageFolder(o.out, *dir); !st)
      return fail(s, st.error());
  const bool augmenting = o.augment.enabled();
  int64_t count = o.count ? o.count : augmenting ? 8 : 100;
  if (augmenting && count * (kAugmentedVersions + 1) > 400)
    return fail(s, "option '--count' with augmentation shows at most 66 images (each beside " +
                       std::to_string(kAugmentedVersions) + " versions), got " +
                       std::to_string(count));
  Result<std::vector<Shown>> shown = isImageFolder(*dir) ? folderImages(*dir, count, o.seed, s)
                                                         : idxImages(*dir, count, o.seed);
  if (!shown)
    return fail(s, shown.error);
  std::vector<GridTile> tiles;
  for (size_t i = 0; i < shown->size(); ++i) {
    const Shown &one = (*shown)[i];
    tiles.push_back({one.image, one.label, augmenting ? "original" : "", TileMark::None});
    for (int v = 0; augmenting && v < kAugmentedVersions; ++v)
      tiles.push_back({augmented(one.image, o.augment, o.seed, int64_t(i), v), "", "",
                       TileMark::None});
  }
  std::string title = withThousands(int64_t(shown->size())) + " training images of " + *dir +
                      (augmenting ? ", each beside " + std::to_string(kAugmentedVersions) +
                                        " augmented versions"
                                  : "") +
                      " (seed " + std::to_string(o.seed) + ")";
  if (Status st = renderImageGrid(tiles, title, o.out, augmenting ? kAugmentedVersions + 1 : 0);
      !st)
    return fail(s, st.error());
  s.out << "wrote " << o.out << ": " << title << "\n";
  return 0;
}

} // namespace netc::runtime::cli
