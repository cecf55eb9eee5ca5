/* The job manifest (OUT/manifest.tsv) of resumable stages. */
#include "cosmotl/batch.h"
#include "fuzz_common.h"

FZ_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    ct_error_clear();
    fz_write("manifest.tsv", data, size, path, sizeof path);
    ct_manifest_entry *e = NULL;
    size_t n = 0;
    if (ct_manifest_read(fz_dir, &e, &n) == CT_OK) {
        if (n > 0)
            (void)ct_manifest_find(e, n, e[0].item);
        ct_free(&e);
    }
    ct_error_clear();
    return 0;
}
