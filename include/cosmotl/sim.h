/* cosmotl sim: initial conditions (Zel'dovich / 2LPT, primordial non-Gaussianity,
 * scale-dependent growth for massive neutrinos and f(R)), FastPM particle-mesh
 * evolution, and suites of simulations in the Quijote layout with parameters
 * from Sobol / Latin-hypercube sampling or a table.
 *
 * Units: positions comoving Mpc/h, velocities peculiar km/s, masses 1e10 Msun/h.
 * Internally the PM code carries FastPM's momentum p = a^3 E(a) dx/da (H0 = 1),
 * so v = 100 p / a km/s.
 *
 * Neutrinos are not evolved as particles: they enter through linear response
 * (the Poisson source is delta_cb (f_cb + f_nu R(k, a))). At each output they
 * become particles (PartType2, one per lattice site, displaced by the field
 * R(k, a) delta_cb of the evolved cb particles) so that a snapshot has the
 * layout of Quijote's massive-neutrino runs and its mass-weighted P(k) is total
 * matter. */
#ifndef COSMOTL_SIM_H
#define COSMOTL_SIM_H

#include <mpi.h>
#include <stdint.h>

#include "cosmotl/core.h"
#include "cosmotl/cosmo.h"
#include "cosmotl/mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CT_PNG_NONE = 0, CT_PNG_LOCAL, CT_PNG_EQUILATERAL, CT_PNG_ORTHOGONAL } ct_png_kind;
typedef enum { CT_AMP_RAYLEIGH = 0, CT_AMP_FIXED } ct_amp_kind;
/* White noise of the initial conditions. COSMOTL: each mode's amplitude and
 * phase from Philox keyed by (seed, mode). NGENIC: the generator of N-GenIC and
 * 2LPTic (GSL's ranlxd1, a seed per (x, y) column of an ngenic_nmesh^2 table
 * drawn in N-GenIC's order from seed), which made Quijote's initial
 * conditions: with Quijote's seed (LH simulation i: i; nwLH: i + 6700) and
 * Nmesh (1024) a simulation gets the realisation of that Quijote simulation,
 * every mode it resolves (docs/decisions.md, "Quijote's own realisations"). */
typedef enum { CT_NOISE_COSMOTL = 0, CT_NOISE_NGENIC } ct_noise_kind;
/* PM force kernel. FD2: 2-point finite-difference gradient, exact 1/k^2, paint
 * and readout windows left in (damps lattice images, but weakens the force by
 * 3% at k = 0.1 k_Nyquist and 28% at 0.3 k_Nyquist of the mesh). DECONV: exact
 * gradient with the CIC paint and readout windows divided out at low k, blended
 * into FD2 towards the mesh Nyquist frequency (see force.c). */
typedef enum { CT_FORCE_FD2 = 0, CT_FORCE_DECONV } ct_force_kind;

#define CT_SIM_MAX_OUT 16

typedef struct {
    int64_t np;            /* particles per side (>= 2, even) */
    double box;            /* Mpc/h */
    int mesh_factor;       /* B: the PM mesh has B * np points per side; default 2 */
    int steps;             /* PM steps from z_init to the last output; 0 = LPT only */
    double z_init;         /* redshift of the initial conditions; default 127 */
    int lpt_order;         /* 1 Zel'dovich, 2 2LPT; default 2 */
    ct_amp_kind amplitude; /* Rayleigh-distributed or fixed mode amplitudes */
    int phase_flip;        /* add pi to every phase (paired simulations) */
    ct_png_kind png;
    double f_nl;
    uint64_t seed;         /* the Gaussian field is a function of (seed, mode) only */
    ct_noise_kind noise;   /* default CT_NOISE_COSMOTL */
    int64_t ngenic_nmesh;  /* NGENIC: N-GenIC's Nmesh, even, >= np; default 1024 */
    int nout;              /* output redshifts (decreasing), default {0} */
    double z_out[CT_SIM_MAX_OUT];
    int snapnum[CT_SIM_MAX_OUT]; /* snapshot numbers; default Quijote's (z=0 -> 4) */
    int nfiles;            /* files per snapshot; default 8 */
    int format;            /* snapshot files: a ct_snapshot_format (cosmotl/io.h),
                              CT_SNAP_HDF5 (default; 0 the same), CT_SNAP_GADGET1/2 */
    int threads;           /* OpenMP threads per rank in FFTs and mesh loops */
    /* force kernel and its blend: the deconvolved kernel has weight
     * exp(-(k / (force_taper k_N))^8), FD2 the rest; k_N = mesh Nyquist */
    ct_force_kind force;   /* default CT_FORCE_FD2 */
    double force_taper;    /* default 0.55 */
    /* PGD short-range correction at the outputs (Dai, Feng & Seljak 2018):
     * x += alpha(a) i k O(k) delta(k) / k^2 with O = exp(-kl^2/k^2 - (k/ks)^4),
     * kl, ks in units of the particle Nyquist frequency pi np / box;
     * alpha(a) = pgd_alpha (Omega_m/0.3)^pgd_alpha_om_slope
     *            (sigma8/0.8)^pgd_alpha_s8_slope
     *            max(0, 1 + pgd_alpha_s8_linear (sigma8 - 0.8)) (D1(a)/D1(1))^2
     * (ct_sim_pgd_alpha; Omega_m total matter, sigma8 of the cosmology's
     * parameters, or computed from A_s when those give none). pgd_alpha = 0:
     * off (default); the slopes and the linear coefficient default to 0 (one
     * alpha for every cosmology). The linear factor reaches 0 (no PGD) at
     * sigma8 = 0.8 - 1/pgd_alpha_s8_linear, which a power law cannot. */
    double pgd_alpha, pgd_kl, pgd_ks;
    double pgd_alpha_om_slope, pgd_alpha_s8_slope, pgd_alpha_s8_linear;
    int nu_particles;      /* massive nu: write PartType2 neutrino particles; default 1 */
    /* f(R): Winther-Ferreira thin-shell screening of the fifth force, delta_eff =
     * delta min(1, scale Phi_crit / |Phi_N|) in wells (Phi_N < 0), Phi_crit/c^2 =
     * 1.5 |f_R(a)|, Phi_N the potential filtered at the Compton length (Green's
     * function 1/(k^2 + a^2 m^2)); default on, scale 1 (0 < scale <= 100) */
    int fr_screening;
    double fr_screening_scale;
    /* bytes per rank a simulation may use; 0 (default): the node's available
     * memory shared by its ranks. ct_sim_run refuses a simulation whose
     * estimated peak (ct_sim_memory_need) is larger, stating the need. */
    double mem_budget;
} ct_sim_settings;

