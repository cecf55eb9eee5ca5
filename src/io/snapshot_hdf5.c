/* Gadget HDF5 snapshots in the Quijote layout: header and dataset checks,
 * hyperslab reads of one file, and the parallel multi-file writer. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cosmotl/h5.h"
#include "snapshot_internal.h"

static void h5close(hid_t *id)
{
    if (*id < 0)
        return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = -1;
}

/* ------------------------------------------------------------------ header */

/* Read a numeric Header attribute of class cls with n elements into v (memtype).
 * Missing optional attributes leave v alone and return CT_OK with *found = 0. */
static ct_status read_attr(hid_t g, const char *path, const char *name, H5T_class_t cls,
                           int n, hid_t memtype, void *v, int optional, int *found)
{
    ct_status rc = CT_OK;
    hid_t a = -1, t = -1, sp = -1;
    if (found)
        *found = 0;
    int ex = ct_h5_attr_exists(g, name);
    if (ex < 0)
        return ct_error_push(ct_error_status(), __func__, __LINE__);
    if (ex == 0) {
        if (optional)
            return CT_OK;
        CT_FAIL(CT_ERR_FORMAT, "%s: Header attribute %s is missing", path, name);
    }
    a = H5Aopen(g, name, H5P_DEFAULT);
    t = a >= 0 ? H5Aget_type(a) : -1;
    sp = a >= 0 ? H5Aget_space(a) : -1;
    if (a < 0 || t < 0 || sp < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: cannot open Header attribute %s", path, name);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(t) != cls || np != n)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                     "%s: Header attribute %s has the wrong type or size (expected %s[%d], "
                     "found %lld element(s) of another kind)", path, name,
                     cls == H5T_FLOAT ? "float" : "integer", n, (long long)np);
    if (H5Aread(a, memtype, v) < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: cannot read Header attribute %s", path, name);
    if (found)
        *found = 1;
fail:
    h5close(&sp);
    h5close(&t);
    h5close(&a);
    return rc;
}

/* Debian installs HDF5 filter plugins (Blosc for Quijote's files, LZ4, BZip2)
 * under hdf5/serial/plugins, while the parallel HDF5 searches only
 * hdf5/openmpi/plugins (absent). Unless the user chose HDF5_PLUGIN_PATH, the
 * existing folders go in front, once: HDF5 1.10 stops searching at a folder it
 * cannot open, so appending behind the missing default would not work. The
 * serial build's Blosc plugin decompresses fine inside the parallel HDF5 (its
 * read path calls no HDF5 function; tests/unit/io reads a Blosc fixture). */
static pthread_once_t plugin_once = PTHREAD_ONCE_INIT;

static void add_plugin_dirs(void)
{
    if (getenv("HDF5_PLUGIN_PATH"))
        return;
    static const char *dirs[] = {
        "/usr/lib/x86_64-linux-gnu/hdf5/openmpi/plugins",
        "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins",
        "/usr/lib/aarch64-linux-gnu/hdf5/openmpi/plugins",
        "/usr/lib/aarch64-linux-gnu/hdf5/serial/plugins",
        "/usr/local/hdf5/lib/plugin"};
    struct stat st;
    for (size_t i = sizeof dirs / sizeof dirs[0]; i-- > 0;)
        if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
            H5PLprepend(dirs[i]);
}

void ct_h5snap_plugins(void) { pthread_once(&plugin_once, add_plugin_dirs); }

/* Every filter of the dataset's pipeline must be loadable, or HDF5 would fail
 * (or, for optional filters, hand back garbage) on read. */
static ct_status check_filters(hid_t d, const char *path, const char *name)
{
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return CT_OK;
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0, cfg = 0;
        size_t nelem = 0;
        char fname[128] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, NULL, sizeof fname,
                                         fname, &cfg);
        if (id < 0)
            continue;
        if (H5Zfilter_avail(id) <= 0) {
            H5Pclose(dcpl);
            const char *pp = getenv("HDF5_PLUGIN_PATH");
            CT_FAIL(CT_ERR_IO,
                    "%s: %s is compressed with HDF5 filter %d (%s), which this HDF5 cannot "
                    "load; install the filter plugin (Quijote uses Blosc, filter 32001; on "
                    "Debian: hdf5-filter-plugin-blosc-serial) and set HDF5_PLUGIN_PATH to "
                    "its folder (HDF5_PLUGIN_PATH is %s%s%s)",
                    path, name, (int)id, fname[0] ? fname : "unnamed", pp ? "'" : "",
                    pp ? pp : "not set", pp ? "'" : "");
        }
    }
    H5Pclose(dcpl);
    return CT_OK;
}

/* Dataset `name` of group g: class cls, shape (n) if cols == 0 or (n, cols). */
static ct_status check_dataset(hid_t g, const char *path, int t, const char *name,
                               H5T_class_t cls, int64_t n, int cols, int required, int *has)
{
    ct_status rc = CT_OK;
    hid_t d = -1, ty = -1, sp = -1;
    char full[64];
    snprintf(full, sizeof full, "PartType%d/%s", t, name);
    *has = 0;
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) {
        if (required)
            CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s is missing", path, full);
        return CT_OK;
    }
    d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s is not a readable dataset", path, full);
    ty = H5Dget_type(d);
    sp = H5Dget_space(d);
    H5T_class_t c = H5Tget_class(ty);
    if (c != cls)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s has the wrong dtype (%s; expected %s)", path,
                     full, c == H5T_FLOAT ? "float" : c == H5T_INTEGER ? "integer" : "non-numeric",
                     cls == H5T_FLOAT ? "float" : "integer");
    hsize_t dims[H5S_MAX_RANK];
    int r = H5Sget_simple_extent_ndims(sp);
    if (r < 1 || r > H5S_MAX_RANK)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s has no valid shape", path, full);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    int want_rank = cols ? 2 : 1;
    if (r != want_rank || (cols && dims[1] != (hsize_t)cols)) {
        if (cols)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s has the wrong shape (rank %d, %llu column(s); "
                         "expected (N, %d))", path, full, r,
                         (unsigned long long)(r > 1 ? dims[1] : 1), cols);
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s has the wrong shape (rank %d; expected (N,))",
                     path, full, r);
    }
    if ((int64_t)dims[0] != n)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                     "%s: %s has %llu rows but NumPart_ThisFile[%d] = %lld", path, full,
                     (unsigned long long)dims[0], t, (long long)n);
    CT_CHECK_GOTO(rc, check_filters(d, path, full));
    CT_CHECK_GOTO(rc, ct_h5_check_dataset_size(d, path, full, 0));
    *has = 1;
