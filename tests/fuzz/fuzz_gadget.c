/* Gadget binary format I/II: the bytes are one snapshot file (ics), opened and
 * every type read under both positions policies, on one thread and on three in
 * small chunks (the same status and bytes, or abort). */
#include "cosmotl/io.h"
#define FZ_SNAPSHOT
#include "fuzz_common.h"

FZ_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    ct_error_clear();
    fz_write("ics", data, size, path, sizeof path);
    ct_snapshot *s = NULL;
    if (ct_snapshot_open(&s, path, MPI_COMM_SELF) == CT_OK) {
        fz_read_snapshot(s, 1 << 20);
        ct_snapshot_close(&s);
    }
    ct_error_clear();
    return 0;
}
