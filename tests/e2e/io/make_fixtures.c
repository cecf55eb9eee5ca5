/* Write the snapshot fixtures of tests/unit/io/fixtures.c under DIR (for the
 * CLI test): make_fixtures DIR */
#include <stdio.h>

#include "../../unit/io/fixtures.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_fixtures DIR\n");
        return 2;
    }
    if (fx_make_all(argv[1]) != 0) {
        fprintf(stderr, "make_fixtures: cannot write fixtures under %s\n", argv[1]);
        return 1;
    }
    return 0;
}
