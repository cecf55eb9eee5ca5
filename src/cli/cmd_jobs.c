/* cosmotl jobs: SLURM batch scripts (and their submission) for a pipeline config. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cosmotl/batch.h"

static void usage(void)
{
    printf("usage: cosmotl jobs CONFIG [--scheduler slurm] [--submit] [--out DIR]\n"
           "                    [--templates DIR] [--sbatch PROGRAM]\n\n"
           "Write SLURM batch scripts for a pipeline config (configs/pipelines/*.ini):\n"
           "per suite a simulate job array (if the suite is simulated), a summarize job\n"
           "array over its snapshots and a gather job, then one study job, chained with\n"
           "--dependency=afterok. Scripts go to OUT/jobs/ (with submit.sh to submit the\n"
           "chain by hand), one log per array task to OUT/logs/.\n\n"
           "  --scheduler slurm  the only scheduler supported\n"
           "  --submit           submit the chain with sbatch --parsable; job ids are\n"
           "                     printed and written to OUT/jobs/submitted.tsv\n"
           "  --out DIR          output root (default: [pipeline] out, relative to the\n"
           "                     current directory)\n"
           "  --templates DIR    job templates (default: [pipeline] templates, else the\n"
           "                     jobs/ folder of cosmotl's data folder: COSMOTL_DATADIR,\n"
           "                     else ../share/cosmotl beside the program)\n"
           "  --sbatch PROGRAM   the sbatch to run (default: sbatch from PATH)\n\n"
           "Relative paths inside the config are relative to the config's folder.\n"
           "Commands that process items (simulate, summarize) skip complete outputs and\n"
           "record failures in OUT/.../manifest.tsv, so resubmitting redoes only what is\n"
           "missing.\n");
}

/* *out = base/p unless p is absolute (malloc'd, any length; replaces *out);
 * base must be absolute. */
static ct_status absolute(char **out, const char *base, const char *p)
{
    free(*out);
    *out = NULL;
    if (!p || !*p)
        return ct_asprintf(out, "%s", "");
    CT_CHECK(p[0] == '/' ? ct_asprintf(out, "%s", p) : ct_asprintf(out, "%s/%s", base, p));
    /* drop "/./" and a trailing "/." for readable scripts */
    char *q;
    while ((q = strstr(*out, "/./")))
        memmove(q, q + 2, strlen(q + 2) + 1);
    size_t len = strlen(*out);
    if (len > 2 && !strcmp(*out + len - 2, "/."))
        (*out)[len - 2] = '\0';
    return CT_OK;
}

static ct_status copy_word(char *dst, size_t cap, const char *v, const char *file,
                           const char *what)
{
    if (strlen(v) >= cap)
        CT_FAIL(CT_ERR_CONFIG, "%s: %s is too long", file, what);
    snprintf(dst, cap, "%s", v);
    return CT_OK;
}

static ct_status read_resources(ct_config *cfg, const char *sec, ct_job_resources *r)
{
    const char *file = ct_config_path(cfg);
    const char *v;
#define WORD(key, field)                                                          \
    if (ct_config_has(cfg, sec, key)) {                                           \
        CT_CHECK(ct_config_string(cfg, sec, key, "", &v));                        \
        CT_CHECK(copy_word(r->field, sizeof r->field, v, file, "[" key "]"));     \
    }
#define NUM(key, field, lo)                                                       \
    if (ct_config_has(cfg, sec, key))                                             \
        CT_CHECK(ct_config_int(cfg, sec, key, r->field, lo, 1000000, &r->field));
    WORD("partition", partition);
    WORD("account", account);
    WORD("qos", qos);
    WORD("time", time);
    WORD("mem", mem);
    WORD("srun_mpi", srun_mpi);
    NUM("nodes", nodes, 1);
    NUM("ntasks", ntasks, 1);
    NUM("cpus_per_task", cpus_per_task, 1);
    NUM("max_parallel", max_parallel, 0);
#undef WORD
#undef NUM
    if (ct_config_has(cfg, sec, "launcher")) {
        static const char *const launchers[] = {"srun", "mpirun", NULL};
        int l = 0;
        CT_CHECK(ct_config_choice(cfg, sec, "launcher", "srun", launchers, &l));
        r->launcher = (ct_launcher)l;
    }
    return CT_OK;
}

static ct_status read_pipeline_in(ct_config *cfg, const char *out_arg, const char *tpl_arg,
                                  ct_pipeline *p, const char *cwd, char **cdirp);
