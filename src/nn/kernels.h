/* The training kernels of the MLP, written once for both compute precisions.
 *
 * Included by kernels_f64.c and kernels_f32.c with
 *   CT_NN_REAL      the element type (double or float),
 *   CT_NN_SFX(name) the name with its precision suffix (name##_f64 / name##_f32),
 *   CT_NN_GEMM, CT_NN_GEMV  the matching cblas routines,
 *   CT_NN_SQRT, CT_NN_EXP, CT_NN_TANH  the matching libm functions.
 * Sums that are reported (the loss, the gradient norm) accumulate in double in
 * both precisions; everything on the hot path (GEMMs, activations, dropout,
 * AdamW) runs in CT_NN_REAL, as a float32 framework would. No include guard: the
 * file is a template. */

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

#define REAL CT_NN_REAL
#define SFX CT_NN_SFX

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT_NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CT_NN_CLONES
#endif

CT_NN_CLONES
void SFX(ct_nn_act_apply)(ct_act a, double slope_d, REAL *v, size_t n)
{
    const REAL slope = (REAL)slope_d, one = 1;
    switch (a) {
    case CT_ACT_LINEAR:
        break;
    case CT_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            v[i] = v[i] > 0 ? v[i] : 0;
        break;
    case CT_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            v[i] = v[i] > 0 ? v[i] : slope * v[i];
        break;
    case CT_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            v[i] = CT_NN_TANH(v[i]);
        break;
    case CT_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            v[i] = one / (one + CT_NN_EXP(-v[i]));
        break;
    }
}

/* d *= act'(z), with h = act(z) */
CT_NN_CLONES
void SFX(ct_nn_act_backward)(ct_act a, double slope_d, const REAL *z, const REAL *h, REAL *d,
                             size_t n)
{
    const REAL slope = (REAL)slope_d, one = 1;
    switch (a) {
    case CT_ACT_LINEAR:
        break;
    case CT_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            d[i] = z[i] > 0 ? d[i] : 0;
        break;
    case CT_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            d[i] = z[i] > 0 ? d[i] : slope * d[i];
        break;
    case CT_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            d[i] *= one - h[i] * h[i];
        break;
    case CT_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            d[i] *= h[i] * (one - h[i]);
        break;
    }
}

/* Z (n x fout) = X (n x fin) W^T + 1 b^T */
void SFX(ct_nn_linear_forward)(const REAL *x, int64_t n, int fin, int fout, const REAL *W,
                               const REAL *b, REAL *z)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(z + i * fout, b, (size_t)fout * sizeof(REAL));
    if (n > 0)
        CT_NN_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, fout, fin, 1, x, fin, W, fin,
                   1, z, fout);
}

double SFX(ct_nn_loss)(ct_loss_kind kind, int64_t n, int nt, const REAL *y, const REAL *t,
                       const unsigned char *mask, const int *dummy, double norm_rows,
                       REAL *grad)
{
    int nlive = 0;
    for (int k = 0; k < nt; k++)
        nlive += !(dummy && dummy[k]);
    double den = norm_rows * (nlive > 0 ? nlive : 1);
    int no = kind == CT_LOSS_MOMENT ? 2 * nt : nt;
    double sum = 0;
    if (grad)
        memset(grad, 0, (size_t)(n * no) * sizeof(REAL));
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < nt; k++) {
            if ((dummy && dummy[k]) || (mask && !mask[i * nt + k]))
                continue; /* no loss, gradient stays exactly zero */
            double d = (double)y[i * no + k] - (double)t[i * nt + k];
            if (kind == CT_LOSS_MOMENT) {
                double e = d * d - (double)y[i * no + nt + k];
                sum += d * d + e * e;
                if (grad) {
                    /* mean held fixed in the variance term (moment network) */
                    grad[i * no + k] = (REAL)(2.0 * d / den);
                    grad[i * no + nt + k] = (REAL)(-2.0 * e / den);
                }
            } else {
                sum += d * d;
                if (grad)
                    grad[i * no + k] = (REAL)(2.0 * d / den);
            }
        }
    return sum / den;
}

void SFX(ct_nn_work_free)(SFX(ct_nn_work) *w)
{
    for (int l = 0; l < CT_NN_MAX_LAYERS; l++) {
        free(w->z[l]);
        free(w->h[l]);
        if (w->owns_a[l])
            free(w->a[l]);
        free(w->mk[l]);
    }
    free(w->da);
    free(w->dz);
    free(w->gy);
    free(w->ones);
    memset(w, 0, sizeof *w);
}

