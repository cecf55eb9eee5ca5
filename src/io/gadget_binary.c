/* Legacy Gadget binary snapshots (format I and II): Fortran records holding a
 * 256-byte header, then POS, VEL, ID (and MASS) blocks with all particle types
 * concatenated in type order. Format II puts an 8-byte label record ("POS ")
 * before each block. Either byte order is accepted. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot_internal.h"

static uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
static uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

int ct_snap_pread(int fd, void *buf, size_t n, int64_t off)
{
    char *b = buf;
    while (n > 0) {
        ssize_t r = pread(fd, b, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int ct_gadget_sniff(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    uint32_t m = 0;
    char label[4] = {0};
    int ok = ct_snap_pread(fd, &m, 4, 0) == 0;
    if (ok && (m == 8 || bswap32(m) == 8))
        ok = ct_snap_pread(fd, label, 4, 4) == 0 && !memcmp(label, "HEAD", 4);
    else
        ok = ok && (m == 256 || bswap32(m) == 256);
    close(fd);
    return ok;
}

static int32_t get_i32(const unsigned char *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return (int32_t)(swap ? bswap32(v) : v);
}

static double get_f64(const unsigned char *p, int swap)
{
    uint64_t v;
    memcpy(&v, p, 8);
    if (swap)
        v = bswap64(v);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static void parse_header(const unsigned char *b, int swap, ct_snapshot_header *h, double *box,
                         int64_t npart[6])
{
    memset(h, 0, sizeof *h);
    for (int t = 0; t < 6; t++) {
        npart[t] = (uint32_t)get_i32(b + 4 * t, swap);
        h->mass_table[t] = get_f64(b + 24 + 8 * t, swap);
        uint32_t low = (uint32_t)get_i32(b + 96 + 4 * t, swap);
        uint32_t high = (uint32_t)get_i32(b + 168 + 4 * t, swap);
        h->npart_total[t] = ct_snap_join_count(low, high);
    }
    h->time = get_f64(b + 72, swap);
    h->redshift = get_f64(b + 80, swap);
    h->flag_sfr = get_i32(b + 88, swap);
    h->flag_feedback = get_i32(b + 92, swap);
    h->flag_cooling = get_i32(b + 120, swap);
    h->nfiles = get_i32(b + 124, swap);
    *box = get_f64(b + 128, swap);
    h->omega_m = get_f64(b + 136, swap);
    h->omega_l = get_f64(b + 144, swap);
    h->hubble = get_f64(b + 152, swap);
    h->flag_stellarage = get_i32(b + 160, swap);
    h->flag_metals = get_i32(b + 164, swap);
    h->unit_length_mpc = CT_SNAP_LEN_TO_MPC;
    h->box = *box * CT_SNAP_LEN_TO_MPC;
}

ct_status ct_gadget_scan(const char *path, ct_snapshot_header *h, double *box_file,
                         ct_snapfile *f, ct_snapshot_format *fmt)
{
    ct_status rc = CT_OK;
    memset(f, 0, sizeof *f);
    f->blk_pos = f->blk_vel = f->blk_id = f->blk_mass = -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        CT_FAIL(CT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    fstat(fd, &st);
    const int64_t fsize = st.st_size;
    uint32_t m0 = 0;
    if (ct_snap_pread(fd, &m0, 4, 0) != 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: empty file", path);
    int swap = !(m0 == 8 || m0 == 256);
    int fmt2 = (swap ? bswap32(m0) : m0) == 8;
    f->swap = swap;
    *fmt = fmt2 ? CT_SNAP_GADGET2 : CT_SNAP_GADGET1;
    static const char *order[] = {"HEAD", "POS ", "VEL ", "ID  ", "MASS"};
    int64_t pos = 0, ntot = 0, nmass = 0;
    int have_head = 0;
    for (int blk = 0; pos < fsize; blk++) {
        char label[5] = "????";
        if (fmt2) {
            unsigned char lr[16];
            if (pos + 16 > fsize || ct_snap_pread(fd, lr, 16, pos) != 0)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: truncated: block label record at byte %lld "
                             "runs past the end of the file (%lld bytes)", path, (long long)pos,
                             (long long)fsize);
            if (get_i32(lr, swap) != 8 || get_i32(lr + 12, swap) != 8)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: corrupt format II label record at byte %lld",
                             path, (long long)pos);
            memcpy(label, lr + 4, 4);
            for (int i = 3; i > 0 && label[i] == ' '; i--)
                label[i] = '\0'; /* "ID  " -> "ID" in messages */
            pos += 16;
        } else if (blk < 5) {
            snprintf(label, sizeof label, "%.4s", order[blk]);
            for (int i = 3; i > 0 && label[i] == ' '; i--)
                label[i] = '\0';
        } else {
            break; /* format I: blocks after MASS are not needed */
        }
        unsigned char mk[4];
        if (pos + 4 > fsize || ct_snap_pread(fd, mk, 4, pos) != 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: truncated: block %s starts past the end of the "
                         "file (%lld bytes)", path, label, (long long)fsize);
        int64_t len = (uint32_t)get_i32(mk, swap);
        if (pos + 8 + len > fsize)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: truncated: block %s needs %lld bytes at byte "
                         "%lld but the file has %lld bytes", path, label, (long long)len,
                         (long long)pos, (long long)fsize);
        unsigned char mk2[4];
        if (ct_snap_pread(fd, mk2, 4, pos + 4 + len) != 0 || get_i32(mk2, swap) != (int32_t)len)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: corrupt: record markers of block %s disagree",
                         path, label);
        int64_t payload = pos + 4;
        if (!strcmp(label, "HEAD")) {
            unsigned char hb[256];
            if (len != 256 || ct_snap_pread(fd, hb, 256, payload) != 0)
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: header record has %lld bytes (expected 256)",
                             path, (long long)len);
            parse_header(hb, swap, h, box_file, f->npart);
            have_head = 1;
            for (int t = 0; t < 6; t++) {
                ntot += f->npart[t];
                if (f->npart[t] > 0 && h->mass_table[t] == 0) {
                    f->mass_row0[t] = nmass;
                    nmass += f->npart[t];
                }
            }
        } else if (!have_head) {
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: not a Gadget snapshot (first block is not HEAD)",
                         path);
        } else if (!strcmp(label, "POS") || !strcmp(label, "VEL")) {
            int rb = ntot > 0 ? (int)(len / (3 * ntot)) : 4;
            if (ntot > 0 && (len != 3 * ntot * rb || (rb != 4 && rb != 8)))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: block %s has %lld bytes, which does not fit "
                             "%lld particles x 3 floats", path, label, (long long)len,
                             (long long)ntot);
            f->real_bytes = rb;
            if (label[0] == 'P')
                f->blk_pos = payload;
            else
                f->blk_vel = payload;
        } else if (!strcmp(label, "ID")) {
            int ib = ntot > 0 ? (int)(len / ntot) : 4;
            if (ntot > 0 && (len != ntot * ib || (ib != 4 && ib != 8)))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: block ID has %lld bytes, which does not fit "
                             "%lld particles", path, (long long)len, (long long)ntot);
            f->id_bytes = ib;
            f->blk_id = payload;
        } else if (!strcmp(label, "MASS")) {
            if (nmass > 0) {
                int rb = f->real_bytes ? f->real_bytes : 4;
                if (len != nmass * rb)
                    CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: block MASS has %lld bytes, expected %lld "
                                 "masses", path, (long long)len, (long long)nmass);
                f->blk_mass = payload;
            }
        }
        pos += 8 + len;
    }
    if (!have_head)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no header block", path);
    if (ntot > 0 && f->blk_pos < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: truncated: no POS block for %lld particles", path,
                     (long long)ntot);
    if (nmass > 0 && f->blk_mass < 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: MassTable has zero entries but there is no MASS "
                     "block", path);
    if (!(*box_file > 0) || !(h->time > 0))
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: header BoxSize = %g, Time = %g (must be positive)",
                     path, *box_file, h->time);
    if (h->nfiles < 1)
        h->nfiles = 1; /* some IC writers leave num_files at 0 for a single file */
    h->flag_double = f->real_bytes == 8;
    for (int t = 0; t < 6; t++) {
        f->has_vel[t] = f->blk_vel >= 0;
        f->has_id[t] = f->blk_id >= 0;
        f->has_mass[t] = f->blk_mass >= 0 && h->mass_table[t] == 0;
    }
