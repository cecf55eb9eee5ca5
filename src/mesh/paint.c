/* Mass assignment (NGP, CIC, TSC, PCS) onto the slab mesh, ghost-plane
 * exchange, and readout.
 *
 * Races between threads are avoided without private grids: the local x-planes
 * are cut into chunks of CHUNK planes; a particle of chunk c touches only planes
 * [c CHUNK - 1, c CHUNK + CHUNK + 2], so chunks of the same parity never share a
 * plane when CHUNK >= 3. Even chunks are painted in parallel, then odd ones.
 * The chunking does not depend on the thread count, and within a chunk the
 * particles keep their input order, so the sum in every cell is performed in
 * the same order for any number of threads.
 *
 * The per-particle kernels are in paint_kernels.h, compiled twice: for meshes
 * of the build's precision and for float32 meshes (ct_mesh_settings.float32);
 * the ghost exchange moves planes of either element size. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "mesh_private.h"

#define CHUNK 4

void ct_paint_settings_defaults(ct_paint_settings *s)
{
    memset(s, 0, sizeof *s);
    s->mas = CT_MAS_CIC;
    s->shift = 0;
    s->accumulate = 0;
}

/* Kernel weights along one axis: p points starting at *start. */
static inline void kernel(int p, double s, int64_t *start, double w[4])
{
    *start = ct_ifloor_(s - 0.5 * p) + 1;
    double f = (double)*start;
    switch (p) {
    case 1:
        w[0] = 1.0;
        break;
    case 2: {
        double u = s - f;
        w[0] = 1.0 - u;
        w[1] = u;
        break;
    }
    case 3:
        for (int q = 0; q < 3; q++) {
            double d = fabs(f + q - s);
            w[q] = d < 0.5 ? 0.75 - d * d : d < 1.5 ? 0.5 * (1.5 - d) * (1.5 - d) : 0.0;
        }
        break;
    default:
        for (int q = 0; q < 4; q++) {
            double d = fabs(f + q - s);
            w[q] = d < 1.0   ? (4.0 - 6.0 * d * d + 3.0 * d * d * d) / 6.0
                   : d < 2.0 ? (2.0 - d) * (2.0 - d) * (2.0 - d) / 6.0
                             : 0.0;
        }
        break;
    }
}

/* i is at most a few cells outside [0, N) (kernel supports): no division */
static inline int64_t wrap(int64_t i, int64_t N)
{
    while (i < 0)
        i += N;
    while (i >= N)
        i -= N;
    return i;
}

/* Local plane of a particle, or -1 if it is not finite, not inside [0, L) or not
 * on this rank's slab. */
static inline int64_t owned_plane(const ct_mesh *m, const float *p)
{
    double x = p[0], y = p[1], z = p[2];
    if (!isfinite(x) || !isfinite(y) || !isfinite(z) || x < 0 || y < 0 || z < 0 ||
        x >= m->box || y >= m->box || z >= m->box)
        return -1;
    int64_t g = ct_mesh_plane_of_(m, x);
    return g < m->x0 || g >= m->x0 + m->nx ? -1 : g - m->x0;
}

static ct_status bad_particle(const ct_mesh *m, int64_t bad, const float *pos)
{
    CT_FAIL(CT_ERR_ARG,
            "particle %lld at (%g, %g, %g) is outside [0, %g) or not on its slab's rank %d "
            "(call ct_mesh_exchange first)",
            (long long)bad, pos[3 * bad], pos[3 * bad + 1], pos[3 * bad + 2], m->box, m->rank);
}

/* The local planes of cnt <= CT_MESH_BLOCK particles into lp[]; the index of
 * the first that is not finite, not inside [0, L) or not on this rank's slab,
 * or -1. */
