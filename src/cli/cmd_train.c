/* cosmotl train CONFIG: train (or fine-tune, or search hyper-parameters for) an
 * MLP on a suite table or a folder of Quijote spectra; writes the model file,
 * a training log and optionally the test metrics. */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/nn.h"

static const char *help =
    "usage: cosmotl train CONFIG\n\n"
    "Train an MLP that maps summary statistics to parameters. CONFIG (INI) sections:\n"
    "  [data]      suite = SUITE.h5 | quijote_dir = DIR + params = FILE (+ quijote_file),\n"
    "              stats = pk (pk, mk, bk or a comma list, concatenated), k_max, n_bins,\n"
    "              targets = names (default: every parameter), dummy = extra output\n"
    "              names masked out of the loss, split = 0.7,0.15 (train, val; test\n"
    "              gets the rest), split_seed, n_train (budget: first n of the shuffled\n"
    "              training rows; 0 = all)\n"
    "  [normalize] log10 = true, from_model = MODEL (take the input normalisation of\n"
    "              another model, e.g. the pretrained one), refit = false\n"
    "  [ranges]    NAME = lo,hi (target min-max scaling; default: the study's priors,\n"
    "              else the training-set range)\n"
    "  [model]     hidden = 256,256,256, activation = leaky_relu|relu|tanh|sigmoid|linear,\n"
    "              leaky_slope = 0.2, dropout = 0.2, output = sigmoid|linear,\n"
    "              init = he|glorot, loss = mse|moment, seed = 1\n"
    "  [transfer]  pretrained = MODEL, mode = dummy|no_dummy|frozen|bottleneck,\n"
    "              head_hidden = 1, head_width = 0, bottleneck_width = 10,\n"
    "              freeze = layer list (extra frozen layers)\n"
    "  [train]     epochs = 1000, batch = 32, lr = 1e-3, beta1 = 0.5, beta2 = 0.999,\n"
    "              eps = 1e-8, weight_decay = 0.01, schedule = constant|cosine|plateau,\n"
    "              lr_min, plateau_factor, plateau_patience, patience = 50,\n"
    "              restore_best = true, clip_norm = 0, seed = 1, checkpoint = FILE,\n"
    "              checkpoint_every = 1, resume = true, threads = 1 (OpenBLAS threads per\n"
    "              rank; 0: OpenBLAS's own default; batch-32 GEMMs are fastest on 1),\n"
    "              log_every = 10 (progress lines), stop_after = 0 (stop after n epochs\n"
    "              of this run, keeping the checkpoint to resume), precision =\n"
    "              float64|float32 (compute precision; float32 is about 1.6x faster)\n"
    "  [search]    enabled = false, sampler = tpe|random, trials = 100, startup = 20,\n"
    "              space = pretrain|finetune, group_size = 1, wave = 4, prune = true,\n"
    "              prune_warmup = 10, seed = 1, log = FILE, records = FILE (exact\n"
    "              per-trial records, appended after every wave; with [train] resume\n"
    "              = true a killed search re-reads them and runs only missing trials)\n"
    "  [output]    model = FILE (required), log = FILE, metrics = FILE (CSV of test MSE,\n"
    "              RMSE, R2 per target)\n"
    "Relative paths are relative to the config's folder. Unknown keys are errors.\n"
    "Runs on any number of MPI ranks: the mini-batch is split over them.\n"
    "SIGTERM (SLURM's preemption signal): the epoch in progress ends, the checkpoint\n"
    "is written and train exits with status 143 (rerun to resume); an epoch still\n"
    "running 25 s after the signal is abandoned (the last checkpoint resumes).\n";

#define MAXT 64

typedef struct {
    /* paths: malloc'd by path_of ("" when not set), freed by train_cfg_free */
    char *suite, *qdir, qfile[256], *qparams;
    char stats[256], targets[1024], dummy[1024];
    double k_max;
    long n_bins, n_train;
    double split[2];
    long split_seed;
    int log10_in, refit;
    char *norm_model;
    ct_mlp_arch arch;
    char *pretrained;
    ct_finetune_settings tr;
    int freeze[CT_NN_MAX_LAYERS];
    int nfreeze;
    ct_train_settings ts;
    char *checkpoint, *log_path, *search_log, *search_rec;
    long threads;
    int search;
    ct_hp_settings hs;
    int space_finetune;
    char *model_out, *metrics_out;
    int nt;
    char names[MAXT][CT_NN_NAME_MAX];
    int is_dummy[MAXT];
    int has_range[MAXT];
    double lo[MAXT], hi[MAXT];
} train_cfg;

