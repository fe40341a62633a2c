//===- Prefetch.cpp - Batches prepared ahead on worker threads ------------===//

#include "net/Runtime/Prefetch.h"

#include <algorithm>
#include <chrono>

using namespace netc::runtime;

BatchPrefetcher::BatchPrefetcher(int64_t begin, int64_t end, size_t inputSize,
                                 size_t labelSize, int32_t workerCount, int32_t depth,
                                 Producer produceBatch)
    : slots(size_t(std::max(depth, 1))), next(begin), end(end),
      produce(std::move(produceBatch)) {
  for (Slot &slot : slots) {
    slot.input.resize(inputSize);
    slot.labels.resize(labelSize);
  }
  for (int32_t i = 0; i < std::max(workerCount, 1); ++i)
    workers.emplace_back([this] { work(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  changed.notify_all();
  for (std::thread &t : workers)
    t.join();
}

void BatchPrefetcher::work() {
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    // The next step, once its slot is free.
    changed.wait(lock, [&] {
      return stopping || (next < end && slots[size_t(next) % slots.size()].step < 0);
    });
    if (stopping)
      return;
    int64_t step = next++;
    Slot &slot = slots[size_t(step) % slots.size()];
    slot.step = step;
    slot.ready = false;
    lock.unlock();
    produce(step, slot.input.data(), slot.labels.data());
    lock.lock();
    slot.ready = true;
    changed.notify_all();
  }
}

BatchPrefetcher::Batch BatchPrefetcher::wait(int64_t step) {
  auto start = std::chrono::steady_clock::now();
  Slot &slot = slots[size_t(step) % slots.size()];
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [&] { return slot.step == step && slot.ready; });
  waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {slot.input.data(), slot.labels.data()};
}

void BatchPrefetcher::release(int64_t step) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    Slot &slot = slots[size_t(step) % slots.size()];
    slot.step = -1;
    slot.ready = false;
  }
  changed.notify_all();
}
