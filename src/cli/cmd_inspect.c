/* cosmotl inspect FILE: describe a snapshot, a summary or a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/summary.h"

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
    /* the summary probe opens the file once (rank 0); an HDF5 file it refuses
     * (a corrupt header, ct_h5_open_ro's checks) keeps that message for the end */
    int kind = 0;
    char *refused = NULL;
    if (rank == 0 && ct_summary_probe(path, &kind) != CT_OK) {
        refused = strdup(ct_error_message());
        if (!refused)
            refused = strdup("out of memory");
    }
    ct_status s = CT_ERR_UNSUPPORTED;
    for (int i = 0; i < 3 && s == CT_ERR_UNSUPPORTED; i++) {
        ct_error_clear();
        s = i == 0 ? inspect_model(path, comm)
            : i == 1 ? inspect_summary(path, kind, comm)
                     : inspect_snapshot(path, comm);
    }
    if (s != CT_ERR_UNSUPPORTED) {
        free(refused);
        return s == CT_OK ? 0 : ct_cli_fail("inspect", comm);
    }
    /* none took it: if it does not even open, say why rather than "not a ... file" */
    if (refused) {
        fprintf(stderr, "cosmotl inspect: error: %s\n", refused);
        free(refused);
        return 1;
    }
    if (rank == 0)
        fprintf(stderr, "cosmotl inspect: error: %s: not a snapshot, summary or model file\n",
                path);
    return 1;
}
