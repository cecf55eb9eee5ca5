/* cosmotl train: not built yet (issue 6). */
#include <stdio.h>

#include "cli.h"

int cmd_train(int argc, char **argv, MPI_Comm comm)
{
    (void)argc;
    (void)argv;
    return ct_cli_usage_error("train", comm, "this command is not available yet");
}
