/* Bispectrum building blocks without the mesh: Quijote triangle enumeration,
 * the blocked triangle-sum engine against a brute-force sum over mode triplets,
 * the memory-budget batching, the count cache, the mark and the top-hat window. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/stats/bk_internal.h"
#include "cosmotl/stats.h"
#include "test_bk_ref.h"
#include "testlib.h"

/* Under ASan/LSan (the sanitize build) LSan's scan of dynamic TLS crashes once
 * HDF5 and Open MPI have loaded their plugins; skipping TLS can only add leak
 * reports, never hide one (same workaround as the snapshot tests). */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }
/* ... which makes libgomp's thread pool, kept in TLS until exit, look leaked */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libgomp\n"; }

typedef struct {
    int N;
    double dk;
    const double complex *d;
    int f32; /* write float planes (the engine's f32) */
} naive_ctx;

/* shell field by a naive inverse DFT: f(x) = sum_{q in shell} d(q) e^{i q.x},
 * x-planes [p0, p0 + np) */
static ct_status naive_fill(void *vctx, int shell, ptrdiff_t p0, ptrdiff_t np, void *out)
{
    naive_ctx *c = vctx;
    int N = c->N;
    size_t N3 = (size_t)N * N * N;
    double *f = calloc(N3, sizeof *f);
    for (size_t q = 0; q < N3; q++) {
        int a = (int)(q / ((size_t)N * N)), b = (int)(q / N % N), cc = (int)(q % N);
        if (ref_shell(a, b, cc, N, c->dk) != shell)
            continue;
        double complex dq = c->d ? c->d[q] : 1.0;
        for (size_t x = 0; x < N3; x++) {
            int i = (int)(x / ((size_t)N * N)), j = (int)(x / N % N), k = (int)(x % N);
            double ph = 2.0 * M_PI * (double)((a * i + b * j + cc * k) % N) / N;
            f[x] += creal(dq * cexp(I * ph));
        }
    }
    if (c->f32)
        for (size_t x = 0; x < (size_t)np * N * N; x++)
            ((float *)out)[x] = (float)f[(size_t)p0 * N * N + x];
    else
        memcpy(out, f + (size_t)p0 * N * N, (size_t)np * N * N * sizeof *f);
    free(f);
    return CT_OK;
}

static void test_triangles(void)
{
    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    int *tri = NULL, ntri = 0, ns = 0;
    CT_EXPECT_OK(ct_bk_triangles(&s, &tri, &ntri, &ns));
    /* Quijote: dk = 3 kF, k1 <= 78 kF gives exactly 1898 triangles in 26 shells */
    CT_EXPECT(ntri == 1898);
    CT_EXPECT(ns == 26);
    /* order: k1 >= k2 >= k3 >= max(k1 - k2, 1), ascending j1, then j2, then j3 */
    int ok = 1;
    for (int t = 0; t < ntri; t++) {
        int *j = tri + 3 * t;
        ok &= j[0] >= j[1] && j[1] >= j[2] && j[2] >= (j[0] - j[1] > 1 ? j[0] - j[1] : 1);
        if (t > 0) {
            int *p = j - 3;
            ok &= (p[0] < j[0]) || (p[0] == j[0] && p[1] < j[1]) ||
                  (p[0] == j[0] && p[1] == j[1] && p[2] < j[2]);
        }
    }
    CT_EXPECT(ok);
    CT_EXPECT(tri[0] == 1 && tri[1] == 1 && tri[2] == 1);
    /* the degenerate triangle (2,1,1) follows (1,1,1) */
    CT_EXPECT(tri[3] == 2 && tri[4] == 1 && tri[5] == 1);
    free(tri);
    s.kmax = 120;
    CT_EXPECT_OK(ct_bk_triangles(&s, &tri, &ntri, &ns));
    CT_EXPECT(ntri == 6350); /* Quijote's count up to 120 kF */
    free(tri);
    s.kmax = 2;
    CT_EXPECT(ct_bk_triangles(&s, &tri, &ntri, &ns) == CT_ERR_ARG);
    s.kmax = 78;
    s.dk = 0;
    CT_EXPECT(ct_bk_triangles(&s, &tri, &ntri, &ns) == CT_ERR_ARG);
    ct_error_clear();
    /* shell edges: |n| = 1.5 dk belongs to the upper shell, as int(|n|/dk + 0.5) */
    CT_EXPECT(ct_bk_shell_of(4.5 * 4.5, 3.0) == 2);
    CT_EXPECT(ct_bk_shell_of(4.49 * 4.49, 3.0) == 1);
    CT_EXPECT(ct_bk_shell_of(78.0 * 78.0, 3.0) == 26);
}

