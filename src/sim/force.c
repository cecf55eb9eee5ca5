/* PM force kernels and the PGD short-range correction.
 *
 * The legacy kernel (FD2) is the 2-point finite-difference gradient sin(kH)/H
 * with the CIC paint and readout windows left in. It is zero on the Nyquist
 * planes, where the B = 2 particle lattice paints its images, which keeps the
 * early steps clean, but it weakens the force by the factor
 * [sin(kH)/(kH)] W(k)^2, 3% at k = 0.1 k_N and 28% at 0.3 k_N (k_N = pi/H):
 * at 256^3 in 1000 Mpc/h with B = 2, 3% at k = 0.15 and 28% at 0.5 h/Mpc.
 * Integrated over the run, that is the power deficit measured against Quijote.
 *
 * DECONV uses the exact gradient i k divided by the CIC window twice (paint and
 * readout), W(k) = prod_a sinc^2(k_a H / 2), at low k, and hands over to FD2
 * towards the Nyquist frequency with the weight tau = exp(-(k/(c k_N))^8):
 * the full force to about 0.45 k_N (tau > 0.97 for c = 0.55) and FD2 alone
 * near k_N, where the lattice images sit (tau(k_N) < 1e-2).
 *
 * PGD (Dai, Feng & Seljak 2018) moves the particles at an output by
 * alpha grad of the high- and low-pass filtered potential of their density,
 * S(k) = alpha i k O_L O_S delta(k) / k^2, O_L = exp(-kl^2/k^2),
 * O_S = exp(-(k/ks)^4): towards the overdensities, on the scales between kl
 * and ks, where PM's softened force has left the halos too diffuse. */
#include <math.h>
#include <stdlib.h>

#include "sim_internal.h"

ct_status ct_force_kernel_init(ct_force_kernel *fk, ct_force_kind kind, double taper, int64_t N,
                               double box)
{
    ct_status rc = CT_OK;
    *fk = (ct_force_kernel){0};
    if (kind != CT_FORCE_FD2 && kind != CT_FORCE_DECONV)
        CT_FAIL(CT_ERR_ARG, "unknown PM force kernel %d", (int)kind);
    if (!(taper > 0.05 && taper <= 2.0))
        CT_FAIL(CT_ERR_ARG, "force taper %g outside (0.05, 2]", taper);
    if (N < 2 || N % 2 || !(box > 0))
        CT_FAIL(CT_ERR_ARG, "force kernel: mesh %lld, box %g", (long long)N, box);
    fk->kind = kind;
    fk->N = N;
    fk->n2max = 3 * (N / 2) * (N / 2);
    CT_CHECK_GOTO(rc, ct_calloc(&fk->fd, (size_t)N, sizeof(double), "PM gradient"));
    CT_CHECK_GOTO(rc, ct_calloc(&fk->kex, (size_t)N, sizeof(double), "PM gradient"));
    CT_CHECK_GOTO(rc, ct_calloc(&fk->winv, (size_t)N, sizeof(double), "PM window"));
    CT_CHECK_GOTO(rc, ct_calloc(&fk->tau, (size_t)fk->n2max + 1, sizeof(double), "PM kernel"));
    const double H = box / (double)N, kf = 2.0 * M_PI / box, kn = M_PI / H;
    for (int64_t i = 0; i < N; i++) {
        int64_t n = ct_mesh_wavenumber(i, N);
        double k = kf * (double)n, x = 0.5 * k * H;
        fk->fd[i] = sin(k * H) / H;
        fk->kex[i] = 2 * n == N ? 0.0 : k;
        double s = n == 0 ? 1.0 : sin(x) / x;
        fk->winv[i] = 1.0 / (s * s);
    }
    for (int64_t q = 0; q <= fk->n2max; q++) {
        double u = kf * sqrt((double)q) / (taper * kn);
        double u2 = u * u, u4 = u2 * u2;
        fk->tau[q] = exp(-u4 * u4);
    }
    return CT_OK;
fail:
    ct_force_kernel_free(fk);
    return rc;
}

void ct_force_kernel_free(ct_force_kernel *fk)
{
    free(fk->fd);
    free(fk->kex);
    free(fk->winv);
    free(fk->tau);
    *fk = (ct_force_kernel){0};
}

