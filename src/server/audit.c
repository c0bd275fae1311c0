/* The audit trail's query grammar: GET /api/v1/audit's parameters checked one by one
 * into a gd_audit_filter, which the store turns into one SQL statement. Nothing here
 * touches the store, so the API and the unit tests share it as it is. */
#include "server/audit.h"
#include "core/err.h"
#include "core/http.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAMS "principal, event, resource, from, to, errors, since, limit, team"

/* Writes the reason of a refusal into err; returns -1. */
__attribute__((format(printf, 3, 4))) static int refuse(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A value as it may be quoted back in a message: printable ASCII, at most 40 bytes. */
static const char *shown(const char *v, char out[48])
{
    size_t o = 0;
    for (const char *p = v; *p && o < 40; p++)
        out[o++] = (*p >= ' ' && *p < 0x7f && *p != '\'') ? *p : '?';
    if (v[o] != 0 && o == 40) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = 0;
    return out;
}

/* Digits only, at least one; the number they make (at most 18 of them). -1 if not. */
static long long digits(const char *p, size_t n)
{
    if (n == 0 || n > 18) return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int gd_audit_parse_time(const char *s, double *out)
{
    if (s == NULL || *s == 0) return -1;
    const char *c1 = strchr(s, ':');
    if (c1 == NULL) {
        int dots = 0;
        for (const char *p = s; *p; p++) {
            if (*p == '.')
                dots++;
            else if (*p < '0' || *p > '9')
                return -1;
        }
        if (dots > 1 || !strcmp(s, ".")) return -1;
        double v = strtod(s, NULL);
        if (!isfinite(v)) return -1;
        *out = v;
        return 0;
    }
    const char *c2 = strchr(c1 + 1, ':');
    if (c2 == NULL || strchr(c2 + 1, ':')) return -1;
    long long h = digits(s, (size_t)(c1 - s));
    long long m = (size_t)(c2 - c1 - 1) == 2 ? digits(c1 + 1, 2) : -1;
    long long sec = strlen(c2 + 1) == 2 ? digits(c2 + 1, 2) : -1;
    if (h < 0 || h > 999999 || m < 0 || m > 59 || sec < 0 || sec > 59) return -1;
    *out = (double)(h * 3600 + m * 60 + sec);
    return 1;
}

/* An integer in lo..hi, all of v. */
static int int_in(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end || errno || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

/* A principal, event or resource value: 1..max printable characters. */
static int name_value(const char *name, const char *v, int len, size_t max, char *err, size_t n)
{
    char s[48];
    if (len == GD_ETOOBIG)
        return refuse(err, n, "%s: too long (at most %zu characters)", name, max);
    if (len <= 0) return refuse(err, n, "%s: expected 1..%zu characters, got ''", name, max);
    for (int i = 0; i < len; i++)
        if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
            return refuse(err, n, "%s: control characters are not allowed, got '%s'", name,
                          shown(v, s));
    return 0;
}

static const char *const known[] = {"principal", "event", "resource", "from", "to",
                                    "errors",    "since", "limit",    "team", NULL};

int gd_audit_query_parse(gd_audit_query *q, const char *query, size_t qlen, char *err,
                         size_t errlen)
{
    memset(q, 0, sizeof *q);
    gd_audit_filter_init(&q->f);
    q->f.limit = GD_AUDIT_DEFAULT_LIMIT;
    if (err && errlen) err[0] = 0;
    if (query == NULL) return 0;
    unsigned seen = 0;
    double to_v = INFINITY;
    const char *p = query, *end = query + qlen;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        size_t kn = (size_t)((eq ? eq : pe) - p);
        const char *key = p;
        p = pe + 1;
        if (kn == 0 && eq == NULL) continue; /* "a=1&&b=2" */
        int k = 0;
        while (known[k] && (strlen(known[k]) != kn || memcmp(known[k], key, kn) != 0)) k++;
        if (known[k] == NULL) {
            char raw[48], s[48];
            snprintf(raw, sizeof raw, "%.*s", (int)(kn < 40 ? kn : 40), key);
            return refuse(err, errlen, "unknown parameter '%s' (allowed: " PARAMS ")",
                          shown(raw, s));
        }
        const char *name = known[k];
        if (seen & (1u << k)) return refuse(err, errlen, "%s: given more than once", name);
        seen |= 1u << k;
        char v[GD_AUDIT_RESOURCE_MAX + 1], s[48];
        int len = gd_http_query_get(query, qlen, name, v, sizeof v);
        if (len < 0 && len != GD_ETOOBIG) { /* not found again: cannot happen, read as empty */
            v[0] = 0;
            len = 0;
        }
        if (!strcmp(name, "principal") || !strcmp(name, "event") || !strcmp(name, "resource")) {
            int is_res = name[0] == 'r';
            size_t max = is_res ? GD_AUDIT_RESOURCE_MAX : GD_AUDIT_NAME_MAX;
            if ((size_t)len > max) len = GD_ETOOBIG;
            if (name_value(name, v, len, max, err, errlen) < 0) return -1;
            char *dst = is_res ? q->resource : name[0] == 'p' ? q->principal : q->event;
            memcpy(dst, v, (size_t)len + 1);
            if (is_res)
                q->f.resource = dst;
            else if (name[0] == 'p')
                q->f.principal = dst;
            else
                q->f.event = dst;
            continue;
        }
        if (len == GD_ETOOBIG) v[0] = 0; /* too long for any valid value below */
        if (!strcmp(name, "from") || !strcmp(name, "to")) {
            double t;
            int kind = len == GD_ETOOBIG ? -1 : gd_audit_parse_time(v, &t);
            if (kind < 0)
                return refuse(err, errlen, "%s: expected game seconds or HH:MM:SS, got '%s'", name,
                              len == GD_ETOOBIG ? "(too long)" : shown(v, s));
            if (name[0] == 'f') {
                q->f.from = t;
            } else {
                to_v = t;
                /* to=HH:MM:SS: every record shown at that second; to=S: up to S itself */
                q->f.until = kind == 1 ? t + 1 : nextafter(t, INFINITY);
            }
        } else if (!strcmp(name, "errors")) {
            if (!strcmp(v, "only"))
                q->f.errors = GD_AUDIT_ERRORS_ONLY;
            else if (!strcmp(v, "none"))
                q->f.errors = GD_AUDIT_ERRORS_NONE;
            else
                return refuse(err, errlen, "errors: expected only or none, got '%s'", shown(v, s));
        } else if (!strcmp(name, "since")) {
            char *e;
            errno = 0;
            long long ll = strtoll(v, &e, 10);
            if (!v[0] || *e || errno || ll < 0)
                return refuse(err, errlen,
                              "since: expected a record's seq (an integer, 0 or more), got '%s'",
                              shown(v, s));
            q->f.since = ll;
        } else if (!strcmp(name, "limit")) {
            long x;
            if (int_in(v, -GD_AUDIT_MAX_ROWS, GD_AUDIT_MAX_ROWS, &x) < 0)
                return refuse(err, errlen,
                              "limit: expected an integer from -%d to %d (0: %d; negative: the "
                              "newest), got '%s'",
                              GD_AUDIT_MAX_ROWS, GD_AUDIT_MAX_ROWS, GD_AUDIT_MAX_ROWS, shown(v, s));
            q->f.limit = (int)x;
        } else { /* team: its range is the game's, checked by authentication */
            long x;
            if (int_in(v, 0, 254, &x) < 0)
                return refuse(err, errlen, "team: expected a team number (1..254), got '%s'",
                              shown(v, s));
        }
    }
    if (isfinite(q->f.from) && isfinite(to_v) && q->f.from > to_v) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%g", q->f.from);
        snprintf(b, sizeof b, "%g", to_v);
        return refuse(err, errlen,
                      "from, to: from (%s s) is after to (%s s): no record is in between", a, b);
    }
    return 0;
}
