// RUN: net-opt %s -split-input-file -net-autodiff | FileCheck %s

// A trained batch norm: in @train_step it becomes net.batch_norm_train on the
// batch's statistics, whose gradient op gives the input, gamma and beta their
// gradients; @eval_step keeps the running statistics.

module attributes {net.train = {optimizer = {name = "sgd", momentum = 0.0 : f64, nesterov = 0.0 : f64, lr = 1.0e-02 : f64}}} {
  func.func @forward(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
    %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<3x3xf32>
    %y = net.dense %x, %w : (tensor<?x3xf32>, tensor<3x3xf32>) -> tensor<?x3xf32>
    %g = net.param "bn.gamma" init("ones") : tensor<3xf32>
    %b = net.param "bn.beta" init("zeros") : tensor<3xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<3xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<3xf32>
    %n = net.batch_norm %y, %g, %b, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    %w2 = net.param "dense_2.kernel" init("glorot_uniform") : tensor<2x3xf32>
    %z = net.dense %n, %w2 : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
    %p = net.softmax %z : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK-LABEL: func.func @eval_step
// CHECK:         net.batch_norm %{{.*}} epsilon 1.000000e-03 momentum
// CHECK-NOT:     net.batch_norm_train
// CHECK-LABEL: func.func @train_step
// CHECK:         %[[Y:[0-9]+]] = net.dense
// CHECK-NEXT:    %[[G:[0-9]+]] = net.param "bn.gamma"
// CHECK-NEXT:    %[[B:[0-9]+]] = net.param "bn.beta"
// CHECK-NEXT:    %[[M:[0-9]+]] = net.param "bn.moving_mean"
// CHECK-NEXT:    %[[V:[0-9]+]] = net.param "bn.moving_variance"
// CHECK-NEXT:    %[[N:[a-z_0-9]+]], %[[MU:[a-z_0-9]+]], %[[ISTD:[a-z_0-9]+]] = net.batch_norm_train %[[Y]], %[[G]], %[[B]], %[[M]], %[[V]] epsilon 1.000000e-03 momentum
// CHECK:         %[[DX:[a-z_0-9]+]], %[[DG:[a-z_0-9]+]], %[[DB:[a-z_0-9]+]] = net.batch_norm_train_grad %{{.*}}, %[[Y]], %[[G]], %[[MU]], %[[ISTD]]
// CHECK-DAG:     net.sgd_update %[[G]], %[[DG]]
// CHECK-DAG:     net.sgd_update %[[B]], %[[DB]]
// CHECK:         net.dense_grad_weight %[[DX]]
// CHECK-NOT:     net.sgd_update %[[M]]
// CHECK-NOT:     net.sgd_update %[[V]]
