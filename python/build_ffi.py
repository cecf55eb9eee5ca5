"""Generate the C source of the cffi extension cosmotl._cosmotl (API mode).

    build_ffi.py OUT.c [openmpi|mpich]

meson runs this and compiles OUT.c against the installed headers and
libcosmotl. In API mode the C compiler checks every declaration below against
the real headers (include/cosmotl/*.h), so struct layouts cannot drift: the
declarations only name what Python uses ("..." lets the compiler fill in the
rest of a struct). No library code is compiled here; the few ctpy_* helpers
are glue that Python cannot express (MPI handles, MPI start-up).
"""
import sys

import cffi

CDEF_COMMON = r"""
typedef enum {
    CT_OK = 0, CT_ERR_ARG, CT_ERR_IO, CT_ERR_FORMAT, CT_ERR_CONFIG, CT_ERR_RANGE,
    CT_ERR_MEMORY, CT_ERR_MPI, CT_ERR_NUMERIC, CT_ERR_STATE, CT_ERR_UNSUPPORTED,
    CT_ERR_REMOTE, CT_ERR_COUNT
} ct_status;
const char *ct_status_name(ct_status s);
const char *ct_error_message(void);
void ct_error_clear(void);
ct_status ct_error_set(ct_status s, const char *func, int line, const char *fmt, ...);
ct_status ct_agree_msg(MPI_Comm comm, ct_status local);

typedef enum { CT_LOG_ERROR = 0, CT_LOG_WARN, CT_LOG_INFO, CT_LOG_DEBUG } ct_log_level;
void ct_log_setup(MPI_Comm comm, ct_log_level threshold);
void ct_log_set_level(ct_log_level threshold);

void *malloc(size_t);
void free(void *);
void ct_h5_quiet(void);

/* ---- MPI glue (python/build_ffi.py) */
int ctpy_mpi_init(void);          /* 1 if this call initialised MPI */
void ctpy_mpi_finalize(void);     /* finalise if still running */
int ctpy_mpi_running(void);       /* initialised and not finalised */
MPI_Comm ctpy_comm_self(void);
MPI_Comm ctpy_comm_world(void);
int ctpy_comm_size(MPI_Comm comm);
int ctpy_comm_rank(MPI_Comm comm);
int ctpy_comm_congruent(MPI_Comm a, MPI_Comm b); /* IDENT or CONGRUENT */
void ctpy_set_threads(int n);

/* ---- io */
typedef struct {
    double box; double time; double redshift;
    double omega_m, omega_l, hubble;
    double mass_table[6];
    int64_t npart_total[6];
    int nfiles;
    ...;
} ct_snapshot_header;
typedef struct {
    int64_t n; int64_t offset; int64_t n_total;
    float *pos; float *vel; uint64_t *id; float *mass;
    double mass_uniform;
} ct_particles;
void ct_particles_free(ct_particles *p);
typedef enum { CT_BOUNDS_ERROR = 0, CT_BOUNDS_WRAP } ct_bounds_policy;
typedef struct { int read_vel; int read_id; ct_bounds_policy bounds; int threads; ...; } ct_read_settings;
void ct_read_settings_defaults(ct_read_settings *s);
typedef struct ct_snapshot ct_snapshot;
ct_status ct_snapshot_open(ct_snapshot **snap, const char *path, MPI_Comm comm);
void ct_snapshot_close(ct_snapshot **snap);
const ct_snapshot_header *ct_snapshot_get_header(const ct_snapshot *snap);
ct_status ct_snapshot_read(ct_snapshot *snap, int ptype, const ct_read_settings *s,
                           ct_particles *out);
typedef enum { CT_SNAP_HDF5 = 1, CT_SNAP_GADGET1, CT_SNAP_GADGET2 } ct_snapshot_format;
ct_snapshot_format ct_snapshot_get_format(const ct_snapshot *snap);
const char *ct_snapshot_format_name(ct_snapshot_format f);
int ct_snapshot_nfiles(const ct_snapshot *snap);

/* ---- mesh */
typedef enum { CT_MAS_NGP = 1, CT_MAS_CIC = 2, CT_MAS_TSC = 3, CT_MAS_PCS = 4 } ct_mas;
ct_status ct_mas_parse(const char *name, ct_mas *mas);
const char *ct_mas_name(ct_mas mas);
typedef struct { int64_t n; double box; int threads; int plan_effort; int float32; } ct_mesh_settings;
void ct_mesh_settings_defaults(ct_mesh_settings *s);
typedef struct ct_mesh ct_mesh;
ct_status ct_mesh_create(ct_mesh **m, const ct_mesh_settings *s, MPI_Comm comm);
void ct_mesh_destroy(ct_mesh **m);
int64_t ct_mesh_n(const ct_mesh *m);
MPI_Comm ct_mesh_comm(const ct_mesh *m);
ptrdiff_t ct_mesh_row(const ct_mesh *m);
void ct_mesh_local(const ct_mesh *m, ptrdiff_t *x0, ptrdiff_t *nx);
int64_t ct_mesh_first_outside(int64_t n, const float *pos, double box);
typedef float... ct_real;
ct_real *ct_mesh_real(ct_mesh *m);
ct_status ct_mesh_r2c(ct_mesh *m);
void ct_mesh_zero(ct_mesh *m);
typedef struct { const void *data; size_t size; } ct_payload_in;
ct_status ct_mesh_exchange_const(const ct_mesh *m, int64_t n, const float *pos, int npayload,
                                 const ct_payload_in *payload, int64_t *n_out, float **pos_out,
                                 void **payload_out);
typedef struct { ct_mas mas; double shift; int accumulate; } ct_paint_settings;
void ct_paint_settings_defaults(ct_paint_settings *s);
ct_status ct_mesh_paint(ct_mesh *m, const ct_paint_settings *s, int64_t n, const float *pos,
                        const float *w, double w_uniform);
ct_status ct_mesh_compensate(ct_mesh *m, int p);

/* ---- stats */
typedef struct {
    ct_mas mas; int interlace; int compensate; double bin_width; int axis; int shot_noise;
    int discard_field; int float32;
    ...;
} ct_pk_settings;
void ct_pk_settings_defaults(ct_pk_settings *s);
typedef struct {
    int nbins;
    double *k; double *P0, *P2, *P4;
    int64_t *nmodes;
    double box; int64_t grid; ct_mas mas;
    int interlace, axis, cross;
    double bin_width; double nbar; double shot_noise; int64_t npart;
    int float32;
} ct_pk_result;
void ct_pk_result_free(ct_pk_result *r);
typedef struct { int64_t n; const float *pos; const float *w; double w_uniform; } ct_pk_particles;
ct_status ct_pk_measure(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                        const ct_pk_particles *sets, ct_pk_result *r);
ct_status ct_pk_paint(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s, int nset,
                      const ct_pk_particles *sets, double *sum_w, double *sum_w2,
                      int64_t *npart);
ct_status ct_pk_measure_painted(ct_mesh *m, ct_mesh *m_shift, const ct_pk_settings *s,
                                double sum_w, double sum_w2, int64_t npart, ct_pk_result *r);
ct_status ct_pk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            int species_cb, MPI_Comm comm, ct_pk_result *out);
ct_status ct_pk_bin(const ct_mesh *a, const ct_mesh *b, const ct_pk_settings *s,
                    ct_pk_result *r);

typedef struct { double R; double p; double delta_s; } ct_mk_settings;
void ct_mk_settings_defaults(ct_mk_settings *s);
typedef struct {
    ct_pk_result M; ct_pk_result X; double mean_mark; double delta_R_range[2];
    ct_mk_settings settings;
} ct_mk_result;
void ct_mk_result_free(ct_mk_result *r);
ct_status ct_mk_measure(ct_mesh *delta, ct_mesh *work, ct_mesh *work_shift,
                        const ct_pk_settings *ps, const ct_mk_settings *s, int nset,
                        const ct_pk_particles *sets, ct_mk_result *r);

typedef struct {
    double dk; double kmax; double mem_budget; const char *cache_dir; int per_triangle; int shell_f32;
} ct_bk_settings;
void ct_bk_settings_defaults(ct_bk_settings *s);
typedef struct {
    int ntri, nshell;
    int *tri; double *k; double *P; double *B; double *Bsn; double *B0; double *Q;
    double *counts;
    double box, dk, nbar;
    long grid;
    ...;
} ct_bk_result;
void ct_bk_result_destroy(ct_bk_result **r);
ct_status ct_bk_measure(ct_mesh *delta, const ct_bk_settings *s, double nbar,
                        ct_bk_result **out);
ct_status ct_mk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            const ct_mk_settings *mk, int species_cb, MPI_Comm comm,
                            ct_mk_result *out);
ct_status ct_bk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            const ct_bk_settings *bk, int species_cb, MPI_Comm comm,
                            ct_bk_result **out);

/* ---- cosmo */
typedef enum { CT_LIN_EH98 = 0, CT_LIN_EH98_NOWIGGLE, CT_LIN_TABLE } ct_lin_transfer;
typedef enum { CT_SPECIES_TOTAL = 0, CT_SPECIES_CB } ct_species;
typedef struct {
    double omega_m; double omega_b; double h; double n_s; double sigma8; double a_s;
    double k_pivot; double m_nu; int n_nu; double w; double f_r0; int fr_n; double t_cmb;
    ct_lin_transfer transfer;
    const double *table_k, *table_p;
    size_t table_n;
} ct_cosmo_params;
void ct_cosmo_params_defaults(ct_cosmo_params *p);
typedef struct ct_cosmo ct_cosmo;
ct_status ct_cosmo_create(ct_cosmo **c, const ct_cosmo_params *p);
void ct_cosmo_destroy(ct_cosmo **c);
double ct_cosmo_pk(const ct_cosmo *c, double k, double a, ct_species sp);
double ct_cosmo_sigma8(const ct_cosmo *c);

/* ---- nn */
typedef struct {
    int n_in, n_targets, n_out;
    char (*target_name)[32];
    int in_log10;
    char *config_text;
    ...;
} ct_mlp;
ct_status ct_mlp_load(ct_mlp **m, const char *path, MPI_Comm comm);
void ct_mlp_destroy(ct_mlp **m);
ct_status ct_mlp_predict(const ct_mlp *m, const double *x_raw, int64_t n, double *y_phys);
typedef struct ct_model_prov {
    char statistics[1024]; double k_cut; int n_bins_cut; int n_in; int n_k; double *k;
    char k_hash[17]; int input_log10; char params[1024]; char source[1024]; char writer[64];
    char version[32];
    ...;
} ct_model_prov;
void ct_model_prov_init(ct_model_prov *p);
void ct_model_prov_free(ct_model_prov *p);
ct_status ct_model_prov_set_k(ct_model_prov *p, const char *statistics, const double *k, int n,
                              int n_in);
const ct_model_prov *ct_mlp_provenance(const ct_mlp *m);
typedef struct {
    const char *stats; double k_max; int n_bins; const char *targets;
    const int64_t *rows; int64_t n_rows;
} ct_table_select;
void ct_table_select_defaults(ct_table_select *s);
ct_status ct_table_describe(const char *path, const ct_table_select *sel, ct_model_prov *out);
typedef struct {
    int64_t n; int n_in, n_targets; double *x; double *y; unsigned char *mask; int64_t *id;
    ...;
} ct_dataset;
ct_status ct_dataset_read_table(const char *path, const ct_table_select *sel, MPI_Comm comm,
                                ct_dataset *d);
void ct_dataset_free(ct_dataset *d);
ct_status ct_mlp_check_inputs(const ct_mlp *m, const char *model_path, const ct_model_prov *in);

/* ---- summary */
int ct_summary_kind(const char *path);
ct_status ct_params_read(const char *path, double **values, int64_t *nrow, int *ncol,
                         char ***names);
void ct_params_free_names(char **names, int ncol);
"""

