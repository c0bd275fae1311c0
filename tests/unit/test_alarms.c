/* Unit tests for an alarm's verdict (src/server/alarms.c): M of N datapoints, each way
 * of treating missing data, and every comparison, as doc/cloudwatch.md states them. */
#include <criterion/criterion.h>

#include "server/alarms.h"

#include <math.h>

static gd_alarm_state verdict(const double *v, int n, int m, const char *cmp, const char *miss,
                              gd_alarm_state cur)
{
    gd_alarm_input in = {.values = v,
                         .evaluation_periods = n,
                         .datapoints_to_alarm = m,
                         .threshold = 10,
                         .comparison = cmp,
                         .treat_missing_data = miss,
                         .current = cur};
    gd_alarm_verdict out;
    cr_assert_eq(gd_alarm_evaluate(&in, &out), 0);
    return out.state;
}

#define GT "GreaterThanThreshold"
Test(alarms, m_of_n)
{
    const double a[] = {11, 5, 12};
    cr_expect_eq(verdict(a, 3, 2, GT, "missing", GD_ALARM_OK), GD_ALARM_ALARM, "2 of 3 breach");
    cr_expect_eq(verdict(a, 3, 3, GT, "missing", GD_ALARM_OK), GD_ALARM_OK, "not 3 of 3");
    cr_expect_eq(verdict(a, 3, 0, GT, "missing", GD_ALARM_ALARM), GD_ALARM_OK, "M defaults to N");
    const double b[] = {10, 10};
    cr_expect_eq(verdict(b, 2, 2, GT, "missing", GD_ALARM_OK), GD_ALARM_OK, "10 is not > 10");
    cr_expect_eq(verdict(b, 2, 2, "GreaterThanOrEqualToThreshold", "missing", GD_ALARM_OK),
                 GD_ALARM_ALARM);
    const double c[] = {9.5, 3};
    cr_expect_eq(verdict(c, 2, 2, "LessThanThreshold", "missing", GD_ALARM_OK), GD_ALARM_ALARM);
    cr_expect_eq(verdict(b, 2, 2, "LessThanThreshold", "missing", GD_ALARM_OK), GD_ALARM_OK);
    cr_expect_eq(verdict(b, 2, 2, "LessThanOrEqualToThreshold", "missing", GD_ALARM_OK),
                 GD_ALARM_ALARM);
}

Test(alarms, missing_data)
{
    const double none[] = {NAN, NAN, NAN};
    cr_expect_eq(verdict(none, 3, 3, GT, "missing", GD_ALARM_ALARM), GD_ALARM_INSUFFICIENT_DATA);
    cr_expect_eq(verdict(none, 3, 3, GT, "ignore", GD_ALARM_ALARM), GD_ALARM_ALARM,
                 "ignore keeps the state");
    cr_expect_eq(verdict(none, 3, 3, GT, "ignore", GD_ALARM_OK), GD_ALARM_OK);
    cr_expect_eq(verdict(none, 3, 3, GT, "breaching", GD_ALARM_OK), GD_ALARM_ALARM);
    cr_expect_eq(verdict(none, 3, 3, GT, "notBreaching", GD_ALARM_ALARM), GD_ALARM_OK);
    const double some[] = {20, NAN, 20};
    cr_expect_eq(verdict(some, 3, 3, GT, "missing", GD_ALARM_OK), GD_ALARM_OK,
                 "missing: only 2 datapoints breach, 3 are needed");
    cr_expect_eq(verdict(some, 3, 2, GT, "missing", GD_ALARM_OK), GD_ALARM_ALARM);
    cr_expect_eq(verdict(some, 3, 3, GT, "breaching", GD_ALARM_OK), GD_ALARM_ALARM);
    cr_expect_eq(verdict(some, 3, 3, GT, "notBreaching", GD_ALARM_OK), GD_ALARM_OK);
}

Test(alarms, state_names)
{
    cr_expect_str_eq(gd_alarm_state_name(GD_ALARM_OK), "OK");
    cr_expect_str_eq(gd_alarm_state_name(GD_ALARM_ALARM), "ALARM");
    cr_expect_str_eq(gd_alarm_state_name(GD_ALARM_INSUFFICIENT_DATA), "INSUFFICIENT_DATA");
    cr_expect_eq(gd_alarm_state_of("ALARM"), GD_ALARM_ALARM);
    cr_expect_eq(gd_alarm_state_of("OK"), GD_ALARM_OK);
    cr_expect_eq(gd_alarm_state_of(NULL), GD_ALARM_INSUFFICIENT_DATA);
    cr_expect_eq(gd_alarm_state_of("alarm"), GD_ALARM_INSUFFICIENT_DATA);
}
