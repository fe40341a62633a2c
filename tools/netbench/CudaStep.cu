//===- CudaStep.cu - a whole training step: netc's CUDA path vs cuDNN + cuBLAS ===//
//
// One fat model library (netc's output with its CUDA path, loaded through
// ModelABI.h) against the same network written here with cuDNN and cuBLAS,
// on the same GPU, weights and batch (CudnnNet.cuh: the cuDNN and cuBLAS
// calls of each layer, the loss and Adam).
//
// The networks are written out below from models/lenet5.net and
// models/mnist_cnn.net; the library's netc_model() must agree (parameter
// shapes, input, classes, Adam), or the model is refused with the reason.
//
// Check (one step from the same state, on the same batch and dropout seed):
//   loss within 1e-4 relative; correct count equal (reported, not required);
//   gradients, read back from netc's first Adam moment (m = (1 - beta1) g
//   after one step from zero), within 1e-3 of each tensor's largest |g|
//   (with --tf32: 1e-2 for both);
//   updated weights: within 1e-2 lr where |g| >= 1e-3 max|g| (there Adam's
//   first step is lr * g / (|g| + eps), insensitive to rounding); elsewhere
//   Adam's step is sign-sensitive to rounding (g ~ eps) and only bounded by
//   2 lr, and the elements beyond 1e-2 lr are counted and printed.
// Timing: each side's train step as a user calls it (netc_train_step: the
// batch copied in, forward, loss, backward, update, the loss and correct
// count copied out; the cuDNN side the same, with one synchronous read of the
// two scalars where netc makes two), device events around S steps on the
// legacy default stream, 5 rounds alternating the two sides, the median round.
// Then netc as netrun trains on a GPU: netc_train_steps, 64 steps a call over
// a training set held on the device (one captured step graph replayed per
// batch, one synchronisation per call), per step against the same cuDNN
// figure.
//
//===----------------------------------------------------------------------===//

#include "Cuda.h"
#include "CudaCommon.cuh"
#include "CudaRun.h"
#include "CudnnNet.cuh"

#include "net/Runtime/ModelABI.h"

#include <cstdio>
#include <dlfcn.h>
#include <memory>
#include <random>
#include <type_traits>

