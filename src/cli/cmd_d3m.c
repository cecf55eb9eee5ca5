/* cosmotl d3m: paired data, training, application and evaluation of the D3M
 * U-Net that maps LCDM displacements to massive-neutrino ones (docs/d3m.md). */
#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cosmotl/batch.h"
#include "cosmotl/cosmo.h"
#include "cosmotl/d3m.h"
#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/mesh.h"
#include "cosmotl/runner.h"
#include "cosmotl/sim.h"
#include "cosmotl/stats.h"
#include "cosmotl/unet.h"
#include "ct_config.h"

#define NGROW 256 /* rows of the growth-ratio table */

static void usage(void)
{
    printf(
        "usage: cosmotl d3m pairs CONFIG\n"
        "       cosmotl d3m train CONFIG [--steps N]\n"
        "       cosmotl d3m apply MODEL SNAPDIR --out DIR\n"
        "       cosmotl d3m eval CONFIG [--model FILE] [--out DIR]\n\n"
        "D3M (docs/d3m.md): a 3-D U-Net that maps the displacement field of a LCDM\n"
        "simulation to that of the same-seed massive-neutrino simulation.\n\n"
        "  pairs   check that the two suites of [data] (lcdm, mnu: suite configs,\n"
        "          simulated with `cosmotl simulate`) pair up (same seeds, particles, box,\n"
        "          steps and parameters except M_nu) and write one HDF5 file per pair,\n"
        "          [data] pairs/pair_<i>.h5: the displacement meshes (3 x N^3) of both\n"
        "          simulations and of the two baselines (Zel'dovich of the M_nu cosmology;\n"
        "          the LCDM displacement times the linear growth ratio).\n"
        "  train   train the network on the [data] train pairs: sub-cubes of [train] crop\n"
        "          cells plus a periodic context margin, random lattice symmetries, L1\n"
        "          loss, Adam, the global batch split over the ranks. Checkpoints every\n"
        "          [train] checkpoint_every steps; a run resumes from the checkpoint; on\n"
        "          SIGTERM it writes the checkpoint and exits with status 143. Pairs are\n"
        "          read lazily: only the sub-cubes of the current step are in memory.\n"
        "  apply   predict the M_nu snapshot of a LCDM snapshot (CDM particles, type 1)\n"
        "          and write it in the Quijote layout to DIR/snapdir_XXX (velocities zero).\n"
        "  eval    held-out [data] test pairs: T(k), r(k), 1-point PDF of delta smoothed\n"
        "          with a 10 Mpc/h top hat, bispectrum at k1 = 0.15, k2 = 0.25 h/Mpc vs\n"
        "          angle, void size function, for the network and both baselines; text\n"
        "          tables and a verdict in DIR (default [eval] out); plots with\n"
        "          tools/plot-d3m DIR. The pairs are spread over the ranks; the tables\n"
        "          do not depend on their number.\n\n"
        "Exit codes: 0 done, 1 error, 2 usage, 3 some pairs failed (pairs), 143 the\n"
        "training was stopped by SIGTERM (train; run again to resume).\n");
}

/* ------------------------------------------------------------------ config */

/* growable text buffer */
typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap + (size_t)k + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s)
            return;
        b->s = s;
        b->cap = cap;
    }
}

typedef struct {
    char lcdm_cfg[PATH_MAX], mnu_cfg[PATH_MAX];
    char lcdm_dir[PATH_MAX], mnu_dir[PATH_MAX];
    char pairs[PATH_MAX];
    long train[2], test[2];
    ct_unet_settings net;
    long steps, batch, crop, margin, ckpt_every;
    double lr;
    uint64_t seed;
    int augment;
    char checkpoint[PATH_MAX];
    char eval_out[PATH_MAX];
    double eval_kmin, eval_kmax; /* 0: k_Nyquist / 2 of the particles */
    char path[PATH_MAX];         /* the config file */
    char hash[17];               /* of every setting read ("section.key = value" lines) */
} d3m_cfg;

static void resolve(char *out, size_t cap, const char *base, const char *p)
{
    if (!p || !*p || p[0] == '/' || !base || !*base)
        snprintf(out, cap, "%s", p ? p : "");
    else
        snprintf(out, cap, "%s/%s", base, p);
}

static ct_status cfg_range(ct_config *cfg, const char *key, long r[2])
{
    const char *v;
    CT_CHECK(ct_config_string(cfg, "data", key, "", &v));
    if (ct_cli_parse_range(v, &r[0], &r[1]))
        CT_FAIL(CT_ERR_CONFIG, "%s: [data] %s = '%s' must be A:B with A < B",
                ct_config_path(cfg), key, v);
    return CT_OK;
}

static ct_status read_cfg(ct_config *cfg, d3m_cfg *c)
{
    const char *file = ct_config_path(cfg), *dir = ct_config_dir(cfg), *v;
    long l;
    memset(c, 0, sizeof *c);
    CT_CHECK(ct_config_string(cfg, "data", "lcdm", "", &v));
    if (!*v)
        CT_FAIL(CT_ERR_CONFIG, "%s: [data] lcdm (the LCDM suite config) is required", file);
    resolve(c->lcdm_cfg, sizeof c->lcdm_cfg, dir, v);
    CT_CHECK(ct_config_string(cfg, "data", "mnu", "", &v));
    if (!*v)
        CT_FAIL(CT_ERR_CONFIG, "%s: [data] mnu (the massive-neutrino suite config) is required",
                file);
    resolve(c->mnu_cfg, sizeof c->mnu_cfg, dir, v);
    CT_CHECK(ct_config_string(cfg, "data", "lcdm_dir", "", &v));
    snprintf(c->lcdm_dir, sizeof c->lcdm_dir, "%s", v);
    CT_CHECK(ct_config_string(cfg, "data", "mnu_dir", "", &v));
    snprintf(c->mnu_dir, sizeof c->mnu_dir, "%s", v);
    CT_CHECK(ct_config_string(cfg, "data", "pairs", "d3m/pairs", &v));
    snprintf(c->pairs, sizeof c->pairs, "%s", v);
    CT_CHECK(cfg_range(cfg, "train", c->train));
    CT_CHECK(cfg_range(cfg, "test", c->test));
    if (c->train[0] < c->test[1] && c->test[0] < c->train[1])
        CT_FAIL(CT_ERR_CONFIG, "%s: [data] train %ld:%ld and test %ld:%ld overlap", file,
                c->train[0], c->train[1], c->test[0], c->test[1]);

    ct_unet_settings_default(&c->net);
    CT_CHECK(ct_config_int(cfg, "net", "base", 8, 1, 512, &l));
    c->net.base_channels = (int)l;
    CT_CHECK(ct_config_int(cfg, "net", "depth", 2, 0, 6, &l));
    c->net.depth = (int)l;
    CT_CHECK(ct_config_int(cfg, "net", "blocks", 1, 1, 8, &l));
    c->net.blocks = (int)l;
    CT_CHECK(ct_config_double(cfg, "net", "slope", 0.0, 0.0, 1.0, &c->net.slope));
    CT_CHECK(ct_config_int(cfg, "net", "seed", 1, 0, LONG_MAX, &l));
    c->net.seed = (uint64_t)l;

    CT_CHECK(ct_config_int(cfg, "train", "steps", 1000, 1, 100000000, &c->steps));
    CT_CHECK(ct_config_int(cfg, "train", "batch", 2, 1, 4096, &c->batch));
    CT_CHECK(ct_config_int(cfg, "train", "crop", 32, 1, 512, &c->crop));
    CT_CHECK(ct_config_int(cfg, "train", "margin", 8, 0, 256, &c->margin));
    CT_CHECK(ct_config_double(cfg, "train", "lr", 1e-3, 1e-8, 1.0, &c->lr));
    CT_CHECK(ct_config_int(cfg, "train", "seed", 1, 0, LONG_MAX, &l));
    c->seed = (uint64_t)l;
    CT_CHECK(ct_config_bool(cfg, "train", "augment", 1, &c->augment));
    CT_CHECK(ct_config_int(cfg, "train", "checkpoint_every", 100, 1, 100000000, &c->ckpt_every));
    CT_CHECK(ct_config_string(cfg, "train", "checkpoint", "d3m/model.h5", &v));
    snprintf(c->checkpoint, sizeof c->checkpoint, "%s", v);
    const int f = 1 << c->net.depth;
    if ((c->crop + 2 * c->margin) % f)
        CT_FAIL(CT_ERR_CONFIG,
                "%s: [train] crop + 2 margin = %ld must be a multiple of 2^depth = %d", file,
                c->crop + 2 * c->margin, f);

    CT_CHECK(ct_config_string(cfg, "eval", "out", "d3m/eval", &v));
    snprintf(c->eval_out, sizeof c->eval_out, "%s", v);
    CT_CHECK(ct_config_double(cfg, "eval", "kmin", 0.1, 0.0, 100.0, &c->eval_kmin));
    CT_CHECK(ct_config_double(cfg, "eval", "kmax", 0.0, 0.0, 100.0, &c->eval_kmax));
    CT_CHECK(ct_config_check_unused(cfg));
    snprintf(c->path, sizeof c->path, "%s", file);
    sbuf t = {0};
    for (size_t i = 0; i < ct_config_used_count(cfg); i++) {
        const char *sec, *key, *val;
        ct_config_used_get(cfg, i, &sec, &key, &val);
        sb_printf(&t, "%s.%s = %s\n", sec, key, val);
    }
    snprintf(c->hash, sizeof c->hash, "%016llx",
             (unsigned long long)ct_hash_bytes(t.s ? t.s : "", t.n));
    free(t.s);
    return CT_OK;
}

/* Load the config file at path and read it into out with `read` (the D3M config or
 * a suite config); collective, the status agreed. */
static ct_status load_with(const char *path, ct_status (*read)(ct_config *, void *), void *out,
                           MPI_Comm comm)
{
    ct_config *cfg = NULL;
    ct_status rc = ct_config_load(&cfg, path, comm);
    if (rc == CT_OK)
        rc = read(cfg, out);
    ct_config_destroy(&cfg);
    return ct_agree_msg(comm, rc);
}

static ct_status read_d3m(ct_config *cfg, void *out)
{
    return read_cfg(cfg, out);
}

static ct_status read_suite(ct_config *cfg, void *out)
{
    return cli_suite_read(cfg, out);
}

static ct_status load_cfg(const char *path, d3m_cfg *c, MPI_Comm comm)
{
    return load_with(path, read_d3m, c, comm);
}

/* ------------------------------------------------------------ pair files */

/* What a pair file and a model share: the lattice, the snapshot's header
 * cosmology and the linear growth-ratio table (the attributes of a pair file and
 * of a model's /d3m group). */
typedef struct {
    int64_t N;
    double box, redshift, time, m_nu, mass_cb, omega_m, omega_l, hubble;
    double gk[NGROW], gr[NGROW]; /* growth ratio table */
} d3m_phys;

#define NPHYS 8
static const char *const PHYS_NAMES[NPHYS] = {"box",     "redshift", "time",    "M_nu",
                                              "mass_cb", "omega_m",  "omega_l", "hubble"};

static void phys_ptrs(d3m_phys *p, double *v[NPHYS])
{
    double *a[NPHYS] = {&p->box,     &p->redshift, &p->time,    &p->m_nu,
                        &p->mass_cb, &p->omega_m,  &p->omega_l, &p->hubble};
    memcpy(v, a, sizeof a);
}

/* What one pair file holds besides the fields. */
typedef struct {
    d3m_phys ph;
    long long seed, index;
    int snapnum;
} pair_meta;

static const char *const FIELDS[4] = {"lcdm", "mnu", "zeldovich", "growth"};

static ct_status h5_write_floats(hid_t f, const char *path, const char *name, const float *v,
                                 int64_t C, int64_t N)
{
    hsize_t dims[4] = {(hsize_t)C, (hsize_t)N, (hsize_t)N, (hsize_t)N};
    hid_t sp = H5Screate_simple(4, dims, NULL);
    hid_t dcpl = ct_h5_dcpl(); /* no time stamps: identical runs, identical bytes */
    hid_t d = sp < 0 || dcpl < 0
                  ? -1
                  : H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot write dataset %s", path, name);
    return CT_OK;
}

