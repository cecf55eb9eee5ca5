/* cosmotl mesh: a periodic N^3 mesh distributed in slabs over the ranks of a
 * communicator (FFTW-MPI, in-place r2c/c2r), with particle exchange to the slab
 * owner, mass assignment (NGP, CIC, TSC, PCS; optional shift for interlacing),
 * readout (interpolation back to particles) and a k-space iterator that hides
 * the decomposition.
 *
 * Geometry (the Quijote/Pylians conventions): box L, cell H = L/N, grid point (i,j,l) sits at
 * x = (iH, jH, lH) (not cell centres); everything wraps periodically.
 *
 * Real space: rank r owns the x-planes [x0, x0 + nx) (ct_mesh_local); value
 * (i, j, l) with i in that range is real[((i - x0) * N + j) * ct_mesh_row(m) + l],
 * row = 2 (N/2 + 1) (FFTW's in-place padding; the last 2 entries of each row
 * are not part of the field). nx may be 0 on some ranks when N is small.
 *
 * Fourier space: the transform is FFTW_MPI_TRANSPOSED_OUT (one global transpose
 * fewer), so rank r owns the ky-planes [y0, y0 + ny) and mode (i, j, l), with
 * i, j in 0..N-1 and l in 0..N/2, is cplx[((j - y0) * N + i) * (N/2 + 1) + l].
 * Use the iterator (ct_kiter_*) rather than these formulas where possible.
 * Integer wavenumber of index i: n = i if i <= N/2 else i - N (Nyquist is +N/2);
 * physical k = n kF with kF = 2 pi / L.
 *
 * FFT normalisation: ct_mesh_r2c computes D(k) = sum_x f(x) exp(-i k.x)
 * (unnormalised, FFTW's sign); ct_mesh_c2r computes f(x) = N^-3 sum_k D(k)
 * exp(+i k.x), so c2r(r2c(f)) = f. With delta on the mesh, the power spectrum
 * is P(k) = L^3 |D(k) / N^3|^2.
 *
 * Threads: every rank runs `threads` OpenMP threads inside FFTW (fftw3_omp
 * threaded MPI plans) and inside paint/readout/iteration. Painting uses a fixed
 * chunking of the x-planes (independent of the thread count), so results are
 * bitwise identical for any number of threads; they agree across rank counts to
 * round-off.
 *
 * Ghosts: particles are owned by the rank whose slab holds plane floor(x/H).
 * Each rank paints into its slab plus CT_MESH_GHOST_LO planes below and
 * CT_MESH_GHOST_HI above; after painting, the ghost planes the scheme (with its
 * shift) can reach are sent to (and added on) the ranks that own them. Readout
 * fills the ghost planes its scheme reads from their owners first. Particles must therefore be on their owning rank
 * (ct_mesh_exchange) before ct_mesh_paint / ct_mesh_readout; a particle on the
 * wrong rank is an error (CT_ERR_ARG), never a silent miss.
 *
 * All functions taking a ct_mesh are collective over its communicator unless
 * stated otherwise. */
#ifndef COSMOTL_MESH_H
#define COSMOTL_MESH_H

#include <math.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Floating-point type of the mesh (double, or float in a -Dprecision=single
 * build). Complex values are pairs (re, im), layout-compatible with FFTW's. */
#ifdef CT_SINGLE_PRECISION
typedef float ct_real;
#else
typedef double ct_real;
#endif
typedef ct_real ct_complex[2];

/* Mass-assignment schemes; the value is the order p of the kernel, i.e. the
 * exponent of its sinc^p window and the number of points per axis. */
typedef enum { CT_MAS_NGP = 1, CT_MAS_CIC = 2, CT_MAS_TSC = 3, CT_MAS_PCS = 4 } ct_mas;

/* "ngp", "cic", "tsc", "pcs" (case-insensitive) -> scheme; CT_ERR_ARG otherwise. */
ct_status ct_mas_parse(const char *name, ct_mas *mas);
const char *ct_mas_name(ct_mas mas); /* "NGP", "CIC", "TSC", "PCS" */

#define CT_MESH_GHOST_LO 1 /* ghost planes below the slab */
#define CT_MESH_GHOST_HI 3 /* above: p/2 + 1 for PCS plus a half-cell shift */

typedef struct {
    int64_t n;      /* grid points per side; even, >= 2 */
    double box;     /* side L, Mpc/h; > 0 */
    int threads;    /* OpenMP threads per rank; default 1 */
    int plan_effort; /* 0 FFTW_ESTIMATE (default), 1 FFTW_MEASURE, 2 FFTW_PATIENT */
    int float32;    /* 1: the field is float and transformed by FFTW's float library
                       (the single-precision P(k) path): half the memory and memory
                       traffic of painting, the FFT and binning. Such a mesh takes
                       painting, ct_mesh_r2c, compensation, interlacing and
                       ct_pk_* only (others: CT_ERR_UNSUPPORTED); its views are
                       ct_mesh_real_f32 / ct_mesh_complex_f32. Default 0 */
} ct_mesh_settings;

