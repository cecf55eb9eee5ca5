/* P(k) on 1, 2 and 4 ranks equals the single-rank measurement to 1e-12
 * relative: particles exactly on every plane (hence on every slab boundary), on
 * the last plane, at L - eps and outside [0, L); CIC and TSC, interlacing, two
 * weighted sets, a cross spectrum, 1 and 2 threads, and a grid where some
 * ranks own no plane. ct_pk_paint + ct_pk_measure_painted give ct_pk_measure's
 * result bit for bit. The float32 path on the same ranks stays within its
 * float budget of the reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"
#include "mesh_testlib.h"
#include "testlib.h"

static double maxrel(const double *a, const double *b, int n)
{
    double e = 0;
    for (int i = 0; i < n; i++)
        if (b[i] != 0 || a[i] != 0)
            e = fmax(e, fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-300));
    return e;
}

static void run(int N, double L, int threads, int np_global, ct_mas mas, int interlace)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    float *gpos = ct_test_global_positions(np_global, N, L, 11);
    float *gw = malloc(sizeof(float) * np_global);
    for (int q = 0; q < np_global; q++)
        gw[q] = q % 3 == 0 ? 0.25f : 1.0f;

    ct_pk_settings s;
    ct_pk_settings_defaults(&s);
    s.mas = mas;
    s.interlace = interlace;
    s.axis = N % 3;

    /* reference: everything on this rank alone, one weighted set */
    ct_mesh *r1 = ct_test_new_mesh(N, L, threads, MPI_COMM_SELF), *r2 = ct_test_new_mesh(N, L, threads, MPI_COMM_SELF);
    /* some positions moved by +L along y: float rounding makes y + L - L differ
     * from y, so the reference sees the same moved positions, wrapped by the same
     * exchange (on this rank alone) */
    for (int q = 1; q < np_global; q += 7)
        gpos[3 * q + 1] += (float)L;
    int64_t gn = np_global;
    float *rpos = malloc(sizeof(float) * 3 * np_global), *rw = malloc(sizeof(float) * np_global);
    memcpy(rpos, gpos, sizeof(float) * 3 * np_global);
    memcpy(rw, gw, sizeof(float) * np_global);
    ct_payload rp = {(void **)&rw, sizeof(float)};
    CT_EXPECT_OK(ct_mesh_exchange(r1, &gn, &rpos, 1, &rp));
    ct_pk_particles gset = {gn, rpos, rw, 0};
    ct_pk_result ref, res, un;
    CT_EXPECT_OK(ct_pk_measure(r1, r2, &s, 1, &gset, &ref));
    /* single: the distributed measurement paints in another order and
     * transforms with other plans: two float paths, each within
     * ct_test_pk_float_tol of the uncompensated power (times 2l + 1 for
     * multipole l, relative to P0); bin k and mode counts stay exact */
    ct_pk_settings su = s;
    su.compensate = 0;
    CT_EXPECT_OK(ct_pk_measure(r1, r2, &su, 1, &gset, &un));
    const double pbar = ct_test_pk_mean_power(&un);
    int kcell = ct_test_max_cell_hits(N, L, (int)mas, 0.0, gn, rpos);
    if (interlace)
        kcell = (int)fmax(kcell, ct_test_max_cell_hits(N, L, (int)mas, 0.5, gn, rpos));

    /* distributed: slices (some moved by +-L), exchanged, as two sets of
     * uniform mass (0.25 and 1) */
    ct_mesh *m1 = ct_test_new_mesh(N, L, threads, comm), *m2 = ct_test_new_mesh(N, L, threads, comm);
    int64_t n[2] = {0, 0};
    float *pos[2] = {NULL, NULL};
    for (int t = 0; t < 2; t++) {
        pos[t] = malloc(sizeof(float) * 3 * (np_global + 1));
        for (int64_t q = (int64_t)np_global * rank / size; q < (int64_t)np_global * (rank + 1) / size; q++) {
            if ((q % 3 == 0) != (t == 0))
                continue;
            memcpy(pos[t] + 3 * n[t], gpos + 3 * q, 3 * sizeof(float));
            n[t]++;
        }
        CT_EXPECT_OK(ct_mesh_exchange(m1, &n[t], &pos[t], 0, NULL));
    }
    ct_pk_particles sets[2] = {{n[0], pos[0], NULL, 0.25}, {n[1], pos[1], NULL, 1.0}};
    CT_EXPECT_OK(ct_pk_measure(m1, m2, &s, 2, sets, &res));
    CT_EXPECT(res.nbins == ref.nbins);
    if (res.nbins == ref.nbins) {
        /* error / allowed error, worst bin, per multipole; in single P2 and P4
         * relative to P0 (they cross zero) */
        double e[3] = {0, 0, 0};
        const double *a[3] = {res.P0, res.P2, res.P4}, *b[3] = {ref.P0, ref.P2, ref.P4};
        for (int i = 0; i < ref.nbins; i++) {
            double t = 2 * ct_test_pk_float_tol(N, L, pbar, un.P0[i], kcell) * fabs(ref.P0[i]);
            for (int l = 0; l < 3; l++) {
                double allowed = CT_TOL(1e-12 * fmax(fabs(b[l][i]), 1e-300), (4 * l + 1) * t);
                if (a[l][i] != 0 || b[l][i] != 0)
                    e[l] = fmax(e[l], fabs(a[l][i] - b[l][i]) / allowed);
            }
        }
        double ek = maxrel(res.k, ref.k, ref.nbins);
        if (!(e[0] < 1 && e[1] < 1 && e[2] < 1 && ek < 1e-14) && rank == 0)
            fprintf(stderr, "N=%d mas=%d il=%d: diff / allowed P0 %g P2 %g P4 %g, k rel diff %g\n",
                    N, (int)mas, interlace, e[0], e[1], e[2], ek);
        CT_EXPECT(e[0] < 1 && e[1] < 1 && e[2] < 1 && ek < 1e-14);
        for (int i = 0; i < ref.nbins; i++)
            CT_EXPECT(res.nmodes[i] == ref.nmodes[i]);
        CT_EXPECT_REL(res.nbar, ref.nbar, 1e-12); /* from the weights, in double */
        CT_EXPECT(res.npart == np_global);
    }
    /* float32 meshes (the single-precision path) on these ranks: mode counts and
     * k those of the double measurement on the same ranks bit for bit; P within
     * the float budget of the single-rank double reference (one float path:
     * ct_test_pk_float_tol of the uncompensated power, times 2l + 1 for
     * multipole l, relative to P0; two float paths in the single build) */
    {
        ct_mesh *f1 = ct_test_new_mesh_f32(N, L, threads, comm);
        ct_mesh *f2 = ct_test_new_mesh_f32(N, L, threads, comm);
        ct_pk_settings sf = s;
        sf.float32 = 1;
        ct_pk_result rf;
        CT_EXPECT_OK(ct_pk_measure(f1, f2, &sf, 2, sets, &rf));
        CT_EXPECT(rf.nbins == res.nbins && rf.float32 == 1);
        double e = 0;
        int64_t differ = 0;
        for (int i = 0; i < rf.nbins && i < res.nbins; i++) {
            differ += rf.k[i] != res.k[i] || rf.nmodes[i] != res.nmodes[i];
            const double t = CT_TOL(1, 2) * ct_test_pk_float_tol(N, L, pbar, un.P0[i], kcell) *
                             fabs(ref.P0[i]);
            e = fmax(e, fabs(rf.P0[i] - ref.P0[i]) / t);
            e = fmax(e, fabs(rf.P2[i] - ref.P2[i]) / (5 * t));
            e = fmax(e, fabs(rf.P4[i] - ref.P4[i]) / (9 * t));
        }
        if (!(e <= 1 && differ == 0) && rank == 0)
            fprintf(stderr, "float32 N=%d mas=%d il=%d: diff / allowed %g, %lld bins with other "
                    "k or counts\n", N, (int)mas, interlace, e, (long long)differ);
        CT_EXPECT(e <= 1 && differ == 0);
        CT_EXPECT(rf.nbar == res.nbar && rf.npart == res.npart);
        ct_pk_result_free(&rf);
        ct_mesh_destroy(&f1);
        ct_mesh_destroy(&f2);
    }
    /* cross spectrum of the distributed field with itself = its auto spectrum */
    ct_pk_result x;
    CT_EXPECT_OK(ct_pk_bin(m1, m1, &s, &x));
    CT_EXPECT(maxrel(x.P0, res.P0, res.nbins) < 1e-14);
    ct_pk_result_free(&x);
    /* ct_pk_paint, the particles freed, then ct_pk_measure_painted (what the
     * Python binding does to let the transform reuse the particles' memory):
     * ct_pk_measure's result bit for bit */
    {
        float *cp[2];
        ct_pk_particles cs[2];
        for (int t = 0; t < 2; t++) {
            cp[t] = malloc(sizeof(float) * 3 * (size_t)(n[t] + 1));
            if (n[t])
                memcpy(cp[t], pos[t], sizeof(float) * 3 * (size_t)n[t]);
            cs[t] = sets[t];
            cs[t].pos = cp[t];
        }
        double sw = 0, sw2 = 0;
        int64_t np = 0;
        ct_pk_result pr;
        CT_EXPECT_OK(ct_pk_paint(m1, m2, &s, 2, cs, &sw, &sw2, &np));
        for (int t = 0; t < 2; t++)
            free(cp[t]);
        CT_EXPECT_OK(ct_pk_measure_painted(m1, m2, &s, sw, sw2, np, &pr));
        CT_EXPECT(pr.nbins == res.nbins);
        if (pr.nbins == res.nbins) {
            size_t b = sizeof(double) * (size_t)res.nbins;
            CT_EXPECT(!memcmp(pr.k, res.k, b) && !memcmp(pr.P0, res.P0, b) &&
                      !memcmp(pr.P2, res.P2, b) && !memcmp(pr.P4, res.P4, b) &&
                      !memcmp(pr.nmodes, res.nmodes, sizeof(int64_t) * (size_t)res.nbins));
        }
        CT_EXPECT(pr.nbar == res.nbar && pr.npart == res.npart);
        ct_pk_result_free(&pr);
    }
    ct_pk_result_free(&ref);
    ct_pk_result_free(&res);
    ct_pk_result_free(&un);
    ct_mesh_destroy(&r1);
    ct_mesh_destroy(&r2);
    ct_mesh_destroy(&m1);
    ct_mesh_destroy(&m2);
    free(pos[0]);
    free(pos[1]);
    free(gpos);
    free(gw);
    free(rpos);
    free(rw);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    run(16, 1000.0, 1, 2000, CT_MAS_CIC, 0);
    run(16, 1000.0, 2, 2000, CT_MAS_TSC, 1);
    run(12, 100.0, 1, 1000, CT_MAS_PCS, 1);
    run(6, 10.0, 1, 300, CT_MAS_CIC, 1); /* on 4 ranks one owns no plane */
    CT_TEST_END();
}
