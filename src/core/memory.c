/* The memory a rank may plan with: the node's available memory shared by the
 * ranks on that node. Used by the memory budgets of the PM simulator and the
 * bispectrum, which refuse work that does not fit with an error stating the
 * need. */
#include <stdio.h>
#include <string.h>

#include "cosmotl/core.h"

long long ct_meminfo(const char *field)
{
    long long v = -1;
    const size_t len = strlen(field);
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, field, len) && line[len] == ':' &&
                sscanf(line + len + 1, "%lld", &v) == 1)
                break;
        fclose(f);
    }
    return v;
}

double ct_mem_per_rank(MPI_Comm comm)
{
    const long long kb = ct_meminfo("MemAvailable");
    double avail = kb > 0 ? (double)kb * 1024.0 : 0;
    if (!(avail > 0))
        avail = 4.0 * 1024 * 1024 * 1024; /* unknown: assume a modest 4 GiB */
    MPI_Comm node;
    int nnode = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &nnode);
        MPI_Comm_free(&node);
    }
    /* the smallest value over ranks, so every rank plans the same way */
    double b = avail / nnode;
    MPI_Allreduce(MPI_IN_PLACE, &b, 1, MPI_DOUBLE, MPI_MIN, comm);
    return b;
}
