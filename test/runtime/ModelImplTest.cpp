//===- ModelImplTest.cpp - the fixed ABI code every compiled model shares -===//
//
// net/Runtime/ModelImpl.h over a small hand-written model: a 2-plane input
// of 3 values a plane, 3 classes, two parameters, one optimizer slot. Its
// steps record what they were given, so the header's argument checks, its
// allocation and the training set's gather through the normalisation table
// are checked without a compiler. The exported functions are this model's;
// NoStepsModel (no training step, no frozen base) goes through ModelAbi<>
// directly.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/ModelABI.h"
#include "net/Runtime/ModelInstance.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

/// What the model's steps were last given.
struct Recorded {
  int forwards = 0, trainSteps = 0, exchangedSteps = 0;
  std::vector<std::vector<float>> inputs;
  std::vector<std::vector<int32_t>> labels;
  std::vector<uint64_t> seeds;
  std::vector<float> learningRates;
};
Recorded recorded;

constexpr int64_t kSampleSize = 6, kPlanes = 2;

netc_model_info makeInfo() {
  netc_model_info m{};
  m.magic = NETC_MAGIC;
  m.abi_version = NETC_ABI_VERSION;
  m.network = "fake";
  m.input_rank = 3;
  m.input_shape[0] = 2, m.input_shape[1] = 1, m.input_shape[2] = 3;
  m.classes = 3;
  m.num_params = 2;
  m.num_state = 1;
  m.train.learning_rate = 0.05;
  return m;
}
const netc_model_info kModel = makeInfo();
const int64_t kParamOffsets[] = {0, 16};
const int64_t kStateOffsets[] = {0};

struct NetcCompiledModel {
  static constexpr int64_t kArenaPerSample = 8, kArenaFixed = 4;
  static constexpr int64_t kParamFloats = 20, kStateFloats = 3, kFoldedFloats = 5;
  static constexpr int64_t kInputSize = kSampleSize, kInputPlanes = kPlanes;
  static constexpr bool kHasTrain = true, kHasBase = false, kHasExchanged = true;
  static constexpr const netc_model_info *kInfo = &kModel;
  static constexpr const int64_t *kParamOffsets = ::kParamOffsets;
  static constexpr const int64_t *kStateOffsets = ::kStateOffsets;
  static void forward(netc_instance *, const float *in, int n, float *out) {
    ++recorded.forwards;
    for (int i = 0; i < n * 3; ++i)
      out[i] = in[i];
  }
  static void evalStep(netc_instance *, const float *, const int32_t *, int n, float *loss,
                       int32_t *correct) {
    *loss = 0.5f;
    *correct = n;
  }
  static void trainStep(netc_instance *I, const float *in, const int32_t *labels, int n,
                        uint64_t seed, float *loss, int32_t *correct) {
    ++recorded.trainSteps;
    recorded.inputs.emplace_back(in, in + n * kSampleSize);
    recorded.labels.emplace_back(labels, labels + n);
    recorded.seeds.push_back(seed);
    recorded.learningRates.push_back(I->learning_rate);
    ++I->step; // as the generated step: Adam counts from 1
    *loss = float(n);
    *correct = n - 1;
  }
  /// As run_train_step_exchanged: parameter 1's gradient (4 floats of the
  /// arena's fixed section) handed out, the wait, then its update.
  static void trainStepExchanged(netc_instance *I, const float *, const int32_t *, int n,
                                 uint64_t, float *loss, int32_t *correct) {
    ++recorded.exchangedSteps;
    ++I->step;
    float *gradient = I->arena + kArenaPerSample * I->batch;
    for (int i = 0; i < 4; ++i)
      gradient[i] = float(i + 1);
    if (!netc::exchangeStart(I, 1, gradient, 4))
      return;
    if (!netc::exchangeWait(I))
      return;
    for (int i = 0; i < 4; ++i)
      I->params[16 + i] -= gradient[i];
    *loss = float(n);
    *correct = n - 1;
  }
};

