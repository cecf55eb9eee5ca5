/* Metrics of the study: seed statistics, the
 * simulation-savings factor and the negative-transfer test. */
#include <math.h>
#include <string.h>

#include "cosmotl/study.h"

void ct_mean_sd(const double *v, int n, double *mean, double *sd)
{
    int c = 0;
    double m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) {
            m += v[i];
            c++;
        }
    if (c == 0) {
        *mean = *sd = NAN;
        return;
    }
    m /= c;
    double s = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]))
            s += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = c > 1 ? sqrt(s / (c - 1)) : 0.0;
}

double ct_savings_factor(const double *budgets, const double *scratch_err, int nb, double b,
                         double err_transfer, int *bound)
{
    *bound = 0;
    if (nb < 1 || !(b > 0) || isnan(err_transfer))
        return NAN;
    /* running minimum: more simulations never make the best achievable scratch
     * error worse, so noise in the scratch curve cannot create spurious crossings */
    double cur[CT_STUDY_MAX_BUDGETS];
    int m = nb < CT_STUDY_MAX_BUDGETS ? nb : CT_STUDY_MAX_BUDGETS;
    double run = INFINITY;
    for (int i = 0; i < m; i++) {
        if (!isnan(scratch_err[i]) && scratch_err[i] < run)
            run = scratch_err[i];
        cur[i] = run;
    }
    if (!isfinite(cur[m - 1]))
        return NAN;
    if (err_transfer >= cur[0] && isfinite(cur[0])) {
        *bound = -1;
        return budgets[0] / b;
    }
    if (err_transfer < cur[m - 1]) {
        *bound = 1;
        return budgets[m - 1] / b;
    }
    for (int i = 1; i < m; i++) {
        if (!isfinite(cur[i - 1]))
            continue;
        if (cur[i] <= err_transfer) {
            /* crossing between i-1 and i: interpolate log err linearly in log b */
            double l0 = log(budgets[i - 1]), l1 = log(budgets[i]);
            double e0 = log(fmax(cur[i - 1], 1e-300)), e1 = log(fmax(cur[i], 1e-300));
            double et = log(fmax(err_transfer, 1e-300));
            double t = (e0 == e1) ? 0.0 : (e0 - et) / (e0 - e1);
            return exp(l0 + t * (l1 - l0)) / b;
        }
    }
    *bound = 1;
    return budgets[m - 1] / b;
}

int ct_negative_transfer(double mean_t, double sd_t, double mean_s, double sd_s)
{
    if (isnan(mean_t) || isnan(mean_s))
        return 0;
    return mean_t - (isnan(sd_t) ? 0 : sd_t) > mean_s + (isnan(sd_s) ? 0 : sd_s);
}
