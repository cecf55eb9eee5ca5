/* report.md: the study's tables and a point-by-point comparison with the
 * published findings (Krishnaraj et al. 2025). Every verdict is computed from the numbers
 * of this run and printed next to them; nothing is asserted that the table does
 * not show. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study_internal.h"

static const char *sname(const ct_study_ctx *c, int t)
{
    return t < 0 ? c->s->pretrain.name : c->s->targets[t].name;
}

static const ct_study_summary *get(const ct_study_results *r, int t, int stat, int arch,
                                   int64_t b, const char *param)
{
    for (int i = 0; i < r->nsum; i++) {
        const ct_study_summary *s = &r->sum[i];
        if (s->target == t && s->stat == stat && (int)s->arch == arch && s->budget == b &&
            !strcmp(s->param, param))
            return s;
    }
    return NULL;
}

static int is_any(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list))
            return 1;
    return 0;
}

static const char *const SIGMA8[] = {"sigma_8", "sigma8", "s8", NULL};
static const char *const MNU[] = {"M_nu", "Mnu", NULL};
static const char *const FR0[] = {"f_R0", "fR0", NULL};
static const char *const FNL_EQ[] = {"fNL_eq", "f_NL_equilateral", "fNL_equil", NULL};
static const char *const FNL_LOC[] = {"fNL_loc", "f_NL_local", "fNL_local", NULL};

static const char *stat_base(const ct_study_ctx *c, int stat) { return c->s->stats[stat]; }

static void fmt_savings(const ct_study_summary *s, char *buf, size_t cap)
{
    if (!s || isnan(s->savings))
        snprintf(buf, cap, "–");
    else if (s->savings_bound > 0)
        snprintf(buf, cap, "≥ %.1f", s->savings);
    else if (s->savings_bound < 0)
        snprintf(buf, cap, "≤ %.2f", s->savings);
    else
        snprintf(buf, cap, "%.1f", s->savings);
}

/* Median savings factor of (t, stat, arch, param) over the smaller half of the
 * budgets; *nlow counts lower bounds among them. */
