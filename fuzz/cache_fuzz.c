/* libFuzzer target for the CDN cache core (src/edge/cache_*.c): what an origin and
 * clients control. An input is up to four blocks separated by an empty line:
 *   1. the request's header lines ("Name: value"), its first line the URL;
 *   2. the origin's answer: a status code line, then header lines;
 *   3. a second request (URL line, header lines) looking the object up;
 *   4. a 304's header lines revalidating it.
 * Everything goes through the real functions: key, TTL rules (with heuristic freshness
 * on for odd inputs), object building (Vary normalisation), lookup, conditionals and
 * Range, the 304 checks and update, markers and invalidation. Build and run with
 * fuzz/run cache. */
#include "edge/cache.h"
#include "core/err.h"
#include "core/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "cache_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct block {
    const char *s;
    size_t n;
};

/* Splits "line\nline\n" into its first line (when first is not NULL) and header lines
 * (at most max). */
static int lines(struct block b, struct block *first, gd_http_header *h, int max)
{
    const char *s = b.s, *end = b.s + b.n;
    int n = 0, at = first ? 0 : 1;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        const char *e = eol ? eol : end;
        if (at++ == 0) {
            *first = (struct block){s, (size_t)(e - s)};
        } else if (n < max) {
            const char *colon = memchr(s, ':', (size_t)(e - s));
            if (colon && colon > s) {
                const char *v = colon + 1;
                while (v < e && *v == ' ') v++;
                h[n++] = (gd_http_header){s, (size_t)(colon - s), v, (size_t)(e - v)};
            }
        }
        s = eol ? eol + 1 : end;
    }
    return n;
}

static void mkreq(gd_http_req *r, struct block b)
{
    memset(r, 0, sizeof *r);
    struct block url = {"/", 1};
    r->nheaders = lines(b, &url, r->headers, GD_HTTP_MAX_HEADERS);
    if (url.n == 0 || url.s[0] != '/') url = (struct block){"/", 1};
    r->method = HTTP_GET;
    r->url = url.s;
    r->url_len = url.n;
    const char *q = memchr(url.s, '?', url.n);
    r->path = url.s;
    r->path_len = q ? (size_t)(q - url.s) : url.n;
    r->query = q ? q + 1 : NULL;
    r->query_len = q ? url.n - r->path_len - 1 : 0;
}

static const gd_http_header *find(const gd_http_req *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == strlen(name) &&
            !strncasecmp(r->headers[i].name, name, r->headers[i].name_len))
            return &r->headers[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct block b[4] = {{"", 0}, {"", 0}, {"", 0}, {"", 0}};
    const char *s = (const char *)data, *end = s + size;
    for (int i = 0; i < 4 && s <= end; i++) {
        const char *sep = i < 3 ? memmem(s, (size_t)(end - s), "\n\n", 2) : NULL;
        const char *e = sep ? sep : end;
        b[i] = (struct block){s, (size_t)(e - s)};
        if (!sep) break;
        s = sep + 2;
    }
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    p.heuristic = size % 2 ? 0.1 : 0;
    p.default_ttl = size % 3 ? 86400 : 0;
    gd_cache *c = gd_cache_new(1 << 20);
    gd_http_req r1, r2;
    mkreq(&r1, b[0]);
    mkreq(&r2, b[2]);
    gd_buf key;
    gd_buf_init(&key, 16384);
    gd_http_header rh[GD_HTTP_MAX_HEADERS];
    struct block st = {"200", 3};
    int nrh = lines(b[1], &st, rh, GD_HTTP_MAX_HEADERS);
    int status = 0;
    for (size_t i = 0; i < st.n && i < 4 && st.s[i] >= '0' && st.s[i] <= '9'; i++)
        status = status * 10 + (st.s[i] - '0');
    if (gd_cache_key(&p, &r1, &key) == 0) {
        gd_cache_times t;
        if (gd_cache_ttl_after(&p, status, rh, nrh, 1000, 3, &t)) {
            CHECK(t.ttl >= 0 && t.fresh_until >= 1000 && t.age >= 3);
            CHECK(t.stale_while_revalidate_until >= t.fresh_until);
            CHECK(t.stale_if_error_until >= t.fresh_until);
            static const char body[] = "0123456789abcdefghij";
            gd_cache_obj *o = NULL;
            if (gd_cache_obj_new(key.data, key.len, &r1, status, rh, nrh, body, size % 21, 1000, &t,
                                 &o) == 0) {
                CHECK(gd_cache_insert(c, o) == 0 || o->size > (1 << 20) / 8);
                gd_buf k2;
                gd_buf_init(&k2, 16384);
                gd_cache_obj *f = NULL;
                if (gd_cache_key(&p, &r2, &k2) == 0) {
                    gd_cache_state stt = gd_cache_lookup(c, k2.data, k2.len, &r2, 1001, &f);
                    CHECK((stt == GD_CACHE_MISS) == (f == NULL));
                }
                const gd_http_header *inm = find(&r2, "if-none-match"),
                                     *ims = find(&r2, "if-modified-since"),
                                     *rg = find(&r2, "range"), *ir = find(&r2, "if-range");
                int nm = gd_cache_not_modified(o, inm ? inm->value : NULL, inm ? inm->value_len : 0,
                                               ims ? ims->value : NULL, ims ? ims->value_len : 0);
                CHECK(nm == 0 || nm == 1);
                size_t first = 0, last = 0;
                int rr = gd_cache_byte_range(o, rg ? rg->value : NULL, rg ? rg->value_len : 0,
                                             ir ? ir->value : NULL, ir ? ir->value_len : 0, &first,
                                             &last);
                if (rr == GD_CACHE_RANGE_PART) CHECK(first <= last && last < o->body_len);
                gd_http_header h304[GD_HTTP_MAX_HEADERS];
                int n304 = lines(b[3], NULL, h304, GD_HTTP_MAX_HEADERS);
                int vm = gd_cache_validators_match(o, h304, n304);
                CHECK(vm == 0 || vm == 1);
                gd_cache_obj *fresh = NULL;
                int rf = gd_cache_refresh(c, o, &p, h304, n304, 1500, 1, &fresh);
                CHECK(rf < 0 ? fresh == NULL : fresh != NULL);
                if (fresh) CHECK(fresh->body_len == o->body_len);
                gd_cache_obj_unref(fresh);
                gd_cache_obj_unref(f);
                gd_cache_insert_pass(c, key.data, key.len, r1.path, r1.path_len, 1600, 120);
                gd_cache_invalidate_path(c, r1.path, r1.path_len);
                CHECK(gd_cache_stats_get(c)->objects == 0 || gd_cache_stats_get(c)->objects < 4);
                gd_buf_free(&k2);
                gd_cache_obj_unref(o);
            }
        }
    }
    gd_buf_free(&key);
    gd_cache_free(c);
    gd_cache_policy_free(&p);
    return 0;
}
