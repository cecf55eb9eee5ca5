/* Initial conditions: the rank-independent Gaussian (or non-Gaussian) linear
 * field, and Zel'dovich / 2LPT displacements and velocities on the lattice. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "cosmotl/io.h"
#include "sim_internal.h"

void ct_sim_settings_defaults(ct_sim_settings *s)
{
    memset(s, 0, sizeof *s);
    s->np = 32;
    s->box = 256.0;
    s->mesh_factor = 2;
    s->steps = 5;
    s->z_init = 127.0;
    s->lpt_order = 2;
    s->amplitude = CT_AMP_RAYLEIGH;
    s->noise = CT_NOISE_COSMOTL;
    s->ngenic_nmesh = 1024;
    s->png = CT_PNG_NONE;
    s->seed = 1;
    s->nout = 1;
    s->z_out[0] = 0.0;
    s->snapnum[0] = 4;
    s->nfiles = 8;
    s->format = CT_SNAP_HDF5;
    s->threads = 1;
    s->force = CT_FORCE_FD2;
    s->force_taper = 0.55;
    s->pgd_kl = 0.4;
    s->pgd_ks = 1.5;
    s->nu_particles = 1;
    s->fr_screening = 1;
    s->fr_screening_scale = 1.0;
}

int ct_sim_quijote_snapnum(double z)
{
    static const double zs[5] = {3.0, 2.0, 1.0, 0.5, 0.0};
    for (int i = 0; i < 5; i++)
        if (fabs(z - zs[i]) < 1e-9)
            return i;
    return -1;
}

void ct_sim_particles_free(ct_sim_particles *p)
{
    if (!p)
        return;
    free(p->pos);
    free(p->mom);
    free(p->id);
    memset(p, 0, sizeof *p);
}

double ct_sim_particle_mass(const ct_cosmo *c, const ct_sim_settings *s)
{
    double ocb = ct_cosmo_get_params(c)->omega_m - ct_cosmo_omega_nu(c);
    double n = (double)s->np;
    return CT_RHO_CRIT * ocb * s->box * s->box * s->box / (n * n * n);
}

ct_status ct_sim_mesh_like(ct_mesh **out, const ct_mesh *m)
{
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = ct_mesh_n(m);
    ms.box = ct_mesh_box(m);
    ms.threads = ct_mesh_threads(m);
    return ct_mesh_create(out, &ms, ct_mesh_comm(m));
}

ct_status ct_sim_kfilter(ct_mesh *dst, const ct_mesh *src, ct_kfilter_fn fn, void *user)
{
    if (!ct_mesh_is_fourier(src))
        CT_FAIL(CT_ERR_STATE, "k-space filter of a real-space mesh");
    if (dst != src)
        CT_CHECK(ct_mesh_copy(dst, src));
    ptrdiff_t y0, ny;
    ct_mesh_klocal(dst, &y0, &ny);
    ct_complex *d = ct_mesh_complex(dst);
    const double kf = ct_mesh_kf(dst);
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, dst, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *mo = &it.mode;
            double kv[3] = {kf * mo->n[0], kf * mo->n[1], kf * mo->n[2]};
            double k = kf * sqrt((double)mo->n2), g[2];
            fn(kv, k, mo->n2, user, g);
            double re = d[mo->idx][0], im = d[mo->idx][1];
            d[mo->idx][0] = (ct_real)(re * g[0] - im * g[1]);
            d[mo->idx][1] = (ct_real)(re * g[1] + im * g[0]);
        }
    }
    return CT_OK;
}

/* ------------------------------------------------------------ white noise */

#define KEY_OFFSET (1LL << 20)

/* Modes with n2 = 0 and (n0 < 0, or n0 = 0 and n1 < 0): the conjugates of
 * their partners (-n0, -n1, 0). */
static int kz0_partner(int64_t n0, int64_t n1, int64_t n2)
{
    return n2 == 0 && (n0 < 0 || (n0 == 0 && n1 < 0));
}

/* The unit-variance mode of phase th (radians) and amplitude uniform u_amp in
 * (0, 1]: sqrt(-ln u_amp) e^(i th) (Rayleigh) or e^(i th) (fixed), pi added
 * for a phase flip, conjugated if conj. */