/// A model with neither a training step nor a frozen base: the functions
/// it lacks are never named.
struct NoStepsModel {
  static constexpr int64_t kArenaPerSample = 8, kArenaFixed = 0;
  static constexpr int64_t kParamFloats = 1, kStateFloats = 0, kFoldedFloats = 0;
  static constexpr int64_t kInputSize = kSampleSize, kInputPlanes = kPlanes;
  static constexpr bool kHasTrain = false, kHasBase = false, kHasExchanged = false;
  static constexpr const netc_model_info *kInfo = &kModel;
  static constexpr const int64_t *kParamOffsets = ::kParamOffsets;
  static constexpr const int64_t *kStateOffsets = ::kStateOffsets;
  static void forward(netc_instance *, const float *, int, float *) {}
  static void evalStep(netc_instance *, const float *, const int32_t *, int, float *,
                       int32_t *) {}
};

} // namespace

#include "net/Runtime/ModelImpl.h"

namespace {

struct Instance {
  netc_instance *I;
  explicit Instance(int32_t batch) : I(netc_create(NETC_DEVICE_CPU, batch, 0, nullptr, 0)) {}
  ~Instance() { netc_destroy(I); }
};

std::string createError(int32_t device, int32_t batch) {
  char error[256] = "untouched";
  netc_instance *I = netc_create(device, batch, 0, error, sizeof error);
  EXPECT_EQ(I, nullptr);
  netc_destroy(I);
  return error;
}

TEST(ModelImpl, CreateRefusesWhatItCannotServe) {
  EXPECT_EQ(createError(7, 4), "unknown device 7");
  EXPECT_NE(createError(NETC_DEVICE_CUDA, 4).find("compiled for the CPU only"), std::string::npos);
  EXPECT_EQ(createError(NETC_DEVICE_CPU, 0), "batch 0 is outside [1, 1048576]");
  EXPECT_EQ(createError(NETC_DEVICE_CPU, (1 << 20) + 1), "batch 1048577 is outside [1, 1048576]");
  EXPECT_EQ(netc_create(7, 4, 0, nullptr, 0), nullptr); // no error buffer: no write
}

TEST(ModelImpl, CreateAllocatesZeroedAlignedBuffers) {
  Instance m(4);
  ASSERT_NE(m.I, nullptr);
  EXPECT_EQ(netc_model(), &kModel);
  EXPECT_EQ(m.I->batch, 4);
  EXPECT_FLOAT_EQ(m.I->learning_rate, 0.05f);
  for (float *p : {m.I->params, m.I->state, m.I->arena, m.I->folded}) {
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  }
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(m.I->params[i], 0.f);
  for (int i = 0; i < 8 * 4 + 4; ++i)
    EXPECT_EQ(m.I->arena[i], 0.f);
}

TEST(ModelImpl, ParamAndStateDataFollowTheOffsets) {
  Instance m(2);
  EXPECT_EQ(netc_param_data(m.I, 0), m.I->params);
  EXPECT_EQ(netc_param_data(m.I, 1), m.I->params + 16);
  EXPECT_EQ(netc_param_data(m.I, 2), nullptr);
  EXPECT_EQ(netc_param_data(m.I, -1), nullptr);
  EXPECT_EQ(netc_state_data(m.I, 0), m.I->state);
  EXPECT_EQ(netc_state_data(m.I, 1), nullptr);
  EXPECT_EQ(netc_param_data(nullptr, 0), nullptr);
  netc_set_step(m.I, 41);
  EXPECT_EQ(netc_get_step(m.I), 41);
  netc_set_learning_rate(m.I, 0.25f);
  EXPECT_EQ(m.I->learning_rate, 0.25f);
  EXPECT_STREQ(netc_last_error(nullptr), "no instance");
}

// The fold cache is stale from the start, and again whenever the caller
// may have written a parameter or a slot (the generated training steps clear
// it themselves: test/codegen).
TEST(ModelImpl, ParamAndStateDataMakeTheFoldCacheStale) {
  Instance m(2);
  ASSERT_NE(m.I, nullptr);
  EXPECT_EQ(m.I->folds_valid, 0u);
  m.I->folds_valid = 3;
  ASSERT_NE(netc_param_data(m.I, 1), nullptr);
  EXPECT_EQ(m.I->folds_valid, 0u);
  m.I->folds_valid = 3;
  EXPECT_EQ(netc_param_data(m.I, 2), nullptr); // out of range: nothing handed out
  EXPECT_EQ(m.I->folds_valid, 3u);
  ASSERT_NE(netc_state_data(m.I, 0), nullptr);
  EXPECT_EQ(m.I->folds_valid, 0u);
}

TEST(ModelImpl, BatchCallsCheckTheirArguments) {
  Instance m(2);
  float in[3 * kSampleSize] = {1, 2, 3, 4, 5, 6};
  float out[9] = {};
  int32_t labels[3] = {0, 1, 2};
  float loss = 0;
  int32_t correct = 0;
  const int before = recorded.forwards;
  EXPECT_EQ(netc_forward(m.I, in, 3, out), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I),
               "n = 3 is outside [1, 2], the batch this instance was created for");
  EXPECT_EQ(netc_forward(m.I, in, 0, out), NETC_ERROR_ARGUMENT);
  EXPECT_EQ(netc_forward(m.I, nullptr, 1, out), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I), "null input or output pointer");
  EXPECT_EQ(netc_eval_step(m.I, in, labels, 1, nullptr, &correct), NETC_ERROR_ARGUMENT);
  EXPECT_EQ(netc_forward(nullptr, in, 1, out), NETC_ERROR_ARGUMENT);
  EXPECT_EQ(recorded.forwards, before);

  EXPECT_EQ(netc_forward(m.I, in, 1, out), NETC_OK);
  EXPECT_STREQ(netc_last_error(m.I), ""); // a good call clears the last error
  EXPECT_EQ(recorded.forwards, before + 1);
  EXPECT_EQ(out[2], 3.f);
  EXPECT_EQ(netc_eval_step(m.I, in, labels, 2, &loss, &correct), NETC_OK);
  EXPECT_EQ(correct, 2);
  EXPECT_EQ(netc_train_step(m.I, in, labels, 2, 99, &loss, &correct), NETC_OK);
  EXPECT_EQ(recorded.seeds.back(), 99u);
  EXPECT_EQ(netc_get_step(m.I), 1);
}

