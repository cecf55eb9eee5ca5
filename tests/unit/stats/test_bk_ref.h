/* Brute-force references for the bispectrum tests: a naive DFT of a small real
 * grid and the triangle sums over every mode triplet of each triangle bin with
 * modular closure (q1 + q2 + q3 = 0 mod N, which is what the real-space product
 * of shell fields counts, the FFT bispectrum estimator). Only for N <= ~16. */
#ifndef COSMOTL_TEST_BK_REF_H
#define COSMOTL_TEST_BK_REF_H

#include <complex.h>
#include <math.h>
#include <stdlib.h>

static inline int ref_n(int i, int N) { return i <= N / 2 ? i : i - N; }

/* d[q] = (1/N^3) sum_x f[x] exp(-2 pi i q.x / N), both indexed (a*N + b)*N + c */
static inline void ref_dft(const double *f, int N, double complex *d)
{
    size_t N3 = (size_t)N * N * N;
    double complex *tw = malloc((size_t)N * sizeof *tw);
    for (int m = 0; m < N; m++)
        tw[m] = cexp(-2.0 * M_PI * I * m / N);
    for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++)
            for (int c = 0; c < N; c++) {
                double complex s = 0;
                for (int x = 0; x < N; x++)
                    for (int y = 0; y < N; y++)
                        for (int z = 0; z < N; z++)
                            s += f[((size_t)x * N + y) * N + z] * tw[(a * x + b * y + c * z) % N];
                d[((size_t)a * N + b) * N + c] = s / (double)N3;
            }
    free(tw);
}

static inline int ref_shell(int a, int b, int c, int N, double dk)
{
    double n2 = (double)ref_n(a, N) * ref_n(a, N) + (double)ref_n(b, N) * ref_n(b, N) +
                (double)ref_n(c, N) * ref_n(c, N);
    return (int)floor(sqrt(n2) / dk + 0.5 + 1e-12);
}

/* For each triangle t (shells tri[3t..3t+2]): sum[t] = sum of Re d(q1) d(q2) d(q3)
 * over q1 in shell 1, q2 in shell 2, q3 = -q1-q2 mod N in shell 3; cnt[t] = the
 * number of such triplets; abssum[t] (if not NULL) the sum of |d1 d2 d3|, the
 * scale of round-off in sum[t]. d == NULL counts only. */
static inline void ref_triangles_abs(const double complex *d, int N, double dk, int ntri,
                              const int *tri, double *sum, double *cnt, double *abssum)
{
    size_t N3 = (size_t)N * N * N;
    int *sh = malloc(N3 * sizeof *sh);
    for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++)
            for (int c = 0; c < N; c++)
                sh[((size_t)a * N + b) * N + c] = ref_shell(a, b, c, N, dk);
    for (int t = 0; t < ntri; t++) {
        int s1 = tri[3 * t], s2 = tri[3 * t + 1], s3 = tri[3 * t + 2];
        double complex acc = 0;
        double n = 0, aacc = 0;
        for (size_t q1 = 0; q1 < N3; q1++) {
            if (sh[q1] != s1)
                continue;
            int a1 = (int)(q1 / ((size_t)N * N)), b1 = (int)(q1 / N % N), c1 = (int)(q1 % N);
            for (size_t q2 = 0; q2 < N3; q2++) {
                if (sh[q2] != s2)
                    continue;
                int a2 = (int)(q2 / ((size_t)N * N)), b2 = (int)(q2 / N % N), c2 = (int)(q2 % N);
                int a3 = (2 * N - a1 - a2) % N, b3 = (2 * N - b1 - b2) % N, c3 = (2 * N - c1 - c2) % N;
                size_t q3 = ((size_t)a3 * N + b3) * N + c3;
                if (sh[q3] != s3)
                    continue;
                n += 1;
                if (d) {
                    double complex v = d[q1] * d[q2] * d[q3];
                    acc += v;
                    aacc += cabs(v);
                }
            }
        }
        if (sum)
            sum[t] = creal(acc);
        if (cnt)
            cnt[t] = n;
        if (abssum)
            abssum[t] = aacc;
    }
    free(sh);
}

static inline void ref_triangles(const double complex *d, int N, double dk, int ntri, const int *tri,
                          double *sum, double *cnt)
{
    ref_triangles_abs(d, N, dk, ntri, tri, sum, cnt, NULL);
}

#endif
