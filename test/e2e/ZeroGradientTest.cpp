//===- ZeroGradientTest.cpp - biases whose gradient is exactly zero ---------===//
//
// small_resnet_trained's strided conv2d_1 has a bias read only by a batch
// norm on the batch's statistics, which subtracts it again: its gradient is
// exactly zero, and Adam must leave it where it was (a computed gradient
// would be rounding noise that Adam scales up to steps of the learning
// rate's size). Its neighbours keep training.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Model.h"
#include "net/Runtime/Trainer.h"

#include "OpenModel.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace netc::runtime;

namespace {

/// The index of `name` among `count` tensors (parameters or optimizer slots).
int32_t indexOf(const netc_tensor_info *tensors, int32_t count, const std::string &name) {
  for (int32_t i = 0; i < count; ++i)
    if (name == tensors[i].name)
      return i;
  ADD_FAILURE() << "no tensor " << name;
  return -1;
}

int32_t paramIndex(const Instance &net, const std::string &name) {
  return indexOf(net.info().params, net.info().num_params, name);
}

std::vector<float> copyOf(const float *data, int64_t size) {
  return std::vector<float>(data, data + size);
}

TEST(ZeroGradient, BiasBeforeATrainedNormStaysPutUnderAdam) {
  constexpr int32_t kBatch = 8;
  auto net = netc::test::openModel(NETC_SMALL_RESNET_TRAINED_SO, kBatch);
  ASSERT_TRUE(net);
  ASSERT_TRUE(initializeParameters(*net, 5).ok());
  const int32_t bias = paramIndex(*net, "conv2d_1.bias");
  const int32_t kernel = paramIndex(*net, "conv2d_1.kernel");
  const int32_t beta = paramIndex(*net, "batch_norm_1.beta");
  ASSERT_GE(bias, 0);
  ASSERT_GE(kernel, 0);
  ASSERT_GE(beta, 0);
  // Not zeros, so that a noise step of either sign would show.
  const int64_t channels = net->info().params[bias].size;
  for (int64_t c = 0; c < channels; ++c)
    net->param(bias)[c] = 0.25f - 0.03125f * float(c);
  const auto biasBefore = copyOf(net->param(bias), channels);
  const auto kernelBefore = copyOf(net->param(kernel), net->info().params[kernel].size);
  const auto betaBefore = copyOf(net->param(beta), net->info().params[beta].size);

  std::mt19937_64 rng(17);
  std::uniform_real_distribution<float> pixel(-1.f, 1.f);
  std::vector<float> input(size_t(kBatch * net->model().inputSize()));
  std::vector<int32_t> labels(kBatch);
  for (int step = 0; step < 5; ++step) {
    for (float &v : input)
      v = pixel(rng);
    for (int32_t &label : labels)
      label = int32_t(rng() % 10);
    float loss = 0;
    int32_t correct = 0;
    ASSERT_TRUE(net->trainStep(input.data(), labels.data(), kBatch, 100 + step, loss, correct)
                    .ok());
  }

  EXPECT_EQ(copyOf(net->param(bias), channels), biasBefore);
  for (const char *slot : {"conv2d_1.bias/adam_m", "conv2d_1.bias/adam_v"}) {
    const int32_t s = indexOf(net->info().state, net->info().num_state, slot);
    ASSERT_GE(s, 0);
    EXPECT_EQ(copyOf(net->state(s), channels), std::vector<float>(size_t(channels), 0.f))
        << slot;
  }
  EXPECT_NE(copyOf(net->param(kernel), net->info().params[kernel].size), kernelBefore)
      << "the convolution's kernel has a gradient and trains";
  EXPECT_NE(copyOf(net->param(beta), net->info().params[beta].size), betaBefore)
      << "the batch norm's beta (a ReLU follows) has a gradient and trains";
}

} // namespace
