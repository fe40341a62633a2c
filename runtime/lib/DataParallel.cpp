//===- DataParallel.cpp - One model trained on several ranks --------------===//

#include "net/Runtime/DataParallel.h"

#include <chrono>
#include <cstring>
#include <vector>

using namespace netc::runtime;

BatchShard netc::runtime::shardOf(int64_t batchFirst, int64_t batchCount, int32_t rank,
                                  int32_t ranks) {
  BatchShard shard;
  const int64_t begin = batchCount * rank / ranks;
  const int64_t end = batchCount * (rank + 1) / ranks;
  if (end == begin) {
    shard.first = batchFirst;
    shard.count = 1;
    shard.share = 0;
    shard.empty = true;
    return shard;
  }
  shard.first = batchFirst + begin;
  shard.count = int32_t(end - begin);
  shard.share = double(end - begin) / double(batchCount);
  return shard;
}

Status GradientExchange::attach(const Instance &instance) {
  netc_exchange exchange{};
  exchange.start = &GradientExchange::start;
  exchange.wait = &GradientExchange::wait;
  exchange.user = this;
  if (Status s = instance.setExchange(&exchange); !s)
    return s;
  attached = &instance;
  return Status::success();
}

void GradientExchange::detach() {
  if (attached)
    (void)attached->setExchange(nullptr);
  attached = nullptr;
}

int GradientExchange::start(void *self, int32_t param, float *values, int64_t size) {
  auto *exchange = static_cast<GradientExchange *>(self);
  (void)param;
  const float share = exchange->share;
  for (int64_t i = 0; i < size; ++i)
    values[i] *= share;
  exchange->totals.floats += size;
  Status s = exchange->collective.startSum(values, size);
  if (!s) {
    exchange->failure = s.error();
    return 1;
  }
  return 0;
}

int GradientExchange::wait(void *self) {
  auto *exchange = static_cast<GradientExchange *>(self);
  const auto started = std::chrono::steady_clock::now();
  Status s = exchange->collective.waitAll();
  exchange->totals.waitSeconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ++exchange->totals.steps;
  if (!s) {
    exchange->failure = s.error();
    return 1;
  }
  return 0;
}

namespace {

/// Each parameter and optimizer slot as (storage, floats), then the step.
template <typename Visit> void forEachTensor(const Instance &instance, Visit visit) {
  const netc_model_info &info = instance.info();
  for (int32_t i = 0; i < info.num_params; ++i)
    visit(instance.param(i), elementCount(info.params[i]));
  for (int32_t i = 0; i < info.num_state; ++i)
    visit(instance.state(i), elementCount(info.state[i]));
}

} // namespace

Status netc::runtime::broadcastModelState(const Instance &instance, Collective &collective,
                                          int32_t root) {
  Status result = Status::success();
  forEachTensor(instance, [&](float *data, int64_t count) {
    if (result)
      result = collective.broadcast(data, count * int64_t(sizeof(float)), root);
  });
  if (!result)
    return result;
  int64_t step = instance.step();
  if (Status s = collective.broadcast(&step, sizeof(step), root); !s)
    return s;
  instance.setStep(step);
  return Status::success();
}

uint64_t netc::runtime::modelStateHash(const Instance &instance) {
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&](const void *data, size_t bytes) {
    const auto *p = static_cast<const unsigned char *>(data);
    for (size_t i = 0; i < bytes; ++i)
      hash = (hash ^ p[i]) * 1099511628211ull;
  };
  forEachTensor(instance, [&](const float *data, int64_t count) {
    mix(data, size_t(count) * sizeof(float));
  });
  const int64_t step = instance.step();
  mix(&step, sizeof(step));
  return hash;
}

Status netc::runtime::checkReplicasAgree(const Instance &instance, Collective &collective,
                                         const std::string &when) {
  const uint64_t mine = modelStateHash(instance);
  std::vector<uint64_t> all(size_t(collective.size()));
  if (Status s = collective.allGather(&mine, all.data(), sizeof(mine)); !s)
    return s;
  std::string differing;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (differing.empty())
    return Status::success();
  return Status::failure(when + ", the parameters of rank" +
                         (differing.find(',') == std::string::npos ? " " : "s ") + differing +
                         " differ from rank 0's; the replicas have diverged");
}
