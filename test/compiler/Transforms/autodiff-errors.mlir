// RUN: net-opt %s -split-input-file -net-autodiff -verify-diagnostics

// A trainable batch norm needs batch statistics, which the backward pass
// does not differentiate yet: refused at the op, not silently approximated.
module {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %g = net.param "bn.gamma" init("ones") : tensor<4xf32>
    %b = net.param "bn.beta" init("zeros") : tensor<4xf32>
    %m = net.param "bn.moving_mean" init("zeros") frozen : tensor<4xf32>
    %v = net.param "bn.moving_variance" init("ones") frozen : tensor<4xf32>
    // expected-error @+1 {{training a batch_norm with batch statistics is not supported yet}}
    %y = net.batch_norm %x, %g, %b, %m, %v epsilon 1.000000e-03 momentum 9.900000e-01 : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %p = net.softmax %y : tensor<?x4xf32>
    return %p : tensor<?x4xf32>
  }
}

// -----

// Cross-entropy training needs probabilities from a softmax.
module {
  // expected-error @+1 {{training with cross_entropy needs the network to end in a softmax}}
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %y = net.relu %x : tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}
