//===- ImageGridTest.cpp - The image grid, read back ------------------------===//

#include "TestSupport.h"

#include "net/Runtime/ImageGrid.h"

#include <array>

using namespace netc::runtime;
using netc::test::TempDirTest;

namespace {

Image filled(int width, int height, std::vector<uint8_t> value) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = int32_t(value.size());
  for (int i = 0; i < width * height; ++i)
    image.pixels.insert(image.pixels.end(), value.begin(), value.end());
  return image;
}

std::array<int, 3> pixel(const Image &image, int x, int y) {
  const uint8_t *p =
      image.pixels.data() + (size_t(y) * size_t(image.width) + size_t(x)) * size_t(image.channels);
  return {p[0], p[1], p[2]};
}

class ImageGridTest : public TempDirTest {};

TEST_F(ImageGridTest, TilesKeepTheirAspectAndTheirMarks) {
  std::vector<GridTile> tiles(4);
  tiles[0].image = filled(10, 20, {128});         // tall and grey: 50 x 100 in its box
  tiles[1].image = filled(30, 30, {255, 0, 0});   // red
  tiles[2].image = filled(30, 30, {0, 0, 255});   // blue, a right prediction
  tiles[3].image = filled(30, 30, {0, 255, 0});   // green, a wrong one
  tiles[2].mark = TileMark::Right;
  tiles[3].mark = TileMark::Wrong;
  for (GridTile &t : tiles)
    t.caption = "7  99.0%";
  tiles[3].detail = "true 2";
  std::string png = path("grid.png");
  ASSERT_TRUE(renderImageGrid(tiles, "four tiles", png));
  Result<Image> image = decodeImage(png);
  ASSERT_TRUE(image) << image.error;
  ImageGridLayout layout = ImageGridLayout::of(4);
  EXPECT_EQ(layout.columns, 2);
  EXPECT_EQ(image->width, layout.width());
  EXPECT_EQ(image->height, layout.height());
  int half = ImageGridLayout::kTile / 2;
  auto centre = [&](int i) { return pixel(*image, layout.tileX(i) + half, layout.tileY(i) + half); };
  std::array<int, 3> grey = centre(0);
  EXPECT_NEAR(grey[0], 128, 4); // one of 40 greys beside colour tiles
  EXPECT_EQ(grey[0], grey[2]);
  // The tall image leaves the sides of its square box empty (white).
  EXPECT_EQ(pixel(*image, layout.tileX(0) + 10, layout.tileY(0) + half),
            (std::array<int, 3>{255, 255, 255}));
  EXPECT_EQ(centre(1), (std::array<int, 3>{255, 0, 0}));
  EXPECT_EQ(centre(2), (std::array<int, 3>{0, 0, 255}));
  EXPECT_EQ(centre(3), (std::array<int, 3>{0, 255, 0}));
  // Frames: a right tile's green, a wrong tile's red; none around a preview.
  auto frame = [&](int i) { return pixel(*image, layout.tileX(i) + half, layout.tileY(i)); };
  std::array<int, 3> right = frame(2), wrong = frame(3), none = frame(1);
  EXPECT_GT(right[1], right[0] + 60) << right[0] << "," << right[1] << "," << right[2];
  EXPECT_GT(wrong[0], wrong[1] + 100) << wrong[0] << "," << wrong[1] << "," << wrong[2];
  EXPECT_EQ(none, (std::array<int, 3>{255, 0, 0})) << "the red image's own edge";
}

TEST_F(ImageGridTest, ColumnsCanBeGiven) {
  std::vector<GridTile> tiles(6);
  for (GridTile &t : tiles)
    t.image = filled(8, 8, {0});
  ASSERT_TRUE(renderImageGrid(tiles, "a row of six", path("row.png"), 6));
  Result<Image> image = decodeImage(path("row.png"));
  ASSERT_TRUE(image) << image.error;
  ImageGridLayout layout = ImageGridLayout::of(6, 6);
  EXPECT_EQ(layout.rows, 1);
  EXPECT_EQ(image->width, layout.width());
  EXPECT_EQ(image->height, layout.height());
}

TEST_F(ImageGridTest, BadInputIsRefused) {
  EXPECT_FALSE(renderImageGrid({}, "none", path("a.png")));
  std::vector<GridTile> many(401);
  for (GridTile &t : many)
    t.image = filled(2, 2, {0});
  EXPECT_FALSE(renderImageGrid(many, "too many", path("b.png")));
  std::vector<GridTile> malformed(1);
  malformed[0].image = filled(4, 4, {0});
  malformed[0].image.pixels.pop_back();
  EXPECT_FALSE(renderImageGrid(malformed, "short", path("c.png")));
  std::vector<GridTile> one(1);
  one[0].image = filled(4, 4, {0});
  EXPECT_FALSE(renderImageGrid(one, "x", path("no-such-dir") + "/d.png"));
}

} // namespace