void ct_sim_settings_defaults(ct_sim_settings *s);
/* Estimated peak bytes per rank of ct_sim_run with these settings on nranks
 * ranks (screening: f(R) with screening on; neutrinos: neutrino particles). */
double ct_sim_memory_need(const ct_sim_settings *s, int screening, int neutrinos, int nranks);
/* The PGD amplitude alpha(a) the simulation of cosmology c applies at scale
 * factor a (formula at ct_sim_settings.pgd_alpha); 0 when PGD is off. */
double ct_sim_pgd_alpha(const ct_sim_settings *s, const ct_cosmo *c, double a);
/* Quijote's snapshot number for z in {3, 2, 1, 0.5, 0}, else -1. */
int ct_sim_quijote_snapnum(double z);

/* This rank's particles. pos and mom are n x 3; id from 1 (lattice order). */
typedef struct {
    int64_t n;
    int64_t n_total;
    float *pos;        /* Mpc/h in [0, box) */
    float *mom;        /* FastPM momentum p = a^3 E dx/da */
    uint64_t *id;
    double a;          /* scale factor of positions and momenta */
    double mass;       /* 1e10 Msun/h, every particle */
} ct_sim_particles;

void ct_sim_particles_free(ct_sim_particles *p);

/* The linear density field of the initial conditions at scale factor a, in
 * Fourier space on m (N = the mesh size, any N): delta(k) for CDM+baryons,
 * including PNG if requested. Mode (n) draws its amplitude and phase from the
 * Philox generator keyed by (seed, n) only (or, with noise = NGENIC, from
 * N-GenIC's generator, a function of (seed, ngenic_nmesh, n) only), so the field
 * does not depend on the number of ranks; modes on the Nyquist planes and k = 0
 * are zero. Collective. */
ct_status ct_ic_linear_field(const ct_cosmo *c, const ct_sim_settings *s, double a, ct_mesh *m);

/* Initial conditions on the np^3 lattice at scale factor a (Zel'dovich or 2LPT;
 * scale-dependent growth and velocities for massive nu and f(R)). Particles are
 * created on the ranks owning their lattice plane. Collective over comm. */
ct_status ct_ic_particles(const ct_cosmo *c, const ct_sim_settings *s, double a,
                          ct_sim_particles *out, MPI_Comm comm);

/* Neutrino particles at the output time of the cb particles `cb` (rank-local
 * as the PM run leaves them): np^3 lattice sites (IDs np^3 + 1 ... 2 np^3, on
 * the ranks owning their lattice plane) displaced by the Zel'dovich
 * displacement of delta_nu(k) = R(k, a) delta_cb(k), delta_cb painted (CIC,
 * window divided out) on the np^3 mesh; momenta are the bulk linear flow
 * f1 a^2 E psi (no thermal velocities); mass ct_sim_nu_particle_mass. Without
 * massive neutrinos nu->n = 0. Collective. */
ct_status ct_sim_nu_particles(const ct_cosmo *c, const ct_sim_settings *s,
                              const ct_sim_particles *cb, ct_sim_particles *nu, MPI_Comm comm);
/* Omega_nu rho_crit L^3 / np^3 in 1e10 Msun/h (cb particles: the rest of Omega_m). */
double ct_sim_nu_particle_mass(const ct_cosmo *c, const ct_sim_settings *s);

/* Callback at each output time (particles synchronised at scale factor a). */
typedef ct_status (*ct_sim_output_fn)(const ct_sim_particles *p, int iout, void *user);

