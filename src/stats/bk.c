/* FFT bispectrum on the distributed mesh: shell fields by masked inverse FFTs,
 * triangle sums by the blocked engine (bk_engine.c), counts from indicator
 * fields (cached on disk), shell power, shot noise and Q. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bk_internal.h"
#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"

typedef struct {
    ct_mesh *src;         /* delta(k), Fourier space, unchanged */
    ct_mesh *work;        /* transforms happen here */
    const size_t *first;  /* shell j's local modes: modes[first[j] .. first[j + 1]) */
    const size_t *modes;  /* local mode indices, grouped by shell, ascending */
    size_t nmode;         /* local Fourier modes */
    int indicator;        /* 1: fill the indicator of the shell instead of delta */
    int f32;              /* 1: the output planes are floats, else doubles */
    int64_t N;
    ptrdiff_t nx, row;
    double scale;         /* applied to the real values when copied out */
    int threads;
} fill_ctx;

static void *delta_scratch(void *m, size_t bytes) { return ct_mesh_scratch(m, bytes); }

static ct_status shell_fill(void *vctx, int shell, ptrdiff_t p0, ptrdiff_t np, void *out)
{
    fill_ctx *c = vctx;
    /* work gets delta's modes inside the shell (1 for the indicator) and zero
     * elsewhere: zeroed whole (stores only), then the shell's own modes from
     * its list (a few per cent of the mesh); a masking pass over every mode read
     * delta and the shell table in full for each shell. Then work is in Fourier
     * space with delta's layout. */
    ct_mesh_set_fourier(c->work);
    ct_complex *w = ct_mesh_complex(c->work);
    const ct_complex *d = (const ct_complex *)ct_mesh_complex(c->src);
    const int ind = c->indicator;
    const ptrdiff_t nm = (ptrdiff_t)c->nmode;
#pragma omp parallel for schedule(static) num_threads(c->threads)
    for (ptrdiff_t q = 0; q < nm; q++)
        w[q][0] = w[q][1] = 0;
    const size_t *md = c->modes;
    const ptrdiff_t m0 = (ptrdiff_t)c->first[shell], m1 = (ptrdiff_t)c->first[shell + 1];
    for (ptrdiff_t k = m0; k < m1; k++) {
        const size_t q = md[k];
        w[q][0] = ind ? 1 : d[q][0];
        w[q][1] = ind ? 0 : d[q][1];
    }
    /* the 1/N^3 of the backward transform is applied here, in the mesh's
     * precision exactly as ct_mesh_c2r does, on the planes copied out only */
    CT_CHECK(ct_mesh_c2r_unnormalised(c->work));
    const ct_real inv = ct_mesh_inv_n3(c->work);
    const int64_t N = c->N;
    const ct_real *r = ct_mesh_real(c->work) + p0 * (ptrdiff_t)N * c->row;
    const ptrdiff_t nrow = np * (ptrdiff_t)N;
    const double scale = c->scale;
    double *fd = out;
    float *ff = out;
    const int f32 = c->f32;
#pragma omp parallel for schedule(static) num_threads(c->threads)
    for (ptrdiff_t a = 0; a < nrow; a++)
        for (int64_t l = 0; l < N; l++) {
            const ct_real v = r[a * c->row + l] * inv;
            const size_t o = (size_t)a * (size_t)N + (size_t)l;
            if (f32)
                ff[o] = (float)(scale * (double)v);
            else
                fd[o] = scale * (double)v;
        }
    return CT_OK;
}

/* Bytes per rank for one x-plane of a shell field of values of `value_bytes`
 * (8, or 4 for float32 shells), and for the work mesh plus the shell table
 * (needed whatever the budget). */
static void footprint(ct_mesh *m, size_t value_bytes, double *plane, double *fixed)
{
    ptrdiff_t x0, nx, y0, ny;
    ct_mesh_local(m, &x0, &nx);
    ct_mesh_klocal(m, &y0, &ny);
    double N = (double)ct_mesh_n(m), row = (double)ct_mesh_row(m);
    double planes = (double)(nx > ny ? nx : ny) + CT_MESH_GHOST_LO + CT_MESH_GHOST_HI;
    *plane = N * N * (double)value_bytes;
    *fixed = planes * N * row * sizeof(ct_real) + (double)ny * N * (row / 2) * sizeof(uint16_t);
}

/* Automatic budget: half the memory the node has available, shared by the
 * ranks of this communicator on the node (the same on every rank). */
