/* cosmotl cosmo: linear theory for the simulator.
 *
 * Background: flat, matter (CDM + baryons + massive neutrinos, the latter
 * treated as matter in the expansion) + dark energy with constant w; radiation
 * is neglected (as in 2LPTic and FastPM).
 * Growth: D1, D2, f1, f2 from ODEs in ln a (GSL odeiv2), D1(a=1) = 1 and D2 in
 * units of D1(1)^2 (D2 ~ -3/7 D1^2 early). Scale-dependent growth of the
 * CDM+baryon component D(k, a) for massive neutrinos (EH99 linear response) and
 * Hu-Sawicki f(R) (mu(k, a) in the Poisson equation), normalised so that
 * D(k -> 0, a) -> D1(a) in GR.
 * Spectra: EH98 (with or without baryon wiggles) times the EH99 massive-neutrino
 * master-function ratio, or a tabulated P(k) at z = 0; amplitude fixed by sigma8
 * of the linear total matter at z = 0 in GR (or by A_s).
 * Units: k in h/Mpc, P in (Mpc/h)^3, lengths in Mpc/h.
 *
 * A ct_cosmo is immutable after creation and holds no communicator: every rank
 * computes the same tables deterministically. */
#ifndef COSMOTL_COSMO_H
#define COSMOTL_COSMO_H

#include <stddef.h>

#include "cosmotl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CT_LIN_EH98 = 0,      /* Eisenstein & Hu 1998 with baryon wiggles */
    CT_LIN_EH98_NOWIGGLE, /* EH98 zero-baryon-oscillation shape */
    CT_LIN_TABLE          /* tabulated P(k) at z = 0 (CAMB/CLASS columns) */
} ct_lin_transfer;

typedef enum { CT_SPECIES_TOTAL = 0, CT_SPECIES_CB } ct_species;

typedef struct {
    double omega_m;  /* total matter today: CDM + baryons + massive nu */
    double omega_b;
    double h;
    double n_s;
    double sigma8;   /* sigma8 of linear total matter at z = 0 in GR; <= 0: use a_s */
    double a_s;      /* primordial amplitude at k_pivot (used when sigma8 <= 0) */
    double k_pivot;  /* 1/Mpc; default 0.05 */
    double m_nu;     /* sum of neutrino masses, eV (Omega_nu h^2 = m_nu / 93.14) */
    int n_nu;        /* degenerate massive species; default 3 */
    double w;        /* dark-energy equation of state; default -1 */
    double f_r0;     /* Hu-Sawicki f_R0 (<= 0); 0 = GR */
    int fr_n;        /* Hu-Sawicki n; default 1 */
    double t_cmb;    /* K; default 2.7255 */
    ct_lin_transfer transfer;
    /* CT_LIN_TABLE: linear total-matter P(k) at z = 0 (copied at creation;
     * renormalised to sigma8 when sigma8 > 0). */
    const double *table_k, *table_p;
    size_t table_n;
} ct_cosmo_params;

/* Quijote fiducial: Om 0.3175, Ob 0.049, h 0.6711, ns 0.9624, s8 0.834. */
void ct_cosmo_params_defaults(ct_cosmo_params *p);

typedef struct ct_cosmo ct_cosmo;

/* Validates the parameters (CT_ERR_RANGE naming the parameter), solves the
 * growth ODEs and builds the tables, and normalises the spectrum. */
ct_status ct_cosmo_create(ct_cosmo **c, const ct_cosmo_params *p);
void ct_cosmo_destroy(ct_cosmo **c);
const ct_cosmo_params *ct_cosmo_get_params(const ct_cosmo *c);

/* ---- background */
double ct_cosmo_E(const ct_cosmo *c, double a);          /* H(a)/H0 */
double ct_cosmo_dlnE_dlna(const ct_cosmo *c, double a);
double ct_cosmo_omega_m_a(const ct_cosmo *c, double a);  /* Omega_m(a) */
double ct_cosmo_omega_nu(const ct_cosmo *c);             /* Omega_nu today */
double ct_cosmo_f_nu(const ct_cosmo *c);                 /* Omega_nu / Omega_m */

