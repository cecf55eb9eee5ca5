/* Hyper-parameter search: random and TPE (tree-structured Parzen estimator,
 * univariate, as in Optuna's default sampler) over box spaces with log and
 * integer dimensions; median pruning; trials in waves spread over rank groups. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "cosmotl/runner.h"
#include "nn_internal.h"

#define N_CANDIDATES 24

ct_status ct_hp_space_add(ct_hp_space *sp, const char *name, double lo, double hi, int is_int,
                          int log_scale)
{
    if (sp->n >= CT_HP_MAX_DIMS)
        CT_FAIL(CT_ERR_RANGE, "more than %d search dimensions", CT_HP_MAX_DIMS);
    if (!(hi >= lo) || (log_scale && !(lo > 0)))
        CT_FAIL(CT_ERR_ARG, "search range of %s: [%g, %g]%s", name, lo, hi,
                log_scale ? " (log scale needs lo > 0)" : "");
    ct_hp_dim *d = &sp->dim[sp->n++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->lo = lo;
    d->hi = hi;
    d->is_int = is_int != 0;
    d->log = log_scale != 0;
    return CT_OK;
}

void ct_hp_space_pretrain(ct_hp_space *sp)
{
    memset(sp, 0, sizeof *sp);
    ct_hp_space_add(sp, "n_layers", 1, 3, 1, 0);
    ct_hp_space_add(sp, "width", 4, 500, 1, 0);
    ct_hp_space_add(sp, "dropout", 0.2, 0.8, 0, 0);
    ct_hp_space_add(sp, "lr", 1e-5, 1e-1, 0, 1);
    ct_hp_space_add(sp, "weight_decay", 1e-8, 1.0, 0, 1);
}

void ct_hp_space_finetune(ct_hp_space *sp)
{
    memset(sp, 0, sizeof *sp);
    ct_hp_space_add(sp, "lr", 1e-6, 1e-3, 0, 1);
    ct_hp_space_add(sp, "weight_decay", 1e-6, 1e-1, 0, 1);
}

void ct_hp_settings_defaults(ct_hp_settings *s)
{
    memset(s, 0, sizeof *s);
    s->sampler = CT_HP_TPE;
    s->n_trials = 100;
    s->n_startup = 20;
    s->group_size = 1;
    s->wave = 4;
    s->seed = 1;
    s->prune = 1;
    s->prune_warmup = 10;
    s->prune_min_trials = 5;
    s->stream = CT_HP_STREAM;
}

void ct_hp_result_free(ct_hp_result *r)
{
    if (!r)
        return;
    free(r->values);
    free(r->points);
    free(r->pruned);
    free(r->epochs);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- history */

typedef struct {
    int n;       /* reports */
    int cap;
    double *v;   /* best-so-far value after epoch e+1 */
} reports;

typedef struct {
    int n_trials, d;
    double *points;   /* n_trials x d, natural units */
    double *values;
    int *pruned, *done;
    reports *rep;
    int *restored;     /* read from the records of an earlier run */
    int *rec_group;    /* the group that ran a restored trial */
    double *rec_points; /* n_trials x d: a restored trial's recorded point */
} history;

struct ct_hp_trial {
    int index;
    const ct_hp_settings *s;
    const history *h;
    int done_before;  /* trials [0, done_before) are complete and usable */
    reports *mine;
    int pruned;
    int rerun;
};

int ct_hp_trial_is_rerun(const ct_hp_trial *t)
{
    return t->rerun;
}

