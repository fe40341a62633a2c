// RUN: net-opt %s | net-opt | FileCheck %s

// Round trip of the ops the passes build: gradients, dropout masks, updates,
// and the fused ops with their backward.

// CHECK-LABEL: func.func @gradients
func.func @gradients(%x: tensor<?x1x8x8xf32>, %dy: tensor<?x4x8x8xf32>, %labels: tensor<?xi32>,
                     %p: tensor<?x10xf32>) {
  %w = net.param "c.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
  // CHECK: net.conv2d_grad_input %{{.*}}, %{{.*}} strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x1x8x8xf32>
  %dx = net.conv2d_grad_input %dy, %w strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x1x8x8xf32>
  // CHECK: net.conv2d_grad_weight
  %dw = net.conv2d_grad_weight %dy, %x strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x4x8x8xf32>, tensor<?x1x8x8xf32>) -> tensor<4x1x3x3xf32>
  // CHECK: net.bias_grad
  %db = net.bias_grad %dy : (tensor<?x4x8x8xf32>) -> tensor<4xf32>
  // CHECK: net.relu_grad
  %r = net.relu_grad %dy, %dy : tensor<?x4x8x8xf32>
  // CHECK: net.max_pool2d_grad
  %dm = net.max_pool2d_grad %dy, %dy kernel [3, 3] strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: net.dropout_mask rate 5.000000e-01 stream 3 : tensor<?x4x8x8xf32>
  %m = net.dropout_mask rate 5.000000e-01 stream 3 : tensor<?x4x8x8xf32>
  // CHECK: net.mul
  %y = net.mul %dy, %m : tensor<?x4x8x8xf32>
  // CHECK: net.count_correct
  %c = net.count_correct %p, %labels : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<i32>
  // CHECK: net.softmax_cross_entropy_grad
  %g = net.softmax_cross_entropy_grad %p, %labels : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<?x10xf32>
  // CHECK: net.sgd_update {{.*}} momentum 9.000000e-01 nesterov : tensor<4x1x3x3xf32>
  net.sgd_update %w, %dw momentum 9.000000e-01 nesterov : tensor<4x1x3x3xf32>
  // CHECK: net.adam_update
  net.adam_update %w, %dw beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4x1x3x3xf32>
  // CHECK:      net.update_group {
  // CHECK-NEXT:   net.sgd_update {{.*}} momentum 9.000000e-01 : tensor<4x1x3x3xf32>
  // CHECK-NEXT:   net.sgd_update {{.*}} momentum 9.000000e-01 : tensor<4x1x3x3xf32>
  // CHECK-NEXT: }
  net.update_group {
    net.sgd_update %w, %dw momentum 9.000000e-01 : tensor<4x1x3x3xf32>
    net.sgd_update %w, %dw momentum 9.000000e-01 : tensor<4x1x3x3xf32>
  }
  return
}

// CHECK-LABEL: func.func @fused
func.func @fused(%x: tensor<?x1x8x8xf32>, %dy: tensor<?x4x4x4xf32>) {
  %w = net.param "c.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
  %b = net.param "c.bias" init("zeros") : tensor<4xf32>
  // CHECK: net.fused_conv2d_train {{.*}} activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0]
  %y, %s = net.fused_conv2d_train %x, %w, %b strides [1, 1] pads [1, 1, 1, 1] activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> (tensor<?x4x4x4xf32>, tensor<?x4x4x4xf32>)
  // CHECK: net.fused_conv2d_grad
  %dx, %dw, %db, %dz = net.fused_conv2d_grad %dy, %x, %w, %y, %s strides [1, 1] pads [1, 1, 1, 1] activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x4x4x4xf32>, tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<?x4x4x4xf32>, tensor<?x4x4x4xf32>) -> (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<?x4x8x8xf32>)
  %g = net.param "bn.gamma" init("ones") frozen : tensor<4xf32>
  // CHECK: net.fold_batch_norm %{{.*}} bias %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} epsilon
  %w2, %b2 = net.fold_batch_norm %w bias %b, %g, %g, %g, %g epsilon 1.000000e-03 : (tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4x1x3x3xf32>, tensor<4xf32>)
  return
}

// CHECK-LABEL: func.func @batch_norm_training
func.func @batch_norm_training(%x: tensor<?x4x8x8xf32>, %dy: tensor<?x4x8x8xf32>) {
  %g = net.param "bn.gamma" init("ones") : tensor<4xf32>
  %b = net.param "bn.beta" init("zeros") : tensor<4xf32>
  %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
  %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
  // CHECK: net.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} epsilon 1.000000e-03 momentum
  %y, %mu, %istd = net.batch_norm_train %x, %g, %b, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>)
  // CHECK: net.batch_norm_train_grad
  %dx, %dg, %db = net.batch_norm_train_grad %dy, %x, %g, %mu, %istd : (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}
