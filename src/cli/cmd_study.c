/* cosmotl study CONFIG [--resume] [--out DIR] [--max-tasks N] [--no-plots]:
 * the pretrain -> fine-tune transfer study (docs/study.md). The driver reads
 * the INI file into ct_study_settings and calls ct_study_run. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/study.h"

static void help(void)
{
    printf("usage: cosmotl study CONFIG [--resume] [--out DIR] [--tables DIR] [--max-tasks N]\n"
           "                     [--no-plots]\n\n"
           "Pretrain on the ΛCDM suite (with dummy outputs), fine-tune on every target suite,\n"
           "statistic, architecture, budget and seed, with scratch and combined baselines;\n"
           "write OUT/results.h5, OUT/results.csv, OUT/report.md and OUT/plots/.\n\n"
           "  --resume       continue a study in OUT: run only the missing trainings\n"
           "  --out DIR      output directory (overrides [study] out)\n"
           "  --tables DIR   resolve relative suite paths in DIR (a pipeline's tables)\n"
           "  --max-tasks N  run at most N trainings, then stop (continue with --resume)\n"
           "  --no-plots     do not run tools/plot-study at the end\n\n"
           "Trainings run on rank groups of [study] group_size ranks. See docs/study.md for\n"
           "the configuration keys and how to read the report.\n");
}

/* "${NAME}" in a path: the environment (an unset variable is an error).
 * Relative results are taken relative to the config file's directory. */
static const char *tables_dir = NULL; /* --tables: where relative suite paths resolve */

static ct_status expand_path(const ct_config *cfg, const char *in, char *out, size_t cap,
                             int is_suite)
{
    char buf[CT_STUDY_PATH];
    size_t o = 0;
    for (const char *p = in; *p;) {
        if (o + 1 >= sizeof buf)
            CT_FAIL(CT_ERR_CONFIG, "%s: path '%.200s...' is too long (at most %zu characters)",
                    ct_config_path(cfg), in, sizeof buf - 1);
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                CT_FAIL(CT_ERR_CONFIG, "%s: unterminated ${ in '%s'", ct_config_path(cfg), in);
            char name[128];
            size_t n = (size_t)(end - p - 2);
            if (n >= sizeof name)
                CT_FAIL(CT_ERR_CONFIG, "%s: '%.200s': a ${NAME} longer than %zu characters",
                        ct_config_path(cfg), in, sizeof name - 1);
            memcpy(name, p + 2, n);
            name[n] = '\0';
            const char *v = getenv(name);
            if (!v)
                CT_FAIL(CT_ERR_CONFIG, "%s: '%s' uses ${%s}, which is not set",
                        ct_config_path(cfg), in, name);
            if (strlen(v) >= sizeof buf - o)
                CT_FAIL(CT_ERR_CONFIG, "%s: path '%.200s' is too long once ${%s} is expanded (at "
                        "most %zu characters)", ct_config_path(cfg), in, name, sizeof buf - 1);
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", v);
            p = end + 1;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = '\0';
    int n;
    if (buf[0] != '/' && is_suite && tables_dir)
        n = snprintf(out, cap, "%s/%s", tables_dir, buf);
    else if (buf[0] == '/' || !strcmp(ct_config_dir(cfg), "."))
        n = snprintf(out, cap, "%s", buf);
    else
        n = snprintf(out, cap, "%s/%s", ct_config_dir(cfg), buf);
    if (n < 0 || (size_t)n >= cap)
        CT_FAIL(CT_ERR_CONFIG, "%s: path '%s' is too long", ct_config_path(cfg), in);
    return CT_OK;
}

/* comma-separated names; *n on input is the capacity */
static ct_status name_list(const ct_config *cfg, const char *section, const char *key,
                           const char *text, char (*out)[CT_STUDY_NAME], int *n)
{
    int cap = *n;
    *n = 0;
    char buf[2048];
    if (ct_snprintf(buf, sizeof buf, "%s", text) != CT_OK)
        CT_FAIL(CT_ERR_CONFIG, "%s: %s.%s is longer than %zu characters", ct_config_path(cfg),
                section, key, sizeof buf - 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (*n >= cap)
            CT_FAIL(CT_ERR_CONFIG, "%s: %s.%s lists more than %d entries", ct_config_path(cfg),
                    section, key, cap);
        if (strlen(tok) >= CT_STUDY_NAME)
            CT_FAIL(CT_ERR_CONFIG, "%s: %s.%s: name '%s' is too long", ct_config_path(cfg),
                    section, key, tok);
        snprintf(out[(*n)++], CT_STUDY_NAME, "%s", tok);
    }
    return CT_OK;
}

/* sec.hidden = W, W, ...: the hidden widths (unchanged when the key is absent) */
static ct_status read_hidden(ct_config *cfg, const char *sec, ct_study_train *t)
{
    const char *str;
    CT_CHECK(ct_config_string(cfg, sec, "hidden", NULL, &str));
    if (!str)
        return CT_OK;
    char buf[512];
    if (ct_snprintf(buf, sizeof buf, "%s", str) != CT_OK)
        CT_FAIL(CT_ERR_CONFIG, "%s: %s.hidden is longer than %zu characters", ct_config_path(cfg),
                sec, sizeof buf - 1);
    t->nhidden = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        char *end = NULL;
        long w = strtol(tok, &end, 10);
        if (*end || w < 1 || w > 100000 || t->nhidden >= CT_STUDY_MAX_LAYERS - 1)
            CT_FAIL(CT_ERR_CONFIG, "%s: %s.hidden = '%s' is not a list of widths",
                    ct_config_path(cfg), sec, str);
        t->hidden[t->nhidden++] = (int)w;
    }
    if (t->nhidden < 1)
        CT_FAIL(CT_ERR_CONFIG, "%s: %s.hidden is empty", ct_config_path(cfg), sec);
    return CT_OK;
}

