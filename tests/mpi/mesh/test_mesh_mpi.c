/* Mesh on 1, 2, 4 ranks: exchange + paint + FFT + readout of a distributed
 * mesh equal a single-rank mesh (validated by the unit test against brute
 * force) to 1e-12, with particles exactly on slab boundaries, on the last
 * plane, at L - eps and outside [0, L) (wrapped); grids where some ranks own no
 * plane; threads 1 and 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/mesh.h"
#include "mesh_testlib.h"
#include "testlib.h"

static void run(int N, double L, int threads, int np_global)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);

    /* the same global particle list on every rank, with particles on every plane
     * boundary, on the last plane and at L - eps */
    float *gpos = ct_test_global_positions(np_global, N, L, 7);
    float *gw = malloc(sizeof(float) * np_global);
    ct_rng rng;
    ct_rng_init(&rng, 8, (uint64_t)N, 0);
    for (int q = 0; q < np_global; q++)
        gw[q] = (float)(0.5 + ct_rng_uniform(&rng));

    /* reference on this rank alone */
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = L;
    ms.threads = threads;
    ct_mesh *ref = NULL, *m = NULL;
    CT_EXPECT_OK(ct_mesh_create(&ref, &ms, MPI_COMM_SELF));
    CT_EXPECT_OK(ct_mesh_create(&m, &ms, comm));

    /* this rank's slice, with ids and weights as payload; a few positions
     * shifted by +-L to exercise wrapping */
    int64_t a0 = (int64_t)np_global * rank / size, a1 = (int64_t)np_global * (rank + 1) / size;
    int64_t n = a1 - a0;
    float *pos = malloc(sizeof(float) * 3 * (n + 1));
    float *w = malloc(sizeof(float) * (n + 1));
    int64_t *id = malloc(sizeof(int64_t) * (n + 1));
    for (int64_t i = 0; i < n; i++) {
        memcpy(pos + 3 * i, gpos + 3 * (a0 + i), 3 * sizeof(float));
        w[i] = gw[a0 + i];
        id[i] = a0 + i;
    }
    ct_payload pl[2] = {{(void **)&w, sizeof(float)}, {(void **)&id, sizeof(int64_t)}};
    CT_EXPECT_OK(ct_mesh_exchange(m, &n, &pos, 2, pl));
    int64_t ntot = 0;
    MPI_Allreduce(&n, &ntot, 1, MPI_INT64_T, MPI_SUM, comm);
    CT_EXPECT(ntot == np_global);
    for (int64_t i = 0; i < n; i++) {
        CT_EXPECT(memcmp(pos + 3 * i, gpos + 3 * id[i], 3 * sizeof(float)) == 0);
        CT_EXPECT(w[i] == gw[id[i]]);
    }

    ptrdiff_t x0, nx, y0, ny;
    ct_mesh_local(m, &x0, &nx);
    ct_mesh_klocal(m, &y0, &ny);
    const ptrdiff_t row = ct_mesh_row(m);
    double tol_paint = 0; /* of the last painting, for the FFT checks below */
    for (int p = 1; p <= 4; p++) {
        for (int sh = 0; sh < 2; sh++) {
            ct_paint_settings ps;
            ct_paint_settings_defaults(&ps);
            ps.mas = (ct_mas)p;
            ps.shift = 0.5 * sh;
            /* single: the distributed mesh adds the same float pieces in
             * another order (ghost planes): a cell of at most k pieces within
             * (k - 1) u of their sum in each order, 2 k u apart; sums and
             * readouts (double, positive weights) inherit the same bound */
            const int k = ct_test_max_cell_hits(N, L, p, ps.shift, np_global, gpos);
            tol_paint = CT_TOL(1e-12, 2 * k * CT_FLOAT_U);
            CT_EXPECT_OK(ct_mesh_paint(ref, &ps, np_global, gpos, gw, 0));
            CT_EXPECT_OK(ct_mesh_paint(m, &ps, n, pos, w, 0));
            double err = 0, mx = 0;
            for (ptrdiff_t i = 0; i < nx; i++)
                for (int j = 0; j < N; j++)
                    for (int l = 0; l < N; l++) {
                        double a = ct_mesh_real(m)[(i * N + j) * row + l];
                        double b = ct_mesh_real(ref)[((x0 + i) * N + j) * row + l];
                        err = fmax(err, fabs(a - b));
                        mx = fmax(mx, fabs(b));
                    }
            double gerr = 0, gmx = 0;
            MPI_Allreduce(&err, &gerr, 1, MPI_DOUBLE, MPI_MAX, comm);
            MPI_Allreduce(&mx, &gmx, 1, MPI_DOUBLE, MPI_MAX, comm);
            if (!(gerr <= tol_paint * gmx)) {
                if (rank == 0)
                    fprintf(stderr, "N=%d p=%d shift=%d: paint differs by %g (max %g)\n", N, p,
                            sh, gerr, gmx);
                ct_test_failures++;
            }
            double s1, s2;
            CT_EXPECT_OK(ct_mesh_sum(m, &s1));
            CT_EXPECT_OK(ct_mesh_sum(ref, &s2));
            CT_EXPECT_REL(s1, s2, tol_paint);

            if (sh == 0) {
                /* readout at every particle = single-rank readout */
                double *o1 = malloc(sizeof(double) * (n + 1));
                double *o2 = malloc(sizeof(double) * np_global);
                CT_EXPECT_OK(ct_mesh_readout(m, (ct_mas)p, n, pos, o1));
                CT_EXPECT_OK(ct_mesh_readout(ref, (ct_mas)p, np_global, gpos, o2));
                double rerr = 0;
                for (int64_t i = 0; i < n; i++)
                    rerr = fmax(rerr, fabs(o1[i] - o2[id[i]]) / (fabs(o2[id[i]]) + 1e-300));
                CT_EXPECT(rerr <= tol_paint);
                /* several meshes at once (the PM force): each value is
                 * bit-identical to its own readout; mesh 1 = -2 x mesh 0 (exact) */
                {
                    ct_mesh *m2 = NULL;
                    CT_EXPECT_OK(ct_mesh_create(&m2, &ms, comm));
                    CT_EXPECT_OK(ct_mesh_copy(m2, m));
                    ct_real *d2 = ct_mesh_real(m2);
                    for (ptrdiff_t q = 0; q < nx * N * row; q++)
                        d2[q] = -2 * d2[q];
                    double *o3 = malloc(sizeof(double) * (n + 1));
                    double *on = malloc(sizeof(double) * 3 * (n + 1));
                    CT_EXPECT_OK(ct_mesh_readout(m2, (ct_mas)p, n, pos, o3));
                    ct_mesh *three[3] = {m, m2, m};
                    CT_EXPECT_OK(ct_mesh_readout_n(three, 3, (ct_mas)p, n, pos, on));
                    int same = 1;
                    for (int64_t i = 0; i < n; i++)
                        same &= on[3 * i] == o1[i] && on[3 * i + 1] == o3[i] &&
                                on[3 * i + 2] == o1[i];
                    CT_EXPECT(same);
                    /* a mesh of another geometry is refused on every rank */
                    ct_mesh *bad[2] = {m, ref};
                    if (size > 1)
                        CT_EXPECT(ct_mesh_readout_n(bad, 2, (ct_mas)p, n, pos, on) != CT_OK);
                    CT_EXPECT(ct_mesh_readout_n(three, 0, (ct_mas)p, n, pos, on) != CT_OK);
                    free(o3);
                    free(on);
                    ct_mesh_destroy(&m2);
                }
                free(o1);
                free(o2);
            }
        }
    }
    /* FFT: every local mode equals the single-rank transform */
    CT_EXPECT_OK(ct_mesh_r2c(m));
    CT_EXPECT_OK(ct_mesh_r2c(ref));
    double err = 0, mx = 0;
    int64_t wsum = 0;
    ct_kiter it;
    for (ct_kiter_begin(&it, m, 0, ny); ct_kiter_valid(&it); ct_kiter_next(&it)) {
        const ct_kmode *k = &it.mode;
        ptrdiff_t ri = (k->i[1] * N + k->i[0]) * (N / 2 + 1) + k->i[2];
        const ct_real *a = ct_mesh_complex(m)[k->idx], *b = ct_mesh_complex(ref)[ri];
        err = fmax(err, hypot(a[0] - b[0], a[1] - b[1]));
        mx = fmax(mx, hypot(b[0], b[1]));
        wsum += k->weight;
    }
    double gerr, gmx;
    int64_t gw_sum;
    MPI_Allreduce(&err, &gerr, 1, MPI_DOUBLE, MPI_MAX, comm);
    MPI_Allreduce(&mx, &gmx, 1, MPI_DOUBLE, MPI_MAX, comm);
    MPI_Allreduce(&wsum, &gw_sum, 1, MPI_INT64_T, MPI_SUM, comm);
    /* single: the painted fields differ as above; each transform puts
     * CT_FFT_U(N^3) of the rms amplitude into every mode, 4x for the largest,
     * and gmx is the DC mode of this positive field, above the rms */
    const double tol_fft = CT_TOL(1e-12, tol_paint + 8 * CT_FFT_U(N * N * N));
    CT_EXPECT(gerr <= tol_fft * gmx);
    CT_EXPECT(gw_sum == ((int64_t)N * N * N - 8) / 2 + 8);
    /* backward: round trip on the distributed mesh */
    CT_EXPECT_OK(ct_mesh_c2r(m));
    CT_EXPECT_OK(ct_mesh_c2r(ref));
    err = 0;
    for (ptrdiff_t i = 0; i < nx; i++)
        for (int j = 0; j < N; j++)
            for (int l = 0; l < N; l++)
                err = fmax(err, fabs(ct_mesh_real(m)[(i * N + j) * row + l] -
                                     ct_mesh_real(ref)[((x0 + i) * N + j) * row + l]));
    MPI_Allreduce(&err, &gerr, 1, MPI_DOUBLE, MPI_MAX, comm);
    /* single: plus two more transforms */
    CT_EXPECT(gerr <= CT_TOL(1e-12, tol_fft + 8 * CT_FFT_U(N * N * N)) * gmx);

    /* a particle on the wrong rank is an error on every rank, not a hang */
    if (size > 1) {
        float stray[3] = {0.0f, 0.0f, 0.0f};
        ct_paint_settings ps;
        ct_paint_settings_defaults(&ps);
        int mine = ct_mesh_plane_owner(m, 0) == rank;
        ct_status s = ct_mesh_paint(m, &ps, mine ? 0 : 1, stray, NULL, 1.0);
        CT_EXPECT(s != CT_OK);
    }
    ct_mesh_destroy(&m);
    ct_mesh_destroy(&ref);
    free(pos);
    free(w);
    free(id);
    free(gpos);
    free(gw);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    run(16, 100.0, 1, 400);
    run(16, 100.0, 2, 400);
    run(10, 1000.0, 1, 300); /* uneven slabs */
    run(6, 1.0, 1, 100);     /* some ranks own no plane on 4 ranks */
    CT_TEST_END();
}
