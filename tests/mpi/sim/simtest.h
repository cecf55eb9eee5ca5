/* Helpers for the simulation tests: binned P(k) of a Fourier-space mesh,
 * painting particles to a compensated delta(k), real-space moments. */
#ifndef COSMOTL_SIMTEST_H
#define COSMOTL_SIMTEST_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/cosmo.h"
#include "cosmotl/mesh.h"
#include "cosmotl/sim.h"

#define ST_NBIN 256

typedef struct {
    int nbin;
    double k[ST_NBIN], p[ST_NBIN], plin[ST_NBIN], n[ST_NBIN];
} st_pk;

/* P(k) in bins of |n| (width 1 kF), half-space mode counting, and the mean of
 * lin(k) over the same modes (lin may be NULL). Collective. */
static inline void st_measure(ct_mesh *m, const ct_cosmo *c, double a, st_pk *out)
{
    memset(out, 0, sizeof *out);
    const int64_t N = ct_mesh_n(m);
    const double L = ct_mesh_box(m), kf = ct_mesh_kf(m);
    const double norm = L * L * L / ((double)N * N * N * (double)N * N * N);
    ptrdiff_t y0, ny;
    ct_mesh_klocal(m, &y0, &ny);
    const ct_complex *d = ct_mesh_complex(m);
    double acc[4][ST_NBIN];
    memset(acc, 0, sizeof acc);
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *mo = &it.mode;
            if (!mo->weight || mo->n2 == 0)
                continue;
            double kn = sqrt((double)mo->n2);
            int b = (int)kn;
            if (b >= ST_NBIN)
                continue;
            double k = kf * kn;
            acc[0][b] += k;
            acc[1][b] += norm * (d[mo->idx][0] * d[mo->idx][0] + d[mo->idx][1] * d[mo->idx][1]);
            acc[2][b] += c ? ct_cosmo_pk(c, k, a, CT_SPECIES_CB) : 0;
            acc[3][b] += 1;
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, acc, 4 * ST_NBIN, MPI_DOUBLE, MPI_SUM, ct_mesh_comm(m));
    out->nbin = (int)(N / 2);
    for (int b = 0; b < ST_NBIN; b++)
        if (acc[3][b] > 0) {
            out->k[b] = acc[0][b] / acc[3][b];
            out->p[b] = acc[1][b] / acc[3][b];
            out->plin[b] = acc[2][b] / acc[3][b];
            out->n[b] = acc[3][b];
        }
}

/* Paint (CIC) particles onto m, convert to delta(k) with the CIC window
 * compensated. The particles are exchanged to m's decomposition (modified). */
static inline ct_status st_paint(ct_mesh *m, ct_sim_particles *p)
{
    ct_payload pl[2] = {{(void **)&p->mom, 3 * sizeof(float)}, {(void **)&p->id, sizeof(uint64_t)}};
    CT_CHECK(ct_mesh_exchange(m, &p->n, &p->pos, 2, pl));
    ct_mesh_zero(m);
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    CT_CHECK(ct_mesh_paint(m, &ps, p->n, p->pos, NULL, 1.0));
    CT_CHECK(ct_mesh_to_overdensity(m, NULL));
    CT_CHECK(ct_mesh_r2c(m));
    CT_CHECK(ct_mesh_compensate(m, 2));
    return CT_OK;
}

/* Sum over modes with kmin <= k < kmax of |delta|^2 (half space). */
static inline double st_power_sum(ct_mesh *m, double kmin, double kmax)
{
    const double kf = ct_mesh_kf(m);
    ptrdiff_t y0, ny;
    ct_mesh_klocal(m, &y0, &ny);
    const ct_complex *d = ct_mesh_complex(m);
    double s = 0;
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            double k = kf * sqrt((double)it.mode.n2);
            if (it.mode.weight && it.mode.n2 > 0 && k >= kmin && k < kmax)
                s += d[it.mode.idx][0] * d[it.mode.idx][0] + d[it.mode.idx][1] * d[it.mode.idx][1];
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, ct_mesh_comm(m));
    return s;
}

/* Skewness <d^3>/<d^2>^1.5 of a real-space mesh. Collective. */
static inline double st_skewness(ct_mesh *m)
{
    ptrdiff_t x0, nx;
    ct_mesh_local(m, &x0, &nx);
    const int64_t N = ct_mesh_n(m);
    const ptrdiff_t row = ct_mesh_row(m);
    const ct_real *d = ct_mesh_real(m);
    double s[3] = {0, 0, 0};
    for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
        for (int64_t l = 0; l < N; l++) {
            double v = d[r * row + l];
            s[0] += v;
            s[1] += v * v;
            s[2] += v * v * v;
        }
    MPI_Allreduce(MPI_IN_PLACE, s, 3, MPI_DOUBLE, MPI_SUM, ct_mesh_comm(m));
    double n = (double)N * N * N, mean = s[0] / n;
    double var = s[1] / n - mean * mean;
    double m3 = s[2] / n - 3 * mean * s[1] / n + 2 * mean * mean * mean;
    return m3 / pow(var, 1.5);
}

#endif
