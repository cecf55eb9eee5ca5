/* cosmotl I/O: Gadget snapshots (HDF5 in the Quijote layout, legacy binary
 * format I/II), read partitioned over the ranks of a communicator, and written
 * in parallel, multi-file. Units in memory: positions comoving Mpc/h in
 * [0, box), velocities peculiar km/s, masses 1e10 Msun/h. */
#ifndef COSMOTL_IO_H
#define COSMOTL_IO_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything in a Gadget header, converted to cosmotl units. */
typedef struct {
    double box;             /* Mpc/h (file: kpc/h) */
    double time;            /* scale factor a */
    double redshift;
    double omega_m, omega_l, hubble;
    double mass_table[6];   /* 1e10 Msun/h; 0 => per-particle Masses dataset */
    int64_t npart_total[6]; /* NumPart_Total + 2^32 NumPart_Total_HighWord */
    int nfiles;             /* NumFilesPerSnapshot */
    int flag_sfr, flag_cooling, flag_feedback, flag_metals, flag_stellarage;
    int flag_double;
    double unit_length_mpc; /* file length unit in Mpc/h: 1e-3 (kpc/h, Quijote) unless
                               the file gives UnitLength_in_cm; ignored by the writer */
} ct_snapshot_header;

/* Particles of one type held by one rank. */
typedef struct {
    int64_t n;        /* particles on this rank */
    int64_t offset;   /* global index of the first one (read order) */
    int64_t n_total;  /* over all ranks */
    float *pos;       /* n x 3, Mpc/h */
    float *vel;       /* n x 3, peculiar km/s; NULL if not requested */
    uint64_t *id;     /* n; NULL if not requested */
    float *mass;      /* n, 1e10 Msun/h; NULL when every particle has mass_uniform */
    double mass_uniform;
} ct_particles;

void ct_particles_free(ct_particles *p); /* frees arrays, zeroes the struct */

/* Positions policy, for reading and writing. Gadget stores coordinates equal to
 * BoxSize (a wrapped double rounded to float) and tiny negatives: a position at
 * most tolerance * box outside [0, box) is always wrapped periodically. Beyond
 * that, CT_BOUNDS_ERROR refuses the snapshot with an error naming the file, the
 * particle type, the row and the value (a position that far out is a units
 * mix-up or a corrupt file, not rounding); CT_BOUNDS_WRAP wraps every finite
 * position (fmod), for users who know what they have. Non-finite positions are
 * always an error. */
typedef enum { CT_BOUNDS_ERROR = 0, CT_BOUNDS_WRAP } ct_bounds_policy;
#define CT_POS_WRAP_TOLERANCE 1e-3 /* fraction of the box */

typedef struct {
    int read_vel;             /* default 1 */
    int read_id;              /* default 1 */
    ct_bounds_policy bounds;  /* default CT_BOUNDS_ERROR */
    double tolerance;         /* fraction of the box wrapped under CT_BOUNDS_ERROR;
                                 default CT_POS_WRAP_TOLERANCE */
    int threads;              /* threads reading this rank's rows where the files
                                 store them as plain contiguous bytes (Gadget binary,
                                 uncompressed contiguous HDF5); they make no MPI or
                                 HDF5 call. Default 1 (the calling thread). 0: this
                                 rank's share of its node's cores (ct_snapshot_read
                                 only, a collective step: 0 on every rank or on
                                 none; ct_snapshot_read_range takes 0 as 1). Same
                                 values whatever the count. */
} ct_read_settings;

void ct_read_settings_defaults(ct_read_settings *s);

/* An opened snapshot: path is a single file ("snap_004.hdf5"), a multi-file
 * base ("snap_004", files snap_004.<f>.hdf5), a snapdir_XXX/ folder, or a Gadget
 * binary file (format I/II). Collective over comm; rank 0 checks every file's
 * header against the first and every dataset's type, shape, row count and
 * compression filter; the result is broadcast. Errors are one line naming the
 * file and the problem. CT_ERR_UNSUPPORTED means only "path is not a snapshot"
 * (so callers can try other file kinds); a missing file of a set or an
 * unavailable filter plugin is CT_ERR_IO, inconsistent content CT_ERR_FORMAT. */
typedef struct ct_snapshot ct_snapshot;

