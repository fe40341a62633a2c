//===- KernelCases.h - the shapes the CUDA kernel tests run at --*- C++ -*-===//
//
// One list per kernel family, as X-macros, so the two translation units of
// kernel-gpu-tests agree on them without repeating a number:
//   KernelReference.cpp (g++) instantiates the CPU kernels of net/Kernels at
//     each shape, behind the wrappers declared below;
//   the kernel tests (*KernelTest.cu, nvcc) instantiate the CUDA launchers
//     of net/Kernels/cuda at the same shapes and define one test per
//     entry, named after it.
// The CPU kernels stay out of nvcc (they are GCC vector-extension C++ built
// as generated CPU code is built), and the two halves compile in parallel.
//
// The shapes are the template arguments netc's emitters pass for the models
// of models/*.net (netc models/X.net -emit=cuda), plus resnet50_head's kinds
// of layer at a reduced size (1x1 and 3x3 convolutions, stride 2 with
// padding, the 7x7 stem, batch norms, global average pooling) and a few
// variants that exercise a code path the models do not (sigmoid and tanh in
// the fused kernels, pooling windows that overhang the input).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_TEST_GPU_KERNELCASES_H
#define NETC_TEST_GPU_KERNELCASES_H

#include <cstdint>

// X(name, C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW): conv2d and its
// gradients, the unfused kernels (every conv layer of the models, as the
// unfused graph would call them, and resnet-style layers at reduced size).
#define NETC_KG_CONV_CASES(X)                                                                \
  X(lenet5_conv1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28)                                     \
  X(lenet5_conv2, 6, 14, 14, 16, 5, 5, 1, 1, 2, 2, 14, 14)                                    \
  X(lenet5_conv3, 16, 7, 7, 120, 5, 5, 1, 1, 2, 2, 7, 7)                                      \
  X(lenet5_classic_conv2, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10)                            \
  X(mnist_cnn_conv1, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 26, 26)                                 \
  X(mnist_cnn_conv2, 32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24)                                \
  X(tf_cnn_conv2, 32, 13, 13, 64, 3, 3, 1, 1, 0, 0, 11, 11)                                   \
  X(tf_cnn_conv3, 64, 5, 5, 64, 3, 3, 1, 1, 0, 0, 3, 3)                                       \
  X(resnet_3x3_s1_p1, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 14, 14)                               \
  X(resnet_3x3_s2_p1, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1, 7, 7)                                 \
  X(resnet_1x1_s2, 32, 14, 14, 64, 1, 1, 2, 2, 0, 0, 7, 7)                                    \
  X(resnet_stem_7x7_s2_p3, 3, 32, 32, 16, 7, 7, 2, 2, 3, 3, 16, 16)

