/* Background, growth ODEs (GSL odeiv2), scale-dependent growth for massive
 * neutrinos and f(R), normalised linear spectra and sigma(R). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_odeiv2.h>

#include "cosmo_internal.h"

#define NA_1D 1024
#define A_MIN 1e-5
#define A_MAX 1.1
#define NK_2D 120
#define NA_2D 96
#define K_MIN_2D 1e-4
#define K_MAX_2D 1e2
#define A_SD_START 0.005 /* z ~ 199: the scale-dependent ODE starts from EH99 here */
#define ODE_EPS 1e-11

void ct_cosmo_params_defaults(ct_cosmo_params *p)
{
    memset(p, 0, sizeof *p);
    p->omega_m = 0.3175;
    p->omega_b = 0.049;
    p->h = 0.6711;
    p->n_s = 0.9624;
    p->sigma8 = 0.834;
    p->a_s = 2.13e-9;
    p->k_pivot = 0.05;
    p->m_nu = 0.0;
    p->n_nu = 3;
    p->w = -1.0;
    p->f_r0 = 0.0;
    p->fr_n = 1;
    p->t_cmb = 2.7255;
    p->transfer = CT_LIN_EH98;
}

const ct_cosmo_params *ct_cosmo_get_params(const ct_cosmo *c) { return &c->p; }

/* ------------------------------------------------------------ background */

static double e2(const ct_cosmo *c, double a)
{
    return c->om / (a * a * a) + c->ode * pow(a, -3.0 * (1.0 + c->p.w));
}

double ct_cosmo_E(const ct_cosmo *c, double a) { return sqrt(e2(c, a)); }

double ct_cosmo_dlnE_dlna(const ct_cosmo *c, double a)
{
    double m = c->om / (a * a * a), de = c->ode * pow(a, -3.0 * (1.0 + c->p.w));
    return -1.5 * (m + (1.0 + c->p.w) * de) / (m + de);
}

double ct_cosmo_omega_m_a(const ct_cosmo *c, double a)
{
    return c->om / (a * a * a) / e2(c, a);
}

double ct_cosmo_omega_nu(const ct_cosmo *c) { return c->onu; }
double ct_cosmo_f_nu(const ct_cosmo *c) { return c->fnu; }

double ct_cosmo_fr_mu(const ct_cosmo *c, double k, double a)
{
    if (c->p.f_r0 == 0.0)
        return 1.0;
    double n = c->p.fr_n, ol = 1.0 - c->om;
    double base = c->om + 4.0 * ol;
    double m2 = base / ((n + 1.0) * fabs(c->p.f_r0)) *
                pow((c->om / (a * a * a) + 4.0 * ol) / base, n + 2.0);
    double kk = k * CT_HUBBLE_MPCH;
    kk *= kk;
    return 1.0 + kk / (3.0 * (kk + a * a * m2));
}

/* ------------------------------------------------------------ growth ODEs */

static int growth_rhs(double lna, const double y[], double dy[], void *par)
{
    const ct_cosmo *c = par;
    double a = exp(lna);
    double fric = 2.0 + ct_cosmo_dlnE_dlna(c, a);
    double src = 1.5 * ct_cosmo_omega_m_a(c, a);
    dy[0] = y[1];
    dy[1] = -fric * y[1] + src * y[0];
    dy[2] = y[3];
    dy[3] = -fric * y[3] + src * (y[2] - y[0] * y[0]);
    return GSL_SUCCESS;
}

