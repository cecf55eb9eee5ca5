/* The cosmology-dependent PGD amplitude through the settings path: an INI [sim]
 * section read as `cosmotl simulate` reads it (cli_suite_read), the suite's
 * cosmology of simulation i, and ct_sim_pgd_alpha, which the simulator calls at
 * every output.
 *
 * 1. alpha = pgd_alpha (Omega_m/0.3)^p (sigma8/0.8)^q D1(a)^2 for two
 *    cosmologies of a table and a = 1, 0.5 (relative 1e-14: the same operations
 *    in another order); slopes 0 give pgd_alpha D1^2 bit for bit (the value
 *    shipped configs had before the slopes existed); PGD off gives 0.
 * 2. sigma8 from A_s when the parameters give none (library callers).
 * 3. The simulator applies that value: a 8^3 run with slopes equals, bit for
 *    bit, the run with pgd_alpha set to ct_sim_pgd_alpha(a = 1) and no slopes;
 *    and differs from the run without the slopes.
 * 4. Bad values: one-line errors naming the file and the key (slope out of
 *    range, not a number, slopes without pgd_alpha). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cosmotl/cosmo.h"
#include "cosmotl/sim.h"
#include "testlib.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* read the INI into sc (status returned; sc freed by the caller) */
static ct_status read_ini(const char *path, cli_suite_cfg *sc)
{
    ct_config *cfg = NULL;
    memset(sc, 0, sizeof *sc);
    ct_status rc = ct_config_load(&cfg, path, MPI_COMM_WORLD);
    if (rc == CT_OK)
        rc = cli_suite_read(cfg, sc);
    ct_config_destroy(&cfg);
    return rc;
}

/* settings and (c != NULL) cosmology of simulation i */
static ct_status sim_of(const cli_suite_cfg *sc, int64_t i, ct_cosmo **c, ct_sim_settings *ss)
{
    double *v = NULL;
    CT_CHECK(ct_suite_params(&sc->s, &v));
    ct_cosmo_params cp;
    ct_suite_sim(&sc->s, v + i * CT_P_COUNT, i, &cp, ss);
    free(v);
    return c ? ct_cosmo_create(c, &cp) : CT_OK;
}

typedef struct {
    float *pos;
    int64_t n;
} keep;

static ct_status grab(const ct_sim_particles *p, int iout, void *user)
{
    (void)iout;
    keep *k = user;
    free(k->pos);
    k->n = p->n;
    k->pos = malloc((size_t)(3 * p->n + 1) * sizeof(float));
    if (!k->pos)
        CT_FAIL(CT_ERR_MEMORY, "test: positions");
    memcpy(k->pos, p->pos, (size_t)(3 * p->n) * sizeof(float));
    return CT_OK;
}

