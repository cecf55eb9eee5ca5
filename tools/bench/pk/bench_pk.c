/* Power-spectrum benchmark helpers (driven by tools/bench/pk/run):
 *   bench_pk generate DIR NSIDE    NSIDE^3 CDM particles (perturbed lattice, box
 *                                  1000 Mpc/h, z = 0) as DIR/snapdir_004, 8 files
 *   bench_pk fft GRID THREADS [estimate|measure] [float32]
 *                                  the FFT alone on the same distributed mesh
 *                                  (default FFTW_MEASURE; float32: the mesh of
 *                                  summarize --pk-float32): mean and best of 5
 *                                  r2c, wall s, and the mean CPU s per r2c of
 *                                  this rank (getrusage: valid under load); and
 *                                  the process's first r2c alone
 *   bench_pk floor GRID NSIDE      what CIC painting of NSIDE^3
 *                                  particles (the perturbed lattice, in its
 *                                  order) costs at its least on a GRID^3 mesh: a
 *                                  read of the positions, the eight scattered
 *                                  read-modify-writes alone (offsets and
 *                                  contributions precomputed), the same as
 *                                  stores only, and ct_mesh_paint whole, on one
 *                                  core; the updates also on two threads; best
 *                                  of 3, ns per particle
 *   bench_pk touch GRID GAP [float32]
 *                                  the first-snapshot setup cost: creates (and so
 *                                  first-touches) a GRID^3 mesh three times, the
 *                                  memory freed GAP seconds before each later
 *                                  creation; wall time, system and user CPU
 *                                  seconds and page faults per creation
 *                                  (getrusage: the CPU figures and faults), so it
 *                                  means something on a loaded machine too;
 *                                  and how many pages of the huge page pool the
 *                                  mesh took (CT_HUGETLB=1)
 *   bench_pk overlap GRID NSIDE [REPS [float32]]
 *                                  a batch's steady state with painting on a
 *                                  second thread: the transform and binning of
 *                                  mesh A (ct_pk_measure_painted, as summarize
 *                                  calls it) on the main thread while a helper
 *                                  thread paints NSIDE^3 particles (the
 *                                  perturbed lattice, in memory, blocks of
 *                                  CT_PK_PAINT_BLOCK, accumulating) into mesh
 *                                  B, then the meshes swap; one rank, one
 *                                  thread per mesh. Wall s per snapshot (best
 *                                  and median of REPS, default 5) of the FFT
 *                                  alone, the paint alone, transform+binning
 *                                  alone, the two one after the other (today's
 *                                  steady state without the read) and the pair
 *                                  overlapped; the pair's ratio to the FFT
 *                                  alone; P0 sums of both orders (equal) */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cosmotl/io.h"
#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"

/* Particles first .. first + count of the perturbed lattice (nside^3 in a box
 * of side L, in lattice order): positions and, if vel is not NULL, velocities. */
static void lattice(int nside, double L, int64_t first, int64_t count, float *pos, float *vel)
{
    const double d = L / nside;
    for (int64_t q = 0; q < count; q++) {
        const int64_t g = first + q;
        const int64_t ix[3] = {g / ((int64_t)nside * nside), (g / nside) % nside, g % nside};
        ct_rng r;
        ct_rng_init(&r, 1, (uint64_t)g, 0);
        for (int a = 0; a < 3; a++) {
            const double x = fmod((ix[a] + 0.5) * d + 0.3 * d * ct_rng_normal(&r) + L, L);
            const double v = 300 * ct_rng_normal(&r);
            pos[3 * q + a] = (float)x;
            if (vel)
                vel[3 * q + a] = (float)v;
        }
    }
}

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
    const double L = 1000.0;
    lattice(nside, L, first, count, p.pos, p.vel);
    for (int64_t q = 0; q < count; q++)
        p.id[q] = (uint64_t)(first + q) + 1;
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

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
           (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

static int fft(int grid, int threads, int effort, int float32, MPI_Comm comm)
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
    ms.float32 = float32;
    ct_mesh *m = NULL;
    double t0 = MPI_Wtime();
    if (ct_mesh_create(&m, &ms, comm) != CT_OK) {
        fprintf(stderr, "bench_pk fft: %s\n", ct_error_message());
        return 1;
    }
    double tplan = MPI_Wtime() - t0, tsum = 0, tmin = 1e30, csum = 0, tfirst = 0;
    const int rep = 5;
    for (int i = 0; i < rep; i++) {
        ct_mesh_zero(m);
        MPI_Barrier(comm);
        t0 = MPI_Wtime();
        const double c0 = cpu_seconds();
        ct_mesh_r2c(m);
        csum += cpu_seconds() - c0;
        MPI_Barrier(comm);
        double dt = MPI_Wtime() - t0;
        tsum += dt;
        tmin = dt < tmin ? dt : tmin;
        if (i == 0)
            tfirst = dt;
    }
    if (rank == 0)
        printf("fft-alone%s grid=%d ranks=%d threads=%d r2c=%.4f s best=%.4f s cpu=%.4f s (%s "
               "plan %.1f s, mean and best of %d; the process's first r2c %.4f s)\n",
               float32 ? " float32" : "", grid, size, threads, tsum / rep, tmin, csum / rep,
               effort ? "measured" : "estimated", tplan, rep, tfirst);
    ct_mesh_destroy(&m);
    return 0;
}

