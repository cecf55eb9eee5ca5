/* The per-snapshot summarize pipeline (cosmotl/summarize.h): read, exchange,
 * one density mesh, P(k) / marked P(k) / bispectrum, one summary file. */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/summarize.h"
#include "cosmotl/summary.h"

/* Reading in a helper thread: one rank's particles of a snapshot (or one chunk
 * of them) with ct_snapshot_read_range (files and HDF5 only, no MPI), while the
 * main thread creates the meshes (first snapshot), paints the previous chunk, or
 * computes the previous snapshot (batches, ct_summarize_prefetch). The HDF5
 * library here is not built thread-safe, so while a job runs the main thread
 * makes no HDF5 call: it joins it before the bispectrum (counts cache), the
 * marked spectrum and writing. */
typedef struct {
    int running; /* the thread was started and not yet joined */
    pthread_t th;
    ct_snapshot *snap;
    ct_read_settings rs;
    int n, types[2];
    int64_t first[2], count[2];
    ct_particles p[2];
    ct_status rc; /* the read's status on this rank, message in msg */
    char *msg;
} read_job;

static void *job_main(void *arg)
{
    read_job *j = arg;
    j->rc = CT_OK;
    for (int t = 0; t < j->n && j->rc == CT_OK; t++)
        j->rc = ct_snapshot_read_range(j->snap, j->types[t], j->first[t], j->count[t], &j->rs,
                                       &j->p[t]);
    if (j->rc != CT_OK) {
        /* the message is this thread's (thread-local): hand it over */
        ct_error_push(j->rc, __func__, __LINE__);
        j->msg = strdup(ct_error_message());
    }
    return NULL;
}

/* Start j (in a thread if MPI allows one; it makes no MPI call, but
 * MPI_THREAD_SINGLE promises one thread) */
static void job_start(read_job *j)
{
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    free(j->msg);
    j->msg = NULL;
    memset(j->p, 0, sizeof j->p);
    if (level >= MPI_THREAD_FUNNELED && pthread_create(&j->th, NULL, job_main, j) == 0)
        j->running = 1;
    else
        job_main(j);
}

static void job_join(read_job *j)
{
    if (j->running) {
        pthread_join(j->th, NULL);
        j->running = 0;
    }
}

/* Join, and this rank's status with its message set (CT_OK or the read's). */
static ct_status job_status(read_job *j)
{
    job_join(j);
    if (j->rc != CT_OK)
        return ct_error_restore(j->rc, j->msg ? j->msg : "reading the snapshot failed");
    return CT_OK;
}

static void job_free(read_job *j)
{
    job_join(j);
    ct_particles_free(&j->p[0]);
    ct_particles_free(&j->p[1]);
    free(j->msg);
    j->msg = NULL;
}

/* The snapshot being read: the current one, or (ct_summarize_prefetch) the next. */
typedef struct {
    int open; /* snap is open; the fields below belong to it */
    char *path;
    ct_snapshot *snap;
    int ntypes;    /* types measured: PartType1, and PartType2 for total matter */
    int stream;    /* one particle type, no mark: this rank's share read in chunks,
                      each exchanged (several ranks) and painted as it comes */
    int64_t chunk; /* particles per chunk */
    int64_t first0, share; /* stream: this rank's share [first0, first0 + share) */
    read_job job;  /* this rank's share, or (stream) the first chunk */
} reader;

/* Overlapped painting (batches on one rank, P(k) alone, a second core): while
 * the main thread transforms and bins snapshot i, a helper thread reads the
 * hinted snapshot i + 1 chunk by chunk and paints it into a second mesh (and a
 * second shifted mesh when interlacing), in exactly the chunks and order of the
 * main thread's streaming (paint_chunk), so the mesh is the same bit for bit.
 * The helper makes no MPI call (one-rank meshes agree locally) and no FFTW
 * planning; the main thread opens and closes the snapshot and joins the helper
 * before the call returns, before any HDF5 call of its own (writing). The next
 * call swaps the meshes and goes straight to the transform. */
typedef struct {
    int running;  /* started, not yet joined */
    int threaded; /* in a thread (else painted in the calling one) */
    int ready;   /* joined and painted without error: path is in m2 (ms2) */
    pthread_t th;
    char *path;
    ct_snapshot *snap;
    ct_snapshot_header h;
    ct_read_settings rs;
    const ct_summarize_settings *o;
    ct_mesh *m, *ms;  /* painted: the summarizer's m2, ms2 */
    int64_t total, chunk;
    double loc[2];    /* sum w, sum w^2 over the particles, in order */
    ct_status rc;
} painter;

static void painter_clear(painter *w);

struct ct_summarizer {
    ct_summarize_settings s;
    MPI_Comm comm;
    ct_mesh *m, *ms;
    ct_mesh *mw; /* marked field (mk) */
    double box;
    ct_timers timers;
    reader rd;  /* the snapshot being read (the current one, or the next) */
    char *hint; /* ct_summarize_prefetch: the next call's snapshot */
    int compensate; /* ct_pk_settings.compensate of every spectrum (1; ct_pk_of_snapshot) */
    int no_pk_cb;   /* 1: no /pk_cb beside total matter (ct_pk_of_snapshot) */
    ct_mesh *m2, *ms2; /* overlapped painting: the next snapshot's meshes (painter) */
    painter pw;        /* the next snapshot, painted during this call's transform */
    int cores;         /* ct_node_cores_per_rank of comm (0: not asked yet) */
    int overlap_off;   /* the second mesh did not fit or could not be made */
};

/* Collective (closes the snapshot). */
static void reader_clear(reader *r)
{
    job_free(&r->job);
    ct_snapshot_close(&r->snap);
    free(r->path);
    memset(r, 0, sizeof *r);
}

