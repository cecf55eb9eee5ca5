/* Data for docs/validation.md: same-seed simulations of LCDM, massive nu, f(R)
 * and PNG, their measured P(k) (stats estimator, CIC, compensated) and the
 * linear-theory predictions, as text tables for tools/plot-validation.
 *   mpirun -np R validate_sim OUTDIR [NP] [BOX] [STEPS]
 * Writes OUTDIR/<model>.txt with columns k P_sim P_lin nmodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/cosmo.h"
#include "cosmotl/sim.h"
#include "cosmotl/stats.h"
#include "sim_pk.h"

static int run(const char *dir, const char *name, ct_cosmo_params *cp, ct_sim_settings *s,
               ct_mesh *m, ct_species sp)
{
    ct_cosmo *c = NULL;
    grab g = {m, {0}};
    if (ct_cosmo_create(&c, cp) != CT_OK || ct_sim_run(c, s, measure, &g, NULL, MPI_COMM_WORLD)) {
        fprintf(stderr, "%s: %s\n", name, ct_error_message());
        return 1;
    }
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        char path[4096];
        if (ct_snprintf(path, sizeof path, "%s/%s.txt", dir, name) != CT_OK) {
            fprintf(stderr, "%s\n", ct_error_message());
            return 1;
        }
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        fprintf(f, "# %s: np %lld box %g steps %d z_init %g m_nu %g f_r0 %g png %d f_nl %g\n",
                name, (long long)s->np, s->box, s->steps, s->z_init, cp->m_nu, cp->f_r0, s->png,
                s->f_nl);
        fprintf(f, "# k P_sim P_lin nmodes\n");
        for (int b = 0; b < g.r.nbins; b++)
            if (g.r.nmodes[b] > 0)
                fprintf(f, "%.6e %.6e %.6e %lld\n", g.r.k[b], g.r.P0[b],
                        ct_cosmo_pk(c, g.r.k[b], 1.0, sp), (long long)g.r.nmodes[b]);
        fclose(f);
    }
    ct_pk_result_free(&g.r);
    ct_cosmo_destroy(&c);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    if (argc < 2) {
        fprintf(stderr, "usage: validate_sim OUTDIR [NP] [BOX] [STEPS]\n");
        MPI_Finalize();
        return 2;
    }
    const char *dir = argv[1];
    ct_sim_settings s;
    ct_sim_settings_defaults(&s);
    s.np = argc > 2 ? atoi(argv[2]) : 64;
    s.box = argc > 3 ? atof(argv[3]) : 256;
    s.steps = argc > 4 ? atoi(argv[4]) : 10;
    s.z_init = 24;
    s.seed = 2024;
    s.amplitude = CT_AMP_FIXED; /* fixed amplitudes: smooth ratios */
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = 2 * s.np;
    ms.box = s.box;
    ct_mesh *m = NULL;
    if (ct_mesh_create(&m, &ms, MPI_COMM_WORLD) != CT_OK) {
        fprintf(stderr, "%s\n", ct_error_message());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int bad = 0;
    char name[64];
    ct_cosmo_params cp;
    /* LCDM (sigma8 normalised) and the same at fixed A_s for the neutrino pairs */
    ct_cosmo_params_defaults(&cp);
    bad |= run(dir, "lcdm", &cp, &s, m, CT_SPECIES_TOTAL);
    cp.sigma8 = 0;
    bad |= run(dir, "lcdm_as", &cp, &s, m, CT_SPECIES_CB);
    double mnus[3] = {0.1, 0.2, 0.4};
    for (int i = 0; i < 3; i++) {
        cp.m_nu = mnus[i];
        snprintf(name, sizeof name, "mnu_%.1f", mnus[i]);
        bad |= run(dir, name, &cp, &s, m, CT_SPECIES_CB);
    }
    ct_cosmo_params_defaults(&cp);
    double frs[3] = {-1e-6, -1e-5, -1e-4};
    for (int i = 0; i < 3; i++) {
        cp.f_r0 = frs[i];
        snprintf(name, sizeof name, "fr_%.0e", frs[i]);
        bad |= run(dir, name, &cp, &s, m, CT_SPECIES_TOTAL);
    }
    ct_cosmo_params_defaults(&cp);
    struct {
        ct_png_kind k;
        double f;
        const char *n;
    } pngs[4] = {{CT_PNG_LOCAL, 300, "png_local_+300"},
                 {CT_PNG_LOCAL, -300, "png_local_-300"},
                 {CT_PNG_EQUILATERAL, 600, "png_equil_+600"},
                 {CT_PNG_EQUILATERAL, -600, "png_equil_-600"}};
    for (int i = 0; i < 4; i++) {
        s.png = pngs[i].k;
        s.f_nl = pngs[i].f;
        bad |= run(dir, pngs[i].n, &cp, &s, m, CT_SPECIES_TOTAL);
    }
    ct_mesh_destroy(&m);
    MPI_Finalize();
    return bad;
}
