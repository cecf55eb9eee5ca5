/* cosmotl stats module: public interface (see src/stats/). */
#ifndef COSMOTL_STATS_H
#define COSMOTL_STATS_H

#include "cosmotl/core.h"
#include "cosmotl/mesh.h"

/* ======== Power spectrum (src/stats/pk*.c) ======== */

/* The released-Quijote estimator (Pylians `Pk`): delta =
 * rho/mean - 1 on the mesh; each mode divided by the sinc^p window; bins
 * b = floor(|n| / bin_width) of the integer wavenumber, the DC bin dropped
 * (bins 1..floor(sqrt(3) N/2 / bin_width)); modes counted over the half space
 * (ct_kmode.weight); k = mean |k| of the bin's modes;
 * P_l = (2l+1) L^3 < Re(D_a conj(D_b)) / N^6 L_l(mu) >, mu along `axis`. */
typedef struct {
    ct_mas mas;       /* default CT_MAS_CIC */
    int interlace;    /* 1: second grid shifted by H/2 (default 0) */
    int compensate;   /* divide by the window (default 1) */
    double bin_width; /* in units of kF (default 1) */
    int axis;         /* line of sight of the multipoles: 0, 1, 2 (default 2) */
    int shot_noise;   /* subtract 1/nbar from P0 of auto spectra (default 0) */
    ct_timers *timers; /* if set: "paint", "fft", "bin" are accumulated (default NULL) */
    int discard_field; /* 1: ct_pk_measure may leave the mesh holding anything (the
                          compensated modes are binned from a row buffer instead of
                          written back: one write pass over the mesh fewer); default
                          0: it ends holding delta(k) as ct_pk_field leaves it */
    int float32;       /* 1: the single-precision path: the meshes are float32 ones
                          (ct_mesh_settings.float32; ct_pk_of_snapshot makes them so),
                          painted in float and transformed by FFTW's float library;
                          modes are widened to double for the compensation and the
                          binning, whose sums are double. Same k and mode counts as
                          the double path, P within 1e-6 relative on particle
                          snapshots (docs/decisions.md). A mesh whose precision
                          differs from this setting is an error. Default 0 */
} ct_pk_settings;

void ct_pk_settings_defaults(ct_pk_settings *s);

typedef struct {
    int nbins;
    double *k;        /* mean |k| of the modes, h/Mpc (bin centre if empty) */
    double *P0, *P2, *P4; /* (Mpc/h)^3 */
    int64_t *nmodes;  /* half-space mode counts */
    double box;       /* Mpc/h */
    int64_t grid;
    ct_mas mas;
    int interlace, axis, cross;
    double bin_width;
    double nbar;       /* effective number density (sum w)^2 / sum w^2 / L^3, (h/Mpc)^3;
                          for cross spectra that of the first field */
    double shot_noise; /* amount subtracted from P0 (0 if none) */
    int64_t npart;     /* particles painted (first field) */
    int float32;       /* measured on float32 meshes (settings' float32) */
} ct_pk_result;

void ct_pk_result_free(ct_pk_result *r); /* frees the arrays, zeroes the struct */

/* One rank's share of a particle set, already on the ranks owning their slabs
 * (ct_mesh_exchange); w == NULL means every particle weighs w_uniform. */
typedef struct {
    int64_t n;
    const float *pos;
    const float *w;
    double w_uniform;
} ct_pk_particles;

/* Paint `nset` particle sets (all added, e.g. CDM and neutrinos with their own
 * masses) into m (and into m_shift, painted with a half-cell shift, when
 * interlacing; NULL otherwise), turn the sum into delta, transform, interlace
 * and compensate. Returns sum w, sum w^2 and the particle count over all ranks.
 * Collective. */
ct_status ct_pk_field(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                      const ct_pk_particles *sets, double *sum_w, double *sum_w2,
                      int64_t *npart);

/* Bin the auto (b == NULL) or cross spectrum of Fourier-space fields prepared
 * by ct_pk_field. Result arrays are allocated on every rank. Threads and ranks
 * only change the result at round-off. Collective. */
ct_status ct_pk_bin(const ct_mesh *a, const ct_mesh *b, const ct_pk_settings *s,
                    ct_pk_result *r);

