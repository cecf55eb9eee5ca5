/* Synthetic suite tables with a known transfer answer, for the study tests.
 *
 * "LCDM" suite: Omega_m, sigma_8 drawn uniformly over their priors; NBIN bins
 * of a power-law-like spectrum whose amplitude and tilt depend nonlinearly on
 * both. "NU" suite: the same law plus a third parameter M_nu that carves a dip
 * around k = 0.3 (a feature of its own, not degenerate with the others). Both
 * share the structure that maps the spectrum to (Omega_m, sigma_8), so a
 * network pretrained on LCDM needs few NU simulations to reach an error that
 * training from scratch needs many more for: transfer must beat scratch at
 * small budgets. 2 % multiplicative noise per bin. */
#ifndef CT_TEST_STUDY_SYNTH_H
#define CT_TEST_STUDY_SYNTH_H

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/core.h"

#define SYNTH_NBIN 16

static double synth_logp(double om, double s8, double mnu, double k)
{
    double amp = 2.0 * log10(s8) + 0.8 * (om - 0.3) * (om - 0.3) * 10.0;
    double tilt = -1.2 - 1.5 * (om - 0.3) + 0.6 * (s8 - 0.8) * (om - 0.3) * 10.0;
    double dip = -0.25 * mnu * exp(-(k - 0.3) * (k - 0.3) / (0.08 * 0.08));
    return 4.0 + amp + tilt * log10(k / 0.1) + dip;
}

/* Write a suite table of nsim simulations; with_mnu adds the M_nu column and
 * its effect. Row 3 is marked failed in /status (exercises the status mask).
 * Returns 0 on success. */
static int synth_write_suite(const char *path, int nsim, int with_mnu, uint64_t seed)
{
    int np = with_mnu ? 3 : 2;
    double *params = calloc((size_t)nsim * np, sizeof(double));
    double *pk = calloc((size_t)nsim * SYNTH_NBIN, sizeof(double));
    double k[SYNTH_NBIN];
    unsigned char *status = calloc((size_t)nsim, 1);
    for (int b = 0; b < SYNTH_NBIN; b++)
        k[b] = 0.02 + 0.03 * b;
    ct_rng r;
    ct_rng_init(&r, seed, 0, 0);
    for (int i = 0; i < nsim; i++) {
        double om = 0.1 + 0.4 * ct_rng_uniform(&r);
        double s8 = 0.6 + 0.4 * ct_rng_uniform(&r);
        double mnu = with_mnu ? 0.01 + 0.99 * ct_rng_uniform(&r) : 0.0;
        params[i * np] = om;
        params[i * np + 1] = s8;
        if (with_mnu)
            params[i * np + 2] = mnu;
        for (int b = 0; b < SYNTH_NBIN; b++)
            pk[i * SYNTH_NBIN + b] =
                pow(10.0, synth_logp(om, s8, mnu, k[b])) * (1.0 + 0.02 * ct_rng_normal(&r));
        status[i] = i == 3 ? 0 : 1;
    }
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hsize_t dp[2] = {(hsize_t)nsim, (hsize_t)np};
    hid_t sp = H5Screate_simple(2, dp, NULL);
    hid_t ds = H5Dcreate2(f, "params", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, params);
    const char *names[3] = {"Omega_m", "sigma_8", "M_nu"};
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    hsize_t dn = (hsize_t)np;
    hid_t sn = H5Screate_simple(1, &dn, NULL);
    hid_t at = H5Acreate2(ds, "names", st, sn, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, st, names);
    H5Aclose(at);
    H5Sclose(sn);
    H5Tclose(st);
    H5Dclose(ds);
    H5Sclose(sp);
    hid_t g = H5Gcreate2(f, "pk", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dk[2] = {(hsize_t)nsim, SYNTH_NBIN};
    sp = H5Screate_simple(2, dk, NULL);
    ds = H5Dcreate2(g, "P", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, pk);
    H5Dclose(ds);
    H5Sclose(sp);
    hsize_t d1 = SYNTH_NBIN;
    sp = H5Screate_simple(1, &d1, NULL);
    ds = H5Dcreate2(g, "k", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, k);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Gclose(g);
    hsize_t ds1 = (hsize_t)nsim;
    sp = H5Screate_simple(1, &ds1, NULL);
    ds = H5Dcreate2(f, "status", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, status);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
    free(params);
    free(pk);
    free(status);
    return 0;
}

#endif
