/* Model files and checkpoints (HDF5). Layout:
 *   /            attrs kind="cosmotl-mlp", format_version, n_in, n_targets, n_out,
 *                n_layers, hidden_act, out_act, leaky_slope, dropout, init, loss,
 *                input_log10, config (text)
 *   /layers/<l>/W (dims[l+1] x dims[l]), /layers/<l>/b, attr frozen
 *   /input/mean, /input/std            (when inputs are standardised)
 *   /targets/lo, /targets/hi, /targets/dummy, attr names (string array)
 *   /provenance                        (what the model takes as input; provenance.c)
 *   /history/train, /history/val, /history/lr
 *   /train_state                       (checkpoints only: AdamW moments, best
 *                                       weights, scheduler and early-stopping state)
 * Rank 0 writes through an atomic rename; every rank reads. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "nn_internal.h"

#define MODEL_KIND "cosmotl-mlp"
#define MODEL_VERSION 1

static ct_status write_names(hid_t loc, const char *name, const char (*names)[CT_NN_NAME_MAX],
                             int n)
{
    hsize_t d = (hsize_t)n;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, CT_NN_NAME_MAX);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, t, names) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "cannot write attribute %s", name);
    return CT_OK;
}

static ct_status read_names(hid_t loc, const char *name, char (*names)[CT_NN_NAME_MAX], int n)
{
    CT_CHECK(ct_h5_check_attrs(loc));
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        CT_FAIL(CT_ERR_FORMAT, "missing attribute %s", name);
    hid_t sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    /* fixed-length strings of at most CT_NN_NAME_MAX bytes, as written, checked
     * before H5Aread converts anything */
    hid_t ft = H5Aget_type(a);
    int fixed = ft >= 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) == 0 &&
                H5Tget_size(ft) <= CT_NN_NAME_MAX;
    if (ft >= 0)
        H5Tclose(ft);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, CT_NN_NAME_MAX);
    herr_t e = np == n && fixed ? H5Aread(a, t, names) : -1;
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    if (e < 0)
        CT_FAIL(CT_ERR_FORMAT, "attribute %s: expected %d names", name, n);
    for (int i = 0; i < n; i++)
        names[i][CT_NN_NAME_MAX - 1] = '\0';
    return CT_OK;
}