static ct_status read_suites(ct_config *cfg, ct_pipeline *p, char *list, const char *cdir);

/* p's paths are freed by ct_pipeline_free, also on failure */
static ct_status read_pipeline(ct_config *cfg, const char *out_arg, const char *tpl_arg,
                               ct_pipeline *p)
{
    char *cwd = getcwd(NULL, 0), *cdir = NULL;
    ct_pipeline_defaults(p);
    if (!cwd)
        CT_FAIL(CT_ERR_IO, "cannot get the current directory");
    ct_status s = read_pipeline_in(cfg, out_arg, tpl_arg, p, cwd, &cdir);
    free(cwd);
    free(cdir);
    return s;
}

static ct_status read_pipeline_in(ct_config *cfg, const char *out_arg, const char *tpl_arg,
                                  ct_pipeline *p, const char *cwd, char **cdirp)
{
    const char *file = ct_config_path(cfg);
    const char *v;
    CT_CHECK(absolute(cdirp, cwd, ct_config_dir(cfg)));
    const char *cdir = *cdirp;
    CT_CHECK(ct_asprintf(&p->origin, "%s", file));

    /* [pipeline]: default name is the config's file name without .ini */
    char defname[CT_JOBS_WORD_MAX];
    const char *base = strrchr(file, '/');
    snprintf(defname, sizeof defname, "%s", base ? base + 1 : file);
    char *dot = strrchr(defname, '.');
    if (dot && dot != defname)
        *dot = '\0';
    CT_CHECK(ct_config_string(cfg, "pipeline", "name", defname, &v));
    CT_CHECK(copy_word(p->name, sizeof p->name, v, file, "[pipeline] name"));
    char defout[CT_JOBS_WORD_MAX + 16];
    snprintf(defout, sizeof defout, "%s-out", p->name);
    CT_CHECK(ct_config_string(cfg, "pipeline", "out", defout, &v));
    CT_CHECK(absolute(&p->out, cwd, out_arg ? out_arg : v));
    size_t ol = strlen(p->out);
    while (ol > 1 && p->out[ol - 1] == '/')
        p->out[--ol] = '\0';
    char self[PATH_MAX] = "cosmotl";
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl > 0)
        self[sl] = '\0';
    CT_CHECK(ct_config_string(cfg, "pipeline", "cosmotl", self, &v));
    if (strchr(v, '/'))
        CT_CHECK(absolute(&p->cosmotl, cdir, v));
    else
        CT_CHECK(ct_asprintf(&p->cosmotl, "%s", v)); /* a program on PATH */
    CT_CHECK(ct_config_string(cfg, "pipeline", "setup", "", &v));
    CT_CHECK(absolute(&p->setup, cdir, v));
    CT_CHECK(ct_config_string(cfg, "pipeline", "templates", "", &v));
    if (tpl_arg)
        CT_CHECK(absolute(&p->templates, cwd, tpl_arg));
    else if (*v)
        CT_CHECK(absolute(&p->templates, cdir, v));
    else {
        char data[PATH_MAX];
        CT_CHECK(ct_data_dir(data, sizeof data));
        CT_CHECK(ct_asprintf(&p->templates, "%s/jobs", data));
    }
    CT_CHECK(ct_config_bool(cfg, "pipeline", "allow_failed", 1, &p->allow_failed));

    /* [slurm] for every stage, then [slurm.STAGE] overrides */
    ct_job_resources common;
    ct_job_resources_defaults(&common);
    CT_CHECK(read_resources(cfg, "slurm", &common));
    for (int s = 0; s < CT_STAGE_COUNT; s++) {
        char sec[32];
        snprintf(sec, sizeof sec, "slurm.%s", ct_stage_name((ct_stage)s));
        p->res[s] = common;
        CT_CHECK(read_resources(cfg, sec, &p->res[s]));
    }

    CT_CHECK(ct_config_int(cfg, "simulate", "ranks_per_sim", 0, 0, 1000000, &p->sim_group_size));
    CT_CHECK(ct_config_string(cfg, "summarize", "stats", "pk", &v));
    CT_CHECK(copy_word(p->stats, sizeof p->stats, v, file, "[summarize] stats"));
    CT_CHECK(ct_config_int(cfg, "summarize", "grid", 256, 2, 1 << 16, &p->grid));
    CT_CHECK(ct_config_string(cfg, "summarize", "mas", "cic", &v));
    CT_CHECK(copy_word(p->mas, sizeof p->mas, v, file, "[summarize] mas"));
    CT_CHECK(ct_config_bool(cfg, "summarize", "interlace", 0, &p->interlace));
    CT_CHECK(ct_config_string(cfg, "summarize", "rsd", "", &v));
    CT_CHECK(copy_word(p->rsd, sizeof p->rsd, v, file, "[summarize] rsd"));
    CT_CHECK(ct_config_int(cfg, "summarize", "ranks_per_snapshot", 0, 0, 1000000,
                           &p->ranks_per_snapshot));
    CT_CHECK(ct_config_string(cfg, "study", "config", "", &v));
    CT_CHECK(absolute(&p->study_config, cdir, v));
    if (*p->study_config && !ct_file_exists(p->study_config))
        CT_FAIL(CT_ERR_CONFIG, "%s: [study] config: %s does not exist", file, p->study_config);

    /* suites, in the order listed */
    CT_CHECK(ct_config_string(cfg, "pipeline", "suites", NULL, &v));
    if (!v || !*v)
        CT_FAIL(CT_ERR_CONFIG, "%s: [pipeline] suites is required (a comma-separated list; "
                "each name has a [suite.NAME] section)", file);
    char *list = NULL;
    CT_CHECK(ct_asprintf(&list, "%s", v));
    ct_status s = read_suites(cfg, p, list, cdir);
    free(list);
    CT_CHECK(s);
    CT_CHECK(ct_config_check_unused(cfg));
    return CT_OK;
}

