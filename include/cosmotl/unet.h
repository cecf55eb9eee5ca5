/* cosmotl 3-D convolutional layers and the D3M U-Net (docs/d3m.md).
 *
 * Tensors are float32, N x C x D x H x W, row-major with W fastest (PyTorch's
 * NCDHW), described by a ct_tdims. Layer functions are stateless: the caller owns
 * every buffer. Backward functions ADD weight gradients into dW/db (so gradients
 * accumulate over samples and layers) and OVERWRITE input gradients dx.
 * Convolutions have no implicit padding ("valid"); padding is the separate
 * periodic layer, as in the published model. */
#ifndef COSMOTL_UNET_H
#define COSMOTL_UNET_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ tensor shapes */

typedef struct {
    int n;    /* samples */
    int c;    /* channels */
    int s[3]; /* spatial sizes D, H, W */
} ct_tdims;

/* Cells per channel (D*H*W) and elements of the whole tensor. */
int64_t ct_tdims_cells(ct_tdims t);
int64_t ct_tdims_count(ct_tdims t);

/* --------------------------------------------------------- padding and crop */

/* y (N x C x (D+lo+hi) ...) = x padded periodically: y[i] = x[(i - lo) mod D]
 * per axis. Requires lo, hi <= the size of the axis. */
void ct_pad_periodic_forward(const float *x, ct_tdims xd, const int lo[3], const int hi[3],
                             float *y);
/* dx = adjoint of the padding: every padded cell's gradient added to its source. */
void ct_pad_periodic_backward(const float *dy, ct_tdims xd, const int lo[3], const int hi[3],
                              float *dx);
/* y (N x C x out[0] x out[1] x out[2]) = x[off + i]. */
void ct_crop_forward(const float *x, ct_tdims xd, const int off[3], const int out[3], float *y);
/* dx = zero outside the crop, dy inside. */
void ct_crop_backward(const float *dy, ct_tdims xd, const int off[3], const int out[3],
                      float *dx);

/* ------------------------------------------------------------- convolutions */

/* conv3d: cubic kernel k, stride s, no padding, output size (D - k) / s + 1.
 * W: cout x cin x k^3, b: cout (may be NULL: no bias). */
ct_status ct_conv3d_dims(ct_tdims xd, int cout, int k, int s, ct_tdims *yd);
/* Scratch floats a call of forward or backward needs (im2col columns of a
 * block of output planes); work may be NULL, then the call allocates it. */
size_t ct_conv3d_work_len(ct_tdims xd, int cout, int k, int s);
ct_status ct_conv3d_forward(const float *x, ct_tdims xd, const float *W, const float *b,
                            int cout, int k, int s, float *y, float *work);
/* dx (may be NULL: not wanted) overwritten; dW, db (may be NULL) accumulated. */
ct_status ct_conv3d_backward(const float *x, ct_tdims xd, const float *W, int cout, int k,
                             int s, const float *dy, float *dx, float *dW, float *db,
                             float *work);

/* Transposed conv3d: kernel k, stride s, no padding, output (D - 1) s + k.
 * W: cin x cout x k^3 (PyTorch's ConvTranspose3d layout), b: cout or NULL. */
ct_status ct_deconv3d_dims(ct_tdims xd, int cout, int k, int s, ct_tdims *yd);
size_t ct_deconv3d_work_len(ct_tdims xd, int cout, int k, int s);
ct_status ct_deconv3d_forward(const float *x, ct_tdims xd, const float *W, const float *b,
                              int cout, int k, int s, float *y, float *work);
ct_status ct_deconv3d_backward(const float *x, ct_tdims xd, const float *W, int cout, int k,
                               int s, const float *dy, float *dx, float *dW, float *db,
                               float *work);

/* --------------------------------------------------------------- batch norm */

