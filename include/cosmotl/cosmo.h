/* cosmotl cosmo module: public interface (see src/cosmo/). */
#ifndef COSMOTL_COSMO_H
#define COSMOTL_COSMO_H

#include "cosmotl/core.h"

#endif
