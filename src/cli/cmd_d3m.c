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
        "          SIGTERM it writes the checkpoint and exits with code 3.\n"
        "  apply   predict the M_nu snapshot of a LCDM snapshot (CDM particles, type 1)\n"
        "          and write it in the Quijote layout to DIR/snapdir_XXX (velocities zero).\n"
        "  eval    held-out [data] test pairs: T(k), r(k), 1-point PDF of delta smoothed\n"
        "          with a 10 Mpc/h top hat, bispectrum at k1 = 0.15, k2 = 0.25 h/Mpc vs\n"
        "          angle, void size function, for the network and both baselines; text\n"
        "          tables and a verdict in DIR (default [eval] out); plots with\n"
        "          tools/plot-d3m DIR.\n\n"
        "Exit codes: 0 done, 1 error, 2 usage, 3 some pairs failed (pairs) or the\n"
        "training was interrupted (train; run again to resume).\n");
}

/* ------------------------------------------------------------------ config */

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
    return CT_OK;
}

static ct_status load_cfg(const char *path, d3m_cfg *c, MPI_Comm comm)
{
    ct_config *cfg = NULL;
    ct_status rc = ct_config_load(&cfg, path, comm);
    if (rc == CT_OK)
        rc = read_cfg(cfg, c);
    ct_config_destroy(&cfg);
    return ct_agree_msg(comm, rc);
}

/* ------------------------------------------------------------ pair files */

