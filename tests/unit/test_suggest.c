/* Unit tests for src/cli/suggest.c: edit distance and the "did you mean" choice. */
#include <criterion/criterion.h>

#include "cli/suggest.h"

Test(suggest, distance)
{
    cr_assert_eq(gd_suggest_distance("instances", "instances"), 0);
    cr_assert_eq(gd_suggest_distance("instnaces", "instances"), 1); /* a swap */
    cr_assert_eq(gd_suggest_distance("stauts", "status"), 1);
    cr_assert_eq(gd_suggest_distance("scal", "scale"), 1);
    cr_assert_eq(gd_suggest_distance("", "abc"), 3);
    cr_assert_eq(gd_suggest_distance("kitten", "sitting"), 3);
}

Test(suggest, nearest_name_or_none)
{
    const char *names[] = {"status", "instances", "scale", "score", "events"};
    size_t n = sizeof names / sizeof names[0];
    cr_assert_str_eq(gd_suggest("instnaces", names, n), "instances");
    cr_assert_str_eq(gd_suggest("scael", names, n), "scale");
    cr_assert_str_eq(gd_suggest("evnts", names, n), "events");
    cr_assert_null(gd_suggest("frobnicate", names, n));
    cr_assert_null(gd_suggest("x", names, n));
}
