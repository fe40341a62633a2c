//===- ImportNodes.cpp - ONNX nodes: dispatch, activations, glue ----------===//
//
// Each node goes to its converter by the row of net/ONNX/OpMapping.h that
// reads its op type; an op without a row is refused. The converters here are
// the ones without weights or windows: activations, softmax, the joins, the
// reshapes and the exporter glue (Constant, Identity, Pad) that imports as
// the values it passes on. ImportLayers.cpp has the others.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "net/Dialect/NetOps.h"

#include <cassert>

using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

namespace netc::onnx {

void Importer::importNode(const Node &node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    failNode(node, "op domain '" + node.domain() + "' is not supported");
    return;
  }
  const OpMapping *row = importedFrom(node.op_type());
  if (!row) {
    failNode(node, "op " + node.op_type() +
                       " is not supported (docs/onnx.md lists the ops that are)");
    return;
  }
  if (row == &kConstant)
    return constant(node);
  if (row == &kConv)
    return conv(node);
  if (row == &kMaxPool || row == &kAveragePool)
    return pool(node, /*isMax=*/row == &kMaxPool);
  if (row == &kBatchNormalization)
    return batchNorm(node);
  if (row == &kGemm)
    return gemm(node);
  if (row == &kMatMul)
    return matMul(node);
  if (row == &kAdd)
    return add(node);
  if (row == &kFlatten || row == &kReshape)
    return flattenLike(node);
  if (row == &kDropout)
    return dropout(node);
  if (row == &kPad)
    return pad(node);
  if (row == &kIdentity)
    return identity(node);
  if (row == &kShape)
    return shapeOf(node);
  if (row == &kGather)
    return gatherConstant(node);
  if (row == &kSqueeze && node.input_size() > 0 && tensors.count(node.input(0)))
    return squeezeSpatial(node);
  if (row == &kUnsqueeze || row == &kSqueeze)
    return reshapeConstant(node, /*unsqueeze=*/row == &kUnsqueeze);
  if (row == &kConcat)
    return concatConstants(node);
  if (row == &kMul)
    return mulConstants(node);
  if (row == &kCast)
    return castConstant(node);
  if (row == &kTranspose)
    return transposeConstant(node);
  if (row == &kRelu || row == &kSigmoid || row == &kTanh)
    return activation(node, *row);
  if (row == &kSoftmax)
    return softmax(node);
  if (row == &kLogSoftmax)
    return logSoftmax(node);
  if (row == &kReduceMean)
    return reduceMean(node);
  assert(row == &kGlobalAveragePool && "an OpMapping row without a converter");
  globalAvgPool(node);
}

/// Constant in its 'value' form: a constant under its output's name.
void Importer::constant(const Node &node) {
  const auto *value = attr(node, "value");
  if (!onlyAttributes(node, {"value"}) || !value || node.output_size() != 1) {
    if (!value)
      failNode(node, "only the 'value' form of Constant is supported");
    return;
  }
  Constant c;
  if (readConstant(value->t(), c, "constant"))
    constants[node.output(0)] = std::move(c);
}

/// PyTorch's exporter writes Identity over an initializer it deduplicated
/// (equal constants, such as the zero biases of an untrained model): the
/// output is that constant under the duplicate's own name. Over a computed
/// tensor it is that tensor.
void Importer::identity(const Node &node) {
  if (node.input_size() >= 1 && node.output_size() == 1 && !tensors.count(node.input(0)) &&
      constants.count(node.input(0))) {
    if (onlyAttributes(node, {}))
      constants[node.output(0)] = constants[node.input(0)];
    return;
  }
  if (const Tensor *x = input(node, 0))
    setOutput(node, *x);
}

/// Relu, Sigmoid, Tanh -> net.relu, net.sigmoid, net.tanh.
void Importer::activation(const Node &node, const OpMapping &row) {
  const Tensor *x = input(node, 0);
  if (!onlyAttributes(node, {}) || !x)
    return;
  mlir::Location loc = location(node);
  mlir::Value out;
  if (&row == &kRelu)
    out = builder.create<mlir::net::ReluOp>(loc, x->value.getType(), x->value);
  else if (&row == &kSigmoid)
    out = builder.create<mlir::net::SigmoidOp>(loc, x->value.getType(), x->value);
  else
    out = builder.create<mlir::net::TanhOp>(loc, x->value.getType(), x->value);
  setOutput(node, Tensor{out, x->shape});
}

