/* Suite table from a directory of per-simulation summaries (`cosmotl gather`),
 * and the Quijote parameter-table reader it needs. */
#include <ctype.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/batch.h"
#include "cosmotl/h5.h"
#include "cosmotl/runner.h"
#include "cosmotl/summary.h"
#include "ct_config.h"
#include "summary_private.h"

void ct_gather_settings_defaults(ct_gather_settings *s)
{
    memset(s, 0, sizeof *s);
}

void ct_params_free_names(char **names, int ncol)
{
    if (!names)
        return;
    for (int i = 0; i < ncol; i++)
        free(names[i]);
    free(names);
}

ct_status ct_params_read(const char *path, double **values, int64_t *nrow, int *ncol,
                         char ***names)
{
    ct_param_table t;
    *values = NULL;
    *names = NULL;
    CT_CHECK(ct_param_table_read(path, &t));
    *values = t.v;
    *nrow = t.nrow;
    *ncol = t.ncol;
    *names = t.names;
    return CT_OK;
}

/* ------------------------------------------------------------ gather */

#define MAXLIST 32

typedef struct {
    char *name; /* the group's name in the summaries */
    char table[64];
    int ncommon, nrows, nper;
    char common[MAXLIST][64], rows[MAXLIST][64], per[MAXLIST][64];
    hsize_t nbin;
    /* common datasets of the first simulation (double or int64 by class) */
    double *cd[MAXLIST];
    int64_t *ci[MAXLIST];
    hsize_t clen[MAXLIST];
    double *table_v;            /* nsim x nbin */
    double *rows_v[MAXLIST];    /* nsim x nbin each */
    double *per_v[MAXLIST];     /* nsim each */
    hid_t attrs_src;            /* group in the first file whose attributes are copied */
} gather_group;

/* The names of a gather_* attribute's comma list into out; more than MAXLIST
 * names or a name of 64+ characters is an error (never cut). */
static ct_status split_list(const char *s, char out[MAXLIST][64], int *n, const char *where,
                            const char *attr)
{
    *n = 0;
    while (s && *s) {
        while (*s == ',' || *s == ' ')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, ", ");
        if (*n == MAXLIST)
            CT_FAIL(CT_ERR_UNSUPPORTED, "%s: %s lists more than %d names", where, attr, MAXLIST);
        if (len > 63)
            CT_FAIL(CT_ERR_UNSUPPORTED, "%s: %s has a name of %zu characters (at most 63)", where,
                    attr, len);
        snprintf(out[(*n)++], 64, "%.*s", (int)len, s);
        s += len;
    }
    return CT_OK;
}

static int is_int_dataset(hid_t g, const char *name)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t t = H5Dget_type(d);
    int r = H5Tget_class(t) == H5T_INTEGER;
    H5Tclose(t);
    H5Dclose(d);
    return r;
}

static int parse_index(const char *name, const char *ext, long *idx)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n <= e || strcmp(name + n - e, ext))
        return 0;
    for (size_t i = 0; i < n - e; i++)
        if (!isdigit((unsigned char)name[i]))
            return 0;
    *idx = strtol(name, NULL, 10);
    return 1;
}

/* Values of one simulation in one group: the table row, each extra row, the
 * per-simulation values. */
static size_t group_values(const gather_group *G)
{
    return (size_t)G->nbin * (1 + (size_t)G->nrows) + (size_t)G->nper;
}

/* Read one group of a simulation into row (group_values long); returns a reason
 * on mismatch. */
