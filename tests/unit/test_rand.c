/* Unit tests for src/core/rand.c: reference sequence, determinism, exponential mean,
 * Zipf frequencies. */
#include <criterion/criterion.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/rand.h"

#include <math.h>

Test(rand, matches_reference_sequence)
{
    /* xoshiro256** seeded with splitmix64(42): the values of Vigna's reference code,
     * recomputed with an independent Python transcription of both algorithms. */
    static const uint64_t want[] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                                    0xae17533239e499a1ull, 0xecb8ad4703b360a1ull};
    gd_rand r;
    gd_rand_seed(&r, 42);
    for (int i = 0; i < 4; i++) cr_assert_eq(gd_rand_u64(&r), want[i], "output %d", i);
}

Test(rand, same_seed_same_sequence)
{
    gd_rand a, b, c;
    gd_rand_seed(&a, 20260101);
    gd_rand_seed(&b, 20260101);
    gd_rand_seed(&c, 20260102);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = gd_rand_u64(&a);
        cr_assert_eq(x, gd_rand_u64(&b));
        if (x != gd_rand_u64(&c)) differ++;
    }
    cr_assert_gt(differ, 990);
}

Test(rand, seed_zero_is_usable)
{
    gd_rand r;
    gd_rand_seed(&r, 0);
    cr_assert(r.s[0] | r.s[1] | r.s[2] | r.s[3]);
    cr_assert_neq(gd_rand_u64(&r), gd_rand_u64(&r));
}

Test(rand, double_in_unit_interval)
{
    gd_rand r;
    gd_rand_seed(&r, 7);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = gd_rand_double(&r);
        cr_assert(u >= 0.0 && u < 1.0, "u=%g", u);
        sum += u;
    }
    cr_assert_float_eq(sum / 100000, 0.5, 0.01);
}

Test(rand, exp_mean_is_one_over_rate)
{
    gd_rand r;
    gd_rand_seed(&r, 1);
    const double rate = 2.5;
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double x = gd_rand_exp(&r, rate);
        cr_assert(x >= 0 && isfinite(x));
        sum += x;
    }
    /* The mean of 100k draws has a standard error of 0.4 / sqrt(1e5) = 0.0013. */
    cr_assert_float_eq(sum / n, 1.0 / rate, 0.008, "mean %g", sum / n);
}

Test(rand, zipf_rejects_bad_arguments)
{
    gd_zipf z;
    cr_assert_eq(gd_zipf_init(&z, 0, 1.0), GD_EINVAL);
    cr_assert_eq(gd_zipf_init(&z, 10000001, 1.0), GD_EINVAL);
    cr_assert_eq(gd_zipf_init(&z, 10, -0.5), GD_EINVAL);
    cr_assert_eq(gd_zipf_init(&z, 10, NAN), GD_EINVAL);
    gd_zipf_free(&z); /* harmless after a failed init */
}

Test(rand, zipf_rank_one_frequency)
{
    const uint32_t n = 1000;
    const double s = 1.0;
    long live = gd_mem_live();
    gd_zipf z;
    cr_assert_eq(gd_zipf_init(&z, n, s), 0);
    double harmonic = 0;
    for (uint32_t k = 1; k <= n; k++) harmonic += pow(k, -s);
    double p1 = 1.0 / harmonic, p2 = pow(2, -s) / harmonic; /* 0.1336, 0.0668 */
    gd_rand r;
    gd_rand_seed(&r, 99);
    const int draws = 100000;
    int ones = 0, twos = 0;
    for (int i = 0; i < draws; i++) {
        uint32_t k = gd_zipf_next(&z, &r);
        cr_assert(k >= 1 && k <= n, "rank %u", k);
        if (k == 1) ones++;
        if (k == 2) twos++;
    }
    /* Standard error of a frequency near 0.13 over 100k draws is about 0.0011. */
    cr_assert_float_eq((double)ones / draws, p1, 0.005, "rank 1: %g vs %g", (double)ones / draws,
                       p1);
    cr_assert_float_eq((double)twos / draws, p2, 0.005, "rank 2: %g vs %g", (double)twos / draws,
                       p2);
    gd_zipf_free(&z);
    cr_assert_null(z.cdf);
    cr_assert_eq(gd_mem_live(), live);
}

Test(rand, zipf_s_zero_is_uniform)
{
    gd_zipf z;
    cr_assert_eq(gd_zipf_init(&z, 10, 0.0), 0);
    gd_rand r;
    gd_rand_seed(&r, 5);
    int count[11] = {0};
    for (int i = 0; i < 100000; i++) count[gd_zipf_next(&z, &r)]++;
    cr_assert_eq(count[0], 0);
    for (int k = 1; k <= 10; k++)
        cr_assert(count[k] > 9500 && count[k] < 10500, "rank %d drawn %d times", k, count[k]);
    gd_zipf_free(&z);
}

Test(rand, zipf_single_key)
{
    gd_zipf z;
    cr_assert_eq(gd_zipf_init(&z, 1, 1.2), 0);
    gd_rand r;
    gd_rand_seed(&r, 3);
    for (int i = 0; i < 100; i++) cr_assert_eq(gd_zipf_next(&z, &r), 1);
    gd_zipf_free(&z);
}

Test(rand, zipf_deterministic_for_seed)
{
    gd_zipf z;
    cr_assert_eq(gd_zipf_init(&z, 100000, 1.1), 0);
    gd_rand a, b;
    gd_rand_seed(&a, 11);
    gd_rand_seed(&b, 11);
    for (int i = 0; i < 1000; i++) cr_assert_eq(gd_zipf_next(&z, &a), gd_zipf_next(&z, &b));
    gd_zipf_free(&z);
}
