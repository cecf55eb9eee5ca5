/* Unit tests of src/core: error chains, config, RNG, atomic files, timers. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cosmotl/core.h"
#include "testlib.h"

static ct_status inner(void) { CT_FAIL(CT_ERR_RANGE, "value %d too big", 7); }
static ct_status outer(void)
{
    CT_CHECK(inner());
    return CT_OK;
}

static void test_errors(void)
{
    ct_error_clear();
    CT_EXPECT(outer() == CT_ERR_RANGE);
    const char *m = ct_error_message();
    CT_EXPECT(strstr(m, "value 7 too big (inner:") != NULL);
    CT_EXPECT(strstr(m, "<- outer:") != NULL);
    CT_EXPECT(ct_error_status() == CT_ERR_RANGE);
    ct_error_clear();
    CT_EXPECT(ct_error_message()[0] == '\0');
    /* agreement on one rank passes local status through */
    CT_EXPECT(ct_agree(MPI_COMM_WORLD, CT_OK) == CT_OK);
    CT_EXPECT(ct_agree(MPI_COMM_WORLD, CT_ERR_IO) == CT_ERR_IO);
}

static void test_config(void)
{
    const char *text = "[mesh]\ngrid = 128\nbox = 1000.0\nmas = tsc\n"
                       "interlace = yes\nks = 0.1, 0.2,0.3\n[extra]\ntypo = 1\n";
    ct_config *c = NULL;
    CT_EXPECT_OK(ct_config_from_string(&c, text, "x.ini"));
    long grid;
    double box, miss;
    int mas, il;
    const char *choices[] = {"ngp", "cic", "tsc", "pcs", NULL};
    CT_EXPECT_OK(ct_config_int(c, "mesh", "grid", 64, 8, 4096, &grid));
    CT_EXPECT(grid == 128);
    CT_EXPECT_OK(ct_config_double(c, "mesh", "box", 1.0, 0.0, 1e5, &box));
    CT_EXPECT(box == 1000.0);
    CT_EXPECT_OK(ct_config_double(c, "mesh", "absent", 2.5, 0.0, 10.0, &miss));
    CT_EXPECT(miss == 2.5);
    CT_EXPECT_OK(ct_config_choice(c, "mesh", "mas", "cic", choices, &mas));
    CT_EXPECT(mas == 2);
    CT_EXPECT_OK(ct_config_bool(c, "mesh", "interlace", 0, &il));
    CT_EXPECT(il == 1);
    double ks[4];
    int nk = 4;
    CT_EXPECT_OK(ct_config_doubles(c, "mesh", "ks", ks, &nk));
    CT_EXPECT(nk == 3 && ks[2] == 0.3);
    /* the unknown key is reported with file, line and key */
    CT_EXPECT(ct_config_check_unused(c) == CT_ERR_CONFIG);
    CT_EXPECT(strstr(ct_error_message(), "x.ini:8: unknown key extra.typo") != NULL);
    /* used settings include the applied default */
    int found = 0;
    for (size_t i = 0; i < ct_config_used_count(c); i++) {
        const char *s, *k, *v;
        ct_config_used_get(c, i, &s, &k, &v);
        if (!strcmp(k, "absent") && !strcmp(v, "2.5"))
            found = 1;
    }
    CT_EXPECT(found);
    ct_config_destroy(&c);
    CT_EXPECT(c == NULL);

    /* out of range and malformed values name file:line and key */
    CT_EXPECT_OK(ct_config_from_string(&c, "[a]\nn = 5000\nx = 1e\n", "y.ini"));
    CT_EXPECT(ct_config_int(c, "a", "n", 1, 1, 4096, &grid) == CT_ERR_RANGE);
    CT_EXPECT(strstr(ct_error_message(), "y.ini:2: a.n = 5000 is outside") != NULL);
    CT_EXPECT(ct_config_double(c, "a", "x", 1, 0, 10, &box) == CT_ERR_CONFIG);
    CT_EXPECT(strstr(ct_error_message(), "y.ini:3: a.x") != NULL);
    ct_config_destroy(&c);
    /* syntax errors and duplicates */
    CT_EXPECT(ct_config_from_string(&c, "[a\nb=1\n", "z.ini") == CT_ERR_CONFIG);
    CT_EXPECT(ct_config_from_string(&c, "[a]\nb=1\nb=2\n", "z.ini") == CT_ERR_CONFIG);
    CT_EXPECT(strstr(ct_error_message(), "z.ini:3: key a.b given twice") != NULL);
    CT_EXPECT(c == NULL);
}

