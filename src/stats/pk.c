/* Power spectrum in the conventions of the released Quijote spectra: painting,
 * delta, compensation, interlacing, half-space binning with multipoles, and the
 * redshift-space mapping.
 *
 * Binning is deterministic for any thread count: modes are accumulated per
 * group of GROUP ky-planes (a fixed cut of the local planes), and the groups
 * are summed in order; ranks are combined with MPI sums. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/stats.h"

#define GROUP 4
#define NACC 5 /* sum w|k|, sum w P, sum w P L2, sum w P L4, sum w */

void ct_pk_settings_defaults(ct_pk_settings *s)
{
    memset(s, 0, sizeof *s);
    s->mas = CT_MAS_CIC;
    s->interlace = 0;
    s->compensate = 1;
    s->bin_width = 1.0;
    s->axis = 2;
    s->shot_noise = 0;
}

void ct_pk_result_free(ct_pk_result *r)
{
    if (!r)
        return;
    free(r->k);
    free(r->P0);
    free(r->P2);
    free(r->P4);
    free(r->nmodes);
    memset(r, 0, sizeof *r);
}

static ct_status check_settings(const ct_pk_settings *s)
{
    if (!s)
        CT_FAIL(CT_ERR_ARG, "no power-spectrum settings");
    if ((int)s->mas < 1 || (int)s->mas > 4)
        CT_FAIL(CT_ERR_ARG, "unknown mass-assignment scheme %d", (int)s->mas);
    if (s->axis < 0 || s->axis > 2)
        CT_FAIL(CT_ERR_ARG, "line-of-sight axis must be 0, 1 or 2 (got %d)", s->axis);
    if (!(s->bin_width >= 1e-3 && s->bin_width <= 1e6))
        CT_FAIL(CT_ERR_ARG, "bin width %g (units of kF) out of range", s->bin_width);
    return CT_OK;
}

/* The meshes' precision is the one the settings ask for. */
static ct_status check_precision(const ct_pk_settings *s, const ct_mesh *m, const ct_mesh *m2)
{
    const int want = s->float32 != 0;
    if (ct_mesh_is_float32(m) != want || (m2 && ct_mesh_is_float32(m2) != want))
        CT_FAIL(CT_ERR_ARG, "power-spectrum settings ask for %s meshes but a mesh is %s (make "
                "the meshes with ct_mesh_settings.float32 = ct_pk_settings.float32)",
                want ? "float32" : "double", want ? "not float32" : "float32");
    return CT_OK;
}

/* Paint every set into m (accumulating) with the given shift. */
static ct_status paint_sets(ct_mesh *m, const ct_pk_settings *s, double shift, int nset,
                            const ct_pk_particles *sets)
{
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    ps.mas = s->mas;
    ps.shift = shift;
    int size = 1;
    MPI_Comm_size(ct_mesh_comm(m), &size);
    for (int i = 0; i < nset; i++) {
        /* one rank: in blocks, as a streaming caller paints (CT_PK_PAINT_BLOCK);
         * several ranks: one call per set (each call is collective) */
        const int64_t n = sets[i].n, block = size == 1 ? CT_PK_PAINT_BLOCK : n;
        int64_t first = 0;
        do { /* at least one call: an empty set still paints (collectively) */
            const int64_t cnt = n - first < block ? n - first : block;
            ps.accumulate = i > 0 || first > 0;
            CT_CHECK(ct_mesh_paint(m, &ps, cnt, sets[i].pos ? sets[i].pos + 3 * first : NULL,
                                   sets[i].w ? sets[i].w + first : NULL, sets[i].w_uniform));
            first += cnt;
        } while (first < n);
    }
    if (nset == 0) {
        ps.accumulate = 0;
        CT_CHECK(ct_mesh_paint(m, &ps, 0, NULL, NULL, 0));
    }
    return CT_OK;
}

/* Painting conserves the total weight, so the mean is known without a pass over
 * the mesh. delta = rho / mean - 1 is applied in Fourier space (every mode
 * scaled by 1/mean, DC to zero) inside the compensation pass: one pass over the
 * mesh fewer than doing it in real space. */
