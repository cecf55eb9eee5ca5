/* Reprocessing manifests: skip complete outputs, record failures with their error,
 * redo interrupted items (and remove their stale temporaries), say "nothing to do";
 * a folder and paths of ~2000 characters (past the 1024-byte buffers the
 * manifest had: "bad manifest directory"), a path longer than PATH_MAX refused. */
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

/* A manifest in a folder of 2000+ characters (9 components of 220 under root):
 * opened, items recorded with their whole input and output paths, a stale
 * temporary beside a long output removed, merged and read back; an input
 * longer than a path can be is an error naming it, not a cut. */
static void test_long_folder(MPI_Comm comm)
{
    char comp[221];
    memset(comp, 'm', 220);
    comp[220] = '\0';
    char *dir = NULL, *out = NULL, *in = NULL, *stale = NULL, *huge = NULL;
    CT_EXPECT_OK(ct_asprintf(&dir, "%s", root));
    for (int i = 0; i < 9; i++) {
        char *t = dir;
        CT_EXPECT_OK(ct_asprintf(&dir, "%s/%s", t, comp));
        free(t);
    }
    CT_EXPECT(strlen(dir) > 2000);
    CT_EXPECT_OK(ct_mkdir_p(dir));
    CT_EXPECT_OK(ct_asprintf(&out, "%s/7.h5", dir));
    CT_EXPECT_OK(ct_asprintf(&in, "%s/in/snapdir_004", dir));
    CT_EXPECT_OK(ct_asprintf(&stale, "%s/.7.h5.tmp.99999", dir));
    ct_manifest *m = NULL;
    int todo = -1;
    CT_EXPECT_OK(ct_manifest_open(&m, dir, "summarize", comm));
    if (m) {
        CT_EXPECT_OK(ct_manifest_need(m, "7", in, out, &todo));
        CT_EXPECT(todo == 1);
        CT_EXPECT_OK(ct_manifest_begin(m, "7"));
        CT_EXPECT_OK(ct_manifest_flush(m));
        ct_manifest_close(&m);
    }
    /* killed: its temporary stays; the next run's begin removes it */
    touch(stale, "partial");
    CT_EXPECT_OK(ct_manifest_open(&m, dir, "summarize", comm));
    if (m) {
        CT_EXPECT_OK(ct_manifest_need(m, "7", in, out, &todo));
        CT_EXPECT(todo == 1 && ct_manifest_get_counts(m).interrupted == 1);
        CT_EXPECT_OK(ct_manifest_begin(m, "7"));
        CT_EXPECT(!exists(stale));
        touch(out, "ok");
        CT_EXPECT_OK(ct_manifest_done(m, "7"));
        CT_EXPECT_OK(ct_manifest_flush(m));
        /* longer than any path the system opens: refused, with the item named */
        huge = calloc(CT_MANIFEST_PATH_MAX + 2, 1);
        if (huge) {
            memset(huge, 'h', CT_MANIFEST_PATH_MAX);
            CT_EXPECT(ct_manifest_need(m, "8", huge, out, &todo) == CT_ERR_ARG);
            CT_EXPECT(strstr(ct_error_message(), "input path of item 8") != NULL);
            ct_error_clear();
        }
        ct_manifest_close(&m);
    }
    ct_manifest_entry *e = NULL;
    size_t n = 0;
    CT_EXPECT_OK(ct_manifest_read(dir, &e, &n));
    CT_EXPECT(n == 1 && e[0].state == CT_ITEM_DONE && e[0].attempts == 2 &&
              !strcmp(e[0].input, in) && !strcmp(e[0].output, out));
    ct_free(&e);
    free(dir);
    free(out);
    free(in);
    free(stale);
    free(huge);
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

    test_long_folder(comm);

    if (ct_test_failures == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
    }
    CT_TEST_END();
}
