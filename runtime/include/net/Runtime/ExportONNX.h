//===- ExportONNX.h - A trained model as an ONNX file ------------*- C++ -*-===//
//
// `netrun export` writes the model's forward graph, as netc described it in
// the library (netc_model_info::graph, docs/abi.md), with the instance's
// parameters as initializers: an ONNX model of opset 13 that other tools
// (onnxruntime, netc itself) run to the same probabilities. docs/onnx.md
// lists the mapping.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_EXPORTONNX_H
#define NET_RUNTIME_EXPORTONNX_H

#include "net/Runtime/Model.h"
#include "net/Runtime/Status.h"

#include <string>

namespace net::runtime {

/// The opset the exported files declare.
constexpr int kOnnxOpset = 13;

/// Writes `instance`'s model and parameters to `path` (a temporary file
/// beside it, then a rename); refuses a library without a graph.
Status exportOnnx(const Instance &instance, const std::string &path);

} // namespace net::runtime

#endif // NET_RUNTIME_EXPORTONNX_H