/// The (N, classes) input of Softmax or LogSoftmax (`row`), over axis 1 or
/// -1 (the default before opset 13: 1; from 13: -1), or null (reported).
const Tensor *Importer::classesInput(const Node &node, const OpMapping &row) {
  StringRef axisName = row.fixed.onnx;
  const Tensor *x = input(node, 0, 2);
  auto axis = intAttr(node, axisName, opset >= 13 ? -1 : 1);
  if (!onlyAttributes(node, {axisName}) || !x || !axis)
    return nullptr;
  if (*axis != row.fixed.value && *axis != -1) {
    failNode(node, axisName + " = " + Twine(*axis).str() +
                       " is not supported (only the classes, 1)");
    return nullptr;
  }
  return x;
}

/// Softmax over the classes of (N, classes) -> net.softmax.
void Importer::softmax(const Node &node) {
  const Tensor *x = classesInput(node, kSoftmax);
  if (!x)
    return;
  mlir::Value out =
      builder.create<mlir::net::SoftmaxOp>(location(node), x->value.getType(), x->value);
  setOutput(node, Tensor{out, x->shape});
}

/// LogSoftmax over the classes of (N, classes), as the graph's output
/// (PyTorch's `F.log_softmax` before `nll_loss`): the model returns
/// probabilities, exp of it, which is the softmax of its input; the run
/// appends that softmax. Held as its input until then.
void Importer::logSoftmax(const Node &node) {
  const Tensor *x = classesInput(node, kLogSoftmax);
  if (!x)
    return;
  Tensor out = *x;
  out.logSoftmaxNode = nodeName(node);
  setOutput(node, out);
}

/// GlobalAveragePool -> net.global_avg_pool, whose [N, C] stands for ONNX's
/// (N, C, 1, 1) until a Flatten or Reshape takes it.
void Importer::globalAvgPool(const Node &node) {
  const Tensor *x = input(node, 0, 4);
  if (!onlyAttributes(node, {}) || !x)
    return;
  auto result = shapes::globalAvgPool(x->shape);
  mlir::Value out = builder.create<mlir::net::GlobalAvgPoolOp>(location(node),
                                                               type(result.shape), x->value);
  setOutput(node, Tensor{out, result.shape, /*unitDims=*/2});
}

/// ReduceMean over the spatial axes of (N, C, H, W) -> net.global_avg_pool:
/// (N, C) with keepdims 0, held as GlobalAveragePool's (N, C, 1, 1) with 1.
void Importer::reduceMean(const Node &node) {
  const Tensor *x = input(node, 0, 4);
  auto keep = intAttr(node, "keepdims", 1);
  auto axes = intsInputOrAttr(node, 1, "axes"); // an input from opset 18
  if (!onlyAttributes(node, {"axes", "keepdims", "noop_with_empty_axes"}) || !x || !keep ||
      !axes || !expectInt(node, "noop_with_empty_axes", 0, 0, "only the spatial axes [2, 3]"))
    return;
  std::vector<int64_t> spatial;
  for (int64_t a : *axes)
    spatial.push_back(a < 0 ? a + 4 : a);
  llvm::sort(spatial);
  if (spatial != std::vector<int64_t>{2, 3} || (*keep != 0 && *keep != 1)) {
    failNode(node, "axes = " + formatDims(*axes) + " is not supported (only the spatial "
                                                   "axes [2, 3], a global average pool)");
    return;
  }
  auto result = shapes::globalAvgPool(x->shape);
  mlir::Value out = builder.create<mlir::net::GlobalAvgPoolOp>(location(node),
                                                               type(result.shape), x->value);
  setOutput(node, Tensor{out, result.shape, /*unitDims=*/*keep ? 2 : 0});
}

