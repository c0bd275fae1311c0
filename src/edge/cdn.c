/* The edge's cdn mode: a CloudFront-like cache in front of one origin. Hits are
 * answered from memory (one read, one write); misses for one key are collapsed into
 * one origin request; expired objects are revalidated with their validators; stale
 * objects are served while revalidating or when the origin fails, as allowed. */
#include "edge/cache.h"
#include "edge/edge.h"
#include "edge/fault.h"
#include "core/check.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#define FETCH_MAGIC 0x46455443u
#define PASS_TTL 120 /* game seconds a hit-for-miss marker lasts (Varnish's default) */

/* The behaviours of one configuration, shared by the fetches that started under it. */
struct bset {
    int refs;
    int n;
    gd_cache_policy *p;
};

struct gd_cdn {
    gd_cache *cache;
    struct bset *bs;
    gd_httpc_pool *origin;
    char origin_addr[32];
    uint32_t origin_ip; /* the same, for the upstream faults' "targets" */
    int origin_port;
    double origin_timeout; /* game seconds */
    uint64_t origin_requests, origin_errors;
    double origin_ms_sum; /* game milliseconds */
    uint64_t origin_ms_n;
    gd_buf key, out;
};

/* ---- what one requester asked ---- */

/* The request fields that change how a stored response is answered: conditionals
 * (RFC 9110 13.1) and Range (14.2). The values point into the request, or into own
 * after viewer_keep (for a request that waits past its handler). */
struct sv {
    const char *s;
    size_t n;
};

struct viewer {
    int keep_alive, head;
    struct sv inm, ims, range, if_range;
    char *own;
};

static int hdr_is(const gd_http_header *h, const char *name, size_t n)
{
    return h->name_len == n && !strncasecmp(h->name, name, n);
}

static void viewer_of(const gd_http_req *req, struct viewer *v)
{
    memset(v, 0, sizeof *v);
    v->keep_alive = req->keep_alive;
    v->head = req->method == HTTP_HEAD;
    for (int i = 0; i < req->nheaders; i++) {
        const gd_http_header *h = &req->headers[i];
        if (h->name_len < 5 || (h->name[0] | 32) != (h->name_len == 5 ? 'r' : 'i')) continue;
        struct sv *to = hdr_is(h, "if-none-match", 13)       ? &v->inm
                        : hdr_is(h, "if-modified-since", 17) ? &v->ims
                        : hdr_is(h, "range", 5)              ? &v->range
                        : hdr_is(h, "if-range", 8)           ? &v->if_range
                                                             : NULL;
        if (to && !to->s) *to = (struct sv){h->value, h->value_len};
    }
}

/* Copies the values into one block the viewer owns (free with viewer_drop). */
static void viewer_keep(struct viewer *v)
{
    struct sv *f[] = {&v->inm, &v->ims, &v->range, &v->if_range};
    size_t n = 1;
    for (int i = 0; i < 4; i++) n += f[i]->n;
    char *w = v->own = gd_malloc(n);
    for (int i = 0; i < 4; i++) {
        if (!f[i]->s) continue;
        memcpy(w, f[i]->s, f[i]->n);
        f[i]->s = w;
        w += f[i]->n;
    }
}

static void viewer_drop(struct viewer *v)
{
    gd_free(v->own);
    v->own = NULL;
}

/* A request waiting for another request's fetch of the same key. */
struct waiter {
    gd_http_conn *conn;
    struct viewer v;
    char *req; /* its own origin request, if it must go alone after all */
    size_t len;
    struct waiter *next;
};

struct fetch {
    uint32_t magic;
    gd_http_conn *conn;      /* NULL for a background revalidation */
    int collapsing;          /* registered with gd_cache_pending_begin */
    int pass;                /* never stored: an uncacheable request, or a waiter gone alone */
    int auth;                /* the request had Authorization (RFC 9111 3.5) */
    size_t val_off, val_len; /* the validator lines in req (revalidation) */
    struct bset *bs;
    const gd_cache_policy *p;
    gd_cache_obj *stale; /* the object being revalidated, if any */
    int stale_usable_on_error;
    char *key;
    size_t keylen;
    char *req;
    size_t len;
    gd_http_req reqcopy; /* path and Vary header values for building the object */
    gd_buf reqbuf;       /* backing store of reqcopy */
    uint64_t start_ns;
    struct viewer v; /* what the requester asked (conn's) */
};

static void bset_unref(struct bset *b)
{
    if (!b || --b->refs > 0) return;
    for (int i = 0; i < b->n; i++) gd_cache_policy_free(&b->p[i]);
    gd_free(b->p);
    gd_free(b);
}

/* ---- configuration ---- */

