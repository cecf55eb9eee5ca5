/* D3M evaluation pieces.
 * - ct_d3m_filter: a constant ratio scales every channel (to float rounding,
 *   1e-5 relative: two FFTs of 16^3 in double plus float storage); a ratio that
 *   is 1 below k_c and 0 above keeps a plane wave of wavenumber below k_c and
 *   removes one above (1e-5 absolute on unit amplitude).
 * - ct_d3m_positions: q + d wrapped into [0, box) (exact up to float rounding).
 * - ct_void_find: a uniform field (density 1) with two empty spheres of radius
 *   R1 = 20 and R2 = 12 Mpc/h on a 64^3 grid in 256 Mpc/h (cell 4 Mpc/h) gives
 *   exactly two voids, centred on the planted centres (within one cell, the
 *   spheres are centred on grid points so exactly there) with radii between the
 *   empty radius and the radius where the mean density reaches the threshold
 *   0.2, R / 0.8^(1/3) (1.077 R), widened by one cell for the lattice; no voids
 *   in the uniform field; bad settings are refused. */
#include <math.h>
#include <stdlib.h>

#include "cosmotl/d3m.h"
#include "testlib.h"

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    /* filter */
    {
        const int64_t N = 16, cells = N * N * N;
        const double box = 100;
        float *d = malloc(2 * cells * sizeof(float)), *d0 = malloc(2 * cells * sizeof(float));
        ct_rng r;
        ct_rng_init(&r, 3, 0, 0);
        for (int64_t i = 0; i < 2 * cells; i++)
            d0[i] = d[i] = (float)ct_rng_normal(&r);
        const double k2[2] = {0.0, 10.0}, c2[2] = {1.7, 1.7};
        CT_EXPECT_OK(ct_d3m_filter(d, 2, N, box, k2, c2, 2));
        double worst = 0;
        for (int64_t i = 0; i < 2 * cells; i++)
            worst = fmax(worst, fabs(d[i] - 1.7 * d0[i]) / (1.7 * fabs(d0[i]) + 1e-3));
        CT_EXPECT(worst < 1e-5);
        /* plane waves n = 2 (k = 0.126) and n = 6 (k = 0.377) along axis 2 */
        const double kf = 2 * M_PI / box;
        const double kc[4] = {0.0, 4.4 * kf, 4.6 * kf, 10.0}, rc[4] = {1, 1, 0, 0};
        for (int64_t c = 0; c < cells; c++) {
            double z = (double)(c % N) / N;
            d[c] = (float)cos(2 * M_PI * 2 * z);
            d[cells + c] = (float)sin(2 * M_PI * 6 * z);
        }
        CT_EXPECT_OK(ct_d3m_filter(d, 2, N, box, kc, rc, 4));
        double e0 = 0, e1 = 0;
        for (int64_t c = 0; c < cells; c++) {
            double z = (double)(c % N) / N;
            e0 = fmax(e0, fabs(d[c] - cos(2 * M_PI * 2 * z)));
            e1 = fmax(e1, fabs(d[cells + c]));
        }
        CT_EXPECT(e0 < 1e-5);
        CT_EXPECT(e1 < 1e-5);
        const double kbad[2] = {1.0, 0.5};
        CT_EXPECT(ct_d3m_filter(d, 2, N, box, kbad, c2, 2) == CT_ERR_ARG);
        ct_error_clear();
        /* positions */
        float *pos = malloc(3 * cells * sizeof(float));
        for (int64_t i = 0; i < 3 * cells && i < 2 * cells; i++)
            d[i] = (float)(60 * ct_rng_uniform(&r) - 30);
        float *d3 = malloc(3 * cells * sizeof(float));
        for (int64_t i = 0; i < 3 * cells; i++)
            d3[i] = (float)(60 * ct_rng_uniform(&r) - 30);
        ct_d3m_positions(d3, N, box, pos);
        int badp = 0;
        for (int64_t c = 0; c < cells; c++)
            for (int a = 0; a < 3; a++) {
                int64_t q = a == 0 ? c / (N * N) : a == 1 ? (c / N) % N : c % N;
                double x = q * box / N + d3[a * cells + c];
                x = fmod(x + 2 * box, box);
                double dx = fabs(pos[3 * c + a] - x);
                dx = fmin(dx, box - dx);
                badp += !(pos[3 * c + a] >= 0 && pos[3 * c + a] < box && dx < 1e-4);
            }
        CT_EXPECT(badp == 0);
        free(pos);
        free(d3);
        free(d);
        free(d0);
    }
    /* voids */
    {
        const int64_t N = 64, cells = N * N * N;
        const double box = 256, H = box / N;
        double *rho = malloc(cells * sizeof(double));
        const double cen[2][3] = {{100, 100, 100}, {200, 40, 220}}, R[2] = {20, 12};
        for (int64_t c = 0; c < cells; c++) {
            double x[3] = {(double)(c / (N * N)) * H, (double)((c / N) % N) * H,
                           (double)(c % N) * H};
            rho[c] = 1.0;
            for (int v = 0; v < 2; v++) {
                double d2 = 0;
                for (int a = 0; a < 3; a++) {
                    double dx = x[a] - cen[v][a];
                    dx -= box * nearbyint(dx / box);
                    d2 += dx * dx;
                }
                if (d2 < R[v] * R[v])
                    rho[c] = 0.0;
            }
        }
        ct_void_settings s;
        ct_void_settings_default(&s, N, box);
        CT_EXPECT(s.threshold == 0.2 && s.r_min == 2 * H && s.r_max == box / 8);
        ct_void *v = NULL;
        int64_t nv = 0;
        CT_EXPECT_OK(ct_void_find(rho, N, box, &s, &v, &nv));
        CT_EXPECT(nv == 2);
        for (int64_t i = 0; i < nv && i < 2; i++) {
            for (int a = 0; a < 3; a++)
                CT_EXPECT_ABS(v[i].x[a], cen[i][a], H);
            CT_EXPECT(v[i].r >= R[i] - H && v[i].r <= R[i] / cbrt(0.8) + H);
            CT_EXPECT(v[i].rho < 0.2);
            ct_log(CT_LOG_INFO, "void %lld: (%g %g %g) R %g rho %g", (long long)i, v[i].x[0],
                   v[i].x[1], v[i].x[2], v[i].r, v[i].rho);
        }
        free(v);
        for (int64_t c = 0; c < cells; c++)
            rho[c] = 1.0;
        CT_EXPECT_OK(ct_void_find(rho, N, box, &s, &v, &nv));
        CT_EXPECT(nv == 0);
        free(v);
        s.r_max = box; /* beyond box / 2 */
        CT_EXPECT(ct_void_find(rho, N, box, &s, &v, &nv) == CT_ERR_ARG);
        ct_error_clear();
        free(rho);
    }
    CT_TEST_END();
}
