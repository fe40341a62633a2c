//===- Prefetch.h - Batches prepared ahead on worker threads -----*- C++ -*-===//
//
// Augmenting a batch costs CPU time that the training step need not wait
// for: workers prepare the steps of an epoch in order, up to `depth` ahead
// of the step being trained, each into its own slot (step s uses slot
// s % depth, free again once the trainer releases step s - depth). What a
// batch holds depends only on its step, never on which worker made it or
// when, so prefetching changes no bit of a run.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_PREFETCH_H
#define NET_RUNTIME_PREFETCH_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace netc::runtime {

class BatchPrefetcher {
public:
  /// Fills `input` and `labels` with the batch of `step`.
  using Producer = std::function<void(int64_t step, float *input, int32_t *labels)>;

  /// Prepares steps [begin, end) with `workers` threads (at least one),
  /// `depth` slots of `inputSize` floats and `labelSize` labels.
  BatchPrefetcher(int64_t begin, int64_t end, size_t inputSize, size_t labelSize,
                  int32_t workers, int32_t depth, Producer produce);
  /// Stops the workers (a batch being made is finished) and joins them.
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher &) = delete;
  BatchPrefetcher &operator=(const BatchPrefetcher &) = delete;

  struct Batch {
    const float *input;
    const int32_t *labels;
  };
  /// The batch of `step` (steps are asked for in order), once it is ready.
  Batch wait(int64_t step);
  /// The trainer is done with `step`: its slot may take a later step.
  void release(int64_t step);
  /// Seconds the trainer spent in wait() so far: the time augmentation cost it.
  double waitedSeconds() const { return waited; }

private:
  void work();

  struct Slot {
    std::vector<float> input;
    std::vector<int32_t> labels;
    int64_t step = -1; // the step it holds or is being made for; -1: free
    bool ready = false;
  };
  std::vector<Slot> slots;
  int64_t next, end;
  Producer produce;
  bool stopping = false;
  double waited = 0;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::thread> workers;
};

} // namespace netc::runtime

#endif // NET_RUNTIME_PREFETCH_H