static int parse_behaviors(const json_t *doc, struct bset **out, char *err, size_t errlen)
{
    const json_t *cache = json_object_get(doc, "cache");
    const json_t *list = json_object_get(cache, "behaviors");
    if (list && (!json_is_array(list) || json_array_size(list) > 25)) {
        snprintf(err, errlen, "cache.behaviors: an array of at most 25 behaviours");
        return GD_EINVAL;
    }
    struct bset *b = gd_calloc(1, sizeof *b);
    b->refs = 1;
    size_t n = json_array_size(list);
    b->p = gd_calloc(n + 1, sizeof *b->p);
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        char e[200];
        if (gd_cache_policy_parse(x, &b->p[b->n], e, sizeof e) < 0) {
            snprintf(err, errlen, "cache.behaviors[%zu]: %s", i, e);
            bset_unref(b);
            return GD_EINVAL;
        }
        b->n++;
    }
    /* The default behaviour comes last and matches every path. */
    if (b->n == 0 || strcmp(b->p[b->n - 1].path, "*") != 0) gd_cache_policy_default(&b->p[b->n++]);
    *out = b;
    return 0;
}

static int cdn_check(const json_t *doc, char *err, size_t errlen)
{
    const json_t *o = json_object_get(doc, "origin");
    const char *addr = json_string_value(json_object_get(o, "addr"));
    uint32_t ip;
    int port;
    if (!addr || gd_hostport_parse(addr, &ip, &port) < 0 || (ip >> 24) != 127) {
        snprintf(err, errlen, "origin.addr: must be \"IP:PORT\" in 127.0.0.0/8");
        return GD_EINVAL;
    }
    json_t *t = json_object_get(o, "timeout");
    if (t && (!json_is_number(t) || json_number_value(t) < 1 || json_number_value(t) > 180)) {
        snprintf(err, errlen, "origin.timeout: 1..180 seconds (CloudFront's response timeout)");
        return GD_EINVAL;
    }
    json_t *mb = json_object_get(json_object_get(doc, "cache"), "max_bytes");
    if (mb && (!json_is_integer(mb) || json_integer_value(mb) < 4096 ||
               json_integer_value(mb) > (json_int_t)16 << 30)) {
        snprintf(err, errlen, "cache.max_bytes: an integer in 4096..17179869184");
        return GD_EINVAL;
    }
    struct bset *b;
    if (parse_behaviors(doc, &b, err, errlen) < 0) return GD_EINVAL;
    bset_unref(b);
    return 0;
}

static int cdn_apply(gd_edge *e, const json_t *doc, gd_edge_changes *ch, char *err, size_t errlen)
{
    if (!e->cdn) {
        e->cdn = gd_calloc(1, sizeof *e->cdn);
        gd_buf_init(&e->cdn->key, 16384);
        gd_buf_init(&e->cdn->out, 16 << 20);
    }
    struct gd_cdn *d = e->cdn;
    const json_t *o = json_object_get(doc, "origin");
    const char *addr = json_string_value(json_object_get(o, "addr"));
    json_t *t = json_object_get(o, "timeout");
    d->origin_timeout = t ? json_number_value(t) : 30;
    json_t *mb = json_object_get(json_object_get(doc, "cache"), "max_bytes");
    size_t max = mb ? (size_t)json_integer_value(mb) : (size_t)256 << 20;
    if (!d->cache)
        d->cache = gd_cache_new(max);
    else
        gd_cache_set_max_bytes(d->cache, max);
    struct bset *b;
    if (parse_behaviors(doc, &b, err, errlen) < 0) return GD_EINVAL;
    bset_unref(d->bs);
    d->bs = b;
    if (strcmp(addr, d->origin_addr) != 0) {
        uint32_t ip;
        int port;
        gd_hostport_parse(addr, &ip, &port);
        /* The old origin's requests in flight still get their answers. */
        if (d->origin) gd_httpc_pool_drain(d->origin);
        d->origin = gd_httpc_pool_new(e->loop, ip, port, 1024, 65536);
        snprintf(d->origin_addr, sizeof d->origin_addr, "%s", addr);
        d->origin_ip = ip;
        d->origin_port = port;
    }
    return 0;
}

/* ---- answering ---- */

/* The wall clock as an IMF-fixdate (RFC 9110 5.6.7), formatted once a second. */
static const char *http_now(void)
{
    static _Thread_local char buf[40];
    static _Thread_local time_t at;
    time_t t = time(NULL);
    if (t != at || !buf[0]) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        at = t;
    }
    return buf;
}

/* The conditionals and Range of v against o (cache_cond.c). */
static int not_modified(const gd_cache_obj *o, const struct viewer *v)
{
    return gd_cache_not_modified(o, v->inm.s, v->inm.n, v->ims.s, v->ims.n);
}

static int byte_range(const gd_cache_obj *o, const struct viewer *v, size_t *first, size_t *last)
{
    if (!v->range.s || v->head || o->status != 200) return GD_CACHE_RANGE_NONE;
    return gd_cache_byte_range(o, v->range.s, v->range.n, v->if_range.s, v->if_range.n, first,
                               last);
}

/* The stored header lines (after the status line), less representation metadata
 * when the answer has no representation of its own (304, 416). */
