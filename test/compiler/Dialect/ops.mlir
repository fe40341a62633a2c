// RUN: net-opt %s | net-opt | FileCheck %s

// Every net op survives a print/parse round trip.

// CHECK-LABEL: func.func @params
func.func @params() -> (tensor<6x1x5x5xf32>, tensor<6xf32>) {
  // CHECK: net.param "conv2d_1.kernel" init("glorot_uniform") : tensor<6x1x5x5xf32>
  %w = net.param "conv2d_1.kernel" init("glorot_uniform") : tensor<6x1x5x5xf32>
  // CHECK: net.param "bn_1.mean" init("zeros") frozen : tensor<6xf32>
  %m = net.param "bn_1.mean" init("zeros") frozen : tensor<6xf32>
  return %w, %m : tensor<6x1x5x5xf32>, tensor<6xf32>
}

// CHECK-LABEL: func.func @conv_bias_relu
func.func @conv_bias_relu(%x: tensor<?x1x28x28xf32>) -> tensor<?x6x28x28xf32> {
  %w = net.param "c.kernel" init("he_normal") : tensor<6x1x5x5xf32>
  %b = net.param "c.bias" init("zeros") : tensor<6xf32>
  // CHECK: net.conv2d %{{.*}}, %{{.*}} strides [1, 1] pads [2, 2, 2, 2] : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x28x28xf32>
  %c = net.conv2d %x, %w strides [1, 1] pads [2, 2, 2, 2]
      : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x28x28xf32>
  // CHECK: net.bias_add %{{.*}}, %{{.*}} : (tensor<?x6x28x28xf32>, tensor<6xf32>) -> tensor<?x6x28x28xf32>
  %y = net.bias_add %c, %b : (tensor<?x6x28x28xf32>, tensor<6xf32>) -> tensor<?x6x28x28xf32>
  // CHECK: net.relu %{{.*}} : tensor<?x6x28x28xf32>
  %r = net.relu %y : tensor<?x6x28x28xf32>
  return %r : tensor<?x6x28x28xf32>
}

// CHECK-LABEL: func.func @strided_conv_static_batch
func.func @strided_conv_static_batch(%x: tensor<8x3x224x224xf32>, %w: tensor<64x3x7x7xf32>) -> tensor<8x64x112x112xf32> {
  // CHECK: net.conv2d %{{.*}}, %{{.*}} strides [2, 2] pads [3, 3, 2, 2] : (tensor<8x3x224x224xf32>, tensor<64x3x7x7xf32>) -> tensor<8x64x112x112xf32>
  %c = net.conv2d %x, %w strides [2, 2] pads [3, 3, 2, 2]
      : (tensor<8x3x224x224xf32>, tensor<64x3x7x7xf32>) -> tensor<8x64x112x112xf32>
  return %c : tensor<8x64x112x112xf32>
}

// CHECK-LABEL: func.func @pools
func.func @pools(%x: tensor<?x6x28x28xf32>) -> (tensor<?x6x14x14xf32>, tensor<?x6x14x14xf32>, tensor<?x6xf32>) {
  // CHECK: net.max_pool2d %{{.*}} kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
  %m = net.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0]
      : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
  // CHECK: net.avg_pool2d %{{.*}} kernel [3, 3] strides [2, 2] pads [1, 1, 0, 0] : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
  %a = net.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 0, 0]
      : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
  // CHECK: net.global_avg_pool %{{.*}} : (tensor<?x6x28x28xf32>) -> tensor<?x6xf32>
  %g = net.global_avg_pool %x : (tensor<?x6x28x28xf32>) -> tensor<?x6xf32>
  return %m, %a, %g : tensor<?x6x14x14xf32>, tensor<?x6x14x14xf32>, tensor<?x6xf32>
}

// CHECK-LABEL: func.func @head
func.func @head(%x: tensor<?x16x5x5xf32>, %labels: tensor<?xi32>) -> tensor<f32> {
  %w = net.param "d.kernel" init("glorot_uniform") : tensor<10x400xf32>
  // CHECK: net.flatten %{{.*}} : (tensor<?x16x5x5xf32>) -> tensor<?x400xf32>
  %f = net.flatten %x : (tensor<?x16x5x5xf32>) -> tensor<?x400xf32>
  // CHECK: net.dropout %{{.*}} rate 5.000000e-01 : tensor<?x400xf32>
  %d = net.dropout %f rate 0.5 : tensor<?x400xf32>
  // CHECK: net.dense %{{.*}}, %{{.*}} : (tensor<?x400xf32>, tensor<10x400xf32>) -> tensor<?x10xf32>
  %y = net.dense %d, %w : (tensor<?x400xf32>, tensor<10x400xf32>) -> tensor<?x10xf32>
  // CHECK: net.sigmoid %{{.*}} : tensor<?x10xf32>
  %s = net.sigmoid %y : tensor<?x10xf32>
  // CHECK: net.tanh %{{.*}} : tensor<?x10xf32>
  %t = net.tanh %s : tensor<?x10xf32>
  // CHECK: net.softmax %{{.*}} : tensor<?x10xf32>
  %p = net.softmax %t : tensor<?x10xf32>
  // CHECK: net.cross_entropy %{{.*}}, %{{.*}} : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<f32>
  %loss = net.cross_entropy %p, %labels : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// CHECK-LABEL: func.func @residual
func.func @residual(%x: tensor<?x64x56x56xf32>) -> tensor<?x64x56x56xf32> {
  %g = net.param "bn.gamma" init("ones") : tensor<64xf32>
  %b = net.param "bn.beta" init("zeros") : tensor<64xf32>
  %m = net.param "bn.mean" init("zeros") frozen : tensor<64xf32>
  %v = net.param "bn.variance" init("ones") frozen : tensor<64xf32>
  // CHECK: net.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} epsilon 1.000000e-03 momentum 0.98999999999999999 : (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64x56x56xf32>
  %n = net.batch_norm %x, %g, %b, %m, %v epsilon 1.0e-3 momentum 0.99
      : (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64x56x56xf32>
  // CHECK: net.add %{{.*}}, %{{.*}} : (tensor<?x64x56x56xf32>, tensor<?x64x56x56xf32>) -> tensor<?x64x56x56xf32>
  %y = net.add %n, %x : (tensor<?x64x56x56xf32>, tensor<?x64x56x56xf32>) -> tensor<?x64x56x56xf32>
  return %y : tensor<?x64x56x56xf32>
}

// CHECK-LABEL: func.func @dense_batch_norm
func.func @dense_batch_norm(%x: tensor<4x128xf32>, %p: tensor<128xf32>) -> tensor<4x128xf32> {
  // CHECK: net.batch_norm {{.*}} : (tensor<4x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<4x128xf32>
  %n = net.batch_norm %x, %p, %p, %p, %p epsilon 1.0e-5 momentum 0.0
      : (tensor<4x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<4x128xf32>
  return %n : tensor<4x128xf32>
}
