/* The 3-D layers of the U-Net (include/cosmotl/unet.h): periodic padding, crop,
 * convolution and transposed convolution (im2col + OpenBLAS sgemm), batch norm,
 * leaky ReLU and channel concatenation, each with its backward pass.
 *
 * The convolutions work one sample at a time and, within a sample, on blocks of
 * output planes, so that the im2col column matrix stays a few MiB whatever the
 * mesh (a whole 64-channel 32^3 sample would need 226 MB of columns).
 *
 * Threads: the convolutions' only threads are OpenBLAS's inside sgemm; im2col and
 * col2im run on the calling thread. OpenMP regions between the sgemm calls made
 * OpenBLAS's threads compete with spinning OpenMP workers (4x slower on 2 cores,
 * docs/benchmarks.md). The once-per-layer loops (padding, batch norm, activations)
 * use OpenMP. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/unet.h"

int64_t ct_tdims_cells(ct_tdims t)
{
    return (int64_t)t.s[0] * t.s[1] * t.s[2];
}

int64_t ct_tdims_count(ct_tdims t)
{
    return (int64_t)t.n * t.c * ct_tdims_cells(t);
}

static int tdims_ok(ct_tdims t)
{
    return t.n > 0 && t.c > 0 && t.s[0] > 0 && t.s[1] > 0 && t.s[2] > 0;
}

/* ------------------------------------------------------------- pad and crop */

static inline int wrap(int i, int n)
{
    i %= n;
    return i < 0 ? i + n : i;
}

void ct_pad_periodic_forward(const float *x, ct_tdims xd, const int lo[3], const int hi[3],
                             float *y)
{
    const int D = xd.s[0], H = xd.s[1], W = xd.s[2];
    const int PD = D + lo[0] + hi[0], PH = H + lo[1] + hi[1], PW = W + lo[2] + hi[2];
    const int64_t nc = (int64_t)xd.n * xd.c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t q = 0; q < nc; q++)
        for (int z = 0; z < PD; z++) {
            const float *xs = x + (q * D + wrap(z - lo[0], D)) * (int64_t)H * W;
            float *ys = y + (q * PD + z) * (int64_t)PH * PW;
            for (int yy = 0; yy < PH; yy++) {
                const float *xr = xs + (int64_t)wrap(yy - lo[1], H) * W;
                float *yr = ys + (int64_t)yy * PW;
                for (int i = 0; i < lo[2]; i++)
                    yr[i] = xr[W - lo[2] + i];
                memcpy(yr + lo[2], xr, (size_t)W * sizeof(float));
                for (int i = 0; i < hi[2]; i++)
                    yr[lo[2] + W + i] = xr[i];
            }
        }
}

void ct_pad_periodic_backward(const float *dy, ct_tdims xd, const int lo[3], const int hi[3],
                              float *dx)
{
    const int D = xd.s[0], H = xd.s[1], W = xd.s[2];
    const int PD = D + lo[0] + hi[0], PH = H + lo[1] + hi[1], PW = W + lo[2] + hi[2];
    const int64_t nc = (int64_t)xd.n * xd.c;
    memset(dx, 0, (size_t)ct_tdims_count(xd) * sizeof(float));
    /* parallel over (sample, channel): each owns its own dx channel */
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < nc; q++)
        for (int z = 0; z < PD; z++) {
            float *xs = dx + (q * D + wrap(z - lo[0], D)) * (int64_t)H * W;
            const float *ys = dy + (q * PD + z) * (int64_t)PH * PW;
            for (int yy = 0; yy < PH; yy++) {
                float *xr = xs + (int64_t)wrap(yy - lo[1], H) * W;
                const float *yr = ys + (int64_t)yy * PW;
                for (int i = 0; i < PW; i++)
                    xr[wrap(i - lo[2], W)] += yr[i];
            }
        }
}

void ct_crop_forward(const float *x, ct_tdims xd, const int off[3], const int out[3], float *y)
{
    const int D = xd.s[0], H = xd.s[1], W = xd.s[2];
    const int64_t nc = (int64_t)xd.n * xd.c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t q = 0; q < nc; q++)
        for (int z = 0; z < out[0]; z++)
            for (int yy = 0; yy < out[1]; yy++)
                memcpy(y + ((q * out[0] + z) * out[1] + yy) * (int64_t)out[2],
                       x + ((q * D + z + off[0]) * H + yy + off[1]) * (int64_t)W + off[2],
                       (size_t)out[2] * sizeof(float));
}

