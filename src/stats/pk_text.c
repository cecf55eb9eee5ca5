/* Quijote text files of power spectra: "k P" or "k P0 P2 P4" per line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/stats.h"

ct_status ct_pk_write_quijote_text(const ct_pk_result *r, const char *path, int multipoles)
{
    ct_atomic_file a;
    CT_CHECK(ct_atomic_fopen(&a, path));
    for (int i = 0; i < r->nbins; i++) {
        if (r->nmodes && r->nmodes[i] == 0)
            continue; /* empty bins have no k */
        if (multipoles)
            fprintf(a.f, "%.8e %.8e %.8e %.8e\n", r->k[i], r->P0[i], r->P2[i], r->P4[i]);
        else
            fprintf(a.f, "%.8e %.8e\n", r->k[i], r->P0[i]);
    }
    return ct_atomic_fclose(&a);
}

ct_status ct_pk_read_quijote_text(const char *path, ct_pk_result *r)
{
    ct_status rc = CT_OK;
    char *text = NULL;
    memset(r, 0, sizeof *r);
    CT_CHECK(ct_read_text(path, &text, NULL));
    int cap = 0, n = 0, ncol = -1, line = 0;
    for (char *save = NULL, *s = strtok_r(text, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
        line++;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#' || *s == '\r')
            continue;
        double v[4] = {0, 0, 0, 0};
        int c = 0;
        char *p = s, *end;
        while (c < 5) {
            double x = strtod(p, &end);
            if (end == p)
                break;
            if (c < 4)
                v[c] = x;
            c++;
            p = end;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p || (c != 2 && c != 4) || (ncol >= 0 && c != ncol) || !isfinite(v[0]) ||
            !isfinite(v[1]) || !(v[0] > 0))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                         "%s:%d: expected 2 or 4 numeric columns (k P or k P0 P2 P4)", path, line);
        ncol = c;
        if (n == cap) {
            cap = cap ? 2 * cap : 128;
            double **arrs[4] = {&r->k, &r->P0, &r->P2, &r->P4};
            for (int a = 0; a < 4; a++) {
                double *t = realloc(*arrs[a], sizeof(double) * cap);
                if (!t)
                    CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory", path);
                *arrs[a] = t;
            }
            int64_t *t = realloc(r->nmodes, sizeof(int64_t) * cap);
            if (!t)
                CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "%s: out of memory", path);
            r->nmodes = t;
        }
        r->k[n] = v[0];
        r->P0[n] = v[1];
        r->P2[n] = v[2];
        r->P4[n] = v[3];
        r->nmodes[n] = 0;
        n++;
    }
    if (n == 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no power-spectrum rows", path);
    r->nbins = n;
    r->mas = CT_MAS_CIC;
    r->bin_width = 1;
fail:
    free(text);
    if (rc != CT_OK)
        ct_pk_result_free(r);
    return rc;
}
