/* Mesh on one rank: painting against a brute-force kernel sum over every grid
 * point, r2c against a direct DFT, round trip, the k-space iterator's counts,
 * readout against brute force, and thread-count independence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/mesh.h"
#include "mesh_testlib.h"
#include "testlib.h"

/* Kernel of order p at (signed) distance d in cells, from the definitions in
 * the Quijote/Pylians conventions (written independently of paint.c's start-index logic). */
static double W(int p, double d)
{
    d = fabs(d);
    switch (p) {
    case 1: return d < 0.5 ? 1.0 : (d == 0.5 ? 0.0 : 0.0);
    case 2: return d < 1.0 ? 1.0 - d : 0.0;
    case 3: return d < 0.5 ? 0.75 - d * d : d < 1.5 ? 0.5 * (1.5 - d) * (1.5 - d) : 0.0;
    default:
        return d < 1.0 ? (4.0 - 6.0 * d * d + 3.0 * d * d * d) / 6.0
               : d < 2.0 ? pow(2.0 - d, 3) / 6.0 : 0.0;
    }
}

/* periodic signed distance grid point g - s in cells, in [-N/2, N/2) */
static double pdist(double g, double s, int N)
{
    double d = fmod(g - s, (double)N);
    if (d < -0.5 * N)
        d += N;
    if (d >= 0.5 * N)
        d -= N;
    return d;
}

static double brute_cell(int p, int N, double H, double shift, int np, const float *pos,
                         const float *w, int i, int j, int l)
{
    double v = 0;
    for (int q = 0; q < np; q++) {
        double sx = pos[3 * q] / H + shift, sy = pos[3 * q + 1] / H + shift,
               sz = pos[3 * q + 2] / H + shift;
        double wx, wy, wz;
        if (p == 1) {
            /* NGP: i = (int)(s + 0.5) modulo N, as Pylians */
            int ix = (int)floor(sx + 0.5) % N, iy = (int)floor(sy + 0.5) % N,
                iz = (int)floor(sz + 0.5) % N;
            wx = ix == i;
            wy = iy == j;
            wz = iz == l;
        } else {
            wx = W(p, pdist(i, sx, N));
            wy = W(p, pdist(j, sy, N));
            wz = W(p, pdist(l, sz, N));
        }
        v += w[q] * wx * wy * wz;
    }
    return v;
}

/* Positions are checked in blocks of 64 (CT_MESH_BLOCK): one bad particle at
 * any index of any block, in any coordinate, is refused by painting (one and two
 * threads) and readout with its index in the message, and by the exchange if it
 * is not finite; out-of-box finite positions are wrapped by the exchange exactly
 * as fmod would, the others left alone. */
static void test_bad_positions(MPI_Comm comm)
{
    const int N = 16, n = 200;
    const double L = 100;
    const int where[] = {0, 63, 64, 130, 199};
    const float bads[] = {NAN, INFINITY, -1e-3f, (float)L, 1e30f};
    for (int th = 1; th <= 2; th++) {
        ct_mesh *m = ct_test_new_mesh(N, L, th, comm);
        ct_paint_settings ps;
        ct_paint_settings_defaults(&ps);
        float *pos = malloc(sizeof(float) * 3 * n);
        double *out = malloc(sizeof(double) * n);
        for (int w = 0; w < (int)(sizeof where / sizeof *where); w++)
            for (int b = 0; b < (int)(sizeof bads / sizeof *bads); b++)
                for (int a = 0; a < 3; a++) {
                    for (int i = 0; i < 3 * n; i++)
                        pos[i] = (float)fmod(0.37 * i + 0.11, L);
                    pos[3 * where[w] + a] = bads[b];
                    char want[64];
                    snprintf(want, sizeof want, "particle %d at", where[w]);
                    CT_EXPECT(ct_mesh_first_outside(n, pos, L) == where[w]);
                    const ct_status rp = ct_mesh_paint(m, &ps, n, pos, NULL, 1.0);
                    CT_EXPECT(rp == CT_ERR_ARG && strstr(ct_error_message(), want));
                    if (th == 1) {
                        const float good[3] = {1, 1, 1}; /* a real-space mesh to read */
                        CT_EXPECT_OK(ct_mesh_paint(m, &ps, 1, good, NULL, 1.0));
                        CT_EXPECT(ct_mesh_readout(m, CT_MAS_CIC, n, pos, out) == CT_ERR_ARG &&
                                  strstr(ct_error_message(), want));
                    }
                    /* the exchange: non-finite is an error naming the particle;
                     * the rest wraps into [0, L) */
                    int64_t nn = n;
                    float *copy = malloc(sizeof(float) * 3 * n);
                    memcpy(copy, pos, sizeof(float) * 3 * n);
                    const ct_status re = ct_mesh_exchange(m, &nn, &copy, 0, NULL);
                    if (!isfinite(bads[b])) {
                        snprintf(want, sizeof want, "particle %d has", where[w]);
                        CT_EXPECT(re == CT_ERR_NUMERIC && strstr(ct_error_message(), want));
                    } else {
                        CT_EXPECT_OK(re);
                        int same = nn == n;
                        for (int i = 0; same && i < 3 * n; i++) {
                            double x = fmod((double)pos[i], L);
                            float f = (float)(x < 0 ? x + L : x);
                            f = f >= (float)L ? 0.0f : f;
                            same = copy[i] == f && copy[i] >= 0 && copy[i] < (float)L;
                        }
                        CT_EXPECT(same);
                        CT_EXPECT_OK(ct_mesh_paint(m, &ps, nn, copy, NULL, 1.0));
                    }
                    free(copy);
                }
        free(pos);
        free(out);
        ct_mesh_destroy(&m);
    }
}

