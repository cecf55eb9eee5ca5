/* cosmotl simulate: a suite of approximate (2LPT + FastPM) simulations in the
 * Quijote layout, from a suite config (configs/suites/NAME.ini). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/batch.h"
#include "cosmotl/cosmo.h"
#include "cosmotl/io.h"
#include "cosmotl/sim.h"

static void usage(void)
{
    printf("usage: cosmotl simulate CONFIG [--out DIR] [--range A:B] [--group-size R]\n\n"
           "Simulate a suite (configs/suites/*.ini): parameters from a Sobol sequence, a\n"
           "Latin hypercube or a table (Quijote's own tables work as they are), initial\n"
           "conditions by 2LPT (or Zel'dovich) with optional primordial non-Gaussianity,\n"
           "then FastPM particle-mesh steps; massive neutrinos through linear response and\n"
           "f(R) through mu(k, a); neutrino particles (PartType2) in the snapshots. Writes DIR/params.txt, DIR/<i>/snapdir_XXX/snap_XXX.<f>.hdf5\n"
           "and DIR/manifest.tsv. Complete simulations are skipped; snapshots are written\n"
           "atomically, so an interrupted run leaves no partial snapshot.\n\n"
           "  --out DIR         suite folder (default: [suite] out, relative to the\n"
           "                    current directory)\n"
           "  --range A:B       simulations A..B-1 only (default: all)\n"
           "  --group-size R    ranks per simulation; the ranks split into groups that\n"
           "                    simulate in parallel (default: all ranks together)\n\n"
           "Exit codes: 0 done (or nothing to do), 1 error, 2 usage, 3 some simulations\n"
           "failed (recorded in DIR/manifest.tsv; the others are complete).\n");
}

/* base/p unless p is absolute or empty; a longer path than cap is an error naming
 * the file and key */
static ct_status resolve(char *out, size_t cap, const char *base, const char *p,
                         const char *file, const char *key)
{
    ct_status rc = !p || !*p || p[0] == '/' ? ct_snprintf(out, cap, "%s", p ? p : "")
                                            : ct_snprintf(out, cap, "%s/%s", base, p);
    if (rc != CT_OK) {
        ct_error_clear();
        CT_FAIL(CT_ERR_CONFIG, "%s: %s: path longer than %zu characters", file, key, cap - 1);
    }
    return CT_OK;
}