namespace netc::bench::gpu {
namespace {

//===----------------------------------------------------------------------===//
// The networks
//===----------------------------------------------------------------------===//

LayerDef conv(int f, int k, int pad) { return {Kind::Conv, f, k, pad, 1, 0}; }
LayerDef maxPool() { return {Kind::MaxPool}; }
LayerDef dropout(float rate) { return {Kind::Dropout, 0, 0, 0, 0, rate}; }
LayerDef flatten() { return {Kind::Flatten}; }
LayerDef dense(int m, int act) { return {Kind::Dense, m, 0, 0, act, 0}; }

const std::vector<NetDef> &networks() {
  static const std::vector<NetDef> nets = {
      // models/lenet5.net: 'same' 5x5 convs with relu, max_pool(2), 120-filter conv3.
      {"lenet5", 1, 28, 28, 10,
       {conv(6, 5, 2), maxPool(), conv(16, 5, 2), maxPool(), conv(120, 5, 2), flatten(),
        dense(84, 1), dense(10, 0)}},
      // models/mnist_cnn.net: Keras' mnist_cnn.py.
      {"mnist_cnn", 1, 28, 28, 10,
       {conv(32, 3, 0), conv(64, 3, 0), maxPool(), dropout(0.25f), flatten(), dense(128, 1),
        dropout(0.5f), dense(10, 0)}},
  };
  return nets;
}

/// The trainable parameters' shapes the definition implies, in netc's order
/// (per conv or dense layer: kernel, then bias).
std::vector<std::vector<std::int64_t>> expectedShapes(const NetDef &def) {
  std::vector<std::vector<std::int64_t>> shapes;
  int c = def.c, h = def.h, w = def.w;
  for (const LayerDef &d : def.layers) {
    if (d.kind == Kind::Conv) {
      shapes.push_back({d.units, c, d.k, d.k});
      shapes.push_back({d.units});
      c = d.units, h = h + 2 * d.pad - d.k + 1, w = w + 2 * d.pad - d.k + 1;
    } else if (d.kind == Kind::MaxPool) {
      h /= 2, w /= 2;
    } else if (d.kind == Kind::Flatten) {
      c = c * h * w, h = 1, w = 1;
    } else if (d.kind == Kind::Dense) {
      shapes.push_back({d.units, c});
      shapes.push_back({d.units});
      c = d.units;
    }
  }
  return shapes;
}

//===----------------------------------------------------------------------===//
// The model library
//===----------------------------------------------------------------------===//

struct Api {
  decltype(&netc_model) model;
  decltype(&netc_create) create;
  decltype(&netc_destroy) destroy;
  decltype(&netc_param_data) paramData;
  decltype(&netc_state_data) stateData;
  decltype(&netc_train_step) trainStep;
  decltype(&netc_last_error) lastError;
  decltype(&netc_set_train_data) setTrainData;
  decltype(&netc_train_steps) trainSteps;
};

/// Loads the library; "" or why not.
std::string load(const char *path, Api &api) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    return std::string("cannot load it: ") + dlerror();
  bool ok = true;
  auto sym = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    ok = ok && fn;
  };
  sym(api.model, "netc_model");
  sym(api.create, "netc_create");
  sym(api.destroy, "netc_destroy");
  sym(api.paramData, "netc_param_data");
  sym(api.stateData, "netc_state_data");
  sym(api.trainStep, "netc_train_step");
  sym(api.lastError, "netc_last_error");
  sym(api.setTrainData, "netc_set_train_data");
  sym(api.trainSteps, "netc_train_steps");
  if (!ok)
    return "it does not export the netc model ABI";
  const netc_model_info *info = api.model();
  if (info->magic != NETC_MAGIC || info->abi_version != NETC_ABI_VERSION)
    return "it has ABI version " + std::to_string(info->abi_version) + ", netbench expects " +
           std::to_string(NETC_ABI_VERSION);
  if (!(info->devices & (1u << NETC_DEVICE_CUDA)))
    return "it has no CUDA path (netc found no nvcc when it built it)";
  return "";
}

struct Instance {
  Api &api;
  netc_instance *inst = nullptr;
  explicit Instance(Api &a) : api(a) {}
  ~Instance() {
    if (inst)
      api.destroy(inst);
  }
};

/// Adam's step where the gradient is not negligible: see the file comment.
struct WeightCheck {
  double maxSignificant = 0; // max |dp| where |g| >= 1e-3 max|g|, in units of lr
  double maxOther = 0;       // elsewhere, in units of lr
  std::size_t otherBeyond = 0, others = 0;
};

WeightCheck checkWeights(const std::vector<float> &pa, const std::vector<float> &pb,
                         const std::vector<float> &g, float lr) {
  WeightCheck c;
  double gMax = 0;
  for (float x : g)
    gMax = std::max(gMax, double(std::fabs(x)));
  for (std::size_t j = 0; j < pa.size(); ++j) {
    const double d = std::isfinite(pa[j]) && std::isfinite(pb[j])
                         ? std::fabs(double(pa[j]) - double(pb[j])) / lr
                         : INFINITY;
    if (std::fabs(g[j]) >= 1e-3 * gMax) {
      c.maxSignificant = std::max(c.maxSignificant, d);
    } else {
      ++c.others;
      c.maxOther = std::max(c.maxOther, d);
      c.otherBeyond += d > 1e-2;
    }
  }
  return c;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

} // namespace

