/* The study driver: the task grid (pretrainings, then fine-tunings and
 * baselines), run on rank groups that take tasks from a shared counter, each
 * result stored at once as OUT/tasks/<id>.txt so that --resume runs only what
 * is missing; then the results tables, the analyses and the report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/runner.h"
#include "study_internal.h"

static const char *arch_names[CT_ARCH_COUNT] = {"dummy",      "nodummy", "frozen",
                                                "bottleneck", "scratch", "combined"};

const char *ct_study_arch_name(ct_study_arch a)
{
    return (a >= 0 && a < CT_ARCH_COUNT) ? arch_names[a] : "pretrain";
}

int ct_study_arch_parse(const char *name)
{
    for (int a = 0; a < CT_ARCH_COUNT; a++)
        if (!strcmp(name, arch_names[a]))
            return a;
    if (!strcmp(name, "no_dummy") || !strcmp(name, "no-dummy"))
        return CT_ARCH_NODUMMY;
    return -1;
}

void ct_study_train_defaults(ct_study_train *t)
{
    memset(t, 0, sizeof *t);
    t->nhidden = 2;
    t->hidden[0] = t->hidden[1] = 128;
    t->dropout = 0.2;
    t->leaky_slope = 0.2;
    t->epochs = 300;
    t->patience = 30;
    t->batch = 32;
    t->lr = 1e-3;
    t->weight_decay = 1e-4;
    t->trials = 0;
    t->lr_min = 1e-5;
    t->lr_max = 1e-1;
    t->wd_min = 1e-8;
    t->wd_max = 1.0;
}

const ct_study_train *ct_study_pre_of(const ct_study_settings *s, int stat)
{
    return (stat >= 0 && stat < CT_STUDY_MAX_STATS && s->pre_stat_set[stat]) ? &s->pre_stat[stat]
                                                                              : &s->pre;
}

void ct_study_defaults(ct_study_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->out, sizeof s->out, "study-results");
    s->nstats = 1;
    snprintf(s->stats[0], sizeof s->stats[0], "pk");
    s->log10_inputs = 1;
    s->kmax = 0.5;
    for (int a = 0; a < CT_ARCH_COUNT; a++)
        s->arch[a] = 1;
    int b[] = {50, 100, 200, 500, 1000, 2000};
    s->nbudgets = 6;
    memcpy(s->budgets, b, sizeof b);
    s->nseeds = 3;
    s->seed = 12345;
    s->test_fraction = 0.15;
    s->val_fraction = 0.2;
    s->dummy_mode = CT_DUMMY_MAX;
    s->bottleneck_width = 10;
    s->head_width = 32;
    ct_study_train_defaults(&s->pre);
    ct_study_train_defaults(&s->fine);
    /* the published study (Krishnaraj et al. 2025): fine-tuning searches lr 1e-6..1e-3 and wd 1e-6..1e-1 */
    s->fine.lr = 1e-4;
    s->fine.lr_min = 1e-6;
    s->fine.lr_max = 1e-3;
    s->fine.wd_min = 1e-6;
    s->fine.wd_max = 1e-1;
    s->fine.trials = 4;
    s->shap_samples = 32;
    s->shap_background = 32;
    ct_shap_defaults(&s->shap);
    s->cka_samples = 256;
    s->group_size = 1;
}

int ct_study_pregroup_of(const ct_study_ctx *c, int target)
{
    return c->s->dummy_mode == CT_DUMMY_PER_TARGET ? target : 0;
}

void ct_study_task_path(const ct_study_ctx *c, const ct_study_task *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/tasks/%s.txt", c->s->out, t->id);
}

static void safe_stat(const char *spec, char *out, size_t cap)
{
    snprintf(out, cap, "%s", spec);
    for (char *p = out; *p; p++)
        if (*p == '+')
            *p = '-';
}

void ct_study_pre_model_path(const ct_study_ctx *c, int stat, int group, char *buf, size_t cap)
{
    char st[CT_STUDY_NAME];
    safe_stat(c->s->stats[stat], st, sizeof st);
    snprintf(buf, cap, "%s/models/pretrain_%s_g%d.h5", c->s->out, st, group);
}

void ct_study_bn_model_path(const ct_study_ctx *c, int stat, int group, char *buf, size_t cap)
{
    char st[CT_STUDY_NAME];
    safe_stat(c->s->stats[stat], st, sizeof st);
    snprintf(buf, cap, "%s/models/pretrain_bottleneck_%s_g%d.h5", c->s->out, st, group);
}

