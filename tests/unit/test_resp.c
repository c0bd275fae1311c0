/* Unit tests for src/core/resp.c against a scripted Redis on the same loop: AUTH goes
 * first, replies come back in order, a refused AUTH, a command that is never answered
 * (the deadline, then a new connection), a refused connect, and no callback after
 * close. */
#include <criterion/criterion.h>

#include "core/err.h"
#include "core/mem.h"
#include "core/resp.h"

#include <stdio.h>
#include <string.h>

/* ---- the scripted server: parses RESP arrays, answers by the command's name ---- */

static uv_loop_t *loop;
static uv_tcp_t srv;
static uv_timer_t keep; /* keeps the loop alive while the server is closed */
static int srv_port;
static char seen[1024]; /* the commands' names, in order, space-separated */
static int conns;

#define SCONN_MAGIC 0x53434f4eu

struct sconn {
    uint32_t magic;
    uv_tcp_t tcp;
    char buf[4096];
    size_t len;
    int hung; /* after SLOW it answers nothing more, as a stopped server */
};

static void s_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    struct sconn *k = h->data;
    b->base = k->buf + k->len;
    b->len = sizeof k->buf - k->len;
}

static void s_closed(uv_handle_t *h)
{
    free(h->data);
}

static void s_written(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

static void s_send(struct sconn *k, const char *text)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = strdup(text);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)strlen(copy));
    uv_write(w, (uv_stream_t *)&k->tcp, &b, 1, s_written);
}

/* One whole command at the start of k->buf: its arguments; the bytes it took, or 0. */
static size_t parse(struct sconn *k, char args[4][64], int *argc)
{
    char *p = k->buf, *end = k->buf + k->len;
    if (p >= end || *p != '*') return 0;
    int n = atoi(p + 1);
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return 0;
    p = nl + 1;
    for (int i = 0; i < n; i++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || *p != '$') return 0;
        int l = atoi(p + 1);
        p = nl + 1;
        if (end - p < l + 2) return 0;
        if (i < 4) snprintf(args[i], 64, "%.*s", l, p);
        p += l + 2;
    }
    *argc = n;
    return (size_t)(p - k->buf);
}

static void s_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct sconn *k = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, s_closed);
        return;
    }
    k->len += (size_t)n;
    for (;;) {
        char args[4][64];
        int argc;
        size_t used = parse(k, args, &argc);
        if (!used) return;
        memmove(k->buf, k->buf + used, k->len - used);
        k->len -= used;
        strncat(seen, args[0], sizeof seen - strlen(seen) - 2);
        strcat(seen, " ");
        if (k->hung || !strcmp(args[0], "SLOW"))
            k->hung = 1;
        else if (!strcmp(args[0], "AUTH"))
            s_send(k, !strcmp(args[1], "s3cret") ? "+OK\r\n" : "-WRONGPASS invalid\r\n");
        else if (!strcmp(args[0], "PING"))
            s_send(k, "+PONG\r\n");
        else if (!strcmp(args[0], "GET"))
            s_send(k, "$5\r\nhello\r\n");
    }
}

static void s_accept(uv_stream_t *s, int status)
{
    struct sconn *k = calloc(1, sizeof *k);
    k->magic = SCONN_MAGIC;
    uv_tcp_init(loop, &k->tcp);
    k->tcp.data = k;
    uv_accept(s, (uv_stream_t *)&k->tcp);
    conns++;
    uv_read_start((uv_stream_t *)&k->tcp, s_alloc, s_read);
}

static void tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    loop = uv_default_loop();
    uv_timer_init(loop, &keep);
    keep.data = NULL;
    uv_timer_start(&keep, tick, 5, 5);
    seen[0] = 0;
    conns = 0;
    uv_tcp_init(loop, &srv);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    cr_assert_eq(uv_tcp_bind(&srv, (struct sockaddr *)&sa, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&srv, 16, s_accept), 0);
    int len = sizeof sa;
    uv_tcp_getsockname(&srv, (struct sockaddr *)&sa, &len);
    srv_port = ntohs(sa.sin_port);
}

/* Closes the test's own handles (the server, its connections, the keep-alive timer);
 * a client left open by a failed assertion is left alone. */
static void close_all(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h)) return;
    if (h == (uv_handle_t *)&srv || h == (uv_handle_t *)&keep)
        uv_close(h, NULL);
    else if (h->type == UV_TCP && h->data && ((struct sconn *)h->data)->magic == SCONN_MAGIC)
        uv_close(h, s_closed);
}