static void noise_value(const ct_sim_settings *s, double th, double u_amp, int conj, double w[2])
{
    double amp = s->amplitude == CT_AMP_FIXED ? 1.0 : sqrt(-log(u_amp));
    th += s->phase_flip ? M_PI : 0.0;
    w[0] = amp * cos(th);
    w[1] = (conj ? -1.0 : 1.0) * amp * sin(th);
}

/* Unit-variance complex white noise of mode (n0, n1, n2) with n2 >= 0 as a
 * pure function of (seed, n): <|w|^2> = 1. Hermitian partners on n2 = 0 are
 * conjugates by construction. */
static void white_mode(const ct_sim_settings *s, int64_t n0, int64_t n1, int64_t n2, double w[2])
{
    int conj = kz0_partner(n0, n1, n2);
    if (conj) {
        n0 = -n0;
        n1 = -n1;
    }
    uint64_t key = ((uint64_t)(n0 + KEY_OFFSET) << 42) | ((uint64_t)(n1 + KEY_OFFSET) << 21) |
                   (uint64_t)(n2 + KEY_OFFSET);
    uint32_t r[4];
    ct_philox(s->seed, 0x49430000ULL /* "IC" stream */, key, r);
    /* 53-bit uniforms in (0, 1) */
    double u_amp = (((uint64_t)r[0] << 21 ^ (uint64_t)r[1] >> 11) + 0.5) / 9007199254740992.0;
    double u_ph = (((uint64_t)r[2] << 21 ^ (uint64_t)r[3] >> 11) + 0.5) / 9007199254740992.0;
    noise_value(s, 2.0 * M_PI * u_ph, u_amp, conj, w);
}

/* ------------------------------------------------- N-GenIC's white noise */

/* The generator of N-GenIC and 2LPTic, which made Quijote's initial conditions:
 * GSL's ranlxd1 seeded with the seed fills an nm x nm table of column seeds,
 * (unsigned) (0x7fffffff u), in rings of growing i = 0 .. nm/2 - 1 from the four
 * corners of the table; column (i, j) (x index i, y index j, 0 .. nm - 1, index
 * i for wavenumber i >= 0 and nm + i below) then reseeds the generator with its
 * table entry and draws, for z index k = 0, 1, ..., a phase 2 pi u and an
 * amplitude u (redrawn while u <= 0); the mode is sqrt(-ln u_amp) e^(i phase)
 * with Rayleigh sampling, e^(i phase) with fixed amplitudes. On the k = 0 plane
 * the draws of the half with i > 0, or i = 0 and j > 0, are used and the other
 * half is their conjugate (the partner of (i, j) is (nm - i, nm - j)). The same
 * e^(+i k x) convention as this code's inverse transforms: delta(x) of a mode is
 * the same field in both. */
typedef struct {
    int64_t nm;
    unsigned int *seeds; /* nm x nm, seeds[i * nm + j] */
    gsl_rng *rng;
    double *phase, *ampl; /* one column's draws, k = 0 .. kmax - 1 */
} ngenic_noise;

static void ngenic_free(ngenic_noise *g)
{
    if (g->rng)
        gsl_rng_free(g->rng);
    ct_free(&g->seeds);
    ct_free(&g->phase);
    ct_free(&g->ampl);
    memset(g, 0, sizeof *g);
}

