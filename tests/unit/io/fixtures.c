/* Snapshot fixtures for the I/O tests (see fixtures.h). */
#include "fixtures.h"

#include "cosmotl/core.h"

#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fx_defaults(fx_spec *s)
{
    memset(s, 0, sizeof *s);
    s->nfiles = 2;
    s->n[1] = 50;
    s->n[2] = 20;
    s->box_kpc = 1.0e6;
    s->time = 0.5;
    s->redshift = 1.0;
    s->om = 0.3175;
    s->ol = 0.6825;
    s->h = 0.6711;
    s->mass_table[1] = 65.6;
    s->mass_table[2] = 0; /* per-particle Masses */
    s->skip_file = -1;
    s->bad_omega_file = -1;
    s->nan_at = s->out_at = s->eqbox_at = s->near_at = s->vel_nan_at = -1;
}

void fx_particle(int t, int64_t g, double box_kpc, float pos_kpc[3], float u[3], uint64_t *id,
                 float *mass)
{
    for (int a = 0; a < 3; a++) {
        /* generic floats spread over the box, not on any grid */
        double x = fmod((double)g * 7919.123457 + a * 100003.7 + t * 3331.1, box_kpc);
        pos_kpc[a] = (float)x;
        if (pos_kpc[a] >= (float)box_kpc)
            pos_kpc[a] = 0;
        u[a] = (float)(((g * 31 + a * 17) % 200) - 100) * 1.37f;
    }
    *id = (uint64_t)(t * 1000000 + g + 1);
    *mass = 0.5f + (float)(g % 7) * 0.25f;
}

static void attr(hid_t g, const char *name, hid_t ft, hid_t mt, int n, const void *v)
{
    hsize_t d = (hsize_t)n;
    hid_t sp = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(g, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, mt, v);
    H5Aclose(a);
    H5Sclose(sp);
}

