/* The edge's CDN cache core: behaviour policies, canonical keys, CloudFront TTL rules,
 * and the object store (hash table + O(1) LRU under a byte cap, Vary variants,
 * invalidation, miss collapsing). The request path of the edge lives in edge.c. */
#include "edge/cache.h"
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

#define CACHE_MAGIC 0x43414348u /* "CACH" */
#define OBJ_MAGIC 0x434f424au   /* "COBJ" */
#define OBJ_OVERHEAD 96         /* malloc header, bucket slot: charged per object */
#define MAX_PENDING 65536
#define MAX_DELTA 2147483648.0 /* RFC 9111 1.2.2: the largest delta-seconds */

struct gd_cache_vary {
    const char *name; /* lowercased */
    size_t nlen;
    const char *val; /* the request's value (first instance, trimmed) */
    size_t vlen;
    int present;
};

typedef struct pend {
    struct pend *next;
    uint64_t hash;
    double until; /* game time after which the fetch is taken as abandoned */
    void *slot;
    size_t keylen;
    char key[];
} pend;

struct gd_cache {
    uint32_t magic;
    size_t max_bytes;
    gd_cache_obj **b; /* hash buckets, chained through hnext */
    size_t mask;
    gd_cache_obj *lru_head, *lru_tail; /* head: most recently used */
    uint64_t tick;
    pend **pb; /* pending fetches */
    size_t pmask, npend;
    gd_cache_stats st;
};