static void expect_error(const char *name, const char *text, const char *needle)
{
    cli_suite_cfg sc;
    write_file(name, text);
    ct_status rc = read_ini(name, &sc);
    cli_suite_free(&sc);
    const char *msg = ct_error_message();
    CT_EXPECT(rc != CT_OK);
    CT_EXPECT(strstr(msg, name) != NULL);
    CT_EXPECT(strstr(msg, needle) != NULL);
    CT_EXPECT(strchr(msg, '\n') == NULL);
    if (rc == CT_OK || !strstr(msg, needle))
        fprintf(stderr, "%s: got '%s', wanted '%s'\n", name, rc ? msg : "(no error)", needle);
    unlink(name);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    /* two cosmologies: a table of Omega_m Omega_b h n_s sigma_8 */
    write_file("pgda_table.txt", "# Omega_m Omega_b h n_s sigma_8\n"
                                 "0.1755 0.06681 0.7737 0.8849 0.6641\n"
                                 "0.4813 0.05637 0.5331 0.9041 0.9289\n");
    write_file("pgda.ini", "[suite]\ntable = pgda_table.txt\n[sim]\nparticles = 8\nbox = 64\n"
                           "steps = 3\nz_init = 24\nforce = deconv\npgd_alpha = 0.012\n"
                           "pgd_alpha_om_slope = 0.7\npgd_alpha_s8_slope = -1.3\n");
    write_file("pgda0.ini", "[suite]\ntable = pgda_table.txt\n[sim]\nparticles = 8\nbox = 64\n"
                            "steps = 3\nz_init = 24\nforce = deconv\npgd_alpha = 0.012\n");
    cli_suite_cfg sc, sc0;
    CT_EXPECT_OK(read_ini("pgda.ini", &sc));
    CT_EXPECT_OK(read_ini("pgda0.ini", &sc0));
    CT_EXPECT(sc.s.sim.pgd_alpha_om_slope == 0.7 && sc.s.sim.pgd_alpha_s8_slope == -1.3);
    CT_EXPECT(sc0.s.sim.pgd_alpha_om_slope == 0 && sc0.s.sim.pgd_alpha_s8_slope == 0);
    const double om[2] = {0.1755, 0.4813}, s8[2] = {0.6641, 0.9289};
    for (int i = 0; i < 2; i++) {
        ct_cosmo *c = NULL;
        ct_sim_settings ss, ss0;
        CT_EXPECT_OK(sim_of(&sc, i, &c, &ss));
        CT_EXPECT_OK(sim_of(&sc0, i, NULL, &ss0));
        for (int j = 0; j < 2; j++) {
            double a = j ? 0.5 : 1.0, d = ct_cosmo_d1(c, a);
            double want = 0.012 * pow(om[i] / 0.3, 0.7) * pow(s8[i] / 0.8, -1.3) * d * d;
            double got = ct_sim_pgd_alpha(&ss, c, a);
            CT_EXPECT_REL(got, want, 1e-14);
            /* no slopes: pgd_alpha D1^2, the same bits as before */
            double base = 0.012 * d * d;
            CT_EXPECT(ct_sim_pgd_alpha(&ss0, c, a) == base);
        }
        ss.pgd_alpha = 0;
        CT_EXPECT(ct_sim_pgd_alpha(&ss, c, 1.0) == 0.0);
        ct_cosmo_destroy(&c);
    }
    /* Omega_m 0.1755 < 0.3 with p > 0 and sigma8 0.66 < 0.8 with q < 0: the
     * factors pull in opposite directions; check the numbers are not trivial */
    {
        ct_cosmo *c = NULL;
        ct_sim_settings ss;
        CT_EXPECT_OK(sim_of(&sc, 0, &c, &ss));
        double r = ct_sim_pgd_alpha(&ss, c, 1.0) / 0.012;
        CT_EXPECT(fabs(r - 1) > 0.05);
        ct_cosmo_destroy(&c);
    }
    /* 2. sigma8 from A_s (library callers; a suite always gives sigma8) */
    {
        ct_cosmo_params cp;
        ct_cosmo_params_defaults(&cp);
        cp.sigma8 = 0;
        ct_cosmo *c = NULL;
        CT_EXPECT_OK(ct_cosmo_create(&c, &cp));
        ct_sim_settings ss;
        ct_sim_settings_defaults(&ss);
        ss.pgd_alpha = 0.01;
        ss.pgd_alpha_s8_slope = 2;
        double s = ct_cosmo_sigma8(c);
        CT_EXPECT(s > 0.3 && s < 2);
        CT_EXPECT_REL(ct_sim_pgd_alpha(&ss, c, 1.0), 0.01 * (s / 0.8) * (s / 0.8), 1e-13);
        ct_cosmo_destroy(&c);
    }
    /* 2b. the linear factor with its floor: alpha0 max(0, 1 + L (sigma8 - 0.8));
     * sigma8 0.6641 and 0.9289 of the table, L = 10 (zero at sigma8 0.7) */
    {
        write_file("pgdl.ini", "[suite]\ntable = pgda_table.txt\n[sim]\nparticles = 8\nbox = 64\n"
                               "steps = 3\nz_init = 24\nforce = deconv\npgd_alpha = 0.004\n"
                               "pgd_alpha_s8_linear = 10\n");
        cli_suite_cfg sl;
        CT_EXPECT_OK(read_ini("pgdl.ini", &sl));
        CT_EXPECT(sl.s.sim.pgd_alpha_s8_linear == 10 && sc0.s.sim.pgd_alpha_s8_linear == 0);
        for (int i = 0; i < 2; i++) {
            ct_cosmo *c = NULL;
            ct_sim_settings ss;
            CT_EXPECT_OK(sim_of(&sl, i, &c, &ss));
            double d = ct_cosmo_d1(c, 0.5);
            /* i = 0: 1 + 10 (0.6641 - 0.8) < 0, floored: no PGD at all;
             * i = 1: 0.004 (1 + 10 * 0.1289) = 0.009156 */
            double want = i == 0 ? 0.0 : 0.004 * (1 + 10 * (0.9289 - 0.8)) * d * d;
            if (i == 0)
                CT_EXPECT(ct_sim_pgd_alpha(&ss, c, 0.5) == 0.0);
            else
                CT_EXPECT_REL(ct_sim_pgd_alpha(&ss, c, 0.5), want, 1e-14);
            ct_cosmo_destroy(&c);
        }
        cli_suite_free(&sl);
        unlink("pgdl.ini");
    }
    /* 3. the simulator applies ct_sim_pgd_alpha */
    {
        ct_cosmo *c = NULL;
        ct_sim_settings ss, sf, s0;
        CT_EXPECT_OK(sim_of(&sc, 1, &c, &ss));
        CT_EXPECT_OK(sim_of(&sc0, 1, NULL, &s0));
        sf = s0;
        sf.pgd_alpha = ct_sim_pgd_alpha(&ss, c, 1.0);
        keep k1 = {0}, k2 = {0}, k3 = {0};
        CT_EXPECT_OK(ct_sim_run(c, &ss, grab, &k1, NULL, MPI_COMM_WORLD));
        CT_EXPECT_OK(ct_sim_run(c, &sf, grab, &k2, NULL, MPI_COMM_WORLD));
        CT_EXPECT_OK(ct_sim_run(c, &s0, grab, &k3, NULL, MPI_COMM_WORLD));
        CT_EXPECT(k1.n == 512 && k2.n == k1.n && k3.n == k1.n);
        if (k1.n == k2.n && k1.n == k3.n && k1.pos && k2.pos && k3.pos) {
            CT_EXPECT(!memcmp(k1.pos, k2.pos, (size_t)(3 * k1.n) * sizeof(float)));
            CT_EXPECT(memcmp(k1.pos, k3.pos, (size_t)(3 * k1.n) * sizeof(float)) != 0);
        }
        free(k1.pos);
        free(k2.pos);
        free(k3.pos);
        ct_cosmo_destroy(&c);
    }
    cli_suite_free(&sc);
    cli_suite_free(&sc0);
    /* 4. bad values */
    expect_error("pgda_bad1.ini", "[suite]\nn_sims = 1\n[sim]\npgd_alpha = 0.01\n"
                                  "pgd_alpha_om_slope = 7\n",
                 "sim.pgd_alpha_om_slope = 7 is outside [-5, 5]");
    expect_error("pgda_bad2.ini", "[suite]\nn_sims = 1\n[sim]\npgd_alpha = 0.01\n"
                                  "pgd_alpha_s8_slope = steep\n",
                 "sim.pgd_alpha_s8_slope = 'steep' is not a number");
    expect_error("pgda_bad3.ini", "[suite]\nn_sims = 1\n[sim]\npgd_alpha_om_slope = 0.5\n",
                 "pgd_alpha = 0 (PGD is off)");
    expect_error("pgda_bad5.ini", "[suite]\nn_sims = 1\n[sim]\npgd_alpha_s8_linear = 10\n",
                 "pgd_alpha = 0 (PGD is off)");
    expect_error("pgda_bad6.ini", "[suite]\nn_sims = 1\n[sim]\npgd_alpha = 0.01\n"
                                  "pgd_alpha_s8_linear = 25\n",
                 "sim.pgd_alpha_s8_linear = 25 is outside [-20, 20]");
    expect_error("pgda_bad4.ini", "[suite]\nn_sims = 1\n[sim]\npgd_alpha = 0.01\n"
                                  "pgd_alpha_s8_slope = -9\n",
                 "sim.pgd_alpha_s8_slope = -9 is outside [-5, 5]");
    unlink("pgda.ini");
    unlink("pgda0.ini");
    unlink("pgda_table.txt");
    CT_TEST_END();
}
