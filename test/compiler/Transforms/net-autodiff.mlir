// RUN: net-opt %s -split-input-file -net-autodiff | FileCheck %s

// A dense layer with bias and softmax, trained with Adam: the loss's gradient
// enters at the softmax's input, each parameter is updated right after its
// gradient, and the input (nothing trainable behind it) gets no gradient.

module attributes {net.train = {optimizer = {name = "adam", beta1 = 9.0e-01 : f64, beta2 = 9.99e-01 : f64, epsilon = 1.0e-07 : f64, lr = 1.0e-03 : f64}}} {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x3xf32> {
    %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<3x4xf32>
    %y = net.dense %x, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
    %b = net.param "dense_1.bias" init("zeros") : tensor<3xf32>
    %z = net.bias_add %y, %b : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %p = net.softmax %z : tensor<?x3xf32>
    return %p : tensor<?x3xf32>
  }
}

// CHECK-LABEL: func.func @eval_step
// CHECK-SAME:    (%[[X:.*]]: tensor<?x4xf32>, %[[L:.*]]: tensor<?xi32>) -> (tensor<f32>, tensor<i32>)
// CHECK:         %[[P:.*]] = net.softmax
// CHECK-NEXT:    %[[LOSS:.*]] = net.cross_entropy %[[P]], %[[L]]
// CHECK-NEXT:    %[[C:.*]] = net.count_correct %[[P]], %[[L]]
// CHECK-NEXT:    return %[[LOSS]], %[[C]]

// CHECK-LABEL: func.func @train_step
// CHECK-SAME:    (%[[X:.*]]: tensor<?x4xf32>, %[[L:.*]]: tensor<?xi32>)
// CHECK:         %[[W:.*]] = net.param "dense_1.kernel"
// CHECK:         %[[B:.*]] = net.param "dense_1.bias"
// CHECK:         %[[P:.*]] = net.softmax
// CHECK:         %[[DZ:.*]] = net.softmax_cross_entropy_grad %[[P]], %[[L]]
// CHECK-NEXT:    %[[DB:.*]] = net.bias_grad %[[DZ]] : (tensor<?x3xf32>) -> tensor<3xf32>
// CHECK-NEXT:    net.adam_update %[[B]], %[[DB]] beta1 9.000000e-01 beta2 {{.*}} epsilon {{.*}} : tensor<3xf32>
// CHECK-NEXT:    %[[DW:.*]] = net.dense_grad_weight %[[DZ]], %[[X]] : (tensor<?x3xf32>, tensor<?x4xf32>) -> tensor<3x4xf32>
// CHECK-NEXT:    net.adam_update %[[W]], %[[DW]]
// CHECK-NOT:     net.dense_grad_input
// CHECK-NEXT:    return

// -----

// A frozen convolution under a trainable head, with SGD: the backward stops at
// the frozen boundary, so nothing is computed for the frozen layer, the pool
// or the relu below the head, and only the head is updated.

