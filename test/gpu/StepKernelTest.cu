//===- StepKernelTest.cu - loss, optimizer and step kernels -----*- CUDA -*-===//
//
// The loss kernels and the optimizer updates against their CPU twins at the
// shapes of KernelCases.h, gather_batch against a table lookup (it has no
// CPU twin), advance_step, and the launchers' error reporting. The harness,
// and why each tolerance is what it is: KernelTest.h.
//
//===----------------------------------------------------------------------===//

#include "KernelTest.h"

using namespace netc::kgtest;

class CudaLoss : public CudaKernel {};
class CudaOptimizer : public CudaKernel {};
class CudaGather : public CudaKernel {};
class CudaStep : public CudaKernel {};
class CudaErrors : public CudaKernel {};

//===----------------------------------------------------------------------===//
// softmax, softmax_grad, cross_entropy, count_correct,
// softmax_cross_entropy_grad
//===----------------------------------------------------------------------===//

/// The first and the last index of a row's maximum.
std::pair<int, int> argmaxes(const float *row, int k) {
  int first = 0, last = 0;
  for (int j = 1; j < k; ++j) {
    if (row[j] > row[first])
      first = last = j;
    else if (row[j] == row[first])
      last = j;
  }
  return {first, last};
}

template <int K> void checkLoss(const char *name, const char *params) {
  using Ref = ref::Loss<K>;
  for (const int n : {1, 37, 300}) { // 300: more rows than the one block's threads
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims dims{n, K};
    const std::size_t count = product(dims);
    const auto logits = uniform(count, seed, -4.f, 4.f), dy = uniform(count, seed + 1);
    const auto labels = netc::kgtest::labels(std::size_t(n), K, seed + 2);
    auto probs = nans(count), dx = nans(count), dlogits = nans(count);
    Ref::softmax(n, logits.data(), probs.data());
    Ref::softmax_grad(n, dy.data(), probs.data(), dx.data());
    Ref::softmax_cross_entropy_grad(n, probs.data(), labels.data(), dlogits.data());

    // cross_entropy on probabilities with some labels' below the 1e-7 clip.
    auto clipped = probs;
    for (int i = 0; i < n; i += 3)
      clipped[std::size_t(i) * K + labels[i]] = i % 2 ? 1e-9f : 0.f;
    const float loss = Ref::cross_entropy(n, clipped.data(), labels.data());
    // count_correct on quantized rows (ties), labels on the first or the
    // last maximum or anywhere: only the first maximum counts.
    const auto votes = quantized(count, seed + 3, 4, 0.25f);
    auto voteLabels = labels;
    for (int i = 0; i < n; ++i) {
      const auto [first, last] = argmaxes(votes.data() + std::size_t(i) * K, K);
      voteLabels[i] = i % 3 == 0 ? first : i % 3 == 1 ? last : voteLabels[i];
    }
    const std::int32_t correct = Ref::count_correct(n, votes.data(), voteLabels.data());

    DeviceBuffer<float> gLogits(logits), gdy(dy), gProbsIn(probs), gClipped(clipped), gVotes(votes),
        gProbs(count), gdx(count), gdLogits(count);
    DeviceBuffer<std::int32_t> gLabels(labels), gVoteLabels(voteLabels);
    const std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1), sentinelArgs(2)};
    DeviceStep step(args, /*cursor=*/1);
    netc::cuda::softmax<K>(n, gLogits, gProbs);
    netc::cuda::softmax_grad<K>(n, gdy, gProbsIn, gdx);
    netc::cuda::softmax_cross_entropy_grad<K>(n, gProbsIn, gLabels, gdLogits);
    netc::cuda::cross_entropy<K>(n, gClipped, gLabels, step.step());
    netc::cuda::count_correct<K>(n, gVotes, gVoteLabels, step.step());
    expectCleanLaunches("softmax and the loss kernels" + shape);
    EXPECT_TRUE(matches("softmax" + shape, "y", dims, gProbs.download(), probs, kForward));
    EXPECT_TRUE(matches("softmax_grad" + shape, "dx", dims, gdx.download(), dx, kForward));
    EXPECT_TRUE(matches("softmax_cross_entropy_grad" + shape, "dlogits", dims, gdLogits.download(),
                        dlogits, kElementwise));

    const auto after = step.args();
    EXPECT_EQ(step.cursor(), 1) << "cross_entropy / count_correct" << shape << " moved the cursor";
    EXPECT_NEAR(after[1].loss, loss, 1e-6 * std::fabs(loss))
        << "cross_entropy" << shape << ": StepArgs[cursor].loss (gpu) against the CPU's loss";
    EXPECT_EQ(after[1].correct, correct)
        << "count_correct" << shape << ": StepArgs[cursor].correct (gpu) against the CPU's count";
    auto expected = args;
    expected[1].loss = after[1].loss;
    expected[1].correct = after[1].correct;
    for (std::size_t k = 0; k < args.size(); ++k)
      EXPECT_TRUE(sameArgs(after[k], expected[k]))
          << "cross_entropy / count_correct" << shape << " wrote into StepArgs[" << k
          << "] beyond loss and correct at the cursor (1)";
  }
}

