/* Shared pieces of the cosmotl driver: subcommand signatures and helpers. */
#ifndef COSMOTL_CLI_H
#define COSMOTL_CLI_H

#include <limits.h>
#include <mpi.h>

#include "cosmotl/core.h"
#include "cosmotl/sim.h"

/* Every subcommand: argv[0] is the subcommand name; returns the exit code. */
typedef int (*ct_cmd_fn)(int argc, char **argv, MPI_Comm comm);

int cmd_simulate(int argc, char **argv, MPI_Comm comm);
int cmd_summarize(int argc, char **argv, MPI_Comm comm);
int cmd_gather(int argc, char **argv, MPI_Comm comm);
int cmd_train(int argc, char **argv, MPI_Comm comm);
int cmd_study(int argc, char **argv, MPI_Comm comm);
int cmd_explain(int argc, char **argv, MPI_Comm comm);
int cmd_cka(int argc, char **argv, MPI_Comm comm);
int cmd_inspect(int argc, char **argv, MPI_Comm comm);
int cmd_jobs(int argc, char **argv, MPI_Comm comm);
int cmd_d3m(int argc, char **argv, MPI_Comm comm);

/* A suite config (a file of configs/suites/) as `cosmotl simulate` reads it; paths
 * in it are relative to the config's folder. cmd_d3m reads the two suites of a
 * pair with it. */
typedef struct {
    ct_suite_settings s;
    char out[PATH_MAX];
    char table[PATH_MAX];
    char pk_table[PATH_MAX];
    double *pk_k, *pk_p;
} cli_suite_cfg;
ct_status cli_suite_read(ct_config *cfg, cli_suite_cfg *sc);
void cli_suite_free(cli_suite_cfg *sc);

/* Each subcommand's reading of its INI config alone: nothing is run or
 * written (files the config names may be read, as the subcommand would). The
 * config fuzz harness drives these; cli_suite_read is simulate's. */
ct_status cli_train_read_config(ct_config *cfg);
ct_status cli_study_read_config(ct_config *cfg);
ct_status cli_jobs_read_config(ct_config *cfg);
ct_status cli_d3m_read_config(ct_config *cfg);
ct_status cli_summarize_read_config(const char *path, MPI_Comm comm);

/* What `cosmotl inspect FILE` can describe; each returns CT_ERR_UNSUPPORTED when
 * the file is not of its kind (so the next one is tried) and prints on rank 0. */
ct_status inspect_snapshot(const char *path, MPI_Comm comm);
/* kind: ct_summary_kind of path, found on rank 0 (read there only) */
ct_status inspect_summary(const char *path, int kind, MPI_Comm comm);
ct_status inspect_model(const char *path, MPI_Comm comm);

/* Print the current error chain once (rank 0) as "cosmotl CMD: error: ..." and
 * return exit code 1. Call after ct_agree_msg so rank 0 knows the cause. */
int ct_cli_fail(const char *cmd, MPI_Comm comm);
/* A one-line usage error from rank 0; returns exit code 2. */
int ct_cli_usage_error(const char *cmd, MPI_Comm comm, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ct_cli_is_help(const char *arg);
/* Parse "A:B" into [a, b) ; returns 0 on success. */
int ct_cli_parse_range(const char *s, long *a, long *b);
/* Parse a positive integer; returns 0 on success. */
int ct_cli_parse_long(const char *s, long min, long max, long *out);

#endif
