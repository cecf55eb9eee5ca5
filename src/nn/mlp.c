/* The MLP: creation, initialisation, inference forward pass, normalisation and
 * target scaling; the training kernels are in kernels.h. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

void ct_nn_set_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
}

static const char *act_names[] = {"linear", "relu", "leaky_relu", "tanh", "sigmoid"};

static const char *prec_names[] = {"float64", "float32"};

const char *ct_nn_precision_name(ct_nn_precision p)
{
    return (unsigned)p < 2 ? prec_names[p] : "?";
}

ct_status ct_nn_precision_parse(const char *s, ct_nn_precision *p)
{
    if (!strcmp(s, "float64") || !strcmp(s, "double")) {
        *p = CT_NN_FLOAT64;
        return CT_OK;
    }
    if (!strcmp(s, "float32") || !strcmp(s, "float") || !strcmp(s, "single")) {
        *p = CT_NN_FLOAT32;
        return CT_OK;
    }
    CT_FAIL(CT_ERR_ARG, "unknown precision '%s' (float64, float32)", s);
}

const char *ct_act_name(ct_act a)
{
    return (unsigned)a < 5 ? act_names[a] : "?";
}

ct_status ct_act_parse(const char *s, ct_act *a)
{
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, act_names[i])) {
            *a = (ct_act)i;
            return CT_OK;
        }
    if (!strcmp(s, "leakyrelu") || !strcmp(s, "leaky")) {
        *a = CT_ACT_LEAKY_RELU;
        return CT_OK;
    }
    CT_FAIL(CT_ERR_ARG, "unknown activation '%s' (linear, relu, leaky_relu, tanh, sigmoid)", s);
}

void ct_mlp_arch_defaults(ct_mlp_arch *a)
{
    memset(a, 0, sizeof *a);
    a->hidden_act = CT_ACT_LEAKY_RELU;
    a->leaky_slope = 0.2;
    a->dropout = 0.0;
    a->out_act = CT_ACT_SIGMOID;
    a->init = CT_INIT_HE;
    a->loss = CT_LOSS_MSE;
    a->seed = 1;
}

ct_status ct_nn_alloc(ct_mlp **out, int n_in, int n_targets, ct_loss_kind loss, int n_layers,
                      const int *dims)
{
    ct_status rc = CT_OK;
    ct_mlp *m = NULL;
    if (n_layers < 1 || n_layers > CT_NN_MAX_LAYERS)
        CT_FAIL(CT_ERR_ARG, "%d layers (allowed 1..%d)", n_layers, CT_NN_MAX_LAYERS);
    for (int l = 0; l <= n_layers; l++)
        if (dims[l] < 1 || dims[l] > (1 << 20))
            CT_FAIL(CT_ERR_ARG, "layer size %d at position %d out of range", dims[l], l);
    int n_out = loss == CT_LOSS_MOMENT ? 2 * n_targets : n_targets;
    if (dims[0] != n_in || dims[n_layers] != n_out)
        CT_FAIL(CT_ERR_ARG, "layer sizes do not match %d inputs and %d outputs", n_in, n_out);
    CT_CHECK(ct_calloc(&m, 1, sizeof *m, "model"));
    m->n_in = n_in;
    m->n_targets = n_targets;
    m->n_out = n_out;
    m->loss = loss;
    m->n_layers = n_layers;
    m->hidden_act = CT_ACT_LEAKY_RELU;
    m->leaky_slope = 0.2;
    m->out_act = CT_ACT_SIGMOID;
    size_t np = 0;
    for (int l = 0; l <= n_layers; l++)
        m->dims[l] = dims[l];
    for (int l = 0; l < n_layers; l++) {
        m->offset[l] = np;
        np += (size_t)dims[l + 1] * (size_t)dims[l] + (size_t)dims[l + 1];
    }
    m->n_params = np;
    CT_CHECK_GOTO(rc, ct_calloc(&m->params, np, sizeof(double), "parameters"));
    for (int l = 0; l < n_layers; l++) {
        m->W[l] = m->params + m->offset[l];
        m->b[l] = m->W[l] + (size_t)dims[l + 1] * (size_t)dims[l];
    }
    CT_CHECK_GOTO(rc, ct_calloc(&m->target_name, (size_t)n_targets, CT_NN_NAME_MAX, "names"));
    CT_CHECK_GOTO(rc, ct_calloc(&m->target_lo, (size_t)n_targets, sizeof(double), "ranges"));
    CT_CHECK_GOTO(rc, ct_calloc(&m->target_hi, (size_t)n_targets, sizeof(double), "ranges"));
    CT_CHECK_GOTO(rc, ct_calloc(&m->dummy, (size_t)n_targets, sizeof(int), "dummy flags"));
    for (int k = 0; k < n_targets; k++) {
        snprintf(m->target_name[k], CT_NN_NAME_MAX, "t%d", k);
        m->target_hi[k] = 1.0;
    }
    *out = m;
    return CT_OK;
fail:
    ct_mlp_destroy(&m);
    return rc;
}

void ct_mlp_destroy(ct_mlp **mp)
{
    if (!mp || !*mp)
        return;
    ct_mlp *m = *mp;
    free(m->params);
    free(m->in_mean);
    free(m->in_std);
    free(m->target_name);
    free(m->target_lo);
    free(m->target_hi);
    free(m->dummy);
    free(m->hist_train);
    free(m->hist_val);
    free(m->hist_lr);
    free(m->config_text);
    if (m->prov) {
        ct_model_prov_free(m->prov);
        free(m->prov);
    }
    free(m);
    *mp = NULL;
}

ct_status ct_mlp_init_layer(ct_mlp *m, int l, uint64_t seed)
{
    if (l < 0 || l >= m->n_layers)
        CT_FAIL(CT_ERR_ARG, "no layer %d", l);
    int fin = m->dims[l], fout = m->dims[l + 1];
    /* Kaiming-normal (fan_in, gain sqrt 2) as in torch.nn.init.kaiming_normal_;
     * Glorot-normal std sqrt(2/(fan_in+fan_out)); biases zero. */
    double sd = m->init == CT_INIT_GLOROT ? sqrt(2.0 / (fin + fout)) : sqrt(2.0 / fin);
    ct_rng r;
    ct_rng_init(&r, seed, CT_NN_STREAM_INIT + (uint64_t)l, 0);
    size_t nw = (size_t)fin * (size_t)fout;
    for (size_t i = 0; i < nw; i++)
        m->W[l][i] = sd * ct_rng_normal(&r);
    memset(m->b[l], 0, (size_t)fout * sizeof(double));
    return CT_OK;
}