/* A field (3 x N^3 floats) of an open pair file, its shape checked. */
typedef struct {
    hid_t d, fs;
} field_h;

static void field_close(field_h *h)
{
    if (h->fs >= 0)
        H5Sclose(h->fs);
    if (h->d >= 0)
        H5Dclose(h->d);
    h->d = h->fs = -1;
}

static ct_status field_open(hid_t f, const char *path, const char *name, int64_t N, field_h *h)
{
    hsize_t dims[4] = {0, 0, 0, 0};
    h->d = ct_h5_exists(f, name) ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
    h->fs = h->d < 0 ? -1 : H5Dget_space(h->d);
    if (h->fs < 0 || H5Sget_simple_extent_ndims(h->fs) != 4 ||
        H5Sget_simple_extent_dims(h->fs, dims, NULL) < 0 || dims[0] != 3 ||
        dims[1] != (hsize_t)N || dims[2] != (hsize_t)N || dims[3] != (hsize_t)N) {
        field_close(h);
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s is not a readable 3 x %lld^3 float field", path,
                name, (long long)N);
    }
    return CT_OK;
}

/* The block cnt at file offset fo into dst, a buffer of shape md, at offset mo. */
static ct_status field_read(field_h *h, const char *path, const char *name, const hsize_t fo[4],
                            const hsize_t cnt[4], const hsize_t md[4], const hsize_t mo[4],
                            float *dst)
{
    hid_t ms = H5Screate_simple(4, md, NULL);
    herr_t e = ms < 0 ? -1 : H5Sselect_hyperslab(h->fs, H5S_SELECT_SET, fo, NULL, cnt, NULL);
    if (e >= 0)
        e = H5Sselect_hyperslab(ms, H5S_SELECT_SET, mo, NULL, cnt, NULL);
    if (e >= 0)
        e = H5Dread(h->d, H5T_NATIVE_FLOAT, ms, h->fs, H5P_DEFAULT, dst);
    if (ms >= 0)
        H5Sclose(ms);
    if (e < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot read a block of %s", path, name);
    return CT_OK;
}

/* The whole field (3 x N^3). */
static ct_status h5_read_floats(hid_t f, const char *path, const char *name, float *v, int64_t N)
{
    field_h h;
    const hsize_t zero[4] = {0, 0, 0, 0}, all[4] = {3, (hsize_t)N, (hsize_t)N, (hsize_t)N};
    CT_CHECK(field_open(f, path, name, N, &h));
    ct_status rc = field_read(&h, path, name, zero, all, all, zero, v);
    field_close(&h);
    return rc;
}

/* N and the header cosmology (before the caller's own attributes), then the growth
 * table (after them): the attribute order of the pair files. */
static ct_status phys_write(hid_t loc, const d3m_phys *p)
{
    double *v[NPHYS];
    phys_ptrs((d3m_phys *)p, v);
    CT_CHECK(ct_h5_attr_int(loc, "N", p->N));
    for (int i = 0; i < NPHYS; i++)
        CT_CHECK(ct_h5_attr_double(loc, PHYS_NAMES[i], *v[i]));
    return CT_OK;
}

static ct_status growth_write(hid_t loc, const d3m_phys *p)
{
    CT_CHECK(ct_h5_attr_doubles(loc, "growth_k", p->gk, NGROW));
    CT_CHECK(ct_h5_attr_doubles(loc, "growth_ratio", p->gr, NGROW));
    return CT_OK;
}

static ct_status read_attr_doubles(hid_t f, const char *path, const char *name, double *v, int n)
{
    hid_t a = ct_h5_attr_exists(f, name) > 0 ? H5Aopen(f, name, H5P_DEFAULT) : -1;
    hid_t sp = a < 0 ? -1 : H5Aget_space(a);
    herr_t e = -1;
    if (sp >= 0 && H5Sget_simple_extent_npoints(sp) == n)
        e = H5Aread(a, H5T_NATIVE_DOUBLE, v);
    if (sp >= 0)
        H5Sclose(sp);
    if (a >= 0)
        H5Aclose(a);
    if (e < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s missing or not %d values", path, name, n);
    return CT_OK;
}

/* where: "" for a pair file, "/d3m " for a model's group (messages). */
static ct_status phys_read(hid_t loc, const char *path, const char *where, d3m_phys *p)
{
    long long v;
    double *dv[NPHYS];
    phys_ptrs(p, dv);
    for (int i = 0; i < NPHYS; i++)
        if (ct_h5_read_attr_double(loc, PHYS_NAMES[i], dv[i]) != CT_OK)
            CT_FAIL(CT_ERR_FORMAT, "%s: %sattribute %s missing", path, where, PHYS_NAMES[i]);
    if (ct_h5_read_attr_int(loc, "N", &v) != CT_OK || v < 2 || v > 512)
        CT_FAIL(CT_ERR_FORMAT, "%s: %sattribute N missing or out of range", path, where);
    p->N = v;
    if (!(p->box > 0))
        CT_FAIL(CT_ERR_FORMAT, "%s: %sattribute box out of range", path, where);
    CT_CHECK(read_attr_doubles(loc, path, "growth_k", p->gk, NGROW));
    CT_CHECK(read_attr_doubles(loc, path, "growth_ratio", p->gr, NGROW));
    return CT_OK;
}

static ct_status meta_write(hid_t f, const pair_meta *m)
{
    CT_CHECK(ct_h5_attr_string(f, "format", "cosmotl-d3m-pair"));
    CT_CHECK(phys_write(f, &m->ph));
    CT_CHECK(ct_h5_attr_int(f, "seed", m->seed));
    CT_CHECK(ct_h5_attr_int(f, "index", m->index));
    CT_CHECK(ct_h5_attr_int(f, "snapnum", m->snapnum));
    return growth_write(f, &m->ph);
}

static ct_status meta_read(hid_t f, const char *path, pair_meta *m)
{
    long long v;
    CT_CHECK(phys_read(f, path, "", &m->ph));
    if (ct_h5_read_attr_int(f, "seed", &m->seed) != CT_OK ||
        ct_h5_read_attr_int(f, "index", &m->index) != CT_OK ||
        ct_h5_read_attr_int(f, "snapnum", &v) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute seed, index or snapnum missing", path);
    m->snapnum = (int)v;
    return CT_OK;
}

static void pair_path(const d3m_cfg *c, long i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/pair_%ld.h5", c->pairs, i);
}

/* Read the pair file of simulation i: fields (4 x 3 x N^3, any may be NULL
 * entries) and metadata. */
/* Open a pair file and read its metadata (*f closed on failure). */
static ct_status pair_open(const char *path, pair_meta *m, hid_t *f)
{
    char fmt[64];
    ct_status rc = CT_OK;
    CT_CHECK(ct_h5_open_ro(path, f));
    if (ct_h5_read_attr_string(*f, "format", fmt, sizeof fmt) != CT_OK ||
        strcmp(fmt, "cosmotl-d3m-pair"))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: not a D3M pair file", path);
    CT_CHECK_GOTO(rc, meta_read(*f, path, m));
    return CT_OK;
fail:
    H5Fclose(*f);
    *f = -1;
    return rc;
}

static ct_status pair_read(const char *path, pair_meta *m, float *fields[4])
{
    hid_t f = -1;
    ct_status rc = CT_OK;
    CT_CHECK(pair_open(path, m, &f));
    for (int q = 0; q < 4; q++)
        if (fields && fields[q])
            CT_CHECK_GOTO(rc, h5_read_floats(f, path, FIELDS[q], fields[q], m->ph.N));
fail:
    H5Fclose(f);
    return rc;
}

/* Periodic range [o, o + S) of an axis of side N as runs of the file's axis: run r
 * covers file cells file[r] ... file[r] + len[r] - 1 and lands at at[r]. */
static int axis_runs(int64_t o, int64_t S, int64_t N, hsize_t *file, hsize_t *len, hsize_t *at)
{
    int n = 0;
    for (int64_t a = 0; a < S; n++) {
        int64_t f0 = ((o + a) % N + N) % N, l = N - f0 < S - a ? N - f0 : S - a;
        file[n] = (hsize_t)f0, len[n] = (hsize_t)l, at[n] = (hsize_t)a;
        a += l;
    }
    return n;
}

/* The periodic sub-cube of side S whose corner is cell o[] of the field `name`
 * (3 x N^3) of an open pair file, read as hyperslabs into dst (3 x S^3): what
 * crop_periodic gives on the whole field, without reading the whole field. */
static ct_status read_subcube(hid_t f, const char *path, const char *name, int64_t N,
                              const int64_t o[3], int64_t S, float *dst)
{
    ct_status rc = CT_OK;
    const int64_t nr = S / N + 2;
    hsize_t *run = NULL; /* 3 axes x 3 arrays (file, len, at) x nr */
    int n[3];
    field_h h;
    const hsize_t md[4] = {3, (hsize_t)S, (hsize_t)S, (hsize_t)S};
    CT_CHECK(field_open(f, path, name, N, &h));
    CT_CHECK_GOTO(rc, ct_calloc(&run, (size_t)(9 * nr), sizeof(hsize_t), "sub-cube runs"));
    for (int a = 0; a < 3; a++)
        n[a] = axis_runs(o[a], S, N, run + (3 * a) * nr, run + (3 * a + 1) * nr,
                         run + (3 * a + 2) * nr);
    for (int i = 0; i < n[0]; i++)
        for (int j = 0; j < n[1]; j++)
            for (int k = 0; k < n[2]; k++) {
                const int r[3] = {i, j, k};
                hsize_t fo[4] = {0}, mo[4] = {0}, cnt[4] = {3};
                for (int a = 0; a < 3; a++) {
                    fo[a + 1] = run[(3 * a) * nr + r[a]];
                    cnt[a + 1] = run[(3 * a + 1) * nr + r[a]];
                    mo[a + 1] = run[(3 * a + 2) * nr + r[a]];
                }
                CT_CHECK_GOTO(rc, field_read(&h, path, name, fo, cnt, md, mo, dst));
            }
fail:
    field_close(&h);
    free(run);
    return rc;
}

/* Planes [i0, i0 + ni) of channel c of the field `name` (3 x N^3) of an open pair
 * file into dst (ni x N^2): what the statistics pass streams. */
static ct_status read_planes(hid_t f, const char *path, const char *name, int64_t N, int c,
                             int64_t i0, int64_t ni, float *dst)
{
    field_h h;
    const hsize_t fo[4] = {(hsize_t)c, (hsize_t)i0, 0, 0}, zero[4] = {0, 0, 0, 0};
    const hsize_t cnt[4] = {1, (hsize_t)ni, (hsize_t)N, (hsize_t)N};
    CT_CHECK(field_open(f, path, name, N, &h));
    ct_status rc = field_read(&h, path, name, fo, cnt, cnt, zero, dst);
    field_close(&h);
    return rc;
}

/* ------------------------------------------------------------- d3m pairs */

typedef struct {
    const d3m_cfg *c;
    cli_suite_cfg *l, *n; /* lcdm, mnu */
    const char *ldir, *ndir;
    double *lv, *nv; /* suite parameter rows */
} pairs_job;

/* The suites pair up: everything but M_nu equal (config level). */
static ct_status check_suites(const d3m_cfg *c, const cli_suite_cfg *l, const cli_suite_cfg *n,
                              const double *lv, const double *nv)
{
    const ct_suite_settings *a = &l->s, *b = &n->s;
    const char *fa = c->lcdm_cfg, *fb = c->mnu_cfg;
#define DIFF(cond, what, fmt, x, y)                                                           \
    if (cond)                                                                                 \
    CT_FAIL(CT_ERR_CONFIG, "%s and %s do not pair: " what " differ (" fmt " vs " fmt ")", fa, fb, \
            x, y)
    DIFF(a->seed != b->seed, "the seeds", "%llu", (unsigned long long)a->seed,
         (unsigned long long)b->seed);
    DIFF(a->sim.np != b->sim.np, "the particle counts", "%lld^3", (long long)a->sim.np,
         (long long)b->sim.np);
    DIFF(a->sim.box != b->sim.box, "the boxes", "%g", a->sim.box, b->sim.box);
    DIFF(a->sim.steps != b->sim.steps, "the PM steps", "%d", a->sim.steps, b->sim.steps);
    DIFF(a->sim.z_init != b->sim.z_init, "the initial redshifts", "%g", a->sim.z_init,
         b->sim.z_init);
    DIFF(a->sim.lpt_order != b->sim.lpt_order, "the LPT orders", "%d", a->sim.lpt_order,
         b->sim.lpt_order);
    DIFF(a->sim.mesh_factor != b->sim.mesh_factor, "the mesh factors", "%d",
         a->sim.mesh_factor, b->sim.mesh_factor);
    DIFF(a->sim.amplitude != b->sim.amplitude, "the amplitude kinds", "%d",
         (int)a->sim.amplitude, (int)b->sim.amplitude);
    DIFF(a->sim.phase_flip != b->sim.phase_flip, "the phase flips", "%d", a->sim.phase_flip,
         b->sim.phase_flip);
    DIFF(a->sim.noise != b->sim.noise, "the white-noise generators", "%d", (int)a->sim.noise,
         (int)b->sim.noise);
    DIFF(a->sim.noise == CT_NOISE_NGENIC && a->sim.ngenic_nmesh != b->sim.ngenic_nmesh,
         "the N-GenIC meshes", "%lld", (long long)a->sim.ngenic_nmesh, (long long)b->sim.ngenic_nmesh);
    DIFF(a->sim.png != b->sim.png, "the PNG kinds", "%d", (int)a->sim.png, (int)b->sim.png);
    DIFF(a->cosmo.transfer != b->cosmo.transfer, "the transfer functions", "%d",
         (int)a->cosmo.transfer, (int)b->cosmo.transfer);
    DIFF(a->sim.z_out[a->sim.nout - 1] != b->sim.z_out[b->sim.nout - 1],
         "the last output redshifts", "%g", a->sim.z_out[a->sim.nout - 1],
         b->sim.z_out[b->sim.nout - 1]);
#undef DIFF
    if (a->sim.np > 512)
        CT_FAIL(CT_ERR_CONFIG, "%s: %lld^3 particles; D3M pairs need at most 512^3", fa,
                (long long)a->sim.np);
    if (c->train[1] > a->nsims || c->test[1] > a->nsims || c->train[1] > b->nsims ||
        c->test[1] > b->nsims)
        CT_FAIL(CT_ERR_CONFIG,
                "[data] train %ld:%ld / test %ld:%ld beyond the suites' %lld and %lld simulations",
                c->train[0], c->train[1], c->test[0], c->test[1], (long long)a->nsims,
                (long long)b->nsims);
    int64_t ns = a->nsims < b->nsims ? a->nsims : b->nsims;
    for (int64_t i = 0; i < ns; i++) {
        if (lv[i * CT_P_COUNT + CT_P_M_NU] != 0)
            CT_FAIL(CT_ERR_CONFIG, "%s: simulation %lld has M_nu = %g; the LCDM suite needs 0", fa,
                    (long long)i, lv[i * CT_P_COUNT + CT_P_M_NU]);
        if (!(nv[i * CT_P_COUNT + CT_P_M_NU] > 0))
            CT_FAIL(CT_ERR_CONFIG, "%s: simulation %lld has M_nu = %g; the neutrino suite needs "
                    "M_nu > 0", fb, (long long)i, nv[i * CT_P_COUNT + CT_P_M_NU]);
        for (int p = 0; p < CT_P_COUNT; p++)
            if (p != CT_P_M_NU && lv[i * CT_P_COUNT + p] != nv[i * CT_P_COUNT + p])
                CT_FAIL(CT_ERR_CONFIG,
                        "%s and %s do not pair: simulation %lld has %s = %g vs %g (only M_nu "
                        "may differ)", fa, fb, (long long)i, ct_param_name(p),
                        lv[i * CT_P_COUNT + p], nv[i * CT_P_COUNT + p]);
    }
    return CT_OK;
}

/* Displacement of the CDM particles of the snapshot dir/snapdir_XXX. */
static ct_status snap_displacement(const char *snapdir, int64_t N, double box, float *d,
                                   ct_snapshot_header *hd, MPI_Comm g)
{
    ct_snapshot *s = NULL;
    ct_particles p;
    memset(&p, 0, sizeof p);
    ct_status rc = CT_OK;
    CT_CHECK(ct_snapshot_open(&s, snapdir, g));
    *hd = *ct_snapshot_get_header(s);
    if (fabs(hd->box - box) > 1e-6 * box)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: box %g Mpc/h, expected %g", snapdir, hd->box, box);
    if (hd->npart_total[1] != N * N * N)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: %lld CDM particles, expected %lld^3 = %lld", snapdir,
                     (long long)hd->npart_total[1], (long long)N, (long long)(N * N * N));
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    rs.read_vel = 0;
    CT_CHECK_GOTO(rc, ct_snapshot_read(s, 1, &rs, &p));
    rc = ct_d3m_displacement(p.pos, p.id, p.n, N, box, 0, g, d);
    if (rc != CT_OK)
        CT_FAIL_GOTO(rc, rc, "%s: %s", snapdir, ct_error_message());
fail:
    ct_particles_free(&p);
    ct_snapshot_close(&s);
    return rc;
}

typedef struct {
    int64_t N;
    double box;
    float *d;
    MPI_Comm g;
} za_ctx;

static ct_status za_out(const ct_sim_particles *p, int iout, void *user)
{
    za_ctx *z = user;
    (void)iout;
    return ct_d3m_displacement(p->pos, p->id, p->n, z->N, z->box, 0, z->g, z->d);
}

static ct_status pairs_run(int64_t k, MPI_Comm g, void *user, void *result)
{
    pairs_job *j = user;
    (void)result;
    const d3m_cfg *c = j->c;
    const ct_suite_settings *ls = &j->l->s, *ns = &j->n->s;
    const int64_t i = k, N = ls->sim.np, cells = N * N * N;
    const double box = ls->sim.box;
    const int sn = ls->sim.snapnum[ls->sim.nout - 1];
    ct_status rc = CT_OK;
    ct_cosmo *cl = NULL, *cn = NULL;
    float *f[4] = {NULL, NULL, NULL, NULL};
    pair_meta m;
    memset(&m, 0, sizeof m);
    for (int q = 0; q < 4; q++)
        CT_CHECK_GOTO(rc, ct_calloc(&f[q], (size_t)(3 * cells), sizeof(float), "pair field"));
    char sd[2][PATH_MAX + 64];
    snprintf(sd[0], sizeof sd[0], "%s/%lld/snapdir_%03d", j->ldir, (long long)i, sn);
    snprintf(sd[1], sizeof sd[1], "%s/%lld/snapdir_%03d", j->ndir, (long long)i, sn);
    ct_snapshot_header h0, h1;
    CT_CHECK_GOTO(rc, snap_displacement(sd[0], N, box, f[0], &h0, g));
    CT_CHECK_GOTO(rc, snap_displacement(sd[1], N, box, f[1], &h1, g));
    if (fabs(h0.redshift - h1.redshift) > 1e-6)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s is at z = %g, %s at z = %g", sd[0], h0.redshift,
                     sd[1], h1.redshift);
    ct_cosmo_params cpl, cpn;
    ct_sim_settings ss;
    ct_suite_sim(ls, j->lv + i * CT_P_COUNT, i, &cpl, NULL);
    ct_suite_sim(ns, j->nv + i * CT_P_COUNT, i, &cpn, &ss);
    CT_CHECK_GOTO(rc, ct_cosmo_create(&cl, &cpl));
    CT_CHECK_GOTO(rc, ct_cosmo_create(&cn, &cpn));
    /* Zel'dovich displacement of the M_nu cosmology at the output time */
    {
        ss.lpt_order = 1;
        ss.steps = 0;
        ss.nout = 1;
        ss.z_out[0] = ns->sim.z_out[ns->sim.nout - 1];
        ss.nu_particles = 0;
        ss.pgd_alpha = 0;
        za_ctx z = {N, box, f[2], g};
        CT_CHECK_GOTO(rc, ct_sim_run(cn, &ss, za_out, &z, NULL, g));
    }
    /* linear growth ratio of the cb component, sqrt(P_cb(k; M_nu) / P_cb(k; LCDM)) at the
     * output: D_cb(k; M_nu) / D(k; LCDM) times the ratio of the initial amplitudes (1
     * for equal primordial amplitudes; here both suites fix sigma_8 of total matter) */
    const double a = 1.0 / (1.0 + h0.redshift);
    const double kf = 2 * M_PI / box, kmax = 2 * sqrt(3.0) * M_PI * N / box;
    for (int r = 0; r < NGROW; r++) {
        m.ph.gk[r] = 0.5 * kf * pow(kmax / (0.5 * kf), (double)r / (NGROW - 1));
        m.ph.gr[r] = sqrt(ct_cosmo_pk(cn, m.ph.gk[r], a, CT_SPECIES_CB) /
                          ct_cosmo_pk(cl, m.ph.gk[r], a, CT_SPECIES_CB));
    }
    int rank;
    MPI_Comm_rank(g, &rank);
    if (rank == 0) {
        memcpy(f[3], f[0], (size_t)(3 * cells) * sizeof(float));
        rc = ct_d3m_filter(f[3], 3, N, box, m.ph.gk, m.ph.gr, NGROW);
        m.ph.N = N;
        m.ph.box = box;
        m.ph.redshift = h1.redshift;
        m.ph.time = h1.time;
        m.ph.m_nu = j->nv[i * CT_P_COUNT + CT_P_M_NU];
        m.ph.mass_cb = h1.mass_table[1];
        m.ph.omega_m = h1.omega_m;
        m.ph.omega_l = h1.omega_l;
        m.ph.hubble = h1.hubble;
        m.seed = (long long)(ls->seed + (uint64_t)i);
        m.index = i;
        m.snapnum = sn;
        char path[PATH_MAX + 32], *tmp = NULL;
        pair_path(c, (long)i, path, sizeof path);
        hid_t fh = -1;
        if (rc == CT_OK)
            rc = ct_atomic_begin_alloc(path, &tmp);
        if (rc == CT_OK)
            rc = ct_h5_create(tmp, &fh);
        if (rc == CT_OK)
            rc = meta_write(fh, &m);
        for (int q = 0; q < 4 && rc == CT_OK; q++)
            rc = h5_write_floats(fh, path, FIELDS[q], f[q], 3, N);
        if (fh >= 0 && H5Fclose(fh) < 0 && rc == CT_OK)
            rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: closing failed", path);
        if (rc == CT_OK)
            rc = ct_atomic_commit(tmp, path);
        else
            ct_atomic_abort(tmp);
        free(tmp);
    }
    rc = ct_agree_msg(g, rc);
fail:
    for (int q = 0; q < 4; q++)
        ct_free(&f[q]);
    ct_cosmo_destroy(&cl);
    ct_cosmo_destroy(&cn);
    return rc;
}

static ct_status pairs_done(int64_t k, MPI_Comm g, void *user, int *done)
{
    pairs_job *j = user;
    (void)g;
    char path[PATH_MAX + 32];
    pair_path(j->c, (long)k, path, sizeof path);
    *done = ct_file_exists(path);
    return CT_OK;
}

static ct_status pairs_finish(int64_t k, ct_status st, const char *msg, const void *result,
                              MPI_Comm g, void *user)
{
    (void)result, (void)user;
    int r;
    MPI_Comm_rank(g, &r);
    if (r == 0) {
        if (st != CT_OK)
            ct_log_rank_msg(CT_LOG_ERROR, "pair %lld failed: %s", (long long)k, msg);
        else
            ct_log_rank_msg(CT_LOG_INFO, "pair %lld written", (long long)k);
    }
    return CT_OK;
}

static int do_pairs(const char *config, MPI_Comm comm)
{
    const char *cmd = "d3m pairs";
    d3m_cfg c;
    cli_suite_cfg *l = calloc(1, sizeof *l), *n = calloc(1, sizeof *n);
    double *lv = NULL, *nv = NULL;
    ct_runner *r = NULL;
    ct_runner_report rep;
    memset(&rep, 0, sizeof rep);
    int exitc = 1, rank;
    MPI_Comm_rank(comm, &rank);
    ct_status rc = l && n ? CT_OK : ct_error_set(CT_ERR_MEMORY, __func__, __LINE__, "out of memory");
    if (rc == CT_OK)
        rc = load_cfg(config, &c, comm);
    if (rc == CT_OK)
        rc = load_with(c.lcdm_cfg, read_suite, l, comm);
    if (rc == CT_OK)
        rc = load_with(c.mnu_cfg, read_suite, n, comm);
    if (rc == CT_OK)
        rc = ct_suite_params(&l->s, &lv);
    if (rc == CT_OK)
        rc = ct_suite_params(&n->s, &nv);
    if (rc == CT_OK)
        rc = check_suites(&c, l, n, lv, nv);
    if (rc == CT_OK && rank == 0)
        rc = ct_mkdir_p(c.pairs);
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK) {
        exitc = ct_cli_fail(cmd, comm);
        goto done;
    }
    {
        pairs_job j = {&c, l, n, c.lcdm_dir[0] ? c.lcdm_dir : l->out,
                       c.mnu_dir[0] ? c.mnu_dir : n->out, lv, nv};
        ct_runner_settings rs;
        ct_runner_settings_defaults(&rs);
        rs.group_size = 1;
        int64_t np = c.train[1] > c.test[1] ? c.train[1] : c.test[1];
        ct_info("d3m pairs: %lld pairs of %lld^3 particles from %s and %s into %s",
                (long long)np, (long long)l->s.sim.np, j.ldir, j.ndir, c.pairs);
        ct_runner_job job = {.n_items = np, .is_done = pairs_done, .run = pairs_run,
                             .finish = pairs_finish, .user = &j};
        rc = ct_runner_create(&r, &rs, comm);
        if (rc == CT_OK)
            rc = ct_runner_run(r, &job, &rep);
        if (rc != CT_OK) {
            exitc = ct_cli_fail(cmd, comm);
            goto done;
        }
        ct_info("d3m pairs: %lld written, %lld already there, %lld failed",
                (long long)rep.n_done, (long long)rep.n_skipped, (long long)rep.n_failed);
        exitc = rep.n_failed ? CT_EXIT_PARTIAL : 0;
    }
done:
    ct_runner_report_free(&rep);
    ct_runner_destroy(&r);
    if (l)
        cli_suite_free(l);
    if (n)
        cli_suite_free(n);
    free(l);
    free(n);
    free(lv);
    free(nv);
    return exitc;
}

