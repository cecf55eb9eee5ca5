/* On-disk cache of bispectrum triangle counts (they depend only on the grid and
 * the shells, and cost as much as one bispectrum to compute). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bk_internal.h"
#include "cosmotl/h5.h"

#define BK_COUNTS_FORMAT "cosmotl bispectrum triangle counts 1"
#define BK_COUNTS_RULE "shell j: floor(|n|/dk + 1/2) = j; closure q1+q2+q3 = 0 mod N"

ct_status ct_bk_counts_path(char **out, const char *dir, long grid, double dk, int nshell)
{
    size_t n = dir ? strlen(dir) : 0;
    return ct_asprintf(out, "%s%sbk_counts_N%ld_dk%g_k%g.h5", n ? dir : "",
                       n && dir[n - 1] != '/' ? "/" : "", grid, dk, nshell * dk);
}

/* Rank-0 part of load: returns CT_OK with *found = 0 on any mismatch. */
static ct_status load_local(const char *path, long grid, double dk, int nshell, int ntri,
                            const int *tri, double *counts, int *found)
{
    ct_status rc = CT_OK;
    hid_t f = -1;
    int64_t *t = NULL;
    double *c = NULL;
    *found = 0;
    if (!ct_file_exists(path))
        return CT_OK;
    char fmt[128] = "";
    long long g = 0, ns = 0;
    double d = 0;
    int rank = 0;
    hsize_t dims[2] = {0, 0}, cd[2] = {0, 0};
    const char *why = NULL;
    ct_h5_quiet();
    if (ct_h5_open_ro(path, &f) != CT_OK || ct_h5_read_attr_string(f, "format", fmt, sizeof fmt) != CT_OK ||
        ct_h5_read_attr_int(f, "grid", &g) != CT_OK || ct_h5_read_attr_double(f, "dk", &d) != CT_OK ||
        ct_h5_read_attr_int(f, "nshell", &ns) != CT_OK ||
        ct_h5_read_int64s(f, "triangles", &t, &rank, dims) != CT_OK ||
        ct_h5_read_doubles(f, "counts", &c, &rank, cd) != CT_OK)
        why = "unreadable or incomplete";
    else if (strcmp(fmt, BK_COUNTS_FORMAT) != 0)
        why = "unknown format";
    else if (g != grid || d != dk || ns != nshell)
        why = "made for other settings";
    else if (dims[0] != (hsize_t)ntri || dims[1] != 3 || cd[0] != (hsize_t)ntri)
        why = "wrong number of triangles";
    else {
        for (int i = 0; i < 3 * ntri && !why; i++)
            if (t[i] != tri[i])
                why = "different triangle order";
        for (int i = 0; i < ntri && !why; i++)
            if (!(c[i] >= 0) || c[i] != floor(c[i]))
                why = "counts are not non-negative integers";
    }
    if (why) {
        ct_error_clear();
        ct_log_rank_msg(CT_LOG_WARN, "%s: triangle-count cache %s; recomputing it", path, why);
    } else {
        memcpy(counts, c, (size_t)ntri * sizeof *counts);
        *found = 1;
    }
    if (f >= 0)
        H5Fclose(f);
    free(t);
    free(c);
    return rc;
}

ct_status ct_bk_counts_load(const char *dir, long grid, double dk, int nshell, int ntri,
                            const int *tri, double *counts, int *found, MPI_Comm comm)
{
    char *path = NULL;
    int me = 0;
    *found = 0;
    MPI_Comm_rank(comm, &me);
    ct_status rc = ct_bk_counts_path(&path, dir, grid, dk, nshell);
    if (rc == CT_OK && me == 0)
        rc = load_local(path, grid, dk, nshell, ntri, tri, counts, found);
    free(path);
    CT_CHECK(ct_agree_msg(comm, rc));
    MPI_Bcast(found, 1, MPI_INT, 0, comm);
    if (*found)
        MPI_Bcast(counts, ntri, MPI_DOUBLE, 0, comm);
    return CT_OK;
}

static ct_status save_local(const char *dir, const char *path, long grid, double dk, int nshell,
                            int ntri, const int *tri, const double *counts)
{
    ct_status rc = CT_OK;
    hid_t f = -1;
    int64_t *t = NULL;
    char *tmp = NULL;
    CT_CHECK(ct_mkdir_p(dir));
    CT_CHECK_GOTO(rc, ct_calloc(&t, (size_t)(3 * ntri), sizeof *t, "triangle table"));
    for (int i = 0; i < 3 * ntri; i++)
        t[i] = tri[i];
    CT_CHECK_GOTO(rc, ct_atomic_begin_alloc(path, &tmp));
    CT_CHECK_GOTO(rc, ct_h5_create(tmp, &f));
    hsize_t dt[2] = {(hsize_t)ntri, 3}, dc[1] = {(hsize_t)ntri};
    CT_CHECK_GOTO(rc, ct_h5_attr_string(f, "format", BK_COUNTS_FORMAT));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(f, "rule", BK_COUNTS_RULE));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(f, "grid", grid));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(f, "dk", dk));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(f, "nshell", nshell));
    CT_CHECK_GOTO(rc, ct_h5_write_int64s(f, "triangles", t, 2, dt));
    CT_CHECK_GOTO(rc, ct_h5_write_doubles(f, "counts", counts, 1, dc));
    if (H5Fclose(f) < 0) {
        f = -1;
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot close (disk full?)", tmp);
    }
    f = -1;
    CT_CHECK_GOTO(rc, ct_atomic_commit(tmp, path));
    free(tmp);
    tmp = NULL;
fail:
    if (f >= 0)
        H5Fclose(f);
    ct_atomic_abort(tmp);
    free(tmp);
    free(t);
    return rc;
}

ct_status ct_bk_counts_save(const char *dir, long grid, double dk, int nshell, int ntri,
                            const int *tri, const double *counts, MPI_Comm comm)
{
    char *path = NULL;
    int me = 0;
    MPI_Comm_rank(comm, &me);
    ct_status rc = ct_bk_counts_path(&path, dir, grid, dk, nshell);
    if (rc == CT_OK && me == 0)
        rc = save_local(dir, path, grid, dk, nshell, ntri, tri, counts);
    free(path);
    CT_CHECK(ct_agree_msg(comm, rc));
    return CT_OK;
}
