/* Model files (HDF5, written by cosmotl train): the bytes are one file, loaded
 * (structure, layer sizes, normalisation, weights all checked by the loader). */
#include "cosmotl/nn.h"
#include "fuzz_common.h"

FZ_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    ct_error_clear();
    fz_write("model.h5", data, size, path, sizeof path);
    ct_mlp *m = NULL;
    if (ct_mlp_load(&m, path, MPI_COMM_SELF) == CT_OK)
        ct_mlp_destroy(&m);
    ct_error_clear();
    return 0;
}