/* ------------------------------------------------------------- the model */

/* What apply and eval need besides the network (group /d3m of the checkpoint),
 * and what the network was trained on (group /provenance: the lattice, box, M_nu
 * and redshift of the pairs, the pairs, the config and its hash, the writer and
 * library version; apply and eval refuse inputs that do not fit). */
typedef struct {
    d3m_phys ph;
    long crop, margin;
    double scale_in, scale_out; /* x = lcdm / scale_in; mnu = growth + scale_out y */
    int has_prov;               /* 0: a model written before /provenance */
    char source[PATH_MAX], config[PATH_MAX], config_hash[17], writer[64], version[32];
    long long train[2], seed_first; /* training pairs [train[0], train[1]), their first seed */
} model_meta;

static ct_status prov_write(hid_t f, const model_meta *mm)
{
    ct_status rc = CT_OK;
    hid_t g = -1;
    CT_CHECK(ct_h5_group(f, "provenance", &g));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "statistics", "d3m-displacement"));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "writer", mm->writer));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "library_version", mm->version));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "source", mm->source));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "config", mm->config));
    CT_CHECK_GOTO(rc, ct_h5_attr_string(g, "config_hash", mm->config_hash));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "N", mm->ph.N));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "box", mm->ph.box));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "M_nu", mm->ph.m_nu));
    CT_CHECK_GOTO(rc, ct_h5_attr_double(g, "redshift", mm->ph.redshift));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "train_first", mm->train[0]));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "train_end", mm->train[1]));
    CT_CHECK_GOTO(rc, ct_h5_attr_int(g, "seed_first", mm->seed_first));
