//===- ModelCheck.cpp - the oracle of the generated-model test ------------===//
//
// Runs two builds of one generated model against each other (run_generated.py
// calls it per model):
//
//   generated-model-check train A.so B.so CKPT
//     A (the default pipeline) and B (-O0: nothing fused, nothing folded;
//     or the default pipeline for another -march) start from the same
//     seeded parameters and take the same steps on the same seeded batch:
//     every loss must be finite, the losses and the final probabilities must
//     agree within kTolerance, and A's parameters are written to CKPT for
//     the ONNX round trip.
//   generated-model-check forward A.so A.ckpt B.so B.ckpt
//     the same inputs through A with A.ckpt and B with B.ckpt (the model and
//     its ONNX export imported again) must give the same probabilities.
//   generated-model-check devices FAT.so
//     a CPU and a CUDA instance of one fat library (a GPU, or the CUDA
//     emulator where the CUDA part was built by its nvcc stand-in), from the
//     same parameters, take the same steps: the same losses and
//     probabilities within kTolerance.
//
// A failure prints one line naming the check, the step or element, and both
// values, and exits 1.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/ModelCheckpoint.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Trainer.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using namespace netc::runtime;

namespace {

/// Fused against unfused kernels and a few steps of training: only the order
/// of float sums differs, amplified by at most a few updates.
constexpr double kTolerance = 2e-3;
/// The same kernels through an ONNX round trip: only the summation order.
constexpr double kForwardTolerance = 1e-5;
constexpr int32_t kBatch = 4;
constexpr int kSteps = 3;
constexpr uint64_t kSeed = 20261204;

int fail(const std::string &message) {
  std::fprintf(stderr, "generated-model-check: %s\n", message.c_str());
  return 1;
}

std::shared_ptr<Instance> open(const std::string &path, std::string &error,
                               DeviceChoice device = DeviceChoice::Cpu) {
  auto model = Model::load(path);
  if (!model) {
    error = path + ": " + model.error;
    return nullptr;
  }
  auto instance = Instance::create(*model, device, kBatch, /*threads=*/1);
  if (!instance) {
    error = path + ": " + instance.error;
    return nullptr;
  }
  return *instance;
}

struct Batch {
  std::vector<float> inputs;
  std::vector<int32_t> labels;
};

Batch makeBatch(const Instance &net, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  Batch b;
  b.inputs.resize(size_t(net.model().inputSize() * kBatch));
  for (float &v : b.inputs)
    v = value(rng);
  for (int32_t i = 0; i < kBatch; ++i)
    b.labels.push_back(int32_t(rng() % uint64_t(net.info().classes)));
  return b;
}

bool close(double a, double b, double tolerance) {
  return std::fabs(a - b) <= tolerance * (1 + std::fabs(b));
}

int compareForward(const Instance &a, const Instance &b, const Batch &batch, double tolerance,
                   const char *what) {
  int32_t classes = a.info().classes;
  std::vector<float> pa(size_t(kBatch * classes)), pb(pa.size());
  if (Status s = a.forward(batch.inputs.data(), kBatch, pa.data()); !s)
    return fail(std::string(what) + ": forward of the first: " + s.error());
  if (Status s = b.forward(batch.inputs.data(), kBatch, pb.data()); !s)
    return fail(std::string(what) + ": forward of the second: " + s.error());
  for (size_t i = 0; i < pa.size(); ++i)
    if (!std::isfinite(pa[i]) || !close(pa[i], pb[i], tolerance))
      return fail(std::string(what) + ": probability " + std::to_string(i) + " is " +
                  std::to_string(pa[i]) + " against " + std::to_string(pb[i]));
  return 0;
}

/// Both instances from the same parameters through the same steps: finite,
/// equal losses, then equal probabilities. `names` say which is which.
int trainAlike(const Instance &a, const Instance &b, const char *nameA, const char *nameB) {
  if (a.info().num_params != b.info().num_params)
    return fail(std::string("the builds have ") + std::to_string(a.info().num_params) +
                " and " + std::to_string(b.info().num_params) + " parameters");
  for (const Instance *net : {&a, &b})
    if (Status s = initializeParameters(*net, kSeed); !s)
      return fail("initializing: " + s.error());
  for (int step = 0; step < kSteps; ++step) {
    Batch batch = makeBatch(a, kSeed + uint64_t(step));
    float loss[2] = {0, 0};
    int32_t correct[2] = {0, 0};
    const Instance *nets[2] = {&a, &b};
    const char *names[2] = {nameA, nameB};
    for (int k = 0; k < 2; ++k)
      if (Status s = nets[k]->trainStep(batch.inputs.data(), batch.labels.data(), kBatch,
                                        kSeed + step, loss[k], correct[k]);
          !s)
        return fail("train step " + std::to_string(step) + " (" + names[k] + "): " + s.error());
    std::string losses = std::to_string(loss[0]) + " (" + nameA + ") and " +
                         std::to_string(loss[1]) + " (" + nameB + ")";
    if (!std::isfinite(loss[0]) || !std::isfinite(loss[1]))
      return fail("step " + std::to_string(step) + ": the loss is not finite: " + losses);
    if (!close(loss[0], loss[1], kTolerance))
      return fail("step " + std::to_string(step) + ": the losses differ: " + losses);
  }
  return compareForward(a, b, makeBatch(a, kSeed - 1), kTolerance,
                        (std::string("after training, ") + nameA + " against " + nameB).c_str());
}

int train(const std::string &pathA, const std::string &pathB, const std::string &checkpoint) {
  std::string error;
  auto a = open(pathA, error);
  auto b = a ? open(pathB, error) : nullptr;
  if (!a || !b)
    return fail(error);
  // Named by their files: B is the -O0 build or the portable one.
  if (int rc = trainAlike(*a, *b, pathA.c_str(), pathB.c_str()))
    return rc;
  Status s = writeCheckpoint(checkpoint, captureCheckpoint(*a));
  if (!s)
    return fail("writing " + checkpoint + ": " + s.error());
  return 0;
}

int devices(const std::string &path) {
  std::string error;
  auto cpu = open(path, error);
  auto cuda = cpu ? open(path, error, DeviceChoice::Cuda) : nullptr;
  if (!cpu || !cuda)
    return fail(error);
  return trainAlike(*cpu, *cuda, "CPU", "CUDA");
}

int forward(const std::string &pathA, const std::string &weightsA, const std::string &pathB,
            const std::string &weightsB) {
  std::string error;
  auto a = open(pathA, error);
  auto b = a ? open(pathB, error) : nullptr;
  if (!a || !b)
    return fail(error);
  for (auto [net, path] : {std::pair{a, weightsA}, std::pair{b, weightsB}}) {
    auto checkpoint = readCheckpoint(path);
    if (!checkpoint)
      return fail(checkpoint.error);
    if (Status s = restoreCheckpoint(*checkpoint, *net, path, /*withState=*/false); !s)
      return fail(s.error());
  }
  return compareForward(*a, *b, makeBatch(*a, kSeed + 100), kForwardTolerance,
                        "the model against its ONNX export imported again");
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "train")
    return train(args[1], args[2], args[3]);
  if (args.size() == 5 && args[0] == "forward")
    return forward(args[1], args[2], args[3], args[4]);
  if (args.size() == 2 && args[0] == "devices")
    return devices(args[1]);
  std::fprintf(stderr, "usage: generated-model-check train A.so B.so CKPT\n"
                       "       generated-model-check forward A.so A.ckpt B.so B.ckpt\n"
                       "       generated-model-check devices FAT.so\n");
  return 2;
}
