#!/bin/sh
# Run a test program on NP ranks: tests/mpirun.sh NP PROGRAM [ARGS...]
# Works as root and with more ranks than cores; a hard timeout guards hangs.
np=$1; shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism="${OMPI_MCA_btl_vader_single_copy_mechanism:-none}"
export OMPI_MCA_rmaps_base_oversubscribe=1
exec timeout -k 10 "${CT_MPI_TIMEOUT:-300}" mpirun --oversubscribe --bind-to none -np "$np" "$@"
