/* Unit tests for src/core/hist.c: bucket edges, percentiles, merge and the JSON form. */
#include <criterion/criterion.h>

#include "core/err.h"
#include "core/hist.h"

#include <stdlib.h>
#include <string.h>

static gd_hist *new_hist(void)
{
    gd_hist *h = malloc(sizeof *h);
    cr_assert_not_null(h);
    gd_hist_reset(h);
    return h;
}

Test(hist, empty_is_zero)
{
    gd_hist *h = new_hist();
    cr_assert_eq(h->count, 0);
    cr_assert_eq(gd_hist_percentile(h, 50), 0);
    cr_assert_eq(gd_hist_percentile(h, 100), 0);
    cr_assert_float_eq(gd_hist_mean(h), 0.0, 1e-12);
    free(h);
}

Test(hist, small_values_are_exact)
{
    for (uint64_t v = 0; v < 128; v++) {
        gd_hist *h = new_hist();
        gd_hist_add(h, v);
        gd_hist_add(h, 1000000); /* max far above, so no clamping hides an error */
        cr_assert_eq(gd_hist_percentile(h, 50), v, "value %lu came back as %lu", (unsigned long)v,
                     (unsigned long)gd_hist_percentile(h, 50));
        free(h);
    }
}

Test(hist, sub_bucket_edges)
{
    gd_hist *h = new_hist();
    /* 128..255 still have width 1; 256..511 have width 2, so 256 and 257 share a bucket. */
    gd_hist_add(h, 129);
    gd_hist_add(h, 100000);
    cr_assert_eq(gd_hist_percentile(h, 50), 129);
    gd_hist_reset(h);
    gd_hist_add(h, 256);
    gd_hist_add(h, 100000);
    cr_assert_eq(gd_hist_percentile(h, 50), 257);
    gd_hist_reset(h);
    gd_hist_add(h, 257);
    gd_hist_add(h, 100000);
    cr_assert_eq(gd_hist_percentile(h, 50), 257);
    gd_hist_reset(h);
    gd_hist_add(h, 258);
    gd_hist_add(h, 100000);
    cr_assert_eq(gd_hist_percentile(h, 50), 259);
    free(h);
}

Test(hist, percentile_clamped_to_max)
{
    gd_hist *h = new_hist();
    gd_hist_add(h, 4000000); /* 4 s in game microseconds: bucket width 2^14 */
    cr_assert_eq(gd_hist_percentile(h, 50), 4000000);
    cr_assert_eq(gd_hist_percentile(h, 99), 4000000);
    cr_assert_eq(h->max, 4000000);
    free(h);
}

Test(hist, relative_error_under_one_128th)
{
    gd_hist *h = new_hist();
    for (uint64_t v = 128; v < (1ull << 40); v = v * 3 / 2 + 7) {
        gd_hist_reset(h);
        gd_hist_add(h, v);
        gd_hist_add(h, UINT64_MAX >> 20);
        uint64_t got = gd_hist_percentile(h, 50);
        cr_assert_geq(got, v);
        cr_assert_leq((double)(got - v), (double)v / 128.0, "v=%lu got=%lu", (unsigned long)v,
                      (unsigned long)got);
    }
    free(h);
}

Test(hist, percentiles_of_uniform)
{
    gd_hist *h = new_hist();
    for (uint64_t v = 1; v <= 1000; v++) gd_hist_add(h, v);
    cr_assert_eq(h->count, 1000);
    cr_assert_float_eq(gd_hist_mean(h), 500.5, 1e-9);
    uint64_t p50 = gd_hist_percentile(h, 50), p99 = gd_hist_percentile(h, 99);
    cr_assert(p50 >= 500 && p50 <= 504, "p50=%lu", (unsigned long)p50);
    cr_assert(p99 >= 990 && p99 <= 1000, "p99=%lu", (unsigned long)p99);
    cr_assert_eq(gd_hist_percentile(h, 100), 1000);
    cr_assert_eq(gd_hist_percentile(h, 0), 1);
    free(h);
}

Test(hist, huge_values_land_in_last_bucket)
{
    gd_hist *h = new_hist();
    gd_hist_add(h, UINT64_MAX);
    gd_hist_add(h, 1ull << 50);
    cr_assert_eq(h->b[GD_HIST_NBUCKETS - 1], 2);
    cr_assert_eq(gd_hist_percentile(h, 50), UINT64_MAX);
    free(h);
}

Test(hist, merge_adds_everything)
{
    gd_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
    for (uint64_t v = 0; v < 5000; v += 3) {
        gd_hist_add(v % 2 ? a : b, v * 17);
        gd_hist_add(all, v * 17);
    }
    gd_hist_merge(a, b);
    cr_assert_eq(a->count, all->count);
    cr_assert_eq(a->max, all->max);
    cr_assert_float_eq(a->sum, all->sum, 1e-6);
    cr_assert_eq(memcmp(a->b, all->b, sizeof a->b), 0);
    free(a);
    free(b);
    free(all);
}

Test(hist, json_round_trip)
{
    gd_hist *h = new_hist(), *back = new_hist();
    for (uint64_t v = 0; v < 100000; v += 7) gd_hist_add(h, v * v);
    json_t *j = gd_hist_to_json(h);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_t *parsed = json_loads(text, 0, NULL);
    free(text);
    cr_assert_not_null(parsed);
    cr_assert_eq(gd_hist_add_json(back, parsed), 0);
    json_decref(parsed);
    cr_assert_eq(back->count, h->count);
    cr_assert_eq(back->max, h->max);
    cr_assert_float_eq(back->sum, h->sum, h->sum * 1e-12);
    cr_assert_eq(memcmp(back->b, h->b, sizeof h->b), 0);
    free(h);
    free(back);
}

Test(hist, json_is_sparse)
{
    gd_hist *h = new_hist();
    gd_hist_add(h, 3);
    gd_hist_add(h, 3);
    gd_hist_add(h, 100);
    json_t *j = gd_hist_to_json(h);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(text, "{\"b\":[[3,2],[100,1]],\"max\":100,\"n\":3,\"sum\":106.0}");
    free(text);
    json_decref(j);
    free(h);
}

Test(hist, bad_json_changes_nothing)
{
    static const char *bad[] = {
        "[]",
        "{\"n\":1,\"max\":3,\"sum\":3}",
        "{\"n\":1,\"max\":3,\"sum\":3,\"b\":[[3]]}",
        "{\"n\":1,\"max\":3,\"sum\":3,\"b\":[[5376,1]]}",
        "{\"n\":1,\"max\":3,\"sum\":3,\"b\":[[-1,1]]}",
        "{\"n\":2,\"max\":3,\"sum\":3,\"b\":[[3,1]]}",
        "{\"n\":2,\"max\":3,\"sum\":6,\"b\":[[3,1],[3,1]]}",
        "{\"n\":1,\"max\":3,\"sum\":\"3\",\"b\":[[3,1]]}",
        "{\"n\":-1,\"max\":3,\"sum\":3,\"b\":[]}",
        "{\"n\":1,\"max\":3,\"sum\":3,\"b\":[[3,-1],[4,2]]}",
    };
    gd_hist *h = new_hist(), *copy = new_hist();
    gd_hist_add(h, 42);
    memcpy(copy, h, sizeof *h);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        cr_assert_not_null(j, "test input %zu does not parse", i);
        cr_assert_eq(gd_hist_add_json(h, j), GD_EPROTO, "accepted %s", bad[i]);
        cr_assert_eq(memcmp(h, copy, sizeof *h), 0, "changed by %s", bad[i]);
        json_decref(j);
    }
    free(h);
    free(copy);
}
