/* The job manifest of resumable stages: per-item records DIR/.manifest/<item>
 * (what ct_manifest_read and a resumed run parse) and the merged DIR/manifest.tsv.
 * The bytes are up to 4 records separated by 0x1e (ASCII record separator), each
 * stored under the item name its first field gives (when that is a valid name,
 * else "x<i>"). Then: ct_manifest_read + ct_manifest_find; a resumed run over the
 * records (ct_manifest_open, need for each item, begin + done or fail, flush,
 * counts, describe, close; the interrupted and failed paths included); and
 * ct_manifest_read of the result, which must hold every item it was told about.
 * The folder is removed before the next input. */
#include <ftw.h>
#include <stdio.h>

#include "cosmotl/batch.h"
#include "fuzz_common.h"

FZ_INIT()

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || (n <= 2 && s[0] == '.'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[300], recdir[340], path[500];
    ct_error_clear();
    snprintf(dir, sizeof dir, "%s/m", fz_dir);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(dir, 0700);
    snprintf(recdir, sizeof recdir, "%s/.manifest", dir);
    mkdir(recdir, 0700);
    /* the records */
    char items[4][64];
    int nitems = 0;
    size_t pos = 0;
    while (nitems < 4 && pos <= size) {
        size_t end = pos;
        while (end < size && data[end] != 0x1e)
            end++;
        const char *rec = (const char *)data + pos;
        size_t len = end - pos;
        /* the item name: the first field of the first line not starting with '#' */
        size_t ls = 0;
        while (ls < len && rec[ls] == '#') {
            while (ls < len && rec[ls] != '\n')
                ls++;
            if (ls < len)
                ls++;
        }
        size_t le = ls;
        while (le < len && rec[le] != '\t' && rec[le] != '\n')
            le++;
        if (name_ok(rec + ls, le - ls))
            snprintf(items[nitems], sizeof items[nitems], "%.*s", (int)(le - ls), rec + ls);
        else
            snprintf(items[nitems], sizeof items[nitems], "x%d", nitems);
        int dup = 0;
        for (int j = 0; j < nitems; j++)
            dup |= !strcmp(items[j], items[nitems]);
        if (!dup) {
            snprintf(path, sizeof path, "%s/%s", recdir, items[nitems]);
            FILE *f = fopen(path, "wb");
            if (!f)
                abort();
            if (len && fwrite(rec, 1, len, f) != len)
                abort();
            fclose(f);
            nitems++;
        }
        pos = end + 1;
    }
    /* read as gather and the tools do */
    ct_manifest_entry *e = NULL;
    size_t n = 0;
    if (ct_manifest_read(dir, &e, &n) == CT_OK) {
        for (size_t i = 0; i < n; i++)
            if (ct_manifest_find(e, n, e[i].item) != &e[i] && strcmp(e[i].item, ""))
                break; /* duplicates are allowed to resolve to the first */
        ct_free(&e);
    }
    ct_error_clear();
    /* a resumed run over these records */
    ct_manifest *m = NULL;
    int known[4] = {0, 0, 0, 0}; /* items the run accepted (valid names) */
    if (ct_manifest_open(&m, dir, "fuzz", MPI_COMM_SELF) == CT_OK) {
        for (int i = 0; i < nitems; i++) {
            char out[500];
            snprintf(out, sizeof out, "%s/out_%s", dir, items[i]);
            int todo = 0;
            if (ct_manifest_need(m, items[i], "input", out, &todo) != CT_OK)
                continue;
            known[i] = 1;
            if (!todo)
                continue;
            if (ct_manifest_begin(m, items[i]) != CT_OK)
                continue;
            if (i % 2 == 0) {
                FILE *o = fopen(out, "w");
                if (o)
                    fclose(o);
                (void)ct_manifest_done(m, items[i]);
            } else {
                (void)ct_manifest_fail(m, items[i], "fuzz\tfailure\nsecond line");
            }
        }
        int flushed = ct_manifest_flush(m) == CT_OK;
        if (flushed) {
            ct_manifest_counts c = ct_manifest_get_counts(m);
            char buf[512];
            ct_manifest_describe("fuzz", dir, &c, buf, sizeof buf);
        }
        ct_manifest_close(&m);
        ct_error_clear();
        /* every item the run was told about has a record now */
        if (flushed && ct_manifest_read(dir, &e, &n) == CT_OK) {
            for (int i = 0; i < nitems; i++)
                if (known[i] && !ct_manifest_find(e, n, items[i]))
                    __builtin_trap(); /* a lost row (SIGILL: libFuzzer keeps the input;
                                         Open MPI's own handler takes SIGABRT) */
            ct_free(&e);
        }
    }
    ct_error_clear();
    return 0;
}