static ct_status ngenic_init(ngenic_noise *g, uint64_t seed, int64_t nm, int64_t kmax)
{
    memset(g, 0, sizeof *g);
    g->nm = nm;
    g->rng = gsl_rng_alloc(gsl_rng_ranlxd1);
    if (!g->rng)
        CT_FAIL(CT_ERR_MEMORY, "N-GenIC noise: no memory for the random generator");
    ct_status rc = CT_OK;
    CT_CHECK_GOTO(rc, ct_calloc(&g->seeds, (size_t)(nm * nm), sizeof *g->seeds, "N-GenIC seed table"));
    CT_CHECK_GOTO(rc, ct_calloc(&g->phase, (size_t)kmax, sizeof *g->phase, "N-GenIC column"));
    CT_CHECK_GOTO(rc, ct_calloc(&g->ampl, (size_t)kmax, sizeof *g->ampl, "N-GenIC column"));
    gsl_rng_set(g->rng, (unsigned long)seed);
    unsigned int *t = g->seeds;
#define NEXT_SEED ((unsigned int)(0x7fffffff * gsl_rng_uniform(g->rng)))
    for (int64_t i = 0; i < nm / 2; i++) {
        for (int64_t j = 0; j < i; j++)
            t[i * nm + j] = NEXT_SEED;
        for (int64_t j = 0; j < i + 1; j++)
            t[j * nm + i] = NEXT_SEED;
        for (int64_t j = 0; j < i; j++)
            t[(nm - 1 - i) * nm + j] = NEXT_SEED;
        for (int64_t j = 0; j < i + 1; j++)
            t[(nm - 1 - j) * nm + i] = NEXT_SEED;
        for (int64_t j = 0; j < i; j++)
            t[i * nm + (nm - 1 - j)] = NEXT_SEED;
        for (int64_t j = 0; j < i + 1; j++)
            t[j * nm + (nm - 1 - i)] = NEXT_SEED;
        for (int64_t j = 0; j < i; j++)
            t[(nm - 1 - i) * nm + (nm - 1 - j)] = NEXT_SEED;
        for (int64_t j = 0; j < i + 1; j++)
            t[(nm - 1 - j) * nm + (nm - 1 - i)] = NEXT_SEED;
    }
#undef NEXT_SEED
    return CT_OK;
fail:
    ngenic_free(g);
    return rc;
}

/* The draws of column (n0, n1) (signed wavenumbers) for k = 0 .. kmax - 1. */
static void ngenic_draws(ngenic_noise *g, int64_t n0, int64_t n1, int64_t kmax, double *phase,
                         double *ampl)
{
    int64_t i = n0 >= 0 ? n0 : g->nm + n0, j = n1 >= 0 ? n1 : g->nm + n1;
    gsl_rng_set(g->rng, g->seeds[i * g->nm + j]);
    for (int64_t k = 0; k < kmax; k++) {
        phase[k] = gsl_rng_uniform(g->rng) * 2 * M_PI;
        do
            ampl[k] = gsl_rng_uniform(g->rng);
        while (ampl[k] <= 0.0);
    }
}

/* Fill m (Fourier space) with sqrt(P(k) N^6 / L^3) * white noise, where P is the
 * callback; Nyquist planes and k = 0 are zero. */
typedef double (*pk_fn)(double k, void *user);

static ct_status fill_gaussian(ct_mesh *m, const ct_sim_settings *s, pk_fn pk, void *user)
{
    ct_mesh_zero(m);
    CT_CHECK(ct_mesh_r2c(m)); /* only to enter Fourier space; every mode is set below */
    const int64_t N = ct_mesh_n(m);
    const double L = ct_mesh_box(m), kf = ct_mesh_kf(m);
    const double norm = (double)N * N * N / sqrt(L * L * L);
    ngenic_noise g = {0};
    if (s->noise == CT_NOISE_NGENIC) {
        if (s->ngenic_nmesh < N || s->ngenic_nmesh % 2 || s->ngenic_nmesh > (1 << 16))
            CT_FAIL(CT_ERR_ARG, "ngenic_nmesh = %lld: must be even, >= the mesh (%lld) and <= 65536",
                    (long long)s->ngenic_nmesh, (long long)N);
        if (s->seed > 0xffffffffULL)
            CT_FAIL(CT_ERR_ARG, "N-GenIC noise: seed %llu does not fit N-GenIC's 32-bit seed",
                    (unsigned long long)s->seed);
        CT_CHECK(ngenic_init(&g, s->seed, s->ngenic_nmesh, N / 2));
    }
    ptrdiff_t y0, ny;
    ct_mesh_klocal(m, &y0, &ny);
    ct_complex *d = ct_mesh_complex(m);
    /* the spectrum depends on |n|^2 only: tabulate it once */
    int64_t n2max = 3 * (N / 2) * (N / 2);
    double *amp = NULL;
    ct_status rc = CT_OK;
    CT_CHECK_GOTO(rc, ct_calloc(&amp, (size_t)n2max + 1, sizeof *amp, "spectrum table"));
    for (int64_t q = 1; q <= n2max; q++)
        amp[q] = norm * sqrt(pk(kf * sqrt((double)q), user));
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *mo = &it.mode;
            d[mo->idx][0] = d[mo->idx][1] = 0;
            /* N-GenIC: a column's draws once, at its first mode (k = 0 comes first) */
            if (g.rng && mo->i[2] == 0 && mo->n[0] != N / 2 && mo->n[1] != N / 2)
                ngenic_draws(&g, mo->n[0], mo->n[1], N / 2, g.phase, g.ampl);
            if (mo->n2 == 0 || mo->n[0] == N / 2 || mo->n[1] == N / 2 || mo->n[2] == N / 2)
                continue;
            double w[2];
            if (!g.rng) {
                white_mode(s, mo->n[0], mo->n[1], mo->n[2], w);
            } else if (kz0_partner(mo->n[0], mo->n[1], mo->n[2])) {
                /* the conjugate of the partner's draw */
                double ph, am;
                ngenic_draws(&g, -mo->n[0], -mo->n[1], 1, &ph, &am);
                noise_value(s, ph, am, 1, w);
            } else {
                noise_value(s, g.phase[mo->n[2]], g.ampl[mo->n[2]], 0, w);
            }
            double a = amp[mo->n2];
            d[mo->idx][0] = (ct_real)(a * w[0]);
            d[mo->idx][1] = (ct_real)(a * w[1]);
        }
    }
