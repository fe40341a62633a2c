//===- ImportLayers.cpp - ONNX layers with weights or windows -------------===//
//
// Conv, MaxPool and AveragePool, BatchNormalization, Gemm and MatMul: the
// nodes whose weights become parameters or whose windows become a net op's
// kernel, strides and pads.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "net/Dialect/NetOps.h"

using llvm::StringRef;
using llvm::Twine;
namespace shapes = mlir::net::shapes;
using shapes::Shape;

namespace netc::onnx {
namespace {

/// Transposes a row-major [rows, cols] matrix.
std::vector<float> transposed(const std::vector<float> &m, int64_t rows, int64_t cols) {
  std::vector<float> out(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[size_t(c * rows + r)] = m[size_t(r * cols + c)];
  return out;
}

} // namespace

/// Conv(X, W[F, C, KH, KW], B[F]?) -> net.conv2d (+ net.bias_add).
void Importer::conv(const Node &node) {
  const Tensor *x = input(node, 0, 4);
  Constant *w = constantInput(node, 1, "weight");
  Constant *b = node.input_size() > 2 && !node.input(2).empty()
                    ? constantInput(node, 2, "bias")
                    : nullptr;
  bool ok = onlyAttributes(node, {"auto_pad", "dilations", "group", kConvKernelShape,
                                  kPads.onnx, kStrides.onnx});
  ok &= expectInt(node, "group", 1, 1, "grouped and depthwise convolutions are not");
  ok &= expectOnes(node, "dilations");
  if (!ok || !x || !w || (node.input_size() > 2 && !node.input(2).empty() && !b))
    return;
  if (!w->isFloat || w->shape.size() != 4) {
    failNode(node, "weight '" + node.input(1) + "' must be a float32 [F, C, KH, KW], got " +
                       formatDims(w->shape));
    return;
  }
  std::vector<int64_t> kernel{w->shape[2], w->shape[3]};
  auto kernelShape = intsAttr(node, kConvKernelShape, kernel);
  auto strides = intsAttr(node, kStrides.onnx, {1, 1});
  if (!kernelShape || !strides)
    return;
  if (*kernelShape != kernel) {
    failNode(node, StringRef(kConvKernelShape) + " = " + formatDims(*kernelShape) +
                       " disagrees with weight '" +
                       node.input(1) + "' " + formatDims(w->shape));
    return;
  }
  if (strides->size() != 2 || (*strides)[0] < 1 || (*strides)[1] < 1) {
    failNode(node, StringRef(kStrides.onnx) + " = " + formatDims(*strides) +
                       " must be 2 positive values");
    return;
  }
  auto pads = windowPads(node, x->shape, kernel, *strides);
  if (!pads)
    return;
  auto result = shapes::conv2d(x->shape, w->shape, *strides, *pads);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  if (b && (!b->isFloat || b->shape != std::vector<int64_t>{w->shape[0]})) {
    failNode(node, "bias '" + node.input(2) + "' has shape " + formatDims(b->shape) +
                       ", expected " + formatDims({w->shape[0]}));
    return;
  }
  mlir::Location loc = location(node);
  mlir::Value weight = param(node, node.input(1), w->shape, w->floats, "glorot_uniform",
                             /*frozen=*/false);
  mlir::Value out = builder.create<mlir::net::Conv2dOp>(
      loc, type(result.shape), x->value, weight, builder.getDenseI64ArrayAttr(*strides),
      builder.getDenseI64ArrayAttr(*pads));
  if (b) {
    mlir::Value bias = param(node, node.input(2), b->shape, b->floats, "zeros", false);
    out = builder.create<mlir::net::BiasAddOp>(loc, out.getType(), out, bias);
  }
  setOutput(node, Tensor{out, result.shape});
}

/// ceil_mode 1 rounds the output size up: the windows that then overhang
/// the bottom and right take only the elements they cover, which is net's
/// pooling over that much more padding (padding is left out of a max and of
/// a mean). As PyTorch (whose exporter writes it), a last window that would
/// start in the padding after the input is dropped.
static void addCeilModePads(llvm::ArrayRef<int64_t> in, llvm::ArrayRef<int64_t> kernel,
                            llvm::ArrayRef<int64_t> strides, std::array<int64_t, 4> &pads) {
  for (int d = 0; d < 2; ++d) {
    int64_t size = in[2 + d] + pads[d] + pads[2 + d];
    if (size < kernel[d])
      continue; // no window fits; pool2d's shape check says so
    int64_t out = (size - kernel[d] + strides[d] - 1) / strides[d] + 1;
    if ((out - 1) * strides[d] >= in[2 + d] + pads[d])
      --out;
    pads[2 + d] += std::max<int64_t>(0, (out - 1) * strides[d] + kernel[d] - size);
  }
}

void Importer::pool(const Node &node, bool isMax) {
  const Tensor *x = input(node, 0, 4);
  StringRef countIncludePad = kAveragePool.fixed.onnx;
  bool ok = isMax ? onlyAttributes(node, {"auto_pad", "ceil_mode", "dilations", kPoolKernel.onnx,
                                          kPads.onnx, "storage_order", kStrides.onnx})
                  : onlyAttributes(node, {"auto_pad", "ceil_mode", countIncludePad,
                                          kPoolKernel.onnx, kPads.onnx, kStrides.onnx});
  auto ceilMode = intAttr(node, "ceil_mode", 0);
  if (ceilMode && *ceilMode != 0 && *ceilMode != 1) {
    failNode(node, "ceil_mode = " + Twine(*ceilMode).str() + " must be 0 or 1");
    ok = false;
  }
  ok &= bool(ceilMode);
  if (isMax) {
    ok &= expectOnes(node, "dilations");
    ok &= expectInt(node, "storage_order", 0, 0, "row-major only");
  }
  auto kernel = intsAttr(node, kPoolKernel.onnx, {});
  auto strides = intsAttr(node, kStrides.onnx, {1, 1});
  if (!ok || !x || !kernel || !strides)
    return;
  if (kernel->size() != 2 || strides->size() != 2 || llvm::is_contained(*kernel, 0) ||
      (*strides)[0] < 1 || (*strides)[1] < 1) {
    failNode(node, "expects 2-d kernel_shape and strides, got " + formatDims(*kernel) +
                       " and " + formatDims(*strides));
    return;
  }
  auto pads = windowPads(node, x->shape, *kernel, *strides);
  if (!pads)
    return;
  if (!isMax) {
    // net.avg_pool2d divides by the real elements under the window, as
    // count_include_pad = 0; with no padding the two agree.
    auto include = intAttr(node, countIncludePad, 0);
    if (!include)
      return;
    if (*include && llvm::any_of(*pads, [](int64_t p) { return p != 0; })) {
      failNode(node, countIncludePad + " = 1 with padding is not supported (the padding "
                                       "is left out of the mean)");
      return;
    }
  }
  if (*ceilMode)
    addCeilModePads(x->shape, *kernel, *strides, *pads);
  StringRef opName = isMax ? kMaxPool.net : kAveragePool.net;
  auto result = shapes::pool2d(x->shape, *kernel, *strides, *pads, opName);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  auto kernelAttr = builder.getDenseI64ArrayAttr(*kernel);
  auto stridesAttr = builder.getDenseI64ArrayAttr(*strides);
  auto padsAttr = builder.getDenseI64ArrayAttr(*pads);
  mlir::Location loc = location(node);
  mlir::Value out =
      isMax ? builder.create<mlir::net::MaxPool2dOp>(loc, type(result.shape), x->value,
                                                     kernelAttr, stridesAttr, padsAttr)
                  .getResult()
            : builder.create<mlir::net::AvgPool2dOp>(loc, type(result.shape), x->value,
                                                     kernelAttr, stridesAttr, padsAttr)
                  .getResult();
  setOutput(node, Tensor{out, result.shape});
}

/// BatchNormalization in inference form. Its parameters are frozen, so it
/// keeps running on the exported running statistics (docs/onnx.md).
void Importer::batchNorm(const Node &node) {
  const Tensor *x = input(node, 0);
  const char *roles[] = {"scale", "bias", "mean", "variance"};
  Constant *c[4];
  bool ok = onlyAttributes(node, {kEpsilon.onnx, kMomentum.onnx, "training_mode", "spatial"});
  ok &= expectInt(node, "training_mode", 0, 0, "only inference form");
  ok &= expectInt(node, "spatial", 1, 1, "per-channel statistics only");
  for (int i = 0; i < 4; ++i)
    ok &= (c[i] = constantInput(node, i + 1, roles[i])) != nullptr;
  auto epsilon = floatAttr(node, kEpsilon.onnx, 1e-5f);
  auto momentum = floatAttr(node, kMomentum.onnx, 0.9f);
  if (!ok || !x || !epsilon || !momentum)
    return;
  if (x->shape.size() != 2 && x->shape.size() != 4) {
    failNode(node, "expects a 2-d or 4-d input, got " + shapes::format(x->shape));
    return;
  }
  Shape channel{x->shape[1]};
  for (int i = 0; i < 4; ++i)
    if (!c[i]->isFloat || llvm::ArrayRef<int64_t>(c[i]->shape) != llvm::ArrayRef<int64_t>(channel)) {
      failNode(node, Twine(roles[i]) + " '" + node.input(i + 1) + "' has shape " +
                         formatDims(c[i]->shape) + ", expected " + formatDims(channel));
      return;
    }
  if (!(*epsilon > 0) || !(*momentum >= 0 && *momentum < 1)) {
    failNode(node, "expects epsilon > 0 and momentum in [0, 1)");
    return;
  }
  const char *inits[] = {"ones", "zeros", "zeros", "ones"};
  mlir::Value p[4];
  for (int i = 0; i < 4; ++i)
    p[i] = param(node, node.input(i + 1), channel, c[i]->floats, inits[i], /*frozen=*/true);
  // ONNX's momentum is the weight of the running value, as Keras' and net's.
  mlir::Value out = builder.create<mlir::net::BatchNormOp>(
      location(node), x->value.getType(), x->value, p[0], p[1], p[2], p[3],
      builder.getF64FloatAttr(*epsilon), builder.getF64FloatAttr(*momentum));
  setOutput(node, Tensor{out, x->shape});
}

/// Gemm(A[N, K], B, C?) with alpha = beta = 1 and transA = 0 -> net.dense
/// (+ net.bias_add). transB = 1 is net's [out, in] layout; transB = 0 is
/// stored transposed.
void Importer::gemm(const Node &node) {
  const Tensor *a = input(node, 0, 2);
  Constant *b = constantInput(node, 1, "weight");
  bool hasC = node.input_size() > 2 && !node.input(2).empty();
  Constant *c = hasC ? constantInput(node, 2, "bias") : nullptr;
  StringRef transBName = kGemm.fixed.onnx;
  bool ok = onlyAttributes(node, {"alpha", "beta", "transA", transBName});
  ok &= expectInt(node, "transA", 0, 0, "the input is [N, K]");
  auto alpha = floatAttr(node, "alpha", 1), beta = floatAttr(node, "beta", 1);
  auto transB = intAttr(node, transBName, 0);
  if (!ok || !a || !b || (hasC && !c) || !alpha || !beta || !transB)
    return;
  if (*alpha != 1 || (hasC && *beta != 1)) {
    failNode(node, "alpha and beta other than 1 are not supported");
    return;
  }
  if (!b->isFloat || b->shape.size() != 2) {
    failNode(node, "weight '" + node.input(1) + "' must be a float32 matrix, got " +
                       formatDims(b->shape));
    return;
  }
  std::vector<int64_t> shape = b->shape;
  std::vector<float> data = b->floats;
  if (!*transB) {
    data = transposed(data, shape[0], shape[1]);
    std::swap(shape[0], shape[1]);
  }
  auto result = shapes::dense(a->shape, shape);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  int64_t m = shape[0];
  if (c && (!c->isFloat || !(c->shape == std::vector<int64_t>{m} ||
                             c->shape == std::vector<int64_t>{1, m}))) {
    failNode(node, "bias '" + node.input(2) + "' has shape " + formatDims(c->shape) +
                       ", expected " + formatDims({m}));
    return;
  }
  mlir::Location loc = location(node);
  mlir::Value w = param(node, node.input(1), shape, std::move(data), "glorot_uniform", false);
  mlir::Value out =
      builder.create<mlir::net::DenseOp>(loc, type(result.shape), a->value, w);
  if (c) {
    mlir::Value bias = param(node, node.input(2), {m}, c->floats, "zeros", false);
    out = builder.create<mlir::net::BiasAddOp>(loc, out.getType(), out, bias);
  }
  setOutput(node, Tensor{out, result.shape});
}

/// MatMul(A[N, K], B[K, M]) -> net.dense with B stored transposed; a bias
/// comes as the Add after it.
void Importer::matMul(const Node &node) {
  const Tensor *a = input(node, 0, 2);
  Constant *b = constantInput(node, 1, "weight");
  if (!onlyAttributes(node, {}) || !a || !b)
    return;
  if (!b->isFloat || b->shape.size() != 2) {
    failNode(node, "weight '" + node.input(1) + "' must be a float32 matrix [K, M], got " +
                       formatDims(b->shape));
    return;
  }
  std::vector<int64_t> shape{b->shape[1], b->shape[0]};
  auto result = shapes::dense(a->shape, shape);
  if (!result.ok()) {
    failNode(node, result.error);
    return;
  }
  mlir::Value w = param(node, node.input(1), shape,
                        transposed(b->floats, b->shape[0], b->shape[1]), "glorot_uniform",
                        false);
  mlir::Value out =
      builder.create<mlir::net::DenseOp>(location(node), type(result.shape), a->value, w);
  setOutput(node, Tensor{out, result.shape});
}


} // namespace netc::onnx
