//===- Shapes.h - shape functions of the net ops ----------------*- C++ -*-===//
//
// Pure shape rules shared by the op verifiers and the front end. They need no
// MLIRContext, so the front end can check a layer and report the error at its
// .net location before it builds any op. Dim 0 is the batch and may be
// ShapedType::kDynamic; every other dim must be static and positive.
//
// Error strings are lower-case, have no trailing period, start with the op's
// mnemonic and name the shapes involved; callers add their own context (the
// layer name, or the op via emitOpError).
//
//===----------------------------------------------------------------------===//

#ifndef NET_DIALECT_SHAPES_H
#define NET_DIALECT_SHAPES_H

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mlir::net::shapes {

/// A tensor shape; dim 0 may be ShapedType::kDynamic.
using Shape = llvm::SmallVector<int64_t, 4>;

/// The shape an op computes, or why it cannot compute one.
struct ShapeResult {
  Shape shape;
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Largest element count per sample that flatten accepts (2^40): anything
/// larger is a mistake in the model, not a tensor a step could hold.
constexpr int64_t kMaxFeatures = int64_t(1) << 40;

/// Formats a shape as MLIR does inside a tensor type: "?x1x28x28"; a 0-d
/// shape is "scalar".
std::string format(llvm::ArrayRef<int64_t> shape);

/// Checks a data tensor of any rank >= 1 (relu, sigmoid, tanh, dropout):
/// the result has the input's shape.
ShapeResult unary(llvm::ArrayRef<int64_t> input, llvm::StringRef opName);

/// conv2d: input (N, C, H, W), weight (F, C, KH, KW), strides [sh, sw],
/// pads [top, left, bottom, right] -> (N, F, OH, OW) with
/// OH = (H + top + bottom - KH) / sh + 1.
ShapeResult conv2d(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
                   llvm::ArrayRef<int64_t> strides, llvm::ArrayRef<int64_t> pads);

/// max_pool2d / avg_pool2d: input (N, C, H, W), kernel [kh, kw], strides
/// [sh, sw], pads [top, left, bottom, right], each pad smaller than the
/// kernel -> (N, C, OH, OW) with the conv2d formula. `opName` prefixes errors.
ShapeResult pool2d(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> kernel,
                   llvm::ArrayRef<int64_t> strides, llvm::ArrayRef<int64_t> pads,
                   llvm::StringRef opName = "pool2d");

/// dense: input [N, K], weight [M, K] (out, in) -> [N, M].
ShapeResult dense(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight);

/// bias_add: input of rank 2 or 4, bias [C] with C = input dim 1 -> input.
ShapeResult biasAdd(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> bias);

/// flatten: [N, d1, ..., dk] -> [N, d1 * ... * dk]; the product must be
/// below kMaxFeatures.
ShapeResult flatten(llvm::ArrayRef<int64_t> input);

/// global_avg_pool: (N, C, H, W) -> [N, C].
ShapeResult globalAvgPool(llvm::ArrayRef<int64_t> input);

/// batch_norm: input of rank 2 or 4 and one of its four [C] parameters
/// (gamma, beta, mean, variance; `paramName` says which) -> input.
ShapeResult batchNorm(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> param,
                      llvm::StringRef paramName = "parameter");

/// add: two tensors of the same shape -> that shape. A dynamic batch on one
/// side matches any batch on the other; the result keeps a static batch.
ShapeResult add(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

/// softmax: [N, K] -> [N, K] (over dim 1).
ShapeResult softmax(llvm::ArrayRef<int64_t> input);

/// cross_entropy: probabilities [N, K] and labels [N] -> a 0-d loss.
ShapeResult crossEntropy(llvm::ArrayRef<int64_t> probs,
                         llvm::ArrayRef<int64_t> labels);

} // namespace mlir::net::shapes

#endif // NET_DIALECT_SHAPES_H
