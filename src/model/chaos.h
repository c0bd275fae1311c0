/* Chaos's random choices as pure functions of the scenario's seed: Chaos Monkey's
 * schedule (which periods of a group's working window lose an instance, and when) and
 * the generators that pick a victim's rank for an event or a kill. Nothing here reads a
 * team's state, so every team, every run and every server life gets the same chaos. */
#ifndef GD_MODEL_CHAOS_H
#define GD_MODEL_CHAOS_H

#include "core/rand.h"
#include "model/scenario.h"

#include <stdint.h>

/** Seeds r from (seed, domain, name, index) alone: e.g. ("event", "", 3) for the
 *  scenario's fourth event, ("kill", "web", 7) for Chaos Monkey's eighth kill in group
 *  web. The same arguments give the same numbers. */
void gd_chaos_rand(gd_rand *r, uint64_t seed, const char *domain, const char *name, uint64_t index);

/** A rank among n candidates (0 = the one launched first) from the generator's next
 *  number: every team draws the same number, and loses its instance of that rank
 *  modulo its own count. n > 0. */
uint64_t gd_chaos_rank(uint64_t draw, uint64_t n);

/** Period k (0, 1, ...) of a monkey's working window, [start, end) in game seconds:
 *  the window of each game day cut into periods of m->period, the last one of a day cut
 *  short by the window's end. A window over midnight starts on the day before the game
 *  (its first periods may end before 0). */
void gd_monkey_period(const gd_monkey_conf *m, long k, double *start, double *end);

/* Walks one group's schedule, kill after kill. */
typedef struct gd_monkey_iter {
    const gd_monkey_conf *m;
    uint64_t seed;
    char group[64];
    long k;      /* the next period to look at */
    double last; /* the time of the last kill, -1 before the first */
    long kills;  /* the kills returned so far */
} gd_monkey_iter;

/** Starts group's schedule (m must outlive it). */
void gd_monkey_iter_init(gd_monkey_iter *it, const gd_monkey_conf *m, uint64_t seed,
                         const char *group);
/** The time of the group's next kill: in period k, with u, v the first two numbers of
 *  gd_chaos_rand(seed, "schedule", group, k), a kill when u < probability, at the
 *  period's start + v * period, pushed back to min_gap after the previous kill, none if
 *  that leaves the period. INFINITY when no period starting before `horizon` has one
 *  (the walk then stays where it is, so a later call may go on). */
double gd_monkey_iter_next(gd_monkey_iter *it, double horizon);

/** The group's kill times before `until`, into out (at most max); returns how many. */
int gd_monkey_schedule(const gd_monkey_conf *m, uint64_t seed, const char *group, double until,
                       double *out, int max);

/** Parses a working window "HH:MM-HH:MM" of the game clock (00:00 to 24:00; the end
 *  before the start goes over midnight) into seconds of the game day, to > from. 0, or
 *  GD_EINVAL when it is not one (or from equals to). */
int gd_monkey_window_parse(const char *s, double *from, double *to);

#endif
