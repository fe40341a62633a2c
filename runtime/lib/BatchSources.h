//===- BatchSources.h - Where the training steps get their batches -*- C++ -*-===//
//
// The trainer decides each step's learning rate and dropout seed; a batch
// source decides how the step's images reach the model:
//
// - the model holds the training set (no augmentation, no cached features):
//   one call runs several steps over it, indexed by the epoch's order, on
//   the GPU for a CUDA instance;
// - a batch a step, gathered here from the images or from a frozen base's
//   cached features;
// - a batch a step, augmented ahead by worker threads (Prefetch.h).
//
// Each gives the same batch for the same step, so the choice changes the
// speed of a run, never its numbers. In a data-parallel run each gives its
// rank's shard of the step's batch, a step a call.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_LIB_BATCHSOURCES_H
#define NET_RUNTIME_LIB_BATCHSOURCES_H

#include "net/Runtime/Data.h"
#include "net/Runtime/DataParallel.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Status.h"
#include "net/Runtime/Trainer.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace netc::runtime {

/// The steps of one call to the model: per step, the learning rate as
/// scheduled and as the model is given it and the dropout seed; the call
/// fills in each step's loss and correct count.
struct StepCall {
  explicit StepCall(int64_t capacity);
  int64_t firstStep = 0; // within the epoch
  int64_t steps = 0;
  std::vector<double> rates;
  std::vector<float> ratesGiven;
  std::vector<uint64_t> seeds;
  std::vector<float> losses;
  std::vector<int32_t> corrects;
};

class BatchSource {
public:
  virtual ~BatchSource() = default;
  /// The most steps one call runs.
  virtual int64_t stepsPerCall() const { return 1; }
  /// Starts epoch `epoch` (0-based) at step `firstStep`; the epoch's order
  /// is already shuffled.
  virtual void beginEpoch(int32_t epoch, int64_t firstStep) {}
  /// Trains call.steps steps from call.firstStep, filling call.losses and
  /// call.corrects.
  virtual Status trainSteps(StepCall &call) = 0;
  /// Ends the epoch; the seconds training waited for its batches.
  virtual double endEpoch() { return 0; }
};

/// What every source needs: the training set, the order of the current
/// epoch (shuffled by the trainer, read by the source while the epoch runs)
/// and the run's settings; in a data-parallel run, the global batch and the
/// rank whose shard of each batch the source gives (DataParallel.h).
struct BatchSourceContext {
  const Instance &instance;
  const Samples &trainSet;
  const std::vector<int64_t> &order;
  const TrainOptions &options;
  int64_t stepsPerEpoch;
  std::function<void(const std::string &)> note;
  int64_t batch;          // the global batch
  int32_t rank = 0, ranks = 1;
};

/// The model-held set when it can be used (a CUDA instance whose set does
/// not fit falls back to a batch a step, saying so), else the augmented or
/// the gathered batches.
Result<std::unique_ptr<BatchSource>> makeBatchSource(const BatchSourceContext &context);

} // namespace netc::runtime

#endif // NET_RUNTIME_LIB_BATCHSOURCES_H
