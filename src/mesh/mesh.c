/* Distributed slab mesh over FFTW-MPI: creation, views, FFTs, reductions,
 * Fourier-space helpers (compensation, interlacing) and the k-space iterator. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "mesh_private.h"

void ct_mesh_settings_defaults(ct_mesh_settings *s)
{
    memset(s, 0, sizeof *s);
    s->n = 0;
    s->box = 0;
    s->threads = 1;
    s->plan_effort = 0;
    s->float32 = 0;
}

ct_status ct_mas_parse(const char *name, ct_mas *mas)
{
    static const char *names[] = {"ngp", "cic", "tsc", "pcs"};
    for (int i = 0; i < 4; i++)
        if (name && !strcasecmp(name, names[i])) {
            *mas = (ct_mas)(i + 1);
            return CT_OK;
        }
    CT_FAIL(CT_ERR_ARG, "unknown mass-assignment scheme '%s' (expected ngp, cic, tsc or pcs)",
            name ? name : "(null)");
}

const char *ct_mas_name(ct_mas mas)
{
    switch (mas) {
    case CT_MAS_NGP: return "NGP";
    case CT_MAS_CIC: return "CIC";
    case CT_MAS_TSC: return "TSC";
    case CT_MAS_PCS: return "PCS";
    }
    return "?";
}

/* FFTW's MPI and thread layers are process-wide; initialise them once. Called
 * only from the thread that creates meshes (FFTW's planner is not thread-safe
 * anyway). */
static void fftw_once(void)
{
    static int done = 0;
    if (!done) {
        CT_FFTW(init_threads)();
        CT_FFTW_MPI(init)();
        done = 1;
    }
}

/* The same for FFTW's float library (float32 meshes). */
static void fftwf_once(void)
{
#ifdef CT_SINGLE_PRECISION
    fftw_once(); /* the build's own library is the float one */
#else
    static int done = 0;
    if (!done) {
        fftwf_init_threads();
        fftwf_mpi_init();
        done = 1;
    }
#endif
}

/* The default huge page size (the "Hugepagesize:" line of /proc/meminfo), 2 MiB
 * if it cannot be read. */
static size_t default_huge_page(void)
{
    const long long kib = ct_meminfo("Hugepagesize");
    return kib > 0 ? (size_t)kib * 1024 : (size_t)2 << 20;
}

/* With CT_HUGETLB=1 the mesh comes from the reserved huge page pool
 * (/proc/sys/vm/nr_hugepages): those pages stay in the pool when freed, so a
 * virtual machine with free page reporting never hands them back to its host
 * and a new process does not pay the host's faults again (docs/benchmarks.md,
 * "First-snapshot setup cost"). Without enough free pool pages the mapping fails
 * at once (no MAP_NORESERVE: the pages are reserved when mapped, so a short pool
 * cannot SIGBUS later) and the mesh falls back to ordinary memory with a
 * one-line note. Returns NULL (and *bytes = 0) when not asked for or refused. */
static void *hugetlb_alloc(size_t need, size_t *bytes)
{
    *bytes = 0;
#ifdef MAP_HUGETLB
    const char *env = getenv("CT_HUGETLB");
    if (!env || strcmp(env, "1"))
        return NULL;
    const size_t hp = default_huge_page();
    const size_t len = (need + hp - 1) / hp * hp;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
                   -1, 0);
    if (p == MAP_FAILED) {
        ct_log_rank_msg(CT_LOG_WARN,
                        "CT_HUGETLB=1: no room in the huge page pool for a %.1f MiB "
                        "mesh (%zu pages of %zu KiB; see /proc/sys/vm/nr_hugepages and "
                        "HugePages_Free in /proc/meminfo); using ordinary memory",
                        (double)len / 1048576.0, len / hp, hp / 1024);
        return NULL;
    }
    *bytes = len;
    return p;
#else
    (void)need;
    return NULL;
#endif
}