static ct_status solve_growth(ct_cosmo *c)
{
    ct_status rc = CT_OK;
    double *x = NULL, *l1 = NULL, *g1 = NULL, *l2 = NULL, *g2 = NULL;
    gsl_odeiv2_driver *drv = NULL;
    gsl_odeiv2_system sys = {growth_rhs, NULL, 4, c};
    CT_CHECK_GOTO(rc, ct_calloc(&x, NA_1D, sizeof *x, "growth table"));
    CT_CHECK_GOTO(rc, ct_calloc(&l1, NA_1D, sizeof *x, "growth table"));
    CT_CHECK_GOTO(rc, ct_calloc(&g1, NA_1D, sizeof *x, "growth table"));
    CT_CHECK_GOTO(rc, ct_calloc(&l2, NA_1D, sizeof *x, "growth table"));
    CT_CHECK_GOTO(rc, ct_calloc(&g2, NA_1D, sizeof *x, "growth table"));
    drv = gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd, 1e-6 * A_MIN, 0.0,
                                        ODE_EPS);
    if (!drv)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate the ODE driver");
    c->lna_min = log(A_MIN);
    c->lna_max = log(A_MAX);
    /* matter-era solutions: D1 = a, D2 = -3/7 a^2 (dark energy ~ a^3 smaller) */
    double a0 = A_MIN, y[4] = {a0, a0, -3.0 / 7.0 * a0 * a0, -6.0 / 7.0 * a0 * a0};
    double t = c->lna_min;
    for (int i = 0; i < NA_1D; i++) {
        double ti = c->lna_min + (c->lna_max - c->lna_min) * i / (NA_1D - 1);
        if (i > 0) {
            int st = gsl_odeiv2_driver_apply(drv, &t, ti, y);
            if (st != GSL_SUCCESS)
                CT_FAIL_GOTO(rc, CT_ERR_NUMERIC, "growth ODE failed at a = %g: %s", exp(ti),
                             gsl_strerror(st));
        }
        x[i] = ti;
        l1[i] = log(y[0]);
        g1[i] = y[1] / y[0];
        l2[i] = log(-y[2]);
        g2[i] = y[3] / y[2];
    }
    c->lnd1 = gsl_spline_alloc(gsl_interp_cspline, NA_1D);
    c->f1 = gsl_spline_alloc(gsl_interp_cspline, NA_1D);
    c->lnd2 = gsl_spline_alloc(gsl_interp_cspline, NA_1D);
    c->f2 = gsl_spline_alloc(gsl_interp_cspline, NA_1D);
    if (!c->lnd1 || !c->f1 || !c->lnd2 || !c->f2)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate growth splines");
    gsl_spline_init(c->lnd1, x, l1, NA_1D);
    gsl_spline_init(c->f1, x, g1, NA_1D);
    gsl_spline_init(c->lnd2, x, l2, NA_1D);
    gsl_spline_init(c->f2, x, g2, NA_1D);
    c->d1raw_1 = exp(gsl_spline_eval(c->lnd1, 0.0, NULL));
fail:
    if (drv)
        gsl_odeiv2_driver_free(drv);
    free(x);
    free(l1);
    free(g1);
    free(l2);
    free(g2);
    return rc;
}

static double clamp_lna(const ct_cosmo *c, double a)
{
    double l = log(a);
    return l < c->lna_min ? c->lna_min : (l > c->lna_max ? c->lna_max : l);
}

ct_growth ct_cosmo_growth(const ct_cosmo *c, double a)
{
    ct_growth g;
    double l = clamp_lna(c, a);
    g.d1 = exp(gsl_spline_eval(c->lnd1, l, NULL)) / c->d1raw_1;
    g.f1 = gsl_spline_eval(c->f1, l, NULL);
    g.d2 = -exp(gsl_spline_eval(c->lnd2, l, NULL)) / (c->d1raw_1 * c->d1raw_1);
    g.f2 = gsl_spline_eval(c->f2, l, NULL);
    if (a < A_MIN) { /* matter era */
        g.d1 = a / c->d1raw_1;
        g.d2 = -3.0 / 7.0 * g.d1 * g.d1;
        g.f1 = 1.0;
        g.f2 = 2.0;
    }
    return g;
}

double ct_cosmo_d1(const ct_cosmo *c, double a) { return ct_cosmo_growth(c, a).d1; }

double ct_cosmo_fastpm_G(const ct_cosmo *c, double a)
{
    ct_growth g = ct_cosmo_growth(c, a);
    return a * a * ct_cosmo_E(c, a) * g.d1 * g.f1;
}

