/* Explanations of trained models: SHAP attributions per input bin and output,
 * and linear CKA between every pair of layers, for the study and for the
 * `cosmotl explain` / `cosmotl cka` commands. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "study_internal.h"

static ct_status mlp_fn(void *user, const double *x, int64_t n, int d, double *out)
{
    const ct_mlp *m = user;
    if (d != m->n_in)
        CT_FAIL(CT_ERR_ARG, "model expects %d inputs, got %d", m->n_in, d);
    CT_CHECK(ct_mlp_forward(m, x, n, out, NULL));
    return CT_OK;
}

ct_status ct_study_model_shap(const ct_mlp *m, const double *x, int64_t n, const double *bg,
                              int64_t nb, const ct_shap_settings *s, double *phi, double *base,
                              ct_shap_method *used)
{
    int d = m->n_in, o = m->n_out;
    for (int64_t i = 0; i < n; i++) {
        ct_shap_settings si = *s;
        si.seed = s->seed + (uint64_t)i; /* own permutations per explained row */
        CT_CHECK(ct_shap_explain(mlp_fn, (void *)m, d, o, x + i * d, bg, nb, &si,
                                 phi + i * (int64_t)d * o, base, used));
    }
    return CT_OK;
}

ct_status ct_study_model_layers(const ct_mlp *m, const double *x, int64_t n, double **reps,
                                int *dims, int *nlayer)
{
    ct_status rc = CT_OK;
    double *out = NULL;
    int nl = m->n_layers + 1;
    if (nl > CT_STUDY_MAX_LAYERS + 2)
        CT_FAIL(CT_ERR_RANGE, "model has %d layers; CKA handles at most %d", m->n_layers,
                CT_STUDY_MAX_LAYERS + 1);
    for (int l = 0; l < nl; l++)
        reps[l] = NULL;
    dims[0] = m->n_in;
    CT_CHECK_GOTO(rc, ct_calloc(&reps[0], (size_t)(n * m->n_in) + 1, sizeof(double), "CKA"));
    memcpy(reps[0], x, sizeof(double) * n * m->n_in);
    for (int l = 0; l < m->n_layers; l++) {
        dims[l + 1] = m->dims[l + 1];
        CT_CHECK_GOTO(rc, ct_calloc(&reps[l + 1], (size_t)(n * m->dims[l + 1]) + 1,
                                    sizeof(double), "CKA"));
    }
    CT_CHECK_GOTO(rc, ct_calloc(&out, (size_t)(n * m->n_out) + 1, sizeof(double), "CKA"));
    CT_CHECK_GOTO(rc, ct_mlp_forward(m, x, n, out, reps + 1));
    *nlayer = nl;
fail:
    free(out);
    if (rc != CT_OK)
        for (int l = 0; l < nl; l++)
            ct_free(&reps[l]);
    return rc;
}

ct_status ct_study_read_k(const char *path, const char *spec, double kmax, int nin, double *k)
{
    char stats[256];
    snprintf(stats, sizeof stats, "%s", spec);
    int col = 0;
    char *save = NULL;
    hid_t f = -1;
    CT_CHECK(ct_h5_open_ro(path, &f));
    for (char *tok = strtok_r(stats, "+,", &save); tok && col < nin;
         tok = strtok_r(NULL, "+,", &save)) {
        char dsname[128];
        snprintf(dsname, sizeof dsname, "%s/k", tok);
        double *kv = NULL;
        int rk = 0;
        hsize_t dk[2] = {0, 0};
        if (ct_h5_exists(f, dsname) && ct_h5_read_doubles(f, dsname, &kv, &rk, dk) == CT_OK) {
            for (hsize_t b = 0; b < dk[0] && col < nin; b++)
                if (rk == 1 && (kmax <= 0 || kv[b] <= kmax * (1 + 1e-12)))
                    k[col++] = kv[b];
            free(kv);
        }
    }
    H5Fclose(f);
    ct_error_clear();
    for (; col < nin; col++)
        k[col] = col; /* no k available (e.g. bispectrum triangles): the bin index */
    return CT_OK;
}

