/* cosmotl stats module: public interface (see src/stats/). */
#ifndef COSMOTL_STATS_H
#define COSMOTL_STATS_H

#include "cosmotl/core.h"

/* ======== Marked power spectrum and bispectrum (src/stats/mk*.c, bk*.c) ======== */

struct ct_mesh; /* cosmotl/mesh.h */

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
    long max_fields;/* shell fields resident at once under the memory budget */
    double time_B, time_fill, time_sums; /* seconds: B in all, its shell FFTs, its sums */
    double time_counts; /* seconds spent computing counts (0 when cached) */
} ct_bk_result;

void ct_bk_result_destroy(ct_bk_result **r);

/* Measure the bispectrum of delta (Fourier space: D(k) of the overdensity, window
 * compensated and interlaced as wanted; left unchanged). nbar: particles per
 * (Mpc/h)^3 for the shot noise, 0 for none. Collective over the mesh's ranks. */
ct_status ct_bk_measure(struct ct_mesh *delta, const ct_bk_settings *s, double nbar,
                        ct_bk_result **out);
/* Quijote text columns: k1/kF k2/kF k3/kF P0(k1) P0(k2) P0(k3) B0 Q B_SN counts.
 * Call on one rank; the file is written atomically. */
ct_status ct_bk_write_text(const ct_bk_result *r, const char *path);

#endif