// X(name, C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW, ACT, POOL, PKH, PKW,
//   PSH, PSW, PPT, PPL, POH, POW, BIAS): fused_conv2d and fused_conv2d_grad.
// The first ten are the emitted calls of lenet5, lenet5_classic, mnist_cnn
// and tf_cnn (ACT 1 relu; POOL 1 max, 2 average); then resnet50_head's
// kinds at reduced size (ACT 0 is its projection shortcut); then tanh with
// average pooling (lenet5_classic(act = tanh)), sigmoid without pooling or
// bias, and max pooling without activation or bias.
#define NETC_KG_FUSED_CONV_CASES(X)                                                          \
  X(lenet5_conv1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28, 1, 1, 2, 2, 2, 2, 0, 0, 14, 14,     \
    true)                                                                                    \
  X(lenet5_conv2, 6, 14, 14, 16, 5, 5, 1, 1, 2, 2, 14, 14, 1, 1, 2, 2, 2, 2, 0, 0, 7, 7, true) \
  X(lenet5_conv3, 16, 7, 7, 120, 5, 5, 1, 1, 2, 2, 7, 7, 1, 0, 0, 0, 0, 0, 0, 0, 7, 7, true)   \
  X(lenet5_classic_conv1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28, 1, 2, 2, 2, 2, 2, 0, 0, 14, \
    14, true)                                                                                \
  X(lenet5_classic_conv2, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10, 1, 2, 2, 2, 2, 2, 0, 0, 5, \
    5, true)                                                                                 \
  X(mnist_cnn_conv1, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 26, 26, 1, 0, 0, 0, 0, 0, 0, 0, 26, 26,  \
    true)                                                                                    \
  X(mnist_cnn_conv2, 32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24, 1, 1, 2, 2, 2, 2, 0, 0, 12, 12, \
    true)                                                                                    \
  X(tf_cnn_conv1, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 26, 26, 1, 1, 2, 2, 2, 2, 0, 0, 13, 13,     \
    true)                                                                                    \
  X(tf_cnn_conv2, 32, 13, 13, 64, 3, 3, 1, 1, 0, 0, 11, 11, 1, 0, 0, 0, 0, 0, 0, 0, 11, 11,    \
    true)                                                                                    \
  X(tf_cnn_conv3, 64, 5, 5, 64, 3, 3, 1, 1, 0, 0, 3, 3, 1, 0, 0, 0, 0, 0, 0, 0, 3, 3, true)    \
  X(resnet_3x3_s1_p1, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 14, 14, 1, 0, 0, 0, 0, 0, 0, 0, 14,   \
    14, true)                                                                                \
  X(resnet_1x1_s2_projection, 32, 14, 14, 64, 1, 1, 2, 2, 0, 0, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0,  \
    7, 7, true)                                                                              \
  X(resnet_stem_7x7_s2_p3, 3, 32, 32, 16, 7, 7, 2, 2, 3, 3, 16, 16, 1, 0, 0, 0, 0, 0, 0, 0,    \
    16, 16, true)                                                                            \
  X(tanh_avg_pool, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10, 3, 2, 2, 2, 2, 2, 0, 0, 5, 5,      \
    true)                                                                                    \
  X(sigmoid_no_pool_no_bias, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 10, 10, 2, 0, 0, 0, 0, 0, 0, 0,  \
    10, 10, false)                                                                           \
  X(max_pool_no_act_no_bias, 6, 14, 14, 16, 5, 5, 1, 1, 2, 2, 14, 14, 0, 1, 2, 2, 2, 2, 0, 0,  \
    7, 7, false)

// X(name, K, M): dense, dense_grad_input, dense_grad_weight at every dense
// layer of the models (resnet50_head's head at full size).
#define NETC_KG_DENSE_CASES(X)                                                               \
  X(lenet5_dense1, 5880, 84)                                                                 \
  X(lenet5_dense2, 84, 10)                                                                   \
  X(lenet5_classic_dense1, 400, 120)                                                         \
  X(lenet5_classic_dense2, 120, 84)                                                          \
  X(mnist_cnn_dense1, 9216, 128)                                                             \
  X(mnist_cnn_dense2, 128, 10)                                                               \
  X(tf_cnn_dense1, 576, 64)                                                                  \
  X(tf_cnn_dense2, 64, 10)                                                                   \
  X(resnet50_head_dense1, 2048, 256)                                                         \
  X(resnet50_head_dense2, 256, 1000)

// X(name, K, M, ACT, BIAS): fused_dense and fused_dense_grad, as emitted,
// plus sigmoid without bias and tanh.
#define NETC_KG_FUSED_DENSE_CASES(X)                                                         \
  X(lenet5_dense1, 5880, 84, 1, true)                                                        \
  X(lenet5_dense2, 84, 10, 0, true)                                                          \
  X(lenet5_classic_dense1, 400, 120, 1, true)                                                \
  X(lenet5_classic_dense2, 120, 84, 1, true)                                                 \
  X(mnist_cnn_dense1, 9216, 128, 1, true)                                                    \
  X(mnist_cnn_dense2, 128, 10, 0, true)                                                      \
  X(tf_cnn_dense1, 576, 64, 1, true)                                                         \
  X(tf_cnn_dense2, 64, 10, 0, true)                                                          \
  X(resnet50_head_dense1, 2048, 256, 1, true)                                                \
  X(resnet50_head_dense2, 256, 1000, 0, true)                                                \
  X(sigmoid_no_bias, 84, 10, 2, false)                                                       \
  X(tanh, 120, 84, 3, true)

