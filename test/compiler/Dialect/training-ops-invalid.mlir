// RUN: net-opt %s -split-input-file -verify-diagnostics

func.func @grad_input_shape(%dy: tensor<?x4x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{expects the incoming gradient to have the forward output's shape ?x4x6x6, got ?x4x8x8}}
  %dx = net.conv2d_grad_input %dy, %w strides [1, 1] pads [0, 0, 0, 0] : (tensor<?x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x1x8x8xf32>
  return
}

// -----

func.func @update_of_a_computed_value(%x: tensor<4xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{expects its first operand to be a net.param}}
  net.sgd_update %x, %g momentum 0.000000e+00 : tensor<4xf32>
  return
}

// -----

func.func @update_of_a_frozen_param(%g: tensor<4xf32>) {
  %p = net.param "p" init("zeros") frozen : tensor<4xf32>
  // expected-error @+1 {{updates frozen parameter 'p'}}
  net.adam_update %p, %g beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-07 : tensor<4xf32>
  return
}

// -----

func.func @dropout_rate(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{expects rate in [0, 1) as a float32, got 1}}
  %m = net.dropout_mask rate 1.000000e+00 stream 0 : tensor<?x4xf32>
  return
}

// -----

func.func @fused_activation(%x: tensor<?x1x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'activation' [none, relu, sigmoid, tanh]}}
  %y = net.fused_conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] activation gelu pool none window [] stride [] padding [] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
  return
}

// -----

func.func @fused_pool_shape(%x: tensor<?x1x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{expects the result of shape ?x4x4x4, got ?x4x8x8}}
  %y = net.fused_conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32>
  return
}

// -----

func.func @fused_saved_shape(%x: tensor<?x1x8x8xf32>, %w: tensor<4x1x3x3xf32>) {
  // expected-error @+1 {{expects saved of shape ?x4x4x4, got ?x4x8x8}}
  %y, %s = net.fused_conv2d_train %x, %w strides [1, 1] pads [1, 1, 1, 1] activation relu pool max window [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> (tensor<?x4x4x4xf32>, tensor<?x4x8x8xf32>)
  return
}

// -----

func.func @fold_channels(%w: tensor<4x1x3x3xf32>, %g: tensor<5xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{expects gamma of shape 4, got 5}}
  %w2, %b2 = net.fold_batch_norm %w, %g, %c, %c, %c epsilon 1.000000e-03 : (tensor<4x1x3x3xf32>, tensor<5xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4x1x3x3xf32>, tensor<4xf32>)
  return
}

// -----

func.func @batch_norm_train_running_not_param(%x: tensor<?x4xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{expects the running mean to be a net.param}}
  %y, %mu, %istd = net.batch_norm_train %x, %c, %c, %c, %c epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @batch_norm_train_momentum(%x: tensor<?x4xf32>, %c: tensor<4xf32>) {
  %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
  // expected-error @+1 {{expects momentum in [0, 1) as a float32, got 1}}
  %y, %mu, %istd = net.batch_norm_train %x, %c, %c, %m, %m epsilon 1.000000e-03 momentum 1.0 : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @batch_norm_train_grad_channels(%dy: tensor<?x4xf32>, %g: tensor<4xf32>, %s: tensor<5xf32>) {
  // expected-error @+1 {{batch_norm expects batch_mean size (5) to equal input channels (4)}}
  %dx, %dg, %db = net.batch_norm_train_grad %dy, %dy, %g, %s, %g : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xf32>, tensor<5xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// 1e-50 is 0 as a float32, and 0.99999999999 is 1 (Ranges.h).
func.func @adam_epsilon_zero_as_float32(%g: tensor<4xf32>) {
  %p = net.param "p" init("zeros") : tensor<4xf32>
  // expected-error @+1 {{expects epsilon above 0 and finite as a float32}}
  net.adam_update %p, %g beta1 9.000000e-01 beta2 9.990000e-01 epsilon 1.000000e-50 : tensor<4xf32>
  return
}

// -----

func.func @sgd_momentum_one_as_float32(%g: tensor<4xf32>) {
  %p = net.param "p" init("zeros") : tensor<4xf32>
  // expected-error @+1 {{expects momentum in [0, 1) as a float32, got}}
  net.sgd_update %p, %g momentum 0.99999999999 : tensor<4xf32>
  return
}

// -----

func.func @update_group_empty() {
  // expected-error @+1 {{expects at least one update in its body}}
  net.update_group {
  }
  return
}

// -----

func.func @update_group_other_op(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{expects only net.sgd_update and net.adam_update in its body, got net.relu}}
  net.update_group {
    %r = net.relu %x : tensor<?x4xf32>
  }
  return
}

// -----

// One launch applies one kind with one set of hyper-parameters.
func.func @update_group_mixed(%g: tensor<4xf32>) {
  %p = net.param "p" init("zeros") : tensor<4xf32>
  %q = net.param "q" init("zeros") : tensor<4xf32>
  // expected-error @+1 {{expects updates of one kind with equal hyper-parameters}}
  net.update_group {
    net.sgd_update %p, %g momentum 9.000000e-01 : tensor<4xf32>
    net.sgd_update %q, %g momentum 0.000000e+00 : tensor<4xf32>
  }
  return
}

// -----

func.func @exchange_of_a_value_not_a_param(%g: tensor<4xf32>) {
  // expected-error @+1 {{expects its first operand to be a net.param}}
  net.exchange_start %g, %g : tensor<4xf32>
  return
}
