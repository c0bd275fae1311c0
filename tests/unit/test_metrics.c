/* Unit tests for src/server/metrics.c: series from an edge's /stats, CacheHitRate and
 * OriginLatency of each period rather than since the edge started. */
#include <criterion/criterion.h>

#include "core/hist.h"
#include "server/metrics.h"

#include <math.h>

static json_t *stats(int hits, int misses, int stale)
{
    return json_pack(
        "{s:i,s:i,s:i,s:{s:i,s:i,s:i,s:f}}", "requests", hits + misses + stale, "healthy", 1,
        "unhealthy", 0, "cache", "hits", hits, "misses", misses, "stale", stale, "hit_rate",
        hits + misses + stale ? (double)(hits + stale) / (hits + misses + stale) : 0.0);
}

static double point(json_t *series, size_t i, size_t k)
{
    return json_number_value(json_array_get(json_array_get(series, i), k));
}

Test(metrics, cache_hit_rate_is_per_period)
{
    gd_metrics *m = gd_metrics_new();
    json_t *s1 = stats(0, 10, 0);  /* period 1: 10 misses */
    json_t *s2 = stats(90, 10, 0); /* period 2: 90 hits, no miss */
    json_t *s3 = stats(90, 10, 0); /* period 3: no lookup */
    json_t *s4 = stats(95, 20, 5); /* period 4: 5 hits, 10 misses, 5 stale */
    json_t *s5 = stats(3, 1, 0);   /* the edge restarted: its counters begin again */
    gd_metrics_from_edge(m, "cdn-1", 10, NULL, s1);
    gd_metrics_from_edge(m, "cdn-1", 20, s1, s2);
    gd_metrics_from_edge(m, "cdn-1", 30, s2, s3);
    gd_metrics_from_edge(m, "cdn-1", 40, s3, s4);
    gd_metrics_from_edge(m, "cdn-1", 50, s4, s5);
    json_t *a = gd_metrics_series(m, "cdn-1", "CacheHitRate", 0);
    cr_assert_eq(json_array_size(a), 4, "want 4 datapoints (none for the idle period), got %zu",
                 json_array_size(a));
    cr_assert_float_eq(point(a, 0, 0), 10, 1e-9);
    cr_assert_float_eq(point(a, 0, 1), 0.0, 1e-9);
    cr_assert_float_eq(point(a, 1, 0), 20, 1e-9);
    cr_assert_float_eq(point(a, 1, 1), 1.0, 1e-9, "got %g (the cumulative rate is 0.9)",
                       point(a, 1, 1));
    cr_assert_float_eq(point(a, 2, 0), 40, 1e-9);
    cr_assert_float_eq(point(a, 2, 1), 0.5, 1e-9, "got %g", point(a, 2, 1));
    cr_assert_float_eq(point(a, 3, 0), 50, 1e-9);
    cr_assert_float_eq(point(a, 3, 1), 0.75, 1e-9, "got %g", point(a, 3, 1));
    json_t *latest = gd_metrics_latest(m, "cdn-1");
    cr_assert_float_eq(json_number_value(json_object_get(latest, "CacheHitRate")), 0.75, 1e-9);
    /* Counts are spread over the 10 s since the previous sample, in 5 s pieces. */
    json_t *rc = gd_metrics_series(m, "cdn-1", "RequestCount", 0);
    cr_assert_eq(json_array_size(rc), 9, "got %zu", json_array_size(rc));
    cr_assert_float_eq(point(rc, 1, 0), 15, 1e-9);
    cr_assert_float_eq(point(rc, 1, 1), 45, 1e-9, "half of period 2's 90, got %g", point(rc, 1, 1));
    cr_assert_float_eq(point(rc, 3, 1), 0, 1e-9);
    json_decref(rc);
    json_decref(latest);
    json_decref(a);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(s4);
    json_decref(s5);
    gd_metrics_free(m);
}