fail:
    h5close(&sp);
    h5close(&ty);
    h5close(&d);
    return rc;
}

ct_status ct_h5snap_scan(const char *path, ct_snapshot_header *h, double *box_file,
                         ct_snapfile *f)
{
    ct_status rc = CT_OK;
    hid_t file = -1, g = -1, pt = -1;
    memset(h, 0, sizeof *h);
    memset(f, 0, sizeof *f);
    f->blk_pos = f->blk_vel = f->blk_id = f->blk_mass = -1;
    ct_h5_quiet();
    ct_h5snap_plugins();
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: cannot open HDF5 file (truncated or corrupt)", path);
    if (H5Lexists(file, "Header", H5P_DEFAULT) <= 0)
        CT_FAIL_GOTO(rc, CT_ERR_UNSUPPORTED, "%s: not a snapshot (no /Header group)", path);
    g = H5Gopen2(file, "Header", H5P_DEFAULT);
    if (g < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /Header is not a group", path);
    double box = 0;
    long long thisfile[6] = {0}, nfiles = 0;
    unsigned long long total[6] = {0}, high[6] = {0};
    const hid_t D = H5T_NATIVE_DOUBLE;
    CT_CHECK_GOTO(rc, read_attr(g, path, "BoxSize", H5T_FLOAT, 1, D, &box, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "Time", H5T_FLOAT, 1, D, &h->time, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "Redshift", H5T_FLOAT, 1, D, &h->redshift, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "Omega0", H5T_FLOAT, 1, D, &h->omega_m, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "OmegaLambda", H5T_FLOAT, 1, D, &h->omega_l, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "HubbleParam", H5T_FLOAT, 1, D, &h->hubble, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "MassTable", H5T_FLOAT, 6, D, h->mass_table, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "NumPart_ThisFile", H5T_INTEGER, 6, H5T_NATIVE_LLONG,
                                thisfile, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "NumPart_Total", H5T_INTEGER, 6, H5T_NATIVE_ULLONG,
                                total, 0, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "NumPart_Total_HighWord", H5T_INTEGER, 6,
                                H5T_NATIVE_ULLONG, high, 1, NULL));
    CT_CHECK_GOTO(rc, read_attr(g, path, "NumFilesPerSnapshot", H5T_INTEGER, 1,
                                H5T_NATIVE_LLONG, &nfiles, 0, NULL));
    struct {
        const char *name;
        int *v;
    } flags[] = {{"Flag_Sfr", &h->flag_sfr},           {"Flag_Cooling", &h->flag_cooling},
                 {"Flag_Feedback", &h->flag_feedback}, {"Flag_Metals", &h->flag_metals},
                 {"Flag_StellarAge", &h->flag_stellarage},
                 {"Flag_DoublePrecision", &h->flag_double}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CT_CHECK_GOTO(rc, read_attr(g, path, flags[i].name, H5T_INTEGER, 1, H5T_NATIVE_INT,
                                    flags[i].v, 1, NULL));
    if (!(box > 0) || !isfinite(box))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: Header BoxSize = %g (must be positive)", path, box);
    if (!(h->time > 0) || !isfinite(h->time))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: Header Time = %g (scale factor must be positive)",
                     path, h->time);
    if (nfiles < 1 || nfiles > 1000000)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: Header NumFilesPerSnapshot = %lld", path, nfiles);
    /* Quijote files carry no unit and are in kpc/h; Gadget-4 style files may give
     * UnitLength_in_cm in /Header or /Parameters (cm per length unit, h^-1) */
    h->unit_length_mpc = CT_SNAP_LEN_TO_MPC;
    {
        double ul = 0;
        int found = 0;
        CT_CHECK_GOTO(rc, read_attr(g, path, "UnitLength_in_cm", H5T_FLOAT, 1, D, &ul, 1, &found));
        if (!found && H5Lexists(file, "Parameters", H5P_DEFAULT) > 0) {
            pt = H5Gopen2(file, "Parameters", H5P_DEFAULT);
            if (pt >= 0)
                CT_CHECK_GOTO(rc, read_attr(pt, path, "UnitLength_in_cm", H5T_FLOAT, 1, D, &ul,
                                            1, &found));
            h5close(&pt);
        }
        if (found) {
            if (!(ul > 0) || !isfinite(ul))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: UnitLength_in_cm = %g", path, ul);
            h->unit_length_mpc = ul / CT_MPC_IN_CM;
        }
    }
    *box_file = box;
    h->box = box * h->unit_length_mpc;
    h->nfiles = (int)nfiles;
    for (int t = 0; t < 6; t++) {
        if (thisfile[t] < 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: Header NumPart_ThisFile[%d] = %lld", path, t,
                         thisfile[t]);
        /* Gadget-4 may store 64-bit totals (u8) with a zero HighWord */
        if (total[t] > (unsigned long long)INT64_MAX / 2 || high[t] > 0x7fffffffull ||
            (high[t] && total[t] > 0xffffffffull))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                         "%s: Header NumPart_Total[%d] = %llu / HighWord %llu out of range",
                         path, t, total[t], high[t]);
        f->npart[t] = thisfile[t];
        h->npart_total[t] = (int64_t)total[t] + ((int64_t)high[t] << 32);
        if (!(h->mass_table[t] >= 0) || !isfinite(h->mass_table[t]))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: Header MassTable[%d] = %g", path, t,
                         h->mass_table[t]);
    }
    for (int t = 0; t < 6; t++) {
        if (f->npart[t] == 0)
            continue;
        char gname[16];
        snprintf(gname, sizeof gname, "PartType%d", t);
        if (H5Lexists(file, gname, H5P_DEFAULT) <= 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: NumPart_ThisFile[%d] = %lld but group %s is missing",
                         path, t, (long long)f->npart[t], gname);
        pt = H5Gopen2(file, gname, H5P_DEFAULT);
        if (pt < 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %s is not a group", path, gname);
        int has_pos = 0;
        CT_CHECK_GOTO(rc, check_dataset(pt, path, t, "Coordinates", H5T_FLOAT, f->npart[t], 3, 1,
                                        &has_pos));
        CT_CHECK_GOTO(rc, check_dataset(pt, path, t, "Velocities", H5T_FLOAT, f->npart[t], 3, 0,
                                        &f->has_vel[t]));
        CT_CHECK_GOTO(rc, check_dataset(pt, path, t, "ParticleIDs", H5T_INTEGER, f->npart[t], 0,
                                        0, &f->has_id[t]));
        CT_CHECK_GOTO(rc, check_dataset(pt, path, t, "Masses", H5T_FLOAT, f->npart[t], 0, 0,
                                        &f->has_mass[t]));
        if (h->mass_table[t] == 0 && !f->has_mass[t])
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                         "%s: MassTable[%d] = 0 but there is no %s/Masses dataset", path, t,
                         gname);
        h5close(&pt);
    }