/* ---- small helpers ---- */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int is_ows(int ch)
{
    return ch == ' ' || ch == '\t';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_ows((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && is_ows((unsigned char)(*s)[*n - 1])) (*n)--;
}

static int ieq(const char *a, size_t al, const char *b, size_t bl)
{
    if (al != bl) return 0;
    for (size_t i = 0; i < al; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    return 1;
}

/* Header name h equals the lowercase literal name. */
static int hname_is(const gd_http_header *h, const char *name)
{
    return ieq(h->name, h->name_len, name, strlen(name));
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    if (r) return r;
    return al < bl ? -1 : al > bl;
}

static int is_tchar(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* A 64-bit hash reading 8 bytes per step, mixing with 64x64->128-bit multiplies
 * (folded high ^ low), in the manner of the wyhash family; written for gameday. */
static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t hash_bytes(const char *key, size_t n)
{
    static const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                          k2 = 0x8ebc6af09c88c6e3ull, k3 = 0x589965cc75374cc3ull;
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = k0 ^ (n * k1);
    size_t left = n;
    while (left >= 16) {
        h = mix(rd64(p) ^ k1, rd64(p + 8) ^ h ^ k2);
        p += 16;
        left -= 16;
    }
    uint64_t a = 0, b = 0;
    if (left >= 8) {
        a = rd64(p);
        p += 8;
        left -= 8;
    }
    memcpy(&b, p, left);
    h = mix(a ^ k1 ^ h, b ^ k3 ^ (uint64_t)n);
    return mix(h ^ k0, h ^ k2);
}

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

static const char *const behavior_fields[] = {"path",           "query_strings",
                                              "headers",        "cookies",
                                              "min_ttl",        "default_ttl",
                                              "max_ttl",        "error_caching_min_ttl",
                                              "stale_if_error", "stale_while_revalidate",
                                              "lock_timeout",   NULL};

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
                        "stale_while_revalidate, stale_if_error, lock_timeout",
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

/* ---- cache key ---- */

typedef struct qparam {
    const char *n, *v;
    size_t nl, vl;
    int hasv;
} qparam;

static int qparam_cmp(const qparam *a, const qparam *b)
{
    int r = bytes_cmp(a->n, a->nl, b->n, b->nl);
    if (r) return r;
    if (a->hasv != b->hasv) return a->hasv - b->hasv;
    return bytes_cmp(a->v, a->vl, b->v, b->vl);
}

static int names_has(const gd_cache_names *ns, const char *s, size_t len)
{
    for (int i = 0; i < ns->n; i++)
        if (ns->v[i].len == len && memcmp(ns->v[i].s, s, len) == 0) return 1;
    return 0;
}

/* Appends "<len>:<bytes>", lowercasing the bytes if lc. */
static int put_ns(gd_buf *b, const char *s, size_t n, int lc)
{
    int r = gd_buf_reserve(b, n + 24);
    if (r) return r;
    char digits[24];
    int nd = 0;
    size_t v = n;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *w = b->data + b->len;
    while (nd) *w++ = digits[--nd];
    *w++ = ':';
    if (lc) {
        for (size_t i = 0; i < n; i++) w[i] = (char)lower((unsigned char)s[i]);
    } else if (n) {
        memcpy(w, s, n);
    }
    w += n;
    b->len = (size_t)(w - b->data);
    b->data[b->len] = 0;
    return 0;
}

static int put_ch(gd_buf *b, char ch)
{
    return gd_buf_append(b, &ch, 1);
}

static int key_query(const gd_cache_policy *p, const gd_http_req *req, gd_buf *out)
{
    if (p->qs == GD_CACHE_QS_NONE || req->query == NULL || req->query_len == 0) return 0;
    qparam q[GD_CACHE_MAX_QUERY_PARAMS];
    int n = 0;
    const char *s = req->query, *end = req->query + req->query_len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if (e > s) {
            const char *eq = memchr(s, '=', (size_t)(e - s));
            qparam x = {.n = s, .nl = (size_t)((eq ? eq : e) - s)};
            if (eq) {
                x.hasv = 1;
                x.v = eq + 1;
                x.vl = (size_t)(e - eq - 1);
            }
            int keep = p->qs == GD_CACHE_QS_ALL ||
                       (p->qs == GD_CACHE_QS_INCLUDE && names_has(&p->qs_names, x.n, x.nl)) ||
                       (p->qs == GD_CACHE_QS_EXCEPT && !names_has(&p->qs_names, x.n, x.nl));
            if (keep) {
                if (n == GD_CACHE_MAX_QUERY_PARAMS) return GD_ETOOBIG;
                int j = n++;
                while (j > 0 && qparam_cmp(&q[j - 1], &x) > 0) {
                    q[j] = q[j - 1];
                    j--;
                }
                q[j] = x;
            }
        }
        s = e + 1;
    }
    for (int i = 0; i < n; i++) {
        int r = put_ch(out, 'q');
        if (!r) r = put_ns(out, q[i].n, q[i].nl, 0);
        if (!r) r = q[i].hasv ? put_ns(out, q[i].v, q[i].vl, 0) : put_ch(out, '-');
        if (r) return r;
    }
    return 0;
}

/* Finds cookie name in every Cookie header of h; its value (first instance) or NULL. */
static const char *find_cookie(const gd_http_header *h, int nh, const char *name, size_t nlen,
                               size_t *vlen)
{
    for (int i = 0; i < nh; i++) {
        if (!hname_is(&h[i], "cookie")) continue;
        const char *s = h[i].value, *end = h[i].value + h[i].value_len;
        while (s < end) {
            const char *semi = memchr(s, ';', (size_t)(end - s));
            const char *e = semi ? semi : end;
            const char *c = s;
            size_t cl = (size_t)(e - s);
            trim(&c, &cl);
            const char *eq = memchr(c, '=', cl);
            if (eq && (size_t)(eq - c) == nlen && memcmp(c, name, nlen) == 0) {
                const char *v = eq + 1;
                size_t vl = cl - nlen - 1;
                trim(&v, &vl);
                *vlen = vl;
                return v;
            }
            s = e + 1;
        }
    }
    return NULL;
}

int gd_cache_key(const gd_cache_policy *p, const gd_http_req *req, gd_buf *out)
{
    gd_buf_reset(out);
    const char *m = (req->method == HTTP_GET || req->method == HTTP_HEAD)
                        ? "GET"
                        : http_method_str((enum http_method)req->method);
    int r = gd_buf_puts(out, m);
    if (!r) r = put_ch(out, '|');
    const char *host = "";
    size_t hl = 0;
    for (int i = 0; i < req->nheaders; i++) {
        if (hname_is(&req->headers[i], "host")) {
            host = req->headers[i].value;
            hl = req->headers[i].value_len;
            break;
        }
    }
    trim(&host, &hl);
    if (!r) r = put_ns(out, host, hl, 1);
    if (!r) r = put_ns(out, req->path ? req->path : "", req->path ? req->path_len : 0, 0);
    if (!r) r = key_query(p, req, out);
    for (int i = 0; !r && i < p->headers.n; i++) {
        const gd_cache_name *hn = &p->headers.v[i];
        r = put_ch(out, 'h');
        if (!r) r = put_ns(out, hn->s, hn->len, 0);
        int found = 0;
        for (int k = 0; !r && k < req->nheaders; k++) {
            const gd_http_header *h = &req->headers[k];
            if (!ieq(h->name, h->name_len, hn->s, hn->len)) continue;
            const char *v = h->value;
            size_t vl = h->value_len;
            trim(&v, &vl);
            r = put_ns(out, v, vl, 0);
            found = 1;
        }
        if (!r && !found) r = put_ch(out, '-');
    }
    for (int i = 0; !r && i < p->cookies.n; i++) {
        const gd_cache_name *cn = &p->cookies.v[i];
        size_t vl = 0;
        const char *v = find_cookie(req->headers, req->nheaders, cn->s, cn->len, &vl);
        r = put_ch(out, 'c');
        if (!r) r = put_ns(out, cn->s, cn->len, 0);
        if (!r) r = v ? put_ns(out, v, vl, 0) : put_ch(out, '-');
    }
    if (r) gd_buf_reset(out);
    return r;
}

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
 *    An Age header is subtracted (RFC 9111 4.2.3: an upstream cache held it that long).
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
 * Requests with Authorization are the caller's call (CloudFront only forwards it when
 * it is part of the cache key). */

typedef struct cc {
    int any, no_store, no_cache, priv, must_reval, proxy_reval;
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
        if (ieq(name, nl, "no-store", 8))
            c->no_store = 1;
        else if (ieq(name, nl, "no-cache", 8))
            c->no_cache = 1;
        else if (ieq(name, nl, "private", 7))
            c->priv = 1;
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

int gd_cache_ttl(const gd_cache_policy *p, int status, const gd_http_header *h, int nh, double now,
                 gd_cache_times *out)
{
    memset(out, 0, sizeof *out);
    int klass = status_class(status);
    if (klass == 0) return 0;
    cc c = {0};
    const gd_http_header *expires = NULL, *date = NULL, *age = NULL;
    int set_cookie = 0;
    for (int i = 0; i < nh; i++) {
        if (hname_is(&h[i], "cache-control"))
            parse_cc(h[i].value, h[i].value_len, &c);
        else if (hname_is(&h[i], "expires") && !expires)
            expires = &h[i];
        else if (hname_is(&h[i], "date") && !date)
            date = &h[i];
        else if (hname_is(&h[i], "age") && !age)
            age = &h[i];
        else if (hname_is(&h[i], "vary") && vary_has_star(h[i].value, h[i].value_len))
            return 0;
        else if (hname_is(&h[i], "set-cookie"))
            set_cookie = 1;
    }
    if (klass == 2 && !c.any) return 0;

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
    if (has && age) {
        origin -= delta_secs(age->value, age->value_len);
        if (origin < 0) origin = 0;
    }
    if (origin > MAX_DELTA) origin = MAX_DELTA;

    unsigned flags = set_cookie ? GD_CACHE_T_SET_COOKIE : 0;
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
    out->fresh_until = now + ttl;
    out->stale_while_revalidate_until = out->fresh_until + swr;
    out->stale_if_error_until = out->fresh_until + sie;
    out->flags = flags;
    return 1;
}

/* ---- objects ---- */

/* Hop-by-hop (RFC 9110 7.6.1: Connection and the names it lists, Keep-Alive, TE,
 * Trailer, Transfer-Encoding, Upgrade, Proxy-*), plus what a stored head never keeps:
 * Date and Age (the server adds its own), Content-Length (written on replay) and
 * Set-Cookie (one viewer's cookie). */
static int not_stored(const gd_http_header *h, int nh, int i)
{
    static const char *const drop[] = {"connection",
                                       "keep-alive",
                                       "proxy-connection",
                                       "te",
                                       "trailer",
                                       "upgrade",
                                       "transfer-encoding",
                                       "date",
                                       "age",
                                       "content-length",
                                       "set-cookie",
                                       "set-cookie2",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       NULL};
    for (int k = 0; drop[k]; k++)
        if (hname_is(&h[i], drop[k])) return 1;
    for (int k = 0; k < nh; k++) {
        if (!hname_is(&h[k], "connection")) continue;
        const char *s = h[k].value, *end = s + h[k].value_len;
        while (s < end) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            const char *e = comma ? comma : end;
            const char *t = s;
            size_t tl = (size_t)(e - s);
            trim(&t, &tl);
            if (ieq(t, tl, h[i].name, h[i].name_len)) return 1;
            s = e + 1;
        }
    }
    return 0;
}

static int vary_cmp(const void *a, const void *b)
{
    const struct gd_cache_vary *x = a, *y = b;
    return bytes_cmp(x->name, x->nlen, y->name, y->nlen);
}

/* Builds an object; reqh supplies the Vary values. The one allocation holds the struct,
 * the Vary array, key, path, head, Vary names and values, and the body. */
static int build(const char *key, size_t keylen, const char *path, size_t pathlen,
                 const gd_http_header *reqh, int nreqh, int status, const gd_http_header *h, int nh,
                 const void *body, size_t body_len, double now, const gd_cache_times *t,
                 gd_cache_obj **out)
{
    *out = NULL;
    if (status < 100 || status > 999) return GD_EINVAL;
    /* Vary names (lowercased later), with the request's values. */
    struct gd_cache_vary vary[GD_CACHE_MAX_VARY];
    int nvary = 0;
    size_t vbytes = 0;
    for (int i = 0; i < nh; i++) {
        if (!hname_is(&h[i], "vary")) continue;
        const char *s = h[i].value, *end = s + h[i].value_len;
        while (s < end) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            const char *e = comma ? comma : end;
            const char *nm = s;
            size_t nl = (size_t)(e - s);
            trim(&nm, &nl);
            s = e + 1;
            if (nl == 0) continue;
            if (nl == 1 && nm[0] == '*') return GD_EINVAL;
            int dup = 0;
            for (int k = 0; k < nvary; k++) dup |= ieq(vary[k].name, vary[k].nlen, nm, nl);
            if (dup) continue;
            if (nvary == GD_CACHE_MAX_VARY) return GD_ETOOBIG;
            struct gd_cache_vary *v = &vary[nvary++];
            v->name = nm;
            v->nlen = nl;
            v->val = NULL;
            v->vlen = 0;
            v->present = 0;
            for (int k = 0; k < nreqh; k++) {
                if (ieq(reqh[k].name, reqh[k].name_len, nm, nl)) {
                    v->val = reqh[k].value;
                    v->vlen = reqh[k].value_len;
                    trim(&v->val, &v->vlen);
                    v->present = 1;
                    break;
                }
            }
            vbytes += nl + v->vlen;
        }
    }
    /* Head size. */
    char sl[64];
    int sln = snprintf(sl, sizeof sl, "HTTP/1.1 %d %s\r\n", status, gd_http_reason(status));
    size_t headlen = (size_t)sln;
    for (int i = 0; i < nh; i++)
        if (!not_stored(h, nh, i)) headlen += h[i].name_len + 2 + h[i].value_len + 2;
    if (headlen > GD_HTTP_MAX_HEAD) return GD_ETOOBIG;

    size_t total = sizeof(gd_cache_obj) + (size_t)nvary * sizeof(struct gd_cache_vary) + keylen +
                   pathlen + headlen + vbytes + body_len + 1;
    gd_cache_obj *o = gd_malloc(total);
    memset(o, 0, sizeof *o);
    o->magic = OBJ_MAGIC;
    o->refs = 1;
    o->status = status;
    o->stored_at = now;
    if (t) o->times = *t;
    o->size = total + OBJ_OVERHEAD;
    o->vary = (struct gd_cache_vary *)(o + 1);
    o->nvary = nvary;
    char *w = (char *)(o->vary + nvary);
    memcpy(w, key, keylen);
    o->key = w;
    o->keylen = keylen;
    w += keylen;
    if (pathlen) memcpy(w, path, pathlen);
    o->path = w;
    o->pathlen = pathlen;
    w += pathlen;
    o->head = w;
    memcpy(w, sl, (size_t)sln);
    w += sln;
    for (int i = 0; i < nh; i++) {
        if (not_stored(h, nh, i)) continue;
        memcpy(w, h[i].name, h[i].name_len);
        w += h[i].name_len;
        *w++ = ':';
        *w++ = ' ';
        if (h[i].value_len) memcpy(w, h[i].value, h[i].value_len);
        if (!o->etag && hname_is(&h[i], "etag"))
            o->etag = w, o->etag_len = h[i].value_len;
        else if (!o->last_modified && hname_is(&h[i], "last-modified"))
            o->last_modified = w, o->last_modified_len = h[i].value_len;
        w += h[i].value_len;
        *w++ = '\r';
        *w++ = '\n';
    }
    o->headlen = headlen;
    for (int k = 0; k < nvary; k++) {
        struct gd_cache_vary *v = &o->vary[k];
        for (size_t i = 0; i < vary[k].nlen; i++)
            w[i] = (char)lower((unsigned char)vary[k].name[i]);
        v->name = w;
        v->nlen = vary[k].nlen;
        w += v->nlen;
        if (vary[k].vlen) memcpy(w, vary[k].val, vary[k].vlen);
        v->val = w;
        v->vlen = vary[k].vlen;
        v->present = vary[k].present;
        w += v->vlen;
    }
    qsort(o->vary, (size_t)nvary, sizeof *o->vary, vary_cmp);
    if (body_len) memcpy(w, body, body_len);
    w[body_len] = 0;
    o->body = w;
    o->body_len = body_len;
    *out = o;
    return 0;
}