void ct_crop_backward(const float *dy, ct_tdims xd, const int off[3], const int out[3],
                      float *dx)
{
    const int D = xd.s[0], H = xd.s[1], W = xd.s[2];
    const int64_t nc = (int64_t)xd.n * xd.c;
    memset(dx, 0, (size_t)ct_tdims_count(xd) * sizeof(float));
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t q = 0; q < nc; q++)
        for (int z = 0; z < out[0]; z++)
            for (int yy = 0; yy < out[1]; yy++)
                memcpy(dx + ((q * D + z + off[0]) * H + yy + off[1]) * (int64_t)W + off[2],
                       dy + ((q * out[0] + z) * out[1] + yy) * (int64_t)out[2],
                       (size_t)out[2] * sizeof(float));
}

/* --------------------------------------------------------- im2col / col2im */

/* A strided kernel relation between a big grid G (the convolution's input, the
 * transposed convolution's output) and a small grid S: small cell o reads big
 * cells o*s + kk for kk in [0, k)^3. */
typedef struct {
    int C;    /* channels of the big-grid tensor */
    int G[3]; /* big grid */
    int S[3]; /* small grid */
    int k, s;
} relation;

/* Small-grid planes per block: the column block (C k^3 rows) near 2^21 floats. */
static int block_planes(const relation *r)
{
    int64_t rows = (int64_t)r->C * r->k * r->k * r->k;
    int64_t plane = (int64_t)r->S[1] * r->S[2];
    int64_t pb = ((int64_t)1 << 21) / (rows * plane > 0 ? rows * plane : 1);
    if (pb < 1)
        pb = 1;
    if (pb > r->S[0])
        pb = r->S[0];
    return (int)pb;
}

static size_t relation_work_len(const relation *r)
{
    int64_t rows = (int64_t)r->C * r->k * r->k * r->k;
    return (size_t)(rows * block_planes(r) * (int64_t)r->S[1] * r->S[2]);
}

/* col (C k^3 x (z1-z0) S1 S2) = big-grid values seen by small planes [z0, z1) */
static void im2col(const relation *r, const float *g, int z0, int z1, float *col)
{
    const int k = r->k, s = r->s, k3 = k * k * k;
    const int S1 = r->S[1], S2 = r->S[2], G1 = r->G[1], G2 = r->G[2];
    const int64_t gcells = (int64_t)r->G[0] * G1 * G2;
    const int64_t ncols = (int64_t)(z1 - z0) * S1 * S2;
    const int64_t rows = (int64_t)r->C * k3;
    for (int64_t row = 0; row < rows; row++) {
        int c = (int)(row / k3), kk = (int)(row % k3);
        int kz = kk / (k * k), ky = (kk / k) % k, kx = kk % k;
        const float *gc = g + c * gcells;
        float *cr = col + row * ncols;
        for (int z = z0; z < z1; z++)
            for (int y = 0; y < S1; y++) {
                const float *src = gc + ((int64_t)(z * s + kz) * G1 + y * s + ky) * G2 + kx;
                float *dst = cr + ((int64_t)(z - z0) * S1 + y) * S2;
                if (s == 1)
                    memcpy(dst, src, (size_t)S2 * sizeof(float));
                else
                    for (int x = 0; x < S2; x++)
                        dst[x] = src[(int64_t)x * s];
            }
    }
}