TEST(ModelImpl, ModelWithoutFrozenBaseRefusesFeatureCalls) {
  Instance m(2);
  float in[kSampleSize] = {}, features[4];
  int32_t labels[1] = {0};
  float loss;
  int32_t correct;
  EXPECT_EQ(netc_base_forward(m.I, in, 1, features), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I), "this model has no frozen base to compute features with");
  EXPECT_EQ(netc_head_eval_step(m.I, in, labels, 1, &loss, &correct), NETC_ERROR_ARGUMENT);
  EXPECT_EQ(netc_head_train_step(m.I, in, labels, 1, 1, &loss, &correct), NETC_ERROR_ARGUMENT);
  // The argument checks come first.
  EXPECT_EQ(netc_base_forward(m.I, in, 3, features), NETC_ERROR_ARGUMENT);
  EXPECT_NE(std::string(netc_last_error(m.I)).find("n = 3"), std::string::npos);
}

TEST(ModelImpl, ModelWithoutTrainingStepRefusesTraining) {
  using Abi = netc::modelimpl::ModelAbi<NoStepsModel>;
  netc_instance *I = Abi::create(NETC_DEVICE_CPU, 2, 0, nullptr, 0);
  ASSERT_NE(I, nullptr);
  float in[kSampleSize] = {};
  int32_t labels[1] = {0};
  float loss;
  int32_t correct;
  EXPECT_EQ(Abi::trainStep(I, in, labels, 1, 5, &loss, &correct), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(I->error.c_str(), "this model has no training step");
  const uint8_t pixels[kSampleSize] = {};
  const float table[256] = {};
  ASSERT_EQ(Abi::setTrainData(I, pixels, labels, 1, table, 1), NETC_OK);
  const int64_t indices[1] = {0};
  const uint64_t seeds[1] = {1};
  const float rates[1] = {0.1f};
  float losses[1];
  int32_t corrects[1];
  EXPECT_EQ(Abi::trainSteps(I, indices, 1, seeds, rates, losses, corrects), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(I->error.c_str(), "this model has no training step");
  Abi::destroy(I);
}

TEST(ModelImpl, SetTrainDataRefusesBadSets) {
  Instance m(2);
  const uint8_t pixels[2 * kSampleSize] = {};
  const float table[2 * 256] = {};
  const int32_t good[2] = {0, 2}, bad[2] = {1, 3};
  EXPECT_EQ(netc_set_train_data(m.I, pixels, bad, 2, table, 1), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I), "label 3 of sample 1 is outside [0, 3)");
  EXPECT_EQ(netc_set_train_data(m.I, pixels, good, 2, table, 3), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I), "a normalisation table for 3 channels; the input has 2");
  EXPECT_EQ(netc_set_train_data(m.I, pixels, good, 0, table, 1), NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I), "a training set of 0 samples");
  EXPECT_EQ(netc_set_train_data(m.I, nullptr, good, 2, table, 1), NETC_ERROR_ARGUMENT);
  EXPECT_EQ(netc_set_train_data(nullptr, pixels, good, 2, table, 1), NETC_ERROR_ARGUMENT);
}

