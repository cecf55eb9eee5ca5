/* cosmotl nn module: multilayer perceptrons trained data-parallel with MPI.
 *
 *  - ct_mlp: an MLP (any number of hidden layers) with its input normalisation,
 *    output names, min-max target scaling, dummy-output flags, frozen-layer flags,
 *    training history and the config text it was trained with. Fields are public
 *    for reading; change them through the functions below.
 *  - ct_dataset: plain row-major arrays (inputs, targets, optional target mask).
 *    Under a communicator a dataset is sharded: rank r holds the rows that follow
 *    those of rank r-1 (global row index = rows on lower ranks + local index).
 *  - ct_mlp_train: AdamW, lr schedules, early stopping, gradient clipping, HDF5
 *    checkpoints; the global mini-batch is split over the ranks and gradients are
 *    summed with one MPI_Allreduce per step, so the result does not depend on the
 *    number of ranks (to round-off).
 *  - fine-tuning (transfer-learning) operations, data-table readers, hyper-parameter search.
 *
 * Thread use: the GEMMs run on OpenBLAS's threads (OPENBLAS_NUM_THREADS or
 * ct_nn_set_threads); with one rank per core use 1 thread per rank.
 *
 * Layer l (0 <= l < n_layers) maps dims[l] -> dims[l+1]; its weight matrix W[l] is
 * dims[l+1] x dims[l], row-major (PyTorch's nn.Linear layout), bias b[l] has
 * dims[l+1] entries. Layers 0..n_layers-2 are hidden (hidden_act, then dropout);
 * the last is the output layer (out_act). */
#ifndef COSMOTL_NN_H
#define COSMOTL_NN_H

#include <stdint.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_NN_MAX_LAYERS 32 /* linear layers, hidden + output */
#define CT_NN_NAME_MAX 32   /* output (parameter) name capacity incl. NUL */

/* ---------------------------------------------------------------- network */

typedef enum {
    CT_ACT_LINEAR = 0,
    CT_ACT_RELU,
    CT_ACT_LEAKY_RELU, /* slope from leaky_slope */
    CT_ACT_TANH,
    CT_ACT_SIGMOID
} ct_act;

typedef enum { CT_INIT_HE = 0, CT_INIT_GLOROT } ct_init_kind;

/* CT_LOSS_MSE: mean squared error on the live outputs.
 * CT_LOSS_MOMENT: moment network; the network has 2*n_targets outputs, first the
 * means mu then the variances v of each target t; per target the loss is
 * (t - mu)^2 + ((t - mu)^2 - v)^2 with mu held fixed in the second term, so mu
 * learns E[t|x] and v learns Var[t|x] (in scaled units). */
typedef enum { CT_LOSS_MSE = 0, CT_LOSS_MOMENT } ct_loss_kind;

/* Set the number of OpenBLAS threads of this process (0: leave unchanged). */
void ct_nn_set_threads(int n);

const char *ct_act_name(ct_act a);
/* "linear", "relu", "leaky_relu", "tanh", "sigmoid" */
ct_status ct_act_parse(const char *s, ct_act *a);

typedef struct {
    int n_in;                          /* input bins */
    int n_targets;                     /* target parameters (incl. dummy ones) */
    int n_hidden;                      /* hidden layers, 0..CT_NN_MAX_LAYERS-1 */
    int width[CT_NN_MAX_LAYERS];       /* widths of the hidden layers */
    ct_act hidden_act;                 /* default CT_ACT_LEAKY_RELU */
    double leaky_slope;                /* default 0.2 */
    double dropout;                    /* drop probability after each hidden layer, default 0 */
    ct_act out_act;                    /* CT_ACT_SIGMOID (default) or CT_ACT_LINEAR */
    ct_init_kind init;                 /* default CT_INIT_HE (Kaiming normal, zero bias) */
    ct_loss_kind loss;                 /* default CT_LOSS_MSE */
    uint64_t seed;                     /* initial weights come from ct_rng(seed, layer) */
} ct_mlp_arch;

