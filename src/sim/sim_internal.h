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

#endif
