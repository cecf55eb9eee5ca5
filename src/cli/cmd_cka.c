/* cosmotl cka: not built yet (issue 7). */
#include <stdio.h>

#include "cli.h"

int cmd_cka(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("cka", comm, "this command is not available yet");
}
