/* Private layout of ct_cosmo (shared by the files of src/cosmo). */
#ifndef COSMOTL_COSMO_INTERNAL_H
#define COSMOTL_COSMO_INTERNAL_H

#include <gsl/gsl_spline.h>
#include <gsl/gsl_spline2d.h>

#include "cosmotl/cosmo.h"

/* speed of light in km/s; c/H0 = 2997.92458 Mpc/h */
#define CT_C_KMS 299792.458
#define CT_HUBBLE_MPCH 2997.92458

typedef struct {
    double omhh, obhh, theta, fb, fc;
    double z_eq, k_eq, z_d, s, k_silk, alpha_c, beta_c, alpha_b, beta_b, beta_node;
    double alpha_gamma_nw, s_nw; /* no-wiggle shape */
} ct_eh98;

typedef struct {
    double fnu, fcb, fc, fnub, p_c, p_cb, alpha_gamma, beta_c, s_fit, z_eq;
    int n_nu;
} ct_eh99;

/* A 2-D table of ln D(k, a) and f(k, a) on (ln k, ln a). */
typedef struct {
    gsl_spline2d *lnd, *f;
    double lnk_min, lnk_max, lna_min, lna_max;
} ct_growth2d;

struct ct_cosmo {
    ct_cosmo_params p;
    double om, ode, onu, fnu, fcb;
    ct_eh98 eh98;
    ct_eh99 eh99, eh99_0; /* with the actual f_nu and with f_nu = 0 */
    /* scale-independent growth tables on ln a */
    gsl_spline *lnd1, *f1, *lnd2, *f2;
    double d1raw_1;  /* raw D1 (-> a early) at a = 1 */
    double lna_min, lna_max;
    /* scale-dependent growth (massive nu and/or f(R)) */
    int scale_dep;
    double a_sd;     /* start of the scale-dependent ODE (EH99 values before) */
    ct_growth2d sd, sd_gr;
    int has_sd_gr;
    /* tabulated P(k) */
    double *tab_k, *tab_p;
    size_t tab_n;
    gsl_spline *tab_lnp;
    double tab_slope_lo, tab_slope_hi, tab_t0;
    /* amplitude: P = amp * base(k) * G(k, a)^2 */
    double amp;
};

/* transfer.c */
void ct_eh98_init(ct_eh98 *e, const ct_cosmo_params *p);
double ct_eh98_transfer(const ct_eh98 *e, double k_mpc, int wiggles);
void ct_eh99_init(ct_eh99 *e, const ct_cosmo_params *p, double fnu);
double ct_eh99_master(const ct_eh99 *e, double k_mpc, double omhh, double theta);
/* EH99 D_cb, D_cbnu and dlnD/dlnD1 for both, given the EH-normalised D1 (z_eq D1raw). */
void ct_eh99_growth(const ct_eh99 *e, double k_mpc, double omhh, double theta, double d1eh,
                    double *dcb, double *dcbnu, double *ecb, double *ecbnu);

#endif
