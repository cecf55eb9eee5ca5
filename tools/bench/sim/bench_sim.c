/* Simulation benchmark: seconds per simulation (ICs + PM steps, no output) and
 * the share of time in FFTs, for one particle count, step count and rank count.
 *   mpirun -np R bench_sim NP STEPS [REPEAT]
 * Prints one line: np steps ranks seconds fft_seconds fft_share ic paint readout
 * exchange kick_drift (seconds, max over ranks). */
#include <stdio.h>
#include <stdlib.h>

#include "cosmotl/cosmo.h"
#include "cosmotl/sim.h"

static ct_status noop(const ct_sim_particles *p, int iout, void *user)
{
    (void)p;
    (void)iout;
    (void)user;
    return CT_OK;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);
    if (argc < 3) {
        if (rank == 0)
            fprintf(stderr, "usage: bench_sim NP STEPS [REPEAT]\n");
        MPI_Finalize();
        return 2;
    }
    int np = atoi(argv[1]), steps = atoi(argv[2]), rep = argc > 3 ? atoi(argv[3]) : 1;
    ct_cosmo_params cp;
    ct_cosmo_params_defaults(&cp);
    ct_cosmo *c = NULL;
    if (ct_cosmo_create(&c, &cp) != CT_OK) {
        fprintf(stderr, "%s\n", ct_error_message());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    ct_sim_settings s;
    ct_sim_settings_defaults(&s);
    s.np = np;
    s.box = 1000.0 * np / 512.0; /* Quijote's mean particle spacing */
    s.steps = steps;
    s.z_init = 24;
    double best = 1e30, fft = 0;
    double tm[6] = {0};
    const char *names[6] = {"fft", "ic", "paint", "readout", "exchange", "kick-drift"};
    for (int r = 0; r < rep; r++) {
        ct_timers t;
        ct_timers_init(&t);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = ct_wtime();
        if (ct_sim_run(c, &s, noop, NULL, &t, MPI_COMM_WORLD) != CT_OK) {
            fprintf(stderr, "%s\n", ct_error_message());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        double el = ct_wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &el, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (el < best) {
            best = el;
            for (int i = 0; i < 6; i++) {
                tm[i] = ct_timer_get(&t, names[i]);
                MPI_Allreduce(MPI_IN_PLACE, &tm[i], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            }
            fft = tm[0];
        }
    }
    if (rank == 0)
        printf("%d %d %d %.3f %.3f %.3f %.3f %.3f %.3f %.3f %.3f\n", np, steps, size, best, fft,
               fft / best, tm[1], tm[2], tm[3], tm[4], tm[5]);
    ct_cosmo_destroy(&c);
    MPI_Finalize();
    return 0;
}
