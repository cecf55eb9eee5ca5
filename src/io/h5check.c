/* Checks on the raw bytes of an HDF5 file, made before HDF5 1.10.8 decodes
 * structures it does not bound-check itself: global heap collections (where
 * variable-length data live) and the attribute messages of object headers.
 * Each check reads the file with plain pread, never through HDF5's decoders. */
#include "cosmotl/h5.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* HDF5 1.10.8 decodes a global heap collection (where variable-length strings
 * live) in a loop that advances by each object's declared size: a free-space
 * object of size 0 never advances (an endless loop inside H5Aread), and objects
 * that overrun the collection make it read past its buffer. Before any
 * variable-length data is read, every collection in the file ("GCOL", version 1)
 * is walked the same way on the raw bytes and must tile exactly. A valid file
 * holding the bytes "GCOL" 1 in its raw data with a different structure would
 * be refused too (never seen; HDF5 writes no such bytes itself). */
static int heap_ok(int fd, uint64_t off, uint64_t fsize)
{
    unsigned char h[16];
    if (pread(fd, h, 16, (off_t)off) != 16)
        return 1;
    uint64_t size = 0;
    for (int i = 7; i >= 0; i--)
        size = (size << 8) | h[8 + i];
    if (h[4] != 1 || size < 16 || size > fsize - off)
        return 1; /* not a collection HDF5 can load: it fails, it does not loop */
    uint64_t p = 16;
    while (p < size) {
        if (p + 16 > size)
            return 1; /* a tail too small for an object: free space */
        if (pread(fd, h, 16, (off_t)(off + p)) != 16)
            return 0;
        unsigned idx = (unsigned)h[0] | (unsigned)h[1] << 8;
        uint64_t osz = 0;
        for (int i = 7; i >= 0; i--)
            osz = (osz << 8) | h[8 + i];
        if (osz > size)
            return 0;
        uint64_t need = idx > 0 ? 16 + ((osz + 7) & ~(uint64_t)7) : osz;
        if (need == 0)
            return 0;
        p += need;
    }
    return p == size;
}

ct_status ct_h5_check_heaps(hid_t loc)
{
    /* the file's name, of any length (a cut name would open nothing and skip
     * the check) */
    ssize_t plen = H5Fget_name(loc, NULL, 0);
    char *path = plen > 0 ? malloc((size_t)plen + 1) : NULL;
    if (plen <= 0)
        return CT_OK;
    if (!path)
        CT_FAIL(CT_ERR_MEMORY, "out of memory");
    int fd = H5Fget_name(loc, path, (size_t)plen + 1) == plen ? open(path, O_RDONLY) : -1;
    if (fd < 0) {
        free(path);
        return CT_OK; /* an in-memory image: nothing on disk to check */
    }
    struct stat st;
    ct_status rc = CT_OK;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = fstat(fd, &st) == 0 ? malloc(CHUNK + 3) : NULL;
    uint64_t fsize = buf ? (uint64_t)st.st_size : 0, base = 0;
    size_t keep = 0;
    while (buf && base < fsize && rc == CT_OK) {
        ssize_t got = pread(fd, buf + keep, CHUNK, (off_t)base);
        if (got <= 0)
            break;
        size_t n = keep + (size_t)got;
        for (size_t i = 0; i + 4 <= n; i++) {
            if (buf[i] != 'G' || memcmp(buf + i, "GCOL", 4))
                continue;
            uint64_t off = base - keep + i;
            if (!heap_ok(fd, off, fsize)) {
                rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                                  "%s: corrupt global heap (variable-length data) at byte %llu: "
                                  "HDF5 would loop or read out of bounds on it", path,
                                  (unsigned long long)off);
                break;
            }
        }
        base += (uint64_t)got;
        keep = n < 3 ? n : 3;
        memmove(buf, buf + n - keep, keep);
    }
    free(buf);
    close(fd);
    free(path);
    return rc;
}