/* big grid g += col2im(col) for small planes [z0, z1) */
static void col2im(const relation *r, const float *col, int z0, int z1, float *g)
{
    const int k = r->k, s = r->s, k3 = k * k * k;
    const int S1 = r->S[1], S2 = r->S[2], G1 = r->G[1], G2 = r->G[2];
    const int64_t gcells = (int64_t)r->G[0] * G1 * G2;
    const int64_t ncols = (int64_t)(z1 - z0) * S1 * S2;
    for (int c = 0; c < r->C; c++) {
        float *gc = g + c * gcells;
        for (int kk = 0; kk < k3; kk++) {
            int kz = kk / (k * k), ky = (kk / k) % k, kx = kk % k;
            const float *cr = col + ((int64_t)c * k3 + kk) * ncols;
            for (int z = z0; z < z1; z++)
                for (int y = 0; y < S1; y++) {
                    float *dst = gc + ((int64_t)(z * s + kz) * G1 + y * s + ky) * G2 + kx;
                    const float *src = cr + ((int64_t)(z - z0) * S1 + y) * S2;
                    if (s == 1)
                        for (int x = 0; x < S2; x++)
                            dst[x] += src[x];
                    else
                        for (int x = 0; x < S2; x++)
                            dst[(int64_t)x * s] += src[x];
                }
        }
    }
}

static void bias_fill(float *y, const float *b, int cout, int64_t cells)
{
    for (int c = 0; c < cout; c++) {
        float v = b ? b[c] : 0.0f;
        float *yc = y + c * cells;
        for (int64_t i = 0; i < cells; i++)
            yc[i] = v;
    }
}

static void bias_grad(const float *dy, int cout, int64_t cells, float *db)
{
    for (int c = 0; c < cout; c++) {
        double sum = 0;
        const float *d = dy + c * cells;
        for (int64_t i = 0; i < cells; i++)
            sum += d[i];
        db[c] += (float)sum;
    }
}


/* ----------------------------------------- stride-1 convolution by shifts */

/* For stride 1 there is no need for im2col: on the input grid G flattened, the
 * output at cell g (an output cell embedded in G) is sum over taps of
 * W_tap (cout x cin) times the input column at g + off(tap). Each tap is one
 * sgemm on a shifted view of the input, over chunks of J cells of G so that the
 * chunk's output block stays in cache across the k^3 taps; output cells of G
 * outside the valid region are computed and dropped (a fraction
 * 1 - (O/G)^3, 17 % for 32^3 outputs). The backward passes are the same shifts
 * transposed. Used when cin >= SHIFT_MIN_CIN: with fewer input channels each
 * sgemm has too short an inner dimension and im2col wins. */
#define SHIFT_MIN_CIN 8

typedef struct {
    int64_t G1G2, G2, gvalid, J;
    int k3;
} shifts;

static int use_shifts(ct_tdims xd, int k, int s)
{
    return s == 1 && k > 1 && xd.c >= SHIFT_MIN_CIN;
}

static shifts shifts_of(ct_tdims xd, ct_tdims yd, int cout, int k)
{
    shifts h;
    h.G2 = xd.s[2];
    h.G1G2 = (int64_t)xd.s[1] * xd.s[2];
    h.gvalid = (yd.s[0] - 1) * h.G1G2 + (yd.s[1] - 1) * h.G2 + yd.s[2];
    h.J = 65536 / cout;
    if (h.J < 256)
        h.J = 256;
    if (h.J > h.gvalid)
        h.J = h.gvalid;
    h.k3 = k * k * k;
    return h;
}

static size_t shifts_work_len(ct_tdims xd, ct_tdims yd, int cout, int k)
{
    shifts h = shifts_of(xd, yd, cout, k);
    /* repacked weights and their gradient, and one output block */
    return (size_t)(2 * (int64_t)h.k3 * cout * xd.c + (int64_t)cout * h.J);
}

static inline int64_t tap_offset(const shifts *h, int k, int tap)
{
    return (tap / (k * k)) * h->G1G2 + ((tap / k) % k) * h->G2 + tap % k;
}

/* Calls f(g0, o0, n) for each run of valid output cells inside [j0, j1) of the
 * input grid: n consecutive cells starting at grid index g0 and output index o0. */
#define FOR_VALID_RUNS(h, yd, j0, j1, BODY)                                       \
    do {                                                                           \
        int64_t g_ = (j0);                                                         \
        while (g_ < (j1)) {                                                        \
            int64_t z_ = g_ / (h).G1G2, y_ = (g_ % (h).G1G2) / (h).G2,             \
                    x_ = g_ % (h).G2;                                              \
            int64_t end_ = g_ + ((h).G2 - x_); /* end of this grid row */          \
            if (end_ > (j1))                                                       \
                end_ = (j1);                                                       \
            if (z_ < (yd).s[0] && y_ < (yd).s[1] && x_ < (yd).s[2]) {              \
                int64_t n_ = (yd).s[2] - x_;                                       \
                if (n_ > end_ - g_)                                                \
                    n_ = end_ - g_;                                                \
                int64_t g0 = g_, n = n_;                                           \
                int64_t o0 = (z_ * (yd).s[1] + y_) * (yd).s[2] + x_;               \
                BODY;                                                              \
            }                                                                      \
            g_ = end_;                                                             \
        }                                                                          \
    } while (0)

