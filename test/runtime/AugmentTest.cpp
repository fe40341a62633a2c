//===- AugmentTest.cpp - Affine augmentation and the prefetching trainer --===//

#include "TestSupport.h"

#include "net/Runtime/Augment.h"
#include "net/Runtime/Prefetch.h"
#include "net/Runtime/Trainer.h"

#include <atomic>
#include <numeric>

using namespace netc::runtime;
using netc::test::readFile;
using netc::test::TempDirTest;

namespace {

/// `count` images of `channels` x h x w with distinct pixel values.
Samples pattern(int64_t count, int32_t channels, int32_t h, int32_t w) {
  Samples s;
  s.count = count;
  s.channels = channels;
  s.height = h;
  s.width = w;
  s.sampleSize = int64_t(channels) * h * w;
  for (int64_t i = 0; i < count * s.sampleSize; ++i)
    s.pixels.push_back(uint8_t((i * 37 + i / 7) % 251));
  for (int64_t i = 0; i < count; ++i)
    s.labels.push_back(int32_t(i % 3));
  return s;
}

std::vector<float> warp(const std::vector<uint8_t> &image, int32_t w, int32_t h,
                        const TransformParams &p, const AugmentConfig &config) {
  std::vector<float> out(image.size());
  warpImage(image.data(), 1, h, w, inverseMap(p, w, h), config, out.data());
  return out;
}

TEST(Augment, NoFlagsGiveTheExactInput) {
  Samples s = pattern(5, 3, 6, 7);
  std::vector<int64_t> order = {4, 0, 3, 1, 2};
  std::vector<float> plain(size_t(5 * s.sampleSize)), augmented(plain.size());
  std::vector<int32_t> plainLabels(5), augmentedLabels(5);
  s.gather(order, 0, 5, plain.data(), plainLabels.data());
  AugmentConfig config; // the fill and interpolation flags alone change nothing
  config.fillMode = "constant";
  config.fillValue = 255;
  config.interpolation = "nearest";
  EXPECT_FALSE(config.enabled());
  augmentBatch(s, order, 0, 5, config, /*stepSeed=*/123, {}, augmented.data(),
               augmentedLabels.data());
  EXPECT_EQ(plain, augmented);
  EXPECT_EQ(plainLabels, augmentedLabels);
  // Ranges of zero draw the neutral transform exactly.
  Random rng(9);
  EXPECT_TRUE(inverseMap(drawTransform(config, 7, 6, rng), 7, 6).identity());
}

TEST(Augment, AShiftMovesThePixelsRightAndDown) {
  const int32_t w = 9, h = 8;
  std::vector<uint8_t> image(size_t(w * h), 0);
  image[size_t(2 * w + 3)] = 200; // (x 3, y 2)
  AugmentConfig config;
  config.fillMode = "constant";
  TransformParams p;
  p.shiftX = 4;
  p.shiftY = 1;
  std::vector<float> out = warp(image, w, h, p, config);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x)
      EXPECT_EQ(out[size_t(y * w + x)], x == 7 && y == 3 ? 200.0f : 0.0f) << x << "," << y;
  // Half a pixel: bilinear shares it between two; nearest rounds 2.5 up to 3.
  p.shiftX = 0.5;
  p.shiftY = 0;
  out = warp(image, w, h, p, config);
  EXPECT_EQ(out[size_t(2 * w + 3)], 100.0f);
  EXPECT_EQ(out[size_t(2 * w + 4)], 100.0f);
  config.interpolation = "nearest";
  out = warp(image, w, h, p, config);
  EXPECT_EQ(out[size_t(2 * w + 3)], 200.0f);
  EXPECT_EQ(out[size_t(2 * w + 4)], 0.0f);
}

