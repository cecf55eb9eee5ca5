/* Manifests over ranks: every rank of a group gets rank 0's answers; rank groups
 * record disjoint items without sharing writes and the merged manifest holds all. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/batch.h"
#include "testlib.h"

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char root[256] = "/tmp/ct_manifest_mpi_XXXXXX";
    if (rank == 0)
        CT_EXPECT(mkdtemp(root) != NULL);
    MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);

    /* whole world as one group: rank 0 sees the output, others may not be asked */
    ct_manifest *m = NULL;
    CT_EXPECT_OK(ct_manifest_open(&m, root, "summarize", MPI_COMM_WORLD));
    char out[512];
    snprintf(out, sizeof out, "%s/0.h5", root);
    if (rank == 0) {
        FILE *f = fopen(out, "w");
        if (f)
            fclose(f);
    }
    int todo = -1;
    CT_EXPECT_OK(ct_manifest_need(m, "0", "in0", out, &todo));
    CT_EXPECT(todo == 0);
    CT_EXPECT_OK(ct_manifest_need(m, "1", "in1", "/nonexistent/1.h5", &todo));
    CT_EXPECT(todo == 1);
    CT_EXPECT_OK(ct_manifest_begin(m, "1"));
    CT_EXPECT_OK(ct_manifest_fail(m, "1", "bad snapshot"));
    ct_manifest_counts c = ct_manifest_get_counts(m);
    CT_EXPECT(c.items == 2 && c.complete == 1 && c.failed == 1);
    /* a recording error on rank 0 reaches every rank: item not begun */
    CT_EXPECT(ct_manifest_done(m, "7") == CT_ERR_STATE);
    ct_manifest_close(&m);

    /* one group per rank, disjoint items 10 + rank */
    MPI_Comm group;
    MPI_Comm_split(MPI_COMM_WORLD, rank, 0, &group);
    CT_EXPECT_OK(ct_manifest_open(&m, root, "summarize", group));
    char item[16];
    snprintf(item, sizeof item, "%d", 10 + rank);
    CT_EXPECT_OK(ct_manifest_need(m, item, "in", "/nonexistent/x.h5", &todo));
    CT_EXPECT_OK(ct_manifest_begin(m, item));
    CT_EXPECT_OK(ct_manifest_done(m, item));
    MPI_Barrier(MPI_COMM_WORLD);
    CT_EXPECT_OK(ct_manifest_flush(m));
    ct_manifest_close(&m);
    MPI_Comm_free(&group);
    MPI_Barrier(MPI_COMM_WORLD);

    ct_manifest_entry *e = NULL;
    size_t n = 0;
    CT_EXPECT_OK(ct_manifest_read(root, &e, &n));
    CT_EXPECT(n == (size_t)(2 + size));
    const ct_manifest_entry *f1 = ct_manifest_find(e, n, "1");
    CT_EXPECT(f1 && f1->state == CT_ITEM_FAILED && !strcmp(f1->error, "bad snapshot"));
    for (int r = 0; r < size; r++) {
        snprintf(item, sizeof item, "%d", 10 + r);
        const ct_manifest_entry *x = ct_manifest_find(e, n, item);
        CT_EXPECT(x && x->state == CT_ITEM_DONE);
    }
    ct_free(&e);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0 && ct_test_failures == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
    }
    CT_TEST_END();
}
