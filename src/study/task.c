/* One training of the study on a rank group: the pretraining of a statistic, a
 * fine-tuning with one of the transfer architectures, or a baseline. Each has
 * its own learning-rate / weight-decay search on its validation rows and is
 * scored on the suite's fixed test set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study_internal.h"

static void spec_to_list(const char *spec, char *out, size_t cap)
{
    snprintf(out, cap, "%s", spec);
    for (char *p = out; *p; p++)
        if (*p == '+')
            *p = ',';
}

ct_status ct_study_read_rows(const ct_study_ctx *c, const char *path, int stat,
                             char names[][CT_NN_NAME_MAX], int nnames, const int64_t *rows,
                             int64_t n, MPI_Comm comm, ct_dataset *d)
{
    char stats[256], targets[CT_STUDY_MAX_PARAMS * (CT_NN_NAME_MAX + 1) + 1] = "";
    spec_to_list(c->s->stats[stat], stats, sizeof stats);
    for (int i = 0; i < nnames; i++) {
        if (i)
            strcat(targets, ",");
        strcat(targets, names[i]);
    }
    ct_table_select sel;
    ct_table_select_defaults(&sel);
    sel.stats = stats;
    sel.k_max = c->s->kmax;
    sel.targets = targets;
    sel.rows = rows;
    sel.n_rows = n;
    CT_CHECK(ct_dataset_read_table(path, &sel, comm, d));
    return CT_OK;
}

/* prior range: the suite's own, the study's overrides, then the known ranges */
static ct_status prior_of(const ct_study_settings *s, const ct_study_suite *su, const char *name,
                          double *lo, double *hi)
{
    for (int i = 0; su && i < su->npriors; i++)
        if (!strcmp(su->priors[i].name, name)) {
            *lo = su->priors[i].lo;
            *hi = su->priors[i].hi;
            return CT_OK;
        }
    for (int i = 0; i < s->npriors; i++)
        if (!strcmp(s->priors[i].name, name)) {
            *lo = s->priors[i].lo;
            *hi = s->priors[i].hi;
            return CT_OK;
        }
    if (ct_prior_range(name, lo, hi))
        return CT_OK;
    CT_FAIL(CT_ERR_CONFIG, "no prior range for parameter '%s' (add it to [priors])", name);
}

static ct_status set_targets(const ct_study_settings *s, const ct_study_suite *su, ct_mlp *m,
                             char names[][CT_NN_NAME_MAX], int n, const int *dummy)
{
    const char *nm[CT_STUDY_MAX_PARAMS];
    double lo[CT_STUDY_MAX_PARAMS], hi[CT_STUDY_MAX_PARAMS];
    for (int i = 0; i < n; i++) {
        nm[i] = names[i];
        if (dummy && dummy[i]) {
            lo[i] = 0;
            hi[i] = 1;
        } else {
            CT_CHECK(prior_of(s, su, names[i], &lo[i], &hi[i]));
        }
    }
    CT_CHECK(ct_mlp_set_targets(m, nm, lo, hi, dummy));
    return CT_OK;
}

/* The inputs statistic `stat` gives from table `path` (the study's selection). */
ct_status ct_study_describe_inputs(const ct_study_settings *s, const char *path, int stat,
                                  ct_model_prov *in)
{
    char stats[256];
    spec_to_list(s->stats[stat], stats, sizeof stats);
    ct_table_select sel;
    ct_table_select_defaults(&sel);
    sel.stats = stats;
    sel.k_max = s->kmax;
    CT_CHECK(ct_table_describe(path, &sel, in));
    return CT_OK;
}

/* The model's note (free text, kept for older readers) and its structured
 * provenance: trained on statistic `stat` of table `path`. */
static ct_status set_model_note(const ct_study_settings *s, ct_mlp *m, int stat, const char *path)
{
    char note[512];
    ct_model_prov in;
    ct_model_prov_init(&in);
    snprintf(note, sizeof note, "statistic = %s\nkmax = %.17g\nlog10 = %d\n", s->stats[stat],
             s->kmax, s->log10_inputs);
    CT_CHECK(ct_mlp_set_config_text(m, note));
    ct_status rc = ct_study_describe_inputs(s, path, stat, &in);
    if (rc == CT_OK)
        rc = ct_mlp_set_provenance(m, &in, "cosmotl study");
    ct_model_prov_free(&in);
    return rc;
}

