/* cosmotl inspect FILE: describe a snapshot, a summary or a model. */
#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "cli.h"
#include "cosmotl/h5.h"

static const char *help =
    "usage: cosmotl inspect FILE\n\n"
    "Describe FILE: a Gadget snapshot (HDF5 file, snapdir_XXX/ folder or Gadget binary),\n"
    "a summary file or suite table written by cosmotl, or a model file.\n";

int cmd_inspect(int argc, char **argv, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (argc >= 2 && ct_cli_is_help(argv[1])) {
        if (rank == 0)
            fputs(help, stdout);
        return 0;
    }
    if (argc != 2)
        return ct_cli_usage_error("inspect", comm, "expected exactly one FILE");
    const char *path = argv[1];
    ct_status (*kinds[])(const char *, MPI_Comm) = {inspect_model, inspect_summary,
                                                    inspect_snapshot};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        ct_error_clear();
        ct_status s = kinds[i](path, comm);
        if (s == CT_OK)
            return 0;
        if (s != CT_ERR_UNSUPPORTED)
            return ct_cli_fail("inspect", comm);
    }
    /* An HDF5 file none of them took: if it does not even open (a corrupt header
     * refused by ct_h5_open_ro's checks), say that rather than "not a ... file". */
    int refused = 0;
    if (rank == 0 && H5Fis_hdf5(path) > 0) {
        hid_t f;
        ct_error_clear();
        if (ct_h5_open_ro(path, &f) == CT_OK)
            H5Fclose(f);
        else
            refused = 1;
    }
    MPI_Bcast(&refused, 1, MPI_INT, 0, comm);
    if (refused) {
        if (rank == 0)
            fprintf(stderr, "cosmotl inspect: error: %s\n", ct_error_message());
        return 1;
    }
    if (rank == 0)
        fprintf(stderr, "cosmotl inspect: error: %s: not a snapshot, summary or model file\n",
                path);
    return 1;
}
