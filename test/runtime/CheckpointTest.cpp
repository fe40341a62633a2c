//===- CheckpointTest.cpp - Checkpoints: round trip, atomicity, damage ----===//

#include "TestSupport.h"

#include "net/Runtime/ModelCheckpoint.h"
#include "net/Runtime/Trainer.h"

#include <csignal>
#include <cstring>
#include <sys/resource.h>

using namespace netc::runtime;
using netc::test::readFile;
using netc::test::TempDirTest;
using netc::test::writeFile;

namespace {

class CheckpointTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    Result<std::shared_ptr<Model>> loaded = Model::load(FIXTURE_ADAM);
    ASSERT_TRUE(loaded) << loaded.error;
    model = *loaded;
    Result<std::shared_ptr<Instance>> created = Instance::create(model, DeviceChoice::Cpu, 4, 1);
    ASSERT_TRUE(created) << created.error;
    instance = *created;
    ASSERT_TRUE(initializeParameters(*instance, 3));
    instance->state(1)[5] = 0.25f; // something non-zero in the optimizer state
    instance->setStep(17);
  }

  Checkpoint sample() const {
    Checkpoint c = captureCheckpoint(*instance);
    c.epoch = 3;
    c.rngState = {1, 2, 3, 0xffffffffffffffffull};
    c.run.seed = 99;
    c.run.batch = 32;
    c.run.data = "mnist";
    c.bestValAccuracy = 0.91;
    c.bestEpoch = 2;
    return c;
  }

  std::shared_ptr<Model> model;
  std::shared_ptr<Instance> instance;
};

TEST_F(CheckpointTest, RoundTrip) {
  Checkpoint written = sample();
  std::string file = path("last.ckpt");
  ASSERT_TRUE(writeCheckpoint(file, written));
  Result<Checkpoint> read = readCheckpoint(file);
  ASSERT_TRUE(read) << read.error;
  EXPECT_EQ(read->network, "softmax_regression");
  ASSERT_EQ(read->params.size(), 2u);
  ASSERT_EQ(read->state.size(), 4u);
  EXPECT_EQ(read->params[0].name, "dense_1.kernel");
  EXPECT_EQ(read->params[0].shape, (std::vector<int64_t>{10, 784}));
  EXPECT_EQ(read->params[0].data, written.params[0].data);
  EXPECT_EQ(read->state[1].name, "dense_1.kernel/adam_v");
  EXPECT_EQ(read->state[1].data[5], 0.25f);
  EXPECT_EQ(read->step, 17);
  EXPECT_EQ(read->epoch, 3);
  EXPECT_EQ(read->rngState, written.rngState);
  EXPECT_EQ(read->run.seed, 99u);
  EXPECT_EQ(read->run.batch, 32);
  EXPECT_EQ(read->run.data, "mnist");
  EXPECT_DOUBLE_EQ(read->bestValAccuracy, 0.91);
  EXPECT_EQ(read->inputMean, (std::vector<float>{0.f}));
  EXPECT_EQ(read->inputStd, (std::vector<float>{1.f}));

  // Restoring into a fresh instance reproduces parameters, slots and step.
  auto other = Instance::create(model, DeviceChoice::Cpu, 4, 1);
  ASSERT_TRUE(other);
  ASSERT_TRUE(restoreCheckpoint(*read, **other, file, /*withState=*/true));
  EXPECT_EQ(std::memcmp((*other)->param(0), instance->param(0), 7840 * sizeof(float)), 0);
  EXPECT_EQ((*other)->state(1)[5], 0.25f);
  EXPECT_EQ((*other)->step(), 17);
}

TEST_F(CheckpointTest, AFailedWriteLeavesTheOldFileWhole) {
  std::string file = path("last.ckpt");
  Checkpoint old = sample();
  ASSERT_TRUE(writeCheckpoint(file, old));
  std::string before = readFile(file);

  // The file-size limit makes the write of the new file fail halfway.
  Checkpoint newer = sample();
  newer.epoch = 4;
  for (float &v : newer.params[0].data)
    v += 1.0f;
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto previousHandler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status s = writeCheckpoint(file, newer);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previousHandler);

  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("cannot write checkpoint"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("the previous file, if any, is unchanged"), std::string::npos);
  EXPECT_EQ(readFile(file), before);
  Result<Checkpoint> read = readCheckpoint(file);
  ASSERT_TRUE(read) << read.error;
  EXPECT_EQ(read->epoch, 3);
  // No temporary file is left behind.
  int files = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(CheckpointTest, AnUnwritableFolderIsRefused) {
  Status s = writeCheckpoint(path("no/such/folder/last.ckpt"), sample());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("cannot write checkpoint"), std::string::npos) << s.error();
}

