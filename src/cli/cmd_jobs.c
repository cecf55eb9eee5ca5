/* cosmotl jobs: not built yet (issue 8). */
#include <stdio.h>

#include "cli.h"

int cmd_jobs(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("jobs", comm, "this command is not available yet");
}
