/* Small HDF5 helpers: attributes, whole datasets, config records. */
#include "cosmotl/h5.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ct_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static void objname(hid_t loc, char *buf, size_t cap)
{
    char file[512] = "?", obj[512] = "?";
    H5Fget_name(loc, file, sizeof file);
    H5Iget_name(loc, obj, sizeof obj);
    snprintf(buf, cap, "%s:%s", file, obj);
}

hid_t ct_h5_dcpl(void)
{
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    if (p >= 0)
        H5Pset_obj_track_times(p, 0);
    return p;
}

hid_t ct_h5_gcpl(void)
{
    hid_t p = H5Pcreate(H5P_GROUP_CREATE);
    if (p >= 0)
        H5Pset_obj_track_times(p, 0);
    return p;
}

ct_status ct_h5_create(const char *path, hid_t *file)
{
    *file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (*file < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot create HDF5 file", path);
    return CT_OK;
}

ct_status ct_h5_open_ro(const char *path, hid_t *file)
{
    if (!ct_file_exists(path))
        CT_FAIL(CT_ERR_IO, "%s: no such file", path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: not an HDF5 file (or truncated)", path);
    CT_CHECK(ct_h5_check_root(path));
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: cannot open HDF5 file (corrupt or truncated)", path);
    ct_status rc = ct_h5_check_headers(*file);
    if (rc != CT_OK) {
        H5Fclose(*file);
        *file = -1;
        return ct_error_push(rc, __func__, __LINE__);
    }
    return CT_OK;
}

int ct_h5_exists(hid_t loc, const char *path)
{
    /* check each component so that missing intermediates are not errors */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf; *p; p++) {
        if (*p == '/' && p != buf) {
            *p = '\0';
            if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
                return 0;
            *p = '/';
        }
    }
    return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

ct_status ct_h5_group(hid_t loc, const char *path, hid_t *group)
{
    if (ct_h5_exists(loc, path)) {
        *group = H5Gopen2(loc, path, H5P_DEFAULT);
    } else {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        hid_t gcpl = ct_h5_gcpl();
        *group = H5Gcreate2(loc, path, lcpl, gcpl, H5P_DEFAULT);
        H5Pclose(gcpl);
        H5Pclose(lcpl);
    }
    if (*group < 0) {
        char n[1100];
        objname(loc, n, sizeof n);
        CT_FAIL(CT_ERR_IO, "%s: cannot create group %s", n, path);
    }
    return CT_OK;
}

static ct_status write_attr(hid_t loc, const char *name, hid_t memtype, hid_t filetype,
                            const void *v, size_t n)
{
    if (H5Aexists(loc, name) > 0)
        H5Adelete(loc, name);
    hsize_t dim = n;
    hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(loc, name, filetype, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, memtype, v) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    if (e < 0) {
        char o[1100];
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_IO, "%s: cannot write attribute %s", o, name);
    }
    return CT_OK;
}

ct_status ct_h5_attr_double(hid_t loc, const char *name, double v)
{
    return write_attr(loc, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, &v, 1);
}

ct_status ct_h5_attr_doubles(hid_t loc, const char *name, const double *v, size_t n)
{
    return write_attr(loc, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, v, n);
}

ct_status ct_h5_attr_int(hid_t loc, const char *name, long long v)
{
    return write_attr(loc, name, H5T_NATIVE_LLONG, H5T_STD_I64LE, &v, 1);
}

ct_status ct_h5_attr_string(hid_t loc, const char *name, const char *v)
{
    if (H5Aexists(loc, name) > 0)
        H5Adelete(loc, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, t, v) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
    if (e < 0) {
        char o[1100];
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_IO, "%s: cannot write attribute %s", o, name);
    }
    return CT_OK;
}

/* Open attribute name of loc after checking, before any H5Aread, what a
 * crafted file could lie about: the attribute must exist, have a scalar or
 * one-element simple dataspace, a datatype of class cls (H5T_NO_CLASS: integer
 * or float) and an element size of at most max_size bytes. On success *a and *ft
 * are open (caller closes). Reading an attribute whose stored type or shape
 * disagrees with what HDF5 then converts is where HDF5 1.10.8 can loop or read
 * past its buffers; cosmotl never writes such attributes. */