// X(name, C, H, W, KH, KW, SH, SW, PT, PL, OH, OW): max_pool2d, avg_pool2d
// and their gradients. lenet5's and mnist_cnn's pools unfused, tf_cnn's
// floor pool (11 -> 5, as emitted), resnet50's padded overlapping 3x3/2 stem
// pool at reduced size, and windows that overhang the input (the last row and
// column of windows hold padding only).
#define NETC_KG_POOL_CASES(X)                                                                \
  X(lenet5_pool1, 6, 28, 28, 2, 2, 2, 2, 0, 0, 14, 14)                                        \
  X(mnist_cnn_pool, 64, 24, 24, 2, 2, 2, 2, 0, 0, 12, 12)                                     \
  X(tf_cnn_pool3, 64, 11, 11, 2, 2, 2, 2, 0, 0, 5, 5)                                         \
  X(resnet_stem_pool_3x3_s2_p1, 16, 28, 28, 3, 3, 2, 2, 1, 1, 14, 14)                         \
  X(overhanging_windows, 3, 5, 5, 3, 3, 2, 2, 1, 1, 4, 4)

// X(name, C, S): per-channel kernels over planes of S pixels: bias_add,
// bias_grad, global_avg_pool (+ grad), batch_norm_inference (+ grad),
// batch_norm_train (+ grad).
#define NETC_KG_CHANNEL_CASES(X)                                                             \
  X(lenet5_conv1, 6, 784)                                                                    \
  X(lenet5_dense1, 84, 1)                                                                    \
  X(tf_cnn_conv2, 64, 121)                                                                   \
  X(resnet_14x14, 16, 196)                                                                   \
  X(resnet_7x7, 256, 49)                                                                     \
  X(resnet_28x28, 32, 784)

// X(name, F, K): fold_batch_norm of a conv weight [F][K = C*KH*KW].
#define NETC_KG_FOLD_CASES(X)                                                                \
  X(resnet_stem, 64, 147)                                                                    \
  X(resnet_3x3, 16, 144)                                                                     \
  X(resnet_1x1, 64, 32)

// X(name, E): the element-wise kernels and dropout_mask over n*E floats
// (E the elements per sample of the emitted copy / mul / dropout / relu).
#define NETC_KG_ELEMENTWISE_CASES(X)                                                         \
  X(lenet5_flatten, 5880)                                                                    \
  X(lenet5_classic_flatten, 400)                                                             \
  X(mnist_cnn_flatten, 9216)                                                                 \
  X(mnist_cnn_dense1, 128)                                                                   \
  X(tf_cnn_flatten, 576)                                                                     \
  X(resnet50_head_dense1, 256)                                                               \
  X(resnet_relu_64x14x14, 12544)

// X(name, K): softmax, softmax_grad, cross_entropy, count_correct and
// softmax_cross_entropy_grad over K classes.
#define NETC_KG_LOSS_CASES(X)                                                                \
  X(mnist_10_classes, 10)                                                                    \
  X(resnet50_head_1000_classes, 1000)

// X(name, SIZE, PLANES, TABLE_STRIDE): gather_batch (no CPU twin: checked
// against a table lookup on the host).
#define NETC_KG_GATHER_CASES(X)                                                              \
  X(mnist_one_table, 784, 1, 0)                                                              \
  X(rgb_table_per_plane, 192, 3, 256)