static ct_status gather_one(hid_t f, gather_group *G, double *row, const char *path)
{
    ct_status rc = CT_OK;
    hid_t g = -1;
    double *v = NULL;
    int64_t *iv = NULL;
    int rank;
    hsize_t d[2];
    if (!ct_h5_exists(f, G->name))
        CT_FAIL(CT_ERR_FORMAT, "%s: no group /%s", path, G->name);
    g = H5Gopen2(f, G->name, H5P_DEFAULT);
    /* settings that define the statistic must agree with the first simulation
     * (float32 and shell_float32 exist only on float32 summaries: a table does
     * not mix precisions) */
    static const char *must[] = {"grid",    "box",     "mas",     "interlace",    "rsd",
                                 "bin_width", "species", "float32", "shell_float32"};
    for (size_t a = 0; a < sizeof must / sizeof must[0]; a++) {
        int e1 = ct_h5_attr_exists(G->attrs_src, must[a]), e2 = ct_h5_attr_exists(g, must[a]);
        if (e1 < 0 || e2 < 0)
            CT_CHECK_GOTO(rc, ct_error_status());
        if (e1 != e2)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s attribute %s differs from the first summary",
                         path, G->name, must[a]);
        if (!e1)
            continue;
        char s1[256], s2[256];
        if (ct_h5_read_attr_string(G->attrs_src, must[a], s1, sizeof s1) == CT_OK &&
            ct_h5_read_attr_string(g, must[a], s2, sizeof s2) == CT_OK) {
            if (strcmp(s1, s2))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s %s = %s, the first summary has %s",
                             path, G->name, must[a], s2, s1);
            continue;
        }
        ct_error_clear();
        double x1, x2;
        CT_CHECK_GOTO(rc, ct_h5_read_attr_double(G->attrs_src, must[a], &x1));
        CT_CHECK_GOTO(rc, ct_h5_read_attr_double(g, must[a], &x2));
        if (x1 != x2)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s %s = %g, the first summary has %g", path,
                         G->name, must[a], x2, x1);
    }
    for (int c = 0; c < G->ncommon; c++) {
        if (G->ci[c]) {
            CT_CHECK_GOTO(rc, ct_h5_read_int64s(g, G->common[c], &iv, &rank, d));
            if (d[0] != G->clen[c] || memcmp(iv, G->ci[c], sizeof(int64_t) * d[0]))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s/%s differs from the first summary", path,
                             G->name, G->common[c]);
            free(iv);
            iv = NULL;
        } else {
            CT_CHECK_GOTO(rc, ct_h5_read_doubles(g, G->common[c], &v, &rank, d));
            int same = d[0] == G->clen[c];
            for (hsize_t j = 0; same && j < d[0]; j++)
                same = fabs(v[j] - G->cd[c][j]) <= 1e-12 * fabs(G->cd[c][j]);
            if (!same)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s/%s differs from the first summary", path,
                             G->name, G->common[c]);
            free(v);
            v = NULL;
        }
    }
    for (int r = -1; r < G->nrows; r++) {
        const char *nm = r < 0 ? G->table : G->rows[r];
        double *dst = row + (size_t)(r + 1) * G->nbin;
        CT_CHECK_GOTO(rc, ct_h5_read_doubles(g, nm, &v, &rank, d));
        if (d[0] != G->nbin || (rank == 2 && d[1] != 1))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /%s/%s has %llu values, expected %llu", path,
                         G->name, nm, (unsigned long long)d[0], (unsigned long long)G->nbin);
        memcpy(dst, v, sizeof(double) * G->nbin);
        free(v);
        v = NULL;
    }
    for (int p = 0; p < G->nper; p++)
        CT_CHECK_GOTO(rc, ct_h5_read_attr_double(g, G->per[p],
                                                 &row[(1 + (size_t)G->nrows) * G->nbin + p]));
fail:
    free(v);
    free(iv);
    if (g >= 0)
        H5Gclose(g);
    return rc;
}

