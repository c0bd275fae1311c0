/* Unit tests for src/core/clock.c: the game clock's H:MM:SS form. */
#include <criterion/criterion.h>

#include "core/clock.h"

Test(clock, hms)
{
    char b[32];
    cr_assert_str_eq(gd_clock_hms(0, b, sizeof b), "0:00:00");
    cr_assert_str_eq(gd_clock_hms(59.9, b, sizeof b), "0:00:59", "seconds are truncated");
    cr_assert_str_eq(gd_clock_hms(3 * 3600 + 8 * 60 + 5, b, sizeof b), "3:08:05");
    cr_assert_str_eq(gd_clock_hms(100 * 3600, b, sizeof b), "100:00:00", "hours do not wrap");
    cr_assert_str_eq(gd_clock_hms(3 * 3600, b, 5), "3:00", "cut to the buffer");
}
