//===- ImageFolderTest.cpp - Folders of images and export-images ----------===//

#include "TestSupport.h"

#include "net/Runtime/Checkpoint.h"
#include "Netrun.h"
#include "net/Runtime/ImageFolder.h"

#include <zlib.h>

#include <sstream>
#include <tuple>

using namespace netc::runtime;
using netc::test::TempDirTest;
namespace fs = std::filesystem;

namespace {

/// A PNG of any bit depth and colour type, written by hand (stb_image_write
/// writes only 8 bits): `samples` holds one value per channel per pixel,
/// below 2^depth.
std::string pngBytes(int width, int height, int depth, int colourType, int channels,
                     const std::vector<uint32_t> &samples) {
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  auto chunk = [&](const std::string &type, const std::string &data) {
    std::string body = type + data;
    uLong crc = ::crc32(0, reinterpret_cast<const Bytef *>(body.data()), uInt(body.size()));
    return be32(uint32_t(data.size())) + body + be32(uint32_t(crc));
  };
  std::string ihdr = be32(uint32_t(width)) + be32(uint32_t(height)) +
                     std::string{char(depth), char(colourType), 0, 0, 0};
  std::string raw;
  size_t k = 0;
  for (int y = 0; y < height; ++y) {
    raw += '\0'; // filter: none
    uint32_t bits = 0, filled = 0;
    for (int i = 0; i < width * channels; ++i) {
      uint32_t v = samples[k++];
      if (depth == 16) {
        raw += char(v >> 8);
        raw += char(v);
        continue;
      }
      bits = (bits << depth) | v;
      filled += uint32_t(depth);
      if (filled == 8) {
        raw += char(bits);
        bits = filled = 0;
      }
    }
    if (filled)
      raw += char(bits << (8 - filled));
  }
  uLongf size = compressBound(uLong(raw.size()));
  std::string packed(size, '\0');
  compress(reinterpret_cast<Bytef *>(packed.data()), &size,
           reinterpret_cast<const Bytef *>(raw.data()), uLong(raw.size()));
  packed.resize(size);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", packed) +
         chunk("IEND", "");
}

/// A uniform 8-bit image of `channels` (1 to 4) with the value `v` in each.
void writeUniform(const std::string &path, int width, int height, int channels,
                  std::vector<uint8_t> v) {
  std::vector<uint8_t> pixels;
  for (int i = 0; i < width * height; ++i)
    pixels.insert(pixels.end(), v.begin(), v.begin() + channels);
  ASSERT_TRUE(writePng(path, width, height, channels, pixels.data()));
}

class ImageFolderTest : public TempDirTest {
protected:
  std::string mkdir(const std::string &name) {
    fs::create_directories(path(name));
    return path(name);
  }
  Result<ImageFolder> load(const std::string &dir, ImageGeometry g, bool strict = false,
                           int32_t maxClasses = 10) {
    ImageFolderOptions o;
    o.strict = strict;
    o.maxClasses = maxClasses;
    o.onWarning = [this](const std::string &w) { warnings.push_back(w); };
    return loadImageFolder(dir, g, o);
  }
  std::vector<std::string> warnings;
};

const ImageGeometry kGrey28{1, 28, 28};

TEST_F(ImageFolderTest, ClassesAreTheSortedSubFoldersAndLabelsTheirPositions) {
  // Created out of order; a hidden folder and a hidden file are ignored.
  for (const char *c : {"c_eel", "a_cat", "b_dog", ".cache"})
    mkdir("set/" + std::string(c));
  writeUniform(path("set/c_eel/1.png"), 28, 28, 1, {30});
  writeUniform(path("set/a_cat/2.png"), 28, 28, 1, {11});
  writeUniform(path("set/a_cat/1.png"), 28, 28, 1, {10});
  writeUniform(path("set/b_dog/x.png"), 28, 28, 1, {20});
  mkdir("set/b_dog/more");
  writeUniform(path("set/b_dog/more/y.png"), 28, 28, 1, {21}); // sub-folders count too
  writeUniform(path("set/b_dog/.hidden.png"), 28, 28, 1, {99});
  Result<ImageFolder> f = load(path("set"), kGrey28);
  ASSERT_TRUE(f) << f.error;
  EXPECT_EQ(f->classNames, (std::vector<std::string>{"a_cat", "b_dog", "c_eel"}));
  EXPECT_EQ(f->samples.labels, (std::vector<int32_t>{0, 0, 1, 1, 2}));
  EXPECT_EQ(f->samples.count, 5);
  EXPECT_EQ(f->samples.sampleSize, 784);
  std::vector<int> firstPixels;
  for (int64_t i = 0; i < f->samples.count; ++i)
    firstPixels.push_back(f->samples.sample(i)[0]);
  EXPECT_EQ(firstPixels, (std::vector<int>{10, 11, 21, 20, 30})); // sorted by path
  EXPECT_EQ(f->files[2], path("set/b_dog/more/y.png"));
  EXPECT_EQ(f->classStart, (std::vector<int64_t>{0, 2, 4, 5}));
  EXPECT_TRUE(warnings.empty());
}

TEST_F(ImageFolderTest, ImagesAreConvertedToTheModelsChannelsAndResized) {
  mkdir("set/a");
  mkdir("set/b");
  writeUniform(path("set/a/rgb.png"), 56, 40, 3, {200, 100, 50});
  writeUniform(path("set/a/rgba.png"), 7, 7, 4, {200, 100, 50, 0}); // alpha dropped
  writeUniform(path("set/a/grey_alpha.png"), 100, 3, 2, {77, 255});
  // A checkerboard shrunk from 56x56 by area averaging.
  std::vector<uint8_t> checker(56 * 56);
  for (int y = 0; y < 56; ++y)
    for (int x = 0; x < 56; ++x)
      checker[size_t(y * 56 + x)] = (x + y) % 2 ? 255 : 0;
  ASSERT_TRUE(writePng(path("set/b/checker.png"), 56, 56, 1, checker.data()));
  // 16-bit grey (0xABCD reads as 0xAB), 1-bit grey (1 is white) and 16-bit RGB.
  netc::test::writeFile(path("set/b/grey16.png"),
                       pngBytes(3, 2, 16, 0, 1, std::vector<uint32_t>(6, 0xABCD)));
  netc::test::writeFile(path("set/b/grey1.png"),
                       pngBytes(9, 9, 1, 0, 1, std::vector<uint32_t>(81, 1)));
  std::vector<uint32_t> rgb16;
  for (int i = 0; i < 16; ++i)
    rgb16.insert(rgb16.end(), {0xFFFF, 0x0000, 0x8000});
  netc::test::writeFile(path("set/b/rgb16.png"), pngBytes(4, 4, 16, 2, 3, rgb16));

  Result<ImageFolder> grey = load(path("set"), kGrey28);
  ASSERT_TRUE(grey) << grey.error;
  ASSERT_EQ(grey->samples.count, 7) << (warnings.empty() ? "" : warnings[0]);
  auto uniform = [&](const Samples &s, int64_t i) {
    const uint8_t *p = s.sample(i);
    return std::all_of(p, p + s.sampleSize, [&](uint8_t v) { return v == p[0]; }) ? int(p[0])
                                                                                    : -1;
  };
  // Sorted: a/grey_alpha, a/rgb, a/rgba, b/checker, b/grey1, b/grey16, b/rgb16.
  EXPECT_EQ(uniform(grey->samples, 0), 77);
  EXPECT_EQ(uniform(grey->samples, 1), 124); // ITU-R 601: .299 * 200 + .587 * 100 + .114 * 50
  EXPECT_EQ(uniform(grey->samples, 2), 124);
  EXPECT_EQ(uniform(grey->samples, 3), 128); // each 2x2 area averages 127.5
  EXPECT_EQ(uniform(grey->samples, 4), 255);
  EXPECT_EQ(uniform(grey->samples, 5), 0xAB);
  EXPECT_EQ(uniform(grey->samples, 6), 91); // .299 * 255 + .114 * 128

  Result<ImageFolder> colour = load(path("set"), ImageGeometry{3, 14, 10});
  ASSERT_TRUE(colour) << colour.error;
  EXPECT_EQ(colour->samples.sampleSize, 3 * 14 * 10);
  const uint8_t *greyAlpha = colour->samples.sample(0), *rgb = colour->samples.sample(1);
  EXPECT_EQ(int(greyAlpha[0]), 77); // grey copied into each channel
  EXPECT_EQ(int(greyAlpha[140]), 77);
  EXPECT_EQ(int(greyAlpha[280]), 77);
  EXPECT_EQ(int(rgb[0]), 200); // CHW planes
  EXPECT_EQ(int(rgb[140]), 100);
  EXPECT_EQ(int(rgb[280]), 50);
}

TEST_F(ImageFolderTest, AFileThatIsNotAnImageIsSkippedWithAWarningOrRefused) {
  mkdir("set/a");
  mkdir("set/b");
  writeUniform(path("set/a/1.png"), 28, 28, 1, {1});
  writeUniform(path("set/b/1.png"), 28, 28, 1, {2});
  netc::test::writeFile(path("set/b/notes.txt"), "not an image");
  netc::test::writeFile(path("set/b/cut.png"), "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR");
  Result<ImageFolder> f = load(path("set"), kGrey28);
  ASSERT_TRUE(f) << f.error;
  EXPECT_EQ(f->samples.count, 2);
  EXPECT_EQ(f->skipped, 2);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0].rfind(path("set/b/cut.png") + ": ", 0), 0u) << warnings[0];
  EXPECT_EQ(warnings[1].rfind(path("set/b/notes.txt") + ": cannot decode image", 0), 0u)
      << warnings[1];
  EXPECT_NE(warnings[1].find("; skipped"), std::string::npos);

  Result<ImageFolder> strict = load(path("set"), kGrey28, /*strict=*/true);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error.rfind(path("set/b/cut.png") + ": ", 0), 0u) << strict.error;
  EXPECT_NE(strict.error.find("--strict-images"), std::string::npos) << strict.error;
  EXPECT_EQ(strict.error.find('\n'), std::string::npos);
}

