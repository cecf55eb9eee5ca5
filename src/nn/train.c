/* Data-parallel training: per-epoch shuffle keyed by (seed, epoch), the global
 * mini-batch split over the ranks, one MPI_Allreduce per step over a flat
 * gradient buffer, AdamW, lr schedules, early stopping, clipping, checkpoints. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

#define STREAM_SHUFFLE 0x5000000ull

void ct_train_settings_defaults(ct_train_settings *s)
{
    memset(s, 0, sizeof *s);
    s->epochs = 1000;
    s->batch = 32;
    s->lr = 1e-3;
    s->beta1 = 0.5;
    s->beta2 = 0.999;
    s->eps = 1e-8;
    s->weight_decay = 0.01;
    s->schedule = CT_SCHED_CONSTANT;
    s->lr_min = 0.0;
    s->plateau_factor = 0.5;
    s->plateau_patience = 10;
    s->patience = 50;
    s->restore_best = 1;
    s->clip_norm = 0.0;
    s->seed = 1;
    s->checkpoint_every = 1;
    s->resume = 1;
    s->log_every = 10;
    s->precision = CT_NN_FLOAT64;
}

/* Normalised inputs, scaled targets and global row ids of a local shard. */
static ct_status prepare(const ct_mlp *m, const ct_dataset *d, int64_t row0, ct_dataset *p)
{
    ct_status rc = CT_OK;
    if (d->n_in != m->n_in || d->n_targets != m->n_targets)
        CT_FAIL(CT_ERR_ARG, "dataset has %d inputs and %d targets, the model %d and %d", d->n_in,
                d->n_targets, m->n_in, m->n_targets);
    CT_CHECK(ct_dataset_alloc(p, d->n, d->n_in, d->n_targets, d->mask != NULL));
    CT_CHECK_GOTO(rc, ct_mlp_normalize_inputs(m, d->x, d->n, p->x));
    ct_mlp_scale_targets(m, d->y, d->n, p->y);
    if (d->mask)
        memcpy(p->mask, d->mask, (size_t)(d->n * d->n_targets));
    for (int64_t i = 0; i < d->n; i++) {
        p->id[i] = row0 + i;
        for (int k = 0; k < d->n_targets; k++) {
            int live = !m->dummy[k] && (!d->mask || d->mask[i * d->n_targets + k]);
            if (live && !isfinite(p->y[i * d->n_targets + k]))
                CT_FAIL_GOTO(rc, CT_ERR_NUMERIC, "row %lld: target %s is not finite",
                             (long long)(d->id ? d->id[i] : row0 + i), m->target_name[k]);
        }
    }
    return CT_OK;
fail:
    ct_dataset_free(p);
    return rc;
}

/* Mean loss over a prepared sharded dataset; n_global rows in total. */
static ct_status eval_prepared(const ct_mlp *m, const ct_dataset *p, int64_t n_global,
                               MPI_Comm comm, double *loss)
{
    ct_status rc = CT_OK;
    double *y = NULL, sum = 0;
    const int64_t chunk = 1024;
    int64_t cap = p->n < chunk ? p->n : chunk;
    CT_CHECK_GOTO(rc, ct_calloc(&y, (size_t)((cap > 0 ? cap : 1) * m->n_out), sizeof(double),
                                "outputs"));
    for (int64_t i0 = 0; i0 < p->n; i0 += cap) {
        int64_t nb = p->n - i0 < cap ? p->n - i0 : cap;
        CT_CHECK_GOTO(rc, ct_mlp_forward(m, p->x + i0 * m->n_in, nb, y, NULL));
        sum += ct_nn_loss(m->loss, nb, m->n_targets, y, p->y + i0 * m->n_targets,
                          p->mask ? p->mask + i0 * m->n_targets : NULL, m->dummy,
                          (double)n_global, NULL);
    }
fail:
    free(y);
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK)
        return rc;
    MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, comm);
    *loss = sum;
    return CT_OK;
}

static int64_t row_offset(int64_t n, MPI_Comm comm)
{
    int64_t off = 0;
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Exscan(&n, &off, 1, MPI_INT64_T, MPI_SUM, comm);
    return rank == 0 ? 0 : off;
}

