/* Training data from suite tables (SUITE.h5 written by `cosmotl gather`, or the
 * real Quijote summaries) and from folders of Quijote text spectra. Each rank
 * reads only its share of the selected rows. */
#include <ctype.h>
#include <limits.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "nn_internal.h"

void ct_table_select_defaults(ct_table_select *s)
{
    memset(s, 0, sizeof *s);
    s->stats = "pk";
}

void ct_table_info_free(ct_table_info *info)
{
    if (!info)
        return;
    free(info->param_name);
    free(info->present);
    memset(info, 0, sizeof *info);
}

/* Names of a string-array attribute (variable or fixed length). */
static ct_status read_names(hid_t loc, const char *attr, const char *path, int n,
                            char (*names)[CT_NN_NAME_MAX])
{
    ct_status rc = CT_OK;
    hid_t a = -1, t = -1, sp = -1, mt = -1;
    char **vl = NULL;
    char *fx = NULL;
    CT_CHECK_GOTO(rc, ct_h5_check_attrs(loc));
    a = H5Aopen(loc, attr, H5P_DEFAULT);
    if (a < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /params has no '%s' attribute", path, attr);
    sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (np != n)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /params has %d columns but %lld names", path, n,
                     (long long)np);
    t = H5Aget_type(a);
    if (H5Tget_class(t) != H5T_STRING)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /params names are not strings", path);
    if (H5Tis_variable_str(t) > 0) {
        CT_CHECK_GOTO(rc, ct_h5_check_heaps(loc));
        CT_CHECK_GOTO(rc, ct_calloc(&vl, (size_t)n, sizeof(char *), "names"));
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t)); /* UTF-8 and ASCII do not convert */
        if (H5Aread(a, mt, vl) < 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: cannot read /params names", path);
        for (int i = 0; i < n; i++)
            snprintf(names[i], CT_NN_NAME_MAX, "%s", vl[i] ? vl[i] : "");
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, vl);
    } else {
        size_t sz = H5Tget_size(t);
        CT_CHECK_GOTO(rc, ct_calloc(&fx, (size_t)n * sz + 1, 1, "names"));
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, fx) < 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: cannot read /params names", path);
        for (int i = 0; i < n; i++) {
            size_t l = strnlen(fx + i * sz, sz);
            if (l >= CT_NN_NAME_MAX)
                l = CT_NN_NAME_MAX - 1;
            memcpy(names[i], fx + i * sz, l);
            names[i][l] = '\0';
            while (l > 0 && names[i][l - 1] == ' ')
                names[i][--l] = '\0';
        }
    }
fail:
    free(vl);
    free(fx);
    if (mt >= 0)
        H5Tclose(mt);
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

static ct_status dims2(hid_t f, const char *ds, const char *path, hsize_t d[2], int *rank)
{
    hid_t id = H5Dopen2(f, ds, H5P_DEFAULT);
    if (id < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: no dataset %s", path, ds);
    hid_t sp = H5Dget_space(id);
    d[0] = d[1] = 1;
    *rank = H5Sget_simple_extent_ndims(sp);
    if (*rank >= 1 && *rank <= 2)
        H5Sget_simple_extent_dims(sp, d, NULL);
    H5Sclose(sp);
    /* a declared size the file cannot hold is refused before the row
     * bookkeeping is allocated from it */
    ct_status s = *rank >= 1 && *rank <= 2 ? ct_h5_check_dataset_size(id, path, ds, sizeof(double))
                                            : CT_OK;
    H5Dclose(id);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    if (*rank < 1 || *rank > 2)
        CT_FAIL(CT_ERR_FORMAT, "%s: %s has rank %d", path, ds, *rank);
    return CT_OK;
}

static ct_status info_local(const char *path, ct_table_info *info)
{
    ct_status rc = CT_OK;
    hid_t f = -1, ds = -1;
    double *st = NULL;
    int rk;
    hsize_t d[2];
    memset(info, 0, sizeof *info);
    CT_CHECK_GOTO(rc, ct_h5_open_ro(path, &f));
    CT_CHECK_GOTO(rc, dims2(f, "/params", path, d, &rk));
    if (rk != 2)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /params is not a 2-d table", path);
    info->n_sim = (int64_t)d[0];
    info->n_params = (int)d[1];
    CT_CHECK_GOTO(rc, ct_calloc(&info->param_name, (size_t)info->n_params + 1, CT_NN_NAME_MAX,
                                "names"));
    ds = H5Dopen2(f, "/params", H5P_DEFAULT);
    CT_CHECK_GOTO(rc, read_names(ds, "names", path, info->n_params, info->param_name));
    CT_CHECK_GOTO(rc, ct_calloc(&info->present, (size_t)info->n_sim + 1, sizeof(int64_t),
                                "status"));
    if (ct_h5_exists(f, "/status")) {
        int r2;
        hsize_t sd[2];
        CT_CHECK_GOTO(rc, ct_h5_read_doubles(f, "/status", &st, &r2, sd));
        if (r2 != 1 || (int64_t)sd[0] != info->n_sim)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /status has %lld entries for %lld simulations",
                         path, (long long)sd[0], (long long)info->n_sim);
        for (int64_t i = 0; i < info->n_sim; i++)
            if (st[i] == 1)
                info->present[info->n_present++] = i;
    } else {
        for (int64_t i = 0; i < info->n_sim; i++)
            info->present[info->n_present++] = i;
    }
fail:
    free(st);
    if (ds >= 0)
        H5Dclose(ds);
    if (f >= 0)
        H5Fclose(f);
    if (rc != CT_OK)
        ct_table_info_free(info);
    return rc;
}

