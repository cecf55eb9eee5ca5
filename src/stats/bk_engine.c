/* Triangle sums sum_x f_i f_j f_l over shell fields, under a memory budget.
 *
 * Shells are grouped in blocks of b fields. When every shell fits (b = nshell)
 * each shell field is computed exactly once. Otherwise three regions of b fields
 * hold the blocks of (j1, j2, j3) for one block triple at a time; blocks already
 * resident are reused, so the extra transforms grow only as (nshell/b)^3/6 blocks.
 * The grid is walked in cache-sized tiles; within a tile the product f_j1 f_j2 is
 * formed once per (j1, j2) pair and reused for every j3, so each triangle costs
 * one multiply-add per grid point. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bk_internal.h"

#define BK_TILE 1024 /* doubles per tile: the product plus the fields stay in L1/L2 */

typedef struct {
    const double *f1, *f2, *f3;
    int t; /* triangle index */
} tri_ptrs;

/* acc[t] += local sum over the grid of f1 f2 f3 for each listed triangle; the list
 * is grouped so consecutive entries with the same (f1, f2) share the product. */
static int sum_threads(const ct_bk_engine *e)
{
    /* threads only pay off on real grids; tiny test grids stay serial */
    return e->threads > 1 && e->n_local >= (size_t)1 << 16 ? e->threads : 1;
}

/* part: scratch of sum_threads(n_local) * n doubles, allocated by the caller
 * before any collective loop so that nothing inside it can fail on one rank. */
static void local_sums(const ct_bk_engine *e, const tri_ptrs *list, int n, double *acc,
                       double *part)
{
    size_t n_local = e->n_local;
    if (n == 0 || n_local == 0)
        return;
    size_t ntile = (n_local + BK_TILE - 1) / BK_TILE;
    int nthread = sum_threads(e);
    memset(part, 0, (size_t)nthread * (size_t)n * sizeof *part);
#pragma omp parallel num_threads(nthread)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double *mine = part + (size_t)tid * (size_t)n;
        double prod[BK_TILE];
        /* static schedule: the same tiles go to the same thread every run, so the
         * result does not change between runs */
#pragma omp for schedule(static)
        for (size_t it = 0; it < ntile; it++) {
            size_t x0 = it * BK_TILE;
            size_t len = n_local - x0 < BK_TILE ? n_local - x0 : BK_TILE;
            int i = 0;
            while (i < n) {
                const double *a = list[i].f1 + x0, *b = list[i].f2 + x0;
                for (size_t x = 0; x < len; x++)
                    prod[x] = a[x] * b[x];
                int g = i;
                while (g < n && list[g].f1 == list[i].f1 && list[g].f2 == list[i].f2) {
                    const double *c = list[g].f3 + x0;
                    double s = 0.0;
#pragma omp simd reduction(+ : s)
                    for (size_t x = 0; x < len; x++)
                        s += prod[x] * c[x];
                    mine[g] += s;
                    g++;
                }
                i = g;
            }
        }
    }
    for (int t = 0; t < nthread; t++)
        for (int i = 0; i < n; i++)
            acc[list[i].t] += part[(size_t)t * (size_t)n + i];
}

static ct_status run_per_triangle(const ct_bk_engine *e, double *acc, ct_bk_engine_stats *st)
{
    ct_status rc = CT_OK;
    double *f = NULL, *part = NULL;
    size_t nl = e->n_local ? e->n_local : 1;
    rc = ct_calloc(&f, 3 * nl, sizeof *f, "bispectrum shell fields");
    if (rc == CT_OK)
        rc = ct_calloc(&part, (size_t)sum_threads(e), sizeof *part, "sums");
    rc = ct_agree(e->comm, rc);
    if (rc != CT_OK)
        goto fail;
    for (int t = 0; t < e->ntri; t++) {
        const int *j = e->tri + 3 * t;
        const double *p[3];
        for (int a = 0; a < 3; a++) {
            /* the older approach: every field of every triangle transformed afresh,
             * except a shell repeated inside the same triangle */
            int dup = -1;
            for (int b = 0; b < a; b++)
                if (j[b] == j[a])
                    dup = b;
            if (dup >= 0) {
                p[a] = p[dup];
                continue;
            }
            double t0 = ct_wtime();
            CT_CHECK_GOTO(rc, e->fill(e->ctx, j[a], f + (size_t)a * nl));
            st->t_fill += ct_wtime() - t0;
            st->nfill++;
            p[a] = f + (size_t)a * nl;
        }
        tri_ptrs one = {p[0], p[1], p[2], t};
        double t0 = ct_wtime();
        local_sums(e, &one, 1, acc, part);
        st->t_sum += ct_wtime() - t0;
    }
fail:
    free(f);
    free(part);
    return rc;
}

