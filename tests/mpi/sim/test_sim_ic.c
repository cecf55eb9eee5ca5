/* Initial conditions: the linear field has the linear P(k) (exactly with fixed
 * amplitudes, within cosmic variance with Rayleigh ones), the painted 2LPT
 * particles follow it, Zel'dovich velocities are f a^2 E psi, and local /
 * equilateral PNG skew the field with the sign of f_NL and give a squeezed
 * bispectrum of the tree-level sign and size. Run on 1, 2 and 4 ranks. */
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_rng.h>

#include "cosmotl/stats.h"
#include "simtest.h"
#include "testlib.h"

static ct_status field(const ct_cosmo *c, const ct_sim_settings *s, double a, ct_mesh *m)
{
    return ct_ic_linear_field(c, s, a, m);
}

/* B(shell L, shell S, shell S) with the FFT estimator (shell fields, as src/stats/bk.c). */
static ct_status bispec(ct_mesh *dk, int l0, int l1, int s0, int s1, double *b)
{
    ct_mesh *fl = NULL, *fs = NULL, *il = NULL, *is = NULL;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = ct_mesh_n(dk);
    ms.box = ct_mesh_box(dk);
    MPI_Comm comm = ct_mesh_comm(dk);
    CT_CHECK(ct_mesh_create(&fl, &ms, comm));
    CT_CHECK(ct_mesh_create(&fs, &ms, comm));
    CT_CHECK(ct_mesh_create(&il, &ms, comm));
    CT_CHECK(ct_mesh_create(&is, &ms, comm));
    ct_mesh *ms4[4] = {fl, fs, il, is};
    int lo[4] = {l0, s0, l0, s0}, hi[4] = {l1, s1, l1, s1};
    ptrdiff_t y0, ny;
    ct_mesh_klocal(dk, &y0, &ny);
    for (int q = 0; q < 4; q++) {
        CT_CHECK(ct_mesh_copy(ms4[q], dk));
        ct_complex *d = ct_mesh_complex(ms4[q]);
        for (ptrdiff_t pl = 0; pl < ny; pl++) {
            ct_kiter it;
            for (ct_kiter_begin(&it, dk, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
                double kn = sqrt((double)it.mode.n2);
                int in = kn >= lo[q] && kn < hi[q];
                if (q >= 2) {
                    d[it.mode.idx][0] = in ? 1 : 0;
                    d[it.mode.idx][1] = 0;
                } else if (!in) {
                    d[it.mode.idx][0] = d[it.mode.idx][1] = 0;
                }
            }
        }
        CT_CHECK(ct_mesh_c2r(ms4[q]));
    }
    ptrdiff_t x0, nx;
    ct_mesh_local(dk, &x0, &nx);
    const int64_t N = ms.n;
    const ptrdiff_t row = ct_mesh_row(dk);
    double s[2] = {0, 0};
    for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
        for (int64_t l = 0; l < N; l++) {
            ptrdiff_t i = r * row + l;
            s[0] += ct_mesh_real(fl)[i] * ct_mesh_real(fs)[i] * ct_mesh_real(fs)[i];
            s[1] += ct_mesh_real(il)[i] * ct_mesh_real(is)[i] * ct_mesh_real(is)[i];
        }
    MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, comm);
    double L = ms.box, n3 = (double)N * N * N;
    *b = pow(L, 6) * s[0] / (n3 * n3 * n3 * s[1]);
    for (int q = 0; q < 4; q++)
        ct_mesh_destroy(&ms4[q]);
    return CT_OK;
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm comm = MPI_COMM_WORLD;
    ct_cosmo_params cp;
    ct_cosmo_params_defaults(&cp);
    ct_cosmo *c = NULL;
    CT_EXPECT_OK(ct_cosmo_create(&c, &cp));
    ct_sim_settings s;
    ct_sim_settings_defaults(&s);
    s.np = 32;
    s.box = 256;
    s.seed = 42;
    double a0 = 1.0 / 128;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = 32;
    ms.box = s.box;
    ct_mesh *m = NULL;
    CT_EXPECT_OK(ct_mesh_create(&m, &ms, comm));
    st_pk pk;

    /* 1. fixed amplitudes: every mode has exactly P_lin (double precision;
     * single: each mode is computed in double and stored as a float pair,
     * re and im within u each, so |delta|^2 within 2 u + u^2; 3 u) */
    s.amplitude = CT_AMP_FIXED;
    CT_EXPECT_OK(field(c, &s, a0, m));
    st_measure(m, c, a0, &pk);
    for (int b = 1; b < 16; b++)
        CT_EXPECT_REL(pk.p[b], pk.plin[b], CT_TOL(1e-10, 3 * CT_FLOAT_U));
    CT_EXPECT(pk.n[1] == 13); /* |n| in [1,2): 3 + 6 + 4 half-space modes */

    /* 2. Rayleigh amplitudes: |delta|^2 is exponential, so a bin of n modes has
     * relative scatter 1/sqrt(n); every bin within 5 sigma, and the bins with
     * > 200 modes within 5% on average. */
    s.amplitude = CT_AMP_RAYLEIGH;
    CT_EXPECT_OK(field(c, &s, a0, m));
    st_measure(m, c, a0, &pk);
    double mean = 0;
    int nb = 0;
    for (int b = 1; b < 16; b++) {
        double r = pk.p[b] / pk.plin[b];
        CT_EXPECT(fabs(r - 1) < 5 / sqrt(pk.n[b]));
        if (pk.n[b] > 200) {
            mean += r;
            nb++;
        }
    }
    CT_EXPECT(nb > 3);
    CT_EXPECT_ABS(mean / nb, 1.0, 0.05);

    /* 2b. phase flip: the paired field is exactly -delta, mode by mode */
    {
        ct_mesh *mf = NULL;
        CT_EXPECT_OK(ct_mesh_create(&mf, &ms, comm));
        s.phase_flip = 1;
        CT_EXPECT_OK(field(c, &s, a0, mf));
        s.phase_flip = 0;
        ptrdiff_t y0, ny;
        ct_mesh_klocal(m, &y0, &ny);
        size_t nm = (size_t)ny * 32 * 17;
        double worst = 0, norm = 0;
        const ct_complex *d1 = ct_mesh_complex(m), *d2 = ct_mesh_complex(mf);
        for (size_t i = 0; i < nm; i++)
            for (int q = 0; q < 2; q++) {
                worst = fmax(worst, fabs(d1[i][q] + d2[i][q]));
                norm = fmax(norm, fabs(d1[i][q]));
            }
        MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, comm);
        MPI_Allreduce(MPI_IN_PLACE, &norm, 1, MPI_DOUBLE, MPI_MAX, comm);
        /* cos/sin of theta + pi; single: the two doubles, equal to ~1e-16,
         * may round to neighbouring floats: one ulp, 2 u of norm */
        CT_EXPECT(norm > 0 && worst <= CT_TOL(1e-12, 2 * CT_FLOAT_U) * norm);
        ct_mesh_destroy(&mf);
    }

    /* 2c. N-GenIC's white noise (noise = NGENIC): every mode equals the one a
     * brute-force fill in N-GenIC's own loop order gives (the whole nm^3
     * half-complex array: ring-ordered seed table, a reseed per (i, j) column,
     * phase then amplitude for k = 0 .. nm/2 - 1, the k = 0 plane's partners
     * (nm - i, nm - j) conjugated), divided by sqrt(P) of the mode. Double:
     * 1e-12 (the same arithmetic); single: the stored float pair, 3 u. The
     * table's rings must cover every cell exactly once. */
    {
        const int64_t nm = 64, half = nm / 2;
        unsigned int *tab = calloc((size_t)(nm * nm), sizeof *tab);
        int *hits = calloc((size_t)(nm * nm), sizeof *hits);
        double *ref = calloc((size_t)(nm * nm * (half + 1) * 2), sizeof *ref);
        CT_EXPECT(tab && hits && ref);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_ranlxd1);
        gsl_rng_set(r, 4321);
        for (int64_t i = 0; i < half; i++) {
            /* eight segments per ring: (row(j), col(j)) for j < i or j <= i */
            int64_t seg[8][4] = {/* row = a + b j, col = c + d j */
                                 {i, 0, 0, 1},          {0, 1, i, 0},
                                 {nm - 1 - i, 0, 0, 1}, {nm - 1, -1, i, 0},
                                 {i, 0, nm - 1, -1},    {0, 1, nm - 1 - i, 0},
                                 {nm - 1 - i, 0, nm - 1, -1}, {nm - 1, -1, nm - 1 - i, 0}};
            for (int q = 0; q < 8; q++)
                for (int64_t j = 0; j < i + (q % 2); j++) {
                    int64_t row = seg[q][0] + seg[q][1] * j, col = seg[q][2] + seg[q][3] * j;
                    tab[row * nm + col] = (unsigned int)(0x7fffffff * gsl_rng_uniform(r));
                    hits[row * nm + col]++;
                }
        }
        int cover = 1;
        for (int64_t q = 0; q < nm * nm; q++)
            cover &= hits[q] == 1;
        CT_EXPECT(cover);