ct_status ct_sim_grad_readout(ct_mesh *m, ct_mesh *w0, ct_mesh *w1, const ct_force_kernel *fk,
                              const double *radial, int64_t n, const float *pos, double *out,
                              ct_timers *t)
{
    ptrdiff_t y0, ny;
    ct_mesh_klocal(m, &y0, &ny);
    const ct_complex *s = ct_mesh_complex(m);
    const int64_t N = ct_mesh_n(m), nz = N / 2 + 1;
    const int deconv = fk->kind != CT_FORCE_FD2;
    /* component ax goes to dst[ax]; the last one overwrites delta(k) in m
     * itself, mode by mode after reading it, so no copy of the mesh is made */
    ct_mesh *dst[3] = {w0, w1, m};
    for (int ax = 0; ax < 3; ax++) {
        ct_complex *d = ct_mesh_complex(dst[ax]);
        /* The modes in the layout of ct_kiter (ky plane, then kx, then kz
         * fastest) with the per-row factors hoisted: the same operations in
         * the same order as ct_force_gradient(), so the same bits, at a
         * fraction of the generic iterator's cost (docs/benchmarks.md). */
        for (ptrdiff_t pl = 0; pl < ny; pl++) {
            const int64_t i1 = (int64_t)(y0 + pl), n1 = ct_mesh_wavenumber(i1, N);
            for (int64_t i0 = 0; i0 < N; i0++) {
                const int64_t n0 = ct_mesh_wavenumber(i0, N), n01 = n0 * n0 + n1 * n1;
                const ptrdiff_t base = ((ptrdiff_t)pl * (ptrdiff_t)N + (ptrdiff_t)i0) * nz;
                const double w01 = fk->winv[i0] * fk->winv[i1];
                const int64_t irow = ax == 0 ? i0 : i1;
                for (int64_t i2 = 0; i2 < nz; i2++) {
                    const int64_t n2 = n01 + i2 * i2, ia = ax == 2 ? i2 : irow;
                    double g = fk->fd[ia];
                    if (deconv) {
                        double tt = fk->tau[n2];
                        double w = w01 * fk->winv[i2];
                        g = (1.0 - tt) * g + tt * fk->kex[ia] * w * w;
                    }
                    g *= radial[n2];
                    const ptrdiff_t idx = base + (ptrdiff_t)i2;
                    double re = s[idx][0], im = s[idx][1];
                    d[idx][0] = (ct_real)(-g * im);
                    d[idx][1] = (ct_real)(g * re);
                }
            }
        }
        ct_mesh_set_fourier(dst[ax]);
        if (t)
            ct_timer_start(t, "fft");
        ct_status rc = ct_mesh_c2r(dst[ax]);
        if (t)
            ct_timer_stop(t, "fft");
        CT_CHECK(rc);
    }
    /* one readout of the three meshes: CIC weights once per particle */
    if (t)
        ct_timer_start(t, "readout");
    ct_status rc = ct_mesh_readout_n(dst, 3, CT_MAS_CIC, n, pos, out);
    if (t)
        ct_timer_stop(t, "readout");
    return rc;
}

ct_status ct_sim_pgd(ct_mesh *m, ct_mesh *w0, ct_mesh *w1, const ct_force_kernel *fk, double alpha,
                     double kl, double ks, int64_t n, const float *pos, double *dis, float *out,
                     ct_timers *t)
{
    ct_status rc = CT_OK;
    double *radial = NULL;
    if (!(kl >= 0 && ks > 0))
        CT_FAIL(CT_ERR_ARG, "PGD: kl = %g, ks = %g (need kl >= 0, ks > 0)", kl, ks);
    const double kf = ct_mesh_kf(m), box = ct_mesh_box(m);
    CT_CHECK(ct_calloc(&radial, (size_t)fk->n2max + 1, sizeof(double), "PGD kernel"));
    for (int64_t q = 1; q <= fk->n2max; q++) {
        double k2 = kf * kf * (double)q, u = k2 / (ks * ks);
        radial[q] = alpha * exp(-kl * kl / k2 - u * u) / k2;
    }
    ct_paint_settings ps;
    ct_paint_settings_defaults(&ps);
    ps.mas = CT_MAS_CIC;
    if (t)
        ct_timer_start(t, "pgd");
    rc = ct_mesh_paint(m, &ps, n, pos, NULL, 1.0); /* zeroes m first */
    if (rc == CT_OK)
        rc = ct_mesh_to_overdensity(m, NULL);
    if (rc == CT_OK)
        rc = ct_mesh_r2c(m);
    if (rc == CT_OK)
        rc = ct_sim_grad_readout(m, w0, w1, fk, radial, n, pos, dis, NULL);
    if (t)
        ct_timer_stop(t, "pgd");
    CT_CHECK_GOTO(rc, rc);
    for (int64_t i = 0; i < 3 * n; i++) {
        double x = pos[i] + dis[i];
        x -= box * floor(x / box);
        float xf = (float)x;
        out[i] = xf < (float)box && xf >= 0 ? xf : 0.0f;
    }
fail:
    free(radial);
    return rc;
}