ct_status cli_suite_read(ct_config *cfg, cli_suite_cfg *sc)
{
    const char *file = ct_config_path(cfg), *dir = ct_config_dir(cfg), *v;
    ct_suite_settings *s = &sc->s;
    ct_suite_settings_defaults(s);
    long l;
    int ch;

    /* [suite] */
    CT_CHECK(ct_config_string(cfg, "suite", "name", "", &v));
    CT_CHECK(ct_config_string(cfg, "suite", "out", "", &v));
    if (ct_snprintf(sc->out, sizeof sc->out, "%s", v) != CT_OK) {
        ct_error_clear();
        CT_FAIL(CT_ERR_CONFIG, "%s: suite.out: path longer than %zu characters", file,
                sizeof sc->out - 1);
    }
    /* `table = FILE` alone selects the table (one line to simulate at exactly
     * Quijote's cosmologies); n_sims then defaults to its row count */
    CT_CHECK(ct_config_string(cfg, "suite", "table", "", &v));
    CT_CHECK(resolve(sc->table, sizeof sc->table, dir, v, file, "suite.table"));
    static const char *const samplings[] = {"sobol", "lhs", "table", "fixed", NULL};
    CT_CHECK(ct_config_choice(cfg, "suite", "sampling", sc->table[0] ? "table" : "sobol",
                              samplings, &ch));
    s->sampling = (ct_sampling)ch;
    long rows = 1;
    if (s->sampling == CT_SAMPLING_TABLE && sc->table[0] && !ct_config_has(cfg, "suite", "n_sims")) {
        ct_param_table t;
        CT_CHECK(ct_param_table_read(sc->table, &t));
        rows = (long)t.nrow;
        ct_param_table_free(&t);
    }
    CT_CHECK(ct_config_int(cfg, "suite", "n_sims", rows, 1, 100000000, &l));
    s->nsims = l;
    if (s->sampling == CT_SAMPLING_TABLE && !sc->table[0])
        CT_FAIL(CT_ERR_CONFIG, "%s: [suite] sampling = table needs `table = FILE`", file);
    if (s->sampling != CT_SAMPLING_TABLE && sc->table[0])
        CT_FAIL(CT_ERR_CONFIG, "%s: [suite] table is given but sampling is not `table`", file);
    s->table = sc->table;
    CT_CHECK(ct_config_int(cfg, "suite", "sample_seed", 1, 0, LONG_MAX, &l));
    s->sample_seed = (uint64_t)l;
    CT_CHECK(ct_config_int(cfg, "suite", "sobol_skip", 0, 0, 1L << 40, &l));
    s->sobol_skip = l;
    CT_CHECK(ct_config_int(cfg, "suite", "seed", 1, 0, 1L << 62, &l));
    s->seed = (uint64_t)l;

    /* [params]: "lo, hi" (sampled) or one value (fixed) */
    static const double lim[CT_P_COUNT][2] = {{0.05, 0.9}, {0.005, 0.2}, {0.3, 1.2}, {0.5, 1.5},
                                              {0.1, 2.0},  {0.0, 3.0},   {-3, -1.0 / 3}, {-1e-2, 0},
                                              {-1e5, 1e5}};
    for (int j = 0; j < CT_P_COUNT; j++) {
        const char *name = ct_param_name(j);
        double vals[2];
        int n = 2;
        CT_CHECK(ct_config_doubles(cfg, "params", name, vals, &n));
        if (n == 0)
            continue;
        if (n == 1)
            vals[1] = vals[0];
        if (vals[1] < vals[0])
            CT_FAIL(CT_ERR_CONFIG, "%s: [params] %s = %g, %g: the range is empty", file, name,
                    vals[0], vals[1]);
        if (vals[0] < lim[j][0] || vals[1] > lim[j][1])
            CT_FAIL(CT_ERR_CONFIG, "%s: [params] %s = %g, %g outside the allowed [%g, %g]", file,
                    name, vals[0], vals[1], lim[j][0], lim[j][1]);
        s->lo[j] = vals[0];
        s->hi[j] = vals[1];
    }

    /* [cosmology] */
    static const char *const transfers[] = {"eh98", "eh98_nowiggle", "table", NULL};
    CT_CHECK(ct_config_choice(cfg, "cosmology", "transfer", "eh98", transfers, &ch));
    s->cosmo.transfer = (ct_lin_transfer)ch;
    CT_CHECK(ct_config_string(cfg, "cosmology", "pk_table", "", &v));
    if (s->cosmo.transfer == CT_LIN_TABLE) {
        if (!*v)
            CT_FAIL(CT_ERR_CONFIG, "%s: [cosmology] transfer = table needs `pk_table = FILE`",
                    file);
        CT_CHECK(resolve(sc->pk_table, sizeof sc->pk_table, dir, v, file, "cosmology.pk_table"));
        s->pk_table = sc->pk_table;
        /* "{i}": one table per simulation, read when it starts */
        if (!strstr(sc->pk_table, "{i}")) {
            size_t n = 0;
            CT_CHECK(ct_pk_table_read(sc->pk_table, &sc->pk_k, &sc->pk_p, &n));
            s->cosmo.table_k = sc->pk_k;
            s->cosmo.table_p = sc->pk_p;
            s->cosmo.table_n = n;
        }
    } else if (*v) {
        CT_FAIL(CT_ERR_CONFIG, "%s: [cosmology] pk_table is given but transfer is not `table`",
                file);
    }
    CT_CHECK(ct_config_int(cfg, "cosmology", "n_nu", 3, 0, 10, &l));
    s->cosmo.n_nu = (int)l;
    if (l == 0 && s->hi[CT_P_M_NU] > 0)
        CT_FAIL(CT_ERR_CONFIG, "%s: [params] M_nu = %g, %g but [cosmology] n_nu = 0: a neutrino "
                "mass needs massive neutrino species", file, s->lo[CT_P_M_NU], s->hi[CT_P_M_NU]);
    CT_CHECK(ct_config_double(cfg, "cosmology", "t_cmb", 2.7255, 1.0, 5.0, &s->cosmo.t_cmb));
    CT_CHECK(ct_config_int(cfg, "cosmology", "fr_n", 1, 1, 4, &l));
    s->cosmo.fr_n = (int)l;

    /* [sim] */
    ct_sim_settings *sim = &s->sim;
    CT_CHECK(ct_config_int(cfg, "sim", "particles", 32, 2, 1 << 14, &l));
    if (l % 2)
        CT_FAIL(CT_ERR_CONFIG, "%s: [sim] particles = %ld must be even", file, l);
    sim->np = l;
    CT_CHECK(ct_config_double(cfg, "sim", "box", 256.0, 1.0, 1e5, &sim->box));
    CT_CHECK(ct_config_int(cfg, "sim", "mesh_factor", 2, 1, 8, &l));
    sim->mesh_factor = (int)l;
    CT_CHECK(ct_config_int(cfg, "sim", "steps", 10, 0, 10000, &l));
    sim->steps = (int)l;
    CT_CHECK(ct_config_double(cfg, "sim", "z_init", 127.0, 1.0, 1000.0, &sim->z_init));
    CT_CHECK(ct_config_int(cfg, "sim", "lpt_order", 2, 1, 2, &l));
    sim->lpt_order = (int)l;
    static const char *const amps[] = {"rayleigh", "fixed", NULL};
    CT_CHECK(ct_config_choice(cfg, "sim", "amplitude", "rayleigh", amps, &ch));
    sim->amplitude = (ct_amp_kind)ch;
    CT_CHECK(ct_config_bool(cfg, "sim", "phase_flip", 0, &sim->phase_flip));
    static const char *const noises[] = {"cosmotl", "ngenic", NULL};
    CT_CHECK(ct_config_choice(cfg, "sim", "noise", "cosmotl", noises, &ch));
    sim->noise = (ct_noise_kind)ch;
    CT_CHECK(ct_config_int(cfg, "sim", "ngenic_nmesh", 1024, 2, 1 << 16, &l));
    if (l % 2 || l < sim->np)
        CT_FAIL(CT_ERR_CONFIG, "%s: [sim] ngenic_nmesh = %ld must be even and >= particles (%lld)",
                file, l, (long long)sim->np);
    sim->ngenic_nmesh = l;
    static const char *const pngs[] = {"none", "local", "equilateral", "orthogonal", NULL};
    CT_CHECK(ct_config_choice(cfg, "sim", "png", "none", pngs, &ch));
    sim->png = (ct_png_kind)ch;
    if (sim->png == CT_PNG_NONE && (s->lo[CT_P_F_NL] != 0 || s->hi[CT_P_F_NL] != 0))
        CT_FAIL(CT_ERR_CONFIG, "%s: [params] f_NL is set but [sim] png = none", file);
    double zs[CT_SIM_MAX_OUT];
    int nz = CT_SIM_MAX_OUT;
    CT_CHECK(ct_config_doubles(cfg, "sim", "redshifts", zs, &nz));
    if (nz == 0) {
        zs[0] = 0.0;
        nz = 1;
    }
    int quijote = 1;
    for (int i = 0; i < nz; i++) {
        if (zs[i] < 0 || zs[i] >= sim->z_init || (i && !(zs[i] < zs[i - 1])))
            CT_FAIL(CT_ERR_CONFIG, "%s: [sim] redshifts must decrease, within [0, z_init)", file);
        quijote &= ct_sim_quijote_snapnum(zs[i]) >= 0;
    }
    sim->nout = nz;
    for (int i = 0; i < nz; i++) {
        sim->z_out[i] = zs[i];
        /* Quijote's numbers (z = 0 -> 004) for its redshifts, else 0, 1, ... */
        sim->snapnum[i] = quijote ? ct_sim_quijote_snapnum(zs[i]) : i;
    }
    CT_CHECK(ct_config_int(cfg, "sim", "nfiles", 8, 1, 1024, &l));
    sim->nfiles = (int)l;
    static const char *const formats[] = {"hdf5", "gadget1", "gadget2", NULL};
    CT_CHECK(ct_config_choice(cfg, "sim", "format", "hdf5", formats, &ch));
    sim->format = ch == 0 ? CT_SNAP_HDF5 : (ch == 1 ? CT_SNAP_GADGET1 : CT_SNAP_GADGET2);
    CT_CHECK(ct_config_int(cfg, "sim", "threads", 1, 1, 256, &l));
    sim->threads = (int)l;
    static const char *const forces[] = {"fd2", "deconv", NULL};
    CT_CHECK(ct_config_choice(cfg, "sim", "force", "fd2", forces, &ch));
    sim->force = (ct_force_kind)ch;
    CT_CHECK(ct_config_double(cfg, "sim", "force_taper", 0.55, 0.1, 2.0, &sim->force_taper));
    CT_CHECK(ct_config_double(cfg, "sim", "pgd_alpha", 0.0, 0.0, 1.0, &sim->pgd_alpha));
    CT_CHECK(ct_config_double(cfg, "sim", "pgd_kl", 0.4, 0.0, 10.0, &sim->pgd_kl));
    CT_CHECK(ct_config_double(cfg, "sim", "pgd_ks", 1.5, 0.05, 20.0, &sim->pgd_ks));
    /* alpha (Omega_m/0.3)^p (sigma8/0.8)^q: |p|, |q| <= 5 spans a factor 5^5 in
     * alpha over Quijote's LH range, far more than any fit needs */
    CT_CHECK(ct_config_double(cfg, "sim", "pgd_alpha_om_slope", 0.0, -5.0, 5.0,
                              &sim->pgd_alpha_om_slope));
    CT_CHECK(ct_config_double(cfg, "sim", "pgd_alpha_s8_slope", 0.0, -5.0, 5.0,
                              &sim->pgd_alpha_s8_slope));
    /* max(0, 1 + L (sigma8 - 0.8)): |L| <= 20 puts the zero of alpha no closer
     * than 0.05 to the pivot, i.e. inside or beyond Quijote's sigma8 range */
    CT_CHECK(ct_config_double(cfg, "sim", "pgd_alpha_s8_linear", 0.0, -20.0, 20.0,
                              &sim->pgd_alpha_s8_linear));
    if (sim->pgd_alpha == 0 && (sim->pgd_alpha_om_slope != 0 || sim->pgd_alpha_s8_slope != 0 ||
                                sim->pgd_alpha_s8_linear != 0))
        CT_FAIL(CT_ERR_CONFIG, "%s: [sim] pgd_alpha_om_slope / pgd_alpha_s8_slope / "
                "pgd_alpha_s8_linear are set but pgd_alpha = 0 (PGD is off): set pgd_alpha too", file);
    CT_CHECK(ct_config_bool(cfg, "sim", "nu_particles", 1, &sim->nu_particles));
    CT_CHECK(ct_config_bool(cfg, "sim", "fr_screening", 1, &sim->fr_screening));
    CT_CHECK(ct_config_double(cfg, "sim", "fr_screening_scale", 1.0, 1e-3, 100.0,
                              &sim->fr_screening_scale));
    double gb;
    CT_CHECK(ct_config_double(cfg, "sim", "memory_gb", 0.0, 0.0, 1e6, &gb));
    sim->mem_budget = gb * 1073741824.0;
    CT_CHECK(ct_config_check_unused(cfg));
    return CT_OK;
}

