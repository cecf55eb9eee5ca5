/* Shared by the libFuzzer harnesses: MPI started once (a singleton process, the
 * library takes MPI_COMM_SELF), logging silenced, and the input written to a
 * per-process scratch file so the library's file readers see it. Each harness
 * resets the library's error state before every input and frees everything it
 * got, so leaks are reported by LeakSanitizer. */
#ifndef CT_FUZZ_COMMON_H
#define CT_FUZZ_COMMON_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cosmotl/core.h"

static char fz_dir[256];

static inline void fz_init(void)
{
    int ok = 0;
    MPI_Initialized(&ok);
    if (!ok)
        MPI_Init(NULL, NULL);
    ct_log_setup(MPI_COMM_SELF, CT_LOG_ERROR);
    ct_log_set_level(CT_LOG_ERROR);
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/ct_fuzz_%d", base, (int)getpid());
    mkdir(fz_dir, 0700);
}

/* fz_dir/name holding the bytes; returns the path (static buffer per call site
 * is not needed: callers copy or use it before the next call). */
static inline const char *fz_write(const char *name, const uint8_t *data, size_t size, char *path,
                            size_t cap)
{
    snprintf(path, cap, "%s/%s", fz_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort(); /* the harness cannot work at all: not a finding in the library */
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    return path;
}

#ifdef FZ_SNAPSHOT
#include "../../src/io/snapshot_internal.h"

/* Same status and same bytes, or abort (a finding). */
static inline void fz_same(ct_status a, const ct_particles *p, ct_status b, const ct_particles *q)
{
    if (a != b)
        abort();
    if (a != CT_OK)
        return;
    const size_t n = (size_t)p->n;
    if (p->n != q->n || memcmp(p->pos, q->pos, 3 * n * sizeof(float)) ||
        (p->vel && memcmp(p->vel, q->vel, 3 * n * sizeof(float))) ||
        (p->id && memcmp(p->id, q->id, n * sizeof(uint64_t))) ||
        (p->mass && memcmp(p->mass, q->mass, n * sizeof(float))))
        abort();
}

/* Every type of at most cap particles under both positions policies, read
 * three ways that must agree: one thread (the raw pread reader where the
 * storage allows), three threads in 40-byte chunks, and (HDF5) through
 * H5Dread only. */
static inline void fz_read_snapshot(ct_snapshot *s, int64_t cap)
{
    const ct_snapshot_header *h = ct_snapshot_get_header(s);
    for (int t = 0; t < 6; t++) {
        if (h->npart_total[t] > cap)
            continue; /* headers may claim any count; the file is small */
        for (int pol = 0; pol < 2; pol++) {
            ct_read_settings rs;
            ct_read_settings_defaults(&rs);
            rs.bounds = pol ? CT_BOUNDS_WRAP : CT_BOUNDS_ERROR;
            ct_particles p, q;
            ct_status a = ct_snapshot_read(s, t, &rs, &p);
            rs.threads = 3;
            ct_snap_raw_testing(0, 40);
            ct_status b = ct_snapshot_read(s, t, &rs, &q);
            fz_same(a, &p, b, &q);
            ct_particles_free(&q);
            rs.threads = 1;
            ct_snap_raw_testing(1, 0);
            b = ct_snapshot_read(s, t, &rs, &q);
            ct_snap_raw_testing(0, 0);
            fz_same(a, &p, b, &q);
            ct_particles_free(&q);
            ct_particles_free(&p);
        }
    }
}
#endif

#define FZ_INIT()                                                                          \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                      \
    {                                                                                      \
        (void)argc;                                                                        \
        (void)argv;                                                                        \
        fz_init();                                                                         \
        return 0;                                                                          \
    }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
