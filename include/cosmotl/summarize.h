/* cosmotl summarize module (src/summarize/): the per-snapshot pipeline of
 * `cosmotl summarize` as a library call. One read of a Gadget snapshot (HDF5 or
 * binary), one density mesh (total matter: CDM and neutrinos weighted by mass),
 * then the chosen statistics of the same delta(k), written as one summary file
 * (cosmotl/summary.h) and optionally the Quijote text files. */
#ifndef COSMOTL_SUMMARIZE_H
#define COSMOTL_SUMMARIZE_H

#include <mpi.h>

#include "cosmotl/core.h"
#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Statistics (bits of ct_summarize_settings.stats). */
enum { CT_SUMMARIZE_PK = 1, CT_SUMMARIZE_MK = 2, CT_SUMMARIZE_BK = 4 };

typedef struct {
    int stats;          /* CT_SUMMARIZE_* bits (default CT_SUMMARIZE_PK) */
    int grid;           /* mesh points per side, even (default 512) */
    ct_mas mas;         /* default CT_MAS_CIC */
    int interlace;      /* 1: interlaced second grid (default 0) */
    int rsd;            /* redshift-space axis 0..2, -1 real space (default -1) */
    int los;            /* multipole axis in real space (default 2) */
    double bin_width;   /* units of kF (default 1) */
    int shot_noise;     /* subtract 1/nbar from P0 (default 0) */
    int quijote_text;   /* also write DIR(out)/<name>/Pk_m_z=Z.txt etc. (default 0) */
    int threads;        /* OpenMP threads of the mesh (default 1) */
    int plan;           /* FFTW planning: 0 estimate, 1 measure (default 0) */
    int wrap_positions; /* wrap every finite position into the box (default 0: only
                           positions within 1e-3 box outside, see cosmotl/io.h) */
    int species_cb;     /* 1: measure CDM+baryons only (PartType1) even when the
                           snapshot has neutrinos (PartType2); default 0: total
                           matter, mass-weighted over both, plus /pk_cb */
    int pk_float32;     /* 1: P(k) on float32 meshes (ct_pk_settings.float32: half
                           the memory and memory traffic of painting, the FFT and
                           binning; P within 1e-6 relative below the Nyquist
                           wavenumber); P(k) alone (stats = CT_SUMMARIZE_PK), as the
                           bispectrum and the marked spectrum need the double mesh.
                           /pk then has the attribute float32 = 1. Default 0 */
    ct_mk_settings mk;  /* marked spectrum (ct_mk_settings_defaults) */
    ct_bk_settings bk;  /* bispectrum (ct_bk_settings_defaults; cache_dir NULL) */
} ct_summarize_settings;

void ct_summarize_settings_defaults(ct_summarize_settings *s);
/* CT_ERR_ARG with a one-line message when the settings cannot work (odd grid,
 * bispectrum shells beyond the grid's modes, ...). */
ct_status ct_summarize_settings_check(const ct_summarize_settings *s);

/* A summarizer keeps the meshes (and their FFT plans) between snapshots of the
 * same box, and the phase timers ("read", "plan", "exchange", "paint", "fft",
 * "bin", "bk", "mk", "write", in that order on every rank). The settings are
 * copied (strings such as bk.cache_dir must outlive the summarizer).
 * Collective over comm (which is used, not duplicated). */
typedef struct ct_summarizer ct_summarizer;

ct_status ct_summarizer_create(ct_summarizer **z, const ct_summarize_settings *s,
                               MPI_Comm comm);
void ct_summarizer_destroy(ct_summarizer **z);
ct_timers *ct_summarizer_timers(ct_summarizer *z);

/* Summarize one snapshot into the summary file out_path (written atomically by
 * rank 0 of the communicator: it exists only when complete). name is the
 * simulation's name (root attribute "name", folder of the Quijote text files);
 * suite_dir the simulation's suite folder (root attribute "suite_dir", made
 * absolute; where gather looks for params.txt). The status is agreed on every
 * rank. Collective. */
ct_status ct_summarize_snapshot(ct_summarizer *z, const char *snap_path, const char *name,
                                const char *suite_dir, const char *out_path);

