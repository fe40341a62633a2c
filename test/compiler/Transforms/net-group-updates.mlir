// RUN: net-opt %s -split-input-file -net-group-updates | FileCheck %s

// A step's updates move, in order, into one group at its end; the backward
// between them stays where it was.

// CHECK-LABEL: func.func @step
// CHECK:       net.dense_grad_weight
// CHECK-NEXT:  net.bias_grad
// CHECK-NEXT:  net.update_group {
// CHECK-NEXT:    net.adam_update %{{.*}}, %[[DW:[0-9]+]]
// CHECK-NEXT:    net.adam_update
// CHECK-NEXT:  }
// CHECK-NEXT:  return
func.func @step(%x: tensor<?x8xf32>, %dy: tensor<?x4xf32>) {
  %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<4x8xf32>
  %b = net.param "dense_1.bias" init("zeros") : tensor<4xf32>
  %dw = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  net.adam_update %w, %dw beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4x8xf32>
  %db = net.bias_grad %dy : (tensor<?x4xf32>) -> tensor<4xf32>
  net.adam_update %b, %db beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4xf32>
  return
}

// -----

// Different kinds or hyper-parameters go to groups of their own, in the
// order of each group's first update.

// CHECK-LABEL: func.func @kinds
// CHECK:       net.update_group {
// CHECK-NEXT:    net.sgd_update {{.*}} momentum 9.000000e-01 : tensor<4x8xf32>
// CHECK-NEXT:    net.sgd_update {{.*}} momentum 9.000000e-01 : tensor<4xf32>
// CHECK-NEXT:  }
// CHECK-NEXT:  net.update_group {
// CHECK-NEXT:    net.sgd_update {{.*}} momentum 9.000000e-01 nesterov : tensor<4x8xf32>
// CHECK-NEXT:  }
// CHECK-NEXT:  return
func.func @kinds(%g: tensor<4x8xf32>, %h: tensor<4xf32>) {
  %w = net.param "w" init("zeros") : tensor<4x8xf32>
  %v = net.param "v" init("zeros") : tensor<4x8xf32>
  %b = net.param "b" init("zeros") : tensor<4xf32>
  net.sgd_update %w, %g momentum 9.000000e-01 : tensor<4x8xf32>
  net.sgd_update %v, %g momentum 9.000000e-01 nesterov : tensor<4x8xf32>
  net.sgd_update %b, %h momentum 9.000000e-01 : tensor<4xf32>
  return
}

// -----

// A function without updates (the forward) is left as it is.

// CHECK-LABEL: func.func @forward
// CHECK-NOT:   net.update_group
func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %r = net.relu %x : tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
