/* The memory a rank may plan with: the node's available memory shared by the
 * ranks on that node. Used by the memory budgets of the PM simulator and the
 * bispectrum, which refuse work that does not fit with an error stating the
 * need. */
#include <stdio.h>

#include "cosmotl/core.h"

double ct_mem_per_rank(MPI_Comm comm)
{
    double avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            long long kb;
            if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) {
                avail = (double)kb * 1024.0;
                break;
            }
        }
        fclose(f);
    }
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
