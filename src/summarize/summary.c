/* Per-simulation summary files: atomic writer, the power-spectrum group, and
 * its reader. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "cosmotl/summary.h"
#include "ct_config.h"
#include "summary_private.h"

struct ct_summary_writer {
    hid_t file;
    char *path; /* the summary's name, and the temporary it is saved to first */
    char *tmp;
};

ct_status ct_h5_attr_vstr(hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    if (H5Aexists(loc, name) > 0)
        H5Adelete(loc, name);
    a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &v);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "cannot write attribute %s", name);
    return CT_OK;
}

ct_status ct_h5_vstr_array(hid_t loc, const char *name, const char *const *v, size_t n,
                           int as_attr)
{
    hsize_t d = n;
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(1, &d, NULL), o = -1;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    herr_t e = -1;
    if (as_attr) {
        o = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (o >= 0) {
            e = H5Awrite(o, t, v);
            H5Aclose(o);
        }
    } else {
        hid_t dcpl = ct_h5_dcpl();
        o = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Pclose(dcpl);
        if (o >= 0) {
            e = H5Dwrite(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
            H5Dclose(o);
        }
    }
    H5Sclose(sp);
    H5Tclose(t);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "cannot write string array %s", name);
    return CT_OK;
}

ct_status ct_h5_mem_create(hid_t *file)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    /* the name only identifies the in-memory file */
    static long counter = 0;
    char name[64];
    snprintf(name, sizeof name, "ct_mem_%ld_%ld", (long)getpid(), counter++);
    *file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (*file < 0)
        CT_FAIL(CT_ERR_MEMORY, "cannot create an in-memory HDF5 file");
    return CT_OK;
}

ct_status ct_h5_mem_save(hid_t file, const char *tmp, const char *final_path)
{
    ct_status rc = CT_OK;
    char *img = NULL;
    int fd = -1;
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot finish the HDF5 image", final_path);
    ssize_t size = H5Fget_file_image(file, NULL, 0);
    if (size <= 0)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot finish the HDF5 image", final_path);
    img = malloc((size_t)size);
    if (!img)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory (%zd bytes)", final_path, size);
    if (H5Fget_file_image(file, img, (size_t)size) != size)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot copy the HDF5 image", final_path);
    H5Fclose(file);
    file = -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot create: %s", final_path, strerror(errno));
    for (ssize_t done = 0; done < size;) {
        ssize_t w = write(fd, img + done, (size_t)(size - done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: write failed: %s", final_path,
                         w < 0 ? strerror(errno) : "nothing written");
        done += w;
    }
    if (fsync(fd) != 0)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: write failed: %s", final_path, strerror(errno));
    if (close(fd) != 0) {
        fd = -1;
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: write failed: %s", final_path, strerror(errno));
    }
    fd = -1;
    CT_CHECK_GOTO(rc, ct_atomic_commit(tmp, final_path));
    free(img);
    return CT_OK;
fail:
    if (file >= 0)
        H5Fclose(file);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(img);
    return rc;
}

ct_status ct_summary_create(ct_summary_writer **out, const char *path, const char *name,
                            const char *input)
{
    ct_status rc = CT_OK;
    ct_summary_writer *w = NULL;
    *out = NULL;
    CT_CHECK(ct_calloc(&w, 1, sizeof *w, "summary writer"));
    w->file = -1;
    CT_CHECK_GOTO(rc, ct_asprintf(&w->path, "%s", path));
    CT_CHECK_GOTO(rc, ct_atomic_begin_alloc(path, &w->tmp));
    CT_CHECK_GOTO(rc, ct_h5_mem_create(&w->file));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(w->file, "kind", CT_SUMMARY_KIND));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(w->file, "name", name ? name : ""));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(w->file, "input", input ? input : ""));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(w->file, "code_version", CT_VERSION));
    *out = w;
    return CT_OK;
fail:
    ct_summary_abort(&w);
    return ct_error_push(rc, __func__, __LINE__);
}

hid_t ct_summary_file(const ct_summary_writer *w) { return w->file; }

