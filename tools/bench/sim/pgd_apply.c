/* PGD applied offline to a z = 0 snapshot simulated without it, for
 * tools/bench/sim/calibrate-pgd:
 *   mpirun -np R pgd_apply CONFIG SNAPSHOT GRID OUT ALPHA [ALPHA ...]
 * CONFIG is the suite config the snapshot was simulated with, read as `cosmotl
 * simulate` reads it (force kernel and taper, mesh factor, particles, box,
 * pgd_kl, pgd_ks); SNAPSHOT its z = 0 output (PartType1 only, particles^3 of
 * them in the config's box). For each ALPHA: the snapshot's positions moved by
 * the simulator's own PGD step (ct_sim_pgd on the PM mesh of mesh_factor x
 * particles points, the config's force kernel, k_l and k_s in units of the
 * particle Nyquist frequency) with amplitude ALPHA (at a = 1, alpha(a) is the
 * amplitude itself), then P(k) measured as `cosmotl summarize --stats pk --mas
 * cic --grid GRID --shot-noise` measures it. ALPHA = 0: the snapshot as it is.
 * PGD moves a copy of the positions at an output and nothing else, so this is
 * what a simulation with pgd_alpha = ALPHA writes, without repeating the PM run.
 * OUT (rank 0): lines "alpha k P0 nmodes". Errors: one line, exit 1, no OUT. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../src/sim/sim_internal.h"
#include "cli.h"
#include "cosmotl/io.h"
#include "cosmotl/stats.h"

static ct_status run(const char *config, const char *snap_path, long grid, const char *out,
                     int nalpha, const double *alpha, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_config *cfg = NULL;
    cli_suite_cfg sc;
    memset(&sc, 0, sizeof sc);
    ct_snapshot *snap = NULL;
    ct_particles p = {0};
    ct_mesh *pm = NULL, *w0 = NULL, *w1 = NULL, *pkm = NULL;
    ct_force_kernel fk = {0};
    double *dis = NULL;
    float *moved = NULL, *pos2 = NULL;
    ct_pk_result *res = NULL;
    int rank;
    MPI_Comm_rank(comm, &rank);

    CT_CHECK_GOTO(rc, ct_config_load(&cfg, config, comm));
    CT_CHECK_GOTO(rc, cli_suite_read(cfg, &sc));
    const ct_sim_settings *s = &sc.s.sim;
    CT_CHECK_GOTO(rc, ct_snapshot_open(&snap, snap_path, comm));
    const ct_snapshot_header *h = ct_snapshot_get_header(snap);
    if (!(fabs(h->time - 1.0) < 1e-6))
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: a = %g, not a z = 0 snapshot (alpha(a) is only the "
                     "amplitude itself at a = 1)", snap_path, h->time);
    for (int t = 0; t < 6; t++)
        if (t != 1 && h->npart_total[t] > 0)
            CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: has %lld particles of type %d; PGD is applied to "
                         "the CDM particles (PartType1) of a snapshot without others", snap_path,
                         (long long)h->npart_total[t], t);
    const double np3 = (double)s->np * (double)s->np * (double)s->np;
    if ((double)h->npart_total[1] != np3 || !(fabs(h->box - s->box) <= 1e-6 * s->box))
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: %lld particles in %g Mpc/h, but %s simulates %lld^3 "
                     "in %g Mpc/h", snap_path, (long long)h->npart_total[1], h->box, config,
                     (long long)s->np, s->box);
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    rs.read_vel = 0;
    rs.read_id = 0;
    CT_CHECK_GOTO(rc, ct_snapshot_read(snap, 1, &rs, &p));
    ct_snapshot_close(&snap);

    /* the PM meshes and force kernel of the simulation (pm.c) */
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = s->np * s->mesh_factor;
    ms.box = s->box;
    ms.threads = s->threads;
    CT_CHECK_GOTO(rc, ct_mesh_create(&pm, &ms, comm));
    CT_CHECK_GOTO(rc, ct_mesh_create(&w0, &ms, comm));
    CT_CHECK_GOTO(rc, ct_mesh_create(&w1, &ms, comm));
    CT_CHECK_GOTO(rc, ct_force_kernel_init(&fk, s->force, s->force_taper, ms.n, s->box));
    CT_CHECK_GOTO(rc, ct_mesh_exchange(pm, &p.n, &p.pos, 0, NULL));
    ms.n = grid;
    CT_CHECK_GOTO(rc, ct_mesh_create(&pkm, &ms, comm));
    const size_t n = (size_t)(p.n > 0 ? p.n : 1);
    CT_CHECK_GOTO(rc, ct_calloc(&dis, 3 * n, sizeof(double), "PGD displacements"));
    CT_CHECK_GOTO(rc, ct_calloc(&moved, 3 * n, sizeof(float), "PGD positions"));
    CT_CHECK_GOTO(rc, ct_calloc(&res, (size_t)nalpha, sizeof *res, "P(k) results"));
    const double kp = M_PI * (double)s->np / s->box;
    /* summarize's P(k) of one species (cmd_summarize: --stats pk alone) */
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ps.mas = CT_MAS_CIC;
    ps.shot_noise = 1;
    ps.discard_field = 1;
    for (int j = 0; j < nalpha; j++) {
        const float *src = p.pos;
        if (alpha[j] != 0) {
            CT_CHECK_GOTO(rc, ct_sim_pgd(pm, w0, w1, &fk, alpha[j], s->pgd_kl * kp,
                                         s->pgd_ks * kp, p.n, p.pos, dis, moved, NULL));
            src = moved;
        }
        int64_t n2 = 0;
        CT_CHECK_GOTO(rc, ct_mesh_exchange_const(pkm, p.n, src, 0, NULL, &n2, &pos2, NULL));
        ct_pk_particles set = {n2, pos2, NULL, 1.0};
        CT_CHECK_GOTO(rc, ct_pk_measure(pkm, NULL, &ps, 1, &set, &res[j]));
        free(pos2);
        pos2 = NULL;
    }
    if (rank == 0) {
        FILE *f = fopen(out, "w");
        if (!f)
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot write", out);
        fprintf(f, "# pgd_apply %s %s: alpha k P0 nmodes (grid %ld, CIC, shot noise "
                "subtracted)\n", config, snap_path, grid);
        for (int j = 0; j < nalpha; j++)
            for (int b = 0; b < res[j].nbins; b++)
                if (res[j].nmodes[b] > 0)
                    fprintf(f, "%.10g %.17g %.17g %lld\n", alpha[j], res[j].k[b], res[j].P0[b],
                            (long long)res[j].nmodes[b]);
        if (fclose(f) != 0)
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: write failed", out);
    }
