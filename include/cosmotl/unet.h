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

#ifdef __cplusplus
}
#endif

#endif