ct_status ct_table_info_read(const char *path, MPI_Comm comm, ct_table_info *info)
{
    ct_status rc = info_local(path, info);
    if (rc != CT_OK)
        ct_error_push(rc, __func__, __LINE__);
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK)
        ct_table_info_free(info);
    return rc;
}

/* Split "a,b,c" into at most max tokens of capacity CT_NN_NAME_MAX; -1 when
 * there are more tokens or a longer one (never a silent cut). */
static int split_list(const char *s, char (*tok)[CT_NN_NAME_MAX], int max)
{
    int n = 0;
    const char *p = s;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *q = e;
        while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        size_t l = (size_t)(q - p);
        if (l >= CT_NN_NAME_MAX || n == max)
            return -1;
        memcpy(tok[n], p, l);
        tok[n][l] = '\0';
        n++;
        p = e;
    }
    return n;
}

#define MAX_STATS 8
#define MAX_TARGETS 64
/* text spectra: k of every file equal to the first file's to this relative
 * difference (the tolerance of ct_mlp_check_inputs) */
#define K_TOL 1e-6

/* Columns to keep of one statistic: k <= k_max, then the first n_bins. */
static int bins_kept(const double *k, int nbin, double k_max, int n_bins)
{
    int keep = 0;
    for (int j = 0; j < nbin; j++)
        if (k_max <= 0 || k[j] <= k_max * (1 + 1e-12))
            keep = j + 1;
        else
            break;
    if (n_bins > 0 && keep > n_bins)
        keep = n_bins;
    return keep;
}

static ct_status read_row(hid_t ds, const char *path, const char *name, int64_t row, int ncol,
                          double *out)
{
    hid_t fs = H5Dget_space(ds);
    hsize_t start[2] = {(hsize_t)row, 0}, count[2] = {1, (hsize_t)ncol};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hsize_t mc = (hsize_t)ncol;
    hid_t ms = H5Screate_simple(1, &mc, NULL);
    herr_t e = H5Dread(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out);
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot read row %lld of %s", path, (long long)row, name);
    return CT_OK;
}

