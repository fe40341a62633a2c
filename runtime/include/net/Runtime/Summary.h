//===- Summary.h - The layer table of `netrun info` ---------------*- C++ -*-===//
#ifndef NET_RUNTIME_SUMMARY_H
#define NET_RUNTIME_SUMMARY_H

#include "net/Runtime/ModelABI.h"

#include <string>

namespace netc::runtime {

/// The model as Keras' summary() prints it: one row per layer (name and
/// kind, output shape with None for the batch, parameters, FLOPs), then the
/// totals, trainable and non-trainable parameters, FLOPs per image, the
/// input, classes, training set-up and compiled devices.
std::string formatSummary(const netc_model_info &info, const std::string &path);

} // namespace netc::runtime

#endif // NET_RUNTIME_SUMMARY_H
