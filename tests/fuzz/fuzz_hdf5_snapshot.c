/* HDF5 snapshots, structure-aware: the bytes drive the building of a valid
 * Quijote-layout multi-file set (1-3 files) and its mutation: header attribute
 * values, types and lengths (NumPart_ThisFile/Total/HighWord, BoxSize, Time,
 * MassTable, NumFilesPerSnapshot), missing groups and files, dataset types,
 * shapes and row counts, optional datasets, and the coordinate values
 * themselves (out of the box, non-finite). The set is opened as a snapdir and
 * every type read under both positions policies, three ways that must agree
 * (status and bytes): one thread, three threads in small chunks, H5Dread only. */
#include <hdf5.h>
#include <math.h>

#include "cosmotl/io.h"
#define FZ_SNAPSHOT
#include "fuzz_common.h"

FZ_INIT()

typedef struct {
    const uint8_t *p;
    size_t n;
} src;

static unsigned take(src *s) /* one byte, 0 when exhausted */
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}
static uint32_t take32(src *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | take(s);
    return v;
}
static double odd_double(src *s, double normal)
{
    static const double odd[] = {0, -1, 1e-300, 1e300, 1000, 2e6};
    unsigned k = take(s);
    if (k < 200)
        return normal;
    if (k < 206)
        return odd[k - 200];
    if (k < 210)
        return k & 1 ? NAN : INFINITY;
    uint64_t b = (uint64_t)take32(s) << 32 | take32(s);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static void attr(hid_t g, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *v)
{
    hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(g, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, mtype, v);
        H5Aclose(a);
    }
    H5Sclose(sp);
}

