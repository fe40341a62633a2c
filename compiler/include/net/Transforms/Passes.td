//===- Passes.td - the net dialect's passes ----------------*- tablegen -*-===//

#ifndef NET_TRANSFORMS_PASSES_TD
#define NET_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NetFuseConvBiasActPool : Pass<"net-fuse-conv-bias-act-pool", "::mlir::ModuleOp"> {
  let summary = "fuses conv2d, its bias, its activation and its pooling into one op";
  let description = [{
    Rewrites `conv2d -> bias_add -> relu|sigmoid|tanh -> max_pool2d|avg_pool2d`,
    or any leading part of it with at least two ops, into one
    `net.fused_conv2d`. Each step fuses only when the value before it has no
    other user (a conv output used twice stays whole), the bias only when it
    is as frozen as the weight (so a fused backward never computes a gradient
    nobody wants), and the pooling only when its window tiles the conv output
    exactly: stride equal to the window, no padding, and extents that divide.

    Before:

    ```mlir
    %c = net.conv2d %x, %w strides [1, 1] pads [2, 2, 2, 2] : ...
    %a = net.bias_add %c, %b : ...
    %r = net.relu %a : tensor<?x6x28x28xf32>
    %p = net.max_pool2d %r kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : ...
    ```

    After:

    ```mlir
    %p = net.fused_conv2d %x, %w, %b strides [1, 1] pads [2, 2, 2, 2]
        activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : ...
    ```
  }];
}

def NetFuseDenseBiasAct : Pass<"net-fuse-dense-bias-act", "::mlir::ModuleOp"> {
  let summary = "fuses dense, its bias and its activation into one op";
  let description = [{
    Rewrites `dense -> bias_add -> relu|sigmoid|tanh` (or `dense -> bias_add`,
    `dense -> activation`) into one `net.fused_dense`, under the same rules
    as the convolution's: single users only, bias as frozen as the weight.
    A softmax is left alone: before the loss it is differentiated with it.
  }];
}

def NetFoldBatchNorm : Pass<"net-fold-batch-norm", "::mlir::ModuleOp"> {
  let summary = "folds batch norms into the convolutions before them, in @forward and @base_forward";
  let description = [{
    For inference only: in `@forward`, `conv2d [-> bias_add] -> batch_norm`
    (or a `fused_conv2d` with neither activation nor pooling) whose
    intermediate values have no other reader becomes
    `fold_batch_norm -> conv2d -> bias_add`: the batch norm's scale and shift
    are folded into the weight and bias at each call, and the activations
    are read and written once. Run net-fuse-conv-bias-act-pool after it to
    fuse the result with its activation. `@train_step` is left alone.

    Before:

    ```mlir
    %c = net.conv2d %x, %w strides [2, 2] pads [3, 3, 3, 3] : ...
    %y = net.batch_norm %c, %g, %b, %m, %v epsilon ... momentum ... : ...
    ```

    After:

    ```mlir
    %w2, %b2 = net.fold_batch_norm %w, %g, %b, %m, %v epsilon ... : ...
    %c = net.conv2d %x, %w2 strides [2, 2] pads [3, 3, 3, 3] : ...
    %y = net.bias_add %c, %b2 : ...
    ```
  }];
}

def NetRemoveDropout : Pass<"net-remove-dropout", "::mlir::ModuleOp"> {
  let summary = "removes dropout from @forward, where it is the identity";
}

