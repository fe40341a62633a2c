//===- Step.cpp - a whole compiled training step, through the model ABI ----===//
//
// dlopens a model library (netc's output), creates an instance at batch 128
// with the given threads, fills every trainable parameter with small random
// values (uniform +-0.05; optimizer slots stay zero), and times
// netc_train_step on random images with valid labels: a few warm-up steps,
// then the median step over >= 2 s.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Layers.h"

#include "net/Runtime/ModelABI.h"

#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <string>

namespace netc::bench {
namespace {

constexpr int kBatch = 128;

struct Api {
  decltype(&netc_model) model;
  decltype(&netc_create) create;
  decltype(&netc_destroy) destroy;
  decltype(&netc_param_data) paramData;
  decltype(&netc_train_step) trainStep;
  decltype(&netc_last_error) lastError;
};

/// One loaded model library with an instance and a batch of random data.
struct Model {
  const char *path = nullptr;
  Api api{};
  const netc_model_info *info = nullptr;
  netc_instance *inst = nullptr;
  Buffer images;
  std::vector<int32_t> labels;
  uint64_t seed = 1;
  float loss = 0;
  int status = 0;
  std::vector<double> steps; // seconds of each timed step

  void step() {
    int32_t correct = 0;
    status |= api.trainStep(inst, images.data(), labels.data(), kBatch, seed++, &loss, &correct);
  }
  ~Model() {
    if (inst)
      api.destroy(inst);
    // The library stays loaded: its OpenMP worker threads may still reference it.
  }
};

/// Loads `path` into m; prints why not and returns false on failure.
bool load(const char *path, int threads, Model &m) {
  m.path = path;
  // dlopen searches the library path for a name without a slash.
  const std::string file = std::strchr(path, '/') ? path : "./" + std::string(path);
  void *lib = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::printf("error: cannot load '%s': %s\n", path, dlerror());
    return false;
  }
  bool ok = true;
  auto sym = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    ok = ok && fn;
  };
  sym(m.api.model, "netc_model");
  sym(m.api.create, "netc_create");
  sym(m.api.destroy, "netc_destroy");
  sym(m.api.paramData, "netc_param_data");
  sym(m.api.trainStep, "netc_train_step");
  sym(m.api.lastError, "netc_last_error");
  if (!ok) {
    std::printf("error: '%s' does not export the netc model ABI\n", path);
    return false;
  }
  m.info = m.api.model();
  if (m.info->magic != NETC_MAGIC || m.info->abi_version != NETC_ABI_VERSION) {
    std::printf("error: '%s' has ABI version %u, expected %u\n", path, m.info->abi_version,
                NETC_ABI_VERSION);
    return false;
  }
  char err[512] = "";
  m.inst = m.api.create(NETC_DEVICE_CPU, kBatch, threads, err, sizeof err);
  if (!m.inst) {
    std::printf("error: cannot create an instance of '%s': %s\n", path, err);
    return false;
  }
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> small(-0.05f, 0.05f);
  for (int p = 0; p < m.info->num_params; ++p) {
    if (!m.info->params[p].trainable)
      continue;
    float *d = m.api.paramData(m.inst, p);
    for (int64_t i = 0; i < m.info->params[p].size; ++i)
      d[i] = small(rng);
  }
  std::size_t perImage = 1;
  for (int d = 0; d < m.info->input_rank; ++d)
    perImage *= std::size_t(m.info->input_shape[d]);
  m.images = Buffer(perImage * kBatch);
  fillUniform(m.images, 0.f, 1.f, 11);
  m.labels.resize(kBatch);
  for (int32_t &l : m.labels)
    l = int32_t(rng() % uint64_t(m.info->classes));
  return true;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

} // namespace

int runSteps(const char *const *libraries, int count, int threads) {
  std::vector<std::unique_ptr<Model>> models;
  for (int i = 0; i < count; ++i) {
    models.push_back(std::make_unique<Model>());
    if (!load(libraries[i], threads, *models.back()))
      return 1;
  }
  std::printf("\ntraining step (load %.2f): batch %d, %d threads, steps of the libraries "
              "interleaved in blocks of >= 0.1 s, median step over >= 2 s each\n",
              loadAverage(), kBatch, threads);
  for (auto &m : models)
    for (int i = 0; i < 3; ++i)
      m->step();
  // Interleaved, so a change in the machine's load falls on every library;
  // rounds of >= 2 s each, repeated (up to 5) until one ran while other
  // processes took < 10% of a core. The last round's steps are reported.
  // Each library runs a block of >= 0.1 s at a time, its first step not
  // counted: the threads of the library before it may still be spinning on
  // the cores for a while (the kernels' team 0.2 ms, libgomp's about 5 ms).
  for (int round = 0; round < 5; ++round) {
    for (auto &m : models)
      m->steps.clear();
    const CpuSnapshot c0 = cpuSnapshot();
    const auto w0 = Clock::now();
    for (double total = 0; total < 2.0 || models[0]->steps.size() < 5;) {
      for (std::size_t k = 0; k < models.size(); ++k) {
        Model &m = *models[k];
        m.step();
        for (double block = 0; block < 0.1;) {
          auto t0 = Clock::now();
          m.step();
          m.steps.push_back(seconds(t0, Clock::now()));
          block += m.steps.back();
          if (k == 0)
            total += m.steps.back();
        }
      }
    }
    const double others = othersCores(c0, cpuSnapshot(), seconds(w0, Clock::now()));
    std::printf("round %d: other processes used %.2f cores; median ms/step:", round + 1, others);
    for (auto &m : models)
      std::printf(" %.2f", median(m->steps) * 1e3);
    std::printf("%s\n", others < 0.1 ? "" : " (shared: again)");
    if (others < 0.1)
      break;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::vector<double> rates;
  for (auto &m : models) {
    if (m->status != 0) {
      std::printf("error: netc_train_step failed on '%s': %s\n", m->path,
                  m->api.lastError(m->inst));
      return 1;
    }
    const double s = median(m->steps);
    rates.push_back(kBatch / s);
    std::printf("%-28s %-10s %8.2f ms/step  %8.0f images/s  (%zu steps, loss %.4f)\n", m->path,
                m->info->network, s * 1e3, kBatch / s, m->steps.size(), m->loss);
  }
  if (count == 2)
    std::printf("training step: %s / %s = %.2fx images/s\n", libraries[0], libraries[1],
                rates[0] / rates[1]);
  std::printf("(load %.2f)\n", loadAverage());
  return 0;
}

} // namespace netc::bench
