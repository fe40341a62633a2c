//===- Dnnl.cpp - oneDNN's conv(+bias+relu) and pooling --------------------===//

#include "Dnnl.h"

#ifdef NETBENCH_HAVE_DNNL

#include <dnnl.hpp>

#include <cstring>

namespace netc::bench {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
constexpr auto f32 = dnnl::memory::data_type::f32;

class DnnlLayerImpl final : public DnnlLayer {
public:
  DnnlLayerImpl(const LayerSpec &s, int n, DnnlLayout layout, const float *x, const float *w,
                const float *b)
      : spec_(s), eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {
    const tag act = layout == DnnlLayout::Nchw ? tag::nchw : tag::any;
    const tag wt = layout == DnnlLayout::Nchw ? tag::oihw : tag::any;
    memory::desc srcMd({n, s.c, s.h, s.w}, f32, tag::nchw);
    memory::desc wMd({s.f, s.c, s.k, s.k}, f32, wt);
    memory::desc bMd({s.f}, f32, tag::x);
    memory::desc dstMd({n, s.f, s.oh, s.ow}, f32, act);
    dnnl::convolution_forward::desc cd(dnnl::prop_kind::forward_inference,
                                       algorithm::convolution_direct, srcMd, wMd, bMd, dstMd,
                                       {s.stride, s.stride}, {s.pad, s.pad},
                                       {s.padBottom(), s.padRight()});
    dnnl::post_ops po;
    po.append_eltwise(/*scale=*/1.f, algorithm::eltwise_relu, /*alpha=*/0.f, /*beta=*/0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    dnnl::convolution_forward::primitive_desc cpd(cd, attr, eng_);
    conv_ = dnnl::convolution_forward(cpd);
    convImpl_ = cpd.impl_info_str();

    src_ = memory(cpd.src_desc(), eng_, const_cast<float *>(x));
    // Weights and bias: reordered/copied once, outside any timed call.
    memory userW({{s.f, s.c, s.k, s.k}, f32, tag::oihw}, eng_, const_cast<float *>(w));
    w_ = memory(cpd.weights_desc(), eng_);
    dnnl::reorder(userW, w_).execute(strm_, userW, w_);
    b_ = memory(cpd.bias_desc(), eng_);
    std::memcpy(b_.get_data_handle(), b, sizeof(float) * s.f);
    z_ = memory(cpd.dst_desc(), eng_);
    strm_.wait();

    if (s.pool) {
      memory::desc pMd({n, s.f, s.poh, s.pow}, f32, act);
      const memory::dim pr = (s.poh - 1) * 2 + 2 - s.oh, pb = (s.pow - 1) * 2 + 2 - s.ow;
      dnnl::pooling_forward::desc pd(dnnl::prop_kind::forward_inference,
                                     s.pool == 1 ? algorithm::pooling_max
                                                 : algorithm::pooling_avg_exclude_padding,
                                     cpd.dst_desc(), pMd, {2, 2}, {2, 2}, {0, 0}, {pr, pb});
      dnnl::pooling_forward::primitive_desc ppd(pd, eng_);
      pool_ = dnnl::pooling_forward(ppd);
      poolImpl_ = ppd.impl_info_str();
      y_ = memory(ppd.dst_desc(), eng_);
    } else {
      y_ = z_;
    }
    outMd_ = memory::desc({n, s.f, s.pool ? s.poh : s.oh, s.pool ? s.pow : s.ow}, f32, tag::nchw);
    nchwOut_ = y_.get_desc() == outMd_;
    nchwConv_ = z_.get_desc() == memory::desc({n, s.f, s.oh, s.ow}, f32, tag::nchw);
  }

  void run() override {
    conv_.execute(strm_, {{DNNL_ARG_SRC, src_},
                          {DNNL_ARG_WEIGHTS, w_},
                          {DNNL_ARG_BIAS, b_},
                          {DNNL_ARG_DST, z_}});
    if (spec_.pool)
      pool_.execute(strm_, {{DNNL_ARG_SRC, z_}, {DNNL_ARG_DST, y_}});
    strm_.wait();
  }

  void output(float *y) override {
    memory user(outMd_, eng_, y);
    dnnl::reorder(y_, user).execute(strm_, y_, user);
    strm_.wait();
  }

  std::string describe() const override {
    std::string d = "conv " + convImpl_ + (nchwConv_ ? " (dst nchw)" : " (dst blocked)");
    if (spec_.pool)
      d += ", pool " + poolImpl_ + (nchwOut_ ? " (dst nchw)" : " (dst blocked)");
    return d;
  }

private:
  LayerSpec spec_;
  dnnl::engine eng_;
  dnnl::stream strm_;
  dnnl::convolution_forward conv_;
  dnnl::pooling_forward pool_;
  memory src_, w_, b_, z_, y_;
  memory::desc outMd_;
  std::string convImpl_, poolImpl_;
  bool nchwOut_ = true, nchwConv_ = true;
};

} // namespace

std::unique_ptr<DnnlLayer> DnnlLayer::create(const LayerSpec &spec, int n, DnnlLayout layout,
                                             const float *x, const float *w, const float *b,
                                             std::string &why) {
  try {
    return std::make_unique<DnnlLayerImpl>(spec, n, layout, x, w, b);
  } catch (const dnnl::error &e) {
    why = std::string("oneDNN error: ") + e.what();
    return nullptr;
  }
}

bool dnnlAvailable(std::string &versionOrWhy) {
  const dnnl_version_t *v = dnnl_version();
  versionOrWhy = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                 std::to_string(v->patch) + " (cpu runtime " +
                 (v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other") + ")";
  return true;
}

} // namespace netc::bench

#else // !NETBENCH_HAVE_DNNL

namespace netc::bench {

static const char *kNoDnnl =
    "netbench was built without oneDNN: dnnl.hpp or libdnnl.so was not found at configure "
    "time (install libdnnl-dev and re-run cmake)";

std::unique_ptr<DnnlLayer> DnnlLayer::create(const LayerSpec &, int, DnnlLayout, const float *,
                                             const float *, const float *, std::string &why) {
  why = kNoDnnl;
  return nullptr;
}

bool dnnlAvailable(std::string &versionOrWhy) {
  versionOrWhy = kNoDnnl;
  return false;
}

} // namespace netc::bench

#endif
