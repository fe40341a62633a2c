// RUN: net-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the net ops.

func.func @param_unknown_init() {
  // expected-error @+1 {{expects init to be one of zeros, ones, glorot_uniform, glorot_normal, he_uniform, he_normal, got 'random'}}
  %w = net.param "w" init("random") : tensor<4x4xf32>
  return
}

// -----

func.func @param_dynamic_shape() {
  // expected-error @+1 {{expects a static shape, got ?x4}}
  %w = net.param "w" init("zeros") : tensor<?x4xf32>
  return
}

// -----

func.func @param_empty_name() {
  // expected-error @+1 {{expects a non-empty name}}
  %w = net.param "" init("zeros") : tensor<4xf32>
  return
}

// -----

func.func @param_zero_dim() {
  // expected-error @+1 {{expects positive dims, got 0x4}}
  %w = net.param "w" init("zeros") : tensor<0x4xf32>
  return
}

// -----

func.func @not_f32(%x: tensor<?x10xf16>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit float values}}
  %y = net.relu %x : tensor<?x10xf16>
  return
}

// -----

func.func @conv2d_channels(%x: tensor<1x3x28x28xf32>, %w: tensor<16x6x5x5xf32>) {
  // expected-error @+1 {{conv2d expects input channels (3) to equal weight input channels (6): input 1x3x28x28, weight 16x6x5x5}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<1x3x28x28xf32>, tensor<16x6x5x5xf32>) -> tensor<1x16x24x24xf32>
  return
}

// -----

func.func @conv2d_input_rank(%x: tensor<28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{conv2d expects a 4-d input (N, C, H, W), got 28x28}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @conv2d_weight_rank(%x: tensor<?x1x28x28xf32>, %w: tensor<6x25xf32>) {
  // expected-error @+1 {{conv2d expects a 4-d weight (F, C, KH, KW), got 6x25}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<?x1x28x28xf32>, tensor<6x25xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @conv2d_dynamic_spatial(%x: tensor<?x1x?x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{conv2d expects static dims after the batch in its input, got ?x1x?x28}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<?x1x?x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @conv2d_window(%x: tensor<?x1x4x4xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{conv2d window 5x5 with stride 1x1 and pads [0, 0, 0, 0] does not fit the input 4x4 (need at least 5x5)}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<?x1x4x4xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x1x1xf32>
  return
}

// -----

func.func @conv2d_zero_stride(%x: tensor<?x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{conv2d expects positive strides, got [0, 1]}}
  %y = net.conv2d %x, %w strides [0, 1] pads [0, 0, 0, 0]
      : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @conv2d_stride_count(%x: tensor<?x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{conv2d expects 2 strides [sh, sw], got [1, 1, 1]}}
  %y = net.conv2d %x, %w strides [1, 1, 1] pads [0, 0, 0, 0]
      : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @conv2d_pad_count(%x: tensor<?x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{conv2d expects 4 pads [top, left, bottom, right], got [2, 2]}}
  %y = net.conv2d %x, %w strides [1, 1] pads [2, 2]
      : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x28x28xf32>
  return
}

// -----

func.func @conv2d_negative_pad(%x: tensor<?x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{conv2d expects non-negative pads, got [-1, 0, 0, 0]}}
  %y = net.conv2d %x, %w strides [1, 1] pads [-1, 0, 0, 0]
      : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @conv2d_pad_overflow(%x: tensor<?x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{does not fit the input 28x28}}
  %y = net.conv2d %x, %w strides [1, 1] pads [9223372036854775807, 0, 9223372036854775807, 0]
      : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @conv2d_result(%x: tensor<?x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{expects result shape ?x6x24x24, got ?x6x28x28}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x28x28xf32>
  return
}

// -----

func.func @conv2d_static_batch(%x: tensor<8x1x28x28xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{expects result shape 8x6x24x24, got 4x6x24x24}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<8x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<4x6x24x24xf32>
  return
}

// -----

