//===- TrainStepsTest.cpp - runs of steps over a training set the model holds ===//
//
// ABI version 4: netc_set_train_data gives the model the training set and
// netc_train_steps trains runs of steps over it (on the GPU with no host
// round trip per step). On the CPU a run must equal netc_train_step on the
// batches the runtime gathers, bit for bit: losses, correct counts, weights
// and optimizer slots; and the Trainer must give the same run whatever
// number of steps it asks for per call. Bad arguments get a message.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Collective.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Trainer.h"

#include "OpenModel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

using namespace netc::runtime;

namespace {

constexpr int kBatch = 16;

bool haveMnist() {
  return std::filesystem::exists(std::string(NETC_SOURCE_DIR) + "/data/mnist");
}

/// The first `count` MNIST training images, normalised as `info` says.
Samples mnistFor(const netc_model_info &info, int64_t count) {
  auto data = loadIdxForModel(std::string(NETC_SOURCE_DIR) + "/data/mnist", info, count);
  EXPECT_TRUE(data) << data.error;
  return data ? std::move(data->train) : Samples();
}

/// The first `count` of `samples` (images), as a validation set.
Samples firstOf(const Samples &samples, int64_t count) {
  Samples out = samples;
  out.count = count;
  out.pixels.resize(size_t(count * samples.sampleSize));
  out.labels.resize(size_t(count));
  return out;
}

/// The same weights in both instances: the model's initialisers from one seed.
void sameStart(const Instance &a, const Instance &b) {
  ASSERT_TRUE(initializeParameters(a, 11).ok());
  ASSERT_TRUE(initializeParameters(b, 11).ok());
}

void expectSameTensors(const Instance &a, const Instance &b) {
  const netc_model_info &info = a.info();
  for (int32_t i = 0; i < info.num_params; ++i)
    for (int64_t j = 0; j < info.params[i].size; ++j)
      ASSERT_EQ(a.param(i)[j], b.param(i)[j]) << info.params[i].name << "[" << j << "]";
  for (int32_t i = 0; i < info.num_state; ++i)
    for (int64_t j = 0; j < info.state[i].size; ++j)
      ASSERT_EQ(a.state(i)[j], b.state(i)[j]) << info.state[i].name << "[" << j << "]";
  EXPECT_EQ(a.step(), b.step());
}

/// Three full batches and a partial one of a shuffled order, with a learning
/// rate and a dropout seed per step: one run against four single steps.
void expectRunEqualsSteps(const std::string &library) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  auto run = netc::test::openModel(library, kBatch);
  auto single = netc::test::openModel(library, kBatch);
  ASSERT_TRUE(run && single);
  sameStart(*run, *single);
  Samples samples = mnistFor(run->info(), 200);
  ASSERT_EQ(samples.count, 200);

  std::vector<int64_t> order(size_t(samples.count));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  const int64_t count = 3 * kBatch + 5, steps = 4;
  std::vector<uint64_t> seeds = {101, 202, 303, 404};
  std::vector<float> rates = {1e-3f, 8e-4f, 6e-4f, 4e-4f};
  std::vector<float> losses(steps);
  std::vector<int32_t> corrects(steps);

  const std::vector<float> table = samples.normalization.table();
  ASSERT_TRUE(run->setTrainData(samples.pixels.data(), samples.labels.data(), samples.count,
                                table.data(), int32_t(samples.normalization.mean.size()))
                  .ok());
  Status ran = run->trainSteps(order.data(), count, seeds.data(), rates.data(), losses.data(),
                               corrects.data());
  ASSERT_TRUE(ran.ok()) << ran.error();

  std::vector<float> input(size_t(kBatch * samples.sampleSize));
  std::vector<int32_t> labels(kBatch);
  for (int64_t s = 0; s < steps; ++s) {
    const int32_t n = int32_t(std::min<int64_t>(kBatch, count - s * kBatch));
    samples.gather(order, s * kBatch, n, input.data(), labels.data());
    single->setLearningRate(rates[size_t(s)]);
    float loss = 0;
    int32_t correct = 0;
    ASSERT_TRUE(
        single->trainStep(input.data(), labels.data(), n, seeds[size_t(s)], loss, correct).ok());
    EXPECT_EQ(losses[size_t(s)], loss) << "step " << s;
    EXPECT_EQ(corrects[size_t(s)], correct) << "step " << s;
  }
  expectSameTensors(*run, *single);
}