int gd_cache_obj_new(const char *key, size_t keylen, const gd_http_req *req, int status,
                     const gd_http_header *h, int nh, const void *body, size_t body_len, double now,
                     const gd_cache_times *t, gd_cache_obj **out)
{
    return build(key, keylen, req && req->path ? req->path : "",
                 req && req->path ? req->path_len : 0, req ? req->headers : NULL,
                 req ? req->nheaders : 0, status, h, nh, body, body_len, now, t, out);
}

gd_cache_obj *gd_cache_obj_ref(gd_cache_obj *o)
{
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    o->refs++;
    return o;
}

void gd_cache_obj_unref(gd_cache_obj *o)
{
    if (o == NULL) return;
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    if (--o->refs > 0) return;
    o->magic = 0;
    gd_free(o);
}

int gd_cache_revalidation_headers(const gd_cache_obj *o, gd_buf *out)
{
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    int n = 0, r = 0;
    if (o->etag) {
        r = gd_buf_puts(out, "If-None-Match: ");
        if (!r) r = gd_buf_append(out, o->etag, o->etag_len);
        if (!r) r = gd_buf_puts(out, "\r\n");
        n++;
    }
    if (!r && o->last_modified) {
        r = gd_buf_puts(out, "If-Modified-Since: ");
        if (!r) r = gd_buf_append(out, o->last_modified, o->last_modified_len);
        if (!r) r = gd_buf_puts(out, "\r\n");
        n++;
    }
    return r ? r : n;
}

