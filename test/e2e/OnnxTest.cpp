//===- OnnxTest.cpp - ONNX models through netc against PyTorch ------------===//
//
// test/onnx/Inputs/residual.onnx (written by make_residual.py from a PyTorch
// residual network with fixed random weights) is imported by netc, which
// writes the library and its weights; its forward on the four fixed images
// must give PyTorch's probabilities, and its logits up to the constant that
// softmax removes; so must the same network written in .net
// (test/onnx/Inputs/residual.net) with its weights from --weights-from. lenet5 with random weights, exported by `netrun export`
// and imported again by netc, must give its own probabilities; the ONNX
// checker also reads the file when python3-onnx is installed.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/ModelCheckpoint.h"
#include "net/Runtime/Model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace netc::runtime;

namespace {

/// Float32 against float32 through different summation orders.
constexpr double kProbabilityTolerance = 1e-5;
constexpr double kLogitTolerance = 1e-4;
/// The same kernels on the same weights: only the order of float sums may differ.
constexpr double kRoundTripTolerance = 1e-6;

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;
  float at(int64_t r, int64_t c) const { return values[size_t(r * cols + c)]; }
};

/// Reads make_residual.py's file: "name rows cols", then rows lines of values.
std::map<std::string, Matrix> readExpected(const std::string &path) {
  std::map<std::string, Matrix> out;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream header(line);
    std::string name;
    Matrix m;
    header >> name >> m.rows >> m.cols;
    m.values.resize(size_t(m.rows * m.cols));
    for (float &v : m.values)
      in >> v;
    out[name] = std::move(m);
  }
  return out;
}

std::shared_ptr<Instance> openWithWeights(const std::string &library,
                                          const std::string &weights, int32_t batch) {
  auto model = Model::load(library);
  EXPECT_TRUE(model) << model.error;
  if (!model)
    return nullptr;
  auto instance = Instance::create(*model, DeviceChoice::Cpu, batch, /*threads=*/1);
  EXPECT_TRUE(instance) << instance.error;
  if (!instance)
    return nullptr;
  auto checkpoint = readCheckpoint(weights);
  EXPECT_TRUE(checkpoint) << checkpoint.error;
  if (!checkpoint)
    return nullptr;
  Status s = restoreCheckpoint(*checkpoint, **instance, weights, /*withState=*/false);
  EXPECT_TRUE(s) << s.error();
  return s ? *instance : nullptr;
}

/// PyTorch's outputs, the `prefix`logits and `prefix`probabilities of
/// `expectedFile` (test/onnx/Inputs), from `library` with `weights` on its
/// images.
void expectPyTorchOutputs(const std::string &library, const std::string &weights,
                          const std::string &expectedFile = "residual_expected.txt",
                          const std::string &prefix = "") {
  auto expected = readExpected(std::string(NETC_SOURCE_DIR) + "/test/onnx/Inputs/" + expectedFile);
  ASSERT_EQ(expected.count("images"), 1u);
  ASSERT_EQ(expected.count(prefix + "probabilities"), 1u);
  const Matrix &images = expected["images"], &logits = expected[prefix + "logits"],
               &probs = expected[prefix + "probabilities"];
  auto net = openWithWeights(library, weights, int32_t(images.rows));
  ASSERT_TRUE(net);
  ASSERT_EQ(net->info().classes, probs.cols);
  std::vector<float> out(size_t(probs.rows * probs.cols));
  Status s = net->forward(images.values.data(), int32_t(images.rows), out.data());
  ASSERT_TRUE(s) << s.error();
  for (int64_t r = 0; r < probs.rows; ++r) {
    // log p = logit - logsumexp: centring both removes the constant.
    double meanLogP = 0, meanLogit = 0;
    for (int64_t c = 0; c < probs.cols; ++c) {
      meanLogP += std::log(double(out[size_t(r * probs.cols + c)]));
      meanLogit += logits.at(r, c);
    }
    meanLogP /= double(probs.cols);
    meanLogit /= double(probs.cols);
    for (int64_t c = 0; c < probs.cols; ++c) {
      double p = out[size_t(r * probs.cols + c)];
      EXPECT_NEAR(p, probs.at(r, c), kProbabilityTolerance) << "image " << r << " class " << c;
      EXPECT_NEAR(std::log(p) - meanLogP, logits.at(r, c) - meanLogit, kLogitTolerance)
          << "image " << r << " class " << c;
    }
  }
}

