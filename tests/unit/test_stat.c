/* Unit tests for src/model/stat.c: statistic names and values as CloudWatch has them. */
#include <criterion/criterion.h>

#include "model/stat.h"

#include <math.h>

static double of(const char *name, const double *in, size_t n)
{
    gd_stat s;
    cr_assert_eq(gd_stat_parse(name, &s), 0, "%s should parse", name);
    double v[16];
    for (size_t i = 0; i < n; i++) v[i] = in[i];
    return gd_stat_of(&s, v, n);
}

Test(stat, names)
{
    gd_stat s;
    const char *good[] = {"Average", "Sum", "Minimum", "Maximum", "SampleCount",
                          "p0",      "p50", "p99",     "p99.9",   "p100"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(gd_stat_parse(good[i], &s), 0, "%s", good[i]);
    const char *bad[] = {"average", "avg", "p", "p101", "p-1", "p50x", "P50", "", "pnan", "p1e2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(gd_stat_parse(bad[i], &s), -1, "'%s' must not parse", bad[i]);
    cr_expect_eq(gd_stat_parse(NULL, &s), -1);
    cr_assert_eq(gd_stat_parse("p99.9", &s), 0);
    cr_expect_eq(s.kind, GD_STAT_PERCENTILE);
    cr_expect_float_eq(s.pct, 99.9, 1e-12);
}

Test(stat, values)
{
    const double v[] = {4, 1, 3, 2, 10};
    cr_expect_float_eq(of("Average", v, 5), 4.0, 1e-12);
    cr_expect_float_eq(of("Sum", v, 5), 20.0, 1e-12);
    cr_expect_float_eq(of("Minimum", v, 5), 1.0, 1e-12);
    cr_expect_float_eq(of("Maximum", v, 5), 10.0, 1e-12);
    cr_expect_float_eq(of("SampleCount", v, 5), 5.0, 1e-12);
    cr_expect_float_eq(of("p50", v, 5), 3.0, 1e-12);  /* nearest rank: 3rd of 5 */
    cr_expect_float_eq(of("p80", v, 5), 4.0, 1e-12);  /* 4th of 5 */
    cr_expect_float_eq(of("p81", v, 5), 10.0, 1e-12); /* past 80 %: the 5th */
    cr_expect_float_eq(of("p0", v, 5), 1.0, 1e-12);
    cr_expect_float_eq(of("p100", v, 5), 10.0, 1e-12);
    const double one[] = {-2.5};
    cr_expect_float_eq(of("Maximum", one, 1), -2.5, 1e-12);
    cr_expect_float_eq(of("p99", one, 1), -2.5, 1e-12);
}