static ct_status read_suite_local(const char *path, const ct_table_select *sel, MPI_Comm comm,
                                  ct_dataset *d)
{
    ct_status rc = CT_OK;
    ct_table_info info;
    hid_t f = -1, dsP[MAX_STATS], dpar = -1;
    int nst = 0, keep[MAX_STATS], nbin[MAX_STATS];
    char stats[MAX_STATS][CT_NN_NAME_MAX], tnames[MAX_TARGETS][CT_NN_NAME_MAX];
    int col[MAX_TARGETS];
    double *k = NULL, *prow = NULL, *buf = NULL;
    const int64_t *rows;
    int64_t nrows;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    for (int i = 0; i < MAX_STATS; i++)
        dsP[i] = -1;
    memset(d, 0, sizeof *d);
    CT_CHECK(info_local(path, &info));
    CT_CHECK_GOTO(rc, ct_h5_open_ro(path, &f));
    nst = split_list(sel->stats ? sel->stats : "pk", stats, MAX_STATS);
    if (nst < 0)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "statistics '%.60s': more than %d, or a name longer than %d",
                     sel->stats, MAX_STATS, CT_NN_NAME_MAX - 1);
    if (nst == 0)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "no statistic selected");
    int n_in = 0;
    for (int s = 0; s < nst; s++) {
        char name[64];
        int rk, rk2;
        hsize_t dd[2], kd[2];
        snprintf(name, sizeof name, "/%s/P", stats[s]);
        if (!ct_h5_exists(f, stats[s]) || !ct_h5_exists(f, name))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no statistic '%s' (no %s)", path, stats[s], name);
        CT_CHECK_GOTO(rc, dims2(f, name, path, dd, &rk));
        if (rk != 2 || (int64_t)dd[0] != info.n_sim)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s is not %lld x nbin", path, name,
                         (long long)info.n_sim);
        nbin[s] = (int)dd[1];
        snprintf(name, sizeof name, "/%s/k", stats[s]);
        if (ct_h5_exists(f, name)) {
            CT_CHECK_GOTO(rc, ct_h5_read_doubles(f, name, &k, &rk2, kd));
            if ((int)kd[0] * (rk2 == 2 ? (int)kd[1] : 1) < nbin[s])
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s has fewer entries than bins", path,
                             name);
            keep[s] = bins_kept(k, nbin[s], sel->k_max, sel->n_bins);
            ct_free(&k);
        } else {
            if (sel->k_max > 0)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: k_max given but %s is missing", path, name);
            keep[s] = sel->n_bins > 0 && sel->n_bins < nbin[s] ? sel->n_bins : nbin[s];
        }
        if (keep[s] < 1)
            CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: no bin of %s passes k_max = %g", path, stats[s],
                         sel->k_max);
        snprintf(name, sizeof name, "/%s/P", stats[s]);
        dsP[s] = H5Dopen2(f, name, H5P_DEFAULT);
        n_in += keep[s];
    }
    /* targets */
    int nt;
    if (sel->targets && *sel->targets) {
        nt = split_list(sel->targets, tnames, MAX_TARGETS);
    } else {
        if (info.n_params > MAX_TARGETS)
            CT_FAIL_GOTO(rc, CT_ERR_RANGE, "%s: %d parameters, at most %d targets (select some "
                         "with targets = ...)", path, info.n_params, MAX_TARGETS);
        nt = info.n_params;
        for (int t = 0; t < nt; t++)
            memcpy(tnames[t], info.param_name[t], CT_NN_NAME_MAX);
    }
    if (nt < 0)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "targets '%.60s': more than %d, or a name longer than %d",
                     sel->targets, MAX_TARGETS, CT_NN_NAME_MAX - 1);
    if (nt < 1)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "no targets selected");
    int any_missing = 0;
    for (int t = 0; t < nt; t++) {
        col[t] = -1;
        for (int c = 0; c < info.n_params; c++)
            if (!strcmp(tnames[t], info.param_name[c]))
                col[t] = c;
        any_missing |= col[t] < 0;
    }
    /* rows: the selection (or every present one), this rank's contiguous share */
    rows = sel->rows ? sel->rows : info.present;
    nrows = sel->rows ? sel->n_rows : info.n_present;
    for (int64_t i = 0; i < nrows; i++)
        if (rows[i] < 0 || rows[i] >= info.n_sim)
            CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: simulation %lld does not exist (%lld in table)",
                         path, (long long)rows[i], (long long)info.n_sim);
    if (sel->rows) {
        /* a selected simulation must be present (status 1); present[] is sorted */
        for (int64_t i = 0; i < nrows; i++) {
            int64_t lo = 0, hi = info.n_present;
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (info.present[mid] < rows[i])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo >= info.n_present || info.present[lo] != rows[i])
                CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: simulation %lld is marked missing or failed "
                             "in /status", path, (long long)rows[i]);
        }
    }
    int64_t a = nrows * rank / size, b = nrows * (rank + 1) / size;
    CT_CHECK_GOTO(rc, ct_dataset_alloc(d, b - a, n_in, nt, any_missing));
    CT_CHECK_GOTO(rc, ct_calloc(&d->target_name, (size_t)nt, CT_NN_NAME_MAX, "names"));
    for (int t = 0; t < nt; t++)
        memcpy(d->target_name[t], tnames[t], CT_NN_NAME_MAX);
    int maxbin = 0;
    for (int s = 0; s < nst; s++)
        maxbin = nbin[s] > maxbin ? nbin[s] : maxbin;
    CT_CHECK_GOTO(rc, ct_calloc(&buf, (size_t)maxbin, sizeof(double), "row"));
    CT_CHECK_GOTO(rc, ct_calloc(&prow, (size_t)info.n_params + 1, sizeof(double), "row"));
    dpar = H5Dopen2(f, "/params", H5P_DEFAULT);
    for (int64_t i = a; i < b; i++) {
        int64_t sim = rows[i], li = i - a;
        int off = 0;
        d->id[li] = sim;
        for (int s = 0; s < nst; s++) {
            CT_CHECK_GOTO(rc, read_row(dsP[s], path, stats[s], sim, nbin[s], buf));
            for (int j = 0; j < keep[s]; j++) {
                if (!isfinite(buf[j]))
                    CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: simulation %lld, %s bin %d is not finite",
                                 path, (long long)sim, stats[s], j);
                d->x[li * n_in + off + j] = buf[j];
            }
            off += keep[s];
        }
        CT_CHECK_GOTO(rc, read_row(dpar, path, "/params", sim, info.n_params, prow));
        for (int t = 0; t < nt; t++) {
            if (col[t] >= 0) {
                d->y[li * nt + t] = prow[col[t]];
                if (!isfinite(prow[col[t]]))
                    CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: simulation %lld, parameter %s is not finite",
                                 path, (long long)sim, tnames[t]);
            } else {
                d->y[li * nt + t] = NAN;
                d->mask[li * nt + t] = 0; /* not in this suite: a dummy output */
            }
        }
    }
