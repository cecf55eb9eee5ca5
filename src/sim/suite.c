/* Writing simulations in the Quijote layout, and running suites of them on
 * groups of ranks. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/batch.h"
#include "cosmotl/io.h"
#include "cosmotl/runner.h"
#include "sim_internal.h"

/* ------------------------------------------------------------ ID order */

static int64_t block_start(int64_t ntot, int nparts, int r)
{
    int64_t q = ntot / nparts, rem = ntot % nparts;
    return (int64_t)r * q + (r < rem ? r : rem);
}

static int block_owner(int64_t ntot, int nparts, int64_t i)
{
    int64_t q = ntot / nparts, rem = ntot % nparts;
    if (i < rem * (q + 1))
        return (int)(i / (q + 1));
    return (int)(rem + (i - rem * (q + 1)) / q);
}

typedef struct {
    float pos[3];
    float mom[3];
    uint64_t id;
} rec;

ct_status ct_sim_sort_by_id(ct_sim_particles *p, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    rec *sbuf = NULL, *rbuf = NULL;
    int *scnt = NULL, *rcnt = NULL, *sdis = NULL, *rdis = NULL, *fill = NULL;
    MPI_Datatype rt = MPI_DATATYPE_NULL;
    int64_t ntot = 0, nloc = p->n;
    MPI_Allreduce(&nloc, &ntot, 1, MPI_INT64_T, MPI_SUM, comm);
    CT_CHECK_GOTO(rc, ct_calloc(&scnt, (size_t)size, sizeof(int), "ID sort"));
    CT_CHECK_GOTO(rc, ct_calloc(&rcnt, (size_t)size, sizeof(int), "ID sort"));
    CT_CHECK_GOTO(rc, ct_calloc(&sdis, (size_t)size, sizeof(int), "ID sort"));
    CT_CHECK_GOTO(rc, ct_calloc(&rdis, (size_t)size, sizeof(int), "ID sort"));
    CT_CHECK_GOTO(rc, ct_calloc(&fill, (size_t)size, sizeof(int), "ID sort"));
    for (int64_t i = 0; i < nloc; i++) {
        if (p->id[i] < 1 || (int64_t)p->id[i] > ntot)
            CT_FAIL_GOTO(rc, CT_ERR_STATE, "particle ID %llu outside 1..%lld",
                         (unsigned long long)p->id[i], (long long)ntot);
        scnt[block_owner(ntot, size, (int64_t)p->id[i] - 1)]++;
    }
    MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, comm);
    int64_t nrecv = 0;
    for (int r = 0; r < size; r++) {
        sdis[r] = r ? sdis[r - 1] + scnt[r - 1] : 0;
        rdis[r] = r ? rdis[r - 1] + rcnt[r - 1] : 0;
        nrecv += rcnt[r];
    }
    int64_t mine = block_start(ntot, size, rank + 1) - block_start(ntot, size, rank);
    if (nrecv != mine)
        CT_FAIL_GOTO(rc, CT_ERR_STATE, "ID sort: received %lld particles, expected %lld",
                     (long long)nrecv, (long long)mine);
    CT_CHECK_GOTO(rc, ct_calloc(&sbuf, (size_t)(nloc > 0 ? nloc : 1), sizeof(rec), "ID sort"));
    CT_CHECK_GOTO(rc, ct_calloc(&rbuf, (size_t)(nrecv > 0 ? nrecv : 1), sizeof(rec), "ID sort"));
    for (int64_t i = 0; i < nloc; i++) {
        int r = block_owner(ntot, size, (int64_t)p->id[i] - 1);
        rec *o = &sbuf[sdis[r] + fill[r]++];
        memcpy(o->pos, p->pos + 3 * i, sizeof o->pos);
        memcpy(o->mom, p->mom + 3 * i, sizeof o->mom);
        o->id = p->id[i];
    }
    MPI_Type_contiguous((int)sizeof(rec), MPI_BYTE, &rt);
    MPI_Type_commit(&rt);
    if (MPI_Alltoallv(sbuf, scnt, sdis, rt, rbuf, rcnt, rdis, rt, comm) != MPI_SUCCESS)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "ID sort: MPI_Alltoallv failed");
    {
        size_t nal = (size_t)(nrecv > 0 ? nrecv : 1);
        float *pos = malloc(nal * 3 * sizeof(float)), *mom = malloc(nal * 3 * sizeof(float));
        uint64_t *id = malloc(nal * sizeof(uint64_t));
        if (!pos || !mom || !id) {
            free(pos);
            free(mom);
            free(id);
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "ID sort: out of memory");
        }
        int64_t first = block_start(ntot, size, rank);
        for (int64_t i = 0; i < nrecv; i++) {
            int64_t j = (int64_t)rbuf[i].id - 1 - first;
            memcpy(pos + 3 * j, rbuf[i].pos, sizeof rbuf[i].pos);
            memcpy(mom + 3 * j, rbuf[i].mom, sizeof rbuf[i].mom);
            id[j] = rbuf[i].id;
        }
        free(p->pos);
        free(p->mom);
        free(p->id);
        p->pos = pos;
        p->mom = mom;
        p->id = id;
        p->n = nrecv;
        p->n_total = ntot;
    }