TEST_F(ImageFolderTest, BadFoldersAreRefusedNamingTheFolder) {
  auto error = [&](const std::string &dir, int32_t maxClasses = 10) {
    Result<ImageFolder> f = load(dir, kGrey28, false, maxClasses);
    EXPECT_FALSE(f);
    EXPECT_EQ(f.error.find('\n'), std::string::npos);
    return f.error;
  };
  EXPECT_EQ(error(path("absent")), path("absent") + ": no such directory");
  mkdir("flat");
  writeUniform(path("flat/1.png"), 28, 28, 1, {1});
  EXPECT_EQ(error(path("flat")).rfind(path("flat") + ": has no class sub-folders", 0), 0u);
  mkdir("one/only");
  writeUniform(path("one/only/1.png"), 28, 28, 1, {1});
  EXPECT_EQ(error(path("one")),
            path("one") + ": has one class sub-folder ('only'); a classifier needs at least two");
  mkdir("empty/a");
  mkdir("empty/b");
  writeUniform(path("empty/a/1.png"), 28, 28, 1, {1});
  EXPECT_EQ(error(path("empty")), path("empty/b") + ": class folder has no images");
  netc::test::writeFile(path("empty/b/junk.bin"), "junk");
  EXPECT_EQ(error(path("empty")),
            path("empty") + "/b: none of the class folder's 1 files is an image");
  for (const char *c : {"a", "b", "c"}) {
    mkdir("three/" + std::string(c));
    writeUniform(path("three/" + std::string(c) + "/1.png"), 28, 28, 1, {1});
  }
  EXPECT_EQ(error(path("three"), 2),
            path("three") + ": has 3 class sub-folders, more than the model's 2 classes");
}

