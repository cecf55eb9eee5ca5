/* Neutrino particles for the snapshots of massive-neutrino simulations.
 *
 * The PM run moves CDM+baryon particles only; neutrinos act through linear
 * response (delta_nu = R(k, a) delta_cb in the Poisson source, see pm.c). At an
 * output the neutrinos are made particles so that a snapshot has Quijote's
 * nwLH layout (PartType1 cb, PartType2 nu, each with its MassTable entry) and
 * the mass-weighted P(k) of both species is total matter, exactly as on a real
 * Quijote snapshot. Linear response in Lagrangian space: one neutrino per site
 * q of an np^3 lattice, displaced by psi_nu = R(k, a) psi_cb, the displacement
 * field x - q of the cb particles born on the same lattice (read off their IDs)
 * filtered with R = delta_nu / delta_cb. On scales above the free-streaming
 * length (R -> 1) the neutrinos move with the cb particles, bulk flows and
 * nonlinear mode coupling included; below it (R -> 0) they stay smooth.
 * Momenta are the cb momenta filtered the same way; no thermal velocities are
 * drawn (docs/decisions.md). */
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
} nu_filter;

/* psi_cb(k) -> psi_nu(k) = R(k, a) psi_cb(k); the k = 0 mode (the mean
 * displacement) is kept: on the largest scales neutrinos move with the cb. */
static void response(const double kv[3], double k, int64_t n2, void *u, double g[2])
{
    (void)kv;
    (void)n2;
    const nu_filter *f = u;
    g[0] = k > 0 ? ct_cosmo_nu_response(f->c, k, f->a) : 1.0;
    g[1] = 0;
}

/* One Lagrangian field of the cb particles, filtered: site (i, j, l) of this
 * rank's lattice slab gets field component `comp` (of 6: displacement x, y, z,
 * momentum x, y, z) of the cb particle born there, the mesh is multiplied by
 * R(k, a) in Fourier space, and out[site * 3 + comp % 3] receives the result. */
static ct_status filtered_field(ct_mesh *w, const nu_filter *f, int64_t n, const int64_t *site,
                                const float *val, int comp, float *out)
{
    const int64_t N = ct_mesh_n(w);
    const ptrdiff_t row = ct_mesh_row(w);
    ptrdiff_t x0, nx;
    ct_mesh_local(w, &x0, &nx);
    ct_mesh_zero(w);
    ct_real *d = ct_mesh_real(w);
    for (int64_t p = 0; p < n; p++) {
        int64_t s = site[p], l = s % N, r = s / N; /* r = (i - x0) * N + j */
        d[r * row + l] = (ct_real)val[p * 6 + comp];
    }
    CT_CHECK(ct_mesh_r2c(w));
    CT_CHECK(ct_sim_kfilter(w, w, response, (void *)f));
    CT_CHECK(ct_mesh_c2r(w));
    const ct_real *e = ct_mesh_real(w);
    const int64_t nloc = (int64_t)nx * N * N;
    for (int64_t s = 0; s < nloc; s++)
        out[s * 3 + comp % 3] = (float)e[(s / N) * row + s % N];
    return CT_OK;
}

