/* Mark of the marked power spectrum and the top-hat window it smooths with. */
#include <math.h>
#include <string.h>

#include "cosmotl/stats.h"

void ct_mk_settings_defaults(ct_mk_settings *s)
{
    memset(s, 0, sizeof *s);
    s->R = 10.0;
    s->p = 2.0;
    s->delta_s = 0.25;
}

double ct_mk_mark(const ct_mk_settings *s, double delta_R)
{
    double den = 1.0 + s->delta_s + delta_R;
    if (!(den > 0.0))
        return NAN;
    return pow((1.0 + s->delta_s) / den, s->p);
}

double ct_tophat_window(double x)
{
    x = fabs(x);
    /* the closed form cancels at small x (relative error ~1e-16/x^2): use the
     * series there; the first omitted term, x^10 / 1.7e8, is below 1e-18 for x < 0.1 */
    if (x < 0.1) {
        double x2 = x * x;
        return 1.0 + x2 * (-1.0 / 10.0 + x2 * (1.0 / 280.0 + x2 * (-1.0 / 15120.0 + x2 / 1330560.0)));
    }
    return 3.0 * (sin(x) - x * cos(x)) / (x * x * x);
}