/* Particles per chunk when a rank streams its share of a snapshot:
 * CT_SUMMARIZE_CHUNK (tests use small chunks), default CT_PK_PAINT_BLOCK = 2^20
 * (12 MiB of positions), the blocks ct_pk_measure paints on one rank: there a
 * streamed snapshot and its particles in one array (e.g. from Python) give the
 * same P(k) bit for bit (on several ranks ct_pk_measure paints each rank's
 * exchanged particles in one call: the same sums in another order once a
 * share has more than one chunk). */
static int64_t stream_chunk(void)
{
    const char *e = getenv("CT_SUMMARIZE_CHUNK");
    long long v = e ? atoll(e) : 0;
    return v > 0 ? (int64_t)v : CT_PK_PAINT_BLOCK;
}

/* Open path (collective) and, if go, start reading: this rank's share of its
 * particles, or (pk and bk of one particle type: streamed) the share's first
 * chunk (go 0: the caller starts r->job or hands the snapshot on). */
static ct_status reader_start(ct_summarizer *st, reader *r, const char *path, int go)
{
    const ct_summarize_settings *o = &st->s;
    reader_clear(r);
    CT_CHECK(ct_snapshot_open(&r->snap, path, st->comm));
    r->open = 1;
    r->path = strdup(path);
    const ct_snapshot_header *h = ct_snapshot_get_header(r->snap);
    int rank, size;
    MPI_Comm_rank(st->comm, &rank);
    MPI_Comm_size(st->comm, &size);
    /* total matter (PartType1 + PartType2, mass-weighted) unless cb is asked for */
    r->ntypes = h->npart_total[2] > 0 && !o->species_cb ? 2 : 1;
    r->stream = r->ntypes == 1 && !(o->stats & CT_SUMMARIZE_MK);
    r->chunk = stream_chunk();
    read_job *j = &r->job;
    j->snap = r->snap;
    ct_read_settings_defaults(&j->rs);
    j->rs.read_vel = o->rsd >= 0;
    j->rs.read_id = 0;
    j->rs.bounds = o->wrap_positions ? CT_BOUNDS_WRAP : CT_BOUNDS_ERROR;
    j->n = h->npart_total[1] > 0 ? r->ntypes : 0; /* no CDM: refused when taken */
    j->types[0] = 1;
    j->types[1] = 2;
    for (int t = 0; t < j->n; t++) {
        ct_partition_range(h->npart_total[j->types[t]], size, rank, &j->first[t],
                           &j->count[t]);
        if (r->stream) { /* the first chunk of the share */
            r->first0 = j->first[t];
            r->share = j->count[t];
            j->count[t] = r->share < r->chunk ? r->share : r->chunk;
        }
    }
    if (!r->path) {
        j->rc = ct_error_set(CT_ERR_MEMORY, __func__, __LINE__, "out of memory");
        j->msg = strdup(ct_error_message());
        return CT_OK;
    }
    if (go)
        job_start(j);
    return CT_OK;
}

void ct_summarize_settings_defaults(ct_summarize_settings *s)
{
    memset(s, 0, sizeof *s);
    s->stats = CT_SUMMARIZE_PK;
    s->grid = 512;
    s->mas = CT_MAS_CIC;
    s->rsd = -1;
    s->los = 2;
    s->bin_width = 1.0;
    s->threads = 1;
    ct_mk_settings_defaults(&s->mk);
    ct_bk_settings_defaults(&s->bk);
}

ct_status ct_summarize_settings_check(const ct_summarize_settings *s)
{
    if (!s->stats || (s->stats & ~(CT_SUMMARIZE_PK | CT_SUMMARIZE_MK | CT_SUMMARIZE_BK)))
        CT_FAIL(CT_ERR_ARG, "statistics must be a non-empty set of pk, mk, bk");
    if (s->pk_float32 && s->stats != CT_SUMMARIZE_PK)
        CT_FAIL(CT_ERR_ARG, "the float32 P(k) path (--pk-float32, ct_pk_settings.float32) "
                "measures P(k) alone: the bispectrum and the marked spectrum need the double "
                "mesh (--bk-float32 is the bispectrum's float32 option)");
    if (s->grid < 2 || s->grid > 16384 || s->grid % 2)
        CT_FAIL(CT_ERR_ARG, "grid must be an even integer in [2, 16384] (got %d)", s->grid);
    if (s->rsd < -1 || s->rsd > 2 || s->los < 0 || s->los > 2)
        CT_FAIL(CT_ERR_ARG, "rsd must be -1, 0, 1 or 2 and los 0, 1 or 2 (got %d, %d)", s->rsd,
                s->los);
    if (!(s->bin_width >= 0.01 && s->bin_width <= 1000))
        CT_FAIL(CT_ERR_ARG, "bin width must be in [0.01, 1000] kF (got %g)", s->bin_width);
    if (s->threads < 1)
        CT_FAIL(CT_ERR_ARG, "threads must be at least 1 (got %d)", s->threads);
    if ((s->stats & CT_SUMMARIZE_BK) && s->bk.kmax < s->bk.dk)
        CT_FAIL(CT_ERR_ARG, "--bk-kmax %g is below the first shell centre (--bk-dk %g)",
                s->bk.kmax, s->bk.dk);
    if ((s->stats & CT_SUMMARIZE_BK) && s->bk.kmax + 0.5 * s->bk.dk > 0.5 * s->grid * sqrt(3.0))
        CT_FAIL(CT_ERR_ARG, "--bk-kmax %g kF (shells to %g kF) is beyond the modes of --grid %d "
                "(|n| <= %.1f); use a larger grid or a smaller --bk-kmax", s->bk.kmax,
                s->bk.kmax + 0.5 * s->bk.dk, s->grid, 0.5 * s->grid * sqrt(3.0));
    return CT_OK;
}

