/* The D3M U-Net (include/cosmotl/unet.h, docs/d3m.md) as a list of layer
 * operations run forward in order and backward in reverse. Skip connections are
 * a SAVE operation (remember the current tensor) and a CONCAT operation (append
 * the remembered tensor's channels); on the way back CONCAT hands the skip's
 * share of the gradient to its SAVE, which adds it in.
 *
 * Data parallel: every rank runs its share of the batch; batch norm sums its
 * statistics over the communicator and the parameter gradients are summed over
 * it, so the network sees one global batch whatever the number of ranks. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "cosmotl/unet.h"
#include "nn_internal.h"

typedef enum { OP_PAD, OP_CONV, OP_DECONV, OP_CROP, OP_BN, OP_ACT, OP_SAVE, OP_CONCAT } op_kind;

typedef struct {
    op_kind kind;
    int cin, cout, k, s; /* convolutions; batch norm: cout channels */
    int lo, hi;          /* pad: cells added before / after on every axis;
                            crop: cells removed before / after */
    int slot;            /* SAVE / CONCAT: skip slot */
    int64_t pw, pb;      /* parameter offsets: weights and bias, or gamma and beta */
    int64_t rs;          /* running statistics offset (batch norm) */
    /* state of the last forward pass */
    ct_tdims in, out;
    float *y;            /* output (owned unless alias) */
    int alias;           /* y is the input's buffer (ACT in place, SAVE) */
    size_t cap;          /* floats allocated in y */
    float *mean, *istd;  /* batch norm: saved statistics */
} op;

#define MAX_SKIPS 16

struct ct_unet {
    ct_unet_settings set;
    MPI_Comm comm;
    int n_ops;
    op *ops;
    int64_t n_params, n_running;
    float *params, *grads, *running;
    float *m1, *m2; /* Adam moments */
    int64_t step;
    /* forward/backward scratch */
    float *x;        /* copy of the input */
    size_t x_cap;
    float *work;     /* convolution columns */
    size_t work_cap;
    float *g[2];     /* ping-pong gradient buffers */
    size_t g_cap[2];
    float *skip_grad[MAX_SKIPS];
    size_t skip_cap[MAX_SKIPS];
    ct_tdims skip_dims[MAX_SKIPS];
    float *skip_y[MAX_SKIPS];
    float *dy;       /* loss gradient */
    size_t dy_cap;
    int trained;     /* a training forward pass is ready for backward */
};

void ct_unet_settings_default(ct_unet_settings *s)
{
    s->in_channels = 3;
    s->out_channels = 3;
    s->base_channels = 64;
    s->depth = 2;
    s->blocks = 2;
    s->slope = 0.0;
    s->bn_momentum = 0.1;
    s->bn_eps = 1e-5;
    s->seed = 1;
}

void ct_adam_settings_default(ct_adam_settings *s)
{
    s->lr = 1e-4;
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    s->eps = 1e-8;
    s->weight_decay = 0.0;
}

/* ------------------------------------------------------- building the graph */

typedef struct {
    op *ops;
    int n, cap;
    int64_t np, nr;
} builder;

static ct_status push(builder *b, op o)
{
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        op *p = realloc(b->ops, (size_t)cap * sizeof(op));
        if (!p)
            CT_FAIL(CT_ERR_MEMORY, "U-Net graph of %d operations", cap);
        b->ops = p;
        b->cap = cap;
    }
    if (o.kind == OP_CONV || o.kind == OP_DECONV) {
        o.pw = b->np;
        b->np += (int64_t)o.cin * o.cout * o.k * o.k * o.k;
        o.pb = b->np;
        b->np += o.cout;
    } else if (o.kind == OP_BN) {
        o.pw = b->np;
        o.pb = b->np + o.cout;
        b->np += 2 * o.cout;
        o.rs = b->nr;
        b->nr += 2 * o.cout;
    }
    b->ops[b->n++] = o;
    return CT_OK;
}