TEST(Augment, FlipAndQuarterTurnMapPixelsExactly) {
  const int32_t n = 5;
  std::vector<uint8_t> image(size_t(n * n));
  std::iota(image.begin(), image.end(), uint8_t(0));
  AugmentConfig config;
  config.interpolation = "nearest";
  TransformParams flip;
  flip.flip = true;
  std::vector<float> out = warp(image, n, n, flip, config);
  for (int32_t y = 0; y < n; ++y)
    for (int32_t x = 0; x < n; ++x)
      EXPECT_EQ(out[size_t(y * n + x)], float(image[size_t(y * n + (n - 1 - x))]));
  TransformParams turn;
  turn.rotation = 90;
  out = warp(image, n, n, turn, config);
  // A quarter turn maps each pixel of the square onto another, none lost.
  std::vector<float> sorted(out);
  std::sort(sorted.begin(), sorted.end());
  for (int32_t i = 0; i < n * n; ++i)
    EXPECT_EQ(sorted[size_t(i)], float(i));
  EXPECT_EQ(out[size_t(2 * n + 2)], float(image[size_t(2 * n + 2)])); // the centre stays
}

TEST(Augment, FillModesFillOutsideTheImageAsScipy) {
  std::vector<uint8_t> row = {10, 20, 30, 40}; // one row of four
  TransformParams p;
  p.shiftX = 2; // the content moves right; two pixels enter from the left
  auto filled = [&](const char *mode) {
    AugmentConfig config;
    config.fillMode = mode;
    config.fillValue = 99;
    return warp(row, 4, 1, p, config);
  };
  EXPECT_EQ(filled("nearest"), (std::vector<float>{10, 10, 10, 20}));
  EXPECT_EQ(filled("constant"), (std::vector<float>{99, 99, 10, 20}));
  EXPECT_EQ(filled("reflect"), (std::vector<float>{20, 10, 10, 20})); // ..b a | a b..
  EXPECT_EQ(filled("wrap"), (std::vector<float>{30, 40, 10, 20}));
}

TEST(Augment, DrawsAreAFunctionOfTheSeedStepAndPosition) {
  Samples s = pattern(8, 1, 28, 28);
  std::vector<int64_t> order(8);
  std::iota(order.begin(), order.end(), int64_t(0));
  AugmentConfig config;
  config.rotationRange = 20;
  config.widthShiftRange = 0.1;
  config.heightShiftRange = 0.1;
  config.zoomLow = 0.9;
  config.zoomHigh = 1.1;
  config.shearRange = 10;
  config.horizontalFlip = true;
  auto batch = [&](uint64_t seed) {
    std::vector<float> input(size_t(8 * s.sampleSize));
    std::vector<int32_t> labels(8);
    augmentBatch(s, order, 0, 8, config, seed, {}, input.data(), labels.data());
    return input;
  };
  EXPECT_EQ(batch(deriveSeed(1, 4, 10)), batch(deriveSeed(1, 4, 10)));
  EXPECT_NE(batch(deriveSeed(1, 4, 10)), batch(deriveSeed(1, 4, 11)));
  EXPECT_NE(batch(deriveSeed(1, 4, 10)), batch(deriveSeed(2, 4, 10)));
  // Each draw stays within its range.
  Random rng(3);
  for (int i = 0; i < 1000; ++i) {
    TransformParams p = drawTransform(config, 28, 28, rng);
    ASSERT_LE(std::fabs(p.rotation), 20.0);
    ASSERT_LE(std::fabs(p.shiftX), 2.8 + 1e-12);
    ASSERT_LE(std::fabs(p.shear), 10.0);
    ASSERT_GE(p.zoomX, 0.9);
    ASSERT_LE(p.zoomY, 1.1);
  }
}