ct_status ct_mlp_evaluate(const ct_mlp *m, const ct_dataset *d, MPI_Comm comm, double *loss)
{
    ct_dataset p;
    int64_t ng = ct_dataset_global_rows(d, comm);
    ct_status rc = prepare(m, d, 0, &p);
    if (rc != CT_OK)
        ct_error_push(rc, __func__, __LINE__);
    CT_CHECK(ct_agree_msg(comm, rc));
    rc = eval_prepared(m, &p, ng, comm, loss);
    ct_dataset_free(&p);
    return rc;
}

ct_status ct_mlp_metrics(const ct_mlp *m, const ct_dataset *d, MPI_Comm comm, double *mse,
                         double *rmse, double *r2)
{
    ct_status rc = CT_OK;
    int nt = m->n_targets, no = m->n_out;
    double *yp = NULL, *acc = NULL; /* per target: n, sum t, sum t^2, sum err^2 */
    if (d->n_in != m->n_in || d->n_targets != nt)
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                          "dataset has %d inputs and %d targets, the model %d and %d", d->n_in,
                          d->n_targets, m->n_in, nt);
    if (rc == CT_OK)
        rc = ct_calloc(&yp, (size_t)((d->n > 0 ? d->n : 1) * no), sizeof(double), "predictions");
    if (rc == CT_OK)
        rc = ct_calloc(&acc, 4 * (size_t)nt, sizeof(double), "metrics");
    if (rc == CT_OK)
        rc = ct_mlp_predict(m, d->x, d->n, yp);
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    for (int64_t i = 0; i < d->n; i++)
        for (int k = 0; k < nt; k++) {
            if (d->mask && !d->mask[i * nt + k])
                continue;
            double t = d->y[i * nt + k], e = yp[i * no + k] - t;
            acc[4 * k] += 1;
            acc[4 * k + 1] += t;
            acc[4 * k + 2] += t * t;
            acc[4 * k + 3] += e * e;
        }
    MPI_Allreduce(MPI_IN_PLACE, acc, 4 * nt, MPI_DOUBLE, MPI_SUM, comm);
    for (int k = 0; k < nt; k++) {
        double n = acc[4 * k], e2 = n > 0 ? acc[4 * k + 3] / n : NAN;
        double mean = n > 0 ? acc[4 * k + 1] / n : NAN;
        double var = n > 0 ? acc[4 * k + 2] / n - mean * mean : NAN;
        if (mse)
            mse[k] = e2;
        if (rmse)
            rmse[k] = sqrt(e2);
        if (r2)
            r2[k] = var > 0 ? 1.0 - e2 / var : NAN;
    }
fail:
    free(yp);
    free(acc);
    return rc;
}

static void state_free(ct_train_state *st)
{
    ct_free(&st->m1);
    ct_free(&st->m2);
    ct_free(&st->best_params);
}

static int same_shape(const ct_mlp *a, const ct_mlp *b)
{
    if (a->n_layers != b->n_layers || a->n_params != b->n_params || a->loss != b->loss)
        return 0;
    for (int l = 0; l <= a->n_layers; l++)
        if (a->dims[l] != b->dims[l])
            return 0;
    return 1;
}

/* Try to resume from s->checkpoint: fills st and m's parameters and history. */
static ct_status try_resume(ct_mlp *m, const ct_train_settings *s, MPI_Comm comm,
                            ct_train_state *st, int *resumed)
{
    int rank, exists = 0;
    MPI_Comm_rank(comm, &rank);
    *resumed = 0;
    if (!s->checkpoint || !s->resume)
        return CT_OK;
    if (rank == 0)
        exists = ct_file_exists(s->checkpoint);
    MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
    if (!exists)
        return CT_OK;
    ct_mlp *c = NULL;
    ct_train_state cs;
    int has = 0;
    memset(&cs, 0, sizeof cs);
    CT_CHECK(ct_nn_read_file(&c, &cs, &has, s->checkpoint, comm));
    ct_status rc = CT_OK;
    if (!has)
        rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                          "%s: a model file without training state, not a checkpoint",
                          s->checkpoint);
    else if (!same_shape(c, m))
        rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                          "%s: checkpoint of a different network (delete it to start over)",
                          s->checkpoint);
    else if (cs.precision != s->precision)
        rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                          "%s: checkpoint trained in %s, the settings ask for %s (delete it "
                          "to start over)",
                          s->checkpoint, ct_nn_precision_name(cs.precision),
                          ct_nn_precision_name(s->precision));
    if (rc == CT_OK) {
        memcpy(m->params, c->params, m->n_params * sizeof(double));
        memcpy(m->frozen, c->frozen, sizeof m->frozen);
        rc = ct_nn_set_history(m, c->n_history, c->hist_train, c->hist_val, c->hist_lr);
    }
    ct_mlp_destroy(&c);
    if (rc != CT_OK) {
        state_free(&cs);
        return ct_error_push(rc, __func__, __LINE__);
    }
    state_free(st);
    *st = cs;
    *resumed = 1;
    return CT_OK;
}

