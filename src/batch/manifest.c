/* Reprocessing manifests: per-item records written atomically by the task that
 * owns the item, merged into DIR/manifest.tsv under a lock. See batch.h. */
#include "cosmotl/batch.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORD_DIR ".manifest"
#define MANIFEST_FILE "manifest.tsv"
#define RECORD_MAGIC "# cosmotl manifest record v1"

struct ct_manifest {
    MPI_Comm comm;
    int rank;
    char *dir; /* any length */
    char stage[32];
    ct_manifest_counts counts;
    /* the item currently begun (rank 0 keeps its record in memory) */
    ct_manifest_entry cur;
    double t_begin;
};

const char *ct_item_state_name(ct_item_state s)
{
    switch (s) {
    case CT_ITEM_TODO: return "todo";
    case CT_ITEM_RUNNING: return "running";
    case CT_ITEM_DONE: return "done";
    case CT_ITEM_FAILED: return "failed";
    }
    return "unknown";
}

static int state_parse(const char *s, ct_item_state *out)
{
    for (int i = CT_ITEM_TODO; i <= CT_ITEM_FAILED; i++)
        if (!strcmp(s, ct_item_state_name((ct_item_state)i))) {
            *out = (ct_item_state)i;
            return 0;
        }
    return -1;
}

/* Copy with tabs/newlines turned into spaces, so a record stays one TSV line. */
static void copy_clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = (src[i] == '\t' || src[i] == '\n' || src[i] == '\r') ? ' ' : src[i];
    dst[i] = '\0';
}

static void now_iso(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int item_valid(const char *item)
{
    size_t n = strlen(item);
    if (n == 0 || n >= CT_MANIFEST_ITEM_MAX || item[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)item[i]) && item[i] != '.' && item[i] != '_' &&
            item[i] != '-')
            return 0;
    return 1;
}

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ------------------------------------------------------------ record files */

static void format_entry(FILE *f, const ct_manifest_entry *e)
{
    fprintf(f, "%s\t%s\t%s\t%s\t%.3f\t%d\t%s\t%ld\t%s\t%s\t%s\n", e->item,
            ct_item_state_name(e->state), e->input, e->output, e->seconds, e->attempts,
            e->host, e->pid, e->started, e->finished, e->error);
}

/* Split one TSV line into fields in place; returns the count. */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

static int parse_entry(char *line, ct_manifest_entry *e)
{
    char *nl = strpbrk(line, "\r\n");
    if (nl)
        *nl = '\0';
    char *f[11];
    if (split_tabs(line, f, 11) != 11)
        return -1;
    memset(e, 0, sizeof *e);
    copy_clean(e->item, sizeof e->item, f[0]);
    if (state_parse(f[1], &e->state) != 0 || !item_valid(e->item))
        return -1;
    copy_clean(e->input, sizeof e->input, f[2]);
    copy_clean(e->output, sizeof e->output, f[3]);
    e->seconds = strtod(f[4], NULL);
    long att = strtol(f[5], NULL, 10); /* a record from elsewhere may hold anything */
    e->attempts = att < 0 ? 0 : att > 1000000000L ? 1000000000 : (int)att;
    copy_clean(e->host, sizeof e->host, f[6]);
    e->pid = strtol(f[7], NULL, 10);
    copy_clean(e->started, sizeof e->started, f[8]);
    copy_clean(e->finished, sizeof e->finished, f[9]);
    copy_clean(e->error, sizeof e->error, f[10]);
    return 0;
}

/* The errno err of opening path: CT_OK if it does not exist (nothing recorded
 * yet), else an error saying what could not be done. */
static ct_status absent_ok(int err, const char *path, const char *what)
{
    if (err == ENOENT)
        return CT_OK;
    return ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot %s: %s", path, what,
                        strerror(err));
}

/* DIR/.manifest/ITEM in a new allocation (free() it) */
static ct_status record_path(char **out, const char *dir, const char *item)
{
    return ct_asprintf(out, "%s/" RECORD_DIR "/%s", dir, item);
}