static int block_local_planes(const ct_mesh *m, int cnt, const float *p, int32_t *lp)
{
    int bad = ct_mesh_block_planes_(m, cnt, p, lp);
    const int32_t x0 = (int32_t)m->x0;
    const uint32_t nx = (uint32_t)m->nx;
    for (int k = 0; k < cnt; k++) {
        lp[k] -= x0;
        bad |= (uint32_t)lp[k] >= nx;
    }
    if (bad) /* the scalar definition decides, for every particle of the block */
        for (int k = 0; k < cnt; k++) {
            const int64_t q = owned_plane(m, p + 3 * k);
            if (q < 0)
                return k;
            lp[k] = (int32_t)q;
        }
    return -1;
}

/* check_owned's colour bits: one 64-bit word per block of particles */
_Static_assert(CT_MESH_BLOCK <= 64, "colour bits of a block must fit one uint64_t");

/* Check that every particle is finite, inside [0, L) and owned by this rank;
 * returns the chunk of each in chunk[] (may be NULL), or the parity of each
 * one's chunk in colour[] (may be NULL: bit q of word b for particle
 * b CT_MESH_BLOCK + q; set only when every particle passes). */
static ct_status check_owned(const ct_mesh *m, int64_t n, const float *pos, uint32_t *chunk,
                             uint64_t *colour)
{
    int64_t bad = INT64_MAX;
    const int64_t nblock = (n + CT_MESH_BLOCK - 1) / CT_MESH_BLOCK;
#pragma omp parallel for num_threads(m->threads) schedule(static) reduction(min : bad)
    for (int64_t b = 0; b < nblock; b++) {
        const int64_t i = b * CT_MESH_BLOCK;
        const int cnt = (int)(n - i < CT_MESH_BLOCK ? n - i : CT_MESH_BLOCK);
        int32_t lp[CT_MESH_BLOCK];
        const int k = block_local_planes(m, cnt, pos + 3 * i, lp);
        if (k >= 0)
            bad = i + k < bad ? i + k : bad;
        else if (chunk)
            for (int q = 0; q < cnt; q++)
                chunk[i + q] = (uint32_t)(lp[q] / CHUNK);
        else if (colour) {
            uint64_t bits = 0;
            for (int q = 0; q < cnt; q++)
                bits |= (uint64_t)((lp[q] / CHUNK) & 1) << q;
            colour[b] = bits;
        }
    }
    return bad == INT64_MAX ? CT_OK : bad_particle(m, bad, pos);
}

/* The ghost planes a kernel of p points reaches with the given shift (in
 * cells): *lo below the slab and *hi above it. A particle of global plane g
 * has x / H in [g, g + 1) (the same double product ct_mesh_plane_of_ floors),
 * so s = x / H + shift lies in [g + shift, g + 1 + shift) and the kernel's
 * first plane, floor(s - p/2) + 1, in [g + floor(shift - p/2) + 1,
 * g + ceil(1 + shift - p/2)]; with a shift the sum may round up onto
 * g + 1 + shift, so that end is taken as reached (floor(...) + 1). The last
 * plane is the first plus p - 1. CIC: lo 0 and hi 1 (2 with a half-cell
 * shift), where the mesh keeps CT_MESH_GHOST_LO + CT_MESH_GHOST_HI = 4. */
static void ghost_extent(int p, double shift, int *lo, int *hi)
{
    const double h = 0.5 * p;
    const int64_t first_min = ct_ifloor_(shift - h) + 1;
    const int64_t first_max =
        shift > 0 ? ct_ifloor_(1 + shift - h) + 1 : -ct_ifloor_(-(1 + shift - h));
    const int64_t l = -first_min, u = first_max + p - 1;
    *lo = l < 0 ? 0 : l > CT_MESH_GHOST_LO ? CT_MESH_GHOST_LO : (int)l;
    *hi = u < 0 ? 0 : u > CT_MESH_GHOST_HI ? CT_MESH_GHOST_HI : (int)u;
}

