//===- Passes.td - the net dialect's passes ----------------*- tablegen -*-===//

#ifndef NET_TRANSFORMS_PASSES_TD
#define NET_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NetAutodiff : Pass<"net-autodiff", "::mlir::ModuleOp"> {
  let summary = "builds the training and evaluation steps from @forward";
  let description = [{
    Adds `@train_step(input, labels) -> (loss, correct)`: the forward ops
    (dropout as a fresh mask times its input), the cross-entropy loss and the
    correct count, the backward op of every op that a trainable parameter
    depends on, and the optimizer update of each trainable parameter, placed
    right after its gradient is complete. Frozen parameters get no gradient,
    and the backward stops where nothing trainable lies behind it. Also adds
    `@eval_step(input, labels) -> (loss, correct)`.

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
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def NetPlanMemory : Pass<"net-plan-memory", "::mlir::ModuleOp"> {
  let summary = "places every intermediate tensor in one arena by liveness";
  let description = [{
    Gives each tensor an op produces (parameters aside) a slot
    `net.slot = array<i64: section, offset, size>` in floats. Section 0
    holds tensors with a batch dimension, its offsets and sizes counted per
    sample (the real offset is times the batch); section 1 holds tensors of
    fixed size (weight gradients). A slot is reused once its last reader has
    run: first fit, 16-float (64-byte) alignment. Each function gets
    `net.arena = array<i64: per_sample, fixed>`, the module the largest, so
    one allocation at instance creation serves every step.
  }];
}

#endif // NET_TRANSFORMS_PASSES_TD
