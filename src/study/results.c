/* Per-task result files, the collected results table, seed summaries, savings
 * factors, negative-transfer flags, and results.csv / results.h5. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "study_internal.h"

ct_status ct_task_result_write(const char *path, const ct_task_result *r)
{
    ct_atomic_file a;
    CT_CHECK(ct_atomic_fopen(&a, path));
    FILE *f = a.f;
    /* %.17g: a result read back is bit-identical, so a resumed study gives the
     * same table as an uninterrupted one */
    fprintf(f, "# cosmotl study task result\n");
    fprintf(f, "lr %.17g\nweight_decay %.17g\nepochs %d\nseconds %.3f\nntrain %lld\nnval %lld\n",
            r->lr, r->weight_decay, r->epochs, r->seconds, (long long)r->ntrain,
            (long long)r->nval);
    for (int p = 0; p < r->nparam; p++)
        fprintf(f, "param %s %.17g %.17g %.17g\n", r->param[p], r->mse[p], r->rmse[p], r->r2[p]);
    fprintf(f, "end\n");
    /* a full disk (ENOSPC) or read-only folder (EROFS) fails here, naming path */
    CT_CHECK(ct_atomic_fclose(&a));
    return CT_OK;
}

ct_status ct_task_result_read(const char *path, ct_task_result *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f)
        CT_FAIL(CT_ERR_IO, "%s: cannot open", path);
    char line[512];
    int ended = 0, ln = 0;
    ct_status rc = CT_OK;
    while (fgets(line, sizeof line, f)) {
        ln++;
        char key[64], name[CT_STUDY_NAME];
        long long ll;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%63s", key) != 1)
            continue;
        int ok = 1;
        if (!strcmp(key, "lr"))
            ok = sscanf(line, "lr %lf", &r->lr) == 1;
        else if (!strcmp(key, "weight_decay"))
            ok = sscanf(line, "weight_decay %lf", &r->weight_decay) == 1;
        else if (!strcmp(key, "epochs"))
            ok = sscanf(line, "epochs %d", &r->epochs) == 1;
        else if (!strcmp(key, "seconds"))
            ok = sscanf(line, "seconds %lf", &r->seconds) == 1;
        else if (!strcmp(key, "ntrain"))
            ok = sscanf(line, "ntrain %lld", &ll) == 1, r->ntrain = ll;
        else if (!strcmp(key, "nval"))
            ok = sscanf(line, "nval %lld", &ll) == 1, r->nval = ll;
        else if (!strcmp(key, "param")) {
            int k = r->nparam;
            ok = k < CT_STUDY_MAX_PARAMS &&
                 sscanf(line, "param %63s %lf %lf %lf", name, &r->mse[k], &r->rmse[k],
                        &r->r2[k]) == 4;
            if (ok) {
                snprintf(r->param[k], sizeof r->param[k], "%s", name);
                r->nparam++;
            }
        } else if (!strcmp(key, "end"))
            ended = 1;
        else
            ok = 0;
        if (!ok) {
            rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__, "%s:%d: unreadable line", path,
                              ln);
            break;
        }
    }
    fclose(f);
    if (rc == CT_OK && !ended)
        rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__, "%s: truncated task result", path);
    return rc;
}

void ct_study_results_free(ct_study_results *r)
{
    if (!r)
        return;
    free(r->rows);
    free(r->sum);
    for (int i = 0; i < r->nana; i++)
        ct_study_analysis_free(&r->ana[i]);
    free(r->ana);
    memset(r, 0, sizeof *r);
}

static const ct_study_summary *find_sum(const ct_study_results *r, int target, int stat,
                                        ct_study_arch arch, int64_t budget, const char *param)
{
    for (int i = 0; i < r->nsum; i++) {
        const ct_study_summary *s = &r->sum[i];
        if (s->target == target && s->stat == stat && s->arch == arch && s->budget == budget &&
            !strcmp(s->param, param))
            return s;
    }
    return NULL;
}