ct_status ct_mlp_create(ct_mlp **out, const ct_mlp_arch *a)
{
    ct_status rc = CT_OK;
    ct_mlp *m = NULL;
    int dims[CT_NN_MAX_LAYERS + 1];
    if (!a || a->n_in < 1 || a->n_targets < 1)
        CT_FAIL(CT_ERR_ARG, "a network needs at least one input and one target");
    if (a->n_hidden < 0 || a->n_hidden >= CT_NN_MAX_LAYERS)
        CT_FAIL(CT_ERR_ARG, "%d hidden layers (allowed 0..%d)", a->n_hidden,
                CT_NN_MAX_LAYERS - 1);
    if (!(a->dropout >= 0 && a->dropout < 1))
        CT_FAIL(CT_ERR_ARG, "dropout %g outside [0, 1)", a->dropout);
    if (a->out_act != CT_ACT_LINEAR && a->out_act != CT_ACT_SIGMOID)
        CT_FAIL(CT_ERR_ARG, "output activation must be linear or sigmoid");
    if ((unsigned)a->hidden_act > CT_ACT_SIGMOID)
        CT_FAIL(CT_ERR_ARG, "bad hidden activation");
    dims[0] = a->n_in;
    for (int l = 0; l < a->n_hidden; l++)
        dims[l + 1] = a->width[l];
    dims[a->n_hidden + 1] = a->loss == CT_LOSS_MOMENT ? 2 * a->n_targets : a->n_targets;
    CT_CHECK(ct_nn_alloc(&m, a->n_in, a->n_targets, a->loss, a->n_hidden + 1, dims));
    m->hidden_act = a->hidden_act;
    m->out_act = a->out_act;
    m->leaky_slope = a->leaky_slope;
    m->dropout = a->dropout;
    m->init = a->init;
    for (int l = 0; l < m->n_layers; l++)
        CT_CHECK_GOTO(rc, ct_mlp_init_layer(m, l, a->seed));
    *out = m;
    return CT_OK;
fail:
    ct_mlp_destroy(&m);
    return rc;
}