static void train_cfg_free(train_cfg *c)
{
    if (!c)
        return;
    char **paths[] = {&c->suite, &c->qdir, &c->qparams, &c->norm_model, &c->pretrained,
                      &c->checkpoint, &c->log_path, &c->search_log, &c->search_rec,
                      &c->model_out, &c->metrics_out};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        free(*paths[i]);
        *paths[i] = NULL;
    }
}

/* *out: the value of [sec] key relative to the config's folder, any length
 * ("" when not set) */
static ct_status path_of(ct_config *cfg, const char *sec, const char *key, char **out)
{
    const char *v;
    free(*out);
    *out = NULL;
    CT_CHECK(ct_config_string(cfg, sec, key, "", &v));
    if (!*v || v[0] == '/')
        return ct_asprintf(out, "%s", v);
    return ct_asprintf(out, "%s/%s", ct_config_dir(cfg), v);
}

static ct_status copy_str(ct_config *cfg, const char *sec, const char *key, const char *def,
                          char *out, size_t cap)
{
    const char *v;
    CT_CHECK(ct_config_string(cfg, sec, key, def, &v));
    if (strlen(v) >= cap)
        CT_FAIL(CT_ERR_CONFIG, "%s: [%s] %s is too long", ct_config_path(cfg), sec, key);
    snprintf(out, cap, "%s", v);
    return CT_OK;
}

/* Split "a, b, c" into *n names; more than max names or a longer name is an error
 * naming file and key. */
static ct_status split_names(const char *s, char (*out)[CT_NN_NAME_MAX], int max, int *n,
                             const char *file, const char *key)
{
    char buf[1024]; /* s is a config value copied with copy_str: it fits */
    *n = 0;
    CT_CHECK(ct_snprintf(buf, sizeof buf, "%s", s));
    char *save = NULL;
    for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        if (*n == max)
            CT_FAIL(CT_ERR_CONFIG, "%s: %s: more than %d names", file, key, max);
        if (strlen(t) >= CT_NN_NAME_MAX)
            CT_FAIL(CT_ERR_CONFIG, "%s: %s: name '%.40s...' is longer than %d characters", file,
                    key, t, CT_NN_NAME_MAX - 1);
        snprintf(out[(*n)++], CT_NN_NAME_MAX, "%s", t);
    }
    return CT_OK;
}

