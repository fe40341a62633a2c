//===- KernelCheck.h - comparing CUDA results with the CPU's ----*- C++ -*-===//
//
// Host-only helpers of kernel-gpu-tests: tolerances, the element-wise
// comparison that names the first differing element, and the fixed-seed
// inputs. KernelTest.h states why each tolerance is what it is.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_TEST_GPU_KERNELCHECK_H
#define NETC_TEST_GPU_KERNELCHECK_H

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace netc::kgtest {

/// How far a CUDA value may be from the CPU's: element i passes when
/// |gpu[i] - cpu[i]| <= rel * |cpu[i]| + ofMax * max_j |cpu[j]|. Exact
/// (both 0) asks for equal values; a NaN or an infinity never passes unless
/// it is the same infinity on both sides.
struct Tolerance {
  const char *name;
  double rel;
  double ofMax;
};

/// Compares a CUDA result with the CPU's, element by element. The failure
/// message names the kernel, the tensor and its dimensions, how many
/// elements differ, and for the first of them and for the largest
/// difference: the flat index, the index per dimension, both values, the
/// difference and what was allowed.
::testing::AssertionResult matches(const std::string &kernel, const std::string &tensor,
                                   const std::vector<std::int64_t> &dims,
                                   const std::vector<float> &gpu, const std::vector<float> &cpu,
                                   Tolerance tolerance);

/// The same for integers (labels, counts), which must be equal.
::testing::AssertionResult matchesExactly(const std::string &kernel, const std::string &tensor,
                                          const std::vector<std::int64_t> &dims,
                                          const std::vector<std::int32_t> &gpu,
                                          const std::vector<std::int32_t> &cpu);

/// A seed from a case's name (FNV-1a), so every case has its own fixed data.
std::uint64_t seedOf(const std::string &name);

/// `count` floats uniform in [lo, hi).
std::vector<float> uniform(std::size_t count, std::uint64_t seed, float lo = -1.f, float hi = 1.f);

/// `count` floats k * unit with k uniform in [-steps, steps]: few distinct
/// values (ties), and sums of their products are exact in float.
std::vector<float> quantized(std::size_t count, std::uint64_t seed, int steps, float unit);

/// `count` labels uniform in [0, classes).
std::vector<std::int32_t> labels(std::size_t count, int classes, std::uint64_t seed);

/// "[a,b,c]".
std::string dimsString(const std::vector<std::int64_t> &dims);

} // namespace netc::kgtest

#endif // NETC_TEST_GPU_KERNELCHECK_H