/* ct_mesh_first_outside across its 4096-particle blocks: the first bad index
 * whatever comes after it; L itself is outside, the float below L and -0 are
 * inside; compared in double (a box that float cannot hold exactly). */
static void test_first_outside(void)
{
    const int64_t n = 10000;
    float *pos = malloc(sizeof(float) * 3 * n);
    const double L = 100.1; /* not a float: the floats around it */
    const float above = (double)(float)L >= L ? (float)L : nextafterf((float)L, INFINITY);
    const float below = nextafterf(above, 0.0f);
    const int64_t where[] = {0, 4095, 4096, 8191, 9999};
    for (int64_t i = 0; i < 3 * n; i++)
        pos[i] = (float)fmod(0.37 * (double)i + 0.11, 100.0);
    pos[5] = -0.0f;
    pos[7] = below;
    CT_EXPECT(ct_mesh_first_outside(n, pos, L) == -1 && ct_mesh_first_outside(0, pos, L) == -1);
    for (int w = 0; w < 5; w++) {
        const float keep = pos[3 * where[w] + 2];
        pos[3 * where[w] + 2] = above;
        pos[3 * n - 1] = NAN; /* a later bad one does not matter */
        CT_EXPECT(ct_mesh_first_outside(n, pos, L) == where[w]);
        pos[3 * where[w] + 2] = keep;
        pos[3 * n - 1] = 1.0f;
    }
    free(pos);
}

/* ct_mesh_c2r_unnormalised followed by the multiplication by ct_mesh_inv_n3 in
 * the mesh's precision gives ct_mesh_c2r's values bit for bit (exact equality:
 * the same operations in the same precision), and modes written through the
 * complex view and declared by ct_mesh_set_fourier transform like r2c's own. */
static void test_c2r_unnormalised(MPI_Comm comm)
{
    const int N = 12;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = 50.0;
    ct_mesh *a = NULL, *b = NULL;
    CT_EXPECT_OK(ct_mesh_create(&a, &ms, comm));
    CT_EXPECT_OK(ct_mesh_create(&b, &ms, comm));
    if (!a || !b)
        goto done;
    ct_rng rng;
    ct_rng_init(&rng, 7, 0, 0);
    const ptrdiff_t row = ct_mesh_row(a);
    for (int i = 0; i < N * N; i++)
        for (int l = 0; l < N; l++)
            ct_mesh_real(a)[i * row + l] = (ct_real)ct_rng_normal(&rng);
    CT_EXPECT_OK(ct_mesh_r2c(a));
    /* b: a's modes copied through the complex view */
    memcpy(ct_mesh_complex(b), ct_mesh_complex(a),
           sizeof(ct_complex) * (size_t)N * N * (N / 2 + 1));
    CT_EXPECT(!ct_mesh_is_fourier(b));
    CT_EXPECT(ct_mesh_c2r_unnormalised(b) == CT_ERR_STATE);
    ct_mesh_set_fourier(b);
    CT_EXPECT(ct_mesh_is_fourier(b));
    CT_EXPECT_OK(ct_mesh_c2r(a));
    CT_EXPECT_OK(ct_mesh_c2r_unnormalised(b));
    CT_EXPECT(!ct_mesh_is_fourier(b));
    const ct_real inv = ct_mesh_inv_n3(b);
    CT_EXPECT(inv == (ct_real)(1.0 / (N * N * N)));
    long differ = 0;
    for (int i = 0; i < N * N; i++)
        for (int l = 0; l < N; l++) {
            const ct_real v = ct_mesh_real(b)[i * row + l] * inv;
            differ += v != ct_mesh_real(a)[i * row + l];
        }
    CT_EXPECT(differ == 0);
done:
    ct_mesh_destroy(&a);
    ct_mesh_destroy(&b);
}

