/* Private parts of the mesh module: the object layout and FFTW precision
 * switches shared by mesh.c, paint.c and exchange.c. */
#ifndef CT_MESH_PRIVATE_H
#define CT_MESH_PRIVATE_H

#include <fftw3-mpi.h>
#include <math.h>

#include "cosmotl/mesh.h"

#ifdef CT_SINGLE_PRECISION
#define CT_FFTW(x) fftwf_##x
#define CT_FFTW_MPI(x) fftwf_mpi_##x
#define CT_MPI_REAL MPI_FLOAT
#else
#define CT_FFTW(x) fftw_##x
#define CT_FFTW_MPI(x) fftw_mpi_##x
#define CT_MPI_REAL MPI_DOUBLE
#endif

/* Alignment of the field (FFTW's SIMD codelets; AVX-512 wants 64 bytes). */
#define CT_MESH_ALIGN 64

struct ct_mesh {
    MPI_Comm comm; /* our own duplicate: mesh traffic never meets the caller's */
    int rank, size;
    int64_t N;
    double box, inv_h; /* N / L */
    int threads;
    ptrdiff_t x0, nx, y0, ny;
    ptrdiff_t row;    /* 2 (N/2 + 1) reals per row */
    size_t plane;     /* N * row reals per x-plane */
    size_t nreal;     /* reals allocated after the low ghosts */
    ct_real *base;    /* allocation: CT_MESH_GHOST_LO planes, then data */
    size_t huge_bytes; /* > 0: base is a MAP_HUGETLB mapping of this length (CT_HUGETLB=1) */
    void *raw;         /* else the calloc'd block base (or fbase) is aligned in */
    ct_real *data;
    CT_FFTW(plan) fwd, bwd;
    /* float32 meshes (ct_mesh_settings.float32): the field is float in
     * fbase/fdata (base and data are NULL) with one fftwf forward plan */
    int f32;
    float *fbase, *fdata;
    fftwf_plan ffwd;
    size_t esz; /* bytes per real of the field: sizeof(ct_real) or sizeof(float) */
    int fourier;
    ptrdiff_t *own_x0, *own_nx; /* every rank's real-space slab */
    int64_t *plane_rank;        /* owner of each x-plane, N entries */
    MPI_Datatype plane_type;    /* one x-plane of reals */
    void *scratch;              /* painting's per-particle buffers, kept between calls */
    size_t scratch_bytes;
};

/* Local x-plane q (may be a ghost plane: -CT_MESH_GHOST_LO <= q) of the field,
 * as bytes, in either precision. */
static inline char *ct_mesh_plane_bytes_(const struct ct_mesh *m, ptrdiff_t q)
{
    char *d = m->f32 ? (char *)m->fdata : (char *)m->data;
    return d + q * (ptrdiff_t)(m->plane * m->esz);
}

/* ct_agree over the mesh's ranks; on one rank no MPI call at all, so that a
 * one-rank mesh can be checked, exchanged and painted from a helper thread of
 * an MPI_THREAD_FUNNELED process (summarize's overlapped painting) */
static inline ct_status ct_mesh_agree_(const struct ct_mesh *m, ct_status local)
{
    return m->size == 1 ? local : ct_agree(m->comm, local);
}

/* CT_ERR_UNSUPPORTED for a float32 mesh in an operation made for the mesh's
 * own precision only (from a function returning ct_status). */
#define CT_MESH_NOT_F32(m, what)                                                                 \
    do {                                                                                         \
        if ((m)->f32)                                                                            \
            CT_FAIL(CT_ERR_UNSUPPORTED, "%s of a float32 mesh (only painting, the forward FFT, " \
                    "compensation, interlacing and P(k) binning take one)", what);              \
    } while (0)

/* floor() without the libm call (x86-64 without SSE4.1 has no rounding
 * instruction); exact for |x| < 2^62. */
static inline int64_t ct_ifloor_(double x)
{
    int64_t i = (int64_t)x;
    return (double)i > x ? i - 1 : i;
}

/* Global x-plane of a position already wrapped into [0, L): floor(x/H) in
 * [0, N). Exchange, paint and readout all use this one definition. */
static inline int64_t ct_mesh_plane_of_(const struct ct_mesh *m, double x)
{
    int64_t i = ct_ifloor_(x * m->inv_h);
    if (i < 0)
        i += m->N;
    if (i >= m->N)
        i -= m->N;
    if (i < 0 || i >= m->N)
        i = 0; /* only for non-finite input, rejected before */
    return i;
}

/* Function clones for the vectorised per-particle loops */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT_MESH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CT_MESH_CLONES
#endif

int ct_mesh_any_outside_(int64_t cnt, const float *restrict p, double box);

/* Particles are checked and located in blocks of this many */
#define CT_MESH_BLOCK 64

/* The global x-plane (as ct_mesh_plane_of_) of cnt <= CT_MESH_BLOCK particles
 * into plane[]; returns nonzero if any of them is not finite or not inside
 * [0, L) (its plane is then 0). Branch-free and vectorised: every position of
 * every snapshot passes through it. */
int ct_mesh_block_planes_(const struct ct_mesh *m, int cnt, const float *p, int32_t *plane);

/* Counting sorts over keys that mostly repeat in runs (neighbours in the input
 * mostly share a plane): runs are counted and placed in registers, because
 * count[key]++ would otherwise wait on its own previous store every step. */
/* count[key[i]] += 1 for i in [i0, i1) */
static inline void ct_count_keys_(const uint32_t *key, int64_t i0, int64_t i1, int64_t *count)
{
    if (i0 >= i1)
        return;
    uint32_t prev = key[i0];
    int64_t run = 0;
    for (int64_t i = i0; i < i1; i++) {
        if (key[i] != prev) {
            count[prev] += run;
            run = 0;
            prev = key[i];
        }
        run++;
    }
    count[prev] += run;
}

/* out[next[key[i]]++] = i for i in [i0, i1), in order */
static inline void ct_place_keys_(const uint32_t *key, int64_t i0, int64_t i1, int64_t *next,
                                  uint32_t *out)
{
    if (i0 >= i1)
        return;
    uint32_t prev = key[i0];
    int64_t at = next[prev];
    for (int64_t i = i0; i < i1; i++) {
        if (key[i] != prev) {
            next[prev] = at;
            prev = key[i];
            at = next[prev];
        }
        out[at++] = (uint32_t)i;
    }
    next[prev] = at;
}

/* Add ghost planes into their owners (paint) or fill them from owners
 * (readout): the planes the kernel of mas reaches (with a paint's shift);
 * every rank passes the same mas and shift. */
ct_status ct_mesh_ghosts_reduce_(struct ct_mesh *m, ct_mas mas, double shift);
ct_status ct_mesh_ghosts_fill_(struct ct_mesh *m, ct_mas mas);

/* A buffer of at least `bytes` owned by the mesh (contents undefined): painting
 * every snapshot of a run reuses it instead of mapping and faulting in fresh
 * per-particle arrays each time. NULL when out of memory. */
void *ct_mesh_scratch_(struct ct_mesh *m, size_t bytes);

#endif