/* On one rank ct_pk_measure paints each set in consecutive blocks of this many
 * particles (ct_mesh_paint, accumulating), the blocks a caller that streams a
 * snapshot paints as it reads them: both give the same mesh bit for bit (the
 * order of the additions in a cell depends on the blocks). */
#define CT_PK_PAINT_BLOCK ((int64_t)1 << 20)

/* The whole measurement for one set of particles: field, binning, nbar and (if
 * asked) shot noise. m_shift may be NULL unless s->interlace. Collective. */
ct_status ct_pk_measure(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                        const ct_pk_particles *sets, ct_pk_result *r);

/* ct_pk_measure for meshes the caller painted itself (m, and m_shift shifted by
 * half a cell if s->interlace), e.g. particle chunks as they are read, with
 * ct_mesh_paint(accumulate): sum_w, sum_w2 and npart are the totals over all
 * ranks of the painted weights, their squares and the particles. Collective. */
ct_status ct_pk_measure_painted(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s,
                                double sum_w, double sum_w2, int64_t npart, ct_pk_result *r);

/* The first half of ct_pk_measure: the weight sums of the sets over all ranks
 * (sum w, sum w^2, particle count) and the painting of m (and of m_shift,
 * shifted by half a cell, if s->interlace). The particles are not needed
 * afterwards: a caller may free them before ct_pk_measure_painted(m, m_shift,
 * s, *sum_w, *sum_w2, *npart, r), which gives ct_pk_measure's result bit for
 * bit, so that the transform's buffers can reuse their memory. Collective. */
ct_status ct_pk_paint(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                      const ct_pk_particles *sets, double *sum_w, double *sum_w2,
                      int64_t *npart);

/* Redshift-space positions: x_axis += v_axis (1 + z) / H(z), H(z) = 100
 * sqrt(omega_m (1+z)^3 + omega_l) km/s/(Mpc/h), wrapped into [0, box). vel in
 * peculiar km/s. Local. */
ct_status ct_pk_rsd_positions(int64_t n, float *pos, const float *vel, int axis,
                              double redshift, double omega_m, double omega_l, double box);

/* Quijote text: "Pk_m_z=0.txt" columns k P0 (real space), or k P0 P2 P4 when
 * multipoles != 0. Written atomically by the calling rank. */
ct_status ct_pk_write_quijote_text(const ct_pk_result *r, const char *path, int multipoles);
/* Read a Quijote power-spectrum text file: first column k, second P (P0), and
 * P2, P4 when present (else zero). nmodes are unknown (0). */
ct_status ct_pk_read_quijote_text(const char *path, ct_pk_result *r);

/* ======== Marked power spectrum and bispectrum (src/stats/mk*.c, bk*.c) ======== */

/* Marked power spectrum (White 2016; Massara et al. 2021), Quijote conventions:
 * mark m = [(1 + delta_s) / (1 + delta_s + delta_R)]^p with delta_R the density
 * contrast smoothed by a real-space top-hat of radius R, read out at each particle. */
typedef struct {
    double R;       /* top-hat radius, Mpc/h (default 10) */
    double p;       /* mark exponent (default 2) */
    double delta_s; /* mark offset (default 0.25) */
} ct_mk_settings;

void ct_mk_settings_defaults(ct_mk_settings *s);
/* The mark of one particle; NaN when 1 + delta_s + delta_R <= 0 (undefined). */
double ct_mk_mark(const ct_mk_settings *s, double delta_R);
/* Fourier transform of a unit-volume top-hat, 3 (sin x - x cos x) / x^3 (1 at x = 0). */
double ct_tophat_window(double x);

typedef struct {
    ct_pk_result M;          /* marked power spectrum (binned as P(k), no shot noise) */
    ct_pk_result X;          /* marked x unmarked cross spectrum */
    double mean_mark;        /* over all particles */
    double delta_R_range[2]; /* smallest and largest delta_R at the particles */
    ct_mk_settings settings;
} ct_mk_result;

void ct_mk_result_free(ct_mk_result *r); /* frees the arrays, zeroes the struct */

/* Marks of every set's particles (on their owning ranks): delta is the
 * Fourier-space field ct_pk_field prepared with ps (unchanged); its window is put
 * back (Quijote smooths the uncompensated field), it is multiplied by the top-hat
 * W(kR), transformed into work (same geometry; overwritten) and read out with CIC.
 * marks has nset entries; marks[k] becomes a malloc'd array of sets[k].n floats
 * (free() them; all NULL on failure).
 * delta_R_range may be NULL. An undefined mark is CT_ERR_NUMERIC on every rank.
 * Collective. */