void ct_study_analysis_free(ct_study_analysis *a)
{
    if (!a)
        return;
    free(a->k);
    free(a->shap_pre_abs);
    free(a->shap_pre_dir);
    free(a->shap_ft_abs);
    free(a->shap_ft_dir);
    for (int k = 0; k < 5; k++)
        free(a->cka[k]);
    for (int k = 0; k < CT_STUDY_MAX_SEEDS; k++) {
        free(a->seed_shap_abs[k]);
        free(a->seed_shap_dir[k]);
    }
    memset(a, 0, sizeof *a);
}

/* mean |phi| and the correlation over rows of the input value with its
 * attribution (its sign says whether more signal in that bin raises or lowers
 * the output), for the outputs listed in keep */
static ct_status shap_maps(const ct_mlp *m, const double *x, int64_t n, const double *bg,
                           int64_t nb, const ct_shap_settings *s, const int *keep, int nkeep,
                           double *mabs, double *dir, ct_shap_method *used)
{
    int d = m->n_in, o = m->n_out;
    double *phi = NULL, base[64];
    if (o > 64)
        CT_FAIL(CT_ERR_RANGE, "too many outputs for SHAP maps (%d)", o);
    CT_CHECK(ct_calloc(&phi, (size_t)(n * d * o), sizeof(double), "SHAP"));
    ct_status rc = ct_study_model_shap(m, x, n, bg, nb, s, phi, base, used);
    if (rc != CT_OK) {
        free(phi);
        return ct_error_push(rc, __func__, __LINE__);
    }
    for (int kk = 0; kk < nkeep; kk++) {
        int j = keep[kk];
        for (int i = 0; i < d; i++) {
            double sa = 0, mx = 0, mp = 0;
            for (int64_t r = 0; r < n; r++) {
                double p = phi[(r * d + i) * o + j];
                sa += fabs(p);
                mx += x[r * d + i];
                mp += p;
            }
            mx /= (double)n;
            mp /= (double)n;
            double sxy = 0, sxx = 0, syy = 0;
            for (int64_t r = 0; r < n; r++) {
                double p = phi[(r * d + i) * o + j] - mp, v = x[r * d + i] - mx;
                sxy += p * v;
                sxx += v * v;
                syy += p * p;
            }
            mabs[kk * d + i] = sa / (double)n;
            dir[kk * d + i] = (sxx > 0 && syy > 0) ? sxy / sqrt(sxx * syy) : 0.0;
        }
    }
    free(phi);
    return CT_OK;
}

static ct_status normalised(const ct_mlp *m, const ct_dataset *d, int64_t n, double **x)
{
    CT_CHECK(ct_calloc(x, (size_t)(n * m->n_in) + 1, sizeof(double), "inputs"));
    ct_status rc = ct_mlp_normalize_inputs(m, d->x, n, *x);
    if (rc != CT_OK) {
        ct_free(x);
        return ct_error_push(rc, __func__, __LINE__);
    }
    return CT_OK;
}

static ct_status cka_of(const ct_mlp *ma, const double *xa, const ct_mlp *mb, const double *xb,
                        int64_t n, double **mat, ct_cka_summary *sum, int *nlayer)
{
    ct_status rc = CT_OK;
    double *ra[CT_STUDY_MAX_LAYERS + 2] = {0}, *rb[CT_STUDY_MAX_LAYERS + 2] = {0};
    int da[CT_STUDY_MAX_LAYERS + 2], db[CT_STUDY_MAX_LAYERS + 2], la = 0, lb = 0;
    CT_CHECK_GOTO(rc, ct_study_model_layers(ma, xa, n, ra, da, &la));
    CT_CHECK_GOTO(rc, ct_study_model_layers(mb, xb, n, rb, db, &lb));
    if (la != lb)
        CT_FAIL_GOTO(rc, CT_ERR_STATE, "models differ in depth (%d vs %d layers)", la, lb);
    CT_CHECK_GOTO(rc, ct_calloc(mat, (size_t)(la * la), sizeof(double), "CKA"));
    CT_CHECK_GOTO(rc, ct_cka_matrix((const double *const *)ra, da, la,
                                    (const double *const *)rb, db, lb, n, *mat));
    CT_CHECK_GOTO(rc, ct_cka_summarise(*mat, la, sum));
    *nlayer = la;
fail:
    for (int l = 0; l < CT_STUDY_MAX_LAYERS + 2; l++) {
        free(ra[l]);
        free(rb[l]);
    }
    return rc;
}

