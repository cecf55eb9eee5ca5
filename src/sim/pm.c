/* FastPM kick-drift-kick particle-mesh evolution (Feng et al. 2016): the
 * modified kick and drift factors make the linear growth exact on large scales
 * for any step size. Massive neutrinos enter the Poisson source through linear
 * response, f(R) through mu(k, a). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

typedef struct {
    const ct_cosmo *c;
    ct_mesh *pm;      /* B np per side */
    ct_mesh *work, *work2; /* the force components (with pm) */
    double *acc;      /* n x 3 */
    int64_t cap;
    double *src;      /* per |n|^2: 1.5 Om S(k, a) / k^2 */
    /* f(R) screening: fifth-force table 1.5 Om S (mu - 1) / k^2, a table of
     * ones for the combined source, and a third mesh */
    int screen;
    double screen_scale;
    double *src5, *ones;
    ct_mesh *scr;
    ct_force_kernel fk; /* gradient and window treatment (force.c) */
    int64_t n2max;
    ct_timers *t;
    double mass;
    /* massive neutrinos: the step boundaries, for the source that makes linear
     * growth exact (nu_exact_source) */
    int nu_exact;
    const double *steps;
    int nsteps;
} pm_state;

static void tstart(ct_timers *t, const char *n)
{
    if (t)
        ct_timer_start(t, n);
}
static void tstop(ct_timers *t, const char *n)
{
    if (t)
        ct_timer_stop(t, n);
}

static ct_status grow(pm_state *st, int64_t n)
{
    if (n <= st->cap)
        return CT_OK;
    int64_t cap = n + n / 4 + 16;
    double *a = realloc(st->acc, (size_t)cap * 3 * sizeof(double));
    if (!a)
        CT_FAIL(CT_ERR_MEMORY, "PM: cannot allocate accelerations for %lld particles",
                (long long)n);
    st->acc = a;
    st->cap = cap;
    return CT_OK;
}

/* Move the particles to the owners of their PM-mesh planes. */
static ct_status exchange(pm_state *st, ct_sim_particles *p)
{
    ct_payload pl[2] = {{(void **)&p->mom, 3 * sizeof(float)}, {(void **)&p->id, sizeof(uint64_t)}};
    tstart(st->t, "exchange");
    ct_status rc = ct_mesh_exchange(st->pm, &p->n, &p->pos, 2, pl);
    tstop(st->t, "exchange");
    CT_CHECK(rc);
    CT_CHECK(grow(st, p->n));
    return CT_OK;
}

/* acc = -1.5 Om grad phi, phi_k = -delta_k S(k, a) / k^2, S = (f_cb + f_nu R) mu.
 * The gradient kernel (FD2, or the window-deconvolved kernel blended into FD2
 * near the mesh Nyquist frequency) is in force.c; both keep the images of the
 * particle lattice near the Nyquist frequency, which with B >= 2 otherwise alias
 * into the large-scale forces at the lattice sites, out (docs/decisions.md). */
/* Massive neutrinos: the source that keeps every linear mode on D_cb(k, a).
 *
 * The kick and drift factors (FastPM) are exact for a mode that grows as D1, the
 * growth of a universe in which all matter clusters. A cb mode whose Poisson
 * source is S(k, a) = f_cb + f_nu R < 1 grows as D_cb(k, a) instead (the
 * scale-dependent growth table), and the same factors let it grow too fast:
 * with 10 steps linear in a from z = 127 (the first from a = 0.0078 to 0.107)
 * P_cb(k >~ 0.05, z = 0) came out 5.5% above linear theory at f_nu = 0.04,
 * and the bias grows with f_nu (docs/validation.md, nwLH).
 *
 * For a linear mode x(a) = D_k(a) (cb displacement in units of its initial
 * one; p = a^2 E dx/dlna = G_k = a^2 E f_k D_k), a drift a_i -> a_f moves it by
 * p(a_h) (D1(a_f) - D1(a_i)) / G1(a_h), so it is exact when the half-step
 * momentum is
 *     pt(a_i, a_f) = (D_k(a_f) - D_k(a_i)) G1(a_h) / (D1(a_f) - D1(a_i)).
 * The force at step boundary a_j serves the half kick before a_j and the one
 * after it, together G1(a_h+) - G1(a_h-) times 1.5 Om S x / (1.5 Om D1(a_j)).
 * Taking x = D_k(a_j), the source that moves p from pt of the previous step to
 * pt of the next is
 *     S_eff = (pt_next - pt_prev) D1(a_j) / ((G1(a_h+) - G1(a_h-)) D_k(a_j)),
 * with p = G_k (the initial conditions' momentum) before the first step and
 * p = G_k at the last boundary (the output's velocities). S_eff -> S as the
 * steps shrink. Intermediate outputs see the momentum after the first half
 * kick, exact to the order of the scheme. */
