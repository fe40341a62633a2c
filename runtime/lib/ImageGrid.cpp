//===- ImageGrid.cpp - A grid of images with captions, as one PNG ---------===//
//
// PLplot draws images through colour map 1: a grey palette of 256 levels
// when every tile is grey, else a 6 x 6 x 6 colour cube and 40 greys
// (plimagefr maps each pixel's palette index to its colour). World
// coordinates are the PNG's pixels, y counted from the top.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/ImageGrid.h"

#include "net/Runtime/Plot.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>

using namespace netc::runtime;

namespace {

enum Colour : PLINT { Background = 0, Ink = 1, RightColour = 2, WrongColour = 3, Frame = 4 };

constexpr int kMaxTiles = 400;
// Text is sized in pixels whatever the grid's size: PLplot's sizes are in
// millimetres at the page's resolution, set here.
constexpr PLFLT kDotsPerInch = 96;
PLFLT pixelsToMillimetres(double pixels) { return pixels * 25.4 / kDotsPerInch; }
constexpr int kLevels = 6;                          // per channel in the colour cube
constexpr int kCube = kLevels * kLevels * kLevels;  // 216 colours, then 40 greys
constexpr int kGreys = 256 - kCube;

bool allGrey(const std::vector<GridTile> &tiles) {
  return std::all_of(tiles.begin(), tiles.end(),
                     [](const GridTile &t) { return t.image.channels <= 2; });
}

void setPalette(bool grey) {
  std::vector<PLINT> r(256), g(256), b(256);
  for (int i = 0; i < 256; ++i) {
    size_t at = size_t(i);
    if (grey) {
      r[at] = g[at] = b[at] = i;
    } else if (i < kCube) {
      r[at] = (i / (kLevels * kLevels)) * 255 / (kLevels - 1);
      g[at] = (i / kLevels % kLevels) * 255 / (kLevels - 1);
      b[at] = (i % kLevels) * 255 / (kLevels - 1);
    } else {
      r[at] = g[at] = b[at] = (i - kCube) * 255 / (kGreys - 1);
    }
  }
  plscmap1(r.data(), g.data(), b.data(), 256);
}

/// The palette index of one pixel: its grey level in a grey palette; the
/// nearest of the 40 greys for a grey pixel, else the nearest colour of the
/// cube, in a colour one.
PLFLT paletteIndex(const Image &image, int x, int y, bool grey) {
  const uint8_t *p =
      image.pixels.data() + (size_t(y) * size_t(image.width) + size_t(x)) * size_t(image.channels);
  if (grey)
    return p[0];
  auto level = [](int v, int levels) { return (v * (levels - 1) + 127) / 255; };
  if (image.channels <= 2 || (p[0] == p[1] && p[1] == p[2]))
    return kCube + level(p[0], kGreys);
  return level(p[0], kLevels) * kLevels * kLevels + level(p[1], kLevels) * kLevels +
         level(p[2], kLevels);
}

/// Draws one image into the box of `tile` at its aspect ratio.
void drawTileImage(const Image &image, const ImageGridLayout &layout, int tile, bool grey) {
  using L = ImageGridLayout;
  if (std::max(image.width, image.height) > 2 * L::kTile) // a photo: its thumbnail
    return drawTileImage(thumbnail(image, L::kTile), layout, tile, grey);
  double scale = double(L::kTile) / std::max(image.width, image.height);
  double w = image.width * scale, h = image.height * scale;
  double x0 = layout.tileX(tile) + (L::kTile - w) / 2, y0 = layout.tileY(tile) + (L::kTile - h) / 2;
  // plimage's data is indexed [x][y], y = 0 at the world's ymin: here the
  // top, since the world's y counts down the page.
  std::vector<std::vector<PLFLT>> columns(size_t(image.width),
                                          std::vector<PLFLT>(size_t(image.height)));
  std::vector<const PLFLT *> data(size_t(image.width));
  for (int x = 0; x < image.width; ++x) {
    for (int y = 0; y < image.height; ++y)
      columns[size_t(x)][size_t(y)] = paletteIndex(image, x, y, grey);
    data[size_t(x)] = columns[size_t(x)].data();
  }
  // plimagefr, not plimage: plimage stretches each image's own value range
  // over the palette, which would change its contrast (and its colours).
  // Without a transform, pixel i's cell starts at xmin + i * (xmax - xmin) /
  // (nx - 1): the last cell starts one pixel before the box's edge.
  double x1 = x0 + w - w / image.width, y1 = y0 + h - h / image.height;
  plimagefr(data.data(), image.width, image.height, x0, x1, y0, y1, 0, 255, 0, 255, nullptr,
            nullptr);
}

/// The frame and the caption of a tile.
void drawTileText(const GridTile &t, const ImageGridLayout &layout, int tile) {
  using L = ImageGridLayout;
  PLFLT x0 = layout.tileX(tile), y0 = layout.tileY(tile);
  PLINT colour = t.mark == TileMark::Right ? RightColour
                 : t.mark == TileMark::Wrong ? WrongColour
                                             : Ink;
  if (t.mark != TileMark::None) {
    plcol0(colour);
    plwidth(t.mark == TileMark::Wrong ? 4 : 1.5);
    PLFLT xs[] = {x0, x0 + L::kTile, x0 + L::kTile, x0, x0};
    PLFLT ys[] = {y0, y0, y0 + L::kTile, y0 + L::kTile, y0};
    plline(5, xs, ys);
  }
  std::string caption = t.mark == TileMark::Right   ? "✓ " + t.caption
                        : t.mark == TileMark::Wrong ? "✗ " + t.caption
                                                    : t.caption;
  plcol0(colour);
  plschr(pixelsToMillimetres(12), 1);
  plptex(x0 + L::kTile / 2.0, y0 + L::kTile + 12, 1, 0, 0.5, caption.c_str());
  if (!t.detail.empty())
    plptex(x0 + L::kTile / 2.0, y0 + L::kTile + 28, 1, 0, 0.5, t.detail.c_str());
}

void drawGrid(const std::vector<GridTile> &tiles, const ImageGridLayout &layout,
              const std::string &title, const std::string &path) {
  PLINT previous, stream;
  plgstrm(&previous);
  plmkstrm(&stream);
  plsdev("pngcairo");
  plsfnam(path.c_str());
  plspage(kDotsPerInch, kDotsPerInch, layout.width(), layout.height(), 0, 0);
  plscol0(Background, 255, 255, 255);
  plscol0(Ink, 0, 0, 0);
  plscol0(RightColour, 0, 128, 0);
  plscol0(WrongColour, 200, 0, 0);
  plscol0(Frame, 160, 160, 160);
  bool grey = allGrey(tiles);
  plinit();
  setPalette(grey);
  pladv(0);
  plvpor(0, 1, 0, 1);
  plwind(0, layout.width(), layout.height(), 0);
  for (size_t i = 0; i < tiles.size(); ++i)
    drawTileImage(tiles[i].image, layout, int(i), grey);
  for (size_t i = 0; i < tiles.size(); ++i)
    drawTileText(tiles[i], layout, int(i));
  plcol0(Ink);
  plschr(pixelsToMillimetres(18), 1);
  plptex(layout.width() / 2.0, ImageGridLayout::kTitle / 2.0 + 4, 1, 0, 0.5, title.c_str());
  plend1();
  plsstrm(previous);
}

} // namespace