void ct_mesh_settings_defaults(ct_mesh_settings *s);

typedef struct ct_mesh ct_mesh;

/* Collective. Allocates the slab (plus ghost planes) and plans both FFTs; the
 * field starts at zero in real space. */
ct_status ct_mesh_create(ct_mesh **m, const ct_mesh_settings *s, MPI_Comm comm);
void ct_mesh_destroy(ct_mesh **m); /* tolerates NULL / *m == NULL */

/* A buffer of at least `bytes` owned by the mesh, kept until the mesh is
 * destroyed or a larger one is asked for (then replaced): work arrays that every
 * call on a kept mesh would otherwise take as fresh memory (painting: the chunk
 * order with threads, one colour bit per particle on one thread;
 * the bispectrum's shell fields). Contents undefined; one user at a time (valid
 * until the next call on the mesh). NULL when out of memory. Local. */
void *ct_mesh_scratch(ct_mesh *m, size_t bytes);

/* Geometry (local, non-collective). */
int64_t ct_mesh_n(const ct_mesh *m);
double ct_mesh_box(const ct_mesh *m);
double ct_mesh_kf(const ct_mesh *m); /* 2 pi / L */
int ct_mesh_threads(const ct_mesh *m);
MPI_Comm ct_mesh_comm(const ct_mesh *m);
ptrdiff_t ct_mesh_row(const ct_mesh *m); /* 2 (N/2 + 1) */
/* Real-space slab: x-planes [*x0, *x0 + *nx). */
void ct_mesh_local(const ct_mesh *m, ptrdiff_t *x0, ptrdiff_t *nx);
/* Fourier-space slab (transposed): ky-planes [*y0, *y0 + *ny). */
void ct_mesh_klocal(const ct_mesh *m, ptrdiff_t *y0, ptrdiff_t *ny);
/* Rank that owns x-plane i (i taken modulo N). */
int ct_mesh_plane_owner(const ct_mesh *m, int64_t i);

/* Views of the same storage. The real view is valid in real space, the complex
 * one after ct_mesh_r2c; ct_mesh_is_fourier tells which holds. */
ct_real *ct_mesh_real(ct_mesh *m);
ct_complex *ct_mesh_complex(ct_mesh *m);
int ct_mesh_is_fourier(const ct_mesh *m);
/* Float32 meshes (settings' float32): 1 for one, 0 otherwise. Its views are
 * these (NULL for a mesh of the build's own precision, whose ct_mesh_real /
 * ct_mesh_complex are NULL for a float32 mesh). */
typedef float ct_complex_f32[2];
int ct_mesh_is_float32(const ct_mesh *m);
float *ct_mesh_real_f32(ct_mesh *m);
ct_complex_f32 *ct_mesh_complex_f32(ct_mesh *m);
/* Zero the field (and ghosts); leaves the mesh in real space. */
void ct_mesh_zero(ct_mesh *m);
/* Copy field and state of src into dst (same settings and communicator). */
ct_status ct_mesh_copy(ct_mesh *dst, const ct_mesh *src);

/* Forward (real -> Fourier, unnormalised) and backward (Fourier -> real,
 * divided by N^3) in-place transforms. CT_ERR_STATE if the mesh is in the
 * wrong space. */
ct_status ct_mesh_r2c(ct_mesh *m);
ct_status ct_mesh_c2r(ct_mesh *m);
/* ct_mesh_c2r without the division by N^3 and without clearing the row padding:
 * for callers that scale the values as they read them anyway (one pass over the
 * mesh less); the real values are N^3 times those of ct_mesh_c2r before its
 * rounding, so multiplying by ct_mesh_inv_n3 in ct_real gives them exactly. */
ct_status ct_mesh_c2r_unnormalised(ct_mesh *m);
/* 1 / N^3 in the mesh's precision, the factor ct_mesh_c2r applies. */
ct_real ct_mesh_inv_n3(const ct_mesh *m);
/* Declare that the caller wrote Fourier modes into the complex view (the layout
 * ct_mesh_r2c produces), e.g. a filtered copy of another mesh's modes. */
void ct_mesh_set_fourier(ct_mesh *m);

/* Sum of the real field over the whole mesh (deterministic order per rank,
 * MPI sum over ranks). */
ct_status ct_mesh_sum(const ct_mesh *m, double *sum);

