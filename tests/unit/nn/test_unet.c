/* Unit tests of the U-Net (src/nn/unet.c): the published D3M configuration has
 * the published parameter count; the whole network's gradients (parameters and
 * input) agree with central finite differences along random directions; L1
 * training with Adam reduces the loss on a learnable mapping; a checkpoint
 * resumes bit for bit; bad shapes and bad checkpoint files fail cleanly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/unet.h"
#include "testlib.h"

static void fill(float *v, size_t n, uint64_t seed, double sd)
{
    ct_rng r;
    ct_rng_init(&r, seed, 3, 0);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(sd * ct_rng_normal(&r));
}

static ct_unet_settings tiny(void)
{
    ct_unet_settings s;
    ct_unet_settings_default(&s);
    s.base_channels = 2;
    s.depth = 2;
    s.blocks = 1;
    s.seed = 7;
    return s;
}

static void test_d3m_size(void)
{
    ct_unet_settings s;
    ct_unet_settings_default(&s); /* D3M: 3 -> 64/128/256 -> 3, two blocks per level */
    ct_unet *net = NULL;
    CT_EXPECT_OK(ct_unet_create(&net, &s, MPI_COMM_SELF));
    /* the parameter count of the published model class (Lpt2NbodyNet in the D3M
     * code, counted with PyTorch): weights, biases, batch-norm gamma and beta */
    CT_EXPECT(net && ct_unet_n_params(net) == 8415939);
    ct_unet_destroy(&net);
    CT_EXPECT(net == NULL);
}

/* L1 loss of the network in training mode, summed in double */
static double loss_at(ct_unet *net, const float *x, ct_tdims xd, const float *t, float *y)
{
    double loss = 0;
    CT_EXPECT_OK(ct_unet_forward(net, x, xd, 1, y));
    CT_EXPECT_OK(ct_unet_backward_l1(net, t, &loss));
    return loss;
}

static void test_gradients(double slope, int depth)
{
    ct_unet_settings s = tiny();
    s.slope = slope;
    s.depth = depth;
    s.blocks = 2;
    ct_unet *net = NULL;
    CT_EXPECT_OK(ct_unet_create(&net, &s, MPI_COMM_SELF));
    ct_tdims xd = {2, 3, {8, 8, 8}};
    size_t nx = (size_t)ct_tdims_count(xd), np = (size_t)ct_unet_n_params(net);
    float *x = malloc(nx * 4), *t = malloc(nx * 4), *y = malloc(nx * 4), *dx = malloc(nx * 4);
    float *g = malloc(np * 4), *v = malloc(np * 4), *vx = malloc(nx * 4);
    float *p0 = malloc(np * 4), *P = ct_unet_params(net);
    fill(x, nx, 1, 1);
    fill(t, nx, 2, 1); /* targets far above the O(1) outputs: no |y - t| kink */
    for (size_t i = 0; i < nx; i++)
        t[i] += 20.0f;
    fill(v, np, 3, 1);
    fill(vx, nx, 4, 1);
    double loss = loss_at(net, x, xd, t, y);
    memcpy(g, ct_unet_grads(net), np * 4);
    /* input gradient through the caller's dy: recompute the L1 gradient */
    {
        float *dy = malloc(nx * 4);
        for (size_t i = 0; i < nx; i++)
            dy[i] = (y[i] > t[i] ? 1.0f : (y[i] < t[i] ? -1.0f : 0.0f)) / (float)nx;
        CT_EXPECT_OK(ct_unet_backward(net, dy, dx));
        free(dy);
    }
    /* directional derivatives: g.v against (L(p + h v) - L(p - h v)) / 2h. A
     * step along all parameters at once moves every activation, and each ReLU
     * kink crossed inside [-h, h] spoils the difference quotient (with ReLU the
     * quotient wanders by 10-50 % between h = 1e-3 and 1e-4); the test therefore
     * uses a leaky slope of 0.9, whose kinks are mild, where the quotient is
     * stable to < 0.5 %. The ReLU/LeakyReLU masks themselves are checked exactly
     * in the layer test (nn-conv3d). The targets lie far above the outputs, so the
     * L1 loss has no kink nearby. float32 rounding of the loss averages over the
     * outputs: ~1e-9 / h.
     * A wrong gradient in any layer is off by O(1): 2 % separates them. */
    double an = 0, anx = 0, gg = 0, vv = 0, dd = 0, ww = 0;
    for (size_t i = 0; i < np; i++)
        an += (double)g[i] * v[i], gg += (double)g[i] * g[i], vv += (double)v[i] * v[i];
    for (size_t i = 0; i < nx; i++)
        anx += (double)dx[i] * vx[i], dd += (double)dx[i] * dx[i], ww += (double)vx[i] * vx[i];
    /* an absolute floor of 2e-4 |g| |v| (the scale of g.v for an unlucky
     * direction, ~1 % of a typical |g.v|) for directions where g.v cancels */
    const double floor_p = 2e-4 * sqrt(gg * vv), floor_x = 2e-4 * sqrt(dd * ww);
    const double h = 1e-4;
    memcpy(p0, P, np * 4);
    for (size_t i = 0; i < np; i++)
        P[i] = p0[i] + (float)(h * v[i]);
    double lp = loss_at(net, x, xd, t, y);
    for (size_t i = 0; i < np; i++)
        P[i] = p0[i] - (float)(h * v[i]);
    double lm = loss_at(net, x, xd, t, y);
    memcpy(P, p0, np * 4);
    CT_EXPECT_ABS((lp - lm) / (2 * h), an, 2e-2 * fabs(an) + floor_p);
    /* the input derivative is ~100x smaller (batch norm divides out the input's
     * scale): a 10x larger step keeps the loss rounding at ~0.2 % of it */
    const double hx = 1e-3;
    float *xp = malloc(nx * 4);
    for (size_t i = 0; i < nx; i++)
        xp[i] = x[i] + (float)(hx * vx[i]);
    lp = loss_at(net, xp, xd, t, y);
    for (size_t i = 0; i < nx; i++)
        xp[i] = x[i] - (float)(hx * vx[i]);
    lm = loss_at(net, xp, xd, t, y);
    CT_EXPECT_ABS((lp - lm) / (2 * hx), anx, 2e-2 * fabs(anx) + floor_x);
    CT_EXPECT(loss > 0);
    free(x), free(t), free(y), free(dx), free(g), free(v), free(vx), free(p0), free(xp);
    ct_unet_destroy(&net);
}