static double growth_g(const ct_cosmo *c, double k, double a, double *d)
{
    double f;
    ct_cosmo_growth_k(c, k, a, 0, d, &f);
    return a * a * ct_cosmo_E(c, a) * f * *d;
}

static double half_momentum(const ct_cosmo *c, double k, double ai, double af)
{
    double di, df;
    ct_cosmo_growth_k(c, k, ai, 0, &di, &(double){0});
    ct_cosmo_growth_k(c, k, af, 0, &df, &(double){0});
    return (df - di) * ct_cosmo_fastpm_G(c, 0.5 * (ai + af)) /
           (ct_cosmo_d1(c, af) - ct_cosmo_d1(c, ai));
}

static double nu_exact_source(const ct_cosmo *c, double k, const double *steps, int nsteps, int j)
{
    const double a = steps[j];
    double dk;
    double pl, pr, gl, gr;
    double gk = growth_g(c, k, a, &dk);
    if (j == 0) {
        pl = gk;
        gl = ct_cosmo_fastpm_G(c, a);
    } else {
        pl = half_momentum(c, k, steps[j - 1], a);
        gl = ct_cosmo_fastpm_G(c, 0.5 * (steps[j - 1] + a));
    }
    if (j == nsteps - 1) {
        pr = gk;
        gr = ct_cosmo_fastpm_G(c, a);
    } else {
        pr = half_momentum(c, k, a, steps[j + 1]);
        gr = ct_cosmo_fastpm_G(c, 0.5 * (a + steps[j + 1]));
    }
    return (pr - pl) * ct_cosmo_d1(c, a) / ((gr - gl) * dk);
}

static ct_status forces(pm_state *st, ct_sim_particles *p, int j)
{
    const double a = st->steps[j];
    const ct_cosmo *c = st->c;
    ct_mesh *m = st->pm;
    const double kf = ct_mesh_kf(m);
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    ps.mas = CT_MAS_CIC;
    tstart(st->t, "paint");
    /* painting zeroes the mesh and puts it back into real space itself */
    ct_status rc = ct_mesh_paint(m, &ps, p->n, p->pos, NULL, 1.0);
    if (rc == CT_OK)
        rc = ct_mesh_to_overdensity(m, NULL);
    tstop(st->t, "paint");
    CT_CHECK(rc);
    tstart(st->t, "fft");
    rc = ct_mesh_r2c(m);
    tstop(st->t, "fft");
    CT_CHECK(rc);
    /* radial source table: 1.5 Om S(k, a) / k^2 (massive neutrinos without
     * f(R): S_eff of nu_exact_source) */
    const double om = ct_cosmo_get_params(c)->omega_m;
    for (int64_t q = 1; q <= st->n2max; q++) {
        double k = kf * sqrt((double)q);
        if (st->nu_exact)
            st->src[q] = 1.5 * om * nu_exact_source(c, k, st->steps, st->nsteps, j) / (k * k);
        else
            st->src[q] = 1.5 * om * ct_cosmo_nu_source(c, k, a) * ct_cosmo_fr_mu(c, k, a) / (k * k);
    }
    st->src[0] = 0;
    if (st->screen) {
        /* GR part from delta, fifth force from the screened delta_eff */
        for (int64_t q = 1; q <= st->n2max; q++) {
            double k = kf * sqrt((double)q), mu = ct_cosmo_fr_mu(c, k, a);
            st->src5[q] = st->src[q] * (mu - 1) / mu;
            st->src[q] -= st->src5[q];
        }
        st->src5[0] = 0;
        tstart(st->t, "screening");
        rc = ct_sim_fr_screened_source(c, a, st->screen_scale, m, st->scr, st->work, st->src,
                                       st->src5);
        tstop(st->t, "screening");
        CT_CHECK(rc);
        return ct_sim_grad_readout(st->scr, st->work, st->work2, &st->fk, st->ones, p->n, p->pos,
                                   st->acc, st->t);
    }
    return ct_sim_grad_readout(m, st->work, st->work2, &st->fk, st->src, p->n, p->pos, st->acc,
                               st->t);
}