static void test_rng(void)
{
    /* Philox4x32-10 known-answer test (Random123 kat_vectors: counter and key zero) */
    uint32_t out[4];
    ct_philox(0, 0, 0, out);
    CT_EXPECT(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
              out[3] == 0x9b00dbd8u);
    /* streams depend on (seed, stream, counter) only: starting mid-stream matches */
    ct_rng a, b;
    ct_rng_init(&a, 42, 7, 0);
    for (int i = 0; i < 8; i++)
        ct_rng_u32(&a);
    ct_rng_init(&b, 42, 7, 2);
    CT_EXPECT(ct_rng_u32(&a) == ct_rng_u32(&b));
    /* uniform mean and normal moments over 2e5 draws: tolerances are 5 sigma */
    ct_rng_init(&a, 1, 0, 0);
    double s = 0, s2 = 0, m = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = ct_rng_uniform(&a);
        CT_EXPECT(u > 0.0 && u < 1.0);
        m += u;
        double g = ct_rng_normal(&a);
        s += g;
        s2 += g * g;
    }
    CT_EXPECT_ABS(m / n, 0.5, 5 * sqrt(1.0 / 12 / n));
    CT_EXPECT_ABS(s / n, 0.0, 5 / sqrt((double)n));
    CT_EXPECT_ABS(s2 / n, 1.0, 5 * sqrt(2.0 / n));
    for (int i = 0; i < 1000; i++)
        CT_EXPECT(ct_rng_below(&a, 10) < 10);
}

static void test_files(void)
{
    char dir[] = "/tmp/ct_test_filesXXXXXX";
    CT_EXPECT(mkdtemp(dir) != NULL);
    char sub[256], fin[300], tmp[512];
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    CT_EXPECT_OK(ct_mkdir_p(sub));
    CT_EXPECT(ct_dir_exists(sub));
    snprintf(fin, sizeof fin, "%s/out.txt", sub);
    CT_EXPECT_OK(ct_atomic_begin(fin, tmp, sizeof tmp));
    FILE *f = fopen(tmp, "w");
    CT_EXPECT(f != NULL);
    fputs("hello\n", f);
    fclose(f);
    CT_EXPECT(!ct_file_exists(fin)); /* nothing under the final name until commit */
    CT_EXPECT_OK(ct_atomic_commit(tmp, fin));
    CT_EXPECT(ct_file_exists(fin) && !ct_file_exists(tmp));
    char *text = NULL;
    size_t len = 0;
    CT_EXPECT_OK(ct_read_text(fin, &text, &len));
    CT_EXPECT(len == 6 && !strcmp(text, "hello\n"));
    free(text);
    /* abort removes the temporary */
    CT_EXPECT_OK(ct_atomic_begin(fin, tmp, sizeof tmp));
    f = fopen(tmp, "w");
    fclose(f);
    ct_atomic_abort(tmp);
    CT_EXPECT(!ct_file_exists(tmp));
    /* temporaries of killed writers (no such process) are removed by the next
     * begin; a live writer's (our parent's) and other files' are kept */
    {
        long pid_max = 4194304; /* the largest a kernel allows; no pid reaches it */
        FILE *pm = fopen("/proc/sys/kernel/pid_max", "r");
        if (pm) {
            if (fscanf(pm, "%ld", &pid_max) != 1)
                pid_max = 4194304;
            fclose(pm);
        }
        char dead[600], live[600], other[600], fin2[320];
        snprintf(dead, sizeof dead, "%s/.out.txt.tmp.%ld", sub, pid_max);
        snprintf(live, sizeof live, "%s/.out.txt.tmp.%ld", sub, (long)getppid());
        snprintf(other, sizeof other, "%s/.other.txt.tmp.%ld", sub, pid_max);
        const char *made[3] = {dead, live, other};
        for (int i = 0; i < 3; i++) {
            FILE *t = fopen(made[i], "w");
            CT_EXPECT(t != NULL);
            if (t)
                fclose(t);
        }
        CT_EXPECT_OK(ct_atomic_begin(fin, tmp, sizeof tmp));
        CT_EXPECT(!ct_file_exists(dead));
        CT_EXPECT(ct_file_exists(live) && ct_file_exists(other));
        snprintf(fin2, sizeof fin2, "%s/other.txt", sub);
        CT_EXPECT_OK(ct_atomic_begin(fin2, tmp, sizeof tmp));
        CT_EXPECT(!ct_file_exists(other) && ct_file_exists(live));
        unlink(live);
    }
    /* missing directories are errors */
    CT_EXPECT(ct_atomic_begin("/nonexistent/dir/x", tmp, sizeof tmp) == CT_ERR_IO);
    CT_EXPECT(ct_read_text("/nonexistent/file", &text, &len) == CT_ERR_IO);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CT_EXPECT(system(cmd) == 0);
}