static void test_engine(void)
{
    const int N = 10;
    const double dk = 1.0;
    size_t N3 = (size_t)N * N * N;
    double *f = malloc(N3 * sizeof *f);
    double complex *d = malloc(N3 * sizeof *d);
    ct_rng r;
    ct_rng_init(&r, 7, 0, 0);
    for (size_t x = 0; x < N3; x++)
        f[x] = ct_rng_normal(&r) + 0.3 * ct_rng_uniform(&r);
    ref_dft(f, N, d);

    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    s.dk = dk;
    s.kmax = 7; /* 3 kmax > N: aliased closures occur and must be counted too */
    int *tri = NULL, ntri = 0, ns = 0;
    CT_EXPECT_OK(ct_bk_triangles(&s, &tri, &ntri, &ns));
    double *ref = malloc((size_t)ntri * sizeof *ref), *cnt = malloc((size_t)ntri * sizeof *cnt);
    ref_triangles(d, N, dk, ntri, tri, ref, cnt);

    naive_ctx ctx = {N, dk, d, 0};
    ct_bk_engine e = {ntri,     tri,  ns,   (size_t)N * N, N, 1, 0, 1, 0, naive_fill,
                      &ctx,     MPI_COMM_WORLD, NULL, NULL};
    double *sums = malloc((size_t)ntri * sizeof *sums), *sums2 = malloc((size_t)ntri * sizeof *sums2);
    ct_bk_engine_stats st;
    CT_EXPECT_OK(ct_bk_engine_run(&e, sums, &st));
    CT_EXPECT(st.nfill == ns); /* every shell transformed exactly once */
    /* sum_x f1 f2 f3 = N^3 sum over triplets; 1e-11 covers double round-off of
     * sums of ~1e3 terms of both signs (the references agree to ~1e-13) */
    double worst = 0;
    for (int t = 0; t < ntri; t++) {
        double scale = fabs(ref[t]) > 1e-12 ? fabs(ref[t]) : 1e-12;
        double rel = fabs(sums[t] / (double)N3 - ref[t]) / scale;
        worst = rel > worst ? rel : worst;
    }
    CT_EXPECT(worst < 1e-9);
    CT_EXPECT(ntri > 50);

    /* passes under a tight budget (3 planes, 4 planes with one short pass, one
     * plane each): same sums, nshell transforms per pass */
    long passes[3] = {4, 3, N};
    for (int q = 0; q < 3; q++) {
        e.nchunk = passes[q];
        CT_EXPECT_OK(ct_bk_engine_run(&e, sums2, &st));
        for (int t = 0; t < ntri; t++)
            CT_EXPECT_ABS(sums2[t], sums[t], 1e-12 * fabs(sums[t]) + 1e-14);
        CT_EXPECT(st.nfill == ns * passes[q]);
    }
    e.nchunk = 1;
    /* the older per-triangle approach: same sums */
    e.per_triangle = 1;
    CT_EXPECT_OK(ct_bk_engine_run(&e, sums2, &st));
    for (int t = 0; t < ntri; t++)
        CT_EXPECT_REL(sums2[t], sums[t], 1e-12);
    CT_EXPECT(st.nfill > 2 * ntri);
    e.per_triangle = 0;

    /* float32 shells: each field rounded to float once, the product of two in
     * double (exact: 24 + 24 bits) and every multiply-add in double. Against a
     * long-double sum of the float-rounded fields the engine agrees to double
     * round-off (1e-12 of sum |f1 f2 f3|; a float product or float accumulation
     * would be off by ~1e-8 of it), and against the double fields within the
     * fields' rounding: |f32 - f64| <= 3 u sum |f1 f2 f3|, u = 2^-24. */
    {
        double *fld = malloc((size_t)ns * N3 * sizeof *fld);
        for (int j = 1; j <= ns; j++)
            CT_EXPECT_OK(naive_fill(&ctx, j, 0, N, fld + (size_t)(j - 1) * N3));
        naive_ctx ctx32 = ctx;
        ctx32.f32 = 1;
        e.ctx = &ctx32;
        e.f32 = 1;
        CT_EXPECT_OK(ct_bk_engine_run(&e, sums2, &st));
        CT_EXPECT(st.nfill == ns);
        e.nchunk = 3; /* passes: the same float path */
        double *sums3 = malloc((size_t)ntri * sizeof *sums3);
        CT_EXPECT_OK(ct_bk_engine_run(&e, sums3, &st));
        e.nchunk = 1;
        e.f32 = 0;
        e.ctx = &ctx;
        double worst_ref = 0, worst_64 = 0, worst_pass = 0;
        for (int t = 0; t < ntri; t++) {
            const double *a1 = fld + (size_t)(tri[3 * t] - 1) * N3,
                         *a2 = fld + (size_t)(tri[3 * t + 1] - 1) * N3,
                         *a3 = fld + (size_t)(tri[3 * t + 2] - 1) * N3;
            long double ref32 = 0, mag = 0;
            for (size_t x = 0; x < N3; x++) {
                long double v = (long double)(float)a1[x] * (float)a2[x] * (float)a3[x];
                ref32 += v;
                mag += fabsl((long double)a1[x] * a2[x] * a3[x]);
            }
            double m = (double)mag > 1e-300 ? (double)mag : 1e-300;
            double e_ref = fabs(sums2[t] - (double)ref32) / m;
            double e_64 = fabs(sums2[t] - sums[t]) / m / ldexp(1.0, -24);
            double e_pass = fabs(sums3[t] - sums2[t]) / m;
            worst_ref = e_ref > worst_ref ? e_ref : worst_ref;
            worst_64 = e_64 > worst_64 ? e_64 : worst_64;
            worst_pass = e_pass > worst_pass ? e_pass : worst_pass;
        }
        CT_EXPECT(worst_ref < 1e-12);
        CT_EXPECT(worst_64 <= 3.0);
        CT_EXPECT(worst_64 > 0); /* the floats are really used */
        CT_EXPECT(worst_pass < 1e-12);
        free(sums3);
        free(fld);
    }

    /* counts: indicator fields give N^3 x the number of closed triplets, exactly */
    naive_ctx ones = {N, dk, NULL, 0};
    e.ctx = &ones;
    CT_EXPECT_OK(ct_bk_engine_run(&e, sums2, &st));
    for (int t = 0; t < ntri; t++)
        CT_EXPECT_ABS(sums2[t] / (double)N3, cnt[t], 1e-6);
    /* no passes is refused */
    e.nchunk = 0;
    CT_EXPECT(ct_bk_engine_run(&e, sums2, &st) == CT_ERR_ARG);
    ct_error_clear();

    free(f);
    free(d);
    free(tri);
    free(ref);
    free(cnt);
    free(sums);
    free(sums2);
}

