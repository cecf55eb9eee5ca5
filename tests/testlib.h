/* Minimal assertion helpers for cosmotl's tests. Every test program calls
 * CT_TEST_BEGIN/END; a failed check prints file:line and the values, and the
 * program exits non-zero at the end (all ranks agree). */
#ifndef COSMOTL_TESTLIB_H
#define COSMOTL_TESTLIB_H

#include <float.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "cosmotl/core.h"

static int ct_test_failures = 0;
static int ct_test_rank = 0;
static int ct_test_skips = 0;

/* A part of a test whose input is missing (e.g. the released Quijote tables in a
 * checkout without them): said on stdout, and the program exits 77 — counted by
 * meson and tools/test as skipped — unless a check failed. Never a silent pass. */
#define CT_TEST_SKIP(...)                                                   \
    do {                                                                    \
        if (ct_test_rank == 0) {                                            \
            printf("SKIP: ");                                               \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
        }                                                                   \
        ct_test_skips++;                                                    \
    } while (0)

#define CT_TEST_BEGIN(argc, argv)                                           \
    do {                                                                    \
        int prov_;                                                          \
        ct_mpi_start_defaults(); /* as the CLI and the Python module do */ \
        MPI_Init_thread(&(argc), &(argv), MPI_THREAD_FUNNELED, &prov_);     \
        MPI_Comm_rank(MPI_COMM_WORLD, &ct_test_rank);                       \
        ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);                          \
    } while (0)

#define CT_TEST_END()                                                       \
    do {                                                                    \
        int tot_ = 0, skip_ = 0;                                            \
        MPI_Allreduce(&ct_test_failures, &tot_, 1, MPI_INT, MPI_SUM,        \
                      MPI_COMM_WORLD);                                      \
        MPI_Allreduce(&ct_test_skips, &skip_, 1, MPI_INT, MPI_MAX,          \
                      MPI_COMM_WORLD);                                      \
        if (ct_test_rank == 0)                                              \
            printf("%s: %d failed check(s)%s\n",                            \
                   tot_ ? "FAIL" : skip_ ? "SKIP" : "PASS", tot_,           \
                   skip_ ? ", parts skipped for missing input" : "");       \
        MPI_Finalize();                                                     \
        return tot_ ? 1 : skip_ ? 77 : 0;                                   \
    } while (0)

#define CT_EXPECT(cond)                                                     \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "[rank %d] %s:%d: check failed: %s\n",          \
                    ct_test_rank, __FILE__, __LINE__, #cond);               \
            ct_test_failures++;                                             \
        }                                                                   \
    } while (0)

/* The released Quijote data (parameter tables, summary tables) outside the
 * repository: $CT_SHARED/rel, else SOURCE/../shared/rel or SOURCE/../../shared/rel
 * (a worktree). Returns 1 and the path in buf if the file or folder exists. */
static inline int ct_test_shared_path(const char *rel, char *buf, size_t cap)
{
    const char *roots[3] = {getenv("CT_SHARED"), NULL, NULL};
    char r1[1024], r2[1024];
    const char *src = getenv("CT_SOURCE_ROOT");
    if (src) {
        snprintf(r1, sizeof r1, "%s/../shared", src);
        snprintf(r2, sizeof r2, "%s/../../shared", src);
        roots[1] = r1;
        roots[2] = r2;
    }
    for (int i = 0; i < 3; i++) {
        if (!roots[i])
            continue;
        if ((size_t)snprintf(buf, cap, "%s/%s", roots[i], rel) >= cap)
            continue;
        if (ct_file_exists(buf) || ct_dir_exists(buf))
            return 1;
    }
    snprintf(buf, cap, "%s", rel);
    return 0;
}

/* Expect a ct_status of CT_OK; print the error chain otherwise. */
#define CT_EXPECT_OK(expr)                                                  \
    do {                                                                    \
        ct_status s_ = (expr);                                              \
        if (s_ != CT_OK) {                                                  \
            fprintf(stderr, "[rank %d] %s:%d: %s failed: %s\n",             \
                    ct_test_rank, __FILE__, __LINE__, #expr,                \
                    ct_error_message());                                    \
            ct_test_failures++;                                             \
        }                                                                   \
    } while (0)

/* |a - b| <= tol * max(|b|, tiny) */
#define CT_EXPECT_REL(a, b, tol)                                            \
    do {                                                                    \
        double a_ = (a), b_ = (b);                                          \
        double d_ = fabs(a_ - b_), s_ = fabs(b_) > 1e-300 ? fabs(b_) : 1e-300; \
        if (!(d_ <= (tol) * s_)) {                                          \
            fprintf(stderr, "[rank %d] %s:%d: %s = %.17g vs %s = %.17g "    \
                    "(rel %.3g > %.3g)\n", ct_test_rank, __FILE__, __LINE__, \
                    #a, a_, #b, b_, d_ / s_, (double)(tol));                \
            ct_test_failures++;                                             \
        }                                                                   \
    } while (0)

#define CT_EXPECT_ABS(a, b, tol)                                            \
    do {                                                                    \
        double a_ = (a), b_ = (b);                                          \
        if (!(fabs(a_ - b_) <= (tol))) {                                    \
            fprintf(stderr, "[rank %d] %s:%d: %s = %.17g vs %s = %.17g "    \
                    "(abs %.3g > %.3g)\n", ct_test_rank, __FILE__, __LINE__, \
                    #a, a_, #b, b_, fabs(a_ - b_), (double)(tol));          \
            ct_test_failures++;                                             \
        }                                                                   \
    } while (0)

/* Tolerances that depend on the mesh precision. -Dprecision=single defines
 * CT_SINGLE_PRECISION and makes ct_real (mesh values, FFTs) float: CT_TOL(d, s)
 * is d in the double build and s in the single one (both are evaluated, so
 * keep them cheap). Float has a 24-bit mantissa, unit round-off
 * u = 2^-24 = 6e-8 (CT_FLOAT_U), so the single tolerances are error budgets in
 * units of u, derived where they are used from these facts:
 *  - a stored float is within u of the double it came from;
 *  - a float sum of k terms is within (k - 1) u of the sum of their |values|;
 *    two summation orders differ by up to twice that (painting: k = the most
 *    particles reaching one cell, ct_test_max_cell_hits in mesh_testlib.h);
 *  - an n-point float FFT is off by about u log2(n) (CT_FFT_U) of the rms mode
 *    amplitude in every mode (norm-wise error ~ u log2 n, spread over the
 *    modes), so a mode whose power P lies below the mean Pbar is off by
 *    2 u log2(n) sqrt(Pbar / P) in |.|^2: weak bins get larger relative errors
 *    (ct_test_pk_float_tol);
 *  - sums over modes or cells accumulate in double in the library, so they add
 *    nothing: no sqrt(N^3) growth.
 * Numbers that do not come from mesh values (mode counts, bin k, weights) keep
 * exact or double-precision checks in both builds. */
static inline double ct_tol_pick_(double d, double s)
{
#ifdef CT_SINGLE_PRECISION
    (void)d;
    return s;
#else
    (void)s;
    return d;
#endif
}
#define CT_TOL(double_tol, single_tol) ct_tol_pick_((double_tol), (single_tol))
#define CT_FLOAT_U (0.5 * FLT_EPSILON)
#define CT_FFT_U(n) (log2((double)(n)) * CT_FLOAT_U)

#endif