static herr_t copy_attr(hid_t loc, const char *name, const H5A_info_t *info, void *dst_)
{
    (void)info;
    hid_t dst = *(hid_t *)dst_;
    if (!strncmp(name, "gather_", 7))
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    /* only what summaries hold (numbers and strings, a few values): a crafted
     * type or a huge extent is refused before H5Aread converts it */
    H5T_class_t cl = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    hid_t mt = (cl == H5T_INTEGER || cl == H5T_FLOAT || cl == H5T_STRING) && np >= 0 &&
                       np <= 65536 && H5Tget_size(t) <= 65536
                   ? H5Tget_native_type(t, H5T_DIR_DEFAULT)
                   : -1;
    size_t sz = mt >= 0 ? H5Tget_size(mt) * (size_t)(np > 0 ? np : 1) : 0;
    /* variable-length strings: their heap checked first (HDF5 1.10.8 can loop) */
    if (mt >= 0 && H5Tis_variable_str(t) > 0 && ct_h5_check_heaps(loc) != CT_OK) {
        H5Tclose(mt);
        mt = -1;
    }
    void *buf = mt >= 0 ? calloc(1, sz + 16) : NULL;
    herr_t e = -1;
    if (buf && H5Aread(a, mt, buf) >= 0) {
        hid_t b = H5Acreate2(dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (b >= 0) {
            e = H5Awrite(b, mt, buf);
            H5Aclose(b);
        }
        if (H5Tis_variable_str(t) > 0)
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
    }
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    return e < 0 ? -1 : 0;
}

/* What reading summary i hands to rank 0 through the runner: its state (0
 * missing, 1 present, 2 failed; 8 bytes, keeping the values aligned) and its
 * values (group_values of each group, in group order). A failure's reason
 * stays on the rank that read the summary (reason[i]) and goes to rank 0 alone
 * afterwards (gather_reasons), only the bytes it has. */
typedef struct {
    const char *dir;
    gather_group *G;
    int ng;
    char **reason; /* per item, set by the rank that read it when it failed */
} gather_job;

static ct_status gather_item(int64_t i, MPI_Comm group, void *user, void *result)
{
    (void)group;
    const gather_job *j = user;
    unsigned char *state = result;
    double *vals = (double *)((char *)result + 8);
    char *f = NULL;
    CT_CHECK(ct_asprintf(&f, "%s/%lld.h5", j->dir, (long long)i));
    if (ct_file_exists(f)) {
        hid_t h = -1;
        ct_status st = ct_summary_kind(f) == 1 ? ct_h5_open_ro(f, &h)
                                               : ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                                                              "%s: not a cosmotl summary", f);
        size_t off = 0;
        for (int q = 0; q < j->ng && st == CT_OK; q++) {
            st = gather_one(h, &j->G[q], vals + off, f);
            off += group_values(&j->G[q]);
        }
        if (h >= 0)
            H5Fclose(h);
        *state = st == CT_OK ? 1 : 2;
        if (st != CT_OK) {
            j->reason[i] = strdup(ct_error_message());
            ct_error_clear();
            if (!j->reason[i]) {
                free(f);
                CT_FAIL(CT_ERR_MEMORY, "out of memory");
            }
        }
    }
    free(f);
    return CT_OK;
}

/* Rank 0 receives the reasons of the failed items read on other ranks: each
 * rank sends its own, in item order, each with its terminating zero, and rank 0
 * places them in item order from the rank that read each one (groups of one
 * rank: group g is rank g). reason[] holds each rank's own on entry and, on
 * rank 0, all of them on return. Collective over comm. */