namespace {

/// The trainable parameters' indices and shapes, in the library's order.
void trainableParams(const netc_model_info *info, std::vector<int> &indices,
                     std::vector<std::vector<std::int64_t>> &shapes) {
  for (int i = 0; i < info->num_params; ++i)
    if (info->params[i].trainable) {
      indices.push_back(i);
      shapes.emplace_back(info->params[i].shape, info->params[i].shape + info->params[i].rank);
    }
}

/// Loads the library and matches it with a written network; "" or why not.
/// Needs no device: netc_model() is metadata.
std::string matchModel(const char *library, Api &api, const NetDef *&def) {
  std::string why = load(library, api);
  if (!why.empty())
    return why;
  const netc_model_info *info = api.model();
  def = nullptr;
  for (const NetDef &d : networks())
    if (info->network == std::string(d.name))
      def = &d;
  if (!def)
    return std::string("it is the network '") + info->network +
           "'; the cuDNN implementation has lenet5 and mnist_cnn";
  if (info->train.optimizer != NETC_OPTIMIZER_ADAM)
    return "it trains with SGD; the cuDNN implementation has Adam only";
  if (info->input_rank != 3 || info->input_shape[0] != def->c ||
      info->input_shape[1] != def->h || info->input_shape[2] != def->w ||
      info->classes != def->classes)
    return "its input or classes differ from the cuDNN network's";
  std::vector<int> indices;
  std::vector<std::vector<std::int64_t>> shapes;
  trainableParams(info, indices, shapes);
  const std::vector<std::vector<std::int64_t>> expected = expectedShapes(*def);
  if (shapes.size() != expected.size())
    return "it has " + std::to_string(shapes.size()) + " trainable parameters, the cuDNN "
           "network " + std::to_string(expected.size());
  for (std::size_t i = 0; i < shapes.size(); ++i)
    if (shapes[i] != expected[i])
      return std::string("its parameter '") + info->params[indices[i]].name + "' is " +
             shapeText(shapes[i]) + ", the cuDNN network expects " + shapeText(expected[i]);
  return "";
}

/// What the check and the timings share: netc's instance and the cuDNN
/// network, holding the same weights, and the batch both train on.
struct StepPair {
  Api &api;
  const netc_model_info *info;
  const NetDef &def;
  int batch;
  Adam adam;
  std::vector<int> trainable; // the trainable parameters, in the library's order
  Instance &netc;
  CudnnNet &net;
  std::vector<float> images;
  std::vector<std::int32_t> labels;
  std::uint64_t seed = 1234; // the dropout seed of the compared step
};

/// The same weights (Glorot-uniform kernels as the library's initialisers,
/// small nonzero biases so that their gradients matter) in both, and one
/// batch of random images in [0, 1) with valid labels.
void setSameWeightsAndBatch(StepPair &s) {
  std::mt19937_64 rng(7);
  for (std::size_t t = 0; t < s.trainable.size(); ++t) {
    const netc_tensor_info &pi = s.info->params[s.trainable[t]];
    const bool bias = pi.rank == 1;
    const float limit = bias ? 0.05f : float(std::sqrt(6.0 / double(pi.fan_in + pi.fan_out)));
    std::uniform_real_distribution<float> u(-limit, limit);
    std::vector<float> values(std::size_t(pi.size));
    for (float &v : values)
      v = u(rng);
    float *d = s.api.paramData(s.netc.inst, s.trainable[t]);
    std::copy(values.begin(), values.end(), d);
    s.net.setParam(int(t), values);
  }
  const std::size_t perImage = std::size_t(s.def.c) * s.def.h * s.def.w;
  s.images = uniform(perImage * s.batch, 0.f, 1.f, 11);
  s.labels.assign(std::size_t(s.batch), 0);
  for (std::int32_t &l : s.labels)
    l = std::int32_t(rng() % std::uint64_t(s.def.classes));
}

/// Trainable parameter t after the compared step: netc's gradient (from
/// Adam's first moment) and updated weights against the cuDNN network's,
/// printed on one line; whether they agree.
bool compareParamAfterStep(StepPair &s, std::size_t t, double gradTol) {
  const netc_tensor_info &pi = s.info->params[s.trainable[t]];
  // netc's gradient, from Adam's first moment after one step from zero.
  int mIndex = -1;
  const std::string mName = std::string(pi.name) + "/adam_m";
  for (int i = 0; i < s.info->num_state; ++i)
    if (mName == s.info->state[i].name)
      mIndex = i;
  const std::vector<float> gMine = s.net.grad(int(t)), pMine = s.net.param(int(t));
  const float *pNetc = s.api.paramData(s.netc.inst, s.trainable[t]);
  if (!pNetc) {
    std::printf("  %-24s netc_param_data failed: %s\n", pi.name, s.api.lastError(s.netc.inst));
    return false;
  }
  const std::vector<float> pn(pNetc, pNetc + pi.size);
  std::string gradText = "no '" + mName + "' slot: gradient not compared";
  bool gradOk = true;
  if (mIndex >= 0) {
    const float *m = s.api.stateData(s.netc.inst, mIndex);
    std::vector<float> gn(std::size_t(pi.size));
    for (std::size_t j = 0; j < gn.size(); ++j)
      gn[j] = float(double(m[j]) / (1.0 - double(s.adam.beta1)));
    const Agreement ga = compare(gn, gMine);
    gradOk = ga.ok(gradTol);
    gradText = "grad " + describe(ga, gradTol, gn, gMine);
  }
  const WeightCheck wc = checkWeights(pn, pMine, gMine, s.adam.lr);
  const bool weightOk = wc.maxSignificant <= 1e-2 && wc.maxOther <= 2.0 + 1e-3;
  std::printf("  %-24s %s; weights max |diff| %.1e lr where |g| >= 1e-3 max|g|, %.1e lr "
              "elsewhere (%zu of %zu beyond 1e-2 lr) %s\n",
              pi.name, gradText.c_str(), wc.maxSignificant, wc.maxOther, wc.otherBeyond,
              wc.others, weightOk ? "ok" : "DISAGREE");
  return gradOk && weightOk;
}

/// One step each from the same state, compared (the file comment says
/// within what); whether netc's step agrees with the cuDNN network's.
bool compareOneStep(StepPair &s, const CudaOptions &opt) {
  float netcLoss = 0;
  std::int32_t netcCorrect = 0;
  bool netcOk = s.api.trainStep(s.netc.inst, s.images.data(), s.labels.data(), s.batch, s.seed,
                                &netcLoss, &netcCorrect) == NETC_OK;
  if (!netcOk)
    std::printf("error: netc_train_step failed: %s\n", s.api.lastError(s.netc.inst));
  const LossResult mine = s.net.step(s.images.data(), s.labels.data(), s.seed);
  std::printf("check step 1: loss netc %.6f, cuDNN %.6f; correct netc %d, cuDNN %d\n", netcLoss,
              mine.loss, netcCorrect, mine.correct);
  bool agree = netcOk;
  if (netcOk) {
    const double lossRel = std::fabs(double(netcLoss) - mine.loss) /
                           std::max(1e-30, std::fabs(double(mine.loss)));
    const double lossTol = opt.tf32 ? 1e-2 : 1e-4;
    const bool lossOk = std::isfinite(netcLoss) && lossRel <= lossTol;
    std::printf("  loss: rel %.2e %s\n", lossRel, lossOk ? "ok" : "DISAGREES");
    if (netcCorrect != mine.correct)
      std::printf("  correct counts differ (a tie or a near-tie in the probabilities decides "
                  "it; not a failure by itself)\n");
    agree = agree && lossOk;
    const double gradTol = opt.tf32 ? 1e-2 : 1e-3;
    for (std::size_t t = 0; t < s.trainable.size(); ++t) {
      const bool paramOk = compareParamAfterStep(s, t, gradTol);
      agree = agree && paramOk;
    }
  }
  if (!agree)
    std::printf("netc's step disagrees with the cuDNN network's (or failed): netc not timed\n");
  return agree;
}

/// Both sides' train steps, timed in rounds (netc's only when it agreed),
/// each side with its own run of dropout seeds from `netcSeed` on; prints
/// the table and sets `tCudnn`, the cuDNN network's seconds a step.
int timeSteps(StepPair &s, const CudaOptions &opt, bool agree, EventTimer &timer,
              std::uint64_t &netcSeed, double &tCudnn) {
  std::uint64_t cudnnSeed = netcSeed;
  int status = NETC_OK;
  float lastNetc = 0, lastCudnn = 0;
  auto netcStep = [&] {
    std::int32_t correct = 0;
    status |= s.api.trainStep(s.netc.inst, s.images.data(), s.labels.data(), s.batch,
                              netcSeed++, &lastNetc, &correct);
  };
  auto cudnnStep = [&] {
    lastCudnn = s.net.step(s.images.data(), s.labels.data(), cudnnSeed++).loss;
  };
  for (int i = 0; i < 3; ++i) {
    if (agree)
      netcStep();
    cudnnStep();
  }
  int steps = opt.steps;
  if (steps <= 0) {
    const double once = timer.perCall(cudnnStep, 3);
    steps = int(std::clamp(0.2 / std::max(once, 1e-6), 10.0, 2000.0));
  }
  std::vector<double> netcRounds, cudnnRounds;
  for (int round = 0; round < 5; ++round) {
    if (agree)
      netcRounds.push_back(timer.perCall(netcStep, steps));
    cudnnRounds.push_back(timer.perCall(cudnnStep, steps));
  }
  if (status != NETC_OK) {
    std::printf("error: netc_train_step failed while timed: %s\n", s.api.lastError(s.netc.inst));
    return 1;
  }
  const double tNetc = agree ? median(netcRounds) : 0;
  tCudnn = median(cudnnRounds);
  std::printf("%d steps a round, 5 rounds alternating, median round (device events); last "
              "loss on the repeated batch: netc %.4f, cuDNN %.4f\n\n",
              steps, lastNetc, lastCudnn);
  std::printf("| model | batch | netc us/step | cuDNN+cuBLAS us/step | netc images/s | "
              "cuDNN+cuBLAS images/s | cuDNN us / netc us |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf("| %s | %d | %s | %s | %s | %s | %s |\n", s.info->network, s.batch,
              fmtUs(tNetc).c_str(), fmtUs(tCudnn).c_str(), fmtImages(s.batch, tNetc).c_str(),
              fmtImages(s.batch, tCudnn).c_str(), fmtRatio(tCudnn, tNetc).c_str());
  return 0;
}

/// netc's runs of steps (netc_train_steps), as netrun trains on a GPU: the
/// training set held on the device, one captured step graph replayed per
/// batch, one synchronisation per call of kRun steps; a row of the table
/// against the cuDNN network's `tCudnn`. Random bytes: the time of a step
/// does not depend on the pixels.
int timeRunsOfSteps(StepPair &s, EventTimer &timer, std::uint64_t &netcSeed, double tCudnn) {
  constexpr int kRun = 64;
  const netc_model_info *info = s.info;
  std::int64_t inputSize = 1;
  for (int d = 0; d < info->input_rank; ++d)
    inputSize *= info->input_shape[d];
  const std::int64_t samples = std::int64_t(kRun) * s.batch;
  std::vector<std::uint8_t> pixels(static_cast<size_t>(samples * inputSize));
  std::vector<std::int32_t> runLabels(static_cast<size_t>(samples));
  std::mt19937 gen(s.seed);
  for (std::uint8_t &v : pixels)
    v = std::uint8_t(gen() & 255u);
  for (std::int32_t &v : runLabels)
    v = std::int32_t(gen() % std::uint32_t(info->classes));
  std::vector<float> table(256);
  for (int p = 0; p < 256; ++p)
    table[size_t(p)] = float(p) / 255.0f;
  std::vector<std::int64_t> order(static_cast<size_t>(samples));
  for (std::int64_t i = 0; i < samples; ++i)
    order[size_t(i)] = i;
  std::vector<std::uint64_t> seeds(kRun);
  std::vector<float> rates(kRun, float(info->train.learning_rate)), losses(kRun);
  std::vector<std::int32_t> corrects(kRun);
  if (s.api.setTrainData(s.netc.inst, pixels.data(), runLabels.data(), samples, table.data(),
                         1) != NETC_OK) {
    std::printf("error: netc_set_train_data failed: %s\n", s.api.lastError(s.netc.inst));
    return 1;
  }
  int status = NETC_OK;
  auto netcRun = [&] {
    for (std::uint64_t &v : seeds)
      v = netcSeed++;
    status |= s.api.trainSteps(s.netc.inst, order.data(), samples, seeds.data(), rates.data(),
                               losses.data(), corrects.data());
  };
  netcRun(); // captures the step graph
  std::vector<double> runRounds;
  for (int round = 0; round < 5; ++round)
    runRounds.push_back(timer.perCall(netcRun, 1) / kRun);
  if (status != NETC_OK) {
    std::printf("error: netc_train_steps failed while timed: %s\n", s.api.lastError(s.netc.inst));
    return 1;
  }
  const double tRun = median(runRounds);
  std::printf("| %s, netc_train_steps (%d steps a call, graph replay) | %d | %s | %s | %s | %s | "
              "%s |\n",
              info->network, kRun, s.batch, fmtUs(tRun).c_str(), fmtUs(tCudnn).c_str(),
              fmtImages(s.batch, tRun).c_str(), fmtImages(s.batch, tCudnn).c_str(),
              fmtRatio(tCudnn, tRun).c_str());
  return 0;
}

} // namespace