/* Paths past the old 4096-character buffers: folders and temporaries of any
 * length the kernel takes (PATH_MAX 4096 for one system call, so 3000 here), a
 * fixed buffer that is too small is an error with a message, never a cut path. */
static void test_long_paths(void)
{
    char base[] = "/tmp/ct_test_longXXXXXX";
    CT_EXPECT(mkdtemp(base) != NULL);
    char comp[201];
    memset(comp, 'd', 200);
    comp[200] = '\0';
    char *dir = NULL, *fin = NULL, *tmp = NULL, *cname = NULL;
    CT_EXPECT_OK(ct_asprintf(&dir, "%s", base));
    for (int i = 0; i < 15; i++) {
        char *t = dir;
        CT_EXPECT_OK(ct_asprintf(&dir, "%s/%s", t, comp));
        free(t);
    }
    CT_EXPECT(strlen(dir) > 3000);
    CT_EXPECT_OK(ct_mkdir_p(dir));
    CT_EXPECT(ct_dir_exists(dir));
    CT_EXPECT_OK(ct_asprintf(&fin, "%s/out.txt", dir));
    CT_EXPECT_OK(ct_atomic_begin_alloc(fin, &tmp));
    CT_EXPECT(tmp && strlen(tmp) > strlen(fin) && !strncmp(tmp, dir, strlen(dir)));
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    CT_EXPECT(f != NULL);
    if (f) {
        fputs("x\n", f);
        fclose(f);
    }
    CT_EXPECT_OK(ct_atomic_commit(tmp, fin));
    CT_EXPECT(ct_file_exists(fin));
    char small[256];
    CT_EXPECT(ct_atomic_begin(fin, small, sizeof small) == CT_ERR_ARG);
    CT_EXPECT(strstr(ct_error_message(), "path too long") != NULL);
    ct_error_clear();
    /* a config file's folder, whatever its length (was cut at 1023 characters) */
    CT_EXPECT_OK(ct_asprintf(&cname, "%s/run.ini", dir));
    ct_config *cfg = NULL;
    CT_EXPECT_OK(ct_config_from_string(&cfg, "[a]\nb = 1\n", cname));
    CT_EXPECT(cfg && !strcmp(ct_config_dir(cfg), dir) && !strcmp(ct_config_path(cfg), cname));
    ct_config_destroy(&cfg);
    CT_EXPECT_OK(ct_config_from_string(&cfg, "[a]\n", "bare.ini"));
    CT_EXPECT(cfg && !strcmp(ct_config_dir(cfg), "."));
    ct_config_destroy(&cfg);
    CT_EXPECT_OK(ct_config_from_string(&cfg, "[a]\n", "/top.ini"));
    CT_EXPECT(cfg && !strcmp(ct_config_dir(cfg), "/"));
    ct_config_destroy(&cfg);
    /* a line longer than the INI parser's buffer is an error, not two lines */
    {
        char text[1200];
        int n = snprintf(text, sizeof text, "[a]\nb = ");
        memset(text + n, 'x', 1000);
        snprintf(text + n + 1000, sizeof text - (size_t)n - 1000, "\nc = 1\n");
        CT_EXPECT(ct_config_from_string(&cfg, text, "long.ini") == CT_ERR_CONFIG);
        CT_EXPECT(strstr(ct_error_message(), "long.ini:2: line longer than") != NULL);
        ct_error_clear();
    }
    /* a text file written atomically in that folder (ct_atomic_fopen/fclose, no
     * fixed buffer): complete under its name, no temporary left; a write that
     * failed (the error flag of the stream) fails the close, naming the file, and
     * leaves neither the file nor a temporary */
    {
        char *t2 = NULL, *fin2 = NULL;
        CT_EXPECT_OK(ct_asprintf(&fin2, "%s/atomic.txt", dir));
        ct_atomic_file af;
        CT_EXPECT_OK(ct_atomic_fopen(&af, fin2));
        if (af.f) {
            CT_EXPECT(ct_file_exists(af.tmp) && !ct_file_exists(fin2));
            CT_EXPECT_OK(ct_asprintf(&t2, "%s", af.tmp));
            fprintf(af.f, "k P\n");
            CT_EXPECT_OK(ct_atomic_fclose(&af));
            CT_EXPECT(af.f == NULL && af.tmp == NULL);
            CT_EXPECT(ct_file_exists(fin2) && !ct_file_exists(t2));
            unlink(fin2);
            free(t2);
            t2 = NULL;
        }
        CT_EXPECT_OK(ct_atomic_fopen(&af, fin2));
        if (af.f) {
            CT_EXPECT_OK(ct_asprintf(&t2, "%s", af.tmp));
            fprintf(af.f, "k P\n");
            (void)fgetc(af.f); /* reading a write-only stream sets its error flag */
            CT_EXPECT(ct_atomic_fclose(&af) == CT_ERR_IO);
            CT_EXPECT(strstr(ct_error_message(), "atomic.txt: write failed") != NULL);
            ct_error_clear();
            CT_EXPECT(!ct_file_exists(fin2) && !ct_file_exists(t2));
        }
        /* discarded on purpose (another error): nothing left either */
        CT_EXPECT_OK(ct_atomic_fopen(&af, fin2));
        free(t2);
        t2 = af.tmp ? strdup(af.tmp) : NULL;
        ct_atomic_fdiscard(&af);
        CT_EXPECT(af.f == NULL && !ct_file_exists(fin2) && t2 && !ct_file_exists(t2));
        ct_atomic_fdiscard(&af); /* twice, and on a zeroed one: harmless */
        /* a folder that does not exist: one line naming the file */
        CT_EXPECT(ct_atomic_fopen(&af, "/nonexistent-ct/x.txt") == CT_ERR_IO && af.f == NULL);
        CT_EXPECT(strstr(ct_error_message(), "/nonexistent-ct/x.txt") != NULL);
        ct_error_clear();
        free(t2);
        free(fin2);
    }
    /* ct_snprintf refuses to cut */
    char b8[8];
    CT_EXPECT(ct_snprintf(b8, sizeof b8, "%s", "123456789") == CT_ERR_RANGE);
    ct_error_clear();
    CT_EXPECT_OK(ct_snprintf(b8, sizeof b8, "%s", "1234567"));
    free(dir);
    free(fin);
    free(tmp);
    free(cname);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    CT_EXPECT(system(cmd) == 0);
}

