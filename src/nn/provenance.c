/* Structured model provenance: what a model was trained on (statistics, k
 * grid, cut, input length, log10, parameters, source table, writer, version),
 * stored in the model file's /provenance group and checked by every consumer
 * against the input it is about to apply the model to. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "ct_config.h"
#include "nn_internal.h"

void ct_model_prov_init(ct_model_prov *p)
{
    memset(p, 0, sizeof *p);
}

void ct_model_prov_free(ct_model_prov *p)
{
    if (!p)
        return;
    free(p->k);
    ct_model_prov_init(p);
}

ct_status ct_model_prov_copy(ct_model_prov *dst, const ct_model_prov *src)
{
    double *k = NULL;
    if (src->n_k > 0) {
        CT_CHECK(ct_calloc(&k, (size_t)src->n_k, sizeof(double), "provenance k"));
        memcpy(k, src->k, (size_t)src->n_k * sizeof(double));
    }
    free(dst->k);
    *dst = *src;
    dst->k = k;
    return CT_OK;
}

static ct_status set_text(char *dst, size_t cap, const char *src, const char *what)
{
    size_t n = strlen(src ? src : "");
    if (n >= cap)
        CT_FAIL(CT_ERR_RANGE, "provenance %s is %zu characters long (at most %zu)", what, n,
                cap - 1);
    memcpy(dst, src ? src : "", n + 1);
    return CT_OK;
}

static void hash_k(ct_model_prov *p)
{
    p->k_hash[0] = '\0';
    if (p->n_k > 0)
        snprintf(p->k_hash, sizeof p->k_hash, "%016llx",
                 (unsigned long long)ct_hash_bytes(p->k, (size_t)p->n_k * sizeof(double)));
}

ct_status ct_model_prov_set_k(ct_model_prov *p, const char *statistics, const double *k, int n,
                              int n_in)
{
    if (n < 0 || n_in < 1 || (k && n != n_in))
        CT_FAIL(CT_ERR_ARG, "an input description needs n_in >= 1 and as many k (%d given, "
                "n_in = %d)", n, n_in);
    CT_CHECK(set_text(p->statistics, sizeof p->statistics, statistics, "statistics"));
    for (char *c = p->statistics; *c; c++)
        if (*c == '+')
            *c = ',';
    ct_free(&p->k);
    p->n_k = 0;
    p->n_in = n_in;
    if (k && n > 0) {
        CT_CHECK(ct_calloc(&p->k, (size_t)n, sizeof(double), "provenance k"));
        memcpy(p->k, k, (size_t)n * sizeof(double));
        p->n_k = n;
    }
    hash_k(p);
    return CT_OK;
}

ct_status ct_mlp_set_provenance(ct_mlp *m, const ct_model_prov *in, const char *writer)
{
    ct_status rc = CT_OK;
    ct_model_prov *p = NULL;
    if (in->n_in != m->n_in)
        CT_FAIL(CT_ERR_ARG, "provenance describes %d inputs, the model takes %d", in->n_in,
                m->n_in);
    CT_CHECK(ct_calloc(&p, 1, sizeof *p, "provenance"));
    CT_CHECK_GOTO(rc, ct_model_prov_copy(p, in));
    hash_k(p);
    p->input_log10 = m->in_log10;
    p->params[0] = '\0';
    for (int t = 0; t < m->n_targets; t++) {
        size_t used = strlen(p->params);
        int w = snprintf(p->params + used, sizeof p->params - used, "%s%s", t ? "," : "",
                         m->target_name[t]);
        if (w < 0 || (size_t)w >= sizeof p->params - used)
            CT_FAIL_GOTO(rc, CT_ERR_RANGE, "provenance: %d parameter names do not fit in %zu "
                         "characters", m->n_targets, sizeof p->params - 1);
    }
    CT_CHECK_GOTO(rc, set_text(p->writer, sizeof p->writer, writer, "writer"));
    CT_CHECK_GOTO(rc, set_text(p->version, sizeof p->version, CT_VERSION, "version"));
    if (m->prov) {
        ct_model_prov_free(m->prov);
        free(m->prov);
    }
    m->prov = p;
    return CT_OK;
fail:
    ct_model_prov_free(p);
    free(p);
    return rc;
}

const ct_model_prov *ct_mlp_provenance(const ct_mlp *m)
{
    return m->prov;
}

static const char *or_none(const char *s)
{
    return s && *s ? s : "(none)";
}

ct_status ct_mlp_check_inputs(const ct_mlp *m, const char *model_path, const ct_model_prov *in)
{
    const ct_model_prov *p = m->prov;
    const char *src = or_none(in->source);
    if (!model_path)
        model_path = "model";
    if (!p) {
        if (in->n_in != m->n_in)
            CT_FAIL(CT_ERR_FORMAT, "%s: the model takes %d inputs but the input (%s) has %d", model_path,
                    m->n_in, src, in->n_in);
        ct_warn("%s: no /provenance (written before it was recorded): only the input length "
                "is checked", model_path);
        return CT_OK;
    }
    if (strcmp(p->statistics, in->statistics))
        CT_FAIL(CT_ERR_FORMAT, "%s: model attribute statistics = '%s' but the input (%s) is '%s'",
                model_path, p->statistics, src, in->statistics);
    if (p->n_in != in->n_in || m->n_in != in->n_in)
        CT_FAIL(CT_ERR_FORMAT, "%s: model attribute n_in = %d but the input (%s) has %d bins",
                model_path, p->n_in, src, in->n_in);
    if (p->n_k > 0 && in->n_k > 0) {
        for (int i = 0; i < p->n_k && i < in->n_k; i++)
            if (!(fabs(p->k[i] - in->k[i]) <= 1e-6 * fabs(p->k[i])))
                CT_FAIL(CT_ERR_FORMAT, "%s: model attribute k (hash %s) differs from the input's "
                        "(%s, hash %s) at bin %d: %.9g vs %.9g h/Mpc", model_path, p->k_hash, src,
                        in->k_hash, i, p->k[i], in->k[i]);
    } else if (p->k_cut != in->k_cut || p->n_bins_cut != in->n_bins_cut) {
        /* without k on both sides the selection has to agree */
        CT_FAIL(CT_ERR_FORMAT, "%s: model attributes k_cut = %g, n_bins_cut = %d but the input "
                "(%s) has %g, %d", model_path, p->k_cut, p->n_bins_cut, src, in->k_cut,
                in->n_bins_cut);
    }
    return CT_OK;
}