ct_status ct_summarizer_create(ct_summarizer **z, const ct_summarize_settings *s, MPI_Comm comm)
{
    *z = NULL;
    CT_CHECK(ct_summarize_settings_check(s));
    ct_summarizer *t;
    CT_CHECK(ct_calloc(&t, 1, sizeof *t, "summarizer"));
    t->s = *s;
    t->comm = comm;
    t->compensate = 1;
    ct_timers_init(&t->timers);
    /* fixed timer order on every rank (the report is collective) */
    const char *tn[] = {"read", "plan", "exchange", "paint", "fft", "bin", "bk", "mk", "write"};
    for (size_t i = 0; i < sizeof tn / sizeof tn[0]; i++) {
        ct_timer_start(&t->timers, tn[i]);
        ct_timer_stop(&t->timers, tn[i]);
        t->timers.total[i] = 0;
    }
    *z = t;
    return CT_OK;
}

void ct_summarizer_destroy(ct_summarizer **z)
{
    if (!z || !*z)
        return;
    reader_clear(&(*z)->rd);
    painter_clear(&(*z)->pw);
    free((*z)->hint);
    ct_mesh_destroy(&(*z)->m2);
    ct_mesh_destroy(&(*z)->ms2);
    ct_mesh_destroy(&(*z)->m);
    ct_mesh_destroy(&(*z)->ms);
    ct_mesh_destroy(&(*z)->mw);
    free(*z);
    *z = NULL;
}

ct_timers *ct_summarizer_timers(ct_summarizer *z)
{
    return &z->timers;
}

ct_status ct_summarize_prefetch(ct_summarizer *z, const char *next_snap_path)
{
    if (!z)
        CT_FAIL(CT_ERR_ARG, "ct_summarize_prefetch: NULL summarizer");
    free(z->hint);
    z->hint = NULL;
    if (next_snap_path && !(z->hint = strdup(next_snap_path)))
        CT_FAIL(CT_ERR_MEMORY, "ct_summarize_prefetch: out of memory");
    return CT_OK;
}

static void zname(double z, char *buf, size_t cap)
{
    double r = round(z * 100) / 100;
    if (fabs(r) < 5e-3)
        r = 0;
    snprintf(buf, cap, "%g", r);
}

/* Particles p to redshift space (if asked) and to the ranks owning their slabs
 * of m (masses travel along); velocities are dropped. Collective; several
 * (more than one rank in m's communicator) agrees the redshift-space status
 * before the exchange, so that a non-finite velocity on one rank stops every
 * rank; on one rank (several 0) no MPI call. */
static ct_status to_slabs(const ct_summarize_settings *o, ct_mesh *m, const ct_snapshot_header *h,
                          ct_particles *p, int several)
{
    if (o->rsd >= 0) {
        ct_status lrc = ct_pk_rsd_positions(p->n, p->pos, p->vel, o->rsd, h->redshift,
                                            h->omega_m, h->omega_l, h->box);
        CT_CHECK(several ? ct_agree_msg(ct_mesh_comm(m), lrc) : lrc);
    }
    free(p->vel);
    p->vel = NULL;
    ct_payload pl = {(void **)&p->mass, sizeof(float)};
    return ct_mesh_exchange(m, &p->n, &p->pos, p->mass ? 1 : 0, &pl);
}

/* One chunk p of a streamed snapshot (one particle type): to redshift space
 * if asked and to the ranks owning its slabs (to_slabs), its weights (after
 * the exchange) added to loc (sum w, sum w^2, in particle order), painted into
 * m and, shifted by half a cell, into ms when interlacing; the first chunk
 * (accumulate 0) zeroes the meshes. Collective; on one rank (several 0) no MPI
 * call. T (NULL in the painter thread): "exchange" and "paint". */
static ct_status paint_chunk(const ct_summarize_settings *o, const ct_snapshot_header *h,
                             ct_mesh *m, ct_mesh *ms, ct_particles *p, int accumulate,
                             double loc[2], ct_timers *T, int several)
{
    if (T)
        ct_timer_start(T, "exchange");
    CT_CHECK(to_slabs(o, m, h, p, several));
    if (T) {
        ct_timer_stop(T, "exchange");
        ct_timer_start(T, "paint");
    }
    if (p->mass) {
        for (int64_t i = 0; i < p->n; i++) {
            loc[0] += p->mass[i];
            loc[1] += (double)p->mass[i] * p->mass[i];
        }
    }
    ct_paint_settings pp;
    ct_paint_settings_defaults(&pp);
    pp.mas = o->mas;
    pp.accumulate = accumulate;
    pp.shift = 0;
    CT_CHECK(ct_mesh_paint(m, &pp, p->n, p->pos, p->mass, 1.0));
    if (o->interlace) {
        pp.shift = 0.5;
        CT_CHECK(ct_mesh_paint(ms, &pp, p->n, p->pos, p->mass, 1.0));
    }
    if (T)
        ct_timer_stop(T, "paint");
    return CT_OK;
}

static void *painter_main(void *arg)
{
    painter *w = arg;
    w->rc = CT_OK;
    w->loc[0] = w->loc[1] = 0;
    for (int64_t first = 0; first < w->total && w->rc == CT_OK; first += w->chunk) {
        ct_particles q;
        memset(&q, 0, sizeof q);
        const int64_t count = w->total - first < w->chunk ? w->total - first : w->chunk;
        w->rc = ct_snapshot_read_range(w->snap, 1, first, count, &w->rs, &q);
        if (w->rc == CT_OK)
            w->rc = paint_chunk(w->o, &w->h, w->m, w->ms, &q, first > 0, w->loc, NULL, 0);
        ct_particles_free(&q);
    }
    return NULL;
}

