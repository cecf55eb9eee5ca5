/* The per-snapshot summarize pipeline (cosmotl/summarize.h): read, exchange,
 * one density mesh, P(k) / marked P(k) / bispectrum, one summary file. */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/h5.h"
#include "cosmotl/io.h"
#include "cosmotl/summarize.h"
#include "cosmotl/summary.h"

struct ct_summarizer {
    ct_summarize_settings s;
    MPI_Comm comm;
    ct_mesh *m, *ms;
    ct_mesh *mw; /* marked field (mk) */
    double box;
    ct_timers timers;
};

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

static void zname(double z, char *buf, size_t cap)
{
    double r = round(z * 100) / 100;
    if (fabs(r) < 5e-3)
        r = 0;
    snprintf(buf, cap, "%g", r);
}

/* Everything for one snapshot; the status is this rank's. */
static ct_status summarize_local(ct_summarizer *st, const char *snap_path, const char *name,
                                 const char *suite_dir, const char *out_path)
{
    const ct_summarize_settings *o = &st->s;
    MPI_Comm comm = st->comm;
    ct_status rc = CT_OK;
    int rank;
    MPI_Comm_rank(comm, &rank);
    ct_snapshot *snap = NULL;
    ct_particles p[2];
    memset(p, 0, sizeof p);
    ct_pk_result pk_m, pk_cb;
    memset(&pk_m, 0, sizeof pk_m);
    memset(&pk_cb, 0, sizeof pk_cb);
    ct_mk_result mk;
    memset(&mk, 0, sizeof mk);
    ct_bk_result *bk = NULL;
    ct_summary_writer *w = NULL;
    ct_timers *T = &st->timers;

    ct_timer_start(T, "read");
    CT_CHECK_GOTO(rc, ct_snapshot_open(&snap, snap_path, comm));
    const ct_snapshot_header *h = ct_snapshot_get_header(snap);
    const int types[2] = {1, 2};
    /* total matter (PartType1 + PartType2, mass-weighted) unless cb is asked for */
    int ntypes = h->npart_total[2] > 0 && !o->species_cb ? 2 : 1;
    if (h->npart_total[1] <= 0)
        CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: no CDM particles (PartType1)", snap_path);
    ct_read_settings rs;
    ct_read_settings_defaults(&rs);
    rs.read_vel = o->rsd >= 0;
    rs.read_id = 0;
    rs.bounds = o->wrap_positions ? CT_BOUNDS_WRAP : CT_BOUNDS_ERROR;
    for (int t = 0; t < ntypes; t++)
        CT_CHECK_GOTO(rc, ct_snapshot_read(snap, types[t], &rs, &p[t]));
    ct_timer_stop(T, "read");

    /* meshes: made once, again only if the box changes */
    if (!st->m || st->box != h->box) {
        ct_mesh_destroy(&st->m);
        ct_mesh_destroy(&st->ms);
        ct_mesh_destroy(&st->mw);
        ct_mesh_settings ms;
        ct_mesh_settings_defaults(&ms);
        ms.n = o->grid;
        ms.box = h->box;
        ms.threads = o->threads;
        ms.plan_effort = o->plan;
        ct_timer_start(T, "plan");
        CT_CHECK_GOTO(rc, ct_mesh_create(&st->m, &ms, comm));
        if (o->interlace)
            CT_CHECK_GOTO(rc, ct_mesh_create(&st->ms, &ms, comm));
        if (o->stats & CT_SUMMARIZE_MK)
            CT_CHECK_GOTO(rc, ct_mesh_create(&st->mw, &ms, comm));
        ct_timer_stop(T, "plan");
        st->box = h->box;
    }

    ct_timer_start(T, "exchange");
    for (int t = 0; t < ntypes; t++) {
        if (o->rsd >= 0)
            CT_CHECK_GOTO(rc, ct_pk_rsd_positions(p[t].n, p[t].pos, p[t].vel, o->rsd,
                                                  h->redshift, h->omega_m, h->omega_l, h->box));
        free(p[t].vel);
        p[t].vel = NULL;
        ct_payload pl = {(void **)&p[t].mass, sizeof(float)};
        CT_CHECK_GOTO(rc, ct_mesh_exchange(st->m, &p[t].n, &p[t].pos, p[t].mass ? 1 : 0, &pl));
    }
    ct_timer_stop(T, "exchange");

    ct_pk_settings ps;
    ct_pk_settings_defaults(&ps);
    ps.mas = o->mas;
    ps.interlace = o->interlace;
    ps.bin_width = o->bin_width;
    ps.axis = o->rsd >= 0 ? o->rsd : o->los;
    ps.shot_noise = o->shot_noise;
    ps.timers = T;
    ct_pk_particles sets[2];
    for (int t = 0; t < ntypes; t++) {
        sets[t].n = p[t].n;
        sets[t].pos = p[t].pos;
        sets[t].w = p[t].mass;
        /* one species: its mass only scales rho and cancels in delta */
        sets[t].w_uniform = ntypes == 1 ? 1.0 : h->mass_table[types[t]];
        if (ntypes > 1 && !p[t].mass && !(sets[t].w_uniform > 0))
            CT_FAIL_GOTO(rc, CT_ERR_FORMAT, "%s: PartType%d has no mass (MassTable is 0 and "
                         "no Masses dataset)", snap_path, types[t]);
    }
    /* total matter (mass weighted over CDM and neutrinos) */
    CT_CHECK_GOTO(rc, ct_pk_measure(st->m, st->ms, &ps, ntypes, sets, &pk_m));
    /* bispectrum and marked spectrum of the same delta(k) (total matter) */
    if (o->stats & CT_SUMMARIZE_BK) {
        ct_timer_start(T, "bk");
        CT_CHECK_GOTO(rc, ct_bk_measure(st->m, &o->bk, pk_m.nbar, &bk));
        ct_timer_stop(T, "bk");
    }
    if (o->stats & CT_SUMMARIZE_MK) {
        ct_timer_start(T, "mk");
        CT_CHECK_GOTO(rc, ct_mk_measure(st->m, st->mw, st->ms, &ps, &o->mk, ntypes, sets, &mk));
        ct_timer_stop(T, "mk");
    }
    if (ntypes > 1)
        CT_CHECK_GOTO(rc, ct_pk_measure(st->m, st->ms, &ps, 1, sets, &pk_cb));

    /* output from the group's rank 0 */
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
        if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_PK)) wrc = ct_summary_write_pk(w, "pk", &pk_m, &meta);
        if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_MK)) wrc = ct_summary_write_mk(w, "mk", &mk, &meta);
        if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_BK)) {
            ct_bk_meta bm = {h->redshift, o->rsd, sp, ct_mas_name(o->mas), o->interlace,
                             o->bk.kmax};
            wrc = ct_summary_write_bk(w, "bk", bk, &bm);
        }
        if (wrc == CT_OK && ntypes > 1) {
            meta.species = "cb";
            wrc = ct_summary_write_pk(w, "pk_cb", &pk_cb, &meta);
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
                    wrc = ct_pk_write_quijote_text(&pk_m, file, o->rsd >= 0);
            }
            if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_MK)) {
                /* the name of the study's marked-spectrum files */
                wrc = ct_snprintf(file, sizeof file, "%s/Pk_m_marked_fTH_R%.1f_p%.1f_ds%.2f_%sz%s.txt",
                                  dir, o->mk.R, o->mk.p, o->mk.delta_s, rs_tag, z);
                if (wrc == CT_OK)
                    wrc = ct_pk_write_quijote_text(&mk.M, file, o->rsd >= 0);
            }
            if (wrc == CT_OK && (o->stats & CT_SUMMARIZE_BK)) {
                wrc = ct_snprintf(file, sizeof file, "%s/Bk_m_%sz=%s.txt", dir, rs_tag, z);
                if (wrc == CT_OK)
                    wrc = ct_bk_write_text(bk, file);
            }
            if (wrc == CT_OK && ntypes > 1) {
                wrc = ct_snprintf(file, sizeof file, "%s/Pk_cb_%sz=%s.txt", dir, rs_tag, z);
                if (wrc == CT_OK)
                    wrc = ct_pk_write_quijote_text(&pk_cb, file, o->rsd >= 0);
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
    CT_CHECK_GOTO(rc, ct_agree_msg(comm, wrc));
fail:
    if (T->n > 0)
        for (int i = 0; i < T->n; i++)
            T->running[i] = 0;
    ct_summary_abort(&w);
    ct_pk_result_free(&pk_m);
    ct_pk_result_free(&pk_cb);
    ct_mk_result_free(&mk);
    ct_bk_result_destroy(&bk);
    ct_particles_free(&p[0]);
    ct_particles_free(&p[1]);
    ct_snapshot_close(&snap);
    return rc;
}


ct_status ct_summarize_snapshot(ct_summarizer *z, const char *snap_path, const char *name,
                                const char *suite_dir, const char *out_path)
{
    if (!z || !snap_path || !name || !suite_dir || !out_path)
        CT_FAIL(CT_ERR_ARG, "ct_summarize_snapshot: NULL argument");
    return ct_agree_msg(z->comm, summarize_local(z, snap_path, name, suite_dir, out_path));
}