/* ---- the store: hash table and LRU ---- */

gd_cache *gd_cache_new(size_t max_bytes)
{
    gd_cache *c = gd_calloc(1, sizeof *c);
    c->magic = CACHE_MAGIC;
    c->max_bytes = max_bytes;
    c->mask = 255;
    c->b = gd_calloc(c->mask + 1, sizeof *c->b);
    c->pmask = 63;
    c->pb = gd_calloc(c->pmask + 1, sizeof *c->pb);
    return c;
}

static void lru_remove(gd_cache *c, gd_cache_obj *o)
{
    if (o->lru_prev)
        o->lru_prev->lru_next = o->lru_next;
    else
        c->lru_head = o->lru_next;
    if (o->lru_next)
        o->lru_next->lru_prev = o->lru_prev;
    else
        c->lru_tail = o->lru_prev;
    o->lru_prev = o->lru_next = NULL;
}

static void lru_push_front(gd_cache *c, gd_cache_obj *o)
{
    o->lru_prev = NULL;
    o->lru_next = c->lru_head;
    if (c->lru_head) c->lru_head->lru_prev = o;
    c->lru_head = o;
    if (c->lru_tail == NULL) c->lru_tail = o;
}

static void grow(gd_cache *c)
{
    size_t nmask = c->mask * 2 + 1;
    gd_cache_obj **nb = gd_calloc(nmask + 1, sizeof *nb);
    for (size_t i = 0; i <= c->mask; i++) {
        gd_cache_obj *o = c->b[i];
        while (o) {
            gd_cache_obj *next = o->hnext;
            o->hnext = nb[o->hash & nmask];
            nb[o->hash & nmask] = o;
            o = next;
        }
    }
    gd_free(c->b);
    c->b = nb;
    c->mask = nmask;
}