ct_status ct_sim_nu_particles(const ct_cosmo *c, const ct_sim_settings *s,
                              const ct_sim_particles *cb, ct_sim_particles *nu, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_mesh *w = NULL;
    float *qpos = NULL, *val = NULL, *rpos = NULL, *disp = NULL;
    void *rval[2] = {NULL, NULL};
    int64_t *site = NULL;
    unsigned char *seen = NULL;
    memset(nu, 0, sizeof *nu);
    nu->a = cb->a;
    if (!(ct_cosmo_omega_nu(c) > 0))
        return CT_OK;
    const int64_t N = s->np;
    const double H = s->box / (double)N, L = s->box;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = s->box;
    ms.threads = s->threads;
    CT_CHECK_GOTO(rc, ct_mesh_create(&w, &ms, comm));
    /* every cb particle to the rank owning its birth site: routed by the site's
     * cell centre, carrying its displacement, momentum and ID */
    {
        const int64_t n = cb->n;
        const size_t nal = (size_t)(n > 0 ? n : 1);
        qpos = malloc(nal * 3 * sizeof(float));
        val = malloc(nal * 6 * sizeof(float));
        if (!qpos || !val)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "neutrino particles: out of memory");
        for (int64_t p = 0; p < n; p++) {
            const uint64_t id = cb->id[p] - 1;
            const int64_t q[3] = {(int64_t)(id / (uint64_t)(N * N)),
                                  (int64_t)(id / (uint64_t)N % (uint64_t)N),
                                  (int64_t)(id % (uint64_t)N)};
            for (int ax = 0; ax < 3; ax++) {
                double dx = cb->pos[p * 3 + ax] - q[ax] * H;
                dx -= L * floor(dx / L + 0.5); /* nearest image: |dx| <= L/2 */
                qpos[p * 3 + ax] = (float)((q[ax] + 0.5) * H);
                val[p * 6 + ax] = (float)dx;
                val[p * 6 + 3 + ax] = cb->mom[p * 3 + ax];
            }
        }
        ct_payload_in in[2] = {{val, 6 * sizeof(float)}, {cb->id, sizeof(uint64_t)}};
        int64_t nr = 0;
        CT_CHECK_GOTO(rc, ct_mesh_exchange_const(w, n, qpos, 2, in, &nr, &rpos, rval));
        free(qpos);
        qpos = NULL;
        free(val);
        val = rval[0];
        rval[0] = NULL;
        ptrdiff_t x0, nx;
        ct_mesh_local(w, &x0, &nx);
        const int64_t nloc = (int64_t)nx * N * N;
        site = malloc((size_t)(nr > 0 ? nr : 1) * sizeof *site);
        seen = calloc((size_t)(nloc > 0 ? nloc : 1), 1);
        if (!site || !seen)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "neutrino particles: out of memory");
        const uint64_t *rid = rval[1];
        int bad = nr != nloc;
        for (int64_t p = 0; p < nr && !bad; p++) {
            const uint64_t id = rid[p] - 1;
            const int64_t i = (int64_t)(id / (uint64_t)(N * N)) - x0;
            site[p] = (int64_t)(id % (uint64_t)(N * N)) + i * N * N;
            bad = i < 0 || i >= nx || seen[site[p]]++;
        }
        int anybad = 0;
        MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, comm);
        if (anybad)
            CT_FAIL_GOTO(rc, CT_ERR_STATE,
                         "neutrino particles: the cb particles do not fill the %lld^3 lattice "
                         "once each (IDs are not 1..N^3)",
                         (long long)N);
        nu->n = nloc;
        nu->n_total = N * N * N;
        nu->mass = ct_sim_nu_particle_mass(c, s);
        const size_t nal2 = (size_t)(nloc > 0 ? nloc : 1);
        nu->pos = malloc(nal2 * 3 * sizeof(float));
        nu->mom = malloc(nal2 * 3 * sizeof(float));
        nu->id = malloc(nal2 * sizeof(uint64_t));
        disp = malloc(nal2 * 3 * sizeof(float));
        if (!nu->pos || !nu->mom || !nu->id || !disp)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate %lld neutrino particles",
                         (long long)nloc);
        const nu_filter f = {c, cb->a};
        for (int comp = 0; comp < 6; comp++)
            CT_CHECK_GOTO(rc, filtered_field(w, &f, nr, site, val, comp,
                                             comp < 3 ? disp : nu->mom));
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
                    }
                    /* IDs follow the cb particles' 1..np^3 */
                    nu->id[p] = (uint64_t)(N * N * N + (q[0] * N + q[1]) * N + q[2]) + 1;
                }
    }
fail:
    free(qpos);
    free(val);
    free(rpos);
    free(rval[0]);
    free(rval[1]);
    free(site);
    free(seen);
    free(disp);
    ct_mesh_destroy(&w);
    if (rc != CT_OK)
        ct_sim_particles_free(nu);
    return rc;
}
