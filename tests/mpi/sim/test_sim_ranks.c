/* The same seed gives the same snapshot on 1, 2 and 4 ranks: one 4-rank job
 * runs each model on sub-communicators of 1, 2 and 4 ranks, writes the
 * snapshots, reads them back and compares particle by particle (the files are in
 * ID order whatever the rank count). */
#include <stdio.h>
#include <unistd.h>

#include "cosmotl/io.h"
#include "testlib.h"
#include "simtest.h"

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 4) {
        if (ct_test_rank == 0)
            fprintf(stderr, "run with 4 ranks\n");
        CT_EXPECT(size == 4);
        CT_TEST_END();
    }
    char root[256];
    long tag = (long)getpid();
    MPI_Bcast(&tag, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    snprintf(root, sizeof root, "/tmp/ct_simranks_%ld", tag);

    /* "pgd": the deconvolved force kernel and the PGD correction at the outputs */
    const char *models[4] = {"lcdm", "nu_fr", "png", "pgd"};
    int nranks[3] = {1, 2, 4};
    for (int mdl = 0; mdl < 4; mdl++) {
        ct_cosmo_params cp;
        ct_cosmo_params_defaults(&cp);
        ct_sim_settings s;
        ct_sim_settings_defaults(&s);
        s.np = 16;
        s.box = 128;
        s.steps = 4;
        s.z_init = 24;
        s.nfiles = 2;
        s.seed = 99;
        s.nout = 2;
        s.z_out[0] = 1;
        s.z_out[1] = 0;
        s.snapnum[0] = 2;
        s.snapnum[1] = 4;
        if (mdl == 1) {
            cp.m_nu = 0.3;
            cp.f_r0 = -5e-5;
        }
        if (mdl == 2) {
            s.png = CT_PNG_LOCAL;
            s.f_nl = 100;
        }
        if (mdl == 3) {
            s.force = CT_FORCE_DECONV;
            s.pgd_alpha = 0.02;
            s.pgd_kl = 0.2;
            s.pgd_ks = 1.5;
        }
        ct_cosmo *c = NULL;
        CT_EXPECT_OK(ct_cosmo_create(&c, &cp));
        for (int k = 0; k < 3; k++) {
            MPI_Comm sub;
            MPI_Comm_split(MPI_COMM_WORLD, ct_test_rank < nranks[k] ? 0 : MPI_UNDEFINED,
                           ct_test_rank, &sub);
            if (sub != MPI_COMM_NULL) {
                char dir[512];
                snprintf(dir, sizeof dir, "%s/%s_%d", root, models[mdl], nranks[k]);
                CT_EXPECT_OK(ct_sim_write(c, &s, dir, NULL, sub));
                MPI_Comm_free(&sub);
            }
            MPI_Barrier(MPI_COMM_WORLD);
        }
        ct_cosmo_destroy(&c);
        if (ct_test_rank == 0) {
            for (int o = 0; o < 2; o++) {
                ct_particles ref = {0};
                for (int k = 0; k < 3; k++) {
                    char path[600];
                    snprintf(path, sizeof path, "%s/%s_%d/snapdir_%03d", root, models[mdl],
                             nranks[k], s.snapnum[o]);
                    ct_snapshot *snap = NULL;
                    ct_particles p = {0};
                    ct_read_settings rs;
                    ct_read_settings_defaults(&rs);
                    CT_EXPECT_OK(ct_snapshot_open(&snap, path, MPI_COMM_SELF));
                    if (!snap)
                        continue;
                    CT_EXPECT_OK(ct_snapshot_read(snap, 1, &rs, &p));
                    CT_EXPECT(p.n == 16 * 16 * 16);
                    for (int64_t i = 0; i < p.n; i++)
                        CT_EXPECT(p.id[i] == (uint64_t)i + 1);
                    if (k == 0) {
                        ref = p;
                    } else {
                        double dx = 0, dv = 0, vmax = 0;
                        for (int64_t i = 0; i < 3 * p.n; i++) {
                            double d = fabs(p.pos[i] - ref.pos[i]);
                            d = fmin(d, 128 - d);
                            dx = fmax(dx, d);
                            dv = fmax(dv, fabs(p.vel[i] - ref.vel[i]));
                            vmax = fmax(vmax, fabs(ref.vel[i]));
                        }
                        printf("%s z=%g: %d vs 1 rank: max |dx| = %.3g Mpc/h, max |dv| = %.3g "
                               "km/s (max |v| %.0f)\n", models[mdl], s.z_out[o], nranks[k], dx,
                               dv, vmax);
                        /* float positions in a 128 Mpc/h box resolve 7.6e-6; sums
                         * in a different order may flip last bits, which four PM
                         * steps amplify by at most ~10x (the single-precision
                         * build, whose float FFTs put ~u log2 N^3 into the forces,
                         * differs by 2-3 such bits: 2.3e-5 and 8e-4 km/s) */
                        CT_EXPECT(dx <= 1e-4);
                        CT_EXPECT(dv <= 1e-5 * vmax + 1e-3);
                        ct_particles_free(&p);
                    }
                    ct_snapshot_close(&snap);
                }
                ct_particles_free(&ref);
            }
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    if (ct_test_rank == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        CT_EXPECT(system(cmd) == 0);
    }
    CT_TEST_END();
}