#define NETC_KG_LOSS_TEST(name, ...)                                                               \
  TEST_F(CudaLoss, name) { checkLoss<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_LOSS_CASES(NETC_KG_LOSS_TEST)

//===----------------------------------------------------------------------===//
// sgd_update, adam_update, sgd_update_all, adam_update_all
//===----------------------------------------------------------------------===//

namespace {

/// Parameter sizes: a bias, lenet5's dense2 weight, and one larger than the
/// *_update_all grid's 1024 x 256 threads, so its grid-stride loop runs.
constexpr std::int64_t kSizes[3] = {10, 840, 300001};

struct SgdConfig {
  float lr, momentum;
  bool nesterov;
};
constexpr SgdConfig kSgdConfigs[] = {
    {0.01f, 0.f, false}, {0.01f, 0.9f, false}, {0.01f, 0.9f, true}};

/// A Step whose args[1] holds the learning rate and t; args[0] others.
DeviceStep optimizerStep(float lr, std::int64_t t) {
  std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1)};
  args[0].learning_rate = lr * 3;
  args[0].t = t + 5;
  args[1].learning_rate = lr;
  args[1].t = t;
  return DeviceStep(args, /*cursor=*/1);
}

std::string sgdName(const SgdConfig &c) {
  return "lr " + std::to_string(c.lr) + " momentum " + std::to_string(c.momentum) +
         (c.nesterov ? " nesterov" : "");
}

} // namespace

TEST_F(CudaOptimizer, sgd_update) {
  for (const SgdConfig &config : kSgdConfigs)
    for (const std::int64_t size : kSizes) {
      const std::string what = "sgd_update size " + std::to_string(size) + " " + sgdName(config);
      const std::uint64_t seed = seedOf(what);
      auto p = uniform(size, seed), velocity = uniform(size, seed + 1);
      const auto g = uniform(size, seed + 2);
      const bool hasVelocity = config.momentum != 0.f; // may be null with momentum 0
      DeviceBuffer<float> gp(p), gg(g), gv(velocity);
      DeviceStep step = optimizerStep(config.lr, 1);
      netc::cuda::sgd_update(size, gp, gg, hasVelocity ? gv.get() : nullptr, step.step(),
                             config.momentum, config.nesterov);
      ref::sgd_update(size, p.data(), g.data(), hasVelocity ? velocity.data() : nullptr, config.lr,
                      config.momentum, config.nesterov);
      expectCleanLaunches(what);
      EXPECT_TRUE(matches(what, "p", Dims{size}, gp.download(), p, kElementwise));
      if (hasVelocity)
        EXPECT_TRUE(matches(what, "velocity", Dims{size}, gv.download(), velocity, kElementwise));
    }
}