/* ---- attribute messages ----
 * HDF5 1.10.8 decodes an attribute message (H5O_attr_decode) trusting the
 * name, datatype and dataspace lengths it holds and the data size they imply:
 * a corrupt length makes H5Aexists, H5Aopen or H5Aiterate copy from far past
 * the object header (a SEGV, found by the summary fuzz harness). Before
 * cosmotl asks HDF5 about an attribute, every attribute message of the object
 * header (all chunks, following continuation messages) is checked on the raw
 * bytes the same way HDF5 will read it: each part fits in the message, the name
 * ends where its length says, the data (elements of the dataspace times the
 * datatype's size) fit in what is left, and no variable-length element is
 * longer than the file. These are exactly the assumptions
 * HDF5's decoder makes, so a file HDF5 reads correctly always passes. Not
 * checked (left to HDF5): attributes in dense storage (a fractal heap; object
 * headers of version 2 with more than 8 attributes, never written by cosmotl)
 * and attributes or their parts kept as shared messages in files that have a
 * shared-message table. */

typedef struct {
    int fd;
    uint64_t fsize, base; /* file size; where address 0 is (after a user block) */
    unsigned sa, ss;      /* sizes of file addresses and lengths */
    int sohm;             /* the file has shared-message indexes */
    unsigned ik, lk;      /* group B-tree internal K and symbol-node leaf K */
    char *path;           /* the file's name, of any length */
} raw_file;

enum { MSG_DTYPE = 0x03, MSG_ATTR = 0x0C, MSG_CONT = 0x10, MAX_CHUNKS = 4096 };

static uint64_t le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    while (n--)
        v = (v << 8) | p[n];
    return v;
}

/* 1: opened; 0: nothing on disk to check (an in-memory image); -1: out of
 * memory. raw_close releases it. */
static int raw_open(hid_t loc, raw_file *rf)
{
    memset(rf, 0, sizeof *rf);
    rf->fd = -1;
    ssize_t plen = H5Fget_name(loc, NULL, 0);
    if (plen <= 0)
        return 0;
    if (!(rf->path = malloc((size_t)plen + 1)))
        return -1;
    struct stat st;
    if (H5Fget_name(loc, rf->path, (size_t)plen + 1) == plen)
        rf->fd = open(rf->path, O_RDONLY);
    if (rf->fd < 0 || fstat(rf->fd, &st) != 0)
        return 0;
    rf->fsize = (uint64_t)st.st_size;
    size_t sa = 8, ss = 8;
    hsize_t ub = 0;
    unsigned nidx = 0;
    hid_t fid = H5Iget_file_id(loc);
    hid_t fcpl = fid >= 0 ? H5Fget_create_plist(fid) : -1;
    if (fcpl >= 0) {
        H5Pget_sizes(fcpl, &sa, &ss);
        H5Pget_userblock(fcpl, &ub);
        H5Pget_shared_mesg_nindexes(fcpl, &nidx);
        H5Pget_sym_k(fcpl, &rf->ik, &rf->lk);
        H5Pclose(fcpl);
    }
    if (fid >= 0)
        H5Fclose(fid);
    rf->sa = (unsigned)sa;
    rf->ss = (unsigned)ss;
    rf->base = ub;
    rf->sohm = nidx > 0;
    return 1;
}

static void raw_close(raw_file *rf)
{
    if (rf->fd >= 0)
        close(rf->fd);
    free(rf->path);
    rf->fd = -1;
    rf->path = NULL;
}

/* len bytes at file address addr lie inside the file */
static int inside(const raw_file *rf, uint64_t addr, uint64_t len)
{
    return addr <= rf->fsize && rf->base <= rf->fsize - addr && len <= rf->fsize - addr - rf->base;
}

/* len bytes at file address addr, or NULL when they are not in the file */
static unsigned char *raw_read(const raw_file *rf, uint64_t addr, uint64_t len)
{
    if (len == 0 || !inside(rf, addr, len))
        return NULL;
    unsigned char *b = malloc((size_t)len);
    if (b && pread(rf->fd, b, (size_t)len, (off_t)(rf->base + addr)) != (ssize_t)len) {
        free(b);
        b = NULL;
    }
    return b;
}

static const char chunk_outside[] = "an object header chunk outside the file";

/* called for each message of an object header; returns NULL or why it is corrupt */
typedef const char *(*msg_fn)(const raw_file *rf, unsigned type, unsigned flags,
                              const unsigned char *body, size_t n, void *ctx);

/* Walk every message of the object header at address addr (versions 1 and 2,
 * all chunks). Returns NULL when every message passed fn, else why not; *at gets
 * the file offset of the message at fault. */
