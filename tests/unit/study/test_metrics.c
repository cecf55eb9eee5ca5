/* Splits, budgets, seed statistics, savings factor, negative transfer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/study.h"
#include "tests/testlib.h"

static void test_splits(void)
{
    int64_t sims[100];
    for (int i = 0; i < 100; i++)
        sims[i] = 3 * i; /* arbitrary simulation indices */
    ct_split a, b;
    CT_EXPECT_OK(ct_split_make(sims, 100, 0.15, 42, 7, &a));
    CT_EXPECT_OK(ct_split_make(sims, 100, 0.15, 42, 7, &b));
    CT_EXPECT(a.ntest == 15 && a.npool == 85);
    /* deterministic, disjoint, complete */
    CT_EXPECT(!memcmp(a.test, b.test, sizeof(int64_t) * 15));
    int seen[300] = {0};
    for (int i = 0; i < a.ntest; i++)
        seen[a.test[i]]++;
    for (int i = 0; i < a.npool; i++)
        seen[a.pool[i]]++;
    int ok = 1;
    for (int i = 0; i < 300; i++)
        ok &= seen[i] == (i % 3 == 0 ? 1 : 0);
    CT_EXPECT(ok);
    /* nested budgets: the 20-budget rows are contained in the 50-budget rows */
    int64_t *t1, *v1, *t2, *v2, n1, m1, n2, m2;
    CT_EXPECT_OK(ct_budget_rows(&a, 20, 9, 1, 0.2, &t1, &n1, &v1, &m1));
    CT_EXPECT_OK(ct_budget_rows(&a, 50, 9, 1, 0.2, &t2, &n2, &v2, &m2));
    CT_EXPECT(n1 == 16 && m1 == 4 && n2 == 40 && m2 == 10);
    int nested = 1;
    for (int i = 0; i < n1 + m1; i++) {
        int64_t s = i < n1 ? t1[i] : v1[i - n1];
        int found = 0;
        for (int j = 0; j < n2; j++)
            found |= t2[j] == s;
        for (int j = 0; j < m2; j++)
            found |= v2[j] == s;
        nested &= found;
    }
    CT_EXPECT(nested);
    /* a different seed repetition draws a different subset */
    int64_t *t3, *v3, n3, m3;
    CT_EXPECT_OK(ct_budget_rows(&a, 20, 9, 2, 0.2, &t3, &n3, &v3, &m3));
    CT_EXPECT(memcmp(t1, t3, sizeof(int64_t) * n1) != 0);
    free(t1), free(v1), free(t2), free(v2), free(t3), free(v3);
    /* a budget beyond the pool fails and leaves nothing allocated */
    CT_EXPECT(ct_budget_rows(&a, 86, 9, 1, 0.2, &t3, &n3, &v3, &m3) != CT_OK);
    CT_EXPECT(t3 == NULL && v3 == NULL);
    ct_error_clear();
    ct_split_free(&a);
    ct_split_free(&b);
    CT_EXPECT(ct_split_make(sims, 3, 0.15, 1, 1, &a) != CT_OK);

    int budgets[] = {50, 100, 2000, 1000, 500};
    int64_t cap[8];
    int nc;
    ct_budgets_cap(budgets, 5, 700, cap, &nc);
    CT_EXPECT(nc == 4 && cap[0] == 50 && cap[1] == 100 && cap[2] == 500 && cap[3] == 700);
}

static void test_savings(void)
{
    /* scratch error follows err = 1/b exactly: at budget 100 transfer error
     * 1/1000 corresponds to a scratch budget of 1000 -> factor 10 (the log-log
     * interpolation is exact for a power law) */
    double b[] = {50, 100, 200, 500, 1000, 2000};
    double e[6];
    for (int i = 0; i < 6; i++)
        e[i] = 1.0 / b[i];
    int bound;
    CT_EXPECT_REL(ct_savings_factor(b, e, 6, 100, 1.0 / 1000, &bound), 10.0, 1e-12);
    CT_EXPECT(bound == 0);
    CT_EXPECT_REL(ct_savings_factor(b, e, 6, 100, 1.0 / 300, &bound), 3.0, 1e-12);
    /* between grid points: 1/700 between 500 and 1000 */
    CT_EXPECT_REL(ct_savings_factor(b, e, 6, 50, 1.0 / 700, &bound), 14.0, 1e-12);
    /* transfer better than scratch at every budget: lower bound 2000/b */
    CT_EXPECT_REL(ct_savings_factor(b, e, 6, 50, 1e-5, &bound), 40.0, 1e-12);
    CT_EXPECT(bound == 1);
    /* transfer worse than scratch at the smallest budget: upper bound */
    CT_EXPECT_REL(ct_savings_factor(b, e, 6, 100, 0.1, &bound), 0.5, 1e-12);
    CT_EXPECT(bound == -1);
    /* a noisy bump in the scratch curve is removed by the running minimum */
    double en[] = {0.02, 0.01, 0.012, 0.002, 0.001, 0.0005};
    CT_EXPECT_REL(ct_savings_factor(b, en, 6, 50, 0.01, &bound), 2.0, 1e-12);

    CT_EXPECT(ct_negative_transfer(2.0, 0.1, 1.0, 0.1) == 1);
    CT_EXPECT(ct_negative_transfer(1.15, 0.1, 1.0, 0.1) == 0);
    CT_EXPECT(ct_negative_transfer(0.5, 0.1, 1.0, 0.1) == 0);
    double v[] = {1, 2, 3, NAN};
    double m, sd;
    ct_mean_sd(v, 4, &m, &sd);
    CT_EXPECT_REL(m, 2.0, 1e-15);
    CT_EXPECT_REL(sd, 1.0, 1e-15);
}

