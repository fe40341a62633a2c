//===- DataParallelTest.cpp - Shards, replica checks, state broadcast -----===//
//
// DataParallel.h without MPI: the shard arithmetic over every batch and
// rank count up to a bound, and the replica hash check and the broadcast of
// rank 0's state over a collective that plays the other ranks in-process.
// The runs under mpirun are test/e2e/DistributedTest.cpp.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/DataParallel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace netc::runtime;

namespace {

TEST(DataParallel, ShardsSplitEveryBatchEvenlyAndInOrder) {
  for (int32_t ranks = 1; ranks <= 6; ++ranks)
    for (int64_t count = 1; count <= 40; ++count) {
      int64_t next = 100;
      double shares = 0;
      for (int32_t rank = 0; rank < ranks; ++rank) {
        BatchShard shard = shardOf(100, count, rank, ranks);
        SCOPED_TRACE(std::to_string(count) + " samples, rank " + std::to_string(rank) + " of " +
                     std::to_string(ranks));
        if (shard.empty) {
          // A stand-in sample of the batch, weighing nothing.
          EXPECT_LT(count, ranks);
          EXPECT_EQ(shard.count, 1);
          EXPECT_EQ(shard.first, 100);
          EXPECT_EQ(shard.share, 0.0);
          continue;
        }
        EXPECT_EQ(shard.first, next);
        EXPECT_GE(shard.count, count / ranks);
        EXPECT_LE(shard.count, (count + ranks - 1) / ranks);
        EXPECT_DOUBLE_EQ(shard.share, double(shard.count) / double(count));
        next += shard.count;
        shares += shard.share;
      }
      EXPECT_EQ(next, 100 + count);
      EXPECT_NEAR(shares, 1.0, 1e-12);
    }
}

/// Rank `me` of `size`, the others played in-process: a broadcast from
/// another rank writes `rootBytes`, an all-gather fills the other ranks'
/// entries with `othersHash`.
class PlayedRanks final : public Collective {
public:
  PlayedRanks(int32_t me, int32_t size) : me(me), ranks(size) {}
  int32_t rank() const override { return me; }
  int32_t size() const override { return ranks; }
  std::string describe() const override { return "played"; }
  Status startSum(float *, int64_t) override { return Status::success(); }
  Status waitAll() override { return Status::success(); }
  Status sum(double *, int64_t) override { return Status::success(); }
  Status broadcast(void *data, int64_t bytes, int32_t root) override {
    broadcastBytes += bytes;
    if (root != me)
      std::memset(data, 0x3f, size_t(bytes)); // 0x3f3f3f3f: 0.747 as a float
    return Status::success();
  }
  Status allGather(const void *mine, void *all, int64_t bytes) override {
    for (int32_t r = 0; r < ranks; ++r) {
      const void *from = r == me ? mine : static_cast<const void *>(&othersHash);
      std::memcpy(static_cast<char *>(all) + r * bytes, from, size_t(bytes));
    }
    return Status::success();
  }
  Status allGatherFloats(const float *, float *, const int64_t *) override {
    return Status::failure("not played");
  }
  [[noreturn]] void abort(int) override { std::abort(); }

  uint64_t othersHash = 0;
  int64_t broadcastBytes = 0;

private:
  int32_t me, ranks;
};

std::shared_ptr<Instance> fixture() {
  Result<std::shared_ptr<Model>> model = Model::load(FIXTURE_ADAM);
  EXPECT_TRUE(model) << model.error;
  Result<std::shared_ptr<Instance>> instance =
      Instance::create(*model, DeviceChoice::Cpu, /*batch=*/4, /*threads=*/1);
  EXPECT_TRUE(instance) << instance.error;
  return *instance;
}

TEST(DataParallel, ReplicaCheckNamesTheRanksThatDiffer) {
  std::shared_ptr<Instance> instance = fixture();
  PlayedRanks ranks(0, 3);
  ranks.othersHash = modelStateHash(*instance);
  EXPECT_TRUE(checkReplicasAgree(*instance, ranks, "after epoch 1"));
  ranks.othersHash ^= 1;
  Status differs = checkReplicasAgree(*instance, ranks, "after epoch 2");
  ASSERT_FALSE(differs);
  EXPECT_EQ(differs.error(), "after epoch 2, the parameters of ranks 1, 2 differ from rank 0's; "
                             "the replicas have diverged");
}

TEST(DataParallel, TheHashCoversEveryParameterSlotAndTheStep) {
  std::shared_ptr<Instance> instance = fixture();
  const netc_model_info &info = instance->info();
  uint64_t before = modelStateHash(*instance);
  for (int32_t i = 0; i < info.num_params; ++i) {
    instance->param(i)[elementCount(info.params[i]) - 1] += 1;
    EXPECT_NE(modelStateHash(*instance), before) << info.params[i].name;
    before = modelStateHash(*instance);
  }
  for (int32_t i = 0; i < info.num_state; ++i) {
    instance->state(i)[0] += 1;
    EXPECT_NE(modelStateHash(*instance), before) << info.state[i].name;
    before = modelStateHash(*instance);
  }
  instance->setStep(instance->step() + 1);
  EXPECT_NE(modelStateHash(*instance), before);
}

TEST(DataParallel, BroadcastGivesEveryRankRootsState) {
  std::shared_ptr<Instance> instance = fixture();
  const netc_model_info &info = instance->info();
  PlayedRanks ranks(1, 2);
  ASSERT_TRUE(broadcastModelState(*instance, ranks, /*root=*/0));
  int64_t floats = 0;
  for (int32_t i = 0; i < info.num_params; ++i) {
    floats += elementCount(info.params[i]);
    EXPECT_FLOAT_EQ(instance->param(i)[0], 0.747059f) << info.params[i].name;
  }
  for (int32_t i = 0; i < info.num_state; ++i) {
    floats += elementCount(info.state[i]);
    EXPECT_FLOAT_EQ(instance->state(i)[0], 0.747059f) << info.state[i].name;
  }
  EXPECT_EQ(ranks.broadcastBytes, floats * 4 + 8);
  EXPECT_EQ(instance->step(), 0x3f3f3f3f3f3f3f3fll);
}

} // namespace