static void shifts_forward(const float *x, ct_tdims xd, ct_tdims yd, const float *W,
                           const float *b, int cout, int k, float *y, float *work)
{
    shifts h = shifts_of(xd, yd, cout, k);
    const int cin = xd.c;
    const int64_t G = ct_tdims_cells(xd), O = ct_tdims_cells(yd);
    float *Wt = work, *Y = work + 2 * (int64_t)h.k3 * cout * cin;
    for (int tap = 0; tap < h.k3; tap++) /* W_tap[co][ci] = W[co][ci][tap] */
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                Wt[((int64_t)tap * cout + co) * cin + ci] = W[((int64_t)co * cin + ci) * h.k3 + tap];
    for (int n = 0; n < xd.n; n++) {
        const float *xn = x + (int64_t)n * cin * G;
        float *yn = y + (int64_t)n * cout * O;
        for (int64_t j0 = 0; j0 < h.gvalid; j0 += h.J) {
            int64_t j1 = j0 + h.J < h.gvalid ? j0 + h.J : h.gvalid;
            int J = (int)(j1 - j0);
            for (int tap = 0; tap < h.k3; tap++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, J, cin, 1.0f,
                            Wt + (int64_t)tap * cout * cin, cin, xn + j0 + tap_offset(&h, k, tap),
                            (int)G, tap ? 1.0f : 0.0f, Y, J);
            FOR_VALID_RUNS(h, yd, j0, j1, {
                for (int co = 0; co < cout; co++) {
                    const float bv = b ? b[co] : 0.0f;
                    const float *src = Y + (int64_t)co * J + (g0 - j0);
                    float *dst = yn + (int64_t)co * O + o0;
                    for (int64_t i = 0; i < n; i++)
                        dst[i] = src[i] + bv;
                }
            });
        }
    }
}

static void shifts_backward(const float *x, ct_tdims xd, ct_tdims yd, const float *W, int cout,
                            int k, const float *dy, float *dx, float *dW, float *db,
                            float *work)
{
    shifts h = shifts_of(xd, yd, cout, k);
    const int cin = xd.c;
    const int64_t G = ct_tdims_cells(xd), O = ct_tdims_cells(yd);
    const int64_t wn = (int64_t)h.k3 * cout * cin;
    float *Wt = work, *dWt = work + wn, *D = work + 2 * wn;
    for (int tap = 0; tap < h.k3; tap++)
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                Wt[((int64_t)tap * cout + co) * cin + ci] = W[((int64_t)co * cin + ci) * h.k3 + tap];
    memset(dWt, 0, (size_t)wn * sizeof(float));
    if (dx)
        memset(dx, 0, (size_t)ct_tdims_count(xd) * sizeof(float));
    for (int n = 0; n < xd.n; n++) {
        const float *xn = x + (int64_t)n * cin * G;
        const float *dyn = dy + (int64_t)n * cout * O;
        float *dxn = dx ? dx + (int64_t)n * cin * G : NULL;
        if (db)
            bias_grad(dyn, cout, O, db);
        for (int64_t j0 = 0; j0 < h.gvalid; j0 += h.J) {
            int64_t j1 = j0 + h.J < h.gvalid ? j0 + h.J : h.gvalid;
            int J = (int)(j1 - j0);
            /* dy embedded in the chunk of the input grid, zero off the output */
            memset(D, 0, (size_t)cout * J * sizeof(float));
            FOR_VALID_RUNS(h, yd, j0, j1, {
                for (int co = 0; co < cout; co++)
                    memcpy(D + (int64_t)co * J + (g0 - j0), dyn + (int64_t)co * O + o0,
                           (size_t)n * sizeof(float));
            });
            for (int tap = 0; tap < h.k3; tap++) {
                const int64_t off = j0 + tap_offset(&h, k, tap);
                if (dW)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, cin, J, 1.0f, D, J,
                                xn + off, (int)G, 1.0f, dWt + (int64_t)tap * cout * cin, cin);
                if (dxn)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cin, J, cout, 1.0f,
                                Wt + (int64_t)tap * cout * cin, cin, D, J, 1.0f, dxn + off,
                                (int)G);
            }
        }
    }
    if (dW)
        for (int tap = 0; tap < h.k3; tap++)
            for (int co = 0; co < cout; co++)
                for (int ci = 0; ci < cin; ci++)
                    dW[((int64_t)co * cin + ci) * h.k3 + tap] += dWt[((int64_t)tap * cout + co) * cin + ci];
}

