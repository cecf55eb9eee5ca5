/* Marked power spectrum: smooth delta with a top-hat, read delta_R out at the
 * particles, mark them, paint the marks and bin as P(k) (White 2016; the mark and filter are documented in
 * include/cosmotl/stats.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"

void ct_mk_result_free(ct_mk_result *r)
{
    if (!r)
        return;
    ct_pk_result_free(&r->M);
    ct_pk_result_free(&r->X);
    memset(r, 0, sizeof *r);
}

static ct_status check_settings(const ct_mk_settings *s)
{
    if (!(s->R >= 0) || !isfinite(s->R))
        CT_FAIL(CT_ERR_ARG, "mark smoothing radius R = %g Mpc/h must be finite and >= 0", s->R);
    if (!isfinite(s->p))
        CT_FAIL(CT_ERR_ARG, "mark exponent p = %g must be finite", s->p);
    if (!(s->delta_s > -1) || !isfinite(s->delta_s))
        CT_FAIL(CT_ERR_ARG, "mark offset delta_s = %g must be finite and > -1", s->delta_s);
    return CT_OK;
}

/* delta_R in real space in work: delta(k) as prepared for P(k) with the
 * mass-assignment window put back (Quijote smooths the painted field without
 * compensation), times the top-hat window W(kR), transformed back. */
static ct_status smoothed_density(ct_mesh *work, ct_mesh *delta, const ct_pk_settings *ps,
                                  const ct_mk_settings *s)
{
    CT_CHECK(ct_mesh_copy(work, delta));
    ct_complex *c = ct_mesh_complex(work);
    const double kR = ct_mesh_kf(work) * s->R;
    const int64_t N = ct_mesh_n(work);
    const int p = ps->compensate ? (int)ps->mas : 0;
    ptrdiff_t y0, ny;
    ct_mesh_klocal(work, &y0, &ny);
#pragma omp parallel for schedule(static) num_threads(ct_mesh_threads(work))
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, work, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            double w = ct_tophat_window(kR * sqrt((double)it.mode.n2));
            for (int a = 0; a < 3 && p > 0; a++) {
                if (it.mode.n[a] == 0)
                    continue;
                double x = M_PI * (double)it.mode.n[a] / (double)N;
                w *= pow(sin(x) / x, p);
            }
            c[it.mode.idx][0] *= w;
            c[it.mode.idx][1] *= w;
        }
    }
    CT_CHECK(ct_mesh_c2r(work));
    return CT_OK;
}

ct_status ct_mk_marks(ct_mesh *delta, ct_mesh *work, const ct_pk_settings *ps,
                      const ct_mk_settings *s, int nset, const ct_pk_particles *sets,
                      float **marks, double *mean_mark, double delta_R_range[2])
{
    ct_status rc = CT_OK;
    double *dR = NULL;
    MPI_Comm comm = ct_mesh_comm(work);
    for (int k = 0; k < nset; k++)
        marks[k] = NULL;
    CT_CHECK(check_settings(s));
    if (!ct_mesh_is_fourier(delta))
        CT_FAIL(CT_ERR_STATE, "the marked spectrum needs the density mesh in Fourier space");
    CT_CHECK(smoothed_density(work, delta, ps, s));
    double sum = 0, cnt = 0, lo = INFINITY, hi = -INFINITY;
    int64_t bad = 0;
    double bad_val = 0;
    for (int k = 0; k < nset; k++) {
        int64_t n = sets[k].n;
        rc = ct_calloc(&marks[k], (size_t)(n ? n : 1), sizeof(float), "marks");
        if (rc == CT_OK)
            rc = ct_calloc(&dR, (size_t)(n ? n : 1), sizeof *dR, "delta_R at particles");
        CT_CHECK_GOTO(rc, ct_agree(comm, rc));
        /* Quijote reads delta_R out with CIC whatever the painting scheme */
        CT_CHECK_GOTO(rc, ct_mesh_readout(work, CT_MAS_CIC, n, sets[k].pos, dR));
        for (int64_t i = 0; i < n; i++) {
            double mk = ct_mk_mark(s, dR[i]);
            lo = dR[i] < lo ? dR[i] : lo;
            hi = dR[i] > hi ? dR[i] : hi;
            if (!isfinite(mk) || !((float)mk > 0)) {
                if (!bad++)
                    bad_val = dR[i];
                mk = 1;
            }
            marks[k][i] = (float)mk;
            sum += mk;
        }
        cnt += (double)n;
        free(dR);
        dR = NULL;
    }
    double red[3] = {sum, cnt, (double)bad}, mm[2] = {-lo, hi};
    MPI_Allreduce(MPI_IN_PLACE, red, 3, MPI_DOUBLE, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_DOUBLE, MPI_MAX, comm);
    if (red[2] > 0) {
        /* every rank takes this branch (the count is global); name a value from
         * the lowest rank that saw one */
        int me, size, first;
        MPI_Comm_rank(comm, &me);
        MPI_Comm_size(comm, &size);
        int mine = bad ? me : size;
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
        MPI_Bcast(&bad_val, 1, MPI_DOUBLE, first, comm);
        CT_FAIL_GOTO(rc, CT_ERR_NUMERIC,
                     "mark undefined for %.0f particle(s): 1 + delta_s + delta_R <= 0 "
                     "(delta_s = %g, delta_R = %g); use a larger delta_s or R",
                     red[2], s->delta_s, bad_val);
    }
    if (!(red[1] > 0))
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "no particles to mark");
    *mean_mark = red[0] / red[1];
    if (delta_R_range) {
        delta_R_range[0] = -mm[0];
        delta_R_range[1] = mm[1];
    }
    return CT_OK;