/* Forget the painted snapshot (or the one being painted: joined first). */
static void painter_clear(painter *w)
{
    if (w->running && w->threaded)
        pthread_join(w->th, NULL);
    ct_snapshot_close(&w->snap);
    free(w->path);
    memset(w, 0, sizeof *w);
}

/* Join the painter: ready if it painted its snapshot; if it failed, forgotten
 * (the call that names the snapshot reads it again and reports the problem). */
static void painter_join(painter *w)
{
    if (!w->running)
        return;
    if (w->threaded)
        pthread_join(w->th, NULL);
    w->running = 0;
    if (w->rc == CT_OK)
        w->ready = 1;
    else
        painter_clear(w);
}

/* The settings of the summarizer's meshes for a box of side box. */
static void mesh_settings(const ct_summarizer *st, double box, ct_mesh_settings *ms)
{
    ct_mesh_settings_defaults(ms);
    ms->n = st->s.grid;
    ms->box = box;
    ms->threads = st->s.threads;
    ms->plan_effort = st->s.plan;
    ms->float32 = st->s.pk_float32;
}

/* Overlapped painting for this summarizer: one rank, P(k) alone, a helper
 * thread allowed by MPI, and at least twice the mesh's threads in cores for
 * this rank (ct_node_cores_per_rank: its CPU mask's share of the node);
 * CT_OVERLAP_PAINT=0 turns it off, =1 on whatever the cores. */
static int overlap_allowed(ct_summarizer *st)
{
    const char *e = getenv("CT_OVERLAP_PAINT");
    if (e && !strcmp(e, "0"))
        return 0;
    int size, level = MPI_THREAD_SINGLE;
    MPI_Comm_size(st->comm, &size);
    MPI_Query_thread(&level);
    if (size != 1 || st->s.stats != CT_SUMMARIZE_PK || level < MPI_THREAD_FUNNELED)
        return 0;
    if (e && !strcmp(e, "1"))
        return 1;
    if (!st->cores)
        st->cores = ct_node_cores_per_rank(st->comm);
    return st->cores >= 2 * st->s.threads;
}

/* Hand the hinted snapshot, open in st->rd and not yet being read, to the
 * painter thread if it can take it: streamed (one particle type), CDM present,
 * the box of the current meshes, overlapped painting allowed, the second
 * meshes made (once, here). Returns 0 (st->rd untouched) if not. */
static int painter_start(ct_summarizer *st)
{
    reader *rd = &st->rd;
    const ct_snapshot_header *h = ct_snapshot_get_header(rd->snap);
    if (!rd->path || !rd->stream || h->npart_total[1] <= 0 || !st->m || h->box != st->box ||
        st->overlap_off || !overlap_allowed(st))
        return 0;
    if (!st->m2) {
        ct_mesh_settings ms;
        mesh_settings(st, h->box, &ms);
        /* the second mesh (pair) must fit with room to spare: memory is
         * overcommitted, so a mesh that does not would only fail at its first
         * touch, by the kernel's OOM killer */
        const double mib = (double)ms.n * ms.n * (ms.n + 2) * (ms.float32 ? 4 : 8) *
                           (st->s.interlace ? 2 : 1) / 1048576.0;
        const double avail = ct_mem_per_rank(st->comm) / 1048576.0;
        if (2 * mib > avail) {
            st->overlap_off = 1;
            ct_info("summarize: no overlapped painting: a second mesh needs %.0f MiB, %.0f MiB "
                    "available", mib, avail);
            return 0;
        }
        /* counted as planning, not as the read prefetch_hint is timed as */
        ct_timer_stop(&st->timers, "read");
        ct_timer_start(&st->timers, "plan");
        ct_status mrc = ct_mesh_create(&st->m2, &ms, st->comm);
        if (mrc == CT_OK && st->s.interlace)
            mrc = ct_mesh_create(&st->ms2, &ms, st->comm);
        ct_timer_stop(&st->timers, "plan");
        ct_timer_start(&st->timers, "read");
        if (mrc != CT_OK) {
            ct_mesh_destroy(&st->m2);
            ct_mesh_destroy(&st->ms2);
            ct_error_clear();
            st->overlap_off = 1;
            return 0;
        }
        ct_info("summarize: overlapped painting: each next snapshot is read and painted by a "
                "helper thread into a second mesh (%.0f MiB more%s) while this one is "
                "transformed; CT_OVERLAP_PAINT=0 turns it off",
                mib, st->s.interlace ? ", two meshes" : "");
    }
    painter *w = &st->pw;
    painter_clear(w);
    w->path = rd->path;
    w->snap = rd->snap;
    w->h = *h;
    w->rs = rd->job.rs;
    w->o = &st->s;
    w->m = st->m2;
    w->ms = st->ms2;
    w->total = h->npart_total[1];
    w->chunk = rd->chunk;
    rd->path = NULL;
    rd->snap = NULL;
    reader_clear(rd);
    w->running = 1;
    w->threaded = pthread_create(&w->th, NULL, painter_main, w) == 0;
    if (!w->threaded) {
        painter_main(w); /* no thread: painted now (the same result) */
        ct_error_clear(); /* a problem is the next call's to report */
    }
    return 1;
}

/* Start reading the snapshot hinted by ct_summarize_prefetch (not snap_path,
 * being measured) in the background, or painting it (painter_start); a problem
 * is left for the call that measures it (it opens the snapshot again and
 * reports it). Collective. */