/* ------------------------------------------------------------------ conv3d */

ct_status ct_conv3d_dims(ct_tdims xd, int cout, int k, int s, ct_tdims *yd)
{
    if (!tdims_ok(xd) || cout <= 0 || k <= 0 || s <= 0)
        CT_FAIL(CT_ERR_ARG, "bad conv3d shape (n %d, c %d, %dx%dx%d, cout %d, k %d, s %d)",
                xd.n, xd.c, xd.s[0], xd.s[1], xd.s[2], cout, k, s);
    *yd = xd;
    yd->c = cout;
    for (int a = 0; a < 3; a++) {
        if (xd.s[a] < k)
            CT_FAIL(CT_ERR_ARG, "conv3d input axis %d has %d cells, fewer than the kernel %d",
                    a, xd.s[a], k);
        yd->s[a] = (xd.s[a] - k) / s + 1;
    }
    return CT_OK;
}

/* big: the convolution's input or the transposed convolution's output */
static relation relation_of(ct_tdims big, ct_tdims small, int k, int s)
{
    relation r = {.C = big.c, .k = k, .s = s};
    for (int a = 0; a < 3; a++) {
        r.G[a] = big.s[a];
        r.S[a] = small.s[a];
    }
    return r;
}

size_t ct_conv3d_work_len(ct_tdims xd, int cout, int k, int s)
{
    ct_tdims yd;
    if (ct_conv3d_dims(xd, cout, k, s, &yd) != CT_OK) {
        ct_error_clear();
        return 0;
    }
    relation r = relation_of(xd, yd, k, s);
    size_t len = relation_work_len(&r);
    if (use_shifts(xd, k, s) && shifts_work_len(xd, yd, cout, k) > len)
        len = shifts_work_len(xd, yd, cout, k);
    return len;
}

/* The set-up a convolution or a transposed convolution call shares: the
 * output shape, the big/small grid relation, the columns' rows (K), planes per
 * column block, and the work array (the caller's or its own). Its loops run
 * over blocks [z0, z0 + pb) of the small grid's zn planes. */
typedef struct {
    ct_tdims yd;
    relation r;
    int K, pb, zn;
    int64_t icells, ocells, plane; /* plane: cells of one small-grid plane */
    float *work, *owned;
} conv_call;

static ct_status conv_call_begin(conv_call *c, int transposed, ct_tdims xd, int cout, int k,
                                 int s, float *work)
{
    size_t len;
    c->owned = NULL;
    if (transposed) {
        CT_CHECK(ct_deconv3d_dims(xd, cout, k, s, &c->yd));
        c->r = relation_of(c->yd, xd, k, s);
        len = relation_work_len(&c->r);
    } else {
        CT_CHECK(ct_conv3d_dims(xd, cout, k, s, &c->yd));
        c->r = relation_of(xd, c->yd, k, s);
        len = ct_conv3d_work_len(xd, cout, k, s);
    }
    c->work = work;
    if (!c->work) {
        CT_CHECK(ct_calloc(&c->owned, len ? len : 1, sizeof(float), "convolution columns"));
        c->work = c->owned;
    }
    c->K = c->r.C * k * k * k;
    c->pb = block_planes(&c->r);
    c->zn = c->r.S[0];
    c->icells = ct_tdims_cells(xd);
    c->ocells = ct_tdims_cells(c->yd);
    c->plane = (int64_t)c->r.S[1] * c->r.S[2];
    return CT_OK;
}

