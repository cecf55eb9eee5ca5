/* Splits of the study: a fixed test set per suite, a pool, and nested budget
 * subsets of the pool per seed. Permutations come from the counter-based
 * generator, so they depend only on (seed, stream). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/study.h"


void ct_split_free(ct_split *s)
{
    if (!s)
        return;
    free(s->test);
    free(s->pool);
    memset(s, 0, sizeof *s);
}

ct_status ct_split_make(const int64_t *sims, int64_t n, double test_fraction, uint64_t seed,
                        uint64_t stream, ct_split *split)
{
    ct_status rc = CT_OK;
    int64_t *all = NULL;
    memset(split, 0, sizeof *split);
    if (!(test_fraction > 0 && test_fraction < 1))
        CT_FAIL(CT_ERR_RANGE, "test fraction %g must be in (0, 1)", test_fraction);
    int64_t ntest = (int64_t)llround(test_fraction * (double)n);
    if (ntest < 2 || n - ntest < 2)
        CT_FAIL(CT_ERR_RANGE, "%lld usable simulations are too few for a test set of fraction %g",
                (long long)n, test_fraction);
    CT_CHECK(ct_calloc(&all, (size_t)n + 1, sizeof(int64_t), "split"));
    memcpy(all, sims, sizeof(int64_t) * n);
    ct_shuffle_rows(all, n, seed, stream);
    split->ntest = ntest;
    split->npool = n - ntest;
    CT_CHECK_GOTO(rc, ct_calloc(&split->test, (size_t)ntest, sizeof(int64_t), "split"));
    CT_CHECK_GOTO(rc, ct_calloc(&split->pool, (size_t)(n - ntest), sizeof(int64_t), "split"));
    memcpy(split->test, all, sizeof(int64_t) * ntest);
    memcpy(split->pool, all + ntest, sizeof(int64_t) * (n - ntest));
fail:
    free(all);
    if (rc != CT_OK)
        ct_split_free(split);
    return rc;
}

ct_status ct_budget_rows(const ct_split *split, int64_t budget, uint64_t seed, int rep,
                         double val_fraction, int64_t **train, int64_t *ntrain,
                         int64_t **val, int64_t *nval)
{
    ct_status rc = CT_OK;
    int64_t *perm = NULL;
    *train = *val = NULL;
    if (budget < 4 || budget > split->npool)
        CT_FAIL(CT_ERR_RANGE, "budget %lld outside [4, %lld]", (long long)budget,
                (long long)split->npool);
    if (!(val_fraction > 0 && val_fraction < 1))
        CT_FAIL(CT_ERR_RANGE, "validation fraction %g must be in (0, 1)", val_fraction);
    CT_CHECK(ct_calloc(&perm, (size_t)split->npool, sizeof(int64_t), "budget"));
    memcpy(perm, split->pool, sizeof(int64_t) * split->npool);
    /* stream 1000 + rep: independent of the split's own stream */
    ct_shuffle_rows(perm, split->npool, seed, 1000u + (uint64_t)rep);
    int64_t nv = (int64_t)llround(val_fraction * (double)budget);
    if (nv < 2)
        nv = 2;
    if (budget - nv < 2)
        nv = budget - 2;
    *nval = nv;
    *ntrain = budget - nv;
    CT_CHECK_GOTO(rc, ct_calloc(val, (size_t)nv, sizeof(int64_t), "budget"));
    CT_CHECK_GOTO(rc, ct_calloc(train, (size_t)(budget - nv), sizeof(int64_t), "budget"));
    /* the budget is the first `budget` entries; validation rows are taken from
     * its end, so larger budgets of the same seed contain the smaller ones */
    memcpy(*train, perm, sizeof(int64_t) * (budget - nv));
    memcpy(*val, perm + budget - nv, sizeof(int64_t) * nv);
fail:
    free(perm);
    if (rc != CT_OK) {
        ct_free(train);
        ct_free(val);
    }
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void ct_budgets_cap(const int *budgets, int nbudgets, int64_t npool, int64_t *out, int *n)
{
    int m = 0;
    for (int i = 0; i < nbudgets; i++) {
        int64_t b = budgets[i] > npool ? npool : budgets[i];
        int dup = 0;
        for (int j = 0; j < m; j++)
            dup |= out[j] == b;
        if (!dup)
            out[m++] = b;
    }
    qsort(out, (size_t)m, sizeof(int64_t), cmp_i64);
    *n = m;
}