def NetSplitFrozenBase : Pass<"net-split-frozen-base", "::mlir::ModuleOp"> {
  let summary = "splits @forward into a frozen base and the head trained on its features";
  let description = [{
    When a network's frozen part (every op with no trainable parameter and
    nothing random behind it) meets the trained part in exactly one batched
    tensor, its features, adds `@base_forward(input) -> features` and
    `@head_forward(features) -> probabilities`, and names the layer that
    produces the features in the module attribute `net.features`. The
    runtime then computes each image's features once and trains the head on
    them (net-autodiff builds `@head_train_step` and `@head_eval_step` from
    `@head_forward`), as a frozen Keras base under a trained head costs
    nothing per epoch but the head. @forward is left as it is. A network
    with no frozen part, a wholly frozen one, or one whose parts meet in
    more than one tensor, is left alone.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def NetAutodiff : Pass<"net-autodiff", "::mlir::ModuleOp"> {
  let summary = "builds the training and evaluation steps from @forward";
  let description = [{
    Adds `@train_step(input, labels) -> (loss, correct)`: the forward ops
    (dropout as a fresh mask times its input), the cross-entropy loss and the
    correct count, the backward op of every op that a trainable parameter
    depends on, and the optimizer update of each trainable parameter, placed
    right after its gradient is complete. Frozen parameters get no gradient,
    and the backward stops where nothing trainable lies behind it. Also adds
    `@eval_step(input, labels) -> (loss, correct)`. When the module has a
    `@head_forward` (net-split-frozen-base), builds `@head_train_step` and
    `@head_eval_step` from it the same way.

    Before:

    ```mlir
    func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x3xf32> {
      %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<3x4xf32>
      %y = net.dense %x, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
      %p = net.softmax %y : tensor<?x3xf32>
      return %p : tensor<?x3xf32>
    }
    ```

    After (train_step):

    ```mlir
    %w = net.param "dense_1.kernel" ...
    %y = net.dense %x, %w ...
    %p = net.softmax %y
    %loss = net.cross_entropy %p, %labels
    %correct = net.count_correct %p, %labels
    %dy = net.softmax_cross_entropy_grad %p, %labels
    %dw = net.dense_grad_weight %dy, %x
    net.adam_update %w, %dw ...
    return %loss, %correct
    ```
  }];
  // net: the loss and the updates are built even where @forward holds no
  // net op (its input returned as it is).
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::net::NetDialect"];
}

def NetGroupUpdates : Pass<"net-group-updates", "::mlir::ModuleOp"> {
  let summary = "gathers a step's optimizer updates into one group per kind";
  let description = [{
    Moves every net.sgd_update and net.adam_update of a step function into
    a net.update_group at its end, one group per kind and hyper-parameters,
    so that a target applies them in one launch after the backward (the CUDA
    path). Moving an update later never changes what it computes: the
    gradients are computed from the parameters' values before the step, and
    nothing after the backward reads a parameter. Run before
    net-plan-memory, which then keeps the grouped gradients live until the
    group; the CPU pipeline leaves it out.

    ```mlir
    net.sgd_update %w, %dw momentum 9.000000e-01 : tensor<6x1x5x5xf32>
    ...
    return %loss, %correct
    // becomes
    ...
    net.update_group {
      net.sgd_update %w, %dw momentum 9.000000e-01 : tensor<6x1x5x5xf32>
    }
    return %loss, %correct
    ```
  }];
}

def NetExchangeGradients : Pass<"net-exchange-gradients", "::mlir::ModuleOp"> {
  let summary = "adds a data-parallel copy of each training step";
  let description = [{
    Data-parallel training (netrun under mpirun, docs/distributed.md) needs
    every gradient combined across the replicas before the optimizer
    applies it. This pass adds, beside each training step (@train_step,
    @head_train_step), a copy named `<step>_exchanged` in which each
    gradient is handed out by a net.exchange_start where its update stood,
    right after the backward produced it, so that its allreduce overlaps
    the rest of the backward (a net.zeros gradient, zero on every replica,
    is not handed out); a batch norm's running statistics are handed
    out after its net.batch_norm_train. One net.exchange_wait follows the
    backward, and the updates, in their order, after it (with a net.zeros
    gradient that only updates read, made right before the first of them,
    so that it is not live across the exchange). The step itself is
    left as it is: a single process updates each parameter while its
    gradient is in cache. Run before net-group-updates and net-plan-memory
    (which keeps the copy's gradients live until their updates).

    ```mlir
    net.adam_update %w, %dw ... : tensor<10x84xf32>
    ...
    return %loss, %correct
    // the copy:
    net.exchange_start %w, %dw : tensor<10x84xf32>
    ...
    net.exchange_wait
    net.adam_update %w, %dw ... : tensor<10x84xf32>
    return %loss, %correct
    ```
  }];
}

def NetPlanMemory : Pass<"net-plan-memory", "::mlir::ModuleOp"> {
  let summary = "places every intermediate tensor in one arena by liveness";
  let description = [{
    Gives each tensor an op produces (parameters aside) a slot
    `net.slot = array<i64: section, offset, size>` in floats. Section 0
    holds tensors with a batch dimension, its offsets and sizes counted per
    sample (the real offset is times the batch); section 1 holds tensors of
    fixed size (weight gradients); an op with several results gets one triple
    per result, in order. A slot is reused once its last reader has
    run: first fit, 16-float (64-byte) alignment. Each function gets
    `net.arena = array<i64: per_sample, fixed>`, the module the largest, so
    one allocation at instance creation serves every step.

    A view (net.flatten, net.reshape, and net.dropout, which only
    inference entry points keep) whose input and result are batched alike
    gets no slot: it is marked `net.view` and shares its input's storage,
    which stays live until the view's last reader. A gradient that a
    net.update_group reads lives until the group.
  }];
}

#endif // NET_TRANSFORMS_PASSES_TD
