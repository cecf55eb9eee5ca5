/* Parameter sampling and Quijote parameter tables: Sobol and Latin-hypercube
 * stratification, every released table read with its documented shape, column
 * aliases, suite parameter sets, and clean failures on malformed tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosmotl/sim.h"
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
    /* Latin hypercube: every stratum of every dimension used exactly once */
    enum { N = 50, D = 4 };
    double u[N * D];
    CT_EXPECT_OK(ct_sample_lhs(D, N, 7, u));
    for (int j = 0; j < D; j++) {
        int seen[N] = {0};
        for (int i = 0; i < N; i++) {
            int s = (int)(u[i * D + j] * N);
            CT_EXPECT(s >= 0 && s < N);
            if (s >= 0 && s < N)
                seen[s]++;
        }
        for (int s = 0; s < N; s++)
            CT_EXPECT(seen[s] == 1);
    }
    double u2[N * D];
    CT_EXPECT_OK(ct_sample_lhs(D, N, 7, u2));
    CT_EXPECT(!memcmp(u, u2, sizeof u)); /* deterministic */
    CT_EXPECT_OK(ct_sample_lhs(D, N, 8, u2));
    CT_EXPECT(memcmp(u, u2, sizeof u) != 0);

    /* Sobol: points 1..64 of a (0, m, d)-net: each dimension puts exactly 32
     * points in each half and 16 in each quarter (points 1..64 drop 0 but add
     * the 64th, which lies in the same quarter as 0 would: allow +-1) */
    double sb[64 * 5];
    CT_EXPECT_OK(ct_sample_sobol(5, 64, 0, sb));
    for (int j = 0; j < 5; j++) {
        int q[4] = {0};
        for (int i = 0; i < 64; i++)
            q[(int)(sb[i * 5 + j] * 4)]++;
        for (int k = 0; k < 4; k++)
            CT_EXPECT(abs(q[k] - 16) <= 1);
    }
    CT_EXPECT_ABS(sb[0], 0.5, 1e-15); /* GSL's first Sobol point */
    CT_EXPECT(ct_sample_sobol(41, 4, 0, sb) == CT_ERR_ARG);

    /* every released Quijote table: shape and first value */
    char shared_buf[1024];
    const char *shared = NULL;
    if (ct_test_shared_path("quijote-params", shared_buf, sizeof shared_buf)) {
        shared_buf[strlen(shared_buf) - strlen("/quijote-params")] = '\0';
        shared = shared_buf;
    } else {
        CT_TEST_SKIP("the released Quijote parameter tables: quijote-params not found "
                     "(set CT_SHARED)");
    }
    struct {
        const char *file;
        int ncol;
        long nrow;
        const char *first_canon;
        double v00;
    } tabs[] = {
        {"BSQ_params.txt", 5, 32768, "Omega_m", 0.28225995},
        {"LH_params.txt", 5, 2000, "Omega_m", 0.1755},
        {"nwLH_params.txt", 7, 2000, "Omega_m", 0.2137},
        {"MG_params.txt", 9, 2891, "Omega_m", 0.162186},
        {"LH_EQ_params.txt", 5, 1000, "f_NL", 201.0},
        {"LH_LC_params.txt", 1, 1000, "f_NL", -98.7},
    };
    for (size_t t = 0; shared && t < sizeof tabs / sizeof tabs[0]; t++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/quijote-params/%s", shared, tabs[t].file);
        ct_param_table pt;
        CT_EXPECT_OK(ct_param_table_read(path, &pt));
        CT_EXPECT(pt.ncol == tabs[t].ncol);
        CT_EXPECT(pt.nrow == tabs[t].nrow);
        if (pt.nrow > 0) {
            CT_EXPECT_REL(pt.v[0], tabs[t].v00, 1e-12);
            const char *c = ct_param_canonical(pt.names[0]);
            CT_EXPECT(c && !strcmp(c, tabs[t].first_canon));
        }
        ct_param_table_free(&pt);
    }
    CT_EXPECT(!strcmp(ct_param_canonical("s8(LCDM)"), "sigma_8"));
    CT_EXPECT(ct_param_canonical("s8(MG)") == NULL); /* derived, not an input */
    CT_EXPECT(ct_param_canonical("A_s") == NULL);

    /* suite parameters: Sobol within ranges, fixed values kept, table columns
     * mapped by name (MG: index column, aliases; s8(MG) ignored) */
    ct_suite_settings s;
    ct_suite_settings_defaults(&s);
    s.nsims = 16;
    s.lo[CT_P_OMEGA_M] = 0.1;
    s.hi[CT_P_OMEGA_M] = 0.5;
    s.lo[CT_P_F_R0] = -3e-4;
    s.hi[CT_P_F_R0] = 0;
    double *v = NULL;
    CT_EXPECT_OK(ct_suite_params(&s, &v));
    for (int i = 0; v && i < 16; i++) {
        CT_EXPECT(v[i * CT_P_COUNT + CT_P_OMEGA_M] >= 0.1 && v[i * CT_P_COUNT] < 0.5);
        CT_EXPECT(v[i * CT_P_COUNT + CT_P_F_R0] >= -3e-4 && v[i * CT_P_COUNT + CT_P_F_R0] <= 0);
        CT_EXPECT(v[i * CT_P_COUNT + CT_P_H] == 0.6711);
    }
    ct_free(&v);
    if (shared) {
        char path[2048];
        snprintf(path, sizeof path, "%s/quijote-params/MG_params.txt", shared);
        s.sampling = CT_SAMPLING_TABLE;
        s.table = path;
        s.nsims = 3;
        CT_EXPECT_OK(ct_suite_params(&s, &v));
        if (v) {
            CT_EXPECT_REL(v[CT_P_OMEGA_M], 0.162186, 1e-12);
            CT_EXPECT_REL(v[CT_P_SIGMA_8], 9.382758e-01, 1e-12);
            CT_EXPECT_REL(v[CT_P_M_NU], 2.699350e-01, 1e-12);
            CT_EXPECT_REL(v[CT_P_F_R0], -2.026169e-04, 1e-12);
            CT_EXPECT(v[CT_P_F_NL] == 0.0);
        }
        ct_free(&v);
        s.nsims = 5000; /* more rows than the table */
        CT_EXPECT(ct_suite_params(&s, &v) == CT_ERR_RANGE);
    }

    /* malformed tables fail with file:line */
    char path[] = "/tmp/ct_params_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ct_param_table pt;
    /* no header: read with names p0, p1 (named = 0); the simulator refuses it */
    write_file(path, "0.3 0.05\n");
    CT_EXPECT_OK(ct_param_table_read(path, &pt));
    CT_EXPECT(pt.named == 0 && pt.ncol == 2 && !strcmp(pt.names[1], "p1"));
    ct_param_table_free(&pt);
    {
        ct_suite_settings s2;
        ct_suite_settings_defaults(&s2);
        s2.sampling = CT_SAMPLING_TABLE;
        s2.table = path;
        double *v2 = NULL;
        CT_EXPECT(ct_suite_params(&s2, &v2) == CT_ERR_FORMAT && v2 == NULL);
        CT_EXPECT(strstr(ct_error_message(), ":1:") != NULL);
    }
    write_file(path, "# a b\n1 2\n3 x\n");
    CT_EXPECT(ct_param_table_read(path, &pt) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), ":3:") != NULL);
    write_file(path, "# a b c\n1 2 3\n4 5\n");
    CT_EXPECT(ct_param_table_read(path, &pt) == CT_ERR_FORMAT);
    CT_EXPECT(strstr(ct_error_message(), ":3:") != NULL);
    write_file(path, "# a b\n");
    CT_EXPECT(ct_param_table_read(path, &pt) == CT_ERR_FORMAT);
    unlink(path);
    CT_EXPECT(ct_param_table_read("/nonexistent/params.txt", &pt) == CT_ERR_IO);
    CT_TEST_END();
}