/* What one pair file holds besides the fields. */
typedef struct {
    int64_t N;
    double box, redshift, time, m_nu, mass_cb, omega_m, omega_l, hubble;
    long long seed, index;
    int snapnum;
    double gk[NGROW], gr[NGROW]; /* growth ratio table */
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

static ct_status h5_read_floats(hid_t f, const char *path, const char *name, float *v, int64_t C,
                                int64_t N)
{
    if (!ct_h5_exists(f, name))
        CT_FAIL(CT_ERR_FORMAT, "%s: no dataset %s", path, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t dims[4] = {0, 0, 0, 0};
    int rk = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (rk == 4)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    herr_t e = -1;
    if (rk == 4 && dims[0] == (hsize_t)C && dims[1] == (hsize_t)N && dims[2] == (hsize_t)N &&
        dims[3] == (hsize_t)N)
        e = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    if (e < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: dataset %s is not a readable %lld x %lld^3 float field",
                path, name, (long long)C, (long long)N);
    return CT_OK;
}

static ct_status meta_write(hid_t f, const pair_meta *m)
{
    CT_CHECK(ct_h5_attr_string(f, "format", "cosmotl-d3m-pair"));
    CT_CHECK(ct_h5_attr_int(f, "N", m->N));
    CT_CHECK(ct_h5_attr_double(f, "box", m->box));
    CT_CHECK(ct_h5_attr_double(f, "redshift", m->redshift));
    CT_CHECK(ct_h5_attr_double(f, "time", m->time));
    CT_CHECK(ct_h5_attr_double(f, "M_nu", m->m_nu));
    CT_CHECK(ct_h5_attr_double(f, "mass_cb", m->mass_cb));
    CT_CHECK(ct_h5_attr_double(f, "omega_m", m->omega_m));
    CT_CHECK(ct_h5_attr_double(f, "omega_l", m->omega_l));
    CT_CHECK(ct_h5_attr_double(f, "hubble", m->hubble));
    CT_CHECK(ct_h5_attr_int(f, "seed", m->seed));
    CT_CHECK(ct_h5_attr_int(f, "index", m->index));
    CT_CHECK(ct_h5_attr_int(f, "snapnum", m->snapnum));
    CT_CHECK(ct_h5_attr_doubles(f, "growth_k", m->gk, NGROW));
    CT_CHECK(ct_h5_attr_doubles(f, "growth_ratio", m->gr, NGROW));
    return CT_OK;
}

static ct_status read_attr_doubles(hid_t f, const char *path, const char *name, double *v, int n)
{
    hid_t a = H5Aexists(f, name) > 0 ? H5Aopen(f, name, H5P_DEFAULT) : -1;
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

static ct_status meta_read(hid_t f, const char *path, pair_meta *m)
{
    long long v;
    const char *dn[] = {"box", "redshift", "time", "M_nu", "mass_cb", "omega_m", "omega_l",
                        "hubble"};
    double *dv[] = {&m->box, &m->redshift, &m->time, &m->m_nu, &m->mass_cb, &m->omega_m,
                    &m->omega_l, &m->hubble};
    for (int i = 0; i < 8; i++)
        if (ct_h5_read_attr_double(f, dn[i], dv[i]) != CT_OK)
            CT_FAIL(CT_ERR_FORMAT, "%s: attribute %s missing", path, dn[i]);
    if (ct_h5_read_attr_int(f, "N", &v) != CT_OK || v < 2 || v > 512)
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute N missing or out of range", path);
    m->N = v;
    if (ct_h5_read_attr_int(f, "seed", &m->seed) != CT_OK ||
        ct_h5_read_attr_int(f, "index", &m->index) != CT_OK ||
        ct_h5_read_attr_int(f, "snapnum", &v) != CT_OK)
        CT_FAIL(CT_ERR_FORMAT, "%s: attribute seed, index or snapnum missing", path);
    m->snapnum = (int)v;
    CT_CHECK(read_attr_doubles(f, path, "growth_k", m->gk, NGROW));
    CT_CHECK(read_attr_doubles(f, path, "growth_ratio", m->gr, NGROW));
    return CT_OK;
}

static void pair_path(const d3m_cfg *c, long i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/pair_%ld.h5", c->pairs, i);
}

/* Read the pair file of simulation i: fields (4 x 3 x N^3, any may be NULL
 * entries) and metadata. */
static ct_status pair_read(const char *path, pair_meta *m, float *fields[4])
{
    hid_t f = -1;
    char fmt[64];
    ct_status rc = CT_OK;
    CT_CHECK(ct_h5_open_ro(path, &f));
    if (ct_h5_read_attr_string(f, "format", fmt, sizeof fmt) != CT_OK ||
        strcmp(fmt, "cosmotl-d3m-pair"))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: not a D3M pair file", path);
    CT_CHECK_GOTO(rc, meta_read(f, path, m));
    for (int q = 0; q < 4; q++)
        if (fields && fields[q])
            CT_CHECK_GOTO(rc, h5_read_floats(f, path, FIELDS[q], fields[q], 3, m->N));
fail:
    H5Fclose(f);
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

static ct_status make_cosmo(const cli_suite_cfg *sc, const double *row, ct_cosmo **c)
{
    ct_cosmo_params cp = sc->s.cosmo;
    cp.omega_m = row[CT_P_OMEGA_M];
    cp.omega_b = row[CT_P_OMEGA_B];
    cp.h = row[CT_P_H];
    cp.n_s = row[CT_P_N_S];
    cp.sigma8 = row[CT_P_SIGMA_8];
    cp.m_nu = row[CT_P_M_NU];
    cp.w = row[CT_P_W];
    cp.f_r0 = row[CT_P_F_R0];
    return ct_cosmo_create(c, &cp);
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
    CT_CHECK_GOTO(rc, make_cosmo(j->l, j->lv + i * CT_P_COUNT, &cl));
    CT_CHECK_GOTO(rc, make_cosmo(j->n, j->nv + i * CT_P_COUNT, &cn));
    /* Zel'dovich displacement of the M_nu cosmology at the output time */
    {
        ct_sim_settings ss = ns->sim;
        ss.seed = ns->seed + (uint64_t)i;
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
        m.gk[r] = 0.5 * kf * pow(kmax / (0.5 * kf), (double)r / (NGROW - 1));
        m.gr[r] = sqrt(ct_cosmo_pk(cn, m.gk[r], a, CT_SPECIES_CB) /
                       ct_cosmo_pk(cl, m.gk[r], a, CT_SPECIES_CB));
    }
    int rank;
    MPI_Comm_rank(g, &rank);
    if (rank == 0) {
        memcpy(f[3], f[0], (size_t)(3 * cells) * sizeof(float));
        rc = ct_d3m_filter(f[3], 3, N, box, m.gk, m.gr, NGROW);
        m.N = N;
        m.box = box;
        m.redshift = h1.redshift;
        m.time = h1.time;
        m.m_nu = j->nv[i * CT_P_COUNT + CT_P_M_NU];
        m.mass_cb = h1.mass_table[1];
        m.omega_m = h1.omega_m;
        m.omega_l = h1.omega_l;
        m.hubble = h1.hubble;
        m.seed = (long long)(ls->seed + (uint64_t)i);
        m.index = i;
        m.snapnum = sn;
        char path[PATH_MAX + 32], tmp[PATH_MAX + 64];
        pair_path(c, (long)i, path, sizeof path);
        hid_t fh = -1;
        if (rc == CT_OK)
            rc = ct_atomic_begin(path, tmp, sizeof tmp);
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
        else if (fh >= 0)
            ct_atomic_abort(tmp);
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

static ct_status read_suite_cfg(const char *path, cli_suite_cfg *sc, MPI_Comm comm)
{
    ct_config *cfg = NULL;
    ct_status rc = ct_config_load(&cfg, path, comm);
    if (rc == CT_OK)
        rc = cli_suite_read(cfg, sc);
    ct_config_destroy(&cfg);
    return ct_agree_msg(comm, rc);
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
        rc = read_suite_cfg(c.lcdm_cfg, l, comm);
    if (rc == CT_OK)
        rc = read_suite_cfg(c.mnu_cfg, n, comm);
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
        long failed = 0, made = 0, skipped = 0;
        for (int64_t i = 0; i < rep.n_items; i++) {
            failed += rep.state[i] == CT_RUN_FAILED;
            made += rep.state[i] == CT_RUN_DONE;
            skipped += rep.state[i] == CT_RUN_SKIPPED;
        }
        ct_info("d3m pairs: %ld written, %ld already there, %ld failed", made, skipped, failed);
        exitc = failed ? CT_EXIT_PARTIAL : 0;
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

/* What apply and eval need besides the network: written as group /d3m of the
 * checkpoint. */
typedef struct {
    int64_t N;
    double box, redshift, time, m_nu, mass_cb, omega_m, omega_l, hubble;
    long crop, margin;
    double scale_in, scale_out; /* x = lcdm / scale_in; mnu = growth + scale_out y */
    double gk[NGROW], gr[NGROW];
} model_meta;

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
        if (rc == CT_OK) {
            const char *dn[] = {"box", "redshift", "time", "M_nu", "mass_cb", "omega_m",
                                "omega_l", "hubble", "scale_in", "scale_out"};
            const double dv[] = {mm->box, mm->redshift, mm->time, mm->m_nu, mm->mass_cb,
                                 mm->omega_m, mm->omega_l, mm->hubble, mm->scale_in,
                                 mm->scale_out};
            for (int i = 0; i < 10 && rc == CT_OK; i++)
                rc = ct_h5_attr_double(g, dn[i], dv[i]);
            if (rc == CT_OK)
                rc = ct_h5_attr_int(g, "N", mm->N);
            if (rc == CT_OK)
                rc = ct_h5_attr_int(g, "crop", mm->crop);
            if (rc == CT_OK)
                rc = ct_h5_attr_int(g, "margin", mm->margin);
            if (rc == CT_OK)
                rc = ct_h5_attr_doubles(g, "growth_k", mm->gk, NGROW);
            if (rc == CT_OK)
                rc = ct_h5_attr_doubles(g, "growth_ratio", mm->gr, NGROW);
        }
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
    CT_CHECK(ct_h5_open_ro(path, &f));
    if (!ct_h5_exists(f, "d3m"))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: not a D3M model (no /d3m group)", path);
    g = H5Gopen2(f, "d3m", H5P_DEFAULT);
    {
        const char *dn[] = {"box", "redshift", "time", "M_nu", "mass_cb", "omega_m",
                            "omega_l", "hubble", "scale_in", "scale_out"};
        double *dv[] = {&mm->box, &mm->redshift, &mm->time, &mm->m_nu, &mm->mass_cb,
                        &mm->omega_m, &mm->omega_l, &mm->hubble, &mm->scale_in,
                        &mm->scale_out};
        for (int i = 0; i < 10; i++)
            if (ct_h5_read_attr_double(g, dn[i], dv[i]) != CT_OK)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /d3m attribute %s missing", path, dn[i]);
        long long v[3];
        const char *in[] = {"N", "crop", "margin"};
        for (int i = 0; i < 3; i++)
            if (ct_h5_read_attr_int(g, in[i], &v[i]) != CT_OK)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /d3m attribute %s missing", path, in[i]);
        mm->N = v[0], mm->crop = (long)v[1], mm->margin = (long)v[2];
        if (mm->N < 2 || mm->N > 512 || mm->crop < 1 || mm->margin < 0 || !(mm->box > 0) ||
            !(mm->scale_in > 0) || !(mm->scale_out > 0))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: /d3m attributes out of range", path);
        CT_CHECK_GOTO(rc, read_attr_doubles(g, path, "growth_k", mm->gk, NGROW));
        CT_CHECK_GOTO(rc, read_attr_doubles(g, path, "growth_ratio", mm->gr, NGROW));
    }
fail:
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);
    return rc;
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
    const int64_t N = mm->N, n3 = 3 * N * N * N;
    float *x = NULL, *y = NULL;
    ct_status rc = CT_OK;
    CT_CHECK_GOTO(rc, ct_calloc(&x, (size_t)n3, sizeof(float), "D3M input"));
    CT_CHECK_GOTO(rc, ct_calloc(&y, (size_t)n3, sizeof(float), "D3M output"));
    for (int64_t i = 0; i < n3; i++)
        x[i] = (float)(lcdm[i] / mm->scale_in);
    CT_CHECK_GOTO(rc, predict(net, x, N, mm->crop, mm->margin, y));
    memcpy(out, lcdm, (size_t)n3 * sizeof(float));
    CT_CHECK_GOTO(rc, ct_d3m_filter(out, 3, N, mm->box, mm->gk, mm->gr, NGROW));
    for (int64_t i = 0; i < n3; i++)
        out[i] += (float)(mm->scale_out * y[i]);
fail:
    ct_free(&x);
    ct_free(&y);
    return rc;
}

/* ------------------------------------------------------------- d3m train */

static volatile sig_atomic_t g_term = 0;
static void on_term(int sig)
{
    (void)sig;
    g_term = 1;
}

static int do_train(const char *config, long steps_override, MPI_Comm comm)
{
    const char *cmd = "d3m train";
    d3m_cfg c;
    int rank, size, exitc = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    ct_unet *net = NULL;
    float **lc = NULL, **res = NULL, *full = NULL, *aug = NULL, *x = NULL, *t = NULL, *y = NULL,
          *dy = NULL;
    int64_t npair = 0;
    model_meta mm;
    memset(&mm, 0, sizeof mm);
    ct_status rc = load_cfg(config, &c, comm);
    if (rc != CT_OK)
        return ct_cli_fail(cmd, comm);
    if (steps_override > 0)
        c.steps = steps_override;
    if (c.batch < size) {
        exitc = ct_cli_usage_error(cmd, comm, "[train] batch = %ld is below the %d ranks",
                                   c.batch, size);
        return exitc;
    }
    /* training pairs: every rank holds all of them (input and scaled residual) */
    npair = c.train[1] - c.train[0];
    int64_t N = 0, cells = 0;
    double sum_in = 0, sum_res = 0, cnt = 0;
    rc = ct_calloc(&lc, (size_t)npair, sizeof(float *), "pairs");
    if (rc == CT_OK)
        rc = ct_calloc(&res, (size_t)npair, sizeof(float *), "pairs");
    for (int64_t p = 0; rc == CT_OK && p < npair; p++) {
        char path[PATH_MAX + 32];
        pair_path(&c, c.train[0] + p, path, sizeof path);
        pair_meta m;
        float *fl[4] = {NULL, NULL, NULL, NULL};
        rc = pair_read(path, &m, fl); /* metadata first */
        if (rc != CT_OK)
            break;
        if (p == 0) {
            N = m.N;
            cells = N * N * N;
            mm.N = N, mm.box = m.box, mm.redshift = m.redshift, mm.time = m.time;
            mm.m_nu = m.m_nu, mm.mass_cb = m.mass_cb, mm.omega_m = m.omega_m;
            mm.omega_l = m.omega_l, mm.hubble = m.hubble;
            memcpy(mm.gk, m.gk, sizeof mm.gk);
            memcpy(mm.gr, m.gr, sizeof mm.gr);
            if (c.crop < N && N % c.crop)
                rc = ct_error_set(CT_ERR_CONFIG, __func__, __LINE__,
                                  "%s: [train] crop = %ld must divide the lattice side %lld",
                                  config, c.crop, (long long)N);
        } else if (m.N != N || m.box != mm.box || m.m_nu != mm.m_nu ||
                   m.redshift != mm.redshift) {
            rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                              "%s: N %lld, box %g, M_nu %g, z %g differ from the first training "
                              "pair's (%lld, %g, %g, %g)", path, (long long)m.N, m.box, m.m_nu,
                              m.redshift, (long long)N, mm.box, mm.m_nu, mm.redshift);
        }
        float *mn = NULL, *gr = NULL;
        if (rc == CT_OK)
            rc = ct_calloc(&lc[p], (size_t)(3 * cells), sizeof(float), "pair");
        if (rc == CT_OK)
            rc = ct_calloc(&res[p], (size_t)(3 * cells), sizeof(float), "pair");
        if (rc == CT_OK)
            rc = ct_calloc(&mn, (size_t)(3 * cells), sizeof(float), "pair");
        if (rc == CT_OK)
            rc = ct_calloc(&gr, (size_t)(3 * cells), sizeof(float), "pair");
        fl[0] = lc[p], fl[1] = mn, fl[3] = gr;
        if (rc == CT_OK)
            rc = pair_read(path, &m, fl);
        for (int64_t i = 0; rc == CT_OK && i < 3 * cells; i++) {
            res[p][i] = mn[i] - gr[i];
            sum_in += (double)lc[p][i] * lc[p][i];
            sum_res += (double)res[p][i] * res[p][i];
        }
        cnt += 3.0 * (double)cells;
        free(mn);
        free(gr);
    }
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK) {
        exitc = ct_cli_fail(cmd, comm);
        goto done;
    }
    mm.crop = c.crop >= N ? N : c.crop;
    mm.margin = c.crop >= N ? 0 : c.margin;
    mm.scale_in = sqrt(sum_in / cnt);
    mm.scale_out = sqrt(sum_res / cnt);
    for (int64_t p = 0; p < npair; p++)
        for (int64_t i = 0; i < 3 * cells; i++) {
            lc[p][i] = (float)(lc[p][i] / mm.scale_in);
            res[p][i] = (float)(res[p][i] / mm.scale_out);
        }
    /* the network: resume from the checkpoint when there is one */
    if (ct_file_exists(c.checkpoint)) {
        model_meta old;
        rc = ct_unet_load(&net, c.checkpoint, comm);
        if (rc == CT_OK)
            rc = model_meta_read(c.checkpoint, &old);
        const ct_unet_settings *s = net ? ct_unet_get_settings(net) : NULL;
        if (rc == CT_OK && (old.N != N || old.crop != mm.crop || old.margin != mm.margin ||
                            s->base_channels != c.net.base_channels ||
                            s->depth != c.net.depth || s->blocks != c.net.blocks))
            rc = ct_error_set(CT_ERR_CONFIG, __func__, __LINE__,
                              "%s: the checkpoint was trained with other settings than %s "
                              "(remove it to start again)", c.checkpoint, config);
        rc = ct_agree_msg(comm, rc);
        if (rc == CT_OK)
            ct_info("d3m train: resuming from %s at step %lld", c.checkpoint,
                    (long long)ct_unet_step_count(net));
    } else {
        c.net.in_channels = 3;
        c.net.out_channels = 3;
        rc = ct_unet_create(&net, &c.net, comm);
    }
    if (rc != CT_OK) {
        exitc = ct_cli_fail(cmd, comm);
        goto done;
    }
    const int64_t S = mm.crop + 2 * mm.margin, S3 = S * S * S;
    int64_t first, count;
    ct_partition_range(c.batch, size, rank, &first, &count);
    rc = ct_calloc(&full, (size_t)(3 * cells), sizeof(float), "augmented field");
    if (rc == CT_OK)
        rc = ct_calloc(&aug, (size_t)(3 * cells), sizeof(float), "augmented field");
    if (rc == CT_OK)
        rc = ct_calloc(&x, (size_t)(count * 3 * S3), sizeof(float), "batch");
    if (rc == CT_OK)
        rc = ct_calloc(&t, (size_t)(count * 3 * S3), sizeof(float), "batch");
    if (rc == CT_OK)
        rc = ct_calloc(&y, (size_t)(count * 3 * S3), sizeof(float), "batch");
    if (rc == CT_OK)
        rc = ct_calloc(&dy, (size_t)(count * 3 * S3), sizeof(float), "batch");
    rc = ct_agree_msg(comm, rc);
    if (rc != CT_OK) {
        exitc = ct_cli_fail(cmd, comm);
        goto done;
    }
    ct_info("d3m train: %lld pairs of %lld^3, %lld parameters, sub-cubes %lld^3 + margin %ld, "
            "batch %ld over %d rank(s), steps %lld -> %ld",
            (long long)npair, (long long)N, (long long)ct_unet_n_params(net), (long long)mm.crop,
            mm.margin, c.batch, size, (long long)ct_unet_step_count(net), c.steps);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_sa);
    ct_adam_settings as;
    ct_adam_settings_default(&as);
    as.lr = c.lr;
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                    {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    double loss_acc = 0;
    int nacc = 0, interrupted = 0;
    const double t0 = ct_wtime();
    while (ct_unet_step_count(net) < c.steps) {
        const int64_t step = ct_unet_step_count(net);
        /* sample b of step: pair, symmetry and offset from (seed, step, b) only */
        for (int64_t b = 0; b < count; b++) {
            ct_rng r;
            ct_rng_init(&r, c.seed, 0xd3d3, (uint64_t)(step * c.batch + first + b) * 16);
            int64_t p = (int64_t)ct_rng_below(&r, (uint64_t)npair);
            int sym = c.augment ? (int)ct_rng_below(&r, 48) : 0;
            int64_t o[3];
            for (int a = 0; a < 3; a++)
                o[a] = (int64_t)ct_rng_below(&r, (uint64_t)N) - mm.margin;
            const int flip[3] = {sym & 1, (sym >> 1) & 1, (sym >> 2) & 1};
            const int *perm = perms[sym / 8];
            const float *src[2] = {lc[p], res[p]};
            float *dst[2] = {x + b * 3 * S3, t + b * 3 * S3};
            for (int q = 0; q < 2; q++) {
                const float *f = src[q];
                if (sym) {
                    CT_CHECK_GOTO(rc, ct_d3m_augment(src[q], 3, N, flip, perm, aug));
                    f = aug;
                }
                crop_periodic(f, 3, N, o, S, dst[q]);
            }
        }
        ct_tdims xd = {(int)count, 3, {(int)S, (int)S, (int)S}};
        CT_CHECK_GOTO(rc, ct_unet_forward(net, x, xd, 1, y));
        /* L1 on the inner crop^3 cells of every sample of the global batch */
        double sums[2] = {0, 0};
        memset(dy, 0, (size_t)(count * 3 * S3) * sizeof(float));
        const int64_t M = mm.margin, C = mm.crop;
        for (int64_t b = 0; b < count; b++)
            for (int ch = 0; ch < 3; ch++)
                for (int64_t a = M; a < M + C; a++)
                    for (int64_t e = M; e < M + C; e++) {
                        int64_t base = (((b * 3 + ch) * S + a) * S + e) * S;
                        for (int64_t f = M; f < M + C; f++)
                            sums[0] += fabs((double)y[base + f] - t[base + f]);
                    }
        sums[1] = (double)c.batch * 3.0 * (double)(C * C * C);
        MPI_Allreduce(MPI_IN_PLACE, sums, 1, MPI_DOUBLE, MPI_SUM, comm);
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
        int stop = g_term;
        MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, comm);
        if (done_steps % c.ckpt_every == 0 || done_steps == c.steps || stop) {
            ct_info("d3m train: step %lld, L1 (scaled residual) %.5f over the last %d steps, "
                    "%.1f s", (long long)done_steps, loss_acc / nacc, nacc, ct_wtime() - t0);
            loss_acc = 0;
            nacc = 0;
            CT_CHECK_GOTO(rc, model_save(net, &mm, c.checkpoint, comm));
        }
        if (stop) {
            interrupted = 1;
            break;
        }
    }
    sigaction(SIGTERM, &old_sa, NULL);
    if (interrupted) {
        ct_info("d3m train: interrupted at step %lld; checkpoint %s written, run again to resume",
                (long long)ct_unet_step_count(net), c.checkpoint);
        exitc = CT_EXIT_PARTIAL;
    } else {
        if (rank == 0 && !ct_file_exists(c.checkpoint))
            rc = CT_OK;
        ct_info("d3m train: done, %lld steps; model %s", (long long)ct_unet_step_count(net),
                c.checkpoint);
        exitc = 0;
    }
fail:
    if (rc != CT_OK) {
        rc = ct_agree_msg(comm, rc);
        exitc = ct_cli_fail(cmd, comm);
    }
done:
    for (int64_t p = 0; p < npair; p++) {
        if (lc)
            free(lc[p]);
        if (res)
            free(res[p]);
    }
    free(lc);
    free(res);
    free(full);
    free(aug);
    free(x);
    free(t);
    free(y);
    free(dy);
    ct_unet_destroy(&net);
    return exitc;
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
    const int64_t N = mm.N, cells = N * N * N;
    ct_snapshot *s = NULL;
    ct_snapshot_header hd;
    ct_particles p;
    memset(&p, 0, sizeof p);
    rc = ct_snapshot_open(&s, snapdir, comm);
    if (rc == CT_OK) {
        hd = *ct_snapshot_get_header(s);
        if (fabs(hd.box - mm.box) > 1e-6 * mm.box)
            rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                              "%s: box %g Mpc/h, but the model %s was trained on %g Mpc/h",
                              snapdir, hd.box, model, mm.box);
        else if (hd.npart_total[1] != cells)
            rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                              "%s: %lld CDM particles, but the model %s was trained on %lld^3",
                              snapdir, (long long)hd.npart_total[1], model, (long long)N);
        else if (fabs(hd.redshift - mm.redshift) > 1e-3)
            rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                              "%s: redshift %g, but the model %s was trained at z = %g", snapdir,
                              hd.redshift, model, mm.redshift);
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
        rc = ct_d3m_displacement(p.pos, p.id, p.n, N, mm.box, 0, comm, d);
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
            ct_d3m_positions(pred, N, mm.box, pos);
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
        cb.mass_uniform = mm.mass_cb;
        const ct_particles *parts[6] = {NULL, &cb, NULL, NULL, NULL, NULL};
        ct_write_settings ws;
        ct_write_settings_defaults(&ws);
        ws.nfiles = 1;
        const char *b = strrchr(snapdir, '_');
        int sn = -1;
        if (b && sscanf(b + 1, "%d", &sn) == 1 && sn >= 0)
            ws.snapnum = sn;
        hd.omega_m = mm.omega_m;
        hd.omega_l = mm.omega_l;
        rc = ct_mkdir_p(out);
        rc = ct_agree_msg(comm, rc);
        if (rc == CT_OK)
            rc = ct_snapshot_write(out, &hd, parts, &ws, comm);
        if (rc == CT_OK)
            ct_info("d3m apply: predicted M_nu = %g eV snapshot of %s written to %s/snapdir_%03d",
                    mm.m_nu, snapdir, out, ws.snapnum);
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

typedef struct {
    int nk;
    double *k, *P[NFIELD], *X[NFIELD]; /* P: auto, X: cross with the target */
    double pdf[NFIELD][NPDF];
    int nbk;
    double bk_theta[64], bk[NFIELD][64], bq[NFIELD][64];
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

static ct_status eval_pair(const d3m_cfg *c, const pair_meta *pm, float *f[NFIELD],
                           eval_acc *acc, int first)
{
    const int64_t N = pm->N, cells = N * N * N;
    const double box = pm->box;
    ct_status rc = CT_OK;
    ct_mesh *m[NFIELD] = {NULL}, *w = NULL;
    float *pos = NULL;
    double *rho = NULL;
    ct_bk_result *bk = NULL;
    ct_mesh_settings ms;
    ct_mesh_settings_defaults(&ms);
    ms.n = N;
    ms.box = box;
    (void)c;
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
        if (rc == CT_OK && first && q == 0) {
            acc->nk = pa.nbins;
            rc = ct_calloc(&acc->k, (size_t)pa.nbins, sizeof(double), "k");
            for (int e = 0; e < NFIELD && rc == CT_OK; e++) {
                rc = ct_calloc(&acc->P[e], (size_t)pa.nbins, sizeof(double), "P");
                if (rc == CT_OK)
                    rc = ct_calloc(&acc->X[e], (size_t)pa.nbins, sizeof(double), "X");
            }
            if (rc == CT_OK)
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
            for (int t = 0; t < bk->ntri && nb < 64; t++) {
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
                if (first && q == 0) {
                    double ct = ((double)k3 * k3 - (double)j1 * j1 - (double)j2 * j2) /
                                (2.0 * j1 * j2);
                    acc->bk_theta[nb] = acos(fmax(-1.0, fmin(1.0, ct)));
                }
                acc->bk[q][nb] += bk->B0[t];
                acc->bq[q][nb] += bk->Q[t];
                nb++;
            }
            if (first && q == 0)
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
        if (first && q == 0)
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
    char tmp[PATH_MAX + 64];
    CT_CHECK(ct_atomic_begin(path, tmp, sizeof tmp));
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        ct_atomic_abort(tmp);
        CT_FAIL(CT_ERR_IO, "%s: cannot write", path);
    }
    return ct_atomic_commit(tmp, path);
}

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
    /* serial: the fields of a pair are gathered on one process anyway */
    eval_acc acc;
    memset(&acc, 0, sizeof acc);
    ct_unet *net = NULL;
    model_meta mm;
    float *f[NFIELD] = {NULL};
    sbuf sb = {0};
    int npairs = 0;
    if (rank == 0) {
        rc = model_meta_read(model, &mm);
        if (rc == CT_OK)
            rc = ct_unet_load(&net, model, MPI_COMM_SELF);
        const int64_t N = mm.N, cells = N * N * N;
        for (int q = 0; q < NFIELD && rc == CT_OK; q++)
            rc = ct_calloc(&f[q], (size_t)(3 * cells), sizeof(float), "eval field");
        for (long i = c.test[0]; rc == CT_OK && i < c.test[1]; i++) {
            char path[PATH_MAX + 32];
            pair_path(&c, i, path, sizeof path);
            pair_meta pm;
            float *rd[4] = {f[4], f[0], f[2], f[3]}; /* lcdm, mnu, zeldovich, growth */
            rc = pair_read(path, &pm, NULL);
            if (rc == CT_OK && (pm.N != N || fabs(pm.box - mm.box) > 1e-6 * mm.box ||
                                fabs(pm.m_nu - mm.m_nu) > 1e-9 ||
                                fabs(pm.redshift - mm.redshift) > 1e-6))
                rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                                  "%s: N %lld, box %g, M_nu %g, z %g, but the model %s has %lld, "
                                  "%g, %g, %g", path, (long long)pm.N, pm.box, pm.m_nu,
                                  pm.redshift, model, (long long)N, mm.box, mm.m_nu,
                                  mm.redshift);
            if (rc == CT_OK)
                rc = pair_read(path, &pm, rd);
            if (rc == CT_OK)
                rc = model_apply(net, &mm, f[4], f[1]);
            if (rc == CT_OK)
                rc = eval_pair(&c, &pm, f, &acc, npairs == 0);
            if (rc == CT_OK)
                ct_log_rank_msg(CT_LOG_INFO, "d3m eval: pair %ld done", i);
            npairs++;
        }
        if (rc == CT_OK)
            rc = ct_mkdir_p(outdir);
        if (rc == CT_OK) {
            const double kmin = c.eval_kmin;
            const double kmax = c.eval_kmax > 0 ? c.eval_kmax : 0.5 * M_PI * (double)N / mm.box;
            char path[PATH_MAX + 32];
            /* T(k), r(k) */
            sb.n = 0;
            sb_printf(&sb, "# D3M evaluation on %d held-out pairs (%ld:%ld), M_nu = %g eV, z = %g, "
                           "%lld^3 in %g Mpc/h; spectra averaged over the pairs\n"
                           "# k [h/Mpc] P_target T_d3m T_zeldovich T_growth T_lcdm r_d3m "
                           "r_zeldovich r_growth r_lcdm  (T = sqrt(P/P_target), r = "
                           "P_x/sqrt(P P_target))\n",
                   npairs, c.test[0], c.test[1], mm.m_nu, mm.redshift, (long long)N, mm.box);
            double sT[NFIELD] = {0}, sR[NFIELD] = {0}, mT[NFIELD] = {0}, mR[NFIELD] = {0};
            int nb = 0;
            for (int b = 0; b < acc.nk; b++) {
                if (!(acc.P[0][b] > 0))
                    continue;
                sb_printf(&sb, "%.6g %.6g", acc.k[b], acc.P[0][b] / npairs);
                for (int q = 1; q < NFIELD; q++)
                    sb_printf(&sb, " %.6f", sqrt(acc.P[q][b] / acc.P[0][b]));
                for (int q = 1; q < NFIELD; q++)
                    sb_printf(&sb, " %.9f", acc.X[q][b] / sqrt(acc.P[q][b] * acc.P[0][b]));
                sb_printf(&sb, "\n");
                if (acc.k[b] >= kmin && acc.k[b] <= kmax) {
                    for (int q = 1; q < NFIELD; q++) {
                        double dT = fabs(sqrt(acc.P[q][b] / acc.P[0][b]) - 1);
                        double dr = 1 - acc.X[q][b] / sqrt(acc.P[q][b] * acc.P[0][b]);
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
                    sb_printf(&sb, " %.6g", acc.pdf[q][b] / npairs);
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
                   lround(0.25 / (2 * M_PI / mm.box)) * 2 * M_PI / mm.box,
                   lround(0.15 / (2 * M_PI / mm.box)) * 2 * M_PI / mm.box, npairs);
            double bkres[NFIELD] = {0};
            for (int t = 0; t < acc.nbk; t++) {
                sb_printf(&sb, "%.4f %.6g", acc.bk_theta[t] / M_PI, acc.bk[0][t] / npairs);
                for (int q = 1; q < NFIELD; q++) {
                    sb_printf(&sb, " %.5f", acc.bk[q][t] / acc.bk[0][t]);
                    bkres[q] += fabs(acc.bk[q][t] / acc.bk[0][t] - 1) / acc.nbk;
                }
                sb_printf(&sb, " %.5f\n", acc.bq[0][t] / npairs);
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
            const double vol = mm.box * mm.box * mm.box * npairs;
            for (int b = 0; b < NVOID; b++) {
                sb_printf(&sb, "%.3f %.3f", acc.void_r[b], acc.void_r[b + 1]);
                for (int q = 0; q < NFIELD; q++)
                    sb_printf(&sb, " %.6g",
                              acc.voids[q][b] / vol / log(acc.void_r[b + 1] / acc.void_r[b]));
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
                   model, npairs, c.test[0], c.test[1], mm.m_nu, kmin, kmax, nb, "field",
                   "mean|T-1|", "max|T-1|", "mean(1-r)", "max(1-r)", "mean|B/Bt-1|", "voids");
            for (int q = 1; q < NFIELD; q++)
                sb_printf(&sb, "%-10s %12.3e %12.3e %12.3e %12.3e %12.3e %8ld\n", ENAMES[q],
                          nb ? sT[q] / nb : 0, mT[q], nb ? sR[q] / nb : 0, mR[q], bkres[q],
                          acc.nvoids[q]);
            sb_printf(&sb, "%-10s %12s %12s %12s %12s %12s %8ld\n", "target", "", "", "", "", "",
                      acc.nvoids[0]);
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
    for (int q = 0; q < NFIELD; q++) {
        free(f[q]);
        free(acc.P[q]);
        free(acc.X[q]);
    }
    free(acc.k);
    free(sb.s);
    ct_unet_destroy(&net);
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
