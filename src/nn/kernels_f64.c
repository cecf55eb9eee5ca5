/* Training kernels in double precision (see kernels.h). */
#define CT_NN_REAL double
#define CT_NN_SFX(name) name##_f64
#define CT_NN_GEMM cblas_dgemm
#define CT_NN_GEMV cblas_dgemv
#define CT_NN_SQRT sqrt
#define CT_NN_EXP exp
#define CT_NN_TANH tanh
#include "kernels.h"
