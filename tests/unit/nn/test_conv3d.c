/* Unit tests of the 3-D layers (src/nn/conv3d.c): every forward pass against a
 * brute-force double-precision loop on tiny shapes, every backward pass against
 * central finite differences of a random projection of the output, and the
 * convolutions' backward passes against the adjoint identity on a shape large
 * enough that the im2col blocking splits the output into several blocks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/unet.h"
#include "testlib.h"

static float *randf(size_t n, uint64_t seed, double sd)
{
    float *v = malloc((n ? n : 1) * sizeof(float));
    ct_rng r;
    ct_rng_init(&r, seed, 5, 0);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(sd * ct_rng_normal(&r));
    return v;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double max_rel(const float *a, const double *ref, size_t n)
{
    double scale = 0, err = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++)
        err = fmax(err, fabs(a[i] - ref[i]));
    return err / (scale > 0 ? scale : 1);
}

#define IDX5(T_, N_, C_, Z_, Y_, X_)                                                   \
    ((((int64_t)(N_) * (T_).c + (C_)) * (T_).s[0] + (Z_)) * (T_).s[1] + (Y_)) * (int64_t)(T_).s[2] + (X_)

/* ------------------------------------------------ brute-force references */

static void conv_ref(const float *x, ct_tdims xd, const float *W, const float *b, int cout,
                     int k, int s, ct_tdims yd, double *y)
{
    for (int n = 0; n < xd.n; n++)
        for (int co = 0; co < cout; co++)
            for (int z = 0; z < yd.s[0]; z++)
                for (int yy = 0; yy < yd.s[1]; yy++)
                    for (int xx = 0; xx < yd.s[2]; xx++) {
                        double acc = b ? b[co] : 0;
                        for (int ci = 0; ci < xd.c; ci++)
                            for (int a = 0; a < k; a++)
                                for (int bb = 0; bb < k; bb++)
                                    for (int c = 0; c < k; c++)
                                        acc += (double)W[(((int64_t)co * xd.c + ci) * k + a) * k * k + bb * k + c] *
                                               x[IDX5(xd, n, ci, z * s + a, yy * s + bb, xx * s + c)];
                        y[IDX5(yd, n, co, z, yy, xx)] = acc;
                    }
}

static void deconv_ref(const float *x, ct_tdims xd, const float *W, const float *b, int cout,
                       int k, int s, ct_tdims yd, double *y)
{
    for (int n = 0; n < yd.n; n++)
        for (int co = 0; co < cout; co++)
            for (int64_t i = 0; i < ct_tdims_cells(yd); i++)
                y[((int64_t)n * cout + co) * ct_tdims_cells(yd) + i] = b ? b[co] : 0;
    for (int n = 0; n < xd.n; n++)
        for (int ci = 0; ci < xd.c; ci++)
            for (int z = 0; z < xd.s[0]; z++)
                for (int yy = 0; yy < xd.s[1]; yy++)
                    for (int xx = 0; xx < xd.s[2]; xx++)
                        for (int co = 0; co < cout; co++)
                            for (int a = 0; a < k; a++)
                                for (int bb = 0; bb < k; bb++)
                                    for (int c = 0; c < k; c++)
                                        y[IDX5(yd, n, co, z * s + a, yy * s + bb, xx * s + c)] +=
                                            (double)W[(((int64_t)ci * cout + co) * k + a) * k * k + bb * k + c] *
                                            x[IDX5(xd, n, ci, z, yy, xx)];
}

/* --------------------------------------------- finite-difference machinery */

typedef double (*loss_fn)(void *ctx);

/* Compare analytic dL/dp[i] with the central difference for a few indices i.
 * tol: relative to max(|analytic|, the rms of all analytic entries). */
