/* Linear matter P(k) at z = 0 for one cosmology, for the Quijote comparisons of
 * tools/bench/sim/validate (linear reference, EH98 against a Boltzmann table).
 *   linpk OMEGA_M OMEGA_B H N_S SIGMA_8 [eh98|nowiggle|TABLE [M_NU W]] < k-list > k-P
 * With M_NU (eV) and W (nwLH cosmologies) the columns are k, P_m (total matter),
 * P_cb; sigma_8 normalises total matter.
 * TABLE is a two-column k [h/Mpc], P [(Mpc/h)^3] file (ct_pk_table_read: '#'
 * comments, k increasing, P > 0), renormalised to SIGMA_8.
 * Reads one k per line on stdin, prints "k P" per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/cosmo.h"

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
        if (ct_pk_table_read(argv[6], &tk, &tp, &cp.table_n) != CT_OK) {
            fprintf(stderr, "linpk: %s\n", ct_error_message());
            return 1;
        }
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
