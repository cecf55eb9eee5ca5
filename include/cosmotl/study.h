/* cosmotl study module: the pretrain (ΛCDM) -> fine-tune (beyond-ΛCDM) transfer
 * study (Krishnaraj et al. 2025; docs/study.md): datasets from suite tables, splits and budgets, the
 * task grid run on rank groups with resumable per-task results, metrics
 * (MSE, RMSE, R², savings factor, negative transfer), Shapley attributions,
 * linear CKA, results.h5/results.csv and the report.
 *
 * Everything here takes settings structs (with *_defaults()) and an explicit
 * communicator; nothing reads configuration files (the CLI does). */
#ifndef COSMOTL_STUDY_H
#define COSMOTL_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "cosmotl/core.h"
#include "cosmotl/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_STUDY_NAME 64
#define CT_STUDY_PATH 4096
#define CT_STUDY_MAX_PARAMS 16
#define CT_STUDY_MAX_STATS 8
#define CT_STUDY_MAX_TARGETS 8
#define CT_STUDY_MAX_BUDGETS 32
#define CT_STUDY_MAX_LAYERS 8
#define CT_STUDY_MAX_SEEDS 64 /* seeds = N: more is a configuration error */

/* ---------------------------------------------------------------- splits */

/* A seeded shuffle of the usable simulations of a suite (their indices) into a
 * fixed test set and a pool (from which budgets and the pretraining
 * train/validation rows come). */
typedef struct {
    int64_t ntest, npool;
    int64_t *test; /* simulation indices */
    int64_t *pool;
} ct_split;

ct_status ct_split_make(const int64_t *sims, int64_t n, double test_fraction, uint64_t seed,
                        uint64_t stream, ct_split *split);
void ct_split_free(ct_split *s);
/* The budget subset for (budget, seed): the first `budget` entries of a
 * seed-dependent permutation of the pool (so subsets of one seed are nested),
 * split into nval validation rows and budget - nval training rows. */
ct_status ct_budget_rows(const ct_split *split, int64_t budget, uint64_t seed, int rep,
                         double val_fraction, int64_t **train, int64_t *ntrain,
                         int64_t **val, int64_t *nval);
/* Budgets capped at the pool size: larger budgets collapse to the pool size
 * (deduplicated, sorted). Returns the count in *n. */
void ct_budgets_cap(const int *budgets, int nbudgets, int64_t npool, int64_t *out, int *n);

/* ---------------------------------------------------------------- metrics */

/* Mean and sample standard deviation (0 when n < 2), NaNs skipped. */
void ct_mean_sd(const double *v, int n, double *mean, double *sd);

/* Simulation-savings factor: the scratch budget b_s at which the scratch error
 * curve reaches err_transfer, divided by b. The scratch curve (budgets ascending,
 * errors) is first made non-increasing (running minimum) and interpolated
 * linearly in (log budget, log error). Returns the factor; *bound is 0 for an
 * interpolated value, +1 when transfer beats scratch at every budget (factor is
 * a lower bound, b_max / b), -1 when scratch at the smallest budget is already
 * better (factor is an upper bound, b_min / b). */
double ct_savings_factor(const double *budgets, const double *scratch_err, int nb, double b,
                         double err_transfer, int *bound);
/* Negative transfer: transfer error worse than scratch beyond the seed spread,
 * i.e. mean_t - sd_t > mean_s + sd_s. */
int ct_negative_transfer(double mean_t, double sd_t, double mean_s, double sd_s);

/* ---------------------------------------------------------------- verdicts */

/* The report's verdict rule. A published claim is judged from n per-seed values
 * x of one quantity (transfer and scratch of a seed share its budget subset):
 *   SAVINGS  x = log savings factor; claim "about 10x fewer simulations":
 *            reproduced if the 95% interval of the mean lies above log 3,
 *            not reproduced if below, else inconclusive;
 *   WORSE    x = log(MSE transfer / MSE scratch); claim "negative transfer":
 *            reproduced if the interval lies above 0, not reproduced if it lies
 *            below log 1.25 (no loss beyond the 25% equivalence margin);
 *   BETTER   the mirror image (claim "gains");
 *   NO_GAIN  reproduced if the interval lies above -log 1.25, not reproduced
 *            if it lies below it.
 * The 95% interval is mean +- t(0.975, n-1) sd / sqrt(n). Before any of this, a
 * run that cannot decide is "inconclusive: too small": a test set under 100
 * simulations, or a scratch R2 at the largest budget under 0.1 for the
 * parameter (the statistic barely constrains it at this size). One seed gives
 * no interval: inconclusive. */
#define CT_VERDICT_MIN_TEST 100
#define CT_VERDICT_MIN_R2 0.1
#define CT_VERDICT_SAVINGS 3.0
#define CT_VERDICT_EQUIV 1.25

