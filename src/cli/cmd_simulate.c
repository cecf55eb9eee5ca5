/* cosmotl simulate: not built yet (issue 5). */
#include <stdio.h>

#include "cli.h"

int cmd_simulate(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("simulate", comm, "this command is not available yet");
}
