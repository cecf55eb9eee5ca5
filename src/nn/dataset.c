/* Datasets for training: plain row-major arrays sharded over a communicator,
 * the row exchange that serves any global order, splits, and input
 * normalisation statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

ct_status ct_dataset_alloc(ct_dataset *d, int64_t n, int n_in, int n_targets, int with_mask)
{
    ct_status rc = CT_OK;
    memset(d, 0, sizeof *d);
    if (n < 0 || n_in < 1 || n_targets < 1)
        CT_FAIL(CT_ERR_ARG, "dataset of %lld rows, %d inputs, %d targets", (long long)n, n_in,
                n_targets);
    d->n = n;
    d->n_in = n_in;
    d->n_targets = n_targets;
    size_t nr = (size_t)(n > 0 ? n : 1);
    CT_CHECK_GOTO(rc, ct_calloc(&d->x, nr * (size_t)n_in, sizeof(double), "dataset inputs"));
    CT_CHECK_GOTO(rc, ct_calloc(&d->y, nr * (size_t)n_targets, sizeof(double), "dataset targets"));
    CT_CHECK_GOTO(rc, ct_calloc(&d->id, nr, sizeof(int64_t), "dataset ids"));
    if (with_mask) {
        CT_CHECK_GOTO(rc, ct_calloc(&d->mask, nr * (size_t)n_targets, 1, "dataset mask"));
        memset(d->mask, 1, nr * (size_t)n_targets);
    }
    return CT_OK;
fail:
    ct_dataset_free(d);
    return rc;
}

void ct_dataset_free(ct_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    free(d->mask);
    free(d->id);
    free(d->target_name);
    memset(d, 0, sizeof *d);
}

static ct_status copy_names(ct_dataset *dst, const ct_dataset *src)
{
    if (!src->target_name)
        return CT_OK;
    CT_CHECK(ct_calloc(&dst->target_name, (size_t)src->n_targets, CT_NN_NAME_MAX, "names"));
    memcpy(dst->target_name, src->target_name, (size_t)src->n_targets * CT_NN_NAME_MAX);
    return CT_OK;
}

static void copy_row(ct_dataset *dst, int64_t i, const ct_dataset *src, int64_t j)
{
    memcpy(dst->x + i * dst->n_in, src->x + j * src->n_in, (size_t)src->n_in * sizeof(double));
    memcpy(dst->y + i * dst->n_targets, src->y + j * src->n_targets,
           (size_t)src->n_targets * sizeof(double));
    if (dst->mask) {
        if (src->mask)
            memcpy(dst->mask + i * dst->n_targets, src->mask + j * src->n_targets,
                   (size_t)src->n_targets);
        else
            memset(dst->mask + i * dst->n_targets, 1, (size_t)src->n_targets);
    }
    dst->id[i] = src->id ? src->id[j] : j;
}

ct_status ct_dataset_take(const ct_dataset *src, const int64_t *rows, int64_t n, ct_dataset *dst)
{
    ct_status rc = CT_OK;
    for (int64_t i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= src->n)
            CT_FAIL(CT_ERR_ARG, "row %lld outside dataset of %lld rows", (long long)rows[i],
                    (long long)src->n);
    CT_CHECK(ct_dataset_alloc(dst, n, src->n_in, src->n_targets, src->mask != NULL));
    CT_CHECK_GOTO(rc, copy_names(dst, src));
    for (int64_t i = 0; i < n; i++)
        copy_row(dst, i, src, rows[i]);
    return CT_OK;
fail:
    ct_dataset_free(dst);
    return rc;
}

ct_status ct_dataset_concat(const ct_dataset *a, const ct_dataset *b, ct_dataset *out)
{
    ct_status rc = CT_OK;
    if (a->n_in != b->n_in || a->n_targets != b->n_targets)
        CT_FAIL(CT_ERR_ARG, "cannot concatenate datasets of %dx%d and %dx%d columns", a->n_in,
                a->n_targets, b->n_in, b->n_targets);
    CT_CHECK(ct_dataset_alloc(out, a->n + b->n, a->n_in, a->n_targets,
                              a->mask != NULL || b->mask != NULL));
    CT_CHECK_GOTO(rc, copy_names(out, a->target_name ? a : b));
    for (int64_t i = 0; i < a->n; i++)
        copy_row(out, i, a, i);
    for (int64_t i = 0; i < b->n; i++)
        copy_row(out, a->n + i, b, i);
    return CT_OK;
fail:
    ct_dataset_free(out);
    return rc;
}

int64_t ct_dataset_global_rows(const ct_dataset *d, MPI_Comm comm)
{
    int64_t n = d->n, tot = 0;
    MPI_Allreduce(&n, &tot, 1, MPI_INT64_T, MPI_SUM, comm);
    return tot;
}

ct_status ct_dataset_shard(const ct_dataset *full, MPI_Comm comm, ct_dataset *local)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t a = full->n * rank / size, b = full->n * (rank + 1) / size;
    int64_t *rows = NULL;
    CT_CHECK(ct_calloc(&rows, (size_t)(b - a + 1), sizeof(int64_t), "rows"));
    for (int64_t i = a; i < b; i++)
        rows[i - a] = i;
    ct_status rc = ct_dataset_take(full, rows, b - a, local);
    free(rows);
    if (rc == CT_OK && !full->id)
        for (int64_t i = 0; i < local->n; i++)
            local->id[i] = a + i;
    return rc == CT_OK ? CT_OK : ct_error_push(rc, __func__, __LINE__);
}

/* Rows are packed as doubles: x, y, mask (0/1), id (exact below 2^53). */
ct_status ct_dataset_fetch(const ct_dataset *d, MPI_Comm comm, const int64_t *want,
                           int64_t nwant, ct_dataset *out)
{
    ct_status rc = CT_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t *starts = NULL, *req = NULL, *got = NULL, *order = NULL;
    int *scnt = NULL, *sdsp = NULL, *rcnt = NULL, *rdsp = NULL;
    double *sbuf = NULL, *rbuf = NULL;
    int64_t nrecv_req = 0;
    const int R = d->n_in + d->n_targets + (d->mask ? d->n_targets : 0) + 1;
    memset(out, 0, sizeof *out);

    CT_CHECK_GOTO(rc, ct_calloc(&starts, (size_t)size + 1, sizeof(int64_t), "offsets"));
    int64_t n = d->n;
    MPI_Allgather(&n, 1, MPI_INT64_T, starts + 1, 1, MPI_INT64_T, comm);
    for (int r = 0; r < size; r++)
        starts[r + 1] += starts[r];
    int64_t total = starts[size];
    CT_CHECK_GOTO(rc, ct_calloc(&scnt, (size_t)size, sizeof(int), "counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&sdsp, (size_t)size, sizeof(int), "counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&rcnt, (size_t)size, sizeof(int), "counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&rdsp, (size_t)size, sizeof(int), "counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&req, (size_t)nwant + 1, sizeof(int64_t), "requests"));
    CT_CHECK_GOTO(rc, ct_calloc(&order, (size_t)nwant + 1, sizeof(int64_t), "requests"));
    /* owner of each wanted row; requests grouped by owner, stable */
    ct_status bad = CT_OK;
    for (int64_t i = 0; i < nwant; i++) {
        if (want[i] < 0 || want[i] >= total) {
            bad = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                               "row %lld outside the %lld rows of the dataset",
                               (long long)want[i], (long long)total);
            break;
        }
        int lo = 0, hi = size - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (starts[mid] <= want[i])
                lo = mid;
            else
                hi = mid - 1;
        }
        scnt[lo]++;
    }
    CT_CHECK_GOTO(rc, ct_agree(comm, bad));
    {
        int64_t acc = 0;
        for (int r = 0; r < size; r++) {
            if (acc > INT32_MAX / R)
                bad = ct_error_set(CT_ERR_RANGE, __func__, __LINE__,
                                   "row exchange exceeds 2^31 values; use more ranks");
            sdsp[r] = (int)acc;
            acc += scnt[r];
        }
        int *fill = rcnt; /* reuse as cursor */
        memset(fill, 0, (size_t)size * sizeof(int));
        for (int64_t i = 0; i < nwant; i++) {
            int lo = 0, hi = size - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) / 2;
                if (starts[mid] <= want[i])
                    lo = mid;
                else
                    hi = mid - 1;
            }
            int64_t pos = sdsp[lo] + fill[lo]++;
            req[pos] = want[i];
            order[pos] = i;
        }
    }
    CT_CHECK_GOTO(rc, ct_agree(comm, bad));
    MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, comm);
    for (int r = 0; r < size; r++) {
        rdsp[r] = (int)nrecv_req;
        nrecv_req += rcnt[r];
    }
    CT_CHECK_GOTO(rc, ct_calloc(&got, (size_t)nrecv_req + 1, sizeof(int64_t), "requests"));
    MPI_Alltoallv(req, scnt, sdsp, MPI_INT64_T, got, rcnt, rdsp, MPI_INT64_T, comm);
    /* pack the requested rows */
    CT_CHECK_GOTO(rc, ct_calloc(&sbuf, (size_t)(nrecv_req * R) + 1, sizeof(double), "rows"));
    for (int64_t i = 0; i < nrecv_req; i++) {
        int64_t j = got[i] - starts[rank];
        double *p = sbuf + i * R;
        memcpy(p, d->x + j * d->n_in, (size_t)d->n_in * sizeof(double));
        p += d->n_in;
        memcpy(p, d->y + j * d->n_targets, (size_t)d->n_targets * sizeof(double));
        p += d->n_targets;
        if (d->mask) {
            for (int k = 0; k < d->n_targets; k++)
                p[k] = d->mask[j * d->n_targets + k];
            p += d->n_targets;
        }
        p[0] = (double)(d->id ? d->id[j] : got[i]);
    }
    CT_CHECK_GOTO(rc, ct_calloc(&rbuf, (size_t)(nwant * R) + 1, sizeof(double), "rows"));
    /* send back: what I received as requests (rcnt) goes out; what I asked (scnt) comes in */
    for (int r = 0; r < size; r++) {
        rcnt[r] *= R;
        rdsp[r] *= R;
        scnt[r] *= R;
        sdsp[r] *= R;
    }
    MPI_Alltoallv(sbuf, rcnt, rdsp, MPI_DOUBLE, rbuf, scnt, sdsp, MPI_DOUBLE, comm);
    CT_CHECK_GOTO(rc, ct_dataset_alloc(out, nwant, d->n_in, d->n_targets, d->mask != NULL));
    CT_CHECK_GOTO(rc, copy_names(out, d));
    for (int64_t pos = 0; pos < nwant; pos++) {
        int64_t i = order[pos];
        const double *p = rbuf + pos * R;
        memcpy(out->x + i * d->n_in, p, (size_t)d->n_in * sizeof(double));
        p += d->n_in;
        memcpy(out->y + i * d->n_targets, p, (size_t)d->n_targets * sizeof(double));
        p += d->n_targets;
        if (d->mask) {
            for (int k = 0; k < d->n_targets; k++)
                out->mask[i * d->n_targets + k] = p[k] != 0;
            p += d->n_targets;
        }
        out->id[i] = (int64_t)p[0];
    }
