/* Chaos's random choices (see chaos.h): the generators seeded from the scenario's seed
 * and what they are for, and Chaos Monkey's schedule, period by period. */
#include "model/chaos.h"

#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* FNV-1a, 64 bits, over a string and its terminating zero (so "ab","c" and "a","bc"
 * differ). */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s;; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
        if (!*p) return h;
    }
}

void gd_chaos_rand(gd_rand *r, uint64_t seed, const char *domain, const char *name, uint64_t index)
{
    uint64_t h = fnv(fnv(0xcbf29ce484222325ull, domain ? domain : ""), name ? name : "");
    /* gd_rand_seed expands the mix with splitmix64: near seeds give unrelated streams. */
    gd_rand_seed(r, seed ^ h ^ (index * 0x9e3779b97f4a7c15ull + 0xd1b54a32d192ed03ull));
}

uint64_t gd_chaos_rank(uint64_t draw, uint64_t n)
{
    return n ? draw % n : 0;
}

/* Periods in one day's window; at least 1. */
static long per_day(const gd_monkey_conf *m)
{
    double n = ceil((m->window_to - m->window_from) / m->period - 1e-9);
    return n < 1 ? 1 : (long)n;
}

void gd_monkey_period(const gd_monkey_conf *m, long k, double *start, double *end)
{
    long n = per_day(m);
    long day = k / n - (m->window_to > 86400 ? 1 : 0), j = k % n;
    double d0 = (double)day * 86400;
    *start = d0 + m->window_from + (double)j * m->period;
    double wend = d0 + m->window_to, e = *start + m->period;
    *end = e < wend ? e : wend;
}

void gd_monkey_iter_init(gd_monkey_iter *it, const gd_monkey_conf *m, uint64_t seed,
                         const char *group)
{
    memset(it, 0, sizeof *it);
    it->m = m;
    it->seed = seed;
    snprintf(it->group, sizeof it->group, "%s", group);
    it->last = -1;
}

double gd_monkey_iter_next(gd_monkey_iter *it, double horizon)
{
    const gd_monkey_conf *m = it->m;
    if (!m->on || !(m->probability > 0) || !(m->period > 0)) return INFINITY;
    for (;;) {
        double start, end;
        gd_monkey_period(m, it->k, &start, &end);
        if (start >= horizon) return INFINITY;
        gd_rand r;
        gd_chaos_rand(&r, it->seed, "schedule", it->group, (uint64_t)it->k);
        double u = gd_rand_double(&r), v = gd_rand_double(&r);
        it->k++;
        if (u >= m->probability) continue;
        double t = start + v * m->period;
        if (it->last >= 0 && t < it->last + m->min_gap) t = it->last + m->min_gap;
        if (t >= end || t < 0) continue; /* pushed out of its period, or before the game */
        it->last = t;
        it->kills++;
        return t;
    }
}

int gd_monkey_schedule(const gd_monkey_conf *m, uint64_t seed, const char *group, double until,
                       double *out, int max)
{
    gd_monkey_iter it;
    gd_monkey_iter_init(&it, m, seed, group);
    int n = 0;
    while (n < max) {
        double t = gd_monkey_iter_next(&it, until);
        if (!(t < until)) break;
        out[n++] = t;
    }
    return n;
}

/* "HH:MM" with 0 <= HH <= 24, MM < 60 (24 only as 24:00) at s; the seconds, or -1. */
static double hhmm(const char *s, const char **end)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' ||
        s[3] > '5' || s[4] < '0' || s[4] > '9')
        return -1;
    int h = (s[0] - '0') * 10 + s[1] - '0', mi = (s[3] - '0') * 10 + s[4] - '0';
    if (h > 24 || (h == 24 && mi != 0)) return -1;
    *end = s + 5;
    return h * 3600.0 + mi * 60.0;
}

int gd_monkey_window_parse(const char *s, double *from, double *to)
{
    const char *p;
    double a = s ? hhmm(s, &p) : -1;
    if (a < 0 || *p != '-') return GD_EINVAL;
    double b = hhmm(p + 1, &p);
    if (b < 0 || *p || a == b || a >= 86400) return GD_EINVAL;
    if (b < a) b += 86400; /* over midnight: it ends the next day */
    *from = a;
    *to = b;
    return 0;
}