static ct_status read_train(ct_config *cfg, const char *sec, ct_study_train *t, int hidden_ok)
{
    long v;
    int k;
    double d;
    if (hidden_ok) {
        CT_CHECK(read_hidden(cfg, sec, t));
        CT_CHECK(ct_config_double(cfg, sec, "dropout", t->dropout, 0, 0.95, &t->dropout));
        CT_CHECK(ct_config_double(cfg, sec, "leaky_slope", t->leaky_slope, 0, 1,
                                  &t->leaky_slope));
    }
    CT_CHECK(ct_config_int(cfg, sec, "epochs", t->epochs, 1, 1000000, &v));
    t->epochs = (int)v;
    CT_CHECK(ct_config_int(cfg, sec, "patience", t->patience, 0, 1000000, &v));
    t->patience = (int)v;
    CT_CHECK(ct_config_int(cfg, sec, "batch", t->batch, 1, 1 << 20, &v));
    t->batch = (int)v;
    CT_CHECK(ct_config_double(cfg, sec, "lr", t->lr, 1e-12, 10, &d));
    t->lr = d;
    CT_CHECK(ct_config_double(cfg, sec, "weight_decay", t->weight_decay, 0, 100, &d));
    t->weight_decay = d;
    CT_CHECK(ct_config_int(cfg, sec, "trials", t->trials, 0, 100000, &v));
    t->trials = (int)v;
    CT_CHECK(ct_config_double(cfg, sec, "lr_min", t->lr_min, 1e-12, 10, &t->lr_min));
    CT_CHECK(ct_config_double(cfg, sec, "lr_max", t->lr_max, t->lr_min, 10, &t->lr_max));
    CT_CHECK(ct_config_double(cfg, sec, "wd_min", t->wd_min, 1e-14, 100, &t->wd_min));
    CT_CHECK(ct_config_double(cfg, sec, "wd_max", t->wd_max, t->wd_min, 100, &t->wd_max));
    static const char *precs[] = {"float64", "float32", NULL};
    CT_CHECK(ct_config_choice(cfg, sec, "precision", precs[t->precision], precs, &k));
    t->precision = (ct_nn_precision)k;
    return CT_OK;
}

/* [pretrain.<statistic>]: that statistic's pretraining network, overriding
 * [pretrain] hidden, dropout, lr and weight_decay (the searches give each
 * statistic its own best point). Any other key in the section, or a section
 * for a statistic the study does not run, is an unknown key
 * (ct_config_check_unused). */