fail:
    ct_free(&amp);
    ngenic_free(&g);
    return rc;
}

typedef struct {
    const ct_cosmo *c;
    double a;
    double *tab; /* a radial table on |n|^2, when one is used */
} lin_par;

static double pk_cb(double k, void *u)
{
    const lin_par *p = u;
    return ct_cosmo_pk(p->c, k, p->a, CT_SPECIES_CB);
}

static double pk_phi(double k, void *u)
{
    const lin_par *p = u;
    return ct_cosmo_pk_phi(p->c, k);
}

/* delta_cb(k, a) = Phi(k) sqrt(P_cb(k, a) / P_Phi(k)), tabulated on |n|^2 */
static void phi_to_delta(const double kv[3], double k, int64_t n2, void *u, double g[2])
{
    (void)kv;
    (void)k;
    const lin_par *p = u;
    g[0] = p->tab[n2];
    g[1] = 0;
}

static ct_status radial_table(const ct_mesh *m, double (*fn)(double k, void *u), void *u,
                              double **out)
{
    const int64_t N = ct_mesh_n(m);
    const double kf = ct_mesh_kf(m);
    int64_t n2max = 3 * (N / 2) * (N / 2);
    double *t = NULL;
    CT_CHECK(ct_calloc(&t, (size_t)n2max + 1, sizeof *t, "radial table"));
    for (int64_t q = 1; q <= n2max; q++)
        t[q] = fn(kf * sqrt((double)q), u);
    *out = t;
    return CT_OK;
}

static double phi_transfer(double k, void *u)
{
    const lin_par *p = u;
    double pp = ct_cosmo_pk_phi(p->c, k);
    return pp > 0 ? sqrt(ct_cosmo_pk(p->c, k, p->a, CT_SPECIES_CB) / pp) : 0.0;
}

static double growth_rate(double k, void *u)
{
    const lin_par *p = u;
    double d, f;
    ct_cosmo_growth_k(p->c, k, p->a, 0, &d, &f);
    return f;
}

static void kpow_filter(const double kv[3], double k, int64_t n2, void *u, double g[2])
{
    (void)kv;
    (void)n2;
    double e = *(const double *)u;
    g[0] = k > 0 ? pow(k, e) : 0.0;
    g[1] = 0;
}

/* Real-space product dst = a * b (c may alias a or b). */
static void mesh_mul(ct_mesh *dst, ct_mesh *a, ct_mesh *b)
{
    ptrdiff_t x0, nx;
    ct_mesh_local(dst, &x0, &nx);
    const int64_t N = ct_mesh_n(dst);
    const ptrdiff_t row = ct_mesh_row(dst);
    ct_real *d = ct_mesh_real(dst), *pa = ct_mesh_real(a), *pb = ct_mesh_real(b);
    for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
        for (int64_t l = 0; l < N; l++)
            d[r * row + l] = pa[r * row + l] * pb[r * row + l];
}