int ct_hp_trial_index(const ct_hp_trial *t)
{
    return t->index;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int ct_hp_trial_report(ct_hp_trial *t, int epoch, double value)
{
    reports *r = t->mine;
    if (epoch < 1)
        return 0;
    if (epoch > r->cap) {
        int cap = epoch > 2 * r->cap ? epoch : 2 * r->cap;
        double *nv = realloc(r->v, (size_t)cap * sizeof(double));
        if (!nv)
            return 0; /* no room to record: never prune on missing data */
        r->v = nv;
        r->cap = cap;
    }
    double best = r->n > 0 ? r->v[r->n - 1] : INFINITY;
    for (int e = r->n; e < epoch; e++)
        r->v[e] = best;
    if (!(value >= best)) /* also catches the first report */
        best = isfinite(value) ? value : best;
    r->v[epoch - 1] = best;
    r->n = epoch;
    if (!isfinite(value)) {
        t->pruned = 1; /* a diverged trial is hopeless */
        return 1;
    }
    if (!t->s->prune || epoch < t->s->prune_warmup)
        return 0;
    /* median pruning: compare with finished, unpruned trials of earlier waves at
     * the same epoch (best value so far) */
    double vals[CT_HP_MAX_TRIALS]; /* done_before < n_trials <= CT_HP_MAX_TRIALS */
    int nv = 0;
    for (int i = 0; i < t->done_before; i++) {
        const reports *o = &t->h->rep[i];
        if (t->h->pruned[i] || o->n < 1)
            continue;
        vals[nv++] = o->v[(epoch <= o->n ? epoch : o->n) - 1];
    }
    if (nv < t->s->prune_min_trials || nv < 1)
        return 0;
    qsort(vals, (size_t)nv, sizeof(double), cmp_double);
    double med = nv % 2 ? vals[nv / 2] : 0.5 * (vals[nv / 2 - 1] + vals[nv / 2]);
    if (best > med) {
        t->pruned = 1;
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- sampling */

/* Map natural value <-> unit interval. */
static double to_unit(const ct_hp_dim *d, double v)
{
    double lo = d->lo, hi = d->hi;
    if (d->is_int) {
        lo -= 0.5;
        hi += 0.5;
    }
    if (d->log) {
        lo = log(d->is_int ? fmax(lo, 0.5 * d->lo) : lo);
        hi = log(hi);
        v = log(v);
    }
    return hi > lo ? (v - lo) / (hi - lo) : 0.5;
}

static double from_unit(const ct_hp_dim *d, double u)
{
    double lo = d->lo, hi = d->hi;
    if (d->is_int) {
        lo -= 0.5;
        hi += 0.5;
    }
    double v;
    if (d->log) {
        double a = log(d->is_int ? fmax(lo, 0.5 * d->lo) : lo), b = log(hi);
        v = exp(a + u * (b - a));
    } else {
        v = lo + u * (hi - lo);
    }
    if (d->is_int) {
        v = floor(v + 0.5);
        v = fmin(fmax(v, d->lo), d->hi);
    } else {
        v = fmin(fmax(v, d->lo), d->hi);
    }
    return v;
}

/* Parzen estimator on [0,1] as in Optuna's TPE: a truncated Gaussian at each
 * observation with sigma = the larger gap to its sorted neighbours (the bounds
 * count as neighbours), clipped to [1/min(100, n+1), 1], plus a prior component
 * N(0.5, 1); all of equal weight. */
#define PARZEN_MAX CT_HP_MAX_TRIALS /* n_trials is checked against it */
typedef struct {
    int n;
    double mu[PARZEN_MAX + 1], sd[PARZEN_MAX + 1];
} parzen_est;

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void parzen_build(parzen_est *e, const double *pts, int n)
{
    memcpy(e->mu, pts, (size_t)n * sizeof(double));
    qsort(e->mu, (size_t)n, sizeof(double), cmp_dbl);
    double lo_sd = 1.0 / fmin(100.0, n + 1.0);
    for (int i = 0; i < n; i++) {
        double left = e->mu[i] - (i > 0 ? e->mu[i - 1] : 0.0);
        double right = (i + 1 < n ? e->mu[i + 1] : 1.0) - e->mu[i];
        e->sd[i] = fmin(fmax(fmax(left, right), lo_sd), 1.0);
    }
    e->mu[n] = 0.5;
    e->sd[n] = 1.0;
    e->n = n + 1;
}

static double phi_cdf(double z)
{
    return 0.5 * erfc(-z / 1.4142135623730951);
}

static double parzen_pdf(const parzen_est *e, double u)
{
    double s = 0;
    for (int i = 0; i < e->n; i++) {
        double z = (u - e->mu[i]) / e->sd[i];
        double mass = phi_cdf((1 - e->mu[i]) / e->sd[i]) - phi_cdf(-e->mu[i] / e->sd[i]);
        s += exp(-0.5 * z * z) / (e->sd[i] * 2.5066282746310002 * mass);
    }
    return s / e->n;
}

static double parzen_sample(const parzen_est *e, ct_rng *r)
{
    int pick = (int)ct_rng_below(r, (uint64_t)e->n);
    for (int tries = 0; tries < 100; tries++) {
        double u = e->mu[pick] + e->sd[pick] * ct_rng_normal(r);
        if (u >= 0 && u <= 1)
            return u;
    }
    return fmin(fmax(e->mu[pick], 0.0), 1.0);
}

typedef struct {
    double v;
    int i;
} vi;

static int cmp_vi(const void *a, const void *b)
{
    const vi *x = a, *y = b;
    if (x->v < y->v)
        return -1;
    if (x->v > y->v)
        return 1;
    return x->i - y->i;
}

/* Sample trial t's point from the trials [0, done) of the history. */
static ct_status sample_point(const ct_hp_space *sp, const ct_hp_settings *s, const history *h,
                              int done, int t, double *point)
{
    ct_status rc = CT_OK;
    ct_rng r;
    ct_rng_init(&r, s->seed, s->stream + (uint64_t)t, 0);
    int nfin = 0;
    for (int i = 0; i < done; i++)
        nfin += isfinite(h->values[i]);
    if (s->sampler == CT_HP_RANDOM || nfin < (s->n_startup > 1 ? s->n_startup : 2)) {
        for (int k = 0; k < sp->n; k++)
            point[k] = from_unit(&sp->dim[k], ct_rng_uniform(&r));
        return CT_OK;
    }
    vi *order = NULL;
    double *good = NULL, *bad = NULL;
    parzen_est *lg = NULL, *lb = NULL;
    CT_CHECK_GOTO(rc, ct_calloc(&lg, 1, sizeof *lg, "tpe"));
    CT_CHECK_GOTO(rc, ct_calloc(&lb, 1, sizeof *lb, "tpe"));
    CT_CHECK_GOTO(rc, ct_calloc(&order, (size_t)done, sizeof(vi), "tpe"));
    CT_CHECK_GOTO(rc, ct_calloc(&good, (size_t)done, sizeof(double), "tpe"));
    CT_CHECK_GOTO(rc, ct_calloc(&bad, (size_t)done, sizeof(double), "tpe"));
    int n = 0;
    for (int i = 0; i < done; i++)
        if (isfinite(h->values[i])) {
            order[n].v = h->values[i];
            order[n].i = i;
            n++;
        }
    qsort(order, (size_t)n, sizeof(vi), cmp_vi);
    /* Optuna's default split: gamma(n) = min(ceil(0.1 n), 25) best trials */
    int ng = (int)ceil(0.1 * n);
    ng = ng < 1 ? 1 : (ng > 25 ? 25 : ng);
    int nb = n - ng;
    for (int k = 0; k < sp->n; k++) {
        const ct_hp_dim *d = &sp->dim[k];
        for (int j = 0; j < ng; j++)
            good[j] = to_unit(d, h->points[(size_t)order[j].i * h->d + k]);
        for (int j = 0; j < nb; j++)
            bad[j] = to_unit(d, h->points[(size_t)order[ng + j].i * h->d + k]);
        parzen_build(lg, good, ng);
        parzen_build(lb, bad, nb);
        double best_u = 0.5, best_score = -INFINITY;
        for (int c = 0; c < N_CANDIDATES; c++) {
            double u = parzen_sample(lg, &r);
            double score = log(parzen_pdf(lg, u)) - log(parzen_pdf(lb, u));
            if (score > best_score) {
                best_score = score;
                best_u = u;
            }
        }
        point[k] = from_unit(d, best_u);
    }
fail:
    free(order);
    free(good);
    free(bad);
    free(lg);
    free(lb);
    return rc;
}

/* ---------------------------------------------------------------- driver */

static void history_free(history *h)
{
    if (h->rep)
        for (int i = 0; i < h->n_trials; i++)
            free(h->rep[i].v);
    free(h->rep);
    free(h->points);
    free(h->values);
    free(h->pruned);
    free(h->done);
    free(h->restored);
    free(h->rec_group);
    free(h->rec_points);
    memset(h, 0, sizeof *h);
}

static void log_trial(FILE *f, const ct_hp_space *sp, const history *h, int t, int group)
{
    fprintf(f, "trial %d group %d value %.8e pruned %d epochs %d", t, group, h->values[t],
            h->pruned[t], h->rep[t].n);
    for (int k = 0; k < sp->n; k++)
        fprintf(f, " %s=%.6g", sp->dim[k].name, h->points[(size_t)t * h->d + k]);
    fprintf(f, "\n");
}

/* The search's rank groups: consecutive ranks, leftovers joining the last group,
 * trials of a wave handed out round robin (trial w0+j to group j % ngroups) so
 * that who ran a trial is reproducible whatever the groups' speeds. */
static ct_status hp_runner(const ct_hp_settings *s, MPI_Comm comm, ct_runner **r)
{
    ct_runner_settings rs;
    ct_runner_settings_defaults(&rs);
    rs.group_size = s->group_size < 1 ? 1 : s->group_size;
    rs.uneven_ok = 1;
    rs.schedule = CT_RUN_ROUND_ROBIN;
    return ct_runner_create(r, &rs, comm);
}

static ct_status record_append(const char *path, const history *h, int t, int group);

/* One wave of trials: item j of the runner is trial w0 + j. */
typedef struct {
    const ct_hp_space *sp;
    const ct_hp_settings *s;
    history *h;
    int w0;
    const int *idx; /* item j runs trial idx[j] */
    int rerun;
    int my_group;   /* this rank's group */
    ct_hp_objective fn;
    void *user;
} wave_job;

static ct_status trial_run(int64_t item, MPI_Comm group, void *user, void *result)
{
    wave_job *w = user;
    history *h = w->h;
    (void)result;
    int t = w->idx[item];
    ct_hp_trial tr = {t, w->s, h, w->w0, &h->rep[t], 0, w->rerun};
    double v = NAN;
    CT_CHECK(w->fn(h->points + (size_t)t * h->d, &tr, group, w->user, &v));
    h->pruned[t] = tr.pruned;
    h->values[t] = tr.pruned && h->rep[t].n > 0 ? h->rep[t].v[h->rep[t].n - 1] : v;
    int grank;
    MPI_Comm_rank(group, &grank);
    ct_status lrc = CT_OK;
    if (w->s->records_path && !w->rerun && grank == 0)
        lrc = record_append(w->s->records_path, h, t, w->my_group);
    return ct_agree_msg(group, lrc);
}

/* ---------------------------------------------------------------- records */

/* The records file: a header line naming everything the trials depend on (not
 * the number of trials: a longer search extends a shorter one), then one line per
 * finished trial with exact (hexadecimal) doubles:
 *   trial T group G pruned P value V n N r_1 .. r_N point p_1 .. p_d end
 * A line without its "end" (a kill while writing) is the torn tail and dropped. */
static ct_status records_header(const ct_hp_space *sp, const ct_hp_settings *s, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        CT_FAIL(CT_ERR_MEMORY, "no memory for the search records header");
    fprintf(m,
            "# cosmotl search records v1 sampler %d startup %d wave %d seed "
            "%llu prune %d warmup %d min_trials %d dims %d",
            (int)s->sampler, s->n_startup, s->wave > 0 ? s->wave : 1,
            (unsigned long long)s->seed, s->prune, s->prune_warmup, s->prune_min_trials, sp->n);
    for (int k = 0; k < sp->n; k++)
        fprintf(m, " %s %a %a %d %d", sp->dim[k].name, sp->dim[k].lo, sp->dim[k].hi,
                sp->dim[k].is_int, sp->dim[k].log);
    /* named only when they differ from the defaults (older records stay valid) */
    if (s->stream != CT_HP_STREAM)
        fprintf(m, " stream %llu", (unsigned long long)s->stream);
    if (s->seed_per_trial)
        fprintf(m, " seed_per_trial 1");
    if (fclose(m) != 0) {
        free(buf);
        CT_FAIL(CT_ERR_MEMORY, "no memory for the search records header");
    }
    *out = buf;
    return CT_OK;
}

static void record_write(FILE *f, const history *h, int t, int group)
{
    fprintf(f, "trial %d group %d pruned %d value %a n %d", t, group, h->pruned[t], h->values[t],
            h->rep[t].n);
    for (int e = 0; e < h->rep[t].n; e++)
        fprintf(f, " %a", h->rep[t].v[e]);
    fprintf(f, " point");
    for (int k = 0; k < h->d; k++)
        fprintf(f, " %a", h->points[(size_t)t * h->d + k]);
    fprintf(f, " end\n");
}

/* The group root of a finished trial appends its record with one write() to a file
 * opened O_APPEND (records of concurrent groups do not interleave) and syncs it, so
 * that a kill loses at most the trials still running. */
static ct_status record_append(const char *path, const history *h, int t, int group)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        CT_FAIL(CT_ERR_MEMORY, "%s: no memory for a trial record", path);
    record_write(m, h, t, group);
    if (fclose(m) != 0) {
        free(buf);
        CT_FAIL(CT_ERR_MEMORY, "%s: no memory for a trial record", path);
    }
    int fd = open(path, O_WRONLY | O_APPEND);
    ssize_t n = fd >= 0 ? write(fd, buf, len) : -1;
    int ok = fd >= 0 && n == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    free(buf);
    if (!ok)
        CT_FAIL(CT_ERR_IO, "%s: cannot append trial %d's record", path, t);
    return CT_OK;
}

/* n numbers from *p (advanced past them); 0 if one is missing. */
static int parse_doubles(char **p, double *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *q;
        out[i] = strtod(*p, &q);
        if (q == *p)
            return 0;
        *p = q;
    }
    return 1;
}

/* *p past blanks and then the word w; 0 if w is not there. */
static int skip_word(char **p, const char *w)
{
    while (**p == ' ')
        (*p)++;
    size_t n = strlen(w);
    if (strncmp(*p, w, n))
        return 0;
    *p += n;
    return 1;
}

/* Parse one record line into h (restored, rec_points, values, ...); 0 if malformed. */
static int record_parse(char *line, history *h, int *trial)
{
    char *p = line;
    int t, g, pr, n, used;
    double v, pt[CT_HP_MAX_DIMS];
    if (sscanf(p, "trial %d group %d pruned %d value %n", &t, &g, &pr, &used) != 3)
        return 0;
    p += used;
    if (!parse_doubles(&p, &v, 1))
        return 0;
    if (sscanf(p, " n %d%n", &n, &used) != 1 || n < 0 || n > 100000000)
        return 0;
    p += used;
    if (t < 0 || t >= h->n_trials || g < 0 || (pr != 0 && pr != 1))
        return 0;
    double *r = n > 0 ? malloc((size_t)n * sizeof(double)) : NULL;
    if (n > 0 && !r)
        return 0;
    if (!parse_doubles(&p, r, n) || !skip_word(&p, "point") || !parse_doubles(&p, pt, h->d) ||
        !skip_word(&p, "end") || (*p != '\n' && *p != '\0')) {
        free(r);
        return 0;
    }
    free(h->rep[t].v);
    h->rep[t].v = r;
    h->rep[t].n = h->rep[t].cap = n;
    h->values[t] = v;
    h->pruned[t] = pr;
    h->rec_group[t] = g;
    h->restored[t] = 1;
    memcpy(h->rec_points + (size_t)t * h->d, pt, (size_t)h->d * sizeof(double));
    *trial = t;
    return 1;
}

/* Rank 0: read the records of an earlier run into h (complete lines only) and
 * rewrite the file with them, dropping a torn tail. Without resume or without a
 * file: a fresh file with the header. New trials are appended as they finish
 * (record_append). */
static ct_status records_open(const ct_hp_space *sp, const ct_hp_settings *s, history *h)
{
    const char *path = s->records_path;
    ct_status rc = CT_OK;
    char *header = NULL, *line = NULL, *tmp = NULL;
    FILE *in = NULL, *f = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, dropped = 0;
    CT_CHECK(records_header(sp, s, &header));
    in = s->resume ? fopen(path, "r") : NULL;
    if (in) {
        len = getline(&line, &cap, in);
        if (len > 0) {
            if (line[len - 1] == '\n')
                line[--len] = '\0';
            if (strcmp(line, header))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                             "%s: records of a different search (space, sampler, seed, startup, "
                             "wave or pruning changed); move the file away to start afresh",
                             path);
            lineno = 1;
            while ((len = getline(&line, &cap, in)) > 0) {
                lineno++;
                int t;
                int complete = line[len - 1] == '\n';
                if (!complete || !record_parse(line, h, &t)) {
                    /* only the last line may be torn */
                    if (fgetc(in) != EOF)
                        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%d: malformed trial record", path,
                                     lineno);
                    dropped = 1;
                    break;
                }
            }
        }
        fclose(in);
        in = NULL;
    }
    int nrest = 0;
    for (int t = 0; t < h->n_trials; t++)
        nrest += h->restored[t];
    if (nrest > 0 || dropped)
        ct_info("search: %d trial(s) restored from %s%s", nrest, path,
                dropped ? " (a torn last record dropped)" : "");
    CT_CHECK_GOTO(rc, ct_atomic_begin_alloc(path, &tmp));
    f = fopen(tmp, "w");
    if (!f)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot write the search records", path);
    fprintf(f, "%s\n", header);
    for (int t = 0; t < h->n_trials; t++)
        if (h->restored[t]) {
            /* the recorded point, written back exactly as read */
            memcpy(h->points + (size_t)t * h->d, h->rec_points + (size_t)t * h->d,
                   (size_t)h->d * sizeof(double));
            record_write(f, h, t, h->rec_group[t]);
        }
    int bad = fclose(f) != 0;
    f = NULL;
    if (bad) {
        ct_atomic_abort(tmp);
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot write the search records", path);
    }
    CT_CHECK_GOTO(rc, ct_atomic_commit(tmp, path));
