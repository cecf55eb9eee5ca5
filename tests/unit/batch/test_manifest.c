/* Reprocessing manifests: skip complete outputs, record failures with their error,
 * redo interrupted items (and remove their stale temporaries), say "nothing to do". */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cosmotl/batch.h"
#include "testlib.h"

static char root[256];

static void touch(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void out_path(char *buf, size_t cap, int i)
{
    snprintf(buf, cap, "%s/%d.h5", root, i);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    MPI_Comm comm = MPI_COMM_SELF;
    snprintf(root, sizeof root, "/tmp/ct_manifest_XXXXXX");
    CT_EXPECT(mkdtemp(root) != NULL);
    char out[512], in[512], item[16];

    /* first run: 0 is already complete, 1 succeeds, 2 fails, 3 is "killed" */
    ct_manifest *m = NULL;
    CT_EXPECT_OK(ct_manifest_open(&m, root, "summarize", comm));
    out_path(out, sizeof out, 0);
    touch(out, "complete");
    int todo = -1;
    for (int i = 0; i < 4; i++) {
        snprintf(item, sizeof item, "%d", i);
        snprintf(in, sizeof in, "/data/suite/%d/snapdir_004", i);
        out_path(out, sizeof out, i);
        CT_EXPECT_OK(ct_manifest_need(m, item, in, out, &todo));
        CT_EXPECT(todo == (i == 0 ? 0 : 1));
    }
    CT_EXPECT_OK(ct_manifest_begin(m, "1"));
    out_path(out, sizeof out, 1);
    touch(out, "ok");
    CT_EXPECT_OK(ct_manifest_done(m, "1"));
    CT_EXPECT_OK(ct_manifest_begin(m, "2"));
    ct_error_set(CT_ERR_FORMAT, "reader", 7, "snap_004.0.hdf5: truncated\tfile\nsecond line");
    CT_EXPECT_OK(ct_manifest_fail(m, "2", ct_error_message()));
    /* the caller's error record is untouched by recording it */
    CT_EXPECT(strstr(ct_error_message(), "truncated") != NULL);
    CT_EXPECT_OK(ct_manifest_begin(m, "3"));
    /* a killed writer leaves its temporary behind and no final output */
    char stale[600];
    snprintf(stale, sizeof stale, "%s/.3.h5.tmp.99999", root);
    touch(stale, "partial");
    ct_manifest_counts c = ct_manifest_get_counts(m);
    CT_EXPECT(c.items == 4 && c.complete == 1 && c.done == 1 && c.failed == 1);
    CT_EXPECT_OK(ct_manifest_flush(m));
    ct_manifest_close(&m);
    CT_EXPECT(m == NULL);

    /* the merged manifest: comment + header + 4 rows */
    char tsv[512];
    snprintf(tsv, sizeof tsv, "%s/manifest.tsv", root);
    CT_EXPECT(count_lines(tsv) == 6);
    ct_manifest_entry *e = NULL;
    size_t n = 0;
    CT_EXPECT_OK(ct_manifest_read(root, &e, &n));
    CT_EXPECT(n == 4);
    if (n == 4) {
        CT_EXPECT(!strcmp(e[0].item, "0") && e[0].state == CT_ITEM_DONE);
        CT_EXPECT(e[1].state == CT_ITEM_DONE && e[1].attempts == 1);
        CT_EXPECT(e[2].state == CT_ITEM_FAILED);
        /* one line, tabs and newlines flattened, input kept */
        CT_EXPECT(strstr(e[2].error, "truncated file second line") != NULL);
        CT_EXPECT(!strcmp(e[2].input, "/data/suite/2/snapdir_004"));
        CT_EXPECT(e[3].state == CT_ITEM_RUNNING && e[3].pid == (long)getpid());
        CT_EXPECT(ct_manifest_find(e, n, "3") == &e[3]);
        CT_EXPECT(ct_manifest_find(e, n, "7") == NULL);
    }
    ct_free(&e);

    /* second run: 3 is found interrupted and redone (stale temporary removed),
     * 2 is retried (and fixed), 0 and 1 are skipped */
    CT_EXPECT_OK(ct_manifest_open(&m, root, "summarize", comm));
    int need[4];
    for (int i = 0; i < 4; i++) {
        snprintf(item, sizeof item, "%d", i);
        out_path(out, sizeof out, i);
        CT_EXPECT_OK(ct_manifest_need(m, item, "in", out, &need[i]));
    }
    CT_EXPECT(!need[0] && !need[1] && need[2] && need[3]);
    c = ct_manifest_get_counts(m);
    CT_EXPECT(c.interrupted == 1 && c.complete == 2);
    CT_EXPECT_OK(ct_manifest_begin(m, "3"));
    CT_EXPECT(!exists(stale));
    out_path(out, sizeof out, 3);
    touch(out, "ok");
    CT_EXPECT_OK(ct_manifest_done(m, "3"));
    CT_EXPECT_OK(ct_manifest_begin(m, "2"));
    out_path(out, sizeof out, 2);
    touch(out, "ok");
    CT_EXPECT_OK(ct_manifest_done(m, "2"));
    CT_EXPECT_OK(ct_manifest_flush(m));
    ct_manifest_close(&m);
    CT_EXPECT_OK(ct_manifest_read(root, &e, &n));
    for (size_t i = 0; i < n; i++)
        CT_EXPECT(e[i].state == CT_ITEM_DONE && e[i].error[0] == '\0');
    CT_EXPECT(n == 4 && e[3].attempts == 2 && e[2].attempts == 2);
    ct_free(&e);

    /* third run: nothing to do, and the summary says so */
    CT_EXPECT_OK(ct_manifest_open(&m, root, "summarize", comm));
    for (int i = 0; i < 4; i++) {
        snprintf(item, sizeof item, "%d", i);
        out_path(out, sizeof out, i);
        CT_EXPECT_OK(ct_manifest_need(m, item, "in", out, &todo));
        CT_EXPECT(todo == 0);
    }
    c = ct_manifest_get_counts(m);
    char line[1024];
    ct_manifest_describe("summarize", root, &c, line, sizeof line);
    CT_EXPECT(strstr(line, "nothing to do: all 4 outputs are complete") != NULL);
    /* an output deleted after the fact is redone */
    out_path(out, sizeof out, 1);
    unlink(out);
    CT_EXPECT_OK(ct_manifest_need(m, "1", "in", out, &todo));
    CT_EXPECT(todo == 1);
    /* item names are plain names: no path tricks */
    CT_EXPECT(ct_manifest_need(m, "../x", "in", out, &todo) == CT_ERR_ARG);
    CT_EXPECT(ct_manifest_need(m, "", "in", out, &todo) == CT_ERR_ARG);
    /* finishing an item that was not begun is a state error */
    CT_EXPECT(ct_manifest_done(m, "0") == CT_ERR_STATE);
    ct_manifest_close(&m);

    /* an unwritable directory fails cleanly */
    CT_EXPECT(ct_manifest_open(&m, "/proc/no/such/dir", "x", comm) != CT_OK && m == NULL);

    if (ct_test_failures == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
    }
    CT_TEST_END();
}
