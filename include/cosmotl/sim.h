/* cosmotl sim module: public interface (see src/sim/). */
#ifndef COSMOTL_SIM_H
#define COSMOTL_SIM_H

#include "cosmotl/core.h"

#endif
