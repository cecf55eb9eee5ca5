/* Unit tests of the HDF5 helpers' defences against crafted files (issue 17):
 * a dataset whose declared size cannot be in the file is refused, with one line
 * naming the file and the dataset, before anything is allocated for it; an
 * attribute of the wrong class, shape or size is refused before H5Aread.
 *
 * The crafted files are made with HDF5 itself: a dataset created and never
 * written has no storage (HDF5 allocates contiguous storage late), so a file of
 * a few KiB can declare 4 GiB. Without the check, ct_h5_read_doubles callocs
 * the declared 4 GiB and H5Dread fills it with the fill value (minutes and 4 GiB
 * of memory), so these checks fail by running out of time or memory. All values
 * compared here are exact (zeros, small integers): tolerance 0. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/h5.h"
#include "testlib.h"

const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }

static char dir[256];

static const char *P(const char *rel)
{
    static char buf[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, rel);
    return buf[k];
}

/* A file with one dataset "d" of the given shape (never written) and layout. */
static void make_declared(const char *path, int rank, const hsize_t *dims, int chunked,
                          int deflate, int external)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        hsize_t ch[2] = {1024, 1};
        if (rank == 2)
            ch[1] = dims[1] < 64 ? dims[1] : 64;
        H5Pset_chunk(dcpl, rank, ch);
        if (deflate)
            H5Pset_deflate(dcpl, 6);
    }
    if (external)
        H5Pset_external(dcpl, P("raw.bin"), 0, H5F_UNLIMITED);
    hid_t d = H5Dcreate2(f, "d", H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CT_EXPECT(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
}

/* ct_h5_read_doubles on path:/d must fail fast with CT_ERR_FORMAT and one line
 * holding the file name, the dataset name and want. */
static void expect_refused(const char *path, const char *want)
{
    hid_t f;
    double *v = (double *)1;
    int rank = -1;
    hsize_t dims[2];
    ct_error_clear();
    CT_EXPECT_OK(ct_h5_open_ro(path, &f));
    ct_status s = ct_h5_read_doubles(f, "d", &v, &rank, dims);
    const char *m = ct_error_message();
    int ok = s == CT_ERR_FORMAT && v == NULL && strstr(m, path) && strstr(m, "dataset d") &&
             strstr(m, want) && !strchr(m, '\n');
    if (!ok)
        fprintf(stderr, "%s: status %s, message: %s\n", path, ct_status_name(s), m);
    CT_EXPECT(ok);
    if (s == CT_OK)
        free(v);
    H5Fclose(f);
    ct_error_clear();
}

static void test_declared_sizes(void)
{
    /* 2^29 doubles = 4 GiB declared in a file of a few KiB */
    hsize_t big1[1] = {(hsize_t)1 << 29}, big2[2] = {(hsize_t)1 << 20, 512};
    make_declared(P("contig1.h5"), 1, big1, 0, 0, 0);
    expect_refused(P("contig1.h5"), "but the file has only");
    make_declared(P("contig2.h5"), 2, big2, 0, 0, 0);
    expect_refused(P("contig2.h5"), "but the file has only");
    make_declared(P("chunked.h5"), 1, big1, 1, 1, 0);
    expect_refused(P("chunked.h5"), "plausibly hold");
    /* 2^33 x 2^31 elements: 2^64, which HDF5's own element count wraps to 0 */
    hsize_t huge[2] = {(hsize_t)1 << 33, (hsize_t)1 << 31};
    make_declared(P("huge.h5"), 2, huge, 1, 0, 0);
    expect_refused(P("huge.h5"), "impossible size");
    /* raw data in another file: never followed */
    hsize_t small[1] = {16};
    make_declared(P("external.h5"), 1, small, 0, 0, 1);
    expect_refused(P("external.h5"), "external storage");

    /* what must still read: a small contiguous dataset, and a chunked, deflated
     * one of 1e6 zeros (8 MB in memory from a file of a few KiB: within the
     * 64 MiB floor of the bound for compressed data) */
    hsize_t n1[1] = {1000000};
    make_declared(P("zeros.h5"), 1, n1, 1, 1, 0);
    hid_t f;
    double *v = NULL;
    int rank = 0;
    hsize_t dims[2];
    CT_EXPECT_OK(ct_h5_open_ro(P("zeros.h5"), &f));
    CT_EXPECT_OK(ct_h5_read_doubles(f, "d", &v, &rank, dims));
    CT_EXPECT(rank == 1 && dims[0] == 1000000);
    int allzero = v != NULL;
    for (size_t i = 0; v && i < 1000000; i++)
        allzero &= v[i] == 0;
    CT_EXPECT(allzero);
    free(v);
    H5Fclose(f);

    double w[6] = {1, 2, 3, 4, 5, 6};
    hsize_t d23[2] = {2, 3};
    CT_EXPECT_OK(ct_h5_create(P("ok.h5"), &f));
    CT_EXPECT_OK(ct_h5_write_doubles(f, "d", w, 2, d23));
    H5Fclose(f);
    v = NULL;
    CT_EXPECT_OK(ct_h5_open_ro(P("ok.h5"), &f));
    CT_EXPECT_OK(ct_h5_read_doubles(f, "d", &v, &rank, dims));
    CT_EXPECT(rank == 2 && dims[0] == 2 && dims[1] == 3 && v && v[0] == 1 && v[5] == 6);
    free(v);
    H5Fclose(f);
}

/* An attribute read must fail with CT_ERR_FORMAT, one line naming it and want. */
static void expect_attr_refused(ct_status got, const char *name, const char *want)
{
    const char *m = ct_error_message();
    int ok = got == CT_ERR_FORMAT && strstr(m, name) && strstr(m, want) && !strchr(m, '\n');
    if (!ok)
        fprintf(stderr, "attribute %s: status %s, message: %s\n", name, ct_status_name(got), m);
    CT_EXPECT(ok);
    ct_error_clear();
}

static void test_attributes(void)
{
    hid_t f;
    CT_EXPECT_OK(ct_h5_create(P("attr.h5"), &f));
    double two[2] = {1, 2};
    CT_EXPECT_OK(ct_h5_attr_doubles(f, "pair", two, 2));
    CT_EXPECT_OK(ct_h5_attr_string(f, "word", "cic"));
    CT_EXPECT_OK(ct_h5_attr_double(f, "x", 2.5));
    CT_EXPECT_OK(ct_h5_attr_int(f, "n", 7));
    /* a variable-length string (what h5py writes for str) */
    hid_t vt = H5Tcopy(H5T_C_S1);
    H5Tset_size(vt, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "vword", vt, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *val = "tsc";
    H5Awrite(a, vt, &val);
    H5Aclose(a);
    /* a compound scalar: neither a number nor a string */
    hid_t ct = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(ct, "a", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "b", 8, H5T_NATIVE_DOUBLE);
    a = H5Acreate2(f, "pairc", ct, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, ct, two);
    H5Aclose(a);
    H5Tclose(ct);
    H5Sclose(sp);
    H5Tclose(vt);
    H5Fclose(f);

    CT_EXPECT_OK(ct_h5_open_ro(P("attr.h5"), &f));
    double x = 0;
    long long n = 0;
    char buf[16] = "";
    CT_EXPECT_OK(ct_h5_read_attr_double(f, "x", &x));
    CT_EXPECT(x == 2.5);
    CT_EXPECT_OK(ct_h5_read_attr_int(f, "n", &n));
    CT_EXPECT(n == 7);
    CT_EXPECT_OK(ct_h5_read_attr_string(f, "word", buf, sizeof buf));
    CT_EXPECT(!strcmp(buf, "cic"));
    CT_EXPECT_OK(ct_h5_read_attr_string(f, "vword", buf, sizeof buf));
    CT_EXPECT(!strcmp(buf, "tsc"));
    ct_error_clear();
    expect_attr_refused(ct_h5_read_attr_double(f, "pair", &x), "pair", "not a single value");
    expect_attr_refused(ct_h5_read_attr_double(f, "word", &x), "word", "not a number");
    expect_attr_refused(ct_h5_read_attr_int(f, "pairc", &n), "pairc", "not a number");
    expect_attr_refused(ct_h5_read_attr_string(f, "x", buf, sizeof buf), "x", "not a string");
    /* longer than the buffer: an error, not a cut ("cic" needs 4 bytes; both the
     * fixed-length and the variable-length string) */
    char small[3];
    expect_attr_refused(ct_h5_read_attr_string(f, "word", small, sizeof small), "word",
                        "longer than the 2");
    expect_attr_refused(ct_h5_read_attr_string(f, "vword", small, sizeof small), "vword",
                        "longer than the 2");
    char exact[4];
    CT_EXPECT_OK(ct_h5_read_attr_string(f, "word", exact, sizeof exact));
    CT_EXPECT(!strcmp(exact, "cic"));
    expect_attr_refused(ct_h5_read_attr_string(f, "nothere", buf, sizeof buf), "nothere",
                        "missing");
    H5Fclose(f);
}

/* The fuzz campaign's summaries whose variable-length string attribute made
 * HDF5 1.10.8 loop forever inside H5Aread (a global heap free-space object of
 * size 0): refused now, with one line naming the file. Without the check each
 * read never returns (meson's timeout fails the test). */
static void test_known_hangs(void)
{
    const char *src = getenv("CT_SOURCE_ROOT");
    if (!src) {
        CT_TEST_SKIP("CT_SOURCE_ROOT not set: the fuzz reproducers are not found");
        return;
    }
    const char *names[] = {"summary-attr-read-hang.h5", "summary-attr-read-hang-2.h5", NULL};
    for (int i = 0; names[i]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fuzz/hdf5-known/%s", src, names[i]);
        hid_t f;
        CT_EXPECT_OK(ct_h5_open_ro(path, &f));
        const char *grp[] = {"pk", "pk_cb", NULL};
        int tried = 0;
        for (int g = 0; grp[g]; g++) {
            if (H5Lexists(f, grp[g], H5P_DEFAULT) <= 0)
                continue;
            hid_t h = H5Gopen2(f, grp[g], H5P_DEFAULT);
            if (h < 0 || H5Aexists(h, "mas") <= 0) {
                if (h >= 0)
                    H5Gclose(h);
                continue;
            }
            char buf[64];
            ct_error_clear();
            ct_status s = ct_h5_read_attr_string(h, "mas", buf, sizeof buf);
            const char *m = ct_error_message();
            int ok = s == CT_ERR_FORMAT && strstr(m, names[i]) &&
                     strstr(m, "corrupt global heap") && !strchr(m, '\n');
            if (!ok)
                fprintf(stderr, "%s /%s mas: status %s, message: %s\n", names[i], grp[g],
                        ct_status_name(s), m);
            CT_EXPECT(ok);
            tried++;
            H5Gclose(h);
        }
        CT_EXPECT(tried > 0);
        H5Fclose(f);
        ct_error_clear();
    }
    /* the released Quijote table (h5py's variable-length strings) still reads */
    char lh[1024];
    if (ct_test_shared_path("quijote-summaries/LH.h5", lh, sizeof lh)) {
        hid_t f;
        char buf[256] = "";
        CT_EXPECT_OK(ct_h5_open_ro(lh, &f));
        CT_EXPECT_OK(ct_h5_read_attr_string(f, "suite", buf, sizeof buf));
        CT_EXPECT(!strcmp(buf, "LH"));
        H5Fclose(f);
    } else {
        CT_TEST_SKIP("quijote-summaries/LH.h5 not found: the valid variable-length case");
    }
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    ct_h5_quiet();
    snprintf(dir, sizeof dir, "/tmp/ct_h5util_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_declared_sizes();
    test_attributes();
    test_known_hangs();
    const char *files[] = {"contig1.h5", "contig2.h5", "chunked.h5", "huge.h5", "external.h5",
                           "zeros.h5", "ok.h5", "attr.h5", "raw.bin", NULL};
    for (int i = 0; files[i]; i++)
        unlink(P(files[i]));
    rmdir(dir);
    CT_TEST_END();
}
