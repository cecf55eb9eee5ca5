/* Minimal assertion helpers for cosmotl's tests. Every test program calls
 * CT_TEST_BEGIN/END; a failed check prints file:line and the values, and the
 * program exits non-zero at the end (all ranks agree). */
#ifndef COSMOTL_TESTLIB_H
#define COSMOTL_TESTLIB_H

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "cosmotl/core.h"

static int ct_test_failures = 0;
static int ct_test_rank = 0;

#define CT_TEST_BEGIN(argc, argv)                                           \
    do {                                                                    \
        int prov_;                                                          \
        MPI_Init_thread(&(argc), &(argv), MPI_THREAD_FUNNELED, &prov_);     \
        MPI_Comm_rank(MPI_COMM_WORLD, &ct_test_rank);                       \
        ct_log_setup(MPI_COMM_WORLD, CT_LOG_WARN);                          \
    } while (0)

#define CT_TEST_END()                                                       \
    do {                                                                    \
        int tot_ = 0;                                                       \
        MPI_Allreduce(&ct_test_failures, &tot_, 1, MPI_INT, MPI_SUM,        \
                      MPI_COMM_WORLD);                                      \
        if (ct_test_rank == 0)                                              \
            printf("%s: %d failed check(s)\n", tot_ ? "FAIL" : "PASS", tot_); \
        MPI_Finalize();                                                     \
        return tot_ ? 1 : 0;                                                \
    } while (0)

#define CT_EXPECT(cond)                                                     \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "[rank %d] %s:%d: check failed: %s\n",          \
                    ct_test_rank, __FILE__, __LINE__, #cond);               \
            ct_test_failures++;                                             \
        }                                                                   \
    } while (0)

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

#endif
