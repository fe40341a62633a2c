//===- GpuTest.cpp - the CUDA path computes what the CPU path does ---------===//
//
// For every model's fat .so (built by the `cuda-build` test), one CPU and one
// CUDA instance from the same random weights on the same random inputs:
// forward, eval_step and one train_step must agree within the tolerances
// below, and a short lenet5 training run must follow the same losses. Where
// no GPU is usable (or the .so was not built: no nvcc) every test SKIPS and
// says why; where one is, any difference fails loudly.
//
// Tolerances: the GPU sums in another order (and its dense GEMM in float,
// where the CPU keeps other tiles), so forward probabilities agree to 1e-4
// absolute, losses to 1e-4 relative, and parameters after one step to 1e-3
// of their largest magnitude (Adam normalises tiny gradients, which magnifies
// rounding; SGD models agree far closer). Dropout masks are identical (the
// same counter-based stream), so training steps are comparable.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace net::runtime;

namespace {

struct Pair {
  std::shared_ptr<Instance> cpu, gpu;
};

/// Both instances, or a skip message in `why`.
Pair open(const std::string &name, int32_t batch, std::string &why) {
  const std::string path = std::string(NETC_GPU_MODELS_DIR) + "/" + name + ".so";
  if (!std::filesystem::exists(path)) {
    why = path + " was not built (no nvcc at configure time, or run `ctest -L cuda-build` first)";
    return {};
  }
  auto model = Model::load(path);
  EXPECT_TRUE(model) << model.error;
  if (!model)
    return {};
  EXPECT_TRUE(((*model)->info().devices >> NETC_DEVICE_CUDA) & 1u)
      << path << " has no CUDA path although it was built by the cuda-build test";
  auto gpu = Instance::create(*model, DeviceChoice::Cuda, batch, /*threads=*/0);
  if (!gpu) {
    why = "no usable GPU: " + gpu.error;
    return {};
  }
  auto cpu = Instance::create(*model, DeviceChoice::Cpu, batch, /*threads=*/0);
  EXPECT_TRUE(cpu) << cpu.error;
  if (!cpu)
    return {};
  return {*cpu, *gpu};
}

/// The same random weights in both (batch-norm variances positive), zeroed
/// optimizer slots.
void setWeights(const Pair &p, uint32_t seed) {
  std::mt19937 gen(seed);
  const netc_model_info &info = p.cpu->info();
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &t = info.params[i];
    bool variance = std::string(t.name).find("variance") != std::string::npos;
    float scale = 1.f / std::sqrt(float(std::max<int64_t>(t.fan_in, 1)));
    std::uniform_real_distribution<float> dist(variance ? 0.5f : -scale, variance ? 1.5f : scale);
    float *a = p.cpu->param(i), *b = p.gpu->param(i);
    for (int64_t j = 0; j < t.size; ++j)
      a[j] = b[j] = dist(gen);
  }
  for (int32_t i = 0; i < info.num_state; ++i) {
    std::fill(p.cpu->state(i), p.cpu->state(i) + info.state[i].size, 0.f);
    std::fill(p.gpu->state(i), p.gpu->state(i) + info.state[i].size, 0.f);
  }
  p.cpu->setStep(0);
  p.gpu->setStep(0);
}

int64_t inputSize(const netc_model_info &info) {
  int64_t size = 1;
  for (int32_t d = 0; d < info.input_rank; ++d)
    size *= info.input_shape[d];
  return size;
}

