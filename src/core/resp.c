/* The Redis client of resp.h. A connection's life is one state, changed in
 * set_state(): down -> connecting -> up, and down again when anything fails; the
 * client itself is closed once (closed), after which its callbacks are never called.
 * Each TCP connection is its own heap object, so that a failed one can finish closing
 * while the next is made; the client is freed when its last handle has closed. */
#include "core/resp.h"
#include "core/buf.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

#define RESP_MAGIC 0x52455350u
#define CONN_MAGIC 0x52434f4eu
#define SWEEP_MS 20

enum rstate { RC_DOWN, RC_CONNECTING, RC_UP };

struct pending {
    gd_resp_cb cb; /* NULL: our AUTH */
    void *arg;
    uint64_t deadline; /* loop ms */
    char *text;        /* the command, until it is written */
    size_t len;
};

struct conn {
    uint32_t magic;
    gd_resp *c;
    uv_tcp_t tcp;
    uv_connect_t creq;
};

struct wreq {
    uv_write_t w;
    struct conn *k;
    char *data;
};

struct gd_resp {
    uint32_t magic;
    uv_loop_t *loop;
    char ip[16];
    int port;
    char *password;
    uint64_t timeout_ms;
    enum rstate state;
    int closed;
    int refs;       /* the timer's and each connection's handle not yet closed */
    struct conn *k; /* the current connection, NULL while down */
    redisReader *reader;
    uv_timer_t timer;
    struct pending q[GD_RESP_MAX_QUEUE + 1]; /* +1: our AUTH in front */
    size_t head, n;
};

static void unref(gd_resp *c)
{
    if (--c->refs > 0) return;
    for (size_t i = 0; i < c->n; i++) gd_free(c->q[(c->head + i) % (GD_RESP_MAX_QUEUE + 1)].text);
    if (c->reader) redisReaderFree(c->reader);
    gd_free(c->password);
    c->magic = 0;
    gd_free(c);
}

static void set_state(gd_resp *c, enum rstate s)
{
    c->state = s;
}

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *k = h->data;
    GD_CHECK_OBJ(k, CONN_MAGIC);
    gd_resp *c = k->c;
    k->magic = 0;
    gd_free(k);
    unref(c);
}

static void drop_conn(gd_resp *c)
{
    struct conn *k = c->k;
    if (!k) return;
    c->k = NULL;
    uv_close((uv_handle_t *)&k->tcp, on_conn_closed);
    if (c->reader) redisReaderFree(c->reader);
    c->reader = NULL;
    set_state(c, RC_DOWN);
}

static struct pending *at(gd_resp *c, size_t i)
{
    return &c->q[(c->head + i) % (GD_RESP_MAX_QUEUE + 1)];
}

static struct pending pop(gd_resp *c)
{
    struct pending p = *at(c, 0);
    c->head = (c->head + 1) % (GD_RESP_MAX_QUEUE + 1);
    c->n--;
    return p;
}

/* Everything queued fails with err, and the connection goes. */
static void fail_all(gd_resp *c, int err)
{
    drop_conn(c);
    /* Only those queued now: a callback may queue another, for the next connection. */
    for (size_t left = c->n; left > 0 && c->n > 0 && !c->closed; left--) {
        struct pending p = pop(c);
        gd_free(p.text);
        if (p.cb) p.cb(p.arg, err, NULL);
    }
}

static void on_written(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    struct conn *k = r->k;
    gd_free(r->data);
    gd_free(r);
    GD_CHECK_OBJ(k, CONN_MAGIC);
    gd_resp *c = k->c;
    if (status < 0 && !c->closed && c->k == k) fail_all(c, gd_err_from_uv(status));
}