ct_status ct_mesh_create(ct_mesh **out, const ct_mesh_settings *s, MPI_Comm comm)
{
    ct_status rc = CT_OK;
    ct_mesh *m = NULL;
    *out = NULL;
    if (!s || s->n < 2 || s->n % 2 || s->n > (1 << 20))
        CT_FAIL(CT_ERR_ARG, "mesh size must be even and in [2, 2^20] (got %lld)",
                s ? (long long)s->n : 0LL);
    if (!(s->box > 0) || !isfinite(s->box))
        CT_FAIL(CT_ERR_ARG, "mesh box must be positive (got %g)", s->box);
    if (s->threads < 1 || s->threads > 1024)
        CT_FAIL(CT_ERR_ARG, "mesh threads must be in [1, 1024] (got %d)", s->threads);
    CT_CHECK(ct_calloc(&m, 1, sizeof *m, "mesh"));
    m->comm = MPI_COMM_NULL;
    m->plane_type = MPI_DATATYPE_NULL;
    if (MPI_Comm_dup(comm, &m->comm) != MPI_SUCCESS)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Comm_dup failed");
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    m->N = s->n;
    m->box = s->box;
    m->inv_h = (double)s->n / s->box;
    m->threads = s->threads;
    m->row = 2 * (s->n / 2 + 1);
    m->plane = (size_t)s->n * (size_t)m->row;
    m->f32 = s->float32 != 0;
    m->esz = m->f32 ? sizeof(float) : sizeof(ct_real);

    const ptrdiff_t N = (ptrdiff_t)s->n;
    ptrdiff_t alloc;
    if (m->f32) {
        fftwf_once();
        alloc = fftwf_mpi_local_size_3d_transposed(N, N, N / 2 + 1, m->comm, &m->nx, &m->x0,
                                                   &m->ny, &m->y0);
    } else {
        fftw_once();
        alloc = CT_FFTW_MPI(local_size_3d_transposed)(N, N, N / 2 + 1, m->comm, &m->nx, &m->x0,
                                                      &m->ny, &m->y0);
    }
    size_t need = (size_t)(2 * alloc);
    size_t with_ghosts = (size_t)(m->nx + CT_MESH_GHOST_HI) * m->plane;
    m->nreal = need > with_ghosts ? need : with_ghosts;
    size_t total = m->nreal + CT_MESH_GHOST_LO * m->plane;
    void *mem = hugetlb_alloc(total * m->esz, &m->huge_bytes);
    if (!mem) {
        /* calloc, not fftw_malloc: memory the heap or the system hands out
         * fresh is zero already and calloc leaves it untouched, so the mesh
         * needs no zeroing pass below (only reused heap memory is cleared,
         * by calloc); aligned by hand for FFTW's SIMD codelets */
        m->raw = calloc(1, total * m->esz + CT_MESH_ALIGN);
        if (!m->raw)
            CT_FAIL_GOTO(rc, CT_ERR_MEMORY, "cannot allocate mesh %lld^3 (%.1f MiB on this rank)",
                         (long long)N, total * m->esz / 1048576.0);
        mem = (void *)(((uintptr_t)m->raw + CT_MESH_ALIGN - 1) & ~(uintptr_t)(CT_MESH_ALIGN - 1));
        /* huge pages: fewer page faults on first touch, fewer TLB misses in
         * painting and the FFT transposes */
        ct_advise_huge_pages(mem, total * m->esz);
    }
    if (m->f32) {
        m->fbase = (float *)mem;
        m->fdata = m->fbase + CT_MESH_GHOST_LO * m->plane;
    } else {
        m->base = (ct_real *)mem;
        m->data = m->base + CT_MESH_GHOST_LO * m->plane;
    }

    CT_CHECK_GOTO(rc, ct_calloc(&m->own_x0, (size_t)m->size, sizeof(ptrdiff_t), "slab table"));
    CT_CHECK_GOTO(rc, ct_calloc(&m->own_nx, (size_t)m->size, sizeof(ptrdiff_t), "slab table"));
    CT_CHECK_GOTO(rc, ct_calloc(&m->plane_rank, (size_t)N, sizeof(int64_t), "plane table"));
    {
        long long mine[2] = {(long long)m->x0, (long long)m->nx};
        long long *all = NULL;
        CT_CHECK_GOTO(rc, ct_calloc(&all, 2 * (size_t)m->size, sizeof(long long), "slab table"));
        int e = MPI_Allgather(mine, 2, MPI_LONG_LONG, all, 2, MPI_LONG_LONG, m->comm);
        for (int r = 0; r < m->size; r++) {
            m->own_x0[r] = (ptrdiff_t)all[2 * r];
            m->own_nx[r] = (ptrdiff_t)all[2 * r + 1];
            for (ptrdiff_t i = m->own_x0[r]; i < m->own_x0[r] + m->own_nx[r]; i++)
                m->plane_rank[i] = r;
        }
        free(all);
        if (e != MPI_SUCCESS)
            CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Allgather of slab extents failed");
    }
    if (m->plane > (size_t)INT32_MAX)
        CT_FAIL_GOTO(rc, CT_ERR_UNSUPPORTED, "mesh plane too large for one MPI message");
    MPI_Type_contiguous((int)m->plane, m->f32 ? MPI_FLOAT : CT_MPI_REAL, &m->plane_type);
    MPI_Type_commit(&m->plane_type);

    unsigned flags = s->plan_effort >= 2 ? FFTW_PATIENT
                     : s->plan_effort == 1 ? FFTW_MEASURE
                                           : FFTW_ESTIMATE;
    if (m->f32) {
        /* the forward transform only: no float32 operation needs the backward one */
        fftwf_plan_with_nthreads(m->threads);
        m->ffwd = fftwf_mpi_plan_dft_r2c_3d(N, N, N, m->fdata, (fftwf_complex *)m->fdata, m->comm,
                                            flags | FFTW_MPI_TRANSPOSED_OUT);
    } else {
        CT_FFTW(plan_with_nthreads)(m->threads);
        m->fwd = CT_FFTW_MPI(plan_dft_r2c_3d)(N, N, N, m->data, (CT_FFTW(complex) *)m->data,
                                              m->comm, flags | FFTW_MPI_TRANSPOSED_OUT);
        m->bwd = CT_FFTW_MPI(plan_dft_c2r_3d)(N, N, N, (CT_FFTW(complex) *)m->data, m->data,
                                              m->comm, flags | FFTW_MPI_TRANSPOSED_IN);
    }
    if (m->f32 ? !m->ffwd : !m->fwd || !m->bwd)
        CT_FAIL_GOTO(rc, CT_ERR_UNSUPPORTED, "FFTW could not plan a %lld^3 MPI transform",
                     (long long)N);
    {
        /* The mesh is zero (calloc, or a fresh huge-page mapping); its pages
         * are faulted in now, before the first snapshot's painting needs them,
         * on this rank's share of the node's cores, not only its OpenMP
         * threads (docs/decisions.md, "First touch on the rank's cores"). By
         * MADV_POPULATE_WRITE, without writing: a fresh GiB costs 0.15 s on two
         * cores instead of 0.24 s written (0.25 / 0.42 s on one;
         * docs/decisions.md, "Mesh pages populated, not written"). Where the
         * kernel lacks it, zeroing touches them as before. */
        const int t = ct_node_cores_per_rank(m->comm);
        const int nt = t > m->threads ? t : m->threads;
        char *b = mem;
        const size_t bytes = total * m->esz, pg = 4096;
        const size_t npg = (bytes + pg - 1) / pg;
        int bad = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : bad)
        for (int k = 0; k < nt; k++) {
            const size_t a = npg * (size_t)k / (size_t)nt, e = npg * (size_t)(k + 1) / (size_t)nt;
            const size_t end = e * pg < bytes ? e * pg : bytes;
            if (e > a && ct_populate(b + a * pg, end - a * pg))
                bad = 1;
        }
        if (bad) {
            const int keep = m->threads;
            m->threads = nt;
            ct_mesh_zero(m);
            m->threads = keep;
        }
        m->fourier = 0;
    }
    *out = m;
    return CT_OK;
