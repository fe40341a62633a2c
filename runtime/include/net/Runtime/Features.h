//===- Features.h - a frozen base's features, computed once ------*- C++ -*-===//
//
// Transfer learning trains a head on a frozen base: with nothing random in
// front of the base (no augmentation), an image's features are the same in
// every epoch, so they are computed once (netc_base_forward) and the head is
// trained on them (netc_head_train_step). For ResNet50 at 224x224 that turns
// ~4 GFLOP per image and epoch into ~4 GFLOP per image once.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_FEATURES_H
#define NET_RUNTIME_FEATURES_H

#include "net/Runtime/Collective.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Status.h"

#include <cstdint>

namespace netc::runtime {

/// Features kept in memory at most (4 GiB); beyond, the base runs every step.
constexpr int64_t kMaxFeatureBytes = int64_t(4) << 30;

/// Whether the model has a frozen base split off its head.
inline bool hasFrozenBase(const netc_model_info &info) { return info.feature_size > 0; }

/// `samples` with the base's features of each sample filled in (labels kept,
/// pixels dropped), computed in batches of the instance's batch. Fails when
/// the model has no frozen base or the features would exceed `maxBytes`.
/// With `ranks` (a data-parallel run), each rank computes its share of the
/// samples and every rank receives all of them.
Result<Samples> computeFeatures(const Instance &instance, const Samples &samples,
                                int64_t maxBytes = kMaxFeatureBytes,
                                Collective *ranks = nullptr);

} // namespace netc::runtime

#endif // NET_RUNTIME_FEATURES_H