void ct_mlp_arch_defaults(ct_mlp_arch *a);

typedef struct {
    /* architecture */
    int n_in, n_targets, n_out;       /* n_out = n_targets (MSE) or 2 n_targets (moment) */
    int n_layers;                     /* linear layers (hidden + output) */
    int dims[CT_NN_MAX_LAYERS + 1];   /* dims[0] = n_in, dims[n_layers] = n_out */
    ct_act hidden_act, out_act;
    double leaky_slope, dropout;
    ct_init_kind init;
    ct_loss_kind loss;
    /* parameters: one flat buffer (the allreduce buffer has the same layout);
     * W[l], b[l] point into it */
    double *params;
    size_t n_params;
    double *W[CT_NN_MAX_LAYERS], *b[CT_NN_MAX_LAYERS];
    size_t offset[CT_NN_MAX_LAYERS];  /* offset of W[l] in params; b[l] follows W[l] */
    int frozen[CT_NN_MAX_LAYERS];     /* 1: layer not updated by training */
    /* input normalisation: x' = (f(x) - in_mean) / in_std, f = log10 or identity */
    int in_log10;
    double *in_mean, *in_std;         /* n_in each; identity when NULL */
    /* targets (n_targets each): names, prior range used for min-max scaling
     * t' = (t - lo) / (hi - lo), dummy flags (no loss, zero gradient) */
    char (*target_name)[CT_NN_NAME_MAX];
    double *target_lo, *target_hi;
    int *dummy;
    /* training history, one entry per epoch trained so far */
    int n_history;
    double *hist_train, *hist_val, *hist_lr;
    char *config_text;                /* free text, e.g. the config used; may be NULL */
    struct ct_model_prov *prov;       /* what the model takes as input (NULL: a file
                                         written before provenance); see below */
} ct_mlp;

/* New network with initial weights (He or Glorot normal from the counter-based
 * generator), no input normalisation, targets named t0, t1, ... with range [0, 1],
 * no dummy outputs, nothing frozen. */
ct_status ct_mlp_create(ct_mlp **m, const ct_mlp_arch *arch);
void ct_mlp_destroy(ct_mlp **m);
ct_status ct_mlp_copy(const ct_mlp *src, ct_mlp **dst);
/* The architecture of m (widths, activations, ...); seed is set to 0. */
void ct_mlp_get_arch(const ct_mlp *m, ct_mlp_arch *arch);
/* Re-draw the weights of layer l (He/Glorot per m->init) from ct_rng(seed, l). */
ct_status ct_mlp_init_layer(ct_mlp *m, int l, uint64_t seed);

/* Forward pass on n rows of normalised inputs x (n x n_in, row-major); writes the
 * raw network outputs (n x n_out, scaled units). If acts != NULL, acts[l] (for
 * l = 0..n_layers-1, each n x dims[l+1], caller-allocated; NULL entries skipped)
 * receives the post-activation output of every layer (what CKA compares).
 * Inference mode: no dropout. Batched with cblas_dgemm; any n >= 0. */
ct_status ct_mlp_forward(const ct_mlp *m, const double *x, int64_t n, double *out,
                         double **acts);

/* Targets and inputs between physical and network units. */
ct_status ct_mlp_normalize_inputs(const ct_mlp *m, const double *x_raw, int64_t n,
                                  double *x_norm);
void ct_mlp_scale_targets(const ct_mlp *m, const double *t, int64_t n, double *t_scaled);
/* Network outputs (n x n_out) to physical units (n x n_out): means (and, for
 * the moment loss, variances times (hi-lo)^2). */
void ct_mlp_unscale_outputs(const ct_mlp *m, const double *y, int64_t n, double *y_phys);
/* normalize + forward + unscale: raw inputs in, physical parameters out
 * (n x n_out). */
ct_status ct_mlp_predict(const ct_mlp *m, const double *x_raw, int64_t n, double *y_phys);

/* Metadata setters. names may be NULL (keeps the current ones); lo/hi may be NULL
 * (keeps); dummy may be NULL (none dummy). */
