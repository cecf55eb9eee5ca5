/* cosmotl summarize SNAPDIR... : power spectra of snapshots into per-simulation
 * summary files, shared among rank groups, with a manifest so reruns redo only
 * what is missing. */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "cosmotl/batch.h"
#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/mesh.h"
#include "cosmotl/runner.h"
#include "cosmotl/stats.h"
#include "cosmotl/summarize.h"
#include "cosmotl/summary.h"

static const char *help =
    "usage: cosmotl summarize SNAPDIR... [options]\n"
    "       cosmotl summarize CONFIG.ini\n\n"
    "Measure summary statistics of Gadget snapshots (HDF5 or binary) and write one\n"
    "summary file per snapshot, OUT/<name>.h5, with <name> the simulation folder\n"
    "(SUITE/<name>/snapdir_004 -> <name>). SNAPDIR is a snapdir_XXX folder, a\n"
    "simulation folder holding snapdir_XXX folders (the highest number is used\n"
    "unless --snapnum), or a snapshot file. Complete summaries are skipped;\n"
    "failures are recorded in OUT/manifest.tsv and the others carry on.\n\n"
    "options:\n"
    "  --stats LIST      statistics to measure, comma separated: pk, mk (marked\n"
    "                    power spectrum), bk (bispectrum); default pk. All come\n"
    "                    from one read and one density mesh.\n"
    "  --grid N          mesh points per side (even; default 512)\n"
    "  --mas NAME        ngp, cic, tsc or pcs (default cic)\n"
    "  --interlace       interlaced second grid (reduces aliasing)\n"
    "  --rsd AXIS        redshift space along x, y or z (multipoles along it)\n"
    "  --los AXIS        axis of the multipoles in real space (default z)\n"
    "  --bin-width W     bin width in units of kF (default 1)\n"
    "  --shot-noise      subtract 1/nbar from P0 (released Quijote files do not)\n"
    "  --species S       m (default): total matter, CDM+baryon (PartType1) and\n"
    "                    neutrino (PartType2) particles weighted by mass, as for\n"
    "                    Quijote's nwLH, plus /pk_cb; cb: CDM+baryons only, for\n"
    "                    every statistic (species attribute \"cb\")\n"
    "  --out DIR         output folder (default summaries)\n"
    "  --quijote-text    also write OUT/<name>/Pk_m_z=Z.txt (Pk_m_RS<axis>_z=Z.txt\n"
    "                    with --rsd; Pk_cb_* too for neutrino snapshots)\n"
    "  --group-size R    ranks per snapshot; the world splits into groups that\n"
    "                    share the snapshots (default: all ranks together)\n"
    "  --threads T       OpenMP threads per rank (default 1)\n"
    "  --snapnum K       use snapdir_K in simulation folders\n"
    "  --plan EFFORT     FFTW planning: estimate (default) or measure\n"
    "  --timing          print a read/exchange/paint/FFT/binning report\n"
    "  --pk-float32      P(k) in single precision (float mesh, FFTW's float\n"
    "                    library, double sums): half the memory and memory traffic;\n"
    "                    P within 1e-6 relative below the Nyquist wavenumber, same k\n"
    "                    and mode counts; --stats pk only (/pk gets float32 = 1)\n"
    "  --wrap-positions  wrap every finite position into the box; by default only\n"
    "                    positions within 1e-3 BoxSize outside [0, BoxSize) are\n"
    "                    wrapped (Gadget writes x = BoxSize and tiny negatives) and\n"
    "                    anything further out fails the snapshot, naming the file,\n"
    "                    particle type, index and value\n"
    "marked power spectrum (mk):\n"
    "  --mark-R R        top-hat radius in Mpc/h (default 10)\n"
    "  --mark-p P        mark exponent (default 2)\n"
    "  --mark-ds D       mark offset delta_s (default 0.25)\n"
    "bispectrum (bk):\n"
    "  --bk-dk D         shell width in units of kF (default 3)\n"
    "  --bk-kmax K       largest k1 shell centre in units of kF (default 78: 1898\n"
    "                    triangles)\n"
    "  --bk-float32      keep the shell fields in float32: half their memory (fewer\n"
    "                    passes under a budget), B within 1e-6 relative of float64\n"
    "  --mem-budget GIB  memory the bispectrum may use per rank, GiB (default: half\n"
    "                    of the node's available memory shared by its ranks)\n"
    "  --bk-cache DIR    triangle-count cache (default OUT/.cache)\n\n"
    "CONFIG.ini: a [summarize] section with one key per option (grid = 512,\n"
    "interlace = yes, bin_width = 1, ...) and the snapshots, either\n"
    "snapshots = PATH ... or suite = DIR, range = A:B, snapshot = snapdir_004;\n"
    "paths relative to the config's folder; unknown keys are errors.\n\n"
    "Exit status: 0 all done, 3 some snapshots failed (recorded), 1 other errors,\n"
    "2 usage errors.\n";