/* The whole simulation: ICs at z_init, `steps` FastPM kick-drift-kick steps
 * (linear in a; output times become step boundaries), out() at every output.
 * With steps = 0 the particles at each output come from LPT at that time.
 * timers (optional) accumulates "ic", "paint", "fft", "readout", "exchange",
 * "kick-drift". Collective. */
ct_status ct_sim_run(const ct_cosmo *c, const ct_sim_settings *s, ct_sim_output_fn out,
                     void *user, ct_timers *timers, MPI_Comm comm);

/* Run a simulation and write dir/snapdir_XXX/snap_XXX.<f>.hdf5 for every
 * output (Gadget HDF5, particles ordered by ID whatever the rank count; with
 * format = Gadget binary format I or II the files are snap_XXX.<f>).
 * Each snapshot is atomic. */
ct_status ct_sim_write(const ct_cosmo *c, const ct_sim_settings *s, const char *dir,
                       ct_timers *timers, MPI_Comm comm);
/* 1 if every snapshot of the simulation in dir exists (local check). */
int ct_sim_complete(const ct_sim_settings *s, const char *dir);

/* ------------------------------------------------------------ sampling */

/* n points of the d-dimensional Sobol sequence (gsl_qrng_sobol, d <= 40), after
 * skipping `skip` points; out is n x d in [0, 1). */
ct_status ct_sample_sobol(int d, int64_t n, int64_t skip, double *out);
/* Latin hypercube: each dimension's n strata used once, permutations and
 * jitter from Philox keyed by seed (rank-independent). out is n x d. */
ct_status ct_sample_lhs(int d, int64_t n, uint64_t seed, double *out);

/* Parameter tables: ct_param_table_read (cosmotl/core.h). The simulator needs
 * named columns (a '# name ...' header line). */
/* Canonical name of a Quijote column ("Omega_M" -> "Omega_m", "s8(LCDM)" ->
 * "sigma_8", "f_NL_local" -> "f_NL", ...); NULL for columns that carry no
 * input (index, s8(MG), A_s). */
const char *ct_param_canonical(const char *name);

/* ------------------------------------------------------------ suites */

/* The physical parameters a suite can vary, in params.txt order. */
typedef enum {
    CT_P_OMEGA_M = 0, CT_P_OMEGA_B, CT_P_H, CT_P_N_S, CT_P_SIGMA_8, CT_P_M_NU, CT_P_W,
    CT_P_F_R0, CT_P_F_NL, CT_P_COUNT
} ct_param_id;
const char *ct_param_name(ct_param_id id); /* "Omega_m", ..., "f_NL" */

typedef enum { CT_SAMPLING_SOBOL = 0, CT_SAMPLING_LHS, CT_SAMPLING_TABLE, CT_SAMPLING_FIXED } ct_sampling;

typedef struct {
    int64_t nsims;
    ct_sampling sampling;
    double lo[CT_P_COUNT], hi[CT_P_COUNT]; /* lo == hi: fixed */
    int write[CT_P_COUNT];    /* columns of params.txt (varied ones always) */
    const char *table;        /* CT_SAMPLING_TABLE: path (read on each rank) */
    uint64_t sample_seed;     /* LHS */
    int64_t sobol_skip;
    uint64_t seed;            /* simulation i uses seed + i */
    ct_cosmo_params cosmo;    /* everything not sampled (transfer, n_nu, ...) */
    ct_sim_settings sim;
    /* transfer = table: the table's path (for messages), or, when it holds
     * "{i}", one table per simulation read when simulation i starts (i in
     * decimal); either must cover k = 2 pi / box ... pi np / box */
    const char *pk_table;
} ct_suite_settings;

void ct_suite_settings_defaults(ct_suite_settings *s);

/* The nsims x CT_P_COUNT parameter values of the suite (deterministic; the
 * same on every rank). Tables fill their columns and keep the fixed values
 * (lo) for the rest; rows beyond the table are an error. */
ct_status ct_suite_params(const ct_suite_settings *s, double **values);

/* Simulation i of the suite, `row` its CT_P_COUNT values from ct_suite_params: its
 * cosmology (s->cosmo with the row's parameters) and its settings (s->sim with the
 * row's f_NL and the seed s->seed + i). cp or ss may be NULL. */
void ct_suite_sim(const ct_suite_settings *s, const double *row, int64_t i, ct_cosmo_params *cp,
                  ct_sim_settings *ss);

/* What a suite run did (summed over groups; the fields of ct_manifest_counts). */
typedef struct {
    long items, complete, done, failed, interrupted;
} ct_suite_counts;

/* Simulate [first, last) of the suite into dir (dir/params.txt,
 * dir/<i>/snapdir_XXX/... and the manifest dir/manifest.tsv): the ranks of comm
 * split into groups of group_size, group g takes simulations first + g,
 * first + g + ngroups, ...; complete simulations are skipped; a simulation that
 * fails is recorded in the manifest and the others go on (counts->failed).
 * Returns an error only when the suite cannot run at all. Collective. */
ct_status ct_suite_run(const ct_suite_settings *s, const char *dir, int64_t first, int64_t last,
                       int group_size, ct_suite_counts *counts, MPI_Comm comm);

#ifdef __cplusplus
}
#endif
#endif
