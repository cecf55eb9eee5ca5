/* Snapshot write -> read round trips over the ranks of MPI_COMM_WORLD (run on
 * 1, 2 and 4 ranks): single file, 3 files and 8 files, each in Gadget HDF5 and
 * in Gadget binary format I and II; partition sizes; the same particles and
 * header come back exactly whatever the number of ranks, files or format; a
 * rewrite in another format replaces the set; a failed collective write leaves
 * nothing behind.
 *
 * Exactness: positions are multiples of 1/1024 Mpc/h and velocities multiples of
 * 1/16 km/s, Time = 0.25 (sqrt(a) = 1/2): every unit conversion (x1000, /1000,
 * x2, /2) is then exact in float/double, so the comparison is bit-exact (tolerance
 * 0). General floats are checked to 1 ulp in the unit tests. */
#include <dirent.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../unit/io/fixtures.h"
#include "cosmotl/io.h"
#include "testlib.h"

#define BOX 100.0
#define N1 1001 /* CDM */
#define N2 333  /* neutrinos */

static void expected(uint64_t id, float pos[3], float vel[3], float *mass)
{
    uint32_t r[4];
    ct_philox(42, id, 0, r);
    for (int a = 0; a < 3; a++) {
        pos[a] = (float)((r[a] % (uint32_t)(BOX * 1024)) / 1024.0);
        vel[a] = (float)(((int)(r[a] >> 20) - 2048) / 16.0);
    }
    *mass = (float)(1 + (r[3] % 64)) / 8.0f;
}

/* This rank's share for writing: deliberately uneven (rank r holds weight r+1). */
static void local_range(int64_t n, int rank, int size, int64_t *first, int64_t *count)
{
    int64_t wsum = (int64_t)size * (size + 1) / 2, before = (int64_t)rank * (rank + 1) / 2;
    *first = n * before / wsum;
    *count = n * (before + rank + 1) / wsum - *first;
}

static void make_parts(ct_particles *p, int t, int rank, int size)
{
    int64_t n_tot = t == 1 ? N1 : N2, first, count;
    uint64_t id0 = t == 1 ? 1 : N1 + 1;
    local_range(n_tot, rank, size, &first, &count);
    memset(p, 0, sizeof *p);
    p->n = count;
    p->pos = calloc((size_t)count * 3 + 1, sizeof(float));
    p->vel = calloc((size_t)count * 3 + 1, sizeof(float));
    p->id = calloc((size_t)count + 1, sizeof(uint64_t));
    if (t == 2)
        p->mass = calloc((size_t)count + 1, sizeof(float));
    p->mass_uniform = t == 1 ? 65.5 : 0;
    for (int64_t i = 0; i < count; i++) {
        /* IDs in reverse order inside each rank so file order != ID order */
        uint64_t id = id0 + (uint64_t)(first + count - 1 - i);
        float m;
        p->id[i] = id;
        expected(id, p->pos + 3 * i, p->vel + 3 * i, &m);
        if (p->mass)
            p->mass[i] = m;
    }
}

