/* Bispectrum benchmark: the Quijote configuration (dk = 3 kF, k1 <= 78 kF, 1898
 * triangles) on a Gaussian field at a given grid, on however many ranks it is
 * started with. Reports wall time (counts computed and then cached, B alone),
 * shell transforms, fields resident, peak memory per rank; optionally times the
 * older per-triangle approach (three fresh shell FFTs per triangle) on the
 * triangles up to a smaller kmax and scales it per triangle to the full set.
 *
 * With --mk NPART it instead times P(k) and the marked spectrum (M and X) of NPART
 * uniformly random particles on the grid (marks from a white-noise-like field).
 *
 *   bench_bk --grid 256 [--box 1000] [--mem-budget GiB] [--threads T]
 *            [--per-triangle-kmax K] [--cache DIR] [--mk NPART] [--f32 0|1|2] [--kmax K]
 *
 * --f32 1: B with float32 shells; 2: both, float64 first, and the largest
 * relative difference of B over the triangles.                               */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"

static double now(MPI_Comm c)
{
    MPI_Barrier(c);
    return MPI_Wtime();
}

/* CPU seconds of this process: on a loaded machine the wall time mostly measures
 * the other jobs, the CPU time what the estimator costs */
static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double max_over(double v, MPI_Comm c)
{
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, c);
    return v;
}

