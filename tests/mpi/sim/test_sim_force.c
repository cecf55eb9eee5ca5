/* PM force kernels and the PGD correction (src/sim/force.c), on 1, 2 and 4 ranks.
 *
 * 1. Point mass: one particle on a grid point of a 64^3 mesh (box 64, H = 1),
 *    test particles at r = 3..12 cells along axes, face and body diagonals. With
 *    the radial factor 1/k^2 the read-out field is E = -grad phi, lap phi = delta,
 *    whose periodic solution near the mass is E_r = -V/(4 pi r^2) + r/3
 *    (V = L^3: the painted delta integrates to V at the mass and -1 elsewhere;
 *    the image terms of the cubic lattice start at O(r^3) relative and are below
 *    1e-3 of E_r at r <= L/5). Tolerances: the deconvolved kernel hands over to
 *    FD2 above 0.45 k_N, i.e. it smooths the force over about 2 pi / (0.55 k_N)
 *    = 3.6 cells; beyond 2x that (r >= 7) it is within 2% in every direction,
 *    but the hand-over is sharp in k, so the force rings in real space: measured
 *    mean over r = 7-12 and 13 directions 0.99, single points within 10.6%
 *    (within 37% at r = 3-6). Asserted: mean within 3%, points within 15%. FD2
 *    for a mass on a grid point: mean 1.002, points within 4.4% at r = 7-12
 *    (asserted 6%). The
 *    kernel is tuned for P(k) at k <= 0.3 k_N, not for forces at a few cells.
 * 2. PGD of a known potential: a lattice displaced by psi = psi0 sin(k q) along x
 *    (delta = -psi0 k cos(k q) to first order) is moved by
 *    alpha O(k) psi0 sin(k q) with O = exp(-kl^2/k^2 - (k/ks)^4). The fitted
 *    amplitude must be within 1% (second order in delta = psi0 k = 0.08: 0.6%;
 *    measured 0.07%); single particles also carry the lattice images of the
 *    B = 2 lattice near the Nyquist frequency (measured 14%, asserted 20%);
 *    nothing moves across the wave (1e-3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../src/sim/sim_internal.h"
#include "mesh_testlib.h"
#include "testlib.h"

enum { N = 64, NDIR = 13 };
static const double L = 64.0;

/* field radial factor 1/k^2 for every |n|^2 */
static double *inv_k2(const ct_mesh *m, int64_t n2max)
{
    double kf = ct_mesh_kf(m);
    double *r = calloc((size_t)n2max + 1, sizeof *r);
    for (int64_t q = 1; q <= n2max; q++)
        r[q] = 1.0 / (kf * kf * (double)q);
    return r;
}

