/* Small HDF5 helpers: attributes, whole datasets, config records. */
#include "cosmotl/h5.h"

#include <stdlib.h>
#include <string.h>

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
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: cannot open HDF5 file (corrupt or truncated)", path);
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

static ct_status read_attr(hid_t loc, const char *name, hid_t memtype, void *v)
{
    char o[1100];
    if (H5Aexists(loc, name) <= 0) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s missing", o, name);
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t space = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    herr_t e = n == 1 ? H5Aread(a, memtype, v) : -1;
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

ct_status ct_h5_read_attr_string(hid_t loc, const char *name, char *buf, size_t cap)
{
    char o[1100];
    if (H5Aexists(loc, name) <= 0) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s missing", o, name);
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    herr_t e = -1;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft)); /* UTF-8 and ASCII do not convert */
            e = H5Aread(a, mt, &s);
            if (e >= 0 && s) {
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
                H5Tset_cset(mt, H5Tget_cset(ft));
                e = H5Aread(a, mt, tmp);
                H5Tclose(mt);
                snprintf(buf, cap, "%s", tmp);
                free(tmp);
            }
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    if (e < 0) {
        objname(loc, o, sizeof o);
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s is not a string", o, name);
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
    size_t n = (size_t)dd[0] * (r == 2 ? (size_t)dd[1] : 1);
    void *buf = NULL;
    ct_status s = ct_calloc(&buf, n ? n : 1, elsize, name);
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