int main(int argc, char **argv)
{
    int prov;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
    MPI_Comm comm = MPI_COMM_WORLD;
    int me, size;
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &size);
    ct_log_setup(comm, CT_LOG_WARN);
    long grid = 256, threads = 1, mk_np = 0;
    int f32 = 0;
    double kmax = 78; /* Quijote: 1898 triangles */
    double box = 1000, budget_gib = 0, pt_kmax = 0;
    const char *cache = "/tmp/cosmotl-bench-bk-cache";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--grid"))
            grid = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--box"))
            box = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--mem-budget"))
            budget_gib = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--per-triangle-kmax"))
            pt_kmax = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--cache"))
            cache = argv[i + 1];
        else if (!strcmp(argv[i], "--mk"))
            mk_np = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--kmax"))
            kmax = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--f32"))
            f32 = atoi(argv[i + 1]);
        else {
            if (me == 0)
                fprintf(stderr, "bench_bk: unknown option %s\n", argv[i]);
            MPI_Finalize();
            return 2;
        }
    }
    ct_status rc = CT_OK;
    ct_mesh *m = NULL, *w = NULL;
    float *pos = NULL;
    ct_pk_result pk;
    ct_mk_result mk;
    memset(&pk, 0, sizeof pk);
    memset(&mk, 0, sizeof mk);
    ct_bk_result *r = NULL;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = grid;
    ms.box = box;
    ms.threads = (int)threads;
    double t0 = now(comm);
    CT_CHECK_GOTO(rc, ct_mesh_create(&m, &ms, comm));
    if (mk_np > 0) {
        /* this rank's share of the particles, then to their slab owners */
        int64_t n = mk_np / size + (me < mk_np % size);
        CT_CHECK_GOTO(rc, ct_calloc(&pos, (size_t)(3 * n + 3), sizeof *pos, "positions"));
        for (int64_t i = 0; i < n; i++) {
            ct_rng g;
            ct_rng_init(&g, 2, (uint64_t)me, (uint64_t)i);
            for (int a = 0; a < 3; a++) {
                pos[3 * i + a] = (float)(box * ct_rng_uniform(&g));
                if (pos[3 * i + a] >= (float)box)
                    pos[3 * i + a] = 0;
            }
        }
        CT_CHECK_GOTO(rc, ct_mesh_create(&w, &ms, comm));
        CT_CHECK_GOTO(rc, ct_mesh_exchange(m, &n, &pos, 0, NULL));
        ct_pk_settings ps;
        ct_pk_settings_defaults(&ps);
        ct_pk_particles set = {n, pos, NULL, 1.0};
        ct_mk_settings mks;
        ct_mk_settings_defaults(&mks);
        t0 = now(comm);
        double c0 = cpu();
        CT_CHECK_GOTO(rc, ct_pk_measure(m, NULL, &ps, 1, &set, &pk));
        double c_pk = max_over(cpu() - c0, comm), t_pk = now(comm) - t0;
        t0 = now(comm);
        c0 = cpu();
        CT_CHECK_GOTO(rc, ct_mk_measure(m, w, NULL, &ps, &mks, 1, &set, &mk));
        double c_mk = max_over(cpu() - c0, comm), t_mk = now(comm) - t0;
        double peak = max_over((double)ct_mem_peak(), comm);
        if (me == 0)
            printf("grid=%ld ranks=%d particles=%ld pk_s=%.2f (cpu %.2f) mk_s=%.2f (cpu %.2f) "
                   "[M and X] peak_rss_gib_per_rank=%.2f\n",
                   grid, size, mk_np, t_pk, c_pk, t_mk, c_mk, peak / 1073741824.0);
        goto fail;
    }
    {
        /* white noise: the cost does not depend on the field */
        ptrdiff_t x0, nx, row = ct_mesh_row(m);
        ct_mesh_local(m, &x0, &nx);
        ct_real *f = ct_mesh_real(m);
        for (ptrdiff_t i = 0; i < nx; i++)
            for (long j = 0; j < grid; j++)
                for (long l = 0; l < grid; l++) {
                    ct_rng g;
                    ct_rng_init(&g, 1, 0, (uint64_t)(((x0 + i) * grid + j) * grid + l));
                    f[(i * grid + j) * row + l] = ct_rng_normal(&g);
                }
    }
    CT_CHECK_GOTO(rc, ct_mesh_r2c(m));
    double t_setup = now(comm) - t0;

    ct_bk_settings s;
    ct_bk_settings_defaults(&s);
    s.mem_budget = budget_gib * 1073741824.0;
    s.cache_dir = cache;
    s.shell_f32 = f32 == 1;
    s.kmax = kmax;
    /* first call: counts computed (or found in the cache) */
    t0 = now(comm);
    double c0 = cpu();
    CT_CHECK_GOTO(rc, ct_bk_measure(m, &s, 0.0, &r));
    double c_first = max_over(cpu() - c0, comm);
    double t_first = now(comm) - t0;
    double t_counts = r->time_counts;
    ct_bk_result_destroy(&r);
    /* second call: counts from the cache, as every later simulation of a suite */
    t0 = now(comm);
    c0 = cpu();
    CT_CHECK_GOTO(rc, ct_bk_measure(m, &s, 0.0, &r));
    double c_cached = max_over(cpu() - c0, comm);
    double t_cached = now(comm) - t0;
    double peak = (double)ct_mem_peak(), peak_max = 0, load = 0;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1)
            load = 0;
        fclose(lf);
    }
    MPI_Reduce(&peak, &peak_max, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    if (me == 0)
        printf("grid=%ld ranks=%d threads=%ld triangles=%d shells=%d passes=%ld "
               "shell_ffts=%ld setup_s=%.2f first_s=%.2f (cpu %.2f) counts_s=%.2f cached_s=%.2f "
               "(cpu %.2f) fill_s=%.2f sums_s=%.2f peak_rss_gib_per_rank=%.2f load=%.1f\n",
               grid, size, threads, r->ntri, r->nshell, r->nchunk, r->nfill, t_setup,
               t_first, c_first, t_counts, t_cached, c_cached, r->time_fill, r->time_sums,
               peak_max / 1073741824.0, load);
    int ntri_full = r->ntri;
    if (f32 == 2) {
        /* the float32 shells on the same field: time and max |B32 - B64| / |B64| */
        ct_bk_settings s32 = s;
        s32.shell_f32 = 1;
        ct_bk_result *r32 = NULL;
        t0 = now(comm);
        c0 = cpu();
        CT_CHECK_GOTO(rc, ct_bk_measure(m, &s32, 0.0, &r32));
        double c32 = max_over(cpu() - c0, comm), t32 = now(comm) - t0;
        /* on a zero-mean field B crosses zero from triangle to triangle, so the
         * relative difference is large where |B| is small: also the number of
         * triangles beyond 1e-6 */
        double worst = 0;
        int nb = 0, nover = 0;
        for (int t = 0; t < r->ntri; t++)
            if (r->counts[t] > 0) {
                double d = fabs(r32->B[t] - r->B[t]) / fabs(r->B[t]);
                worst = d > worst ? d : worst;
                nover += d > 1e-6;
                nb++;
            }
        double peak32 = max_over((double)ct_mem_peak(), comm);
        if (me == 0)
            printf("f32: grid=%ld ranks=%d passes=%ld cached_s=%.2f (cpu %.2f) fill_s=%.2f "
                   "sums_s=%.2f peak_rss_gib_per_rank=%.2f max_rel_dB=%.3g over %d triangles, "
                   "%d beyond 1e-6\n",
                   grid, size, r32->nchunk, t32, c32, r32->time_fill, r32->time_sums,
                   peak32 / 1073741824.0, worst, nb, nover);
        ct_bk_result_destroy(&r32);
    }
    ct_bk_result_destroy(&r);

    if (pt_kmax > 0) {
        ct_bk_settings p = s;
        p.kmax = pt_kmax;
        p.per_triangle = 1;
        /* counts first (cached), so the timed call is the per-triangle B alone */
        p.per_triangle = 0;
        CT_CHECK_GOTO(rc, ct_bk_measure(m, &p, 0.0, &r));
        ct_bk_result_destroy(&r);
        p.per_triangle = 1;
        t0 = now(comm);
        c0 = cpu();
        CT_CHECK_GOTO(rc, ct_bk_measure(m, &p, 0.0, &r));
        double c_pt = max_over(cpu() - c0, comm);
        double t_pt = now(comm) - t0;
        /* scaled per shell FFT: the full set has ~3 distinct shells per triangle,
         * the small set fewer, so scaling per triangle would flatter the old way */
        double full_ffts = 0;
        {
            int *tri = NULL, nt = 0, ns = 0;
            CT_CHECK_GOTO(rc, ct_bk_triangles(&s, &tri, &nt, &ns));
            for (int t = 0; t < nt; t++) {
                int *j = tri + 3 * t;
                full_ffts += 1 + (j[1] != j[0]) + (j[2] != j[1] && j[2] != j[0]);
            }
            free(tri);
        }
        double per_fft = c_pt / r->nfill, est = per_fft * full_ffts;
        if (me == 0)
            printf("per_triangle: %d triangles (kmax %g kF) in %.2f s wall, %.2f s cpu, %ld shell "
                   "ffts; the %d triangles need %.0f ffts -> ~%.0f s cpu; speed-up (cpu) of the "
                   "batched estimator %.0fx\n",
                   r->ntri, pt_kmax, t_pt, c_pt, r->nfill, ntri_full, full_ffts, est,
                   est / c_cached);
        ct_bk_result_destroy(&r);
    }
fail:
    if (rc != CT_OK && me == 0)
        fprintf(stderr, "bench_bk: %s\n", ct_error_message());
    ct_bk_result_destroy(&r);
    ct_pk_result_free(&pk);
    ct_mk_result_free(&mk);
    free(pos);
    ct_mesh_destroy(&m);
    ct_mesh_destroy(&w);
    MPI_Finalize();
    return rc == CT_OK ? 0 : 1;
}