double ct_cosmo_fastpm_g(const ct_cosmo *c, double a)
{
    return 1.5 * c->om * ct_cosmo_d1(c, a) / (a * a * ct_cosmo_E(c, a));
}

/* ------------------------------------------------------------ EH99 growth */

static double k_mpc(const ct_cosmo *c, double k) { return k * c->p.h; }

void ct_cosmo_eh99_growth(const ct_cosmo *c, double k, double a, double *d_cb, double *d_cbnu)
{
    double d1 = ct_cosmo_d1(c, a);
    double scale = c->eh99.z_eq * c->d1raw_1; /* EH normalisation: D1_EH = z_eq D1raw */
    double e1, e2_;
    ct_eh99_growth(&c->eh99, k_mpc(c, k), c->eh98.omhh, c->eh98.theta, d1 * scale, d_cb, d_cbnu,
                   &e1, &e2_);
    *d_cb /= scale;
    *d_cbnu /= scale;
}

static void eh99_growth_f(const ct_cosmo *c, double k, double a, double *d, double *f)
{
    ct_growth g = ct_cosmo_growth(c, a);
    double scale = c->eh99.z_eq * c->d1raw_1;
    double dcb, dcbnu, ecb, ecbnu;
    ct_eh99_growth(&c->eh99, k_mpc(c, k), c->eh98.omhh, c->eh98.theta, g.d1 * scale, &dcb,
                   &dcbnu, &ecb, &ecbnu);
    *d = dcb / scale;
    *f = g.f1 * ecb;
}

double ct_cosmo_nu_response(const ct_cosmo *c, double k, double a)
{
    if (c->fnu <= 0)
        return 0.0;
    double dcb, dcbnu;
    ct_cosmo_eh99_growth(c, k, a, &dcb, &dcbnu);
    double r = (dcbnu / dcb - c->fcb) / c->fnu;
    return r < 0 ? 0 : r;
}

double ct_cosmo_nu_source(const ct_cosmo *c, double k, double a)
{
    if (c->fnu <= 0)
        return 1.0;
    return c->fcb + c->fnu * ct_cosmo_nu_response(c, k, a);
}

/* ------------------------------------------------------------ scale-dependent ODE */

typedef struct {
    const ct_cosmo *c;
    double k;
    int gr;
} sd_par;

static int sd_rhs(double lna, const double y[], double dy[], void *vp)
{
    const sd_par *sp = vp;
    const ct_cosmo *c = sp->c;
    double a = exp(lna);
    double src = 1.5 * ct_cosmo_omega_m_a(c, a) * ct_cosmo_nu_source(c, sp->k, a);
    if (!sp->gr)
        src *= ct_cosmo_fr_mu(c, sp->k, a);
    dy[0] = y[1];
    dy[1] = -(2.0 + ct_cosmo_dlnE_dlna(c, a)) * y[1] + src * y[0];
    return GSL_SUCCESS;
}

