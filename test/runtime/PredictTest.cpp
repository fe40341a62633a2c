//===- PredictTest.cpp - netrun predict on files and folders, and --csv ------===//

#include "TestSupport.h"

#include "Netrun.h"
#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/ImageGrid.h"

#include <filesystem>
#include <map>
#include <sstream>

using namespace netc::runtime;
using netc::test::readFile;
using netc::test::TempDirTest;
namespace fs = std::filesystem;

namespace {

using Outcome = NetrunOutcome;

/// netrun in-process.
Outcome netrun(const std::vector<std::string> &args) { return runNetrunCaptured(args); }

std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    result.push_back(line);
  return result;
}

/// A softmax regression trained on 2,000 MNIST images, and the first five
/// test images of each digit exported as a folder of PNGs (DIR/<digit>/N.png).
class PredictTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (netc::test::mnistDir().empty())
      GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
    weights = path("run") + "/best.ckpt";
    Outcome t = netrun({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit",
                        "2000", "--epochs", "2", "--batch", "50", "--out", path("run")});
    ASSERT_EQ(t.status, 0) << t.err;
    Outcome e = netrun({"export-images", "--data", netc::test::mnistDir(), "--split", "test",
                        "--per-class", "5", "--out", path("digits")});
    ASSERT_EQ(e.status, 0) << e.err;
  }
  std::string weights;
};

TEST_F(PredictTest, AFolderIsEveryImageUnderItOnceInSortedOrder) {
  // A file that is not an image and a dot-folder among the digits.
  netc::test::writeFile(path("digits") + "/notes.txt", "not an image");
  fs::create_directories(path("digits") + "/.thumbnails");
  fs::copy_file(path("digits") + "/3/" + fs::directory_iterator(path("digits") + "/3")->path()
                    .filename().string(),
                path("digits") + "/.thumbnails/x.png");
  Outcome p = netrun({"predict", FIXTURE_ADAM, "--weights", weights, path("digits"), "--csv",
                      path("predictions.csv")});
  ASSERT_EQ(p.status, 0) << p.err;
  std::vector<std::string> out = lines(p.out);
  ASSERT_EQ(out.size(), 50u) << p.out; // one line per image, the dot-folder left out
  std::vector<std::string> listed;
  for (const std::string &line : out)
    listed.push_back(line.substr(0, line.find(": class ")));
  std::vector<std::string> sorted = listed;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(listed, sorted);
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end()) << "an image twice";
  EXPECT_NE(p.err.find("notes.txt: cannot decode image"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("1 file skipped"), std::string::npos) << p.err;

  // The CSV: a header, then one row per line of the output, with the same class.
  std::vector<std::string> csv = lines(readFile(path("predictions.csv")));
  ASSERT_EQ(csv.size(), 51u);
  EXPECT_EQ(csv[0], "file,class,name,probability,p_0,p_1,p_2,p_3,p_4,p_5,p_6,p_7,p_8,p_9");
  int right = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    std::string file = csv[i + 1].substr(0, csv[i + 1].find(','));
    EXPECT_EQ(file, listed[i]);
    std::string rest = csv[i + 1].substr(file.size() + 1);
    std::string predicted = rest.substr(0, rest.find(','));
    EXPECT_EQ(out[i].find(": class " + predicted + " ("), listed[i].size()) << out[i];
    // The folder is the true digit: a trained model gets most of them.
    right += fs::path(file).parent_path().filename().string() == predicted;
  }
  EXPECT_GE(right, 35) << "of 50";
}

TEST_F(PredictTest, FilesAndFoldersMixAndBadInputIsRefused) {
  std::string seven = path("digits") + "/7/" +
                      fs::directory_iterator(path("digits") + "/7")->path().filename().string();
  Outcome p = netrun({"predict", FIXTURE_ADAM, "--weights", weights, seven, path("digits") + "/1"});
  ASSERT_EQ(p.status, 0) << p.err;
  std::vector<std::string> out = lines(p.out);
  ASSERT_EQ(out.size(), 6u) << p.out;
  EXPECT_EQ(out[0].rfind(seven + ": class ", 0), 0u) << out[0];

  // A file named on the command line must decode; so must every file of a
  // folder with --strict-images.
  netc::test::writeFile(path("digits") + "/1/broken.png", "\x89PNG garbage");
  Outcome strict = netrun({"predict", FIXTURE_ADAM, "--weights", weights, "--strict-images",
                           path("digits") + "/1"});
  EXPECT_EQ(strict.status, 1);
  EXPECT_NE(strict.err.find("broken.png: cannot decode image"), std::string::npos) << strict.err;
  Outcome named = netrun({"predict", FIXTURE_ADAM, "--weights", weights,
                          path("digits") + "/1/broken.png"});
  EXPECT_EQ(named.status, 1);
  EXPECT_EQ(named.out, "");
  fs::create_directories(path("empty"));
  Outcome empty = netrun({"predict", FIXTURE_ADAM, "--weights", weights, path("empty")});
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.err.find("folder has no files"), std::string::npos) << empty.err;
}