TEST(ModelImpl, TrainStepsNeedATrainingSetAndIndicesInIt) {
  Instance m(2);
  const int64_t indices[2] = {0, 2};
  const uint64_t seeds[1] = {1};
  const float rates[1] = {0.1f};
  float losses[1];
  int32_t corrects[1];
  EXPECT_EQ(netc_train_steps(m.I, indices, 2, seeds, rates, losses, corrects),
            NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I), "no training set: netc_set_train_data first");
  const uint8_t pixels[2 * kSampleSize] = {};
  const float table[256] = {};
  const int32_t labels[2] = {0, 1};
  ASSERT_EQ(netc_set_train_data(m.I, pixels, labels, 2, table, 1), NETC_OK);
  EXPECT_EQ(netc_train_steps(m.I, indices, 2, seeds, rates, losses, corrects),
            NETC_ERROR_ARGUMENT);
  EXPECT_STREQ(netc_last_error(m.I),
               "indices[1] = 2 is outside the training set of 2 samples");
  EXPECT_EQ(netc_train_steps(m.I, indices, 0, seeds, rates, losses, corrects),
            NETC_ERROR_ARGUMENT);
  EXPECT_EQ(netc_train_steps(m.I, indices, 1, nullptr, rates, losses, corrects),
            NETC_ERROR_ARGUMENT);
}

