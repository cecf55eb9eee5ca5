/* cosmotl summary files (src/summarize/summary*.c): the per-simulation summary
 * OUT/<name>.h5 and the suite table SUITE.h5 that `cosmotl gather` builds from a
 * directory of them (docs/formats.md; the layout of the released Quijote summary tables).
 *
 * Per-simulation file: root attributes (kind = "cosmotl summary", name, input,
 * code_version, box, redshift, omega_m, omega_l, hubble, ...) and one group per
 * statistic (/pk, /pk_cb, /mk, /bk, ...). Each group holds its datasets and
 * attributes recording every setting, plus gather instructions, so the gather
 * step knows nothing about particular statistics:
 *   gather_table    name of the per-simulation dataset that becomes /<group>/P
 *                   (nsim x nbin) in the suite table (e.g. "P0");
 *   gather_common   comma list of datasets identical for every simulation
 *                   (e.g. "k,nmodes"), copied once and checked;
 *   gather_rows     comma list of further per-simulation datasets stacked under
 *                   the same name (e.g. "P2,P4"); may be "";
 *   gather_per_sim  comma list of attributes that vary per simulation and become
 *                   datasets of length nsim (e.g. "nbar,npart"); may be "".
 * Every other group attribute is copied from the first present simulation.
 *
 * Writers write from one process (summaries are small) and atomically: the file
 * appears under its final name only when complete. */
#ifndef COSMOTL_SUMMARY_H
#define COSMOTL_SUMMARY_H

#include <hdf5.h>
#include <mpi.h>

#include "cosmotl/core.h"
#include "cosmotl/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_SUMMARY_KIND "cosmotl summary"
#define CT_SUITE_KIND "cosmotl suite table"

typedef struct ct_summary_writer ct_summary_writer;

/* Start OUT/<name>.h5 (written to a temporary name in the same directory). The
 * root gets kind, name, input and code_version attributes. */
ct_status ct_summary_create(ct_summary_writer **w, const char *path, const char *name,
                            const char *input);
/* The open HDF5 file, for adding attributes or groups directly. */
hid_t ct_summary_file(const ct_summary_writer *w);
/* Create group `name` with its gather instructions (see above); the returned
 * group id is closed by the caller (H5Gclose). */
ct_status ct_summary_group(ct_summary_writer *w, const char *name, const char *table,
                           const char *common, const char *rows, const char *per_sim,
                           hid_t *group);
/* Close, fsync and rename into place; destroys the writer either way. */
ct_status ct_summary_commit(ct_summary_writer **w);
/* Discard: remove the temporary file; tolerates NULL. */
void ct_summary_abort(ct_summary_writer **w);

/* A power spectrum into a new group: datasets k, P0, P2, P4 (nbins), nmodes;
 * attributes box, grid, mas, redshift, description, interlace, compensate,
 * los_axis, rsd ("none" or "x"/"y"/"z"), bin_width, nbar, shot_noise, npart,
 * species; gathered as P = P0, common k and nmodes, rows P2 and P4. */
typedef struct {
    double redshift;
    int rsd_axis;            /* -1: real space */
    const char *species;     /* "m" (total matter) or "cb" */
    const char *description; /* free text; NULL: generated */
} ct_pk_meta;

ct_status ct_summary_write_pk(ct_summary_writer *w, const char *group, const ct_pk_result *r,
                              const ct_pk_meta *meta);
/* Read a group written by ct_summary_write_pk (any process, serial). */
ct_status ct_summary_read_pk(const char *path, const char *group, ct_pk_result *r);

/* The marked spectrum into a new group (src/summarize/summary_mkbk.c): datasets k, P0,
 * P2, P4 (of the marked field), X0 (marked x unmarked), nmodes; attributes R, p,
 * delta_s, filter, readout, mean_mark, delta_R_min/max and the P(k) settings;
 * gathered as P = P0. */
ct_status ct_summary_write_mk(ct_summary_writer *w, const char *group, const ct_mk_result *r,
                              const ct_pk_meta *meta);

/* The bispectrum into a new group: per triangle k1, k2, k3 (units of kF), P1..P3,
 * B, B0, Q, B_SN, counts; attributes dk, kmax, nshell, kF, nbar and the mesh
 * settings; gathered as P = B0 (nsim x ntriangles). */
typedef struct {
    double redshift;
    int rsd_axis;        /* -1: real space */
    const char *species; /* "m" or "cb" */
    const char *mas;     /* e.g. "CIC" */
    int interlace;
    double kmax;         /* requested k1 limit, units of kF */
} ct_bk_meta;

ct_status ct_summary_write_bk(ct_summary_writer *w, const char *group, const ct_bk_result *r,
                              const ct_bk_meta *meta);

/* Is path a per-simulation summary (1), a suite table (2) or neither (0)? */
int ct_summary_kind(const char *path);
/* The same, and why not when it cannot tell: *kind as ct_summary_kind; an
 * HDF5 file that ct_h5_open_ro refuses (e.g. a damaged object header) returns
 * that error (one line naming the file and the damage) with *kind 0. Files
 * that are missing or not HDF5 are kind 0 with CT_OK. Serial. */
ct_status ct_summary_probe(const char *path, int *kind);

/* Gather: every "<name>.h5" in dir into one suite table at out. Simulation i is the file named "<i>.h5" (i = 0..nsim-1);
 * nsim is the number of rows of the parameter file (params == NULL: dir's
 * "params.txt", or params.txt in the suite directory recorded in the
 * summaries). /status is 1 present, 0 missing, 2 failed, with /status_reason
 * (failure messages from dir's summarize manifest, see cosmotl/batch.h; a
 * summary file that is unreadable or inconsistent also counts as failed).
 * Collective over comm: the ranks read the summaries (ct_runner_run, one rank
 * per group) and rank 0 writes the table, the same bytes on any number of
 * ranks; the result is agreed on all ranks. */
typedef struct {
    const char *params; /* parameter file (Quijote layout), or NULL */
    const char *suite;  /* root attribute "suite"; NULL: the directory's name */
} ct_gather_settings;

void ct_gather_settings_defaults(ct_gather_settings *s);
ct_status ct_summary_gather(const char *dir, const char *out, const ct_gather_settings *s,
                            MPI_Comm comm);

/* A parameter table (ct_param_table_read, cosmotl/core.h) as arrays: values
 * nrow x ncol and ncol names (free with ct_params_free_names). */
ct_status ct_params_read(const char *path, double **values, int64_t *nrow, int *ncol,
                         char ***names);
void ct_params_free_names(char **names, int ncol);

#ifdef __cplusplus
}
#endif
#endif