fail:
    H5Gclose(g);
    return rc;
}

static ct_status prov_read(hid_t f, const char *path, model_meta *mm)
{
    ct_status rc = CT_OK;
    hid_t g = H5Gopen2(f, "provenance", H5P_DEFAULT);
    char st[64];
    long long N;
    double box, mnu, z;
    if (g < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: /provenance is not a group", path);
    if (ct_h5_read_attr_string(g, "statistics", st, sizeof st) != CT_OK ||
        strcmp(st, "d3m-displacement"))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance is not a D3M model's", path);
    if (ct_h5_read_attr_string(g, "writer", mm->writer, sizeof mm->writer) != CT_OK ||
        ct_h5_read_attr_string(g, "library_version", mm->version, sizeof mm->version) != CT_OK ||
        ct_h5_read_attr_string(g, "source", mm->source, sizeof mm->source) != CT_OK ||
        ct_h5_read_attr_string(g, "config", mm->config, sizeof mm->config) != CT_OK ||
        ct_h5_read_attr_string(g, "config_hash", mm->config_hash, sizeof mm->config_hash) !=
            CT_OK ||
        ct_h5_read_attr_int(g, "N", &N) != CT_OK ||
        ct_h5_read_attr_double(g, "box", &box) != CT_OK ||
        ct_h5_read_attr_double(g, "M_nu", &mnu) != CT_OK ||
        ct_h5_read_attr_double(g, "redshift", &z) != CT_OK ||
        ct_h5_read_attr_int(g, "train_first", &mm->train[0]) != CT_OK ||
        ct_h5_read_attr_int(g, "train_end", &mm->train[1]) != CT_OK ||
        ct_h5_read_attr_int(g, "seed_first", &mm->seed_first) != CT_OK)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance attributes missing or too long", path);
    if (N != mm->ph.N || box != mm->ph.box || mnu != mm->ph.m_nu || z != mm->ph.redshift)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /provenance (N %lld, box %g, M_nu %g, z %g) "
                     "contradicts /d3m (%lld, %g, %g, %g)", path, N, box, mnu, z,
                     (long long)mm->ph.N, mm->ph.box, mm->ph.m_nu, mm->ph.redshift);
    mm->has_prov = 1;
fail:
    H5Gclose(g);
    return rc;
}

static ct_status model_save(const ct_unet *net, const model_meta *mm, const char *path,
                            MPI_Comm comm)
{
    char part[PATH_MAX + 16];
    snprintf(part, sizeof part, "%s.part.h5", path);
    CT_CHECK(ct_unet_save(net, part));
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_status rc = CT_OK;
    if (rank == 0) {
        hid_t f = H5Fopen(part, H5F_ACC_RDWR, H5P_DEFAULT), g = -1;
        if (f < 0)
            rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot reopen", part);
        if (rc == CT_OK)
            rc = ct_h5_group(f, "d3m", &g);
        if (rc == CT_OK)
            rc = phys_write(g, &mm->ph);
        if (rc == CT_OK)
            rc = ct_h5_attr_double(g, "scale_in", mm->scale_in);
        if (rc == CT_OK)
            rc = ct_h5_attr_double(g, "scale_out", mm->scale_out);
        if (rc == CT_OK)
            rc = ct_h5_attr_int(g, "crop", mm->crop);
        if (rc == CT_OK)
            rc = ct_h5_attr_int(g, "margin", mm->margin);
        if (rc == CT_OK)
            rc = growth_write(g, &mm->ph);
        if (rc == CT_OK)
            rc = prov_write(f, mm);
        if (g >= 0)
            H5Gclose(g);
        if (f >= 0 && H5Fclose(f) < 0 && rc == CT_OK)
            rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: closing failed", part);
        if (rc == CT_OK && rename(part, path) != 0)
            rc = ct_error_set(CT_ERR_IO, __func__, __LINE__, "%s: cannot rename to %s: %s", part,
                              path, strerror(errno));
        if (rc != CT_OK)
            remove(part);
    }
    return ct_agree_msg(comm, rc);
}

static ct_status model_meta_read(const char *path, model_meta *mm)
{
    hid_t f = -1, g = -1;
    ct_status rc = CT_OK;
    long long v[2];
    memset(mm, 0, sizeof *mm);
    CT_CHECK(ct_h5_open_ro(path, &f));
    if (!ct_h5_exists(f, "d3m"))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: not a D3M model (no /d3m group)", path);
    g = H5Gopen2(f, "d3m", H5P_DEFAULT);
    CT_CHECK_GOTO(rc, phys_read(g, path, "/d3m ", &mm->ph));
    if (ct_h5_read_attr_double(g, "scale_in", &mm->scale_in) != CT_OK ||
        ct_h5_read_attr_double(g, "scale_out", &mm->scale_out) != CT_OK ||
        ct_h5_read_attr_int(g, "crop", &v[0]) != CT_OK ||
        ct_h5_read_attr_int(g, "margin", &v[1]) != CT_OK)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /d3m attribute scale_in, scale_out, crop or margin "
                     "missing", path);
    mm->crop = (long)v[0], mm->margin = (long)v[1];
    if (mm->crop < 1 || mm->margin < 0 || !(mm->scale_in > 0) || !(mm->scale_out > 0))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /d3m attributes out of range", path);
    if (ct_h5_exists(f, "provenance"))
        CT_CHECK_GOTO(rc, prov_read(f, path, mm));
fail:
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);
    return rc;
}

/* Does an input (`what`: n particles in a box of `box` Mpc/h at redshift z; M_nu
 * of a pair, or < 0 for a snapshot) fit the model? One line naming both. */
static ct_status model_check(const model_meta *mm, const char *model, const char *what,
                             int64_t n, double box, double z, double m_nu)
{
    const int64_t N = mm->ph.N;
    if (!mm->has_prov)
        ct_warn("%s: no /provenance (written before it was recorded): checked against /d3m",
                model);
    if (fabs(box - mm->ph.box) > 1e-6 * mm->ph.box)
        CT_FAIL(CT_ERR_FORMAT, "%s: box %g Mpc/h, but the model %s was trained on %g Mpc/h", what,
                box, model, mm->ph.box);
    if (n != N * N * N)
        CT_FAIL(CT_ERR_FORMAT, "%s: %lld CDM particles, but the model %s was trained on %lld^3",
                what, (long long)n, model, (long long)N);
    if (fabs(z - mm->ph.redshift) > 1e-3)
        CT_FAIL(CT_ERR_FORMAT, "%s: redshift %g, but the model %s was trained at z = %g", what, z,
                model, mm->ph.redshift);
    if (m_nu >= 0 && fabs(m_nu - mm->ph.m_nu) > 1e-9)
        CT_FAIL(CT_ERR_FORMAT, "%s: M_nu = %g eV, but the model %s was trained on M_nu = %g eV",
                what, m_nu, model, mm->ph.m_nu);
    return CT_OK;
}

/* Periodic sub-cube of side S starting at o (any integers) of a C x N^3 field. */
static void crop_periodic(const float *src, int C, int64_t N, const int64_t o[3], int64_t S,
                          float *dst)
{
    const int64_t cells = N * N * N;
    for (int c = 0; c < C; c++)
        for (int64_t a = 0; a < S; a++) {
            int64_t i = ((o[0] + a) % N + N) % N;
            for (int64_t b = 0; b < S; b++) {
                int64_t j = ((o[1] + b) % N + N) % N;
                const float *row = src + c * cells + (i * N + j) * N;
                float *out = dst + ((c * S + a) * S + b) * S;
                for (int64_t e = 0; e < S; e++)
                    out[e] = row[((o[2] + e) % N + N) % N];
            }
        }
}

