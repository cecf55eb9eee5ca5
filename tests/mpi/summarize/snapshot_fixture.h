/* The snapshots of the one-call statistics tests (test_pk_snapshot.c,
 * test_stats_snapshot.c) and the removal of their folder. */
#ifndef CT_TEST_SNAPSHOT_FIXTURE_H
#define CT_TEST_SNAPSHOT_FIXTURE_H

#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/io.h"
#include "cosmotl/stats.h"
#include "testlib.h"

/* Snapshot dir/snapdir_004: n clustered CDM particles and, if nu, n neutrinos of
 * their own per-particle masses (a Masses dataset), all held by rank 0. */
static void make_snapshot(const char *dir, int nu, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    const int64_t n = rank == 0 ? 4100 : 0;
    ct_particles cdm, neu;
    memset(&cdm, 0, sizeof cdm);
    memset(&neu, 0, sizeof neu);
    cdm.n = neu.n = n;
    cdm.pos = malloc(sizeof(float) * 3 * (n + 1));
    neu.pos = malloc(sizeof(float) * 3 * (n + 1));
    neu.mass = malloc(sizeof(float) * (n + 1));
    ct_rng rng;
    ct_rng_init(&rng, 7 + nu, 0, 0);
    const double L = 100.0;
    for (int64_t i = 0; i < n; i++) {
        int clump = i % 3 ? (int)ct_rng_below(&rng, 4) : -1;
        for (int a = 0; a < 3; a++) {
            double x = ct_rng_uniform(&rng) * L;
            if (clump >= 0)
                x = fmod(20.0 * (clump + 1) + 5.0 * ct_rng_normal(&rng) + 11.0 * a + L, L);
            cdm.pos[3 * i + a] = (float)x;
            neu.pos[3 * i + a] = (float)(ct_rng_uniform(&rng) * L);
        }
        neu.mass[i] = (float)(0.5 + ct_rng_uniform(&rng));
    }
    ct_snapshot_header h;
    memset(&h, 0, sizeof h);
    h.box = L;
    h.time = 1.0;
    h.omega_m = 0.3175;
    h.omega_l = 0.6825;
    h.hubble = 0.6711;
    h.mass_table[1] = 65.7;
    const ct_particles *parts[6] = {NULL, &cdm, nu ? &neu : NULL, NULL, NULL, NULL};
    ct_write_settings ws;
    ct_write_settings_defaults(&ws);
    ws.nfiles = 2;
    char sim[512];
    snprintf(sim, sizeof sim, "%.*s", (int)(strlen(dir) - strlen("/snapdir_004")), dir);
    if (rank == 0)
        CT_EXPECT_OK(ct_mkdir_p(sim));
    MPI_Barrier(comm);
    CT_EXPECT_OK(ct_snapshot_write(sim, &h, parts, &ws, comm));
    ct_particles_free(&cdm);
    ct_particles_free(&neu);
}

/* A new folder root (/tmp/PREFIX_XXXXXX, the same on every rank) holding
 * snap[0] = root/cdm/snapdir_004 (CDM only) and snap[1] = root/nu/snapdir_004
 * (CDM and neutrinos). Collective. */
static void make_snapshots(const char *prefix, char root[256], char snap[2][512], MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    root[0] = '\0';
    if (rank == 0) {
        snprintf(root, 256, "/tmp/%s_XXXXXX", prefix);
        if (!mkdtemp(root))
            root[0] = '\0';
    }
    MPI_Bcast(root, 256, MPI_CHAR, 0, comm);
    CT_EXPECT(root[0] != '\0');
    snprintf(snap[0], 512, "%s/cdm/snapdir_004", root);
    snprintf(snap[1], 512, "%s/nu/snapdir_004", root);
    make_snapshot(snap[0], 0, comm);
    make_snapshot(snap[1], 1, comm);
}

/* Settings other than the defaults in every field summarize has an option
 * for: TSC, interlacing, bins of 2 kF, line of sight x, shot noise. */
static ct_pk_settings other_pk_settings(void)
{
    ct_pk_settings s;
    ct_pk_settings_defaults(&s);
    s.mas = CT_MAS_TSC;
    s.interlace = 1;
    s.bin_width = 2;
    s.axis = 0;
    s.shot_noise = 1;
    return s;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

#endif