static void test_cache(void)
{
    char dir[] = "/tmp/ct_bk_cacheXXXXXX";
    CT_EXPECT(mkdtemp(dir) != NULL);
    int tri[6] = {1, 1, 1, 2, 1, 1};
    double c[2] = {12, 30}, back[2] = {0, 0};
    int found = -1;
    CT_EXPECT_OK(ct_bk_counts_load(dir, 16, 1.0, 2, 2, tri, back, &found, MPI_COMM_WORLD));
    CT_EXPECT(found == 0);
    CT_EXPECT_OK(ct_bk_counts_save(dir, 16, 1.0, 2, 2, tri, c, MPI_COMM_WORLD));
    CT_EXPECT_OK(ct_bk_counts_load(dir, 16, 1.0, 2, 2, tri, back, &found, MPI_COMM_WORLD));
    CT_EXPECT(found == 1);
    CT_EXPECT(back[0] == 12 && back[1] == 30);
    /* a different triangle list is a miss, not a wrong answer */
    int tri2[6] = {1, 1, 1, 2, 2, 1};
    ct_log_set_level(CT_LOG_ERROR);
    CT_EXPECT_OK(ct_bk_counts_load(dir, 16, 1.0, 2, 2, tri2, back, &found, MPI_COMM_WORLD));
    CT_EXPECT(found == 0);
    /* a truncated file is a miss as well */
    char *path = NULL;
    CT_EXPECT_OK(ct_bk_counts_path(&path, dir, 16, 1.0, 2));
    CT_EXPECT(truncate(path, 100) == 0);
    CT_EXPECT_OK(ct_bk_counts_load(dir, 16, 1.0, 2, 2, tri, back, &found, MPI_COMM_WORLD));
    CT_EXPECT(found == 0);
    ct_log_set_level(CT_LOG_WARN);
    unlink(path);
    free(path);
    rmdir(dir);
    /* the cache file's name for a folder of any length (was a 4096-byte buffer:
     * "path too long"), joined with one slash */
    char *longdir = calloc(5002, 1);
    if (longdir) {
        memset(longdir, 'c', 5000);
        longdir[0] = '/';
        longdir[5000] = '/';
        CT_EXPECT_OK(ct_bk_counts_path(&path, longdir, 16, 1.0, 2));
        CT_EXPECT(path && strlen(path) == 5001 + strlen("bk_counts_N16_dk1_k2.h5") &&
                  !strcmp(path + 5001, "bk_counts_N16_dk1_k2.h5"));
        free(path);
        free(longdir);
    }
}

