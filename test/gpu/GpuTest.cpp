//===- GpuTest.cpp - the CUDA path computes what the CPU path does ---------===//
//
// For every model's fat .so (built by the `cuda-build` test), one CPU and one
// CUDA instance from the same random weights on the same random inputs:
// forward, eval_step and one train_step must agree within the tolerances
// below, and a short lenet5 training run must follow the same losses; runs
// of steps over a training set held on the GPU (netc_train_steps, one
// captured step graph replayed) must equal the CPU's and the same run
// without the graph, and a lenet5 epoch on real MNIST must reach the CPU's
// accuracy. Where
// no GPU is usable (or the .so was not built: no nvcc) every test SKIPS and
// says why; where one is, any difference fails loudly.
//
// Tolerances: the GPU sums in another order (and its dense GEMM in float,
// where the CPU keeps other tiles), so forward probabilities agree to 1e-4
// absolute, losses to 1e-4 relative, gradients after one step (Adam's first
// moment) to 1e-3 of their largest magnitude, and parameters to 1e-3 of
// theirs, plus 2 lr where the gradient is below 1e-3 of the largest (Adam's
// first step is +-lr whatever |g|, so rounding noise can flip it). Dropout
// masks are identical (the same counter-based stream), so training steps are
// comparable.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Data.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

using namespace netc::runtime;

namespace {

/// A folder given at build time, or by the variable of the same name (the
/// GPU bundle runs these tests on a machine where the build's paths differ:
/// tools/gpu-bundle.sh).
std::string folder(const char *variable, const char *built) {
  const char *set = std::getenv(variable);
  return set && *set ? set : built;
}

struct Pair {
  std::shared_ptr<Instance> cpu, gpu;
};

/// Both instances, or a skip message in `why`.
Pair open(const std::string &name, int32_t batch, std::string &why) {
  const std::string path =
      folder("NETC_GPU_MODELS_DIR", NETC_GPU_MODELS_DIR) + "/" + name + ".so";
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
  // NETC_GPU_TESTS_ON_CPU=1 stands a second CPU instance in for the GPU: a
  // check of these tests' own logic where no GPU is (every comparison then
  // holds exactly); never a test of the CUDA path.
  const char *onCpu = std::getenv("NETC_GPU_TESTS_ON_CPU");
  const bool standIn = onCpu && std::string(onCpu) == "1";
  auto gpu = Instance::create(*model, standIn ? DeviceChoice::Cpu : DeviceChoice::Cuda, batch,
                              /*threads=*/0);
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
  // Adam's first step moves a weight by about lr * g / (|g| + eps): where g
  // is rounding noise its sign, and so the step (+-lr), may differ between
  // the devices. So the gradients (Adam's m = (1 - beta1) g after one step
  // from zero) are compared first, and weights whose gradient is below 1e-3
  // of the largest are allowed 2 lr.
  auto slotOf = [&](const std::string &name) {
    for (int32_t k = 0; k < info.num_state; ++k)
      if (info.state[k].name == name)
        return k;
    return int32_t(-1);
  };
  const float lr = float(info.train.learning_rate);
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &t = info.params[i];
    const float *a = p.cpu->param(i), *b = p.gpu->param(i);
    float largest = 1e-6f;
    for (int64_t j = 0; j < t.size; ++j)
      largest = std::max(largest, std::fabs(a[j]));
    const int32_t m = slotOf(std::string(t.name) + "/adam_m");
    const float *mc = m >= 0 ? p.cpu->state(m) : nullptr, *mg = m >= 0 ? p.gpu->state(m) : nullptr;
    float largestM = 0;
    for (int64_t j = 0; mc && j < t.size; ++j)
      largestM = std::max(largestM, std::fabs(mc[j]));
    // A ReLU or max-pooling decision on two values a rounding apart may
    // fall either way (the CPU's Winograd forward, ConvWinograd.h, rounds
    // otherwise than the device's direct sum): a sample's gradient then
    // flows elsewhere, and every gradient upstream of that layer moves a
    // little (tf_cnn at batch 16: a quarter of its first layer's by more than
    // 1e-3 of the largest). So: each gradient within 1e-3 of the largest, or
    // within 5e-2 with the parameter's gradients as a whole within 1e-2 (L2);
    // a wrong kernel moves them all further. The weights of those are
    // checked as noise below.
    std::vector<bool> flipped(size_t(t.size), false);
    double diff2 = 0, norm2 = 0;
    for (int64_t j = 0; mc && j < t.size; ++j) {
      const float diff = std::fabs(mc[j] - mg[j]);
      diff2 += double(diff) * diff;
      norm2 += double(mc[j]) * mc[j];
      if (diff <= 1e-3f * largestM + 1e-12f)
        continue;
      flipped[size_t(j)] = true;
      ASSERT_LE(diff, 5e-2f * largestM)
          << name << " " << t.name << "[" << j << "]: gradient (Adam's m) after one train_step: "
          << mc[j] << " vs " << mg[j];
    }
    ASSERT_LE(std::sqrt(diff2), 1e-2 * std::sqrt(norm2) + 1e-12)
        << name << " " << t.name << ": gradients (Adam's m) after one train_step, L2";
    for (int64_t j = 0; j < t.size; ++j) {
      const bool noise = mc && (std::fabs(mc[j]) < 1e-3f * largestM || flipped[size_t(j)]);
      ASSERT_NEAR(a[j], b[j], 1e-3f * largest + (noise ? 2 * lr : 0.f))
          << name << " " << t.name << "[" << j << "] after one train_step";
    }
  }
}