ct_status ct_mk_marks(ct_mesh *delta, ct_mesh *work, const ct_pk_settings *ps,
                      const ct_mk_settings *s, int nset, const ct_pk_particles *sets,
                      float **marks, double *mean_mark, double delta_R_range[2]);

/* The marked spectrum M(k) and the cross X(k) with delta: marks as above, particles
 * painted with weight x mark into work (and work_shift when ps->interlace),
 * normalised by the mean (which divides by the mean mark), compensated,
 * interlaced and binned with ps like P(k). delta is unchanged; work ends holding
 * the marked field. Collective. */
ct_status ct_mk_measure(ct_mesh *delta, ct_mesh *work, ct_mesh *work_shift,
                        const ct_pk_settings *ps, const ct_mk_settings *s, int nset,
                        const ct_pk_particles *sets, ct_mk_result *r);

/* FFT bispectrum (Scoccimarro estimator) with Quijote shells and triangle order:
 * shell j holds modes with floor(|n|/dk + 1/2) = j; triangles j1 >= j2 >= j3 >=
 * max(j1 - j2, 1), degenerate ones included, ordered by j1, then j2, then j3. */
typedef struct {
    double dk;         /* shell width in units of kF (default 3) */
    double kmax;       /* largest shell centre k1, units of kF (default 78) */
    double mem_budget; /* bytes per rank the estimator may use; 0 = automatic (half
                          the node's available memory shared by its ranks) */
    const char *cache_dir; /* directory of the triangle-count cache; NULL = no cache */
    int per_triangle;  /* benchmark only: recompute the three shell fields of every
                          triangle (the older approach) instead of reusing them */
    int shell_f32;     /* 1: keep the real-space shell fields of B in float32 (half
                          their memory, so fewer passes under a budget; B within
                          1e-6 relative of the float64 path, the sums stay in
                          double); the counts are always made in float64 */
} ct_bk_settings;

void ct_bk_settings_defaults(ct_bk_settings *s);
/* Shells 1..nshell and the triangles (3*ntri shell indices) of the settings. */
ct_status ct_bk_triangles(const ct_bk_settings *s, int **tri, int *ntri, int *nshell);

typedef struct {
    int ntri, nshell;
    int *tri;       /* 3*ntri shell indices */
    double *k;      /* 3*ntri shell centres j*dk, units of kF */
    double *P;      /* 3*ntri shell power, shot noise subtracted when nbar > 0, (Mpc/h)^3 */
    double *B;      /* ntri raw bispectrum, (Mpc/h)^6 */
    double *Bsn;    /* ntri shot noise (P1+P2+P3)/nbar + 1/nbar^2 (0 when nbar = 0) */
    double *B0;     /* ntri B - Bsn */
    double *Q;      /* ntri B0 / (P1 P2 + P1 P3 + P2 P3) */
    double *counts; /* ntri closed triplets (q1+q2+q3 = 0 mod N) per triangle */
    double box, dk, nbar;
    long grid;
    long nfill;     /* shell fields computed for B (not counting the counts) */
    long nchunk;    /* passes over the x-planes under the memory budget (1: every
                       shell transformed once; n: n times, holding 1/n of the planes) */
    double time_B, time_fill, time_sums; /* seconds: B in all, its shell FFTs, its sums */
    double time_counts; /* seconds spent computing counts (0 when cached) */
    int shell_f32;      /* B made from float32 shells (settings' shell_f32) */
} ct_bk_result;

void ct_bk_result_destroy(ct_bk_result **r);

/* Measure the bispectrum of delta (Fourier space: D(k) of the overdensity, window
 * compensated and interlaced as wanted; left unchanged). nbar: particles per
 * (Mpc/h)^3 for the shot noise, 0 for none. Collective over the mesh's ranks. */
ct_status ct_bk_measure(ct_mesh *delta, const ct_bk_settings *s, double nbar,
                        ct_bk_result **out);
/* Quijote text columns: k1/kF k2/kF k3/kF P0(k1) P0(k2) P0(k3) B0 Q B_SN counts.
 * Call on one rank; the file is written atomically. */
ct_status ct_bk_write_text(const ct_bk_result *r, const char *path);

#endif
