/* Particle exchange: every particle goes to the rank owning its x-plane.
 * A counting sort by global plane groups the particles by destination (ranks
 * own contiguous plane ranges); counts travel as int64 and the data as
 * point-to-point messages of at most 1 GiB each, so no int overflows however
 * many particles a rank holds. */
#include <stdlib.h>
#include <string.h>

#include "mesh_private.h"

#define MSG_MAX ((int64_t)1 << 30)
#define TAG_BASE 7100

/* Post sends or receives of `bytes` bytes to/from peer in chunks. */
static int post_chunks(char *buf, int64_t bytes, int peer, int send, MPI_Comm comm,
                       MPI_Request *req, int *nreq)
{
    int tag = 0;
    for (int64_t off = 0; off < bytes; off += MSG_MAX, tag++) {
        int len = (int)(bytes - off < MSG_MAX ? bytes - off : MSG_MAX);
        int e = send ? MPI_Isend(buf + off, len, MPI_BYTE, peer, TAG_BASE + tag, comm,
                                 &req[(*nreq)++])
                     : MPI_Irecv(buf + off, len, MPI_BYTE, peer, TAG_BASE + tag, comm,
                                 &req[(*nreq)++]);
        if (e != MPI_SUCCESS)
            return -1;
    }
    return 0;
}

/* A coordinate wrapped into [0, L): x itself when inside (so the wrap of a
 * wrapped value is the same value), else fmod, with a rounding onto L taken
 * as 0. */
static inline float wrap_coord(float xf, double box)
{
    double x = xf;
    if (x >= 0 && x < box)
        return xf;
    x = fmod(x, box);
    if (x < 0)
        x += box;
    float f = (float)x;
    if (f >= (float)box || f < 0)
        f = 0; /* rounding put it on L: that is 0 */
    return f;
}

/* One record's positions into dst: copied, and wrapped when some input lay
 * outside [0, L) and was not wrapped in place. */
static inline void put_pos(float *dst, const float *src, int wrap, double box)
{
    if (!wrap) {
        memcpy(dst, src, 3 * sizeof(float));
        return;
    }
    for (int a = 0; a < 3; a++)
        dst[a] = wrap_coord(src[a], box);
}

/* Payload k of either entry point: its array and its record size. */
#define PD(k) ((const char *)(pio ? *pio[k].data : pin[k].data))
#define PS(k) (pio ? pio[k].size : pin[k].size)

/* The exchange of both entry points, with the payloads of ct_mesh_exchange
 * (pio: in place) or of ct_mesh_exchange_const (pin). pos (n x 3) and the
 * payload arrays are read only, except that in place (pio or npayload == 0
 * with inplace) the positions outside [0, L) are wrapped in pos itself and
 * pio's arrays are replaced by the new ones (the old ones freed). On success
 * *n_out and *pos_out (and pay_out[k] for pin) are the new malloc'd arrays,
 * except on one rank in place, where nothing is allocated (*pos_out = NULL:
 * the input arrays are the result). On error nothing changes hands.
 * Collective. */
