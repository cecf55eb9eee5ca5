/* Shared by `cosmotl explain` and `cosmotl cka`: a model and the rows of a
 * suite table it takes as input. */
#ifndef COSMOTL_CLI_MODEL_DATA_H
#define COSMOTL_CLI_MODEL_DATA_H

#include <hdf5.h>
#include <mpi.h>

#include "cosmotl/nn.h"
#include "cosmotl/study.h"

typedef struct {
    char stats[CT_STUDY_NAME]; /* "pk", "pk+mk" */
    double kmax;
    int n_bins;
    const char *model_path;    /* for messages */
} ct_model_inputs;

/* statistic, kmax and bin cap: from the model's provenance (or, in files written
 * before it, the study's note), overridden by non-NULL / non-negative arguments */
void ct_model_inputs_get(const ct_mlp *m, const char *model_path, const char *stats,
                         double kmax, ct_model_inputs *in);
/* The first n usable rows (n <= 0: all) of a suite table starting at row
 * `first` of its usable simulations, checked against m's provenance
 * (ct_mlp_check_inputs: a mismatch is an error naming the model file and the
 * attribute) and normalised for m (x: rows x n_in,
 * allocated); read on this rank only. */
ct_status ct_model_rows(const ct_mlp *m, const ct_model_inputs *in, const char *path,
                        int64_t first, int64_t n, double **x, int64_t *rows, int64_t **sims);

/* The command line `explain` and `cka` share: --stats SPEC, --kmax K, --out FILE
 * and the positional arguments (MODEL and the data). */
typedef struct {
    const char *stats; /* NULL: from the model */
    double kmax;       /* < 0: from the model */
    const char *out;   /* NULL: no file */
    const char *pos[3];
    int npos, maxpos;  /* positional arguments taken, and allowed (<= 3) */
} ct_model_data_args;

/* Takes argv[*i] once the command's own options have not matched: a shared
 * option (its value consumed, *i advanced) or the next positional argument.
 * Returns 0 when taken, or the exit status 2 after printing the usage error
 * for cmd (a bad value, an unknown option, an unexpected argument). */
int ct_model_data_arg(const char *cmd, MPI_Comm comm, int argc, char **argv, int *i,
                      ct_model_data_args *args);

/* The --out file of explain and cka, written whole or not at all: _begin
 * creates a temporary beside path (*f, *tmp); _end closes it and, when rc and
 * the close succeed, renames it to path, otherwise removes it. Returns rc, or
 * the close or rename failure. */
ct_status ct_model_data_out_begin(const char *path, hid_t *f, char **tmp);
ct_status ct_model_data_out_end(ct_status rc, const char *path, hid_t f, char *tmp);

#endif
