/* Benchmark of a U-Net training step (src/nn/unet.c): forward in training mode,
 * L1 loss and backward, Adam step; batch N of D^3 three-component samples;
 * median wall and CPU seconds per step after one warm-up, peak memory. The
 * PyTorch peer is bench_unet_torch.py, which builds the same network.
 *   bench_unet --base C --depth L --blocks B --size D --batch N --steps S
 *              --threads T [--dump DIR]
 * --dump DIR writes the input, target, initial parameters, the first step's
 * output and gradients (raw float32) for bench_unet_torch.py --check DIR. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cosmotl/unet.h"

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int dump(const char *dir, const char *name, const float *v, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s.f32", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(v, 4, n, f) != n) {
        fprintf(stderr, "bench_unet: cannot write %s\n", p);
        if (f)
            fclose(f);
        return 1;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    int base = 16, depth = 2, blocks = 2, size = 32, batch = 2, steps = 5, threads = 1;
    const char *dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--base")) base = atoi(v);
        else if (!strcmp(o, "--depth")) depth = atoi(v);
        else if (!strcmp(o, "--blocks")) blocks = atoi(v);
        else if (!strcmp(o, "--size")) size = atoi(v);
        else if (!strcmp(o, "--batch")) batch = atoi(v);
        else if (!strcmp(o, "--steps")) steps = atoi(v);
        else if (!strcmp(o, "--threads")) threads = atoi(v);
        else if (!strcmp(o, "--dump")) dir = v;
        else { fprintf(stderr, "bench_unet: unknown option %s\n", o); return 2; }
    }
    MPI_Init(&argc, &argv);
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    ct_unet_settings s;
    ct_unet_settings_default(&s);
    s.base_channels = base, s.depth = depth, s.blocks = blocks;
    ct_unet *net = NULL;
    if (ct_unet_create(&net, &s, MPI_COMM_SELF) != CT_OK) {
        fprintf(stderr, "bench_unet: %s\n", ct_error_message());
        return 1;
    }
    ct_tdims xd = {batch, 3, {size, size, size}};
    size_t nx = (size_t)ct_tdims_count(xd), np = (size_t)ct_unet_n_params(net);
    float *x = malloc(nx * 4), *t = malloc(nx * 4), *y = malloc(nx * 4);
    ct_rng r;
    ct_rng_init(&r, 3, 1, 0);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)ct_rng_normal(&r), t[i] = (float)(x[i] + 0.3 * ct_rng_normal(&r));
    if (dir && (dump(dir, "x", x, nx) || dump(dir, "t", t, nx) ||
                dump(dir, "params", ct_unet_params(net), np)))
        return 1;
    ct_adam_settings a;
    ct_adam_settings_default(&a);
    double *tw = malloc((steps + 1) * sizeof(double)), *tc = malloc((steps + 1) * sizeof(double));
    double loss = 0;
    for (int it = 0; it <= steps; it++) {
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        if (ct_unet_forward(net, x, xd, 1, y) != CT_OK ||
            ct_unet_backward_l1(net, t, &loss) != CT_OK) {
            fprintf(stderr, "bench_unet: %s\n", ct_error_message());
            return 1;
        }
        if (it == 0 && dir) {
            char p[1024];
            snprintf(p, sizeof p, "%s/loss.txt", dir);
            FILE *f = fopen(p, "w");
            if (f)
                fprintf(f, "%.9g\n", loss), fclose(f);
            if (dump(dir, "y", y, nx) || dump(dir, "grads", ct_unet_grads(net), np))
                return 1;
        }
        ct_unet_adam_step(net, &a);
        tw[it] = now(CLOCK_MONOTONIC) - w0, tc[it] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    qsort(tw + 1, steps, sizeof(double), cmp), qsort(tc + 1, steps, sizeof(double), cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("cosmotl unet base %d depth %d blocks %d in %d^3 batch %d threads %d (%zu params): "
           "step %.3f s (cpu %.3f), %.1f samples/s, peak RSS %.0f MiB, loss %.4f\n",
           base, depth, blocks, size, batch, threads, np, tw[1 + steps / 2], tc[1 + steps / 2],
           batch / tw[1 + steps / 2], ru.ru_maxrss / 1024.0, loss);
    free(x), free(t), free(y), free(tw), free(tc);
    ct_unet_destroy(&net);
    MPI_Finalize();
    return 0;
}
