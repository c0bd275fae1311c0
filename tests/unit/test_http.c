/* Tests of the HTTP server (src/core/http.c) and client pool (src/core/httpc.c) on
 * loopback: keep-alive reuse, pipelining, answers given later, refused requests (limits,
 * smuggling shapes), slow-client timeouts, deadlines and refused connections. */
#include "core/err.h"
#include "core/http.h"
#include "core/httpc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define IP "127.0.0.1"

static uv_loop_t loop;
static gd_http_server srv;
static int port;

static size_t max_unsent_seen; /* the most unsent output a request was dispatched with */

struct deferred {
    uv_timer_t t;
    gd_http_conn *c;
};

static void on_deferred(uv_timer_t *t)
{
    struct deferred *d = (struct deferred *)t;
    gd_http_respond(d->c, 200, NULL, "text/plain", "later", 5);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* /echo answers the path at once, /later after 10 ms, /never never, /body the length
 * and the first 64 bytes of its body and its header count ("3|abc|2"). */
static void handler(gd_http_conn *c, gd_http_req *req, void *ud)
{
    if (req->path_len == 5 && !memcmp(req->path, "/body", 5)) {
        char b[256];
        int n = snprintf(b, sizeof b, "%zu|%.*s|%d", req->body_len,
                         (int)(req->body_len < 64 ? req->body_len : 64), req->body, req->nheaders);
        gd_http_respond(c, 200, NULL, "text/plain", b, (size_t)n);
        return;
    }
    if (req->path_len == 6 && !memcmp(req->path, "/later", 6)) {
        struct deferred *d = calloc(1, sizeof *d);
        d->c = c;
        uv_timer_init(&loop, &d->t);
        uv_timer_start(&d->t, on_deferred, 10, 0);
        return;
    }
    if (req->path_len == 6 && !memcmp(req->path, "/never", 6)) return;
    size_t u = gd_http_conn_unsent(c);
    if (u > max_unsent_seen) max_unsent_seen = u;
    gd_http_respond(c, 200, NULL, "text/plain", req->path, req->path_len);
}

static void setup(void)
{
    uv_loop_init(&loop);
    gd_http_server_init(&srv, &loop, handler, NULL);
    for (port = 20000 + getpid() % 20000;; port++)
        if (gd_http_server_listen(&srv, IP, port) == 0) break;
}

static void teardown(void)
{
    gd_http_server_close(&srv, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

TestSuite(http, .init = setup, .fini = teardown);

struct result {
    int err, status, calls;
    char body[64];
};

static void on_answer(void *ud, int err, const gd_httpc_resp *resp)
{
    struct result *r = ud;
    r->calls++;
    r->err = err;
    if (!err) {
        r->status = resp->status;
        snprintf(r->body, sizeof r->body, "%.*s", (int)resp->body_len, resp->body);
    }
}

static void run_until(const int *calls, int want)
{
    for (int i = 0; i < 100000 && *calls < want; i++) uv_run(&loop, UV_RUN_ONCE);
}

static const char req_echo[] = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";

Test(http, keep_alive_reuses_one_connection)
{
    gd_httpc_pool *p = gd_httpc_pool_new(&loop, 0x7f000001, port, 1, 16);
    struct result r[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(gd_httpc_request(p, req_echo, sizeof req_echo - 1, 2000, on_answer, &r[i]), 0);
        run_until(&r[i].calls, 1);
        cr_assert_eq(r[i].err, 0);
        cr_assert_eq(r[i].status, 200);
        cr_assert_str_eq(r[i].body, "/echo");
    }
    cr_assert_eq(srv.accepted, 1, "accepted %llu connections", (unsigned long long)srv.accepted);
    gd_httpc_pool_close(p);
}

Test(http, answer_given_later)
{
    static const char q[] = "GET /later HTTP/1.1\r\nHost: x\r\n\r\n";
    gd_httpc_pool *p = gd_httpc_pool_new(&loop, 0x7f000001, port, 1, 16);
    struct result r = {0};
    gd_httpc_request(p, q, sizeof q - 1, 2000, on_answer, &r);
    run_until(&r.calls, 1);
    cr_assert_eq(r.err, 0);
    cr_assert_str_eq(r.body, "later");
    gd_httpc_pool_close(p);
}

Test(http, drain_finishes_what_it_has_then_closes)
{
    static const char q[] = "GET /later HTTP/1.1\r\nHost: x\r\n\r\n";
    gd_httpc_pool *p = gd_httpc_pool_new(&loop, 0x7f000001, port, 1, 16);
    struct result later = {0}, queued = {0}, refused = {0};
    cr_assert_eq(gd_httpc_request(p, q, sizeof q - 1, 2000, on_answer, &later), 0);
    cr_assert_eq(gd_httpc_request(p, req_echo, sizeof req_echo - 1, 2000, on_answer, &queued), 0);
    gd_httpc_pool_drain(p);
    cr_assert_eq(gd_httpc_request(p, req_echo, sizeof req_echo - 1, 2000, on_answer, &refused),
                 GD_ECLOSED);
    run_until(&queued.calls, 1);
    cr_assert_eq(later.calls, 1);
    cr_assert_eq(later.err, 0);
    cr_assert_str_eq(later.body, "later");
    cr_assert_eq(queued.err, 0);
    cr_assert_str_eq(queued.body, "/echo");
    cr_assert_eq(refused.calls, 0);
    /* Nothing left: the pool closes its connection and frees itself (no close call;
     * LeakSanitizer would report a pool that stayed). */
    for (int i = 0; i < 100000 && srv.nconns > 0; i++) uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(srv.nconns, 0);
}

Test(http, deadline_gives_timeout)
{
    static const char q[] = "GET /never HTTP/1.1\r\nHost: x\r\n\r\n";
    gd_httpc_pool *p = gd_httpc_pool_new(&loop, 0x7f000001, port, 1, 16);
    struct result r = {0};
    gd_httpc_request(p, q, sizeof q - 1, 30, on_answer, &r);
    run_until(&r.calls, 1);
    cr_assert_eq(r.err, GD_ETIMEDOUT, "err %d", r.err);
    gd_httpc_pool_close(p);
}

Test(http, refused_connection)
{
    gd_httpc_pool *p = gd_httpc_pool_new(&loop, 0x7f000001, 1, 1, 16);
    struct result r = {0};
    gd_httpc_request(p, req_echo, sizeof req_echo - 1, 2000, on_answer, &r);
    run_until(&r.calls, 1);
    cr_assert_eq(r.err, GD_ECONNREFUSED, "err %d", r.err);
    gd_httpc_pool_close(p);
}

/* A blocking client in a thread, for raw bytes the pool would never send. */
struct raw {
    const char *send;
    size_t send_len; /* 0: strlen(send) */
    char got[262144];
    size_t n;
};

static void *raw_client(void *arg)
{
    struct raw *r = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, IP, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        size_t len = r->send_len ? r->send_len : strlen(r->send);
        for (size_t o = 0; o < len;) {
            ssize_t w = write(fd, r->send + o, len - o);
            if (w <= 0) break;
            o += (size_t)w;
        }
        ssize_t k;
        while (r->n < sizeof r->got - 1 &&
               (k = read(fd, r->got + r->n, sizeof r->got - 1 - r->n)) > 0)
            r->n += (size_t)k;
    }
    close(fd);
    return NULL;
}

static void raw_exchange(struct raw *r)
{
    pthread_t th;
    pthread_create(&th, NULL, raw_client, r);
    /* Serve until the client has read everything (the server closes the connection). */
    for (int i = 0; i < 5000; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (pthread_tryjoin_np(th, NULL) == 0) {
            r->got[r->n] = 0;
            return;
        }
        usleep(1000);
    }
    cr_assert_fail("the raw client did not finish");
}

Test(http, pipelined_requests_answered_in_order)
{
    struct raw r = {.send =
                        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /later HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"};
    raw_exchange(&r);
    r.got[r.n] = 0;
    char *a = strstr(r.got, "\r\n\r\n/a"), *b = strstr(r.got, "later"), *c = strstr(r.got, "/c");
    cr_assert(a && b && c && a < b && b < c, "answers out of order: %s", r.got);
}

Test(http, listen_on_a_busy_port_fails_cleanly)
{
    /* A failed listen leaves nothing closing in the server: a retry on the same struct
     * (as setup() does on the next port) must work, and so must freeing it. */
    gd_http_server other;
    gd_http_server_init(&other, &loop, handler, NULL);
    cr_assert_eq(gd_http_server_listen(&other, IP, port), GD_EEXIST);
    int p2 = port + 1;
    while (gd_http_server_listen(&other, IP, p2) != 0) p2++;
    gd_httpc_pool *p = gd_httpc_pool_new(&loop, 0x7f000001, p2, 1, 16);
    struct result r = {0};
    gd_httpc_request(p, req_echo, sizeof req_echo - 1, 2000, on_answer, &r);
    run_until(&r.calls, 1);
    cr_assert_eq(r.status, 200);
    gd_httpc_pool_close(p);
    gd_http_server_close(&other, NULL);
    for (int i = 0; i < 10; i++) uv_run(&loop, UV_RUN_NOWAIT);
}

Test(http, malformed_request_gets_400_and_close)
{
    struct raw r = {.send = "GARBAGE\r\n\r\n"};
    raw_exchange(&r);
    r.got[r.n] = 0;
    cr_assert(strncmp(r.got, "HTTP/1.1 400 ", 13) == 0, "got: %s", r.got);
    cr_assert(strstr(r.got, "Connection: close") != NULL);
    cr_assert_eq(srv.bad_requests, 1);
}

Test(http, too_many_headers_gets_431)
{
    static char big[8192];
    size_t o = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < GD_HTTP_MAX_HEADERS + 5; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "X-H%d: v\r\n", i);
    snprintf(big + o, sizeof big - o, "\r\n");
    struct raw r = {.send = big};
    raw_exchange(&r);
    r.got[r.n] = 0;
    cr_assert(strncmp(r.got, "HTTP/1.1 431 ", 13) == 0, "got: %.40s", r.got);
}

Test(http_query, decodes_and_finds_parameters)
{
    char out[32];
    const char *q = "a=1&key=hello%20w+x&empty=&k=";
    cr_assert_eq(gd_http_query_get(q, strlen(q), "key", out, sizeof out), 9);
    cr_assert_str_eq(out, "hello w x");
    cr_assert_eq(gd_http_query_get(q, strlen(q), "empty", out, sizeof out), 0);
    cr_assert_eq(gd_http_query_get(q, strlen(q), "nope", out, sizeof out), -1);
    cr_assert_eq(gd_http_query_get(q, strlen(q), "a", out, 1), GD_ETOOBIG);
    cr_assert_eq(gd_http_query_get(NULL, 0, "a", out, sizeof out), -1);
}

/* ---- refused requests: each gets its status, a reason, Connection: close, and the
 * connection closed (raw_exchange returns only once the server closed it) ---- */

struct refusal {
    const char *name, *send;
    size_t len; /* 0: strlen(send) */
    int status;
    const char *why; /* in the body */
};

static void expect_refusals(const struct refusal *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct raw *r = calloc(1, sizeof *r);
        r->send = t[i].send;
        r->send_len = t[i].len;
        uint64_t bad = srv.bad_requests;
        raw_exchange(r);
        char want[16];
        snprintf(want, sizeof want, "HTTP/1.1 %d ", t[i].status);
        cr_expect(strncmp(r->got, want, 13) == 0, "%s: want %d, got: %.60s", t[i].name, t[i].status,
                  r->got);
        cr_expect(strstr(r->got, "\r\nConnection: close\r\n") != NULL, "%s: no Connection: close",
                  t[i].name);
        cr_expect(strstr(r->got, t[i].why) != NULL, "%s: reason \"%s\" not in: %s", t[i].name,
                  t[i].why, r->got);
        /* One answer only: nothing after the refused request is served. */
        cr_expect(strstr(r->got + 1, "HTTP/1.1 ") == NULL, "%s: more than one answer: %s",
                  t[i].name, r->got);
        cr_expect_eq(srv.bad_requests, bad + 1, "%s: bad_requests not counted", t[i].name);
        free(r);
    }
}

#define H "Host: x\r\n"

Test(http, content_length_and_transfer_encoding_conflicts_refused)
{
    static const struct refusal t[] = {
        {"CL twice, equal",
         "POST /body HTTP/1.1\r\n" H "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 0, 400,
         "Content-Length"},
        {"CL twice, different",
         "POST /body HTTP/1.1\r\n" H "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 0, 400,
         "Content-Length"},
        {"CL list", "POST /body HTTP/1.1\r\n" H "Content-Length: 3, 3\r\n\r\nabc", 0, 400,
         "invalid Content-Length"},
        {"CL sign", "POST /body HTTP/1.1\r\n" H "Content-Length: +3\r\n\r\nabc", 0, 400,
         "invalid Content-Length"},
        {"CL then TE",
         "POST /body HTTP/1.1\r\n" H "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         0, 400, "Transfer-Encoding"},
        {"TE then CL",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         0, 400, "Transfer-Encoding"},
        {"TE chunked, identity",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: chunked, identity\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         0, 400, "not chunked"},
        {"TE identity", "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\nabc", 0,
         400, "not chunked"},
        {"TE xchunked",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0,
         400, "not chunked"},
        {"TE chunked;x",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: chunked;x=1\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
         0, 400, "not chunked"},
        {"TE twice",
         "POST /body HTTP/1.1\r\n" H
         "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         0, 400, "more than one Transfer-Encoding"},
        {"TE identity then chunked",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n"
         "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
         0, 400, "more than one Transfer-Encoding"},
        {"TE gzip, chunked",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         0, 501, "transfer coding other than chunked"},
        {"TE in HTTP/1.0",
         "POST /body HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 400,
         "HTTP/1.0"},
        {"TE folded",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
         0, 400, "obs-fold"},
        {"CL with space before colon", "POST /body HTTP/1.1\r\n" H "Content-Length : 3\r\n\r\nabc",
         0, 400, "whitespace in a header field name"},
        {"TE with space before colon",
         "POST /body HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         0, 400, "whitespace in a header field name"},
        {"CONNECT with a body",
         "CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\nContent-Length: 5\r\n\r\n"
         "GET /x HTTP/1.1\r\n\r\n",
         0, 400, "CONNECT with a body"},
    };
    expect_refusals(t, sizeof t / sizeof t[0]);
}

#define NUL_REQ "GET /echo HTTP/1.1\r\n" H "X-A: a\0b\r\n\r\n"

Test(http, malformed_lines_refused)
{
    static const struct refusal t[] = {
        {"obs-fold", "GET /echo HTTP/1.1\r\n" H "X-A: a\r\n b\r\n\r\n", 0, 400, "obs-fold"},
        {"obs-fold with tab", "GET /echo HTTP/1.1\r\n" H "X-A: a\r\n\tb\r\n\r\n", 0, 400,
         "obs-fold"},
        {"space before the first field", "GET /echo HTTP/1.1\r\n " H "\r\n", 0, 400, "obs-fold"},
        {"bare CR in a value", "GET /echo HTTP/1.1\r\n" H "X-A: a\rb\r\n\r\n", 0, 400,
         "CR not followed by LF"},
        {"bare CR ends the head",
         "GET /echo HTTP/1.1\r\n" H "\rGET /smuggled HTTP/1.1\r\n" H "\r\n", 0, 400,
         "CR not followed by LF"},
        {"bare CR after the request line", "GET /echo HTTP/1.1\rX" H "\r\n", 0, 400,
         "CR not followed by LF"},
        {"bare LF line ends", "GET /echo HTTP/1.1\n" H "\n", 0, 400, "bare LF"},
        {"bare LF after a field", "GET /echo HTTP/1.1\r\n" H "X-A: a\nX-B: b\r\n\r\n", 0, 400,
         "bare LF"},
        {"bare LF ends the head", "GET /echo HTTP/1.1\r\n" H "\n", 0, 400, "bare LF"},
        {"NUL in a value", NUL_REQ, sizeof NUL_REQ - 1, 400, "NUL"},
        {"control byte in a value", "GET /echo HTTP/1.1\r\n" H "X-A: a\001b\r\n\r\n", 0, 400,
         "control"},
        {"DEL opening a value", "GET /echo HTTP/1.1\r\n" H "X-A:\177b\r\n\r\n", 0, 400, "control"},
        {"space before the colon", "GET /echo HTTP/1.1\r\nHost : x\r\n\r\n", 0, 400,
         "whitespace in a header field name"},
        {"space inside a name", "GET /echo HTTP/1.1\r\n" H "X A: b\r\n\r\n", 0, 400,
         "whitespace in a header field name"},
        {"invalid name character", "GET /echo HTTP/1.1\r\n" H "X(A): b\r\n\r\n", 0, 400,
         "invalid character"},
        {"tab in the target", "GET /a\tb HTTP/1.1\r\n" H "\r\n", 0, 400, "tab in the request line"},
        {"form feed in the target", "GET /a\fb HTTP/1.1\r\n" H "\r\n", 0, 400, "control"},
        {"two spaces", "GET  /echo HTTP/1.1\r\n" H "\r\n", 0, 400, "malformed request line"},
        {"trailing space", "GET /echo HTTP/1.1 \r\n" H "\r\n", 0, 400, "invalid HTTP version"},
        {"HTTP/0.9", "GET /echo\r\n\r\n", 0, 400, "malformed request line"},
        {"HTTP misspelt", "GET /echo HTDP/1.1\r\n" H "\r\n", 0, 400, "malformed request line"},
        {"HTTP/2.0", "GET /echo HTTP/2.0\r\n" H "\r\n", 0, 505, "1.1 are served"},
        {"lowercase method", "get /echo HTTP/1.1\r\n" H "\r\n", 0, 400, "invalid HTTP method"},
        {"two Host fields", "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400,
         "more than one Host"},
        {"no Host in HTTP/1.1", "GET /echo HTTP/1.1\r\n\r\n", 0, 400, "no Host"},
    };
    expect_refusals(t, sizeof t / sizeof t[0]);
}

Test(http, sloppy_chunked_framing_refused)
{
#define CH "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
    static const struct refusal t[] = {
        {"no CRLF after chunk data", CH "3\r\nabcXY0\r\n\r\n", 0, 400,
         "chunk data not followed by CRLF"},
        {"bare CR after the size", CH "3\rXabc\r\n0\r\n\r\n", 0, 400,
         "chunk size line not ended by CRLF"},
        {"bare LF in an extension", CH "3;a\nb\r\nabc\r\n0\r\n\r\n", 0, 400, "chunk extension"},
        {"space after the size", CH "3 \r\nabc\r\n0\r\n\r\n", 0, 400,
         "whitespace after a chunk size"},
        {"bare LF after the size", CH "3\nabc\r\n0\r\n\r\n", 0, 400,
         "invalid character in chunk size"},
        {"0x prefix", CH "0x3\r\nabc\r\n0\r\n\r\n", 0, 400, "invalid character in chunk size"},
        {"folded trailer", CH "3\r\nabc\r\n0\r\nX-T: 1\r\n 2\r\n\r\n", 0, 400, "trailer"},
    };
#undef CH
    expect_refusals(t, sizeof t / sizeof t[0]);
}

/* A head of exactly n bytes: start, filler fields of 1000 bytes, one shorter field, the
 * empty line. */
static char *sized(size_t n, const char *start)
{
    char *b = malloc(n + 1);
    size_t o = strlen(start);
    memcpy(b, start, o);
    while (n - o > 1100) {
        memcpy(b + o, "X-F: ", 5);
        memset(b + o + 5, 'f', 993);
        memcpy(b + o + 998, "\r\n", 2);
        o += 1000;
    }
    size_t rest = n - o; /* one field line of rest - 2 bytes, then the empty line */
    memcpy(b + o, "X-L: ", 5);
    memset(b + o + 5, 'v', rest - 9);
    memcpy(b + o + rest - 4, "\r\n\r\n", 4);
    b[n] = 0;
    return b;
}

static void expect_status(const char *what, const char *send, int status)
{
    struct raw *r = calloc(1, sizeof *r);
    r->send = send;
    raw_exchange(r);
    char want[16];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    cr_expect(strncmp(r->got, want, 13) == 0, "%s: want %d, got: %.60s", what, status, r->got);
    if (status >= 400)
        cr_expect(strstr(r->got, "\r\nConnection: close\r\n") != NULL, "%s: no Connection: close",
                  what);
    free(r);
}

Test(http, request_line_limit_gives_414)
{
    /* max_line counts the request line with its CRLF: 8192 bytes served, 8193 refused. */
    static char b[GD_HTTP_MAX_LINE + 64];
    for (size_t n = GD_HTTP_MAX_LINE; n <= GD_HTTP_MAX_LINE + 1; n++) {
        memcpy(b, "GET /", 5);
        memset(b + 5, 'a', n - 5 - 11);
        strcpy(b + n - 11, " HTTP/1.1\r\n" H "Connection: close\r\n\r\n");
        expect_status(n == GD_HTTP_MAX_LINE ? "line at max" : "line over max", b,
                      n == GD_HTTP_MAX_LINE ? 200 : 414);
    }
    /* Refused before the line ends: no need to wait for the rest. */
    memset(b, 'a', GD_HTTP_MAX_LINE + 10);
    memcpy(b, "GET /", 5);
    b[GD_HTTP_MAX_LINE + 10] = 0;
    expect_status("endless line", b, 414);
}

Test(http, head_limit_gives_431)
{
    /* max_head counts the request line, the fields and the empty line. */
    static const char start[] = "GET /echo HTTP/1.1\r\n" H "Connection: close\r\n";
    char *at = sized(GD_HTTP_MAX_HEAD, start), *over = sized(GD_HTTP_MAX_HEAD + 1, start);
    char *endless = sized(GD_HTTP_MAX_HEAD + 100, start);
    expect_status("head at max", at, 200);
    expect_status("head over max", over, 431);
    endless[GD_HTTP_MAX_HEAD + 100 - 4] = 0; /* refused before the head ends */
    expect_status("endless head", endless, 431);
    free(at);
    free(over);
    free(endless);
}

Test(http, header_count_limit_gives_431)
{
    char b[8192];
    for (int n = GD_HTTP_MAX_HEADERS; n <= GD_HTTP_MAX_HEADERS + 1; n++) {
        size_t o =
            (size_t)snprintf(b, sizeof b, "GET /echo HTTP/1.1\r\n" H "Connection: close\r\n");
        for (int i = 2; i < n; i++) o += (size_t)snprintf(b + o, sizeof b - o, "X-H%d: v\r\n", i);
        snprintf(b + o, sizeof b - o, "\r\n");
        expect_status(n == GD_HTTP_MAX_HEADERS ? "fields at max" : "fields over max", b,
                      n == GD_HTTP_MAX_HEADERS ? 200 : 431);
    }
}

Test(http, body_limit_gives_413_before_the_body)
{
    /* Only the head is sent: the answer must not wait for a body that is too large. */
    expect_status("Content-Length over max",
                  "POST /body HTTP/1.1\r\n" H "Content-Length: 1048577\r\n\r\n", 413);
    expect_status("huge Content-Length",
                  "POST /body HTTP/1.1\r\n" H "Content-Length: 99999999999999\r\n\r\n", 413);
    /* A lowered limit applies to the next request. */
    srv.max_body = 10;
    expect_status("body at max",
                  "POST /body HTTP/1.1\r\n" H
                  "Connection: close\r\nContent-Length: 10\r\n\r\n0123456789",
                  200);
    expect_status("body over max", "POST /body HTTP/1.1\r\n" H "Content-Length: 11\r\n\r\n", 413);
    expect_status("chunked body over max",
                  "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
                  "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n",
                  413);
}

Test(http, lowered_limits_apply)
{
    srv.max_line = 40;
    srv.max_head = 120;
    srv.max_headers = 3;
    char b[256];
    for (int n = 40; n <= 41; n++) { /* "GET /echo/aaa HTTP/1.1\r\n" of n bytes */
        snprintf(b, sizeof b, "GET /echo/%.*s HTTP/1.1\r\n" H "Connection: close\r\n\r\n", n - 21,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        expect_status(n == 40 ? "line at 40" : "line at 41", b, n == 40 ? 200 : 414);
    }
    expect_status("3 fields", "GET /echo HTTP/1.1\r\n" H "Connection: close\r\nX-A: a\r\n\r\n",
                  200);
    expect_status("4 fields",
                  "GET /echo HTTP/1.1\r\n" H "Connection: close\r\nX-A: a\r\nX-B: b\r\n\r\n", 431);
    expect_status(
        "head over 120",
        "GET /echo HTTP/1.1\r\n" H "Connection: close\r\nX-A: "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
        431);
}

/* ---- normal requests still work ---- */

Test(http, chunked_body_pipelined_with_trailers_not_kept)
{
    struct raw *r = calloc(1, sizeof *r);
    r->send = "POST /body HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
              "3\r\nabc\r\n4;ext=1\r\ndefg\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
              "POST /body HTTP/1.1\r\n" H "Content-Length: 2\r\n\r\nxy"
              "GET /echo HTTP/1.1\r\n" H "Connection: close\r\n\r\n";
    raw_exchange(r);
    /* 2 fields each (Host, Transfer-Encoding / Content-Length): the trailer is not one. */
    char *a = strstr(r->got, "\r\n\r\n17|abcdefg0123456789|2"),
         *b = strstr(r->got, "\r\n\r\n2|xy|2"), *c = strstr(r->got, "\r\n\r\n/echo");
    cr_assert(a && b && c && a < b && b < c, "got: %s", r->got);
    free(r);
}

Test(http, http10_keep_alive_absolute_form_and_leading_crlf)
{
    struct raw *r = calloc(1, sizeof *r);
    r->send = "\r\nGET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
              "GET http://example.com:8080/abs?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"
              "GET /ws HTTP/1.1\r\n" H "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"
              "GET /last HTTP/1.0\r\n\r\n";
    raw_exchange(r);
    char *a = strstr(r->got, "Connection: keep-alive\r\n\r\n/echo"),
         *b = strstr(r->got, "\r\n\r\n/abs"), *c = strstr(r->got, "\r\n\r\n/ws"),
         *d = strstr(r->got, "Connection: close\r\n\r\n/last");
    cr_assert(a && b && c && d && a < b && b < c && c < d, "got: %s", r->got);
    cr_assert_eq(srv.bad_requests, 0);
    free(r);
}

Test(http, pipelined_flood_behind_a_slow_answer_is_read_later)
{
    /* Lowered limits make the input buffer small (max_head + max_body + 16 KiB): the flood
     * behind /later fills it, reading pauses, and resumes once /later is answered. */
    srv.max_head = 1024;
    srv.max_body = 1024;
    enum { N = 1500 };
    static const char one[] = "GET /a HTTP/1.1\r\n" H "\r\n";
    size_t ol = sizeof one - 1;
    char *b = malloc(64 + N * ol + 64), *p = b;
    p += sprintf(p, "GET /later HTTP/1.1\r\n" H "\r\n");
    for (int i = 0; i < N; i++) p += sprintf(p, "%s", one);
    sprintf(p, "GET /z HTTP/1.1\r\n" H "Connection: close\r\n\r\n");
    struct raw *r = calloc(1, sizeof *r);
    r->send = b;
    raw_exchange(r);
    int answers = 0;
    for (char *q = r->got; (q = strstr(q, "HTTP/1.1 200 ")) != NULL; q++) answers++;
    cr_assert(strstr(r->got, "later") != NULL);
    cr_assert_eq(answers, N + 2, "answers %d, got %zu bytes", answers, r->n);
    cr_assert_eq(srv.bad_requests, 0);
    free(r);
    free(b);
}

/* A client that pipelines and reads nothing until the server has stopped reading it. */
struct stalled {
    const char *send;
    size_t len;
    volatile int may_read;
    char *got;
    size_t n, cap;
};

static void *stalled_writer(void *arg)
{
    struct stalled *st = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, IP, &sa.sin_addr);
    int small = 4096; /* a small window: the kernel takes few answers for us */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return NULL;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    size_t off = 0;
    for (;;) {
        if (off < st->len) {
            ssize_t w = write(fd, st->send + off, st->len - off);
            if (w > 0) off += (size_t)w;
        }
        if (st->may_read) {
            ssize_t k = read(fd, st->got + st->n, st->cap - 1 - st->n);
            if (k == 0) break;
            if (k > 0) st->n += (size_t)k;
        }
        struct pollfd pf = {
            fd, (short)((off < st->len ? POLLOUT : 0) | (st->may_read ? POLLIN : 0)), 0};
        poll(&pf, 1, 10);
    }
    close(fd);
    return NULL;
}

Test(http, client_that_does_not_read_stops_being_read)
{
    /* Output backpressure: with 4 KiB of unsent answers the server stops reading and
     * parsing; the client reads only once it has; every answer then arrives, in order. */
    srv.max_unsent = 4096;
    max_unsent_seen = 0;
    enum { N = 40000, PAD = 200 };
    char pad[PAD + 1];
    memset(pad, 'x', PAD);
    pad[PAD] = 0;
    char *b = malloc((size_t)N * (PAD + 48) + 64), *p = b;
    for (int i = 0; i < N; i++) p += sprintf(p, "GET /%05d%s HTTP/1.1\r\n" H "\r\n", i, pad);
    p += sprintf(p, "GET /end HTTP/1.1\r\n" H "Connection: close\r\n\r\n");
    struct stalled st = {.send = b, .len = (size_t)(p - b), .cap = (size_t)N * (PAD + 128)};
    st.got = malloc(st.cap);
    pthread_t th;
    pthread_create(&th, NULL, stalled_writer, &st);
    for (int i = 0; i < 50000 && srv.output_pauses == 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(200);
    }
    cr_assert(srv.output_pauses > 0, "the server never stopped reading");
    st.may_read = 1;
    int joined = 0;
    for (int i = 0; i < 20000 && !joined; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        joined = pthread_tryjoin_np(th, NULL) == 0;
        if (!joined) usleep(500);
    }
    cr_assert(joined, "the client did not get every answer");
    st.got[st.n] = 0;
    /* A request is dispatched only while the unsent output is under the cap. */
    cr_assert(max_unsent_seen <= 4096, "dispatched with %zu bytes unsent", max_unsent_seen);
    /* Each answer's body is its path: walk them in order (no strstr: under ASan each
     * call would scan the whole buffer). */
    const char *q = st.got, *end = st.got + st.n;
    for (int i = 0; i <= N; i++) {
        while (q + 4 <= end && memcmp(q, "\r\n\r\n", 4) != 0) q++;
        cr_assert(q + 4 <= end, "answer %d missing", i);
        q += 4;
        char want[16];
        int wl =
            i < N ? snprintf(want, sizeof want, "/%05d", i) : snprintf(want, sizeof want, "/end");
        cr_assert(end - q >= wl && memcmp(q, want, (size_t)wl) == 0, "answer %d out of order", i);
    }
    free(st.got);
    free(b);
}

Test(http, fake_connection_answers_alike_however_split)
{
    static const char in[] = "GET /echo HTTP/1.1\r\n" H "\r\nPOST /body HTTP/1.1\r\n" H
                             "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                             "GET /x HTTP/1.1\r\n" H "X: a\nB: b\r\n\r\n";
    gd_buf whole, bytes;
    gd_buf_init(&whole, 1 << 20);
    gd_buf_init(&bytes, 1 << 20);
    gd_http_conn *c = gd_http_conn_fake(&srv, &whole);
    cr_assert_eq(gd_http_conn_feed(c, in, sizeof in - 1), sizeof in - 1);
    cr_assert(gd_http_conn_closing(c));
    gd_http_conn_free_fake(c);
    c = gd_http_conn_fake(&srv, &bytes);
    for (size_t i = 0; i < sizeof in - 1 && !gd_http_conn_closing(c); i++)
        cr_assert_eq(gd_http_conn_feed(c, in + i, 1), 1);
    gd_http_conn_free_fake(c);
    cr_assert_str_eq(gd_buf_cstr(&bytes), gd_buf_cstr(&whole));
    cr_assert(strstr(gd_buf_cstr(&whole), "3|abc|2") != NULL, "got: %s", gd_buf_cstr(&whole));
    cr_assert(strstr(gd_buf_cstr(&whole), "HTTP/1.1 400 ") != NULL, "got: %s", gd_buf_cstr(&whole));
    gd_buf_free(&whole);
    gd_buf_free(&bytes);
}

/* ---- slow clients: a server that wants a head within 200 ms, idles out at 400 ms ---- */

static void setup_slow(void)
{
    uv_loop_init(&loop);
    gd_http_server_init(&srv, &loop, handler, NULL);
    srv.header_timeout_ms = 200;
    srv.idle_ms = 400;
    for (port = 20000 + getpid() % 20000;; port++)
        if (gd_http_server_listen(&srv, IP, port) == 0) break;
}

TestSuite(http_slow, .init = setup_slow, .fini = teardown);

/* A client on the test's loop: it sends `send` at once, or one byte per `every_ms` (a
 * slowloris: each byte would reset an idle timer), and records what comes back and when
 * the server closes. */
struct slow {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_timer_t drip;
    const char *send;
    size_t len, sent;
    int every_ms;
    char got[4096];
    size_t n;
    int closed;
    uint64_t t0, t_closed;
};

static void slow_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    struct slow *s = h->data;
    *b = uv_buf_init(s->got + s->n, (unsigned)(sizeof s->got - 1 - s->n));
}

static void slow_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct slow *s = st->data;
    if (n > 0) {
        s->n += (size_t)n;
        s->got[s->n] = 0;
        return;
    }
    if (n == 0) return;
    s->closed = 1;
    s->t_closed = uv_now(&loop);
    uv_timer_stop(&s->drip);
    uv_close((uv_handle_t *)&s->drip, NULL);
    uv_close((uv_handle_t *)&s->tcp, NULL);
}

static void slow_send(struct slow *s, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)s->send + s->sent, (unsigned)n);
    if (uv_try_write((uv_stream_t *)&s->tcp, &b, 1) == (int)n) s->sent += n;
}