void ct_mlp_get_arch(const ct_mlp *m, ct_mlp_arch *a)
{
    ct_mlp_arch_defaults(a);
    a->n_in = m->n_in;
    a->n_targets = m->n_targets;
    a->n_hidden = m->n_layers - 1;
    for (int l = 0; l + 1 < m->n_layers; l++)
        a->width[l] = m->dims[l + 1];
    a->hidden_act = m->hidden_act;
    a->out_act = m->out_act;
    a->leaky_slope = m->leaky_slope;
    a->dropout = m->dropout;
    a->init = m->init;
    a->loss = m->loss;
    a->seed = 0;
}

static ct_status dup_doubles(double **dst, const double *src, size_t n)
{
    *dst = NULL;
    if (!src)
        return CT_OK;
    CT_CHECK(ct_calloc(dst, n ? n : 1, sizeof(double), "copy"));
    memcpy(*dst, src, n * sizeof(double));
    return CT_OK;
}

ct_status ct_nn_set_history(ct_mlp *m, int n, const double *tr, const double *va,
                            const double *lr)
{
    free(m->hist_train);
    free(m->hist_val);
    free(m->hist_lr);
    m->hist_train = m->hist_val = m->hist_lr = NULL;
    m->n_history = 0;
    if (n <= 0)
        return CT_OK;
    CT_CHECK(dup_doubles(&m->hist_train, tr, (size_t)n));
    CT_CHECK(dup_doubles(&m->hist_val, va, (size_t)n));
    CT_CHECK(dup_doubles(&m->hist_lr, lr, (size_t)n));
    m->n_history = n;
    return CT_OK;
}

ct_status ct_nn_append_history(ct_mlp *m, double tr, double va, double lr)
{
    int n = m->n_history + 1;
    double *a = realloc(m->hist_train, (size_t)n * sizeof(double));
    if (a)
        m->hist_train = a;
    double *b = realloc(m->hist_val, (size_t)n * sizeof(double));
    if (b)
        m->hist_val = b;
    double *c = realloc(m->hist_lr, (size_t)n * sizeof(double));
    if (c)
        m->hist_lr = c;
    if (!a || !b || !c)
        CT_FAIL(CT_ERR_MEMORY, "out of memory for the training history");
    m->hist_train[n - 1] = tr;
    m->hist_val[n - 1] = va;
    m->hist_lr[n - 1] = lr;
    m->n_history = n;
    return CT_OK;
}

ct_status ct_mlp_copy(const ct_mlp *s, ct_mlp **out)
{
    ct_status rc = CT_OK;
    ct_mlp *m = NULL;
    CT_CHECK(ct_nn_alloc(&m, s->n_in, s->n_targets, s->loss, s->n_layers, s->dims));
    m->hidden_act = s->hidden_act;
    m->out_act = s->out_act;
    m->leaky_slope = s->leaky_slope;
    m->dropout = s->dropout;
    m->init = s->init;
    memcpy(m->params, s->params, s->n_params * sizeof(double));
    memcpy(m->frozen, s->frozen, sizeof m->frozen);
    m->in_log10 = s->in_log10;
    CT_CHECK_GOTO(rc, dup_doubles(&m->in_mean, s->in_mean, (size_t)s->n_in));
    CT_CHECK_GOTO(rc, dup_doubles(&m->in_std, s->in_std, (size_t)s->n_in));
    memcpy(m->target_name, s->target_name, (size_t)s->n_targets * CT_NN_NAME_MAX);
    memcpy(m->target_lo, s->target_lo, (size_t)s->n_targets * sizeof(double));
    memcpy(m->target_hi, s->target_hi, (size_t)s->n_targets * sizeof(double));
    memcpy(m->dummy, s->dummy, (size_t)s->n_targets * sizeof(int));
    CT_CHECK_GOTO(rc, ct_nn_set_history(m, s->n_history, s->hist_train, s->hist_val,
                                        s->hist_lr));
    CT_CHECK_GOTO(rc, ct_mlp_set_config_text(m, s->config_text));
    if (s->prov) {
        CT_CHECK_GOTO(rc, ct_calloc(&m->prov, 1, sizeof *m->prov, "provenance"));
        CT_CHECK_GOTO(rc, ct_model_prov_copy(m->prov, s->prov));
    }
    *out = m;
    return CT_OK;
fail:
    ct_mlp_destroy(&m);
    return rc;
}

ct_status ct_mlp_set_config_text(ct_mlp *m, const char *text)
{
    free(m->config_text);
    m->config_text = NULL;
    if (!text)
        return CT_OK;
    size_t n = strlen(text) + 1;
    CT_CHECK(ct_calloc(&m->config_text, n, 1, "config text"));
    memcpy(m->config_text, text, n);
    return CT_OK;
}