static ct_status gather_reasons(char **reason, const ct_runner_report *rep, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_status rc = CT_OK;
    char *buf = NULL;
    int64_t len = 0, *lens = NULL;
    const size_t chunk = (size_t)1 << 30;
    if (size == 1)
        return CT_OK;
    if (rank != 0) {
        for (int64_t i = 0; i < rep->n_items; i++)
            if (reason[i])
                len += (int64_t)strlen(reason[i]) + 1;
        rc = ct_calloc(&buf, (size_t)len + 1, 1, "failure reasons");
        for (int64_t i = 0, off = 0; rc == CT_OK && i < rep->n_items; i++)
            if (reason[i]) {
                size_t n = strlen(reason[i]) + 1;
                memcpy(buf + off, reason[i], n);
                off += (int64_t)n;
            }
    } else {
        rc = ct_calloc(&lens, (size_t)size, sizeof(int64_t), "failure reasons");
    }
    MPI_Gather(&len, 1, MPI_INT64_T, lens, 1, MPI_INT64_T, 0, comm);
    if (rank == 0 && rc == CT_OK) {
        int64_t total = 0;
        for (int r = 1; r < size; r++)
            total += lens[r];
        rc = ct_calloc(&buf, (size_t)total + 1, 1, "failure reasons");
    }
    /* every buffer exists before a byte moves: no send waits on a failed rank */
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    if (rank != 0) {
        for (size_t off = 0; off < (size_t)len; off += chunk) {
            size_t m = (size_t)len - off < chunk ? (size_t)len - off : chunk;
            MPI_Send(buf + off, (int)m, MPI_CHAR, 0, 0, comm);
        }
        goto fail;
    }
    size_t at = 0;
    for (int r = 1; r < size; at += (size_t)lens[r], r++)
        for (size_t off = 0; off < (size_t)lens[r]; off += chunk) {
            size_t m = (size_t)lens[r] - off < chunk ? (size_t)lens[r] - off : chunk;
            MPI_Recv(buf + at + off, (int)m, MPI_CHAR, r, 0, comm, MPI_STATUS_IGNORE);
        }
    at = 0;
    for (int r = 1; r < size; at += (size_t)lens[r], r++) {
        int64_t off = 0;
        for (int64_t i = 0; i < rep->n_items; i++) {
            const unsigned char *res =
                (const unsigned char *)rep->results + (size_t)i * rep->result_size;
            if (res[0] != 2 || rep->group[i] != r)
                continue;
            if (off >= lens[r])
                CT_FAIL_GOTO(rc, CT_ERR_MPI,
                             "gather: rank %d sent fewer failure reasons than it had failures", r);
            reason[i] = strdup(buf + at + off);
            if (!reason[i])
                CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");
            off += (int64_t)strlen(buf + at + off) + 1;
        }
    }
fail:
    free(lens);
    free(buf);
    return rc;
}

/* Every rank lists the folder, reads the parameter table and the first summary
 * (the groups); the runner hands the summaries out to the ranks; rank 0 places
 * the rows in simulation order and writes the table. */
