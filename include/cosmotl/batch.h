/* cosmotl batch: reprocessing manifests and SLURM job generation.
 *
 * A manifest records, for one stage of one suite (simulate a suite, summarize its
 * snapshots), every item (a simulation index), its input, its output and its status,
 * so that reprocessing thousands of snapshots is idempotent and fault tolerant:
 *   - an item whose output exists is complete and skipped (outputs are written
 *     atomically, so an output under its final name is whole);
 *   - an item that fails (a missing or corrupt snapshot) is recorded with its error
 *     and the caller carries on with the rest;
 *   - an item whose task was killed (kill -9) stays "running" in its record, has no
 *     output, and is redone by the next run, which first removes the stale
 *     temporaries (".<name>.tmp.*", the ct_atomic_* naming) the killed task left;
 *   - a run with everything complete does nothing and says so.
 *
 * Layout in the manifest directory DIR (normally the stage's output directory):
 *   DIR/manifest.tsv         merged view, rewritten atomically by ct_manifest_flush
 *   DIR/.manifest/<item>     one record per item, each written atomically by the
 *                            task that owns the item (no shared writes between the
 *                            tasks of a job array or the rank groups of a run)
 *
 * Usage (all calls collective over the comm given to open; rank 0 of that comm does
 * the file work and broadcasts, so every rank sees the same answers). With rank
 * groups, each group opens its own manifest on its group communicator.
 *
 *     ct_manifest *m;
 *     CT_CHECK(ct_manifest_open(&m, outdir, "summarize", group_comm));
 *     for each item i of this group:
 *         int todo;
 *         CT_CHECK(ct_manifest_need(m, id, input, output, &todo));
 *         if (!todo) continue;
 *         CT_CHECK(ct_manifest_begin(m, id));
 *         st = ct_agree_msg(group_comm, work(...));   // writes output atomically
 *         if (st == CT_OK) ct_manifest_done(m, id);
 *         else             ct_manifest_fail(m, id, ct_error_message());
 *     ct_manifest_flush(m);                 // manifest.tsv for humans and gather
 *     ct_manifest_counts c = ct_manifest_counts_sum(m, group_comm, comm); // all groups
 *     ct_manifest_close(&m);
 *     exit code: 0 if c.failed == 0, else CT_EXIT_PARTIAL.
 */
#ifndef COSMOTL_BATCH_H
#define COSMOTL_BATCH_H

#include <mpi.h>
#include <stddef.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exit code of a command that processed every item it could but recorded
 * failures for some (the job scripts treat it as success when the pipeline
 * allows failed items, so gather still runs and records them). */
#define CT_EXIT_PARTIAL 3

typedef enum {
    CT_ITEM_TODO = 0, /* known, not started */
    CT_ITEM_RUNNING,  /* started; if no task is alive, it was interrupted */
    CT_ITEM_DONE,     /* output complete */
    CT_ITEM_FAILED    /* error recorded */
} ct_item_state;

const char *ct_item_state_name(ct_item_state s);

/* One row of a manifest. Strings are NUL-terminated; tabs and newlines in them
 * are replaced by spaces so every record stays one TSV line. input and output
 * hold any path the system can open (PATH_MAX); ct_manifest_need refuses a
 * longer one. error keeps the first CT_MANIFEST_ERROR_MAX - 1 characters of the
 * message (the rest of a longer one is dropped: it is only reported). */
#define CT_MANIFEST_ITEM_MAX 64
#define CT_MANIFEST_PATH_MAX 4096
#define CT_MANIFEST_ERROR_MAX 1024
typedef struct {
    char item[CT_MANIFEST_ITEM_MAX];
    ct_item_state state;
    char input[CT_MANIFEST_PATH_MAX];
    char output[CT_MANIFEST_PATH_MAX];
    double seconds;   /* wall time of the last attempt (0 if none) */
    int attempts;     /* how many times the item was begun */
    char host[64];
    long pid;
    char started[32];  /* UTC, ISO 8601; "" if never */
    char finished[32];
    char error[CT_MANIFEST_ERROR_MAX];
} ct_manifest_entry;

/* What this manifest object saw in this run. */
typedef struct {
    long items;       /* items passed to ct_manifest_need */
    long complete;    /* already complete before this run (skipped) */
    long done;        /* completed by this run */
    long failed;      /* failed in this run */
    long interrupted; /* found "running" with no output: redone */
} ct_manifest_counts;

