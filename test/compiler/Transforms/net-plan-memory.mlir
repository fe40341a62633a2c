// RUN: net-opt %s -split-input-file -net-plan-memory | FileCheck %s

// A chain: each tensor's slot is free again once its reader has run, so the
// chain ping-pongs between two slots. Sizes are per sample, rounded up to 16
// floats: 4x8x8 = 256, 4x4x4 = 64, 64, 2 -> 16.

// CHECK-LABEL: module attributes {net.arena = array<i64: 512, 0>}
// CHECK:       func.func @forward{{.*}} attributes {net.arena = array<i64: 512, 0>}
func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> {
  %k = net.param "conv2d_1.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
  // CHECK: net.param "conv2d_1.kernel"
  // CHECK-NOT: net.slot
  // CHECK: net.conv2d {{.*}} {net.slot = array<i64: 0, 0, 256>}
  %c = net.conv2d %x, %k strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
  // The relu cannot write over its own input: it goes after it.
  // CHECK: net.relu {{.*}} {net.slot = array<i64: 0, 256, 256>}
  %r = net.relu %c : tensor<?x4x8x8xf32>
  // The conv output is dead now: the pool reuses its slot.
  // CHECK: net.max_pool2d {{.*}} {net.slot = array<i64: 0, 0, 64>}
  %m = net.max_pool2d %r kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x4x8x8xf32>) -> tensor<?x4x4x4xf32>
  // A flatten is a view: no slot, and the pool's output lives as long as it.
  // CHECK: net.flatten {{.*}} {net.view}
  %f = net.flatten %m : (tensor<?x4x4x4xf32>) -> tensor<?x64xf32>
  %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<2x64xf32>
  // CHECK: net.dense {{.*}} {net.slot = array<i64: 0, 64, 16>}
  %y = net.dense %f, %w : (tensor<?x64xf32>, tensor<2x64xf32>) -> tensor<?x2xf32>
  // The pool's slot is free after the dense: the softmax takes it.
  // CHECK: net.softmax {{.*}} {net.slot = array<i64: 0, 0, 16>}
  %p = net.softmax %y : tensor<?x2xf32>
  return %p : tensor<?x2xf32>
}

// -----

// Fixed-size tensors (weight gradients) live in section 1; a value read late
// keeps its slot until then, so the peak is the largest set live at once.

// CHECK-LABEL: module attributes {net.arena = array<i64: 48, 48>}
func.func @step(%x: tensor<?x8xf32>, %dy: tensor<?x4xf32>) -> tensor<?x8xf32> {
  %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<4x8xf32>
  // CHECK: net.dense_grad_weight {{.*}} {net.slot = array<i64: 1, 0, 32>}
  %dw = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  // CHECK: net.bias_grad {{.*}} {net.slot = array<i64: 1, 32, 16>}
  %db = net.bias_grad %dy : (tensor<?x4xf32>) -> tensor<4xf32>
  // CHECK: net.dense_grad_input {{.*}} {net.slot = array<i64: 0, 0, 16>}
  %dx = net.dense_grad_input %dy, %w : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  // CHECK: net.relu {{.*}} {net.slot = array<i64: 0, 16, 16>}
  %r = net.relu %dx : tensor<?x8xf32>
  // %dx is still read below, so the add cannot take its slot.
  // CHECK: net.add {{.*}} {net.slot = array<i64: 0, 32, 16>}
  %s = net.add %r, %dx : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  // CHECK: net.sgd_update
  net.sgd_update %w, %dw momentum 0.000000e+00 : tensor<4x8xf32>
  // The relu's output was last read by the add: the product takes its slot.
  // CHECK: net.mul {{.*}} {net.slot = array<i64: 0, 16, 16>}
  %t = net.mul %s, %dx : tensor<?x8xf32>
  return %t : tensor<?x8xf32>
}

// -----

// Without net-group-updates (the CPU plan) a gradient is free once its update
// has run: the second gradient takes the first one's slot.

// CHECK-LABEL: module attributes {net.arena = array<i64: 0, 32>}
func.func @updates(%dy: tensor<?x4xf32>, %x: tensor<?x8xf32>) {
  %w1 = net.param "dense_1.kernel" init("glorot_uniform") : tensor<4x8xf32>
  %w2 = net.param "dense_2.kernel" init("glorot_uniform") : tensor<4x8xf32>
  // CHECK: net.dense_grad_weight {{.*}} {net.slot = array<i64: 1, 0, 32>}
  %dw1 = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  net.sgd_update %w1, %dw1 momentum 0.000000e+00 : tensor<4x8xf32>
  // CHECK: net.dense_grad_weight {{.*}} {net.slot = array<i64: 1, 0, 32>}
  %dw2 = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  net.sgd_update %w2, %dw2 momentum 0.000000e+00 : tensor<4x8xf32>
  return
}

// -----

// A gradient a net.update_group reads (the CUDA plan) lives until the group:
// the second gradient cannot take the first one's slot.

// CHECK-LABEL: module attributes {net.arena = array<i64: 0, 64>}
func.func @grouped(%dy: tensor<?x4xf32>, %x: tensor<?x8xf32>) {
  %w1 = net.param "dense_1.kernel" init("glorot_uniform") : tensor<4x8xf32>
  %w2 = net.param "dense_2.kernel" init("glorot_uniform") : tensor<4x8xf32>
  // CHECK: net.dense_grad_weight {{.*}} {net.slot = array<i64: 1, 0, 32>}
  %dw1 = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  // CHECK: net.dense_grad_weight {{.*}} {net.slot = array<i64: 1, 32, 32>}
  %dw2 = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  net.update_group {
    net.sgd_update %w1, %dw1 momentum 0.000000e+00 : tensor<4x8xf32>
    net.sgd_update %w2, %dw2 momentum 0.000000e+00 : tensor<4x8xf32>
  }
  return
}

// -----

// Views chain: inference dropout of a flatten of a relu's output keeps the
// relu's slot live until the views' last reader.

// CHECK-LABEL: module attributes {net.arena = array<i64: 48, 0>}
func.func @views(%x: tensor<?x1x4x4xf32>) -> tensor<?x16xf32> {
  // CHECK: net.relu {{.*}} {net.slot = array<i64: 0, 0, 16>}
  %r = net.relu %x : tensor<?x1x4x4xf32>
  // CHECK: net.flatten {{.*}} {net.view}
  %f = net.flatten %r : (tensor<?x1x4x4xf32>) -> tensor<?x16xf32>
  // CHECK: net.dropout {{.*}} {net.view}
  %d = net.dropout %f rate 5.000000e-01 : tensor<?x16xf32>
  // The relu's output is still read by the add through the views.
  // CHECK: net.sigmoid {{.*}} {net.slot = array<i64: 0, 16, 16>}
  %s = net.sigmoid %d : tensor<?x16xf32>
  // CHECK: net.add {{.*}} {net.slot = array<i64: 0, 32, 16>}
  %a = net.add %s, %d : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}
