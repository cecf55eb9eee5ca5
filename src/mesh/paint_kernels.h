/* The painting kernels of paint.c, written once for both mesh precisions:
 * paint.c includes this file twice, with
 *   PK_REAL      the field's element type (ct_real, or float for a float32 mesh),
 *   PK_NAME(x)   the name of each function and type of that instance,
 *   PK_FIELD(m)  the field pointer of that precision (m->data or m->fdata).
 * Weights and kernel arithmetic are double in both; only the stored
 * contributions and the cells they are added to have the element type. */
#if !defined(PK_REAL) || !defined(PK_NAME) || !defined(PK_FIELD)
#error "paint_kernels.h is included by paint.c with PK_REAL, PK_NAME and PK_FIELD defined"
#endif

static void PK_NAME(paint_one)(ct_mesh *m, int p, double shift, const float *x, double w)
{
    const int64_t N = m->N;
    int64_t s0, s1, s2;
    double w0[4], w1[4], w2[4];
    kernel(p, x[0] * m->inv_h + shift, &s0, w0);
    kernel(p, x[1] * m->inv_h + shift, &s1, w1);
    kernel(p, x[2] * m->inv_h + shift, &s2, w2);
    int64_t jj[4], ll[4];
    for (int q = 0; q < p; q++) {
        jj[q] = wrap(s1 + q, N);
        ll[q] = wrap(s2 + q, N);
    }
    for (int a = 0; a < p; a++) {
        /* local plane, may be a ghost: -GHOST_LO .. nx + GHOST_HI - 1 */
        PK_REAL *pl = PK_FIELD(m) + (ptrdiff_t)(s0 + a - m->x0) * (ptrdiff_t)m->plane;
        double wa = w * w0[a];
        for (int b = 0; b < p; b++) {
            PK_REAL *r = pl + jj[b] * m->row;
            double wab = wa * w1[b];
            for (int c = 0; c < p; c++)
                r[ll[c]] += (PK_REAL)(wab * w2[c]);
        }
    }
}

/* CIC, the common case, in blocks of particles: first every particle's cell
 * offset, neighbour steps and weights (prefetching the four rows it will update),
 * then the eight updates of the previous block. Separating the index arithmetic
 * from the scattered read-modify-writes keeps many cache misses in flight; the
 * products and their order are those of paint_one, so both paths give identical
 * sums. */
typedef struct {
    int n;
    ptrdiff_t off[CIC_BLOCK], dy[CIC_BLOCK], dz[CIC_BLOCK];
    PK_REAL c[8][CIC_BLOCK]; /* the eight contributions, (x, y, z) offsets in binary */
} PK_NAME(cic_block);

static inline void PK_NAME(cic_scatter)(ct_mesh *m, const PK_NAME(cic_block) *b)
{
    const ptrdiff_t pl = (ptrdiff_t)m->plane;
    for (int k = 0; k < b->n; k++) {
        PK_REAL *r00 = PK_FIELD(m) + b->off[k], *r01 = r00 + b->dy[k];
        PK_REAL *r10 = r00 + pl, *r11 = r01 + pl;
        const ptrdiff_t dz = b->dz[k];
        r00[0] += b->c[0][k];
        r00[dz] += b->c[1][k];
        r01[0] += b->c[2][k];
        r01[dz] += b->c[3][k];
        r10[0] += b->c[4][k];
        r10[dz] += b->c[5][k];
        r11[0] += b->c[6][k];
        r11[dz] += b->c[7][k];
    }
}

/* The index and weight arithmetic of a whole block at once, on positions gathered
 * into arrays: straight-line code the compiler vectorises (32-bit cell indices:
 * N < 2^15 keeps iy * row below 2^31). Same operations, hence the same values, as
 * cic_prepare. */
CT_MESH_CLONES
static void PK_NAME(cic_prepare_block)(const ct_mesh *m, double shift, int cnt,
                              const float *restrict px, const float *restrict py,
                              const float *restrict pz, const double *restrict pw,
                              PK_NAME(cic_block) *restrict b)
{
    const int32_t N = (int32_t)m->N, row = (int32_t)m->row, x0 = (int32_t)m->x0;
    const ptrdiff_t plane = (ptrdiff_t)m->plane;
    const double ih = m->inv_h;
    for (int k = 0; k < cnt; k++) {
        double sx = px[k] * ih + shift, sy = py[k] * ih + shift, sz = pz[k] * ih + shift;
        int32_t ix = (int32_t)sx, jy = (int32_t)sy, jz = (int32_t)sz;
        double ux = sx - (double)ix, uy = sy - (double)jy, uz = sz - (double)jz;
        int32_t iy = jy >= N ? jy - N : jy, iz = jz >= N ? jz - N : jz;
        int32_t iy1 = iy + 1 == N ? 0 : iy + 1, iz1 = iz + 1 == N ? 0 : iz + 1;
        b->off[k] = (ptrdiff_t)(ix - x0) * plane + (ptrdiff_t)(iy * row + iz);
        b->dy[k] = (ptrdiff_t)((iy1 - iy) * row);
        b->dz[k] = (ptrdiff_t)(iz1 - iz);
        const double w0 = pw[k] * (1 - ux), w1 = pw[k] * ux, vz0 = 1 - uz, vz1 = uz;
        const double w00 = w0 * (1 - uy), w01 = w0 * uy, w10 = w1 * (1 - uy), w11 = w1 * uy;
        b->c[0][k] = (PK_REAL)(w00 * vz0);
        b->c[1][k] = (PK_REAL)(w00 * vz1);
        b->c[2][k] = (PK_REAL)(w01 * vz0);
        b->c[3][k] = (PK_REAL)(w01 * vz1);
        b->c[4][k] = (PK_REAL)(w10 * vz0);
        b->c[5][k] = (PK_REAL)(w10 * vz1);
        b->c[6][k] = (PK_REAL)(w11 * vz0);
        b->c[7][k] = (PK_REAL)(w11 * vz1);
    }
    b->n = cnt;
}

