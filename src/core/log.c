/* key=value event log lines on stderr. */
#include "core/log.h"
#include "core/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *component = "gameday";
static enum gd_log_level min_level = GD_LOG_INFO;

void gd_log_init(const char *comp)
{
    component = comp;
    const char *e = getenv("GAMEDAY_LOG");
    if (e) {
        if (!strcasecmp(e, "debug"))
            min_level = GD_LOG_DEBUG;
        else if (!strcasecmp(e, "warn"))
            min_level = GD_LOG_WARN;
        else if (!strcasecmp(e, "error"))
            min_level = GD_LOG_ERROR;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
}

void gd_log_set_level(enum gd_log_level lvl)
{
    min_level = lvl;
}

void gd_log(enum gd_log_level lvl, const char *ev, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < min_level) return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (gd_clock_is_set())
        n += snprintf(line + n, sizeof line - (size_t)n, "game=%.1f ", gd_clock_now());
    n += snprintf(line + n, sizeof line - (size_t)n, "lvl=%s comp=%s ev=%s", names[lvl], component,
                  ev);
    if (fmt && *fmt && n < (int)sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}

const char *gd_log_q(const char *s)
{
    static char bufs[4][256];
    static int next;
    char *b = bufs[next++ & 3];
    if (s == NULL) return "\"\"";
    int plain = *s != 0;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 32) plain = 0;
    if (plain && strlen(s) < 200) return s;
    size_t o = 0;
    b[o++] = '"';
    for (const char *p = s; *p && o < 200; p++) {
        if (*p == '"' || *p == '\\') b[o++] = '\\';
        b[o++] = ((unsigned char)*p < 32) ? ' ' : *p;
    }
    b[o++] = '"';
    b[o] = 0;
    return b;
}