static ct_status run_blocked(const ct_bk_engine *e, double *acc, ct_bk_engine_stats *st)
{
    ct_status rc = CT_OK;
    int ns = e->nshell;
    int bsz = e->max_fields >= ns ? ns : (int)(e->max_fields / 3);
    int nreg = bsz == ns ? 1 : 3;
    int nblk = (ns + bsz - 1) / bsz;
    size_t nl = e->n_local ? e->n_local : 1;
    double *mem = NULL;
    const double **where = NULL; /* where[j]: resident field of shell j or NULL */
    tri_ptrs *list = NULL;
    double *part = NULL;
    int region_blk[3] = {-1, -1, -1};

    rc = ct_calloc(&mem, (size_t)nreg * (size_t)bsz * nl, sizeof *mem, "bispectrum shell fields");
    if (rc == CT_OK)
        rc = ct_calloc(&where, (size_t)ns + 1, sizeof *where, "shell table");
    if (rc == CT_OK)
        rc = ct_calloc(&list, (size_t)(e->ntri ? e->ntri : 1), sizeof *list, "triangle list");
    if (rc == CT_OK)
        rc = ct_calloc(&part, (size_t)sum_threads(e) * (size_t)(e->ntri ? e->ntri : 1),
                       sizeof *part, "triangle sums");
    /* from here on only collective transforms can fail: agree on allocation first */
    rc = ct_agree(e->comm, rc);
    if (rc != CT_OK)
        goto fail;

    for (int A = 0; A < nblk; A++)
        for (int B = 0; B <= A; B++)
            for (int C = 0; C <= B; C++) {
                int need[3] = {A, B, C};
                /* triangles of this block triple */
                int n = 0;
                for (int t = 0; t < e->ntri; t++) {
                    const int *j = e->tri + 3 * t;
                    if ((j[0] - 1) / bsz == A && (j[1] - 1) / bsz == B && (j[2] - 1) / bsz == C)
                        list[n++].t = t;
                }
                if (n == 0)
                    continue;
                /* make the needed blocks resident, never evicting one needed now */
                for (int q = 0; q < 3; q++) {
                    int blk = need[q], held = 0;
                    for (int r = 0; r < nreg; r++)
                        held |= region_blk[r] == blk;
                    if (held)
                        continue;
                    int r = 0;
                    for (; r < nreg; r++) {
                        int busy = 0;
                        for (int u = 0; u < 3; u++)
                            busy |= region_blk[r] == need[u];
                        if (!busy)
                            break;
                    }
                    if (r == nreg)
                        CT_FAIL_GOTO(rc, CT_ERR_STATE, "no free shell region (internal)");
                    if (region_blk[r] >= 0)
                        for (int j = region_blk[r] * bsz + 1; j <= ns && j <= (region_blk[r] + 1) * bsz; j++)
                            where[j] = NULL;
                    region_blk[r] = blk;
                    for (int j = blk * bsz + 1; j <= ns && j <= (blk + 1) * bsz; j++) {
                        double *f = mem + ((size_t)r * (size_t)bsz + (size_t)(j - 1 - blk * bsz)) * nl;
                        double t0 = ct_wtime();
                        CT_CHECK_GOTO(rc, e->fill(e->ctx, j, f));
                        st->t_fill += ct_wtime() - t0;
                        st->nfill++;
                        where[j] = f;
                    }
                }
                for (int i = 0; i < n; i++) {
                    const int *j = e->tri + 3 * list[i].t;
                    list[i].f1 = where[j[0]];
                    list[i].f2 = where[j[1]];
                    list[i].f3 = where[j[2]];
                }
                double t0 = ct_wtime();
                local_sums(e, list, n, acc, part);
                st->t_sum += ct_wtime() - t0;
            }
fail:
    free(mem);
    free(part);
    free(where);
    free(list);
    return rc;
}

ct_status ct_bk_engine_run(const ct_bk_engine *e, double *sums, ct_bk_engine_stats *st)
{
    ct_status rc = CT_OK;
    double *acc = NULL;
    memset(st, 0, sizeof *st);
    if (e->max_fields < 3 && !e->per_triangle)
        CT_FAIL(CT_ERR_ARG, "memory budget holds %ld shell fields; the bispectrum needs at least 3",
                e->max_fields);
    rc = ct_agree(e->comm, ct_calloc(&acc, (size_t)(e->ntri ? e->ntri : 1), sizeof *acc,
                                     "triangle sums"));
    if (rc != CT_OK) {
        ct_error_push(rc, __func__, __LINE__);
        goto fail;
    }
    if (e->per_triangle)
        rc = run_per_triangle(e, acc, st);
    else
        rc = run_blocked(e, acc, st);
    /* failures inside the loops come from fill, which fails on all ranks alike */
    if (rc != CT_OK) {
        ct_error_push(rc, __func__, __LINE__);
        goto fail;
    }
    if (MPI_Allreduce(acc, sums, e->ntri, MPI_DOUBLE, MPI_SUM, e->comm) != MPI_SUCCESS)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Allreduce of triangle sums failed");
fail:
    free(acc);
    return rc;
}