ct_status ct_mlp_set_targets(ct_mlp *m, const char *const *names, const double *lo,
                             const double *hi, const int *dummy);
/* Input normalisation from explicit per-bin mean/std (NULL: identity). */
ct_status ct_mlp_set_input_norm(ct_mlp *m, int log10_inputs, const double *mean,
                                const double *std);
void ct_mlp_copy_input_norm(ct_mlp *dst, const ct_mlp *src);
ct_status ct_mlp_set_config_text(ct_mlp *m, const char *text);

/* Known prior ranges (those of the Quijote suites): Omega_m, Omega_b, h, n_s,
 * sigma_8, M_nu, w, f_R0, f_NL_local/fNL_loc, f_NL_equilateral/fNL_eq (a few
 * spellings). Returns 1 and sets lo/hi if name is known, else 0. */
int ct_prior_range(const char *name, double *lo, double *hi);

/* ---------------------------------------------------------------- datasets */

typedef struct {
    int64_t n;          /* rows on this rank */
    int n_in, n_targets;
    double *x;          /* n x n_in, raw inputs (e.g. P(k)) */
    double *y;          /* n x n_targets, physical target values */
    unsigned char *mask;/* n x n_targets, 1 = live; NULL = all live */
    int64_t *id;        /* n: source row (simulation index) of each row; may be NULL */
    char (*target_name)[CT_NN_NAME_MAX]; /* n_targets names; may be NULL */
} ct_dataset;

ct_status ct_dataset_alloc(ct_dataset *d, int64_t n, int n_in, int n_targets, int with_mask);
void ct_dataset_free(ct_dataset *d);
/* Keep a subset of rows (local indices) of a local dataset in place of d. */
ct_status ct_dataset_take(const ct_dataset *src, const int64_t *rows, int64_t n,
                          ct_dataset *dst);
/* Total rows over comm. */
int64_t ct_dataset_global_rows(const ct_dataset *d, MPI_Comm comm);
/* Shard a dataset that every rank of comm holds in full: rank r keeps its share
 * (contiguous, balanced). */
ct_status ct_dataset_shard(const ct_dataset *full, MPI_Comm comm, ct_dataset *local);
/* Rows of a sharded dataset in any global order: every rank asks for the global
 * row indices want[0..nwant) and receives them in that order (Alltoallv). */
ct_status ct_dataset_fetch(const ct_dataset *d, MPI_Comm comm, const int64_t *want,
                           int64_t nwant, ct_dataset *out);
/* Concatenate the rows of a and b (same columns) into out. */
ct_status ct_dataset_concat(const ct_dataset *a, const ct_dataset *b, ct_dataset *out);

/* A seeded shuffle of rows[0..n) split into train/val/test with the given
 * fractions of n (test gets the rest): every rank computes the same split. */
ct_status ct_split_rows(const int64_t *rows, int64_t n, double f_train, double f_val,
                        uint64_t seed, int64_t **train, int64_t *n_train, int64_t **val,
                        int64_t *n_val, int64_t **test, int64_t *n_test);

/* Data tables (a gathered suite; docs/formats.md "Suite tables"): /params (nsim x nparam, attribute
 * names), /<stat>/P (nsim x nbin), /<stat>/k, /status (1 = present). */
typedef struct {
    int64_t n_sim;
    int n_params;
    char (*param_name)[CT_NN_NAME_MAX];
    int64_t *present; /* indices of simulations with status 1 */
    int64_t n_present;
} ct_table_info;

ct_status ct_table_info_read(const char *path, MPI_Comm comm, ct_table_info *info);
void ct_table_info_free(ct_table_info *info);

typedef struct {
    const char *stats;        /* comma-separated statistics, concatenated: "pk", "pk,mk" */
    double k_max;             /* keep bins with k <= k_max (0: no cut) */
    int n_bins;               /* then keep at most the first n_bins of each (0: all) */
    const char *targets;      /* comma-separated parameter names; a name the file does
                                 not have becomes a masked (dummy) column; NULL: all */
    const int64_t *rows;      /* simulation indices to read, in this order; NULL: all
                                 present ones */
    int64_t n_rows;
} ct_table_select;

