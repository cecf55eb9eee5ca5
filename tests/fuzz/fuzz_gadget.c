/* Gadget binary format I/II: the bytes are one snapshot file (ics), opened and
 * every type read under both positions policies. */
#include "cosmotl/io.h"
#include "fuzz_common.h"

FZ_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    ct_error_clear();
    fz_write("ics", data, size, path, sizeof path);
    ct_snapshot *s = NULL;
    if (ct_snapshot_open(&s, path, MPI_COMM_SELF) == CT_OK) {
        const ct_snapshot_header *h = ct_snapshot_get_header(s);
        for (int t = 0; t < 6; t++) {
            if (h->npart_total[t] > (1 << 20))
                continue; /* headers may claim any count; the file is small */
            for (int pol = 0; pol < 2; pol++) {
                ct_read_settings rs;
                ct_read_settings_defaults(&rs);
                rs.bounds = pol ? CT_BOUNDS_WRAP : CT_BOUNDS_ERROR;
                ct_particles p;
                if (ct_snapshot_read(s, t, &rs, &p) == CT_OK)
                    ct_particles_free(&p);
            }
        }
        ct_snapshot_close(&s);
    }
    ct_error_clear();
    return 0;
}