TEST_F(ImageFolderTest, ValidationSplitTakesTheFirstFilesOfEachClassAsKeras) {
  for (std::string c : {"a", "b"}) {
    mkdir("set/" + c);
    for (int i = 0; i < 10; ++i)
      writeUniform(path("set/" + c + "/" + std::to_string(i) + ".png"), 28, 28, 1,
                   {uint8_t((c == "a" ? 0 : 100) + i)});
  }
  Result<ImageFolder> f = load(path("set"), kGrey28);
  ASSERT_TRUE(f) << f.error;
  Samples held = splitFolderValidation(*f, 0.25); // int(0.25 * 10) = 2 of each class
  ASSERT_EQ(held.count, 4);
  EXPECT_EQ(held.labels, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(int(held.sample(0)[0]), 0);
  EXPECT_EQ(int(held.sample(2)[0]), 100);
  EXPECT_EQ(f->samples.count, 16);
  EXPECT_EQ(int(f->samples.sample(0)[0]), 2);
  EXPECT_EQ(f->files.size(), 16u);
}

/// export-images writes MNIST as PNGs that load back as the IDX pixels.
TEST_F(ImageFolderTest, ExportedMnistLoadsBackAsTheIdxPixels) {
  SKIP_WITHOUT_MNIST();
  std::ostringstream out, err;
  int status = runNetrun({"export-images", "--data", netc::test::mnistDir(), "--out",
                          path("digits"), "--per-class", "7", "--split", "test"},
                         DriverStreams{out, err, false});
  ASSERT_EQ(status, 0) << err.str();
  EXPECT_NE(out.str().find("wrote 70 PNG images of the test split"), std::string::npos)
      << out.str();
  for (const auto &entry : fs::recursive_directory_iterator(path("digits")))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos);
  Result<IdxDataset> mnist = readIdxDataset(netc::test::mnistDir());
  ASSERT_TRUE(mnist) << mnist.error;
  Result<ImageFolder> f = load(path("digits"), kGrey28);
  ASSERT_TRUE(f) << f.error;
  ASSERT_EQ(f->samples.count, 70);
  EXPECT_EQ(f->classNames.front(), "0");
  EXPECT_EQ(f->classNames.back(), "9");
  for (int64_t i = 0; i < f->samples.count; ++i) {
    // DIR/<label>/<index in the IDX file>.png
    fs::path file(f->files[size_t(i)]);
    size_t index = std::stoul(file.stem().string());
    int32_t label = std::stoi(file.parent_path().filename().string());
    EXPECT_EQ(f->samples.labels[size_t(i)], label);
    EXPECT_EQ(int(mnist->test.labels[index]), label);
    EXPECT_TRUE(std::equal(f->samples.sample(i), f->samples.sample(i) + 784,
                           mnist->test.pixels.begin() + std::ptrdiff_t(index * 784)))
        << file;
  }
  // The first 7 of each class, in file order.
  EXPECT_EQ(fs::path(f->files[0]).filename(), "00003.png"); // test image 3 is the first 0

  // --classes picks labels; their folders sort as the labels do.
  status = runNetrun({"export-images", "--data", netc::test::mnistDir(), "--out",
                      path("some"), "--per-class", "2", "--classes", "7,3"},
                     DriverStreams{out, err, false});
  ASSERT_EQ(status, 0) << err.str();
  std::vector<std::string> folders;
  for (const auto &entry : fs::directory_iterator(path("some")))
    folders.push_back(entry.path().filename().string());
  std::sort(folders.begin(), folders.end());
  EXPECT_EQ(folders, (std::vector<std::string>{"3", "7"}));
  std::ostringstream out2, err2;
  EXPECT_EQ(runNetrun({"export-images", "--data", netc::test::mnistDir(), "--out", path("x"),
                       "--classes", "12"},
                      DriverStreams{out2, err2, false}),
            1);
  EXPECT_NE(err2.str().find("has no class 12 (its labels are 0 to 9)"), std::string::npos)
      << err2.str();
}

