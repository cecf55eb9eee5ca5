/* Triangle sums sum_x f_i f_j f_l over shell fields, under a memory budget.
 *
 * Every shell field is needed by many triangles, so all shells are held at once,
 * but only for a chunk of this rank's x-planes: pass c transforms each shell once
 * and keeps planes [c*pc, (c+1)*pc) of it. With one pass (enough memory) each
 * shell FFT is done exactly once; with less memory the transforms grow as
 * nshell x nchunk, never per triangle. The chunk is walked in cache-sized tiles;
 * within a tile the product f_j1 f_j2 is formed once per (j1, j2) pair and reused
 * for every j3, so each triangle costs one multiply-add per grid point. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bk_internal.h"

#define BK_TILE 1024 /* doubles per tile: the product plus the fields stay in L1/L2 */

typedef struct {
    const double *f1, *f2, *f3; /* double fields (unused with float fields) */
    int i1, i2, i3;             /* float fields: the triangle's fields in widen.f */
    int t;                      /* triangle index */
} tri_ptrs;

/* Float32 fields: before the sums of a tile, the tile of every field is widened
 * to double in a per-thread buffer (nf x BK_TILE doubles, in L2) and the double
 * kernel runs on the buffer. The sums are those of the float-rounded fields, in
 * double and in the same order as for double fields, for nf conversions per
 * ntri multiply-adds (26 per 1898 for Quijote's triangles). */
typedef struct {
    int nf;                /* distinct fields */
    const float *const *f; /* their bases */
    double *buf;           /* nthread x nf x BK_TILE */
    tri_ptrs *blist;       /* nthread x n: the triangles pointing into buf */
} widen;

/* bytes of one shell-field value */
static size_t field_size(const ct_bk_engine *e) { return e->f32 ? sizeof(float) : sizeof(double); }

static int sum_threads(const ct_bk_engine *e)
{
    /* threads only pay off on real grids; tiny test grids stay serial */
    return e->threads > 1 && e->plane_len >= (size_t)1 << 12 ? e->threads : 1;
}

/* s[k] += sum_x p[x] c_k[x] for K fields at once: one load of the product serves
 * K multiply-adds, and the K sums are independent chains, so the loop is limited
 * by loads rather than by the latency of a single accumulator (with one dot
 * product at a time each vector add waited for the previous one). Each sum still
 * runs over x in order within its SIMD lanes. */
#define BK_DOT(K)                                                                     \
    static inline __attribute__((always_inline)) void dot##K(                         \
        const double *restrict p, const double *const *c, size_t x0, size_t len,      \
        double *s)                                                                    \
    {                                                                                 \
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;        \
        const double *restrict c0 = c[0] + x0;                                        \
        const double *restrict c1 = c[K > 1 ? 1 : 0] + x0;                            \
        const double *restrict c2 = c[K > 2 ? 2 : 0] + x0;                            \
        const double *restrict c3 = c[K > 3 ? 3 : 0] + x0;                            \
        const double *restrict c4 = c[K > 4 ? 4 : 0] + x0;                            \
        const double *restrict c5 = c[K > 5 ? 5 : 0] + x0;                            \
        const double *restrict c6 = c[K > 6 ? 6 : 0] + x0;                            \
        const double *restrict c7 = c[K > 7 ? 7 : 0] + x0;                            \
        _Pragma("omp simd reduction(+ : a0, a1, a2, a3, a4, a5, a6, a7)")             \
        for (size_t x = 0; x < len; x++) {                                            \
            const double q = p[x];                                                    \
            a0 += q * c0[x];                                                          \
            if (K > 1)                                                                \
                a1 += q * c1[x];                                                      \
            if (K > 2)                                                                \
                a2 += q * c2[x];                                                      \
            if (K > 3)                                                                \
                a3 += q * c3[x];                                                      \
            if (K > 4)                                                                \
                a4 += q * c4[x];                                                      \
            if (K > 5)                                                                \
                a5 += q * c5[x];                                                      \
            if (K > 6)                                                                \
                a6 += q * c6[x];                                                      \
            if (K > 7)                                                                \
                a7 += q * c7[x];                                                      \
        }                                                                             \
        s[0] += a0;                                                                   \
        if (K > 1)                                                                    \
            s[1] += a1;                                                               \
        if (K > 2)                                                                    \
            s[2] += a2;                                                               \
        if (K > 3)                                                                    \
            s[3] += a3;                                                               \
        if (K > 4)                                                                    \
            s[4] += a4;                                                               \
        if (K > 5)                                                                    \
            s[5] += a5;                                                               \
        if (K > 6)                                                                    \
            s[6] += a6;                                                               \
        if (K > 7)                                                                    \
            s[7] += a7;                                                               \
    }
BK_DOT(8)
BK_DOT(4)
BK_DOT(2)
BK_DOT(1)
#undef BK_DOT