static const char *walk_header(const raw_file *rf, uint64_t addr, msg_fn fn, void *ctx,
                               uint64_t *at)
{
    uint64_t ca[MAX_CHUNKS], cl[MAX_CHUNKS]; /* chunk addresses and lengths */
    int nchunk = 0, v2 = 0, crt = 0;
    const char *why = NULL;
    unsigned char *p = raw_read(rf, addr, 16);
    *at = addr;
    if (!p)
        return "an object header outside the file";
    if (p[0] == 1) { /* version 1: 16-byte prefix, then chunk 0 */
        ca[0] = addr + 16;
        cl[0] = le(p + 8, 4);
    } else if (!memcmp(p, "OHDR", 4) && p[4] == 2) {
        unsigned fl = p[5], off = 6 + (fl & 0x20 ? 16 : 0) + (fl & 0x10 ? 4 : 0);
        unsigned w = 1u << (fl & 3);
        free(p);
        p = raw_read(rf, addr, off + w);
        if (!p)
            return "an object header outside the file";
        v2 = 1;
        crt = (fl & 0x04) != 0;
        ca[0] = addr + off + w;
        cl[0] = le(p + off, w);
    } else {
        free(p);
        return NULL; /* HDF5 opened it, so it is a header this check does not know */
    }
    free(p);
    nchunk = 1;
    for (int c = 0; c < nchunk && !why; c++) {
        uint64_t a = ca[c], n = cl[c];
        unsigned char *b = raw_read(rf, a, n);
        size_t s = 0, e = (size_t)n;
        *at = a;
        if (!b)
            return chunk_outside;
        if (v2 && c > 0) { /* continuation chunk: "OCHK", messages, checksum */
            if (n < 8 || memcmp(b, "OCHK", 4)) {
                free(b);
                return "a continuation chunk without its signature";
            }
            s = 4;
            e = (size_t)n - 4;
        }
        size_t mh = v2 ? 4u + (crt ? 2u : 0u) : 8u;
        while (!why && s + mh <= e) {
            unsigned type = v2 ? b[s] : (unsigned)le(b + s, 2);
            size_t sz = (size_t)le(b + s + (v2 ? 1 : 2), 2);
            unsigned fl = b[s + (v2 ? 3 : 4)];
            *at = a + s;
            if (sz > e - s - mh) {
                why = "a message longer than its chunk";
                break;
            }
            const unsigned char *body = b + s + mh;
            if (type == MSG_CONT) {
                if (sz < rf->sa + rf->ss)
                    why = "a short continuation message";
                else if (nchunk == MAX_CHUNKS)
                    why = "too many continuation chunks";
                else {
                    ca[nchunk] = le(body, rf->sa);
                    cl[nchunk++] = le(body + rf->sa, rf->ss);
                }
            } else {
                why = fn(rf, type, fl, body, sz, ctx);
            }
            s += mh + sz;
        }
        free(b);
    }
    return why;
}

static const char *find_dtype_size(const raw_file *rf, unsigned type, unsigned flags,
                                   const unsigned char *body, size_t n, void *ctx)
{
    (void)rf;
    uint64_t *size = ctx;
    if (type == MSG_DTYPE && !(flags & 0x02) && n >= 8 && *size == 0)
        *size = le(body + 4, 4);
    return NULL;
}

/* Element size of a datatype stored as a shared message (attribute flag bit 0):
 * a committed datatype's object header is read; 0 with *why NULL: kept in the
 * shared-message heap, not checked. */
static uint64_t shared_dtype_size(const raw_file *rf, const unsigned char *m, size_t n,
                                  const char **why)
{
    *why = NULL;
    if (n < 2 || m[0] < 1 || m[0] > 3) {
        *why = "a shared datatype reference of unknown version";
        return 0;
    }
    if (m[0] >= 2 && m[1] == 1) { /* in the shared-message heap */
        if (!rf->sohm)
            *why = "a datatype in a shared-message heap the file does not have";
        return 0;
    }
    size_t off = m[0] == 1 ? 8 + rf->ss : 2;
    if (off + rf->sa > n) {
        *why = "a short shared datatype reference";
        return 0;
    }
    uint64_t size = 0, at;
    const char *w = walk_header(rf, le(m + off, rf->sa), find_dtype_size, &size, &at);
    if (w || size == 0)
        *why = "a shared datatype reference to no datatype";
    return size;
}