TEST(TrainSteps, Lenet5RunEqualsSingleSteps) { expectRunEqualsSteps(NETC_LENET5_SO); }

// With dropout: each step's seed reaches its masks.
TEST(TrainSteps, SmallResnetWithDropoutRunEqualsSingleSteps) {
  expectRunEqualsSteps(NETC_SMALL_RESNET_SO);
}

// With trained batch norms: the running statistics move step by step.
TEST(TrainSteps, TrainedBatchNormRunEqualsSingleSteps) {
  expectRunEqualsSteps(NETC_SMALL_RESNET_TRAINED_SO);
}

TEST(TrainSteps, BadArgumentsAreRefusedWithAMessage) {
  auto net = netc::test::openModel(NETC_LENET5_SO, kBatch);
  ASSERT_TRUE(net);
  std::vector<uint8_t> pixels(size_t(10) * 784, 128);
  std::vector<int32_t> labels(10, 3);
  std::vector<float> table(256, 0.5f);
  std::vector<int64_t> order = {0, 1, 2, 10};
  std::vector<uint64_t> seeds(1);
  std::vector<float> rates(1, 1e-3f), losses(1);
  std::vector<int32_t> corrects(1);
  auto steps = [&](int64_t count) {
    return net->trainSteps(order.data(), count, seeds.data(), rates.data(), losses.data(),
                           corrects.data());
  };

  Status none = steps(3);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no training set: netc_set_train_data first"), std::string::npos)
      << none.error();

  Status channels = net->setTrainData(pixels.data(), labels.data(), 10, table.data(), 3);
  ASSERT_FALSE(channels.ok());
  EXPECT_NE(channels.error().find("a normalisation table for 3 channels; the input has 1"),
            std::string::npos)
      << channels.error();

  labels[7] = 10;
  Status label = net->setTrainData(pixels.data(), labels.data(), 10, table.data(), 1);
  ASSERT_FALSE(label.ok());
  EXPECT_NE(label.error().find("label 10 of sample 7 is outside [0, 10)"), std::string::npos)
      << label.error();
  labels[7] = 3;

  ASSERT_TRUE(net->setTrainData(pixels.data(), labels.data(), 10, table.data(), 1).ok());
  Status outside = steps(4);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().find("indices[3] = 10 is outside the training set of 10 samples"),
            std::string::npos)
      << outside.error();
  EXPECT_TRUE(steps(3).ok());
}

// The Trainer over a held training set: 7 steps a call or 1, the same run
// (history and final weights), including a partial last batch.
TEST(TrainSteps, TrainerRunIsTheSameForAnyStepsPerCall) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  auto one = netc::test::openModel(NETC_LENET5_SO, kBatch);
  auto seven = netc::test::openModel(NETC_LENET5_SO, kBatch);
  ASSERT_TRUE(one && seven);
  Samples train = mnistFor(one->info(), 300);
  ASSERT_EQ(train.count, 300);
  Samples validation = firstOf(train, 50);

  const std::string base = (std::filesystem::temp_directory_path() /
                            ("netc-train-steps-" + std::to_string(::getpid())))
                               .string();
  auto trainWith = [&](const Instance &net, int32_t stepsPerCall) {
    TrainOptions options;
    options.epochs = 2;
    options.seed = 9;
    options.outDir = base + "-" + std::to_string(stepsPerCall);
    options.stepsPerCall = stepsPerCall;
    std::filesystem::remove_all(options.outDir);
    Result<TrainResult> result = netc::runtime::train(net, train, validation, options, {});
    std::filesystem::remove_all(options.outDir);
    EXPECT_TRUE(result) << result.error;
    return result ? result->history : std::vector<EpochStats>();
  };
  std::vector<EpochStats> a = trainWith(*one, 1), b = trainWith(*seven, 7);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t e = 0; e < a.size(); ++e) {
    EXPECT_EQ(a[e].loss, b[e].loss) << "epoch " << e + 1;
    EXPECT_EQ(a[e].accuracy, b[e].accuracy) << "epoch " << e + 1;
    EXPECT_EQ(a[e].valLoss, b[e].valLoss) << "epoch " << e + 1;
  }
  expectSameTensors(*one, *seven);
}

