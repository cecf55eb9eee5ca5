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