static const char *check_attr_msg(const raw_file *rf, unsigned type, unsigned mflags,
                                  const unsigned char *p, size_t n, void *ctx)
{
    (void)ctx;
    if (type != MSG_ATTR)
        return NULL;
    if (mflags & 0x02) /* the whole attribute is a shared message */
        return rf->sohm ? NULL : "an attribute marked shared in a file without shared messages";
    if (n < 8 || p[0] < 1 || p[0] > 3)
        return "an attribute message of unknown version or too short";
    unsigned ver = p[0], fl = ver >= 2 ? p[1] : 0;
    size_t name_len = (size_t)le(p + 2, 2), dt_len = (size_t)le(p + 4, 2),
           ds_len = (size_t)le(p + 6, 2);
    size_t off = ver == 3 ? 9 : 8;
#define PART(x) (ver == 1 ? (((x) + 7) & ~(size_t)7) : (x))
    if (off > n || name_len == 0 || PART(name_len) > n - off)
        return "an attribute name longer than its message";
    if (memchr(p + off, 0, name_len) != p + off + name_len - 1)
        return "an attribute name that does not end where its length says";
    off += PART(name_len);
    if (PART(dt_len) > n - off)
        return "an attribute datatype longer than its message";
    const unsigned char *dt = p + off;
    off += PART(dt_len);
    if (PART(ds_len) > n - off)
        return "an attribute dataspace longer than its message";
    const unsigned char *ds = p + off;
    off += PART(ds_len);
#undef PART
    /* element size */
    uint64_t elsize;
    int vlen = 0;
    if (fl & 0x01) {
        const char *why;
        elsize = shared_dtype_size(rf, dt, dt_len, &why);
        if (why)
            return why;
        if (elsize == 0)
            return NULL; /* in the shared-message heap: not checked */
    } else {
        if (dt_len < 8)
            return "an attribute datatype too short to hold its size";
        elsize = le(dt + 4, 4);
        vlen = (dt[0] & 0x0F) == 9; /* variable-length: string or sequence */
    }
    /* number of elements */
    if (fl & 0x02) /* a shared dataspace lives in the shared-message heap */
        return rf->sohm ? NULL : "an attribute dataspace in a shared-message heap the file "
                                 "does not have";
    if (ds_len < 4 || (ds[0] == 1 && ds_len < 8) || ds[0] < 1 || ds[0] > 2 || ds[1] > 32)
        return "an attribute dataspace of unknown version, rank or too short";
    unsigned rank = ds[1], kind = ds[0] == 1 ? (rank ? 1 : 0) : ds[3];
    size_t doff = ds[0] == 1 ? 8 : 4;
    if (kind > 2 || (uint64_t)rank * rf->ss * (ds[2] & 1 ? 2 : 1) > ds_len - doff)
        return "an attribute dataspace whose extents overrun it";
    uint64_t npoints = kind == 0 ? 1 : kind == 2 ? 0 : 1;
    for (unsigned i = 0; kind == 1 && i < rank; i++) {
        uint64_t d = le(ds + doff + (size_t)i * rf->ss, rf->ss);
        if (d && npoints > UINT64_MAX / d)
            return "an attribute dataspace with an impossible number of elements";
        npoints *= d;
    }
    if (elsize && npoints > (n - off) / elsize)
        return "attribute data longer than its message";
    /* Variable-length elements are stored as (sequence length, 4 bytes; global
     * heap ID). HDF5 1.10.8 allocates each sequence at its stored length before
     * it looks in the heap (H5T__conv_vlen: 4 GiB from a corrupt length, found
     * by the summary fuzz harness as an out-of-memory in H5Aread); a sequence
     * of at least one byte per element cannot be longer than the file. */
    for (uint64_t i = 0; vlen && elsize >= 4 && i < npoints; i++)
        if (le(p + off + i * elsize, 4) > rf->fsize)
            return "a variable-length attribute element longer than the file";
    return NULL;
}