static ct_status gather_run(const char *dir, const char *out, const ct_gather_settings *s,
                            MPI_Comm comm)
{
    int crank;
    MPI_Comm_rank(comm, &crank);
    ct_runner *runner = NULL;
    ct_runner_report rep;
    memset(&rep, 0, sizeof rep);
    int agreed = 0; /* every rank passes the agreement on the set-up once */
    ct_status rc = CT_OK;
    DIR *dp = NULL;
    double *params = NULL;
    char **pnames = NULL;
    int npar = 0;
    int64_t nsim = 0;
    unsigned char *status = NULL;
    char **reason = NULL;
    gather_group *G = NULL; /* the statistic groups, as many as the first summary has */
    int ng = 0, cap_g = 0;
    hid_t first = -1, of = -1;
    long *present = NULL;
    size_t npresent = 0, cap_present = 0;
    char *tmp = NULL, *ppath = NULL, *f = NULL; /* f: the summary being read */
    ct_manifest_entry *ment = NULL;
    size_t nment = 0;

    if (!ct_dir_exists(dir))
        CT_FAIL(CT_ERR_IO, "%s: no such directory", dir);
    dp = opendir(dir);
    if (!dp)
        CT_FAIL(CT_ERR_IO, "%s: cannot list directory", dir);
    for (struct dirent *e; (e = readdir(dp));) {
        long idx;
        if (parse_index(e->d_name, ".h5", &idx)) {
            if (npresent == cap_present) {
                cap_present = cap_present ? 2 * cap_present : 256;
                long *t = realloc(present, sizeof(long) * cap_present);
                if (!t)
                    CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");
                present = t;
            }
            present[npresent++] = idx;
        }
    }
    closedir(dp);
    dp = NULL;

    /* parameter table */
    if (s && s->params) {
        CT_CHECK_GOTO(rc, ct_asprintf(&ppath, "%s", s->params));
    } else {
        CT_CHECK_GOTO(rc, ct_asprintf(&ppath, "%s/params.txt", dir));
        if (!ct_file_exists(ppath) && npresent > 0) {
            /* the suite directory recorded by summarize (a realpath: it fits
             * PATH_MAX; longer is an error of ct_h5_read_attr_string, ignored
             * with an unreadable file: then the table is not found) */
            char sd[PATH_MAX] = "";
            hid_t h;
            CT_CHECK_GOTO(rc, ct_asprintf(&f, "%s/%ld.h5", dir, present[0]));
            if (ct_h5_open_ro(f, &h) == CT_OK) {
                if (ct_h5_attr_exists(h, "suite_dir") > 0 &&
                    ct_h5_read_attr_string(h, "suite_dir", sd, sizeof sd) != CT_OK)
                    sd[0] = 0;
                H5Fclose(h);
            }
            ct_error_clear();
            if (sd[0]) {
                free(ppath);
                CT_CHECK_GOTO(rc, ct_asprintf(&ppath, "%s/params.txt", sd));
            }
        }
    }
    if (!ct_file_exists(ppath))
        CT_FAIL_GOTO(rc, CT_ERR_IO,
                     "%s: parameter table not found (pass --params FILE; row i is simulation i)",
                     ppath);
    CT_CHECK_GOTO(rc, ct_params_read(ppath, &params, &nsim, &npar, &pnames));
    for (size_t q = 0; q < npresent; q++)
        if (present[q] >= nsim)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s/%ld.h5: no row %ld in %s (%lld rows)", dir,
                         present[q], present[q], ppath, (long long)nsim);
    CT_CHECK_GOTO(rc, ct_calloc(&status, (size_t)nsim, 1, "status"));
    CT_CHECK_GOTO(rc, ct_calloc(&reason, (size_t)nsim, sizeof(char *), "status reasons"));

    /* the first readable summary defines the groups */
    long first_idx = -1;
    for (size_t q = 0; q < npresent; q++)
        if (first_idx < 0 || present[q] < first_idx)
            first_idx = present[q];
    if (first_idx < 0)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: no summaries (<i>.h5) to gather", dir);
    {
        free(f);
        CT_CHECK_GOTO(rc, ct_asprintf(&f, "%s/%ld.h5", dir, first_idx));
        if (ct_summary_kind(f) != 1)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: not a cosmotl summary file", f);
        CT_CHECK_GOTO(rc, ct_h5_open_ro(f, &first));
        hsize_t nobj = 0;
        H5Gget_num_objs(first, &nobj);
        for (hsize_t o = 0; o < nobj; o++) {
            ssize_t gl = H5Gget_objname_by_idx(first, o, NULL, 0);
            char *gname = gl >= 0 ? malloc((size_t)gl + 1) : NULL;
            if (!gname)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: cannot list its groups", f);
            H5Gget_objname_by_idx(first, o, gname, (size_t)gl + 1);
            hid_t g = H5Gopen2(first, gname, H5P_DEFAULT);
            if (g < 0) {
                free(gname);
                continue;
            }
            int ex = ct_h5_attr_exists(g, "gather_table");
            if (ex <= 0) {
                H5Gclose(g);
                free(gname);
                if (ex < 0)
                    CT_CHECK_GOTO(rc, ct_error_status());
                continue;
            }
            if (ng == cap_g) {
                int nc = cap_g ? 2 * cap_g : 8;
                gather_group *t = realloc(G, sizeof *G * (size_t)nc);
                if (!t) {
                    H5Gclose(g);
                    free(gname);
                    CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");
                }
                G = t;
                cap_g = nc;
            }
            gather_group *q = &G[ng++];
            memset(q, 0, sizeof *q);
            q->attrs_src = g;
            q->name = gname;
            char buf[2048];
            CT_CHECK_GOTO(rc, ct_h5_read_attr_string(g, "gather_table", q->table, sizeof q->table));
            buf[0] = 0;
            if (ct_h5_attr_exists(g, "gather_common") > 0)
                CT_CHECK_GOTO(rc, ct_h5_read_attr_string(g, "gather_common", buf, sizeof buf));
            CT_CHECK_GOTO(rc, split_list(buf, q->common, &q->ncommon, f, "gather_common"));
            buf[0] = 0;
            if (ct_h5_attr_exists(g, "gather_rows") > 0)
                CT_CHECK_GOTO(rc, ct_h5_read_attr_string(g, "gather_rows", buf, sizeof buf));
            CT_CHECK_GOTO(rc, split_list(buf, q->rows, &q->nrows, f, "gather_rows"));
            buf[0] = 0;
            if (ct_h5_attr_exists(g, "gather_per_sim") > 0)
                CT_CHECK_GOTO(rc, ct_h5_read_attr_string(g, "gather_per_sim", buf, sizeof buf));
            CT_CHECK_GOTO(rc, split_list(buf, q->per, &q->nper, f, "gather_per_sim"));
            int rank;
            hsize_t d[2];
            double *tv = NULL;
            CT_CHECK_GOTO(rc, ct_h5_read_doubles(g, q->table, &tv, &rank, d));
            free(tv);
            q->nbin = d[0];
            for (int c = 0; c < q->ncommon; c++) {
                if (is_int_dataset(g, q->common[c]))
                    CT_CHECK_GOTO(rc, ct_h5_read_int64s(g, q->common[c], &q->ci[c], &rank, d));
                else
                    CT_CHECK_GOTO(rc, ct_h5_read_doubles(g, q->common[c], &q->cd[c], &rank, d));
                q->clen[c] = d[0];
            }
            if (crank != 0)
                continue; /* the table is assembled on rank 0 */
            size_t cells = (size_t)nsim * q->nbin;
            CT_CHECK_GOTO(rc, ct_calloc(&q->table_v, cells + 1, sizeof(double), "suite table"));
            for (size_t j = 0; j < cells; j++)
                q->table_v[j] = NAN;
            for (int r = 0; r < q->nrows; r++) {
                CT_CHECK_GOTO(rc, ct_calloc(&q->rows_v[r], cells + 1, sizeof(double), "suite table"));
                for (size_t j = 0; j < cells; j++)
                    q->rows_v[r][j] = NAN;
            }
            for (int p = 0; p < q->nper; p++) {
                CT_CHECK_GOTO(rc, ct_calloc(&q->per_v[p], (size_t)nsim, sizeof(double), "suite table"));
                for (int64_t j = 0; j < nsim; j++)
                    q->per_v[p][j] = NAN;
            }
        }
        if (ng == 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no statistic groups to gather", f);
    }

    /* every simulation, read by the rank that takes it (the ranks agree on the
     * set-up first: each read it alike) */
    agreed = 1;
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    {
        ct_runner_settings rs;
        ct_runner_settings_defaults(&rs);
        rs.group_size = 1;
        /* summaries cost alike; item i on rank i % size also makes every rank's
         * share known, so the tests on several ranks always cross ranks */
        rs.schedule = CT_RUN_ROUND_ROBIN;
        size_t nvals = 0;
        for (int q = 0; q < ng; q++)
            nvals += group_values(&G[q]);
        gather_job job = {.dir = dir, .G = G, .ng = ng, .reason = reason};
        ct_runner_job rj = {.n_items = nsim, .run = gather_item, .user = &job,
                            .result_size = 8 + sizeof(double) * nvals};
        CT_CHECK_GOTO(rc, ct_runner_create(&runner, &rs, comm));
        rc = ct_runner_run(runner, &rj, &rep);
        ct_runner_destroy(&runner);
        CT_CHECK_GOTO(rc, rc);
        if (rep.n_failed > 0)
            CT_FAIL_GOTO(rc, rep.first_status, "%s", rep.first_error);
        CT_CHECK_GOTO(rc, gather_reasons(reason, &rep, comm));
    }
    if (crank != 0)
        goto fail; /* done: rank 0 writes */

    /* failure reasons recorded by summarize */
    CT_CHECK_GOTO(rc, ct_manifest_read(dir, &ment, &nment));
    for (int64_t i = 0; i < nsim; i++) {
        const char *res = (const char *)rep.results + (size_t)i * rep.result_size;
        const double *vals = (const double *)(res + 8);
        if (res[0] == 1) {
            status[i] = 1;
            for (int q = 0; q < ng; q++) {
                gather_group *g = &G[q];
                size_t nb = g->nbin;
                memcpy(g->table_v + (size_t)i * nb, vals, sizeof(double) * nb);
                for (int r = 0; r < g->nrows; r++)
                    memcpy(g->rows_v[r] + (size_t)i * nb, vals + (size_t)(r + 1) * nb,
                           sizeof(double) * nb);
                for (int p = 0; p < g->nper; p++)
                    g->per_v[p][i] = vals[(1 + (size_t)g->nrows) * nb + p];
                vals += group_values(g);
            }
        } else if (res[0] == 2) {
            /* the row stays NaN: a half-read row must not look valid */
            status[i] = 2; /* reason[i] came from the rank that read it */
            ct_warn("gather: simulation %lld failed: %s", (long long)i, reason[i]);
        } else {
            char item[32];
            snprintf(item, sizeof item, "%lld", (long long)i);
            const ct_manifest_entry *e = ct_manifest_find(ment, nment, item);
            if (e && e->state == CT_ITEM_FAILED) {
                status[i] = 2;
                reason[i] = strdup(e->error[0] ? e->error : "failed");
            } else if (e && e->state == CT_ITEM_RUNNING) {
                reason[i] = strdup("missing (interrupted while running)");
            }
        }
    }

    /* write */
    /* f: a copy for dirname and basename (they may modify it) */
    free(f);
    CT_CHECK_GOTO(rc, ct_asprintf(&f, "%s", out));
    CT_CHECK_GOTO(rc, ct_mkdir_p(dirname(f)));
    CT_CHECK_GOTO(rc, ct_atomic_begin_alloc(out, &tmp));
    CT_CHECK_GOTO(rc, ct_h5_mem_create(&of));
    {
        free(f);
        CT_CHECK_GOTO(rc, ct_asprintf(&f, "%s", dir));
        size_t L = strlen(f);
        while (L > 1 && f[L - 1] == '/')
            f[--L] = 0;
        char *src = NULL;
        CT_CHECK_GOTO(rc, ct_asprintf(&src, "cosmotl %s gather of %s (parameters %s)", CT_VERSION,
                                      dir, ppath));
        rc = ct_h5_attr_vstr(of, "source", src);
        free(src);
        CT_CHECK_GOTO(rc, rc);
        CT_CHECK_GOTO(rc, ct_h5_attr_vstr(of, "suite", s && s->suite ? s->suite : basename(f)));
        CT_CHECK_GOTO(rc, ct_h5_attr_vstr(of, "kind", CT_SUITE_KIND));
    }
    {
        hsize_t d[2] = {(hsize_t)nsim, (hsize_t)npar};
        CT_CHECK_GOTO(rc, ct_h5_write_doubles(of, "params", params, 2, d));
        hid_t ds = H5Dopen2(of, "params", H5P_DEFAULT);
        ct_status st = ct_h5_vstr_array(ds, "names", (const char *const *)pnames, (size_t)npar, 1);
        H5Dclose(ds);
        CT_CHECK_GOTO(rc, st);
    }
    for (int q = 0; q < ng; q++) {
        hid_t g;
        CT_CHECK_GOTO(rc, ct_h5_group(of, G[q].name, &g));
        if (H5Aiterate2(G[q].attrs_src, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attr, &g) < 0) {
            H5Gclose(g);
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot copy attributes of /%s", out, G[q].name);
        }
        /* per-simulation attributes are datasets here, not attributes */
        for (int p = 0; p < G[q].nper; p++)
            if (H5Aexists(g, G[q].per[p]) > 0)
                H5Adelete(g, G[q].per[p]);
        hsize_t d2[2] = {(hsize_t)nsim, G[q].nbin}, d1[1] = {(hsize_t)nsim};
        ct_status st = ct_h5_write_doubles(g, "P", G[q].table_v, 2, d2);
        for (int c = 0; st == CT_OK && c < G[q].ncommon; c++) {
            hsize_t dc[1] = {G[q].clen[c]};
            st = G[q].ci[c] ? ct_h5_write_int64s(g, G[q].common[c], G[q].ci[c], 1, dc)
                            : ct_h5_write_doubles(g, G[q].common[c], G[q].cd[c], 1, dc);
        }
        for (int r = 0; st == CT_OK && r < G[q].nrows; r++)
            st = ct_h5_write_doubles(g, G[q].rows[r], G[q].rows_v[r], 2, d2);
        for (int p = 0; st == CT_OK && p < G[q].nper; p++)
            st = ct_h5_write_doubles(g, G[q].per[p], G[q].per_v[p], 1, d1);
        H5Gclose(g);
        CT_CHECK_GOTO(rc, st);
    }
    {
        hsize_t d[1] = {(hsize_t)nsim};
        hid_t sp = H5Screate_simple(1, d, NULL);
        hid_t dcpl = ct_h5_dcpl();
        hid_t ds = H5Dcreate2(of, "status", H5T_STD_U8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Pclose(dcpl);
        herr_t e = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, status);
        ct_status st = e < 0 ? ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot write /status", out)
                             : ct_h5_attr_vstr(ds, "meaning",
                                               "1 = present, 0 = missing, 2 = failed (see status_reason)");
        if (ds >= 0)
            H5Dclose(ds);
        H5Sclose(sp);
        CT_CHECK_GOTO(rc, st);
        for (int64_t i = 0; i < nsim; i++)
            if (!reason[i]) {
                reason[i] = strdup(status[i] == 1 ? "" : "missing");
                if (!reason[i])
                    CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "out of memory");
            }
        CT_CHECK_GOTO(rc, ct_h5_vstr_array(of, "status_reason", (const char *const *)reason,
                                           (size_t)nsim, 0));
    }
    {
        hid_t img = of;
        of = -1; /* closed by the save in every case */
        CT_CHECK_GOTO(rc, ct_h5_mem_save(img, tmp, out));
    }
    free(tmp);
    tmp = NULL;
    {
        int64_t np = 0, nf = 0;
        for (int64_t i = 0; i < nsim; i++) {
            np += status[i] == 1;
            nf += status[i] == 2;
        }
        ct_info("gather: %s: %lld simulations, %lld present, %lld failed, %lld missing", out,
                (long long)nsim, (long long)np, (long long)nf, (long long)(nsim - np - nf));
    }