fail:
    if (rt != MPI_DATATYPE_NULL)
        MPI_Type_free(&rt);
    free(sbuf);
    free(rbuf);
    free(scnt);
    free(rcnt);
    free(sdis);
    free(rdis);
    free(fill);
    return rc;
}

/* ------------------------------------------------------------ one simulation */

static int snapnum_of(const ct_sim_settings *s, int i)
{
    return s->snapnum[i];
}

int ct_sim_complete(const ct_sim_settings *s, const char *dir)
{
    char path[PATH_MAX];
    for (int i = 0; i < s->nout; i++) {
        int sn = snapnum_of(s, i);
        for (int f = 0; f < s->nfiles; f++) {
            snprintf(path, sizeof path, "%s/snapdir_%03d/snap_%03d.%d%s", dir, sn, sn, f,
                     s->format == CT_SNAP_GADGET1 || s->format == CT_SNAP_GADGET2 ? "" : ".hdf5");
            if (!ct_file_exists(path))
                return 0;
        }
    }
    return 1;
}

typedef struct {
    const ct_cosmo *c;
    const ct_sim_settings *s;
    const char *dir;
    MPI_Comm comm;
    ct_timers *t;
} write_ctx;

static ct_status write_output(const ct_sim_particles *pin, int iout, void *user)
{
    write_ctx *w = user;
    ct_status rc = CT_OK;
    ct_sim_particles p = {0}, nu = {0};
    float *vel = NULL, *nvel = NULL;
    const ct_cosmo_params *cp = ct_cosmo_get_params(w->c);
    /* neutrinos from the cb field at this output (before the copy is re-sorted) */
    if (w->s->nu_particles && ct_cosmo_omega_nu(w->c) > 0) {
        if (w->t)
            ct_timer_start(w->t, "neutrinos");
        rc = ct_sim_nu_particles(w->c, w->s, pin, &nu, w->comm);
        if (w->t)
            ct_timer_stop(w->t, "neutrinos");
        CT_CHECK_GOTO(rc, rc);
    }
    /* copy: sorting by ID must not disturb the running simulation */
    size_t nal = (size_t)(pin->n > 0 ? pin->n : 1);
    p = *pin;
    p.pos = malloc(nal * 3 * sizeof(float));
    p.mom = malloc(nal * 3 * sizeof(float));
    p.id = malloc(nal * sizeof(uint64_t));
    if (!p.pos || !p.mom || !p.id)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "snapshot output: out of memory");
    memcpy(p.pos, pin->pos, (size_t)pin->n * 3 * sizeof(float));
    memcpy(p.mom, pin->mom, (size_t)pin->n * 3 * sizeof(float));
    memcpy(p.id, pin->id, (size_t)pin->n * sizeof(uint64_t));
    if (w->t)
        ct_timer_start(w->t, "write");
    CT_CHECK_GOTO(rc, ct_sim_sort_by_id(&p, w->comm));
    nal = (size_t)(p.n > 0 ? p.n : 1);
    vel = malloc(nal * 3 * sizeof(float));
    if (!vel)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "snapshot output: out of memory");
    for (int64_t i = 0; i < 3 * p.n; i++)
        vel[i] = (float)(100.0 * p.mom[i] / p.a); /* peculiar km/s */
    nvel = malloc((size_t)(nu.n > 0 ? nu.n : 1) * 3 * sizeof(float));
    if (!nvel)
        CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "snapshot output: out of memory");
    for (int64_t i = 0; i < 3 * nu.n; i++)
        nvel[i] = (float)(100.0 * nu.mom[i] / p.a);
    {
        ct_snapshot_header h;
        memset(&h, 0, sizeof h);
        h.box = w->s->box;
        h.time = p.a;
        h.redshift = w->s->z_out[iout];
        h.omega_m = cp->omega_m;
        h.omega_l = 1.0 - cp->omega_m;
        h.hubble = cp->h;
        h.mass_table[1] = p.mass;
        h.nfiles = w->s->nfiles;
        ct_particles cdm;
        memset(&cdm, 0, sizeof cdm);
        cdm.n = p.n;
        cdm.n_total = p.n_total;
        int64_t off = 0;
        MPI_Exscan(&p.n, &off, 1, MPI_INT64_T, MPI_SUM, w->comm);
        int rank;
        MPI_Comm_rank(w->comm, &rank);
        cdm.offset = rank ? off : 0;
        cdm.pos = p.pos;
        cdm.vel = vel;
        cdm.id = p.id;
        cdm.mass_uniform = p.mass;
        /* neutrinos: lattice planes are in rank order, so are their IDs */
        ct_particles nup;
        memset(&nup, 0, sizeof nup);
        int64_t noff = 0;
        MPI_Exscan(&nu.n, &noff, 1, MPI_INT64_T, MPI_SUM, w->comm);
        nup.n = nu.n;
        nup.n_total = nu.n_total;
        nup.offset = rank ? noff : 0;
        nup.pos = nu.pos;
        nup.vel = nvel;
        nup.id = nu.id;
        nup.mass_uniform = nu.mass;
        h.mass_table[2] = nu.n_total > 0 ? nu.mass : 0.0;
        const ct_particles *parts[6] = {NULL, &cdm, nu.n_total > 0 ? &nup : NULL, NULL, NULL,
                                        NULL};
        ct_write_settings ws;
        ct_write_settings_defaults(&ws);
        ws.nfiles = w->s->nfiles;
        ws.snapnum = snapnum_of(w->s, iout);
        ws.format = w->s->format;
        CT_CHECK_GOTO(rc, ct_snapshot_write(w->dir, &h, parts, &ws, w->comm));
    }
    if (w->t)
        ct_timer_stop(w->t, "write");
