/* Helper of the marked-spectrum / bispectrum summarize test:
 *   test_bk_tool check FILE.h5 NTRI   /mk and /bk present with their settings, NTRI
 *                                     triangles, finite values, positive counts
 *   test_bk_tool compare A.h5 B.h5 [bk]
 *                                     /mk (1e-6: float marks) and /bk (1e-9) agree
 *   test_bk_tool compare32 A.h5 B.h5  A (--bk-float32) vs B: /bk/B within 1e-6,
 *                                     P1 and counts identical, shell_float32 = 1
 *   test_bk_tool same_pk FILE.h5      /mk/P0 and /mk/X0 equal /pk/P0 (p = 0)
 *   test_bk_tool table SUITE.h5 NSIM NTRI
 *                                     gathered /bk/P is NSIM x NTRI, /bk/k1 NTRI
 *                                     long, /mk/P NSIM x nbins of /pk
 *   test_bk_tool direct SNAPDIR FILE.h5 GRID DK KMAX
 *                                     the library's B0 of the snapshot equals /bk */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"

static int fails = 0;
#define CHECK(c, ...)                                                                  \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "test_bk_tool: check failed: " __VA_ARGS__);               \
            fprintf(stderr, "\n");                                                     \
            fails++;                                                                   \
        }                                                                              \
    } while (0)

/* dataset group/name of file as doubles; NULL (and a failed check) if absent */
static double *get(const char *file, const char *ds, hsize_t *n)
{
    hid_t f = -1;
    double *v = NULL;
    int rank;
    hsize_t d[2] = {0, 0};
    if (ct_h5_open_ro(file, &f) != CT_OK || ct_h5_read_doubles(f, ds, &v, &rank, d) != CT_OK) {
        CHECK(0, "%s: %s: %s", file, ds, ct_error_message());
        v = NULL;
    }
    if (f >= 0)
        H5Fclose(f);
    *n = d[0];
    return v;
}

static double attr(const char *file, const char *group, const char *name)
{
    hid_t f = -1, g = -1;
    double v = NAN;
    if (ct_h5_open_ro(file, &f) == CT_OK && (g = H5Gopen2(f, group, H5P_DEFAULT)) >= 0) {
        if (ct_h5_read_attr_double(g, name, &v) != CT_OK)
            CHECK(0, "%s: /%s has no attribute %s", file, group, name);
        H5Gclose(g);
    } else {
        CHECK(0, "%s: no group /%s", file, group);
    }
    if (f >= 0)
        H5Fclose(f);
    return v;
}

static int check(const char *file, long ntri)
{
    CHECK(attr(file, "mk", "R") == 10.0, "R");
    CHECK(attr(file, "mk", "p") == 2.0, "p");
    CHECK(attr(file, "mk", "delta_s") == 0.25, "delta_s");
    CHECK(attr(file, "mk", "mean_mark") > 0, "mean_mark");
    CHECK(attr(file, "bk", "nbar") > 0, "nbar");
    CHECK(attr(file, "bk", "dk") > 0 && attr(file, "bk", "kmax") > 0, "dk, kmax");
    hsize_t n, nk, nx, npk;
    double *b0 = get(file, "bk/B0", &n), *c = get(file, "bk/counts", &nk);
    double *m = get(file, "mk/P0", &npk), *x = get(file, "mk/X0", &nx);
    double *k1 = get(file, "bk/k1", &nk);
    CHECK((long)n == ntri, "%s: %llu triangles, expected %ld", file, (unsigned long long)n, ntri);
    for (hsize_t t = 0; b0 && c && t < n; t++)
        CHECK(isfinite(b0[t]) && c[t] > 0, "triangle %llu: B0 %g counts %g", (unsigned long long)t,
              b0[t], c[t]);
    for (hsize_t b = 0; m && x && b < npk && b < nx; b++)
        CHECK(isfinite(m[b]) && isfinite(x[b]), "mk bin %llu", (unsigned long long)b);
    CHECK(k1 && k1[0] == attr(file, "bk", "dk"), "first k1 is one shell");
    free(b0);
    free(c);
    free(m);
    free(x);
    free(k1);
    return fails != 0;
}

static void same(const char *a, const char *b, const char *ds, double tol)
{
    hsize_t na, nb;
    double *x = get(a, ds, &na), *y = get(b, ds, &nb);
    CHECK(x && y && na == nb, "%s: lengths differ", ds);
    double e = 0;
    for (hsize_t i = 0; x && y && i < na && i < nb; i++)
        e = fmax(e, fabs(x[i] - y[i]) / fmax(fabs(y[i]), 1e-300));
    CHECK(e <= tol, "%s: %s vs %s differ by %g relative (tolerance %g)", ds, a, b, e, tol);
    free(x);
    free(y);
}