/// netrun train, eval and predict on a folder, through the command line.
TEST_F(ImageFolderTest, NetrunTrainsEvaluatesAndPredictsFromAFolder) {
  SKIP_WITHOUT_MNIST();
  auto netrun = [](std::vector<std::string> args) {
    std::ostringstream out, err;
    int status = runNetrun(args, DriverStreams{out, err, false});
    return std::make_tuple(status, out.str(), err.str());
  };
  auto [exported, o1, e1] = netrun({"export-images", "--data", netc::test::mnistDir(), "--out",
                                    path("digits"), "--per-class", "30"});
  ASSERT_EQ(exported, 0) << e1;
  std::string out = path("run");
  auto [noSplit, o2, e2] = netrun({"train", FIXTURE_ADAM, "--data", path("digits"), "--out", out});
  EXPECT_EQ(noSplit, 1);
  EXPECT_EQ(e2, "netrun: error: " + path("digits") +
                    ": an image folder has no test split; give --validation-split F or "
                    "--validation-data DIR\n");
  fs::create_directories(path("other/a"));
  fs::create_directories(path("other/b"));
  writeUniform(path("other/a/1.png"), 28, 28, 1, {1});
  writeUniform(path("other/b/1.png"), 28, 28, 1, {1});
  auto [mismatch, o3, e3] = netrun({"train", FIXTURE_ADAM, "--data", path("digits"),
                                    "--validation-data", path("other"), "--out", out});
  EXPECT_EQ(mismatch, 1);
  EXPECT_EQ(e3.find("get no images"), std::string::npos) << e3; // for the training folder only
  // A training folder of fewer classes than the model's outputs is read with
  // a note (here before the split is refused: one image a class).
  auto [fewer, o14, e14] = netrun({"train", FIXTURE_ADAM, "--data", path("other"),
                                   "--validation-split", "0.5", "--out", out});
  EXPECT_EQ(fewer, 1);
  EXPECT_NE(e14.find("netrun: note: " + std::string(FIXTURE_ADAM) + " has 10 outputs and " +
                     path("other") + " 2 classes (a, b): outputs 2-9 get no images\n"),
            std::string::npos)
      << e14;
  EXPECT_NE(e3.find(path("other") + ": classes (a, b) differ from those of " + path("digits") +
                    " (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)"),
            std::string::npos)
      << e3;
  auto [badFill, o4, e4] = netrun({"train", FIXTURE_ADAM, "--data", path("digits"),
                                   "--fill-value", "3"});
  EXPECT_NE(e4.find("option '--fill-value' applies only to --fill-mode constant"),
            std::string::npos)
      << e4;
  auto [badZoom, o5, e5] = netrun({"train", FIXTURE_ADAM, "--data", path("digits"),
                                   "--zoom-range", "[1.2,0.8]"});
  EXPECT_NE(e5.find("option '--zoom-range' expects"), std::string::npos) << e5;
  // A run's folder inside the image folder would become a class of it (its
  // plots images of that class): refused before anything is written, for
  // train (as the data or the validation data) and for eval --out.
  auto inside = [&](const std::string &out, const std::string &folder) {
    return "netrun: error: --out " + out + " is inside the image folder " + folder +
           ": what is written there would be read as its images or classes next time; "
           "give a place outside it\n";
  };
  auto [runInside, o11, e11] = netrun({"train", FIXTURE_ADAM, "--data", path("digits"),
                                       "--validation-split", "0.2", "--out", path("digits/run")});
  EXPECT_EQ(runInside, 1);
  EXPECT_EQ(e11, inside(path("digits/run"), path("digits")));
  auto [runInOther, o12, e12] = netrun({"train", FIXTURE_ADAM, "--data", path("digits"),
                                        "--validation-data", path("other"), "--out",
                                        path("other/../other/a/run")});
  EXPECT_EQ(runInOther, 1);
  EXPECT_EQ(e12, inside(path("other/../other/a/run"), path("other")));
  EXPECT_FALSE(fs::exists(path("digits/run")));
  EXPECT_FALSE(fs::exists(path("other/a/run")));

  auto [trained, o6, e6] = netrun(
      {"train", FIXTURE_ADAM, "--data", path("digits"), "--validation-split", "0.2", "--epochs",
       "2", "--batch", "20", "--rotation-range", "10", "--zoom-range", "[0.9,1.1]",
       "--fill-mode", "constant", "--fill-value", "0", "--horizontal-flip", "--out", out});
  ASSERT_EQ(trained, 0) << e6;
  EXPECT_NE(o6.find("Found 300 images of 10 classes in " + path("digits")), std::string::npos)
      << o6;
  EXPECT_EQ(e6.find("get no images"), std::string::npos) << e6;
  EXPECT_NE(o6.find("validating on 60 (the first 20.0% of each class)"), std::string::npos) << o6;
  Result<Checkpoint> last = readCheckpoint(out + "/last.ckpt");
  ASSERT_TRUE(last) << last.error;
  EXPECT_EQ(last->classNames.size(), 10u);
  EXPECT_EQ(last->classNames[7], "7");
  EXPECT_EQ(last->run.augment.zoomLow, 0.9);
  EXPECT_TRUE(last->run.augment.horizontalFlip);
  std::string config = netc::test::readFile(out + "/config.txt");
  for (const char *line : {"augmentation = true", "rotation-range = 10", "zoom-range = [0.9,1.1]",
                           "horizontal-flip = true", "fill-mode = constant", "fill-value = 0",
                           "interpolation = bilinear", "strict-images = false"})
    EXPECT_NE(config.find(std::string("\n") + line + "\n"), std::string::npos) << line << config;
  // --resume takes the augmentation from the checkpoint.
  auto [resumed, o7, e7] = netrun({"train", FIXTURE_ADAM, "--epochs", "3", "--out", out,
                                   "--resume"});
  ASSERT_EQ(resumed, 0) << e7;
  EXPECT_NE(netc::test::readFile(out + "/config.txt").find("\nrotation-range = 10\n"),
            std::string::npos);

  auto [evaluated, o8, e8] = netrun({"eval", FIXTURE_ADAM, "--weights", out + "/last.ckpt",
                                     "--data", path("digits")});
  ASSERT_EQ(evaluated, 0) << e8;
  EXPECT_NE(o8.find("(image folder), 300 images: loss"), std::string::npos) << o8;
  EXPECT_NE(o8.find("classes: 0 0, 1 1, 2 2"), std::string::npos) << o8;
  auto [evalInside, o13, e13] = netrun({"eval", FIXTURE_ADAM, "--weights", out + "/last.ckpt",
                                        "--data", path("digits"), "--out", path("digits/7/x")});
  EXPECT_EQ(evalInside, 1);
  EXPECT_EQ(e13, inside(path("digits/7/x"), path("digits")));
  auto [wrongEval, o9, e9] = netrun({"eval", FIXTURE_ADAM, "--weights", out + "/last.ckpt",
                                     "--data", path("other")});
  EXPECT_EQ(wrongEval, 1);
  EXPECT_NE(e9.find("differ from those " + out + "/last.ckpt was trained on"), std::string::npos)
      << e9;
  std::string seven;
  for (const auto &entry : fs::directory_iterator(path("digits/7")))
    seven = entry.path().string();
  auto [predicted, o10, e10] = netrun({"predict", FIXTURE_ADAM, "--weights", out + "/last.ckpt",
                                       seven});
  ASSERT_EQ(predicted, 0) << e10;
  EXPECT_NE(o10.find(" 9 9: 0."), std::string::npos) << o10; // labels with their names
}

} // namespace