static ct_status attr_open_checked(hid_t loc, const char *name, H5T_class_t cls,
                                   size_t max_size, hid_t *a, hid_t *ft)
{
    char o[1100];
    const char *why = NULL;
    *a = *ft = -1;
    int ex = ct_h5_attr_exists(loc, name);
    if (ex < 0)
        return ct_error_push(ct_error_status(), __func__, __LINE__);
    if (ex == 0) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s missing", o, name);
    }
    *a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t space = *a >= 0 ? H5Aget_space(*a) : -1;
    *ft = *a >= 0 ? H5Aget_type(*a) : -1;
    H5S_class_t sc = space >= 0 ? H5Sget_simple_extent_type(space) : H5S_NO_CLASS;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0)
        H5Sclose(space);
    H5T_class_t c = *ft >= 0 ? H5Tget_class(*ft) : H5T_NO_CLASS;
    size_t sz = *ft >= 0 ? H5Tget_size(*ft) : 0;
    if (*a < 0 || *ft < 0)
        why = "cannot be opened";
    else if ((sc != H5S_SCALAR && sc != H5S_SIMPLE) || n != 1)
        why = "is not a single value";
    else if (cls == H5T_NO_CLASS ? (c != H5T_INTEGER && c != H5T_FLOAT) : c != cls)
        why = cls == H5T_STRING ? "is not a string" : "is not a number";
    else if (sz == 0 || sz > max_size)
        why = "has an impossible element size";
    else if (c == H5T_STRING && H5Tis_variable_str(*ft) < 0)
        why = "has a corrupt string type";
    if (why) {
        if (*ft >= 0)
            H5Tclose(*ft);
        if (*a >= 0)
            H5Aclose(*a);
        *a = *ft = -1;
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s %s", o, name, why);
    }
    return CT_OK;
}

static ct_status read_attr(hid_t loc, const char *name, hid_t memtype, void *v)
{
    char o[1100];
    hid_t a, ft;
    /* the widest number HDF5 converts from is a 16-byte float */
    CT_CHECK(attr_open_checked(loc, name, H5T_NO_CLASS, 16, &a, &ft));
    herr_t e = H5Aread(a, memtype, v);
    H5Tclose(ft);
    H5Aclose(a);
    if (e < 0) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s is not a readable scalar", o, name);
    }
    return CT_OK;
}

ct_status ct_h5_read_attr_double(hid_t loc, const char *name, double *v)
{
    return read_attr(loc, name, H5T_NATIVE_DOUBLE, v);
}

ct_status ct_h5_read_attr_int(hid_t loc, const char *name, long long *v)
{
    return read_attr(loc, name, H5T_NATIVE_LLONG, v);
}

/* Longest string attribute read (an object header, where attributes live,
 * holds at most 64 KiB; dense attribute storage could hold more, cosmotl never
 * writes that much). */
#define CT_H5_ATTR_STRING_MAX ((size_t)1 << 20)

ct_status ct_h5_read_attr_string(hid_t loc, const char *name, char *buf, size_t cap)
{
    char o[1100];
    hid_t a, ft;
    CT_CHECK(attr_open_checked(loc, name, H5T_STRING, CT_H5_ATTR_STRING_MAX, &a, &ft));
    herr_t e = -1;
    size_t len = 0; /* the string's length: longer than cap - 1 is an error, not a cut */
    H5T_cset_t cs = H5Tget_cset(ft);
    if (cs != H5T_CSET_ASCII && cs != H5T_CSET_UTF8) {
        e = -1;
    } else if (H5Tis_variable_str(ft) > 0 && ct_h5_check_heaps(loc) != CT_OK) {
        H5Tclose(ft);
        H5Aclose(a);
        return ct_error_push(ct_error_status(), __func__, __LINE__);
    } else if (H5Tis_variable_str(ft) > 0) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, cs); /* UTF-8 and ASCII do not convert */
        e = H5Aread(a, mt, &s);
        if (e >= 0 && s) {
            len = strlen(s);
            snprintf(buf, cap, "%s", s);
            H5free_memory(s);
        }
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(ft);
        char *tmp = calloc(sz + 1, 1);
        if (tmp) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz);
            H5Tset_cset(mt, cs);
            e = H5Aread(a, mt, tmp);
            H5Tclose(mt);
            len = strlen(tmp);
            snprintf(buf, cap, "%s", tmp);
            free(tmp);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    if (e < 0) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s is not a readable string", o, name);
    }
    if (len >= cap) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s is a string of %zu characters, longer than "
                "the %zu this reader takes", o, name, len, cap ? cap - 1 : 0);
    }
    return CT_OK;
}