typedef enum {
    CT_VERDICT_REPRODUCED = 0,
    CT_VERDICT_NOT_REPRODUCED,
    CT_VERDICT_INCONCLUSIVE,
    CT_VERDICT_TOO_SMALL,
    CT_VERDICT_NOT_TESTED,
    CT_VERDICT_NO_CLAIM /* measured for a statistic the paper made no claim about */
} ct_verdict;

typedef enum { CT_CLAIM_SAVINGS = 0, CT_CLAIM_WORSE, CT_CLAIM_BETTER, CT_CLAIM_NO_GAIN } ct_claim_kind;

const char *ct_verdict_name(ct_verdict v);
/* two-sided 95% Student-t quantile for dof degrees of freedom (INFINITY if < 1) */
double ct_t975(int dof);
/* mean and 95% interval of the finite values of x (lo = hi = mean +- INFINITY
 * for one value, NaN for none) */
void ct_verdict_interval(const double *x, int n, double *mean, double *lo, double *hi);
ct_verdict ct_verdict_decide(ct_claim_kind kind, const double *x, int n, double scratch_r2,
                             int64_t ntest, double *mean, double *lo, double *hi);

/* ---------------------------------------------------------------- CKA */

/* Linear CKA (Kornblith et al. 2019) between representations X (n x p) and
 * Y (n x q) of the same n samples (row-major): columns centred, then
 * ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). Returns NaN for a constant input. */
ct_status ct_cka_linear(const double *x, int64_t n, int p, const double *y, int q,
                        double *cka);
/* The L x L matrix between every pair of layers (reps[l] is n x dims[l]). */
ct_status ct_cka_matrix(const double *const *reps_a, const int *dims_a, int la,
                        const double *const *reps_b, const int *dims_b, int lb, int64_t n,
                        double *mat);
/* Block-structure summaries of a square symmetric L x L CKA matrix: mean,
 * median, min, max of the off-diagonal values and the eigenvalues (descending). */
typedef struct {
    double offdiag_mean, offdiag_median, offdiag_min, offdiag_max;
    int nlayer;
    double eig[CT_STUDY_MAX_LAYERS + 2];
} ct_cka_summary;
ct_status ct_cka_summarise(const double *mat, int l, ct_cka_summary *s);

/* ---------------------------------------------------------------- SHAP */

/* A batched model: evaluate f on n rows of x (n x d), write n x m outputs. */
typedef ct_status (*ct_model_fn)(void *user, const double *x, int64_t n, int d, double *out);

typedef enum { CT_SHAP_AUTO = 0, CT_SHAP_EXACT, CT_SHAP_PERMUTATION } ct_shap_method;

typedef struct {
    ct_shap_method method;
    int exact_max_features; /* AUTO uses exact enumeration up to this d (default 10) */
    int permutations;       /* PERMUTATION: permutations per explained sample (default 16;
                               drawn as antithetic pairs) */
    uint64_t seed;
    int64_t max_rows; /* rows per model call (memory bound; default 65536) */
} ct_shap_settings;

void ct_shap_defaults(ct_shap_settings *s);
/* Interventional Shapley values of f at x (d features, m outputs) with a
 * background set (nb x d): v(S) = mean_b f(x_S, b_{not S}). phi is d x m
 * (phi[i*m + o]); base (m) = mean_b f(b). Both estimators satisfy efficiency
 * exactly: sum_i phi[i] = f(x) - base (the permutation estimator telescopes per
 * permutation and background row). *used reports the method actually used. */
ct_status ct_shap_explain(ct_model_fn f, void *user, int d, int m, const double *x,
                          const double *background, int64_t nb,
                          const ct_shap_settings *s, double *phi, double *base,
                          ct_shap_method *used);

/* SHAP of a network on normalised inputs x (n x n_in) against a normalised
 * background (nb x n_in), in the network's scaled output units: phi is
 * n x n_in x n_out (phi[(r*n_in + i)*n_out + o]), base n_out. */
ct_status ct_study_model_shap(const ct_mlp *m, const double *x, int64_t n, const double *bg,
                              int64_t nb, const ct_shap_settings *s, double *phi, double *base,
                              ct_shap_method *used);
/* Representations of every layer for CKA: reps[0] = the normalised inputs,
 * reps[l] = the output of linear layer l-1 after its activation. reps[] must
 * hold CT_STUDY_MAX_LAYERS + 2 pointers; each is allocated (free them). */
ct_status ct_study_model_layers(const ct_mlp *m, const double *x, int64_t n, double **reps,
                                int *dims, int *nlayer);

/* The k of the nin input bins of a statistic spec ("pk", "pk+mk") in a suite
 * table (bins with k <= kmax, concatenated); the bin index where a statistic
 * has no 1-D k. */
ct_status ct_study_read_k(const char *path, const char *spec, double kmax, int nin, double *k);

/* ---------------------------------------------------------------- the study */