/* Writes the queued commands not written yet. */
static void flush(gd_resp *c)
{
    for (size_t i = 0; i < c->n && c->k; i++) {
        struct pending *p = at(c, i);
        if (!p->text) continue;
        struct wreq *r = gd_malloc(sizeof *r);
        r->k = c->k;
        r->data = p->text;
        p->text = NULL;
        uv_buf_t b = uv_buf_init(r->data, (unsigned)p->len);
        if (uv_write(&r->w, (uv_stream_t *)&c->k->tcp, &b, 1, on_written) < 0) {
            gd_free(r->data);
            gd_free(r);
            fail_all(c, GD_ECONNRESET);
            return;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    b->base = gd_malloc(16384);
    b->len = 16384;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *k = s->data;
    GD_CHECK_OBJ(k, CONN_MAGIC);
    gd_resp *c = k->c;
    if (nread < 0 || c->closed || c->k != k) {
        gd_free(b->base);
        if (nread < 0 && !c->closed && c->k == k) fail_all(c, GD_ECONNRESET);
        return;
    }
    if (nread > 0 && redisReaderFeed(c->reader, b->base, (size_t)nread) != REDIS_OK) {
        gd_free(b->base);
        fail_all(c, GD_EPROTO);
        return;
    }
    gd_free(b->base);
    for (;;) {
        void *rep = NULL;
        if (redisReaderGetReply(c->reader, &rep) != REDIS_OK) {
            fail_all(c, GD_EPROTO);
            return;
        }
        if (!rep) return;
        if (c->n == 0) { /* an answer nobody asked for */
            freeReplyObject(rep);
            fail_all(c, GD_EPROTO);
            return;
        }
        struct pending p = pop(c);
        gd_free(p.text);
        const redisReply *r = rep;
        if (!p.cb) { /* our AUTH */
            int refused = r->type == REDIS_REPLY_ERROR;
            freeReplyObject(rep);
            if (refused) {
                fail_all(c, GD_EPERM);
                return;
            }
            continue;
        }
        p.cb(p.arg, 0, r);
        freeReplyObject(rep);
        if (c->closed || c->k != k) return;
    }
}

static void on_connected(uv_connect_t *req, int status)
{
    struct conn *k = req->data;
    GD_CHECK_OBJ(k, CONN_MAGIC);
    gd_resp *c = k->c;
    if (c->closed || c->k != k) return;
    if (status < 0) {
        fail_all(c, gd_err_from_uv(status));
        return;
    }
    set_state(c, RC_UP);
    uv_tcp_nodelay(&k->tcp, 1);
    uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    flush(c);
}

/* "*N\r\n$len\r\narg\r\n...": a command as RESP writes it. */
static char *format(int argc, const char *const *argv, size_t *len)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    gd_buf_printf(&b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        gd_buf_printf(&b, "$%zu\r\n", strlen(argv[i]));
        gd_buf_puts(&b, argv[i]);
        gd_buf_puts(&b, "\r\n");
    }
    *len = b.len;
    char *s = gd_malloc(b.len ? b.len : 1);
    memcpy(s, b.data, b.len);
    gd_buf_free(&b);
    return s;
}

static void connect_now(gd_resp *c)
{
    struct sockaddr_in sa;
    if (uv_ip4_addr(c->ip, c->port, &sa) != 0) return;
    struct conn *k = gd_calloc(1, sizeof *k);
    k->magic = CONN_MAGIC;
    k->c = c;
    uv_tcp_init(c->loop, &k->tcp);
    k->tcp.data = k;
    k->creq.data = k;
    c->refs++;
    c->k = k;
    c->reader = redisReaderCreate();
    set_state(c, RC_CONNECTING);
    if (c->password) { /* AUTH goes first, ahead of what is queued */
        const char *argv[] = {"AUTH", c->password};
        c->head = (c->head + GD_RESP_MAX_QUEUE) % (GD_RESP_MAX_QUEUE + 1);
        c->n++;
        struct pending *p = at(c, 0);
        memset(p, 0, sizeof *p);
        p->text = format(2, argv, &p->len);
        p->deadline = uv_now(c->loop) + c->timeout_ms;
    }
    int r = uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&sa, on_connected);
    if (r < 0)
        fail_all(c, gd_err_from_uv(r)); /* called back from here: the caller is the
                                           loop's sweep (see gd_resp_cmd) */
}

static void on_sweep(uv_timer_t *t)
{
    gd_resp *c = t->data;
    GD_CHECK_OBJ(c, RESP_MAGIC);
    if (c->closed || c->n == 0) return;
    if (c->state == RC_DOWN) {
        connect_now(c);
        return;
    }
    if (uv_now(c->loop) >= at(c, 0)->deadline) fail_all(c, GD_ETIMEDOUT);
}

static void on_timer_closed(uv_handle_t *h)
{
    gd_resp *c = h->data;
    GD_CHECK_OBJ(c, RESP_MAGIC);
    unref(c);
}

gd_resp *gd_resp_new(uv_loop_t *loop, const char *ip, int port, const char *password,
                     uint64_t timeout_ms)
{
    gd_resp *c = gd_calloc(1, sizeof *c);
    c->magic = RESP_MAGIC;
    c->loop = loop;
    snprintf(c->ip, sizeof c->ip, "%s", ip);
    c->port = port;
    c->password = password && *password ? gd_strdup(password) : NULL;
    c->timeout_ms = timeout_ms ? timeout_ms : 1000;
    c->refs = 1;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&c->timer);
    return c;
}

int gd_resp_cmd(gd_resp *c, gd_resp_cb cb, void *arg, int argc, const char *const *argv)
{
    GD_CHECK_OBJ(c, RESP_MAGIC);
    if (c->closed) return GD_ECLOSED;
    if (!cb || argc < 1) return GD_EINVAL; /* a NULL callback marks our own AUTH */
    if (c->n >= GD_RESP_MAX_QUEUE) return GD_EFULL;
    struct pending *p = at(c, c->n);
    p->cb = cb;
    p->arg = arg;
    p->deadline = uv_now(c->loop) + c->timeout_ms;
    p->text = format(argc, argv, &p->len);
    c->n++;
    /* A connection is made by the sweep (never from here: its failure calls back), and
     * an up one takes the command now. */
    if (c->state == RC_UP) flush(c);
    return 0;
}

size_t gd_resp_pending(const gd_resp *c)
{
    return c->n;
}

void gd_resp_close(gd_resp *c)
{
    GD_CHECK_OBJ(c, RESP_MAGIC);
    if (c->closed) return;
    c->closed = 1;
    drop_conn(c);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
