/* Linear theory: sigma8 normalisation, growth ODEs against the LCDM integral,
 * EH98/EH99 limits, neutrino and f(R) scale-dependent growth, P(k) tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_integration.h>

#include "cosmotl/cosmo.h"
#include "testlib.h"

/* Brute-force sigma(R): trapezoid in ln k on a fine grid (independent of the
 * library's adaptive GSL integration). */
static double sigma_brute(const ct_cosmo *c, double r, int total)
{
    const int n = 400000;
    double lo = log(1e-6), hi = log(1e3), dl = (hi - lo) / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double k = exp(lo + i * dl), x = k * r;
        double w = x < 1e-3 ? 1 - x * x / 10 : 3 * (sin(x) - x * cos(x)) / (x * x * x);
        double v = k * k * k * w * w *
                   ct_cosmo_pk_gr(c, k, 1.0, total ? CT_SPECIES_TOTAL : CT_SPECIES_CB);
        s += (i == 0 || i == n) ? 0.5 * v : v;
    }
    return sqrt(s * dl / (2 * M_PI * M_PI));
}

/* LCDM growing mode: D ∝ E(a) ∫_0^a da' / (a' E(a'))^3 (w = -1, no radiation). */
static double g_om;
static double integrand(double a, void *p)
{
    (void)p;
    double e = sqrt(g_om / (a * a * a) + 1 - g_om);
    return 1.0 / pow(a * e, 3);
}
static double d_integral(double om, double a)
{
    g_om = om;
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
    gsl_function f = {integrand, NULL};
    double r, err;
    gsl_integration_qags(&f, 0, a, 0, 1e-13, 1000, ws, &r, &err);
    gsl_integration_workspace_free(ws);
    return sqrt(om / (a * a * a) + 1 - om) * r;
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    ct_cosmo_params p;
    ct_cosmo *c = NULL;

    /* 1. sigma8 normalisation to 1e-4 (the brute-force integral is accurate to
     * ~1e-7 with 4e5 points; the library integrates adaptively to 1e-11). */
    ct_lin_transfer kinds[2] = {CT_LIN_EH98, CT_LIN_EH98_NOWIGGLE};
    double mnus[3] = {0.0, 0.4, 0.0}, fr0s[3] = {0.0, 0.0, -1e-4};
    for (int t = 0; t < 2; t++)
        for (int m = 0; m < 3; m++) {
            ct_cosmo_params_defaults(&p);
            p.transfer = kinds[t];
            p.m_nu = mnus[m];
            p.f_r0 = fr0s[m];
            p.sigma8 = 0.75;
            CT_EXPECT_OK(ct_cosmo_create(&c, &p));
            if (!c)
                continue;
            CT_EXPECT_REL(sigma_brute(c, 8.0, 1), 0.75, 1e-4);
            CT_EXPECT_REL(ct_cosmo_sigma8(c), 0.75, 1e-6);
            ct_cosmo_destroy(&c);
        }

    /* 2. D1 against the LCDM integral solution to 1e-5, two Omega_m. */
    double oms[2] = {0.3175, 0.1};
    for (int j = 0; j < 2; j++) {
        ct_cosmo_params_defaults(&p);
        p.omega_m = oms[j];
        p.omega_b = 0.03;
        CT_EXPECT_OK(ct_cosmo_create(&c, &p));
        double n1 = d_integral(oms[j], 1.0);
        double amax = 0;
        for (double a = 0.005; a <= 1.0; a *= 1.07) {
            double ref = d_integral(oms[j], a) / n1;
            double rel = fabs(ct_cosmo_d1(c, a) / ref - 1);
            amax = rel > amax ? rel : amax;
        }
        CT_EXPECT(amax < 1e-5);
        if (amax >= 1e-5)
            fprintf(stderr, "D1 max rel error %g\n", amax);
        CT_EXPECT_REL(ct_cosmo_d1(c, 1.0), 1.0, 1e-12);
        /* fits checked at the fiducial Omega_m, where they are calibrated:
         * f1 ~ Omega_m(a)^0.55 (Linder; ~0.3%) */
        for (double a = 0.1; a <= 1.0 && j == 0; a += 0.3) {
            ct_growth g = ct_cosmo_growth(c, a);
            CT_EXPECT_REL(g.f1, pow(ct_cosmo_omega_m_a(c, a), 0.55), 5e-3);
            /* D2 ~ -3/7 D1^2 Omega_m^(-1/143) (Bouchet et al.; < 1% for these) */
            CT_EXPECT_REL(g.d2, -3.0 / 7.0 * g.d1 * g.d1 * pow(ct_cosmo_omega_m_a(c, a),
                                                               -1.0 / 143), 1e-2);
            /* f2 ~ 2 Omega_m^(6/11) */
            CT_EXPECT_REL(g.f2, 2 * pow(ct_cosmo_omega_m_a(c, a), 6.0 / 11), 1e-2);
            /* FastPM g_f = dG_f/da: compare with a centred difference */
            double h = 1e-4 * a;
            double dg = (ct_cosmo_fastpm_G(c, a + h) - ct_cosmo_fastpm_G(c, a - h)) / (2 * h);
            CT_EXPECT_REL(ct_cosmo_fastpm_g(c, a), dg, 1e-6);
        }
        ct_cosmo_destroy(&c);
    }

    /* 3. EH98 and A_s units: T -> 1 at k -> 0; wiggles average out against the
     * no-wiggle shape; A_s = 2.13e-9 gives sigma8 near Quijote's 0.834 (EH98 is
     * a few-percent fit, so 4%). P_Phi matches (9/25) 2 pi^2 A_s / k^3 (k/kp)^(ns-1). */
    ct_cosmo_params_defaults(&p);
    p.sigma8 = 0;
    CT_EXPECT_OK(ct_cosmo_create(&c, &p));
    CT_EXPECT_ABS(ct_cosmo_transfer_eh98(c, 1e-5), 1.0, 1e-4);
    CT_EXPECT_REL(ct_cosmo_sigma8(c), 0.834, 0.04);
    for (double k = 1e-3; k < 1; k *= 3) {
        double kp = 0.05 / p.h;
        double ref = 9.0 / 25 * 2 * M_PI * M_PI * p.a_s / (k * k * k) * pow(k / kp, p.n_s - 1);
        CT_EXPECT_REL(ct_cosmo_pk_phi(c, k), ref, 1e-9);
    }
    ct_cosmo *cnw = NULL;
    p.transfer = CT_LIN_EH98_NOWIGGLE;
    CT_EXPECT_OK(ct_cosmo_create(&cnw, &p));
    double mean = 0, maxdev = 0;
    int nk = 0;
    for (double k = 0.02; k < 0.4; k += 0.002, nk++) {
        double r = ct_cosmo_transfer_eh98(c, k) / ct_cosmo_transfer_eh98(cnw, k);
        mean += r;
        maxdev = fmax(maxdev, fabs(r - 1));
    }
    mean /= nk;
    CT_EXPECT_ABS(mean, 1.0, 0.01);
    CT_EXPECT(maxdev > 0.01 && maxdev < 0.1); /* wiggles present, a few percent */
    ct_cosmo_destroy(&cnw);
    ct_cosmo_destroy(&c);

    /* 4. Massive neutrinos (Mnu = 0.4 eV, f_nu ~ 0.03): response R -> 1 on large
     * scales, -> 0 deep in free streaming; the ODE growth with the EH99 response
     * agrees with the EH99 fit D_cb to 1.5%; at fixed A_s the small-scale P_cb
     * suppression is close to the known ~ (1 - f_nu)^2 D1^(-2 p_cb) behaviour: we
     * check it lies between -4 f_nu and -8 f_nu. */
    ct_cosmo *c0 = NULL;
    ct_cosmo_params_defaults(&p);
    p.sigma8 = 0;
    CT_EXPECT_OK(ct_cosmo_create(&c0, &p));
    p.m_nu = 0.4;
    CT_EXPECT_OK(ct_cosmo_create(&c, &p));
    double fnu = ct_cosmo_f_nu(c);
    CT_EXPECT_REL(fnu, 0.4 / 93.14 / (p.h * p.h) / p.omega_m, 1e-12);
    CT_EXPECT_ABS(ct_cosmo_nu_response(c, 1e-4, 1.0), 1.0, 0.01);
    CT_EXPECT(ct_cosmo_nu_response(c, 5.0, 1.0) < 0.02);
    for (double k = 1e-3; k < 3; k *= 2) {
        double d, f, dcb, dcbnu;
        ct_cosmo_growth_k(c, k, 1.0, 0, &d, &f);
        ct_cosmo_eh99_growth(c, k, 1.0, &dcb, &dcbnu);
        CT_EXPECT_REL(d, dcb, 0.015);
        /* f_cb: between the free-streaming and the clustering limits */
        CT_EXPECT(f <= ct_cosmo_growth(c, 1.0).f1 * 1.001);
    }
    double sup = ct_cosmo_pk(c, 1.0, 1.0, CT_SPECIES_CB) / ct_cosmo_pk(c0, 1.0, 1.0, CT_SPECIES_CB);
    CT_EXPECT(sup - 1 < -4 * fnu && sup - 1 > -8 * fnu);
    fprintf(stderr, "P_cb suppression at k=1, Mnu=0.4 (fixed A_s): %.4f, f_nu = %.4f\n", sup - 1,
            fnu);
    ct_cosmo_destroy(&c);
    ct_cosmo_destroy(&c0);

    /* 5. f(R): mu in [1, 4/3]; growth enhanced on small scales only, more for
     * larger |f_R0|; sigma8 refers to the GR spectrum. */
    double prev = 1.0;
    double frs[3] = {-1e-6, -1e-5, -1e-4};
    for (int i = 0; i < 3; i++) {
        ct_cosmo_params_defaults(&p);
        p.f_r0 = frs[i];
        CT_EXPECT_OK(ct_cosmo_create(&c, &p));
        CT_EXPECT_ABS(ct_cosmo_fr_mu(c, 1e-5, 1.0), 1.0, 1e-3);
        CT_EXPECT_ABS(ct_cosmo_fr_mu(c, 1e3, 1.0), 4.0 / 3.0, 1e-3);
        double d, f;
        ct_cosmo_growth_k(c, 1e-4, 1.0, 0, &d, &f);
        CT_EXPECT_REL(d, 1.0, 1e-3);
        ct_cosmo_growth_k(c, 0.5, 1.0, 0, &d, &f);
        CT_EXPECT(d > prev);
        prev = d;
        double boost = ct_cosmo_pk(c, 0.5, 1.0, CT_SPECIES_TOTAL) /
                       ct_cosmo_pk_gr(c, 0.5, 1.0, CT_SPECIES_TOTAL);
        CT_EXPECT_REL(boost, d * d, 1e-6);
        ct_cosmo_destroy(&c);
    }

    /* 6. Tabulated P(k): a table written from the EH98 spectrum reproduces it
     * (cubic spline in log-log on 600 points: 1e-4) after sigma8 renormalisation. */
    ct_cosmo_params_defaults(&p);
    p.sigma8 = 0.8;
    CT_EXPECT_OK(ct_cosmo_create(&c0, &p));
    char path[] = "/tmp/ct_pk_tableXXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "# k [h/Mpc]  P [(Mpc/h)^3]\n");
    for (int i = 0; i < 600; i++) {
        double k = 1e-5 * pow(1e8, i / 599.0);
        fprintf(fp, "%.12e %.12e\n", k, 3.7 * ct_cosmo_pk(c0, k, 1.0, CT_SPECIES_TOTAL));
    }
    fclose(fp);
    double *tk = NULL, *tp = NULL;
    size_t tn = 0;
    CT_EXPECT_OK(ct_pk_table_read(path, &tk, &tp, &tn));
    CT_EXPECT(tn == 600);
    p.transfer = CT_LIN_TABLE;
    p.table_k = tk;
    p.table_p = tp;
    p.table_n = tn;
    CT_EXPECT_OK(ct_cosmo_create(&c, &p));
    if (c) {
        CT_EXPECT_REL(ct_cosmo_sigma8(c), 0.8, 1e-6);
        for (double k = 1e-3; k < 5; k *= 1.7) {
            CT_EXPECT_REL(ct_cosmo_pk(c, k, 1.0, CT_SPECIES_TOTAL),
                          ct_cosmo_pk(c0, k, 1.0, CT_SPECIES_TOTAL), 1e-4);
            CT_EXPECT_REL(ct_cosmo_pk(c, k, 0.2, CT_SPECIES_TOTAL),
                          ct_cosmo_pk(c0, k, 0.2, CT_SPECIES_TOTAL), 1e-4);
        }
    }
    ct_cosmo_destroy(&c);
    ct_cosmo_destroy(&c0);
    free(tk);
    free(tp);
    /* bad tables fail with file:line */
    fp = fopen(path, "w");
    fprintf(fp, "0.1 1\n0.2 2\n0.15 3\n0.3 1\n");
    fclose(fp);
    CT_EXPECT(ct_pk_table_read(path, &tk, &tp, &tn) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), ":3:") != NULL);
    fp = fopen(path, "w");
    fprintf(fp, "0.1 1\n0.2 abc\n");
    fclose(fp);
    CT_EXPECT(ct_pk_table_read(path, &tk, &tp, &tn) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), ":2:") != NULL);
    unlink(path);
    CT_EXPECT(ct_pk_table_read("/nonexistent/pk.txt", &tk, &tp, &tn) == CT_ERR_IO);

    /* 7. invalid parameters are refused with the parameter's name */
    ct_cosmo_params_defaults(&p);
    p.omega_m = -0.2;
    CT_EXPECT(ct_cosmo_create(&c, &p) == CT_ERR_RANGE);
    CT_EXPECT(strstr(ct_error_message(), "omega_m") != NULL);
    CT_EXPECT(c == NULL);
    ct_cosmo_params_defaults(&p);
    p.f_r0 = 1e-5;
    CT_EXPECT(ct_cosmo_create(&c, &p) == CT_ERR_RANGE);
    /* the corners of Quijote's ranges: BSQ's f_b up to 0.79, nwLH's f_c down to
     * 0.088 (Omega_m 0.1, Omega_b 0.07, M_nu 0.3, h 0.75); CDM must not vanish */
    ct_cosmo_params_defaults(&p);
    p.omega_m = 0.1;
    p.omega_b = 0.079;
    CT_EXPECT_OK(ct_cosmo_create(&c, &p));
    if (c)
        CT_EXPECT_REL(ct_cosmo_sigma8(c), p.sigma8, 1e-6);
    ct_cosmo_destroy(&c);
    p.omega_b = 0.07;
    p.m_nu = 0.3;
    p.h = 0.75;
    CT_EXPECT_OK(ct_cosmo_create(&c, &p));
    ct_cosmo_destroy(&c);
    p.m_nu = 1.0;
    p.h = 0.5; /* Omega_nu = 0.043: no CDM left */
    CT_EXPECT(ct_cosmo_create(&c, &p) == CT_ERR_RANGE);
    CT_EXPECT(strstr(ct_error_message(), "CDM") != NULL);
    /* 8. the most extreme nwLH cosmology (Quijote nwLH 105: f_b = 0.57,
     * f_nu = 0.245, f_c = 0.18, w = -1.28): sigma8 of total matter exact against
     * the brute-force integral, the species masses add up, and the large-scale
     * P_m(z = 0) against the Boltzmann code CLASS (v3, N_ncdm = 1 with 3
     * degenerate species, N_ur = 0.00641, Y_He = 0.24, sigma8 = 0.6393 of total
     * matter, fluid dark energy; run outside the repository, values below).
     * EH98 x EH99 is within 0.4%, 1.3%, 2.9% of CLASS at these k; we allow 5%.
     * (From k ~ 0.02 on CLASS has near-zero baryon troughs that the fit does not
     * follow: docs/validation.md.) A normalisation error in the EH99 path at
     * extreme baryon or neutrino fractions fails here. */
    ct_cosmo_params_defaults(&p);
    p.omega_m = 0.1211;
    p.omega_b = 0.06955;
    p.h = 0.5693;
    p.n_s = 1.1361;
    p.sigma8 = 0.6393;
    p.m_nu = 0.8948125;
    p.w = -1.28155;
    CT_EXPECT_OK(ct_cosmo_create(&c, &p));
    if (c) {
        CT_EXPECT_REL(sigma_brute(c, 8.0, 1), 0.6393, 1e-4);
        CT_EXPECT_REL(ct_cosmo_omega_nu(c), 0.8948125 / 93.14 / (0.5693 * 0.5693), 1e-12);
        CT_EXPECT_REL(ct_cosmo_f_nu(c), 0.2448, 1e-3);
        const double kc[3] = {0.0070013, 0.0101199, 0.0146277};
        const double pc[3] = {2.636970e6, 1.965161e6, 1.100878e6};
        for (int i = 0; i < 3; i++)
            CT_EXPECT_REL(ct_cosmo_pk(c, kc[i], 1.0, CT_SPECIES_TOTAL), pc[i], 0.05);
    }
    ct_cosmo_destroy(&c);
    /* a neutrino mass needs neutrino species; n_nu = 0 is fine without one */
    ct_cosmo_params_defaults(&p);
    p.n_nu = 0;
    CT_EXPECT_OK(ct_cosmo_create(&c, &p));
    ct_cosmo_destroy(&c);
    p.m_nu = 0.1;
    CT_EXPECT(ct_cosmo_create(&c, &p) == CT_ERR_RANGE);
    CT_EXPECT(strstr(ct_error_message(), "n_nu = 0") != NULL);
    CT_EXPECT(c == NULL);
    CT_TEST_END();
}
