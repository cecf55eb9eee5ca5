/* Hyper-parameter search: bounds and types of sampled points, TPE beats random
 * search on a known function, median pruning stops hopeless trials, the MLP
 * search returns the model of its best trial, and a search killed part-way
 * resumes from its records to exactly the uninterrupted result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/nn.h"
#include "testlib.h"

/* Minimum 0 at lr = 1e-3, width = 64, dropout = 0.3. Each "epoch" reports the
 * final value times (1 + 2/epoch), like a converging validation loss. */
static double target(const double *p)
{
    double a = log10(p[0]) + 3, b = (p[1] - 64) / 100, c = (p[2] - 0.3) * 2;
    return a * a + b * b + c * c;
}

typedef struct {
    int calls, bad_points;
} obj_stats;

static ct_status objective(const double *p, ct_hp_trial *t, MPI_Comm g, void *user, double *v)
{
    (void)g;
    obj_stats *st = user;
    st->calls++;
    if (!(p[0] >= 1e-5 && p[0] <= 1e-1) || !(p[1] >= 4 && p[1] <= 500) || p[1] != floor(p[1]) ||
        !(p[2] >= 0.2 && p[2] <= 0.8))
        st->bad_points++;
    double f = target(p);
    for (int e = 1; e <= 20; e++)
        if (ct_hp_trial_report(t, e, f * (1 + 2.0 / e))) {
            *v = f * (1 + 2.0 / e);
            return CT_OK;
        }
    *v = f;
    return CT_OK;
}

static void space3(ct_hp_space *sp)
{
    memset(sp, 0, sizeof *sp);
    CT_EXPECT_OK(ct_hp_space_add(sp, "lr", 1e-5, 1e-1, 0, 1));
    CT_EXPECT_OK(ct_hp_space_add(sp, "width", 4, 500, 1, 0));
    CT_EXPECT_OK(ct_hp_space_add(sp, "dropout", 0.2, 0.8, 0, 0));
}

static void test_samplers(void)
{
    ct_hp_space sp;
    space3(&sp);
    double best[2] = {0, 0};
    for (int sampler = 0; sampler < 2; sampler++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            ct_hp_settings s;
            ct_hp_settings_defaults(&s);
            s.sampler = (ct_hp_sampler)sampler;
            s.n_trials = 60;
            s.n_startup = 15;
            s.prune = 0;
            s.seed = seed;
            obj_stats st = {0, 0};
            ct_hp_result r;
            CT_EXPECT_OK(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r));
            CT_EXPECT(st.calls == 60 && st.bad_points == 0);
            double mn = INFINITY;
            for (int t = 0; t < r.n_trials; t++)
                mn = fmin(mn, r.values[t]);
            CT_EXPECT(r.best_value == mn && r.values[r.best_trial] == mn);
            CT_EXPECT(target(r.best_point) == r.best_value);
            best[sampler] += log(r.best_value);
            ct_hp_result_free(&r);
        }
    /* geometric-mean best over 3 seeds: TPE ahead of random search */
    printf("search: geometric-mean best value random %.3g, TPE %.3g\n", exp(best[0] / 3),
           exp(best[1] / 3));
    CT_EXPECT(best[1] < best[0]);
}

static void test_pruning(void)
{
    ct_hp_space sp;
    space3(&sp);
    ct_hp_settings s;
    ct_hp_settings_defaults(&s);
    s.sampler = CT_HP_RANDOM;
    s.n_trials = 30;
    s.prune = 1;
    s.prune_warmup = 3;
    s.prune_min_trials = 4;
    obj_stats st = {0, 0};
    ct_hp_result r;
    CT_EXPECT_OK(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r));
    CT_EXPECT(r.n_pruned > 5 && r.n_pruned < 30);
    CT_EXPECT(!r.pruned[r.best_trial]);
    /* a pruned trial's final value would not have beaten the best one */
    for (int t = 0; t < r.n_trials; t++)
        if (r.pruned[t])
            CT_EXPECT(target(r.points + 3 * t) > 0 && r.values[t] > r.best_value);
    printf("pruning: %d of %d trials pruned\n", r.n_pruned, r.n_trials);
    ct_hp_result_free(&r);
    /* past the cap of the pruner's arrays: an error, not a silent truncation */
    s.n_trials = CT_HP_MAX_TRIALS + 1;
    st.calls = 0;
    CT_EXPECT(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r) == CT_ERR_RANGE);
    CT_EXPECT(st.calls == 0);
}

