/* cosmotl gather: not built yet (issue 3). */
#include <stdio.h>

#include "cli.h"

int cmd_gather(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("gather", comm, "this command is not available yet");
}