/* Primordial non-Gaussianity: Phi = phi + f_NL * (template), on m in Fourier space. */
static ct_status png_field(const ct_cosmo *c, const ct_sim_settings *s, lin_par *lp, ct_mesh *m)
{
    ct_status rc = CT_OK;
    ct_mesh *phi = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL;
    CT_CHECK_GOTO(rc, fill_gaussian(m, s, pk_phi, lp)); /* phi(k) */
    CT_CHECK_GOTO(rc, ct_sim_mesh_like(&phi, m));
    CT_CHECK_GOTO(rc, ct_mesh_copy(phi, m));
    CT_CHECK_GOTO(rc, ct_mesh_c2r(phi)); /* phi(x) */
    ptrdiff_t x0, nx;
    ct_mesh_local(m, &x0, &nx);
    const int64_t N = ct_mesh_n(m);
    const ptrdiff_t row = ct_mesh_row(m);
    const double fnl = s->f_nl;
    double ns = ct_cosmo_get_params(c)->n_s;
    /* phi^2 - <phi^2> in the template: the mean only shifts k = 0, zeroed below */
    if (s->png == CT_PNG_LOCAL) {
        ct_real *p = ct_mesh_real(phi);
        for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
            for (int64_t l = 0; l < N; l++) {
                double v = p[r * row + l];
                p[r * row + l] = (ct_real)(v + fnl * v * v);
            }
        CT_CHECK_GOTO(rc, ct_mesh_r2c(phi));
    } else {
        /* equilateral: -3 phi^2 + 4 d^-1(phi d phi) + 2 d^-2(phi d^2 phi) - 2 d^-2((d phi)^2)
         * orthogonal:  -9 phi^2 + 10 d^-1(...)      + 8 d^-2(...)          - 8 d^-2(...)
         * with d = |k|^((4 - ns)/3) (Scoccimarro et al. 2012). */
        double c0 = s->png == CT_PNG_EQUILATERAL ? -3 : -9;
        double c1 = s->png == CT_PNG_EQUILATERAL ? 4 : 10;
        double c2 = s->png == CT_PNG_EQUILATERAL ? 2 : 8;
        double e1 = (4.0 - ns) / 3.0, e2 = 2.0 * e1, em1 = -e1, em2 = -e2;
        CT_CHECK_GOTO(rc, ct_sim_mesh_like(&t1, m));
        CT_CHECK_GOTO(rc, ct_sim_mesh_like(&t2, m));
        CT_CHECK_GOTO(rc, ct_sim_mesh_like(&t3, m));
        /* t1 = d phi, t2 = d^2 phi (real space) */
        CT_CHECK_GOTO(rc, ct_sim_kfilter(t1, m, kpow_filter, &e1));
        CT_CHECK_GOTO(rc, ct_mesh_c2r(t1));
        CT_CHECK_GOTO(rc, ct_sim_kfilter(t2, m, kpow_filter, &e2));
        CT_CHECK_GOTO(rc, ct_mesh_c2r(t2));
        /* result accumulates in m (Fourier): start with phi(k) + c0 fnl FT(phi^2) */
        mesh_mul(t3, phi, phi);
        CT_CHECK_GOTO(rc, ct_mesh_r2c(t3));
        ct_complex *dm = ct_mesh_complex(m), *d3 = ct_mesh_complex(t3);
        ptrdiff_t y0, ny;
        ct_mesh_klocal(m, &y0, &ny);
        size_t nmodes = (size_t)ny * (size_t)N * (size_t)(N / 2 + 1);
        for (size_t i = 0; i < nmodes; i++) {
            dm[i][0] += (ct_real)(fnl * c0 * d3[i][0]);
            dm[i][1] += (ct_real)(fnl * c0 * d3[i][1]);
        }
        /* + c1 d^-1(phi d phi) */
        ct_mesh_zero(t3); /* back to real space */
        mesh_mul(t3, phi, t1);
        CT_CHECK_GOTO(rc, ct_mesh_r2c(t3));
        CT_CHECK_GOTO(rc, ct_sim_kfilter(t3, t3, kpow_filter, &em1));
        for (size_t i = 0; i < nmodes; i++) {
            dm[i][0] += (ct_real)(fnl * c1 * d3[i][0]);
            dm[i][1] += (ct_real)(fnl * c1 * d3[i][1]);
        }
        /* + c2 d^-2(phi d^2 phi - (d phi)^2) */
        mesh_mul(t2, phi, t2);
        ct_mesh_zero(t3);
        mesh_mul(t3, t1, t1);
        {
            ct_real *p2 = ct_mesh_real(t2), *p3 = ct_mesh_real(t3);
            for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
                for (int64_t l = 0; l < N; l++)
                    p2[r * row + l] -= p3[r * row + l];
        }
        CT_CHECK_GOTO(rc, ct_mesh_r2c(t2));
        CT_CHECK_GOTO(rc, ct_sim_kfilter(t2, t2, kpow_filter, &em2));
        ct_complex *d2 = ct_mesh_complex(t2);
        for (size_t i = 0; i < nmodes; i++) {
            dm[i][0] += (ct_real)(fnl * c2 * d2[i][0]);
            dm[i][1] += (ct_real)(fnl * c2 * d2[i][1]);
        }
        CT_CHECK_GOTO(rc, ct_mesh_copy(phi, m));
    }
    /* Phi(k) -> delta_cb(k, a); zero k = 0 and the Nyquist planes as for the
     * Gaussian field */
    CT_CHECK_GOTO(rc, radial_table(m, phi_transfer, lp, &lp->tab));
    CT_CHECK_GOTO(rc, ct_sim_kfilter(m, phi, phi_to_delta, lp));
    ct_free(&lp->tab);
    {
        ct_complex *d = ct_mesh_complex(m);
        ptrdiff_t y0, ny;
        ct_mesh_klocal(m, &y0, &ny);
        for (ptrdiff_t pl = 0; pl < ny; pl++) {
            ct_kiter it;
            for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
                const ct_kmode *mo = &it.mode;
                if (mo->n2 == 0 || mo->n[0] == N / 2 || mo->n[1] == N / 2 || mo->n[2] == N / 2)
                    d[mo->idx][0] = d[mo->idx][1] = 0;
            }
        }
    }
