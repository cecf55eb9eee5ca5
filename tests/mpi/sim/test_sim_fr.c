/* f(R) screening (Winther-Ferreira thin shell): same-seed boosts
 * B = P_fR / P_GR over 0.2 <= k < 0.6 h/Mpc at z = 0. Screening lowers the
 * boost for small |f_R0| (Phi_crit = 1.5e-6 c^2 at f_R0 = -1e-6 is below the
 * potentials of the mesh's haloes), leaves a fifth-force boost (B > 1), and
 * changes the boost less, relatively, at f_R0 = -1e-4 where Phi_crit = 1.5e-4 c^2
 * exceeds almost every potential a 128 Mpc/h, 64^3-mesh PM run resolves.
 * Phi_crit follows the Winther-Ferreira formula; the screening potential is
 * filtered at the Compton length (src/sim/screen.c). Run on 1 and 2 ranks. The
 * comparison with N-body boosts is a benchmark: tools/bench/sim/fr-boost. */
#include <stdio.h>

#include "../../../src/sim/sim_internal.h"
#include "simtest.h"
#include "testlib.h"

typedef struct {
    ct_mesh *m;
    double sum;
} grab;

static ct_status on_out(const ct_sim_particles *pin, int iout, void *user)
{
    (void)iout;
    grab *g = user;
    ct_sim_particles p = *pin;
    size_t n = (size_t)(p.n > 0 ? p.n : 1);
    p.pos = malloc(n * 3 * sizeof(float));
    p.mom = malloc(n * 3 * sizeof(float));
    p.id = malloc(n * sizeof(uint64_t));
    memcpy(p.pos, pin->pos, (size_t)p.n * 3 * sizeof(float));
    memcpy(p.mom, pin->mom, (size_t)p.n * 3 * sizeof(float));
    memcpy(p.id, pin->id, (size_t)p.n * sizeof(uint64_t));
    ct_status rc = st_paint(g->m, &p);
    ct_sim_particles_free(&p);
    CT_CHECK(rc);
    g->sum = st_power_sum(g->m, 0.2, 0.6);
    return CT_OK;
}

static double run(double fr0, int screen, ct_sim_settings *s, ct_mesh *m)
{
    ct_cosmo_params cp;
    ct_cosmo_params_defaults(&cp);
    cp.f_r0 = fr0;
    ct_cosmo *c = NULL;
    CT_EXPECT_OK(ct_cosmo_create(&c, &cp));
    grab g = {m, 0};
    s->fr_screening = screen;
    CT_EXPECT_OK(ct_sim_run(c, s, on_out, &g, NULL, MPI_COMM_WORLD));
    ct_cosmo_destroy(&c);
    return g.sum;
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    /* Phi_crit / c^2 = 1.5 |f_R0| at a = 1 and 1.5 |f_R0| ((Om + 4 OL)/(Om a^-3 + 4 OL))^2
     * for n = 1 */
    {
        ct_cosmo_params cp;
        ct_cosmo_params_defaults(&cp);
        cp.f_r0 = -1e-5;
        ct_cosmo *c = NULL;
        CT_EXPECT_OK(ct_cosmo_create(&c, &cp));
        double om = cp.omega_m, ol = 1 - om, a = 0.5;
        CT_EXPECT_REL(ct_sim_fr_phi_crit(c, 1.0), 1.5e-5, 1e-14);
        CT_EXPECT_REL(ct_sim_fr_phi_crit(c, a),
                      1.5e-5 * pow((om + 4 * ol) / (om / (a * a * a) + 4 * ol), 2), 1e-14);
        /* the Compton scale of the screening potential: a^2 m^2 in (h/Mpc)^2 with
         * m^2 / H0^2 = (Om + 4 OL) / ((n + 1) |f_R0|) ((Om a^-3 + 4 OL)/(Om + 4 OL))^(n+2)
         * (Hu-Sawicki; 1e-9: read back from mu(k = 1, a) in double precision) */
        double base = om + 4 * ol, ch = 2997.92458;
        double m2a = base / (2 * 1e-5) * pow((om / (a * a * a) + 4 * ol) / base, 3);
        CT_EXPECT_REL(ct_sim_fr_am2(c, a), a * a * m2a / (ch * ch), 1e-9);
        CT_EXPECT_REL(ct_sim_fr_am2(c, 1.0), base / (2 * 1e-5) / (ch * ch), 1e-9);
        ct_cosmo_destroy(&c);
    }
    ct_sim_settings s;
    ct_sim_settings_defaults(&s);
    s.np = 32;
    s.box = 128;
    s.steps = 10;
    s.z_init = 24;
    s.seed = 5;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = 64;
    ms.box = s.box;
    ct_mesh *m = NULL;
    CT_EXPECT_OK(ct_mesh_create(&m, &ms, MPI_COMM_WORLD));
    double gr = run(0, 1, &s, m);
    double frs[3] = {-1e-6, -1e-5, -1e-4}, rel[3];
    for (int i = 0; i < 3; i++) {
        double bs = run(frs[i], 1, &s, m) / gr, bu = run(frs[i], 0, &s, m) / gr;
        rel[i] = (bu - 1) > 0 ? (bu - bs) / (bu - 1) : 0;
        if (ct_test_rank == 0)
            printf("f_R0 = %g: boost over 0.2-0.6 h/Mpc screened %.4f, unscreened %.4f "
                   "(screening removes %.0f%% of the enhancement)\n", frs[i], bs, bu,
                   100 * rel[i]);
        CT_EXPECT(bs > 1.0);
        CT_EXPECT(bs < bu);
    }
    CT_EXPECT(rel[0] > rel[2]);
    CT_EXPECT(rel[0] > 0.2); /* screening matters at -1e-6 */
    ct_mesh_destroy(&m);
    CT_TEST_END();
}
