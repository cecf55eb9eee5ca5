/* D3M augmentation (ct_d3m_augment): for every one of the 48 symmetries of the
 * lattice (6 axis permutations x 8 reflections), the augmented displacement field
 * equals the displacement field of the transformed particles (positions x -> the
 * permuted, reflected x mod box; lattice cells and IDs transformed alike), as
 * ct_d3m_displacement computes it; a scalar channel moves without sign changes;
 * a non-permutation is refused. ct_d3m_augment_cube (what lazy training uses): for
 * every symmetry and corners that wrap, the periodic sub-cube [o, o + S) of the
 * augmented field equals the cube transformation of the stored field's sub-cube
 * at the corner the header gives, exactly (only copies and sign flips), for S < N,
 * S = N and S > N. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmotl/unet.h"
#include "testlib.h"

/* The periodic sub-cube [o, o + S) of a 4 x N^3 field. */
static void crop(const float *f, int64_t N, const int64_t o[3], int64_t S, float *dst)
{
    const int64_t S3 = S * S * S;
    for (int ch = 0; ch < 4; ch++)
        for (int64_t l = 0; l < S3; l++) {
            const int64_t l3[3] = {l / (S * S), (l / S) % S, l % S};
            int64_t g[3];
            for (int a = 0; a < 3; a++)
                g[a] = ((o[a] + l3[a]) % N + N) % N;
            dst[ch * S3 + l] = f[ch * N * N * N + (g[0] * N + g[1]) * N + g[2]];
        }
}

int main(int argc, char **argv)
{
    CT_TEST_BEGIN(argc, argv);
    const int64_t N = 6, cells = N * N * N;
    const double box = 30.0, H = box / N;
    float *pos = malloc(3 * cells * sizeof(float)), *pos2 = malloc(3 * cells * sizeof(float));
    uint64_t *id = malloc(cells * sizeof(uint64_t)), *id2 = malloc(cells * sizeof(uint64_t));
    float *d = malloc(4 * cells * sizeof(float)), *aug = malloc(4 * cells * sizeof(float));
    float *d2 = malloc(3 * cells * sizeof(float));
    ct_rng r;
    ct_rng_init(&r, 5, 0, 0);
    for (int64_t c = 0; c < cells; c++) {
        const int64_t q[3] = {c / (N * N), (c / N) % N, c % N};
        for (int ax = 0; ax < 3; ax++) {
            double x = fmod(q[ax] * H + 0.3 * box * (2 * ct_rng_uniform(&r) - 1) + box, box);
            pos[3 * c + ax] = (float)x;
        }
        id[c] = (uint64_t)c + 1;
    }
    CT_EXPECT_OK(ct_d3m_displacement(pos, id, cells, N, box, 0, MPI_COMM_SELF, d));
    for (int64_t c = 0; c < cells; c++) /* a scalar channel: its cell index */
        d[3 * cells + c] = (float)c;
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int bad = 0;
    for (int pi = 0; pi < 6; pi++)
        for (int f = 0; f < 8; f++) {
            const int *perm = perms[pi];
            const int flip[3] = {f & 1, (f >> 1) & 1, (f >> 2) & 1};
            CT_EXPECT_OK(ct_d3m_augment(d, 4, N, flip, perm, aug));
            for (int64_t c = 0; c < cells; c++) {
                const int64_t q[3] = {c / (N * N), (c / N) % N, c % N};
                int64_t q2[3];
                for (int a = 0; a < 3; a++) {
                    double x = pos[3 * c + perm[a]];
                    if (flip[a])
                        x = fmod(box - x, box);
                    pos2[3 * c + a] = (float)x;
                    q2[a] = flip[a] ? (N - q[perm[a]]) % N : q[perm[a]];
                }
                id2[c] = (uint64_t)((q2[0] * N + q2[1]) * N + q2[2]) + 1;
            }
            CT_EXPECT_OK(ct_d3m_displacement(pos2, id2, cells, N, box, 0, MPI_COMM_SELF, d2));
            /* float positions in a 30 Mpc/h box: ~4e-6 rounding */
            for (int64_t i = 0; i < 3 * cells; i++)
                bad += !(fabs(aug[i] - d2[i]) < 1e-4);
            /* the scalar channel: cell c' of the output holds the source cell */
            for (int64_t c = 0; c < cells; c++) {
                const int64_t io[3] = {c / (N * N), (c / N) % N, c % N};
                int64_t is[3];
                for (int a = 0; a < 3; a++)
                    is[perm[a]] = flip[a] ? (N - io[a]) % N : io[a];
                bad += aug[3 * cells + c] != (float)((is[0] * N + is[1]) * N + is[2]);
            }
        }
    CT_EXPECT(bad == 0);
    /* sub-cubes: crop of the augmented lattice == augment_cube of the lattice's crop */
    int bad_cube = 0;
    const int64_t sides[3] = {4, 6, 9}, corners[4][3] = {{0, 0, 0}, {5, 1, 3}, {-2, 4, -7}, {3, 5, 2}};
    float *sub = malloc(4 * 9 * 9 * 9 * sizeof(float)), *got = malloc(4 * 9 * 9 * 9 * sizeof(float));
    for (int si = 0; si < 3; si++)
        for (int pi = 0; pi < 6; pi++)
            for (int f = 0; f < 8; f++)
                for (int oc = 0; oc < 4; oc++) {
                    const int64_t S = sides[si], S3 = S * S * S, *o = corners[oc];
                    const int *perm = perms[pi];
                    const int flip[3] = {f & 1, (f >> 1) & 1, (f >> 2) & 1};
                    int64_t st[3];
                    for (int a = 0; a < 3; a++)
                        st[perm[a]] = flip[a] ? N - o[a] - S + 1 : o[a];
                    CT_EXPECT_OK(ct_d3m_augment(d, 4, N, flip, perm, aug));
                    crop(d, N, st, S, sub); /* the stored field's sub-cube at st */
                    CT_EXPECT_OK(ct_d3m_augment_cube(sub, 4, S, flip, perm, got));
                    crop(aug, N, o, S, sub); /* the augmented field's sub-cube at o */
                    for (int64_t l = 0; l < 4 * S3; l++)
                        bad_cube += got[l] != sub[l];
                }
    CT_EXPECT(bad_cube == 0);
    free(sub), free(got);
    const int notperm[3] = {0, 0, 2}, noflip[3] = {0, 0, 0};
    CT_EXPECT(ct_d3m_augment(d, 4, N, noflip, notperm, aug) == CT_ERR_ARG);
    CT_EXPECT(strstr(ct_error_message(), "not a permutation") != NULL);
    ct_error_clear();
    free(pos), free(pos2), free(id), free(id2), free(d), free(aug), free(d2);
    CT_TEST_END();
}
