/* The rank-group work runner on 1, 2 and 4 ranks: every layout (group sizes 1, 2
 * and uneven; dynamic and round-robin schedules) gives the same per-item results;
 * an item failing on one rank of its group fails on the whole group, is recorded
 * and the rest complete; resume skips items whose outputs exist; a fatal error in
 * the book-keeping returns the same error on every rank without hanging. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/runner.h"
#include "testlib.h"

#define N_ITEMS 13

typedef struct {
    int fail_a, fail_b;   /* items whose run fails on the group's last rank only */
    int fatal_item;       /* is_done fails for this item (-1: never) */
    int skip_mod;         /* is_done reports items with i % skip_mod == 0 done (0: none) */
    const char *dir;      /* if set: run writes DIR/<i>, is_done looks for it */
    int64_t runs[N_ITEMS];     /* calls of run on this rank */
    int64_t finishes[N_ITEMS]; /* calls of finish on this rank */
} ctx;

static ct_status is_done(int64_t i, MPI_Comm g, void *user, int *done)
{
    ctx *c = user;
    (void)g;
    if (i == c->fatal_item)
        CT_FAIL(CT_ERR_IO, "bookkeeping of item %lld broke", (long long)i);
    *done = c->skip_mod > 0 && i % c->skip_mod == 0;
    if (c->dir) {
        char p[512];
        snprintf(p, sizeof p, "%s/%lld", c->dir, (long long)i);
        *done = access(p, F_OK) == 0;
    }
    return CT_OK;
}

static ct_status run(int64_t i, MPI_Comm g, void *user, void *result)
{
    ctx *c = user;
    int grank, gsize;
    MPI_Comm_rank(g, &grank);
    MPI_Comm_size(g, &gsize);
    c->runs[i]++;
    /* a collective result: the sum over the group of shares that add up to i*i+1
     * whatever the group size */
    int64_t share = (i * i + 1) / gsize + (grank == 0 ? (i * i + 1) % gsize : 0), tot = 0;
    MPI_Allreduce(&share, &tot, 1, MPI_INT64_T, MPI_SUM, g);
    if ((i == c->fail_a || i == c->fail_b) && grank == gsize - 1)
        CT_FAIL(CT_ERR_FORMAT, "item %lld refused", (long long)i);
    if (grank == 0)
        memcpy(result, &tot, sizeof tot);
    return CT_OK;
}

static ct_status finish(int64_t i, ct_status st, const char *msg, const void *result, MPI_Comm g,
                        void *user)
{
    ctx *c = user;
    c->finishes[i]++;
    if (st != CT_OK && !strstr(msg, "refused"))
        CT_FAIL(CT_ERR_STATE, "finish of item %lld saw message '%s'", (long long)i, msg);
    if (st == CT_OK && !result)
        CT_FAIL(CT_ERR_STATE, "finish of item %lld without a result", (long long)i);
    int grank;
    MPI_Comm_rank(g, &grank);
    if (st == CT_OK && c->dir && grank == 0) {
        /* the output of an item the whole group agreed on */
        char p[512];
        snprintf(p, sizeof p, "%s/%lld", c->dir, (long long)i);
        FILE *f = fopen(p, "w");
        if (!f)
            CT_FAIL(CT_ERR_IO, "%s: cannot write", p);
        fclose(f);
    }
    return CT_OK;
}

static void ctx_init(ctx *c)
{
    memset(c, 0, sizeof *c);
    c->fail_a = c->fail_b = c->fatal_item = -1;
}

