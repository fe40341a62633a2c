//===- ShowTest.cpp - netrun show, its grids read back --------------------===//

#include "TestSupport.h"

#include "Netrun.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/ImageGrid.h"

#include <filesystem>
#include <sstream>

using namespace netc::runtime;
using netc::test::TempDirTest;
namespace fs = std::filesystem;

namespace {

using Outcome = NetrunOutcome;

/// netrun in-process.
Outcome netrun(const std::vector<std::string> &args) { return runNetrunCaptured(args); }

class ShowTest : public TempDirTest {
protected:
  /// An image folder of two classes of solid colours: red/ and blue/, each
  /// image 40 x 20 (wider than tall).
  std::string colourFolder() {
    std::string root = path("colours");
    for (auto [name, rgb] : {std::pair{"blue", std::vector<uint8_t>{0, 0, 255}},
                             std::pair{"red", std::vector<uint8_t>{255, 0, 0}}}) {
      fs::create_directories(root + "/" + name);
      std::vector<uint8_t> pixels;
      for (int i = 0; i < 40 * 20; ++i)
        pixels.insert(pixels.end(), rgb.begin(), rgb.end());
      for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(writePng(root + "/" + name + "/" + std::to_string(i) + ".png", 40, 20, 3,
                             pixels.data()));
    }
    return root;
  }
};

TEST_F(ShowTest, AFolderIsShownInOrderAtItsAspectRatio) {
  std::string png = path("samples.png");
  Outcome s = netrun({"show", "--data", colourFolder(), "--out", png, "--count", "6"});
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find("6 training images of"), std::string::npos) << s.out;
  Result<Image> image = decodeImage(png);
  ASSERT_TRUE(image) << image.error;
  ImageGridLayout layout = ImageGridLayout::of(6);
  ASSERT_EQ(image->width, layout.width());
  ASSERT_EQ(image->height, layout.height());
  // All six, in order: the three blue ones, then the three red ones, each
  // 100 x 50 in its box (the top quarter of the box stays white).
  for (int i = 0; i < 6; ++i) {
    int x = layout.tileX(i) + 50, y = layout.tileY(i) + 50;
    const uint8_t *centre = image->pixels.data() +
                            (size_t(y) * size_t(image->width) + size_t(x)) * size_t(image->channels);
    const uint8_t *top = centre - size_t(35) * size_t(image->width) * size_t(image->channels);
    if (i < 3)
      EXPECT_TRUE(centre[2] == 255 && centre[0] == 0) << "tile " << i << " is blue";
    else
      EXPECT_TRUE(centre[0] == 255 && centre[2] == 0) << "tile " << i << " is red";
    EXPECT_TRUE(top[0] == 255 && top[1] == 255 && top[2] == 255) << "tile " << i;
  }
}

TEST_F(ShowTest, AugmentationPutsVersionsBesideEachImage) {
  SKIP_WITHOUT_MNIST();
  std::string png = path("augmented.png");
  Outcome s = netrun({"show", "--data", netc::test::mnistDir(), "--out", png, "--count", "3",
                      "--rotation-range", "30", "--seed", "7"});
  ASSERT_EQ(s.status, 0) << s.err;
  Result<Image> image = decodeImage(png);
  ASSERT_TRUE(image) << image.error;
  ImageGridLayout layout = ImageGridLayout::of(18, 6);
  EXPECT_EQ(image->width, layout.width());
  EXPECT_EQ(image->height, layout.height());
  // The same seed draws the same picture; another seed other images.
  std::string again = path("again.png"), other = path("other.png");
  ASSERT_EQ(netrun({"show", "--data", netc::test::mnistDir(), "--out", again, "--count", "3",
                    "--rotation-range", "30", "--seed", "7"})
                .status,
            0);
  ASSERT_EQ(netrun({"show", "--data", netc::test::mnistDir(), "--out", other, "--count", "3",
                    "--rotation-range", "30", "--seed", "8"})
                .status,
            0);
  EXPECT_EQ(netc::test::readFile(png), netc::test::readFile(again));
  EXPECT_NE(netc::test::readFile(png), netc::test::readFile(other));
}

TEST_F(ShowTest, BadRequestsAreRefused) {
  EXPECT_EQ(netrun({"show", "--out", path("x.png")}).status, 1);
  EXPECT_EQ(netrun({"show", "--data", colourFolder()}).status, 1);
  Outcome many = netrun({"show", "--data", colourFolder(), "--out", path("x.png"), "--count",
                         "70", "--horizontal-flip"});
  EXPECT_EQ(many.status, 1);
  EXPECT_NE(many.err.find("at most 66"), std::string::npos) << many.err;
  Outcome fill = netrun({"show", "--data", colourFolder(), "--out", path("x.png"),
                         "--rotation-range", "5", "--fill-value", "3"});
  EXPECT_EQ(fill.status, 1);
  EXPECT_NE(fill.err.find("--fill-mode constant"), std::string::npos) << fill.err;
  Outcome missing = netrun({"show", "--data", "no-such-set", "--out", path("x.png")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
  // The picture inside the folder it shows would be one of its red images.
  Outcome inside = netrun({"show", "--data", colourFolder(), "--out", path("colours/red/x.png")});
  EXPECT_EQ(inside.status, 1);
  EXPECT_NE(inside.err.find("--out " + path("colours/red/x.png") +
                            " is inside the image folder " + path("colours")),
            std::string::npos)
      << inside.err;
  EXPECT_FALSE(fs::exists(path("colours/red/x.png")));
}

} // namespace
