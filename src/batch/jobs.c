/* SLURM batch scripts for a pipeline: a header of #SBATCH directives and
 * single-quoted settings, then the shell body of the stage's template (jobs/). */
#include "cosmotl/batch.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *ct_stage_name(ct_stage s)
{
    static const char *const names[CT_STAGE_COUNT] = {"simulate", "summarize", "gather",
                                                      "study"};
    return (s >= 0 && s < CT_STAGE_COUNT) ? names[s] : "unknown";
}

void ct_job_resources_defaults(ct_job_resources *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->time, sizeof r->time, "01:00:00");
    r->nodes = 1;
    r->ntasks = 1;
    r->cpus_per_task = 1;
    r->launcher = CT_LAUNCH_SRUN;
}

/* a pipeline's path: NULL reads as "" */
static const char *S(const char *path) { return path ? path : ""; }

void ct_pipeline_defaults(ct_pipeline *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "pipeline");
    p->allow_failed = 1;
    for (int s = 0; s < CT_STAGE_COUNT; s++)
        ct_job_resources_defaults(&p->res[s]);
    snprintf(p->stats, sizeof p->stats, "pk");
    p->grid = 256;
    snprintf(p->mas, sizeof p->mas, "cic");
}

void ct_pipeline_free(ct_pipeline *p)
{
    if (!p)
        return;
    char **paths[] = {&p->origin, &p->out, &p->cosmotl, &p->setup, &p->templates,
                      &p->study_config};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        free(*paths[k]);
        *paths[k] = NULL;
    }
    for (int i = 0; i < CT_PIPELINE_MAX_SUITES; i++) {
        free(p->suite[i].sim_config);
        free(p->suite[i].dir);
        p->suite[i].sim_config = p->suite[i].dir = NULL;
    }
}

void ct_job_plan_free(ct_job_plan *plan)
{
    if (!plan)
        return;
    for (int i = 0; i < (int)(sizeof plan->job / sizeof plan->job[0]); i++) {
        free(plan->job[i].path);
        plan->job[i].path = NULL;
    }
}

/* ------------------------------------------------------------ validation */

