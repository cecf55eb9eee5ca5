/* INI configurations: the bytes are a config's text, parsed by the library's
 * parser and read (1) through every typed getter under section and key names
 * the subcommands use, then the unused-key check and the used-settings listing,
 * and (2) by each subcommand's own config reader (src/cli: simulate's suite
 * reader, summarize, train, study, jobs, d3m), each on a fresh parse, as the
 * program would read it. Inputs naming device or kernel files (the letters
 * "dev", "proc" or "sys") are skipped: a reader follows the paths a config
 * names, and /dev/zero or a FIFO would only test the machine. */
#include "cli.h"
#include "cosmotl/core.h"
#include "fuzz_common.h"

FZ_INIT()

static const char *const sections[] = {"suite", "simulate", "summarize", "train", "study",
                                       "pretrain", "finetune", "jobs", "pipeline", "slurm",
                                       NULL};
static const char *const keys[] = {"name", "n", "grid", "box", "seed", "range", "stats",
                                   "out", "suite", "params", "mas", "epochs", "lr",
                                   "hidden", "targets", "k_max", "wrap_positions", "time",
                                   "nodes", "partition", "omega_m", "z", NULL};
static const char *const choices[] = {"ngp", "cic", "tsc", "pcs", NULL};


/* the bytes hold word (NULs included: the file reader sees them all) */
static int has(const uint8_t *d, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (!memcmp(d + i, word, w))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    ct_error_clear();
    ct_config *c = NULL;
    if (ct_config_from_string(&c, text, "fuzz.ini") == CT_OK) {
        for (int s = 0; sections[s]; s++) {
            if (!ct_config_has_section(c, sections[s]))
                continue;
            for (int k = 0; keys[k]; k++) {
                if (!ct_config_has(c, sections[s], keys[k]))
                    continue;
                const char *str;
                double d, v[8];
                long l;
                int b, ch, n = 8;
                switch ((unsigned char)keys[k][0] % 5) {
                case 0: (void)ct_config_string(c, sections[s], keys[k], "", &str); break;
                case 1: (void)ct_config_double(c, sections[s], keys[k], 0, -1e300, 1e300, &d); break;
                case 2: (void)ct_config_int(c, sections[s], keys[k], 0, -1000000, 1000000, &l); break;
                case 3: (void)ct_config_bool(c, sections[s], keys[k], 0, &b); break;
                default:
                    (void)ct_config_choice(c, sections[s], keys[k], "cic", choices, &ch);
                    (void)ct_config_doubles(c, sections[s], keys[k], v, &n);
                }
            }
        }
        (void)ct_config_check_unused(c);
        for (size_t i = 0; i < ct_config_used_count(c); i++) {
            const char *s, *k, *v;
            ct_config_used_get(c, i, &s, &k, &v);
        }
    }
    ct_config_destroy(&c);
    if (has(data, size, "dev") || has(data, size, "proc") || has(data, size, "sys")) {
        free(text);
        ct_error_clear();
        return 0;
    }
    /* each subcommand's reader on its own parse */
    for (int r = 0; r < 5; r++) {
        c = NULL;
        ct_error_clear();
        if (ct_config_from_string(&c, text, "fuzz.ini") != CT_OK)
            break;
        if (r == 0) {
            cli_suite_cfg *sc = calloc(1, sizeof *sc);
            if (sc) {
                (void)cli_suite_read(c, sc);
                cli_suite_free(sc);
                free(sc);
            }
        } else if (r == 1) {
            (void)cli_train_read_config(c);
        } else if (r == 2) {
            (void)cli_study_read_config(c);
        } else if (r == 3) {
            (void)cli_jobs_read_config(c);
        } else {
            (void)cli_d3m_read_config(c);
        }
        ct_config_destroy(&c);
    }
    /* summarize reads its config from a file */
    char path[300];
    fz_write("fuzz.ini", data, size, path, sizeof path);
    ct_error_clear();
    (void)cli_summarize_read_config(path, MPI_COMM_SELF);
    free(text);
    ct_error_clear();
    return 0;
}
