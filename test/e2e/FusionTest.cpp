//===- FusionTest.cpp - fused and unfused models compute the same ---------===//
//
// The same .net file compiled with fusion (the default: fused convolutions
// and dense layers, fused backward, batch norms folded into convolutions and
// dropout removed at inference) and with -O0 must give the same predictions,
// the same training losses and the same accuracy, from the same weights.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/IDX.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/ModelCheckpoint.h"

#include "OpenModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace netc::runtime;

namespace {

constexpr int kBatch = 32;

std::shared_ptr<Instance> open(const std::string &library) {
  return netc::test::openModel(library, kBatch);
}

/// The same random weights in both; batch-norm variances positive.
void setWeights(Instance &net, uint32_t seed) {
  std::mt19937 gen(seed);
  const netc_model_info &info = net.info();
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &p = info.params[i];
    std::string name = p.name;
    bool variance = name.find("moving_variance") != std::string::npos;
    std::uniform_real_distribution<float> dist(variance ? 0.5f : -0.3f, variance ? 1.5f : 0.3f);
    float *values = net.param(i);
    for (int64_t j = 0; j < p.size; ++j)
      values[j] = dist(gen);
  }
}

struct Mnist {
  std::vector<float> x;
  std::vector<int32_t> y;
};

Mnist firstImages(int count) {
  Mnist m;
  auto data = readIdxDataset(std::string(NETC_SOURCE_DIR) + "/data/mnist");
  EXPECT_TRUE(data) << data.error;
  if (!data)
    return m;
  m.x.resize(size_t(count) * 784);
  m.y.resize(count);
  for (size_t i = 0; i < m.x.size(); ++i)
    m.x[i] = float(data->train.pixels[i]) / 255.0f;
  for (int i = 0; i < count; ++i)
    m.y[i] = data->train.labels[i];
  return m;
}

bool haveMnist() {
  return std::filesystem::exists(std::string(NETC_SOURCE_DIR) + "/data/mnist");
}

/// Predictions agree within `tolerance`; training losses step for step and
/// the final accuracies within one image in `steps * kBatch`.
void compare(const std::string &fused, const std::string &unfused, double tolerance,
             int steps) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  auto a = open(fused), b = open(unfused);
  ASSERT_TRUE(a && b);
  setWeights(*a, 7);
  setWeights(*b, 7);
  Mnist data = firstImages(kBatch * steps);

  std::vector<float> pa(kBatch * 10), pb(kBatch * 10);
  ASSERT_TRUE(a->forward(data.x.data(), kBatch, pa.data()).ok());
  ASSERT_TRUE(b->forward(data.x.data(), kBatch, pb.data()).ok());
  for (size_t i = 0; i < pa.size(); ++i)
    ASSERT_NEAR(pa[i], pb[i], tolerance) << "probability " << i;

  int correctA = 0, correctB = 0;
  for (int step = 0; step < steps; ++step) {
    const float *x = data.x.data() + size_t(step) * kBatch * 784;
    const int32_t *y = data.y.data() + size_t(step) * kBatch;
    float lossA = 0, lossB = 0;
    int32_t ca = 0, cb = 0;
    ASSERT_TRUE(a->trainStep(x, y, kBatch, /*seed=*/step, lossA, ca).ok());
    ASSERT_TRUE(b->trainStep(x, y, kBatch, /*seed=*/step, lossB, cb).ok());
    EXPECT_NEAR(lossA, lossB, 1e-4 * std::max(1.0f, std::fabs(lossB))) << "step " << step;
    correctA += ca;
    correctB += cb;
  }
  EXPECT_LE(std::abs(correctA - correctB), 1) << correctA << " vs " << correctB;
}

TEST(Fusion, Lenet5FusedEqualsUnfused) {
  compare(NETC_LENET5_SO, NETC_LENET5_UNFUSED_SO, 1e-5, 20);
}

// Batch norms folded into the convolutions at inference, a frozen base run on
// its moving statistics in training, dropout masks in training only.
TEST(Fusion, SmallResnetFusedEqualsUnfused) {
  compare(NETC_SMALL_RESNET_SO, NETC_SMALL_RESNET_UNFUSED_SO, 1e-5, 10);
}

// Every batch norm trained on batch statistics: the fused and -O0 builds
// agree step for step, as above.
TEST(Fusion, TrainedBatchNormsFusedEqualsUnfused) {
  compare(NETC_SMALL_RESNET_TRAINED_SO, NETC_SMALL_RESNET_TRAINED_UNFUSED_SO, 1e-5, 10);
}