TEST_F(CudaOptimizer, adam_update) {
  constexpr float kLr = 0.001f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-7f; // lenet5's
  for (const std::int64_t t : {1, 10, 1000})
    for (const std::int64_t size : kSizes) {
      const std::string what =
          "adam_update size " + std::to_string(size) + " t " + std::to_string(t);
      const std::uint64_t seed = seedOf(what);
      auto p = uniform(size, seed), m = uniform(size, seed + 1, -0.1f, 0.1f),
           v = uniform(size, seed + 2, 0.f, 0.01f);
      const auto g = uniform(size, seed + 3);
      DeviceBuffer<float> gp(p), gg(g), gm(m), gv(v);
      DeviceStep step = optimizerStep(kLr, t);
      netc::cuda::adam_update(size, gp, gg, gm, gv, step.step(), kBeta1, kBeta2, kEps);
      ref::adam_update(size, p.data(), g.data(), m.data(), v.data(), kLr, kBeta1, kBeta2, kEps, t);
      expectCleanLaunches(what);
      EXPECT_TRUE(matches(what, "p", Dims{size}, gp.download(), p, kElementwise));
      EXPECT_TRUE(matches(what, "m", Dims{size}, gm.download(), m, kElementwise));
      EXPECT_TRUE(matches(what, "v", Dims{size}, gv.download(), v, kElementwise));
    }
}

namespace {

/// Three parameters laid out as net-plan-memory might: parameters, gradients
/// and optimizer slots at offsets in three arenas, with gaps between them
/// (which must stay untouched) and the gradients in another order.
struct UpdateLayout {
  netc::cuda::UpdateTable<3> table;
  std::int64_t paramFloats, gradFloats, slotFloats;
};

UpdateLayout updateLayout(bool twoSlots) {
  UpdateLayout layout{};
  std::int64_t param = 3, grad = 5, slot = 7;
  for (int k = 0; k < 3; ++k) {
    const std::int64_t size = kSizes[k];
    layout.table.entries[k].param = param;
    layout.table.entries[k].size = size;
    layout.table.entries[k].slot0 = slot;
    layout.table.entries[k].slot1 = twoSlots ? slot + size + 1 : 0;
    param += size + 13;
    slot += (twoSlots ? 2 * size + 1 : size) + 17;
  }
  for (int k = 2; k >= 0; --k) { // gradients in reverse order
    layout.table.entries[k].grad = grad;
    grad += kSizes[k] + 11;
  }
  layout.paramFloats = param;
  layout.gradFloats = grad;
  layout.slotFloats = slot;
  return layout;
}

} // namespace

TEST_F(CudaOptimizer, sgd_update_all) {
  const UpdateLayout layout = updateLayout(/*twoSlots=*/false);
  for (const SgdConfig &config : kSgdConfigs) {
    const std::string what = "sgd_update_all<3> sizes 10, 840, 300001, " + sgdName(config);
    const std::uint64_t seed = seedOf(what);
    auto P = uniform(layout.paramFloats, seed), S = uniform(layout.slotFloats, seed + 1);
    const auto F = uniform(layout.gradFloats, seed + 2);
    DeviceBuffer<float> gP(P), gF(F), gS(S);
    DeviceStep step = optimizerStep(config.lr, 1);
    netc::cuda::sgd_update_all<3>(layout.table, gP, gF, gS, step.step(), config.momentum,
                                  config.nesterov);
    for (const netc::cuda::UpdateEntry &e : layout.table.entries)
      ref::sgd_update(e.size, P.data() + e.param, F.data() + e.grad,
                      config.momentum != 0.f ? S.data() + e.slot0 : nullptr, config.lr,
                      config.momentum, config.nesterov);
    expectCleanLaunches(what);
    EXPECT_TRUE(matches(what, "P (parameters, gaps included)", Dims{layout.paramFloats},
                        gP.download(), P, kElementwise));
    EXPECT_TRUE(matches(what, "S (velocities, gaps included)", Dims{layout.slotFloats},
                        gS.download(), S, kElementwise));
  }
}

