/* Inputs of a trained model from a suite table, for explain and cka. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_data.h"
#include "cli.h"
#include "cosmotl/h5.h"

void ct_model_inputs_get(const ct_mlp *m, const char *model_path, const char *stats,
                         double kmax, ct_model_inputs *in)
{
    snprintf(in->stats, sizeof in->stats, "pk");
    in->kmax = 0.5;
    in->n_bins = 0;
    in->model_path = model_path;
    const ct_model_prov *p = ct_mlp_provenance(m);
    if (p) {
        /* the structured record of what the model was trained on */
        ct_strlcpy(in->stats, p->statistics, sizeof in->stats); /* longer: the check names it */
        in->kmax = p->k_cut;
        in->n_bins = p->n_bins_cut;
    } else {
        /* a file from before provenance: the study's note, if any */
        const char *t = m->config_text;
        while (t && *t) {
            char key[64], val[CT_STUDY_NAME];
            if (sscanf(t, " %63[^= \t] = %63[^\n]", key, val) == 2) {
                if (!strcmp(key, "statistic"))
                    snprintf(in->stats, sizeof in->stats, "%s", val);
                else if (!strcmp(key, "kmax"))
                    in->kmax = atof(val);
            }
            t = strchr(t, '\n');
            if (t)
                t++;
        }
    }
    if (stats)
        snprintf(in->stats, sizeof in->stats, "%s", stats);
    if (kmax >= 0)
        in->kmax = kmax;
}

ct_status ct_model_rows(const ct_mlp *m, const ct_model_inputs *in, const char *path,
                        int64_t first, int64_t n, double **x, int64_t *rows, int64_t **sims)
{
    ct_status rc = CT_OK;
    ct_table_info info;
    ct_dataset d;
    ct_model_prov desc;
    ct_model_prov_init(&desc);
    memset(&info, 0, sizeof info);
    memset(&d, 0, sizeof d);
    *x = NULL;
    if (sims)
        *sims = NULL;
    CT_CHECK(ct_table_info_read(path, MPI_COMM_SELF, &info));
    if (first < 0 || first >= info.n_present)
        CT_FAIL_GOTO(rc, CT_ERR_RANGE, "%s: row %lld is beyond its %lld usable simulations",
                     path, (long long)first, (long long)info.n_present);
    if (n <= 0 || first + n > info.n_present)
        n = info.n_present - first;
    char stats[CT_STUDY_NAME];
    snprintf(stats, sizeof stats, "%s", in->stats);
    for (char *p = stats; *p; p++)
        if (*p == '+')
            *p = ',';
    ct_table_select sel;
    ct_table_select_defaults(&sel);
    sel.stats = stats;
    sel.k_max = in->kmax;
    sel.n_bins = in->n_bins;
    sel.targets = NULL;
    sel.rows = info.present + first;
    sel.n_rows = n;
    /* the table's inputs must be what the model was trained on */
    CT_CHECK_GOTO(rc, ct_table_describe(path, &sel, &desc));
    CT_CHECK_GOTO(rc, ct_mlp_check_inputs(m, in->model_path, &desc));
    CT_CHECK_GOTO(rc, ct_dataset_read_table(path, &sel, MPI_COMM_SELF, &d));
    if (d.n_in != m->n_in)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                     "%s: statistic '%s' with k <= %g gives %d inputs, the model takes %d "
                     "(use --stats / --kmax)",
                     path, in->stats, in->kmax, d.n_in, m->n_in);
    CT_CHECK_GOTO(rc, ct_calloc(x, (size_t)(n * m->n_in) + 1, sizeof(double), "inputs"));
    CT_CHECK_GOTO(rc, ct_mlp_normalize_inputs(m, d.x, n, *x));
    if (sims) {
        CT_CHECK_GOTO(rc, ct_calloc(sims, (size_t)n + 1, sizeof(int64_t), "rows"));
        memcpy(*sims, info.present + first, sizeof(int64_t) * n);
    }
    *rows = n;
fail:
    if (rc != CT_OK) {
        ct_free(x);
        if (sims)
            ct_free(sims);
    }
    ct_dataset_free(&d);
    ct_model_prov_free(&desc);
    ct_table_info_free(&info);
    return rc;
}

int ct_model_data_arg(const char *cmd, MPI_Comm comm, int argc, char **argv, int *i,
                      ct_model_data_args *args)
{
    const char *a = argv[*i];
    int has_value = *i + 1 < argc;
    if (has_value && !strcmp(a, "--stats")) {
        args->stats = argv[++*i];
    } else if (has_value && !strcmp(a, "--kmax")) {
        char *end = NULL;
        args->kmax = strtod(argv[++*i], &end);
        if (*end || !(args->kmax >= 0))
            return ct_cli_usage_error(cmd, comm, "--kmax needs a number >= 0");
    } else if (has_value && !strcmp(a, "--out")) {
        args->out = argv[++*i];
    } else if (a[0] == '-') {
        return ct_cli_usage_error(cmd, comm, "unknown option '%s'", a);
    } else if (args->npos < args->maxpos && args->npos < 3) {
        args->pos[args->npos++] = a;
    } else {
        return ct_cli_usage_error(cmd, comm, "unexpected argument '%s'", a);
    }
    return 0;
}

ct_status ct_model_data_out_begin(const char *path, hid_t *f, char **tmp)
{
    *f = -1;
    *tmp = NULL;
    CT_CHECK(ct_atomic_begin_alloc(path, tmp));
    return ct_h5_create(*tmp, f);
}

ct_status ct_model_data_out_end(ct_status rc, const char *path, hid_t f, char *tmp)
{
    if (f >= 0 && H5Fclose(f) < 0 && rc == CT_OK)
        rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: closing failed", path);
    if (rc == CT_OK)
        rc = ct_atomic_commit(tmp, path);
    else if (tmp)
        ct_atomic_abort(tmp);
    free(tmp);
    return rc;
}
