/* Rank-aware logging: collective lines from rank 0, per-rank lines tagged. */
#include "cosmotl/core.h"

#include <sched.h>
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

/* CPUs this process may run on (its affinity mask: SLURM's allocation, mpirun's
 * binding), or the online CPUs if the mask is unavailable. */
static void cpu_mask(cpu_set_t *set)
{
    CPU_ZERO(set);
    if (sched_getaffinity(0, sizeof *set, set) != 0 || CPU_COUNT(set) == 0) {
        CPU_ZERO(set);
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long c = 0; c < n && c < CPU_SETSIZE; c++)
            CPU_SET((int)c, set);
    }
}

/* The node of comm's ranks (a new communicator, MPI_COMM_NULL on failure), its
 * rank count, and the cores this rank's mask holds (own) and the node's ranks'
 * masks hold together (all). */
static MPI_Comm node_cores(MPI_Comm comm, int *local, int *own, int *all_cores)
{
    MPI_Comm node;
    *local = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return MPI_COMM_NULL;
    MPI_Comm_size(node, local);
    /* the cores the node's ranks may use together: the union of their masks */
    cpu_set_t mine, all;
    cpu_mask(&mine);
    const int words = (int)(sizeof(cpu_set_t) / sizeof(unsigned long));
    if (MPI_Allreduce(&mine, &all, words, MPI_UNSIGNED_LONG, MPI_BOR, node) != MPI_SUCCESS)
        all = mine;
    *own = CPU_COUNT(&mine);
    *all_cores = CPU_COUNT(&all);
    return node;
}

int ct_node_cores_per_rank(MPI_Comm comm)
{
    int local, own, cores;
    MPI_Comm node = node_cores(comm, &local, &own, &cores);
    if (node == MPI_COMM_NULL)
        return 1;
    MPI_Comm_free(&node);
    const int share = cores / (local > 0 ? local : 1), n = own < share ? own : share;
    return n > 1 ? n : 1;
}

int ct_check_cores(MPI_Comm comm, int threads, const char *who)
{
    int local, own, cores, me = 0;
    MPI_Comm node = node_cores(comm, &local, &own, &cores);
    if (node == MPI_COMM_NULL)
        return 0;
    MPI_Comm_rank(node, &me);
    /* either the node's ranks want more cores than they have, or this rank is
     * bound to fewer cores than its threads */
    const int local_over = threads > 1 && (threads > own || (long)local * threads > cores);
    int over = 0;
    MPI_Allreduce(&local_over, &over, 1, MPI_INT, MPI_LOR, node);
    MPI_Comm_free(&node);
    const char *wait = getenv("OMP_WAIT_POLICY");
    if (over && me == 0 && (!wait || strcasecmp(wait, "passive")))
        ct_log_rank_msg(CT_LOG_WARN,
                        "%s: %d rank(s) x %d threads on a node where they may use %d cores "
                        "(%d for this rank): oversubscribed, OpenMP threads will wait on each "
                        "other; use fewer threads per rank, bind each rank to as many cores as "
                        "threads, or set OMP_WAIT_POLICY=passive",
                        who, local, threads, cores, own);
    return over;
}
