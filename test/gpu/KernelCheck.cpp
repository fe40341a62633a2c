//===- KernelCheck.cpp - comparing CUDA results with the CPU's -------------===//

#include "KernelCheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace netc::kgtest {
namespace {

/// "[i,c,h,w]" of a flat index into a row-major tensor of `dims`.
std::string indexString(std::int64_t flat, const std::vector<std::int64_t> &dims) {
  std::vector<std::int64_t> index(dims.size());
  for (std::size_t d = dims.size(); d-- > 0;) {
    index[d] = dims[d] > 0 ? flat % dims[d] : 0;
    flat = dims[d] > 0 ? flat / dims[d] : flat;
  }
  return dimsString(index);
}

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

} // namespace

std::string dimsString(const std::vector<std::int64_t> &dims) {
  std::string text = "[";
  for (std::size_t d = 0; d < dims.size(); ++d)
    text += (d ? "," : "") + std::to_string(dims[d]);
  return text + "]";
}

::testing::AssertionResult matches(const std::string &kernel, const std::string &tensor,
                                   const std::vector<std::int64_t> &dims,
                                   const std::vector<float> &gpu, const std::vector<float> &cpu,
                                   Tolerance tolerance) {
  const std::string what = kernel + ": tensor " + tensor + " " + dimsString(dims);
  std::int64_t count = 1;
  for (std::int64_t d : dims)
    count *= d;
  if (std::int64_t(cpu.size()) != count || gpu.size() != cpu.size())
    return ::testing::AssertionFailure()
           << what << ": the test is wrong: " << gpu.size() << " GPU and " << cpu.size()
           << " CPU values for " << count << " elements";

  double largest = 0;
  for (float v : cpu)
    if (std::isfinite(v))
      largest = std::max(largest, double(std::fabs(v)));
  const bool exact = tolerance.rel == 0 && tolerance.ofMax == 0;
  auto allowed = [&](float c) { return tolerance.rel * std::fabs(c) + tolerance.ofMax * largest; };

  std::int64_t differing = 0, first = -1, worst = -1;
  double worstRatio = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    const float g = gpu[i], c = cpu[i];
    if (g == c)
      continue; // equal values, equal infinities
    const double diff = std::fabs(double(g) - double(c));
    const bool finite = std::isfinite(g) && std::isfinite(c);
    if (finite && !exact && diff <= allowed(c))
      continue;
    ++differing;
    if (first < 0)
      first = i;
    const double ratio = !finite ? INFINITY : exact ? diff : diff / allowed(c);
    if (worst < 0 || ratio > worstRatio) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (differing == 0)
    return ::testing::AssertionSuccess();

  auto describe = [&](std::int64_t i) {
    const double diff = std::fabs(double(gpu[i]) - double(cpu[i]));
    return "index " + std::to_string(i) + " = " + indexString(i, dims) + ": gpu " + number(gpu[i]) +
           ", cpu " + number(cpu[i]) + " (difference " + number(diff) + ", allowed " +
           number(exact ? 0.0 : allowed(cpu[i])) + ")";
  };
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  failure << what << ": " << differing << " of " << count << " elements differ (tolerance "
          << tolerance.name;
  if (!exact)
    failure << ": " << number(tolerance.rel) << " * |cpu| + " << number(tolerance.ofMax)
            << " * max|cpu|, max|cpu| " << number(largest);
  failure << ")\n  first at " << describe(first);
  if (worst != first)
    failure << "\n  largest at " << describe(worst);
  return failure;
}

::testing::AssertionResult matchesExactly(const std::string &kernel, const std::string &tensor,
                                          const std::vector<std::int64_t> &dims,
                                          const std::vector<std::int32_t> &gpu,
                                          const std::vector<std::int32_t> &cpu) {
  const std::string what = kernel + ": tensor " + tensor + " " + dimsString(dims);
  if (gpu.size() != cpu.size())
    return ::testing::AssertionFailure() << what << ": the test is wrong: " << gpu.size()
                                         << " GPU and " << cpu.size() << " CPU values";
  std::int64_t differing = 0, first = -1;
  for (std::size_t i = 0; i < cpu.size(); ++i)
    if (gpu[i] != cpu[i]) {
      ++differing;
      if (first < 0)
        first = std::int64_t(i);
    }
  if (differing == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << differing << " of " << cpu.size()
         << " elements differ (tolerance exact)\n  first at index " << first << " = "
         << indexString(first, dims) << ": gpu " << gpu[first] << ", cpu " << cpu[first];
}

std::uint64_t seedOf(const std::string &name) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : name)
    hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

std::vector<float> uniform(std::size_t count, std::uint64_t seed, float lo, float hi) {
  std::mt19937_64 engine(seed);
  std::vector<float> values(count);
  for (float &v : values) // 24 random bits: the same values under any standard library
    v = lo + (hi - lo) * float(engine() >> 40) * (1.f / 16777216.f);
  return values;
}

std::vector<float> quantized(std::size_t count, std::uint64_t seed, int steps, float unit) {
  std::mt19937_64 engine(seed);
  std::vector<float> values(count);
  const std::uint64_t span = 2 * std::uint64_t(steps) + 1;
  for (float &v : values)
    v = float(std::int64_t(engine() % span) - steps) * unit;
  return values;
}

std::vector<std::int32_t> labels(std::size_t count, int classes, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<std::int32_t> values(count);
  for (std::int32_t &v : values)
    v = std::int32_t(engine() % std::uint64_t(classes));
  return values;
}

} // namespace netc::kgtest