#define CIC_BLOCK 32
#define PIECE 4096
/* the kernels for the mesh's own precision (ct_real), then for float32 meshes */
#define PK_REAL ct_real
#define PK_NAME(x) x
#define PK_FIELD(m) ((m)->data)
#include "paint_kernels.h"
#define PK_REAL float
#define PK_NAME(x) x##_f32
#define PK_FIELD(m) ((m)->fdata)
#include "paint_kernels.h"

ct_status ct_mesh_paint(ct_mesh *m, const ct_paint_settings *s, int64_t n, const float *pos,
                        const float *w, double w_uniform)
{
    ct_status rc = CT_OK, lrc = CT_OK;
    uint32_t *chunk = NULL;
    int64_t *start = NULL;
    uint32_t *order = NULL;
    uint64_t *colour_bits = NULL;
    int p = s ? (int)s->mas : 0;

    if (m->fourier && s && s->accumulate)
        lrc = ct_error_set(CT_ERR_STATE, __func__, __LINE__,
                           "accumulating paint needs a real-space mesh");
    else if (p < 1 || p > 4)
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "unknown mass-assignment scheme %d", p);
    else if (!(s->shift >= 0 && s->shift <= 1.0))
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "paint shift %g not in [0, 1] cells",
                           s->shift);
    else if (n < 0 || (n > 0 && !pos))
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "bad particle arrays");
    else if ((uint64_t)n > UINT32_MAX)
        lrc = ct_error_set(CT_ERR_UNSUPPORTED, __func__, __LINE__,
                           "more than 2^32 particles on one rank");
    if (lrc == CT_OK && n > 0 && m->threads == 1) {
        /* one thread: the check, keeping each particle's colour (one bit, in the
         * mesh's scratch) for the two colour passes; without the buffer they find
         * the planes again */
        colour_bits = ct_mesh_scratch_(m, (size_t)((n + CT_MESH_BLOCK - 1) / CT_MESH_BLOCK) * 8);
        lrc = check_owned(m, n, pos, NULL, colour_bits);
    } else if (lrc == CT_OK && n > 0) {
        /* more: the chunk index, then the paint order, in the mesh's scratch */
        void *buf = ct_mesh_scratch_(m, (size_t)n * 8);
        if (!buf)
            lrc = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__,
                               "out of memory for %lld particle indices", (long long)n);
        else
            lrc = check_owned(m, n, pos, chunk = buf, NULL);
    }
    CT_CHECK_GOTO(rc, ct_mesh_agree_(m, lrc));

    /* zero: the ghosts this kernel reaches always (they carry only this call's
     * spill-over, and only they are added to their owners afterwards) */
    if (!s->accumulate) {
        ct_mesh_zero(m);
    } else {
        int lo, hi;
        ghost_extent(p, s->shift, &lo, &hi);
        memset(ct_mesh_plane_bytes_(m, -lo), 0, (size_t)lo * m->plane * m->esz);
        memset(ct_mesh_plane_bytes_(m, m->nx), 0, (size_t)hi * m->plane * m->esz);
    }

    const int64_t nchunk = (m->nx + CHUNK - 1) / CHUNK;
    if (n > 0 && m->threads == 1) {
        /* One thread: all particles of even chunks in input order, then those of
         * odd chunks. Within a colour a cell gets contributions from one chunk
         * only, so every cell adds them in exactly the order of the sorted chunk
         * lists below: the same sums bit for bit, without the sort. */
        for (int colour = 0; colour < 2; colour++) {
            if (m->f32)
                paint_colour_f32(m, p, s->shift, n, pos, w, w_uniform, colour, colour_bits);
            else
                paint_colour(m, p, s->shift, n, pos, w, w_uniform, colour, colour_bits);
        }
    } else if (n > 0) {
        /* stable counting sort of particle indices by chunk, in parallel: thread t
         * counts and then places the particles of its contiguous share, after
         * those of threads < t in every chunk, so each chunk keeps input order
         * whatever the thread count */
        const int T = m->threads;
        int64_t *fill = NULL;
        CT_CHECK_GOTO(rc, ct_calloc(&start, (size_t)nchunk + 1, sizeof(int64_t), "chunk table"));
        order = chunk + n;
        CT_CHECK_GOTO(rc, ct_calloc(&fill, (size_t)T * (size_t)nchunk, sizeof(int64_t),
                                    "chunk fill"));
#pragma omp parallel num_threads(T)
        {
            const int t = omp_get_thread_num();
            int64_t *h = fill + (size_t)t * (size_t)nchunk;
            const int64_t i0 = n * t / T, i1 = n * (t + 1) / T;
            ct_count_keys_(chunk, i0, i1, h);
#pragma omp barrier
#pragma omp single
            {
                int64_t run = 0;
                for (int64_t c = 0; c < nchunk; c++) {
                    start[c] = run;
                    for (int u = 0; u < T; u++) {
                        int64_t cnt = fill[(size_t)u * (size_t)nchunk + (size_t)c];
                        fill[(size_t)u * (size_t)nchunk + (size_t)c] = run;
                        run += cnt;
                    }
                }
                start[nchunk] = run;
            }
            ct_place_keys_(chunk, i0, i1, h, order);
        }
        free(fill);
        const double shift = s->shift;
        for (int color = 0; color < 2; color++) {
#pragma omp parallel for num_threads(m->threads) schedule(dynamic, 1)
            for (int64_t c = color; c < nchunk; c += 2) {
                if (p == 2 && m->f32)
                    paint_cic_run_f32(m, shift, pos, w, w_uniform, order, start[c], start[c + 1]);
                else if (p == 2)
                    paint_cic_run(m, shift, pos, w, w_uniform, order, start[c], start[c + 1]);
                else
                    for (int64_t k = start[c]; k < start[c + 1]; k++) {
                        uint32_t i = order[k];
                        const double wi = w ? (double)w[i] : w_uniform;
                        if (m->f32)
                            paint_one_f32(m, p, shift, pos + 3 * (size_t)i, wi);
                        else
                            paint_one(m, p, shift, pos + 3 * (size_t)i, wi);
                    }
            }
        }
    }
    m->fourier = 0;
    CT_CHECK_GOTO(rc, ct_mesh_ghosts_reduce_(m, (ct_mas)p, s->shift));