/* runs/finishes summed over the group leaders: every item exactly once or never */
static void expect_calls(const ctx *c, const ct_runner *r, const ct_runner_report *rep)
{
    int64_t runs[N_ITEMS] = {0}, fin[N_ITEMS] = {0};
    int grank;
    MPI_Comm_rank(ct_runner_group(r), &grank);
    if (grank == 0) {
        memcpy(runs, c->runs, sizeof runs);
        memcpy(fin, c->finishes, sizeof fin);
    }
    MPI_Allreduce(MPI_IN_PLACE, runs, N_ITEMS, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, fin, N_ITEMS, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    for (int i = 0; i < N_ITEMS; i++) {
        int ran = rep->state[i] == CT_RUN_DONE || rep->state[i] == CT_RUN_FAILED;
        CT_EXPECT(runs[i] == ran);
        CT_EXPECT(fin[i] == ran);
    }
}

static void one_layout(int gs, int uneven, ct_run_schedule sched)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ct_runner_settings rs;
    ct_runner_settings_defaults(&rs);
    rs.group_size = gs;
    rs.uneven_ok = uneven;
    rs.schedule = sched;
    ct_runner *r = NULL;
    int want = gs == 0 ? size : gs, eff = want > size ? size : want, ng = size / eff;
    if (!uneven && size % want) {
        /* an uneven split is refused unless asked for, on every rank */
        CT_EXPECT(ct_runner_create(&r, &rs, MPI_COMM_WORLD) == CT_ERR_ARG);
        CT_EXPECT(r == NULL);
        return;
    }
    CT_EXPECT_OK(ct_runner_create(&r, &rs, MPI_COMM_WORLD));
    if (!r)
        return;
    CT_EXPECT(ct_runner_ngroups(r) == ng);
    int tot = 0;
    for (int g = 0; g < ng; g++)
        tot += ct_runner_group_size(r, g);
    CT_EXPECT(tot == size);

    /* two items fail on one rank of their group; the rest complete */
    ctx c;
    ctx_init(&c);
    c.fail_a = 5;
    c.fail_b = 9;
    ct_runner_job job = {.n_items = N_ITEMS, .run = run, .finish = finish,
                         .result_size = sizeof(int64_t), .user = &c};
    ct_runner_report rep;
    CT_EXPECT_OK(ct_runner_run(r, &job, &rep));
    CT_EXPECT(rep.n_items == N_ITEMS && rep.n_failed == 2 && rep.n_done == N_ITEMS - 2);
    CT_EXPECT(rep.n_skipped == 0 && rep.n_not_run == 0);
    CT_EXPECT(rep.first_failed == 5 && rep.first_status != CT_OK);
    CT_EXPECT(rep.first_error && strstr(rep.first_error, "item 5 refused"));
    for (int i = 0; i < N_ITEMS; i++) {
        int64_t v;
        memcpy(&v, (char *)rep.results + (size_t)i * sizeof v, sizeof v);
        if (i == 5 || i == 9) {
            CT_EXPECT(rep.state[i] == CT_RUN_FAILED && v == 0);
        } else {
            CT_EXPECT(rep.state[i] == CT_RUN_DONE);
            CT_EXPECT(v == (int64_t)i * i + 1); /* identical for any layout */
        }
        CT_EXPECT(rep.group[i] >= 0 && rep.group[i] < ng);
        if (sched == CT_RUN_ROUND_ROBIN)
            CT_EXPECT(rep.group[i] == i % ng);
    }
    expect_calls(&c, r, &rep);
    ct_runner_report_free(&rep);

    /* resume by a predicate: skipped items are not run */
    ctx_init(&c);
    c.skip_mod = 4;
    job.is_done = is_done;
    CT_EXPECT_OK(ct_runner_run(r, &job, &rep));
    CT_EXPECT(rep.n_skipped == 4 && rep.n_done == N_ITEMS - 4 && rep.first_failed == -1);
    CT_EXPECT(rep.first_error && rep.first_error[0] == '\0');
    for (int i = 0; i < N_ITEMS; i++)
        CT_EXPECT(rep.state[i] == (i % 4 == 0 ? CT_RUN_SKIPPED : CT_RUN_DONE));
    expect_calls(&c, r, &rep);
    ct_runner_report_free(&rep);

    /* resume by files: a first run leaves item 3 failed; the second runs only 3 */
    char dir[256] = "/tmp/ct_runner_mpi_XXXXXX";
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0)
        CT_EXPECT(mkdtemp(dir) != NULL);
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    ctx_init(&c);
    c.dir = dir;
    c.fail_a = 3;
    CT_EXPECT_OK(ct_runner_run(r, &job, &rep));
    CT_EXPECT(rep.n_failed == 1 && rep.n_done == N_ITEMS - 1 && rep.first_failed == 3);
    ct_runner_report_free(&rep);
    MPI_Barrier(MPI_COMM_WORLD);
    ctx_init(&c);
    c.dir = dir;
    CT_EXPECT_OK(ct_runner_run(r, &job, &rep));
    CT_EXPECT(rep.n_done == 1 && rep.n_skipped == N_ITEMS - 1 && rep.state[3] == CT_RUN_DONE);
    expect_calls(&c, r, &rep);
    ct_runner_report_free(&rep);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        for (int i = 0; i < N_ITEMS; i++) {
            char p[512];
            snprintf(p, sizeof p, "%s/%d", dir, i);
            unlink(p);
        }
        rmdir(dir);
    }

    /* a fatal book-keeping error: the same error on every rank, no hang */
    ctx_init(&c);
    c.fatal_item = 7;
    ct_status st = ct_runner_run(r, &job, &rep);
    CT_EXPECT(st != CT_OK);
    CT_EXPECT(strstr(ct_error_message(), "bookkeeping of item 7 broke") != NULL);
    CT_EXPECT(rep.state == NULL);

    /* no items */
    ctx_init(&c);
    job.n_items = 0;
    CT_EXPECT_OK(ct_runner_run(r, &job, &rep));
    CT_EXPECT(rep.n_items == 0 && rep.n_done == 0 && rep.first_failed == -1);
    ct_runner_report_free(&rep);
    ct_runner_destroy(&r);
    CT_EXPECT(r == NULL);
    ct_runner_destroy(&r); /* tolerates NULL */
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    for (int sched = 0; sched < 2; sched++) {
        one_layout(1, 0, (ct_run_schedule)sched);
        one_layout(2, 0, (ct_run_schedule)sched);
        one_layout(3, 1, (ct_run_schedule)sched); /* leftovers join the last group */
        one_layout(0, 0, (ct_run_schedule)sched); /* one group of all ranks */
    }
    CT_TEST_END();
}
