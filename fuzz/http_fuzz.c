/* libFuzzer target for the HTTP/1.1 server's request parsing (src/core/http.c): each input
 * is the byte stream of one client connection, fed through the server's real read path
 * on a connection without a socket. Build and run with fuzz/run. */
#include "core/buf.h"
#include "core/http.h"
#include "core/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uv_loop_t loop;
static gd_http_server srv;
static gd_buf sink[3];

/* A request the handler answers later (path "/later..."), with its answer made then:
 * the request's pointers are valid during the handler call only. */
static gd_http_conn *deferred;
static char deferred_body[4096];
static size_t deferred_len;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "http_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* What the server promises a handler about every request it dispatches. */
static void check_req(const gd_http_req *r)
{
    CHECK(r->url_len > 0 && r->url_len + 2 <= srv.max_line);
    for (size_t i = 0; i < r->url_len; i++) {
        unsigned char ch = (unsigned char)r->url[i];
        CHECK(ch > ' ' && ch != 0x7f);
    }
    CHECK(r->path_len > 0);
    CHECK(r->query == NULL ||
          (r->query > r->url && r->query + r->query_len == r->url + r->url_len));
    CHECK(r->nheaders >= 0 && r->nheaders <= srv.max_headers);
    int hosts = 0;
    for (int i = 0; i < r->nheaders; i++) {
        const gd_http_header *h = &r->headers[i];
        CHECK(h->name_len > 0);
        for (size_t k = 0; k < h->name_len; k++) CHECK(is_tchar((unsigned char)h->name[k]));
        for (size_t k = 0; k < h->value_len; k++) {
            unsigned char ch = (unsigned char)h->value[k];
            CHECK(ch >= ' ' || ch == '\t');
            CHECK(ch != 0x7f);
        }
        if (h->name_len == 4 && !strncasecmp(h->name, "host", 4)) hosts++;
        if (h->name_len == 14 && !strncasecmp(h->name, "content-length", 14)) {
            size_t k = 0;
            while (k < h->value_len && h->value[k] >= '0' && h->value[k] <= '9') k++;
            CHECK(k == h->value_len && k > 0);
        }
        if (h->name_len == 17 && !strncasecmp(h->name, "transfer-encoding", 17))
            CHECK(h->value_len == 7 && !strncasecmp(h->value, "chunked", 7));
    }
    CHECK(hosts <= 1);
    CHECK(r->http_minor <= 9); /* HTTP/1.2 and up are served as 1.1 (RFC 9110 §2.5) */
    CHECK(r->http_minor == 0 || hosts == 1);
    CHECK(r->body_len <= srv.max_body);
}

/* The answer echoes what was parsed, so runs that split the input differently can be
 * compared byte for byte. */
static size_t digest(const gd_http_req *r, char *out, size_t cap)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < r->body_len; i++) h = (h ^ (unsigned char)r->body[i]) * 1099511628211ull;
    int n = snprintf(out, cap, "%s %.*s|%.*s|%.*s|%d|%zu|%llx|%d|%d", http_method_str(r->method),
                     (int)r->url_len, r->url, (int)r->path_len, r->path, (int)r->query_len,
                     r->query ? r->query : "", r->nheaders, r->body_len, (unsigned long long)h,
                     r->keep_alive, r->http_minor);
    size_t o = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    for (int i = 0; i < r->nheaders && o + 8 < cap; i++) {
        n = snprintf(out + o, cap - o, "|%.*s=%.*s", (int)r->headers[i].name_len,
                     r->headers[i].name, (int)r->headers[i].value_len, r->headers[i].value);
        o = n < 0 ? o : o + (size_t)n < cap ? o + (size_t)n : cap - 1;
    }
    return o;
}

static void handler(gd_http_conn *c, gd_http_req *req, void *ud)
{
    (void)ud;
    check_req(req);
    char body[4096];
    if (deferred == NULL && req->path_len >= 6 && !memcmp(req->path, "/later", 6)) {
        deferred = c;
        deferred_len = digest(req, deferred_body, sizeof deferred_body);
        return;
    }
    size_t n = digest(req, body, sizeof body);
    if (req->path_len >= 4 && !memcmp(req->path, "/raw", 4))
        gd_http_respond_raw(c, "HTTP/1.1 204 No Content\r\n\r\n", 27, req->keep_alive);
    else
        gd_http_respond(c, 200, NULL, "text/plain", body, n);
}

static void answer_deferred(void)
{
    gd_http_conn *c = deferred;
    deferred = NULL;
    gd_http_respond(c, 200, "X-Later: 1\r\n", "text/plain", deferred_body, deferred_len);
}

/* Feeds data to a new connection in pieces (whole if split is 0, else sizes drawn from
 * seed), answering the deferred request between pieces; the output goes to out. */
static void run(const uint8_t *data, size_t size, int split, uint32_t seed, gd_buf *out)
{
    long live = gd_mem_live();
    gd_buf_reset(out);
    gd_http_conn *c = gd_http_conn_fake(&srv, out);
    size_t off = 0, spread = size / 400 > 37 ? size / 400 : 37;
    while (off < size && !gd_http_conn_closing(c)) {
        size_t n = size - off;
        if (split) {
            seed = seed * 1103515245u + 12345u;
            size_t want = 1 + (seed >> 8) % spread;
            if (want < n) n = want;
        }
        size_t taken = gd_http_conn_feed(c, data + off, n);
        off += taken;
        if (deferred)
            answer_deferred();
        else if (taken < n)
            break; /* closing */
    }
    while (deferred) answer_deferred();
    gd_http_conn_free_fake(c);
    CHECK(gd_mem_live() == live);
    CHECK(srv.nconns == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        uv_loop_init(&loop);
        gd_http_server_init(&srv, &loop, handler, NULL);
        for (int i = 0; i < 3; i++) {
            gd_buf_init(&sink[i], 64 * 1024 * 1024);
            gd_buf_reserve(&sink[i], 4096); /* allocated once, not counted per run */
        }
        ready = 1;
    }
    uint32_t seed = (uint32_t)size * 2654435761u;
    for (size_t i = 0; i < size && i < 16; i++) seed = seed * 31 + data[i];

    /* Default limits: the answers must not depend on how the bytes were split. */
    run(data, size, 0, seed, &sink[0]);
    run(data, size, 1, seed, &sink[1]);
    if (sink[0].len != sink[1].len ||
        (sink[0].len && memcmp(sink[0].data, sink[1].data, sink[0].len) != 0)) {
        fprintf(stderr,
                "http_fuzz: whole and split input answered differently:\n--- whole\n%.*s\n"
                "--- split\n%.*s\n",
                (int)sink[0].len, sink[0].data, (int)sink[1].len, sink[1].data);
        abort();
    }

    /* Tight limits, to reach 413, 414 and 431 with small inputs. */
    srv.max_line = 64;
    srv.max_head = 256;
    srv.max_headers = 4;
    srv.max_body = 48;
    run(data, size, 1, seed ^ 0x5bd1e995u, &sink[2]);
    srv.max_line = GD_HTTP_MAX_LINE;
    srv.max_head = GD_HTTP_MAX_HEAD;
    srv.max_headers = GD_HTTP_MAX_HEADERS;
    srv.max_body = GD_HTTP_MAX_BODY;
    return 0;
}
