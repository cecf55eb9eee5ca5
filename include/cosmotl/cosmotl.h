/* cosmotl: umbrella header. */
#ifndef COSMOTL_H
#define COSMOTL_H

#include "cosmotl/core.h"
#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/mesh.h"
#include "cosmotl/stats.h"
#include "cosmotl/summary.h"
#include "cosmotl/summarize.h"
#include "cosmotl/cosmo.h"
#include "cosmotl/sim.h"
#include "cosmotl/nn.h"
#include "cosmotl/study.h"
#include "cosmotl/batch.h"

#endif
