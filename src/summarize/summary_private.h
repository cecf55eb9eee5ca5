/* Private helpers of the summary files. */
#ifndef CT_SUMMARY_PRIVATE_H
#define CT_SUMMARY_PRIVATE_H

#include <hdf5.h>

#include "cosmotl/core.h"
#include "cosmotl/summary.h"

/* Variable-length UTF-8 string attribute (the released suite tables use them). */
ct_status ct_h5_attr_vstr(hid_t loc, const char *name, const char *v);
/* Variable-length UTF-8 string array as an attribute (as_attr) or dataset. */
ct_status ct_h5_vstr_array(hid_t loc, const char *name, const char *const *v, size_t n,
                           int as_attr);

/* "x", "y", "z" for an axis 0..2, else "none". */
const char *ct_summary_axis_name_(int axis);
/* What a /pk and a /mk group share: the k, P0, P2, P4, nmodes datasets of r and
 * the attributes box, grid, mas, redshift, description (desc), interlace,
 * los_axis, rsd, bin_width, npart and species. */
ct_status ct_summary_spectrum_(hid_t g, const ct_pk_result *r, const ct_pk_meta *meta,
                               const char *desc);

/* Summary files and suite tables are built in memory (HDF5 core driver, no
 * backing store) and written to disk in one checked write of the file image:
 * a full disk is then an ordinary write error with its reason (ENOSPC), never a
 * failed H5Fclose that leaves HDF5 holding the file. */
ct_status ct_h5_mem_create(hid_t *file);
/* Close the in-memory file and write its image to tmp, then rename it onto
 * final_path (ct_atomic_commit). On failure tmp is removed. The file is closed
 * in every case. */
ct_status ct_h5_mem_save(hid_t file, const char *tmp, const char *final_path);

#endif
