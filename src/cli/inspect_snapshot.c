/* cosmotl inspect: snapshot files. Prints the header, counts per type, the
 * cosmology, units and the position range (read in bounded chunks spread over
 * the ranks, so a large snapshot never sits whole in one process). */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/io.h"

#define CHUNK ((int64_t)1 << 22)

/* min/max of each coordinate over all particles of type t (collective). */
static ct_status position_range(ct_snapshot *snap, int t, double lo[3], double hi[3],
                                MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const ct_snapshot_header *h = ct_snapshot_get_header(snap);
    int64_t first, count;
    ct_partition_range(h->npart_total[t], size, rank, &first, &count);
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    rs.read_vel = 0;
    rs.read_id = 0;
    for (int a = 0; a < 3; a++) {
        lo[a] = DBL_MAX;
        hi[a] = -DBL_MAX;
    }
    ct_status rc = CT_OK;
    for (int64_t c = 0; c < count && rc == CT_OK; c += CHUNK) {
        ct_particles p;
        int64_t n = count - c < CHUNK ? count - c : CHUNK;
        rc = ct_snapshot_read_range(snap, t, first + c, n, &rs, &p);
        for (int64_t i = 0; rc == CT_OK && i < p.n; i++)
            for (int a = 0; a < 3; a++) {
                double x = p.pos[3 * i + a];
                lo[a] = x < lo[a] ? x : lo[a];
                hi[a] = x > hi[a] ? x : hi[a];
            }
        ct_particles_free(&p);
    }
    CT_CHECK(ct_agree_msg(comm, rc));
    MPI_Allreduce(MPI_IN_PLACE, lo, 3, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, hi, 3, MPI_DOUBLE, MPI_MAX, comm);
    return CT_OK;
}

ct_status inspect_snapshot(const char *path, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_snapshot *snap = NULL;
    ct_status rc = ct_snapshot_open(&snap, path, comm);
    if (rc != CT_OK)
        return rc; /* CT_ERR_UNSUPPORTED: not a snapshot, let inspect say so */
    const ct_snapshot_header *h = ct_snapshot_get_header(snap);
    int nf = ct_snapshot_nfiles(snap);
    ct_snapshot_format fmt = ct_snapshot_get_format(snap);
    char unit[64];
    if (h->unit_length_mpc == 1e-3)
        snprintf(unit, sizeof unit, "kpc/h");
    else if (h->unit_length_mpc == 1)
        snprintf(unit, sizeof unit, "Mpc/h");
    else
        snprintf(unit, sizeof unit, "%g Mpc/h", h->unit_length_mpc);
    if (rank == 0) {
        printf("snapshot: %s\n", path);
        printf("format: %s, %d file%s (%s%s)\n", ct_snapshot_format_name(fmt), nf,
               nf == 1 ? "" : "s", ct_snapshot_file_path(snap, 0), nf > 1 ? ", ..." : "");
        printf("header:\n");
        printf("  BoxSize              %.10g %s\n", h->box / h->unit_length_mpc, unit);
        printf("  Time                 %.10g\n", h->time);
        printf("  Redshift             %.10g\n", h->redshift);
        printf("  Omega0               %.10g\n", h->omega_m);
        printf("  OmegaLambda          %.10g\n", h->omega_l);
        printf("  HubbleParam          %.10g\n", h->hubble);
        printf("  MassTable            %.10g %.10g %.10g %.10g %.10g %.10g\n",
               h->mass_table[0], h->mass_table[1], h->mass_table[2], h->mass_table[3],
               h->mass_table[4], h->mass_table[5]);
        printf("  NumPart_Total        %lld %lld %lld %lld %lld %lld (with HighWord)\n",
               (long long)h->npart_total[0], (long long)h->npart_total[1],
               (long long)h->npart_total[2], (long long)h->npart_total[3],
               (long long)h->npart_total[4], (long long)h->npart_total[5]);
        printf("  NumFilesPerSnapshot  %d\n", h->nfiles);
        printf("  Flags                Sfr %d, Cooling %d, Feedback %d, Metals %d, "
               "StellarAge %d, DoublePrecision %d\n", h->flag_sfr, h->flag_cooling,
               h->flag_feedback, h->flag_metals, h->flag_stellarage, h->flag_double);
        printf("cosmology: Omega_m = %.6g, Omega_Lambda = %.6g, h = %.6g, z = %.6g, a = %.6g\n",
               h->omega_m, h->omega_l, h->hubble, h->redshift, h->time);
        printf("box: %.10g Mpc/h\n", h->box);
        printf("units: positions comoving Mpc/h (file: %s); velocities peculiar km/s "
               "(file: Gadget u = v/sqrt(a)); masses 1e10 Msun/h\n", unit);
        printf("particles:\n");
        for (int t = 0; t < 6; t++) {
            if (h->npart_total[t] == 0)
                continue;
            printf("  type %d (%s): %lld", t, ct_snapshot_type_name(t),
                   (long long)h->npart_total[t]);
            if (h->mass_table[t] > 0)
                printf(", mass %.10g x 1e10 Msun/h each\n", h->mass_table[t]);
            else
                printf(", per-particle masses\n");
        }
    }
    for (int t = 0; t < 6 && rc == CT_OK; t++) {
        if (h->npart_total[t] == 0)
            continue;
        double lo[3], hi[3];
        rc = position_range(snap, t, lo, hi, comm);
        if (rc == CT_OK && rank == 0)
            printf("position range, type %d: x [%.6g, %.6g], y [%.6g, %.6g], z [%.6g, %.6g] "
                   "Mpc/h\n", t, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]);
    }
    if (rank == 0)
        fflush(stdout);
    ct_snapshot_close(&snap);
    if (rc == CT_ERR_UNSUPPORTED)
        rc = CT_ERR_FORMAT; /* it is a snapshot: report the problem, do not fall through */
    return rc;
}