/* Read one record; *found = 0 if it does not exist or is unreadable (a record
 * is only ever replaced by rename, so a bad one means someone else wrote it). */
static ct_status record_load(const char *dir, const char *item, ct_manifest_entry *e,
                             int *found)
{
    char *path = NULL;
    *found = 0;
    CT_CHECK(record_path(&path, dir, item));
    FILE *f = fopen(path, "r");
    if (!f) {
        ct_status rc = absent_ok(errno, path, "read manifest record");
        free(path);
        return rc;
    }
    free(path);
    char line[4 * CT_MANIFEST_PATH_MAX + 512];
    int ok = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        ok = parse_entry(line, e) == 0;
        break;
    }
    fclose(f);
    *found = ok && !strcmp(e->item, item);
    return CT_OK;
}

static ct_status record_store(const char *dir, const ct_manifest_entry *e)
{
    char *path = NULL;
    ct_atomic_file a;
    CT_CHECK(record_path(&path, dir, e->item));
    ct_status rc = ct_atomic_fopen(&a, path);
    if (rc == CT_OK) {
        fprintf(a.f, RECORD_MAGIC "\n");
        format_entry(a.f, e);
        rc = ct_atomic_fclose(&a);
    }
    free(path);
    return rc == CT_OK ? CT_OK : ct_error_push(rc, __func__, __LINE__);
}

/* Remove "<parent>/.<base>.tmp.*" (files or directories) left by killed writers. */
static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static void remove_stale_temporaries(const char *output)
{
    /* parent folder and base name of output, of any length */
    const char *slash = strrchr(output, '/');
    const char *base = slash ? slash + 1 : output;
    char *parent = NULL, *prefix = NULL, *p = NULL;
    ct_status rc = !slash ? ct_asprintf(&parent, ".")
                   : slash == output ? ct_asprintf(&parent, "/")
                                     : ct_asprintf(&parent, "%.*s", (int)(slash - output), output);
    if (rc == CT_OK)
        rc = ct_asprintf(&prefix, ".%s.tmp.", base);
    DIR *d = rc == CT_OK ? opendir(parent) : NULL;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        free(p);
        p = NULL;
        if (ct_asprintf(&p, "%s/%s", parent, de->d_name) != CT_OK)
            break;
        ct_warn("removing %s, left by an interrupted task", p);
        nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (d)
        closedir(d);
    ct_error_clear(); /* a best-effort clean-up: out of memory leaves them */
    free(parent);
    free(prefix);
    free(p);
}

/* ------------------------------------------------------------ collective glue */

/* Rank 0 did the work; make its status (and message) and an int known to all. */
static ct_status share(ct_manifest *m, ct_status s, int *value)
{
    int buf[2] = {(int)s, value ? *value : 0};
    MPI_Bcast(buf, 2, MPI_INT, 0, m->comm);
    if (value)
        *value = buf[1];
    s = (ct_status)buf[0];
    if (s != CT_OK) {
        /* every rank returns the same error text */
        int len = 0;
        char msg[2048] = "";
        if (m->rank == 0) {
            snprintf(msg, sizeof msg, "%s", ct_error_message());
            len = (int)strlen(msg) + 1;
        }
        MPI_Bcast(&len, 1, MPI_INT, 0, m->comm);
        MPI_Bcast(msg, len, MPI_CHAR, 0, m->comm);
        if (m->rank != 0)
            ct_error_set(s, "manifest", 0, "%s", msg);
    }
    return s;
}

