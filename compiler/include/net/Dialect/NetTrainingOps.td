//===- NetTrainingOps.td - ops of the training step --------*- tablegen -*-===//
//
// The ops that net-autodiff builds: gradients of every layer op, the loss's
// companions, dropout's mask, and the optimizer updates. Each gradient op's
// verifier runs the forward shape rule backwards: the forward op applied to
// the gradient's result must give the incoming gradient's shape.
//
//===----------------------------------------------------------------------===//

#ifndef NET_DIALECT_NETTRAININGOPS_TD
#define NET_DIALECT_NETTRAININGOPS_TD

//===----------------------------------------------------------------------===//
// Gradients of layers with weights
//===----------------------------------------------------------------------===//

def Net_Conv2dGradInputOp : Net_Op<"conv2d_grad_input", [Pure]> {
  let summary = "gradient of net.conv2d with respect to its input";
  let description = [{
    Given the gradient `dy` of a convolution's output and its `weight`, gives
    the gradient of its input (a transposed convolution). The result type is
    the forward input's type; `strides` and `pads` are the forward op's.

    Example:

    ```mlir
    %dx = net.conv2d_grad_input %dy, %w strides [1, 1] pads [2, 2, 2, 2]
        : (tensor<?x16x14x14xf32>, tensor<16x6x5x5xf32>) -> tensor<?x6x14x14xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$weight,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight `strides` $strides `pads` $pads attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_Conv2dGradWeightOp : Net_Op<"conv2d_grad_weight", [Pure]> {
  let summary = "gradient of net.conv2d with respect to its weight";
  let description = [{
    Given the gradient `dy` of a convolution's output and the forward
    `input`, gives the gradient of the weight, summed over the batch.

    Example:

    ```mlir
    %dw = net.conv2d_grad_weight %dy, %x strides [1, 1] pads [2, 2, 2, 2]
        : (tensor<?x6x28x28xf32>, tensor<?x1x28x28xf32>) -> tensor<6x1x5x5xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$input,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input `strides` $strides `pads` $pads attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_DenseGradInputOp : Net_Op<"dense_grad_input", [Pure]> {
  let summary = "gradient of net.dense with respect to its input";
  let description = [{
    `dx = dy * weight` for `dy` [N, M] and `weight` [M, K].

    Example:

    ```mlir
    %dx = net.dense_grad_input %dy, %w : (tensor<?x10xf32>, tensor<10x84xf32>) -> tensor<?x84xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$weight);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_DenseGradWeightOp : Net_Op<"dense_grad_weight", [Pure]> {
  let summary = "gradient of net.dense with respect to its weight";
  let description = [{
    `dw = dy^T * input`, summed over the batch, for `dy` [N, M] and `input`
    [N, K].

    Example:

    ```mlir
    %dw = net.dense_grad_weight %dy, %x : (tensor<?x10xf32>, tensor<?x84xf32>) -> tensor<10x84xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$input);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_BiasGradOp : Net_Op<"bias_grad", [Pure]> {
  let summary = "gradient of net.bias_add with respect to its bias";
  let description = [{
    Sums `dy` over every dimension but the channels (dim 1).

    Example:

    ```mlir
    %db = net.bias_grad %dy : (tensor<?x6x28x28xf32>) -> tensor<6xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gradients of activations (through their outputs)
//===----------------------------------------------------------------------===//

/// `dx` from `dy` and the forward op's output `y`, element-wise or per row.
class Net_OutputGradOp<string mnemonic, string opSummary, string formula>
    : Net_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = opSummary;
  let description = "Computes `dx = " # formula # "` from the incoming "
    # "gradient `dy` and the forward output `y`.\n\nExample:\n\n```mlir\n"
    # "%dx = net." # mnemonic # " %dy, %y : tensor<?x84xf32>\n```";
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$output);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$grad `,` $output attr-dict `:` type($result)";
}

def Net_ReluGradOp
    : Net_OutputGradOp<"relu_grad", "gradient of net.relu", "dy * (y > 0)">;
def Net_SigmoidGradOp
    : Net_OutputGradOp<"sigmoid_grad", "gradient of net.sigmoid", "dy * y * (1 - y)">;
def Net_TanhGradOp
    : Net_OutputGradOp<"tanh_grad", "gradient of net.tanh", "dy * (1 - y * y)">;
def Net_SoftmaxGradOp
    : Net_OutputGradOp<"softmax_grad", "gradient of net.softmax (not before the loss)",
                       "y * (dy - sum_k(dy * y))">;

//===----------------------------------------------------------------------===//
// Gradients of pooling and reshaping
//===----------------------------------------------------------------------===//

def Net_MaxPool2dGradOp : Net_Op<"max_pool2d_grad", [Pure]> {
  let summary = "gradient of net.max_pool2d";
  let description = [{
    Routes each element of `dy` to the position of its window's maximum in
    the forward `input` (recomputed; the first maximum wins), summing where
    windows overlap. The result has the input's type.

    Example:

    ```mlir
    %dx = net.max_pool2d_grad %dy, %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0]
        : (tensor<?x6x14x14xf32>, tensor<?x6x28x28xf32>) -> tensor<?x6x28x28xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$input,
                       DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$strides,
                       DenseI64ArrayAttr:$pads);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $input `kernel` $kernel `strides` $strides `pads` $pads attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_AvgPool2dGradOp : Net_Op<"avg_pool2d_grad", [Pure]> {
  let summary = "gradient of net.avg_pool2d";
  let description = [{
    Spreads each element of `dy` evenly over the non-padding pixels of its
    window. The result type is the forward input's.

    Example:

    ```mlir
    %dx = net.avg_pool2d_grad %dy kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0]
        : (tensor<?x6x14x14xf32>) -> tensor<?x6x28x28xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $grad `kernel` $kernel `strides` $strides `pads` $pads attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_GlobalAvgPoolGradOp : Net_Op<"global_avg_pool_grad", [Pure]> {
  let summary = "gradient of net.global_avg_pool";
  let description = [{
    Spreads `dy` [N, C] evenly over each channel's H x W pixels.

    Example:

    ```mlir
    %dx = net.global_avg_pool_grad %dy : (tensor<?x2048xf32>) -> tensor<?x2048x7x7xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Net_ReshapeOp : Net_Op<"reshape", [Pure]> {
  let summary = "the same values per sample under another shape";
  let description = [{
    Keeps the batch and the per-sample element count; the gradient of
    `net.flatten`.

    Example:

    ```mlir
    %dx = net.reshape %dy : (tensor<?x5880xf32>) -> tensor<?x120x7x7xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$input);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Net_BatchNormInferenceGradOp : Net_Op<"batch_norm_inference_grad", [Pure]> {
  let summary = "gradient of a batch norm that uses its running statistics";
  let description = [{
    `dx = dy * gamma / sqrt(variance + epsilon)` per channel: the input
    gradient of a frozen batch norm, whose statistics are constants.

    Example:

    ```mlir
    %dx = net.batch_norm_inference_grad %dy, %gamma, %var epsilon 1.0e-03
        : (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64x56x56xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$gamma, Net_Tensor:$variance,
                       F64Attr:$epsilon);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $grad `,` $gamma `,` $variance `epsilon` $epsilon attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

// Not Pure: it updates the running statistics in place.
def Net_BatchNormTrainOp : Net_Op<"batch_norm_train"> {
  let summary = "batch normalisation on the batch's own statistics, in training";
  let description = [{
    The training form of `net.batch_norm` for a layer whose gamma and beta
    are trained. Per channel, over the batch and the spatial positions:
    `mu` and the biased variance `var` (Keras and PyTorch normalise with the
    biased one), `y = gamma * (x - mu) / sqrt(var + epsilon) + beta`. The
    running statistics, which must come from `net.param`, are updated in
    place as Keras does: `running = momentum * running + (1 - momentum) *
    batch`, the biased variance included (Keras 3; PyTorch keeps the
    unbiased one). `batch_mean` and `batch_inv_std` (`1 / sqrt(var +
    epsilon)`) are kept for the backward.

    Example:

    ```mlir
    %y, %mu, %istd = net.batch_norm_train %x, %g, %b, %m, %v epsilon 1.000000e-03
        momentum 9.900000e-01
        : (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>,
           tensor<64xf32>) -> (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>)
    ```
  }];
  let arguments = (ins Net_Tensor:$input, Net_Tensor:$gamma, Net_Tensor:$beta,
                       Net_Tensor:$mean, Net_Tensor:$variance,
                       F64Attr:$epsilon, F64Attr:$momentum);
  let results = (outs Net_Tensor:$result, Net_Tensor:$batch_mean,
                      Net_Tensor:$batch_inv_std);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta `,` $mean `,` $variance `epsilon` $epsilon
    `momentum` $momentum attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_BatchNormTrainGradOp : Net_Op<"batch_norm_train_grad", [Pure]> {
  let summary = "gradients of a batch norm on batch statistics";
  let description = [{
    With `xhat = (x - batch_mean) * batch_inv_std` and `M` the values per
    channel (batch times spatial positions): `beta_grad = sum(dy)`,
    `gamma_grad = sum(dy * xhat)`, and
    `input_grad = gamma * batch_inv_std / M * (M * dy - beta_grad - xhat * gamma_grad)`:
    the batch statistics depend on every input, so every input's gradient
    has the two sums in it.

    Example:

    ```mlir
    %dx, %dg, %db = net.batch_norm_train_grad %dy, %x, %g, %mu, %istd
        : (tensor<?x64x56x56xf32>, tensor<?x64x56x56xf32>, tensor<64xf32>,
           tensor<64xf32>, tensor<64xf32>)
        -> (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>)
    ```
  }];
  let arguments = (ins Net_Tensor:$grad, Net_Tensor:$input, Net_Tensor:$gamma,
                       Net_Tensor:$batch_mean, Net_Tensor:$batch_inv_std);
  let results = (outs Net_Tensor:$input_grad, Net_Tensor:$gamma_grad,
                      Net_Tensor:$beta_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $gamma `,` $batch_mean `,` $batch_inv_std attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dropout in training
//===----------------------------------------------------------------------===//

// Not Pure: every step draws a new mask.
def Net_DropoutMaskOp : Net_Op<"dropout_mask"> {
  let summary = "a fresh dropout mask: 0 with probability rate, else 1/(1 - rate)";
  let description = [{
    Draws a mask of the result's shape from the step's seed; `stream`
    tells the dropout layers of one network apart, so each draws its own.
    Training multiplies by it (`net.mul`) forward and backward.

    Example:

    ```mlir
    %m = net.dropout_mask rate 5.000000e-01 stream 1 : tensor<?x128xf32>
    ```
  }];
  let arguments = (ins F64Attr:$rate, I64Attr:$stream);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "`rate` $rate `stream` $stream attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Net_MulOp : Net_Op<"mul", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "element-wise product";
  let description = [{
    Example:

    ```mlir
    %y = net.mul %x, %mask : tensor<?x128xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$lhs, Net_Tensor:$rhs);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Net_ZerosOp : Net_Op<"zeros", [Pure]> {
  let summary = "a tensor of zeros: a parameter's exact gradient where no use has one";
  let description = [{
    net-autodiff gives it to a trained parameter whose every use leaves the
    loss unchanged: a bias (or a norm's beta) that only shifts channels by
    constants on its way into batch norms on the batch's statistics, which
    subtract the channel's mean and the shift with it (docs/language.md).
    The sum that would compute that gradient is zero only up to rounding,
    and Adam scales such noise up to steps of the learning rate's size, so
    the bias would drift by the order of each build's sums. The parameter
    keeps its update (and so its optimizer slots and the checkpoint layout);
    the update of a zero gradient leaves it as it was.

    Example:

    ```mlir
    %db = net.zeros : tensor<64xf32>
    ```
  }];
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def Net_CountCorrectOp : Net_Op<"count_correct", [Pure]> {
  let summary = "how many rows' largest probability is at the label";
  let description = [{
    The first maximum wins a tie. The accuracy of a batch is this count over
    the batch size.

    Example:

    ```mlir
    %c = net.count_correct %p, %labels : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<i32>
    ```
  }];
  let arguments = (ins Net_Tensor:$probs, 1DTensorOf<[I32]>:$labels);
  let results = (outs 0DTensorOf<[I32]>:$result);
  let assemblyFormat = [{
    $probs `,` $labels attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Net_SoftmaxCrossEntropyGradOp : Net_Op<"softmax_cross_entropy_grad", [Pure]> {
  let summary = "gradient of mean cross-entropy with respect to softmax's input";
  let description = [{
    `(probs - onehot(labels)) / N`: the softmax and the loss differentiated
    together, which is both cheaper and better conditioned than the chain.
    The result has the probabilities' type.

    Example:

    ```mlir
    %dlogits = net.softmax_cross_entropy_grad %p, %labels
        : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<?x10xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$probs, 1DTensorOf<[I32]>:$labels);
  let results = (outs Net_Tensor:$result);
  let assemblyFormat = [{
    $probs `,` $labels attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Optimizer updates (in place: they write the parameter and its slots)
//===----------------------------------------------------------------------===//

def Net_SgdUpdateOp : Net_Op<"sgd_update", [AllTypesMatch<["param", "grad"]>]> {
  let summary = "SGD with momentum, updating a parameter in place";
  let description = [{
    As Keras: `v = momentum * v - lr * g; p += v` (Nesterov:
    `p += momentum * v - lr * g`), with the velocity `v` a slot of the
    parameter kept by the generated code. The learning rate is the step's,
    set at run time; `param` must come from a `net.param`.

    Example:

    ```mlir
    net.sgd_update %w, %dw momentum 9.000000e-01 : tensor<6x1x5x5xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$param, Net_Tensor:$grad, F64Attr:$momentum,
                       UnitAttr:$nesterov);
  let assemblyFormat = [{
    $param `,` $grad `momentum` $momentum (`nesterov` $nesterov^)? attr-dict `:`
    type($param)
  }];
  let hasVerifier = 1;
}

def Net_AdamUpdateOp : Net_Op<"adam_update", [AllTypesMatch<["param", "grad"]>]> {
  let summary = "Adam, updating a parameter in place";
  let description = [{
    `m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon)` with `t`
    the step count and `m`, `v` slots of the parameter kept by the generated
    code; `param` must come from a `net.param`.

    Example:

    ```mlir
    net.adam_update %w, %dw beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07
        : tensor<6x1x5x5xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$param, Net_Tensor:$grad, F64Attr:$beta1,
                       F64Attr:$beta2, F64Attr:$epsilon);
  let assemblyFormat = [{
    $param `,` $grad `beta1` $beta1 `beta2` $beta2 `epsilon` $epsilon attr-dict
    `:` type($param)
  }];
  let hasVerifier = 1;
}

def Net_UpdateGroupOp : Net_Op<"update_group", [SingleBlock, NoTerminator]> {
  let summary = "optimizer updates applied together, after the backward";
  let description = [{
    Made by net-group-updates: its body holds optimizer updates of one kind
    and equal hyper-parameters, which a target applies in one launch (the
    CUDA path: one kernel over a table of parameters). It stands at the end
    of the step, so every gradient its body reads lives until then; a target
    without it (the CPU) updates each parameter where its update stands and
    frees the gradient at once.

    Example:

    ```mlir
    net.update_group {
      net.sgd_update %w, %dw momentum 9.000000e-01 : tensor<6x1x5x5xf32>
      net.sgd_update %b, %db momentum 9.000000e-01 : tensor<6xf32>
    }
    ```
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$body attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Data parallelism: values combined across replicas (net-exchange-gradients)
//===----------------------------------------------------------------------===//

def Net_ExchangeStartOp : Net_Op<"exchange_start", [AllTypesMatch<["param", "values"]>]> {
  let summary = "a replica's values of a parameter, final, handed out to be combined";
  let description = [{
    Made by net-exchange-gradients in a step's `_exchanged` copy: `values`,
    the gradient of `param` or `param` itself (a batch norm's running
    statistic, updated in place), are final for this step on this replica.
    The runtime combines them across the replicas of a data-parallel run, in
    place, now or later (an allreduce that overlaps the rest of the
    backward), and must have finished by the next `net.exchange_wait`.
    Nothing after this op writes `values`; only the updates after the wait
    read them.

    Example:

    ```mlir
    net.exchange_start %w, %dw : tensor<6x1x5x5xf32>
    ```
  }];
  let arguments = (ins Net_Tensor:$param, Net_Tensor:$values);
  let assemblyFormat = "$param `,` $values attr-dict `:` type($param)";
  let hasVerifier = 1;
}

def Net_ExchangeWaitOp : Net_Op<"exchange_wait"> {
  let summary = "every exchange started before holds the combined values";
  let description = [{
    Made by net-exchange-gradients: after it, the values of every
    `net.exchange_start` before it in the step hold what the replicas
    combined, and the step's optimizer updates follow. A failed exchange
    ends the step here, before any parameter changes.

    Example:

    ```mlir
    net.exchange_wait
    ```
  }];
  let assemblyFormat = "attr-dict";
}

#endif // NET_DIALECT_NETTRAININGOPS_TD