/* The power spectrum of one snapshot in one call: what `cosmotl summarize
 * SNAP --grid GRID` writes as /pk (and as Pk_m_z=Z.txt with --quijote-text),
 * bit for bit on the same number of ranks, by the same code path (a summarizer
 * of P(k) alone, nothing written). ps (NULL: ct_pk_settings_defaults) gives the
 * mass assignment, interlacing, bin width, multipole axis (--los), shot noise
 * and window compensation; its timers and discard_field are not used. Real
 * space; positions as summarize reads them (within 1e-3 box outside the box
 * wrapped, further out an error naming the particle). species_cb = 0: total
 * matter, CDM and neutrinos (PartType2, when present) weighted by mass, as
 * summarize's default; 1: CDM+baryons (PartType1) only (--species cb). Each rank
 * streams its share of one particle type in chunks (several ranks: each
 * chunk exchanged, then painted). out is zeroed first and filled on every rank
 * (free with ct_pk_result_free). ps->float32 selects the float32 path
 * (--pk-float32). The status is agreed on every rank. Collective. */
ct_status ct_pk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            int species_cb, MPI_Comm comm, ct_pk_result *out);

/* The marked power spectrum and the bispectrum of one snapshot in one call, in
 * the same way: what `cosmotl summarize SNAP --stats mk` writes as /mk (M(k)
 * and the cross X(k); --mark-R/-p/-ds from mk, NULL: ct_mk_settings_defaults)
 * and `--stats bk` as /bk (--bk-dk, --bk-kmax, --mem-budget, --bk-cache from
 * bk, NULL: ct_bk_settings_defaults, no counts cache), bit for bit on the same
 * number of ranks: a summarizer of that statistic alone, nothing written. ps
 * and species_cb as for ct_pk_of_snapshot; both are measured on delta(k) of the
 * same painting (total matter unless species_cb), the marked spectrum binned
 * with ps. A bispectrum whose shells reach past the grid's modes, an odd grid
 * or an undefined mark fail with one line. *out is zeroed (NULL) first and
 * filled on every rank (free with ct_mk_result_free / ct_bk_result_destroy).
 * The status is agreed on every rank. Collective. */
ct_status ct_mk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            const ct_mk_settings *mk, int species_cb, MPI_Comm comm,
                            ct_mk_result *out);
ct_status ct_bk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            const ct_bk_settings *bk, int species_cb, MPI_Comm comm,
                            ct_bk_result **out);

/* Batches: the next ct_summarize_snapshot call of z will (most likely) be for
 * next_snap_path. That call then opens it once its own snapshot is read and
 * reads this rank's share of it in a helper thread while computing, so the call
 * after it finds the particles read (or waits for the rest). The outputs are
 * those of calls without the hint, bit for bit; a hint that turns out wrong only
 * costs the read. The hint is for the next call only; NULL clears it. Give the
 * same hint on every rank of the communicator (the open is collective). A
 * snapshot that fails to open is left to the call that names it. Every call
 * reads its snapshot's particles in a helper thread (no MPI calls in it; needs
 * MPI initialised with MPI_THREAD_FUNNELED or more, otherwise the read is done
 * in the calling thread) while the first call creates the meshes.
 * Overlapped painting: on a communicator of one rank, for P(k) alone (stats =
 * CT_SUMMARIZE_PK), when the rank has at least twice the mesh's threads in
 * cores (ct_node_cores_per_rank) and MPI allows a helper thread, the helper
 * also paints the hinted snapshot (CDM only, the same box) into a second mesh
 * (a second pair with interlacing; made by the first such call and kept, if it
 * takes at most half the memory available to the rank, ct_mem_per_rank) while
 * the main thread transforms and bins the current one; the next call swaps the
 * meshes in and goes straight to its transform. Same chunks, same order: the
 * same bits. The helper is joined before the call returns (no thread outlives
 * a call). CT_OVERLAP_PAINT=0 in the environment turns it off, =1 turns it on
 * whatever the cores. */
ct_status ct_summarize_prefetch(ct_summarizer *z, const char *next_snap_path);

#ifdef __cplusplus
}
#endif
#endif
