/* Interventional Shapley values (SHAP) of a batched model with a background
 * set. Two estimators:
 *  - exact: every coalition S of the d features, v(S) = mean_b f(x_S, b_rest),
 *    phi_i = sum_{S without i} |S|!(d-|S|-1)!/d! [v(S+i) - v(S)]; 2^d * nb calls;
 *  - permutation sampling: for a permutation pi and a background row b, switch
 *    the features from b to x in the order pi; each switch's output change is
 *    the marginal contribution of that feature. The changes telescope to
 *    f(x) - f(b), so efficiency holds exactly for every sample, not only on
 *    average. Permutations come in antithetic pairs (pi, reversed pi), which
 *    cancels the ordering bias of a pair and lowers the variance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/study.h"

void ct_shap_defaults(ct_shap_settings *s)
{
    memset(s, 0, sizeof *s);
    s->method = CT_SHAP_AUTO;
    s->exact_max_features = 10;
    s->permutations = 16;
    s->seed = 20250101;
    s->max_rows = 65536;
}

static ct_status shap_exact(ct_model_fn f, void *user, int d, int m, const double *x,
                            const double *bg, int64_t nb, int64_t max_rows, double *phi,
                            double *base)
{
    ct_status rc = CT_OK;
    int64_t ns = (int64_t)1 << d;
    double *v = NULL, *rows = NULL, *out = NULL, *w = NULL;
    CT_CHECK_GOTO(rc, ct_calloc(&v, (size_t)(ns * m), sizeof(double), "SHAP v(S)"));
    /* rows per model call: whole coalitions (nb rows each) */
    int64_t per = max_rows / nb;
    if (per < 1)
        per = 1;
    if (per > ns)
        per = ns;
    CT_CHECK_GOTO(rc, ct_calloc(&rows, (size_t)(per * nb * d), sizeof(double), "SHAP rows"));
    CT_CHECK_GOTO(rc, ct_calloc(&out, (size_t)(per * nb * m), sizeof(double), "SHAP out"));
    for (int64_t s0 = 0; s0 < ns; s0 += per) {
        int64_t cnt = ns - s0 < per ? ns - s0 : per;
        for (int64_t c = 0; c < cnt; c++) {
            int64_t S = s0 + c;
            for (int64_t b = 0; b < nb; b++) {
                double *r = rows + (c * nb + b) * d;
                for (int i = 0; i < d; i++)
                    r[i] = (S >> i) & 1 ? x[i] : bg[b * d + i];
            }
        }
        CT_CHECK_GOTO(rc, f(user, rows, cnt * nb, d, out));
        for (int64_t c = 0; c < cnt; c++)
            for (int o = 0; o < m; o++) {
                double s = 0;
                for (int64_t b = 0; b < nb; b++)
                    s += out[(c * nb + b) * m + o];
                v[(s0 + c) * m + o] = s / (double)nb;
            }
    }
    /* weights |S|!(d-|S|-1)!/d! by coalition size */
    CT_CHECK_GOTO(rc, ct_calloc(&w, (size_t)d, sizeof(double), "SHAP weights"));
    for (int k = 0; k < d; k++)
        w[k] = exp(lgamma(k + 1.0) + lgamma((double)(d - k)) - lgamma(d + 1.0));
    memset(phi, 0, sizeof(double) * d * m);
    for (int64_t S = 0; S < ns; S++) {
        int k = __builtin_popcountll((unsigned long long)S);
        for (int i = 0; i < d; i++) {
            if ((S >> i) & 1)
                continue;
            int64_t Si = S | ((int64_t)1 << i);
            for (int o = 0; o < m; o++)
                phi[i * m + o] += w[k] * (v[Si * m + o] - v[S * m + o]);
        }
    }
    for (int o = 0; o < m; o++)
        base[o] = v[o]; /* S = empty */
fail:
    free(v);
    free(rows);
    free(out);
    free(w);
    return rc;
}

