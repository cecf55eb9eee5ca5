/* ct_mesh_exchange_const on 1, 2, 4 ranks: the same particles, payloads and
 * order as ct_mesh_exchange, compared byte for byte (the two share one
 * implementation, so any difference is a bug, not round-off: tolerance 0),
 * with positions on slab boundaries, at L - eps, outside [0, L) by whole and
 * fractional boxes (wrapped in the output, never in the input), payloads of
 * 4, 8 and 3 bytes, a rank with no particles, threads 1 and 2; the caller's
 * arrays are never written; a non-finite position or a bad payload is an error
 * on every rank with nothing allocated. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/mesh.h"
#include "mesh_testlib.h"
#include "testlib.h"

static int same_bytes(const void *a, const void *b, size_t bytes)
{
    return bytes == 0 || memcmp(a, b, bytes) == 0;
}

static void run(int N, double L, int threads, int np_global, int empty_rank, int shifted)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_mesh *m = ct_test_new_mesh(N, L, threads, comm);

    float *gpos = ct_test_global_positions(np_global, N, L, 11);
    /* this rank's slice; on several ranks, empty_rank has none (its share
     * goes to a neighbour) */
    int64_t a0 = (int64_t)np_global * rank / size, a1 = (int64_t)np_global * (rank + 1) / size;
    if (size > 1) {
        const int e = empty_rank % size, heir = e + 1 < size ? e + 1 : e - 1;
        const int64_t e0 = (int64_t)np_global * e / size, e1 = (int64_t)np_global * (e + 1) / size;
        if (rank == e) {
            a1 = a0;
        } else if (rank == heir) {
            a0 = a0 < e0 ? a0 : e0;
            a1 = a1 > e1 ? a1 : e1;
        }
    }
    const int64_t n = a1 - a0;
    float *pos = malloc(sizeof(float) * 3 * (size_t)(n + 1));
    float *w = malloc(sizeof(float) * (size_t)(n + 1));
    int64_t *id = malloc(sizeof(int64_t) * (size_t)(n + 1));
    unsigned char *tag = malloc(3 * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) {
        memcpy(pos + 3 * i, gpos + 3 * (a0 + i), 3 * sizeof(float));
        if (shifted && i % 7 == 3) /* outside the box: wrapped by the exchange */
            pos[3 * i + i % 3] += (float)(i % 2 ? L : -2.0 * L);
        if (shifted && i % 11 == 5)
            pos[3 * i] -= (float)(0.25 * L);
        w[i] = (float)(a0 + i) * 0.5f + 0.25f;
        id[i] = a0 + i;
        for (int b = 0; b < 3; b++)
            tag[3 * i + b] = (unsigned char)((a0 + i) * 7 + b);
    }
    /* what the caller holds, to check that it is not written */
    float *pos0 = malloc(sizeof(float) * 3 * (size_t)(n + 1));
    memcpy(pos0, pos, sizeof(float) * 3 * (size_t)n);

    /* reference: ct_mesh_exchange on copies */
    int64_t rn = n;
    float *rpos = malloc(sizeof(float) * 3 * (size_t)(n + 1));
    void *rw = malloc(sizeof(float) * (size_t)(n + 1));
    void *rid = malloc(sizeof(int64_t) * (size_t)(n + 1));
    void *rtag = malloc(3 * (size_t)(n + 1));
    memcpy(rpos, pos, sizeof(float) * 3 * (size_t)n);
    memcpy(rw, w, sizeof(float) * (size_t)n);
    memcpy(rid, id, sizeof(int64_t) * (size_t)n);
    memcpy(rtag, tag, 3 * (size_t)n);
    ct_payload pl[3] = {{&rw, sizeof(float)}, {&rid, sizeof(int64_t)}, {&rtag, 3}};
    CT_EXPECT_OK(ct_mesh_exchange(m, &rn, &rpos, 3, pl));

    /* the new call on the caller's arrays */
    int64_t cn = -1;
    float *cpos = NULL;
    void *cpay[3] = {NULL, NULL, NULL};
    ct_payload_in in[3] = {{w, sizeof(float)}, {id, sizeof(int64_t)}, {tag, 3}};
    CT_EXPECT_OK(ct_mesh_exchange_const(m, n, pos, 3, in, &cn, &cpos, cpay));
    CT_EXPECT(cn == rn);
    CT_EXPECT(cpos != NULL && cpay[0] != NULL && cpay[1] != NULL && cpay[2] != NULL);
    if (cn == rn && cpos && cpay[0] && cpay[1] && cpay[2]) {
        CT_EXPECT(same_bytes(cpos, rpos, sizeof(float) * 3 * (size_t)rn));
        CT_EXPECT(same_bytes(cpay[0], rw, sizeof(float) * (size_t)rn));
        CT_EXPECT(same_bytes(cpay[1], rid, sizeof(int64_t) * (size_t)rn));
        CT_EXPECT(same_bytes(cpay[2], rtag, 3 * (size_t)rn));
        /* every output position is inside the box and on this rank's slab */
        ptrdiff_t x0, nx;
        ct_mesh_local(m, &x0, &nx);
        const double H = L / N;
        int64_t outside = 0;
        for (int64_t i = 0; i < cn; i++) {
            for (int a = 0; a < 3; a++)
                outside += !(cpos[3 * i + a] >= 0 && cpos[3 * i + a] < (float)L);
            const int64_t g = (int64_t)floor(cpos[3 * i] / H) % N;
            outside += g < x0 || g >= x0 + nx;
        }
        CT_EXPECT(outside == 0);
    }
    /* the caller's arrays are untouched */
    CT_EXPECT(same_bytes(pos, pos0, sizeof(float) * 3 * (size_t)n));
    int untouched = 1;
    for (int64_t i = 0; i < n; i++)
        untouched &= w[i] == (float)(a0 + i) * 0.5f + 0.25f && id[i] == a0 + i &&
                     tag[3 * i] == (unsigned char)((a0 + i) * 7);
    CT_EXPECT(untouched);
    int64_t ntot = 0;
    MPI_Allreduce(&cn, &ntot, 1, MPI_INT64_T, MPI_SUM, comm);
    CT_EXPECT(ntot == np_global);
    free(cpos);
    for (int k = 0; k < 3; k++)
        free(cpay[k]);

    /* no payload */
    CT_EXPECT_OK(ct_mesh_exchange_const(m, n, pos, 0, NULL, &cn, &cpos, NULL));
    CT_EXPECT(cn == rn && cpos && same_bytes(cpos, rpos, sizeof(float) * 3 * (size_t)rn));
    free(cpos);

    /* a non-finite position on the last rank that has particles: an error
     * everywhere, nothing allocated, the input untouched */
    int mine = n > 0 ? rank : -1, culprit = -1;
    MPI_Allreduce(&mine, &culprit, 1, MPI_INT, MPI_MAX, comm);
    if (rank == culprit)
        pos[3 * (n - 1) + 1] = NAN;
    cpos = (float *)&cn; /* overwritten with NULL on error */
    cpay[0] = &cn;
    ct_status s = ct_mesh_exchange_const(m, n, pos, 1, in, &cn, &cpos, cpay);
    CT_EXPECT(s == CT_ERR_NUMERIC || (s == CT_ERR_REMOTE && rank != culprit));
    CT_EXPECT(cpos == NULL && cpay[0] == NULL && cn == 0);
    ct_error_clear();
    if (rank == culprit)
        pos[3 * (n - 1) + 1] = pos0[3 * (n - 1) + 1];
    CT_EXPECT(same_bytes(pos, pos0, sizeof(float) * 3 * (size_t)n));

    /* a payload of size 0 on rank 0: an argument error everywhere */
    ct_payload_in bad[1] = {{w, rank == 0 ? 0 : sizeof(float)}};
    s = ct_mesh_exchange_const(m, n, pos, 1, bad, &cn, &cpos, cpay);
    CT_EXPECT(s == CT_ERR_ARG || (s == CT_ERR_REMOTE && rank != 0));
    CT_EXPECT(cpos == NULL && cpay[0] == NULL);
    ct_error_clear();

    ct_mesh_destroy(&m);
    free(pos);
    free(pos0);
    free(w);
    free(id);
    free(tag);
    free(rpos);
    free(rw);
    free(rid);
    free(rtag);
    free(gpos);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    run(16, 100.0, 1, 400, 1, 1);
    run(16, 100.0, 2, 400, 0, 1);
    run(10, 1000.0, 1, 300, 2, 0); /* uneven slabs, all inside */
    run(6, 1.0, 1, 100, 3, 1);     /* some ranks own no plane on 4 ranks */
    CT_TEST_END();
}
