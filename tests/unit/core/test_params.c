/* The one parameter-table reader (ct_param_table_read) and its array form
 * (ct_params_read, used by gather): names, the unnamed index column, separators,
 * no caps, errors with file:line. Values are compared exactly: strtod of the
 * same text. The released Quijote tables, when present, are read by both forms
 * with the same result. */
#include <string.h>
#include <unistd.h>

#include "cosmotl/summary.h"
#include "testlib.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    char path[] = "/tmp/ct_params_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ct_param_table t;

    /* names from the last header line with one name per column */
    write_file(path, "# old header x y z w\n#Omega_m sigma_8\n0.3 0.8\n0.25,0.9\n\n# comment\n0.2\t0.7\n");
    CT_EXPECT_OK(ct_param_table_read(path, &t));
    CT_EXPECT(t.ncol == 2 && t.nrow == 3 && t.named == 1 && t.index_col == 0);
    CT_EXPECT(t.ncol == 2 && !strcmp(t.names[0], "Omega_m") && !strcmp(t.names[1], "sigma_8"));
    CT_EXPECT(t.nrow == 3 && t.v[0] == 0.3 && t.v[3] == 0.9 && t.v[4] == 0.2);
    CT_EXPECT(ct_param_table_column(&t, "sigma_8") == 1 && ct_param_table_column(&t, "h") == -1);
    ct_param_table_free(&t);

    /* an unnamed leading index column (MG_params.txt) is dropped */
    write_file(path, "#\n# Omega_M  h\n#\n0 0.1 0.6\n1 0.2 0.7\n");
    CT_EXPECT_OK(ct_param_table_read(path, &t));
    CT_EXPECT(t.ncol == 2 && t.index_col == 1 && t.named == 1);
    CT_EXPECT(t.ncol == 2 && !strcmp(t.names[0], "Omega_M") && t.v[0] == 0.1 && t.v[3] == 0.7);
    ct_param_table_free(&t);

    /* no caps: 300 columns, a 200-character name (each past an old fixed limit) */
    {
        size_t cap = 300 * 16 + 600;
        char *txt = calloc(cap, 1);
        size_t n = 0;
        n += (size_t)snprintf(txt + n, cap - n, "# ");
        for (int c = 0; c < 300; c++)
            n += (size_t)snprintf(txt + n, cap - n, c == 299 ? "%0200d" : "c%d ", c);
        n += (size_t)snprintf(txt + n, cap - n, "\n");
        for (int c = 0; c < 300; c++)
            n += (size_t)snprintf(txt + n, cap - n, "%d ", c);
        snprintf(txt + n, cap - n, "\n");
        write_file(path, txt);
        free(txt);
        CT_EXPECT_OK(ct_param_table_read(path, &t));
        CT_EXPECT(t.ncol == 300 && t.nrow == 1);
        CT_EXPECT(t.ncol == 300 && strlen(t.names[299]) == 200 && t.v[299] == 299);
        ct_param_table_free(&t);
    }

    /* the array form gives the same */
    write_file(path, "# a b c\n1 2 3\n4 5 6\n");
    double *v = NULL;
    int64_t nrow = 0;
    int ncol = 0;
    char **names = NULL;
    CT_EXPECT_OK(ct_params_read(path, &v, &nrow, &ncol, &names));
    CT_EXPECT(nrow == 2 && ncol == 3 && v && v[5] == 6 && names && !strcmp(names[2], "c"));
    ct_params_free_names(names, ncol);
    free(v);

    /* errors name file and line */
    write_file(path, "# a b\n1 2\n3 x\n");
    CT_EXPECT(ct_param_table_read(path, &t) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), path) && strstr(ct_error_message(), ":3:"));
    write_file(path, "# a b\n1 2\n3 4 5\n");
    CT_EXPECT(ct_param_table_read(path, &t) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), ":3: 3 columns, expected 2") != NULL);
    write_file(path, "# a b\n1 2abc\n");
    CT_EXPECT(ct_param_table_read(path, &t) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), ":2:") != NULL);
    write_file(path, "# a b\n1 1e999\n");
    CT_EXPECT(ct_param_table_read(path, &t) == CT_ERR_FORMAT);
    write_file(path, "# a b\n# only headers\n");
    CT_EXPECT(ct_param_table_read(path, &t) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), "no parameter rows") != NULL);
    /* a row of separators only (fuzz finding: zero columns, NULL row) */
    write_file(path, ",\n");
    CT_EXPECT(ct_param_table_read(path, &t) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), ":1: a data row without values") != NULL);
    CT_EXPECT(ct_param_table_read("/nonexistent/params.txt", &t) == CT_ERR_IO);
    unlink(path);

    /* the released tables: both forms agree row for row */
    static const char *tabs[] = {"LH_params.txt", "nwLH_params.txt", "MG_params.txt"};
    int found = 0;
    for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++) {
        char rel[128], p[2048];
        snprintf(rel, sizeof rel, "quijote-params/%s", tabs[i]);
        if (!ct_test_shared_path(rel, p, sizeof p))
            continue;
        found++;
        CT_EXPECT_OK(ct_param_table_read(p, &t));
        CT_EXPECT_OK(ct_params_read(p, &v, &nrow, &ncol, &names));
        CT_EXPECT(t.nrow == nrow && t.ncol == ncol && t.named);
        if (t.nrow == nrow && t.ncol == ncol && v)
            CT_EXPECT(!memcmp(t.v, v, sizeof(double) * (size_t)(nrow * ncol)));
        ct_params_free_names(names, ncol);
        free(v);
        ct_param_table_free(&t);
    }
    if (!found)
        CT_TEST_SKIP("released Quijote parameter tables not found (quijote-params/)");
    CT_TEST_END();
}
