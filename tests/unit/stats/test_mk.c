/* Marked power spectrum on any number of ranks:
 *  - marks against a brute-force reference (naive DFT, top-hat, inverse DFT, CIC
 *    interpolation written out here) on N = 12;
 *  - p = 0 gives M(k) = P(k) and X(k) = P(k);
 *  - an undefined mark (1 + delta_s + delta_R <= 0) is an error, on every rank;
 *  - on several ranks, M and X equal the one-rank result. */
#include <complex.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"
#include "test_bk_ref.h"
#include "mesh_testlib.h"
#include "testlib.h"

const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libgomp\n"; }

static int nrank = 1;

/* clustered in a few blobs so that marks vary (one of four draws is uniform) */
static void blob_position(ct_rng *r, double L, double x[3])
{
    int blob = (int)(ct_rng_u32(r) % 4);
    for (int a = 0; a < 3; a++) {
        double c = L * (0.2 + 0.2 * ((blob + a) % 4));
        double v = blob == 3 ? L * ct_rng_uniform(r) : c + 0.08 * L * ct_rng_normal(r);
        v = fmod(v, L);
        x[a] = v < 0 ? v + L : v;
    }
}

static void make_particles(ct_mesh *m, int64_t np, uint64_t seed, int64_t *n, float **pos)
{
    ct_test_share_particles(m, np, seed, blob_position, n, pos);
}

/* CIC interpolation of a full N^3 grid (points at x = iH) at one position */
static double cic_at(const double *f, int N, double L, const float *x)
{
    double H = L / N, v = 0;
    int i0[3];
    double u[3];
    for (int a = 0; a < 3; a++) {
        double s = x[a] / H;
        i0[a] = (int)floor(s);
        u[a] = s - i0[a];
    }
    for (int da = 0; da < 2; da++)
        for (int db = 0; db < 2; db++)
            for (int dc = 0; dc < 2; dc++) {
                double w = (da ? u[0] : 1 - u[0]) * (db ? u[1] : 1 - u[1]) * (dc ? u[2] : 1 - u[2]);
                int a = (i0[0] + da) % N, b = (i0[1] + db) % N, c = (i0[2] + dc) % N;
                v += w * f[((size_t)a * N + b) * N + c];
            }
    return v;
}

static void test_marks_brute_force(void)
{
    const int N = 12;
    const double L = 60.0;
    ct_mesh *m = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD),
            *work = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    int64_t n = 0;
    float *pos = NULL;
    make_particles(m, 300, 3, &n, &pos);
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ct_pk_particles set = {n, pos, NULL, 1.0};
    /* the raw CIC overdensity for the reference */
    ct_paint_settings pt;
    ct_paint_settings_defaults(&pt);
    CT_EXPECT_OK(ct_mesh_paint(m, &pt, n, pos, NULL, 1.0));
    CT_EXPECT_OK(ct_mesh_to_overdensity(m, NULL));
    double *raw = ct_test_gather_field(m);
    /* delta(k) as for P(k): compensated */
    double sw, sw2;
    int64_t np;
    CT_EXPECT_OK(ct_pk_field(m, NULL, &ps, 1, &set, &sw, &sw2, &np));

    ct_mk_settings s;
    ct_mk_settings_defaults(&s);
    s.R = 9.0; /* 1.8 cells: the window varies across the grid's modes */
    float *marks = NULL;
    double mean = 0, range[2];
    CT_EXPECT_OK(ct_mk_marks(m, work, &ps, &s, 1, &set, &marks, &mean, range));

    /* reference: naive DFT, top-hat, naive inverse, CIC at the particles */
    size_t N3 = (size_t)N * N * N;
    double complex *d = malloc(N3 * sizeof *d);
    ref_dft(raw, N, d);
    double kf = 2 * M_PI / L;
    for (size_t q = 0; q < N3; q++) {
        int a = ref_n((int)(q / (N * N)), N), b = ref_n((int)(q / N % N), N), c = ref_n((int)(q % N), N);
        d[q] *= ct_tophat_window(kf * s.R * sqrt((double)(a * a + b * b + c * c)));
    }
    double *dR = calloc(N3, sizeof *dR);
    for (size_t x = 0; x < N3; x++) {
        int i = (int)(x / (N * N)), j = (int)(x / N % N), k = (int)(x % N);
        double complex acc = 0;
        for (size_t q = 0; q < N3; q++) {
            int a = (int)(q / (N * N)), b = (int)(q / N % N), c = (int)(q % N);
            acc += d[q] * cexp(2 * M_PI * I * ((a * i + b * j + c * k) % N) / N);
        }
        dR[x] = creal(acc);
    }
    /* single: delta_R passes one forward and one inverse float FFT (the
     * reference transforms the same float delta exactly): within CT_FFT_U(N^3)
     * of the rms of delta and of delta_R, 4x for the worst of the particles */
    double sd = 0, sR = 0;
    for (size_t x = 0; x < N3; x++) {
        sd += raw[x] * raw[x] / (double)N3;
        sR += dR[x] * dR[x] / (double)N3;
    }
    const double dR_err = 4 * CT_FFT_U(N3) * (sqrt(sd) + sqrt(sR));
    double sum = 0, lo = 1e300, tol_max = 0;
    int bad = 0;
    for (int64_t p = 0; marks && p < n; p++) {
        double v = cic_at(dR, N, L, pos + 3 * p);
        double ref = ct_mk_mark(&s, v);
        lo = v < lo ? v : lo;
        sum += ref;
        /* marks are stored as float: 1e-6 relative; single: a mark moves by
         * p dR / (1 + delta_s + delta_R), plus u for its storage */
        double tol = CT_TOL(1e-6, CT_FLOAT_U + fabs(s.p) * dR_err / (1 + s.delta_s + v));
        tol_max = fmax(tol_max, tol);
        bad += !(fabs(marks[p] - ref) <= tol * ref);
    }
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &tol_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    CT_EXPECT(bad == 0);
    /* single: the mean of marks within the worst mark's tolerance */
    CT_EXPECT_REL(mean, sum / 300.0, CT_TOL(1e-12, tol_max));
    CT_EXPECT_REL(range[0], lo, CT_TOL(1e-9, dR_err / fabs(lo)));
    /* the marks vary: the field is clustered */
    CT_EXPECT(range[1] - range[0] > 0.5);
    free(marks);
    free(d);
    free(dR);
    free(raw);
    free(pos);
    ct_mesh_destroy(&m);
    ct_mesh_destroy(&work);
}

