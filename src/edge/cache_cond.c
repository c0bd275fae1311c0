/* Conditional and range requests against a stored response: If-None-Match and
 * If-Modified-Since (RFC 9110 13.1, 13.2.2), Range and If-Range (RFC 9110 14). The
 * caller (cdn.c) writes the 304, 206 or 416. */
#include "edge/cache_int.h"
#include "core/check.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

struct tag {
    const char *s; /* the quoted opaque-tag, quotes included */
    size_t n;
    int weak;
};

static int tag_next(const char **s, const char *end, struct tag *t)
{
    return etag_next(s, end, &t->s, &t->n, &t->weak);
}

static int stored_tag(const gd_cache_obj *o, struct tag *t)
{
    if (!o->etag) return 0;
    const char *s = o->etag;
    return tag_next(&s, o->etag + o->etag_len, t);
}

int gd_cache_not_modified(const gd_cache_obj *o, const char *inm, size_t inm_len, const char *ims,
                          size_t ims_len)
{
    if (inm) {
        const char *s = inm, *end = inm + inm_len;
        while (s < end && is_ows((unsigned char)*s)) s++;
        if (s < end && *s == '*') return 1;
        struct tag mine, t;
        if (!stored_tag(o, &mine)) return 0;
        while (tag_next(&s, end, &t)) /* weak comparison: the opaque tags are equal */
            if (t.n == mine.n && !memcmp(t.s, mine.s, t.n)) return 1;
        return 0;
    }
    if (ims) {
        double since, at;
        const char *ref = o->last_modified ? o->last_modified : o->date;
        size_t refn = o->last_modified ? o->last_modified_len : o->date_len;
        if (!ref || gd_cache_http_date(ims, ims_len, &since) || gd_cache_http_date(ref, refn, &at))
            return 0;
        return at <= since;
    }
    return 0;
}

/* 1 to 18 digits (more would not fit a size and is no range we could satisfy). */
static int digits(const char **s, const char *end, uint64_t *v)
{
    const char *p = *s;
    *v = 0;
    while (p < end && *p >= '0' && *p <= '9' && p - *s < 18) *v = *v * 10 + (uint64_t)(*p++ - '0');
    if (p == *s || (p < end && *p >= '0' && *p <= '9')) return 0;
    *s = p;
    return 1;
}

/* If-Range: an entity-tag must match the stored one by strong comparison (neither
 * weak); a date must be the stored Last-Modified exactly (RFC 9110 13.1.5). */
static int if_range_holds(const gd_cache_obj *o, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end && is_ows((unsigned char)*s)) s++;
    if (s < end && (*s == '"' || *s == 'W')) {
        struct tag t, mine;
        return tag_next(&s, end, &t) && !t.weak && stored_tag(o, &mine) && !mine.weak &&
               t.n == mine.n && !memcmp(t.s, mine.s, t.n);
    }
    size_t left = (size_t)(end - s);
    while (left && is_ows((unsigned char)s[left - 1])) left--;
    return o->last_modified && o->last_modified_len == left && !memcmp(s, o->last_modified, left);
}

int gd_cache_byte_range(const gd_cache_obj *o, const char *range, size_t n, const char *if_range,
                        size_t if_range_len, size_t *first, size_t *last)
{
    if (!range) return GD_CACHE_RANGE_NONE;
    if (if_range && !if_range_holds(o, if_range, if_range_len)) return GD_CACHE_RANGE_NONE;
    const char *s = range, *end = range + n;
    if (n < 6 || strncasecmp(s, "bytes=", 6)) return GD_CACHE_RANGE_NONE;
    s += 6;
    while (s < end && is_ows((unsigned char)*s)) s++;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    if (s < end && *s != '-') {
        if (!digits(&s, end, &a)) return GD_CACHE_RANGE_NONE;
        has_a = 1;
    }
    if (s >= end || *s++ != '-') return GD_CACHE_RANGE_NONE;
    if (s < end && *s >= '0' && *s <= '9') {
        if (!digits(&s, end, &b)) return GD_CACHE_RANGE_NONE;
        has_b = 1;
    }
    while (s < end && is_ows((unsigned char)*s)) s++;
    /* One range only: a list (a comma), junk, "-" alone, or last < first is ignored. */
    if (s != end || (!has_a && !has_b) || (has_a && has_b && b < a)) return GD_CACHE_RANGE_NONE;
    uint64_t len = o->body_len;
    if (!has_a) { /* a suffix: the last b bytes */
        if (b == 0 || len == 0) return GD_CACHE_RANGE_UNSATISFIABLE;
        *first = (size_t)(b >= len ? 0 : len - b);
        *last = (size_t)(len - 1);
        return GD_CACHE_RANGE_PART;
    }
    if (a >= len) return GD_CACHE_RANGE_UNSATISFIABLE;
    *first = (size_t)a;
    *last = (size_t)(has_b && b < len ? b : len - 1);
    return GD_CACHE_RANGE_PART;
}
