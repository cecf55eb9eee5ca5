/* Shapley values: efficiency (sum phi = f(x) - E_b f(b)) for both estimators,
 * exact values against the closed form of a linear model and against brute-force
 * permutation enumeration for a nonlinear one, and the sampling estimator close
 * to the exact one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/study.h"
#include "tests/testlib.h"

typedef struct {
    int d;
    double w[8];
    int calls;
} model_t;

/* out[0] = w.x; out[1] = x0 x1 + sin(x2) + x3^2 x4 + x0 x2 x5: pairwise and
 * three-way interactions (an antithetic pair of permutations is exact for purely
 * pairwise ones, so the three-way term is what makes few permutations inexact) */
static ct_status model(void *user, const double *x, int64_t n, int d, double *out)
{
    model_t *m = user;
    m->calls++;
    for (int64_t i = 0; i < n; i++) {
        const double *r = x + i * d;
        double s = 0;
        for (int j = 0; j < d; j++)
            s += m->w[j] * r[j];
        out[i * 2] = s;
        out[i * 2 + 1] = r[0] * r[1] + sin(r[2]) + r[3] * r[3] * r[4] + r[0] * r[2] * r[5];
    }
    return CT_OK;
}

static double eval1(model_t *m, const double *r, int o)
{
    double out[2];
    model(m, r, 1, m->d, out);
    return out[o];
}

/* brute force: average of marginal contributions over all d! orderings */
static void brute(model_t *m, const double *x, const double *bg, int nb, double *phi)
{
    int d = m->d, perm[8];
    for (int i = 0; i < d; i++)
        perm[i] = i;
    memset(phi, 0, sizeof(double) * d * 2);
    long count = 0;
    for (;;) {
        for (int b = 0; b < nb; b++) {
            double z[8];
            memcpy(z, bg + b * d, sizeof(double) * d);
            for (int k = 0; k < d; k++) {
                double before[2] = {eval1(m, z, 0), eval1(m, z, 1)};
                z[perm[k]] = x[perm[k]];
                for (int o = 0; o < 2; o++)
                    phi[perm[k] * 2 + o] += eval1(m, z, o) - before[o];
            }
        }
        count++;
        /* next permutation (lexicographic) */
        int i = d - 2;
        while (i >= 0 && perm[i] > perm[i + 1])
            i--;
        if (i < 0)
            break;
        int j = d - 1;
        while (perm[j] < perm[i])
            j--;
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        for (int a = i + 1, b = d - 1; a < b; a++, b--)
            t = perm[a], perm[a] = perm[b], perm[b] = t;
    }
    for (int i = 0; i < d * 2; i++)
        phi[i] /= (double)(count * nb);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    enum { D = 6, NB = 7 };
    model_t m = {.d = D, .w = {1.5, -2.0, 0.5, 3.0, 0.0, -1.0}};
    double x[D], bg[NB * D], phi[D * 2], phib[D * 2], base[2], ref[D * 2];
    ct_rng r;
    ct_rng_init(&r, 11, 0, 0);
    for (int i = 0; i < D; i++)
        x[i] = ct_rng_normal(&r);
    for (int i = 0; i < NB * D; i++)
        bg[i] = ct_rng_normal(&r);
    ct_shap_settings s;
    ct_shap_defaults(&s);
    s.max_rows = 50; /* force several batches */
    ct_shap_method used;
    CT_EXPECT_OK(ct_shap_explain(model, &m, D, 2, x, bg, NB, &s, phi, base, &used));
    CT_EXPECT(used == CT_SHAP_EXACT);
    /* linear output: phi_i = w_i (x_i - mean_b b_i) exactly */
    for (int i = 0; i < D; i++) {
        double mb = 0;
        for (int b = 0; b < NB; b++)
            mb += bg[b * D + i] / NB;
        CT_EXPECT_ABS(phi[i * 2], m.w[i] * (x[i] - mb), 1e-12);
    }
    /* nonlinear output against brute-force enumeration of all 720 orderings */
    brute(&m, x, bg, NB, ref);
    for (int i = 0; i < D * 2; i++)
        CT_EXPECT_ABS(phi[i], ref[i], 1e-11);
    /* efficiency for both outputs */
    double fx[2] = {eval1(&m, x, 0), eval1(&m, x, 1)}, eb[2] = {0, 0};
    for (int b = 0; b < NB; b++)
        for (int o = 0; o < 2; o++)
            eb[o] += eval1(&m, bg + b * D, o) / NB;
    for (int o = 0; o < 2; o++) {
        double sum = 0;
        for (int i = 0; i < D; i++)
            sum += phi[i * 2 + o];
        CT_EXPECT_ABS(sum, fx[o] - eb[o], 1e-12);
        CT_EXPECT_ABS(base[o], eb[o], 1e-12);
    }
    /* permutation estimator: efficiency exact (telescoping) for any number of
     * permutations; linear output exact too (every ordering gives w_i (x_i - b_i)) */
    s.method = CT_SHAP_PERMUTATION;
    s.permutations = 4;
    CT_EXPECT_OK(ct_shap_explain(model, &m, D, 2, x, bg, NB, &s, phib, base, &used));
    CT_EXPECT(used == CT_SHAP_PERMUTATION);
    for (int o = 0; o < 2; o++) {
        double sum = 0;
        for (int i = 0; i < D; i++)
            sum += phib[i * 2 + o];
        CT_EXPECT_ABS(sum, fx[o] - eb[o], 1e-12);
    }
    for (int i = 0; i < D; i++)
        CT_EXPECT_ABS(phib[i * 2], phi[i * 2], 1e-12);
    /* with many permutations the estimate approaches the exact values: the
     * largest attribution here is O(1); 2000 permutations x 7 background rows
     * leave a Monte-Carlo error of order 1e-2 */
    s.permutations = 2000;
    s.max_rows = 65536;
    CT_EXPECT_OK(ct_shap_explain(model, &m, D, 2, x, bg, NB, &s, phib, base, &used));
    double maxdev = 0;
    for (int i = 0; i < D; i++)
        maxdev = fmax(maxdev, fabs(phib[i * 2 + 1] - phi[i * 2 + 1]));
    CT_EXPECT(maxdev < 0.05);
    /* and a few permutations are not exact for the nonlinear output (the test
     * above could fail) */
    s.permutations = 2;
    CT_EXPECT_OK(ct_shap_explain(model, &m, D, 2, x, bg, NB, &s, phib, base, &used));
    maxdev = 0;
    for (int i = 0; i < D; i++)
        maxdev = fmax(maxdev, fabs(phib[i * 2 + 1] - phi[i * 2 + 1]));
    CT_EXPECT(maxdev > 1e-6);
    /* bad arguments fail cleanly */
    CT_EXPECT(ct_shap_explain(model, &m, 0, 2, x, bg, NB, &s, phib, base, &used) != CT_OK);
    s.method = CT_SHAP_EXACT;
    CT_EXPECT(ct_shap_explain(model, &m, 30, 2, x, bg, NB, &s, phib, base, &used) != CT_OK);
    CT_TEST_END();
}