static ct_status read_config(ct_config *cfg, train_cfg *c)
{
    const char *file = ct_config_path(cfg);
    memset(c, 0, sizeof *c);
    long v;
    int b;
    /* [data] */
    CT_CHECK(path_of(cfg, "data", "suite", &c->suite));
    CT_CHECK(path_of(cfg, "data", "quijote_dir", &c->qdir));
    CT_CHECK(copy_str(cfg, "data", "quijote_file", "Pk_m_z=0.txt", c->qfile, sizeof c->qfile));
    CT_CHECK(path_of(cfg, "data", "params", &c->qparams));
    if (!!c->suite[0] == !!c->qdir[0])
        CT_FAIL(CT_ERR_CONFIG, "%s: [data] needs exactly one of suite or quijote_dir", file);
    if (c->qdir[0] && !c->qparams[0])
        CT_FAIL(CT_ERR_CONFIG, "%s: [data] quijote_dir needs params (the parameter file)", file);
    CT_CHECK(copy_str(cfg, "data", "stats", "pk", c->stats, sizeof c->stats));
    CT_CHECK(ct_config_double(cfg, "data", "k_max", 0.0, 0.0, 1e3, &c->k_max));
    CT_CHECK(ct_config_int(cfg, "data", "n_bins", 0, 0, 1000000, &c->n_bins));
    CT_CHECK(copy_str(cfg, "data", "targets", "", c->targets, sizeof c->targets));
    CT_CHECK(copy_str(cfg, "data", "dummy", "", c->dummy, sizeof c->dummy));
    {
        char dn[MAXT][CT_NN_NAME_MAX];
        int nd;
        CT_CHECK(split_names(c->dummy, dn, MAXT, &nd, file, "[data] dummy"));
    }
    int ns = 2;
    c->split[0] = 0.7;
    c->split[1] = 0.15;
    if (ct_config_has(cfg, "data", "split")) {
        CT_CHECK(ct_config_doubles(cfg, "data", "split", c->split, &ns));
        if (ns != 2 || !(c->split[0] > 0) || !(c->split[1] >= 0) ||
            c->split[0] + c->split[1] > 1 + 1e-12)
            CT_FAIL(CT_ERR_CONFIG, "%s: [data] split needs two fractions (train, val) summing "
                    "to at most 1", file);
    }
    CT_CHECK(ct_config_int(cfg, "data", "split_seed", 1, 0, LONG_MAX, &c->split_seed));
    CT_CHECK(ct_config_int(cfg, "data", "n_train", 0, 0, LONG_MAX, &c->n_train));
    /* [normalize] */
    CT_CHECK(ct_config_bool(cfg, "normalize", "log10", 1, &c->log10_in));
    CT_CHECK(path_of(cfg, "normalize", "from_model", &c->norm_model));
    CT_CHECK(ct_config_bool(cfg, "normalize", "refit", 0, &c->refit));
    /* [model] */
    ct_mlp_arch_defaults(&c->arch);
    double w[CT_NN_MAX_LAYERS];
    int nw = CT_NN_MAX_LAYERS - 1;
    if (ct_config_has(cfg, "model", "hidden")) {
        CT_CHECK(ct_config_doubles(cfg, "model", "hidden", w, &nw));
    } else {
        w[0] = w[1] = w[2] = 256;
        nw = 3;
    }
    c->arch.n_hidden = nw;
    for (int l = 0; l < nw; l++) {
        if (!(w[l] >= 1 && w[l] <= 1e6) || w[l] != floor(w[l]))
            CT_FAIL(CT_ERR_CONFIG, "%s: [model] hidden: width %g is not a positive integer",
                    file, w[l]);
        c->arch.width[l] = (int)w[l];
    }
    static const char *acts[] = {"linear", "relu", "leaky_relu", "tanh", "sigmoid", NULL};
    static const char *outs[] = {"linear", "sigmoid", NULL};
    int k;
    CT_CHECK(ct_config_choice(cfg, "model", "activation", "leaky_relu", acts, &k));
    c->arch.hidden_act = (ct_act)k;
    CT_CHECK(ct_config_double(cfg, "model", "leaky_slope", 0.2, 0.0, 1.0, &c->arch.leaky_slope));
    CT_CHECK(ct_config_double(cfg, "model", "dropout", 0.0, 0.0, 0.99, &c->arch.dropout));
    CT_CHECK(ct_config_choice(cfg, "model", "output", "sigmoid", outs, &k));
    c->arch.out_act = k ? CT_ACT_SIGMOID : CT_ACT_LINEAR;
    static const char *inits[] = {"he", "glorot", NULL};
    CT_CHECK(ct_config_choice(cfg, "model", "init", "he", inits, &k));
    c->arch.init = (ct_init_kind)k;
    static const char *losses[] = {"mse", "moment", NULL};
    CT_CHECK(ct_config_choice(cfg, "model", "loss", "mse", losses, &k));
    c->arch.loss = (ct_loss_kind)k;
    CT_CHECK(ct_config_int(cfg, "model", "seed", 1, 0, LONG_MAX, &v));
    c->arch.seed = (uint64_t)v;
    /* [transfer] */
    ct_finetune_settings_defaults(&c->tr);
    CT_CHECK(path_of(cfg, "transfer", "pretrained", &c->pretrained));
    static const char *modes[] = {"dummy", "no_dummy", "frozen", "bottleneck", NULL};
    CT_CHECK(ct_config_choice(cfg, "transfer", "mode", "dummy", modes, &k));
    c->tr.kind = (ct_finetune_kind)k;
    CT_CHECK(ct_config_int(cfg, "transfer", "head_hidden", 1, 0, CT_NN_MAX_LAYERS - 2, &v));
    c->tr.head_hidden = (int)v;
    CT_CHECK(ct_config_int(cfg, "transfer", "head_width", 0, 0, 1000000, &v));
    c->tr.head_width = (int)v;
    CT_CHECK(ct_config_int(cfg, "transfer", "bottleneck_width", 10, 1, 1000000, &v));
    c->tr.bottleneck_width = (int)v;
    c->tr.seed = c->arch.seed;
    if (ct_config_has(cfg, "transfer", "freeze")) {
        double fl[CT_NN_MAX_LAYERS];
        int nf = CT_NN_MAX_LAYERS;
        CT_CHECK(ct_config_doubles(cfg, "transfer", "freeze", fl, &nf));
        for (int i = 0; i < nf; i++) {
            if (!(fl[i] >= 0 && fl[i] < CT_NN_MAX_LAYERS) || fl[i] != floor(fl[i]))
                CT_FAIL(CT_ERR_CONFIG, "%s: [transfer] freeze: %g is not a layer index", file,
                        fl[i]);
            c->freeze[c->nfreeze++] = (int)fl[i];
        }
    }
    /* [train] */
    ct_train_settings *t = &c->ts;
    ct_train_settings_defaults(t);
    CT_CHECK(ct_config_int(cfg, "train", "epochs", t->epochs, 1, 10000000, &v));
    t->epochs = (int)v;
    CT_CHECK(ct_config_int(cfg, "train", "batch", t->batch, 1, 100000000, &v));
    t->batch = (int)v;
    CT_CHECK(ct_config_double(cfg, "train", "lr", t->lr, 1e-12, 10, &t->lr));
    CT_CHECK(ct_config_double(cfg, "train", "beta1", t->beta1, 0, 0.999999, &t->beta1));
    CT_CHECK(ct_config_double(cfg, "train", "beta2", t->beta2, 0, 0.999999999, &t->beta2));
    CT_CHECK(ct_config_double(cfg, "train", "eps", t->eps, 1e-300, 1, &t->eps));
    CT_CHECK(ct_config_double(cfg, "train", "weight_decay", t->weight_decay, 0, 1e3,
                              &t->weight_decay));
    static const char *scheds[] = {"constant", "cosine", "plateau", NULL};
    CT_CHECK(ct_config_choice(cfg, "train", "schedule", "constant", scheds, &k));
    t->schedule = (ct_lr_schedule)k;
    static const char *precs[] = {"float64", "float32", NULL};
    CT_CHECK(ct_config_choice(cfg, "train", "precision", "float64", precs, &k));
    t->precision = (ct_nn_precision)k;
    CT_CHECK(ct_config_double(cfg, "train", "lr_min", 0, 0, 10, &t->lr_min));
    CT_CHECK(ct_config_double(cfg, "train", "plateau_factor", 0.5, 1e-6, 0.999999,
                              &t->plateau_factor));
    CT_CHECK(ct_config_int(cfg, "train", "plateau_patience", 10, 0, 1000000, &v));
    t->plateau_patience = (int)v;
    CT_CHECK(ct_config_int(cfg, "train", "patience", 50, 0, 10000000, &v));
    t->patience = (int)v;
    CT_CHECK(ct_config_bool(cfg, "train", "restore_best", 1, &t->restore_best));
    CT_CHECK(ct_config_double(cfg, "train", "clip_norm", 0, 0, 1e300, &t->clip_norm));
    CT_CHECK(ct_config_int(cfg, "train", "seed", 1, 0, LONG_MAX, &v));
    t->seed = (uint64_t)v;
    CT_CHECK(path_of(cfg, "train", "checkpoint", &c->checkpoint));
    CT_CHECK(ct_config_int(cfg, "train", "checkpoint_every", 1, 1, 10000000, &v));
    t->checkpoint_every = (int)v;
    CT_CHECK(ct_config_bool(cfg, "train", "resume", 1, &b));
    t->resume = b;
    CT_CHECK(ct_config_int(cfg, "train", "threads", 1, 0, 4096, &c->threads));
    CT_CHECK(ct_config_int(cfg, "train", "log_every", 10, 0, 10000000, &v));
    t->log_every = (int)v;
    CT_CHECK(ct_config_int(cfg, "train", "stop_after", 0, 0, 10000000, &v));
    t->stop_after = (int)v;
    /* [search] */
    ct_hp_settings_defaults(&c->hs);
    CT_CHECK(ct_config_bool(cfg, "search", "enabled", 0, &c->search));
    static const char *samplers[] = {"random", "tpe", NULL};
    CT_CHECK(ct_config_choice(cfg, "search", "sampler", "tpe", samplers, &k));
    c->hs.sampler = (ct_hp_sampler)k;
    CT_CHECK(ct_config_int(cfg, "search", "trials", 100, 1, 1000000, &v));
    c->hs.n_trials = (int)v;
    CT_CHECK(ct_config_int(cfg, "search", "startup", 20, 0, 1000000, &v));
    c->hs.n_startup = (int)v;
    static const char *spaces[] = {"pretrain", "finetune", NULL};
    CT_CHECK(ct_config_choice(cfg, "search", "space", "pretrain", spaces, &c->space_finetune));
    CT_CHECK(ct_config_int(cfg, "search", "group_size", 1, 1, 1000000, &v));
    c->hs.group_size = (int)v;
    CT_CHECK(ct_config_int(cfg, "search", "wave", 4, 1, 1000000, &v));
    c->hs.wave = (int)v;
    CT_CHECK(ct_config_bool(cfg, "search", "prune", 1, &c->hs.prune));
    CT_CHECK(ct_config_int(cfg, "search", "prune_warmup", 10, 0, 10000000, &v));
    c->hs.prune_warmup = (int)v;
    CT_CHECK(ct_config_int(cfg, "search", "seed", 1, 0, LONG_MAX, &v));
    c->hs.seed = (uint64_t)v;
    CT_CHECK(path_of(cfg, "search", "log", &c->search_log));
    CT_CHECK(path_of(cfg, "search", "records", &c->search_rec));
    /* [output] */
    CT_CHECK(path_of(cfg, "output", "model", &c->model_out));
    if (!c->model_out[0])
        CT_FAIL(CT_ERR_CONFIG, "%s: [output] model (the model file to write) is required", file);
    CT_CHECK(path_of(cfg, "output", "log", &c->log_path));
    CT_CHECK(path_of(cfg, "output", "metrics", &c->metrics_out));
    t->checkpoint = c->checkpoint[0] ? c->checkpoint : NULL;
    t->log_path = c->log_path[0] ? c->log_path : NULL;
    c->hs.log_path = c->search_log[0] ? c->search_log : NULL;
    c->hs.records_path = c->search_rec[0] ? c->search_rec : NULL;
    c->hs.resume = t->resume;
    return CT_OK;
}