TEST(OnnxImport, ResidualMatchesPyTorch) {
  expectPyTorchOutputs(NETC_ONNX_RESIDUAL_SO, NETC_ONNX_RESIDUAL_CKPT);
}

/// The same network written in .net, its weights taken with --weights-from.
TEST(OnnxWeightsFrom, ResidualNetMatchesPyTorch) {
  expectPyTorchOutputs(NETC_RESIDUAL_NET_SO, NETC_RESIDUAL_NET_CKPT);
}

/// models/resnet50_head.net at 1/8 width with the weights of torchvision's
/// ResNet50 at that width (its own blocks, seeded, batch-norm statistics
/// far from the defaults, an eighth of the variances near epsilon): exactly
/// torchvision's function (make_torchvision_resnet.py).
TEST(OnnxWeightsFrom, TorchvisionResNet50MatchesPyTorch) {
  std::string dir = NETC_E2E_DIR;
  expectPyTorchOutputs(dir + "/narrow_resnet50.so", dir + "/narrow_resnet50.ckpt",
                       "narrow_resnet50_expected.txt");
}

/// The same network untrained, exported with torch.onnx.export's defaults:
/// batch norms folded, equal constants shared between nodes and behind
/// Identity nodes.
TEST(OnnxImport, PlainTorchvisionExportMatchesPyTorch) {
  std::string dir = NETC_E2E_DIR;
  expectPyTorchOutputs(dir + "/narrow_resnet50_plain.so", dir + "/narrow_resnet50_plain.ckpt",
                       "narrow_resnet50_expected.txt", "plain_");
}

int run(const std::string &command) {
  int rc = std::system((command + " > /dev/null").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(OnnxExport, Lenet5RoundTrip) {
  auto dir = std::filesystem::path(testing::TempDir()) / "onnx-export";
  std::filesystem::create_directories(dir);
  std::string weights = (dir / "lenet5.ckpt").string(), onnx = (dir / "lenet5.onnx").string(),
              reimported = (dir / "lenet5_onnx.so").string(),
              reweights = (dir / "lenet5_onnx.ckpt").string();
  constexpr int kImages = 8;

  auto model = Model::load(NETC_LENET5_SO);
  ASSERT_TRUE(model) << model.error;
  auto original = Instance::create(*model, DeviceChoice::Cpu, kImages, /*threads=*/1);
  ASSERT_TRUE(original) << original.error;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(-0.2f, 0.2f);
  const netc_model_info &info = (*original)->info();
  for (int32_t i = 0; i < info.num_params; ++i)
    for (int64_t j = 0; j < info.params[i].size; ++j)
      (*original)->param(i)[j] = dist(gen);
  Status s = writeCheckpoint(weights, captureCheckpoint(**original));
  ASSERT_TRUE(s) << s.error();

  ASSERT_EQ(run(std::string(NETRUN_BIN) + " export " + NETC_LENET5_SO + " --weights " + weights +
                " --onnx " + onnx),
            0);
  if (run("/usr/bin/python3 -c 'import onnx' 2>/dev/null") == 0)
    EXPECT_EQ(run("/usr/bin/python3 -c 'import onnx, sys; "
                  "onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' " + onnx),
              0)
        << "onnx.checker refuses " << onnx;
  else
    std::printf("python3-onnx is not installed: the ONNX checker was not run\n");
  ASSERT_EQ(run(std::string(NETC_BIN) + " " + onnx + " -o " + reimported + " --no-cuda"), 0);

  auto again = openWithWeights(reimported, reweights, kImages);
  ASSERT_TRUE(again);
  std::vector<float> images(size_t(kImages) * 784);
  std::uniform_real_distribution<float> pixel(0, 1);
  for (float &p : images)
    p = pixel(gen);
  std::vector<float> want(size_t(kImages) * 10), got(want.size());
  ASSERT_TRUE((*original)->forward(images.data(), kImages, want.data()));
  ASSERT_TRUE(again->forward(images.data(), kImages, got.data()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], kRoundTripTolerance) << "output " << i;
}

} // namespace