static void fd_check(const char *what, loss_fn f, void *ctx, float *p, const float *g, size_t n,
                     double h, double tol, int picks, uint64_t seed)
{
    double rms = 0;
    for (size_t i = 0; i < n; i++)
        rms += (double)g[i] * g[i];
    rms = sqrt(rms / (double)(n ? n : 1));
    ct_rng r;
    ct_rng_init(&r, seed, 9, 0);
    int bad = 0;
    for (int t = 0; t < picks && n > 0; t++) {
        size_t i = (size_t)(ct_rng_uniform(&r) * (double)n) % n;
        float keep = p[i];
        p[i] = (float)(keep + h);
        double lp = f(ctx);
        p[i] = (float)(keep - h);
        double lm = f(ctx);
        p[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double sc = fmax(fabs(g[i]), rms);
        if (fabs(fd - g[i]) > tol * sc && bad++ < 3) {
            fprintf(stderr, "%s: d/dp[%zu] analytic %.8g fd %.8g\n", what, i, g[i], fd);
            ct_test_failures++;
        }
    }
}

/* ------------------------------------------------------------- conv3d */

typedef struct {
    float *x, *W, *b, *r, *y;
    ct_tdims xd, yd;
    int cout, k, s, deconv;
} conv_ctx;

static double conv_loss(void *vp)
{
    conv_ctx *c = vp;
    if (c->deconv)
        ct_deconv3d_forward(c->x, c->xd, c->W, c->b, c->cout, c->k, c->s, c->y, NULL);
    else
        ct_conv3d_forward(c->x, c->xd, c->W, c->b, c->cout, c->k, c->s, c->y, NULL);
    return dot(c->r, c->y, (size_t)ct_tdims_count(c->yd));
}

static void test_conv(int deconv, ct_tdims xd, int cout, int k, int s, uint64_t seed)
{
    conv_ctx c = {.xd = xd, .cout = cout, .k = k, .s = s, .deconv = deconv};
    if (deconv)
        CT_EXPECT_OK(ct_deconv3d_dims(xd, cout, k, s, &c.yd));
    else
        CT_EXPECT_OK(ct_conv3d_dims(xd, cout, k, s, &c.yd));
    size_t nx = (size_t)ct_tdims_count(xd), ny = (size_t)ct_tdims_count(c.yd);
    size_t nw = (size_t)xd.c * cout * k * k * k;
    c.x = randf(nx, seed, 1);
    c.W = randf(nw, seed + 1, 0.3);
    c.b = randf((size_t)cout, seed + 2, 1);
    c.r = randf(ny, seed + 3, 1);
    c.y = malloc(ny * sizeof(float));
    double *ref = malloc(ny * sizeof(double));
    /* forward against the direct loop: float32 sums of K <= 100 terms of O(1)
     * agree with the double loop to ~1e-6 of the output scale; 1e-5 allows for
     * sgemm's summation order */
    conv_loss(&c);
    if (deconv)
        deconv_ref(c.x, xd, c.W, c.b, cout, k, s, c.yd, ref);
    else
        conv_ref(c.x, xd, c.W, c.b, cout, k, s, c.yd, ref);
    double e = max_rel(c.y, ref, ny);
    if (!(e < 1e-5)) {
        fprintf(stderr, "%s k%d s%d forward: max rel error %.3g\n", deconv ? "deconv" : "conv", k,
                s, e);
        ct_test_failures++;
    }
    /* backward: dL/d(x, W, b) for L = r . y */
    float *dx = malloc(nx * sizeof(float)), *dW = calloc(nw, sizeof(float));
    float *db = calloc((size_t)cout, sizeof(float));
    if (deconv)
        CT_EXPECT_OK(ct_deconv3d_backward(c.x, xd, c.W, cout, k, s, c.r, dx, dW, db, NULL));
    else
        CT_EXPECT_OK(ct_conv3d_backward(c.x, xd, c.W, cout, k, s, c.r, dx, dW, db, NULL));
    /* L is linear in each of x, W, b: the central difference is exact for any step,
     * so h = 0.5 keeps float rounding of L (~1e-7 |L|) far below the tolerance */
    const char *nm = deconv ? "deconv" : "conv";
    fd_check(nm, conv_loss, &c, c.x, dx, nx, 0.5, 1e-3, 12, seed + 4);
    fd_check(nm, conv_loss, &c, c.W, dW, nw, 0.5, 1e-3, 12, seed + 5);
    fd_check(nm, conv_loss, &c, c.b, db, (size_t)cout, 0.5, 1e-3, cout, seed + 6);
    free(c.x), free(c.W), free(c.b), free(c.r), free(c.y), free(ref), free(dx), free(dW), free(db);
}

/* The adjoint identities <r, A x> = <A^T r, x> (input) and <r, y(W)> = <dW, W>
 * (weights, no bias) on a shape whose im2col is split into blocks of one plane. */
static void test_conv_blocked(int deconv, ct_tdims xd, int cout, int k, int s)
{
    ct_tdims yd;
    if (deconv)
        CT_EXPECT_OK(ct_deconv3d_dims(xd, cout, k, s, &yd));
    else
        CT_EXPECT_OK(ct_conv3d_dims(xd, cout, k, s, &yd));
    size_t nx = (size_t)ct_tdims_count(xd), ny = (size_t)ct_tdims_count(yd);
    size_t nw = (size_t)xd.c * cout * k * k * k;
    float *x = randf(nx, 31, 1), *W = randf(nw, 32, 0.2), *r = randf(ny, 33, 1);
    float *y = malloc(ny * sizeof(float)), *dx = malloc(nx * sizeof(float));
    float *dW = calloc(nw, sizeof(float));
    double *ref = malloc(ny * sizeof(double));
    if (deconv) {
        CT_EXPECT_OK(ct_deconv3d_forward(x, xd, W, NULL, cout, k, s, y, NULL));
        deconv_ref(x, xd, W, NULL, cout, k, s, yd, ref);
        CT_EXPECT_OK(ct_deconv3d_backward(x, xd, W, cout, k, s, r, dx, dW, NULL, NULL));
    } else {
        CT_EXPECT_OK(ct_conv3d_forward(x, xd, W, NULL, cout, k, s, y, NULL));
        conv_ref(x, xd, W, NULL, cout, k, s, yd, ref);
        CT_EXPECT_OK(ct_conv3d_backward(x, xd, W, cout, k, s, r, dx, dW, NULL, NULL));
    }
    /* K = 432 float32 terms: ~1e-6 relative to the output scale */
    CT_EXPECT(max_rel(y, ref, ny) < 1e-5);
    double lhs = dot(r, y, ny);
    /* sums of ~1e5..1e6 products with float32 partial sums inside sgemm */
    CT_EXPECT_REL(dot(dx, x, nx), lhs, 1e-4);
    CT_EXPECT_REL(dot(dW, W, nw), lhs, 1e-4);
    free(x), free(W), free(r), free(y), free(dx), free(dW), free(ref);
}

/* --------------------------------------------------------- pad and crop */

typedef struct {
    float *x, *r, *y;
    ct_tdims xd;
    int lo[3], hi[3];
    size_t ny;
} pad_ctx;

static double pad_loss(void *vp)
{
    pad_ctx *c = vp;
    ct_pad_periodic_forward(c->x, c->xd, c->lo, c->hi, c->y);
    return dot(c->r, c->y, c->ny);
}

static void test_pad_crop(void)
{
    pad_ctx c = {.xd = {2, 3, {3, 4, 5}}, .lo = {1, 0, 2}, .hi = {1, 1, 5}};
    ct_tdims yd = c.xd;
    for (int a = 0; a < 3; a++)
        yd.s[a] += c.lo[a] + c.hi[a];
    size_t nx = (size_t)ct_tdims_count(c.xd);
    c.ny = (size_t)ct_tdims_count(yd);
    c.x = randf(nx, 41, 1);
    c.r = randf(c.ny, 42, 1);
    c.y = malloc(c.ny * sizeof(float));
    pad_loss(&c);
    int bad = 0;
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int z = 0; z < yd.s[0]; z++)
                for (int yy = 0; yy < yd.s[1]; yy++)
                    for (int xx = 0; xx < yd.s[2]; xx++) {
                        int sz = ((z - 1) % 3 + 3) % 3, sy = yy % 4, sx = ((xx - 2) % 5 + 5) % 5;
                        bad += c.y[IDX5(yd, n, ch, z, yy, xx)] != c.x[IDX5(c.xd, n, ch, sz, sy, sx)];
                    }
    CT_EXPECT(bad == 0);
    float *dx = malloc(nx * sizeof(float));
    ct_pad_periodic_backward(c.r, c.xd, c.lo, c.hi, dx);
    fd_check("pad", pad_loss, &c, c.x, dx, nx, 0.5, 1e-4, 20, 43);
    /* crop: the copy and its adjoint */
    int off[3] = {1, 2, 0}, out[3] = {2, 2, 4};
    ct_tdims cd = {2, 3, {2, 2, 4}};
    float *cy = malloc((size_t)ct_tdims_count(cd) * sizeof(float));
    ct_crop_forward(c.x, c.xd, off, out, cy);
    bad = 0;
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int z = 0; z < 2; z++)
                for (int yy = 0; yy < 2; yy++)
                    for (int xx = 0; xx < 4; xx++)
                        bad += cy[IDX5(cd, n, ch, z, yy, xx)] != c.x[IDX5(c.xd, n, ch, z + 1, yy + 2, xx)];
    CT_EXPECT(bad == 0);
    float *cr = randf((size_t)ct_tdims_count(cd), 44, 1);
    ct_crop_backward(cr, c.xd, off, out, dx);
    CT_EXPECT_REL(dot(dx, c.x, nx), dot(cr, cy, (size_t)ct_tdims_count(cd)), 1e-6);
    free(c.x), free(c.r), free(c.y), free(dx), free(cy), free(cr);
}