static void test_timers(void)
{
    ct_timers t;
    ct_timers_init(&t);
    ct_timer_start(&t, "sleep");
    usleep(20000);
    ct_timer_stop(&t, "sleep");
    CT_EXPECT(ct_timer_get(&t, "sleep") >= 0.015);
    CT_EXPECT_OK(ct_timers_report(&t, MPI_COMM_WORLD, NULL));
    CT_EXPECT(ct_mem_peak() > 0 && ct_mem_current() > 0);
}

static int captured = 0;
static void hook(ct_log_level l, int r, const char *line, void *u)
{
    (void)l;
    (void)r;
    (void)u;
    if (strstr(line, "hello 3"))
        captured++;
}

static void test_log(void)
{
    ct_log_set_hook(hook, NULL);
    ct_log_set_level(CT_LOG_INFO);
    ct_info("hello %d", 3);
    ct_debug("hello %d", 3); /* below threshold */
    ct_log_set_hook(NULL, NULL);
    CT_EXPECT(captured == 1);
}

static int oversub_lines = 0;
static void oversub_hook(ct_log_level l, int r, const char *line, void *u)
{
    (void)r;
    (void)u;
    if (l == CT_LOG_WARN && strstr(line, "oversubscribed") && strstr(line, "unit-test"))
        oversub_lines++;
}

