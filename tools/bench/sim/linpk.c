/* Linear matter P(k) at z = 0 for one cosmology, for the Quijote comparisons of
 * tools/bench/sim/validate (linear reference, EH98 against a Boltzmann table).
 *   linpk OMEGA_M OMEGA_B H N_S SIGMA_8 [eh98|nowiggle|TABLE [M_NU W]] < k-list > k-P
 * With M_NU (eV) and W (nwLH cosmologies) the columns are k, P_m (total matter),
 * P_cb; sigma_8 normalises total matter.
 * TABLE is a two-column k [h/Mpc], P [(Mpc/h)^3] file, renormalised to SIGMA_8.
 * Reads one k per line on stdin, prints "k P" per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/cosmo.h"

static int read_table(const char *path, double **k, double **p, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "linpk: %s: cannot open\n", path);
        return 1;
    }
    size_t cap = 0;
    char line[512];
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        double a, b;
        if (line[0] == '#' || sscanf(line, "%lf %lf", &a, &b) != 2)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            *k = realloc(*k, cap * sizeof **k);
            *p = realloc(*p, cap * sizeof **p);
            if (!*k || !*p) {
                fclose(f);
                fprintf(stderr, "linpk: out of memory\n");
                return 1;
            }
        }
        (*k)[*n] = a;
        (*p)[*n] = b;
        (*n)++;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: linpk OMEGA_M OMEGA_B H N_S SIGMA_8 [eh98|nowiggle|TABLE [M_NU W]] < k-list\n");
        return 2;
    }
    ct_cosmo_params cp;
    ct_cosmo_params_defaults(&cp);
    cp.omega_m = atof(argv[1]);
    cp.omega_b = atof(argv[2]);
    cp.h = atof(argv[3]);
    cp.n_s = atof(argv[4]);
    cp.sigma8 = atof(argv[5]);
    int nu = argc > 8;
    if (nu) {
        cp.m_nu = atof(argv[7]);
        cp.w = atof(argv[8]);
    }
    double *tk = NULL, *tp = NULL;
    if (argc > 6 && !strcmp(argv[6], "nowiggle")) {
        cp.transfer = CT_LIN_EH98_NOWIGGLE;
    } else if (argc > 6 && strcmp(argv[6], "eh98")) {
        if (read_table(argv[6], &tk, &tp, &cp.table_n))
            return 1;
        cp.transfer = CT_LIN_TABLE;
        cp.table_k = tk;
        cp.table_p = tp;
    }
    ct_cosmo *c = NULL;
    if (ct_cosmo_create(&c, &cp) != CT_OK) {
        fprintf(stderr, "linpk: %s\n", ct_error_message());
        return 1;
    }
    double k;
    while (scanf("%lf", &k) == 1)
        if (nu)
            printf("%.8g %.10g %.10g\n", k, ct_cosmo_pk(c, k, 1.0, CT_SPECIES_TOTAL),
                   ct_cosmo_pk(c, k, 1.0, CT_SPECIES_CB));
        else
            printf("%.8g %.10g\n", k, ct_cosmo_pk(c, k, 1.0, CT_SPECIES_TOTAL));
    ct_cosmo_destroy(&c);
    free(tk);
    free(tp);
    return 0;
}