static double auto_budget(MPI_Comm comm)
{
    return 0.5 * ct_mem_per_rank(comm);
}

/* Passes over this rank's x-planes (the same on all ranks) so that all ns shell
 * fields of values of `value_bytes` fit the budget; a one-line error naming the
 * least budget when not even one plane per shell fits. Collective. */
static ct_status plan_passes(ct_mesh *delta, int ns, int per_triangle, size_t value_bytes,
                             double budget, const char *what, long *nchunk)
{
    MPI_Comm comm = ct_mesh_comm(delta);
    double plane_b, fixed_b;
    footprint(delta, value_bytes, &plane_b, &fixed_b);
    ptrdiff_t x0, nx;
    ct_mesh_local(delta, &x0, &nx);
    double pc = floor((budget - fixed_b) / (ns * plane_b));
    int ok = per_triangle || pc >= 1 || nx == 0;
    double need = fixed_b + (per_triangle ? 3.0 * (double)nx : (double)ns) * plane_b;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, comm);
    MPI_Allreduce(MPI_IN_PLACE, &need, 1, MPI_DOUBLE, MPI_MAX, comm);
    if (!ok)
        CT_FAIL(CT_ERR_ARG,
                "memory budget %.3g GiB per rank is too small for the %s at grid %lld "
                "(needs at least %.3g GiB per rank; more ranks need less)",
                budget / 1073741824.0, what, (long long)ct_mesh_n(delta), need / 1073741824.0);
    long n = 1;
    if (nx > 0 && !per_triangle) {
        ptrdiff_t q = pc < (double)nx ? (ptrdiff_t)pc : nx; /* planes per pass */
        n = (long)((nx + q - 1) / q);
    }
    MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_LONG, MPI_MAX, comm);
    *nchunk = n;
    return CT_OK;
}

static ct_status alloc_result(ct_bk_result **out, int ntri)
{
    ct_bk_result *r = NULL;
    ct_status rc = CT_OK;
    CT_CHECK(ct_calloc(&r, 1, sizeof *r, "bispectrum result"));
    size_t n = (size_t)(ntri ? ntri : 1);
    if ((rc = ct_calloc(&r->k, 3 * n, sizeof(double), "bispectrum k")) != CT_OK ||
        (rc = ct_calloc(&r->P, 3 * n, sizeof(double), "bispectrum P")) != CT_OK ||
        (rc = ct_calloc(&r->B, n, sizeof(double), "bispectrum B")) != CT_OK ||
        (rc = ct_calloc(&r->Bsn, n, sizeof(double), "bispectrum B_SN")) != CT_OK ||
        (rc = ct_calloc(&r->B0, n, sizeof(double), "bispectrum B0")) != CT_OK ||
        (rc = ct_calloc(&r->Q, n, sizeof(double), "bispectrum Q")) != CT_OK ||
        (rc = ct_calloc(&r->counts, n, sizeof(double), "bispectrum counts")) != CT_OK) {
        ct_bk_result_destroy(&r);
        return ct_error_push(rc, __func__, __LINE__);
    }
    *out = r;
    return CT_OK;
}