/* ---------------------------------------------------------- particles */

/* An extra per-particle array moved along with the positions by
 * ct_mesh_exchange: *data points to n * size bytes (malloc'd or NULL when
 * n == 0); it is replaced by a new malloc'd array (free() it). */
typedef struct {
    void **data;
    size_t size; /* bytes per particle */
} ct_payload;

/* Send every particle to the rank owning plane floor(x/H) (positions wrapped
 * into [0, L) first, in place; non-finite positions are an error). *pos
 * (n x 3 floats, malloc'd) and each payload are replaced by new malloc'd arrays
 * holding this rank's particles (grouped by source rank, each group in x-plane
 * order; on a single rank the arrays are kept as they are); *n is updated. 64-bit safe (counts are
 * exchanged as int64 and sent in chunks below 2^31 bytes). Collective. */
ct_status ct_mesh_exchange(const ct_mesh *m, int64_t *n, float **pos, int npayload,
                           const ct_payload *payload);

/* An extra per-particle array read by ct_mesh_exchange_const: n * size bytes
 * (may be NULL when n == 0). */
typedef struct {
    const void *data;
    size_t size; /* bytes per particle */
} ct_payload_in;

/* ct_mesh_exchange for arrays the caller keeps (a NumPy array, a snapshot
 * still in use): reads pos (n x 3 floats) and the npayload arrays and never
 * writes them; this rank's particles come back in new malloc'd arrays (free()
 * them): *n_out, *pos_out (3 * *n_out floats, wrapped into [0, L)) and
 * payload_out[k] (*n_out * payload[k].size bytes, k < npayload). The same
 * particles in the same order as ct_mesh_exchange gives (bit-identical), so
 * without the copy a caller would otherwise make for it; on one rank the
 * outputs are copies in the input order. On error nothing is allocated
 * (*pos_out and payload_out[k] NULL). Collective. */
ct_status ct_mesh_exchange_const(const ct_mesh *m, int64_t n, const float *pos, int npayload,
                                 const ct_payload_in *payload, int64_t *n_out, float **pos_out,
                                 void **payload_out);

/* The first of n particles (3 floats each) with a coordinate that is not
 * finite or not inside [0, box) (compared in double), or -1 if there is none:
 * the check a caller makes before ct_mesh_exchange to refuse out-of-box input
 * instead of wrapping it. One read pass over pos. */
int64_t ct_mesh_first_outside(int64_t n, const float *pos, double box);

typedef struct {
    ct_mas mas;        /* default CT_MAS_CIC */
    double shift;      /* shift of every particle, in cells, along all axes
                          (0.5 for the interlaced grid); default 0 */
    int accumulate;    /* 1: add to the current field instead of replacing it */
} ct_paint_settings;

void ct_paint_settings_defaults(ct_paint_settings *s);

/* Assign n particles (this rank's, already exchanged) with weights w (n values;
 * NULL: every particle has weight w_uniform) to the mesh: field(x_g) +=
 * w W(x_g - x_p) with sum_g W = 1, so the field holds mass per cell. Ghost
 * contributions are delivered to their owners. The mesh is zeroed first (and
 * left in real space) unless accumulate, which needs a real-space mesh.
 * Collective: every rank passes the same mas and shift. */
ct_status ct_mesh_paint(ct_mesh *m, const ct_paint_settings *s, int64_t n, const float *pos,
                        const float *w, double w_uniform);

/* Interpolate the real field to n particle positions with the same kernels as
 * painting (out[i] = sum_g W(x_g - x_i) field(x_g)); particles must be on their
 * owning rank. Fills ghost planes from their owners (the field is unchanged).
 * Collective. */
ct_status ct_mesh_readout(ct_mesh *m, ct_mas mas, int64_t n, const float *pos, double *out);
/* The same for nm meshes of one geometry at once (e.g. the three components of
 * a force): out[i * nm + j] is mesh j at particle i, each value bit-identical to
 * ct_mesh_readout of mesh j; the kernel weights are computed once per particle.
 * Collective. */
ct_status ct_mesh_readout_n(ct_mesh *const *m, int nm, ct_mas mas, int64_t n, const float *pos,
                            double *out);

/* Convert a painted mass field into the overdensity delta = rho / mean - 1
 * (mean over the mesh). Fails if the mean is not positive. Collective. */
ct_status ct_mesh_to_overdensity(ct_mesh *m, double *mean);
/* The same with a known mean (e.g. total weight / N^3, which painting conserves
 * to round-off): one pass over the mesh fewer. Local. */
ct_status ct_mesh_to_overdensity_mean(ct_mesh *m, double mean);

/* ---------------------------------------------------------- Fourier space */