/* periodic pad 1 -> conv 3^3 (stride s) -> batch norm -> activation */
static ct_status block(builder *b, int cin, int cout, int s)
{
    CT_CHECK(push(b, (op){.kind = OP_PAD, .lo = 1, .hi = 1}));
    CT_CHECK(push(b, (op){.kind = OP_CONV, .cin = cin, .cout = cout, .k = 3, .s = s}));
    CT_CHECK(push(b, (op){.kind = OP_BN, .cout = cout}));
    CT_CHECK(push(b, (op){.kind = OP_ACT}));
    return CT_OK;
}

static ct_status build(builder *b, const ct_unet_settings *s)
{
    const int L = s->depth, B = s->blocks;
    int c = s->in_channels;
    for (int l = 0; l <= L; l++) {
        int cl = s->base_channels << l;
        if (l > 0) {
            CT_CHECK(block(b, c, cl, 2));
            c = cl;
        }
        for (int i = 0; i < B; i++) {
            CT_CHECK(block(b, c, cl, 1));
            c = cl;
        }
        if (l < L)
            CT_CHECK(push(b, (op){.kind = OP_SAVE, .slot = l}));
    }
    for (int l = L; l >= 1; l--) {
        int cd = s->base_channels << (l - 1);
        CT_CHECK(push(b, (op){.kind = OP_PAD, .lo = 0, .hi = 1}));
        CT_CHECK(push(b, (op){.kind = OP_DECONV, .cin = c, .cout = cd, .k = 3, .s = 2}));
        CT_CHECK(push(b, (op){.kind = OP_CROP, .lo = 1, .hi = 2}));
        CT_CHECK(push(b, (op){.kind = OP_BN, .cout = cd}));
        CT_CHECK(push(b, (op){.kind = OP_ACT}));
        CT_CHECK(push(b, (op){.kind = OP_CONCAT, .slot = l - 1}));
        c = 2 * cd;
        for (int i = 0; i < B; i++) {
            CT_CHECK(block(b, c, cd, 1));
            c = cd;
        }
    }
    CT_CHECK(push(b, (op){.kind = OP_CONV, .cin = c, .cout = s->out_channels, .k = 1, .s = 1}));
    return CT_OK;
}

static ct_status check_settings(const ct_unet_settings *s)
{
    if (s->in_channels < 1 || s->out_channels < 1 || s->base_channels < 1 || s->depth < 0 ||
        s->depth >= MAX_SKIPS || s->blocks < 1 || (s->base_channels << s->depth) > (1 << 16))
        CT_FAIL(CT_ERR_CONFIG,
                "bad U-Net settings (in %d, out %d, base %d, depth %d, blocks %d): channels "
                "and blocks >= 1, 0 <= depth < %d, base << depth <= 65536",
                s->in_channels, s->out_channels, s->base_channels, s->depth, s->blocks,
                MAX_SKIPS);
    if (!(s->slope >= 0 && s->slope < 1) || !(s->bn_momentum >= 0 && s->bn_momentum <= 1) ||
        !(s->bn_eps > 0))
        CT_FAIL(CT_ERR_CONFIG, "bad U-Net settings: slope in [0, 1), momentum in [0, 1], eps > 0");
    return CT_OK;
}

static void init_params(ct_unet *net)
{
    for (int i = 0; i < net->n_ops; i++) {
        op *o = &net->ops[i];
        if (o->kind == OP_CONV || o->kind == OP_DECONV) {
            /* PyTorch's default: kaiming_uniform(a = sqrt 5) for weights, the same
             * bound for biases: 1/sqrt(fan_in), fan_in from weight dimension 1
             * (cin for Conv3d, cout for ConvTranspose3d) times k^3 */
            int fan = (o->kind == OP_CONV ? o->cin : o->cout) * o->k * o->k * o->k;
            double bound = 1.0 / sqrt((double)fan);
            ct_rng r;
            ct_rng_init(&r, net->set.seed, CT_NN_STREAM_INIT + (uint64_t)i, 0);
            for (int64_t j = o->pw; j < o->pb + o->cout; j++)
                net->params[j] = (float)(bound * (2 * ct_rng_uniform(&r) - 1));
        } else if (o->kind == OP_BN) {
            for (int c = 0; c < o->cout; c++) {
                net->params[o->pw + c] = 1.0f;
                net->params[o->pb + c] = 0.0f;
                net->running[o->rs + c] = 0.0f;
                net->running[o->rs + o->cout + c] = 1.0f;
            }
        }
    }
}