static ct_status build_growth2d(ct_cosmo *c, ct_growth2d *g, int gr)
{
    ct_status rc = CT_OK;
    double *lk = NULL, *la = NULL, *zd = NULL, *zf = NULL;
    gsl_odeiv2_driver *drv = NULL;
    sd_par par = {c, 0, gr};
    gsl_odeiv2_system sys = {sd_rhs, NULL, 2, &par};
    CT_CHECK_GOTO(rc, ct_calloc(&lk, NK_2D, sizeof *lk, "growth table"));
    CT_CHECK_GOTO(rc, ct_calloc(&la, NA_2D, sizeof *la, "growth table"));
    CT_CHECK_GOTO(rc, ct_calloc(&zd, (size_t)NK_2D * NA_2D, sizeof *zd, "growth table"));
    CT_CHECK_GOTO(rc, ct_calloc(&zf, (size_t)NK_2D * NA_2D, sizeof *zf, "growth table"));
    g->lnk_min = log(K_MIN_2D);
    g->lnk_max = log(K_MAX_2D);
    g->lna_min = log(c->a_sd);
    g->lna_max = log(A_MAX);
    for (int i = 0; i < NK_2D; i++)
        lk[i] = g->lnk_min + (g->lnk_max - g->lnk_min) * i / (NK_2D - 1);
    for (int j = 0; j < NA_2D; j++)
        la[j] = g->lna_min + (g->lna_max - g->lna_min) * j / (NA_2D - 1);
    drv = gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd, 1e-4, 0.0, 1e-10);
    if (!drv)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate the ODE driver");
    for (int i = 0; i < NK_2D; i++) {
        par.k = exp(lk[i]);
        double d, f;
        eh99_growth_f(c, par.k, c->a_sd, &d, &f);
        double y[2] = {d, d * f}, t = g->lna_min;
        gsl_odeiv2_driver_reset(drv);
        for (int j = 0; j < NA_2D; j++) {
            if (j > 0) {
                int st = gsl_odeiv2_driver_apply(drv, &t, la[j], y);
                if (st != GSL_SUCCESS)
                    CT_FAIL_GOTO(rc, CT_ERR_NUMERIC, "scale-dependent growth ODE failed at "
                                 "k = %g, a = %g: %s", par.k, exp(la[j]), gsl_strerror(st));
            }
            /* gsl_spline2d: z[j * nx + i] with x = ln k, y = ln a */
            zd[(size_t)j * NK_2D + i] = log(y[0]);
            zf[(size_t)j * NK_2D + i] = y[1] / y[0];
        }
    }
    g->lnd = gsl_spline2d_alloc(gsl_interp2d_bicubic, NK_2D, NA_2D);
    g->f = gsl_spline2d_alloc(gsl_interp2d_bicubic, NK_2D, NA_2D);
    if (!g->lnd || !g->f)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate growth splines");
    gsl_spline2d_init(g->lnd, lk, la, zd, NK_2D, NA_2D);
    gsl_spline2d_init(g->f, lk, la, zf, NK_2D, NA_2D);
fail:
    if (drv)
        gsl_odeiv2_driver_free(drv);
    free(lk);
    free(la);
    free(zd);
    free(zf);
    return rc;
}

static void growth2d_free(ct_growth2d *g)
{
    if (g->lnd)
        gsl_spline2d_free(g->lnd);
    if (g->f)
        gsl_spline2d_free(g->f);
    g->lnd = g->f = NULL;
}

void ct_cosmo_growth_k(const ct_cosmo *c, double k, double a, int gr, double *d, double *f)
{
    int use_gr_tab = gr && c->has_sd_gr;
    if (!c->scale_dep || (gr && !c->has_sd_gr && c->fnu <= 0)) {
        ct_growth g = ct_cosmo_growth(c, a);
        *d = g.d1;
        *f = g.f1;
        return;
    }
    if (a < c->a_sd) {
        eh99_growth_f(c, k, a, d, f);
        return;
    }
    const ct_growth2d *g = use_gr_tab ? &c->sd_gr : &c->sd;
    double lk = log(k > 0 ? k : K_MIN_2D);
    lk = lk < g->lnk_min ? g->lnk_min : (lk > g->lnk_max ? g->lnk_max : lk);
    double la = log(a);
    la = la > g->lna_max ? g->lna_max : la;
    *d = exp(gsl_spline2d_eval(g->lnd, lk, la, NULL, NULL));
    *f = gsl_spline2d_eval(g->f, lk, la, NULL, NULL);
}

/* ------------------------------------------------------------ spectra */

double ct_cosmo_transfer_eh98(const ct_cosmo *c, double k)
{
    return ct_eh98_transfer(&c->eh98, k_mpc(c, k), c->p.transfer != CT_LIN_EH98_NOWIGGLE);
}

double ct_cosmo_transfer_eh99_master(const ct_cosmo *c, double k)
{
    return ct_eh99_master(&c->eh99, k_mpc(c, k), c->eh98.omhh, c->eh98.theta);
}

/* Transfer shape: EH98 times the EH99 neutrino master-function ratio. For a table,
 * the shape implied by P_tab / k^ns (normalised to 1 at the first k). */