fail:
    if (res)
        for (int j = 0; j < nalpha; j++)
            ct_pk_result_free(&res[j]);
    free(res);
    free(pos2);
    free(moved);
    free(dis);
    ct_force_kernel_free(&fk);
    ct_mesh_destroy(&pkm);
    ct_mesh_destroy(&w1);
    ct_mesh_destroy(&w0);
    ct_mesh_destroy(&pm);
    ct_particles_free(&p);
    ct_snapshot_close(&snap);
    cli_suite_free(&sc);
    ct_config_destroy(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc < 6) {
        if (rank == 0)
            fprintf(stderr, "usage: pgd_apply CONFIG SNAPSHOT GRID OUT ALPHA [ALPHA ...]\n");
        MPI_Finalize();
        return 2;
    }
    char *end = NULL;
    long grid = strtol(argv[3], &end, 10);
    int nalpha = argc - 5, bad = *end || grid < 2 || grid % 2;
    double *alpha = calloc((size_t)nalpha, sizeof *alpha);
    for (int j = 0; j < nalpha && alpha; j++) {
        alpha[j] = strtod(argv[5 + j], &end);
        bad |= *end || !(alpha[j] >= 0 && alpha[j] <= 1);
    }
    if (bad || !alpha) {
        if (rank == 0)
            fprintf(stderr, "pgd_apply: GRID must be an even number >= 2 and every ALPHA a "
                    "number in [0, 1]\n");
        free(alpha);
        MPI_Finalize();
        return 2;
    }
    ct_status rc = ct_agree_msg(MPI_COMM_WORLD,
                                run(argv[1], argv[2], grid, argv[4], nalpha, alpha,
                                    MPI_COMM_WORLD));
    if (rc != CT_OK && rank == 0)
        fprintf(stderr, "pgd_apply: %s\n", ct_error_message());
    free(alpha);
    MPI_Finalize();
    return rc == CT_OK ? 0 : 1;
}