/* A dataset of rows x cols (cols 0: 1-D) of type ftype with values from the source. */
static void dataset(src *s, hid_t g, const char *name, hid_t ftype, hsize_t rows, hsize_t cols,
                    double box, int coords)
{
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    size_t n = (size_t)rows * (cols ? cols : 1);
    double *v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        unsigned k = take(s);
        v[i] = coords ? (k * 3906.25 + i * 0.37) * box / 1e6 : k + 1;
        if (coords && k == 255)
            v[i] = odd_double(s, v[i]);
    }
    if (d >= 0 && v)
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    free(v);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    src s = {data, size};
    char dir[300], path[400];
    ct_error_clear();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(dir, sizeof dir, "%s/snapdir_000", fz_dir);
    mkdir(dir, 0700);
    for (int f = 0; f < 4; f++) { /* no files of the previous input */
        snprintf(path, sizeof path, "%s/snap_000.%d.hdf5", dir, f);
        unlink(path);
    }
    unsigned flags = take(&s);
    int nfiles = 1 + (int)(flags % 3);
    int32_t np[3][6] = {{0}};
    int64_t tot[6] = {0};
    for (int f = 0; f < nfiles; f++)
        for (int t = 1; t <= 2; t++) {
            np[f][t] = (int32_t)(take(&s) % 24);
            if (t == 2 && !(flags & 8))
                np[f][t] = 0;
            tot[t] += np[f][t];
        }
    double box = odd_double(&s, 1e6), time = odd_double(&s, 0.5);
    double mass[6] = {0, 65.6, flags & 16 ? 0 : 5.0, 0, 0, 0};
    mass[1] = odd_double(&s, mass[1]);
    int32_t nfps = flags & 32 ? (int32_t)(int8_t)take(&s) : nfiles;
    uint32_t total[6], high[6] = {0};
    for (int t = 0; t < 6; t++)
        total[t] = (uint32_t)tot[t];
    if (flags & 64) { /* a lying total */
        int t = 1 + (int)(take(&s) % 2);
        total[t] = take32(&s);
        high[t] = take(&s) & 3;
    }
    int skip = flags & 128 ? (int)(take(&s) % (unsigned)nfiles) : -1;
    for (int f = 0; f < nfiles; f++) {
        if (f == skip)
            continue;
        snprintf(path, sizeof path, "%s/snap_000.%d.hdf5", dir, f);
        hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (file < 0)
            continue;
        unsigned hm = take(&s); /* header mutations */
        if (!(hm == 1)) {
            hid_t g = H5Gcreate2(file, "Header", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            double z = 1 / time - 1, om = 0.3175, ol = 0.6825, h = 0.6711;
            if (hm != 2)
                attr(g, "BoxSize", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &box);
            attr(g, "Time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &time);
            attr(g, "Redshift", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &z);
            attr(g, "Omega0", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &om);
            attr(g, "OmegaLambda", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &ol);
            attr(g, "HubbleParam", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &h);
            attr(g, "MassTable", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, hm == 3 ? 5 : 6, mass);
            if (hm == 4) /* wrong type */
                attr(g, "NumPart_ThisFile", H5T_IEEE_F64LE, H5T_NATIVE_INT32, 6, np[f]);
            else if (hm == 5) /* wrong length */
                attr(g, "NumPart_ThisFile", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, np[f]);
            else if (hm != 6)
                attr(g, "NumPart_ThisFile", H5T_STD_I32LE, H5T_NATIVE_INT32, 6, np[f]);
            if (hm == 7) {
                int32_t neg[6] = {0, -5, 0, 0, 0, 0};
                H5Adelete(g, "NumPart_ThisFile");
                attr(g, "NumPart_ThisFile", H5T_STD_I32LE, H5T_NATIVE_INT32, 6, neg);
            }
            attr(g, "NumPart_Total", H5T_STD_U32LE, H5T_NATIVE_UINT32, 6, total);
            attr(g, "NumPart_Total_HighWord", H5T_STD_U32LE, H5T_NATIVE_UINT32, 6, high);
            attr(g, "NumFilesPerSnapshot", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &nfps);
            int32_t zero = 0;
            attr(g, "Flag_DoublePrecision", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &zero);
            H5Gclose(g);
        }
        for (int t = 1; t <= 2; t++) {
            if (np[f][t] == 0 && !(take(&s) & 1))
                continue;
            char gn[16];
            snprintf(gn, sizeof gn, "PartType%d", t);
            hid_t g = H5Gcreate2(file, gn, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            unsigned dm = take(&s); /* dataset mutations */
            hsize_t rows = (hsize_t)np[f][t];
            if (dm == 1)
                rows += 1 + take(&s) % 3;
            if (dm == 2 && rows > 0)
                rows -= 1;
            hid_t ct = dm == 3 ? H5T_STD_I32LE : dm == 4 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
            hsize_t cols = dm == 5 ? 0 : dm == 6 ? 2 : 3;
            if (dm != 7)
                dataset(&s, g, "Coordinates", ct, rows, cols, box, 1);
            if (dm != 8)
                dataset(&s, g, "Velocities", dm == 9 ? H5T_STD_U8LE : H5T_IEEE_F32LE, rows,
                        dm == 10 ? 4 : 3, 1e6, 0);
            if (dm != 11)
                dataset(&s, g, "ParticleIDs", dm == 12 ? H5T_STD_U64LE : H5T_STD_U32LE,
                        dm == 13 ? rows + 1 : rows, 0, 1e6, 0);
            if (mass[t] == 0 || dm == 14)
                dataset(&s, g, "Masses", dm == 15 ? H5T_STD_I8LE : H5T_IEEE_F32LE,
                        dm == 16 && rows ? rows - 1 : rows, 0, 1e6, 0);
            H5Gclose(g);
        }
        H5Fclose(file);
    }
    ct_snapshot *snap = NULL;
    if (ct_snapshot_open(&snap, dir, MPI_COMM_SELF) == CT_OK) {
        fz_read_snapshot(snap, 4096);
        ct_snapshot_close(&snap);
    }
    ct_error_clear();
    return 0;
}