ct_status ct_mlp_set_targets(ct_mlp *m, const char *const *names, const double *lo,
                             const double *hi, const int *dummy)
{
    for (int k = 0; k < m->n_targets; k++) {
        double l = lo ? lo[k] : m->target_lo[k], h = hi ? hi[k] : m->target_hi[k];
        if (!(h > l) || !isfinite(l) || !isfinite(h))
            CT_FAIL(CT_ERR_ARG, "target %d: range [%g, %g] is empty", k, l, h);
    }
    for (int k = 0; k < m->n_targets; k++) {
        if (names && names[k])
            snprintf(m->target_name[k], CT_NN_NAME_MAX, "%s", names[k]);
        if (lo)
            m->target_lo[k] = lo[k];
        if (hi)
            m->target_hi[k] = hi[k];
        m->dummy[k] = dummy ? (dummy[k] != 0) : 0;
    }
    return CT_OK;
}

ct_status ct_mlp_set_input_norm(ct_mlp *m, int log10_inputs, const double *mean,
                                const double *sd)
{
    free(m->in_mean);
    free(m->in_std);
    m->in_mean = m->in_std = NULL;
    m->in_log10 = log10_inputs != 0;
    if (!mean || !sd)
        return CT_OK;
    for (int j = 0; j < m->n_in; j++)
        if (!(sd[j] > 0) || !isfinite(mean[j]))
            CT_FAIL(CT_ERR_NUMERIC, "input bin %d: std %g / mean %g unusable for normalisation",
                    j, sd[j], mean[j]);
    CT_CHECK(dup_doubles(&m->in_mean, mean, (size_t)m->n_in));
    CT_CHECK(dup_doubles(&m->in_std, sd, (size_t)m->n_in));
    return CT_OK;
}

void ct_mlp_copy_input_norm(ct_mlp *dst, const ct_mlp *src)
{
    if (dst->n_in != src->n_in)
        return;
    ct_mlp_set_input_norm(dst, src->in_log10, src->in_mean, src->in_std);
}

int ct_prior_range(const char *name, double *lo, double *hi)
{
    static const struct {
        const char *name;
        double lo, hi;
    } t[] = {
        {"Omega_m", 0.1, 0.5},      {"Om", 0.1, 0.5},           {"Omega_M", 0.1, 0.5},
        {"Omega_b", 0.02, 0.08},    {"Ob", 0.02, 0.08},         {"h", 0.5, 0.9},
        {"n_s", 0.8, 1.2},          {"ns", 0.8, 1.2},           {"sigma_8", 0.6, 1.0},
        {"s8", 0.6, 1.0},           {"sigma8", 0.6, 1.0},       {"M_nu", 0.01, 1.0},
        {"Mnu", 0.01, 1.0},         {"m_nu", 0.01, 1.0},        {"w", -1.3, -0.7},
        {"f_R0", -3e-4, 0.0},       {"fR0", -3e-4, 0.0},        {"f_NL_local", -300, 300},
        {"fNL_loc", -300, 300},     {"f_NL_equilateral", -600, 600},
        {"fNL_eq", -600, 600},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(name, t[i].name)) {
            *lo = t[i].lo;
            *hi = t[i].hi;
            return 1;
        }
    return 0;
}

ct_status ct_mlp_forward(const ct_mlp *m, const double *x, int64_t n, double *out, double **acts)
{
    ct_status rc = CT_OK;
    double *buf[2] = {NULL, NULL};
    if (n <= 0)
        return CT_OK;
    int wmax = 0;
    for (int l = 1; l <= m->n_layers; l++)
        wmax = m->dims[l] > wmax ? m->dims[l] : wmax;
    /* Process in chunks so the scratch stays small whatever n is. */
    const int64_t chunk = 1024;
    int64_t cap = n < chunk ? n : chunk;
    CT_CHECK_GOTO(rc, ct_calloc(&buf[0], (size_t)(cap * wmax), sizeof(double), "forward"));
    CT_CHECK_GOTO(rc, ct_calloc(&buf[1], (size_t)(cap * wmax), sizeof(double), "forward"));
    for (int64_t i0 = 0; i0 < n; i0 += cap) {
        int64_t nb = n - i0 < cap ? n - i0 : cap;
        const double *in = x + i0 * m->n_in;
        for (int l = 0; l < m->n_layers; l++) {
            int fin = m->dims[l], fout = m->dims[l + 1];
            int last = l == m->n_layers - 1;
            double *z = last ? out + i0 * fout : buf[l & 1];
            ct_nn_linear_forward_f64(in, nb, fin, fout, m->W[l], m->b[l], z);
            ct_nn_act_apply_f64(last ? m->out_act : m->hidden_act, m->leaky_slope, z,
                                (size_t)(nb * fout));
            if (acts && acts[l])
                memcpy(acts[l] + i0 * fout, z, (size_t)(nb * fout) * sizeof(double));
            in = z;
        }
    }
fail:
    free(buf[0]);
    free(buf[1]);
    return rc;
}

