/* Helpers for tests of code built on the distributed mesh. */
#ifndef COSMOTL_MESH_TESTLIB_H
#define COSMOTL_MESH_TESTLIB_H

#include <math.h>
#include <mpi.h>
#include <stdlib.h>

#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"
#include "testlib.h"

/* An N^3 mesh of box L on comm with the given threads (default settings else). */
static inline ct_mesh *ct_test_new_mesh(int64_t N, double L, int threads, MPI_Comm comm)
{
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = L;
    ms.threads = threads;
    ct_mesh *m = NULL;
    CT_EXPECT_OK(ct_mesh_create(&m, &ms, comm));
    return m;
}

/* The same as a float32 mesh (ct_mesh_settings.float32: the single-precision
 * P(k) path). */
static inline ct_mesh *ct_test_new_mesh_f32(int64_t N, double L, int threads, MPI_Comm comm)
{
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = L;
    ms.threads = threads;
    ms.float32 = 1;
    ct_mesh *m = NULL;
    CT_EXPECT_OK(ct_mesh_create(&m, &ms, comm));
    return m;
}

/* One particle's position from its own generator stream (any distribution). */
typedef void (*ct_test_position_fn)(ct_rng *r, double L, double x[3]);

/* np particles from a seed, the same on any number of ranks: particle i is drawn
 * by gen from Philox(seed, 1, i) and put into [0, L) (a float that rounds to L is
 * 0); each rank keeps every size-th one, then they go to their slab owners. */
static inline void ct_test_share_particles(ct_mesh *m, int64_t np, uint64_t seed,
                                           ct_test_position_fn gen, int64_t *n, float **pos)
{
    int me, size;
    MPI_Comm comm = ct_mesh_comm(m);
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &size);
    double L = ct_mesh_box(m);
    float *p = malloc((size_t)(np / size + 1) * 3 * sizeof *p);
    int64_t k = 0;
    for (int64_t i = 0; i < np; i++) {
        ct_rng r;
        ct_rng_init(&r, seed, 1, (uint64_t)i);
        double v[3];
        gen(&r, L, v);
        if (i % size != me)
            continue;
        for (int a = 0; a < 3; a++) {
            float f = (float)v[a];
            p[3 * k + a] = f >= (float)L ? 0.0f : f;
        }
        k++;
    }
    *n = k;
    *pos = p;
    CT_EXPECT_OK(ct_mesh_exchange(m, n, pos, 0, NULL));
}

/* The same np positions on every rank: uniform in [0, L)^3 from Philox(seed, N),
 * then the cases where a slab split could go wrong: a particle exactly on every
 * plane boundary (the slab boundaries of any rank count among them), one on the
 * last plane and two at L - eps (one of them at y = 0, z = L - eps). Needs
 * np >= N + 3; the caller frees the array. */
static inline float *ct_test_global_positions(int np, int64_t N, double L, uint64_t seed)
{
    const double H = L / (double)N;
    float *g = malloc(sizeof(float) * 3 * (size_t)np);
    ct_rng rng;
    ct_rng_init(&rng, seed, (uint64_t)N, 0);
    for (int q = 0; q < 3 * np; q++)
        g[q] = (float)(ct_rng_uniform(&rng) * L);
    int e = 0;
    for (int64_t i = 0; i < N; i++)
        g[3 * e++] = (float)((double)i * H);
    g[3 * e++] = (float)(H * (double)(N - 1));
    g[3 * e++] = nextafterf((float)L, 0.0f);
    g[3 * e + 1] = 0.0f;
    g[3 * e + 2] = nextafterf((float)L, 0.0f);
    for (int q = 0; q < 3 * np; q++)
        if (g[q] >= (float)L) /* a uniform draw that rounds to L */
            g[q] = 0.0f;
    return g;
}

/* The whole real field on every rank (N^3 values, no padding), for comparison
 * with brute-force references. */
