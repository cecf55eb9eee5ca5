/* Unit tests of the snapshot reader/writer on one process: Quijote-layout HDF5
 * written independently by fixtures.c, every bad-input case with its message,
 * Gadget binary format I/II (byte-swapped, double, multi-file, truncated),
 * HighWord arithmetic, the writer's attribute types and its atomicity.
 *
 * Tolerances: the reader computes (float)(x_kpc * 1e-3) and (float)(u * sqrt(a))
 * in double, so each value is within one float ulp (relative 2^-23 = 1.2e-7) of
 * the exact conversion of the stored float. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../src/io/snapshot_internal.h"
#include "cosmotl/io.h"
#include "fixtures.h"
#include "testlib.h"

#define ULP 1.2e-7

/* Under ASan/LSan (CI's sanitize build), LSan's scan of dynamic TLS crashes
 * ("Tracer caught signal 11", bogus DTLS range) after HDF5 and Open MPI have
 * loaded their plugins; not scanning TLS can only add leak reports, never hide
 * one, so the leak check stays meaningful. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }

static char root[256];

static const char *P(const char *rel)
{
    static char buf[4][1024];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

/* Open must fail with status st and a message containing each of m1, m2. */
static void expect_open_fail(const char *rel, ct_status st, const char *m1, const char *m2)
{
    ct_snapshot *s = NULL;
    ct_error_clear();
    ct_status got = ct_snapshot_open(&s, P(rel), MPI_COMM_WORLD);
    const char *msg = ct_error_message();
    int ok = got == st && s == NULL && strstr(msg, m1) && (!m2 || strstr(msg, m2)) &&
             !strchr(msg, '\n');
    if (!ok)
        fprintf(stderr, "open %s: status %s (expected %s), message: %s\n", rel,
                ct_status_name(got), ct_status_name(st), msg);
    CT_EXPECT(ok);
    ct_snapshot_close(&s);
}

/* Open, read type 1 with the given policy, expect status st and message m. */
static void expect_read_fail(const char *rel, ct_bounds_policy pol, ct_status st, const char *m)
{
    ct_snapshot *s = NULL;
    CT_EXPECT_OK(ct_snapshot_open(&s, P(rel), MPI_COMM_WORLD));
    if (!s)
        return;
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    rs.bounds = pol;
    ct_particles p;
    ct_error_clear();
    ct_status got = ct_snapshot_read(s, 1, &rs, &p);
    int ok = got == st && strstr(ct_error_message(), m) && p.pos == NULL;
    if (!ok)
        fprintf(stderr, "read %s: status %s, message: %s\n", rel, ct_status_name(got),
                ct_error_message());
    CT_EXPECT(ok);
    ct_snapshot_close(&s);
}

/* Compare every particle of types 1 and 2 with the fixture generator. */
static void check_fixture(ct_snapshot *s, const fx_spec *spec, int ulps)
{
    const ct_snapshot_header *h = ct_snapshot_get_header(s);
    CT_EXPECT(h->box == spec->box_kpc * 1e-3);
    CT_EXPECT(h->time == spec->time && h->redshift == spec->redshift);
    CT_EXPECT(h->omega_m == spec->om && h->omega_l == spec->ol && h->hubble == spec->h);
    CT_EXPECT(h->mass_table[1] == spec->mass_table[1] && h->mass_table[2] == 0);
    CT_EXPECT(h->npart_total[1] == spec->n[1] && h->npart_total[2] == spec->n[2]);
    for (int t = 1; t <= 2; t++) {
        ct_particles p;
        CT_EXPECT_OK(ct_snapshot_read(s, t, NULL, &p));
        CT_EXPECT(p.n == spec->n[t] && p.offset == 0 && p.n_total == spec->n[t]);
        CT_EXPECT(t == 1 ? p.mass == NULL && p.mass_uniform == 65.6 : p.mass != NULL);
        int bad = 0;
        for (int64_t i = 0; i < p.n && p.pos; i++) {
            float x[3], u[3], m;
            uint64_t id;
            fx_particle(t, i, spec->box_kpc, x, u, &id, &m);
            for (int a = 0; a < 3; a++) {
                double ex = x[a] * 1e-3, ev = u[a] * sqrt(spec->time);
                bad += fabs(p.pos[3 * i + a] - ex) > ulps * ULP * fabs(ex);
                bad += fabs(p.vel[3 * i + a] - ev) > ULP * fabs(ev);
            }
            bad += p.id[i] != id;
            bad += p.mass && p.mass[i] != m;
        }
        if (bad)
            fprintf(stderr, "type %d: %d mismatches\n", t, bad);
        CT_EXPECT(bad == 0);
        ct_particles_free(&p);
    }
}