ct_status ct_unet_create(ct_unet **out, const ct_unet_settings *s, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_unet *net = NULL;
    builder b = {0};
    *out = NULL;
    CT_CHECK(check_settings(s));
    CT_CHECK_GOTO(rc, ct_calloc(&net, 1, sizeof *net, "U-Net"));
    net->set = *s;
    net->comm = comm;
    CT_CHECK_GOTO(rc, build(&b, s));
    net->ops = b.ops;
    b.ops = NULL;
    net->n_ops = b.n;
    net->n_params = b.np;
    net->n_running = b.nr;
    if (b.np > INT32_MAX)
        CT_FAIL_GOTO(rc, CT_ERR_CONFIG, "U-Net with %lld parameters: more than one allreduce "
                     "can sum (2^31 - 1)", (long long)b.np);
    CT_CHECK_GOTO(rc, ct_calloc(&net->params, (size_t)b.np, sizeof(float), "U-Net parameters"));
    CT_CHECK_GOTO(rc, ct_calloc(&net->grads, (size_t)b.np, sizeof(float), "U-Net gradients"));
    CT_CHECK_GOTO(rc, ct_calloc(&net->m1, (size_t)b.np, sizeof(float), "Adam moments"));
    CT_CHECK_GOTO(rc, ct_calloc(&net->m2, (size_t)b.np, sizeof(float), "Adam moments"));
    CT_CHECK_GOTO(rc, ct_calloc(&net->running, (size_t)(b.nr ? b.nr : 1), sizeof(float),
                                "batch-norm statistics"));
    init_params(net);
    *out = net;
    return CT_OK;
fail:
    free(b.ops);
    ct_unet_destroy(&net);
    return rc;
}

void ct_unet_destroy(ct_unet **pnet)
{
    ct_unet *net = pnet ? *pnet : NULL;
    if (!net)
        return;
    for (int i = 0; i < net->n_ops; i++) {
        if (!net->ops[i].alias)
            free(net->ops[i].y);
        free(net->ops[i].mean);
        free(net->ops[i].istd);
    }
    free(net->ops);
    free(net->params), free(net->grads), free(net->m1), free(net->m2), free(net->running);
    free(net->x), free(net->work), free(net->g[0]), free(net->g[1]), free(net->dy);
    for (int i = 0; i < MAX_SKIPS; i++)
        free(net->skip_grad[i]);
    free(net);
    *pnet = NULL;
}

const ct_unet_settings *ct_unet_get_settings(const ct_unet *net)
{
    return &net->set;
}

int64_t ct_unet_n_params(const ct_unet *net)
{
    return net->n_params;
}

float *ct_unet_params(ct_unet *net)
{
    return net->params;
}

const float *ct_unet_grads(const ct_unet *net)
{
    return net->grads;
}

float *ct_unet_running(ct_unet *net, int64_t *n)
{
    if (n)
        *n = net->n_running;
    return net->running;
}

int64_t ct_unet_step_count(const ct_unet *net)
{
    return net->step;
}

/* ------------------------------------------------------------------ forward */

static ct_status grow(float **p, size_t *cap, size_t n, const char *what)
{
    if (n <= *cap && *p)
        return CT_OK;
    float *q = realloc(*p, (n ? n : 1) * sizeof(float));
    if (!q)
        CT_FAIL(CT_ERR_MEMORY, "%s: %zu floats", what, n);
    *p = q;
    *cap = n;
    return CT_OK;
}