static void slow_tick(uv_timer_t *t)
{
    struct slow *s = t->data;
    if (s->sent < s->len) slow_send(s, 1);
}

static void slow_connected(uv_connect_t *req, int status)
{
    struct slow *s = req->data;
    cr_assert_eq(status, 0);
    uv_read_start((uv_stream_t *)&s->tcp, slow_alloc, slow_read);
    if (s->every_ms)
        uv_timer_start(&s->drip, slow_tick, 0, (uint64_t)s->every_ms);
    else if (s->len)
        slow_send(s, s->len);
}

static void slow_start(struct slow *s, const char *send, int every_ms)
{
    s->send = send;
    s->len = strlen(send);
    s->every_ms = every_ms;
    s->t0 = uv_now(&loop);
    uv_tcp_init(&loop, &s->tcp);
    uv_timer_init(&loop, &s->drip);
    s->tcp.data = s->drip.data = s->conn.data = s;
    struct sockaddr_in sa;
    uv_ip4_addr(IP, port, &sa);
    uv_tcp_connect(&s->conn, &s->tcp, (struct sockaddr *)&sa, slow_connected);
}

static void run_until_closed(struct slow *s, int n)
{
    uint64_t t0 = uv_now(&loop);
    for (;;) {
        int done = 1;
        for (int i = 0; i < n; i++) done &= s[i].closed;
        if (done) return;
        cr_assert(uv_now(&loop) - t0 < 5000, "a client was not closed within 5 s");
        uv_run(&loop, UV_RUN_ONCE);
    }
}

