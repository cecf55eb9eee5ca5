/* Tiny snapshot fixtures written from scratch with raw HDF5 calls (Quijote's
 * exact attribute names and types) and raw Gadget binary records, good and bad,
 * shared by the unit test and the CLI test. Not the library's writer, so the
 * reader is checked against an independent producer. */
#ifndef CT_TEST_FIXTURES_H
#define CT_TEST_FIXTURES_H

#include <stdint.h>

typedef struct {
    int nfiles;           /* files in the set */
    int single;           /* nfiles == 1 written as base.hdf5 (not base.0.hdf5) */
    int64_t n[6];         /* particles per type over all files */
    double box_kpc, time, redshift, om, ol, h;
    double mass_table[6];
    int id8;              /* ParticleIDs u8 instead of u4 */
    /* defects (off when -1 / 0) */
    int skip_file;        /* this file of the set is not written */
    int bad_omega_file;   /* this file gets a different Omega0 */
    int rows_short;       /* file 0: Coordinates has one row fewer than NumPart_ThisFile */
    int coord_int;        /* Coordinates stored as int32 */
    int coord_shape;      /* Coordinates stored as (N, 2) */
    int64_t nan_at;       /* type-1 global index with a NaN coordinate */
    int64_t out_at;       /* type-1 global index at 1.5 x BoxSize */
    int64_t eqbox_at;     /* type-1 global index with x == BoxSize exactly */
    int64_t near_at;      /* type-1 global index with y = -2e-4 BoxSize and
                             z = (1 + 5e-4) BoxSize: inside the wrap tolerance */
    int filter;           /* datasets chunked with (unavailable) filter 32001 */
    uint32_t highword1;   /* added to NumPart_Total_HighWord[1] */
    int total_delta;      /* added to NumPart_Total[1] */
    int no_header;        /* no /Header group */
    int mpc_units;        /* Gadget-4 style: /Parameters UnitLength_in_cm = 1 Mpc, values /1000 */
    int big_endian;       /* every dataset stored big-endian (F32BE, U32BE / U64BE) */
    int chunked;          /* datasets chunked (no filter): read through H5Dread */
    int64_t vel_nan_at;   /* type-1 global index with a NaN velocity */
} fx_spec;

void fx_defaults(fx_spec *s);
/* The values of particle g (global index within its type) in file units. */
void fx_particle(int t, int64_t g, double box_kpc, float pos_kpc[3], float u[3], uint64_t *id,
                 float *mass);
/* base "dir/snap_000": writes base.<i>.hdf5 (or base.hdf5 if single). 0 on success. */
int fx_write_hdf5(const char *base, const fx_spec *s);
/* Gadget binary: base.<i> (or base if nfiles == 1 and single). format 1 or 2. */
int fx_write_gadget(const char *base, const fx_spec *s, int format, int swap, int dbl);
/* Every case used by the tests under dir; 0 on success. */
int fx_make_all(const char *dir);
/* rm -rf dir (without a shell: system() and fork do not mix with MPI). */
int fx_remove_tree(const char *dir);

#endif