ct_status ct_summary_group(ct_summary_writer *w, const char *name, const char *table,
                           const char *common, const char *rows, const char *per_sim,
                           hid_t *group)
{
    hid_t g = -1;
    ct_status rc = CT_OK;
    if (!table || !*table)
        CT_FAIL(CT_ERR_ARG, "summary group %s needs a gather_table dataset", name);
    CT_CHECK(ct_h5_group(w->file, name, &g));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "gather_table", table));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "gather_common", common ? common : ""));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "gather_rows", rows ? rows : ""));
    CT_CHECK_GOTO(rc, ct_h5_attr_vstr(g, "gather_per_sim", per_sim ? per_sim : ""));
    *group = g;
    return CT_OK;
fail:
    H5Gclose(g);
    return rc;
}

ct_status ct_summary_commit(ct_summary_writer **pw)
{
    ct_summary_writer *w = *pw;
    ct_status rc = CT_OK;
    if (!w)
        CT_FAIL(CT_ERR_STATE, "no summary writer");
    rc = ct_h5_mem_save(w->file, w->tmp, w->path);
    w->file = -1;
    if (rc != CT_OK)
        ct_error_push(rc, __func__, __LINE__);
    free(w->path);
    free(w->tmp);
    free(w);
    *pw = NULL;
    return rc;
}

void ct_summary_abort(ct_summary_writer **pw)
{
    if (!pw || !*pw)
        return;
    ct_summary_writer *w = *pw;
    if (w->file >= 0)
        H5Fclose(w->file);
    ct_atomic_abort(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w);
    *pw = NULL;
}

const char *ct_summary_axis_name_(int axis)
{
    static const char *axes[] = {"x", "y", "z"};
    return axis >= 0 && axis < 3 ? axes[axis] : "none";
}

ct_status ct_summary_spectrum_(hid_t g, const ct_pk_result *r, const ct_pk_meta *meta,
                               const char *desc)
{
    hsize_t d[1] = {(hsize_t)r->nbins};
    CT_CHECK(ct_h5_write_doubles(g, "k", r->k, 1, d));
    CT_CHECK(ct_h5_write_doubles(g, "P0", r->P0, 1, d));
    CT_CHECK(ct_h5_write_doubles(g, "P2", r->P2, 1, d));
    CT_CHECK(ct_h5_write_doubles(g, "P4", r->P4, 1, d));
    CT_CHECK(ct_h5_write_int64s(g, "nmodes", r->nmodes, 1, d));
    CT_CHECK(ct_h5_attr_double(g, "box", r->box));
    CT_CHECK(ct_h5_attr_int(g, "grid", r->grid));
    CT_CHECK(ct_h5_attr_vstr(g, "mas", ct_mas_name(r->mas)));
    CT_CHECK(ct_h5_attr_double(g, "redshift", meta ? meta->redshift : 0.0));
    CT_CHECK(ct_h5_attr_vstr(g, "description", desc));
    CT_CHECK(ct_h5_attr_int(g, "interlace", r->interlace));
    CT_CHECK(ct_h5_attr_int(g, "los_axis", r->axis));
    CT_CHECK(ct_h5_attr_vstr(g, "rsd", ct_summary_axis_name_(meta ? meta->rsd_axis : -1)));
    CT_CHECK(ct_h5_attr_double(g, "bin_width", r->bin_width));
    CT_CHECK(ct_h5_attr_int(g, "npart", r->npart));
    CT_CHECK(ct_h5_attr_vstr(g, "species", meta && meta->species ? meta->species : "m"));
    return CT_OK;
}

ct_status ct_summary_write_pk(ct_summary_writer *w, const char *name, const ct_pk_result *r,
                              const ct_pk_meta *meta)
{
    ct_status rc = CT_OK;
    hid_t g = -1;
    CT_CHECK(ct_summary_group(w, name, "P0", "k,nmodes", "P2,P4", "nbar,npart", &g));
    const char *species = meta && meta->species ? meta->species : "m";
    int rsd = meta ? meta->rsd_axis : -1;
    char desc[512];
    if (meta && meta->description)
        snprintf(desc, sizeof desc, "%s", meta->description);
    else
        snprintf(desc, sizeof desc,
                 "%s power spectrum (Pk_%s%s), cosmotl, grid %lld, %s%s%s",
                 !strcmp(species, "cb") ? "CDM+baryon" : "matter", species,
                 rsd >= 0 ? ", redshift space" : "", (long long)r->grid, ct_mas_name(r->mas),
                 r->interlace ? ", interlaced" : "", r->cross ? ", cross" : "");
    CT_CHECK_GOTO(rc, ct_summary_spectrum_(g, r, meta, desc));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "nbar", r->nbar));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "shot_noise", r->shot_noise));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "cross", r->cross));
    if (r->float32) /* only then, so float64 summaries keep their attributes */
        CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "float32", 1));
