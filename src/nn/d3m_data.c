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

/* Reflection along an axis: i -> (N - shift - i) mod N (shift 0: the lattice's
 * q -> -q; shift 1: a cube reversed, i -> N - 1 - i). */
static ct_status augment(const float *d, int C, int64_t N, const int flip[3], const int perm[3],
                         int64_t shift, float *out)
{
    if (C < 3 || N < 1 || d == out)
        CT_FAIL(CT_ERR_ARG, "bad augmentation request (C %d, N %lld)", C, (long long)N);
    int used[3] = {0, 0, 0};
    for (int a = 0; a < 3; a++) {
        if (perm[a] < 0 || perm[a] > 2 || used[perm[a]]++)
            CT_FAIL(CT_ERR_ARG, "augmentation axes (%d, %d, %d) are not a permutation of 0, 1, 2",
                    perm[0], perm[1], perm[2]);
    }
    const int64_t cells = N * N * N;
    for (int c = 0; c < C; c++) {
        /* vector component c of the output is component perm[c] of the input */
        const int src_c = c < 3 ? perm[c] : c;
        const float sign = c < 3 && flip[c] ? -1.0f : 1.0f;
        const float *in = d + src_c * cells;
        float *o = out + c * cells;
        for (int64_t i0 = 0; i0 < N; i0++)
            for (int64_t i1 = 0; i1 < N; i1++)
                for (int64_t i2 = 0; i2 < N; i2++) {
                    const int64_t io[3] = {i0, i1, i2};
                    int64_t is[3];
                    for (int a = 0; a < 3; a++)
                        is[perm[a]] = flip[a] ? (N - shift - io[a]) % N : io[a];
                    o[(i0 * N + i1) * N + i2] = sign * in[(is[0] * N + is[1]) * N + is[2]];
                }
    }
    return CT_OK;
}

ct_status ct_d3m_augment(const float *d, int C, int64_t N, const int flip[3], const int perm[3],
                         float *out)
{
    return augment(d, C, N, flip, perm, 0, out);
}

ct_status ct_d3m_augment_cube(const float *d, int C, int64_t S, const int flip[3],
                              const int perm[3], float *out)
{
    return augment(d, C, S, flip, perm, 1, out);
}