fail:
    if (in)
        fclose(in);
    if (f) {
        fclose(f);
        ct_atomic_abort(tmp);
    }
    free(line);
    free(header);
    free(tmp);
    return rc;
}

/* Every rank gets rank 0's restored trials. */
static ct_status records_share(history *h, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(h->restored, h->n_trials, MPI_INT, 0, comm);
    MPI_Bcast(h->rec_group, h->n_trials, MPI_INT, 0, comm);
    MPI_Bcast(h->rec_points, h->n_trials * h->d, MPI_DOUBLE, 0, comm);
    MPI_Bcast(h->values, h->n_trials, MPI_DOUBLE, 0, comm);
    MPI_Bcast(h->pruned, h->n_trials, MPI_INT, 0, comm);
    ct_status lrc = CT_OK;
    for (int t = 0; t < h->n_trials; t++) {
        if (!h->restored[t])
            continue;
        int n = h->rep[t].n;
        MPI_Bcast(&n, 1, MPI_INT, 0, comm);
        if (rank != 0) {
            free(h->rep[t].v);
            h->rep[t].v = n > 0 ? malloc((size_t)n * sizeof(double)) : NULL;
            if (n > 0 && !h->rep[t].v)
                lrc = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__, "out of memory");
            h->rep[t].n = h->rep[t].cap = h->rep[t].v ? n : 0;
        }
        CT_CHECK(ct_agree(comm, lrc));
        if (n > 0)
            MPI_Bcast(h->rep[t].v, n, MPI_DOUBLE, 0, comm);
    }
    return CT_OK;
}

