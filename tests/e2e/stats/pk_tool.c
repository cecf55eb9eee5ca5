/* Helper of the summarize/gather end-to-end test:
 *   pk_tool make SUITE NSIM          tiny Quijote-layout suite (sim 1 with neutrinos)
 *   pk_tool compare A.h5 B.h5 GROUP  P0/P2/P4/k/nmodes equal to 1e-12
 *                                    (GROUP_A:GROUP_B compares different groups)
 *   pk_tool compare32 A.h5 B.h5 GROUP
 *                                    A (--pk-float32) against B (double): k and
 *                                    nmodes identical, P0 within 1e-6 relative
 *                                    and P2, P4 within (2l + 1) 1e-6 of P0 below
 *                                    the Nyquist wavenumber, not all bins equal
 *   pk_tool direct SNAPDIR SUMMARY.h5 GRID
 *                                    P(k) of the snapshot through the library
 *                                    (one rank) equals the summary's /pk
 *   pk_tool hints SNAP_A SNAP_B DIR  summaries made with ct_summarize_prefetch's
 *                                    read-ahead (right, wrong and unopenable
 *                                    hints, a pending read at destroy) equal
 *                                    those of calls without hints bit for bit
 *                                    (/pk, and /pk_cb when SNAP_B has neutrinos;
 *                                    two CDM snapshots on one rank with
 *                                    CT_OVERLAP_PAINT=1: the hinted snapshot
 *                                    painted by the helper thread)
 *   pk_tool table SUITE.h5 REF.h5 STATUS
 *                                    every object and attribute of REF (released
 *                                    Quijote table; its /mk excepted) exists in
 *                                    SUITE.h5 with the same class and rank, and
 *                                    /status equals STATUS ("1,2,0,...") */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"
#include "cosmotl/summarize.h"
#include "cosmotl/summary.h"

static int fails = 0;
#define CHECK(c, ...)                                                                  \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "pk_tool: check failed: " __VA_ARGS__);                    \
            fprintf(stderr, "\n");                                                     \
            fails++;                                                                   \
        }                                                                              \
    } while (0)