static void test_good(void)
{
    fx_spec spec;
    fx_defaults(&spec);
    const char *forms[] = {"good/snapdir_000", "good/snapdir_000/", "good/snapdir_000/snap_000",
                           "good/snapdir_000/snap_000.1.hdf5", "single/snapdir_000",
                           "single/snapdir_000/snap_000.hdf5", "good_u8/snapdir_000",
                           "mpcunits/snapdir_000"};
    int nfiles[] = {2, 2, 2, 2, 1, 1, 3, 2};
    for (int k = 0; k < 8; k++) {
        ct_snapshot *s = NULL;
        CT_EXPECT_OK(ct_snapshot_open(&s, P(forms[k]), MPI_COMM_WORLD));
        if (!s)
            continue;
        CT_EXPECT(ct_snapshot_get_format(s) == CT_SNAP_HDF5);
        CT_EXPECT(ct_snapshot_nfiles(s) == nfiles[k]);
        /* a file in Mpc/h (UnitLength_in_cm) reads the same as one in kpc/h, within
         * the one extra float rounding of the fixture's x/1000 (2 ulp in all) */
        CT_EXPECT(ct_snapshot_get_header(s)->unit_length_mpc == (k == 7 ? 1.0 : 1e-3));
        check_fixture(s, &spec, k == 7 ? 2 : 1);
        ct_snapshot_close(&s);
    }
    /* a range crossing the file boundary equals the same rows of a full read */
    ct_snapshot *s = NULL;
    CT_EXPECT_OK(ct_snapshot_open(&s, P("good_u8/snapdir_000"), MPI_COMM_WORLD));
    if (s) {
        ct_particles all, part;
        CT_EXPECT_OK(ct_snapshot_read(s, 1, NULL, &all));
        CT_EXPECT(ct_snapshot_file_count(s, 0, 1) == 16);
        CT_EXPECT_OK(ct_snapshot_read_range(s, 1, 10, 30, NULL, &part));
        CT_EXPECT(part.n == 30 && part.offset == 10);
        if (all.pos && part.pos) {
            CT_EXPECT(!memcmp(part.pos, all.pos + 30, 90 * sizeof(float)));
            CT_EXPECT(!memcmp(part.id, all.id + 10, 30 * sizeof(uint64_t)));
        }
        ct_particles_free(&part);
        ct_error_clear();
        CT_EXPECT(ct_snapshot_read_range(s, 1, 45, 10, NULL, &part) == CT_ERR_ARG);
        CT_EXPECT(ct_snapshot_read(s, 7, NULL, &part) == CT_ERR_ARG);
        /* no velocities or IDs when not asked for */
        ct_read_settings rs;
        ct_read_settings_defaults(&rs);
        rs.read_vel = rs.read_id = 0;
        CT_EXPECT_OK(ct_snapshot_read(s, 1, &rs, &part));
        CT_EXPECT(part.vel == NULL && part.id == NULL && part.n == 50);
        ct_particles_free(&part);
        ct_particles_free(&all);
    }
    ct_snapshot_close(&s);
}

