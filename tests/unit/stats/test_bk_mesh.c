/* The distributed FFT bispectrum on the mesh, on any number of ranks:
 *  - <= 64 particles on N = 12, 14, 16 against a brute-force sum over every mode
 *    triplet of each triangle bin (modular closure), to 1e-9;
 *  - counts from the cache equal freshly computed ones;
 *  - a Gaussian field gives B consistent with zero;
 *  - delta = g + a (g^2 - <g^2>) gives the tree-level B = 2a (P1P2 + P1P3 + P2P3);
 *  - Poisson particles give B equal to the shot-noise term;
 *  - on more than one rank, the result equals the one-rank result. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"
#include "test_bk_ref.h"
#include "mesh_testlib.h"
#include "testlib.h"

/* Under ASan/LSan (the sanitize build) LSan's scan of dynamic TLS crashes once
 * HDF5 and Open MPI have loaded their plugins; skipping TLS can only add leak
 * reports, never hide one (same workaround as the snapshot tests). */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }
/* ... which makes libgomp's thread pool, kept in TLS until exit, look leaked */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libgomp\n"; }

static int nrank = 1;

/* uniform in [0, L)^3 */
static void uniform_position(ct_rng *r, double L, double x[3])
{
    for (int a = 0; a < 3; a++)
        x[a] = L * ct_rng_uniform(r);
}

static void make_particles(ct_mesh *m, int64_t np, uint64_t seed, int64_t *n, float **pos)
{
    ct_test_share_particles(m, np, seed, uniform_position, n, pos);
}

/* CIC overdensity of np seeded particles, left in real space. */
static ct_mesh *particle_mesh(int64_t N, double L, int64_t np, uint64_t seed, MPI_Comm comm)
{
    ct_mesh *m = ct_test_new_mesh(N, L, 1, comm);
    int64_t n = 0;
    float *pos = NULL;
    make_particles(m, np, seed, &n, &pos);
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    CT_EXPECT_OK(ct_mesh_paint(m, &ps, n, pos, NULL, 1.0));
    double mean;
    CT_EXPECT_OK(ct_mesh_to_overdensity(m, &mean));
    free(pos);
    return m;
}