/* Batch norm over N x D x H x W per channel. Training mode (train != 0) uses the
 * statistics of the global batch: the per-channel sums are allreduced over comm
 * (MPI_COMM_NULL: this process's batch only), so the result does not depend on
 * how the batch is split over ranks; it updates running_mean/var with momentum
 * (running = (1 - m) running + m batch, unbiased variance, as PyTorch) and saves
 * mean and inv_std (C each) for the backward pass. Inference mode normalises
 * with the running statistics. gamma, beta: C. Sums accumulate in double. */
ct_status ct_batchnorm_forward(const float *x, ct_tdims xd, const float *gamma,
                               const float *beta, float *running_mean, float *running_var,
                               double momentum, double eps, int train, MPI_Comm comm,
                               float *y, float *save_mean, float *save_inv_std);
/* Training-mode backward: dx overwritten (may alias dy); dgamma, dbeta accumulated
 * with this rank's share (sum them over ranks with the other weight gradients). */
ct_status ct_batchnorm_backward(const float *x, ct_tdims xd, const float *gamma,
                                const float *save_mean, const float *save_inv_std,
                                const float *dy, MPI_Comm comm, float *dx, float *dgamma,
                                float *dbeta);

/* ---------------------------------------------------- activations and concat */

/* y = x > 0 ? x : slope x (slope 0: ReLU); y may alias x. */
void ct_leaky_relu_forward(const float *x, size_t n, float slope, float *y);
/* dx = y > 0 ? dy : slope dy, from the layer's OUTPUT y (valid for slope >= 0);
 * dx may alias dy. */
void ct_leaky_relu_backward(const float *y, const float *dy, size_t n, float slope, float *dx);
/* y (N x (Ca + Cb) x S) = [a, b] along the channel axis. */
void ct_concat_forward(const float *a, int ca, const float *b, int cb, int n, int64_t cells,
                       float *y);
void ct_concat_backward(const float *dy, int ca, int cb, int n, int64_t cells, float *da,
                        float *db);

/* ------------------------------------------------------------------ U-Net */

/* The D3M U-Net (docs/d3m.md): level l has base << l channels; every block is
 * periodic pad 1 -> conv 3^3 -> batch norm -> (leaky) ReLU; level 0 has `blocks`
 * blocks, each deeper level one stride-2 block and `blocks` more; the way up is
 * periodic pad (0, 1) -> transposed conv 3^3 stride 2 -> crop (1 before, 2 after)
 * -> batch norm -> ReLU -> concatenation with the skip of that level -> `blocks`
 * blocks; a 1^3 convolution gives the output. D3M: in 3, out 3, base 64,
 * depth 2, blocks 2. Inputs must have sides divisible by 2^depth. */
typedef struct {
    int in_channels;    /* 3: the displacement components (+ extra channels) */
    int out_channels;   /* 3 */
    int base_channels;  /* channels of level 0 */
    int depth;          /* number of stride-2 down-samplings */
    int blocks;         /* stride-1 blocks per level */
    double slope;       /* negative slope of the activation, 0: ReLU */
    double bn_momentum; /* 0.1 */
    double bn_eps;      /* 1e-5 */
    uint64_t seed;      /* weight initialisation (counter-based: rank independent) */
} ct_unet_settings;

void ct_unet_settings_default(ct_unet_settings *s);

typedef struct ct_unet ct_unet;

/* Build the network with PyTorch's default initialisation (uniform +-1/sqrt(fan_in)
 * for weights and biases, batch norm gamma 1, beta 0). comm: the ranks that share
 * a data-parallel batch (batch-norm statistics and gradients are summed over it). */
ct_status ct_unet_create(ct_unet **net, const ct_unet_settings *s, MPI_Comm comm);
void ct_unet_destroy(ct_unet **net);
const ct_unet_settings *ct_unet_get_settings(const ct_unet *net);
int64_t ct_unet_n_params(const ct_unet *net);
/* All trainable parameters, contiguous (layer by layer: weights then bias;
 * gamma then beta), and their gradients (same layout). */
float *ct_unet_params(ct_unet *net);
const float *ct_unet_grads(const ct_unet *net);
/* Batch-norm running statistics (mean then variance per layer), the state that
 * inference mode uses. */
float *ct_unet_running(ct_unet *net, int64_t *n);

