/* Unit tests for src/edge/cache.c: behaviour parsing, cache keys, the TTL rules, and the
 * store (lookup states, Vary, LRU under a cap, invalidation, refcounts, collapsing, 304). */
#include <criterion/criterion.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "edge/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ---- */

/* Fills headers from "Name: value" literals (pointers into the literals). */
static int mkh(gd_http_header *h, const char *const *lines)
{
    int n = 0;
    for (; lines && lines[n]; n++) {
        const char *colon = strchr(lines[n], ':');
        cr_assert_not_null(colon, "header line without ':': %s", lines[n]);
        h[n].name = lines[n];
        h[n].name_len = (size_t)(colon - lines[n]);
        h[n].value = colon + 1 + (colon[1] == ' ');
        h[n].value_len = strlen(h[n].value);
    }
    return n;
}

static void mkreq(gd_http_req *r, int method, const char *url, const char *const *hdrs)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->url = url;
    r->url_len = strlen(url);
    const char *q = strchr(url, '?');
    r->path = url;
    r->path_len = q ? (size_t)(q - url) : r->url_len;
    r->query = q ? q + 1 : NULL;
    r->query_len = q ? r->url_len - r->path_len - 1 : 0;
    r->nheaders = mkh(r->headers, hdrs);
}

static gd_cache_policy parse_ok(const char *js)
{
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    cr_assert_not_null(j, "bad test JSON %s: %s", js, je.text);
    gd_cache_policy p;
    char err[256];
    int r = gd_cache_policy_parse(j, &p, err, sizeof err);
    json_decref(j);
    cr_assert_eq(r, 0, "parse of %s failed: %s", js, err);
    return p;
}

static void parse_err(const char *js, const char *want)
{
    json_t *j = json_loads(js, 0, NULL);
    cr_assert_not_null(j, "bad test JSON %s", js);
    gd_cache_policy p;
    char err[256];
    int r = gd_cache_policy_parse(j, &p, err, sizeof err);
    json_decref(j);
    cr_assert_eq(r, GD_EINVAL, "%s: expected GD_EINVAL, got %d", js, r);
    cr_assert_not_null(strstr(err, want), "%s: error \"%s\" should contain \"%s\"", js, err, want);
    cr_assert_null(p.path, "a failed parse must leave the policy empty");
    gd_cache_policy_free(&p);
}

/* The key of url+headers under the policy given as JSON, as a C string in out. */
static void key_of(const char *policy, int method, const char *url, const char *const *hdrs,
                   char *out, size_t outlen)
{
    gd_cache_policy p = parse_ok(policy);
    gd_http_req r;
    mkreq(&r, method, url, hdrs);
    gd_buf b;
    gd_buf_init(&b, 4096);
    int rc = gd_cache_key(&p, &r, &b);
    cr_assert_eq(rc, 0, "gd_cache_key(%s) = %d", url, rc);
    snprintf(out, outlen, "%.*s", (int)b.len, b.data);
    gd_buf_free(&b);
    gd_cache_policy_free(&p);
}

#define EXPECT_KEY(policy, method, url, hdrs, want)                                                \
    do {                                                                                           \
        char got_[512];                                                                            \
        key_of(policy, method, url, hdrs, got_, sizeof got_);                                      \
        cr_assert_str_eq(got_, want, "key of %s under %s: got %s, expected %s", url, policy, got_, \
                         want);                                                                    \
    } while (0)

static long live0;

static void mem_setup(void)
{
    live0 = gd_mem_live();
}

static void mem_check(void)
{
    cr_assert_eq(gd_mem_live(), live0, "leaked %ld gd_ allocations", gd_mem_live() - live0);
}

/* An object for url (Host ex.com, default policy key) answered with headers/body. */
static gd_cache_obj *obj_for(const char *url, const char *const *req_hdrs,
                             const char *const *resp_hdrs, const char *body, double now, double ttl,
                             double swr, double sie)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    const char *const dflt[] = {"Host: ex.com", NULL};
    gd_http_req r;
    mkreq(&r, HTTP_GET, url, req_hdrs ? req_hdrs : dflt);
    gd_buf k;
    gd_buf_init(&k, 4096);
    cr_assert_eq(gd_cache_key(&p, &r, &k), 0);
    gd_http_header h[16];
    int nh = mkh(h, resp_hdrs);
    gd_cache_times t = {.ttl = ttl,
                        .fresh_until = now + ttl,
                        .stale_while_revalidate_until = now + ttl + swr,
                        .stale_if_error_until = now + ttl + sie};
    gd_cache_obj *o = NULL;
    int rc = gd_cache_obj_new(k.data, k.len, &r, 200, h, nh, body, strlen(body), now, &t, &o);
    cr_assert_eq(rc, 0, "gd_cache_obj_new(%s) = %d", url, rc);
    gd_buf_free(&k);
    gd_cache_policy_free(&p);
    return o;
}

static void insert_new(gd_cache *c, const char *url, const char *body, double now, double ttl)
{
    gd_cache_obj *o = obj_for(url, NULL, NULL, body, now, ttl, 0, 0);
    cr_assert_eq(gd_cache_insert(c, o), 0, "insert %s", url);
    gd_cache_obj_unref(o);
}

/* Looks url up (Host ex.com, default policy); returns the state, body copied to body. */
static gd_cache_state look(gd_cache *c, const char *url, const char *const *hdrs, double now,
                           char *body, size_t bodylen)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    const char *const dflt[] = {"Host: ex.com", NULL};
    gd_http_req r;
    mkreq(&r, HTTP_GET, url, hdrs ? hdrs : dflt);
    gd_buf k;
    gd_buf_init(&k, 4096);
    cr_assert_eq(gd_cache_key(&p, &r, &k), 0);
    gd_cache_obj *o = NULL;
    gd_cache_state s = gd_cache_lookup(c, k.data, k.len, &r, now, &o);
    if (body) snprintf(body, bodylen, "%.*s", o ? (int)o->body_len : 0, o ? o->body : "");
    if (s == GD_CACHE_MISS || s == GD_CACHE_PASS)
        cr_assert_null(o, "MISS and PASS must not hand out an object");
    else
        cr_assert_not_null(o, "state %d must hand out an object", s);
    gd_cache_obj_unref(o);
    gd_buf_free(&k);
    gd_cache_policy_free(&p);
    return s;
}

static const char *state_name(gd_cache_state s)
{
    static const char *const n[] = {"MISS",    "FRESH", "STALE", "STALE_IF_ERROR_ONLY",
                                    "EXPIRED", "PASS"};
    return (unsigned)s < 6 ? n[s] : "?";
}

#define EXPECT_STATE(call, want, ...)                                                              \
    do {                                                                                           \
        gd_cache_state got_ = (call);                                                              \
        cr_assert_eq(got_, want, "%s: got %s, expected %s " __VA_ARGS__, #call, state_name(got_),  \
                     state_name(want));                                                            \
    } while (0)

/* ---- policy ---- */

TestSuite(policy, .init = mem_setup, .fini = mem_check);

Test(policy, defaults_from_empty_object)
{
    gd_cache_policy p = parse_ok("{}");
    cr_assert_str_eq(p.path, "*");
    cr_assert_eq(p.qs, GD_CACHE_QS_NONE);
    cr_assert_eq(p.headers.n, 0);
    cr_assert_eq(p.cookies.n, 0);
    cr_assert_float_eq(p.min_ttl, 0, 1e-9);
    cr_assert_float_eq(p.default_ttl, 86400, 1e-9);
    cr_assert_float_eq(p.max_ttl, 31536000, 1e-9);
    cr_assert_float_eq(p.error_ttl, 10, 1e-9);
    cr_assert_float_eq(p.stale_while_revalidate, 0, 1e-9);
    cr_assert_float_eq(p.stale_if_error, 0, 1e-9);
    cr_assert_float_eq(p.lock_timeout, 5, 1e-9);
    gd_cache_policy_free(&p);
}