ct_status ct_conv3d_forward(const float *x, ct_tdims xd, const float *W, const float *b,
                            int cout, int k, int s, float *y, float *work)
{
    conv_call c;
    CT_CHECK(conv_call_begin(&c, 0, xd, cout, k, s, work));
    if (use_shifts(xd, k, s)) {
        shifts_forward(x, xd, c.yd, W, b, cout, k, y, c.work);
        ct_free(&c.owned);
        return CT_OK;
    }
    for (int n = 0; n < xd.n; n++) {
        const float *xn = x + (int64_t)n * xd.c * c.icells;
        float *yn = y + (int64_t)n * cout * c.ocells;
        bias_fill(yn, b, cout, c.ocells);
        for (int z0 = 0; z0 < c.zn; z0 += c.pb) {
            int z1 = z0 + c.pb < c.zn ? z0 + c.pb : c.zn;
            int nc = (int)((z1 - z0) * c.plane);
            im2col(&c.r, xn, z0, z1, c.work);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, nc, c.K, 1.0f, W, c.K,
                        c.work, nc, 1.0f, yn + z0 * c.plane, (int)c.ocells);
        }
    }
    ct_free(&c.owned);
    return CT_OK;
}

ct_status ct_conv3d_backward(const float *x, ct_tdims xd, const float *W, int cout, int k,
                             int s, const float *dy, float *dx, float *dW, float *db,
                             float *work)
{
    conv_call c;
    CT_CHECK(conv_call_begin(&c, 0, xd, cout, k, s, work));
    if (use_shifts(xd, k, s)) {
        shifts_backward(x, xd, c.yd, W, cout, k, dy, dx, dW, db, c.work);
        ct_free(&c.owned);
        return CT_OK;
    }
    if (dx)
        memset(dx, 0, (size_t)ct_tdims_count(xd) * sizeof(float));
    for (int n = 0; n < xd.n; n++) {
        const float *xn = x + (int64_t)n * xd.c * c.icells;
        const float *dyn = dy + (int64_t)n * cout * c.ocells;
        if (db)
            bias_grad(dyn, cout, c.ocells, db);
        for (int z0 = 0; z0 < c.zn; z0 += c.pb) {
            int z1 = z0 + c.pb < c.zn ? z0 + c.pb : c.zn;
            int nc = (int)((z1 - z0) * c.plane);
            if (dW) {
                im2col(&c.r, xn, z0, z1, c.work);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, c.K, nc, 1.0f,
                            dyn + z0 * c.plane, (int)c.ocells, c.work, nc, 1.0f, dW, c.K);
            }
            if (dx) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c.K, nc, cout, 1.0f, W,
                            c.K, dyn + z0 * c.plane, (int)c.ocells, 0.0f, c.work, nc);
                col2im(&c.r, c.work, z0, z1, dx + (int64_t)n * xd.c * c.icells);
            }
        }
    }
    ct_free(&c.owned);
    return CT_OK;
}

/* ------------------------------------------------------ transposed conv3d */

ct_status ct_deconv3d_dims(ct_tdims xd, int cout, int k, int s, ct_tdims *yd)
{
    if (!tdims_ok(xd) || cout <= 0 || k <= 0 || s <= 0)
        CT_FAIL(CT_ERR_ARG, "bad deconv3d shape (n %d, c %d, %dx%dx%d, cout %d, k %d, s %d)",
                xd.n, xd.c, xd.s[0], xd.s[1], xd.s[2], cout, k, s);
    *yd = xd;
    yd->c = cout;
    for (int a = 0; a < 3; a++)
        yd->s[a] = (xd.s[a] - 1) * s + k;
    return CT_OK;
}

size_t ct_deconv3d_work_len(ct_tdims xd, int cout, int k, int s)
{
    ct_tdims yd;
    if (ct_deconv3d_dims(xd, cout, k, s, &yd) != CT_OK) {
        ct_error_clear();
        return 0;
    }
    relation r = relation_of(yd, xd, k, s);
    return relation_work_len(&r);
}

