/* Reading a Blosc-compressed snapshot laid out exactly like Quijote's
 * (tests/data/quijote_blosc, written by tests/data/make_quijote_blosc.py with
 * h5py): through Debian's Blosc plugin, found without HDF5_PLUGIN_PATH. Skipped
 * (exit 77) when the plugin is not installed. Values are exact: positions are
 * k*1000 + 0.25 kpc/h (k < 1000) -> (float)(x/1000), velocities at a = 1. */
#include <stdlib.h>
#include <string.h>

#include "cosmotl/io.h"
#include "testlib.h"

/* see test_snapshot.c: LSan's dynamic-TLS scan crashes after plugin loading */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "use_tls=0"; }

int main(int argc, char **argv)
{
    unsetenv("HDF5_PLUGIN_PATH");
    CT_TEST_BEGIN(argc, argv);
    const char *src = getenv("CT_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/quijote_blosc/snapdir_004", src ? src : ".");
    ct_snapshot *s = NULL;
    ct_status st = ct_snapshot_open(&s, path, MPI_COMM_WORLD);
    if (st == CT_ERR_IO && strstr(ct_error_message(), "cannot load")) {
        printf("SKIP: no Blosc filter plugin (Debian: hdf5-filter-plugin-blosc-serial)\n");
        MPI_Finalize();
        return 77;
    }
    CT_EXPECT_OK(st);
    if (s) {
        const ct_snapshot_header *h = ct_snapshot_get_header(s);
        CT_EXPECT(h->box == 1000.0 && h->npart_total[1] == 64 && h->mass_table[1] == 656.56);
        CT_EXPECT(ct_snapshot_nfiles(s) == 2);
        ct_particles p;
        CT_EXPECT_OK(ct_snapshot_read(s, 1, NULL, &p));
        int bad = 0;
        for (int64_t g = 0; g < p.n && p.pos; g++) {
            int64_t i = g; /* one rank holds all */
            for (int a = 0; a < 3; a++) {
                double x = ((g * 37 + a * 11) % 1000) * 1000.0 + 0.25;
                bad += p.pos[3 * i + a] != (float)(x / 1000.0);
                bad += p.vel[3 * i + a] != (float)((g - 32) * 1.5 + a);
            }
            bad += p.id[i] != (uint64_t)g + 1;
        }
        CT_EXPECT(p.n == 64 && bad == 0);
        ct_particles_free(&p);
    }
    ct_snapshot_close(&s);
    CT_TEST_END();
}
