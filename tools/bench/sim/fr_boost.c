/* Same-seed f(R) boosts for tools/bench/sim/fr-boost: one simulation per run
 * spec, all from the same initial seed and settings, and the z = 0 P(k) of each
 * (CIC, compensated, bins of one k_F) on stdout.
 *   mpirun -np R fr_boost NP BOX STEPS Z_INIT SEED FORCE PGD SPEC...
 * FORCE: fd2 | deconv (deconv uses taper 0.55); PGD: 0 = off, else alpha with
 * kl = 0.2, ks = 1.5 (the quijote-lh-256 settings). SPEC = F_R0:SCREEN:SCALE,
 * e.g. 0:0:1 (GR), -1e-5:1:1 (screened, scale 1), -1e-5:0:1 (unscreened).
 * Output lines: "run I F_R0 SCREEN SCALE" then "k P nmodes" per bin, and
 * "cpu I SECONDS" (process CPU time of rank 0 for that run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cosmotl/cosmo.h"
#include "cosmotl/sim.h"
#include "cosmotl/stats.h"
#include "sim_pk.h"

static void die(const char *msg)
{
    fprintf(stderr, "fr_boost: %s\n", msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc < 9) {
        if (rank == 0)
            fprintf(stderr, "usage: fr_boost NP BOX STEPS Z_INIT SEED fd2|deconv PGD_ALPHA "
                            "F_R0:SCREEN:SCALE...\n");
        MPI_Finalize();
        return 2;
    }
    ct_sim_settings s;
    ct_sim_settings_defaults(&s);
    s.np = atoi(argv[1]);
    s.box = atof(argv[2]);
    s.steps = atoi(argv[3]);
    s.z_init = atof(argv[4]);
    s.seed = strtoull(argv[5], NULL, 10);
    if (!strcmp(argv[6], "deconv"))
        s.force = CT_FORCE_DECONV;
    else if (strcmp(argv[6], "fd2"))
        die("FORCE must be fd2 or deconv");
    s.pgd_alpha = atof(argv[7]);
    s.pgd_kl = 0.2;
    s.pgd_ks = 1.5;
    s.amplitude = CT_AMP_FIXED; /* fixed amplitudes: smooth same-seed ratios */
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = 2 * s.np;
    ms.box = s.box;
    ct_mesh *m = NULL;
    if (ct_mesh_create(&m, &ms, MPI_COMM_WORLD) != CT_OK)
        die(ct_error_message());
    for (int i = 8; i < argc; i++) {
        double fr0, scale;
        int screen;
        if (sscanf(argv[i], "%lf:%d:%lf", &fr0, &screen, &scale) != 3)
            die("a run spec must read F_R0:SCREEN:SCALE");
        ct_cosmo_params cp;
        ct_cosmo_params_defaults(&cp);
        cp.f_r0 = fr0;
        s.fr_screening = screen;
        s.fr_screening_scale = scale;
        ct_cosmo *c = NULL;
        grab g = {m, {0}};
        clock_t t0 = clock();
        if (ct_cosmo_create(&c, &cp) != CT_OK ||
            ct_sim_run(c, &s, measure, &g, NULL, MPI_COMM_WORLD) != CT_OK)
            die(ct_error_message());
        double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
        if (rank == 0) {
            printf("run %d %g %d %g\n", i - 8, fr0, screen, scale);
            for (int b = 0; b < g.r.nbins; b++)
                if (g.r.nmodes[b] > 0)
                    printf("%.6e %.6e %lld\n", g.r.k[b], g.r.P0[b], (long long)g.r.nmodes[b]);
            printf("cpu %d %.2f\n", i - 8, cpu);
            fflush(stdout);
        }
        ct_pk_result_free(&g.r);
        ct_cosmo_destroy(&c);
    }
    ct_mesh_destroy(&m);
    MPI_Finalize();
    return 0;
}
