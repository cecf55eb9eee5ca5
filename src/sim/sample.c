/* Parameter sampling (Sobol, Latin hypercube), Quijote parameter tables and the
 * parameter set of a suite. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_qrng.h>

#include "cosmotl/sim.h"

ct_status ct_sample_sobol(int d, int64_t n, int64_t skip, double *out)
{
    if (d < 1 || d > 40)
        CT_FAIL(CT_ERR_ARG, "Sobol sampling: dimension %d outside 1..40", d);
    if (n < 0 || skip < 0)
        CT_FAIL(CT_ERR_ARG, "Sobol sampling: negative count");
    gsl_qrng *q = gsl_qrng_alloc(gsl_qrng_sobol, (unsigned)d);
    if (!q)
        CT_FAIL(CT_ERR_MEMORY, "Sobol sampling: cannot allocate the generator");
    double tmp[40];
    for (int64_t i = 0; i < skip; i++)
        gsl_qrng_get(q, tmp);
    for (int64_t i = 0; i < n; i++)
        gsl_qrng_get(q, out + i * d);
    gsl_qrng_free(q);
    return CT_OK;
}

ct_status ct_sample_lhs(int d, int64_t n, uint64_t seed, double *out)
{
    if (d < 1 || n < 0)
        CT_FAIL(CT_ERR_ARG, "Latin hypercube: bad shape %d x %lld", d, (long long)n);
    int64_t *perm = NULL;
    CT_CHECK(ct_calloc(&perm, n > 0 ? (size_t)n : 1, sizeof *perm, "Latin hypercube"));
    for (int j = 0; j < d; j++) {
        ct_rng r;
        ct_rng_init(&r, seed, 0x4c48530000000000ULL + (uint64_t)j, 0); /* "LHS" stream per dim */
        for (int64_t i = 0; i < n; i++)
            perm[i] = i;
        ct_rng_shuffle(&r, perm, n);
        for (int64_t i = 0; i < n; i++)
            out[i * d + j] = ((double)perm[i] + ct_rng_uniform(&r)) / (double)n;
    }
    ct_free(&perm);
    return CT_OK;
}

/* ------------------------------------------------------------ names */

static const char *const param_names[CT_P_COUNT] = {"Omega_m", "Omega_b", "h",   "n_s", "sigma_8",
                                                    "M_nu",    "w",       "f_R0", "f_NL"};

const char *ct_param_name(ct_param_id id)
{
    return (id >= 0 && id < CT_P_COUNT) ? param_names[id] : "?";
}