/* ---- object header chunks ----
 * HDF5 1.10.8 allocates an object header's chunk at the size the header
 * declares before reading it (H5O_protect: 4 GiB for a corrupt 32-bit size,
 * found by the summary fuzz harness as an out-of-memory in H5Gopen2), and a
 * continuation chunk at the length its message declares. Every object reachable
 * by hard links from the root group is checked before anything opens it: its
 * header's chunks, followed through continuation messages, must lie inside the
 * file (other damage is left to HDF5, which reports it when the object is read,
 * so a file with one broken object still opens). The root group's own header is loaded by H5Fopen itself and not
 * checked. Objects are checked once (by address), at most CT_H5_MAX_OBJECTS. */
#define CT_H5_MAX_OBJECTS 10000

static const char *no_check(const raw_file *rf, unsigned type, unsigned flags,
                            const unsigned char *body, size_t n, void *ctx)
{
    (void)rf, (void)type, (void)flags, (void)body, (void)n, (void)ctx;
    return NULL;
}

/* A chunked dataset's layout message with a chunk dimension of 0: HDF5 1.10.8
 * divides by it when the dataset is opened (H5D__chunk_set_info: SIGFPE, found by
 * the model fuzz harness on a layout of no dimensions). Layout message versions
 * 1-4; other layouts pass. */
enum { MSG_LAYOUT = 0x08 };
static const char chunk_zero[] = "a chunked dataset with a chunk dimension of 0 or none";

static const char *check_layout(const raw_file *rf, unsigned type, unsigned flags,
                                const unsigned char *b, size_t n, void *ctx)
{
    (void)ctx;
    if (type != MSG_LAYOUT || (flags & 0x02) || n < 2)
        return NULL;
    unsigned ver = b[0];
    size_t off, enc = 4;
    unsigned nd;
    if (ver == 1 || ver == 2) {
        if (n < 8 || b[2] != 2)
            return NULL;
        nd = b[1];
        off = 8 + rf->sa;
    } else if (ver == 3) {
        if (b[1] != 2 || n < 3)
            return NULL;
        nd = b[2];
        off = 3 + rf->sa;
    } else if (ver == 4) {
        if (b[1] != 2 || n < 5)
            return NULL;
        nd = b[3];
        enc = b[4];
        off = 5;
        if (enc < 1 || enc > 8)
            return "a chunked dataset with an impossible chunk dimension size";
    } else {
        return NULL;
    }
    if (nd < 2) /* rank + 1 (the last is the element size); chunked data has rank >= 1 */
        return chunk_zero;
    if (off > n || (size_t)nd * enc > n - off)
        return NULL; /* HDF5 refuses a short message itself */
    for (unsigned i = 0; i < nd; i++)
        if (le(b + off + (size_t)i * enc, (unsigned)enc) == 0)
            return chunk_zero;
    return NULL;
}

typedef struct {
    raw_file *rf;
    haddr_t *seen;
    size_t n, cap;
    const char *why;
    uint64_t at;
    uint64_t unlisted; /* first object HDF5 could not open or list (0: none) */
    const char *unlisted_why;
} header_walk;

/* ---- old-style groups (symbol tables) ----
 * A group written with the original file format keeps its members in a version-1
 * B-tree of symbol nodes ("TREE", "SNOD") whose names live in a local heap
 * ("HEAP"). HDF5 1.10.8 iterates them trusting the heap's data size and the
 * nodes' addresses: a corrupt size or address made it copy into a failed
 * allocation (a SEGV inside H5Literate and H5Gopen, found by the model and summary
 * fuzz harnesses). Before a group's members are listed, its heap data and every
 * node of its B-tree must lie inside the file, the node counts stay within the
 * file's K values and every member's name offset inside the heap data. */
enum { MSG_STAB = 0x11, MAX_BTREE_DEPTH = 32, MAX_BTREE_NODES = 100000 };

typedef struct {
    uint64_t btree, heap;
    int found;
} stab_info;

static const char *find_stab(const raw_file *rf, unsigned type, unsigned flags,
                             const unsigned char *body, size_t n, void *ctx)
{
    (void)flags;
    stab_info *t = ctx;
    if (type == MSG_STAB && !t->found && n >= 2u * rf->sa) {
        t->btree = le(body, rf->sa);
        t->heap = le(body + rf->sa, rf->sa);
        t->found = 1;
    }
    return NULL;
}