static ct_status write_model(hid_t f, const ct_mlp *m, const ct_train_state *st)
{
    ct_status rc = CT_OK;
    hid_t g = -1, gl = -1;
    CT_CHECK(ct_h5_attr_string(f, "kind", MODEL_KIND));
    CT_CHECK(ct_h5_attr_int(f, "format_version", MODEL_VERSION));
    CT_CHECK(ct_h5_attr_int(f, "n_in", m->n_in));
    CT_CHECK(ct_h5_attr_int(f, "n_targets", m->n_targets));
    CT_CHECK(ct_h5_attr_int(f, "n_out", m->n_out));
    CT_CHECK(ct_h5_attr_int(f, "n_layers", m->n_layers));
    CT_CHECK(ct_h5_attr_string(f, "hidden_act", ct_act_name(m->hidden_act)));
    CT_CHECK(ct_h5_attr_string(f, "out_act", ct_act_name(m->out_act)));
    CT_CHECK(ct_h5_attr_double(f, "leaky_slope", m->leaky_slope));
    CT_CHECK(ct_h5_attr_double(f, "dropout", m->dropout));
    CT_CHECK(ct_h5_attr_string(f, "init", m->init == CT_INIT_GLOROT ? "glorot" : "he"));
    CT_CHECK(ct_h5_attr_string(f, "loss", m->loss == CT_LOSS_MOMENT ? "moment" : "mse"));
    CT_CHECK(ct_h5_attr_int(f, "input_log10", m->in_log10));
    CT_CHECK(ct_h5_attr_string(f, "config", m->config_text ? m->config_text : ""));
    if (m->prov)
        CT_CHECK(ct_nn_prov_write(f, m->prov));
    for (int l = 0; l < m->n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "layers/%d", l);
        CT_CHECK_GOTO(rc, ct_h5_group(f, name, &gl));
        hsize_t dw[2] = {(hsize_t)m->dims[l + 1], (hsize_t)m->dims[l]};
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(gl, "W", m->W[l], 2, dw));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(gl, "b", m->b[l], 1, dw));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(gl, "frozen", m->frozen[l]));
        H5Gclose(gl);
        gl = -1;
    }
    hsize_t ni = (hsize_t)m->n_in, nt = (hsize_t)m->n_targets;
    if (m->in_mean) {
        CT_CHECK_GOTO(rc, ct_h5_group(f, "input", &g));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "mean", m->in_mean, 1, &ni));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "std", m->in_std, 1, &ni));
        H5Gclose(g);
        g = -1;
    }
    CT_CHECK_GOTO(rc, ct_h5_group(f, "targets", &g));
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "lo", m->target_lo, 1, &nt));
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "hi", m->target_hi, 1, &nt));
    {
        int64_t dm[CT_NN_MAX_LAYERS * 64];
        int64_t *dp = dm;
        if (m->n_targets > (int)(sizeof dm / sizeof dm[0]))
            CT_FAIL_GOTO(rc, CT_ERR_RANGE, "too many targets (%d)", m->n_targets);
        for (int k = 0; k < m->n_targets; k++)
            dp[k] = m->dummy[k];
        CT_CHECK_GOTO(rc, ct_h5_write_int64s(g, "dummy", dp, 1, &nt));
    }
    CT_CHECK_GOTO(rc, write_names(g, "names", (const char(*)[CT_NN_NAME_MAX])m->target_name,
                                  m->n_targets));
    H5Gclose(g);
    g = -1;
    CT_CHECK_GOTO(rc, ct_h5_group(f, "history", &g));
    {
        hsize_t nh = (hsize_t)m->n_history;
        double zero = 0;
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "train", nh ? m->hist_train : &zero, 1, &nh));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "val", nh ? m->hist_val : &zero, 1, &nh));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "lr", nh ? m->hist_lr : &zero, 1, &nh));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "epochs", m->n_history));
    }
    H5Gclose(g);
    g = -1;
    if (st) {
        hsize_t np = (hsize_t)m->n_params;
        CT_CHECK_GOTO(rc, ct_h5_group(f, "train_state", &g));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "epoch", st->epoch));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "finished", st->finished));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "step", st->step));
        CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "lr", st->lr));
        CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "plateau_best", st->plateau_best));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "plateau_bad", st->plateau_bad));
        CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "best_val", st->best_val));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "best_epoch", st->best_epoch));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "bad_epochs", st->bad_epochs));
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "stopped_early", st->stopped_early));
        CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "precision", ct_nn_precision_name(st->precision)));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "adam_m", st->m1, 1, &np));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "adam_v", st->m2, 1, &np));
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "best_params", st->best_params, 1, &np));
        H5Gclose(g);
        g = -1;
    }
fail:
    if (g >= 0)
        H5Gclose(g);
    if (gl >= 0)
        H5Gclose(gl);
    return rc;
}

ct_status ct_nn_write_file(const ct_mlp *m, const ct_train_state *st, const char *path,
                           MPI_Comm comm)
{
    ct_status rc = CT_OK;
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        char *tmp = NULL;
        hid_t f = -1;
        /* built in memory, written with one checked write: a full disk is an
         * ordinary error (see ct_h5_mem_save) */
        rc = ct_atomic_begin_alloc(path, &tmp);
        if (rc == CT_OK)
            rc = ct_h5_mem_create(&f);
        if (rc == CT_OK)
            rc = write_model(f, m, st);
        if (rc == CT_OK) {
            rc = ct_h5_mem_save(f, tmp, path); /* closes f; removes tmp on error */
            f = -1;
        } else {
            if (f >= 0)
                H5Fclose(f);
            ct_error_push(rc, __func__, __LINE__);
            ct_atomic_abort(tmp);
        }
        free(tmp);
    }
    return ct_agree_msg(comm, rc);
}

ct_status ct_mlp_save(const ct_mlp *m, const char *path, MPI_Comm comm)
{
    return ct_nn_write_file(m, NULL, path, comm);
}