void compareModel(const std::string &name, int32_t batch) {
  std::string why;
  Pair p = open(name, batch, why);
  if (!why.empty())
    GTEST_SKIP() << name << ": " << why;
  ASSERT_TRUE(p.cpu && p.gpu);
  setWeights(p, 7);
  const netc_model_info &info = p.cpu->info();
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> pixel(0.f, 1.f);
  std::vector<float> x(size_t(batch) * inputSize(info));
  for (float &v : x)
    v = pixel(gen);
  std::vector<int32_t> y(batch);
  for (int32_t &v : y)
    v = int32_t(gen() % uint32_t(info.classes));

  // forward, on a partial batch too
  for (int32_t n : {batch, std::max(1, batch - 3)}) {
    std::vector<float> pc(size_t(n) * info.classes), pg(pc.size());
    ASSERT_TRUE(p.cpu->forward(x.data(), n, pc.data())) << "cpu forward";
    Status s = p.gpu->forward(x.data(), n, pg.data());
    ASSERT_TRUE(s) << s.error();
    for (size_t k = 0; k < pc.size(); ++k)
      ASSERT_NEAR(pc[k], pg[k], 1e-4) << name << " forward n=" << n << " at " << k;
  }
  // eval_step
  float lc = 0, lg = 0;
  int32_t cc = 0, cg = 0;
  ASSERT_TRUE(p.cpu->evalStep(x.data(), y.data(), batch, lc, cc));
  Status s = p.gpu->evalStep(x.data(), y.data(), batch, lg, cg);
  ASSERT_TRUE(s) << s.error();
  EXPECT_NEAR(lc, lg, 1e-4 * std::max(1.f, std::fabs(lc))) << name << " eval loss";
  EXPECT_NEAR(cc, cg, 1) << name << " eval correct (ties may break apart)";
  if (!p.cpu->info().train.batch) // every model here trains
    return;
  // one train_step, then the parameters
  ASSERT_TRUE(p.cpu->trainStep(x.data(), y.data(), batch, /*seed=*/123, lc, cc));
  s = p.gpu->trainStep(x.data(), y.data(), batch, /*seed=*/123, lg, cg);
  ASSERT_TRUE(s) << s.error();
  EXPECT_NEAR(lc, lg, 1e-4 * std::max(1.f, std::fabs(lc))) << name << " train loss";
  EXPECT_EQ(p.cpu->step(), p.gpu->step());
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &t = info.params[i];
    const float *a = p.cpu->param(i), *b = p.gpu->param(i);
    float largest = 1e-6f;
    for (int64_t j = 0; j < t.size; ++j)
      largest = std::max(largest, std::fabs(a[j]));
    for (int64_t j = 0; j < t.size; ++j)
      ASSERT_NEAR(a[j], b[j], 1e-3f * largest) << name << " " << t.name << "[" << j
                                               << "] after one train_step";
  }
}

TEST(Gpu, Lenet5) { compareModel("lenet5", 32); }
TEST(Gpu, MnistCnn) { compareModel("mnist_cnn", 32); }
TEST(Gpu, Lenet5Classic) { compareModel("lenet5_classic", 32); }
TEST(Gpu, TfCnn) { compareModel("tf_cnn", 16); }
TEST(Gpu, Resnet50Head) { compareModel("resnet50_head", 4); }

/// Twenty lenet5 steps on the GPU and the CPU follow the same losses.
TEST(Gpu, Lenet5ShortTraining) {
  constexpr int32_t kBatch = 64;
  std::string why;
  Pair p = open("lenet5", kBatch, why);
  if (!why.empty())
    GTEST_SKIP() << "lenet5: " << why;
  ASSERT_TRUE(p.cpu && p.gpu);
  setWeights(p, 3);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> pixel(0.f, 1.f);
  std::vector<float> x(size_t(kBatch) * 784);
  std::vector<int32_t> y(kBatch);
  for (int step = 0; step < 20; ++step) {
    for (float &v : x)
      v = pixel(gen);
    for (int32_t &v : y)
      v = int32_t(gen() % 10);
    float lc = 0, lg = 0;
    int32_t cc = 0, cg = 0;
    ASSERT_TRUE(p.cpu->trainStep(x.data(), y.data(), kBatch, uint64_t(step), lc, cc));
    Status s = p.gpu->trainStep(x.data(), y.data(), kBatch, uint64_t(step), lg, cg);
    ASSERT_TRUE(s) << s.error();
    EXPECT_NEAR(lc, lg, 1e-3 * std::max(1.f, std::fabs(lc))) << "step " << step;
  }
}

} // namespace