/* P(k) and the marked spectra of the same particles on comm */
static void spectra(MPI_Comm comm, const ct_mk_settings *s, int interlace, int compensate,
                    ct_pk_result *P, ct_mk_result *mk, ct_status *mrc)
{
    const int N = 16;
    const double L = 100.0;
    ct_mesh *m = ct_test_new_mesh(N, L, 1, comm), *ms = ct_test_new_mesh(N, L, 1, comm),
            *w = ct_test_new_mesh(N, L, 1, comm);
    int64_t n = 0;
    float *pos = NULL;
    make_particles(m, 2000, 9, &n, &pos);
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ps.interlace = interlace;
    ps.compensate = compensate;
    ct_pk_particles set = {n, pos, NULL, 1.0};
    CT_EXPECT_OK(ct_pk_measure(m, ms, &ps, 1, &set, P));
    *mrc = ct_mk_measure(m, w, ms, &ps, s, 1, &set, mk);
    free(pos);
    ct_mesh_destroy(&m);
    ct_mesh_destroy(&ms);
    ct_mesh_destroy(&w);
}

static void test_p0_and_ranks(void)
{
    for (int il = 0; il <= 1; il++) {
        ct_mk_settings s;
        ct_mk_settings_defaults(&s);
        s.p = 0;
        ct_pk_result P;
        ct_mk_result mk;
        ct_status rc;
        memset(&P, 0, sizeof P);
        spectra(MPI_COMM_WORLD, &s, il, 1, &P, &mk, &rc);
        CT_EXPECT_OK(rc);
        if (rc == CT_OK) {
            /* every mark is 1: the marked field is delta itself */
            CT_EXPECT(mk.M.nbins == P.nbins && P.nbins > 10);
            CT_EXPECT(mk.mean_mark == 1.0);
            for (int b = 0; b < P.nbins; b++) {
                CT_EXPECT_REL(mk.M.P0[b], P.P0[b], 1e-12);
                CT_EXPECT_REL(mk.X.P0[b], P.P0[b], 1e-12);
                CT_EXPECT(mk.M.nmodes[b] == P.nmodes[b]);
            }
        }
        ct_pk_result_free(&P);
        ct_mk_result_free(&mk);
    }
    /* p = 2: different from P(k); the same on one rank and on all */
    ct_mk_settings s;
    ct_mk_settings_defaults(&s);
    ct_pk_result P, P1;
    ct_mk_result mk, mk1;
    ct_status rc, rc1 = CT_OK;
    memset(&P1, 0, sizeof P1);
    memset(&mk1, 0, sizeof mk1);
    spectra(MPI_COMM_WORLD, &s, 0, 1, &P, &mk, &rc);
    CT_EXPECT_OK(rc);
    if (rc == CT_OK) {
        double diff = 0;
        for (int b = 0; b < P.nbins; b++)
            diff += fabs(mk.M.P0[b] / P.P0[b] - 1);
        CT_EXPECT(diff / P.nbins > 0.05); /* marks reshape the spectrum */
        CT_EXPECT(mk.mean_mark > 0 && mk.mean_mark != 1.0);
        if (nrank > 1 && ct_test_rank == 0) {
            spectra(MPI_COMM_SELF, &s, 0, 1, &P1, &mk1, &rc1);
            CT_EXPECT_OK(rc1);
            /* single: two float paths (slab decomposition, painting order).
             * delta_R as in the brute-force test, with sigma(delta) from the
             * uncompensated P(k) (Parseval) and |delta_R| <= its range, plus
             * painting: k u of each cell's density, smoothed by a positive
             * kernel: k u (1 + delta_R). A mark moves by dm (one path); the
             * marked field then by dm + k u of each cell, against its rms
             * sqrt(var_M); every mode gets CT_FFT_U(N^3) of the rms amplitude
             * (ct_test_pk_float_tol). Uncompensated spectra give the bin's
             * power against the mean. */
            const int64_t N = 16;
            const double L = 100.0, N3L3 = (double)(N * N * N) / (L * L * L);
            ct_pk_result Pu;
            ct_mk_result mku;
            ct_status rcu;
            memset(&Pu, 0, sizeof Pu);
            memset(&mku, 0, sizeof mku);
            spectra(MPI_COMM_SELF, &s, 0, 0, &Pu, &mku, &rcu);
            CT_EXPECT_OK(rcu);
            ct_mesh *mp = ct_test_new_mesh(N, L, 1, MPI_COMM_SELF);
            int64_t np = 0;
            float *pp = NULL;
            make_particles(mp, 2000, 9, &np, &pp);
            const int k = ct_test_max_cell_hits((int)N, L, 2, 0.0, np, pp);
            free(pp);
            ct_mesh_destroy(&mp);
            const double pbar = ct_test_pk_mean_power(&Pu), pbar_m = ct_test_pk_mean_power(&mku.M);
            const double var = pbar * N3L3, var_m = pbar_m * N3L3;
            const double *rg = mk.delta_R_range;
            const double dR = 4 * CT_FFT_U(N * N * N) * (sqrt(var) + fmax(-rg[0], rg[1])) +
                              k * CT_FLOAT_U * (1 + rg[1]);
            const double dm = s.p * dR / (1 + s.delta_s + rg[0]) + CT_FLOAT_U;
            const double e_m = (dm + k * CT_FLOAT_U) * sqrt(1 + 1 / var_m) + CT_FFT_U(N * N * N);
            const double e_d = k * CT_FLOAT_U * sqrt(1 + 1 / var) + CT_FFT_U(N * N * N);
            for (int b = 0; rc1 == CT_OK && rcu == CT_OK && b < P.nbins; b++) {
                /* marks are floats painted in a rank-dependent order: 1e-6 */
                double tm = 4 * e_m * sqrt(pbar_m / mku.M.P0[b]);
                double tx = 2 * (e_m * sqrt(pbar_m * Pu.P0[b]) + e_d * sqrt(pbar * mku.M.P0[b])) /
                            fabs(mku.X.P0[b]);
                CT_EXPECT_REL(mk1.M.P0[b], mk.M.P0[b], CT_TOL(1e-6, tm));
                CT_EXPECT_REL(mk1.X.P0[b], mk.X.P0[b], CT_TOL(1e-6, tx));
            }
            CT_EXPECT_REL(mk1.mean_mark, mk.mean_mark, CT_TOL(1e-12, 2 * dm));
            ct_pk_result_free(&Pu);
            ct_mk_result_free(&mku);
        }
    }
    ct_pk_result_free(&P);
    ct_pk_result_free(&P1);
    ct_mk_result_free(&mk);
    ct_mk_result_free(&mk1);
}

static void test_errors(void)
{
    /* delta_s close to -1: empty regions (delta_R ~ -1) make 1 + delta_s + delta_R
     * negative; every rank must fail, with the cause named */
    ct_mk_settings s;
    ct_mk_settings_defaults(&s);
    s.delta_s = -0.9;
    s.R = 3.0;
    ct_pk_result P;
    ct_mk_result mk;
    ct_status rc;
    spectra(MPI_COMM_WORLD, &s, 0, 1, &P, &mk, &rc);
    CT_EXPECT(rc == CT_ERR_NUMERIC);
    CT_EXPECT(strstr(ct_error_message(), "mark undefined") != NULL);
    CT_EXPECT(mk.M.nbins == 0);
    ct_error_clear();
    ct_pk_result_free(&P);
    s.delta_s = -1.5;
    spectra(MPI_COMM_WORLD, &s, 0, 1, &P, &mk, &rc);
    CT_EXPECT(rc == CT_ERR_ARG);
    ct_error_clear();
    ct_pk_result_free(&P);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm_size(MPI_COMM_WORLD, &nrank);
    test_marks_brute_force();
    test_p0_and_ranks();
    test_errors();
    CT_TEST_END();
}