static void kick(pm_state *st, ct_sim_particles *p, double ai, double af, double ac)
{
    const ct_cosmo *c = st->c;
    double fac = (ct_cosmo_fastpm_G(c, af) - ct_cosmo_fastpm_G(c, ai)) /
                 (ac * ac * ct_cosmo_E(c, ac) * ct_cosmo_fastpm_g(c, ac));
    for (int64_t i = 0; i < 3 * p->n; i++)
        p->mom[i] = (float)(p->mom[i] + fac * st->acc[i]);
}

static void drift(pm_state *st, ct_sim_particles *p, double ai, double af, double ac, double box)
{
    const ct_cosmo *c = st->c;
    double fac = (ct_cosmo_d1(c, af) - ct_cosmo_d1(c, ai)) / ct_cosmo_fastpm_G(c, ac);
    for (int64_t i = 0; i < 3 * p->n; i++) {
        double x = p->pos[i] + fac * p->mom[i];
        x -= box * floor(x / box);
        float xf = (float)x;
        p->pos[i] = xf < (float)box && xf >= 0 ? xf : 0.0f;
    }
}

/* alpha (Omega_m/0.3)^p (sigma8/0.8)^q max(0, 1 + L (sigma8 - 0.8)) D1(a)^2
 * (D1(1) = 1). With p = q = L = 0 no factor is applied, so the product is the
 * bits of pgd_alpha d d as before the slopes existed; sigma8 is only computed
 * (from A_s) when q or L != 0 and the parameters give none. */
double ct_sim_pgd_alpha(const ct_sim_settings *s, const ct_cosmo *c, double a)
{
    if (s->pgd_alpha == 0)
        return 0.0;
    const ct_cosmo_params *cp = ct_cosmo_get_params(c);
    double alpha = s->pgd_alpha;
    if (s->pgd_alpha_om_slope != 0)
        alpha *= pow(cp->omega_m / 0.3, s->pgd_alpha_om_slope);
    if (s->pgd_alpha_s8_slope != 0 || s->pgd_alpha_s8_linear != 0) {
        double s8 = cp->sigma8 > 0 ? cp->sigma8 : ct_cosmo_sigma8(c);
        if (s->pgd_alpha_s8_slope != 0)
            alpha *= pow(s8 / 0.8, s->pgd_alpha_s8_slope);
        if (s->pgd_alpha_s8_linear != 0)
            alpha *= fmax(0.0, 1.0 + s->pgd_alpha_s8_linear * (s8 - 0.8));
    }
    const double d = ct_cosmo_d1(c, a);
    return alpha * d * d;
}

/* out() at an output, with the PGD correction applied to a copy of the
 * positions when asked (the evolving particles are not moved). */
static ct_status output(pm_state *st, const ct_sim_settings *s, ct_sim_particles *p, int iout,
                        ct_sim_output_fn out, void *user)
{
    if (s->pgd_alpha == 0)
        return out(p, iout, user);
    ct_status rc = CT_OK;
    float *moved = NULL;
    double *dis = NULL;
    const double kp = M_PI * (double)s->np / s->box;
    const size_t n = (size_t)(p->n > 0 ? p->n : 1);
    CT_CHECK(ct_calloc(&moved, n * 3, sizeof(float), "PGD positions"));
    CT_CHECK_GOTO(rc, ct_calloc(&dis, n * 3, sizeof(double), "PGD displacements"));
    rc = ct_sim_pgd(st->pm, st->work, st->work2, &st->fk, ct_sim_pgd_alpha(s, st->c, p->a),
                    s->pgd_kl * kp, s->pgd_ks * kp, p->n, p->pos, dis, moved, st->t);
    if (rc == CT_OK) {
        float *keep = p->pos;
        p->pos = moved;
        rc = out(p, iout, user);
        p->pos = keep;
    }
fail:
    free(moved);
    free(dis);
    return rc;
}

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Estimated peak memory of one simulation per rank, an upper bound built from
 * its allocations (bytes per local particle; f = 1.25 allows for the particles
 * not being spread evenly over the ranks):
 * - initial conditions (2LPT): six meshes of np^3 points, double displacements
 *   and velocities (48), the particles (32: float position and momentum,
 *   64-bit id);
 * - PM stage, all at once: three meshes of (B np)^3 (density, two work meshes;
 *   four with f(R) screening), the particles (32 f), the accelerations (24 x
 *   1.25 f: their array keeps 25% room), the density mesh's scratch (32 f: the
 *   exchange's received records, or 8 per particle when painting), and the
 *   larger of two passing peaks: an exchange on several ranks (new arrays 32 f,
 *   planes 4 f, send buffer 32 f) or an output (the copy sorted by ID: copy,
 *   send and receive buffers, sorted arrays, 4 x 32 f; PGD's moved positions
 *   and displacements 36 f; neutrinos: their particles and two lattice meshes);
 * plus 0.15 GiB for the program and its libraries. A mesh of n points per side
 * holds ceil(n / P) + 4 planes of n x 2 (n/2 + 1) reals per rank.
 * tools/bench/sim/memory compares it with the measured peak (docs/reliability.md:
 * the PM stage's third mesh, the accelerations, the scratch and the sort's
 * buffers were missing before, and 128^3 particles used 0.85 GiB against an
 * estimate of 0.55). */