fail:
    H5Gclose(g);
    return rc;
}

ct_status ct_summary_read_pk(const char *path, const char *group, ct_pk_result *r)
{
    ct_status rc = CT_OK;
    hid_t f = -1, g = -1;
    memset(r, 0, sizeof *r);
    CT_CHECK(ct_h5_open_ro(path, &f));
    if (!ct_h5_exists(f, group))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no group /%s", path, group);
    g = H5Gopen2(f, group, H5P_DEFAULT);
    int rank;
    hsize_t d[2], d2[2];
    CT_CHECK_GOTO(rc, ct_h5_read_doubles(g, "k", &r->k, &rank, d));
    double **arr[3] = {&r->P0, &r->P2, &r->P4};
    const char *names[3] = {"P0", "P2", "P4"};
    for (int i = 0; i < 3; i++) {
        CT_CHECK_GOTO(rc, ct_h5_read_doubles(g, names[i], arr[i], &rank, d2));
        if (d2[0] != d[0])
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s/%s has %llu bins, k has %llu", path, group,
                         names[i], (unsigned long long)d2[0], (unsigned long long)d[0]);
    }
    CT_CHECK_GOTO(rc, ct_h5_read_int64s(g, "nmodes", &r->nmodes, &rank, d2));
    if (d2[0] != d[0])
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s/nmodes has the wrong length", path, group);
    r->nbins = (int)d[0];
    long long v;
    char mas[16];
    CT_CHECK_GOTO(rc, ct_h5_read_attr_double(g, "box", &r->box));
    CT_CHECK_GOTO(rc, ct_h5_read_attr_int(g, "grid", &v));
    r->grid = v;
    CT_CHECK_GOTO(rc, ct_h5_read_attr_string(g, "mas", mas, sizeof mas));
    CT_CHECK_GOTO(rc, ct_mas_parse(mas, &r->mas));
    CT_CHECK_GOTO(rc, ct_h5_read_attr_int(g, "interlace", &v));
    r->interlace = (int)v;
    CT_CHECK_GOTO(rc, ct_h5_read_attr_int(g, "los_axis", &v));
    r->axis = (int)v;
    CT_CHECK_GOTO(rc, ct_h5_read_attr_int(g, "cross", &v));
    r->cross = (int)v;
    CT_CHECK_GOTO(rc, ct_h5_read_attr_double(g, "bin_width", &r->bin_width));
    CT_CHECK_GOTO(rc, ct_h5_read_attr_double(g, "nbar", &r->nbar));
    CT_CHECK_GOTO(rc, ct_h5_read_attr_double(g, "shot_noise", &r->shot_noise));
    CT_CHECK_GOTO(rc, ct_h5_read_attr_int(g, "npart", &v));
    r->npart = v;
fail:
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0)
        H5Fclose(f);
    if (rc != CT_OK)
        ct_pk_result_free(r);
    return rc;
}

int ct_summary_kind(const char *path)
{
    int kind = 0;
    if (ct_summary_probe(path, &kind) != CT_OK)
        ct_error_clear();
    return kind;
}

ct_status ct_summary_probe(const char *path, int *kind_out)
{
    hid_t f;
    *kind_out = 0;
    if (!ct_file_exists(path) || H5Fis_hdf5(path) <= 0)
        return CT_OK;
    CT_CHECK(ct_h5_open_ro(path, &f));
    int kind = 0;
    char buf[64] = "";
    if (ct_h5_attr_exists(f, "kind") > 0 && ct_h5_read_attr_string(f, "kind", buf, sizeof buf) == CT_OK) {
        if (!strcmp(buf, CT_SUMMARY_KIND))
            kind = 1;
        else if (!strcmp(buf, CT_SUITE_KIND))
            kind = 2;
    }
    /* a suite table in the released layout (no kind attribute) */
    if (!kind && ct_h5_exists(f, "status") && ct_h5_exists(f, "params"))
        kind = 2;
    ct_error_clear();
    H5Fclose(f);
    *kind_out = kind;
    return CT_OK;
}
