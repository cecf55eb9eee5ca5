/* The study end to end on synthetic suites with a known answer (tests/unit/
 * study/synth.h): transfer beats scratch at small budgets and the report says
 * so; the same results table on 1 rank and on rank groups; a study stopped
 * part-way and resumed gives the same table as an uninterrupted one. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/study.h"
#include "tests/testlib.h"
#include "tests/unit/study/synth.h"

static char *slurp(const char *path)
{
    char *t = NULL;
    size_t n = 0;
    if (ct_read_text(path, &t, &n) != CT_OK) {
        ct_error_clear();
        return NULL;
    }
    return t;
}

static void settings(ct_study_settings *s, const char *dir, const char *out)
{
    ct_study_defaults(s);
    snprintf(s->out, sizeof s->out, "%s/%s", dir, out);
    snprintf(s->pretrain.name, sizeof s->pretrain.name, "LCDM");
    snprintf(s->pretrain.path, sizeof s->pretrain.path, "%s/lcdm.h5", dir);
    s->pretrain.nparam = 2;
    snprintf(s->pretrain.params[0], CT_STUDY_NAME, "Omega_m");
    snprintf(s->pretrain.params[1], CT_STUDY_NAME, "sigma_8");
    s->ntargets = 1;
    snprintf(s->targets[0].name, sizeof s->targets[0].name, "NU");
    snprintf(s->targets[0].path, sizeof s->targets[0].path, "%s/nu.h5", dir);
    s->targets[0].nparam = 3;
    snprintf(s->targets[0].params[0], CT_STUDY_NAME, "Omega_m");
    snprintf(s->targets[0].params[1], CT_STUDY_NAME, "sigma_8");
    snprintf(s->targets[0].params[2], CT_STUDY_NAME, "M_nu");
    s->kmax = 0; /* all bins */
    int b[] = {16, 32, 400};
    s->nbudgets = 3;
    memcpy(s->budgets, b, sizeof b);
    s->nseeds = 2;
    s->arch[CT_ARCH_NODUMMY] = 0; /* keep the test fast: dummy, frozen, bottleneck */
    s->arch[CT_ARCH_COMBINED] = 0;
    s->pre.nhidden = 2;
    s->pre.hidden[0] = s->pre.hidden[1] = 32;
    s->pre.dropout = 0.0;
    s->pre.epochs = 150;
    s->pre.patience = 20;
    s->pre.lr = 3e-3;
    s->pre.weight_decay = 1e-5;
    s->fine = s->pre;
    s->fine.epochs = 400; /* small budgets give one step per epoch */
    s->fine.patience = 40;
    s->fine.trials = 2;
    s->fine.lr_min = 3e-4;
    s->fine.lr_max = 1e-2;
    s->fine.wd_min = 1e-6;
    s->fine.wd_max = 1e-3;
    s->pre.lr_min = 1e-3;
    s->pre.lr_max = 1e-2;
    s->pre.wd_min = 1e-6;
    s->pre.wd_max = 1e-3;
    s->head_width = 16;
    s->bottleneck_width = 4;
    s->shap_samples = 4;
    s->shap_background = 8;
    s->shap.permutations = 4;
    s->cka_samples = 64;
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char dir[256] = "";
    if (rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/ct_study_test_XXXXXX");
        if (!mkdtemp(dir))
            dir[0] = '\0';
        char p[300];
        snprintf(p, sizeof p, "%s/lcdm.h5", dir);
        synth_write_suite(p, 1200, 0, 1);
        snprintf(p, sizeof p, "%s/nu.h5", dir);
        synth_write_suite(p, 600, 1, 2);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, comm);
    CT_EXPECT(dir[0] != '\0');

    /* A: the whole world, groups of one rank */
    ct_study_settings s;
    settings(&s, dir, "A");
    int complete = 0;
    double t0 = MPI_Wtime();
    CT_EXPECT_OK(ct_study_run(&s, comm, &complete));
    CT_EXPECT(complete == 1);
    if (rank == 0)
        fprintf(stderr, "study A: %.1f s on %d rank(s)\n", MPI_Wtime() - t0, size);

    /* B: stopped after 5 trainings, then resumed */
    settings(&s, dir, "B");
    s.max_tasks = 5;
    CT_EXPECT_OK(ct_study_run(&s, comm, &complete));
    CT_EXPECT(complete == 0);
    /* fine-tunings and baselines run seed by seed: the 3 of this stopped run
     * (of 12 per seed) are all seed 0's */
    if (rank == 0) {
        char p[300];
        snprintf(p, sizeof p, "%s/B/tasks", dir);
        DIR *dd = opendir(p);
        int n_s0 = 0, n_s1 = 0;
        for (struct dirent *e; dd && (e = readdir(dd));) {
            n_s0 += strstr(e->d_name, "_s0.txt") != NULL;
            n_s1 += strstr(e->d_name, "_s1.txt") != NULL;
        }
        if (dd)
            closedir(dd);
        CT_EXPECT(n_s0 >= 1 && n_s1 == 0);
    }
    /* running again without --resume refuses to overwrite */
    CT_EXPECT(ct_study_run(&s, comm, &complete) == CT_ERR_STATE);
    ct_error_clear();
    s.max_tasks = 0;
    s.resume = 1;
    CT_EXPECT_OK(ct_study_run(&s, comm, &complete));
    CT_EXPECT(complete == 1);

    if (rank == 0) {
        char p[300];
        snprintf(p, sizeof p, "%s/A/results.csv", dir);
        char *a = slurp(p);
        snprintf(p, sizeof p, "%s/B/results.csv", dir);
        char *b = slurp(p);
        CT_EXPECT(a && b && !strcmp(a, b)); /* resumed == uninterrupted, bit for bit */
        /* rows: 3 params x 3 budgets x 2 seeds x 4 kinds + 2 pretraining rows + 2
         * rows of the bottleneck pretraining */
        int lines = 0;
        for (char *q = a; q && *q; q++)
            lines += *q == '\n';
        CT_EXPECT(lines == 1 + 3 * 3 * 2 * 4 + 2 + 2);
        /* the pretraining with the narrow layer trains: test R2 of Omega_m and
         * sigma_8 well above 0 (the plain pretraining reaches ~0.9 here) */
        for (const char *q = a; q && (q = strstr(q, "\nLCDM,pk,bottleneck,")); q++) {
            const char *c = q;
            for (int k = 0; k < 8 && c; k++)
                c = strchr(c + 1, ',');
            double r2 = c ? atof(c + 1) : -1;
            CT_EXPECT(r2 > 0.5);
        }
        CT_EXPECT(strstr(a, "\nLCDM,pk,bottleneck,"));
        /* the bottleneck: pretrained with a last hidden layer of bottleneck_width
         * units; its fine-tuned network keeps the body up to and including that
         * layer bitwise and frozen, with a head of head_width units on top */
        ct_mlp *bn = NULL, *ft = NULL;
        snprintf(p, sizeof p, "%s/A/models/pretrain_bottleneck_pk_g0.h5", dir);
        CT_EXPECT_OK(ct_mlp_load(&bn, p, MPI_COMM_SELF));
        snprintf(p, sizeof p, "%s/A/models/NU_pk_bottleneck_b400_s0.h5", dir);
        CT_EXPECT_OK(ct_mlp_load(&ft, p, MPI_COMM_SELF));
        CT_EXPECT(bn && bn->n_layers == 4 && bn->dims[3] == 4);
        CT_EXPECT(ft && ft->n_layers == 5 && ft->dims[3] == 4 && ft->dims[4] == 16 &&
                  ft->dims[5] == 3);
        if (bn && ft && ft->n_layers == 5) {
            size_t body = bn->offset[3]; /* layers 0..2: up to the narrow layer */
            CT_EXPECT(ft->offset[3] == body);
            CT_EXPECT(!memcmp(ft->params, bn->params, body * sizeof(double)));
            CT_EXPECT(ft->frozen[0] && ft->frozen[1] && ft->frozen[2] && !ft->frozen[3] &&
                      !ft->frozen[4]);
        }
        ct_mlp_destroy(&bn);
        ct_mlp_destroy(&ft);
        /* the known answer: at the smallest budget the dummy-node transfer
         * has a lower test MSE than scratch for Omega_m and sigma_8 */
        snprintf(p, sizeof p, "%s/A/report.md", dir);
        char *rep = slurp(p);
        const char *want = "Better than scratch at small budgets: Omega_m, sigma_8;";
        char *line = rep ? strstr(rep, "- NU, pk, dummy:") : NULL;
        char *eol = line ? strchr(line, '\n') : NULL;
        char *hit = line ? strstr(line, want) : NULL;
        CT_EXPECT(line && hit && hit < eol);
        if (!(line && hit && hit < eol)) {
            char *l = strstr(rep, "## Summary of this run");
            fprintf(stderr, "%.*s\n", l ? 1500 : 0, l ? l : "");
        }
        CT_EXPECT(rep && strstr(rep, "Comparison with the published findings"));
        /* SHAP and CKA state their sample counts and the spread over both seeds */
        CT_EXPECT(rep && strstr(rep, "permutation SHAP over 4 test simulations"));
        CT_EXPECT(rep && strstr(rep, "over 2 seeds of the fine-tuning (mean ± sd)"));
        CT_EXPECT(rep && strstr(rep, "over 2 seeds: mean off-diagonal"));
        CT_EXPECT(rep && !strncmp(strstr(rep, "## ") ? strstr(rep, "## ") : "", "## Verdict", 10));
        free(a);
        free(b);
        free(rep);
    }
    /* C: the same study on rank 0 alone gives the same table (one rank per
     * training either way) */
    if (size > 1) {
        if (rank == 0) {
            settings(&s, dir, "C");
            CT_EXPECT_OK(ct_study_run(&s, MPI_COMM_SELF, &complete));
            char p[300];
            snprintf(p, sizeof p, "%s/A/results.csv", dir);
            char *a = slurp(p);
            snprintf(p, sizeof p, "%s/C/results.csv", dir);
            char *c = slurp(p);
            CT_EXPECT(a && c && !strcmp(a, c));
            free(a);
            free(c);
        }
        MPI_Barrier(comm);
    }
    /* D: data parallel inside one group of every rank, with the combined
     * baseline (sharded pooled data): completes, every metric finite */
    if (size > 1) {
        settings(&s, dir, "D");
        s.group_size = size;
        s.nseeds = 1;
        s.arch[CT_ARCH_FROZEN] = s.arch[CT_ARCH_BOTTLENECK] = 0;
        s.arch[CT_ARCH_COMBINED] = 1;
        s.shap_samples = 0;
        /* one allreduce per step: keep the step count small on shared cores */
        s.pre.epochs = s.fine.epochs = 10;
        s.fine.trials = 1;
        s.nbudgets = 2;
        s.budgets[1] = 60;
        double t1 = MPI_Wtime();
        CT_EXPECT_OK(ct_study_run(&s, comm, &complete));
        if (rank == 0)
            fprintf(stderr, "study D: %.1f s in one group of %d ranks\n", MPI_Wtime() - t1, size);
        CT_EXPECT(complete == 1);
        if (rank == 0) {
            char p[300];
            snprintf(p, sizeof p, "%s/D/results.csv", dir);
            char *d = slurp(p);
            int lines = 0, bad = 0;
            for (char *q = d; q && *q; q++)
                lines += *q == '\n';
            bad = !d || strstr(d, "nan") || strstr(d, "inf");
            /* 3 params x 2 budgets x 1 seed x 3 kinds + 2 pretraining rows (no
             * bottleneck here) */
            CT_EXPECT(lines == 1 + 3 * 2 * 3 + 2);
            CT_EXPECT(!bad);
            free(d);
        }
    }
    if (rank == 0 && ct_test_failures == 0 && !getenv("CT_KEEP_TMP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    CT_TEST_END();
}