static ct_status exchange(const ct_mesh *m, int64_t n, const float *pos, int inplace,
                          int npayload, const ct_payload *pio, const ct_payload_in *pin,
                          int64_t *n_out, float **pos_out, void **pay_out)
{
    ct_status rc = CT_OK, lrc = CT_OK;
    const int P = m->size;
    int64_t *dest_count = NULL, *src_count = NULL, *sdispl = NULL, *rdispl = NULL;
    int64_t *plane_start = NULL;
    uint32_t *gplane = NULL;
    char *sbuf = NULL, *rbuf = NULL;
    float *npos = NULL;
    void **npay = NULL;
    MPI_Request *req = NULL;
    int nreq = 0;
    int wrap = 0; /* some position was outside [0, L) and is wrapped on copying */
    int64_t nnew = 0;

    size_t rec = 3 * sizeof(float);

    *n_out = 0;
    *pos_out = NULL;
    for (int k = 0; pin && pay_out && k < npayload; k++)
        pay_out[k] = NULL;
    if (n < 0 || (n > 0 && !pos) || npayload < 0 ||
        (npayload > 0 && (pio ? !inplace : !pin || !pay_out)))
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "bad particle arrays");
    for (int k = 0; lrc == CT_OK && k < npayload; k++) {
        if ((pio && !pio[k].data) || (n > 0 && !PD(k)) || PS(k) == 0)
            lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "bad particle payload %d", k);
        else
            rec += PS(k);
    }
    if (lrc == CT_OK && n > 0 && P > 1)
        lrc = ct_calloc_huge(&gplane, (size_t)n, sizeof(uint32_t), "particle planes");
    /* find every particle's plane (of its wrapped position): a branch-free
     * check of each block, and the wrapping only in blocks that need it */
    int64_t bad = INT64_MAX;
    if (lrc == CT_OK) {
        const int64_t nblock = (n + CT_MESH_BLOCK - 1) / CT_MESH_BLOCK;
        float *mut = inplace ? (float *)pos : NULL;
#pragma omp parallel for num_threads(m->threads) schedule(static) reduction(min : bad) \
    reduction(| : wrap)
        for (int64_t b = 0; b < nblock; b++) {
            const int64_t i0 = b * CT_MESH_BLOCK;
            const int cnt = (int)(n - i0 < CT_MESH_BLOCK ? n - i0 : CT_MESH_BLOCK);
            int32_t tmp[CT_MESH_BLOCK];
            int32_t *pl = gplane ? (int32_t *)gplane + i0 : tmp;
            /* one rank (no plane table): only whether the block needs the
             * slow path, the same predicate without the planes nobody reads */
            if (gplane ? !ct_mesh_block_planes_(m, cnt, pos + 3 * i0, pl)
                       : !ct_mesh_any_outside_(cnt, pos + 3 * i0, m->box))
                continue;
            for (int64_t i = i0; i < i0 + cnt; i++) {
                float w[3];
                int fin = 1;
                for (int a = 0; a < 3 && fin; a++) {
                    fin = isfinite(pos[3 * i + a]);
                    w[a] = fin ? wrap_coord(pos[3 * i + a], m->box) : 0;
                    wrap |= fin && w[a] != pos[3 * i + a];
                }
                if (!fin) {
                    bad = i < bad ? i : bad;
                    continue;
                }
                if (mut)
                    memcpy(mut + 3 * i, w, sizeof w);
                pl[i - i0] = (int32_t)ct_mesh_plane_of_(m, w[0]);
            }
        }
        if (bad != INT64_MAX)
            lrc = ct_error_set(CT_ERR_NUMERIC, __func__, __LINE__,
                               "particle %lld has a non-finite position", (long long)bad);
    }
    if (inplace)
        wrap = 0; /* pos holds the wrapped values now */
    CT_CHECK_GOTO(rc, ct_mesh_agree_(m, lrc));
    if (P == 1) {
        /* one rank: every particle is already home, in its order */
        if (inplace) {
            *n_out = n;
            goto fail; /* rc is CT_OK; nothing allocated */
        }
        lrc = ct_calloc_huge(&npos, 3 * (size_t)n + 1, sizeof(float), "exchanged positions");
        if (lrc == CT_OK && npayload > 0)
            lrc = ct_calloc(&npay, (size_t)npayload, sizeof(void *), "payload table");
        for (int k = 0; lrc == CT_OK && k < npayload; k++)
            lrc = ct_calloc_huge(&npay[k], (size_t)n * PS(k) + 1, 1, "exchanged payload");
        CT_CHECK_GOTO(rc, lrc);
        if (!wrap && n > 0)
            memcpy(npos, pos, 3 * (size_t)n * sizeof(float));
        else
            for (int64_t i = 0; i < n; i++)
                put_pos(npos + 3 * i, pos + 3 * i, 1, m->box);
        for (int k = 0; k < npayload; k++)
            if (n > 0)
                memcpy(npay[k], PD(k), (size_t)n * PS(k));
        nnew = n;
        goto done;
    }

    CT_CHECK_GOTO(rc, ct_calloc(&dest_count, (size_t)P, sizeof(int64_t), "exchange counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&src_count, (size_t)P, sizeof(int64_t), "exchange counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&sdispl, (size_t)P + 1, sizeof(int64_t), "exchange counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&rdispl, (size_t)P + 1, sizeof(int64_t), "exchange counts"));
    CT_CHECK_GOTO(rc, ct_calloc(&plane_start, (size_t)m->N + 1, sizeof(int64_t), "plane counts"));
    ct_count_keys_(gplane, 0, n, plane_start + 1);
    for (int64_t g = 0; g < m->N; g++) {
        dest_count[m->plane_rank[g]] += plane_start[g + 1];
        plane_start[g + 1] += plane_start[g];
    }
    if (MPI_Alltoall(dest_count, 1, MPI_INT64_T, src_count, 1, MPI_INT64_T, m->comm) !=
        MPI_SUCCESS)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Alltoall of particle counts failed");
    for (int r = 0; r < P; r++) {
        sdispl[r + 1] = sdispl[r] + dest_count[r];
        rdispl[r + 1] = rdispl[r] + src_count[r];
    }
    nnew = rdispl[P];

    /* Records travel in plane order (hence destination order). Particles that
     * stay on this rank are copied straight to their place in the new arrays;
     * only the others are packed, sent, received and unpacked. The send and
     * receive buffers hold just those (self's block is cut out of the layout);
     * the receive buffer lives in the mesh's scratch, reused by every exchange
     * and paint of a run (a cache, not part of the mesh's state). */
    const int me = m->rank;
    const int64_t nself = dest_count[me];
    const int64_t s0 = sdispl[me], s1 = sdispl[me + 1], r0 = rdispl[me];
    /* the scratch (kept) before the new arrays (handed out): a caller that frees
     * those leaves free memory at the heap top, where the FFT's buffers reuse it */
    rbuf = ct_mesh_scratch_((struct ct_mesh *)m, (size_t)(nnew - nself) * rec + 1);
    lrc = rbuf ? CT_OK
               : ct_error_set(CT_ERR_MEMORY, __func__, __LINE__,
                              "out of memory for the exchange of %lld particles",
                              (long long)(nnew - nself));
    if (lrc == CT_OK)
        lrc = ct_calloc_huge(&npos, 3 * (size_t)nnew + 1, sizeof(float), "exchanged positions");
    if (lrc == CT_OK && npayload > 0)
        lrc = ct_calloc(&npay, (size_t)npayload, sizeof(void *), "payload table");
    for (int k = 0; lrc == CT_OK && k < npayload; k++)
        lrc = ct_calloc_huge(&npay[k], (size_t)nnew * PS(k) + 1, 1, "exchanged payload");
    if (lrc == CT_OK)
        lrc = ct_calloc_huge(&sbuf, (size_t)(n - nself) * rec + 1, 1, "exchange send buffer");
    CT_CHECK_GOTO(rc, ct_mesh_agree_(m, lrc));
    /* in plane order; runs of one plane in registers (see ct_count_keys_) */
    uint32_t prev = n > 0 ? gplane[0] : 0;
    int64_t next = plane_start[prev];
    for (int64_t i = 0; i < n; i++) {
        if (gplane[i] != prev) {
            plane_start[prev] = next;
            prev = gplane[i];
            next = plane_start[prev];
        }
        const int64_t slot = next++;
        if (slot >= s0 && slot < s1) {
            const int64_t j = r0 + (slot - s0);
            put_pos(npos + 3 * j, pos + 3 * i, wrap, m->box);
            for (int k = 0; k < npayload; k++)
                memcpy((char *)npay[k] + (size_t)j * PS(k), PD(k) + (size_t)i * PS(k), PS(k));
            continue;
        }
        char *r = sbuf + (size_t)(slot < s0 ? slot : slot - nself) * rec;
        float w[3];
        put_pos(w, pos + 3 * i, wrap, m->box);
        memcpy(r, w, sizeof w);
        r += 3 * sizeof(float);
        for (int k = 0; k < npayload; k++) {
            memcpy(r, PD(k) + (size_t)i * PS(k), PS(k));
            r += PS(k);
        }
    }
    free(gplane);
    gplane = NULL;

    /* chunked point-to-point transfer of the rest */
    int64_t maxreq = 0;
    for (int r = 0; r < P; r++)
        maxreq += (dest_count[r] * (int64_t)rec + MSG_MAX - 1) / MSG_MAX +
                  (src_count[r] * (int64_t)rec + MSG_MAX - 1) / MSG_MAX;
    CT_CHECK_GOTO(rc, ct_calloc(&req, (size_t)maxreq + 1, sizeof(MPI_Request), "requests"));
    int e = 0;
    for (int r = 0; r < P && !e; r++)
        if (r != me && src_count[r] > 0)
            e = post_chunks(rbuf + (r < me ? rdispl[r] : rdispl[r] - nself) * rec,
                            src_count[r] * (int64_t)rec, r, 0, m->comm, req, &nreq);
    for (int r = 0; r < P && !e; r++)
        if (r != me && dest_count[r] > 0)
            e = post_chunks(sbuf + (r < me ? sdispl[r] : sdispl[r] - nself) * rec,
                            dest_count[r] * (int64_t)rec, r, 1, m->comm, req, &nreq);
    if (!e && nreq > 0)
        e = MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS;
    if (e)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "particle exchange messages failed");
    free(sbuf);
    sbuf = NULL;

    /* unpack what arrived: received record q goes before or after self's block */
    for (int64_t q = 0; q < nnew - nself; q++) {
        const int64_t i = q < r0 ? q : q + nself;
        const char *r = rbuf + (size_t)q * rec;
        memcpy(npos + 3 * i, r, 3 * sizeof(float));
        r += 3 * sizeof(float);
        for (int k = 0; k < npayload; k++) {
            memcpy((char *)npay[k] + (size_t)i * PS(k), r, PS(k));
            r += PS(k);
        }
    }
done:
    for (int k = 0; k < npayload; k++) {
        if (pio) {
            free(*pio[k].data);
            *pio[k].data = npay[k];
        } else {
            pay_out[k] = npay[k];
        }
        npay[k] = NULL;
    }
    *n_out = nnew;
    *pos_out = npos;
    npos = NULL;
fail:
    free(dest_count);
    free(src_count);
    free(sdispl);
    free(rdispl);
    free(plane_start);
    free(gplane);
    free(sbuf);
    free(npos);
    if (npay) {
        for (int k = 0; k < npayload; k++)
            free(npay[k]);
        free(npay);
    }
    free(req);
    return rc;
}

#undef PD
#undef PS

ct_status ct_mesh_exchange(const ct_mesh *m, int64_t *n_io, float **pos_io, int npayload,
                           const ct_payload *payload)
{
    float *npos = NULL;
    int64_t nnew = 0;
    ct_status rc = exchange(m, *n_io, *pos_io, 1, npayload, payload, NULL, &nnew, &npos, NULL);
    if (rc == CT_OK && npos) { /* several ranks: the new positions replace the old */
        free(*pos_io);
        *pos_io = npos;
        *n_io = nnew;
    }
    return rc;
}

ct_status ct_mesh_exchange_const(const ct_mesh *m, int64_t n, const float *pos, int npayload,
                                 const ct_payload_in *payload, int64_t *n_out, float **pos_out,
                                 void **payload_out)
{
    return exchange(m, n, pos, 0, npayload, NULL, payload, n_out, pos_out, payload_out);
}