ct_status ct_deconv3d_forward(const float *x, ct_tdims xd, const float *W, const float *b,
                              int cout, int k, int s, float *y, float *work)
{
    conv_call c;
    CT_CHECK(conv_call_begin(&c, 1, xd, cout, k, s, work));
    for (int n = 0; n < xd.n; n++) {
        const float *xn = x + (int64_t)n * xd.c * c.icells;
        float *yn = y + (int64_t)n * cout * c.ocells;
        bias_fill(yn, b, cout, c.ocells);
        for (int z0 = 0; z0 < c.zn; z0 += c.pb) {
            int z1 = z0 + c.pb < c.zn ? z0 + c.pb : c.zn;
            int nc = (int)((z1 - z0) * c.plane);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c.K, nc, xd.c, 1.0f, W, c.K,
                        xn + z0 * c.plane, (int)c.icells, 0.0f, c.work, nc);
            col2im(&c.r, c.work, z0, z1, yn);
        }
    }
    ct_free(&c.owned);
    return CT_OK;
}

ct_status ct_deconv3d_backward(const float *x, ct_tdims xd, const float *W, int cout, int k,
                               int s, const float *dy, float *dx, float *dW, float *db,
                               float *work)
{
    conv_call c;
    CT_CHECK(conv_call_begin(&c, 1, xd, cout, k, s, work));
    for (int n = 0; n < xd.n; n++) {
        const float *xn = x + (int64_t)n * xd.c * c.icells;
        const float *dyn = dy + (int64_t)n * cout * c.ocells;
        if (db)
            bias_grad(dyn, cout, c.ocells, db);
        for (int z0 = 0; z0 < c.zn; z0 += c.pb) {
            int z1 = z0 + c.pb < c.zn ? z0 + c.pb : c.zn;
            int nc = (int)((z1 - z0) * c.plane);
            im2col(&c.r, dyn, z0, z1, c.work);
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, xd.c, nc, c.K, 1.0f, W,
                            c.K, c.work, nc, 0.0f,
                            dx + (int64_t)n * xd.c * c.icells + z0 * c.plane, (int)c.icells);
            if (dW)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, xd.c, c.K, nc, 1.0f,
                            xn + z0 * c.plane, (int)c.icells, c.work, nc, 1.0f, dW, c.K);
        }
    }
    ct_free(&c.owned);
    return CT_OK;
}

/* -------------------------------------------------------------- batch norm */

static ct_status allreduce_sum(double *v, int n, MPI_Comm comm)
{
    if (comm == MPI_COMM_NULL)
        return CT_OK;
    if (MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        CT_FAIL(CT_ERR_MPI, "MPI_Allreduce of %d batch-norm sums failed", n);
    return CT_OK;
}

ct_status ct_batchnorm_forward(const float *x, ct_tdims xd, const float *gamma,
                               const float *beta, float *running_mean, float *running_var,
                               double momentum, double eps, int train, MPI_Comm comm,
                               float *y, float *save_mean, float *save_inv_std)
{
    const int C = xd.c;
    const int64_t cells = ct_tdims_cells(xd);
    double *sums = NULL;
    ct_status rc = CT_OK;
    if (!tdims_ok(xd))
        CT_FAIL(CT_ERR_ARG, "bad batch-norm shape");
    if (train) {
        CT_CHECK(ct_calloc(&sums, 2 * (size_t)C + 1, sizeof(double), "batch-norm sums"));
#pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++) {
            double s1 = 0, s2 = 0;
            for (int n = 0; n < xd.n; n++) {
                const float *xc = x + ((int64_t)n * C + c) * cells;
                for (int64_t i = 0; i < cells; i++) {
                    s1 += xc[i];
                    s2 += (double)xc[i] * xc[i];
                }
            }
            sums[c] = s1;
            sums[C + c] = s2;
        }
        sums[2 * C] = (double)xd.n * cells;
        CT_CHECK_GOTO(rc, allreduce_sum(sums, 2 * C + 1, comm));
        const double M = sums[2 * C];
        for (int c = 0; c < C; c++) {
            double mean = sums[c] / M;
            double var = sums[C + c] / M - mean * mean;
            if (var < 0)
                var = 0;
            save_mean[c] = (float)mean;
            save_inv_std[c] = (float)(1.0 / sqrt(var + eps));
            if (running_mean && running_var) {
                double unbiased = M > 1 ? var * M / (M - 1) : var;
                running_mean[c] = (float)((1 - momentum) * running_mean[c] + momentum * mean);
                running_var[c] = (float)((1 - momentum) * running_var[c] + momentum * unbiased);
            }
        }
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < xd.n; n++)
        for (int c = 0; c < C; c++) {
            float mean, istd;
            if (train) {
                mean = save_mean[c];
                istd = save_inv_std[c];
            } else {
                mean = running_mean[c];
                istd = (float)(1.0 / sqrt((double)running_var[c] + eps));
            }
            const float a = gamma[c] * istd, b = beta[c] - a * mean;
            const float *xc = x + ((int64_t)n * C + c) * cells;
            float *yc = y + ((int64_t)n * C + c) * cells;
            for (int64_t i = 0; i < cells; i++)
                yc[i] = a * xc[i] + b;
        }
fail:
    ct_free(&sums);
    return rc;
}