fail:
    free(vel);
    free(nvel);
    ct_sim_particles_free(&p);
    ct_sim_particles_free(&nu);
    return rc;
}

ct_status ct_sim_write(const ct_cosmo *c, const ct_sim_settings *s, const char *dir,
                       ct_timers *timers, MPI_Comm comm)
{
    write_ctx w = {c, s, dir, comm, timers};
    ct_status rc = CT_OK;
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0)
        rc = ct_mkdir_p(dir);
    CT_CHECK(ct_agree_msg(comm, rc));
    CT_CHECK(ct_sim_run(c, s, write_output, &w, timers, comm));
    return CT_OK;
}

/* ------------------------------------------------------------ suites */

static ct_status write_params(const ct_suite_settings *s, const double *v, const char *dir)
{
    char *path = NULL;
    ct_atomic_file a = {0};
    CT_CHECK(ct_asprintf(&path, "%s/params.txt", dir));
    ct_status rc = ct_atomic_fopen(&a, path);
    free(path);
    CT_CHECK(rc);
    FILE *f = a.f;
    /* columns: the five LCDM ones, anything varied, and table columns that vary */
    int cols[CT_P_COUNT], nc = 0;
    for (int j = 0; j < CT_P_COUNT; j++) {
        int varies = s->hi[j] > s->lo[j];
        for (int64_t i = 1; i < s->nsims && !varies; i++)
            varies = v[i * CT_P_COUNT + j] != v[j];
        if (s->write[j] || varies)
            cols[nc++] = j;
    }
    fprintf(f, "#");
    for (int q = 0; q < nc; q++)
        fprintf(f, " %s", ct_param_name(cols[q]));
    fprintf(f, "\n");
    for (int64_t i = 0; i < s->nsims; i++) {
        for (int q = 0; q < nc; q++)
            fprintf(f, "%s%.10g", q ? " " : "", v[i * CT_P_COUNT + cols[q]]);
        fprintf(f, "\n");
    }
    return ct_atomic_fclose(&a);
}

/* transfer = table: simulation i's own table when the path holds "{i}" (tk, tp
 * are then malloc'd), and the k range the simulation needs checked. */
