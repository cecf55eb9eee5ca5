/* Snapshot read benchmark.
 *   bench_snapshot_read generate DIR NSIDE NFILES   write NSIDE^3 CDM particles
 *   bench_snapshot_read read DIR [--cold] [--repeat R]
 * `read` opens DIR (a snapdir or file), reads positions, velocities and IDs of
 * type 1 partitioned over the ranks and prints one line: particles, file bytes
 * read, seconds (best of R, max over ranks), GB/s and peak resident memory per
 * rank (min/max). --cold asks the kernel to drop the files from the page cache
 * first (posix_fadvise DONTNEED), so the disk is measured, not memory. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/io.h"

static int usage(void)
{
    fprintf(stderr, "usage: bench_snapshot_read generate DIR NSIDE NFILES\n"
                    "       bench_snapshot_read read DIR [--cold] [--repeat R]\n");
    return 2;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_snapshot_read %s: error: %s\n", what, ct_error_message());
    return 1;
}

static int generate(const char *dir, int nside, int nfiles, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int64_t n = (int64_t)nside * nside * nside;
    int64_t first, count;
    ct_partition_range(n, size, rank, &first, &count);
    ct_particles p = {0};
    p.n = count;
    p.pos = malloc((size_t)count * 3 * sizeof(float) + 1);
    p.vel = malloc((size_t)count * 3 * sizeof(float) + 1);
    p.id = malloc((size_t)count * sizeof(uint64_t) + 1);
    if (!p.pos || !p.vel || !p.id) {
        fprintf(stderr, "bench_snapshot_read: out of memory\n");
        return 1;
    }
    const double box = 1000.0, cell = box / nside;
    p.mass_uniform = 0.3175 * 27.75 * box * box * box / (double)n; /* 1e10 Msun/h */
    for (int64_t i = 0; i < count; i++) {
        int64_t g = first + i;
        int64_t q[3] = {g / ((int64_t)nside * nside), (g / nside) % nside, g % nside};
        ct_rng r;
        ct_rng_init(&r, 1234, (uint64_t)g, 0);
        for (int a = 0; a < 3; a++) {
            double x = (q[a] + 0.5) * cell + 3.0 * ct_rng_normal(&r);
            x -= box * (x >= box ? 1 : 0);
            x += box * (x < 0 ? 1 : 0);
            p.pos[3 * i + a] = (float)x < (float)box ? (float)x : 0.0f;
            p.vel[3 * i + a] = (float)(300.0 * ct_rng_normal(&r));
        }
        p.id[i] = (uint64_t)g + 1;
    }
    ct_snapshot_header h;
    memset(&h, 0, sizeof h);
    h.box = box;
    h.time = 1;
    h.omega_m = 0.3175;
    h.omega_l = 0.6825;
    h.hubble = 0.6711;
    ct_write_settings ws;
    ct_write_settings_defaults(&ws);
    ws.nfiles = nfiles;
    const ct_particles *parts[6] = {NULL, &p, NULL, NULL, NULL, NULL};
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    ct_status s = ct_snapshot_write(dir, &h, parts, &ws, comm);
    double t = MPI_Wtime() - t0;
    ct_particles_free(&p);
    if (s != CT_OK)
        return fail("generate");
    if (rank == 0)
        printf("generate: %lld particles in %d files, %d rank(s): %.3f s, %.3f GB/s written\n",
               (long long)n, nfiles, size, t, (double)n * 28 / t / 1e9);
    return 0;
}

static void drop_cache(const ct_snapshot *snap)
{
    for (int f = 0; f < ct_snapshot_nfiles(snap); f++) {
        int fd = open(ct_snapshot_file_path(snap, f), O_RDONLY);
        if (fd < 0)
            continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

static int read_bench(const char *dir, int cold, int repeat, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double best = 1e300;
    int64_t n = 0;
    for (int r = 0; r < repeat; r++) {
        ct_snapshot *snap = NULL;
        if (cold && rank == 0) {
            if (ct_snapshot_open(&snap, dir, MPI_COMM_SELF) == CT_OK)
                drop_cache(snap);
            ct_snapshot_close(&snap);
        }
        MPI_Barrier(comm);
        double t0 = MPI_Wtime();
        if (ct_snapshot_open(&snap, dir, comm) != CT_OK)
            return fail("read");
        ct_particles p;
        ct_status s = ct_snapshot_read(snap, 1, NULL, &p);
        double t = MPI_Wtime() - t0;
        n = ct_snapshot_get_header(snap)->npart_total[1];
        ct_snapshot_close(&snap);
        if (s != CT_OK)
            return fail("read");
        ct_particles_free(&p);
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm);
        best = t < best ? t : best;
    }
    double peak = (double)ct_mem_peak(), pmin, pmax;
    MPI_Allreduce(&peak, &pmin, 1, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(&peak, &pmax, 1, MPI_DOUBLE, MPI_MAX, comm);
    const double bytes = (double)n * 28; /* f4 x3 + f4 x3 + u4 per particle in the files */
    if (rank == 0)
        printf("read: %lld particles, %d rank(s), %s cache: %.3f s, %.3f GB/s, peak RSS per "
               "rank %.0f-%.0f MB (particle data %.0f MB per rank)\n",
               (long long)n, size, cold ? "cold" : "warm", best, bytes / best / 1e9,
               pmin / 1e6, pmax / 1e6, (double)n / size * 32 / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    int prov;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    int rc;
    if (argc == 5 && !strcmp(argv[1], "generate")) {
        rc = generate(argv[2], atoi(argv[3]), atoi(argv[4]), MPI_COMM_WORLD);
    } else if (argc >= 3 && !strcmp(argv[1], "read")) {
        int cold = 0, repeat = 1;
        rc = 0;
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "--cold"))
                cold = 1;
            else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
                repeat = atoi(argv[++i]);
            else
                rc = usage();
        }
        if (!rc)
            rc = read_bench(argv[2], cold, repeat < 1 ? 1 : repeat, MPI_COMM_WORLD);
    } else {
        rc = usage();
    }
    MPI_Finalize();
    return rc;
}
