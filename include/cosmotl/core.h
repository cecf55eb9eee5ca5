/* cosmotl core: status codes with chained error context, rank-aware logging,
 * configuration (inih), timers, progress, atomic file output, counter-based RNG.
 *
 * Library functions return a ct_status. On failure they record a message with
 * CT_FAIL / CT_CHECK; the chain reads like a stack trace ("snapshot_read:120: ...
 * <- pk_measure:88") and the CLI prints it once. The error record is thread-local,
 * like errno, so the library keeps no shared mutable state across threads. */
#ifndef COSMOTL_CORE_H
#define COSMOTL_CORE_H

#include <mpi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum {
    CT_OK = 0,
    CT_ERR_ARG,         /* invalid argument from the caller */
    CT_ERR_IO,          /* file missing, unreadable, unwritable, disk full */
    CT_ERR_FORMAT,      /* file exists but its content is wrong or inconsistent */
    CT_ERR_CONFIG,      /* unknown key, bad value in a configuration */
    CT_ERR_RANGE,       /* a value outside its allowed range */
    CT_ERR_MEMORY,      /* allocation failed */
    CT_ERR_MPI,         /* an MPI call failed */
    CT_ERR_NUMERIC,     /* non-finite values, failed convergence */
    CT_ERR_STATE,       /* object used in the wrong state */
    CT_ERR_UNSUPPORTED, /* feature not available in this build or input */
    CT_ERR_REMOTE,      /* another rank of the communicator failed */
    CT_ERR_COUNT
} ct_status;

const char *ct_status_name(ct_status s);