static ct_status suite_table(const ct_suite_settings *s, int64_t i, ct_cosmo_params *cp,
                             double **tk, double **tp)
{
    if (cp->transfer != CT_LIN_TABLE)
        return CT_OK;
    const char *pat = s->pk_table ? s->pk_table : "pk_table";
    const char *at = strstr(pat, "{i}");
    char *path = NULL;
    ct_status rc = CT_OK;
    if (at) {
        CT_CHECK(ct_asprintf(&path, "%.*s%lld%s", (int)(at - pat), pat, (long long)i, at + 3));
        size_t n = 0;
        CT_CHECK_GOTO(rc, ct_pk_table_read(path, tk, tp, &n));
        cp->table_k = *tk;
        cp->table_p = *tp;
        cp->table_n = n;
    } else {
        CT_CHECK(ct_asprintf(&path, "%s", pat));
    }
    double kmin = 2.0 * M_PI / s->sim.box, kmax = M_PI * (double)s->sim.np / s->sim.box;
    if (!cp->table_k || cp->table_n < 4)
        CT_FAIL_GOTO(rc, CT_ERR_CONFIG, "%s: no P(k) table", path);
    if (cp->table_k[0] > kmin * 1.0000001 || cp->table_k[cp->table_n - 1] < kmax * 0.9999999)
        CT_FAIL_GOTO(rc, CT_ERR_CONFIG,
                "%s: the table covers k = %g ... %g h/Mpc, but simulation %lld needs %g ... %g "
                "(2 pi / box to the particle Nyquist frequency)",
                path, cp->table_k[0], cp->table_k[cp->table_n - 1], (long long)i, kmin, kmax);
fail:
    free(path);
    return rc;
}

void ct_suite_sim(const ct_suite_settings *s, const double *row, int64_t i, ct_cosmo_params *cp,
                  ct_sim_settings *ss)
{
    if (cp) {
        *cp = s->cosmo;
        cp->omega_m = row[CT_P_OMEGA_M];
        cp->omega_b = row[CT_P_OMEGA_B];
        cp->h = row[CT_P_H];
        cp->n_s = row[CT_P_N_S];
        cp->sigma8 = row[CT_P_SIGMA_8];
        cp->m_nu = row[CT_P_M_NU];
        cp->w = row[CT_P_W];
        cp->f_r0 = row[CT_P_F_R0];
    }
    if (ss) {
        *ss = s->sim;
        ss->f_nl = row[CT_P_F_NL];
        ss->seed = s->seed + (uint64_t)i;
    }
}

static ct_status one_sim(const ct_suite_settings *s, const double *row, int64_t i, const char *dir,
                         MPI_Comm g)
{
    ct_status rc = CT_OK;
    ct_cosmo *c = NULL;
    ct_cosmo_params cp;
    ct_sim_settings ss;
    ct_suite_sim(s, row, i, &cp, &ss);
    double *tk = NULL, *tp = NULL;
    rc = suite_table(s, i, &cp, &tk, &tp);
    if (rc == CT_OK)
        rc = ct_cosmo_create(&c, &cp);
    if (rc != CT_OK)
        ct_error_push(rc, __func__, __LINE__);
    CT_CHECK_GOTO(rc, ct_agree_msg(g, rc));
    CT_CHECK_GOTO(rc, ct_sim_write(c, &ss, dir, NULL, g));
fail:
    ct_cosmo_destroy(&c);
    free(tk);
    free(tp);
    return rc;
}

/* One simulation of the suite is one item of the runner; the group's manifest
 * records it. */
typedef struct {
    const ct_suite_settings *s;
    const char *dir;
    const double *v;
    int64_t first;
    ct_manifest *man;
    double t0;
} suite_job;

static void sim_paths(const suite_job *j, int64_t i, char *sdir, size_t scap, char *item,
                      size_t icap, char *output, size_t ocap)
{
    int last_out = j->s->sim.nout - 1, sn = j->s->sim.snapnum[last_out];
    snprintf(sdir, scap, "%s/%lld", j->dir, (long long)i);
    snprintf(item, icap, "%lld", (long long)i);
    /* snapshots are written atomically, the last output last: its last file
     * marks the simulation complete */
    snprintf(output, ocap, "%s/snapdir_%03d/snap_%03d.%d.hdf5", sdir, sn, sn,
             j->s->sim.nfiles - 1);
}

