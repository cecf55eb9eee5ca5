/* cosmotl stats module: public interface (see src/stats/). */
#ifndef COSMOTL_STATS_H
#define COSMOTL_STATS_H

#include "cosmotl/core.h"

#endif