/* Output shape of every operation for input xd; sizes the buffers. */
static ct_status plan(ct_unet *net, ct_tdims xd)
{
    const int f = 1 << net->set.depth;
    if (xd.n < 1 || xd.c != net->set.in_channels)
        CT_FAIL(CT_ERR_ARG, "U-Net input has %d samples of %d channels; the network takes %d",
                xd.n, xd.c, net->set.in_channels);
    for (int a = 0; a < 3; a++)
        if (xd.s[a] < f || xd.s[a] % f)
            CT_FAIL(CT_ERR_ARG,
                    "U-Net input side %d (axis %d) is not a multiple of 2^depth = %d", xd.s[a],
                    a, f);
    ct_tdims cur = xd, skips[MAX_SKIPS] = {{0}};
    size_t gmax = (size_t)ct_tdims_count(xd), wmax = 0;
    for (int i = 0; i < net->n_ops; i++) {
        op *o = &net->ops[i];
        o->in = cur;
        ct_tdims nx = cur;
        switch (o->kind) {
        case OP_PAD:
            for (int a = 0; a < 3; a++)
                nx.s[a] += o->lo + o->hi;
            break;
        case OP_CROP:
            for (int a = 0; a < 3; a++)
                nx.s[a] -= o->lo + o->hi;
            break;
        case OP_CONV:
            CT_CHECK(ct_conv3d_dims(cur, o->cout, o->k, o->s, &nx));
            if (ct_conv3d_work_len(cur, o->cout, o->k, o->s) > wmax)
                wmax = ct_conv3d_work_len(cur, o->cout, o->k, o->s);
            break;
        case OP_DECONV:
            CT_CHECK(ct_deconv3d_dims(cur, o->cout, o->k, o->s, &nx));
            if (ct_deconv3d_work_len(cur, o->cout, o->k, o->s) > wmax)
                wmax = ct_deconv3d_work_len(cur, o->cout, o->k, o->s);
            break;
        case OP_BN:
        case OP_ACT:
            break;
        case OP_SAVE:
            skips[o->slot] = cur;
            break;
        case OP_CONCAT:
            for (int a = 0; a < 3; a++)
                if (skips[o->slot].s[a] != cur.s[a])
                    CT_FAIL(CT_ERR_STATE, "U-Net skip %d has side %d, the way up %d", o->slot,
                            skips[o->slot].s[a], cur.s[a]);
            nx.c += skips[o->slot].c;
            CT_CHECK(grow(&net->skip_grad[o->slot], &net->skip_cap[o->slot],
                          (size_t)ct_tdims_count(skips[o->slot]), "U-Net skip gradient"));
            break;
        }
        o->out = nx;
        o->alias = o->kind == OP_ACT || o->kind == OP_SAVE;
        if (!o->alias)
            CT_CHECK(grow(&o->y, &o->cap, (size_t)ct_tdims_count(nx), "U-Net activations"));
        if (o->kind == OP_BN && !o->mean) {
            CT_CHECK(ct_calloc(&o->mean, (size_t)o->cout, sizeof(float), "batch-norm mean"));
            CT_CHECK(ct_calloc(&o->istd, (size_t)o->cout, sizeof(float), "batch-norm mean"));
        }
        if ((size_t)ct_tdims_count(nx) > gmax)
            gmax = (size_t)ct_tdims_count(nx);
        cur = nx;
    }
    CT_CHECK(grow(&net->work, &net->work_cap, wmax, "convolution columns"));
    CT_CHECK(grow(&net->g[0], &net->g_cap[0], gmax, "U-Net gradients"));
    CT_CHECK(grow(&net->g[1], &net->g_cap[1], gmax, "U-Net gradients"));
    CT_CHECK(grow(&net->x, &net->x_cap, (size_t)ct_tdims_count(xd), "U-Net input"));
    return CT_OK;
}

