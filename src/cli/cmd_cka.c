/* cosmotl cka MODEL DATA_A DATA_B: linear CKA between every pair of layers of a
 * network on two datasets (e.g. in- and out-of-distribution inputs), with the
 * block-structure summaries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/h5.h"
#include "model_data.h"

static void help(void)
{
    printf("usage: cosmotl cka MODEL DATA_A DATA_B [--samples N] [--stats SPEC] [--kmax K]\n"
           "         [--out FILE.h5]\n\n"
           "Linear CKA (Kornblith et al. 2019) between the representations of every pair of\n"
           "layers of MODEL (input, each hidden layer after its activation, output) on the\n"
           "first N usable simulations (default 256) of each suite table. Prints both L x L\n"
           "matrices, the distribution of their off-diagonal values and their eigenvalues;\n"
           "block structure (high off-diagonal CKA) on one dataset but not the other is the\n"
           "signature of a network that generalises poorly to it.\n");
}

static void print_matrix(const char *title, const double *m, int l, const ct_cka_summary *s)
{
    printf("## %s\n", title);
    for (int i = 0; i < l; i++) {
        printf("  ");
        for (int j = 0; j < l; j++)
            printf(" %6.3f", m[i * l + j]);
        printf("\n");
    }
    printf("  off-diagonal: mean %.3f median %.3f min %.3f max %.3f\n  eigenvalues:",
           s->offdiag_mean, s->offdiag_median, s->offdiag_min, s->offdiag_max);
    for (int i = 0; i < l; i++)
        printf(" %.3f", s->eig[i]);
    printf("\n");
}

int cmd_cka(int argc, char **argv, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_model_data_args args = {.kmax = -1, .maxpos = 3};
    long ns = 256;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ct_cli_is_help(a)) {
            if (rank == 0)
                help();
            return 0;
        } else if (!strcmp(a, "--samples") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 2, 1L << 30, &ns))
                return ct_cli_usage_error("cka", comm, "--samples needs an integer >= 2");
        } else if (ct_model_data_arg("cka", comm, argc, argv, &i, &args)) {
            return 2;
        }
    }
    const char *model = args.pos[0], *da = args.pos[1], *db = args.pos[2];
    const char *stats = args.stats, *out = args.out;
    double kmax = args.kmax;
    if (!model || !da || !db)
        return ct_cli_usage_error("cka", comm, "needs MODEL, DATA_A and DATA_B");
    ct_mlp *m = NULL;
    ct_status rc = ct_mlp_load(&m, model, comm);
    if (rc != CT_OK)
        return ct_cli_fail("cka", comm);
    /* small work (n x width matrices): rank 0 computes, the others wait */
    double *xa = NULL, *xb = NULL, *ra[CT_STUDY_MAX_LAYERS + 2] = {0},
           *rb[CT_STUDY_MAX_LAYERS + 2] = {0}, *ma = NULL, *mb = NULL;
    int dimsa[CT_STUDY_MAX_LAYERS + 2], dimsb[CT_STUDY_MAX_LAYERS + 2], la = 0, lb = 0;
    int64_t na = 0, nb = 0;
    ct_cka_summary sa, sb;
    if (rank == 0) {
        ct_model_inputs in;
        ct_model_inputs_get(m, model, stats, kmax, &in);
        rc = ct_model_rows(m, &in, da, 0, ns, &xa, &na, NULL);
        if (rc == CT_OK)
            rc = ct_model_rows(m, &in, db, 0, ns, &xb, &nb, NULL);
        int64_t n = na < nb ? na : nb;
        if (rc == CT_OK && n < 2)
            rc = ct_error_set(CT_ERR_RANGE, __func__, __LINE__, "CKA needs >= 2 rows per dataset");
        if (rc == CT_OK)
            rc = ct_study_model_layers(m, xa, n, ra, dimsa, &la);
        if (rc == CT_OK)
            rc = ct_study_model_layers(m, xb, n, rb, dimsb, &lb);
        if (rc == CT_OK)
            rc = ct_calloc(&ma, (size_t)(la * la), sizeof(double), "CKA");
        if (rc == CT_OK)
            rc = ct_calloc(&mb, (size_t)(lb * lb), sizeof(double), "CKA");
        if (rc == CT_OK)
            rc = ct_cka_matrix((const double *const *)ra, dimsa, la, (const double *const *)ra,
                               dimsa, la, n, ma);
        if (rc == CT_OK)
            rc = ct_cka_matrix((const double *const *)rb, dimsb, lb, (const double *const *)rb,
                               dimsb, lb, n, mb);
        if (rc == CT_OK)
            rc = ct_cka_summarise(ma, la, &sa);
        if (rc == CT_OK)
            rc = ct_cka_summarise(mb, lb, &sb);
        if (rc == CT_OK) {
            printf("# linear CKA between the %d layers (input, hidden..., output) of %s, %lld "
                   "samples per dataset\n",
                   la, model, (long long)n);
            print_matrix(da, ma, la, &sa);
            print_matrix(db, mb, lb, &sb);
            printf("# block structure (mean off-diagonal CKA): %.3f on A, %.3f on B\n",
                   sa.offdiag_mean, sb.offdiag_mean);
        }
        if (rc == CT_OK && out) {
            char *tmp;
            hid_t f;
            hsize_t d2[2] = {(hsize_t)la, (hsize_t)la};
            rc = ct_model_data_out_begin(out, &f, &tmp);
            if (rc == CT_OK)
                rc = ct_h5_write_doubles(f, "cka_a", ma, 2, d2);
            if (rc == CT_OK)
                rc = ct_h5_write_doubles(f, "cka_b", mb, 2, d2);
            if (rc == CT_OK)
                rc = ct_h5_attr_doubles(f, "eigenvalues_a", sa.eig, (size_t)la);
            if (rc == CT_OK)
                rc = ct_h5_attr_doubles(f, "eigenvalues_b", sb.eig, (size_t)lb);
            if (rc == CT_OK)
                rc = ct_h5_attr_string(f, "data_a", da);
            if (rc == CT_OK)
                rc = ct_h5_attr_string(f, "data_b", db);
            if (rc == CT_OK)
                rc = ct_h5_attr_int(f, "samples", n);
            rc = ct_model_data_out_end(rc, out, f, tmp);
        }
    }
    rc = ct_agree_msg(comm, rc);
    for (int l = 0; l < CT_STUDY_MAX_LAYERS + 2; l++) {
        free(ra[l]);
        free(rb[l]);
    }
    free(xa);
    free(xb);
    free(ma);
    free(mb);
    ct_mlp_destroy(&m);
    return rc == CT_OK ? 0 : ct_cli_fail("cka", comm);
}
