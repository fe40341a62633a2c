/*===- ModelABI.h - The C ABI of a compiled model (.so) -----------*- C -*-===*
 *
 * One header shared by the code netc generates and by the runtime (netrun)
 * that loads it. A model .so exports the functions declared at the end; the
 * runtime calls netc_model() first and refuses the library unless `magic` and
 * `abi_version` match its own. docs/abi.md explains each field.
 *
 * Conventions: tensors are float32, contiguous, NCHW (images) or (N, features);
 * the batch is fixed when an instance is created and every call takes n <= that
 * batch samples; labels are int32 class indices. Functions return 0 on success
 * and a non-zero code (NETC_ERROR_*) otherwise; the instance's last error text
 * says what was wrong.
 *
 *===----------------------------------------------------------------------===*/
#ifndef NET_RUNTIME_MODELABI_H
#define NET_RUNTIME_MODELABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NETC_ABI_VERSION 5u
#define NETC_MAGIC 0x4354454eu /* "NETC" little-endian */
#define NETC_MAX_RANK 4

enum netc_device { NETC_DEVICE_CPU = 0, NETC_DEVICE_CUDA = 1 };
enum netc_optimizer_kind { NETC_OPTIMIZER_SGD = 0, NETC_OPTIMIZER_ADAM = 1 };
enum netc_status {
  NETC_OK = 0,
  NETC_ERROR_ARGUMENT = 1, /* n out of range, null pointer, unknown name */
  NETC_ERROR_DEVICE = 2,   /* device not available in this build or machine */
  NETC_ERROR_MEMORY = 3,   /* the arena could not be allocated */
  NETC_ERROR_EXCHANGE = 4, /* the data-parallel exchange (netc_set_exchange) failed */
};

/* A parameter (weights, biases, batch-norm statistics) or an optimizer slot. */
typedef struct netc_tensor_info {
  const char *name;              /* "conv2d_1.kernel", "conv2d_1.kernel/adam_m" */
  int32_t rank;
  int64_t shape[NETC_MAX_RANK];
  int64_t size;                  /* elements */
  const char *init;              /* zeros, ones, glorot_uniform, glorot_normal, he_uniform, he_normal */
  int64_t fan_in, fan_out;       /* for the initializer, as Keras computes them */
  int32_t trainable;             /* 0 for frozen parameters and optimizer slots */
} netc_tensor_info;

/* One row of the layer table (netrun info), as Keras' summary() prints it. */
typedef struct netc_layer_info {
  const char *name;              /* conv2d_1, stage_2/bottleneck_1/conv2d_3 */
  const char *kind;              /* conv2d, dense, max_pool2d, ... */
  const char *activation;        /* relu, ..., or "" */
  int32_t rank;
  int64_t shape[NETC_MAX_RANK];  /* output; shape[0] = -1 stands for the batch */
  int64_t params;                /* elements of its parameters */
  int64_t flops;                 /* forward floating-point operations per image */
} netc_layer_info;

/* The training set-up written in the .net file; netrun's flags override it. */
typedef struct netc_train_setup {
  int32_t optimizer;             /* netc_optimizer_kind */
  double learning_rate;
  double momentum;               /* SGD */
  int32_t nesterov;              /* SGD */
  double beta1, beta2, epsilon;  /* Adam */
  int32_t batch;
  int32_t epochs;
  /* The learning-rate schedule, as netrun's --lr-schedule and its flags. */
  const char *lr_schedule;       /* constant, step, exponential, cosine, one-cycle,
                                    reduce-on-plateau */
  int32_t lr_step_size;          /* step: epochs between decays */
  double lr_gamma;               /* step: factor every lr_step_size epochs */
  double lr_decay;               /* exponential: factor per epoch */
  double lr_min;                 /* cosine, reduce-on-plateau: the lowest rate */
  int32_t lr_patience;           /* reduce-on-plateau: epochs without a better val_loss */
  double lr_factor;              /* reduce-on-plateau: factor of a reduction */
  /* Early stopping, as netrun's --early-stopping and its flags. */
  int32_t early_stopping;        /* 1: on */
  const char *monitor;           /* val_loss or val_accuracy */
  int32_t patience;
  double min_delta;
  int32_t restore_best_weights;
} netc_train_setup;

typedef struct netc_model_info {
  uint32_t magic;                /* NETC_MAGIC */
  uint32_t abi_version;          /* NETC_ABI_VERSION */
  const char *network;           /* the .net network's name */
  const char *compiler;          /* "netc 0.1.0" */
  int32_t input_rank;            /* without the batch: 3 (C, H, W) or 1 */
  int64_t input_shape[3];
  /* Input normalisation: pixel p (0..255) of channel c is fed as
   * (p / 255 - input_mean[c]) / input_std[c]; one value per channel
   * (input_shape[0] of them for rank 3, one for rank 1). */
  const float *input_mean;
  const float *input_std;
  int32_t classes;
  int32_t num_params;
  const netc_tensor_info *params;
  int32_t num_state;             /* optimizer slots, saved in checkpoints */
  const netc_tensor_info *state;
  int32_t num_layers;
  const netc_layer_info *layers;
  int64_t flops_per_image;       /* forward */
  netc_train_setup train;
  uint32_t devices;              /* bit (1 << netc_device) per compiled path */
  /* A frozen base under a trained head (netc's net-split-frozen-base): the
     runtime may compute each sample's features once (netc_base_forward) and
     train the head on them (netc_head_train_step). feature_size is 0 when the
     model has no such split. */
  const char *feature_layer;     /* the layer whose output the features are */
  int32_t feature_rank;          /* without the batch */
  int64_t feature_shape[3];
  int64_t feature_size;          /* floats per sample */
  /* Version 3: the forward graph before fusion, one op a line, for
   * `netrun export` (docs/abi.md); NULL when netc could not describe it. */
  const char *graph;
} netc_model_info;