/* ----------------------------------------------------------- batch norm */

typedef struct {
    float *x, *g, *b, *r, *y, *mean, *istd;
    ct_tdims xd;
} bn_ctx;

static double bn_loss(void *vp)
{
    bn_ctx *c = vp;
    ct_batchnorm_forward(c->x, c->xd, c->g, c->b, NULL, NULL, 0.1, 1e-5, 1, MPI_COMM_NULL, c->y,
                         c->mean, c->istd);
    return dot(c->r, c->y, (size_t)ct_tdims_count(c->xd));
}

static void test_batchnorm(void)
{
    bn_ctx c = {.xd = {3, 2, {3, 2, 3}}};
    const int C = 2;
    size_t nx = (size_t)ct_tdims_count(c.xd);
    int64_t cells = ct_tdims_cells(c.xd);
    c.x = randf(nx, 51, 2);
    for (size_t i = 0; i < nx; i++)
        c.x[i] += 0.7f; /* a non-zero mean */
    c.g = randf(C, 52, 1);
    c.b = randf(C, 53, 1);
    c.r = randf(nx, 54, 1);
    c.y = malloc(nx * sizeof(float));
    c.mean = malloc(C * sizeof(float));
    c.istd = malloc(C * sizeof(float));
    float rm[2] = {0.5f, -0.25f}, rv[2] = {2.0f, 0.5f};
    CT_EXPECT_OK(ct_batchnorm_forward(c.x, c.xd, c.g, c.b, rm, rv, 0.1, 1e-5, 1, MPI_COMM_NULL,
                                      c.y, c.mean, c.istd));
    /* reference in double */
    double err = 0;
    for (int ch = 0; ch < C; ch++) {
        double m = 0, v = 0, M = (double)c.xd.n * cells;
        for (int n = 0; n < c.xd.n; n++)
            for (int64_t i = 0; i < cells; i++)
                m += c.x[((int64_t)n * C + ch) * cells + i];
        m /= M;
        for (int n = 0; n < c.xd.n; n++)
            for (int64_t i = 0; i < cells; i++) {
                double d = c.x[((int64_t)n * C + ch) * cells + i] - m;
                v += d * d;
            }
        v /= M;
        for (int n = 0; n < c.xd.n; n++)
            for (int64_t i = 0; i < cells; i++) {
                int64_t j = ((int64_t)n * C + ch) * cells + i;
                double ref = c.g[ch] * (c.x[j] - m) / sqrt(v + 1e-5) + c.b[ch];
                err = fmax(err, fabs(c.y[j] - ref));
            }
        /* running statistics: PyTorch's update with the unbiased variance */
        double rm0 = ch ? -0.25 : 0.5, rv0 = ch ? 0.5 : 2.0;
        CT_EXPECT_REL(rm[ch], 0.9 * rm0 + 0.1 * m, 1e-5);
        CT_EXPECT_REL(rv[ch], 0.9 * rv0 + 0.1 * v * M / (M - 1), 1e-5);
    }
    /* outputs are O(1): float32 normalisation is good to a few 1e-7 */
    CT_EXPECT(err < 1e-5);
    /* inference mode uses the running statistics */
    float *yi = malloc(nx * sizeof(float));
    CT_EXPECT_OK(ct_batchnorm_forward(c.x, c.xd, c.g, c.b, rm, rv, 0.1, 1e-5, 0, MPI_COMM_NULL,
                                      yi, NULL, NULL));
    double erri = 0;
    for (int n = 0; n < c.xd.n; n++)
        for (int ch = 0; ch < C; ch++)
            for (int64_t i = 0; i < cells; i++) {
                int64_t j = ((int64_t)n * C + ch) * cells + i;
                double ref = c.g[ch] * (c.x[j] - rm[ch]) / sqrt(rv[ch] + 1e-5) + c.b[ch];
                erri = fmax(erri, fabs(yi[j] - ref));
            }
    CT_EXPECT(erri < 1e-5);
    /* backward */
    float *dx = malloc(nx * sizeof(float)), dg[2] = {0, 0}, dbt[2] = {0, 0};
    bn_loss(&c);
    CT_EXPECT_OK(ct_batchnorm_backward(c.x, c.xd, c.g, c.mean, c.istd, c.r, MPI_COMM_NULL, dx, dg,
                                       dbt));
    /* L is smooth but not linear in x: h = 1e-2 on inputs of scale 2 gives a
     * truncation error ~ (h/2)^2 ~ 3e-5 relative, float rounding of L
     * ~1e-7 |L| / h ~ 1e-5; tolerance 2e-3 */
    fd_check("batchnorm x", bn_loss, &c, c.x, dx, nx, 1e-2, 2e-3, 20, 55);
    fd_check("batchnorm gamma", bn_loss, &c, c.g, dg, C, 0.5, 1e-3, C, 56);
    fd_check("batchnorm beta", bn_loss, &c, c.b, dbt, C, 0.5, 1e-3, C, 57);
    free(c.x), free(c.g), free(c.b), free(c.r), free(c.y), free(c.mean), free(c.istd), free(yi);
    free(dx);
}