ct_status ct_manifest_open(ct_manifest **out, const char *dir, const char *stage, MPI_Comm comm)
{
    *out = NULL;
    ct_manifest *m = NULL;
    ct_status s = CT_OK;
    if (!dir || !*dir)
        CT_FAIL(CT_ERR_ARG, "ct_manifest_open: no directory");
    CT_CHECK(ct_calloc(&m, 1, sizeof *m, "manifest"));
    m->comm = comm;
    MPI_Comm_rank(comm, &m->rank);
    snprintf(m->stage, sizeof m->stage, "%s", stage ? stage : "");
    char *rec = NULL;
    s = ct_asprintf(&m->dir, "%s", dir);
    if (s == CT_OK)
        s = ct_asprintf(&rec, "%s/" RECORD_DIR, dir);
    if (s == CT_OK && m->rank == 0)
        s = ct_mkdir_p(rec);
    free(rec);
    s = share(m, s, NULL);
    if (s != CT_OK) {
        ct_manifest_close(&m);
        return ct_error_push(s, __func__, __LINE__);
    }
    *out = m;
    return CT_OK;
}

void ct_manifest_close(ct_manifest **m)
{
    if (m && *m) {
        free((*m)->dir);
        ct_free(m);
    }
}

ct_status ct_manifest_need(ct_manifest *m, const char *item, const char *input,
                           const char *output, int *todo)
{
    ct_status s = CT_OK;
    int t = 1;
    if (!item_valid(item))
        CT_FAIL(CT_ERR_ARG, "manifest item '%s' is not a plain name", item);
    /* the record holds paths the system can open (PATH_MAX); longer is an error,
     * not a cut */
    const char *io[2] = {input, output};
    for (int k = 0; k < 2; k++)
        if (io[k] && strlen(io[k]) >= CT_MANIFEST_PATH_MAX)
            CT_FAIL(CT_ERR_ARG, "%.100s...: the %s path of item %s has %zu characters (at most "
                    "%d)", io[k], k ? "output" : "input", item, strlen(io[k]),
                    CT_MANIFEST_PATH_MAX - 1);
    if (m->rank == 0) {
        ct_manifest_entry e;
        int found = 0;
        s = record_load(m->dir, item, &e, &found);
        if (s == CT_OK) {
            int complete = output && *output && path_exists(output);
            if (!found) {
                memset(&e, 0, sizeof e);
                snprintf(e.item, sizeof e.item, "%s", item);
                e.state = CT_ITEM_TODO;
            }
            int changed = !found || strcmp(e.input, input ? input : "") ||
                          strcmp(e.output, output ? output : "");
            copy_clean(e.input, sizeof e.input, input);
            copy_clean(e.output, sizeof e.output, output);
            if (complete) {
                t = 0;
                if (e.state != CT_ITEM_DONE) {
                    e.state = CT_ITEM_DONE;
                    e.error[0] = '\0';
                    changed = 1;
                }
            } else if (e.state == CT_ITEM_RUNNING) {
                m->counts.interrupted++;
                ct_warn("%s: item %s was interrupted (started %s on %s, pid %ld); redoing it",
                        m->stage, item, e.started, e.host, e.pid);
            } else if (e.state == CT_ITEM_DONE) {
                /* recorded done but the output is gone: do it again */
                e.state = CT_ITEM_TODO;
                changed = 1;
            }
            if (changed)
                s = record_store(m->dir, &e);
        }
    }
    s = share(m, s, &t);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    m->counts.items++;
    if (!t)
        m->counts.complete++;
    *todo = t;
    return CT_OK;
}

ct_status ct_manifest_begin(ct_manifest *m, const char *item)
{
    ct_status s = CT_OK;
    if (!item_valid(item))
        CT_FAIL(CT_ERR_ARG, "manifest item '%s' is not a plain name", item);
    m->t_begin = MPI_Wtime();
    if (m->rank == 0) {
        ct_manifest_entry *e = &m->cur;
        int found = 0;
        s = record_load(m->dir, item, e, &found);
        if (s == CT_OK) {
            if (!found) {
                memset(e, 0, sizeof *e);
                snprintf(e->item, sizeof e->item, "%s", item);
            }
            e->state = CT_ITEM_RUNNING;
            if (e->attempts < 1000000000) /* saturates: no overflow from any record */
                e->attempts++;
            e->seconds = 0;
            e->error[0] = '\0';
            e->finished[0] = '\0';
            gethostname(e->host, sizeof e->host - 1);
            e->pid = (long)getpid();
            now_iso(e->started, sizeof e->started);
            if (*e->output)
                remove_stale_temporaries(e->output);
            s = record_store(m->dir, e);
        }
    }
    s = share(m, s, NULL);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    return CT_OK;
}

