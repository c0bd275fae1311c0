/* Deterministic randomness for customer traffic: xoshiro256** seeded by splitmix64,
 * exponential inter-arrival times, and a Zipf key sampler (precomputed CDF). */
#include "core/rand.h"
#include "core/err.h"
#include "core/mem.h"

#include <math.h>

#define ZIPF_MAX_N 10000000u

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void gd_rand_seed(gd_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t gd_rand_u64(gd_rand *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gd_rand_double(gd_rand *r)
{
    return (double)(gd_rand_u64(r) >> 11) * 0x1.0p-53;
}

double gd_rand_exp(gd_rand *r, double rate)
{
    /* -ln(1 - u) / rate; u < 1, so the logarithm is finite. */
    return -log1p(-gd_rand_double(r)) / rate;
}

int gd_zipf_init(gd_zipf *z, uint32_t n, double s)
{
    z->n = 0;
    z->s = s;
    z->cdf = NULL;
    if (n == 0 || n > ZIPF_MAX_N || !(s >= 0) || !isfinite(s)) return GD_EINVAL;
    double *cdf = gd_malloc((size_t)n * sizeof *cdf);
    /* Kahan summation keeps the tail of a 10-million-term sum accurate. */
    double sum = 0, carry = 0;
    for (uint32_t k = 1; k <= n; k++) {
        double y = pow((double)k, -s) - carry;
        double t = sum + y;
        carry = (t - sum) - y;
        sum = t;
        cdf[k - 1] = sum;
    }
    for (uint32_t k = 0; k < n; k++) cdf[k] /= sum;
    cdf[n - 1] = 1.0; /* so that every u in [0, 1) finds a rank */
    z->n = n;
    z->cdf = cdf;
    return 0;
}

void gd_zipf_free(gd_zipf *z)
{
    gd_free(z->cdf);
    z->cdf = NULL;
    z->n = 0;
}

uint32_t gd_zipf_next(const gd_zipf *z, gd_rand *r)
{
    double u = gd_rand_double(r);
    /* The smallest index whose cumulative probability exceeds u. */
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo + 1;
}