/* The network's prediction of the residual (3 x N^3, scaled units) for the scaled
 * input x (3 x N^3): tiles of crop^3 inner cells with `margin` periodic context
 * (the whole box at once when crop >= N). Inference mode; net on this process. */
static ct_status predict(ct_unet *net, const float *x, int64_t N, long crop, long margin,
                         float *y)
{
    ct_status rc = CT_OK;
    const int64_t cells = N * N * N;
    int64_t C = crop >= N ? N : crop, m = crop >= N ? 0 : margin, S = C + 2 * m;
    if (N % C)
        CT_FAIL(CT_ERR_ARG, "the lattice side %lld is not a multiple of the crop %lld",
                (long long)N, (long long)C);
    float *in = NULL, *out = NULL;
    CT_CHECK_GOTO(rc, ct_calloc(&in, (size_t)(3 * S * S * S), sizeof(float), "D3M tile"));
    CT_CHECK_GOTO(rc, ct_calloc(&out, (size_t)(3 * S * S * S), sizeof(float), "D3M tile"));
    ct_tdims xd = {1, 3, {(int)S, (int)S, (int)S}};
    for (int64_t t0 = 0; t0 < N; t0 += C)
        for (int64_t t1 = 0; t1 < N; t1 += C)
            for (int64_t t2 = 0; t2 < N; t2 += C) {
                const int64_t o[3] = {t0 - m, t1 - m, t2 - m};
                crop_periodic(x, 3, N, o, S, in);
                CT_CHECK_GOTO(rc, ct_unet_forward(net, in, xd, 0, out));
                for (int c = 0; c < 3; c++)
                    for (int64_t a = 0; a < C; a++)
                        for (int64_t b = 0; b < C; b++)
                            for (int64_t e = 0; e < C; e++)
                                y[c * cells + ((t0 + a) * N + t1 + b) * N + t2 + e] =
                                    out[((c * S + a + m) * S + b + m) * S + e + m];
            }
fail:
    ct_free(&in);
    ct_free(&out);
    return rc;
}

/* The predicted M_nu displacement of a LCDM displacement (3 x N^3) into out. */
static ct_status model_apply(ct_unet *net, const model_meta *mm, const float *lcdm, float *out)
{
    const int64_t N = mm->ph.N, n3 = 3 * N * N * N;
    float *x = NULL, *y = NULL;
    ct_status rc = CT_OK;
    CT_CHECK_GOTO(rc, ct_calloc(&x, (size_t)n3, sizeof(float), "D3M input"));
    CT_CHECK_GOTO(rc, ct_calloc(&y, (size_t)n3, sizeof(float), "D3M output"));
    for (int64_t i = 0; i < n3; i++)
        x[i] = (float)(lcdm[i] / mm->scale_in);
    CT_CHECK_GOTO(rc, predict(net, x, N, mm->crop, mm->margin, y));
    memcpy(out, lcdm, (size_t)n3 * sizeof(float));
    CT_CHECK_GOTO(rc, ct_d3m_filter(out, 3, N, mm->ph.box, mm->ph.gk, mm->ph.gr, NGROW));
    for (int64_t i = 0; i < n3; i++)
        out[i] += (float)(mm->scale_out * y[i]);
fail:
    ct_free(&x);
    ct_free(&y);
    return rc;
}

/* ------------------------------------------------------------- d3m train */

static const int PERMS[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* The statistics pass, on rank 0 of comm (the result broadcast): every training
 * pair's metadata against the first's, and the rms of the input and of the
 * residual over the growth baseline, summed element by element in the order of
 * the fields while planes of one pair at a time are streamed (pairs are never
 * held whole). Fills mm (physics, scales, crop, margin, provenance). */
static ct_status train_stats(const d3m_cfg *c, model_meta *mm, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_status rc = CT_OK;
    float *buf[3] = {NULL, NULL, NULL};
    hid_t f = -1;
    if (rank == 0) {
        double sum_in = 0, sum_res = 0, cnt = 0;
        int64_t N = 0, B = 0;
        for (long p = c->train[0]; rc == CT_OK && p < c->train[1]; p++) {
            char path[PATH_MAX + 32];
            pair_path(c, p, path, sizeof path);
            pair_meta m;
            CT_CHECK_GOTO(rc, pair_open(path, &m, &f));
            if (p == c->train[0]) {
                N = m.ph.N;
                mm->ph = m.ph;
                mm->seed_first = m.seed;
                if (c->crop < N && N % c->crop)
                    CT_FAIL_GOTO(rc, CT_ERR_CONFIG,
                                 "%s: [train] crop = %ld must divide the lattice side %lld",
                                 c->path, c->crop, (long long)N);
                B = (1 << 20) / (N * N) > 1 ? (1 << 20) / (N * N) : 1; /* planes per read */
                for (int q = 0; q < 3; q++)
                    CT_CHECK_GOTO(rc, ct_calloc(&buf[q], (size_t)(B * N * N), sizeof(float),
                                                "pair planes"));
            } else if (m.ph.N != N || m.ph.box != mm->ph.box || m.ph.m_nu != mm->ph.m_nu ||
                       m.ph.redshift != mm->ph.redshift) {
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT,
                             "%s: N %lld, box %g, M_nu %g, z %g differ from the first training "
                             "pair's (%lld, %g, %g, %g)", path, (long long)m.ph.N, m.ph.box,
                             m.ph.m_nu, m.ph.redshift, (long long)N, mm->ph.box, mm->ph.m_nu,
                             mm->ph.redshift);
            }
            for (int ch = 0; ch < 3; ch++)
                for (int64_t i0 = 0; i0 < N; i0 += B) {
                    const int64_t ni = N - i0 < B ? N - i0 : B;
                    const char *name[3] = {"lcdm", "mnu", "growth"};
                    for (int q = 0; q < 3; q++)
                        CT_CHECK_GOTO(rc, read_planes(f, path, name[q], N, ch, i0, ni, buf[q]));
                    for (int64_t e = 0; e < ni * N * N; e++) {
                        const float r = buf[1][e] - buf[2][e];
                        sum_in += (double)buf[0][e] * buf[0][e];
                        sum_res += (double)r * r;
                    }
                }
            cnt += 3.0 * (double)(N * N * N);
            H5Fclose(f);
            f = -1;
        }
        mm->crop = c->crop >= N ? N : c->crop;
        mm->margin = c->crop >= N ? 0 : c->margin;
        mm->scale_in = sqrt(sum_in / cnt);
        mm->scale_out = sqrt(sum_res / cnt);
        if (rc == CT_OK && !(mm->scale_in > 0 && mm->scale_out > 0))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: the training pairs have a zero input or "
                         "residual (rms %g, %g)", c->pairs, mm->scale_in, mm->scale_out);
        snprintf(mm->source, sizeof mm->source, "%s", c->pairs);
        snprintf(mm->config, sizeof mm->config, "%s", c->path);
        snprintf(mm->config_hash, sizeof mm->config_hash, "%s", c->hash);
        snprintf(mm->writer, sizeof mm->writer, "cosmotl d3m train");
        snprintf(mm->version, sizeof mm->version, "%s", CT_VERSION);
        mm->train[0] = c->train[0], mm->train[1] = c->train[1];
        mm->has_prov = 1;
    }
fail:
    if (f >= 0)
        H5Fclose(f);
    for (int q = 0; q < 3; q++)
        free(buf[q]);
    rc = ct_agree_msg(comm, rc);
    if (rc == CT_OK)
        MPI_Bcast(mm, (int)sizeof *mm, MPI_BYTE, 0, comm);
    return rc;
}

/* The training as one item of the runner, on one group of all the ranks. */
typedef struct {
    const d3m_cfg *c;
    model_meta mm;
    float *raw[2]; /* 3 x S^3 each: sub-cubes as read */
} train_job;

/* Sample of pair p (index into the training range), lattice symmetry sym
 * (ct_d3m_augment's flips and permutation) and corner o (in the transformed
 * lattice): the scaled input x and target t (3 x S^3 each). The transformed
 * field's cube [o, o + S) is the transform of the stored field's cube whose corner
 * along stored axis perm[a] is o[a] (kept) or N - o[a] - S + 1 (reflected), so
 * only that cube is read: the same numbers as transforming the whole field. */
static ct_status train_sample(train_job *j, int64_t p, int sym, const int64_t o[3], float *x,
                              float *t)
{
    const d3m_cfg *c = j->c;
    const int64_t N = j->mm.ph.N, S = j->mm.crop + 2 * j->mm.margin, S3 = S * S * S;
    const int flip[3] = {sym & 1, (sym >> 1) & 1, (sym >> 2) & 1};
    const int *perm = PERMS[sym / 8];
    int64_t st[3];
    for (int a = 0; a < 3; a++)
        st[perm[a]] = flip[a] ? N - o[a] - S + 1 : o[a];
    char path[PATH_MAX + 32];
    pair_path(c, c->train[0] + p, path, sizeof path);
    pair_meta m;
    hid_t f = -1;
    ct_status rc = CT_OK;
    float *mn = t; /* the M_nu cube waits in t until the residual is formed */
    CT_CHECK(pair_open(path, &m, &f));
    if (m.ph.N != N)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: N %lld, the training pairs have %lld", path,
                     (long long)m.ph.N, (long long)N);
    CT_CHECK_GOTO(rc, read_subcube(f, path, "lcdm", N, st, S, j->raw[0]));
    CT_CHECK_GOTO(rc, read_subcube(f, path, "mnu", N, st, S, mn));
    CT_CHECK_GOTO(rc, read_subcube(f, path, "growth", N, st, S, j->raw[1]));
    for (int64_t e = 0; e < 3 * S3; e++) {
        const float r = mn[e] - j->raw[1][e];
        j->raw[0][e] = (float)(j->raw[0][e] / j->mm.scale_in);
        j->raw[1][e] = (float)(r / j->mm.scale_out);
    }
    CT_CHECK_GOTO(rc, ct_d3m_augment_cube(j->raw[0], 3, S, flip, perm, x));
    CT_CHECK_GOTO(rc, ct_d3m_augment_cube(j->raw[1], 3, S, flip, perm, t));
fail:
    H5Fclose(f);
    return rc;
}

static ct_status train_is_done(int64_t item, MPI_Comm g, void *user, int *done)
{
    train_job *j = user;
    (void)item, (void)g;
    long long step = 0;
    hid_t f = -1;
    *done = 0;
    if (ct_file_exists(j->c->checkpoint) && ct_h5_open_ro(j->c->checkpoint, &f) == CT_OK) {
        *done = ct_h5_exists(f, "d3m") && ct_h5_read_attr_int(f, "step", &step) == CT_OK &&
                step >= j->c->steps;
        H5Fclose(f);
    }
    ct_error_clear();
    return CT_OK;
}