static ct_status write_ds(hid_t loc, const char *name, hid_t memtype, hid_t filetype,
                          const void *v, int rank, const hsize_t *dims)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0)
        H5Ldelete(loc, name, H5P_DEFAULT);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = ct_h5_dcpl();
    hid_t d = H5Dcreate2(loc, name, filetype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    herr_t e = d >= 0 ? H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : -1;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    if (e < 0) {
        char o[1100];
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_IO, "%s: cannot write dataset %s", o, name);
    }
    return CT_OK;
}

ct_status ct_h5_write_doubles(hid_t loc, const char *name, const double *v, int rank,
                              const hsize_t *dims)
{
    return write_ds(loc, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, v, rank, dims);
}

ct_status ct_h5_write_int64s(hid_t loc, const char *name, const int64_t *v, int rank,
                             const hsize_t *dims)
{
    return write_ds(loc, name, H5T_NATIVE_INT64, H5T_STD_I64LE, v, rank, dims);
}

ct_status ct_h5_check_dataset_size(hid_t d, const char *file, const char *name,
                                   size_t mem_elsize)
{
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
    hid_t fid = H5Iget_file_id(d);
    /* the element count from the extents, checked for overflow (HDF5's own
     * count wraps silently: dims 2^33 x 2^31 count as 0 elements) */
    hsize_t dims[H5S_MAX_RANK];
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int overflow = 0;
    uint64_t n = 1;
    if (r >= 0 && H5Sget_simple_extent_dims(sp, dims, NULL) == r) {
        for (int i = 0; i < r; i++) {
            if (dims[i] && n > UINT64_MAX / dims[i])
                overflow = 1;
            else
                n *= dims[i];
        }
        if (H5Sget_simple_extent_type(sp) == H5S_NULL)
            n = 0;
    } else {
        r = -1;
    }
    size_t fsz = ft >= 0 ? H5Tget_size(ft) : 0;
    H5D_layout_t lay = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    /* compact data live in the object header; their stored size */
    hsize_t compact = lay == H5D_COMPACT ? H5Dget_storage_size(d) : 0;
    int next = dcpl >= 0 ? H5Pget_external_count(dcpl) : -1;
    hsize_t fsize = 0;
    herr_t fe = fid >= 0 ? H5Fget_filesize(fid, &fsize) : -1;
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (fid >= 0)
        H5Fclose(fid);
    if (r < 0 || fsz == 0 || lay == H5D_LAYOUT_ERROR || next < 0 || fe < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s: cannot read its shape, type or layout (corrupt)",
                file, name);
    if (next > 0 || lay == H5D_VIRTUAL)
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s stores its data in other files (%s storage); "
                "not supported", file, name, next > 0 ? "external" : "virtual");
    size_t me = mem_elsize ? mem_elsize : fsz;
    if (overflow || (n && (n > UINT64_MAX / fsz || n > SIZE_MAX / me)))
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s declares an impossible size (%llu x ... "
                "elements, more than 2^64 bytes; corrupt)", file, name,
                (unsigned long long)(r > 0 ? dims[0] : 0));
    uint64_t stored = n * fsz, mem = n * me;
    /* HDF5 1.10.8 reads a compact dataset by copying extent x type size bytes
     * from its stored data whatever their length: from a NULL buffer when the
     * layout message stores fewer (model harness, SEGV in H5Dread) */
    if (lay == H5D_COMPACT && (uint64_t)compact < stored)
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s: compact data of %llu bytes for %llu elements of "
                "%zu bytes (corrupt)", file, name, (unsigned long long)compact,
                (unsigned long long)n, fsz);
    if (lay == H5D_CONTIGUOUS && stored > (uint64_t)fsize)
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s declares %llu elements (%.4g GB) but the file has "
                "only %llu bytes (corrupt or truncated)", file, name, (unsigned long long)n,
                stored / 1e9, (unsigned long long)fsize);
    if (lay != H5D_CONTIGUOUS) {
        uint64_t bound = (uint64_t)fsize > UINT64_MAX / CT_H5_MAX_EXPANSION
                             ? UINT64_MAX
                             : (uint64_t)fsize * CT_H5_MAX_EXPANSION;
        if (bound < CT_H5_MIN_BOUND)
            bound = CT_H5_MIN_BOUND;
        if (mem > bound)
            CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s declares %llu elements (%.4g GB in memory), more "
                    "than %d times the file's %llu bytes that compressed or chunked data can "
                    "plausibly hold (corrupt)", file, name, (unsigned long long)n, mem / 1e9,
                    CT_H5_MAX_EXPANSION, (unsigned long long)fsize);
    }
    return CT_OK;
}

