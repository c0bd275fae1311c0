/* The cdn's cache behaviours: parsing and checking a behaviour's policy (path pattern,
 * query strings, headers and cookies in the key, TTLs), and path pattern matching. */
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

/* ---- policy ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return GD_EINVAL;
}

static void names_free(gd_cache_names *n)
{
    for (int i = 0; i < n->n; i++) gd_free(n->v[i].s);
    gd_free(n->v);
    n->v = NULL;
    n->n = 0;
}

static int name_order(const void *a, const void *b)
{
    const gd_cache_name *x = a, *y = b;
    return bytes_cmp(x->s, x->len, y->s, y->len);
}

/* Reads an array of 1..GD_CACHE_MAX_NAMES token names (lowercased if lc), sorted, unique. */
static int parse_names(const json_t *arr, const char *field, int lc, int min, gd_cache_names *out,
                       char *err, size_t errlen)
{
    const char *allowed = lc ? "header names" : "names";
    if (!json_is_array(arr))
        return fail(err, errlen, "behavior.%s: expected an array of %s, like [\"%s\"]", field,
                    allowed, lc ? "accept-language" : "lang");
    size_t n = json_array_size(arr);
    if (n < (size_t)min)
        return fail(err, errlen, "behavior.%s: empty; list at least one name", field);
    if (n > GD_CACHE_MAX_NAMES)
        return fail(err, errlen, "behavior.%s: %zu names; at most %d are allowed", field, n,
                    GD_CACHE_MAX_NAMES);
    out->v = gd_calloc(n ? n : 1, sizeof *out->v);
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(arr, i);
        if (!json_is_string(s))
            return fail(err, errlen, "behavior.%s[%zu]: expected a string", field, i);
        const char *v = json_string_value(s);
        size_t len = json_string_length(s);
        if (len == 0 || len > GD_CACHE_MAX_NAME_LEN)
            return fail(err, errlen, "behavior.%s[%zu]: length %zu; allowed 1 to %d bytes", field,
                        i, len, GD_CACHE_MAX_NAME_LEN);
        for (size_t k = 0; k < len; k++)
            if (!is_tchar((unsigned char)v[k]))
                return fail(err, errlen,
                            "behavior.%s[%zu]: \"%s\" has a character not allowed in a name "
                            "(allowed: letters, digits and !#$%%&'*+-.^_`|~)",
                            field, i, v);
        char *c = gd_strndup(v, len);
        if (lc)
            for (size_t k = 0; k < len; k++) c[k] = (char)lower((unsigned char)c[k]);
        out->v[out->n].s = c;
        out->v[out->n].len = len;
        out->n++;
    }
    qsort(out->v, (size_t)out->n, sizeof *out->v, name_order);
    int w = 0;
    for (int i = 0; i < out->n; i++) {
        if (w > 0 && name_order(&out->v[w - 1], &out->v[i]) == 0) {
            gd_free(out->v[i].s);
            continue;
        }
        out->v[w++] = out->v[i];
    }
    out->n = w;
    return 0;
}

static int parse_secs(const json_t *behavior, const char *field, double *out, char *err,
                      size_t errlen)
{
    const json_t *v = json_object_get(behavior, field);
    if (v == NULL) return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0 ||
        json_number_value(v) > MAX_DELTA)
        return fail(err, errlen, "behavior.%s: expected a number of seconds from 0 to %.0f", field,
                    MAX_DELTA);
    *out = json_number_value(v);
    return 0;
}

void gd_cache_policy_default(gd_cache_policy *p)
{
    memset(p, 0, sizeof *p);
    p->path = gd_strdup("*");
    p->qs = GD_CACHE_QS_NONE;
    p->min_ttl = 0;
    p->default_ttl = 86400;
    p->max_ttl = 31536000;
    p->error_ttl = 10;
    p->stale_while_revalidate = 0;
    p->stale_if_error = 0;
    p->lock_timeout = 5;
}

void gd_cache_policy_free(gd_cache_policy *p)
{
    if (p == NULL) return;
    gd_free(p->path);
    names_free(&p->qs_names);
    names_free(&p->headers);
    names_free(&p->cookies);
    memset(p, 0, sizeof *p);
}

static const char *const behavior_fields[] = {"path",
                                              "query_strings",
                                              "headers",
                                              "cookies",
                                              "min_ttl",
                                              "default_ttl",
                                              "max_ttl",
                                              "error_caching_min_ttl",
                                              "stale_if_error",
                                              "stale_while_revalidate",
                                              "lock_timeout",
                                              "heuristic_freshness",
                                              NULL};