static void put_stored_lines(gd_buf *b, const gd_cache_obj *o, int no_content)
{
    const char *s = memchr(o->head, '\n', o->headlen);
    s = s ? s + 1 : o->head + o->headlen;
    const char *end = o->head + o->headlen;
    if (!no_content) {
        gd_buf_append(b, s, (size_t)(end - s));
        return;
    }
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        const char *next = eol ? eol + 1 : end;
        if (!((next - s) > 8 && !strncasecmp(s, "content-", 8)))
            gd_buf_append(b, s, (size_t)(next - s));
        s = next;
    }
}

/* Answers v from o. A 200 becomes a 304 when v's conditionals hold, a 206 (or 416)
 * when v asks for a range. cookies: the origin answer whose Set-Cookie lines go to
 * this requester only (the one whose request fetched it), or NULL. */
static void serve_obj(gd_edge *e, gd_http_conn *c, const gd_cache_obj *o, const struct viewer *v,
                      const char *xcache, double now, const gd_httpc_resp *cookies)
{
    gd_buf *b = &e->cdn->out;
    gd_buf_reset(b);
    size_t first = 0, last = 0;
    int rng = GD_CACHE_RANGE_NONE,
        nm = o->status == 200 && (v->inm.s || v->ims.s) && not_modified(o, v);
    if (!nm) rng = byte_range(o, v, &first, &last);
    if (nm) {
        gd_buf_puts(b, "HTTP/1.1 304 Not Modified\r\n");
        put_stored_lines(b, o, 1);
    } else if (rng == GD_CACHE_RANGE_PART) {
        gd_buf_puts(b, "HTTP/1.1 206 Partial Content\r\n");
        put_stored_lines(b, o, 0);
        gd_buf_puts(b, "Content-Range: bytes ");
        gd_http_put_uint(b, first);
        gd_buf_append(b, "-", 1);
        gd_http_put_uint(b, last);
        gd_buf_append(b, "/", 1);
        gd_http_put_uint(b, o->body_len);
        gd_buf_append(b, "\r\n", 2);
    } else if (rng == GD_CACHE_RANGE_UNSATISFIABLE) {
        gd_buf_puts(b, "HTTP/1.1 416 Range Not Satisfiable\r\n");
        put_stored_lines(b, o, 1);
        gd_buf_puts(b, "Content-Range: bytes */");
        gd_http_put_uint(b, o->body_len);
        gd_buf_append(b, "\r\n", 2);
    } else {
        gd_buf_append(b, o->head, o->headlen);
    }
    if (!o->date) {
        gd_buf_puts(b, "Date: ");
        gd_buf_puts(b, http_now());
        gd_buf_append(b, "\r\n", 2);
    }
    double age = o->times.age + (now - o->stored_at);
    gd_buf_append(b, "Age: ", 5);
    gd_http_put_uint(b, age > 0 ? (size_t)age : 0);
    gd_buf_append(b, "\r\nX-Cache: ", 11);
    gd_buf_puts(b, o->status >= 400 ? "Error" : xcache);
    gd_buf_append(b, " from gameday\r\n", 15);
    for (int i = 0; cookies && i < cookies->nheaders; i++) {
        const gd_http_header *h = &cookies->headers[i];
        if (!hdr_is(h, "set-cookie", 10)) continue;
        gd_buf_append(b, h->name, h->name_len);
        gd_buf_append(b, ": ", 2);
        gd_buf_append(b, h->value, h->value_len);
        gd_buf_append(b, "\r\n", 2);
    }
    const char *body = o->body;
    size_t blen = o->body_len;
    if (nm || rng == GD_CACHE_RANGE_UNSATISFIABLE)
        blen = 0;
    else if (rng == GD_CACHE_RANGE_PART)
        body += first, blen = last - first + 1;
    if (!nm) {
        gd_buf_append(b, "Content-Length: ", 16);
        gd_http_put_uint(b, blen);
        gd_buf_append(b, "\r\n", 2);
    }
    if (v->keep_alive)
        gd_buf_append(b, "\r\n", 2);
    else
        gd_buf_append(b, "Connection: close\r\n\r\n", 21);
    if (!v->head && blen) gd_buf_append(b, body, blen);
    gd_http_respond_raw(c, b->data, b->len, v->keep_alive);
}

/* Passes an origin answer through unstored (adding a Date when it had none, RFC 9110
 * 6.6.1, and taking off Surrogate-Control, which was for this cache). */