static void prefetch_hint(ct_summarizer *st, const char *snap_path)
{
    if (!st->hint || !strcmp(st->hint, snap_path))
        return;
    if (reader_start(st, &st->rd, st->hint, 0) != CT_OK) {
        reader_clear(&st->rd);
        ct_error_clear();
    } else if (st->rd.path && !painter_start(st)) {
        job_start(&st->rd.job);
    }
}

/* One snapshot's statistics (summarize_measure), before they are written. */
typedef struct {
    ct_snapshot_header h; /* the snapshot's header (the snapshot is closed) */
    int ntypes;           /* 2: total matter of CDM and neutrinos, pk_cb measured too */
    ct_pk_result pk_m, pk_cb;
    ct_mk_result mk;
    ct_bk_result *bk;
} measured;

static void measured_free(measured *r)
{
    ct_pk_result_free(&r->pk_m);
    ct_pk_result_free(&r->pk_cb);
    ct_mk_result_free(&r->mk);
    ct_bk_result_destroy(&r->bk);
}

/* Read snap_path, paint, and measure the statistics of st's settings into r
 * (zeroed first; freed by the caller with measured_free, also on failure). The
 * status is this rank's. Collective. */
static ct_status summarize_measure(ct_summarizer *st, const char *snap_path, measured *r)
{
    const ct_summarize_settings *o = &st->s;
    MPI_Comm comm = st->comm;
    int nranks = 1;
    MPI_Comm_size(comm, &nranks);
    ct_status rc = CT_OK;
    ct_snapshot *snap = NULL;
    ct_particles p[2];
    memset(p, 0, sizeof p);
    memset(r, 0, sizeof *r);
    ct_pk_result *pk_m = &r->pk_m, *pk_cb = &r->pk_cb;
    ct_timers *T = &st->timers;
    read_job job; /* this snapshot's particles (stream: the chunk being read) */
    memset(&job, 0, sizeof job);
    ct_pk_particles sets[2];

    ct_timer_start(T, "read");
    /* the snapshot: painted by the previous call (overlapped painting: its
     * meshes are swapped in), read ahead by it (ct_summarize_prefetch), or
     * opened now; its particles (or first chunk) come in a helper thread
     * meanwhile */
    reader *rd = &st->rd;
    painter *pw = &st->pw;
    double loc[2] = {0, 0}; /* stream: sum w, sum w^2 */
    const int pre = pw->ready && !strcmp(pw->path, snap_path);
    if (pre) {
        ct_mesh *t = st->m;
        st->m = st->m2;
        st->m2 = t;
        t = st->ms;
        st->ms = st->ms2;
        st->ms2 = t;
        snap = pw->snap;
        pw->snap = NULL;
        loc[0] = pw->loc[0];
        loc[1] = pw->loc[1];
    }
    painter_clear(pw); /* taken, or a wrong hint */
    if (!pre && (!rd->open || strcmp(rd->path, snap_path)))
        CT_CHECK_GOTO(rc, reader_start(st, rd, snap_path, 1));
    if (!pre)
        snap = rd->snap;
    const ct_snapshot_header *h = ct_snapshot_get_header(snap);
    r->h = *h;
    const int types[2] = {1, 2};
    const int ntypes = pre ? 1 : rd->ntypes, stream = pre || rd->stream;
    r->ntypes = ntypes;
    const int64_t chunk = rd->chunk, first0 = rd->first0, share = rd->share;
    ct_timer_stop(T, "read");

    /* meshes: made once, again only if the box changes; the first touch of a
     * new mesh overlaps the read */
    int made = 0; /* the meshes were made by this call: zero (ct_mesh_create) */
    if (h->npart_total[1] > 0 && (!st->m || st->box != h->box)) {
        ct_mesh_destroy(&st->m);
        ct_mesh_destroy(&st->ms);
        ct_mesh_destroy(&st->mw);
        ct_mesh_destroy(&st->m2);
        ct_mesh_destroy(&st->ms2);
        ct_mesh_settings ms;
        mesh_settings(st, h->box, &ms);
        ct_timer_start(T, "plan");
        ct_status mrc = ct_mesh_create(&st->m, &ms, comm);
        if (mrc == CT_OK && o->interlace)
            mrc = ct_mesh_create(&st->ms, &ms, comm);
        if (mrc == CT_OK && (o->stats & CT_SUMMARIZE_MK))
            mrc = ct_mesh_create(&st->mw, &ms, comm);
        ct_timer_stop(T, "plan");
        if (mrc != CT_OK) {
            ct_mesh_destroy(&st->m); /* made again by the next call */
            rd->snap = NULL;         /* closed at fail: */
            reader_clear(rd);
            CT_CHECK_GOTO(rc, mrc);
        }
        st->box = h->box;
        made = 1;
    }

    /* the particles (stream: the first chunk) move to job; the reader is free */
    if (!pre) {
        ct_timer_start(T, "read");
        job_join(&rd->job);
        job = rd->job;
        memset(&rd->job, 0, sizeof rd->job);
        rd->snap = NULL; /* snap: closed at the end of this call */
        reader_clear(rd);
        CT_CHECK_GOTO(rc, ct_agree_msg(comm, job_status(&job)));
        if (h->npart_total[1] <= 0)
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no CDM particles (PartType1)", snap_path);
        if (!stream) {
            p[0] = job.p[0];
            p[1] = job.p[1];
            memset(job.p, 0, sizeof job.p);
        }
        ct_timer_stop(T, "read");
    }

    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ps.mas = o->mas;
    ps.interlace = o->interlace;
    ps.bin_width = o->bin_width;
    ps.axis = o->rsd >= 0 ? o->rsd : o->los;
    ps.shot_noise = o->shot_noise;
    ps.compensate = st->compensate;
    ps.float32 = o->pk_float32;
    ps.timers = T;
    /* delta(k) stays in the mesh only for the bispectrum and the marked spectrum */
    ps.discard_field = !(o->stats & (CT_SUMMARIZE_BK | CT_SUMMARIZE_MK));

    if (stream) {
        /* One particle type: no array of the whole share. Chunk c of this
         * rank's share is exchanged (several ranks) and painted while the
         * thread reads chunk c + 1; every rank takes part in as many rounds
         * as the largest share has chunks (the exchange and the painting are
         * collective), a rank whose share is used up with no particles. The
         * weight sums run over the particles in painting order; on one rank
         * that is ct_pk_measure's order. (pre: done by the previous call's
         * painter, the same way.) */
        const int64_t total = h->npart_total[1];
        int64_t nchunk = 0;
        for (int q = 0; !pre && q < nranks; q++) {
            int64_t f, c;
            ct_partition_range(total, nranks, q, &f, &c);
            const int64_t k = (c + chunk - 1) / chunk;
            nchunk = k > nchunk ? k : nchunk;
        }
        for (int64_t c = 0; !pre && c < nchunk; c++) {
            ct_timer_start(T, "read");
            /* several ranks: a failed read stops every rank before the
             * exchange (the first chunk's status is agreed above) */
            CT_CHECK_GOTO(rc, nranks > 1 && c > 0 ? ct_agree_msg(comm, job_status(&job))
                                                : job_status(&job));
            ct_particles q = job.p[0];
            memset(job.p, 0, sizeof job.p);
            p[0] = q; /* freed at fail: if this chunk fails */
            const int64_t next = (c + 1) * chunk; /* in the share */
            if (next < share) {
                job.first[0] = first0 + next;
                job.count[0] = share - next < chunk ? share - next : chunk;
                job_start(&job);
            } else {
                job.rc = CT_OK; /* nothing more to read here: empty chunks */
            }
            ct_timer_stop(T, "read");
            /* the first chunk replaces the meshes' contents, except in meshes
             * just made: they are zero, so adding to them gives the same sums
             * without a zeroing pass (0.1 s per GiB; the first snapshot's) */
            CT_CHECK_GOTO(rc, paint_chunk(o, h, st->m, st->ms, &p[0], c > 0 || made, loc, T,
                                          nranks > 1));
            ct_particles_free(&p[0]);
        }
        if (h->mass_table[1] != 0) {
            loc[0] = loc[1] = (double)total; /* no Masses dataset: weight 1 each */
        } else if (nranks > 1 && !pre) {
            /* the totals as ct_pk_paint forms them: this rank's sums, then
             * MPI's (one chunk per rank: ct_pk_measure's bit for bit) */
            double in[3] = {loc[0], loc[1], 0}, out[3];
            if (MPI_Allreduce(in, out, 3, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
                CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Allreduce of particle weights failed");
            loc[0] = out[0];
            loc[1] = out[1];
        }
        /* the next snapshot (if hinted) is read (or painted) during the
         * transform and binning */
        ct_timer_start(T, "read");
        prefetch_hint(st, snap_path);
        ct_timer_stop(T, "read");
        CT_CHECK_GOTO(rc, ct_pk_measure_painted(st->m, st->ms, &ps, loc[0], loc[1], total, pk_m));
    } else {
        ct_timer_start(T, "exchange");
        for (int t = 0; t < ntypes; t++)
            CT_CHECK_GOTO(rc, to_slabs(o, st->m, h, &p[t], nranks > 1));
        ct_timer_stop(T, "exchange");
        /* the next snapshot (if hinted) is read while this one is painted and
         * transformed; started after the exchange, not before: its arrays then
         * reuse the memory of the positions the exchange replaced instead of
         * fresh pages, and it does not take the cores the exchange needs (the
         * first snapshot of a batch on two ranks: exchange 0.55 -> 0.15 s;
         * docs/benchmarks.md, "First snapshot within 10%") */
        ct_timer_start(T, "read");
        prefetch_hint(st, snap_path);
        ct_timer_stop(T, "read");
        for (int t = 0; t < ntypes; t++) {
            sets[t].n = p[t].n;
            sets[t].pos = p[t].pos;
            sets[t].w = p[t].mass;
            /* one species: its mass only scales rho and cancels in delta */
            sets[t].w_uniform = ntypes == 1 ? 1.0 : h->mass_table[types[t]];
            if (ntypes > 1 && !p[t].mass && !(sets[t].w_uniform > 0))
                CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: PartType%d has no mass (MassTable is 0 "
                             "and no Masses dataset)", snap_path, types[t]);
        }
        if (ntypes == 1 && !(o->stats & CT_SUMMARIZE_MK)) {
            /* nothing reads the particles after painting: freed before the
             * transform, whose transpose buffer then reuses their memory
             * instead of fresh pages (ct_pk_measure's result bit for bit) */
            double sw = 0, sw2 = 0;
            int64_t np = 0;
            CT_CHECK_GOTO(rc, ct_pk_paint(st->m, st->ms, &ps, 1, sets, &sw, &sw2, &np));
            ct_particles_free(&p[0]);
            memset(sets, 0, sizeof sets);
            CT_CHECK_GOTO(rc, ct_pk_measure_painted(st->m, st->ms, &ps, sw, sw2, np, pk_m));
        } else {
            /* total matter (mass weighted over CDM and neutrinos) */
            CT_CHECK_GOTO(rc, ct_pk_measure(st->m, st->ms, &ps, ntypes, sets, pk_m));
        }
    }
    free(st->hint);
    st->hint = NULL;
    /* from here on HDF5 may be called (counts cache, writing): the next
     * snapshot's reader, if any, must have finished */
    ct_timer_start(T, "read");
    job_join(&st->rd.job);
    ct_timer_stop(T, "read");
    ct_timer_start(T, "paint"); /* what the overlapped painting adds to the call */
    painter_join(pw);
    ct_timer_stop(T, "paint");
    /* bispectrum and marked spectrum of the same delta(k) (total matter) */
    if (o->stats & CT_SUMMARIZE_BK) {
        ct_timer_start(T, "bk");
        CT_CHECK_GOTO(rc, ct_bk_measure(st->m, &o->bk, pk_m->nbar, &r->bk));
        ct_timer_stop(T, "bk");
    }
    if (o->stats & CT_SUMMARIZE_MK) {
        ct_timer_start(T, "mk");
        CT_CHECK_GOTO(rc, ct_mk_measure(st->m, st->mw, st->ms, &ps, &o->mk, ntypes, sets, &r->mk));
        ct_timer_stop(T, "mk");
    }
    if (ntypes > 1 && !st->no_pk_cb)
        CT_CHECK_GOTO(rc, ct_pk_measure(st->m, st->ms, &ps, 1, sets, pk_cb));
fail:
    job_free(&job);
    job_join(&st->rd.job);
    painter_join(&st->pw);
    free(st->hint);
    st->hint = NULL;
    if (T->n > 0)
        for (int i = 0; i < T->n; i++)
            T->running[i] = 0;
    ct_particles_free(&p[0]);
    ct_particles_free(&p[1]);
    ct_snapshot_close(&snap);
    return rc;
}

/* Write r as the summary file out_path (and the Quijote text files if asked)
 * from rank 0 of st's communicator; the status is agreed. Collective. */
static ct_status summarize_write(ct_summarizer *st, const measured *r, const char *snap_path,
                                 const char *name, const char *suite_dir, const char *out_path)
{
    const ct_summarize_settings *o = &st->s;
    const ct_snapshot_header *h = &r->h;
    const int ntypes = r->ntypes;
    const ct_pk_result *pk_m = &r->pk_m, *pk_cb = &r->pk_cb;
    const ct_mk_result *mk = &r->mk;
    const ct_bk_result *bk = r->bk;
    ct_summary_writer *w = NULL;
    ct_timers *T = &st->timers;
    int rank;
    MPI_Comm_rank(st->comm, &rank);
    ct_timer_start(T, "write");
    ct_status wrc = CT_OK;
    if (rank == 0) {
        /* species "cb" when only cb particles were measured on purpose or exist
         * only as PartType1 with neutrinos present (--species cb) */
        const char *sp = o->species_cb && h->npart_total[2] > 0 ? "cb" : "m";
        ct_pk_meta meta = {h->redshift, o->rsd, sp, NULL};
        wrc = ct_summary_create(&w, out_path, name, snap_path);
        hid_t f = wrc == CT_OK ? ct_summary_file(w) : -1;
        char abs_suite[PATH_MAX];
        if (!realpath(suite_dir, abs_suite))
            snprintf(abs_suite, sizeof abs_suite, "%s", suite_dir);
        if (wrc == CT_OK) wrc = ct_h5_attr_string(f, "suite_dir", abs_suite);
        if (wrc == CT_OK) wrc = ct_h5_attr_double(f, "box", h->box);
        if (wrc == CT_OK) wrc = ct_h5_attr_double(f, "redshift", h->redshift);
        if (wrc == CT_OK) wrc = ct_h5_attr_double(f, "omega_m", h->omega_m);
        if (wrc == CT_OK) wrc = ct_h5_attr_double(f, "omega_l", h->omega_l);
        if (wrc == CT_OK) wrc = ct_h5_attr_double(f, "hubble", h->hubble);
        if (wrc == CT_OK) wrc = ct_h5_attr_int(f, "npart_cdm", h->npart_total[1]);
        if (wrc == CT_OK) wrc = ct_h5_attr_int(f, "npart_nu", h->npart_total[2]);
        if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_PK)) wrc = ct_summary_write_pk(w, "pk", pk_m, &meta);
        if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_MK)) wrc = ct_summary_write_mk(w, "mk", mk, &meta);
        if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_BK)) {
            ct_bk_meta bm = {h->redshift, o->rsd, sp, ct_mas_name(o->mas), o->interlace,
                             o->bk.kmax};
            wrc = ct_summary_write_bk(w, "bk", bk, &bm);
        }
        if (wrc == CT_OK && ntypes > 1) {
            meta.species = "cb";
            wrc = ct_summary_write_pk(w, "pk_cb", pk_cb, &meta);
        }
        if (wrc == CT_OK && o->quijote_text) {
            char *dir = NULL, *od = NULL, z[32], rs_tag[16] = "";
            char file[8192]; /* dir + a Quijote name; ct_snprintf refuses longer */
            zname(h->redshift, z, sizeof z);
            if (o->rsd >= 0)
                snprintf(rs_tag, sizeof rs_tag, "RS%d_", o->rsd);
            wrc = ct_asprintf(&od, "%s", out_path);
            if (wrc == CT_OK)
                wrc = ct_asprintf(&dir, "%s/%s", dirname(od), name);
            if (wrc == CT_OK)
                wrc = ct_mkdir_p(dir);
            if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_PK)) {
                wrc = ct_snprintf(file, sizeof file, "%s/Pk_%s_%sz=%s.txt", dir, sp, rs_tag, z);
                if (wrc == CT_OK)
                    wrc = ct_pk_write_quijote_text(pk_m, file, o->rsd >= 0);
            }
            if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_MK)) {
                /* the name of the study's marked-spectrum files */
                wrc = ct_snprintf(file, sizeof file, "%s/Pk_m_marked_fTH_R%.1f_p%.1f_ds%.2f_%sz%s.txt",
                                  dir, o->mk.R, o->mk.p, o->mk.delta_s, rs_tag, z);
                if (wrc == CT_OK)
                    wrc = ct_pk_write_quijote_text(&mk->M, file, o->rsd >= 0);
            }
            if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_BK)) {
                wrc = ct_snprintf(file, sizeof file, "%s/Bk_m_%sz=%s.txt", dir, rs_tag, z);
                if (wrc == CT_OK)
                    wrc = ct_bk_write_text(bk, file);
            }
            if (wrc == CT_OK && ntypes > 1) {
                wrc = ct_snprintf(file, sizeof file, "%s/Pk_cb_%sz=%s.txt", dir, rs_tag, z);
                if (wrc == CT_OK)
                    wrc = ct_pk_write_quijote_text(pk_cb, file, o->rsd >= 0);
            }
            free(dir);
            free(od);
        }
        /* the summary appears last: its presence means the item is complete */
        if (wrc == CT_OK)
            wrc = ct_summary_commit(&w);
        else
            ct_summary_abort(&w);
    }
    ct_timer_stop(T, "write");
    return ct_agree_msg(st->comm, wrc);
}