fail:
    close(fd);
    return rc;
}

/* The blocks' rows of type t, for the raw reader (snapshot.c), in the order
 * they lie in the file. */
ct_status ct_gadget_plan(const char *path, const ct_snapfile *f, int file, int t, int64_t row,
                         int64_t n, float *pos, float *vel, uint64_t *id, float *mass,
                         ct_rawpiece out[4], int *np)
{
    *np = 0;
    int64_t toff = 0;
    for (int k = 0; k < t; k++)
        toff += f->npart[k];
    const int64_t r0 = toff + row;
    const int rb = f->real_bytes ? f->real_bytes : 4;
    if (vel && f->blk_vel < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: no VEL block", path);
    if (id && f->blk_id < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: no ID block", path);
    if (mass && f->blk_mass < 0)
        CT_FAIL(CT_ERR_FORMAT, "%s: no MASS block", path);
    const struct {
        ct_raw_field field;
        void *dst;
        int64_t off;
        int elsize;
    } blk[4] = {{CT_RAW_POS, pos, f->blk_pos + r0 * 3 * rb, rb},
                {CT_RAW_VEL, vel, f->blk_vel + r0 * 3 * rb, rb},
                {CT_RAW_MASS, mass, f->blk_mass + (f->mass_row0[t] + row) * rb, rb},
                {CT_RAW_ID, id, f->blk_id + r0 * f->id_bytes, f->id_bytes}};
    for (int b = 0; b < 4; b++) {
        if (!blk[b].dst)
            continue;
        ct_rawpiece *p = &out[(*np)++];
        p->file = file;
        p->order = b;
        p->field = blk[b].field;
        p->off = blk[b].off;
        p->row = row;
        p->n = n;
        p->elsize = blk[b].elsize;
        p->swap = f->swap;
        p->dst = blk[b].dst;
    }
    return CT_OK;
}