static int make(const char *dir, int nsim, MPI_Comm comm)
{
    ct_rng rng;
    char path[4096];
    for (int s = 0; s < nsim; s++) {
        ct_rng_init(&rng, 100 + s, 0, 0);
        const int64_t n = 4096;
        ct_particles cdm, nu;
        memset(&cdm, 0, sizeof cdm);
        memset(&nu, 0, sizeof nu);
        cdm.n = nu.n = n;
        cdm.pos = malloc(sizeof(float) * 3 * n);
        cdm.vel = malloc(sizeof(float) * 3 * n);
        cdm.id = malloc(sizeof(uint64_t) * n);
        nu.pos = malloc(sizeof(float) * 3 * n);
        nu.vel = malloc(sizeof(float) * 3 * n);
        nu.id = malloc(sizeof(uint64_t) * n);
        const double L = 200.0;
        for (int64_t i = 0; i < n; i++) {
            /* clustered: half the particles in a few clumps */
            double c[3] = {0, 0, 0};
            int clump = i % 2 ? (int)(ct_rng_below(&rng, 5)) : -1;
            for (int a = 0; a < 3; a++) {
                double x = ct_rng_uniform(&rng) * L;
                if (clump >= 0)
                    x = fmod(40.0 * (clump + 1) + 8.0 * ct_rng_normal(&rng) + (a + 1) * 17.0 + L, L);
                c[a] = x;
                cdm.pos[3 * i + a] = (float)x;
                cdm.vel[3 * i + a] = (float)(300.0 * ct_rng_normal(&rng));
                nu.pos[3 * i + a] = (float)(ct_rng_uniform(&rng) * L);
                nu.vel[3 * i + a] = (float)(1000.0 * ct_rng_normal(&rng));
            }
            (void)c;
            cdm.id[i] = (uint64_t)i + 1;
            nu.id[i] = (uint64_t)(n + i + 1);
        }
        ct_snapshot_header h;
        memset(&h, 0, sizeof h);
        h.box = L;
        h.time = 1.0;
        h.redshift = 0.0;
        h.omega_m = 0.3175;
        h.omega_l = 0.6825;
        h.hubble = 0.6711;
        h.mass_table[1] = 65.7;
        h.mass_table[2] = s == 1 ? 0.9 : 0;
        const ct_particles *parts[6] = {NULL, &cdm, s == 1 ? &nu : NULL, NULL, NULL, NULL};
        ct_write_settings ws;
        ct_write_settings_defaults(&ws);
        ws.nfiles = 2;
        snprintf(path, sizeof path, "%s/%d", dir, s);
        if (ct_mkdir_p(path) != CT_OK ||
            ct_snapshot_write(path, &h, parts, &ws, comm) != CT_OK) {
            fprintf(stderr, "pk_tool make: %s\n", ct_error_message());
            return 1;
        }
        ct_particles_free(&cdm);
        ct_particles_free(&nu);
    }
    snprintf(path, sizeof path, "%s/params.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "# Omega_m Omega_b h n_s sigma_8\n");
    for (int s = 0; s < nsim; s++)
        fprintf(f, "%.4f 0.049 0.6711 0.9624 %.4f\n", 0.2 + 0.05 * s, 0.7 + 0.03 * s);
    fclose(f);
    return 0;
}

static int compare(const char *a, const char *b, const char *group, double tol)
{
    ct_pk_result x, y;
    char ga[256], gb[256];
    snprintf(ga, sizeof ga, "%s", group);
    char *colon = strchr(ga, ':');
    snprintf(gb, sizeof gb, "%s", colon ? colon + 1 : group);
    if (colon)
        *colon = 0;
    if (ct_summary_read_pk(a, ga, &x) != CT_OK || ct_summary_read_pk(b, gb, &y) != CT_OK) {
        fprintf(stderr, "pk_tool compare: %s\n", ct_error_message());
        return 1;
    }
    CHECK(x.nbins == y.nbins, "%s: %d bins vs %d", group, x.nbins, y.nbins);
    double e = 0;
    for (int i = 0; i < x.nbins && i < y.nbins; i++) {
        CHECK(x.nmodes[i] == y.nmodes[i], "nmodes of bin %d", i);
        double v[4][2] = {{x.k[i], y.k[i]}, {x.P0[i], y.P0[i]}, {x.P2[i], y.P2[i]}, {x.P4[i], y.P4[i]}};
        for (int q = 0; q < 4; q++)
            if (v[q][1] != 0)
                e = fmax(e, fabs(v[q][0] - v[q][1]) / fabs(v[q][1]));
    }
    CHECK(e <= tol, "%s: %s vs %s differ by %g (> %g)", group, a, b, e, tol);
    ct_pk_result_free(&x);
    ct_pk_result_free(&y);
    return fails != 0;
}

/* The float32 path (A) against the double one (B): the tolerance of
 * ct_pk_settings.float32 (docs/decisions.md). */
static int compare32(const char *a, const char *b, const char *group)
{
    ct_pk_result x, y;
    if (ct_summary_read_pk(a, group, &x) != CT_OK || ct_summary_read_pk(b, group, &y) != CT_OK) {
        fprintf(stderr, "pk_tool compare32: %s\n", ct_error_message());
        return 1;
    }
    CHECK(x.nbins == y.nbins, "%s: %d bins vs %d", group, x.nbins, y.nbins);
    double e = 0;
    int differ = 0;
    for (int i = 0; i < x.nbins && i < y.nbins; i++) {
        CHECK(x.nmodes[i] == y.nmodes[i] && x.k[i] == y.k[i], "k or nmodes of bin %d", i);
        differ += x.P0[i] != y.P0[i];
        if (i + 1 >= y.grid / 2 || y.nmodes[i] == 0) /* bin i: i + 1 <= |n| < i + 2 */
            continue;
        e = fmax(e, fabs(x.P0[i] - y.P0[i]) / fabs(y.P0[i]));
        e = fmax(e, fabs(x.P2[i] - y.P2[i]) / fabs(y.P0[i]) / 5);
        e = fmax(e, fabs(x.P4[i] - y.P4[i]) / fabs(y.P0[i]) / 9);
    }
    CHECK(e <= 1e-6, "%s: %s vs %s differ by %g relative below k_Nyquist (> 1e-6)", group, a, b,
          e);
    CHECK(differ > 0, "%s: %s equals %s bit for bit: not the float32 path", group, a, b);
    ct_pk_result_free(&x);
    ct_pk_result_free(&y);
    return fails != 0;
}

/* One call; CT_OK or the agreed failure. */
static ct_status one(ct_summarizer *z, const char *hint, const char *snap, const char *dir,
                     const char *name)
{
    char out[4400];
    snprintf(out, sizeof out, "%s/%s.h5", dir, name);
    if (ct_summarize_prefetch(z, hint) != CT_OK)
        return CT_ERR_MEMORY;
    return ct_summarize_snapshot(z, snap, name, ".", out);
}

static int hints(const char *a, const char *b, const char *dir, MPI_Comm comm)
{
    ct_summarize_settings s;
    ct_summarize_settings_defaults(&s);
    s.grid = 32;
    s.interlace = 1;
    char nowhere[4300];
    snprintf(nowhere, sizeof nowhere, "%s/nowhere", dir);
    ct_summarizer *z0 = NULL, *z = NULL;
    if (ct_summarizer_create(&z0, &s, comm) != CT_OK || ct_summarizer_create(&z, &s, comm) != CT_OK) {
        fprintf(stderr, "pk_tool hints: %s\n", ct_error_message());
        return 1;
    }
    /* without hints */
    CHECK(one(z0, NULL, a, dir, "ref_a") == CT_OK, "ref_a: %s", ct_error_message());
    CHECK(one(z0, NULL, b, dir, "ref_b") == CT_OK, "ref_b: %s", ct_error_message());
    ct_summarizer_destroy(&z0);
    /* right hint: b is read while a is computed */
    CHECK(one(z, b, a, dir, "h1") == CT_OK, "h1: %s", ct_error_message());
    /* b taken from the read-ahead; a hint that cannot be opened is dropped */
    CHECK(one(z, nowhere, b, dir, "h2") == CT_OK, "h2: %s", ct_error_message());
    /* ... and the call that names it reports it */
    ct_status st = one(z, NULL, nowhere, dir, "h3");
    CHECK(st != CT_OK && strstr(ct_error_message(), "nowhere"),
          "a missing snapshot: status %d, message '%s'", (int)st, ct_error_message());
    /* a wrong hint: a is read ahead, then discarded when b is asked for */
    CHECK(one(z, a, b, dir, "h4") == CT_OK, "h4: %s", ct_error_message());
    CHECK(one(z, NULL, b, dir, "h5") == CT_OK, "h5: %s", ct_error_message());
    /* destroyed with a read pending */
    CHECK(one(z, a, b, dir, "h6") == CT_OK, "h6: %s", ct_error_message());
    ct_summarizer_destroy(&z);
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        char x[4400], y[4400];
        ct_pk_result cb;
        memset(&cb, 0, sizeof cb);
        snprintf(x, sizeof x, "%s/ref_b.h5", dir);
        const int has_cb = ct_summary_read_pk(x, "pk_cb", &cb) == CT_OK;
        ct_pk_result_free(&cb);
        ct_error_clear();
        const char *pairs[5][2] = {{"ref_a", "h1"}, {"ref_b", "h2"}, {"ref_b", "h4"},
                                   {"ref_b", "h5"}, {"ref_b", "h6"}};
        for (int i = 0; i < 5; i++) {
            snprintf(x, sizeof x, "%s/%s.h5", dir, pairs[i][0]);
            snprintf(y, sizeof y, "%s/%s.h5", dir, pairs[i][1]);
            if (compare(x, y, "pk", 0.0))
                fails++;
            if (i > 0 && has_cb && compare(x, y, "pk_cb", 0.0))
                fails++;
        }
        snprintf(x, sizeof x, "%s/h3.h5", dir);
        FILE *f = fopen(x, "r");
        CHECK(!f, "a summary was written for a missing snapshot");
        if (f)
            fclose(f);
    }
    return fails != 0;
}

