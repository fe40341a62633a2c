// RUN: net-opt %s -split-input-file -net-autodiff | FileCheck %s

// A fused conv with a max pool: training keeps the argmax (the train form of
// the op), and its gradient is ONE fused backward op, not the unfused chain.
// The input needs no gradient; the dense head fuses its own backward too.

module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.0 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> {
    %w = net.param "conv2d_1.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
    %b = net.param "conv2d_1.bias" init("zeros") : tensor<4xf32>
    %y = net.fused_conv2d %x, %w, %b strides [1, 1] pads [1, 1, 1, 1] activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<?x4x4x4xf32>
    %f = net.flatten %y : (tensor<?x4x4x4xf32>) -> tensor<?x64xf32>
    %w2 = net.param "dense_1.kernel" init("glorot_uniform") : tensor<2x64xf32>
    %b2 = net.param "dense_1.bias" init("zeros") : tensor<2xf32>
    %z = net.fused_dense %f, %w2, %b2 activation none : (tensor<?x64xf32>, tensor<2x64xf32>, tensor<2xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @eval_step
// CHECK:         net.fused_conv2d %
// CHECK-NOT:     net.fused_conv2d_train

// CHECK-LABEL: func.func @train_step
// CHECK-SAME:    (%[[X:.*]]: tensor<?x1x8x8xf32>
// CHECK:         %[[Y:.*]], %[[ARGMAX:.*]] = net.fused_conv2d_train %[[X]], %[[W:.*]], %[[B:.*]] strides [1, 1] pads [1, 1, 1, 1] activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> (tensor<?x4x4x4xf32>, tensor<?x4x4x4xf32>)
// CHECK:         %[[DY:.*]] = net.softmax_cross_entropy_grad
// CHECK-NEXT:    %[[DX2:.*]], %[[DW2:.*]], %[[DB2:.*]], %{{.*}} = net.fused_dense_grad %[[DY]], %{{.*}}, %{{.*}}, %{{.*}} activation none
// CHECK-NEXT:    net.sgd_update %{{.*}}, %[[DB2]]
// CHECK-NEXT:    net.sgd_update %{{.*}}, %[[DW2]]
// CHECK-NEXT:    %[[DF:.*]] = net.reshape %[[DX2]]
// CHECK-NEXT:    %{{.*}}, %[[DW:.*]], %[[DB:.*]], %{{.*}} = net.fused_conv2d_grad %[[DF]], %[[X]], %[[W]], %[[Y]], %[[ARGMAX]] strides [1, 1] pads [1, 1, 1, 1] activation relu pool max {{.*}} -> (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<?x4x8x8xf32>)
// CHECK-NEXT:    net.sgd_update %[[B]], %[[DB]]
// CHECK-NEXT:    net.sgd_update %[[W]], %[[DW]]
// CHECK-NEXT:    return
// CHECK-NOT:     net.relu_grad
// CHECK-NOT:     net.max_pool2d_grad

// -----

// Without an activation or a max pool nothing needs keeping: the forward op
// stays as it is and its output stands in for `saved`.
module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.0 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x4xf32> {
    %w = net.param "c.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
    %y = net.fused_conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] activation none pool avg window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x4x4xf32>
    %g = net.global_avg_pool %y : (tensor<?x4x4x4xf32>) -> tensor<?x4xf32>
    %p = net.softmax %g : tensor<?x4xf32>
    return %p : tensor<?x4xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[Y:.*]] = net.fused_conv2d %
// CHECK:         net.fused_conv2d_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[Y]], %[[Y]]

// -----

// An activation with no pooling: the output is the activation's output, so
// it stands in for `saved` (no train form, no copy of it), and an average
// pooling after the activation still keeps one.
module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.0 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x4xf32> {
    %w = net.param "c.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
    %b = net.param "c.bias" init("zeros") : tensor<4xf32>
    %y = net.fused_conv2d %x, %w, %b strides [1, 1] pads [1, 1, 1, 1] activation relu pool none window [] stride [] padding [] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
    %w2 = net.param "d.kernel" init("glorot_uniform") : tensor<4x4x3x3xf32>
    %z = net.fused_conv2d %y, %w2 strides [1, 1] pads [1, 1, 1, 1] activation tanh pool avg window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<?x4x4x4xf32>
    %g = net.global_avg_pool %z : (tensor<?x4x4x4xf32>) -> tensor<?x4xf32>
    %p = net.softmax %g : tensor<?x4xf32>
    return %p : tensor<?x4xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[Y:.*]] = net.fused_conv2d %{{.*}} activation relu pool none
// CHECK:         %[[Z:.*]], %[[A:.*]] = net.fused_conv2d_train %[[Y]], %{{.*}} activation tanh pool avg
// CHECK:         net.fused_conv2d_grad %{{.*}}, %[[Y]], %{{.*}}, %[[Z]], %[[A]] {{.*}} activation tanh pool avg
// CHECK:         net.fused_conv2d_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[Y]], %[[Y]] {{.*}} activation relu pool none