static void serve_resp(gd_edge *e, gd_http_conn *c, const gd_httpc_resp *r, int keep_alive,
                       int head, const char *xcache)
{
    gd_buf *b = &e->cdn->out;
    gd_buf_reset(b);
    gd_http_status_line(b, r->status);
    int dated = 0;
    for (int i = 0; i < r->nheaders; i++) {
        const gd_http_header *h = &r->headers[i];
        if (gd_edge_stops_here(r->headers, r->nheaders, h) || hdr_is(h, "surrogate-control", 17))
            continue;
        dated |= hdr_is(h, "date", 4);
        gd_buf_append(b, h->name, h->name_len);
        gd_buf_append(b, ": ", 2);
        gd_buf_append(b, h->value, h->value_len);
        gd_buf_append(b, "\r\n", 2);
    }
    if (!dated) {
        gd_buf_puts(b, "Date: ");
        gd_buf_puts(b, http_now());
        gd_buf_append(b, "\r\n", 2);
    }
    gd_buf_puts(b, "X-Cache: ");
    gd_buf_puts(b, xcache);
    gd_buf_puts(b, " from gameday\r\n");
    if (r->status != 304 && r->status != 204) {
        gd_buf_puts(b, "Content-Length: ");
        gd_http_put_uint(b, r->body_len);
        gd_buf_append(b, "\r\n", 2);
    }
    if (keep_alive)
        gd_buf_append(b, "\r\n", 2);
    else
        gd_buf_append(b, "Connection: close\r\n\r\n", 21);
    if (!head) gd_buf_append(b, r->body, r->body_len);
    e->c.target_2xx_5xx[r->status / 100 >= 1 && r->status / 100 <= 5 ? r->status / 100 : 5]++;
    gd_http_respond_raw(c, b->data, b->len, keep_alive);
}

static void cdn_error(gd_http_conn *c, int status, const char *msg, int keep_alive)
{
    (void)keep_alive;
    gd_edge_error(c, status, msg);
}

/* ---- fetching ---- */

static void fetch_free(struct fetch *f)
{
    f->magic = 0;
    gd_cache_obj_unref(f->stale);
    bset_unref(f->bs);
    viewer_drop(&f->v);
    gd_free(f->key);
    gd_free(f->req);
    gd_buf_free(&f->reqbuf);
    gd_free(f);
}

static void on_origin(void *ud, int err, const gd_httpc_resp *resp);

static int send_origin(gd_edge *e, struct fetch *f)
{
    e->cdn->origin_requests++;
    f->start_ns = uv_hrtime();
    struct gd_cdn *d = e->cdn;
    return gd_edge_faults_request(d->origin, d->origin_ip, d->origin_port, f->req, f->len, 0,
                                  gd_clock_wall_ms(d->origin_timeout * 1000), on_origin, f);
}

/* Builds the origin request: the client's request line and headers (the whole query
 * string goes to the origin, whatever the cache key holds: CloudFront's AllViewer
 * origin request policy), plus validators when revalidating. For a cacheable request
 * (cacheable) the client's own conditionals and Range stay here: the cache fetches the
 * whole response and answers them itself. *val_off / *val_len: where the validator
 * lines are, so that they can be taken out again. */
static void build_request(const gd_http_req *req, const gd_cache_obj *stale, gd_buf *b,
                          gd_http_conn *c, int cacheable, size_t *val_off, size_t *val_len)
{
    gd_buf_puts(b, req->method == HTTP_HEAD ? "GET " : http_method_str(req->method));
    if (req->method != HTTP_HEAD) gd_buf_append(b, " ", 1);
    gd_buf_append(b, req->url, req->url_len);
    gd_buf_append(b, " HTTP/1.1\r\n", 11);
    for (int i = 0; i < req->nheaders; i++) {
        const gd_http_header *h = &req->headers[i];
        if (gd_edge_stops_here(req->headers, req->nheaders, h)) continue;
        if (cacheable && (hdr_is(h, "if-none-match", 13) || hdr_is(h, "if-modified-since", 17) ||
                          hdr_is(h, "range", 5) || hdr_is(h, "if-range", 8) ||
                          hdr_is(h, "if-match", 8) || hdr_is(h, "if-unmodified-since", 19)))
            continue;
        gd_buf_append(b, h->name, h->name_len);
        gd_buf_append(b, ": ", 2);
        gd_buf_append(b, h->value, h->value_len);
        gd_buf_append(b, "\r\n", 2);
    }
    size_t off = b->len;
    if (stale) gd_cache_revalidation_headers(stale, b);
    if (val_off) *val_off = off, *val_len = b->len - off;
    gd_buf_puts(b, "Via: 1.1 gameday-cdn\r\nX-Forwarded-For: ");
    gd_buf_puts(b, c ? gd_http_conn_peer(c) : "127.0.0.1");
    gd_buf_puts(b, "\r\nContent-Length: ");
    gd_http_put_uint(b, req->body_len);
    gd_buf_append(b, "\r\n\r\n", 4);
    gd_buf_append(b, req->body, req->body_len);
}

/* Keeps what building the cache object needs of the request after the handler
 * returned: its path and headers (for Vary). */
static void copy_req(struct fetch *f, const gd_http_req *req)
{
    gd_buf_init(&f->reqbuf, GD_HTTP_MAX_HEAD + 1024);
    size_t need = req->url_len;
    for (int i = 0; i < req->nheaders; i++)
        need += req->headers[i].name_len + req->headers[i].value_len;
    gd_buf_reserve(&f->reqbuf, need + 16);
    gd_buf *b = &f->reqbuf;
    f->reqcopy = *req;
    size_t off = b->len;
    gd_buf_append(b, req->url, req->url_len);
    f->reqcopy.url = b->data + off;
    f->reqcopy.path = f->reqcopy.url;
    f->reqcopy.query = req->query ? f->reqcopy.url + (req->query - req->url) : NULL;
    for (int i = 0; i < req->nheaders; i++) {
        off = b->len;
        gd_buf_append(b, req->headers[i].name, req->headers[i].name_len);
        f->reqcopy.headers[i].name = b->data + off;
        off = b->len;
        gd_buf_append(b, req->headers[i].value, req->headers[i].value_len);
        f->reqcopy.headers[i].value = b->data + off;
    }
    f->reqcopy.body = "";
    f->reqcopy.body_len = 0;
    viewer_of(&f->reqcopy, &f->v);
    f->v.keep_alive = req->keep_alive;
    f->v.head = req->method == HTTP_HEAD;
}