fail:
    free(dR);
    for (int k = 0; k < nset; k++)
        ct_free(&marks[k]);
    return rc;
}

ct_status ct_mk_measure(ct_mesh *delta, ct_mesh *work, ct_mesh *work_shift,
                        const ct_pk_settings *ps, const ct_mk_settings *s, int nset,
                        const ct_pk_particles *sets, ct_mk_result *r)
{
    ct_status rc = CT_OK;
    float **marks = NULL, **w = NULL;
    ct_pk_particles *ms = NULL;
    memset(r, 0, sizeof *r);
    r->settings = *s;
    if (ct_mesh_is_float32(delta) || ct_mesh_is_float32(work) ||
        (work_shift && ct_mesh_is_float32(work_shift)))
        CT_FAIL(CT_ERR_UNSUPPORTED, "the marked power spectrum of float32 meshes (it needs "
                "double meshes)");
    MPI_Comm comm = ct_mesh_comm(work);
    rc = ct_calloc(&marks, (size_t)(nset ? nset : 1), sizeof *marks, "marks");
    if (rc == CT_OK)
        rc = ct_calloc(&w, (size_t)(nset ? nset : 1), sizeof *w, "marked weights");
    if (rc == CT_OK)
        rc = ct_calloc(&ms, (size_t)(nset ? nset : 1), sizeof *ms, "marked sets");
    CT_CHECK_GOTO(rc, ct_agree(comm, rc));
    CT_CHECK_GOTO(rc, ct_mk_marks(delta, work, ps, s, nset, sets, marks, &r->mean_mark,
                                  r->delta_R_range));

    /* painted weight = particle weight x mark; turning the painted field into
     * rho/mean - 1 divides by the mean of the marks (times the mean weight) */
    for (int k = 0; k < nset; k++) {
        int64_t n = sets[k].n;
        ms[k] = sets[k];
        if (!sets[k].w && sets[k].w_uniform == 1.0) {
            ms[k].w = marks[k];
            continue;
        }
        rc = ct_calloc(&w[k], (size_t)(n ? n : 1), sizeof(float), "marked weights");
        if (rc != CT_OK)
            break;
        for (int64_t i = 0; i < n; i++)
            w[k][i] = (float)((sets[k].w ? sets[k].w[i] : sets[k].w_uniform) * marks[k][i]);
        ms[k].w = w[k];
        ms[k].w_uniform = 1.0;
    }
    CT_CHECK_GOTO(rc, ct_agree(comm, rc));
    double sw, sw2;
    int64_t np;
    CT_CHECK_GOTO(rc, ct_pk_field(work, work_shift, ps, nset, ms, &sw, &sw2, &np));
    ct_pk_settings bin = *ps;
    bin.shot_noise = 0; /* a marked field has no simple shot noise; Quijote subtracts none */
    CT_CHECK_GOTO(rc, ct_pk_bin(work, NULL, &bin, &r->M));
    CT_CHECK_GOTO(rc, ct_pk_bin(work, delta, &bin, &r->X));
    /* what ct_pk_measure records for P(k): particles and the effective density of
     * the painted (marked) weights */
    const double L = ct_mesh_box(work);
    r->M.npart = r->X.npart = np;
    r->M.nbar = r->X.nbar = sw2 > 0 ? sw * sw / sw2 / (L * L * L) : 0.0;
fail:
    for (int k = 0; marks && k < nset; k++)
        free(marks[k]);
    for (int k = 0; w && k < nset; k++)
        free(w[k]);
    free(marks);
    free(w);
    free(ms);
    if (rc != CT_OK)
        ct_mk_result_free(r);
    return rc;
}