Test(policy, full_behaviour)
{
    gd_cache_policy p = parse_ok(
        "{\"path\":\"images/*.jpg\",\"query_strings\":{\"except\":[\"utm_source\",\"fbclid\","
        "\"utm_source\"]},\"headers\":[\"Accept-Language\",\"X-Device\"],\"cookies\":[\"lang\"],"
        "\"min_ttl\":1,\"default_ttl\":60,\"max_ttl\":600,\"error_caching_min_ttl\":0,"
        "\"stale_if_error\":300,\"stale_while_revalidate\":30,\"lock_timeout\":2.5}");
    cr_assert_str_eq(p.path, "/images/*.jpg", "a pattern without a leading / gets one");
    cr_assert_eq(p.qs, GD_CACHE_QS_EXCEPT);
    cr_assert_eq(p.qs_names.n, 2, "duplicates are dropped: got %d names", p.qs_names.n);
    cr_assert_str_eq(p.qs_names.v[0].s, "fbclid", "names are sorted");
    cr_assert_str_eq(p.qs_names.v[1].s, "utm_source");
    cr_assert_eq(p.headers.n, 2);
    cr_assert_str_eq(p.headers.v[0].s, "accept-language", "header names are lowercased");
    cr_assert_str_eq(p.headers.v[1].s, "x-device");
    cr_assert_str_eq(p.cookies.v[0].s, "lang");
    cr_assert_float_eq(p.min_ttl, 1, 1e-9);
    cr_assert_float_eq(p.default_ttl, 60, 1e-9);
    cr_assert_float_eq(p.max_ttl, 600, 1e-9);
    cr_assert_float_eq(p.error_ttl, 0, 1e-9);
    cr_assert_float_eq(p.stale_if_error, 300, 1e-9);
    cr_assert_float_eq(p.stale_while_revalidate, 30, 1e-9);
    cr_assert_float_eq(p.lock_timeout, 2.5, 1e-9);
    gd_cache_policy_free(&p);
    gd_cache_policy_free(&p); /* a second free is harmless */

    p = parse_ok("{\"query_strings\":\"all\"}");
    cr_assert_eq(p.qs, GD_CACHE_QS_ALL);
    gd_cache_policy_free(&p);
    p = parse_ok("{\"query_strings\":{\"include\":[\"v\"]}}");
    cr_assert_eq(p.qs, GD_CACHE_QS_INCLUDE);
    cr_assert_str_eq(p.qs_names.v[0].s, "v");
    gd_cache_policy_free(&p);
}

Test(policy, errors_name_the_field_and_what_is_allowed)
{
    parse_err("[]", "behavior: expected an object");
    parse_err("{\"query_strings\":\"some\"}", "behavior.query_strings: \"some\" is not a mode");
    parse_err("{\"query_strings\":\"some\"}", "\"none\", \"all\", {\"include\":[names]}");
    parse_err("{\"query_strings\":{\"only\":[\"a\"]}}", "behavior.query_strings: unknown key");
    parse_err("{\"query_strings\":{\"include\":[]}}", "behavior.query_strings.include: empty");
    parse_err("{\"query_strings\":7}", "behavior.query_strings: allowed");
    parse_err("{\"headers\":\"accept\"}", "behavior.headers: expected an array of header names");
    parse_err("{\"headers\":[\"bad name\"]}", "behavior.headers[0]: \"bad name\" has a character");
    parse_err("{\"cookies\":[1]}", "behavior.cookies[0]: expected a string");
    parse_err("{\"cookies\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]}",
              "behavior.cookies: 11 names; at most 10");
    parse_err("{\"min_ttl\":-1}", "behavior.min_ttl: expected a number of seconds from 0");
    parse_err("{\"max_ttl\":\"1d\"}", "behavior.max_ttl: expected a number of seconds");
    parse_err("{\"min_ttl\":100,\"default_ttl\":50}",
              "behavior.min_ttl: 100 is above default_ttl 50; allowed: min_ttl <= default_ttl");
    parse_err("{\"max_ttl\":10}", "behavior.default_ttl: 86400 is above max_ttl 10");
    parse_err("{\"defualt_ttl\":10}", "behavior.defualt_ttl: unknown field; allowed: path");
    parse_err("{\"path\":\"\"}", "behavior.path: expected a path pattern");
    parse_err("{\"path\":\"/a b\"}", "behavior.path: a space or control character at byte 2");
}

Test(policy, path_patterns)
{
    static const struct {
        const char *pat, *path;
        int want;
    } rows[] = {
        {"*", "/", 1},
        {"*", "/anything/at/all.html", 1},
        {"/images/*.jpg", "/images/a.jpg", 1},
        {"/images/*.jpg", "/images/sub/dir/a.jpg", 1},
        {"/images/*.jpg", "/images/a.png", 0},
        {"/images/*.jpg", "/images/a.jpg.png", 0},
        {"/images/*.jpg", "/img/a.jpg", 0},
        {"images/*.jpg", "/images/a.jpg", 1},
        {"/a?c", "/abc", 1},
        {"/a?c", "/ac", 0},
        {"/api/*", "/api/", 1},
        {"/api/*", "/api", 0},
        {"/exact", "/exact", 1},
        {"/exact", "/exact/", 0},
        {"/Case", "/case", 0},
        {"*.css", "/x/y.css", 1},
        {"/a*b*c", "/aXXbYYc", 1},
        {"/a*b*c", "/aXXbYY", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = gd_cache_path_match(rows[i].pat, rows[i].path, strlen(rows[i].path));
        cr_assert_eq(got, rows[i].want, "match(%s, %s) = %d, expected %d", rows[i].pat,
                     rows[i].path, got, rows[i].want);
    }
}

/* ---- keys ---- */

TestSuite(key, .init = mem_setup, .fini = mem_check);

Test(key, none_drops_the_query_and_lowercases_host)
{
    const char *const h[] = {"Host: Ex.COM", NULL};
    EXPECT_KEY("{}", HTTP_GET, "/p?b=2&a=1", h, "GET|6:ex.com2:/p");
    EXPECT_KEY("{}", HTTP_GET, "/p", h, "GET|6:ex.com2:/p");
    EXPECT_KEY("{}", HTTP_HEAD, "/p", h, "GET|6:ex.com2:/p");
    EXPECT_KEY("{}", HTTP_POST, "/p", h, "POST|6:ex.com2:/p");
    EXPECT_KEY("{}", HTTP_GET, "/p", NULL, "GET|0:2:/p");
}

Test(key, all_sorts_parameters_by_name_then_value)
{
    const char *const h[] = {"Host: ex.com", NULL};
    const char *pol = "{\"query_strings\":\"all\"}";
    EXPECT_KEY(pol, HTTP_GET, "/p?b=2&a=1", h, "GET|6:ex.com2:/pq1:a1:1q1:b1:2");
    EXPECT_KEY(pol, HTTP_GET, "/p?a=1&b=2", h, "GET|6:ex.com2:/pq1:a1:1q1:b1:2");
    EXPECT_KEY(pol, HTTP_GET, "/p?a=2&a=1&&a=10", h, "GET|6:ex.com2:/pq1:a1:1q1:a2:10q1:a1:2");
    EXPECT_KEY(pol, HTTP_GET, "/p?flag&flag=", h, "GET|6:ex.com2:/pq4:flag-q4:flag0:");
    EXPECT_KEY(pol, HTTP_GET, "/p?", h, "GET|6:ex.com2:/p");
}

Test(key, include_and_except)
{
    const char *const h[] = {"Host: ex.com", NULL};
    EXPECT_KEY("{\"query_strings\":{\"include\":[\"v\",\"id\"]}}", HTTP_GET,
               "/p?utm_source=x&v=3&id=9&V=1", h, "GET|6:ex.com2:/pq2:id1:9q1:v1:3");
    EXPECT_KEY("{\"query_strings\":{\"except\":[\"utm_source\"]}}", HTTP_GET,
               "/p?utm_source=x&v=3&id=9", h, "GET|6:ex.com2:/pq2:id1:9q1:v1:3");
    EXPECT_KEY("{\"query_strings\":{\"except\":[\"utm_source\"]}}", HTTP_GET, "/p?utm_source=x", h,
               "GET|6:ex.com2:/p");
}

Test(key, headers_and_cookies)
{
    const char *pol = "{\"headers\":[\"X-Device\",\"Accept-Language\"],\"cookies\":[\"lang\","
                      "\"id\"]}";
    const char *const h1[] = {"host: ex.com", "ACCEPT-LANGUAGE:  fr-CA ", "Cookie: a=1; lang=fr",
                              "cookie: id=42; lang=de", NULL};
    EXPECT_KEY(pol, HTTP_GET, "/", h1,
               "GET|6:ex.com1:/h15:accept-language5:fr-CAh8:x-device-c2:id2:42c4:lang2:fr");
    const char *const h2[] = {"Host: ex.com", "X-Device: a", "x-device: b", NULL};
    EXPECT_KEY(pol, HTTP_GET, "/", h2,
               "GET|6:ex.com1:/h15:accept-language-h8:x-device1:a1:bc2:id-c4:lang-");
    const char *const h3[] = {"Host: ex.com", "Cookie: language=en; xlang=1", NULL};
    EXPECT_KEY("{\"cookies\":[\"lang\"]}", HTTP_GET, "/", h3, "GET|6:ex.com1:/c4:lang-");
}

Test(key, parts_cannot_run_together)
{
    /* Without length prefixes these pairs would give the same bytes. */
    char a[256], b[256];
    const char *const h1[] = {"Host: ex.com", "X-A: 1h3:x-b1:2", NULL};
    const char *const h2[] = {"Host: ex.com", "X-A: 1", "X-B: 2", NULL};
    const char *pol = "{\"headers\":[\"x-a\",\"x-b\"]}";
    key_of(pol, HTTP_GET, "/", h1, a, sizeof a);
    key_of(pol, HTTP_GET, "/", h2, b, sizeof b);
    cr_assert_str_neq(a, b, "keys must differ: %s", a);
    const char *const h3[] = {"Host: ex.com2:/x", NULL};
    const char *const h4[] = {"Host: ex.com", NULL};
    key_of("{}", HTTP_GET, "/", h3, a, sizeof a);
    key_of("{}", HTTP_GET, "/x", h4, b, sizeof b);
    cr_assert_str_neq(a, b, "keys must differ: %s", a);
}

Test(key, too_many_parameters_and_too_long)
{
    gd_cache_policy p = parse_ok("{\"query_strings\":\"all\"}");
    static char url[4096];
    int n = snprintf(url, sizeof url, "/p?");
    for (int i = 0; i <= GD_CACHE_MAX_QUERY_PARAMS; i++)
        n += snprintf(url + n, sizeof url - (size_t)n, "k%d=%d&", i, i);
    gd_http_req r;
    mkreq(&r, HTTP_GET, url, NULL);
    gd_buf b;
    gd_buf_init(&b, 65536);
    cr_assert_eq(gd_cache_key(&p, &r, &b), GD_ETOOBIG, "129 parameters must be refused");
    cr_assert_eq(b.len, 0, "a refused key leaves the buffer empty");
    gd_buf_free(&b);
    gd_buf_init(&b, 16);
    mkreq(&r, HTTP_GET, "/a/rather/long/path", NULL);
    cr_assert_eq(gd_cache_key(&p, &r, &b), GD_ETOOBIG, "a key over the buffer max is refused");
    gd_buf_free(&b);
    gd_cache_policy_free(&p);
}

Test(key, allocates_nothing_once_the_buffer_has_grown)
{
    gd_cache_policy p =
        parse_ok("{\"query_strings\":\"all\",\"headers\":[\"accept\"],\"cookies\":[\"c\"]}");
    const char *const h[] = {"Host: ex.com", "Accept: */*", "Cookie: c=1", NULL};
    gd_http_req r;
    mkreq(&r, HTTP_GET, "/p?z=1&y=2&x=3", h);
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_cache_key(&p, &r, &b), 0);
    long before = gd_mem_live();
    for (int i = 0; i < 100; i++) cr_assert_eq(gd_cache_key(&p, &r, &b), 0);
    cr_assert_eq(gd_mem_live(), before, "gd_cache_key allocated %ld blocks",
                 gd_mem_live() - before);
    gd_buf_free(&b);
    gd_cache_policy_free(&p);
}