double ct_sim_memory_need(const ct_sim_settings *s, int screening, int neutrinos, int nranks)
{
    const double P = nranks > 0 ? nranks : 1, np = (double)s->np;
    const double N = np * (s->mesh_factor > 0 ? s->mesh_factor : 1);
    double mesh_np = (ceil(np / P) + 4) * np * 2 * (floor(np / 2) + 1) * sizeof(ct_real);
    double mesh_pm = (ceil(N / P) + 4) * N * 2 * (floor(N / 2) + 1) * sizeof(ct_real);
    double npl = ceil(np * np * np / P), fn = 1.25 * npl;
    const double part = 32; /* float position and momentum, 64-bit id */
    double ic = (s->lpt_order >= 2 ? 6 : 2) * mesh_np + 48 * npl + part * npl;
    double pm = (screening ? 4 : 3) * mesh_pm + (part + 24 * 1.25 + 32) * fn;
    double exch = P > 1 ? (part + 4 + part) * fn : 0;
    double out = 4 * part * fn;
    if (s->pgd_alpha > 0)
        out += 36 * fn;
    if (neutrinos)
        out += part * fn + 2 * mesh_np;
    pm += exch > out ? exch : out;
    return (ic > pm ? ic : pm) + 0.15 * 1073741824.0;
}