static ct_status finish(ct_manifest *m, const char *item, ct_item_state st, const char *error)
{
    ct_status s = CT_OK;
    double secs = MPI_Wtime() - m->t_begin;
    if (m->rank == 0) {
        ct_manifest_entry *e = &m->cur;
        if (strcmp(e->item, item) != 0) {
            s = ct_error_set(CT_ERR_STATE, __func__, __LINE__,
                             "manifest item %s finished without ct_manifest_begin", item);
        } else {
            e->state = st;
            e->seconds = secs;
            now_iso(e->finished, sizeof e->finished);
            if (error) {
                /* keep the first line: the chain is one line already */
                copy_clean(e->error, sizeof e->error, error);
                char *nl = strchr(e->error, '\n');
                if (nl)
                    *nl = '\0';
                if (!*e->error)
                    snprintf(e->error, sizeof e->error, "unknown error");
            }
            s = record_store(m->dir, e);
        }
    }
    s = share(m, s, NULL);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    if (st == CT_ITEM_DONE)
        m->counts.done++;
    else
        m->counts.failed++;
    return CT_OK;
}

ct_status ct_manifest_done(ct_manifest *m, const char *item)
{
    return finish(m, item, CT_ITEM_DONE, NULL);
}

ct_status ct_manifest_fail(ct_manifest *m, const char *item, const char *error)
{
    /* copy first: error may point at the error record, which finish() could reuse */
    char saved[CT_MANIFEST_ERROR_MAX];
    snprintf(saved, sizeof saved, "%s", error ? error : "");
    return finish(m, item, CT_ITEM_FAILED, saved);
}

ct_manifest_counts ct_manifest_get_counts(const ct_manifest *m)
{
    return m->counts;
}

ct_manifest_counts ct_manifest_counts_sum(const ct_manifest *m, MPI_Comm group, MPI_Comm comm)
{
    ct_manifest_counts c = m->counts;
    long mine[5] = {c.items, c.complete, c.done, c.failed, c.interrupted}, tot[5];
    int grank;
    MPI_Comm_rank(group, &grank);
    /* each group's counts once (from its rank 0) */
    if (grank != 0)
        memset(mine, 0, sizeof mine);
    MPI_Allreduce(mine, tot, 5, MPI_LONG, MPI_SUM, comm);
    ct_manifest_counts all = {tot[0], tot[1], tot[2], tot[3], tot[4]};
    return all;
}

void ct_manifest_describe(const char *stage, const char *dir, const ct_manifest_counts *c,
                          char *buf, size_t cap)
{
    const char *st = stage && *stage ? stage : "manifest";
    if (c->items == 0)
        snprintf(buf, cap, "%s: no items", st);
    else if (c->complete == c->items)
        snprintf(buf, cap, "%s: nothing to do: all %ld outputs are complete (%s/" MANIFEST_FILE
                 ")", st, c->items, dir);
    else if (c->failed)
        snprintf(buf, cap,
                 "%s: %ld item%s: %ld already complete, %ld done now, %ld FAILED "
                 "(errors in %s/" MANIFEST_FILE ")", st, c->items, c->items == 1 ? "" : "s",
                 c->complete, c->done,
                 c->failed, dir);
    else
        snprintf(buf, cap, "%s: %ld item%s: %ld already complete, %ld done now%s (%s/"
                 MANIFEST_FILE ")", st, c->items, c->items == 1 ? "" : "s", c->complete, c->done,
                 c->interrupted ? ", interrupted ones redone" : "", dir);
}

/* ------------------------------------------------------------ reading, merging */

static int item_cmp(const void *a, const void *b)
{
    const char *x = ((const ct_manifest_entry *)a)->item;
    const char *y = ((const ct_manifest_entry *)b)->item;
    char *ex, *ey;
    long lx = strtol(x, &ex, 10), ly = strtol(y, &ey, 10);
    if (!*ex && !*ey && ex != x && ey != y)
        return (lx > ly) - (lx < ly);
    return strcmp(x, y);
}

