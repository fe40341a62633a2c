// RUN: net-opt %s -split-input-file -net-autodiff -verify-diagnostics

// Cross-entropy training needs probabilities from a softmax: reported at
// the last layer, or at the function where the input is the output.
module {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    // expected-error @+1 {{training with cross_entropy needs the network to end in a softmax}}
    %y = net.relu %x : tensor<?x4xf32>
    return %y : tensor<?x4xf32>
  }
}

// -----

module {
  // expected-error @+1 {{training with cross_entropy needs the network to end in a softmax}}
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    return %x : tensor<?x4xf32>
  }
}
