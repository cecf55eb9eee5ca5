/* cosmotl study: not built yet (issue 7). */
#include <stdio.h>

#include "cli.h"

int cmd_study(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("study", comm, "this command is not available yet");
}