/* A learnable periodic mapping: t = 0.5 x + the x-component shifted by one cell.
 * 60 Adam steps at lr 1e-2 must cut the L1 loss at least in half (it falls by
 * ~4x in practice; a sign error in any gradient makes it rise). */
static void test_training(void)
{
    ct_unet_settings s = tiny();
    s.base_channels = 4;
    ct_unet *net = NULL;
    CT_EXPECT_OK(ct_unet_create(&net, &s, MPI_COMM_SELF));
    ct_tdims xd = {2, 3, {8, 8, 8}};
    size_t nx = (size_t)ct_tdims_count(xd);
    float *x = malloc(nx * 4), *t = malloc(nx * 4), *y = malloc(nx * 4);
    fill(x, nx, 11, 1);
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 512; i++) {
                int shifted = (i & ~7) | ((i + 1) & 7);
                t[(n * 3 + c) * 512 + i] = 0.5f * x[(n * 3 + c) * 512 + i] + x[n * 3 * 512 + shifted];
            }
    ct_adam_settings a;
    ct_adam_settings_default(&a);
    a.lr = 1e-2;
    double first = 0, last = 0;
    for (int it = 0; it < 60; it++) {
        double loss;
        CT_EXPECT_OK(ct_unet_forward(net, x, xd, 1, y));
        CT_EXPECT_OK(ct_unet_backward_l1(net, t, &loss));
        CT_EXPECT_OK(ct_unet_adam_step(net, &a));
        if (it == 0)
            first = loss;
        last = loss;
    }
    if (!(last < 0.5 * first)) {
        fprintf(stderr, "training: L1 loss %.4g -> %.4g\n", first, last);
        ct_test_failures++;
    }
    CT_EXPECT(ct_unet_step_count(net) == 60);
    /* inference mode runs on the running statistics */
    CT_EXPECT_OK(ct_unet_forward(net, x, xd, 0, y));
    double ev = 0;
    for (size_t i = 0; i < nx; i++)
        ev += fabs((double)y[i] - t[i]);
    CT_EXPECT(isfinite(ev));
    free(x), free(t), free(y);
    ct_unet_destroy(&net);
}

