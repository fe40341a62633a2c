//===- ScheduleTest.cpp - Learning-rate schedules as pure functions -------===//

#include "net/Runtime/Schedule.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace netc::runtime;

namespace {

LrScheduleConfig kind(const std::string &name) {
  LrScheduleConfig c;
  c.kind = name;
  return c;
}

/// The rate of epoch `epoch` of 10, 100 steps per epoch, at its first step.
double rate(const LrScheduleConfig &c, int32_t epoch, const LrScheduleState &state = {}) {
  return scheduledLearningRate(c, 0.1, epoch, /*epochs=*/10, int64_t(epoch) * 100,
                               /*stepsPerEpoch=*/100, state);
}

TEST(Schedule, ConstantIsTheBaseRate) {
  for (int32_t e = 0; e < 10; ++e)
    EXPECT_EQ(rate(kind("constant"), e), 0.1);
}

TEST(Schedule, StepMultipliesByGammaEveryStepSizeEpochs) {
  LrScheduleConfig c = kind("step");
  c.stepSize = 3;
  c.gamma = 0.5;
  EXPECT_DOUBLE_EQ(rate(c, 0), 0.1);
  EXPECT_DOUBLE_EQ(rate(c, 2), 0.1);
  EXPECT_DOUBLE_EQ(rate(c, 3), 0.05);
  EXPECT_DOUBLE_EQ(rate(c, 5), 0.05);
  EXPECT_DOUBLE_EQ(rate(c, 6), 0.025);
  EXPECT_DOUBLE_EQ(rate(c, 9), 0.0125);
}

TEST(Schedule, ExponentialMultipliesByDecayEachEpoch) {
  LrScheduleConfig c = kind("exponential");
  c.decay = 0.9;
  EXPECT_DOUBLE_EQ(rate(c, 0), 0.1);
  EXPECT_DOUBLE_EQ(rate(c, 1), 0.09);
  EXPECT_DOUBLE_EQ(rate(c, 4), 0.1 * 0.9 * 0.9 * 0.9 * 0.9);
}

TEST(Schedule, CosineFallsFromTheBaseToTheMinimumOverTheRun) {
  LrScheduleConfig c = kind("cosine");
  EXPECT_DOUBLE_EQ(rate(c, 0), 0.1);
  EXPECT_DOUBLE_EQ(rate(c, 5), 0.05); // half way
  EXPECT_NEAR(rate(c, 9), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.9)), 1e-15);
  c.minLr = 0.01;
  EXPECT_DOUBLE_EQ(rate(c, 5), 0.055);
  EXPECT_GT(rate(c, 9), 0.01);
}

TEST(Schedule, OneCycleWarmsUpLinearlyThenAnnealsByCosine) {
  LrScheduleConfig c = kind("one-cycle");
  auto at = [&](int64_t step) {
    return scheduledLearningRate(c, 0.1, int32_t(step / 100), 10, step, 100, {});
  };
  // 1,000 steps: 300 of warm-up from 0.1/25 to 0.1, then 699 down to 0.1/1e4.
  EXPECT_DOUBLE_EQ(at(0), 0.004);
  EXPECT_DOUBLE_EQ(at(150), 0.004 + (0.1 - 0.004) * 0.5);
  EXPECT_DOUBLE_EQ(at(300), 0.1);
  EXPECT_NEAR(at(300 + 699 / 2), (0.1 + 1e-5) / 2, 3e-4);
  EXPECT_DOUBLE_EQ(at(999), 1e-5);
  for (int64_t s = 1; s < 300; ++s)
    EXPECT_GT(at(s), at(s - 1));
  for (int64_t s = 301; s < 1000; ++s)
    EXPECT_LT(at(s), at(s - 1));
}

TEST(Schedule, ReduceOnPlateauAsKeras) {
  LrScheduleConfig c = kind("reduce-on-plateau");
  c.patience = 2;
  c.factor = 0.5;
  c.minLr = 0.02;
  LrScheduleState s;
  EXPECT_DOUBLE_EQ(rate(c, 0, s), 0.1);
  EXPECT_FALSE(updatePlateau(c, 0.1, s, 1.0)); // best 1.0
  EXPECT_FALSE(updatePlateau(c, 0.1, s, 0.99995)); // within min_delta 1e-4: no improvement
  EXPECT_EQ(s.wait, 1);
  EXPECT_TRUE(updatePlateau(c, 0.1, s, 1.2)); // patience 2 reached
  EXPECT_DOUBLE_EQ(s.learningRate, 0.05);
  EXPECT_EQ(s.wait, 0);
  EXPECT_DOUBLE_EQ(rate(c, 3, s), 0.05);
  EXPECT_FALSE(updatePlateau(c, 0.1, s, 0.5)); // improves: best 0.5
  EXPECT_EQ(s.best, 0.5);
  EXPECT_FALSE(updatePlateau(c, 0.1, s, 0.6));
  EXPECT_TRUE(updatePlateau(c, 0.1, s, 0.6));
  EXPECT_DOUBLE_EQ(s.learningRate, 0.025);
  updatePlateau(c, 0.1, s, 0.6);
  EXPECT_TRUE(updatePlateau(c, 0.1, s, 0.6));
  EXPECT_DOUBLE_EQ(s.learningRate, 0.02); // floored at --lr-min
  updatePlateau(c, 0.1, s, 0.6);
  EXPECT_FALSE(updatePlateau(c, 0.1, s, 0.6)); // at the floor: no more reductions
  EXPECT_DOUBLE_EQ(s.learningRate, 0.02);
}

TEST(Schedule, OnlyReduceOnPlateauHasState) {
  LrScheduleConfig c = kind("step");
  LrScheduleState s;
  EXPECT_FALSE(updatePlateau(c, 0.1, s, 1.0));
  EXPECT_EQ(s.learningRate, 0);
}

} // namespace