static int dataset(hid_t g, const char *name, hid_t ft, hid_t mt, int rank, hsize_t n,
                   hsize_t cols, const void *v, int filter)
{
    hsize_t dims[2] = {n, cols};
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (filter && n > 0) {
        /* filter 2: chunks of 7 rows, no filter */
        hsize_t ch[2] = {filter == 2 && n > 7 ? 7 : n, cols};
        H5Pset_chunk(dcpl, rank, ch);
        /* Blosc's registered id; optional so creation works without the plugin */
        if (filter == 1)
            H5Pset_filter(dcpl, 32001, H5Z_FLAG_OPTIONAL, 0, NULL);
    }
    hid_t d = H5Dcreate2(g, name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
    if (d >= 0)
        H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return rc;
}

static void split(int64_t n, int parts, int i, int64_t *first, int64_t *count)
{
    *first = n * i / parts;
    *count = n * (i + 1) / parts - *first;
}

int fx_write_hdf5(const char *base, const fx_spec *s)
{
    char path[1024];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    for (int f = 0; f < s->nfiles; f++) {
        if (f == s->skip_file)
            continue;
        if (s->single && s->nfiles == 1)
            snprintf(path, sizeof path, "%s.hdf5", base);
        else
            snprintf(path, sizeof path, "%s.%d.hdf5", base, f);
        hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (file < 0)
            return 1;
        int32_t thisfile[6];
        uint32_t total[6], high[6];
        int64_t first[6], count[6];
        for (int t = 0; t < 6; t++) {
            split(s->n[t], s->nfiles, f, &first[t], &count[t]);
            thisfile[t] = (int32_t)count[t];
            total[t] = (uint32_t)s->n[t];
            high[t] = 0;
        }
        total[1] += (uint32_t)s->total_delta;
        high[1] += s->highword1;
        if (!s->no_header) {
            hid_t g = H5Gcreate2(file, "Header", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            const hid_t F8 = H5T_IEEE_F64LE, D = H5T_NATIVE_DOUBLE, I4 = H5T_STD_I32LE,
                        U4 = H5T_STD_U32LE, I = H5T_NATIVE_INT32, U = H5T_NATIVE_UINT32;
            double om = f == s->bad_omega_file ? s->om + 0.01 : s->om;
            int32_t nf = s->nfiles, zero = 0;
            double boxv = s->mpc_units ? s->box_kpc / 1000 : s->box_kpc;
            attr(g, "BoxSize", F8, D, 1, &boxv);
            attr(g, "Time", F8, D, 1, &s->time);
            attr(g, "Redshift", F8, D, 1, &s->redshift);
            attr(g, "Omega0", F8, D, 1, &om);
            attr(g, "OmegaLambda", F8, D, 1, &s->ol);
            attr(g, "HubbleParam", F8, D, 1, &s->h);
            attr(g, "MassTable", F8, D, 6, s->mass_table);
            attr(g, "NumPart_ThisFile", I4, I, 6, thisfile);
            attr(g, "NumPart_Total", U4, U, 6, total);
            attr(g, "NumPart_Total_HighWord", U4, U, 6, high);
            attr(g, "NumFilesPerSnapshot", I4, I, 1, &nf);
            const char *flags[] = {"Flag_Sfr", "Flag_Cooling", "Flag_Feedback", "Flag_Metals",
                                   "Flag_StellarAge", "Flag_DoublePrecision"};
            for (int i = 0; i < 6; i++)
                attr(g, flags[i], I4, I, 1, &zero);
            H5Gclose(g);
            if (s->mpc_units) {
                double ul = 3.085678e24;
                g = H5Gcreate2(file, "Parameters", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                attr(g, "UnitLength_in_cm", F8, D, 1, &ul);
                H5Gclose(g);
            }
        }
        for (int t = 0; t < 6; t++) {
            if (count[t] == 0)
                continue;
            char gn[16];
            snprintf(gn, sizeof gn, "PartType%d", t);
            hid_t g = H5Gcreate2(file, gn, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            size_t n = (size_t)count[t];
            float *pos = calloc(3 * n, sizeof *pos), *vel = calloc(3 * n, sizeof *vel);
            float *mass = calloc(n, sizeof *mass);
            uint64_t *id = calloc(n, sizeof *id);
            int32_t *ipos = calloc(3 * n, sizeof *ipos);
            for (size_t i = 0; i < n; i++) {
                int64_t gi = first[t] + (int64_t)i;
                fx_particle(t, gi, s->box_kpc, pos + 3 * i, vel + 3 * i, id + i, mass + i);
                if (t == 1 && gi == s->nan_at)
                    pos[3 * i + 1] = NAN;
                if (t == 1 && gi == s->out_at)
                    pos[3 * i + 2] = (float)(1.5 * s->box_kpc);
                if (t == 1 && gi == s->eqbox_at)
                    pos[3 * i] = (float)s->box_kpc;
                if (t == 1 && gi == s->vel_nan_at)
                    vel[3 * i + 2] = NAN;
                if (t == 1 && gi == s->near_at) {
                    pos[3 * i + 1] = (float)(-2e-4 * s->box_kpc);
                    pos[3 * i + 2] = (float)((1 + 5e-4) * s->box_kpc);
                }
                for (int a = 0; a < 3; a++) {
                    if (s->mpc_units)
                        pos[3 * i + a] = (float)(pos[3 * i + a] / 1000.0);
                    ipos[3 * i + a] = (int32_t)pos[3 * i + a];
                }
            }
            hsize_t rows = n - (size_t)(s->rows_short && f == 0 && t == 1);
            int e = 0;
            const hid_t F4 = s->big_endian ? H5T_IEEE_F32BE : H5T_IEEE_F32LE;
            const hid_t U4 = s->big_endian ? H5T_STD_U32BE : H5T_STD_U32LE;
            const hid_t U8 = s->big_endian ? H5T_STD_U64BE : H5T_STD_U64LE;
            const int flt = s->filter ? 1 : s->chunked ? 2 : 0;
            if (s->coord_int)
                e |= dataset(g, "Coordinates", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, rows, 3, ipos,
                             0);
            else if (s->coord_shape)
                e |= dataset(g, "Coordinates", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, rows, 2, pos,
                             0);
            else
                e |= dataset(g, "Coordinates", F4, H5T_NATIVE_FLOAT, 2, rows, 3, pos, flt);
            e |= dataset(g, "Velocities", F4, H5T_NATIVE_FLOAT, 2, n, 3, vel, flt);
            e |= dataset(g, "ParticleIDs", s->id8 ? U8 : U4, H5T_NATIVE_UINT64, 1, n, 1, id, flt);
            if (s->mass_table[t] == 0)
                e |= dataset(g, "Masses", F4, H5T_NATIVE_FLOAT, 1, n, 1, mass, s->chunked ? 2 : 0);
            free(pos);
            free(vel);
            free(mass);
            free(id);
            free(ipos);
            H5Gclose(g);
            if (e) {
                H5Fclose(file);
                return 1;
            }
        }
        H5Fclose(file);
    }
    return 0;
}

/* ------------------------------------------------------------ Gadget binary */

typedef struct {
    FILE *fp;
    int swap;
} bw;

static uint32_t sw32(uint32_t v, int s) { return s ? __builtin_bswap32(v) : v; }
static uint64_t sw64(uint64_t v, int s) { return s ? __builtin_bswap64(v) : v; }

static void put_marker(bw *w, uint32_t n)
{
    uint32_t v = sw32(n, w->swap);
    fwrite(&v, 4, 1, w->fp);
}

static void block(bw *w, int format, const char *label, const void *data, uint32_t len)
{
    if (format == 2) {
        put_marker(w, 8);
        fwrite(label, 1, 4, w->fp);
        uint32_t next = sw32(len + 8, w->swap);
        fwrite(&next, 4, 1, w->fp);
        put_marker(w, 8);
    }
    put_marker(w, len);
    fwrite(data, 1, len, w->fp);
    put_marker(w, len);
}

static void put32(unsigned char *b, uint32_t v, int s)
{
    v = sw32(v, s);
    memcpy(b, &v, 4);
}
static void put64(unsigned char *b, double d, int s)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    v = sw64(v, s);
    memcpy(b, &v, 8);
}

int fx_write_gadget(const char *base, const fx_spec *s, int format, int swap, int dbl)
{
    char path[1024];
    for (int f = 0; f < s->nfiles; f++) {
        if (f == s->skip_file)
            continue;
        if (s->single && s->nfiles == 1)
            snprintf(path, sizeof path, "%s", base);
        else
            snprintf(path, sizeof path, "%s.%d", base, f);
        bw w = {fopen(path, "wb"), swap};
        if (!w.fp)
            return 1;
        unsigned char h[256];
        memset(h, 0, sizeof h);
        int64_t first[6], count[6], ntot = 0, nmass = 0;
        for (int t = 0; t < 6; t++) {
            split(s->n[t], s->nfiles, f, &first[t], &count[t]);
            ntot += count[t];
            if (s->mass_table[t] == 0)
                nmass += count[t];
            put32(h + 4 * t, (uint32_t)count[t], swap);
            put64(h + 24 + 8 * t, s->mass_table[t], swap);
            put32(h + 96 + 4 * t, (uint32_t)s->n[t] + (t == 1 ? (uint32_t)s->total_delta : 0),
                  swap);
            put32(h + 168 + 4 * t, t == 1 ? s->highword1 : 0, swap);
        }
        put64(h + 72, s->time, swap);
        put64(h + 80, s->redshift, swap);
        put32(h + 124, (uint32_t)s->nfiles, swap);
        put64(h + 128, s->box_kpc, swap);
        put64(h + 136, s->om, swap);
        put64(h + 144, s->ol, swap);
        put64(h + 152, s->h, swap);
        block(&w, format, "HEAD", h, 256);
        int rb = dbl ? 8 : 4;
        unsigned char *pos = calloc((size_t)(3 * ntot + 1), (size_t)rb);
        unsigned char *vel = calloc((size_t)(3 * ntot + 1), (size_t)rb);
        unsigned char *ids = calloc((size_t)(ntot + 1), 4);
        unsigned char *mass = calloc((size_t)(nmass + 1), (size_t)rb);
        int64_t k = 0, km = 0;
        for (int t = 0; t < 6; t++)
            for (int64_t i = 0; i < count[t]; i++, k++) {
                float p[3], u[3], m;
                uint64_t id;
                fx_particle(t, first[t] + i, s->box_kpc, p, u, &id, &m);
                for (int a = 0; a < 3; a++) {
                    if (dbl) {
                        put64(pos + 8 * (3 * k + a), p[a], swap);
                        put64(vel + 8 * (3 * k + a), u[a], swap);
                    } else {
                        uint32_t pv, uv;
                        memcpy(&pv, &p[a], 4);
                        memcpy(&uv, &u[a], 4);
                        put32(pos + 4 * (3 * k + a), pv, swap);
                        put32(vel + 4 * (3 * k + a), uv, swap);
                    }
                }
                put32(ids + 4 * k, (uint32_t)id, swap);
                if (s->mass_table[t] == 0) {
                    if (dbl) {
                        put64(mass + 8 * km, m, swap);
                    } else {
                        uint32_t mv;
                        memcpy(&mv, &m, 4);
                        put32(mass + 4 * km, mv, swap);
                    }
                    km++;
                }
            }
        block(&w, format, "POS ", pos, (uint32_t)(3 * ntot * rb));
        block(&w, format, "VEL ", vel, (uint32_t)(3 * ntot * rb));
        block(&w, format, "ID  ", ids, (uint32_t)(4 * ntot));
        if (nmass)
            block(&w, format, "MASS", mass, (uint32_t)(nmass * rb));
        free(pos);
        free(vel);
        free(ids);
        free(mass);
        if (fclose(w.fp) != 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the full set */

static int mk(const char *dir, const char *sub, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, sub);
    return ct_mkdir_p(out) != CT_OK;
}

/* Copy the first n bytes of src to dst. */
static int copy_head(const char *src, const char *dst, long n)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int e = !in || !out;
    char buf[4096];
    while (!e && n > 0) {
        size_t k = fread(buf, 1, n < (long)sizeof buf ? (size_t)n : sizeof buf, in);
        if (k == 0 || fwrite(buf, 1, k, out) != k)
            e = 1;
        n -= (long)k;
    }
    if (in)
        fclose(in);
    if (out)
        e |= fclose(out) != 0;
    return e;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int fx_remove_tree(const char *dir) { return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int fx_make_all(const char *dir)
{
    char d[1024], base[1100];
    int e = 0;
    fx_spec s;
#define CASE(sub)                                                                 \
    fx_defaults(&s);                                                              \
    e |= mk(dir, sub "/snapdir_000", d, sizeof d);                                \
    snprintf(base, sizeof base, "%s/snap_000", d);
    CASE("good") e |= fx_write_hdf5(base, &s);
    CASE("good_u8") s.id8 = 1; s.nfiles = 3; e |= fx_write_hdf5(base, &s);
    CASE("missing") s.nfiles = 3; s.skip_file = 1; e |= fx_write_hdf5(base, &s);
    CASE("missing0") s.nfiles = 3; s.skip_file = 0; e |= fx_write_hdf5(base, &s);
    CASE("inconsistent") s.bad_omega_file = 1; e |= fx_write_hdf5(base, &s);
    CASE("rows") s.rows_short = 1; e |= fx_write_hdf5(base, &s);
    CASE("dtype") s.coord_int = 1; e |= fx_write_hdf5(base, &s);
    CASE("shape") s.coord_shape = 1; e |= fx_write_hdf5(base, &s);
    CASE("nonfinite") s.nan_at = 37; e |= fx_write_hdf5(base, &s);
    CASE("outofbox") s.out_at = 3; e |= fx_write_hdf5(base, &s);
    CASE("eqbox") s.eqbox_at = 4; e |= fx_write_hdf5(base, &s);
    CASE("nearbox") s.near_at = 5; e |= fx_write_hdf5(base, &s);
    CASE("filter") s.filter = 1; e |= fx_write_hdf5(base, &s);
    CASE("highword") s.highword1 = 1; e |= fx_write_hdf5(base, &s);
    CASE("total") s.total_delta = 3; e |= fx_write_hdf5(base, &s);
    CASE("mpcunits") s.mpc_units = 1; e |= fx_write_hdf5(base, &s);
    /* for the raw (pread) reader: more files and rows than its chunks, the
     * other byte order, chunked storage (read through HDF5), errors in two
     * files and in two datasets of one file */
    CASE("rawmulti") s.nfiles = 5; s.n[1] = 10007; s.n[2] = 3001; e |= fx_write_hdf5(base, &s);
    CASE("rawbe") s.nfiles = 3; s.n[1] = 1003; s.n[2] = 301; s.big_endian = 1; s.id8 = 1;
    e |= fx_write_hdf5(base, &s);
    CASE("chunked") s.chunked = 1; e |= fx_write_hdf5(base, &s);
    CASE("errorder") s.vel_nan_at = 2; s.out_at = 20; s.nan_at = 30; e |= fx_write_hdf5(base, &s);
    CASE("noheader") s.no_header = 1; s.nfiles = 1; s.single = 1; e |= fx_write_hdf5(base, &s);
    CASE("emptydir") (void)base;
    /* single file; then a truncated copy */
    CASE("single") s.nfiles = 1; s.single = 1; e |= fx_write_hdf5(base, &s);
    {
        char src[1200], dst[1200];
        snprintf(src, sizeof src, "%s/snap_000.hdf5", d);
        e |= mk(dir, "truncated", d, sizeof d);
        snprintf(dst, sizeof dst, "%s/snap_000.hdf5", d);
        struct stat st;
        e |= stat(src, &st) != 0;
        e |= copy_head(src, dst, (long)st.st_size / 2);
        snprintf(dst, sizeof dst, "%s/notsnap.txt", dir);
        FILE *fp = fopen(dst, "w");
        e |= !fp;
        if (fp) {
            fputs("this is not a snapshot\n", fp);
            fclose(fp);
        }
    }
    /* Gadget binary: format I, format II, II byte-swapped in double precision,
     * a multi-file set, a truncated file */
    CASE("gadget1") s.nfiles = 1; s.single = 1; snprintf(base, sizeof base, "%s/ics", d);
    e |= fx_write_gadget(base, &s, 1, 0, 0);
    CASE("gadget2") s.nfiles = 1; s.single = 1; snprintf(base, sizeof base, "%s/ics", d);
    e |= fx_write_gadget(base, &s, 2, 0, 0);
    CASE("gadget2swap") s.nfiles = 1; s.single = 1; snprintf(base, sizeof base, "%s/ics", d);
    e |= fx_write_gadget(base, &s, 2, 1, 1);
    CASE("gadgetmulti") s.nfiles = 3; snprintf(base, sizeof base, "%s/ics", d);
    e |= fx_write_gadget(base, &s, 1, 0, 0);
    CASE("gadgettrunc") s.nfiles = 1; s.single = 1; snprintf(base, sizeof base, "%s/ics", d);
    e |= fx_write_gadget(base, &s, 1, 0, 0);
    if (!e) {
        char p[1200];
        snprintf(p, sizeof p, "%s/ics", d);
        struct stat st;
        e |= stat(p, &st) != 0 || truncate(p, st.st_size - 100) != 0;
    }
#undef CASE
    return e;
}
