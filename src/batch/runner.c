/* Running independent items on groups of ranks (see cosmotl/runner.h). */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/runner.h"

struct ct_runner {
    MPI_Comm comm;  /* not owned */
    MPI_Comm group; /* owned */
    int size, rank;
    int group_size; /* nominal: every group but the last has exactly this many */
    int ngroups, color;
    ct_run_schedule schedule;
};

void ct_runner_settings_defaults(ct_runner_settings *s)
{
    memset(s, 0, sizeof *s);
    s->group_size = 1;
    s->schedule = CT_RUN_DYNAMIC;
}

ct_status ct_runner_create(ct_runner **out, const ct_runner_settings *s, MPI_Comm comm)
{
    *out = NULL;
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    int gs = s->group_size == 0 ? size : s->group_size;
    if (gs < 1)
        CT_FAIL(CT_ERR_ARG, "group size %d: must be at least 1", s->group_size);
    if (s->schedule != CT_RUN_DYNAMIC && s->schedule != CT_RUN_ROUND_ROBIN)
        CT_FAIL(CT_ERR_ARG, "unknown schedule %d", (int)s->schedule);
    if (s->uneven_ok) {
        if (gs > size)
            gs = size;
    } else if (size % gs) {
        CT_FAIL(CT_ERR_ARG, "group size %d does not divide the %d ranks", gs, size);
    }
    ct_runner *r = NULL;
    CT_CHECK(ct_calloc(&r, 1, sizeof *r, "runner"));
    r->comm = comm;
    r->size = size;
    r->rank = rank;
    r->group_size = gs;
    r->ngroups = size / gs;
    r->color = rank / gs < r->ngroups ? rank / gs : r->ngroups - 1; /* leftovers: last */
    r->schedule = s->schedule;
    if (MPI_Comm_split(comm, r->color, rank, &r->group) != MPI_SUCCESS) {
        free(r);
        CT_FAIL(CT_ERR_MPI, "cannot split %d ranks into %d group(s)", size, size / gs);
    }
    *out = r;
    return CT_OK;
}

void ct_runner_destroy(ct_runner **r)
{
    if (!r || !*r)
        return;
    if ((*r)->group != MPI_COMM_NULL)
        MPI_Comm_free(&(*r)->group);
    free(*r);
    *r = NULL;
}

MPI_Comm ct_runner_comm(const ct_runner *r) { return r->comm; }
MPI_Comm ct_runner_group(const ct_runner *r) { return r->group; }
int ct_runner_ngroups(const ct_runner *r) { return r->ngroups; }
int ct_runner_group_index(const ct_runner *r) { return r->color; }

int ct_runner_group_size(const ct_runner *r, int g)
{
    if (g < 0 || g >= r->ngroups)
        return 0;
    return g < r->ngroups - 1 ? r->group_size : r->size - r->group_size * (r->ngroups - 1);
}

int ct_runner_group_leader(const ct_runner *r, int g)
{
    return g * r->group_size;
}

const char *ct_run_state_name(ct_run_state s)
{
    switch (s) {
    case CT_RUN_NOT_RUN: return "not run";
    case CT_RUN_DONE: return "done";
    case CT_RUN_SKIPPED: return "skipped";
    case CT_RUN_FAILED: return "failed";
    }
    return "?";
}

void ct_runner_report_free(ct_runner_report *rep)
{
    if (!rep)
        return;
    free(rep->state);
    free(rep->group);
    free(rep->results);
    free(rep->first_error);
    memset(rep, 0, sizeof *rep);
}

/* The item queue: an RMA counter on rank 0 of comm (dynamic) or a stride. */
typedef struct {
    MPI_Win win;
    int64_t *counter;
    int64_t taken; /* round robin: items this group has taken */
} queue;

static ct_status queue_open(queue *q, const ct_runner *r)
{
    memset(q, 0, sizeof *q);
    q->win = MPI_WIN_NULL;
    if (r->schedule != CT_RUN_DYNAMIC)
        return CT_OK;
    if (MPI_Win_allocate(r->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0, sizeof(int64_t),
                         MPI_INFO_NULL, r->comm, &q->counter, &q->win) != MPI_SUCCESS)
        CT_FAIL(CT_ERR_MPI, "cannot create the work queue's counter window");
    if (r->rank == 0) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, q->win);
        *q->counter = 0;
        MPI_Win_unlock(0, q->win);
    }
    MPI_Barrier(r->comm);
    return CT_OK;
}