static const char *check_snod(const raw_file *rf, uint64_t addr, uint64_t heap_size)
{
    uint64_t esz = 2u * rf->sa + 24u, nmax = 2u * (rf->lk ? rf->lk : 4u);
    unsigned char *b = raw_read(rf, addr, 8 + nmax * esz);
    if (!b)
        return "a group's symbol node outside the file";
    const char *why = NULL;
    unsigned nsym = (unsigned)le(b + 6, 2);
    if (memcmp(b, "SNOD", 4))
        why = "a group's symbol node without its signature";
    else if (nsym > nmax)
        why = "a group's symbol node with more entries than the file allows";
    for (unsigned i = 0; !why && i < nsym; i++)
        if (le(b + 8 + i * esz, rf->sa) >= heap_size)
            why = "a group member whose name lies outside the group's heap";
    free(b);
    return why;
}

static const char *check_btree(const raw_file *rf, uint64_t addr, int level_above,
                               uint64_t heap_size, int depth, long *nodes)
{
    if (depth > MAX_BTREE_DEPTH || ++*nodes > MAX_BTREE_NODES)
        return "a group's B-tree too deep or too large";
    uint64_t k2 = 2u * (rf->ik ? rf->ik : 16u);
    uint64_t hl = 8 + 2u * rf->sa, len = hl + (k2 + 1) * rf->ss + k2 * rf->sa;
    unsigned char *b = raw_read(rf, addr, len);
    if (!b)
        return "a group's B-tree node outside the file";
    const char *why = NULL;
    int level = b[5];
    unsigned used = (unsigned)le(b + 6, 2);
    if (memcmp(b, "TREE", 4) || b[4] != 0)
        why = "a group's B-tree node without its signature";
    else if (used > k2)
        why = "a group's B-tree node with more entries than the file allows";
    else if (level_above >= 0 && level != level_above - 1)
        why = "a group's B-tree node at the wrong level";
    for (unsigned i = 0; !why && i < used; i++) {
        uint64_t child = le(b + hl + rf->ss + (size_t)i * (rf->ss + rf->sa), rf->sa);
        why = level > 0 ? check_btree(rf, child, level, heap_size, depth + 1, nodes)
                        : check_snod(rf, child, heap_size);
    }
    free(b);
    return why;
}

/* the symbol table of the group whose object header is at addr, if it has one */
static const char *check_stab(const raw_file *rf, uint64_t addr, uint64_t *at)
{
    stab_info t = {0, 0, 0};
    const char *why = walk_header(rf, addr, find_stab, &t, at);
    if (why || !t.found)
        return why == chunk_outside ? why : NULL;
    *at = t.heap;
    uint64_t hl = 8 + 2u * rf->ss + rf->sa;
    unsigned char *h = raw_read(rf, t.heap, hl);
    if (!h)
        return "a group's local heap outside the file";
    uint64_t size = le(h + 8, rf->ss), data = le(h + 8 + 2u * rf->ss, rf->sa);
    uint64_t fl = le(h + 8 + rf->ss, rf->ss);
    if (memcmp(h, "HEAP", 4) || h[4] != 0)
        why = "a group's local heap without its signature";
    else if (!inside(rf, data, size))
        why = "a group's local heap data outside the file";
    free(h);
    if (why)
        return why;
    /* the heap's free list, walked as HDF5 walks it (H5HL__fl_deserialize: each
     * free block holds the offset of the next, 1 ending the list, then its size),
     * which has no step limit: a list that loops made HDF5 allocate a list entry
     * per step until memory ran out (model harness, 4 GiB in 20 s). Blocks are at
     * least 2 lengths long and do not overlap, so a list longer than
     * size / (2 lengths) loops. */
    if (fl != 1) {
        unsigned char *d = raw_read(rf, data, size);
        if (!d)
            return "a group's local heap data outside the file";
        uint64_t steps = 0, most = size / (2u * rf->ss) + 1;
        while (fl != 1 && !why) {
            if (fl >= size || size - fl < 2u * rf->ss)
                why = "a group's local heap free list outside the heap";
            else if (++steps > most)
                why = "a group's local heap free list that does not end";
            else {
                uint64_t next = le(d + fl, rf->ss), len = le(d + fl + rf->ss, rf->ss);
                if (next == 0 || len > size - fl)
                    why = "a group's local heap free list outside the heap";
                fl = next;
            }
        }
        free(d);
        if (why)
            return why;
    }
    long nodes = 0;
    *at = t.btree;
    return check_btree(rf, t.btree, -1, size, 0, &nodes);
}