fail:
    if (rc != CT_OK)
        ct_dataset_free(out);
    free(starts);
    free(req);
    free(got);
    free(order);
    free(scnt);
    free(sdsp);
    free(rcnt);
    free(rdsp);
    free(sbuf);
    free(rbuf);
    return rc;
}

ct_status ct_split_rows(const int64_t *rows, int64_t n, double f_train, double f_val,
                        uint64_t seed, int64_t **train, int64_t *n_train, int64_t **val,
                        int64_t *n_val, int64_t **test, int64_t *n_test)
{
    ct_status rc = CT_OK;
    int64_t *p = NULL;
    *train = *val = *test = NULL;
    if (!(f_train >= 0 && f_val >= 0 && f_train + f_val <= 1 + 1e-12))
        CT_FAIL(CT_ERR_ARG, "split fractions %g + %g exceed 1", f_train, f_val);
    CT_CHECK(ct_calloc(&p, (size_t)n + 1, sizeof(int64_t), "split"));
    for (int64_t i = 0; i < n; i++)
        p[i] = rows ? rows[i] : i;
    ct_shuffle_rows(p, n, seed, 0x5117ull);
    int64_t a = (int64_t)llround(f_train * (double)n);
    int64_t b = (int64_t)llround(f_val * (double)n);
    if (a + b > n)
        b = n - a;
    *n_train = a;
    *n_val = b;
    *n_test = n - a - b;
    CT_CHECK_GOTO(rc, ct_calloc(train, (size_t)a + 1, sizeof(int64_t), "split"));
    CT_CHECK_GOTO(rc, ct_calloc(val, (size_t)b + 1, sizeof(int64_t), "split"));
    CT_CHECK_GOTO(rc, ct_calloc(test, (size_t)(n - a - b) + 1, sizeof(int64_t), "split"));
    memcpy(*train, p, (size_t)a * sizeof(int64_t));
    memcpy(*val, p + a, (size_t)b * sizeof(int64_t));
    memcpy(*test, p + a + b, (size_t)(n - a - b) * sizeof(int64_t));
    free(p);
    return CT_OK;
fail:
    free(p);
    ct_free(train);
    ct_free(val);
    ct_free(test);
    return rc;
}