static ct_status read_ds(hid_t loc, const char *name, hid_t memtype, size_t elsize,
                         void **v, int *rank, hsize_t dims[2])
{
    char o[1100];
    *v = NULL;
    if (!ct_h5_exists(loc, name)) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s missing", o, name);
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: cannot open dataset %s", o, name);
    }
    hid_t space = H5Dget_space(d);
    int r = H5Sget_simple_extent_ndims(space);
    hsize_t dd[8] = {0};
    if (r < 1 || r > 2) {
        H5Sclose(space);
        H5Dclose(d);
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s has rank %d (want 1 or 2)", o, name, r);
    }
    H5Sget_simple_extent_dims(space, dd, NULL);
    H5Sclose(space);
    /* the declared size must be possible in this file before anything is
     * allocated for it (a corrupt header can declare terabytes) */
    objname(loc, o, sizeof o);
    ct_status s = ct_h5_check_dataset_size(d, o, name, elsize);
    if (s != CT_OK) {
        H5Dclose(d);
        return ct_error_push(s, __func__, __LINE__);
    }
    size_t n = (size_t)dd[0] * (r == 2 ? (size_t)dd[1] : 1);
    void *buf = NULL;
    s = ct_calloc(&buf, n ? n : 1, elsize, name);
    if (s != CT_OK) {
        H5Dclose(d);
        return ct_error_push(s, __func__, __LINE__);
    }
    herr_t e = n ? H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    H5Dclose(d);
    if (e < 0) {
        free(buf);
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: cannot read dataset %s (corrupt, or a filter is missing)",
                o, name);
    }
    *v = buf;
    *rank = r;
    dims[0] = dd[0];
    dims[1] = r == 2 ? dd[1] : 1;
    return CT_OK;
}

ct_status ct_h5_read_doubles(hid_t loc, const char *name, double **v, int *rank,
                             hsize_t dims[2])
{
    return read_ds(loc, name, H5T_NATIVE_DOUBLE, sizeof(double), (void **)v, rank, dims);
}

ct_status ct_h5_read_int64s(hid_t loc, const char *name, int64_t **v, int *rank,
                            hsize_t dims[2])
{
    return read_ds(loc, name, H5T_NATIVE_INT64, sizeof(int64_t), (void **)v, rank, dims);
}

ct_status ct_h5_write_config(hid_t loc, const ct_config *cfg)
{
    hid_t g;
    CT_CHECK(ct_h5_group(loc, "settings", &g));
    ct_status s = ct_h5_attr_string(g, "config_path", ct_config_path(cfg));
    size_t n = ct_config_used_count(cfg);
    for (size_t i = 0; i < n && s == CT_OK; i++) {
        const char *sec, *key, *val;
        ct_config_used_get(cfg, i, &sec, &key, &val);
        char name[512];
        snprintf(name, sizeof name, "%s.%s", sec, key);
        s = ct_h5_attr_string(g, name, val);
    }
    H5Gclose(g);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    return CT_OK;
}
