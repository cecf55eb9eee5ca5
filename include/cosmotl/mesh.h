/* cosmotl mesh module: public interface (see src/mesh/). */
#ifndef COSMOTL_MESH_H
#define COSMOTL_MESH_H

#include "cosmotl/core.h"

#endif