static void test_bad_inputs(void)
{
    expect_open_fail("missing/snapdir_000", CT_ERR_IO, "snap_000.1.hdf5: missing file 1 of the 3",
                     NULL);
    expect_open_fail("missing0/snapdir_000", CT_ERR_IO, "snap_000.0.hdf5: missing file 0", NULL);
    expect_open_fail("inconsistent/snapdir_000", CT_ERR_FORMAT,
                     "snap_000.1.hdf5: header Omega0 differs from that of", NULL);
    expect_open_fail("rows/snapdir_000", CT_ERR_FORMAT,
                     "PartType1/Coordinates has 24 rows but NumPart_ThisFile[1] = 25", NULL);
    expect_open_fail("dtype/snapdir_000", CT_ERR_FORMAT, "PartType1/Coordinates has the wrong dtype",
                     "expected float");
    expect_open_fail("shape/snapdir_000", CT_ERR_FORMAT, "PartType1/Coordinates has the wrong shape",
                     "expected (N, 3)");
    expect_open_fail("filter/snapdir_000", CT_ERR_IO, "HDF5 filter 32001", "HDF5_PLUGIN_PATH");
    expect_open_fail("highword/snapdir_000", CT_ERR_FORMAT, "NumPart_Total (with HighWord) is 4294967346",
                     NULL);
    expect_open_fail("total/snapdir_000", CT_ERR_FORMAT,
                     "NumPart_ThisFile of type 1 summed over 2 file(s) is 50", "is 53");
    expect_open_fail("noheader/snapdir_000", CT_ERR_UNSUPPORTED, "not a snapshot (no /Header group)",
                     NULL);
    expect_open_fail("emptydir/snapdir_000", CT_ERR_UNSUPPORTED, "not a snapshot", NULL);
    expect_open_fail("notsnap.txt", CT_ERR_UNSUPPORTED, "notsnap.txt: not a snapshot", NULL);
    expect_open_fail("nowhere/snap_000", CT_ERR_IO, "nowhere/snap_000: no such file", NULL);
    expect_open_fail("truncated/snap_000.hdf5", CT_ERR_FORMAT, "truncated", NULL);
    expect_open_fail("truncated", CT_ERR_FORMAT, "truncated", NULL);
    expect_open_fail("gadgettrunc/snapdir_000/ics", CT_ERR_FORMAT, "ics: truncated: block", NULL);

    expect_read_fail("nonfinite/snapdir_000", CT_BOUNDS_ERROR, CT_ERR_NUMERIC,
                     "snap_000.1.hdf5: PartType1/Coordinates row 12 has a non-finite value");
    expect_read_fail("nonfinite/snapdir_000", CT_BOUNDS_WRAP, CT_ERR_NUMERIC, "non-finite");
    /* 1.5 BoxSize is beyond the wrap tolerance: refused, naming file, type,
     * particle, axis and value */
    expect_read_fail("outofbox/snapdir_000", CT_BOUNDS_ERROR, CT_ERR_RANGE,
                     "snap_000.0.hdf5: PartType1 (CDM) particle 3 of this file: z = 1500000 is "
                     "outside the box [0, 1000000)");
    /* wrap on request: 1.5 BoxSize -> 0.5 BoxSize; x == BoxSize -> 0; within the
     * tolerance wrapped by default: -2e-4 L -> L - 2e-4 L, (1 + 5e-4) L -> 5e-4 L
     * (to float rounding of the kpc/h values, relative 1e-6 of L) */
    const char *wrapped[] = {"outofbox/snapdir_000", "eqbox/snapdir_000",
                             "nearbox/snapdir_000"};
    for (int k = 0; k < 3; k++) {
        ct_snapshot *s = NULL;
        CT_EXPECT_OK(ct_snapshot_open(&s, P(wrapped[k]), MPI_COMM_WORLD));
        if (!s)
            continue;
        ct_read_settings rs;
        ct_read_settings_defaults(&rs);
        rs.bounds = k == 0 ? CT_BOUNDS_WRAP : CT_BOUNDS_ERROR;
        ct_particles p;
        CT_EXPECT_OK(ct_snapshot_read(s, 1, &rs, &p));
        if (p.pos) {
            if (k == 0)
                CT_EXPECT(p.pos[3 * 3 + 2] == 500.0f);
            else if (k == 1)
                CT_EXPECT(p.pos[3 * 4 + 0] == 0.0f);
            else
                CT_EXPECT(fabs(p.pos[3 * 5 + 1] - 999.8) < 1e-3 &&
                          fabs(p.pos[3 * 5 + 2] - 0.5) < 1e-3);
        }
        ct_particles_free(&p);
        ct_snapshot_close(&s);
    }
}