TEST(Prefetch, HandsOverEveryStepInOrderWhateverTheWorkers) {
  for (int32_t workers : {1, 3}) {
    std::atomic<int> made{0};
    BatchPrefetcher prefetch(2, 40, 4, 1, workers, workers + 1,
                             [&](int64_t step, float *input, int32_t *labels) {
                               ++made;
                               std::fill(input, input + 4, float(step));
                               labels[0] = int32_t(step);
                             });
    for (int64_t step = 2; step < 40; ++step) {
      BatchPrefetcher::Batch b = prefetch.wait(step);
      ASSERT_EQ(b.labels[0], step);
      ASSERT_EQ(b.input[3], float(step));
      prefetch.release(step);
    }
    EXPECT_EQ(made.load(), 38);
  }
  // Destroyed mid-epoch, it stops its workers.
  BatchPrefetcher early(0, 1000, 4, 1, 2, 3, [](int64_t, float *, int32_t *) {});
  early.wait(0);
}

/// Training with augmentation: the same weights bit for bit whatever the
/// number of workers, and after an interruption and a resume.
class AugmentedTrainingTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (netc::test::mnistDir().empty())
      GTEST_SKIP() << "MNIST not found";
    Result<std::shared_ptr<Model>> loaded = Model::load(FIXTURE_ADAM);
    ASSERT_TRUE(loaded) << loaded.error;
    model = *loaded;
    Result<TrainTestData> read = loadIdxForModel(netc::test::mnistDir(), model->info(), 600);
    ASSERT_TRUE(read) << read.error;
    data = std::move(*read);
    data.test.count = 200;
    data.test.pixels.resize(200 * 784);
    data.test.labels.resize(200);
  }
  TrainOptions options(const std::string &out, int32_t workers) {
    TrainOptions o;
    o.epochs = 2;
    o.seed = 3;
    o.outDir = path(out);
    o.config.seed = 3;
    o.config.batch = 32;
    o.config.epochs = 2;
    o.config.augment.rotationRange = 15;
    o.config.augment.widthShiftRange = 0.1;
    o.config.augment.zoomLow = 0.9;
    o.config.augment.zoomHigh = 1.1;
    o.augmentWorkers = workers;
    return o;
  }
  Result<TrainResult> run(const TrainOptions &o, int64_t stopAfter = 0) {
    Result<std::shared_ptr<Instance>> instance =
        Instance::create(model, DeviceChoice::Cpu, 32, 1);
    EXPECT_TRUE(instance) << instance.error;
    TrainCallbacks callbacks;
    int64_t steps = 0;
    callbacks.onStep = [&](const StepProgress &) { ++steps; };
    callbacks.stopRequested = [&] { return stopAfter > 0 && steps >= stopAfter; };
    return train(**instance, data.train, data.test, o, callbacks);
  }
  std::shared_ptr<Model> model;
  TrainTestData data;
};

TEST_F(AugmentedTrainingTest, IsBitIdenticalWhateverTheWorkersAndAfterAResume) {
  ASSERT_TRUE(run(options("one", 1)));
  ASSERT_TRUE(run(options("three", 3)));
  std::string one = readFile(path("one/last.ckpt"));
  EXPECT_FALSE(one.empty());
  EXPECT_EQ(one, readFile(path("three/last.ckpt")));
  // Augmentation changes the run: the same seed without it gives other weights.
  TrainOptions plain = options("plain", 1);
  plain.config.augment = AugmentConfig();
  ASSERT_TRUE(run(plain));
  EXPECT_NE(one, readFile(path("plain/last.ckpt")));
  // Interrupted within the first epoch (step 7 of 19), then resumed.
  Result<TrainResult> cut = run(options("cut", 2), 7);
  ASSERT_TRUE(cut) << cut.error;
  ASSERT_TRUE(cut->interrupted);
  TrainOptions resume = options("cut", 2);
  resume.resume = true;
  ASSERT_TRUE(run(resume));
  EXPECT_EQ(one, readFile(path("cut/last.ckpt")));
  Result<Checkpoint> saved = readCheckpoint(path("cut/last.ckpt"));
  ASSERT_TRUE(saved) << saved.error;
  EXPECT_EQ(saved->run.augment.rotationRange, 15);
  EXPECT_EQ(saved->run.augment.zoomHigh, 1.1);
}

} // namespace