static void waiter_free(struct waiter *w)
{
    viewer_drop(&w->v);
    gd_free(w->req);
    gd_free(w);
}

/* A waiter whose fetch's answer may not be shared (not storable: no-store, private,
 * Authorization ...) asks the origin itself, as a pass (never stored). */
static void waiter_alone(gd_edge *e, struct waiter *w)
{
    struct fetch *f = gd_calloc(1, sizeof *f);
    f->magic = FETCH_MAGIC;
    f->conn = w->conn;
    f->v.keep_alive = w->v.keep_alive;
    f->v.head = w->v.head;
    f->pass = 1;
    f->bs = e->cdn->bs;
    f->bs->refs++;
    f->p = &f->bs->p[f->bs->n - 1];
    f->key = gd_malloc(1);
    f->req = w->req;
    f->len = w->len;
    w->req = NULL;
    gd_buf_init(&f->reqbuf, 16);
    f->reqcopy.method = HTTP_GET;
    if (send_origin(e, f) < 0) {
        cdn_error(f->conn, 503, "the origin queue is full", f->v.keep_alive);
        fetch_free(f);
    }
}

static void wake_waiters(gd_edge *e, struct waiter *w, gd_cache_obj *o, int alone,
                         int status_on_error)
{
    double now = gd_edge_now();
    while (w) {
        struct waiter *n = w->next;
        if (o)
            serve_obj(e, w->conn, o, &w->v, "Hit", now, NULL);
        else if (alone)
            waiter_alone(e, w);
        else
            cdn_error(w->conn, status_on_error, "the origin did not answer", w->v.keep_alive);
        waiter_free(w);
        w = n;
    }
}

static int is_safe(int method)
{
    return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_OPTIONS ||
           method == HTTP_TRACE;
}

/* The path of a Location / Content-Location on the request's own origin: "/p..." or
 * "http(s)://<the request's Host>/p..."; 0 when it is elsewhere (RFC 9111 4.4: only
 * the same origin may be invalidated). */
static int same_origin_path(const gd_http_req *req, const char *v, size_t n, struct sv *path)
{
    const char *host = NULL;
    size_t hl = 0;
    for (int i = 0; i < req->nheaders; i++)
        if (hdr_is(&req->headers[i], "host", 4))
            host = req->headers[i].value, hl = req->headers[i].value_len;
    const char *s = v, *end = v + n;
    if (n >= 2 && s[0] == '/' && s[1] == '/') return 0;
    if (n == 0 || s[0] != '/') {
        size_t skip = n > 7 && !strncasecmp(s, "http://", 7)    ? 7
                      : n > 8 && !strncasecmp(s, "https://", 8) ? 8
                                                                : 0;
        if (!skip || !host) return 0;
        s += skip;
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *hend = slash ? slash : end;
        if ((size_t)(hend - s) != hl || strncasecmp(s, host, hl)) return 0;
        s = slash ? slash : end;
        if (s == end) s = "/", end = s + 1;
    }
    const char *q = s;
    while (q < end && *q != '?' && *q != '#') q++;
    *path = (struct sv){s, (size_t)(q - s)};
    return 1;
}

/* RFC 9111 4.4: a non-error answer to an unsafe request invalidates its target URI
 * (every stored response for that path) and the same-origin Location and
 * Content-Location. */
static void invalidate_after(gd_edge *e, const struct fetch *f, const gd_httpc_resp *resp)
{
    if (resp->status < 200 || resp->status >= 400) return;
    gd_cache *c = e->cdn->cache;
    int n = gd_cache_invalidate_path(c, f->reqcopy.path, f->reqcopy.path_len);
    for (int i = 0; i < resp->nheaders; i++) {
        const gd_http_header *h = &resp->headers[i];
        struct sv p;
        if ((hdr_is(h, "location", 8) || hdr_is(h, "content-location", 16)) &&
            same_origin_path(&f->reqcopy, h->value, h->value_len, &p))
            n += gd_cache_invalidate_path(c, p.s, p.n);
    }
    if (n > 0)
        gd_info("unsafe_invalidated", "method=%s path=%.*s objects=%d",
                http_method_str(f->reqcopy.method), (int)f->reqcopy.path_len, f->reqcopy.path, n);
}