/// Add of two computed tensors of one shape (a residual join) -> net.add;
/// of a computed tensor and a per-channel initializer -> net.bias_add.
void Importer::add(const Node &node) {
  if (node.input_size() != 2) {
    failNode(node, "expects two inputs");
    return;
  }
  if (!onlyAttributes(node, {}))
    return;
  int constIndex = constants.count(node.input(1)) ? 1 : constants.count(node.input(0)) ? 0 : -1;
  if (constIndex < 0) {
    const Tensor *lhs = input(node, 0), *rhs = input(node, 1);
    if (!lhs || !rhs)
      return;
    auto result = shapes::add(lhs->shape, rhs->shape);
    if (!result.ok()) {
      failNode(node, result.error + " (broadcasting is not supported)");
      return;
    }
    mlir::Value out = builder.create<mlir::net::AddOp>(location(node), type(result.shape),
                                                       lhs->value, rhs->value);
    setOutput(node, Tensor{out, result.shape});
    return;
  }
  const Tensor *x = input(node, 1 - constIndex);
  Constant *b = constantInput(node, constIndex, "bias");
  if (!x || !b)
    return;
  int64_t channels = x->shape[1];
  bool perChannel = x->shape.size() == 2
                        ? b->shape == std::vector<int64_t>{channels} ||
                              b->shape == std::vector<int64_t>{1, channels}
                        : b->shape == std::vector<int64_t>{channels, 1, 1} ||
                              b->shape == std::vector<int64_t>{1, channels, 1, 1};
  if (!b->isFloat || !perChannel) {
    failNode(node, "adds constant '" + node.input(constIndex) + "' of shape " +
                       formatDims(b->shape) + " to " + shapes::format(x->shape) +
                       "; only a per-channel bias is supported");
    return;
  }
  mlir::Value bias =
      param(node, node.input(constIndex), {channels}, b->floats, "zeros", /*frozen=*/false);
  mlir::Value out =
      builder.create<mlir::net::BiasAddOp>(location(node), x->value.getType(), x->value, bias);
  setOutput(node, Tensor{out, x->shape});
}

/// Flatten(axis = 1), or Reshape to [N, features] -> net.flatten (nothing
/// when the input is already [N, features]).
void Importer::flattenLike(const Node &node) {
  bool isReshape = node.op_type() == kReshape.onnx;
  const Tensor *x = input(node, 0, 0, /*allowPooled=*/true);
  if (!x)
    return;
  if (isReshape) {
    Constant *target = constantInput(node, 1, "shape");
    if (!onlyAttributes(node, {"allowzero"}) || !target)
      return;
    int64_t features = product(llvm::ArrayRef<int64_t>(x->shape).drop_front());
    const auto &t = target->ints;
    // Dim 0 keeps the batch: -1, 0 (copy), the batch a Shape gave, or a
    // number (the batch the file was exported with).
    bool toFeatures = t.size() == 2 && (t[0] == -1 || t[0] == 0 || t[0] == kBatchDim || t[0] > 0) &&
                      (t[1] == features || (t[1] == -1 && t[0] != -1));
    if (!toFeatures) {
      failNode(node, "reshapes " + shapes::format(x->shape) + " to " + formatDims(t) +
                         "; only a reshape to [N, " + Twine(features).str() +
                         "] (a flatten) is supported");
      return;
    }
  } else {
    StringRef axisName = kFlatten.fixed.onnx;
    if (!onlyAttributes(node, {axisName}) ||
        !expectInt(node, axisName, /*fallback=*/1, kFlatten.fixed.value,
                   "flatten keeps the batch, dim 0"))
      return;
  }
  if (x->shape.size() == 2) {
    setOutput(node, Tensor{x->value, x->shape});
    return;
  }
  auto result = shapes::flatten(x->shape);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  mlir::Value out =
      builder.create<mlir::net::FlattenOp>(location(node), type(result.shape), x->value);
  setOutput(node, Tensor{out, result.shape});
}