/* Removes o from the table and the LRU and drops the cache's reference. */
static void unlink_obj(gd_cache *c, gd_cache_obj *o)
{
    gd_cache_obj **pp = &c->b[o->hash & c->mask];
    while (*pp && *pp != o) pp = &(*pp)->hnext;
    if (*pp) *pp = o->hnext;
    o->hnext = NULL;
    lru_remove(c, o);
    o->linked = 0;
    c->st.bytes -= o->size;
    c->st.objects--;
    gd_cache_obj_unref(o);
}

static void evict_to_fit(gd_cache *c, const gd_cache_obj *keep)
{
    while (c->st.bytes > c->max_bytes && c->lru_tail && c->lru_tail != keep) {
        unlink_obj(c, c->lru_tail);
        c->st.evicted++;
    }
}

void gd_cache_free(gd_cache *c)
{
    if (c == NULL) return;
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    while (c->lru_head) unlink_obj(c, c->lru_head);
    for (size_t i = 0; i <= c->pmask; i++) {
        pend *e = c->pb[i];
        while (e) {
            pend *next = e->next;
            gd_free(e);
            e = next;
        }
    }
    gd_free(c->pb);
    gd_free(c->b);
    c->magic = 0;
    gd_free(c);
}

void gd_cache_set_max_bytes(gd_cache *c, size_t max_bytes)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    c->max_bytes = max_bytes;
    evict_to_fit(c, NULL);
}