/* ---------------------------------------------------------------- resume */

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = '\0';
    fclose(f);
    *len = n;
    return b;
}

/* Write the header and the first keep records of full to path, then (torn) the
 * first half of the next record without its newline: a kill while writing. */
static void truncate_records(const char *full, const char *path, int keep, int torn)
{
    FILE *f = fopen(path, "w");
    const char *p = full;
    for (int l = 0; l < keep + 1 && *p; l++) {
        const char *e = strchr(p, '\n');
        fwrite(p, 1, (size_t)(e - p + 1), f);
        p = e + 1;
    }
    if (torn && *p)
        fwrite(p, 1, (size_t)(strchr(p, '\n') - p) / 2, f);
    fclose(f);
}

static int same_result(const ct_hp_result *a, const ct_hp_result *b, int d)
{
    return a->n_trials == b->n_trials && a->best_trial == b->best_trial &&
           a->best_value == b->best_value && a->n_pruned == b->n_pruned &&
           !memcmp(a->values, b->values, (size_t)a->n_trials * sizeof(double)) &&
           !memcmp(a->pruned, b->pruned, (size_t)a->n_trials * sizeof(int)) &&
           !memcmp(a->points, b->points, (size_t)a->n_trials * d * sizeof(double));
}

static void test_mlp_search(void)
{
    ct_dataset tr, va;
    ct_dataset_alloc(&tr, 200, 3, 1, 0);
    ct_dataset_alloc(&va, 60, 3, 1, 0);
    ct_rng rng;
    ct_rng_init(&rng, 3, 0, 0);
    for (int i = 0; i < 260; i++) {
        ct_dataset *d = i < 200 ? &tr : &va;
        int j = i < 200 ? i : i - 200;
        for (int k = 0; k < 3; k++)
            d->x[j * 3 + k] = ct_rng_uniform(&rng);
        d->y[j] = d->x[j * 3] * d->x[j * 3 + 1] + 0.05 * ct_rng_normal(&rng);
    }
    ct_mlp_arch ar;
    ct_mlp_arch_defaults(&ar);
    ar.n_in = 3;
    ar.n_targets = 1;
    ar.n_hidden = 1;
    ar.width[0] = 8;
    ct_mlp *base = NULL, *best = NULL;
    CT_EXPECT_OK(ct_mlp_create(&base, &ar));
    double lo = -0.5, hi = 1.5;
    CT_EXPECT_OK(ct_mlp_set_targets(base, NULL, &lo, &hi, NULL));
    ct_hp_space sp;
    memset(&sp, 0, sizeof sp);
    ct_hp_space_add(&sp, "n_layers", 1, 2, 1, 0);
    ct_hp_space_add(&sp, "width", 4, 16, 1, 0);
    ct_hp_space_add(&sp, "lr", 1e-3, 1e-2, 0, 1);
    ct_hp_settings hs;
    ct_hp_settings_defaults(&hs);
    hs.n_trials = 6;
    hs.n_startup = 3;
    hs.prune_warmup = 3;
    hs.prune_min_trials = 2;
    ct_train_settings ts;
    ct_train_settings_defaults(&ts);
    ts.epochs = 8;
    ts.log_every = 0;
    ct_hp_result r;
    CT_EXPECT_OK(ct_hp_search_mlp(&sp, &hs, base, &ts, &tr, &va, MPI_COMM_SELF, &r, &best));
    if (best) {
        double vl;
        CT_EXPECT_OK(ct_mlp_evaluate(best, &va, MPI_COMM_SELF, &vl));
        CT_EXPECT_REL(vl, r.best_value, 1e-12);
        CT_EXPECT(best->n_layers == (int)r.best_point[0] + 1);
        CT_EXPECT(best->dims[1] == (int)r.best_point[1]);
        CT_EXPECT(best->target_hi[0] == 1.5);
    }
    /* resumed from records that hold every trial (the best one restored): the best
     * trial is run again for its model, which is the uninterrupted one exactly;
     * from records that hold the first 3 trials, the same */
    char dir[] = "/tmp/ct_hp_mlpXXXXXX";
    CT_EXPECT(mkdtemp(dir) != NULL);
    char rec[256], full[256];
    snprintf(rec, sizeof rec, "%s/s.records", dir);
    snprintf(full, sizeof full, "%s/full.records", dir);
    hs.records_path = full;
    hs.resume = 1;
    ct_hp_result r0, r1;
    ct_mlp *b0 = NULL, *b1 = NULL;
    CT_EXPECT_OK(ct_hp_search_mlp(&sp, &hs, base, &ts, &tr, &va, MPI_COMM_SELF, &r0, &b0));
    CT_EXPECT(same_result(&r0, &r, sp.n));
    long nt = 0;
    char *text = slurp(full, &nt);
    hs.records_path = rec;
    for (int keep = 6; text && keep >= 3; keep -= 3) {
        truncate_records(text, rec, keep, 0);
        CT_EXPECT_OK(ct_hp_search_mlp(&sp, &hs, base, &ts, &tr, &va, MPI_COMM_SELF, &r1, &b1));
        CT_EXPECT(r1.n_restored == keep && same_result(&r1, &r0, sp.n));
        CT_EXPECT(b0 != NULL && b1 != NULL);
        if (b0 && b1) {
            double v0, v1;
            CT_EXPECT_OK(ct_mlp_evaluate(b0, &va, MPI_COMM_SELF, &v0));
            CT_EXPECT_OK(ct_mlp_evaluate(b1, &va, MPI_COMM_SELF, &v1));
            CT_EXPECT(v0 == v1 && b1->n_layers == b0->n_layers && b1->dims[1] == b0->dims[1]);
        }
        ct_hp_result_free(&r1);
        ct_mlp_destroy(&b1);
    }
    free(text);
    ct_hp_result_free(&r0);
    ct_mlp_destroy(&b0);
    unlink(rec);
    unlink(full);
    rmdir(dir);
    ct_hp_result_free(&r);
    ct_mlp_destroy(&best);
    ct_mlp_destroy(&base);
    ct_dataset_free(&tr);
    ct_dataset_free(&va);
}

