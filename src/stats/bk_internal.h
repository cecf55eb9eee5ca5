/* Private pieces of the bispectrum estimator shared by src/stats/bk*.c. */
#ifndef COSMOTL_BK_INTERNAL_H
#define COSMOTL_BK_INTERNAL_H

#include <stddef.h>

#include "cosmotl/stats.h"

/* Fill `out` with planes [p0, p0 + np) of this rank's slab (each plane_len real
 * values, no padding) of shell `shell` (1-based) of whatever the context
 * describes: doubles, or floats when the engine's f32 is set. Collective over
 * the engine's communicator: every rank is called with the same shell in the
 * same order (np may differ, and be 0). */
typedef ct_status (*ct_bk_fill_fn)(void *ctx, int shell, ptrdiff_t p0, ptrdiff_t np, void *out);

typedef struct {
    int ntri;
    const int *tri;     /* 3*ntri shell indices, 1-based, j1 >= j2 >= j3 */
    int nshell;         /* shells 1..nshell may appear */
    size_t plane_len;   /* real values per x-plane (N^2) */
    ptrdiff_t nx;       /* x-planes on this rank */
    long nchunk;        /* passes over the planes (same on all ranks): every pass
                           transforms every shell once and keeps ~nx/nchunk planes
                           of each, so memory falls and transforms grow with it */
    int per_triangle;   /* recompute the three fields of every triangle (benchmark) */
    int threads;        /* OpenMP threads for the sums (the mesh's setting) */
    int f32;            /* shell fields stored as float (half the memory); the
                           product of two fields is formed in double (exactly) and
                           every sum accumulates in double */
    ct_bk_fill_fn fill;
    void *ctx;
    MPI_Comm comm;
    /* optional: where the shell fields live (kept between calls, e.g. the delta
     * mesh's ct_mesh_scratch); NULL: allocated per run */
    void *(*scratch)(void *arg, size_t bytes);
    void *scratch_arg;
} ct_bk_engine;

typedef struct {
    long nfill;    /* fill calls (shell transforms) made */
    double t_fill; /* seconds in fill */
    double t_sum;  /* seconds in the local triangle sums */
} ct_bk_engine_stats;

/* sums[t] = sum over the whole grid of f_j1 f_j2 f_j3 for triangle t (reduced
 * over ranks). */
ct_status ct_bk_engine_run(const ct_bk_engine *e, double *sums, ct_bk_engine_stats *st);

/* Shell of integer mode vector length |n| = sqrt(n2) for shell width dk (kF units):
 * floor(|n|/dk + 1/2); 0 means the DC shell (never used). */
int ct_bk_shell_of(double n2, double dk);

/* Triangle-count cache: one HDF5 file per (grid, dk, nshell) in dir, named
 * bk_counts_N<grid>_dk<dk>_k<kmax>.h5. Counts are integers in mode space, so they
 * do not depend on the box size. Collective: rank 0 reads, all ranks receive.
 * *found = 0 when the file is absent or does not match (a warning says why). */
ct_status ct_bk_counts_load(const char *dir, long grid, double dk, int nshell, int ntri,
                            const int *tri, double *counts, int *found, MPI_Comm comm);
/* Rank 0 writes the file atomically (temporary name + rename), so concurrent
 * writers of the same configuration leave one complete file. */
ct_status ct_bk_counts_save(const char *dir, long grid, double dk, int nshell, int ntri,
                            const int *tri, const double *counts, MPI_Comm comm);
/* The cache file's path in a new allocation (free() it); dir of any length. */
ct_status ct_bk_counts_path(char **out, const char *dir, long grid, double dk, int nshell);

#endif
