//===- TrainSetupTest.cpp - The .net file's train set-up as netrun's defaults ===//
//
// Inputs/train_setup.net, compiled by netc, sets a step schedule, early
// stopping and an input normalisation. netrun must take them as the defaults
// of its flags, let each flag override its own setting, and feed the model
// (p / 255 - mean) / std.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Data.h"
#include "Netrun.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/Model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace netc::runtime;

namespace {

std::string mnistDir() { return std::string(NETC_SOURCE_DIR) + "/data/mnist"; }

bool haveMnist() {
  return std::filesystem::exists(mnistDir() + "/train-images-idx3-ubyte") ||
         std::filesystem::exists(mnistDir() + "/train-images-idx3-ubyte.gz");
}

using Outcome = NetrunOutcome;

/// netrun in-process.
Outcome netrun(const std::vector<std::string> &args) { return runNetrunCaptured(args); }

class TrainSetupTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("netc-train-setup-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  /// Trains one short epoch with `flags` and returns config.txt.
  std::string configOf(const std::vector<std::string> &flags) {
    std::vector<std::string> args = {"train", NETC_TRAIN_SETUP_SO, "--data", mnistDir(),
                                     "--limit", "200", "--validation-split", "0.5", "--epochs", "1",
                                     "--out", dir.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    Outcome o = netrun(args);
    EXPECT_EQ(o.status, 0) << o.err;
    std::ifstream in(dir / "config.txt");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static bool has(const std::string &config, const std::string &line) {
    return config.find("\n" + line + "\n") != std::string::npos;
  }

  std::filesystem::path dir;
};

TEST_F(TrainSetupTest, TheModelCarriesItsSetUp) {
  Result<std::shared_ptr<Model>> model = Model::load(NETC_TRAIN_SETUP_SO);
  ASSERT_TRUE(model) << model.error;
  const netc_model_info &info = (*model)->info();
  EXPECT_EQ(info.abi_version, NETC_ABI_VERSION);
  const netc_train_setup &t = info.train;
  EXPECT_STREQ(t.lr_schedule, "step");
  EXPECT_EQ(t.lr_step_size, 2);
  EXPECT_EQ(t.lr_gamma, 0.5);
  EXPECT_EQ(t.early_stopping, 1);
  EXPECT_STREQ(t.monitor, "val_accuracy");
  EXPECT_EQ(t.patience, 2);
  EXPECT_EQ(t.min_delta, 0.001);
  EXPECT_EQ(t.restore_best_weights, 1);
  EXPECT_EQ(info.input_mean[0], 0.1307f);
  EXPECT_EQ(info.input_std[0], 0.3081f);

  Outcome o = netrun({"info", NETC_TRAIN_SETUP_SO});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("Learning-rate schedule: step (--lr-step-size 2 --lr-gamma 0.5)\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("Early stopping: on (--monitor val_accuracy --patience 2 --min-delta "
                       "0.001 --restore-best-weights)\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("Input normalisation: (pixel / 255 - mean) / std, mean [0.1307], "
                       "std [0.3081]\n"),
            std::string::npos)
      << o.out;
}

TEST_F(TrainSetupTest, NetrunTakesTheModelsSetUpAsDefaults) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  std::string config = configOf({});
  for (const char *line :
       {"batch = 50", "lr = 0.05", "lr-schedule = step", "lr-step-size = 2",
        "lr-gamma = 0.5", "early-stopping = true", "monitor = val_accuracy", "patience = 2",
        "min-delta = 0.001", "restore-best-weights = true"})
    EXPECT_TRUE(has(config, line)) << line << "\n" << config;
}

TEST_F(TrainSetupTest, AFlagOverridesItsOwnSettingOnly) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  std::string config = configOf({"--lr-gamma", "0.25", "--patience", "5"});
  for (const char *line : {"lr-schedule = step", "lr-step-size = 2", "lr-gamma = 0.25",
                           "early-stopping = true", "monitor = val_accuracy", "patience = 5",
                           "restore-best-weights = true"})
    EXPECT_TRUE(has(config, line)) << line << "\n" << config;

  // Another schedule starts from netrun's defaults, not the model's step_size.
  config = configOf({"--lr-schedule", "reduce-on-plateau", "--no-early-stopping"});
  for (const char *line : {"lr-schedule = reduce-on-plateau", "lr-patience = 10",
                           "lr-factor = 0.1", "lr-min = 0", "early-stopping = false"})
    EXPECT_TRUE(has(config, line)) << line << "\n" << config;
  EXPECT_FALSE(has(config, "monitor = val_accuracy")) << config;
}

TEST_F(TrainSetupTest, FlagsAreCheckedAgainstTheModelsSetUp) {
  Outcome o = netrun({"train", NETC_TRAIN_SETUP_SO, "--lr-decay", "0.9"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err, "netrun: error: option '--lr-decay' applies only to --lr-schedule "
                   "exponential (the schedule is step, the model's)\n");
  // The model's early stopping makes its flags valid without --early-stopping...
  o = netrun({"train", NETC_TRAIN_SETUP_SO, "--patience", "4"});
  EXPECT_EQ(o.err, "netrun: error: train needs --data NAME|DIR (e.g. --data mnist)\n");
  // ...but not once it is turned off.
  o = netrun({"train", NETC_TRAIN_SETUP_SO, "--no-early-stopping", "--patience", "4"});
  EXPECT_EQ(o.err, "netrun: error: option '--patience' applies only with --early-stopping "
                   "(--no-early-stopping is given)\n");
  o = netrun({"train", NETC_TRAIN_SETUP_SO, "--early-stopping", "--no-early-stopping"});
  EXPECT_EQ(o.err, "netrun: error: options '--early-stopping' and '--no-early-stopping' "
                   "contradict each other\n");
}

TEST_F(TrainSetupTest, TheDataIsNormalisedAsTheModelAsks) {
  if (!haveMnist())
    GTEST_SKIP() << "data/mnist is not installed (./setup.sh installs it)";
  Result<std::shared_ptr<Model>> model = Model::load(NETC_TRAIN_SETUP_SO);
  ASSERT_TRUE(model) << model.error;
  Result<TrainTestData> data = loadIdxForModel(mnistDir(), (*model)->info(), /*limit=*/2);
  ASSERT_TRUE(data) << data.error;
  std::vector<float> input(2 * 784);
  data->train.gatherRange(0, 2, input.data(), nullptr);
  std::vector<float> shuffled(784);
  data->train.gather({1, 0}, 0, 1, shuffled.data(), nullptr);
  for (size_t k = 0; k < 784; ++k) {
    float p0 = float(data->train.pixels[k]), p1 = float(data->train.pixels[784 + k]);
    ASSERT_EQ(input[k], (p0 / 255.0f - 0.1307f) / 0.3081f) << k;
    ASSERT_EQ(shuffled[k], (p1 / 255.0f - 0.1307f) / 0.3081f) << k;
  }
  // Image 0 (a 5) has black background pixels: (0 - mean) / std.
  EXPECT_EQ(input[0], -0.1307f / 0.3081f);
}

} // namespace