static ct_status mean_of(const ct_mesh *m, double sum_w, double *mean_out)
{
    const int64_t N = ct_mesh_n(m);
    const double mean = sum_w / ((double)N * (double)N * (double)N);
    if (!(mean > 0) || !isfinite(mean))
        CT_FAIL(CT_ERR_NUMERIC, "mean of the painted mesh is %g (no particles or bad weights)",
                mean);
    if (mean_out)
        *mean_out = mean;
    return CT_OK;
}

static ct_status pk_transform(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s,
                              double sum_w, double *scale);

ct_status ct_pk_paint(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                      const ct_pk_particles *sets, double *sum_w, double *sum_w2,
                      int64_t *npart)
{
    CT_CHECK(check_settings(s));
    if (s->interlace && !m_shift)
        CT_FAIL(CT_ERR_ARG, "interlacing needs a second mesh");
    CT_CHECK(check_precision(s, m, s->interlace ? m_shift : NULL));
    if (nset < 0 || (nset > 0 && !sets))
        CT_FAIL(CT_ERR_ARG, "bad particle sets");
    double loc[3] = {0, 0, 0}, tot[3];
    for (int i = 0; i < nset; i++) {
        if (sets[i].w) {
            for (int64_t j = 0; j < sets[i].n; j++) {
                loc[0] += sets[i].w[j];
                loc[1] += (double)sets[i].w[j] * sets[i].w[j];
            }
        } else {
            loc[0] += sets[i].w_uniform * (double)sets[i].n;
            loc[1] += sets[i].w_uniform * sets[i].w_uniform * (double)sets[i].n;
        }
        loc[2] += (double)sets[i].n;
    }
    if (MPI_Allreduce(loc, tot, 3, MPI_DOUBLE, MPI_SUM, ct_mesh_comm(m)) != MPI_SUCCESS)
        CT_FAIL(CT_ERR_MPI, "MPI_Allreduce of particle weights failed");
    if (sum_w)
        *sum_w = tot[0];
    if (sum_w2)
        *sum_w2 = tot[1];
    if (npart)
        *npart = (int64_t)llround(tot[2]);

    ct_timers *t = s->timers;
    if (t)
        ct_timer_start(t, "paint");
    CT_CHECK(mean_of(m, tot[0], NULL));
    CT_CHECK(paint_sets(m, s, 0.0, nset, sets));
    if (s->interlace)
        CT_CHECK(paint_sets(m_shift, s, 0.5, nset, sets));
    if (t)
        ct_timer_stop(t, "paint");
    return CT_OK;
}

/* ct_pk_field; with scale != NULL the compensation (and the DC mode) is left to
 * the binning pass, which applies the factor *scale * window and writes the
 * compensated modes back (ct_pk_measure: one pass over the mesh fewer). */
static ct_status pk_field_impl(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                               const ct_pk_particles *sets, double *sum_w, double *sum_w2,
                               int64_t *npart, double *scale)
{
    double sw = 0;
    CT_CHECK(ct_pk_paint(m, m_shift, s, nset, sets, &sw, sum_w2, npart));
    if (sum_w)
        *sum_w = sw;
    return pk_transform(m, m_shift, s, sw, scale);
}

/* The part of pk_field_impl after painting: r2c, interlacing, and (scale ==
 * NULL) the compensation, or (scale != NULL) *scale = 1 / mean for the fused
 * binning pass. */