/* Target names (data targets then dummy ones) and their ranges. */
static ct_status resolve_targets(ct_config *cfg, train_cfg *c, const ct_dataset *tr,
                                 MPI_Comm comm)
{
    const char *file = ct_config_path(cfg);
    c->nt = tr->n_targets;
    if (c->nt > MAXT)
        CT_FAIL(CT_ERR_CONFIG, "%s: more than %d targets", file, MAXT);
    char dn[MAXT][CT_NN_NAME_MAX];
    int nd = 0;
    CT_CHECK(split_names(c->dummy, dn, MAXT, &nd, file, "[data] dummy"));
    for (int k = 0; k < c->nt; k++) {
        memcpy(c->names[k], tr->target_name[k], CT_NN_NAME_MAX);
        for (int j = 0; j < nd; j++)
            if (!strcmp(dn[j], c->names[k]))
                c->is_dummy[k] = 1;
    }
    /* a column missing from the data that is not a declared dummy is a mistake */
    int miss[MAXT] = {0};
    for (int64_t i = 0; i < tr->n && tr->mask; i++)
        for (int k = 0; k < c->nt; k++)
            miss[k] |= !tr->mask[i * c->nt + k];
    MPI_Allreduce(MPI_IN_PLACE, miss, c->nt, MPI_INT, MPI_MAX, comm);
    for (int k = 0; k < c->nt; k++)
        if (miss[k] && !c->is_dummy[k])
            CT_FAIL(CT_ERR_CONFIG, "%s: target %s is not in the data (list it under [data] "
                    "dummy to make it a dummy output)", file, c->names[k]);
    /* ranges: [ranges] NAME = lo,hi; else the study's priors; else the data range */
    double dmin[MAXT], dmax[MAXT];
    for (int k = 0; k < c->nt; k++) {
        dmin[k] = INFINITY;
        dmax[k] = -INFINITY;
    }
    for (int64_t i = 0; i < tr->n; i++)
        for (int k = 0; k < c->nt; k++)
            if (!tr->mask || tr->mask[i * c->nt + k]) {
                dmin[k] = fmin(dmin[k], tr->y[i * c->nt + k]);
                dmax[k] = fmax(dmax[k], tr->y[i * c->nt + k]);
            }
    MPI_Allreduce(MPI_IN_PLACE, dmin, c->nt, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, dmax, c->nt, MPI_DOUBLE, MPI_MAX, comm);
    for (int k = 0; k < c->nt; k++) {
        double r[2];
        int n = 2;
        if (ct_config_has(cfg, "ranges", c->names[k])) {
            CT_CHECK(ct_config_doubles(cfg, "ranges", c->names[k], r, &n));
            if (n != 2 || !(r[1] > r[0]))
                CT_FAIL(CT_ERR_CONFIG, "%s: [ranges] %s needs lo,hi with lo < hi", file,
                        c->names[k]);
            c->lo[k] = r[0];
            c->hi[k] = r[1];
        } else if (!ct_prior_range(c->names[k], &c->lo[k], &c->hi[k])) {
            if (!(dmax[k] > dmin[k]))
                CT_FAIL(CT_ERR_CONFIG, "%s: no range for target %s (add it under [ranges])",
                        file, c->names[k]);
            c->lo[k] = dmin[k];
            c->hi[k] = dmax[k];
        }
    }
    return CT_OK;
}

