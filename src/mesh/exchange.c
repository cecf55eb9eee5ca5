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

ct_status ct_mesh_exchange(const ct_mesh *m, int64_t *n_io, float **pos_io, int npayload,
                           const ct_payload *payload)
{
    ct_status rc = CT_OK, lrc = CT_OK;
    const int P = m->size;
    const int64_t n = *n_io;
    float *pos = *pos_io;
    int64_t *dest_count = NULL, *src_count = NULL, *sdispl = NULL, *rdispl = NULL;
    int64_t *plane_start = NULL;
    uint32_t *gplane = NULL;
    char *sbuf = NULL, *rbuf = NULL;
    float *npos = NULL;
    void **npay = NULL;
    MPI_Request *req = NULL;
    int nreq = 0;

    size_t rec = 3 * sizeof(float);
    for (int k = 0; k < npayload; k++)
        rec += payload[k].size;

    if (n < 0 || (n > 0 && !pos) || npayload < 0 || (npayload > 0 && !payload))
        lrc = ct_error_set(CT_ERR_ARG, __func__, __LINE__, "bad particle arrays");
    if (lrc == CT_OK && n > 0 && P > 1)
        lrc = ct_calloc_huge(&gplane, (size_t)n, sizeof(uint32_t), "particle planes");
    /* wrap into [0, L) and find every particle's plane: a branch-free check of
     * each block, and the wrapping only in blocks that need it */
    int64_t bad = INT64_MAX;
    if (lrc == CT_OK) {
        const int64_t nblock = (n + CT_MESH_BLOCK - 1) / CT_MESH_BLOCK;
#pragma omp parallel for num_threads(m->threads) schedule(static) reduction(min : bad)
        for (int64_t b = 0; b < nblock; b++) {
            const int64_t i0 = b * CT_MESH_BLOCK;
            const int cnt = (int)(n - i0 < CT_MESH_BLOCK ? n - i0 : CT_MESH_BLOCK);
            int32_t tmp[CT_MESH_BLOCK];
            int32_t *pl = gplane ? (int32_t *)gplane + i0 : tmp;
            if (!ct_mesh_block_planes_(m, cnt, pos + 3 * i0, pl))
                continue;
            for (int64_t i = i0; i < i0 + cnt; i++) {
                for (int a = 0; a < 3; a++) {
                    double x = pos[3 * i + a];
                    if (!isfinite(x)) {
                        bad = i < bad ? i : bad;
                        break;
                    }
                    if (x < 0 || x >= m->box) {
                        x = fmod(x, m->box);
                        if (x < 0)
                            x += m->box;
                        float f = (float)x;
                        if (f >= (float)m->box || f < 0)
                            f = 0; /* rounding put it on L: that is 0 */
                        pos[3 * i + a] = f;
                    }
                }
                pl[i - i0] = (int32_t)ct_mesh_plane_of_(m, pos[3 * i]);
            }
        }
        if (bad != INT64_MAX)
            lrc = ct_error_set(CT_ERR_NUMERIC, __func__, __LINE__,
                               "particle %lld has a non-finite position", (long long)bad);
    }
    CT_CHECK_GOTO(rc, ct_agree(m->comm, lrc));
    if (P == 1)
        goto fail; /* one rank: every particle is already home (rc is CT_OK) */

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
    const int64_t nnew = rdispl[P];

    /* Records travel in plane order (hence destination order). Particles that
     * stay on this rank are copied straight to their place in the new arrays;
     * only the others are packed, sent, received and unpacked. The send and
     * receive buffers hold just those (self's block is cut out of the layout);
     * the receive buffer lives in the mesh's scratch, reused by every exchange
     * and paint of a run (a cache, not part of the mesh's state). */
    const int me = m->rank;
    const int64_t nself = dest_count[me];
    const int64_t s0 = sdispl[me], s1 = sdispl[me + 1], r0 = rdispl[me];
    lrc = ct_calloc_huge(&npos, 3 * (size_t)nnew + 1, sizeof(float), "exchanged positions");
    if (lrc == CT_OK && npayload > 0)
        lrc = ct_calloc(&npay, (size_t)npayload, sizeof(void *), "payload table");
    for (int k = 0; lrc == CT_OK && k < npayload; k++)
        lrc = ct_calloc_huge(&npay[k], (size_t)nnew * payload[k].size + 1, 1, "exchanged payload");
    if (lrc == CT_OK)
        lrc = ct_calloc_huge(&sbuf, (size_t)(n - nself) * rec + 1, 1, "exchange send buffer");
    if (lrc == CT_OK) {
        rbuf = ct_mesh_scratch_((struct ct_mesh *)m, (size_t)(nnew - nself) * rec + 1);
        if (!rbuf)
            lrc = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__,
                               "out of memory for the exchange of %lld particles",
                               (long long)(nnew - nself));
    }
    CT_CHECK_GOTO(rc, ct_agree(m->comm, lrc));
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
            memcpy(npos + 3 * j, pos + 3 * i, 3 * sizeof(float));
            for (int k = 0; k < npayload; k++)
                memcpy((char *)npay[k] + (size_t)j * payload[k].size,
                       (char *)*payload[k].data + (size_t)i * payload[k].size, payload[k].size);
            continue;
        }
        char *r = sbuf + (size_t)(slot < s0 ? slot : slot - nself) * rec;
        memcpy(r, pos + 3 * i, 3 * sizeof(float));
        r += 3 * sizeof(float);
        for (int k = 0; k < npayload; k++) {
            memcpy(r, (char *)*payload[k].data + (size_t)i * payload[k].size, payload[k].size);
            r += payload[k].size;
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
            memcpy((char *)npay[k] + (size_t)i * payload[k].size, r, payload[k].size);
            r += payload[k].size;
        }
    }
    free(*pos_io);
    *pos_io = npos;
    npos = NULL;
    for (int k = 0; k < npayload; k++) {
        free(*payload[k].data);
        *payload[k].data = npay[k];
        npay[k] = NULL;
    }
    *n_io = nnew;
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