ct_status ct_study_analyse(const ct_study_ctx *c, int target, int stat, ct_study_analysis *a)
{
    const ct_study_settings *s = c->s;
    ct_status rc = CT_OK;
    memset(a, 0, sizeof *a);
    a->target = target;
    a->stat = stat;
    ct_mlp *pm = NULL, *fm = NULL;
    ct_dataset dt, dbg, dp;
    memset(&dt, 0, sizeof dt);
    memset(&dbg, 0, sizeof dbg);
    memset(&dp, 0, sizeof dp);
    double *xt = NULL, *xbg = NULL, *xp = NULL, *xtf = NULL, *xpf = NULL;
    /* the fine-tuned model: dummy nodes if run, else no-dummy or frozen (the
     * bottleneck starts from another pretrained network); the largest budget;
     * seed 0 */
    const ct_study_task *ft = NULL;
    int64_t bmax = c->budgets[target][c->nbudget[target] - 1];
    for (int arch = 0; arch < CT_ARCH_BOTTLENECK && !ft; arch++)
        for (int i = 0; i < c->ntasks; i++) {
            const ct_study_task *t = &c->tasks[i];
            if (t->kind == CT_TASK_FINETUNE && t->target == target && t->stat == stat &&
                (int)t->arch == arch && t->budget == bmax && t->seed == 0)
                ft = t;
        }
    if (!ft)
        return CT_OK;
    snprintf(a->ft_arch, sizeof a->ft_arch, "%s", ct_study_arch_name(ft->arch));
    a->ft_budget = bmax;
    char path[CT_STUDY_PATH + 256];
    ct_study_pre_model_path(c, stat, ct_study_pregroup_of(c, target), path, sizeof path);
    CT_CHECK_GOTO(rc, ct_mlp_load(&pm, path, MPI_COMM_SELF));
    ct_study_ft_model_path(c, ft, path, sizeof path);
    CT_CHECK_GOTO(rc, ct_mlp_load(&fm, path, MPI_COMM_SELF));
    const ct_study_suite *tg = &s->targets[target];
    {
        /* both models must take this statistic of the target table */
        ct_model_prov in;
        ct_model_prov_init(&in);
        rc = ct_study_describe_inputs(s, tg->path, stat, &in);
        if (rc == CT_OK)
            rc = ct_mlp_check_inputs(fm, path, &in);
        if (rc == CT_OK) {
            ct_study_pre_model_path(c, stat, ct_study_pregroup_of(c, target), path, sizeof path);
            rc = ct_mlp_check_inputs(pm, path, &in);
        }
        ct_model_prov_free(&in);
        if (rc != CT_OK)
            goto fail;
    }
    const ct_study_suite_data *td = &c->target[target];
    char names[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
    for (int p = 0; p < tg->nparam; p++)
        ct_strlcpy(names[p], tg->params[p], sizeof names[p]);
    int64_t ne = s->shap_samples < td->split.ntest ? s->shap_samples : td->split.ntest;
    int64_t nc = s->cka_samples < td->split.ntest ? s->cka_samples : td->split.ntest;
    if (nc > c->pre.split.ntest)
        nc = c->pre.split.ntest;
    int64_t nrow = ne > nc ? ne : nc;
    int64_t nb = s->shap_background < td->split.npool ? s->shap_background : td->split.npool;
    CT_CHECK_GOTO(rc, ct_study_read_rows(c, tg->path, stat, names, tg->nparam, td->split.test,
                                         nrow, MPI_COMM_SELF, &dt));
    CT_CHECK_GOTO(rc, normalised(pm, &dt, nrow, &xt));
    CT_CHECK_GOTO(rc, normalised(fm, &dt, nrow, &xtf));
    a->nin = pm->n_in;
    CT_CHECK_GOTO(rc, ct_calloc(&a->k, (size_t)a->nin, sizeof(double), "k"));
    /* the k of each input bin, for the heat maps */
    CT_CHECK_GOTO(rc, ct_study_read_k(tg->path, s->stats[stat], s->kmax, a->nin, a->k));
    if (s->shap_samples > 0 && ne > 0) {
        CT_CHECK_GOTO(rc, ct_study_read_rows(c, tg->path, stat, names, tg->nparam,
                                             td->split.pool, nb, MPI_COMM_SELF, &dbg));
        CT_CHECK_GOTO(rc, normalised(pm, &dbg, nb, &xbg));
        int keep[CT_STUDY_MAX_PARAMS], nk = 0;
        for (int o = 0; o < pm->n_targets && nk < CT_STUDY_MAX_PARAMS; o++)
            if (!(pm->dummy && pm->dummy[o])) {
                keep[nk] = o;
                snprintf(a->pre_names[nk++], CT_NN_NAME_MAX, "%s", pm->target_name[o]);
            }
        a->npre_out = nk;
        CT_CHECK_GOTO(rc, ct_calloc(&a->shap_pre_abs, (size_t)(nk * a->nin), sizeof(double), "SHAP"));
        CT_CHECK_GOTO(rc, ct_calloc(&a->shap_pre_dir, (size_t)(nk * a->nin), sizeof(double), "SHAP"));
        CT_CHECK_GOTO(rc, shap_maps(pm, xt, ne, xbg, nb, &s->shap, keep, nk, a->shap_pre_abs,
                                    a->shap_pre_dir, &a->shap_method));
        nk = 0;
        for (int o = 0; o < fm->n_targets && nk < CT_STUDY_MAX_PARAMS; o++)
            if (!(fm->dummy && fm->dummy[o])) {
                keep[nk] = o;
                snprintf(a->ft_names[nk++], CT_NN_NAME_MAX, "%s", fm->target_name[o]);
            }
        a->nft_out = nk;
        ct_free(&xbg);
        CT_CHECK_GOTO(rc, normalised(fm, &dbg, nb, &xbg));
        CT_CHECK_GOTO(rc, ct_calloc(&a->shap_ft_abs, (size_t)(nk * a->nin), sizeof(double), "SHAP"));
        CT_CHECK_GOTO(rc, ct_calloc(&a->shap_ft_dir, (size_t)(nk * a->nin), sizeof(double), "SHAP"));
        CT_CHECK_GOTO(rc, shap_maps(fm, xtf, ne, xbg, nb, &s->shap, keep, nk, a->shap_ft_abs,
                                    a->shap_ft_dir, &a->shap_method));
        a->shap_n = (int)ne;
        a->have_shap = 1;
    }
    if (s->cka_samples > 0 && nc >= 2) {
        char pn[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
        for (int p = 0; p < s->pretrain.nparam; p++)
            ct_strlcpy(pn[p], s->pretrain.params[p], sizeof pn[p]);
        CT_CHECK_GOTO(rc, ct_study_read_rows(c, s->pretrain.path, stat, pn, s->pretrain.nparam,
                                             c->pre.split.test, nc, MPI_COMM_SELF, &dp));
        CT_CHECK_GOTO(rc, normalised(pm, &dp, nc, &xp));
        CT_CHECK_GOTO(rc, normalised(fm, &dp, nc, &xpf));
        int nl = 0;
        CT_CHECK_GOTO(rc, cka_of(pm, xp, pm, xp, nc, &a->cka[0], &a->cka_sum[0], &nl));
        CT_CHECK_GOTO(rc, cka_of(pm, xt, pm, xt, nc, &a->cka[1], &a->cka_sum[1], &nl));
        CT_CHECK_GOTO(rc, cka_of(fm, xpf, fm, xpf, nc, &a->cka[2], &a->cka_sum[2], &nl));
        CT_CHECK_GOTO(rc, cka_of(fm, xtf, fm, xtf, nc, &a->cka[3], &a->cka_sum[3], &nl));
        CT_CHECK_GOTO(rc, cka_of(pm, xt, fm, xtf, nc, &a->cka[4], &a->cka_sum[4], &nl));
        a->nlayer = nl;
        a->cka_n = (int)nc;
        a->have_cka = 1;
    }
    /* seed-to-seed spread: the same configuration trained with the other seeds */
    for (int sd = 0; sd < s->nseeds && sd < CT_STUDY_MAX_SEEDS && (a->have_shap || a->have_cka); sd++) {
        ct_study_task st = *ft;
        st.seed = sd;
        char sn[CT_STUDY_NAME * 2];
        snprintf(sn, sizeof sn, "_s%d", sd);
        char *us = strrchr(st.id, '_');
        if (!us)
            break;
        snprintf(us, sizeof st.id - (size_t)(us - st.id), "%s", sn);
        ct_mlp *sm = NULL;
        double *xs = NULL, *xsb = NULL;
        ct_study_ft_model_path(c, &st, path, sizeof path);
        if (!ct_file_exists(path))
            break;
        CT_CHECK_GOTO(rc, ct_mlp_load(&sm, path, MPI_COMM_SELF));
        rc = normalised(sm, &dt, nrow, &xs);
        if (rc == CT_OK && a->have_shap) {
            int keep[CT_STUDY_MAX_PARAMS], nk = 0;
            for (int o = 0; o < sm->n_targets && nk < CT_STUDY_MAX_PARAMS; o++)
                if (!(sm->dummy && sm->dummy[o]))
                    keep[nk++] = o;
            rc = nk == a->nft_out ? CT_OK : CT_ERR_STATE;
            if (rc == CT_OK)
                rc = normalised(sm, &dbg, nb, &xsb);
            if (rc == CT_OK)
                rc = ct_calloc(&a->seed_shap_abs[sd], (size_t)(nk * a->nin), sizeof(double),
                               "SHAP");
            if (rc == CT_OK)
                rc = ct_calloc(&a->seed_shap_dir[sd], (size_t)(nk * a->nin), sizeof(double),
                               "SHAP");
            ct_shap_method used;
            if (rc == CT_OK)
                rc = shap_maps(sm, xs, ne, xsb, nb, &s->shap, keep, nk, a->seed_shap_abs[sd],
                               a->seed_shap_dir[sd], &used);
        }
        a->seed_cka_offdiag[sd] = NAN;
        if (rc == CT_OK && a->have_cka) {
            double *m = NULL;
            ct_cka_summary cs;
            int nl = 0;
            rc = cka_of(sm, xs, sm, xs, nc, &m, &cs, &nl);
            if (rc == CT_OK)
                a->seed_cka_offdiag[sd] = cs.offdiag_mean;
            free(m);
        }
        ct_mlp_destroy(&sm);
        free(xs);
        free(xsb);
        if (rc != CT_OK) {
            ct_error_push(rc, __func__, __LINE__);
            goto fail;
        }
        a->nseed = sd + 1;
    }
fail:
    ct_mlp_destroy(&pm);
    ct_mlp_destroy(&fm);
    ct_dataset_free(&dt);
    ct_dataset_free(&dbg);
    ct_dataset_free(&dp);
    free(xt);
    free(xbg);
    free(xp);
    free(xtf);
    free(xpf);
    return rc;
}
