/* The P(k) of a running simulation's particles, shared by the programs of
 * tools/bench/sim: ct_sim_run's output callback moves the particles' positions
 * (read, not written: ct_mesh_exchange_const) to the ranks owning their slabs of
 * g->m and measures P(k) (CIC, compensated, bins of one k_F) into g->r (the last
 * output's stays). */
#ifndef COSMOTL_BENCH_SIM_PK_H
#define COSMOTL_BENCH_SIM_PK_H

#include <stdlib.h>

#include "cosmotl/sim.h"
#include "cosmotl/stats.h"

typedef struct {
    ct_mesh *m;
    ct_pk_result r;
} grab;

static ct_status measure(const ct_sim_particles *p, int iout, void *user)
{
    (void)iout;
    grab *g = user;
    int64_t n = 0;
    float *pos = NULL;
    CT_CHECK(ct_mesh_exchange_const(g->m, p->n, p->pos, 0, NULL, &n, &pos, NULL));
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ct_pk_particles set = {n, pos, NULL, 1.0};
    ct_pk_result_free(&g->r);
    ct_status rc = ct_pk_measure(g->m, NULL, &ps, 1, &set, &g->r);
    free(pos);
    return rc;
}

#endif
