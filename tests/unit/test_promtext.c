/* Unit tests for src/core/promtext.c: headers, sample lines, number formatting. */
#include <criterion/criterion.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/promtext.h"

#include <math.h>

static const char *sample(gd_buf *b, double v)
{
    gd_buf_reset(b);
    cr_assert_eq(gd_prom_sample(b, "x", "", v), 0);
    return gd_buf_cstr(b);
}

Test(promtext, head)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_prom_head(&b, "gameday_requests_total", "counter", "Requests answered."), 0);
    cr_assert_str_eq(gd_buf_cstr(&b), "# HELP gameday_requests_total Requests answered.\n"
                                      "# TYPE gameday_requests_total counter\n");
    gd_buf_free(&b);
}

Test(promtext, help_is_escaped)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_prom_head(&b, "m", "gauge", "a\\b\nc"), 0);
    cr_assert_str_eq(gd_buf_cstr(&b), "# HELP m a\\\\b\\nc\n# TYPE m gauge\n");
    gd_buf_free(&b);
}

Test(promtext, sample_with_and_without_labels)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_prom_sample(&b, "up", "", 1), 0);
    cr_assert_eq(gd_prom_sample(&b, "lat_seconds", "team=\"1\",q=\"0.99\"", 4.25), 0);
    cr_assert_eq(gd_prom_sample(&b, "up", NULL, 0), 0);
    cr_assert_str_eq(gd_buf_cstr(&b), "up 1\nlat_seconds{team=\"1\",q=\"0.99\"} 4.25\nup 0\n");
    gd_buf_free(&b);
}

Test(promtext, number_formats)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_str_eq(sample(&b, 0), "x 0\n");
    cr_assert_str_eq(sample(&b, -0.0), "x 0\n");
    cr_assert_str_eq(sample(&b, 42), "x 42\n");
    cr_assert_str_eq(sample(&b, -7), "x -7\n");
    cr_assert_str_eq(sample(&b, 1234567890123.0), "x 1234567890123\n");
    cr_assert_str_eq(sample(&b, 0.5), "x 0.5\n");
    cr_assert_str_eq(sample(&b, 0.1), "x 0.10000000000000001\n");
    cr_assert_str_eq(sample(&b, 1e300), "x 1.0000000000000001e+300\n");
    cr_assert_str_eq(sample(&b, NAN), "x NaN\n");
    cr_assert_str_eq(sample(&b, INFINITY), "x +Inf\n");
    cr_assert_str_eq(sample(&b, -INFINITY), "x -Inf\n");
    gd_buf_free(&b);
}

Test(promtext, rejects_bad_names_and_types)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_prom_head(&b, "9lives", "gauge", ""), GD_EINVAL);
    cr_assert_eq(gd_prom_head(&b, "a-b", "gauge", ""), GD_EINVAL);
    cr_assert_eq(gd_prom_head(&b, "ok", "meter", ""), GD_EINVAL);
    cr_assert_eq(gd_prom_sample(&b, "", "", 1), GD_EINVAL);
    cr_assert_eq(b.len, 0);
    gd_buf_free(&b);
}

Test(promtext, full_buffer_writes_nothing)
{
    gd_buf b;
    gd_buf_init(&b, 40);
    cr_assert_eq(gd_prom_sample(&b, "a", "", 1), 0);
    size_t len = b.len;
    cr_assert_eq(gd_prom_head(&b, "a_long_metric_name", "counter", "help text"), GD_ETOOBIG);
    cr_assert_eq(b.len, len);
    cr_assert_eq(gd_prom_sample(&b, "a_long_metric_name", "some=\"labels\"", 1.5), GD_ETOOBIG);
    cr_assert_eq(b.len, len);
    cr_assert_str_eq(gd_buf_cstr(&b), "a 1\n");
    gd_buf_free(&b);
}