/* the suites of the comma list, in the order listed (list is cut up) */
static ct_status read_suites(ct_config *cfg, ct_pipeline *p, char *list, const char *cdir)
{
    const char *file = ct_config_path(cfg);
    const char *v;
    char *save = NULL;
    for (char *tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (p->nsuites == CT_PIPELINE_MAX_SUITES)
            CT_FAIL(CT_ERR_CONFIG, "%s: at most %d suites", file, CT_PIPELINE_MAX_SUITES);
        ct_pipeline_suite *u = &p->suite[p->nsuites++];
        char sec[CT_JOBS_WORD_MAX + 16];
        CT_CHECK(copy_word(u->name, sizeof u->name, tok, file, "a suite name"));
        snprintf(sec, sizeof sec, "suite.%s", tok);
        if (!ct_config_has_section(cfg, sec))
            CT_FAIL(CT_ERR_CONFIG, "%s: suite '%s' is listed but has no [%s] section", file,
                    tok, sec);
        CT_CHECK(ct_config_string(cfg, sec, "simulate", "", &v));
        CT_CHECK(absolute(&u->sim_config, cdir, v));
        if (*u->sim_config && !ct_file_exists(u->sim_config))
            CT_FAIL(CT_ERR_CONFIG, "%s: [%s] simulate: %s does not exist", file, sec,
                    u->sim_config);
        CT_CHECK(ct_config_string(cfg, sec, "dir", "", &v));
        if (*v) {
            CT_CHECK(absolute(&u->dir, cdir, v));
            if (!*u->sim_config && !ct_dir_exists(u->dir))
                CT_FAIL(CT_ERR_CONFIG, "%s: [%s] dir: %s is not a folder (give `simulate` "
                        "to create the suite)", file, sec, u->dir);
        } else if (*u->sim_config) {
            CT_CHECK(ct_asprintf(&u->dir, "%s/suites/%s", p->out, u->name));
        } else {
            CT_FAIL(CT_ERR_CONFIG, "%s: [%s] needs `dir` (an existing suite) or `simulate` "
                    "(a suite config)", file, sec);
        }
        CT_CHECK(ct_config_string(cfg, sec, "snapshot", "snapdir_004", &v));
        CT_CHECK(copy_word(u->snapshot, sizeof u->snapshot, v, file, "snapshot"));
        CT_CHECK(ct_config_string(cfg, sec, "range", NULL, &v));
        if (!v || ct_cli_parse_range(v, &u->first, &u->last) != 0)
            CT_FAIL(CT_ERR_CONFIG, "%s: [%s] range must be A:B with 0 <= A < B (simulations "
                    "A..B-1)%s%s", file, sec, v ? ", not " : "", v ? v : "");
        /* default granularity keeps arrays under SLURM's usual MaxArraySize (1001) */
        long n = u->last - u->first, def = (n + 999) / 1000;
        CT_CHECK(ct_config_int(cfg, sec, "sims_per_task", def, 1, 1 << 30, &u->sims_per_task));
        CT_CHECK(ct_config_int(cfg, sec, "snapshots_per_task", def, 1, 1 << 30,
                               &u->snaps_per_task));
    }
    return CT_OK;
}