// Trained batch norms learn: 150 steps of batch 32 on MNIST move the running
// statistics and give a network that, run on those statistics, classifies
// 1,000 images it did not see (94.6% when written; 90% is asserted).
TEST(BatchNormTraining, LearnsAndUpdatesRunningStatistics) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  auto net = open(NETC_SMALL_RESNET_TRAINED_SO);
  ASSERT_TRUE(net);
  const netc_model_info &info = net->info();
  std::mt19937 gen(3);
  std::vector<std::vector<float>> before(info.num_params);
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &p = info.params[i];
    std::string name = p.name, init = p.init;
    float scale = std::sqrt(6.0f / float(p.fan_in + p.fan_out));
    std::uniform_real_distribution<float> dist(-scale, scale);
    for (int64_t j = 0; j < p.size; ++j)
      net->param(i)[j] = init == "ones" ? 1.f : init == "zeros" ? 0.f : dist(gen);
    before[i].assign(net->param(i), net->param(i) + p.size);
  }
  const int steps = 150, tested = 1000;
  Mnist data = firstImages(kBatch * steps + tested);
  for (int step = 0; step < steps; ++step) {
    float loss = 0;
    int32_t correct = 0;
    ASSERT_TRUE(net->trainStep(data.x.data() + size_t(step) * kBatch * 784,
                               data.y.data() + size_t(step) * kBatch, kBatch, step, loss,
                               correct)
                    .ok());
    ASSERT_TRUE(std::isfinite(loss)) << "step " << step;
  }
  for (int32_t i = 0; i < info.num_params; ++i) {
    std::string name = info.params[i].name;
    if (name.find("moving_") == std::string::npos)
      continue;
    bool moved = false;
    for (int64_t j = 0; j < info.params[i].size; ++j)
      moved |= net->param(i)[j] != before[i][j];
    EXPECT_TRUE(moved) << name << " did not move";
  }
  std::vector<float> probs(kBatch * 10);
  int correct = 0;
  for (int first = kBatch * steps; first + kBatch <= kBatch * steps + tested; first += kBatch) {
    ASSERT_TRUE(net->forward(data.x.data() + size_t(first) * 784, kBatch, probs.data()).ok());
    for (int i = 0; i < kBatch; ++i) {
      const float *row = probs.data() + i * 10;
      correct += int(std::max_element(row, row + 10) - row) == data.y[first + i];
    }
  }
  const double accuracy = double(correct) / (tested / kBatch * kBatch);
  EXPECT_GE(accuracy, 0.90) << "accuracy on the running statistics " << accuracy;
}

/// Fills every parameter of `net` from `gen`: batch-norm scales and
/// variances in [0.5, 1.5], everything else in +-0.3.
void randomParameters(Instance &net, std::mt19937 &gen) {
  const netc_model_info &info = net.info();
  for (int32_t i = 0; i < info.num_params; ++i) {
    const std::string name = info.params[i].name;
    const bool positive = name.find("gamma") != std::string::npos ||
                          name.find("variance") != std::string::npos;
    std::uniform_real_distribution<float> dist(positive ? 0.5f : -0.3f, positive ? 1.5f : 0.3f);
    float *p = net.param(i);
    for (int64_t j = 0; j < info.params[i].size; ++j)
      p[j] = dist(gen);
  }
}

// The CPU path keeps each batch norm folded into its convolution between
// inference calls (net/Runtime/ModelInstance.h: folds_valid). An instance
// that has run forward must still answer exactly as a fresh instance with
// the same parameters after a parameter was written through netc_param_data,
// and after a training step that moved the weights and running statistics;
// and a repeated call must answer the same.
TEST(FoldCache, FollowsEveryParameterChange) {
  auto cached = open(NETC_SMALL_RESNET_TRAINED_SO);
  ASSERT_TRUE(cached);
  const netc_model_info &info = cached->info();
  std::mt19937 gen(11);
  randomParameters(*cached, gen);
  std::vector<float> x(kBatch * 784);
  std::vector<int32_t> labels(kBatch);
  std::uniform_real_distribution<float> pixel(0.f, 1.f);
  for (float &v : x)
    v = pixel(gen);
  for (int i = 0; i < kBatch; ++i)
    labels[i] = i % 10;

  std::vector<float> first(kBatch * 10), again(kBatch * 10), fresh(kBatch * 10);
  auto freshAnswer = [&] {
    auto other = open(NETC_SMALL_RESNET_TRAINED_SO);
    ASSERT_TRUE(restoreCheckpoint(captureCheckpoint(*cached), *other, "fold cache test",
                                  /*withState=*/false)
                    .ok());
    EXPECT_TRUE(other->forward(x.data(), kBatch, fresh.data()).ok());
  };
  ASSERT_TRUE(cached->forward(x.data(), kBatch, first.data()).ok());
  ASSERT_TRUE(cached->forward(x.data(), kBatch, again.data()).ok());
  EXPECT_EQ(first, again);

  // Every batch-norm parameter written through the pointer.
  int written = 0;
  for (int32_t i = 0; i < info.num_params; ++i) {
    const std::string name = info.params[i].name;
    if (name.find("batch_norm") == std::string::npos)
      continue;
    float *p = cached->param(i);
    for (int64_t j = 0; j < info.params[i].size; ++j)
      p[j] *= 1.25f;
    ++written;
  }
  ASSERT_GT(written, 0) << "no batch-norm parameter found by name";
  ASSERT_TRUE(cached->forward(x.data(), kBatch, again.data()).ok());
  freshAnswer();
  EXPECT_EQ(again, fresh) << "forward after writing the batch norms";
  EXPECT_NE(again, first);

  // A training step, then forward with no parameter access in between
  // (freshAnswer read the parameters: a forward first makes the cache
  // current again).
  ASSERT_TRUE(cached->forward(x.data(), kBatch, again.data()).ok());
  float loss = 0;
  int32_t correct = 0;
  ASSERT_TRUE(cached->trainStep(x.data(), labels.data(), kBatch, 1, loss, correct).ok());
  std::vector<float> trained(kBatch * 10);
  ASSERT_TRUE(cached->forward(x.data(), kBatch, trained.data()).ok());
  freshAnswer();
  EXPECT_EQ(trained, fresh) << "forward after a training step";
  EXPECT_NE(trained, again);
}

} // namespace