/* --------------------------------------------------- activation, concat */

typedef struct {
    float *x, *r, *y;
    size_t n;
    float slope;
} act_ctx;

static double act_loss(void *vp)
{
    act_ctx *c = vp;
    ct_leaky_relu_forward(c->x, c->n, c->slope, c->y);
    return dot(c->r, c->y, c->n);
}

static void test_activation(float slope)
{
    act_ctx c = {.n = 64, .slope = slope};
    c.x = randf(c.n, 61, 1);
    for (size_t i = 0; i < c.n; i++) /* keep inputs away from the kink at 0 */
        c.x[i] += c.x[i] > 0 ? 0.1f : -0.1f;
    c.r = randf(c.n, 62, 1);
    c.y = malloc(c.n * sizeof(float));
    act_loss(&c);
    int bad = 0;
    for (size_t i = 0; i < c.n; i++)
        bad += c.y[i] != (c.x[i] > 0 ? c.x[i] : slope * c.x[i]);
    CT_EXPECT(bad == 0);
    float *dx = malloc(c.n * sizeof(float));
    ct_leaky_relu_backward(c.y, c.r, c.n, slope, dx);
    /* piecewise linear and |x| > 0.1 > h: the central difference is exact */
    fd_check("leaky_relu", act_loss, &c, c.x, dx, c.n, 0.05, 1e-4, 20, 63);
    free(c.x), free(c.r), free(c.y), free(dx);
}

