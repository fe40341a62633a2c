//===- IDXTest.cpp - The IDX reader on good, hostile and real files -------===//

#include "net/Runtime/IDX.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace netc::runtime;
namespace fs = std::filesystem;

namespace {

class IdxTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("netc-idx-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  static std::vector<uint8_t> header(uint8_t type, std::vector<uint32_t> dims) {
    std::vector<uint8_t> bytes = {0, 0, type, uint8_t(dims.size())};
    for (uint32_t d : dims)
      for (int shift : {24, 16, 8, 0})
        bytes.push_back(uint8_t(d >> shift));
    return bytes;
  }

  std::string write(const std::string &name, const std::vector<uint8_t> &bytes) {
    std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    return path;
  }

  std::string writeGzip(const std::string &name, const std::vector<uint8_t> &bytes) {
    std::string path = (dir / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
    return path;
  }

  /// An images file of `count` 2x3 images whose pixels count up, and labels.
  std::pair<std::vector<uint8_t>, std::vector<uint8_t>> smallPair(uint32_t count) {
    auto images = header(0x08, {count, 2, 3});
    for (uint32_t i = 0; i < count * 6; ++i)
      images.push_back(uint8_t(i));
    auto labels = header(0x08, {count});
    for (uint32_t i = 0; i < count; ++i)
      labels.push_back(uint8_t(i % 10));
    return {images, labels};
  }

  fs::path dir;
};

TEST_F(IdxTest, ReadsPlainAndGzipAlike) {
  auto [images, labels] = smallPair(4);
  auto plain = readIdx(write("a", images));
  auto gz = readIdx(writeGzip("a.gz", images));
  ASSERT_TRUE(plain) << plain.error;
  ASSERT_TRUE(gz) << gz.error;
  EXPECT_EQ(plain->dims, (std::vector<uint32_t>{4, 2, 3}));
  EXPECT_EQ(plain->data.size(), 24u);
  EXPECT_EQ(plain->data[23], 23);
  EXPECT_EQ(plain->data, gz->data);
  EXPECT_EQ(plain->dims, gz->dims);
}

TEST_F(IdxTest, RefusesWrongMagic) {
  auto r = readIdx(write("x", {0x50, 0x4b, 3, 4, 0, 0}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("not an IDX file"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(dir.string()), std::string::npos) << "names the file: " << r.error;
}

TEST_F(IdxTest, RefusesUnsupportedTypeAndRank) {
  auto floats = readIdx(write("f", header(0x0D, {1})));
  ASSERT_FALSE(floats);
  EXPECT_NE(floats.error.find("0x0d is not supported"), std::string::npos) << floats.error;
  auto rank = readIdx(write("r", {0, 0, 8, 9}));
  ASSERT_FALSE(rank);
  EXPECT_NE(rank.error.find("rank 9"), std::string::npos) << rank.error;
}

TEST_F(IdxTest, RefusesTruncatedFiles) {
  auto [images, labels] = smallPair(4);
  images.resize(images.size() - 5);
  auto r = readIdx(write("t", images));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("truncated: the header claims 24 values, the file holds 19"),
            std::string::npos)
      << r.error;
  auto header3 = readIdx(write("h", {0, 0, 8, 3, 0, 0}));
  ASSERT_FALSE(header3);
  EXPECT_NE(header3.error.find("truncated in the header"), std::string::npos);
  auto empty = readIdx(write("e", {}));
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error.find("truncated: 0 bytes"), std::string::npos) << empty.error;
}

TEST_F(IdxTest, RefusesTrailingData) {
  auto [images, labels] = smallPair(2);
  images.push_back(7);
  auto r = readIdx(write("t", images));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("more data than the header claims"), std::string::npos) << r.error;
}

TEST_F(IdxTest, RefusesAbsurdHeadersWithoutAllocating) {
  // 4 billion images of 60000x60000: refused from the header alone.
  auto r = readIdx(write("huge", header(0x08, {4000000000u, 60000, 60000})));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("refused"), std::string::npos) << r.error;
  auto zero = readIdx(write("zero", header(0x08, {0, 28, 28})));
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error.find("dimension 1 is 0"), std::string::npos) << zero.error;
}

TEST_F(IdxTest, PairChecksCountsAndRanks) {
  auto [images, labels] = smallPair(4);
  auto [images3, labels3] = smallPair(3);
  auto ok = readIdxPair(write("i", images), write("l", labels));
  ASSERT_TRUE(ok) << ok.error;
  EXPECT_EQ(ok->count, 4u);
  EXPECT_EQ(ok->height, 2u);
  EXPECT_EQ(ok->width, 3u);
  EXPECT_EQ(ok->labels[3], 3);

  auto mismatch = readIdxPair(write("i", images), write("l3", labels3));
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error.find("3 labels for the 4 images"), std::string::npos)
      << mismatch.error;

  auto swapped = readIdxPair(write("l", labels), write("i", images));
  ASSERT_FALSE(swapped);
  EXPECT_NE(swapped.error.find("images need 3 dimensions"), std::string::npos)
      << swapped.error;
}

