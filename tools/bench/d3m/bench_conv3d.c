/* Benchmark of the 3-D convolution layers (src/nn/conv3d.c) on D3M shapes:
 * forward and backward (input and weight gradients) of one layer, batch N,
 * median wall and CPU seconds over R repetitions after one warm-up, GFLOP/s
 * (2 x MACs of the direct convolution) and peak memory. The PyTorch peer is
 * bench_conv3d_torch.py; tools/bench/d3m/run alternates the two.
 *   bench_conv3d --layer conv|deconv --cin C --cout C --k K --stride S --size D
 *                --batch N --reps R --threads T
 * size: the layer's INPUT side (already padded for conv). */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cosmotl/unet.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *layer = "conv";
    int cin = 64, cout = 64, k = 3, s = 1, size = 34, batch = 2, reps = 5, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--layer")) layer = v;
        else if (!strcmp(o, "--cin")) cin = atoi(v);
        else if (!strcmp(o, "--cout")) cout = atoi(v);
        else if (!strcmp(o, "--k")) k = atoi(v);
        else if (!strcmp(o, "--stride")) s = atoi(v);
        else if (!strcmp(o, "--size")) size = atoi(v);
        else if (!strcmp(o, "--batch")) batch = atoi(v);
        else if (!strcmp(o, "--reps")) reps = atoi(v);
        else if (!strcmp(o, "--threads")) threads = atoi(v);
        else { fprintf(stderr, "bench_conv3d: unknown option %s\n", o); return 2; }
    }
    int deconv = !strcmp(layer, "deconv");
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    ct_tdims xd = {batch, cin, {size, size, size}}, yd;
    if ((deconv ? ct_deconv3d_dims(xd, cout, k, s, &yd) : ct_conv3d_dims(xd, cout, k, s, &yd)) != CT_OK) {
        fprintf(stderr, "bench_conv3d: %s\n", ct_error_message());
        return 1;
    }
    size_t nx = (size_t)ct_tdims_count(xd), ny = (size_t)ct_tdims_count(yd);
    size_t nw = (size_t)cin * cout * k * k * k;
    size_t nwork = deconv ? ct_deconv3d_work_len(xd, cout, k, s) : ct_conv3d_work_len(xd, cout, k, s);
    float *x = malloc(nx * 4), *dx = malloc(nx * 4), *y = malloc(ny * 4), *dy = malloc(ny * 4);
    float *W = malloc(nw * 4), *dW = calloc(nw, 4), *b = calloc((size_t)cout, 4), *db = calloc((size_t)cout, 4);
    float *work = malloc(nwork * 4);
    ct_rng r;
    ct_rng_init(&r, 1, 1, 0);
    for (size_t i = 0; i < nx; i++) x[i] = (float)ct_rng_normal(&r);
    for (size_t i = 0; i < ny; i++) dy[i] = (float)ct_rng_normal(&r);
    for (size_t i = 0; i < nw; i++) W[i] = (float)(0.05 * ct_rng_normal(&r));
    /* MACs of the direct convolution: every (input, output) channel pair and
     * kernel tap per cell of the small grid */
    double small = deconv ? (double)ct_tdims_cells(xd) : (double)ct_tdims_cells(yd);
    double flops = 2.0 * batch * cin * cout * k * k * k * small;
    double *tf = malloc(reps * sizeof(double)), *tb = malloc(reps * sizeof(double));
    double *cf = malloc(reps * sizeof(double)), *cb = malloc(reps * sizeof(double));
    for (int it = -1; it < reps; it++) {
        double t0 = now(), c0 = cpu_now();
        if (deconv) ct_deconv3d_forward(x, xd, W, b, cout, k, s, y, work);
        else ct_conv3d_forward(x, xd, W, b, cout, k, s, y, work);
        double t1 = now(), c1 = cpu_now();
        if (deconv) ct_deconv3d_backward(x, xd, W, cout, k, s, dy, dx, dW, db, work);
        else ct_conv3d_backward(x, xd, W, cout, k, s, dy, dx, dW, db, work);
        double t2 = now(), c2 = cpu_now();
        if (it >= 0) {
            tf[it] = t1 - t0, tb[it] = t2 - t1, cf[it] = c1 - c0, cb[it] = c2 - c1;
        }
    }
    qsort(tf, reps, sizeof(double), cmp), qsort(tb, reps, sizeof(double), cmp);
    qsort(cf, reps, sizeof(double), cmp), qsort(cb, reps, sizeof(double), cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("cosmotl %s cin %d cout %d k %d s %d in %d^3 batch %d threads %d: "
           "fwd %.4f s (cpu %.4f, %.1f GFLOP/s) bwd %.4f s (cpu %.4f, %.1f GFLOP/s) "
           "fwd+bwd %.4f s, peak RSS %.0f MiB\n",
           layer, cin, cout, k, s, size, batch, threads, tf[reps / 2], cf[reps / 2],
           flops / tf[reps / 2] * 1e-9, tb[reps / 2], cb[reps / 2], 2 * flops / tb[reps / 2] * 1e-9,
           tf[reps / 2] + tb[reps / 2], ru.ru_maxrss / 1024.0);
    free(x), free(dx), free(y), free(dy), free(W), free(dW), free(b), free(db), free(work);
    free(tf), free(tb), free(cf), free(cb);
    return 0;
}