static void teardown(void)
{
    uv_walk(loop, close_all, NULL);
    for (int i = 0; i < 100; i++) uv_run(loop, UV_RUN_NOWAIT);
}

/* ---- the client's side ---- */

struct got {
    int n;
    int status[8];
    char text[8][32];
};

static void on_reply(void *arg, int status, const redisReply *r)
{
    struct got *g = arg;
    g->status[g->n] = status;
    snprintf(g->text[g->n], sizeof g->text[0], "%s", r && r->str ? r->str : "");
    g->n++;
}

/* Runs the loop until `want` callbacks arrived (or a wall second passed). */
static void run_until(struct got *g, int want)
{
    for (int i = 0; i < 1000 && g->n < want; i++) uv_run(loop, UV_RUN_ONCE);
}

TestSuite(resp, .init = setup, .fini = teardown);

Test(resp, auth_first_then_the_replies_in_order)
{
    gd_resp *c = gd_resp_new(loop, "127.0.0.1", srv_port, "s3cret", 1000);
    struct got g = {0};
    const char *ping[] = {"PING"}, *get[] = {"GET", "k"};
    cr_assert_eq(gd_resp_cmd(c, on_reply, &g, 1, ping), 0);
    cr_assert_eq(gd_resp_cmd(c, on_reply, &g, 2, get), 0);
    cr_assert_eq(g.n, 0, "never called back from gd_resp_cmd");
    cr_assert_eq(gd_resp_pending(c), 2);
    run_until(&g, 2);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.status[0], 0);
    cr_assert_str_eq(g.text[0], "PONG");
    cr_assert_str_eq(g.text[1], "hello");
    cr_assert_str_eq(seen, "AUTH PING GET ");
    cr_assert_eq(gd_resp_cmd(c, NULL, &g, 1, ping), GD_EINVAL);
    gd_resp_close(c);
}

Test(resp, a_refused_auth_fails_what_is_queued)
{
    gd_resp *c = gd_resp_new(loop, "127.0.0.1", srv_port, "guess", 1000);
    struct got g = {0};
    const char *ping[] = {"PING"};
    gd_resp_cmd(c, on_reply, &g, 1, ping);
    run_until(&g, 1);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.status[0], GD_EPERM);
    gd_resp_close(c);
}

Test(resp, no_answer_by_the_deadline_then_a_new_connection)
{
    gd_resp *c = gd_resp_new(loop, "127.0.0.1", srv_port, NULL, 100);
    struct got g = {0};
    const char *slow[] = {"SLOW"}, *ping[] = {"PING"};
    gd_resp_cmd(c, on_reply, &g, 1, slow);
    gd_resp_cmd(c, on_reply, &g, 1, ping); /* behind it: fails with it */
    uint64_t t0 = uv_now(loop);
    run_until(&g, 2);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.status[0], GD_ETIMEDOUT);
    cr_assert_eq(g.status[1], GD_ETIMEDOUT);
    cr_assert_geq(uv_now(loop) - t0, 90, "after its deadline");
    gd_resp_cmd(c, on_reply, &g, 1, ping);
    run_until(&g, 3);
    cr_assert_eq(g.status[2], 0);
    cr_assert_str_eq(g.text[2], "PONG");
    cr_assert_eq(conns, 2, "the timed-out connection was dropped, another made");
    gd_resp_close(c);
}

Test(resp, a_refused_connect)
{
    /* a port nobody listens on: the server's own, once it is closed */
    uv_close((uv_handle_t *)&srv, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    gd_resp *c = gd_resp_new(loop, "127.0.0.1", srv_port, NULL, 1000);
    struct got g = {0};
    const char *ping[] = {"PING"};
    gd_resp_cmd(c, on_reply, &g, 1, ping);
    run_until(&g, 1);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.status[0], GD_ECONNREFUSED);
    gd_resp_close(c);
}

Test(resp, nothing_after_close)
{
    long live = gd_mem_live();
    gd_resp *c = gd_resp_new(loop, "127.0.0.1", srv_port, "s3cret", 1000);
    struct got g = {0};
    const char *ping[] = {"PING"};
    gd_resp_cmd(c, on_reply, &g, 1, ping);
    gd_resp_close(c);
    cr_assert_eq(gd_resp_cmd(c, on_reply, &g, 1, ping), GD_ECLOSED);
    for (int i = 0; i < 50; i++) uv_run(loop, UV_RUN_NOWAIT);
    cr_assert_eq(g.n, 0, "no callback after close");
    cr_assert_eq(gd_mem_live(), live, "it freed itself");
}