int cmd_jobs(int argc, char **argv, MPI_Comm comm)
{
    const char *config = NULL, *out = NULL, *templates = NULL, *sbatch = "sbatch";
    int submit = 0;
    int rank;
    MPI_Comm_rank(comm, &rank);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ct_cli_is_help(a)) {
            if (rank == 0)
                usage();
            return 0;
        } else if (!strcmp(a, "--submit")) {
            submit = 1;
        } else if (!strcmp(a, "--scheduler") || !strcmp(a, "--out") ||
                   !strcmp(a, "--templates") || !strcmp(a, "--sbatch")) {
            if (i + 1 >= argc || !*argv[i + 1])
                return ct_cli_usage_error("jobs", comm, "%s needs a value", a);
            const char *val = argv[++i];
            if (!strcmp(a, "--scheduler")) {
                if (strcmp(val, "slurm") != 0)
                    return ct_cli_usage_error("jobs", comm,
                                              "unknown scheduler '%s' (only slurm)", val);
            } else if (!strcmp(a, "--out")) {
                out = val;
            } else if (!strcmp(a, "--templates")) {
                templates = val;
            } else {
                sbatch = val;
            }
        } else if (a[0] == '-') {
            return ct_cli_usage_error("jobs", comm, "unknown option '%s'", a);
        } else if (config) {
            return ct_cli_usage_error("jobs", comm, "one CONFIG only ('%s' is extra)", a);
        } else {
            config = a;
        }
    }
    if (!config)
        return ct_cli_usage_error("jobs", comm, "missing CONFIG");

    ct_config *cfg = NULL;
    ct_pipeline *p = NULL;
    ct_job_plan *plan = NULL;
    ct_status s = ct_config_load(&cfg, config, comm);
    if (s == CT_OK)
        s = ct_calloc(&p, 1, sizeof *p, "pipeline");
    if (s == CT_OK)
        s = ct_calloc(&plan, 1, sizeof *plan, "job plan");
    if (s == CT_OK)
        s = read_pipeline(cfg, out, templates, p);
    long ids[3 * CT_PIPELINE_MAX_SUITES + 1];
    /* the scripts are written and submitted once, by rank 0 */
    if (s == CT_OK && rank == 0) {
        s = ct_jobs_write(p, plan);
        if (s == CT_OK && submit)
            s = ct_jobs_submit(p, plan, sbatch, ids);
    }
    s = ct_agree_msg(comm, s);
    int rc = 0;
    if (s != CT_OK) {
        rc = ct_cli_fail("jobs", comm);
    } else if (rank == 0) {
        for (int i = 0; i < plan->n; i++) {
            const ct_job_script *j = &plan->job[i];
            if (submit)
                printf("#%d submitted %ld  %s", i + 1, ids[i], j->path);
            else
                printf("#%d wrote %s", i + 1, j->path);
            if (j->array_tasks)
                printf("  (array of %ld tasks)", j->array_tasks);
            for (int d = 0; d < j->ndepends; d++) {
                if (submit)
                    printf("%s%ld", d ? "," : "  after ", ids[j->depends[d]]);
                else
                    printf("%s#%d", d ? "," : "  after ", j->depends[d] + 1);
            }
            printf("\n");
        }
        if (submit)
            printf("logs: %s/logs/  job ids: %s/jobs/submitted.tsv\n", p->out, p->out);
        else
            printf("submit with: %s/jobs/submit.sh  (or cosmotl jobs %s --submit)\n", p->out,
                   config);
        fflush(stdout);
    }
    ct_job_plan_free(plan);
    ct_free(&plan);
    ct_pipeline_free(p);
    ct_free(&p);
    ct_config_destroy(&cfg);
    return rc;
}

ct_status cli_jobs_read_config(ct_config *cfg)
{
    ct_pipeline *p = NULL;
    CT_CHECK(ct_calloc(&p, 1, sizeof *p, "pipeline"));
    ct_status rc = read_pipeline(cfg, NULL, NULL, p);
    ct_pipeline_free(p);
    free(p);
    return rc;
}