void ct_table_select_defaults(ct_table_select *s);
/* Read the selected rows sharded over comm (each rank reads its share with a
 * hyperslab); rows with non-finite or (for log10 inputs) non-positive values are
 * an error naming the file, simulation and bin. */
ct_status ct_dataset_read_table(const char *path, const ct_table_select *sel, MPI_Comm comm,
                                ct_dataset *d);
/* A folder of Quijote text spectra: DIR/<i>/<file> (two columns k, P; default file
 * "Pk_m_z=0.txt") plus a params file (header "# name1 name2 ...", row i =
 * simulation i). sel->stats is ignored; rows NULL = every i with a spectrum. Every
 * spectrum must have the first one's k (to 1e-6 relative): an error names the file. */
ct_status ct_dataset_read_quijote_dir(const char *dir, const char *file, const char *params,
                                      const ct_table_select *sel, MPI_Comm comm,
                                      ct_dataset *d);

/* Per-bin mean and std of f(x) over a sharded dataset (f = log10 if log10_inputs),
 * stored as m's input normalisation. Collective. */
ct_status ct_mlp_fit_input_norm(ct_mlp *m, const ct_dataset *d, int log10_inputs,
                                MPI_Comm comm);

/* ---------------------------------------------------------------- training */

typedef enum { CT_SCHED_CONSTANT = 0, CT_SCHED_COSINE, CT_SCHED_PLATEAU } ct_lr_schedule;

/* Compute precision of training. CT_NN_FLOAT64: every step in double (the
 * default; gradients check against finite differences). CT_NN_FLOAT32: forward,
 * backward (sgemm), the gradient allreduce and AdamW in single precision on float
 * copies of the weights and moments, as float32 frameworks train; reported losses
 * and the gradient norm accumulate in double, the model file keeps doubles (the
 * float values exactly), and inference is double either way. */
typedef enum { CT_NN_FLOAT64 = 0, CT_NN_FLOAT32 } ct_nn_precision;

const char *ct_nn_precision_name(ct_nn_precision p); /* "float64", "float32" */
/* "float64" (or "double") and "float32" (or "float", "single") */
ct_status ct_nn_precision_parse(const char *s, ct_nn_precision *p);

/* Called on every rank after each epoch (same values on every rank); return
 * nonzero to stop training (e.g. a pruned search trial). */
typedef int (*ct_epoch_fn)(int epoch, double train_loss, double val_loss, double lr,
                           void *user);

typedef struct {
    int epochs;               /* maximum epochs (default 1000) */
    int batch;                /* global mini-batch (default 32); last batch may be smaller */
    double lr;                /* default 1e-3 */
    double beta1, beta2, eps; /* AdamW, default 0.5, 0.999, 1e-8 */
    double weight_decay;      /* decoupled (AdamW), default 0.01 */
    ct_lr_schedule schedule;  /* default constant */
    double lr_min;            /* cosine floor and plateau floor (default 0) */
    double plateau_factor;    /* default 0.5 */
    int plateau_patience;     /* epochs without improvement before reducing (default 10) */
    int patience;             /* early stopping on validation loss (default 50; 0 off) */
    int restore_best;         /* keep the best-validation weights (default 1) */
    double clip_norm;         /* global gradient-norm clipping (default 0: off) */
    uint64_t seed;            /* shuffling and dropout (default 1) */
    const char *checkpoint;   /* HDF5 checkpoint path (NULL: none) */
    int checkpoint_every;     /* epochs between checkpoints (default 1) */
    int resume;               /* continue from checkpoint if it exists (default 1) */
    int stop_after;           /* return after this many epochs in this call, keeping the
                                 checkpoint (tests of resume; default 0: off) */
    ct_nn_precision precision;/* compute precision (default CT_NN_FLOAT64); a checkpoint
                                 resumes only in the precision it was written in */
    const char *log_path;     /* text training log, one line per epoch (rank 0) */
    int log_every;            /* ct_info progress every this many epochs (default 10; 0 off) */
    ct_epoch_fn on_epoch;
    void *on_epoch_user;
    int stop_on_sigterm;      /* after each epoch, end (checkpoint written, interrupted
                                 and signalled set) if ct_stop_agree() (default 0) */
} ct_train_settings;

