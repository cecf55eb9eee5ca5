/* cosmotl inspect: model files. */
#include "cli.h"

ct_status inspect_model(const char *path, MPI_Comm comm)
{
    (void)path;
    (void)comm;
    return CT_ERR_UNSUPPORTED;
}