ct_status ct_unet_forward(ct_unet *net, const float *x, ct_tdims xd, int train, float *y)
{
    ct_status rc = plan(net, xd);
    if (train)
        rc = ct_agree_msg(net->comm, rc); /* batch norm below is collective */
    if (rc != CT_OK)
        return ct_error_push(rc, __func__, __LINE__);
    net->trained = 0;
    memcpy(net->x, x, (size_t)ct_tdims_count(xd) * sizeof(float));
    const float *cur = net->x;
    const float *P = net->params;
    float *skip_y[MAX_SKIPS] = {0};
    for (int i = 0; i < net->n_ops; i++) {
        op *o = &net->ops[i];
        const int lo[3] = {o->lo, o->lo, o->lo}, hi[3] = {o->hi, o->hi, o->hi};
        switch (o->kind) {
        case OP_PAD:
            ct_pad_periodic_forward(cur, o->in, lo, hi, o->y);
            break;
        case OP_CROP:
            ct_crop_forward(cur, o->in, lo, o->out.s, o->y);
            break;
        case OP_CONV:
            CT_CHECK(ct_conv3d_forward(cur, o->in, P + o->pw, P + o->pb, o->cout, o->k, o->s,
                                       o->y, net->work));
            break;
        case OP_DECONV:
            CT_CHECK(ct_deconv3d_forward(cur, o->in, P + o->pw, P + o->pb, o->cout, o->k, o->s,
                                         o->y, net->work));
            break;
        case OP_BN:
            CT_CHECK(ct_batchnorm_forward(cur, o->in, P + o->pw, P + o->pb,
                                          net->running + o->rs, net->running + o->rs + o->cout,
                                          net->set.bn_momentum, net->set.bn_eps, train,
                                          net->comm, o->y, o->mean, o->istd));
            break;
        case OP_ACT:
            o->y = (float *)cur; /* in place: batch norm's backward needs only its input */
            ct_leaky_relu_forward(cur, (size_t)ct_tdims_count(o->in), (float)net->set.slope,
                                  o->y);
            break;
        case OP_SAVE:
            o->y = (float *)cur;
            skip_y[o->slot] = o->y;
            break;
        case OP_CONCAT:
            ct_concat_forward(cur, o->in.c, skip_y[o->slot], o->out.c - o->in.c, o->in.n,
                              ct_tdims_cells(o->in), o->y);
            break;
        }
        cur = o->y;
    }
    memcpy(y, cur, (size_t)ct_tdims_count(net->ops[net->n_ops - 1].out) * sizeof(float));
    net->trained = train;
    return CT_OK;
}

/* ----------------------------------------------------------------- backward */

/* Whether the output of operation i reaches a batch norm through shape-only
 * operations (pad, crop): then a per-channel constant such as the bias is
 * removed by the normalisation and the bias's gradient is exactly zero. It is
 * set to exactly zero rather than computed: the computed value is rounding
 * noise, which Adam (dividing by sqrt(v)) turns into full-size steps that
 * differ with the number of ranks. The biases stay at their initial values,
 * as the published model's do in effect. */
static int feeds_batchnorm(const ct_unet *net, int i)
{
    for (int j = i + 1; j < net->n_ops; j++) {
        op_kind k = net->ops[j].kind;
        if (k == OP_BN)
            return 1;
        if (k != OP_PAD && k != OP_CROP)
            return 0;
    }
    return 0;
}

