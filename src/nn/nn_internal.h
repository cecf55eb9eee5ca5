/* Private pieces of the nn module shared between its files. */
#ifndef CT_NN_INTERNAL_H
#define CT_NN_INTERNAL_H

#include "cosmotl/nn.h"

/* Streams of the counter-based generator, salted so that weight draws and
 * dropout draws never share a (seed, stream) pair. */
#define CT_NN_STREAM_INIT 0x1000ull
#define CT_NN_STREAM_DROPOUT (1ull << 62)

/* The training kernels exist in two compute precisions (kernels.h, compiled as
 * kernels_f64.c and kernels_f32.c); CT_NN_DECLARE_KERNELS declares one set. */
#define CT_NN_DECLARE_KERNELS(T, S)                                                        \
    /* Scratch buffers for a training forward/backward pass of up to cap rows. */          \
    typedef struct {                                                                       \
        int64_t cap;                                                                       \
        T *z[CT_NN_MAX_LAYERS];  /* pre-activations, cap x dims[l+1] */                    \
        T *h[CT_NN_MAX_LAYERS];  /* post-activation, before dropout */                     \
        T *a[CT_NN_MAX_LAYERS];  /* after dropout (== h when no dropout) */                \
        T *mk[CT_NN_MAX_LAYERS]; /* dropout multipliers 0 or 1/(1-p) */                    \
        T *da, *dz;              /* cap x max width */                                     \
        T *gy;                   /* cap x n_out */                                         \
        T *ones;                 /* cap */                                                 \
        int n_layers;                                                                      \
        int owns_a[CT_NN_MAX_LAYERS];                                                      \
    } ct_nn_work##S;                                                                       \
    ct_status ct_nn_work_alloc##S(ct_nn_work##S *w, const ct_mlp *m, int64_t cap,          \
                                  int dropout);                                            \
    void ct_nn_work_free##S(ct_nn_work##S *w);                                             \
    void ct_nn_act_apply##S(ct_act a, double slope, T *v, size_t n);                       \
    void ct_nn_act_backward##S(ct_act a, double slope, const T *z, const T *h, T *d,       \
                               size_t n);                                                  \
    void ct_nn_linear_forward##S(const T *x, int64_t n, int fin, int fout, const T *W,     \
                                 const T *b, T *z);                                        \
    double ct_nn_loss##S(ct_loss_kind kind, int64_t n, int nt, const T *y, const T *t,     \
                         const unsigned char *mask, const int *dummy, double norm_rows,    \
                         T *grad);                                                         \
    /* Gradient of the loss over n rows with the parameters params (layout of            \
     * m->params; ids: global row indices for dropout keys, may be NULL when dropout     \
     * is off). grad is overwritten (frozen layers: zero). */                             \
    ct_status ct_nn_gradient_work##S(const ct_mlp *m, ct_nn_work##S *w, const T *params,   \
                                     const T *x, const T *t, const unsigned char *mask,    \
                                     const int64_t *ids, int64_t n, double norm_rows,      \
                                     int dropout_on, uint64_t seed, int epoch, T *grad,    \
                                     double *loss);                                        \
    ct_status ct_nn_gradient_rows##S(const ct_mlp *m, const T *params, const T *x,         \
                                     const T *t, const unsigned char *mask, int64_t n,     \
                                     double norm_rows, int dropout_on, uint64_t seed,      \
                                     int epoch, int64_t row0, T *grad, double *loss);      \
    void ct_nn_adamw##S(T *restrict p, T *restrict m1, T *restrict m2,                     \
                        const T *restrict g, size_t n, double decay, double b1, double b2, \
                        double step, double inv_sqrt_bc2, double eps);

CT_NN_DECLARE_KERNELS(double, _f64)
CT_NN_DECLARE_KERNELS(float, _f32)

/* Model state beyond the network, saved in checkpoints. */
typedef struct {
    int epoch;            /* epochs completed */
    int finished;
    int64_t step;         /* AdamW steps taken */
    double lr;            /* current learning rate */
    ct_nn_precision precision; /* compute precision of the run */
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

/* The /provenance group (provenance.c); reading a file without it gives NULL.
 * Callers include <hdf5.h> first. */
#ifdef H5_VERS_MAJOR
ct_status ct_nn_prov_write(hid_t f, const ct_model_prov *p);
ct_status ct_nn_prov_read(hid_t f, const char *path, ct_model_prov **out);
#endif

/* Allocate a model with the given dims (weights zero) and default metadata. */
ct_status ct_nn_alloc(ct_mlp **m, int n_in, int n_targets, ct_loss_kind loss, int n_layers,
                      const int *dims);
ct_status ct_nn_set_history(ct_mlp *m, int n, const double *tr, const double *va,
                            const double *lr);
ct_status ct_nn_append_history(ct_mlp *m, double tr, double va, double lr);

/* Broadcast a whole model from root of comm (others get a fresh copy). */
ct_status ct_nn_bcast(ct_mlp **m, int root, MPI_Comm comm);

#endif