Test(metrics, no_cache_no_hit_rate)
{
    gd_metrics *m = gd_metrics_new();
    json_t *s = json_pack("{s:i,s:i,s:i}", "requests", 5, "healthy", 2, "unhealthy", 0);
    gd_metrics_from_edge(m, "alb-1", 1, NULL, s);
    json_t *a = gd_metrics_series(m, "alb-1", "CacheHitRate", 0);
    cr_assert_eq(json_array_size(a), 0);
    json_t *rc = gd_metrics_series(m, "alb-1", "RequestCountPerTarget", 0);
    cr_assert_float_eq(point(rc, 0, 1), 2.5, 1e-9);
    json_decref(rc);
    json_decref(a);
    json_decref(s);
    gd_metrics_free(m);
}

static json_t *origin(double ms_sum, int fetches)
{
    return json_pack("{s:i,s:i,s:i,s:{s:i,s:i,s:i,s:f,s:i}}", "requests", fetches, "healthy", 1,
                     "unhealthy", 0, "cache", "hits", 0, "misses", fetches, "stale", 0,
                     "origin_ms_sum", ms_sum, "origin_fetches", fetches);
}

Test(metrics, origin_latency_is_per_period)
{
    gd_metrics *m = gd_metrics_new();
    json_t *s1 = origin(4000, 1); /* period 1: one fetch of 4 s */
    json_t *s2 = origin(4100, 3); /* period 2: two fetches of 50 ms */
    json_t *s3 = origin(4100, 3); /* period 3: none */
    gd_metrics_from_edge(m, "cdn-1", 10, NULL, s1);
    gd_metrics_from_edge(m, "cdn-1", 20, s1, s2);
    gd_metrics_from_edge(m, "cdn-1", 30, s2, s3);
    json_t *a = gd_metrics_series(m, "cdn-1", "OriginLatency", 0);
    cr_assert_eq(json_array_size(a), 2, "want no datapoint for the period with no fetch, got %zu",
                 json_array_size(a));
    cr_assert_float_eq(point(a, 0, 1), 4000, 1e-9);
    cr_assert_float_eq(point(a, 1, 1), 50, 1e-9, "got %g (the cumulative mean is 1366.7)",
                       point(a, 1, 1));
    json_decref(a);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    gd_metrics_free(m);
}

Test(metrics, statistics_per_period)
{
    gd_metrics *m = gd_metrics_new();
    /* Samples at 0..179 s, value = t: periods [0,60), [60,120), [120,180). */
    for (int t = 0; t < 180; t++) gd_metrics_put(m, "alb-1", "RequestCount", t, t);
    gd_stat sum, avg, max, n, p90;
    gd_stat_parse("Sum", &sum);
    gd_stat_parse("Average", &avg);
    gd_stat_parse("Maximum", &max);
    gd_stat_parse("SampleCount", &n);
    gd_stat_parse("p90", &p90);
    json_t *a = gd_metrics_stats(m, "alb-1", "RequestCount", 0, 180, 60, &sum);
    cr_assert_eq(json_array_size(a), 3);
    cr_expect_float_eq(point(a, 0, 0), 0, 1e-9);
    cr_expect_float_eq(point(a, 0, 1), 59 * 60 / 2.0, 1e-9);
    cr_expect_float_eq(point(a, 2, 0), 120, 1e-9);
    cr_expect_float_eq(point(a, 2, 1), (120 + 179) * 60 / 2.0, 1e-9);
    cr_expect_float_eq(point(a, 1, 2), 60, 1e-9, "each datapoint says how many samples");
    json_decref(a);
    a = gd_metrics_stats(m, "alb-1", "RequestCount", 60, 120, 60, &avg);
    cr_assert_eq(json_array_size(a), 1, "the window bounds the samples");
    cr_expect_float_eq(point(a, 0, 1), 89.5, 1e-9);
    json_decref(a);
    a = gd_metrics_stats(m, "alb-1", "RequestCount", 30, 180, 100, &max);
    cr_assert_eq(json_array_size(a), 2, "periods start at the window's start");
    cr_expect_float_eq(point(a, 0, 0), 30, 1e-9);
    cr_expect_float_eq(point(a, 0, 1), 129, 1e-9);
    cr_expect_float_eq(point(a, 1, 1), 179, 1e-9);
    json_decref(a);
    a = gd_metrics_stats(m, "alb-1", "RequestCount", 0, 60, 60, &p90);
    cr_expect_float_eq(point(a, 0, 1), 53, 1e-9, "nearest rank 54 of 60 is 53");
    json_decref(a);
    a = gd_metrics_stats(m, "alb-1", "RequestCount", 500, 900, 60, &n);
    cr_expect_eq(json_array_size(a), 0, "no samples, no datapoints");
    json_decref(a);
    a = gd_metrics_stats(m, "alb-1", "Nope", 0, 900, 60, &n);
    cr_expect_eq(json_array_size(a), 0);
    json_decref(a);
    a = gd_metrics_stats(m, "alb-1", "RequestCount", 0, 180, 0, &n);
    cr_expect_eq(json_array_size(a), 0, "a period of 0 gives nothing, not a division by 0");
    json_decref(a);
    gd_metrics_free(m);
}