/* ct_check_cores: one rank with as many threads as the cores it may use is
 * fine; one more thread is reported once (unless OMP_WAIT_POLICY=passive is set,
 * which silences the line but not the return value). */
static void test_check_cores(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    const long cores =
        sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 ? CPU_COUNT(&set)
                                                                          : sysconf(_SC_NPROCESSORS_ONLN);
    const char *wait = getenv("OMP_WAIT_POLICY");
    const int passive = wait && !strcasecmp(wait, "passive");
    ct_log_set_hook(oversub_hook, NULL);
    CT_EXPECT(ct_check_cores(MPI_COMM_SELF, 1, "unit-test") == 0);
    CT_EXPECT(ct_check_cores(MPI_COMM_SELF, (int)cores, "unit-test") == 0);
    CT_EXPECT(ct_check_cores(MPI_COMM_SELF, (int)cores + 1, "unit-test") == 1);
    ct_log_set_hook(NULL, NULL);
    CT_EXPECT(oversub_lines == (passive ? 0 : 1));
}

/* The name hash: FNV-1a's step with the project's historical basis (exact values,
 * computed independently in Python; they seed the study's splits and tasks, so
 * they must never change) */
static void test_hash(void)
{
    CT_EXPECT(ct_hash_name("") == 1469598103934665603ull);
    CT_EXPECT(ct_hash_name("a") == 0x44bd8ad473cd9906ull);
    CT_EXPECT(ct_hash_name("foobar") == 0x88fad7c0a8ff07f2ull);
}

/* Huge-page advice: off by default, on after ct_set_huge_pages(1), and the
 * environment's CT_HUGE_PAGES=0 / 1 overrides the process default either way. */
