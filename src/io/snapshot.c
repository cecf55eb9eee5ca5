/* Snapshot reading: resolve a path to its set of files, check every header on
 * rank 0, broadcast what was learnt, then let each rank read its own contiguous
 * slice of the global particle list straight from the files it overlaps. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdarg.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cosmotl/h5.h"
#include "snapshot_internal.h"

static const char *type_names[6] = {"gas", "CDM", "neutrinos", "type 3", "stars",
                                    "type 5"};

void ct_read_settings_defaults(ct_read_settings *s)
{
    memset(s, 0, sizeof *s);
    s->read_vel = 1;
    s->read_id = 1;
    s->bounds = CT_BOUNDS_ERROR;
    s->tolerance = CT_POS_WRAP_TOLERANCE;
    s->threads = 1;
}

void ct_particles_free(ct_particles *p)
{
    if (!p)
        return;
    free(p->pos);
    free(p->vel);
    free(p->id);
    free(p->mass);
    memset(p, 0, sizeof *p);
}

void ct_partition_range(int64_t n, int nparts, int part, int64_t *first, int64_t *count)
{
    int64_t base = n / nparts, extra = n % nparts;
    *first = part * base + (part < extra ? part : extra);
    *count = base + (part < extra ? 1 : 0);
}

const char *ct_snapshot_format_name(ct_snapshot_format f)
{
    switch (f) {
    case CT_SNAP_HDF5: return "Gadget HDF5";
    case CT_SNAP_GADGET1: return "Gadget binary format I";
    case CT_SNAP_GADGET2: return "Gadget binary format II";
    }
    return "unknown";
}

/* ------------------------------------------------------------ path resolution */

ct_status ct_snap_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        CT_FAIL(CT_ERR_ARG, "path too long: %.200s...", out);
    return CT_OK;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* "name.<digits>" + ext at the end? Writes the base (without .<digits>ext). */
static int numbered(const char *name, const char *ext, char *base, size_t cap)
{
    size_t n = strlen(name), m = strlen(ext);
    if (n <= m || strcmp(name + n - m, ext))
        return 0;
    size_t end = n - m, i = end;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
        i--;
    if (i == end || i < 2 || name[i - 1] != '.')
        return 0;
    if (base)
        snprintf(base, cap, "%.*s", (int)(i - 1), name);
    return 1;
}

typedef struct {
    ct_snapshot_format kind; /* CT_SNAP_HDF5 or CT_SNAP_GADGET1 (binary, either) */
    int multi;               /* files are base.<i>ext */
    char base[CT_SNAP_PATH_CAP];
    char ext[16];            /* ".hdf5", ".h5" or "" */
    char first[CT_SNAP_PATH_CAP];
} snap_files;

/* Classify one existing regular file. */
static ct_status classify_file(const char *path, snap_files *sf)
{
    memset(sf, 0, sizeof *sf);
    snprintf(sf->first, sizeof sf->first, "%s", path);
    if (ct_gadget_sniff(path)) {
        sf->kind = CT_SNAP_GADGET1;
        sf->multi = numbered(path, "", sf->base, sizeof sf->base);
        return CT_OK;
    }
    htri_t h = H5Fis_hdf5(path);
    const char *exts[] = {".hdf5", ".h5"};
    if (h > 0) {
        sf->kind = CT_SNAP_HDF5;
        for (int i = 0; i < 2; i++)
            if (numbered(path, exts[i], sf->base, sizeof sf->base)) {
                sf->multi = 1;
                snprintf(sf->ext, sizeof sf->ext, "%s", exts[i]);
            }
        return CT_OK;
    }
    if (ends_with(path, ".hdf5") || ends_with(path, ".h5"))
        CT_FAIL(CT_ERR_FORMAT, "%s: not a readable HDF5 file (truncated or corrupt)", path);
    CT_FAIL(CT_ERR_UNSUPPORTED, "%s: not a snapshot (neither Gadget HDF5 nor Gadget binary)",
            path);
}

