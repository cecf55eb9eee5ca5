/* cosmotl: the command-line driver. Thin: it parses arguments, reads configs,
 * calls the library, and prints errors once. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/h5.h"
#include "ct_config.h"

static const struct {
    const char *name;
    ct_cmd_fn fn;
    const char *summary;
} commands[] = {
    {"simulate", cmd_simulate, "simulate a suite in the Quijote layout"},
    {"summarize", cmd_summarize, "P(k), marked P(k), bispectrum of snapshots"},
    {"gather", cmd_gather, "collect per-simulation summaries into a suite table"},
    {"train", cmd_train, "train an MLP on a suite table"},
    {"study", cmd_study, "run the pretrain -> fine-tune transfer study"},
    {"explain", cmd_explain, "SHAP attributions of a model"},
    {"cka", cmd_cka, "linear CKA between the layers of a model on two datasets"},
    {"inspect", cmd_inspect, "describe a snapshot, summary or model file"},
    {"d3m", cmd_d3m, "D3M U-Net: LCDM -> massive-nu displacements (pairs, train, apply, eval)"},
    {"jobs", cmd_jobs, "write (and submit) SLURM batch scripts for a pipeline"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "cosmotl %s: simulation-to-inference pipeline for cosmology\n\n", CT_VERSION);
    fprintf(f, "usage: cosmotl [--quiet|--verbose] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`cosmotl COMMAND --help` describes one command.\n");
}

int main(int argc, char **argv)
{
    int provided = 0;
    ct_keep_freed_memory(); /* before MPI and the first large allocations */
    ct_mpi_start_defaults();
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm comm = MPI_COMM_WORLD;
    /* errors are returned, not fatal, so that ranks can agree and exit cleanly */
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_h5_quiet();

    /* global flags may stand anywhere; strip them */
    ct_log_level level = CT_LOG_INFO;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")))
            level = CT_LOG_WARN;
        else if (i > 0 && (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")))
            level = CT_LOG_DEBUG;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    ct_log_setup(comm, level);

    int rc = 2;
    if (argc < 2 || ct_cli_is_help(argv[1])) {
        if (rank == 0)
            usage(argc < 2 ? stderr : stdout);
        rc = argc < 2 ? 2 : 0;
    } else if (!strcmp(argv[1], "--version")) {
        if (rank == 0)
            printf("cosmotl %s\n", CT_VERSION);
        rc = 0;
    } else {
        size_t i;
        for (i = 0; i < NCOMMANDS; i++)
            if (!strcmp(argv[1], commands[i].name))
                break;
        if (i == NCOMMANDS) {
            if (rank == 0)
                fprintf(stderr, "cosmotl: error: unknown command '%s' (try cosmotl --help)\n",
                        argv[1]);
            rc = 2;
        } else {
            rc = commands[i].fn(argc - 1, argv + 1, comm);
        }
    }
    MPI_Finalize();
    return rc;
}
