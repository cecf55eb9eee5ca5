/* Neutrino particles for the snapshots of massive-neutrino simulations.
 *
 * The PM run moves CDM+baryon particles only; neutrinos act through linear
 * response (delta_nu = R(k, a) delta_cb in the Poisson source, see pm.c). At an
 * output the neutrinos are made particles so that a snapshot has Quijote's
 * nwLH layout (PartType1 cb, PartType2 nu, each with its MassTable entry) and
 * the mass-weighted P(k) of both species is total matter, exactly as on a real
 * Quijote snapshot: one neutrino per site of an np^3 lattice, displaced by the
 * Zel'dovich displacement of delta_nu(k) = R(k, a) delta_cb(k), where delta_cb
 * is the simulation's own (nonlinear) cb field painted with CIC on the np^3
 * lattice mesh and its window divided out. Velocities are the bulk linear flow
 * f1 a H psi; no thermal velocities are drawn (docs/decisions.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

double ct_sim_nu_particle_mass(const ct_cosmo *c, const ct_sim_settings *s)
{
    double n = (double)s->np;
    return CT_RHO_CRIT * ct_cosmo_omega_nu(c) * s->box * s->box * s->box / (n * n * n);
}

typedef struct {
    const ct_cosmo *c;
    double a;
    int axis;
} nu_filter;

/* delta_cb(k) -> psi_axis(k) = i k_axis R(k, a) delta_cb(k) / k^2 (the Nyquist
 * planes and k = 0 are zeroed before: their i k has no real-field counterpart). */
static void psi_nu(const double kv[3], double k, int64_t n2, void *u, double g[2])
{
    (void)n2;
    const nu_filter *f = u;
    g[0] = g[1] = 0;
    if (!(k > 0))
        return;
    g[1] = kv[f->axis] * ct_cosmo_nu_response(f->c, k, f->a) / (k * k);
}

static void zero_nyquist(ct_mesh *m)
{
    const int64_t N = ct_mesh_n(m);
    ptrdiff_t y0, ny;
    ct_mesh_klocal(m, &y0, &ny);
    ct_complex *d = ct_mesh_complex(m);
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *mo = &it.mode;
            if (mo->n2 == 0 || mo->n[0] == N / 2 || mo->n[1] == N / 2 || mo->n[2] == N / 2)
                d[mo->idx][0] = d[mo->idx][1] = 0;
        }
    }
}

ct_status ct_sim_nu_particles(const ct_cosmo *c, const ct_sim_settings *s,
                              const ct_sim_particles *cb, ct_sim_particles *nu, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_mesh *dk = NULL, *w = NULL;
    float *pos = NULL;
    double *disp = NULL;
    memset(nu, 0, sizeof *nu);
    nu->a = cb->a;
    if (!(ct_cosmo_omega_nu(c) > 0))
        return CT_OK;
    const int64_t N = s->np;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = s->box;
    ms.threads = s->threads;
    CT_CHECK_GOTO(rc, ct_mesh_create(&dk, &ms, comm));
    CT_CHECK_GOTO(rc, ct_mesh_create(&w, &ms, comm));
    {
        /* the cb particles on the lattice mesh's decomposition (a copy: the
         * caller's particles stay where the PM mesh wants them) */
        int64_t n = cb->n;
        size_t nal = (size_t)(n > 0 ? n : 1);
        pos = malloc(nal * 3 * sizeof(float));
        if (!pos)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "neutrino particles: out of memory");
        memcpy(pos, cb->pos, (size_t)n * 3 * sizeof(float));
        CT_CHECK_GOTO(rc, ct_mesh_exchange(dk, &n, &pos, 0, NULL));
        ct_paint_settings ps;
        ct_paint_settings_defaults(&ps);
        ps.mas = CT_MAS_CIC;
        CT_CHECK_GOTO(rc, ct_mesh_paint(dk, &ps, n, pos, NULL, 1.0));
        free(pos);
        pos = NULL;
        CT_CHECK_GOTO(rc, ct_mesh_to_overdensity(dk, NULL));
        CT_CHECK_GOTO(rc, ct_mesh_r2c(dk));
        CT_CHECK_GOTO(rc, ct_mesh_compensate(dk, 2));
        zero_nyquist(dk);
    }
    ptrdiff_t x0, nx;
    ct_mesh_local(dk, &x0, &nx);
    const int64_t nloc = (int64_t)nx * N * N;
    CT_CHECK_GOTO(rc, ct_calloc(&disp, (size_t)(nloc > 0 ? nloc : 1) * 3, sizeof *disp,
                                "neutrino displacements"));
    const ptrdiff_t row = ct_mesh_row(w);
    for (int ax = 0; ax < 3; ax++) {
        nu_filter f = {c, cb->a, ax};
        CT_CHECK_GOTO(rc, ct_sim_kfilter(w, dk, psi_nu, &f));
        CT_CHECK_GOTO(rc, ct_mesh_c2r(w));
        const ct_real *d = ct_mesh_real(w);
        int64_t p = 0;
        for (ptrdiff_t i = 0; i < nx; i++)
            for (int64_t j = 0; j < N; j++)
                for (int64_t l = 0; l < N; l++, p++)
                    disp[p * 3 + ax] = d[(i * N + j) * row + l];
    }
    nu->n = nloc;
    nu->n_total = N * N * N;
    nu->mass = ct_sim_nu_particle_mass(c, s);
    {
        size_t nal = (size_t)(nloc > 0 ? nloc : 1);
        nu->pos = malloc(nal * 3 * sizeof(float));
        nu->mom = malloc(nal * 3 * sizeof(float));
        nu->id = malloc(nal * sizeof(uint64_t));
        if (!nu->pos || !nu->mom || !nu->id)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate %lld neutrino particles",
                         (long long)nloc);
        const double a = cb->a, H = s->box / (double)N, L = s->box;
        const double pfac = a * a * ct_cosmo_E(c, a) * ct_cosmo_growth(c, a).f1;
        int64_t p = 0;
        for (ptrdiff_t i = 0; i < nx; i++)
            for (int64_t j = 0; j < N; j++)
                for (int64_t l = 0; l < N; l++, p++) {
                    int64_t q[3] = {x0 + i, j, l};
                    for (int ax = 0; ax < 3; ax++) {
                        double x = q[ax] * H + disp[p * 3 + ax];
                        x -= L * floor(x / L);
                        float xf = (float)x;
                        nu->pos[p * 3 + ax] = xf < (float)L && xf >= 0 ? xf : 0.0f;
                        nu->mom[p * 3 + ax] = (float)(pfac * disp[p * 3 + ax]);
                    }
                    /* IDs follow the cb particles' 1..np^3 */
                    nu->id[p] = (uint64_t)(N * N * N + (q[0] * N + q[1]) * N + q[2]) + 1;
                }
    }
fail:
    free(pos);
    free(disp);
    ct_mesh_destroy(&dk);
    ct_mesh_destroy(&w);
    if (rc != CT_OK)
        ct_sim_particles_free(nu);
    return rc;
}