/* Set a new error (clears any previous chain) and return s. */
ct_status ct_error_set(ct_status s, const char *func, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Append a "<- func:line" frame to the current chain and return s. */
ct_status ct_error_push(ct_status s, const char *func, int line);
/* Set the current error to s with the message chain msg verbatim (a chain
 * taken from another thread with ct_error_message: errors are per thread). */
ct_status ct_error_restore(ct_status s, const char *msg);
/* The current message chain ("" when none). */
const char *ct_error_message(void);
ct_status ct_error_status(void);
void ct_error_clear(void);

/* Return from the current function with a new error. */
#define CT_FAIL(st, ...) return ct_error_set((st), __func__, __LINE__, __VA_ARGS__)
/* Record a new error into variable `rc` and jump to label `fail`. */
#define CT_FAIL_GOTO(rc, st, ...)                                      \
    do {                                                               \
        (rc) = ct_error_set((st), __func__, __LINE__, __VA_ARGS__);    \
        goto fail;                                                     \
    } while (0)
/* Evaluate expr; on failure push context and return. */
#define CT_CHECK(expr)                                                 \
    do {                                                               \
        ct_status ct_check_s_ = (expr);                                \
        if (ct_check_s_ != CT_OK)                                      \
            return ct_error_push(ct_check_s_, __func__, __LINE__);     \
    } while (0)
/* Evaluate expr into rc; on failure push context and goto fail. */
#define CT_CHECK_GOTO(rc, expr)                                        \
    do {                                                               \
        (rc) = (expr);                                                 \
        if ((rc) != CT_OK) {                                           \
            ct_error_push((rc), __func__, __LINE__);                   \
            goto fail;                                                 \
        }                                                              \
    } while (0)

/* Collective agreement on failure: every rank of comm passes its local status;
 * all get CT_OK only if all succeeded. A rank that succeeded while another failed
 * gets CT_ERR_REMOTE with a message naming the first failing rank. The failing
 * rank keeps its own message. Always call this before a branch that ranks might
 * take differently. */
ct_status ct_agree(MPI_Comm comm, ct_status local);
/* Like ct_agree, and on failure makes the lowest failing rank's message known to
 * every rank (so rank 0 can print the real cause). */
ct_status ct_agree_msg(MPI_Comm comm, ct_status local);

/* Checked allocation helpers: zeroed memory; on failure set CT_ERR_MEMORY. */
ct_status ct_calloc(void *out_ptr, size_t count, size_t size, const char *what);
/* The same, and the block advised onto huge pages (ct_advise_huge_pages): for
 * large arrays filled from memory (mesh buffers, exchanged particles). Not for
 * arrays that a read from disk fills: there the advice made cold reads of a
 * snapshot 2.8x slower (docs/decisions.md). */
ct_status ct_calloc_huge(void *out_ptr, size_t count, size_t size, const char *what);
/* Advise the 2 MiB-aligned interior of [p, p + bytes) onto transparent huge
 * pages (for systems that leave them to madvise): one page fault per 2 MiB on
 * first touch instead of 512, and fewer TLB misses. Advice only, ignored where
 * unavailable, and given only when ct_huge_pages_on(). Call before the memory
 * is first touched. */
void ct_advise_huge_pages(void *p, size_t bytes);
/* Fault in the pages of [p, p + bytes) writable without writing them
 * (MADV_POPULATE_WRITE, Linux 5.14): their contents do not change, and a fresh
 * page costs the kernel's allocation and zeroing without a fault per page. On
 * this virtual machine, whose free memory goes back to the host, a fresh GiB
 * takes 0.25 s this way against 0.42 s when first touched by a write
 * (docs/benchmarks.md, "First snapshot within 10%"). Returns 0, or -1 where
 * unavailable (the pages then come at their first touch, as without it). */
int ct_populate(void *p, size_t bytes);
/* Whether ct_advise_huge_pages advises: CT_HUGE_PAGES=1 / 0 in the
 * environment forces it on / off; otherwise the process default, off unless
 * ct_set_huge_pages(1). Off by default because a huge page first touched after
 * the memory was idle can cost far more than 512 small ones (1.9-2.9 s against
 * 0.36-0.47 s per GiB on a virtual machine that returns free memory to its
 * host), while steady-state work gains ~5%: worth it for long batches only
 * (`summarize` turns it on from 16 snapshots per rank group; docs/decisions.md). */
int ct_huge_pages_on(void);
void ct_set_huge_pages(int on);
void ct_free(void *ptr_to_ptr); /* frees *ptr and sets it to NULL */
/* Keep freed memory in the process (glibc: no munmap of large blocks, no trim
 * of the heap top, and one malloc arena, so that blocks allocated by helper
 * threads come from the same kept heap) so that buffers freed and allocated again -- the particle
 * exchange of every PM step, slab-sized FFT buffers, per-snapshot arrays --
 * reuse pages already faulted in. On a VM with free page reporting each freed
 * page otherwise goes back to the host and costs a fault and ~2.4 s of system
 * CPU per GiB when touched again (docs/decisions.md). The process keeps its
 * high-water mark instead. Call once at program start, before large
 * allocations (the CLI and the Python module do); CT_KEEP_FREED_MEMORY=0 in the
 * environment leaves glibc's defaults. No effect without glibc. */
void ct_keep_freed_memory(void);
/* MPI start-up defaults for one-node runs, called before MPI_Init: when every
 * rank is on one node (Open MPI's launcher says so, or SLURM's step has one
 * node, or there is no launcher), Open MPI's point-to-point layer is set to ob1
 * (shared memory), so MPI_Init does not probe network transports (libfabric,
 * UCX): 0.10-0.15 s instead of 0.30-0.35 s on a two-core node
 * (docs/decisions.md). Never overrides OMPI_MCA_pml from the environment;
 * CT_MPI_DEFAULTS=0 turns it off; ignored by other MPI libraries. */
void ct_mpi_start_defaults(void);

/* ---------------------------------------------------------------- logging */

typedef enum { CT_LOG_ERROR = 0, CT_LOG_WARN, CT_LOG_INFO, CT_LOG_DEBUG } ct_log_level;

/* A capture hook receives every line that would be printed (tests use it). */
typedef void (*ct_log_hook)(ct_log_level level, int rank, const char *line, void *user);

/* Process-wide logger settings: the rank used for tagging, the threshold, the
 * stream (stderr by default) and an optional hook. Set once by the driver. */
void ct_log_setup(MPI_Comm comm, ct_log_level threshold);
void ct_log_set_level(ct_log_level threshold);
ct_log_level ct_log_get_level(void);
void ct_log_set_hook(ct_log_hook hook, void *user);
int ct_log_rank(void);

/* Collective messages: printed by rank 0 only ("[  1.23s] message"). */
void ct_log(ct_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Per-rank messages: printed by every rank, tagged "[rank r]". */
void ct_log_rank_msg(ct_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Warn (once per node, collective over comm) when the ranks of a node times
 * `threads` exceed the cores they may use (the union of their CPU affinity
 * masks: a SLURM allocation, mpirun's binding), or a rank has fewer cores than
 * threads: spinning OpenMP threads then take turns on a core and every parallel
 * region waits for the slowest (2-5x slower). The message names the counts and
 * the remedies. Returns 1 if oversubscribed (also with OMP_WAIT_POLICY=passive,
 * which only silences the message). */
int ct_check_cores(MPI_Comm comm, int threads, const char *who);
/* This rank's share of its node's cores: the cores of the union of the node's
 * ranks' CPU masks divided by the ranks on the node, at most the rank's own
 * mask, at least 1. Collective over comm. */
int ct_node_cores_per_rank(MPI_Comm comm);

#define ct_info(...) ct_log(CT_LOG_INFO, __VA_ARGS__)
#define ct_warn(...) ct_log(CT_LOG_WARN, __VA_ARGS__)
#define ct_debug(...) ct_log(CT_LOG_DEBUG, __VA_ARGS__)
/* Seconds since ct_log_setup (wall clock). */
double ct_log_elapsed(void);

/* ---------------------------------------------------------------- config */

/* An INI configuration: rank 0 reads the file, the text is broadcast, every rank
 * parses it with inih. Getters mark keys as used; ct_config_check_unused reports
 * every key nobody asked for as an error naming file, line and key. */
typedef struct ct_config ct_config;

ct_status ct_config_load(ct_config **cfg, const char *path, MPI_Comm comm);
ct_status ct_config_from_string(ct_config **cfg, const char *text, const char *name);
void ct_config_destroy(ct_config **cfg);
const char *ct_config_path(const ct_config *cfg);
/* The directory of the config file ("." for strings), for relative paths. */
const char *ct_config_dir(const ct_config *cfg);

int ct_config_has(const ct_config *cfg, const char *section, const char *key);
int ct_config_has_section(const ct_config *cfg, const char *section);
/* Getters: if the key is absent, *out = def (and the default is recorded as used).
 * Range checks are inclusive; errors name file:line and section.key. */
ct_status ct_config_string(ct_config *cfg, const char *section, const char *key,
                           const char *def, const char **out);
ct_status ct_config_double(ct_config *cfg, const char *section, const char *key, double def,
                           double min, double max, double *out);
ct_status ct_config_int(ct_config *cfg, const char *section, const char *key, long def,
                        long min, long max, long *out);
ct_status ct_config_bool(ct_config *cfg, const char *section, const char *key, int def,
                         int *out);
/* One of a comma-free list of choices, e.g. choices = {"cic","tsc",NULL}; returns
 * the index. */
ct_status ct_config_choice(ct_config *cfg, const char *section, const char *key,
                           const char *def, const char *const *choices, int *out);
/* A comma-separated list of doubles; *n on input is the capacity. */
ct_status ct_config_doubles(ct_config *cfg, const char *section, const char *key,
                            double *out, int *n);
/* Error for every key that was never read; names file:line for each. */
ct_status ct_config_check_unused(const ct_config *cfg);
/* Iterate the settings actually used (section, key, value as text, including
 * defaults that were applied). Returns the count; index past it gives NULLs. */
size_t ct_config_used_count(const ct_config *cfg);
void ct_config_used_get(const ct_config *cfg, size_t i, const char **section,
                        const char **key, const char **value);

/* ---------------------------------------------------------------- timers */

#define CT_TIMER_MAX 32
typedef struct {
    int n;
    char name[CT_TIMER_MAX][32];
    double total[CT_TIMER_MAX];
    double started[CT_TIMER_MAX];
    int running[CT_TIMER_MAX];
} ct_timers;

void ct_timers_init(ct_timers *t);
void ct_timer_start(ct_timers *t, const char *name);
void ct_timer_stop(ct_timers *t, const char *name);
double ct_timer_get(const ct_timers *t, const char *name);
/* Collective over comm: min/mean/max of each timer (all ranks must hold the same
 * timer names in the same order). Prints through ct_log at INFO on rank 0 and, if
 * out != NULL, writes the report there on rank 0 as well. */
ct_status ct_timers_report(const ct_timers *t, MPI_Comm comm, FILE *out);
double ct_wtime(void);

/* ---------------------------------------------------------------- progress */

typedef struct {
    char what[64];
    int64_t total;
    int64_t done;
    double t0, last_print;
    int rank;
    double interval; /* seconds between lines; default 2 */
} ct_progress;

void ct_progress_begin(ct_progress *p, const char *what, int64_t total, MPI_Comm comm);
/* Non-collective; prints on rank 0 "what: done/total (x%), rate/s, ETA s". */
void ct_progress_update(ct_progress *p, int64_t done);
void ct_progress_end(ct_progress *p);

/* ---------------------------------------------------------------- memory */

/* Peak resident set size of this process, bytes (getrusage). */
size_t ct_mem_peak(void);
/* Current resident set size, bytes (/proc/self/statm). */
size_t ct_mem_current(void);

/* ---------------------------------------------------------------- files */

/* Atomic output: write to a temporary name in the same directory, then rename.
 * ct_atomic_begin fills tmp (capacity tmp_cap) with "<dir>/.<base>.tmp.<pid>";
 * ct_atomic_commit fsyncs and renames tmp onto final; ct_atomic_abort unlinks tmp.
 * A file that exists under its final name is therefore always complete.
 * ct_atomic_begin also removes temporaries of final_path left by writers that
 * were killed (".<base>.tmp.<pid>" with no live process <pid> on this host). */
ct_status ct_atomic_begin(const char *final_path, char *tmp, size_t tmp_cap);
/* The same with the temporary name in a new allocation (free() it); no length cap. */
ct_status ct_atomic_begin_alloc(const char *final_path, char **tmp);
ct_status ct_atomic_commit(const char *tmp, const char *final_path);
void ct_atomic_abort(const char *tmp);
/* A text file written atomically, paths of any length: ct_atomic_fopen opens a
 * temporary beside final_path (ct_atomic_begin_alloc) for writing, as a->f;
 * ct_atomic_fclose checks that every write went through (ferror, fflush,
 * fclose), then renames the temporary onto final_path, or removes it and fails
 * with "<final_path>: write failed: <reason>"; ct_atomic_fdiscard removes it (a
 * failure elsewhere). Both end the writing (a->f NULL) and tolerate an a that
 * was never opened (zeroed). */
typedef struct {
    FILE *f;
    char *tmp;
    char *path;
} ct_atomic_file;
ct_status ct_atomic_fopen(ct_atomic_file *a, const char *final_path);
ct_status ct_atomic_fclose(ct_atomic_file *a);
void ct_atomic_fdiscard(ct_atomic_file *a);
/* Collective versions for files written by all ranks of comm (e.g. parallel HDF5):
 * rank 0 chooses the temporary name and broadcasts it; commit/abort act on rank 0
 * after a barrier. */
ct_status ct_atomic_begin_coll(const char *final_path, char *tmp, size_t tmp_cap,
                               MPI_Comm comm);
ct_status ct_atomic_commit_coll(const char *tmp, const char *final_path, MPI_Comm comm);
void ct_atomic_abort_coll(const char *tmp, MPI_Comm comm);

/* Graceful stop on SIGTERM (SLURM's preemption signal). ct_stop_on_sigterm installs
 * a handler that only records the signal; long loops poll ct_stop_requested() (or
 * the collective ct_stop_agree(), true on every rank if any rank has the signal)
 * at safe points and end cleanly (train: after writing the checkpoint). If the
 * process still runs grace_seconds after the signal (0: no limit), it ends as if
 * no handler were installed (killed by SIGTERM), so it always exits in time. */
void ct_stop_on_sigterm(unsigned grace_seconds);
int ct_stop_requested(void);
int ct_stop_agree(MPI_Comm comm);

/* The number on the "FIELD:" line of /proc/meminfo (in that line's unit: kB
 * for sizes, pages for HugePages_*), or -1 if the file or the line cannot be
 * read. */
long long ct_meminfo(const char *field);

/* Bytes of memory one rank may plan with: MemAvailable of its node divided by
 * the ranks on that node, the smallest over comm (4 GiB per node if unknown).
 * Collective over comm. */
double ct_mem_per_rank(MPI_Comm comm);

/* mkdir -p; ok if it exists. */
ct_status ct_mkdir_p(const char *path);
int ct_file_exists(const char *path);
int ct_dir_exists(const char *path);
/* Read a whole text file into a malloc'd NUL-terminated buffer. */
ct_status ct_read_text(const char *path, char **text, size_t *len);
/* Copy src into dst (capacity cap > 0, always NUL-terminated); returns strlen(src),
 * so a result >= cap means the copy was truncated. */
size_t ct_strlcpy(char *dst, const char *src, size_t cap);
/* Join two path components into out (capacity cap). */
ct_status ct_path_join(char *out, size_t cap, const char *a, const char *b);
/* snprintf that refuses to truncate: when the text does not fit in cap bytes it
 * returns CT_ERR_RANGE with a message quoting its start (buf then holds a
 * truncated copy that must not be used). */
ct_status ct_snprintf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The formatted text in a new allocation of exactly its size (free() it); *out is
 * NULL on failure. */
ct_status ct_asprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parameter tables (Quijote's *_params.txt, a suite's params.txt): rows of
 * numbers separated by blanks or commas, '#' lines are comments. The column
 * count is that of the first row; every row must have it (else
 * "FILE:LINE: N columns, expected M"). Names come from the last '#' line above
 * the first row that has one token per column, or one fewer: then the first
 * column is an unnamed index (MG_params.txt) and is dropped (index_col = 1).
 * Without such a line the columns are named p0, p1, ... and named = 0. No caps:
 * any number of rows, columns and name lengths. */
typedef struct {
    int ncol;            /* columns kept */
    char **names;        /* ncol names */
    int64_t nrow;
    double *v;           /* nrow x ncol, row-major */
    int named;           /* 1: a header line named the columns */
    int index_col;       /* 1: an unnamed leading index column was dropped */
    int first_data_line; /* line number of the first row (for messages) */
} ct_param_table;

ct_status ct_param_table_read(const char *path, ct_param_table *t);
void ct_param_table_free(ct_param_table *t);
/* Column of `name`, -1 if absent. */
int ct_param_table_column(const ct_param_table *t, const char *name);

/* The folder of cosmotl's data files (job templates jobs/, configs/, tools/),
 * the first of: $COSMOTL_DATADIR; <dir of the running program>/../share/cosmotl
 * (an installed tree, wherever it was moved); <dir of the running program>/share/cosmotl
 * (the build tree, which holds copies made at build time); the data dir of the
 * configured install prefix. A candidate counts when it holds jobs/common.sh;
 * $COSMOTL_DATADIR is taken as given (an error names it when it lacks the file).
 * Copies the folder into out (capacity cap). */
ct_status ct_data_dir(char *out, size_t cap);

/* ---------------------------------------------------------------- random */

/* Counter-based generator (Philox4x32-10): the output depends only on
 * (seed, stream, counter), never on the number of ranks or call order. */
typedef struct {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter; /* advances by one per 4x32-bit block */
    uint32_t buf[4];
    int nbuf;
} ct_rng;

/* The raw block for (seed, stream, counter). */
void ct_philox(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4]);
void ct_rng_init(ct_rng *r, uint64_t seed, uint64_t stream, uint64_t counter);
uint32_t ct_rng_u32(ct_rng *r);
uint64_t ct_rng_u64(ct_rng *r);
/* Uniform in the open interval (0, 1), 53-bit resolution. */
double ct_rng_uniform(ct_rng *r);
/* Standard normal (Box-Muller on two uniforms; no cached second value, so the
 * sequence is reproducible from any counter). */
double ct_rng_normal(ct_rng *r);
/* Uniform integer in [0, n). */
uint64_t ct_rng_below(ct_rng *r, uint64_t n);
/* Shuffle v[0..n) in place (Fisher-Yates, drawing from stream `stream` of seed):
 * the permutation depends only on (seed, stream, n), never on ranks or threads.
 * Every seeded split of the project (train/validation/test, the study's test
 * sets and budgets) is a prefix partition of this one permutation. */
void ct_shuffle_rows(int64_t *v, int64_t n, uint64_t seed, uint64_t stream);
/* The same shuffle drawing from r (which goes on from where the shuffle left it). */
void ct_rng_shuffle(ct_rng *r, int64_t *v, int64_t n);
/* 64-bit hash of a string, a stable stream number or seed from a name: FNV-1a's
 * xor-multiply step (prime 1099511628211) from the basis 1469598103934665603 —
 * not FNV's published basis (14695981039346656037; a digit was lost long ago),
 * kept because the study's splits and task seeds derive from it. */
uint64_t ct_hash_name(const char *s);
/* The same hash over n bytes (e.g. a k grid: model provenance's k_hash). */
uint64_t ct_hash_bytes(const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