/* The library's settings (ct_summarize_settings) plus what only the command
 * line decides: where the outputs go, the rank groups, snapshot selection. */
typedef struct {
    ct_summarize_settings s;
    int group_size, snapnum, timing;
    const char *out;
} opts;

static int parse_axis(const char *s)
{
    if (!strcasecmp(s, "x") || !strcmp(s, "0"))
        return 0;
    if (!strcasecmp(s, "y") || !strcmp(s, "1"))
        return 1;
    if (!strcasecmp(s, "z") || !strcmp(s, "2"))
        return 2;
    return -1;
}

/* dirname / basename of path into a new allocation (they may modify their
 * argument, so they work on a copy) */
static ct_status path_part(const char *path, int dir, char **out)
{
    char *t = strdup(path);
    if (!t)
        CT_FAIL(CT_ERR_MEMORY, "out of memory");
    ct_status s = ct_asprintf(out, "%s", dir ? dirname(t) : basename(t));
    free(t);
    return s;
}

/* The snapshot inside SNAPDIR and the simulation's name and suite folder, each a
 * new allocation (the caller frees them, also on failure). */
static ct_status resolve(const char *arg, int snapnum, char **snap, char **name, char **suite)
{
    char *buf = NULL, *p = NULL, *sim = NULL, *base = NULL, *parent = NULL;
    ct_status rc = CT_OK;
    /* the system opens no longer path: say so here rather than at the first open */
    size_t alen = strlen(arg);
    if (alen >= PATH_MAX)
        CT_FAIL(CT_ERR_ARG, "%.100s...%s: path too long (%zu characters, at most %d)", arg,
                alen > 100 ? arg + alen - 100 : "", alen, PATH_MAX - 1);
    CT_CHECK(ct_asprintf(&buf, "%s", arg));
    size_t L = strlen(buf);
    while (L > 1 && buf[L - 1] == '/')
        buf[--L] = 0;
    CT_CHECK_GOTO(rc, path_part(buf, 0, &base));
    /* a simulation folder holding snapdir_XXX folders */
    if (ct_dir_exists(buf) && strncmp(base, "snapdir_", 8)) {
        int best = -1;
        for (int k = snapnum >= 0 ? snapnum : 0; k < (snapnum >= 0 ? snapnum + 1 : 1000); k++) {
            free(p);
            p = NULL;
            CT_CHECK_GOTO(rc, ct_asprintf(&p, "%s/snapdir_%03d", buf, k));
            if (ct_dir_exists(p))
                best = k;
        }
        if (best >= 0) {
            CT_CHECK_GOTO(rc, ct_asprintf(snap, "%s/snapdir_%03d", buf, best));
            CT_CHECK_GOTO(rc, ct_asprintf(name, "%s", base));
            CT_CHECK_GOTO(rc, path_part(buf, 1, suite));
            goto fail;
        }
        if (snapnum >= 0)
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: no snapdir_%03d folder", buf, snapnum);
    }
    CT_CHECK_GOTO(rc, ct_asprintf(snap, "%s", buf));
    /* a snapdir_XXX folder or a file: the simulation is the folder above the
     * snapdir (or the file's folder) */
    CT_CHECK_GOTO(rc, path_part(buf, 1, &parent));
    if (ct_dir_exists(buf) || !strncmp(base, "snapdir_", 8)) {
        sim = parent;
        parent = NULL;
    } else {
        /* file: .../<sim>/snapdir_XXX/snap_XXX.0.hdf5 or .../<sim>/snap.hdf5 */
        free(p);
        p = NULL;
        CT_CHECK_GOTO(rc, path_part(parent, 0, &p));
        if (!strncmp(p, "snapdir_", 8)) {
            CT_CHECK_GOTO(rc, path_part(parent, 1, &sim));
        } else {
            sim = parent;
            parent = NULL;
        }
    }
    CT_CHECK_GOTO(rc, path_part(sim, 0, name));
    CT_CHECK_GOTO(rc, path_part(sim, 1, suite));
    if (!strcmp(*name, ".") || !strcmp(*name, "/") || !(*name)[0])
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: cannot tell the simulation's name from the path", arg);
fail:
    free(buf);
    free(p);
    free(sim);
    free(base);
    free(parent);
    return rc;
}