static ct_status config_text(const ct_config *cfg, char **out)
{
    size_t n = ct_config_used_count(cfg), cap = 256, len = 0;
    char *s = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *sec, *key, *val;
        ct_config_used_get(cfg, i, &sec, &key, &val);
        cap += strlen(sec) + strlen(key) + strlen(val) + 8;
    }
    CT_CHECK(ct_calloc(&s, cap, 1, "config text"));
    len += (size_t)snprintf(s + len, cap - len, "# %s\n", ct_config_path(cfg));
    for (size_t i = 0; i < n; i++) {
        const char *sec, *key, *val;
        ct_config_used_get(cfg, i, &sec, &key, &val);
        len += (size_t)snprintf(s + len, cap - len, "%s.%s = %s\n", sec, key, val);
    }
    *out = s;
    return CT_OK;
}

/* Shard of each split: each rank fetches its contiguous share of the split's
 * positions in the loaded (sharded) dataset. */
static ct_status take_split(const ct_dataset *all, const int64_t *pos, int64_t n, MPI_Comm comm,
                            ct_dataset *out)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t a = n * rank / size, b = n * (rank + 1) / size;
    CT_CHECK(ct_dataset_fetch(all, comm, pos + a, b - a, out));
    return CT_OK;
}

/* Create the folders of every output file (rank 0). */
static ct_status make_dirs(const train_cfg *c, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_status rc = CT_OK;
    const char *paths[] = {c->model_out, c->log_path, c->metrics_out, c->checkpoint,
                           c->search_log, c->search_rec};
    for (size_t i = 0; rank == 0 && rc == CT_OK && i < sizeof paths / sizeof paths[0]; i++) {
        char *dir = NULL;
        rc = ct_asprintf(&dir, "%s", paths[i]);
        if (rc != CT_OK)
            break;
        char *slash = strrchr(dir, '/');
        if (dir[0] && slash && slash != dir) {
            *slash = '\0';
            rc = ct_mkdir_p(dir);
        }
        free(dir);
    }
    return ct_agree_msg(comm, rc);
}