fail:
    free(k);
    free(buf);
    free(prow);
    for (int s = 0; s < MAX_STATS; s++)
        if (dsP[s] >= 0)
            H5Dclose(dsP[s]);
    if (dpar >= 0)
        H5Dclose(dpar);
    if (f >= 0)
        H5Fclose(f);
    ct_table_info_free(&info);
    if (rc != CT_OK)
        ct_dataset_free(d);
    return rc;
}

ct_status ct_table_describe(const char *path, const ct_table_select *sel, ct_model_prov *out)
{
    ct_status rc = CT_OK;
    hid_t f = -1;
    char stats[MAX_STATS][CT_NN_NAME_MAX], list[CT_PROV_TEXT];
    double *k = NULL, *all = NULL;
    int n_in = 0, have_k = 1, nst;
    size_t used = 0;
    ct_model_prov_free(out);
    CT_CHECK(ct_h5_open_ro(path, &f));
    char norm[CT_PROV_TEXT];
    CT_CHECK_GOTO(rc, ct_snprintf(norm, sizeof norm, "%s", sel->stats ? sel->stats : "pk"));
    for (char *c = norm; *c; c++)
        if (*c == '+')
            *c = ',';
    nst = split_list(norm, stats, MAX_STATS);
    if (nst < 0)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "statistics '%.60s': more than %d, or a name longer than %d",
                     norm, MAX_STATS, CT_NN_NAME_MAX - 1);
    if (nst == 0)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "no statistic selected");
    list[0] = '\0';
    for (int s = 0; s < nst; s++) {
        char name[64];
        int rk;
        hsize_t dd[2], kd[2];
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", s ? "," : "", stats[s]);
        snprintf(name, sizeof name, "/%s/P", stats[s]);
        if (!ct_h5_exists(f, stats[s]) || !ct_h5_exists(f, name))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no statistic '%s' (no %s)", path, stats[s], name);
        CT_CHECK_GOTO(rc, dims2(f, name, path, dd, &rk));
        int nbin = rk == 2 ? (int)dd[1] : 0, keep;
        snprintf(name, sizeof name, "/%s/k", stats[s]);
        if (ct_h5_exists(f, name)) {
            CT_CHECK_GOTO(rc, ct_h5_read_doubles(f, name, &k, &rk, kd));
            if ((int)kd[0] * (rk == 2 ? (int)kd[1] : 1) < nbin)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s has fewer entries than bins", path, name);
            keep = bins_kept(k, nbin, sel->k_max, sel->n_bins);
            if (keep > 0) {
                double *grown = realloc(all, (size_t)(n_in + keep) * sizeof(double));
                if (!grown)
                    CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory (provenance k)");
                all = grown;
                memcpy(all + n_in, k, (size_t)keep * sizeof(double));
            }
            ct_free(&k);
        } else {
            have_k = 0;
            keep = sel->n_bins > 0 && sel->n_bins < nbin ? sel->n_bins : nbin;
        }
        if (keep < 1)
            CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: no bin of %s passes k_max = %g", path, stats[s],
                         sel->k_max);
        n_in += keep;
    }
    CT_CHECK_GOTO(rc, ct_model_prov_set_k(out, list, have_k ? all : NULL, have_k ? n_in : 0,
                                          n_in));
    out->k_cut = sel->k_max;
    out->n_bins_cut = sel->n_bins;
    CT_CHECK_GOTO(rc, ct_snprintf(out->source, sizeof out->source, "%s", path));