static ct_status train_run(int64_t item, MPI_Comm g, void *user, void *result)
{
    train_job *j = user;
    const d3m_cfg *c = j->c;
    model_meta *mm = &j->mm;
    (void)item, (void)result;
    int rank, size;
    MPI_Comm_rank(g, &rank);
    MPI_Comm_size(g, &size);
    ct_unet *net = NULL;
    float *x = NULL, *t = NULL, *y = NULL, *dy = NULL;
    ct_status rc = CT_OK;
    /* the network: resume from the checkpoint when there is one */
    if (ct_file_exists(c->checkpoint)) {
        model_meta old;
        rc = ct_unet_load(&net, c->checkpoint, g);
        if (rc == CT_OK)
            rc = model_meta_read(c->checkpoint, &old);
        const ct_unet_settings *s = net ? ct_unet_get_settings(net) : NULL;
        if (rc == CT_OK && (old.ph.N != mm->ph.N || old.crop != mm->crop ||
                            old.margin != mm->margin || s->base_channels != c->net.base_channels ||
                            s->depth != c->net.depth || s->blocks != c->net.blocks))
            rc = ct_error_set(CT_ERR_CONFIG, __func__, __LINE__,
                              "%s: the checkpoint was trained with other settings than %s "
                              "(remove it to start again)", c->checkpoint, c->path);
        CT_CHECK_GOTO(rc, ct_agree_msg(g, rc));
        ct_info("d3m train: resuming from %s at step %lld", c->checkpoint,
                (long long)ct_unet_step_count(net));
    } else {
        ct_unet_settings ns = c->net;
        ns.in_channels = 3;
        ns.out_channels = 3;
        CT_CHECK_GOTO(rc, ct_unet_create(&net, &ns, g));
    }
    const int64_t N = mm->ph.N, S = mm->crop + 2 * mm->margin, S3 = S * S * S;
    int64_t first, count;
    ct_partition_range(c->batch, size, rank, &first, &count);
    rc = ct_calloc(&x, (size_t)(count * 3 * S3), sizeof(float), "batch");
    if (rc == CT_OK)
        rc = ct_calloc(&t, (size_t)(count * 3 * S3), sizeof(float), "batch");
    if (rc == CT_OK)
        rc = ct_calloc(&y, (size_t)(count * 3 * S3), sizeof(float), "batch");
    if (rc == CT_OK)
        rc = ct_calloc(&dy, (size_t)(count * 3 * S3), sizeof(float), "batch");
    for (int q = 0; q < 2 && rc == CT_OK; q++)
        rc = ct_calloc(&j->raw[q], (size_t)(3 * S3), sizeof(float), "sub-cube");
    CT_CHECK_GOTO(rc, ct_agree_msg(g, rc));
    const int64_t npair = c->train[1] - c->train[0];
    ct_info("d3m train: %lld pairs of %lld^3 (read lazily), %lld parameters, sub-cubes %lld^3 + "
            "margin %ld, batch %ld over %d rank(s), steps %lld -> %ld",
            (long long)npair, (long long)N, (long long)ct_unet_n_params(net), (long long)mm->crop,
            mm->margin, c->batch, size, (long long)ct_unet_step_count(net), c->steps);
    ct_adam_settings as;
    ct_adam_settings_default(&as);
    as.lr = c->lr;
    double loss_acc = 0;
    int nacc = 0;
    const double t0 = ct_wtime();
    while (ct_unet_step_count(net) < c->steps) {
        const int64_t step = ct_unet_step_count(net);
        /* sample b of step: pair, symmetry and offset from (seed, step, b) only */
        for (int64_t b = 0; b < count; b++) {
            ct_rng r;
            ct_rng_init(&r, c->seed, 0xd3d3, (uint64_t)(step * c->batch + first + b) * 16);
            int64_t p = (int64_t)ct_rng_below(&r, (uint64_t)npair);
            int sym = c->augment ? (int)ct_rng_below(&r, 48) : 0;
            int64_t o[3];
            for (int a = 0; a < 3; a++)
                o[a] = (int64_t)ct_rng_below(&r, (uint64_t)N) - mm->margin;
            rc = train_sample(j, p, sym, o, x + b * 3 * S3, t + b * 3 * S3);
            if (rc != CT_OK)
                break;
        }
        CT_CHECK_GOTO(rc, ct_agree_msg(g, rc));
        ct_tdims xd = {(int)count, 3, {(int)S, (int)S, (int)S}};
        CT_CHECK_GOTO(rc, ct_unet_forward(net, x, xd, 1, y));
        /* L1 on the inner crop^3 cells of every sample of the global batch */
        double sums[2] = {0, 0};
        memset(dy, 0, (size_t)(count * 3 * S3) * sizeof(float));
        const int64_t M = mm->margin, C = mm->crop;
        for (int64_t b = 0; b < count; b++)
            for (int ch = 0; ch < 3; ch++)
                for (int64_t a = M; a < M + C; a++)
                    for (int64_t e = M; e < M + C; e++) {
                        int64_t base = (((b * 3 + ch) * S + a) * S + e) * S;
                        for (int64_t f = M; f < M + C; f++)
                            sums[0] += fabs((double)y[base + f] - t[base + f]);
                    }
        sums[1] = (double)c->batch * 3.0 * (double)(C * C * C);
        MPI_Allreduce(MPI_IN_PLACE, sums, 1, MPI_DOUBLE, MPI_SUM, g);
        const float inv = (float)(1.0 / sums[1]);
        for (int64_t b = 0; b < count; b++)
            for (int ch = 0; ch < 3; ch++)
                for (int64_t a = M; a < M + C; a++)
                    for (int64_t e = M; e < M + C; e++) {
                        int64_t base = (((b * 3 + ch) * S + a) * S + e) * S;
                        for (int64_t f = M; f < M + C; f++) {
                            float dd = y[base + f] - t[base + f];
                            dy[base + f] = dd > 0 ? inv : (dd < 0 ? -inv : 0.0f);
                        }
                    }
        CT_CHECK_GOTO(rc, ct_unet_backward(net, dy, NULL));
        CT_CHECK_GOTO(rc, ct_unet_adam_step(net, &as));
        loss_acc += sums[0] / sums[1];
        nacc++;
        const int64_t done_steps = ct_unet_step_count(net);
        const int stop = ct_stop_agree(g);
        if (done_steps % c->ckpt_every == 0 || done_steps == c->steps || stop) {
            ct_info("d3m train: step %lld, L1 (scaled residual) %.5f over the last %d steps, "
                    "%.1f s", (long long)done_steps, loss_acc / nacc, nacc, ct_wtime() - t0);
            loss_acc = 0;
            nacc = 0;
            CT_CHECK_GOTO(rc, model_save(net, mm, c->checkpoint, g));
        }
        if (stop)
            CT_FAIL_GOTO(rc, CT_ERR_STATE, "SIGTERM at step %lld; checkpoint %s written, run "
                         "again to resume", (long long)done_steps, c->checkpoint);
    }
    ct_info("d3m train: done, %lld steps; model %s", (long long)ct_unet_step_count(net),
            c->checkpoint);
fail:
    for (int q = 0; q < 2; q++)
        ct_free(&j->raw[q]);
    free(x);
    free(t);
    free(y);
    free(dy);
    ct_unet_destroy(&net);
    return rc;
}

static int do_train(const char *config, long steps_override, MPI_Comm comm)
{
    const char *cmd = "d3m train";
    d3m_cfg c;
    int size;
    MPI_Comm_size(comm, &size);
    train_job j;
    memset(&j, 0, sizeof j);
    j.c = &c;
    ct_runner *r = NULL;
    ct_runner_report rep;
    memset(&rep, 0, sizeof rep);
    ct_status rc = load_cfg(config, &c, comm);
    if (rc != CT_OK)
        return ct_cli_fail(cmd, comm);
    if (steps_override > 0)
        c.steps = steps_override;
    if (c.batch < size)
        return ct_cli_usage_error(cmd, comm, "[train] batch = %ld is below the %d ranks", c.batch,
                                  size);
    /* SLURM sends SIGTERM, then SIGKILL after KillWait (default 30 s): checkpoint
     * after the current step, or end as killed by SIGTERM after 25 s */
    ct_stop_on_sigterm(25);
    rc = train_stats(&c, &j.mm, comm);
    if (rc == CT_OK) {
        /* one item (the whole training) on one group of every rank: the runner skips
         * it when the checkpoint has reached the steps and records a failure */
        ct_runner_settings rs;
        ct_runner_settings_defaults(&rs);
        rs.group_size = 0;
        ct_runner_job job = {.n_items = 1, .is_done = train_is_done, .run = train_run,
                             .user = &j};
        rc = ct_runner_create(&r, &rs, comm);
        if (rc == CT_OK)
            rc = ct_runner_run(r, &job, &rep);
        if (rc == CT_OK && rep.n_skipped)
            ct_info("d3m train: %s has reached %ld steps already", c.checkpoint, c.steps);
        if (rc == CT_OK && rep.n_failed)
            rc = ct_error_set(rep.first_status, __func__, __LINE__, "%s", rep.first_error);
    }
    ct_runner_report_free(&rep);
    ct_runner_destroy(&r);
    if (rc == CT_OK)
        return 0;
    ct_cli_fail(cmd, comm);
    return ct_stop_agree(comm) ? 128 + SIGTERM : 1;
}

/* ------------------------------------------------------------- d3m apply */

static int do_apply(const char *model, const char *snapdir, const char *out, MPI_Comm comm)
{
    const char *cmd = "d3m apply";
    int rank;
    MPI_Comm_rank(comm, &rank);
    model_meta mm;
    memset(&mm, 0, sizeof mm);
    ct_unet *net = NULL;
    float *d = NULL, *pred = NULL, *pos = NULL;
    ct_status rc = model_meta_read(model, &mm);
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK)
        return ct_cli_fail(cmd, comm);
    const int64_t N = mm.ph.N, cells = N * N * N;
    ct_snapshot *s = NULL;
    ct_snapshot_header hd;
    ct_particles p;
    memset(&p, 0, sizeof p);
    rc = ct_snapshot_open(&s, snapdir, comm);
    if (rc == CT_OK) {
        hd = *ct_snapshot_get_header(s);
        rc = model_check(&mm, model, snapdir, hd.npart_total[1], hd.box, hd.redshift, -1);
    }
    rc = ct_agree_msg(comm, rc);
    if (rc == CT_OK) {
        ct_read_settings rs;
        ct_read_settings_defaults(&rs);
        rs.read_vel = 0;
        rc = ct_snapshot_read(s, 1, &rs, &p);
    }
    if (rc == CT_OK && rank == 0)
        rc = ct_calloc(&d, (size_t)(3 * cells), sizeof(float), "displacement");
    rc = ct_agree_msg(comm, rc);
    if (rc == CT_OK) {
        rc = ct_d3m_displacement(p.pos, p.id, p.n, N, mm.ph.box, 0, comm, d);
        if (rc != CT_OK)
            rc = ct_error_set(rc, __func__, __LINE__, "%s: %s", snapdir, ct_error_message());
        rc = ct_agree_msg(comm, rc);
    }
    ct_particles_free(&p);
    if (rc == CT_OK && rank == 0) {
        rc = ct_unet_load(&net, model, MPI_COMM_SELF);
        if (rc == CT_OK)
            rc = ct_calloc(&pred, (size_t)(3 * cells), sizeof(float), "prediction");
        if (rc == CT_OK)
            rc = model_apply(net, &mm, d, pred);
        if (rc == CT_OK)
            rc = ct_calloc(&pos, (size_t)(3 * cells), sizeof(float), "positions");
        if (rc == CT_OK)
            ct_d3m_positions(pred, N, mm.ph.box, pos);
    }
    rc = ct_agree_msg(comm, rc);
    if (rc == CT_OK) {
        /* the predicted M_nu snapshot: CDM+baryon particles (type 1) with IDs in
         * lattice order, the model's cb particle mass, the input's header */
        ct_particles cb;
        memset(&cb, 0, sizeof cb);
        cb.n = rank == 0 ? cells : 0;
        cb.n_total = cells;
        cb.pos = pos;
        cb.mass_uniform = mm.ph.mass_cb;
        const ct_particles *parts[6] = {NULL, &cb, NULL, NULL, NULL, NULL};
        ct_write_settings ws;
        ct_write_settings_defaults(&ws);
        ws.nfiles = 1;
        const char *b = strrchr(snapdir, '_');
        int sn = -1;
        if (b && sscanf(b + 1, "%d", &sn) == 1 && sn >= 0)
            ws.snapnum = sn;
        hd.omega_m = mm.ph.omega_m;
        hd.omega_l = mm.ph.omega_l;
        rc = ct_mkdir_p(out);
        rc = ct_agree_msg(comm, rc);
        if (rc == CT_OK)
            rc = ct_snapshot_write(out, &hd, parts, &ws, comm);
        if (rc == CT_OK)
            ct_info("d3m apply: predicted M_nu = %g eV snapshot of %s written to %s/snapdir_%03d",
                    mm.ph.m_nu, snapdir, out, ws.snapnum);
    }
    ct_snapshot_close(&s);
    ct_unet_destroy(&net);
    free(d);
    free(pred);
    free(pos);
    return rc == CT_OK ? 0 : ct_cli_fail(cmd, comm);
}