static int direct(const char *snapdir, const char *summary, int grid, MPI_Comm comm)
{
    ct_snapshot *s = NULL;
    ct_particles p;
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    if (ct_snapshot_open(&s, snapdir, comm) != CT_OK ||
        ct_snapshot_read(s, 1, &rs, &p) != CT_OK) {
        fprintf(stderr, "pk_tool direct: %s\n", ct_error_message());
        return 1;
    }
    ct_mesh *m = NULL;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = grid;
    ms.box = ct_snapshot_get_header(s)->box;
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ct_pk_particles set = {p.n, p.pos, NULL, 1.0};
    ct_pk_result r, f;
    if (ct_mesh_create(&m, &ms, comm) != CT_OK || ct_pk_measure(m, NULL, &ps, 1, &set, &r) != CT_OK ||
        ct_summary_read_pk(summary, "pk", &f) != CT_OK) {
        fprintf(stderr, "pk_tool direct: %s\n", ct_error_message());
        return 1;
    }
    double e = 0;
    for (int i = 0; i < r.nbins && i < f.nbins; i++)
        if (r.nmodes[i])
            e = fmax(e, fabs(r.P0[i] - f.P0[i]) / fabs(r.P0[i]));
    CHECK(r.nbins == f.nbins && e < 1e-12, "direct P(k) differs from %s by %g", summary, e);
    CHECK(fabs(f.nbar - p.n / pow(ms.box, 3)) < 1e-12 * f.nbar, "nbar %g", f.nbar);
    ct_pk_result_free(&r);
    ct_pk_result_free(&f);
    ct_mesh_destroy(&m);
    ct_particles_free(&p);
    ct_snapshot_close(&s);
    return fails != 0;
}

