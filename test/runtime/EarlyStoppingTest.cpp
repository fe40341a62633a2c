//===- EarlyStoppingTest.cpp - Early stopping's rule as a pure function ---===//
//
// The expectations follow Keras' EarlyStopping.on_epoch_end step by step.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace netc::runtime;

namespace {

EarlyStoppingConfig config(const std::string &monitor, int32_t patience, double minDelta) {
  EarlyStoppingConfig c;
  c.enabled = true;
  c.monitor = monitor;
  c.patience = patience;
  c.minDelta = minDelta;
  return c;
}

/// The epoch (1-based) at which the rule stops on `values`, or 0.
int32_t stopsAt(const EarlyStoppingConfig &c, const std::vector<double> &values,
                EarlyStoppingState &state) {
  for (size_t i = 0; i < values.size(); ++i)
    if (updateEarlyStopping(c, state, int32_t(i + 1), values[i]).stop)
      return int32_t(i + 1);
  return 0;
}

TEST(EarlyStopping, PatienceCountsEpochsWithoutImprovement) {
  EarlyStoppingState state;
  EXPECT_EQ(stopsAt(config("val_loss", 3, 0), {0.5, 0.4, 0.3, 0.31, 0.3, 0.35, 0.2}, state), 6);
  EXPECT_EQ(state.bestEpoch, 3);
  EXPECT_DOUBLE_EQ(state.best, 0.3);
  EXPECT_EQ(state.wait, 3);
  EXPECT_EQ(state.stoppedEpoch, 6);
}

TEST(EarlyStopping, PatienceZeroAndOneBothStopAtTheFirstEpochWithoutImprovement) {
  for (int32_t patience : {0, 1}) {
    EarlyStoppingState state;
    EXPECT_EQ(stopsAt(config("val_loss", patience, 0), {0.5, 0.4, 0.45, 0.1}, state), 3)
        << patience;
  }
}

TEST(EarlyStopping, TheFirstEpochNeverStops) {
  // Keras: `epoch > 0`; a NaN first value is no improvement over infinity.
  EarlyStoppingState state;
  EXPECT_FALSE(updateEarlyStopping(config("val_loss", 0, 0), state, 1, std::nan("")).stop);
  EXPECT_EQ(state.bestEpoch, 0);
  EXPECT_EQ(state.wait, 1);
  EXPECT_TRUE(updateEarlyStopping(config("val_loss", 0, 0), state, 2, std::nan("")).stop);
}

TEST(EarlyStopping, MinDeltaIsTheSmallestImprovement) {
  EarlyStoppingConfig c = config("val_loss", 2, 0.01);
  EarlyStoppingState state;
  EXPECT_TRUE(updateEarlyStopping(c, state, 1, 0.50).improved);
  EXPECT_FALSE(updateEarlyStopping(c, state, 2, 0.495).improved); // by less than 0.01
  EXPECT_TRUE(updateEarlyStopping(c, state, 3, 0.48).improved);
  EXPECT_EQ(state.wait, 0);
  EXPECT_FALSE(updateEarlyStopping(c, state, 4, 0.471).stop);
  EXPECT_TRUE(updateEarlyStopping(c, state, 5, 0.475).stop);
  EXPECT_EQ(state.bestEpoch, 3);
}

TEST(EarlyStopping, AccuracyIsMaximised) {
  EarlyStoppingConfig c = config("val_accuracy", 1, 0.001);
  EarlyStoppingState state;
  EXPECT_TRUE(updateEarlyStopping(c, state, 1, 0.90).improved);
  EXPECT_TRUE(updateEarlyStopping(c, state, 2, 0.95).improved);
  EXPECT_FALSE(updateEarlyStopping(c, state, 3, 0.9505).improved);
  EXPECT_EQ(state.stoppedEpoch, 3);
  EXPECT_DOUBLE_EQ(state.best, 0.95);
}

TEST(EarlyStopping, TheStopLineSaysWhyAndTheBest) {
  EarlyStoppingState state;
  state.best = 0.03121;
  state.bestEpoch = 4;
  state.wait = 3;
  state.stoppedEpoch = 7;
  EXPECT_EQ(formatEarlyStop(config("val_loss", 3, 0.0001), state),
            "Epoch 7: early stopping (val_loss did not improve by 0.0001 for 3 epochs; best "
            "0.0312 at epoch 4)");
  state.wait = 1;
  state.stoppedEpoch = 5;
  EXPECT_EQ(formatEarlyStop(config("val_accuracy", 0, 0), state),
            "Epoch 5: early stopping (val_accuracy did not improve for 1 epoch; best 0.0312 "
            "at epoch 4)");
}

} // namespace
