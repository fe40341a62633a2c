// RUN: net-opt %s -split-input-file -net-exchange-gradients | FileCheck %s

// @train_step gets a data-parallel copy: each gradient is handed out where
// its update stood, and the updates follow one wait at the end. The step
// itself keeps each update right after its gradient.

// CHECK-LABEL: func.func @train_step(
// CHECK:       net.dense_grad_weight
// CHECK-NEXT:  net.adam_update
// CHECK-NOT:   net.exchange
// CHECK:       return
// CHECK-LABEL: func.func @train_step_exchanged(
// CHECK:       %[[DW:.*]] = net.dense_grad_weight
// CHECK-NEXT:  net.exchange_start %[[W:[0-9]+]], %[[DW]] : tensor<4x8xf32>
// CHECK-NEXT:  %[[DB:.*]] = net.bias_grad
// CHECK-NEXT:  net.exchange_start %[[B:[0-9]+]], %[[DB]] : tensor<4xf32>
// CHECK-NEXT:  net.exchange_wait
// CHECK-NEXT:  net.adam_update %[[W]], %[[DW]]
// CHECK-NEXT:  net.adam_update %[[B]], %[[DB]]
// CHECK-NEXT:  return
func.func @train_step(%x: tensor<?x8xf32>, %dy: tensor<?x4xf32>) {
  %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<4x8xf32>
  %b = net.param "dense_1.bias" init("zeros") : tensor<4xf32>
  %dw = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  net.adam_update %w, %dw beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4x8xf32>
  %db = net.bias_grad %dy : (tensor<?x4xf32>) -> tensor<4xf32>
  net.adam_update %b, %db beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4xf32>
  return
}

// -----

// A batch norm trained on the batch's statistics updates its running
// statistics in place: they are handed out too, right after, to be averaged
// over the ranks. The head's step of a split model gets its copy as well.

// CHECK-LABEL: func.func @head_train_step_exchanged(
// CHECK:       %{{.*}}, %{{.*}}, %{{.*}} = net.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}}, %[[M:[0-9]+]], %[[V:[0-9]+]]
// CHECK-NEXT:  net.exchange_start %[[M]], %[[M]] : tensor<4xf32>
// CHECK-NEXT:  net.exchange_start %[[V]], %[[V]] : tensor<4xf32>
// CHECK:       net.exchange_start %{{.*}}, %{{.*}} : tensor<4xf32>
// CHECK-NEXT:  net.exchange_wait
// CHECK-NEXT:  net.sgd_update
func.func @head_train_step(%x: tensor<?x4x8x8xf32>, %dg: tensor<4xf32>) {
  %g = net.param "bn.gamma" init("ones") : tensor<4xf32>
  %b = net.param "bn.beta" init("zeros") : tensor<4xf32>
  %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
  %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
  %y, %mu, %istd = net.batch_norm_train %x, %g, %b, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>)
  net.sgd_update %g, %dg momentum 0.000000e+00 : tensor<4xf32>
  return
}

// -----

// A gradient that is exactly zero (net.zeros: a bias before a trained batch
// norm) is zero on every replica, so it is not handed out; its update still
// follows the wait with the others, and the zeros move with their first
// update, so that they are not live across the exchange. Zeros shared by two
// updates move once.

// CHECK-LABEL: func.func @train_step_exchanged(
// CHECK-NOT:   net.zeros
// CHECK:       %[[DW:.*]] = net.dense_grad_weight
// CHECK-NEXT:  net.exchange_start %[[W:[0-9]+]], %[[DW]] : tensor<4x8xf32>
// CHECK-NEXT:  net.exchange_wait
// CHECK-NEXT:  %[[Z:.*]] = net.zeros : tensor<4xf32>
// CHECK-NEXT:  net.adam_update %[[B:[0-9]+]], %[[Z]]
// CHECK-NEXT:  net.adam_update %[[C:[0-9]+]], %[[Z]]
// CHECK-NEXT:  net.adam_update %[[W]], %[[DW]]
// CHECK-NEXT:  return
func.func @train_step(%x: tensor<?x8xf32>, %dy: tensor<?x4xf32>) {
  %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<4x8xf32>
  %b = net.param "dense_1.bias" init("zeros") : tensor<4xf32>
  %c = net.param "dense_2.bias" init("zeros") : tensor<4xf32>
  %zero = net.zeros : tensor<4xf32>
  net.adam_update %b, %zero beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4xf32>
  net.adam_update %c, %zero beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4xf32>
  %dw = net.dense_grad_weight %dy, %x : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<4x8xf32>
  net.adam_update %w, %dw beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4x8xf32>
  return
}

// -----

// Without a training step (an inference-only module) nothing is added.

// CHECK-LABEL: func.func @forward
// CHECK-NOT:   exchanged
func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %r = net.relu %x : tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