/// The ranks of a data-parallel run of one: every collective leaves the
/// values as they are, as MPI does for one rank.
class OneRank final : public Collective {
public:
  int32_t rank() const override { return 0; }
  int32_t size() const override { return 1; }
  std::string describe() const override { return "one rank"; }
  Status startSum(float *, int64_t) override {
    ++sums;
    return Status::success();
  }
  Status waitAll() override { return Status::success(); }
  Status sum(double *, int64_t) override { return Status::success(); }
  Status broadcast(void *, int64_t, int32_t) override { return Status::success(); }
  Status allGather(const void *mine, void *all, int64_t bytes) override {
    std::memcpy(all, mine, size_t(bytes));
    return Status::success();
  }
  Status allGatherFloats(const float *mine, float *all, const int64_t *counts) override {
    std::memcpy(all, mine, sizeof(float) * size_t(counts[0]));
    return Status::success();
  }
  [[noreturn]] void abort(int) override { std::abort(); }
  int64_t sums = 0;
};

/// The Trainer's data-parallel path on one rank (the model's exchanged
/// step, the sharded batches, the reduced figures and validation, the
/// replica check) against its plain path: the same run, bit for bit. With
/// trained batch norms, their running statistics go through the exchange
/// too.
void expectOneRankEqualsOneProcess(const std::string &library) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  auto plain = netc::test::openModel(library, kBatch);
  auto ranked = netc::test::openModel(library, kBatch);
  ASSERT_TRUE(plain && ranked);
  Samples train = mnistFor(plain->info(), 200), validation = firstOf(train, 40);
  OneRank rank;
  const std::string base = (std::filesystem::temp_directory_path() /
                            ("netc-one-rank-" + std::to_string(::getpid())))
                               .string();
  auto trainWith = [&](const Instance &net, Collective *collective) {
    TrainOptions options;
    options.epochs = 2;
    options.seed = 3;
    options.outDir = base + (collective ? "-ranked" : "-plain");
    options.collective = collective;
    std::filesystem::remove_all(options.outDir);
    Result<TrainResult> result = netc::runtime::train(net, train, validation, options, {});
    std::filesystem::remove_all(options.outDir);
    EXPECT_TRUE(result) << result.error;
    return result ? result->history : std::vector<EpochStats>();
  };
  std::vector<EpochStats> a = trainWith(*plain, nullptr), b = trainWith(*ranked, &rank);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t e = 0; e < a.size(); ++e) {
    EXPECT_EQ(a[e].loss, b[e].loss) << "epoch " << e + 1;
    EXPECT_EQ(a[e].accuracy, b[e].accuracy) << "epoch " << e + 1;
    EXPECT_EQ(a[e].valLoss, b[e].valLoss) << "epoch " << e + 1;
    EXPECT_EQ(a[e].valAccuracy, b[e].valAccuracy) << "epoch " << e + 1;
  }
  expectSameTensors(*plain, *ranked);
  // Every trainable parameter's gradient went through the exchange, each step.
  int32_t trainable = 0;
  for (int32_t i = 0; i < plain->info().num_params; ++i)
    trainable += plain->info().params[i].trainable;
  EXPECT_GE(rank.sums, int64_t(trainable) * 2 * 13);
}

TEST(TrainSteps, Lenet5OnOneRankEqualsOneProcess) {
  expectOneRankEqualsOneProcess(NETC_LENET5_SO);
}

TEST(TrainSteps, TrainedBatchNormsOnOneRankEqualOneProcess) {
  expectOneRankEqualsOneProcess(NETC_SMALL_RESNET_TRAINED_SO);
}

} // namespace