TEST_F(CudaOptimizer, adam_update_all) {
  constexpr float kLr = 0.001f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-7f;
  const UpdateLayout layout = updateLayout(/*twoSlots=*/true);
  for (const std::int64_t t : {1, 1000}) {
    const std::string what = "adam_update_all<3> sizes 10, 840, 300001, t " + std::to_string(t);
    const std::uint64_t seed = seedOf(what);
    // Slots: m in [-0.1, 0.1) would make v negative in slot1; keep both >= 0.
    auto P = uniform(layout.paramFloats, seed),
         S = uniform(layout.slotFloats, seed + 1, 0.f, 0.01f);
    const auto F = uniform(layout.gradFloats, seed + 2);
    DeviceBuffer<float> gP(P), gF(F), gS(S);
    DeviceStep step = optimizerStep(kLr, t);
    netc::cuda::adam_update_all<3>(layout.table, gP, gF, gS, step.step(), kBeta1, kBeta2, kEps);
    for (const netc::cuda::UpdateEntry &e : layout.table.entries)
      ref::adam_update(e.size, P.data() + e.param, F.data() + e.grad, S.data() + e.slot0,
                       S.data() + e.slot1, kLr, kBeta1, kBeta2, kEps, t);
    expectCleanLaunches(what);
    EXPECT_TRUE(matches(what, "P (parameters, gaps included)", Dims{layout.paramFloats},
                        gP.download(), P, kElementwise));
    EXPECT_TRUE(matches(what, "S (m and v, gaps included)", Dims{layout.slotFloats}, gS.download(),
                        S, kElementwise));
  }
}

//===----------------------------------------------------------------------===//
// gather_batch (no CPU twin: a table lookup on the host)
//===----------------------------------------------------------------------===//

template <std::int64_t SIZE, std::int64_t PLANES, int STRIDE>
void checkGather(const char *name, const char *params) {
  constexpr int kSamples = 50, kFirst = 7;
  constexpr std::int64_t kPlane = SIZE / PLANES;
  const std::uint64_t seed = seedOf(name);
  std::vector<std::uint8_t> pixels(std::size_t(kSamples) * SIZE);
  {
    const auto bytes = labels(pixels.size(), 256, seed); // uniform 0..255
    for (std::size_t k = 0; k < pixels.size(); ++k)
      pixels[k] = std::uint8_t(bytes[k]);
  }
  const auto trainLabels = labels(kSamples, 10, seed + 1);
  const auto table = uniform(STRIDE ? std::size_t(PLANES) * STRIDE : 256, seed + 2);
  std::vector<std::int64_t> order(kSamples);
  {
    std::iota(order.begin(), order.end(), 0);
    const auto swaps = labels(kSamples, kSamples, seed + 3); // a fixed shuffle
    for (int k = kSamples - 1; k > 0; --k)
      std::swap(order[k], order[swaps[k] % (k + 1)]);
  }
  for (const int n : {1, 16, kSamples - kFirst}) {
    const std::string what =
        "gather_batch" + shapeOf(params, name, n) + " first " + std::to_string(kFirst);
    std::vector<float> input(std::size_t(n) * SIZE);
    std::vector<std::int32_t> batchLabels(n);
    for (int i = 0; i < n; ++i) {
      const std::int64_t sample = order[kFirst + i];
      batchLabels[i] = trainLabels[sample];
      for (std::int64_t k = 0; k < SIZE; ++k)
        input[i * SIZE + k] = table[(k / kPlane) * STRIDE + pixels[sample * SIZE + k]];
    }
    std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1)};
    args[0].first = 0;
    args[1].first = kFirst;
    DeviceStep step(args, /*cursor=*/1);
    DeviceBuffer<std::uint8_t> gPixels(pixels);
    DeviceBuffer<std::int32_t> gLabels(trainLabels), gBatchLabels(static_cast<std::size_t>(n));
    DeviceBuffer<float> gTable(table), gInput(input.size());
    DeviceBuffer<std::int64_t> gOrder(order);
    netc::cuda::gather_batch<SIZE, PLANES>(n, gPixels, gLabels, gTable, STRIDE, gOrder, step.step(),
                                           gInput, gBatchLabels);
    expectCleanLaunches(what);
    EXPECT_TRUE(matches(what, "input", Dims{n, SIZE}, gInput.download(), input, kExact));
    EXPECT_TRUE(matchesExactly(what, "labels", Dims{n}, gBatchLabels.download(), batchLabels));
  }
}

