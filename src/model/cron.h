/* Cron recurrences of scheduled actions, in game time, e.g. every 30 minutes:
 *     "* /30 * * * *" (without the space)
 * Five fields; minute and hour as cron has them (*, N, A-B, a step after a slash,
 * lists with commas); day of month, month and day of week must be "*" (a game lasts
 * hours, not months). Game minute m is minute m % 60 of hour (m / 60) % 24. */
#ifndef GD_MODEL_CRON_H
#define GD_MODEL_CRON_H

#include <stddef.h>
#include <stdint.h>

typedef struct gd_cron {
    uint64_t minutes; /* bit i: minute i (0..59) */
    uint32_t hours;   /* bit i: hour i (0..23) */
} gd_cron;

/** Parses a recurrence; 0, or -1 with what is wrong in err. */
int gd_cron_parse(const char *text, gd_cron *out, char *err, size_t errlen);
/** 1 if game minute m (game seconds / 60) matches. */
int gd_cron_match(const gd_cron *c, long long m);

#endif
