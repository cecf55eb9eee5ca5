/* Eisenstein & Hu fitting formulae: EH98 (baryon wiggles and the no-wiggle
 * shape; ApJ 496, 605) and EH99 (massive neutrinos: master function and
 * scale-dependent growth; ApJ 511, 5). Wavenumbers here are in 1/Mpc. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmo_internal.h"

void ct_eh98_init(ct_eh98 *e, const ct_cosmo_params *p)
{
    double h2 = p->h * p->h;
    e->omhh = p->omega_m * h2;
    e->obhh = p->omega_b * h2;
    e->theta = p->t_cmb / 2.7;
    e->fb = p->omega_b / p->omega_m;
    e->fc = 1.0 - e->fb; /* neutrinos counted with CDM here; EH99 ratio adds them */
    double om = e->omhh, ob = e->obhh, th2 = e->theta * e->theta, th4 = th2 * th2;

    e->z_eq = 2.50e4 * om / th4;
    e->k_eq = 7.46e-2 * om / th2;
    double b1 = 0.313 * pow(om, -0.419) * (1.0 + 0.607 * pow(om, 0.674));
    double b2 = 0.238 * pow(om, 0.223);
    e->z_d = 1291.0 * pow(om, 0.251) / (1.0 + 0.659 * pow(om, 0.828)) * (1.0 + b1 * pow(ob, b2));
    double r_d = 31.5 * ob / th4 * (1000.0 / e->z_d);
    double r_eq = 31.5 * ob / th4 * (1000.0 / e->z_eq);
    e->s = 2.0 / (3.0 * e->k_eq) * sqrt(6.0 / r_eq) *
           log((sqrt(1.0 + r_d) + sqrt(r_d + r_eq)) / (1.0 + sqrt(r_eq)));
    e->k_silk = 1.6 * pow(ob, 0.52) * pow(om, 0.73) * (1.0 + pow(10.4 * om, -0.95));
    double a1 = pow(46.9 * om, 0.670) * (1.0 + pow(32.1 * om, -0.532));
    double a2 = pow(12.0 * om, 0.424) * (1.0 + pow(45.0 * om, -0.582));
    e->alpha_c = pow(a1, -e->fb) * pow(a2, -e->fb * e->fb * e->fb);
    double bb1 = 0.944 / (1.0 + pow(458.0 * om, -0.708));
    double bb2 = pow(0.395 * om, -0.0266);
    e->beta_c = 1.0 / (1.0 + bb1 * (pow(e->fc, bb2) - 1.0));
    double y = e->z_eq / e->z_d;
    double sq = sqrt(1.0 + y);
    double gy = y * (-6.0 * sq + (2.0 + 3.0 * y) * log((sq + 1.0) / (sq - 1.0)));
    e->alpha_b = 2.07 * e->k_eq * e->s * pow(1.0 + r_d, -0.75) * gy;
    e->beta_b = 0.5 + e->fb + (3.0 - 2.0 * e->fb) * sqrt(pow(17.2 * om, 2) + 1.0);
    e->beta_node = 8.41 * pow(om, 0.435);
    /* no-wiggle shape (EH98 eqs. 26-31) */
    e->alpha_gamma_nw = 1.0 - 0.328 * log(431.0 * om) * e->fb +
                        0.38 * log(22.3 * om) * e->fb * e->fb;
    e->s_nw = 44.5 * log(9.83 / om) / sqrt(1.0 + 10.0 * pow(ob, 0.75));
}

static double eh98_t0(double q, double alpha_c, double beta_c)
{
    double l = log(M_E + 1.8 * beta_c * q);
    double c = 14.2 / alpha_c + 386.0 / (1.0 + 69.9 * pow(q, 1.08));
    return l / (l + c * q * q);
}