Test(metrics, rings_grow_then_keep_the_newest)
{
    gd_metrics *m = gd_metrics_new();
    for (int t = 0; t < GD_METRIC_POINTS + 904; t++)
        gd_metrics_put(m, "i-1", "CPUUtilization", t, t);
    json_t *a = gd_metrics_series(m, "i-1", "CPUUtilization", 0);
    cr_assert_eq(json_array_size(a), GD_METRIC_POINTS);
    for (size_t i = 0; i < json_array_size(a); i++)
        cr_assert_float_eq(point(a, i, 1), 904.0 + (double)i, 1e-9, "point %zu", i);
    json_decref(a);
    gd_metrics_put(m, "i-2", "CPUUtilization", 1, 7);
    a = gd_metrics_series(m, "i-2", "CPUUtilization", 0);
    cr_assert_eq(json_array_size(a), 1);
    json_decref(a);
    gd_metrics_free(m);
}

Test(metrics, periods_fill_slots_oldest_first)
{
    gd_metrics *m = gd_metrics_new();
    gd_metrics_put(m, "a", "X", 5, 1);
    gd_metrics_put(m, "a", "X", 10, 3);
    gd_metrics_put(m, "a", "X", 130, 7); /* [60, 120) has none */
    gd_stat sum;
    gd_stat_parse("Sum", &sum);
    double v[4];
    gd_metrics_periods(m, "a", "X", 180, 3, 60, &sum, v);
    cr_expect_float_eq(v[0], 4, 1e-9);
    cr_expect(isnan(v[1]), "a period without samples is NAN, got %g", v[1]);
    cr_expect_float_eq(v[2], 7, 1e-9);
    gd_metrics_periods(m, "nobody", "X", 180, 2, 60, &sum, v);
    cr_expect(isnan(v[0]) && isnan(v[1]));
    gd_metrics_free(m);
}

/* Samples half a game minute apart (x120): each minute's Sum still holds that minute's
 * requests, not one or two samples' worth depending on where the samples fell. */
Test(metrics, counts_are_spread_over_the_time_since_the_last_sample)
{
    gd_metrics *m = gd_metrics_new();
    json_t *prev = NULL;
    for (int i = 0; i <= 8; i++) {
        /* 2 requests a game second, a sample every 35 s */
        json_t *cur = json_pack("{s:i,s:i,s:i}", "requests", 70 * i, "healthy", 2, "unhealthy", 0);
        gd_metrics_from_edge(m, "alb-1", 35.0 * i, prev, cur);
        json_decref(prev);
        prev = cur;
    }
    json_decref(prev);
    gd_stat sum;
    gd_stat_parse("Sum", &sum);
    double v[4];
    gd_metrics_periods(m, "alb-1", "RequestCount", 240, 4, 60, &sum, v);
    for (int i = 0; i < 4; i++)
        cr_expect(fabs(v[i] - 120) <= 12, "minute %d: Sum %g, want 120 +- a 5 s piece", i, v[i]);
    gd_metrics_periods(m, "alb-1", "RequestCountPerTarget", 240, 4, 60, &sum, v);
    for (int i = 0; i < 4; i++)
        cr_expect(fabs(v[i] - 60) <= 6, "minute %d: per target %g, want 60", i, v[i]);
    gd_metrics_free(m);
}