/* every object/attribute of ref exists in t with the same class and rank */
typedef struct {
    hid_t t;
    int nobj;
} walk_ctx;

static void check_attrs(hid_t ro, hid_t to, const char *where)
{
    int na = H5Aget_num_attrs(ro);
    for (int i = 0; i < na; i++) {
        hid_t a = H5Aopen_idx(ro, (unsigned)i);
        char name[128];
        H5Aget_name(a, sizeof name, name);
        hid_t ty = H5Aget_type(a), sp = H5Aget_space(a);
        int cls = H5Tget_class(ty), rk = H5Sget_simple_extent_ndims(sp);
        H5Tclose(ty);
        H5Sclose(sp);
        H5Aclose(a);
        if (H5Aexists(to, name) <= 0) {
            CHECK(0, "%s: attribute %s missing", where, name);
            continue;
        }
        hid_t b = H5Aopen(to, name, H5P_DEFAULT);
        ty = H5Aget_type(b);
        sp = H5Aget_space(b);
        CHECK(H5Tget_class(ty) == cls && H5Sget_simple_extent_ndims(sp) == rk,
              "%s: attribute %s has another type or rank", where, name);
        H5Tclose(ty);
        H5Sclose(sp);
        H5Aclose(b);
    }
}

static herr_t visit(hid_t root, const char *name, const H5O_info_t *info, void *ctx_)
{
    walk_ctx *ctx = ctx_;
    if (!strncmp(name, "mk", 2))
        return 0; /* the marked spectrum is not part of this test */
    ctx->nobj++;
    const char *nm = strcmp(name, ".") ? name : "/";
    if (strcmp(name, ".") && !ct_h5_exists(ctx->t, name)) {
        CHECK(0, "object /%s missing", name);
        return 0;
    }
    hid_t ro = H5Oopen(root, name, H5P_DEFAULT), to = H5Oopen(ctx->t, name, H5P_DEFAULT);
    H5O_info_t ti;
    H5Oget_info(to, &ti);
    CHECK(ti.type == info->type, "/%s: another object type", nm);
    if (info->type == H5O_TYPE_DATASET && ti.type == H5O_TYPE_DATASET) {
        hid_t rt = H5Dget_type(ro), tt = H5Dget_type(to), rs = H5Dget_space(ro), ts = H5Dget_space(to);
        CHECK(H5Tget_class(rt) == H5Tget_class(tt) && H5Tget_size(rt) == H5Tget_size(tt),
              "/%s: another element type", nm);
        CHECK(H5Sget_simple_extent_ndims(rs) == H5Sget_simple_extent_ndims(ts), "/%s: another rank", nm);
        H5Tclose(rt);
        H5Tclose(tt);
        H5Sclose(rs);
        H5Sclose(ts);
    }
    check_attrs(ro, to, nm);
    H5Oclose(ro);
    H5Oclose(to);
    return 0;
}