/* The eight CIC read-modify-writes of particles i0 .. i1 at their base cells
 * off[i] in a (row and plane strides as the mesh's), all with one contribution. */
static void cic_updates(double *a, const uint32_t *off, int64_t i0, int64_t i1, int64_t row,
                        int64_t plane)
{
    for (int64_t i = i0; i < i1; i++) {
        double *r = a + off[i];
        r[0] += 0.125;
        r[1] += 0.125;
        r[row] += 0.125;
        r[row + 1] += 0.125;
        r[plane] += 0.125;
        r[plane + 1] += 0.125;
        r[plane + row] += 0.125;
        r[plane + row + 1] += 0.125;
    }
}

/* The same updates, with the four z+1 cells of a particle kept in registers for
 * the next particle when its base cell is the next one along z (the lattice
 * order makes that common): every cell still gets its additions in particle
 * order, one store each instead of two, and no store-to-load round trip between
 * neighbours. */
static void cic_updates_carry(double *a, const uint32_t *off, int64_t i0, int64_t i1,
                              int64_t row, int64_t plane)
{
    double p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    int64_t prev = -2;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t o = off[i];
        double *r = a + o;
        double v0, v1, v2, v3;
        if (o == prev + 1) {
            v0 = p0;
            v1 = p1;
            v2 = p2;
            v3 = p3;
        } else {
            if (prev >= 0) {
                double *q = a + prev + 1;
                q[0] = p0;
                q[row] = p1;
                q[plane] = p2;
                q[plane + row] = p3;
            }
            v0 = r[0];
            v1 = r[row];
            v2 = r[plane];
            v3 = r[plane + row];
        }
        r[0] = v0 + 0.125;
        r[row] = v1 + 0.125;
        r[plane] = v2 + 0.125;
        r[plane + row] = v3 + 0.125;
        p0 = r[1] + 0.125;
        p1 = r[row + 1] + 0.125;
        p2 = r[plane + 1] + 0.125;
        p3 = r[plane + row + 1] + 0.125;
        prev = o;
    }
    if (prev >= 0) {
        double *q = a + prev + 1;
        q[0] = p0;
        q[row] = p1;
        q[plane] = p2;
        q[plane + row] = p3;
    }
}

/* The least that CIC painting of the perturbed lattice can cost on one core:
 * the eight read-modify-writes per particle alone, with each particle's base
 * cell precomputed (4 bytes per particle) and the same contribution everywhere,
 * no index or weight arithmetic, no checks; then as plain stores; against a
 * read of the positions and ct_mesh_paint whole. Best of 3. */