typedef struct ct_manifest ct_manifest;

/* Open (creating DIR and DIR/.manifest if needed) the manifest of one stage in
 * DIR. stage is a short word ("simulate", "summarize") recorded in manifest.tsv.
 * Collective over comm. */
ct_status ct_manifest_open(ct_manifest **m, const char *dir, const char *stage, MPI_Comm comm);
void ct_manifest_close(ct_manifest **m);

/* Register item (letters, digits, '.', '_', '-'; at most 63 characters) with its
 * input and output paths, and decide whether it must be (re)done: *todo = 0 when
 * output exists (the item is recorded done if it was not), else 1. An item found
 * "running" without output is counted as interrupted. Collective. */
ct_status ct_manifest_need(ct_manifest *m, const char *item, const char *input,
                           const char *output, int *todo);
/* Mark item running (host, pid, start time) and remove stale temporaries of its
 * output left by a killed task. Collective. */
ct_status ct_manifest_begin(ct_manifest *m, const char *item);
/* Record the outcome of the item begun last. Collective. ct_manifest_fail keeps
 * the first line of error (the caller passes ct_error_message(), which stays
 * intact unless recording itself fails). */
ct_status ct_manifest_done(ct_manifest *m, const char *item);
ct_status ct_manifest_fail(ct_manifest *m, const char *item, const char *error);

/* Rewrite DIR/manifest.tsv from every record in DIR/.manifest (including those of
 * other tasks), atomically and under a file lock. Collective. */
ct_status ct_manifest_flush(ct_manifest *m);

ct_manifest_counts ct_manifest_get_counts(const ct_manifest *m);
/* The counts of every group's manifest, each group counted once: m is this rank's
 * group manifest (opened on group), comm holds all the groups. Collective over comm. */
ct_manifest_counts ct_manifest_counts_sum(const ct_manifest *m, MPI_Comm group, MPI_Comm comm);
/* A one-line summary of counts for the log, e.g. "summarize: nothing to do: all
 * 8 outputs are complete" or "summarize: 6 done, 2 failed (see DIR/manifest.tsv)". */
void ct_manifest_describe(const char *stage, const char *dir, const ct_manifest_counts *c,
                          char *buf, size_t cap);

/* Read every record of the manifest in DIR (not collective; any process). The
 * entries are sorted by item (numerically when items are integers); free with
 * ct_free(&entries). A directory with no manifest gives *n = 0. */
ct_status ct_manifest_read(const char *dir, ct_manifest_entry **entries, size_t *n);
/* The entry of one item, or NULL. */
const ct_manifest_entry *ct_manifest_find(const ct_manifest_entry *entries, size_t n,
                                          const char *item);

/* ------------------------------------------------------------ SLURM jobs */

/* A pipeline: per suite, simulate (job array over simulation ranges, or take an
 * existing Quijote-layout suite) -> summarize (job array over snapshots) ->
 * gather (one table per suite); then one study over all tables. Each stage is an
 * sbatch script built from a template in jobs/, chained with afterok. */
typedef enum {
    CT_STAGE_SIMULATE = 0,
    CT_STAGE_SUMMARIZE,
    CT_STAGE_GATHER,
    CT_STAGE_STUDY,
    CT_STAGE_COUNT
} ct_stage;

const char *ct_stage_name(ct_stage s);

typedef enum { CT_LAUNCH_SRUN = 0, CT_LAUNCH_MPIRUN } ct_launcher;

#define CT_JOBS_WORD_MAX 64

/* Resources of one stage's jobs (per array task). Empty strings are left out of
 * the script (the cluster's defaults apply). */
typedef struct {
    char partition[CT_JOBS_WORD_MAX];
    char account[CT_JOBS_WORD_MAX];
    char qos[CT_JOBS_WORD_MAX];
    char time[CT_JOBS_WORD_MAX];  /* [D-]HH:MM:SS, MM, ... as sbatch takes it */
    char mem[CT_JOBS_WORD_MAX];   /* e.g. 4G; per node */
    long nodes;                   /* default 1 */
    long ntasks;                  /* MPI ranks; default 1 */
    long cpus_per_task;           /* threads per rank; default 1 */
    long max_parallel;            /* array throttle (%N); 0 = no limit */
    ct_launcher launcher;         /* default srun */
    char srun_mpi[CT_JOBS_WORD_MAX]; /* srun --mpi=VALUE; "" = cluster default */
} ct_job_resources;

