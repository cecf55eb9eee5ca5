/* f(R) chameleon screening in the PM force: the Winther & Ferreira (2015)
 * thin-shell approximation. The fifth force is sourced not by delta but by
 *   delta_eff(x) = delta(x) min(1, |Phi_crit(a) / Phi_N(x)|) where Phi_N(x) < 0,
 *   delta(x) elsewhere,
 *   Phi_crit / c^2 = 1.5 |f_R(a)|, f_R(a) = f_R0 [(Om + 4 OL) / (Om a^-3 + 4 OL)]^(n+1):
 * where a potential well is deeper than Phi_crit the region is screened and its
 * fifth force is cut in proportion. Phi_N is the Newtonian peculiar potential of
 * the structure within a Compton length of x: its Green's function is
 * 1 / (k^2 + a^2 m^2) instead of 1 / k^2, so modes longer than the scalar's range
 * 1/(a m), which cannot screen (the scalar does not respond to them), do not
 * deepen the wells. With the plain 1/k^2 potential the large-scale modes alone
 * reach |Phi_N| ~ 1e-5 c^2 and over-screen f_R0 = -1e-5 and -1e-4 (docs/decisions.md,
 * "f(R) screening potential"). */
#include <math.h>
#include <string.h>

#include "sim_internal.h"

#define C_OVER_H0 2997.92458 /* Mpc/h */

double ct_sim_fr_phi_crit(const ct_cosmo *c, double a)
{
    const ct_cosmo_params *p = ct_cosmo_get_params(c);
    double om = p->omega_m, ol = 1.0 - om;
    double fr = fabs(p->f_r0) * pow((om + 4 * ol) / (om / (a * a * a) + 4 * ol), p->fr_n + 1);
    return 1.5 * fr;
}

double ct_sim_fr_am2(const ct_cosmo *c, double a)
{
    /* mu(k, a) - 1 = k^2 / (3 (k^2 + a^2 m^2)): read a^2 m^2 off mu at k = 1 h/Mpc */
    double mu1 = ct_cosmo_fr_mu(c, 1.0, a) - 1.0;
    return mu1 > 0 ? 1.0 / (3.0 * mu1) - 1.0 : 0.0;
}

ct_status ct_sim_fr_screened_source(const ct_cosmo *c, double a, double crit_scale,
                                    ct_mesh *dk, ct_mesh *out, ct_mesh *tmp,
                                    const double *tab_gr, const double *tab_5)
{
    const double om = ct_cosmo_get_params(c)->omega_m;
    const double kf = ct_mesh_kf(dk);
    const int64_t N = ct_mesh_n(dk);
    ptrdiff_t y0, ny, x0, nx;
    /* tmp <- Phi_N / c^2 = -1.5 Om (H0/c)^2 S_nu(k) delta(k) / (a (k^2 + a^2 m^2)), real
     * space: the potential of the structure within a Compton length 1/(a m) of x */
    const double am2 = ct_sim_fr_am2(c, a);
    CT_CHECK(ct_mesh_copy(tmp, dk));
    ct_mesh_klocal(tmp, &y0, &ny);
    ct_complex *t = ct_mesh_complex(tmp);
    const double pf = -1.5 * om / (C_OVER_H0 * C_OVER_H0 * a);
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, tmp, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *mo = &it.mode;
            double g = 0;
            if (mo->n2 > 0) {
                double k = kf * sqrt((double)mo->n2);
                g = pf * ct_cosmo_nu_source(c, k, a) / (k * k + am2);
            }
            t[mo->idx][0] = (ct_real)(g * t[mo->idx][0]);
            t[mo->idx][1] = (ct_real)(g * t[mo->idx][1]);
        }
    }
    CT_CHECK(ct_mesh_c2r(tmp));
    /* out <- delta_eff(x) */
    CT_CHECK(ct_mesh_copy(out, dk));
    CT_CHECK(ct_mesh_c2r(out));
    const double crit = crit_scale * ct_sim_fr_phi_crit(c, a);
    ct_mesh_local(out, &x0, &nx);
    const ptrdiff_t row = ct_mesh_row(out);
    ct_real *d = ct_mesh_real(out);
    const ct_real *phi = ct_mesh_real(tmp);
    for (ptrdiff_t r = 0; r < nx * (ptrdiff_t)N; r++)
        for (int64_t l = 0; l < N; l++) {
            ptrdiff_t q = r * row + l;
            double ph = fabs((double)phi[q]);
            if (phi[q] >= 0)
                continue; /* only potential wells screen */
            if (ph > crit)
                d[q] = (ct_real)(d[q] * crit / ph);
        }
    CT_CHECK(ct_mesh_r2c(out));
    /* out(k) <- tab_gr delta(k) + tab_5 delta_eff(k) */
    const ct_complex *s = ct_mesh_complex(dk);
    ct_complex *o = ct_mesh_complex(out);
    ct_mesh_klocal(out, &y0, &ny);
    for (ptrdiff_t pl = 0; pl < ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, out, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *mo = &it.mode;
            for (int j = 0; j < 2; j++)
                o[mo->idx][j] = (ct_real)(tab_gr[mo->n2] * s[mo->idx][j] +
                                          tab_5[mo->n2] * o[mo->idx][j]);
        }
    }
    return CT_OK;
}
