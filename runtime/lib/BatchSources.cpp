//===- BatchSources.cpp - Where the training steps get their batches ------===//

#include "BatchSources.h"
#include "SeedStreams.h"

#include "net/Runtime/Augment.h"
#include "net/Runtime/Prefetch.h"
#include "net/Runtime/Random.h"

#include <algorithm>
#include <cassert>
#include <optional>

using namespace netc::runtime;

StepCall::StepCall(int64_t capacity)
    : rates(size_t(capacity)), ratesGiven(size_t(capacity)), seeds(size_t(capacity)),
      losses(size_t(capacity)), corrects(size_t(capacity)) {}

namespace {

/// This rank's part of step `step`'s batch (all of it for one rank).
BatchShard shardOfStep(const BatchSourceContext &context, int64_t step) {
  return netc::runtime::shardOfStep(step, context.batch, context.trainSet.count, context.rank,
                                    context.ranks);
}

/// The model holds the training set (netc_set_train_data) and runs several
/// steps a call over it: on the GPU a call is one synchronisation, so it
/// takes 64 steps unless told otherwise; on the CPU it costs nothing extra,
/// so one step keeps progress and a stop request as prompt as can be.
class ModelHeldSource : public BatchSource {
public:
  explicit ModelHeldSource(const BatchSourceContext &context)
      : context(context),
        callSteps(context.ranks > 1                          ? 1
                  : context.options.stepsPerCall > 0         ? context.options.stepsPerCall
                  : context.instance.device() == NETC_DEVICE_CUDA ? 64
                                                                  : 1) {}

  /// Gives the model the training set; a CPU instance reads it in place.
  Status hold() {
    const Samples &set = context.trainSet;
    table = set.normalization.table();
    return context.instance.setTrainData(set.pixels.data(), set.labels.data(), set.count,
                                         table.data(),
                                         int32_t(set.normalization.mean.size()));
  }

  int64_t stepsPerCall() const override { return callSteps; }

  Status trainSteps(StepCall &call) override {
    if (context.ranks > 1) {
      const BatchShard shard = shardOfStep(context, call.firstStep);
      return context.instance.trainSteps(context.order.data() + shard.first, shard.count,
                                         call.seeds.data(), call.ratesGiven.data(),
                                         call.losses.data(), call.corrects.data());
    }
    const int64_t first = call.firstStep * context.instance.batch();
    const int64_t count = std::min<int64_t>(call.steps * context.instance.batch(),
                                            context.trainSet.count - first);
    return context.instance.trainSteps(context.order.data() + first, count,
                                       call.seeds.data(), call.ratesGiven.data(),
                                       call.losses.data(), call.corrects.data());
  }

private:
  BatchSourceContext context;
  int64_t callSteps;
  std::vector<float> table; // the normalisation the model applies, read in place
};

/// One step a call on a batch that a subclass provides: the images or a
/// frozen base's features, the learning rate given to the model only when
/// it changes.
class BatchAtATimeSource : public BatchSource {
public:
  explicit BatchAtATimeSource(const BatchSourceContext &context) : context(context) {}

  Status trainSteps(StepCall &call) final {
    assert(call.steps == 1 && "a batch at a time trains one step a call");
    const BatchShard shard = shardOfStep(context, call.firstStep);
    const int32_t n = shard.count;
    Batch ready = batchOf(call.firstStep, shard.first, n);
    if (call.rates[0] != rateGiven) {
      rateGiven = call.rates[0];
      context.instance.setLearningRate(float(rateGiven));
    }
    Status stepped =
        context.trainSet.featureSize
            ? context.instance.headTrainStep(ready.input, ready.labels, n, call.seeds[0],
                                             call.losses[0], call.corrects[0])
            : context.instance.trainStep(ready.input, ready.labels, n, call.seeds[0],
                                         call.losses[0], call.corrects[0]);
    release(call.firstStep);
    return stepped;
  }

protected:
  struct Batch {
    const float *input;
    const int32_t *labels;
  };
  /// The `n` samples of `step`, order[first, first + n).
  virtual Batch batchOf(int64_t step, int64_t first, int32_t n) = 0;
  /// The step has been trained: its batch is no longer read.
  virtual void release(int64_t step) {}

  size_t inputFloats() const {
    return size_t(context.instance.batch() * context.trainSet.floatsPerSample());
  }

  BatchSourceContext context;

private:
  double rateGiven = -1; // the rate last given to the model
};

/// Copies each batch from the training set (images or cached features):
/// next to nothing beside a step.
class GatheredSource : public BatchAtATimeSource {
public:
  explicit GatheredSource(const BatchSourceContext &context)
      : BatchAtATimeSource(context), input(inputFloats()),
        labels(size_t(context.instance.batch())) {}

protected:
  Batch batchOf(int64_t step, int64_t first, int32_t n) override {
    context.trainSet.gather(context.order, first, n, input.data(), labels.data());
    return {input.data(), labels.data()};
  }

private:
  std::vector<float> input;
  std::vector<int32_t> labels;
};

/// Augmented batches, made ahead by worker threads while the model trains;
/// each from its own seed, deriveSeed(seed, kAugmentStream, global step).
class AugmentedSource : public BatchAtATimeSource {
public:
  using BatchAtATimeSource::BatchAtATimeSource;

  void beginEpoch(int32_t epoch, int64_t firstStep) override {
    const int32_t workers = augmentWorkerCount(context.options.augmentWorkers);
    prefetch.emplace(firstStep, context.stepsPerEpoch, inputFloats(),
                     size_t(context.instance.batch()), workers, workers + 2,
                     [this, epoch](int64_t step, float *input, int32_t *labels) {
                       produce(epoch, step, input, labels);
                     });
  }

  double endEpoch() override {
    double waited = prefetch ? prefetch->waitedSeconds() : 0;
    prefetch.reset();
    return waited;
  }

protected:
  Batch batchOf(int64_t step, int64_t, int32_t) override {
    BatchPrefetcher::Batch ready = prefetch->wait(step);
    return {ready.input, ready.labels};
  }
  void release(int64_t step) override { prefetch->release(step); }

private:
  void produce(int32_t epoch, int64_t step, float *input, int32_t *labels) const {
    const BatchShard shard = shardOfStep(context, step);
    const uint64_t globalStep = uint64_t(epoch) * uint64_t(context.stepsPerEpoch) + uint64_t(step);
    augmentBatch(context.trainSet, context.order, shard.first, shard.count,
                 context.options.config.augment,
                 rankSeed(deriveSeed(context.options.seed, kAugmentStream, globalStep),
                          context.rank, context.ranks),
                 context.trainSet.normalization, input, labels);
  }

  std::optional<BatchPrefetcher> prefetch; // the epoch's workers
};

} // namespace

Result<std::unique_ptr<BatchSource>>
netc::runtime::makeBatchSource(const BatchSourceContext &context) {
  using R = Result<std::unique_ptr<BatchSource>>;
  if (context.options.config.augment.enabled())
    return R::success(std::make_unique<AugmentedSource>(context));
  if (context.trainSet.featureSize)
    return R::success(std::make_unique<GatheredSource>(context));
  auto held = std::make_unique<ModelHeldSource>(context);
  Status holding = held->hold();
  if (holding)
    return R::success(std::move(held));
  if (context.instance.device() != NETC_DEVICE_CUDA)
    return R::failure(holding.error());
  context.note("training set not held on the GPU, sending a batch a step (" + holding.error() +
               ")");
  return R::success(std::make_unique<GatheredSource>(context));
}
