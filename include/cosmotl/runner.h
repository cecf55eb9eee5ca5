/* cosmotl runner: run N independent items on groups of ranks.
 *
 * One way to split the ranks of a communicator into groups, hand items to the
 * groups, agree on each item's failure inside its group, skip items that are
 * already complete (resume) and collect a fixed-size result per item on every
 * rank. The suite of simulations (ct_suite_run), summarize, gather, the study
 * and the hyper-parameter search run their items through it.
 *
 *     ct_runner_settings rs;
 *     ct_runner_settings_defaults(&rs);
 *     rs.group_size = 2;
 *     ct_runner *r;
 *     CT_CHECK(ct_runner_create(&r, &rs, comm));       // collective over comm
 *     MPI_Comm g = ct_runner_group(r);                 // e.g. to open per-group state
 *     ct_runner_job job = {.n_items = n, .run = my_run, .user = &ctx,
 *                          .result_size = sizeof(double)};
 *     ct_runner_report rep;
 *     CT_CHECK(ct_runner_run(r, &job, &rep));          // collective over comm
 *     // rep.state[i], rep.group[i], rep.results are the same on every rank
 *     ct_runner_report_free(&rep);
 *     ct_runner_destroy(&r);
 *
 * Callbacks are called on every rank of the item's group, with the group's
 * communicator, so they may be collective over it (and nothing else):
 *   is_done  resume: *done = 1 when the item's outputs exist and are complete;
 *            the item is then recorded CT_RUN_SKIPPED and not run;
 *   start    book-keeping before the work (e.g. mark the item running);
 *   run      the work; its status is agreed over the group (ct_agree_msg), so one
 *            failing rank fails the item on the whole group, and the item is
 *            recorded CT_RUN_FAILED with the message; the group carries on with
 *            other items. On success, the result written by group rank 0 into
 *            `result` (result_size bytes, zeroed before the call) is collected;
 *   finish   book-keeping after the work, told the agreed status and message.
 * A failure of is_done, start or finish is fatal: that group stops taking items,
 * the other groups finish theirs, and ct_runner_run returns the error on every
 * rank (the lowest failing rank's message). Nothing waits on a group that stopped,
 * so a failure can never hang the job.
 *
 * Schedules: CT_RUN_DYNAMIC hands the next item to the first group that asks
 * (an MPI RMA counter on rank 0 of comm: fast groups take more items);
 * CT_RUN_ROUND_ROBIN gives item i to group i % ngroups (use it when which group
 * runs an item must be known in advance or be reproducible, e.g. groups of
 * unequal size). Results never depend on the schedule as long as an item's work
 * does not depend on the group that runs it.
 *
 * The library never uses MPI_COMM_WORLD: the caller passes comm. Python (mpi4py)
 * and other C callers use the same calls; the callbacks' user pointer carries
 * their state. */
#ifndef COSMOTL_RUNNER_H
#define COSMOTL_RUNNER_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CT_RUN_DYNAMIC = 0,    /* next item to the first group that asks */
    CT_RUN_ROUND_ROBIN = 1 /* item i to group i % ngroups */
} ct_run_schedule;

typedef struct {
    int group_size;           /* ranks per group (>= 1); 0: all ranks in one group */
    int uneven_ok;            /* ranks left over (size % group_size) join the last
                                 group instead of being an error; a group_size above
                                 the number of ranks then means one group */
    ct_run_schedule schedule; /* default CT_RUN_DYNAMIC */
} ct_runner_settings;

void ct_runner_settings_defaults(ct_runner_settings *s);

typedef struct ct_runner ct_runner;

/* Split comm into groups of consecutive ranks (group g = ranks g*group_size ...).
 * Collective over comm. */
ct_status ct_runner_create(ct_runner **r, const ct_runner_settings *s, MPI_Comm comm);
/* Frees the group communicator; tolerates NULL and sets *r to NULL. Collective. */
void ct_runner_destroy(ct_runner **r);

MPI_Comm ct_runner_comm(const ct_runner *r);  /* the communicator given to create */
MPI_Comm ct_runner_group(const ct_runner *r); /* this rank's group */
int ct_runner_ngroups(const ct_runner *r);
int ct_runner_group_index(const ct_runner *r); /* this rank's group, 0..ngroups-1 */
int ct_runner_group_size(const ct_runner *r, int g);
int ct_runner_group_leader(const ct_runner *r, int g); /* rank in comm of group g's rank 0 */

typedef enum {
    CT_RUN_NOT_RUN = 0, /* not reached (a fatal error stopped the run) */
    CT_RUN_DONE,        /* run and succeeded */
    CT_RUN_SKIPPED,     /* complete before this run (is_done) */
    CT_RUN_FAILED       /* run and failed; the rest went on */
} ct_run_state;

typedef struct {
    int64_t n_items; /* items 0 .. n_items-1 */
    ct_status (*is_done)(int64_t item, MPI_Comm group, void *user, int *done); /* optional */
    ct_status (*start)(int64_t item, MPI_Comm group, void *user);              /* optional */
    ct_status (*run)(int64_t item, MPI_Comm group, void *user, void *result);  /* required */
    ct_status (*finish)(int64_t item, ct_status item_status, const char *message,
                        const void *result, MPI_Comm group, void *user);      /* optional */
    size_t result_size; /* bytes of result per item (0: none) */
    void *user;
} ct_runner_job;

/* What happened to every item; the same on every rank of comm. */
typedef struct {
    int64_t n_items;
    ct_run_state *state; /* per item */
    int *group;          /* per item: the group that ran or skipped it, -1 if none */
    void *results;       /* n_items * result_size bytes; zero for items not done */
    size_t result_size;
    int64_t n_done, n_skipped, n_failed, n_not_run;
    int64_t first_failed;   /* lowest failed item, -1 if none */
    ct_status first_status; /* its status */
    char *first_error;      /* its message ("" if none) */
} ct_runner_report;

/* Run every item of job. Collective over the runner's comm. Returns CT_OK when
 * no fatal error occurred, even if items failed (see rep->n_failed). rep is
 * filled on success and must be freed with ct_runner_report_free. */
ct_status ct_runner_run(ct_runner *r, const ct_runner_job *job, ct_runner_report *rep);
void ct_runner_report_free(ct_runner_report *rep);

const char *ct_run_state_name(ct_run_state s);

#ifdef __cplusplus
}
#endif

#endif
