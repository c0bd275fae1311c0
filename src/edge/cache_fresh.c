/* Freshness: Cache-Control and Expires/Date parsing, and CloudFront's TTL rules
 * (minimum, default and maximum TTL, stale-while-revalidate, stale-if-error). */
#include "edge/cache_int.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- TTL ----
 *
 * The rules, after the Amazon CloudFront Developer Guide ("Manage how long content
 * stays in the cache (expiration)", "How CloudFront processes HTTP 3xx status codes",
 * "How CloudFront processes HTTP 4xx and 5xx status codes from your origin", "Control
 * how long CloudFront caches errors", and the CachePolicyConfig API reference), with
 * RFC 9111 (HTTP caching) and RFC 5861 (stale-* extensions) where CloudFront is silent:
 *
 * 1. Status codes. Cached under the TTL rules below: 200, 203, 204, 300, 301, 302, 410.
 *    307 and 308 only when the response has a Cache-Control header (CloudFront).
 *    Errors 400, 403, 404, 405, 414, 500, 501, 502, 503, 504 are cached for the error
 *    caching minimum TTL (policy error_caching_min_ttl, 10 s by default, CloudFront's
 *    default), or for the origin's s-maxage / max-age / Expires when that is longer,
 *    the latter capped at max_ttl (CloudFront); Cache-Control no-store / no-cache /
 *    private do not stop error caching (CloudFront caches the error for the error TTL);
 *    an error is never served stale. An error TTL of 0 with no origin TTL: not cached.
 *    Everything else (206: no Range in the key; 304; 416 CloudFront never caches) is not.
 * 2. "Vary: *" is never cached (RFC 9111 4.1: it can never match).
 * 3. The origin's TTL: s-maxage (a shared cache prefers it, RFC 9111 5.2.2.10), else
 *    max-age (CloudFront: "if you specify both max-age and Expires, CloudFront uses only
 *    max-age"), else Expires minus Date (RFC 9111 4.2.1; without Date, minus the wall
 *    clock now: game time is no calendar). An invalid Expires means already expired.
 *    The age on arrival is subtracted (rule 10).
 *    Values past 2^31 s count as 2^31 (RFC 9111 1.2.2).
 * 4. "no-store" or "private": not cached, unless min_ttl > 0: then cached for min_ttl
 *    ("If your minimum TTL is greater than 0, CloudFront will cache content for at least
 *    the duration specified in the cache policy's minimum TTL, even if the
 *    Cache-Control: no-cache, no-store, or private directives are present").
 *    "no-cache": stored with TTL 0 (revalidated before every use), or min_ttl if > 0.
 *    The qualified forms (no-cache="Set-Cookie", private="x") count as the plain ones.
 * 5. Otherwise an origin TTL is clamped to [min_ttl, max_ttl]; no origin TTL (no
 *    s-maxage, max-age or Expires) uses default_ttl (CloudFront).
 * 6. Stale windows (RFC 5861): Cache-Control stale-while-revalidate=N / stale-if-error=N,
 *    else the policy's values. None at all when must-revalidate or proxy-revalidate
 *    (RFC 9111 5.2.2.2 / 5.2.2.8: a stale response must not be used without
 *    revalidation), no-cache, no-store or private is present. s-maxage does not imply
 *    proxy-revalidate here, so "s-maxage=60, stale-while-revalidate=30" works as CDNs
 *    commonly treat it.
 * 7. Set-Cookie: the response is cached (CloudFront caches per its cookie settings),
 *    but Set-Cookie is never stored: a cookie meant for one viewer must not reach the
 *    others. The viewer whose request fetched it gets the origin's full response.
 * 8. Targeted fields (RFC 9213): CDN-Cache-Control, else Surrogate-Control, when it
 *    holds a directive we know, replaces Cache-Control and Expires for this cache.
 * 9. Heuristic freshness (RFC 9111 4.2.2) only when the behaviour opts in
 *    (heuristic_freshness: a fraction of Date - Last-Modified); CloudFront uses
 *    default_ttl, and so do we by default.
 * 10. Age (RFC 9111 4.2.3): the age on arrival is the upstream Age plus the response
 *    delay; it is taken off an origin TTL and reported in the Age we send.
 * Requests with Authorization are the caller's call, with GD_CACHE_T_AUTH_OK (public,
 * s-maxage, must-revalidate: RFC 9111 3.5) to decide it. */

typedef struct cc {
    int any, known; /* a field was seen; it held at least one directive we know */
    int no_store, no_cache, priv, pub, must_reval, proxy_reval;
    int has_max_age, has_smaxage, has_swr, has_sie;
    double max_age, smaxage, swr, sie;
} cc;

/* delta-seconds, possibly quoted; invalid is 0 (stale), huge is 2^31. */
static double delta_secs(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    if (n == 0) return 0;
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return 0;
        d = d * 10 + (v[i] - '0');
        if (d > MAX_DELTA) return MAX_DELTA;
    }
    return d;
}