static void test_gadget_binary(void)
{
    fx_spec spec;
    fx_defaults(&spec);
    const char *forms[] = {"gadget1/snapdir_000/ics", "gadget2/snapdir_000",
                           "gadget2swap/snapdir_000/ics", "gadgetmulti/snapdir_000",
                           "gadgetmulti/snapdir_000/ics", "gadgetmulti/snapdir_000/ics.2"};
    ct_snapshot_format fmt[] = {CT_SNAP_GADGET1, CT_SNAP_GADGET2, CT_SNAP_GADGET2,
                                CT_SNAP_GADGET1, CT_SNAP_GADGET1, CT_SNAP_GADGET1};
    int nfiles[] = {1, 1, 1, 3, 3, 3};
    for (int k = 0; k < 6; k++) {
        ct_snapshot *s = NULL;
        CT_EXPECT_OK(ct_snapshot_open(&s, P(forms[k]), MPI_COMM_WORLD));
        if (!s)
            continue;
        CT_EXPECT(ct_snapshot_get_format(s) == fmt[k]);
        CT_EXPECT(ct_snapshot_nfiles(s) == nfiles[k]);
        CT_EXPECT(ct_snapshot_get_header(s)->flag_double == (k == 2));
        check_fixture(s, &spec, 1);
        ct_snapshot_close(&s);
    }
}

static void test_highword(void)
{
    uint32_t lo, hi;
    ct_snap_split_count((int64_t)1 << 33 | 5, &lo, &hi);
    CT_EXPECT(lo == 5 && hi == 2);
    ct_snap_split_count(4294967295LL, &lo, &hi);
    CT_EXPECT(lo == 0xffffffffu && hi == 0);
    CT_EXPECT(ct_snap_join_count(5, 2) == ((int64_t)1 << 33) + 5);
    CT_EXPECT(ct_snap_join_count(0, 1) == 4294967296LL);
    /* partitions: sizes differ by at most one and tile the range */
    for (int64_t n = 0; n < 40; n++)
        for (int parts = 1; parts <= 7; parts++) {
            int64_t next = 0, mn = n, mx = 0;
            for (int i = 0; i < parts; i++) {
                int64_t f, c;
                ct_partition_range(n, parts, i, &f, &c);
                CT_EXPECT(f == next);
                next = f + c;
                mn = c < mn ? c : mn;
                mx = c > mx ? c : mx;
            }
            CT_EXPECT(next == n && mx - mn <= 1);
        }
    int64_t f, c;
    ct_partition_range(((int64_t)1 << 35) + 3, 4, 3, &f, &c);
    CT_EXPECT(f + c == ((int64_t)1 << 35) + 3 && c == ((int64_t)1 << 33));
}

static int attr_is(hid_t g, const char *name, hid_t type, int n)
{
    if (H5Aexists(g, name) <= 0)
        return 0;
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = H5Tequal(t, type) > 0 && H5Sget_simple_extent_npoints(sp) == n &&
             (n > 1 ? H5Sget_simple_extent_ndims(sp) == 1 : H5Sget_simple_extent_ndims(sp) == 0);
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    if (!ok)
        fprintf(stderr, "attribute %s has the wrong type\n", name);
    return ok;
}