size_t gd_cache_max_obj_bytes(const gd_cache *c)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    return c->max_bytes / 8;
}

const gd_cache_stats *gd_cache_stats_get(const gd_cache *c)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    return &c->st;
}

void gd_cache_note_stale_if_error(gd_cache *c)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    c->st.stale_served++;
}

static int same_key(const gd_cache_obj *o, uint64_t hash, const char *key, size_t keylen)
{
    return o->hash == hash && o->keylen == keylen && memcmp(o->key, key, keylen) == 0;
}

static int vary_match(const gd_cache_obj *o, const gd_http_req *req)
{
    for (int k = 0; k < o->nvary; k++) {
        const struct gd_cache_vary *v = &o->vary[k];
        const char *val = NULL;
        size_t vl = 0;
        for (int i = 0; req && i < req->nheaders; i++) {
            if (ieq(req->headers[i].name, req->headers[i].name_len, v->name, v->nlen)) {
                val = req->headers[i].value;
                vl = req->headers[i].value_len;
                trim(&val, &vl);
                break;
            }
        }
        if ((val != NULL) != v->present) return 0;
        if (val && (vl != v->vlen || memcmp(val, v->val, vl) != 0)) return 0;
    }
    return 1;
}

static int same_vary(const gd_cache_obj *a, const gd_cache_obj *b)
{
    if (a->nvary != b->nvary) return 0;
    for (int k = 0; k < a->nvary; k++) {
        const struct gd_cache_vary *x = &a->vary[k], *y = &b->vary[k];
        if (x->present != y->present || bytes_cmp(x->name, x->nlen, y->name, y->nlen) ||
            bytes_cmp(x->val, x->vlen, y->val, y->vlen))
            return 0;
    }
    return 1;
}

gd_cache_state gd_cache_lookup(gd_cache *c, const char *key, size_t keylen, const gd_http_req *req,
                               double now, gd_cache_obj **out)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    *out = NULL;
    uint64_t hash = hash_bytes(key, keylen);
    gd_cache_obj *o = c->b[hash & c->mask];
    for (; o; o = o->hnext)
        if (same_key(o, hash, key, keylen) && vary_match(o, req)) break;
    if (o == NULL) {
        c->st.misses++;
        return GD_CACHE_MISS;
    }
    if (o != c->lru_head) {
        lru_remove(c, o);
        lru_push_front(c, o);
    }
    o->used = ++c->tick;
    o->refs++;
    *out = o;
    if (now < o->times.fresh_until) {
        c->st.hits++;
        return GD_CACHE_FRESH;
    }
    if (now < o->times.stale_while_revalidate_until) {
        c->st.stale_served++;
        return GD_CACHE_STALE;
    }
    c->st.misses++;
    return now < o->times.stale_if_error_until ? GD_CACHE_STALE_IF_ERROR_ONLY : GD_CACHE_EXPIRED;
}

