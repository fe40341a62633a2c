// RUN: net-opt %s -split-input-file -net-fuse-conv-bias-act-pool | FileCheck %s

// conv + bias + relu + a 2x2/2 max pool that tiles the 28x28 output: one op.
// CHECK-LABEL: func.func @full_chain
// CHECK-SAME:    (%[[X:.*]]: tensor<?x1x28x28xf32>)
// CHECK:         %[[W:.*]] = net.param "conv2d_1.kernel"
// CHECK:         %[[B:.*]] = net.param "conv2d_1.bias"
// CHECK-NEXT:    %[[Y:.*]] = net.fused_conv2d %[[X]], %[[W]], %[[B]] strides [1, 1] pads [2, 2, 2, 2] activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<?x6x14x14xf32>
// CHECK-NEXT:    return %[[Y]]
// CHECK-NOT:     net.conv2d
func.func @full_chain(%x: tensor<?x1x28x28xf32>) -> tensor<?x6x14x14xf32> {
  %w = net.param "conv2d_1.kernel" init("glorot_uniform") : tensor<6x1x5x5xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [2, 2, 2, 2] : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x28x28xf32>
  %b = net.param "conv2d_1.bias" init("zeros") : tensor<6xf32>
  %a = net.bias_add %c, %b : (tensor<?x6x28x28xf32>, tensor<6xf32>) -> tensor<?x6x28x28xf32>
  %r = net.relu %a : tensor<?x6x28x28xf32>
  %p = net.max_pool2d %r kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
  return %p : tensor<?x6x14x14xf32>
}

// -----

// Average pooling and tanh; a conv followed only by a pool fuses too.
// CHECK-LABEL: func.func @avg_and_bare_pool
// CHECK:         net.fused_conv2d %{{.*}}, %{{.*}}, %{{.*}} {{.*}} activation tanh pool avg window [2, 2]
// CHECK:         net.fused_conv2d %{{.*}}, %{{.*}} strides {{.*}} activation none pool max window [2, 2]
// CHECK-NOT:     net.avg_pool2d
// CHECK-NOT:     net.max_pool2d
func.func @avg_and_bare_pool(%x: tensor<?x1x8x8xf32>) -> tensor<?x4x2x2xf32> {
  %w = net.param "c1.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
  %b = net.param "c1.bias" init("zeros") : tensor<4xf32>
  %a = net.bias_add %c, %b : (tensor<?x4x8x8xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %t = net.tanh %a : tensor<?x4x8x8xf32>
  %p = net.avg_pool2d %t kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x4x8x8xf32>) -> tensor<?x4x4x4xf32>
  %w2 = net.param "c2.kernel" init("glorot_uniform") : tensor<4x4x1x1xf32>
  %c2 = net.conv2d %p, %w2 strides [1, 1] pads [0, 0, 0, 0] : (tensor<?x4x4x4xf32>, tensor<4x4x1x1xf32>) -> tensor<?x4x4x4xf32>
  %q = net.max_pool2d %c2 kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x4x4x4xf32>) -> tensor<?x4x2x2xf32>
  return %q : tensor<?x4x2x2xf32>
}

// -----