static void parse_cc(const char *s, size_t n, cc *c)
{
    const char *end = s + n;
    c->any = 1;
    while (s < end) {
        while (s < end && (is_ows((unsigned char)*s) || *s == ',')) s++;
        const char *name = s;
        while (s < end && *s != '=' && *s != ',' && !is_ows((unsigned char)*s)) s++;
        size_t nl = (size_t)(s - name);
        while (s < end && is_ows((unsigned char)*s)) s++;
        const char *val = NULL;
        size_t vl = 0;
        if (s < end && *s == '=') {
            s++;
            while (s < end && is_ows((unsigned char)*s)) s++;
            val = s;
            if (s < end && *s == '"') {
                s++;
                while (s < end && *s != '"') s += (*s == '\\' && s + 1 < end) ? 2 : 1;
                if (s < end) s++;
            } else {
                while (s < end && *s != ',' && !is_ows((unsigned char)*s)) s++;
            }
            vl = (size_t)(s - val);
        }
        while (s < end && *s != ',') s++; /* ignore junk up to the next directive */
        if (nl == 0) continue;
        int ok = 1;
        if (ieq(name, nl, "no-store", 8))
            c->no_store = 1;
        else if (ieq(name, nl, "no-cache", 8))
            c->no_cache = 1;
        else if (ieq(name, nl, "private", 7))
            c->priv = 1;
        else if (ieq(name, nl, "public", 6))
            c->pub = 1;
        else if (ieq(name, nl, "must-revalidate", 15))
            c->must_reval = 1;
        else if (ieq(name, nl, "proxy-revalidate", 16))
            c->proxy_reval = 1;
        else if (ieq(name, nl, "max-age", 7) && !c->has_max_age)
            c->has_max_age = 1, c->max_age = delta_secs(val, vl);
        else if (ieq(name, nl, "s-maxage", 8) && !c->has_smaxage)
            c->has_smaxage = 1, c->smaxage = delta_secs(val, vl);
        else if (ieq(name, nl, "stale-while-revalidate", 22) && !c->has_swr)
            c->has_swr = 1, c->swr = delta_secs(val, vl);
        else if (ieq(name, nl, "stale-if-error", 14) && !c->has_sie)
            c->has_sie = 1, c->sie = delta_secs(val, vl);
        else if (!(ieq(name, nl, "max-age", 7) || ieq(name, nl, "s-maxage", 8) ||
                   ieq(name, nl, "stale-while-revalidate", 22) ||
                   ieq(name, nl, "stale-if-error", 14)))
            ok = 0; /* an extension directive: not enough to make a targeted field valid */
        if (ok) c->known = 1;
    }
}