fail:
    ct_free(&lp->tab);
    ct_mesh_destroy(&phi);
    ct_mesh_destroy(&t1);
    ct_mesh_destroy(&t2);
    ct_mesh_destroy(&t3);
    return rc;
}

ct_status ct_ic_linear_field(const ct_cosmo *c, const ct_sim_settings *s, double a, ct_mesh *m)
{
    lin_par lp = {c, a, NULL};
    if (s->png == CT_PNG_NONE || s->f_nl == 0.0)
        CT_CHECK(fill_gaussian(m, s, pk_cb, &lp));
    else
        CT_CHECK(png_field(c, s, &lp, m));
    return CT_OK;
}

/* ------------------------------------------------------------ LPT */

typedef struct {
    int a, b;            /* axes: psi_a = i k_a / k^2; psi_ab = -k_a k_b / k^2 */
    const double *ftab;  /* for velocities: f(k, a) on |n|^2, else NULL */
} lpt_par;

static void f_psi(const double kv[3], double k, int64_t n2, void *u, double g[2])
{
    const lpt_par *p = u;
    g[0] = 0;
    g[1] = k > 0 ? kv[p->a] / (k * k) : 0.0;
    if (p->ftab) /* velocity: times f(k, a) */
        g[1] *= p->ftab[n2];
}

static void f_psi2(const double kv[3], double k, int64_t n2, void *u, double g[2])
{
    (void)n2;
    const lpt_par *p = u;
    g[0] = k > 0 ? -kv[p->a] * kv[p->b] / (k * k) : 0.0;
    g[1] = 0;
}

static void f_psi_of_source(const double kv[3], double k, int64_t n2, void *u, double g[2])
{
    (void)n2;
    const lpt_par *p = u;
    g[0] = 0;
    g[1] = k > 0 ? -kv[p->a] / (k * k) : 0.0;
}

