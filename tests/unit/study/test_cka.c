/* Linear CKA: CKA(X, X) = 1, invariance to orthogonal transforms and isotropic
 * scaling, a brute-force reference through the Gram formula, summaries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/study.h"
#include "tests/testlib.h"

/* reference: HSIC-style with explicit centring matrices, O(n^2) */
static double cka_ref(const double *x, int n, int p, const double *y, int q)
{
    double *kx = calloc((size_t)n * n, sizeof(double)), *ky = calloc((size_t)n * n, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            for (int a = 0; a < p; a++)
                kx[i * n + j] += x[i * p + a] * x[j * p + a];
            for (int a = 0; a < q; a++)
                ky[i * n + j] += y[i * q + a] * y[j * q + a];
        }
    /* HKH */
    double *c[2] = {kx, ky};
    for (int t = 0; t < 2; t++) {
        double *k = c[t], tot = 0, *row = calloc((size_t)n, sizeof(double));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                row[i] += k[i * n + j] / n, tot += k[i * n + j] / ((double)n * n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                k[i * n + j] += -row[i] - row[j] + tot;
        free(row);
    }
    double xy = 0, xx = 0, yy = 0;
    for (int i = 0; i < n * n; i++)
        xy += kx[i] * ky[i], xx += kx[i] * kx[i], yy += ky[i] * ky[i];
    free(kx);
    free(ky);
    return xy / sqrt(xx * yy);
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    enum { N = 40, P = 6, Q = 3 };
    double x[N * P], y[N * Q], xr[N * P], big[N * 50];
    ct_rng r;
    ct_rng_init(&r, 5, 0, 0);
    for (int i = 0; i < N * P; i++)
        x[i] = ct_rng_normal(&r) + (i % P == 0 ? 3.0 : 0.0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < Q; j++)
            y[i * Q + j] = x[i * P + j] + 0.5 * x[i * P + j + 3] * x[i * P + j] + 0.3 * ct_rng_normal(&r);
    double c;
    CT_EXPECT_OK(ct_cka_linear(x, N, P, x, P, &c));
    CT_EXPECT_REL(c, 1.0, 1e-12); /* identical inputs: exactly 1 up to rounding */
    double c0;
    CT_EXPECT_OK(ct_cka_linear(x, N, P, y, Q, &c0));
    CT_EXPECT(c0 > 0 && c0 < 1);
    CT_EXPECT_REL(c0, cka_ref(x, N, P, y, Q), 1e-10);
    /* random orthogonal transform (Gram-Schmidt of a Gaussian matrix) + scaling
     * by 7.5 + a translation: CKA unchanged to rounding */
    double qm[P * P];
    for (int i = 0; i < P * P; i++)
        qm[i] = ct_rng_normal(&r);
    for (int a = 0; a < P; a++) {
        for (int b = 0; b < a; b++) {
            double d = 0;
            for (int k = 0; k < P; k++)
                d += qm[a * P + k] * qm[b * P + k];
            for (int k = 0; k < P; k++)
                qm[a * P + k] -= d * qm[b * P + k];
        }
        double nn = 0;
        for (int k = 0; k < P; k++)
            nn += qm[a * P + k] * qm[a * P + k];
        for (int k = 0; k < P; k++)
            qm[a * P + k] /= sqrt(nn);
    }
    for (int i = 0; i < N; i++)
        for (int a = 0; a < P; a++) {
            double s = 0;
            for (int k = 0; k < P; k++)
                s += x[i * P + k] * qm[a * P + k];
            xr[i * P + a] = 7.5 * s + 2.0;
        }
    double c1;
    CT_EXPECT_OK(ct_cka_linear(xr, N, P, y, Q, &c1));
    CT_EXPECT_REL(c1, c0, 1e-12);
    CT_EXPECT_OK(ct_cka_linear(x, N, P, xr, P, &c1));
    CT_EXPECT_REL(c1, 1.0, 1e-12);
    /* more features than samples: the Gram path gives the same as the reference */
    for (int i = 0; i < N * 50; i++)
        big[i] = ct_rng_normal(&r) + x[(i / 50) * P + (i % P)];
    CT_EXPECT_OK(ct_cka_linear(big, N, 50, y, Q, &c1));
    CT_EXPECT_REL(c1, cka_ref(big, N, 50, y, Q), 1e-10);
    /* not invariant to a non-isotropic scaling (the test can fail) */
    for (int i = 0; i < N; i++)
        for (int a = 0; a < P; a++)
            xr[i * P + a] = x[i * P + a] * (a == 0 ? 10.0 : 1.0);
    CT_EXPECT_OK(ct_cka_linear(xr, N, P, y, Q, &c1));
    CT_EXPECT(fabs(c1 - c0) > 1e-3);
    /* constant representation -> NaN, bad sizes -> error */
    double cst[N];
    for (int i = 0; i < N; i++)
        cst[i] = 1;
    CT_EXPECT_OK(ct_cka_linear(cst, N, 1, y, Q, &c1));
    CT_EXPECT(isnan(c1));
    CT_EXPECT(ct_cka_linear(x, 1, P, y, Q, &c1) != CT_OK);

    /* matrix + summaries: layers x, y, x -> symmetric, diagonal 1 */
    const double *reps[3] = {x, y, x};
    int dims[3] = {P, Q, P};
    double mat[9];
    CT_EXPECT_OK(ct_cka_matrix(reps, dims, 3, reps, dims, 3, N, mat));
    for (int i = 0; i < 3; i++)
        CT_EXPECT_REL(mat[i * 4], 1.0, 1e-12);
    CT_EXPECT_REL(mat[1], mat[3], 1e-12);
    ct_cka_summary s;
    CT_EXPECT_OK(ct_cka_summarise(mat, 3, &s));
    CT_EXPECT_REL(s.offdiag_max, 1.0, 1e-12);
    CT_EXPECT_REL(s.offdiag_min, c0, 1e-12);
    /* eigenvalues: trace preserved, sorted descending */
    CT_EXPECT_REL(s.eig[0] + s.eig[1] + s.eig[2], 3.0, 1e-12);
    CT_EXPECT(s.eig[0] >= s.eig[1] && s.eig[1] >= s.eig[2]);
    /* x twice: one exactly-zero eigenvalue ([1,0,-1] is in the kernel) */
    CT_EXPECT_ABS(s.eig[2], 0.0, 1e-12);
    CT_TEST_END();
}
