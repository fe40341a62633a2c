//===- Export.h - A trained model as an ONNX file ---------------*- C++ -*-===//
//
// `netrun export` writes the model's forward graph, as netc described it in
// the library (netc_model_info::graph, docs/abi.md), with the instance's
// parameters as initializers: an ONNX model of opset 13 that other tools
// (onnxruntime, netc itself) run to the same probabilities. The op mapping
// is net/ONNX/OpMapping.h, shared with the import; docs/onnx.md says why the
// export reads the library's description rather than the IR. Links no LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef NET_ONNX_EXPORT_H
#define NET_ONNX_EXPORT_H

#include "net/Runtime/Model.h"
#include "net/Runtime/Status.h"

#include <string>

namespace netc::onnx {

/// The opset the exported files declare.
constexpr int kExportOpset = 13;

/// Writes `instance`'s model and parameters to `path` (a temporary file
/// beside it, then a rename); refuses a library without a graph.
runtime::Status exportModel(const runtime::Instance &instance, const std::string &path);

} // namespace netc::onnx

#endif // NET_ONNX_EXPORT_H