TEST(Gpu, Lenet5) { compareModel("lenet5", 32); }
TEST(Gpu, MnistCnn) { compareModel("mnist_cnn", 32); }
TEST(Gpu, Lenet5Classic) { compareModel("lenet5_classic", 32); }
TEST(Gpu, TfCnn) { compareModel("tf_cnn", 16); }
TEST(Gpu, Resnet50Head) { compareModel("resnet50_head", 4); }

/// Whether the models under test were built with the CUDA emulator's nvcc
/// stand-in (test/gpu/emu), whose "GPU" is thousands of times slower.
bool emulated() {
  return std::filesystem::exists(folder("NETC_GPU_MODELS_DIR", NETC_GPU_MODELS_DIR) +
                                 "/EMULATED");
}

/// `steps` lenet5 training steps of random batches on both instances: the
/// losses must agree within 1e-3 (relative above 1).
void trainSideBySide(const Pair &p, int32_t batch, int steps, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> pixel(0.f, 1.f);
  std::vector<float> x(size_t(batch) * 784);
  std::vector<int32_t> y(static_cast<size_t>(batch));
  for (int step = 0; step < steps; ++step) {
    for (float &v : x)
      v = pixel(gen);
    for (int32_t &v : y)
      v = int32_t(gen() % 10);
    float lc = 0, lg = 0;
    int32_t cc = 0, cg = 0;
    ASSERT_TRUE(p.cpu->trainStep(x.data(), y.data(), batch, uint64_t(step), lc, cc));
    Status s = p.gpu->trainStep(x.data(), y.data(), batch, uint64_t(step), lg, cg);
    ASSERT_TRUE(s) << s.error();
    EXPECT_NEAR(lc, lg, 1e-3 * std::max(1.f, std::fabs(lc))) << "step " << step;
  }
}

/// Twenty lenet5 steps on the GPU and the CPU follow the same losses (five
/// under the emulator, where a step takes seconds).
TEST(Gpu, Lenet5ShortTraining) {
  constexpr int32_t kBatch = 64;
  std::string why;
  Pair p = open("lenet5", kBatch, why);
  if (!why.empty())
    GTEST_SKIP() << "lenet5: " << why;
  ASSERT_TRUE(p.cpu && p.gpu);
  setWeights(p, 3);
  trainSideBySide(p, kBatch, emulated() ? 5 : 20, 5);
}

/// Every parameter of the GPU's within 1e-2 of the largest magnitude of the
/// CPU's (the runs' tolerance), `when` naming the point in the test.
void expectParamsNear(const netc_model_info &info, const std::vector<const float *> &cpu,
                      const std::vector<const float *> &gpu, const std::string &when) {
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &t = info.params[i];
    float largest = 1e-6f;
    for (int64_t j = 0; j < t.size; ++j)
      largest = std::max(largest, std::fabs(cpu[size_t(i)][j]));
    for (int64_t j = 0; j < t.size; ++j)
      ASSERT_NEAR(cpu[size_t(i)][j], gpu[size_t(i)][j], 1e-2f * largest)
          << t.name << "[" << j << "] " << when;
  }
}