double ct_eh98_transfer(const ct_eh98 *e, double k, int wiggles)
{
    if (k <= 0)
        return 1.0;
    if (!wiggles) {
        double h_gamma = e->omhh * (e->alpha_gamma_nw + (1.0 - e->alpha_gamma_nw) /
                                                          (1.0 + pow(0.43 * k * e->s_nw, 4)));
        double q = k * e->theta * e->theta / h_gamma;
        double l0 = log(2.0 * M_E + 1.8 * q);
        double c0 = 14.2 + 731.0 / (1.0 + 62.5 * q);
        return l0 / (l0 + c0 * q * q);
    }
    double q = k / (13.41 * e->k_eq);
    double ks = k * e->s;
    double f = 1.0 / (1.0 + pow(ks / 5.4, 4));
    double tc = f * eh98_t0(q, 1.0, e->beta_c) + (1.0 - f) * eh98_t0(q, e->alpha_c, e->beta_c);
    double s_tilde = e->s / cbrt(1.0 + pow(e->beta_node / ks, 3));
    double x = k * s_tilde;
    double j0 = x > 1e-8 ? sin(x) / x : 1.0;
    double tb = (eh98_t0(q, 1.0, 1.0) / (1.0 + pow(ks / 5.2, 2)) +
                 e->alpha_b / (1.0 + pow(e->beta_b / ks, 3)) * exp(-pow(k / e->k_silk, 1.4))) *
                j0;
    return e->fb * tb + e->fc * tc;
}

void ct_eh99_init(ct_eh99 *e, const ct_cosmo_params *p, double fnu)
{
    double h2 = p->h * p->h;
    double omhh = p->omega_m * h2, obhh = p->omega_b * h2;
    double theta = p->t_cmb / 2.7, th4 = pow(theta, 4);
    double fb = p->omega_b / p->omega_m;
    e->n_nu = p->n_nu > 0 ? p->n_nu : 1;
    e->fnu = fnu;
    e->fcb = 1.0 - fnu;
    e->fc = 1.0 - fnu - fb;
    e->fnub = fnu + fb;
    e->z_eq = 2.50e4 * omhh / th4;
    double b1 = 0.313 * pow(omhh, -0.419) * (1.0 + 0.607 * pow(omhh, 0.674));
    double b2 = 0.238 * pow(omhh, 0.223);
    double z_d = 1291.0 * pow(omhh, 0.251) / (1.0 + 0.659 * pow(omhh, 0.828)) *
                 (1.0 + b1 * pow(obhh, b2));
    double y_d = e->z_eq / z_d;
    e->p_c = 0.25 * (5.0 - sqrt(1.0 + 24.0 * e->fc));
    e->p_cb = 0.25 * (5.0 - sqrt(1.0 + 24.0 * e->fcb));
    double nn = e->n_nu;
    double alpha_nu = e->fc / e->fcb * (5.0 - 2.0 * (e->p_c + e->p_cb)) / (5.0 - 4.0 * e->p_cb) *
                      pow(1.0 + y_d, e->p_cb - e->p_c) *
                      (1.0 + e->fnub * (-0.553 + 0.126 * e->fnub * e->fnub)) /
                      (1.0 - 0.193 * sqrt(fnu * nn) + 0.169 * fnu * pow(nn, 0.2)) *
                      (1.0 + (e->p_c - e->p_cb) / 2.0 *
                                 (1.0 + 1.0 / ((3.0 - 4.0 * e->p_c) * (7.0 - 4.0 * e->p_cb))) /
                                 (1.0 + y_d));
    e->alpha_gamma = sqrt(alpha_nu);
    e->beta_c = 1.0 / (1.0 - 0.949 * e->fnub);
    e->s_fit = 44.5 * log(9.83 / omhh) / sqrt(1.0 + 10.0 * pow(obhh, 0.75));
}