ct_status SFX(ct_nn_work_alloc)(SFX(ct_nn_work) *w, const ct_mlp *m, int64_t cap, int dropout)
{
    ct_status rc = CT_OK;
    memset(w, 0, sizeof *w);
    if (cap < 1)
        cap = 1;
    w->cap = cap;
    w->n_layers = m->n_layers;
    int wmax = m->dims[0];
    for (int l = 0; l < m->n_layers; l++) {
        size_t sz = (size_t)(cap * m->dims[l + 1]);
        wmax = m->dims[l + 1] > wmax ? m->dims[l + 1] : wmax;
        CT_CHECK_GOTO(rc, ct_calloc(&w->z[l], sz, sizeof(REAL), "workspace"));
        CT_CHECK_GOTO(rc, ct_calloc(&w->h[l], sz, sizeof(REAL), "workspace"));
        int hidden = l < m->n_layers - 1;
        if (dropout && hidden && m->dropout > 0) {
            CT_CHECK_GOTO(rc, ct_calloc(&w->a[l], sz, sizeof(REAL), "workspace"));
            CT_CHECK_GOTO(rc, ct_calloc(&w->mk[l], sz, sizeof(REAL), "workspace"));
            w->owns_a[l] = 1;
        } else {
            w->a[l] = w->h[l];
        }
    }
    CT_CHECK_GOTO(rc, ct_calloc(&w->da, (size_t)(cap * wmax), sizeof(REAL), "workspace"));
    CT_CHECK_GOTO(rc, ct_calloc(&w->dz, (size_t)(cap * wmax), sizeof(REAL), "workspace"));
    CT_CHECK_GOTO(rc, ct_calloc(&w->gy, (size_t)(cap * m->n_out), sizeof(REAL), "workspace"));
    CT_CHECK_GOTO(rc, ct_calloc(&w->ones, (size_t)cap, sizeof(REAL), "workspace"));
    for (int64_t i = 0; i < cap; i++)
        w->ones[i] = 1;
    return CT_OK;
fail:
    SFX(ct_nn_work_free)(w);
    return rc;
}

/* Inverted dropout multipliers for rows with global ids: unit j of layer l of
 * row g keeps with probability 1-p; the uniform comes from Philox keyed by
 * (seed, epoch and layer, g and j), so it depends neither on the rank layout nor
 * on the precision (both draw the same keep/drop pattern). */
static void SFX(dropout_mask)(REAL *mk, const int64_t *ids, int64_t n, int width, double p,
                              uint64_t seed, int epoch, int l)
{
    uint64_t stream = CT_NN_STREAM_DROPOUT | ((uint64_t)(uint32_t)epoch << 8) | (uint64_t)l;
    uint64_t blocks = (uint64_t)(width + 3) / 4;
    const REAL keep = (REAL)(1.0 / (1.0 - p));
    /* u < p with u = (r + 0.5) / 2^32  <=>  r < p 2^32 - 0.5: compare integers */
    const double thr = p * 4294967296.0 - 0.5;
    for (int64_t i = 0; i < n; i++) {
        uint64_t g = (uint64_t)(ids ? ids[i] : i);
        uint32_t r[4];
        REAL *row = mk + i * width;
        int j = 0;
        for (uint64_t blk = 0; j < width; blk++) {
            ct_philox(seed, stream, g * blocks + blk, r);
            for (int q = 0; q < 4 && j < width; q++, j++)
                row[j] = (double)r[q] < thr ? 0 : keep;
        }
    }
}