void cli_suite_free(cli_suite_cfg *sc)
{
    free(sc->pk_k);
    free(sc->pk_p);
    sc->pk_k = sc->pk_p = NULL;
}

int cmd_simulate(int argc, char **argv, MPI_Comm comm)
{
    const char *cmd = "simulate";
    const char *config = NULL, *out = NULL;
    long a = -1, b = -1, gsize = 0;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    for (int i = 1; i < argc; i++) {
        if (ct_cli_is_help(argv[i])) {
            if (rank == 0)
                usage();
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--range") && i + 1 < argc) {
            if (ct_cli_parse_range(argv[++i], &a, &b))
                return ct_cli_usage_error(cmd, comm, "--range needs A:B with A < B (got '%s')",
                                          argv[i]);
        } else if (!strcmp(argv[i], "--group-size") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 1, size, &gsize) || size % gsize)
                return ct_cli_usage_error(cmd, comm,
                                          "--group-size must divide the %d ranks (got '%s')",
                                          size, argv[i]);
        } else if (argv[i][0] == '-') {
            return ct_cli_usage_error(cmd, comm, "unknown or incomplete option '%s'", argv[i]);
        } else if (!config) {
            config = argv[i];
        } else {
            return ct_cli_usage_error(cmd, comm, "more than one CONFIG ('%s')", argv[i]);
        }
    }
    if (!config)
        return ct_cli_usage_error(cmd, comm, "missing CONFIG");

    ct_config *cfg = NULL;
    cli_suite_cfg sc;
    memset(&sc, 0, sizeof sc);
    ct_status rc = ct_config_load(&cfg, config, comm);
    if (rc == CT_OK)
        rc = cli_suite_read(cfg, &sc);
    rc = ct_agree_msg(comm, rc);
    int exitc = 0;
    if (rc != CT_OK) {
        exitc = ct_cli_fail(cmd, comm);
        goto done;
    }
    if (!out)
        out = sc.out;
    if (!out || !*out) {
        exitc = ct_cli_usage_error(cmd, comm, "no output folder: give --out DIR or [suite] out");
        goto done;
    }
    if (a < 0) {
        a = 0;
        b = (long)sc.s.nsims;
    }
    if (b > sc.s.nsims) {
        exitc = ct_cli_usage_error(cmd, comm, "--range %ld:%ld beyond the suite's %lld simulations",
                                   a, b, (long long)sc.s.nsims);
        goto done;
    }
    if (gsize == 0)
        gsize = size;
    ct_info("simulate %s: simulations %ld:%ld of %lld, %lld^3 particles, %d steps, %ld group(s) "
            "of %ld rank(s)", config, a, b, (long long)sc.s.nsims, (long long)sc.s.sim.np,
            sc.s.sim.steps, size / gsize, gsize);
    ct_check_cores(comm, sc.s.sim.threads, "simulate");
    ct_suite_counts cnt;
    rc = ct_suite_run(&sc.s, out, a, b, (int)gsize, &cnt, comm);
    if (rc != CT_OK) {
        exitc = ct_cli_fail(cmd, comm);
        goto done;
    }
    {
        char line[512];
        ct_manifest_counts mc = {cnt.items, cnt.complete, cnt.done, cnt.failed, cnt.interrupted};
        ct_manifest_describe("simulate", out, &mc, line, sizeof line);
        ct_info("%s", line);
        exitc = cnt.failed ? CT_EXIT_PARTIAL : 0;
    }
done:
    ct_config_destroy(&cfg);
    cli_suite_free(&sc);
    return exitc;
}