/* ---------------------------------------------------------------- scaling */

ct_status ct_mlp_normalize_inputs(const ct_mlp *m, const double *xr, int64_t n, double *xn)
{
    int d = m->n_in;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double v = xr[i * d + j];
            if (m->in_log10) {
                if (!(v > 0))
                    CT_FAIL(CT_ERR_NUMERIC,
                            "input row %lld bin %d is %g: log10 needs positive inputs",
                            (long long)i, j, v);
                v = log10(v);
            }
            if (m->in_mean)
                v = (v - m->in_mean[j]) / m->in_std[j];
            if (!isfinite(v))
                CT_FAIL(CT_ERR_NUMERIC, "input row %lld bin %d is not finite", (long long)i, j);
            xn[i * d + j] = v;
        }
    return CT_OK;
}

void ct_mlp_scale_targets(const ct_mlp *m, const double *t, int64_t n, double *ts)
{
    int nt = m->n_targets;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < nt; k++)
            ts[i * nt + k] = (t[i * nt + k] - m->target_lo[k]) / (m->target_hi[k] - m->target_lo[k]);
}

void ct_mlp_unscale_outputs(const ct_mlp *m, const double *y, int64_t n, double *yp)
{
    int nt = m->n_targets, no = m->n_out;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < nt; k++) {
            double r = m->target_hi[k] - m->target_lo[k];
            yp[i * no + k] = m->target_lo[k] + r * y[i * no + k];
            if (m->loss == CT_LOSS_MOMENT)
                yp[i * no + nt + k] = r * r * y[i * no + nt + k];
        }
}

ct_status ct_mlp_predict(const ct_mlp *m, const double *xr, int64_t n, double *yp)
{
    ct_status rc = CT_OK;
    double *xn = NULL, *y = NULL;
    if (n <= 0)
        return CT_OK;
    CT_CHECK_GOTO(rc, ct_calloc(&xn, (size_t)(n * m->n_in), sizeof(double), "inputs"));
    CT_CHECK_GOTO(rc, ct_calloc(&y, (size_t)(n * m->n_out), sizeof(double), "outputs"));
    CT_CHECK_GOTO(rc, ct_mlp_normalize_inputs(m, xr, n, xn));
    CT_CHECK_GOTO(rc, ct_mlp_forward(m, xn, n, y, NULL));
    ct_mlp_unscale_outputs(m, y, n, yp);
fail:
    free(xn);
    free(y);
    return rc;
}

/* ---------------------------------------------------------------- loss, gradient */

double ct_nn_loss(ct_loss_kind kind, int64_t n, int nt, const double *y, const double *t,
                  const unsigned char *mask, const int *dummy, double norm_rows, double *grad)
{
    return ct_nn_loss_f64(kind, n, nt, y, t, mask, dummy, norm_rows, grad);
}

ct_status ct_mlp_gradient(const ct_mlp *m, const double *x, const double *t,
                          const unsigned char *mask, int64_t n, double norm_rows,
                          int dropout_on, uint64_t seed, int epoch, int64_t row0, double *grad,
                          double *loss)
{
    return ct_nn_gradient_rows_f64(m, m->params, x, t, mask, n, norm_rows, dropout_on, seed,
                                   epoch, row0, grad, loss);
}

ct_status ct_mlp_gradient_f32(const ct_mlp *m, const float *params, const float *x,
                              const float *t, const unsigned char *mask, int64_t n,
                              double norm_rows, int dropout_on, uint64_t seed, int epoch,
                              int64_t row0, float *grad, double *loss)
{
    return ct_nn_gradient_rows_f32(m, params, x, t, mask, n, norm_rows, dropout_on, seed,
                                   epoch, row0, grad, loss);
}
