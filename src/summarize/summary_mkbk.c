/* Summary-file groups of the marked power spectrum (/mk) and the bispectrum (/bk). */
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "cosmotl/summary.h"
#include "summary_private.h"

ct_status ct_summary_write_mk(ct_summary_writer *w, const char *name, const ct_mk_result *r,
                              const ct_pk_meta *meta)
{
    ct_status rc = CT_OK;
    hid_t g = -1;
    const ct_pk_result *M = &r->M;
    CT_CHECK(ct_summary_group(w, name, "P0", "k,nmodes", "P2,P4,X0", "mean_mark", &g));
    hsize_t d[1] = {(hsize_t)M->nbins};
    if (r->X.nbins == M->nbins)
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "X0", r->X.P0, 1, d));
    int rsd = meta ? meta->rsd_axis : -1;
    char desc[512];
    snprintf(desc, sizeof desc,
             "marked power spectrum, mark [(1+ds)/(1+ds+dR)]^p, top-hat R; cosmotl, grid %lld, "
             "%s%s%s; X0: marked x unmarked cross spectrum",
             (long long)M->grid, ct_mas_name(M->mas), M->interlace ? ", interlaced" : "",
             rsd >= 0 ? ", redshift space" : "");
    /* R, p, delta_s as in the released Quijote tables */
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "R", r->settings.R));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "p", r->settings.p));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "delta_s", r->settings.delta_s));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "filter", "top-hat (Fourier space, uncompensated field)"));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "readout", "CIC"));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "mean_mark", r->mean_mark));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "delta_R_min", r->delta_R_range[0]));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "delta_R_max", r->delta_R_range[1]));
    CT_CHECK_GOTO(rc, ct_summary_spectrum_(g, M, meta, desc));
fail:
    H5Gclose(g);
    return rc;
}

ct_status ct_summary_write_bk(ct_summary_writer *w, const char *name, const ct_bk_result *r,
                              const ct_bk_meta *meta)
{
    ct_status rc = CT_OK;
    hid_t g = -1;
    double *col = NULL;
    int n = r->ntri;
    CT_CHECK(ct_summary_group(w, name, "B0", "k1,k2,k3,counts", "Q,B_SN,B,P1,P2,P3", "nbar", &g));
    CT_CHECK_GOTO(rc, ct_calloc(&col, (size_t)(n ? n : 1), sizeof *col, "bispectrum column"));
    hsize_t d[1] = {(hsize_t)n};
    static const char *kn[3] = {"k1", "k2", "k3"}, *pn[3] = {"P1", "P2", "P3"};
    for (int a = 0; a < 3; a++) {
        for (int t = 0; t < n; t++)
            col[t] = r->k[3 * t + a];
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, kn[a], col, 1, d));
        for (int t = 0; t < n; t++)
            col[t] = r->P[3 * t + a];
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, pn[a], col, 1, d));
    }
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "B0", r->B0, 1, d));
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "B", r->B, 1, d));
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "Q", r->Q, 1, d));
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "B_SN", r->Bsn, 1, d));
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(g, "counts", r->counts, 1, d));
    int rsd = meta ? meta->rsd_axis : -1;
    char desc[512];
    snprintf(desc, sizeof desc,
             "bispectrum monopole (FFT estimator), shells of %g kF, k1 <= %g kF, %d triangles "
             "k1 >= k2 >= k3 in Quijote order; k1..k3 in units of kF; B0 = B - B_SN, P1..P3 "
             "shell powers minus 1/nbar; cosmotl, grid %ld%s",
             r->dk, meta ? meta->kmax : r->nshell * r->dk, n, r->grid,
             rsd >= 0 ? ", redshift space" : "");
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "dk", r->dk));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "kmax", meta ? meta->kmax : r->nshell * r->dk));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "nshell", r->nshell));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "kF", 2.0 * 3.14159265358979323846 / r->box));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "k_unit", "kF"));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "nbar", r->nbar));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "box", r->box));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "grid", r->grid));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "mas", meta && meta->mas ? meta->mas : "CIC"));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "interlace", meta ? meta->interlace : 0));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "redshift", meta ? meta->redshift : 0.0));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "rsd", ct_summary_axis_name_(rsd)));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "description", desc));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "species", meta && meta->species ? meta->species : "m"));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "passes", r->nchunk));
    if (r->shell_f32) /* only then, so float64 summaries keep their attributes */
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "shell_float32", 1));
fail:
    free(col);
    H5Gclose(g);
    return rc;
}
