/* Summary and suite-table HDF5 files: the bytes are one HDF5 file, read as a
 * summary (every statistic's group) and as a suite table (info and a dataset
 * read with the default selection and a cut one). */
#include "cosmotl/nn.h"
#include "cosmotl/stats.h"
#include "cosmotl/summary.h"
#include "fuzz_common.h"

FZ_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    ct_error_clear();
    fz_write("x.h5", data, size, path, sizeof path);
    static const char *const groups[] = {"pk", "pk_cb", "mk", "pk_rsd", NULL};
    for (int g = 0; groups[g]; g++) {
        ct_pk_result r;
        memset(&r, 0, sizeof r);
        if (ct_summary_read_pk(path, groups[g], &r) == CT_OK)
            ct_pk_result_free(&r);
    }
    ct_table_info info;
    memset(&info, 0, sizeof info);
    if (ct_table_info_read(path, MPI_COMM_SELF, &info) == CT_OK)
        ct_table_info_free(&info);
    for (int k = 0; k < 2; k++) {
        ct_table_select sel;
        ct_table_select_defaults(&sel);
        if (k) {
            sel.stats = "pk,mk";
            sel.k_max = 0.3;
            sel.n_bins = 5;
            sel.targets = "Omega_m,sigma_8,nothere";
        }
        ct_dataset d;
        memset(&d, 0, sizeof d);
        if (ct_dataset_read_table(path, &sel, MPI_COMM_SELF, &d) == CT_OK)
            ct_dataset_free(&d);
    }
    ct_error_clear();
    return 0;
}
