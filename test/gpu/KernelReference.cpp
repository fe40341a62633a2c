//===- KernelReference.cpp - the CPU kernels the CUDA tests compare with ---===//
//
// The wrappers of KernelCases.h, each calling the netc::kernels function of
// its name, instantiated at every shape of the lists there. Compiled by the
// host compiler as generated CPU code is (OpenMP), apart from nvcc.
//
//===----------------------------------------------------------------------===//

#include "KernelCases.h"

#include "net/Kernels/Kernels.h"

namespace netc::kgtest::ref {

namespace k = netc::kernels;

#define NETC_KG_CONV_PARAMS C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW
#define NETC_KG_CONV_TEMPLATE                                                                \
  template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL,       \
            int OH, int OW>

NETC_KG_CONV_TEMPLATE
void Conv<NETC_KG_CONV_PARAMS>::conv2d(int n, const float *x, const float *w, float *y) {
  k::conv2d<NETC_KG_CONV_PARAMS>(n, x, w, y);
}
NETC_KG_CONV_TEMPLATE
void Conv<NETC_KG_CONV_PARAMS>::conv2d_grad_input(int n, const float *dy, const float *w,
                                                  float *dx) {
  k::conv2d_grad_input<NETC_KG_CONV_PARAMS>(n, dy, w, dx);
}
NETC_KG_CONV_TEMPLATE
void Conv<NETC_KG_CONV_PARAMS>::conv2d_grad_weight(int n, const float *dy, const float *x,
                                                   float *dw) {
  k::conv2d_grad_weight<NETC_KG_CONV_PARAMS>(n, dy, x, dw);
}

#define NETC_KG_FUSED_PARAMS                                                                 \
  C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW, ACT, POOL, PKH, PKW, PSH, PSW, PPT, PPL, POH, POW, \
      BIAS
#define NETC_KG_FUSED_TEMPLATE                                                               \
  template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL,       \
            int OH, int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT,  \
            int PPL, int POH, int POW, bool BIAS>

NETC_KG_FUSED_TEMPLATE
void FusedConv<NETC_KG_FUSED_PARAMS>::fused_conv2d(int n, const float *x, const float *w,
                                                   const float *b, float *y, float *saved) {
  k::fused_conv2d<NETC_KG_FUSED_PARAMS>(n, x, w, b, y, saved);
}
NETC_KG_FUSED_TEMPLATE
void FusedConv<NETC_KG_FUSED_PARAMS>::fused_conv2d_grad(int n, const float *dy, const float *x,
                                                        const float *w, const float *y,
                                                        const float *saved, float *scratch,
                                                        float *dx, float *dw, float *db) {
  k::fused_conv2d_grad<NETC_KG_FUSED_PARAMS>(n, dy, x, w, y, saved, scratch, dx, dw, db);
}

template <int K, int M>
void Dense<K, M>::dense(int n, const float *x, const float *w, float *y) {
  k::dense<K, M>(n, x, w, y);
}
template <int K, int M>
void Dense<K, M>::dense_grad_input(int n, const float *dy, const float *w, float *dx) {
  k::dense_grad_input<K, M>(n, dy, w, dx);
}
template <int K, int M>
void Dense<K, M>::dense_grad_weight(int n, const float *dy, const float *x, float *dw) {
  k::dense_grad_weight<K, M>(n, dy, x, dw);
}

template <int K, int M, int ACT, bool BIAS>
void FusedDense<K, M, ACT, BIAS>::fused_dense(int n, const float *x, const float *w,
                                              const float *b, float *y) {
  k::fused_dense<K, M, ACT, BIAS>(n, x, w, b, y);
}
template <int K, int M, int ACT, bool BIAS>
void FusedDense<K, M, ACT, BIAS>::fused_dense_grad(int n, const float *dy, const float *x,
                                                   const float *w, const float *y,
                                                   float *scratch, float *dx, float *dw,
                                                   float *db) {
  k::fused_dense_grad<K, M, ACT, BIAS>(n, dy, x, w, y, scratch, dx, dw, db);
}

#define NETC_KG_POOL_PARAMS C, H, W, KH, KW, SH, SW, PT, PL, OH, OW
#define NETC_KG_POOL_TEMPLATE                                                                \
  template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>

NETC_KG_POOL_TEMPLATE
void Pool<NETC_KG_POOL_PARAMS>::max_pool2d(int n, const float *x, float *y) {
  k::max_pool2d<NETC_KG_POOL_PARAMS>(n, x, y);
}
NETC_KG_POOL_TEMPLATE
void Pool<NETC_KG_POOL_PARAMS>::max_pool2d_grad(int n, const float *dy, const float *x,
                                                float *dx) {
  k::max_pool2d_grad<NETC_KG_POOL_PARAMS>(n, dy, x, dx);
}
NETC_KG_POOL_TEMPLATE
void Pool<NETC_KG_POOL_PARAMS>::avg_pool2d(int n, const float *x, float *y) {
  k::avg_pool2d<NETC_KG_POOL_PARAMS>(n, x, y);
}
NETC_KG_POOL_TEMPLATE
void Pool<NETC_KG_POOL_PARAMS>::avg_pool2d_grad(int n, const float *dy, float *dx) {
  k::avg_pool2d_grad<NETC_KG_POOL_PARAMS>(n, dy, dx);
}

template <int C, int S>
void Channels<C, S>::bias_add(int n, const float *x, const float *b, float *y) {
  k::bias_add<C, S>(n, x, b, y);
}
template <int C, int S> void Channels<C, S>::bias_grad(int n, const float *dy, float *db) {
  k::bias_grad<C, S>(n, dy, db);
}
template <int C, int S> void Channels<C, S>::global_avg_pool(int n, const float *x, float *y) {
  k::global_avg_pool<C, S>(n, x, y);
}
template <int C, int S>
void Channels<C, S>::global_avg_pool_grad(int n, const float *dy, float *dx) {
  k::global_avg_pool_grad<C, S>(n, dy, dx);
}
template <int C, int S>
void Channels<C, S>::batch_norm_inference(int n, const float *x, const float *gamma,
                                          const float *beta, const float *mean,
                                          const float *var, float eps, float *y) {
  k::batch_norm_inference<C, S>(n, x, gamma, beta, mean, var, eps, y);
}
template <int C, int S>
void Channels<C, S>::batch_norm_inference_grad(int n, const float *dy, const float *gamma,
                                               const float *var, float eps, float *dx) {
  k::batch_norm_inference_grad<C, S>(n, dy, gamma, var, eps, dx);
}
template <int C, int S>
void Channels<C, S>::batch_norm_train(int n, const float *x, const float *gamma,
                                      const float *beta, float *running_mean,
                                      float *running_var, float eps, float momentum, float *y,
                                      float *batch_mean, float *batch_inv_std) {
  k::batch_norm_train<C, S>(n, x, gamma, beta, running_mean, running_var, eps, momentum, y,
                            batch_mean, batch_inv_std);
}
template <int C, int S>
void Channels<C, S>::batch_norm_train_grad(int n, const float *dy, const float *x,
                                           const float *gamma, const float *batch_mean,
                                           const float *batch_inv_std, float *dx,
                                           float *dgamma, float *dbeta) {
  k::batch_norm_train_grad<C, S>(n, dy, x, gamma, batch_mean, batch_inv_std, dx, dgamma, dbeta);
}

template <int F, int K>
void Fold<F, K>::fold_batch_norm(const float *w, const float *b, const float *gamma,
                                 const float *beta, const float *mean, const float *var,
                                 float eps, float *w_out, float *b_out) {
  k::fold_batch_norm<F, K>(w, b, gamma, beta, mean, var, eps, w_out, b_out);
}

template <int E> void Elementwise<E>::add(int n, const float *a, const float *b, float *y) {
  k::add<E>(n, a, b, y);
}
template <int E> void Elementwise<E>::mul(int n, const float *a, const float *b, float *y) {
  k::mul<E>(n, a, b, y);
}
template <int E> void Elementwise<E>::copy(int n, const float *x, float *y) {
  k::copy<E>(n, x, y);
}
template <int E> void Elementwise<E>::relu(int n, const float *x, float *y) {
  k::relu<E>(n, x, y);
}
template <int E> void Elementwise<E>::sigmoid(int n, const float *x, float *y) {
  k::sigmoid<E>(n, x, y);
}
template <int E> void Elementwise<E>::tanh(int n, const float *x, float *y) {
  k::tanh<E>(n, x, y);
}
template <int E>
void Elementwise<E>::relu_grad(int n, const float *dy, const float *y, float *dx) {
  k::relu_grad<E>(n, dy, y, dx);
}
template <int E>
void Elementwise<E>::sigmoid_grad(int n, const float *dy, const float *y, float *dx) {
  k::sigmoid_grad<E>(n, dy, y, dx);
}
template <int E>
void Elementwise<E>::tanh_grad(int n, const float *dy, const float *y, float *dx) {
  k::tanh_grad<E>(n, dy, y, dx);
}
template <int E>
void Elementwise<E>::dropout_mask(int n, float rate, std::uint64_t seed, std::uint64_t stream,
                                  float *mask) {
  k::dropout_mask<E>(n, rate, seed, stream, mask);
}

template <int K> void Loss<K>::softmax(int n, const float *x, float *y) {
  k::softmax<K>(n, x, y);
}
template <int K> void Loss<K>::softmax_grad(int n, const float *dy, const float *y, float *dx) {
  k::softmax_grad<K>(n, dy, y, dx);
}
template <int K>
float Loss<K>::cross_entropy(int n, const float *probs, const std::int32_t *labels) {
  return k::cross_entropy<K>(n, probs, labels);
}
template <int K>
std::int32_t Loss<K>::count_correct(int n, const float *probs, const std::int32_t *labels) {
  return k::count_correct<K>(n, probs, labels);
}
template <int K>
void Loss<K>::softmax_cross_entropy_grad(int n, const float *probs, const std::int32_t *labels,
                                         float *dlogits) {
  k::softmax_cross_entropy_grad<K>(n, probs, labels, dlogits);
}

void sgd_update(std::int64_t size, float *p, const float *g, float *velocity, float lr,
                float momentum, bool nesterov) {
  k::sgd_update(size, p, g, velocity, lr, momentum, nesterov);
}
void adam_update(std::int64_t size, float *p, const float *g, float *m, float *v, float lr,
                 float beta1, float beta2, float eps, std::int64_t t) {
  k::adam_update(size, p, g, m, v, lr, beta1, beta2, eps, t);
}

// Every shape of KernelCases.h, instantiated once.
#define NETC_KG_CONV(name, ...) template struct Conv<__VA_ARGS__>;
#define NETC_KG_FUSED_CONV(name, ...) template struct FusedConv<__VA_ARGS__>;
#define NETC_KG_DENSE(name, ...) template struct Dense<__VA_ARGS__>;
#define NETC_KG_FUSED_DENSE(name, ...) template struct FusedDense<__VA_ARGS__>;
#define NETC_KG_POOL(name, ...) template struct Pool<__VA_ARGS__>;
#define NETC_KG_CHANNELS(name, ...) template struct Channels<__VA_ARGS__>;
#define NETC_KG_FOLD(name, ...) template struct Fold<__VA_ARGS__>;
#define NETC_KG_ELEMENTWISE(name, ...) template struct Elementwise<__VA_ARGS__>;
#define NETC_KG_LOSS(name, ...) template struct Loss<__VA_ARGS__>;
NETC_KG_CONV_CASES(NETC_KG_CONV)
NETC_KG_FUSED_CONV_CASES(NETC_KG_FUSED_CONV)
NETC_KG_DENSE_CASES(NETC_KG_DENSE)
NETC_KG_FUSED_DENSE_CASES(NETC_KG_FUSED_DENSE)
NETC_KG_POOL_CASES(NETC_KG_POOL)
NETC_KG_CHANNEL_CASES(NETC_KG_CHANNELS)
NETC_KG_FOLD_CASES(NETC_KG_FOLD)
NETC_KG_ELEMENTWISE_CASES(NETC_KG_ELEMENTWISE)
NETC_KG_LOSS_CASES(NETC_KG_LOSS)

} // namespace netc::kgtest::ref