/* Divide every mode by prod_a [sin(pi n_a / N) / (pi n_a / N)]^p (factor 1 for
 * n_a = 0): the mass-assignment window of order p. Local. */
ct_status ct_mesh_compensate(ct_mesh *m, int p);
/* The same, every mode also multiplied by scale (p = 0: scale only). Local. */
ct_status ct_mesh_compensate_scaled(ct_mesh *m, int p, double scale);
/* The per-axis factors of that division: out[i] = [sin(pi n / N) / (pi n / N)]^-p
 * for grid index i (wavenumber n of index i; 1 for n = 0), N entries allocated
 * here. Mode (i0, i1, i2) is multiplied by out[i0] * out[i1] * out[i2]. */
ct_status ct_mesh_window_table(int64_t N, int p, double **out);
/* Interlacing: m <- (m + s * exp(i k.H(1,1,1)/2)) / 2 where s was painted with
 * shift 0.5. Both in Fourier space, same geometry. Local. */
ct_status ct_mesh_interlace(ct_mesh *m, const ct_mesh *s);

/* One local Fourier mode as seen by the iterator. */
typedef struct {
    ptrdiff_t idx; /* index into ct_mesh_complex() */
    int64_t i[3];  /* grid indices: i[0], i[1] in 0..N-1, i[2] in 0..N/2 */
    int64_t n[3];  /* integer wavenumbers, -N/2 < n_a <= N/2 */
    int64_t n2;    /* |n|^2 */
    /* Half-space weight as in the released Quijote spectra: 1 if this mode
     * represents its (k, -k) pair or is self-conjugate, 0 for the duplicate
     * half of the l = 0 and l = N/2 planes (kept: n_x > 0; n_x in {0, N/2} and
     * n_y >= 0). Summing weight over all modes counts (N^3 - 8)/2 + 8. */
    int weight;
    /* Full-space multiplicity: 2 for 0 < l < N/2 (the mode and its conjugate),
     * 1 on the l = 0 and l = N/2 planes. Summing mult counts N^3 (Parseval). */
    int mult;
} ct_kmode;

/* Iterator over the local Fourier modes of ky-planes [p0, p1) (local plane
 * indices, 0 <= p0 <= p1 <= ny). Threads take disjoint plane ranges:
 *
 *   #pragma omp parallel for
 *   for (ptrdiff_t p = 0; p < ny; p++)
 *       for (ct_kiter_begin(&it, m, p, p + 1); ct_kiter_valid(&it); ct_kiter_next(&it))
 *           use(it.mode);
 */
typedef struct {
    int64_t N, half, y0;
    ptrdiff_t p, p1;
    ct_kmode mode;
} ct_kiter;

static inline int64_t ct_mesh_wavenumber(int64_t i, int64_t N)
{
    return i <= N / 2 ? i : i - N;
}

static inline void ct_kiter_fill_(ct_kiter *it)
{
    const int64_t N = it->N;
    ct_kmode *k = &it->mode;
    k->n[0] = ct_mesh_wavenumber(k->i[0], N);
    k->n[1] = ct_mesh_wavenumber(k->i[1], N);
    k->n[2] = k->i[2];
    k->n2 = k->n[0] * k->n[0] + k->n[1] * k->n[1] + k->n[2] * k->n[2];
    if (k->i[2] == 0 || k->i[2] == it->half) {
        k->mult = 1;
        if (k->n[0] < 0)
            k->weight = 0;
        else if ((k->n[0] == 0 || k->n[0] == it->half) && k->n[1] < 0)
            k->weight = 0;
        else
            k->weight = 1;
    } else {
        k->mult = 2;
        k->weight = 1;
    }
}

/* Implemented in mesh.c (it needs the mesh's layout). */
void ct_kiter_begin(ct_kiter *it, const ct_mesh *m, ptrdiff_t p0, ptrdiff_t p1);

static inline int ct_kiter_valid(const ct_kiter *it)
{
    return it->p < it->p1;
}

static inline void ct_kiter_next(ct_kiter *it)
{
    ct_kmode *k = &it->mode;
    k->idx++;
    if (++k->i[2] > it->half) {
        k->i[2] = 0;
        if (++k->i[0] >= it->N) {
            k->i[0] = 0;
            it->p++;
            k->i[1] = it->y0 + it->p;
            if (it->p >= it->p1)
                return;
        }
    }
    ct_kiter_fill_(it);
}

/* mu = n[axis] / |n| (0 for the DC mode). */
static inline double ct_kmode_mu(const ct_kmode *k, int axis)
{
    return k->n2 > 0 ? (double)k->n[axis] / sqrt((double)k->n2) : 0.0;
}

#ifdef __cplusplus
}
#endif
#endif
