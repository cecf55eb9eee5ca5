/* Transfer operations: keep every layer (dummy outputs become live), new output
 * layer, frozen body + new head, and the bottleneck (a network pretrained with a
 * narrow last hidden layer: frozen up to it, a small new network on its features). */
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

static const char *kind_names[] = {"dummy", "new_head", "frozen", "bottleneck"};

const char *ct_finetune_name(ct_finetune_kind k)
{
    return (unsigned)k < 4 ? kind_names[k] : "?";
}

ct_status ct_finetune_parse(const char *s, ct_finetune_kind *k)
{
    if (!strcmp(s, "dummy") || !strcmp(s, "keep"))
        *k = CT_FINETUNE_KEEP;
    else if (!strcmp(s, "new_head") || !strcmp(s, "no_dummy"))
        *k = CT_FINETUNE_NEW_HEAD;
    else if (!strcmp(s, "frozen"))
        *k = CT_FINETUNE_FROZEN;
    else if (!strcmp(s, "bottleneck"))
        *k = CT_FINETUNE_BOTTLENECK;
    else
        CT_FAIL(CT_ERR_ARG, "unknown transfer '%s' (dummy, no_dummy, frozen, bottleneck)", s);
    return CT_OK;
}

void ct_finetune_settings_defaults(ct_finetune_settings *s)
{
    memset(s, 0, sizeof *s);
    s->kind = CT_FINETUNE_KEEP;
    s->head_hidden = 1;
    s->bottleneck_width = 10;
    s->seed = 1;
}

/* Rebuild m with new layer sizes: layers [0, keep) are copied from m, the rest
 * are freshly initialised from seed. Metadata is kept; n_targets may change
 * (targets then default to t0.. with range [0,1] unless it is unchanged). */
static ct_status rebuild(ct_mlp *m, int n_layers, const int *dims, int keep, int n_targets,
                         uint64_t seed)
{
    ct_status rc = CT_OK;
    ct_mlp *n = NULL;
    CT_CHECK(ct_nn_alloc(&n, m->n_in, n_targets, m->loss, n_layers, dims));
    n->hidden_act = m->hidden_act;
    n->out_act = m->out_act;
    n->leaky_slope = m->leaky_slope;
    n->dropout = m->dropout;
    n->init = m->init;
    for (int l = 0; l < keep; l++) {
        memcpy(n->W[l], m->W[l], (size_t)dims[l] * (size_t)dims[l + 1] * sizeof(double));
        memcpy(n->b[l], m->b[l], (size_t)dims[l + 1] * sizeof(double));
        n->frozen[l] = m->frozen[l];
    }
    for (int l = keep; l < n_layers; l++)
        CT_CHECK_GOTO(rc, ct_mlp_init_layer(n, l, seed));
    ct_mlp_copy_input_norm(n, m);
    if (n_targets == m->n_targets) {
        memcpy(n->target_name, m->target_name, (size_t)n_targets * CT_NN_NAME_MAX);
        memcpy(n->target_lo, m->target_lo, (size_t)n_targets * sizeof(double));
        memcpy(n->target_hi, m->target_hi, (size_t)n_targets * sizeof(double));
        memcpy(n->dummy, m->dummy, (size_t)n_targets * sizeof(int));
    }
    CT_CHECK_GOTO(rc, ct_mlp_set_config_text(n, m->config_text));
    /* same inputs: the provenance moves over */
    n->prov = m->prov;
    m->prov = NULL;
    /* swap contents so the caller's pointer stays valid */
    ct_mlp tmp = *m;
    *m = *n;
    *n = tmp;
    ct_mlp_destroy(&n);
    return CT_OK;
fail:
    ct_mlp_destroy(&n);
    return rc;
}

ct_status ct_mlp_replace_output(ct_mlp *m, int n_targets, uint64_t seed)
{
    int dims[CT_NN_MAX_LAYERS + 1];
    memcpy(dims, m->dims, sizeof dims);
    dims[m->n_layers] = m->loss == CT_LOSS_MOMENT ? 2 * n_targets : n_targets;
    CT_CHECK(rebuild(m, m->n_layers, dims, m->n_layers - 1, n_targets, seed));
    return CT_OK;
}

ct_status ct_mlp_freeze(ct_mlp *m, int layer, int frozen)
{
    if (layer < 0 || layer >= m->n_layers)
        CT_FAIL(CT_ERR_ARG, "no layer %d (the model has %d)", layer, m->n_layers);
    m->frozen[layer] = frozen != 0;
    return CT_OK;
}