static int floor_costs(int grid, int nside, MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    if (size != 1) {
        fprintf(stderr, "bench_pk floor: one rank\n");
        return 1;
    }
    const double L = 1000;
    const int64_t n = (int64_t)nside * nside * nside, N = grid;
    /* the mesh's row length; one more row per plane and one more plane, so that
     * the +1 neighbours need no wrapping */
    const int64_t row = 2 * (N / 2 + 1), plane = (N + 1) * row;
    float *pos = malloc(sizeof(float) * 3 * (size_t)n);
    uint32_t *off = malloc(sizeof(uint32_t) * (size_t)n);
    /* two arrays: in the two-thread timing each thread updates its own */
    double *a = calloc(2 * (size_t)(N + 1) * (size_t)plane, sizeof(double));
    if (!pos || !off || !a || (N + 1) * plane > (int64_t)UINT32_MAX) {
        fprintf(stderr, "bench_pk floor: out of memory or grid too large\n");
        return 1;
    }
    lattice(nside, L, 0, n, pos, NULL);
    for (int64_t i = 0; i < 3 * n; i++)
        pos[i] = pos[i] < (float)L ? pos[i] : 0.0f; /* as the exchange wraps them */
    const double ih = N / L;
    for (int64_t i = 0; i < n; i++)
        off[i] = (uint32_t)((int64_t)(pos[3 * i] * ih) * plane +
                            (int64_t)(pos[3 * i + 1] * ih) * row + (int64_t)(pos[3 * i + 2] * ih));
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = grid;
    ms.box = L;
    ms.threads = 1;
    ct_mesh *m = NULL;
    if (ct_mesh_create(&m, &ms, comm) != CT_OK) {
        fprintf(stderr, "bench_pk floor: %s\n", ct_error_message());
        return 1;
    }
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    double best[6] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30}, sink = 0;
    int64_t carried = 0;
    for (int64_t i = 1; i < n; i++)
        carried += off[i] == off[i - 1] + 1;
    for (int rep = 0; rep < 3; rep++) {
        double t[7];
        t[0] = MPI_Wtime();
        float acc[16] = {0}; /* independent sums: the read, not the adds, is timed */
        for (int64_t i = 0; i + 16 <= 3 * n; i += 16)
            for (int q = 0; q < 16; q++)
                acc[q] += pos[i + q];
        for (int q = 0; q < 16; q++)
            sink += acc[q];
        t[1] = MPI_Wtime();
        cic_updates(a, off, 0, n, row, plane);
        t[2] = MPI_Wtime();
        for (int64_t i = 0; i < n; i++) {
            double *r = a + off[i];
            r[0] = 0.125;
            r[1] = 0.125;
            r[row] = 0.125;
            r[row + 1] = 0.125;
            r[plane] = 0.125;
            r[plane + 1] = 0.125;
            r[plane + row] = 0.125;
            r[plane + row + 1] = 0.125;
        }
        t[3] = MPI_Wtime();
        if (ct_mesh_paint(m, &ps, n, pos, NULL, 1.0) != CT_OK) {
            fprintf(stderr, "bench_pk floor: %s\n", ct_error_message());
            return 1;
        }
        t[4] = MPI_Wtime();
        /* the updates on two threads, each on its half of the particles (its
         * half of the planes) and its own array: how the bound scales */
#pragma omp parallel num_threads(2)
        {
            const int th = omp_get_thread_num();
            double *b = a + (size_t)th * (size_t)(N + 1) * (size_t)plane;
            cic_updates(b, off, n * th / 2, n * (th + 1) / 2, row, plane);
        }
        t[5] = MPI_Wtime();
        cic_updates_carry(a, off, 0, n, row, plane);
        t[6] = MPI_Wtime();
        for (int q = 0; q < 6; q++)
            best[q] = t[q + 1] - t[q] < best[q] ? t[q + 1] - t[q] : best[q];
    }
    sink += a[off[n / 2]];
    const double ns = 1e9 / (double)n;
    printf("floor grid=%d particles=%lld: one core: read positions %.2f ns; 8 scattered "
           "updates alone %.2f ns = %.4f s; as stores only %.2f ns; ct_mesh_paint %.2f ns = "
           "%.4f s per particle; the updates alone on two threads %.4f s; one core with "
           "the next particle's z cells carried in registers (%.0f%% of particles) %.2f ns = "
           "%.4f s%s\n",
           grid, (long long)n, best[0] * ns, best[1] * ns, best[1], best[2] * ns, best[3] * ns,
           best[3], best[4], 100.0 * (double)carried / (double)n, best[5] * ns, best[5],
           sink == 0 ? " (check failed)" : "");
    ct_mesh_destroy(&m);
    free(pos);
    free(off);
    free(a);
    return 0;
}

static double tv(struct timeval t) { return (double)t.tv_sec + 1e-6 * (double)t.tv_usec; }

/* HugePages_Free of /proc/meminfo (-1 if unreadable): with CT_HUGETLB=1 the
 * meshes come from that pool */
static long huge_free(void) { return (long)ct_meminfo("HugePages_Free"); }

static double now(void);

