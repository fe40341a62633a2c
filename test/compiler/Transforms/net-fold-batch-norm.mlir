// RUN: net-opt %s -split-input-file -net-fold-batch-norm | FileCheck %s

// conv -> batch_norm in @forward: the batch norm is folded into the conv's
// weight and bias; @train_step keeps its batch norm.
// CHECK-LABEL: func.func @forward
// CHECK-SAME:    (%[[X:.*]]: tensor<?x3x8x8xf32>)
// CHECK:         %[[W:.*]] = net.param "c.kernel"
// CHECK:         %[[G:.*]] = net.param "bn.gamma"
// CHECK:         %[[W2:.*]], %[[B2:.*]] = net.fold_batch_norm %[[W]], %[[G]], %{{.*}}, %{{.*}}, %{{.*}} epsilon 1.001000e-05 : {{.*}} -> (tensor<4x3x3x3xf32>, tensor<4xf32>)
// CHECK-NEXT:    %[[C:.*]] = net.conv2d %[[X]], %[[W2]] strides [2, 2] pads [1, 1, 1, 1]
// CHECK-NEXT:    %[[Y:.*]] = net.bias_add %[[C]], %[[B2]]
// CHECK-NEXT:    net.relu %[[Y]]
// CHECK-NOT:     net.batch_norm
// CHECK-LABEL: func.func @train_step
// CHECK:         net.batch_norm
func.func @forward(%x: tensor<?x3x8x8xf32>) -> tensor<?x4x4x4xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") frozen : tensor<4x3x3x3xf32>
  %c = net.conv2d %x, %w strides [2, 2] pads [1, 1, 1, 1] : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x4x4xf32>
  %g = net.param "bn.gamma" init("ones") frozen : tensor<4xf32>
  %b = net.param "bn.beta" init("zeros") frozen : tensor<4xf32>
  %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
  %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
  %y = net.batch_norm %c, %g, %b, %m, %v epsilon 1.001000e-05 momentum 9.900000e-01 : (tensor<?x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x4x4xf32>
  %r = net.relu %y : tensor<?x4x4x4xf32>
  return %r : tensor<?x4x4x4xf32>
}
func.func @train_step(%x: tensor<?x3x8x8xf32>) -> tensor<?x4x4x4xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") frozen : tensor<4x3x3x3xf32>
  %c = net.conv2d %x, %w strides [2, 2] pads [1, 1, 1, 1] : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x4x4xf32>
  %g = net.param "bn.gamma" init("ones") frozen : tensor<4xf32>
  %b = net.param "bn.beta" init("zeros") frozen : tensor<4xf32>
  %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
  %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
  %y = net.batch_norm %c, %g, %b, %m, %v epsilon 1.001000e-05 momentum 9.900000e-01 : (tensor<?x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x4x4xf32>
  return %y : tensor<?x4x4x4xf32>
}

// -----

// After a fused conv with its bias (no activation, no pool), the bias is
// folded too; a batch norm after a relu, or whose input is read twice,
// stays.
// CHECK-LABEL: func.func @forward
// CHECK:         %[[W2:.*]], %[[B2:.*]] = net.fold_batch_norm %{{.*}} bias %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} epsilon
// CHECK:         net.relu
// CHECK-NEXT:    net.batch_norm
// CHECK:         net.add
func.func @forward(%x: tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") : tensor<4x4x3x3xf32>
  %cb = net.param "c.bias" init("zeros") : tensor<4xf32>
  %c = net.fused_conv2d %x, %w, %cb strides [1, 1] pads [1, 1, 1, 1] activation none pool none window [] stride [] padding [] : (tensor<?x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %g = net.param "bn.gamma" init("ones") : tensor<4xf32>
  %b = net.param "bn.beta" init("zeros") : tensor<4xf32>
  %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
  %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
  %y = net.batch_norm %c, %g, %b, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %r = net.relu %y : tensor<?x4x8x8xf32>
  %y2 = net.batch_norm %r, %g, %b, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %s = net.add %y2, %r : (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  return %s : tensor<?x4x8x8xf32>
}
