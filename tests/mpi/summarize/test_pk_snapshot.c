/* ct_pk_of_snapshot (cosmotl/summarize.h), the P(k) of a snapshot in one call:
 *  - equals bit for bit the /pk that ct_summarize_snapshot writes on the same
 *    communicator (the same code path), for a snapshot of CDM only and one of
 *    CDM + neutrinos (total matter, weighted by mass); species cb equals /pk_cb
 *    to 1e-12 relative (another weight and painting order, round-off);
 *    with non-default settings (TSC, interlacing, bin width 2, los x, shot
 *    noise) equal to the summarizer with the same settings;
 *  - on one rank the snapshot is streamed in chunks (CT_SUMMARIZE_CHUNK=1000
 *    here: 5 chunks of 4100 particles) and on this communicator it is not: the
 *    spectra agree to 1e-12 relative (the additions into a mesh cell come in
 *    another order, round-off only; the 1e-12 of tests/mpi/stats/test_pk_mpi.c);
 *  - bad input (a missing snapshot, an odd grid, a NULL result) fails on every
 *    rank with one line naming the problem and leaves the result zeroed. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/io.h"
#include "cosmotl/summarize.h"
#include "cosmotl/summary.h"
#include "snapshot_fixture.h"
#include "testlib.h"

/* a and b bin for bin: identical (tol 0) or to tol relative */
static void expect_same(const ct_pk_result *a, const ct_pk_result *b, double tol, int line)
{
    if (ct_test_rank == 0 && getenv("CT_TEST_VERBOSE"))
        printf("  compare at line %d\n", line);
    CT_EXPECT(a->nbins == b->nbins && a->nbins > 0);
    if (a->nbins != b->nbins)
        return;
    int differ = 0;
    for (int i = 0; i < a->nbins; i++) {
        if (tol == 0) {
            differ += a->k[i] != b->k[i] || a->P0[i] != b->P0[i] || a->P2[i] != b->P2[i] ||
                      a->P4[i] != b->P4[i] || a->nmodes[i] != b->nmodes[i];
        } else {
            CT_EXPECT_REL(a->P0[i], b->P0[i], tol);
            CT_EXPECT_REL(a->P2[i], b->P2[i], tol);
            CT_EXPECT(a->nmodes[i] == b->nmodes[i]);
        }
    }
    if (differ)
        fprintf(stderr, "[rank %d] %d bins differ; P0[0] %.17g vs %.17g\n", ct_test_rank, differ,
                a->P0[0], b->P0[0]);
    CT_EXPECT(differ == 0);
    if (tol == 0)
        CT_EXPECT(a->nbar == b->nbar && a->shot_noise == b->shot_noise && a->npart == b->npart &&
                  a->grid == b->grid && a->box == b->box && a->mas == b->mas &&
                  a->interlace == b->interlace && a->axis == b->axis &&
                  a->bin_width == b->bin_width);
}

/* The summarizer's /pk (or group) of snap with the settings s, on comm. */
static void summarizer_pk(const ct_summarize_settings *s, const char *snap, const char *out,
                          const char *group, MPI_Comm comm, ct_pk_result *r)
{
    memset(r, 0, sizeof *r);
    ct_summarizer *z = NULL;
    CT_EXPECT_OK(ct_summarizer_create(&z, s, comm));
    CT_EXPECT_OK(ct_summarize_snapshot(z, snap, "sim", ".", out));
    ct_summarizer_destroy(&z);
    CT_EXPECT_OK(ct_summary_read_pk(out, group, r));
}

