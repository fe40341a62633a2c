//===- NetFusedOps.td - fused layer ops ---------------------*- tablegen -*-===//
//
// What the fusion passes make: one op for conv + bias + activation + pooling
// and one for dense + bias + activation, with their training forms and their
// single backward ops. Emitters lower each to one kernel; the intermediate
// tensors (the conv output, the activation before pooling) exist only inside it.
//
//===----------------------------------------------------------------------===//

#ifndef NET_DIALECT_NETFUSEDOPS_TD
#define NET_DIALECT_NETFUSEDOPS_TD

/// The attributes every fused conv op carries: the convolution's, then the
/// activation (none, relu, sigmoid, tanh) and the pooling (none, max, avg)
/// with its window (empty arrays when `pool` is none).
defvar FusedConvAttrs = (ins DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                             Net_Activation:$activation, Net_Pool:$pool,
                             DenseI64ArrayAttr:$pool_kernel,
                             DenseI64ArrayAttr:$pool_strides,
                             DenseI64ArrayAttr:$pool_pads);

def Net_FusedConv2dOp : Net_Op<"fused_conv2d", [Pure]> {
  let summary = "conv2d + bias + activation + pooling in one kernel";
  let description = [{
    `pool(activation(conv2d(input, weight) + bias))` where `bias` is
    optional. The convolution's output never leaves the kernel. Built by
    net-fuse-conv-bias-act-pool.

    Example:

    ```mlir
    %y = net.fused_conv2d %x, %w, %b strides [1, 1] pads [2, 2, 2, 2]
        activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0]
        : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<?x6x14x14xf32>
    ```
  }];
  let arguments = !con((ins Net_Tensor:$input, Net_Tensor:$weight,
                            Optional<Net_Tensor>:$bias), FusedConvAttrs);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? `strides` $strides `pads` $pads `activation` $activation `pool` $pool `window` $pool_kernel `stride` $pool_strides `padding` $pool_pads
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The convolution's output shape, before pooling.
    ::llvm::SmallVector<int64_t, 4> getConvShape();
  }];
}

