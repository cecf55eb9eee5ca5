# Summarize this task's snapshots: CT_SUITE_DIR/<i>/CT_SNAPSHOT for i in
# [CT_A, CT_B) -> CT_SUMMARY_DIR/<i>.h5, with CT_GROUP_SIZE ranks per snapshot.
# Complete summaries are skipped; missing or corrupt snapshots are recorded in
# CT_SUMMARY_DIR/manifest.tsv and the others carry on.
ct_range
ct_log "summarize $CT_A:$CT_B of $CT_SUITE_DIR into $CT_SUMMARY_DIR"
set -- summarize
i=$CT_A
while [ "$i" -lt "$CT_B" ]; do
  set -- "$@" "$CT_SUITE_DIR/$i/$CT_SNAPSHOT"
  i=$((i + 1))
done
set -- "$@" --out "$CT_SUMMARY_DIR" --stats "$CT_STATS" --grid "$CT_GRID" --mas "$CT_MAS"
[ "$CT_INTERLACE" = 1 ] && set -- "$@" --interlace
[ -n "$CT_RSD" ] && set -- "$@" --rsd "$CT_RSD"
[ "$CT_GROUP_SIZE" -gt 0 ] && set -- "$@" --group-size "$CT_GROUP_SIZE"
ct_launch "$CT_COSMOTL" "$@"
ct_finish $?
