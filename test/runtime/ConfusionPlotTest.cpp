//===- ConfusionPlotTest.cpp - confusion.png, read back -------------------===//

#include "TestSupport.h"

#include "net/Runtime/ConfusionPlot.h"
#include "net/Runtime/Image.h"

#include <filesystem>

using namespace netc::runtime;
using netc::test::TempDirTest;

namespace {

class ConfusionPlotTest : public TempDirTest {
protected:
  /// The RGB of the picture's pixel a fraction (fx, fy) into cell (row, column)
  /// of a k-class matrix, found from ConfusionPlotLayout.
  static std::array<int, 3> cellPixel(const Image &image, size_t k, size_t row, size_t column,
                                      double fx = 0.15, double fy = 0.15) {
    using L = ConfusionPlotLayout;
    double cellWidth = (L::kRight - L::kLeft) * image.width / double(k);
    double cellHeight = (L::kBottom - L::kTop) * image.height / double(k);
    int x = int(L::kLeft * image.width + (double(column) + fx) * cellWidth);
    int y = int(L::kTop * image.height + (double(row) + fy) * cellHeight);
    const uint8_t *p = image.pixels.data() + (size_t(y) * size_t(image.width) + size_t(x)) *
                                                 size_t(image.channels);
    return {p[0], p[1], p[2]};
  }
};

TEST_F(ConfusionPlotTest, CellsAreShadedByTheirShareOfTheRow) {
  // Class 0 always right, class 1 half confused with 2, class 2 never seen.
  std::vector<std::vector<int64_t>> confusion = {{40, 0, 0}, {0, 10, 10}, {0, 0, 0}};
  std::string png = path("confusion.png");
  ASSERT_TRUE(renderConfusionMatrix(confusion, {"cat", "dog", "fox"}, "three classes", png));
  Result<Image> image = decodeImage(png);
  ASSERT_TRUE(image) << image.error;
  EXPECT_EQ(image->width, ConfusionPlotLayout::kWidth);
  EXPECT_EQ(image->height, ConfusionPlotLayout::kHeight);
  ASSERT_GE(image->channels, 3);
  auto darkness = [](std::array<int, 3> rgb) { return 3 * 255 - rgb[0] - rgb[1] - rgb[2]; };
  auto full = cellPixel(*image, 3, 0, 0), none = cellPixel(*image, 3, 0, 1);
  auto half = cellPixel(*image, 3, 1, 1), otherHalf = cellPixel(*image, 3, 1, 2);
  EXPECT_GT(darkness(full), 500) << "a whole row's cell is dark blue";
  EXPECT_GT(full[2], full[0]) << "blue";
  EXPECT_LT(darkness(none), 10) << "an empty cell is white";
  EXPECT_EQ(half, otherHalf) << "equal shares, equal shades";
  EXPECT_GT(darkness(half), darkness(none) + 100);
  EXPECT_LT(darkness(half), darkness(full));
  EXPECT_LT(darkness(cellPixel(*image, 3, 2, 2)), 10) << "a class with no images stays white";
  // No temporary is left beside it.
  int files = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(ConfusionPlotTest, ManyClassesAreShadedWithoutLabels) {
  size_t k = kConfusionPlotMaxLabelledClasses + 10;
  std::vector<std::vector<int64_t>> confusion(k, std::vector<int64_t>(k, 0));
  for (size_t c = 0; c < k; ++c)
    confusion[c][c] = 5;
  std::string png = path("many.png");
  ASSERT_TRUE(renderConfusionMatrix(confusion, {}, "many classes", png));
  Result<Image> image = decodeImage(png);
  ASSERT_TRUE(image) << image.error;
  auto diagonal = cellPixel(*image, k, 7, 7, 0.5, 0.5), off = cellPixel(*image, k, 7, 8, 0.5, 0.5);
  EXPECT_LT(diagonal[0], 60);
  EXPECT_GT(off[0], 240);
}

TEST_F(ConfusionPlotTest, BadInputIsRefused) {
  EXPECT_FALSE(renderConfusionMatrix({}, {}, "none", path("a.png")));
  EXPECT_FALSE(renderConfusionMatrix({{1, 2}, {3}}, {}, "ragged", path("b.png")));
  Status unwritable = renderConfusionMatrix({{1}}, {}, "x", path("no-such-dir") + "/c.png");
  ASSERT_FALSE(unwritable);
  EXPECT_NE(unwritable.error().find("cannot create"), std::string::npos) << unwritable.error();
}

} // namespace