ct_status ct_manifest_read(const char *dir, ct_manifest_entry **entries, size_t *n)
{
    *entries = NULL;
    *n = 0;
    char *rec = NULL;
    CT_CHECK(ct_asprintf(&rec, "%s/" RECORD_DIR, dir));
    DIR *d = opendir(rec);
    if (!d) {
        ct_status rc = absent_ok(errno, rec, "list manifest records");
        free(rec);
        return rc;
    }
    free(rec);
    size_t cap = 0, cnt = 0;
    ct_manifest_entry *list = NULL;
    ct_status s = CT_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!item_valid(de->d_name))
            continue; /* ".", "..", temporaries, the lock */
        if (cnt == cap) {
            size_t nc = cap ? 2 * cap : 64;
            ct_manifest_entry *nl = realloc(list, nc * sizeof *nl);
            if (!nl)
                CT_FAIL_GOTO(s, CT_ERR_MEMORY, "out of memory reading manifest %s", dir);
            list = nl;
            cap = nc;
        }
        int found = 0;
        CT_CHECK_GOTO(s, record_load(dir, de->d_name, &list[cnt], &found));
        if (found)
            cnt++;
    }
    closedir(d);
    d = NULL;
    if (cnt)
        qsort(list, cnt, sizeof *list, item_cmp);
    *entries = list;
    *n = cnt;
    return CT_OK;
fail:
    if (d)
        closedir(d);
    free(list);
    return s;
}

const ct_manifest_entry *ct_manifest_find(const ct_manifest_entry *entries, size_t n,
                                          const char *item)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(entries[i].item, item))
            return &entries[i];
    return NULL;
}

static ct_status merge(const char *dir, const char *stage)
{
    ct_status s = CT_OK;
    ct_manifest_entry *list = NULL;
    size_t n = 0;
    char *lockp = NULL, *path = NULL;
    ct_atomic_file a = {0};
    int lfd = -1;
    CT_CHECK_GOTO(s, ct_asprintf(&lockp, "%s/" RECORD_DIR "/.lock", dir));
    CT_CHECK_GOTO(s, ct_asprintf(&path, "%s/" MANIFEST_FILE, dir));
    /* the lock orders concurrent merges, so the last rename holds every record
     * committed before it; without flock support the merge is still atomic */
    lfd = open(lockp, O_RDWR | O_CREAT, 0666);
    if (lfd >= 0)
        flock(lfd, LOCK_EX);
    CT_CHECK_GOTO(s, ct_manifest_read(dir, &list, &n));
    CT_CHECK_GOTO(s, ct_atomic_fopen(&a, path));
    FILE *f = a.f;
    long cnt[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++)
        cnt[list[i].state]++;
    char when[32];
    now_iso(when, sizeof when);
    fprintf(f, "# cosmotl manifest v1: stage %s, %zu items: %ld done, %ld failed, %ld running "
               "or interrupted, %ld todo; written %s\n",
            stage, n, cnt[CT_ITEM_DONE], cnt[CT_ITEM_FAILED], cnt[CT_ITEM_RUNNING],
            cnt[CT_ITEM_TODO], when);
    fprintf(f, "item\tstatus\tinput\toutput\tseconds\tattempts\thost\tpid\tstarted\tfinished\terror\n");
    for (size_t i = 0; i < n; i++)
        format_entry(f, &list[i]);
    CT_CHECK_GOTO(s, ct_atomic_fclose(&a));
fail:
    ct_atomic_fdiscard(&a);
    if (lfd >= 0) {
        flock(lfd, LOCK_UN);
        close(lfd);
    }
    free(list);
    free(lockp);
    free(path);
    return s;
}

ct_status ct_manifest_flush(ct_manifest *m)
{
    ct_status s = CT_OK;
    if (m->rank == 0)
        s = merge(m->dir, m->stage);
    s = share(m, s, NULL);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    return CT_OK;
}