static void test_brute_force(int64_t N, int np, const char *cache)
{
    const double L = 50.0;
    ct_mesh *m = particle_mesh(N, L, np, 100 + (uint64_t)N, MPI_COMM_WORLD);
    double *f = ct_test_gather_field(m);
    CT_EXPECT_OK(ct_mesh_r2c(m));

    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    s.dk = 1.0;
    s.kmax = 5.0; /* 3 x 5.5 > N: aliased closures are part of the answer */
    s.cache_dir = cache;
    ct_bk_result *r = NULL, *r2 = NULL;
    CT_EXPECT_OK(ct_bk_measure(m, &s, 0.0, &r));
    if (!r)
        goto done;

    size_t N3 = (size_t)(N * N * N);
    double complex *d = malloc(N3 * sizeof *d);
    ref_dft(f, (int)N, d);
    double *sum = malloc((size_t)r->ntri * sizeof *sum), *cnt = malloc((size_t)r->ntri * sizeof *cnt),
           *abs_ = malloc((size_t)r->ntri * sizeof *abs_);
    ref_triangles_abs(d, (int)N, s.dk, r->ntri, r->tri, sum, cnt, abs_);
    const double L6 = L * L * L * L * L * L;
    /* single: B sums products of three float amplitudes, each through one
     * forward (delta) and one inverse (shell field) float FFT, each off by
     * CT_FFT_U(N^3) of the rms amplitude; these shells (|n| <= 5 of N >= 12,
     * CIC) carry about the mean power or more, so relative to the sum of
     * |d1 d2 d3| that is 3 x 2 CT_FFT_U */
    const double tol_b = CT_TOL(1e-9, 6 * CT_FFT_U(N3));
    int bad_b = 0, bad_c = 0, nz = 0;
    double worst = 0;
    for (int t = 0; t < r->ntri; t++) {
        bad_c += r->counts[t] != cnt[t];
        if (cnt[t] == 0) {
            nz++;
            continue;
        }
        double bref = L6 * sum[t] / cnt[t];
        /* 1e-9 of the sum of |terms|: the scale of the round-off in both sums */
        double scale = L6 * abs_[t] / cnt[t];
        double rel = fabs(r->B[t] - bref) / scale;
        worst = rel > worst ? rel : worst;
        bad_b += !(rel <= tol_b);
    }
    CT_EXPECT(bad_b == 0);
    CT_EXPECT(bad_c == 0);
    CT_EXPECT(worst < tol_b);
    CT_EXPECT(r->ntri >= 25);
    /* shell power against the brute-force mode average; single: one float FFT
     * (ct_test_pk_float_tol), pbar the mean over all modes */
    double pbar = 0;
    for (size_t q = 1; q < N3; q++)
        pbar += creal(d[q] * conj(d[q]));
    pbar *= L * L * L / (double)(N3 - 1);
    for (int j = 1; j <= r->nshell; j++) {
        double p = 0, nm = 0;
        for (size_t q = 0; q < N3; q++)
            if (ref_shell((int)(q / (N * N)), (int)(q / N % N), (int)(q % N), (int)N, s.dk) == j) {
                p += creal(d[q] * conj(d[q]));
                nm++;
            }
        p *= L * L * L / nm;
        for (int t = 0; t < r->ntri; t++)
            for (int a = 0; a < 3; a++)
                if (r->tri[3 * t + a] == j)
                    CT_EXPECT_REL(r->P[3 * t + a], p,
                                  CT_TOL(1e-11, ct_test_pk_float_tol(N, L, pbar, p, 0)));
    }
    /* the second measurement takes the counts from the cache: identical */
    if (cache) {
        CT_EXPECT_OK(ct_bk_measure(m, &s, 0.0, &r2));
        if (r2) {
            CT_EXPECT(r2->time_counts == 0.0);
            for (int t = 0; t < r->ntri; t++) {
                CT_EXPECT(r2->counts[t] == r->counts[t]);
                CT_EXPECT(r2->B[t] == r->B[t] || (isnan(r2->B[t]) && isnan(r->B[t])));
            }
        }
    }
    /* a budget of a few x-planes per shell: several passes, the same numbers */
    {
        ct_bk_settings sb = s;
        sb.cache_dir = NULL;
        sb.mem_budget = 80e3; /* work mesh ~50 kB at N <= 16 + 5 shells x 2 kB per plane */
        ct_bk_result *rb = NULL;
        CT_EXPECT_OK(ct_bk_measure(m, &sb, 0.0, &rb));
        if (rb) {
            if (nrank == 1)
                CT_EXPECT(rb->nchunk >= 2);
            CT_EXPECT(rb->nfill == rb->nchunk * rb->nshell);
            for (int t = 0; t < r->ntri; t++)
                if (cnt[t] > 0)
                    CT_EXPECT_ABS(rb->B[t], r->B[t], 1e-12 * L6 * abs_[t] / cnt[t]);
        }
        ct_bk_result_destroy(&rb);
    }
    /* on several ranks: the same numbers as one rank on its own */
    if (nrank > 1 && ct_test_rank == 0) {
        ct_mesh *m1 = particle_mesh(N, L, np, 100 + (uint64_t)N, MPI_COMM_SELF);
        /* single: two float paths (B as above in each), and the painting adds
         * the same pieces in another order: 2 k u of each cell's density, i.e.
         * 2 k u sqrt(1 + 1 / var) of the rms fluctuation, in each factor */
        int64_t n1 = 0;
        float *p1 = NULL;
        make_particles(m1, np, 100 + (uint64_t)N, &n1, &p1);
        const int kcell = ct_test_max_cell_hits((int)N, L, 2, 0.0, n1, p1);
        free(p1);
        double var = 0;
        for (size_t q = 0; q < N3; q++)
            var += f[q] * f[q] / (double)N3;
        const double tol_r = CT_TOL(1e-11, 2 * tol_b + 6 * kcell * CT_FLOAT_U * sqrt(1 + 1 / var));
        ct_bk_result *r1 = NULL;
        CT_EXPECT_OK(ct_mesh_r2c(m1));
        ct_bk_settings s1 = s;
        s1.cache_dir = NULL;
        CT_EXPECT_OK(ct_bk_measure(m1, &s1, 0.0, &r1));
        for (int t = 0; r1 && t < r->ntri; t++) {
            if (cnt[t] == 0)
                continue;
            CT_EXPECT_ABS(r1->B[t], r->B[t], tol_r * L6 * abs_[t] / cnt[t]);
            CT_EXPECT(r1->counts[t] == r->counts[t]);
        }
        ct_bk_result_destroy(&r1);
        ct_mesh_destroy(&m1);
    }
    free(d);
    free(sum);
    free(cnt);
    free(abs_);
done:
    ct_bk_result_destroy(&r);
    ct_bk_result_destroy(&r2);
    ct_mesh_destroy(&m);
    free(f);
}

