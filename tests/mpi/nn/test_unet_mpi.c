/* The U-Net trained data-parallel over the ranks gives the answer of one
 * process holding the whole batch: on 1, 2 and 4 ranks the outputs, the loss,
 * the gradients and the parameters after three Adam steps agree with a
 * single-process reference that rank 0 computes on MPI_COMM_SELF. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/unet.h"
#include "testlib.h"

#define NB 4 /* global batch */

static void sample(float *v, int64_t cells, int c, int n, int target)
{
    ct_rng r; /* one stream per global sample: independent of the split */
    ct_rng_init(&r, 99 + (uint64_t)target, (uint64_t)n, 0);
    for (int64_t i = 0; i < c * cells; i++)
        v[i] = (float)ct_rng_normal(&r);
}

/* max |a - b| / max |b| */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double e = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return e / (s > 0 ? s : 1);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ct_unet_settings s;
    ct_unet_settings_default(&s);
    s.base_channels = 2; /* tiny: the test is about the split, not the width */
    s.depth = 2;
    s.blocks = 1;
    s.seed = 5;
    ct_adam_settings a;
    ct_adam_settings_default(&a);
    a.lr = 1e-2;
    const int D = 8, C = 3;
    const int64_t cells = (int64_t)D * D * D, per = C * cells;
    int n0 = NB * rank / size, n1 = NB * (rank + 1) / size, nl = n1 - n0;
    float *x = malloc((size_t)(NB * per) * 4), *t = malloc((size_t)(NB * per) * 4);
    for (int n = 0; n < NB; n++) {
        sample(x + n * per, cells, C, n, 0);
        sample(t + n * per, cells, C, n, 1);
    }
    ct_unet *net = NULL, *ref = NULL;
    CT_EXPECT_OK(ct_unet_create(&net, &s, MPI_COMM_WORLD));
    if (rank == 0)
        CT_EXPECT_OK(ct_unet_create(&ref, &s, MPI_COMM_SELF));
    size_t np = (size_t)ct_unet_n_params(net);
    float *y = malloc((size_t)(NB * per) * 4), *yall = malloc((size_t)(NB * per) * 4);
    float *yref = malloc((size_t)(NB * per) * 4);
    int counts[64], displs[64];
    for (int r = 0; r < size; r++) {
        counts[r] = (int)((NB * (r + 1) / size - NB * r / size) * per);
        displs[r] = (int)(NB * r / size * per);
    }
    ct_tdims xl = {nl, C, {D, D, D}}, xa = {NB, C, {D, D, D}};
    for (int step = 0; step < 3; step++) {
        double loss = 0, loss_ref = 0;
        CT_EXPECT_OK(ct_unet_forward(net, x + n0 * per, xl, 1, y));
        CT_EXPECT_OK(ct_unet_backward_l1(net, t + n0 * per, &loss));
        MPI_Gatherv(y, (int)(nl * per), MPI_FLOAT, yall, counts, displs, MPI_FLOAT, 0,
                    MPI_COMM_WORLD);
        if (rank == 0) {
            CT_EXPECT_OK(ct_unet_forward(ref, x, xa, 1, yref));
            CT_EXPECT_OK(ct_unet_backward_l1(ref, t, &loss_ref));
            /* float32 layers; only the order of the sums over ranks differs
             * (batch-norm statistics in double, gradients in float): measured
             * differences are ~5e-7 (outputs) and ~1.5e-7 (gradients, and the
             * parameters after three steps) on 4 ranks; 1e-5 leaves room for
             * other BLAS kernels while a wrong split (a sample lost or counted
             * twice, local batch statistics) is off by > 1e-2 */
            double ey = rel_diff(yall, yref, (size_t)(NB * per));
            double eg = rel_diff(ct_unet_grads(net), ct_unet_grads(ref), np);
            if (!(ey < 1e-5 && eg < 1e-5)) {
                fprintf(stderr, "step %d: output rel diff %.3g, gradient rel diff %.3g\n", step,
                        ey, eg);
                ct_test_failures++;
            }
            CT_EXPECT_REL(loss, loss_ref, 1e-6);
        }
        CT_EXPECT_OK(ct_unet_adam_step(net, &a));
        if (rank == 0)
            CT_EXPECT_OK(ct_unet_adam_step(ref, &a));
    }
    /* every rank holds the same parameters, equal to the reference's */
    float *p0 = malloc(np * 4);
    memcpy(p0, ct_unet_params(net), np * 4);
    MPI_Bcast(p0, (int)np, MPI_FLOAT, 0, MPI_COMM_WORLD);
    CT_EXPECT(!memcmp(p0, ct_unet_params(net), np * 4));
    if (rank == 0) {
        double ep = rel_diff(ct_unet_params(net), ct_unet_params(ref), np);
        if (!(ep < 1e-5)) {
            fprintf(stderr, "parameters after 3 steps: rel diff %.3g\n", ep);
            ct_test_failures++;
        }
    }
    /* inference mode: each rank's share through the running statistics */
    CT_EXPECT_OK(ct_unet_forward(net, x + n0 * per, xl, 0, y));
    MPI_Gatherv(y, (int)(nl * per), MPI_FLOAT, yall, counts, displs, MPI_FLOAT, 0,
                MPI_COMM_WORLD);
    if (rank == 0) {
        CT_EXPECT_OK(ct_unet_forward(ref, x, xa, 0, yref));
        CT_EXPECT(rel_diff(yall, yref, (size_t)(NB * per)) < 1e-5);
    }
    /* a rank with a bad shape fails on every rank, without a hang */
    ct_tdims bad = xl;
    if (rank == size - 1)
        bad.s[0] = 6;
    CT_EXPECT(ct_unet_forward(net, x + n0 * per, bad, 1, y) != CT_OK);
    ct_error_clear();
    ct_unet_destroy(&net);
    ct_unet_destroy(&ref);
    free(x), free(t), free(y), free(yall), free(yref), free(p0);
    CT_TEST_END();
}