static void test_concat(void)
{
    const int n = 2, ca = 2, cb = 3;
    const int64_t cells = 5;
    float *a = randf((size_t)(n * ca * cells), 71, 1), *b = randf((size_t)(n * cb * cells), 72, 1);
    float *y = malloc((size_t)(n * (ca + cb) * cells) * sizeof(float));
    ct_concat_forward(a, ca, b, cb, n, cells, y);
    int bad = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < ca + cb; c++)
            for (int64_t j = 0; j < cells; j++) {
                float want = c < ca ? a[((int64_t)i * ca + c) * cells + j]
                                    : b[((int64_t)i * cb + c - ca) * cells + j];
                bad += y[((int64_t)i * (ca + cb) + c) * cells + j] != want;
            }
    CT_EXPECT(bad == 0);
    float *da = malloc((size_t)(n * ca * cells) * sizeof(float));
    float *db = malloc((size_t)(n * cb * cells) * sizeof(float));
    ct_concat_backward(y, ca, cb, n, cells, da, db);
    CT_EXPECT(!memcmp(da, a, (size_t)(n * ca * cells) * sizeof(float)));
    CT_EXPECT(!memcmp(db, b, (size_t)(n * cb * cells) * sizeof(float)));
    free(a), free(b), free(y), free(da), free(db);
}