/* ---------------------------------------------------------------- file */

ct_status ct_nn_prov_write(hid_t f, const ct_model_prov *p)
{
    ct_status rc = CT_OK;
    hid_t g = -1;
    CT_CHECK(ct_h5_group(f, "provenance", &g));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "statistics", p->statistics));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "k_cut", p->k_cut));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "n_bins_cut", p->n_bins_cut));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "n_in", p->n_in));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "k_hash", p->k_hash));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "input_log10", p->input_log10));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "params", p->params));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "source", p->source));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "writer", p->writer));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "library_version", p->version));
    if (p->n_k > 0) {
        hsize_t n = (hsize_t)p->n_k;
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "k", p->k, 1, &n));
    }
fail:
    H5Gclose(g);
    return rc;
}

static ct_status read_text(hid_t g, const char *path, const char *name, char *buf, size_t cap)
{
    if (ct_h5_read_attr_string(g, name, buf, cap) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: /provenance attribute %s missing or longer than %zu", path,
                name, cap - 1);
    return CT_OK;
}

ct_status ct_nn_prov_read(hid_t f, const char *path, ct_model_prov **out)
{
    ct_status rc = CT_OK;
    ct_model_prov *p = NULL;
    hid_t g = -1;
    long long v;
    *out = NULL;
    if (!ct_h5_exists(f, "provenance"))
        return CT_OK; /* an older file */
    CT_CHECK(ct_calloc(&p, 1, sizeof *p, "provenance"));
    g = H5Gopen2(f, "provenance", H5P_DEFAULT);
    if (g < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance is not a group", path);
    CT_CHECK_GOTO(rc, read_text(g, path, "statistics", p->statistics, sizeof p->statistics));
    CT_CHECK_GOTO(rc, read_text(g, path, "k_hash", p->k_hash, sizeof p->k_hash));
    CT_CHECK_GOTO(rc, read_text(g, path, "params", p->params, sizeof p->params));
    CT_CHECK_GOTO(rc, read_text(g, path, "source", p->source, sizeof p->source));
    CT_CHECK_GOTO(rc, read_text(g, path, "writer", p->writer, sizeof p->writer));
    CT_CHECK_GOTO(rc, read_text(g, path, "library_version", p->version, sizeof p->version));
    if (ct_h5_read_attr_double(g, "k_cut", &p->k_cut) != CT_OK)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance attribute k_cut missing", path);
    if (ct_h5_read_attr_int(g, "n_bins_cut", &v) != CT_OK)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance attribute n_bins_cut missing", path);
    p->n_bins_cut = (int)v;
    if (ct_h5_read_attr_int(g, "n_in", &v) != CT_OK || v < 1 || v > (1 << 24))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance attribute n_in missing or out of range",
                     path);
    p->n_in = (int)v;
    if (ct_h5_read_attr_int(g, "input_log10", &v) != CT_OK)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance attribute input_log10 missing", path);
    p->input_log10 = (int)v;
    if (ct_h5_exists(g, "k")) {
        int rk;
        hsize_t d[2] = {0, 0};
        if (ct_h5_read_doubles(g, "k", &p->k, &rk, d) != CT_OK || rk != 1 ||
            (int64_t)d[0] != p->n_in)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance/k is not a vector of n_in = %d "
                         "values", path, p->n_in);
        p->n_k = p->n_in;
        char h[17];
        memcpy(h, p->k_hash, sizeof h);
        hash_k(p);
        if (strcmp(h, p->k_hash))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance/k does not match its k_hash %s",
                         path, h);
    }
    *out = p;
    p = NULL;
fail:
    if (g >= 0)
        H5Gclose(g);
    if (p) {
        ct_model_prov_free(p);
        free(p);
    }
    return rc;
}
