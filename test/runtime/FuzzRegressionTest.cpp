//===- FuzzRegressionTest.cpp - inputs the fuzzers found ------------------===//
//
// Each file under test/fuzz/crashes broke a reader once (tools/fuzz.sh found
// them); each must now be refused with a message, and cheaply.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/IDX.h"
#include "net/Runtime/Image.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <sys/resource.h>

using namespace netc::runtime;

namespace {

std::string crash(const std::string &name) {
  return std::string(NETC_SOURCE_DIR) + "/test/fuzz/crashes/" + name;
}

long peakKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// A 20-byte file whose header claims 60000 x 224 x 224 bytes: refused as
// truncated without first allocating the 3 GB it claims.
TEST(FuzzRegression, IdxHeaderClaimingGigabytesAllocatesNothing) {
  long before = peakKiB();
  auto r = readIdx(crash("fuzz-idx/oom-header-claims-3gib.idx"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
  EXPECT_LT(peakKiB() - before, 64 * 1024) << "KiB of peak memory grew while reading";
}

// A 12-byte file claiming 12 million values: refused as truncated, having
// allocated what it holds rather than a whole read chunk.
TEST(FuzzRegression, TinyIdxClaimingMegabytesIsRefusedCheaply) {
  long before = peakKiB();
  auto r = readIdx(crash("fuzz-idx/timeout-e8471d228d77fb9853720e992cc4fd93afbf28de"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("the file holds 4"), std::string::npos) << r.error;
  EXPECT_LT(peakKiB() - before, 2048) << "KiB of peak memory grew while reading";
}

// Reported as a 13 s timeout on a loaded machine (the stall was in the
// sanitizer's allocator); the file is refused at its fourth byte.
TEST(FuzzRegression, IdxOfRankZeroIsRefused) {
  auto r = readIdx(crash("fuzz-idx/timeout-8995fadf75046850957d95a1f1a49f377f57ed81"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("IDX rank 0"), std::string::npos) << r.error;
}

// A tensor shape whose product overflows int64 must not pass for its data.
TEST(FuzzRegression, CheckpointShapeOverflowIsRefused) {
  auto r = readCheckpoint(crash("fuzz-checkpoint/crash-4f07bd4ff5626b6936e0374efe6c2161cc7e890d"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("checkpoint"), std::string::npos) << r.error;
}

// A PGM header that stb_image accepts with no pixels.
TEST(FuzzRegression, ImageWithoutPixelsIsRefused) {
  auto r = decodeImage(crash("fuzz-image/crash-db4adff4c85aba053a01be37e9e4e370cbc95009"));
  if (r) {
    // If the decoder returns pixels, converting them must stay in range.
    std::vector<float> input = imageToInput(*r, 1, 28, 28, /*invert=*/false);
    ASSERT_EQ(input.size(), 784u);
    for (float v : input)
      ASSERT_TRUE(v >= 0.f && v <= 1.f) << v;
    return;
  }
  EXPECT_FALSE(r.error.empty());
}

// A 60-byte PNG whose data chunk claims a gigabyte: the decoder would size
// its buffer by the claim, so the chunk is refused before decoding.
TEST(FuzzRegression, PngChunkLongerThanTheFileIsRefused) {
  auto r = decodeImage(crash("fuzz-image/oom-3210ca32fefe04267e5e97a6ed984766ebad34f2"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("corrupt PNG: a chunk at byte 33 claims"), std::string::npos) << r.error;
}

// A 59-byte BMP claiming 1 x 10 million pixels took 25 s to "decode".
TEST(FuzzRegression, ImageClaimingMorePixelsThanItsBytesIsRefused) {
  auto r = decodeImage(crash("fuzz-image/timeout-b96c9fb9d08aed46eddf99976e9342bbb84173d2"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("pixels but the file has only 59 bytes"), std::string::npos) << r.error;
}

// A PGM header number that overflows the decoder's int arithmetic.
TEST(FuzzRegression, PgmHeaderWithAHugeNumberIsRefused) {
  auto r = decodeImage(crash("fuzz-image/crash-4a893f4585ac8ea7d402a0761d142994eaba083b"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("corrupt PGM/PPM header"), std::string::npos) << r.error;
}

// The same with the lying chunk cut short: its length field alone is in the file.
TEST(FuzzRegression, TruncatedPngChunkClaimingMegabytesIsRefused) {
  auto r = decodeImage(crash("fuzz-image/oom-05c1598856ce7845446ab2587a3058b2ef7bd2ed"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("corrupt PNG: a chunk at byte 33 claims"), std::string::npos) << r.error;
}

// A 56-byte top-down BMP (height field 0xff000000, i.e. -16777216) took 12 s
// to "decode": the negative height passed the pixel-count check.
TEST(FuzzRegression, TopDownBmpClaimingMorePixelsThanItsBytesIsRefused) {
  auto r = decodeImage(crash("fuzz-image/timeout-92a6d3c248d5f82e9b80da7354a250365962a6b0"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("1x16777216 pixels but the file has only 56 bytes"), std::string::npos)
      << r.error;
}

// A PNG whose first IDAT chunk is empty: stb_image would memcpy into its
// unallocated (null) data buffer.
TEST(FuzzRegression, PngWithAnEmptyFirstIdatIsRefused) {
  auto r = decodeImage(crash("fuzz-image/crash-2f70f86189443a4a7e7fb4e636c163576db83334"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("an empty IDAT chunk at byte 62 before the image data"),
            std::string::npos)
      << r.error;
}

// Every committed input, named above or not, is answered by its reader:
// an image refused with a message naming the file, or decoded to a small
// picture (a refusal costs no decoding time, so the run stays fast).
TEST(FuzzRegression, EveryCommittedImageInputIsRefusedOrSmall) {
  namespace fs = std::filesystem;
  int seen = 0;
  for (const auto &entry : fs::directory_iterator(crash("fuzz-image"))) {
    std::string path = entry.path().string();
    auto r = decodeImage(path);
    ++seen;
    if (!r) {
      EXPECT_EQ(r.error.rfind(path + ": ", 0), 0u) << r.error;
      continue;
    }
    EXPECT_LE(int64_t(r->width) * r->height, 1 << 16) << path;
  }
  EXPECT_GT(seen, 0);
}

} // namespace
