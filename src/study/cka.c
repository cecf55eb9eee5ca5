/* Linear centred kernel alignment (Kornblith et al. 2019) between
 * layer representations, and the block-structure summaries of a CKA matrix. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/study.h"

static ct_status centred_copy(const double *x, int64_t n, int p, double **out)
{
    CT_CHECK(ct_calloc(out, (size_t)(n * p) + 1, sizeof(double), "CKA copy"));
    double *c = *out;
    for (int j = 0; j < p; j++) {
        double m = 0;
        for (int64_t i = 0; i < n; i++)
            m += x[i * p + j];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++)
            c[i * p + j] = x[i * p + j] - m;
    }
    return CT_OK;
}

/* ||A^T B||_F^2 for A (n x p), B (n x q); through the p x q cross product when
 * that is small, otherwise through the n x n Gram matrices (tr(K_A K_B)). */
static ct_status cross_norm2(const double *a, int p, const double *b, int q, int64_t n,
                             double *out)
{
    double *m = NULL;
    if ((int64_t)p * q <= n * n) {
        CT_CHECK(ct_calloc(&m, (size_t)p * q + 1, sizeof(double), "CKA"));
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, q, (int)n, 1.0, a, p, b, q, 0.0,
                    m, q);
        double s = 0;
        for (int64_t i = 0; i < (int64_t)p * q; i++)
            s += m[i] * m[i];
        *out = s;
    } else {
        double *kb = NULL;
        CT_CHECK(ct_calloc(&m, (size_t)(n * n) + 1, sizeof(double), "CKA"));
        ct_status rc = ct_calloc(&kb, (size_t)(n * n) + 1, sizeof(double), "CKA");
        if (rc != CT_OK) {
            free(m);
            return ct_error_push(rc, __func__, __LINE__);
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, p, 1.0, a, p, a, p,
                    0.0, m, (int)n);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, q, 1.0, b, q, b, q,
                    0.0, kb, (int)n);
        double s = 0; /* tr(K_a K_b) with both symmetric = sum of elementwise products */
        for (int64_t i = 0; i < n * n; i++)
            s += m[i] * kb[i];
        *out = s;
        free(kb);
    }
    free(m);
    return CT_OK;
}

ct_status ct_cka_linear(const double *x, int64_t n, int p, const double *y, int q,
                        double *cka)
{
    ct_status rc = CT_OK;
    double *xc = NULL, *yc = NULL;
    if (n < 2 || p < 1 || q < 1)
        CT_FAIL(CT_ERR_ARG, "CKA needs at least 2 samples and 1 feature (n=%lld p=%d q=%d)",
                (long long)n, p, q);
    CT_CHECK_GOTO(rc, centred_copy(x, n, p, &xc));
    CT_CHECK_GOTO(rc, centred_copy(y, n, q, &yc));
    double xy = 0, xx = 0, yy = 0;
    CT_CHECK_GOTO(rc, cross_norm2(xc, p, yc, q, n, &xy));
    CT_CHECK_GOTO(rc, cross_norm2(xc, p, xc, p, n, &xx));
    CT_CHECK_GOTO(rc, cross_norm2(yc, q, yc, q, n, &yy));
    *cka = (xx > 0 && yy > 0) ? xy / (sqrt(xx) * sqrt(yy)) : NAN;
fail:
    free(xc);
    free(yc);
    return rc;
}

ct_status ct_cka_matrix(const double *const *reps_a, const int *dims_a, int la,
                        const double *const *reps_b, const int *dims_b, int lb, int64_t n,
                        double *mat)
{
    for (int i = 0; i < la; i++)
        for (int j = 0; j < lb; j++)
            CT_CHECK(ct_cka_linear(reps_a[i], n, dims_a[i], reps_b[j], dims_b[j],
                                   &mat[i * lb + j]));
    return CT_OK;
}

