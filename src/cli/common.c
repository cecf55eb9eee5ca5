/* Helpers shared by the subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int ct_cli_fail(const char *cmd, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        fprintf(stderr, "cosmotl %s: error: %s\n", cmd, ct_error_message());
        fflush(stderr);
    }
    return 1;
}

int ct_cli_usage_error(const char *cmd, MPI_Comm comm, const char *fmt, ...)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        fprintf(stderr, "cosmotl %s: error: %s (see cosmotl %s --help)\n", cmd, msg, cmd);
        fflush(stderr);
    }
    return 2;
}

int ct_cli_is_help(const char *arg)
{
    return !strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "help");
}

int ct_cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int ct_cli_parse_range(const char *s, long *a, long *b)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return -1;
    char left[64];
    size_t n = (size_t)(colon - s);
    if (n == 0 || n >= sizeof left)
        return -1;
    memcpy(left, s, n);
    left[n] = '\0';
    if (ct_cli_parse_long(left, 0, 1L << 40, a) || ct_cli_parse_long(colon + 1, 0, 1L << 40, b))
        return -1;
    return *a < *b ? 0 : -1;
}