double ct_eh99_master(const ct_eh99 *e, double k, double omhh, double theta)
{
    double qq = k / omhh * theta * theta;
    double gamma_eff = omhh * (e->alpha_gamma + (1.0 - e->alpha_gamma) /
                                                    (1.0 + pow(k * e->s_fit * 0.43, 4)));
    double q_eff = qq * omhh / gamma_eff;
    double l = log(M_E + 1.84 * e->beta_c * e->alpha_gamma * q_eff);
    double c = 14.4 + 325.0 / (1.0 + 60.5 * pow(q_eff, 1.11));
    double t_sup = l / (l + c * q_eff * q_eff);
    double corr = 1.0;
    if (e->fnu > 0 && qq > 0) {
        double q_nu = 3.92 * qq * sqrt(e->n_nu / e->fnu);
        corr = 1.0 + 1.2 * pow(e->fnu, 0.64) * pow(e->n_nu, 0.3 + 0.6 * e->fnu) /
                         (pow(q_nu, -1.6) + pow(q_nu, 0.8));
    }
    return t_sup * corr;
}

void ct_eh99_growth(const ct_eh99 *e, double k, double omhh, double theta, double d1eh,
                    double *dcb, double *dcbnu, double *ecb, double *ecbnu)
{
    if (e->fnu <= 0) {
        *dcb = *dcbnu = d1eh;
        *ecb = *ecbnu = 1.0;
        return;
    }
    double qq = k / omhh * theta * theta;
    double y_fs = 17.2 * e->fnu * (1.0 + 0.488 * pow(e->fnu, -7.0 / 6.0)) *
                  pow(e->n_nu * qq / e->fnu, 2);
    double p = e->p_cb;
    double x7 = pow(d1eh / (1.0 + y_fs), 0.7);
    double t1 = pow(d1eh, 1.0 - p);
    double c0 = pow(e->fcb, 0.7 / p);
    *dcb = pow(1.0 + x7, p / 0.7) * t1;
    *dcbnu = pow(c0 + x7, p / 0.7) * t1;
    /* dlnD/dlnD1, analytic: y_fs does not depend on time */
    *ecb = 1.0 - p + p * x7 / (1.0 + x7);
    *ecbnu = 1.0 - p + p * x7 / (c0 + x7);
}

ct_status ct_pk_table_read(const char *path, double **k_out, double **p_out, size_t *n_out)
{
    ct_status rc = CT_OK;
    char *text = NULL;
    double *k = NULL, *p = NULL;
    size_t n = 0, cap = 0;
    *k_out = *p_out = NULL;
    *n_out = 0;
    CT_CHECK_GOTO(rc, ct_read_text(path, &text, NULL));
    int line = 0;
    for (char *s = text; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        line++;
        char *c = s;
        while (*c == ' ' || *c == '\t' || *c == '\r')
            c++;
        if (*c && *c != '#') {
            char *end1 = NULL, *end2 = NULL;
            errno = 0;
            double kv = strtod(c, &end1);
            double pv = end1 != c ? strtod(end1, &end2) : 0;
            if (end1 == c || end2 == end1 || errno)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: expected two numbers (k P)", path, line);
            if (!(kv > 0) || !(pv > 0) || !isfinite(kv) || !isfinite(pv))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: k and P must be positive and finite",
                             path, line);
            if (n > 0 && !(kv > k[n - 1]))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: k must increase strictly", path, line);
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                double *nk = realloc(k, cap * sizeof *k), *np = NULL;
                if (nk)
                    k = nk;
                np = nk ? realloc(p, cap * sizeof *p) : NULL;
                if (!nk || !np)
                    CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory", path);
                p = np;
            }
            k[n] = kv;
            p[n] = pv;
            n++;
        }
        s = nl ? nl + 1 : NULL;
    }
    if (n < 4)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: a P(k) table needs at least 4 rows, found %zu",
                     path, n);
    free(text);
    *k_out = k;
    *p_out = p;
    *n_out = n;
    return CT_OK;
fail:
    free(text);
    free(k);
    free(p);
    return rc;
}
