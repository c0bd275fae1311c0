/* Tests of the board's arithmetic (src/server/board.c): the smoothed score has no cliff
 * at a bill, the bills of a period fold into one row, an action's before/after points
 * per minute, the customers' rows per minute and the row of an audit record. */
#include "server/board.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static json_t *row(double t, const char *source, double points, const char *reason)
{
    return json_pack("{s:f,s:s,s:f,s:s}", "time", t, "source", source, "points", points, "reason",
                     reason);
}

static double at(const json_t *a, size_t i, size_t k)
{
    return json_number_value(json_array_get(json_array_get(a, i), k));
}

Test(board_series, a_bill_is_spread_over_what_it_covers)
{
    /* +10 every 10 s, a bill of 12 points every 60 s: the raw score drops 12 at each bill,
     * the smoothed one rises 8 every 10 s, before and after the bills alike. */
    json_t *rows = json_array();
    for (int t = 0; t < 300; t += 10) {
        json_array_append_new(rows, row(t + 5, "customers", 10, "x"));
        if (t % 60 == 0 && t > 0) json_array_append_new(rows, row(t, "billing", -12, "bill"));
    }
    json_t *s = gd_board_series(rows, 245, 10);
    cr_assert_eq(json_array_size(s), 26, "0, 10 .. 240 and now (245): %zu", json_array_size(s));
    for (size_t i = 1; i + 1 < json_array_size(s); i++) {
        double d = at(s, i, 3) - at(s, i - 1, 3);
        cr_assert(fabs(d - 8) < 1e-9, "smooth rises 8 from t=%g to t=%g, not %g", at(s, i - 1, 0),
                  at(s, i, 0), d);
        cr_assert(fabs(at(s, i, 1) - at(s, i, 0)) < 1e-9, "revenue at t=%g is %g", at(s, i, 0),
                  at(s, i, 1));
    }
    /* now: every row counted, also those stamped later (reports after a game's end); the
     * cost carried on at the last bill's rate (12 per 60 s). */
    size_t last = json_array_size(s) - 1;
    cr_assert_float_eq(at(s, last, 0), 245, 1e-9);
    cr_assert_float_eq(at(s, last, 1), 300, 1e-9, "revenue of every row");
    cr_assert_float_eq(at(s, last, 2), 48 + 12 * 5 / 60.0, 1e-9, "4 bills and 5 s more");
    json_decref(s);
    json_decref(rows);
}

Test(board_series, no_bill_no_cost)
{
    json_t *rows = json_array();
    json_array_append_new(rows, row(30, "customers", 5, "x"));
    json_array_append_new(rows, row(40, "chaos-monkey", -3, "penalty"));
    json_t *s = gd_board_series(rows, 90, 60);
    cr_assert_eq(json_array_size(s), 3);
    cr_assert_float_eq(at(s, 1, 1), 2, 1e-9, "a penalty is revenue's (not a bill)");
    cr_assert_float_eq(at(s, 2, 2), 0, 1e-9);
    json_decref(s);
    json_decref(rows);
}

Test(board_fold, the_bills_of_a_period_are_one_row)
{
    json_t *ev = json_array();
    json_array_append_new(ev, row(60, "billing", -10, "bill $0.10: 2 instances"));
    json_array_append_new(ev, row(120, "billing", -12, "bill $0.12: 3 instances"));
    json_array_append_new(ev, row(130, "chaos-monkey", 0, "terminated i-1"));
    json_array_append_new(ev, row(180, "billing", -14, "bill $0.14: 3 instances"));
    json_array_append_new(ev, row(660, "billing", -10, "bill $0.10: 2 instances"));
    json_t *f = gd_board_fold_bills(ev, 600, 100);
    cr_assert_eq(json_array_size(f), 3, "two bills rows and the chaos: %zu", json_array_size(f));
    json_t *b = json_array_get(f, 0);
    cr_assert_str_eq(json_string_value(json_object_get(b, "kind")), "bills");
    cr_assert_eq(json_integer_value(json_object_get(b, "count")), 3);
    cr_assert_float_eq(json_number_value(json_object_get(b, "from")), 60, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(b, "time")), 180, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(b, "points")), -36, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(b, "usd")), 0.36, 1e-9);
    cr_assert_str_eq(json_string_value(json_object_get(b, "reason")), "3 bills: $0.36");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(f, 1), "source")),
                     "chaos-monkey");
    json_t *b2 = json_array_get(f, 2);
    cr_assert_eq(json_integer_value(json_object_get(b2, "count")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(b2, "reason")), "1 bill: $0.10");
    json_decref(f);
    /* without points per dollar, the dollars come from the reasons */
    f = gd_board_fold_bills(ev, 600, 0);
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(f, 0), "usd")), 0.36, 1e-9);
    json_decref(f);
    json_decref(ev);
}

/* +10 every 10 s before t=120, +20 every 10 s from then on. */
static json_t *steps(void)
{
    json_t *rows = json_array();
    for (int t = 0; t < 180; t += 10)
        json_array_append_new(rows, row(t, "customers", t < 120 ? 10 : 20, "x"));
    return rows;
}

