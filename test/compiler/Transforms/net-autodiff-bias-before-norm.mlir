// RUN: net-opt %s -split-input-file -net-autodiff | FileCheck %s

// A bias that only shifts channels by constants into a batch norm on the
// batch's statistics leaves the loss unchanged (the norm subtracts the
// channel's mean, the shift with it):
// its gradient is exactly zero, so it is updated with net.zeros rather than
// a computed sum of rounding noise, and keeps its update (and with it its
// optimizer slots). An activation between them, another reader of the sum,
// or a norm on its running statistics gives the bias a real gradient.

module attributes {net.train = {optimizer = {name = "adam", beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-07 : f64, lr = 1.0e-03 : f64}}} {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> {
    %k = net.param "conv.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
    %c = net.conv2d %x, %k strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
    %b = net.param "conv.bias" init("zeros") : tensor<4xf32>
    %y = net.bias_add %c, %b : (tensor<?x4x8x8xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
    %g = net.param "bn.gamma" init("ones") : tensor<4xf32>
    %be = net.param "bn.beta" init("zeros") : tensor<4xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
    %n = net.batch_norm %y, %g, %be, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
    %f = net.flatten %n : (tensor<?x4x8x8xf32>) -> tensor<?x256xf32>
    %w = net.param "dense.kernel" init("glorot_uniform") : tensor<2x256xf32>
    %z = net.dense %f, %w : (tensor<?x256xf32>, tensor<2x256xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[B:[0-9]+]] = net.param "conv.bias"
// CHECK-NOT:     net.bias_grad
// CHECK:         net.batch_norm_train_grad
// CHECK-NOT:     net.bias_grad
// CHECK:         %[[ZERO:[0-9]+]] = net.zeros : tensor<4xf32>
// CHECK-NEXT:    net.adam_update %[[B]], %[[ZERO]]
// CHECK-NEXT:    net.conv2d_grad_weight
// CHECK-NEXT:    net.adam_update %{{[0-9]+}}, %{{[0-9]+}} {{.*}}tensor<4x1x3x3xf32>

// -----

// The fused forms: a convolution with its bias and a max pooling (which
// shifts with the bias), and a dense layer with its bias, each read only by
// a trained norm.

module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.9 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> {
    %k = net.param "conv.kernel" init("glorot_uniform") : tensor<4x1x3x3xf32>
    %b = net.param "conv.bias" init("zeros") : tensor<4xf32>
    %y = net.fused_conv2d %x, %k, %b strides [1, 1] pads [1, 1, 1, 1] activation none pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<?x4x4x4xf32>
    %g = net.param "bn.gamma" init("ones") : tensor<4xf32>
    %be = net.param "bn.beta" init("zeros") : tensor<4xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
    %n = net.batch_norm %y, %g, %be, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x4x4xf32>
    %f = net.flatten %n : (tensor<?x4x4x4xf32>) -> tensor<?x64xf32>
    %w = net.param "dense.kernel" init("glorot_uniform") : tensor<3x64xf32>
    %b2 = net.param "dense.bias" init("zeros") : tensor<3xf32>
    %d = net.fused_dense %f, %w, %b2 activation none : (tensor<?x64xf32>, tensor<3x64xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %g2 = net.param "bn2.gamma" init("ones") : tensor<3xf32>
    %be2 = net.param "bn2.beta" init("zeros") : tensor<3xf32>
    %m2 = net.param "bn2.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v2 = net.param "bn2.moving_variance" init("ones") frozen : tensor<3xf32>
    %n2 = net.batch_norm %d, %g2, %be2, %m2, %v2 epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %w3 = net.param "out.kernel" init("glorot_uniform") : tensor<2x3xf32>
    %z = net.dense %n2, %w3 : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[B:[0-9]+]] = net.param "conv.bias"
// CHECK:         %[[B2:[0-9]+]] = net.param "dense.bias"
// CHECK:         net.fused_dense_grad
// CHECK:         %[[Z2:[0-9]+]] = net.zeros : tensor<3xf32>
// CHECK-NEXT:    net.sgd_update %[[B2]], %[[Z2]]
// CHECK:         net.fused_conv2d_grad
// CHECK:         %[[Z:[0-9]+]] = net.zeros : tensor<4xf32>
// CHECK-NEXT:    net.sgd_update %[[B]], %[[Z]]

// -----

// A ReLU between the bias and the norm, and a bias whose sum has a second
// reader: both biases have real gradients.

module attributes {net.train = {optimizer = {name = "adam", beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-07 : f64, lr = 1.0e-03 : f64}}} {
  func.func @forward(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
    %w = net.param "d1.kernel" init("glorot_uniform") : tensor<3x3xf32>
    %b = net.param "d1.bias" init("zeros") : tensor<3xf32>
    %y = net.fused_dense %x, %w, %b activation relu : (tensor<?x3xf32>, tensor<3x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %g = net.param "bn.gamma" init("ones") : tensor<3xf32>
    %be = net.param "bn.beta" init("zeros") : tensor<3xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<3xf32>
    %n = net.batch_norm %y, %g, %be, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %w2 = net.param "d2.kernel" init("glorot_uniform") : tensor<3x3xf32>
    %u = net.dense %n, %w2 : (tensor<?x3xf32>, tensor<3x3xf32>) -> tensor<?x3xf32>
    %b2 = net.param "d2.bias" init("zeros") : tensor<3xf32>
    %s = net.bias_add %u, %b2 : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %g2 = net.param "bn2.gamma" init("ones") : tensor<3xf32>
    %be2 = net.param "bn2.beta" init("zeros") : tensor<3xf32>
    %m2 = net.param "bn2.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v2 = net.param "bn2.moving_variance" init("ones") frozen : tensor<3xf32>
    %n2 = net.batch_norm %s, %g2, %be2, %m2, %v2 epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %r = net.add %n2, %s : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
    %w3 = net.param "out.kernel" init("glorot_uniform") : tensor<2x3xf32>
    %z = net.dense %r, %w3 : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK-NOT:     net.zeros
// CHECK:         %[[DB2:[0-9]+]] = net.bias_grad
// CHECK:         net.adam_update %{{[0-9]+}}, %[[DB2]]
// CHECK:         %{{.*}}, %{{.*}}, %[[DB:[a-z_0-9#]+]], %{{.*}} = net.fused_dense_grad
// CHECK-NOT:     net.zeros
// CHECK:         net.adam_update %{{[0-9]+}}, %[[DB]]

// -----

// A norm on its running statistics (gamma and beta frozen) is an affine map:
// the bias before it has a real gradient.

module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.0 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
    %w = net.param "d1.kernel" init("glorot_uniform") : tensor<3x3xf32>
    %b = net.param "d1.bias" init("zeros") : tensor<3xf32>
    %y = net.fused_dense %x, %w, %b activation none : (tensor<?x3xf32>, tensor<3x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %g = net.param "bn.gamma" init("ones") frozen : tensor<3xf32>
    %be = net.param "bn.beta" init("zeros") frozen : tensor<3xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<3xf32>
    %n = net.batch_norm %y, %g, %be, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %w2 = net.param "out.kernel" init("glorot_uniform") : tensor<2x3xf32>
    %z = net.dense %n, %w2 : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK-NOT:     net.zeros
// CHECK:         %{{.*}}, %{{.*}}, %[[DB:[a-z_0-9#]+]], %{{.*}} = net.fused_dense_grad
// CHECK:         net.sgd_update %{{[0-9]+}}, %[[DB]]

// -----

// The shift passes through an unpadded convolution, a max pooling and a
// frozen norm; a padded convolution's border stops it. So the first bias and
// the first trained norm's beta have zero gradients, the second norm's beta
// (read through a padded convolution) a real one.

module attributes {net.train = {optimizer = {name = "adam", beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-07 : f64, lr = 1.0e-03 : f64}}} {
  func.func @forward(%x: tensor<?x2x6x6xf32>) -> tensor<?x2xf32> {
    %b = net.param "first.bias" init("zeros") : tensor<2xf32>
    %s = net.bias_add %x, %b : (tensor<?x2x6x6xf32>, tensor<2xf32>) -> tensor<?x2x6x6xf32>
    %fg = net.param "frozen.gamma" init("ones") frozen : tensor<2xf32>
    %fb = net.param "frozen.beta" init("zeros") frozen : tensor<2xf32>
    %fm = net.param "frozen.moving_mean" init("zeros") frozen : tensor<2xf32>
    %fv = net.param "frozen.moving_variance" init("ones") frozen : tensor<2xf32>
    %f = net.batch_norm %s, %fg, %fb, %fm, %fv epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x2x6x6xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x2x6x6xf32>
    %k = net.param "one.kernel" init("glorot_uniform") : tensor<3x2x1x1xf32>
    %c = net.conv2d %f, %k strides [1, 1] pads [0, 0, 0, 0] : (tensor<?x2x6x6xf32>, tensor<3x2x1x1xf32>) -> tensor<?x3x6x6xf32>
    %pl = net.max_pool2d %c kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<?x3x6x6xf32>) -> tensor<?x3x3x3xf32>
    %g = net.param "bn.gamma" init("ones") : tensor<3xf32>
    %be = net.param "bn.beta" init("zeros") : tensor<3xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<3xf32>
    %n = net.batch_norm %pl, %g, %be, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3x3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x3x3xf32>
    %k2 = net.param "two.kernel" init("glorot_uniform") : tensor<3x3x1x1xf32>
    %c2 = net.conv2d %n, %k2 strides [1, 1] pads [0, 0, 0, 0] : (tensor<?x3x3x3xf32>, tensor<3x3x1x1xf32>) -> tensor<?x3x3x3xf32>
    %g2 = net.param "bn2.gamma" init("ones") : tensor<3xf32>
    %be2 = net.param "bn2.beta" init("zeros") : tensor<3xf32>
    %m2 = net.param "bn2.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v2 = net.param "bn2.moving_variance" init("ones") frozen : tensor<3xf32>
    %n2 = net.batch_norm %c2, %g2, %be2, %m2, %v2 epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3x3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x3x3xf32>
    %k3 = net.param "three.kernel" init("glorot_uniform") : tensor<3x3x3x3xf32>
    %c3 = net.conv2d %n2, %k3 strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x3x3x3xf32>, tensor<3x3x3x3xf32>) -> tensor<?x3x3x3xf32>
    %g3 = net.param "bn3.gamma" init("ones") : tensor<3xf32>
    %be3 = net.param "bn3.beta" init("zeros") : tensor<3xf32>
    %m3 = net.param "bn3.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v3 = net.param "bn3.moving_variance" init("ones") frozen : tensor<3xf32>
    %n3 = net.batch_norm %c3, %g3, %be3, %m3, %v3 epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3x3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x3x3xf32>
    %fl = net.flatten %n3 : (tensor<?x3x3x3xf32>) -> tensor<?x27xf32>
    %w = net.param "out.kernel" init("glorot_uniform") : tensor<2x27xf32>
    %z = net.dense %fl, %w : (tensor<?x27xf32>, tensor<2x27xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[B:[0-9]+]] = net.param "first.bias"
// CHECK:         %[[BE:[0-9]+]] = net.param "bn.beta"
// CHECK:         %[[BE2:[0-9]+]] = net.param "bn2.beta"
// CHECK:         net.batch_norm_train_grad
// CHECK:         %{{.*}}, %{{.*}}, %[[DBE2:[a-z_0-9]+]] = net.batch_norm_train_grad
// CHECK-NEXT:    net.adam_update %[[BE2]], %[[DBE2]]
// CHECK:         net.batch_norm_train_grad
// CHECK-NEXT:    %[[Z:[0-9]+]] = net.zeros : tensor<3xf32>
// CHECK-NEXT:    net.adam_update %[[BE]], %[[Z]]
// CHECK-NOT:     net.bias_grad
// CHECK:         %[[Z2:[0-9]+]] = net.zeros : tensor<2xf32>
// CHECK-NEXT:    net.adam_update %[[B]], %[[Z2]]

// -----

// The shift reaches an op through its data input only: a sum that a dense
// layer also reads as its weight gives the bias a real gradient.

module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.0 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<3x3xf32>) -> tensor<3x3xf32> {
    %b = net.param "d.bias" init("zeros") : tensor<3xf32>
    %y = net.bias_add %x, %b : (tensor<3x3xf32>, tensor<3xf32>) -> tensor<3x3xf32>
    %z = net.dense %y, %y : (tensor<3x3xf32>, tensor<3x3xf32>) -> tensor<3x3xf32>
    %g = net.param "bn.gamma" init("ones") : tensor<3xf32>
    %be = net.param "bn.beta" init("zeros") : tensor<3xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<3xf32>
    %n = net.batch_norm %z, %g, %be, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3x3xf32>
    %p = net.softmax %n : tensor<3x3xf32>
    return %p : tensor<3x3xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK-NOT:     net.zeros
// CHECK:         %[[DB:[0-9]+]] = net.bias_grad
// CHECK-NEXT:    net.sgd_update %{{[0-9]+}}, %[[DB]]

// -----

// A branch that never reaches the loss (kept where fusion does not clean it
// up) gets no update at all, its bias before a trained norm included: only
// a bias whose op the backward reaches is given net.zeros, so the optimizer
// slots, and a checkpoint's layout, do not depend on dead layers.

module attributes {net.train = {optimizer = {name = "adam", beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-07 : f64, lr = 1.0e-03 : f64}}} {
  func.func @forward(%x: tensor<?x8xf32>) -> tensor<?x2xf32> {
    %w = net.param "dense.kernel" init("glorot_uniform") : tensor<2x8xf32>
    %z = net.dense %x, %w : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    %dw = net.param "dead.kernel" init("glorot_uniform") : tensor<3x8xf32>
    %d = net.dense %x, %dw : (tensor<?x8xf32>, tensor<3x8xf32>) -> tensor<?x3xf32>
    %db = net.param "dead.bias" init("zeros") : tensor<3xf32>
    %y = net.bias_add %d, %db : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %g = net.param "bn.gamma" init("ones") : tensor<3xf32>
    %be = net.param "bn.beta" init("zeros") : tensor<3xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<3xf32>
    %n = net.batch_norm %y, %g, %be, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @train_step
// CHECK-NOT:     net.zeros
// CHECK:         net.adam_update %{{[0-9]+}}, %{{[0-9]+}} {{.*}}tensor<2x8xf32>
// CHECK-NOT:     net.adam_update
// CHECK:         return