void ct_study_ft_model_path(const ct_study_ctx *c, const ct_study_task *t, char *buf,
                            size_t cap)
{
    snprintf(buf, cap, "%s/models/%s.h5", c->s->out, t->id);
}

static ct_status check_settings(const ct_study_settings *s)
{
    if (!s->out[0])
        CT_FAIL(CT_ERR_CONFIG, "study: no output directory");
    if (!s->pretrain.path[0])
        CT_FAIL(CT_ERR_CONFIG, "study: no pretraining suite");
    if (s->pretrain.nparam < 1)
        CT_FAIL(CT_ERR_CONFIG, "study: the pretraining suite has no parameters to infer");
    if (s->ntargets < 1)
        CT_FAIL(CT_ERR_CONFIG, "study: no target suite");
    if (s->nstats < 1 || s->nbudgets < 1 || s->nseeds < 1)
        CT_FAIL(CT_ERR_CONFIG, "study: needs at least one statistic, budget and seed");
    if (s->nseeds > CT_STUDY_MAX_SEEDS)
        CT_FAIL(CT_ERR_CONFIG, "study: seeds = %d: at most %d", s->nseeds, CT_STUDY_MAX_SEEDS);
    if (s->group_size < 1)
        CT_FAIL(CT_ERR_CONFIG, "study: group size must be >= 1");
    int any = 0;
    for (int a = 0; a < CT_ARCH_COUNT; a++)
        any |= s->arch[a];
    if (!any)
        CT_FAIL(CT_ERR_CONFIG, "study: no architecture or baseline selected");
    for (int t = 0; t < s->ntargets; t++) {
        if (s->targets[t].nparam < 1)
            CT_FAIL(CT_ERR_CONFIG, "study: target '%s' has no parameters", s->targets[t].name);
        for (int u = 0; u < t; u++)
            if (!strcmp(s->targets[t].name, s->targets[u].name))
                CT_FAIL(CT_ERR_CONFIG, "study: two targets are named '%s'", s->targets[t].name);
    }
    return CT_OK;
}

/* extra parameters of a target: not among the pretraining parameters */
static int extras(const ct_study_settings *s, int t, char out[][CT_NN_NAME_MAX])
{
    int n = 0;
    for (int p = 0; p < s->targets[t].nparam; p++) {
        int pre = 0;
        for (int q = 0; q < s->pretrain.nparam; q++)
            pre |= !strcmp(s->targets[t].params[p], s->pretrain.params[q]);
        if (!pre) {
            if (out)
                ct_strlcpy(out[n], s->targets[t].params[p], CT_NN_NAME_MAX);
            n++;
        }
    }
    return n;
}