ct_status ct_study_collect(const ct_study_ctx *c, ct_study_results *r)
{
    const ct_study_settings *s = c->s;
    memset(r, 0, sizeof *r);
    int cap = c->ntasks * CT_STUDY_MAX_PARAMS;
    CT_CHECK(ct_calloc(&r->rows, (size_t)cap + 1, sizeof(ct_study_row), "results"));
    CT_CHECK(ct_calloc(&r->sum, (size_t)cap + 1, sizeof(ct_study_summary), "results"));
    for (int i = 0; i < c->ntasks; i++) {
        const ct_study_task *t = &c->tasks[i];
        char path[CT_STUDY_PATH + 256];
        ct_study_task_path(c, t, path, sizeof path);
        ct_task_result tr;
        CT_CHECK(ct_task_result_read(path, &tr));
        for (int p = 0; p < tr.nparam; p++) {
            ct_study_row *w = &r->rows[r->nrows++];
            w->target = t->target;
            w->stat = t->stat;
            w->arch = t->arch;
            w->budget = t->kind == CT_TASK_PRETRAIN ? tr.ntrain + tr.nval : t->budget;
            w->seed = t->seed;
            snprintf(w->param, sizeof w->param, "%s", tr.param[p]);
            w->mse = tr.mse[p];
            w->rmse = tr.rmse[p];
            w->r2 = tr.r2[p];
        }
    }
    /* seed summaries (rows of one configuration are consecutive seeds) */
    for (int i = 0; i < r->nrows; i++) {
        const ct_study_row *w = &r->rows[i];
        if (find_sum(r, w->target, w->stat, w->arch, w->budget, w->param))
            continue;
        double mse[CT_STUDY_MAX_SEEDS], rmse[CT_STUDY_MAX_SEEDS], r2[CT_STUDY_MAX_SEEDS];
        int n = 0;
        for (int j = i; j < r->nrows && n < CT_STUDY_MAX_SEEDS; j++) {
            const ct_study_row *v = &r->rows[j];
            if (v->target == w->target && v->stat == w->stat && v->arch == w->arch &&
                v->budget == w->budget && !strcmp(v->param, w->param)) {
                mse[n] = v->mse;
                rmse[n] = v->rmse;
                r2[n] = v->r2;
                n++;
            }
        }
        ct_study_summary *su = &r->sum[r->nsum++];
        su->target = w->target;
        su->stat = w->stat;
        su->arch = w->arch;
        su->budget = w->budget;
        snprintf(su->param, sizeof su->param, "%s", w->param);
        su->nseeds = n;
        ct_mean_sd(mse, n, &su->mse_mean, &su->mse_sd);
        ct_mean_sd(rmse, n, &su->rmse_mean, &su->rmse_sd);
        ct_mean_sd(r2, n, &su->r2_mean, &su->r2_sd);
        su->savings = NAN;
    }
    /* savings factor and negative transfer against scratch */
    for (int i = 0; i < r->nsum; i++) {
        ct_study_summary *su = &r->sum[i];
        if (su->target < 0 || su->arch == CT_ARCH_SCRATCH)
            continue;
        int t = su->target;
        double bud[CT_STUDY_MAX_BUDGETS], err[CT_STUDY_MAX_BUDGETS];
        int nb = 0;
        for (int b = 0; b < c->nbudget[t]; b++) {
            const ct_study_summary *sc =
                find_sum(r, t, su->stat, CT_ARCH_SCRATCH, c->budgets[t][b], su->param);
            if (sc) {
                bud[nb] = (double)c->budgets[t][b];
                err[nb++] = sc->mse_mean;
            }
        }
        const ct_study_summary *sc = find_sum(r, t, su->stat, CT_ARCH_SCRATCH, su->budget,
                                              su->param);
        if (nb > 0)
            su->savings = ct_savings_factor(bud, err, nb, (double)su->budget, su->mse_mean,
                                            &su->savings_bound);
        if (sc) {
            su->negative = ct_negative_transfer(su->mse_mean, su->mse_sd, sc->mse_mean,
                                                sc->mse_sd);
            su->better = ct_negative_transfer(sc->mse_mean, sc->mse_sd, su->mse_mean,
                                              su->mse_sd);
        }
    }
    /* analyses: one per (target, statistic) */
    if ((s->shap_samples > 0 || s->cka_samples > 0) &&
        (s->arch[CT_ARCH_DUMMY] || s->arch[CT_ARCH_NODUMMY] || s->arch[CT_ARCH_FROZEN] ||
         s->arch[CT_ARCH_BOTTLENECK])) {
        CT_CHECK(ct_calloc(&r->ana, (size_t)(s->ntargets * s->nstats), sizeof(ct_study_analysis),
                           "analyses"));
        for (int t = 0; t < s->ntargets; t++)
            for (int si = 0; si < s->nstats; si++) {
                ct_info("study: SHAP and CKA for %s, %s", s->targets[t].name, s->stats[si]);
                CT_CHECK(ct_study_analyse(c, t, si, &r->ana[r->nana]));
                r->nana++;
            }
    }
    return CT_OK;
}

