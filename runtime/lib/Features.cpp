//===- Features.cpp - a frozen base's features, computed once -------------===//

#include "net/Runtime/Features.h"

#include <algorithm>
#include <vector>

using namespace netc::runtime;

Result<Samples> netc::runtime::computeFeatures(const Instance &instance, const Samples &samples,
                                              int64_t maxBytes) {
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
  const int32_t batch = instance.batch();
  std::vector<float> input(size_t(batch) * size_t(samples.sampleSize));
  for (int64_t first = 0; first < samples.count; first += batch) {
    int32_t n = int32_t(std::min<int64_t>(batch, samples.count - first));
    samples.gatherRange(first, n, input.data(), nullptr);
    if (Status s = instance.baseForward(input.data(), n, out.features.data() + first * size); !s)
      return R::failure(s.error());
  }
  return R::success(std::move(out));
}