const char *ct_param_canonical(const char *name)
{
    static const struct {
        const char *alias, *canon;
    } map[] = {
        {"Omega_m", "Omega_m"},   {"Omega_M", "Omega_m"},   {"Om", "Omega_m"},
        {"Omega_b", "Omega_b"},   {"Ob", "Omega_b"},        {"h", "h"},
        {"n_s", "n_s"},           {"ns", "n_s"},            {"sigma_8", "sigma_8"},
        {"s8", "sigma_8"},        {"s8(LCDM)", "sigma_8"},  {"sigma8", "sigma_8"},
        {"M_nu", "M_nu"},         {"m_nu", "M_nu"},         {"Mnu", "M_nu"},
        {"w", "w"},               {"w0", "w"},              {"f_R0", "f_R0"},
        {"fR0", "f_R0"},          {"f_NL", "f_NL"},         {"fNL", "f_NL"},
        {"f_NL_local", "f_NL"},   {"f_NL_equilateral", "f_NL"},
        {"f_NL_orthogonal", "f_NL"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(name, map[i].alias))
            return map[i].canon;
    return NULL;
}

/* ------------------------------------------------------------ tables */

/* ------------------------------------------------------------ suite parameters */

void ct_suite_settings_defaults(ct_suite_settings *s)
{
    memset(s, 0, sizeof *s);
    s->nsims = 1;
    s->sampling = CT_SAMPLING_SOBOL;
    ct_cosmo_params_defaults(&s->cosmo);
    const ct_cosmo_params *p = &s->cosmo;
    double fid[CT_P_COUNT] = {p->omega_m, p->omega_b, p->h, p->n_s, p->sigma8, 0.0, -1.0, 0.0, 0.0};
    for (int i = 0; i < CT_P_COUNT; i++) {
        s->lo[i] = s->hi[i] = fid[i];
        s->write[i] = i < CT_P_M_NU;
    }
    s->sample_seed = 1;
    s->seed = 1;
    ct_sim_settings_defaults(&s->sim);
}

ct_status ct_suite_params(const ct_suite_settings *s, double **values)
{
    ct_status rc = CT_OK;
    double *v = NULL, *u = NULL;
    ct_param_table t = {0};
    int64_t n = s->nsims;
    *values = NULL;
    if (n < 1)
        CT_FAIL(CT_ERR_ARG, "suite: n_sims = %lld must be >= 1", (long long)n);
    CT_CHECK_GOTO(rc, ct_calloc(&v, (size_t)n * CT_P_COUNT, sizeof *v, "suite parameters"));
    int vary[CT_P_COUNT], nvary = 0;
    for (int j = 0; j < CT_P_COUNT; j++) {
        if (s->hi[j] < s->lo[j])
            CT_FAIL_GOTO(rc, CT_ERR_RANGE, "suite: range of %s is empty (%g > %g)",
                         ct_param_name(j), s->lo[j], s->hi[j]);
        if (s->hi[j] > s->lo[j])
            vary[nvary++] = j;
        for (int64_t i = 0; i < n; i++)
            v[i * CT_P_COUNT + j] = s->lo[j];
    }
    if (s->sampling == CT_SAMPLING_TABLE) {
        if (!s->table || !*s->table)
            CT_FAIL_GOTO(rc, CT_ERR_ARG, "suite: sampling = table needs a table path");
        CT_CHECK_GOTO(rc, ct_param_table_read(s->table, &t));
        if (!t.named)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: no '# name ...' header line names the %d "
                         "columns", s->table, t.first_data_line, t.ncol);
        if (t.nrow < n)
            CT_FAIL_GOTO(rc, CT_ERR_RANGE, "%s: %lld rows, the suite asks for %lld simulations",
                         s->table, (long long)t.nrow, (long long)n);
        for (int c = 0; c < t.ncol; c++) {
            const char *canon = ct_param_canonical(t.names[c]);
            if (!canon)
                continue; /* index, s8(MG), A_s: derived, not inputs */
            int j = 0;
            while (j < CT_P_COUNT && strcmp(canon, ct_param_name(j)))
                j++;
            for (int64_t i = 0; i < n; i++)
                v[i * CT_P_COUNT + j] = t.v[i * t.ncol + c];
        }
    } else if (s->sampling != CT_SAMPLING_FIXED && nvary > 0) {
        CT_CHECK_GOTO(rc, ct_calloc(&u, (size_t)n * nvary, sizeof *u, "suite samples"));
        if (s->sampling == CT_SAMPLING_SOBOL)
            CT_CHECK_GOTO(rc, ct_sample_sobol(nvary, n, s->sobol_skip, u));
        else
            CT_CHECK_GOTO(rc, ct_sample_lhs(nvary, n, s->sample_seed, u));
        for (int64_t i = 0; i < n; i++)
            for (int q = 0; q < nvary; q++) {
                int j = vary[q];
                v[i * CT_P_COUNT + j] = s->lo[j] + u[i * nvary + q] * (s->hi[j] - s->lo[j]);
            }
    }
    ct_free(&u);
    ct_param_table_free(&t);
    *values = v;
    return CT_OK;
fail:
    ct_free(&u);
    ct_free(&v);
    ct_param_table_free(&t);
    return rc;
}