fail:
    ct_mesh_destroy(&m);
    return rc;
}

void ct_mesh_destroy(ct_mesh **pm)
{
    if (!pm || !*pm)
        return;
    ct_mesh *m = *pm;
    if (m->fwd)
        CT_FFTW(destroy_plan)(m->fwd);
    if (m->bwd)
        CT_FFTW(destroy_plan)(m->bwd);
    if (m->ffwd)
        fftwf_destroy_plan(m->ffwd);
    void *mem = m->f32 ? (void *)m->fbase : (void *)m->base;
    if (mem && m->huge_bytes)
        munmap(mem, m->huge_bytes);
    free(m->raw);
    if (m->plane_type != MPI_DATATYPE_NULL)
        MPI_Type_free(&m->plane_type);
    if (m->comm != MPI_COMM_NULL)
        MPI_Comm_free(&m->comm);
    free(m->scratch);
    free(m->own_x0);
    free(m->own_nx);
    free(m->plane_rank);
    free(m);
    *pm = NULL;
}

int64_t ct_mesh_n(const ct_mesh *m) { return m->N; }
double ct_mesh_box(const ct_mesh *m) { return m->box; }
double ct_mesh_kf(const ct_mesh *m) { return 2.0 * M_PI / m->box; }
int ct_mesh_threads(const ct_mesh *m) { return m->threads; }
MPI_Comm ct_mesh_comm(const ct_mesh *m) { return m->comm; }
ptrdiff_t ct_mesh_row(const ct_mesh *m) { return m->row; }
ct_real *ct_mesh_real(ct_mesh *m) { return m->data; }
ct_complex *ct_mesh_complex(ct_mesh *m) { return (ct_complex *)m->data; }
int ct_mesh_is_fourier(const ct_mesh *m) { return m->fourier; }
int ct_mesh_is_float32(const ct_mesh *m) { return m->f32; }
float *ct_mesh_real_f32(ct_mesh *m) { return m->fdata; }
ct_complex_f32 *ct_mesh_complex_f32(ct_mesh *m) { return (ct_complex_f32 *)m->fdata; }

