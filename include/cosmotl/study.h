/* cosmotl study module: public interface (see src/study/). */
#ifndef COSMOTL_STUDY_H
#define COSMOTL_STUDY_H

#include "cosmotl/core.h"

#endif
