//===- Features.cpp - a frozen base's features, computed once -------------===//

#include "net/Runtime/Features.h"

#include <algorithm>
#include <vector>

using namespace netc::runtime;

Result<Samples> netc::runtime::computeFeatures(const Instance &instance, const Samples &samples,
                                              int64_t maxBytes, Collective *ranks) {
  using R = Result<Samples>;
  const netc_model_info &info = instance.info();
  if (!hasFrozenBase(info))
    return R::failure(std::string(info.network) + " has no frozen base to compute features with");
  const int64_t size = info.feature_size;
  if (samples.count > 0 && size > maxBytes / int64_t(sizeof(float)) / samples.count)
    return R::failure("the features of " + withThousands(samples.count) + " images (" +
                      withThousands(size) + " floats each) would take more than " +
                      withThousands(maxBytes >> 20) + " MiB");
  Samples out;
  out.count = samples.count;
  out.sampleSize = samples.sampleSize;
  out.labels = samples.labels;
  out.featureSize = size;
  out.features.resize(size_t(samples.count * size));
  // This rank's samples [begin, end): all of them in one process.
  const int32_t rank = ranks ? ranks->rank() : 0, count = ranks ? ranks->size() : 1;
  auto partBegin = [&](int64_t r) { return samples.count * r / count; };
  const int64_t begin = partBegin(rank), end = partBegin(rank + 1);
  std::vector<float> mine;
  float *into = out.features.data() + begin * size;
  if (ranks) {
    mine.resize(size_t((end - begin) * size));
    into = mine.data();
  }
  const int32_t batch = instance.batch();
  std::vector<float> input(size_t(batch) * size_t(samples.sampleSize));
  for (int64_t first = begin; first < end; first += batch) {
    int32_t n = int32_t(std::min<int64_t>(batch, end - first));
    samples.gatherRange(first, n, input.data(), nullptr);
    if (Status s = instance.baseForward(input.data(), n, into + (first - begin) * size); !s)
      return R::failure(s.error());
  }
  if (ranks) {
    std::vector<int64_t> counts(static_cast<size_t>(count));
    for (int32_t r = 0; r < count; ++r)
      counts[size_t(r)] = (partBegin(r + 1) - partBegin(r)) * size;
    if (Status s = ranks->allGatherFloats(mine.data(), out.features.data(), counts.data()); !s)
      return R::failure(s.error());
  }
  return R::success(std::move(out));
}