/* -------------------------------------------------------------- d3m eval */

#define NFIELD 5 /* target, network, Zel'dovich, growth, LCDM input */
static const char *const ENAMES[NFIELD] = {"target", "d3m", "zeldovich", "growth", "lcdm"};
#define NPDF 60
#define PDF_LO (-1.0)
#define PDF_HI 1.0 /* log10(1 + delta_R) */
#define NVOID 12

#define NKMAX 1024 /* P(k) bins (N <= 512: at most sqrt(3) 256 + 1 shells of width kF) */
#define NBK 64

/* The measurements of one pair (a runner result), then their sum over the pairs. */
typedef struct {
    int nk, nbk;
    double k[NKMAX], P[NFIELD][NKMAX], X[NFIELD][NKMAX]; /* P: auto, X: cross with the target */
    double pdf[NFIELD][NPDF];
    double bk_theta[NBK], bk[NFIELD][NBK], bq[NFIELD][NBK];
    double voids[NFIELD][NVOID], void_r[NVOID + 1];
    long nvoids[NFIELD];
} eval_acc;

static ct_status density_mesh(ct_mesh *m, const float *d, int64_t N, double box, float *pos)
{
    ct_d3m_positions(d, N, box, pos);
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ct_pk_particles set = {N * N * N, pos, NULL, 1.0};
    double sw, sw2;
    int64_t np;
    return ct_pk_field(m, NULL, &ps, 1, &set, &sw, &sw2, &np);
}

/* One pair's measurements into acc (zeroed by the caller). */
static ct_status eval_pair(const pair_meta *pm, float *f[NFIELD], eval_acc *acc)
{
    const int64_t N = pm->ph.N, cells = N * N * N;
    const double box = pm->ph.box;
    ct_status rc = CT_OK;
    ct_mesh *m[NFIELD] = {NULL}, *w = NULL;
    float *pos = NULL;
    double *rho = NULL;
    ct_bk_result *bk = NULL;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = box;
    CT_CHECK_GOTO(rc, ct_calloc(&pos, (size_t)(3 * cells), sizeof(float), "positions"));
    CT_CHECK_GOTO(rc, ct_calloc(&rho, (size_t)cells, sizeof(double), "density"));
    CT_CHECK_GOTO(rc, ct_mesh_create(&w, &ms, MPI_COMM_SELF));
    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    const double kf = 2 * M_PI / box;
    for (int q = 0; q < NFIELD; q++) {
        CT_CHECK_GOTO(rc, ct_mesh_create(&m[q], &ms, MPI_COMM_SELF));
        CT_CHECK_GOTO(rc, density_mesh(m[q], f[q], N, box, pos));
    }
    for (int q = 0; q < NFIELD; q++) {
        ct_pk_result pa, px;
        memset(&pa, 0, sizeof pa);
        memset(&px, 0, sizeof px);
        CT_CHECK_GOTO(rc, ct_pk_bin(m[q], NULL, &ps, &pa));
        rc = ct_pk_bin(m[q], m[0], &ps, &px);
        if (rc == CT_OK && pa.nbins > NKMAX)
            rc = ct_error_set(CT_ERR_RANGE, __func__, __LINE__, "%d P(k) bins (at most %d)",
                              pa.nbins, NKMAX);
        if (rc == CT_OK && q == 0) {
            acc->nk = pa.nbins;
            memcpy(acc->k, pa.k, (size_t)pa.nbins * sizeof(double));
        }
        for (int b = 0; rc == CT_OK && b < acc->nk && b < pa.nbins; b++) {
            acc->P[q][b] += pa.P0[b];
            acc->X[q][b] += px.P0[b];
        }
        ct_pk_result_free(&pa);
        ct_pk_result_free(&px);
        CT_CHECK_GOTO(rc, rc);
    }
    /* bispectrum at k1 = 0.15, k2 = 0.25 h/Mpc vs the angle between them */
    {
        ct_bk_settings bs;
        ct_bk_settings_defaults(&bs);
        bs.dk = 1.0;
        const int j1 = (int)lround(0.25 / kf), j2 = (int)lround(0.15 / kf);
        bs.kmax = j1 + j2 + 1;
        if (bs.kmax > N / 2 - 1 || j2 < 2)
            CT_FAIL_GOTO(rc, CT_ERR_CONFIG,
                         "the bispectrum at k1 = 0.15, k2 = 0.25 h/Mpc needs shells up to %g kF: "
                         "box %g Mpc/h with %lld^3 particles is too small or too coarse",
                         bs.kmax, box, (long long)N);
        for (int q = 0; q < NFIELD; q++) {
            CT_CHECK_GOTO(rc, ct_bk_measure(m[q], &bs, 0.0, &bk));
            int nb = 0;
            for (int t = 0; t < bk->ntri && nb < NBK; t++) {
                int a = bk->tri[3 * t], b = bk->tri[3 * t + 1], e = bk->tri[3 * t + 2], k3;
                if (a == j1 && b == j2)
                    k3 = e;
                else if (a == j1 && e == j2)
                    k3 = b;
                else if (b == j1 && e == j2)
                    k3 = a;
                else
                    continue;
                if (a == j1 && b == j2 && e == j2 && j1 != j2 && k3 != e)
                    continue;
                if (q == 0) {
                    double ct = ((double)k3 * k3 - (double)j1 * j1 - (double)j2 * j2) /
                                (2.0 * j1 * j2);
                    acc->bk_theta[nb] = acos(fmax(-1.0, fmin(1.0, ct)));
                }
                acc->bk[q][nb] += bk->B0[t];
                acc->bq[q][nb] += bk->Q[t];
                nb++;
            }
            if (q == 0)
                acc->nbk = nb;
            ct_bk_result_destroy(&bk);
        }
    }
    /* smoothed PDF and voids from the real-space density */
    for (int q = 0; q < NFIELD; q++) {
        CT_CHECK_GOTO(rc, ct_mesh_copy(w, m[q]));
        /* m holds the compensated delta(k): smooth with a top hat of 10 Mpc/h */
        ct_complex *cx = ct_mesh_complex(w);
        ptrdiff_t y0, ny;
        ct_mesh_klocal(w, &y0, &ny);
        ct_kiter it;
        for (ct_kiter_begin(&it, w, 0, ny); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            double W = ct_tophat_window(10.0 * kf * sqrt((double)it.mode.n2));
            cx[it.mode.idx][0] *= W;
            cx[it.mode.idx][1] *= W;
        }
        CT_CHECK_GOTO(rc, ct_mesh_c2r(w));
        const ct_real *re = ct_mesh_real(w);
        const ptrdiff_t row = ct_mesh_row(w);
        for (int64_t i = 0; i < N * N; i++)
            for (int64_t l = 0; l < N; l++) {
                double v = 1.0 + re[i * row + l];
                int b = v > 0 ? (int)floor((log10(v) - PDF_LO) / (PDF_HI - PDF_LO) * NPDF) : -1;
                if (b >= 0 && b < NPDF)
                    acc->pdf[q][b] += 1.0 / (double)cells;
            }
        /* voids: density of the uncompensated CIC field (positions painted again) */
        ct_d3m_positions(f[q], N, box, pos);
        ct_paint_settings pts;
        ct_paint_settings_defaults(&pts);
        CT_CHECK_GOTO(rc, ct_mesh_paint(w, &pts, cells, pos, NULL, 1.0));
        re = ct_mesh_real(w);
        for (int64_t i = 0; i < N * N; i++)
            for (int64_t l = 0; l < N; l++)
                rho[i * N + l] = re[i * row + l];
        ct_void_settings vs;
        ct_void_settings_default(&vs, N, box);
        ct_void *v = NULL;
        int64_t nv = 0;
        CT_CHECK_GOTO(rc, ct_void_find(rho, N, box, &vs, &v, &nv));
        if (q == 0)
            for (int b = 0; b <= NVOID; b++)
                acc->void_r[b] = vs.r_min * pow(vs.r_max / vs.r_min, (double)b / NVOID);
        for (int64_t i = 0; i < nv; i++) {
            int b = (int)floor(log(v[i].r / vs.r_min) / log(vs.r_max / vs.r_min) * NVOID);
            if (b >= NVOID)
                b = NVOID - 1;
            if (b >= 0)
                acc->voids[q][b] += 1.0;
        }
        acc->nvoids[q] += (long)nv;
        free(v);
    }
fail:
    for (int q = 0; q < NFIELD; q++)
        ct_mesh_destroy(&m[q]);
    ct_mesh_destroy(&w);
    ct_bk_result_destroy(&bk);
    free(pos);
    free(rho);
    return rc;
}

static ct_status write_text(const char *path, const char *text)
{
    ct_atomic_file a;
    CT_CHECK(ct_atomic_fopen(&a, path));
    fputs(text, a.f);
    return ct_atomic_fclose(&a);
}

/* Every held-out pair is one item of the runner (groups of one rank: the fields of
 * a pair are gathered on one process anyway); the per-pair measurements come back
 * as results and are summed in pair order, so the numbers do not depend on the
 * number of ranks. */
typedef struct {
    const d3m_cfg *c;
    const char *model;
    const model_meta *mm;
    ct_unet *net; /* this rank's copy, loaded for its first pair */
} eval_job;

static ct_status eval_run(int64_t item, MPI_Comm g, void *user, void *result)
{
    eval_job *j = user;
    const int64_t N = j->mm->ph.N, cells = N * N * N;
    const long i = j->c->test[0] + (long)item;
    float *f[NFIELD] = {NULL};
    char path[PATH_MAX + 32];
    pair_meta pm;
    ct_status rc = CT_OK;
    (void)g;
    pair_path(j->c, i, path, sizeof path);
    CT_CHECK(pair_read(path, &pm, NULL));
    CT_CHECK(model_check(j->mm, j->model, path, pm.ph.N * pm.ph.N * pm.ph.N, pm.ph.box,
                         pm.ph.redshift, pm.ph.m_nu));
    if (!j->net)
        CT_CHECK(ct_unet_load(&j->net, j->model, MPI_COMM_SELF));
    for (int q = 0; q < NFIELD; q++)
        CT_CHECK_GOTO(rc, ct_calloc(&f[q], (size_t)(3 * cells), sizeof(float), "eval field"));
    float *rd[4] = {f[4], f[0], f[2], f[3]}; /* lcdm, mnu, zeldovich, growth */
    CT_CHECK_GOTO(rc, pair_read(path, &pm, rd));
    CT_CHECK_GOTO(rc, model_apply(j->net, j->mm, f[4], f[1]));
    CT_CHECK_GOTO(rc, eval_pair(&pm, f, result));
    ct_log_rank_msg(CT_LOG_INFO, "d3m eval: pair %ld done", i);
fail:
    for (int q = 0; q < NFIELD; q++)
        free(f[q]);
    return rc;
}