/* Requests sent one after another on a keep-alive pool while a slow client waits. */
struct busy {
    gd_httpc_pool *pool;
    const int *stop;
    int ok, failed;
};

static void busy_next(struct busy *b);

static void busy_answer(void *ud, int err, const gd_httpc_resp *resp)
{
    struct busy *b = ud;
    if (err == 0 && resp->status == 200)
        b->ok++;
    else
        b->failed++;
    if (!*b->stop) busy_next(b);
}

static void busy_next(struct busy *b)
{
    gd_httpc_request(b->pool, req_echo, sizeof req_echo - 1, 2000, busy_answer, b);
}

Test(http_slow, slowloris_gets_408_while_others_are_served)
{
    /* One byte per 20 ms: the head would take 4 s; the header timeout is 200 ms. */
    static const char head[] =
        "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    struct slow s = {0};
    slow_start(&s, head, 20);
    struct busy b = {gd_httpc_pool_new(&loop, 0x7f000001, port, 1, 16), &s.closed, 0, 0};
    busy_next(&b);
    run_until_closed(&s, 1);
    uint64_t took = s.t_closed - s.t0;
    cr_assert(strncmp(s.got, "HTTP/1.1 408 ", 13) == 0, "got: %s", s.got);
    cr_assert(strstr(s.got, "\r\nConnection: close\r\n") != NULL, "got: %s", s.got);
    cr_assert(took >= 200 && took < 1000, "closed after %llu ms", (unsigned long long)took);
    cr_assert(s.sent > 5 && s.sent < sizeof head - 1, "sent %zu bytes", s.sent);
    cr_assert_eq(srv.timeouts, 1);
    /* Meanwhile the other connection was served, every request. */
    cr_assert(b.ok >= 10, "only %d requests served meanwhile", b.ok);
    cr_assert_eq(b.failed, 0);
    for (int i = 0; i < 1000 && b.ok + b.failed == 0; i++) uv_run(&loop, UV_RUN_ONCE);
    gd_httpc_pool_close(b.pool);
}