static double small_budget_savings(const ct_study_ctx *c, const ct_study_results *r, int t,
                                   int stat, int arch, const char *param, int *nval, int *nlow,
                                   int *nup)
{
    double v[CT_STUDY_MAX_BUDGETS];
    int n = 0;
    *nlow = *nup = 0;
    int half = (c->nbudget[t] + 1) / 2;
    for (int b = 0; b < half; b++) {
        const ct_study_summary *s = get(r, t, stat, arch, c->budgets[t][b], param);
        if (s && !isnan(s->savings)) {
            v[n++] = s->savings;
            *nlow += s->savings_bound > 0;
            *nup += s->savings_bound < 0;
        }
    }
    *nval = n;
    if (n == 0)
        return NAN;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (v[j] < v[i]) {
                double x = v[i];
                v[i] = v[j];
                v[j] = x;
            }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* transfer vs scratch over budgets and parameters: counts of better / worse
 * beyond the seed spread */
static void tally(const ct_study_ctx *c, const ct_study_results *r, int t, int stat, int arch,
                  const char *only_param, int small_only, int *better, int *worse, int *total)
{
    *better = *worse = *total = 0;
    int nb = small_only ? (c->nbudget[t] + 1) / 2 : c->nbudget[t];
    for (int p = 0; p < c->s->targets[t].nparam; p++) {
        const char *param = c->s->targets[t].params[p];
        if (only_param && strcmp(param, only_param))
            continue;
        for (int b = 0; b < nb; b++) {
            const ct_study_summary *s = get(r, t, stat, arch, c->budgets[t][b], param);
            if (!s)
                continue;
            (*total)++;
            *better += s->better;
            *worse += s->negative;
        }
    }
}

/* relative error of an architecture to scratch, averaged (geometric mean of
 * MSE ratios) over parameters and budgets */
static double mean_ratio(const ct_study_ctx *c, const ct_study_results *r, int t, int stat,
                         int arch)
{
    double s = 0;
    int n = 0;
    for (int p = 0; p < c->s->targets[t].nparam; p++)
        for (int b = 0; b < c->nbudget[t]; b++) {
            const char *param = c->s->targets[t].params[p];
            const ct_study_summary *a = get(r, t, stat, arch, c->budgets[t][b], param);
            const ct_study_summary *z =
                get(r, t, stat, CT_ARCH_SCRATCH, c->budgets[t][b], param);
            if (a && z && a->mse_mean > 0 && z->mse_mean > 0) {
                s += log(a->mse_mean / z->mse_mean);
                n++;
            }
        }
    return n ? exp(s / n) : NAN;
}

static const char *find_param(const ct_study_ctx *c, int t, const char *const *names)
{
    for (int p = 0; p < c->s->targets[t].nparam; p++)
        if (is_any(c->s->targets[t].params[p], names))
            return c->s->targets[t].params[p];
    return NULL;
}

/* PNG targets: an explicit fNL_eq / fNL_loc parameter, or a generic f_NL
 * whose kind the suite's name tells (EQ/equil, LC/loc) */
static const char *png_param(const ct_study_ctx *c, int t, int equilateral)
{
    static const char *const FNL[] = {"f_NL", "fNL", NULL};
    const char *p = find_param(c, t, equilateral ? FNL_EQ : FNL_LOC);
    if (p)
        return p;
    p = find_param(c, t, FNL);
    if (!p)
        return NULL;
    const char *n = c->s->targets[t].name;
    int eq = strstr(n, "EQ") || strstr(n, "eq") || strstr(n, "Eq");
    int loc = strstr(n, "LC") || strstr(n, "loc") || strstr(n, "Loc");
    return (equilateral ? eq && !loc : loc && !eq) ? p : NULL;
}

static int find_stat(const ct_study_ctx *c, const char *name)
{
    for (int i = 0; i < c->s->nstats; i++)
        if (!strcmp(c->s->stats[i], name))
            return i;
    return -1;
}

/* |phi|-weighted mean k of one output's attribution map, and the share of the
 * attribution from k above the median bin k */
static void shap_scale(const ct_study_analysis *a, const double *map, int o, double *kmean,
                       double *small_share, double *dir_small, double *dir_large)
{
    double sw = 0, sk = 0, ss = 0, ds = 0, dl = 0, ws = 0, wl = 0;
    double kmed = a->k[a->nin / 2];
    const double *dirmap = map == a->shap_pre_abs ? a->shap_pre_dir : a->shap_ft_dir;
    for (int i = 0; i < a->nin; i++) {
        double w = map[o * a->nin + i];
        sw += w;
        sk += w * a->k[i];
        if (a->k[i] > kmed) {
            ss += w;
            ds += w * dirmap[o * a->nin + i];
            ws += w;
        } else {
            dl += w * dirmap[o * a->nin + i];
            wl += w;
        }
    }
    *kmean = sw > 0 ? sk / sw : NAN;
    *small_share = sw > 0 ? ss / sw : NAN;
    *dir_small = ws > 0 ? ds / ws : NAN;
    *dir_large = wl > 0 ? dl / wl : NAN;
}

static int out_index(char names[][CT_NN_NAME_MAX], int n, const char *const *want)
{
    for (int i = 0; i < n; i++)
        if (is_any(names[i], want))
            return i;
    return -1;
}

static void write_tables(FILE *f, const ct_study_ctx *c, const ct_study_results *r)
{
    const ct_study_settings *s = c->s;
    /* pretraining */
    int have_pre = 0;
    for (int i = 0; i < r->nsum; i++)
        have_pre |= r->sum[i].target < 0;
    if (have_pre) {
        fprintf(f, "## Pretraining on %s (test set of %lld simulations)\n\n", s->pretrain.name,
                (long long)c->pre.split.ntest);
        fprintf(f, "| statistic | network | parameter | RMSE | R² |\n|---|---|---|---|---|\n");
        for (int i = 0; i < r->nsum; i++) {
            const ct_study_summary *x = &r->sum[i];
            if (x->target < 0)
                fprintf(f, "| %s | %s | %s | %.4g | %.3f |\n", stat_base(c, x->stat),
                        x->arch == CT_ARCH_BOTTLENECK ? "bottleneck" : "pretraining", x->param,
                        x->rmse_mean, x->r2_mean);
        }
        fprintf(f, "\n");
    }
    for (int t = 0; t < s->ntargets; t++)
        for (int si = 0; si < s->nstats; si++) {
            fprintf(f, "## %s with %s (test set of %lld simulations)\n\n", s->targets[t].name,
                    s->stats[si], (long long)c->target[t].split.ntest);
            fprintf(f, "Test RMSE (physical units), mean ± standard deviation over %d seeds; "
                       "R² in brackets. **bold**: better than scratch beyond the seed spread; "
                       "*(neg)*: negative transfer (worse than scratch beyond the spread).\n\n",
                    s->nseeds);
            for (int p = 0; p < s->targets[t].nparam; p++) {
                const char *param = s->targets[t].params[p];
                fprintf(f, "### %s\n\n| budget |", param);
                for (int a = 0; a < CT_ARCH_COUNT; a++)
                    if (s->arch[a])
                        fprintf(f, " %s |", ct_study_arch_name(a));
                fprintf(f, "\n|---|");
                for (int a = 0; a < CT_ARCH_COUNT; a++)
                    if (s->arch[a])
                        fprintf(f, "---|");
                fprintf(f, "\n");
                for (int b = 0; b < c->nbudget[t]; b++) {
                    fprintf(f, "| %lld |", (long long)c->budgets[t][b]);
                    for (int a = 0; a < CT_ARCH_COUNT; a++) {
                        if (!s->arch[a])
                            continue;
                        const ct_study_summary *x = get(r, t, si, a, c->budgets[t][b], param);
                        if (!x) {
                            fprintf(f, " – |");
                            continue;
                        }
                        fprintf(f, " %s%.4g ± %.2g%s (%.3f)%s |", x->better ? "**" : "",
                                x->rmse_mean, x->rmse_sd, x->better ? "**" : "", x->r2_mean,
                                x->negative ? " *(neg)*" : "");
                    }
                    fprintf(f, "\n");
                }
                fprintf(f, "\nSimulation-savings factor (scratch budget reaching the same "
                           "mean MSE ÷ budget; ≥: transfer beats scratch at every budget, "
                           "≤: scratch at the smallest budget is already better):\n\n"
                           "| budget |");
                for (int a = 0; a < CT_ARCH_COUNT; a++)
                    if (s->arch[a] && a != CT_ARCH_SCRATCH)
                        fprintf(f, " %s |", ct_study_arch_name(a));
                fprintf(f, "\n|---|");
                for (int a = 0; a < CT_ARCH_COUNT; a++)
                    if (s->arch[a] && a != CT_ARCH_SCRATCH)
                        fprintf(f, "---|");
                fprintf(f, "\n");
                for (int b = 0; b < c->nbudget[t]; b++) {
                    fprintf(f, "| %lld |", (long long)c->budgets[t][b]);
                    for (int a = 0; a < CT_ARCH_COUNT; a++) {
                        if (!s->arch[a] || a == CT_ARCH_SCRATCH)
                            continue;
                        char buf[32];
                        fmt_savings(get(r, t, si, a, c->budgets[t][b], param), buf, sizeof buf);
                        fprintf(f, " %s |", buf);
                    }
                    fprintf(f, "\n");
                }
                fprintf(f, "\n");
            }
        }
}

static void write_findings(FILE *f, const ct_study_ctx *c, const ct_study_results *r)
{
    const ct_study_settings *s = c->s;
    fprintf(f, "## Summary of this run\n\n");
    if (!s->arch[CT_ARCH_SCRATCH]) {
        fprintf(f, "No scratch baseline was run, so transfer cannot be judged.\n\n");
        return;
    }
    fprintf(f, "Per parameter, a transfer architecture or baseline counts as *better* "
               "(*worse*) than scratch at small budgets when its mean test MSE is lower "
               "(higher) than scratch's beyond the seed spread (mean ± std intervals do not "
               "overlap) at a majority of the smaller half of the budgets and worse (better) "
               "at none of them.\n\n");
    for (int t = 0; t < s->ntargets; t++)
        for (int si = 0; si < s->nstats; si++)
            for (int a = 0; a < CT_ARCH_COUNT; a++) {
                if (!s->arch[a] || a == CT_ARCH_SCRATCH)
                    continue;
                char better[1024] = "", worse[1024] = "", same[1024] = "";
                int nbetter = 0, nworse = 0, nparam = s->targets[t].nparam;
                for (int p = 0; p < nparam; p++) {
                    const char *param = s->targets[t].params[p];
                    int bs, ws, ts;
                    tally(c, r, t, si, a, param, 1, &bs, &ws, &ts);
                    char *dst = same;
                    if (ts > 0 && 2 * bs > ts && ws == 0)
                        dst = better, nbetter++;
                    else if (ts > 0 && 2 * ws > ts && bs == 0)
                        dst = worse, nworse++;
                    size_t l = strlen(dst);
                    snprintf(dst + l, 1024 - l, "%s%s", l ? ", " : "", param);
                }
                int ba, wa, ta;
                tally(c, r, t, si, a, NULL, 0, &ba, &wa, &ta);
                const char *verdict = nbetter == nparam ? "**beats scratch at small budgets for "
                                                          "every parameter**"
                                      : nworse == nparam ? "**worse than scratch at small "
                                                           "budgets for every parameter**"
                                      : nbetter > 0 && nworse == 0 ? "beats scratch at small "
                                                                     "budgets for some parameters"
                                      : nworse > 0 && nbetter == 0 ? "worse than scratch at "
                                                                     "small budgets for some "
                                                                     "parameters"
                                      : nbetter > 0 ? "mixed"
                                                    : "no clear difference from scratch";
                fprintf(f,
                        "- %s, %s, %s: %s. Better than scratch at small budgets: %s; worse: %s; "
                        "no clear difference: %s. Over all budgets and parameters better in "
                        "%d/%d cells, worse in %d/%d; MSE ÷ scratch MSE (geometric mean) "
                        "%.2f.\n",
                        s->targets[t].name, s->stats[si], ct_study_arch_name(a), verdict,
                        better[0] ? better : "none", worse[0] ? worse : "none",
                        same[0] ? same : "none", ba, ta, wa, ta, mean_ratio(c, r, t, si, a));
            }
    fprintf(f, "\n");
}

/* best mean R² of a parameter over every architecture and baseline at the
 * largest budget: how much the statistic tells about it at all */
static double best_r2(const ct_study_ctx *c, const ct_study_results *r, int t, int stat,
                      const char *param)
{
    double best = -INFINITY;
    int64_t b = c->budgets[t][c->nbudget[t] - 1];
    for (int a = 0; a < CT_ARCH_COUNT; a++) {
        const ct_study_summary *x = get(r, t, stat, a, b, param);
        if (x && !isnan(x->r2_mean) && x->r2_mean > best)
            best = x->r2_mean;
    }
    return best;
}

static void savings_point(FILE *f, const ct_study_ctx *c, const ct_study_results *r,
                          const char *const *param_names, const char *what,
                          const char *published, double expect)
{
    int any = 0;
    for (int t = 0; t < c->s->ntargets; t++) {
        const char *param = find_param(c, t, param_names);
        if (!param)
            continue;
        for (int si = 0; si < c->s->nstats; si++) {
            if (strcmp(c->s->stats[si], "pk") && expect > 0)
                continue; /* the published point is about P(k) */
            double br = best_r2(c, r, t, si, param);
            if (isfinite(br))
                fprintf(f, "- %s — %s, %s: the best mean test R² of %s at the largest budget "
                           "(%lld), over every architecture and baseline, is %.2f%s\n",
                        what, c->s->targets[t].name, c->s->stats[si], param,
                        (long long)c->budgets[t][c->nbudget[t] - 1], br,
                        br < 0.3 ? ": the statistic constrains it only weakly here, so its "
                                   "savings factors compare errors close to the prior width "
                                   "and are dominated by noise."
                                 : ".");
            for (int a = 0; a <= CT_ARCH_BOTTLENECK; a++) {
                if (!c->s->arch[a] || !c->s->arch[CT_ARCH_SCRATCH])
                    continue;
                int n, nlow, nup;
                double med = small_budget_savings(c, r, t, si, a, param, &n, &nlow, &nup);
                if (n == 0)
                    continue;
                any = 1;
                const char *v = med >= 0.5 * expect ? "consistent"
                                : med >= 2.0        ? "partly consistent (smaller gain)"
                                : med > 1.0         ? "not reproduced (gain below 2×)"
                                                    : "not reproduced (no gain)";
                if (expect <= 0)
                    v = med > 1.5 ? "gain" : "no clear gain";
                /* the same over every parameter of the target, for context */
                double all[CT_STUDY_MAX_PARAMS];
                int na = 0;
                for (int q = 0; q < c->s->targets[t].nparam; q++) {
                    int n2, l2, u2;
                    double v2 = small_budget_savings(c, r, t, si, a, c->s->targets[t].params[q],
                                                     &n2, &l2, &u2);
                    if (n2 > 0)
                        all[na++] = v2;
                }
                for (int i = 0; i < na; i++)
                    for (int j = i + 1; j < na; j++)
                        if (all[j] < all[i]) {
                            double x = all[i];
                            all[i] = all[j];
                            all[j] = x;
                        }
                double allmed = na == 0      ? NAN
                                : na % 2 ? all[na / 2]
                                         : 0.5 * (all[na / 2 - 1] + all[na / 2]);
                fprintf(f,
                        "- %s — %s, %s, %s: median savings factor for %s over the smaller "
                        "half of the budgets **%.2g**%s%s → %s. (Median over all %d "
                        "parameters: %.2g.)\n",
                        what, c->s->targets[t].name, c->s->stats[si], ct_study_arch_name(a),
                        param, med,
                        nlow ? " (some values are lower bounds: transfer beat scratch at every "
                               "budget)"
                             : "",
                        nup ? " (some values are upper bounds: scratch at the smallest budget "
                              "was already better)"
                            : "",
                        v, c->s->targets[t].nparam, allmed);
            }
        }
    }
    if (!any)
        fprintf(f, "- %s — published: %s. **Not tested** in this run (no such target, "
                   "statistic or baseline in the configuration).\n",
                what, published);
    else
        fprintf(f, "  Published: %s.\n", published);
}

/* Points 3 and 4: equilateral PNG (every parameter of the target scored, the
 * paper reports consistent gains) and local PNG (f_NL alone, no gain reported). */
static void png_point(FILE *f, const ct_study_ctx *c, const ct_study_results *r, int equil)
{
    const ct_study_settings *s = c->s;
    int found = 0;
    for (int t = 0; t < s->ntargets; t++) {
        const char *p = png_param(c, t, equil);
        if (!p)
            continue;
        for (int si = 0; si < s->nstats; si++)
            for (int a = 0; a <= CT_ARCH_BOTTLENECK; a++) {
                if (!s->arch[a] || !s->arch[CT_ARCH_SCRATCH])
                    continue;
                int b, w, tt;
                tally(c, r, t, si, a, equil ? NULL : p, 0, &b, &w, &tt);
                found = 1;
                if (equil)
                    fprintf(f, "- 3. Equilateral PNG — %s, %s, %s: better than scratch in %d of "
                               "%d cells, worse in %d → %s.\n",
                            s->targets[t].name, s->stats[si], ct_study_arch_name(a), b, tt, w,
                            b > tt / 2 && w == 0 ? "consistent (gains)"
                                                 : "not reproduced (no consistent gain)");
                else
                    fprintf(f, "- 4. Local PNG — %s, %s, %s, %s: better than scratch in %d of "
                               "%d budgets, worse in %d → %s.\n",
                            s->targets[t].name, s->stats[si], ct_study_arch_name(a), p, b, tt,
                            w, b == 0 ? "consistent (no gain)" : "differs (a gain was measured)");
            }
    }
    if (equil)
        fprintf(f, found ? "  Published: consistent gains for equilateral PNG.\n"
                         : "- 3. Equilateral PNG — published: consistent gains. **Not tested** "
                           "in this run.\n");
    else
        fprintf(f, found ? "  Published: no gain for local PNG (ΛCDM parameters fixed there).\n"
                         : "- 4. Local PNG — published: no gain. **Not tested** in this run.\n");
}


/* ---------------------------------------------------------------- verdicts */

/* test MSE of one training (a row of results.csv); NaN if absent */
static double row_mse(const ct_study_results *r, int t, int stat, int arch, int64_t b, int seed,
                      const char *param)
{
    for (int i = 0; i < r->nrows; i++) {
        const ct_study_row *w = &r->rows[i];
        if (w->target == t && w->stat == stat && (int)w->arch == arch && w->budget == b &&
            w->seed == seed && !strcmp(w->param, param))
            return w->mse;
    }
    return NAN;
}

/* per seed: log of the median over the smaller half of the budgets of the
 * savings factor computed against that seed's own scratch curve (bounds count
 * as their value) */
static int seed_log_savings(const ct_study_ctx *c, const ct_study_results *r, int t, int stat,
                            int arch, const char *param, double *x)
{
    int nb = c->nbudget[t], half = (nb + 1) / 2, n = 0;
    for (int sd = 0; sd < c->s->nseeds; sd++) {
        double bud[CT_STUDY_MAX_BUDGETS], es[CT_STUDY_MAX_BUDGETS], v[CT_STUDY_MAX_BUDGETS];
        int ok = 1, nv = 0;
        for (int b = 0; b < nb; b++) {
            bud[b] = (double)c->budgets[t][b];
            es[b] = row_mse(r, t, stat, CT_ARCH_SCRATCH, c->budgets[t][b], sd, param);
            ok &= isfinite(es[b]) && es[b] > 0;
        }
        for (int b = 0; b < half && ok; b++) {
            double et = row_mse(r, t, stat, arch, c->budgets[t][b], sd, param);
            int bound;
            if (isfinite(et) && et > 0)
                v[nv++] = ct_savings_factor(bud, es, nb, bud[b], et, &bound);
        }
        if (!ok || nv == 0)
            continue;
        for (int i = 0; i < nv; i++)
            for (int j = i + 1; j < nv; j++)
                if (v[j] < v[i]) {
                    double q = v[i];
                    v[i] = v[j];
                    v[j] = q;
                }
        double med = nv % 2 ? v[nv / 2] : 0.5 * (v[nv / 2 - 1] + v[nv / 2]);
        x[n++] = log(med);
    }
    return n;
}

/* per seed: mean over the smaller half of the budgets (and over the given
 * parameters, all of the target's when param is NULL) of log(MSE arch / MSE
 * ref) */
static int seed_log_ratio(const ct_study_ctx *c, const ct_study_results *r, int t, int stat,
                          int arch, int ref, const char *param, double *x)
{
    int half = (c->nbudget[t] + 1) / 2, n = 0;
    for (int sd = 0; sd < c->s->nseeds; sd++) {
        double s = 0;
        int k = 0;
        for (int p = 0; p < c->s->targets[t].nparam; p++) {
            const char *pn = c->s->targets[t].params[p];
            if (param && strcmp(pn, param))
                continue;
            for (int b = 0; b < half; b++) {
                double a = row_mse(r, t, stat, arch, c->budgets[t][b], sd, pn);
                double z = row_mse(r, t, stat, ref, c->budgets[t][b], sd, pn);
                if (isfinite(a) && isfinite(z) && a > 0 && z > 0) {
                    s += log(a / z);
                    k++;
                }
            }
        }
        if (k > 0)
            x[n++] = s / k;
    }
    return n;
}

static double scratch_r2(const ct_study_ctx *c, const ct_study_results *r, int t, int stat,
                         const char *param)
{
    const ct_study_summary *z = get(r, t, stat, CT_ARCH_SCRATCH,
                                    c->budgets[t][c->nbudget[t] - 1], param);
    return z ? z->r2_mean : NAN;
}

typedef struct {
    const char *finding, *claim;
    ct_claim_kind kind;
    const char *const *param; /* NULL: architecture ranking */
    int arch;
    const char *published; /* statistic the claim was published for */
    int png;                /* 1 equilateral, 2 local: the parameter by png_param */
} claim_def;

static int verdict_target(const ct_study_ctx *c, const claim_def *d, const char **param)
{
    for (int t = 0; t < c->s->ntargets; t++) {
        const char *p = d->png ? png_param(c, t, d->png == 1)
                        : d->param ? find_param(c, t, d->param)
                                   : NULL;
        if (p || (!d->param && !d->png)) {
            *param = p;
            return t;
        }
    }
    return -1;
}

static void verdict_row(FILE *f, const ct_study_ctx *c, const ct_study_results *r,
                        const claim_def *d, const char *stname, int *ntoo_small, int *nrows)
{
    const ct_study_settings *s = c->s;
    int stat = find_stat(c, stname);
    const char *param = NULL;
    int t = verdict_target(c, d, &param);
    int published = !strcmp(stname, d->published);
    char measured[512] = "–";
    ct_verdict v = CT_VERDICT_NOT_TESTED;
    double x[CT_STUDY_MAX_SEEDS], m = NAN, lo = NAN, hi = NAN;
    (*nrows)++;
    if (stat >= 0 && t >= 0 && s->arch[CT_ARCH_SCRATCH] && s->arch[d->arch]) {
        int64_t nt = c->target[t].split.ntest;
        if (d->kind == CT_CLAIM_SAVINGS) {
            int n = seed_log_savings(c, r, t, stat, d->arch, param, x);
            v = ct_verdict_decide(d->kind, x, n, scratch_r2(c, r, t, stat, param), nt, &m, &lo,
                                  &hi);
            snprintf(measured, sizeof measured,
                     "%s, %s: savings %.2g× (95%% interval %.2g–%.2g×, %d seeds); scratch R² "
                     "at %lld: %.2f",
                     s->targets[t].name, param, exp(m), exp(lo), exp(hi), n,
                     (long long)c->budgets[t][c->nbudget[t] - 1],
                     scratch_r2(c, r, t, stat, param));
        } else if (param) {
            int n = seed_log_ratio(c, r, t, stat, d->arch, CT_ARCH_SCRATCH, param, x);
            v = ct_verdict_decide(d->kind, x, n, scratch_r2(c, r, t, stat, param), nt, &m, &lo,
                                  &hi);
            snprintf(measured, sizeof measured,
                     "%s, %s: MSE ÷ scratch %.2f (95%% interval %.2f–%.2f, %d seeds); scratch "
                     "R² at %lld: %.2f",
                     s->targets[t].name, param, exp(m), exp(lo), exp(hi), n,
                     (long long)c->budgets[t][c->nbudget[t] - 1],
                     scratch_r2(c, r, t, stat, param));
        } else {
            /* architecture ranking: dummy better than every other transfer
             * architecture and frozen worse than every other, each by the
             * interval of the per-seed difference of mean log MSE ratios */
            double best_r2 = -INFINITY;
            for (int p = 0; p < s->targets[t].nparam; p++) {
                double q = scratch_r2(c, r, t, stat, s->targets[t].params[p]);
                if (q > best_r2)
                    best_r2 = q;
            }
            int yes = 1, no = 0, any = 0;
            size_t l = 0;
            double g[CT_ARCH_COUNT][CT_STUDY_MAX_SEEDS];
            int ng[CT_ARCH_COUNT] = {0};
            for (int a = 0; a < CT_ARCH_SCRATCH; a++)
                if (s->arch[a])
                    ng[a] = seed_log_ratio(c, r, t, stat, a, CT_ARCH_SCRATCH, NULL, g[a]);
            for (int a = 0; a < CT_ARCH_SCRATCH; a++)
                if (ng[a] > 0) {
                    double mm, ll, hh;
                    ct_verdict_interval(g[a], ng[a], &mm, &ll, &hh);
                    l += (size_t)snprintf(measured + l, sizeof measured - l, "%s%s %.2f",
                                          l ? ", " : "MSE ÷ scratch: ", ct_study_arch_name(a),
                                          exp(mm));
                }
            ct_verdict worst = CT_VERDICT_REPRODUCED;
            for (int a = 0; a < CT_ARCH_SCRATCH; a++) {
                if (!ng[a])
                    continue;
                for (int q = 0; q < 2; q++) {
                    int me = q == 0 ? CT_ARCH_DUMMY : CT_ARCH_FROZEN;
                    if (a == me || !ng[me] || ng[me] != ng[a])
                        continue;
                    double dlt[CT_STUDY_MAX_SEEDS];
                    for (int i = 0; i < ng[a]; i++)
                        dlt[i] = q == 0 ? g[me][i] - g[a][i] : g[a][i] - g[me][i];
                    /* claim: dlt < 0 */
                    ct_verdict vv = ct_verdict_decide(CT_CLAIM_BETTER, dlt, ng[a], best_r2, nt,
                                                      &m, &lo, &hi);
                    any = 1;
                    if (vv == CT_VERDICT_TOO_SMALL)
                        worst = vv;
                    else if (worst != CT_VERDICT_TOO_SMALL) {
                        yes &= vv == CT_VERDICT_REPRODUCED;
                        no |= hi < 0 ? 0 : lo > 0;
                    }
                }
            }
            if (!any)
                v = CT_VERDICT_NOT_TESTED;
            else if (worst == CT_VERDICT_TOO_SMALL)
                v = worst;
            else
                v = yes ? CT_VERDICT_REPRODUCED : no ? CT_VERDICT_NOT_REPRODUCED
                                                     : CT_VERDICT_INCONCLUSIVE;
            snprintf(measured + l, sizeof measured - l, " (geometric means, %d seeds)",
                     ng[CT_ARCH_DUMMY]);
        }
    }
    *ntoo_small += v == CT_VERDICT_TOO_SMALL;
    const char *vs = ct_verdict_name(v);
    char vbuf[96];
    if (!published && v != CT_VERDICT_NOT_TESTED) {
        snprintf(vbuf, sizeof vbuf, "%s (%s by the same rule)", ct_verdict_name(CT_VERDICT_NO_CLAIM),
                 vs);
        vs = vbuf;
    }
    fprintf(f, "| %s | %s | %s%s | %s | %s%s%s |\n", d->finding,
            !strcmp(stname, "pk") ? "P(k)" : "marked P(k)", published ? "" : "(published for "
            "P(k) only) ",
            d->claim, measured, v == CT_VERDICT_REPRODUCED ? "**" : "", vs,
            v == CT_VERDICT_REPRODUCED ? "**" : "");
}

/* The first section: one row per published finding and statistic. Returns
 * the number of rows that were too small to decide. */
static int write_verdicts(FILE *f, const ct_study_ctx *c, const ct_study_results *r, int *nrows)
{
    static const claim_def defs[] = {
        {"Mν saves simulations", "≈10× fewer simulations with dummy nodes", CT_CLAIM_SAVINGS, MNU,
         CT_ARCH_DUMMY, "pk", 0},
        {"Mν negative transfer", "dummy nodes worse than scratch on Mν", CT_CLAIM_WORSE, MNU,
         CT_ARCH_DUMMY, "mk", 0},
        {"σ8 negative transfer", "dummy nodes worse than scratch on σ8", CT_CLAIM_WORSE, SIGMA8,
         CT_ARCH_DUMMY, "mk", 0},
        {"bottleneck on Mν", "bottleneck worse than scratch on Mν", CT_CLAIM_WORSE, MNU,
         CT_ARCH_BOTTLENECK, "mk", 0},
        {"f(R) saves simulations", "≈10× fewer simulations for f_R0", CT_CLAIM_SAVINGS, FR0,
         CT_ARCH_DUMMY, "pk", 0},
        {"equilateral PNG", "dummy nodes better than scratch on f_NL", CT_CLAIM_BETTER, NULL,
         CT_ARCH_DUMMY, "pk", 1},
        {"local PNG", "no gain on f_NL", CT_CLAIM_NO_GAIN, NULL, CT_ARCH_DUMMY, "pk", 2},
        {"architectures", "dummy nodes best, frozen body worst", CT_CLAIM_BETTER, NULL,
         CT_ARCH_DUMMY, "pk", 0},
    };
    fprintf(f, "## Verdict\n\n");
    fprintf(f, "| finding | statistic | published claim | measured | verdict |\n"
               "|---|---|---|---|---|\n");
    int too_small = 0;
    *nrows = 0;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        for (int q = 0; q < 2; q++)
            verdict_row(f, c, r, &defs[i], q == 0 ? "pk" : "mk", &too_small, nrows);
    fprintf(f,
            "\nRule: the measured quantity is computed per seed (transfer and scratch of one "
            "seed share its budget subset) over the smaller half of the budgets — the "
            "savings factor against that seed's scratch curve (median over those budgets), "
            "or the mean log ratio of test MSE to scratch — and judged by the 95%% Student-t "
            "interval of its mean over seeds. *≈10× savings* is reproduced when the interval "
            "lies above %.0f×, not reproduced when it lies below; *worse* (negative "
            "transfer) is reproduced when MSE ÷ scratch is above 1 and not reproduced when "
            "it is below %.2f (no loss beyond a %.0f%% equivalence margin); *better* is the "
            "mirror image; *no gain* is reproduced unless the gain exceeds the margin; the "
            "architecture ranking needs dummy nodes better and the frozen body worse than "
            "every other transfer architecture by the same rule. Anything else is "
            "inconclusive. **inconclusive: too small** — the run cannot decide: test set "
            "under %d simulations, or scratch R² at the largest budget under %.1f for the "
            "parameter (the statistic barely constrains it at this size). Rows for a "
            "statistic the paper made no claim about are measured by the same rule and "
            "marked *no published claim*.\n\n",
            CT_VERDICT_SAVINGS, CT_VERDICT_EQUIV, 100 * (CT_VERDICT_EQUIV - 1), CT_VERDICT_MIN_TEST,
            CT_VERDICT_MIN_R2);
    return too_small;
}

static void safe_name(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.')
                     ? s[i]
                     : '-';
    out[i] = '\0';
}

static void write_curves_and_savings(FILE *f, const ct_study_ctx *c, const ct_study_results *r)
{
    const ct_study_settings *s = c->s;
    fprintf(f, "## Learning curves\n\nTest MSE against the fine-tuning budget, one line per "
               "architecture and baseline (mean over seeds, bars: seed standard deviation), "
               "one panel per parameter.\n\n");
    for (int t = 0; t < s->ntargets; t++)
        for (int si = 0; si < s->nstats; si++) {
            char a[CT_STUDY_NAME * 2], b[CT_STUDY_NAME * 2];
            safe_name(s->targets[t].name, a, sizeof a);
            safe_name(s->stats[si], b, sizeof b);
            fprintf(f, "![learning curves, %s, %s](plots/learning_%s_%s.png)\n\n",
                    s->targets[t].name, s->stats[si], a, b);
        }
    if (!s->arch[CT_ARCH_SCRATCH])
        return;
    fprintf(f, "## Savings factors\n\nMedian over the smaller half of the budgets of the "
               "simulation-savings factor (scratch budget reaching the same mean test MSE ÷ "
               "budget; per budget in the detailed tables below).\n\n");
    for (int t = 0; t < s->ntargets; t++) {
        fprintf(f, "| %s | statistic |", s->targets[t].name);
        for (int p = 0; p < s->targets[t].nparam; p++)
            fprintf(f, " %s |", s->targets[t].params[p]);
        fprintf(f, "\n|---|---|");
        for (int p = 0; p < s->targets[t].nparam; p++)
            fprintf(f, "---|");
        fprintf(f, "\n");
        for (int si = 0; si < s->nstats; si++)
            for (int a = 0; a < CT_ARCH_COUNT; a++) {
                if (!s->arch[a] || a == CT_ARCH_SCRATCH)
                    continue;
                fprintf(f, "| %s | %s |", ct_study_arch_name(a), s->stats[si]);
                for (int p = 0; p < s->targets[t].nparam; p++) {
                    int n, nl, nu;
                    double m = small_budget_savings(c, r, t, si, a, s->targets[t].params[p], &n,
                                                    &nl, &nu);
                    if (n)
                        fprintf(f, " %.2g |", m);
                    else
                        fprintf(f, " – |");
                }
                fprintf(f, "\n");
            }
        fprintf(f, "\n");
    }
}

static void write_comparison(FILE *f, const ct_study_ctx *c, const ct_study_results *r)
{
    const ct_study_settings *s = c->s;
    fprintf(f, "## Comparison with the published findings (Krishnaraj et al. 2025)\n\n");
    fprintf(f, "Each point states the published claim, what this run measured, and whether "
               "they agree. The run's scale (simulations, network size, search effort) is "
               "given at the top; a small run can fail to reproduce an effect that needs "
               "more data, and says so here rather than hiding it.\n\n");
    savings_point(f, c, r, MNU, "1. Mν with P(k)",
                  "pretraining cuts the simulations needed by about 10×", 10.0);
    savings_point(f, c, r, FR0, "2. f(R)", "about 10× fewer simulations", 10.0);
    /* 3, 4: PNG */
    png_point(f, c, r, 1);
    png_point(f, c, r, 0);
    /* 5: negative transfer on sigma8 and Mnu with the marked power spectrum */
    int mk = find_stat(c, "mk");
    int found = 0;
    if (mk >= 0 && s->arch[CT_ARCH_SCRATCH])
        for (int t = 0; t < s->ntargets; t++) {
            const char *ps8 = find_param(c, t, SIGMA8), *pmn = find_param(c, t, MNU);
            const char *ps[2] = {ps8, pmn};
            for (int a = 0; a <= CT_ARCH_BOTTLENECK; a++) {
                if (!s->arch[a])
                    continue;
                for (int q = 0; q < 2; q++) {
                    if (!ps[q])
                        continue;
                    int b, w, tt;
                    tally(c, r, t, mk, a, ps[q], 0, &b, &w, &tt);
                    found = 1;
                    fprintf(f, "- 5. Marked P(k) — %s, %s, %s: negative transfer at %d of %d "
                               "budgets (positive at %d) → %s.\n",
                            s->targets[t].name, ct_study_arch_name(a), ps[q], w, tt, b,
                            w > 0 ? "negative transfer seen (consistent)"
                                  : "no negative transfer seen (not reproduced)");
                }
            }
        }
    fprintf(f, found ? "  Published: negative transfer on σ8 and Mν with the marked power "
                       "spectrum (σ8–Mν degeneracy).\n"
                     : "- 5. Marked P(k) negative transfer on σ8 and Mν — **not tested** in "
                       "this run.\n");
    /* 6: architecture ranking */
    fprintf(f, "- 6. Architectures — published: dummy nodes best, frozen body + head worst "
               "(negative transfer). Measured (MSE ÷ scratch MSE, geometric mean over "
               "parameters and budgets; lower is better):\n");
    for (int t = 0; t < s->ntargets; t++)
        for (int si = 0; si < s->nstats; si++) {
            double best = INFINITY, worst = -INFINITY;
            int ib = -1, iw = -1;
            fprintf(f, "  - %s, %s:", s->targets[t].name, s->stats[si]);
            for (int a = 0; a < CT_ARCH_COUNT; a++) {
                if (!s->arch[a] || a == CT_ARCH_SCRATCH)
                    continue;
                double q = mean_ratio(c, r, t, si, a);
                fprintf(f, " %s %.2f;", ct_study_arch_name(a), q);
                if (a <= CT_ARCH_BOTTLENECK && !isnan(q)) {
                    if (q < best)
                        best = q, ib = a;
                    if (q > worst)
                        worst = q, iw = a;
                }
            }
            if (ib >= 0)
                fprintf(f, " best transfer architecture: %s (%s), worst: %s (%s).\n",
                        ct_study_arch_name(ib),
                        ib == CT_ARCH_DUMMY ? "consistent" : "differs from the paper",
                        ct_study_arch_name(iw),
                        iw == CT_ARCH_FROZEN ? "consistent" : "differs from the paper");
            else
                fprintf(f, " no transfer architecture run.\n");
        }
    /* 7: SHAP */
    fprintf(f, "- 7. SHAP — published: small-scale bins drive σ8 after pretraining and are "
               "reassigned to Mν after fine-tuning; σ8's attribution flips sign and moves to "
               "larger scales. Measured (|φ|-weighted mean k; share of |φ| from bins above "
               "the median k; mean correlation of the input with its attribution on small / "
               "large scales):\n");
    found = 0;
    for (int i = 0; i < r->nana; i++) {
        const ct_study_analysis *a = &r->ana[i];
        if (!a->have_shap)
            continue;
        int ps = out_index((char(*)[CT_NN_NAME_MAX])a->pre_names, a->npre_out, SIGMA8);
        int fs = out_index((char(*)[CT_NN_NAME_MAX])a->ft_names, a->nft_out, SIGMA8);
        int fm = out_index((char(*)[CT_NN_NAME_MAX])a->ft_names, a->nft_out, MNU);
        if (ps < 0 || fs < 0)
            continue;
        found = 1;
        double k1, sh1, ds1, dl1, k2, sh2, ds2, dl2, k3 = NAN, sh3 = NAN, ds3 = NAN, dl3 = NAN;
        shap_scale(a, a->shap_pre_abs, ps, &k1, &sh1, &ds1, &dl1);
        shap_scale(a, a->shap_ft_abs, fs, &k2, &sh2, &ds2, &dl2);
        if (fm >= 0)
            shap_scale(a, a->shap_ft_abs, fm, &k3, &sh3, &ds3, &dl3);
        fprintf(f,
                "  - %s, %s (%s, budget %lld; %s over %d test simulations): σ8 pretrained: "
                "mean k %.3f h/Mpc, small-scale share %.2f, direction %+.2f / %+.2f; σ8 "
                "fine-tuned: mean k %.3f, share %.2f, direction %+.2f / %+.2f",
                s->targets[a->target].name, s->stats[a->stat], a->ft_arch,
                (long long)a->ft_budget,
                a->shap_method == CT_SHAP_EXACT ? "exact Shapley" : "permutation SHAP", a->shap_n,
                k1, sh1, ds1, dl1, k2, sh2, ds2, dl2);
        if (fm >= 0)
            fprintf(f, "; Mν fine-tuned: mean k %.3f, share %.2f, direction %+.2f / %+.2f", k3,
                    sh3, ds3, dl3);
        if (a->nseed > 1) {
            /* seed-to-seed spread of the fine-tuned numbers (kmean and share do
             * not use the direction maps) */
            double ks[CT_STUDY_MAX_SEEDS], ss[CT_STUDY_MAX_SEEDS], ms[CT_STUDY_MAX_SEEDS], km, kd, sm, sdv, mm, md;
            int n = 0;
            for (int q = 0; q < a->nseed; q++) {
                double d1, d2, d3, d4;
                if (!a->seed_shap_abs[q])
                    continue;
                shap_scale(a, a->seed_shap_abs[q], fs, &ks[n], &ss[n], &d1, &d2);
                ms[n] = NAN;
                if (fm >= 0)
                    shap_scale(a, a->seed_shap_abs[q], fm, &d3, &ms[n], &d1, &d4);
                n++;
            }
            ct_mean_sd(ks, n, &km, &kd);
            ct_mean_sd(ss, n, &sm, &sdv);
            ct_mean_sd(ms, n, &mm, &md);
            fprintf(f, "; over %d seeds of the fine-tuning (mean ± sd): σ8 mean k %.3f ± %.3f, "
                       "share %.2f ± %.2f",
                    n, km, kd, sm, sdv);
            if (fm >= 0)
                fprintf(f, ", Mν small-scale share %.2f ± %.2f", mm, md);
        }
        int moved = k2 < k1;
        int reassigned = fm >= 0 && sh3 > 0.5;
        int flipped = (ds1 * ds2 < 0) || (dl1 * dl2 < 0);
        fprintf(f, ". σ8 attribution moved to larger scales: %s; small scales carry most of Mν's "
                   "attribution: %s; σ8 direction flipped: %s.\n",
                moved ? "yes" : "no", fm < 0 ? "n/a" : reassigned ? "yes" : "no",
                flipped ? "yes" : "no");
    }
    if (!found)
        fprintf(f, "  - not measured in this run (SHAP disabled or no σ8 output).\n");
    /* 8: CKA */
    fprintf(f, "- 8. CKA (companion analysis, Kornblith et al. 2019 CKA) — expected: a network that "
               "generalises poorly out of distribution shows stronger block structure "
               "(higher off-diagonal CKA) on out-of-distribution inputs. Measured (mean "
               "off-diagonal CKA; largest eigenvalue / number of layers):\n");
    found = 0;
    for (int i = 0; i < r->nana; i++) {
        const ct_study_analysis *a = &r->ana[i];
        if (!a->have_cka)
            continue;
        found = 1;
        int L = a->nlayer;
        fprintf(f,
                "  - %s, %s (%d samples, %d layers incl. input): pretrained on %s %.3f "
                "(%.2f), on %s %.3f (%.2f); fine-tuned on %s %.3f (%.2f), on %s %.3f (%.2f); "
                "pretrained vs fine-tuned layers on %s: mean off-diagonal %.3f, diagonal "
                "(same layer) ",
                s->targets[a->target].name, s->stats[a->stat], a->cka_n, L, s->pretrain.name,
                a->cka_sum[0].offdiag_mean, a->cka_sum[0].eig[0] / L, s->targets[a->target].name,
                a->cka_sum[1].offdiag_mean, a->cka_sum[1].eig[0] / L, s->pretrain.name,
                a->cka_sum[2].offdiag_mean, a->cka_sum[2].eig[0] / L, s->targets[a->target].name,
                a->cka_sum[3].offdiag_mean, a->cka_sum[3].eig[0] / L, s->targets[a->target].name,
                a->cka_sum[4].offdiag_mean);
        for (int l = 0; l < L; l++)
            fprintf(f, "%s%.3f", l ? ", " : "", a->cka[4][l * L + l]);
        if (a->nseed > 1) {
            double m, sd;
            ct_mean_sd(a->seed_cka_offdiag, a->nseed, &m, &sd);
            fprintf(f, "; fine-tuned on %s over %d seeds: mean off-diagonal %.3f ± %.3f",
                    s->targets[a->target].name, a->nseed, m, sd);
        }
        fprintf(f, ". Block structure stronger on the target inputs for the pretrained "
                   "network: %s.\n",
                a->cka_sum[1].offdiag_mean > a->cka_sum[0].offdiag_mean ? "yes" : "no");
    }
    if (!found)
        fprintf(f, "  - not measured in this run.\n");
    fprintf(f, "\n");
}

ct_status ct_study_write_report(const ct_study_ctx *c, const ct_study_results *r,
                                const char *path)
{
    const ct_study_settings *s = c->s;
    ct_atomic_file a;
    CT_CHECK(ct_atomic_fopen(&a, path));
    FILE *f = a.f;
    fprintf(f, "# Transfer-learning study report\n\n");
    int nrows = 0;
    if (s->smoke)
        fprintf(f, "**Smoke run: this study is far too small for scientific conclusions. It "
                   "shows that the machinery works; the verdicts below say so.**\n\n");
    if (s->about[0]) {
        /* [study] about: the config's own note on what the data are (read when
         * the config was checked; a file gone since then is an error) */
        char *text = NULL;
        size_t len = 0;
        ct_status st = ct_read_text(s->about, &text, &len);
        if (st != CT_OK) {
            ct_atomic_fdiscard(&a);
            return ct_error_push(st, __func__, __LINE__);
        }
        fwrite(text, 1, len, f);
        fprintf(f, len && text[len - 1] == '\n' ? "\n" : "\n\n");
        free(text);
    }
    {
        /* the verdict table goes first; the scale of the run follows it */
        FILE *vf = f;
        int small = write_verdicts(vf, c, r, &nrows);
        if (!s->smoke && small > 0 && small * 2 >= nrows)
            fprintf(f, "**Most findings cannot be decided at this run's size (test sets or "
                       "the information in the statistic are too small).**\n\n");
        write_curves_and_savings(f, c, r);
        fprintf(f, "## The run\n\n");
    }
    fprintf(f, "Pretraining suite **%s** (`%s`): %lld usable simulations, %lld for "
               "pretraining, %lld held out for testing; parameters",
            s->pretrain.name, s->pretrain.path, (long long)c->pre.info.n_present,
            (long long)c->pre.split.npool, (long long)c->pre.split.ntest);
    for (int p = 0; p < s->pretrain.nparam; p++)
        fprintf(f, " %s", s->pretrain.params[p]);
    fprintf(f, "; %d dummy output(s) per pretraining (%s).\n\n",
            c->pregroup[0].nout - c->pregroup[0].npre,
            s->dummy_mode == CT_DUMMY_MAX ? "the largest number of extra parameters among the "
                                            "targets, one pretraining"
                                          : "one pretraining per target");
    for (int t = 0; t < s->ntargets; t++) {
        fprintf(f, "Target **%s** (`%s`): %lld usable simulations, pool %lld, fixed test set "
                   "%lld; parameters",
                s->targets[t].name, s->targets[t].path, (long long)c->target[t].info.n_present,
                (long long)c->target[t].split.npool, (long long)c->target[t].split.ntest);
        for (int p = 0; p < s->targets[t].nparam; p++)
            fprintf(f, " %s", s->targets[t].params[p]);
        fprintf(f, "; budgets");
        for (int b = 0; b < c->nbudget[t]; b++)
            fprintf(f, " %lld", (long long)c->budgets[t][b]);
        fprintf(f, ".\n\n");
    }
    fprintf(f, "Statistics:");
    for (int i = 0; i < s->nstats; i++)
        fprintf(f, " %s", s->stats[i]);
    char krange[64];
    if (s->kmax > 0)
        snprintf(krange, sizeof krange, "k ≤ %g h/Mpc", s->kmax);
    else
        snprintf(krange, sizeof krange, "all bins");
    fprintf(f, " (%s, %s then per-bin standardisation with the pretraining set's "
               "mean and std). Architectures:",
            krange, s->log10_inputs ? "log10" : "no log");
    for (int a = 0; a < CT_ARCH_COUNT; a++)
        if (s->arch[a])
            fprintf(f, " %s", ct_study_arch_name(a));
    int per_stat = 0;
    for (int i = 0; i < s->nstats; i++)
        per_stat |= s->pre_stat_set[i];
    if (!per_stat) {
        fprintf(f, ". Seeds: %d. Network: %d hidden layer(s) of", s->nseeds, s->pre.nhidden);
        for (int l = 0; l < s->pre.nhidden; l++)
            fprintf(f, " %d", s->pre.hidden[l]);
        fprintf(f, ", LeakyReLU(%.2g), dropout %.2g", s->pre.leaky_slope, s->pre.dropout);
    } else {
        /* [pretrain.<statistic>]: each statistic's own network (pretraining,
         * bottleneck pretraining and baselines) */
        fprintf(f, ". Seeds: %d. Network per statistic:", s->nseeds);
        for (int i = 0; i < s->nstats; i++) {
            const ct_study_train *p = ct_study_pre_of(s, i);
            fprintf(f, "%s %s: %d hidden layer(s) of", i ? ";" : "", s->stats[i], p->nhidden);
            for (int l = 0; l < p->nhidden; l++)
                fprintf(f, " %d", p->hidden[l]);
            fprintf(f, ", dropout %.3g", p->dropout);
            if (p->trials == 0)
                fprintf(f, ", pretraining lr %.2g, weight decay %.2g", p->lr, p->weight_decay);
        }
        fprintf(f, "; LeakyReLU(%.2g)", s->pre.leaky_slope);
    }
    fprintf(f, ", sigmoid output, AdamW. Pretraining: up to %d "
               "epochs, patience %d, %s. Fine-tuning: up to %d epochs, patience %d, %s "
               "(lr %.0e–%.0e, weight decay %.0e–%.0e).\n\n",
            s->pre.epochs, s->pre.patience,
            s->pre.trials > 0 ? "lr/wd random search" : "fixed lr/wd", s->fine.epochs,
            s->fine.patience,
            s->fine.trials > 0 ? "its own lr/weight-decay search per training" : "fixed lr/wd",
            s->fine.lr_min, s->fine.lr_max, s->fine.wd_min, s->fine.wd_max);
    fprintf(f, "Errors are on the fixed test set of each suite, in the parameters' physical "
               "units. Budgets count fine-tuning simulations (training + validation); the "
               "validation share is %.0f%%. Scratch and combined baselines use the pretraining "
               "architecture, standardise inputs with their own training rows and search lr "
               "/ weight decay over the pretraining ranges.\n\n",
            100 * s->val_fraction);
    write_findings(f, c, r);
    write_comparison(f, c, r);
    write_tables(f, c, r);
    fprintf(f, "Plots: `tools/plot-study %s` writes error vs budget per parameter, SHAP heat "
               "maps over k and CKA matrices to `%s/plots/`.\n",
            s->out, s->out);
    /* a full disk (ENOSPC) or read-only folder (EROFS) fails here, naming path */
    CT_CHECK(ct_atomic_fclose(&a));
    (void)sname;
    return CT_OK;
}