static void test_mark(void)
{
    ct_mk_settings m;
    ct_mk_settings_defaults(&m);
    CT_EXPECT(m.R == 10 && m.p == 2 && m.delta_s == 0.25);
    /* mean density: m = 1; a void (dR = -1): (1.25/0.25)^2 = 25; dR = 1: (1.25/2.25)^2 */
    CT_EXPECT_REL(ct_mk_mark(&m, 0.0), 1.0, 1e-15);
    CT_EXPECT_REL(ct_mk_mark(&m, -1.0), 25.0, 1e-14);
    CT_EXPECT_REL(ct_mk_mark(&m, 1.0), (1.25 / 2.25) * (1.25 / 2.25), 1e-14);
    CT_EXPECT(isnan(ct_mk_mark(&m, -1.3)));
    m.p = 0;
    CT_EXPECT(ct_mk_mark(&m, 3.7) == 1.0);
    /* window: the small-x series against the closed form in long double (whose
     * cancellation error at x = 0.05 is ~1e-19 / 4e-5 = 3e-15) */
    for (double x = 0.01; x < 0.1; x += 0.02) {
        long double xl = x;
        double exact = (double)(3.0L * (sinl(xl) - xl * cosl(xl)) / (xl * xl * xl));
        CT_EXPECT_REL(ct_tophat_window(x), exact, 1e-13);
    }
    CT_EXPECT_REL(ct_tophat_window(0.0999999), ct_tophat_window(0.1000001), 1e-8);
    CT_EXPECT(ct_tophat_window(0) == 1.0);
    /* first zero of the top-hat window: tan x = x at x = 4.4934094579 */
    CT_EXPECT_ABS(ct_tophat_window(4.4934094579090642), 0.0, 1e-12);
    CT_EXPECT_REL(ct_tophat_window(1.0), 3.0 * (sin(1.0) - cos(1.0)), 1e-15);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    test_triangles();
    test_engine();
    test_cache();
    test_mark();
    CT_TEST_END();
}
