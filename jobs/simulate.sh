# Simulate this task's share of a suite: simulations [CT_A, CT_B) of
# CT_SIM_CONFIG into CT_SUITE_DIR (Quijote layout). Simulations already complete
# are skipped, so a rerun redoes only what is missing.
ct_range
ct_log "simulate $CT_A:$CT_B into $CT_SUITE_DIR"
set -- simulate "$CT_SIM_CONFIG" --out "$CT_SUITE_DIR" --range "$CT_A:$CT_B"
[ "$CT_GROUP_SIZE" -gt 0 ] && set -- "$@" --group-size "$CT_GROUP_SIZE"
ct_launch "$CT_COSMOTL" "$@"
ct_finish $?