int gd_cache_insert(gd_cache *c, gd_cache_obj *o)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    if (o->linked) return GD_EEXIST;
    if (o->size > c->max_bytes / 8) return GD_ETOOBIG;
    o->hash = hash_bytes(o->key, o->keylen);
    gd_cache_obj *same = NULL, *oldest = NULL;
    int nvariants = 0;
    for (gd_cache_obj *e = c->b[o->hash & c->mask]; e; e = e->hnext) {
        if (!same_key(e, o->hash, o->key, o->keylen)) continue;
        if (!same && same_vary(e, o)) {
            same = e;
            continue;
        }
        nvariants++;
        if (!oldest || e->used < oldest->used) oldest = e;
    }
    if (same) unlink_obj(c, same);
    if (nvariants >= GD_CACHE_MAX_VARIANTS) {
        unlink_obj(c, oldest);
        c->st.evicted++;
    }
    o->refs++;
    o->linked = 1;
    o->used = ++c->tick;
    o->hnext = c->b[o->hash & c->mask];
    c->b[o->hash & c->mask] = o;
    lru_push_front(c, o);
    c->st.bytes += o->size;
    c->st.objects++;
    c->st.inserted++;
    if (c->st.objects > c->mask + 1) grow(c);
    evict_to_fit(c, o);
    return 0;
}

/* Splits a stored head (built by build(): "Name: value\r\n" lines after the status
 * line) into headers pointing into it. */
static int parse_head(const gd_cache_obj *o, gd_http_header *h, int max)
{
    const char *s = o->head, *end = o->head + o->headlen;
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    s = eol ? eol + 1 : end;
    int n = 0;
    while (s < end && n < max) {
        eol = memchr(s, '\n', (size_t)(end - s));
        const char *e = eol ? eol - 1 : end; /* at the '\r' */
        const char *colon = memchr(s, ':', (size_t)(e - s));
        if (colon) {
            h[n].name = s;
            h[n].name_len = (size_t)(colon - s);
            h[n].value = colon + 2 <= e ? colon + 2 : e;
            h[n].value_len = (size_t)(e - h[n].value);
            n++;
        }
        s = eol ? eol + 1 : end;
    }
    return n;
}

int gd_cache_refresh(gd_cache *c, gd_cache_obj *old, const gd_cache_policy *p,
                     const gd_http_header *h, int nh, double now, gd_cache_obj **out)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    GD_CHECK_OBJ(old, OBJ_MAGIC);
    *out = NULL;
    /* Stored headers not named by the 304, then the 304's storable ones (RFC 9111
     * 3.2 / 4.3.4), then its Date and Age for the TTL (not stored). */
    gd_http_header stored[GD_HTTP_MAX_HEADERS * 4];
    int ns = parse_head(old, stored, GD_HTTP_MAX_HEADERS * 4);
    gd_http_header merged[GD_HTTP_MAX_HEADERS * 5 + 2];
    int n = 0;
    for (int i = 0; i < ns; i++) {
        int replaced = 0;
        for (int k = 0; k < nh && !replaced; k++)
            replaced = !not_stored(h, nh, k) &&
                       ieq(h[k].name, h[k].name_len, stored[i].name, stored[i].name_len);
        if (!replaced) merged[n++] = stored[i];
    }
    const gd_http_header *date = NULL, *age = NULL;
    for (int k = 0; k < nh && n < GD_HTTP_MAX_HEADERS * 5; k++) {
        if (!not_stored(h, nh, k)) merged[n++] = h[k];
        if (hname_is(&h[k], "date") && !date) date = &h[k];
        if (hname_is(&h[k], "age") && !age) age = &h[k];
    }
    int nstore = n;
    if (date) merged[n++] = *date;
    if (age) merged[n++] = *age;
    gd_cache_times t;
    int cacheable = gd_cache_ttl(p, old->status, merged, n, now, &t);
    if (!cacheable) {
        t.fresh_until = t.stale_while_revalidate_until = t.stale_if_error_until = now;
    }
    /* The Vary values the old object was stored under act as the request's headers. */
    gd_http_header reqh[GD_CACHE_MAX_VARY];
    int nreqh = 0;
    for (int k = 0; k < old->nvary; k++) {
        if (!old->vary[k].present) continue;
        reqh[nreqh].name = old->vary[k].name;
        reqh[nreqh].name_len = old->vary[k].nlen;
        reqh[nreqh].value = old->vary[k].val;
        reqh[nreqh].value_len = old->vary[k].vlen;
        nreqh++;
    }
    gd_cache_obj *o;
    int r = build(old->key, old->keylen, old->path, old->pathlen, reqh, nreqh, old->status, merged,
                  nstore, old->body, old->body_len, now, &t, &o);
    if (r) return r;
    c->st.refresh_hits++;
    *out = o;
    if (!old->linked) return 0;
    unlink_obj(c, old);
    if (!cacheable) return 0;
    return gd_cache_insert(c, o) == 0 ? 1 : 0;
}