fail:
    free(start);
    return rc;
}

/* The ghost planes of rank r (if it owns planes) that a kernel reaching lo
 * below and hi above the slab uses: local offsets -lo..-1 and nx..nx+hi-1,
 * in that order; their global plane and owner. Returns their number. */
#define NGHOST (CT_MESH_GHOST_LO + CT_MESH_GHOST_HI)
static int ghost_planes(const ct_mesh *m, int r, int lo, int hi, int64_t off[NGHOST],
                        int64_t glob[NGHOST], int owner[NGHOST])
{
    int g = 0;
    for (int q = -lo; q < 0; q++)
        off[g++] = q;
    for (int q = 0; q < hi; q++)
        off[g++] = m->own_nx[r] + q;
    for (int k = 0; k < g; k++) {
        glob[k] = wrap(m->own_x0[r] + off[k], m->N);
        owner[k] = (int)m->plane_rank[glob[k]];
    }
    return g;
}

/* dst[i] += src[i] over one x-plane of the mesh's element type */
static void add_plane(ct_mesh *m, char *dst_bytes, const char *src_bytes)
{
    const size_t np = m->plane;
    if (m->f32) {
        float *dst = (float *)dst_bytes;
        const float *src = (const float *)src_bytes;
#pragma omp parallel for num_threads(m->threads) schedule(static)
        for (size_t i = 0; i < np; i++)
            dst[i] += src[i];
    } else {
        ct_real *dst = (ct_real *)dst_bytes;
        const ct_real *src = (const ct_real *)src_bytes;
#pragma omp parallel for num_threads(m->threads) schedule(static)
        for (size_t i = 0; i < np; i++)
            dst[i] += src[i];
    }
}