fail:
    if (!agreed)
        ct_agree_msg(comm, rc);
    ct_runner_report_free(&rep);
    ct_runner_destroy(&runner);
    if (of >= 0)
        H5Fclose(of);
    ct_atomic_abort(tmp);
    free(tmp);
    free(ppath);
    free(f);
    if (dp)
        closedir(dp);
    for (int q = 0; q < ng; q++) {
        if (G[q].attrs_src >= 0)
            H5Gclose(G[q].attrs_src);
        for (int c = 0; c < MAXLIST; c++) {
            free(G[q].cd[c]);
            free(G[q].ci[c]);
            free(G[q].rows_v[c]);
            free(G[q].per_v[c]);
        }
        free(G[q].table_v);
        free(G[q].name);
    }
    free(G);
    if (first >= 0)
        H5Fclose(first);
    if (reason)
        for (int64_t i = 0; i < nsim; i++)
            free(reason[i]);
    free(reason);
    free(status);
    free(params);
    free(present);
    ct_free(&ment);
    ct_params_free_names(pnames, npar);
    return rc;
}

ct_status ct_summary_gather(const char *dir, const char *out, const ct_gather_settings *s,
                            MPI_Comm comm)
{
    CT_CHECK(ct_agree_msg(comm, gather_run(dir, out, s, comm)));
    return CT_OK;
}