/* Share the outcome of trial t (run by the group led by root) with every rank. */
static ct_status share_trial(history *h, int t, int root, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_status lrc = CT_OK;
    double hdr[3] = {h->values[t], h->pruned[t], h->rep[t].n};
    MPI_Bcast(hdr, 3, MPI_DOUBLE, root, comm);
    int n = (int)hdr[2];
    if (rank != root) {
        h->values[t] = hdr[0];
        h->pruned[t] = (int)hdr[1];
        if (n > h->rep[t].cap) {
            double *nv = realloc(h->rep[t].v, (size_t)n * sizeof(double));
            lrc = nv ? CT_OK : ct_error_set(CT_ERR_MEMORY, __func__, __LINE__, "oom");
            if (nv) {
                h->rep[t].v = nv;
                h->rep[t].cap = n;
            }
        }
    }
    CT_CHECK(ct_agree(comm, lrc));
    if (n > 0)
        MPI_Bcast(h->rep[t].v, n, MPI_DOUBLE, root, comm);
    h->rep[t].n = n;
    return CT_OK;
}

ct_status ct_hp_search(const ct_hp_space *sp, const ct_hp_settings *s, ct_hp_objective fn,
                       void *user, MPI_Comm comm, ct_hp_result *res)
{
    ct_status rc = CT_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_runner *runner = NULL;
    int *trial_root = NULL, *idx = NULL;
    history h;
    FILE *log = NULL;
    memset(&h, 0, sizeof h);
    memset(res, 0, sizeof *res);
    if (sp->n < 1 || s->n_trials < 1)
        CT_FAIL(CT_ERR_ARG, "empty search (%d dimensions, %d trials)", sp->n, s->n_trials);
    if (s->n_trials > CT_HP_MAX_TRIALS)
        CT_FAIL(CT_ERR_RANGE, "%d trials: a search runs at most %d", s->n_trials,
                CT_HP_MAX_TRIALS);
    CT_CHECK(hp_runner(s, comm, &runner));
    int gs = s->group_size < 1 ? 1 : (s->group_size > size ? size : s->group_size);
    int ngroups = ct_runner_ngroups(runner);
    int nt = s->n_trials, d = sp->n, wave = s->wave > 0 ? s->wave : 1;
    h.n_trials = nt;
    h.d = d;
    ct_status lrc = ct_calloc(&h.points, (size_t)nt * d, sizeof(double), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&h.values, (size_t)nt, sizeof(double), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&h.pruned, (size_t)nt, sizeof(int), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&h.done, (size_t)nt, sizeof(int), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&h.rep, (size_t)nt, sizeof(reports), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&h.restored, (size_t)nt, sizeof(int), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&h.rec_group, (size_t)nt, sizeof(int), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&h.rec_points, (size_t)nt * d, sizeof(double), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&trial_root, (size_t)nt, sizeof(int), "search");
    if (lrc == CT_OK)
        lrc = ct_calloc(&idx, (size_t)wave, sizeof(int), "search");
    if (lrc == CT_OK && rank == 0 && s->records_path)
        lrc = records_open(sp, s, &h);
    if (lrc == CT_OK && rank == 0 && s->log_path) {
        log = fopen(s->log_path, "w");
        if (!log)
            lrc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot write the search log",
                               s->log_path);
        else
            fprintf(log, "# %s search, %d trials, waves of %d, %d group(s) of %d rank(s)\n",
                    s->sampler == CT_HP_TPE ? "TPE" : "random", nt, wave, ngroups, gs);
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, lrc));
    if (s->records_path) {
        int any = rank == 0 ? s->resume : 0;
        MPI_Bcast(&any, 1, MPI_INT, 0, comm);
        if (any)
            CT_CHECK_GOTO(rc, records_share(&h, comm));
    }
    for (int w0 = 0; w0 < nt; w0 += wave) {
        int w1 = w0 + wave < nt ? w0 + wave : nt, nrun = 0;
        for (int t = w0; t < w1; t++) {
            CT_CHECK_GOTO(rc, sample_point(sp, s, &h, w0, t, h.points + (size_t)t * d));
            if (!h.restored[t]) {
                idx[nrun++] = t;
                continue;
            }
            /* a restored trial must be the one this search samples now */
            if (memcmp(h.points + (size_t)t * d, h.rec_points + (size_t)t * d,
                       (size_t)d * sizeof(double)))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                             "%s: trial %d of the records is not the point this search samples "
                             "(the records of an earlier trial differ, or another build); move "
                             "the file away to start afresh",
                             s->records_path, t);
            trial_root[t] = (h.rec_group[t] < ngroups ? h.rec_group[t] : 0) * gs;
            res->n_restored++;
        }
        if (nrun > 0) {
            wave_job wj = {sp, s, &h, w0, idx, 0, rank / gs < ngroups ? rank / gs : ngroups - 1,
                           fn, user};
            ct_runner_job job = {.n_items = nrun, .run = trial_run, .user = &wj};
            ct_runner_report rep;
            CT_CHECK_GOTO(rc, ct_runner_run(runner, &job, &rep));
            for (int j = 0; j < nrun; j++)
                trial_root[idx[j]] = ct_runner_group_leader(runner, rep.group[j]);
            if (rep.n_failed > 0) {
                rc = ct_error_set(rep.first_status, __func__, __LINE__, "trial %d failed: %s",
                                  idx[rep.first_failed], rep.first_error);
                ct_runner_report_free(&rep);
                goto fail;
            }
            ct_runner_report_free(&rep);
            /* share the wave's outcomes: each trial's group root broadcasts */
            for (int j = 0; j < nrun; j++)
                CT_CHECK_GOTO(rc, share_trial(&h, idx[j], trial_root[idx[j]], comm));
        }
        for (int t = w0; t < w1; t++) {
            int g = h.restored[t] ? h.rec_group[t] : trial_root[t] / gs;
            h.done[t] = 1;
            if (log) {
                log_trial(log, sp, &h, t, g);
                fflush(log);
            }
        }
        if (!s->quiet)
            ct_info("search: %d/%d trials done%s", w1, nt, nrun < w1 - w0 ? " (restored)" : "");
    }
    CT_CHECK_GOTO(rc, ct_calloc(&res->values, (size_t)nt, sizeof(double), "result"));
    CT_CHECK_GOTO(rc, ct_calloc(&res->points, (size_t)nt * d, sizeof(double), "result"));
    CT_CHECK_GOTO(rc, ct_calloc(&res->pruned, (size_t)nt, sizeof(int), "result"));
    CT_CHECK_GOTO(rc, ct_calloc(&res->epochs, (size_t)nt, sizeof(int), "result"));
    res->n_trials = nt;
    res->best_trial = -1;
    res->best_value = INFINITY;
    for (int t = 0; t < nt; t++) {
        res->values[t] = h.values[t];
        res->pruned[t] = h.pruned[t];
        res->epochs[t] = h.rep[t].n;
        res->n_pruned += h.pruned[t];
        if (!h.pruned[t] && h.values[t] < res->best_value) {
            res->best_value = h.values[t];
            res->best_trial = t;
        }
    }
    memcpy(res->points, h.points, (size_t)nt * d * sizeof(double));
    if (res->best_trial < 0)
        CT_FAIL_GOTO(rc, CT_ERR_NUMERIC, "no trial finished with a finite value");
    memcpy(res->best_point, h.points + (size_t)res->best_trial * d, (size_t)d * sizeof(double));
    res->best_root = trial_root[res->best_trial];
    if (h.restored[res->best_trial] && s->rerun_best) {
        /* its model is wanted: run the best trial again, seeing the history it saw */
        int t = res->best_trial;
        double recorded = h.values[t];
        h.rep[t].n = 0;
        idx[0] = t;
        wave_job wj = {sp, s, &h, t - t % wave, idx, 1, 0, fn, user};
        ct_runner_job job = {.n_items = 1, .run = trial_run, .user = &wj};
        ct_runner_report rep;
        CT_CHECK_GOTO(rc, ct_runner_run(runner, &job, &rep));
        res->best_root = ct_runner_group_leader(runner, rep.group[0]);
        if (rep.n_failed > 0) {
            rc = ct_error_set(rep.first_status, __func__, __LINE__, "rerun of trial %d failed: %s",
                              t, rep.first_error);
            ct_runner_report_free(&rep);
            goto fail;
        }
        ct_runner_report_free(&rep);
        CT_CHECK_GOTO(rc, share_trial(&h, t, res->best_root, comm));
        if (h.values[t] != recorded)
            ct_warn("search: the rerun of restored best trial %d scored %.10e, the record %.10e "
                    "(another machine or build); the model is the rerun's",
                    t, h.values[t], recorded);
        h.values[t] = recorded;
    }
    if (log)
        fprintf(log, "# best trial %d value %.8e\n", res->best_trial, res->best_value);