/* One tile of every listed triangle. Compiled for AVX2 and AVX-512 as well as
 * the baseline; the loader picks the best the CPU has (the sums are the hot loop). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void tile_sums(const tri_ptrs *list, int n, size_t x0, size_t len, double *mine)
{
    double prod[BK_TILE];
    const double *c[8];
    double s[8];
    int i = 0;
    while (i < n) {
        const double *a = list[i].f1 + x0, *b = list[i].f2 + x0;
        for (size_t x = 0; x < len; x++)
            prod[x] = a[x] * b[x];
        int g = i;
        while (g < n && list[g].f1 == list[i].f1 && list[g].f2 == list[i].f2) {
            /* the next up to 8 triangles of this (f1, f2) group */
            int k = 0;
            while (k < 8 && g + k < n && list[g + k].f1 == list[i].f1 &&
                   list[g + k].f2 == list[i].f2) {
                c[k] = list[g + k].f3;
                s[k] = 0;
                k++;
            }
            int d = 0;
            for (; d + 8 <= k; d += 8)
                dot8(prod, c + d, x0, len, s + d);
            for (; d + 4 <= k; d += 4)
                dot4(prod, c + d, x0, len, s + d);
            for (; d + 2 <= k; d += 2)
                dot2(prod, c + d, x0, len, s + d);
            for (; d < k; d++)
                dot1(prod, c + d, x0, len, s + d);
            for (int q = 0; q < k; q++)
                mine[g + q] += s[q];
            g += k;
        }
        i = g;
    }
}

/* acc[t] += local sum over the grid of f1 f2 f3 for each listed triangle; the list
 * is grouped so consecutive entries with the same (f1, f2) share the product.
 * part: scratch of sum_threads(n_local) * n doubles, allocated by the caller
 * before any collective loop so that nothing inside it can fail on one rank. */
