/* Bispectrum shells and triangles in Quijote order, result lifetime, text output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bk_internal.h"
#include "cosmotl/stats.h"

void ct_bk_settings_defaults(ct_bk_settings *s)
{
    memset(s, 0, sizeof *s);
    s->dk = 3.0;
    s->kmax = 78.0;
    s->mem_budget = 0.0;
    s->cache_dir = NULL;
    s->per_triangle = 0;
    s->shell_f32 = 0;
}

int ct_bk_shell_of(double n2, double dk)
{
    /* the small offset keeps |n| exactly on a shell edge (e.g. 1.5*dk for
     * integer |n|) in the upper shell, as int(|n|/dk + 0.5) does in Quijote's
     * estimator, despite sqrt round-off */
    return (int)floor(sqrt(n2) / dk + 0.5 + 1e-12);
}

static int max_shell(const ct_bk_settings *s)
{
    /* shell centres j*dk with j*dk <= kmax (tolerant of kmax given as e.g. 78.0) */
    return (int)floor(s->kmax / s->dk + 1e-9);
}

ct_status ct_bk_triangles(const ct_bk_settings *s, int **tri, int *ntri, int *nshell)
{
    *tri = NULL;
    *ntri = 0;
    *nshell = 0;
    if (!(s->dk > 0) || !isfinite(s->dk))
        CT_FAIL(CT_ERR_ARG, "bispectrum shell width dk = %g kF must be positive", s->dk);
    int ns = max_shell(s);
    if (ns < 1)
        CT_FAIL(CT_ERR_ARG, "bispectrum kmax = %g kF is below the first shell centre %g kF",
                s->kmax, s->dk);
    long n = 0;
    for (int i = 1; i <= ns; i++)
        for (int j = 1; j <= i; j++)
            for (int l = (i - j > 1 ? i - j : 1); l <= j; l++)
                n++;
    int *t = NULL;
    CT_CHECK(ct_calloc(&t, (size_t)(3 * n), sizeof *t, "bispectrum triangles"));
    long m = 0;
    for (int i = 1; i <= ns; i++)
        for (int j = 1; j <= i; j++)
            for (int l = (i - j > 1 ? i - j : 1); l <= j; l++) {
                t[3 * m] = i;
                t[3 * m + 1] = j;
                t[3 * m + 2] = l;
                m++;
            }
    *tri = t;
    *ntri = (int)n;
    *nshell = ns;
    return CT_OK;
}

void ct_bk_result_destroy(ct_bk_result **r)
{
    if (!r || !*r)
        return;
    ct_bk_result *x = *r;
    free(x->tri);
    free(x->k);
    free(x->P);
    free(x->B);
    free(x->Bsn);
    free(x->B0);
    free(x->Q);
    free(x->counts);
    free(x);
    *r = NULL;
}

ct_status ct_bk_write_text(const ct_bk_result *r, const char *path)
{
    ct_atomic_file a;
    CT_CHECK(ct_atomic_fopen(&a, path));
    FILE *f = a.f;
    fprintf(f, "# bispectrum: grid %ld, box %g Mpc/h, shells dk = %g kF, nbar = %.9g (h/Mpc)^3\n",
            r->grid, r->box, r->dk, r->nbar);
    fprintf(f, "# k1/kF k2/kF k3/kF P0(k1) P0(k2) P0(k3) B0 Q B_SN counts\n");
    for (int t = 0; t < r->ntri; t++) {
        const double *k = r->k + 3 * t, *P = r->P + 3 * t;
        fprintf(f, "%g %g %g %.9e %.9e %.9e %.9e %.9e %.9e %.0f\n", k[0], k[1], k[2], P[0],
                P[1], P[2], r->B0[t], r->Q[t], r->Bsn[t], r->counts[t]);
    }
    return ct_atomic_fclose(&a);
}