/* An edge's /stats with a target_time histogram holding the given game seconds. */
static json_t *timed(gd_hist *h, const double *secs, size_t n)
{
    for (size_t i = 0; i < n; i++) gd_hist_add(h, (uint64_t)(secs[i] * 1e6));
    json_t *s = json_pack("{s:i,s:i,s:i}", "requests", (int)h->count, "healthy", 1, "unhealthy", 0);
    json_object_set_new(s, "target_time", gd_hist_to_json(h));
    return s;
}

Test(metrics, target_response_time_is_one_datapoint_per_request_of_the_sample)
{
    gd_metrics *m = gd_metrics_new();
    static gd_hist h;
    gd_hist_reset(&h);
    const double first[] = {0.1, 0.2}, then[] = {0.5, 4.0, 0.3};
    json_t *s1 = timed(&h, first, 2);
    json_t *s2 = timed(&h, then, 3);
    json_t *s3 = json_deep_copy(s2); /* no request ended: no datapoint */
    gd_metrics_from_edge(m, "lb-1", 10, NULL, s1);
    gd_metrics_from_edge(m, "lb-1", 20, s1, s2);
    gd_metrics_from_edge(m, "lb-1", 30, s2, s3);
    json_t *a = gd_metrics_series(m, "lb-1", "TargetResponseTime", 0);
    /* the first read is the baseline (the edge's past before it); the second sample's
     * are 0.3, 0.5 and 4.0 (ascending, within the buckets' 1 %) */
    cr_assert_eq(json_array_size(a), 3, "got %zu", json_array_size(a));
    cr_assert_float_eq(point(a, 0, 0), 20, 1e-9);
    cr_assert_float_eq(point(a, 0, 1), 0.3, 0.3 * 0.01, "got %g", point(a, 0, 1));
    cr_assert_float_eq(point(a, 1, 1), 0.5, 0.5 * 0.01, "got %g", point(a, 1, 1));
    cr_assert_float_eq(point(a, 2, 1), 4.0, 4.0 * 0.01, "got %g", point(a, 2, 1));
    /* so a period's p99 is its slowest request, not a mean */
    gd_stat st;
    cr_assert_eq(gd_stat_parse("p99", &st), 0);
    json_t *p = gd_metrics_stats(m, "lb-1", "TargetResponseTime", 0, 60, 60, &st);
    cr_assert_eq(json_array_size(p), 1);
    cr_assert_float_eq(point(p, 0, 1), 4.0, 0.04, "got %g", point(p, 0, 1));
    cr_assert_float_eq(point(p, 0, 2), 3, 1e-9, "three requests, got %g", point(p, 0, 2));
    json_decref(p);
    json_decref(a);
    /* many requests in one sample: GD_METRIC_LATENCY_POINTS quantiles stand for them */
    double many[1000];
    for (int i = 0; i < 1000; i++) many[i] = 1.0 + i / 1000.0;
    json_t *s4 = timed(&h, many, 1000);
    gd_metrics_from_edge(m, "lb-1", 40, s3, s4);
    a = gd_metrics_series(m, "lb-1", "TargetResponseTime", 35);
    cr_assert_eq(json_array_size(a), GD_METRIC_LATENCY_POINTS, "got %zu", json_array_size(a));
    cr_assert(point(a, 0, 1) >= 1.0 && point(a, GD_METRIC_LATENCY_POINTS - 1, 1) <= 2.0 * 1.01);
    json_decref(a);
    /* an edge that restarted begins its histogram again */
    gd_hist_reset(&h);
    const double one[] = {0.7};
    json_t *s5 = timed(&h, one, 1);
    gd_metrics_from_edge(m, "lb-1", 50, s4, s5);
    a = gd_metrics_series(m, "lb-1", "TargetResponseTime", 45);
    cr_assert_eq(json_array_size(a), 1, "got %zu", json_array_size(a));
    cr_assert_float_eq(point(a, 0, 1), 0.7, 0.007);
    json_decref(a);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(s4);
    json_decref(s5);
    gd_metrics_free(m);
}