/* Forward pass of this rank's share of the batch (x: xd.n x in_channels x D^3,
 * y: xd.n x out_channels x D^3). train: batch statistics over the whole batch of
 * comm (updating the running statistics) and activations kept for backward;
 * otherwise running statistics. Collective over comm in training mode. */
ct_status ct_unet_forward(ct_unet *net, const float *x, ct_tdims xd, int train, float *y);
/* After a training forward pass: the L1 loss mean |y - t| over every element of
 * the whole batch of comm (returned in *loss on every rank) and the gradient of
 * that loss for every parameter, summed over the ranks (ct_unet_grads). */
ct_status ct_unet_backward_l1(ct_unet *net, const float *t, double *loss);
/* The same with a caller's output gradient dy (of this rank's share); the
 * parameter gradients are summed over comm. dx (may be NULL) receives the
 * gradient with respect to this rank's input. */
ct_status ct_unet_backward(ct_unet *net, const float *dy, float *dx);

/* Adam (decoupled weight decay as AdamW when weight_decay > 0). */
typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
} ct_adam_settings;
void ct_adam_settings_default(ct_adam_settings *s); /* 1e-4, 0.9, 0.999, 1e-8, 0 */
/* One Adam step on the current gradients (identical on every rank). */
ct_status ct_unet_adam_step(ct_unet *net, const ct_adam_settings *a);
int64_t ct_unet_step_count(const ct_unet *net);

/* Checkpoint: settings, parameters, running statistics, Adam moments and step,
 * written by rank 0 through an atomic rename; loading restores every bit, so a
 * resumed run continues exactly as an uninterrupted one. */
ct_status ct_unet_save(const ct_unet *net, const char *path);
ct_status ct_unet_load(ct_unet **net, const char *path, MPI_Comm comm);

/* ------------------------------------------------------ D3M training data */

/* The displacement field d = x - q of a simulation's particles on its Lagrangian
 * lattice: particle ID id (1-based, as cosmotl's initial conditions number them)
 * sits at q = H (i, j, k) with id - 1 = (i N + j) N + k and H = box / N; d is the
 * periodic minimum image of x - q (|d| < box / 2 per component). The field is
 * returned on rank `root` as 3 x N^3 floats (component, then i, j, k: the U-Net's
 * N x C x D x H x W layout for one sample); other ranks may pass d = NULL. The
 * particles may be spread over the ranks of comm in any order. Every ID of
 * [1, N^3] must occur exactly once over all ranks, else CT_ERR_FORMAT naming the
 * first missing or repeated ID. Collective; needs 3 N^3 floats and N^3 bytes on
 * every rank; N <= 512 (larger boxes need a distributed version). */
ct_status ct_d3m_displacement(const float *pos, const uint64_t *id, int64_t n, int64_t N,
                              double box, int root, MPI_Comm comm, float *d);

/* Augmentation by a symmetry of the periodic lattice: output axis a takes input
 * axis perm[a] (a permutation of 0, 1, 2), reflected (i -> (N - i) mod N, i.e.
 * q -> -q) when flip[a]. d and out: C x N^3 (C >= 3, out != d); channels 0..2
 * are the vector components, which are permuted and change sign with their
 * axes; channels 3.. are scalars, moved only. The displacement field of the
 * transformed particles is the transformed field. */
ct_status ct_d3m_augment(const float *d, int C, int64_t N, const int flip[3], const int perm[3],
                         float *out);
/* The same transformation of a cube cut from a lattice (C x S^3, not periodic):
 * reflection reverses the cube (i -> S - 1 - i). A sub-cube [o, o + S) of the
 * transformed lattice is this transformation of the lattice's sub-cube whose
 * corner along axis perm[a] is o[a], or N - o[a] - S + 1 when flip[a] (so a
 * training sample needs only that sub-cube of the stored field). */
ct_status ct_d3m_augment_cube(const float *d, int C, int64_t S, const int flip[3],
                              const int perm[3], float *out);

#ifdef __cplusplus
}
#endif

#endif