/* Gaussian field with power proportional to |n|^slope (white for slope 0): unit
 * white noise from a counter RNG keyed by the global cell (rank independent),
 * coloured in Fourier space; left in real space. */
static ct_mesh *gaussian_mesh(int64_t N, double L, double slope, uint64_t seed)
{
    ct_mesh *m = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    ptrdiff_t x0, nx, row = ct_mesh_row(m);
    ct_mesh_local(m, &x0, &nx);
    ct_real *r = ct_mesh_real(m);
    for (ptrdiff_t i = 0; i < nx; i++)
        for (int64_t j = 0; j < N; j++)
            for (int64_t l = 0; l < N; l++) {
                ct_rng g;
                ct_rng_init(&g, seed, 2, (uint64_t)(((x0 + i) * N + j) * N + l));
                r[(i * N + j) * row + l] = ct_rng_normal(&g);
            }
    if (slope != 0.0) {
        CT_EXPECT_OK(ct_mesh_r2c(m));
        ct_complex *c = ct_mesh_complex(m);
        ptrdiff_t y0, ny;
        ct_mesh_klocal(m, &y0, &ny);
        for (ptrdiff_t p = 0; p < ny; p++) {
            ct_kiter it;
            for (ct_kiter_begin(&it, m, p, p + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
                double a = it.mode.n2 ? pow((double)it.mode.n2, 0.25 * slope) : 0.0;
                c[it.mode.idx][0] *= a;
                c[it.mode.idx][1] *= a;
            }
        }
        CT_EXPECT_OK(ct_mesh_c2r(m));
    }
    return m;
}

static void measure_copy(ct_mesh *src, const ct_bk_settings *s, double nbar, ct_bk_result **r)
{
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = ct_mesh_n(src);
    ms.box = ct_mesh_box(src);
    ct_mesh *c = NULL;
    CT_EXPECT_OK(ct_mesh_create(&c, &ms, ct_mesh_comm(src)));
    CT_EXPECT_OK(ct_mesh_copy(c, src));
    if (!ct_mesh_is_fourier(c))
        CT_EXPECT_OK(ct_mesh_r2c(c));
    CT_EXPECT_OK(ct_bk_measure(c, s, nbar, r));
    ct_mesh_destroy(&c);
}

/* One realisation: B of a Gaussian g, and the part of B odd in a of
 * g + a (g^2 - <g^2>), i.e. [B(a) - B(-a)] / 2 (the Gaussian <ggg> noise cancels). */
static void gaussian_realisation(int64_t N, double L, double slope, uint64_t seed,
                                 const ct_bk_settings *s, double a_rms, ct_bk_result **rg,
                                 double **bodd, double *a_out)
{
    ct_mesh *g = gaussian_mesh(N, L, slope, seed);
    measure_copy(g, s, 0.0, rg);
    ptrdiff_t x0, nx, row = ct_mesh_row(g);
    ct_mesh_local(g, &x0, &nx);
    ct_real *gr = ct_mesh_real(g);
    double g2 = 0;
    for (ptrdiff_t i = 0; i < nx; i++)
        for (int64_t j = 0; j < N; j++)
            for (int64_t l = 0; l < N; l++)
                g2 += gr[(i * N + j) * row + l] * gr[(i * N + j) * row + l];
    MPI_Allreduce(MPI_IN_PLACE, &g2, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    g2 /= (double)(N * N * N);
    const double a = a_rms / sqrt(g2);
    ct_bk_result *rp = NULL, *rm = NULL;
    for (int sign = 1; sign >= -1; sign -= 2) {
        ct_mesh *d = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
        ct_real *dr = ct_mesh_real(d);
        for (ptrdiff_t i = 0; i < nx; i++)
            for (int64_t j = 0; j < N; j++)
                for (int64_t l = 0; l < N; l++) {
                    double v = gr[(i * N + j) * row + l];
                    dr[(i * N + j) * row + l] = v + sign * a * (v * v - g2);
                }
        measure_copy(d, s, 0.0, sign > 0 ? &rp : &rm);
        ct_mesh_destroy(&d);
    }
    *bodd = NULL;
    if (rp && rm && *rg) {
        *bodd = malloc((size_t)rp->ntri * sizeof **bodd);
        for (int t = 0; t < rp->ntri; t++)
            (*bodd)[t] = 0.5 * (rp->B[t] - rm->B[t]);
    }
    *a_out = a;
    ct_bk_result_destroy(&rp);
    ct_bk_result_destroy(&rm);
    ct_mesh_destroy(&g);
}

static void test_gaussian_and_tree(const char *cache)
{
    const int64_t N = 32;
    const double L = 200.0;
    const int R = 16; /* realisations */
    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    s.dk = 3.0;
    s.kmax = 12.0; /* 4 shells of ~10^3 modes: enough triplets per triangle */
    s.cache_dir = cache;
    double *zsum = NULL, *z2 = NULL;
    int ntri = 0;
    double num = 0, den = 0;
    for (int rz = 0; rz < R; rz++) {
        ct_bk_result *rg = NULL;
        double *bodd = NULL, a = 0;
        gaussian_realisation(N, L, -0.5, 1000 + (uint64_t)rz, &s, 0.05, &rg, &bodd, &a);
        if (!rg || !bodd) {
            ct_bk_result_destroy(&rg);
            free(bodd);
            CT_EXPECT(0);
            break;
        }
        if (!zsum) {
            ntri = rg->ntri;
            zsum = calloc((size_t)ntri, sizeof *zsum);
            z2 = calloc((size_t)ntri, sizeof *z2);
        }
        for (int t = 0; t < ntri; t++) {
            /* Gaussian: B is a zero-mean estimate with variance s_t L^3 P1 P2 P3 / C_t
             * (s_t = 1, 2, 6 for 0, 2, 3 equal shells: the Wick pairings of a
             * triplet with its conjugate) */
            const int *j = rg->tri + 3 * t;
            const double *P = rg->P + 3 * t;
            int sym = (j[0] == j[1] && j[1] == j[2]) ? 6 : (j[0] == j[1] || j[1] == j[2]) ? 2 : 1;
            double z = rg->B[t] / sqrt(sym * L * L * L * P[0] * P[1] * P[2] / rg->counts[t]);
            zsum[t] += z;
            z2[t] += z * z;
            /* tree level with the measured shell power of g; weights C_t, since the
             * variance of each estimate falls as 1 / C_t */
            num += rg->counts[t] * bodd[t];
            den += rg->counts[t] * 2 * a * (P[0] * P[1] + P[0] * P[2] + P[1] * P[2]);
        }
        ct_bk_result_destroy(&rg);
        free(bodd);
    }
    if (!zsum)
        return;
    double zmax = 0, rms = 0;
    for (int t = 0; t < ntri; t++) {
        double zm = zsum[t] / sqrt((double)R); /* ~ N(0, 1) if B has zero mean */
        zmax = fabs(zm) > zmax ? fabs(zm) : zmax;
        rms += z2[t];
    }
    rms = sqrt(rms / (R * ntri));
    double ratio = num / den;
    if (ct_test_rank == 0)
        printf("gaussian: %d triangles x %d realisations: max |mean z| sqrt(R) = %.2f, rms z = %.3f\n"
               "tree level: B_odd / B_tree = %.4f\n", ntri, R, zmax, rms, ratio);
    /* zero mean: the largest of the ntri standard-normal means below 4 (p ~ 1e-3
     * over 17 triangles); the variance formula within 20% (the rms of 272
     * correlated z values scatters by ~6%) */
    CT_EXPECT(zmax < 4.0);
    CT_EXPECT(rms > 0.8 && rms < 1.2);
    /* tree level within 4%: the O(a^3) terms are ~ a^2 <g^2> = 0.25%, the
     * averaged noise of the terms linear in a ~1%, and the product of shell
     * powers vs the bin average of products with P ~ k^-1/2 ~1% */
    CT_EXPECT_ABS(ratio, 1.0, 0.04);
    free(zsum);
    free(z2);
}

static void test_poisson(void)
{
    const int64_t N = 64;
    const double L = 100.0;
    const int64_t np = 500;
    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    s.dk = 2.0;
    s.kmax = 10.0; /* |n| < 11 < N/5: the CIC window and its aliases change little */
    ct_mesh *m = particle_mesh(N, L, np, 5, MPI_COMM_WORLD);
    CT_EXPECT_OK(ct_mesh_r2c(m));
    CT_EXPECT_OK(ct_mesh_compensate(m, CT_MAS_CIC));
    ct_bk_result *r = NULL;
    double nbar = (double)np / (L * L * L);
    CT_EXPECT_OK(ct_bk_measure(m, &s, nbar, &r));
    if (r) {
        double b = 0, sn = 0;
        for (int t = 0; t < r->ntri; t++) {
            b += r->counts[t] * r->B[t];
            sn += r->counts[t] * r->Bsn[t];
        }
        if (ct_test_rank == 0)
            printf("poisson: sum B / sum B_SN = %.4f over %d triangles (1/nbar^2 = %.4g)\n", b / sn,
                   r->ntri, 1 / (nbar * nbar));
        /* count-weighted (variance ~ s Np / C per triangle); over seeds this
         * ratio scatters by ~2%: 6% allows that plus the residual CIC window and
         * aliasing (~1% at |n| <= N/6) */
        CT_EXPECT_ABS(b / sn, 1.0, 0.06);
    }
    ct_bk_result_destroy(&r);
    ct_mesh_destroy(&m);
}

/* float32 shells against the float64 path on a grid-64 particle field (10
 * shells of 2 kF, 180 triangles): B within 1e-6 relative per triangle, the
 * issue's bound for float32 paths (the expected difference is the fields'
 * rounding, ~3 x 6e-8 of sum |f1 f2 f3| / |sum f1 f2 f3|); counts and shell
 * power identical (both are float64 whatever the shells). Under one budget the
 * float shells need at most half the passes of double ones. */
static void test_f32_shells(void)
{
    const int64_t N = 64;
    const double L = 1000.0;
    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    s.dk = 2.0;
    s.kmax = 20.0; /* 3 x 21 kF < N: true triangles only */
    ct_mesh *m = particle_mesh(N, L, 20000, 11, MPI_COMM_WORLD);
    CT_EXPECT_OK(ct_mesh_r2c(m));
    CT_EXPECT_OK(ct_mesh_compensate(m, CT_MAS_CIC));
    double nbar = 20000 / (L * L * L);
    ct_bk_result *r64 = NULL, *r32 = NULL, *rb64 = NULL, *rb32 = NULL;
    CT_EXPECT_OK(ct_bk_measure(m, &s, nbar, &r64));
    ct_bk_settings s32 = s;
    s32.shell_f32 = 1;
    CT_EXPECT_OK(ct_bk_measure(m, &s32, nbar, &r32));
    if (r64 && r32) {
        CT_EXPECT(r32->ntri == r64->ntri && r64->ntri > 100);
        double worst = 0;
        int nb = 0;
        for (int t = 0; t < r64->ntri; t++) {
            CT_EXPECT(r32->counts[t] == r64->counts[t]);
            CT_EXPECT(r32->P[3 * t] == r64->P[3 * t]);
            if (!(r64->counts[t] > 0))
                continue;
            double d = fabs(r32->B[t] - r64->B[t]) / fabs(r64->B[t]);
            worst = d > worst ? d : worst;
            nb++;
        }
        if (ct_test_rank == 0)
            printf("float32 shells: %d triangles, max |B32 - B64| / |B64| = %.3g\n", nb, worst);
        CT_EXPECT(nb > 100);
        CT_EXPECT(worst <= 1e-6);
    }
    /* the budget estimate: the work mesh (its largest slab plus ghost planes) and
     * the shell table are fixed; each pass holds every shell for some x-planes
     * of N^2 values of 8 bytes, or 4 with float shells. A budget of 1.5 double
     * planes per shell gives 1 plane per pass in double and 3 in float. */
    {
        ptrdiff_t x0, nx, y0, ny;
        ct_mesh_local(m, &x0, &nx);
        ct_mesh_klocal(m, &y0, &ny);
        const double row = (double)ct_mesh_row(m), n = (double)N;
        const double planes = (double)(nx > ny ? nx : ny) + CT_MESH_GHOST_LO + CT_MESH_GHOST_HI;
        double budget = planes * n * row * sizeof(ct_real) + (double)ny * n * (row / 2) * 2 +
                        r64->nshell * 1.5 * n * n * 8;
        long nxmax = (long)nx;
        MPI_Allreduce(MPI_IN_PLACE, &budget, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, &nxmax, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
        s.mem_budget = s32.mem_budget = budget;
        s.cache_dir = s32.cache_dir = NULL;
        CT_EXPECT_OK(ct_bk_measure(m, &s, nbar, &rb64));
        CT_EXPECT_OK(ct_bk_measure(m, &s32, nbar, &rb32));
        if (rb64 && rb32) {
            if (ct_test_rank == 0)
                printf("budget %.0f bytes: %ld passes of double shells, %ld of float shells\n",
                       budget, rb64->nchunk, rb32->nchunk);
            CT_EXPECT(rb64->nchunk == nxmax);
            CT_EXPECT(rb32->nchunk == (nxmax + 2) / 3);
            for (int t = 0; t < r32->ntri; t++)
                if (r32->counts[t] > 0)
                    CT_EXPECT_REL(rb32->B[t], r32->B[t], 1e-9);
        }
    }
    ct_bk_result_destroy(&r64);
    ct_bk_result_destroy(&r32);
    ct_bk_result_destroy(&rb64);
    ct_bk_result_destroy(&rb32);
    ct_mesh_destroy(&m);
}

static void test_errors(void)
{
    ct_mesh *m = ct_test_new_mesh(12, 50.0, 1, MPI_COMM_WORLD);
    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    ct_bk_result *r = NULL;
    /* real space */
    CT_EXPECT(ct_bk_measure(m, &s, 0.0, &r) == CT_ERR_STATE);
    CT_EXPECT_OK(ct_mesh_r2c(m));
    /* kmax beyond the grid */
    CT_EXPECT(ct_bk_measure(m, &s, 0.0, &r) == CT_ERR_ARG);
    /* a budget below three shell fields */
    s.kmax = 4;
    s.dk = 1;
    s.mem_budget = 1000;
    CT_EXPECT(ct_bk_measure(m, &s, 0.0, &r) == CT_ERR_ARG);
    CT_EXPECT(strstr(ct_error_message(), "memory budget") != NULL);
    CT_EXPECT(r == NULL);
    ct_error_clear();
    ct_mesh_destroy(&m);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm_size(MPI_COMM_WORLD, &nrank);
    char dir[64] = "";
    if (ct_test_rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/ct_bk_meshXXXXXX");
        if (!mkdtemp(dir))
            dir[0] = 0;
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    test_brute_force(12, 64, dir);
    test_brute_force(14, 40, NULL);
    test_brute_force(16, 64, NULL);
    test_gaussian_and_tree(dir);
    test_poisson();
    test_f32_shells();
    test_errors();
    if (ct_test_rank == 0 && dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    CT_TEST_END();
}