static double t_shape(const ct_cosmo *c, double k)
{
    if (c->p.transfer == CT_LIN_TABLE) {
        double lk = log(k), lp;
        double lk0 = log(c->tab_k[0]), lk1 = log(c->tab_k[c->tab_n - 1]);
        if (lk < lk0)
            lp = gsl_spline_eval(c->tab_lnp, lk0, NULL) + c->tab_slope_lo * (lk - lk0);
        else if (lk > lk1)
            lp = gsl_spline_eval(c->tab_lnp, lk1, NULL) + c->tab_slope_hi * (lk - lk1);
        else
            lp = gsl_spline_eval(c->tab_lnp, lk, NULL);
        return sqrt(exp(lp - c->p.n_s * lk) / c->tab_t0);
    }
    double t = ct_cosmo_transfer_eh98(c, k);
    if (c->fnu > 0) {
        double km = k_mpc(c, k);
        t *= ct_eh99_master(&c->eh99, km, c->eh98.omhh, c->eh98.theta) /
             ct_eh99_master(&c->eh99_0, km, c->eh98.omhh, c->eh98.theta);
    }
    return t;
}

/* P = amp k^ns T^2 G^2 with G the growth of the species (total: D_cb * source). For
 * a table in GR, T^2 k^ns G_m(k,1)^2 reproduces the table shape exactly. */
static double growth_species(const ct_cosmo *c, double k, double a, ct_species sp, int gr)
{
    double d, f;
    ct_cosmo_growth_k(c, k, a, gr, &d, &f);
    if (sp == CT_SPECIES_TOTAL)
        d *= ct_cosmo_nu_source(c, k, a);
    return d;
}

static double pk_any(const ct_cosmo *c, double k, double a, ct_species sp, int gr)
{
    if (!(k > 0))
        return 0.0;
    double t = t_shape(c, k);
    double g = growth_species(c, k, a, sp, gr);
    if (c->p.transfer == CT_LIN_TABLE)
        g /= growth_species(c, k, 1.0, CT_SPECIES_TOTAL, 1);
    return c->amp * pow(k, c->p.n_s) * t * t * g * g;
}

double ct_cosmo_pk(const ct_cosmo *c, double k, double a, ct_species sp)
{
    return pk_any(c, k, a, sp, 0);
}

double ct_cosmo_pk_gr(const ct_cosmo *c, double k, double a, ct_species sp)
{
    return pk_any(c, k, a, sp, 1);
}

typedef struct {
    const ct_cosmo *c;
    double r, a;
    ct_species sp;
    int gr;
} sig_par;

static double sigma_integrand(double lnk, void *vp)
{
    const sig_par *s = vp;
    double k = exp(lnk), x = k * s->r;
    double w = x < 1e-3 ? 1.0 - x * x / 10.0 : 3.0 * (sin(x) - x * cos(x)) / (x * x * x);
    return k * k * k * pk_any(s->c, k, s->a, s->sp, s->gr) * w * w / (2.0 * M_PI * M_PI);
}

double ct_cosmo_sigma_r(const ct_cosmo *c, double r, double a, ct_species sp, int gr)
{
    sig_par sp_ = {c, r, a, sp, gr};
    gsl_function fn = {sigma_integrand, &sp_};
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(4000);
    if (!ws)
        return NAN;
    double res = 0, err = 0, total = 0;
    /* split at decades so the oscillating tail and the BAO are resolved */
    for (double lo = log(1e-6); lo < log(1e3) - 1e-9; lo += log(10.0)) {
        gsl_integration_qag(&fn, lo, lo + log(10.0), 0.0, 1e-11, 4000, GSL_INTEG_GAUSS61, ws,
                            &res, &err);
        total += res;
    }
    gsl_integration_workspace_free(ws);
    return sqrt(total);
}

double ct_cosmo_sigma8(const ct_cosmo *c)
{
    return ct_cosmo_sigma_r(c, 8.0, 1.0, CT_SPECIES_TOTAL, 1);
}