/* The float32 compute path: float copies of the weights, AdamW moments, the
 * gradient buffer and the epoch's rows. The double model and state (m->params,
 * st.m1, st.m2) are refreshed from them after every epoch, so everything that
 * happens between epochs (validation, best weights, checkpoints) sees doubles. */
typedef struct {
    float *p, *m1, *m2, *g; /* n_params (g: + 1 for the loss) */
    float *x, *y;           /* the epoch's rows on this rank */
    int64_t cap_rows;
    ct_nn_work_f32 w;
} f32_path;

static void f32_free(f32_path *f)
{
    free(f->p);
    free(f->m1);
    free(f->m2);
    free(f->g);
    free(f->x);
    free(f->y);
    ct_nn_work_free_f32(&f->w);
    memset(f, 0, sizeof *f);
}

static void to_float(float *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)src[i];
}

static void to_double(double *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (double)src[i];
}

static ct_status f32_alloc(f32_path *f, const ct_mlp *m, int64_t cap_local)
{
    size_t np = m->n_params;
    memset(f, 0, sizeof *f);
    CT_CHECK(ct_calloc(&f->p, np, sizeof(float), "float32 weights"));
    CT_CHECK(ct_calloc(&f->m1, np, sizeof(float), "float32 AdamW state"));
    CT_CHECK(ct_calloc(&f->m2, np, sizeof(float), "float32 AdamW state"));
    CT_CHECK(ct_calloc(&f->g, np + 1, sizeof(float), "float32 gradient"));
    CT_CHECK(ct_nn_work_alloc_f32(&f->w, m, cap_local, 1));
    return CT_OK;
}

/* The epoch's rows in float. */
static ct_status f32_rows(f32_path *f, const ct_dataset *ep)
{
    if (ep->n > f->cap_rows) {
        free(f->x);
        free(f->y);
        f->x = f->y = NULL;
        f->cap_rows = 0;
        CT_CHECK(ct_calloc(&f->x, (size_t)(ep->n * ep->n_in), sizeof(float), "float32 rows"));
        CT_CHECK(ct_calloc(&f->y, (size_t)(ep->n * ep->n_targets), sizeof(float),
                           "float32 rows"));
        f->cap_rows = ep->n;
    }
    to_float(f->x, ep->x, (size_t)(ep->n * ep->n_in));
    to_float(f->y, ep->y, (size_t)(ep->n * ep->n_targets));
    return CT_OK;
}

/* Rescale the gradient to norm clip if its norm (accumulated in double) exceeds it. */
static void clip_gradient(void *grad, int f32, size_t np, double clip)
{
    double g2 = 0;
    float *gf = grad;
    double *gd = grad;
    for (size_t i = 0; i < np; i++)
        g2 += f32 ? (double)gf[i] * gf[i] : gd[i] * gd[i];
    double gn = sqrt(g2);
    if (!(gn > clip))
        return;
    double f = clip / gn;
    for (size_t i = 0; i < np; i++) {
        if (f32)
            gf[i] = (float)(gf[i] * f);
        else
            gd[i] *= f;
    }
}

/* One AdamW step on every trainable layer, on the double model and state or, with
 * f32, on the float copies. */
static void adamw_step(ct_mlp *m, const ct_train_settings *s, ct_train_state *st,
                       f32_path *f32, const void *grad, double lr)
{
    st->step++;
    double bc1 = 1.0 - pow(s->beta1, (double)st->step);
    double bc2 = 1.0 - pow(s->beta2, (double)st->step);
    double decay = 1.0 - lr * s->weight_decay, step = lr / bc1, isb = 1.0 / sqrt(bc2);
    for (int l = 0; l < m->n_layers; l++) {
        if (m->frozen[l])
            continue;
        size_t a = m->offset[l];
        size_t n = (size_t)m->dims[l + 1] * (size_t)(m->dims[l] + 1);
        if (f32)
            ct_nn_adamw_f32(f32->p + a, f32->m1 + a, f32->m2 + a, (const float *)grad + a, n,
                            decay, s->beta1, s->beta2, step, isb, s->eps);
        else
            ct_nn_adamw_f64(m->params + a, st->m1 + a, st->m2 + a, (const double *)grad + a, n,
                            decay, s->beta1, s->beta2, step, isb, s->eps);
    }
}