static ct_status read_pretrain_overrides(ct_config *cfg, ct_study_settings *s)
{
    for (int i = 0; i < s->nstats; i++) {
        char sec[CT_STUDY_NAME + 16];
        snprintf(sec, sizeof sec, "pretrain.%s", s->stats[i]);
        s->pre_stat_set[i] = 0;
        if (!ct_config_has_section(cfg, sec))
            continue;
        ct_study_train *t = &s->pre_stat[i];
        *t = s->pre;
        CT_CHECK(read_hidden(cfg, sec, t));
        CT_CHECK(ct_config_double(cfg, sec, "dropout", t->dropout, 0, 0.95, &t->dropout));
        CT_CHECK(ct_config_double(cfg, sec, "lr", t->lr, 1e-12, 10, &t->lr));
        CT_CHECK(ct_config_double(cfg, sec, "weight_decay", t->weight_decay, 0, 100,
                                  &t->weight_decay));
        s->pre_stat_set[i] = 1;
    }
    return CT_OK;
}

static ct_status read_suite(ct_config *cfg, const char *sec, const char *defname,
                            ct_study_suite *su)
{
    const char *str;
    CT_CHECK(ct_config_string(cfg, sec, "suite", NULL, &str));
    if (!str)
        CT_FAIL(CT_ERR_CONFIG, "%s: [%s] needs suite = PATH (a suite table)",
                ct_config_path(cfg), sec);
    CT_CHECK(expand_path(cfg, str, su->path, sizeof su->path, 1));
    CT_CHECK(ct_config_string(cfg, sec, "name", defname, &str));
    snprintf(su->name, sizeof su->name, "%s", str);
    CT_CHECK(ct_config_string(cfg, sec, "params", NULL, &str));
    if (!str)
        CT_FAIL(CT_ERR_CONFIG, "%s: [%s] needs params = NAME, NAME, ... (parameters to infer)",
                ct_config_path(cfg), sec);
    su->nparam = CT_STUDY_MAX_PARAMS;
    CT_CHECK(name_list(cfg, sec, "params", str, su->params, &su->nparam));
    for (int p = 0; p < su->nparam; p++)
        if (strlen(su->params[p]) >= CT_NN_NAME_MAX)
            CT_FAIL(CT_ERR_CONFIG, "%s: [%s] params: name '%s' is longer than %d characters",
                    ct_config_path(cfg), sec, su->params[p], CT_NN_NAME_MAX - 1);
    /* prior_NAME = lo, hi: this suite's scaling range of NAME */
    su->npriors = 0;
    for (int p = 0; p < su->nparam; p++) {
        char key[CT_STUDY_NAME + 8];
        snprintf(key, sizeof key, "prior_%s", su->params[p]);
        if (!ct_config_has(cfg, sec, key))
            continue;
        double lh[2];
        int m = 2;
        CT_CHECK(ct_config_doubles(cfg, sec, key, lh, &m));
        if (m != 2 || !(lh[1] > lh[0]))
            CT_FAIL(CT_ERR_CONFIG, "%s: %s.%s must be 'lo, hi' with lo < hi",
                    ct_config_path(cfg), sec, key);
        ct_study_prior *pr = &su->priors[su->npriors++];
        snprintf(pr->name, sizeof pr->name, "%s", su->params[p]);
        pr->lo = lh[0];
        pr->hi = lh[1];
    }
    return CT_OK;
}