double ct_cosmo_alpha_phi(const ct_cosmo *c, double k)
{
    double h0 = 1.0 / CT_HUBBLE_MPCH; /* H0/c in h/Mpc */
    double g = growth_species(c, k, 1.0, CT_SPECIES_TOTAL, 1);
    return 2.0 / 3.0 * k * k * t_shape(c, k) * g * c->d1raw_1 / (c->om * h0 * h0);
}

double ct_cosmo_pk_phi(const ct_cosmo *c, double k)
{
    double al = ct_cosmo_alpha_phi(c, k);
    return al > 0 ? ct_cosmo_pk_gr(c, k, 1.0, CT_SPECIES_TOTAL) / (al * al) : 0.0;
}

/* ------------------------------------------------------------ create/destroy */

static ct_status check_params(const ct_cosmo_params *p)
{
#define RANGE(v, lo, hi, name)                                                      \
    if (!((v) >= (lo) && (v) <= (hi)))                                              \
        CT_FAIL(CT_ERR_RANGE, "cosmology: %s = %g outside [%g, %g]", name, (double)(v), \
                (double)(lo), (double)(hi));
    RANGE(p->omega_m, 0.01, 1.0, "omega_m");
    RANGE(p->omega_b, 0.001, p->omega_m, "omega_b");
    RANGE(p->h, 0.2, 1.5, "h");
    RANGE(p->n_s, 0.5, 1.5, "n_s");
    RANGE(p->m_nu, 0.0, 5.0, "m_nu");
    RANGE(p->w, -3.0, -1.0 / 3.0, "w");
    RANGE(p->f_r0, -1e-2, 0.0, "f_r0");
    RANGE(p->fr_n, 1, 4, "fr_n");
    RANGE(p->t_cmb, 1.0, 5.0, "t_cmb");
    RANGE(p->n_nu, 0, 10, "n_nu");
    if (p->m_nu > 0 && p->n_nu < 1)
        CT_FAIL(CT_ERR_RANGE, "cosmology: m_nu = %g eV but n_nu = 0: a neutrino mass needs "
                "massive neutrino species", p->m_nu);
    if (p->sigma8 <= 0)
        RANGE(p->a_s, 1e-12, 1e-6, "a_s");
    if (p->sigma8 > 0)
        RANGE(p->sigma8, 0.05, 3.0, "sigma8");
    /* CDM must remain: the fits need f_c > 0 (Quijote's tables keep f_c >= 0.088) */
    double onu = p->m_nu / 93.14 / (p->h * p->h);
    if (p->omega_m - p->omega_b - onu < 0.01 * p->omega_m)
        CT_FAIL(CT_ERR_RANGE, "cosmology: omega_b + omega_nu = %g + %g leaves less than 1%% "
                "of omega_m = %g as CDM", p->omega_b, onu, p->omega_m);
    if (p->transfer == CT_LIN_TABLE && (!p->table_k || !p->table_p || p->table_n < 4))
        CT_FAIL(CT_ERR_ARG, "cosmology: transfer = table needs a P(k) table of >= 4 rows");
#undef RANGE
    return CT_OK;
}

