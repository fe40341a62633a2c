//===- TrainerTest.cpp - Training the fixture on MNIST; data checks -------===//

#include "TestSupport.h"

#include "net/Runtime/Image.h"
#include "net/Runtime/Trainer.h"

#include <cstring>

using namespace netc::runtime;
using netc::test::readFile;
using netc::test::TempDirTest;

namespace {

/// MNIST (first 10,000 training images) is read once for the whole suite.
class TrainerTest : public TempDirTest {
protected:
  static void SetUpTestSuite() {
    if (netc::test::mnistDir().empty())
      return;
    Result<std::shared_ptr<Model>> loaded = Model::load(FIXTURE_ADAM);
    ASSERT_TRUE(loaded) << loaded.error;
    model = new std::shared_ptr<Model>(*loaded);
    Result<TrainTestData> read =
        loadIdxForModel(netc::test::mnistDir(), (*model)->info(), /*limit=*/10000);
    ASSERT_TRUE(read) << read.error;
    data = new TrainTestData(std::move(*read));
  }
  static void TearDownTestSuite() {
    delete data;
    delete model;
    data = nullptr;
    model = nullptr;
  }

  std::shared_ptr<Instance> newInstance() {
    Result<std::shared_ptr<Instance>> created =
        Instance::create(*model, DeviceChoice::Cpu, /*batch=*/32, /*threads=*/1);
    EXPECT_TRUE(created) << created.error;
    return *created;
  }

  TrainOptions options(const std::string &out, int32_t epochs, uint64_t seed = 5) {
    TrainOptions o;
    o.epochs = epochs;
    o.seed = seed;
    o.outDir = path(out);
    o.config.seed = seed;
    o.config.batch = 32;
    o.config.epochs = epochs;
    return o;
  }

  Result<TrainResult> run(const Instance &instance, const TrainOptions &o,
                          std::vector<std::string> *lines = nullptr) {
    TrainCallbacks callbacks;
    if (lines)
      callbacks.onEpoch = [lines](const EpochStats &e) { lines->push_back(formatEpochLine(e)); };
    return train(instance, data->train, data->test, o, callbacks);
  }

  static bool sameWeights(const Instance &a, const Instance &b) {
    const netc_model_info &info = a.info();
    for (int32_t i = 0; i < info.num_params; ++i)
      if (std::memcmp(a.param(i), b.param(i), size_t(info.params[i].size) * sizeof(float)))
        return false;
    for (int32_t i = 0; i < info.num_state; ++i)
      if (std::memcmp(a.state(i), b.state(i), size_t(info.state[i].size) * sizeof(float)))
        return false;
    return a.step() == b.step();
  }