static inline double *ct_test_gather_field(ct_mesh *m)
{
    int64_t N = ct_mesh_n(m);
    ptrdiff_t x0, nx, row = ct_mesh_row(m);
    ct_mesh_local(m, &x0, &nx);
    size_t N3 = (size_t)(N * N * N);
    double *f = calloc(N3, sizeof *f);
    const ct_real *r = ct_mesh_real(m);
    for (ptrdiff_t i = 0; i < nx; i++)
        for (int64_t j = 0; j < N; j++)
            for (int64_t l = 0; l < N; l++)
                f[((size_t)(x0 + i) * N + j) * N + l] = r[(i * N + j) * row + l];
    MPI_Allreduce(MPI_IN_PLACE, f, (int)N3, MPI_DOUBLE, MPI_SUM, ct_mesh_comm(m));
    return f;
}

/* The most particles whose order-p kernel (p = 1 NGP ... 4 PCS; grid shift in
 * cells) reaches one cell of an N^3 grid of side L: the number of float terms
 * summed into the fullest cell, which bounds painting round-off (testlib.h).
 * pos: np positions of this rank (the caller passes the whole list). */
static inline int ct_test_max_cell_hits(int N, double L, int p, double shift, int64_t np,
                                        const float *pos)
{
    int *hits = calloc((size_t)N * N * N, sizeof *hits), best = 0;
    for (int64_t q = 0; q < np; q++) {
        int cells[3][4], nc[3];
        for (int a = 0; a < 3; a++) {
            double s = pos[3 * q + a] / (L / N) + shift;
            nc[a] = 0;
            if (p == 1) {
                cells[a][nc[a]++] = (int)(((int64_t)floor(s + 0.5) % N + N) % N);
                continue;
            }
            for (int64_t g = (int64_t)floor(s - 0.5 * p); g <= (int64_t)floor(s + 0.5 * p); g++)
                if (fabs((double)g - s) < 0.5 * p && nc[a] < 4)
                    cells[a][nc[a]++] = (int)((g % N + N) % N);
        }
        for (int i = 0; i < nc[0]; i++)
            for (int j = 0; j < nc[1]; j++)
                for (int l = 0; l < nc[2]; l++) {
                    int *h = &hits[((size_t)cells[0][i] * N + cells[1][j]) * N + cells[2][l]];
                    best = ++*h > best ? *h : best;
                }
    }
    free(hits);
    return best;
}

/* Float round-off of bin power P measured on a float mesh, relative to the
 * bin's P0 and for a monopole (times 2l + 1 for multipole l: Legendre weights
 * are <= 1). pbar: the mean power over all modes and p_bin the bin's, both
 * without MAS compensation (compensation scales error and power alike);
 * kcell: most particles painted into one cell (0 for a field not painted).
 * The FFT puts CT_FFT_U(N^3) of the rms mode amplitude into every mode;
 * painting puts kcell u of each cell's density into delta = rho / rhobar - 1,
 * i.e. kcell u sqrt(1 + var) of the rms density where var = <delta^2> per
 * cell = pbar N^3 / L^3 (Parseval), against sqrt(var) of fluctuation.
 * |.|^2 doubles the relative amplitude error; a bin below the mean power
 * gets it times sqrt(pbar / p_bin). One float path: double it when comparing
 * two float paths. */
static inline double ct_test_pk_float_tol(int64_t N, double L, double pbar, double p_bin,
                                          int kcell)
{
    double var = pbar * (double)N * N * N / (L * L * L);
    double e = CT_FFT_U(N * N * N) + kcell * CT_FLOAT_U * sqrt(1.0 + 1.0 / var);
    return 2.0 * e * sqrt(pbar / p_bin);
}

/* Mean power over all modes of an uncompensated P(k) result (mode-weighted). */
static inline double ct_test_pk_mean_power(const ct_pk_result *r)
{
    double s = 0, n = 0;
    for (int i = 0; i < r->nbins; i++) {
        s += (double)r->nmodes[i] * r->P0[i];
        n += (double)r->nmodes[i];
    }
    return n > 0 ? s / n : 0.0;
}

#endif