static ct_status read_settings(ct_config *cfg, ct_study_settings *s)
{
    const char *str;
    long v;
    int b;
    const char *S = "study";
    CT_CHECK(ct_config_string(cfg, S, "out", "study-results", &str));
    CT_CHECK(expand_path(cfg, str, s->out, sizeof s->out, 0));
    CT_CHECK(ct_config_string(cfg, S, "statistics", "pk", &str));
    s->nstats = CT_STUDY_MAX_STATS;
    CT_CHECK(name_list(cfg, S, "statistics", str, s->stats, &s->nstats));
    CT_CHECK(ct_config_double(cfg, S, "kmax", s->kmax, 0, 100, &s->kmax));
    CT_CHECK(ct_config_bool(cfg, S, "log10", s->log10_inputs, &s->log10_inputs));
    char list[CT_ARCH_COUNT][CT_STUDY_NAME];
    int n = CT_ARCH_COUNT;
    for (int a = 0; a < CT_ARCH_COUNT; a++)
        s->arch[a] = 0;
    CT_CHECK(ct_config_string(cfg, S, "architectures", "dummy, nodummy, frozen, bottleneck",
                              &str));
    CT_CHECK(name_list(cfg, S, "architectures", str, list, &n));
    for (int i = 0; i < n; i++) {
        int a = ct_study_arch_parse(list[i]);
        if (a < 0 || a > CT_ARCH_BOTTLENECK)
            CT_FAIL(CT_ERR_CONFIG,
                    "%s: study.architectures: unknown '%s' (dummy, nodummy, frozen, bottleneck)",
                    ct_config_path(cfg), list[i]);
        s->arch[a] = 1;
    }
    n = CT_ARCH_COUNT;
    CT_CHECK(ct_config_string(cfg, S, "baselines", "scratch, combined", &str));
    CT_CHECK(name_list(cfg, S, "baselines", str, list, &n));
    for (int i = 0; i < n; i++) {
        int a = ct_study_arch_parse(list[i]);
        if (a != CT_ARCH_SCRATCH && a != CT_ARCH_COMBINED)
            CT_FAIL(CT_ERR_CONFIG, "%s: study.baselines: unknown '%s' (scratch, combined)",
                    ct_config_path(cfg), list[i]);
        s->arch[a] = 1;
    }
    if (ct_config_has(cfg, S, "budgets")) {
        double bd[CT_STUDY_MAX_BUDGETS];
        n = CT_STUDY_MAX_BUDGETS;
        CT_CHECK(ct_config_doubles(cfg, S, "budgets", bd, &n));
        if (n < 1)
            CT_FAIL(CT_ERR_CONFIG, "%s: study.budgets is empty", ct_config_path(cfg));
        for (int i = 0; i < n; i++) {
            if (bd[i] < 4 || bd[i] > 1e9 || bd[i] != (double)(long)bd[i])
                CT_FAIL(CT_ERR_CONFIG, "%s: study.budgets: %g is not an integer >= 4",
                        ct_config_path(cfg), bd[i]);
            s->budgets[i] = (int)bd[i];
        }
        s->nbudgets = n;
    } else {
        ct_config_string(cfg, S, "budgets", "50,100,200,500,1000,2000", &str);
    }
    CT_CHECK(ct_config_int(cfg, S, "seeds", s->nseeds, 1, 1000, &v));
    s->nseeds = (int)v;
    CT_CHECK(ct_config_int(cfg, S, "seed", (long)s->seed, 0, 1L << 62, &v));
    s->seed = (uint64_t)v;
    CT_CHECK(ct_config_double(cfg, S, "test_fraction", s->test_fraction, 0.01, 0.9,
                              &s->test_fraction));
    CT_CHECK(ct_config_double(cfg, S, "val_fraction", s->val_fraction, 0.01, 0.9,
                              &s->val_fraction));
    static const char *const dm[] = {"max", "per_target", NULL};
    CT_CHECK(ct_config_choice(cfg, S, "dummy_outputs", "max", dm, &b));
    s->dummy_mode = (ct_dummy_mode)b;
    CT_CHECK(ct_config_int(cfg, S, "bottleneck_width", s->bottleneck_width, 1, 100000, &v));
    s->bottleneck_width = (int)v;
    CT_CHECK(ct_config_int(cfg, S, "head_width", s->head_width, 0, 100000, &v));
    s->head_width = (int)v;
    CT_CHECK(ct_config_int(cfg, S, "group_size", s->group_size, 1, 1 << 20, &v));
    s->group_size = (int)v;
    CT_CHECK(ct_config_bool(cfg, S, "smoke", 0, &s->smoke));
    CT_CHECK(ct_config_string(cfg, S, "about", NULL, &str));
    s->about[0] = '\0';
    if (str) {
        CT_CHECK(expand_path(cfg, str, s->about, sizeof s->about, 0));
        char *text = NULL;
        size_t len = 0;
        ct_status rs = ct_read_text(s->about, &text, &len);
        free(text);
        if (rs != CT_OK)
            CT_FAIL(CT_ERR_CONFIG, "%s: study.about: %s", ct_config_path(cfg),
                    ct_error_message());
    }
    /* suites */
    CT_CHECK(read_suite(cfg, "pretrain", "pretrain", &s->pretrain));
    CT_CHECK(read_train(cfg, "pretrain", &s->pre, 1));
    CT_CHECK(read_pretrain_overrides(cfg, s));
    CT_CHECK(read_train(cfg, "finetune", &s->fine, 0));
    /* the fine-tuned networks keep the pretraining architecture */
    s->fine.nhidden = s->pre.nhidden;
    memcpy(s->fine.hidden, s->pre.hidden, sizeof s->pre.hidden);
    s->fine.dropout = s->pre.dropout;
    s->fine.leaky_slope = s->pre.leaky_slope;
    CT_CHECK(ct_config_string(cfg, S, "targets", NULL, &str));
    if (!str)
        CT_FAIL(CT_ERR_CONFIG, "%s: study.targets must name the target sections "
                               "([target.NAME])", ct_config_path(cfg));
    char tn[CT_STUDY_MAX_TARGETS][CT_STUDY_NAME];
    s->ntargets = CT_STUDY_MAX_TARGETS;
    CT_CHECK(name_list(cfg, S, "targets", str, tn, &s->ntargets));
    for (int t = 0; t < s->ntargets; t++) {
        char sec[CT_STUDY_NAME + 16];
        snprintf(sec, sizeof sec, "target.%s", tn[t]);
        if (!ct_config_has_section(cfg, sec))
            CT_FAIL(CT_ERR_CONFIG, "%s: study.targets names '%s' but there is no [%s] section",
                    ct_config_path(cfg), tn[t], sec);
        CT_CHECK(read_suite(cfg, sec, tn[t], &s->targets[t]));
    }
    /* priors: [priors] NAME = lo, hi for any parameter in play */
    s->npriors = 0;
    const ct_study_suite *all[CT_STUDY_MAX_TARGETS + 1];
    all[0] = &s->pretrain;
    for (int t = 0; t < s->ntargets; t++)
        all[t + 1] = &s->targets[t];
    for (int k = 0; k <= s->ntargets; k++)
        for (int p = 0; p < all[k]->nparam; p++) {
            const char *name = all[k]->params[p];
            int dup = 0;
            for (int i = 0; i < s->npriors; i++)
                dup |= !strcmp(s->priors[i].name, name);
            if (dup || !ct_config_has(cfg, "priors", name))
                continue;
            double lh[2];
            int m = 2;
            CT_CHECK(ct_config_doubles(cfg, "priors", name, lh, &m));
            if (m != 2 || !(lh[1] > lh[0]))
                CT_FAIL(CT_ERR_CONFIG, "%s: priors.%s must be 'lo, hi' with lo < hi",
                        ct_config_path(cfg), name);
            if (s->npriors >= 2 * CT_STUDY_MAX_PARAMS)
                CT_FAIL(CT_ERR_CONFIG, "%s: too many priors", ct_config_path(cfg));
            ct_study_prior *pr = &s->priors[s->npriors++];
            snprintf(pr->name, sizeof pr->name, "%s", name);
            pr->lo = lh[0];
            pr->hi = lh[1];
        }
    /* analyses */
    const char *A = "analysis";
    CT_CHECK(ct_config_int(cfg, A, "shap_samples", s->shap_samples, 0, 1000000, &v));
    s->shap_samples = (int)v;
    CT_CHECK(ct_config_int(cfg, A, "shap_background", s->shap_background, 1, 1000000, &v));
    s->shap_background = (int)v;
    static const char *const sm[] = {"auto", "exact", "permutation", NULL};
    CT_CHECK(ct_config_choice(cfg, A, "shap_method", "auto", sm, &b));
    s->shap.method = (ct_shap_method)b;
    CT_CHECK(ct_config_int(cfg, A, "shap_permutations", s->shap.permutations, 2, 1000000, &v));
    s->shap.permutations = (int)v;
    CT_CHECK(ct_config_int(cfg, A, "cka_samples", s->cka_samples, 0, 1000000, &v));
    s->cka_samples = (int)v;
    return CT_OK;
}

