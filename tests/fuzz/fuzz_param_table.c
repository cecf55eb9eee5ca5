/* Quijote parameter tables (latin_hypercube_params.txt and the like), read by
 * the one reader ct_param_table_read (cosmotl/core.h) and through the
 * summaries' array form ct_params_read. */
#include "cosmotl/sim.h"
#include "cosmotl/summary.h"
#include "fuzz_common.h"

FZ_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    ct_error_clear();
    fz_write("params.txt", data, size, path, sizeof path);
    ct_param_table t;
    memset(&t, 0, sizeof t);
    if (ct_param_table_read(path, &t) == CT_OK)
        for (int c = 0; c < t.ncol; c++)
            (void)ct_param_canonical(t.names[c]);
    ct_param_table_free(&t);
    double *v = NULL;
    int64_t nrow = 0;
    int ncol = 0;
    char **names = NULL;
    if (ct_params_read(path, &v, &nrow, &ncol, &names) == CT_OK) {
        ct_params_free_names(names, ncol);
        free(v);
    }
    ct_error_clear();
    return 0;
}
