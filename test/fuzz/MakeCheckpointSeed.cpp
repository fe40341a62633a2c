//===- MakeCheckpointSeed.cpp - Writes fuzz-checkpoint's seed -------------===//
//
// `fuzz-make-checkpoint-seed DIR` writes DIR/tiny.ckpt with the project's own
// writer: two tiny tensors, an optimizer slot and every scalar set, so the
// seed covers each field readCheckpoint decodes. Its output is committed in
// corpus/fuzz-checkpoint/; rerun it when checkpoint.proto changes.
//
//===----------------------------------------------------------------------===//
#include "net/Runtime/Checkpoint.h"

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz-make-checkpoint-seed DIR\n");
    return 2;
  }
  netc::runtime::Checkpoint c;
  c.network = "tiny";
  c.compiler = "netc fuzz seed";
  c.params.push_back({"conv1.weight", {1, 1, 2, 2}, {0.5f, -0.25f, 1.0f, 0.0f}});
  c.params.push_back({"conv1.bias", {1}, {0.125f}});
  c.state.push_back({"conv1.weight.m", {1, 1, 2, 2}, {0.0f, 0.0f, 0.0f, 0.0f}});
  c.step = 3;
  c.epoch = 1;
  c.rngState = {1, 2, 3, 4};
  c.run.seed = 42;
  c.run.batch = 2;
  c.run.epochs = 2;
  c.run.learningRate = 0.01;
  c.run.threads = 1;
  c.run.data = "mnist";
  c.run.device = "cpu";
  c.bestValAccuracy = 0.5;
  c.bestEpoch = 1;
  std::string path = std::string(argv[1]) + "/tiny.ckpt";
  if (netc::runtime::Status s = netc::runtime::writeCheckpoint(path, c); !s) {
    std::fprintf(stderr, "%s\n", s.error().c_str());
    return 1;
  }
  return 0;
}
