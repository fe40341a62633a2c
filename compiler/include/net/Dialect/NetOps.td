//===- NetOps.td - the net dialect ops ---------------------*- tablegen -*-===//
//
// Layer-level ops. Shape rules live in Shapes.cpp, shared with the front end;
// each verifier calls them and then checks the declared result type.
//
//===----------------------------------------------------------------------===//

#ifndef NET_DIALECT_NETOPS_TD
#define NET_DIALECT_NETOPS_TD

include "net/Dialect/NetDialect.td"
include "net/Dialect/NetEnums.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

/// Every data tensor is a ranked f32 tensor.
def Net_Tensor : RankedTensorOf<[F32]>;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

// Not Pure: a parameter is model state that must survive even when unused,
// and two parameters are never the same value.
def Net_ParamOp : Net_Op<"param"> {
  let summary = "a learnable tensor: weights, bias or batch-norm statistics";
  let description = [{
    Declares a named parameter of the model with a fully static shape. `init`
    names its initializer: `zeros`, `ones`, `glorot_uniform`,
    `glorot_normal`, `he_uniform` or `he_normal`. A `frozen` parameter is not
    trained: it gets no gradient and no optimizer update.

    Example:

    ```mlir
    %w = net.param "conv2d_1.kernel" init("glorot_uniform") : tensor<6x1x5x5xf32>
    %m = net.param "bn_1.mean" init("zeros") frozen : tensor<6xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$init, UnitAttr:$frozen);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $name `init` `(` $init `)` (`frozen` $frozen^)? attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Layers with weights
//===----------------------------------------------------------------------===//

def Net_Conv2dOp : Net_Op<"conv2d", [Pure]> {
  let summary = "2-d convolution (cross-correlation) of an NCHW input";
  let description = [{
    Convolves `input` (N, C, H, W) with `weight` (F, C, KH, KW), giving
    (N, F, OH, OW) with `OH = (H + top + bottom - KH) / sh + 1` (rounded
    down) and likewise for OW. `strides` is `[sh, sw]`, `pads` is
    `[top, left, bottom, right]` of zeros. There is no bias: a
    `net.bias_add` follows when the layer has one.

    Example:

    ```mlir
    %y = net.conv2d %x, %w strides [1, 1] pads [2, 2, 2, 2]
        : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x28x28xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input, Net_Tensor:$weight,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `strides` $strides `pads` $pads attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_DenseOp : Net_Op<"dense", [Pure]> {
  let summary = "fully connected layer without bias";
  let description = [{
    Multiplies `input` [N, K] by the transpose of `weight` [M, K], giving
    [N, M]. The weight is stored [out, in], as in PyTorch's Linear and ONNX
    Gemm with transB = 1.

    Example:

    ```mlir
    %y = net.dense %x, %w : (tensor<?x400xf32>, tensor<120x400xf32>) -> tensor<?x120xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input, Net_Tensor:$weight);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_BiasAddOp : Net_Op<"bias_add", [Pure]> {
  let summary = "adds a per-channel bias";
  let description = [{
    Adds `bias` [C] along dim 1 of `input`, which is (N, C) or (N, C, H, W).
    The result has the input's type.

    Example:

    ```mlir
    %y = net.bias_add %x, %b : (tensor<?x6x28x28xf32>, tensor<6xf32>) -> tensor<?x6x28x28xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input, Net_Tensor:$bias);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $bias attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

/// An element-wise op whose result has its input's type.
class Net_UnaryOp<string mnemonic, string opSummary, string formula>
    : Net_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = opSummary;
  let description = "Computes `" # formula # "` element-wise; the result has "
    # "the input's type.\n\nExample:\n\n```mlir\n%y = net." # mnemonic
    # " %x : tensor<?x120xf32>\n```";
  let arguments = (ins Net_Tensor:$input);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Net_ReluOp : Net_UnaryOp<"relu", "rectified linear unit", "max(x, 0)">;
def Net_SigmoidOp
    : Net_UnaryOp<"sigmoid", "logistic sigmoid", "1 / (1 + exp(-x))">;
def Net_TanhOp : Net_UnaryOp<"tanh", "hyperbolic tangent", "tanh(x)">;

def Net_SoftmaxOp : Net_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax over the classes of each row";
  let description = [{
    Computes `exp(x[n, k]) / sum_j exp(x[n, j])` over dim 1 of a rank-2
    input [N, K]. The result has the input's type.

    Example:

    ```mlir
    %p = net.softmax %x : tensor<?x10xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Pooling and reshaping
//===----------------------------------------------------------------------===//

/// A 2-d pooling window over an NCHW input.
class Net_Pool2dOp<string mnemonic, string opSummary, string reduction>
    : Net_Op<mnemonic, [Pure]> {
  let summary = opSummary;
  let description = "Reduces each `kernel` [kh, kw] window of `input` "
    # "(N, C, H, W) " # reduction # ", giving (N, C, OH, OW) with "
    # "`OH = (H + top + bottom - kh) / sh + 1` (rounded down). `strides` is "
    # "[sh, sw], `pads` is [top, left, bottom, right]; each pad must be "
    # "smaller than the kernel in its dim, so no window is all padding.\n\n"
    # "Example:\n\n```mlir\n%y = net." # mnemonic
    # " %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0]\n"
    # "    : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>\n```";
  let arguments = (ins Net_Tensor:$input, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input `kernel` $kernel `strides` $strides `pads` $pads attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_MaxPool2dOp : Net_Pool2dOp<"max_pool2d", "2-d max pooling",
    "to its maximum; padding never wins">;
def Net_AvgPool2dOp : Net_Pool2dOp<"avg_pool2d", "2-d average pooling",
    "to its mean over the elements that are not padding (as Keras does: a "
    # "window at the border divides by the count of real elements, not by "
    # "kh * kw)">;

def Net_GlobalAvgPoolOp : Net_Op<"global_avg_pool", [Pure]> {
  let summary = "mean over the spatial dims";
  let description = [{
    Averages each channel of `input` (N, C, H, W) over H and W, giving [N, C].

    Example:

    ```mlir
    %y = net.global_avg_pool %x : (tensor<?x2048x7x7xf32>) -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_FlattenOp : Net_Op<"flatten", [Pure]> {
  let summary = "collapses every dim after the batch";
  let description = [{
    Reshapes `input` [N, d1, ..., dk] to [N, d1 * ... * dk], in row-major
    (NCHW) order. The product must stay below 2^40.

    Example:

    ```mlir
    %y = net.flatten %x : (tensor<?x16x5x5xf32>) -> tensor<?x400xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Regularisation and normalisation
//===----------------------------------------------------------------------===//

// Not Pure: in training each dropout draws its own mask, so two dropouts of
// the same value must not be merged.
def Net_DropoutOp : Net_Op<"dropout", [SameOperandsAndResultType]> {
  let summary = "inverted dropout while training, identity in inference";
  let description = [{
    While training, zeroes each element with probability `rate` and scales
    the rest by `1 / (1 - rate)`; in inference it is the identity.
    `0 <= rate < 1`.

    Example:

    ```mlir
    %y = net.dropout %x rate 5.000000e-01 : tensor<?x128xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input, F64Attr:$rate);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$input `rate` $rate attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Net_BatchNormOp : Net_Op<"batch_norm", [Pure]> {
  let summary = "batch normalisation over dim 1";
  let description = [{
    Normalises each channel of `input` (N, C) or (N, C, H, W):
    `gamma * (x - mu) / sqrt(var + epsilon) + beta`. While training, mu and
    var are the batch's statistics and the running `mean` and `variance`
    are updated as `running = momentum * running + (1 - momentum) * batch`
    (Keras' convention); in inference the running statistics are used.
    `gamma`, `beta`, `mean` and `variance` are [C]; `epsilon > 0`,
    `0 <= momentum < 1`.

    Example:

    ```mlir
    %y = net.batch_norm %x, %g, %b, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01
        : (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
           tensor<64xf32>) -> tensor<?x64x56x56xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input, Net_Tensor:$gamma, Net_Tensor:$beta,
                       Net_Tensor:$mean, Net_Tensor:$variance,
                       F64Attr:$epsilon, F64Attr:$momentum);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta `,` $mean `,` $variance `epsilon` $epsilon
    `momentum` $momentum attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Joins and loss
//===----------------------------------------------------------------------===//

def Net_AddOp : Net_Op<"add", [Pure, Commutative]> {
  let summary = "element-wise sum of two tensors of one shape";
  let description = [{
    Adds `lhs` and `rhs`, which have the same shape; used for residual
    joins. No broadcasting.

    Example:

    ```mlir
    %y = net.add %a, %b : (tensor<?x256x56x56xf32>, tensor<?x256x56x56xf32>) -> tensor<?x256x56x56xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$lhs, Net_Tensor:$rhs);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_CrossEntropyOp : Net_Op<"cross_entropy", [Pure]> {
  let summary = "mean categorical cross-entropy of probabilities and labels";
  let description = [{
    Computes `-mean_n log(probs[n, labels[n]])` as a 0-d tensor. `probs`
    [N, K] comes from a `net.softmax`; `labels` [N] holds class indices in
    [0, K).

    Example:

    ```mlir
    %loss = net.cross_entropy %p, %labels : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Net_Tensor:$probs, 1DTensorOf<[I32]>:$labels);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $probs `,` $labels attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

include "net/Dialect/NetTrainingOps.td"
include "net/Dialect/NetFusedOps.td"

#endif // NET_DIALECT_NETOPS_TD