/* `cosmotl summarize CONFIG`: the [summarize] section of an INI file, one key per
 * option (bin_width or bin-width for --bin-width; yes/no for flags), plus the
 * snapshots: `snapshots = PATH ...` or `suite = DIR`, `range = A:B` and
 * `snapshot = snapdir_004` (DIR/<i>/snapshot for i in [A, B)). Relative paths
 * are taken from the config's folder. Unknown keys are errors. The config is
 * turned into the equivalent command line. */
static const char *const valued_keys[] = {"stats", "grid", "mas", "rsd", "los", "bin-width",
                                          "species", "out", "group-size", "threads", "snapnum", "plan",
                                          "mark-R", "mark-p", "mark-ds", "bk-dk", "bk-kmax",
                                          "mem-budget", "bk-cache", NULL};
static const char *const flag_keys[] = {"interlace", "shot-noise", "quijote-text", "timing",
                                        "wrap-positions", "bk-float32", "pk-float32", NULL};

static int is_config_file(const char *path)
{
    size_t n = strlen(path);
    return ct_file_exists(path) && !ct_dir_exists(path) &&
           ((n > 4 && !strcmp(path + n - 4, ".ini")) || (n > 4 && !strcmp(path + n - 4, ".cfg")));
}

/* Resolve a path from the config relative to its folder. */
static char *cfg_path(const ct_config *cfg, const char *v)
{
    char buf[4400];
    if (v[0] == '/')
        snprintf(buf, sizeof buf, "%s", v);
    else
        snprintf(buf, sizeof buf, "%s/%s", ct_config_dir(cfg), v);
    return strdup(buf);
}

#define CLI_MAX_SNAPSHOTS 1000000
/* snapshots per rank group from which summarize advises huge pages: they cost
 * 1.4-2.1 s more to first-touch per GiB of mesh after idle memory and save
 * ~0.1 s per later 512^3 snapshot (docs/benchmarks.md, "Huge pages") */
#define CT_HUGE_PAGES_BATCH 16