void ct_mesh_local(const ct_mesh *m, ptrdiff_t *x0, ptrdiff_t *nx)
{
    *x0 = m->x0;
    *nx = m->nx;
}

void ct_mesh_klocal(const ct_mesh *m, ptrdiff_t *y0, ptrdiff_t *ny)
{
    *y0 = m->y0;
    *ny = m->ny;
}

int ct_mesh_plane_owner(const ct_mesh *m, int64_t i)
{
    i %= m->N;
    if (i < 0)
        i += m->N;
    return (int)m->plane_rank[i];
}

void *ct_mesh_scratch(ct_mesh *m, size_t bytes) { return ct_mesh_scratch_(m, bytes); }

void *ct_mesh_scratch_(ct_mesh *m, size_t bytes)
{
    if (bytes > m->scratch_bytes) {
        free(m->scratch);
        m->scratch_bytes = 0;
        m->scratch = malloc(bytes);
        if (m->scratch) {
            m->scratch_bytes = bytes;
            ct_advise_huge_pages(m->scratch, bytes);
        }
    }
    return m->scratch;
}

CT_MESH_CLONES
int ct_mesh_block_planes_(const ct_mesh *m, int cnt, const float *restrict p,
                          int32_t *restrict plane)
{
    const double box = m->box, ih = m->inv_h;
    const int32_t N = (int32_t)m->N;
    int bad = 0;
    for (int k = 0; k < cnt; k++) {
        const double x = p[3 * k], y = p[3 * k + 1], z = p[3 * k + 2];
        /* false for NaN and infinities too */
        const int in = (x >= 0) & (x < box) & (y >= 0) & (y < box) & (z >= 0) & (z < box);
        const int32_t g = (int32_t)((in ? x : 0.0) * ih); /* x >= 0: truncation is floor */
        bad |= !in;
        plane[k] = g >= N ? g - N : g;
    }
    return bad;
}