static ct_status shap_permutation(ct_model_fn f, void *user, int d, int m, const double *x,
                                  const double *bg, int64_t nb, int npairs, uint64_t seed,
                                  int64_t max_rows, double *phi, double *base)
{
    ct_status rc = CT_OK;
    int nperm = 2 * npairs;
    int *perm = NULL;
    double *rows = NULL, *out = NULL;
    /* one (permutation, background row) walk = d + 1 rows */
    int64_t nwalk = (int64_t)nperm * nb;
    int64_t per = max_rows / (d + 1);
    if (per < 1)
        per = 1;
    if (per > nwalk)
        per = nwalk;
    CT_CHECK_GOTO(rc, ct_calloc(&perm, (size_t)nperm * d, sizeof(int), "SHAP perms"));
    CT_CHECK_GOTO(rc, ct_calloc(&rows, (size_t)(per * (d + 1) * d), sizeof(double), "SHAP rows"));
    CT_CHECK_GOTO(rc, ct_calloc(&out, (size_t)(per * (d + 1) * m), sizeof(double), "SHAP out"));
    ct_rng r;
    ct_rng_init(&r, seed, 77, 0);
    for (int p = 0; p < npairs; p++) {
        int *a = perm + (size_t)(2 * p) * d, *b = perm + (size_t)(2 * p + 1) * d;
        for (int i = 0; i < d; i++)
            a[i] = i;
        for (int i = d - 1; i > 0; i--) {
            int j = (int)ct_rng_below(&r, (uint64_t)(i + 1));
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        for (int i = 0; i < d; i++)
            b[i] = a[d - 1 - i];
    }
    memset(phi, 0, sizeof(double) * d * m);
    memset(base, 0, sizeof(double) * m);
    for (int64_t w0 = 0; w0 < nwalk; w0 += per) {
        int64_t cnt = nwalk - w0 < per ? nwalk - w0 : per;
        for (int64_t c = 0; c < cnt; c++) {
            int64_t wk = w0 + c;
            const int *pi = perm + (size_t)(wk / nb) * d;
            const double *bb = bg + (wk % nb) * d;
            double *r0 = rows + c * (d + 1) * d;
            memcpy(r0, bb, sizeof(double) * d);
            for (int k = 1; k <= d; k++) {
                double *rk = r0 + (int64_t)k * d;
                memcpy(rk, rk - d, sizeof(double) * d);
                rk[pi[k - 1]] = x[pi[k - 1]];
            }
        }
        CT_CHECK_GOTO(rc, f(user, rows, cnt * (d + 1), d, out));
        for (int64_t c = 0; c < cnt; c++) {
            int64_t wk = w0 + c;
            const int *pi = perm + (size_t)(wk / nb) * d;
            const double *o0 = out + c * (d + 1) * m;
            for (int o = 0; o < m; o++)
                base[o] += o0[o];
            for (int k = 1; k <= d; k++)
                for (int o = 0; o < m; o++)
                    phi[pi[k - 1] * m + o] += o0[k * m + o] - o0[(k - 1) * m + o];
        }
    }
    for (int i = 0; i < d * m; i++)
        phi[i] /= (double)nwalk;
    for (int o = 0; o < m; o++)
        base[o] /= (double)nwalk;
fail:
    free(perm);
    free(rows);
    free(out);
    return rc;
}

ct_status ct_shap_explain(ct_model_fn f, void *user, int d, int m, const double *x,
                          const double *background, int64_t nb,
                          const ct_shap_settings *s, double *phi, double *base,
                          ct_shap_method *used)
{
    if (d < 1 || m < 1 || nb < 1)
        CT_FAIL(CT_ERR_ARG, "SHAP needs d, m and the background size >= 1 (d=%d m=%d nb=%lld)",
                d, m, (long long)nb);
    ct_shap_method meth = s->method;
    if (meth == CT_SHAP_AUTO)
        meth = d <= s->exact_max_features ? CT_SHAP_EXACT : CT_SHAP_PERMUTATION;
    if (meth == CT_SHAP_EXACT && d > 24)
        CT_FAIL(CT_ERR_RANGE, "exact Shapley values over %d features (2^%d coalitions) are "
                              "too expensive; use the permutation estimator", d, d);
    int64_t max_rows = s->max_rows > 0 ? s->max_rows : 65536;
    if (used)
        *used = meth;
    if (meth == CT_SHAP_EXACT)
        CT_CHECK(shap_exact(f, user, d, m, x, background, nb, max_rows, phi, base));
    else
        CT_CHECK(shap_permutation(f, user, d, m, x, background, nb,
                                  s->permutations > 1 ? (s->permutations + 1) / 2 : 1, s->seed,
                                  max_rows, phi, base));
    return CT_OK;
}