static double epoch_lr(const ct_train_settings *s, const ct_train_state *st, int epoch)
{
    if (s->schedule == CT_SCHED_COSINE)
        return s->lr_min + 0.5 * (s->lr - s->lr_min) *
                               (1.0 + cos(M_PI * (double)epoch / (double)s->epochs));
    return st->lr;
}

static ct_status check_settings(const ct_train_settings *s)
{
    if (s->epochs < 1 || s->batch < 1)
        CT_FAIL(CT_ERR_ARG, "epochs (%d) and batch (%d) must be positive", s->epochs, s->batch);
    if (!(s->lr > 0) || !(s->beta1 >= 0 && s->beta1 < 1) || !(s->beta2 >= 0 && s->beta2 < 1) ||
        !(s->eps > 0) || !(s->weight_decay >= 0) || !(s->clip_norm >= 0))
        CT_FAIL(CT_ERR_ARG, "bad optimiser settings (lr %g, betas %g %g, eps %g, wd %g, clip %g)",
                s->lr, s->beta1, s->beta2, s->eps, s->weight_decay, s->clip_norm);
    if (s->schedule == CT_SCHED_PLATEAU && !(s->plateau_factor > 0 && s->plateau_factor < 1))
        CT_FAIL(CT_ERR_ARG, "plateau factor %g outside (0, 1)", s->plateau_factor);
    return CT_OK;
}

