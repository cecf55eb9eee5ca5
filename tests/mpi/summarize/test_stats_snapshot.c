/* ct_mk_of_snapshot and ct_bk_of_snapshot (cosmotl/summarize.h), the marked
 * spectrum and the bispectrum of a snapshot in one call:
 *  - equal bit for bit (tolerance 0: the same code path, the same ranks) to the
 *    /mk and /bk that ct_summarize_snapshot writes with the same settings
 *    (statistics pk,mk and pk,bk: with mk in the same run, one rank reads the
 *    whole snapshot instead of streaming it, which with this test's chunks of
 *    1000 particles, not the paint block, moves B by round-off), on
 *    this communicator and on one rank alone (where a bispectrum streams the
 *    snapshot in chunks, CT_SUMMARIZE_CHUNK=1000), for a CDM snapshot and a
 *    CDM + neutrino one (total matter and species cb), default and other
 *    settings (TSC, interlacing, bin width 2, los x, shot noise; mark R 15, p 1, delta_s
 *    0.5; bispectrum dk 2, kmax 5);
 *  - bad input (a missing snapshot, bispectrum shells past the grid's modes, a
 *    NULL result) fails on every rank with one line and leaves the result
 *    empty. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/summarize.h"
#include "cosmotl/summary.h"
#include "snapshot_fixture.h"
#include "testlib.h"

/* n doubles of dataset group/name of the summary out against v: identical */
static void expect_dataset(const char *out, const char *group, const char *name,
                           const double *v, int n, int line)
{
    hid_t f = -1, g = -1;
    double *d = NULL;
    int rank = 0;
    hsize_t dims[2] = {0, 0};
    CT_EXPECT_OK(ct_h5_open_ro(out, &f));
    if (f < 0)
        return;
    g = H5Gopen2(f, group, H5P_DEFAULT);
    CT_EXPECT(g >= 0);
    if (g >= 0 && ct_h5_read_doubles(g, name, &d, &rank, dims) == CT_OK) {
        int differ = (int)dims[0] != n;
        for (int i = 0; !differ && i < n; i++)
            differ += memcmp(&d[i], &v[i], sizeof(double)) != 0;
        if (differ)
            fprintf(stderr, "[rank %d] line %d: %s/%s differs (%d values, file %llu)\n",
                    ct_test_rank, line, group, name, n, (unsigned long long)dims[0]);
        CT_EXPECT(differ == 0);
    } else {
        CT_EXPECT(!"dataset read");
    }
    free(d);
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);
}

static void expect_attr(const char *out, const char *group, const char *name, double v)
{
    hid_t f = -1;
    double a = NAN;
    CT_EXPECT_OK(ct_h5_open_ro(out, &f));
    if (f < 0)
        return;
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    CT_EXPECT_OK(ct_h5_read_attr_double(g, name, &a));
    CT_EXPECT(memcmp(&a, &v, sizeof v) == 0);
    H5Gclose(g);
    H5Fclose(f);
}

/* the summarizer's file of snap with settings s on comm */
static void summarize(const ct_summarize_settings *s, const char *snap, const char *out,
                      MPI_Comm comm)
{
    ct_summarizer *z = NULL;
    CT_EXPECT_OK(ct_summarizer_create(&z, s, comm));
    CT_EXPECT_OK(ct_summarize_snapshot(z, snap, "sim", ".", out));
    ct_summarizer_destroy(&z);
}

static void check_mk(const ct_mk_result *r, const char *out, int line)
{
    const ct_pk_result *M = &r->M;
    CT_EXPECT(M->nbins > 0);
    expect_dataset(out, "mk", "k", M->k, M->nbins, line);
    expect_dataset(out, "mk", "P0", M->P0, M->nbins, line);
    expect_dataset(out, "mk", "P2", M->P2, M->nbins, line);
    expect_dataset(out, "mk", "P4", M->P4, M->nbins, line);
    expect_dataset(out, "mk", "X0", r->X.P0, r->X.nbins, line);
    expect_attr(out, "mk", "mean_mark", r->mean_mark);
    expect_attr(out, "mk", "delta_R_min", r->delta_R_range[0]);
    expect_attr(out, "mk", "delta_R_max", r->delta_R_range[1]);
}

static void check_bk(const ct_bk_result *r, const char *out, int line)
{
    CT_EXPECT(r && r->ntri > 0);
    if (!r || r->ntri <= 0)
        return;
    int n = r->ntri;
    double *col = calloc((size_t)n, sizeof *col);
    static const char *const kn[3] = {"k1", "k2", "k3"}, *const pn[3] = {"P1", "P2", "P3"};
    for (int a = 0; a < 3; a++) {
        for (int t = 0; t < n; t++)
            col[t] = r->k[3 * t + a];
        expect_dataset(out, "bk", kn[a], col, n, line);
        for (int t = 0; t < n; t++)
            col[t] = r->P[3 * t + a];
        expect_dataset(out, "bk", pn[a], col, n, line);
    }
    free(col);
    expect_dataset(out, "bk", "B", r->B, n, line);
    expect_dataset(out, "bk", "B0", r->B0, n, line);
    expect_dataset(out, "bk", "Q", r->Q, n, line);
    expect_dataset(out, "bk", "B_SN", r->Bsn, n, line);
    expect_dataset(out, "bk", "counts", r->counts, n, line);
    expect_attr(out, "bk", "nbar", r->nbar);
}

