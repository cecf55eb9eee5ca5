/* Training kernels in single precision (see kernels.h): the float32 compute
 * path selected by ct_train_settings.precision. */
#define CT_NN_REAL float
#define CT_NN_SFX(name) name##_f32
#define CT_NN_GEMM cblas_sgemm
#define CT_NN_GEMV cblas_sgemv
#define CT_NN_SQRT sqrtf
#define CT_NN_EXP expf
#define CT_NN_TANH tanhf
#include "kernels.h"
