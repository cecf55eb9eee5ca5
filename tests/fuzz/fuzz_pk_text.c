/* Pylians-style P(k) text files (k P, or k P0 P2 P4). */
#include "cosmotl/stats.h"
#include "fuzz_common.h"

FZ_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    ct_error_clear();
    fz_write("Pk_m_z=0.txt", data, size, path, sizeof path);
    ct_pk_result r;
    memset(&r, 0, sizeof r);
    if (ct_pk_read_quijote_text(path, &r) == CT_OK)
        ct_pk_result_free(&r);
    ct_error_clear();
    return 0;
}
