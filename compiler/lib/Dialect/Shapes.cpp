//===- Shapes.cpp - shape functions of the net ops ------------------------===//

#include "net/Dialect/Shapes.h"

#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir::net::shapes;
using llvm::ArrayRef;
using llvm::StringRef;

namespace {

bool isDynamic(int64_t dim) { return mlir::ShapedType::isDynamic(dim); }

ShapeResult makeError(const llvm::Twine &message) {
  ShapeResult result;
  result.error = message.str();
  return result;
}

ShapeResult makeShape(Shape shape) {
  ShapeResult result;
  result.shape = std::move(shape);
  return result;
}

/// "[1, 2, 3]", for attribute values in messages.
std::string list(ArrayRef<int64_t> values) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '[';
  llvm::interleaveComma(values, os);
  os << ']';
  return text;
}

/// Checks a data tensor: a batch that is dynamic or positive, then static
/// positive dims. Returns an error message or "".
std::string checkData(StringRef opName, StringRef what, ArrayRef<int64_t> shape) {
  for (auto [index, dim] : llvm::enumerate(shape)) {
    if (index == 0 && isDynamic(dim))
      continue;
    if (isDynamic(dim))
      return (opName + " expects static dims after the batch in its " + what +
              ", got " + format(shape))
          .str();
    if (dim <= 0)
      return (opName + " expects positive dims in its " + what + ", got " +
              format(shape))
          .str();
  }
  return "";
}

/// Checks a parameter tensor (weight, bias, ...): every dim static, positive.
std::string checkParam(StringRef opName, StringRef what, ArrayRef<int64_t> shape) {
  for (int64_t dim : shape)
    if (isDynamic(dim) || dim <= 0)
      return (opName + " expects a static shape with positive dims for its " +
              what + ", got " + format(shape))
          .str();
  return "";
}

/// Checks the window attributes shared by conv2d and pooling.
std::string checkWindow(StringRef opName, ArrayRef<int64_t> strides,
                        ArrayRef<int64_t> pads) {
  if (strides.size() != 2)
    return (opName + " expects 2 strides [sh, sw], got " + list(strides)).str();
  if (llvm::any_of(strides, [](int64_t s) { return s <= 0; }))
    return (opName + " expects positive strides, got " + list(strides)).str();
  if (pads.size() != 4)
    return (opName + " expects 4 pads [top, left, bottom, right], got " +
            list(pads))
        .str();
  if (llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    return (opName + " expects non-negative pads, got " + list(pads)).str();
  return "";
}

/// (size + before + after - window) / stride + 1, or nullopt when the window
/// does not fit or the arithmetic overflows.
std::optional<int64_t> windowOutput(int64_t size, int64_t window, int64_t stride,
                                    int64_t before, int64_t after) {
  std::optional<int64_t> padded = llvm::checkedAdd(size, before);
  if (padded)
    padded = llvm::checkedAdd(*padded, after);
  if (!padded || *padded < window)
    return std::nullopt;
  return (*padded - window) / stride + 1;
}

/// Computes (OH, OW) of a 2-d window over an NCHW input, or an error.
ShapeResult window2d(StringRef opName, ArrayRef<int64_t> input, int64_t kh,
                     int64_t kw, ArrayRef<int64_t> strides, ArrayRef<int64_t> pads) {
  std::optional<int64_t> oh =
      windowOutput(input[2], kh, strides[0], pads[0], pads[2]);
  std::optional<int64_t> ow =
      windowOutput(input[3], kw, strides[1], pads[1], pads[3]);
  if (oh && ow)
    return makeShape({input[0], 0, *oh, *ow});
  // The smallest unpadded input the window fits in, saturating at 1.
  auto need = [](int64_t window, int64_t before, int64_t after) {
    int64_t padding = before > window || after > window ? window : before + after;
    return std::max<int64_t>(1, window - padding);
  };
  return makeError(opName + " window " + llvm::Twine(kh) + "x" + llvm::Twine(kw) +
                 " with stride " + llvm::Twine(strides[0]) + "x" +
                 llvm::Twine(strides[1]) + " and pads " + list(pads) +
                 " does not fit the input " + llvm::Twine(input[2]) + "x" +
                 llvm::Twine(input[3]) + " (need at least " +
                 llvm::Twine(need(kh, pads[0], pads[2])) + "x" +
                 llvm::Twine(need(kw, pads[1], pads[3])) + ")");
}

/// Checks that a rank-2 or rank-4 input's channel dim equals a [C] param.
ShapeResult perChannel(StringRef opName, StringRef inputWhat, StringRef paramWhat,
                       ArrayRef<int64_t> input, ArrayRef<int64_t> param) {
  if (input.size() != 2 && input.size() != 4)
    return makeError(opName + " expects a 2-d (N, C) or 4-d (N, C, H, W) " +
                   inputWhat + ", got " + format(input));
  if (std::string error = checkData(opName, inputWhat, input); !error.empty())
    return makeError(error);
  if (param.size() != 1)
    return makeError(opName + " expects a 1-d " + paramWhat + " [C], got " +
                   format(param));
  if (std::string error = checkParam(opName, paramWhat, param); !error.empty())
    return makeError(error);
  if (param[0] != input[1])
    return makeError(opName + " expects " + paramWhat + " size (" +
                   llvm::Twine(param[0]) + ") to equal " + inputWhat +
                   " channels (" + llvm::Twine(input[1]) + "): " + inputWhat +
                   " " + format(input) + ", " + paramWhat + " " + format(param));
  return makeShape(Shape(input.begin(), input.end()));
}

} // namespace