typedef struct {
    const ct_study_train *tr;
    int trials;
    double lr_min, lr_max, wd_min, wd_max;
    uint64_t seed;
} fit_opts;

/* Train base (a fresh or transferred model) with a lr/wd search on val, or
 * with the fixed lr/wd when trials == 0; the best model comes back in *best. */
static ct_status fit(const ct_mlp *base, const ct_dataset *train, const ct_dataset *val,
                     const fit_opts *o, MPI_Comm group, ct_mlp **best, ct_task_result *res)
{
    ct_status rc = CT_OK;
    ct_train_settings ts;
    ct_train_settings_defaults(&ts);
    ts.epochs = o->tr->epochs;
    ts.batch = o->tr->batch;
    ts.patience = o->tr->patience;
    ts.lr = o->tr->lr;
    ts.weight_decay = o->tr->weight_decay;
    ts.precision = o->tr->precision;
    ts.seed = o->seed;
    ts.log_every = 0;
    ts.checkpoint = NULL;
    *best = NULL;
    if (o->trials > 0) {
        /* random search (ct_hp_search_mlp), log-uniform in lr and weight decay, no
         * pruning: trial t's point comes from the counter-based generator (task
         * seed, stream 5000 + t), it trains with seed task seed + t and scores its
         * best validation loss; ties keep the earlier trial. (A handful of trials
         * per training: the budget subsets are small, the grid is large.) */
        ct_hp_space sp;
        memset(&sp, 0, sizeof sp);
        CT_CHECK(ct_hp_space_add(&sp, "lr", o->lr_min, o->lr_max, 0, 1));
        CT_CHECK(ct_hp_space_add(&sp, "weight_decay", o->wd_min, o->wd_max, 0, 1));
        ct_hp_settings hs;
        ct_hp_settings_defaults(&hs);
        hs.sampler = CT_HP_RANDOM;
        hs.n_trials = o->trials;
        MPI_Comm_size(group, &hs.group_size);
        hs.wave = o->trials;
        hs.seed = o->seed;
        hs.prune = 0;
        hs.stream = 5000;
        hs.seed_per_trial = 1;
        hs.quiet = 1;
        ct_hp_result hr;
        CT_CHECK(ct_hp_search_mlp(&sp, &hs, base, &ts, train, val, group, &hr, best));
        res->lr = hr.best_point[0];
        res->weight_decay = hr.best_point[1];
        res->epochs = hr.epochs[hr.best_trial];
        ct_hp_result_free(&hr);
    } else {
        ct_train_result tr;
        CT_CHECK_GOTO(rc, ct_mlp_copy(base, best));
        CT_CHECK_GOTO(rc, ct_mlp_train(*best, train, val, &ts, group, &tr));
        res->lr = ts.lr;
        res->weight_decay = ts.weight_decay;
        res->epochs = tr.epochs_run;
    }
    return CT_OK;
fail:
    ct_mlp_destroy(best);
    return rc;
}

/* Metrics on the test set for the parameters `want` (by name in the model). */
static ct_status score(const ct_mlp *m, const ct_dataset *test, MPI_Comm group,
                       const ct_study_suite *want, ct_task_result *res)
{
    double mse[CT_NN_MAX_LAYERS * 2], rmse[CT_NN_MAX_LAYERS * 2], r2[CT_NN_MAX_LAYERS * 2];
    if (m->n_targets > CT_NN_MAX_LAYERS * 2)
        CT_FAIL(CT_ERR_RANGE, "too many outputs (%d)", m->n_targets);
    CT_CHECK(ct_mlp_metrics(m, test, group, mse, rmse, r2));
    res->nparam = 0;
    for (int p = 0; p < want->nparam; p++) {
        int j = -1;
        for (int o = 0; o < m->n_targets; o++)
            if (!strcmp(m->target_name[o], want->params[p]) && !(m->dummy && m->dummy[o]))
                j = o;
        if (j < 0)
            CT_FAIL(CT_ERR_STATE, "model has no live output '%s'", want->params[p]);
        int k = res->nparam++;
        snprintf(res->param[k], sizeof res->param[k], "%s", want->params[p]);
        res->mse[k] = mse[j];
        res->rmse[k] = rmse[j];
        res->r2[k] = r2[j];
    }
    return CT_OK;
}