static const char *suite_name(const ct_study_ctx *c, int target)
{
    return target < 0 ? c->s->pretrain.name : c->s->targets[target].name;
}

static ct_status write_csv(const ct_study_ctx *c, const ct_study_results *r, const char *path)
{
    ct_atomic_file a;
    CT_CHECK(ct_atomic_fopen(&a, path));
    FILE *f = a.f;
    fprintf(f, "suite,statistic,architecture,budget,seed,parameter,mse,rmse,r2\n");
    for (int i = 0; i < r->nrows; i++) {
        const ct_study_row *w = &r->rows[i];
        fprintf(f, "%s,%s,%s,%lld,%d,%s,%.10g,%.10g,%.10g\n", suite_name(c, w->target),
                c->s->stats[w->stat], ct_study_arch_name(w->arch), (long long)w->budget,
                w->seed, w->param, w->mse, w->rmse, w->r2);
    }
    /* a full disk (ENOSPC) or read-only folder (EROFS) fails here, naming path */
    CT_CHECK(ct_atomic_fclose(&a));
    return CT_OK;
}

/* a 1-D dataset of variable-length strings */
static ct_status write_strings(hid_t loc, const char *name, const char **v, size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = ct_h5_dcpl();
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    herr_t e = d >= 0 ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : -1;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "cannot write string dataset %s", name);
    return CT_OK;
}

/* The columns of /results or /summary: four key strings a row (suite, statistic,
 * architecture, parameter), then int64 and double columns, each n long. */
typedef struct {
    int n, nint, ndbl;
    const char **str; /* 4 columns */
    int64_t *ints;    /* nint columns */
    double *dbl;      /* ndbl columns */
} result_columns;

static void result_columns_free(result_columns *t)
{
    free(t->str);
    free(t->ints);
    free(t->dbl);
}

static ct_status result_columns_alloc(result_columns *t, int n, int nint, int ndbl)
{
    *t = (result_columns){.n = n, .nint = nint, .ndbl = ndbl};
    ct_status rc = CT_OK;
    CT_CHECK_GOTO(rc, ct_calloc(&t->str, (size_t)n * 4 + 1, sizeof(char *), "h5"));
    CT_CHECK_GOTO(rc, ct_calloc(&t->ints, (size_t)n * nint + 1, sizeof(int64_t), "h5"));
    CT_CHECK_GOTO(rc, ct_calloc(&t->dbl, (size_t)n * ndbl + 1, sizeof(double), "h5"));
    return CT_OK;
fail:
    result_columns_free(t);
    return rc;
}

static void result_columns_key(const ct_study_ctx *c, result_columns *t, int i, int target,
                               int stat, ct_study_arch arch, const char *param)
{
    t->str[i] = suite_name(c, target);
    t->str[t->n + i] = c->s->stats[stat];
    t->str[2 * t->n + i] = ct_study_arch_name(arch);
    t->str[3 * t->n + i] = param;
}

