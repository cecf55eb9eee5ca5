/* Block-structure summaries of a CKA matrix (in its own file: GSL's CBLAS
 * header clashes with OpenBLAS's, used by cka.c). */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/study.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

ct_status ct_cka_summarise(const double *mat, int l, ct_cka_summary *s)
{
    memset(s, 0, sizeof *s);
    if (l < 1 || l > CT_STUDY_MAX_LAYERS + 2)
        CT_FAIL(CT_ERR_ARG, "CKA summary of a %d x %d matrix is not supported", l, l);
    s->nlayer = l;
    double off[(CT_STUDY_MAX_LAYERS + 2) * (CT_STUDY_MAX_LAYERS + 2)];
    int n = 0;
    for (int i = 0; i < l; i++)
        for (int j = 0; j < l; j++)
            if (i != j && !isnan(mat[i * l + j]))
                off[n++] = mat[i * l + j];
    if (n > 0) {
        qsort(off, (size_t)n, sizeof(double), cmp_d);
        double m = 0;
        for (int i = 0; i < n; i++)
            m += off[i];
        s->offdiag_mean = m / n;
        s->offdiag_median = n % 2 ? off[n / 2] : 0.5 * (off[n / 2 - 1] + off[n / 2]);
        s->offdiag_min = off[0];
        s->offdiag_max = off[n - 1];
    } else {
        s->offdiag_mean = s->offdiag_median = s->offdiag_min = s->offdiag_max = NAN;
    }
    gsl_matrix *a = gsl_matrix_alloc((size_t)l, (size_t)l);
    gsl_vector *ev = gsl_vector_alloc((size_t)l);
    gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc((size_t)l);
    if (!a || !ev || !w) {
        gsl_matrix_free(a);
        gsl_vector_free(ev);
        gsl_eigen_symm_free(w);
        CT_FAIL(CT_ERR_MEMORY, "CKA eigenvalues: out of memory");
    }
    for (int i = 0; i < l; i++)
        for (int j = 0; j < l; j++) {
            /* symmetrise (NaN -> 0) so the spectrum is real */
            double v = 0.5 * (mat[i * l + j] + mat[j * l + i]);
            gsl_matrix_set(a, (size_t)i, (size_t)j, isnan(v) ? 0.0 : v);
        }
    gsl_eigen_symm(a, ev, w);
    for (int i = 0; i < l; i++)
        s->eig[i] = gsl_vector_get(ev, (size_t)i);
    qsort(s->eig, (size_t)l, sizeof(double), cmp_d);
    for (int i = 0; i < l / 2; i++) {
        double t = s->eig[i];
        s->eig[i] = s->eig[l - 1 - i];
        s->eig[l - 1 - i] = t;
    }
    gsl_matrix_free(a);
    gsl_vector_free(ev);
    gsl_eigen_symm_free(w);
    return CT_OK;
}