/* The next item for this rank's group (the same on every rank of the group). */
static int64_t queue_next(queue *q, const ct_runner *r)
{
    int64_t idx;
    if (r->schedule == CT_RUN_ROUND_ROBIN) {
        idx = r->color + q->taken * r->ngroups;
    } else {
        idx = 0;
        int grank;
        MPI_Comm_rank(r->group, &grank);
        if (grank == 0) {
            int64_t one = 1;
            MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win);
            MPI_Fetch_and_op(&one, &idx, MPI_INT64_T, 0, 0, MPI_SUM, q->win);
            MPI_Win_unlock(0, q->win);
        }
        MPI_Bcast(&idx, 1, MPI_INT64_T, 0, r->group);
    }
    q->taken++;
    return idx;
}

static void queue_close(queue *q)
{
    if (q->win != MPI_WIN_NULL)
        MPI_Win_free(&q->win); /* sets it to MPI_WIN_NULL */
}

/* A callback's status agreed by all ranks of the group; the message stays the
 * callback's own (it goes into manifests and logs as the callers wrote it). */
static ct_status group_agree(MPI_Comm g, ct_status s)
{
    return ct_agree_msg(g, s);
}

/* Sum per-item arrays of the group leaders into every rank (each item has at most
 * one leader that touched it, so a sum combines them exactly). */
static ct_status allreduce_chunked(void *buf, size_t count, MPI_Datatype type, MPI_Op op,
                                   size_t elem, MPI_Comm comm)
{
    const size_t chunk = (size_t)1 << 28;
    for (size_t off = 0; off < count; off += chunk) {
        size_t m = count - off < chunk ? count - off : chunk;
        if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, (int)m, type, op, comm) !=
            MPI_SUCCESS)
            CT_FAIL(CT_ERR_MPI, "collecting the items' outcomes failed");
    }
    return CT_OK;
}