fail:
    free(k);
    free(all);
    if (f >= 0)
        H5Fclose(f);
    if (rc != CT_OK)
        ct_model_prov_free(out);
    return rc;
}

ct_status ct_dataset_read_table(const char *path, const ct_table_select *sel, MPI_Comm comm,
                                ct_dataset *d)
{
    ct_status rc = read_suite_local(path, sel, comm, d);
    if (rc != CT_OK)
        ct_error_push(rc, __func__, __LINE__);
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK)
        ct_dataset_free(d);
    return rc;
}

/* ---------------------------------------------------------------- text files */

/* A parameter table (ct_param_table_read) with names of at most
 * CT_NN_NAME_MAX - 1 characters (a longer one is an error). */
static ct_status read_params_file(const char *path, double **vals, int64_t *nrow, int *ncol,
                                  char (**names)[CT_NN_NAME_MAX])
{
    ct_status rc = CT_OK;
    ct_param_table t;
    *vals = NULL;
    *names = NULL;
    CT_CHECK(ct_param_table_read(path, &t));
    CT_CHECK_GOTO(rc, ct_calloc(names, (size_t)t.ncol, CT_NN_NAME_MAX, "names"));
    for (int c = 0; c < t.ncol; c++)
        if (ct_strlcpy((*names)[c], t.names[c], CT_NN_NAME_MAX) >= CT_NN_NAME_MAX)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: parameter name '%.40s...' is longer than %d "
                         "characters", path, t.names[c], CT_NN_NAME_MAX - 1);
    *vals = t.v;
    t.v = NULL;
    *nrow = t.nrow;
    *ncol = t.ncol;
fail:
    if (rc != CT_OK)
        ct_free(names);
    ct_param_table_free(&t);
    return rc;
}

/* Two-column spectrum file: k P per line, '#' comments. */
/* The P column of a "k P ..." text file up to k_max / n_bins into *out and its k
 * column into *kout (both of capacity *cap, grown together as needed). */
static ct_status read_spectrum(const char *path, double k_max, int n_bins, double **out,
                               double **kout, size_t *cap, int *nkept)
{
    char *text = NULL, *save = NULL;
    CT_CHECK(ct_read_text(path, &text, NULL));
    int n = 0, lineno = 0;
    ct_status rc = CT_OK;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *p = line, *e;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        double k = strtod(p, &e);
        if (e == p)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: not a number", path, lineno);
        p = e;
        double P = strtod(p, &e);
        if (e == p)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: expected two columns k P", path, lineno);
        if (k_max > 0 && k > k_max * (1 + 1e-12))
            break;
        if (n_bins > 0 && n >= n_bins)
            break;
        if (!isfinite(P))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: P is not finite", path, lineno);
        if (n == INT_MAX)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: more than %d bins", path, INT_MAX);
        if ((size_t)n >= *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            double *g = realloc(*out, nc * sizeof(double));
            if (g)
                *out = g;
            double *gk = g ? realloc(*kout, nc * sizeof(double)) : NULL;
            if (gk)
                *kout = gk;
            if (!g || !gk)
                CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory for %zu bins", path, nc);
            *cap = nc;
        }
        (*kout)[n] = k;
        (*out)[n++] = P;
    }
    *nkept = n;
