/* Named timers with min/mean/max over ranks, progress lines, memory figures. */
#include "cosmotl/core.h"

#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double ct_wtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ct_timers_init(ct_timers *t) { memset(t, 0, sizeof *t); }

static int slot(ct_timers *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0)
            return i;
    if (t->n == CT_TIMER_MAX)
        return -1;
    snprintf(t->name[t->n], sizeof t->name[0], "%s", name);
    return t->n++;
}

void ct_timer_start(ct_timers *t, const char *name)
{
    int i = slot(t, name);
    if (i < 0)
        return;
    t->started[i] = ct_wtime();
    t->running[i] = 1;
}

void ct_timer_stop(ct_timers *t, const char *name)
{
    int i = slot(t, name);
    if (i < 0 || !t->running[i])
        return;
    t->total[i] += ct_wtime() - t->started[i];
    t->running[i] = 0;
}

double ct_timer_get(const ct_timers *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0)
            return t->total[i];
    return 0.0;
}

ct_status ct_timers_report(const ct_timers *t, MPI_Comm comm, FILE *out)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double mn[CT_TIMER_MAX], mx[CT_TIMER_MAX], sum[CT_TIMER_MAX];
    int n = t->n;
    if (MPI_Allreduce(t->total, mn, n, MPI_DOUBLE, MPI_MIN, comm) != MPI_SUCCESS ||
        MPI_Allreduce(t->total, mx, n, MPI_DOUBLE, MPI_MAX, comm) != MPI_SUCCESS ||
        MPI_Allreduce(t->total, sum, n, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        CT_FAIL(CT_ERR_MPI, "timer reduction failed");
    for (int i = 0; i < n; i++) {
        ct_info("timer %-16s min %9.4f s  mean %9.4f s  max %9.4f s", t->name[i], mn[i],
                sum[i] / size, mx[i]);
        if (out && rank == 0)
            fprintf(out, "%-16s %12.6f %12.6f %12.6f\n", t->name[i], mn[i], sum[i] / size,
                    mx[i]);
    }
    return CT_OK;
}

void ct_progress_begin(ct_progress *p, const char *what, int64_t total, MPI_Comm comm)
{
    memset(p, 0, sizeof *p);
    snprintf(p->what, sizeof p->what, "%s", what);
    p->total = total;
    p->t0 = p->last_print = ct_wtime();
    p->interval = 2.0;
    MPI_Comm_rank(comm, &p->rank);
}

static void progress_print(ct_progress *p, double now)
{
    double dt = now - p->t0;
    double rate = dt > 0 ? (double)p->done / dt : 0.0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0.0;
    double pct = p->total > 0 ? 100.0 * (double)p->done / (double)p->total : 100.0;
    ct_info("%s: %lld/%lld (%.1f%%), %.3g/s, ETA %.0f s", p->what, (long long)p->done,
            (long long)p->total, pct, rate, eta);
    p->last_print = now;
}

void ct_progress_update(ct_progress *p, int64_t done)
{
    p->done = done;
    if (p->rank != 0)
        return;
    double now = ct_wtime();
    if (now - p->last_print >= p->interval)
        progress_print(p, now);
}

void ct_progress_end(ct_progress *p)
{
    if (p->rank != 0)
        return;
    double now = ct_wtime();
    ct_info("%s: %lld done in %.2f s", p->what, (long long)p->done, now - p->t0);
}

size_t ct_mem_peak(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024u;
}

size_t ct_mem_current(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, rss = 0;
    int ok = fscanf(f, "%lu %lu", &size, &rss) == 2;
    fclose(f);
    return ok ? (size_t)rss * (size_t)sysconf(_SC_PAGESIZE) : 0;
}