static ct_status build_ctx(const ct_study_settings *s, MPI_Comm comm, ct_study_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    CT_CHECK(ct_table_info_read(s->pretrain.path, comm, &c->pre.info));
    CT_CHECK(ct_split_make(c->pre.info.present, c->pre.info.n_present, s->test_fraction,
                           s->seed, ct_hash_name(s->pretrain.name), &c->pre.split));
    for (int t = 0; t < s->ntargets; t++) {
        ct_study_suite_data *d = &c->target[t];
        CT_CHECK(ct_table_info_read(s->targets[t].path, comm, &d->info));
        for (int p = 0; p < s->targets[t].nparam; p++) {
            int found = 0;
            for (int q = 0; q < d->info.n_params; q++)
                found |= !strcmp(d->info.param_name[q], s->targets[t].params[p]);
            if (!found)
                CT_FAIL(CT_ERR_CONFIG, "%s: target '%s' has no parameter '%s'",
                        s->targets[t].path, s->targets[t].name, s->targets[t].params[p]);
        }
        CT_CHECK(ct_split_make(d->info.present, d->info.n_present, s->test_fraction, s->seed,
                               ct_hash_name(s->targets[t].name), &d->split));
        ct_budgets_cap(s->budgets, s->nbudgets, d->split.npool, c->budgets[t], &c->nbudget[t]);
        for (int b = 0; b < c->nbudget[t]; b++)
            if (c->budgets[t][b] < 4)
                CT_FAIL(CT_ERR_CONFIG, "study: budget %lld is below the minimum of 4",
                        (long long)c->budgets[t][b]);
    }
    for (int p = 0; p < s->pretrain.nparam; p++) {
        int found = 0;
        for (int q = 0; q < c->pre.info.n_params; q++)
            found |= !strcmp(c->pre.info.param_name[q], s->pretrain.params[p]);
        if (!found)
            CT_FAIL(CT_ERR_CONFIG, "%s: the pretraining suite has no parameter '%s'",
                    s->pretrain.path, s->pretrain.params[p]);
    }
    /* pretraining groups and their dummy outputs */
    c->npregroups = s->dummy_mode == CT_DUMMY_PER_TARGET ? s->ntargets : 1;
    for (int g = 0; g < c->npregroups; g++) {
        ct_study_pregroup *pg = &c->pregroup[g];
        pg->npre = s->pretrain.nparam;
        for (int p = 0; p < pg->npre; p++)
            ct_strlcpy(pg->names[p], s->pretrain.params[p], CT_NN_NAME_MAX);
        int d = 0;
        char ex[CT_STUDY_MAX_PARAMS][CT_NN_NAME_MAX];
        if (s->dummy_mode == CT_DUMMY_PER_TARGET) {
            d = extras(s, g, ex);
        } else {
            for (int t = 0; t < s->ntargets; t++) {
                int e = extras(s, t, NULL);
                d = e > d ? e : d;
            }
            if (s->ntargets == 1)
                extras(s, 0, ex);
            else
                for (int k = 0; k < d; k++)
                    snprintf(ex[k], CT_NN_NAME_MAX, "dummy_%d", k + 1);
        }
        if (pg->npre + d > CT_STUDY_MAX_PARAMS)
            CT_FAIL(CT_ERR_CONFIG, "study: too many outputs (%d)", pg->npre + d);
        for (int k = 0; k < d; k++)
            snprintf(pg->names[pg->npre + k], CT_NN_NAME_MAX, "%s", ex[k]);
        pg->nout = pg->npre + d;
    }
    /* the task grid */
    int cap = 2 * c->npregroups * s->nstats;
    for (int t = 0; t < s->ntargets; t++)
        cap += s->nstats * CT_ARCH_COUNT * c->nbudget[t] * s->nseeds;
    CT_CHECK(ct_calloc(&c->tasks, (size_t)cap, sizeof(ct_study_task), "tasks"));
    int needs_pre = s->arch[CT_ARCH_DUMMY] || s->arch[CT_ARCH_NODUMMY] ||
                    s->arch[CT_ARCH_FROZEN] || s->arch[CT_ARCH_BOTTLENECK];
    char st[CT_STUDY_NAME];
    for (int si = 0; si < s->nstats && needs_pre; si++)
        for (int g = 0; g < c->npregroups; g++) {
            ct_study_task *k = &c->tasks[c->ntasks++];
            k->kind = CT_TASK_PRETRAIN;
            k->stat = si;
            k->group = g;
            k->target = -1;
            k->arch = CT_ARCH_COUNT;
            safe_stat(s->stats[si], st, sizeof st);
            snprintf(k->id, sizeof k->id, "pretrain_%s_g%d", st, g);
            if (s->arch[CT_ARCH_BOTTLENECK]) {
                k = &c->tasks[c->ntasks++];
                k->kind = CT_TASK_PRETRAIN_BN;
                k->stat = si;
                k->group = g;
                k->target = -1;
                k->arch = CT_ARCH_BOTTLENECK;
                snprintf(k->id, sizeof k->id, "pretrain_bottleneck_%s_g%d", st, g);
            }
        }
    for (int t = 0; t < s->ntargets; t++)
        for (int si = 0; si < s->nstats; si++)
            for (int a = 0; a < CT_ARCH_COUNT; a++) {
                if (!s->arch[a])
                    continue;
                for (int b = 0; b < c->nbudget[t]; b++)
                    for (int r = 0; r < s->nseeds; r++) {
                        ct_study_task *k = &c->tasks[c->ntasks++];
                        k->kind = CT_TASK_FINETUNE;
                        k->stat = si;
                        k->group = ct_study_pregroup_of(c, t);
                        k->target = t;
                        k->arch = (ct_study_arch)a;
                        k->budget = c->budgets[t][b];
                        k->seed = r;
                        safe_stat(s->stats[si], st, sizeof st);
                        snprintf(k->id, sizeof k->id, "%s_%s_%s_b%lld_s%d", s->targets[t].name,
                                 st, arch_names[a], (long long)k->budget, r);
                    }
            }
    return CT_OK;
}