static int do_eval(const char *config, const char *model, const char *outdir, MPI_Comm comm)
{
    const char *cmd = "d3m eval";
    d3m_cfg c;
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_status rc = load_cfg(config, &c, comm);
    if (rc != CT_OK)
        return ct_cli_fail(cmd, comm);
    if (!model)
        model = c.checkpoint;
    if (!outdir)
        outdir = c.eval_out;
    eval_acc *accp = NULL;
    model_meta mm;
    sbuf sb = {0};
    ct_runner *r = NULL;
    ct_runner_report rep;
    memset(&rep, 0, sizeof rep);
    const int npairs = (int)(c.test[1] - c.test[0]);
    eval_job j = {&c, model, &mm, NULL};
    rc = model_meta_read(model, &mm);
    if (rc == CT_OK)
        rc = ct_calloc(&accp, 1, sizeof *accp, "evaluation sums");
    rc = ct_agree_msg(comm, rc);
    if (rc == CT_OK) {
        ct_runner_settings rs;
        ct_runner_settings_defaults(&rs);
        rs.group_size = 1;
        ct_runner_job job = {.n_items = npairs, .run = eval_run, .result_size = sizeof(eval_acc),
                             .user = &j};
        rc = ct_runner_create(&r, &rs, comm);
        if (rc == CT_OK)
            rc = ct_runner_run(r, &job, &rep);
        if (rc == CT_OK && rep.n_failed)
            rc = ct_error_set(rep.first_status, __func__, __LINE__, "%s", rep.first_error);
    }
    ct_unet_destroy(&j.net);
    if (rc == CT_OK && rank == 0) {
        /* the sums over the pairs, in pair order (whatever rank measured them) */
        eval_acc *acc = accp;
        const eval_acc *res = rep.results;
        memset(acc, 0, sizeof *acc);
        acc->nk = res[0].nk, acc->nbk = res[0].nbk;
        memcpy(acc->k, res[0].k, sizeof acc->k);
        memcpy(acc->bk_theta, res[0].bk_theta, sizeof acc->bk_theta);
        memcpy(acc->void_r, res[0].void_r, sizeof acc->void_r);
        for (int e = 0; e < npairs; e++)
            for (int q = 0; q < NFIELD; q++) {
                const eval_acc *p = &res[e];
                for (int b = 0; b < acc->nk; b++) {
                    acc->P[q][b] += p->P[q][b];
                    acc->X[q][b] += p->X[q][b];
                }
                for (int b = 0; b < NPDF; b++)
                    acc->pdf[q][b] += p->pdf[q][b];
                for (int b = 0; b < acc->nbk; b++) {
                    acc->bk[q][b] += p->bk[q][b];
                    acc->bq[q][b] += p->bq[q][b];
                }
                for (int b = 0; b < NVOID; b++)
                    acc->voids[q][b] += p->voids[q][b];
                acc->nvoids[q] += p->nvoids[q];
            }
        const int64_t N = mm.ph.N;
        if (rc == CT_OK)
            rc = ct_mkdir_p(outdir);
        if (rc == CT_OK) {
            const double kmin = c.eval_kmin;
            const double kmax = c.eval_kmax > 0 ? c.eval_kmax : 0.5 * M_PI * (double)N / mm.ph.box;
            char path[PATH_MAX + 32];
            /* T(k), r(k) */
            sb.n = 0;
            sb_printf(&sb, "# D3M evaluation on %d held-out pairs (%ld:%ld), M_nu = %g eV, z = %g, "
                           "%lld^3 in %g Mpc/h; spectra averaged over the pairs\n"
                           "# k [h/Mpc] P_target T_d3m T_zeldovich T_growth T_lcdm r_d3m "
                           "r_zeldovich r_growth r_lcdm  (T = sqrt(P/P_target), r = "
                           "P_x/sqrt(P P_target))\n",
                   npairs, c.test[0], c.test[1], mm.ph.m_nu, mm.ph.redshift, (long long)N, mm.ph.box);
            double sT[NFIELD] = {0}, sR[NFIELD] = {0}, mT[NFIELD] = {0}, mR[NFIELD] = {0};
            int nb = 0;
            for (int b = 0; b < acc->nk; b++) {
                if (!(acc->P[0][b] > 0))
                    continue;
                sb_printf(&sb, "%.6g %.6g", acc->k[b], acc->P[0][b] / npairs);
                for (int q = 1; q < NFIELD; q++)
                    sb_printf(&sb, " %.6f", sqrt(acc->P[q][b] / acc->P[0][b]));
                for (int q = 1; q < NFIELD; q++)
                    sb_printf(&sb, " %.9f", acc->X[q][b] / sqrt(acc->P[q][b] * acc->P[0][b]));
                sb_printf(&sb, "\n");
                if (acc->k[b] >= kmin && acc->k[b] <= kmax) {
                    for (int q = 1; q < NFIELD; q++) {
                        double dT = fabs(sqrt(acc->P[q][b] / acc->P[0][b]) - 1);
                        double dr = 1 - acc->X[q][b] / sqrt(acc->P[q][b] * acc->P[0][b]);
                        sT[q] += dT, sR[q] += dr;
                        mT[q] = fmax(mT[q], dT), mR[q] = fmax(mR[q], dr);
                    }
                    nb++;
                }
            }
            snprintf(path, sizeof path, "%s/tk.txt", outdir);
            rc = write_text(path, sb.s ? sb.s : "");
            /* PDF */
            sb.n = 0;
            sb_printf(&sb, "# 1-point PDF of log10(1 + delta_R), delta smoothed with a top hat "
                           "of R = 10 Mpc/h (CIC on the %lld^3 lattice, compensated); fraction "
                           "of cells per bin, averaged over %d pairs\n# log10(1+delta)",
                   (long long)N, npairs);
            for (int q = 0; q < NFIELD; q++)
                sb_printf(&sb, " %s", ENAMES[q]);
            sb_printf(&sb, "\n");
            for (int b = 0; b < NPDF; b++) {
                sb_printf(&sb, "%.4f", PDF_LO + (b + 0.5) * (PDF_HI - PDF_LO) / NPDF);
                for (int q = 0; q < NFIELD; q++)
                    sb_printf(&sb, " %.6g", acc->pdf[q][b] / npairs);
                sb_printf(&sb, "\n");
            }
            snprintf(path, sizeof path, "%s/pdf.txt", outdir);
            if (rc == CT_OK)
                rc = write_text(path, sb.s);
            /* bispectrum */
            sb.n = 0;
            sb_printf(&sb, "# bispectrum B(k1, k2, theta) at k1 = %.4f, k2 = %.4f h/Mpc "
                           "(shells of width kF), averaged over %d pairs; no shot noise "
                           "subtracted\n# theta/pi B_target B_d3m/B_target B_zeldovich/B_target "
                           "B_growth/B_target B_lcdm/B_target Q_target\n",
                   lround(0.25 / (2 * M_PI / mm.ph.box)) * 2 * M_PI / mm.ph.box,
                   lround(0.15 / (2 * M_PI / mm.ph.box)) * 2 * M_PI / mm.ph.box, npairs);
            double bkres[NFIELD] = {0};
            for (int t = 0; t < acc->nbk; t++) {
                sb_printf(&sb, "%.4f %.6g", acc->bk_theta[t] / M_PI, acc->bk[0][t] / npairs);
                for (int q = 1; q < NFIELD; q++) {
                    sb_printf(&sb, " %.5f", acc->bk[q][t] / acc->bk[0][t]);
                    bkres[q] += fabs(acc->bk[q][t] / acc->bk[0][t] - 1) / acc->nbk;
                }
                sb_printf(&sb, " %.5f\n", acc->bq[0][t] / npairs);
            }
            snprintf(path, sizeof path, "%s/bk.txt", outdir);
            if (rc == CT_OK)
                rc = write_text(path, sb.s);
            /* voids */
            sb.n = 0;
            sb_printf(&sb, "# void size function: spherical-underdensity voids (mean density "
                           "< 0.2 of the mean; CIC on the %lld^3 lattice), dn/dlnR in "
                           "(h/Mpc)^3, averaged over %d pairs\n# R_lo R_hi",
                   (long long)N, npairs);
            for (int q = 0; q < NFIELD; q++)
                sb_printf(&sb, " %s", ENAMES[q]);
            sb_printf(&sb, "\n");
            const double vol = mm.ph.box * mm.ph.box * mm.ph.box * npairs;
            for (int b = 0; b < NVOID; b++) {
                sb_printf(&sb, "%.3f %.3f", acc->void_r[b], acc->void_r[b + 1]);
                for (int q = 0; q < NFIELD; q++)
                    sb_printf(&sb, " %.6g",
                              acc->voids[q][b] / vol / log(acc->void_r[b + 1] / acc->void_r[b]));
                sb_printf(&sb, "\n");
            }
            snprintf(path, sizeof path, "%s/voids.txt", outdir);
            if (rc == CT_OK)
                rc = write_text(path, sb.s);
            /* summary and verdict */
            sb.n = 0;
            sb_printf(&sb, "D3M evaluation: model %s, %d held-out pairs %ld:%ld, M_nu = %g eV\n"
                           "k range %.3f - %.3f h/Mpc (%d bins; kmax = half the particle "
                           "Nyquist frequency unless [eval] kmax)\n\n"
                           "%-10s %12s %12s %12s %12s %12s %8s\n",
                   model, npairs, c.test[0], c.test[1], mm.ph.m_nu, kmin, kmax, nb, "field",
                   "mean|T-1|", "max|T-1|", "mean(1-r)", "max(1-r)", "mean|B/Bt-1|", "voids");
            for (int q = 1; q < NFIELD; q++)
                sb_printf(&sb, "%-10s %12.3e %12.3e %12.3e %12.3e %12.3e %8ld\n", ENAMES[q],
                          nb ? sT[q] / nb : 0, mT[q], nb ? sR[q] / nb : 0, mR[q], bkres[q],
                          acc->nvoids[q]);
            sb_printf(&sb, "%-10s %12s %12s %12s %12s %12s %8ld\n", "target", "", "", "", "", "",
                      acc->nvoids[0]);
            int beatT = nb > 0 && sT[1] < sT[2] && sT[1] < sT[3];
            int beatR = nb > 0 && sR[1] < sR[2] && sR[1] < sR[3];
            sb_printf(&sb, "\nverdict: T(k) %s, r(k) %s both baselines (mean over the k range)\n",
                      beatT ? "beats" : "does NOT beat", beatR ? "beats" : "does NOT beat");
            snprintf(path, sizeof path, "%s/summary.txt", outdir);
            if (rc == CT_OK)
                rc = write_text(path, sb.s);
            if (rc == CT_OK)
                printf("%s", sb.s);
        }
    }
    rc = ct_agree_msg(comm, rc);
    ct_runner_report_free(&rep);
    ct_runner_destroy(&r);
    free(accp);
    free(sb.s);
    return rc == CT_OK ? 0 : ct_cli_fail(cmd, comm);
}

/* ------------------------------------------------------------------ main */

int cmd_d3m(int argc, char **argv, MPI_Comm comm)
{
    const char *cmd = "d3m";
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (argc < 2 || ct_cli_is_help(argv[1])) {
        if (rank == 0)
            usage();
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *out = NULL, *model = NULL, *pos[2] = {NULL, NULL};
    long steps = 0;
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        if (ct_cli_is_help(argv[i])) {
            if (rank == 0)
                usage();
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
            if (ct_cli_parse_long(argv[++i], 1, 100000000, &steps))
                return ct_cli_usage_error(cmd, comm, "--steps needs a positive count (got '%s')",
                                          argv[i]);
        } else if (argv[i][0] == '-') {
            return ct_cli_usage_error(cmd, comm, "unknown or incomplete option '%s'", argv[i]);
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return ct_cli_usage_error(cmd, comm, "too many arguments ('%s')", argv[i]);
        }
    }
    if (!strcmp(verb, "pairs") || !strcmp(verb, "train") || !strcmp(verb, "eval")) {
        if (npos != 1)
            return ct_cli_usage_error(cmd, comm, "d3m %s needs exactly one CONFIG", verb);
        if (!strcmp(verb, "pairs"))
            return do_pairs(pos[0], comm);
        if (!strcmp(verb, "train"))
            return do_train(pos[0], steps, comm);
        return do_eval(pos[0], model, out, comm);
    }
    if (!strcmp(verb, "apply")) {
        if (npos != 2 || !out)
            return ct_cli_usage_error(cmd, comm, "d3m apply needs MODEL SNAPDIR --out DIR");
        return do_apply(pos[0], pos[1], out, comm);
    }
    return ct_cli_usage_error(cmd, comm, "unknown d3m command '%s' (pairs, train, apply, eval)",
                              verb);
}

ct_status cli_d3m_read_config(ct_config *cfg)
{
    d3m_cfg *c = NULL;
    CT_CHECK(ct_calloc(&c, 1, sizeof *c, "d3m settings"));
    ct_status rc = read_cfg(cfg, c);
    free(c);
    return rc;
}