ct_status ct_mlp_train(ct_mlp *m, const ct_dataset *train, const ct_dataset *val,
                       const ct_train_settings *s, MPI_Comm comm, ct_train_result *res)
{
    ct_status rc = CT_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_dataset tp, vp, ep;
    ct_train_state st;
    ct_nn_work_f64 w;
    f32_path f32;
    double *grad = NULL;
    int64_t *perm = NULL, *want = NULL;
    FILE *log = NULL;
    memset(&tp, 0, sizeof tp);
    memset(&vp, 0, sizeof vp);
    memset(&ep, 0, sizeof ep);
    memset(&st, 0, sizeof st);
    memset(&w, 0, sizeof w);
    memset(&f32, 0, sizeof f32);
    memset(res, 0, sizeof *res);
    const int use_f32 = s->precision == CT_NN_FLOAT32;
    double t_start = ct_wtime();

    ct_status lrc = check_settings(s);
    /* prepared (normalised / scaled) local shards */
    int64_t ng = ct_dataset_global_rows(train, comm);
    int64_t row0 = row_offset(train->n, comm);
    if (lrc == CT_OK)
        lrc = prepare(m, train, row0, &tp);
    int64_t nvg = 0;
    if (val) {
        nvg = ct_dataset_global_rows(val, comm);
        if (nvg == 0)
            val = NULL; /* an empty validation set is no validation set */
        else if (lrc == CT_OK)
            lrc = prepare(m, val, 0, &vp);
    }
    if (lrc == CT_OK && ng < 1)
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "empty training set");
    if (lrc != CT_OK)
        ct_error_push(lrc, __func__, __LINE__);
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, lrc));

    size_t np = m->n_params;
    lrc = ct_calloc(&st.m1, np, sizeof(double), "AdamW state");
    if (lrc == CT_OK)
        lrc = ct_calloc(&st.m2, np, sizeof(double), "AdamW state");
    if (lrc == CT_OK)
        lrc = ct_calloc(&st.best_params, np, sizeof(double), "best weights");
    if (lrc == CT_OK)
        lrc = ct_calloc(&grad, np + 1, sizeof(double), "gradient");
    if (lrc == CT_OK)
        lrc = ct_calloc(&perm, (size_t)ng, sizeof(int64_t), "permutation");
    int64_t cap_local = ((int64_t)s->batch + size - 1) / size + 1;
    if (lrc == CT_OK)
        lrc = ct_calloc(&want, (size_t)(ng / size + (ng / s->batch + 2)) + 1, sizeof(int64_t),
                        "rows");
    if (lrc == CT_OK)
        lrc = use_f32 ? f32_alloc(&f32, m, cap_local) : ct_nn_work_alloc_f64(&w, m, cap_local, 1);
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, lrc));
    memcpy(st.best_params, m->params, np * sizeof(double));
    st.lr = s->lr;
    st.precision = s->precision;
    st.plateau_best = INFINITY;
    st.best_val = INFINITY;

    int resumed = 0;
    CT_CHECK_GOTO(rc, try_resume(m, s, comm, &st, &resumed));
    if (use_f32) {
        /* exact on resume: the doubles hold float values */
        to_float(f32.p, m->params, np);
        to_float(f32.m1, st.m1, np);
        to_float(f32.m2, st.m2, np);
    }
    if (resumed)
        ct_info("train: resumed from %s at epoch %d", s->checkpoint, st.epoch);
    if (rank == 0 && s->log_path) {
        log = fopen(s->log_path, resumed ? "a" : "w");
        if (!log)
            lrc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot write the training log",
                               s->log_path);
        else if (!resumed)
            fprintf(log, "# epoch train_loss val_loss lr seconds\n");
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, lrc));

    int nin = m->n_in, nt = m->n_targets;
    int64_t B = s->batch, nb = (ng + B - 1) / B;
    int epochs_this_call = 0;
    while (!st.finished && st.epoch < s->epochs) {
        int epoch = st.epoch;
        double te = ct_wtime();
        double lr = epoch_lr(s, &st, epoch);
        /* the same permutation on every rank: Fisher-Yates keyed by (seed, epoch) */
        ct_rng r;
        ct_rng_init(&r, s->seed, STREAM_SHUFFLE + (uint64_t)epoch, 0);
        for (int64_t i = 0; i < ng; i++)
            perm[i] = i;
        ct_rng_shuffle(&r, perm, ng);
        /* this rank's slice of every global batch, fetched from the owners */
        int64_t nwant = 0;
        for (int64_t k = 0; k < nb; k++) {
            int64_t a = k * B, bk = (k + 1) * B < ng ? B : ng - k * B;
            for (int64_t q = a + bk * rank / size; q < a + bk * (rank + 1) / size; q++)
                want[nwant++] = perm[q];
        }
        double tx = ct_wtime();
        ct_dataset_free(&ep);
        CT_CHECK_GOTO(rc, ct_dataset_fetch(&tp, comm, want, nwant, &ep));
        if (use_f32)
            lrc = f32_rows(&f32, &ep);
        CT_CHECK_GOTO(rc, ct_agree_msg(comm, lrc));
        res->seconds_exchange += ct_wtime() - tx;

        double loss_sum = 0;
        int64_t off = 0;
        lrc = CT_OK;
        for (int64_t k = 0; k < nb; k++) {
            int64_t bk = (k + 1) * B < ng ? B : ng - k * B;
            int64_t nl = bk * (rank + 1) / size - bk * rank / size;
            double l = 0;
            const unsigned char *mk = ep.mask ? ep.mask + off * nt : NULL;
            if (use_f32)
                lrc = ct_nn_gradient_work_f32(m, &f32.w, f32.p, f32.x + off * nin,
                                              f32.y + off * nt, mk, ep.id + off, nl,
                                              (double)bk, 1, s->seed, epoch, f32.g, &l);
            else
                lrc = ct_nn_gradient_work_f64(m, &w, m->params, ep.x + off * nin,
                                              ep.y + off * nt, mk, ep.id + off, nl, (double)bk,
                                              1, s->seed, epoch, grad, &l);
            if (lrc != CT_OK)
                break; /* cannot happen past the checks above; kept for safety */
            /* the batch loss travels as one more element of the gradient buffer */
            void *g = use_f32 ? (void *)f32.g : (void *)grad;
            if (use_f32)
                f32.g[np] = (float)l;
            else
                grad[np] = l;
            double ta = ct_wtime();
            MPI_Allreduce(MPI_IN_PLACE, g, (int)np + 1, use_f32 ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM,
                          comm);
            res->seconds_allreduce += ct_wtime() - ta;
            loss_sum += (use_f32 ? (double)f32.g[np] : grad[np]) * (double)bk;
            if (s->clip_norm > 0)
                clip_gradient(g, use_f32, np, s->clip_norm);
            adamw_step(m, s, &st, use_f32 ? &f32 : NULL, g, lr);
            off += nl;
        }
        CT_CHECK_GOTO(rc, ct_agree_msg(comm, lrc));
        if (use_f32) {
            to_double(m->params, f32.p, np);
            to_double(st.m1, f32.m1, np);
            to_double(st.m2, f32.m2, np);
        }
        double train_loss = loss_sum / (double)ng;
        if (!isfinite(train_loss))
            CT_FAIL_GOTO(rc, CT_ERR_NUMERIC,
                         "training loss is not finite at epoch %d (lower the learning rate)",
                         epoch + 1);
        double val_loss = NAN;
        if (val)
            CT_CHECK_GOTO(rc, eval_prepared(m, &vp, nvg, comm, &val_loss));
        CT_CHECK_GOTO(rc, ct_nn_append_history(m, train_loss, val_loss, lr));
        double monitor = val ? val_loss : train_loss;
        if (val) {
            if (val_loss < st.best_val) {
                st.best_val = val_loss;
                st.best_epoch = epoch + 1;
                st.bad_epochs = 0;
                memcpy(st.best_params, m->params, np * sizeof(double));
            } else {
                st.bad_epochs++;
            }
        }
        if (s->schedule == CT_SCHED_PLATEAU) {
            /* torch ReduceLROnPlateau: relative threshold 1e-4, reduce after
             * more than `patience` bad epochs */
            if (monitor < st.plateau_best * (1.0 - 1e-4)) {
                st.plateau_best = monitor;
                st.plateau_bad = 0;
            } else if (++st.plateau_bad > s->plateau_patience) {
                st.lr = fmax(st.lr * s->plateau_factor, s->lr_min);
                st.plateau_bad = 0;
            }
        }
        st.epoch = epoch + 1;
        epochs_this_call++;
        int stop = 0;
        if (val && s->patience > 0 && st.bad_epochs >= s->patience && st.epoch < s->epochs) {
            stop = 1;
            st.stopped_early = 1;
        }
        if (s->on_epoch && s->on_epoch(epoch + 1, train_loss, val_loss, lr, s->on_epoch_user)) {
            stop = 1;
            res->stopped_by_callback = 1;
        }
        if (stop || st.epoch >= s->epochs) {
            if (val && s->restore_best && st.best_epoch > 0)
                memcpy(m->params, st.best_params, np * sizeof(double));
            st.finished = 1;
        }
        double dt = ct_wtime() - te;
        if (log) {
            fprintf(log, "%d %.10e %.10e %.6e %.4f\n", epoch + 1, train_loss, val_loss, lr, dt);
            fflush(log);
        }
        if (s->log_every > 0 && ((epoch + 1) % s->log_every == 0 || st.finished))
            ct_info("train: epoch %d/%d  train %.4e  val %.4e  lr %.2e  %.2fs/epoch", epoch + 1,
                    s->epochs, train_loss, val_loss, lr, dt);
        int interrupt = !st.finished && s->stop_after > 0 && epochs_this_call >= s->stop_after;
        if (!st.finished && s->stop_on_sigterm && ct_stop_agree(comm)) {
            interrupt = 1;
            res->signalled = 1;
        }
        if (s->checkpoint &&
            (st.finished || interrupt || st.epoch % (s->checkpoint_every > 0 ? s->checkpoint_every : 1) == 0))
            CT_CHECK_GOTO(rc, ct_nn_write_file(m, &st, s->checkpoint, comm));
        if (interrupt) {
            res->interrupted = 1;
            break;
        }
    }
    if (st.finished && resumed && epochs_this_call == 0)
        ct_info("train: checkpoint %s already holds a finished training", s->checkpoint);
    res->epochs_run = st.epoch;
    res->best_epoch = st.best_epoch;
    res->best_val = st.best_val;
    res->final_train = m->n_history > 0 ? m->hist_train[m->n_history - 1] : NAN;
    res->stopped_early = st.stopped_early;
fail:
    res->seconds = ct_wtime() - t_start;
    if (log)
        fclose(log);
    ct_dataset_free(&tp);
    ct_dataset_free(&vp);
    ct_dataset_free(&ep);
    state_free(&st);
    ct_nn_work_free_f64(&w);
    f32_free(&f32);
    free(grad);
    free(perm);
    free(want);
    return rc;
}