int main(int argc, char **argv)
{
    setenv("CT_SUMMARIZE_CHUNK", "1000", 1);
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm comm = MPI_COMM_WORLD, self;
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_split(comm, rank, 0, &self);
    char root[256], snap[2][512], out[600];
    make_snapshots("ct_statsnap", root, snap, comm);

    const int grid = 16;
    const ct_pk_settings other = other_pk_settings();
    ct_mk_settings mk_other;
    ct_mk_settings_defaults(&mk_other);
    mk_other.R = 15;
    mk_other.p = 1;
    mk_other.delta_s = 0.5;
    ct_bk_settings bk_def, bk_other;
    ct_bk_settings_defaults(&bk_def);
    bk_def.kmax = 6; /* the default 78 kF is past a 16^3 grid's modes */
    ct_bk_settings_defaults(&bk_other);
    bk_other.dk = 2;
    bk_other.kmax = 5;
    for (int nu = 0; nu < 2; nu++)
    for (int species_cb = 0; species_cb < 2; species_cb++)
    for (int opt = 0; opt < 2; opt++)
    for (int alone = 0; alone < 2; alone++) {
        if (!nu && species_cb)
            continue; /* the same as total matter without neutrinos */
        MPI_Comm c = alone ? self : comm;
        if (rank == 0)
            printf("snapshot %s, species %s, %s settings, %s\n", nu ? "CDM+nu" : "CDM",
                   species_cb ? "cb" : "m", opt ? "other" : "default",
                   alone ? "one rank alone" : "all ranks");
        const ct_pk_settings *ps = opt ? &other : NULL;
        const ct_mk_settings *mks = opt ? &mk_other : NULL;
        const ct_bk_settings *bks = opt ? &bk_other : &bk_def;
        ct_summarize_settings s;
        ct_summarize_settings_defaults(&s);
        s.grid = grid;
        s.species_cb = species_cb;
        s.bk = *bks;
        if (opt) {
            s.mas = other.mas;
            s.interlace = other.interlace;
            s.bin_width = other.bin_width;
            s.los = other.axis;
            s.shot_noise = other.shot_noise;
            s.mk = mk_other;
        }
        /* `--stats pk,mk` and `--stats pk,bk` (the marked spectrum reads the
         * particles after painting, so with mk one rank does not stream) */
        s.stats = CT_SUMMARIZE_PK | CT_SUMMARIZE_MK;
        snprintf(out, sizeof out, "%s/mk_%d%d%d%d_%d.h5", root, nu, species_cb, opt, alone,
                 alone ? rank : 0);
        summarize(&s, snap[nu], out, c);
        ct_mk_result mk;
        CT_EXPECT_OK(ct_mk_of_snapshot(snap[nu], grid, ps, mks, species_cb, c, &mk));
        check_mk(&mk, out, __LINE__);
        ct_mk_result_free(&mk);
        s.stats = CT_SUMMARIZE_PK | CT_SUMMARIZE_BK;
        snprintf(out, sizeof out, "%s/bk_%d%d%d%d_%d.h5", root, nu, species_cb, opt, alone,
                 alone ? rank : 0);
        summarize(&s, snap[nu], out, c);
        ct_bk_result *bk = NULL;
        CT_EXPECT_OK(ct_bk_of_snapshot(snap[nu], grid, ps, bks, species_cb, c, &bk));
        check_bk(bk, out, __LINE__);
        ct_bk_result_destroy(&bk);
    }

    /* bad input: every rank fails with one line, the result stays empty */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nowhere/snapdir_004", root);
    ct_mk_result mk;
    ct_bk_result *bk = NULL;
    CT_EXPECT(ct_mk_of_snapshot(missing, grid, NULL, NULL, 0, comm, &mk) != CT_OK);
    CT_EXPECT(strstr(ct_error_message(), "nowhere") != NULL);
    CT_EXPECT(strchr(ct_error_message(), '\n') == NULL);
    CT_EXPECT(mk.M.nbins == 0 && mk.M.P0 == NULL && mk.X.P0 == NULL);
    CT_EXPECT(ct_bk_of_snapshot(missing, grid, NULL, &bk_def, 0, comm, &bk) != CT_OK);
    CT_EXPECT(strstr(ct_error_message(), "nowhere") != NULL);
    CT_EXPECT(bk == NULL);
    /* the default kmax (78 kF) is past the modes of a 16^3 grid */
    CT_EXPECT(ct_bk_of_snapshot(snap[0], grid, NULL, NULL, 0, comm, &bk) == CT_ERR_ARG);
    CT_EXPECT(strstr(ct_error_message(), "beyond the modes") != NULL);
    CT_EXPECT(bk == NULL);
    CT_EXPECT(ct_mk_of_snapshot(snap[0], grid, NULL, NULL, 0, comm, NULL) == CT_ERR_ARG);
    CT_EXPECT(ct_bk_of_snapshot(snap[0], grid, NULL, NULL, 0, comm, NULL) == CT_ERR_ARG);

    MPI_Barrier(comm);
    if (rank == 0 && root[0])
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    MPI_Comm_free(&self);
    CT_TEST_END();
}