static void train_steps(ct_unet *net, const float *x, ct_tdims xd, const float *t, int n)
{
    ct_adam_settings a;
    ct_adam_settings_default(&a);
    a.lr = 3e-3;
    a.weight_decay = 1e-2;
    float *y = malloc((size_t)ct_tdims_count(xd) * 4);
    for (int i = 0; i < n; i++) {
        double loss;
        CT_EXPECT_OK(ct_unet_forward(net, x, xd, 1, y));
        CT_EXPECT_OK(ct_unet_backward_l1(net, t, &loss));
        CT_EXPECT_OK(ct_unet_adam_step(net, &a));
    }
    free(y);
}

static void test_checkpoint(void)
{
    char dir[] = "/tmp/ct_unet_XXXXXX";
    CT_EXPECT(mkdtemp(dir) != NULL);
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/ck.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    ct_unet_settings s = tiny();
    ct_unet *a = NULL, *b = NULL;
    CT_EXPECT_OK(ct_unet_create(&a, &s, MPI_COMM_SELF));
    ct_tdims xd = {2, 3, {8, 8, 8}};
    size_t nx = (size_t)ct_tdims_count(xd);
    float *x = malloc(nx * 4), *t = malloc(nx * 4);
    fill(x, nx, 21, 1);
    fill(t, nx, 22, 1);
    train_steps(a, x, xd, t, 3);
    CT_EXPECT_OK(ct_unet_save(a, path));
    train_steps(a, x, xd, t, 2);
    CT_EXPECT_OK(ct_unet_load(&b, path, MPI_COMM_SELF));
    if (b) {
        CT_EXPECT(ct_unet_step_count(b) == 3);
        train_steps(b, x, xd, t, 2);
        size_t np = (size_t)ct_unet_n_params(a);
        int64_t nra, nrb;
        float *ra = ct_unet_running(a, &nra), *rb = ct_unet_running(b, &nrb);
        CT_EXPECT(ct_unet_n_params(b) == (int64_t)np && nra == nrb);
        CT_EXPECT(!memcmp(ct_unet_params(a), ct_unet_params(b), np * 4));
        CT_EXPECT(!memcmp(ra, rb, (size_t)nra * 4));
        ct_unet_destroy(&b);
    }
    /* bad files: missing, and not a checkpoint */
    snprintf(bad, sizeof bad, "%s/missing.h5", dir);
    CT_EXPECT(ct_unet_load(&b, bad, MPI_COMM_SELF) != CT_OK && b == NULL);
    snprintf(bad, sizeof bad, "%s/text.h5", dir);
    FILE *f = fopen(bad, "w");
    if (f) {
        fputs("not hdf5\n", f);
        fclose(f);
    }
    CT_EXPECT(ct_unet_load(&b, bad, MPI_COMM_SELF) != CT_OK && b == NULL);
    CT_EXPECT(strstr(ct_error_message(), "text.h5") != NULL);
    ct_error_clear();
    unlink(bad);
    unlink(path);
    rmdir(dir);
    free(x), free(t);
    ct_unet_destroy(&a);
}

static void test_bad_input(void)
{
    ct_unet_settings s = tiny();
    ct_unet *net = NULL;
    CT_EXPECT_OK(ct_unet_create(&net, &s, MPI_COMM_SELF));
    float x[3 * 6 * 8 * 8], y[3 * 6 * 8 * 8];
    memset(x, 0, sizeof x);
    ct_tdims xd = {1, 3, {6, 8, 8}}; /* 6 is not a multiple of 2^2 */
    CT_EXPECT(ct_unet_forward(net, x, xd, 1, y) == CT_ERR_ARG);
    CT_EXPECT(strstr(ct_error_message(), "not a multiple of 2^depth") != NULL);
    xd = (ct_tdims){1, 2, {8, 8, 4}};
    CT_EXPECT(ct_unet_forward(net, x, xd, 0, y) == CT_ERR_ARG);
    double loss;
    CT_EXPECT(ct_unet_backward_l1(net, x, &loss) == CT_ERR_STATE);
    ct_error_clear();
    s.blocks = 0;
    ct_unet *b = NULL;
    CT_EXPECT(ct_unet_create(&b, &s, MPI_COMM_SELF) == CT_ERR_CONFIG && b == NULL);
    ct_error_clear();
    ct_unet_destroy(&net);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    test_d3m_size();
    test_gradients(0.9, 0);
    test_gradients(0.9, 1);
    test_gradients(0.9, 2);
    test_training();
    test_checkpoint();
    test_bad_input();
    CT_TEST_END();
}