std::string mlir::net::shapes::format(ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "scalar";
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(
      shape, os,
      [&](int64_t dim) {
        if (isDynamic(dim))
          os << '?';
        else
          os << dim;
      },
      "x");
  return text;
}

ShapeResult mlir::net::shapes::unary(ArrayRef<int64_t> input, StringRef opName) {
  if (input.empty())
    return makeError(opName + " expects an input of rank at least 1, got a " +
                   "scalar");
  if (std::string error = checkData(opName, "input", input); !error.empty())
    return makeError(error);
  return makeShape(Shape(input.begin(), input.end()));
}

ShapeResult mlir::net::shapes::conv2d(ArrayRef<int64_t> input,
                                      ArrayRef<int64_t> weight,
                                      ArrayRef<int64_t> strides,
                                      ArrayRef<int64_t> pads) {
  if (input.size() != 4)
    return makeError("conv2d expects a 4-d input (N, C, H, W), got " +
                   format(input));
  if (weight.size() != 4)
    return makeError("conv2d expects a 4-d weight (F, C, KH, KW), got " +
                   format(weight));
  if (std::string error = checkData("conv2d", "input", input); !error.empty())
    return makeError(error);
  if (std::string error = checkParam("conv2d", "weight", weight); !error.empty())
    return makeError(error);
  if (std::string error = checkWindow("conv2d", strides, pads); !error.empty())
    return makeError(error);
  if (input[1] != weight[1])
    return makeError("conv2d expects input channels (" + llvm::Twine(input[1]) +
                   ") to equal weight input channels (" + llvm::Twine(weight[1]) +
                   "): input " + format(input) + ", weight " + format(weight));
  ShapeResult result =
      window2d("conv2d", input, weight[2], weight[3], strides, pads);
  if (result.ok())
    result.shape[1] = weight[0];
  return result;
}

ShapeResult mlir::net::shapes::pool2d(ArrayRef<int64_t> input,
                                      ArrayRef<int64_t> kernel,
                                      ArrayRef<int64_t> strides,
                                      ArrayRef<int64_t> pads, StringRef opName) {
  if (input.size() != 4)
    return makeError(opName + " expects a 4-d input (N, C, H, W), got " +
                   format(input));
  if (std::string error = checkData(opName, "input", input); !error.empty())
    return makeError(error);
  if (kernel.size() != 2)
    return makeError(opName + " expects a 2-d kernel [kh, kw], got " +
                   list(kernel));
  if (llvm::any_of(kernel, [](int64_t k) { return k <= 0; }))
    return makeError(opName + " expects a positive kernel, got " + list(kernel));
  if (std::string error = checkWindow(opName, strides, pads); !error.empty())
    return makeError(error);
  // A window made only of padding would have no element to reduce.
  if (pads[0] >= kernel[0] || pads[2] >= kernel[0] || pads[1] >= kernel[1] ||
      pads[3] >= kernel[1])
    return makeError(opName + " expects pads smaller than the kernel, got pads " +
                   list(pads) + " for kernel " + list(kernel));
  ShapeResult result =
      window2d(opName, input, kernel[0], kernel[1], strides, pads);
  if (result.ok())
    result.shape[1] = input[1];
  return result;
}