/// Squeeze of trailing dims of size 1 from (N, C, 1, 1), (N, C, 1) (PyTorch's
/// `x.squeeze(3).squeeze(2)` or `torch.squeeze(x, (2, 3))` after a global
/// pool): net holds such a value as [N, C] (a net.flatten of a 4-d value;
/// nothing after a global pool) with the ONNX dims still to drop counted.
/// Without axes, Squeeze would also drop a batch of 1, so it is refused.
void Importer::squeezeSpatial(const Node &node) {
  const Tensor *x = input(node, 0, 0, /*allowPooled=*/true);
  if (!x || !onlyAttributes(node, {"axes"}))
    return;
  auto axes = intsInputOrAttr(node, 1, "axes"); // an input from opset 13
  if (!axes)
    return;
  Shape onnxShape = x->shape;
  onnxShape.insert(onnxShape.end(), size_t(x->unitDims), 1);
  int64_t rank = int64_t(onnxShape.size());
  std::vector<int64_t> dropped;
  for (int64_t a : *axes)
    dropped.push_back(a < 0 ? a + rank : a);
  llvm::sort(dropped);
  // The dropped axes must be trailing dims of size 1 after (N, C); none
  // given means every dim of size 1.
  bool ok = !dropped.empty() && rank >= 3 && rank <= 4 &&
            std::adjacent_find(dropped.begin(), dropped.end()) == dropped.end() &&
            dropped.front() >= 2 && dropped.back() < rank;
  for (int64_t d = 2; ok && d < rank; ++d)
    ok = onnxShape[size_t(d)] == 1;
  if (!ok) {
    failNode(node, (axes->empty() ? std::string("no axes") : "axes = " + formatDims(*axes)) +
                       " of " +
                       formatDims(onnxShape) +
                       " is not supported (only the trailing 1s of (N, C, 1, 1), a flatten; "
                       "without axes a batch of 1 would be squeezed too)");
    return;
  }
  int unitDims = int(rank - 2) - int(dropped.size());
  if (x->shape.size() == 2) {
    setOutput(node, Tensor{x->value, x->shape, unitDims});
    return;
  }
  auto result = shapes::flatten(x->shape);
  mlir::Value out =
      builder.create<mlir::net::FlattenOp>(location(node), type(result.shape), x->value);
  setOutput(node, Tensor{out, result.shape, unitDims});
}

/// Dropout -> net.dropout with its ratio (attribute before opset 12, input
/// after); the mask output is not supported.
void Importer::dropout(const Node &node) {
  StringRef ratioName = kDropoutRate.onnx;
  const Tensor *x = input(node, 0);
  if (!x || !onlyAttributes(node, {ratioName, "seed"}))
    return;
  auto ratio = floatAttr(node, ratioName, 0.5f);
  if (!ratio)
    return;
  double rate = *ratio;
  if (node.input_size() > 1 && !node.input(1).empty()) {
    Constant *r = constantInput(node, 1, ratioName);
    if (!r)
      return;
    if (!r->isFloat || r->floats.size() != 1) {
      failNode(node, ratioName + " '" + node.input(1) + "' must be a float32 scalar");
      return;
    }
    rate = r->floats[0];
  }
  if (node.input_size() > 2 && !node.input(2).empty()) {
    Constant *mode = constantInput(node, 2, "training_mode");
    if (!mode)
      return;
    if (mode->ints.size() != 1 || mode->ints[0] != 0) {
      failNode(node, "training_mode must be false (dropout trains in the training step)");
      return;
    }
  }
  if (!(rate >= 0 && rate < 1)) {
    failNode(node, ratioName + " " + std::to_string(rate) + " must be in [0, 1)");
    return;
  }
  mlir::Value out = builder.create<mlir::net::DropoutOp>(
      location(node), x->value.getType(), x->value, builder.getF64FloatAttr(rate));
  setOutput(node, Tensor{out, x->shape});
}

/// Pad with all pads zero is glue (PyTorch writes one before AveragePool);
/// any real padding belongs to the next op and is not supported here.
void Importer::pad(const Node &node) {
  const Tensor *x = input(node, 0);
  if (!x || !onlyAttributes(node, {"mode", "pads", "value"}))
    return;
  auto padsGiven = intsInputOrAttr(node, 1, "pads");
  if (!padsGiven)
    return;
  const std::vector<int64_t> &pads = *padsGiven;
  if (llvm::any_of(pads, [](int64_t p) { return p != 0; })) {
    failNode(node, "pads = " + formatDims(pads) + " is not supported (only all zero); "
                                                  "padding belongs in the Conv or pool");
    return;
  }
  setOutput(node, Tensor{x->value, x->shape});
}

} // namespace netc::onnx
