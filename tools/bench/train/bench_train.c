/* Training benchmark: the study's network (79 -> 3 x 256 -> 6, LeakyReLU 0.2,
 * dropout, sigmoid output), AdamW, global batch 32, on synthetic data; prints
 * seconds per epoch (median over epochs after the first) and the share of time in
 * the gradient allreduce and the per-epoch row exchange.
 *   bench_train [--samples N] [--epochs E] [--batch B] [--threads T] [--dropout P]
 *               [--precision float64|float32] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cosmotl/nn.h"

typedef struct {
    double t_last, c_last;
    double dt[1024], dc[1024];
    int n;
} timing;

/* CPU seconds of this process: unlike wall time, not inflated by other jobs on a
 * loaded machine (but it counts MPI's busy polling while waiting). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_epoch(int epoch, double tr, double va, double lr, void *user)
{
    (void)epoch;
    (void)tr;
    (void)va;
    (void)lr;
    timing *t = user;
    double now = ct_wtime(), c = cpu_now();
    if (t->n < 1024) {
        t->dc[t->n] = c - t->c_last;
        t->dt[t->n++] = now - t->t_last;
    }
    t->t_last = now;
    t->c_last = c;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int prov;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &prov);
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_log_setup(comm, CT_LOG_WARN);
    long n = 20000, epochs = 6, batch = 32, threads = 1;
    double dropout = 0.2;
    ct_nn_precision prec = CT_NN_FLOAT64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--samples"))
            n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dropout"))
            dropout = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--precision") &&
                 ct_nn_precision_parse(argv[i + 1], &prec) != CT_OK) {
            fprintf(stderr, "bench_train: %s\n", ct_error_message());
            MPI_Abort(comm, 2);
        }
    }
    ct_nn_set_threads((int)threads);
    /* synthetic P(k)-like inputs: positive, 79 bins; 6 targets in [0, 1] */
    ct_dataset full, tr;
    ct_dataset_alloc(&full, n, 79, 6, 0);
    ct_rng r;
    ct_rng_init(&r, 1, 0, 0);
    for (long i = 0; i < n; i++) {
        double a = ct_rng_uniform(&r), b = ct_rng_uniform(&r);
        for (int j = 0; j < 79; j++)
            full.x[i * 79 + j] = (1 + a) * 1e4 * pow((j + 1) / 10.0, -1 - b) *
                                 (1 + 0.01 * ct_rng_normal(&r));
        for (int k = 0; k < 6; k++)
            full.y[i * 6 + k] = k < 2 ? (k ? b : a) : ct_rng_uniform(&r);
    }
    ct_dataset_shard(&full, comm, &tr);
    ct_dataset_free(&full);
    ct_mlp_arch ar;
    ct_mlp_arch_defaults(&ar);
    ar.n_in = 79;
    ar.n_targets = 6;
    ar.n_hidden = 3;
    ar.width[0] = ar.width[1] = ar.width[2] = 256;
    ar.dropout = dropout;
    ct_mlp *m = NULL;
    if (ct_mlp_create(&m, &ar) != CT_OK || ct_mlp_fit_input_norm(m, &tr, 1, comm) != CT_OK) {
        fprintf(stderr, "bench_train: %s\n", ct_error_message());
        MPI_Abort(comm, 1);
    }
    ct_train_settings ts;
    ct_train_settings_defaults(&ts);
    ts.epochs = (int)epochs;
    ts.batch = (int)batch;
    ts.patience = 0;
    ts.log_every = 0;
    ts.precision = prec;
    timing tm;
    memset(&tm, 0, sizeof tm);
    ts.on_epoch = on_epoch;
    ts.on_epoch_user = &tm;
    ct_train_result res;
    MPI_Barrier(comm);
    tm.t_last = ct_wtime();
    tm.c_last = cpu_now();
    if (ct_mlp_train(m, &tr, NULL, &ts, comm, &res) != CT_OK) {
        fprintf(stderr, "bench_train: %s\n", ct_error_message());
        MPI_Abort(comm, 1);
    }
    /* the first epoch includes warm-up (page faults, thread start) */
    double med = tm.dt[0], cmed = tm.dc[0];
    if (tm.n > 1) {
        qsort(tm.dt + 1, (size_t)tm.n - 1, sizeof(double), cmp);
        qsort(tm.dc + 1, (size_t)tm.n - 1, sizeof(double), cmp);
        med = tm.dt[1 + (tm.n - 1) / 2];
        cmed = tm.dc[1 + (tm.n - 1) / 2];
    }
    double cmax = 0;
    MPI_Reduce(&cmed, &cmax, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
    double share[2] = {res.seconds_allreduce / res.seconds, res.seconds_exchange / res.seconds};
    double mx[2];
    MPI_Reduce(share, mx, 2, MPI_DOUBLE, MPI_MAX, 0, comm);
    if (rank == 0)
        printf("cosmotl  %s ranks %d threads %ld  samples %ld batch %ld  %.3f s/epoch (median of "
               "%d), cpu %.3f s/epoch per rank  allreduce %.1f%%  exchange %.1f%%  final loss %.4e\n",
               ct_nn_precision_name(prec), size, threads, n, batch, med, tm.n > 1 ? tm.n - 1 : 1, cmax, 100 * mx[0],
               100 * mx[1], res.final_train);
    if (size > 1) {
        /* On a loaded machine the data-parallel wall time measures the scheduler:
         * every step waits until both ranks run at once. Split the epoch instead:
         * (a) the compute of one rank: the same steps (global batch / ranks rows each)
         * on its own shard, without communication, in CPU seconds; (b) the allreduce
         * of the gradient buffer, best of many repetitions (both ranks scheduled). */
        ct_train_settings ls = ts;
        ls.batch = (int)(batch / size);
        ls.epochs = 3;
        memset(&tm, 0, sizeof tm);
        tm.t_last = ct_wtime();
        tm.c_last = cpu_now();
        ct_mlp *ml = NULL;
        ct_mlp_create(&ml, &ar);
        ct_mlp_copy_input_norm(ml, m);
        ct_mlp_train(ml, &tr, NULL, &ls, MPI_COMM_SELF, &res);
        qsort(tm.dc + 1, (size_t)tm.n - 1, sizeof(double), cmp);
        double comp = tm.dc[1 + (tm.n - 1) / 2], compmax = 0;
        MPI_Reduce(&comp, &compmax, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
        ct_mlp_destroy(&ml);
        size_t np = m->n_params + 1;
        double *buf = calloc(np, sizeof(double)), best = 1e30, all[400];
        int reps = 400;
        for (int i = 0; i < reps; i++) {
            MPI_Barrier(comm);
            double t0 = ct_wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, (int)np, prec == CT_NN_FLOAT32 ? MPI_FLOAT : MPI_DOUBLE,
                          MPI_SUM, comm);
            all[i] = ct_wtime() - t0;
            best = all[i] < best ? all[i] : best;
        }
        qsort(all, (size_t)reps, sizeof(double), cmp);
        double steps = ceil((double)n / (double)batch);
        if (rank == 0)
            printf("cosmotl  ranks %d: per-rank compute %.3f cpu-s/epoch + %.0f allreduces of "
                   "%.2f MB (best %.3f ms, median %.3f ms) = %.3f s/epoch without contention "
                   "(allreduce share %.1f%%)\n",
                   size, compmax, steps, (prec == CT_NN_FLOAT32 ? 4e-6 : 8e-6) * (double)np, 1e3 * best, 1e3 * all[reps / 2],
                   compmax + steps * best, 100 * steps * best / (compmax + steps * best));
        free(buf);
    }
    ct_mlp_destroy(&m);
    ct_dataset_free(&tr);
    MPI_Finalize();
    return 0;
}
