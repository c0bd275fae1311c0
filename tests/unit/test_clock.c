/* Unit tests for src/core/clock.c: the game clock's H:MM:SS form. */
#include <criterion/criterion.h>

#include "core/clock.h"

#include <errno.h>

Test(clock, hms)
{
    char b[32];
    cr_assert_str_eq(gd_clock_hms(0, b, sizeof b), "0:00:00");
    cr_assert_str_eq(gd_clock_hms(59.9, b, sizeof b), "0:00:59", "seconds are truncated");
    cr_assert_str_eq(gd_clock_hms(3 * 3600 + 8 * 60 + 5, b, sizeof b), "3:08:05");
    cr_assert_str_eq(gd_clock_hms(100 * 3600, b, sizeof b), "100:00:00", "hours do not wrap");
    cr_assert_str_eq(gd_clock_hms(3 * 3600, b, 5), "3:00", "cut to the buffer");
}

/* ---- the shared page: pause and resume ---- */

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void page_path(char *out, size_t n)
{
    snprintf(out, n, "/tmp/gameday-test-clock-%d", (int)getpid());
    unlink(out);
}

static void spin_ms(int ms)
{
    uint64_t end = gd_clock_mono_ns() + (uint64_t)ms * 1000000ull;
    while (gd_clock_mono_ns() < end) {
    }
}

Test(clock, pause_stands_still_and_resume_goes_on_from_there)
{
    char path[64];
    page_path(path, sizeof path);
    gd_clock_set(100, gd_clock_mono_ns() - 10000000000ull); /* 10 s ago at x100: t = 1000 */
    cr_assert_eq(gd_clock_pause(), -EPERM, "no page: nothing to pause");
    cr_assert_eq(gd_clock_share(path, 0, 0), 0);
    cr_assert_eq(gd_clock_paused(), 0);
    cr_assert_eq(gd_clock_pause(), 1);
    cr_assert_eq(gd_clock_pause(), 0, "already paused");
    double a = gd_clock_now();
    spin_ms(20); /* 2 game seconds at x100 */
    cr_assert_eq(gd_clock_now(), a, "the clock stands still while paused");
    cr_assert(gd_clock_game_at(gd_clock_epoch_ns() + 500000000ull) < a,
              "a time before the pause keeps its own game time");
    uint64_t e0 = gd_clock_epoch_ns();
    cr_assert_eq(gd_clock_resume(), 1);
    cr_assert_eq(gd_clock_resume(), 0, "not paused");
    cr_assert(gd_clock_epoch_ns() > e0 + 15000000ull, "the epoch moved on by the pause");
    double b = gd_clock_now();
    cr_assert(b >= a && b < a + 1.0, "goes on from %f, not %f", a, b);
    spin_ms(20);
    cr_assert(gd_clock_now() > b + 1.0, "and runs again");
    unlink(path);
}

Test(clock, another_process_follows_the_page)
{
    char path[64];
    page_path(path, sizeof path);
    gd_clock_set(50, gd_clock_mono_ns());
    cr_assert_eq(gd_clock_share(path, 1, 42.5), 0, "shared paused at 42.5 (a restart)");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        gd_clock_set(50, 0); /* its own idea of the epoch is overridden by the page */
        double seen = gd_clock_attach(path) == 0 ? gd_clock_now() : -1;
        int paused = gd_clock_paused();
        char line[64];
        int len = snprintf(line, sizeof line, "%.3f %d", seen, paused);
        if (write(fds[1], line, (size_t)len) < 0) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    char buf[64] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    cr_assert(n > 0);
    buf[n] = 0;
    cr_assert_str_eq(buf, "42.500 1", "the child reads the paused clock: %s", buf);
    cr_assert_eq(gd_clock_attach("/nonexistent/clock") < 0, 1);
    unlink(path);
}