static void free_ctx(ct_study_ctx *c)
{
    ct_table_info_free(&c->pre.info);
    ct_split_free(&c->pre.split);
    for (int t = 0; t < CT_STUDY_MAX_TARGETS; t++) {
        ct_table_info_free(&c->target[t].info);
        ct_split_free(&c->target[t].split);
    }
    free(c->tasks);
    memset(c, 0, sizeof *c);
}

/* One task of a phase is one item of the runner: the group trains it, its
 * rank 0 writes the result file. */
typedef struct {
    const ct_study_ctx *c;
    const int *pending;
} phase_job;

static ct_status task_run(int64_t item, MPI_Comm group, void *user, void *result)
{
    phase_job *j = user;
    const ct_study_task *t = &j->c->tasks[j->pending[item]];
    ct_task_result *res = result;
    int grank;
    MPI_Comm_rank(group, &grank);
    CT_CHECK(ct_study_run_task(j->c, t, group, res));
    if (grank == 0) {
        char path[CT_STUDY_PATH + 256];
        ct_study_task_path(j->c, t, path, sizeof path);
        CT_CHECK(ct_task_result_write(path, res));
    }
    return CT_OK;
}

/* After SIGTERM (cosmotl study installs ct_stop_on_sigterm) no training starts:
 * the runner records the rest as skipped, the trainings already running end and
 * are saved as usual, and the study stops for a --resume. */
static ct_status task_stop(int64_t item, MPI_Comm group, void *user, int *done)
{
    (void)item;
    (void)user;
    *done = ct_stop_agree(group);
    return CT_OK;
}

static ct_status task_finish(int64_t item, ct_status st, const char *msg, const void *result,
                             MPI_Comm group, void *user)
{
    phase_job *j = user;
    const ct_study_task *t = &j->c->tasks[j->pending[item]];
    const ct_task_result *res = result;
    int grank;
    MPI_Comm_rank(group, &grank);
    (void)msg;
    if (st == CT_OK && grank == 0) {
        double worst = NAN;
        for (int p = 0; p < res->nparam; p++)
            if (isnan(worst) || res->r2[p] < worst)
                worst = res->r2[p];
        ct_log_rank_msg(CT_LOG_INFO, "task %s: %.1f s, lr %.2g, wd %.2g, min R2 %.3f", t->id,
                        res->seconds, res->lr, res->weight_decay, worst);
    }
    return CT_OK;
}

/* Run the pending tasks of one phase on the runner's groups (dynamic queue: fast
 * groups take more tasks). At most `limit` tasks of the list run. A failed task
 * is an error once the other tasks are done. Returns how many ran (same on every
 * rank). */
static ct_status run_phase(const ct_study_ctx *c, const int *pending, int npending,
                           int64_t limit, ct_runner *r, int64_t *ran)
{
    ct_runner_report rep;
    phase_job j = {c, pending};
    ct_runner_job job = {.n_items = npending < limit ? npending : limit, .run = task_run,
                         .is_done = task_stop, .finish = task_finish, .result_size = sizeof(ct_task_result),
                         .user = &j};
    CT_CHECK(ct_runner_run(r, &job, &rep));
    *ran = rep.n_done;
    if (rep.n_failed > 0) {
        ct_status st = rep.first_status;
        ct_error_set(st, __func__, __LINE__, "task %s failed: %s",
                     c->tasks[pending[rep.first_failed]].id, rep.first_error);
        ct_runner_report_free(&rep);
        return st;
    }
    ct_runner_report_free(&rep);
    return CT_OK;
}