ct_status ct_snapshot_open(ct_snapshot **snap, const char *path, MPI_Comm comm);
void ct_snapshot_close(ct_snapshot **snap);
const ct_snapshot_header *ct_snapshot_get_header(const ct_snapshot *snap);
/* Read particles of type ptype (1 = CDM, 2 = neutrinos): each rank receives a
 * contiguous, nearly equal slice of the global list (sizes differ by at most one).
 * Collective. */
ct_status ct_snapshot_read(ct_snapshot *snap, int ptype, const ct_read_settings *s,
                           ct_particles *out);
/* Read the particles [first, first + count) of the global list of type ptype on
 * this rank only (not collective; count may be 0). Lets a caller stream a
 * snapshot in bounded chunks. out->offset = first, out->n_total = global count. */
ct_status ct_snapshot_read_range(ct_snapshot *snap, int ptype, int64_t first, int64_t count,
                                 const ct_read_settings *s, ct_particles *out);

/* What was opened: the on-disk format, the number of files and their paths. */
typedef enum { CT_SNAP_HDF5 = 1, CT_SNAP_GADGET1, CT_SNAP_GADGET2 } ct_snapshot_format;
ct_snapshot_format ct_snapshot_get_format(const ct_snapshot *snap);
const char *ct_snapshot_format_name(ct_snapshot_format f);
int ct_snapshot_nfiles(const ct_snapshot *snap);
const char *ct_snapshot_file_path(const ct_snapshot *snap, int file);
/* Particles of type ptype in file `file` (NumPart_ThisFile). */
int64_t ct_snapshot_file_count(const ct_snapshot *snap, int file, int ptype);

/* "CDM", "neutrinos", ... for types 0..5. */
const char *ct_snapshot_type_name(int ptype);

/* The contiguous, nearly equal split used everywhere: part `part` of `nparts`
 * of n items starts at *first and holds *count (counts differ by at most one). */
void ct_partition_range(int64_t n, int nparts, int part, int64_t *first, int64_t *count);

/* Writing a Quijote-layout snapshot: dir/snapdir_XXX/snap_XXX.<f>.hdf5 with
 * nfiles files (or a single snap_XXX.hdf5 if nfiles == 1 and single_file). Every
 * rank passes its local particles per type; global ordering is by rank. Written
 * atomically: nothing appears under the final names unless everything succeeded. */
typedef struct {
    int nfiles;          /* default 8 */
    int snapnum;         /* default 4 */
    int single_file;     /* 1: write snap_XXX.hdf5 with no snapdir (nfiles must be 1) */
    ct_bounds_policy bounds; /* positions policy (see ct_bounds_policy); default
                                CT_BOUNDS_ERROR */
    double tolerance;    /* default CT_POS_WRAP_TOLERANCE */
    int format;          /* a ct_snapshot_format: CT_SNAP_HDF5 (default; 0 means the same),
                            CT_SNAP_GADGET1 or CT_SNAP_GADGET2 (legacy binary, files
                            snap_XXX.<f>, or snap_XXX with single_file; float POS/VEL,
                            u4/u8 ID, MASS block only for types without MassTable) */
} ct_write_settings;

void ct_write_settings_defaults(ct_write_settings *s);

/* Collective. parts[t] for t = 0..5 may be NULL (no particles of that type on
 * this rank). From header the writer uses box, time, redshift, cosmology and flags;
 * npart_total and nfiles are ignored (computed from parts and s). Per type and
 * rank: pos is required; vel NULL writes zeros; id NULL writes 1..N in global
 * order; IDs above 2^32-1 switch the dataset to u8. Mass: MassTable[t] =
 * mass_uniform when every rank agrees and no rank passes a mass array (else
 * header->mass_table[t] if mass_uniform is 0); otherwise a Masses dataset.
 * Positions are wrapped into [0, box) under the positions policy of s (beyond the
 * tolerance an error naming the type, the global index and the value unless
 * CT_BOUNDS_WRAP); non-finite positions or velocities are an error (on every
 * rank, nothing written). s may be NULL for the defaults. */
ct_status ct_snapshot_write(const char *dir, const ct_snapshot_header *header,
                            const ct_particles *const parts[6], const ct_write_settings *s,
                            MPI_Comm comm);

#ifdef __cplusplus
}
#endif
#endif
