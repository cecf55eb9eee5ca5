# Gather the per-simulation summaries of one suite into one table (CT_TABLE):
# parameters from CT_SUITE_DIR/params.txt, /status records the simulations that
# are missing or failed (with the errors from the summarize manifest).
ct_log "gather $CT_SUMMARY_DIR into $CT_TABLE"
mkdir -p "$(dirname "$CT_TABLE")" || ct_finish 1
ct_launch "$CT_COSMOTL" gather "$CT_SUMMARY_DIR" --out "$CT_TABLE" --params "$CT_SUITE_DIR/params.txt" --suite "$CT_SUITE"
ct_finish $?