#define REF(i, j, k, c) ref[((((i) * nm + (j)) * (half + 1)) + (k)) * 2 + (c)]
        for (int64_t i = 0; i < nm; i++)
            for (int64_t j = 0; j < nm; j++) {
                gsl_rng_set(r, tab[i * nm + j]);
                for (int64_t k = 0; k < half; k++) {
                    double ph = gsl_rng_uniform(r) * 2 * M_PI, am;
                    do
                        am = gsl_rng_uniform(r);
                    while (am <= 0.0);
                    double w = sqrt(-log(am));
                    if (k > 0 || (i == 0 && j > 0 && j < half) || (i > 0 && i < half)) {
                        REF(i, j, k, 0) = w * cos(ph);
                        REF(i, j, k, 1) = w * sin(ph);
                        if (k == 0) {
                            int64_t ii = (nm - i) % nm, jj = (nm - j) % nm;
                            REF(ii, jj, 0, 0) = w * cos(ph);
                            REF(ii, jj, 0, 1) = -w * sin(ph);
                        }
                    }
                }
            }
        gsl_rng_free(r);
        s.noise = CT_NOISE_NGENIC;
        s.ngenic_nmesh = nm;
        s.seed = 4321;
        s.amplitude = CT_AMP_RAYLEIGH;
        CT_EXPECT_OK(field(c, &s, a0, m));
        const double N = 32, L = s.box, kf = 2 * M_PI / L, nrm = N * N * N / sqrt(L * L * L);
        ptrdiff_t y0, ny;
        ct_mesh_klocal(m, &y0, &ny);
        const ct_complex *d = ct_mesh_complex(m);
        double worst = 0;
        int64_t nchk = 0;
        for (ptrdiff_t pl = 0; pl < ny; pl++) {
            ct_kiter it;
            for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
                const ct_kmode *mo = &it.mode;
                if (mo->n2 == 0 || mo->n[0] == 16 || mo->n[1] == 16 || mo->n[2] == 16)
                    continue;
                double a = nrm * sqrt(ct_cosmo_pk(c, kf * sqrt((double)mo->n2), a0, CT_SPECIES_CB));
                int64_t i = (mo->n[0] + nm) % nm, j = (mo->n[1] + nm) % nm;
                for (int q = 0; q < 2; q++)
                    worst = fmax(worst, fabs(d[mo->idx][q] / a - REF(i, j, mo->n[2], q)));
                nchk++;
            }
        }