int cmd_study(int argc, char **argv, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    const char *config = NULL, *out = NULL;
    int resume = 0, plots = 1;
    long max_tasks = 0;
    for (int i = 1; i < argc; i++) {
        if (ct_cli_is_help(argv[i])) {
            if (rank == 0)
                help();
            return 0;
        } else if (!strcmp(argv[i], "--resume")) {
            resume = 1;
        } else if (!strcmp(argv[i], "--no-plots")) {
            plots = 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--tables") && i + 1 < argc) {
            tables_dir = argv[++i];
        } else if (!strcmp(argv[i], "--max-tasks") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 1, 1L << 40, &max_tasks))
                return ct_cli_usage_error("study", comm, "--max-tasks needs a positive integer");
        } else if (argv[i][0] == '-') {
            return ct_cli_usage_error("study", comm, "unknown option '%s'", argv[i]);
        } else if (!config) {
            config = argv[i];
        } else {
            return ct_cli_usage_error("study", comm, "more than one CONFIG given");
        }
    }
    if (!config)
        return ct_cli_usage_error("study", comm, "missing CONFIG");
    ct_config *cfg = NULL;
    ct_study_settings s;
    ct_study_defaults(&s);
    ct_status rc = ct_config_load(&cfg, config, comm);
    if (rc == CT_OK)
        rc = read_settings(cfg, &s);
    int do_plots = plots;
    if (rc == CT_OK)
        rc = ct_config_bool(cfg, "study", "plots", 1, &do_plots);
    if (rc == CT_OK)
        rc = ct_config_check_unused(cfg);
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK) {
        ct_config_destroy(&cfg);
        return ct_cli_fail("study", comm);
    }
    if (rc == CT_OK && out && ct_snprintf(s.out, sizeof s.out, "%s", out) != CT_OK)
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "--out %.200s...: longer than %zu "
                          "characters", out, sizeof s.out - 1);
    if (rc != CT_OK) {
        ct_config_destroy(&cfg);
        return ct_cli_fail("study", comm);
    }
    s.resume = resume;
    s.max_tasks = max_tasks;
    s.config = cfg;
    /* one BLAS thread per rank when several ranks share the cores, unless the
     * user chose otherwise */
    int size;
    MPI_Comm_size(comm, &size);
    if (size > 1 && !getenv("OPENBLAS_NUM_THREADS"))
        ct_nn_set_threads(1);
    int complete = 0;
    /* SLURM sends SIGTERM, then SIGKILL after KillWait (default 30 s): start no
     * new training, let the running ones end and be saved, exit 143; a training
     * still running 25 s after the signal is abandoned (redone by --resume) */
    ct_stop_on_sigterm(25);
    rc = ct_study_run(&s, comm, &complete);
    if (ct_stop_agree(comm) && !complete) {
        if (rc != CT_OK)
            ct_cli_fail("study", comm);
        else if (rank == 0)
            fprintf(stderr, "cosmotl study: stopped by SIGTERM; finished trainings are saved "
                    "in %s; run again with --resume to continue\n", s.out);
        ct_config_destroy(&cfg);
        return 128 + SIGTERM;
    }
    if (rc != CT_OK) {
        ct_config_destroy(&cfg);
        return ct_cli_fail("study", comm);
    }
    if (complete && rank == 0) {
        if (plots && do_plots) {
            char cmd[2 * CT_STUDY_PATH + 256], data[CT_STUDY_PATH];
            int ok = ct_data_dir(data, sizeof data) == CT_OK;
            if (ok)
                snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tools/plot-study' '%s' >&2", data,
                         s.out);
            else
                ct_warn("study: %s", ct_error_message());
            if (!ok || system(cmd) != 0)
                ct_warn("study: tools/plot-study failed; the results are complete, only the "
                        "plots are missing");
        }
        ct_info("study: wrote %s/results.h5, results.csv and report.md", s.out);
        printf("%s/report.md\n", s.out);
    }
    ct_config_destroy(&cfg);
    return 0;
}

ct_status cli_study_read_config(ct_config *cfg)
{
    ct_study_settings *s = NULL;
    CT_CHECK(ct_calloc(&s, 1, sizeof *s, "study settings"));
    ct_study_defaults(s);
    int plots = 1;
    ct_status rc = read_settings(cfg, s);
    if (rc == CT_OK)
        rc = ct_config_bool(cfg, "study", "plots", 1, &plots);
    if (rc == CT_OK)
        rc = ct_config_check_unused(cfg);
    free(s);
    return rc;
}