static int touch_cost(int grid, int gap, int float32, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = grid;
    ms.box = 1000.0;
    ms.float32 = float32;
    for (int k = 0; k < 3; k++) {
        if (k > 0 && gap > 0)
            sleep((unsigned)gap);
        struct rusage r0, r1;
        const long hf0 = huge_free();
        getrusage(RUSAGE_SELF, &r0);
        const double w0 = now();
        ct_mesh *m = NULL;
        if (ct_mesh_create(&m, &ms, comm) != CT_OK) {
            fprintf(stderr, "bench_pk touch: %s\n", ct_error_message());
            return 1;
        }
        const double w1 = now();
        getrusage(RUSAGE_SELF, &r1);
        const long hf1 = huge_free();
        ct_mesh_destroy(&m);
        double v[4] = {tv(r1.ru_stime) - tv(r0.ru_stime), tv(r1.ru_utime) - tv(r0.ru_utime),
                       (double)(r1.ru_minflt - r0.ru_minflt), w1 - w0};
        MPI_Allreduce(MPI_IN_PLACE, v, 4, MPI_DOUBLE, MPI_MAX, comm);
        if (rank == 0)
            printf("touch%s grid=%d creation %d (%s): wall %.3f s, system %.3f s user %.3f s, "
                   "%.0f page faults (wall, cpu seconds and faults of the slowest rank); huge "
                   "page pool: %ld of %ld free pages taken (node)\n",
                   float32 ? " float32" : "", grid, k, k == 0 ? "fresh process" : gap > 0 ? "memory idle before" : "memory just freed",
                   v[3], v[0], v[1], v[2], hf0 - hf1, hf0);
        fflush(stdout);
    }
    return 0;
}

/* bench_pk overlap: see the top of the file */
typedef struct {
    ct_mesh *m;
    int64_t n;
    const float *pos;
    ct_status rc;
    double wall; /* seconds of this thread's paint */
} paint_job;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* All particles into j->m in blocks of CT_PK_PAINT_BLOCK (the first zeroes it),
 * as summarize streams a snapshot on one rank; no MPI call (one-rank mesh). */