/* A directory: snapdir_XXX/snap_XXX.<i>.hdf5, a single file, or binary files. */
static ct_status classify_dir(const char *dir, snap_files *sf)
{
    char cand[3][CT_SNAP_PATH_CAP], pref[3][CT_SNAP_PATH_CAP], orphan[CT_SNAP_PATH_CAP] = "";
    int ncand[3] = {0, 0, 0}, npref[3] = {0, 0, 0}; /* multi HDF5, single HDF5, binary */
    char preferred[300] = "";
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    const char *slash = dl ? memrchr(dir, '/', dl) : NULL;
    const char *dname = slash ? slash + 1 : dir;
    int dnl = (int)(dir + dl - dname);
    if (dnl > 8 && !strncmp(dname, "snapdir_", 8))
        snprintf(preferred, sizeof preferred, "snap_%.*s.", dnl - 8, dname + 8);

    DIR *d = opendir(dir);
    if (!d)
        CT_FAIL(CT_ERR_IO, "%s: cannot read directory", dir);
    struct dirent *e;
    char path[CT_SNAP_PATH_CAP];
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] == '.')
            continue; /* hidden: temporary files of an unfinished write */
        snprintf(path, sizeof path, "%.*s/%s", (int)dl, dir, n);
        if (!is_file(path))
            continue;
        int k = -1;
        if (ends_with(n, ".0.hdf5") || ends_with(n, ".0.h5"))
            k = 0;
        else if (ends_with(n, ".hdf5") || ends_with(n, ".h5")) {
            if (!numbered(n, ".hdf5", NULL, 0) && !numbered(n, ".h5", NULL, 0))
                k = 1;
            else if (!orphan[0])
                numbered(n, ends_with(n, ".h5") ? ".h5" : ".hdf5", orphan, sizeof orphan);
        } else if (ends_with(n, ".0") || !strchr(n, '.')) {
            if (ct_gadget_sniff(path))
                k = 2;
        }
        if (k < 0)
            continue;
        /* the file named after the folder wins over other candidates */
        if (preferred[0] && !strncmp(n, preferred, strlen(preferred)) && !npref[k]) {
            snprintf(pref[k], sizeof pref[k], "%s", path);
            npref[k] = 1;
        }
        if (ncand[k]++ == 0)
            snprintf(cand[k], sizeof cand[k], "%s", path);
    }
    closedir(d);
    for (int k = 0; k < 3; k++) {
        if (npref[k])
            return classify_file(pref[k], sf);
        if (ncand[k] == 0)
            continue;
        if (ncand[k] > 1)
            CT_FAIL(CT_ERR_FORMAT,
                    "%s: several snapshots in this directory (e.g. %s); name one file", dir,
                    cand[k]);
        return classify_file(cand[k], sf);
    }
    if (orphan[0])
        CT_FAIL(CT_ERR_IO, "%.*s/%s.0.hdf5: missing file 0 of multi-file snapshot %s",
                (int)dl, dir, orphan, orphan);
    CT_FAIL(CT_ERR_UNSUPPORTED,
            "%s: not a snapshot (directory holds no snap_*.hdf5 or Gadget binary files)",
            dir);
}

static ct_status classify(const char *path, snap_files *sf)
{
    if (is_dir(path))
        return classify_dir(path, sf);
    if (is_file(path))
        return classify_file(path, sf);
    /* a base name: snap_004 -> snap_004.hdf5, snap_004.0.hdf5, snap_004.0 */
    const char *tries[] = {".hdf5", ".0.hdf5", ".h5", ".0.h5", ".0"};
    char p[CT_SNAP_PATH_CAP];
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, tries[i]);
        if (is_file(p))
            return classify_file(p, sf);
    }
    CT_FAIL(CT_ERR_IO, "%s: no such file or directory", path);
}

