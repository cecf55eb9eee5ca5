/* INI configuration through inih: read on rank 0, broadcast as text, parsed on
 * every rank; typed getters with range checks; unknown keys are errors. */
#include "cosmotl/core.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *section, *key, *value;
    int line;
    int used;
} ct_entry;

typedef struct {
    char *section, *key, *value;
} ct_used;

struct ct_config {
    char *path; /* as given, any length */
    char *dir;  /* its folder: "." for a bare name */
    ct_entry *e;
    size_t n, cap;
    ct_used *u;
    size_t nu, capu;
    int parse_error_line;
    int duplicate_line;
    char duplicate_key[256];
};

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static ct_entry *find(const ct_config *c, const char *section, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].section, section) == 0 && strcmp(c->e[i].key, key) == 0)
            return &c->e[i];
    return NULL;
}

/* The distribution's inih passes no line numbers to the handler, so the text is
 * fed line by line through a reader that counts them. */
typedef struct {
    const char *p;
    int line;
    ct_config *cfg;
    int too_long; /* line number of a line longer than the parser takes */
    int max_len;
} line_reader;

static char *read_line(char *str, int num, void *stream)
{
    line_reader *r = stream;
    if (!*r->p)
        return NULL;
    int n = 0;
    while (*r->p && n < num - 1) {
        char ch = *r->p++;
        str[n++] = ch;
        if (ch == '\n')
            break;
    }
    str[n] = '\0';
    r->line++;
    if (n == num - 1 && str[n - 1] != '\n' && *r->p && *r->p != '\n') {
        /* the parser would read the rest as another line: stop with an error */
        r->too_long = r->line;
        r->max_len = num - 2;
        return NULL;
    }
    return str;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    line_reader *r = user;
    ct_config *c = r->cfg;
    int lineno = r->line;
    if (!name) /* section header only */
        return 1;
    if (find(c, section, name)) {
        if (!c->duplicate_line) {
            c->duplicate_line = lineno;
            snprintf(c->duplicate_key, sizeof c->duplicate_key, "%s.%s", section, name);
        }
        return 1;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 32;
        ct_entry *ne = realloc(c->e, nc * sizeof *ne);
        if (!ne)
            return 0;
        c->e = ne;
        c->cap = nc;
    }
    ct_entry *e = &c->e[c->n];
    e->section = dupstr(section);
    e->key = dupstr(name);
    e->value = dupstr(value);
    e->line = lineno;
    e->used = 0;
    if (!e->section || !e->key || !e->value)
        return 0;
    c->n++;
    return 1;
}

static ct_status set_paths(ct_config *c, const char *name)
{
    c->path = dupstr(name);
    c->dir = dupstr(name);
    if (!c->path || !c->dir)
        CT_FAIL(CT_ERR_MEMORY, "%.200s: out of memory", name);
    char *slash = strrchr(c->dir, '/');
    if (slash)
        *slash = '\0';
    if (!slash || c->dir[0] == '\0') {
        free(c->dir);
        c->dir = dupstr(slash ? "/" : ".");
        if (!c->dir)
            CT_FAIL(CT_ERR_MEMORY, "%.200s: out of memory", name);
    }
    return CT_OK;
}

ct_status ct_config_from_string(ct_config **cfg, const char *text, const char *name)
{
    ct_config *c = NULL;
    *cfg = NULL;
    CT_CHECK(ct_calloc(&c, 1, sizeof *c, "config"));
    ct_status ps = set_paths(c, name ? name : "<string>");
    if (ps != CT_OK) {
        ct_config_destroy(&c);
        return ct_error_push(ps, __func__, __LINE__);
    }
    line_reader reader = {text, 0, c, 0, 0};
    int rc = ini_parse_stream(read_line, &reader, on_entry, &reader);
    if (rc == 0 && reader.too_long) {
        ct_config_destroy(&c);
        CT_FAIL(CT_ERR_CONFIG, "%s:%d: line longer than %d characters", name ? name : "<string>",
                reader.too_long, reader.max_len);
    }
    if (rc != 0) {
        ct_config_destroy(&c);
        if (rc > 0)
            CT_FAIL(CT_ERR_CONFIG, "%s:%d: syntax error", name ? name : "<string>", rc);
        CT_FAIL(CT_ERR_MEMORY, "%s: out of memory while parsing", name ? name : "<string>");
    }
    if (c->duplicate_line) {
        ct_status s = ct_error_set(CT_ERR_CONFIG, __func__, __LINE__,
                                   "%s:%d: key %s given twice", c->path, c->duplicate_line,
                                   c->duplicate_key);
        ct_config_destroy(&c);
        return s;
    }
    *cfg = c;
    return CT_OK;
}