ct_status ct_unet_backward(ct_unet *net, const float *dy, float *dx)
{
    if (!net->trained)
        CT_FAIL(CT_ERR_STATE, "U-Net backward without a training forward pass");
    float *P = net->params, *G = net->grads;
    memset(G, 0, (size_t)net->n_params * sizeof(float));
    const op *last = &net->ops[net->n_ops - 1];
    float *gout = net->g[0];
    int which = 0;
    memcpy(gout, dy, (size_t)ct_tdims_count(last->out) * sizeof(float));
    for (int i = net->n_ops - 1; i >= 0; i--) {
        op *o = &net->ops[i];
        const float *xin = i > 0 ? net->ops[i - 1].y : net->x;
        float *gin = net->g[1 - which];
        const int lo[3] = {o->lo, o->lo, o->lo}, hi[3] = {o->hi, o->hi, o->hi};
        int want_dx = i > 0 || dx;
        switch (o->kind) {
        case OP_PAD:
            ct_pad_periodic_backward(gout, o->in, lo, hi, gin);
            break;
        case OP_CROP:
            ct_crop_backward(gout, o->in, lo, o->out.s, gin);
            break;
        case OP_CONV:
            CT_CHECK(ct_conv3d_backward(xin, o->in, P + o->pw, o->cout, o->k, o->s, gout,
                                        want_dx ? gin : NULL, G + o->pw,
                                        feeds_batchnorm(net, i) ? NULL : G + o->pb,
                                        net->work));
            break;
        case OP_DECONV:
            CT_CHECK(ct_deconv3d_backward(xin, o->in, P + o->pw, o->cout, o->k, o->s, gout,
                                          want_dx ? gin : NULL, G + o->pw,
                                          feeds_batchnorm(net, i) ? NULL : G + o->pb,
                                          net->work));
            break;
        case OP_BN:
            CT_CHECK(ct_batchnorm_backward(xin, o->in, P + o->pw, o->mean, o->istd, gout,
                                           net->comm, gin, G + o->pw, G + o->pb));
            break;
        case OP_ACT:
            ct_leaky_relu_backward(o->y, gout, (size_t)ct_tdims_count(o->in),
                                   (float)net->set.slope, gout);
            gin = gout; /* in place */
            break;
        case OP_SAVE: {
            const float *sg = net->skip_grad[o->slot];
            size_t n = (size_t)ct_tdims_count(o->in);
            for (size_t j = 0; j < n; j++)
                gout[j] += sg[j];
            gin = gout;
            break;
        }
        case OP_CONCAT:
            ct_concat_backward(gout, o->in.c, o->out.c - o->in.c, o->in.n,
                               ct_tdims_cells(o->in), gin, net->skip_grad[o->slot]);
            break;
        }
        if (gin != gout)
            which = 1 - which;
        gout = gin;
    }
    if (dx)
        memcpy(dx, gout, (size_t)ct_tdims_count(net->ops[0].in) * sizeof(float));
    int size = 1;
    if (net->comm != MPI_COMM_NULL)
        MPI_Comm_size(net->comm, &size);
    if (size > 1 && MPI_Allreduce(MPI_IN_PLACE, G, (int)net->n_params, MPI_FLOAT, MPI_SUM,
                                  net->comm) != MPI_SUCCESS)
        CT_FAIL(CT_ERR_MPI, "allreduce of %lld U-Net gradients failed",
                (long long)net->n_params);
    return CT_OK;
}

ct_status ct_unet_backward_l1(ct_unet *net, const float *t, double *loss)
{
    if (!net->trained)
        CT_FAIL(CT_ERR_STATE, "U-Net loss without a training forward pass");
    const op *last = &net->ops[net->n_ops - 1];
    size_t n = (size_t)ct_tdims_count(last->out);
    const float *y = last->y;
    double sums[2] = {0, (double)n};
    for (size_t i = 0; i < n; i++)
        sums[0] += fabs((double)y[i] - t[i]);
    if (net->comm != MPI_COMM_NULL &&
        MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, net->comm) != MPI_SUCCESS)
        CT_FAIL(CT_ERR_MPI, "allreduce of the L1 loss failed");
    CT_CHECK(grow(&net->dy, &net->dy_cap, n, "loss gradient"));
    const float inv = (float)(1.0 / sums[1]);
    for (size_t i = 0; i < n; i++)
        net->dy[i] = y[i] > t[i] ? inv : (y[i] < t[i] ? -inv : 0.0f);
    *loss = sums[0] / sums[1];
    CT_CHECK(ct_unet_backward(net, net->dy, NULL));
    return CT_OK;
}