typedef struct netc_instance netc_instance;

/* Exported by every model .so. */
const netc_model_info *netc_model(void);

/* Creates an instance for batches of at most `batch` samples on `device`,
 * with `threads` CPU threads (0: all cores). Parameters start at zero; the
 * runtime initialises or loads them. On failure returns NULL and writes a
 * message into `error`. */
netc_instance *netc_create(int32_t device, int32_t batch, int32_t threads,
                           char *error, size_t error_size);
void netc_destroy(netc_instance *instance);

/* The storage of a parameter or optimizer slot, by its index in
 * netc_model()->params (or ->state); NULL when out of range. */
float *netc_param_data(netc_instance *instance, int32_t index);
float *netc_state_data(netc_instance *instance, int32_t index);

/* Optimizer step count (Adam's bias correction) and learning rate. */
int64_t netc_get_step(const netc_instance *instance);
void netc_set_step(netc_instance *instance, int64_t step);
void netc_set_learning_rate(netc_instance *instance, float learning_rate);

/* Inference: probabilities (n, classes). Dropout is off. */
int netc_forward(netc_instance *instance, const float *input, int32_t n,
                 float *probabilities);

/* One training step: forward, loss, backward and the optimizer update in one
 * call. `seed` drives dropout for this step. Writes the mean loss before the
 * update and the count of correct predictions. */
int netc_train_step(netc_instance *instance, const float *input,
                    const int32_t *labels, int32_t n, uint64_t seed,
                    float *loss, int32_t *correct);

/* Loss and correct count without training. */
int netc_eval_step(netc_instance *instance, const float *input,
                   const int32_t *labels, int32_t n, float *loss,
                   int32_t *correct);

/* The frozen base's features (n, feature_size) of n inputs, and the head's
 * steps on such features: as netc_train_step and netc_eval_step, for the
 * head alone. NETC_ERROR_ARGUMENT when feature_size is 0. */
int netc_base_forward(netc_instance *instance, const float *input, int32_t n,
                      float *features);
int netc_head_train_step(netc_instance *instance, const float *features,
                         const int32_t *labels, int32_t n, uint64_t seed, float *loss,
                         int32_t *correct);
int netc_head_eval_step(netc_instance *instance, const float *features,
                        const int32_t *labels, int32_t n, float *loss, int32_t *correct);

/* Version 4: a training set held by the instance and runs of training steps
 * over it, with no host round trip per step on the GPU (docs/abi.md).
 *
 * netc_set_train_data gives the instance `count` samples: `pixels` holds
 * each sample's input_shape values as bytes 0..255, `labels` their classes.
 * Byte p of input plane c is fed as table[c * 256 + p] (the runtime's
 * normalisation, tabulated); `table_channels` is 1 (one table for every
 * plane) or the input's channels. A CPU instance reads the caller's arrays
 * in place, so they must stay alive and unchanged while it trains on them; a
 * CUDA instance copies them to the device (NETC_ERROR_MEMORY when they do
 * not fit). */
int netc_set_train_data(netc_instance *instance, const uint8_t *pixels,
                        const int32_t *labels, int64_t count, const float *table,
                        int32_t table_channels);

/* Trains on the samples indices[0, count) of that set, in batches of the
 * instance's batch (the last may be smaller): ceil(count / batch) steps,
 * step s with dropout seed seeds[s] and learning rate learning_rates[s],
 * each exactly as netc_train_step on the gathered batch. Writes each step's
 * mean loss and correct count into losses[s] and corrects[s]; afterwards the
 * learning rate is the last step's. */
int netc_train_steps(netc_instance *instance, const int64_t *indices, int64_t count,
                     const uint64_t *seeds, const float *learning_rates, float *losses,
                     int32_t *corrects);

/* Version 5: data-parallel training (docs/distributed.md). With an exchange
 * set, every training step (netc_train_step, netc_head_train_step,
 * netc_train_steps) runs its data-parallel form. `start` is called on the
 * calling thread as each of the step's values becomes final: the gradient
 * of trainable parameter `param` (its index in netc_model()->params), or
 * parameter `param` itself when it is a batch norm's running statistic that
 * the step updated. It may combine the values with the other replicas' in
 * place, at once or later (a non-blocking allreduce). `wait` is called once
 * after the backward; when it returns, every value handed to `start` must
 * hold its combined value, and the optimizer then updates the parameters
 * from the combined gradients. A non-zero return from either ends the step
 * with NETC_ERROR_EXCHANGE before any trainable parameter, optimizer slot or
 * the step count changes. */
typedef struct netc_exchange {
  int (*start)(void *user, int32_t param, float *values, int64_t size);
  int (*wait)(void *user);
  void *user;
} netc_exchange;

/* Sets the instance's exchange (copied), or turns it off (NULL). On a CUDA
 * instance the values handed out are host copies of the device's, copied
 * back after `wait`. NETC_ERROR_ARGUMENT for a model without the
 * data-parallel step. */
int netc_set_exchange(netc_instance *instance, const netc_exchange *exchange);

/* The text of the last error on this instance ("" when none). */
const char *netc_last_error(const netc_instance *instance);

#ifdef __cplusplus
}
#endif

#endif /* NET_RUNTIME_MODELABI_H */