static void fill_header(ct_snapshot_header *h)
{
    memset(h, 0, sizeof *h);
    h->box = BOX;
    h->time = 0.25;
    h->redshift = 3;
    h->omega_m = 0.3175;
    h->omega_l = 0.6825;
    h->hubble = 0.6711;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Read type t with comm and check every particle against the generator and the
 * full set of IDs on rank 0. */
static void check_read(ct_snapshot *snap, int t, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    ct_particles p;
    CT_EXPECT_OK(ct_snapshot_read(snap, t, &rs, &p));
    int64_t n_tot = t == 1 ? N1 : N2;
    uint64_t id0 = t == 1 ? 1 : N1 + 1;
    CT_EXPECT(p.n_total == n_tot);
    /* partition: contiguous, sizes differ by at most one */
    int64_t nmin, nmax, nsum, next = 0;
    MPI_Allreduce(&p.n, &nmin, 1, MPI_INT64_T, MPI_MIN, comm);
    MPI_Allreduce(&p.n, &nmax, 1, MPI_INT64_T, MPI_MAX, comm);
    MPI_Allreduce(&p.n, &nsum, 1, MPI_INT64_T, MPI_SUM, comm);
    int64_t end = p.offset + p.n;
    MPI_Exscan(&end, &next, 1, MPI_INT64_T, MPI_MAX, comm);
    CT_EXPECT(nmax - nmin <= 1);
    CT_EXPECT(nsum == n_tot);
    CT_EXPECT(rank == 0 ? p.offset == 0 : p.offset == next);
    CT_EXPECT(t == 1 ? (p.mass == NULL && p.mass_uniform == 65.5) : p.mass != NULL);
    int bad = 0;
    for (int64_t i = 0; i < p.n; i++) {
        float pos[3], vel[3], m;
        expected(p.id[i], pos, vel, &m);
        if (memcmp(pos, p.pos + 3 * i, sizeof pos) || memcmp(vel, p.vel + 3 * i, sizeof vel) ||
            (p.mass && p.mass[i] != m))
            bad++;
    }
    if (bad)
        fprintf(stderr, "[rank %d] type %d: %d particles differ\n", rank, t, bad);
    CT_EXPECT(bad == 0);
    /* every ID exactly once */
    int cnt = (int)p.n, *cnts = NULL, *displs = NULL;
    uint64_t *all = NULL;
    if (rank == 0) {
        cnts = calloc((size_t)size, sizeof *cnts);
        displs = calloc((size_t)size, sizeof *displs);
        all = calloc((size_t)n_tot, sizeof *all);
    }
    MPI_Gather(&cnt, 1, MPI_INT, cnts, 1, MPI_INT, 0, comm);
    if (rank == 0)
        for (int r = 1; r < size; r++)
            displs[r] = displs[r - 1] + cnts[r - 1];
    MPI_Gatherv(p.id, cnt, MPI_UINT64_T, all, cnts, displs, MPI_UINT64_T, 0, comm);
    if (rank == 0) {
        qsort(all, (size_t)n_tot, sizeof *all, cmp_u64);
        int ok = 1;
        for (int64_t i = 0; i < n_tot; i++)
            ok &= all[i] == id0 + (uint64_t)i;
        CT_EXPECT(ok);
    }
    free(cnts);
    free(displs);
    free(all);
    ct_particles_free(&p);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    /* the fixtures include a dataset with an (optional) Blosc filter that must be
     * written unencoded: keep the Blosc plugin out of reach */
    setenv("HDF5_PLUGIN_PATH", "/nonexistent-ct-plugins", 1);
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char root[256] = "";
    if (rank == 0) {
        snprintf(root, sizeof root, "/tmp/ct_snapmpi_XXXXXX");
        if (!mkdtemp(root))
            root[0] = '\0';
    }
    MPI_Bcast(root, sizeof root, MPI_CHAR, 0, comm);
    CT_EXPECT(root[0] != '\0');

    ct_particles p1, p2;
    make_parts(&p1, 1, rank, size);
    make_parts(&p2, 2, rank, size);
    const ct_particles *parts[6] = {NULL, &p1, &p2, NULL, NULL, NULL};
    ct_snapshot_header h;
    fill_header(&h);

    struct {
        int nfiles, single;
        const char *open_as; /* relative to root/<format> */
    } cases[] = {{1, 1, "single/snap_004"},
                 {3, 0, "three/snapdir_004"},
                 {8, 0, "eight/snapdir_004/snap_004"}};
    const int formats[3] = {CT_SNAP_HDF5, CT_SNAP_GADGET1, CT_SNAP_GADGET2};
    ct_snapshot_header hh[3]; /* header read back from the HDF5 set of each case */
    for (int fi = 0; fi < 3; fi++)
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char dir[512], path[512];
        snprintf(dir, sizeof dir, "%s/f%d/%.*s", root, formats[fi],
                 (int)strcspn(cases[c].open_as, "/"), cases[c].open_as);
        snprintf(path, sizeof path, "%s/f%d/%s%s", root, formats[fi], cases[c].open_as,
                 cases[c].single && fi == 0 ? ".hdf5" : "");
        ct_write_settings ws;
        ct_write_settings_defaults(&ws);
        ws.nfiles = cases[c].nfiles;
        ws.single_file = cases[c].single;
        ws.format = formats[fi];
        CT_EXPECT_OK(ct_snapshot_write(dir, &h, parts, &ws, comm));
        ct_snapshot *snap = NULL;
        CT_EXPECT_OK(ct_snapshot_open(&snap, path, comm));
        if (!snap)
            continue;
        const ct_snapshot_header *rh = ct_snapshot_get_header(snap);
        CT_EXPECT((int)ct_snapshot_get_format(snap) == formats[fi]);
        /* the binary header carries the same fields as the HDF5 one */
        if (fi == 0) {
            hh[c] = *rh;
        } else {
            const ct_snapshot_header *a = &hh[c];
            CT_EXPECT(a->box == rh->box && a->time == rh->time && a->redshift == rh->redshift);
            CT_EXPECT(a->omega_m == rh->omega_m && a->omega_l == rh->omega_l &&
                      a->hubble == rh->hubble && a->nfiles == rh->nfiles);
            CT_EXPECT(!memcmp(a->mass_table, rh->mass_table, sizeof a->mass_table));
            CT_EXPECT(!memcmp(a->npart_total, rh->npart_total, sizeof a->npart_total));
            CT_EXPECT(a->flag_sfr == rh->flag_sfr && a->flag_cooling == rh->flag_cooling &&
                      a->flag_feedback == rh->flag_feedback && a->flag_metals == rh->flag_metals &&
                      a->flag_stellarage == rh->flag_stellarage &&
                      a->flag_double == rh->flag_double &&
                      a->unit_length_mpc == rh->unit_length_mpc);
        }
        CT_EXPECT(ct_snapshot_nfiles(snap) == cases[c].nfiles);
        CT_EXPECT(rh->npart_total[1] == N1 && rh->npart_total[2] == N2);
        CT_EXPECT(rh->box == BOX && rh->time == 0.25 && rh->redshift == 3);
        CT_EXPECT(rh->omega_m == 0.3175 && rh->omega_l == 0.6825 && rh->hubble == 0.6711);
        CT_EXPECT(rh->mass_table[1] == 65.5 && rh->mass_table[2] == 0);
        CT_EXPECT(rh->nfiles == cases[c].nfiles);
        int64_t fsum = 0;
        for (int f = 0; f < ct_snapshot_nfiles(snap); f++)
            fsum += ct_snapshot_file_count(snap, f, 1);
        CT_EXPECT(fsum == N1);
        check_read(snap, 1, comm);
        check_read(snap, 2, comm);
        ct_snapshot_close(&snap);
        CT_EXPECT(snap == NULL);
        /* the same files read by one rank alone give the same particles */
        if (rank == 0) {
            CT_EXPECT_OK(ct_snapshot_open(&snap, path, MPI_COMM_SELF));
            if (snap) {
                check_read(snap, 1, MPI_COMM_SELF);
                check_read(snap, 2, MPI_COMM_SELF);
            }
            ct_snapshot_close(&snap);
        }
        MPI_Barrier(comm);
    }

    /* rewriting with fewer files replaces the set (no stale snap_004.5.hdf5), and
     * so does a rewrite in the other format (HDF5 -> binary -> HDF5) */
    for (int fi = 0; fi < 3; fi++) {
        char dir[512], path[600];
        snprintf(dir, sizeof dir, "%s/f%d/eight", root, CT_SNAP_HDF5);
        snprintf(path, sizeof path, "%s/snapdir_004", dir);
        ct_write_settings ws;
        ct_write_settings_defaults(&ws);
        ws.nfiles = 2;
        ws.format = fi == 1 ? CT_SNAP_GADGET2 : CT_SNAP_HDF5;
        CT_EXPECT_OK(ct_snapshot_write(dir, &h, parts, &ws, comm));
        if (rank == 0)
            CT_EXPECT(count_entries(path) == 2);
        ct_snapshot *snap = NULL;
        CT_EXPECT_OK(ct_snapshot_open(&snap, path, comm));
        if (snap) {
            CT_EXPECT((int)ct_snapshot_get_format(snap) == ws.format);
            CT_EXPECT(ct_snapshot_nfiles(snap) == 2);
            check_read(snap, 1, comm);
        }
        ct_snapshot_close(&snap);
    }

    /* an unknown format is refused before anything is created */
    {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/badfmt", root);
        ct_write_settings ws;
        ct_write_settings_defaults(&ws);
        ws.format = 7;
        ct_error_clear();
        CT_EXPECT(ct_snapshot_write(dir, &h, parts, &ws, comm) == CT_ERR_ARG);
        CT_EXPECT(strstr(ct_error_message(), "unknown snapshot format 7") != NULL);
        MPI_Barrier(comm);
        if (rank == 0)
            CT_EXPECT(count_entries(dir) == -1);
    }

    /* a non-finite position on the last rank only: every rank fails, nothing left */
    {
        char dir[512], sd[600];
        snprintf(dir, sizeof dir, "%s/bad", root);
        snprintf(sd, sizeof sd, "%s/snapdir_004", dir);
        if (rank == size - 1 && p1.n > 0)
            p1.pos[0] = 0.0f / 0.0f;
        ct_error_clear();
        ct_status st = ct_snapshot_write(dir, &h, parts, NULL, comm);
        CT_EXPECT(st == CT_ERR_NUMERIC);
        CT_EXPECT(strstr(ct_error_message(), "non-finite") != NULL);
        MPI_Barrier(comm);
        if (rank == 0) {
            CT_EXPECT(count_entries(sd) == -1); /* snapdir never appeared */
            CT_EXPECT(count_entries(dir) <= 0);
        }
    }
    ct_particles_free(&p1);
    ct_particles_free(&p2);

    /* bad inputs: every rank gets the same status and the failing rank's message,
     * whether the problem is found at open (rank 0) or while reading (only the
     * rank whose slice holds the bad particle) */
    {
        char fx[600];
        snprintf(fx, sizeof fx, "%s/fx", root);
        int e = 0;
        if (rank == 0)
            e = mkdir(fx, 0777) != 0 || fx_make_all(fx) != 0;
        MPI_Bcast(&e, 1, MPI_INT, 0, comm);
        CT_EXPECT(e == 0);
        char path[700];
        snprintf(path, sizeof path, "%s/inconsistent/snapdir_000", fx);
        ct_snapshot *snap = NULL;
        ct_error_clear();
        CT_EXPECT(ct_snapshot_open(&snap, path, comm) == CT_ERR_FORMAT);
        CT_EXPECT(snap == NULL && strstr(ct_error_message(), "header Omega0 differs"));
        snprintf(path, sizeof path, "%s/nonfinite/snapdir_000", fx);
        CT_EXPECT_OK(ct_snapshot_open(&snap, path, comm));
        if (snap) {
            ct_particles p;
            ct_error_clear();
            CT_EXPECT(ct_snapshot_read(snap, 1, NULL, &p) == CT_ERR_NUMERIC);
            CT_EXPECT(strstr(ct_error_message(), "row 12 has a non-finite value") != NULL);
            CT_EXPECT(p.pos == NULL && p.n == 0);
            /* type 2 is fine and still readable afterwards */
            CT_EXPECT_OK(ct_snapshot_read(snap, 2, NULL, &p));
            ct_particles_free(&p);
        }
        ct_snapshot_close(&snap);
    }

    MPI_Barrier(comm);
    if (rank == 0) {
        CT_EXPECT(fx_remove_tree(root) == 0);
    }
    CT_TEST_END();
}
