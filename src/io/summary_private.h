/* Private helpers of the summary files. */
#ifndef CT_SUMMARY_PRIVATE_H
#define CT_SUMMARY_PRIVATE_H

#include <hdf5.h>

#include "cosmotl/core.h"

/* Variable-length UTF-8 string attribute (the released suite tables use them). */
ct_status ct_h5_attr_vstr(hid_t loc, const char *name, const char *v);
/* Variable-length UTF-8 string array as an attribute (as_attr) or dataset. */
ct_status ct_h5_vstr_array(hid_t loc, const char *name, const char *const *v, size_t n,
                           int as_attr);

#endif
