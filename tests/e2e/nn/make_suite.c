/* Fixtures for the training end-to-end tests: a small suite table SUITE.h5
 * (/params with names, /pk/P, /pk/k, /mk/P, /mk/k, /status with one failed
 * simulation) and the same spectra as a folder of Quijote-style text files
 * DIR/<i>/Pk_m_z=0.txt plus DIR/params.txt.
 *   make_suite OUT.h5 TEXTDIR NSIM SEED */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cosmotl/core.h"
#include "cosmotl/h5.h"

#define NBIN 20

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: make_suite OUT.h5 TEXTDIR NSIM SEED\n");
        return 2;
    }
    int n = atoi(argv[3]);
    uint64_t seed = (uint64_t)atoll(argv[4]);
    double *par = calloc((size_t)n * 3, sizeof(double));
    double *pk = calloc((size_t)n * NBIN, sizeof(double));
    double *mk = calloc((size_t)n * NBIN, sizeof(double));
    double k[NBIN];
    unsigned char *st = calloc((size_t)n, 1);
    ct_rng r;
    ct_rng_init(&r, seed, 0, 0);
    for (int j = 0; j < NBIN; j++)
        k[j] = 0.0089 * (j + 1);
    for (int i = 0; i < n; i++) {
        double om = 0.1 + 0.4 * ct_rng_uniform(&r), s8 = 0.6 + 0.4 * ct_rng_uniform(&r);
        double other = 0.5 + 0.4 * ct_rng_uniform(&r); /* no effect on the spectra */
        par[i * 3] = om;
        par[i * 3 + 1] = s8;
        par[i * 3 + 2] = other;
        for (int j = 0; j < NBIN; j++) {
            double noise = 1 + 0.01 * ct_rng_normal(&r);
            pk[i * NBIN + j] = 2e4 * s8 * s8 * pow(k[j] / 0.1, -1.2 + 2 * (om - 0.3)) * noise;
            mk[i * NBIN + j] = 1e3 * s8 * pow(k[j] / 0.1, -0.5) * noise;
        }
        st[i] = i != 7; /* simulation 7 "failed" */
    }
    hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dp[2] = {(hsize_t)n, 3}, dk = NBIN, dpk[2] = {(hsize_t)n, NBIN}, dn = (hsize_t)n;
    ct_h5_write_doubles(f, "params", par, 2, dp);
    /* names as a variable-length UTF-8 string array, like the real tables */
    const char *names[3] = {"Omega_m", "sigma_8", "h"};
    hid_t ds = H5Dopen2(f, "params", H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t three = 3;
    hid_t sp = H5Screate_simple(1, &three, NULL);
    hid_t a = H5Acreate2(ds, "names", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, names);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(ds);
    hid_t g;
    ct_h5_group(f, "pk", &g);
    ct_h5_write_doubles(g, "P", pk, 2, dpk);
    ct_h5_write_doubles(g, "k", k, 1, &dk);
    H5Gclose(g);
    ct_h5_group(f, "mk", &g);
    ct_h5_write_doubles(g, "P", mk, 2, dpk);
    ct_h5_write_doubles(g, "k", k, 1, &dk);
    H5Gclose(g);
    hid_t s1 = H5Screate_simple(1, &dn, NULL);
    hid_t d1 = H5Dcreate2(f, "status", H5T_STD_U8LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d1, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, st);
    H5Dclose(d1);
    H5Sclose(s1);
    H5Fclose(f);
    /* text layout */
    char path[4096];
    mkdir(argv[2], 0755);
    snprintf(path, sizeof path, "%s/params.txt", argv[2]);
    FILE *p = fopen(path, "w");
    fprintf(p, "# Omega_m sigma_8 h\n");
    for (int i = 0; i < n; i++)
        fprintf(p, "%.10f %.10f %.10f\n", par[i * 3], par[i * 3 + 1], par[i * 3 + 2]);
    fclose(p);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%d", argv[2], i);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%d/Pk_m_z=0.txt", argv[2], i);
        FILE *q = fopen(path, "w");
        fprintf(q, "# k [h/Mpc] P(k) [(Mpc/h)^3]\n");
        for (int j = 0; j < NBIN; j++)
            fprintf(q, "%.8e %.12e\n", k[j], pk[i * NBIN + j]);
        fclose(q);
    }
    free(par);
    free(pk);
    free(mk);
    free(st);
    return 0;
}
