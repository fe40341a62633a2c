// RUN: net-opt %s -split-input-file -net-autodiff -verify-diagnostics

// Cross-entropy training needs probabilities from a softmax.
module {
  // expected-error @+1 {{training with cross_entropy needs the network to end in a softmax}}
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %y = net.relu %x : tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}