/* CIC-paint particles idx[k0..k1), in that order. */
static void PK_NAME(paint_cic_run)(ct_mesh *m, double shift, const float *pos, const float *w,
                          double w_uniform, const uint32_t *idx, int64_t k0, int64_t k1)
{
    PK_NAME(cic_block) blk[2];
    float px[CIC_BLOCK], py[CIC_BLOCK], pz[CIC_BLOCK];
    double pw[CIC_BLOCK];
    int cur = 0;
    blk[0].n = blk[1].n = 0;
    for (int64_t k = k0; k < k1; k += CIC_BLOCK) {
        const int cnt = (int)(k1 - k < CIC_BLOCK ? k1 - k : CIC_BLOCK);
        for (int q = 0; q < cnt; q++) {
            const uint32_t i = idx[k + q];
            px[q] = pos[3 * (size_t)i];
            py[q] = pos[3 * (size_t)i + 1];
            pz[q] = pos[3 * (size_t)i + 2];
            pw[q] = w ? (double)w[i] : w_uniform;
        }
        PK_NAME(cic_block) *b = &blk[cur];
        PK_NAME(cic_prepare_block)(m, shift, cnt, px, py, pz, pw, b);
        for (int q = 0; q < cnt; q++) {
            const PK_REAL *r = PK_FIELD(m) + b->off[q];
            __builtin_prefetch(r, 1, 3);
            __builtin_prefetch(r + b->dy[q], 1, 3);
            __builtin_prefetch(r + m->plane, 1, 3);
            __builtin_prefetch(r + m->plane + b->dy[q], 1, 3);
        }
        /* the other block's rows were prefetched a whole block ago */
        PK_NAME(cic_scatter)(m, &blk[1 - cur]);
        blk[1 - cur].n = 0;
        cur = 1 - cur;
    }
    PK_NAME(cic_scatter)(m, &blk[1 - cur]);
}

/* One thread: the particles of one colour (even or odd chunks) in input order,
 * found again from their positions in pieces of PIECE indices: the paint order
 * of the colour-split list this replaced, without a 4-byte-per-particle list
 * (fresh memory on the first snapshot of every process). Positions already
 * checked. */
static void PK_NAME(paint_colour)(ct_mesh *m, int p, double shift, int64_t n, const float *pos,
                         const float *w, double w_uniform, int colour,
                         const uint64_t *bits)
{
    uint32_t idx[PIECE + CT_MESH_BLOCK];
    int64_t k = 0;
    for (int64_t i = 0; i < n; i += CT_MESH_BLOCK) {
        const int cnt = (int)(n - i < CT_MESH_BLOCK ? n - i : CT_MESH_BLOCK);
        if (bits) {
            /* the particles of this colour, in input order, from check_owned */
            uint64_t sel = colour ? bits[i / CT_MESH_BLOCK] : ~bits[i / CT_MESH_BLOCK];
            if (cnt < CT_MESH_BLOCK)
                sel &= ((uint64_t)1 << cnt) - 1;
            while (sel) {
                idx[k++] = (uint32_t)(i + __builtin_ctzll(sel));
                sel &= sel - 1;
            }
        } else {
            int32_t lp[CT_MESH_BLOCK];
            block_local_planes(m, cnt, pos + 3 * i, lp);
            for (int q = 0; q < cnt; q++) {
                idx[k] = (uint32_t)(i + q);
                k += ((lp[q] / CHUNK) & 1) == colour;
            }
        }
        if (k >= PIECE || i + cnt >= n) {
            if (p == 2)
                PK_NAME(paint_cic_run)(m, shift, pos, w, w_uniform, idx, 0, k);
            else
                for (int64_t j = 0; j < k; j++)
                    PK_NAME(paint_one)(m, p, shift, pos + 3 * (size_t)idx[j],
                              w ? (double)w[idx[j]] : w_uniform);
            k = 0;
        }
    }
}

#undef PK_REAL
#undef PK_NAME
#undef PK_FIELD
