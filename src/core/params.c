/* The one reader of parameter tables (Quijote's *_params.txt, a suite's
 * params.txt): used by the simulator (sampling = table), gather and the
 * trainer's text-spectra datasets. Rules in core.h. */
#include "cosmotl/core.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_sep(char c)
{
    return isspace((unsigned char)c) || c == ',';
}

static int count_tokens(const char *s)
{
    int n = 0, in = 0;
    for (; *s; s++) {
        int sp = is_sep(*s);
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

void ct_param_table_free(ct_param_table *t)
{
    if (!t)
        return;
    if (t->names)
        for (int c = 0; c < t->ncol; c++)
            free(t->names[c]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

int ct_param_table_column(const ct_param_table *t, const char *name)
{
    for (int c = 0; c < t->ncol; c++)
        if (!strcmp(t->names[c], name))
            return c;
    return -1;
}

ct_status ct_param_table_read(const char *path, ct_param_table *t)
{
    ct_status rc = CT_OK;
    char *text = NULL, **line = NULL;
    size_t nline = 0, cap_line = 0;
    memset(t, 0, sizeof *t);
    CT_CHECK(ct_read_text(path, &text, NULL));
    /* lines, split in place ("\r\n" too) */
    for (char *s = text; s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (nline == cap_line) {
            cap_line = cap_line ? 2 * cap_line : 256;
            char **nw = realloc(line, cap_line * sizeof *line);
            if (!nw)
                CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory", path);
            line = nw;
        }
        line[nline++] = s;
        s = nl ? nl + 1 : NULL;
    }
    /* the first data row fixes the column count */
    size_t first = nline;
    int nc = 0;
    for (size_t i = 0; i < nline && first == nline; i++) {
        char *p = line[i];
        while (isspace((unsigned char)*p))
            p++;
        if (*p && *p != '#') {
            first = i;
            nc = count_tokens(p);
        }
    }
    if (first == nline)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no parameter rows", path);
    if (nc < 1)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%zu: a data row without values", path, first + 1);
    /* names: the last header line above the data with nc names, or nc - 1 (an
     * unnamed leading index column, as in MG_params.txt, which is dropped) */
    const char *hdr = NULL;
    for (size_t i = first; i-- > 0 && !hdr;) {
        char *p = line[i];
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '#')
            continue;
        int nt = count_tokens(p + 1);
        if (nt == nc || (nt == nc - 1 && nt > 0)) {
            hdr = p + 1;
            t->index_col = nt == nc - 1;
            t->named = 1;
        }
    }
    t->first_data_line = (int)first + 1;
    int skip = t->index_col;
    t->ncol = nc - skip;
    CT_CHECK_GOTO(rc, ct_calloc(&t->names, (size_t)t->ncol + 1, sizeof(char *), "names"));
    for (int c = 0; c < t->ncol; c++) {
        if (hdr) {
            while (is_sep(*hdr))
                hdr++;
            size_t len = 0;
            while (hdr[len] && !is_sep(hdr[len]))
                len++;
            CT_CHECK_GOTO(rc, ct_asprintf(&t->names[c], "%.*s", (int)len, hdr));
            hdr += len;
        } else {
            CT_CHECK_GOTO(rc, ct_asprintf(&t->names[c], "p%d", c));
        }
    }
    /* rows */
    size_t cap = 0;
    for (size_t i = first; i < nline; i++) {
        char *p = line[i];
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        int c = 0;
        if ((size_t)(t->nrow + 1) * (size_t)t->ncol > cap) {
            cap = cap ? 2 * cap : 1024 * (size_t)t->ncol;
            double *nv = realloc(t->v, cap * sizeof *nv);
            if (!nv)
                CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory", path);
            t->v = nv;
        }
        double *row = t->v + t->nrow * t->ncol;
        for (;;) {
            while (is_sep(*p))
                p++;
            if (!*p)
                break;
            char *end;
            errno = 0;
            double x = strtod(p, &end);
            if (end == p || (errno == ERANGE && fabs(x) == HUGE_VAL) || (*end && !is_sep(*end)))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%zu: not a number: '%.20s'", path, i + 1, p);
            if (c >= skip && c < nc)
                row[c - skip] = x;
            c++;
            p = end;
        }
        if (c != nc)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s:%zu: %d columns, expected %d (as in line %zu)",
                         path, i + 1, c, nc, first + 1);
        t->nrow++;
    }
fail:
    free(line);
    free(text);
    if (rc != CT_OK)
        ct_param_table_free(t);
    return rc;
}