static ct_status config_to_args(const char *path, MPI_Comm comm, int *argc_out, char ***argv_out)
{
    ct_status rc = CT_OK;
    ct_config *cfg = NULL;
    char **av = NULL;
    int ac = 0, cap = 64;
    CT_CHECK(ct_config_load(&cfg, path, comm));
    CT_CHECK_GOTO(rc, ct_calloc(&av, (size_t)cap, sizeof(char *), "arguments"));
#define PUSH(str)                                                                          \
    do {                                                                                   \
        if (ac + 2 >= cap) {                                                               \
            char **t_ = realloc(av, sizeof(char *) * (size_t)(cap *= 2));                  \
            if (!t_)                                                                       \
                CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");                          \
            av = t_;                                                                       \
        }                                                                                  \
        if (!(av[ac++] = (str)))                                                           \
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");                              \
        av[ac] = NULL;                                                                     \
    } while (0)
    PUSH(strdup("summarize"));
    for (int k = 0; valued_keys[k]; k++) {
        char alt[64];
        snprintf(alt, sizeof alt, "%s", valued_keys[k]);
        for (char *c = alt; *c; c++)
            if (*c == '-')
                *c = '_';
        const char *key = ct_config_has(cfg, "summarize", alt) ? alt : valued_keys[k];
        if (!ct_config_has(cfg, "summarize", key))
            continue;
        const char *v;
        CT_CHECK_GOTO(rc, ct_config_string(cfg, "summarize", key, "", &v));
        char opt[80];
        snprintf(opt, sizeof opt, "--%s", valued_keys[k]);
        PUSH(strdup(opt));
        int is_path = !strcmp(valued_keys[k], "out") || !strcmp(valued_keys[k], "bk-cache");
        PUSH(is_path ? cfg_path(cfg, v) : strdup(v));
    }
    for (int k = 0; flag_keys[k]; k++) {
        char alt[64];
        snprintf(alt, sizeof alt, "%s", flag_keys[k]);
        for (char *c = alt; *c; c++)
            if (*c == '-')
                *c = '_';
        const char *key = ct_config_has(cfg, "summarize", alt) ? alt : flag_keys[k];
        if (!ct_config_has(cfg, "summarize", key))
            continue;
        int on = 0;
        CT_CHECK_GOTO(rc, ct_config_bool(cfg, "summarize", key, 0, &on));
        if (on) {
            char opt[80];
            snprintf(opt, sizeof opt, "--%s", flag_keys[k]);
            PUSH(strdup(opt));
        }
    }
    if (ct_config_has(cfg, "summarize", "snapshots")) {
        const char *v;
        CT_CHECK_GOTO(rc, ct_config_string(cfg, "summarize", "snapshots", "", &v));
        char *copy = strdup(v);
        if (!copy)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");
        for (char *save = NULL, *t = strtok_r(copy, " \t,", &save); t;
             t = strtok_r(NULL, " \t,", &save))
            PUSH(cfg_path(cfg, t));
        free(copy);
    }
    if (ct_config_has(cfg, "summarize", "suite")) {
        const char *suite, *range, *snap;
        long a = 0, b = 0;
        CT_CHECK_GOTO(rc, ct_config_string(cfg, "summarize", "suite", "", &suite));
        CT_CHECK_GOTO(rc, ct_config_string(cfg, "summarize", "range", "", &range));
        CT_CHECK_GOTO(rc, ct_config_string(cfg, "summarize", "snapshot", "snapdir_004", &snap));
        if (ct_cli_parse_range(range, &a, &b))
            CT_FAIL_GOTO(rc, CT_ERR_CONFIG, "%s: [summarize] range must be A:B with A < B (got '%s')",
                         path, range);
        /* the range becomes one argument per snapshot: a typo like 0:20000000
         * must not eat the memory of every rank */
        if (b - a > CLI_MAX_SNAPSHOTS)
            CT_FAIL_GOTO(rc, CT_ERR_CONFIG, "%s: [summarize] range %s holds %ld snapshots, more "
                         "than %d in one run; split it into several runs", path, range, b - a,
                         CLI_MAX_SNAPSHOTS);
        char *sd = cfg_path(cfg, suite);
        if (!sd)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");
        for (long i = a; i < b; i++) {
            char buf[4600];
            snprintf(buf, sizeof buf, "%s/%ld/%s", sd, i, snap);
            PUSH(strdup(buf));
        }
        free(sd);
    }
    CT_CHECK_GOTO(rc, ct_config_check_unused(cfg));
#undef PUSH
    *argc_out = ac;
    *argv_out = av;
    av = NULL;
fail:
    if (av) {
        for (int i = 0; i < ac; i++)
            free(av[i]);
        free(av);
    }
    ct_config_destroy(&cfg);
    return rc;
}

static int cmd_summarize_args(int argc, char **argv, MPI_Comm world);

int cmd_summarize(int argc, char **argv, MPI_Comm world)
{
    /* CONFIG form: exactly one argument besides global options, an .ini file */
    int npos = 0, cfg_at = -1;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-') {
            npos++;
            cfg_at = i;
        }
    if (npos == 1 && argc == 2 && is_config_file(argv[cfg_at])) {
        int ac = 0;
        char **av = NULL;
        ct_status s = config_to_args(argv[cfg_at], world, &ac, &av);
        if (s != CT_OK)
            return ct_cli_fail("summarize", world);
        int code = cmd_summarize_args(ac, av, world);
        for (int i = 0; i < ac; i++)
            free(av[i]);
        free(av);
        return code;
    }
    return cmd_summarize_args(argc, argv, world);
}