static int month_of(const char *s)
{
    static const char m[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    for (int i = 0; i < 12; i++)
        if (lower((unsigned char)s[0]) == m[3 * i] && lower((unsigned char)s[1]) == m[3 * i + 1] &&
            lower((unsigned char)s[2]) == m[3 * i + 2])
            return i + 1;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num(const char **s, const char *end, int maxd, long *out)
{
    int nd = 0;
    long v = 0;
    while (*s < end && nd < maxd && **s >= '0' && **s <= '9') v = v * 10 + (*(*s)++ - '0'), nd++;
    *out = v;
    return nd;
}

static int hms(const char **s, const char *end, long *h, long *mi, long *se)
{
    if (num(s, end, 2, h) != 2 || *s >= end || *(*s)++ != ':') return -1;
    if (num(s, end, 2, mi) != 2 || *s >= end || *(*s)++ != ':') return -1;
    if (num(s, end, 2, se) != 2) return -1;
    return (*h > 23 || *mi > 59 || *se > 60) ? -1 : 0;
}

/* Parses an HTTP-date (RFC 9110 5.6.7: IMF-fixdate, RFC 850, asctime) into Unix seconds;
 * 0 on success, -1 if invalid. */
static int http_date(const char *s, size_t n, double *out)
{
    const char *end = s + n, *p = s;
    long day = 0, year = 0, h, mi, se;
    int mon;
    while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) p++; /* weekday */
    if (p < end && *p == ',') {
        p++;
        while (p < end && *p == ' ') p++;
        if (p + 2 < end && p[2] == '-') { /* RFC 850: 06-Nov-94 08:49:37 GMT */
            if (num(&p, end, 2, &day) != 2 || p + 4 > end || p[0] != '-') return -1;
            mon = month_of(p + 1);
            p += 4;
            if (p >= end || *p++ != '-') return -1;
            if (num(&p, end, 4, &year) == 2) year += year < 70 ? 2000 : 1900;
        } else { /* IMF-fixdate: 06 Nov 1994 08:49:37 GMT */
            if (num(&p, end, 2, &day) < 1 || p + 4 > end || p[0] != ' ') return -1;
            mon = month_of(p + 1);
            p += 4;
            if (p >= end || *p++ != ' ' || num(&p, end, 4, &year) != 4) return -1;
        }
        if (p >= end || *p++ != ' ' || hms(&p, end, &h, &mi, &se)) return -1;
        while (p < end && *p == ' ') p++;
        if (end - p < 3 || strncasecmp(p, "GMT", 3) != 0) return -1;
    } else { /* asctime: Sun Nov  6 08:49:37 1994 */
        if (p >= end || *p++ != ' ' || end - p < 4) return -1;
        mon = month_of(p);
        p += 3;
        while (p < end && *p == ' ') p++;
        if (num(&p, end, 2, &day) < 1 || p >= end || *p++ != ' ') return -1;
        if (hms(&p, end, &h, &mi, &se) || p >= end || *p++ != ' ') return -1;
        if (num(&p, end, 4, &year) != 4) return -1;
    }
    if (mon == 0 || day < 1 || day > 31) return -1;
    *out =
        (double)days_from_civil(year, mon, (int)day) * 86400.0 + (double)(h * 3600 + mi * 60 + se);
    return 0;
}

static int status_class(int status)
{
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 302:
    case 410:
        return 1; /* normal TTL rules */
    case 307:
    case 308:
        return 2; /* only with Cache-Control */
    case 400:
    case 403:
    case 404:
    case 405:
    case 414:
    case 500:
    case 501:
    case 502:
    case 503:
    case 504:
        return 3; /* error caching */
    default:
        return 0;
    }
}

static int vary_has_star(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*') return 1;
    return 0;
}

int gd_cache_http_date(const char *s, size_t n, double *out)
{
    return http_date(s, n, out);
}

int gd_cache_ttl(const gd_cache_policy *p, int status, const gd_http_header *h, int nh, double now,
                 gd_cache_times *out)
{
    return gd_cache_ttl_after(p, status, h, nh, now, 0, out);
}

