//===- ModelCheckpoint.h - Checkpoints into and out of a model ---*- C++ -*-===//
//
// A checkpoint's parameters and optimizer slots against a loaded model: copy
// them out, check that they fit by name and shape, copy them in (all of them,
// or Keras' load-by-name for a partial set of weights).
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_MODELCHECKPOINT_H
#define NET_RUNTIME_MODELCHECKPOINT_H

#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/Model.h"

namespace netc::runtime {

/// Copies the instance's parameters, optimizer slots and step.
Checkpoint captureCheckpoint(const Instance &instance);

/// Checks every name and shape of `checkpoint` against the model, naming
/// the first mismatch, and its input normalisation when it records one (a
/// model recompiled with another mean or std would see other inputs than
/// the weights were trained on); `withState` also checks the optimizer
/// slots.
Status checkCompatible(const Checkpoint &checkpoint, const netc_model_info &info,
                       const std::string &path, bool withState);

/// Checks, then loads the parameters (and the optimizer slots and step when
/// `withState`) into the instance.
Status restoreCheckpoint(const Checkpoint &checkpoint, const Instance &instance,
                         const std::string &path, bool withState);

/// What loadParametersByName did.
struct LoadReport {
  int32_t loaded = 0;
  std::vector<std::string> notInCheckpoint; // the model's, left as initialised
  std::vector<std::string> frozenNotInCheckpoint; // of those, the frozen ones
  std::vector<std::string> notInModel;      // the checkpoint's, unused
};

/// Keras' load_weights(by_name=True): copies each parameter of the
/// checkpoint into the model's parameter of the same name; a name with
/// another shape fails, naming both shapes. Optimizer slots are not loaded.
Result<LoadReport> loadParametersByName(const Checkpoint &checkpoint, const Instance &instance,
                                        const std::string &path);

/// `loaded 12 of 14 parameters from base.ckpt; initialised from the seed:
/// dense_1.kernel, dense_1.bias`, with a warning line for frozen ones.
std::string formatLoadReport(const LoadReport &report, const std::string &path);

} // namespace netc::runtime

#endif // NET_RUNTIME_MODELCHECKPOINT_H