ct_status ct_unet_adam_step(ct_unet *net, const ct_adam_settings *a)
{
    if (!(a->lr > 0) || !(a->beta1 >= 0 && a->beta1 < 1) || !(a->beta2 >= 0 && a->beta2 < 1) ||
        !(a->eps > 0) || !(a->weight_decay >= 0))
        CT_FAIL(CT_ERR_CONFIG, "bad Adam settings (lr %g, betas %g %g, eps %g, decay %g)", a->lr,
                a->beta1, a->beta2, a->eps, a->weight_decay);
    net->step++;
    double bc1 = 1.0 - pow(a->beta1, (double)net->step);
    double bc2 = 1.0 - pow(a->beta2, (double)net->step);
    ct_nn_adamw_f32(net->params, net->m1, net->m2, net->grads, (size_t)net->n_params,
                    1.0 - a->lr * a->weight_decay, a->beta1, a->beta2, a->lr / bc1,
                    1.0 / sqrt(bc2), a->eps);
    return CT_OK;
}

/* -------------------------------------------------------------- checkpoints */

static ct_status write_floats(hid_t f, const char *name, const float *v, int64_t n)
{
    double *d = NULL;
    CT_CHECK(ct_calloc(&d, (size_t)(n ? n : 1), sizeof(double), name));
    for (int64_t i = 0; i < n; i++)
        d[i] = v[i]; /* exact: every float is a double */
    hsize_t dims[1] = {(hsize_t)n};
    ct_status rc = ct_h5_write_doubles(f, name, d, 1, dims);
    free(d);
    if (rc != CT_OK)
        return ct_error_push(rc, __func__, __LINE__);
    return CT_OK;
}

static ct_status write_checkpoint(hid_t f, const ct_unet *net)
{
    const ct_unet_settings *s = &net->set;
    CT_CHECK(ct_h5_attr_string(f, "format", "cosmotl-unet"));
    CT_CHECK(ct_h5_attr_int(f, "version", 1));
    CT_CHECK(ct_h5_attr_int(f, "in_channels", s->in_channels));
    CT_CHECK(ct_h5_attr_int(f, "out_channels", s->out_channels));
    CT_CHECK(ct_h5_attr_int(f, "base_channels", s->base_channels));
    CT_CHECK(ct_h5_attr_int(f, "depth", s->depth));
    CT_CHECK(ct_h5_attr_int(f, "blocks", s->blocks));
    CT_CHECK(ct_h5_attr_double(f, "slope", s->slope));
    CT_CHECK(ct_h5_attr_double(f, "bn_momentum", s->bn_momentum));
    CT_CHECK(ct_h5_attr_double(f, "bn_eps", s->bn_eps));
    CT_CHECK(ct_h5_attr_int(f, "seed", (long long)s->seed));
    CT_CHECK(ct_h5_attr_int(f, "step", net->step));
    CT_CHECK(write_floats(f, "params", net->params, net->n_params));
    CT_CHECK(write_floats(f, "running", net->running, net->n_running));
    CT_CHECK(write_floats(f, "adam_m1", net->m1, net->n_params));
    CT_CHECK(write_floats(f, "adam_m2", net->m2, net->n_params));
    return CT_OK;
}

ct_status ct_unet_save(const ct_unet *net, const char *path)
{
    ct_status rc = CT_OK;
    int rank = 0;
    if (net->comm != MPI_COMM_NULL)
        MPI_Comm_rank(net->comm, &rank);
    if (rank == 0) {
        char *tmp = NULL;
        hid_t f = -1;
        rc = ct_atomic_begin_alloc(path, &tmp);
        if (rc == CT_OK)
            rc = ct_h5_create(tmp, &f);
        if (rc == CT_OK)
            rc = write_checkpoint(f, net);
        if (f >= 0 && H5Fclose(f) < 0 && rc == CT_OK)
            rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: closing failed", path);
        if (rc == CT_OK)
            rc = ct_atomic_commit(tmp, path);
        else {
            ct_error_push(rc, __func__, __LINE__);
            ct_atomic_abort(tmp);
        }
        free(tmp);
    }
    if (net->comm != MPI_COMM_NULL)
        rc = ct_agree_msg(net->comm, rc);
    return rc;
}