int gd_cache_ttl_after(const gd_cache_policy *p, int status, const gd_http_header *h, int nh,
                       double now, double delay, gd_cache_times *out)
{
    memset(out, 0, sizeof *out);
    int klass = status_class(status);
    if (klass == 0) return 0;
    cc c = {0}, cdn = {0}, sur = {0};
    const gd_http_header *expires = NULL, *date = NULL, *age = NULL, *lm = NULL;
    int set_cookie = 0;
    for (int i = 0; i < nh; i++) {
        if (hname_is(&h[i], "cache-control"))
            parse_cc(h[i].value, h[i].value_len, &c);
        else if (hname_is(&h[i], "cdn-cache-control"))
            parse_cc(h[i].value, h[i].value_len, &cdn);
        else if (hname_is(&h[i], "surrogate-control"))
            parse_cc(h[i].value, h[i].value_len, &sur);
        else if (hname_is(&h[i], "expires") && !expires)
            expires = &h[i];
        else if (hname_is(&h[i], "date") && !date)
            date = &h[i];
        else if (hname_is(&h[i], "age") && !age)
            age = &h[i];
        else if (hname_is(&h[i], "last-modified") && !lm)
            lm = &h[i];
        else if (hname_is(&h[i], "vary") && vary_has_star(h[i].value, h[i].value_len))
            return 0;
        else if (hname_is(&h[i], "set-cookie"))
            set_cookie = 1;
    }
    unsigned flags = set_cookie ? GD_CACHE_T_SET_COOKIE : 0;
    /* RFC 9213 2.1: the first targeted field with a valid, non-empty value replaces
     * Cache-Control and Expires for this cache. */
    if (cdn.known || sur.known) {
        c = cdn.known ? cdn : sur;
        expires = NULL;
        flags |= GD_CACHE_T_TARGETED;
    }
    if (klass == 2 && !c.any) return 0;
    if (c.pub || c.has_smaxage || c.must_reval) flags |= GD_CACHE_T_AUTH_OK;

    /* RFC 9111 4.2.3: the age the response already has when it arrives is the upstream
     * Age plus the time the request spent in flight (corrected_age_value; Date is a
     * wall clock of one-second grain and game time runs at --speed, so apparent_age is
     * not used). */
    double initial_age =
        (age ? delta_secs(age->value, age->value_len) : 0) + (delay > 0 ? delay : 0);
    int has = 1;
    double origin = 0;
    if (c.has_smaxage) {
        origin = c.smaxage;
    } else if (c.has_max_age) {
        origin = c.max_age;
    } else if (expires) {
        double e, d;
        if (http_date(expires->value, expires->value_len, &e) != 0) {
            origin = 0;
        } else {
            if (!date || http_date(date->value, date->value_len, &d) != 0) d = (double)time(NULL);
            origin = e > d ? e - d : 0;
        }
    } else {
        has = 0;
    }
    if (has) {
        origin -= initial_age;
        if (origin < 0) origin = 0;
    }
    if (origin > MAX_DELTA) origin = MAX_DELTA;

    double ttl, swr = 0, sie = 0;
    if (klass == 3) {
        ttl = p->error_ttl;
        if (has) {
            double o = origin < p->max_ttl ? origin : p->max_ttl;
            if (o > ttl) ttl = o;
            flags |= GD_CACHE_T_ORIGIN;
        }
        if (ttl <= 0) return 0;
        flags |= GD_CACHE_T_ERROR | GD_CACHE_T_NO_STALE;
    } else {
        int forbid = c.no_store || c.priv;
        double lmt, dt;
        if (forbid || c.no_cache) {
            if (p->min_ttl > 0) {
                ttl = p->min_ttl;
                flags |= GD_CACHE_T_MIN_OVERRIDE;
            } else if (forbid) {
                return 0;
            } else {
                ttl = 0;
                flags |= GD_CACHE_T_NO_CACHE;
            }
        } else if (has) {
            ttl = origin < p->min_ttl ? p->min_ttl : origin > p->max_ttl ? p->max_ttl : origin;
            flags |= GD_CACHE_T_ORIGIN;
        } else if (p->heuristic > 0 && klass == 1 && lm &&
                   http_date(lm->value, lm->value_len, &lmt) == 0) {
            /* RFC 9111 4.2.2: a fraction of the time since Last-Modified, from the
             * response's Date (or now), less the age it arrived with. */
            if (!date || http_date(date->value, date->value_len, &dt) != 0) dt = (double)time(NULL);
            double o = (dt > lmt ? dt - lmt : 0) * p->heuristic - initial_age;
            if (o < 0) o = 0;
            ttl = o < p->min_ttl ? p->min_ttl : o > p->max_ttl ? p->max_ttl : o;
            flags |= GD_CACHE_T_HEURISTIC;
        } else {
            ttl = p->default_ttl;
            flags |= GD_CACHE_T_DEFAULT;
        }
        if (forbid || c.no_cache || c.must_reval || c.proxy_reval) {
            flags |= GD_CACHE_T_NO_STALE;
        } else {
            swr = c.has_swr ? c.swr : p->stale_while_revalidate;
            sie = c.has_sie ? c.sie : p->stale_if_error;
        }
    }
    out->ttl = ttl;
    out->age = initial_age;
    out->fresh_until = now + ttl;
    out->stale_while_revalidate_until = out->fresh_until + swr;
    out->stale_if_error_until = out->fresh_until + sie;
    out->flags = flags;
    return 1;
}