/* writes the columns into a new group of f, left open in *g */
static ct_status result_columns_write(hid_t f, const char *group, const result_columns *t,
                                      const char *const *int_names,
                                      const char *const *dbl_names, hid_t *g)
{
    static const char *key[4] = {"suite", "statistic", "architecture", "parameter"};
    size_t n = (size_t)t->n;
    hsize_t dim[1] = {(hsize_t)n};
    CT_CHECK(ct_h5_group(f, group, g));
    for (int k = 0; k < 4; k++)
        CT_CHECK(write_strings(*g, key[k], t->str + k * n, n));
    for (int k = 0; k < t->nint; k++)
        CT_CHECK(ct_h5_write_int64s(*g, int_names[k], t->ints + k * n, 1, dim));
    for (int k = 0; k < t->ndbl; k++)
        CT_CHECK(ct_h5_write_doubles(*g, dbl_names[k], t->dbl + k * n, 1, dim));
    return CT_OK;
}

static ct_status write_rows_h5(const ct_study_ctx *c, const ct_study_results *r, hid_t f)
{
    static const char *in[] = {"budget", "seed"};
    static const char *dn[] = {"mse", "rmse", "r2"};
    int n = r->nrows;
    hid_t g = -1;
    result_columns t;
    CT_CHECK(result_columns_alloc(&t, n, 2, 3));
    for (int i = 0; i < n; i++) {
        const ct_study_row *w = &r->rows[i];
        result_columns_key(c, &t, i, w->target, w->stat, w->arch, w->param);
        t.ints[i] = w->budget;
        t.ints[n + i] = w->seed;
        t.dbl[i] = w->mse;
        t.dbl[n + i] = w->rmse;
        t.dbl[2 * n + i] = w->r2;
    }
    ct_status rc = result_columns_write(f, "results", &t, in, dn, &g);
    if (g >= 0)
        H5Gclose(g);
    result_columns_free(&t);
    return rc;
}

static ct_status write_summary_h5(const ct_study_ctx *c, const ct_study_results *r, hid_t f)
{
    static const char *in[] = {"budget", "nseeds", "savings_bound", "negative_transfer",
                               "positive_transfer"};
    static const char *dn[] = {"mse_mean", "mse_sd", "rmse_mean", "rmse_sd",
                               "r2_mean",  "r2_sd",  "savings_factor"};
    int n = r->nsum;
    hid_t g = -1;
    result_columns t;
    CT_CHECK(result_columns_alloc(&t, n, 5, 7));
    for (int i = 0; i < n; i++) {
        const ct_study_summary *s = &r->sum[i];
        result_columns_key(c, &t, i, s->target, s->stat, s->arch, s->param);
        t.ints[i] = s->budget;
        t.ints[n + i] = s->nseeds;
        t.ints[2 * n + i] = s->savings_bound;
        t.ints[3 * n + i] = s->negative;
        t.ints[4 * n + i] = s->better;
        t.dbl[i] = s->mse_mean;
        t.dbl[n + i] = s->mse_sd;
        t.dbl[2 * n + i] = s->rmse_mean;
        t.dbl[3 * n + i] = s->rmse_sd;
        t.dbl[4 * n + i] = s->r2_mean;
        t.dbl[5 * n + i] = s->r2_sd;
        t.dbl[6 * n + i] = s->savings;
    }
    ct_status rc = result_columns_write(f, "summary", &t, in, dn, &g);
    if (rc == CT_OK)
        rc = ct_h5_attr_string(g, "savings_bound_meaning",
                               "0 interpolated; 1 lower bound (transfer beats scratch "
                               "at every budget); -1 upper bound");
    if (g >= 0)
        H5Gclose(g);
    result_columns_free(&t);
    return rc;
}

static ct_status write_names_attr(hid_t g, const char *attr, char names[][CT_NN_NAME_MAX],
                                  int n)
{
    char buf[CT_STUDY_MAX_PARAMS * (CT_NN_NAME_MAX + 1) + 1] = "";
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, names[i]);
    }
    CT_CHECK(ct_h5_attr_string(g, attr, buf));
    return CT_OK;
}