static ct_status read_floats(hid_t f, const char *path, const char *name, float *v, int64_t n)
{
    double *d = NULL;
    int rk;
    hsize_t dims[2];
    if (ct_h5_read_doubles(f, name, &d, &rk, dims) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: U-Net checkpoint has no dataset %s", path, name);
    if (rk != 1 || (int64_t)dims[0] != n) {
        free(d);
        CT_FAIL(CT_ERR_FORMAT, "%s: %s has %llu values, the network's settings need %lld", path,
                name, (unsigned long long)dims[0], (long long)n);
    }
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)d[i];
    free(d);
    return CT_OK;
}

static ct_status read_int(hid_t f, const char *path, const char *name, long long *v)
{
    if (ct_h5_read_attr_int(f, name, v) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: U-Net checkpoint attribute %s missing", path, name);
    return CT_OK;
}

static ct_status read_double(hid_t f, const char *path, const char *name, double *v)
{
    if (ct_h5_read_attr_double(f, name, v) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: U-Net checkpoint attribute %s missing", path, name);
    return CT_OK;
}

static ct_status load_local(ct_unet **out, const char *path, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    hid_t f = -1;
    ct_unet *net = NULL;
    char fmt[64];
    long long v[8];
    ct_unet_settings s;
    *out = NULL;
    CT_CHECK(ct_h5_open_ro(path, &f));
    if (ct_h5_read_attr_string(f, "format", fmt, sizeof fmt) != CT_OK ||
        strcmp(fmt, "cosmotl-unet"))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: not a cosmotl U-Net checkpoint", path);
    const char *ints[] = {"version", "in_channels", "out_channels", "base_channels",
                          "depth", "blocks", "seed", "step"};
    for (int i = 0; i < 8; i++)
        CT_CHECK_GOTO(rc, read_int(f, path, ints[i], &v[i]));
    if (v[0] != 1)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: U-Net checkpoint version %lld (this build reads 1)",
                     path, v[0]);
    ct_unet_settings_default(&s);
    s.in_channels = (int)v[1], s.out_channels = (int)v[2], s.base_channels = (int)v[3];
    s.depth = (int)v[4], s.blocks = (int)v[5], s.seed = (uint64_t)v[6];
    CT_CHECK_GOTO(rc, read_double(f, path, "slope", &s.slope));
    CT_CHECK_GOTO(rc, read_double(f, path, "bn_momentum", &s.bn_momentum));
    CT_CHECK_GOTO(rc, read_double(f, path, "bn_eps", &s.bn_eps));
    CT_CHECK_GOTO(rc, ct_unet_create(&net, &s, comm));
    net->step = v[7];
    CT_CHECK_GOTO(rc, read_floats(f, path, "params", net->params, net->n_params));
    CT_CHECK_GOTO(rc, read_floats(f, path, "running", net->running, net->n_running));
    CT_CHECK_GOTO(rc, read_floats(f, path, "adam_m1", net->m1, net->n_params));
    CT_CHECK_GOTO(rc, read_floats(f, path, "adam_m2", net->m2, net->n_params));
    H5Fclose(f);
    *out = net;
    return CT_OK;
fail:
    if (f >= 0)
        H5Fclose(f);
    ct_unet_destroy(&net);
    return rc;
}

ct_status ct_unet_load(ct_unet **out, const char *path, MPI_Comm comm)
{
    /* every rank reads (a checkpoint is small); all agree before returning */
    ct_status rc = load_local(out, path, comm);
    if (comm != MPI_COMM_NULL) {
        rc = ct_agree_msg(comm, rc);
        if (rc != CT_OK)
            ct_unet_destroy(out);
    }
    return rc;
}