fail:
    if (rc != CT_OK)
        ct_hp_result_free(res);
    if (log)
        fclose(log);
    history_free(&h);
    free(trial_root);
    free(idx);
    ct_runner_destroy(&runner);
    return rc;
}

/* ---------------------------------------------------------------- MLP search */

typedef struct {
    const ct_hp_space *sp;
    const ct_mlp *base;
    const ct_train_settings *ts;
    ct_dataset tr, va;    /* sharded over the group */
    int has_val;
    int seed_per_trial;
    ct_mlp *best;         /* best model of this group */
    double best_value;
    int best_trial;
} mlp_job;

typedef struct {
    ct_hp_trial *trial;
    int stop;
} epoch_ctx;

static int on_epoch(int epoch, double train_loss, double val_loss, double lr, void *user)
{
    (void)lr;
    epoch_ctx *c = user;
    double v = isnan(val_loss) ? train_loss : val_loss;
    return ct_hp_trial_report(c->trial, epoch, v);
}

static int point_index(const ct_hp_space *sp, const char *name)
{
    for (int k = 0; k < sp->n; k++)
        if (!strcmp(sp->dim[k].name, name))
            return k;
    return -1;
}

static ct_status build_model(const mlp_job *job, const double *p, int trial, ct_mlp **out)
{
    ct_status rc = CT_OK;
    const ct_hp_space *sp = job->sp;
    int arch = 0;
    for (int k = 0; k < sp->n; k++)
        if (!strcmp(sp->dim[k].name, "n_layers") || !strncmp(sp->dim[k].name, "width", 5) ||
            !strcmp(sp->dim[k].name, "dropout"))
            arch = 1;
    if (!arch)
        return ct_mlp_copy(job->base, out);
    ct_mlp_arch a;
    ct_mlp_get_arch(job->base, &a);
    int k;
    if ((k = point_index(sp, "n_layers")) >= 0)
        a.n_hidden = (int)p[k];
    if (a.n_hidden < 0 || a.n_hidden >= CT_NN_MAX_LAYERS)
        CT_FAIL(CT_ERR_ARG, "n_layers %d out of range", a.n_hidden);
    if ((k = point_index(sp, "width")) >= 0)
        for (int l = 0; l < a.n_hidden; l++)
            a.width[l] = (int)p[k];
    for (int l = 0; l < a.n_hidden; l++) {
        char name[32];
        snprintf(name, sizeof name, "width_%d", l);
        if ((k = point_index(sp, name)) >= 0)
            a.width[l] = (int)p[k];
        if (a.width[l] < 1)
            a.width[l] = job->base->n_layers > 1 ? job->base->dims[1] : 32;
    }
    if ((k = point_index(sp, "dropout")) >= 0)
        a.dropout = p[k];
    a.seed = job->ts->seed * 1000003ull + (uint64_t)trial + 1;
    ct_mlp *m = NULL;
    CT_CHECK(ct_mlp_create(&m, &a));
    ct_mlp_copy_input_norm(m, job->base);
    CT_CHECK_GOTO(rc, ct_mlp_set_targets(m, (const char *const *)NULL, job->base->target_lo,
                                         job->base->target_hi, job->base->dummy));
    memcpy(m->target_name, job->base->target_name,
           (size_t)m->n_targets * CT_NN_NAME_MAX);
    /* the inputs are the base model's: so is its provenance */
    if (job->base->prov) {
        CT_CHECK_GOTO(rc, ct_calloc(&m->prov, 1, sizeof *m->prov, "provenance"));
        CT_CHECK_GOTO(rc, ct_model_prov_copy(m->prov, job->base->prov));
    }
    *out = m;
    return CT_OK;
fail:
    ct_mlp_destroy(&m);
    return rc;
}

