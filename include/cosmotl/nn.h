/* cosmotl nn module: public interface (see src/nn/). */
#ifndef COSMOTL_NN_H
#define COSMOTL_NN_H

#include "cosmotl/core.h"

#endif