/* Each snapshot is one item of the runner; the group's manifest records it. */
typedef struct {
    const opts *o;
    char **names;  /* per item, malloc'd (resolve) */
    char **snaps;
    char **suites;
    char **outs;   /* OUT/<name>.h5 */
    ct_summarizer *z;
    ct_manifest *man;
    double t0;
    ct_timers before;
    int64_t n;    /* items */
    int prefetch; /* one group: items arrive in order, read the next one ahead */
} snap_job;

static ct_status snap_is_done(int64_t i, MPI_Comm g, void *user, int *done)
{
    snap_job *j = user;
    (void)g;
    int todo = 0;
    CT_CHECK(ct_manifest_need(j->man, j->names[i], j->snaps[i], j->outs[i], &todo));
    *done = !todo;
    return CT_OK;
}

static ct_status snap_start(int64_t i, MPI_Comm g, void *user)
{
    snap_job *j = user;
    (void)g;
    CT_CHECK(ct_manifest_begin(j->man, j->names[i]));
    j->t0 = ct_wtime();
    j->before = *ct_summarizer_timers(j->z);
    return CT_OK;
}

static ct_status snap_run(int64_t i, MPI_Comm g, void *user, void *result)
{
    snap_job *j = user;
    (void)result;
    if (j->prefetch) {
        /* the next item not yet complete (what the runner's is_done will say) is
         * read while this one is computed */
        int64_t next = -1;
        int grank;
        MPI_Comm_rank(g, &grank);
        for (int64_t k = i + 1; grank == 0 && k < j->n && next < 0; k++)
            if (access(j->outs[k], F_OK) != 0)
                next = k;
        MPI_Bcast(&next, 1, MPI_INT64_T, 0, g);
        CT_CHECK(ct_summarize_prefetch(j->z, next >= 0 ? j->snaps[next] : NULL));
    }
    return ct_summarize_snapshot(j->z, j->snaps[i], j->names[i], j->suites[i], j->outs[i]);
}

static ct_status snap_finish(int64_t i, ct_status st, const char *msg, const void *result,
                             MPI_Comm g, void *user)
{
    snap_job *j = user;
    (void)result;
    int grank;
    MPI_Comm_rank(g, &grank);
    if (st != CT_OK) {
        if (grank == 0)
            fprintf(stderr, "cosmotl summarize: error: %s: %s\n", j->snaps[i], msg);
        return ct_manifest_fail(j->man, j->names[i], msg);
    }
    CT_CHECK(ct_manifest_done(j->man, j->names[i]));
    if (grank == 0)
        ct_log_rank_msg(CT_LOG_INFO, "summarize: %s -> %s (%.2f s)", j->snaps[i], j->outs[i],
                        ct_wtime() - j->t0);
    if (grank == 0 && j->o->timing) {
        /* this snapshot's phases on the group's rank 0 (the report at the end
         * sums all snapshots): the first pays for creating the meshes */
        const ct_timers *T = ct_summarizer_timers(j->z);
        char line[512];
        size_t len = 0;
        for (int k = 0; k < T->n && len < sizeof line; k++)
            len += (size_t)snprintf(line + len, sizeof line - len, " %s %.4f", T->name[k],
                                    T->total[k] - (k < j->before.n ? j->before.total[k] : 0));
        ct_log_rank_msg(CT_LOG_INFO, "summarize: timing %s:%s s", j->names[i], line);
    }
    return CT_OK;
}