#define NETC_KG_GATHER_TEST(name, ...)                                                             \
  TEST_F(CudaGather, name) { checkGather<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_GATHER_CASES(NETC_KG_GATHER_TEST)

//===----------------------------------------------------------------------===//
// advance_step, and CUDA error reporting
//===----------------------------------------------------------------------===//

TEST_F(CudaStep, advance_step_moves_the_cursor_only) {
  const std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1), sentinelArgs(2),
                                               sentinelArgs(3)};
  DeviceStep step(args, /*cursor=*/0);
  for (int k = 0; k < 3; ++k)
    netc::cuda::advance_step(step.step());
  expectCleanLaunches("advance_step x 3");
  EXPECT_EQ(step.cursor(), 3) << "advance_step x 3 from cursor 0";
  const auto after = step.args();
  for (std::size_t k = 0; k < args.size(); ++k)
    EXPECT_TRUE(sameArgs(after[k], args[k])) << "advance_step changed StepArgs[" << k << "]";
}

TEST_F(CudaErrors, none_recorded_after_clean_launches) {
  // A short forward and loss of lenet5 (its emitted kernels), then the step
  // moved on: nothing may be recorded, and the device reports no error.
  constexpr int n = 4;
  DeviceBuffer<float> x(uniform(std::size_t(n) * 784, 1)), w1(uniform(150, 2)), b1(uniform(6, 3)),
      a1(std::size_t(n) * 6 * 14 * 14), w2(uniform(std::size_t(10) * 1176, 4)), b2(uniform(10, 5)),
      logits(std::size_t(n) * 10), probs(std::size_t(n) * 10);
  DeviceBuffer<std::int32_t> y(labels(n, 10, 6));
  DeviceStep step({sentinelArgs(0), sentinelArgs(1)}, /*cursor=*/0);
  netc::cuda::fused_conv2d<1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28, 1, 1, 2, 2, 2, 2, 0, 0, 14, 14,
                           true>(n, x, w1, b1, a1, nullptr);
  netc::cuda::fused_dense<1176, 10, 0, true>(n, a1, w2, b2, logits);
  netc::cuda::softmax<10>(n, logits, probs);
  netc::cuda::cross_entropy<10>(n, probs, y, step.step());
  netc::cuda::count_correct<10>(n, probs, y, step.step());
  netc::cuda::advance_step(step.step());
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(netc::cuda::detail::takeError(), "")
      << "launchers recorded an error in a clean sequence";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(step.cursor(), 1);

  // The recorder keeps the first failure, with its place, until taken.
  EXPECT_FALSE(
      netc::cuda::detail::check(cudaErrorInvalidValue, "cudaMemcpy(a, b)", "First.cu", 12));
  EXPECT_FALSE(
      netc::cuda::detail::check(cudaErrorMemoryAllocation, "cudaMalloc(c)", "Second.cu", 34));
  EXPECT_TRUE(netc::cuda::detail::check(cudaSuccess, "cudaFree(d)", "Third.cu", 56));
  const std::string first = netc::cuda::detail::takeError();
  EXPECT_NE(first.find("First.cu:12: cudaMemcpy(a, b) failed: cudaErrorInvalidValue"),
            std::string::npos)
      << first;
  EXPECT_EQ(netc::cuda::detail::takeError(), "") << "takeError does not clear the error";
}