static ct_status sim_is_done(int64_t k, MPI_Comm g, void *user, int *done)
{
    suite_job *j = user;
    (void)g;
    char sdir[PATH_MAX], item[32], output[PATH_MAX + 64];
    sim_paths(j, j->first + k, sdir, sizeof sdir, item, sizeof item, output, sizeof output);
    int todo = 1;
    CT_CHECK(ct_manifest_need(j->man, item, "params.txt", output, &todo));
    *done = !todo && ct_sim_complete(&j->s->sim, sdir);
    return CT_OK;
}

static ct_status sim_start(int64_t k, MPI_Comm g, void *user)
{
    suite_job *j = user;
    (void)g;
    char item[32];
    snprintf(item, sizeof item, "%lld", (long long)(j->first + k));
    j->t0 = ct_wtime();
    return ct_manifest_begin(j->man, item);
}

static ct_status sim_run(int64_t k, MPI_Comm g, void *user, void *result)
{
    suite_job *j = user;
    (void)result;
    int64_t i = j->first + k;
    char sdir[PATH_MAX], item[32], output[PATH_MAX + 64];
    sim_paths(j, i, sdir, sizeof sdir, item, sizeof item, output, sizeof output);
    return one_sim(j->s, j->v + i * CT_P_COUNT, i, sdir, g);
}

static ct_status sim_finish(int64_t k, ct_status st, const char *msg, const void *result,
                            MPI_Comm g, void *user)
{
    suite_job *j = user;
    (void)result;
    int grank;
    MPI_Comm_rank(g, &grank);
    long long i = (long long)(j->first + k);
    char item[32];
    snprintf(item, sizeof item, "%lld", i);
    if (st != CT_OK) {
        if (grank == 0)
            ct_log_rank_msg(CT_LOG_ERROR, "simulation %lld failed: %s", i, msg);
        return ct_manifest_fail(j->man, item, msg);
    }
    if (grank == 0)
        ct_log_rank_msg(CT_LOG_INFO, "simulation %lld done in %.1f s", i, ct_wtime() - j->t0);
    return ct_manifest_done(j->man, item);
}

ct_status ct_suite_run(const ct_suite_settings *s, const char *dir, int64_t first, int64_t last,
                       int group_size, ct_suite_counts *counts, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    double *v = NULL;
    ct_runner *r = NULL;
    ct_manifest *man = NULL;
    ct_runner_report rep;
    memset(&rep, 0, sizeof rep);
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(counts, 0, sizeof *counts);
    if (first < 0 || last > s->nsims || first >= last)
        CT_FAIL(CT_ERR_ARG, "simulation range %lld:%lld outside the suite's 0:%lld",
                (long long)first, (long long)last, (long long)s->nsims);
    /* the simulations' folders and snapshot names (sim_paths) then fit in PATH_MAX */
    if (strlen(dir) > PATH_MAX - 128)
        CT_FAIL(CT_ERR_ARG, "%.100s...: output folder path of %zu characters (at most %d)", dir,
                strlen(dir), PATH_MAX - 128);
    ct_runner_settings rs;
    ct_runner_settings_defaults(&rs);
    rs.group_size = group_size < 1 ? -1 : group_size;
    CT_CHECK(ct_runner_create(&r, &rs, comm));
    rc = ct_suite_params(s, &v);
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    if (rank == 0) {
        rc = ct_mkdir_p(dir);
        if (rc == CT_OK)
            rc = write_params(s, v, dir);
    }
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    MPI_Comm g = ct_runner_group(r);
    rc = ct_manifest_open(&man, dir, "simulate", g);
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, rc));
    suite_job j = {s, dir, v, first, man, 0};
    ct_runner_job job = {.n_items = last - first, .is_done = sim_is_done, .start = sim_start,
                         .run = sim_run, .finish = sim_finish, .user = &j};
    CT_CHECK_GOTO(rc, ct_runner_run(r, &job, &rep));
    CT_CHECK_GOTO(rc, ct_manifest_flush(man));
    {
        ct_manifest_counts c = ct_manifest_counts_sum(man, g, comm);
        counts->items = c.items;
        counts->complete = c.complete;
        counts->done = c.done;
        counts->failed = c.failed;
        counts->interrupted = c.interrupted;
    }
fail:
    rc = ct_agree_msg(comm, rc);
    ct_runner_report_free(&rep);
    ct_manifest_close(&man);
    ct_runner_destroy(&r);
    free(v);
    return rc;
}