  static std::shared_ptr<Model> *model;
  static TrainTestData *data;
};

std::shared_ptr<Model> *TrainerTest::model = nullptr;
TrainTestData *TrainerTest::data = nullptr;

TEST_F(TrainerTest, OneEpochOnTenThousandImagesReaches85Percent) {
  SKIP_WITHOUT_MNIST();
  EXPECT_EQ(data->train.count, 10000);
  EXPECT_EQ(data->test.count, 10000);
  auto instance = newInstance();
  std::vector<std::string> lines;
  Result<TrainResult> result = run(*instance, options("run", 1), &lines);
  ASSERT_TRUE(result) << result.error;
  ASSERT_EQ(result->history.size(), 1u);
  EXPECT_GT(result->history[0].valAccuracy, 0.85);
  EXPECT_EQ(result->bestEpoch, 1);
  // The same accuracy from an evaluation of best.ckpt.
  Result<Evaluation> e = evaluate(*instance, data->test, /*withConfusion=*/true);
  ASSERT_TRUE(e) << e.error;
  EXPECT_DOUBLE_EQ(e->accuracy, result->history[0].valAccuracy);
  int64_t diagonal = 0;
  for (int c = 0; c < 10; ++c)
    diagonal += e->confusion[size_t(c)][size_t(c)];
  EXPECT_EQ(double(diagonal) / 10000.0, e->accuracy);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("Epoch 1/1 - ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" images/s"), std::string::npos);
}

TEST_F(TrainerTest, TheSameSeedGivesTheSameWeightsBitForBit) {
  SKIP_WITHOUT_MNIST();
  auto a = newInstance(), b = newInstance(), c = newInstance();
  ASSERT_TRUE(run(*a, options("a", 1)));
  ASSERT_TRUE(run(*b, options("b", 1)));
  ASSERT_TRUE(run(*c, options("c", 1, /*seed=*/6)));
  EXPECT_TRUE(sameWeights(*a, *b));
  EXPECT_FALSE(sameWeights(*a, *c));
  EXPECT_EQ(readFile(path("a/last.ckpt")), readFile(path("b/last.ckpt")));
}

TEST_F(TrainerTest, AResumedRunEqualsAnUninterruptedOne) {
  SKIP_WITHOUT_MNIST();
  auto straight = newInstance();
  ASSERT_TRUE(run(*straight, options("straight", 2)));

  auto first = newInstance();
  TrainOptions one = options("resumed", 1);
  one.config.epochs = 2; // the run's flags, as the CLI saves them
  ASSERT_TRUE(run(*first, one));
  auto second = newInstance(); // a new process, as it were
  TrainOptions resume = options("resumed", 2);
  resume.resume = true;
  Result<TrainResult> result = run(*second, resume);
  ASSERT_TRUE(result) << result.error;
  ASSERT_EQ(result->history.size(), 1u);
  EXPECT_EQ(result->history[0].epoch, 2);
  EXPECT_TRUE(sameWeights(*straight, *second));
  EXPECT_EQ(readFile(path("straight/last.ckpt")), readFile(path("resumed/last.ckpt")));

  // history.csv holds both epochs once, with the same metrics.
  std::string a = readFile(path("straight/history.csv")), b = readFile(path("resumed/history.csv"));
  auto metrics = [](const std::string &csv) { // without the timing columns
    std::string out;
    std::istringstream in(csv);
    std::string line;
    while (std::getline(in, line)) {
      size_t cut = line.find(',');
      for (int i = 0; i < 5 && cut != std::string::npos; ++i)
        cut = line.find(',', cut + 1);
      out += line.substr(0, cut) + "\n";
    }
    return out;
  };
  EXPECT_EQ(metrics(a), metrics(b));
}

TEST_F(TrainerTest, HistoryCsv) {
  SKIP_WITHOUT_MNIST();
  auto instance = newInstance();
  Result<TrainResult> result = run(*instance, options("run", 2));
  ASSERT_TRUE(result) << result.error;
  std::istringstream csv(readFile(path("run/history.csv")));
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line, "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,"
                  "images_per_second");
  for (int epoch = 1; epoch <= 2; ++epoch) {
    ASSERT_TRUE(std::getline(csv, line));
    const EpochStats &e = result->history[size_t(epoch - 1)];
    char expected[128];
    std::snprintf(expected, sizeof(expected), "%d,%.6f,%.6f,%.6f,%.6f,0.005,", epoch, e.loss,
                  e.accuracy, e.valLoss, e.valAccuracy);
    EXPECT_EQ(line.rfind(expected, 0), 0u) << line;
  }
  EXPECT_FALSE(std::getline(csv, line));
  EXPECT_LT(result->history[1].loss, result->history[0].loss);
}

TEST_F(TrainerTest, ALossThatBecomesNanStopsAndKeepsTheLastGoodCheckpoint) {
  SKIP_WITHOUT_MNIST();
  auto instance = newInstance();
  ASSERT_TRUE(run(*instance, options("run", 1)));
  std::string good = readFile(path("run/last.ckpt"));
  std::string goodHistory = readFile(path("run/history.csv"));

  auto next = newInstance();
  TrainOptions diverge = options("run", 2);
  diverge.resume = true;
  diverge.learningRate = 1e38;
  Result<TrainResult> result = run(*next, diverge);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error.rfind("loss became nan at epoch 2, step ", 0), 0u) << result.error;
  EXPECT_NE(result.error.find("the last good checkpoint (" + path("run/last.ckpt") +
                              ", epoch 1) is kept"),
            std::string::npos)
      << result.error;
  EXPECT_EQ(readFile(path("run/last.ckpt")), good);
  EXPECT_EQ(readFile(path("run/history.csv")), goodHistory);
}

TEST_F(TrainerTest, ValidationSplitHoldsOutTheLastImages) {
  SKIP_WITHOUT_MNIST();
  Samples train = data->train;
  Samples held = splitValidation(train, 0.1);
  EXPECT_EQ(train.count, 9000);
  EXPECT_EQ(held.count, 1000);
  EXPECT_EQ(held.labels[0], data->train.labels[9000]);
  EXPECT_EQ(held.pixels.size(), 1000u * 784u);
}

//===----------------------------------------------------------------------===//
// Datasets that do not fit the model (synthetic IDX files, no MNIST needed)
//===----------------------------------------------------------------------===//

class DataTest : public TempDirTest {
protected:
  void writeIdx(const std::string &name, std::vector<uint32_t> dims, uint8_t fill) {
    std::string bytes = {0, 0, 8, char(dims.size())};
    size_t n = 1;
    for (uint32_t d : dims) {
      for (int shift : {24, 16, 8, 0})
        bytes.push_back(char(d >> shift));
      n *= d;
    }
    bytes.append(n, char(fill));
    netc::test::writeFile(path(name), bytes);
  }
  void writeSet(uint32_t side, uint8_t label) {
    for (const char *split : {"train", "t10k"}) {
      writeIdx(std::string(split) + "-images-idx3-ubyte", {5, side, side}, 7);
      writeIdx(std::string(split) + "-labels-idx1-ubyte", {5}, label);
    }
  }
};