static void test_bad_shapes(void)
{
    ct_tdims yd, xd = {1, 2, {2, 5, 5}};
    CT_EXPECT(ct_conv3d_dims(xd, 4, 3, 1, &yd) == CT_ERR_ARG); /* axis smaller than kernel */
    CT_EXPECT(strstr(ct_error_message(), "fewer than the kernel") != NULL);
    xd.c = 0;
    CT_EXPECT(ct_deconv3d_dims(xd, 4, 3, 2, &yd) == CT_ERR_ARG);
    ct_error_clear();
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    test_conv(0, (ct_tdims){2, 3, {5, 4, 6}}, 4, 3, 1, 100);
    test_conv(0, (ct_tdims){2, 2, {7, 7, 8}}, 3, 3, 2, 200); /* 8 -> 3: floor */
    test_conv(0, (ct_tdims){1, 4, {2, 3, 2}}, 3, 1, 1, 300);
    /* >= 8 input channels at stride 1: the shifted-sgemm path, one chunk and many */
    test_conv(0, (ct_tdims){2, 9, {5, 4, 6}}, 4, 3, 1, 350);
    test_conv(0, (ct_tdims){1, 8, {8, 8, 8}}, 260, 3, 1, 360);
    test_conv(1, (ct_tdims){2, 3, {3, 4, 2}}, 2, 3, 2, 400);
    test_conv(1, (ct_tdims){1, 4, {2, 2, 3}}, 3, 1, 1, 500);
    test_conv_blocked(0, (ct_tdims){1, 16, {5, 74, 74}}, 2, 3, 1);
    test_conv_blocked(1, (ct_tdims){1, 2, {3, 72, 72}}, 16, 3, 2);
    test_pad_crop();
    test_batchnorm();
    test_activation(0.0f);
    test_activation(0.2f);
    test_concat();
    test_bad_shapes();
    CT_TEST_END();
}