SOURCE = r"""
#include <omp.h>
#include <stdlib.h>
#include "cosmotl/core.h"
#include "cosmotl/io.h"
#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"
#include "cosmotl/cosmo.h"
#include "cosmotl/nn.h"
#include "cosmotl/summary.h"
#include "cosmotl/summarize.h"
#include "cosmotl/h5.h"

static int ctpy_mpi_init(void)
{
    int init = 0, fin = 0, provided = 0;
    ct_keep_freed_memory(); /* at import, as the CLI does at start */
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init || fin)
        return 0;
    ct_mpi_start_defaults();
    /* FUNNELED: OpenMP threads inside the library never call MPI */
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    return 1;
}
static void ctpy_mpi_finalize(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Finalize();
}
static int ctpy_mpi_running(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}
static MPI_Comm ctpy_comm_self(void) { return MPI_COMM_SELF; }
static MPI_Comm ctpy_comm_world(void) { return MPI_COMM_WORLD; }
static int ctpy_comm_size(MPI_Comm comm) { int s = 0; MPI_Comm_size(comm, &s); return s; }
static int ctpy_comm_rank(MPI_Comm comm) { int r = 0; MPI_Comm_rank(comm, &r); return r; }
static int ctpy_comm_congruent(MPI_Comm a, MPI_Comm b)
{
    int r = MPI_UNEQUAL;
    MPI_Comm_compare(a, b, &r);
    return r == MPI_IDENT || r == MPI_CONGRUENT;
}
static void ctpy_set_threads(int n) { omp_set_num_threads(n); }
"""


def main():
    out = sys.argv[1]
    flavour = sys.argv[2] if len(sys.argv) > 2 else "openmpi"
    if flavour == "openmpi":
        comm_decl = "typedef struct ompi_communicator_t *MPI_Comm;\n"
    else:  # MPICH and derivatives: an integer handle
        comm_decl = "typedef int MPI_Comm;\n"
    ffi = cffi.FFI()
    ffi.cdef(comm_decl + CDEF_COMMON)
    ffi.set_source("cosmotl._cosmotl", SOURCE)
    ffi.emit_c_code(out)


if __name__ == "__main__":
    main()
