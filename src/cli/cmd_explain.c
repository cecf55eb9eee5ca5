/* cosmotl explain: not built yet (issue 7). */
#include <stdio.h>

#include "cli.h"

int cmd_explain(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("explain", comm, "this command is not available yet");
}
