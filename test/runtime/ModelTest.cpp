//===- ModelTest.cpp - Loading model libraries and initialising them ------===//

#include "TestSupport.h"

#include "net/Runtime/Model.h"
#include "net/Runtime/Trainer.h"

#include <cmath>
#include <cstring>

using namespace netc::runtime;
using netc::test::TempDirTest;

namespace {

class ModelTest : public TempDirTest {};

TEST_F(ModelTest, LoadsTheFixture) {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  ASSERT_TRUE(model) << model.error;
  const netc_model_info &info = (*model)->info();
  EXPECT_STREQ(info.network, "softmax_regression");
  EXPECT_EQ(info.classes, 10);
  EXPECT_EQ((*model)->inputSize(), 784);
  EXPECT_EQ((*model)->inputShapeText(), "(1, 28, 28)");
  ASSERT_EQ(info.num_params, 2);
  EXPECT_STREQ(info.params[0].name, "dense_1.kernel");
  EXPECT_EQ(info.num_state, 4);
}

TEST_F(ModelTest, RefusesAFileThatIsNotALibrary) {
  std::string file = path("model.so");
  netc::test::writeFile(file, "not a library\n");
  Result<std::shared_ptr<Model>> model = Model::load(file);
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error, file + ": not a model: not a shared library (netc -o model.so builds one)");
}

TEST_F(ModelTest, RefusesAMissingFile) {
  Result<std::shared_ptr<Model>> model = Model::load(path("absent.so"));
  ASSERT_FALSE(model);
  EXPECT_NE(model.error.find("absent.so: cannot open model: No such file"), std::string::npos)
      << model.error;
}

TEST_F(ModelTest, RefusesATruncatedLibrary) {
  std::string file = path("truncated.so");
  netc::test::writeFile(file, netc::test::readFile(FIXTURE_ADAM).substr(0, 200));
  Result<std::shared_ptr<Model>> model = Model::load(file);
  ASSERT_FALSE(model);
  EXPECT_NE(model.error.find("not a model: cannot load it as a shared library"),
            std::string::npos)
      << model.error;
}

TEST_F(ModelTest, RefusesALibraryWithoutNetcModel) {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_NOT_A_MODEL);
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error, std::string(FIXTURE_NOT_A_MODEL) +
                             ": not a model: it exports no 'netc_model' symbol (is it a "
                             "library built by netc?)");
}

TEST_F(ModelTest, RefusesAnotherAbiVersion) {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_WRONG_ABI);
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error, std::string(FIXTURE_WRONG_ABI) +
                             ": built for model ABI version 99, this netrun reads version " + std::to_string(NETC_ABI_VERSION) + "; "
                             "recompile the model with the matching netc");
}

// The set-up's ranges are TrainSettings.def's, as the front end's and
// netrun's flags' are; each error names the ABI field.
TEST_F(ModelTest, RefusesATrainingSetUpOutOfRange) {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_BAD_SCHEDULE);
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error, std::string(FIXTURE_BAD_SCHEDULE) +
                             ": malformed model: its training set-up has lr_gamma 1.5, "
                             "expected a factor in (0, 1]");
  model = Model::load(FIXTURE_BAD_EARLY_STOPPING);
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error, std::string(FIXTURE_BAD_EARLY_STOPPING) +
                             ": malformed model: its training set-up has monitor "
                             "'accuracy', expected val_loss or val_accuracy");
}

TEST_F(ModelTest, RefusesCudaForACpuOnlyModel) {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  ASSERT_TRUE(model) << model.error;
  Result<std::shared_ptr<Instance>> instance =
      Instance::create(*model, DeviceChoice::Cuda, /*batch=*/8, /*threads=*/1);
  ASSERT_FALSE(instance);
  EXPECT_NE(instance.error.find("compiled without a CUDA path"), std::string::npos);
  instance = Instance::create(*model, DeviceChoice::Auto, /*batch=*/8, /*threads=*/1);
  ASSERT_TRUE(instance) << instance.error;
  EXPECT_EQ((*instance)->device(), NETC_DEVICE_CPU);
}

TEST_F(ModelTest, StepErrorsCarryTheModelsMessage) {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  ASSERT_TRUE(model);
  Result<std::shared_ptr<Instance>> instance = Instance::create(*model, DeviceChoice::Cpu, 2, 1);
  ASSERT_TRUE(instance);
  std::vector<float> input(3 * 784), probabilities(30);
  Status s = (*instance)->forward(input.data(), 3, probabilities.data());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("netc_forward failed (code 1): n = 3 is outside [1, 2]"),
            std::string::npos)
      << s.error();
}

TEST_F(ModelTest, GlorotUniformInitialisationFromTheSeed) {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  ASSERT_TRUE(model);
  auto a = Instance::create(*model, DeviceChoice::Cpu, 4, 1);
  auto b = Instance::create(*model, DeviceChoice::Cpu, 4, 1);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(initializeParameters(**a, 7));
  ASSERT_TRUE(initializeParameters(**b, 7));
  const float limit = float(std::sqrt(6.0 / (784 + 10)));
  const float *kernel = (*a)->param(0);
  double sum = 0, sumSquares = 0;
  float largest = 0;
  for (int i = 0; i < 7840; ++i) {
    largest = std::max(largest, std::fabs(kernel[i]));
    sum += kernel[i];
    sumSquares += double(kernel[i]) * kernel[i];
  }
  EXPECT_LE(largest, limit);
  EXPECT_GT(largest, 0.99f * limit);
  EXPECT_NEAR(sum / 7840, 0.0, 0.01 * limit);
  EXPECT_NEAR(sumSquares / 7840, limit * limit / 3.0, 0.05 * limit * limit / 3.0);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ((*a)->param(1)[i], 0.0f);
  EXPECT_EQ(std::memcmp(kernel, (*b)->param(0), 7840 * sizeof(float)), 0);
  ASSERT_TRUE(initializeParameters(**b, 8));
  EXPECT_NE(std::memcmp(kernel, (*b)->param(0), 7840 * sizeof(float)), 0);
}

} // namespace