static void arch_from_settings(const ct_study_train *tr, int n_in, int n_targets,
                               uint64_t seed, ct_mlp_arch *a)
{
    ct_mlp_arch_defaults(a);
    a->n_in = n_in;
    a->n_targets = n_targets;
    a->n_hidden = tr->nhidden;
    for (int i = 0; i < tr->nhidden; i++)
        a->width[i] = tr->hidden[i];
    a->hidden_act = CT_ACT_LEAKY_RELU;
    a->leaky_slope = tr->leaky_slope;
    a->dropout = tr->dropout;
    a->out_act = CT_ACT_SIGMOID;
    a->seed = seed;
}

/* Settings of a bottleneck pretraining: the hidden layers and dropout of the
 * pretrained model of its statistic plus a last hidden layer of bottleneck_width
 * units, trained with the lr / weight decay that pretraining used. */
static ct_status bn_settings(const ct_study_ctx *c, const ct_study_task *t, ct_study_train *out)
{
    const ct_study_settings *s = c->s;
    ct_status rc = CT_OK;
    char path[CT_STUDY_PATH + 256];
    ct_mlp *pm = NULL;
    ct_task_result pr;
    ct_study_pre_model_path(c, t->stat, t->group, path, sizeof path);
    CT_CHECK(ct_mlp_load(&pm, path, MPI_COMM_SELF));
    ct_study_task pt = *t;
    pt.kind = CT_TASK_PRETRAIN;
    char st[CT_STUDY_NAME];
    snprintf(st, sizeof st, "%s", s->stats[t->stat]);
    for (char *q = st; *q; q++)
        if (*q == '+')
            *q = '-';
    snprintf(pt.id, sizeof pt.id, "pretrain_%s_g%d", st, t->group);
    ct_study_task_path(c, &pt, path, sizeof path);
    CT_CHECK_GOTO(rc, ct_task_result_read(path, &pr));
    *out = *ct_study_pre_of(s, t->stat);
    out->nhidden = pm->n_layers - 1;
    if (out->nhidden + 1 > CT_STUDY_MAX_LAYERS || out->nhidden + 2 > CT_NN_MAX_LAYERS)
        CT_FAIL_GOTO(rc, CT_ERR_CONFIG, "study: no room for a bottleneck layer after %d hidden "
                     "layers", out->nhidden);
    for (int l = 0; l < out->nhidden; l++)
        out->hidden[l] = pm->dims[l + 1];
    out->hidden[out->nhidden++] = s->bottleneck_width;
    out->dropout = pm->dropout;
    out->lr = pr.lr;
    out->weight_decay = pr.weight_decay;
    out->trials = 0;
fail:
    ct_mlp_destroy(&pm);
    return rc;
}