static herr_t check_link(hid_t g, const char *name, const H5L_info_t *li, void *ctx)
{
    header_walk *w = ctx;
    if (li->type != H5L_TYPE_HARD)
        return 0; /* soft and external links: their targets are objects checked elsewhere */
    for (size_t i = 0; i < w->n; i++)
        if (w->seen[i] == li->u.address)
            return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        haddr_t *s = cap <= CT_H5_MAX_OBJECTS ? realloc(w->seen, cap * sizeof *s) : NULL;
        if (!s)
            return 1; /* that many objects: stop checking (HDF5 reads the rest) */
        w->seen = s;
        w->cap = cap;
    }
    w->seen[w->n++] = li->u.address;
    /* a chunk HDF5 would allocate past the file's end, or a chunk dimension of 0 it would
     * divide by, is refused here;
     * other damage HDF5 reports itself when the object is read */
    const char *why = walk_header(w->rf, li->u.address, check_layout, NULL, &w->at);
    if (why == chunk_outside || why == chunk_zero) {
        w->why = why;
        return 1; /* stop (a positive value: no error stack from HDF5) */
    }
    /* the object is opened by the address just checked, never by name: a corrupt
     * symbol table can hold one name twice, and the name then leads to another
     * object than the link being visited (model harness: a SEGV listing the
     * unchecked one); every link's own target is visited in turn */
    hid_t sub = H5Oopen_by_addr(g, li->u.address);
    if (sub < 0) {
        /* never in a file HDF5 wrote. If the link's name still leads somewhere
         * (through the symbol-table entry's cached B-tree and heap), what it
         * leads to is unchecked (model harness: SIGFPE in H5Dopen2 below such a
         * link): refused after the walk. Otherwise HDF5 fails cleanly on it. */
        hid_t byname = H5Oopen(g, name, H5P_DEFAULT);
        if (byname >= 0) {
            H5Oclose(byname);
            if (!w->unlisted) {
                w->unlisted = li->u.address;
                w->unlisted_why = "a link whose object HDF5 reaches only by name";
            }
        }
        return 0;
    }
    H5O_info_t oi;
    herr_t e = 0;
    if (H5Oget_info2(sub, &oi, H5O_INFO_BASIC) >= 0 && oi.type == H5O_TYPE_GROUP) {
        if ((why = check_stab(w->rf, li->u.address, &w->at)))
            w->why = why;
        else if ((e = H5Literate(sub, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, check_link, w)) < 0 &&
                 !w->unlisted) {
            /* members that cannot be listed from the group's own header may still
             * be reached by path (HDF5 then uses the symbol-table entry's cached
             * B-tree and heap), unchecked (model harness: a SIGFPE in H5Dopen2).
             * Refused after the walk, so that a more specific finding elsewhere
             * is the one reported. */
            w->unlisted = li->u.address;
            w->unlisted_why = "a group whose members cannot be listed";
        }
    }
    H5Oclose(sub);
    return w->why || e > 0 ? 1 : 0;
}

ct_status ct_h5_check_headers(hid_t file)
{
    raw_file rf;
    int o = raw_open(file, &rf);
    if (o <= 0) {
        raw_close(&rf);
        if (o < 0)
            CT_FAIL(CT_ERR_MEMORY, "out of memory");
        return CT_OK;
    }
    header_walk w = {&rf, NULL, 0, 0, NULL, 0, 0, NULL};
    H5O_info_t ri;
    if (H5Oget_info2(file, &ri, H5O_INFO_BASIC) >= 0)
        w.why = check_stab(&rf, ri.addr, &w.at); /* the root group's members */
    if (!w.why)
        H5Literate(file, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, check_link, &w);
    if (!w.why && w.unlisted) {
        w.why = w.unlisted_why;
        w.at = w.unlisted;
    }
    ct_status rc = CT_OK;
    if (w.why)
        rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                          "%s: corrupt object header at byte %llu: %s", rf.path,
                          (unsigned long long)(rf.base + w.at), w.why);
    free(w.seen);
    raw_close(&rf);
    return rc;
}

