//===- Dnnl.h - oneDNN's conv(+bias+relu) and pooling, for comparison -*- C++ -*-===//
//
// One layer as oneDNN runs it for inference: a convolution_forward primitive
// (prop_kind::forward_inference, bias, an eltwise_relu post-op: ONE
// primitive), then a pooling_forward primitive (pooling_max or
// pooling_avg_exclude_padding, which is Pool.h's in-range count) when the
// layer pools. Two layouts:
//   Nchw: every memory nchw / oihw, as this project's kernels take them;
//   Any:  the source stays nchw (as the caller holds it), the weights and the
//         conv output use format_tag::any (oneDNN picks, typically a blocked
//         nChw16c / OIhw16i16o); the weights are reordered once at set-up and
//         the pooled output is left in oneDNN's layout (reordered to nchw only
//         for the check, outside the timed call).
// Built without libdnnl (NETBENCH_HAVE_DNNL undefined), create() fails with
// the reason.
//
//===----------------------------------------------------------------------===//

#ifndef NETBENCH_DNNL_H
#define NETBENCH_DNNL_H

#include <memory>
#include <string>

namespace netc::bench {

/// A conv layer's geometry (square kernel and stride, pooling 2x2 stride 2).
struct LayerSpec {
  const char *name;
  int c, h, w, f, k, pad, oh, ow;
  int pool; // 0 none, 1 max, 2 average
  int poh, pow;
  int stride = 1;
  /// Bottom and right padding, implied by the output extent.
  int padBottom() const { return (oh - 1) * stride + k - h - pad; }
  int padRight() const { return (ow - 1) * stride + k - w - pad; }
};

enum class DnnlLayout { Nchw, Any };

class DnnlLayer {
public:
  virtual ~DnnlLayer() = default;
  /// A layer for batch n reading x [n,C,H,W] with weights w [F,C,K,K] and
  /// bias b [F] (copied/reordered now); null and `why` set on failure.
  static std::unique_ptr<DnnlLayer> create(const LayerSpec &spec, int n, DnnlLayout layout,
                                           const float *x, const float *w, const float *b,
                                           std::string &why);
  /// Runs the primitives and waits for them.
  virtual void run() = 0;
  /// Copies the (pooled) output, as nchw, to y.
  virtual void output(float *y) = 0;
  /// The formats oneDNN chose and its implementation names, for the log.
  virtual std::string describe() const = 0;
};

/// One layer's backward as oneDNN trains it. At set-up, once: from netc's
/// pre-activation z (conv + bias), eltwise relu and pooling forward_training
/// with its workspace, so that both libraries route the gradient through the
/// same relu and argmax decisions; and the reorders of the inputs into the
/// chosen formats. Timed, run(): pooling_backward ->
/// eltwise_backward (relu, from its input) -> convolution_backward_weights
/// (dw and db) -> convolution_backward_data (dx, only when C > 1: a first
/// layer gets no input gradient, as netc emits it). Layouts as DnnlLayer's:
/// Nchw keeps every tensor nchw / oihw; Any lets oneDNN choose every format
/// (the weights' and the gradients' blocked ones), reordered to nchw / oihw
/// only for the check.
class DnnlBackward {
public:
  virtual ~DnnlBackward() = default;
  /// For batch n: x [n,C,H,W], w [F,C,K,K], z [n,F,OH,OW] (the conv's output
  /// plus bias, before relu) and dy, the gradient of the (pooled) output,
  /// nchw; null and `why` set on failure.
  static std::unique_ptr<DnnlBackward> create(const LayerSpec &spec, int n, DnnlLayout layout,
                                              const float *x, const float *w, const float *z,
                                              const float *dy, std::string &why);
  /// Runs the backward primitives and waits for them.
  virtual void run() = 0;
  /// Copies dw (oihw), db and, when C > 1, dx (nchw) out.
  virtual void gradients(float *dw, float *db, float *dx) = 0;
  /// The implementations oneDNN chose, for the log.
  virtual std::string describe() const = 0;
};

/// Whether netbench was built with oneDNN, and its version or why not.
bool dnnlAvailable(std::string &versionOrWhy);

} // namespace netc::bench

#endif // NETBENCH_DNNL_H