static void test_resume(void)
{
    char dir[] = "/tmp/ct_hp_resumeXXXXXX";
    CT_EXPECT(mkdtemp(dir) != NULL);
    char rec[256], rec_full[256], log[256], log_full[256];
    snprintf(rec, sizeof rec, "%s/search.records", dir);
    snprintf(rec_full, sizeof rec_full, "%s/full.records", dir);
    snprintf(log, sizeof log, "%s/search.log", dir);
    snprintf(log_full, sizeof log_full, "%s/full.log", dir);
    ct_hp_space sp;
    space3(&sp);
    ct_hp_settings s;
    ct_hp_settings_defaults(&s);
    s.n_trials = 24;
    s.n_startup = 6;
    s.wave = 4;
    s.prune = 1;
    s.prune_warmup = 3;
    s.prune_min_trials = 4;
    s.seed = 7;
    s.records_path = rec_full;
    s.log_path = log_full;
    s.resume = 1;
    /* uninterrupted (resume on, no file yet: a fresh search) */
    obj_stats st = {0, 0};
    ct_hp_result full, r;
    CT_EXPECT_OK(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &full));
    CT_EXPECT(st.calls == 24 && full.n_restored == 0 && full.n_pruned > 0);
    long nfull = 0, n = 0;
    char *text = slurp(rec_full, &nfull);
    CT_EXPECT(text != NULL);
    if (!text)
        return;
    /* killed after 9 of 24 trials (mid-wave, with a torn 10th record): only the 15
     * missing trials run, and points, values, pruning, best, the records and the log
     * are the uninterrupted ones, byte for byte */
    s.records_path = rec;
    s.log_path = log;
    for (int keep = 0; keep <= 24; keep += 3) {
        truncate_records(text, rec, keep, keep % 2);
        st.calls = 0;
        CT_EXPECT_OK(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r));
        CT_EXPECT(st.calls == 24 - keep && r.n_restored == keep);
        CT_EXPECT(same_result(&r, &full, sp.n));
        char *again = slurp(rec, &n);
        CT_EXPECT(again && n == nfull && !memcmp(again, text, (size_t)n));
        free(again);
        long n1 = 0, n2 = 0;
        char *l1 = slurp(log, &n1), *l2 = slurp(log_full, &n2);
        CT_EXPECT(l1 && l2 && n1 == n2 && !memcmp(l1, l2, (size_t)n1));
        free(l1);
        free(l2);
        ct_hp_result_free(&r);
    }
    /* a longer search extends a shorter one: the first 24 trials are restored */
    s.n_trials = 28;
    st.calls = 0;
    CT_EXPECT_OK(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r));
    CT_EXPECT(st.calls == 4 && r.n_restored == 24);
    CT_EXPECT(!memcmp(r.values, full.values, 24 * sizeof(double)));
    ct_hp_result_free(&r);
    s.n_trials = 24;
    /* resume = 0 starts afresh and overwrites the records */
    truncate_records(text, rec, 9, 0);
    s.resume = 0;
    st.calls = 0;
    CT_EXPECT_OK(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r));
    CT_EXPECT(st.calls == 24 && r.n_restored == 0 && same_result(&r, &full, sp.n));
    ct_hp_result_free(&r);
    s.resume = 1;
    /* records of another search (seed changed): refused before any trial runs */
    truncate_records(text, rec, 9, 0);
    s.seed = 8;
    st.calls = 0;
    CT_EXPECT(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r) == CT_ERR_FORMAT);
    CT_EXPECT(st.calls == 0);
    s.seed = 7;
    /* a damaged record that is not the last line: refused */
    truncate_records(text, rec, 9, 0);
    {
        long m = 0;
        char *t = slurp(rec, &m);
        char *second = t ? strchr(strchr(t, '\n') + 1, '\n') + 1 : NULL;
        if (second) {
            memcpy(strstr(second, " end"), " xyz", 4);
            FILE *f = fopen(rec, "w");
            fwrite(t, 1, (size_t)m, f);
            fclose(f);
        }
        free(t);
    }
    st.calls = 0;
    CT_EXPECT(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r) == CT_ERR_FORMAT);
    CT_EXPECT(st.calls == 0);
    /* a record whose point is not the one this search samples (another history) */
    truncate_records(text, rec, 9, 0);
    {
        long m = 0;
        char *t = slurp(rec, &m);
        char *pt = t ? strstr(t, " point ") : NULL; /* the first record's point */
        char *end = pt ? strchr(pt + 7, ' ') : NULL;
        if (end) {
            FILE *f = fopen(rec, "w");
            fwrite(t, 1, (size_t)(pt + 7 - t), f);
            fprintf(f, "%a", 0.0123); /* a valid number, not the sampled one */
            fwrite(end, 1, strlen(end), f);
            fclose(f);
        }
        free(t);
    }
    st.calls = 0;
    CT_EXPECT(ct_hp_search(&sp, &s, objective, &st, MPI_COMM_SELF, &r) == CT_ERR_FORMAT);
    CT_EXPECT(st.calls == 0);
    ct_hp_result_free(&full);
    free(text);
    unlink(rec);
    unlink(rec_full);
    unlink(log);
    unlink(log_full);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    ct_nn_set_threads(1);
    test_samplers();
    test_pruning();
    test_mlp_search();
    test_resume();
    CT_TEST_END();
}