void ct_train_settings_defaults(ct_train_settings *s);

typedef struct {
    int epochs_run;           /* total epochs completed (incl. resumed ones) */
    int best_epoch;           /* 1-based epoch of the best validation loss */
    double best_val;          /* best validation loss (scaled units) */
    double final_train;       /* training loss of the last epoch */
    int stopped_early;        /* early stopping triggered */
    int stopped_by_callback;  /* on_epoch asked to stop */
    int interrupted;          /* stop_after reached, training not finished */
    double seconds;           /* wall time of this call */
    double seconds_allreduce; /* time in the gradient allreduce (this rank) */
    double seconds_exchange;  /* time in the per-epoch row exchange (this rank) */
    int signalled;            /* interrupted by SIGTERM (stop_on_sigterm) */
} ct_train_result;

/* Train m on a sharded training set (val may be NULL: no early stopping, plateau
 * on the training loss). Targets of train/val are physical values; m's target
 * scaling and input normalisation are applied inside. Collective over comm; the
 * model's parameters are identical on every rank afterwards. */
ct_status ct_mlp_train(ct_mlp *m, const ct_dataset *train, const ct_dataset *val,
                       const ct_train_settings *s, MPI_Comm comm, ct_train_result *res);

/* Mean loss of m on a sharded dataset (scaled units, inference mode). */
ct_status ct_mlp_evaluate(const ct_mlp *m, const ct_dataset *d, MPI_Comm comm, double *loss);
/* Per-target metrics in physical units over a sharded dataset (live entries
 * only): mse, rmse, r2 each n_targets (any may be NULL). Collective. */
ct_status ct_mlp_metrics(const ct_mlp *m, const ct_dataset *d, MPI_Comm comm, double *mse,
                         double *rmse, double *r2);

/* Loss and its gradient with respect to the network outputs for n rows:
 * y (n x n_out), t (n x n_targets, scaled), mask (n x n_targets or NULL), dummy
 * (n_targets or NULL). The loss is the sum over rows and live outputs divided by
 * norm_rows * (number of non-dummy targets); grad (may be NULL) has y's shape and
 * is exactly zero at masked and dummy outputs. Used by training; exposed for tests. */
double ct_nn_loss(ct_loss_kind kind, int64_t n, int n_targets, const double *y,
                  const double *t, const unsigned char *mask, const int *dummy,
                  double norm_rows, double *grad);

/* Gradient of the mean loss over n rows (normalised inputs x, scaled targets t)
 * with respect to every parameter (layout of m->params), with dropout keyed by
 * (seed, epoch, global row index row0 + i) when dropout_on; frozen layers get zero
 * gradient. Returns the loss. Used by training; exposed for tests. */
ct_status ct_mlp_gradient(const ct_mlp *m, const double *x, const double *t,
                          const unsigned char *mask, int64_t n, double norm_rows,
                          int dropout_on, uint64_t seed, int epoch, int64_t row0,
                          double *grad, double *loss);

/* ct_mlp_gradient in single precision, on float copies of the parameters
 * (params, layout of m->params), inputs and targets; grad is float. The kernels
 * of the CT_NN_FLOAT32 training path; exposed for tests. */
ct_status ct_mlp_gradient_f32(const ct_mlp *m, const float *params, const float *x,
                              const float *t, const unsigned char *mask, int64_t n,
                              double norm_rows, int dropout_on, uint64_t seed, int epoch,
                              int64_t row0, float *grad, double *loss);

/* ---------------------------------------------------------------- files */

