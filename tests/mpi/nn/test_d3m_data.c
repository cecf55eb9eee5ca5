/* Displacement fields for D3M (ct_d3m_displacement): particles on an 8^3 lattice
 * displaced by up to 0.3 box (so many cross the periodic boundary and are
 * wrapped), dealt to the ranks in a scrambled order, give back the displacements
 * on rank 0; a repeated, a missing and an out-of-range ID fail on every rank with
 * the ID in the message on every rank. Same answer on 1, 2 and 4 ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/unet.h"
#include "testlib.h"

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int64_t N = 8, cells = N * N * N;
    const double box = 50.0, H = box / N;
    double *truth = malloc(3 * cells * sizeof(double));
    ct_rng r;
    ct_rng_init(&r, 17, 0, 0);
    for (int64_t i = 0; i < 3 * cells; i++)
        truth[i] = 0.3 * box * (2 * ct_rng_uniform(&r) - 1);
    /* particle p of the scrambled order is lattice cell (p * 77) mod 512 (77 is
     * coprime to 512); rank k takes every size-th particle starting at k */
    float *pos = malloc(3 * cells * sizeof(float));
    uint64_t *id = malloc(cells * sizeof(uint64_t));
    int64_t n = 0;
    for (int64_t p = rank; p < cells; p += size) {
        int64_t c = (p * 77) % cells;
        const int64_t q[3] = {c / (N * N), (c / N) % N, c % N};
        for (int ax = 0; ax < 3; ax++) {
            double x = fmod(q[ax] * H + truth[ax * cells + c], box);
            pos[3 * n + ax] = (float)(x < 0 ? x + box : x);
        }
        id[n++] = (uint64_t)c + 1;
    }
    float *d = rank == 0 ? malloc(3 * cells * sizeof(float)) : NULL;
    CT_EXPECT_OK(ct_d3m_displacement(pos, id, n, N, box, 0, MPI_COMM_WORLD, d));
    if (rank == 0) {
        double err = 0;
        for (int64_t i = 0; i < 3 * cells; i++)
            err = fmax(err, fabs(d[i] - truth[i]));
        /* float positions of a 50 Mpc/h box: rounding ~4e-6; 1e-4 is far below any
         * lattice or image error (>= H = 6.25 or box = 50) */
        CT_EXPECT(err < 1e-4);
    }
    /* an ID repeated on one rank: every rank fails with that rank's message */
    uint64_t keep = id[n - 1];
    if (rank == size - 1)
        id[n - 1] = id[0];
    ct_status st = ct_d3m_displacement(pos, id, n, N, box, 0, MPI_COMM_WORLD, d);
    CT_EXPECT(st == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), "repeated on the 8^3 lattice") != NULL);
    ct_error_clear();
    id[n - 1] = keep;
    /* an ID repeated across ranks (rank 0's first ID on the last rank): found
     * when the occupancy is summed on rank 0 */
    if (size > 1) {
        if (rank == size - 1)
            id[n - 1] = 1;
        st = ct_d3m_displacement(pos, id, n, N, box, 0, MPI_COMM_WORLD, d);
        CT_EXPECT(st == CT_ERR_FORMAT);
        CT_EXPECT(strstr(ct_error_message(), "particle ID 1 is repeated") != NULL);
        ct_error_clear();
        id[n - 1] = keep;
    }
    /* an ID outside the lattice */
    if (rank == 0)
        id[0] = (uint64_t)cells + 5;
    CT_EXPECT(ct_d3m_displacement(pos, id, n, N, box, 0, MPI_COMM_WORLD, d) != CT_OK);
    CT_EXPECT(strstr(ct_error_message(), "particle ID 517 ") != NULL);
    ct_error_clear();
    /* a missing particle: rank 0 drops its last one */
    if (rank == 0)
        id[0] = 1; /* restore: rank 0's first particle is lattice cell 0 */
    CT_EXPECT(ct_d3m_displacement(pos, id, rank == 0 ? n - 1 : n, N, box, 0, MPI_COMM_WORLD,
                                  d) != CT_OK);
    CT_EXPECT(strstr(ct_error_message(), "missing") != NULL);
    ct_error_clear();
    free(truth), free(pos), free(id), free(d);
    CT_TEST_END();
}