static int parse_policy(const json_t *b, gd_cache_policy *p, char *err, size_t errlen)
{
    if (!json_is_object(b))
        return fail(err, errlen, "behavior: expected an object like {\"path\":\"*\"}");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)b, k, v)
    {
        int known = 0;
        for (int i = 0; behavior_fields[i]; i++) known |= strcmp(k, behavior_fields[i]) == 0;
        if (!known)
            return fail(err, errlen,
                        "behavior.%s: unknown field; allowed: path, query_strings, headers, "
                        "cookies, min_ttl, default_ttl, max_ttl, error_caching_min_ttl, "
                        "stale_while_revalidate, stale_if_error, lock_timeout, "
                        "heuristic_freshness",
                        k);
    }
    if ((v = json_object_get(b, "path"))) {
        const char *s = json_string_value(v);
        size_t len = json_is_string(v) ? json_string_length(v) : 0;
        if (s == NULL || len == 0 || len > 255)
            return fail(err, errlen,
                        "behavior.path: expected a path pattern of 1 to 255 bytes like "
                        "\"/images/*.jpg\" or \"*\"");
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] <= ' ' || s[i] == 127)
                return fail(err, errlen,
                            "behavior.path: a space or control character at byte %zu; a "
                            "path pattern has none",
                            i);
        gd_free(p->path);
        p->path = (s[0] == '/' || s[0] == '*') ? gd_strdup(s) : gd_sprintf("/%s", s);
    }
    if ((v = json_object_get(b, "query_strings"))) {
        static const char *qs_allowed =
            "allowed: \"none\", \"all\", {\"include\":[names]} or {\"except\":[names]}";
        if (json_is_string(v)) {
            if (strcmp(json_string_value(v), "none") == 0)
                p->qs = GD_CACHE_QS_NONE;
            else if (strcmp(json_string_value(v), "all") == 0)
                p->qs = GD_CACHE_QS_ALL;
            else
                return fail(err, errlen, "behavior.query_strings: \"%s\" is not a mode; %s",
                            json_string_value(v), qs_allowed);
        } else if (json_is_object(v) && json_object_size(v) == 1) {
            const json_t *inc = json_object_get(v, "include"), *exc = json_object_get(v, "except");
            if (inc) {
                p->qs = GD_CACHE_QS_INCLUDE;
                int r = parse_names(inc, "query_strings.include", 0, 1, &p->qs_names, err, errlen);
                if (r) return r;
            } else if (exc) {
                p->qs = GD_CACHE_QS_EXCEPT;
                int r = parse_names(exc, "query_strings.except", 0, 1, &p->qs_names, err, errlen);
                if (r) return r;
            } else {
                return fail(err, errlen, "behavior.query_strings: unknown key; %s", qs_allowed);
            }
        } else {
            return fail(err, errlen, "behavior.query_strings: %s", qs_allowed);
        }
    }
    if ((v = json_object_get(b, "headers"))) {
        int r = parse_names(v, "headers", 1, 0, &p->headers, err, errlen);
        if (r) return r;
    }
    if ((v = json_object_get(b, "cookies"))) {
        int r = parse_names(v, "cookies", 0, 0, &p->cookies, err, errlen);
        if (r) return r;
    }
    static const struct {
        const char *name;
        size_t off;
    } secs[] = {
        {"min_ttl", offsetof(gd_cache_policy, min_ttl)},
        {"default_ttl", offsetof(gd_cache_policy, default_ttl)},
        {"max_ttl", offsetof(gd_cache_policy, max_ttl)},
        {"error_caching_min_ttl", offsetof(gd_cache_policy, error_ttl)},
        {"stale_while_revalidate", offsetof(gd_cache_policy, stale_while_revalidate)},
        {"stale_if_error", offsetof(gd_cache_policy, stale_if_error)},
        {"lock_timeout", offsetof(gd_cache_policy, lock_timeout)},
    };
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        int r = parse_secs(b, secs[i].name, (double *)((char *)p + secs[i].off), err, errlen);
        if (r) return r;
    }
    if ((v = json_object_get(b, "heuristic_freshness"))) {
        double f = json_is_number(v) ? json_number_value(v) : -1;
        if (!(f >= 0 && f <= 1))
            return fail(err, errlen,
                        "behavior.heuristic_freshness: expected a fraction 0..1 of the time "
                        "since Last-Modified (RFC 9111 4.2.2 suggests 0.1); 0 turns it off");
        p->heuristic = f;
    }
    if (p->min_ttl > p->default_ttl)
        return fail(err, errlen,
                    "behavior.min_ttl: %g is above default_ttl %g; allowed: min_ttl <= "
                    "default_ttl <= max_ttl",
                    p->min_ttl, p->default_ttl);
    if (p->default_ttl > p->max_ttl)
        return fail(err, errlen,
                    "behavior.default_ttl: %g is above max_ttl %g; allowed: min_ttl <= "
                    "default_ttl <= max_ttl",
                    p->default_ttl, p->max_ttl);
    return 0;
}

int gd_cache_policy_parse(const json_t *behavior, gd_cache_policy *out, char *err, size_t errlen)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    if (err && errlen) err[0] = 0;
    int r = parse_policy(behavior, &p, err, errlen);
    if (r) {
        gd_cache_policy_free(&p);
        memset(out, 0, sizeof *out);
        return r;
    }
    *out = p;
    return 0;
}

int gd_cache_path_match(const char *pattern, const char *path, size_t pathlen)
{
    const char *p = pattern;
    size_t i = 0;
    if (*p != '/' && *p != '*') {
        if (pathlen == 0 || path[0] != '/') return 0;
        i = 1; /* the implied leading '/' */
    }
    const char *star = NULL; /* pattern just after the last '*' seen */
    size_t star_i = 0;       /* path position that '*' matched up to */
    while (i < pathlen) {
        if (*p == '*') {
            star = ++p;
            star_i = i;
        } else if (*p && (*p == '?' || *p == path[i])) {
            p++;
            i++;
        } else if (star) {
            p = star;
            i = ++star_i;
        } else {
            return 0;
        }
    }
    while (*p == '*') p++;
    return *p == 0;
}
