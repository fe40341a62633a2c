//===- DnnlBackward.cpp - oneDNN's training backward of a conv layer -------===//

#include "Dnnl.h"

#ifdef NETBENCH_HAVE_DNNL

#include <dnnl.hpp>

#include <cstring>

namespace netc::bench {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = dnnl::memory::format_tag;
constexpr auto f32 = dnnl::memory::data_type::f32;

class DnnlBackwardImpl final : public DnnlBackward {
public:
  DnnlBackwardImpl(const LayerSpec &s, int n, DnnlLayout layout, const float *x, const float *w,
                   const float *z, const float *dy)
      : spec_(s), eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {
    const bool any = layout == DnnlLayout::Any;
    const tag act = any ? tag::any : tag::nchw, wt = any ? tag::any : tag::oihw;
    const memory::dims xDims{n, s.c, s.h, s.w}, wDims{s.f, s.c, s.k, s.k},
        zDims{n, s.f, s.oh, s.ow}, yDims{n, s.f, s.poh, s.pow};
    const memory::dims strides{s.stride, s.stride}, padL{s.pad, s.pad},
        padR{s.padBottom(), s.padRight()};
    memory::desc xAny(xDims, f32, act), wAny(wDims, f32, wt), bMd({s.f}, f32, tag::x),
        zAny(zDims, f32, act);

    // The training forward's primitive descriptor (the backward ones' hint),
    // not run: the pre-activation is netc's own, so that relu and pooling
    // decide as netc's did (a forward rounding otherwise routes a gradient
    // differently wherever an activation is within rounding of 0).
    dnnl::convolution_forward::primitive_desc conv(
        dnnl::convolution_forward::desc(prop_kind::forward_training,
                                        algorithm::convolution_direct, xAny, wAny, bMd, zAny,
                                        strides, padL, padR),
        eng_);
    x_ = fromUser(x, {xDims, f32, tag::nchw}, conv.src_desc());
    w_ = fromUser(w, {wDims, f32, tag::oihw}, conv.weights_desc());
    z_ = fromUser(z, {zDims, f32, tag::nchw}, conv.dst_desc());
    dnnl::eltwise_forward::primitive_desc relu(
        dnnl::eltwise_forward::desc(prop_kind::forward_training, algorithm::eltwise_relu,
                                    conv.dst_desc(), 0.f, 0.f),
        eng_);
    memory a(relu.dst_desc(), eng_);
    dnnl::eltwise_forward(relu).execute(strm_, {{DNNL_ARG_SRC, z_}, {DNNL_ARG_DST, a}});

    memory::desc dyUser(s.pool ? yDims : zDims, f32, tag::nchw);
    if (s.pool) {
      const algorithm kind =
          s.pool == 1 ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
      const memory::dims window{2, 2}, poolR{(s.poh - 1) * 2 + 2 - s.oh,
                                             (s.pow - 1) * 2 + 2 - s.ow};
      dnnl::pooling_forward::primitive_desc pool(
          dnnl::pooling_forward::desc(prop_kind::forward_training, kind, relu.dst_desc(),
                                      memory::desc(yDims, f32, act), window, window, {0, 0},
                                      poolR),
          eng_);
      memory y(pool.dst_desc(), eng_);
      workspace_ = memory(pool.workspace_desc(), eng_);
      dnnl::pooling_forward(pool).execute(
          strm_, {{DNNL_ARG_SRC, a}, {DNNL_ARG_DST, y}, {DNNL_ARG_WORKSPACE, workspace_}});
      poolBack_ = dnnl::pooling_backward::primitive_desc(
          dnnl::pooling_backward::desc(kind, relu.dst_desc(), pool.dst_desc(), window, window,
                                       {0, 0}, poolR),
          eng_, pool);
      dy_ = fromUser(dy, dyUser, poolBack_.diff_dst_desc());
      da_ = memory(poolBack_.diff_src_desc(), eng_);
      impl_ += "pool " + std::string(poolBack_.impl_info_str()) + ", ";
    } else {
      dy_ = fromUser(dy, dyUser, relu.dst_desc());
      da_ = dy_;
    }
    reluBack_ = dnnl::eltwise_backward::primitive_desc(
        dnnl::eltwise_backward::desc(algorithm::eltwise_relu, da_.get_desc(), conv.dst_desc(),
                                     0.f, 0.f),
        eng_, relu);
    dz_ = memory(reluBack_.diff_src_desc(), eng_);
    impl_ += "relu " + std::string(reluBack_.impl_info_str());

    // The backward primitives choose their own formats too ('any'): the
    // constant inputs (x, w) are reordered for them once here, dz (made in
    // the call) in the call when they want it otherwise.
    memory::desc dzAny = any ? zAny : dz_.get_desc();
    weightsBack_ = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(algorithm::convolution_direct, xAny, wAny, bMd,
                                                 dzAny, strides, padL, padR),
        eng_, conv);
    xForWeights_ = x_.get_desc() == weightsBack_.src_desc()
                       ? x_
                       : memory(weightsBack_.src_desc(), eng_);
    if (xForWeights_ != x_)
      dnnl::reorder(x_, xForWeights_).execute(strm_, x_, xForWeights_);
    dzForWeights_ = reorderedIfNeeded(dz_, weightsBack_.diff_dst_desc(), reorderForWeights_);
    dw_ = memory(weightsBack_.diff_weights_desc(), eng_);
    db_ = memory(weightsBack_.diff_bias_desc(), eng_);
    impl_ += ", dw " + std::string(weightsBack_.impl_info_str());
    if (s.c > 1) {
      dataBack_ = dnnl::convolution_backward_data::primitive_desc(
          dnnl::convolution_backward_data::desc(algorithm::convolution_direct, xAny, wAny,
                                                dzAny, strides, padL, padR),
          eng_, conv);
      dzForData_ = reorderedIfNeeded(dz_, dataBack_.diff_dst_desc(), reorderForData_);
      wForData_ = w_.get_desc() == dataBack_.weights_desc() ? w_
                                                             : memory(dataBack_.weights_desc(), eng_);
      if (wForData_ != w_)
        dnnl::reorder(w_, wForData_).execute(strm_, w_, wForData_);
      dx_ = memory(dataBack_.diff_src_desc(), eng_);
      impl_ += ", dx " + std::string(dataBack_.impl_info_str());
    }
    strm_.wait();
    dwUser_ = memory::desc(wDims, f32, tag::oihw);
    dxUser_ = memory::desc(xDims, f32, tag::nchw);
  }

