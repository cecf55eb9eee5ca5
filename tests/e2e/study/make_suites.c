/* Write the synthetic suite tables of tests/unit/study/synth.h into DIR:
 * DIR/lcdm.h5 (Omega_m, sigma_8) and DIR/nu.h5 (+ M_nu). */
#include <mpi.h>
#include <stdio.h>

#include "tests/unit/study/synth.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_suites DIR\n");
        return 2;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/lcdm.h5", argv[1]);
    if (synth_write_suite(p, 1200, 0, 1))
        return 1;
    snprintf(p, sizeof p, "%s/nu.h5", argv[1]);
    if (synth_write_suite(p, 600, 1, 2))
        return 1;
    return 0;
}