std::string checkModel(const char *library) {
  Api api{};
  const NetDef *def = nullptr;
  return matchModel(library, api, def);
}

int runCudaStep(const char *library, const CudaOptions &opt, const DeviceInfo &dev) {
  (void)dev;
  Api api{};
  const NetDef *def = nullptr;
  std::string why = matchModel(library, api, def);
  if (!why.empty()) {
    std::printf("error: '%s': %s\n", library, why.c_str());
    return 1;
  }
  const netc_model_info *info = api.model();
  const int batch = opt.stepBatch > 0 ? opt.stepBatch : info->train.batch > 0 ? info->train.batch : 128;
  // netc emits the hyper-parameters as float literals; the same floats here.
  const Adam adamSetup{float(info->train.learning_rate), float(info->train.beta1),
                       float(info->train.beta2), float(info->train.epsilon)};
  std::printf("\ntraining step: %s ('%s'), batch %d; Adam lr %g beta1 %g beta2 %g eps %g\n",
              library, info->network, batch, adamSetup.lr, adamSetup.beta1, adamSetup.beta2,
              adamSetup.eps);

  // The trainable parameters, in the library's order.
  std::vector<int> trainable;
  std::vector<std::vector<std::int64_t>> shapes;
  trainableParams(info, trainable, shapes);

  // netc's instance.
  Instance netc(api);
  char err[1024] = "";
  netc.inst = api.create(NETC_DEVICE_CUDA, batch, /*threads=*/1, err, sizeof err);
  if (!netc.inst) {
    std::printf("error: '%s': netc_create(NETC_DEVICE_CUDA) failed: %s\n", library, err);
    return 1;
  }

  Handles handles(opt.tf32);
  Workspace workspace;
  CudnnNet net(handles, workspace, *def, batch, adamSetup);
  why = net.build(shapes);
  if (!why.empty()) {
    std::printf("error: '%s' does not match the cuDNN network '%s': %s\n", library, def->name,
                why.c_str());
    return 1;
  }
  std::printf("cuDNN algorithms (searched at batch %d):\n%s", batch, net.describe().c_str());

  StepPair pair{api, info, *def, batch, adamSetup, std::move(trainable), netc, net, {}, {}};
  setSameWeightsAndBatch(pair);
  const bool agree = compareOneStep(pair, opt);

  // Both sides train on, each with its own run of dropout seeds.
  std::uint64_t netcSeed = pair.seed + 1;
  double tCudnn = 0;
  EventTimer timer;
  if (int rc = timeSteps(pair, opt, agree, timer, netcSeed, tCudnn))
    return rc;
  if (!agree)
    return 1;
  return timeRunsOfSteps(pair, timer, netcSeed, tCudnn);
}

} // namespace netc::bench::gpu