/// A run of steps over a training set held on the GPU: the batches gathered
/// there, one captured step replayed per full batch. Against the CPU's run
/// (same tolerances as single steps), and against the same GPU run launched
/// without the graph (NETC_CUDA_GRAPHS=0), which must match bit for bit: the
/// kernels are deterministic and the graph only replays them.
void compareRuns(const std::string &name, int32_t batch) {
  std::string why;
  Pair p = open(name, batch, why);
  if (!why.empty())
    GTEST_SKIP() << name << ": " << why;
  ASSERT_TRUE(p.cpu && p.gpu);
  const netc_model_info &info = p.cpu->info();
  const int64_t size = inputSize(info), samples = 8 * int64_t(batch) + 3;
  std::mt19937 gen(17);
  std::vector<uint8_t> pixels(static_cast<size_t>(samples * size));
  for (uint8_t &v : pixels)
    v = uint8_t(gen() & 255u);
  std::vector<int32_t> labels(static_cast<size_t>(samples));
  for (int32_t &v : labels)
    v = int32_t(gen() % uint32_t(info.classes));
  Normalization norm = Normalization::of(info);
  const std::vector<float> table = norm.table();
  std::vector<int64_t> order(static_cast<size_t>(samples));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::shuffle(order.begin(), order.end(), gen);
  const int64_t count = 5 * int64_t(batch) + 3, steps = 6;
  std::vector<uint64_t> seeds(steps);
  std::vector<float> rates(steps);
  for (int64_t s = 0; s < steps; ++s) {
    seeds[size_t(s)] = 1000 + uint64_t(s);
    rates[size_t(s)] = float(info.train.learning_rate) * (1.f - 0.1f * float(s));
  }
  struct Run {
    std::vector<float> losses;
    std::vector<int32_t> corrects;
    std::vector<std::vector<float>> params;
  };
  auto train = [&](const Instance &net) {
    Run r{std::vector<float>(steps), std::vector<int32_t>(steps), {}};
    Status held = net.setTrainData(pixels.data(), labels.data(), samples, table.data(),
                                   int32_t(norm.mean.size()));
    EXPECT_TRUE(held) << held.error();
    Status ran = net.trainSteps(order.data(), count, seeds.data(), rates.data(),
                                r.losses.data(), r.corrects.data());
    EXPECT_TRUE(ran) << ran.error();
    for (int32_t i = 0; i < info.num_params; ++i)
      r.params.emplace_back(net.param(i), net.param(i) + info.params[i].size);
    return r;
  };
  setWeights(p, 7);
  Run cpu = train(*p.cpu), gpu = train(*p.gpu);
  for (int64_t s = 0; s < steps; ++s)
    EXPECT_NEAR(cpu.losses[size_t(s)], gpu.losses[size_t(s)],
                1e-3 * std::max(1.f, std::fabs(cpu.losses[size_t(s)])))
        << name << " step " << s;
  EXPECT_EQ(p.cpu->step(), p.gpu->step());
  std::vector<const float *> cpuParams, gpuParams;
  for (size_t i = 0; i < cpu.params.size(); ++i) {
    cpuParams.push_back(cpu.params[i].data());
    gpuParams.push_back(gpu.params[i].data());
  }
  expectParamsNear(info, cpuParams, gpuParams,
                   name + ", after " + std::to_string(steps) + " steps");

  // The same run again without the graph, on a fresh GPU instance.
  // NETC_CUDA_GRAPHS is read when the instance is created.
  ::setenv("NETC_CUDA_GRAPHS", "0", 1);
  Pair q = open(name, batch, why);
  ::unsetenv("NETC_CUDA_GRAPHS");
  ASSERT_TRUE(q.gpu) << why;
  setWeights({p.cpu, q.gpu}, 7);
  Run direct = train(*q.gpu);
  EXPECT_EQ(direct.losses, gpu.losses) << name << ": the graph changed the losses";
  EXPECT_EQ(direct.corrects, gpu.corrects) << name;
  for (size_t i = 0; i < gpu.params.size(); ++i)
    for (size_t j = 0; j < gpu.params[i].size(); ++j)
      ASSERT_EQ(direct.params[i][j], gpu.params[i][j])
          << name << " " << info.params[i].name << "[" << j << "]: the graph changed it";
}