ct_status ct_runner_run(ct_runner *r, const ct_runner_job *job, ct_runner_report *rep)
{
    ct_status rc = CT_OK, fatal = CT_OK;
    memset(rep, 0, sizeof *rep);
    if (!job->run)
        CT_FAIL(CT_ERR_ARG, "runner job without a run function");
    if (job->n_items < 0)
        CT_FAIL(CT_ERR_ARG, "negative item count %lld", (long long)job->n_items);
    int64_t n = job->n_items;
    size_t rs = job->result_size;
    int *state = NULL, *grp = NULL;
    unsigned char *results = NULL, *res = NULL;
    char *first_msg = NULL;
    int64_t first_item = INT64_MAX;
    ct_status first_st = CT_OK;
    queue q;
    memset(&q, 0, sizeof q);
    q.win = MPI_WIN_NULL;
    int grank;
    MPI_Comm_rank(r->group, &grank);
    size_t nal = (size_t)(n > 0 ? n : 1);
    ct_status lrc = ct_calloc(&state, nal, sizeof(int), "runner states");
    if (lrc == CT_OK)
        lrc = ct_calloc(&grp, nal, sizeof(int), "runner groups");
    if (lrc == CT_OK && rs > 0)
        lrc = ct_calloc(&results, nal, rs, "runner results");
    if (lrc == CT_OK)
        lrc = ct_calloc(&res, rs > 0 ? rs : 1, 1, "runner result");
    ct_status qrc = queue_open(&q, r); /* collective: every rank calls it */
    if (lrc == CT_OK)
        lrc = qrc;
    CT_CHECK_GOTO(rc, ct_agree_msg(r->comm, lrc));

    for (;;) {
        int64_t i = queue_next(&q, r);
        if (i >= n)
            break;
        grp[i] = r->color + 1;
        if (job->is_done) {
            int done = 0;
            fatal = group_agree(r->group, job->is_done(i, r->group, job->user, &done));
            if (fatal != CT_OK)
                break;
            MPI_Bcast(&done, 1, MPI_INT, 0, r->group);
            if (done) {
                state[i] = CT_RUN_SKIPPED;
                continue;
            }
        }
        if (job->start) {
            fatal = group_agree(r->group, job->start(i, r->group, job->user));
            if (fatal != CT_OK)
                break;
        }
        memset(res, 0, rs > 0 ? rs : 1);
        ct_status st = job->run(i, r->group, job->user, rs > 0 ? res : NULL);
        st = group_agree(r->group, st);
        const char *msg = st == CT_OK ? "" : ct_error_message();
        if (st != CT_OK && first_item == INT64_MAX) {
            /* items reach a group in increasing order: its first failure is its lowest */
            first_item = i;
            first_st = st;
            first_msg = strdup(msg);
            if (!first_msg) {
                fatal = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__, "runner: out of memory");
                break;
            }
            msg = first_msg;
        }
        state[i] = st == CT_OK ? CT_RUN_DONE : CT_RUN_FAILED;
        if (st == CT_OK && rs > 0)
            memcpy(results + (size_t)i * rs, res, rs);
        if (job->finish) {
            fatal = group_agree(r->group, job->finish(i, st, msg, rs > 0 ? res : NULL, r->group,
                                                      job->user));
            if (fatal != CT_OK)
                break;
        }
    }
    queue_close(&q);
    CT_CHECK_GOTO(rc, ct_agree_msg(r->comm, fatal));

    /* collect: only group leaders contribute */
    if (grank != 0) {
        memset(state, 0, nal * sizeof(int));
        memset(grp, 0, nal * sizeof(int));
        if (rs > 0)
            memset(results, 0, nal * rs);
        first_item = INT64_MAX;
    }
    if (n > 0) {
        CT_CHECK_GOTO(rc, allreduce_chunked(state, (size_t)n, MPI_INT, MPI_SUM, sizeof(int),
                                            r->comm));
        CT_CHECK_GOTO(rc, allreduce_chunked(grp, (size_t)n, MPI_INT, MPI_SUM, sizeof(int),
                                            r->comm));
        if (rs > 0)
            CT_CHECK_GOTO(rc, allreduce_chunked(results, (size_t)n * rs, MPI_BYTE, MPI_BOR, 1,
                                                r->comm));
    }
    MPI_Allreduce(MPI_IN_PLACE, &first_item, 1, MPI_INT64_T, MPI_MIN, r->comm);
    rep->first_failed = -1;
    rep->first_status = CT_OK;
    if (first_item != INT64_MAX) {
        int root = ct_runner_group_leader(r, grp[first_item] - 1);
        int len = 0, st = (int)first_st;
        if (r->rank == root)
            len = (int)strlen(first_msg);
        MPI_Bcast(&len, 1, MPI_INT, root, r->comm);
        MPI_Bcast(&st, 1, MPI_INT, root, r->comm);
        if (r->rank != root) {
            free(first_msg);
            first_msg = calloc((size_t)len + 1, 1);
            if (!first_msg)
                lrc = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__, "runner: out of memory");
        }
        CT_CHECK_GOTO(rc, ct_agree(r->comm, lrc));
        MPI_Bcast(first_msg, len + 1, MPI_CHAR, root, r->comm);
        rep->first_failed = first_item;
        rep->first_status = (ct_status)st;
    } else {
        free(first_msg);
        first_msg = strdup("");
        CT_CHECK_GOTO(rc, ct_agree(r->comm, first_msg ? CT_OK
                                                      : ct_error_set(CT_ERR_MEMORY, __func__,
                                                                     __LINE__, "out of memory")));
    }
    rep->n_items = n;
    rep->state = (ct_run_state *)state; /* an enum is int-sized here; checked below */
    rep->group = grp;
    rep->results = results;
    rep->result_size = rs;
    rep->first_error = first_msg;
    for (int64_t i = 0; i < n; i++) {
        grp[i] -= 1;
        switch (state[i]) {
        case CT_RUN_DONE: rep->n_done++; break;
        case CT_RUN_SKIPPED: rep->n_skipped++; break;
        case CT_RUN_FAILED: rep->n_failed++; break;
        default: rep->n_not_run++; break;
        }
    }
    state = NULL;
    grp = NULL;
    results = NULL;
    first_msg = NULL;
fail:
    queue_close(&q);
    free(state);
    free(grp);
    free(results);
    free(res);
    free(first_msg);
    return rc;
}

_Static_assert(sizeof(ct_run_state) == sizeof(int), "ct_run_state must be int-sized");
