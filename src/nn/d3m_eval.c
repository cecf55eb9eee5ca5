/* D3M evaluation pieces: Fourier filter of displacement fields, positions from
 * displacements, spherical-underdensity voids (include/cosmotl/d3m.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/d3m.h"

static double interp(const double *k, const double *r, int nk, double x)
{
    if (x <= k[0])
        return r[0];
    if (x >= k[nk - 1])
        return r[nk - 1];
    int lo = 0, hi = nk - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (k[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    double t = (x - k[lo]) / (k[hi] - k[lo]);
    return r[lo] + t * (r[hi] - r[lo]);
}

ct_status ct_d3m_filter(float *d, int C, int64_t N, double box, const double *k, const double *r,
                        int nk)
{
    if (C < 1 || N < 2 || N % 2 || !(box > 0) || nk < 1 || !d || !k || !r)
        CT_FAIL(CT_ERR_ARG, "bad filter request (C %d, N %lld, box %g, %d table rows)", C,
                (long long)N, box, nk);
    for (int i = 1; i < nk; i++)
        if (!(k[i] > k[i - 1]))
            CT_FAIL(CT_ERR_ARG, "filter table: k must increase (row %d)", i);
    ct_status rc = CT_OK;
    ct_mesh *m = NULL;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = box;
    CT_CHECK(ct_mesh_create(&m, &ms, MPI_COMM_SELF));
    const ptrdiff_t row = ct_mesh_row(m);
    const int64_t cells = N * N * N;
    const double kf = ct_mesh_kf(m);
    for (int c = 0; c < C; c++) {
        float *f = d + (int64_t)c * cells;
        ct_real *re = ct_mesh_real(m);
        for (int64_t i = 0; i < N * N; i++)
            for (int64_t l = 0; l < N; l++)
                re[i * row + l] = f[i * N + l];
        CT_CHECK_GOTO(rc, ct_mesh_r2c(m));
        ct_complex *cx = ct_mesh_complex(m);
        ptrdiff_t y0, ny;
        ct_mesh_klocal(m, &y0, &ny);
        ct_kiter it;
        for (ct_kiter_begin(&it, m, 0, ny); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            double w = interp(k, r, nk, kf * sqrt((double)it.mode.n2));
            cx[it.mode.idx][0] *= w;
            cx[it.mode.idx][1] *= w;
        }
        CT_CHECK_GOTO(rc, ct_mesh_c2r(m));
        re = ct_mesh_real(m);
        for (int64_t i = 0; i < N * N; i++)
            for (int64_t l = 0; l < N; l++)
                f[i * N + l] = (float)re[i * row + l];
    }
fail:
    ct_mesh_destroy(&m);
    return rc;
}

void ct_d3m_positions(const float *d, int64_t N, double box, float *pos)
{
    const int64_t cells = N * N * N;
    const double H = box / (double)N;
    for (int64_t c = 0; c < cells; c++) {
        const int64_t q[3] = {c / (N * N), (c / N) % N, c % N};
        for (int a = 0; a < 3; a++) {
            double x = (double)q[a] * H + d[a * cells + c];
            x -= box * floor(x / box);
            float xf = (float)x;
            if (xf >= (float)box || xf < 0) /* rounding up to box */
                xf = 0.0f;
            pos[3 * c + a] = xf;
        }
    }
}

/* ------------------------------------------------------------------- voids */

void ct_void_settings_default(ct_void_settings *s, int64_t N, double box)
{
    s->threshold = 0.2;
    s->r_min = 2.0 * box / (double)(N > 0 ? N : 1);
    s->r_max = box / 8.0;
}

typedef struct {
    int32_t d[3];
    int64_t r2;
} offset;

static int cmp_offset(const void *a, const void *b)
{
    const offset *x = a, *y = b;
    return x->r2 < y->r2 ? -1 : x->r2 > y->r2;
}

typedef struct {
    int64_t cell;
    double r, rho;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->r != y->r)
        return x->r > y->r ? -1 : 1;
    if (x->rho != y->rho)
        return x->rho < y->rho ? -1 : 1;
    return x->cell < y->cell ? -1 : x->cell > y->cell;
}