TEST_F(IdxTest, DatasetDirectoryNeedsAllFourFiles) {
  auto [images, labels] = smallPair(4);
  write("train-images-idx3-ubyte", images);
  writeGzip("train-labels-idx1-ubyte.gz", labels);
  auto missing = readIdxDataset(dir.string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error.find("t10k-images-idx3-ubyte"), std::string::npos)
      << missing.error;
  write("t10k-images-idx3-ubyte", images);
  write("t10k-labels-idx1-ubyte", labels);
  auto ok = readIdxDataset(dir.string());
  ASSERT_TRUE(ok) << ok.error;
  EXPECT_EQ(ok->train.count, 4u);
  EXPECT_EQ(ok->test.count, 4u);
}

TEST_F(IdxTest, FindDatasetSaysWhereItLooked) {
  ::setenv("NETC_DATA", dir.c_str(), 1);
  fs::create_directories(dir / "digits");
  auto found = findDataset("digits");
  ASSERT_TRUE(found) << found.error;
  EXPECT_EQ(*found, (dir / "digits").string());
  auto missing = findDataset("no-such-set");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error.find((dir / "no-such-set").string()), std::string::npos)
      << missing.error;
  EXPECT_NE(missing.error.find("./data/no-such-set"), std::string::npos) << missing.error;
  EXPECT_NE(missing.error.find("/netc/datasets/no-such-set"), std::string::npos) << missing.error;
  EXPECT_NE(missing.error.find("/usr/share/datasets/no-such-set"), std::string::npos)
      << missing.error;
  ::unsetenv("NETC_DATA");
}

TEST_F(IdxTest, FindDatasetLooksInTheUsersCacheAfterTheOthers) {
  const char *oldCache = std::getenv("XDG_CACHE_HOME");
  std::string savedCache = oldCache ? oldCache : "";
  ::unsetenv("NETC_DATA");
  ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  fs::create_directories(dir / "netc" / "datasets" / "cached-digits");
  std::vector<std::string> path = datasetSearchPath("cached-digits");
  ASSERT_GE(path.size(), 3u);
  EXPECT_EQ(path.front(), "./data/cached-digits");
  EXPECT_EQ(path.back(), "/usr/share/datasets/cached-digits");
  auto found = findDataset("cached-digits");
  ASSERT_TRUE(found) << found.error;
  EXPECT_EQ(*found, (dir / "netc" / "datasets" / "cached-digits").string());
  // $NETC_DATA comes first.
  ::setenv("NETC_DATA", (dir / "first").c_str(), 1);
  fs::create_directories(dir / "first" / "cached-digits");
  found = findDataset("cached-digits");
  ASSERT_TRUE(found) << found.error;
  EXPECT_EQ(*found, (dir / "first" / "cached-digits").string());
  ::unsetenv("NETC_DATA");
  if (oldCache)
    ::setenv("XDG_CACHE_HOME", savedCache.c_str(), 1);
  else
    ::unsetenv("XDG_CACHE_HOME");
}

/// The real files that ./setup.sh installs.
std::string sourceData(const std::string &name) {
  return std::string(NETC_SOURCE_DIR) + "/data/" + name;
}

TEST(RealData, Mnist) {
  std::string dir = sourceData("mnist");
  if (!fs::exists(dir))
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  auto mnist = readIdxDataset(dir);
  ASSERT_TRUE(mnist) << mnist.error;
  EXPECT_EQ(mnist->train.count, 60000u);
  EXPECT_EQ(mnist->test.count, 10000u);
  EXPECT_EQ(mnist->train.height, 28u);
  EXPECT_EQ(mnist->train.width, 28u);
  // The first training digit is a 5 and the first test digit a 7.
  EXPECT_EQ(mnist->train.labels[0], 5);
  EXPECT_EQ(mnist->test.labels[0], 7);
  std::vector<int> perClass(10);
  for (uint8_t l : mnist->train.labels) {
    ASSERT_LT(l, 10);
    ++perClass[l];
  }
  EXPECT_EQ(perClass[1], 6742); // the most common digit in MNIST's training set
}

TEST(RealData, FashionMnistFromGzip) {
  std::string dir = sourceData("fashion-mnist");
  if (!fs::exists(dir))
    GTEST_SKIP() << "data/fashion-mnist is not installed (./setup.sh links it)";
  auto fashion = readIdxDataset(dir);
  ASSERT_TRUE(fashion) << fashion.error;
  EXPECT_EQ(fashion->train.count, 60000u);
  EXPECT_EQ(fashion->test.count, 10000u);
  // Fashion-MNIST is balanced: 6000 of each class in training.
  std::vector<int> perClass(10);
  for (uint8_t l : fashion->train.labels)
    ++perClass[l];
  for (int c = 0; c < 10; ++c)
    EXPECT_EQ(perClass[c], 6000) << "class " << c;
}

} // namespace
