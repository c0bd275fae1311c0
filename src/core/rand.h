/* Seeded pseudo-random numbers (xoshiro256**), exponential inter-arrival times and a
 * Zipf sampler over a key space. Deterministic for a seed: every team of a game gets
 * the same customers. */
#ifndef GD_RAND_H
#define GD_RAND_H

#include <stdint.h>

typedef struct gd_rand {
    uint64_t s[4];
} gd_rand;

/** Seeds the generator (splitmix64 expansion of seed). */
void gd_rand_seed(gd_rand *r, uint64_t seed);
uint64_t gd_rand_u64(gd_rand *r);
/** Uniform in [0, 1). */
double gd_rand_double(gd_rand *r);
/** Exponentially distributed with the given rate (mean 1/rate); rate > 0. */
double gd_rand_exp(gd_rand *r, double rate);

typedef struct gd_zipf {
    uint32_t n;
    double s;
    double *cdf; /* n entries, owned */
} gd_zipf;

/** Prepares a Zipf(s) sampler over ranks 1..n (s >= 0; s = 0 is uniform). GD_EINVAL
 *  for n == 0 or n > 10,000,000. */
int gd_zipf_init(gd_zipf *z, uint32_t n, double s);
void gd_zipf_free(gd_zipf *z);
/** A rank in 1..n; rank 1 is the most frequent. */
uint32_t gd_zipf_next(const gd_zipf *z, gd_rand *r);

#endif
