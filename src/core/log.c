/* Rank-aware logging: collective lines from rank 0, per-rank lines tagged. */
#include "cosmotl/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Process-wide logger settings: set once by the driver (the CLI or a test). */
static struct {
    int rank;
    ct_log_level level;
    ct_log_hook hook;
    void *hook_user;
    double t0;
    int initialised;
} ct_logger = {0, CT_LOG_INFO, NULL, NULL, 0.0, 0};

static const char *const level_tag[] = {"error", "warning", "", "debug"};

void ct_log_setup(MPI_Comm comm, ct_log_level threshold)
{
    int init = 0;
    MPI_Initialized(&init);
    ct_logger.rank = 0;
    if (init && comm != MPI_COMM_NULL)
        MPI_Comm_rank(comm, &ct_logger.rank);
    ct_logger.level = threshold;
    ct_logger.t0 = ct_wtime();
    ct_logger.initialised = 1;
}

void ct_log_set_level(ct_log_level threshold) { ct_logger.level = threshold; }
ct_log_level ct_log_get_level(void) { return ct_logger.level; }
int ct_log_rank(void) { return ct_logger.rank; }

void ct_log_set_hook(ct_log_hook hook, void *user)
{
    ct_logger.hook = hook;
    ct_logger.hook_user = user;
}

double ct_log_elapsed(void)
{
    if (!ct_logger.initialised) {
        ct_logger.t0 = ct_wtime();
        ct_logger.initialised = 1;
    }
    return ct_wtime() - ct_logger.t0;
}

static void emit(ct_log_level level, int tagged, const char *fmt, va_list ap)
{
    char msg[2048], line[2304];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const char *tag = level_tag[level];
    if (tagged)
        snprintf(line, sizeof line, "[%8.2fs] [rank %d] %s%s%s", ct_log_elapsed(),
                 ct_logger.rank, tag, *tag ? ": " : "", msg);
    else
        snprintf(line, sizeof line, "[%8.2fs] %s%s%s", ct_log_elapsed(), tag, *tag ? ": " : "",
                 msg);
    if (ct_logger.hook) {
        ct_logger.hook(level, ct_logger.rank, line, ct_logger.hook_user);
        return;
    }
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void ct_log(ct_log_level level, const char *fmt, ...)
{
    if (level > ct_logger.level || ct_logger.rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, 0, fmt, ap);
    va_end(ap);
}

void ct_log_rank_msg(ct_log_level level, const char *fmt, ...)
{
    if (level > ct_logger.level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, 1, fmt, ap);
    va_end(ap);
}

int ct_check_cores(MPI_Comm comm, int threads, const char *who)
{
    MPI_Comm node;
    int local = 1, me = 0, over = 0;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return 0;
    MPI_Comm_size(node, &local);
    MPI_Comm_rank(node, &me);
    MPI_Comm_free(&node);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > 1 && cores > 0 && (long)local * threads > cores) {
        over = 1;
        if (me == 0) {
            const char *wait = getenv("OMP_WAIT_POLICY");
            if (!wait || strcasecmp(wait, "passive"))
                ct_log_rank_msg(CT_LOG_WARN,
                                "%s: %d ranks x %d threads on a node with %ld cores: "
                                "oversubscribed, OpenMP threads will wait on each other; use "
                                "fewer threads per rank or set OMP_WAIT_POLICY=passive",
                                who, local, threads, cores);
        }
    }
    return over;
}