ct_status ct_cosmo_create(ct_cosmo **out, const ct_cosmo_params *p)
{
    ct_status rc = CT_OK;
    ct_cosmo *c = NULL;
    *out = NULL;
    gsl_set_error_handler_off(); /* the library reports GSL failures, never aborts */
    CT_CHECK(check_params(p));
    CT_CHECK(ct_calloc(&c, 1, sizeof *c, "cosmology"));
    c->p = *p;
    c->p.table_k = c->p.table_p = NULL;
    c->om = p->omega_m;
    c->ode = 1.0 - p->omega_m;
    c->onu = p->m_nu / 93.14 / (p->h * p->h);
    c->fnu = c->onu / c->om;
    c->fcb = 1.0 - c->fnu;
    ct_eh98_init(&c->eh98, p);
    ct_eh99_init(&c->eh99, p, c->fnu);
    ct_eh99_init(&c->eh99_0, p, 0.0);
    CT_CHECK_GOTO(rc, solve_growth(c));
    if (p->transfer == CT_LIN_TABLE) {
        size_t n = p->table_n;
        double *lk = NULL, *lp = NULL;
        c->tab_n = n;
        CT_CHECK_GOTO(rc, ct_calloc(&c->tab_k, n, sizeof(double), "P(k) table"));
        CT_CHECK_GOTO(rc, ct_calloc(&c->tab_p, n, sizeof(double), "P(k) table"));
        memcpy(c->tab_k, p->table_k, n * sizeof(double));
        memcpy(c->tab_p, p->table_p, n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            if (!(c->tab_k[i] > 0) || !(c->tab_p[i] > 0) || (i && !(c->tab_k[i] > c->tab_k[i - 1])))
                CT_FAIL_GOTO(rc, CT_ERR_ARG, "P(k) table row %zu: k must increase, k and P > 0",
                             i);
        }
        /* reuse the arrays as logs for the spline */
        lk = malloc(n * sizeof *lk);
        lp = malloc(n * sizeof *lp);
        c->tab_lnp = gsl_spline_alloc(gsl_interp_cspline, n);
        if (!lk || !lp || !c->tab_lnp) {
            free(lk);
            free(lp);
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "P(k) table: out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            lk[i] = log(c->tab_k[i]);
            lp[i] = log(c->tab_p[i]);
        }
        gsl_spline_init(c->tab_lnp, lk, lp, n);
        c->tab_slope_lo = p->n_s; /* primordial slope below the table */
        c->tab_slope_hi = (lp[n - 1] - lp[n - 2]) / (lk[n - 1] - lk[n - 2]);
        c->tab_t0 = exp(lp[0] - p->n_s * lk[0]);
        free(lk);
        free(lp);
    }
    c->scale_dep = (c->fnu > 0) || (p->f_r0 != 0.0);
    c->a_sd = A_SD_START;
    if (c->scale_dep) {
        CT_CHECK_GOTO(rc, build_growth2d(c, &c->sd, 0));
        if (p->f_r0 != 0.0 && c->fnu > 0) {
            CT_CHECK_GOTO(rc, build_growth2d(c, &c->sd_gr, 1));
            c->has_sd_gr = 1;
        }
    }
    /* a table is taken as absolute: T^2 k^ns = P_tab / t0 */
    c->amp = p->transfer == CT_LIN_TABLE ? c->tab_t0 : 1.0;
    if (p->sigma8 > 0) {
        double s = ct_cosmo_sigma8(c);
        if (!(s > 0) || !isfinite(s))
            CT_FAIL_GOTO(rc, CT_ERR_NUMERIC, "sigma8 integral failed (%g)", s);
        c->amp *= (p->sigma8 / s) * (p->sigma8 / s);
    } else if (p->transfer != CT_LIN_TABLE) {
        double h0 = 1.0 / CT_HUBBLE_MPCH, kp = p->k_pivot / p->h;
        double fac = 0.4 * c->d1raw_1 / (c->om * h0 * h0);
        c->amp = 2.0 * M_PI * M_PI * p->a_s * pow(kp, 1.0 - p->n_s) * fac * fac;
    }
    *out = c;
    return CT_OK;
fail:
    ct_cosmo_destroy(&c);
    return rc;
}

void ct_cosmo_destroy(ct_cosmo **cp)
{
    if (!cp || !*cp)
        return;
    ct_cosmo *c = *cp;
    if (c->lnd1)
        gsl_spline_free(c->lnd1);
    if (c->f1)
        gsl_spline_free(c->f1);
    if (c->lnd2)
        gsl_spline_free(c->lnd2);
    if (c->f2)
        gsl_spline_free(c->f2);
    if (c->tab_lnp)
        gsl_spline_free(c->tab_lnp);
    growth2d_free(&c->sd);
    growth2d_free(&c->sd_gr);
    free(c->tab_k);
    free(c->tab_p);
    free(c);
    *cp = NULL;
}