fail:
    free(text);
    return rc;
}

static ct_status read_quijote_local(const char *dir, const char *file, const char *params,
                                    const ct_table_select *sel, const int64_t *rows,
                                    int64_t nrows, MPI_Comm comm, ct_dataset *d)
{
    ct_status rc = CT_OK;
    double *pv = NULL, *spec = NULL, *ks = NULL, *k0 = NULL;
    char(*pn)[CT_NN_NAME_MAX] = NULL;
    char *path = NULL, *path0 = NULL; /* a spectrum's file, the first one's */
    char tnames[MAX_TARGETS][CT_NN_NAME_MAX];
    int col[MAX_TARGETS];
    int64_t np = 0;
    int npc = 0, rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(d, 0, sizeof *d);
    CT_CHECK(read_params_file(params, &pv, &np, &npc, &pn));
    int nt;
    if (sel->targets && *sel->targets) {
        nt = split_list(sel->targets, tnames, MAX_TARGETS);
    } else {
        if (npc > MAX_TARGETS)
            CT_FAIL_GOTO(rc, CT_ERR_RANGE, "%s: %d parameters, at most %d targets (select some "
                         "with targets = ...)", params, npc, MAX_TARGETS);
        nt = npc;
        for (int t = 0; t < nt; t++)
            memcpy(tnames[t], pn[t], CT_NN_NAME_MAX);
    }
    if (nt < 1)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "targets '%.60s': none, more than %d, or a name longer "
                     "than %d", sel->targets ? sel->targets : "", MAX_TARGETS, CT_NN_NAME_MAX - 1);
    int any_missing = 0;
    for (int t = 0; t < nt; t++) {
        col[t] = -1;
        for (int c = 0; c < npc; c++)
            if (!strcmp(tnames[t], pn[c]))
                col[t] = c;
        any_missing |= col[t] < 0;
    }
    size_t cap = 0;
    /* the bin count comes from the first selected file, read on every rank */
    int nbin = 0;
    if (nrows < 1)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: no spectra selected", dir);
    CT_CHECK_GOTO(rc, ct_asprintf(&path0, "%s/%lld/%s", dir, (long long)rows[0], file));
    path = path0;
    CT_CHECK_GOTO(rc, read_spectrum(path, sel->k_max, sel->n_bins, &spec, &ks, &cap, &nbin));
    if (nbin < 1)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no bins pass the k cut", path);
    /* every spectrum must have the first one's k (the model records them) */
    CT_CHECK_GOTO(rc, ct_calloc(&k0, (size_t)nbin, sizeof(double), "k"));
    memcpy(k0, ks, (size_t)nbin * sizeof(double));
    path = NULL;
    int64_t a = nrows * rank / size, b = nrows * (rank + 1) / size;
    CT_CHECK_GOTO(rc, ct_dataset_alloc(d, b - a, nbin, nt, any_missing));
    CT_CHECK_GOTO(rc, ct_calloc(&d->target_name, (size_t)nt, CT_NN_NAME_MAX, "names"));
    for (int t = 0; t < nt; t++)
        memcpy(d->target_name[t], tnames[t], CT_NN_NAME_MAX);
    for (int64_t i = a; i < b; i++) {
        int64_t sim = rows[i], li = i - a;
        if (sim < 0 || sim >= np)
            CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: simulation %lld has no row (%lld rows)", params,
                         (long long)sim, (long long)np);
        free(path);
        path = NULL;
        CT_CHECK_GOTO(rc, ct_asprintf(&path, "%s/%lld/%s", dir, (long long)sim, file));
        int nb;
        CT_CHECK_GOTO(rc, read_spectrum(path, sel->k_max, sel->n_bins, &spec, &ks, &cap, &nb));
        if (nb != nbin)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %d bins, others have %d", path, nb, nbin);
        for (int j = 0; j < nbin; j++)
            if (!(fabs(ks[j] - k0[j]) <= K_TOL * fabs(k0[j])))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: k of bin %d is %.9g h/Mpc, %s has %.9g",
                             path, j, ks[j], path0, k0[j]);
        memcpy(d->x + li * nbin, spec, (size_t)nbin * sizeof(double));
        d->id[li] = sim;
        for (int t = 0; t < nt; t++) {
            if (col[t] >= 0) {
                d->y[li * nt + t] = pv[sim * npc + col[t]];
            } else {
                d->y[li * nt + t] = NAN;
                d->mask[li * nt + t] = 0;
            }
        }
    }
