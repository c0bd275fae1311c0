/* Tests of the HTTP server (src/core/http.c) and client pool (src/core/httpc.c) on
 * loopback: keep-alive reuse, pipelining order, answers given later, bad requests,
 * deadlines and refused connections. */
#include "core/err.h"
#include "core/http.h"
#include "core/httpc.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define IP "127.0.0.1"

static uv_loop_t loop;
static gd_http_server srv;
static int port;

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

/* /echo answers the path at once, /later after 10 ms, /never never. */
static void handler(gd_http_conn *c, gd_http_req *req, void *ud)
{
    if (req->path_len == 6 && !memcmp(req->path, "/later", 6)) {
        struct deferred *d = calloc(1, sizeof *d);
        d->c = c;
        uv_timer_init(&loop, &d->t);
        uv_timer_start(&d->t, on_deferred, 10, 0);
        return;
    }
    if (req->path_len == 6 && !memcmp(req->path, "/never", 6)) return;
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
    char got[4096];
    size_t n;
};

static void *raw_client(void *arg)
{
    struct raw *r = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, IP, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        ssize_t w = write(fd, r->send, strlen(r->send));
        (void)w;
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
    for (int i = 0; i < 2000; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (pthread_tryjoin_np(th, NULL) == 0) return;
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