/* Nonzero if any of the 3 * cnt coordinates is not finite or not in [0, box). */
CT_MESH_CLONES
int ct_mesh_any_outside_(int64_t cnt, const float *restrict p, double box)
{
    int bad = 0;
    for (int64_t i = 0; i < 3 * cnt; i++) {
        const double x = p[i];
        bad |= !((x >= 0) & (x < box)); /* NaN fails both */
    }
    return bad;
}

int64_t ct_mesh_first_outside(int64_t n, const float *pos, double box)
{
    const int64_t blk = 4096; /* a branch-free pass per block, the row only in a bad one */
    for (int64_t a = 0; a < n; a += blk) {
        const int64_t cnt = n - a < blk ? n - a : blk;
        if (!ct_mesh_any_outside_(cnt, pos + 3 * a, box))
            continue;
        for (int64_t i = a; i < a + cnt; i++)
            for (int k = 0; k < 3; k++) {
                const double x = pos[3 * i + k];
                if (!(x >= 0 && x < box))
                    return i;
            }
    }
    return -1;
}

void ct_mesh_zero(ct_mesh *m)
{
    size_t total = m->nreal + CT_MESH_GHOST_LO * m->plane;
    if (m->f32) {
        float *b = m->fbase;
#pragma omp parallel for num_threads(m->threads) schedule(static)
        for (size_t i = 0; i < total; i++)
            b[i] = 0;
    } else {
        ct_real *b = m->base;
#pragma omp parallel for num_threads(m->threads) schedule(static)
        for (size_t i = 0; i < total; i++)
            b[i] = 0;
    }
    m->fourier = 0;
}

ct_status ct_mesh_copy(ct_mesh *dst, const ct_mesh *src)
{
    if (dst->N != src->N || dst->box != src->box || dst->size != src->size ||
        dst->nreal != src->nreal)
        CT_FAIL(CT_ERR_ARG, "mesh copy between different geometries");
    CT_MESH_NOT_F32(src, "copy");
    CT_MESH_NOT_F32(dst, "copy");
    memcpy(dst->base, src->base, (dst->nreal + CT_MESH_GHOST_LO * dst->plane) * sizeof(ct_real));
    dst->fourier = src->fourier;
    return CT_OK;
}

ct_status ct_mesh_r2c(ct_mesh *m)
{
    if (m->fourier)
        CT_FAIL(CT_ERR_STATE, "forward FFT of a mesh already in Fourier space");
    if (m->f32)
        fftwf_mpi_execute_dft_r2c(m->ffwd, m->fdata, (fftwf_complex *)m->fdata);
    else
        CT_FFTW_MPI(execute_dft_r2c)(m->fwd, m->data, (CT_FFTW(complex) *)m->data);
    m->fourier = 1;
    return CT_OK;
}

ct_real ct_mesh_inv_n3(const ct_mesh *m)
{
    return (ct_real)(1.0 / ((double)m->N * (double)m->N * (double)m->N));
}

void ct_mesh_set_fourier(ct_mesh *m) { m->fourier = 1; }

ct_status ct_mesh_c2r_unnormalised(ct_mesh *m)
{
    if (!m->fourier)
        CT_FAIL(CT_ERR_STATE, "backward FFT of a mesh in real space");
    CT_MESH_NOT_F32(m, "backward FFT");
    CT_FFTW_MPI(execute_dft_c2r)(m->bwd, (CT_FFTW(complex) *)m->data, m->data);
    m->fourier = 0;
    return CT_OK;
}

ct_status ct_mesh_c2r(ct_mesh *m)
{
    CT_CHECK(ct_mesh_c2r_unnormalised(m));
    const ct_real inv = ct_mesh_inv_n3(m);
    const ptrdiff_t rows = m->nx * (ptrdiff_t)m->N;
    const int64_t N = m->N;
#pragma omp parallel for num_threads(m->threads) schedule(static)
    for (ptrdiff_t r = 0; r < rows; r++) {
        ct_real *p = m->data + r * m->row;
        for (int64_t l = 0; l < N; l++)
            p[l] *= inv;
        p[N] = p[N + 1] = 0; /* padding */
    }
    return CT_OK;
}