TEST_F(DataTest, ImagesOfAnotherSizeAreRefusedNamingBoth) {
  writeSet(/*side=*/20, /*label=*/3);
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  ASSERT_TRUE(model);
  Result<TrainTestData> data = loadIdxForModel(dir.string(), (*model)->info(), 0);
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error, path("train-images-idx3-ubyte") +
                            ": images of shape (1, 20, 20) (channels, height, width) do not "
                            "match the model's input (1, 28, 28)");
}

TEST_F(DataTest, LabelsBeyondTheClassesAreRefusedNamingTheFile) {
  writeSet(/*side=*/28, /*label=*/12);
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  ASSERT_TRUE(model);
  Result<TrainTestData> data = loadIdxForModel(dir.string(), (*model)->info(), 0);
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error, path("train-labels-idx1-ubyte") +
                            ": label 12 of image 0 is not below the model's 10 classes");
}

TEST_F(DataTest, FittingDataIsScaledToUnitRange) {
  writeSet(/*side=*/28, /*label=*/3);
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  ASSERT_TRUE(model);
  Result<TrainTestData> data = loadIdxForModel(dir.string(), (*model)->info(), /*limit=*/2);
  ASSERT_TRUE(data) << data.error;
  EXPECT_EQ(data->train.count, 2);
  EXPECT_EQ(data->test.count, 5);
  std::vector<float> input(2 * 784);
  std::vector<int32_t> labels(2);
  data->train.gatherRange(0, 2, input.data(), labels.data());
  EXPECT_FLOAT_EQ(input[100], 7.0f / 255.0f);
  EXPECT_EQ(labels[1], 3);
}

/// Each channel's plane through its own mean and std: (p / 255 - mean) / std.
TEST(Normalization, GatherAppliesThePerChannelMeanAndStd) {
  Samples samples;
  samples.count = 2;
  samples.sampleSize = 3 * 2; // 3 channels of 2 pixels
  samples.pixels = {0, 255, 128, 64, 10, 200, /**/ 1, 2, 3, 4, 5, 6};
  samples.labels = {0, 1};
  samples.normalization.mean = {0.485f, 0.456f, 0.406f};
  samples.normalization.std = {0.229f, 0.224f, 0.225f};
  std::vector<float> input(12);
  samples.gather({1, 0}, 0, 2, input.data(), nullptr);
  for (size_t k = 0; k < 12; ++k) {
    size_t sample = k < 6 ? 1 : 0, c = (k % 6) / 2;
    float p = float(samples.pixels[sample * 6 + k % 6]);
    EXPECT_EQ(input[k], (p / 255.0f - samples.normalization.mean[c]) /
                            samples.normalization.std[c])
        << k;
  }
  EXPECT_FLOAT_EQ(input[6], (0.0f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(input[9], (64.0f / 255.0f - 0.456f) / 0.224f);
  std::vector<float> inOrder(12);
  samples.gatherRange(0, 2, inOrder.data(), nullptr);
  EXPECT_TRUE(std::equal(inOrder.begin(), inOrder.begin() + 6, input.begin() + 6));
}

/// The default is p / 255 exactly, so runs before normalisation existed are unchanged.
TEST(Normalization, TheDefaultIsPixelOver255) {
  Samples samples;
  samples.count = 1;
  samples.sampleSize = 256;
  for (int p = 0; p < 256; ++p)
    samples.pixels.push_back(uint8_t(p));
  samples.labels = {0};
  std::vector<float> input(256);
  samples.gatherRange(0, 1, input.data(), nullptr);
  for (int p = 0; p < 256; ++p)
    ASSERT_EQ(input[size_t(p)], float(p) / 255.0f) << p;
}

/// predict's images: the same normalisation after the resize, per channel.
TEST(Normalization, ImagesAreNormalisedLikeTheData) {
  Image image;
  image.width = image.height = 1;
  image.channels = 3;
  image.pixels = {255, 0, 51};
  Normalization n;
  n.mean = {0.5f, 0.25f, 0.0f};
  n.std = {0.5f, 0.25f, 2.0f};
  std::vector<float> input = imageToInput(image, 3, 1, 1, /*invert=*/false, n);
  ASSERT_EQ(input.size(), 3u);
  EXPECT_FLOAT_EQ(input[0], (1.0f - 0.5f) / 0.5f);
  EXPECT_FLOAT_EQ(input[1], (0.0f - 0.25f) / 0.25f);
  EXPECT_FLOAT_EQ(input[2], 0.2f / 2.0f);
  std::vector<float> plain = imageToInput(image, 3, 1, 1, /*invert=*/false);
  EXPECT_FLOAT_EQ(plain[2], 0.2f);
}

} // namespace