fail:
    if (path != path0)
        free(path);
    free(path0);
    free(pv);
    free(pn);
    free(spec);
    free(ks);
    free(k0);
    if (rc != CT_OK)
        ct_dataset_free(d);
    return rc;
}

ct_status ct_quijote_dir_describe(const char *dir, const char *file, const ct_table_select *sel,
                                  ct_model_prov *out)
{
    ct_status rc = CT_OK;
    double *spec = NULL, *ks = NULL;
    size_t cap = 0;
    int nbin = 0;
    char *path = NULL;
    ct_model_prov_free(out);
    if (!file || !*file)
        file = "Pk_m_z=0.txt";
    long long first = sel->rows && sel->n_rows > 0 ? (long long)sel->rows[0] : 0;
    CT_CHECK(ct_asprintf(&path, "%s/%lld/%s", dir, first, file));
    CT_CHECK_GOTO(rc, read_spectrum(path, sel->k_max, sel->n_bins, &spec, &ks, &cap, &nbin));
    if (nbin < 1)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no bins pass the k cut", path);
    CT_CHECK_GOTO(rc, ct_model_prov_set_k(out, "pk", ks, nbin, nbin));
    out->k_cut = sel->k_max;
    out->n_bins_cut = sel->n_bins;
    CT_CHECK_GOTO(rc, ct_snprintf(out->source, sizeof out->source, "%s", dir));
fail:
    free(path);
    free(spec);
    free(ks);
    if (rc != CT_OK)
        ct_model_prov_free(out);
    return rc;
}

ct_status ct_dataset_read_quijote_dir(const char *dir, const char *file, const char *params,
                                      const ct_table_select *sel, MPI_Comm comm, ct_dataset *d)
{
    ct_status rc = CT_OK;
    int64_t *rows = NULL, nrows = 0;
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (!file || !*file)
        file = "Pk_m_z=0.txt";
    if (sel->rows) {
        CT_CHECK_GOTO(rc, ct_calloc(&rows, (size_t)sel->n_rows + 1, sizeof(int64_t), "rows"));
        memcpy(rows, sel->rows, (size_t)sel->n_rows * sizeof(int64_t));
        nrows = sel->n_rows;
    } else {
        /* rank 0 lists the simulations with a spectrum, everyone gets the list */
        ct_status s = CT_OK;
        if (rank == 0) {
            if (!ct_dir_exists(dir))
                s = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: no such directory", dir);
            int64_t cap = 0;
            for (int64_t i = 0; s == CT_OK; i++) {
                char *path = NULL;
                s = ct_asprintf(&path, "%s/%lld/%s", dir, (long long)i, file);
                int there = s == CT_OK && ct_file_exists(path);
                free(path);
                if (!there)
                    break;
                if (nrows == cap) {
                    cap = cap ? 2 * cap : 1024;
                    int64_t *nr = realloc(rows, (size_t)cap * sizeof(int64_t));
                    if (!nr) {
                        s = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__, "out of memory");
                        break;
                    }
                    rows = nr;
                }
                rows[nrows++] = i;
            }
            if (s == CT_OK && nrows == 0)
                s = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: no %s/0/%s", dir, dir, file);
        }
        CT_CHECK_GOTO(rc, ct_agree_msg(comm, s));
        MPI_Bcast(&nrows, 1, MPI_INT64_T, 0, comm);
        if (rank != 0)
            CT_CHECK_GOTO(rc, ct_calloc(&rows, (size_t)nrows, sizeof(int64_t), "rows"));
        MPI_Bcast(rows, (int)nrows, MPI_INT64_T, 0, comm);
    }
    rc = read_quijote_local(dir, file, params, sel, rows, nrows, comm, d);
    if (rc != CT_OK)
        ct_error_push(rc, __func__, __LINE__);
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK)
        ct_dataset_free(d);
fail:
    free(rows);
    return rc;
}