static void local_sums(const ct_bk_engine *e, const tri_ptrs *list, int n, size_t n_local,
                       double *acc, double *part, const widen *w)
{
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
        double *buf = NULL;
        tri_ptrs *bl = NULL;
        if (w) {
            buf = w->buf + (size_t)tid * (size_t)w->nf * BK_TILE;
            bl = w->blist + (size_t)tid * (size_t)n;
            for (int i = 0; i < n; i++) {
                bl[i] = list[i];
                bl[i].f1 = buf + (size_t)list[i].i1 * BK_TILE;
                bl[i].f2 = buf + (size_t)list[i].i2 * BK_TILE;
                bl[i].f3 = buf + (size_t)list[i].i3 * BK_TILE;
            }
        }
        /* static schedule: the same tiles go to the same thread every run, so the
         * result does not change between runs */
#pragma omp for schedule(static)
        for (size_t it = 0; it < ntile; it++) {
            size_t x0 = it * BK_TILE;
            size_t len = n_local - x0 < BK_TILE ? n_local - x0 : BK_TILE;
            if (w) {
                for (int f = 0; f < w->nf; f++) {
                    const float *src = w->f[f] + x0;
                    double *dst = buf + (size_t)f * BK_TILE;
                    for (size_t x = 0; x < len; x++)
                        dst[x] = (double)src[x];
                }
                tile_sums(bl, n, 0, len, mine);
            } else {
                tile_sums(list, n, x0, len, mine);
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
    char *f = NULL;
    double *part = NULL, *buf = NULL;
    tri_ptrs *blist = NULL;
    size_t nl = (size_t)e->nx * e->plane_len, es = field_size(e);
    const int nth = sum_threads(e);
    rc = ct_calloc(&f, 3 * (nl ? nl : 1), es, "bispectrum shell fields");
    if (rc == CT_OK)
        rc = ct_calloc(&part, (size_t)nth, sizeof *part, "sums");
    if (rc == CT_OK && e->f32)
        rc = ct_calloc(&buf, (size_t)nth * 3 * BK_TILE, sizeof *buf, "widened tiles");
    if (rc == CT_OK && e->f32)
        rc = ct_calloc(&blist, (size_t)nth, sizeof *blist, "widened triangle");
    rc = ct_agree(e->comm, rc);
    if (rc != CT_OK)
        goto fail;
    for (int t = 0; t < e->ntri; t++) {
        const int *j = e->tri + 3 * t;
        const void *p[3];
        int ix[3] = {0, 1, 2};
        for (int a = 0; a < 3; a++) {
            /* the older approach: every field of every triangle transformed afresh,
             * except a shell repeated inside the same triangle */
            int dup = -1;
            for (int b = 0; b < a; b++)
                if (j[b] == j[a])
                    dup = b;
            if (dup >= 0) {
                p[a] = p[dup];
                ix[a] = dup;
                continue;
            }
            double t0 = ct_wtime();
            CT_CHECK_GOTO(rc, e->fill(e->ctx, j[a], 0, e->nx, f + (size_t)a * nl * es));
            st->t_fill += ct_wtime() - t0;
            st->nfill++;
            p[a] = f + (size_t)a * nl * es;
        }
        tri_ptrs one = {p[0], p[1], p[2], ix[0], ix[1], ix[2], t};
        const float *f3[3] = {(const float *)f, (const float *)f + nl, (const float *)f + 2 * nl};
        widen w = {3, f3, buf, blist};
        double t0 = ct_wtime();
        local_sums(e, &one, 1, nl, acc, part, e->f32 ? &w : NULL);
        st->t_sum += ct_wtime() - t0;
    }
fail:
    free(f);
    free(part);
    free(buf);
    free(blist);
    return rc;
}

static ct_status run_chunked(const ct_bk_engine *e, double *acc, ct_bk_engine_stats *st)
{
    ct_status rc = CT_OK;
    int ns = e->nshell;
    /* planes per pass on this rank; the pass count is common to all ranks */
    ptrdiff_t pc = (e->nx + e->nchunk - 1) / e->nchunk;
    size_t chunk = (size_t)pc * e->plane_len;
    char *mem = NULL;
    double *part = NULL, *buf = NULL;
    tri_ptrs *list = NULL, *blist = NULL;
    const float **fields = NULL;
    const size_t es = field_size(e);
    const int nth = sum_threads(e);
    const size_t nt1 = (size_t)(e->ntri ? e->ntri : 1);

    const size_t nmem = (size_t)ns * (chunk ? chunk : 1);
    char *own = NULL; /* mem when it is not the caller's scratch */
    if (e->scratch) {
        /* every value used is written by fill first: no zeroing needed */
        mem = e->scratch(e->scratch_arg, nmem * es);
        if (!mem)
            rc = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__,
                              "cannot allocate %zu bytes for the bispectrum shell fields",
                              nmem * es);
    } else {
        rc = ct_calloc(&own, nmem, es, "bispectrum shell fields");
        mem = own;
    }
    if (rc == CT_OK)
        rc = ct_calloc(&list, (size_t)(e->ntri ? e->ntri : 1), sizeof *list, "triangle list");
    if (rc == CT_OK)
        rc = ct_calloc(&part, (size_t)nth * nt1, sizeof *part, "triangle sums");
    if (rc == CT_OK && e->f32)
        rc = ct_calloc(&fields, (size_t)ns, sizeof *fields, "float shell fields");
    if (rc == CT_OK && e->f32)
        rc = ct_calloc(&buf, (size_t)nth * (size_t)ns * BK_TILE, sizeof *buf, "widened tiles");
    if (rc == CT_OK && e->f32)
        rc = ct_calloc(&blist, (size_t)nth * nt1, sizeof *blist, "widened triangles");
    /* from here on only collective transforms can fail: agree on allocation first */
    rc = ct_agree(e->comm, rc);
    if (rc != CT_OK)
        goto fail;
    /* triangles stay in Quijote order: consecutive ones share (j1, j2) */
    for (int t = 0; t < e->ntri; t++) {
        const int *j = e->tri + 3 * t;
        list[t].f1 = (const double *)mem + (size_t)(j[0] - 1) * chunk;
        list[t].f2 = (const double *)mem + (size_t)(j[1] - 1) * chunk;
        list[t].f3 = (const double *)mem + (size_t)(j[2] - 1) * chunk;
        list[t].i1 = j[0] - 1;
        list[t].i2 = j[1] - 1;
        list[t].i3 = j[2] - 1;
        list[t].t = t;
    }
    for (int j = 0; e->f32 && j < ns; j++)
        fields[j] = (const float *)mem + (size_t)j * chunk;
    widen w = {ns, fields, buf, blist};
    for (long c = 0; c < e->nchunk; c++) {
        ptrdiff_t p0 = (ptrdiff_t)c * pc, np = e->nx - p0;
        np = np < 0 ? 0 : np > pc ? pc : np;
        for (int j = 1; j <= ns; j++) {
            double t0 = ct_wtime();
            CT_CHECK_GOTO(rc, e->fill(e->ctx, j, p0, np, mem + (size_t)(j - 1) * chunk * es));
            st->t_fill += ct_wtime() - t0;
            st->nfill++;
        }
        double t0 = ct_wtime();
        local_sums(e, list, e->ntri, (size_t)np * e->plane_len, acc, part, e->f32 ? &w : NULL);
        st->t_sum += ct_wtime() - t0;
    }
fail:
    free(own);
    free(part);
    free(list);
    free(buf);
    free(blist);
    free(fields);
    return rc;
}

ct_status ct_bk_engine_run(const ct_bk_engine *e, double *sums, ct_bk_engine_stats *st)
{
    ct_status rc = CT_OK;
    double *acc = NULL;
    memset(st, 0, sizeof *st);
    if (e->nchunk < 1)
        CT_FAIL(CT_ERR_ARG, "bispectrum pass count %ld must be >= 1", e->nchunk);
    rc = ct_agree(e->comm, ct_calloc(&acc, (size_t)(e->ntri ? e->ntri : 1), sizeof *acc,
                                     "triangle sums"));
    if (rc != CT_OK) {
        ct_error_push(rc, __func__, __LINE__);
        goto fail;
    }
    if (e->per_triangle)
        rc = run_per_triangle(e, acc, st);
    else
        rc = run_chunked(e, acc, st);
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