static ct_status pk_transform(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s,
                              double sum_w, double *scale)
{
    ct_timers *t = s->timers;
    double mean = 0;
    CT_CHECK(mean_of(m, sum_w, &mean));
    if (t)
        ct_timer_start(t, "fft");
    CT_CHECK(ct_mesh_r2c(m));
    if (s->interlace)
        CT_CHECK(ct_mesh_r2c(m_shift));
    if (t) {
        ct_timer_stop(t, "fft");
        ct_timer_start(t, "bin");
    }
    if (s->interlace)
        CT_CHECK(ct_mesh_interlace(m, m_shift));
    if (scale) {
        *scale = 1.0 / mean;
    } else {
        CT_CHECK(ct_mesh_compensate_scaled(m, s->compensate ? (int)s->mas : 0, 1.0 / mean));
        /* the DC mode of delta is zero by construction */
        ptrdiff_t y0, ny;
        ct_mesh_klocal(m, &y0, &ny);
        if (y0 == 0 && ny > 0 && ct_mesh_is_float32(m)) {
            ct_complex_f32 *c = ct_mesh_complex_f32(m);
            c[0][0] = c[0][1] = 0;
        } else if (y0 == 0 && ny > 0) {
            ct_complex *c = ct_mesh_complex(m);
            c[0][0] = c[0][1] = 0;
        }
    }
    if (t)
        ct_timer_stop(t, "bin");
    return CT_OK;
}

ct_status ct_pk_field(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                      const ct_pk_particles *sets, double *sum_w, double *sum_w2,
                      int64_t *npart)
{
    return pk_field_impl(m, m_shift, s, nset, sets, sum_w, sum_w2, npart, NULL);
}