ct_status SFX(ct_nn_gradient_work)(const ct_mlp *m, SFX(ct_nn_work) *w, const REAL *params,
                                   const REAL *x, const REAL *t, const unsigned char *mask,
                                   const int64_t *ids, int64_t n, double norm_rows,
                                   int dropout_on, uint64_t seed, int epoch, REAL *grad,
                                   double *loss)
{
    memset(grad, 0, m->n_params * sizeof(REAL));
    *loss = 0;
    if (n <= 0)
        return CT_OK;
    if (n > w->cap)
        CT_FAIL(CT_ERR_ARG, "batch of %lld rows exceeds workspace of %lld", (long long)n,
                (long long)w->cap);
    int L = m->n_layers;
    int drop = dropout_on && m->dropout > 0;
    /* forward, keeping pre-activations z, activations h and dropped a */
    const REAL *in = x;
    for (int l = 0; l < L; l++) {
        int fin = m->dims[l], fout = m->dims[l + 1];
        int last = l == L - 1;
        size_t sz = (size_t)(n * fout);
        const REAL *W = params + m->offset[l], *b = W + (size_t)fin * (size_t)fout;
        SFX(ct_nn_linear_forward)(in, n, fin, fout, W, b, w->z[l]);
        memcpy(w->h[l], w->z[l], sz * sizeof(REAL));
        SFX(ct_nn_act_apply)(last ? m->out_act : m->hidden_act, m->leaky_slope, w->h[l], sz);
        if (!last && drop && w->owns_a[l]) {
            SFX(dropout_mask)(w->mk[l], ids, n, fout, m->dropout, seed, epoch, l);
            for (size_t i = 0; i < sz; i++)
                w->a[l][i] = w->h[l][i] * w->mk[l][i];
        } else if (w->a[l] != w->h[l]) {
            memcpy(w->a[l], w->h[l], sz * sizeof(REAL));
        }
        in = w->a[l];
    }
    *loss = SFX(ct_nn_loss)(m->loss, n, m->n_targets, w->h[L - 1], t, mask, m->dummy, norm_rows,
                            w->gy);
    /* lowest layer that needs a gradient: nothing below it is backpropagated */
    int lowest = L;
    for (int l = 0; l < L; l++)
        if (!m->frozen[l]) {
            lowest = l;
            break;
        }
    if (lowest == L)
        return CT_OK;
    /* backward */
    REAL *dz = w->dz, *da = w->da;
    memcpy(dz, w->gy, (size_t)(n * m->n_out) * sizeof(REAL));
    SFX(ct_nn_act_backward)(m->out_act, m->leaky_slope, w->z[L - 1], w->h[L - 1], dz,
                            (size_t)(n * m->n_out));
    for (int l = L - 1; l >= lowest; l--) {
        int fin = m->dims[l], fout = m->dims[l + 1];
        const REAL *aprev = l > 0 ? w->a[l - 1] : x;
        if (!m->frozen[l]) {
            REAL *gW = grad + m->offset[l];
            REAL *gb = gW + (size_t)fin * (size_t)fout;
            CT_NN_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, fout, fin, (int)n, 1, dz, fout,
                       aprev, fin, 0, gW, fin);
            CT_NN_GEMV(CblasRowMajor, CblasTrans, (int)n, fout, 1, dz, fout, w->ones, 1, 0, gb, 1);
        }
        if (l > lowest) {
            const REAL *W = params + m->offset[l];
            CT_NN_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, fin, fout, 1, dz, fout,
                       W, fin, 0, da, fin);
            size_t sz = (size_t)(n * fin);
            if (w->owns_a[l - 1] && drop)
                for (size_t i = 0; i < sz; i++)
                    da[i] *= w->mk[l - 1][i];
            SFX(ct_nn_act_backward)(m->hidden_act, m->leaky_slope, w->z[l - 1], w->h[l - 1], da,
                                    sz);
            REAL *tmp = dz;
            dz = da;
            da = tmp;
        }
    }
    return CT_OK;
}

/* The gradient over n rows with a workspace of its own; rows have global ids
 * row0 + i (dropout keys). */
ct_status SFX(ct_nn_gradient_rows)(const ct_mlp *m, const REAL *params, const REAL *x,
                                   const REAL *t, const unsigned char *mask, int64_t n,
                                   double norm_rows, int dropout_on, uint64_t seed, int epoch,
                                   int64_t row0, REAL *grad, double *loss)
{
    ct_status rc = CT_OK;
    SFX(ct_nn_work) w;
    int64_t *ids = NULL;
    CT_CHECK(SFX(ct_nn_work_alloc)(&w, m, n, dropout_on));
    CT_CHECK_GOTO(rc, ct_calloc(&ids, (size_t)(n > 0 ? n : 1), sizeof(int64_t), "row ids"));
    for (int64_t i = 0; i < n; i++)
        ids[i] = row0 + i;
    CT_CHECK_GOTO(rc, SFX(ct_nn_gradient_work)(m, &w, params, x, t, mask, ids, n, norm_rows,
                                               dropout_on, seed, epoch, grad, loss));
fail:
    free(ids);
    SFX(ct_nn_work_free)(&w);
    return rc;
}

/* One AdamW update of n parameters (torch.optim.AdamW's arithmetic: decoupled
 * weight decay first, then the bias-corrected step); restrict and precomputed
 * constants let the compiler vectorise the loop. */
CT_NN_CLONES
void SFX(ct_nn_adamw)(REAL *restrict p, REAL *restrict m1, REAL *restrict m2,
                      const REAL *restrict g, size_t n, double decay_d, double b1_d,
                      double b2_d, double step_d, double inv_sqrt_bc2_d, double eps_d)
{
    const REAL decay = (REAL)decay_d, b1 = (REAL)b1_d, b2 = (REAL)b2_d, step = (REAL)step_d;
    const REAL isb = (REAL)inv_sqrt_bc2_d, eps = (REAL)eps_d;
    const REAL c1 = (REAL)(1.0 - b1_d), c2 = (REAL)(1.0 - b2_d);
    for (size_t i = 0; i < n; i++) {
        REAL gi = g[i];
        REAL a = b1 * m1[i] + c1 * gi;
        REAL v = b2 * m2[i] + c2 * gi * gi;
        m1[i] = a;
        m2[i] = v;
        p[i] = p[i] * decay - step * a / (CT_NN_SQRT(v) * isb + eps);
    }
}

#undef REAL
#undef SFX
#undef CT_NN_CLONES