static void test_writer(void)
{
    /* generic floats: write -> read within one ulp per conversion (2 conversions) */
    const int64_t n = 1000;
    ct_particles p = {0};
    p.n = n;
    p.pos = calloc(3 * n, sizeof(float));
    p.vel = calloc(3 * n, sizeof(float));
    p.mass_uniform = 8.5;
    ct_rng r;
    ct_rng_init(&r, 7, 0, 0);
    for (int64_t i = 0; i < 3 * n; i++) {
        p.pos[i] = (float)(ct_rng_uniform(&r) * 250.0);
        p.vel[i] = (float)(ct_rng_normal(&r) * 300.0);
    }
    p.pos[0] = 250.0f;  /* == box: written as the periodic image 0 */
    p.pos[1] = -0.2f;   /* within the wrap tolerance (0.25): wrapped to 249.8 */
    const ct_particles *parts[6] = {NULL, &p, NULL, NULL, NULL, NULL};
    ct_snapshot_header h;
    memset(&h, 0, sizeof h);
    h.box = 250;
    h.time = 0.7;
    h.redshift = 1 / 0.7 - 1;
    h.omega_m = 0.3;
    h.omega_l = 0.7;
    h.hubble = 0.7;
    ct_write_settings ws;
    ct_write_settings_defaults(&ws);
    CT_EXPECT(ws.nfiles == 8 && ws.snapnum == 4 && ws.single_file == 0);
    ws.nfiles = 3;
    ws.snapnum = 12;
    CT_EXPECT_OK(ct_snapshot_write(P("w"), &h, parts, &ws, MPI_COMM_WORLD));
    ct_snapshot *s = NULL;
    CT_EXPECT_OK(ct_snapshot_open(&s, P("w/snapdir_012"), MPI_COMM_WORLD));
    if (s) {
        ct_particles q;
        CT_EXPECT_OK(ct_snapshot_read(s, 1, NULL, &q));
        int bad = 0;
        for (int64_t i = 0; i < 3 * n && q.pos; i++) {
            double ex = i == 0 ? 0.0 : i == 1 ? 249.8 : p.pos[i];
            bad += fabs(q.pos[i] - ex) > 2 * ULP * fabs(ex);
            bad += fabs(q.vel[i] - p.vel[i]) > 2 * ULP * fabs(p.vel[i]);
        }
        for (int64_t i = 0; i < n && q.id; i++)
            bad += q.id[i] != (uint64_t)i + 1; /* IDs made up from 1 */
        CT_EXPECT(bad == 0);
        CT_EXPECT(q.mass == NULL && q.mass_uniform == 8.5);
        ct_particles_free(&q);
        ct_snapshot_close(&s);
    }
    /* Quijote's attribute names and exact types */
    hid_t f = H5Fopen(P("w/snapdir_012/snap_012.2.hdf5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    CT_EXPECT(f >= 0);
    if (f >= 0) {
        hid_t g = H5Gopen2(f, "Header", H5P_DEFAULT);
        const char *f8[] = {"BoxSize", "Time", "Redshift", "Omega0", "OmegaLambda", "HubbleParam"};
        for (int i = 0; i < 6; i++)
            CT_EXPECT(attr_is(g, f8[i], H5T_IEEE_F64LE, 1));
        CT_EXPECT(attr_is(g, "MassTable", H5T_IEEE_F64LE, 6));
        CT_EXPECT(attr_is(g, "NumPart_ThisFile", H5T_STD_I32LE, 6));
        CT_EXPECT(attr_is(g, "NumPart_Total", H5T_STD_U32LE, 6));
        CT_EXPECT(attr_is(g, "NumPart_Total_HighWord", H5T_STD_U32LE, 6));
        CT_EXPECT(attr_is(g, "NumFilesPerSnapshot", H5T_STD_I32LE, 1));
        const char *fl[] = {"Flag_Sfr", "Flag_Cooling", "Flag_Feedback", "Flag_Metals",
                            "Flag_StellarAge", "Flag_DoublePrecision"};
        for (int i = 0; i < 6; i++)
            CT_EXPECT(attr_is(g, fl[i], H5T_STD_I32LE, 1));
        double box = 0;
        int32_t thisfile[6];
        hid_t a = H5Aopen(g, "BoxSize", H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_DOUBLE, &box);
        H5Aclose(a);
        a = H5Aopen(g, "NumPart_ThisFile", H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_INT32, thisfile);
        H5Aclose(a);
        CT_EXPECT(box == 250000.0 && thisfile[1] == 333);
        H5Gclose(g);
        hid_t d = H5Dopen2(f, "PartType1/ParticleIDs", H5P_DEFAULT);
        hid_t t = H5Dget_type(d);
        CT_EXPECT(H5Tequal(t, H5T_STD_U32LE) > 0);
        H5Tclose(t);
        H5Dclose(d);
        d = H5Dopen2(f, "PartType1/Coordinates", H5P_DEFAULT);
        t = H5Dget_type(d);
        CT_EXPECT(H5Tequal(t, H5T_IEEE_F32LE) > 0);
        H5Tclose(t);
        H5Dclose(d);
        H5Fclose(f);
    }
    /* single file, 64-bit IDs, per-particle masses */
    p.id = calloc((size_t)n, sizeof(uint64_t));
    p.mass = calloc((size_t)n, sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        p.id[i] = ((uint64_t)1 << 40) + (uint64_t)(n - i);
        p.mass[i] = (float)(i % 5);
    }
    ws.nfiles = 1;
    ws.single_file = 1;
    CT_EXPECT_OK(ct_snapshot_write(P("w1"), &h, parts, &ws, MPI_COMM_WORLD));
    CT_EXPECT_OK(ct_snapshot_open(&s, P("w1/snap_012.hdf5"), MPI_COMM_WORLD));
    if (s) {
        ct_particles q;
        CT_EXPECT_OK(ct_snapshot_read(s, 1, NULL, &q));
        CT_EXPECT(ct_snapshot_get_header(s)->mass_table[1] == 0);
        int bad = 0;
        for (int64_t i = 0; i < n && q.id && q.mass; i++)
            bad += q.id[i] != p.id[i] || q.mass[i] != p.mass[i];
        CT_EXPECT(bad == 0);
        ct_particles_free(&q);
        ct_snapshot_close(&s);
    }
    /* fewer particles than files: empty files have no PartType1 group */
    {
        ct_particles few = {0};
        float fpos[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        few.n = 3;
        few.pos = fpos;
        few.mass_uniform = 1;
        const ct_particles *fp[6] = {NULL, &few, NULL, NULL, NULL, NULL};
        ct_write_settings w8;
        ct_write_settings_defaults(&w8);
        CT_EXPECT_OK(ct_snapshot_write(P("few"), &h, fp, &w8, MPI_COMM_WORLD));
        CT_EXPECT_OK(ct_snapshot_open(&s, P("few/snapdir_004"), MPI_COMM_WORLD));
        if (s) {
            CT_EXPECT(ct_snapshot_nfiles(s) == 8 && ct_snapshot_file_count(s, 7, 1) == 0);
            ct_particles q;
            CT_EXPECT_OK(ct_snapshot_read(s, 1, NULL, &q));
            CT_EXPECT(q.n == 3 && q.pos && q.pos[8] == 9.0f && q.vel && q.vel[8] == 0.0f);
            CT_EXPECT(q.id && q.id[2] == 3);
            ct_particles_free(&q);
            /* a type that is absent reads as zero particles */
            CT_EXPECT_OK(ct_snapshot_read(s, 2, NULL, &q));
            CT_EXPECT(q.n == 0 && q.n_total == 0);
            ct_particles_free(&q);
            ct_snapshot_close(&s);
        }
        hid_t f7 = H5Fopen(P("few/snapdir_004/snap_004.7.hdf5"), H5F_ACC_RDONLY, H5P_DEFAULT);
        CT_EXPECT(f7 >= 0 && H5Lexists(f7, "PartType1", H5P_DEFAULT) == 0);
        if (f7 >= 0)
            H5Fclose(f7);
    }
    /* bad settings; a directory that cannot be created: errors, nothing left */
    ws.nfiles = 2;
    ct_error_clear();
    CT_EXPECT(ct_snapshot_write(P("w2"), &h, parts, &ws, MPI_COMM_WORLD) == CT_ERR_ARG);
    struct stat st;
    CT_EXPECT(stat(P("w2"), &st) != 0);
    ws.single_file = 0;
    CT_EXPECT(ct_snapshot_write(P("notsnap.txt/sub"), &h, parts, &ws, MPI_COMM_WORLD) == CT_ERR_IO);
    p.vel[5] = INFINITY;
    CT_EXPECT(ct_snapshot_write(P("w3"), &h, parts, &ws, MPI_COMM_WORLD) == CT_ERR_NUMERIC);
    CT_EXPECT(stat(P("w3"), &st) != 0);
    ct_particles_free(&p);
}

/* The positions policy on writing: 1 box-length out is refused with the type,
 * the global index and the value, and nothing is written; CT_BOUNDS_WRAP wraps
 * it (-1 -> 249 in a box of 250). */
static void test_writer_policy(void)
{
    ct_particles p = {0};
    p.n = 4;
    float pos[12] = {1, 2, 3, 4, 5, 6, 7, -1.0f, 9, 10, 11, 12};
    p.pos = pos;
    p.mass_uniform = 1;
    const ct_particles *parts[6] = {NULL, &p, NULL, NULL, NULL, NULL};
    ct_snapshot_header h;
    memset(&h, 0, sizeof h);
    h.box = 250;
    h.time = 1;
    ct_write_settings ws;
    ct_write_settings_defaults(&ws);
    ws.nfiles = 1;
    ws.single_file = 1;
    ct_error_clear();
    CT_EXPECT(ct_snapshot_write(P("wp_err.hdf5"), &h, parts, &ws, MPI_COMM_WORLD) ==
              CT_ERR_RANGE);
    CT_EXPECT(strstr(ct_error_message(), "type 1 (CDM) particle 2: y = -1 Mpc/h is outside "
                                         "the box [0, 250)") != NULL);
    struct stat st;
    CT_EXPECT(stat(P("wp_err.hdf5"), &st) != 0);
    ws.bounds = CT_BOUNDS_WRAP;
    CT_EXPECT_OK(ct_snapshot_write(P("wp_wrap.hdf5"), &h, parts, &ws, MPI_COMM_WORLD));
    ct_snapshot *s = NULL;
    CT_EXPECT_OK(ct_snapshot_open(&s, P("wp_wrap.hdf5"), MPI_COMM_WORLD));
    if (s) {
        ct_particles q;
        CT_EXPECT_OK(ct_snapshot_read(s, 1, NULL, &q));
        CT_EXPECT(q.pos && q.pos[7] == 249.0f);
        ct_particles_free(&q);
        ct_snapshot_close(&s);
    }
}

/* Every byte of two reads of the same rows. */
static int same_particles(const ct_particles *a, const ct_particles *b, int64_t skip)
{
    const size_t n = (size_t)b->n;
    int ok = a->n >= b->n + skip && a->pos && b->pos &&
             !memcmp(a->pos + 3 * skip, b->pos, 3 * n * sizeof(float)) &&
             (a->vel == NULL) == (b->vel == NULL) && (a->id == NULL) == (b->id == NULL) &&
             (a->mass == NULL) == (b->mass == NULL) && a->mass_uniform == b->mass_uniform;
    if (ok && a->vel)
        ok = !memcmp(a->vel + 3 * skip, b->vel, 3 * n * sizeof(float));
    if (ok && a->id)
        ok = !memcmp(a->id + skip, b->id, n * sizeof(uint64_t));
    if (ok && a->mass)
        ok = !memcmp(a->mass + skip, b->mass, n * sizeof(float));
    return ok;
}

/* The raw reader (contiguous datasets read with pread on 1-4 threads, in
 * chunks from 1 row to the default 512 KiB) against H5Dread on the same files:
 * every array byte for byte, for whole reads and for ranges that start, end
 * and cross file boundaries; little- and big-endian files, 32- and 64-bit IDs,
 * per-particle masses, five files. Then the first error in serial order
 * whatever the threads, and chunked datasets going through H5Dread. */
static void test_raw_reader(void)
{
    const char *sets[] = {"rawmulti/snapdir_000", "rawbe/snapdir_000", "good/snapdir_000",
                          "good_u8/snapdir_000", "mpcunits/snapdir_000"};
    const int64_t chunks[] = {1, 40, 100, 4096, 0}; /* bytes (< 1 row = 1 row) */
    for (int k = 0; k < 5; k++) {
        ct_snapshot *s = NULL;
        CT_EXPECT_OK(ct_snapshot_open(&s, P(sets[k]), MPI_COMM_WORLD));
        if (!s)
            continue;
        for (int t = 1; t <= 2; t++) {
            ct_particles ref, got;
            ct_read_settings rs;
            ct_read_settings_defaults(&rs);
            ct_snap_raw_testing(1, 0);
            CT_EXPECT_OK(ct_snapshot_read(s, t, &rs, &ref));
            CT_EXPECT(ct_snap_raw_testing(0, 0) == 0); /* H5Dread only */
            const int64_t n = ref.n;
            int64_t f0 = ct_snapshot_file_count(s, 0, t);
            int64_t ranges[][2] = {{0, n}, {1, n - 2}, {f0 - 1, 2}, {f0, n - f0}, {0, f0},
                                   {n / 3, n / 3}, {n - 1, 1}, {5, 0}};
            int bad = 0;
            for (int th = 1; th <= 4; th++)
                for (int c = 0; c < 5; c++)
                    for (int r = 0; r < 8; r++) {
                        rs.threads = th;
                        ct_snap_raw_testing(0, chunks[c]);
                        if (ct_snapshot_read_range(s, t, ranges[r][0], ranges[r][1], &rs,
                                                   &got) != CT_OK) {
                            bad++;
                            continue;
                        }
                        int64_t used = ct_snap_raw_testing(0, 0);
                        if (!same_particles(&ref, &got, ranges[r][0]) ||
                            (ranges[r][1] > 0 && used == 0)) {
                            if (bad++ < 3)
                                fprintf(stderr, "%s type %d threads %d chunk %lld range "
                                        "[%lld, +%lld): differs from H5Dread (%lld raw "
                                        "chunks)\n", sets[k], t, th, (long long)chunks[c],
                                        (long long)ranges[r][0], (long long)ranges[r][1],
                                        (long long)used);
                        }
                        ct_particles_free(&got);
                    }
            CT_EXPECT(bad == 0);
            /* the collective read with threads 0 (the node's cores) */
            rs.threads = 0;
            CT_EXPECT_OK(ct_snapshot_read(s, t, &rs, &got));
            CT_EXPECT(same_particles(&ref, &got, 0) && ct_snap_raw_testing(0, 0) > 0);
            ct_particles_free(&got);
            ct_particles_free(&ref);
        }
        ct_snapshot_close(&s);
    }
    fx_spec spec;
    fx_defaults(&spec);
    spec.n[1] = 1003;
    spec.n[2] = 301;
    ct_snapshot *s = NULL;
    CT_EXPECT_OK(ct_snapshot_open(&s, P("rawbe/snapdir_000"), MPI_COMM_WORLD));
    if (s)
        check_fixture(s, &spec, 1); /* and against the generator */
    ct_snapshot_close(&s);
    /* chunked storage: HDF5 reads it, the raw reader does not */
    fx_defaults(&spec);
    CT_EXPECT(ct_snap_raw_testing(0, 0) > 0); /* rawbe above went raw */
    CT_EXPECT_OK(ct_snapshot_open(&s, P("chunked/snapdir_000"), MPI_COMM_WORLD));
    if (s) {
        check_fixture(s, &spec, 1);
        CT_EXPECT(ct_snap_raw_testing(0, 0) == 0);
    }
    ct_snapshot_close(&s);
    /* file 0 has a NaN velocity at row 2 and a position 1.5 box out at row 20,
     * file 1 a NaN position: the one-thread reader reports file 0's position
     * (positions are checked before velocities), and so must any thread count
     * and chunk size; wrapping the position leaves the velocity */
    for (int th = 1; th <= 4; th++)
        for (int c = 0; c < 5; c++) {
            ct_snap_raw_testing(0, chunks[c]);
            s = NULL;
            CT_EXPECT_OK(ct_snapshot_open(&s, P("errorder/snapdir_000"), MPI_COMM_WORLD));
            if (!s)
                continue;
            for (int w = 0; w < 2; w++) {
                ct_read_settings rs;
                ct_read_settings_defaults(&rs);
                rs.threads = th;
                rs.bounds = w ? CT_BOUNDS_WRAP : CT_BOUNDS_ERROR;
                ct_particles p;
                ct_error_clear();
                ct_status got = ct_snapshot_read(s, 1, &rs, &p);
                const char *want = w ? "snap_000.0.hdf5: PartType1/Velocities row 2 has a "
                                       "non-finite value"
                                     : "snap_000.0.hdf5: PartType1 (CDM) particle 20 of this "
                                       "file: z = 1500000 is outside";
                int ok = got == (w ? CT_ERR_NUMERIC : CT_ERR_RANGE) && p.pos == NULL &&
                         strstr(ct_error_message(), want) && !strchr(ct_error_message(), '\n');
                if (!ok)
                    fprintf(stderr, "errorder threads %d chunk %lld: %s\n", th,
                            (long long)chunks[c], ct_error_message());
                CT_EXPECT(ok);
            }
            ct_snapshot_close(&s);
        }
    ct_snap_raw_testing(0, 0);
}

int main(int argc, char **argv)
{
    /* no filter plugins: the Blosc case must be reported, not decoded */
    setenv("HDF5_PLUGIN_PATH", "/nonexistent-ct-plugins", 1);
    CT_TEST_BEGIN(argc, argv);
    snprintf(root, sizeof root, "/tmp/ct_snapunit_XXXXXX");
    CT_EXPECT(mkdtemp(root) != NULL);
    CT_EXPECT(fx_make_all(root) == 0);
    test_good();
    test_bad_inputs();
    test_gadget_binary();
    test_highword();
    test_raw_reader();
    test_writer();
    test_writer_policy();
    CT_EXPECT(fx_remove_tree(root) == 0);
    CT_TEST_END();
}