static void test_huge_pages(void)
{
    const char *saved = getenv("CT_HUGE_PAGES");
    char *keep = saved ? strdup(saved) : NULL;
    unsetenv("CT_HUGE_PAGES");
    CT_EXPECT(ct_huge_pages_on() == 0);
    ct_set_huge_pages(1);
    CT_EXPECT(ct_huge_pages_on() == 1);
    setenv("CT_HUGE_PAGES", "0", 1);
    CT_EXPECT(ct_huge_pages_on() == 0);
    ct_set_huge_pages(0);
    setenv("CT_HUGE_PAGES", "1", 1);
    CT_EXPECT(ct_huge_pages_on() == 1);
    /* advice on a real block changes no byte of it */
    float *a = NULL;
    CT_EXPECT_OK(ct_calloc_huge(&a, (size_t)3 << 20, sizeof *a, "test block"));
    int nonzero = 0;
    for (size_t i = 0; a && i < ((size_t)3 << 20); i += 4093)
        nonzero += a[i] != 0;
    CT_EXPECT(a && nonzero == 0);
    free(a);
    /* ct_populate changes no byte either, at an unaligned start and length,
     * over pages already written and fresh ones */
    const size_t nb = ((size_t)5 << 20) + 123;
    unsigned char *b = malloc(nb);
    CT_EXPECT(b != NULL);
    if (b) {
        for (size_t i = 0; i < 4096; i++)
            b[i] = (unsigned char)(i * 7 + 1);
        const int pr = ct_populate(b + 17, nb - 40);
#ifdef __linux__
        (void)pr; /* -1 on kernels before 5.14: then nothing happens */
#else
        CT_EXPECT(pr == -1);
#endif
        int changed = 0;
        for (size_t i = 0; i < 4096; i++)
            changed += b[i] != (unsigned char)(i * 7 + 1);
        CT_EXPECT(changed == 0);
        free(b);
    }
#ifdef __linux__
    CT_EXPECT(ct_populate(NULL, 0) == 0);
#endif
    if (keep)
        setenv("CT_HUGE_PAGES", keep, 1);
    else
        unsetenv("CT_HUGE_PAGES");
    free(keep);
}

/* One-node MPI start-up defaults: OMPI_MCA_pml=ob1 when every rank is on one
 * node (Open MPI's launcher sizes, SLURM's step, or no launcher), never over a
 * user's OMPI_MCA_pml, never with CT_MPI_DEFAULTS=0. */
static int pml_after(const char *const *set)
{
    static const char *names[] = {"OMPI_MCA_pml", "CT_MPI_DEFAULTS", "OMPI_COMM_WORLD_SIZE",
                                  "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_STEP_NUM_NODES",
                                  "SLURM_NNODES", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unsetenv(names[i]);
    for (; set && set[0]; set += 2)
        setenv(set[0], set[1], 1);
    ct_mpi_start_defaults();
    const char *v = getenv("OMPI_MCA_pml");
    return !v ? 0 : !strcmp(v, "ob1") ? 1 : 2; /* unset, ob1, the user's */
}

static void test_mpi_defaults(void)
{
    const char *keep_pml = getenv("OMPI_MCA_pml");
    char *kp = keep_pml ? strdup(keep_pml) : NULL;
    const char *one[] = {"OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_LOCAL_SIZE", "4", NULL};
    const char *two[] = {"OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_LOCAL_SIZE", "2", NULL};
    const char *user[] = {"OMPI_MCA_pml", "ucx", "OMPI_COMM_WORLD_SIZE", "1",
                          "OMPI_COMM_WORLD_LOCAL_SIZE", "1", NULL};
    const char *off[] = {"CT_MPI_DEFAULTS", "0", NULL};
    const char *srun1[] = {"SLURM_STEP_NUM_NODES", "1", "SLURM_NNODES", "3", "PMIX_RANK", "0",
                           NULL};
    const char *srun2[] = {"SLURM_NNODES", "2", "PMIX_RANK", "0", NULL};
    const char *pmix[] = {"PMIX_RANK", "0", NULL};
    CT_EXPECT(pml_after(one) == 1);
    CT_EXPECT(pml_after(two) == 0);
    CT_EXPECT(pml_after(user) == 2);
    CT_EXPECT(pml_after(off) == 0);
    CT_EXPECT(pml_after(srun1) == 1);
    CT_EXPECT(pml_after(srun2) == 0);
    CT_EXPECT(pml_after(pmix) == 0); /* a launcher that gives no node count */
    CT_EXPECT(pml_after(NULL) == 1); /* a singleton */
    pml_after(NULL);
    unsetenv("OMPI_MCA_pml");
    if (kp)
        setenv("OMPI_MCA_pml", kp, 1);
    free(kp);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    test_errors();
    test_config();
    test_rng();
    test_hash();
    test_files();
    test_long_paths();
    test_timers();
    test_log();
    test_check_cores();
    test_huge_pages();
    test_mpi_defaults();
    CT_TEST_END();
}
