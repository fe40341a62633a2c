//===- GoldenTest.cpp - lenet5 against PyTorch, five steps at a time ------===//
//
// Replays golden/lenet5_golden.txt (written once by make_lenet5_golden.py with
// PyTorch): the same initial weights (a formula both sides compute), the same
// five batches of the first 80 MNIST images, SGD with momentum and Adam. The
// losses and the weights after five steps must agree within the tolerances
// below: float32 sums in another order differ in the last bits, and five
// steps keep that far below the effect of a wrong gradient.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/IDX.h"
#include "net/Runtime/Model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace netc::runtime;

namespace {

constexpr int kBatch = 16;
constexpr int kSteps = 5;

uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string &text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : text)
    h = (h ^ c) * 0x100000001B3ull;
  return h;
}

/// The golden script's initial_value, bit for bit.
float initialValue(const std::string &name, uint64_t index, double scale) {
  double u = double(splitmix64(fnv1a(name) ^ index) >> 40) / double(1 << 24);
  return float((2.0 * u - 1.0) * scale);
}

struct GoldenParam {
  double sum = 0, norm = 0;
  std::vector<std::pair<int64_t, double>> samples;
};

struct Golden {
  std::map<std::string, std::vector<double>> losses;              // optimizer -> per step
  std::map<std::string, std::map<std::string, GoldenParam>> params; // optimizer -> name -> values
};

Golden readGolden(const std::string &path) {
  Golden golden;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind, optimizer;
    words >> kind >> optimizer;
    if (kind == "loss") {
      int step;
      double value;
      words >> step >> value;
      golden.losses[optimizer].push_back(value);
    } else if (kind == "param") {
      std::string name, word;
      GoldenParam p;
      words >> name >> word >> p.sum >> word >> p.norm;
      while (words >> word) {
        size_t colon = word.find(':');
        p.samples.push_back({std::stoll(word.substr(0, colon)), std::stod(word.substr(colon + 1))});
      }
      golden.params[optimizer][name] = p;
    }
  }
  return golden;
}

void replay(const std::string &library, const std::string &optimizer, float learningRate,
            double weightTolerance) {
  std::string data = std::string(NETC_SOURCE_DIR) + "/data/mnist";
  if (!std::filesystem::exists(data))
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  Golden golden = readGolden(std::string(NETC_SOURCE_DIR) + "/test/e2e/golden/lenet5_golden.txt");
  ASSERT_EQ(golden.losses[optimizer].size(), size_t(kSteps)) << "golden file incomplete";

  auto model = Model::load(library);
  ASSERT_TRUE(model) << model.error;
  auto instance = Instance::create(*model, DeviceChoice::Cpu, kBatch, /*threads=*/2);
  ASSERT_TRUE(instance) << instance.error;
  Instance &net = **instance;
  const netc_model_info &info = net.info();
  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &p = info.params[i];
    std::string name = p.name;
    int64_t fanIn = p.size / p.shape[0];
    double scale = name.size() > 5 && name.substr(name.size() - 5) == ".bias"
                       ? 0.05
                       : std::sqrt(3.0 / double(fanIn));
    float *values = net.param(i);
    for (int64_t j = 0; j < p.size; ++j)
      values[j] = initialValue(name, uint64_t(j), scale);
  }
  net.setLearningRate(learningRate);

  auto mnist = readIdxDataset(data);
  ASSERT_TRUE(mnist) << mnist.error;
  std::vector<float> x(kBatch * 784);
  std::vector<int32_t> y(kBatch);
  for (int step = 0; step < kSteps; ++step) {
    for (int i = 0; i < kBatch; ++i) {
      size_t image = size_t(step * kBatch + i);
      for (int j = 0; j < 784; ++j)
        x[i * 784 + j] = float(mnist->train.pixels[image * 784 + j]) / 255.0f;
      y[i] = mnist->train.labels[image];
    }
    float loss = 0;
    int32_t correct = 0;
    Status status = net.trainStep(x.data(), y.data(), kBatch, /*seed=*/1, loss, correct);
    ASSERT_TRUE(status.ok()) << status.error();
    double expected = golden.losses[optimizer][step];
    EXPECT_NEAR(loss, expected, 1e-4 * std::max(1.0, std::fabs(expected)))
        << optimizer << " step " << step;
  }

  for (int32_t i = 0; i < info.num_params; ++i) {
    const netc_tensor_info &p = info.params[i];
    auto it = golden.params[optimizer].find(p.name);
    ASSERT_NE(it, golden.params[optimizer].end()) << p.name;
    const GoldenParam &want = it->second;
    const float *values = net.param(i);
    double sum = 0, norm = 0;
    for (int64_t j = 0; j < p.size; ++j) {
      sum += values[j];
      norm += double(values[j]) * values[j];
    }
    norm = std::sqrt(norm);
    EXPECT_NEAR(norm, want.norm, 1e-4 * want.norm) << optimizer << " " << p.name << " norm";
    EXPECT_NEAR(sum, want.sum, weightTolerance * std::sqrt(double(p.size)) + 1e-4 * std::fabs(want.sum))
        << optimizer << " " << p.name << " sum";
    for (auto [index, value] : want.samples)
      EXPECT_NEAR(values[index], value, weightTolerance)
          << optimizer << " " << p.name << "[" << index << "]";
  }
}

// SGD's step is linear in the gradient: float-order noise stays tiny.
TEST(Golden, Lenet5SgdMatchesPyTorch) {
  replay(NETC_LENET5_SGD_SO, "sgd", 0.01f, /*weightTolerance=*/2e-6);
}

// Adam divides by the gradient's running size: where a gradient is nearly
// zero, float noise can tip a step, so weights get a looser bound than SGD.
TEST(Golden, Lenet5AdamMatchesPyTorch) {
  replay(NETC_LENET5_SO, "adam", 0.001f, /*weightTolerance=*/2e-5);
}

} // namespace
