/* Atomic output (temporary name + rename), directories, whole-file reads. */
#include "cosmotl/core.h"
#include "ct_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t ct_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    size_t k = n < cap ? n : cap - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return n;
}

ct_status ct_path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n;
    if (!a || !*a)
        n = snprintf(out, cap, "%s", b);
    else if (b[0] == '/')
        n = snprintf(out, cap, "%s", b);
    else if (a[strlen(a) - 1] == '/')
        n = snprintf(out, cap, "%s%s", a, b);
    else
        n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        CT_FAIL(CT_ERR_ARG, "path too long: %s/%s", a, b);
    return CT_OK;
}

/* Remove "<dir>/.<base>.tmp.<pid>" files left by writers that died (SIGKILL,
 * node failure) before their commit: only when no process <pid> exists on this
 * host, so a live writer's temporary is never touched. */
static void remove_dead_temporaries(const char *dir, const char *base)
{
    char prefix[NAME_MAX + 16]; /* base is one path component */
    int np = snprintf(prefix, sizeof prefix, ".%s.tmp.", base);
    if (np < 0 || (size_t)np >= sizeof prefix)
        return; /* no file can have that name */
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, (size_t)np) != 0)
            continue;
        const char *digits = de->d_name + np;
        char *end = NULL;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (!*digits || *end || errno || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
            continue; /* its writer is alive */
        char *p = NULL;
        if (ct_asprintf(&p, "%s/%s", dir, de->d_name) != CT_OK) {
            ct_error_clear();
            continue;
        }
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) == 0)
            ct_warn("removed %s, left by an interrupted writer", p);
        free(p);
    }
    closedir(d);
}

static ct_status vformat(char **out, char *buf, size_t cap, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        CT_FAIL(CT_ERR_ARG, "cannot format \"%s\"", fmt);
    }
    if (out) {
        *out = malloc((size_t)n + 1);
        if (!*out) {
            va_end(ap2);
            CT_FAIL(CT_ERR_MEMORY, "out of memory (%d characters)", n);
        }
        vsnprintf(*out, (size_t)n + 1, fmt, ap2);
    } else if ((size_t)n >= cap) {
        va_end(ap2);
        CT_FAIL(CT_ERR_RANGE, "text of %d characters does not fit in %zu: %.60s...", n,
                cap ? cap - 1 : 0, cap ? buf : "");
    }
    va_end(ap2);
    return CT_OK;
}

ct_status ct_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ct_status rc = vformat(NULL, buf, cap, fmt, ap);
    va_end(ap);
    return rc;
}

ct_status ct_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    *out = NULL;
    va_start(ap, fmt);
    ct_status rc = vformat(out, NULL, 0, fmt, ap);
    va_end(ap);
    return rc;
}

/* The temporary name in a new allocation; cap > 0: it must fit in cap bytes. */
static ct_status atomic_begin(const char *final_path, char **tmp, size_t cap)
{
    /* dirname/basename modify their argument: work on copies of any length */
    ct_status rc = CT_OK;
    *tmp = NULL;
    char *copy1 = strdup(final_path), *copy2 = strdup(final_path);
    if (!copy1 || !copy2)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory", final_path);
    const char *dir = dirname(copy1);
    const char *base = basename(copy2);
    CT_CHECK_GOTO(rc, ct_asprintf(tmp, "%s/.%s.tmp.%ld", dir, base, (long)getpid()));
    if (cap > 0 && strlen(*tmp) >= cap)
        CT_FAIL_GOTO(rc, CT_ERR_ARG, "%s: path too long (%zu characters; the temporary name "
                     "needs %zu of at most %zu)", final_path, strlen(final_path), strlen(*tmp),
                     cap - 1);
    if (!ct_dir_exists(dir)) {
        size_t len = strlen(final_path);
        if (len > 1000) /* keep the problem inside the one-line message */
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%.200s...%s: directory does not exist (a path of %zu "
                         "characters)", final_path, final_path + len - 200, len);
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: directory %s does not exist", final_path, dir);
    }
    remove_dead_temporaries(dir, base);
fail:
    free(copy1);
    free(copy2);
    if (rc != CT_OK) {
        free(*tmp);
        *tmp = NULL;
    }
    return rc;
}

ct_status ct_atomic_begin_alloc(const char *final_path, char **tmp)
{
    return atomic_begin(final_path, tmp, 0);
}

ct_status ct_atomic_begin(const char *final_path, char *tmp, size_t tmp_cap)
{
    char *t = NULL;
    if (tmp_cap < 1)
        CT_FAIL(CT_ERR_ARG, "%s: no room for the temporary name", final_path);
    CT_CHECK(atomic_begin(final_path, &t, tmp_cap));
    memcpy(tmp, t, strlen(t) + 1);
    free(t);
    return CT_OK;
}

ct_status ct_atomic_commit(const char *tmp, const char *final_path)
{
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        if (fsync(fd) != 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            CT_FAIL(CT_ERR_IO, "%s: fsync failed: %s", final_path, strerror(e));
        }
        close(fd);
    }
    if (rename(tmp, final_path) != 0) {
        int e = errno;
        unlink(tmp);
        CT_FAIL(CT_ERR_IO, "%s: cannot rename temporary file: %s", final_path, strerror(e));
    }
    return CT_OK;
}

void ct_atomic_abort(const char *tmp)
{
    if (tmp && *tmp)
        unlink(tmp);
}