/* Shared by reduce (direction 0: ghosts -> owners, added) and fill
 * (direction 1: owners -> ghosts, copied), over the ghost planes lo below and
 * hi above every slab (ghost_extent of the kernel: a plane no particle can
 * reach holds zeros, and adding zero leaves a sum as it is, so only reachable
 * planes travel). One MPI_Alltoallv in units of planes; every rank derives
 * all message layouts from the slab table and the same lo, hi. */
static ct_status ghosts_exchange(ct_mesh *m, int direction, int lo, int hi)
{
    ct_status rc = CT_OK;
    const int P = m->size;
    if (P == 1) {
        /* one rank: straight between the ghost planes and the planes they wrap
         * to, in ghost order (what the message path below does, without its
         * buffers: fresh memory every call) */
        int64_t off[NGHOST], glob[NGHOST];
        int owner[NGHOST];
        const int ng = ghost_planes(m, 0, lo, hi, off, glob, owner);
        for (int g = 0; g < ng; g++) {
            char *own = ct_mesh_plane_bytes_(m, glob[g]);
            char *ghost = ct_mesh_plane_bytes_(m, off[g]);
            if (direction == 0)
                add_plane(m, own, ghost);
            else
                memcpy(ghost, own, m->plane * m->esz);
        }
        return CT_OK;
    }
    int *scount = NULL, *sdispl = NULL, *rcount = NULL, *rdispl = NULL;
    char *sbuf = NULL, *rbuf = NULL;
    const size_t pbytes = m->plane * m->esz;
    CT_CHECK_GOTO(rc, ct_calloc(&scount, (size_t)P, sizeof(int), "ghost counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&sdispl, (size_t)P, sizeof(int), "ghost counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&rcount, (size_t)P, sizeof(int), "ghost counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&rdispl, (size_t)P, sizeof(int), "ghost counts"));
    int64_t off[NGHOST], glob[NGHOST];
    int owner[NGHOST];

    /* direction 0: I send my ghosts to owners; I receive, from every rank r, r's
     * ghosts that I own. direction 1: the reverse. */
    int nmine = 0, ntheirs = 0;
    if (m->nx > 0) {
        nmine = ghost_planes(m, m->rank, lo, hi, off, glob, owner);
        for (int g = 0; g < nmine; g++)
            (direction == 0 ? scount : rcount)[owner[g]]++;
    }
    for (int r = 0; r < P; r++) {
        if (m->own_nx[r] == 0)
            continue;
        const int ng = ghost_planes(m, r, lo, hi, off, glob, owner);
        for (int g = 0; g < ng; g++)
            if (owner[g] == m->rank) {
                (direction == 0 ? rcount : scount)[r]++;
                ntheirs++;
            }
    }
    for (int r = 1; r < P; r++) {
        sdispl[r] = sdispl[r - 1] + scount[r - 1];
        rdispl[r] = rdispl[r - 1] + rcount[r - 1];
    }
    int nsend = direction == 0 ? nmine : ntheirs;
    int nrecv = direction == 0 ? ntheirs : nmine;
    CT_CHECK_GOTO(rc, ct_calloc(&sbuf, (size_t)nsend * m->plane + 1, m->esz, "ghost buffer"));
    CT_CHECK_GOTO(rc, ct_calloc(&rbuf, (size_t)nrecv * m->plane + 1, m->esz, "ghost buffer"));

    int *pos = NULL;
    CT_CHECK_GOTO(rc, ct_calloc(&pos, (size_t)P, sizeof(int), "ghost positions"));
    if (direction == 0) {
        /* pack my ghosts by destination, in ghost order */
        memcpy(pos, sdispl, (size_t)P * sizeof(int));
        if (m->nx > 0) {
            const int ng = ghost_planes(m, m->rank, lo, hi, off, glob, owner);
            for (int g = 0; g < ng; g++)
                memcpy(sbuf + (size_t)pos[owner[g]]++ * pbytes, ct_mesh_plane_bytes_(m, off[g]),
                       pbytes);
        }
    } else {
        /* pack the planes others need, by requesting rank, in their ghost order */
        memcpy(pos, sdispl, (size_t)P * sizeof(int));
        for (int r = 0; r < P; r++) {
            if (m->own_nx[r] == 0)
                continue;
            const int ng = ghost_planes(m, r, lo, hi, off, glob, owner);
            for (int g = 0; g < ng; g++)
                if (owner[g] == m->rank)
                    memcpy(sbuf + (size_t)pos[r]++ * pbytes,
                           ct_mesh_plane_bytes_(m, glob[g] - m->x0), pbytes);
        }
    }
    free(pos);
    if (MPI_Alltoallv(sbuf, scount, sdispl, m->plane_type, rbuf, rcount, rdispl, m->plane_type,
                      m->comm) != MPI_SUCCESS)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Alltoallv of ghost planes failed");

    if (direction == 0) {
        /* add received ghosts: senders in rank order, ghosts in order */
        int *rp = NULL;
        CT_CHECK_GOTO(rc, ct_calloc(&rp, (size_t)P, sizeof(int), "ghost positions"));
        memcpy(rp, rdispl, (size_t)P * sizeof(int));
        for (int r = 0; r < P; r++) {
            if (m->own_nx[r] == 0)
                continue;
            const int ng = ghost_planes(m, r, lo, hi, off, glob, owner);
            for (int g = 0; g < ng; g++) {
                if (owner[g] != m->rank)
                    continue;
                add_plane(m, ct_mesh_plane_bytes_(m, glob[g] - m->x0),
                          rbuf + (size_t)rp[r]++ * pbytes);
            }
        }
        free(rp);
    } else {
        /* my ghosts, by owner, in ghost order */
        int *rp = NULL;
        CT_CHECK_GOTO(rc, ct_calloc(&rp, (size_t)P, sizeof(int), "ghost positions"));
        memcpy(rp, rdispl, (size_t)P * sizeof(int));
        if (m->nx > 0) {
            const int ng = ghost_planes(m, m->rank, lo, hi, off, glob, owner);
            for (int g = 0; g < ng; g++)
                memcpy(ct_mesh_plane_bytes_(m, off[g]), rbuf + (size_t)rp[owner[g]]++ * pbytes,
                       pbytes);
        }
        free(rp);
    }
fail:
    free(scount);
    free(sdispl);
    free(rcount);
    free(rdispl);
    free(sbuf);
    free(rbuf);
    return rc;
}

ct_status ct_mesh_ghosts_reduce_(ct_mesh *m, ct_mas mas, double shift)
{
    int lo, hi;
    ghost_extent((int)mas, shift, &lo, &hi);
    CT_CHECK(ghosts_exchange(m, 0, lo, hi));
    return CT_OK;
}

ct_status ct_mesh_ghosts_fill_(ct_mesh *m, ct_mas mas)
{
    int lo, hi;
    ghost_extent((int)mas, 0, &lo, &hi);
    CT_CHECK(ghosts_exchange(m, 1, lo, hi));
    return CT_OK;
}

/* Readout of nm meshes of one geometry at the same particles: the kernel
 * weights and cells are computed once per particle, out[i * nm + j] is mesh j
 * (the same operations in the same order as a readout of mesh j alone). */
static ct_status readout_many(ct_mesh *const *ms, int nm, ct_mas mas, int64_t n, const float *pos,
                              double *out)
{
    ct_status rc = CT_OK, lrc = CT_OK;
    const ct_mesh *m = ms[0];
    int p = (int)mas;
    for (int j = 0; j < nm && lrc == CT_OK; j++) {
        const ct_mesh *mj = ms[j];
        if (mj->fourier)
            lrc = ct_error_set(CT_ERR_STATE, __func__, __LINE__, "readout needs a real-space mesh");
        else if (mj->f32)
            lrc = ct_error_set(CT_ERR_UNSUPPORTED, __func__, __LINE__,
                               "readout of a float32 mesh (only painting, the forward FFT and "
                               "P(k) take one)");
        else if (mj->N != m->N || mj->box != m->box || mj->x0 != m->x0 || mj->nx != m->nx ||
                 mj->size != m->size)
            lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__,
                               "readout of meshes of different geometries");
    }
    if (lrc != CT_OK)
        ;
    else if (p < 1 || p > 4)
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "unknown mass-assignment scheme %d", p);
    else if (n < 0 || (n > 0 && (!pos || !out)))
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "bad particle arrays");
    else
        lrc = check_owned(m, n, pos, NULL, NULL);
    CT_CHECK_GOTO(rc, ct_mesh_agree_(m, lrc));
    for (int j = 0; j < nm; j++)
        CT_CHECK_GOTO(rc, ct_mesh_ghosts_fill_(ms[j], mas));
    const int64_t N = m->N;
    const ptrdiff_t plane = (ptrdiff_t)m->plane, row = m->row, x0 = m->x0;
    const double ih = m->inv_h;
    if (p == 2) {
        /* CIC (the PM force readout): the loop below with p = 2 known to the
         * compiler, same operations in the same order */
#pragma omp parallel for num_threads(m->threads) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const float *x = pos + 3 * i;
            int64_t s0, s1, s2;
            double w0[4], w1[4], w2[4];
            kernel(2, x[0] * ih, &s0, w0);
            kernel(2, x[1] * ih, &s1, w1);
            kernel(2, x[2] * ih, &s2, w2);
            const int64_t z0 = wrap(s2, N), z1 = wrap(s2 + 1, N);
            ptrdiff_t off[2][2];
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    off[a][b] = (ptrdiff_t)(s0 + a - x0) * plane + wrap(s1 + b, N) * row;
            for (int j = 0; j < nm; j++) {
                const ct_real *d = ms[j]->data;
                double v = 0;
                for (int a = 0; a < 2; a++) {
                    for (int b = 0; b < 2; b++) {
                        const ct_real *r = d + off[a][b];
                        double vb = 0;
                        vb += w2[0] * r[z0];
                        vb += w2[1] * r[z1];
                        v += w0[a] * w1[b] * vb;
                    }
                }
                out[i * nm + j] = v;
            }
        }
        goto fail;
    }
