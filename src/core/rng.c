/* Philox4x32-10 counter-based generator (Salmon et al. 2011): the stream is a
 * pure function of (seed, stream, counter), independent of the rank layout. */
#include "cosmotl/core.h"

#include <math.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void ct_philox(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void ct_rng_init(ct_rng *r, uint64_t seed, uint64_t stream, uint64_t counter)
{
    r->seed = seed;
    r->stream = stream;
    r->counter = counter;
    r->nbuf = 0;
}

uint32_t ct_rng_u32(ct_rng *r)
{
    if (r->nbuf == 0) {
        ct_philox(r->seed, r->stream, r->counter++, r->buf);
        r->nbuf = 4;
    }
    return r->buf[4 - r->nbuf--];
}

uint64_t ct_rng_u64(ct_rng *r)
{
    uint64_t hi = ct_rng_u32(r);
    uint64_t lo = ct_rng_u32(r);
    return (hi << 32) | lo;
}

double ct_rng_uniform(ct_rng *r)
{
    /* (k + 0.5) / 2^53 lies strictly inside (0, 1) */
    uint64_t k = ct_rng_u64(r) >> 11;
    return ((double)k + 0.5) * 0x1.0p-53;
}

double ct_rng_normal(ct_rng *r)
{
    double u1 = ct_rng_uniform(r), u2 = ct_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t ct_rng_below(ct_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* rejection to avoid modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = ct_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

uint64_t ct_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull; /* see core.h: not FNV's published basis */
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t ct_hash_name(const char *s)
{
    return ct_hash_bytes(s, strlen(s));
}

void ct_rng_shuffle(ct_rng *r, int64_t *v, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)ct_rng_below(r, (uint64_t)(i + 1));
        int64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

void ct_shuffle_rows(int64_t *v, int64_t n, uint64_t seed, uint64_t stream)
{
    ct_rng r;
    ct_rng_init(&r, seed, stream, 0);
    ct_rng_shuffle(&r, v, n);
}