Test(http_slow, idle_connections_close_without_an_answer)
{
    struct slow s[2];
    memset(s, 0, sizeof s);
    slow_start(&s[0], "", 0);       /* never sends: closed after header_timeout_ms */
    slow_start(&s[1], req_echo, 0); /* one request, then idle: closed after idle_ms */
    run_until_closed(s, 2);
    uint64_t t0 = s[0].t_closed - s[0].t0, t1 = s[1].t_closed - s[1].t0;
    cr_assert_eq(s[0].n, 0, "got: %s", s[0].got);
    cr_assert(t0 >= 200 && t0 < 1000, "silent connection closed after %llu ms",
              (unsigned long long)t0);
    cr_assert(strncmp(s[1].got, "HTTP/1.1 200 ", 13) == 0, "got: %s", s[1].got);
    cr_assert(strstr(s[1].got + 1, "HTTP/1.1") == NULL, "more than one answer: %s", s[1].got);
    cr_assert(t1 >= 400 && t1 < 1200, "idle connection closed after %llu ms",
              (unsigned long long)t1);
    cr_assert_eq(srv.timeouts, 0);
}

Test(http_slow, stalled_body_gets_408)
{
    struct slow s = {0};
    slow_start(&s, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 0);
    run_until_closed(&s, 1);
    uint64_t took = s.t_closed - s.t0;
    cr_assert(strncmp(s.got, "HTTP/1.1 408 ", 13) == 0, "got: %s", s.got);
    cr_assert(strstr(s.got, "body stalled") != NULL, "got: %s", s.got);
    cr_assert(took >= 400 && took < 1200, "closed after %llu ms", (unsigned long long)took);
}