/* max relative error of E_r over r in [r0, r1] and all directions, for kernel kind */
static double point_mass(ct_force_kind kind, double r0, double r1, double *min_ratio, double *mean)
{
    ct_mesh *m = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    ct_mesh *w = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    ct_mesh *w2 = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    ct_force_kernel fk;
    CT_EXPECT_OK(ct_force_kernel_init(&fk, kind, 0.55, N, L));
    static const int dirs[NDIR][3] = {{1, 0, 0},  {0, 1, 0},  {0, 0, 1},  {1, 1, 0}, {1, 0, 1},
                                      {0, 1, 1},  {1, -1, 0}, {1, 1, 1},  {1, 1, -1}, {-1, 1, 1},
                                      {-1, 0, 0}, {0, -1, 0}, {-1, -1, -1}};
    /* every rank prints the same figures: the sums are over the same set of
     * particles whatever the decomposition */
    const double c = 32.0;
    int nr = 0;
    double rs[32];
    for (double r = 3; r <= 12.0 + 1e-9; r += 1.0)
        rs[nr++] = r;
    /* particle 0: the mass; then one test particle per (direction, radius),
     * painted with weight 0 (weights array) */
    int64_t np = 1 + (int64_t)NDIR * nr, n = 0;
    float *pos = NULL, *wt = NULL;
    double *id = NULL;
    if (ct_test_rank == 0) {
        n = np;
        pos = malloc((size_t)np * 3 * sizeof *pos);
        wt = malloc((size_t)np * sizeof *wt);
        id = malloc((size_t)np * sizeof *id);
        pos[0] = pos[1] = pos[2] = (float)c;
        wt[0] = 1.0f;
        id[0] = 0;
        int64_t i = 1;
        for (int d = 0; d < NDIR; d++) {
            double len = sqrt((double)(dirs[d][0] * dirs[d][0] + dirs[d][1] * dirs[d][1] +
                                       dirs[d][2] * dirs[d][2]));
            for (int j = 0; j < nr; j++, i++) {
                for (int a = 0; a < 3; a++)
                    pos[3 * i + a] = (float)(c + rs[j] * dirs[d][a] / len);
                wt[i] = 0.0f;
                id[i] = (double)i;
            }
        }
    }
    ct_payload pl[2] = {{(void **)&wt, sizeof(float)}, {(void **)&id, sizeof(double)}};
    CT_EXPECT_OK(ct_mesh_exchange(m, &n, &pos, 2, pl));
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    CT_EXPECT_OK(ct_mesh_paint(m, &ps, n, pos, wt, 0.0));
    /* delta = rho / mean - 1 with mean = 1 / N^3 per cell */
    CT_EXPECT_OK(ct_mesh_to_overdensity(m, NULL));
    CT_EXPECT_OK(ct_mesh_r2c(m));
    double *rad = inv_k2(m, fk.n2max);
    double *e = malloc((size_t)(n + 1) * 3 * sizeof *e);
    CT_EXPECT_OK(ct_sim_grad_readout(m, w, w2, &fk, rad, n, pos, e, NULL));
    double worst = 0, lo = 1e9, sum[2] = {0, 0};
    const double V = L * L * L;
    for (int64_t i = 0; i < n; i++) {
        if (id[i] == 0)
            continue;
        double dx[3], r2 = 0, er = 0;
        for (int a = 0; a < 3; a++) {
            dx[a] = pos[3 * i + a] - c;
            r2 += dx[a] * dx[a];
        }
        double r = sqrt(r2);
        for (int a = 0; a < 3; a++)
            er += e[3 * i + a] * dx[a] / r;
        double ex = -V / (4 * M_PI * r2) + r / 3.0;
        if (getenv("CT_TEST_VERBOSE"))
            printf("kind %d r %.1f dir %lld ratio %.4f\n", (int)kind, r, (long long)((int64_t)id[i] - 1) / nr, er / ex);
        if (r >= r0 - 1e-3 && r <= r1 + 1e-3) {
            worst = fmax(worst, fabs(er / ex - 1));
            lo = fmin(lo, er / ex);
            sum[0] += er / ex;
            sum[1] += 1;
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, sum, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    *min_ratio = lo;
    *mean = sum[0] / sum[1];
    free(rad);
    free(e);
    free(pos);
    free(wt);
    free(id);
    ct_force_kernel_free(&fk);
    ct_mesh_destroy(&m);
    ct_mesh_destroy(&w);
    ct_mesh_destroy(&w2);
    return worst;
}

static void pgd_plane_wave(void)
{
    const int np = 32, nk = 4;
    const double psi0 = 0.2, alpha = 0.5, kl = 0.2, ks = 1.0;
    ct_mesh *m = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    ct_mesh *w = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    ct_mesh *w2 = ct_test_new_mesh(N, L, 1, MPI_COMM_WORLD);
    ct_force_kernel fk;
    CT_EXPECT_OK(ct_force_kernel_init(&fk, CT_FORCE_DECONV, 0.55, N, L));
    const double k = 2 * M_PI * nk / L, sp = L / np;
    int64_t n = 0;
    float *pos = NULL;
    double *q = NULL;
    if (ct_test_rank == 0) {
        n = (int64_t)np * np * np;
        pos = malloc((size_t)n * 3 * sizeof *pos);
        q = malloc((size_t)n * sizeof *q);
        int64_t i = 0;
        for (int a = 0; a < np; a++)
            for (int b = 0; b < np; b++)
                for (int cc = 0; cc < np; cc++, i++) {
                    q[i] = a * sp;
                    pos[3 * i] = (float)(q[i] + psi0 * sin(k * q[i]));
                    pos[3 * i + 1] = (float)(b * sp);
                    pos[3 * i + 2] = (float)(cc * sp);
                }
    }
    ct_payload pl = {(void **)&q, sizeof(double)};
    CT_EXPECT_OK(ct_mesh_exchange(m, &n, &pos, 1, &pl));
    size_t nn = (size_t)(n > 0 ? n : 1);
    double *dis = malloc(nn * 3 * sizeof *dis);
    float *out = malloc(nn * 3 * sizeof *out);
    CT_EXPECT_OK(ct_sim_pgd(m, w, w2, &fk, alpha, kl, ks, n, pos, dis, out, NULL));
    double amp = alpha * exp(-kl * kl / (k * k) - pow(k / ks, 4)) * psi0, worst = 0, wyz = 0;
    double sgw = 0, sww = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = amp * sin(k * q[i]);
        double got = out[3 * i] - pos[3 * i];
        if (got > L / 2)
            got -= L;
        if (got < -L / 2)
            got += L;
        worst = fmax(worst, fabs(got - want));
        sgw += got * want;
        sww += want * want;
        wyz = fmax(wyz, fmax(fabs(out[3 * i + 1] - pos[3 * i + 1]), fabs(out[3 * i + 2] - pos[3 * i + 2])));
    }
    MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &wyz, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &sgw, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &sww, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (ct_test_rank == 0)
        printf("PGD plane wave: fitted amplitude / expected %.4f\n", sgw / sww);
    if (ct_test_rank == 0)
        printf("PGD plane wave: amplitude %.5f, max error %.2e (%.2f%%), transverse %.1e\n", amp,
               worst, 100 * worst / amp, wyz);
    CT_EXPECT(fabs(sgw / sww - 1) < 0.01);
    CT_EXPECT(worst < 0.2 * amp);
    CT_EXPECT(wyz < 1e-3 * amp);
    /* bad parameters are refused */
    CT_EXPECT(ct_sim_pgd(m, w, w2, &fk, alpha, -1.0, ks, n, pos, dis, out, NULL) != CT_OK);
    free(dis);
    free(out);
    free(pos);
    free(q);
    ct_force_kernel_free(&fk);
    ct_mesh_destroy(&m);
    ct_mesh_destroy(&w);
    ct_mesh_destroy(&w2);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    double lo, mean;
    double e_fd2 = point_mass(CT_FORCE_FD2, 7, 12, &lo, &mean);
    if (ct_test_rank == 0)
        printf("point mass, FD2, r = 7-12 cells: max |E/E_exact - 1| = %.4f, mean ratio %.4f\n",
               e_fd2, mean);
    CT_EXPECT(e_fd2 < 0.06);
    double e_dec = point_mass(CT_FORCE_DECONV, 7, 12, &lo, &mean);
    if (ct_test_rank == 0)
        printf("point mass, deconvolved, r = 7-12 cells: max |E/E_exact - 1| = %.4f, mean ratio "
               "%.4f\n", e_dec, mean);
    CT_EXPECT(fabs(mean - 1) < 0.03);
    CT_EXPECT(e_dec < 0.15);
    /* bad kernel settings are refused */
    ct_force_kernel fk;
    CT_EXPECT(ct_force_kernel_init(&fk, CT_FORCE_DECONV, 0.0, N, L) != CT_OK);
    CT_EXPECT(ct_force_kernel_init(&fk, (ct_force_kind)7, 0.55, N, L) != CT_OK);
    pgd_plane_wave();
    CT_TEST_END();
}
