/* Unit tests for src/model/chaos.c: Chaos Monkey's schedule as a pure function of the
 * seed and the group's name (same seed, same times; probability 0, none; one kill per
 * period at most, inside it; min_gap kept; the working window, also over midnight), the
 * walk that a restarted server resumes, the window's parser, and the seeded ranks. */
#include <criterion/criterion.h>

#include "core/err.h"
#include "model/chaos.h"

#include <math.h>
#include <string.h>

#define DAY 86400.0
#define MAXK 4096

static gd_monkey_conf conf(double p, double period, const char *window, double min_gap)
{
    gd_monkey_conf m;
    memset(&m, 0, sizeof m);
    m.on = 1;
    m.probability = p;
    m.period = period;
    m.min_gap = min_gap;
    cr_assert_eq(gd_monkey_window_parse(window, &m.window_from, &m.window_to), 0, "%s", window);
    return m;
}

static double times[MAXK], again[MAXK];

Test(chaos, same_seed_and_group_same_times)
{
    gd_monkey_conf m = conf(0.5, 1200, "09:00-17:00", 600);
    int n = gd_monkey_schedule(&m, 11, "web", 3 * DAY, times, MAXK);
    cr_assert_gt(n, 10, "0.5 of 3 days x 24 periods: %d kills", n);
    cr_assert_eq(gd_monkey_schedule(&m, 11, "web", 3 * DAY, again, MAXK), n);
    for (int i = 0; i < n; i++) cr_assert_eq(times[i], again[i], "kill %d", i);
    /* another group, another seed: another schedule */
    int other = gd_monkey_schedule(&m, 11, "api", 3 * DAY, again, MAXK), same = other == n;
    for (int i = 0; same && i < n; i++) same = times[i] == again[i];
    cr_assert(!same, "group api has web's schedule");
    other = gd_monkey_schedule(&m, 12, "web", 3 * DAY, again, MAXK);
    same = other == n;
    for (int i = 0; same && i < n; i++) same = times[i] == again[i];
    cr_assert(!same, "seed 12 has seed 11's schedule");
    /* a shorter horizon is a prefix of the same schedule */
    int k = gd_monkey_schedule(&m, 11, "web", DAY, again, MAXK);
    cr_assert(k > 0 && k < n);
    for (int i = 0; i < k; i++) cr_assert_eq(again[i], times[i]);
    cr_assert_lt(again[k - 1], DAY);
    cr_assert_geq(times[k], DAY);
}

Test(chaos, probability_zero_and_off_kill_nothing)
{
    gd_monkey_conf m = conf(0, 600, "00:00-24:00", 0);
    cr_assert_eq(gd_monkey_schedule(&m, 11, "web", 30 * DAY, times, MAXK), 0);
    m = conf(1, 600, "00:00-24:00", 0);
    m.on = 0;
    cr_assert_eq(gd_monkey_schedule(&m, 11, "web", 30 * DAY, times, MAXK), 0);
    gd_monkey_iter it;
    gd_monkey_iter_init(&it, &m, 11, "web");
    cr_assert(isinf(gd_monkey_iter_next(&it, 30 * DAY)));
}

Test(chaos, probability_one_kills_once_in_every_period_inside_it)
{
    gd_monkey_conf m = conf(1, 1200, "09:00-17:00", 0);
    int n = gd_monkey_schedule(&m, 7, "web", 2 * DAY, times, MAXK);
    cr_assert_eq(n, 2 * 24, "8 hours of 20-minute periods, two days");
    for (int i = 0; i < n; i++) {
        double start, end;
        gd_monkey_period(&m, i, &start, &end);
        cr_assert(times[i] >= start && times[i] < end, "kill %d at %.0f, period %.0f..%.0f", i,
                  times[i], start, end);
        double tod = fmod(times[i], DAY);
        cr_assert(tod >= 9 * 3600 && tod < 17 * 3600, "kill %d at %.0f s of its day", i, tod);
    }
    /* with probability p about p of the periods lose an instance */
    m.probability = 0.25;
    n = gd_monkey_schedule(&m, 7, "web", 100 * DAY, times, MAXK);
    cr_assert(n > 2400 * 0.2 && n < 2400 * 0.3, "%d kills in 2400 periods at 0.25", n);
}

Test(chaos, min_gap_is_kept_and_a_kill_pushed_out_of_its_period_is_skipped)
{
    gd_monkey_conf m = conf(1, 1200, "00:00-24:00", 1800);
    int n = gd_monkey_schedule(&m, 3, "web", 2 * DAY, times, MAXK);
    cr_assert(n > 0 && n < 2 * 72, "%d kills: some pushed out of their period", n);
    for (int i = 1; i < n; i++)
        cr_assert_geq(times[i] - times[i - 1], 1800 - 1e-9, "kills %d and %d", i - 1, i);
    /* every kill still lies in some period of the window: k = floor(t / period) */
    for (int i = 0; i < n; i++) {
        double start, end;
        gd_monkey_period(&m, (long)(times[i] / 1200), &start, &end);
        cr_assert(times[i] >= start && times[i] < end);
    }
    /* a min_gap shorter than the period never pushes a kill out: one per period */
    m = conf(1, 240, "00:08-00:40", 60);
    n = gd_monkey_schedule(&m, 11, "web", 3600, times, MAXK);
    cr_assert_eq(n, 8);
    for (int i = 1; i < n; i++) cr_assert_geq(times[i] - times[i - 1], 60 - 1e-9);
}