ct_status ct_mlp_append_head(ct_mlp *m, int n_hidden, int width, int n_targets, uint64_t seed)
{
    /* the body is every layer but the old output layer; the head is n_hidden new
     * hidden layers plus a new output layer */
    int body = m->n_layers - 1;
    if (body < 1)
        CT_FAIL(CT_ERR_ARG, "a network without hidden layers has no body to keep");
    if (n_hidden < 0 || body + n_hidden + 1 > CT_NN_MAX_LAYERS)
        CT_FAIL(CT_ERR_ARG, "head of %d hidden layers does not fit", n_hidden);
    int dims[CT_NN_MAX_LAYERS + 1];
    for (int l = 0; l <= body; l++)
        dims[l] = m->dims[l];
    if (width <= 0)
        width = m->dims[body];
    for (int h = 0; h < n_hidden; h++)
        dims[body + 1 + h] = width;
    int nl = body + n_hidden + 1;
    dims[nl] = m->loss == CT_LOSS_MOMENT ? 2 * n_targets : n_targets;
    CT_CHECK(rebuild(m, nl, dims, body, n_targets, seed));
    for (int l = 0; l < body; l++)
        m->frozen[l] = 1;
    for (int l = body; l < nl; l++)
        m->frozen[l] = 0;
    return CT_OK;
}

/* The authors' bottleneck transfer: the network was pretrained with a narrow last
 * hidden layer (at most `width` units); the body up to and including that layer is
 * kept and frozen, and a second small network (n_hidden layers of head_width, then
 * the output layer) is trained on its features. */
ct_status ct_mlp_bottleneck(ct_mlp *m, int width, int n_hidden, int head_width, int n_targets,
                            uint64_t seed)
{
    if (m->n_layers < 2)
        CT_FAIL(CT_ERR_ARG, "a network without hidden layers has no bottleneck layer");
    if (width < 1)
        CT_FAIL(CT_ERR_ARG, "bottleneck width %d", width);
    int last = m->dims[m->n_layers - 1];
    if (last > width)
        CT_FAIL(CT_ERR_ARG,
                "the pretrained network's last hidden layer has %d units, more than the "
                "bottleneck width %d: a bottleneck transfer needs a network pretrained with a "
                "narrow last hidden layer (e.g. hidden = ..., %d)", last, width, width);
    CT_CHECK(ct_mlp_append_head(m, n_hidden, head_width > 0 ? head_width : width, n_targets,
                                seed));
    return CT_OK;
}

ct_status ct_mlp_finetune(const ct_mlp *pre, const ct_finetune_settings *s, ct_mlp **out)
{
    ct_status rc = CT_OK;
    ct_mlp *m = NULL;
    int nt = s->n_targets > 0 ? s->n_targets : pre->n_targets;
    CT_CHECK(ct_mlp_copy(pre, &m));
    CT_CHECK_GOTO(rc, ct_nn_set_history(m, 0, NULL, NULL, NULL));
    memset(m->frozen, 0, sizeof m->frozen);
    switch (s->kind) {
    case CT_FINETUNE_KEEP:
        if (nt != pre->n_targets)
            CT_FAIL_GOTO(rc, CT_ERR_ARG,
                         "dummy-node transfer needs the pretrained network to have %d outputs "
                         "(it has %d)", nt, pre->n_targets);
        break;
    case CT_FINETUNE_NEW_HEAD:
        CT_CHECK_GOTO(rc, ct_mlp_replace_output(m, nt, s->seed));
        break;
    case CT_FINETUNE_FROZEN:
        CT_CHECK_GOTO(rc, ct_mlp_append_head(m, s->head_hidden, s->head_width, nt, s->seed));
        break;
    case CT_FINETUNE_BOTTLENECK:
        CT_CHECK_GOTO(rc, ct_mlp_bottleneck(m, s->bottleneck_width > 0 ? s->bottleneck_width : 10,
                                            s->head_hidden, s->head_width, nt, s->seed));
        break;
    default:
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "unknown transfer kind %d", (int)s->kind);
    }
    /* targets of the fine-tuning task: every output is live */
    {
        double lo[256], hi[256];
        const char *names[256];
        if (nt > 256)
            CT_FAIL_GOTO(rc, CT_ERR_RANGE, "too many targets (%d)", nt);
        for (int k = 0; k < nt; k++) {
            names[k] = s->names ? s->names[k] : (nt == pre->n_targets ? pre->target_name[k] : NULL);
            lo[k] = nt == pre->n_targets ? pre->target_lo[k] : 0.0;
            hi[k] = nt == pre->n_targets ? pre->target_hi[k] : 1.0;
            double a, b;
            if (s->lo && s->hi) {
                lo[k] = s->lo[k];
                hi[k] = s->hi[k];
            } else if (names[k] && (s->names || nt != pre->n_targets) &&
                       ct_prior_range(names[k], &a, &b)) {
                lo[k] = a;
                hi[k] = b;
            }
        }
        CT_CHECK_GOTO(rc, ct_mlp_set_targets(m, names, lo, hi, NULL));
    }
    *out = m;
    return CT_OK;
fail:
    ct_mlp_destroy(&m);
    return rc;
}