ImageGridLayout ImageGridLayout::of(int count, int columns) {
  ImageGridLayout layout;
  layout.columns = columns > 0 ? columns : std::max(1, int(std::ceil(std::sqrt(double(count)))));
  layout.rows = std::max(1, (count + layout.columns - 1) / layout.columns);
  return layout;
}

Status netc::runtime::renderImageGrid(const std::vector<GridTile> &tiles,
                                      const std::string &title, const std::string &path,
                                      int columns) {
  if (tiles.empty())
    return Status::failure(path + ": a grid needs at least one image");
  if (tiles.size() > size_t(kMaxTiles))
    return Status::failure(path + ": " + std::to_string(tiles.size()) + " images, above the " +
                           std::to_string(kMaxTiles) + " a grid draws");
  for (const GridTile &t : tiles)
    if (t.image.width <= 0 || t.image.height <= 0 || t.image.channels < 1 ||
        t.image.channels > 4 ||
        t.image.pixels.size() != size_t(t.image.width) * size_t(t.image.height) *
                                     size_t(t.image.channels))
      return Status::failure(path + ": an image of the grid is malformed");
  if (!plotDeviceAvailable())
    return Status::failure("plplot has no 'pngcairo' device (Debian package plplot-driver-cairo)");
  ImageGridLayout layout = ImageGridLayout::of(int(tiles.size()), columns);
  return writePlotAtomically(
      path, [&](const std::string &temp) { drawGrid(tiles, layout, title, temp); });
}
