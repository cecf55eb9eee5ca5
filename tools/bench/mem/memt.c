/* memt: what touching 1 GiB of anonymous memory costs in different states
 * (issue 20 point 1: the first snapshot's fresh memory; docs/benchmarks.md,
 * "Two ranks, first snapshot: what is left"). No cosmotl code: a probe of the
 * machine. Usage: memt STEP... where the steps run in order in this process:
 *   fresh    mmap a new GiB and memset it (first touch); it becomes "cur"
 *            (the previous cur stays mapped: `fresh fresh ...` grows)
 *   again    memset cur again (already faulted: the memset alone)
 *   unmap    munmap cur (its pages go back to the kernel)
 *   sleepN   sleep N seconds
 *   pop      mmap a new GiB with MAP_POPULATE (timed as pop-mmap), then memset
 *   popw     mmap a new GiB, madvise(MADV_POPULATE_WRITE) (popw-adv), memset
 *   thp      mmap a new 2 MiB-aligned GiB, madvise(MADV_HUGEPAGE), memset
 *   dontneed madvise(cur, MADV_DONTNEED); touch: memset cur again
 * Prints per step: wall, user and system seconds, minor page faults, and the
 * MiB the kernel's free page reporting handed to the host meanwhile
 * (/sys/module/page_reporting/parameters/reported_kib, where it exists). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define GIB ((size_t)1 << 30)
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static long reported(void) { FILE *f = fopen("/sys/module/page_reporting/parameters/reported_kib", "r"); long v = -1; if (f) { if (fscanf(f, "%ld", &v) != 1) v = -1; fclose(f); } return v; }
typedef struct { double w, u, s; long flt; long rep; } snap;
static snap take(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); snap x = { now(), r.ru_utime.tv_sec + 1e-6 * r.ru_utime.tv_usec, r.ru_stime.tv_sec + 1e-6 * r.ru_stime.tv_usec, r.ru_minflt, reported() }; return x; }
static void show(const char *what, snap a, snap b) { printf("%-10s wall %.3f user %.3f sys %.3f faults %ld reported_mib %.0f\n", what, b.w - a.w, b.u - a.u, b.s - a.s, b.flt - a.flt, (b.rep - a.rep) / 1024.0); fflush(stdout); }
int main(int argc, char **argv)
{
    char *cur = NULL;
    for (int i = 1; i < argc; i++) {
        const char *m = argv[i];
        if (!strncmp(m, "sleep", 5)) { sleep(atoi(m + 5)); continue; }
        if (!cur && (!strcmp(m, "again") || !strcmp(m, "unmap") || !strcmp(m, "dontneed") ||
                     !strcmp(m, "touch"))) {
            fprintf(stderr, "memt: %s needs a GiB from fresh, pop, popw or thp before it\n", m);
            return 2;
        }
        snap a = take();
        if (!strcmp(m, "fresh")) {
            cur = mmap(NULL, GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (cur == MAP_FAILED) { perror("memt: mmap"); return 1; }
            memset(cur, 1, GIB);
        } else if (!strcmp(m, "again")) {
            memset(cur, 2, GIB);
        } else if (!strcmp(m, "unmap")) {
            munmap(cur, GIB); cur = NULL;
        } else if (!strcmp(m, "dontneed")) {
            madvise(cur, GIB, MADV_DONTNEED);
        } else if (!strcmp(m, "pop")) {
            cur = mmap(NULL, GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
            if (cur == MAP_FAILED) { perror("memt: mmap"); return 1; }
            snap b = take(); show("pop-mmap", a, b); a = b;
            memset(cur, 1, GIB);
        } else if (!strcmp(m, "popw")) {
            cur = mmap(NULL, GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (cur == MAP_FAILED) { perror("memt: mmap"); return 1; }
            if (madvise(cur, GIB, MADV_POPULATE_WRITE)) perror("madvise");
            snap b = take(); show("popw-adv", a, b); a = b;
            memset(cur, 1, GIB);
        } else if (!strcmp(m, "thp")) { /* 1 GiB, 2 MiB aligned, MADV_HUGEPAGE, memset */
            char *r = mmap(NULL, GIB + ((size_t)2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (r == MAP_FAILED) { perror("memt: mmap"); return 1; }
            cur = (char *)(((unsigned long)r + ((2UL << 20) - 1)) & ~((2UL << 20) - 1));
            if (madvise(cur, GIB, MADV_HUGEPAGE))
                perror("madvise");
            memset(cur, 1, GIB);
        } else if (!strcmp(m, "touch")) { /* memset of cur after dontneed */
            memset(cur, 3, GIB);
        } else { fprintf(stderr, "unknown %s\n", m); return 2; }
        show(m, a, take());
    }
    return 0;
}
