/* Helpers for tests of code built on the distributed mesh. */
#ifndef COSMOTL_MESH_TESTLIB_H
#define COSMOTL_MESH_TESTLIB_H

#include <mpi.h>
#include <stdlib.h>

#include "cosmotl/mesh.h"

/* The whole real field on every rank (N^3 values, no padding), for comparison
 * with brute-force references. */
static inline double *ct_test_gather_field(ct_mesh *m)
{
    int64_t N = ct_mesh_n(m);
    ptrdiff_t x0, nx, row = ct_mesh_row(m);
    ct_mesh_local(m, &x0, &nx);
    size_t N3 = (size_t)(N * N * N);
    double *f = calloc(N3, sizeof *f);
    const ct_real *r = ct_mesh_real(m);
    for (ptrdiff_t i = 0; i < nx; i++)
        for (int64_t j = 0; j < N; j++)
            for (int64_t l = 0; l < N; l++)
                f[((size_t)(x0 + i) * N + j) * N + l] = r[(i * N + j) * row + l];
    MPI_Allreduce(MPI_IN_PLACE, f, (int)N3, MPI_DOUBLE, MPI_SUM, ct_mesh_comm(m));
    return f;
}

#endif
