/* cosmotl summarize: not built yet (issue 3). */
#include <stdio.h>

#include "cli.h"

int cmd_summarize(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("summarize", comm, "this command is not available yet");
}