static void on_origin(void *ud, int err, const gd_httpc_resp *resp)
{
    struct fetch *f = ud;
    GD_CHECK_OBJ(f, FETCH_MAGIC);
    gd_edge *e = &gd_the_edge;
    struct gd_cdn *d = e->cdn;
    double now = gd_edge_now();
    double delay_ms = gd_clock_game_ms(uv_hrtime() - f->start_ns);
    d->origin_ms_sum += delay_ms;
    d->origin_ms_n++;
    /* A 304 whose validator is not the stored one's may not update it (RFC 9111
     * 4.3.4): ask again, unconditionally; the waiters keep waiting. */
    if (!err && resp->status == 304 && f->stale &&
        !gd_cache_validators_match(f->stale, resp->headers, resp->nheaders)) {
        gd_info("revalidation_mismatch", "path=%.*s", (int)f->reqcopy.path_len, f->reqcopy.path);
        memmove(f->req + f->val_off, f->req + f->val_off + f->val_len,
                f->len - f->val_off - f->val_len);
        f->len -= f->val_len;
        f->val_len = 0;
        gd_cache_obj_unref(f->stale);
        f->stale = NULL;
        f->stale_usable_on_error = 0;
        if (send_origin(e, f) == 0) return;
        err = GD_EAGAIN;
    }
    struct waiter *waiters = NULL;
    if (f->collapsing) waiters = gd_cache_pending_end(d->cache, f->key, f->keylen);
    int failed = err != 0 || resp->status >= 500;
    if (failed) d->origin_errors++;
    /* The origin failed: a stale object may still serve (stale-if-error). */
    if (failed && f->stale && f->stale_usable_on_error) {
        gd_cache_note_stale_if_error(d->cache);
        if (f->conn) serve_obj(e, f->conn, f->stale, &f->v, "Hit", now, NULL);
        wake_waiters(e, waiters, f->stale, 0, 0);
        fetch_free(f);
        return;
    }
    if (err) {
        int status = err == GD_ETIMEDOUT ? 504 : 502;
        if (f->conn) cdn_error(f->conn, status, "the origin did not answer", f->v.keep_alive);
        wake_waiters(e, waiters, NULL, 0, status);
        fetch_free(f);
        return;
    }
    if (!is_safe(f->reqcopy.method)) invalidate_after(e, f, resp);
    gd_cache_obj *o = NULL;
    const char *xc = "Miss";
    if (resp->status == 304 && f->stale) {
        gd_cache_refresh(d->cache, f->stale, f->p, resp->headers, resp->nheaders, now,
                         delay_ms / 1000, &o);
        xc = "RefreshHit";
    } else if (!f->pass && f->reqcopy.method == HTTP_GET) {
        gd_cache_times t;
        gd_http_header hs[GD_HTTP_MAX_HEADERS + 1];
        int nh = resp->nheaders, dated = 0;
        for (int i = 0; i < nh; i++) dated |= hdr_is(&resp->headers[i], "date", 4);
        memcpy(hs, resp->headers, (size_t)nh * sizeof hs[0]);
        if (!dated) /* RFC 9110 6.6.1: a cache adds the Date a response lacks */
            hs[nh++] = (gd_http_header){"Date", 4, http_now(), strlen(http_now())};
        int ok = gd_cache_ttl_after(f->p, resp->status, hs, nh, now, delay_ms / 1000, &t);
        if (ok && (!f->auth || (t.flags & GD_CACHE_T_AUTH_OK)) &&
            gd_cache_obj_new(f->key, f->keylen, &f->reqcopy, resp->status, hs, nh, resp->body,
                             resp->body_len, now, &t, &o) == 0)
            gd_cache_insert(d->cache, o);
        else if (!ok && resp->status < 500)
            /* Not storable for anyone: the next requests for the key go to the origin
             * side by side instead of queueing behind one another (hit-for-miss). */
            gd_cache_insert_pass(d->cache, f->key, f->keylen, f->reqcopy.path, f->reqcopy.path_len,
                                 now, PASS_TTL);
        if (resp->status >= 500) xc = "Error";
    } else if (resp->status >= 500) {
        xc = "Error";
    }
    if (o) {
        if (f->conn) serve_obj(e, f->conn, o, &f->v, xc, now, resp);
        wake_waiters(e, waiters, o, 0, 0);
        gd_cache_obj_unref(o);
    } else {
        if (f->conn) serve_resp(e, f->conn, resp, f->v.keep_alive, f->v.head, xc);
        /* Not storable, so not to be shared either (RFC 9111 3: no-store, private,
         * Authorization ...): each waiter asks the origin for itself. */
        wake_waiters(e, waiters, NULL, 1, 0);
    }
    fetch_free(f);
}