Test(http, bytes_after_a_request_line_at_its_limit_are_checked)
{
    /* Found by the fuzzer: a request line of exactly max_line bytes whose CR ends one read
     * lifted the scan's limit mid-step, and the first bytes of the next line went
     * unchecked; http-parser itself lets a control byte open a value. */
    static const char line[] = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n";
    static const char rest[] = "\nHost:\002 x\r\nX-Pad: 0123456789\r\n\r\n"; /* its LF, more */
    cr_assert_eq(sizeof line - 1, 64);
    srv.max_line = 64;
    gd_buf out;
    gd_buf_init(&out, 1 << 16);
    gd_http_conn *c = gd_http_conn_fake(&srv, &out);
    gd_http_conn_feed(c, line, sizeof line - 2); /* up to its CR */
    gd_http_conn_feed(c, rest, sizeof rest - 1);
    gd_http_conn_free_fake(c);
    cr_assert(strncmp(gd_buf_cstr(&out), "HTTP/1.1 400 ", 13) == 0, "got: %s", gd_buf_cstr(&out));
    cr_assert(strstr(gd_buf_cstr(&out), "control character") != NULL, "got: %s", gd_buf_cstr(&out));
    gd_buf_free(&out);
}

static void header(gd_http_req *r, const char *name, const char *value)
{
    gd_http_header *h = &r->headers[r->nheaders++];
    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

Test(http, cookie_finds_its_pair_in_any_cookie_header)
{
    static gd_http_req r;
    memset(&r, 0, sizeof r);
    header(&r, "Host", "x");
    header(&r, "Cookie", "flag; sid=abc ; GDALB=t1.9.mac");
    header(&r, "cookie", "late=1");
    size_t n = 0;
    const char *v = gd_http_cookie(&r, "sid", &n);
    cr_assert(v && n == 3 && !memcmp(v, "abc", 3), "trailing spaces trimmed");
    v = gd_http_cookie(&r, "GDALB", &n);
    cr_assert(v && n == 8 && !memcmp(v, "t1.9.mac", 8));
    v = gd_http_cookie(&r, "late", &n);
    cr_assert(v && n == 1 && *v == '1', "a second Cookie header counts too");
    cr_assert_null(gd_http_cookie(&r, "flag", &n), "a pair without '=' names nothing");
    cr_assert_null(gd_http_cookie(&r, "si", &n), "no prefix match");
}
