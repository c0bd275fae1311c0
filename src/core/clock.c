/* Game clock shared by every process of a game. */
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double speed = 1.0;
static uint64_t epoch;
static int is_set;

void gd_clock_set(double s, uint64_t epoch_ns)
{
    speed = s > 0 ? s : 1.0;
    epoch = epoch_ns;
    is_set = 1;
}

int gd_clock_from_env(void)
{
    const char *s = getenv("GAMEDAY_SPEED"), *e = getenv("GAMEDAY_EPOCH_NS");
    if (!s || !e) return -1;
    char *end;
    double sp = strtod(s, &end);
    if (*end || sp <= 0) return -1;
    unsigned long long ep = strtoull(e, &end, 10);
    if (*end) return -1;
    gd_clock_set(sp, ep);
    return 0;
}

void gd_clock_to_env(void)
{
    char b[64];
    snprintf(b, sizeof b, "%.17g", speed);
    setenv("GAMEDAY_SPEED", b, 1);
    snprintf(b, sizeof b, "%llu", (unsigned long long)epoch);
    setenv("GAMEDAY_EPOCH_NS", b, 1);
}

int gd_clock_is_set(void)
{
    return is_set;
}

double gd_clock_speed(void)
{
    return speed;
}

uint64_t gd_clock_epoch_ns(void)
{
    return epoch;
}

uint64_t gd_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double gd_clock_game_at(uint64_t mono_ns)
{
    return ((double)mono_ns - (double)epoch) / 1e9 * speed;
}

double gd_clock_now(void)
{
    return gd_clock_game_at(gd_clock_mono_ns());
}

uint64_t gd_clock_wall_ms(double game_ms)
{
    if (game_ms <= 0) return 0;
    double w = game_ms / speed;
    return w < 1 ? 1 : (uint64_t)(w + 0.5);
}

double gd_clock_game_ms(uint64_t wall_ns)
{
    return (double)wall_ns / 1e6 * speed;
}

char *gd_clock_hms(double s, char *out, size_t n)
{
    long t = (long)s;
    snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    return out;
}