/* Model file (HDF5; rank 0 writes atomically, collective over comm). */
ct_status ct_mlp_save(const ct_mlp *m, const char *path, MPI_Comm comm);
/* Every rank reads the file; errors agreed over comm. */
ct_status ct_mlp_load(ct_mlp **m, const char *path, MPI_Comm comm);
/* 1 if path is an HDF5 file with a cosmotl model in it. */
int ct_mlp_file_is_model(const char *path);

/* ---------------------------------------------------------------- provenance */

/* What a model was trained on, i.e. what it takes as input (model file group
 * /provenance, docs/formats.md). The same struct describes an input (a table
 * selection, or raw spectra with their k) so that a consumer can check that the
 * two agree before applying the model. */
#define CT_PROV_TEXT 1024
typedef struct ct_model_prov {
    char statistics[CT_PROV_TEXT]; /* "pk", "pk,mk": the statistics concatenated, in order */
    double k_cut;                  /* selection cut k <= k_cut (h/Mpc); 0 = none */
    int n_bins_cut;                /* selection: at most this many bins per statistic; 0 = all */
    int n_in;                      /* input length */
    int n_k;                       /* entries of k: n_in, or 0 when the source had no k grid */
    double *k;                     /* k of every input (h/Mpc), concatenated like the inputs */
    char k_hash[17];               /* ct_hash_bytes of k[0..n_k) as 16 hex digits; "" if n_k = 0 */
    int input_log10;               /* model side: log10 applied to the inputs */
    char params[CT_PROV_TEXT];     /* model side: target parameter names, comma-separated */
    char source[CT_PROV_TEXT];     /* table (or folder) the model was trained on */
    char writer[64];               /* "cosmotl train", "cosmotl study", ... */
    char version[32];              /* library version that wrote the model */
} ct_model_prov;

void ct_model_prov_init(ct_model_prov *p);
void ct_model_prov_free(ct_model_prov *p);
ct_status ct_model_prov_copy(ct_model_prov *dst, const ct_model_prov *src);
/* An input description from raw spectra: statistics ("pk", "pk,mk"; '+' is read
 * as ','), their k (n values, may be NULL when unknown) and the input length n_in. */
ct_status ct_model_prov_set_k(ct_model_prov *p, const char *statistics, const double *k, int n,
                              int n_in);
/* The inputs a table selection gives (statistics, cut, k of every kept bin,
 * length) without reading the rows; source = path. Local (any one rank). */
ct_status ct_table_describe(const char *path, const ct_table_select *sel, ct_model_prov *out);
/* The same for a folder of Quijote text spectra (ct_dataset_read_quijote_dir):
 * statistics "pk", the k column of the first selected simulation's file
 * (sel->rows[0], or 0) up to the cut (ct_dataset_read_quijote_dir checks that
 * every file has these k), length; source = dir. Local. */
ct_status ct_quijote_dir_describe(const char *dir, const char *file, const ct_table_select *sel,
                                  ct_model_prov *out);
/* Record what m was trained on: a copy of `in` (the description of the training
 * inputs) plus m's log10 flag, target names, `writer` and the library version. */
ct_status ct_mlp_set_provenance(ct_mlp *m, const ct_model_prov *in, const char *writer);
/* The recorded provenance, NULL for a model file written before provenance. */
const ct_model_prov *ct_mlp_provenance(const ct_mlp *m);
/* Does input `in` fit model m (loaded from model_path, used in messages)? Compares
 * the input length, the statistics, the k grid (relative 1e-6 per bin, both
 * sides having k) and the k cut. A mismatch is CT_ERR_FORMAT with one line
 * "MODEL: model attribute A = X but the input (SOURCE) has Y". A model without
 * provenance (old file) is checked on the input length only, with a warning. */
ct_status ct_mlp_check_inputs(const ct_mlp *m, const char *model_path, const ct_model_prov *in);

/* ---------------------------------------------------------------- transfer */