static int direct(const char *snapdir, const char *summary, int grid, double dk, double kmax,
                  MPI_Comm comm)
{
    ct_snapshot *s = NULL;
    ct_particles p;
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    memset(&p, 0, sizeof p);
    ct_mesh *m = NULL;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ct_pk_result r;
    memset(&r, 0, sizeof r);
    ct_bk_result *b = NULL;
    if (ct_snapshot_open(&s, snapdir, comm) != CT_OK || ct_snapshot_read(s, 1, &rs, &p) != CT_OK) {
        fprintf(stderr, "test_bk_tool direct: %s\n", ct_error_message());
        return 1;
    }
    ms.n = grid;
    ms.box = ct_snapshot_get_header(s)->box;
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ct_pk_particles set = {p.n, p.pos, NULL, 1.0};
    ct_bk_settings bs;
    ct_bk_settings_defaults(&bs);
    bs.dk = dk;
    bs.kmax = kmax;
    if (ct_mesh_create(&m, &ms, comm) != CT_OK || ct_pk_measure(m, NULL, &ps, 1, &set, &r) != CT_OK ||
        ct_bk_measure(m, &bs, r.nbar, &b) != CT_OK) {
        fprintf(stderr, "test_bk_tool direct: %s\n", ct_error_message());
        return 1;
    }
    hsize_t n;
    double *b0 = get(summary, "bk/B0", &n);
    CHECK((int)n == b->ntri, "triangle count %llu vs %d", (unsigned long long)n, b->ntri);
    double e = 0;
    for (int t = 0; b0 && t < b->ntri && t < (int)n; t++)
        e = fmax(e, fabs(b->B0[t] - b0[t]) / fabs(b->B[t]));
    /* relative to B: B0 = B - B_SN may cancel */
    CHECK(e < 1e-9, "direct B0 differs from %s by %g", summary, e);
    free(b0);
    ct_bk_result_destroy(&b);
    ct_pk_result_free(&r);
    ct_mesh_destroy(&m);
    ct_particles_free(&p);
    ct_snapshot_close(&s);
    return fails != 0;
}

static int table(const char *file, int nsim, int ntri)
{
    hid_t f = -1;
    if (ct_h5_open_ro(file, &f) != CT_OK) {
        fprintf(stderr, "test_bk_tool table: %s\n", ct_error_message());
        return 1;
    }
    double *v = NULL;
    int rank = 0;
    hsize_t d[2] = {0, 0}, dp[2] = {0, 0};
    CHECK(ct_h5_read_doubles(f, "bk/P", &v, &rank, d) == CT_OK && rank == 2 &&
              d[0] == (hsize_t)nsim && d[1] == (hsize_t)ntri,
          "/bk/P is %llu x %llu", (unsigned long long)d[0], (unsigned long long)d[1]);
    for (hsize_t i = 0; v && i < d[0] * d[1]; i++)
        CHECK(isfinite(v[i]), "/bk/P has a non-finite value");
    free(v);
    v = NULL;
    CHECK(ct_h5_read_doubles(f, "bk/k1", &v, &rank, d) == CT_OK && d[0] == (hsize_t)ntri,
          "/bk/k1 has %llu values", (unsigned long long)d[0]);
    free(v);
    v = NULL;
    CHECK(ct_h5_read_doubles(f, "pk/P", &v, &rank, dp) == CT_OK, "/pk/P");
    free(v);
    v = NULL;
    CHECK(ct_h5_read_doubles(f, "mk/P", &v, &rank, d) == CT_OK && d[0] == dp[0] && d[1] == dp[1],
          "/mk/P is %llu x %llu, /pk/P %llu x %llu", (unsigned long long)d[0],
          (unsigned long long)d[1], (unsigned long long)dp[0], (unsigned long long)dp[1]);
    free(v);
    H5Fclose(f);
    CHECK(attr(file, "mk", "R") == 10.0, "/mk R in the table");
    CHECK(attr(file, "bk", "dk") > 0, "/bk dk in the table");
    return fails != 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    ct_h5_quiet();
    int rc = 2;
    if (argc == 4 && !strcmp(argv[1], "check")) {
        rc = check(argv[2], atol(argv[3]));
    } else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "compare")) {
        if (argc == 4) { /* "compare A B bk": the bispectrum only */
            same(argv[2], argv[3], "mk/P0", 1e-6);
            same(argv[2], argv[3], "mk/X0", 1e-6);
        }
        same(argv[2], argv[3], "bk/B", 1e-9);
        same(argv[2], argv[3], "bk/P1", 1e-9);
        same(argv[2], argv[3], "bk/counts", 0);
        rc = fails != 0;
    } else if (argc == 4 && !strcmp(argv[1], "compare32")) {
        /* A with --bk-float32 against B without: B within 1e-6 relative (the
         * bound for float32 paths), shell power and counts identical (float64) */
        same(argv[2], argv[3], "bk/B", 1e-6);
        same(argv[2], argv[3], "bk/P1", 0);
        same(argv[2], argv[3], "bk/counts", 0);
        CHECK(attr(argv[2], "bk", "shell_float32") == 1, "%s: /bk shell_float32 is not 1", argv[2]);
        rc = fails != 0;
    } else if (argc == 3 && !strcmp(argv[1], "same_pk")) {
        same(argv[2], argv[2], "mk/P0", 0); /* the file reads back */
        hsize_t nm, nx, np;
        double *m = get(argv[2], "mk/P0", &nm), *x = get(argv[2], "mk/X0", &nx),
               *p = get(argv[2], "pk/P0", &np);
        CHECK(m && x && p && nm == np && nx == np, "lengths");
        for (hsize_t i = 0; m && x && p && i < np && i < nm && i < nx; i++) {
            CHECK(fabs(m[i] - p[i]) <= 1e-12 * fabs(p[i]), "bin %llu: M %g P %g",
                  (unsigned long long)i, m[i], p[i]);
            CHECK(fabs(x[i] - p[i]) <= 1e-12 * fabs(p[i]), "bin %llu: X %g P %g",
                  (unsigned long long)i, x[i], p[i]);
        }
        free(m);
        free(x);
        free(p);
        rc = fails != 0;
    } else if (argc == 5 && !strcmp(argv[1], "table")) {
        rc = table(argv[2], atoi(argv[3]), atoi(argv[4]));
    } else if (argc == 7 && !strcmp(argv[1], "direct")) {
        rc = direct(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atof(argv[6]), MPI_COMM_WORLD);
    } else {
        fprintf(stderr, "usage: see test_bk_tool.c\n");
    }
    MPI_Finalize();
    return rc;
}
