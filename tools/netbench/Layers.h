//===- Layers.h - netbench's per-layer and training-step benchmarks -*- C++ -*-===//

#ifndef NETBENCH_LAYERS_H
#define NETBENCH_LAYERS_H

#include <vector>

namespace netc::bench {

struct Options {
  std::vector<int> batches = {1, 32, 128, 512};
  bool dnnl = true; // whether oneDNN is available (else its columns read '-')
  int threads = 2;
  bool resnet = false; // ResNet50's conv shapes instead of the MNIST models'
};

/// Prints the forward and backward tables; returns the exit code.
int runLayers(const Options &opt, double peakGflops);

/// Times netc_train_step of each model library at batch 128; prints images/s
/// (and the first over the second when there are two). Returns the exit code.
int runSteps(const char *const *libraries, int count, int threads);

} // namespace netc::bench

#endif // NETBENCH_LAYERS_H
