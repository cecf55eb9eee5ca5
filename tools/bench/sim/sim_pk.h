/* The P(k) of a running simulation's particles, shared by the programs of
 * tools/bench/sim: ct_sim_run's output callback copies the particles, moves
 * them to the ranks owning their slabs of g->m and measures P(k) (CIC,
 * compensated, bins of one k_F) into g->r (the last output's stays). */
#ifndef COSMOTL_BENCH_SIM_PK_H
#define COSMOTL_BENCH_SIM_PK_H

#include <stdlib.h>
#include <string.h>

#include "cosmotl/sim.h"
#include "cosmotl/stats.h"

typedef struct {
    ct_mesh *m;
    ct_pk_result r;
} grab;

static ct_status measure(const ct_sim_particles *pin, int iout, void *user)
{
    (void)iout;
    grab *g = user;
    ct_sim_particles p = *pin;
    size_t n = (size_t)(p.n > 0 ? p.n : 1);
    p.pos = malloc(n * 3 * sizeof(float));
    p.mom = malloc(n * 3 * sizeof(float));
    p.id = malloc(n * sizeof(uint64_t));
    if (!p.pos || !p.mom || !p.id) {
        ct_sim_particles_free(&p);
        CT_FAIL(CT_ERR_MEMORY, "out of memory");
    }
    memcpy(p.pos, pin->pos, (size_t)p.n * 3 * sizeof(float));
    memcpy(p.mom, pin->mom, (size_t)p.n * 3 * sizeof(float));
    memcpy(p.id, pin->id, (size_t)p.n * sizeof(uint64_t));
    ct_payload pl[2] = {{(void **)&p.mom, 3 * sizeof(float)}, {(void **)&p.id, sizeof(uint64_t)}};
    ct_status rc = ct_mesh_exchange(g->m, &p.n, &p.pos, 2, pl);
    if (rc == CT_OK) {
        ct_pk_settings ps;
        ct_pk_settings_defaults(&ps);
        ct_pk_particles set = {p.n, p.pos, NULL, 1.0};
        ct_pk_result_free(&g->r);
        rc = ct_pk_measure(g->m, NULL, &ps, 1, &set, &g->r);
    }
    ct_sim_particles_free(&p);
    return rc;
}

#endif