ShapeResult mlir::net::shapes::dense(ArrayRef<int64_t> input,
                                     ArrayRef<int64_t> weight) {
  if (input.size() != 2)
    return makeError("dense expects a 2-d input (N, K), got " + format(input));
  if (weight.size() != 2)
    return makeError("dense expects a 2-d weight (M, K), got " + format(weight));
  if (std::string error = checkData("dense", "input", input); !error.empty())
    return makeError(error);
  if (std::string error = checkParam("dense", "weight", weight); !error.empty())
    return makeError(error);
  if (input[1] != weight[1])
    return makeError("dense expects input features (" + llvm::Twine(input[1]) +
                   ") to equal weight input features (" + llvm::Twine(weight[1]) +
                   "): input " + format(input) + ", weight " + format(weight));
  return makeShape({input[0], weight[0]});
}

ShapeResult mlir::net::shapes::biasAdd(ArrayRef<int64_t> input,
                                       ArrayRef<int64_t> bias) {
  return perChannel("bias_add", "input", "bias", input, bias);
}

ShapeResult mlir::net::shapes::flatten(ArrayRef<int64_t> input) {
  if (input.size() < 2)
    return makeError("flatten expects an input of rank at least 2 (N, ...), got " +
                   format(input));
  if (std::string error = checkData("flatten", "input", input); !error.empty())
    return makeError(error);
  std::optional<int64_t> features = 1;
  for (int64_t dim : input.drop_front()) {
    features = llvm::checkedMul(*features, dim);
    if (!features || *features >= kMaxFeatures)
      return makeError("flatten expects fewer than 2^40 features per sample, got " +
                     format(input));
  }
  return makeShape({input[0], *features});
}

ShapeResult mlir::net::shapes::globalAvgPool(ArrayRef<int64_t> input) {
  if (input.size() != 4)
    return makeError("global_avg_pool expects a 4-d input (N, C, H, W), got " +
                   format(input));
  if (std::string error = checkData("global_avg_pool", "input", input);
      !error.empty())
    return makeError(error);
  return makeShape({input[0], input[1]});
}

ShapeResult mlir::net::shapes::batchNorm(ArrayRef<int64_t> input,
                                         ArrayRef<int64_t> param,
                                         StringRef paramName) {
  return perChannel("batch_norm", "input", paramName, input, param);
}

ShapeResult mlir::net::shapes::add(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  if (lhs.empty())
    return makeError("add expects operands of rank at least 1, got a scalar");
  if (std::string error = checkData("add", "lhs", lhs); !error.empty())
    return makeError(error);
  if (std::string error = checkData("add", "rhs", rhs); !error.empty())
    return makeError(error);
  auto mismatch = [&] {
    return makeError("add expects operands of the same shape: lhs " + format(lhs) +
                   ", rhs " + format(rhs));
  };
  if (lhs.size() != rhs.size() || lhs.drop_front() != rhs.drop_front())
    return mismatch();
  Shape shape(lhs.begin(), lhs.end());
  if (isDynamic(lhs[0]))
    shape[0] = rhs[0];
  else if (!isDynamic(rhs[0]) && lhs[0] != rhs[0])
    return mismatch();
  return makeShape(shape);
}

ShapeResult mlir::net::shapes::softmax(ArrayRef<int64_t> input) {
  if (input.size() != 2)
    return makeError("softmax expects a 2-d input (N, K), got " + format(input));
  if (std::string error = checkData("softmax", "input", input); !error.empty())
    return makeError(error);
  return makeShape(Shape(input.begin(), input.end()));
}

ShapeResult mlir::net::shapes::crossEntropy(ArrayRef<int64_t> probs,
                                            ArrayRef<int64_t> labels) {
  if (probs.size() != 2)
    return makeError("cross_entropy expects 2-d probabilities (N, K), got " +
                   format(probs));
  if (std::string error = checkData("cross_entropy", "probabilities", probs);
      !error.empty())
    return makeError(error);
  if (labels.size() != 1)
    return makeError("cross_entropy expects 1-d labels (N), got " + format(labels));
  if (!isDynamic(probs[0]) && !isDynamic(labels[0]) && probs[0] != labels[0])
    return makeError("cross_entropy expects one label per row of probabilities: "
                   "probabilities " +
                   format(probs) + ", labels " + format(labels));
  return makeShape({});
}