fail:
    h5close(&pt);
    h5close(&g);
    h5close(&file);
    return rc;
}

/* ------------------------------------------------------------------ reading */

static ct_status read_slab(hid_t g, const char *path, int t, const char *name, int64_t row,
                           int64_t n, int cols, hid_t memtype, void *buf)
{
    ct_status rc = CT_OK;
    hid_t d = -1, fs = -1, ms = -1;
    d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: PartType%d/%s is missing", path, t, name);
    fs = H5Dget_space(d);
    hsize_t start[2] = {(hsize_t)row, 0}, count[2] = {(hsize_t)n, (hsize_t)cols};
    int r = cols ? 2 : 1;
    ms = H5Screate_simple(r, count, NULL);
    if (fs < 0 || ms < 0 ||
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(d, memtype, ms, fs, H5P_DEFAULT, buf) < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                     "%s: reading PartType%d/%s rows [%lld, %lld) failed (corrupt or truncated "
                     "data, or a missing filter plugin)", path, t, name, (long long)row,
                     (long long)(row + n));
fail:
    h5close(&ms);
    h5close(&fs);
    h5close(&d);
    return rc;
}

ct_status ct_h5snap_read(const char *path, const ct_snapfile *f, int t, int64_t row, int64_t n,
                         float *pos, float *vel, uint64_t *id, float *mass)
{
    ct_status rc = CT_OK;
    hid_t file = -1, g = -1;
    char gname[16];
    snprintf(gname, sizeof gname, "PartType%d", t);
    ct_h5_quiet();
    if (vel && !f->has_vel[t])
        CT_FAIL(CT_ERR_FORMAT, "%s: %s/Velocities is missing", path, gname);
    if (id && !f->has_id[t])
        CT_FAIL(CT_ERR_FORMAT, "%s: %s/ParticleIDs is missing", path, gname);
    ct_h5snap_plugins();
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot open HDF5 file", path);
    g = H5Gopen2(file, gname, H5P_DEFAULT);
    if (g < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: group %s is missing", path, gname);
    CT_CHECK_GOTO(rc, read_slab(g, path, t, "Coordinates", row, n, 3, H5T_NATIVE_FLOAT, pos));
    if (vel)
        CT_CHECK_GOTO(rc, read_slab(g, path, t, "Velocities", row, n, 3, H5T_NATIVE_FLOAT, vel));
    if (id)
        CT_CHECK_GOTO(rc, read_slab(g, path, t, "ParticleIDs", row, n, 0, H5T_NATIVE_UINT64, id));
    if (mass)
        CT_CHECK_GOTO(rc, read_slab(g, path, t, "Masses", row, n, 0, H5T_NATIVE_FLOAT, mass));
fail:
    h5close(&g);
    h5close(&file);
    return rc;
}

/* Can dataset `name` of group g be read with pread? Fills off (byte offset of
 * row 0), elsize and swap; 0 if not (the caller then uses H5Dread). */
static int raw_dataset(hid_t g, const char *name, int is_int, int cols, int64_t rows,
                       hsize_t file_size, int64_t *off, int *elsize, int *swap)
{
    int ok = 0;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t ty = d >= 0 ? H5Dget_type(d) : -1;
    hid_t dcpl = d >= 0 ? H5Dget_create_plist(d) : -1;
    if (ty < 0 || dcpl < 0)
        goto done;
    /* the stored type, exactly: IEEE float32, or an unsigned 32/64-bit integer
     * (which widens to uint64 exactly); anything else converts through HDF5 */
    const int le = H5Tget_order(H5T_NATIVE_FLOAT) == H5T_ORDER_LE;
    const hid_t kinds[3][2] = {{H5T_IEEE_F32LE, H5T_IEEE_F32BE},
                               {H5T_STD_U32LE, H5T_STD_U32BE},
                               {H5T_STD_U64LE, H5T_STD_U64BE}};
    int k0 = is_int ? 1 : 0, k1 = is_int ? 3 : 1, found = 0;
    for (int k = k0; k < k1 && !found; k++)
        for (int o = 0; o < 2 && !found; o++)
            if (H5Tequal(ty, kinds[k][o]) > 0) {
                found = 1;
                *elsize = k == 2 ? 8 : 4;
                *swap = o == 0 ? !le : le;
            }
    if (!found || H5Pget_layout(dcpl) != H5D_CONTIGUOUS || H5Pget_nfilters(dcpl) != 0 ||
        H5Pget_external_count(dcpl) != 0)
        goto done;
    haddr_t a = H5Dget_offset(d);
    hsize_t bytes = (hsize_t)rows * (hsize_t)(cols ? cols : 1) * (hsize_t)*elsize;
    /* allocated storage holding every row, inside the file */
    if (a == HADDR_UNDEF || H5Dget_storage_size(d) != bytes || a > file_size ||
        bytes > file_size - a)
        goto done;
    *off = (int64_t)a;
    ok = 1;
done:
    h5close(&dcpl);
    h5close(&ty);
    h5close(&d);
    return ok;
}

int ct_h5snap_plan(const char *path, const ct_snapfile *f, int file, int t, int64_t row,
                   int64_t n, float *pos, float *vel, uint64_t *id, float *mass,
                   ct_rawpiece out[4])
{
    if ((vel && !f->has_vel[t]) || (id && !f->has_id[t]) || (mass && !f->has_mass[t]))
        return 0;
    char gname[16];
    snprintf(gname, sizeof gname, "PartType%d", t);
    ct_h5_quiet();
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = fid >= 0 ? H5Gopen2(fid, gname, H5P_DEFAULT) : -1;
    hsize_t file_size = 0;
    int np = 0, ok = g >= 0 && H5Fget_filesize(fid, &file_size) >= 0;
    const struct {
        ct_raw_field field;
        void *dst;
        const char *name;
        int cols, is_int;
    } ds[4] = {{CT_RAW_POS, pos, "Coordinates", 3, 0},
               {CT_RAW_VEL, vel, "Velocities", 3, 0},
               {CT_RAW_ID, id, "ParticleIDs", 0, 1},
               {CT_RAW_MASS, mass, "Masses", 0, 0}};
    for (int k = 0; k < 4 && ok; k++) {
        if (!ds[k].dst)
            continue;
        ct_rawpiece *p = &out[np];
        int64_t off0 = 0;
        ok = raw_dataset(g, ds[k].name, ds[k].is_int, ds[k].cols, f->npart[t], file_size, &off0,
                         &p->elsize, &p->swap);
        p->file = file;
        p->order = k;
        p->field = ds[k].field;
        p->off = off0 + row * (ds[k].cols ? ds[k].cols : 1) * p->elsize;
        p->row = row;
        p->n = n;
        p->dst = ds[k].dst;
        np++;
    }
    h5close(&g);
    h5close(&fid);
    return ok ? np : 0;
}

/* ------------------------------------------------------------------ writing */

void ct_write_settings_defaults(ct_write_settings *s)
{
    memset(s, 0, sizeof *s);
    s->nfiles = 8;
    s->snapnum = 4;
    s->single_file = 0;
    s->bounds = CT_BOUNDS_ERROR;
    s->tolerance = CT_POS_WRAP_TOLERANCE;
}

enum { DS_POS, DS_VEL, DS_ID, DS_MASS, DS_N };
static const char *ds_names[DS_N] = {"Coordinates", "Velocities", "ParticleIDs", "Masses"};

/* What every rank needs to know to write its share. */
typedef struct {
    int64_t total[6];          /* global count per type */
    int64_t mine[6];           /* global index of this rank's first particle */
    int write_mass[6];         /* Masses dataset instead of MassTable */
    double mass_table[6];
    int id_bytes;              /* 4 or 8 */
    double time;
} write_plan;

static ct_status write_attr(hid_t g, const char *path, const char *name, hid_t ftype,
                            hid_t mtype, int n, const void *v)
{
    hsize_t dim = (hsize_t)n;
    hid_t sp = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(g, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, mtype, v) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot write Header attribute %s", path, name);
    return CT_OK;
}

/* The per-type counts of one file's header (NumPart_ThisFile and the split
 * NumPart_Total), shared by the HDF5 and Gadget binary writers; every dataset
 * offset starts unset. Gadget's NumPart_ThisFile is 32-bit: a larger count is
 * refused. */
static ct_status header_counts(const char *path, const write_plan *p, int file, int nfiles,
                               int32_t thisfile[6], uint32_t low[6], uint32_t high[6],
                               int64_t offs[6][DS_N])
{
    for (int t = 0; t < 6; t++) {
        int64_t first, count;
        ct_partition_range(p->total[t], nfiles, file, &first, &count);
        if (count > INT32_MAX)
            CT_FAIL(CT_ERR_ARG, "%s: %lld particles of type %d in one file exceed Gadget's "
                    "32-bit NumPart_ThisFile; write more files", path, (long long)count, t);
        thisfile[t] = (int32_t)count;
        ct_snap_split_count(p->total[t], &low[t], &high[t]);
        for (int k = 0; k < DS_N; k++)
            offs[t][k] = -1;
    }
    return CT_OK;
}

/* Rank 0: create one file with its header and every dataset allocated (but not
 * written); return the byte offset of each dataset's contiguous storage. */
static ct_status create_file(const char *path, const ct_snapshot_header *hd, const write_plan *p,
                             int file, int nfiles, int64_t offs[6][DS_N])
{
    ct_status rc = CT_OK;
    hid_t fid = -1, g = -1, pt = -1, dcpl = -1, gcpl = -1, sp = -1, d = -1;
    int32_t thisfile[6];
    uint32_t low[6], high[6];
    CT_CHECK(header_counts(path, p, file, nfiles, thisfile, low, high, offs));
    fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (fid < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot create file", path);
    gcpl = ct_h5_gcpl();
    g = H5Gcreate2(fid, "Header", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (g < 0)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot create /Header", path);
    const hid_t F8 = H5T_IEEE_F64LE, D = H5T_NATIVE_DOUBLE, I4 = H5T_STD_I32LE,
                U4 = H5T_STD_U32LE;
    double box = hd->box / CT_SNAP_LEN_TO_MPC;
    int32_t nf = nfiles, zero = 0;
    int32_t fl[6] = {hd->flag_sfr, hd->flag_cooling, hd->flag_feedback, hd->flag_metals,
                     hd->flag_stellarage, 0};
    CT_CHECK_GOTO(rc, write_attr(g, path, "BoxSize", F8, D, 1, &box));
    CT_CHECK_GOTO(rc, write_attr(g, path, "Time", F8, D, 1, &hd->time));
    CT_CHECK_GOTO(rc, write_attr(g, path, "Redshift", F8, D, 1, &hd->redshift));
    CT_CHECK_GOTO(rc, write_attr(g, path, "Omega0", F8, D, 1, &hd->omega_m));
    CT_CHECK_GOTO(rc, write_attr(g, path, "OmegaLambda", F8, D, 1, &hd->omega_l));
    CT_CHECK_GOTO(rc, write_attr(g, path, "HubbleParam", F8, D, 1, &hd->hubble));
    CT_CHECK_GOTO(rc, write_attr(g, path, "MassTable", F8, D, 6, p->mass_table));
    CT_CHECK_GOTO(rc, write_attr(g, path, "NumPart_ThisFile", I4, H5T_NATIVE_INT32, 6, thisfile));
    CT_CHECK_GOTO(rc, write_attr(g, path, "NumPart_Total", U4, H5T_NATIVE_UINT32, 6, low));
    CT_CHECK_GOTO(rc, write_attr(g, path, "NumPart_Total_HighWord", U4, H5T_NATIVE_UINT32, 6, high));
    CT_CHECK_GOTO(rc, write_attr(g, path, "NumFilesPerSnapshot", I4, H5T_NATIVE_INT32, 1, &nf));
    const char *fnames[6] = {"Flag_Sfr", "Flag_Cooling", "Flag_Feedback", "Flag_Metals",
                             "Flag_StellarAge", "Flag_DoublePrecision"};
    for (int i = 0; i < 6; i++)
        CT_CHECK_GOTO(rc, write_attr(g, path, fnames[i], I4, H5T_NATIVE_INT32, 1, &fl[i]));
    CT_CHECK_GOTO(rc, write_attr(g, path, "Flag_IC_Info", I4, H5T_NATIVE_INT32, 1, &zero));
    /* Raw data is written by every rank with pwrite into contiguous storage
     * allocated now; no fill pass. */
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    H5Pset_obj_track_times(dcpl, 0); /* no time stamps: reruns are byte-identical */
    for (int t = 0; t < 6; t++) {
        if (thisfile[t] == 0)
            continue;
        char gname[16];
        snprintf(gname, sizeof gname, "PartType%d", t);
        pt = H5Gcreate2(fid, gname, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        if (pt < 0)
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot create %s", path, gname);
        for (int k = 0; k < DS_N; k++) {
            if (k == DS_MASS && !p->write_mass[t])
                continue;
            hsize_t dims[2] = {(hsize_t)thisfile[t], 3};
            int r = (k == DS_POS || k == DS_VEL) ? 2 : 1;
            hid_t ft = k == DS_ID ? (p->id_bytes == 8 ? H5T_STD_U64LE : H5T_STD_U32LE)
                                  : H5T_IEEE_F32LE;
            sp = H5Screate_simple(r, dims, NULL);
            d = H5Dcreate2(pt, ds_names[k], ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            haddr_t off = d >= 0 ? H5Dget_offset(d) : HADDR_UNDEF;
            if (off == HADDR_UNDEF)
                CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot create %s/%s", path, gname, ds_names[k]);
            offs[t][k] = (int64_t)off;
            h5close(&d);
            h5close(&sp);
        }
        h5close(&pt);
    }
    h5close(&dcpl);
    h5close(&gcpl);
    h5close(&g);
    if (H5Fclose(fid) < 0) {
        fid = -1;
        CT_FAIL(CT_ERR_IO, "%s: cannot close file (disk full?)", path);
    }
    fid = -1;
    return CT_OK;
fail:
    h5close(&d);
    h5close(&sp);
    h5close(&pt);
    h5close(&dcpl);
    h5close(&gcpl);
    h5close(&g);
    h5close(&fid);
    return rc;
}

static ct_status pwrite_all(int fd, const char *path, const void *buf, size_t len, int64_t off)
{
    const char *b = buf;
    while (len > 0) {
        ssize_t w = pwrite(fd, b, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            CT_FAIL(CT_ERR_IO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no space");
        b += w;
        len -= (size_t)w;
        off += w;
    }
    return CT_OK;
}

/* Rank 0: lay out one Gadget binary file (format I, or II with an 8-byte label
 * record before each block): the 256-byte header record, then POS, VEL, ID and,
 * if any type needs it, MASS, all types concatenated in type order, each block
 * framed by 4-byte record markers. The payloads are left to the ranks (the file
 * is extended to its full size); offs gets each type's first byte per block. */
static ct_status create_binary_file(const char *path, const ct_snapshot_header *hd,
                                    const write_plan *p, int file, int nfiles, int fmt2,
                                    int64_t offs[6][DS_N])
{
    ct_status rc = CT_OK;
    int32_t thisfile[6];
    uint32_t low[6], high[6];
    int64_t ntot = 0, nmass = 0;
    CT_CHECK(header_counts(path, p, file, nfiles, thisfile, low, high, offs));
    for (int t = 0; t < 6; t++) {
        ntot += thisfile[t];
        nmass += p->write_mass[t] ? thisfile[t] : 0;
    }
    /* block payload sizes: Fortran record markers are 32-bit */
    const int64_t len[DS_N] = {12 * ntot, 12 * ntot, (int64_t)p->id_bytes * ntot, 4 * nmass};
    for (int k = 0; k < DS_N; k++)
        if (len[k] > (int64_t)UINT32_MAX - 8)
            CT_FAIL(CT_ERR_ARG, "%s: a %lld-byte block exceeds the 32-bit record length of "
                    "Gadget binary files; write more files", path, (long long)len[k]);
    unsigned char hb[256];
    memset(hb, 0, sizeof hb);
    double box = hd->box / CT_SNAP_LEN_TO_MPC;
    int32_t nf = nfiles;
    memcpy(hb, thisfile, 24);
    memcpy(hb + 24, p->mass_table, 48);
    memcpy(hb + 72, &hd->time, 8);
    memcpy(hb + 80, &hd->redshift, 8);
    memcpy(hb + 88, &hd->flag_sfr, 4);
    memcpy(hb + 92, &hd->flag_feedback, 4);
    memcpy(hb + 96, low, 24);
    memcpy(hb + 120, &hd->flag_cooling, 4);
    memcpy(hb + 124, &nf, 4);
    memcpy(hb + 128, &box, 8);
    memcpy(hb + 136, &hd->omega_m, 8);
    memcpy(hb + 144, &hd->omega_l, 8);
    memcpy(hb + 152, &hd->hubble, 8);
    memcpy(hb + 160, &hd->flag_stellarage, 4);
    memcpy(hb + 164, &hd->flag_metals, 4);
    memcpy(hb + 168, high, 24);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot create file: %s", path, strerror(errno));
    static const char *labels[DS_N + 1] = {"HEAD", "POS ", "VEL ", "ID  ", "MASS"};
    int64_t pos = 0;
    for (int b = 0; b <= DS_N && rc == CT_OK; b++) {
        if (b == DS_N && nmass == 0)
            break; /* MASS block only for types without a MassTable entry */
        uint32_t m = b == 0 ? 256u : (uint32_t)len[b - 1];
        if (fmt2) {
            unsigned char lr[16];
            uint32_t eight = 8, next = m + 8;
            memcpy(lr, &eight, 4);
            memcpy(lr + 4, labels[b], 4);
            memcpy(lr + 8, &next, 4);
            memcpy(lr + 12, &eight, 4);
            rc = pwrite_all(fd, path, lr, 16, pos);
            pos += 16;
        }
        if (rc == CT_OK)
            rc = pwrite_all(fd, path, &m, 4, pos);
        if (rc == CT_OK && b == 0)
            rc = pwrite_all(fd, path, hb, 256, pos + 4);
        if (rc == CT_OK && b > 0) {
            /* each type's rows start after the earlier types' rows of this block */
            int64_t el = b - 1 == DS_ID ? p->id_bytes : (b - 1 == DS_MASS ? 4 : 12), before = 0;
            for (int t = 0; t < 6; t++) {
                if (b - 1 == DS_MASS && !p->write_mass[t])
                    continue;
                if (thisfile[t] > 0)
                    offs[t][b - 1] = pos + 4 + before * el;
                before += thisfile[t];
            }
        }
        if (rc == CT_OK)
            rc = pwrite_all(fd, path, &m, 4, pos + 4 + (int64_t)m);
        pos += 8 + (int64_t)m;
    }
    if (rc == CT_OK && ftruncate(fd, (off_t)pos) != 0)
        rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot size file: %s", path,
                          strerror(errno));
    if (close(fd) != 0 && rc == CT_OK)
        rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot close file: %s", path,
                          strerror(errno));
    return rc;
}


#define WRITE_CHUNK ((int64_t)1 << 18)

/* This rank's particles [a, b) (local indices) of type t go to rows starting at
 * `row` of one file: convert to file units in bounded chunks and pwrite. */
static ct_status write_rows(int fd, const char *path, const ct_particles *pp, const write_plan *p,
                            double box_file, int t, int64_t a, int64_t b, int64_t row,
                            const int64_t offs[DS_N], void *buf)
{
    const double vinv = 1.0 / sqrt(p->time);
    const float boxf = (float)box_file;
    for (int64_t c = a; c < b; c += WRITE_CHUNK) {
        int64_t n = b - c < WRITE_CHUNK ? b - c : WRITE_CHUNK;
        int64_t r0 = row + (c - a);
        float *fb = buf;
        /* positions: Mpc/h -> kpc/h, periodic wrap into [0, BoxSize) */
        for (int64_t i = 0; i < 3 * n; i++) {
            double v = (double)pp->pos[3 * c + i] / CT_SNAP_LEN_TO_MPC;
            if (v < 0 || v >= box_file) {
                v = fmod(v, box_file);
                if (v < 0)
                    v += box_file;
            }
            float y = (float)v;
            fb[i] = y < boxf ? y : 0.0f;
        }
        CT_CHECK(pwrite_all(fd, path, fb, (size_t)n * 12, offs[DS_POS] + r0 * 12));
        for (int64_t i = 0; i < 3 * n; i++)
            fb[i] = pp->vel ? (float)(pp->vel[3 * c + i] * vinv) : 0.0f;
        CT_CHECK(pwrite_all(fd, path, fb, (size_t)n * 12, offs[DS_VEL] + r0 * 12));
        uint64_t gid0 = (uint64_t)(p->mine[t] + c) + 1; /* Gadget IDs start at 1 */
        if (p->id_bytes == 8) {
            uint64_t *ib = buf;
            for (int64_t i = 0; i < n; i++)
                ib[i] = pp->id ? pp->id[c + i] : gid0 + (uint64_t)i;
        } else {
            uint32_t *ib = buf;
            for (int64_t i = 0; i < n; i++)
                ib[i] = (uint32_t)(pp->id ? pp->id[c + i] : gid0 + (uint64_t)i);
        }
        CT_CHECK(pwrite_all(fd, path, buf, (size_t)(n * p->id_bytes),
                            offs[DS_ID] + r0 * p->id_bytes));
        if (p->write_mass[t]) {
            for (int64_t i = 0; i < n; i++)
                fb[i] = pp->mass ? pp->mass[c + i] : (float)pp->mass_uniform;
            CT_CHECK(pwrite_all(fd, path, fb, (size_t)n * 4, offs[DS_MASS] + r0 * 4));
        }
    }
    return CT_OK;
}

/* Local checks and the global plan (collective). */
static ct_status plan_write(const ct_snapshot_header *hd, const ct_particles *const parts[6],
                            const ct_write_settings *ws, MPI_Comm comm, write_plan *p)
{
    ct_status rc = CT_OK;
    memset(p, 0, sizeof *p);
    p->time = hd->time;
    int64_t n[6];
    uint64_t idmax = 0;
    int has_mass[6], has_part[6];
    double mmin[6], mmax[6];
    if (!(hd->box > 0) || !isfinite(hd->box))
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "header box = %g (must be positive)",
                          hd->box);
    else if (!(hd->time > 0) || !isfinite(hd->time))
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                          "header time = %g (scale factor must be positive)", hd->time);
    for (int t = 0; t < 6; t++) {
        const ct_particles *pp = parts ? parts[t] : NULL;
        n[t] = pp ? pp->n : 0;
        has_part[t] = n[t] > 0;
        has_mass[t] = n[t] > 0 && pp->mass != NULL;
        mmin[t] = n[t] > 0 ? pp->mass_uniform : INFINITY;
        mmax[t] = n[t] > 0 ? pp->mass_uniform : -INFINITY;
        if (rc != CT_OK || n[t] == 0)
            continue;
        if (n[t] < 0 || !pp->pos) {
            rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                              "type %d: %lld particles but no positions", t, (long long)n[t]);
            continue;
        }
        for (int64_t i = 0; i < 3 * n[t] && rc == CT_OK; i++)
            if (!isfinite(pp->pos[i]) || (pp->vel && !isfinite(pp->vel[i])))
                rc = ct_error_set(CT_ERR_NUMERIC, __func__, __LINE__,
                                  "type %d particle %lld (local): non-finite position or "
                                  "velocity; refusing to write", t, (long long)(i / 3));
        for (int64_t i = 0; i < n[t] && rc == CT_OK; i++) {
            if (pp->id && pp->id[i] > idmax)
                idmax = pp->id[i];
            if (pp->mass && !(isfinite(pp->mass[i]) && pp->mass[i] >= 0))
                rc = ct_error_set(CT_ERR_NUMERIC, __func__, __LINE__,
                                  "type %d particle %lld (local): mass %g", t, (long long)i,
                                  pp->mass[i]);
        }
    }
    CT_CHECK(ct_agree_msg(comm, rc));
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    int64_t excl[6] = {0};
    MPI_Allreduce(n, p->total, 6, MPI_INT64_T, MPI_SUM, comm);
    MPI_Exscan(n, excl, 6, MPI_INT64_T, MPI_SUM, comm);
    if (rank == 0)
        memset(excl, 0, sizeof excl);
    memcpy(p->mine, excl, sizeof excl);
    /* the positions policy, before anything is created */
    static const char axis[3] = {'x', 'y', 'z'};
    for (int t = 0; t < 6 && rc == CT_OK; t++) {
        const ct_particles *pp = parts ? parts[t] : NULL;
        for (int64_t i = 0; i < 3 * n[t] && rc == CT_OK; i++) {
            double v;
            if (ct_snap_fold(pp->pos[i], hd->box, ws->tolerance, ws->bounds, &v) > 0)
                rc = ct_error_set(CT_ERR_RANGE, __func__, __LINE__,
                                  "type %d (%s) particle %lld: %c = %.9g Mpc/h is outside the "
                                  "box [0, %.9g) by more than the wrap tolerance (%g box); "
                                  "refusing to write", t, ct_snapshot_type_name(t),
                                  (long long)(excl[t] + i / 3), axis[i % 3],
                                  (double)pp->pos[i], hd->box, ws->tolerance);
        }
    }
    CT_CHECK(ct_agree_msg(comm, rc));
    MPI_Allreduce(MPI_IN_PLACE, has_mass, 6, MPI_INT, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, has_part, 6, MPI_INT, MPI_MAX, comm);
    MPI_Allreduce(MPI_IN_PLACE, mmin, 6, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(MPI_IN_PLACE, mmax, 6, MPI_DOUBLE, MPI_MAX, comm);
    /* IDs the writer makes up run to the total count */
    for (int t = 0; t < 6; t++)
            if (parts && parts[t] && parts[t]->n > 0 && !parts[t]->id &&
                (uint64_t)p->total[t] > idmax)
                idmax = (uint64_t)p->total[t];
    MPI_Allreduce(MPI_IN_PLACE, &idmax, 1, MPI_UINT64_T, MPI_MAX, comm);
    p->id_bytes = idmax > UINT32_MAX ? 8 : 4;
    for (int t = 0; t < 6; t++) {
        if (!has_part[t]) {
            p->mass_table[t] = hd->mass_table[t] > 0 ? hd->mass_table[t] : 0;
            continue;
        }
        double m = mmin[t];
        if (has_mass[t] || mmin[t] != mmax[t]) {
            p->write_mass[t] = 1;
        } else if (m > 0) {
            p->mass_table[t] = m;
        } else if (hd->mass_table[t] > 0) {
            p->mass_table[t] = hd->mass_table[t];
        } else {
            CT_FAIL(CT_ERR_ARG, "type %d: particles have no mass (mass_uniform, header "
                    "mass_table and per-particle masses are all missing)", t);
        }
    }
    return CT_OK;
}

ct_status ct_snapshot_write(const char *dir, const ct_snapshot_header *header,
                            const ct_particles *const parts[6], const ct_write_settings *ws,
                            MPI_Comm comm)
{
    ct_status rc = CT_OK;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_write_settings defws;
    if (!ws) {
        ct_write_settings_defaults(&defws);
        ws = &defws;
    }
    int nfiles = ws->nfiles;
    const int fmt = ws->format ? ws->format : CT_SNAP_HDF5;
    const int binary = fmt == CT_SNAP_GADGET1 || fmt == CT_SNAP_GADGET2;
    if (fmt != CT_SNAP_HDF5 && !binary)
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                          "write settings: unknown snapshot format %d (hdf5, gadget1 or "
                          "gadget2)", ws->format);
    else if (nfiles < 1 || (ws->single_file && nfiles != 1) || ws->snapnum < 0 || !dir || !header ||
        !ct_snap_tolerance_ok(ws->tolerance))
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                          "write settings: nfiles = %d, single_file = %d, snapnum = %d, "
                          "tolerance = %g (nfiles >= 1; single_file needs nfiles = 1; "
                          "tolerance in [0, 1))", nfiles, ws->single_file, ws->snapnum,
                          ws->tolerance);
    CT_CHECK(ct_agree_msg(comm, rc)); /* before any collective step */
    write_plan plan;
    CT_CHECK(plan_write(header, parts, ws, comm, &plan));

    char outdir[CT_SNAP_PATH_CAP], base[64];
    if (ws->single_file)
        CT_CHECK(ct_snap_path(outdir, sizeof outdir, "%s", dir));
    else
        CT_CHECK(ct_snap_path(outdir, sizeof outdir, "%s/snapdir_%03d", dir, ws->snapnum));
    snprintf(base, sizeof base, "snap_%03d", ws->snapnum);
    /* HDF5: snap_XXX.<f>.hdf5; Gadget binary: snap_XXX.<f> (Quijote's names) */
    const char *ext = binary ? "" : ".hdf5", *other = binary ? ".hdf5" : "";
    long pid = (long)getpid();
    int created = 0;
    if (rank == 0) {
        created = !ct_dir_exists(outdir);
        rc = ct_mkdir_p(outdir);
    }
    MPI_Bcast(&pid, 1, MPI_LONG, 0, comm);
    CT_CHECK(ct_agree_msg(comm, rc));

    char *names = NULL; /* final and temporary names, 2 per file */
    int64_t (*offs)[6][DS_N] = NULL;
    void *buf = NULL;
    int fd = -1;
    const size_t cap = CT_SNAP_PATH_CAP;
    rc = ct_calloc(&names, (size_t)nfiles * 2, cap, "file names");
    if (rc == CT_OK)
        rc = ct_calloc(&offs, (size_t)nfiles, sizeof *offs, "dataset offsets");
    if (rc == CT_OK)
        rc = ct_calloc(&buf, (size_t)WRITE_CHUNK, 12, "write buffer");
    for (int f = 0; rc == CT_OK && f < nfiles; f++) {
        char *fin = names + (size_t)(2 * f) * cap, *tmp = fin + cap;
        if (ws->single_file)
            rc = ct_snap_path(fin, cap, "%s/%s%s", outdir, base, ext);
        else
            rc = ct_snap_path(fin, cap, "%s/%s.%d%s", outdir, base, f, ext);
        if (rc == CT_OK)
            rc = ct_snap_path(tmp, cap, "%s/.%s.%d%s.tmp.%ld", outdir, base, f, ext, pid);
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));

    /* 1. rank 0 lays out every file: header, groups, allocated datasets */
    const double box_file = header->box / CT_SNAP_LEN_TO_MPC;
    if (rank == 0) {
        ct_h5_quiet();
        for (int f = 0; f < nfiles && rc == CT_OK; f++)
            rc = binary ? create_binary_file(names + (size_t)(2 * f + 1) * cap, header, &plan, f,
                                             nfiles, fmt == CT_SNAP_GADGET2, offs[f])
                        : create_file(names + (size_t)(2 * f + 1) * cap, header, &plan, f,
                                      nfiles, offs[f]);
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    MPI_Bcast(offs, (int)(sizeof *offs * (size_t)nfiles), MPI_BYTE, 0, comm);

    /* 2. every rank writes its rows into the files its slice overlaps */
    for (int f = 0; f < nfiles && rc == CT_OK; f++) {
        const char *tmp = names + (size_t)(2 * f + 1) * cap;
        for (int t = 0; t < 6 && rc == CT_OK; t++) {
            const ct_particles *pp = parts ? parts[t] : NULL;
            int64_t n = pp ? pp->n : 0;
            if (n == 0)
                continue;
            int64_t ff, fc;
            ct_partition_range(plan.total[t], nfiles, f, &ff, &fc);
            int64_t a = plan.mine[t] > ff ? plan.mine[t] : ff;
            int64_t b = plan.mine[t] + n < ff + fc ? plan.mine[t] + n : ff + fc;
            if (a >= b)
                continue;
            if (fd < 0) {
                fd = open(tmp, O_WRONLY);
                if (fd < 0) {
                    rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot open: %s",
                                      tmp, strerror(errno));
                    break;
                }
            }
            rc = write_rows(fd, tmp, pp, &plan, box_file, t, a - plan.mine[t], b - plan.mine[t],
                            a - ff, offs[f][t], buf);
            if (rc != CT_OK)
                ct_error_push(rc, __func__, __LINE__);
        }
        if (fd >= 0) {
            if (rc == CT_OK && fdatasync(fd) != 0)
                rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: sync failed: %s", tmp,
                                  strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));

    /* 3. check each finished file reads back as a snapshot (spread over ranks) */
    for (int f = rank; f < nfiles && rc == CT_OK; f += size) {
        ct_snapshot_header h;
        ct_snapfile sf;
        double bf;
        ct_snapshot_format got = CT_SNAP_HDF5;
        const char *tmp = names + (size_t)(2 * f + 1) * cap;
        rc = binary ? ct_gadget_scan(tmp, &h, &bf, &sf, &got) : ct_h5snap_scan(tmp, &h, &bf, &sf);
        if (rc == CT_OK && (int)got != fmt)
            rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__, "%s: reads back as %s", tmp,
                              ct_snapshot_format_name(got));
        if (rc != CT_OK)
            ct_error_push(rc, __func__, __LINE__);
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));

    /* 4. rename into place; drop files of an older, longer set */
    if (rank == 0) {
        for (int f = 0; f < nfiles && rc == CT_OK; f++) {
            const char *fin = names + (size_t)(2 * f) * cap;
            if (rename(fin + cap, fin) != 0)
                rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot rename: %s", fin,
                                  strerror(errno));
        }
        char old[CT_SNAP_PATH_CAP];
        if (rc == CT_OK && !ws->single_file) {
            for (int f = nfiles;; f++) {
                if (ct_snap_path(old, sizeof old, "%s/%s.%d%s", outdir, base, f, ext) != CT_OK ||
                    unlink(old) != 0)
                    break;
            }
        }
        /* and an older snapshot of the same number in the other format, so that
         * the folder holds one snapshot */
        if (rc == CT_OK) {
            for (int f = 0;; f++) {
                if (ct_snap_path(old, sizeof old, "%s/%s.%d%s", outdir, base, f, other) != CT_OK ||
                    unlink(old) != 0)
                    break;
            }
            if (ct_snap_path(old, sizeof old, "%s/%s%s", outdir, base, other) == CT_OK &&
                (binary || ct_gadget_sniff(old)))
                unlink(old);
        }
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    free(names);
    free(offs);
    free(buf);
    return CT_OK;
fail:
    if (fd >= 0)
        close(fd);
    MPI_Barrier(comm);
    if (rank == 0) {
        for (int f = 0; names && f < nfiles; f++)
            unlink(names + (size_t)(2 * f + 1) * cap);
        if (created)
            rmdir(outdir);
    }
    free(names);
    free(offs);
    free(buf);
    return rc;
}