ct_status ct_summarize_snapshot(ct_summarizer *z, const char *snap_path, const char *name,
                                const char *suite_dir, const char *out_path)
{
    if (!z || !snap_path || !name || !suite_dir || !out_path)
        CT_FAIL(CT_ERR_ARG, "ct_summarize_snapshot: NULL argument");
    measured r;
    ct_status rc = ct_agree_msg(z->comm, summarize_measure(z, snap_path, &r));
    if (rc == CT_OK)
        rc = summarize_write(z, &r, snap_path, name, suite_dir, out_path);
    measured_free(&r);
    return rc;
}

/* One statistic of a snapshot in one call: a summarizer of stats alone (P(k) is
 * always measured: the marked spectrum and the bispectrum use its delta(k) and
 * nbar) with the settings cosmotl summarize makes of its options (--grid,
 * --mas, --interlace, --los, --bin-width, --shot-noise, --species, --mark-*,
 * --bk-*), measured and not written; r is freed by the caller. */
static ct_status of_snapshot(const char *fn, const char *snap_path, int grid,
                             const ct_pk_settings *ps, int stats, const ct_mk_settings *mk,
                             const ct_bk_settings *bk, int species_cb, MPI_Comm comm,
                             measured *r)
{
    memset(r, 0, sizeof *r);
    ct_pk_settings pd;
    ct_pk_settings_defaults(&pd);
    if (!ps)
        ps = &pd;
    if (ps->axis < 0 || ps->axis > 2)
        CT_FAIL(CT_ERR_ARG, "%s: axis must be 0, 1 or 2 (got %d)", fn, ps->axis);
    ct_summarize_settings s;
    ct_summarize_settings_defaults(&s);
    s.stats = stats;
    s.grid = grid;
    s.mas = ps->mas;
    s.interlace = ps->interlace;
    s.los = ps->axis;
    s.bin_width = ps->bin_width;
    s.shot_noise = ps->shot_noise;
    s.species_cb = species_cb != 0;
    if (mk)
        s.mk = *mk;
    if (bk)
        s.bk = *bk;
    s.pk_float32 = ps->float32 != 0;
    ct_summarizer *z = NULL;
    CT_CHECK(ct_summarizer_create(&z, &s, comm));
    z->compensate = ps->compensate;
    z->no_pk_cb = 1;
    ct_status rc = ct_agree_msg(comm, summarize_measure(z, snap_path, r));
    ct_summarizer_destroy(&z);
    return rc;
}

