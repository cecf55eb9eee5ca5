/* Training data of the D3M network: displacement fields on the Lagrangian
 * lattice from particle positions and IDs (include/cosmotl/unet.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/unet.h"

ct_status ct_d3m_displacement(const float *pos, const uint64_t *id, int64_t n, int64_t N,
                              double box, int root, MPI_Comm comm, float *d)
{
    ct_status rc = CT_OK;
    float *field = NULL;
    unsigned char *seen = NULL;
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (N < 1 || N > 512 || !(box > 0) || n < 0 || (rank == root && !d))
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                          "bad displacement request (N %lld, box %g, %lld particles)",
                          (long long)N, box, (long long)n);
    const int64_t cells = N * N * N;
    if (rc == CT_OK)
        rc = ct_calloc(&field, (size_t)(3 * cells), sizeof(float), "displacement field");
    if (rc == CT_OK)
        rc = ct_calloc(&seen, (size_t)cells, 1, "lattice occupancy");
    const double H = box / (double)N;
    int64_t bad = -1; /* first ID outside the lattice or repeated on this rank */
    for (int64_t p = 0; rc == CT_OK && p < n; p++) {
        if (id[p] < 1 || id[p] > (uint64_t)cells || seen[id[p] - 1]) {
            bad = p;
            break;
        }
        int64_t c = (int64_t)id[p] - 1;
        seen[c] = 1;
        const int64_t q[3] = {c / (N * N), (c / N) % N, c % N};
        for (int ax = 0; ax < 3; ax++) {
            double dd = (double)pos[3 * p + ax] - q[ax] * H;
            dd -= box * nearbyint(dd / box); /* minimum image */
            field[ax * cells + c] = (float)dd;
        }
    }
    if (rc == CT_OK && bad >= 0)
        rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                          "particle ID %llu (local row %lld) is %s the %lld^3 lattice",
                          (unsigned long long)id[bad], (long long)bad,
                          id[bad] < 1 || id[bad] > (uint64_t)cells ? "outside" : "repeated on",
                          (long long)N);
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    /* every cell is written by exactly one rank: a sum gathers the field exactly */
    if (MPI_Reduce(rank == root ? MPI_IN_PLACE : seen,
                   rank == root ? seen : NULL, (int)cells, MPI_UNSIGNED_CHAR, MPI_SUM, root,
                   comm) != MPI_SUCCESS ||
        MPI_Reduce(rank == root ? MPI_IN_PLACE : field, rank == root ? field : NULL,
                   (int)(3 * cells), MPI_FLOAT, MPI_SUM, root, comm) != MPI_SUCCESS)
        rc = ct_error_set(CT_ERR_MPI, __func__, __LINE__, "reducing the displacement field failed");
    if (rc == CT_OK && rank == root) {
        for (int64_t c = 0; c < cells; c++)
            if (seen[c] != 1) {
                rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                                  "particle ID %lld is %s over the ranks (%lld^3 lattice)",
                                  (long long)c + 1, seen[c] ? "repeated" : "missing",
                                  (long long)N);
                break;
            }
        if (rc == CT_OK)
            memcpy(d, field, (size_t)(3 * cells) * sizeof(float));
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
fail:
    ct_free(&field);
    ct_free(&seen);
    return rc;
}