namespace netc::kgtest::ref {

// Thin wrappers around the CPU kernels (netc::kernels), defined and
// instantiated at the shapes above in KernelReference.cpp. Each member has
// the name and arguments of the kernel it calls.

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
struct Conv {
  static void conv2d(int n, const float *x, const float *w, float *y);
  static void conv2d_grad_input(int n, const float *dy, const float *w, float *dx);
  static void conv2d_grad_weight(int n, const float *dy, const float *x, float *dw);
};

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL,
          int POH, int POW, bool BIAS>
struct FusedConv {
  static void fused_conv2d(int n, const float *x, const float *w, const float *b, float *y,
                           float *saved);
  static void fused_conv2d_grad(int n, const float *dy, const float *x, const float *w,
                                const float *y, const float *saved, float *scratch, float *dx,
                                float *dw, float *db);
};

template <int K, int M> struct Dense {
  static void dense(int n, const float *x, const float *w, float *y);
  static void dense_grad_input(int n, const float *dy, const float *w, float *dx);
  static void dense_grad_weight(int n, const float *dy, const float *x, float *dw);
};

template <int K, int M, int ACT, bool BIAS> struct FusedDense {
  static void fused_dense(int n, const float *x, const float *w, const float *b, float *y);
  static void fused_dense_grad(int n, const float *dy, const float *x, const float *w,
                               const float *y, float *scratch, float *dx, float *dw, float *db);
};

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
struct Pool {
  static void max_pool2d(int n, const float *x, float *y);
  static void max_pool2d_grad(int n, const float *dy, const float *x, float *dx);
  static void avg_pool2d(int n, const float *x, float *y);
  static void avg_pool2d_grad(int n, const float *dy, float *dx);
};

template <int C, int S> struct Channels {
  static void bias_add(int n, const float *x, const float *b, float *y);
  static void bias_grad(int n, const float *dy, float *db);
  static void global_avg_pool(int n, const float *x, float *y);
  static void global_avg_pool_grad(int n, const float *dy, float *dx);
  static void batch_norm_inference(int n, const float *x, const float *gamma, const float *beta,
                                   const float *mean, const float *var, float eps, float *y);
  static void batch_norm_inference_grad(int n, const float *dy, const float *gamma,
                                        const float *var, float eps, float *dx);
  static void batch_norm_train(int n, const float *x, const float *gamma, const float *beta,
                               float *running_mean, float *running_var, float eps,
                               float momentum, float *y, float *batch_mean,
                               float *batch_inv_std);
  static void batch_norm_train_grad(int n, const float *dy, const float *x, const float *gamma,
                                    const float *batch_mean, const float *batch_inv_std,
                                    float *dx, float *dgamma, float *dbeta);
};

template <int F, int K> struct Fold {
  static void fold_batch_norm(const float *w, const float *b, const float *gamma,
                              const float *beta, const float *mean, const float *var, float eps,
                              float *w_out, float *b_out);
};

template <int E> struct Elementwise {
  static void add(int n, const float *a, const float *b, float *y);
  static void mul(int n, const float *a, const float *b, float *y);
  static void copy(int n, const float *x, float *y);
  static void relu(int n, const float *x, float *y);
  static void sigmoid(int n, const float *x, float *y);
  static void tanh(int n, const float *x, float *y);
  static void relu_grad(int n, const float *dy, const float *y, float *dx);
  static void sigmoid_grad(int n, const float *dy, const float *y, float *dx);
  static void tanh_grad(int n, const float *dy, const float *y, float *dx);
  static void dropout_mask(int n, float rate, std::uint64_t seed, std::uint64_t stream,
                           float *mask);
};

template <int K> struct Loss {
  static void softmax(int n, const float *x, float *y);
  static void softmax_grad(int n, const float *dy, const float *y, float *dx);
  static float cross_entropy(int n, const float *probs, const std::int32_t *labels);
  static std::int32_t count_correct(int n, const float *probs, const std::int32_t *labels);
  static void softmax_cross_entropy_grad(int n, const float *probs, const std::int32_t *labels,
                                         float *dlogits);
};

void sgd_update(std::int64_t size, float *p, const float *g, float *velocity, float lr,
                float momentum, bool nesterov);
void adam_update(std::int64_t size, float *p, const float *g, float *m, float *v, float lr,
                 float beta1, float beta2, float eps, std::int64_t t);

} // namespace netc::kgtest::ref

#endif // NETC_TEST_GPU_KERNELCASES_H