static int table(const char *path, const char *ref, const char *status)
{
    hid_t t, r;
    if (ct_h5_open_ro(path, &t) != CT_OK || ct_h5_open_ro(ref, &r) != CT_OK) {
        fprintf(stderr, "pk_tool table: %s\n", ct_error_message());
        return 1;
    }
    walk_ctx ctx = {t, 0};
    H5Ovisit(r, H5_INDEX_NAME, H5_ITER_INC, visit, &ctx);
    CHECK(ctx.nobj >= 7, "walked only %d objects of %s", ctx.nobj, ref);
    double *st = NULL;
    int rk;
    hsize_t d[2];
    if (ct_h5_read_doubles(t, "status", &st, &rk, d) == CT_OK) {
        char got[1024] = "";
        for (hsize_t i = 0; i < d[0]; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", i ? "," : "", (int)st[i]);
        CHECK(!strcmp(got, status), "status %s, expected %s", got, status);
        free(st);
    }
    /* /pk/P rows of present simulations are finite, others NaN */
    double *P = NULL;
    if (ct_h5_read_doubles(t, "pk/P", &P, &rk, d) == CT_OK) {
        for (hsize_t i = 0; i < d[0]; i++) {
            int present = status[2 * i] == '1';
            CHECK(present == !isnan(P[i * d[1]]), "row %llu of /pk/P", (unsigned long long)i);
        }
        free(P);
    }
    H5Fclose(t);
    H5Fclose(r);
    return fails != 0;
}

int main(int argc, char **argv)
{
    int prov;
    /* ct_summarize's reader thread makes no MPI calls */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
    ct_h5_quiet();
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    int rc = 2;
    if (argc == 4 && !strcmp(argv[1], "make"))
        rc = make(argv[2], atoi(argv[3]), MPI_COMM_WORLD);
    else if (argc == 5 && !strcmp(argv[1], "compare"))
        rc = compare(argv[2], argv[3], argv[4], 1e-12);
    else if (argc == 5 && !strcmp(argv[1], "compare32"))
        rc = compare32(argv[2], argv[3], argv[4]);
    else if (argc == 5 && !strcmp(argv[1], "direct"))
        rc = direct(argv[2], argv[3], atoi(argv[4]), MPI_COMM_WORLD);
    else if (argc == 5 && !strcmp(argv[1], "hints"))
        rc = hints(argv[2], argv[3], argv[4], MPI_COMM_WORLD);
    else if (argc == 5 && !strcmp(argv[1], "table"))
        rc = table(argv[2], argv[3], argv[4]);
    else
        fprintf(stderr, "usage: see pk_tool.c\n");
    MPI_Finalize();
    return rc;
}