ct_status ct_void_find(const double *rho, int64_t N, double box, const ct_void_settings *s,
                       ct_void **voids, int64_t *nvoids)
{
    *voids = NULL;
    *nvoids = 0;
    const double H = box / (double)N;
    if (N < 2 || !(box > 0) || !(s->threshold > 0) || !(s->r_min >= 0) ||
        !(s->r_max > s->r_min) || s->r_max > box / 2)
        CT_FAIL(CT_ERR_ARG,
                "bad void-finder settings (N %lld, box %g, threshold %g, r_min %g, r_max %g; "
                "need r_min < r_max <= box/2)",
                (long long)N, box, s->threshold, s->r_min, s->r_max);
    const int rc_cells = (int)ceil(s->r_max / H);
    const int64_t r2max = (int64_t)floor((s->r_max / H) * (s->r_max / H) + 1e-9);
    offset *off = NULL;
    cand *cd = NULL;
    ct_void *out = NULL;
    ct_status rc = CT_OK;
    int64_t noff = 0, side = 2 * rc_cells + 1;
    CT_CHECK_GOTO(rc, ct_calloc(&off, (size_t)(side * side * side), sizeof *off, "void offsets"));
    for (int a = -rc_cells; a <= rc_cells; a++)
        for (int b = -rc_cells; b <= rc_cells; b++)
            for (int c = -rc_cells; c <= rc_cells; c++) {
                int64_t r2 = (int64_t)a * a + (int64_t)b * b + (int64_t)c * c;
                if (r2 <= r2max)
                    off[noff++] = (offset){{a, b, c}, r2};
            }
    qsort(off, (size_t)noff, sizeof *off, cmp_offset);
    const int64_t cells = N * N * N;
    int64_t ncand = 0;
    for (int64_t c = 0; c < cells; c++)
        ncand += rho[c] < s->threshold;
    CT_CHECK_GOTO(rc, ct_calloc(&cd, (size_t)(ncand ? ncand : 1), sizeof *cd, "void candidates"));
    int64_t kept = 0;
    for (int64_t c = 0; c < cells; c++) {
        if (!(rho[c] < s->threshold))
            continue;
        const int64_t ci = c / (N * N), cj = (c / N) % N, ck = c % N;
        double sum = 0, R = -1, rin = 0;
        int64_t o = 0;
        while (o < noff) {
            int64_t r2 = off[o].r2;
            for (; o < noff && off[o].r2 == r2; o++) {
                int64_t i = (ci + off[o].d[0] + N * (rc_cells / N + 1)) % N;
                int64_t j = (cj + off[o].d[1] + N * (rc_cells / N + 1)) % N;
                int64_t k = (ck + off[o].d[2] + N * (rc_cells / N + 1)) % N;
                sum += rho[(i * N + j) * N + k];
            }
            double mean = sum / (double)o;
            if (!(mean < s->threshold))
                break;
            R = sqrt((double)r2) * H;
            rin = mean;
        }
        if (R >= s->r_min && R > 0)
            cd[kept++] = (cand){c, R > s->r_max ? s->r_max : R, rin};
    }
    qsort(cd, (size_t)kept, sizeof *cd, cmp_cand);
    CT_CHECK_GOTO(rc, ct_calloc(&out, (size_t)(kept ? kept : 1), sizeof *out, "voids"));
    int64_t nv = 0;
    for (int64_t q = 0; q < kept; q++) {
        double x[3] = {(double)(cd[q].cell / (N * N)) * H, (double)((cd[q].cell / N) % N) * H,
                       (double)(cd[q].cell % N) * H};
        int ok = 1;
        for (int64_t v = 0; v < nv && ok; v++) {
            double d2 = 0;
            for (int a = 0; a < 3; a++) {
                double dx = x[a] - out[v].x[a];
                dx -= box * nearbyint(dx / box);
                d2 += dx * dx;
            }
            double rs = cd[q].r + out[v].r;
            ok = d2 >= rs * rs;
        }
        if (ok) {
            memcpy(out[nv].x, x, sizeof x);
            out[nv].r = cd[q].r;
            out[nv].rho = cd[q].rho;
            nv++;
        }
    }
    *voids = out;
    *nvoids = nv;
    out = NULL;
fail:
    free(off);
    free(cd);
    free(out);
    return rc;
}