ct_status ct_config_load(ct_config **cfg, const char *path, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    char *text = NULL;
    size_t len = 0;
    ct_status s = CT_OK;
    *cfg = NULL;
    if (rank == 0)
        s = ct_read_text(path, &text, &len);
    s = ct_agree_msg(comm, s);
    if (s != CT_OK) {
        free(text);
        return ct_error_push(s, __func__, __LINE__);
    }
    long long n = (long long)len;
    MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, comm);
    if (rank != 0) {
        s = ct_calloc(&text, (size_t)n + 1, 1, "config text");
    }
    s = ct_agree(comm, s);
    if (s != CT_OK) {
        free(text);
        return ct_error_push(s, __func__, __LINE__);
    }
    MPI_Bcast(text, (int)n, MPI_CHAR, 0, comm);
    text[n] = '\0';
    s = ct_config_from_string(cfg, text, path);
    free(text);
    if (s != CT_OK)
        return ct_error_push(s, __func__, __LINE__);
    return CT_OK;
}

void ct_config_destroy(ct_config **cfg)
{
    if (!cfg || !*cfg)
        return;
    ct_config *c = *cfg;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].section);
        free(c->e[i].key);
        free(c->e[i].value);
    }
    for (size_t i = 0; i < c->nu; i++) {
        free(c->u[i].section);
        free(c->u[i].key);
        free(c->u[i].value);
    }
    free(c->e);
    free(c->u);
    free(c->path);
    free(c->dir);
    free(c);
    *cfg = NULL;
}

const char *ct_config_path(const ct_config *cfg) { return cfg->path; }
const char *ct_config_dir(const ct_config *cfg) { return cfg->dir; }

int ct_config_has(const ct_config *cfg, const char *section, const char *key)
{
    return find(cfg, section, key) != NULL;
}

int ct_config_has_section(const ct_config *cfg, const char *section)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->e[i].section, section) == 0)
            return 1;
    return 0;
}

static void record_used(ct_config *c, const char *section, const char *key, const char *value)
{
    for (size_t i = 0; i < c->nu; i++)
        if (strcmp(c->u[i].section, section) == 0 && strcmp(c->u[i].key, key) == 0)
            return;
    if (c->nu == c->capu) {
        size_t nc = c->capu ? 2 * c->capu : 32;
        ct_used *nu = realloc(c->u, nc * sizeof *nu);
        if (!nu)
            return; /* the record of used settings is best effort */
        c->u = nu;
        c->capu = nc;
    }
    c->u[c->nu].section = dupstr(section);
    c->u[c->nu].key = dupstr(key);
    c->u[c->nu].value = dupstr(value);
    c->nu++;
}

/* Look a key up, mark it used, and return its entry (or NULL if absent). */
static ct_entry *take(ct_config *c, const char *section, const char *key)
{
    ct_entry *e = find(c, section, key);
    if (e) {
        e->used = 1;
        record_used(c, section, key, e->value);
    }
    return e;
}

ct_status ct_config_string(ct_config *cfg, const char *section, const char *key,
                           const char *def, const char **out)
{
    ct_entry *e = take(cfg, section, key);
    if (e) {
        *out = e->value;
        return CT_OK;
    }
    *out = def;
    if (def)
        record_used(cfg, section, key, def);
    return CT_OK;
}