ct_status ct_mesh_sum(const ct_mesh *m, double *sum)
{
    ct_status rc = CT_OK;
    double *part = NULL;
    if (m->fourier)
        CT_FAIL(CT_ERR_STATE, "mesh sum needs a real-space mesh");
    CT_MESH_NOT_F32(m, "sum");
    /* per-plane partial sums summed in plane order: the result does not depend on
     * the thread count */
    CT_CHECK(ct_calloc(&part, (size_t)m->nx + 1, sizeof(double), "plane sums"));
    const int64_t N = m->N;
#pragma omp parallel for num_threads(m->threads) schedule(static)
    for (ptrdiff_t p = 0; p < m->nx; p++) {
        double s = 0;
        for (int64_t j = 0; j < N; j++) {
            const ct_real *r = m->data + ((size_t)p * N + j) * m->row;
            for (int64_t l = 0; l < N; l++)
                s += r[l];
        }
        part[p] = s;
    }
    double local = 0, total = 0;
    for (ptrdiff_t p = 0; p < m->nx; p++)
        local += part[p];
    if (MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, m->comm) != MPI_SUCCESS)
        CT_FAIL_GOTO(rc, CT_ERR_MPI, "MPI_Allreduce failed in mesh sum");
    *sum = total;
fail:
    free(part);
    return rc;
}

ct_status ct_mesh_to_overdensity(ct_mesh *m, double *mean_out)
{
    double sum;
    CT_CHECK(ct_mesh_sum(m, &sum));
    double mean = sum / ((double)m->N * (double)m->N * (double)m->N);
    CT_CHECK(ct_mesh_to_overdensity_mean(m, mean));
    if (mean_out)
        *mean_out = mean;
    return CT_OK;
}

ct_status ct_mesh_to_overdensity_mean(ct_mesh *m, double mean)
{
    if (m->fourier)
        CT_FAIL(CT_ERR_STATE, "overdensity needs a real-space mesh");
    CT_MESH_NOT_F32(m, "overdensity");
    if (!(mean > 0) || !isfinite(mean))
        CT_FAIL(CT_ERR_NUMERIC, "mean of the painted mesh is %g (no particles or bad weights)",
                mean);
    const double inv = 1.0 / mean;
    const ptrdiff_t rows = m->nx * (ptrdiff_t)m->N;
    const int64_t N = m->N;
#pragma omp parallel for num_threads(m->threads) schedule(static)
    for (ptrdiff_t r = 0; r < rows; r++) {
        ct_real *p = m->data + r * m->row;
        for (int64_t l = 0; l < N; l++)
            p[l] = (ct_real)(p[l] * inv - 1.0);
    }
    return CT_OK;
}

void ct_kiter_begin(ct_kiter *it, const ct_mesh *m, ptrdiff_t p0, ptrdiff_t p1)
{
    if (p1 > m->ny)
        p1 = m->ny;
    if (p0 < 0)
        p0 = 0;
    it->N = m->N;
    it->half = m->N / 2;
    it->y0 = m->y0;
    it->p = p0;
    it->p1 = p1;
    memset(&it->mode, 0, sizeof it->mode);
    it->mode.idx = (ptrdiff_t)p0 * (ptrdiff_t)m->N * (ptrdiff_t)(m->N / 2 + 1);
    it->mode.i[0] = 0;
    it->mode.i[1] = m->y0 + p0;
    it->mode.i[2] = 0;
    if (p0 < p1)
        ct_kiter_fill_(it);
}

/* 1 / [sin(x)/x]^p for x = pi n / N, per grid index. */
ct_status ct_mesh_window_table(int64_t N, int p, double **out)
{
    double *w = NULL;
    CT_CHECK(ct_calloc(&w, (size_t)N, sizeof(double), "window table"));
    for (int64_t i = 0; i < N; i++) {
        int64_t n = ct_mesh_wavenumber(i, N);
        double x = M_PI * (double)n / (double)N;
        double s = n == 0 ? 1.0 : sin(x) / x;
        w[i] = 1.0 / pow(s, p);
    }
    *out = w;
    return CT_OK;
}