static ct_status mlp_objective(const double *p, ct_hp_trial *trial, MPI_Comm group, void *user,
                               double *value)
{
    mlp_job *job = user;
    ct_status rc = CT_OK;
    ct_mlp *m = NULL;
    ct_status lrc = build_model(job, p, ct_hp_trial_index(trial), &m);
    if (lrc != CT_OK)
        ct_error_push(lrc, __func__, __LINE__);
    CT_CHECK(ct_agree_msg(group, lrc));
    ct_train_settings ts = *job->ts;
    int k;
    if ((k = point_index(job->sp, "lr")) >= 0)
        ts.lr = p[k];
    if ((k = point_index(job->sp, "weight_decay")) >= 0)
        ts.weight_decay = p[k];
    if (job->seed_per_trial)
        ts.seed += (uint64_t)ct_hp_trial_index(trial);
    ts.checkpoint = NULL;
    ts.log_path = NULL;
    ts.log_every = 0;
    ts.stop_after = 0;
    epoch_ctx ctx = {trial, 0};
    ts.on_epoch = on_epoch;
    ts.on_epoch_user = &ctx;
    ct_train_result res;
    rc = ct_mlp_train(m, &job->tr, job->has_val ? &job->va : NULL, &ts, group, &res);
    if (rc == CT_ERR_NUMERIC) {
        /* a diverging trial is a bad trial, not a failed search */
        ct_error_clear();
        ct_hp_trial_report(trial, trial->mine->n + 1, INFINITY);
        *value = INFINITY;
        ct_mlp_destroy(&m);
        return CT_OK;
    }
    if (rc != CT_OK) {
        ct_mlp_destroy(&m);
        return ct_error_push(rc, __func__, __LINE__);
    }
    *value = job->has_val ? res.best_val : res.final_train;
    if (!res.stopped_by_callback && (*value < job->best_value || ct_hp_trial_is_rerun(trial))) {
        ct_mlp_destroy(&job->best);
        job->best = m;
        job->best_value = *value;
        job->best_trial = ct_hp_trial_index(trial);
        m = NULL;
    }
    ct_mlp_destroy(&m);
    return CT_OK;
}