Test(chaos, a_window_over_midnight_and_a_short_last_period)
{
    gd_monkey_conf m = conf(1, 3600, "22:00-06:00", 0);
    int n = gd_monkey_schedule(&m, 5, "web", 2 * DAY, times, MAXK);
    /* day -1's window reaches into the game's first 6 hours; none before 0 */
    cr_assert_gt(n, 0);
    for (int i = 0; i < n; i++) {
        double tod = fmod(times[i], DAY);
        cr_assert(times[i] >= 0, "kill %d at %.0f", i, times[i]);
        cr_assert(tod >= 22 * 3600 || tod < 6 * 3600, "kill %d at %.0f s of its day", i, tod);
    }
    double start, end;
    gd_monkey_period(&m, 0, &start, &end);
    cr_assert_float_eq(start, -2 * 3600.0, 1e-9, "the window of the day before the game");
    m = conf(1, 3600, "09:00-10:30", 0);
    gd_monkey_period(&m, 1, &start, &end);
    cr_assert_float_eq(start, 10 * 3600.0, 1e-9);
    cr_assert_float_eq(end, 10.5 * 3600, 1e-9, "the last period ends with the window");
    gd_monkey_period(&m, 2, &start, &end);
    cr_assert_float_eq(start, DAY + 9 * 3600, 1e-9, "then the next day");
}

Test(chaos, the_walk_resumes_where_it_stopped)
{
    /* The server walks with a horizon (the game's duration); a walk stopped at a
     * horizon and continued with a later one gives the same kills as one walk. */
    gd_monkey_conf m = conf(0.6, 900, "08:00-20:00", 300);
    int n = gd_monkey_schedule(&m, 99, "web", 2 * DAY, times, MAXK);
    gd_monkey_iter it;
    gd_monkey_iter_init(&it, &m, 99, "web");
    int k = 0;
    for (double h = 3600; h <= 2 * DAY; h += 3600) {
        double t;
        while (!isinf(t = gd_monkey_iter_next(&it, h))) {
            cr_assert_lt(k, n);
            cr_assert_eq(t, times[k], "kill %d", k);
            k++;
        }
    }
    cr_assert_eq(k, n);
    cr_assert_eq(it.kills, n);
}

Test(chaos, working_windows_parse_or_are_refused)
{
    double a, b;
    cr_assert_eq(gd_monkey_window_parse("09:00-17:00", &a, &b), 0);
    cr_assert(a == 9 * 3600 && b == 17 * 3600);
    cr_assert_eq(gd_monkey_window_parse("00:00-24:00", &a, &b), 0);
    cr_assert(a == 0 && b == DAY);
    cr_assert_eq(gd_monkey_window_parse("22:30-06:00", &a, &b), 0);
    cr_assert(a == 22.5 * 3600 && b == DAY + 6 * 3600, "over midnight: ends the next day");
    static const char *const bad[] = {"9-17",        "09:00",       "09:00-09:00",  "24:00-01:00",
                                      "09:60-10:00", "25:00-26:00", "09:00-17:00x", "",
                                      "09:00-24:01", "ab:cd-ef:gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(gd_monkey_window_parse(bad[i], &a, &b), GD_EINVAL, "'%s'", bad[i]);
    cr_assert_eq(gd_monkey_window_parse(NULL, &a, &b), GD_EINVAL);
}

Test(chaos, ranks_come_from_the_seed_and_the_index_alone)
{
    gd_rand a, b;
    gd_chaos_rand(&a, 11, "event", "", 3);
    gd_chaos_rand(&b, 11, "event", "", 3);
    for (int i = 0; i < 16; i++) cr_assert_eq(gd_rand_u64(&a), gd_rand_u64(&b));
    gd_chaos_rand(&a, 11, "event", "", 3);
    gd_chaos_rand(&b, 11, "event", "", 4);
    cr_assert_neq(gd_rand_u64(&a), gd_rand_u64(&b), "another event, another draw");
    gd_chaos_rand(&a, 11, "kill", "web", 0);
    gd_chaos_rand(&b, 11, "kill", "api", 0);
    cr_assert_neq(gd_rand_u64(&a), gd_rand_u64(&b), "another group, another draw");
    /* "ab","c" and "a","bc" are different names */
    gd_chaos_rand(&a, 11, "ab", "c", 0);
    gd_chaos_rand(&b, 11, "a", "bc", 0);
    cr_assert_neq(gd_rand_u64(&a), gd_rand_u64(&b));
    /* a rank modulo each team's own count; every rank is reached */
    cr_assert_eq(gd_chaos_rank(7, 3), 1u);
    cr_assert_eq(gd_chaos_rank(7, 1), 0u);
    cr_assert_eq(gd_chaos_rank(7, 0), 0u);
    int seen[3] = {0};
    for (uint64_t k = 0; k < 60; k++) {
        gd_chaos_rand(&a, 11, "kill", "web", k);
        seen[gd_chaos_rank(gd_rand_u64(&a), 3)]++;
    }
    cr_assert(seen[0] && seen[1] && seen[2], "%d %d %d", seen[0], seen[1], seen[2]);
}