static ct_status run(ct_config *cfg, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    train_cfg *c = NULL;
    ct_dataset all, tr, va, te;
    ct_mlp *m = NULL, *pre = NULL, *nm = NULL;
    int64_t *ptr = NULL, *pva = NULL, *pte = NULL;
    char *text = NULL, *tlist = NULL;
    ct_model_prov prov;
    ct_model_prov_init(&prov);
    memset(&all, 0, sizeof all);
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    memset(&te, 0, sizeof te);
    CT_CHECK(ct_calloc(&c, 1, sizeof *c, "config"));
    CT_CHECK_GOTO(rc, read_config(cfg, c));
    CT_CHECK_GOTO(rc, ct_config_check_unused(cfg));
    ct_nn_set_threads((int)c->threads);
    ct_check_cores(comm, (int)c->threads, "train");
    CT_CHECK_GOTO(rc, make_dirs(c, comm));

    /* data: every target plus the dummy names (masked when the data lacks them) */
    CT_CHECK_GOTO(rc, ct_asprintf(&tlist, "%s%s%s", c->targets,
                                  c->targets[0] && c->dummy[0] ? "," : "", c->dummy));
    if (!c->targets[0] && c->dummy[0]) {
        /* every parameter of the table, then the dummies */
        ct_table_info info;
        if (!c->suite[0])
            CT_FAIL_GOTO(rc, CT_ERR_CONFIG, "%s: [data] dummy with quijote_dir needs targets",
                         ct_config_path(cfg));
        CT_CHECK_GOTO(rc, ct_table_info_read(c->suite, comm, &info));
        for (int k = 0; k < info.n_params && rc == CT_OK; k++) {
            char *t = tlist;
            rc = ct_asprintf(&tlist, "%s%s,", k ? t : "", info.param_name[k]);
            free(t);
        }
        if (rc == CT_OK) {
            char *t = tlist;
            rc = ct_asprintf(&tlist, "%s%s", info.n_params ? t : "", c->dummy);
            free(t);
        }
        ct_table_info_free(&info);
        CT_CHECK_GOTO(rc, rc);
    }
    ct_table_select sel;
    ct_table_select_defaults(&sel);
    sel.stats = c->stats;
    sel.k_max = c->k_max;
    sel.n_bins = (int)c->n_bins;
    sel.targets = tlist[0] ? tlist : NULL;
    if (c->suite[0])
        CT_CHECK_GOTO(rc, ct_dataset_read_table(c->suite, &sel, comm, &all));
    else
        CT_CHECK_GOTO(rc, ct_dataset_read_quijote_dir(c->qdir, c->qfile, c->qparams, &sel, comm,
                                                      &all));
    /* what the inputs are: recorded in the model, checked against a pretrained one */
    if (c->suite[0]) {
        CT_CHECK_GOTO(rc, ct_table_describe(c->suite, &sel, &prov));
    } else {
        CT_CHECK_GOTO(rc, ct_quijote_dir_describe(c->qdir, c->qfile, &sel, &prov));
    }
    int64_t n = ct_dataset_global_rows(&all, comm), ntr, nva, nte;
    CT_CHECK_GOTO(rc, ct_split_rows(NULL, n, c->split[0], c->split[1], (uint64_t)c->split_seed,
                                    &ptr, &ntr, &pva, &nva, &pte, &nte));
    if (c->n_train > 0 && c->n_train < ntr)
        ntr = c->n_train; /* the budget: the first rows of the shuffled training split */
    CT_CHECK_GOTO(rc, take_split(&all, ptr, ntr, comm, &tr));
    CT_CHECK_GOTO(rc, take_split(&all, pva, nva, comm, &va));
    CT_CHECK_GOTO(rc, take_split(&all, pte, nte, comm, &te));
    ct_dataset_free(&all);
    ct_info("train: %lld simulations (%lld train, %lld val, %lld test), %d inputs, %d targets",
            (long long)n, (long long)ntr, (long long)nva, (long long)nte, tr.n_in, tr.n_targets);
    CT_CHECK_GOTO(rc, resolve_targets(cfg, c, &tr, comm));

    /* model: new, or prepared from a pretrained one */
    const char *names[MAXT];
    for (int k = 0; k < c->nt; k++)
        names[k] = c->names[k];
    if (c->pretrained[0]) {
        CT_CHECK_GOTO(rc, ct_mlp_load(&pre, c->pretrained, comm));
        CT_CHECK_GOTO(rc, ct_mlp_check_inputs(pre, c->pretrained, &prov));
        c->tr.n_targets = c->nt;
        c->tr.names = names;
        c->tr.lo = c->lo;
        c->tr.hi = c->hi;
        CT_CHECK_GOTO(rc, ct_mlp_finetune(pre, &c->tr, &m));
        for (int i = 0; i < c->nfreeze; i++)
            CT_CHECK_GOTO(rc, ct_mlp_freeze(m, c->freeze[i], 1));
    } else {
        c->arch.n_in = tr.n_in;
        c->arch.n_targets = c->nt;
        CT_CHECK_GOTO(rc, ct_mlp_create(&m, &c->arch));
        for (int i = 0; i < c->nfreeze; i++)
            CT_CHECK_GOTO(rc, ct_mlp_freeze(m, c->freeze[i], 1));
    }
    CT_CHECK_GOTO(rc, ct_mlp_set_targets(m, names, c->lo, c->hi, c->is_dummy));
    if (c->norm_model[0]) {
        ct_mlp *nmod = NULL;
        CT_CHECK_GOTO(rc, ct_mlp_load(&nmod, c->norm_model, comm));
        if (nmod->n_in != m->n_in || !nmod->in_mean) {
            ct_mlp_destroy(&nmod);
            CT_FAIL_GOTO(rc, CT_ERR_CONFIG, "%s: no input normalisation for %d inputs",
                         c->norm_model, m->n_in);
        }
        ct_mlp_copy_input_norm(m, nmod);
        ct_mlp_destroy(&nmod);
    } else if (!c->pretrained[0] || c->refit || !m->in_mean) {
        CT_CHECK_GOTO(rc, ct_mlp_fit_input_norm(m, &tr, c->log10_in, comm));
    }
    CT_CHECK_GOTO(rc, config_text(cfg, &text));
    CT_CHECK_GOTO(rc, ct_mlp_set_config_text(m, text));

    if (c->search) {
        ct_hp_space sp;
        if (c->space_finetune)
            ct_hp_space_finetune(&sp);
        else
            ct_hp_space_pretrain(&sp);
        ct_hp_result hr;
        CT_CHECK_GOTO(rc, ct_hp_search_mlp(&sp, &c->hs, m, &c->ts, &tr, nva ? &va : NULL, comm,
                                           &hr, &nm));
        ct_info("search: best trial %d of %d (%d pruned), validation loss %.4e", hr.best_trial,
                hr.n_trials, hr.n_pruned, hr.best_value);
        for (int k = 0; k < sp.n; k++)
            ct_info("search:   %s = %.6g", sp.dim[k].name, hr.best_point[k]);
        ct_hp_result_free(&hr);
        ct_mlp_destroy(&m);
        m = nm;
        nm = NULL;
        CT_CHECK_GOTO(rc, ct_mlp_set_config_text(m, text));
    } else {
        ct_train_result res;
        c->ts.stop_on_sigterm = 1; /* SIGTERM: checkpoint after this epoch, exit 143 */
        CT_CHECK_GOTO(rc, ct_mlp_train(m, &tr, nva ? &va : NULL, &c->ts, comm, &res));
        if (res.interrupted && res.signalled) {
            if (c->checkpoint[0])
                CT_FAIL_GOTO(rc, CT_ERR_STATE, "train: SIGTERM after epoch %d; checkpoint %s "
                             "written, rerun to resume", res.epochs_run, c->checkpoint);
            CT_FAIL_GOTO(rc, CT_ERR_STATE, "train: SIGTERM after epoch %d; no checkpoint "
                         "(set [train] checkpoint to resume), nothing written", res.epochs_run);
        }
        if (res.interrupted) {
            ct_info("train: stopped after %d epochs as asked (stop_after); the checkpoint "
                    "resumes it", res.epochs_run);
            goto fail;
        }
        ct_info("train: %d epochs, best validation loss %.4e at epoch %d%s, %.2f s "
                "(allreduce %.2f s, exchange %.2f s)", res.epochs_run, res.best_val,
                res.best_epoch, res.stopped_early ? " (early stop)" : "", res.seconds,
                res.seconds_allreduce, res.seconds_exchange);
    }
    CT_CHECK_GOTO(rc, ct_mlp_set_provenance(m, &prov, c->search ? "cosmotl train (search)"
                                                : c->pretrained[0] ? "cosmotl train (fine-tuning)"
                                                                   : "cosmotl train"));
    CT_CHECK_GOTO(rc, ct_mlp_save(m, c->model_out, comm));
    ct_info("train: wrote %s", c->model_out);

    if (nte > 0) {
        double mse[MAXT * 2], rmse[MAXT * 2], r2[MAXT * 2];
        CT_CHECK_GOTO(rc, ct_mlp_metrics(m, &te, comm, mse, rmse, r2));
        FILE *f = NULL;
        ct_status frc = CT_OK;
        if (rank == 0 && c->metrics_out[0]) {
            ct_atomic_file a = {0};
            frc = ct_atomic_fopen(&a, c->metrics_out);
            if (frc == CT_OK) {
                f = a.f;
                fprintf(f, "target,mse,rmse,r2,dummy\n");
                for (int k = 0; k < m->n_targets; k++)
                    fprintf(f, "%s,%.10g,%.10g,%.10g,%d\n", m->target_name[k], mse[k], rmse[k],
                            r2[k], c->is_dummy[k]);
                frc = ct_atomic_fclose(&a);
            }
        }
        CT_CHECK_GOTO(rc, ct_agree_msg(comm, frc));
        for (int k = 0; k < m->n_targets; k++)
            if (!c->is_dummy[k])
                ct_info("test %-10s  RMSE %.4g  R2 %.4f", m->target_name[k], rmse[k], r2[k]);
    }
fail:
    ct_model_prov_free(&prov);
    free(tlist);
    free(text);
    free(ptr);
    free(pva);
    free(pte);
    ct_dataset_free(&all);
    ct_dataset_free(&tr);
    ct_dataset_free(&va);
    ct_dataset_free(&te);
    ct_mlp_destroy(&m);
    ct_mlp_destroy(&pre);
    ct_mlp_destroy(&nm);
    train_cfg_free(c);
    free(c);
    return rc;
}