ct_status ct_pk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            int species_cb, MPI_Comm comm, ct_pk_result *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!snap_path || !out)
        CT_FAIL(CT_ERR_ARG, "ct_pk_of_snapshot: NULL argument");
    measured r;
    ct_status rc = of_snapshot(__func__, snap_path, grid, ps, CT_SUMMARIZE_PK, NULL, NULL,
                               species_cb, comm, &r);
    if (rc == CT_OK) {
        *out = r.pk_m; /* handed over */
        memset(&r.pk_m, 0, sizeof r.pk_m);
    }
    measured_free(&r);
    return rc;
}

ct_status ct_mk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            const ct_mk_settings *mk, int species_cb, MPI_Comm comm,
                            ct_mk_result *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!snap_path || !out)
        CT_FAIL(CT_ERR_ARG, "ct_mk_of_snapshot: NULL argument");
    ct_mk_settings md;
    ct_mk_settings_defaults(&md);
    measured r;
    ct_status rc = of_snapshot(__func__, snap_path, grid, ps, CT_SUMMARIZE_MK, mk ? mk : &md,
                               NULL, species_cb, comm, &r);
    if (rc == CT_OK) {
        *out = r.mk; /* handed over */
        memset(&r.mk, 0, sizeof r.mk);
    }
    measured_free(&r);
    return rc;
}

ct_status ct_bk_of_snapshot(const char *snap_path, int grid, const ct_pk_settings *ps,
                            const ct_bk_settings *bk, int species_cb, MPI_Comm comm,
                            ct_bk_result **out)
{
    if (out)
        *out = NULL;
    if (!snap_path || !out)
        CT_FAIL(CT_ERR_ARG, "ct_bk_of_snapshot: NULL argument");
    ct_bk_settings bd;
    ct_bk_settings_defaults(&bd);
    measured r;
    ct_status rc = of_snapshot(__func__, snap_path, grid, ps, CT_SUMMARIZE_BK, NULL,
                               bk ? bk : &bd, species_cb, comm, &r);
    if (rc == CT_OK) {
        *out = r.bk; /* handed over */
        r.bk = NULL;
    }
    measured_free(&r);
    return rc;
}