/* Copy the lattice values of a real-space mesh (N = np) into out[p * 3 + axis]. */
static void take_lattice(ct_mesh *m, double *out, int axis, double fac, int add)
{
    ptrdiff_t x0, nx;
    ct_mesh_local(m, &x0, &nx);
    const int64_t N = ct_mesh_n(m);
    const ptrdiff_t row = ct_mesh_row(m);
    const ct_real *d = ct_mesh_real(m);
    int64_t p = 0;
    for (ptrdiff_t i = 0; i < nx; i++)
        for (int64_t j = 0; j < N; j++)
            for (int64_t l = 0; l < N; l++, p++) {
                double v = fac * d[(i * N + j) * row + l];
                out[p * 3 + axis] = add ? out[p * 3 + axis] + v : v;
            }
}

ct_status ct_ic_particles(const ct_cosmo *c, const ct_sim_settings *s, double a,
                          ct_sim_particles *out, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_mesh *dk = NULL, *w = NULL, *d0 = NULL, *d1 = NULL, *d2 = NULL, *src = NULL;
    double *disp = NULL, *vel = NULL, *ftab = NULL;
    memset(out, 0, sizeof *out);
    if (s->np < 2 || s->np % 2 || s->np > (1 << 20))
        CT_FAIL(CT_ERR_ARG, "particles per side must be even and in [2, 2^20] (got %lld)",
                (long long)s->np);
    if (s->lpt_order < 1 || s->lpt_order > 2)
        CT_FAIL(CT_ERR_ARG, "lpt_order must be 1 or 2 (got %d)", s->lpt_order);
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = s->np;
    ms.box = s->box;
    ms.threads = s->threads;
    CT_CHECK_GOTO(rc, ct_mesh_create(&dk, &ms, comm));
    CT_CHECK_GOTO(rc, ct_mesh_create(&w, &ms, comm));
    CT_CHECK_GOTO(rc, ct_ic_linear_field(c, s, a, dk));

    ptrdiff_t x0, nx;
    ct_mesh_local(dk, &x0, &nx);
    const int64_t N = s->np;
    const int64_t nloc = (int64_t)nx * N * N;
    CT_CHECK_GOTO(rc, ct_calloc(&disp, (size_t)(nloc > 0 ? nloc : 1) * 3, sizeof *disp, "LPT"));
    CT_CHECK_GOTO(rc, ct_calloc(&vel, (size_t)(nloc > 0 ? nloc : 1) * 3, sizeof *vel, "LPT"));

    const ct_cosmo_params *cp = ct_cosmo_get_params(c);
    int scale_dep = cp->m_nu > 0 || cp->f_r0 != 0;
    ct_growth g = ct_cosmo_growth(c, a);
    if (scale_dep) {
        lin_par lp = {c, a, NULL};
        CT_CHECK_GOTO(rc, radial_table(dk, growth_rate, &lp, &ftab));
    }
    /* first order: displacement and (dx/dlna) velocity */
    for (int ax = 0; ax < 3; ax++) {
        lpt_par p = {ax, 0, NULL};
        CT_CHECK_GOTO(rc, ct_sim_kfilter(w, dk, f_psi, &p));
        CT_CHECK_GOTO(rc, ct_mesh_c2r(w));
        take_lattice(w, disp, ax, 1.0, 0);
        if (scale_dep) {
            p.ftab = ftab;
            CT_CHECK_GOTO(rc, ct_sim_kfilter(w, dk, f_psi, &p));
            CT_CHECK_GOTO(rc, ct_mesh_c2r(w));
            take_lattice(w, vel, ax, 1.0, 0);
        }
    }
    if (!scale_dep)
        for (int64_t i = 0; i < 3 * nloc; i++)
            vel[i] = g.f1 * disp[i];
    if (s->lpt_order == 2) {
        /* S = sum_{a<b} psi_aa psi_bb - psi_ab^2 ; psi2_k = -i k S_k / k^2 */
        CT_CHECK_GOTO(rc, ct_mesh_create(&d0, &ms, comm));
        CT_CHECK_GOTO(rc, ct_mesh_create(&d1, &ms, comm));
        CT_CHECK_GOTO(rc, ct_mesh_create(&d2, &ms, comm));
        CT_CHECK_GOTO(rc, ct_mesh_create(&src, &ms, comm));
        ct_mesh *dd[3] = {d0, d1, d2};
        for (int ax = 0; ax < 3; ax++) {
            lpt_par p = {ax, ax, NULL};
            CT_CHECK_GOTO(rc, ct_sim_kfilter(dd[ax], dk, f_psi2, &p));
            CT_CHECK_GOTO(rc, ct_mesh_c2r(dd[ax]));
        }
        ptrdiff_t row = ct_mesh_row(src);
        ct_real *S = ct_mesh_real(src), *p0 = ct_mesh_real(d0), *p1 = ct_mesh_real(d1),
                *p2 = ct_mesh_real(d2);
        for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
            for (int64_t l = 0; l < N; l++) {
                ptrdiff_t q = r * row + l;
                S[q] = p0[q] * p1[q] + p0[q] * p2[q] + p1[q] * p2[q];
            }
        int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
        for (int k = 0; k < 3; k++) {
            lpt_par p = {pairs[k][0], pairs[k][1], NULL};
            CT_CHECK_GOTO(rc, ct_sim_kfilter(w, dk, f_psi2, &p));
            CT_CHECK_GOTO(rc, ct_mesh_c2r(w));
            ct_real *pw = ct_mesh_real(w);
            for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
                for (int64_t l = 0; l < N; l++) {
                    ptrdiff_t q = r * row + l;
                    S[q] -= pw[q] * pw[q];
                }
        }
        ct_mesh_destroy(&d0);
        ct_mesh_destroy(&d1);
        ct_mesh_destroy(&d2);
        CT_CHECK_GOTO(rc, ct_mesh_r2c(src));
        double r2 = g.d2 / (g.d1 * g.d1); /* ~ -3/7 */
        for (int ax = 0; ax < 3; ax++) {
            lpt_par p = {ax, 0, NULL};
            CT_CHECK_GOTO(rc, ct_sim_kfilter(w, src, f_psi_of_source, &p));
            CT_CHECK_GOTO(rc, ct_mesh_c2r(w));
            take_lattice(w, disp, ax, r2, 1);
            take_lattice(w, vel, ax, r2 * g.f2, 1);
        }
    }

    /* particles */
    out->n = nloc;
    out->n_total = N * N * N;
    out->a = a;
    out->mass = ct_sim_particle_mass(c, s);
    size_t nal = (size_t)(nloc > 0 ? nloc : 1);
    out->pos = malloc(nal * 3 * sizeof(float));
    out->mom = malloc(nal * 3 * sizeof(float));
    out->id = malloc(nal * sizeof(uint64_t));
    if (!out->pos || !out->mom || !out->id)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate %lld particles", (long long)nloc);
    {
        const double H = s->box / (double)N, L = s->box;
        const double pfac = a * a * ct_cosmo_E(c, a); /* p = a^2 E dx/dlna */
        int64_t p = 0;
        for (ptrdiff_t i = 0; i < nx; i++)
            for (int64_t j = 0; j < N; j++)
                for (int64_t l = 0; l < N; l++, p++) {
                    int64_t q[3] = {x0 + i, j, l};
                    for (int ax = 0; ax < 3; ax++) {
                        double x = q[ax] * H + disp[p * 3 + ax];
                        x = fmod(x, L);
                        if (x < 0)
                            x += L;
                        if (x >= L) /* float rounding of L - tiny */
                            x = 0;
                        float xf = (float)x;
                        out->pos[p * 3 + ax] = xf < (float)L ? xf : 0.0f;
                        out->mom[p * 3 + ax] = (float)(pfac * vel[p * 3 + ax]);
                    }
                    out->id[p] = (uint64_t)((q[0] * N + q[1]) * N + q[2]) + 1;
                }
    }
fail:
    ct_mesh_destroy(&dk);
    ct_mesh_destroy(&w);
    ct_mesh_destroy(&d0);
    ct_mesh_destroy(&d1);
    ct_mesh_destroy(&d2);
    ct_mesh_destroy(&src);
    free(disp);
    free(vel);
    free(ftab);
    if (rc != CT_OK)
        ct_sim_particles_free(out);
    return rc;
}