ct_status ct_sim_run(const ct_cosmo *c, const ct_sim_settings *s, ct_sim_output_fn out,
                     void *user, ct_timers *timers, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_sim_particles p = {0};
    pm_state st = {0};
    double *steps = NULL;
    if (s->nout < 1 || s->nout > CT_SIM_MAX_OUT)
        CT_FAIL(CT_ERR_ARG, "number of outputs %d outside 1..%d", s->nout, CT_SIM_MAX_OUT);
    if (!(s->fr_screening_scale > 0 && s->fr_screening_scale <= 100))
        CT_FAIL(CT_ERR_ARG, "f(R) screening scale %g outside (0, 100]", s->fr_screening_scale);
    if (s->steps < 0 || s->mesh_factor < 1 || s->mesh_factor > 8)
        CT_FAIL(CT_ERR_ARG, "steps must be >= 0 and mesh_factor in 1..8");
    double a_init = 1.0 / (1.0 + s->z_init);
    double aout[CT_SIM_MAX_OUT];
    for (int i = 0; i < s->nout; i++) {
        aout[i] = 1.0 / (1.0 + s->z_out[i]);
        if (!(aout[i] > a_init) || (i && !(aout[i] > aout[i - 1])))
            CT_FAIL(CT_ERR_ARG, "output redshifts must decrease and lie below z_init = %g",
                    s->z_init);
    }
    {
        /* refuse, on every rank alike, a simulation that does not fit the budget */
        int nranks;
        MPI_Comm_size(comm, &nranks);
        int scr = ct_cosmo_get_params(c)->f_r0 != 0 && s->fr_screening;
        int nu = s->nu_particles && ct_cosmo_omega_nu(c) > 0;
        double need = ct_sim_memory_need(s, scr, nu, nranks);
        double budget = s->mem_budget > 0 ? s->mem_budget : ct_mem_per_rank(comm);
        if (need > budget)
            CT_FAIL(CT_ERR_RANGE,
                    "simulation of %lld^3 particles with a %lld^3 PM mesh on %d rank(s) needs "
                    "about %.3g GiB per rank, more than the memory budget of %.3g GiB per rank "
                    "(%s); use more ranks or nodes, a smaller mesh_factor, or set [sim] "
                    "memory_gb", (long long)s->np, (long long)(s->np * s->mesh_factor), nranks,
                    need / 1073741824.0, budget / 1073741824.0,
                    s->mem_budget > 0 ? "[sim] memory_gb" : "the node's available memory "
                    "shared by its ranks");
    }
    st.t = timers;
    if (s->steps == 0) {
        /* LPT only: the particles at each output come straight from LPT */
        for (int i = 0; i < s->nout; i++) {
            tstart(timers, "ic");
            rc = ct_ic_particles(c, s, aout[i], &p, comm);
            tstop(timers, "ic");
            CT_CHECK_GOTO(rc, rc);
            CT_CHECK_GOTO(rc, out(&p, i, user));
            ct_sim_particles_free(&p);
        }
        return CT_OK;
    }
    /* step boundaries: linear in a from a_init to the last output, plus the outputs */
    int ns = s->steps + s->nout + 1;
    CT_CHECK_GOTO(rc, ct_calloc(&steps, (size_t)ns, sizeof *steps, "time steps"));
    int m = 0;
    double alast = aout[s->nout - 1];
    for (int i = 0; i <= s->steps; i++)
        steps[m++] = a_init + (alast - a_init) * i / s->steps;
    for (int i = 0; i < s->nout - 1; i++) {
        int dup = 0;
        for (int j = 0; j <= s->steps; j++)
            dup |= fabs(steps[j] - aout[i]) < 1e-10;
        if (!dup)
            steps[m++] = aout[i];
    }
    qsort(steps, (size_t)m, sizeof *steps, cmp_double_desc);
    steps[m - 1] = alast;

    tstart(timers, "ic");
    rc = ct_ic_particles(c, s, a_init, &p, comm);
    tstop(timers, "ic");
    CT_CHECK_GOTO(rc, rc);
    st.c = c;
    st.mass = p.mass;
    {
        ct_mesh_settings ms;
        ct_mesh_settings_defaults(&ms);
        ms.n = s->np * s->mesh_factor;
        ms.box = s->box;
        ms.threads = s->threads;
        CT_CHECK_GOTO(rc, ct_mesh_create(&st.pm, &ms, comm));
        CT_CHECK_GOTO(rc, ct_mesh_create(&st.work, &ms, comm));
        CT_CHECK_GOTO(rc, ct_mesh_create(&st.work2, &ms, comm));
        st.n2max = 3 * (ms.n / 2) * (ms.n / 2);
        CT_CHECK_GOTO(rc, ct_calloc(&st.src, (size_t)st.n2max + 1, sizeof(double), "PM source"));
        st.screen = ct_cosmo_get_params(c)->f_r0 != 0 && s->fr_screening;
        st.screen_scale = s->fr_screening_scale;
        if (st.screen) {
            CT_CHECK_GOTO(rc, ct_mesh_create(&st.scr, &ms, comm));
            CT_CHECK_GOTO(rc, ct_calloc(&st.src5, (size_t)st.n2max + 1, sizeof(double),
                                        "PM source"));
            CT_CHECK_GOTO(rc, ct_calloc(&st.ones, (size_t)st.n2max + 1, sizeof(double),
                                        "PM source"));
            for (int64_t q = 1; q <= st.n2max; q++)
                st.ones[q] = 1.0;
        }
        CT_CHECK_GOTO(rc, ct_force_kernel_init(&st.fk, s->force, s->force_taper, ms.n, s->box));
    }
    st.steps = steps;
    st.nsteps = m;
    st.nu_exact = ct_cosmo_f_nu(c) > 0 && ct_cosmo_get_params(c)->f_r0 == 0;
    CT_CHECK_GOTO(rc, exchange(&st, &p));
    CT_CHECK_GOTO(rc, forces(&st, &p, 0));
    int iout = 0;
    for (int k = 0; k + 1 < m; k++) {
        double ai = steps[k], af = steps[k + 1], ah = 0.5 * (ai + af);
        tstart(timers, "kick-drift");
        kick(&st, &p, ai, ah, ai);
        drift(&st, &p, ai, af, ah, s->box);
        tstop(timers, "kick-drift");
        CT_CHECK_GOTO(rc, exchange(&st, &p));
        CT_CHECK_GOTO(rc, forces(&st, &p, k + 1));
        tstart(timers, "kick-drift");
        kick(&st, &p, ah, af, af);
        tstop(timers, "kick-drift");
        p.a = af;
        if (iout < s->nout && fabs(af - aout[iout]) < 1e-10) {
            CT_CHECK_GOTO(rc, output(&st, s, &p, iout, out, user));
            iout++;
        }
    }
    if (iout != s->nout)
        CT_FAIL_GOTO(rc, CT_ERR_STATE, "internal: %d of %d outputs reached", iout, s->nout);
fail:
    ct_sim_particles_free(&p);
    ct_mesh_destroy(&st.pm);
    ct_mesh_destroy(&st.work);
    ct_mesh_destroy(&st.work2);
    free(st.acc);
    free(st.src);
    free(st.src5);
    free(st.ones);
    ct_mesh_destroy(&st.scr);
    ct_force_kernel_free(&st.fk);
    free(steps);
    return rc;
}
