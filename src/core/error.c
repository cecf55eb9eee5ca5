/* Status codes and the chained, thread-local error record. */
#include "cosmotl/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>

#define CT_ERRMSG_CAP 4096

static _Thread_local char ct_errmsg[CT_ERRMSG_CAP];
static _Thread_local ct_status ct_errstatus = CT_OK;

static const char *const ct_status_names[CT_ERR_COUNT] = {
    "ok", "invalid argument", "I/O error", "format error", "configuration error",
    "value out of range", "out of memory", "MPI error", "numerical error", "invalid state",
    "unsupported", "failure on another rank",
};

const char *ct_status_name(ct_status s)
{
    if ((int)s < 0 || s >= CT_ERR_COUNT)
        return "unknown status";
    return ct_status_names[s];
}

ct_status ct_error_set(ct_status s, const char *func, int line, const char *fmt, ...)
{
    char msg[CT_ERRMSG_CAP - 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ct_errmsg, sizeof ct_errmsg, "%s (%s:%d)", msg, func, line);
    ct_errstatus = s;
    return s;
}

ct_status ct_error_restore(ct_status s, const char *msg)
{
    snprintf(ct_errmsg, sizeof ct_errmsg, "%s", msg ? msg : "");
    ct_errstatus = s;
    return s;
}

ct_status ct_error_push(ct_status s, const char *func, int line)
{
    size_t len = strlen(ct_errmsg);
    if (len == 0) {
        snprintf(ct_errmsg, sizeof ct_errmsg, "%s (%s:%d)", ct_status_name(s), func, line);
    } else if (len + 64 < sizeof ct_errmsg) {
        snprintf(ct_errmsg + len, sizeof ct_errmsg - len, " <- %s:%d", func, line);
    }
    ct_errstatus = s;
    return s;
}

const char *ct_error_message(void) { return ct_errmsg; }
ct_status ct_error_status(void) { return ct_errstatus; }

void ct_error_clear(void)
{
    ct_errmsg[0] = '\0';
    ct_errstatus = CT_OK;
}

ct_status ct_agree(MPI_Comm comm, ct_status local)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    /* lowest failing rank wins; size sentinel means "no failure" */
    int mine = local != CT_OK ? rank : INT32_MAX;
    int first = INT32_MAX;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return ct_error_set(CT_ERR_MPI, __func__, __LINE__, "MPI_Allreduce failed");
    if (first == INT32_MAX)
        return CT_OK;
    if (local != CT_OK)
        return local;
    return ct_error_set(CT_ERR_REMOTE, __func__, __LINE__, "rank %d failed", first);
}

ct_status ct_agree_msg(MPI_Comm comm, ct_status local)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    int mine = local != CT_OK ? rank : INT32_MAX;
    int first = INT32_MAX;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return ct_error_set(CT_ERR_MPI, __func__, __LINE__, "MPI_Allreduce failed");
    if (first == INT32_MAX)
        return CT_OK;
    char buf[CT_ERRMSG_CAP];
    int st = (int)local;
    if (rank == first)
        snprintf(buf, sizeof buf, "%s", ct_errmsg);
    MPI_Bcast(buf, CT_ERRMSG_CAP, MPI_CHAR, first, comm);
    MPI_Bcast(&st, 1, MPI_INT, first, comm);
    if (rank != first) {
        snprintf(ct_errmsg, sizeof ct_errmsg, "%s", buf);
        ct_errstatus = (ct_status)st;
    }
    return (ct_status)st;
}

ct_status ct_calloc(void *out_ptr, size_t count, size_t size, const char *what)
{
    void **out = (void **)out_ptr;
    *out = NULL;
    if (count == 0 || size == 0)
        count = size = 1;
    if (size != 0 && count > SIZE_MAX / size)
        CT_FAIL(CT_ERR_MEMORY, "allocation of %s overflows (%zu x %zu)", what, count, size);
    void *p = calloc(count, size);
    if (!p)
        CT_FAIL(CT_ERR_MEMORY, "cannot allocate %zu bytes for %s", count * size, what);
    *out = p;
    return CT_OK;
}

ct_status ct_calloc_huge(void *out_ptr, size_t count, size_t size, const char *what)
{
    CT_CHECK(ct_calloc(out_ptr, count, size, what));
    /* large blocks come fresh from mmap, untouched (calloc knows they are zero) */
    ct_advise_huge_pages(*(void **)out_ptr, count * size);
    return CT_OK;
}

static int huge_pages_default = 0;

void ct_set_huge_pages(int on) { huge_pages_default = on != 0; }

int ct_huge_pages_on(void)
{
    const char *env = getenv("CT_HUGE_PAGES");
    if (env && !strcmp(env, "0"))
        return 0;
    if (env && !strcmp(env, "1"))
        return 1;
    return huge_pages_default;
}

void ct_advise_huge_pages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (!ct_huge_pages_on())
        return;
    const uintptr_t hp = (uintptr_t)2 << 20;
    const uintptr_t lo = ((uintptr_t)p + hp - 1) & ~(hp - 1);
    const uintptr_t hi = ((uintptr_t)p + bytes) & ~(hp - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

int ct_populate(void *p, size_t bytes)
{
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels refuse it with EINVAL */
#endif
    if (!p || !bytes)
        return 0;
    const uintptr_t pg = 4096; /* madvise wants a page-aligned start; any page size is a multiple */
    const uintptr_t lo = (uintptr_t)p & ~(pg - 1);
    const uintptr_t hi = (uintptr_t)p + bytes;
    return madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) ? -1 : 0;
#else
    (void)p;
    (void)bytes;
    return -1;
#endif
}

static int env_is(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && !strcmp(v, value);
}

void ct_mpi_start_defaults(void)
{
    if (env_is("CT_MPI_DEFAULTS", "0") || getenv("OMPI_MCA_pml"))
        return;
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const char *step = getenv("SLURM_STEP_NUM_NODES"), *job = getenv("SLURM_NNODES");
    int one_node;
    if (size && local) /* started by Open MPI's launcher */
        one_node = !strcmp(size, local);
    else if (step || job) /* srun */
        one_node = !strcmp(step ? step : job, "1");
    else /* no launcher: a singleton */
        one_node = !getenv("PMIX_RANK") && !getenv("PMI_RANK");
    if (one_node)
        setenv("OMPI_MCA_pml", "ob1", 0);
}

void ct_keep_freed_memory(void)
{
#ifdef __GLIBC__
    const char *env = getenv("CT_KEEP_FREED_MEMORY");
    if (env && !strcmp(env, "0"))
        return;
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    /* one arena: a block above 64 MiB allocated in a thread (the snapshot reader's
     * particle arrays) cannot live in a thread arena's heap and glibc maps it with
     * mmap whatever M_MMAP_MAX says, and unmaps it when freed, so every snapshot's
     * arrays were fresh memory (2 ranks, 256^3 particles: +50k minor faults per
     * later snapshot). With the main arena only, they come from the kept heap. */
    mallopt(M_ARENA_MAX, 1);
#endif
}

void ct_free(void *ptr_to_ptr)
{
    void **pp = (void **)ptr_to_ptr;
    if (pp && *pp) {
        free(*pp);
        *pp = NULL;
    }
}