ct_status ct_config_double(ct_config *cfg, const char *section, const char *key, double def,
                           double min, double max, double *out)
{
    ct_entry *e = take(cfg, section, key);
    if (!e) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", def);
        record_used(cfg, section, key, buf);
        *out = def;
        return CT_OK;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(e->value, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (end == e->value || (end && *end) || errno == ERANGE || !isfinite(v))
        CT_FAIL(CT_ERR_CONFIG, "%s:%d: %s.%s = '%s' is not a number", cfg->path, e->line,
                section, key, e->value);
    if (v < min || v > max)
        CT_FAIL(CT_ERR_RANGE, "%s:%d: %s.%s = %g is outside [%g, %g]", cfg->path, e->line,
                section, key, v, min, max);
    *out = v;
    return CT_OK;
}

ct_status ct_config_int(ct_config *cfg, const char *section, const char *key, long def,
                        long min, long max, long *out)
{
    ct_entry *e = take(cfg, section, key);
    if (!e) {
        char buf[64];
        snprintf(buf, sizeof buf, "%ld", def);
        record_used(cfg, section, key, buf);
        *out = def;
        return CT_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(e->value, &end, 10);
    while (end && isspace((unsigned char)*end))
        end++;
    if (end == e->value || (end && *end) || errno == ERANGE)
        CT_FAIL(CT_ERR_CONFIG, "%s:%d: %s.%s = '%s' is not an integer", cfg->path, e->line,
                section, key, e->value);
    if (v < min || v > max)
        CT_FAIL(CT_ERR_RANGE, "%s:%d: %s.%s = %ld is outside [%ld, %ld]", cfg->path, e->line,
                section, key, v, min, max);
    *out = v;
    return CT_OK;
}

ct_status ct_config_bool(ct_config *cfg, const char *section, const char *key, int def,
                         int *out)
{
    ct_entry *e = take(cfg, section, key);
    if (!e) {
        record_used(cfg, section, key, def ? "true" : "false");
        *out = def;
        return CT_OK;
    }
    const char *v = e->value;
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
        !strcmp(v, "1")) {
        *out = 1;
    } else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
               !strcmp(v, "0")) {
        *out = 0;
    } else {
        CT_FAIL(CT_ERR_CONFIG, "%s:%d: %s.%s = '%s' is not a boolean (true/false)", cfg->path,
                e->line, section, key, v);
    }
    return CT_OK;
}

ct_status ct_config_choice(ct_config *cfg, const char *section, const char *key,
                           const char *def, const char *const *choices, int *out)
{
    ct_entry *e = take(cfg, section, key);
    const char *v = e ? e->value : def;
    if (!e)
        record_used(cfg, section, key, def);
    for (int i = 0; choices[i]; i++) {
        if (strcasecmp(v, choices[i]) == 0) {
            *out = i;
            return CT_OK;
        }
    }
    char list[512] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    CT_FAIL(CT_ERR_CONFIG, "%s:%d: %s.%s = '%s' is not one of: %s", cfg->path, e ? e->line : 0,
            section, key, v, list);
}

ct_status ct_config_doubles(ct_config *cfg, const char *section, const char *key,
                            double *out, int *n)
{
    ct_entry *e = take(cfg, section, key);
    int cap = *n;
    *n = 0;
    if (!e)
        return CT_OK;
    const char *p = e->value;
    while (*p) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            break;
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v))
            CT_FAIL(CT_ERR_CONFIG, "%s:%d: %s.%s: '%s' is not a list of numbers", cfg->path,
                    e->line, section, key, e->value);
        if (*n >= cap)
            CT_FAIL(CT_ERR_RANGE, "%s:%d: %s.%s has more than %d values", cfg->path, e->line,
                    section, key, cap);
        out[(*n)++] = v;
        p = end;
    }
    return CT_OK;
}

ct_status ct_config_check_unused(const ct_config *cfg)
{
    char msg[3000] = "";
    int bad = 0;
    for (size_t i = 0; i < cfg->n; i++) {
        if (cfg->e[i].used)
            continue;
        char one[1600];
        snprintf(one, sizeof one, "%s%s:%d: unknown key %s.%s", bad ? "; " : "", cfg->path,
                 cfg->e[i].line, cfg->e[i].section, cfg->e[i].key);
        strncat(msg, one, sizeof msg - strlen(msg) - 1);
        bad++;
    }
    if (bad)
        CT_FAIL(CT_ERR_CONFIG, "%s", msg);
    return CT_OK;
}

size_t ct_config_used_count(const ct_config *cfg) { return cfg->nu; }

void ct_config_used_get(const ct_config *cfg, size_t i, const char **section, const char **key,
                        const char **value)
{
    if (i >= cfg->nu) {
        *section = *key = *value = NULL;
        return;
    }
    *section = cfg->u[i].section;
    *key = cfg->u[i].key;
    *value = cfg->u[i].value;
}