static ct_status write_analysis_h5(const ct_study_ctx *c, const ct_study_analysis *a, hid_t f)
{
    ct_status rc = CT_OK;
    char path[256];
    hid_t g = -1;
    snprintf(path, sizeof path, "analysis/%s/%s", c->s->targets[a->target].name,
             c->s->stats[a->stat]);
    CT_CHECK(ct_h5_group(f, path, &g));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "finetuned_architecture", a->ft_arch));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "finetuned_budget", a->ft_budget));
    if (a->have_shap) {
        hsize_t d1[1] = {(hsize_t)a->nin};
        hsize_t dp[2] = {(hsize_t)a->npre_out, (hsize_t)a->nin};
        hsize_t df[2] = {(hsize_t)a->nft_out, (hsize_t)a->nin};
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "k", a->k, 1, d1));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "shap_pretrained_mean_abs", a->shap_pre_abs, 2,
                                              dp));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "shap_pretrained_direction", a->shap_pre_dir,
                                              2, dp));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "shap_finetuned_mean_abs", a->shap_ft_abs, 2,
                                              df));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "shap_finetuned_direction", a->shap_ft_dir, 2,
                                              df));
        CT_CHECK_GOTO(rc, write_names_attr(g, "pretrained_outputs",
                                           (char(*)[CT_NN_NAME_MAX])a->pre_names, a->npre_out));
        CT_CHECK_GOTO(rc, write_names_attr(g, "finetuned_outputs",
                                           (char(*)[CT_NN_NAME_MAX])a->ft_names, a->nft_out));
        CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "shap_method",
                                            a->shap_method == CT_SHAP_EXACT
                                                ? "exact Shapley (all coalitions)"
                                                : "permutation sampling, antithetic pairs"));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "shap_samples", a->shap_n));
    }
    if (a->have_cka) {
        static const char *nm[5] = {"cka_pretrained_pretrain_data", "cka_pretrained_target_data",
                                    "cka_finetuned_pretrain_data", "cka_finetuned_target_data",
                                    "cka_pretrained_vs_finetuned_target_data"};
        hsize_t d2[2] = {(hsize_t)a->nlayer, (hsize_t)a->nlayer};
        for (int k = 0; k < 5; k++) {
            CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, nm[k], a->cka[k], 2, d2));
            hid_t ds = H5Dopen2(g, nm[k], H5P_DEFAULT);
            ct_h5_attr_double(ds, "offdiag_mean", a->cka_sum[k].offdiag_mean);
            ct_h5_attr_double(ds, "offdiag_median", a->cka_sum[k].offdiag_median);
            ct_h5_attr_doubles(ds, "eigenvalues", a->cka_sum[k].eig, (size_t)a->nlayer);
            H5Dclose(ds);
        }
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "cka_samples", a->cka_n));
    }
fail:
    H5Gclose(g);
    return rc;
}

ct_status ct_study_write_results(const ct_study_ctx *c, const ct_study_results *r)
{
    ct_status rc = CT_OK;
    char path[CT_STUDY_PATH + 32], *tmp = NULL;
    snprintf(path, sizeof path, "%s/results.csv", c->s->out);
    CT_CHECK(write_csv(c, r, path));
    snprintf(path, sizeof path, "%s/results.h5", c->s->out);
    CT_CHECK(ct_atomic_begin_alloc(path, &tmp));
    hid_t f = -1;
    CT_CHECK_GOTO(rc, ct_h5_create(tmp, &f));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(f, "kind", "cosmotl study results"));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(f, "pretraining_suite", c->s->pretrain.path));
    CT_CHECK_GOTO(rc, write_rows_h5(c, r, f));
    CT_CHECK_GOTO(rc, write_summary_h5(c, r, f));
    for (int i = 0; i < r->nana; i++)
        CT_CHECK_GOTO(rc, write_analysis_h5(c, &r->ana[i], f));
    if (c->s->config)
        CT_CHECK_GOTO(rc, ct_h5_write_config(f, (const ct_config *)c->s->config));
    H5Fclose(f);
    f = -1;
    CT_CHECK_GOTO(rc, ct_atomic_commit(tmp, path));
    free(tmp);
    return CT_OK;
fail:
    if (f >= 0)
        H5Fclose(f);
    ct_atomic_abort(tmp);
    free(tmp);
    return rc;
}