typedef enum {
    CT_FINETUNE_KEEP = 0,   /* dummy nodes: keep every layer; dummy outputs become live */
    CT_FINETUNE_NEW_HEAD,   /* keep the body, new output layer initialised from scratch */
    CT_FINETUNE_FROZEN,     /* freeze the pretrained body, attach a trainable head */
    CT_FINETUNE_BOTTLENECK  /* the authors' bottleneck: the network was pretrained with a
                               narrow last hidden layer (<= bottleneck_width units); the
                               body up to and including it is frozen and a small new
                               network (head_hidden x head_width, output) is trained on
                               its features */
} ct_finetune_kind;

const char *ct_finetune_name(ct_finetune_kind k);
/* "dummy", "keep", "new_head", "no_dummy", "frozen", "bottleneck" */
ct_status ct_finetune_parse(const char *s, ct_finetune_kind *k);

typedef struct {
    ct_finetune_kind kind;
    int n_targets;              /* targets of the fine-tuning task (0: same as pretrained) */
    const char *const *names;   /* their names (NULL: keep / t0..) */
    const double *lo, *hi;      /* their prior ranges (NULL: ct_prior_range or keep) */
    int head_hidden;            /* FROZEN, BOTTLENECK: hidden layers in the new head (default 1) */
    int head_width;             /* their width (default 0: width of the last body layer) */
    int bottleneck_width;       /* BOTTLENECK: the widest last hidden layer accepted (default 10) */
    uint64_t seed;              /* initial weights of new layers */
} ct_finetune_settings;

void ct_finetune_settings_defaults(ct_finetune_settings *s);
/* A new model prepared for fine-tuning from a pretrained one. KEEP requires the
 * pretrained output count to equal the new target count (dummy outputs); the
 * pretrained input normalisation is kept in every case. History is cleared. */
ct_status ct_mlp_finetune(const ct_mlp *pre, const ct_finetune_settings *s, ct_mlp **out);
/* Lower-level operations used by ct_mlp_finetune. */
ct_status ct_mlp_replace_output(ct_mlp *m, int n_targets, uint64_t seed);
ct_status ct_mlp_freeze(ct_mlp *m, int layer, int frozen);
ct_status ct_mlp_append_head(ct_mlp *m, int n_hidden, int width, int n_targets,
                             uint64_t seed); /* freezes every existing layer */
/* Refuses a network whose last hidden layer is wider than width; freezes the body. */
ct_status ct_mlp_bottleneck(ct_mlp *m, int width, int n_hidden, int head_width, int n_targets,
                            uint64_t seed);

/* ---------------------------------------------------------------- search */

#define CT_HP_MAX_DIMS 16
/* More trials than this are refused (the pruner's and TPE's per-trial arrays). */
#define CT_HP_MAX_TRIALS 4096

typedef struct {
    char name[CT_NN_NAME_MAX];  /* "n_layers", "width", "dropout", "lr", "weight_decay",
                                   or any name a custom objective understands */
    double lo, hi;
    int is_int, log;
} ct_hp_dim;

typedef struct {
    int n;
    ct_hp_dim dim[CT_HP_MAX_DIMS];
} ct_hp_space;

ct_status ct_hp_space_add(ct_hp_space *sp, const char *name, double lo, double hi, int is_int,
                          int log_scale);
/* The published study's spaces (Krishnaraj et al. 2025): pretraining n_layers 1-3, width 4-500, dropout
 * 0.2-0.8, lr 1e-5..1e-1 (log), weight_decay 1e-8..1 (log); fine-tuning lr
 * 1e-6..1e-3, weight_decay 1e-6..1e-1 (log). */
void ct_hp_space_pretrain(ct_hp_space *sp);
void ct_hp_space_finetune(ct_hp_space *sp);

typedef enum { CT_HP_RANDOM = 0, CT_HP_TPE } ct_hp_sampler;
#define CT_HP_STREAM 0x4800000000ull /* the default generator stream of trial points */