static struct fetch *fetch_new(gd_edge *e, gd_http_conn *c, gd_http_req *req,
                               const gd_cache_policy *p, gd_cache_obj *stale, int cacheable)
{
    struct fetch *f = gd_calloc(1, sizeof *f);
    f->magic = FETCH_MAGIC;
    f->conn = c;
    f->bs = e->cdn->bs;
    f->bs->refs++;
    f->p = p;
    f->stale = stale ? gd_cache_obj_ref(stale) : NULL;
    f->key = gd_malloc(e->cdn->key.len ? e->cdn->key.len : 1);
    if (e->cdn->key.len) memcpy(f->key, e->cdn->key.data, e->cdn->key.len);
    f->keylen = e->cdn->key.len;
    gd_buf b;
    gd_buf_init(&b, GD_HTTP_MAX_HEAD + GD_HTTP_MAX_BODY + 4096);
    build_request(req, stale, &b, c, cacheable, &f->val_off, &f->val_len);
    f->req = b.data;
    f->len = b.len;
    copy_req(f, req);
    f->reqcopy.method = req->method == HTTP_HEAD ? HTTP_GET : req->method;
    for (int i = 0; i < req->nheaders; i++)
        f->auth |= hdr_is(&req->headers[i], "authorization", 13);
    return f;
}

/* ---- the request path ---- */

static void cdn_handle(gd_edge *e, gd_http_conn *c, gd_http_req *req)
{
    struct gd_cdn *d = e->cdn;
    double now = gd_edge_now();
    const gd_cache_policy *p = &d->bs->p[d->bs->n - 1];
    for (int i = 0; i < d->bs->n; i++)
        if (gd_cache_path_match(d->bs->p[i].path, req->path, req->path_len)) {
            p = &d->bs->p[i];
            break;
        }
    int cacheable_method = req->method == HTTP_GET || req->method == HTTP_HEAD;
    gd_buf_reset(&d->key);
    if (!cacheable_method || gd_cache_key(p, req, &d->key) < 0) {
        /* Not cacheable: straight to the origin. */
        gd_buf_reset(&d->key);
        struct fetch *f = fetch_new(e, c, req, p, NULL, 0);
        f->reqcopy.method = req->method;
        f->pass = 1;
        if (send_origin(e, f) < 0) {
            cdn_error(c, 503, "the origin queue is full", req->keep_alive);
            fetch_free(f);
        }
        return;
    }
    gd_cache_obj *o = NULL;
    gd_cache_state st = gd_cache_lookup(d->cache, d->key.data, d->key.len, req, now, &o);
    struct viewer v;
    if (st == GD_CACHE_FRESH) {
        viewer_of(req, &v);
        serve_obj(e, c, o, &v, "Hit", now, NULL);
        gd_cache_obj_unref(o);
        return;
    }
    if (st == GD_CACHE_STALE) {
        /* stale-while-revalidate: answer now, refresh in the background once. The fetch
         * copies what it needs of the request before the answer releases it. */
        struct fetch *f = NULL;
        if (gd_cache_pending_begin(d->cache, d->key.data, d->key.len, now, p->lock_timeout)) {
            f = fetch_new(e, NULL, req, p, o, 1);
            f->collapsing = 1;
        }
        viewer_of(req, &v);
        serve_obj(e, c, o, &v, "Hit", now, NULL);
        if (f && send_origin(e, f) < 0) {
            gd_cache_pending_end(d->cache, f->key, f->keylen);
            fetch_free(f);
        }
        gd_cache_obj_unref(o);
        return;
    }
    if (st == GD_CACHE_PASS) { /* uncacheable lately: to the origin, no waiting */
        struct fetch *f = fetch_new(e, c, req, p, NULL, 1);
        if (send_origin(e, f) < 0) {
            cdn_error(c, 503, "the origin queue is full", req->keep_alive);
            fetch_free(f);
        }
        return;
    }
    /* Miss or expired: one fetch per key; the others wait for it. */
    if (!gd_cache_pending_begin(d->cache, d->key.data, d->key.len, now, p->lock_timeout)) {
        void **slot = gd_cache_pending_slot(d->cache, d->key.data, d->key.len);
        gd_cache_obj_unref(o);
        if (!slot) { /* cannot happen: pending says a fetch is in flight */
            cdn_error(c, 503, "collapsing failed", req->keep_alive);
            return;
        }
        struct waiter *w = gd_calloc(1, sizeof *w);
        w->conn = c;
        viewer_of(req, &w->v);
        viewer_keep(&w->v);
        gd_buf b;
        gd_buf_init(&b, GD_HTTP_MAX_HEAD + GD_HTTP_MAX_BODY + 4096);
        build_request(req, NULL, &b, c, 1, NULL, NULL);
        w->req = b.data;
        w->len = b.len;
        w->next = *slot;
        *slot = w;
        return;
    }
    struct fetch *f = fetch_new(e, c, req, p, st == GD_CACHE_MISS ? NULL : o, 1);
    f->collapsing = 1;
    f->stale_usable_on_error = st == GD_CACHE_STALE_IF_ERROR_ONLY;
    gd_cache_obj_unref(o);
    if (send_origin(e, f) < 0) {
        struct waiter *w = gd_cache_pending_end(d->cache, d->key.data, d->key.len);
        wake_waiters(e, w, NULL, 0, 503);
        cdn_error(c, 503, "the origin queue is full", req->keep_alive);
        fetch_free(f);
    }
}

/* ---- admin ---- */