static int same_double(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

/* The first difference between two headers (NULL if none). */
static const char *header_diff(const ct_snapshot_header *a, const ct_snapshot_header *b)
{
    if (!same_double(a->box, b->box))
        return "BoxSize";
    if (!same_double(a->unit_length_mpc, b->unit_length_mpc))
        return "UnitLength_in_cm";
    if (!same_double(a->time, b->time))
        return "Time";
    if (!same_double(a->redshift, b->redshift))
        return "Redshift";
    if (!same_double(a->omega_m, b->omega_m))
        return "Omega0";
    if (!same_double(a->omega_l, b->omega_l))
        return "OmegaLambda";
    if (!same_double(a->hubble, b->hubble))
        return "HubbleParam";
    for (int t = 0; t < 6; t++) {
        if (!same_double(a->mass_table[t], b->mass_table[t]))
            return "MassTable";
        if (a->npart_total[t] != b->npart_total[t])
            return "NumPart_Total/NumPart_Total_HighWord";
    }
    if (a->nfiles != b->nfiles)
        return "NumFilesPerSnapshot";
    if (a->flag_double != b->flag_double)
        return "Flag_DoublePrecision";
    return NULL;
}

static ct_status scan_file(const char *path, ct_snapshot_format kind, ct_snapshot_header *h,
                           double *box_file, ct_snapfile *f, ct_snapshot_format *fmt)
{
    memset(f, 0, sizeof *f);
    if (kind == CT_SNAP_HDF5) {
        *fmt = CT_SNAP_HDF5;
        return ct_h5snap_scan(path, h, box_file, f);
    }
    return ct_gadget_scan(path, h, box_file, f, fmt);
}

/* Rank 0: find and check every file. */
static ct_status open_root(ct_snapshot *s, const char *path)
{
    ct_status rc = CT_OK;
    snap_files sf;
    ct_snapfile f0;
    ct_snapshot_header h0;
    double box0;
    CT_CHECK(classify(path, &sf));
    CT_CHECK(scan_file(sf.first, sf.kind, &h0, &box0, &f0, &s->format));
    int nfiles = h0.nfiles;
    if (nfiles < 1)
        CT_FAIL(CT_ERR_FORMAT, "%s: NumFilesPerSnapshot = %d (must be at least 1)", sf.first,
                nfiles);
    if (!sf.multi && nfiles != 1)
        CT_FAIL(CT_ERR_FORMAT,
                "%s: header says NumFilesPerSnapshot = %d but the file is not numbered "
                "(<base>.<i>%s)", sf.first, nfiles, sf.ext);
    size_t per = strlen(sf.first) + strlen(sf.base) + strlen(sf.ext) + 16;
    s->pathbuf_len = (size_t)nfiles * per;
    CT_CHECK(ct_calloc(&s->pathbuf, s->pathbuf_len, 1, "snapshot paths"));
    CT_CHECK(ct_calloc(&s->files, (size_t)nfiles, sizeof *s->files, "snapshot files"));
    s->nfiles = nfiles;
    s->header = h0;
    s->box_file = box0;
    size_t used = 0;
    int64_t sum[6] = {0};
    for (int i = 0; i < nfiles; i++) {
        char p[CT_SNAP_PATH_CAP];
        if (sf.multi)
            CT_CHECK(ct_snap_path(p, sizeof p, "%s.%d%s", sf.base, i, sf.ext));
        else
            CT_CHECK(ct_snap_path(p, sizeof p, "%s", sf.first));
        memcpy(s->pathbuf + used, p, strlen(p) + 1);
        used += strlen(p) + 1;
        if (!is_file(p))
            CT_FAIL(CT_ERR_IO, "%s: missing file %d of the %d files of snapshot %s", p, i,
                    nfiles, sf.base);
        ct_snapshot_header h;
        double box;
        ct_snapshot_format fmt;
        if (!strcmp(p, sf.first)) {
            s->files[i] = f0;
        } else {
            CT_CHECK_GOTO(rc, scan_file(p, sf.kind, &h, &box, &s->files[i], &fmt));
            const char *d = header_diff(&h0, &h);
            if (d)
                CT_FAIL(CT_ERR_FORMAT, "%s: header %s differs from that of %s", p, d, sf.first);
            if (fmt != s->format)
                CT_FAIL(CT_ERR_FORMAT, "%s: %s, but %s is %s", p, ct_snapshot_format_name(fmt),
                        sf.first, ct_snapshot_format_name(s->format));
        }
        for (int t = 0; t < 6; t++)
            sum[t] += s->files[i].npart[t];
    }
    for (int t = 0; t < 6; t++)
        if (sum[t] != h0.npart_total[t])
            CT_FAIL(CT_ERR_FORMAT,
                    "%s: NumPart_ThisFile of type %d summed over %d file(s) is %lld but "
                    "NumPart_Total (with HighWord) is %lld", sf.first, t, nfiles,
                    (long long)sum[t], (long long)h0.npart_total[t]);
    return CT_OK;
fail:
    return rc;
}

static void set_paths(ct_snapshot *s)
{
    char *p = s->pathbuf;
    for (int i = 0; i < s->nfiles; i++) {
        s->paths[i] = p;
        p += strlen(p) + 1;
    }
}

ct_status ct_snapshot_open(ct_snapshot **out, const char *path, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_snapshot *s = NULL;
    int rank;
    *out = NULL;
    MPI_Comm_rank(comm, &rank);
    rc = ct_calloc(&s, 1, sizeof *s, "snapshot");
    if (rc == CT_OK && rank == 0) {
        ct_h5_quiet();
        rc = open_root(s, path);
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    {
        long long meta[3] = {s->nfiles, (long long)s->format, (long long)s->pathbuf_len};
        MPI_Bcast(meta, 3, MPI_LONG_LONG, 0, comm);
        if (rank != 0) {
            s->nfiles = (int)meta[0];
            s->format = (ct_snapshot_format)meta[1];
            s->pathbuf_len = (size_t)meta[2];
            rc = ct_calloc(&s->pathbuf, s->pathbuf_len, 1, "snapshot paths");
            if (rc == CT_OK)
                rc = ct_calloc(&s->files, (size_t)s->nfiles, sizeof *s->files,
                               "snapshot files");
        }
        if (rc == CT_OK)
            rc = ct_calloc(&s->paths, (size_t)s->nfiles, sizeof *s->paths, "snapshot paths");
        CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
        MPI_Bcast(&s->header, (int)sizeof s->header, MPI_BYTE, 0, comm);
        MPI_Bcast(&s->box_file, 1, MPI_DOUBLE, 0, comm);
        MPI_Bcast(s->files, (int)(sizeof *s->files * (size_t)s->nfiles), MPI_BYTE, 0, comm);
        MPI_Bcast(s->pathbuf, (int)s->pathbuf_len, MPI_CHAR, 0, comm);
        set_paths(s);
    }
    if (MPI_Comm_dup(comm, &s->comm) != MPI_SUCCESS) {
        s->comm = MPI_COMM_NULL;
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Comm_dup failed");
    }
    *out = s;
    return CT_OK;
fail:
    if (s) {
        s->comm = MPI_COMM_NULL;
        ct_snapshot_close(&s);
    }
    return rc;
}

void ct_snapshot_close(ct_snapshot **snap)
{
    if (!snap || !*snap)
        return;
    ct_snapshot *s = *snap;
    if (s->comm != MPI_COMM_NULL && s->comm != 0)
        MPI_Comm_free(&s->comm);
    free(s->files);
    free(s->pathbuf);
    free(s->paths);
    free(s);
    *snap = NULL;
}

const ct_snapshot_header *ct_snapshot_get_header(const ct_snapshot *s) { return &s->header; }
ct_snapshot_format ct_snapshot_get_format(const ct_snapshot *s) { return s->format; }
int ct_snapshot_nfiles(const ct_snapshot *s) { return s->nfiles; }
const char *ct_snapshot_file_path(const ct_snapshot *s, int file)
{
    return file >= 0 && file < s->nfiles ? s->paths[file] : NULL;
}
int64_t ct_snapshot_file_count(const ct_snapshot *s, int file, int ptype)
{
    if (file < 0 || file >= s->nfiles || ptype < 0 || ptype > 5)
        return 0;
    return s->files[file].npart[ptype];
}

/* ------------------------------------------------------------------ reading */

/* Check positions (file units) against the positions policy and convert to
 * Mpc/h in place. */
static ct_status convert_pos(const ct_snapshot *s, const char *path, int t, int64_t row0,
                             int64_t n, float *pos, ct_bounds_policy policy, double tol)
{
    const double B = s->box_file;
    const double len = s->header.unit_length_mpc;
    const float boxf = (float)s->header.box;
    /* fast path: one branch-free pass decides whether every coordinate is a
     * finite value in [0, B) (NaN fails both comparisons); the loop below then
     * vectorises. Anything else takes the careful per-value path. */
    int all_in = 1;
    for (int64_t i = 0; i < 3 * n; i++)
        all_in &= (pos[i] >= 0.0f) & ((double)pos[i] < B);
    if (all_in) {
        for (int64_t i = 0; i < 3 * n; i++) {
            float y = (float)(pos[i] * len);
            pos[i] = y < boxf ? y : 0.0f;
        }
        return CT_OK;
    }
    static const char axis[3] = {'x', 'y', 'z'};
    for (int64_t i = 0; i < n; i++) {
        float *x = pos + 3 * i;
        for (int a = 0; a < 3; a++) {
            double v;
            int k = ct_snap_fold(x[a], B, tol, policy, &v);
            if (k < 0)
                CT_FAIL(CT_ERR_NUMERIC,
                        "%s: PartType%d/Coordinates row %lld has a non-finite value "
                        "(%g, %g, %g)", path, t, (long long)(row0 + i), x[0], x[1], x[2]);
            if (k > 0)
                CT_FAIL(CT_ERR_RANGE,
                        "%s: PartType%d (%s) particle %lld of this file: %c = %.9g is "
                        "outside the box [0, %.9g) by more than the wrap tolerance "
                        "(%g BoxSize; file units): a units mix-up or a corrupt file? "
                        "(wrap-positions wraps it anyway)",
                        path, t, ct_snapshot_type_name(t), (long long)(row0 + i),
                        axis[a], (double)x[a], B, tol);
            float y = (float)(v * len);
            x[a] = y < boxf ? y : 0.0f;
        }
    }
    return CT_OK;
}

/* Gadget velocities (u = v / sqrt(a)) to peculiar km/s in place; a non-finite
 * value is an error. */
static ct_status convert_vel(const ct_snapshot *s, const char *path, int t, int64_t row0,
                             int64_t n, float *vel)
{
    const double vscale = sqrt(s->header.time);
    int finite = 1;
    for (int64_t i = 0; i < 3 * n; i++)
        finite &= fabsf(vel[i]) <= FLT_MAX;
    if (!finite)
        for (int64_t i = 0; i < 3 * n; i++)
            if (!isfinite(vel[i]))
                CT_FAIL(CT_ERR_NUMERIC,
                        "%s: PartType%d/Velocities row %lld has a non-finite value", path, t,
                        (long long)(row0 + i / 3));
    for (int64_t i = 0; i < 3 * n; i++)
        vel[i] = (float)(vel[i] * vscale);
    return CT_OK;
}

/* -------------------------------------------------------- raw (pread) reads */

#define RAW_CHUNK_DEFAULT ((int64_t)512 << 10)
#define RAW_THREADS_MAX 64
static int raw_force_hdf5 = 0;
static int64_t raw_chunk_bytes = RAW_CHUNK_DEFAULT;
static int64_t raw_chunks_read = 0; /* atomic */

int64_t ct_snap_raw_testing(int force_hdf5, int64_t chunk_bytes)
{
    raw_force_hdf5 = force_hdf5;
    raw_chunk_bytes = chunk_bytes > 0 ? chunk_bytes : RAW_CHUNK_DEFAULT;
    return __atomic_exchange_n(&raw_chunks_read, 0, __ATOMIC_RELAXED);
}

/* One call's pieces, read by one or more threads. The pieces are in serial
 * order (file by file, each file's reads in the order the one-thread reader
 * made them) and cut into chunks numbered in that order, which the threads
 * take in turn. A failure keeps the first in serial order, so the error is the
 * one a one-thread read reports: key (file, stage, read, row) with stage 0 =
 * reading (every read of a file comes before its conversions), 1 = converting;
 * no chunk of a later file than a failed one is started. */
typedef struct {
    const ct_snapshot *s;
    int t;
    ct_bounds_policy bounds;
    double tol;
    const ct_rawpiece *pc;
    int npc;
    const int64_t *first_chunk; /* npc + 1 entries: chunk numbers per piece */
    int64_t next;               /* the next chunk to take (atomic) */
    int stop_file;              /* atomic: chunks of later files are not started */
    pthread_mutex_t mu;
    int64_t ekey[4];            /* the first failure so far, in serial order */
    ct_status erc;
    char *emsg;
} raw_run;

static int raw_cols(const ct_rawpiece *p)
{
    return p->field == CT_RAW_POS || p->field == CT_RAW_VEL ? 3 : 1;
}

static int64_t raw_rows_per_chunk(const ct_rawpiece *p)
{
    int64_t r = raw_chunk_bytes / (raw_cols(p) * p->elsize);
    return r > 0 ? r : 1;
}

/* The one-thread reader's messages for a file that cannot be opened or read. */
static ct_status raw_open_error(const raw_run *r, const ct_rawpiece *p, int err)
{
    const char *path = r->s->paths[p->file];
    if (r->s->format == CT_SNAP_HDF5)
        CT_FAIL(CT_ERR_IO, "%s: cannot open HDF5 file", path);
    CT_FAIL(CT_ERR_IO, "%s: cannot open: %s", path, strerror(err));
}

static ct_status raw_read_error(const raw_run *r, const ct_rawpiece *p)
{
    const char *path = r->s->paths[p->file];
    if (r->s->format == CT_SNAP_HDF5) {
        static const char *ds[4] = {"Coordinates", "Velocities", "ParticleIDs", "Masses"};
        CT_FAIL(CT_ERR_FORMAT,
                "%s: reading PartType%d/%s rows [%lld, %lld) failed (corrupt or truncated "
                "data, or a missing filter plugin)", path, r->t, ds[p->field], (long long)p->row,
                (long long)(p->row + p->n));
    }
    static const char *blk[4] = {"POS", "VEL", "ID", "MASS"};
    CT_FAIL(CT_ERR_FORMAT, "%s: cannot read block %s (truncated)", path, blk[p->field]);
}

/* Rows [r0, r0 + m) of piece p from fd: read (into the output, or through
 * bounce when the stored width differs), to native order and width, then
 * converted like the one-thread reader does. *stage: 0 reading, 1 converting. */
static ct_status raw_chunk(const raw_run *r, const ct_rawpiece *p, int64_t r0, int64_t m, int fd,
                           void *bounce, int *stage)
{
    const int cols = raw_cols(p), wide = p->field == CT_RAW_ID ? 8 : 4;
    const int64_t k = (r0 - p->row) * cols; /* first element within the piece */
    const size_t cnt = (size_t)(m * cols);
    void *out = (char *)p->dst + k * wide;
    void *in = p->elsize == wide ? out : bounce;
    *stage = 0;
    /* fresh output pages mapped in one call rather than one fault per 4 KiB
     * page as the copy first touches them (about a fifth less CPU time for a
     * first read); contents untouched, so a page shared with a neighbouring
     * chunk of another thread is safe; a kernel without it just faults */
    (void)ct_populate(out, cnt * (size_t)wide);
    if (ct_snap_pread(fd, in, cnt * (size_t)p->elsize, p->off + k * p->elsize) != 0)
        return raw_read_error(r, p);
    if (p->elsize == wide && p->swap && wide == 4) {
        for (size_t i = 0; i < cnt; i++)
            ((uint32_t *)out)[i] = __builtin_bswap32(((uint32_t *)out)[i]);
    } else if (p->elsize == wide && p->swap) {
        for (size_t i = 0; i < cnt; i++)
            ((uint64_t *)out)[i] = __builtin_bswap64(((uint64_t *)out)[i]);
    } else if (p->elsize == 8 && wide == 4) { /* Gadget double reals -> float */
        for (size_t i = 0; i < cnt; i++) {
            uint64_t v;
            double d;
            memcpy(&v, (char *)in + 8 * i, 8);
            v = p->swap ? __builtin_bswap64(v) : v;
            memcpy(&d, &v, 8);
            ((float *)out)[i] = (float)d;
        }
    } else if (p->elsize == 4 && wide == 8) { /* 32-bit IDs -> uint64 */
        for (size_t i = 0; i < cnt; i++) {
            uint32_t v = ((uint32_t *)in)[i];
            ((uint64_t *)out)[i] = p->swap ? __builtin_bswap32(v) : v;
        }
    }
    *stage = 1;
    const char *path = r->s->paths[p->file];
    if (p->field == CT_RAW_POS)
        CT_CHECK(convert_pos(r->s, path, r->t, r0, m, out, r->bounds, r->tol));
    else if (p->field == CT_RAW_VEL)
        CT_CHECK(convert_vel(r->s, path, r->t, r0, m, out));
    return CT_OK;
}

/* Keep this thread's failure if it comes first in serial order. */
static void raw_fail(raw_run *r, const ct_rawpiece *p, int stage, int64_t row, ct_status rc)
{
    const int64_t key[4] = {p->file, stage, stage == 0 && row < 0 ? -1 : p->order, row};
    pthread_mutex_lock(&r->mu);
    int first = r->erc == CT_OK;
    for (int i = 0; i < 4 && !first; i++) {
        if (key[i] != r->ekey[i]) {
            first = key[i] < r->ekey[i];
            break;
        }
    }
    if (first) {
        free(r->emsg);
        r->emsg = strdup(ct_error_message());
        r->erc = rc;
        memcpy(r->ekey, key, sizeof key);
    }
    if (p->file < __atomic_load_n(&r->stop_file, __ATOMIC_RELAXED))
        __atomic_store_n(&r->stop_file, p->file, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&r->mu);
}

static void *raw_worker(void *arg)
{
    raw_run *r = arg;
    int fd = -1, fd_file = -1, pi = 0;
    void *bounce = NULL;
    const int64_t nchunks = r->first_chunk[r->npc];
    for (;;) {
        const int64_t c = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
        if (c >= nchunks)
            break;
        while (c >= r->first_chunk[pi + 1]) /* chunks come in increasing order */
            pi++;
        const ct_rawpiece *p = &r->pc[pi];
        if (p->file > __atomic_load_n(&r->stop_file, __ATOMIC_RELAXED))
            break;
        const int64_t per = raw_rows_per_chunk(p);
        const int64_t r0 = p->row + (c - r->first_chunk[pi]) * per;
        const int64_t m = p->row + p->n - r0 < per ? p->row + p->n - r0 : per;
        if (p->file != fd_file) {
            if (fd >= 0)
                close(fd);
            fd_file = p->file;
            fd = open(r->s->paths[p->file], O_RDONLY);
            if (fd < 0)
                raw_fail(r, p, 0, -1, raw_open_error(r, p, errno));
        }
        if (fd < 0)
            continue;
        if (!bounce && p->elsize != (p->field == CT_RAW_ID ? 8 : 4)) {
            const int64_t cap = raw_chunk_bytes > 24 ? raw_chunk_bytes : 24;
            ct_status rc = ct_calloc(&bounce, (size_t)cap, 1, "read buffer");
            if (rc != CT_OK) {
                raw_fail(r, p, 0, r0, rc);
                continue;
            }
        }
        int stage = 0;
        ct_status rc = raw_chunk(r, p, r0, m, fd, bounce, &stage);
        __atomic_fetch_add(&raw_chunks_read, 1, __ATOMIC_RELAXED);
        if (rc != CT_OK)
            raw_fail(r, p, stage, r0, ct_error_push(rc, __func__, __LINE__));
    }
    if (fd >= 0)
        close(fd);
    free(bounce);
    return NULL;
}

/* Read the pieces on up to `threads` threads (this one included); the
 * others make no HDF5 or MPI call. */
static ct_status raw_read(const ct_snapshot *s, int t, const ct_read_settings *rs,
                          const ct_rawpiece *pc, int npc, int threads)
{
    int64_t *fc = NULL;
    CT_CHECK(ct_calloc(&fc, (size_t)npc + 1, sizeof *fc, "read chunks"));
    for (int i = 0; i < npc; i++) {
        const int64_t per = raw_rows_per_chunk(&pc[i]);
        fc[i + 1] = fc[i] + (pc[i].n + per - 1) / per;
    }
    raw_run r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.t = t;
    r.bounds = rs->bounds;
    r.tol = rs->tolerance;
    r.pc = pc;
    r.npc = npc;
    r.first_chunk = fc;
    r.stop_file = INT32_MAX;
    pthread_mutex_init(&r.mu, NULL);
    if (threads > RAW_THREADS_MAX)
        threads = RAW_THREADS_MAX;
    if (threads > fc[npc])
        threads = (int)fc[npc];
    pthread_t th[RAW_THREADS_MAX];
    int started = 0;
    for (int i = 1; i < threads; i++)
        if (pthread_create(&th[started], NULL, raw_worker, &r) == 0)
            started++;
    raw_worker(&r);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&r.mu);
    free(fc);
    if (r.erc == CT_OK)
        return CT_OK;
    ct_error_restore(r.erc, r.emsg ? r.emsg : "reading the snapshot failed");
    free(r.emsg);
    return ct_error_push(r.erc, __func__, __LINE__);
}

/* Output arrays: every row is written before they are handed out, so they
 * are not zeroed (calloc would clear reused memory, an extra pass over it on
 * this thread). */
static ct_status alloc_rows(void *out_ptr, size_t count, size_t size, const char *what)
{
    void **out = (void **)out_ptr;
    *out = NULL;
    if (count > SIZE_MAX / size)
        CT_FAIL(CT_ERR_MEMORY, "allocation of %s overflows (%zu x %zu)", what, count, size);
    *out = malloc(count ? count * size : 1);
    if (!*out)
        CT_FAIL(CT_ERR_MEMORY, "cannot allocate %zu bytes for %s", count * size, what);
    return CT_OK;
}

/* The rows of file f that the global range [first, first + count) of type t
 * covers: rows [row, row + n) of the file and the output arrays at their
 * place. *fo is the file's first global index, advanced past it. */
typedef struct {
    int64_t row, n;
    float *pos, *vel, *mass;
    uint64_t *id;
} file_rows;

static int rows_of_file(const ct_snapshot *s, int t, int f, int64_t first, int64_t count,
                        const ct_particles *out, int64_t *fo, file_rows *r)
{
    const int64_t nf = s->files[f].npart[t];
    const int64_t a = first > *fo ? first : *fo;
    const int64_t b = first + count < *fo + nf ? first + count : *fo + nf;
    const size_t d = (size_t)(a - first);
    r->row = a - *fo;
    r->n = b - a;
    r->pos = out->pos + 3 * d;
    r->vel = out->vel ? out->vel + 3 * d : NULL;
    r->id = out->id ? out->id + d : NULL;
    r->mass = out->mass ? out->mass + d : NULL;
    *fo += nf;
    return a < b;
}

/* The one-thread reader through HDF5 (H5Dread), for files whose datasets are
 * not plain contiguous storage (Quijote's compressed chunks) or when forced. */
static ct_status read_hdf5(ct_snapshot *s, int t, int64_t first, int64_t count,
                           const ct_read_settings *rs, ct_particles *out)
{
    int64_t fo = 0;
    file_rows r;
    for (int f = 0; f < s->nfiles && count > 0; f++) {
        if (!rows_of_file(s, t, f, first, count, out, &fo, &r))
            continue;
        const char *path = s->paths[f];
        CT_CHECK(ct_h5snap_read(path, &s->files[f], t, r.row, r.n, r.pos, r.vel, r.id, r.mass));
        CT_CHECK(convert_pos(s, path, t, r.row, r.n, r.pos, rs->bounds, rs->tolerance));
        if (r.vel)
            CT_CHECK(convert_vel(s, path, t, r.row, r.n, r.vel));
    }
    return CT_OK;
}

/* Plan the raw reads of every file [first, first + count) overlaps and run
 * them. *raw = 0 (nothing read) when some HDF5 dataset must go through HDF5.
 * A Gadget file whose plan fails (an absent block) ends the plan there; the
 * earlier files are read and their first failure, if any, is reported before
 * it, as the one-thread reader would. */
static ct_status read_raw(ct_snapshot *s, int t, int64_t first, int64_t count,
                          const ct_read_settings *rs, int threads, ct_particles *out, int *raw)
{
    ct_status rc = CT_OK, plan_rc = CT_OK;
    char *plan_msg = NULL;
    ct_rawpiece *pc = NULL;
    int npc = 0;
    *raw = !(s->format == CT_SNAP_HDF5 && raw_force_hdf5);
    if (!*raw)
        return CT_OK;
    CT_CHECK(ct_calloc(&pc, (size_t)s->nfiles * 4, sizeof *pc, "read plan"));
    int64_t fo = 0;
    file_rows r;
    for (int f = 0; f < s->nfiles && count > 0 && *raw && plan_rc == CT_OK; f++) {
        if (!rows_of_file(s, t, f, first, count, out, &fo, &r))
            continue;
        int k = 0;
        if (s->format == CT_SNAP_HDF5) {
            k = ct_h5snap_plan(s->paths[f], &s->files[f], f, t, r.row, r.n, r.pos, r.vel, r.id,
                               r.mass, pc + npc);
            *raw = k > 0;
        } else {
            plan_rc = ct_gadget_plan(s->paths[f], &s->files[f], f, t, r.row, r.n, r.pos, r.vel,
                                     r.id, r.mass, pc + npc, &k);
            if (plan_rc != CT_OK) {
                ct_error_push(plan_rc, __func__, __LINE__);
                plan_msg = strdup(ct_error_message());
            }
        }
        npc += k;
    }
    if (*raw && npc > 0)
        rc = raw_read(s, t, rs, pc, npc, threads);
    if (*raw && rc == CT_OK && plan_rc != CT_OK)
        rc = ct_error_restore(plan_rc, plan_msg ? plan_msg : "reading the snapshot failed");
    free(plan_msg);
    free(pc);
    return rc == CT_OK ? CT_OK : ct_error_push(rc, __func__, __LINE__);
}

ct_status ct_snapshot_read_range(ct_snapshot *s, int t, int64_t first, int64_t count,
                                 const ct_read_settings *rs, ct_particles *out)
{
    ct_status rc = CT_OK;
    ct_read_settings def;
    memset(out, 0, sizeof *out);
    if (!rs) {
        ct_read_settings_defaults(&def);
        rs = &def;
    }
    if (t < 0 || t > 5)
        CT_FAIL(CT_ERR_ARG, "particle type %d (must be 0..5)", t);
    if (!ct_snap_tolerance_ok(rs->tolerance))
        CT_FAIL(CT_ERR_ARG, "read settings: position tolerance %g (must be in [0, 1))",
                rs->tolerance);
    if (rs->threads < 0)
        CT_FAIL(CT_ERR_ARG, "read settings: threads = %d (0 or more)", rs->threads);
    int64_t total = s->header.npart_total[t];
    if (first < 0 || count < 0 || first + count > total)
        CT_FAIL(CT_ERR_ARG, "range [%lld, %lld) outside the %lld particles of type %d",
                (long long)first, (long long)(first + count), (long long)total, t);
    int need_mass = s->header.mass_table[t] == 0 && total > 0;
    size_t n = (size_t)count;
    CT_CHECK_GOTO(rc, alloc_rows(&out->pos, n * 3, sizeof(float), "positions"));
    if (rs->read_vel)
        CT_CHECK_GOTO(rc, alloc_rows(&out->vel, n * 3, sizeof(float), "velocities"));
    if (rs->read_id)
        CT_CHECK_GOTO(rc, alloc_rows(&out->id, n, sizeof(uint64_t), "particle IDs"));
    if (need_mass)
        CT_CHECK_GOTO(rc, alloc_rows(&out->mass, n, sizeof(float), "masses"));
    int raw = 0;
    CT_CHECK_GOTO(rc, read_raw(s, t, first, count, rs, rs->threads > 0 ? rs->threads : 1, out,
                               &raw));
    if (!raw)
        CT_CHECK_GOTO(rc, read_hdf5(s, t, first, count, rs, out));
    out->n = count;
    out->offset = first;
    out->n_total = total;
    out->mass_uniform = s->header.mass_table[t];
    return CT_OK;
fail:
    ct_particles_free(out);
    return rc;
}

ct_status ct_snapshot_read(ct_snapshot *s, int t, const ct_read_settings *rs, ct_particles *out)
{
    int rank, size;
    MPI_Comm_rank(s->comm, &rank);
    MPI_Comm_size(s->comm, &size);
    memset(out, 0, sizeof *out);
    ct_status rc = CT_OK;
    if (t < 0 || t > 5)
        rc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "particle type %d (must be 0..5)", t);
    int64_t first = 0, count = 0;
    ct_read_settings mine;
    if (rs)
        mine = *rs;
    else
        ct_read_settings_defaults(&mine);
    /* threads 0: this rank's share of its node's cores; the readers make no
     * MPI call, but MPI_THREAD_SINGLE promises one thread */
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (mine.threads == 0)
        mine.threads = ct_node_cores_per_rank(s->comm); /* collective */
    if (level < MPI_THREAD_FUNNELED && mine.threads > 1)
        mine.threads = 1;
    if (rc == CT_OK) {
        ct_partition_range(s->header.npart_total[t], size, rank, &first, &count);
        rc = ct_snapshot_read_range(s, t, first, count, &mine, out);
        if (rc != CT_OK)
            ct_error_push(rc, __func__, __LINE__);
    }
    rc = ct_agree_msg(s->comm, rc);
    if (rc != CT_OK) {
        ct_particles_free(out);
        return ct_error_push(rc, __func__, __LINE__);
    }
    return CT_OK;
}

const char *ct_snapshot_type_name(int t) { return t >= 0 && t < 6 ? type_names[t] : "?"; }