TEST(Gpu, Lenet5TrainStepsOnTheDevice) { compareRuns("lenet5", 32); }
TEST(Gpu, MnistCnnTrainStepsOnTheDevice) { compareRuns("mnist_cnn", 32); }
TEST(Gpu, TfCnnTrainStepsOnTheDevice) { compareRuns("tf_cnn", 16); }

/// A data-parallel exchange standing in for a second rank: each value it is
/// handed is halved (a rank's share of its batch, summed over one rank), so
/// the exchanged step differs from the plain one and both paths must apply
/// the same halved gradients.
struct HalvingExchange {
  int64_t starts = 0, waits = 0;
  bool fail = false;
  static int start(void *self, int32_t, float *values, int64_t size) {
    auto *e = static_cast<HalvingExchange *>(self);
    ++e->starts;
    for (int64_t i = 0; i < size; ++i)
      values[i] *= 0.5f;
    return e->fail ? 1 : 0;
  }
  static int wait(void *self) {
    ++static_cast<HalvingExchange *>(self)->waits;
    return 0;
  }
  netc_exchange abi() { return {&start, &wait, this}; }
};

/// The exchanged training step (net-exchange-gradients, docs/distributed.md)
/// on the device, its values staged through host memory: single steps and a
/// run of steps over a held training set (launched step by step, no graph)
/// follow the CPU's exchanged steps within the tolerances above, with the
/// same calls of the exchange; a failed exchange changes nothing.
TEST(Gpu, Lenet5ExchangedStepsFollowTheCpu) {
  constexpr int32_t kBatch = 32;
  std::string why;
  Pair p = open("lenet5", kBatch, why);
  if (!why.empty())
    GTEST_SKIP() << "lenet5: " << why;
  ASSERT_TRUE(p.cpu && p.gpu);
  setWeights(p, 5);
  HalvingExchange onCpu, onGpu;
  netc_exchange cpuAbi = onCpu.abi(), gpuAbi = onGpu.abi();
  ASSERT_TRUE(p.cpu->setExchange(&cpuAbi));
  Status set = p.gpu->setExchange(&gpuAbi);
  ASSERT_TRUE(set) << set.error();
  trainSideBySide(p, kBatch, 3, 9);
  // Every trainable parameter's gradient, each step, on both.
  EXPECT_EQ(onCpu.starts, 3 * 10);
  EXPECT_EQ(onGpu.starts, onCpu.starts);
  EXPECT_EQ(onGpu.waits, 3);

  // A run of steps over a held set.
  const netc_model_info &info = p.cpu->info();
  std::mt19937 gen(9);
  const int64_t samples = 2 * kBatch + 5;
  std::vector<uint8_t> pixels(static_cast<size_t>(samples) * 784);
  for (uint8_t &v : pixels)
    v = uint8_t(gen() & 255u);
  std::vector<int32_t> labels(static_cast<size_t>(samples));
  for (int32_t &v : labels)
    v = int32_t(gen() % 10);
  Normalization norm = Normalization::of(info);
  const std::vector<float> table = norm.table();
  std::vector<int64_t> order(static_cast<size_t>(samples));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::vector<uint64_t> seeds = {21, 22, 23};
  std::vector<float> rates(3, float(info.train.learning_rate));
  for (const Instance *net : {p.cpu.get(), p.gpu.get()}) {
    std::vector<float> losses(3);
    std::vector<int32_t> corrects(3);
    ASSERT_TRUE(net->setTrainData(pixels.data(), labels.data(), samples, table.data(), 1));
    Status ran = net->trainSteps(order.data(), samples, seeds.data(), rates.data(),
                                 losses.data(), corrects.data());
    ASSERT_TRUE(ran) << ran.error();
  }
  EXPECT_EQ(onGpu.starts, onCpu.starts);
  EXPECT_EQ(onGpu.waits, 6);
  EXPECT_EQ(p.cpu->step(), 6);
  EXPECT_EQ(p.gpu->step(), 6);
  std::vector<const float *> cpuParams, gpuParams;
  for (int32_t i = 0; i < info.num_params; ++i) {
    cpuParams.push_back(p.cpu->param(i));
    gpuParams.push_back(p.gpu->param(i));
  }
  expectParamsNear(info, cpuParams, gpuParams, "after 6 exchanged steps");

  // A failed exchange: the code says so, and neither the step count nor a
  // parameter moved.
  std::vector<float> before(p.gpu->param(0), p.gpu->param(0) + info.params[0].size);
  std::vector<float> x(size_t(kBatch) * 784, 0.5f);
  std::vector<int32_t> y(static_cast<size_t>(kBatch), 3);
  onGpu.fail = true;
  float loss = 0;
  int32_t correct = 0;
  Status failed = p.gpu->trainStep(x.data(), y.data(), kBatch, 99, loss, correct);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("code 4"), std::string::npos) << failed.error();
  EXPECT_NE(failed.error().find("exchange failed"), std::string::npos) << failed.error();
  EXPECT_EQ(p.gpu->step(), 6);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), p.gpu->param(0)));
  // Without the exchange the plain step runs again.
  ASSERT_TRUE(p.gpu->setExchange(nullptr));
  const int64_t starts = onGpu.starts;
  ASSERT_TRUE(p.gpu->trainStep(x.data(), y.data(), kBatch, 100, loss, correct));
  EXPECT_EQ(onGpu.starts, starts);
  EXPECT_EQ(p.gpu->step(), 7);
}