int cmd_train(int argc, char **argv, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (argc >= 2 && ct_cli_is_help(argv[1])) {
        if (rank == 0)
            fputs(help, stdout);
        return 0;
    }
    if (argc != 2)
        return ct_cli_usage_error("train", comm, "expected exactly one CONFIG");
    ct_config *cfg = NULL;
    ct_status rc = ct_config_load(&cfg, argv[1], comm);
    /* SLURM sends SIGTERM, then SIGKILL after KillWait (default 30 s): end cleanly
     * after the current epoch, or as killed by SIGTERM after 25 s */
    ct_stop_on_sigterm(25);
    if (rc == CT_OK)
        rc = run(cfg, comm);
    rc = ct_agree_msg(comm, rc);
    ct_config_destroy(&cfg);
    if (rc != CT_OK && ct_stop_agree(comm)) {
        ct_cli_fail("train", comm);
        return 128 + SIGTERM;
    }
    return rc == CT_OK ? 0 : ct_cli_fail("train", comm);
}

ct_status cli_train_read_config(ct_config *cfg)
{
    train_cfg *c = NULL;
    CT_CHECK(ct_calloc(&c, 1, sizeof *c, "train settings"));
    ct_status rc = read_config(cfg, c);
    train_cfg_free(c);
    free(c);
    return rc;
}