/* The root group's object header, which H5Fopen itself loads (H5G_mkroot): its
 * address is read from the superblock on the raw bytes and its chunks, followed
 * through continuation messages, must lie inside the file (HDF5 1.10.8 allocates a
 * chunk at its declared size first: 16 GiB from a corrupt continuation message,
 * found by the model fuzz harness as an out-of-memory in H5Fopen). Superblocks
 * of versions 0-3, at 0 or a power of two from 512 (after a user block). A layout
 * this check does not know is left to HDF5. */
ct_status ct_h5_check_root(const char *path)
{
    raw_file rf;
    memset(&rf, 0, sizeof rf);
    struct stat st;
    rf.fd = open(path, O_RDONLY);
    if (rf.fd < 0 || fstat(rf.fd, &st) != 0) {
        if (rf.fd >= 0)
            close(rf.fd);
        return CT_OK; /* the open reports it */
    }
    rf.fsize = (uint64_t)st.st_size;
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char b[128];
    uint64_t sb = 0;
    int found = 0;
    for (uint64_t at = 0; at + 64 <= rf.fsize; at = at ? 2 * at : 512)
        if (pread(rf.fd, b, sizeof b, (off_t)at) >= 64 && !memcmp(b, sig, 8)) {
            sb = at;
            found = 1;
            break;
        }
    uint64_t root = 0;
    int known = 0;
    if (found && b[8] <= 1) {
        unsigned hdr = b[8] == 0 ? 24 : 28;
        rf.sa = b[13];
        rf.ss = b[14];
        if ((rf.sa == 2 || rf.sa == 4 || rf.sa == 8) && (rf.ss == 2 || rf.ss == 4 || rf.ss == 8) &&
            hdr + 6u * rf.sa <= sizeof b) {
            rf.base = le(b + hdr, rf.sa);
            root = le(b + hdr + 5 * rf.sa, rf.sa);
            known = 1;
        }
    } else if (found && (b[8] == 2 || b[8] == 3)) {
        rf.sa = b[9];
        rf.ss = b[10];
        if ((rf.sa == 2 || rf.sa == 4 || rf.sa == 8) && (rf.ss == 2 || rf.ss == 4 || rf.ss == 8)) {
            rf.base = le(b + 12, rf.sa);
            root = le(b + 12 + 3 * rf.sa, rf.sa);
            known = 1;
        }
    }
    (void)sb; /* addresses are relative to the base address the superblock holds */
    ct_status rc = CT_OK;
    if (known) {
        uint64_t at = 0;
        const char *why = walk_header(&rf, root, no_check, NULL, &at);
        if (why)
            rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                              "%s: corrupt root group object header at byte %llu: %s", path,
                              (unsigned long long)(rf.base + at), why);
    }
    close(rf.fd);
    return rc;
}

ct_status ct_h5_check_attrs(hid_t loc)
{
    H5O_info_t info;
    raw_file rf;
    if (H5Oget_info2(loc, &info, H5O_INFO_BASIC) < 0) {
        ssize_t n = H5Fget_name(loc, NULL, 0);
        char *file = n > 0 ? malloc((size_t)n + 1) : NULL;
        if (file && H5Fget_name(loc, file, (size_t)n + 1) != n)
            file[0] = 0;
        ct_status rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                                    "%s: cannot read an object header (corrupt file)",
                                    file && file[0] ? file : "?");
        free(file);
        return rc;
    }
    int o = raw_open(loc, &rf);
    if (o <= 0) {
        raw_close(&rf);
        if (o < 0)
            CT_FAIL(CT_ERR_MEMORY, "out of memory");
        return CT_OK;
    }
    uint64_t at = 0;
    const char *why = walk_header(&rf, info.addr, check_attr_msg, NULL, &at);
    ct_status rc = CT_OK;
    if (why)
        rc = ct_error_set(CT_ERR_FORMAT, __func__, __LINE__,
                          "%s: corrupt object header at byte %llu: %s", rf.path,
                          (unsigned long long)(rf.base + at), why);
    raw_close(&rf);
    return rc;
}

int ct_h5_attr_exists(hid_t loc, const char *name)
{
    if (ct_h5_check_attrs(loc) != CT_OK)
        return -1;
    return H5Aexists(loc, name) > 0;
}