/* Every rank of comm receives the rows of d that its group's shard needs. */
static ct_status regroup(const ct_dataset *d, MPI_Comm comm, MPI_Comm group, ct_dataset *out)
{
    int64_t n = ct_dataset_global_rows(d, comm);
    int gr, gsz;
    MPI_Comm_rank(group, &gr);
    MPI_Comm_size(group, &gsz);
    int64_t a = n * gr / gsz, b = n * (gr + 1) / gsz;
    int64_t *want = NULL;
    CT_CHECK(ct_calloc(&want, (size_t)(b - a) + 1, sizeof(int64_t), "rows"));
    for (int64_t i = a; i < b; i++)
        want[i - a] = i;
    ct_status rc = ct_dataset_fetch(d, comm, want, b - a, out);
    free(want);
    return rc == CT_OK ? CT_OK : ct_error_push(rc, __func__, __LINE__);
}

ct_status ct_hp_search_mlp(const ct_hp_space *space, const ct_hp_settings *s,
                           const ct_mlp *base, const ct_train_settings *ts,
                           const ct_dataset *train, const ct_dataset *val, MPI_Comm comm,
                           ct_hp_result *res, ct_mlp **best)
{
    ct_status rc = CT_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    mlp_job job;
    memset(&job, 0, sizeof job);
    job.sp = space;
    job.base = base;
    job.ts = ts;
    job.best_value = INFINITY;
    job.best_trial = -1;
    job.has_val = val != NULL;
    job.seed_per_trial = s->seed_per_trial;
    /* the same groups as ct_hp_search, to hand each group its data */
    ct_runner *runner = NULL;
    CT_CHECK(hp_runner(s, comm, &runner));
    MPI_Comm group = ct_runner_group(runner);
    CT_CHECK_GOTO(rc, regroup(train, comm, group, &job.tr));
    if (val)
        CT_CHECK_GOTO(rc, regroup(val, comm, group, &job.va));
    ct_hp_settings hs = *s;
    hs.rerun_best = best != NULL;
    CT_CHECK_GOTO(rc, ct_hp_search(space, &hs, mlp_objective, &job, comm, res));
    if (best) {
        /* the group that ran the best trial hands its model to everyone */
        int root = res->best_root;
        int ok = rank != root || (job.best && job.best_trial == res->best_trial);
        int all = 0;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
        if (!all)
            CT_FAIL_GOTO(rc, CT_ERR_STATE, "best model of trial %d not kept", res->best_trial);
        ct_mlp *m = rank == root ? job.best : NULL;
        CT_CHECK_GOTO(rc, ct_nn_bcast(&m, root, comm));
        if (rank == root)
            job.best = NULL; /* handed over */
        *best = m;
    }
fail:
    ct_mlp_destroy(&job.best);
    ct_dataset_free(&job.tr);
    ct_dataset_free(&job.va);
    ct_runner_destroy(&runner);
    return rc;
}