func.func @conv2d_dynamic_weight(%x: tensor<?x1x28x28xf32>, %w: tensor<?x1x5x5xf32>) {
  // expected-error @+1 {{conv2d expects a static shape with positive dims for its weight, got ?x1x5x5}}
  %y = net.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0]
      : (tensor<?x1x28x28xf32>, tensor<?x1x5x5xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @dense_features(%x: tensor<?x784xf32>, %w: tensor<120x400xf32>) {
  // expected-error @+1 {{dense expects input features (784) to equal weight input features (400): input ?x784, weight 120x400}}
  %y = net.dense %x, %w : (tensor<?x784xf32>, tensor<120x400xf32>) -> tensor<?x120xf32>
  return
}

// -----

func.func @dense_input_rank(%x: tensor<?x16x5x5xf32>, %w: tensor<120x400xf32>) {
  // expected-error @+1 {{dense expects a 2-d input (N, K), got ?x16x5x5}}
  %y = net.dense %x, %w : (tensor<?x16x5x5xf32>, tensor<120x400xf32>) -> tensor<?x120xf32>
  return
}

// -----

func.func @dense_result(%x: tensor<?x400xf32>, %w: tensor<120x400xf32>) {
  // expected-error @+1 {{expects result shape ?x120, got ?x400}}
  %y = net.dense %x, %w : (tensor<?x400xf32>, tensor<120x400xf32>) -> tensor<?x400xf32>
  return
}

// -----

func.func @bias_add_channels(%x: tensor<?x6x28x28xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{bias_add expects bias size (16) to equal input channels (6): input ?x6x28x28, bias 16}}
  %y = net.bias_add %x, %b : (tensor<?x6x28x28xf32>, tensor<16xf32>) -> tensor<?x6x28x28xf32>
  return
}

// -----

func.func @bias_add_rank(%x: tensor<?x6x28xf32>, %b: tensor<6xf32>) {
  // expected-error @+1 {{bias_add expects a 2-d (N, C) or 4-d (N, C, H, W) input, got ?x6x28}}
  %y = net.bias_add %x, %b : (tensor<?x6x28xf32>, tensor<6xf32>) -> tensor<?x6x28xf32>
  return
}

// -----

func.func @bias_add_bias_rank(%x: tensor<?x6xf32>, %b: tensor<1x6xf32>) {
  // expected-error @+1 {{bias_add expects a 1-d bias [C], got 1x6}}
  %y = net.bias_add %x, %b : (tensor<?x6xf32>, tensor<1x6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @relu_dynamic_feature(%x: tensor<?x?xf32>) {
  // expected-error @+1 {{relu expects static dims after the batch in its input, got ?x?}}
  %y = net.relu %x : tensor<?x?xf32>
  return
}

// -----

func.func @softmax_rank(%x: tensor<?x10x1x1xf32>) {
  // expected-error @+1 {{softmax expects a 2-d input (N, K), got ?x10x1x1}}
  %y = net.softmax %x : tensor<?x10x1x1xf32>
  return
}

// -----

func.func @max_pool_pads(%x: tensor<?x6x28x28xf32>) {
  // expected-error @+1 {{max_pool2d expects pads smaller than the kernel, got pads [2, 0, 0, 0] for kernel [2, 2]}}
  %y = net.max_pool2d %x kernel [2, 2] strides [2, 2] pads [2, 0, 0, 0]
      : (tensor<?x6x28x28xf32>) -> tensor<?x6x15x14xf32>
  return
}

// -----

func.func @avg_pool_kernel(%x: tensor<?x6x28x28xf32>) {
  // expected-error @+1 {{avg_pool2d expects a 2-d kernel [kh, kw], got [2]}}
  %y = net.avg_pool2d %x kernel [2] strides [2, 2] pads [0, 0, 0, 0]
      : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
  return
}

// -----

func.func @avg_pool_zero_kernel(%x: tensor<?x6x28x28xf32>) {
  // expected-error @+1 {{avg_pool2d expects a positive kernel, got [0, 2]}}
  %y = net.avg_pool2d %x kernel [0, 2] strides [2, 2] pads [0, 0, 0, 0]
      : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
  return
}

// -----

func.func @max_pool_window(%x: tensor<?x6x1x1xf32>) {
  // expected-error @+1 {{max_pool2d window 2x2 with stride 2x2 and pads [0, 0, 0, 0] does not fit the input 1x1 (need at least 2x2)}}
  %y = net.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0]
      : (tensor<?x6x1x1xf32>) -> tensor<?x6x1x1xf32>
  return
}

// -----

func.func @avg_pool_result(%x: tensor<?x6x28x28xf32>) {
  // expected-error @+1 {{expects result shape ?x6x14x14, got ?x6x28x28}}
  %y = net.avg_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0]
      : (tensor<?x6x28x28xf32>) -> tensor<?x6x28x28xf32>
  return
}

// -----

func.func @global_avg_pool_rank(%x: tensor<?x2048xf32>) {
  // expected-error @+1 {{global_avg_pool expects a 4-d input (N, C, H, W), got ?x2048}}
  %y = net.global_avg_pool %x : (tensor<?x2048xf32>) -> tensor<?x2048xf32>
  return
}

// -----

