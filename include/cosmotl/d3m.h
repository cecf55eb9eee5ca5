/* cosmotl D3M evaluation pieces (docs/d3m.md): Fourier filtering of
 * displacement fields (the linear-growth baseline), particle positions and
 * density meshes from displacements, and a spherical-underdensity void finder.
 *
 * Fields are C x N^3 floats (channel, then i, j, k with k fastest: the U-Net's
 * layout for one sample); q = (box / N) (i, j, k) is the Lagrangian lattice. */
#ifndef COSMOTL_D3M_H
#define COSMOTL_D3M_H

#include <stdint.h>

#include "cosmotl/core.h"
#include "cosmotl/mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Multiply every channel of d (C x N^3, N even) in Fourier space by r(|k|),
 * linearly interpolated in the table (k[0..nk-1] increasing, h/Mpc; r outside
 * the table: its end values); the k = 0 mode is multiplied by r[0]. Serial
 * (FFTW on this process). */
ct_status ct_d3m_filter(float *d, int C, int64_t N, double box, const double *k, const double *r,
                        int nk);

/* Particle positions x = q + d wrapped into [0, box): pos is N^3 x 3, particle
 * (i, j, k) at row (i N + j) N + k (ID - 1 in cosmotl's numbering). */
void ct_d3m_positions(const float *d, int64_t N, double box, float *pos);

/* Spherical-underdensity voids (as Pylians' void finder, without its smoothing
 * scales): every grid cell whose density (in units of the mean) is below
 * `threshold` is a candidate centre; its radius is the largest R such that the
 * mean density of the cells within every radius up to R stays below
 * `threshold` (cells taken by distance from the centre, periodic). Candidates
 * with r_min <= R are sorted by radius, largest first, and kept when they do
 * not overlap a kept void (centre distance >= R1 + R2); voids reaching r_max
 * are kept with R = r_max. */
typedef struct {
    double threshold; /* mean density inside a void / mean density (default 0.2) */
    double r_min;     /* Mpc/h (default 2 cells) */
    double r_max;     /* Mpc/h (default box / 8) */
} ct_void_settings;

typedef struct {
    double x[3];  /* centre (a grid point), Mpc/h */
    double r;     /* radius, Mpc/h */
    double rho;   /* mean density inside r / mean */
} ct_void;

void ct_void_settings_default(ct_void_settings *s, int64_t N, double box);
/* rho: N^3 densities in units of the mean (row-major, k fastest). *voids is
 * malloc'd (free()), largest first. Serial. */
ct_status ct_void_find(const double *rho, int64_t N, double box, const ct_void_settings *s,
                       ct_void **voids, int64_t *nvoids);

#ifdef __cplusplus
}
#endif

#endif