static ct_status read_str(hid_t f, const char *name, const char *path, char *buf, size_t cap)
{
    if (ct_h5_read_attr_string(f, name, buf, cap) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: model attribute %s missing", path, name);
    return CT_OK;
}

static ct_status read_vec(hid_t loc, const char *name, const char *path, double *out, size_t n)
{
    double *v = NULL;
    int rk;
    hsize_t d[2];
    if (ct_h5_read_doubles(loc, name, &v, &rk, d) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: cannot read %s", path, name);
    size_t got = (size_t)d[0] * (rk == 2 ? (size_t)d[1] : 1);
    if (got != n) {
        free(v);
        CT_FAIL(CT_ERR_FORMAT, "%s: %s has %zu values, expected %zu", path, name, got, n);
    }
    if (n)
        memcpy(out, v, n * sizeof(double));
    free(v);
    return CT_OK;
}

static ct_status read_model(hid_t f, const char *path, ct_mlp **out, ct_train_state *st,
                            int *has_state)
{
    ct_status rc = CT_OK;
    ct_mlp *m = NULL;
    hid_t g = -1;
    char s[256];
    long long n_in, n_targets, n_out, n_layers, lg = 0;
    char *cfg = NULL;
    double *hv = NULL;
    int64_t *dm = NULL;
    if (ct_h5_read_attr_string(f, "kind", s, sizeof s) != CT_OK || strcmp(s, MODEL_KIND))
        CT_FAIL(CT_ERR_UNSUPPORTED, "%s: not a cosmotl model file", path);
    if (ct_h5_read_attr_int(f, "n_in", &n_in) || ct_h5_read_attr_int(f, "n_targets", &n_targets) ||
        ct_h5_read_attr_int(f, "n_out", &n_out) || ct_h5_read_attr_int(f, "n_layers", &n_layers))
        CT_FAIL(CT_ERR_FORMAT, "%s: model shape attributes missing", path);
    if (n_layers < 1 || n_layers > CT_NN_MAX_LAYERS)
        CT_FAIL(CT_ERR_FORMAT, "%s: %lld layers", path, n_layers);
    char lossname[32];
    CT_CHECK(read_str(f, "loss", path, lossname, sizeof lossname));
    ct_loss_kind loss = !strcmp(lossname, "moment") ? CT_LOSS_MOMENT : CT_LOSS_MSE;
    int dims[CT_NN_MAX_LAYERS + 1];
    dims[0] = (int)n_in;
    for (int l = 0; l < n_layers; l++) {
        char name[64];
        int rk;
        hsize_t d[2] = {0, 0};
        snprintf(name, sizeof name, "layers/%d/W", l);
        hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
        if (ds < 0)
            CT_FAIL(CT_ERR_FORMAT, "%s: missing %s", path, name);
        hid_t sp = H5Dget_space(ds);
        rk = H5Sget_simple_extent_ndims(sp);
        if (rk == 2)
            H5Sget_simple_extent_dims(sp, d, NULL);
        H5Sclose(sp);
        H5Dclose(ds);
        if (rk != 2 || (int)d[1] != dims[l])
            CT_FAIL(CT_ERR_FORMAT, "%s: %s has shape %llux%llu, expected ?x%d", path, name,
                    (unsigned long long)d[0], (unsigned long long)d[1], dims[l]);
        dims[l + 1] = (int)d[0];
    }
    if (dims[n_layers] != n_out)
        CT_FAIL(CT_ERR_FORMAT, "%s: last layer has %d outputs, n_out = %lld", path,
                dims[n_layers], n_out);
    CT_CHECK(ct_nn_alloc(&m, (int)n_in, (int)n_targets, loss, (int)n_layers, dims));
    CT_CHECK_GOTO(rc, read_str(f, "hidden_act", path, s, sizeof s));
    CT_CHECK_GOTO(rc, ct_act_parse(s, &m->hidden_act));
    CT_CHECK_GOTO(rc, read_str(f, "out_act", path, s, sizeof s));
    CT_CHECK_GOTO(rc, ct_act_parse(s, &m->out_act));
    CT_CHECK_GOTO(rc, read_str(f, "init", path, s, sizeof s));
    m->init = !strcmp(s, "glorot") ? CT_INIT_GLOROT : CT_INIT_HE;
    if (ct_h5_read_attr_double(f, "leaky_slope", &m->leaky_slope) ||
        ct_h5_read_attr_double(f, "dropout", &m->dropout) ||
        ct_h5_read_attr_int(f, "input_log10", &lg))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: model attributes missing", path);
    m->in_log10 = (int)lg;
    for (int l = 0; l < n_layers; l++) {
        char name[64];
        long long fr = 0;
        snprintf(name, sizeof name, "layers/%d", l);
        g = H5Gopen2(f, name, H5P_DEFAULT);
        CT_CHECK_GOTO(rc, read_vec(g, "W", path, m->W[l], (size_t)dims[l] * (size_t)dims[l + 1]));
        CT_CHECK_GOTO(rc, read_vec(g, "b", path, m->b[l], (size_t)dims[l + 1]));
        ct_h5_read_attr_int(g, "frozen", &fr);
        m->frozen[l] = (int)fr;
        H5Gclose(g);
        g = -1;
    }
    if (ct_h5_exists(f, "input")) {
        CT_CHECK_GOTO(rc, ct_calloc(&m->in_mean, (size_t)n_in, sizeof(double), "norm"));
        CT_CHECK_GOTO(rc, ct_calloc(&m->in_std, (size_t)n_in, sizeof(double), "norm"));
        g = H5Gopen2(f, "input", H5P_DEFAULT);
        CT_CHECK_GOTO(rc, read_vec(g, "mean", path, m->in_mean, (size_t)n_in));
        CT_CHECK_GOTO(rc, read_vec(g, "std", path, m->in_std, (size_t)n_in));
        H5Gclose(g);
        g = -1;
    }
    g = H5Gopen2(f, "targets", H5P_DEFAULT);
    if (g < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no /targets", path);
    CT_CHECK_GOTO(rc, read_vec(g, "lo", path, m->target_lo, (size_t)n_targets));
    CT_CHECK_GOTO(rc, read_vec(g, "hi", path, m->target_hi, (size_t)n_targets));
    {
        int rk;
        hsize_t d[2];
        if (ct_h5_read_int64s(g, "dummy", &dm, &rk, d) != CT_OK || (long long)d[0] != n_targets)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: bad /targets/dummy", path);
        for (int k = 0; k < n_targets; k++)
            m->dummy[k] = dm[k] != 0;
    }
    CT_CHECK_GOTO(rc, read_names(g, "names", m->target_name, (int)n_targets));
    H5Gclose(g);
    g = -1;
    if (ct_h5_exists(f, "history")) {
        long long ne = 0;
        g = H5Gopen2(f, "history", H5P_DEFAULT);
        ct_h5_read_attr_int(g, "epochs", &ne);
        if (ne > 0) {
            CT_CHECK_GOTO(rc, ct_calloc(&hv, 3 * (size_t)ne, sizeof(double), "history"));
            CT_CHECK_GOTO(rc, read_vec(g, "train", path, hv, (size_t)ne));
            CT_CHECK_GOTO(rc, read_vec(g, "val", path, hv + ne, (size_t)ne));
            CT_CHECK_GOTO(rc, read_vec(g, "lr", path, hv + 2 * ne, (size_t)ne));
            CT_CHECK_GOTO(rc, ct_nn_set_history(m, (int)ne, hv, hv + ne, hv + 2 * ne));
        }
        H5Gclose(g);
        g = -1;
    }
    {
        /* the config text may be long: read its size first */
        CT_CHECK_GOTO(rc, ct_h5_check_attrs(f));
        hid_t a = H5Aopen(f, "config", H5P_DEFAULT);
        if (a >= 0) {
            hid_t t = H5Aget_type(a);
            size_t cap = 1 << 16;
            if (H5Tis_variable_str(t) <= 0)
                cap = H5Tget_size(t) + 1;
            H5Tclose(t);
            H5Aclose(a);
            CT_CHECK_GOTO(rc, ct_calloc(&cfg, cap, 1, "config"));
            if (ct_h5_read_attr_string(f, "config", cfg, cap) == CT_OK && cfg[0])
                CT_CHECK_GOTO(rc, ct_mlp_set_config_text(m, cfg));
        }
    }
    CT_CHECK_GOTO(rc, ct_nn_prov_read(f, path, &m->prov));
    if (m->prov && m->prov->n_in != m->n_in)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance n_in = %d but the model takes %d inputs",
                     path, m->prov->n_in, m->n_in);
    if (has_state)
        *has_state = 0;
    if (st && ct_h5_exists(f, "train_state")) {
        long long v;
        size_t np = m->n_params;
        memset(st, 0, sizeof *st);
        g = H5Gopen2(f, "train_state", H5P_DEFAULT);
        int ok = 1;
        ok &= ct_h5_read_attr_int(g, "epoch", &v) == CT_OK;
        st->epoch = (int)v;
        ok &= ct_h5_read_attr_int(g, "finished", &v) == CT_OK;
        st->finished = (int)v;
        ok &= ct_h5_read_attr_int(g, "step", &v) == CT_OK;
        st->step = v;
        ok &= ct_h5_read_attr_double(g, "lr", &st->lr) == CT_OK;
        ok &= ct_h5_read_attr_double(g, "plateau_best", &st->plateau_best) == CT_OK;
        ok &= ct_h5_read_attr_int(g, "plateau_bad", &v) == CT_OK;
        st->plateau_bad = (int)v;
        ok &= ct_h5_read_attr_double(g, "best_val", &st->best_val) == CT_OK;
        ok &= ct_h5_read_attr_int(g, "best_epoch", &v) == CT_OK;
        st->best_epoch = (int)v;
        ok &= ct_h5_read_attr_int(g, "bad_epochs", &v) == CT_OK;
        st->bad_epochs = (int)v;
        ok &= ct_h5_read_attr_int(g, "stopped_early", &v) == CT_OK;
        st->stopped_early = (int)v;
        if (!ok)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: incomplete /train_state", path);
        /* checkpoints written before the float32 path have no precision: float64 */
        if (ct_h5_attr_exists(g, "precision") > 0) {
            char pbuf[32];
            if (ct_h5_read_attr_string(g, "precision", pbuf, sizeof pbuf) != CT_OK ||
                ct_nn_precision_parse(pbuf, &st->precision) != CT_OK)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: unreadable /train_state precision", path);
        }
        CT_CHECK_GOTO(rc, ct_calloc(&st->m1, np, sizeof(double), "adam"));
        CT_CHECK_GOTO(rc, ct_calloc(&st->m2, np, sizeof(double), "adam"));
        CT_CHECK_GOTO(rc, ct_calloc(&st->best_params, np, sizeof(double), "best"));
        CT_CHECK_GOTO(rc, read_vec(g, "adam_m", path, st->m1, np));
        CT_CHECK_GOTO(rc, read_vec(g, "adam_v", path, st->m2, np));
        CT_CHECK_GOTO(rc, read_vec(g, "best_params", path, st->best_params, np));
        H5Gclose(g);
        g = -1;
        if (has_state)
            *has_state = 1;
    }
    *out = m;
    m = NULL;
fail:
    if (g >= 0)
        H5Gclose(g);
    free(cfg);
    free(hv);
    free(dm);
    if (rc != CT_OK && st) {
        ct_free(&st->m1);
        ct_free(&st->m2);
        ct_free(&st->best_params);
    }
    ct_mlp_destroy(&m);
    return rc;
}

ct_status ct_nn_read_file(ct_mlp **m, ct_train_state *st, int *has_state, const char *path,
                          MPI_Comm comm)
{
    ct_status rc = CT_OK;
    hid_t f = -1;
    *m = NULL;
    rc = ct_h5_open_ro(path, &f);
    if (rc == CT_OK) {
        rc = read_model(f, path, m, st, has_state);
        H5Fclose(f);
    }
    if (rc != CT_OK)
        ct_error_push(rc, __func__, __LINE__);
    ct_status agreed = ct_agree_msg(comm, rc);
    if (agreed != CT_OK) {
        ct_mlp_destroy(m);
        /* keep "not a model" recognisable for `cosmotl inspect` */
        return rc == CT_ERR_UNSUPPORTED ? CT_ERR_UNSUPPORTED : agreed;
    }
    return CT_OK;
}

ct_status ct_mlp_load(ct_mlp **m, const char *path, MPI_Comm comm)
{
    return ct_nn_read_file(m, NULL, NULL, path, comm);
}

int ct_mlp_file_is_model(const char *path)
{
    if (!ct_file_exists(path) || H5Fis_hdf5(path) <= 0)
        return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 0;
    char s[64];
    int ok = ct_h5_read_attr_string(f, "kind", s, sizeof s) == CT_OK && !strcmp(s, MODEL_KIND);
    H5Fclose(f);
    ct_error_clear();
    return ok;
}

/* ---------------------------------------------------------------- broadcast */

ct_status ct_nn_bcast(ct_mlp **mp, int root, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_mlp *m = rank == root ? *mp : NULL;
    int hdr[8 + CT_NN_MAX_LAYERS + 1 + CT_NN_MAX_LAYERS];
    double dh[2];
    if (rank == root) {
        hdr[0] = m->n_in;
        hdr[1] = m->n_targets;
        hdr[2] = m->loss;
        hdr[3] = m->n_layers;
        hdr[4] = m->hidden_act;
        hdr[5] = m->out_act;
        hdr[6] = m->init;
        hdr[7] = (m->in_mean ? 1 : 0) | (m->in_log10 ? 2 : 0);
        for (int l = 0; l <= m->n_layers; l++)
            hdr[8 + l] = m->dims[l];
        for (int l = 0; l < CT_NN_MAX_LAYERS; l++)
            hdr[8 + CT_NN_MAX_LAYERS + 1 + l] = m->frozen[l];
        dh[0] = m->leaky_slope;
        dh[1] = m->dropout;
    }
    MPI_Bcast(hdr, (int)(sizeof hdr / sizeof hdr[0]), MPI_INT, root, comm);
    MPI_Bcast(dh, 2, MPI_DOUBLE, root, comm);
    if (rank != root) {
        rc = ct_nn_alloc(&m, hdr[0], hdr[1], (ct_loss_kind)hdr[2], hdr[3], hdr + 8);
        if (rc == CT_OK) {
            m->hidden_act = (ct_act)hdr[4];
            m->out_act = (ct_act)hdr[5];
            m->init = (ct_init_kind)hdr[6];
            m->in_log10 = (hdr[7] & 2) != 0;
            m->leaky_slope = dh[0];
            m->dropout = dh[1];
            for (int l = 0; l < CT_NN_MAX_LAYERS; l++)
                m->frozen[l] = hdr[8 + CT_NN_MAX_LAYERS + 1 + l];
            if (hdr[7] & 1) {
                rc = ct_calloc(&m->in_mean, (size_t)m->n_in, sizeof(double), "norm");
                if (rc == CT_OK)
                    rc = ct_calloc(&m->in_std, (size_t)m->n_in, sizeof(double), "norm");
            }
        }
    }
    CT_CHECK_GOTO(rc, ct_agree(comm, rc));
    MPI_Bcast(m->params, (int)m->n_params, MPI_DOUBLE, root, comm);
    if (hdr[7] & 1) {
        MPI_Bcast(m->in_mean, m->n_in, MPI_DOUBLE, root, comm);
        MPI_Bcast(m->in_std, m->n_in, MPI_DOUBLE, root, comm);
    }
    MPI_Bcast(m->target_lo, m->n_targets, MPI_DOUBLE, root, comm);
    MPI_Bcast(m->target_hi, m->n_targets, MPI_DOUBLE, root, comm);
    MPI_Bcast(m->dummy, m->n_targets, MPI_INT, root, comm);
    MPI_Bcast(m->target_name, m->n_targets * CT_NN_NAME_MAX, MPI_CHAR, root, comm);
    int nh = rank == root ? m->n_history : 0;
    MPI_Bcast(&nh, 1, MPI_INT, root, comm);
    if (nh > 0) {
        double *h = NULL;
        ct_status s = ct_calloc(&h, 3 * (size_t)nh, sizeof(double), "history");
        CT_CHECK_GOTO(rc, ct_agree(comm, s));
        if (rank == root) {
            memcpy(h, m->hist_train, (size_t)nh * sizeof(double));
            memcpy(h + nh, m->hist_val, (size_t)nh * sizeof(double));
            memcpy(h + 2 * nh, m->hist_lr, (size_t)nh * sizeof(double));
        }
        MPI_Bcast(h, 3 * nh, MPI_DOUBLE, root, comm);
        if (rank != root)
            s = ct_nn_set_history(m, nh, h, h + nh, h + 2 * nh);
        free(h);
        CT_CHECK_GOTO(rc, ct_agree(comm, s));
    }
    if (rank != root)
        *mp = m;
    return CT_OK;
fail:
    if (rank != root)
        ct_mlp_destroy(&m);
    return rc;
}