/* Add one run of modes (sums of |n|, P, P L2, P L4 and the count) to bin b. */
static inline void add_run(double *acc, int64_t b, double sk, double sp, double s2, double s4,
                           double sn)
{
    double *q = acc + b * NACC;
    q[0] += sk;
    q[1] += sp;
    q[2] += s2;
    q[3] += s4;
    q[4] += sn;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT_PK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CT_PK_CLONES
#endif

/* One mode's terms from its power w2, n^2 and mu^2 (shared by both row loops). */
static inline __attribute__((always_inline)) void
mode_terms(int64_t l, double w2, double n2, double mu2, double *restrict kk,
           double *restrict pw, double *restrict p2, double *restrict p4)
{
    kk[l] = sqrt(n2);
    pw[l] = w2;
    p2[l] = w2 * (0.5 * (3 * mu2 - 1));
    p4[l] = w2 * ((35 * mu2 * mu2 - 30 * mu2 + 3) / 8);
}

/* The DC mode of a row through it: mu = 0 by convention (0/0 in the loops). */
static inline void dc_terms(double base, int64_t l0, const double *restrict pw,
                            double *restrict p2, double *restrict p4)
{
    if (base == 0 && l0 == 0) {
        p2[0] = pw[0] * -0.5;
        p4[0] = pw[0] * (3.0 / 8);
    }
}

/* What modes l0..l1 of one row contribute: |n|, power and power times L2(mu) and
 * L4(mu), with n^2 = base + l^2 and mu^2 = na2 / n^2 (own: the line of sight is the
 * row's own axis, mu^2 = l^2 / n^2). Straight-line double arithmetic on a table of
 * l^2 with `own` a constant after inlining, so the compiler vectorises the square
 * roots and divisions. The DC mode (n^2 = 0) is fixed up by the caller. */
static inline __attribute__((always_inline)) void
row_terms_loop(const ct_complex *restrict a, const ct_complex *restrict b, double base,
               double na2, const int own, const double *restrict lsq, int64_t l0, int64_t l1,
               double *restrict kk, double *restrict pw, double *restrict p2,
               double *restrict p4)
{
    for (int64_t l = l0; l <= l1; l++) {
        const double n2 = base + lsq[l];
        const double w2 = (double)a[l][0] * b[l][0] + (double)a[l][1] * b[l][1];
        const double mu2 = (own ? lsq[l] : na2) / n2;
        mode_terms(l, w2, n2, mu2, kk, pw, p2, p4);
    }
}

CT_PK_CLONES
static void row_terms(const ct_complex *restrict a, const ct_complex *restrict b, double base,
                      double na2, const double *restrict lsq, int64_t l0, int64_t l1,
                      double *restrict kk, double *restrict pw, double *restrict p2,
                      double *restrict p4)
{
    if (na2 < 0)
        row_terms_loop(a, b, base, na2, 1, lsq, l0, l1, kk, pw, p2, p4);
    else
        row_terms_loop(a, b, base, na2, 0, lsq, l0, l1, kk, pw, p2, p4);
    dc_terms(base, l0, pw, p2, p4);
}

/* row_terms of the row in[] compensated as compensate_row does (the same
 * products, rounded to ct_real), without writing it anywhere: each mode is
 * compensated where it is used; dc: the row holds the DC mode, taken as zero. */
static inline __attribute__((always_inline)) void
row_terms_comp_loop(const ct_complex *restrict in, double fr, const double *restrict wz,
                    double base, double na2, const int own, const double *restrict lsq,
                    int64_t l0, int64_t l1, double *restrict kk, double *restrict pw,
                    double *restrict p2, double *restrict p4)
{
    for (int64_t l = l0; l <= l1; l++) {
        const double f = fr * wz[l];
        const ct_real c0 = (ct_real)(in[l][0] * f), c1 = (ct_real)(in[l][1] * f);
        const double n2 = base + lsq[l];
        const double w2 = (double)c0 * c0 + (double)c1 * c1;
        const double mu2 = (own ? lsq[l] : na2) / n2;
        mode_terms(l, w2, n2, mu2, kk, pw, p2, p4);
    }
}

CT_PK_CLONES
static void row_terms_comp(const ct_complex *restrict in, double fr, const double *restrict wz,
                           int dc, double base, double na2, const double *restrict lsq,
                           int64_t l0, int64_t l1, double *restrict kk, double *restrict pw,
                           double *restrict p2, double *restrict p4)
{
    if (na2 < 0)
        row_terms_comp_loop(in, fr, wz, base, na2, 1, lsq, l0, l1, kk, pw, p2, p4);
    else
        row_terms_comp_loop(in, fr, wz, base, na2, 0, lsq, l0, l1, kk, pw, p2, p4);
    if (dc && l0 == 0)
        pw[0] = 0.0 * 0.0 + 0.0 * 0.0; /* delta has no DC mode */
    dc_terms(base, l0, pw, p2, p4);
}

/* Modes 0..half of one row times fr * wz[l] (the product order of
 * ct_mesh_compensate_scaled). */
CT_PK_CLONES
static void compensate_row(ct_complex *restrict c, double fr, const double *restrict wz,
                           int64_t half)
{
    for (int64_t l = 0; l <= half; l++) {
        const double f = fr * wz[l];
        c[l][0] = (ct_real)(c[l][0] * f);
        c[l][1] = (ct_real)(c[l][1] * f);
    }
}

/* Float32 meshes: the modes 0..half of a row widened to the binning's
 * precision, out = in, or (wz != NULL) compensated as compensate_row does,
 * out = in * (fr * wz[l]) without rounding the product to float. */
CT_PK_CLONES
static void widen_row_f32(ct_complex *restrict out, const ct_complex_f32 *restrict in, double fr,
                          const double *restrict wz, int64_t half)
{
    if (!wz) {
        for (int64_t l = 0; l <= half; l++) {
            out[l][0] = in[l][0];
            out[l][1] = in[l][1];
        }
        return;
    }
    for (int64_t l = 0; l <= half; l++) {
        const double f = fr * wz[l];
        out[l][0] = (ct_real)(in[l][0] * f);
        out[l][1] = (ct_real)(in[l][1] * f);
    }
}

/* ...and back into the float32 mesh (compensation written back) */
static void store_row_f32(ct_complex_f32 *restrict out, const ct_complex *restrict in,
                          int64_t half)
{
    for (int64_t l = 0; l <= half; l++) {
        out[l][0] = (float)in[l][0];
        out[l][1] = (float)in[l][1];
    }
}

/* ct_pk_bin; with wx != NULL (auto spectrum only) every row is first compensated
 * in place, mode (i0, i1, i2) times wx[i0] * wz[i1] * wz[i2] (the product order of
 * ct_mesh_compensate_scaled) and the DC mode set to zero, exactly what
 * ct_pk_field does in its own pass. */
static ct_status pk_bin_impl(const ct_mesh *a, const ct_mesh *b, const ct_pk_settings *s,
                             ct_pk_result *r, const double *wx, const double *wz)
{
    ct_status rc = CT_OK;
    double *part = NULL, *acc = NULL, *tot = NULL, *scratch = NULL;
    ct_complex *rowbuf = NULL;
    memset(r, 0, sizeof *r);
    CT_CHECK(check_settings(s));
    if (!ct_mesh_is_fourier(a) || (b && !ct_mesh_is_fourier(b)))
        CT_FAIL(CT_ERR_STATE, "binning needs Fourier-space meshes");
    if (b && (ct_mesh_n(a) != ct_mesh_n(b) || ct_mesh_box(a) != ct_mesh_box(b)))
        CT_FAIL(CT_ERR_ARG, "cross spectrum of meshes with different geometry");
    CT_CHECK(check_precision(s, a, b));
    /* float32 meshes: every row is widened (and compensated) into a per-thread
     * double buffer (two for a cross spectrum) and binned from there by the
     * double code */
    const int f32 = ct_mesh_is_float32(a);
    const ct_complex_f32 *fa = ct_mesh_complex_f32((ct_mesh *)a);
    const ct_complex_f32 *fb = b ? ct_mesh_complex_f32((ct_mesh *)b) : fa;
    const size_t nrowbuf = f32 && b && !wx ? 2 : 1;
    const int64_t N = ct_mesh_n(a);
    const double L = ct_mesh_box(a), kf = 2 * M_PI / L, w = s->bin_width;
    const int unit = w == 1.0;
    const int nb = (int)floor(sqrt(3.0) * (double)(N / 2) / w) + 1; /* incl. DC */
    ptrdiff_t y0, ny;
    ct_mesh_klocal(a, &y0, &ny);
    const ptrdiff_t ngroup = (ny + GROUP - 1) / GROUP;
    const int axis = s->axis;
    const ct_complex *da = (const ct_complex *)ct_mesh_complex((ct_mesh *)a);
    const ct_complex *db = b ? (const ct_complex *)ct_mesh_complex((ct_mesh *)b) : da;

    CT_CHECK_GOTO(rc, ct_calloc(&part, (size_t)(ngroup > 0 ? ngroup : 1) * nb * NACC,
                                sizeof(double), "bin partials"));
    /* Row by row over the transposed layout of mesh.h (plane p = ky, then kx,
     * then kz = 0..N/2), with the half-space rule of ct_kmode.weight: on the
     * kz = 0 and N/2 planes keep nx > 0, or nx in {0, N/2} with ny >= 0. */
    const int64_t half = N / 2;
    const ptrdiff_t nzc = (ptrdiff_t)half + 1;
    const int nthr = ct_mesh_threads(a) > 0 ? ct_mesh_threads(a) : 1;
    /* per thread: |n|, power, power L2(mu), power L4(mu) of one row */
    CT_CHECK_GOTO(rc, ct_calloc(&scratch, ((size_t)nthr * 4 + 1) * (size_t)nzc, sizeof(double),
                                "bin scratch"));
    double *lsq = scratch + (size_t)nthr * 4 * (size_t)nzc; /* l^2, exact in double */
    /* discard_field on a double mesh: each row is compensated where its modes are
     * used (row_terms_comp: the same values, so the same sums), the mesh is not
     * written (float32 meshes widen each row into rowbuf instead) */
    const int comp_where_used = !f32 && wx && s->discard_field;
    if (f32)
        CT_CHECK_GOTO(rc, ct_calloc(&rowbuf, (size_t)nthr * nrowbuf * (size_t)nzc,
                                    sizeof(ct_complex), "bin row buffer"));
    for (int64_t l = 0; l < nzc; l++)
        lsq[l] = (double)(l * l);
#pragma omp parallel for num_threads(nthr) schedule(dynamic, 1)
    for (ptrdiff_t g = 0; g < ngroup; g++) {
        double *acc_g = part + (size_t)g * nb * NACC;
        double *kk = scratch + (size_t)omp_get_thread_num() * 4 * (size_t)nzc;
        double *pw = kk + nzc, *p2 = pw + nzc, *p4 = p2 + nzc;
        ptrdiff_t p1 = g * GROUP + GROUP < ny ? g * GROUP + GROUP : ny;
        for (ptrdiff_t pl = g * GROUP; pl < p1; pl++) {
            const int64_t ky = ct_mesh_wavenumber(y0 + pl, N);
            for (int64_t i0 = 0; i0 < N; i0++) {
                const int64_t kx = ct_mesh_wavenumber(i0, N);
                const int64_t base = kx * kx + ky * ky;
                const int64_t na2 = axis == 0 ? kx * kx : axis == 1 ? ky * ky : -1;
                const ptrdiff_t row = (pl * (ptrdiff_t)N + (ptrdiff_t)i0) * nzc;
                const int edge_keep =
                    (kx > 0 && kx != half) || ((kx == 0 || kx == half) && ky >= 0);
                /* (pointer arithmetic on the other precision's NULL view avoided) */
                const ct_complex *ra = f32 ? NULL : da + row, *rb = f32 ? NULL : db + row;
                if (f32) {
                    ct_complex *c = rowbuf + (size_t)omp_get_thread_num() * nrowbuf * (size_t)nzc;
                    if (wx) {
                        widen_row_f32(c, fa + row, wx[i0] * wz[y0 + pl], wz, half);
                        if (y0 + pl == 0 && i0 == 0)
                            c[0][0] = c[0][1] = 0; /* delta has no DC mode */
                        if (!s->discard_field)
                            store_row_f32((ct_complex_f32 *)fa + row, c, half);
                        ra = rb = c;
                    } else {
                        widen_row_f32(c, fa + row, 1.0, NULL, half);
                        ra = rb = c;
                        if (b) {
                            widen_row_f32(c + nzc, fb + row, 1.0, NULL, half);
                            rb = c + nzc;
                        }
                    }
                } else if (comp_where_used) {
                    /* compensated where used (row_terms_comp below), nothing written */
                    ra = rb = NULL;
                } else if (wx) {
                    ct_complex *c = (ct_complex *)da + row;
                    compensate_row(c, wx[i0] * wz[y0 + pl], wz, half);
                    if (y0 + pl == 0 && i0 == 0)
                        c[0][0] = c[0][1] = 0; /* delta has no DC mode */
                }
                /* the modes the half-space rule keeps are one contiguous range */
                const int64_t l0 = edge_keep ? 0 : 1, l1 = edge_keep ? half : half - 1;
                if (comp_where_used)
                    row_terms_comp(da + row, wx[i0] * wz[y0 + pl], wz, y0 + pl == 0 && i0 == 0,
                                   (double)base, na2 >= 0 ? (double)na2 : -1.0, lsq, l0, l1,
                                   kk, pw, p2, p4);
                else
                    row_terms(ra, rb, (double)base, na2 >= 0 ? (double)na2 : -1.0,
                              lsq, l0, l1, kk, pw, p2, p4);
                /* (2) n^2 = base + l^2 grows with l, so the bin never decreases:
                 * sums run in registers while the bin stays the same and are added
                 * to the bin once per run */
                if (l0 > l1)
                    continue;
                double sk = 0, sp = 0, s2 = 0, s4 = 0, sn = 0;
                if (unit) {
                    int64_t n2 = base + l0 * l0, cur = (int64_t)kk[l0];
                    if (cur * cur > n2) /* floor(sqrt(n2)) exactly */
                        cur--;
                    while ((cur + 1) * (cur + 1) <= n2)
                        cur++;
                    int64_t next = (cur + 1) * (cur + 1);
                    for (int64_t l = l0; l <= l1; l++) {
                        n2 = base + l * l;
                        if (n2 >= next) {
                            add_run(acc_g, cur < nb ? cur : nb - 1, sk, sp, s2, s4, sn);
                            sk = sp = s2 = s4 = sn = 0;
                            do {
                                cur++;
                                next = (cur + 1) * (cur + 1);
                            } while (n2 >= next);
                        }
                        sk += kk[l];
                        sp += pw[l];
                        s2 += p2[l];
                        s4 += p4[l];
                        sn += 1;
                    }
                    add_run(acc_g, cur < nb ? cur : nb - 1, sk, sp, s2, s4, sn);
                } else {
                    int64_t cur = -1;
                    for (int64_t l = l0; l <= l1; l++) {
                        int64_t bin = (int64_t)floor(kk[l] / w);
                        bin = bin < nb ? bin : nb - 1;
                        if (bin != cur) {
                            if (cur >= 0)
                                add_run(acc_g, cur, sk, sp, s2, s4, sn);
                            sk = sp = s2 = s4 = sn = 0;
                            cur = bin;
                        }
                        sk += kk[l];
                        sp += pw[l];
                        s2 += p2[l];
                        s4 += p4[l];
                        sn += 1;
                    }
                    add_run(acc_g, cur, sk, sp, s2, s4, sn);
                }
            }
        }
    }
    CT_CHECK_GOTO(rc, ct_calloc(&acc, (size_t)nb * NACC, sizeof(double), "bin sums"));
    CT_CHECK_GOTO(rc, ct_calloc(&tot, (size_t)nb * NACC, sizeof(double), "bin sums"));
    for (ptrdiff_t g = 0; g < ngroup; g++)
        for (int i = 0; i < nb * NACC; i++)
            acc[i] += part[(size_t)g * nb * NACC + i];
    if (MPI_Allreduce(acc, tot, nb * NACC, MPI_DOUBLE, MPI_SUM, ct_mesh_comm(a)) != MPI_SUCCESS)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Allreduce of power-spectrum bins failed");

    r->nbins = nb - 1;
    CT_CHECK_GOTO(rc, ct_calloc(&r->k, (size_t)r->nbins + 1, sizeof(double), "P(k)"));
    CT_CHECK_GOTO(rc, ct_calloc(&r->P0, (size_t)r->nbins + 1, sizeof(double), "P(k)"));
    CT_CHECK_GOTO(rc, ct_calloc(&r->P2, (size_t)r->nbins + 1, sizeof(double), "P(k)"));
    CT_CHECK_GOTO(rc, ct_calloc(&r->P4, (size_t)r->nbins + 1, sizeof(double), "P(k)"));
    CT_CHECK_GOTO(rc, ct_calloc(&r->nmodes, (size_t)r->nbins + 1, sizeof(int64_t), "P(k)"));
    const double norm = L * L * L / ((double)N * N * N * (double)N * N * N);
    for (int i = 1; i < nb; i++) {
        const double *q = tot + (size_t)i * NACC;
        int j = i - 1;
        r->nmodes[j] = (int64_t)llround(q[4]);
        if (q[4] > 0) {
            r->k[j] = kf * q[0] / q[4];
            r->P0[j] = norm * q[1] / q[4];
            r->P2[j] = 5 * norm * q[2] / q[4];
            r->P4[j] = 9 * norm * q[3] / q[4];
        } else {
            r->k[j] = kf * w * (i + 0.5);
        }
    }
    r->box = L;
    r->grid = N;
    r->mas = s->mas;
    r->interlace = s->interlace;
    r->axis = s->axis;
    r->cross = b != NULL;
    r->bin_width = w;
    r->float32 = f32;
fail:
    free(part);
    free(scratch);
    free(rowbuf);
    free(acc);
    free(tot);
    if (rc != CT_OK)
        ct_pk_result_free(r);
    return rc;
}

ct_status ct_pk_bin(const ct_mesh *a, const ct_mesh *b, const ct_pk_settings *s,
                    ct_pk_result *r)
{
    return pk_bin_impl(a, b, s, r, NULL, NULL);
}

static ct_status pk_measure_tail(ct_mesh *m, const ct_pk_settings *s, double sw, double sw2,
                                 int64_t np, double scale, ct_pk_result *r);

ct_status ct_pk_measure(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                        const ct_pk_particles *sets, ct_pk_result *r)
{
    double sw = 0, sw2 = 0, scale = 1;
    int64_t np = 0;
    memset(r, 0, sizeof *r);
    CT_CHECK(pk_field_impl(m, m_shift, s, nset, sets, &sw, &sw2, &np, &scale));
    return pk_measure_tail(m, s, sw, sw2, np, scale, r);
}

ct_status ct_pk_measure_painted(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s,
                                double sum_w, double sum_w2, int64_t npart, ct_pk_result *r)
{
    double scale = 1;
    memset(r, 0, sizeof *r);
    CT_CHECK(check_settings(s));
    if (s->interlace && !m_shift)
        CT_FAIL(CT_ERR_ARG, "interlacing needs a second mesh");
    CT_CHECK(check_precision(s, m, s->interlace ? m_shift : NULL));
    if (ct_mesh_is_fourier(m) || (s->interlace && ct_mesh_is_fourier(m_shift)))
        CT_FAIL(CT_ERR_STATE, "ct_pk_measure_painted needs painted (real-space) meshes");
    CT_CHECK(pk_transform(m, m_shift, s, sum_w, &scale));
    return pk_measure_tail(m, s, sum_w, sum_w2, npart, scale, r);
}

static ct_status pk_measure_tail(ct_mesh *m, const ct_pk_settings *s, double sw, double sw2,
                                 int64_t np, double scale, ct_pk_result *r)
{
    double *wz = NULL, *wx = NULL;
    if (s->timers)
        ct_timer_start(s->timers, "bin");
    /* compensation fused into the binning pass (the mesh ends as ct_pk_field
     * leaves it) */
    const int64_t N = ct_mesh_n(m);
    ct_status rc = ct_mesh_window_table(N, s->compensate ? (int)s->mas : 0, &wz);
    if (rc == CT_OK)
        rc = ct_calloc(&wx, (size_t)N, sizeof(double), "window table");
    if (rc == CT_OK) {
        for (int64_t i = 0; i < N; i++)
            wx[i] = wz[i] * scale;
        rc = pk_bin_impl(m, NULL, s, r, wx, wz);
    }
    free(wx);
    free(wz);
    if (s->timers)
        ct_timer_stop(s->timers, "bin");
    CT_CHECK(rc);
    double L = ct_mesh_box(m);
    r->nbar = sw2 > 0 ? sw * sw / sw2 / (L * L * L) : 0;
    r->npart = np;
    if (s->shot_noise && r->nbar > 0) {
        r->shot_noise = 1.0 / r->nbar;
        for (int i = 0; i < r->nbins; i++)
            if (r->nmodes[i] > 0)
                r->P0[i] -= r->shot_noise;
    }
    return CT_OK;
}

ct_status ct_pk_rsd_positions(int64_t n, float *pos, const float *vel, int axis,
                              double redshift, double omega_m, double omega_l, double box)
{
    if (axis < 0 || axis > 2)
        CT_FAIL(CT_ERR_ARG, "redshift-space axis must be 0, 1 or 2 (got %d)", axis);
    if (n > 0 && (!pos || !vel))
        CT_FAIL(CT_ERR_ARG, "redshift space needs positions and velocities");
    double zp1 = 1.0 + redshift;
    double e2 = omega_m * zp1 * zp1 * zp1 + omega_l;
    if (!(e2 > 0) || !(box > 0) || !isfinite(redshift))
        CT_FAIL(CT_ERR_ARG, "bad cosmology for redshift space (Om=%g, OL=%g, z=%g)", omega_m,
                omega_l, redshift);
    double f = zp1 / (100.0 * sqrt(e2));
    int64_t bad = -1;
#pragma omp parallel for schedule(static) reduction(max : bad)
    for (int64_t i = 0; i < n; i++) {
        double x = pos[3 * i + axis] + vel[3 * i + axis] * f;
        if (!isfinite(x)) {
            bad = i;
            continue;
        }
        x = fmod(x, box);
        if (x < 0)
            x += box;
        float xf = (float)x;
        if (xf >= (float)box)
            xf = 0.0f;
        pos[3 * i + axis] = xf;
    }
    if (bad >= 0)
        CT_FAIL(CT_ERR_NUMERIC, "particle %lld: non-finite redshift-space position",
                (long long)bad);
    return CT_OK;
}
