//===- SeedStreams.h - The streams of a run's randomness --------*- C++ -*-===//
//
// Every use of randomness in a training run draws from its own stream,
// deriveSeed(run seed, stream, index), so that changing one (say, turning
// augmentation on) leaves the others as they were.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_LIB_SEEDSTREAMS_H
#define NET_RUNTIME_LIB_SEEDSTREAMS_H

#include "net/Runtime/Random.h"

#include <cstdint>

namespace netc::runtime {

constexpr uint64_t kInitStream = 1;    // index: the parameter
constexpr uint64_t kShuffleStream = 2; // index 0: the shuffler, saved in checkpoints
constexpr uint64_t kStepStream = 3;    // index: the global step (dropout masks)
constexpr uint64_t kAugmentStream = 4; // index: the global step (Augment.h)
// A data-parallel run of several ranks: a step's dropout and augmentation
// seeds, mixed with the rank (the index), so that each shard draws its own.
constexpr uint64_t kRankStream = 5;

/// A step's dropout or augmentation seed for rank `rank` of `ranks`: the
/// step's own seed in one process (or on one rank).
inline uint64_t rankSeed(uint64_t seed, int32_t rank, int32_t ranks) {
  return ranks > 1 ? deriveSeed(seed, kRankStream, uint64_t(rank)) : seed;
}

} // namespace netc::runtime

#endif // NET_RUNTIME_LIB_SEEDSTREAMS_H
