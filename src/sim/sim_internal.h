/* Helpers shared by the files of src/sim. */
#ifndef COSMOTL_SIM_INTERNAL_H
#define COSMOTL_SIM_INTERNAL_H

#include "cosmotl/sim.h"

/* rho_crit in 1e10 Msun/h per (Mpc/h)^3 */
#define CT_RHO_CRIT 27.7536627

/* A complex multiplier for one Fourier mode (k vector in h/Mpc, |n|^2 so that
 * isotropic factors can come from a table indexed by it). */
typedef void (*ct_kfilter_fn)(const double kvec[3], double k, int64_t n2, void *user,
                              double out[2]);

/* dst = src * fn(k) mode by mode (dst may be src); dst ends in Fourier space. */
ct_status ct_sim_kfilter(ct_mesh *dst, const ct_mesh *src, ct_kfilter_fn fn, void *user);

/* A new mesh like m (same N, box, threads, communicator). */
ct_status ct_sim_mesh_like(ct_mesh **out, const ct_mesh *m);

/* Particle mass of the CDM+baryon particles, 1e10 Msun/h. */
double ct_sim_particle_mass(const ct_cosmo *c, const ct_sim_settings *s);

/* Rank-count independent snapshot order: redistribute particles so rank r holds
 * the contiguous ID block r of the even split, sorted by ID. Collective. */
ct_status ct_sim_sort_by_id(ct_sim_particles *p, MPI_Comm comm);

/* PM force kernel tables (force.c): the gradient multiplier of mode k along an
 * axis, to be applied with a radial factor (e.g. 1.5 Om S(k) / k^2) to delta(k). */
typedef struct {
    ct_force_kind kind;
    int64_t N, n2max;
    double *fd;   /* per grid index: FD2 gradient sin(k H) / H */
    double *kex;  /* per grid index: exact k (0 on the Nyquist plane) */
    double *winv; /* per grid index: 1 / sinc^2(k H / 2), the inverse CIC window */
    double *tau;  /* per |n|^2: weight of the deconvolved kernel */
} ct_force_kernel;

ct_status ct_force_kernel_init(ct_force_kernel *fk, ct_force_kind kind, double taper, int64_t N,
                               double box);
void ct_force_kernel_free(ct_force_kernel *fk);

static inline double ct_force_gradient(const ct_force_kernel *fk, const ct_kmode *mo, int ax)
{
    double g = fk->fd[mo->i[ax]];
    if (fk->kind == CT_FORCE_FD2)
        return g;
    double t = fk->tau[mo->n2];
    double w = fk->winv[mo->i[0]] * fk->winv[mo->i[1]] * fk->winv[mo->i[2]];
    return (1.0 - t) * g + t * fk->kex[mo->i[ax]] * w * w;
}

/* out[i*3+ax] = the field i G_ax(k) radial[|n|^2] delta(k) read out (CIC) at
 * pos[i], for ax = 0, 1, 2; m holds delta(k) and is consumed: on return w0, w1
 * and m hold the three components in real space (one c2r each, no copy; one
 * readout of all three). Collective. */
ct_status ct_sim_grad_readout(ct_mesh *m, ct_mesh *w0, ct_mesh *w1, const ct_force_kernel *fk,
                              const double *radial, int64_t n, const float *pos, double *out,
                              ct_timers *t);

/* PGD (Dai, Feng & Seljak 2018): the displaced positions out = pos + alpha i k
 * exp(-kl^2/k^2 - (k/ks)^4) delta(k) / k^2 (kl, ks in h/Mpc), delta painted
 * from pos (CIC) on m; w0, w1 are scratch meshes, dis scratch for 3n doubles.
 * Collective. */
ct_status ct_sim_pgd(ct_mesh *m, ct_mesh *w0, ct_mesh *w1, const ct_force_kernel *fk, double alpha,
                     double kl, double ks, int64_t n, const float *pos, double *dis, float *out,
                     ct_timers *t);

/* f(R) screening (screen.c): Phi_crit / c^2 = 1.5 |f_R(a)| (Winther & Ferreira
 * 2015), and the PM source out(k) = tab_gr[|n|^2] delta(k) + tab_5[|n|^2]
 * delta_eff(k) with delta_eff = delta min(1, crit_scale Phi_crit / |Phi_N|) where
 * Phi_N < 0, Phi_N from the Green's function 1/(k^2 + a^2 m^2);
 * dk holds delta(k) (unchanged), tmp is scratch. Collective. */
double ct_sim_fr_phi_crit(const ct_cosmo *c, double a);
/* a^2 m^2(a) of the scalar field in (h/Mpc)^2 (Hu-Sawicki, from ct_cosmo_fr_mu) */
double ct_sim_fr_am2(const ct_cosmo *c, double a);
ct_status ct_sim_fr_screened_source(const ct_cosmo *c, double a, double crit_scale,
                                    ct_mesh *dk, ct_mesh *out, ct_mesh *tmp,
                                    const double *tab_gr, const double *tab_5);

#endif