int main(int argc, char **argv)
{
    setenv("CT_SUMMARIZE_CHUNK", "1000", 1);
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm comm = MPI_COMM_WORLD, self;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* one rank alone (the streamed path) */
    MPI_Comm_split(comm, rank, 0, &self);
    char root[256], snap[2][512], out[600];
    make_snapshots("ct_pksnap", root, snap, comm);

    const int grid = 16;
    const ct_pk_settings other = other_pk_settings();
    for (int nu = 0; nu < 2; nu++)
    for (int species_cb = 0; species_cb < 2; species_cb++)
    for (int opt = 0; opt < 2; opt++) {
        if (rank == 0)
            printf("snapshot %s, species %s, %s settings\n", nu ? "CDM+nu" : "CDM",
                   species_cb ? "cb" : "m", opt ? "other" : "default");
        const ct_pk_settings *ps = opt ? &other : NULL;
        ct_summarize_settings s;
        ct_summarize_settings_defaults(&s);
        s.grid = grid;
        s.species_cb = species_cb;
        if (opt) {
            s.mas = other.mas;
            s.interlace = other.interlace;
            s.bin_width = other.bin_width;
            s.los = other.axis;
            s.shot_noise = other.shot_noise;
        }
        ct_pk_result one, ref, alone, ref_alone;
        /* this communicator: equal to the summarizer's /pk bit for bit */
        CT_EXPECT_OK(ct_pk_of_snapshot(snap[nu], grid, ps, species_cb, comm, &one));
        snprintf(out, sizeof out, "%s/sum_%d%d%d.h5", root, nu, species_cb, opt);
        summarizer_pk(&s, snap[nu], out, "pk", comm, &ref);
        expect_same(&one, &ref, 0, __LINE__);
        /* one rank alone (streamed unless total matter of CDM + nu) */
        CT_EXPECT_OK(ct_pk_of_snapshot(snap[nu], grid, ps, species_cb, self, &alone));
        snprintf(out, sizeof out, "%s/alone_%d%d%d_%d.h5", root, nu, species_cb, opt, rank);
        summarizer_pk(&s, snap[nu], out, "pk", self, &ref_alone);
        expect_same(&alone, &ref_alone, 0, __LINE__);
        expect_same(&one, &alone, size == 1 ? 0 : 1e-12, __LINE__);
        CT_EXPECT(one.npart == (nu && !species_cb ? 8200 : 4100));
        /* species cb of a neutrino snapshot: the summarizer's /pk_cb */
        if (nu && !species_cb) {
            ct_pk_result cb, ref_cb;
            CT_EXPECT_OK(ct_pk_of_snapshot(snap[nu], grid, ps, 1, comm, &cb));
            snprintf(out, sizeof out, "%s/sum_%d%d%d.h5", root, nu, species_cb, opt);
            CT_EXPECT_OK(ct_summary_read_pk(out, "pk_cb", &ref_cb));
            expect_same(&cb, &ref_cb, 1e-12, __LINE__);
            /* and the neutrinos matter: total matter is another spectrum */
            CT_EXPECT(cb.nbins == one.nbins && cb.P0[0] != one.P0[0]);
            ct_pk_result_free(&cb);
            ct_pk_result_free(&ref_cb);
        }
        ct_pk_result_free(&one);
        ct_pk_result_free(&ref);
        ct_pk_result_free(&alone);
        ct_pk_result_free(&ref_alone);
    }

    /* bad input: every rank fails, one line naming the problem, nothing left */
    ct_pk_result r;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nowhere/snapdir_004", root);
    CT_EXPECT(ct_pk_of_snapshot(missing, grid, NULL, 0, comm, &r) != CT_OK);
    CT_EXPECT(strstr(ct_error_message(), "nowhere") != NULL);
    CT_EXPECT(strchr(ct_error_message(), '\n') == NULL);
    CT_EXPECT(r.nbins == 0 && r.k == NULL && r.P0 == NULL);
    CT_EXPECT(ct_pk_of_snapshot(snap[0], 15, NULL, 0, comm, &r) == CT_ERR_ARG);
    CT_EXPECT(strstr(ct_error_message(), "grid") != NULL);
    CT_EXPECT(r.nbins == 0 && r.k == NULL);
    ct_pk_settings bad;
    ct_pk_settings_defaults(&bad);
    bad.axis = 3;
    CT_EXPECT(ct_pk_of_snapshot(snap[0], grid, &bad, 0, comm, &r) == CT_ERR_ARG);
    CT_EXPECT(ct_pk_of_snapshot(snap[0], grid, NULL, 0, comm, NULL) == CT_ERR_ARG);

    MPI_Barrier(comm);
    if (rank == 0 && root[0])
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    MPI_Comm_free(&self);
    CT_TEST_END();
}