static int only(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

static ct_status check_word(const ct_pipeline *p, const char *what, const char *v,
                            const char *extra, int may_be_empty)
{
    if (!*v && may_be_empty)
        return CT_OK;
    if (!*v || !only(v, extra))
        CT_FAIL(CT_ERR_CONFIG,
                "%s: %s = '%s': only letters, digits and '%s' are allowed here (the value "
                "goes into a job script unquoted)", S(p->origin), what, v, extra);
    return CT_OK;
}

static ct_status check_path(const ct_pipeline *p, const char *what, const char *v,
                            int may_be_empty)
{
    if (!*v && !may_be_empty)
        CT_FAIL(CT_ERR_CONFIG, "%s: %s is required", S(p->origin), what);
    for (const char *c = v; *c; c++)
        if (*c == '\n' || *c == '\r')
            CT_FAIL(CT_ERR_CONFIG, "%s: %s holds a line break", S(p->origin), what);
    return CT_OK;
}

static ct_status check_resources(const ct_pipeline *p, ct_stage st)
{
    const ct_job_resources *r = &p->res[st];
    char what[96];
#define WHAT(k) (snprintf(what, sizeof what, "[slurm.%s] %s", ct_stage_name(st), k), what)
    CT_CHECK(check_word(p, WHAT("partition"), r->partition, "_.,-", 1));
    CT_CHECK(check_word(p, WHAT("account"), r->account, "_.-", 1));
    CT_CHECK(check_word(p, WHAT("qos"), r->qos, "_.-", 1));
    CT_CHECK(check_word(p, WHAT("time"), r->time, ":-", 1));
    CT_CHECK(check_word(p, WHAT("mem"), r->mem, "", 1));
    CT_CHECK(check_word(p, WHAT("srun_mpi"), r->srun_mpi, "_", 1));
    if (r->nodes < 1 || r->ntasks < r->nodes || r->cpus_per_task < 1 || r->max_parallel < 0)
        CT_FAIL(CT_ERR_CONFIG, "%s: [slurm.%s]: need nodes >= 1, ntasks >= nodes, "
                "cpus_per_task >= 1, max_parallel >= 0", S(p->origin), ct_stage_name(st));
    if (r->launcher != CT_LAUNCH_SRUN && r->launcher != CT_LAUNCH_MPIRUN)
        CT_FAIL(CT_ERR_CONFIG, "%s: [slurm.%s] launcher must be srun or mpirun", S(p->origin),
                ct_stage_name(st));
#undef WHAT
    return CT_OK;
}

ct_status ct_pipeline_check(const ct_pipeline *p)
{
    CT_CHECK(check_word(p, "[pipeline] name", p->name, "_.-", 0));
    /* out reaches #SBATCH --output, which sbatch reads without a shell: keep it plain
     * ('%' would be a filename pattern there) */
    CT_CHECK(check_path(p, "[pipeline] out", S(p->out), 0));
    if (S(p->out)[0] != '/')
        CT_FAIL(CT_ERR_CONFIG, "%s: output folder '%s' must be an absolute path", S(p->origin),
                S(p->out));
    CT_CHECK(check_word(p, "[pipeline] out (used in #SBATCH --output)", S(p->out), "/_.+,@=:-", 0));
    CT_CHECK(check_path(p, "[pipeline] cosmotl", p->cosmotl ? p->cosmotl : "cosmotl", 0));
    CT_CHECK(check_path(p, "[pipeline] setup", S(p->setup), 1));
    CT_CHECK(check_path(p, "templates folder", S(p->templates), 0));
    CT_CHECK(check_word(p, "[summarize] stats", p->stats, ",", 0));
    CT_CHECK(check_word(p, "[summarize] mas", p->mas, "", 0));
    CT_CHECK(check_word(p, "[summarize] rsd", p->rsd, "", 1));
    CT_CHECK(check_path(p, "[study] config", S(p->study_config), 1));
    if (p->grid < 2 || p->sim_group_size < 0 || p->ranks_per_snapshot < 0)
        CT_FAIL(CT_ERR_CONFIG, "%s: grid >= 2 and group sizes >= 0 are required", S(p->origin));
    if (p->nsuites < 1 || p->nsuites > CT_PIPELINE_MAX_SUITES)
        CT_FAIL(CT_ERR_CONFIG, "%s: a pipeline needs 1 to %d suites", S(p->origin),
                CT_PIPELINE_MAX_SUITES);
    for (int s = 0; s < CT_STAGE_COUNT; s++)
        CT_CHECK(check_resources(p, (ct_stage)s));
    for (int i = 0; i < p->nsuites; i++) {
        const ct_pipeline_suite *u = &p->suite[i];
        char what[128];
        snprintf(what, sizeof what, "suite name");
        CT_CHECK(check_word(p, what, u->name, "_.-", 0));
        for (int j = 0; j < i; j++)
            if (!strcmp(p->suite[j].name, u->name))
                CT_FAIL(CT_ERR_CONFIG, "%s: suite '%s' is listed twice", S(p->origin), u->name);
        snprintf(what, sizeof what, "[suite.%s] dir", u->name);
        CT_CHECK(check_path(p, what, S(u->dir), 0));
        snprintf(what, sizeof what, "[suite.%s] simulate", u->name);
        CT_CHECK(check_path(p, what, S(u->sim_config), 1));
        snprintf(what, sizeof what, "[suite.%s] snapshot", u->name);
        CT_CHECK(check_path(p, what, u->snapshot, 0));
        if (u->first < 0 || u->last <= u->first)
            CT_FAIL(CT_ERR_CONFIG, "%s: [suite.%s] range %ld:%ld is empty", S(p->origin),
                    u->name, u->first, u->last);
        if (u->sims_per_task < 1 || u->snaps_per_task < 1)
            CT_FAIL(CT_ERR_CONFIG, "%s: [suite.%s] sims_per_task and snapshots_per_task "
                    "must be >= 1", S(p->origin), u->name);
    }
    return CT_OK;
}

/* ------------------------------------------------------------ quoting */

ct_status ct_shell_quote(const char *s, char *out, size_t cap)
{
    size_t n = 0;
#define PUT(c)                                                             \
    do {                                                                   \
        if (n + 1 >= cap)                                                  \
            CT_FAIL(CT_ERR_ARG, "value too long to quote: %.40s...", s);   \
        out[n++] = (c);                                                    \
    } while (0)
    PUT('\'');
    for (const char *c = s; *c; c++) {
        if (*c == '\n' || *c == '\r')
            CT_FAIL(CT_ERR_ARG, "value holds a line break: %.40s", s);
        if (*c == '\'') {
            /* close, escaped quote, reopen */
            PUT('\'');
            PUT('\\');
            PUT('\'');
            PUT('\'');
        } else {
            PUT(*c);
        }
    }
    PUT('\'');
#undef PUT
    out[n] = '\0';
    return CT_OK;
}

/* ------------------------------------------------------------ writing */

typedef struct {
    FILE *f;
    ct_status s;
} writer;

static void set_var(writer *w, const char *name, const char *value)
{
    char *q = NULL;
    if (w->s != CT_OK)
        return;
    /* quoted: at most 4 bytes a character (' -> '\'') and the two quotes */
    w->s = ct_calloc(&q, 4 * strlen(value) + 3, 1, "a quoted value");
    if (w->s == CT_OK)
        w->s = ct_shell_quote(value, q, 4 * strlen(value) + 3);
    if (w->s == CT_OK)
        fprintf(w->f, "%s=%s\n", name, q);
    free(q);
}

static void set_long(writer *w, const char *name, long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    set_var(w, name, buf);
}

static ct_status append_file(FILE *f, const char *path)
{
    char *text = NULL;
    CT_CHECK(ct_read_text(path, &text, NULL));
    fputs(text, f);
    if (text[0] && text[strlen(text) - 1] != '\n')
        fputc('\n', f);
    free(text);
    return CT_OK;
}

static long ceil_div(long a, long b) { return (a + b - 1) / b; }

static ct_status write_script(const ct_pipeline *p, ct_job_script *j)
{
    const ct_job_resources *r = &p->res[j->stage];
    const ct_pipeline_suite *u = j->suite >= 0 ? &p->suite[j->suite] : NULL;
    const char *stage = ct_stage_name(j->stage);
    char jobname[3 * CT_JOBS_WORD_MAX];
    char *tpl = NULL, *sumdir = NULL, *table = NULL, *d = NULL;
    ct_status s = CT_OK;
    ct_atomic_file a = {0};
    FILE *f = NULL;
    if (u) {
        snprintf(jobname, sizeof jobname, "%s-%s-%s", p->name, stage, u->name);
        CT_CHECK_GOTO(s, ct_asprintf(&j->path, "%s/jobs/%s-%s.sbatch", S(p->out), stage, u->name));
        CT_CHECK_GOTO(s, ct_asprintf(&sumdir, "%s/summaries/%s", S(p->out), u->name));
        CT_CHECK_GOTO(s, ct_asprintf(&table, "%s/tables/%s.h5", S(p->out), u->name));
    } else {
        snprintf(jobname, sizeof jobname, "%s-%s", p->name, stage);
        CT_CHECK_GOTO(s, ct_asprintf(&j->path, "%s/jobs/%s.sbatch", S(p->out), stage));
    }
    CT_CHECK_GOTO(s, ct_atomic_fopen(&a, j->path));
    f = a.f;
    fchmod(fileno(f), 0755);

    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# cosmotl %s job, written by `cosmotl jobs` on %s from\n", stage, when);
    fprintf(f, "# the templates %s/{common,%s}.sh. Submit with sbatch (or submit.sh\n",
            S(p->templates), stage);
    fprintf(f, "# for the whole chain). Every setting below is single-quoted.\n");
    /* directives: every value passed ct_pipeline_check's plain-word rules */
    fprintf(f, "#SBATCH --job-name=%s\n", jobname);
    if (j->array_tasks > 0) {
        fprintf(f, "#SBATCH --array=0-%ld", j->array_tasks - 1);
        if (r->max_parallel > 0)
            fprintf(f, "%%%ld", r->max_parallel);
        fprintf(f, "\n#SBATCH --output=%s/logs/%%x-%%A_%%a.log\n", S(p->out));
    } else {
        fprintf(f, "#SBATCH --output=%s/logs/%%x-%%j.log\n", S(p->out));
    }
    fprintf(f, "#SBATCH --nodes=%ld\n#SBATCH --ntasks=%ld\n#SBATCH --cpus-per-task=%ld\n",
            r->nodes, r->ntasks, r->cpus_per_task);
    if (*r->time)
        fprintf(f, "#SBATCH --time=%s\n", r->time);
    if (*r->mem)
        fprintf(f, "#SBATCH --mem=%s\n", r->mem);
    if (*r->partition)
        fprintf(f, "#SBATCH --partition=%s\n", r->partition);
    if (*r->account)
        fprintf(f, "#SBATCH --account=%s\n", r->account);
    if (*r->qos)
        fprintf(f, "#SBATCH --qos=%s\n", r->qos);

    writer w = {f, CT_OK};
    fprintf(f, "\n# ---- settings\n");
    set_var(&w, "CT_PIPELINE", p->name);
    set_var(&w, "CT_STAGE", stage);
    set_var(&w, "CT_SUITE", u ? u->name : "");
    set_var(&w, "CT_OUT", S(p->out));
    set_var(&w, "CT_COSMOTL", p->cosmotl ? p->cosmotl : "cosmotl");
    set_var(&w, "CT_SETUP", S(p->setup));
    set_var(&w, "CT_LAUNCHER", r->launcher == CT_LAUNCH_SRUN ? "srun" : "mpirun");
    set_var(&w, "CT_SRUN_MPI", r->srun_mpi);
    set_long(&w, "CT_ALLOW_FAILED", p->allow_failed);
    switch (j->stage) {
    case CT_STAGE_SIMULATE:
        set_var(&w, "CT_SIM_CONFIG", S(u->sim_config));
        set_var(&w, "CT_SUITE_DIR", S(u->dir));
        set_long(&w, "CT_FIRST", u->first);
        set_long(&w, "CT_LAST", u->last);
        set_long(&w, "CT_PER_TASK", u->sims_per_task);
        set_long(&w, "CT_GROUP_SIZE", p->sim_group_size);
        break;
    case CT_STAGE_SUMMARIZE:
        set_var(&w, "CT_SUITE_DIR", S(u->dir));
        set_var(&w, "CT_SNAPSHOT", u->snapshot);
        set_var(&w, "CT_SUMMARY_DIR", sumdir);
        set_long(&w, "CT_FIRST", u->first);
        set_long(&w, "CT_LAST", u->last);
        set_long(&w, "CT_PER_TASK", u->snaps_per_task);
        set_var(&w, "CT_STATS", p->stats);
        set_long(&w, "CT_GRID", p->grid);
        set_var(&w, "CT_MAS", p->mas);
        set_long(&w, "CT_INTERLACE", p->interlace);
        set_var(&w, "CT_RSD", p->rsd);
        set_long(&w, "CT_GROUP_SIZE", p->ranks_per_snapshot);
        break;
    case CT_STAGE_GATHER:
        set_var(&w, "CT_SUITE_DIR", S(u->dir));
        set_var(&w, "CT_SUMMARY_DIR", sumdir);
        set_var(&w, "CT_TABLE", table);
        break;
    case CT_STAGE_STUDY:
        set_var(&w, "CT_STUDY_CONFIG", S(p->study_config));
        if (w.s == CT_OK)
            w.s = ct_asprintf(&d, "%s/tables", S(p->out));
        set_var(&w, "CT_TABLES_DIR", d);
        free(d);
        d = NULL;
        if (w.s == CT_OK)
            w.s = ct_asprintf(&d, "%s/study", S(p->out));
        set_var(&w, "CT_STUDY_OUT", d);
        break;
    default:
        break;
    }
    if (w.s != CT_OK)
        CT_FAIL_GOTO(s, w.s, "%s: %s", j->path, ct_error_message());

    fprintf(f, "\n# ---- %s/common.sh\n", S(p->templates));
    CT_CHECK_GOTO(s, ct_asprintf(&tpl, "%s/common.sh", S(p->templates)));
    CT_CHECK_GOTO(s, append_file(f, tpl));
    fprintf(f, "\n# ---- %s/%s.sh\n", S(p->templates), stage);
    free(tpl);
    CT_CHECK_GOTO(s, ct_asprintf(&tpl, "%s/%s.sh", S(p->templates), stage));
    CT_CHECK_GOTO(s, append_file(f, tpl));
    CT_CHECK_GOTO(s, ct_atomic_fclose(&a));
fail:
    if (s != CT_OK)
        ct_atomic_fdiscard(&a);
    free(tpl);
    free(sumdir);
    free(table);
    free(d);
    return s;
}

static ct_status write_submit_sh(const ct_pipeline *p, const ct_job_plan *plan)
{
    char *path = NULL;
    ct_status s = CT_OK;
    CT_CHECK(ct_asprintf(&path, "%s/jobs/submit.sh", S(p->out)));
    ct_atomic_file a;
    s = ct_atomic_fopen(&a, path);
    free(path);
    CT_CHECK(s);
    FILE *f = a.f;
    fchmod(fileno(f), 0755);
    fprintf(f, "#!/bin/sh\n# Submit the %s pipeline by hand, chained with afterok (written "
               "by `cosmotl jobs`;\n# `cosmotl jobs CONFIG --submit` does the same).\n",
            p->name);
    fprintf(f, "set -eu\ncd \"$(dirname \"$0\")\"\n");
    fprintf(f, "submit() { # submit [DEPENDENCY] SCRIPT -> prints the job id\n"
               "  if [ -n \"$1\" ]; then id=$(sbatch --parsable --dependency=\"$1\" \"$2\")\n"
               "  else id=$(sbatch --parsable \"$2\"); fi\n"
               "  echo \"${id%%%%;*}\"\n}\n");
    for (int i = 0; i < plan->n; i++) {
        const ct_job_script *j = &plan->job[i];
        const char *base = strrchr(j->path, '/') + 1;
        fprintf(f, "j%d=$(submit \"", i);
        if (j->ndepends) {
            fprintf(f, "afterok");
            for (int d = 0; d < j->ndepends; d++)
                fprintf(f, ":$j%d", j->depends[d]);
        }
        fprintf(f, "\" %s)\necho \"%s: job $j%d\"\n", base, base, i);
    }
    CT_CHECK(ct_atomic_fclose(&a));
    return s;
}

ct_status ct_jobs_write(const ct_pipeline *p, ct_job_plan *plan)
{
    char *d = NULL;
    memset(plan, 0, sizeof *plan);
    CT_CHECK(ct_pipeline_check(p));
    for (int s = 0; s < CT_STAGE_COUNT; s++) {
        CT_CHECK(ct_asprintf(&d, "%s/%s.sh", S(p->templates), ct_stage_name((ct_stage)s)));
        int there = ct_file_exists(d);
        if (!there) {
            ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: job template missing (set "
                         "[pipeline] templates or --templates)", d);
            free(d);
            return CT_ERR_IO;
        }
        free(d);
        d = NULL;
    }
    static const char *const made[] = {"jobs", "logs"};
    for (int k = 0; k < 2; k++) {
        CT_CHECK(ct_asprintf(&d, "%s/%s", S(p->out), made[k]));
        ct_status st = ct_mkdir_p(d);
        free(d);
        d = NULL;
        CT_CHECK(st);
    }
    int gathers[CT_PIPELINE_MAX_SUITES], ng = 0;
    for (int i = 0; i < p->nsuites; i++) {
        const ct_pipeline_suite *u = &p->suite[i];
        long nsim = u->last - u->first;
        int prev = -1;
        if (*S(u->sim_config)) {
            ct_job_script *j = &plan->job[plan->n];
            j->stage = CT_STAGE_SIMULATE;
            j->suite = i;
            j->array_tasks = ceil_div(nsim, u->sims_per_task);
            prev = plan->n++;
        }
        ct_job_script *j = &plan->job[plan->n];
        j->stage = CT_STAGE_SUMMARIZE;
        j->suite = i;
        j->array_tasks = ceil_div(nsim, u->snaps_per_task);
        if (prev >= 0)
            j->depends[j->ndepends++] = prev;
        prev = plan->n++;
        j = &plan->job[plan->n];
        j->stage = CT_STAGE_GATHER;
        j->suite = i;
        j->depends[j->ndepends++] = prev;
        gathers[ng++] = plan->n++;
    }
    if (*S(p->study_config)) {
        ct_job_script *j = &plan->job[plan->n];
        j->stage = CT_STAGE_STUDY;
        j->suite = -1;
        for (int g = 0; g < ng; g++)
            j->depends[j->ndepends++] = gathers[g];
        plan->n++;
    }
    for (int i = 0; i < plan->n; i++)
        CT_CHECK(write_script(p, &plan->job[i]));
    CT_CHECK(write_submit_sh(p, plan));
    return CT_OK;
}

/* ------------------------------------------------------------ submission */

/* The variables an MPI launcher (or the singleton start of this program) puts in
 * the environment. sbatch exports the environment to the job, where they would
 * make mpirun believe it runs inside another MPI job and fail, so the child drops
 * them; a user's own OMPI_MCA_* settings and OMPI_ALLOW_RUN_AS_ROOT* stay. */
static int launcher_variable(const char *kv)
{
    static const char *const drop[] = {"PMIX_", "PMI_", "ORTE_", "OMPI_COMM_WORLD_",
                                       "OMPI_APP_CTX_", "OMPI_COMMAND=", "OMPI_ARGV=",
                                       "OMPI_NUM_APP_CTX=", "OMPI_FIRST_RANKS=",
                                       "OMPI_UNIVERSE_SIZE=", "OMPI_FILE_LOCATION=",
                                       "OMPI_MCA_ess=", "OMPI_MCA_ess_", "OMPI_MCA_orte_",
                                       "OMPI_MCA_pmix=", "OMPI_MCA_initial_wdir=", NULL};
    for (int i = 0; drop[i]; i++)
        if (!strncmp(kv, drop[i], strlen(drop[i])))
            return 1;
    return 0;
}

static void drop_launcher_environment(void)
{
    extern char **environ;
    for (;;) {
        char name[256] = "";
        for (char **e = environ; e && *e; e++)
            if (launcher_variable(*e)) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        if (!*name || unsetenv(name) != 0)
            return;
    }
}

/* Run argv, capturing stdout+stderr (up to cap-1 bytes); returns the exit status
 * (or -1 when the program could not be run). */
static int run_capture(char *const argv[], char *buf, size_t cap)
{
    int fd[2];
    buf[0] = '\0';
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        drop_launcher_environment();
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    for (;;) {
        char chunk[512];
        ssize_t got = read(fd[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        for (ssize_t k = 0; k < got && n + 1 < cap; k++)
            buf[n++] = chunk[k];
    }
    buf[n] = '\0';
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The id is the last line of `sbatch --parsable` output: "ID" or "ID;CLUSTER". */
static long parse_job_id(char *out)
{
    char *end = out + strlen(out);
    while (end > out && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        *--end = '\0';
    char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    if (!isdigit((unsigned char)*line))
        return -1;
    char *e = NULL;
    long id = strtol(line, &e, 10);
    if (*e && *e != ';')
        return -1;
    return id > 0 ? id : -1;
}

ct_status ct_jobs_submit(const ct_pipeline *p, const ct_job_plan *plan, const char *sbatch,
                         long *ids)
{
    char *log_path = NULL;
    CT_CHECK(ct_asprintf(&log_path, "%s/jobs/submitted.tsv", S(p->out)));
    FILE *log = fopen(log_path, "w");
    if (!log) {
        ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot write: %s", log_path,
                     strerror(errno));
        free(log_path);
        return CT_ERR_IO;
    }
    fprintf(log, "job_id\tstage\tsuite\tarray_tasks\tdepends_on\tscript\n");
    for (int i = 0; i < plan->n; i++) {
        const ct_job_script *j = &plan->job[i];
        char dep[64 * CT_PIPELINE_MAX_SUITES] = "";
        if (j->ndepends) {
            size_t n = (size_t)snprintf(dep, sizeof dep, "--dependency=afterok");
            for (int d = 0; d < j->ndepends; d++)
                n += (size_t)snprintf(dep + n, sizeof dep - n, ":%ld", ids[j->depends[d]]);
        }
        char *argv[6];
        int a = 0;
        argv[a++] = (char *)sbatch;
        argv[a++] = "--parsable";
        if (*dep)
            argv[a++] = dep;
        argv[a++] = (char *)j->path;
        argv[a] = NULL;
        char out[4096];
        int rc = run_capture(argv, out, sizeof out);
        long id = rc == 0 ? parse_job_id(out) : -1;
        if (id < 0) {
            fclose(log);
            free(log_path);
            char *nl = strchr(out, '\n');
            if (nl && nl[1] == '\0')
                *nl = '\0';
            CT_FAIL(CT_ERR_IO, "%s failed for %s (exit %d): %s%s", sbatch, j->path, rc,
                    *out ? out : "no output",
                    i ? "; the jobs submitted before it are listed in jobs/submitted.tsv "
                        "(scancel them or let them finish)" : "");
        }
        ids[i] = id;
        fprintf(log, "%ld\t%s\t%s\t%ld\t%s\t%s\n", id, ct_stage_name(j->stage),
                j->suite >= 0 ? p->suite[j->suite].name : "", j->array_tasks,
                *dep ? dep + strlen("--dependency=afterok:") : "", j->path);
        fflush(log);
    }
    ct_status st = fclose(log) != 0
                       ? ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot write", log_path)
                       : CT_OK;
    free(log_path);
    return st;
}
