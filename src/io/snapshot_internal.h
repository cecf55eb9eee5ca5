/* Private pieces of the snapshot reader/writer shared by snapshot.c (driver,
 * partitioning, unit conversion), snapshot_hdf5.c and gadget_binary.c. */
#ifndef CT_SNAPSHOT_INTERNAL_H
#define CT_SNAPSHOT_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "cosmotl/io.h"

#define CT_SNAP_PATH_CAP 4096

/* What rank 0 learns about one file at open time; plain data so it can be
 * broadcast as bytes. */
typedef struct {
    int64_t npart[6];      /* NumPart_ThisFile */
    /* HDF5: which optional datasets exist per type */
    int has_vel[6], has_id[6], has_mass[6];
    /* Gadget binary: byte offsets of each block's payload (-1 if absent) */
    int64_t blk_pos, blk_vel, blk_id, blk_mass;
    int64_t mass_row0[6];  /* first row of each type inside the MASS block */
    int real_bytes;        /* 4 or 8: POS/VEL/MASS element size */
    int id_bytes;          /* 4 or 8 */
    int swap;              /* binary written with the other byte order */
} ct_snapfile;

struct ct_snapshot {
    MPI_Comm comm;
    ct_snapshot_format format;
    ct_snapshot_header header;
    double box_file;       /* BoxSize as stored (kpc/h) */
    int nfiles;
    ct_snapfile *files;    /* nfiles */
    char *pathbuf;         /* nfiles NUL-separated paths */
    size_t pathbuf_len;
    char **paths;          /* pointers into pathbuf */
};

/* snprintf into a path buffer; CT_ERR_ARG if it does not fit. */
ct_status ct_snap_path(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Length conversion file -> memory (kpc/h -> Mpc/h). */
#define CT_SNAP_LEN_TO_MPC 1e-3
#define CT_MPC_IN_CM 3.085678e24

/* Add Debian's HDF5 filter plugin folders to the search path (once, and only
 * when HDF5_PLUGIN_PATH is not set). */
void ct_h5snap_plugins(void);

/* HDF5 format: read and validate the header and dataset metadata of one file.
 * Returns CT_ERR_UNSUPPORTED when the file is HDF5 but not a snapshot. */
ct_status ct_h5snap_scan(const char *path, ct_snapshot_header *h, double *box_file,
                         ct_snapfile *f);
/* Read rows [row, row + n) of type t of one file into float/u64/float buffers
 * (NULL = skip). Positions stay in file units; velocities in Gadget units. */
ct_status ct_h5snap_read(const char *path, const ct_snapfile *f, int t, int64_t row,
                         int64_t n, float *pos, float *vel, uint64_t *id, float *mass);

/* Read exactly n bytes at offset off (retrying short reads); -1 on an error
 * or the end of the file. */
int ct_snap_pread(int fd, void *buf, size_t n, int64_t off);

/* Gadget binary: is this a Gadget format I/II file? (1 yes, 0 no) */
int ct_gadget_sniff(const char *path);
ct_status ct_gadget_scan(const char *path, ct_snapshot_header *h, double *box_file,
                         ct_snapfile *f, ct_snapshot_format *fmt);

/* ------------------------------------------------------------ raw reading
 * Where a field of a file is stored as plain contiguous bytes (Gadget binary
 * blocks; HDF5 datasets with contiguous layout, no filter, no external storage,
 * IEEE float32 or unsigned 32/64-bit integers of either byte order), the reader
 * takes the byte offset from the metadata (HDF5 calls on the calling thread
 * only) and reads the rows with pread, on one or more threads that make no
 * HDF5 or MPI call, straight into the output arrays, in chunks that are
 * converted (byte order, width, units, the positions policy) while in cache.
 * Anything else is read through HDF5 (H5Dread), as before. */
typedef enum { CT_RAW_POS, CT_RAW_VEL, CT_RAW_ID, CT_RAW_MASS } ct_raw_field;

/* Rows [row, row + n) of one field of type t in one file. */
typedef struct {
    int file;           /* index among the snapshot's files */
    int order;          /* rank of this read among the file's reads (serial order) */
    ct_raw_field field;
    int64_t off;        /* byte offset in the file of row `row` */
    int64_t row, n;     /* rows of type t within the file */
    int elsize;         /* bytes per stored element: 4 or 8 */
    int swap;           /* stored in the other byte order */
    void *dst;          /* output: float (pos, vel: 3 per row; mass) or uint64_t (id) */
} ct_rawpiece;

/* HDF5: the pieces (pos, then vel, id, mass where the pointer is not NULL) of
 * rows [row, row + n) of type t of file `file`; returns how many, or 0 if some
 * dataset is not plain contiguous storage of a type read raw (or anything
 * fails: the HDF5 path then reports it). */
int ct_h5snap_plan(const char *path, const ct_snapfile *f, int file, int t, int64_t row,
                   int64_t n, float *pos, float *vel, uint64_t *id, float *mass,
                   ct_rawpiece out[4]);
/* Gadget binary: the pieces (POS, VEL, MASS, ID: the file's block order) of
 * rows [row, row + n) of type t; an error (a block that is absent) names the
 * file. */
ct_status ct_gadget_plan(const char *path, const ct_snapfile *f, int file, int t, int64_t row,
                         int64_t n, float *pos, float *vel, uint64_t *id, float *mass,
                         ct_rawpiece out[4], int *np);

/* Tests only (not thread-safe): force_hdf5 = 1 reads every HDF5 file through
 * H5Dread; chunk_bytes > 0 sets the raw reader's chunk (default 512 KiB).
 * Returns the chunks the raw reader read since the previous call. */
int64_t ct_snap_raw_testing(int force_hdf5, int64_t chunk_bytes);

/* The positions policy (see ct_bounds_policy) for one coordinate v in a box B
 * (any units): returns 0 with the value wrapped into [0, B) in *out, 1 if v lies
 * more than tol * B outside [0, B] under CT_BOUNDS_ERROR, -1 if v is not finite. */
static inline int ct_snap_fold(double v, double B, double tol, ct_bounds_policy pol,
                               double *out)
{
    if (!isfinite(v))
        return -1;
    if (v >= 0 && v < B) {
        *out = v;
        return 0;
    }
    if (pol != CT_BOUNDS_WRAP && !(v >= -tol * B && v <= B + tol * B))
        return 1;
    v = fmod(v, B);
    if (v < 0)
        v += B;
    *out = v < B ? v : 0; /* -tiny + B rounds to B: that is 0 */
    return 0;
}

/* Check a tolerance from the settings. */
static inline int ct_snap_tolerance_ok(double tol) { return tol >= 0 && tol < 1; }

/* Split a 64-bit total into Gadget's low word and HighWord. */
static inline void ct_snap_split_count(int64_t n, uint32_t *low, uint32_t *high)
{
    *low = (uint32_t)((uint64_t)n & 0xffffffffu);
    *high = (uint32_t)((uint64_t)n >> 32);
}
static inline int64_t ct_snap_join_count(uint32_t low, uint32_t high)
{
    return (int64_t)(((uint64_t)high << 32) | (uint64_t)low);
}

#endif