#undef REF
        MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, comm);
        MPI_Allreduce(MPI_IN_PLACE, &nchk, 1, MPI_INT64_T, MPI_SUM, comm);
        /* every non-zero, non-Nyquist mode: 31^2 x 15 with n_z > 0, 31^2 - 1 on n_z = 0 */
        CT_EXPECT(nchk == 31 * 31 * 15 + 31 * 31 - 1);
        /* |w| <= 6.1 (u >= 2^-53): single rounds it within 6.1 u; x 4 for the division */
        CT_EXPECT(worst <= CT_TOL(1e-12, 25 * CT_FLOAT_U));
        s.noise = CT_NOISE_COSMOTL;
        s.seed = 42;
        free(tab);
        free(hits);
        free(ref);
    }

    /* 3. 2LPT particles measured with the P(k) estimator of src/stats (CIC,
     * compensated) on a 2x finer mesh follow the linear P(k, z_init) for
     * k < k_Nyquist/4 within 3% (fixed amplitudes: no cosmic variance; residual:
     * CIC/lattice aliasing ~ (k H)^2 / 3 < 1.5%). */
    s.amplitude = CT_AMP_FIXED;
    ct_sim_particles p;
    CT_EXPECT_OK(ct_ic_particles(c, &s, a0, &p, comm));
    int64_t ntot = 0;
    MPI_Allreduce(&p.n, &ntot, 1, MPI_INT64_T, MPI_SUM, comm);
    CT_EXPECT(ntot == 32 * 32 * 32);
    ct_mesh *m2 = NULL;
    ms.n = 64;
    CT_EXPECT_OK(ct_mesh_create(&m2, &ms, comm));
    {
        ct_payload pl[2] = {{(void **)&p.mom, 3 * sizeof(float)}, {(void **)&p.id, sizeof(uint64_t)}};
        CT_EXPECT_OK(ct_mesh_exchange(m2, &p.n, &p.pos, 2, pl));
        ct_pk_settings ps;
        ct_pk_settings_defaults(&ps);
        ct_pk_particles set = {p.n, p.pos, NULL, 1.0};
        ct_pk_result r;
        memset(&r, 0, sizeof r);
        CT_EXPECT_OK(ct_pk_measure(m2, NULL, &ps, 1, &set, &r));
        /* the linear P averaged over each bin's modes, from the same mesh */
        st_measure(m2, c, a0, &pk);
        double kny4 = M_PI * 32 / 256 / 4;
        int nchk = 0;
        for (int j = 0; j < r.nbins && r.k[j] < kny4; j++) {
            int bb = 1;
            while (bb < ST_NBIN - 1 && fabs(pk.k[bb] - r.k[j]) > 1e-9 * r.k[j])
                bb++;
            CT_EXPECT(r.nmodes[j] == (int64_t)pk.n[bb]);
            CT_EXPECT_REL(r.P0[j], pk.plin[bb], 0.03);
            nchk++;
        }
        CT_EXPECT(nchk >= 3);
        ct_pk_result_free(&r);
    }
    ct_sim_particles_free(&p);

    /* 4. Zel'dovich velocities: p = a^2 E f1 (x - q) particle by particle */
    s.lpt_order = 1;
    CT_EXPECT_OK(ct_ic_particles(c, &s, 0.1, &p, comm));
    ct_growth g = ct_cosmo_growth(c, 0.1);
    double fac = 0.01 * ct_cosmo_E(c, 0.1) * g.f1, maxerr = 0, maxp = 0;
    for (int64_t i = 0; i < p.n; i++) {
        uint64_t id = p.id[i] - 1;
        int64_t q[3] = {(int64_t)(id / (32 * 32)), (int64_t)(id / 32 % 32), (int64_t)(id % 32)};
        for (int ax = 0; ax < 3; ax++) {
            double dx = p.pos[3 * i + ax] - q[ax] * 8.0;
            dx -= 256 * round(dx / 256);
            maxerr = fmax(maxerr, fabs(p.mom[3 * i + ax] - fac * dx));
            maxp = fmax(maxp, fabs(p.mom[3 * i + ax]));
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, &maxerr, 1, MPI_DOUBLE, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, &maxp, 1, MPI_DOUBLE, MPI_MAX, comm);
    CT_EXPECT(maxp > 0 && maxerr < 1e-4 * maxp); /* float positions: ~1e-5 relative */
    ct_sim_particles_free(&p);
    ct_mesh_destroy(&m2);
    ct_mesh_destroy(&m);

    /* 5. PNG at z_init on a 64^3 mesh, L = 1000: same seed, f_NL = -F, 0, +F.
     * Skewness increases with f_NL (local and equilateral); the squeezed
     * bispectrum (B(+F) - B(-F)) / 2 has the sign and, within a factor 2, the
     * size of the tree-level local template 2 f_NL a1 a2 a3 (P1 P2 + 2 perms). */
    ms.n = 64;
    ms.box = 1000;
    s.box = 1000;
    s.amplitude = CT_AMP_RAYLEIGH;
    CT_EXPECT_OK(ct_mesh_create(&m, &ms, comm));
    ct_png_kind kinds[2] = {CT_PNG_LOCAL, CT_PNG_EQUILATERAL};
    double fnls[2] = {300, 600};
    for (int t = 0; t < 2; t++) {
        double sk[3], bk[3];
        for (int j = 0; j < 3; j++) {
            s.png = kinds[t];
            s.f_nl = (j - 1) * fnls[t];
            CT_EXPECT_OK(field(c, &s, a0, m));
            CT_EXPECT_OK(bispec(m, 1, 3, 16, 20, &bk[j]));
            CT_EXPECT_OK(ct_mesh_c2r(m));
            sk[j] = st_skewness(m);
        }
        if (ct_test_rank == 0)
            printf("PNG %s: skewness %.3e %.3e %.3e, squeezed B %.3e %.3e %.3e\n",
                   t ? "equilateral" : "local", sk[0], sk[1], sk[2], bk[0], bk[1], bk[2]);
        CT_EXPECT(sk[2] > sk[1] && sk[1] > sk[0]);
        if (t == 0) {
            /* tree level at the shells' mean wavenumbers */
            double kf = 2 * M_PI / 1000, kl = 2.0 * kf, ks = 18.0 * kf;
            double pl = ct_cosmo_pk_phi(c, kl), ps = ct_cosmo_pk_phi(c, ks);
            double al = sqrt(ct_cosmo_pk(c, kl, a0, CT_SPECIES_CB) / pl);
            double as = sqrt(ct_cosmo_pk(c, ks, a0, CT_SPECIES_CB) / ps);
            double pred = 2 * fnls[t] * al * as * as * (2 * pl * ps + ps * ps);
            double meas = 0.5 * (bk[2] - bk[0]);
            if (ct_test_rank == 0)
                printf("local squeezed B: measured %.4e, tree level %.4e\n", meas, pred);
            CT_EXPECT(meas > 0.5 * pred && meas < 2 * pred);
        }
    }
    /* 6. Orthogonal PNG (docs/validation.md derives the signs): with
     * F(q1, q2; k) = -9 + 5 (q1^e + q2^e)/k^e + 4 (q1^e - q2^e)^2/k^2e the template's
     * tree-level bispectrum 2 f_NL sum F P_phi P_phi is, for f_NL > 0, positive in the
     * equilateral configuration (+6 / k^6), negative when folded (k_l = 1.9 k_s:
     * -2.5 / k_s^6) and strongly negative when squeezed (k_l = k_s / 9: -712 / k_s^6);
     * the tree-level skewness (B weighted by alpha^3, integrated over triangles below
     * the mesh Nyquist frequency) is negative. So the fNL-odd parts
     * (X(+F) - X(-F)) / 2 of the squeezed and folded B and of the skewness must be
     * negative and that of the equilateral B positive. The Gaussian part cancels
     * exactly (same seed); the odd part still has the realisation scatter of a
     * Gaussian x template product, which the shells' mode counts (> 1e4 triangles)
     * keep well below the signal (measured margins: see the test output). */
    {
        double sk[3], bsq[3], bfo[3], beq[3];
        for (int j = 0; j < 3; j++) {
            s.png = CT_PNG_ORTHOGONAL;
            s.f_nl = (j - 1) * 300.0;
            CT_EXPECT_OK(field(c, &s, a0, m));
            CT_EXPECT_OK(bispec(m, 1, 3, 16, 20, &bsq[j]));
            CT_EXPECT_OK(bispec(m, 17, 19, 9, 10, &bfo[j]));
            CT_EXPECT_OK(bispec(m, 12, 14, 12, 14, &beq[j]));
            CT_EXPECT_OK(ct_mesh_c2r(m));
            sk[j] = st_skewness(m);
        }
        if (ct_test_rank == 0)
            printf("PNG orthogonal: skewness %.3e %.3e %.3e; B squeezed %.3e %.3e %.3e, "
                   "folded %.3e %.3e %.3e, equilateral %.3e %.3e %.3e\n",
                   sk[0], sk[1], sk[2], bsq[0], bsq[1], bsq[2], bfo[0], bfo[1], bfo[2], beq[0],
                   beq[1], beq[2]);
        CT_EXPECT(sk[2] < sk[1] && sk[1] < sk[0]);
        CT_EXPECT(bsq[2] - bsq[0] < 0);
        CT_EXPECT(bfo[2] - bfo[0] < 0);
        CT_EXPECT(beq[2] - beq[0] > 0);
    }
    s.png = CT_PNG_NONE;
    ct_mesh_destroy(&m);
    ct_cosmo_destroy(&c);
    CT_TEST_END();
}
