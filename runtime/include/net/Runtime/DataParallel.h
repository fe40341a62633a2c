//===- DataParallel.h - One model trained on several ranks -------*- C++ -*-===//
//
// Data-parallel training (docs/distributed.md): every rank holds the whole
// model and trains on its shard of each global batch; the model's
// data-parallel steps hand each gradient to a GradientExchange, which
// weights it by the rank's share of the batch and sums it over the ranks,
// so that every rank applies the gradient of the whole batch and the
// parameters stay identical, bit for bit, on every rank.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_DATAPARALLEL_H
#define NET_RUNTIME_DATAPARALLEL_H

#include "net/Runtime/Collective.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Status.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

namespace netc::runtime {

/// The part of one global batch that a rank trains on: the batch's `count`
/// samples from `first` in the epoch's order, split into `ranks` runs of
/// consecutive samples whose sizes differ by at most one. A rank left
/// without a sample (a last batch smaller than the ranks) trains on the
/// batch's first sample with share 0, so that it still takes part in every
/// exchange and changes nothing.
struct BatchShard {
  int64_t first = 0;  // in the epoch's order
  int32_t count = 0;  // samples the rank trains on
  double share = 1;   // its samples over the batch's: the weight of its gradient
  bool empty = false; // the stand-in sample of a rank without one
};
BatchShard shardOf(int64_t batchFirst, int64_t batchCount, int32_t rank, int32_t ranks);

/// The shard of step `step` of an epoch of `samples` samples in batches of
/// `batch` (the last one smaller).
inline BatchShard shardOfStep(int64_t step, int64_t batch, int64_t samples, int32_t rank,
                              int32_t ranks) {
  const int64_t first = step * batch;
  return shardOf(first, std::min<int64_t>(batch, samples - first), rank, ranks);
}

/// The exchange of an instance's data-parallel steps (netc_set_exchange):
/// each value the step hands out is multiplied by the rank's share and a
/// sum over the ranks is started at once; the step's wait completes them.
class GradientExchange {
public:
  explicit GradientExchange(Collective &collective) : collective(collective) {}
  ~GradientExchange() { detach(); }
  GradientExchange(const GradientExchange &) = delete;
  GradientExchange &operator=(const GradientExchange &) = delete;

  /// Makes `instance`'s training steps exchange through this object.
  Status attach(const Instance &instance);
  void detach();
  /// This rank's share of the next step's batch.
  void setShare(double value) { share = float(value); }
  /// Why the last exchange failed ("" when none did).
  const std::string &error() const { return failure; }

  /// What the steps since the last takeTotals() exchanged: the floats
  /// summed, the steps, and the seconds the steps' waits took (the part of
  /// the communication the backward did not hide).
  struct Totals {
    int64_t floats = 0, steps = 0;
    double waitSeconds = 0;
  };
  Totals takeTotals() { return std::exchange(totals, Totals()); }

private:
  static int start(void *self, int32_t param, float *values, int64_t size);
  static int wait(void *self);

  Collective &collective;
  const Instance *attached = nullptr;
  float share = 1;
  std::string failure;
  Totals totals;
};

/// Rank `root`'s parameters, optimizer slots and step count into every
/// rank's instance.
Status broadcastModelState(const Instance &instance, Collective &collective, int32_t root = 0);

/// FNV-1a over the bytes of every parameter, optimizer slot and the step.
uint64_t modelStateHash(const Instance &instance);

/// Succeeds when every rank's modelStateHash equals rank 0's; otherwise
/// names the ranks that differ, `when` ("after epoch 3") saying where.
Status checkReplicasAgree(const Instance &instance, Collective &collective,
                          const std::string &when);

} // namespace netc::runtime

#endif // NET_RUNTIME_DATAPARALLEL_H
