//===- OpMapping.h - net ops and the ONNX ops they map to -------*- C++ -*-===//
//
// One table for both directions: netc's importer reads an ONNX op as the net
// op of its row, netrun's exporter writes a net op as the ONNX op of its
// exported row, and both name the attributes they exchange by one pair: net's
// name (as the IR and the library's graph text carry it, docs/abi.md) and
// ONNX's. What a direction checks beyond the names (the values it accepts,
// the ONNX attributes net has no counterpart for) stays with that direction;
// docs/onnx.md lists the conditions. Plain C++, as the exporter links no LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef NET_ONNX_OPMAPPING_H
#define NET_ONNX_OPMAPPING_H

#include <array>
#include <cstdint>
#include <string_view>

namespace netc::onnx {

/// How an exchanged attribute's value is written in ONNX.
enum class AttributeKind { Ints, Float };

/// An attribute both sides have, under net's name and ONNX's.
struct AttributeMapping {
  std::string_view net;
  std::string_view onnx;
  AttributeKind kind = AttributeKind::Ints;
};

inline constexpr AttributeMapping kStrides{"strides", "strides", AttributeKind::Ints};
/// [top, left, bottom, right] on both sides.
inline constexpr AttributeMapping kPads{"pads", "pads", AttributeKind::Ints};
inline constexpr AttributeMapping kPoolKernel{"kernel", "kernel_shape", AttributeKind::Ints};
inline constexpr AttributeMapping kEpsilon{"epsilon", "epsilon", AttributeKind::Float};
/// The weight of the running value in ONNX, Keras and net alike.
inline constexpr AttributeMapping kMomentum{"momentum", "momentum", AttributeKind::Float};
/// An attribute before opset 12, an input (named so) from opset 12 on.
inline constexpr AttributeMapping kDropoutRate{"rate", "ratio", AttributeKind::Float};

/// Conv's window, which net reads from the weight's shape [F, C, KH, KW].
inline constexpr std::string_view kConvKernelShape = "kernel_shape";

/// An ONNX attribute that net's op implies with one value: the exporter
/// writes that value; the importer reads the attribute under this name and
/// says which values it accepts.
struct FixedAttribute {
  std::string_view onnx; // empty: none
  int64_t value = 0;
};

struct OpMapping {
  /// The net op's mnemonic without `net.`, as the graph text names it; empty
  /// for exporter glue that the importer drops.
  std::string_view net;
  /// The ONNX op type.
  std::string_view onnx;
  /// Whether the exporter writes `net` as this op (a net op has one such row;
  /// the other rows of a net op are ONNX forms the importer also reads).
  bool exported = false;
  /// The net op's operands in the graph text, which the exporter checks: a
  /// description with more or fewer is malformed.
  int operands = 0;
  /// The exchanged attributes, in the order the exporter writes them; unused
  /// entries have empty names.
  std::array<AttributeMapping, 3> attributes{};
  FixedAttribute fixed{};
};

inline constexpr OpMapping kConv{"conv2d", "Conv", true, 2, {kStrides, kPads}};
inline constexpr OpMapping kMaxPool{"max_pool2d", "MaxPool", true, 1,
                                    {kPoolKernel, kStrides, kPads}};
/// net divides by the real elements under the window, as count_include_pad 0.
inline constexpr OpMapping kAveragePool{"avg_pool2d", "AveragePool", true, 1,
                                        {kPoolKernel, kStrides, kPads},
                                        {"count_include_pad", 0}};
/// Inference form: the scale, bias, mean and variance are inputs 2 to 5.
inline constexpr OpMapping kBatchNormalization{"batch_norm", "BatchNormalization", true, 5,
                                               {kEpsilon, kMomentum}};
/// net's dense weight is [out, in], ONNX's B transposed.
inline constexpr OpMapping kGemm{"dense", "Gemm", true, 2, {}, {"transB", 1}};
/// B [K, M], stored transposed; its bias comes as the Add after it.
inline constexpr OpMapping kMatMul{"dense", "MatMul", false, 2};
/// Of two computed tensors of one shape (a residual join).
inline constexpr OpMapping kAdd{"add", "Add", true, 2};
/// Of a computed tensor and a per-channel initializer. A bias_add right after
/// the conv2d or dense it belongs to is exported as that node's bias input.
inline constexpr OpMapping kBiasAdd{"bias_add", "Add", true, 2};
inline constexpr OpMapping kRelu{"relu", "Relu", true, 1};
inline constexpr OpMapping kSigmoid{"sigmoid", "Sigmoid", true, 1};
inline constexpr OpMapping kTanh{"tanh", "Tanh", true, 1};
inline constexpr OpMapping kSoftmax{"softmax", "Softmax", true, 1, {}, {"axis", 1}};
/// Only over the spatial axes, 2 and 3 (PyTorch's `x.mean((2, 3))`).
inline constexpr OpMapping kReduceMean{"global_avg_pool", "ReduceMean", false, 1};
/// Only as the graph's output: the model returns its exponent, the softmax.
inline constexpr OpMapping kLogSoftmax{"softmax", "LogSoftmax", false, 1, {}, {"axis", 1}};
/// ONNX keeps the (N, C, 1, 1) that net's (N, C) drops: a Flatten follows it.
inline constexpr OpMapping kGlobalAveragePool{"global_avg_pool", "GlobalAveragePool", true, 1};
inline constexpr OpMapping kFlatten{"flatten", "Flatten", true, 1, {}, {"axis", 1}};
/// Only to [N, features].
inline constexpr OpMapping kReshape{"flatten", "Reshape", false, 1};
/// The mask output is not exchanged.
inline constexpr OpMapping kDropout{"dropout", "Dropout", true, 1, {kDropoutRate}};
// Exporter glue the importer reads as the values it passes on.
inline constexpr OpMapping kConstant{"", "Constant", false, 0};
inline constexpr OpMapping kIdentity{"", "Identity", false, 0};
/// Only with all pads zero.
inline constexpr OpMapping kPad{"", "Pad", false, 0};
// Evaluated at import on constants (shape arithmetic, a weight's Transpose).
inline constexpr OpMapping kShape{"", "Shape", false, 0};
inline constexpr OpMapping kGather{"", "Gather", false, 0};
inline constexpr OpMapping kUnsqueeze{"", "Unsqueeze", false, 0};
inline constexpr OpMapping kSqueeze{"", "Squeeze", false, 0};
inline constexpr OpMapping kConcat{"", "Concat", false, 0};
inline constexpr OpMapping kMul{"", "Mul", false, 0};
inline constexpr OpMapping kCast{"", "Cast", false, 0};
inline constexpr OpMapping kTranspose{"", "Transpose", false, 0};

/// Every row: the ONNX ops netc imports and the net ops netrun exports.
inline constexpr const OpMapping *kOpMappings[] = {
    &kConv,    &kMaxPool,  &kAveragePool,       &kBatchNormalization,
    &kGemm,    &kMatMul,   &kAdd,               &kBiasAdd,
    &kRelu,    &kSigmoid,  &kTanh,              &kSoftmax,          &kLogSoftmax,
    &kFlatten, &kReshape,  &kGlobalAveragePool, &kReduceMean,        &kDropout,
    &kConstant, &kIdentity,  &kPad,     &kShape,   &kGather,  &kUnsqueeze,
    &kSqueeze,  &kConcat,    &kMul,     &kCast,    &kTranspose};

/// The first row that reads ONNX op `onnxOp` (for Add, add's: the converter
/// makes a bias_add when one operand is an initializer), or null when netc
/// does not import it.
constexpr const OpMapping *importedFrom(std::string_view onnxOp) {
  for (const OpMapping *row : kOpMappings)
    if (row->onnx == onnxOp)
      return row;
  return nullptr;
}

/// The row the exporter writes net op `netOp` as, or null when it has none.
constexpr const OpMapping *exportedAs(std::string_view netOp) {
  for (const OpMapping *row : kOpMappings)
    if (row->exported && row->net == netOp)
      return row;
  return nullptr;
}

} // namespace netc::onnx

#endif // NET_ONNX_OPMAPPING_H