/* ---- scale-independent growth (total matter, GR) */
typedef struct {
    double d1, d2;   /* D1(1) = 1; D2 in units of D1(1)^2 (negative) */
    double f1, f2;   /* dlnD/dlna */
} ct_growth;

ct_growth ct_cosmo_growth(const ct_cosmo *c, double a);
double ct_cosmo_d1(const ct_cosmo *c, double a);
/* FastPM's G_f(a) = a^3 E(a) dD1/da and g_f = dG_f/da (H0 = 1 units). */
double ct_cosmo_fastpm_G(const ct_cosmo *c, double a);
double ct_cosmo_fastpm_g(const ct_cosmo *c, double a);

/* ---- scale-dependent growth of CDM+baryons. D(k, a) -> D1(a) as k -> 0 in GR;
 * f = dlnD/dlna. Equal to D1, f1 when m_nu = 0 and f_r0 = 0. `gr` = 1 gives the
 * f_r0 = 0 counterpart (used for the sigma8(GR) normalisation). */
void ct_cosmo_growth_k(const ct_cosmo *c, double k, double a, int gr, double *d, double *f);
/* EH99 fitting formulae (not the ODE): D_cb(k, a) and D_cbnu(k, a) in the same
 * normalisation (-> D1 at k -> 0). */
void ct_cosmo_eh99_growth(const ct_cosmo *c, double k, double a, double *d_cb,
                          double *d_cbnu);
/* Neutrino linear response R = delta_nu / delta_cb (EH99); 0 when m_nu = 0. */
double ct_cosmo_nu_response(const ct_cosmo *c, double k, double a);
/* Total-matter over cb density ratio f_cb + f_nu R(k, a). */
double ct_cosmo_nu_source(const ct_cosmo *c, double k, double a);
/* Hu-Sawicki mu(k, a) = 1 + k^2 / (3 (k^2 + a^2 m^2)); 1 when f_r0 = 0. */
double ct_cosmo_fr_mu(const ct_cosmo *c, double k, double a);

/* ---- transfer functions and spectra */
/* EH98 (wiggle or no-wiggle per params) at k [h/Mpc]; -> 1 as k -> 0. */
double ct_cosmo_transfer_eh98(const ct_cosmo *c, double k);
/* EH99 master function T_master(k) (no growth suppression factor). */
double ct_cosmo_transfer_eh99_master(const ct_cosmo *c, double k);
/* Linear P(k, a) of species (total or cb), including scale-dependent growth
 * (massive nu, f(R)). */
double ct_cosmo_pk(const ct_cosmo *c, double k, double a, ct_species sp);
/* The same in GR (mu = 1), which sigma8 refers to. */
double ct_cosmo_pk_gr(const ct_cosmo *c, double k, double a, ct_species sp);
/* sigma(R) of the linear field by GSL adaptive integration. */
double ct_cosmo_sigma_r(const ct_cosmo *c, double r, double a, ct_species sp, int gr);
double ct_cosmo_sigma8(const ct_cosmo *c); /* GR, total matter, z = 0 */

/* Primordial potential: Phi (Bardeen, matter era, positive in overdensities)
 * relates to the linear total density at a = 1 by delta(k) = alpha(k) Phi(k),
 * alpha = (2/3) k^2 T(k) D / (Omega_m H0^2) with c = 1, for the PNG initial
 * conditions. ct_cosmo_pk_phi is P_Phi(k) consistent with the normalised P(k). */
double ct_cosmo_alpha_phi(const ct_cosmo *c, double k);
double ct_cosmo_pk_phi(const ct_cosmo *c, double k);

/* Read a two-column text table (k [h/Mpc], P [(Mpc/h)^3]; '#' comments; extra
 * columns ignored). k must increase strictly, P > 0. Errors name file:line. */
ct_status ct_pk_table_read(const char *path, double **k, double **p, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
