//===- FrozenBaseTest.cpp - training a head on a frozen base's features ---===//
//
// small_resnet.net has a frozen residual base under a trained head with
// dropout. Training the head on features computed once (netc_base_forward,
// netc_head_train_step) must be the same training as running the whole
// network every step: the same losses step for step (the base's batch norms
// are folded in base_forward, so equal up to rounding) and the same weights.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Features.h"
#include "net/Runtime/IDX.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Trainer.h"

#include "OpenModel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

using namespace netc::runtime;

namespace {

constexpr int kBatch = 32;

std::shared_ptr<Instance> openModel(const std::string &library) {
  return netc::test::openModel(library, kBatch);
}

TEST(FrozenBase, TheModelNamesItsFeatures) {
  auto net = openModel(NETC_SMALL_RESNET_SO);
  ASSERT_TRUE(net);
  const netc_model_info &info = net->info();
  ASSERT_TRUE(hasFrozenBase(info));
  EXPECT_STREQ(info.feature_layer, "global_avg_pool_1");
  EXPECT_EQ(info.feature_rank, 1);
  EXPECT_EQ(info.feature_size, 8);
  // A model without a frozen base refuses the head's entry points.
  auto lenet = openModel(NETC_LENET5_SO);
  ASSERT_TRUE(lenet);
  EXPECT_FALSE(hasFrozenBase(lenet->info()));
  std::vector<float> x(784), f(16);
  Status s = lenet->baseForward(x.data(), 1, f.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error().find("has no frozen base"), std::string::npos) << s.error();
}

TEST(FrozenBase, HeadOnCachedFeaturesTrainsLikeTheWholeNetwork) {
  std::string root = NETC_SOURCE_DIR;
  if (!std::filesystem::exists(root + "/data/mnist"))
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  auto whole = openModel(NETC_SMALL_RESNET_SO), head = openModel(NETC_SMALL_RESNET_SO);
  ASSERT_TRUE(whole && head);
  ASSERT_TRUE(initializeParameters(*whole, 5).ok());
  ASSERT_TRUE(initializeParameters(*head, 5).ok());

  auto data = readIdxDataset(root + "/data/mnist");
  ASSERT_TRUE(data) << data.error;
  const int steps = 10;
  Samples images;
  images.count = kBatch * steps;
  images.sampleSize = 784;
  images.pixels.assign(data->train.pixels.begin(), data->train.pixels.begin() + images.count * 784);
  images.labels.assign(data->train.labels.begin(), data->train.labels.begin() + images.count);
  auto features = computeFeatures(*head, images);
  ASSERT_TRUE(features) << features.error;
  ASSERT_EQ(features->floatsPerSample(), 8);

  std::vector<float> x(kBatch * 784), f(kBatch * 8);
  std::vector<int32_t> labels(kBatch);
  for (int step = 0; step < steps; ++step) {
    images.gatherRange(step * kBatch, kBatch, x.data(), labels.data());
    features->gatherRange(step * kBatch, kBatch, f.data(), nullptr);
    float lossWhole = 0, lossHead = 0;
    int32_t correctWhole = 0, correctHead = 0;
    ASSERT_TRUE(whole->trainStep(x.data(), labels.data(), kBatch, step, lossWhole, correctWhole).ok());
    ASSERT_TRUE(head->headTrainStep(f.data(), labels.data(), kBatch, step, lossHead, correctHead).ok());
    EXPECT_NEAR(lossHead, lossWhole, 1e-5 * std::max(1.0f, std::fabs(lossWhole))) << "step " << step;
    EXPECT_EQ(correctHead, correctWhole) << "step " << step;
  }
  const netc_model_info &info = whole->info();
  for (int32_t i = 0; i < info.num_params; ++i)
    for (int64_t j = 0; j < info.params[i].size; ++j)
      ASSERT_NEAR(head->param(i)[j], whole->param(i)[j], 1e-5) << info.params[i].name << "[" << j << "]";
}

} // namespace
