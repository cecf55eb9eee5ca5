/* Power-spectrum benchmark helpers (driven by tools/bench/pk/run):
 *   bench_pk generate DIR NSIDE    NSIDE^3 CDM particles (perturbed lattice, box
 *                                  1000 Mpc/h, z = 0) as DIR/snapdir_004, 8 files
 *   bench_pk fft GRID THREADS [estimate|measure]
 *                                  the FFT alone on the same distributed mesh
 *                                  (default FFTW_MEASURE): mean of 5 r2c, wall s */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/io.h"
#include "cosmotl/mesh.h"

static int generate(const char *dir, int nside, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int64_t ntot = (int64_t)nside * nside * nside;
    int64_t first, count;
    ct_partition_range(ntot, size, rank, &first, &count);
    ct_particles p;
    memset(&p, 0, sizeof p);
    p.n = count;
    p.pos = malloc(sizeof(float) * 3 * (count + 1));
    p.vel = malloc(sizeof(float) * 3 * (count + 1));
    p.id = malloc(sizeof(uint64_t) * (count + 1));
    const double L = 1000.0, d = L / nside;
    for (int64_t q = 0; q < count; q++) {
        int64_t g = first + q;
        int64_t ix[3] = {g / ((int64_t)nside * nside), (g / nside) % nside, g % nside};
        ct_rng r;
        ct_rng_init(&r, 1, (uint64_t)g, 0);
        for (int a = 0; a < 3; a++) {
            double x = fmod((ix[a] + 0.5) * d + 0.3 * d * ct_rng_normal(&r) + L, L);
            p.pos[3 * q + a] = (float)x;
            p.vel[3 * q + a] = (float)(300 * ct_rng_normal(&r));
        }
        p.id[q] = (uint64_t)g + 1;
    }
    ct_snapshot_header h;
    memset(&h, 0, sizeof h);
    h.box = L;
    h.time = 1;
    h.omega_m = 0.3175;
    h.omega_l = 0.6825;
    h.hubble = 0.6711;
    h.mass_table[1] = 0.3175 * 27.75 * 1e9 / (double)ntot;
    const ct_particles *parts[6] = {NULL, &p, NULL, NULL, NULL, NULL};
    ct_write_settings ws;
    ct_write_settings_defaults(&ws);
    ws.nfiles = 8;
    ct_status s = ct_snapshot_write(dir, &h, parts, &ws, comm);
    ct_particles_free(&p);
    if (s != CT_OK) {
        fprintf(stderr, "bench_pk generate: %s\n", ct_error_message());
        return 1;
    }
    return 0;
}

static int fft(int grid, int threads, int effort, MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = grid;
    ms.box = 1000;
    ms.threads = threads;
    ms.plan_effort = effort;
    ct_mesh *m = NULL;
    double t0 = MPI_Wtime();
    if (ct_mesh_create(&m, &ms, comm) != CT_OK) {
        fprintf(stderr, "bench_pk fft: %s\n", ct_error_message());
        return 1;
    }
    double tplan = MPI_Wtime() - t0, tsum = 0, tmin = 1e30;
    const int rep = 5;
    for (int i = 0; i < rep; i++) {
        ct_mesh_zero(m);
        MPI_Barrier(comm);
        t0 = MPI_Wtime();
        ct_mesh_r2c(m);
        MPI_Barrier(comm);
        double dt = MPI_Wtime() - t0;
        tsum += dt;
        tmin = dt < tmin ? dt : tmin;
    }
    if (rank == 0)
        printf("fft-alone grid=%d ranks=%d threads=%d r2c=%.4f s best=%.4f s (%s plan %.1f s, "
               "mean and best of %d)\n",
               grid, size, threads, tsum / rep, tmin, effort ? "measured" : "estimated", tplan,
               rep);
    ct_mesh_destroy(&m);
    return 0;
}

int main(int argc, char **argv)
{
    int prov;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    int rc = 2;
    if (argc == 4 && !strcmp(argv[1], "generate"))
        rc = generate(argv[2], atoi(argv[3]), MPI_COMM_WORLD);
    else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "fft"))
        rc = fft(atoi(argv[2]), atoi(argv[3]), argc == 5 && !strcmp(argv[4], "estimate") ? 0 : 1,
                 MPI_COMM_WORLD);
    else
        fprintf(stderr, "usage: bench_pk generate DIR NSIDE | fft GRID THREADS\n");
    MPI_Finalize();
    return rc;
}