// A conv output used twice (a residual branch) must stay whole: nothing fuses.
// CHECK-LABEL: func.func @conv_used_twice
// CHECK-NOT:     net.fused_conv2d
// CHECK:         net.conv2d
// CHECK:         net.bias_add
// CHECK:         net.add
func.func @conv_used_twice(%x: tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") : tensor<4x4x3x3xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<?x4x8x8xf32>
  %b = net.param "c.bias" init("zeros") : tensor<4xf32>
  %a = net.bias_add %c, %b : (tensor<?x4x8x8xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %s = net.add %a, %c : (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  return %s : tensor<?x4x8x8xf32>
}

// -----

// The activation's output is read twice: conv + bias + relu fuse, the pool
// stays outside (it would hide the activation the add needs).
// CHECK-LABEL: func.func @activation_used_twice
// CHECK:         %[[F:.*]] = net.fused_conv2d {{.*}} activation relu pool none window [] stride [] padding []
// CHECK-NEXT:    net.max_pool2d %[[F]]
func.func @activation_used_twice(%x: tensor<?x1x8x8xf32>) -> (tensor<?x4x4x4xf32>, tensor<?x4x8x8xf32>) {
  %w = net.param "c.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
  %b = net.param "c.bias" init("zeros") : tensor<4xf32>
  %a = net.bias_add %c, %b : (tensor<?x4x8x8xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %r = net.relu %a : tensor<?x4x8x8xf32>
  %p = net.max_pool2d %r kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x4x8x8xf32>) -> tensor<?x4x4x4xf32>
  return %p, %r : tensor<?x4x4x4xf32>, tensor<?x4x8x8xf32>
}

// -----

// A pool whose window does not tile the conv output (11x11 by 2x2/2, as in
// the TensorFlow tutorial CNN) stays outside; so does a padded pool.
// CHECK-LABEL: func.func @pool_not_tiling
// CHECK:         %[[F:.*]] = net.fused_conv2d {{.*}} activation relu pool none
// CHECK-NEXT:    net.max_pool2d %[[F]] kernel [2, 2] strides [2, 2]
func.func @pool_not_tiling(%x: tensor<?x32x13x13xf32>) -> tensor<?x64x5x5xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") : tensor<64x32x3x3xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] : (tensor<?x32x13x13xf32>, tensor<64x32x3x3xf32>) -> tensor<?x64x11x11xf32>
  %b = net.param "c.bias" init("zeros") : tensor<64xf32>
  %a = net.bias_add %c, %b : (tensor<?x64x11x11xf32>, tensor<64xf32>) -> tensor<?x64x11x11xf32>
  %r = net.relu %a : tensor<?x64x11x11xf32>
  %p = net.max_pool2d %r kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x64x11x11xf32>) -> tensor<?x64x5x5xf32>
  return %p : tensor<?x64x5x5xf32>
}

// CHECK-LABEL: func.func @pool_with_padding
// CHECK:         %[[F:.*]] = net.fused_conv2d {{.*}} activation relu pool none
// CHECK-NEXT:    net.max_pool2d %[[F]] kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1]
func.func @pool_with_padding(%x: tensor<?x3x16x16xf32>) -> tensor<?x8x8x8xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") : tensor<8x3x3x3xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x3x16x16xf32>, tensor<8x3x3x3xf32>) -> tensor<?x8x16x16xf32>
  %r = net.relu %c : tensor<?x8x16x16xf32>
  %p = net.max_pool2d %r kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] : (tensor<?x8x16x16xf32>) -> tensor<?x8x8x8xf32>
  return %p : tensor<?x8x8x8xf32>
}

// -----

// A frozen weight with a trainable bias (or the reverse) is not fused: the
// fused backward computes both gradients or neither.
// CHECK-LABEL: func.func @frozen_trainable_mix
// CHECK-NOT:     net.fused_conv2d
// CHECK:         net.conv2d
// CHECK-NEXT:    net.param "c.bias"
// CHECK-NEXT:    net.bias_add
// CHECK-NEXT:    net.relu
func.func @frozen_trainable_mix(%x: tensor<?x1x8x8xf32>) -> tensor<?x4x8x8xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") frozen : tensor<4x1x3x3xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
  %b = net.param "c.bias" init("zeros") : tensor<4xf32>
  %a = net.bias_add %c, %b : (tensor<?x4x8x8xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %r = net.relu %a : tensor<?x4x8x8xf32>
  return %r : tensor<?x4x8x8xf32>
}

// CHECK-LABEL: func.func @all_frozen
// CHECK:         net.fused_conv2d {{.*}} activation sigmoid pool none
func.func @all_frozen(%x: tensor<?x1x8x8xf32>) -> tensor<?x4x8x8xf32> {
  %w = net.param "c.kernel" init("glorot_uniform") frozen : tensor<4x1x3x3xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
  %b = net.param "c.bias" init("zeros") frozen : tensor<4xf32>
  %a = net.bias_add %c, %b : (tensor<?x4x8x8xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %r = net.sigmoid %a : tensor<?x4x8x8xf32>
  return %r : tensor<?x4x8x8xf32>
}