static void atomic_file_end(ct_atomic_file *a)
{
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

void ct_atomic_fdiscard(ct_atomic_file *a)
{
    if (!a)
        return;
    if (a->f)
        fclose(a->f);
    ct_atomic_abort(a->tmp);
    atomic_file_end(a);
}

ct_status ct_atomic_fopen(ct_atomic_file *a, const char *final_path)
{
    memset(a, 0, sizeof *a);
    ct_status rc = CT_OK;
    CT_CHECK(ct_atomic_begin_alloc(final_path, &a->tmp));
    if (!(a->path = strdup(final_path)))
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory", final_path);
    if (!(a->f = fopen(a->tmp, "w")))
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot write: %s", final_path, strerror(errno));
    return CT_OK;
fail:
    ct_atomic_fdiscard(a);
    return rc;
}

ct_status ct_atomic_fclose(ct_atomic_file *a)
{
    if (!a || !a->f)
        CT_FAIL(CT_ERR_ARG, "ct_atomic_fclose: no file open");
    /* the first failure's reason (errno of the failed write when ferror) */
    int err = ferror(a->f) ? (errno ? errno : EIO) : 0;
    if (fflush(a->f) != 0 && !err)
        err = errno ? errno : EIO;
    if (fclose(a->f) != 0 && !err)
        err = errno ? errno : EIO;
    a->f = NULL;
    ct_status rc = CT_OK;
    if (err) /* ct_atomic_commit fsyncs */
        rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: write failed: %s", a->path,
                          strerror(err));
    else
        rc = ct_atomic_commit(a->tmp, a->path);
    if (rc != CT_OK)
        ct_atomic_abort(a->tmp);
    atomic_file_end(a);
    return rc;
}

ct_status ct_atomic_begin_coll(const char *final_path, char *tmp, size_t tmp_cap,
                               MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_status s = CT_OK;
    if (rank == 0)
        s = ct_atomic_begin(final_path, tmp, tmp_cap);
    s = ct_agree_msg(comm, s);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    int len = rank == 0 ? (int)strlen(tmp) + 1 : 0;
    MPI_Bcast(&len, 1, MPI_INT, 0, comm);
    if ((size_t)len > tmp_cap)
        CT_FAIL(CT_ERR_ARG, "temporary path too long for buffer");
    MPI_Bcast(tmp, len, MPI_CHAR, 0, comm);
    return CT_OK;
}

ct_status ct_atomic_commit_coll(const char *tmp, const char *final_path, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Barrier(comm);
    ct_status s = CT_OK;
    if (rank == 0)
        s = ct_atomic_commit(tmp, final_path);
    s = ct_agree_msg(comm, s);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    return CT_OK;
}

void ct_atomic_abort_coll(const char *tmp, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Barrier(comm);
    if (rank == 0)
        ct_atomic_abort(tmp);
}

int ct_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ct_dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ct_status ct_mkdir_p(const char *path)
{
    if (!path || !*path)
        CT_FAIL(CT_ERR_ARG, "empty directory path");
    char *buf = strdup(path); /* any length: the kernel says if it is too long */
    if (!buf)
        CT_FAIL(CT_ERR_MEMORY, "%.200s: out of memory", path);
    ct_status rc = CT_OK;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    if (!ct_dir_exists(buf))
        CT_FAIL_GOTO(rc, CT_ERR_IO, "%s: exists and is not a directory", buf);
fail:
    free(buf);
    return rc;
}

ct_status ct_read_text(const char *path, char **text, size_t *len)
{
    *text = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        CT_FAIL(CT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        CT_FAIL(CT_ERR_MEMORY, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                CT_FAIL(CT_ERR_MEMORY, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        CT_FAIL(CT_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *text = buf;
    if (len)
        *len = n;
    return CT_OK;
}

/* Does dir look like cosmotl's data folder? */
static int is_data_dir(const char *dir)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%s/jobs/common.sh", dir);
    return n > 0 && (size_t)n < sizeof p && ct_file_exists(p);
}

ct_status ct_data_dir(char *out, size_t cap)
{
    const char *env = getenv("COSMOTL_DATADIR");
    if (env && *env) {
        if (!is_data_dir(env))
            CT_FAIL(CT_ERR_IO, "COSMOTL_DATADIR=%s: not a cosmotl data folder (no jobs/common.sh)",
                    env);
        if (ct_strlcpy(out, env, cap) >= cap)
            CT_FAIL(CT_ERR_ARG, "COSMOTL_DATADIR=%s: path too long", env);
        return CT_OK;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        const char *dir = dirname(exe);
        const char *rel[] = {"/../share/cosmotl", "/share/cosmotl"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            char cand[PATH_MAX], real[PATH_MAX];
            int n = snprintf(cand, sizeof cand, "%s%s", dir, rel[i]);
            if (n <= 0 || (size_t)n >= sizeof cand || !is_data_dir(cand))
                continue;
            if (!realpath(cand, real))
                continue;
            if (ct_strlcpy(out, real, cap) >= cap)
                CT_FAIL(CT_ERR_ARG, "%s: path too long", real);
            return CT_OK;
        }
    }
    if (is_data_dir(CT_INSTALL_DATADIR)) {
        if (ct_strlcpy(out, CT_INSTALL_DATADIR, cap) >= cap)
            CT_FAIL(CT_ERR_ARG, "%s: path too long", CT_INSTALL_DATADIR);
        return CT_OK;
    }
    CT_FAIL(CT_ERR_IO, "cannot find cosmotl's data folder (job templates): not beside the "
            "program (../share/cosmotl or share/cosmotl) nor in %s; set COSMOTL_DATADIR",
            CT_INSTALL_DATADIR);
}
