/* Hyper-parameter search: bounds and types of sampled points, TPE beats random
 * search on a known function, median pruning stops hopeless trials, and the
 * MLP search returns the model of its best trial. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    ct_hp_result_free(&r);
    ct_mlp_destroy(&best);
    ct_mlp_destroy(&base);
    ct_dataset_free(&tr);
    ct_dataset_free(&va);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    ct_nn_set_threads(1);
    test_samplers();
    test_pruning();
    test_mlp_search();
    CT_TEST_END();
}