func.func @flatten_rank(%x: tensor<?xf32>) {
  // expected-error @+1 {{flatten expects an input of rank at least 2 (N, ...), got ?}}
  %y = net.flatten %x : (tensor<?xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @flatten_too_large(%x: tensor<?x1048576x1048576xf32>) {
  // expected-error @+1 {{flatten expects fewer than 2^40 features per sample, got ?x1048576x1048576}}
  %y = net.flatten %x : (tensor<?x1048576x1048576xf32>) -> tensor<?x1xf32>
  return
}

// -----

func.func @flatten_result(%x: tensor<?x16x5x5xf32>) {
  // expected-error @+1 {{expects result shape ?x400, got ?x16}}
  %y = net.flatten %x : (tensor<?x16x5x5xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @dropout_rate(%x: tensor<?x128xf32>) {
  // expected-error @+1 {{expects rate in [0, 1) as a float32, got 1.000000e+00}}
  %y = net.dropout %x rate 1.0 : tensor<?x128xf32>
  return
}

// -----

func.func @batch_norm_epsilon(%x: tensor<?x6xf32>, %p: tensor<6xf32>) {
  // expected-error @+1 {{expects epsilon > 0 and finite as a float32, got 0.000000e+00}}
  %y = net.batch_norm %x, %p, %p, %p, %p epsilon 0.0 momentum 0.99
      : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @batch_norm_epsilon_float32(%x: tensor<?x6xf32>, %p: tensor<6xf32>) {
  // 1e-50 is 0 as a float32, 1e39 is infinite.
  // expected-error @+1 {{expects epsilon > 0 and finite as a float32, got 1.000000e-50}}
  %y = net.batch_norm %x, %p, %p, %p, %p epsilon 1.0e-50 momentum 0.99
      : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @batch_norm_epsilon_infinite(%x: tensor<?x6xf32>, %p: tensor<6xf32>) {
  // expected-error @+1 {{expects epsilon > 0 and finite as a float32, got 1.000000e+39}}
  %y = net.batch_norm %x, %p, %p, %p, %p epsilon 1.0e39 momentum 0.99
      : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @batch_norm_momentum_float32(%x: tensor<?x6xf32>, %p: tensor<6xf32>) {
  // 0.99999999999 is 1 as a float32.
  // expected-error @+1 {{expects momentum in [0, 1) as a float32, got 1.000000e+00}}
  %y = net.batch_norm %x, %p, %p, %p, %p epsilon 1.0e-3 momentum 0.99999999999
      : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @batch_norm_momentum(%x: tensor<?x6xf32>, %p: tensor<6xf32>) {
  // expected-error @+1 {{expects momentum in [0, 1) as a float32, got 1.000000e+00}}
  %y = net.batch_norm %x, %p, %p, %p, %p epsilon 1.0e-3 momentum 1.0
      : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @batch_norm_variance(%x: tensor<?x6x8x8xf32>, %p: tensor<6xf32>, %v: tensor<5xf32>) {
  // expected-error @+1 {{batch_norm expects variance size (5) to equal input channels (6): input ?x6x8x8, variance 5}}
  %y = net.batch_norm %x, %p, %p, %p, %v epsilon 1.0e-3 momentum 0.99
      : (tensor<?x6x8x8xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<5xf32>) -> tensor<?x6x8x8xf32>
  return
}

// -----

func.func @batch_norm_result(%x: tensor<?x6xf32>, %p: tensor<6xf32>) {
  // expected-error @+1 {{expects result shape ?x6, got 2x6}}
  %y = net.batch_norm %x, %p, %p, %p, %p epsilon 1.0e-3 momentum 0.99
      : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6xf32>
  return
}

// -----

func.func @add_shapes(%a: tensor<?x64x8x8xf32>, %b: tensor<?x32x8x8xf32>) {
  // expected-error @+1 {{add expects operands of the same shape: lhs ?x64x8x8, rhs ?x32x8x8}}
  %y = net.add %a, %b : (tensor<?x64x8x8xf32>, tensor<?x32x8x8xf32>) -> tensor<?x64x8x8xf32>
  return
}

// -----

func.func @add_batches(%a: tensor<2x10xf32>, %b: tensor<3x10xf32>) {
  // expected-error @+1 {{add expects operands of the same shape: lhs 2x10, rhs 3x10}}
  %y = net.add %a, %b : (tensor<2x10xf32>, tensor<3x10xf32>) -> tensor<2x10xf32>
  return
}

// -----

func.func @cross_entropy_labels(%p: tensor<4x10xf32>, %l: tensor<5xi32>) {
  // expected-error @+1 {{cross_entropy expects one label per row of probabilities: probabilities 4x10, labels 5}}
  %y = net.cross_entropy %p, %l : (tensor<4x10xf32>, tensor<5xi32>) -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_probs_rank(%p: tensor<?x10x1xf32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{cross_entropy expects 2-d probabilities (N, K), got ?x10x1}}
  %y = net.cross_entropy %p, %l : (tensor<?x10x1xf32>, tensor<?xi32>) -> tensor<f32>
  return
}