static ct_status run_pretrain(const ct_study_ctx *c, const ct_study_task *t, MPI_Comm group,
                              ct_task_result *res)
{
    const ct_study_settings *s = c->s;
    const ct_study_pregroup *pg = &c->pregroup[t->group];
    ct_status rc = CT_OK;
    int64_t *tr = NULL, *va = NULL, ntr = 0, nva = 0;
    ct_dataset dtr, dva, dte;
    memset(&dtr, 0, sizeof dtr);
    memset(&dva, 0, sizeof dva);
    memset(&dte, 0, sizeof dte);
    ct_mlp *base = NULL, *best = NULL;
    char names[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
    int dummy[CT_STUDY_MAX_PARAMS];
    for (int i = 0; i < pg->nout; i++) {
        snprintf(names[i], sizeof names[i], "%s", pg->names[i]);
        dummy[i] = i >= pg->npre;
    }
    uint64_t seed = s->seed ^ ct_hash_name(t->id);
    ct_mlp_arch a;
    /* this statistic's pretraining network ([pretrain.<statistic>] or [pretrain]) */
    const ct_study_train *ptr = ct_study_pre_of(s, t->stat);
    ct_study_train bn_tr = *ptr;
    if (t->kind == CT_TASK_PRETRAIN_BN) {
        /* the pretraining of this statistic with a narrow last hidden layer
         * appended: its hidden layers, dropout and chosen lr / weight decay */
        CT_CHECK_GOTO(rc, bn_settings(c, t, &bn_tr));
        ptr = &bn_tr;
    }
    CT_CHECK_GOTO(rc, ct_budget_rows(&c->pre.split, c->pre.split.npool, s->seed, 999,
                                     s->val_fraction, &tr, &ntr, &va, &nva));
    CT_CHECK_GOTO(rc, ct_study_read_rows(c, s->pretrain.path, t->stat, names, pg->nout, tr, ntr,
                                         group, &dtr));
    CT_CHECK_GOTO(rc, ct_study_read_rows(c, s->pretrain.path, t->stat, names, pg->nout, va, nva,
                                         group, &dva));
    CT_CHECK_GOTO(rc, ct_study_read_rows(c, s->pretrain.path, t->stat, names, pg->nout,
                                         c->pre.split.test, c->pre.split.ntest, group, &dte));
    arch_from_settings(ptr, dtr.n_in, pg->nout, seed, &a);
    CT_CHECK_GOTO(rc, ct_mlp_create(&base, &a));
    CT_CHECK_GOTO(rc, ct_mlp_fit_input_norm(base, &dtr, s->log10_inputs, group));
    CT_CHECK_GOTO(rc, set_targets(s, &s->pretrain, base, names, pg->nout, dummy));
    CT_CHECK_GOTO(rc, set_model_note(s, base, t->stat, s->pretrain.path));
    fit_opts o = {ptr, ptr->trials, ptr->lr_min, ptr->lr_max, ptr->wd_min, ptr->wd_max, seed};
    CT_CHECK_GOTO(rc, fit(base, &dtr, &dva, &o, group, &best, res));
    CT_CHECK_GOTO(rc, score(best, &dte, group, &s->pretrain, res));
    char path[CT_STUDY_PATH + 256];
    if (t->kind == CT_TASK_PRETRAIN_BN)
        ct_study_bn_model_path(c, t->stat, t->group, path, sizeof path);
    else
        ct_study_pre_model_path(c, t->stat, t->group, path, sizeof path);
    CT_CHECK_GOTO(rc, ct_mlp_save(best, path, group));
    res->ntrain = ntr;
    res->nval = nva;
fail:
    free(tr);
    free(va);
    ct_dataset_free(&dtr);
    ct_dataset_free(&dva);
    ct_dataset_free(&dte);
    ct_mlp_destroy(&base);
    ct_mlp_destroy(&best);
    return rc;
}

static ct_status run_finetune(const ct_study_ctx *c, const ct_study_task *t, MPI_Comm group,
                              ct_task_result *res)
{
    const ct_study_settings *s = c->s;
    const ct_study_suite *tg = &s->targets[t->target];
    const ct_study_suite_data *td = &c->target[t->target];
    const ct_study_pregroup *pg = &c->pregroup[ct_study_pregroup_of(c, t->target)];
    ct_status rc = CT_OK;
    int64_t *tr = NULL, *va = NULL, ntr = 0, nva = 0;
    ct_dataset dtr, dva, dte, full, pre, comb;
    memset(&dtr, 0, sizeof dtr);
    memset(&dva, 0, sizeof dva);
    memset(&dte, 0, sizeof dte);
    memset(&full, 0, sizeof full);
    memset(&pre, 0, sizeof pre);
    memset(&comb, 0, sizeof comb);
    ct_mlp *pm = NULL, *base = NULL, *best = NULL;
    char names[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
    int dummy[CT_STUDY_MAX_PARAMS] = {0};
    int nnames = 0;
    uint64_t seed = s->seed ^ ct_hash_name(t->id);
    CT_CHECK_GOTO(rc, ct_budget_rows(&td->split, t->budget, s->seed, t->seed, s->val_fraction,
                                     &tr, &ntr, &va, &nva));
    int transfer = t->arch == CT_ARCH_DUMMY || t->arch == CT_ARCH_NODUMMY ||
                   t->arch == CT_ARCH_FROZEN || t->arch == CT_ARCH_BOTTLENECK;
    if (transfer) {
        char path[CT_STUDY_PATH + 256];
        if (t->arch == CT_ARCH_BOTTLENECK)
            ct_study_bn_model_path(c, t->stat, ct_study_pregroup_of(c, t->target), path,
                                   sizeof path);
        else
            ct_study_pre_model_path(c, t->stat, ct_study_pregroup_of(c, t->target), path,
                                    sizeof path);
        CT_CHECK_GOTO(rc, ct_mlp_load(&pm, path, group));
        /* the pretrained model must take this statistic of the target table */
        ct_model_prov in;
        ct_model_prov_init(&in);
        rc = ct_study_describe_inputs(s, tg->path, t->stat, &in);
        if (rc == CT_OK)
            rc = ct_mlp_check_inputs(pm, path, &in);
        ct_model_prov_free(&in);
        if (rc != CT_OK)
            goto fail;
    }
    if (t->arch == CT_ARCH_DUMMY) {
        /* every layer kept; the pretraining outputs keep their slots, the target's
         * extra parameters take the dummy slots in order, unused slots stay dummy */
        int next_extra = 0;
        nnames = pg->nout;
        for (int j = 0; j < pg->nout; j++) {
            if (j < pg->npre) {
                snprintf(names[j], sizeof names[j], "%s", pg->names[j]);
                int live = 0;
                for (int p = 0; p < tg->nparam; p++)
                    live |= !strcmp(tg->params[p], pg->names[j]);
                dummy[j] = !live;
            } else {
                /* the k-th extra parameter of the target */
                int k = 0, found = 0;
                for (int p = 0; p < tg->nparam && !found; p++) {
                    int is_pre = 0;
                    for (int q = 0; q < pg->npre; q++)
                        is_pre |= !strcmp(tg->params[p], pg->names[q]);
                    if (!is_pre && k++ == next_extra) {
                        ct_strlcpy(names[j], tg->params[p], sizeof names[j]);
                        found = 1;
                    }
                }
                if (found) {
                    next_extra++;
                    dummy[j] = 0;
                } else {
                    snprintf(names[j], sizeof names[j], "unused_%d", j - pg->npre + 1);
                    dummy[j] = 1;
                }
            }
        }
        CT_CHECK_GOTO(rc, ct_mlp_copy(pm, &base));
        CT_CHECK_GOTO(rc, set_targets(s, tg, base, names, nnames, dummy));
    } else {
        nnames = tg->nparam;
        for (int p = 0; p < tg->nparam; p++)
            ct_strlcpy(names[p], tg->params[p], sizeof names[p]);
    }
    if (t->arch == CT_ARCH_NODUMMY || t->arch == CT_ARCH_FROZEN ||
        t->arch == CT_ARCH_BOTTLENECK) {
        const char *nm[CT_STUDY_MAX_PARAMS];
        double lo[CT_STUDY_MAX_PARAMS], hi[CT_STUDY_MAX_PARAMS];
        for (int p = 0; p < nnames; p++) {
            nm[p] = names[p];
            CT_CHECK_GOTO(rc, prior_of(s, tg, names[p], &lo[p], &hi[p]));
        }
        ct_finetune_settings xs;
        ct_finetune_settings_defaults(&xs);
        xs.kind = t->arch == CT_ARCH_NODUMMY   ? CT_FINETUNE_NEW_HEAD
                  : t->arch == CT_ARCH_FROZEN ? CT_FINETUNE_FROZEN
                                              : CT_FINETUNE_BOTTLENECK;
        xs.n_targets = nnames;
        xs.names = nm;
        xs.lo = lo;
        xs.hi = hi;
        xs.head_hidden = s->head_width > 0 ? 1 : 0;
        xs.head_width = s->head_width;
        xs.bottleneck_width = s->bottleneck_width;
        xs.seed = seed;
        CT_CHECK_GOTO(rc, ct_mlp_finetune(pm, &xs, &base));
    }
    /* data with the model's output columns (dummy slots are masked: the target
     * table has no such parameter) */
    const char *tpath = tg->path;
    if (t->arch == CT_ARCH_COMBINED) {
        /* budget rows + every pretraining simulation outside its test set; the
         * pretraining suite lacks the extra parameters, whose entries are masked.
         * Assembled in full on each rank, then sharded, so the row order does not
         * depend on the number of ranks. */
        CT_CHECK_GOTO(rc, ct_study_read_rows(c, tpath, t->stat, names, nnames, tr, ntr,
                                             MPI_COMM_SELF, &dtr));
        CT_CHECK_GOTO(rc, ct_study_read_rows(c, s->pretrain.path, t->stat, names, nnames,
                                             c->pre.split.pool, c->pre.split.npool,
                                             MPI_COMM_SELF, &pre));
        CT_CHECK_GOTO(rc, ct_dataset_concat(&dtr, &pre, &full));
        ct_dataset_free(&dtr);
        CT_CHECK_GOTO(rc, ct_dataset_shard(&full, group, &comb));
    } else {
        CT_CHECK_GOTO(rc, ct_study_read_rows(c, tpath, t->stat, names, nnames, tr, ntr, group,
                                             &comb));
    }
    CT_CHECK_GOTO(rc, ct_study_read_rows(c, tpath, t->stat, names, nnames, va, nva, group, &dva));
    CT_CHECK_GOTO(rc, ct_study_read_rows(c, tpath, t->stat, names, nnames, td->split.test,
                                         td->split.ntest, group, &dte));
    const ct_study_train *trs = &s->fine;
    fit_opts o = {trs, s->fine.trials, s->fine.lr_min, s->fine.lr_max, s->fine.wd_min,
                  s->fine.wd_max, seed};
    if (!transfer) {
        /* baselines: a fresh network of the pretraining architecture, inputs
         * standardised with its own training rows, the pretraining lr/wd ranges
         * (the fine-tuning ranges are meant for already-trained weights) */
        ct_mlp_arch a;
        const ct_study_train *pre = ct_study_pre_of(s, t->stat);
        arch_from_settings(pre, comb.n_in, nnames, seed, &a);
        CT_CHECK_GOTO(rc, ct_mlp_create(&base, &a));
        CT_CHECK_GOTO(rc, ct_mlp_fit_input_norm(base, &comb, s->log10_inputs, group));
        CT_CHECK_GOTO(rc, set_targets(s, tg, base, names, nnames, NULL));
        o.lr_min = pre->lr_min;
        o.lr_max = pre->lr_max;
        o.wd_min = pre->wd_min;
        o.wd_max = pre->wd_max;
        /* with a fixed lr, use the pretraining one */
        ct_study_train fixed = s->fine;
        fixed.lr = pre->lr;
        fixed.weight_decay = pre->weight_decay;
        o.tr = &fixed;
        CT_CHECK_GOTO(rc, set_model_note(s, base, t->stat, tpath));
        CT_CHECK_GOTO(rc, fit(base, &comb, &dva, &o, group, &best, res));
    } else {
        CT_CHECK_GOTO(rc, set_model_note(s, base, t->stat, tpath));
        CT_CHECK_GOTO(rc, fit(base, &comb, &dva, &o, group, &best, res));
    }
    CT_CHECK_GOTO(rc, score(best, &dte, group, tg, res));
    /* seed 0 of everything; every seed at the largest budget (the analyses
     * show their seed-to-seed spread) */
    if (t->seed == 0 || t->budget == c->budgets[t->target][c->nbudget[t->target] - 1]) {
        char path[CT_STUDY_PATH + 256];
        ct_study_ft_model_path(c, t, path, sizeof path);
        CT_CHECK_GOTO(rc, ct_mlp_save(best, path, group));
    }
    res->ntrain = ntr;
    res->nval = nva;
fail:
    free(tr);
    free(va);
    ct_dataset_free(&dtr);
    ct_dataset_free(&dva);
    ct_dataset_free(&dte);
    ct_dataset_free(&full);
    ct_dataset_free(&pre);
    ct_dataset_free(&comb);
    ct_mlp_destroy(&pm);
    ct_mlp_destroy(&base);
    ct_mlp_destroy(&best);
    return rc;
}

ct_status ct_study_run_task(const ct_study_ctx *c, const ct_study_task *t, MPI_Comm group,
                            ct_task_result *res)
{
    memset(res, 0, sizeof *res);
    double t0 = ct_wtime();
    if (t->kind != CT_TASK_FINETUNE)
        CT_CHECK(run_pretrain(c, t, group, res));
    else
        CT_CHECK(run_finetune(c, t, group, res));
    res->seconds = ct_wtime() - t0;
    return CT_OK;
}
