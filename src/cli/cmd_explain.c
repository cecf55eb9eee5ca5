/* cosmotl explain MODEL DATA: SHAP attributions of a trained network per input
 * bin and output, on rows of a suite table, against a background set drawn
 * from the same table. Explained rows are spread over the ranks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/h5.h"
#include "model_data.h"

static void help(void)
{
    printf("usage: cosmotl explain MODEL DATA [--samples N] [--background N]\n"
           "         [--method auto|exact|permutation] [--permutations P] [--seed S]\n"
           "         [--stats SPEC] [--kmax K] [--out FILE.h5]\n\n"
           "SHAP values of every output of MODEL for each input bin, on the first N usable\n"
           "simulations of the suite table DATA (default 32), against a background of the\n"
           "next N_b simulations (default 32). Interventional Shapley values: exact\n"
           "enumeration of all coalitions for up to 10 inputs, otherwise permutation\n"
           "sampling with antithetic pairs (P permutations, default 16); both satisfy\n"
           "sum_i phi_i = f(x) - E_b f(b) exactly. Values are in the network's scaled\n"
           "output units ([0, 1] over the prior). Prints, per output, the bins with the\n"
           "largest mean |phi|; --out writes phi (rows x bins x outputs), base, k.\n");
}

int cmd_explain(int argc, char **argv, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_model_data_args args = {.kmax = -1, .maxpos = 2};
    long ns = 32, nb = 32, perms = 16, seed = 1;
    ct_shap_settings ss;
    ct_shap_defaults(&ss);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ct_cli_is_help(a)) {
            if (rank == 0)
                help();
            return 0;
        } else if (!strcmp(a, "--samples") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 1, 1L << 30, &ns))
                return ct_cli_usage_error("explain", comm, "--samples needs a positive integer");
        } else if (!strcmp(a, "--background") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 1, 1L << 30, &nb))
                return ct_cli_usage_error("explain", comm,
                                          "--background needs a positive integer");
        } else if (!strcmp(a, "--permutations") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 2, 1L << 30, &perms))
                return ct_cli_usage_error("explain", comm, "--permutations needs an integer >= 2");
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 0, 1L << 62, &seed))
                return ct_cli_usage_error("explain", comm, "--seed needs an integer");
        } else if (!strcmp(a, "--method") && i + 1 < argc) {
            const char *m = argv[++i];
            if (!strcmp(m, "auto"))
                ss.method = CT_SHAP_AUTO;
            else if (!strcmp(m, "exact"))
                ss.method = CT_SHAP_EXACT;
            else if (!strcmp(m, "permutation"))
                ss.method = CT_SHAP_PERMUTATION;
            else
                return ct_cli_usage_error("explain", comm, "unknown --method '%s'", m);
        } else if (ct_model_data_arg("explain", comm, argc, argv, &i, &args)) {
            return 2;
        }
    }
    const char *model = args.pos[0], *data = args.pos[1];
    const char *stats = args.stats, *out = args.out;
    double kmax = args.kmax;
    if (!model || !data)
        return ct_cli_usage_error("explain", comm, "needs MODEL and DATA");
    ss.permutations = (int)perms;
    ss.seed = (uint64_t)seed;

    ct_status rc = CT_OK;
    ct_mlp *m = NULL;
    double *x = NULL, *bg = NULL, *phi = NULL, *phisum = NULL, *k = NULL, *fx = NULL;
    int64_t n = 0, nbg = 0, *sims = NULL;
    double base[256];
    ct_shap_method used = CT_SHAP_AUTO;
    rc = ct_mlp_load(&m, model, comm);
    if (rc != CT_OK)
        return ct_cli_fail("explain", comm);
    ct_model_inputs in;
    ct_model_inputs_get(m, model, stats, kmax, &in);
    int d = m->n_in, o = m->n_out;
    if (o > 256)
        rc = ct_error_set(CT_ERR_RANGE, __func__, __LINE__, "%s: too many outputs", model);
    if (rc == CT_OK)
        rc = ct_model_rows(m, &in, data, 0, ns, &x, &n, &sims);
    if (rc == CT_OK) {
        /* background: the usable rows after the explained ones, or (when the
         * table has no more) the first rows again */
        rc = ct_model_rows(m, &in, data, n, nb, &bg, &nbg, NULL);
        if (rc == CT_ERR_RANGE) {
            ct_error_clear();
            rc = ct_model_rows(m, &in, data, 0, nb, &bg, &nbg, NULL);
        }
    }
    if (rc == CT_OK)
        rc = ct_calloc(&phi, (size_t)(n * d * o) + 1, sizeof(double), "SHAP");
    if (rc == CT_OK)
        rc = ct_calloc(&phisum, (size_t)(n * d * o) + 1, sizeof(double), "SHAP");
    if (rc == CT_OK)
        rc = ct_calloc(&fx, (size_t)(n * o) + 1, sizeof(double), "outputs");
    /* rows r = rank, rank + size, ...: each row's permutations are keyed by the
     * row, so the answer does not depend on the number of ranks */
    for (int64_t r = rank; r < n && rc == CT_OK; r += size) {
        ct_shap_settings si = ss;
        si.seed = ss.seed + (uint64_t)r;
        rc = ct_study_model_shap(m, x + r * d, 1, bg, nbg, &si, phi + r * d * o, base, &used);
    }
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK)
        goto fail;
    MPI_Reduce(phi, phisum, (int)(n * d * o), MPI_DOUBLE, MPI_SUM, 0, comm);
    if (rank == 0) {
        /* base from a background pass; efficiency check on every row */
        double *fb = NULL;
        rc = ct_calloc(&fb, (size_t)(nbg * o) + 1, sizeof(double), "outputs");
        if (rc == CT_OK)
            rc = ct_mlp_forward(m, bg, nbg, fb, NULL);
        if (rc == CT_OK)
            rc = ct_mlp_forward(m, x, n, fx, NULL);
        for (int j = 0; j < o; j++) {
            base[j] = 0;
            for (int64_t b = 0; b < nbg; b++)
                base[j] += fb ? fb[b * o + j] / (double)nbg : 0;
        }
        free(fb);
        double worst = 0;
        for (int64_t r = 0; r < n; r++)
            for (int j = 0; j < o; j++) {
                double s = 0;
                for (int i = 0; i < d; i++)
                    s += phisum[(r * d + i) * o + j];
                worst = fmax(worst, fabs(s - (fx[r * o + j] - base[j])));
            }
        if (rc == CT_OK)
            rc = ct_calloc(&k, (size_t)d, sizeof(double), "k");
        if (rc == CT_OK)
            rc = ct_study_read_k(data, in.stats, in.kmax, d, k);
        if (rc == CT_OK) {
            printf("# SHAP of %s on %lld rows of %s (%s; %s, background %lld rows)\n", model,
                   (long long)n, data, in.stats,
                   used == CT_SHAP_EXACT ? "exact Shapley values"
                                         : "permutation sampling, antithetic pairs",
                   (long long)nbg);
            printf("# efficiency: max |sum_i phi_i - (f(x) - E f)| = %.3g\n", worst);
            for (int j = 0; j < o; j++) {
                int dummy = m->dummy && j < m->n_targets && m->dummy[j];
                printf("%s%s: E f = %.4f; largest mean |phi| at", m->target_name[j % m->n_targets],
                       dummy ? " (dummy)" : "", base[j]);
                int top[5] = {-1, -1, -1, -1, -1};
                double tv[5] = {-1, -1, -1, -1, -1};
                for (int i = 0; i < d; i++) {
                    double s = 0;
                    for (int64_t r = 0; r < n; r++)
                        s += fabs(phisum[(r * d + i) * o + j]) / (double)n;
                    for (int q = 0; q < 5; q++)
                        if (s > tv[q]) {
                            for (int z = 4; z > q; z--)
                                tv[z] = tv[z - 1], top[z] = top[z - 1];
                            tv[q] = s;
                            top[q] = i;
                            break;
                        }
                }
                for (int q = 0; q < 5 && q < d; q++)
                    printf(" k=%.4g (%.3g)", k[top[q]], tv[q]);
                printf("\n");
            }
        }
        if (rc == CT_OK && out) {
            char *tmp;
            hid_t f;
            rc = ct_model_data_out_begin(out, &f, &tmp);
            hsize_t d3[2] = {(hsize_t)n, (hsize_t)(d * o)};
            hsize_t d1[1] = {(hsize_t)d}, dob[1] = {(hsize_t)o}, dn[1] = {(hsize_t)n};
            if (rc == CT_OK)
                rc = ct_h5_write_doubles(f, "phi", phisum, 2, d3);
            if (rc == CT_OK)
                rc = ct_h5_write_doubles(f, "k", k, 1, d1);
            if (rc == CT_OK)
                rc = ct_h5_write_doubles(f, "base", base, 1, dob);
            if (rc == CT_OK)
                rc = ct_h5_write_int64s(f, "rows", sims, 1, dn);
            if (rc == CT_OK)
                rc = ct_h5_attr_string(f, "layout", "phi[row][bin * n_out + output], scaled "
                                                    "output units");
            if (rc == CT_OK)
                rc = ct_h5_attr_string(f, "method", used == CT_SHAP_EXACT
                                                        ? "exact"
                                                        : "permutation (antithetic pairs)");
            if (rc == CT_OK)
                rc = ct_h5_attr_double(f, "efficiency_max_error", worst);
            rc = ct_model_data_out_end(rc, out, f, tmp);
        }
    }
    rc = ct_agree_msg(comm, rc);
fail:
    free(x);
    free(bg);
    free(phi);
    free(phisum);
    free(fx);
    free(k);
    free(sims);
    ct_mlp_destroy(&m);
    return rc == CT_OK ? 0 : ct_cli_fail("explain", comm);
}
