/* cosmotl inspect: snapshot files. */
#include "cli.h"

ct_status inspect_snapshot(const char *path, MPI_Comm comm)
{
    (void)path;
    (void)comm;
    return CT_ERR_UNSUPPORTED;
}
