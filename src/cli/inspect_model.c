/* cosmotl inspect: model files. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/nn.h"

ct_status inspect_model(const char *path, MPI_Comm comm)
{
    int rank, is = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0)
        is = ct_mlp_file_is_model(path);
    MPI_Bcast(&is, 1, MPI_INT, 0, comm);
    if (!is)
        return CT_ERR_UNSUPPORTED;
    ct_mlp *m = NULL;
    CT_CHECK(ct_mlp_load(&m, path, comm));
    if (rank == 0) {
        printf("%s: cosmotl MLP model\n", path);
        printf("  layers      %d", m->dims[0]);
        for (int l = 1; l <= m->n_layers; l++)
            printf(" -> %d", m->dims[l]);
        printf("  (%zu parameters)\n", m->n_params);
        printf("  hidden      %s", ct_act_name(m->hidden_act));
        if (m->hidden_act == CT_ACT_LEAKY_RELU)
            printf(" (slope %g)", m->leaky_slope);
        printf(", dropout %g\n", m->dropout);
        printf("  output      %s, loss %s, init %s\n", ct_act_name(m->out_act),
               m->loss == CT_LOSS_MOMENT ? "moment (means then variances)" : "mse",
               m->init == CT_INIT_GLOROT ? "glorot" : "he");
        int nf = 0;
        for (int l = 0; l < m->n_layers; l++)
            nf += m->frozen[l];
        if (nf) {
            printf("  frozen      layers");
            for (int l = 0; l < m->n_layers; l++)
                if (m->frozen[l])
                    printf(" %d", l);
            printf("\n");
        }
        printf("  inputs      %d bins, %s%s\n", m->n_in, m->in_log10 ? "log10 then " : "",
               m->in_mean ? "standardised per bin" : "not standardised");
        const ct_model_prov *pv = ct_mlp_provenance(m);
        if (pv) {
            printf("  trained on  %s of %s", pv->statistics, pv->source[0] ? pv->source : "?");
            if (pv->k_cut > 0)
                printf(", k <= %g h/Mpc", pv->k_cut);
            if (pv->n_bins_cut > 0)
                printf(", first %d bins", pv->n_bins_cut);
            printf("\n");
            if (pv->n_k > 0)
                printf("  k grid      %d values in [%.6g, %.6g] h/Mpc, hash %s\n", pv->n_k,
                       pv->k[0], pv->k[pv->n_k - 1], pv->k_hash);
            printf("  written by  %s %s; parameters %s\n", pv->writer, pv->version, pv->params);
        } else {
            printf("  provenance  none (a file written before it was recorded)\n");
        }
        printf("  targets     %d (min-max scaled)\n", m->n_targets);
        for (int k = 0; k < m->n_targets; k++)
            printf("    %-16s [%g, %g]%s\n", m->target_name[k], m->target_lo[k], m->target_hi[k],
                   m->dummy[k] ? "  dummy (masked out of the loss)" : "");
        if (m->n_history > 0) {
            int best = -1;
            for (int e = 0; e < m->n_history; e++)
                if (isfinite(m->hist_val[e]) && (best < 0 || m->hist_val[e] < m->hist_val[best]))
                    best = e;
            printf("  history     %d epochs, last train loss %.4e", m->n_history,
                   m->hist_train[m->n_history - 1]);
            if (best >= 0)
                printf(", best validation loss %.4e at epoch %d", m->hist_val[best], best + 1);
            printf("\n");
        } else {
            printf("  history     not trained\n");
        }
        if (m->config_text && *m->config_text) {
            printf("  config used:\n");
            const char *p = m->config_text;
            while (*p) {
                const char *e = strchr(p, '\n');
                int len = e ? (int)(e - p) : (int)strlen(p);
                printf("    %.*s\n", len, p);
                p += len + (e ? 1 : 0);
            }
        }
        fflush(stdout);
    }
    ct_mlp_destroy(&m);
    return CT_OK;
}