def Net_FusedConv2dTrainOp : Net_Op<"fused_conv2d_train", [Pure]> {
  let summary = "net.fused_conv2d that also keeps what its backward needs";
  let description = [{
    Computes what `net.fused_conv2d` does and also `saved`: for max pooling
    the position of each window's maximum (its flat index in the channel's
    conv output), else the activation's output before pooling. net-autodiff
    uses it in the training step where the backward needs either.

    Example:

    ```mlir
    %y, %argmax = net.fused_conv2d_train %x, %w, %b strides [1, 1] pads [2, 2, 2, 2]
        activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0]
        : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>)
        -> (tensor<?x6x14x14xf32>, tensor<?x6x14x14xf32>)
    ```
  }];
  let arguments = !con((ins Net_Tensor:$input, Net_Tensor:$weight,
                            Optional<Net_Tensor>:$bias), FusedConvAttrs);
  let results = (outs Net_Tensor:$result, Net_Tensor:$saved);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? `strides` $strides `pads` $pads `activation` $activation `pool` $pool `window` $pool_kernel `stride` $pool_strides `padding` $pool_pads
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_FusedConv2dGradOp : Net_Op<"fused_conv2d_grad", [Pure]> {
  let summary = "the one backward op of a fused convolution";
  let description = [{
    From the gradient of the fused op's output: routes it back through the
    pooling (to the saved argmax, or spread over the window), through the
    activation's derivative (from `output` or `saved`), and on to the input,
    weight and bias gradients. `pre_activation_grad` is the gradient of the
    convolution's output, the buffer the kernel works in. `saved` is the
    training op's second result, or `output` when nothing had to be kept.
    Results nobody reads (the input gradient of a first layer, the bias
    gradient of a layer without bias) are not computed.

    Example:

    ```mlir
    %dx, %dw, %db, %dz = net.fused_conv2d_grad %dy, %x, %w, %y, %argmax
        strides [1, 1] pads [2, 2, 2, 2] activation relu pool max
        window [2, 2] stride [2, 2] padding [0, 0, 0, 0]
        : (...) -> (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>, tensor<?x6x28x28xf32>)
    ```
  }];
  let arguments = !con((ins Net_Tensor:$grad, Net_Tensor:$input, Net_Tensor:$weight,
                            Net_Tensor:$output, Net_Tensor:$saved), FusedConvAttrs);
  let results = (outs Net_Tensor:$input_grad, Net_Tensor:$weight_grad,
                      Net_Tensor:$bias_grad, Net_Tensor:$pre_activation_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $weight `,` $output `,` $saved `strides` $strides `pads` $pads `activation` $activation `pool` $pool `window` $pool_kernel `stride` $pool_strides `padding` $pool_pads
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_FusedDenseOp : Net_Op<"fused_dense", [Pure]> {
  let summary = "dense + bias + activation in one kernel";
  let description = [{
    `activation(input * weight^T + bias)`, `bias` optional; built by
    net-fuse-dense-bias-act.

    Example:

    ```mlir
    %y = net.fused_dense %x, %w, %b activation relu
        : (tensor<?x5880xf32>, tensor<84x5880xf32>, tensor<84xf32>) -> tensor<?x84xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input, Net_Tensor:$weight, Optional<Net_Tensor>:$bias,
                       Net_Activation:$activation);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? `activation` $activation attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_FusedDenseGradOp : Net_Op<"fused_dense_grad", [Pure]> {
  let summary = "the one backward op of a fused dense layer";
  let description = [{
    `dz = dy * activation'(output)`, then the input, weight and bias
    gradients; `pre_activation_grad` is `dz`. Unread results are not
    computed.

    Example:

    ```mlir
    %dx, %dw, %db, %dz = net.fused_dense_grad %dy, %x, %w, %y activation relu
        : (tensor<?x84xf32>, tensor<?x5880xf32>, tensor<84x5880xf32>, tensor<?x84xf32>)
        -> (tensor<?x5880xf32>, tensor<84x5880xf32>, tensor<84xf32>, tensor<?x84xf32>)
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$input, Net_Tensor:$weight,
                       Net_Tensor:$output, Net_Activation:$activation);
  let results = (outs Net_Tensor:$input_grad, Net_Tensor:$weight_grad,
                      Net_Tensor:$bias_grad, Net_Tensor:$pre_activation_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $weight `,` $output `activation` $activation attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_FoldBatchNormOp : Net_Op<"fold_batch_norm", [Pure]> {
  let summary = "a convolution's weight and bias with a batch norm folded in";
  let description = [{
    With `s = gamma / sqrt(variance + epsilon)` per output channel:
    `folded_weight = weight * s` and `folded_bias = (bias - mean) * s + beta`
    (`bias` optional, zero when absent). A convolution with these computes
    what the convolution followed by the batch norm (on its moving
    statistics) computes, in one pass over the activations. Built by
    net-fold-batch-norm for inference; it reads the parameters as they are
    at the call, so loading new weights needs no recompilation.

    Example:

    ```mlir
    %w2, %b2 = net.fold_batch_norm %w, %gamma, %beta, %mean, %var epsilon 1.0e-03
        : (tensor<64x3x7x7xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>)
        -> (tensor<64x3x7x7xf32>, tensor<64xf32>)
    ```
  }];
  let arguments = (ins Net_Tensor:$weight, Optional<Net_Tensor>:$bias, Net_Tensor:$gamma,
                       Net_Tensor:$beta, Net_Tensor:$mean, Net_Tensor:$variance,
                       F64Attr:$epsilon);
  let results = (outs Net_Tensor:$folded_weight, Net_Tensor:$folded_bias);
  let assemblyFormat = [{
    $weight (`bias` $bias^)? `,` $gamma `,` $beta `,` $mean `,` $variance `epsilon` $epsilon
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // NET_DIALECT_NETFUSEDOPS_TD