ct_status ct_study_run(const ct_study_settings *s, MPI_Comm comm, int *complete)
{
    ct_status rc = CT_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_runner *runner = NULL;
    ct_study_ctx c;
    memset(&c, 0, sizeof c);
    int *done = NULL, *pending = NULL;
    ct_study_results res;
    memset(&res, 0, sizeof res);
    *complete = 0;
    CT_CHECK(ct_agree_msg(comm, check_settings(s)));
    if (size % s->group_size != 0)
        CT_FAIL(CT_ERR_CONFIG, "study: %d ranks do not divide into groups of %d", size,
                s->group_size);
    rc = build_ctx(s, comm, &c);
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    /* directories and the state of earlier runs (rank 0 looks, all learn) */
    CT_CHECK_GOTO(rc, ct_calloc(&done, (size_t)c.ntasks + 1, sizeof(int), "tasks"));
    CT_CHECK_GOTO(rc, ct_calloc(&pending, (size_t)c.ntasks + 1, sizeof(int), "tasks"));
    if (rank == 0) {
        char d[CT_STUDY_PATH + 64];
        rc = ct_mkdir_p(s->out);
        snprintf(d, sizeof d, "%s/tasks", s->out);
        if (rc == CT_OK)
            rc = ct_mkdir_p(d);
        snprintf(d, sizeof d, "%s/models", s->out);
        if (rc == CT_OK)
            rc = ct_mkdir_p(d);
        for (int i = 0; i < c.ntasks && rc == CT_OK; i++) {
            char p[CT_STUDY_PATH + 256];
            ct_study_task_path(&c, &c.tasks[i], p, sizeof p);
            done[i] = ct_file_exists(p);
            if (done[i] && c.tasks[i].kind != CT_TASK_FINETUNE) {
                /* a pretraining counts as done only with its model */
                if (c.tasks[i].kind == CT_TASK_PRETRAIN)
                    ct_study_pre_model_path(&c, c.tasks[i].stat, c.tasks[i].group, p, sizeof p);
                else
                    ct_study_bn_model_path(&c, c.tasks[i].stat, c.tasks[i].group, p, sizeof p);
                done[i] = ct_file_exists(p);
            }
        }
        int ndone = 0;
        for (int i = 0; i < c.ntasks; i++)
            ndone += done[i];
        if (rc == CT_OK && ndone > 0 && !s->resume)
            rc = ct_error_set(CT_ERR_STATE, __func__, __LINE__,
                              "%s already holds %d finished trainings of a study; run with "
                              "--resume to continue it, or choose another output directory",
                              s->out, ndone);
        if (rc == CT_OK && s->resume)
            ct_info("study: resuming, %d of %d trainings already done", ndone, c.ntasks);
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    MPI_Bcast(done, c.ntasks, MPI_INT, 0, comm);
    {
        ct_runner_settings rs;
        ct_runner_settings_defaults(&rs);
        rs.group_size = s->group_size;
        CT_CHECK_GOTO(rc, ct_runner_create(&runner, &rs, comm));
    }
    int64_t budget_left = s->max_tasks > 0 ? s->max_tasks : INT64_MAX;
    int stopped = 0;
    static const char *phase_name[CT_TASK_NKINDS] = {
        "pretraining", "bottleneck pretraining", "fine-tuning and baselines"};
    for (int phase = 0; phase < CT_TASK_NKINDS && !stopped; phase++) {
        /* fine-tunings and baselines run seed by seed (every architecture,
         * baseline and budget of seed 0, then of seed 1, ...), so a run stopped
         * early leaves whole seeds; results do not depend on the order */
        int np = 0;
        int nseed = phase == CT_TASK_FINETUNE ? s->nseeds : 1;
        for (int r = 0; r < nseed; r++)
            for (int i = 0; i < c.ntasks; i++)
                if (!done[i] && (int)c.tasks[i].kind == phase &&
                    (phase != CT_TASK_FINETUNE || c.tasks[i].seed == r))
                    pending[np++] = i;
        if (np == 0)
            continue;
        ct_info("study: %s: %d trainings on %d group(s) of %d rank(s)", phase_name[phase], np,
                size / s->group_size, s->group_size);
        int64_t ran = 0;
        CT_CHECK_GOTO(rc, run_phase(&c, pending, np, budget_left, runner, &ran));
        budget_left -= ran;
        if (ran < np)
            stopped = 1;
        if (ct_stop_agree(comm)) {
            ct_info("study: SIGTERM: %lld training(s) of this phase finished and saved, no "
                    "new ones started; run again with --resume to continue", (long long)ran);
            goto fail;
        }
    }
    if (stopped) {
        ct_info("study: stopped after the requested number of trainings; run again with "
                "--resume to continue");
        goto fail;
    }
    /* tables, analyses and report on rank 0 */
    if (rank == 0) {
        rc = ct_study_collect(&c, &res);
        if (rc == CT_OK)
            rc = ct_study_write_results(&c, &res);
        if (rc == CT_OK) {
            char p[CT_STUDY_PATH + 32];
            snprintf(p, sizeof p, "%s/report.md", s->out);
            rc = ct_study_write_report(&c, &res, p);
        }
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    *complete = 1;
fail:
    ct_runner_destroy(&runner);
    ct_study_results_free(&res);
    free(done);
    free(pending);
    free_ctx(&c);
    return rc;
}