ct_status ct_mesh_compensate(ct_mesh *m, int p)
{
    if (p == 0 && m->fourier)
        return CT_OK;
    CT_CHECK(ct_mesh_compensate_scaled(m, p, 1.0));
    return CT_OK;
}

ct_status ct_mesh_compensate_scaled(ct_mesh *m, int p, double scale)
{
    if (!m->fourier)
        CT_FAIL(CT_ERR_STATE, "compensation needs a Fourier-space mesh");
    if (p < 0 || p > 8)
        CT_FAIL(CT_ERR_ARG, "window order %d out of range", p);
    if (!isfinite(scale))
        CT_FAIL(CT_ERR_ARG, "compensation scale %g is not finite", scale);
    double *w = NULL;
    CT_CHECK(ct_mesh_window_table(m->N, p, &w));
    /* the scale goes into one axis' table: one multiplication per mode */
    double *wx = NULL;
    ct_status rc = ct_calloc(&wx, (size_t)m->N, sizeof(double), "window table");
    if (rc != CT_OK) {
        free(w);
        CT_CHECK(rc);
    }
    for (int64_t i = 0; i < m->N; i++)
        wx[i] = w[i] * scale;
    ct_complex *c = ct_mesh_complex(m);
    ct_complex_f32 *cf = ct_mesh_complex_f32(m);
#pragma omp parallel for num_threads(m->threads) schedule(static)
    for (ptrdiff_t pl = 0; pl < m->ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *k = &it.mode;
            double f = wx[k->i[0]] * w[k->i[1]] * w[k->i[2]];
            if (cf) {
                cf[k->idx][0] = (float)(cf[k->idx][0] * f);
                cf[k->idx][1] = (float)(cf[k->idx][1] * f);
            } else {
                c[k->idx][0] = (ct_real)(c[k->idx][0] * f);
                c[k->idx][1] = (ct_real)(c[k->idx][1] * f);
            }
        }
    }
    free(w);
    free(wx);
    return CT_OK;
}

ct_status ct_mesh_interlace(ct_mesh *m, const ct_mesh *s)
{
    if (!m->fourier || !s->fourier)
        CT_FAIL(CT_ERR_STATE, "interlacing needs both meshes in Fourier space");
    if (m->N != s->N || m->box != s->box || m->ny != s->ny || m->y0 != s->y0 || m->f32 != s->f32)
        CT_FAIL(CT_ERR_ARG, "interlacing meshes of different geometry or precision");
    ct_complex *a = ct_mesh_complex(m);
    const ct_complex *b = (const ct_complex *)s->data;
    ct_complex_f32 *af = ct_mesh_complex_f32(m);
    const ct_complex_f32 *bf = (const ct_complex_f32 *)s->fdata;
    const double f = M_PI / (double)m->N;
#pragma omp parallel for num_threads(m->threads) schedule(static)
    for (ptrdiff_t pl = 0; pl < m->ny; pl++) {
        ct_kiter it;
        for (ct_kiter_begin(&it, m, pl, pl + 1); ct_kiter_valid(&it); ct_kiter_next(&it)) {
            const ct_kmode *k = &it.mode;
            double ph = f * (double)(k->n[0] + k->n[1] + k->n[2]);
            double c = cos(ph), sn = sin(ph);
            if (af) {
                double br = bf[k->idx][0], bi = bf[k->idx][1];
                af[k->idx][0] = (float)(0.5 * (af[k->idx][0] + br * c - bi * sn));
                af[k->idx][1] = (float)(0.5 * (af[k->idx][1] + br * sn + bi * c));
                continue;
            }
            double br = b[k->idx][0], bi = b[k->idx][1];
            a[k->idx][0] = (ct_real)(0.5 * (a[k->idx][0] + br * c - bi * sn));
            a[k->idx][1] = (ct_real)(0.5 * (a[k->idx][1] + br * sn + bi * c));
        }
    }
    return CT_OK;
}