static int cmd_summarize_args(int argc, char **argv, MPI_Comm world)
{
    int rank, size;
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    opts o = {.group_size = 0, .snapnum = -1, .timing = 0, .out = "summaries"};
    ct_summarize_settings_defaults(&o.s);
    const char *bk_cache = NULL;
    char *bk_cache_default = NULL;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int npaths = 0;
    if (!paths)
        return ct_cli_usage_error("summarize", world, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
#define NEED_VALUE()                                                                       \
    do {                                                                                   \
        if (!v) {                                                                          \
            free(paths);                                                                   \
            return ct_cli_usage_error("summarize", world, "%s needs a value", a);           \
        }                                                                                  \
        i++;                                                                               \
    } while (0)
#define BAD(...)                                                                           \
    do {                                                                                   \
        free(paths);                                                                       \
        free(bk_cache_default);                                                            \
        return ct_cli_usage_error("summarize", world, __VA_ARGS__);                        \
    } while (0)
        if (ct_cli_is_help(a)) {
            if (rank == 0)
                fputs(help, stdout);
            free(paths);
            return 0;
        } else if (!strcmp(a, "--stats")) {
            NEED_VALUE();
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            o.s.stats = 0;
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "pk"))
                    o.s.stats |= CT_SUMMARIZE_PK;
                else if (!strcmp(t, "mk"))
                    o.s.stats |= CT_SUMMARIZE_MK;
                else if (!strcmp(t, "bk"))
                    o.s.stats |= CT_SUMMARIZE_BK;
                else
                    BAD("unknown statistic '%s' in --stats (available: pk, mk, bk)", t);
            }
            if (!o.s.stats)
                BAD("--stats needs at least one of pk, mk, bk");
        } else if (!strcmp(a, "--mark-R") || !strcmp(a, "--mark-p") || !strcmp(a, "--mark-ds") ||
                   !strcmp(a, "--bk-dk") || !strcmp(a, "--bk-kmax") ||
                   !strcmp(a, "--mem-budget")) {
            NEED_VALUE();
            char *end;
            double d = strtod(v, &end);
            if (*end || !isfinite(d))
                BAD("%s must be a number (got '%s')", a, v);
            if (!strcmp(a, "--mark-R")) {
                if (!(d >= 0 && d <= 1e4))
                    BAD("--mark-R must be in [0, 1e4] Mpc/h (got '%s')", v);
                o.s.mk.R = d;
            } else if (!strcmp(a, "--mark-p")) {
                if (!(d >= -100 && d <= 100))
                    BAD("--mark-p must be in [-100, 100] (got '%s')", v);
                o.s.mk.p = d;
            } else if (!strcmp(a, "--mark-ds")) {
                if (!(d > -1 && d <= 1e3))
                    BAD("--mark-ds must be in (-1, 1000] (got '%s')", v);
                o.s.mk.delta_s = d;
            } else if (!strcmp(a, "--bk-dk")) {
                if (!(d >= 0.5 && d <= 1000))
                    BAD("--bk-dk must be in [0.5, 1000] kF (got '%s')", v);
                o.s.bk.dk = d;
            } else if (!strcmp(a, "--bk-kmax")) {
                if (!(d >= 0.5 && d <= 1e5))
                    BAD("--bk-kmax must be in [0.5, 1e5] kF (got '%s')", v);
                o.s.bk.kmax = d;
            } else {
                if (!(d > 0 && d <= 1e6))
                    BAD("--mem-budget must be a positive number of GiB (got '%s')", v);
                o.s.bk.mem_budget = d * 1073741824.0;
            }
        } else if (!strcmp(a, "--bk-cache")) {
            NEED_VALUE();
            bk_cache = v;
        } else if (!strcmp(a, "--grid")) {
            NEED_VALUE();
            if (ct_cli_parse_long(v, 2, 1 << 14, &x) || x % 2)
                BAD("--grid must be an even integer in [2, 16384] (got '%s')", v);
            o.s.grid = (int)x;
        } else if (!strcmp(a, "--mas")) {
            NEED_VALUE();
            if (ct_mas_parse(v, &o.s.mas) != CT_OK)
                BAD("--mas must be ngp, cic, tsc or pcs (got '%s')", v);
        } else if (!strcmp(a, "--interlace")) {
            o.s.interlace = 1;
        } else if (!strcmp(a, "--pk-float32")) {
            o.s.pk_float32 = 1;
        } else if (!strcmp(a, "--bk-float32")) {
            o.s.bk.shell_f32 = 1;
        } else if (!strcmp(a, "--rsd")) {
            NEED_VALUE();
            if ((o.s.rsd = parse_axis(v)) < 0)
                BAD("--rsd must be x, y or z (got '%s')", v);
        } else if (!strcmp(a, "--los")) {
            NEED_VALUE();
            if ((o.s.los = parse_axis(v)) < 0)
                BAD("--los must be x, y or z (got '%s')", v);
        } else if (!strcmp(a, "--bin-width")) {
            NEED_VALUE();
            char *end;
            o.s.bin_width = strtod(v, &end);
            if (*end || !(o.s.bin_width >= 0.01 && o.s.bin_width <= 1000))
                BAD("--bin-width must be a number in [0.01, 1000] (got '%s')", v);
        } else if (!strcmp(a, "--shot-noise")) {
            o.s.shot_noise = 1;
        } else if (!strcmp(a, "--species")) {
            NEED_VALUE();
            if (!strcmp(v, "m"))
                o.s.species_cb = 0;
            else if (!strcmp(v, "cb"))
                o.s.species_cb = 1;
            else
                BAD("--species must be m (total matter) or cb (got '%s')", v);
        } else if (!strcmp(a, "--wrap-positions")) {
            o.s.wrap_positions = 1;
        } else if (!strcmp(a, "--out")) {
            NEED_VALUE();
            o.out = v;
        } else if (!strcmp(a, "--quijote-text")) {
            o.s.quijote_text = 1;
        } else if (!strcmp(a, "--group-size")) {
            NEED_VALUE();
            if (ct_cli_parse_long(v, 1, size, &x))
                BAD("--group-size must be in [1, %d] (got '%s')", size, v);
            o.group_size = (int)x;
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE();
            if (ct_cli_parse_long(v, 1, 1024, &x))
                BAD("--threads must be in [1, 1024] (got '%s')", v);
            o.s.threads = (int)x;
        } else if (!strcmp(a, "--snapnum")) {
            NEED_VALUE();
            if (ct_cli_parse_long(v, 0, 999, &x))
                BAD("--snapnum must be in [0, 999] (got '%s')", v);
            o.snapnum = (int)x;
        } else if (!strcmp(a, "--plan")) {
            NEED_VALUE();
            if (!strcmp(v, "estimate"))
                o.s.plan = 0;
            else if (!strcmp(v, "measure"))
                o.s.plan = 1;
            else
                BAD("--plan must be estimate or measure (got '%s')", v);
        } else if (!strcmp(a, "--timing")) {
            o.timing = 1;
        } else if (a[0] == '-' && a[1]) {
            BAD("unknown option '%s'", a);
        } else {
            paths[npaths++] = a;
        }
    }
    if (npaths == 0)
        BAD("expected at least one SNAPDIR");
    if (o.s.pk_float32 && o.s.stats != CT_SUMMARIZE_PK)
        BAD("--pk-float32 measures P(k) alone (the bispectrum and the marked spectrum need the "
            "double mesh; --bk-float32 is the bispectrum's float32 option)");
    if ((o.s.stats & CT_SUMMARIZE_BK) && o.s.bk.kmax < o.s.bk.dk)
        BAD("--bk-kmax %g is below the first shell centre (--bk-dk %g)", o.s.bk.kmax, o.s.bk.dk);
    if ((o.s.stats & CT_SUMMARIZE_BK) && o.s.bk.kmax + 0.5 * o.s.bk.dk > 0.5 * o.s.grid * sqrt(3.0))
        BAD("--bk-kmax %g kF (shells to %g kF) is beyond the modes of --grid %d (|n| <= %.1f); "
            "use a larger grid or a smaller --bk-kmax", o.s.bk.kmax, o.s.bk.kmax + 0.5 * o.s.bk.dk,
            o.s.grid, 0.5 * o.s.grid * sqrt(3.0));
    if (!bk_cache) {
        if (strlen(o.out) >= PATH_MAX)
            BAD("--out: a path of %zu characters (at most %d)", strlen(o.out), PATH_MAX - 1);
        if (ct_asprintf(&bk_cache_default, "%s/.cache", o.out) != CT_OK)
            BAD("out of memory");
        bk_cache = bk_cache_default;
    }
    o.s.bk.cache_dir = bk_cache;
    if (o.group_size == 0)
        o.group_size = size;
    if (size % o.group_size)
        BAD("--group-size %d does not divide the %d ranks", o.group_size, size);
    omp_set_num_threads(o.s.threads);
    ct_check_cores(MPI_COMM_WORLD, o.s.threads, "summarize");

    int exit_code = 0;
    ct_status rc = CT_OK;
    ct_runner *runner = NULL;
    ct_manifest *man = NULL;
    ct_summarizer *z = NULL;
    char **names = calloc((size_t)npaths, sizeof *names);
    char **snaps = calloc((size_t)npaths, sizeof *snaps);
    char **suites = calloc((size_t)npaths, sizeof *suites);
    char **outs = calloc((size_t)npaths, sizeof *outs);
    if (!names || !snaps || !suites || !outs) {
        free(names);
        free(snaps);
        free(suites);
        free(outs);
        BAD("out of memory");
    }
    /* resolve every path on every rank (cheap, deterministic) */
    ct_status local = CT_OK;
    for (int i = 0; i < npaths && local == CT_OK; i++) {
        local = resolve(paths[i], o.snapnum, &snaps[i], &names[i], &suites[i]);
        if (local == CT_OK)
            local = ct_asprintf(&outs[i], "%s/%s.h5", o.out, names[i]);
        for (int j = 0; j < i && local == CT_OK; j++)
            if (!strcmp(names[i], names[j]))
                local = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                                     "%s and %s would both write %s/%s.h5", paths[j], paths[i],
                                     o.out, names[i]);
    }
    if (local == CT_OK && rank == 0)
        local = ct_mkdir_p(o.out);
    CT_CHECK_GOTO(rc, ct_agree_msg(world, local));

    {
        ct_runner_settings rs;
        ct_runner_settings_defaults(&rs);
        rs.group_size = o.group_size;
        CT_CHECK_GOTO(rc, ct_runner_create(&runner, &rs, world));
    }
    MPI_Comm group = ct_runner_group(runner);
    /* huge pages pay for their slower first touch over a long batch only
     * (ct_huge_pages_on; docs/decisions.md, "Huge pages for long batches") */
    ct_set_huge_pages(npaths >= CT_HUGE_PAGES_BATCH * ct_runner_ngroups(runner));
    CT_CHECK_GOTO(rc, ct_summarizer_create(&z, &o.s, group));
    ct_timers *T = ct_summarizer_timers(z);
    CT_CHECK_GOTO(rc, ct_manifest_open(&man, o.out, "summarize", group));
    {
        snap_job j = {&o, names, snaps, suites, outs, z, man, 0, {0}, npaths,
                      ct_runner_ngroups(runner) == 1};
        ct_runner_job job = {.n_items = npaths, .is_done = snap_is_done, .start = snap_start,
                             .run = snap_run, .finish = snap_finish, .user = &j};
        ct_runner_report rep;
        CT_CHECK_GOTO(rc, ct_runner_run(runner, &job, &rep));
        ct_runner_report_free(&rep);
    }
    CT_CHECK_GOTO(rc, ct_manifest_flush(man));
    {
        ct_manifest_counts all = ct_manifest_counts_sum(man, group, world);
        char line[512];
        ct_manifest_describe("summarize", o.out, &all, line, sizeof line);
        ct_info("%s", line);
        if (all.failed > 0)
            exit_code = CT_EXIT_PARTIAL;
    }
    if (o.timing) {
        CT_CHECK_GOTO(rc, ct_timers_report(T, world, NULL));
        double mem = (double)ct_mem_peak(), mx = 0;
        MPI_Allreduce(&mem, &mx, 1, MPI_DOUBLE, MPI_MAX, world);
        ct_info("peak memory per rank: %.1f MiB (max over ranks)", mx / 1048576.0);
    }
fail:
    ct_manifest_close(&man);
    ct_summarizer_destroy(&z);
    ct_runner_destroy(&runner);
    free(paths);
    for (int i = 0; i < npaths; i++) {
        free(names[i]);
        free(snaps[i]);
        free(suites[i]);
        free(outs[i]);
    }
    free(names);
    free(snaps);
    free(suites);
    free(outs);
    free(bk_cache_default);
    if (rc != CT_OK)
        return ct_cli_fail("summarize", world);
    return exit_code;
}

ct_status cli_summarize_read_config(const char *path, MPI_Comm comm)
{
    int ac = 0;
    char **av = NULL;
    CT_CHECK(config_to_args(path, comm, &ac, &av));
    for (int i = 0; i < ac; i++)
        free(av[i]);
    free(av);
    return CT_OK;
}
