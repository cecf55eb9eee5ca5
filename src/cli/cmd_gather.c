/* cosmotl gather SUITE_SUMMARY_DIR --out SUITE.h5: per-simulation summaries ->
 * one suite table in the layout of the released Quijote tables. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/summary.h"

static const char *help =
    "usage: cosmotl gather SUITE_SUMMARY_DIR --out SUITE.h5 [--params FILE] [--suite NAME]\n\n"
    "Collect the per-simulation summaries <i>.h5 of a folder (written by cosmotl\n"
    "summarize) into one suite table: /params (nsim x nparam, names attribute),\n"
    "/<stat>/P (nsim x nbin) with /<stat>/k, nmodes and settings, and /status\n"
    "(1 present, 0 missing, 2 failed; reasons in /status_reason, taken from the\n"
    "summarize manifest). Row i is simulation i of the parameter table, which is\n"
    "--params, else SUITE_SUMMARY_DIR/params.txt, else params.txt in the suite\n"
    "folder the summaries came from. The table is written atomically.\n";

int cmd_gather(int argc, char **argv, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    const char *dir = NULL, *out = NULL;
    ct_gather_settings gs;
    ct_gather_settings_defaults(&gs);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (ct_cli_is_help(a)) {
            if (rank == 0)
                fputs(help, stdout);
            return 0;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--params") || !strcmp(a, "--suite")) {
            if (!v)
                return ct_cli_usage_error("gather", comm, "%s needs a value", a);
            i++;
            if (!strcmp(a, "--out"))
                out = v;
            else if (!strcmp(a, "--params"))
                gs.params = v;
            else
                gs.suite = v;
        } else if (a[0] == '-' && a[1]) {
            return ct_cli_usage_error("gather", comm, "unknown option '%s'", a);
        } else if (!dir) {
            dir = a;
        } else {
            return ct_cli_usage_error("gather", comm, "expected one SUITE_SUMMARY_DIR");
        }
    }
    if (!dir)
        return ct_cli_usage_error("gather", comm, "expected a SUITE_SUMMARY_DIR");
    if (!out)
        return ct_cli_usage_error("gather", comm, "--out SUITE.h5 is required");
    if (ct_summary_gather(dir, out, &gs, comm) != CT_OK)
        return ct_cli_fail("gather", comm);
    return 0;
}