/// One lenet5 epoch on real MNIST (60,000 images, batch 128) through the
/// Trainer on each device: the GPU's test accuracy is the CPU's within half
/// a point (their roundings differ, so the runs drift apart slowly).
TEST(Gpu, Lenet5MnistEpochReachesTheCpuAccuracy) {
  const std::string mnist = folder("NETC_SOURCE_DIR", NETC_SOURCE_DIR) + "/data/mnist";
  if (!std::filesystem::exists(mnist))
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  // 469 steps and 10,000 evaluations take many minutes under the CUDA
  // emulator (test/gpu/emu); emu.Gpu.Lenet5ShortTraining covers training there.
  if (emulated())
    GTEST_SKIP() << "a whole MNIST epoch is left to a real GPU ("
                 << folder("NETC_GPU_MODELS_DIR", NETC_GPU_MODELS_DIR)
                 << " holds the CUDA emulator's models)";
  std::string why;
  Pair p = open("lenet5", 128, why);
  if (!why.empty())
    GTEST_SKIP() << "lenet5: " << why;
  ASSERT_TRUE(p.cpu && p.gpu);
  auto data = loadIdxForModel(mnist, p.cpu->info(), 0);
  ASSERT_TRUE(data) << data.error;
  auto epoch = [&](const Instance &net, const std::string &device) {
    TrainOptions options;
    options.epochs = 1;
    options.seed = 1;
    options.outDir = (std::filesystem::temp_directory_path() /
                      ("netc-gpu-epoch-" + device + "-" + std::to_string(::getpid())))
                         .string();
    std::filesystem::remove_all(options.outDir);
    Result<TrainResult> r = netc::runtime::train(net, data->train, data->test, options, {});
    std::filesystem::remove_all(options.outDir);
    EXPECT_TRUE(r) << device << ": " << r.error;
    return r && !r->history.empty() ? r->history.back() : EpochStats();
  };
  EpochStats cpu = epoch(*p.cpu, "cpu"), gpu = epoch(*p.gpu, "cuda");
  std::printf("lenet5, one epoch: CPU %.4f test accuracy in %.2f s, GPU %.4f in %.2f s\n",
              cpu.valAccuracy, cpu.seconds, gpu.valAccuracy, gpu.seconds);
  EXPECT_GT(gpu.valAccuracy, 0.95);
  EXPECT_NEAR(gpu.valAccuracy, cpu.valAccuracy, 0.005);
}

} // namespace
