/* The verdict rule of the report's first table: a published claim is judged
 * from per-seed values of one measured quantity (seeds are paired: transfer
 * and scratch of one seed share the budget subset), by a 95% Student-t
 * interval of their mean, after two checks that the run can decide at all. */
#include <math.h>
#include <string.h>

#include "cosmotl/study.h"

/* two-sided 95% Student-t quantiles, 1..30 degrees of freedom */
static const double T975[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                2.060,  2.056, 2.052, 2.048, 2.045, 2.042};

double ct_t975(int dof)
{
    if (dof < 1)
        return INFINITY;
    return dof <= 30 ? T975[dof - 1] : 1.960 + 2.5 / dof;
}

const char *ct_verdict_name(ct_verdict v)
{
    switch (v) {
    case CT_VERDICT_REPRODUCED: return "reproduced";
    case CT_VERDICT_NOT_REPRODUCED: return "not reproduced";
    case CT_VERDICT_INCONCLUSIVE: return "inconclusive";
    case CT_VERDICT_TOO_SMALL: return "inconclusive: too small";
    case CT_VERDICT_NOT_TESTED: return "not tested";
    case CT_VERDICT_NO_CLAIM: return "no published claim";
    }
    return "?";
}

void ct_verdict_interval(const double *x, int n, double *mean, double *lo, double *hi)
{
    double m = 0, ss = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) {
            m += x[i];
            k++;
        }
    if (k == 0) {
        *mean = *lo = *hi = NAN;
        return;
    }
    m /= k;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]))
            ss += (x[i] - m) * (x[i] - m);
    double half = k > 1 ? ct_t975(k - 1) * sqrt(ss / (k - 1)) / sqrt((double)k) : INFINITY;
    *mean = m;
    *lo = m - half;
    *hi = m + half;
}

ct_verdict ct_verdict_decide(ct_claim_kind kind, const double *x, int n, double scratch_r2,
                             int64_t ntest, double *mean, double *lo, double *hi)
{
    *mean = *lo = *hi = NAN;
    if (n < 1)
        return CT_VERDICT_NOT_TESTED;
    ct_verdict_interval(x, n, mean, lo, hi);
    /* a run that cannot decide says so, whatever its numbers show */
    if (ntest < CT_VERDICT_MIN_TEST || !(scratch_r2 >= CT_VERDICT_MIN_R2))
        return CT_VERDICT_TOO_SMALL;
    if (isnan(*mean) || !isfinite(*lo) || !isfinite(*hi))
        return CT_VERDICT_INCONCLUSIVE; /* fewer than two seeds: no spread */
    const double margin = log(CT_VERDICT_EQUIV);
    switch (kind) {
    case CT_CLAIM_SAVINGS: /* x = log savings factor; claim: of order 10x */
        if (*lo > log(CT_VERDICT_SAVINGS))
            return CT_VERDICT_REPRODUCED;
        if (*hi < log(CT_VERDICT_SAVINGS))
            return CT_VERDICT_NOT_REPRODUCED;
        return CT_VERDICT_INCONCLUSIVE;
    case CT_CLAIM_WORSE: /* x = log(MSE transfer / MSE scratch); claim: > 0 */
        if (*lo > 0)
            return CT_VERDICT_REPRODUCED;
        if (*hi < margin)
            return CT_VERDICT_NOT_REPRODUCED;
        return CT_VERDICT_INCONCLUSIVE;
    case CT_CLAIM_BETTER: /* claim: < 0 */
        if (*hi < 0)
            return CT_VERDICT_REPRODUCED;
        if (*lo > -margin)
            return CT_VERDICT_NOT_REPRODUCED;
        return CT_VERDICT_INCONCLUSIVE;
    case CT_CLAIM_NO_GAIN: /* claim: no gain larger than the equivalence margin */
        if (*lo > -margin)
            return CT_VERDICT_REPRODUCED;
        if (*hi < -margin)
            return CT_VERDICT_NOT_REPRODUCED;
        return CT_VERDICT_INCONCLUSIVE;
    }
    return CT_VERDICT_NOT_TESTED;
}