int gd_cache_invalidate(gd_cache *c, const char *pattern)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    size_t pl = pattern ? strlen(pattern) : 0;
    if (pl == 0 || pattern[0] != '/') return GD_EINVAL;
    const char *star = strchr(pattern, '*');
    if (star && star != pattern + pl - 1) return GD_EINVAL;
    size_t plen = star ? pl - 1 : pl;
    int removed = 0;
    gd_cache_obj *o = c->lru_head;
    while (o) {
        gd_cache_obj *next = o->lru_next;
        int match = star ? o->pathlen >= plen && memcmp(o->path, pattern, plen) == 0
                         : o->pathlen == plen && memcmp(o->path, pattern, plen) == 0;
        if (match) {
            unlink_obj(c, o);
            c->st.invalidated++;
            removed++;
        }
        o = next;
    }
    return removed;
}

/* ---- request collapsing ---- */

static pend **pend_find(gd_cache *c, const char *key, size_t keylen, uint64_t hash)
{
    pend **pp = &c->pb[hash & c->pmask];
    while (*pp && !((*pp)->hash == hash && (*pp)->keylen == keylen &&
                    memcmp((*pp)->key, key, keylen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void pend_grow(gd_cache *c)
{
    size_t nmask = c->pmask * 2 + 1;
    pend **nb = gd_calloc(nmask + 1, sizeof *nb);
    for (size_t i = 0; i <= c->pmask; i++) {
        pend *e = c->pb[i];
        while (e) {
            pend *next = e->next;
            e->next = nb[e->hash & nmask];
            nb[e->hash & nmask] = e;
            e = next;
        }
    }
    gd_free(c->pb);
    c->pb = nb;
    c->pmask = nmask;
}

int gd_cache_pending_begin(gd_cache *c, const char *key, size_t keylen, double now,
                           double lock_timeout)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    uint64_t hash = hash_bytes(key, keylen);
    pend *e = *pend_find(c, key, keylen, hash);
    if (e) {
        if (now < e->until) {
            c->st.collapsed++;
            return 0;
        }
        e->until = now + lock_timeout; /* abandoned: this caller takes over */
        return 1;
    }
    if (c->npend >= MAX_PENDING) return 1;
    e = gd_malloc(sizeof *e + keylen);
    e->hash = hash;
    e->until = now + lock_timeout;
    e->slot = NULL;
    e->keylen = keylen;
    memcpy(e->key, key, keylen);
    e->next = c->pb[hash & c->pmask];
    c->pb[hash & c->pmask] = e;
    if (++c->npend > c->pmask + 1) pend_grow(c);
    return 1;
}

void **gd_cache_pending_slot(gd_cache *c, const char *key, size_t keylen)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    pend *e = *pend_find(c, key, keylen, hash_bytes(key, keylen));
    return e ? &e->slot : NULL;
}

void *gd_cache_pending_end(gd_cache *c, const char *key, size_t keylen)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    pend **pp = pend_find(c, key, keylen, hash_bytes(key, keylen));
    pend *e = *pp;
    if (e == NULL) return NULL;
    *pp = e->next;
    void *slot = e->slot;
    gd_free(e);
    c->npend--;
    return slot;
}