ct_status ct_batchnorm_backward(const float *x, ct_tdims xd, const float *gamma,
                                const float *save_mean, const float *save_inv_std,
                                const float *dy, MPI_Comm comm, float *dx, float *dgamma,
                                float *dbeta)
{
    const int C = xd.c;
    const int64_t cells = ct_tdims_cells(xd);
    double *sums = NULL;
    ct_status rc = CT_OK;
    CT_CHECK(ct_calloc(&sums, 2 * (size_t)C + 1, sizeof(double), "batch-norm sums"));
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double s1 = 0, s2 = 0;
        const float mean = save_mean[c], istd = save_inv_std[c];
        for (int n = 0; n < xd.n; n++) {
            const float *xc = x + ((int64_t)n * C + c) * cells;
            const float *dc = dy + ((int64_t)n * C + c) * cells;
            for (int64_t i = 0; i < cells; i++) {
                s1 += dc[i];
                s2 += (double)dc[i] * ((xc[i] - mean) * istd);
            }
        }
        sums[c] = s1;
        sums[C + c] = s2;
        if (dbeta)
            dbeta[c] += (float)s1;
        if (dgamma)
            dgamma[c] += (float)s2;
    }
    sums[2 * C] = (double)xd.n * cells;
    CT_CHECK_GOTO(rc, allreduce_sum(sums, 2 * C + 1, comm));
    const double M = sums[2 * C];
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < xd.n; n++)
        for (int c = 0; c < C; c++) {
            const float mean = save_mean[c], istd = save_inv_std[c];
            const float g = gamma[c] * istd;
            const float m1 = (float)(sums[c] / M), m2 = (float)(sums[C + c] / M);
            const float *xc = x + ((int64_t)n * C + c) * cells;
            const float *dc = dy + ((int64_t)n * C + c) * cells;
            float *oc = dx + ((int64_t)n * C + c) * cells;
            for (int64_t i = 0; i < cells; i++)
                oc[i] = g * (dc[i] - m1 - (xc[i] - mean) * istd * m2);
        }
fail:
    ct_free(&sums);
    return rc;
}

/* ------------------------------------------------- activations and concat */

void ct_leaky_relu_forward(const float *x, size_t n, float slope, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : slope * x[i];
}

void ct_leaky_relu_backward(const float *y, const float *dy, size_t n, float slope, float *dx)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0 ? dy[i] : slope * dy[i];
}

void ct_concat_forward(const float *a, int ca, const float *b, int cb, int n, int64_t cells,
                       float *y)
{
    for (int i = 0; i < n; i++) {
        memcpy(y + (int64_t)i * (ca + cb) * cells, a + (int64_t)i * ca * cells,
               (size_t)(ca * cells) * sizeof(float));
        memcpy(y + ((int64_t)i * (ca + cb) + ca) * cells, b + (int64_t)i * cb * cells,
               (size_t)(cb * cells) * sizeof(float));
    }
}

void ct_concat_backward(const float *dy, int ca, int cb, int n, int64_t cells, float *da,
                        float *db)
{
    for (int i = 0; i < n; i++) {
        if (da)
            memcpy(da + (int64_t)i * ca * cells, dy + (int64_t)i * (ca + cb) * cells,
                   (size_t)(ca * cells) * sizeof(float));
        if (db)
            memcpy(db + (int64_t)i * cb * cells, dy + ((int64_t)i * (ca + cb) + ca) * cells,
                   (size_t)(cb * cells) * sizeof(float));
    }
}
