//===- Evaluate.cpp - Loss, accuracy and confusion over samples -----------===//

#include "net/Runtime/Trainer.h"

#include <algorithm>
#include <vector>

using namespace netc::runtime;

Result<Evaluation> netc::runtime::evaluateRange(const Instance &instance, const Samples &samples,
                                               bool withConfusion, int64_t begin, int64_t end) {
  using R = Result<Evaluation>;
  const netc_model_info &info = instance.info();
  int32_t batch = instance.batch();
  if (withConfusion && samples.featureSize)
    return R::failure("a confusion matrix needs the images, not their features");
  std::vector<float> input(size_t(batch * samples.floatsPerSample()));
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> probabilities(size_t(batch) * size_t(info.classes));
  Evaluation out;
  if (withConfusion) {
    out.confusion.assign(size_t(info.classes), std::vector<int64_t>(size_t(info.classes), 0));
    out.predicted.reserve(size_t(end - begin));
    out.probability.reserve(size_t(end - begin));
  }
  double lossSum = 0;
  int64_t correctSum = 0;
  for (int64_t first = begin; first < end; first += batch) {
    int32_t n = int32_t(std::min<int64_t>(batch, end - first));
    samples.gatherRange(first, n, input.data(), labels.data());
    float loss = 0;
    int32_t correct = 0;
    Status s = samples.featureSize
                   ? instance.headEvalStep(input.data(), labels.data(), n, loss, correct)
                   : instance.evalStep(input.data(), labels.data(), n, loss, correct);
    if (!s)
      return R::failure(s.error());
    lossSum += double(loss) * n;
    correctSum += correct;
    if (!withConfusion)
      continue;
    if (Status s = instance.forward(input.data(), n, probabilities.data()); !s)
      return R::failure(s.error());
    for (int32_t i = 0; i < n; ++i) {
      const float *p = probabilities.data() + size_t(i) * size_t(info.classes);
      int32_t predicted = int32_t(std::max_element(p, p + info.classes) - p);
      ++out.confusion[size_t(labels[size_t(i)])][size_t(predicted)];
      out.predicted.push_back(predicted);
      out.probability.push_back(p[predicted]);
    }
  }
  out.count = end - begin;
  if (out.count) {
    out.loss = lossSum / double(out.count);
    out.accuracy = double(correctSum) / double(out.count);
  }
  return R::success(std::move(out));
}

Result<Evaluation> netc::runtime::evaluate(const Instance &instance, const Samples &samples,
                                          bool withConfusion) {
  return evaluateRange(instance, samples, withConfusion, 0, samples.count);
}
