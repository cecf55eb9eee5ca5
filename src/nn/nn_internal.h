/* Private pieces of the nn module shared between its files. */
#ifndef CT_NN_INTERNAL_H
#define CT_NN_INTERNAL_H

#include "cosmotl/nn.h"

/* Scratch buffers for a training forward/backward pass of up to cap rows. */
typedef struct {
    int64_t cap;
    double *z[CT_NN_MAX_LAYERS];  /* pre-activations, cap x dims[l+1] */
    double *h[CT_NN_MAX_LAYERS];  /* post-activation, before dropout */
    double *a[CT_NN_MAX_LAYERS];  /* after dropout (== h when no dropout) */
    double *mk[CT_NN_MAX_LAYERS]; /* dropout multipliers 0 or 1/(1-p) */
    double *da, *dz;              /* cap x max width */
    double *gy;                   /* cap x n_out */
    double *ones;                 /* cap */
    int n_layers;
    int owns_a[CT_NN_MAX_LAYERS];
} ct_nn_work;

ct_status ct_nn_work_alloc(ct_nn_work *w, const ct_mlp *m, int64_t cap, int dropout);
void ct_nn_work_free(ct_nn_work *w);

/* Gradient of the loss over n rows (ids: global row indices for dropout keys, may
 * be NULL when dropout is off). grad is overwritten (frozen layers: zero). */
ct_status ct_nn_gradient_work(const ct_mlp *m, ct_nn_work *w, const double *x,
                              const double *t, const unsigned char *mask, const int64_t *ids,
                              int64_t n, double norm_rows, int dropout_on, uint64_t seed,
                              int epoch, double *grad, double *loss);

/* Model state beyond the network, saved in checkpoints. */
typedef struct {
    int epoch;            /* epochs completed */
    int finished;
    int64_t step;         /* AdamW steps taken */
    double lr;            /* current learning rate */
    double plateau_best;
    int plateau_bad;
    double best_val;
    int best_epoch;
    int bad_epochs;
    int stopped_early;
    double *m1, *m2;      /* AdamW moments, n_params */
    double *best_params;  /* n_params */
} ct_train_state;

/* Model file I/O with an optional training state (checkpoints). */
ct_status ct_nn_write_file(const ct_mlp *m, const ct_train_state *st, const char *path,
                           MPI_Comm comm);
/* Reads the model; if st != NULL and the file has a training state, fills it
 * (allocating m1/m2/best_params) and sets *has_state. */
ct_status ct_nn_read_file(ct_mlp **m, ct_train_state *st, int *has_state, const char *path,
                          MPI_Comm comm);

/* Allocate a model with the given dims (weights zero) and default metadata. */
ct_status ct_nn_alloc(ct_mlp **m, int n_in, int n_targets, ct_loss_kind loss, int n_layers,
                      const int *dims);
ct_status ct_nn_set_history(ct_mlp *m, int n, const double *tr, const double *va,
                            const double *lr);
ct_status ct_nn_append_history(ct_mlp *m, double tr, double va, double lr);

/* Broadcast a whole model from root of comm (others get a fresh copy). */
ct_status ct_nn_bcast(ct_mlp **m, int root, MPI_Comm comm);

#endif