static int cdn_invalidate(gd_edge *e, const json_t *paths, char *err, size_t errlen)
{
    if (!json_is_array(paths) || json_array_size(paths) == 0 || json_array_size(paths) > 3000) {
        snprintf(err, errlen, "paths: an array of 1..3000 paths (\"/a.html\", \"/images/*\")");
        return GD_EINVAL;
    }
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p)
    {
        const char *s = json_string_value(p);
        if (!s || s[0] != '/' || (strchr(s, '*') && strchr(s, '*')[1] != 0)) {
            snprintf(err, errlen, "paths[%zu]: a path starting with '/', '*' only at the end", i);
            return GD_EINVAL;
        }
    }
    int total = 0;
    json_array_foreach(paths, i, p)
    {
        int n = gd_cache_invalidate(e->cdn->cache, json_string_value(p));
        if (n > 0) total += n;
    }
    gd_info("invalidated", "paths=%zu objects=%d", json_array_size(paths), total);
    return total;
}

static json_t *cdn_stats(gd_edge *e)
{
    const gd_cache_stats *s = gd_cache_stats_get(e->cdn->cache);
    double lookups = (double)(s->hits + s->misses + s->stale_served);
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:s}", "hits",
        (json_int_t)s->hits, "passes", (json_int_t)s->passes, "misses", (json_int_t)s->misses,
        "collapsed", (json_int_t)s->collapsed, "stale", (json_int_t)s->stale_served, "refresh_hits",
        (json_int_t)s->refresh_hits, "evicted", (json_int_t)s->evicted, "invalidated",
        (json_int_t)s->invalidated, "objects", (json_int_t)s->objects, "bytes",
        (json_int_t)s->bytes, "hit_rate",
        lookups > 0 ? (double)(s->hits + s->stale_served) / lookups : 0.0, "origin_latency_ms",
        e->cdn->origin_ms_n ? e->cdn->origin_ms_sum / (double)e->cdn->origin_ms_n : 0.0,
        "origin_ms_sum", e->cdn->origin_ms_sum, "origin_fetches", (json_int_t)e->cdn->origin_ms_n,
        "origin", e->cdn->origin_addr);
}

static void cdn_metrics(gd_edge *e, gd_buf *b, const char *labels)
{
    const gd_cache_stats *s = gd_cache_stats_get(e->cdn->cache);
    double lookups = (double)(s->hits + s->misses + s->stale_served);
    gd_prom_head(b, "CacheHitRate", "gauge", "Share of lookups answered from the cache (0..1)");
    gd_prom_sample(b, "CacheHitRate", labels,
                   lookups > 0 ? (double)(s->hits + s->stale_served) / lookups : 0);
    gd_prom_head(b, "OriginLatency", "gauge", "Mean origin answer time, game milliseconds");
    gd_prom_sample(b, "OriginLatency", labels,
                   e->cdn->origin_ms_n ? e->cdn->origin_ms_sum / (double)e->cdn->origin_ms_n : 0);
    struct {
        const char *name;
        uint64_t v;
    } c[] = {{"gameday_cdn_hits_total", s->hits},
             {"gameday_cdn_misses_total", s->misses},
             {"gameday_cdn_collapsed_total", s->collapsed},
             {"gameday_cdn_passes_total", s->passes},
             {"gameday_cdn_stale_total", s->stale_served},
             {"gameday_cdn_refresh_hits_total", s->refresh_hits},
             {"gameday_cdn_evicted_total", s->evicted},
             {"gameday_cdn_invalidated_total", s->invalidated},
             {"gameday_cdn_origin_requests_total", e->cdn->origin_requests},
             {"gameday_cdn_origin_errors_total", e->cdn->origin_errors}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        gd_prom_head(b, c[i].name, "counter", "cdn counter");
        gd_prom_sample(b, c[i].name, labels, (double)c[i].v);
    }
    gd_prom_head(b, "gameday_cdn_objects", "gauge", "Objects stored");
    gd_prom_sample(b, "gameday_cdn_objects", labels, (double)s->objects);
    gd_prom_head(b, "gameday_cdn_bytes", "gauge", "Bytes charged to the cache");
    gd_prom_sample(b, "gameday_cdn_bytes", labels, (double)s->bytes);
}

static void cdn_stats_add(gd_edge *e, json_t *stats)
{
    json_object_set_new(stats, "cache", cdn_stats(e));
}

static void cdn_free(gd_edge *e)
{
    struct gd_cdn *d = e->cdn;
    if (!d) return;
    if (d->origin) gd_httpc_pool_close(d->origin);
    bset_unref(d->bs);
    gd_cache_free(d->cache);
    gd_buf_free(&d->key);
    gd_buf_free(&d->out);
    gd_free(d);
    e->cdn = NULL;
}

const gd_edge_mode_ops gd_cdn_ops = {
    .name = "cdn",
    .check = cdn_check,
    .apply = cdn_apply,
    .serve = cdn_handle,
    .stats = cdn_stats_add,
    .metrics = cdn_metrics,
    .invalidate = cdn_invalidate,
    .free = cdn_free,
};
