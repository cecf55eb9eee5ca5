# Run the transfer-learning study of CT_STUDY_CONFIG on the pipeline's tables
# (CT_TABLES_DIR/<suite>.h5); results, report.md and plots go to CT_STUDY_OUT.
# --resume: a resubmitted study runs only the trainings that are missing.
ct_log "study $CT_STUDY_CONFIG with tables in $CT_TABLES_DIR -> $CT_STUDY_OUT"
ct_launch "$CT_COSMOTL" study "$CT_STUDY_CONFIG" --tables "$CT_TABLES_DIR" --out "$CT_STUDY_OUT" --resume
ct_finish $?