static int hugetlb_notes = 0;
static void hugetlb_hook(ct_log_level level, int rank, const char *line, void *user)
{
    (void)rank;
    (void)user;
    if (level == CT_LOG_WARN && strstr(line, "CT_HUGETLB=1") && strstr(line, "ordinary memory"))
        hugetlb_notes++;
}

static long huge_pages_free(void) { return (long)ct_meminfo("HugePages_Free"); }

/* CT_HUGETLB=1: the mesh comes from the huge page pool, or (pool too small, as
 * on a machine without one) from ordinary memory with one note; either way it
 * paints and transforms exactly as an ordinary mesh (exact equality: the same
 * operations on the same values). */
static void test_hugetlb(MPI_Comm comm)
{
    const int N = 32, np = 500;
    const double L = 64.0;
    ct_rng rng;
    ct_rng_init(&rng, 3, 0, 0);
    float *pos = malloc(sizeof(float) * 3 * np);
    for (int i = 0; i < 3 * np; i++)
        pos[i] = (float)(ct_rng_uniform(&rng) * L);
    ct_mesh *a = ct_test_new_mesh(N, L, 1, comm);
    const long before = huge_pages_free();
    setenv("CT_HUGETLB", "1", 1);
    hugetlb_notes = 0;
    ct_log_set_hook(hugetlb_hook, NULL);
    ct_mesh *b = ct_test_new_mesh(N, L, 1, comm);
    ct_log_set_hook(NULL, NULL);
    unsetenv("CT_HUGETLB");
    /* a 32^3 mesh with ghosts needs 36 x 32 x 34 doubles = 306 KiB: one 2 MiB page */
    /* an empty pool (the default): the fallback and its note (with a pool, other
     * processes may take its pages meanwhile: either path is right then) */
    if (before == 0)
        CT_EXPECT(hugetlb_notes == 1);
    if (a && b) {
        ct_paint_settings ps;
        ct_paint_settings_defaults(&ps);
        CT_EXPECT_OK(ct_mesh_paint(a, &ps, np, pos, NULL, 1.0));
        CT_EXPECT_OK(ct_mesh_paint(b, &ps, np, pos, NULL, 1.0));
        CT_EXPECT_OK(ct_mesh_r2c(a));
        CT_EXPECT_OK(ct_mesh_r2c(b));
        CT_EXPECT(!memcmp(ct_mesh_complex(a), ct_mesh_complex(b),
                          sizeof(ct_complex) * (size_t)N * N * (N / 2 + 1)));
    }
    ct_mesh_destroy(&a);
    ct_mesh_destroy(&b);
    free(pos);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm comm = MPI_COMM_SELF;
    test_hugetlb(comm);
    test_first_outside();
    ct_rng rng;
    ct_rng_init(&rng, 42, 0, 0);

    const int sizes[] = {8, 12, 16};
    for (int si = 0; si < 3; si++) {
        const int N = sizes[si];
        const double L = 100.0 + 7 * si, H = L / N;
        ct_mesh_settings ms;
        ct_mesh_settings_defaults(&ms);
        ms.n = N;
        ms.box = L;
        ct_mesh *m = NULL;
        CT_EXPECT_OK(ct_mesh_create(&m, &ms, comm));
        if (!m)
            continue;
        const int np = 60 + 10 * si;
        float *pos = malloc(sizeof(float) * 3 * np);
        float *w = malloc(sizeof(float) * np);
        for (int q = 0; q < np; q++) {
            for (int a = 0; a < 3; a++)
                pos[3 * q + a] = (float)(ct_rng_uniform(&rng) * L);
            w[q] = (float)(0.5 + ct_rng_uniform(&rng));
        }
        /* edge cases: on a plane, at 0, at the last plane, at L - eps */
        pos[0] = 0.0f;
        pos[3] = (float)(H * (N - 1));
        pos[6] = nextafterf((float)L, 0.0f);
        pos[9 + 1] = nextafterf((float)L, 0.0f);

        for (int p = 1; p <= 4; p++) {
            for (int sh = 0; sh < 2; sh++) {
                ct_paint_settings ps;
                ct_paint_settings_defaults(&ps);
                ps.mas = (ct_mas)p;
                ps.shift = 0.5 * sh;
                CT_EXPECT_OK(ct_mesh_paint(m, &ps, np, pos, w, 0));
                const ct_real *r = ct_mesh_real(m);
                double maxerr = 0, maxv = 0, total = 0, wsum = 0;
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < N; j++)
                        for (int l = 0; l < N; l++) {
                            double b = brute_cell(p, N, H, ps.shift, np, pos, w, i, j, l);
                            double v = r[((size_t)i * N + j) * ct_mesh_row(m) + l];
                            maxerr = fmax(maxerr, fabs(v - b));
                            maxv = fmax(maxv, fabs(b));
                            total += v;
                        }
                for (int q = 0; q < np; q++)
                    wsum += w[q];
                /* single: a cell is a float sum of at most k positive pieces,
                 * each rounded once and added once: within k u of its value;
                 * the total (a double sum) then within k u too */
                const int k = ct_test_max_cell_hits(N, L, p, ps.shift, np, pos);
                const double tol = CT_TOL(1e-12, k * CT_FLOAT_U);
                /* the kernels sum to one: mass conserved to round-off */
                CT_EXPECT_REL(total, wsum, tol);
                /* float positions are exact in double: agreement to round-off */
                if (!(maxerr <= tol * maxv)) {
                    fprintf(stderr, "paint N=%d p=%d shift=%g: max err %g (max %g)\n", N, p,
                            ps.shift, maxerr, maxv);
                    ct_test_failures++;
                }

                if (sh == 0) {
                    /* readout of the painted field vs brute force */
                    double *out = malloc(sizeof(double) * np);
                    CT_EXPECT_OK(ct_mesh_readout(m, (ct_mas)p, np, pos, out));
                    double rerr = 0, rmax = 0;
                    for (int q = 0; q < np; q++) {
                        double b = 0;
                        double sx = pos[3 * q] / H, sy = pos[3 * q + 1] / H, sz = pos[3 * q + 2] / H;
                        for (int i = 0; i < N; i++)
                            for (int j = 0; j < N; j++)
                                for (int l = 0; l < N; l++) {
                                    double wk;
                                    if (p == 1)
                                        wk = ((int)floor(sx + 0.5) % N == i) &&
                                             ((int)floor(sy + 0.5) % N == j) &&
                                             ((int)floor(sz + 0.5) % N == l);
                                    else
                                        wk = W(p, pdist(i, sx, N)) * W(p, pdist(j, sy, N)) *
                                             W(p, pdist(l, sz, N));
                                    if (wk != 0)
                                        b += wk * r[((size_t)i * N + j) * ct_mesh_row(m) + l];
                                }
                        rerr = fmax(rerr, fabs(out[q] - b));
                        rmax = fmax(rmax, fabs(b));
                    }
                    if (!(rerr <= 1e-12 * rmax)) {
                        fprintf(stderr, "readout N=%d p=%d: max err %g\n", N, p, rerr);
                        ct_test_failures++;
                    }
                    free(out);
                }
            }
        }

        /* r2c of a CIC grid against a direct DFT of the same grid, every mode */
        {
            ct_paint_settings ps;
            ct_paint_settings_defaults(&ps);
            CT_EXPECT_OK(ct_mesh_paint(m, &ps, np, pos, w, 0));
            size_t nr = (size_t)N * N * N;
            double *g = malloc(sizeof(double) * nr);
            const ct_real *r = ct_mesh_real(m);
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++)
                    for (int l = 0; l < N; l++)
                        g[((size_t)i * N + j) * N + l] = r[((size_t)i * N + j) * ct_mesh_row(m) + l];
            CT_EXPECT_OK(ct_mesh_r2c(m));
            const ct_complex *c = ct_mesh_complex(m);
            ptrdiff_t y0, ny;
            ct_mesh_klocal(m, &y0, &ny);
            CT_EXPECT(y0 == 0 && ny == N);
            double maxerr = 0, maxv = 0;
            int64_t count_w = 0, count_m = 0, visited = 0;
            ct_kiter it;
            for (ct_kiter_begin(&it, m, 0, ny); ct_kiter_valid(&it); ct_kiter_next(&it)) {
                const ct_kmode *k = &it.mode;
                double re = 0, im = 0;
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < N; j++)
                        for (int l = 0; l < N; l++) {
                            double ph = -2 * M_PI *
                                        ((double)k->n[0] * i + (double)k->n[1] * j +
                                         (double)k->n[2] * l) / N;
                            double v = g[((size_t)i * N + j) * N + l];
                            re += v * cos(ph);
                            im += v * sin(ph);
                        }
                maxerr = fmax(maxerr, hypot(c[k->idx][0] - re, c[k->idx][1] - im));
                maxv = fmax(maxv, hypot(re, im));
                count_w += k->weight;
                count_m += k->mult;
                visited++;
                CT_EXPECT(k->idx == (ptrdiff_t)((k->i[1] - y0) * N + k->i[0]) * (N / 2 + 1) + k->i[2]);
            }
            int64_t N3 = (int64_t)N * N * N;
            /* single: every mode within CT_FFT_U(N^3) of the rms amplitude
             * (testlib.h), which maxv (the DC mode of a positive field)
             * exceeds; 4x for the largest of N^3 such errors */
            const double tol_fft = CT_TOL(1e-10, 4 * CT_FFT_U(N3));
            CT_EXPECT(maxerr <= tol_fft * maxv);
            if (!(maxerr <= tol_fft * maxv))
                fprintf(stderr, "DFT N=%d: max err %g of %g\n", N, maxerr, maxv);
            CT_EXPECT(visited == (int64_t)N * N * (N / 2 + 1));
            CT_EXPECT(count_w == (N3 - 8) / 2 + 8);
            CT_EXPECT(count_m == N3);
            /* round trip */
            CT_EXPECT_OK(ct_mesh_c2r(m));
            double rt = 0;
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++)
                    for (int l = 0; l < N; l++)
                        rt = fmax(rt, fabs(r[((size_t)i * N + j) * ct_mesh_row(m) + l] -
                                           g[((size_t)i * N + j) * N + l]));
            /* single: two transforms, each as above */
            CT_EXPECT(rt < CT_TOL(1e-12, 8 * CT_FFT_U(N3)) * maxv);
            free(g);
        }
        /* wrong state and unowned particles are errors */
        CT_EXPECT(ct_mesh_c2r(m) == CT_ERR_STATE);
        {
            float bad[3] = {(float)L, 1, 1};
            ct_paint_settings ps;
            ct_paint_settings_defaults(&ps);
            CT_EXPECT(ct_mesh_paint(m, &ps, 1, bad, NULL, 1.0) == CT_ERR_ARG);
        }
        free(pos);
        free(w);
        ct_mesh_destroy(&m);
        CT_EXPECT(m == NULL);
    }

    /* threads: 1 and 2 threads paint bitwise the same field, in both mesh
     * precisions, unshifted and shifted (interlacing), in one call and
     * accumulated over calls. Dense enough (~20 CIC contributions per cell)
     * that any change of a contribution's bits shows. Fails on AVX-512 hosts
     * when the CIC kernel fuses x * N/L + shift into one FMA (its vector lanes
     * and its scalar remainder then round differently, and where a block ends
     * depends on the thread count). */
    for (int f32 = 0; f32 <= 1; f32++) {
        const int N = 32, np = 80000;
        const double L = 50;
        float *pos = malloc(sizeof(float) * 3 * np);
        for (int q = 0; q < 3 * np; q++)
            pos[q] = (float)(ct_rng_uniform(&rng) * L);
        for (int q = 0; q < 3 * np; q++)
            pos[q] = pos[q] < (float)L ? pos[q] : 0.0f;
        ct_mesh *m1 = NULL, *m2 = NULL;
        ct_mesh_settings ms;
        ct_mesh_settings_defaults(&ms);
        ms.n = N;
        ms.box = L;
        ms.float32 = f32;
        CT_EXPECT_OK(ct_mesh_create(&m1, &ms, comm));
        ms.threads = 2;
        CT_EXPECT_OK(ct_mesh_create(&m2, &ms, comm));
        const size_t nr = (size_t)N * N * ct_mesh_row(m1);
        for (int p = 1; p <= 4; p++)
            for (int sh = 0; sh <= 1; sh++)
                for (int calls = 1; calls <= 3; calls += 2) {
                    ct_paint_settings ps;
                    ct_paint_settings_defaults(&ps);
                    ps.mas = (ct_mas)p;
                    ps.shift = 0.5 * sh;
                    for (int c = 0; c < calls; c++) {
                        const int i0 = np * c / calls, i1 = np * (c + 1) / calls;
                        ps.accumulate = c > 0;
                        CT_EXPECT_OK(ct_mesh_paint(m1, &ps, i1 - i0, pos + 3 * i0, NULL, 1.0));
                        CT_EXPECT_OK(ct_mesh_paint(m2, &ps, i1 - i0, pos + 3 * i0, NULL, 1.0));
                    }
                    const int same = f32 ? !memcmp(ct_mesh_real_f32(m1), ct_mesh_real_f32(m2),
                                                   nr * sizeof(float))
                                         : !memcmp(ct_mesh_real(m1), ct_mesh_real(m2),
                                                   nr * sizeof(ct_real));
                    if (!same)
                        fprintf(stderr, "threads 1 vs 2: float32 %d mas %d shift %g calls %d "
                                "differ\n", f32, p, ps.shift, calls);
                    CT_EXPECT(same);
                }
        ct_mesh_destroy(&m1);
        ct_mesh_destroy(&m2);
        free(pos);
    }
    /* threads: the FFT of the field painted with 1 and 2 threads agrees */
    {
        const int N = 32, np = 5000;
        const double L = 50;
        float *pos = malloc(sizeof(float) * 3 * np);
        for (int q = 0; q < 3 * np; q++)
            pos[q] = (float)(ct_rng_uniform(&rng) * L);
        ct_mesh *m1 = NULL, *m2 = NULL;
        ct_mesh_settings ms;
        ct_mesh_settings_defaults(&ms);
        ms.n = N;
        ms.box = L;
        CT_EXPECT_OK(ct_mesh_create(&m1, &ms, comm));
        ms.threads = 2;
        CT_EXPECT_OK(ct_mesh_create(&m2, &ms, comm));
        for (int p = 1; p <= 4; p++) {
            ct_paint_settings ps;
            ct_paint_settings_defaults(&ps);
            ps.mas = (ct_mas)p;
            CT_EXPECT_OK(ct_mesh_paint(m1, &ps, np, pos, NULL, 1.0));
            CT_EXPECT_OK(ct_mesh_paint(m2, &ps, np, pos, NULL, 1.0));
            size_t nr = (size_t)N * N * ct_mesh_row(m1);
            int same = 1;
            for (size_t i = 0; i < nr; i++)
                if (ct_mesh_real(m1)[i] != ct_mesh_real(m2)[i])
                    same = 0;
            CT_EXPECT(same);
        }
        CT_EXPECT_OK(ct_mesh_r2c(m1));
        CT_EXPECT_OK(ct_mesh_r2c(m2));
        double d = 0, mx = 0;
        for (size_t i = 0; i < (size_t)N * N * (N / 2 + 1); i++) {
            d = fmax(d, fabs(ct_mesh_complex(m1)[i][0] - ct_mesh_complex(m2)[i][0]));
            mx = fmax(mx, fabs(ct_mesh_complex(m1)[i][0]));
        }
        /* single: plans may differ with the thread count: two float transforms
         * of the same field, each within 4 CT_FFT_U of mx (the DC mode) */
        CT_EXPECT(d <= CT_TOL(1e-12, 8 * CT_FFT_U(N * N * N)) * mx);
        ct_mesh_destroy(&m1);
        ct_mesh_destroy(&m2);
        free(pos);
    }
    /* bad settings */
    {
        ct_mesh_settings ms;
        ct_mesh_settings_defaults(&ms);
        ms.n = 7;
        ms.box = 1;
        ct_mesh *m = NULL;
        CT_EXPECT(ct_mesh_create(&m, &ms, comm) == CT_ERR_ARG && m == NULL);
        ct_mas mas;
        CT_EXPECT(ct_mas_parse("cic", &mas) == CT_OK && mas == CT_MAS_CIC);
        CT_EXPECT(ct_mas_parse("xyz", &mas) == CT_ERR_ARG);
    }
    test_bad_positions(comm);
    test_c2r_unnormalised(comm);
    CT_TEST_END();
}