typedef enum {
    CT_ARCH_DUMMY = 0, /* pretrained with D masked dummy outputs, all fine-tuned */
    CT_ARCH_NODUMMY,   /* pretrained body, new output layer */
    CT_ARCH_FROZEN,    /* frozen pretrained body + new trainable head */
    CT_ARCH_BOTTLENECK,/* a second pretraining with a narrow last hidden layer
                          (bottleneck_width units); fine-tuning freezes the body up to
                          and including it and trains a small head on its features */
    CT_ARCH_SCRATCH,   /* baseline: from scratch on the budget */
    CT_ARCH_COMBINED,  /* baseline: scratch on the budget + all pretraining sims */
    CT_ARCH_COUNT
} ct_study_arch;

const char *ct_study_arch_name(ct_study_arch a);
/* -1 if unknown */
int ct_study_arch_parse(const char *name);

/* Min-max scaling range of a parameter: t' = (t - lo) / (hi - lo). */
typedef struct {
    char name[CT_STUDY_NAME];
    double lo, hi;
} ct_study_prior;

typedef struct {
    char name[CT_STUDY_NAME]; /* label used in results ("nwLH") */
    char path[CT_STUDY_PATH];
    int nparam;               /* parameters to infer */
    char params[CT_STUDY_MAX_PARAMS][CT_STUDY_NAME];
    int npriors; /* this suite's own scaling ranges (before the study-wide ones) */
    ct_study_prior priors[CT_STUDY_MAX_PARAMS];
} ct_study_suite;

/* Training settings for one kind of training (pretraining or fine-tuning). */
typedef struct {
    int nhidden;
    int hidden[CT_STUDY_MAX_LAYERS];
    double dropout;
    double leaky_slope;
    int epochs, patience, batch;
    double lr, weight_decay; /* used when trials == 0 */
    int trials;              /* random lr/wd search trials (0 = fixed lr, wd) */
    double lr_min, lr_max, wd_min, wd_max;
    ct_nn_precision precision; /* compute precision of training (default float64) */
} ct_study_train;

typedef enum { CT_DUMMY_MAX = 0, CT_DUMMY_PER_TARGET } ct_dummy_mode;


typedef struct {
    char out[CT_STUDY_PATH];
    ct_study_suite pretrain;
    int ntargets;
    ct_study_suite targets[CT_STUDY_MAX_TARGETS];
    int nstats;
    char stats[CT_STUDY_MAX_STATS][CT_STUDY_NAME]; /* specs: "pk", "mk", "pk+mk" */
    int log10_inputs; /* inputs are log10'd before the per-bin standardisation */
    double kmax;
    int arch[CT_ARCH_COUNT]; /* 1 = run this architecture / baseline */
    int nbudgets;
    int budgets[CT_STUDY_MAX_BUDGETS];
    int nseeds;
    uint64_t seed;
    double test_fraction, val_fraction;
    ct_dummy_mode dummy_mode;
    int bottleneck_width; /* units of the narrow last hidden layer of the bottleneck
                             pretraining (appended to the pretraining's hidden layers) */
    int head_width; /* hidden width of the head trained on a frozen body or on the
                       bottleneck features (0: linear) */
    int npriors;
    ct_study_prior priors[2 * CT_STUDY_MAX_PARAMS]; /* overrides of ct_prior_range */
    ct_study_train pre, fine;
    /* per-statistic pretraining networks ([pretrain.<statistic>] in a config):
     * when pre_stat_set[i], statistic i's pretraining, bottleneck pretraining and
     * scratch / combined baselines use pre_stat[i] (pre with hidden, dropout, lr,
     * weight_decay overridden) instead of pre; ct_study_pre_of picks */
    int pre_stat_set[CT_STUDY_MAX_STATS];
    ct_study_train pre_stat[CT_STUDY_MAX_STATS];
    /* analyses */
    int shap_samples;    /* test rows explained per model (0 disables SHAP) */
    int shap_background; /* background rows */
    ct_shap_settings shap;
    int cka_samples; /* rows per dataset for CKA (0 disables) */
    /* execution */
    int smoke; /* the report says at its top that this is a smoke run (demo sizes) */
    char about[CT_STUDY_PATH]; /* Markdown file copied under the report's title (what
                                  the data are, e.g. the simulations' fidelity); "" = none */
    int group_size;
    int resume;
    int64_t max_tasks; /* stop after this many trainings on this run (0: all) */
    const void *config; /* the ct_config used, recorded in results.h5 (may be NULL) */
} ct_study_settings;

void ct_study_defaults(ct_study_settings *s);
/* The pretraining settings of statistic `stat`: its override, else s->pre. */
const ct_study_train *ct_study_pre_of(const ct_study_settings *s, int stat);
void ct_study_train_defaults(ct_study_train *t);

/* Run (or resume) the study collectively on comm; writes settings->out/
 * {results.h5, results.csv, report.md, tasks/, models/}. When max_tasks stops a
 * run early, returns CT_OK with *complete = 0 and writes no final outputs. */
ct_status ct_study_run(const ct_study_settings *s, MPI_Comm comm, int *complete);

#ifdef __cplusplus
}
#endif
#endif