/* ---- TTL rules ---- */

#define DATE "Date: Sun, 06 Nov 1994 08:49:37 GMT"
#define DF -1 /* policy value left at its default */

typedef struct ttl_row {
    const char *name;
    int status;
    const char *hdr[6];
    double min, def, max, err_ttl, swr, sie; /* DF: default */
    int cacheable;
    double ttl, swr_len, sie_len;
    unsigned flags; /* all of these must be set */
} ttl_row;

static const ttl_row ttl_rows[] = {
    {"no headers: default_ttl",
     200,
     {NULL},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     86400,
     0,
     0,
     GD_CACHE_T_DEFAULT},
    {"max-age",
     200,
     {"Cache-Control: public, max-age=60"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     60,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"s-maxage wins over max-age",
     200,
     {"Cache-Control: max-age=60, s-maxage=30"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     30,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"Expires minus Date",
     200,
     {DATE, "Expires: Sun, 06 Nov 1994 08:59:37 GMT"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     600,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"Expires in RFC 850 form",
     200,
     {DATE, "Expires: Sunday, 06-Nov-94 09:49:37 GMT"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     3600,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"Expires in asctime form",
     200,
     {DATE, "Expires: Sun Nov  6 08:50:37 1994"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     60,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"max-age beats Expires",
     200,
     {DATE, "Expires: Sun, 06 Nov 1994 09:49:37 GMT", "Cache-Control: max-age=5"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     5,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"Expires in the past",
     200,
     {DATE, "Expires: Sun, 06 Nov 1994 08:00:00 GMT"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     0,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"invalid Expires is expired",
     200,
     {"Expires: 0"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     0,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"Age is subtracted",
     200,
     {"Cache-Control: max-age=100", "Age: 30"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     70,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"no-store",
     200,
     {"Cache-Control: no-store, max-age=60"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     0,
     0,
     0,
     0,
     0},
    {"private", 200, {"Cache-Control: private"}, DF, DF, DF, DF, DF, DF, 0, 0, 0, 0, 0},
    {"no-cache: stored, revalidated every time",
     200,
     {"Cache-Control: no-cache, max-age=60"},
     DF,
     DF,
     DF,
     DF,
     30,
     30,
     1,
     0,
     0,
     0,
     GD_CACHE_T_NO_CACHE | GD_CACHE_T_NO_STALE},
    {"min_ttl raises max-age",
     200,
     {"Cache-Control: max-age=10"},
     100,
     200,
     DF,
     DF,
     DF,
     DF,
     1,
     100,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"max_ttl caps max-age",
     200,
     {"Cache-Control: max-age=5000"},
     DF,
     10,
     1000,
     DF,
     DF,
     DF,
     1,
     1000,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"max_ttl does not cap default_ttl",
     200,
     {NULL},
     DF,
     1000,
     1000,
     DF,
     DF,
     DF,
     1,
     1000,
     0,
     0,
     GD_CACHE_T_DEFAULT},
    {"min_ttl > 0 overrides no-store",
     200,
     {"Cache-Control: no-store"},
     30,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     30,
     0,
     0,
     GD_CACHE_T_MIN_OVERRIDE | GD_CACHE_T_NO_STALE},
    {"min_ttl > 0 overrides private",
     200,
     {"Cache-Control: private, max-age=600"},
     30,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     30,
     0,
     0,
     GD_CACHE_T_MIN_OVERRIDE},
    {"min_ttl > 0 overrides no-cache",
     200,
     {"Cache-Control: no-cache"},
     30,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     30,
     0,
     0,
     GD_CACHE_T_MIN_OVERRIDE},
    {"stale windows from Cache-Control",
     200,
     {"Cache-Control: max-age=10, stale-while-revalidate=20, stale-if-error=100"},
     DF,
     DF,
     DF,
     DF,
     1,
     2,
     1,
     10,
     20,
     100,
     GD_CACHE_T_ORIGIN},
    {"stale windows from the policy",
     200,
     {"Cache-Control: max-age=10"},
     DF,
     DF,
     DF,
     DF,
     7,
     70,
     1,
     10,
     7,
     70,
     GD_CACHE_T_ORIGIN},
    {"must-revalidate forbids stale",
     200,
     {"Cache-Control: max-age=10, must-revalidate, stale-if-error=100"},
     DF,
     DF,
     DF,
     DF,
     7,
     70,
     1,
     10,
     0,
     0,
     GD_CACHE_T_NO_STALE},
    {"proxy-revalidate forbids stale",
     200,
     {"Cache-Control: max-age=10, proxy-revalidate"},
     DF,
     DF,
     DF,
     DF,
     7,
     70,
     1,
     10,
     0,
     0,
     GD_CACHE_T_NO_STALE},
    {"Vary: * is never cached", 200, {"Vary: Accept, *"}, DF, DF, DF, DF, DF, DF, 0, 0, 0, 0, 0},
    {"Set-Cookie is cacheable",
     200,
     {"Set-Cookie: s=1"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     86400,
     0,
     0,
     GD_CACHE_T_SET_COOKIE},
    {"203", 203, {NULL}, DF, DF, DF, DF, DF, DF, 1, 86400, 0, 0, GD_CACHE_T_DEFAULT},
    {"301", 301, {NULL}, DF, DF, DF, DF, DF, DF, 1, 86400, 0, 0, GD_CACHE_T_DEFAULT},
    {"410", 410, {NULL}, DF, DF, DF, DF, DF, DF, 1, 86400, 0, 0, GD_CACHE_T_DEFAULT},
    {"201 is not cached",
     201,
     {"Cache-Control: max-age=60"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     0,
     0,
     0,
     0,
     0},
    {"206 is not cached",
     206,
     {"Cache-Control: max-age=60"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     0,
     0,
     0,
     0,
     0},
    {"304 is not cached", 304, {NULL}, DF, DF, DF, DF, DF, DF, 0, 0, 0, 0, 0},
    {"416 is not cached", 416, {NULL}, DF, DF, DF, DF, DF, DF, 0, 0, 0, 0, 0},
    {"307 without Cache-Control", 307, {NULL}, DF, DF, DF, DF, DF, DF, 0, 0, 0, 0, 0},
    {"307 with Cache-Control",
     307,
     {"Cache-Control: max-age=5"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     5,
     0,
     0,
     GD_CACHE_T_ORIGIN},
    {"404: error TTL 10 s",
     404,
     {NULL},
     DF,
     DF,
     DF,
     DF,
     30,
     30,
     1,
     10,
     0,
     0,
     GD_CACHE_T_ERROR | GD_CACHE_T_NO_STALE},
    {"404: a longer max-age wins",
     404,
     {"Cache-Control: max-age=60"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     60,
     0,
     0,
     GD_CACHE_T_ERROR | GD_CACHE_T_ORIGIN},
    {"404: a shorter max-age loses",
     404,
     {"Cache-Control: max-age=2"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     10,
     0,
     0,
     GD_CACHE_T_ERROR},
    {"404: max-age capped at max_ttl",
     404,
     {"Cache-Control: max-age=900"},
     DF,
     100,
     100,
     DF,
     DF,
     DF,
     1,
     100,
     0,
     0,
     GD_CACHE_T_ERROR},
    {"503 with no-store: still the error TTL",
     503,
     {"Cache-Control: no-store"},
     DF,
     DF,
     DF,
     DF,
     DF,
     DF,
     1,
     10,
     0,
     0,
     GD_CACHE_T_ERROR},
    {"404 with error TTL 0", 404, {NULL}, DF, DF, DF, 0, DF, DF, 0, 0, 0, 0, 0},
};

Test(ttl, table)
{
    const double now = 1000;
    for (size_t i = 0; i < sizeof ttl_rows / sizeof ttl_rows[0]; i++) {
        const ttl_row *row = &ttl_rows[i];
        gd_cache_policy p;
        gd_cache_policy_default(&p);
        if (row->min != DF) p.min_ttl = row->min;
        if (row->def != DF) p.default_ttl = row->def;
        if (row->max != DF) p.max_ttl = row->max;
        if (row->err_ttl != DF) p.error_ttl = row->err_ttl;
        if (row->swr != DF) p.stale_while_revalidate = row->swr;
        if (row->sie != DF) p.stale_if_error = row->sie;
        gd_http_header h[8];
        int nh = mkh(h, row->hdr);
        gd_cache_times t;
        int got = gd_cache_ttl(&p, row->status, h, nh, now, &t);
        cr_assert_eq(got, row->cacheable, "%s: cacheable %d, expected %d", row->name, got,
                     row->cacheable);
        if (got) {
            cr_assert_float_eq(t.ttl, row->ttl, 1e-6, "%s: ttl %g, expected %g", row->name, t.ttl,
                               row->ttl);
            cr_assert_float_eq(t.fresh_until, now + row->ttl, 1e-6, "%s: fresh_until %g", row->name,
                               t.fresh_until);
            cr_assert_float_eq(t.stale_while_revalidate_until - t.fresh_until, row->swr_len, 1e-6,
                               "%s: stale-while-revalidate %g, expected %g", row->name,
                               t.stale_while_revalidate_until - t.fresh_until, row->swr_len);
            cr_assert_float_eq(t.stale_if_error_until - t.fresh_until, row->sie_len, 1e-6,
                               "%s: stale-if-error %g, expected %g", row->name,
                               t.stale_if_error_until - t.fresh_until, row->sie_len);
            cr_assert_eq(t.flags & row->flags, row->flags, "%s: flags 0x%x lack 0x%x", row->name,
                         t.flags, row->flags);
        }
        gd_cache_policy_free(&p);
    }
}

Test(ttl, expires_without_date_uses_the_wall_clock)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    char exp[64];
    time_t later = time(NULL) + 3600;
    struct tm tm;
    gmtime_r(&later, &tm);
    strftime(exp, sizeof exp, "Expires: %a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *const lines[] = {exp, NULL};
    gd_http_header h[2];
    int nh = mkh(h, lines);
    gd_cache_times t;
    cr_assert_eq(gd_cache_ttl(&p, 200, h, nh, 0, &t), 1);
    cr_assert(t.ttl > 3590 && t.ttl <= 3600, "ttl %g, expected about 3600", t.ttl);
    gd_cache_policy_free(&p);
}

Test(ttl, age_on_arrival_counts_the_response_delay)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    const char *const lines[] = {"Cache-Control: max-age=100", "Age: 30", NULL};
    gd_http_header h[4];
    int nh = mkh(h, lines);
    gd_cache_times t;
    /* RFC 9111 4.2.3: corrected_age_value = Age + response_delay. */
    cr_assert_eq(gd_cache_ttl_after(&p, 200, h, nh, 500, 4, &t), 1);
    cr_assert_float_eq(t.age, 34, 1e-9, "age %g, expected 30 + 4", t.age);
    cr_assert_float_eq(t.ttl, 66, 1e-9, "ttl %g, expected 100 - 34", t.ttl);
    cr_assert_float_eq(t.fresh_until, 566, 1e-9);
    /* Without an origin TTL the age is still reported but default_ttl is whole. */
    const char *const bare[] = {"Age: 30", NULL};
    nh = mkh(h, bare);
    cr_assert_eq(gd_cache_ttl_after(&p, 200, h, nh, 500, 4, &t), 1);
    cr_assert_float_eq(t.age, 34, 1e-9);
    cr_assert_float_eq(t.ttl, 86400, 1e-9);
    gd_cache_policy_free(&p);
}

Test(ttl, authorization_needs_an_explicit_permission)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    static const struct {
        const char *cc;
        int ok;
    } rows[] = {{"Cache-Control: max-age=60", 0},
                {"Cache-Control: public, max-age=60", 1},
                {"Cache-Control: s-maxage=60", 1},
                {"Cache-Control: must-revalidate, max-age=60", 1},
                {"Cache-Control: proxy-revalidate, max-age=60", 0}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *const lines[] = {rows[i].cc, NULL};
        gd_http_header h[2];
        int nh = mkh(h, lines);
        gd_cache_times t;
        cr_assert_eq(gd_cache_ttl(&p, 200, h, nh, 0, &t), 1, "%s", rows[i].cc);
        cr_assert_eq(!!(t.flags & GD_CACHE_T_AUTH_OK), rows[i].ok, "%s: AUTH_OK %d", rows[i].cc,
                     !!(t.flags & GD_CACHE_T_AUTH_OK));
    }
    gd_cache_policy_free(&p);
}

Test(ttl, heuristic_freshness_is_opt_in)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    p.default_ttl = 0;
    const char *const lines[] = {"Date: Tue, 01 Dec 2026 10:00:00 GMT",
                                 "Last-Modified: Tue, 01 Dec 2026 09:00:00 GMT", NULL};
    gd_http_header h[4];
    int nh = mkh(h, lines);
    gd_cache_times t;
    cr_assert_eq(gd_cache_ttl(&p, 200, h, nh, 0, &t), 1);
    cr_assert_float_eq(t.ttl, 0, 1e-9, "off by default: default_ttl");
    cr_assert(t.flags & GD_CACHE_T_DEFAULT);
    p.heuristic = 0.1;
    cr_assert_eq(gd_cache_ttl(&p, 200, h, nh, 0, &t), 1);
    cr_assert_float_eq(t.ttl, 360, 1e-9, "a tenth of an hour, got %g", t.ttl);
    cr_assert(t.flags & GD_CACHE_T_HEURISTIC);
    p.max_ttl = 100;
    cr_assert_eq(gd_cache_ttl(&p, 200, h, nh, 0, &t), 1);
    cr_assert_float_eq(t.ttl, 100, 1e-9, "clamped to max_ttl");
    /* An explicit TTL wins over the heuristic. */
    const char *const explicit[] = {"Cache-Control: max-age=5",
                                    "Last-Modified: Tue, 01 Dec 2026 09:00:00 GMT", NULL};
    nh = mkh(h, explicit);
    cr_assert_eq(gd_cache_ttl(&p, 200, h, nh, 0, &t), 1);
    cr_assert_float_eq(t.ttl, 5, 1e-9);
    gd_cache_policy_free(&p);
}

Test(ttl, targeted_fields_replace_cache_control)
{
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    static const struct {
        const char *a, *b;
        int cacheable;
        double ttl;
    } rows[] = {
        {"Cache-Control: no-store", "CDN-Cache-Control: max-age=30", 1, 30},
        {"Cache-Control: max-age=30", "CDN-Cache-Control: no-store", 0, 0},
        {"Cache-Control: private", "Surrogate-Control: max-age=40", 1, 40},
        {"CDN-Cache-Control: max-age=50", "Surrogate-Control: max-age=40", 1, 50},
        /* no directive known: not a valid targeted field, Cache-Control decides */
        {"Cache-Control: max-age=20", "CDN-Cache-Control: foo=1", 1, 20},
        {"Expires: Tue, 01 Dec 2026 10:00:00 GMT", "CDN-Cache-Control: max-age=70", 1, 70},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *const lines[] = {rows[i].a, rows[i].b, NULL};
        gd_http_header h[3];
        int nh = mkh(h, lines);
        gd_cache_times t;
        int got = gd_cache_ttl(&p, 200, h, nh, 0, &t);
        cr_assert_eq(got, rows[i].cacheable, "%s + %s: cacheable %d", rows[i].a, rows[i].b, got);
        if (got)
            cr_assert_float_eq(t.ttl, rows[i].ttl, 1e-9, "%s + %s: ttl %g", rows[i].a, rows[i].b,
                               t.ttl);
    }
    gd_cache_policy_free(&p);
}

/* ---- the store ---- */

TestSuite(store, .init = mem_setup, .fini = mem_check);

Test(store, lookup_states_over_time)
{
    gd_cache *c = gd_cache_new(1 << 20);
    /* stored at 100: fresh 10 s, stale-while-revalidate 5 s, stale-if-error 20 s */
    gd_cache_obj *o = obj_for("/a", NULL, NULL, "hello", 100, 10, 5, 20);
    cr_assert_eq(gd_cache_insert(c, o), 0);
    cr_assert_eq(gd_cache_insert(c, o), GD_EEXIST, "a stored object cannot be stored twice");
    gd_cache_obj_unref(o);
    char body[64];
    EXPECT_STATE(look(c, "/a", NULL, 105, body, sizeof body), GD_CACHE_FRESH);
    cr_assert_str_eq(body, "hello");
    EXPECT_STATE(look(c, "/a", NULL, 112, NULL, 0), GD_CACHE_STALE);
    EXPECT_STATE(look(c, "/a", NULL, 118, NULL, 0), GD_CACHE_STALE_IF_ERROR_ONLY);
    EXPECT_STATE(look(c, "/a", NULL, 135, NULL, 0), GD_CACHE_EXPIRED);
    EXPECT_STATE(look(c, "/b", NULL, 105, NULL, 0), GD_CACHE_MISS);
    const char *const other_host[] = {"Host: other.com", NULL};
    EXPECT_STATE(look(c, "/a", other_host, 105, NULL, 0), GD_CACHE_MISS);
    gd_cache_note_stale_if_error(c);
    const gd_cache_stats *st = gd_cache_stats_get(c);
    cr_assert_eq(st->hits, 1, "hits %lu, expected 1", (unsigned long)st->hits);
    cr_assert_eq(st->stale_served, 2, "stale_served %lu, expected 2",
                 (unsigned long)st->stale_served);
    cr_assert_eq(st->misses, 4, "misses %lu, expected 4", (unsigned long)st->misses);
    cr_assert_eq(st->inserted, 1);
    cr_assert_eq(st->objects, 1);
    cr_assert_eq(st->bytes, o->size, "bytes %lu, expected the object's %zu",
                 (unsigned long)st->bytes, o->size);
    gd_cache_free(c);
}

Test(store, head_keeps_end_to_end_headers_only)
{
    const char *const resp[] = {"Content-Type: text/plain",
                                "Connection: close, X-Hop",
                                "X-Hop: 1",
                                "Keep-Alive: timeout=5",
                                "Transfer-Encoding: chunked",
                                "Content-Length: 5",
                                "Date: Sun, 06 Nov 1994 08:49:37 GMT",
                                "Age: 3",
                                "Set-Cookie: s=1",
                                "ETag: \"v1\"",
                                "Last-Modified: Sat, 05 Nov 1994 08:00:00 GMT",
                                "Cache-Control: max-age=60",
                                "Vary: Accept-Language",
                                NULL};
    gd_cache_obj *o = obj_for("/a", NULL, resp, "hello", 0, 60, 0, 0);
    const char *want = "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/plain\r\n"
                       "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                       "ETag: \"v1\"\r\n"
                       "Last-Modified: Sat, 05 Nov 1994 08:00:00 GMT\r\n"
                       "Cache-Control: max-age=60\r\n"
                       "Vary: Accept-Language\r\n";
    cr_assert_eq(o->headlen, strlen(want), "head length %zu, expected %zu", o->headlen,
                 strlen(want));
    cr_assert(memcmp(o->head, want, o->headlen) == 0, "head:\n%.*s\nexpected:\n%s", (int)o->headlen,
              o->head, want);
    cr_assert_eq(o->status, 200);
    cr_assert_eq(o->body_len, 5);
    cr_assert(memcmp(o->body, "hello", 5) == 0);
    cr_assert_eq(o->pathlen, 2);
    cr_assert(memcmp(o->path, "/a", 2) == 0);
    gd_buf b;
    gd_buf_init(&b, 1024);
    cr_assert_eq(gd_cache_revalidation_headers(o, &b), 2);
    cr_assert_str_eq(gd_buf_cstr(&b), "If-None-Match: \"v1\"\r\n"
                                      "If-Modified-Since: Sat, 05 Nov 1994 08:00:00 GMT\r\n");
    gd_buf_free(&b);
    gd_cache_obj_unref(o);

    o = obj_for("/a", NULL, NULL, "x", 0, 60, 0, 0);
    gd_buf_init(&b, 1024);
    cr_assert_eq(gd_cache_revalidation_headers(o, &b), 0, "no validators, no lines");
    cr_assert_eq(b.len, 0);
    gd_buf_free(&b);
    gd_cache_obj_unref(o);

    const char *const star[] = {"Vary: *", NULL};
    gd_http_header h[2];
    int nh = mkh(h, star);
    gd_http_req r;
    mkreq(&r, HTTP_GET, "/a", NULL);
    cr_assert_eq(gd_cache_obj_new("k", 1, &r, 200, h, nh, "", 0, 0, NULL, &o), GD_EINVAL);
    cr_assert_null(o);
}

Test(store, vary_variants)
{
    gd_cache *c = gd_cache_new(1 << 20);
    const char *const vary[] = {"Vary: Accept-Language", NULL};
    const char *const en[] = {"Host: ex.com", "Accept-Language: en", NULL};
    const char *const fr[] = {"Host: ex.com", "accept-language:  fr ", NULL};
    const char *const de[] = {"Host: ex.com", "Accept-Language: de", NULL};
    const char *const none[] = {"Host: ex.com", NULL};
    gd_cache_obj *o = obj_for("/v", en, vary, "hello", 0, 60, 0, 0);
    cr_assert_eq(gd_cache_insert(c, o), 0);
    gd_cache_obj_unref(o);
    o = obj_for("/v", fr, vary, "bonjour", 0, 60, 0, 0);
    cr_assert_eq(gd_cache_insert(c, o), 0);
    gd_cache_obj_unref(o);
    o = obj_for("/v", none, vary, "default", 0, 60, 0, 0);
    cr_assert_eq(gd_cache_insert(c, o), 0);
    gd_cache_obj_unref(o);
    char body[64];
    EXPECT_STATE(look(c, "/v", en, 1, body, sizeof body), GD_CACHE_FRESH);
    cr_assert_str_eq(body, "hello");
    EXPECT_STATE(look(c, "/v", fr, 1, body, sizeof body), GD_CACHE_FRESH);
    cr_assert_str_eq(body, "bonjour", "fr variant: got %s", body);
    EXPECT_STATE(look(c, "/v", none, 1, body, sizeof body), GD_CACHE_FRESH);
    cr_assert_str_eq(body, "default", "no Accept-Language: got %s", body);
    EXPECT_STATE(look(c, "/v", de, 1, NULL, 0), GD_CACHE_MISS, "no de variant stored");
    cr_assert_eq(gd_cache_stats_get(c)->objects, 3);
    /* The same Vary values replace the stored variant. */
    o = obj_for("/v", en, vary, "hello again", 0, 60, 0, 0);
    cr_assert_eq(gd_cache_insert(c, o), 0);
    gd_cache_obj_unref(o);
    cr_assert_eq(gd_cache_stats_get(c)->objects, 3, "objects %lu, expected 3",
                 (unsigned long)gd_cache_stats_get(c)->objects);
    EXPECT_STATE(look(c, "/v", en, 1, body, sizeof body), GD_CACHE_FRESH);
    cr_assert_str_eq(body, "hello again");
    /* At most GD_CACHE_MAX_VARIANTS per key: the least recently used goes. */
    for (int i = 0; i < GD_CACHE_MAX_VARIANTS; i++) {
        char lang[64];
        snprintf(lang, sizeof lang, "Accept-Language: x%d", i);
        const char *const hx[] = {"Host: ex.com", lang, NULL};
        o = obj_for("/v", hx, vary, "x", 0, 60, 0, 0);
        cr_assert_eq(gd_cache_insert(c, o), 0);
        gd_cache_obj_unref(o);
    }
    cr_assert_eq(gd_cache_stats_get(c)->objects, GD_CACHE_MAX_VARIANTS, "objects %lu",
                 (unsigned long)gd_cache_stats_get(c)->objects);
    EXPECT_STATE(look(c, "/v", fr, 1, NULL, 0), GD_CACHE_MISS, "the oldest variant was dropped");
    gd_cache_free(c);
}

Test(store, lru_eviction_order_under_a_cap)
{
    gd_cache_obj *probe = obj_for("/1", NULL, NULL, "0123456789", 0, 60, 0, 0);
    size_t each = probe->size;
    gd_cache_obj_unref(probe);
    /* Room for exactly 8 such objects (keys of one length), each one max/8. */
    gd_cache *c;
    c = gd_cache_new(each * 8);
    for (int i = 1; i <= 8; i++) {
        char url[8];
        snprintf(url, sizeof url, "/%d", i);
        insert_new(c, url, "0123456789", 0, 60);
    }
    cr_assert_eq(gd_cache_stats_get(c)->objects, 8);
    cr_assert_eq(gd_cache_stats_get(c)->evicted, 0);
    /* Touch /1 and /2: /3 becomes the least recently used. */
    EXPECT_STATE(look(c, "/1", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    EXPECT_STATE(look(c, "/2", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    insert_new(c, "/9", "0123456789", 0, 60);
    cr_assert_eq(gd_cache_stats_get(c)->evicted, 1, "evicted %lu, expected 1",
                 (unsigned long)gd_cache_stats_get(c)->evicted);
    EXPECT_STATE(look(c, "/3", NULL, 1, NULL, 0), GD_CACHE_MISS, "/3 was least recently used");
    EXPECT_STATE(look(c, "/1", NULL, 1, NULL, 0), GD_CACHE_FRESH, "/1 was touched, kept");
    insert_new(c, "/a", "0123456789", 0, 60);
    EXPECT_STATE(look(c, "/4", NULL, 1, NULL, 0), GD_CACHE_MISS, "/4 was next");
    EXPECT_STATE(look(c, "/2", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    cr_assert(gd_cache_stats_get(c)->bytes <= each * 8, "bytes %lu over the cap %zu",
              (unsigned long)gd_cache_stats_get(c)->bytes, each * 8);
    /* LRU order now, most recent first: /2 /a /1 /9 /8 /7 /6 /5. Shrinking the cap to two
     * objects keeps /2 and /a. */
    gd_cache_set_max_bytes(c, each * 2);
    cr_assert_eq(gd_cache_stats_get(c)->objects, 2);
    cr_assert_eq(gd_cache_stats_get(c)->evicted, 8, "evicted %lu, expected 8",
                 (unsigned long)gd_cache_stats_get(c)->evicted);
    EXPECT_STATE(look(c, "/1", NULL, 1, NULL, 0), GD_CACHE_MISS, "/1 was third");
    EXPECT_STATE(look(c, "/2", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    EXPECT_STATE(look(c, "/a", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    gd_cache_free(c);
}

Test(store, object_over_an_eighth_of_the_cap_is_refused)
{
    gd_cache *c = gd_cache_new(8000);
    static char big[1200];
    memset(big, 'x', sizeof big - 1);
    gd_cache_obj *o = obj_for("/big", NULL, NULL, big, 0, 60, 0, 0);
    cr_assert(o->size > 1000, "size %zu", o->size);
    cr_assert_eq(gd_cache_insert(c, o), GD_ETOOBIG);
    cr_assert_eq(o->refs, 1, "a refused object keeps only the caller's reference");
    gd_cache_obj_unref(o);
    cr_assert_eq(gd_cache_stats_get(c)->objects, 0);
    cr_assert_eq(gd_cache_stats_get(c)->bytes, 0);
    cr_assert_eq(gd_cache_max_obj_bytes(c), 1000);
    gd_cache_free(c);
}

Test(store, invalidation_exact_and_trailing_star)
{
    gd_cache *c = gd_cache_new(1 << 20);
    const char *urls[] = {"/images/a.jpg", "/images/b.png?x=1", "/images/sub/c.gif",
                          "/imagesX",      "/index.html",       "/index.html2"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) insert_new(c, urls[i], "b", 0, 60);
    cr_assert_eq(gd_cache_invalidate(c, "images/*"), GD_EINVAL, "no leading /");
    cr_assert_eq(gd_cache_invalidate(c, "/im*ges/"), GD_EINVAL, "* only at the end");
    cr_assert_eq(gd_cache_invalidate(c, "/index.html"), 1);
    EXPECT_STATE(look(c, "/index.html", NULL, 1, NULL, 0), GD_CACHE_MISS);
    EXPECT_STATE(look(c, "/index.html2", NULL, 1, NULL, 0), GD_CACHE_FRESH, "exact is exact");
    cr_assert_eq(gd_cache_invalidate(c, "/images/*"), 3);
    EXPECT_STATE(look(c, "/imagesX", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    cr_assert_eq(gd_cache_invalidate(c, "/nothing"), 0);
    cr_assert_eq(gd_cache_invalidate(c, "/*"), 2);
    cr_assert_eq(gd_cache_stats_get(c)->objects, 0);
    cr_assert_eq(gd_cache_stats_get(c)->bytes, 0);
    cr_assert_eq(gd_cache_stats_get(c)->invalidated, 6);
    gd_cache_free(c);
}

Test(store, a_reference_keeps_an_invalidated_object_alive)
{
    gd_cache *c = gd_cache_new(1 << 20);
    insert_new(c, "/live", "still here", 0, 60);
    gd_http_req r;
    const char *const h[] = {"Host: ex.com", NULL};
    mkreq(&r, HTTP_GET, "/live", h);
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    gd_buf k;
    gd_buf_init(&k, 1024);
    cr_assert_eq(gd_cache_key(&p, &r, &k), 0);
    gd_cache_obj *o;
    cr_assert_eq(gd_cache_lookup(c, k.data, k.len, &r, 1, &o), GD_CACHE_FRESH);
    cr_assert_eq(o->refs, 2, "the cache and the caller: refs %d", o->refs);
    cr_assert_eq(gd_cache_invalidate(c, "/live"), 1);
    cr_assert_eq(o->refs, 1);
    cr_assert_eq(o->body_len, 10);
    cr_assert(memcmp(o->body, "still here", 10) == 0, "the body is intact after invalidation");
    gd_cache_obj *again;
    cr_assert_eq(gd_cache_lookup(c, k.data, k.len, &r, 1, &again), GD_CACHE_MISS);
    gd_cache_obj_unref(o);
    gd_cache_free(c);
    /* Freeing the cache while a response holds an object leaves the object usable. */
    c = gd_cache_new(1 << 20);
    insert_new(c, "/live", "held", 0, 60);
    cr_assert_eq(gd_cache_lookup(c, k.data, k.len, &r, 1, &o), GD_CACHE_FRESH);
    gd_cache_free(c);
    cr_assert(memcmp(o->body, "held", 4) == 0);
    gd_cache_obj_unref(o);
    gd_buf_free(&k);
    gd_cache_policy_free(&p);
}

Test(store, a_hit_allocates_nothing)
{
    gd_cache *c = gd_cache_new(1 << 20);
    insert_new(c, "/hot", "body", 0, 60);
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    const char *const h[] = {"Host: ex.com", NULL};
    gd_http_req r;
    mkreq(&r, HTTP_GET, "/hot", h);
    gd_buf k;
    gd_buf_init(&k, 1024);
    cr_assert_eq(gd_cache_key(&p, &r, &k), 0);
    long before = gd_mem_live();
    for (int i = 0; i < 1000; i++) {
        gd_cache_obj *o;
        cr_assert_eq(gd_cache_lookup(c, k.data, k.len, &r, 1, &o), GD_CACHE_FRESH);
        gd_cache_obj_unref(o);
    }
    cr_assert_eq(gd_mem_live(), before, "lookups allocated %ld blocks", gd_mem_live() - before);
    gd_buf_free(&k);
    gd_cache_policy_free(&p);
    gd_cache_free(c);
}

Test(store, many_keys_survive_table_growth)
{
    gd_cache *c = gd_cache_new((size_t)1 << 30);
    char url[32], body[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(url, sizeof url, "/k/%d", i);
        snprintf(body, sizeof body, "b%d", i);
        insert_new(c, url, body, 0, 60);
    }
    cr_assert_eq(gd_cache_stats_get(c)->objects, 5000);
    for (int i = 0; i < 5000; i += 7) {
        char got[32], want[32];
        snprintf(url, sizeof url, "/k/%d", i);
        snprintf(want, sizeof want, "b%d", i);
        EXPECT_STATE(look(c, url, NULL, 1, got, sizeof got), GD_CACHE_FRESH);
        cr_assert_str_eq(got, want);
    }
    cr_assert_eq(gd_cache_invalidate(c, "/k/1*"), 1111, "1, 10-19, 100-199, 1000-1999");
    gd_cache_free(c);
}

Test(store, pending_begin_end_and_lock_timeout)
{
    gd_cache *c = gd_cache_new(1 << 20);
    const char *k = "GET|6:ex.com2:/p";
    size_t kl = strlen(k);
    cr_assert_null(gd_cache_pending_slot(c, k, kl));
    cr_assert_eq(gd_cache_pending_begin(c, k, kl, 0, 5), 1, "the first caller fetches");
    cr_assert_eq(gd_cache_pending_begin(c, k, kl, 1, 5), 0, "the second waits");
    cr_assert_eq(gd_cache_pending_begin(c, "other", 5, 1, 5), 1, "another key is independent");
    int waiters = 42;
    void **slot = gd_cache_pending_slot(c, k, kl);
    cr_assert_not_null(slot);
    *slot = &waiters;
    cr_assert_eq(gd_cache_pending_begin(c, k, kl, 4.9, 5), 0, "still within lock_timeout");
    cr_assert_eq(gd_cache_pending_begin(c, k, kl, 5.1, 5), 1, "abandoned: the next one fetches");
    cr_assert_eq(gd_cache_pending_begin(c, k, kl, 6, 5), 0, "the new fetcher holds the lock");
    cr_assert_eq(gd_cache_pending_end(c, k, kl), &waiters, "the slot survives the takeover");
    cr_assert_null(gd_cache_pending_end(c, k, kl), "ending twice is a no-op");
    cr_assert_eq(gd_cache_pending_begin(c, k, kl, 7, 5), 1, "after the end, a new fetch");
    cr_assert_eq(gd_cache_stats_get(c)->collapsed, 3, "collapsed %lu, expected 3",
                 (unsigned long)gd_cache_stats_get(c)->collapsed);
    /* Many keys at once (the pending table grows); the cache frees leftovers. */
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        cr_assert_eq(gd_cache_pending_begin(c, key, strlen(key), 0, 5), 1);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(key, sizeof key, "key%d", i);
        cr_assert_eq(gd_cache_pending_begin(c, key, strlen(key), 1, 5), 0);
        gd_cache_pending_end(c, key, strlen(key));
    }
    gd_cache_free(c);
}

Test(store, refresh_after_304)
{
    gd_cache *c = gd_cache_new(1 << 20);
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    const char *const resp[] = {"ETag: \"v1\"", "Cache-Control: max-age=10", "X-Old: 1",
                                "Vary: Accept-Language", NULL};
    const char *const en[] = {"Host: ex.com", "Accept-Language: en", NULL};
    gd_cache_obj *o = obj_for("/r", en, resp, "body", 100, 10, 0, 0);
    cr_assert_eq(gd_cache_insert(c, o), 0);
    gd_cache_obj_unref(o);

    gd_http_req r;
    mkreq(&r, HTTP_GET, "/r", en);
    gd_buf k;
    gd_buf_init(&k, 1024);
    cr_assert_eq(gd_cache_key(&p, &r, &k), 0);
    gd_cache_obj *old;
    cr_assert_eq(gd_cache_lookup(c, k.data, k.len, &r, 115, &old), GD_CACHE_EXPIRED);
    gd_buf rv;
    gd_buf_init(&rv, 256);
    cr_assert_eq(gd_cache_revalidation_headers(old, &rv), 1);
    cr_assert_str_eq(gd_buf_cstr(&rv), "If-None-Match: \"v1\"\r\n");
    gd_buf_free(&rv);

    /* Another validator: this 304 may not update it (RFC 9111 4.3.4). */
    const char *const other[] = {"ETag: \"v2\"", NULL};
    gd_http_header h[8];
    int nh = mkh(h, other);
    cr_assert_eq(gd_cache_validators_match(old, h, nh), 0, "\"v2\" is not \"v1\"");
    const char *const weak[] = {"ETag: W/\"v1\"", NULL};
    nh = mkh(h, weak);
    cr_assert_eq(gd_cache_validators_match(old, h, nh), 1, "weak comparison");
    cr_assert_eq(gd_cache_validators_match(old, NULL, 0), 1, "no validator: the one we asked");
    const char *const h304[] = {"Cache-Control: max-age=60", "ETag: W/\"v1\"",          DATE,
                                "Connection: keep-alive",    "Content-Type: text/html", NULL};
    nh = mkh(h, h304);
    gd_cache_obj *fresh;
    cr_assert_eq(gd_cache_refresh(c, old, &p, h, nh, 115, 0, &fresh), 1, "stored again");
    cr_assert_neq(fresh, old);
    /* The ETag and Vary stay; the 304's Content-Type is not the kept body's. */
    const char *want = "HTTP/1.1 200 OK\r\n"
                       "ETag: \"v1\"\r\n"
                       "X-Old: 1\r\n"
                       "Vary: Accept-Language\r\n"
                       "Cache-Control: max-age=60\r\n"
                       "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
    cr_assert(fresh->headlen == strlen(want) && memcmp(fresh->head, want, fresh->headlen) == 0,
              "refreshed head:\n%.*s\nexpected:\n%s", (int)fresh->headlen, fresh->head, want);
    cr_assert_float_eq(fresh->times.fresh_until, 175, 1e-9, "fresh until %g, expected 175",
                       fresh->times.fresh_until);
    cr_assert_float_eq(fresh->stored_at, 115, 1e-9);
    cr_assert_eq(fresh->body_len, 4);
    cr_assert(memcmp(fresh->body, "body", 4) == 0, "the body is kept");
    cr_assert_eq(fresh->etag_len, 4);
    cr_assert(memcmp(fresh->etag, "\"v1\"", 4) == 0, "the stored ETag is kept");
    /* The old object is still whole for whoever holds it. */
    cr_assert(memcmp(old->body, "body", 4) == 0);
    cr_assert_eq(old->refs, 1, "only our reference is left on the old object");
    gd_cache_obj_unref(old);
    gd_cache_obj_unref(fresh);

    char body[16];
    EXPECT_STATE(look(c, "/r", en, 170, body, sizeof body), GD_CACHE_FRESH);
    cr_assert_str_eq(body, "body");
    cr_assert_eq(gd_cache_stats_get(c)->objects, 1);
    cr_assert_eq(gd_cache_stats_get(c)->refresh_hits, 1);

    /* A 304 that says no-store takes the object out but still answers this request. */
    cr_assert_eq(gd_cache_lookup(c, k.data, k.len, &r, 170, &old), GD_CACHE_FRESH);
    const char *const nostore[] = {"Cache-Control: no-store", NULL};
    nh = mkh(h, nostore);
    cr_assert_eq(gd_cache_refresh(c, old, &p, h, nh, 170, 0, &fresh), 0);
    cr_assert_not_null(fresh);
    cr_assert_eq(gd_cache_stats_get(c)->objects, 0);
    gd_cache_obj_unref(fresh);
    /* Refreshing an object no longer stored returns a copy and stores nothing. */
    cr_assert_eq(gd_cache_refresh(c, old, &p, NULL, 0, 171, 0, &fresh), 0);
    cr_assert_eq(gd_cache_stats_get(c)->objects, 0);
    gd_cache_obj_unref(fresh);
    gd_cache_obj_unref(old);

    gd_buf_free(&k);
    gd_cache_policy_free(&p);
    gd_cache_free(c);
}

Test(store, vary_values_are_normalised)
{
    gd_cache *c = gd_cache_new(1 << 20);
    const char *const resp[] = {"Vary: Accept-Encoding, Accept-Language, X-Case", NULL};
    const char *const first[] = {"Host: ex.com", "Accept-Encoding: gzip, br",
                                 "Accept-Language: en-US, fr;q=0.5", "X-Case: Abc", NULL};
    gd_cache_obj *o = obj_for("/v", first, resp, "v", 0, 60, 0, 0);
    cr_assert_eq(gd_cache_insert(c, o), 0);
    gd_cache_obj_unref(o);
    const char *const same1[] = {"Host: ex.com", "Accept-Encoding: br,GZIP,gzip",
                                 "Accept-Language: EN-us ,fr ; q=0.5", "X-Case:  Abc ", NULL};
    EXPECT_STATE(look(c, "/v", same1, 1, NULL, 0), GD_CACHE_FRESH);
    const char *const lines2[] = {"Host: ex.com",          "Accept-Encoding: br",
                                  "Accept-Encoding: gzip", "Accept-Language: en-US, fr;q=0.5",
                                  "X-Case: Abc",           NULL};
    EXPECT_STATE(look(c, "/v", lines2, 1, NULL, 0), GD_CACHE_FRESH);
    const char *const order[] = {"Host: ex.com", "Accept-Encoding: gzip, br",
                                 "Accept-Language: fr;q=0.5, en-US", "X-Case: Abc", NULL};
    EXPECT_STATE(look(c, "/v", order, 1, NULL, 0), GD_CACHE_MISS, "language order matters");
    const char *const kase[] = {"Host: ex.com", "Accept-Encoding: gzip, br",
                                "Accept-Language: en-US, fr;q=0.5", "X-Case: abc", NULL};
    EXPECT_STATE(look(c, "/v", kase, 1, NULL, 0), GD_CACHE_MISS, "other fields keep their case");
    const char *const absent[] = {"Host: ex.com", "Accept-Encoding: gzip, br",
                                  "Accept-Language: en-US, fr;q=0.5", NULL};
    EXPECT_STATE(look(c, "/v", absent, 1, NULL, 0), GD_CACHE_MISS, "absent is not empty");
    gd_cache_free(c);
}

Test(store, invalidate_path_takes_every_query_and_variant)
{
    gd_cache *c = gd_cache_new(1 << 20);
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    insert_new(c, "/item", "a", 0, 60);
    insert_new(c, "/item/2", "b", 0, 60);
    insert_new(c, "/items", "c", 0, 60);
    cr_assert_eq(gd_cache_invalidate_path(c, "/item", 5), 1);
    cr_assert_eq(gd_cache_invalidate_path(c, "/item", 5), 0, "already gone");
    EXPECT_STATE(look(c, "/item/2", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    EXPECT_STATE(look(c, "/items", NULL, 1, NULL, 0), GD_CACHE_FRESH);
    /* Many objects: the index still finds the one, across table growth. */
    char url[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(url, sizeof url, "/n/%d", i);
        insert_new(c, url, "x", 0, 60);
    }
    cr_assert_eq(gd_cache_invalidate_path(c, "/n/1234", 7), 1);
    cr_assert_eq(gd_cache_invalidate(c, "/n/77"), 1, "an exact admin path uses the index");
    cr_assert_eq(gd_cache_stats_get(c)->objects, 2000);
    gd_cache_policy_free(&p);
    gd_cache_free(c);
}

Test(store, pass_marker_until_it_expires_or_an_answer_is_stored)
{
    gd_cache *c = gd_cache_new(1 << 20);
    gd_cache_policy p;
    gd_cache_policy_default(&p);
    const char *const dflt[] = {"Host: ex.com", NULL};
    gd_http_req r;
    mkreq(&r, HTTP_GET, "/u", dflt);
    gd_buf k;
    gd_buf_init(&k, 4096);
    cr_assert_eq(gd_cache_key(&p, &r, &k), 0);
    cr_assert_eq(gd_cache_insert_pass(c, k.data, k.len, "/u", 2, 100, 120), 0);
    EXPECT_STATE(look(c, "/u", NULL, 150, NULL, 0), GD_CACHE_PASS);
    cr_assert_eq(gd_cache_stats_get(c)->passes, 1);
    EXPECT_STATE(look(c, "/u", NULL, 221, NULL, 0), GD_CACHE_MISS, "the marker is over");
    cr_assert_eq(gd_cache_stats_get(c)->objects, 0, "and forgotten");
    cr_assert_eq(gd_cache_insert_pass(c, k.data, k.len, "/u", 2, 300, 120), 0);
    insert_new(c, "/u", "real", 310, 60);
    char body[16];
    EXPECT_STATE(look(c, "/u", NULL, 320, body, sizeof body), GD_CACHE_FRESH,
                 "a stored answer replaces the marker");
    cr_assert_str_eq(body, "real");
    cr_assert_eq(gd_cache_stats_get(c)->objects, 1);
    cr_assert_eq(gd_cache_insert_pass(c, k.data, k.len, "/u", 2, 330, 120), 0);
    EXPECT_STATE(look(c, "/u", NULL, 331, NULL, 0), GD_CACHE_PASS, "and a marker the answer");
    cr_assert_eq(gd_cache_stats_get(c)->objects, 1);
    gd_buf_free(&k);
    gd_cache_policy_free(&p);
    gd_cache_free(c);
}

/* ---- conditionals and Range ---- */

TestSuite(cond, .init = mem_setup, .fini = mem_check);

Test(cond, not_modified)
{
    const char *const resp[] = {"ETag: \"v1\"", "Last-Modified: Tue, 01 Dec 2026 09:00:00 GMT",
                                NULL};
    gd_cache_obj *o = obj_for("/c", NULL, resp, "body", 0, 60, 0, 0);
    static const struct {
        const char *inm, *ims;
        int want;
    } rows[] = {
        {"\"v1\"", NULL, 1},
        {"W/\"v1\"", NULL, 1},
        {"\"a\", \"v1\"", NULL, 1},
        {"*", NULL, 1},
        {"\"v2\"", NULL, 0},
        {"v1", NULL, 0},
        {"\"v2\"", "Tue, 01 Dec 2026 09:00:00 GMT", 0}, /* If-None-Match decides */
        {NULL, "Tue, 01 Dec 2026 09:00:00 GMT", 1},
        {NULL, "Tue, 01 Dec 2026 10:00:00 GMT", 1},
        {NULL, "Tue, 01 Dec 2026 08:59:59 GMT", 0},
        {NULL, "yesterday", 0},
        {NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = gd_cache_not_modified(o, rows[i].inm, rows[i].inm ? strlen(rows[i].inm) : 0,
                                        rows[i].ims, rows[i].ims ? strlen(rows[i].ims) : 0);
        cr_assert_eq(got, rows[i].want, "INM %s IMS %s: %d", rows[i].inm ? rows[i].inm : "-",
                     rows[i].ims ? rows[i].ims : "-", got);
    }
    gd_cache_obj_unref(o);
    /* No Last-Modified: If-Modified-Since is compared with Date. */
    const char *const dated[] = {"Date: Tue, 01 Dec 2026 10:00:00 GMT", NULL};
    o = obj_for("/d", NULL, dated, "body", 0, 60, 0, 0);
    const char *later = "Tue, 01 Dec 2026 10:00:00 GMT", *earlier = "Tue, 01 Dec 2026 09:00:00 GMT";
    cr_assert_eq(gd_cache_not_modified(o, NULL, 0, later, strlen(later)), 1);
    cr_assert_eq(gd_cache_not_modified(o, NULL, 0, earlier, strlen(earlier)), 0);
    cr_assert_eq(gd_cache_not_modified(o, "\"x\"", 3, NULL, 0), 0, "no ETag stored");
    gd_cache_obj_unref(o);
}

Test(cond, byte_range)
{
    const char *const resp[] = {"ETag: \"r1\"", "Last-Modified: Tue, 01 Dec 2026 09:00:00 GMT",
                                NULL};
    gd_cache_obj *o = obj_for("/r", NULL, resp, "0123456789", 0, 60, 0, 0);
    static const struct {
        const char *range, *if_range;
        int want;
        size_t first, last;
    } rows[] = {
        {"bytes=2-5", NULL, GD_CACHE_RANGE_PART, 2, 5},
        {"bytes=0-0", NULL, GD_CACHE_RANGE_PART, 0, 0},
        {"bytes=7-", NULL, GD_CACHE_RANGE_PART, 7, 9},
        {"bytes=-3", NULL, GD_CACHE_RANGE_PART, 7, 9},
        {"bytes=-30", NULL, GD_CACHE_RANGE_PART, 0, 9},
        {"bytes=8-100", NULL, GD_CACHE_RANGE_PART, 8, 9},
        {"BYTES=1-1", NULL, GD_CACHE_RANGE_PART, 1, 1},
        {"bytes=10-", NULL, GD_CACHE_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", NULL, GD_CACHE_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5-2", NULL, GD_CACHE_RANGE_NONE, 0, 0},
        {"bytes=0-1,4-5", NULL, GD_CACHE_RANGE_NONE, 0, 0},
        {"bytes=-", NULL, GD_CACHE_RANGE_NONE, 0, 0},
        {"bytes=a-b", NULL, GD_CACHE_RANGE_NONE, 0, 0},
        {"bytes=99999999999999999999-", NULL, GD_CACHE_RANGE_NONE, 0, 0},
        {"lines=1-2", NULL, GD_CACHE_RANGE_NONE, 0, 0},
        {"bytes=1-2", "\"r1\"", GD_CACHE_RANGE_PART, 1, 2},
        {"bytes=1-2", "W/\"r1\"", GD_CACHE_RANGE_NONE, 0, 0},
        {"bytes=1-2", "\"r2\"", GD_CACHE_RANGE_NONE, 0, 0},
        {"bytes=1-2", "Tue, 01 Dec 2026 09:00:00 GMT", GD_CACHE_RANGE_PART, 1, 2},
        {"bytes=1-2", "Tue, 01 Dec 2026 09:00:01 GMT", GD_CACHE_RANGE_NONE, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t first = 99, last = 99;
        int got =
            gd_cache_byte_range(o, rows[i].range, strlen(rows[i].range), rows[i].if_range,
                                rows[i].if_range ? strlen(rows[i].if_range) : 0, &first, &last);
        cr_assert_eq(got, rows[i].want, "%s (If-Range %s): %d, expected %d", rows[i].range,
                     rows[i].if_range ? rows[i].if_range : "-", got, rows[i].want);
        if (got == GD_CACHE_RANGE_PART)
            cr_assert(first == rows[i].first && last == rows[i].last, "%s: %zu-%zu", rows[i].range,
                      first, last);
    }
    cr_assert_eq(gd_cache_byte_range(o, NULL, 0, NULL, 0, NULL, NULL), GD_CACHE_RANGE_NONE);
    gd_cache_obj_unref(o);
}
