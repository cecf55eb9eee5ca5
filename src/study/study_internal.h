/* Private pieces of the study module shared by its files. */
#ifndef COSMOTL_STUDY_INTERNAL_H
#define COSMOTL_STUDY_INTERNAL_H

#include "cosmotl/nn.h"
#include "cosmotl/study.h"

/* Tasks run in phases, in this order: the pretrainings, then the bottleneck
 * pretrainings (they take the architecture and lr / weight decay of the
 * pretraining of their statistic), then fine-tunings and baselines. */
typedef enum { CT_TASK_PRETRAIN = 0, CT_TASK_PRETRAIN_BN, CT_TASK_FINETUNE, CT_TASK_NKINDS }
    ct_task_kind;

typedef struct {
    ct_task_kind kind;
    int stat;    /* index into settings->stats */
    int group;   /* pretraining group (CT_DUMMY_MAX: 0; per target: the target) */
    int target;  /* fine-tuning target (-1 for pretraining) */
    ct_study_arch arch;
    int64_t budget;
    int seed;    /* repetition 0..nseeds-1 */
    char id[192];
} ct_study_task;

/* One suite as the study sees it. */
typedef struct {
    ct_table_info info;
    ct_split split;
} ct_study_suite_data;

/* A pretraining group: the outputs of its network (pretraining parameters then
 * D dummy outputs, named after the extra parameters they will become). */
typedef struct {
    int nout, npre;
    char names[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
} ct_study_pregroup;

typedef struct {
    const ct_study_settings *s;
    ct_study_suite_data pre;
    ct_study_suite_data target[CT_STUDY_MAX_TARGETS];
    int nbudget[CT_STUDY_MAX_TARGETS];
    int64_t budgets[CT_STUDY_MAX_TARGETS][CT_STUDY_MAX_BUDGETS];
    int npregroups;
    ct_study_pregroup pregroup[CT_STUDY_MAX_TARGETS];
    int ntasks;
    ct_study_task *tasks;
} ct_study_ctx;

/* Result of one training, as stored in OUT/tasks/<id>.txt. */
typedef struct {
    int nparam;
    char param[CT_STUDY_MAX_PARAMS][CT_STUDY_NAME];
    double mse[CT_STUDY_MAX_PARAMS], rmse[CT_STUDY_MAX_PARAMS], r2[CT_STUDY_MAX_PARAMS];
    double lr, weight_decay, seconds;
    int epochs;
    int64_t ntrain, nval;
} ct_task_result;

/* pregroup of a target */
int ct_study_pregroup_of(const ct_study_ctx *c, int target);
/* paths under settings->out */
void ct_study_task_path(const ct_study_ctx *c, const ct_study_task *t, char *buf, size_t cap);
void ct_study_pre_model_path(const ct_study_ctx *c, int stat, int group, char *buf, size_t cap);
/* the pretrained network with the narrow last hidden layer (bottleneck) */
void ct_study_bn_model_path(const ct_study_ctx *c, int stat, int group, char *buf, size_t cap);
void ct_study_ft_model_path(const ct_study_ctx *c, const ct_study_task *t, char *buf,
                            size_t cap);

/* task.c: one training on the ranks of group (collective over group) */
ct_status ct_study_run_task(const ct_study_ctx *c, const ct_study_task *t, MPI_Comm group,
                            ct_task_result *res);
/* Read the rows of a suite for a statistic spec and target names (sharded over comm). */
ct_status ct_study_read_rows(const ct_study_ctx *c, const char *path, int stat,
                             char names[][CT_NN_NAME_MAX], int nnames, const int64_t *rows,
                             int64_t n, MPI_Comm comm, ct_dataset *d);

/* The inputs statistic `stat` of table `path` gives under the study's selection
 * (for the models' provenance and the checks of loaded models). */
ct_status ct_study_describe_inputs(const ct_study_settings *s, const char *path, int stat,
                                   ct_model_prov *in);

/* results.c */
ct_status ct_task_result_write(const char *path, const ct_task_result *r);
ct_status ct_task_result_read(const char *path, ct_task_result *r);

/* One row of results.csv. */
typedef struct {
    int target; /* -1: the pretraining suite */
    int stat;
    ct_study_arch arch; /* CT_ARCH_COUNT for the pretraining itself */
    int64_t budget;
    int seed;
    char param[CT_STUDY_NAME];
    double mse, rmse, r2;
} ct_study_row;

/* Aggregated over seeds. */
typedef struct {
    int target, stat;
    ct_study_arch arch;
    int64_t budget;
    char param[CT_STUDY_NAME];
    int nseeds;
    double mse_mean, mse_sd, rmse_mean, rmse_sd, r2_mean, r2_sd;
    double savings; /* transfer architectures: savings factor (NaN otherwise) */
    int savings_bound;
    int negative; /* negative transfer flag */
    int better;   /* transfer better than scratch beyond the seed spread */
} ct_study_summary;

/* Analyses of one (target, statistic): SHAP of the pretrained and fine-tuned
 * (dummy-node, largest budget, seed 0) models, CKA matrices. */
typedef struct {
    int target, stat;
    int have_shap, have_cka;
    int nin, npre_out, nft_out;
    double *k; /* nin */
    char pre_names[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
    char ft_names[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
    double *shap_pre_abs, *shap_pre_dir; /* npre_out x nin: mean |phi|, corr(x, phi) */
    double *shap_ft_abs, *shap_ft_dir;   /* nft_out x nin */
    ct_shap_method shap_method;
    int shap_n;
    char ft_arch[CT_STUDY_NAME];
    int64_t ft_budget;
    int nlayer;
    double *cka[5]; /* nlayer x nlayer: pre on A, pre on B, ft on A, ft on B, pre vs ft on B */
    ct_cka_summary cka_sum[5];
    int cka_n;
    /* the same fine-tuned configuration for every seed (seed 0 first): SHAP maps
     * of its outputs (nft_out x nin each) and the CKA summary of its layers on the
     * target inputs */
    int nseed;
    double *seed_shap_abs[CT_STUDY_MAX_SEEDS], *seed_shap_dir[CT_STUDY_MAX_SEEDS];
    double seed_cka_offdiag[CT_STUDY_MAX_SEEDS];
} ct_study_analysis;

void ct_study_analysis_free(ct_study_analysis *a);
ct_status ct_study_analyse(const ct_study_ctx *c, int target, int stat, ct_study_analysis *a);

typedef struct {
    int nrows;
    ct_study_row *rows;
    int nsum;
    ct_study_summary *sum;
    int nana;
    ct_study_analysis *ana;
} ct_study_results;

void ct_study_results_free(ct_study_results *r);
ct_status ct_study_collect(const ct_study_ctx *c, ct_study_results *r);
ct_status ct_study_write_results(const ct_study_ctx *c, const ct_study_results *r);
ct_status ct_study_write_report(const ct_study_ctx *c, const ct_study_results *r,
                                const char *path);

#endif
