/* Cron recurrences in game time (see cron.h). */
#include "model/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One field into bits [0, max]: a star, N or A-B, each with an optional slash and
 * step, comma-separated. */
static int field(const char *f, size_t len, int max, uint64_t *bits)
{
    *bits = 0;
    char buf[64];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, f, len);
    buf[len] = 0;
    for (char *save = NULL, *part = strtok_r(buf, ",", &save); part;
         part = strtok_r(NULL, ",", &save)) {
        long lo = 0, hi = max, step = 1;
        char *p = part, *end;
        if (*p == '*') {
            p++;
        } else {
            lo = strtol(p, &end, 10);
            if (end == p) return -1;
            hi = lo;
            p = end;
            if (*p == '-') {
                hi = strtol(p + 1, &end, 10);
                if (end == p + 1) return -1;
                p = end;
            }
        }
        if (*p == '/') {
            step = strtol(p + 1, &end, 10);
            if (end == p + 1 || step < 1) return -1;
            p = end;
        }
        if (*p || lo < 0 || hi > max || lo > hi) return -1;
        for (long v = lo; v <= hi; v += step) *bits |= 1ull << v;
    }
    return *bits ? 0 : -1;
}

int gd_cron_parse(const char *text, gd_cron *out, char *err, size_t errlen)
{
    const char *f[5];
    size_t l[5];
    int n = 0;
    for (const char *p = text ? text : ""; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        if (n == 5) {
            snprintf(err, errlen, "more than five fields");
            return -1;
        }
        f[n] = p;
        while (*p && *p != ' ') p++;
        l[n] = (size_t)(p - f[n]);
        n++;
    }
    if (n != 5) {
        snprintf(err, errlen, "%d field(s), not five (minute hour day month weekday)", n);
        return -1;
    }
    uint64_t m, h;
    if (field(f[0], l[0], 59, &m) < 0) {
        snprintf(err, errlen,
                 "minute: not *, N, A-B or a step (*"
                 "/N) within 0..59");
        return -1;
    }
    if (field(f[1], l[1], 23, &h) < 0) {
        snprintf(err, errlen,
                 "hour: not *, N, A-B or a step (*"
                 "/N) within 0..23");
        return -1;
    }
    for (int i = 2; i < 5; i++)
        if (l[i] != 1 || f[i][0] != '*') {
            snprintf(err, errlen, "day, month and weekday must be * (a game lasts hours)");
            return -1;
        }
    out->minutes = m;
    out->hours = (uint32_t)h;
    return 0;
}

int gd_cron_match(const gd_cron *c, long long m)
{
    if (m < 0) return 0;
    return (int)((c->minutes >> (m % 60)) & 1) && (int)((c->hours >> ((m / 60) % 24)) & 1);
}