/// Five samples in batches of 2: steps of 2, 2 and 1, each sample's bytes
/// looked up in its plane's row of the table, with the step's seed and rate.
void expectGatheredSteps(int32_t tableChannels) {
  Instance m(2);
  std::vector<uint8_t> pixels(5 * kSampleSize);
  for (size_t k = 0; k < pixels.size(); ++k)
    pixels[k] = uint8_t(k * 7 % 256);
  std::vector<float> table(size_t(tableChannels) * 256);
  for (size_t k = 0; k < table.size(); ++k)
    table[k] = float(k) * 0.5f - 3.f;
  const int32_t labels[5] = {2, 0, 1, 1, 0};
  ASSERT_EQ(netc_set_train_data(m.I, pixels.data(), labels, 5, table.data(), tableChannels),
            NETC_OK);
  const int64_t indices[5] = {4, 0, 3, 3, 1};
  const uint64_t seeds[3] = {10, 11, 12};
  const float rates[3] = {0.1f, 0.2f, 0.3f};
  float losses[3] = {};
  int32_t corrects[3] = {};
  recorded = Recorded();
  ASSERT_EQ(netc_train_steps(m.I, indices, 5, seeds, rates, losses, corrects), NETC_OK);
  ASSERT_EQ(recorded.trainSteps, 3);
  EXPECT_EQ(recorded.seeds, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(recorded.learningRates, (std::vector<float>{0.1f, 0.2f, 0.3f}));
  EXPECT_EQ(m.I->learning_rate, 0.3f);
  EXPECT_EQ(netc_get_step(m.I), 3);
  EXPECT_EQ(losses[0], 2.f);
  EXPECT_EQ(losses[2], 1.f);
  EXPECT_EQ(corrects[2], 0);
  for (int s = 0; s < 3; ++s) {
    const int n = s < 2 ? 2 : 1;
    ASSERT_EQ(recorded.inputs[size_t(s)].size(), size_t(n * kSampleSize));
    for (int i = 0; i < n; ++i) {
      const int64_t sample = indices[s * 2 + i];
      EXPECT_EQ(recorded.labels[size_t(s)][size_t(i)], labels[sample]);
      for (int64_t k = 0; k < kSampleSize; ++k) {
        const int64_t plane = k / (kSampleSize / kPlanes);
        const int64_t row = tableChannels == 1 ? 0 : plane;
        EXPECT_EQ(recorded.inputs[size_t(s)][size_t(i * kSampleSize + k)],
                  table[size_t(row * 256 + pixels[size_t(sample * kSampleSize + k)])])
            << "step " << s << " sample " << i << " value " << k;
      }
    }
  }
}

TEST(ModelImpl, TrainStepsGatherThroughOneTableRowPerPlane) { expectGatheredSteps(2); }

TEST(ModelImpl, TrainStepsGatherThroughOneTableRowForAllPlanes) { expectGatheredSteps(1); }

/// A data-parallel exchange that records its calls and sums each value
/// with a second replica's (here: the value itself, so doubling it).
struct RecordingExchange {
  int starts = 0, waits = 0, failStart = 0, failWait = 0;
  int32_t param = -1;
  int64_t size = 0;
  static int start(void *self, int32_t param, float *values, int64_t size) {
    auto *e = static_cast<RecordingExchange *>(self);
    ++e->starts;
    e->param = param;
    e->size = size;
    for (int64_t i = 0; i < size; ++i)
      values[i] *= 2;
    return e->failStart;
  }
  static int wait(void *self) {
    auto *e = static_cast<RecordingExchange *>(self);
    ++e->waits;
    return e->failWait;
  }
  netc_exchange abi() { return {&start, &wait, this}; }
};

TEST(ModelImpl, AnExchangeRunsTheDataParallelStep) {
  Instance m(2);
  recorded = Recorded();
  RecordingExchange exchange;
  netc_exchange abi = exchange.abi();
  ASSERT_EQ(netc_set_exchange(m.I, &abi), NETC_OK);
  float input[2 * kSampleSize] = {}, loss = 0;
  int32_t labels[2] = {0, 1}, correct = 0;
  ASSERT_EQ(netc_train_step(m.I, input, labels, 2, 5, &loss, &correct), NETC_OK);
  EXPECT_EQ(recorded.exchangedSteps, 1);
  EXPECT_EQ(recorded.trainSteps, 0);
  EXPECT_EQ(exchange.starts, 1);
  EXPECT_EQ(exchange.waits, 1);
  EXPECT_EQ(exchange.param, 1);
  EXPECT_EQ(exchange.size, 4);
  // The update applied the combined gradient.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(m.I->params[16 + i], -2.f * float(i + 1));
  EXPECT_EQ(netc_get_step(m.I), 1);
  // Without an exchange the step is the plain one again.
  ASSERT_EQ(netc_set_exchange(m.I, nullptr), NETC_OK);
  ASSERT_EQ(netc_train_step(m.I, input, labels, 2, 5, &loss, &correct), NETC_OK);
  EXPECT_EQ(recorded.trainSteps, 1);
  EXPECT_EQ(recorded.exchangedSteps, 1);
}

TEST(ModelImpl, AFailedExchangeChangesNoParameterAndNotTheStep) {
  for (bool failStart : {true, false}) {
    Instance m(2);
    RecordingExchange exchange;
    (failStart ? exchange.failStart : exchange.failWait) = 1;
    netc_exchange abi = exchange.abi();
    ASSERT_EQ(netc_set_exchange(m.I, &abi), NETC_OK);
    netc_set_step(m.I, 7);
    float input[2 * kSampleSize] = {}, loss = -1;
    int32_t labels[2] = {0, 1}, correct = -1;
    EXPECT_EQ(netc_train_step(m.I, input, labels, 2, 5, &loss, &correct), NETC_ERROR_EXCHANGE);
    EXPECT_EQ(netc_get_step(m.I), 7);
    EXPECT_EQ(loss, -1.f);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(m.I->params[16 + i], 0.f);
    EXPECT_NE(std::string(netc_last_error(m.I)).find("exchange failed"), std::string::npos);
    EXPECT_EQ(exchange.waits, failStart ? 0 : 1);
    // The next step, with a working exchange, trains.
    exchange.failStart = exchange.failWait = 0;
    EXPECT_EQ(netc_train_step(m.I, input, labels, 2, 5, &loss, &correct), NETC_OK);
    EXPECT_EQ(netc_get_step(m.I), 8);
  }
}

TEST(ModelImpl, TrainStepsGoThroughTheExchange) {
  Instance m(2);
  RecordingExchange exchange;
  netc_exchange abi = exchange.abi();
  ASSERT_EQ(netc_set_exchange(m.I, &abi), NETC_OK);
  const uint8_t pixels[3 * kSampleSize] = {};
  const int32_t labels[3] = {0, 1, 2};
  const float table[256] = {};
  ASSERT_EQ(netc_set_train_data(m.I, pixels, labels, 3, table, 1), NETC_OK);
  const int64_t indices[3] = {2, 0, 1};
  const uint64_t seeds[2] = {1, 2};
  const float rates[2] = {0.1f, 0.1f};
  float losses[2];
  int32_t corrects[2];
  ASSERT_EQ(netc_train_steps(m.I, indices, 3, seeds, rates, losses, corrects), NETC_OK);
  EXPECT_EQ(exchange.starts, 2);
  EXPECT_EQ(exchange.waits, 2);
  // A failed exchange stops the run of steps at that step.
  exchange.failWait = 1;
  EXPECT_EQ(netc_train_steps(m.I, indices, 3, seeds, rates, losses, corrects),
            NETC_ERROR_EXCHANGE);
  EXPECT_EQ(exchange.waits, 3);
}

TEST(ModelImpl, SetExchangeRefusesWhatItCannotUse) {
  Instance m(2);
  RecordingExchange exchange;
  netc_exchange abi = exchange.abi();
  EXPECT_EQ(netc_set_exchange(nullptr, &abi), NETC_ERROR_ARGUMENT);
  netc_exchange noWait = {&RecordingExchange::start, nullptr, &exchange};
  EXPECT_EQ(netc_set_exchange(m.I, &noWait), NETC_ERROR_ARGUMENT);
  EXPECT_NE(std::string(netc_last_error(m.I)).find("without its start or wait"),
            std::string::npos);
  // A model without a data-parallel step (no training step here).
  netc_instance *bare = netc::modelimpl::ModelAbi<NoStepsModel>::create(NETC_DEVICE_CPU, 2, 0,
                                                                         nullptr, 0);
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(netc::modelimpl::ModelAbi<NoStepsModel>::setExchange(bare, &abi),
            NETC_ERROR_ARGUMENT);
  EXPECT_EQ(bare->error, "this model has no training step");
  netc::modelimpl::ModelAbi<NoStepsModel>::destroy(bare);
}

} // namespace