  void run() override {
    if (spec_.pool)
      dnnl::pooling_backward(poolBack_).execute(
          strm_, {{DNNL_ARG_DIFF_DST, dy_}, {DNNL_ARG_DIFF_SRC, da_},
                  {DNNL_ARG_WORKSPACE, workspace_}});
    dnnl::eltwise_backward(reluBack_).execute(
        strm_, {{DNNL_ARG_SRC, z_}, {DNNL_ARG_DIFF_DST, da_}, {DNNL_ARG_DIFF_SRC, dz_}});
    if (reorderForWeights_)
      dnnl::reorder(dz_, dzForWeights_).execute(strm_, dz_, dzForWeights_);
    dnnl::convolution_backward_weights(weightsBack_).execute(
        strm_, {{DNNL_ARG_SRC, xForWeights_}, {DNNL_ARG_DIFF_DST, dzForWeights_},
                {DNNL_ARG_DIFF_WEIGHTS, dw_}, {DNNL_ARG_DIFF_BIAS, db_}});
    if (spec_.c > 1) {
      if (reorderForData_)
        dnnl::reorder(dz_, dzForData_).execute(strm_, dz_, dzForData_);
      dnnl::convolution_backward_data(dataBack_).execute(
          strm_, {{DNNL_ARG_DIFF_DST, dzForData_}, {DNNL_ARG_WEIGHTS, wForData_},
                  {DNNL_ARG_DIFF_SRC, dx_}});
    }
    strm_.wait();
  }

  void gradients(float *dw, float *db, float *dx) override {
    memory dwOut(dwUser_, eng_, dw);
    dnnl::reorder(dw_, dwOut).execute(strm_, dw_, dwOut);
    std::memcpy(db, db_.get_data_handle(), sizeof(float) * size_t(spec_.f));
    if (spec_.c > 1 && dx) {
      memory dxOut(dxUser_, eng_, dx);
      dnnl::reorder(dx_, dxOut).execute(strm_, dx_, dxOut);
    }
    strm_.wait();
  }

  std::string describe() const override {
    return impl_ + (reorderForWeights_ || reorderForData_ ? " (dz reordered in the call)" : "");
  }

private:
  /// A user's nchw/oihw array in the format `chosen`, reordered once now.
  memory fromUser(const float *data, const memory::desc &user, const memory::desc &chosen) {
    memory from(user, eng_, const_cast<float *>(data));
    if (user == chosen) {
      memory copy(chosen, eng_);
      std::memcpy(copy.get_data_handle(), data, user.get_size());
      return copy;
    }
    memory to(chosen, eng_);
    dnnl::reorder(from, to).execute(strm_, from, to);
    strm_.wait();
    return to;
  }
  /// `m` itself when a primitive takes its format, else a buffer it is
  /// reordered into on each run (`needed` says so).
  memory reorderedIfNeeded(const memory &m, const memory::desc &wanted, bool &needed) {
    needed = m.get_desc() != wanted;
    return needed ? memory(wanted, eng_) : m;
  }

  LayerSpec spec_;
  dnnl::engine eng_;
  dnnl::stream strm_;
  dnnl::pooling_backward::primitive_desc poolBack_;
  dnnl::eltwise_backward::primitive_desc reluBack_;
  dnnl::convolution_backward_weights::primitive_desc weightsBack_;
  dnnl::convolution_backward_data::primitive_desc dataBack_;
  memory x_, xForWeights_, w_, z_, workspace_, dy_, da_, dz_, dzForWeights_, dzForData_, wForData_, dw_, db_,
      dx_;
  memory::desc dwUser_, dxUser_;
  bool reorderForWeights_ = false, reorderForData_ = false;
  std::string impl_;
};

} // namespace

std::unique_ptr<DnnlBackward> DnnlBackward::create(const LayerSpec &spec, int n,
                                                   DnnlLayout layout, const float *x,
                                                   const float *w, const float *z,
                                                   const float *dy, std::string &why) {
  try {
    return std::make_unique<DnnlBackwardImpl>(spec, n, layout, x, w, z, dy);
  } catch (const dnnl::error &e) {
    why = std::string("oneDNN error: ") + e.what();
    return nullptr;
  }
}

} // namespace netc::bench

#else // !NETBENCH_HAVE_DNNL

namespace netc::bench {

std::unique_ptr<DnnlBackward> DnnlBackward::create(const LayerSpec &, int, DnnlLayout,
                                                   const float *, const float *, const float *,
                                                   const float *, std::string &why) {
  std::string version;
  dnnlAvailable(version);
  why = version;
  return nullptr;
}

} // namespace netc::bench

#endif