#pragma omp parallel for num_threads(m->threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = pos + 3 * i;
        int64_t s0, s1, s2;
        double w0[4], w1[4], w2[4];
        kernel(p, x[0] * ih, &s0, w0);
        kernel(p, x[1] * ih, &s1, w1);
        kernel(p, x[2] * ih, &s2, w2);
        for (int j = 0; j < nm; j++) {
            const ct_real *d = ms[j]->data;
            double v = 0;
            for (int a = 0; a < p; a++) {
                const ct_real *pl = d + (ptrdiff_t)(s0 + a - x0) * plane;
                for (int b = 0; b < p; b++) {
                    const ct_real *r = pl + wrap(s1 + b, N) * row;
                    double vb = 0;
                    for (int c = 0; c < p; c++)
                        vb += w2[c] * r[wrap(s2 + c, N)];
                    v += w0[a] * w1[b] * vb;
                }
            }
            out[i * nm + j] = v;
        }
    }
fail:
    return rc;
}

ct_status ct_mesh_readout(ct_mesh *m, ct_mas mas, int64_t n, const float *pos, double *out)
{
    return readout_many(&m, 1, mas, n, pos, out);
}

ct_status ct_mesh_readout_n(ct_mesh *const *m, int nm, ct_mas mas, int64_t n, const float *pos,
                            double *out)
{
    if (!m || nm < 1 || nm > 64)
        CT_FAIL(CT_ERR_ARG, "readout of %d meshes (need 1..64)", nm);
    for (int j = 0; j < nm; j++)
        if (!m[j])
            CT_FAIL(CT_ERR_ARG, "readout: mesh %d is NULL", j);
    return readout_many(m, nm, mas, n, pos, out);
}