static void *paint_main(void *arg)
{
    paint_job *j = arg;
    const double t0 = now();
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    ps.mas = CT_MAS_CIC;
    j->rc = CT_OK;
    for (int64_t i = 0; i < j->n && j->rc == CT_OK; i += CT_PK_PAINT_BLOCK) {
        const int64_t c = j->n - i < CT_PK_PAINT_BLOCK ? j->n - i : CT_PK_PAINT_BLOCK;
        ps.accumulate = i > 0;
        j->rc = ct_mesh_paint(j->m, &ps, c, j->pos + 3 * i, NULL, 1.0);
    }
    j->wall = now() - t0;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* best and median of v[0..n) (sorts v) */
static void best_median(double *v, int n, double *best, double *med)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *best = v[0];
    *med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double p0_sum(const ct_pk_result *r)
{
    double s = 0;
    for (int i = 0; i < r->nbins; i++)
        s += r->P0[i];
    return s;
}

static int overlap(int grid, int nside, int reps, int float32, MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    if (size != 1 || reps < 1 || reps > 100) {
        fprintf(stderr, "bench_pk overlap: one rank, 1 <= REPS <= 100\n");
        return 1;
    }
    const double L = 1000;
    const int64_t n = (int64_t)nside * nside * nside;
    float *pos = malloc(sizeof(float) * 3 * (size_t)n);
    if (!pos) {
        fprintf(stderr, "bench_pk overlap: out of memory\n");
        return 1;
    }
    lattice(nside, L, 0, n, pos, NULL);
    for (int64_t i = 0; i < 3 * n; i++)
        pos[i] = pos[i] < (float)L ? pos[i] : 0.0f; /* as the exchange wraps them */
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = grid;
    ms.box = L;
    ms.threads = 1;
    ms.plan_effort = 0;
    ms.float32 = float32;
    ct_mesh *mesh[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (ct_mesh_create(&mesh[k], &ms, comm) != CT_OK) {
            fprintf(stderr, "bench_pk overlap: %s\n", ct_error_message());
            return 1;
        }
    ct_pk_settings pk;
    ct_pk_settings_defaults(&pk);
    pk.discard_field = 1;
    pk.float32 = float32;
    const double sw = (double)n;
    enum { FFT, PAINT, MEASURE, SEQ, PAIR, NT };
    double t[NT][100], pair_main[100], pair_paint[100], sum_seq = 0, sum_pair = 0;
    int bad = 0;
    /* the FFT alone; the paint alone; transform and binning alone; then both,
     * one after the other */
    for (int r = 0; r < reps && !bad; r++) {
        paint_job j = {mesh[0], n, pos, CT_OK, 0};
        ct_mesh_zero(mesh[1]);
        double t0 = now();
        ct_mesh_r2c(mesh[1]);
        t[FFT][r] = now() - t0;
        paint_main(&j);
        t[PAINT][r] = j.wall;
        ct_pk_result res;
        t0 = now();
        bad |= j.rc != CT_OK ||
               ct_pk_measure_painted(mesh[0], NULL, &pk, sw, sw, n, &res) != CT_OK;
        t[MEASURE][r] = now() - t0;
        t0 = now();
        paint_main(&j);
        bad |= j.rc != CT_OK ||
               ct_pk_measure_painted(mesh[0], NULL, &pk, sw, sw, n, &res) != CT_OK;
        t[SEQ][r] = now() - t0;
        sum_seq = p0_sum(&res);
        ct_pk_result_free(&res);
    }
    /* the pair: mesh `cur` measured here while the helper paints the other; the
     * first is painted before the clock starts */
    int cur = 0;
    paint_job first = {mesh[cur], n, pos, CT_OK, 0};
    paint_main(&first);
    bad |= first.rc != CT_OK;
    for (int r = 0; r < reps && !bad; r++) {
        paint_job j = {mesh[1 - cur], n, pos, CT_OK, 0};
        pthread_t th;
        const double t0 = now();
        if (pthread_create(&th, NULL, paint_main, &j) != 0) {
            bad = 1;
            break;
        }
        ct_pk_result res;
        bad |= ct_pk_measure_painted(mesh[cur], NULL, &pk, sw, sw, n, &res) != CT_OK;
        pair_main[r] = now() - t0;
        pthread_join(th, NULL);
        t[PAIR][r] = now() - t0;
        pair_paint[r] = j.wall;
        bad |= j.rc != CT_OK;
        sum_pair = p0_sum(&res);
        ct_pk_result_free(&res);
        cur = 1 - cur;
    }
    if (bad) {
        fprintf(stderr, "bench_pk overlap: %s\n", ct_error_message());
        return 1;
    }
    double best[NT], med[NT], bm, mm, bp, mp;
    for (int k = 0; k < NT; k++)
        best_median(t[k], reps, &best[k], &med[k]);
    best_median(pair_main, reps, &bm, &mm);
    best_median(pair_paint, reps, &bp, &mp);
    const char *tag = float32 ? " float32" : "";
    printf("overlap%s grid=%d particles=%lld (wall s, best / median of %d; one thread per mesh):\n",
           tag, grid, (long long)n, reps);
    printf("  fft alone %.3f / %.3f; paint alone %.3f / %.3f; transform+binning alone %.3f / %.3f\n",
           best[FFT], med[FFT], best[PAINT], med[PAINT], best[MEASURE], med[MEASURE]);
    printf("  one after the other %.3f / %.3f = %.2f / %.2f x fft alone\n", best[SEQ], med[SEQ],
           best[SEQ] / best[FFT], med[SEQ] / med[FFT]);
    printf("  overlapped pair %.3f / %.3f = %.2f / %.2f x fft alone (main thread's "
           "transform+binning %.3f / %.3f, helper's paint %.3f / %.3f)\n",
           best[PAIR], med[PAIR], best[PAIR] / best[FFT], med[PAIR] / med[FFT], bm, mm, bp, mp);
    printf("  sum of P0: one after the other %.17g, overlapped %.17g (%s)\n", sum_seq, sum_pair,
           sum_seq == sum_pair ? "equal" : "DIFFERENT");
    ct_mesh_destroy(&mesh[0]);
    ct_mesh_destroy(&mesh[1]);
    free(pos);
    return sum_seq == sum_pair ? 0 : 1;
}

int main(int argc, char **argv)
{
    int prov;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    int rc = 2;
    if (argc == 4 && !strcmp(argv[1], "generate"))
        rc = generate(argv[2], atoi(argv[3]), MPI_COMM_WORLD);
    else if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "fft"))
        rc = fft(atoi(argv[2]), atoi(argv[3]), argc >= 5 && !strcmp(argv[4], "estimate") ? 0 : 1,
                 argc == 6 && !strcmp(argv[5], "float32"), MPI_COMM_WORLD);
    else if (argc == 4 && !strcmp(argv[1], "floor"))
        rc = floor_costs(atoi(argv[2]), atoi(argv[3]), MPI_COMM_WORLD);
    else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "touch"))
        rc = touch_cost(atoi(argv[2]), atoi(argv[3]), argc == 5 && !strcmp(argv[4], "float32"),
                        MPI_COMM_WORLD);
    else if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "overlap"))
        rc = overlap(atoi(argv[2]), atoi(argv[3]), argc >= 5 ? atoi(argv[4]) : 5,
                     argc == 6 && !strcmp(argv[5], "float32"), MPI_COMM_WORLD);
    else
        fprintf(stderr, "usage: bench_pk generate DIR NSIDE | fft GRID THREADS [PLAN [float32]] | floor GRID NSIDE | "
                        "touch GRID GAP [float32] | overlap GRID NSIDE [REPS [float32]]\n");
    MPI_Finalize();
    return rc;
}