ct_status ct_bk_measure(ct_mesh *delta, const ct_bk_settings *s, double nbar,
                        ct_bk_result **out)
{
    ct_status rc = CT_OK;
    ct_bk_result *res = NULL;
    ct_mesh *work = NULL;
    uint16_t *shell = NULL;
    size_t *first = NULL, *modes = NULL;
    double *sums = NULL, *pw = NULL;
    int *tri = NULL, ntri = 0, ns = 0;
    MPI_Comm comm = ct_mesh_comm(delta);
    *out = NULL;

    if (ct_mesh_is_float32(delta))
        CT_FAIL(CT_ERR_UNSUPPORTED, "the bispectrum of a float32 mesh (it needs the double "
                "density mesh; its float32 option is ct_bk_settings.shell_f32)");
    if (!ct_mesh_is_fourier(delta))
        CT_FAIL(CT_ERR_STATE, "the bispectrum needs the density mesh in Fourier space");
    if (!(nbar >= 0) || !isfinite(nbar))
        CT_FAIL(CT_ERR_ARG, "number density %g must be finite and >= 0", nbar);
    CT_CHECK(ct_bk_triangles(s, &tri, &ntri, &ns));
    const int64_t N = ct_mesh_n(delta);
    const double L = ct_mesh_box(delta);
    if (ns * s->dk + 0.5 * s->dk > (double)(N / 2) * sqrt(3.0) + 1)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "bispectrum kmax = %g kF is beyond the grid's modes (N = %lld)",
                     s->kmax, (long long)N);
    if (3.0 * (ns + 0.5) * s->dk >= (double)N)
        ct_warn("bispectrum: 3 x %g kF >= grid %lld: the sums include aliased closures "
                "(q1 + q2 + q3 = N); use a grid above %g for true triangles only",
                (ns + 0.5) * s->dk, (long long)N, 3.0 * (ns + 0.5) * s->dk);
    if (ns > 65535)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "%d bispectrum shells: at most 65535", ns);

    /* memory plan: all shells for as many x-planes as the budget allows per pass */
    ptrdiff_t x0, nx;
    ct_mesh_local(delta, &x0, &nx);
    const double budget = s->mem_budget > 0 ? s->mem_budget : auto_budget(comm);
    long nchunk = 1;
    CT_CHECK_GOTO(rc, plan_passes(delta, ns, s->per_triangle, s->shell_f32 ? sizeof(float)
                                  : sizeof(double), budget, "bispectrum", &nchunk));

    /* allocations: every rank learns whether all of them succeeded */
    ptrdiff_t y0, ny;
    ct_mesh_klocal(delta, &y0, &ny);
    size_t nmode = (size_t)ny * (size_t)N * (size_t)(N / 2 + 1);
    rc = alloc_result(&res, ntri);
    if (rc == CT_OK)
        rc = ct_calloc(&shell, nmode ? nmode : 1, sizeof *shell, "shell table");
    if (rc == CT_OK)
        rc = ct_calloc(&pw, 2 * (size_t)(ns + 1), sizeof *pw, "shell power");
    if (rc == CT_OK)
        rc = ct_calloc(&sums, (size_t)ntri, sizeof *sums, "triangle sums");
    CT_CHECK_GOTO(rc, ct_agree(comm, rc));
    res->ntri = ntri;
    res->nshell = ns;
    res->tri = tri;
    tri = NULL;
    res->box = L;
    res->dk = s->dk;
    res->nbar = nbar;
    res->grid = (long)N;
    res->nchunk = nchunk;
    res->shell_f32 = s->shell_f32 != 0;

    /* shell index of every local mode, and the shell power on the way */
    const ct_complex *D = ct_mesh_complex(delta);
    for (ptrdiff_t p = 0; p < ny; p++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, delta, p, p + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *k = &it.mode;
            int j = ct_bk_shell_of((double)k->n2, s->dk);
            if (j < 1 || j > ns)
                continue;
            shell[k->idx] = (uint16_t)j;
            double re = D[k->idx][0], im = D[k->idx][1];
            pw[j] += k->mult * (re * re + im * im);
            pw[ns + 1 + j] += k->mult;
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, pw, 2 * (ns + 1), MPI_DOUBLE, MPI_SUM, comm);

    /* the shells' local modes as lists (ascending within a shell), for the fills */
    {
        ct_status lrc = ct_calloc(&first, (size_t)ns + 2, sizeof *first, "shell lists");
        if (lrc == CT_OK) {
            for (size_t q = 0; q < nmode; q++)
                first[shell[q] + 1] += shell[q] > 0;
            for (int j = 1; j <= ns; j++)
                first[j + 1] += first[j];
            lrc = ct_calloc(&modes, first[ns + 1] ? first[ns + 1] : 1, sizeof *modes,
                            "shell lists");
        }
        if (lrc == CT_OK) {
            size_t *at = NULL;
            lrc = ct_calloc(&at, (size_t)ns + 1, sizeof *at, "shell lists");
            if (lrc == CT_OK) {
                memcpy(at, first, ((size_t)ns + 1) * sizeof *at);
                for (size_t q = 0; q < nmode; q++)
                    if (shell[q] > 0)
                        modes[at[shell[q]]++] = q;
                free(at);
            }
        }
        CT_CHECK_GOTO(rc, ct_agree(comm, lrc));
    }

    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = L;
    ms.threads = ct_mesh_threads(delta);
    CT_CHECK_GOTO(rc, ct_mesh_create(&work, &ms, comm));

    const double N3 = (double)N * (double)N * (double)N;
    fill_ctx fc = {delta, work, first, modes, nmode, 0, s->shell_f32 != 0, N, nx,
                   ct_mesh_row(delta), 1.0, ct_mesh_threads(delta)};
    /* the shell fields live in delta's scratch: a kept mesh (summarize's batches,
     * Python's kept meshes, the second call of a benchmark) does not take GiBs of
     * fresh memory again every call */
    ct_bk_engine e = {ntri, res->tri, ns, (size_t)N * (size_t)N, nx, nchunk,
                      s->per_triangle, ct_mesh_threads(delta), s->shell_f32 != 0, shell_fill,
                      &fc, comm, delta_scratch, delta};

    /* counts: from the cache, or from indicator fields (then cached) */
    int found = 0;
    if (s->cache_dir && *s->cache_dir)
        CT_CHECK_GOTO(rc, ct_bk_counts_load(s->cache_dir, (long)N, s->dk, ns, ntri, res->tri,
                                            res->counts, &found, comm));
    if (!found) {
        /* counts are integers rounded from sums of N^3 products: always in float64,
         * with its own passes when float32 shells made B's planes smaller */
        ct_bk_engine ec = e;
        ec.per_triangle = 0;
        ec.f32 = 0;
        if (s->shell_f32 && !s->per_triangle)
            CT_CHECK_GOTO(rc, plan_passes(delta, ns, 0, sizeof(double), budget,
                                          "bispectrum counts (float64 shells)", &ec.nchunk));
        fill_ctx fci = fc;
        fci.indicator = 1;
        fci.f32 = 0;
        fci.scale = N3; /* c2r divides by N^3; the indicator sums want 1 per mode */
        ec.ctx = &fci;
        ct_bk_engine_stats stc;
        double t0 = ct_wtime();
        CT_CHECK_GOTO(rc, ct_bk_engine_run(&ec, res->counts, &stc));
        for (int t = 0; t < ntri; t++)
            res->counts[t] = nearbyint(res->counts[t] / N3); /* sum_x 1 1 1 = N^3 x triplets */
        res->time_counts = ct_wtime() - t0;
        if (s->cache_dir && *s->cache_dir) {
            ct_status sv = ct_bk_counts_save(s->cache_dir, (long)N, s->dk, ns, ntri, res->tri,
                                             res->counts, comm);
            if (sv != CT_OK) {
                /* the measurement stands without its cache */
                ct_warn("bispectrum counts not cached: %s", ct_error_message());
                ct_error_clear();
            }
        }
    }

    ct_bk_engine_stats st;
    double t0 = ct_wtime();
    CT_CHECK_GOTO(rc, ct_bk_engine_run(&e, sums, &st));
    res->time_B = ct_wtime() - t0;
    res->time_fill = st.t_fill;
    res->time_sums = st.t_sum;
    res->nfill = st.nfill;

    /* assemble: B = L^6 <d1 d2 d3> with d = D/N^3; sum_x f1 f2 f3 = N^3 sum over triplets */
    const double L3 = L * L * L;
    double *Psh = pw; /* reuse: shell power in place */
    for (int j = 1; j <= ns; j++) {
        double nm = pw[ns + 1 + j];
        Psh[j] = nm > 0 ? L3 * pw[j] / (N3 * N3) / nm : NAN;
        if (nbar > 0)
            Psh[j] -= 1.0 / nbar;
    }
    int nzero = 0;
    for (int t = 0; t < ntri; t++) {
        const int *j = res->tri + 3 * t;
        double P1 = Psh[j[0]], P2 = Psh[j[1]], P3 = Psh[j[2]];
        for (int a = 0; a < 3; a++) {
            res->k[3 * t + a] = j[a] * s->dk;
            res->P[3 * t + a] = Psh[j[a]];
        }
        double c = res->counts[t];
        if (c > 0) {
            res->B[t] = L3 * L3 * sums[t] / (N3 * c);
        } else {
            res->B[t] = NAN;
            nzero++;
        }
        res->Bsn[t] = nbar > 0 ? (P1 + P2 + P3) / nbar + 1.0 / (nbar * nbar) : 0.0;
        res->B0[t] = res->B[t] - res->Bsn[t];
        res->Q[t] = res->B0[t] / (P1 * P2 + P1 * P3 + P2 * P3);
    }
    if (nzero)
        ct_warn("bispectrum: %d triangle(s) have no closed mode triplets on grid %lld (B = NaN)",
                nzero, (long long)N);
    ct_debug("bispectrum: %d triangles, %d shells, %ld shell transforms in %ld pass(es)", ntri,
             ns, res->nfill, nchunk);
    *out = res;
    res = NULL;
fail:
    ct_bk_result_destroy(&res);
    ct_mesh_destroy(&work);
    free(shell);
    free(first);
    free(modes);
    free(sums);
    free(pw);
    free(tri);
    return rc;
}