TEST_F(CheckpointTest, TruncatedCorruptedAndForeignFilesAreRefused) {
  std::string file = path("last.ckpt");
  ASSERT_TRUE(writeCheckpoint(file, sample()));
  std::string bytes = readFile(file);

  writeFile(path("truncated.ckpt"), bytes.substr(0, bytes.size() / 2));
  Result<Checkpoint> r = readCheckpoint(path("truncated.ckpt"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("truncated or corrupted"), std::string::npos) << r.error;

  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40; // inside the float data
  writeFile(path("flipped.ckpt"), flipped);
  r = readCheckpoint(path("flipped.ckpt"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error, path("flipped.ckpt") + ": corrupted checkpoint (checksum mismatch)");

  writeFile(path("empty.ckpt"), "");
  r = readCheckpoint(path("empty.ckpt"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error, path("empty.ckpt") + ": not a checkpoint: the file is empty");

  writeFile(path("text.ckpt"), "epoch,loss\n1,0.5\n");
  r = readCheckpoint(path("text.ckpt"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.find(path("text.ckpt") + ": not a netrun checkpoint"), 0u) << r.error;

  r = readCheckpoint(path("absent.ckpt"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("absent.ckpt: cannot open checkpoint: No such file"), std::string::npos);
}

TEST_F(CheckpointTest, MismatchesAreNamed) {
  const netc_model_info &info = model->info();
  Checkpoint c = sample();
  EXPECT_TRUE(checkCompatible(c, info, "c.ckpt", true));

  Checkpoint network = c;
  network.network = "lenet5";
  EXPECT_EQ(checkCompatible(network, info, "c.ckpt", true).error(),
            "c.ckpt: a checkpoint of network 'lenet5', the model is 'softmax_regression'");

  Checkpoint shape = c;
  shape.params[0].shape = {10, 783};
  EXPECT_EQ(checkCompatible(shape, info, "c.ckpt", true).error(),
            "c.ckpt: parameter 'dense_1.kernel' has shape [10, 783], the model expects "
            "[10, 784]");

  Checkpoint name = c;
  name.params[1].name = "dense_2.bias";
  EXPECT_EQ(checkCompatible(name, info, "c.ckpt", true).error(),
            "c.ckpt: parameter 1 is 'dense_2.bias', the model expects 'dense_1.bias'");

  Checkpoint missing = c;
  missing.state.pop_back();
  EXPECT_EQ(checkCompatible(missing, info, "c.ckpt", true).error(),
            "c.ckpt: has no optimizer slot 'dense_1.bias/adam_v' (it holds 3 optimizer "
            "slots, the model 4)");
  // Weights alone (eval, predict) do not need the optimizer slots.
  EXPECT_TRUE(checkCompatible(missing, info, "c.ckpt", false));

  // Weights trained on inputs normalised otherwise than this model does.
  Checkpoint normalised = c;
  normalised.inputMean = {0.1307f};
  normalised.inputStd = {0.3081f};
  EXPECT_EQ(checkCompatible(normalised, info, "c.ckpt", false).error(),
            "c.ckpt: its weights were trained on inputs normalised with mean [0.1307], std "
            "[0.3081]; this model normalises with mean [0], std [1] (recompile it with the "
            "input's original mean and std)");
  // Older checkpoints and imported weights record none: not checked.
  normalised.inputMean.clear();
  normalised.inputStd.clear();
  EXPECT_TRUE(checkCompatible(normalised, info, "c.ckpt", true));

  // A checkpoint of the SGD build has other slots.
  Result<std::shared_ptr<Model>> sgd = Model::load(FIXTURE_SGD);
  ASSERT_TRUE(sgd) << sgd.error;
  Status s = checkCompatible(c, (*sgd)->info(), "c.ckpt", true);
  EXPECT_EQ(s.error(), "c.ckpt: optimizer slot 0 is 'dense_1.kernel/adam_m', the model "
                       "expects 'dense_1.kernel/momentum'");
}

} // namespace

namespace {

// train --weights: parameters are taken by name, the model's others keep
// their initialisation, the checkpoint's others are reported unused, and a
// name with another shape is refused naming both shapes.
TEST_F(CheckpointTest, ParametersLoadByName) {
  Checkpoint c;
  c.params.push_back({"dense_1.bias", {10}, std::vector<float>(10, 0.5f)});
  c.params.push_back({"other_layer.kernel", {3}, {1, 2, 3}});
  const float kernelBefore = instance->param(0)[7];
  Result<LoadReport> report = loadParametersByName(c, *instance, "base.ckpt");
  ASSERT_TRUE(report) << report.error;
  EXPECT_EQ(report->loaded, 1);
  EXPECT_EQ(report->notInCheckpoint, std::vector<std::string>{"dense_1.kernel"});
  EXPECT_EQ(report->notInModel, std::vector<std::string>{"other_layer.kernel"});
  EXPECT_EQ(instance->param(1)[9], 0.5f);
  EXPECT_EQ(instance->param(0)[7], kernelBefore);
  EXPECT_EQ(formatLoadReport(*report, "base.ckpt"),
            "loaded 1 of 2 parameters from base.ckpt; initialised from the seed: "
            "dense_1.kernel; not in this model, unused: other_layer.kernel");

  c.params[0].shape = {5};
  c.params[0].data.resize(5);
  Result<LoadReport> bad = loadParametersByName(c, *instance, "base.ckpt");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error, "base.ckpt: parameter 'dense_1.bias' has the shape [5], the model's is [10]");
}

} // namespace
