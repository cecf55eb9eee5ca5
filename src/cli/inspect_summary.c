/* cosmotl inspect: summary files. */
#include "cli.h"

ct_status inspect_summary(const char *path, MPI_Comm comm)
{
    (void)path;
    (void)comm;
    return CT_ERR_UNSUPPORTED;
}