void ct_job_resources_defaults(ct_job_resources *r);

typedef struct {
    char name[CT_JOBS_WORD_MAX];       /* letters, digits, . _ - */
    char *sim_config;                  /* suite config to simulate; NULL or "" = dir exists */
    char *dir;                         /* the suite directory (Quijote layout) */
    char snapshot[CT_JOBS_WORD_MAX];   /* folder or file inside <dir>/<i>/ */
    long first, last;                  /* simulations [first, last) */
    long sims_per_task;                /* simulate array granularity */
    long snaps_per_task;               /* summarize array granularity */
} ct_pipeline_suite;

#define CT_PIPELINE_MAX_SUITES 32

typedef struct {
    char name[CT_JOBS_WORD_MAX];
    /* paths: any length, malloc'd, owned by the struct (ct_pipeline_free); NULL
     * reads as "" */
    char *origin;                      /* where the settings came from, for messages */
    char *out;                         /* absolute output root */
    char *cosmotl;                     /* the program the jobs run (NULL: cosmotl) */
    char *setup;                       /* file sourced at job start ("" = none) */
    char *templates;                   /* folder with common.sh, <stage>.sh */
    int allow_failed;                  /* failed items (exit 3) do not stop the chain */
    ct_job_resources res[CT_STAGE_COUNT];
    int nsuites;
    ct_pipeline_suite suite[CT_PIPELINE_MAX_SUITES];
    /* simulate */
    long sim_group_size;               /* ranks per simulation; 0 = all of the task */
    /* summarize */
    char stats[CT_JOBS_WORD_MAX];      /* e.g. pk,mk,bk */
    long grid;
    char mas[CT_JOBS_WORD_MAX];
    int interlace;
    char rsd[CT_JOBS_WORD_MAX];        /* "" or x, y, z */
    long ranks_per_snapshot;           /* 0 = all of the task */
    /* study */
    char *study_config;                /* "" = no study stage */
} ct_pipeline;

void ct_pipeline_defaults(ct_pipeline *p);
/* Frees the paths of p and of its suites (not p itself); NULL is fine. */
void ct_pipeline_free(ct_pipeline *p);
/* Every value is checked: names and #SBATCH values may hold only characters that
 * need no quoting (so no value can add a directive or a command); paths may hold
 * anything except newlines, and reach the scripts single-quoted. */
ct_status ct_pipeline_check(const ct_pipeline *p);

/* One written script. */
typedef struct {
    ct_stage stage;
    int suite;                 /* index into suite[], -1 for the study */
    long array_tasks;          /* 0 = not an array */
    int depends[CT_PIPELINE_MAX_SUITES]; /* indices of jobs this one waits for */
    int ndepends;
    char *path;                /* malloc'd; freed by ct_job_plan_free */
} ct_job_script;

typedef struct {
    int n;
    ct_job_script job[3 * CT_PIPELINE_MAX_SUITES + 1];
} ct_job_plan;

/* Write OUT/jobs/<stage>[-<suite>].sbatch for every stage, OUT/jobs/submit.sh (the
 * same chain for submitting by hand) and create OUT/logs. Not collective: call on
 * one process. */
ct_status ct_jobs_write(const ct_pipeline *p, ct_job_plan *plan);
/* Frees the script paths of plan (not plan itself); NULL is fine. */
void ct_job_plan_free(ct_job_plan *plan);
/* Submit the plan in order with `SBATCH --parsable [--dependency=afterok:...]`,
 * parsing each job id; ids[i] receives job i's id. Writes OUT/jobs/submitted.tsv.
 * sbatch is the program to run ("sbatch" is looked up in PATH). */
ct_status ct_jobs_submit(const ct_pipeline *p, const ct_job_plan *plan, const char *sbatch,
                         long *ids);

/* Single-quote s for a POSIX shell ('it'\''s'); returns CT_ERR_ARG if it does
 * not fit or holds a newline or NUL-unsafe byte. */
ct_status ct_shell_quote(const char *s, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