Test(board_effect, points_per_minute_before_and_after)
{
    json_t *rows = steps();
    json_t *e = gd_board_effect(rows, 120, 60, 180);
    cr_assert_float_eq(json_number_value(json_object_get(e, "before")), 60, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(e, "after")), 120, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(e, "delta")), 60, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(e, "before_s")), 60, 1e-9);
    json_decref(e);
    /* clipped at the end: 10 s after (the row at 170) */
    e = gd_board_effect(rows, 170, 60, 180);
    cr_assert_float_eq(json_number_value(json_object_get(e, "after")), 120, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(e, "after_s")), 10, 1e-9);
    json_decref(e);
    /* too early to tell: 5 s before is under a tenth of the window */
    e = gd_board_effect(rows, 5, 60, 180);
    cr_assert(json_is_null(json_object_get(e, "before")), "no before at 5 s");
    cr_assert(json_is_null(json_object_get(e, "delta")));
    cr_assert(json_is_number(json_object_get(e, "after")));
    json_decref(e);
    json_decref(rows);
}

Test(board_customers, reports_per_minute)
{
    json_t *rows = json_array();
    json_array_append_new(
        rows, row(61, "customers", 1, "10 ok (p50 100 ms), 1 errors, 2 timeouts, 3 wrong"));
    json_array_append_new(rows, row(62, "billing", -1, "bill $0.01"));
    json_array_append_new(
        rows, row(90, "customers", 1, "20 ok (p50 300 ms), 0 errors, 0 timeouts, 0 wrong"));
    json_array_append_new(
        rows, row(130, "customers", 1, "5 ok (p50 50 ms), 0 errors, 0 timeouts, 1 wrong"));
    json_array_append_new(
        rows, row(250, "customers", 1, "5 ok (p50 70 ms), 4 errors, 0 timeouts, 0 wrong"));
    json_array_append_new(rows, row(130, "customers", 1, "garbage"));
    json_t *c = gd_board_customers(rows, 60, 180);
    cr_assert_eq(json_array_size(c), 3, "%zu", json_array_size(c));
    cr_assert_float_eq(at(c, 0, 0), 60, 1e-9);
    cr_assert_float_eq(at(c, 0, 1), 30, 1e-9, "ok summed");
    cr_assert_float_eq(at(c, 0, 2), 1, 1e-9);
    cr_assert_float_eq(at(c, 0, 3), 2, 1e-9);
    cr_assert_float_eq(at(c, 0, 4), 3, 1e-9);
    cr_assert_float_eq(at(c, 0, 5), 200, 1e-9, "mean of the p50s");
    cr_assert_float_eq(at(c, 1, 0), 120, 1e-9);
    cr_assert_float_eq(at(c, 2, 0), 180, 1e-9, "after the end: at the end");
    cr_assert_float_eq(at(c, 2, 2), 4, 1e-9);
    json_decref(c);
    json_decref(rows);
}

Test(board_action, an_audit_record_as_a_row)
{
    json_t *a =
        json_loads("{\"seq\":7,\"eventTime\":150.5,\"principal\":\"team-2\",\"eventName\":"
                   "\"SetDesiredCapacity\",\"readOnly\":false,\"requestParameters\":{"
                   "\"autoScalingGroupName\":\"web\",\"desiredCapacity\":4,\"honorCooldown\":true},"
                   "\"resources\":[{\"id\":\"asg-1\",\"name\":\"web\",\"type\":\"asg\"}],"
                   "\"errorCode\":null}",
                   0, NULL);
    cr_assert(a);
    json_t *r = gd_board_action_row(a);
    cr_assert_str_eq(json_string_value(json_object_get(r, "reason")),
                     "SetDesiredCapacity web desiredCapacity=4 honorCooldown=true");
    cr_assert_str_eq(json_string_value(json_object_get(r, "kind")), "action");
    cr_assert_str_eq(json_string_value(json_object_get(r, "source")), "team-2");
    cr_assert_float_eq(json_number_value(json_object_get(r, "time")), 150.5, 1e-9);
    cr_assert(json_is_false(json_object_get(r, "error")));
    json_decref(r);
    json_object_set_new(a, "errorCode", json_string("ValidationError"));
    r = gd_board_action_row(a);
    cr_assert_str_eq(json_string_value(json_object_get(r, "reason")),
                     "SetDesiredCapacity web desiredCapacity=4 honorCooldown=true (refused: "
                     "ValidationError)");
    cr_assert(json_is_true(json_object_get(r, "error")));
    json_decref(r);
    json_decref(a);
}

Test(board_notable, customers_and_shoppers_rows_are_not)
{
    json_t *c = row(1, "customers", 1, ""), *s = row(1, "shoppers", 1, ""),
           *b = row(1, "billing", -1, "");
    cr_assert(!gd_board_notable(c));
    cr_assert(!gd_board_notable(s));
    cr_assert(gd_board_notable(b));
    json_decref(c);
    json_decref(s);
    json_decref(b);
}