module attributes {net.train = {optimizer = {name = "sgd", momentum = 9.0e-01 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> {
    %k = net.param "conv2d_1.kernel" init("glorot_uniform") frozen : tensor<4x1x3x3xf32>
    %c = net.conv2d %x, %k strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
    %r = net.relu %c : tensor<?x4x8x8xf32>
    %m = net.max_pool2d %r kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x4x8x8xf32>) -> tensor<?x4x4x4xf32>
    %f = net.flatten %m : (tensor<?x4x4x4xf32>) -> tensor<?x64xf32>
    %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<2x64xf32>
    %y = net.dense %f, %w : (tensor<?x64xf32>, tensor<2x64xf32>) -> tensor<?x2xf32>
    %p = net.softmax %y : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[F:.*]] = net.flatten
// CHECK:         %[[W:.*]] = net.param "dense_1.kernel"
// CHECK:         %[[DY:.*]] = net.softmax_cross_entropy_grad
// CHECK-NEXT:    %[[DW:.*]] = net.dense_grad_weight %[[DY]], %[[F]]
// CHECK-NEXT:    net.sgd_update %[[W]], %[[DW]] momentum 9.000000e-01 : tensor<2x64xf32>
// CHECK-NEXT:    return
// CHECK-NOT:     net.conv2d_grad
// CHECK-NOT:     net.max_pool2d_grad
// CHECK-NOT:     net.relu_grad
// CHECK-NOT:     conv2d_1.kernel"{{.*}}update

// -----

// Every layer trainable: convolution, relu, max and average pooling, dropout,
// a residual add whose input is used twice (its gradients accumulate), and
// flatten. Dropout becomes a mask in training and disappears in evaluation.

module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.0 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> {
    %k = net.param "conv2d_1.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
    %c = net.conv2d %x, %k strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
    %r = net.relu %c : tensor<?x4x8x8xf32>
    %k2 = net.param "conv2d_2.kernel" init("glorot_uniform") : tensor<4x4x3x3xf32>
    %c2 = net.conv2d %r, %k2 strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x4x8x8xf32>, tensor<4x4x3x3xf32>) -> tensor<?x4x8x8xf32>
    %s = net.add %c2, %r : (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
    %m = net.max_pool2d %s kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x4x8x8xf32>) -> tensor<?x4x4x4xf32>
    %a = net.avg_pool2d %m kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x4x4x4xf32>) -> tensor<?x4x2x2xf32>
    %d = net.dropout %a rate 2.500000e-01 : tensor<?x4x2x2xf32>
    %f = net.flatten %d : (tensor<?x4x2x2xf32>) -> tensor<?x16xf32>
    %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<2x16xf32>
    %y = net.dense %f, %w : (tensor<?x16xf32>, tensor<2x16xf32>) -> tensor<?x2xf32>
    %p = net.softmax %y : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @eval_step
// CHECK-NOT:     net.dropout
// CHECK:         return

// CHECK-LABEL: func.func @train_step
// CHECK-SAME:    (%[[X:.*]]: tensor<?x1x8x8xf32>
// CHECK:         %[[R:.*]] = net.relu
// CHECK:         %[[MASK:.*]] = net.dropout_mask rate 2.500000e-01 stream 0 : tensor<?x4x2x2xf32>
// CHECK-NEXT:    %[[D:.*]] = net.mul %{{.*}}, %[[MASK]]
// CHECK-NEXT:    net.flatten %[[D]]
// CHECK:         %[[DY:.*]] = net.softmax_cross_entropy_grad
// CHECK:         %[[DF:.*]] = net.dense_grad_input %[[DY]]
// CHECK:         net.sgd_update
// CHECK-NEXT:    %[[DD:.*]] = net.reshape %[[DF]] : (tensor<?x16xf32>) -> tensor<?x4x2x2xf32>
// CHECK-NEXT:    %[[DA:.*]] = net.mul %[[DD]], %[[MASK]]
// CHECK-NEXT:    %[[DM:.*]] = net.avg_pool2d_grad %[[DA]] kernel [2, 2] {{.*}} -> tensor<?x4x4x4xf32>
// CHECK-NEXT:    %[[DS:.*]] = net.max_pool2d_grad %[[DM]], %{{.*}} kernel [2, 2] {{.*}} -> tensor<?x4x8x8xf32>
// CHECK-NEXT:    %[[DR1:.*]] = net.conv2d_grad_input %[[DS]], %{{.*}} strides [1, 1] pads [1, 1, 1, 1]
// The relu's output feeds the conv and the add: its two gradients are summed.
// CHECK-NEXT:    %[[DR:.*]] = net.add %[[DS]], %[[DR1]]
// CHECK-NEXT:    %[[DK2:.*]] = net.conv2d_grad_weight %[[DS]], %[[R]]
// CHECK-NEXT:    net.sgd_update %{{.*}}, %[[DK2]]
// CHECK-NEXT:    %[[DC:.*]] = net.relu_grad %[[DR]], %[[R]]
// The network's input needs no gradient.
// CHECK-NOT:     net.conv2d_grad_input
// CHECK-NEXT:    %[[DK:.*]] = net.conv2d_grad_weight %[[DC]], %[[X]]
// CHECK-NEXT:    net.sgd_update %{{.*}}, %[[DK]]
// CHECK-NEXT:    return