/* The report's verdict rule (study.h) on hand-made per-seed values whose 95%
 * intervals are known: mean +- t(0.975, n-1) sd / sqrt(n). */
static void test_verdicts(void)
{
    double m, lo, hi;
    /* t quantiles: the table and the large-dof approximation */
    CT_EXPECT_REL(ct_t975(1), 12.706, 1e-12);
    CT_EXPECT_REL(ct_t975(5), 2.571, 1e-12);
    CT_EXPECT(fabs(ct_t975(200) - 1.972) < 2e-3);
    /* interval of {1, 2, 3}: mean 2, sd 1, half width 4.303 / sqrt 3 */
    double x3[] = {1, 2, 3};
    ct_verdict_interval(x3, 3, &m, &lo, &hi);
    CT_EXPECT_REL(m, 2.0, 1e-15);
    CT_EXPECT_REL(hi - m, 4.303 / sqrt(3.0), 1e-12);
    CT_EXPECT_REL(m - lo, 4.303 / sqrt(3.0), 1e-12);
    /* savings: six seeds around 10x (log 10 +- 0.1): reproduced; around 1.2x:
     * not reproduced; spread over 1x..30x: inconclusive */
    double s10[6], s12[6], swide[6];
    double wide[6] = {1, 30, 2, 20, 1.5, 25};
    for (int i = 0; i < 6; i++) {
        s10[i] = log(10.0) + (i % 2 ? 0.1 : -0.1);
        s12[i] = log(1.2) + (i % 2 ? 0.1 : -0.1);
        swide[i] = log(wide[i]);
    }
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_SAVINGS, s10, 6, 0.8, 300, &m, &lo, &hi) ==
              CT_VERDICT_REPRODUCED);
    CT_EXPECT_REL(exp(m), 10.0, 1e-12);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_SAVINGS, s12, 6, 0.8, 300, &m, &lo, &hi) ==
              CT_VERDICT_NOT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_SAVINGS, swide, 6, 0.8, 300, &m, &lo, &hi) ==
              CT_VERDICT_INCONCLUSIVE);
    /* too small: the same clear 10x with a scratch R2 of 0.05 at the largest
     * budget, or with a test set of 99, is never "not reproduced" or
     * "reproduced" */
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_SAVINGS, s10, 6, 0.05, 300, &m, &lo, &hi) ==
              CT_VERDICT_TOO_SMALL);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_SAVINGS, s12, 6, 0.8, 99, &m, &lo, &hi) ==
              CT_VERDICT_TOO_SMALL);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_WORSE, s12, 6, NAN, 300, &m, &lo, &hi) ==
              CT_VERDICT_TOO_SMALL);
    CT_EXPECT(!strcmp(ct_verdict_name(CT_VERDICT_TOO_SMALL), "inconclusive: too small"));
    /* one seed: no spread, inconclusive; no seeds: not tested */
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_SAVINGS, s10, 1, 0.8, 300, &m, &lo, &hi) ==
              CT_VERDICT_INCONCLUSIVE);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_SAVINGS, s10, 0, 0.8, 300, &m, &lo, &hi) ==
              CT_VERDICT_NOT_TESTED);
    /* negative transfer (x = log MSE ratio): clearly worse (ratio ~1.5) is
     * reproduced; clearly better (0.7) is not; equal within the 25% margin
     * (ratio 1.0 +- 2%) is not reproduced; a spread straddling 1.25 is
     * inconclusive */
    double worse[4], better[4], equal[4], straddle[4] = {log(0.9), log(1.6), log(1.0), log(1.5)};
    for (int i = 0; i < 4; i++) {
        worse[i] = log(1.5) + (i % 2 ? 0.05 : -0.05);
        better[i] = log(0.7) + (i % 2 ? 0.05 : -0.05);
        equal[i] = i % 2 ? 0.02 : -0.02;
    }
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_WORSE, worse, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_WORSE, better, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_NOT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_WORSE, equal, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_NOT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_WORSE, straddle, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_INCONCLUSIVE);
    /* gains: the mirror image */
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_BETTER, better, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_BETTER, worse, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_NOT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_BETTER, equal, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_NOT_REPRODUCED);
    /* no gain: equal or worse reproduces it, a clear 30% gain does not */
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_NO_GAIN, equal, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_NO_GAIN, worse, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_REPRODUCED);
    CT_EXPECT(ct_verdict_decide(CT_CLAIM_NO_GAIN, better, 4, 0.5, 150, &m, &lo, &hi) ==
              CT_VERDICT_NOT_REPRODUCED);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    test_splits();
    test_savings();
    test_verdicts();
    CT_TEST_END();
}
