/* INI configurations: the bytes are a config's text, parsed by the library's
 * parser and read through every typed getter under the section and key names
 * the subcommands use (simulate, summarize, train, study, jobs), then the
 * unused-key check and the used-settings listing. */
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
    free(text);
    ct_error_clear();
    return 0;
}