typedef struct {
    ct_hp_sampler sampler;    /* default CT_HP_TPE */
    int n_trials;             /* default 100 */
    int n_startup;            /* random trials before TPE (default 20) */
    int group_size;           /* ranks per trial (default 1); comm is split into
                                 size/group_size groups that share each wave's trials */
    int wave;                 /* trials sampled together from the history of earlier
                                 waves (default 4); the search does not depend on
                                 the number of groups, only on wave */
    uint64_t seed;            /* default 1 */
    int prune;                /* median pruning (default 1) */
    int prune_warmup;         /* epochs before a trial may be pruned (default 10) */
    int prune_min_trials;     /* finished trials needed before pruning (default 5) */
    const char *log_path;     /* one line per trial (rank 0); NULL: none */
    const char *records_path; /* exact trial records (rank 0, appended after every
                                 wave); NULL: none */
    int resume;               /* with records_path: re-read the complete records of an
                                 earlier (killed) run of the same search and run only
                                 the missing trials; the result is the uninterrupted
                                 one (same sampled points, pruning and values) */
    int rerun_best;           /* a resumed search whose best trial was restored runs
                                 it again (its model is wanted; set by
                                 ct_hp_search_mlp when it returns the model) */
    uint64_t stream;          /* trial t's point comes from the counter-based generator
                                 (seed, stream + t) (default CT_HP_STREAM) */
    int seed_per_trial;       /* MLP search: trial t trains with seed ts->seed + t
                                 (shuffles, dropout); default 0: every trial ts->seed */
    int quiet;                /* no progress lines (default 0) */
} ct_hp_settings;

void ct_hp_settings_defaults(ct_hp_settings *s);

typedef struct ct_hp_trial ct_hp_trial;
/* Report an intermediate validation value of a trial; returns 1 if the trial
 * should stop (pruned). Same answer on every rank of the trial's group. */
int ct_hp_trial_report(ct_hp_trial *t, int epoch, double value);
int ct_hp_trial_index(const ct_hp_trial *t);
/* 1 when this is the rerun of a restored best trial (see rerun_best). */
int ct_hp_trial_is_rerun(const ct_hp_trial *t);

/* Objective: evaluate one point (values in the order of the space's dims) on the
 * ranks of group; return the value to minimise (same on every rank of group). */
typedef ct_status (*ct_hp_objective)(const double *point, ct_hp_trial *trial, MPI_Comm group,
                                     void *user, double *value);

typedef struct {
    int n_trials, n_pruned;
    int best_trial;
    double best_value;
    double best_point[CT_HP_MAX_DIMS];
    int best_root;            /* rank of comm leading the group that ran the best trial */
    double *values;           /* n_trials (pruned: last reported value) */
    double *points;           /* n_trials x space->n */
    int *pruned;              /* n_trials */
    int n_restored;           /* trials read from the records instead of run */
    int *epochs;              /* n_trials: epochs (reports) of each trial */
} ct_hp_result;

void ct_hp_result_free(ct_hp_result *r);

/* Generic search: collective over comm; comm is split into groups of group_size
 * ranks; the result is the same on every rank and, to the round-off of the
 * objective, for any number of groups (trials are sampled in waves from the
 * history of earlier waves; pruning compares with earlier waves only). */
ct_status ct_hp_search(const ct_hp_space *space, const ct_hp_settings *s, ct_hp_objective fn,
                       void *user, MPI_Comm comm, ct_hp_result *res);

/* The MLP search. base is the template: if the point has any of n_layers, width,
 * width_<i> (hidden layer i, 0-based) or dropout, each trial builds a fresh network
 * with that architecture and base's inputs, targets, normalisation, activations
 * and loss (seed from ts->seed and the trial); otherwise (fine-tuning) it copies
 * base with its weights and frozen flags. lr and weight_decay in the point override
 * ts. The score is the best validation loss. train/val are sharded over comm and
 * are redistributed to the groups. best (may be NULL) receives the best trial's
 * trained model on every rank. */
ct_status ct_hp_search_mlp(const ct_hp_space *space, const ct_hp_settings *s,
                           const ct_mlp *base, const ct_train_settings *ts,
                           const ct_dataset *train, const ct_dataset *val, MPI_Comm comm,
                           ct_hp_result *res, ct_mlp **best);

#ifdef __cplusplus
}
#endif
#endif