ct_status ct_mlp_fit_input_norm(ct_mlp *m, const ct_dataset *d, int log10_inputs, MPI_Comm comm)
{
    ct_status rc = CT_OK, bad = CT_OK;
    int nin = m->n_in;
    double *s = NULL, *mean = NULL, *sd = NULL;
    if (d->n_in != nin)
        CT_FAIL(CT_ERR_ARG, "dataset has %d inputs, model %d", d->n_in, nin);
    CT_CHECK_GOTO(rc, ct_calloc(&s, 2 * (size_t)nin + 1, sizeof(double), "statistics"));
    CT_CHECK_GOTO(rc, ct_calloc(&mean, (size_t)nin, sizeof(double), "statistics"));
    CT_CHECK_GOTO(rc, ct_calloc(&sd, (size_t)nin, sizeof(double), "statistics"));
    /* two passes (mean, then squared deviations): no cancellation */
    for (int64_t i = 0; i < d->n && bad == CT_OK; i++)
        for (int j = 0; j < nin; j++) {
            double v = d->x[i * nin + j];
            if (log10_inputs) {
                if (!(v > 0)) {
                    bad = ct_error_set(CT_ERR_NUMERIC, __func__, __LINE__,
                                       "row %lld bin %d is %g: log10 needs positive inputs",
                                       (long long)(d->id ? d->id[i] : i), j, v);
                    break;
                }
                v = log10(v);
            }
            s[j] += v;
        }
    s[2 * nin] = (double)d->n;
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, bad));
    MPI_Allreduce(MPI_IN_PLACE, s, nin, MPI_DOUBLE, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, s + 2 * nin, 1, MPI_DOUBLE, MPI_SUM, comm);
    double ntot = s[2 * nin];
    if (ntot < 2)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "normalisation needs at least 2 rows (have %.0f)", ntot);
    for (int j = 0; j < nin; j++)
        mean[j] = s[j] / ntot;
    for (int64_t i = 0; i < d->n; i++)
        for (int j = 0; j < nin; j++) {
            double v = d->x[i * nin + j];
            v = log10_inputs ? log10(v) : v;
            s[nin + j] += (v - mean[j]) * (v - mean[j]);
        }
    MPI_Allreduce(MPI_IN_PLACE, s + nin, nin, MPI_DOUBLE, MPI_SUM, comm);
    for (int j = 0; j < nin; j++) {
        sd[j] = sqrt(s[nin + j] / (ntot - 1));
        if (!(sd[j] > 0))
            sd[j] = 1.0; /* a constant bin carries no information; keep it finite */
    }
    CT_CHECK_GOTO(rc, ct_mlp_set_input_norm(m, log10_inputs, mean, sd));
fail:
    free(s);
    free(mean);
    free(sd);
    return rc;
}