TEST_F(PredictTest, CsvQuotesFileNamesThatNeedIt) {
  fs::create_directories(path("odd"));
  std::string seven = path("digits") + "/7/" +
                      fs::directory_iterator(path("digits") + "/7")->path().filename().string();
  fs::copy_file(seven, path("odd") + "/a, \"b\".png");
  Outcome p = netrun({"predict", FIXTURE_ADAM, "--weights", weights, path("odd"), "--csv",
                      path("odd.csv")});
  ASSERT_EQ(p.status, 0) << p.err;
  std::vector<std::string> csv = lines(readFile(path("odd.csv")));
  ASSERT_EQ(csv.size(), 2u);
  std::string quoted = "\"" + path("odd") + "/a, \"\"b\"\".png\",";
  EXPECT_EQ(csv[1].rfind(quoted, 0), 0u) << csv[1];
}

TEST_F(PredictTest, EvalOutWritesPredictionsAndTheConfusionMatrix) {
  Outcome e = netrun({"eval", FIXTURE_ADAM, "--weights", weights, "--data", path("digits"),
                      "--out", path("eval")});
  ASSERT_EQ(e.status, 0) << e.err;
  // The text's confusion matrix: the 10 lines after its heading.
  std::vector<std::string> out = lines(e.out);
  auto heading = std::find(out.begin(), out.end(),
                           "confusion matrix (rows: true class, columns: predicted)");
  ASSERT_GE(out.end() - heading, 12) << e.out;
  std::vector<int64_t> diagonal;
  for (int c = 0; c < 10; ++c) {
    std::istringstream row(heading[2 + c]);
    int64_t label, value = 0;
    row >> label;
    for (int column = 0; column <= c; ++column)
      row >> value;
    diagonal.push_back(value);
  }
  // predictions.csv: one row per image (the folder's files), whose right
  // answers per class are that diagonal.
  std::vector<std::string> csv = lines(readFile(path("eval") + "/predictions.csv"));
  ASSERT_EQ(csv.size(), 51u);
  EXPECT_EQ(csv[0], "image,true_class,true_name,predicted_class,predicted_name,probability");
  std::vector<int64_t> right(10, 0);
  for (size_t i = 1; i < csv.size(); ++i) {
    std::vector<std::string> f;
    std::istringstream row(csv[i]);
    for (std::string field; std::getline(row, field, ',');)
      f.push_back(field);
    ASSERT_EQ(f.size(), 6u) << csv[i];
    EXPECT_EQ(fs::path(f[0]).parent_path().filename().string(), f[2]) << "the folder is the class";
    EXPECT_EQ(f[1], f[2]) << "the checkpoint-less folder names its classes by their folders";
    right[size_t(std::stoi(f[1]))] += f[1] == f[3];
    double p = std::stod(f[5]);
    EXPECT_TRUE(p > 0.1 && p <= 1) << csv[i];
  }
  EXPECT_EQ(right, diagonal);
  Result<Image> png = decodeImage(path("eval") + "/confusion.png");
  ASSERT_TRUE(png) << png.error;
  EXPECT_EQ(png->width, 900);
}

TEST_F(PredictTest, AModelThatAlwaysSaysThreeIsWrongButOnTheThrees) {
  // The trained weights zeroed and class 3's bias raised: every image is a 3.
  Result<Checkpoint> checkpoint = readCheckpoint(weights);
  ASSERT_TRUE(checkpoint) << checkpoint.error;
  for (NamedTensor &t : checkpoint->params) {
    std::fill(t.data.begin(), t.data.end(), 0.0f);
    if (t.shape.size() == 1)
      t.data[3] = 10;
  }
  std::string threes = path("threes.ckpt");
  ASSERT_TRUE(writeCheckpoint(threes, *checkpoint));
  // --grid 50 is every image of the folder, in its order: 0 0 0 0 0 1 ... 9.
  Outcome e = netrun({"eval", FIXTURE_ADAM, "--weights", threes, "--data", path("digits"),
                      "--out", path("eval"), "--grid", "50"});
  ASSERT_EQ(e.status, 0) << e.err;
  Result<Image> png = decodeImage(path("eval") + "/predictions.png");
  ASSERT_TRUE(png) << png.error;
  ImageGridLayout layout = ImageGridLayout::of(50);
  ASSERT_EQ(png->width, layout.width());
  ASSERT_EQ(png->height, layout.height());
  for (int i = 0; i < 50; ++i) {
    // The middle of the tile's top edge: its frame.
    const uint8_t *p = png->pixels.data() +
                       (size_t(layout.tileY(i)) * size_t(png->width) +
                        size_t(layout.tileX(i) + ImageGridLayout::kTile / 2)) *
                           size_t(png->channels);
    bool green = p[1] > p[0] + 60, red = p[0] > p[1] + 100;
    if (i / 5 == 3)
      EXPECT_TRUE(green && !red) << "tile " << i << ", a 3, is marked right";
    else
      EXPECT_TRUE(red && !green) << "tile " << i << " is marked wrong";
  }
  // Another seed picks other images; the same seed the same picture.
  for (const char *seed : {"1", "2"})
    ASSERT_EQ(netrun({"eval", FIXTURE_ADAM, "--weights", threes, "--data", path("digits"),
                      "--out", path("eval-" + std::string(seed)), "--grid", "10", "--seed", seed})
                  .status,
              0);
  ASSERT_EQ(netrun({"eval", FIXTURE_ADAM, "--weights", threes, "--data", path("digits"),
                    "--out", path("eval-1b"), "--grid", "10", "--seed", "1"})
                .status,
            0);
  EXPECT_EQ(readFile(path("eval-1") + "/predictions.png"),
            readFile(path("eval-1b") + "/predictions.png"));
  EXPECT_NE(readFile(path("eval-1") + "/predictions.png"),
            readFile(path("eval-2") + "/predictions.png"));
}

} // namespace
