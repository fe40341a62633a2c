//===- ImageGrid.h - A grid of images with captions, as one PNG -*- C++ -*-===//
//
// What `netrun eval --out` draws as predictions.png (each image with its
// predicted class, marked right or wrong) and `netrun show` as a preview of
// the data (each image with its label, or beside its augmented versions).
// Drawn with PLplot (pngcairo) as the other pictures are; each image keeps
// its aspect ratio inside its tile.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_IMAGEGRID_H
#define NET_RUNTIME_IMAGEGRID_H

#include "net/Runtime/Image.h"
#include "net/Runtime/Status.h"

#include <algorithm>
#include <string>
#include <vector>

namespace netc::runtime {

/// How a tile is marked: not at all (a data preview), or as a right or a
/// wrong prediction. Right is green with a tick before the caption, wrong
/// red with a cross and a thick frame: two cues besides the colour.
enum class TileMark { None, Right, Wrong };

struct GridTile {
  Image image;         // 1 (grey) or 3 (RGB) channels, any size; alpha dropped
  std::string caption; // under the image, e.g. "7  99.2%"
  std::string detail;  // a second line, e.g. "true 2" (may be empty)
  TileMark mark = TileMark::None;
};

/// The grid's geometry, for its readers (the tests find a tile by it): tiles
/// of kTile x kTile pixels for the image and kCaption below it for the
/// text, `columns` across, under a title band of kTitle; a margin of kMargin
/// around the whole.
struct ImageGridLayout {
  static constexpr int kTile = 100, kCaption = 40, kGap = 20, kTitle = 48, kMargin = 16;
  int columns = 0, rows = 0;
  /// At least kMinWidth, so that the title fits above a narrow grid.
  static constexpr int kMinWidth = 480;
  int width() const { return std::max(kMinWidth, 2 * kMargin + columns * (kTile + kGap) - kGap); }
  int height() const { return kTitle + 2 * kMargin + rows * (kTile + kCaption + kGap) - kGap; }
  /// The top left pixel of tile `i`'s image box.
  int tileX(int i) const { return kMargin + (i % columns) * (kTile + kGap); }
  int tileY(int i) const { return kTitle + kMargin + (i / columns) * (kTile + kCaption + kGap); }
  /// `count` tiles in `columns` columns, or in a square when `columns` is 0.
  static ImageGridLayout of(int count, int columns = 0);
};

/// Writes `path` atomically: the tiles in rows of `columns` (0: a square
/// grid), `title` above them. At most 400 tiles.
Status renderImageGrid(const std::vector<GridTile> &tiles, const std::string &title,
                       const std::string &path, int columns = 0);

} // namespace netc::runtime

#endif // NET_RUNTIME_IMAGEGRID_H
