/* HTTP/1.1 client connection pool: queue, connect, write, parse the answer, keep the
 * connection for the next request; one sweep timer enforces every deadline. It also
 * carries what the edge's network faults do to a request (gd_httpc_opts): a delay before
 * it is sent, an end without sending it, a slow read of its answer, a late close. */
#include "core/httpc.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <string.h>

#define POOL_MAGIC 0x48504f4cu
#define CONN_MAGIC 0x4843434eu
#define MAX_RESPONSE (8 * 1024 * 1024)
#define SWEEP_MS 5

struct creq {
    struct creq *next;
    char *data;
    size_t len;
    int borrowed;      /* data belongs to the caller (gd_httpc_request_ref) */
    uint64_t deadline; /* uv_now() ms, 0 = none */
    gd_httpc_cb cb;
    void *ud;
    int retried;
    /* gd_httpc_opts */
    uint64_t due; /* uv_now() ms it leaves the waiting list (UINT64_MAX: never) */
    gd_httpc_fate fate;
    int status;
    char *body; /* GD_HTTPC_ANSWER's, owned */
    uint64_t read_rate, close_delay_ms;
};

/* A client connection's life, changed only in set_state(). CC_LINGER: its answer said
 * the connection ends, and the close waits for the request's close_delay_ms. */
enum cstate { CC_CONNECTING, CC_IDLE, CC_BUSY, CC_LINGER, CC_CLOSING };

struct span {
    size_t off, len;
};

struct cconn {
    uint32_t magic;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    gd_httpc_pool *pool;
    struct cconn *prev, *next;
    enum cstate state;
    struct creq *req;
    http_parser parser;
    gd_buf in;
    gd_buf wbuf;
    size_t fed;
    struct span hname[GD_HTTP_MAX_HEADERS], hval[GD_HTTP_MAX_HEADERS];
    int nh, last_was_value, complete, writing;
    size_t body_off, body_len; /* body bytes are moved to the front of `body` */
    gd_buf body;
    int served; /* requests completed on this connection */
    uint64_t first_byte_ns;
    /* The current request's read rate: a token bucket refilled by the sweep. */
    uint64_t rate;                  /* bytes per second, 0 = no limit */
    double tokens;                  /* bytes it may read now */
    uint64_t refill_at;             /* uv_now() of the last refill */
    int throttled;                  /* reading stopped until tokens come back */
    uint64_t close_delay, close_at; /* ms; uv_now() the lingering close is due */
};

struct gd_httpc_pool {
    uint32_t magic;
    uv_loop_t *loop;
    uv_timer_t sweep;
    uint32_t ip, src_ip;
    int port, max_conns, max_queue;
    struct cconn *conns;
    int nconns, nconnecting, nbusy;
    struct creq *qhead, *qtail;
    int nqueued;
    struct creq *later; /* delayed or unsent requests (gd_httpc_opts), not in the queue */
    int nlater, nlinger;
    int closing, handles;
    int draining; /* takes no new request; closes once the last one has ended */
    int sweeping;
};

static void pump(gd_httpc_pool *p);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* A draining pool closes once nothing is in flight, queued or connecting. */
static void drain_check(gd_httpc_pool *p)
{
    if (p->draining && !p->closing && p->nbusy == 0 && p->nqueued == 0 && p->nconnecting == 0 &&
        p->nlater == 0)
        gd_httpc_pool_close(p);
}

static void set_state(struct cconn *c, enum cstate s)
{
    gd_httpc_pool *p = c->pool;
    if (c->state == CC_CONNECTING) p->nconnecting--;
    if (c->state == CC_BUSY) p->nbusy--;
    if (c->state == CC_LINGER) p->nlinger--;
    c->state = s;
    if (s == CC_CONNECTING) p->nconnecting++;
    if (s == CC_BUSY) p->nbusy++;
    if (s == CC_LINGER) p->nlinger++;
}

static void on_sweep(uv_timer_t *t);

/* The sweep runs while anything has a deadline or a time to wait for. */
static void sweep_on(gd_httpc_pool *p)
{
    if (!uv_is_active((uv_handle_t *)&p->sweep))
        uv_timer_start(&p->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
}

static void maybe_free_pool(gd_httpc_pool *p)
{
    if (p->closing && p->handles == 0) {
        p->magic = 0;
        gd_free(p);
    }
}

static void finish(struct creq *r, int err, const gd_httpc_resp *resp)
{
    gd_httpc_cb cb = r->cb;
    void *ud = r->ud;
    if (!r->borrowed) gd_free(r->data);
    gd_free(r->body);
    gd_free(r);
    cb(ud, err, resp);
}

/* GD_HTTPC_ANSWER: the answer the options give, in the target's stead. */
static void answer_instead(struct creq *r)
{
    gd_httpc_resp resp;
    resp.status = r->status;
    resp.headers[0] = (gd_http_header){"Content-Type", 12, "text/plain", 10};
    resp.nheaders = 1;
    char *body = r->body;
    r->body = NULL;
    resp.body = body ? body : "";
    resp.body_len = strlen(resp.body);
    resp.first_byte_ns = uv_hrtime();
    finish(r, 0, &resp);
    gd_free(body);
}

/* ---- queue ---- */

static void enqueue(gd_httpc_pool *p, struct creq *r, int front)
{
    if (front) {
        r->next = p->qhead;
        p->qhead = r;
        if (!p->qtail) p->qtail = r;
    } else {
        r->next = NULL;
        if (p->qtail)
            p->qtail->next = r;
        else
            p->qhead = r;
        p->qtail = r;
    }
    p->nqueued++;
}

static struct creq *dequeue(gd_httpc_pool *p)
{
    struct creq *r = p->qhead;
    if (!r) return NULL;
    p->qhead = r->next;
    if (!p->qhead) p->qtail = NULL;
    p->nqueued--;
    r->next = NULL;
    return r;
}

/* ---- connections ---- */

static void on_handle_closed(uv_handle_t *h)
{
    struct cconn *c = h->data;
    GD_CHECK_OBJ(c, CONN_MAGIC);
    gd_httpc_pool *p = c->pool;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    p->nconns--;
    gd_buf_free(&c->in);
    gd_buf_free(&c->wbuf);
    gd_buf_free(&c->body);
    c->magic = 0;
    gd_free(c);
    p->handles--;
    if (p->closing) {
        maybe_free_pool(p);
    } else {
        pump(p);
        drain_check(p);
    }
}

/* Closes a connection; its request (if any) ends with err, or is retried when
 * retry is set. */
static void conn_close(struct cconn *c, int err, int retry)
{
    if (c->state == CC_CLOSING) return;
    struct creq *r = c->req;
    c->req = NULL;
    c->throttled = 0;
    set_state(c, CC_CLOSING);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    if (r) {
        if (retry && !r->retried && !c->pool->closing) {
            r->retried = 1;
            enqueue(c->pool, r, 1);
        } else {
            finish(r, err, NULL);
        }
    }
}

static void span_add(struct cconn *c, struct span *sp, const char *at, size_t len)
{
    size_t off = (size_t)(at - c->in.data);
    if (sp->len == 0) sp->off = off;
    sp->len = off + len - sp->off;
}

static int p_on_message_begin(http_parser *hp)
{
    struct cconn *c = hp->data;
    c->nh = 0;
    c->last_was_value = 0;
    gd_buf_reset(&c->body);
    return 0;
}

static int p_on_header_field(http_parser *hp, const char *at, size_t len)
{
    struct cconn *c = hp->data;
    if (c->last_was_value || c->nh == 0) {
        if (c->nh == GD_HTTP_MAX_HEADERS) return 1;
        c->hname[c->nh].len = c->hval[c->nh].len = 0;
        c->nh++;
        c->last_was_value = 0;
    }
    span_add(c, &c->hname[c->nh - 1], at, len);
    return 0;
}

static int p_on_header_value(http_parser *hp, const char *at, size_t len)
{
    struct cconn *c = hp->data;
    if (c->nh == 0) return 1;
    c->last_was_value = 1;
    span_add(c, &c->hval[c->nh - 1], at, len);
    return 0;
}

static int p_on_body(http_parser *hp, const char *at, size_t len)
{
    struct cconn *c = hp->data;
    return gd_buf_append(&c->body, at, len) ? 1 : 0;
}

static int p_on_message_complete(http_parser *hp)
{
    struct cconn *c = hp->data;
    c->complete = 1;
    http_parser_pause(hp, 1);
    return 0;
}

/* The answer to a HEAD, and a 204 or 304, has headers only, whatever its
 * Content-Length says (RFC 9112 6.3); waiting for that body would hang until the
 * origin closes. */
static int p_on_headers_complete(http_parser *hp)
{
    struct cconn *c = hp->data;
    if (hp->status_code == 204 || hp->status_code == 304) return 1;
    return c->req && c->req->len >= 5 && !memcmp(c->req->data, "HEAD ", 5) ? 1 : 0;
}

static const http_parser_settings settings = {
    .on_message_begin = p_on_message_begin,
    .on_headers_complete = p_on_headers_complete,
    .on_header_field = p_on_header_field,
    .on_header_value = p_on_header_value,
    .on_body = p_on_body,
    .on_message_complete = p_on_message_complete,
};

static void deliver(struct cconn *c)
{
    gd_httpc_resp resp;
    resp.status = c->parser.status_code;
    resp.nheaders = c->nh;
    for (int i = 0; i < c->nh; i++) {
        resp.headers[i].name = c->in.data + c->hname[i].off;
        resp.headers[i].name_len = c->hname[i].len;
        resp.headers[i].value = c->hval[i].len ? c->in.data + c->hval[i].off : "";
        resp.headers[i].value_len = c->hval[i].len;
    }
    resp.body = c->body.len ? c->body.data : "";
    resp.body_len = c->body.len;
    resp.first_byte_ns = c->first_byte_ns;
    int keep = http_should_keep_alive(&c->parser) && !c->pool->closing;
    if (c->throttled) { /* the last bytes used up the bucket: an idle connection reads */
        c->throttled = 0;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    struct creq *r = c->req;
    c->req = NULL;
    c->served++;
    int extra = c->fed < c->in.len; /* bytes after the answer: not ours to keep */
    c->rate = 0;
    if (keep && !extra) {
        set_state(c, CC_IDLE);
    } else if (c->close_delay && !c->pool->closing) {
        /* A slow close: the connection is done, and closes close_delay ms later. */
        set_state(c, CC_LINGER);
        c->close_at = uv_now(c->pool->loop) + c->close_delay;
        uv_read_stop((uv_stream_t *)&c->tcp);
        sweep_on(c->pool);
    } else {
        set_state(c, CC_CLOSING);
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    }
    gd_httpc_pool *p = c->pool;
    finish(r, 0, &resp);
    if (c->state == CC_IDLE) {
        gd_buf_reset(&c->in);
        c->fed = 0;
        c->complete = 0;
        if (!p->closing) pump(p);
    }
    drain_check(p); /* last: it may close c */
}

/* Adds the bytes the rate allows since the last refill, up to a burst of 50 ms (at
 * least 1 KiB). */
static void refill(struct cconn *c, uint64_t now)
{
    double burst = c->rate / 20 > 1024 ? (double)(c->rate / 20) : 1024;
    c->tokens += (double)c->rate * (double)(now - c->refill_at) / 1000;
    if (c->tokens > burst) c->tokens = burst;
    c->refill_at = now;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct cconn *c = h->data;
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (gd_buf_reserve(&c->in, 16384) < 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len - 1;
    /* A read rate: no more than the bucket holds (one byte when it is empty, so that a
     * read still sees the end of the stream). */
    if (c->rate && c->state == CC_BUSY) {
        refill(c, uv_now(c->pool->loop));
        size_t room = c->tokens >= 1 ? (size_t)c->tokens : 1;
        if (buf->len > room) buf->len = room;
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct cconn *c = st->data;
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (c->state == CC_CLOSING || c->state == CC_LINGER) return;
    if (nread == 0) return;
    if (c->state != CC_BUSY) {
        /* The server closed (or spoke on) an idle connection. */
        conn_close(c, GD_ECONNRESET, 0);
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF && c->in.len > 0) {
            http_parser_execute(&c->parser, &settings, NULL, 0);
            if (c->complete) {
                deliver(c);
                return;
            }
        }
        /* Closed before any answer byte on a reused connection: try once more. */
        int retry = c->in.len == 0 && c->served > 0;
        conn_close(c,
                   nread == UV_ENOBUFS ? GD_ETOOBIG
                   : c->in.len         ? GD_EPROTO
                                       : GD_ECONNRESET,
                   retry);
        return;
    }
    if (c->in.len == 0) c->first_byte_ns = uv_hrtime();
    c->in.len += (size_t)nread;
    if (c->rate) {
        c->tokens -= (double)nread;
        if (c->tokens < 1) { /* the sweep reads on once the bucket has refilled */
            c->throttled = 1;
            uv_read_stop((uv_stream_t *)&c->tcp);
        }
    }
    size_t n = http_parser_execute(&c->parser, &settings, c->in.data + c->fed, c->in.len - c->fed);
    c->fed += n;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
    } else if (e != HPE_OK) {
        conn_close(c, GD_EPROTO, 0);
        return;
    }
    if (c->complete) deliver(c);
}

static void on_write(uv_write_t *w, int status)
{
    struct cconn *c = w->data;
    GD_CHECK_OBJ(c, CONN_MAGIC);
    c->writing = 0;
    if (status < 0 && c->state == CC_BUSY) conn_close(c, GD_ECONNRESET, c->served > 0);
}

static void assign(struct cconn *c, struct creq *r)
{
    c->req = r;
    set_state(c, CC_BUSY);
    c->rate = r->read_rate;
    c->tokens = 0;
    c->refill_at = uv_now(c->pool->loop);
    c->close_delay = r->close_delay_ms;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->complete = 0;
    c->fed = 0;
    gd_buf_reset(&c->in);
    int n = gd_tcp_send_now(&c->tcp, r->data, r->len);
    if (n < 0) {
        conn_close(c, GD_ECONNRESET, c->served > 0);
        return;
    }
    if ((size_t)n < r->len) {
        gd_buf_reset(&c->wbuf);
        if (gd_buf_append(&c->wbuf, r->data + n, r->len - (size_t)n) < 0) {
            conn_close(c, GD_ETOOBIG, 0);
            return;
        }
        uv_buf_t wb = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
        c->write.data = c;
        c->writing = 1;
        if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &wb, 1, on_write) < 0) {
            c->writing = 0;
            conn_close(c, GD_ECONNRESET, 0);
        }
    }
}

static void on_connect(uv_connect_t *cr, int status)
{
    struct cconn *c = cr->data;
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (c->state == CC_CLOSING) return;
    if (status < 0) {
        /* Fail one waiting request per failed connection attempt. */
        struct creq *r = dequeue(c->pool);
        conn_close(c, 0, 0);
        if (r)
            finish(r,
                   gd_err_from_uv(status) == GD_ECONNREFUSED ? GD_ECONNREFUSED
                                                             : gd_err_from_uv(status),
                   NULL);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    set_state(c, CC_IDLE);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    pump(c->pool);
}

static void open_conn(gd_httpc_pool *p)
{
    struct cconn *c = gd_calloc(1, sizeof *c);
    c->magic = CONN_MAGIC;
    c->pool = p;
    c->state = CC_IDLE;
    set_state(c, CC_CONNECTING);
    gd_buf_init(&c->in, MAX_RESPONSE + 16384);
    gd_buf_init(&c->wbuf, 64 * 1024 * 1024);
    gd_buf_init(&c->body, MAX_RESPONSE);
    uv_tcp_init(p->loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    p->handles++;
    p->nconns++;
    c->next = p->conns;
    if (p->conns) p->conns->prev = c;
    p->conns = c;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    int r = 0;
    if (p->src_ip) {
        sa.sin_addr.s_addr = htonl(p->src_ip);
        r = uv_tcp_bind(&c->tcp, (struct sockaddr *)&sa, 0);
    }
    sa.sin_addr.s_addr = htonl(p->ip);
    sa.sin_port = htons((uint16_t)p->port);
    if (r == 0) r = uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&sa, on_connect);
    if (r < 0) {
        /* The close callback pumps again; fail one request so we cannot spin. */
        conn_close(c, 0, 0);
        struct creq *q = dequeue(p);
        if (q) {
            /* Deliver from the loop, not from inside gd_httpc_request: via the sweep. */
            q->deadline = 1;
            enqueue(p, q, 1);
        }
    }
}

static void pump(gd_httpc_pool *p)
{
    if (p->closing) return;
    for (struct cconn *c = p->conns; c && p->qhead; c = c->next) {
        if (c->state == CC_IDLE) assign(c, dequeue(p));
    }
    while (p->nqueued > p->nconnecting && p->nconns < p->max_conns) open_conn(p);
}

/* ---- deadlines ---- */

/* The waiting requests whose time has come: sent (queued), or ended as their fate says;
 * past their deadline, timed out (a dropped request's only end). */
static void sweep_later(gd_httpc_pool *p, uint64_t now)
{
    struct creq *due = NULL, **tail = &due;
    for (struct creq **pp = &p->later; *pp;) {
        struct creq *r = *pp;
        if ((r->deadline && r->deadline <= now) || r->due <= now) {
            *pp = r->next;
            p->nlater--;
            r->next = NULL;
            *tail = r;
            tail = &r->next;
        } else {
            pp = &r->next;
        }
    }
    int queued = 0;
    while (due) {
        struct creq *r = due;
        due = r->next;
        r->next = NULL;
        if (p->closing) /* a callback closed the pool */
            finish(r, GD_ECLOSED, NULL);
        else if (r->deadline && r->deadline <= now)
            finish(r, GD_ETIMEDOUT, NULL);
        else if (r->fate == GD_HTTPC_RESET)
            finish(r, GD_ECONNRESET, NULL);
        else if (r->fate == GD_HTTPC_ANSWER)
            answer_instead(r);
        else
            enqueue(p, r, 0), queued = 1;
    }
    if (queued && !p->closing) pump(p);
}

static void on_sweep(uv_timer_t *t)
{
    gd_httpc_pool *p = t->data;
    GD_CHECK_OBJ(p, POOL_MAGIC);
    uint64_t now = uv_now(p->loop);
    p->sweeping = 1;
    for (struct cconn *c = p->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CC_BUSY && c->req && c->req->deadline && c->req->deadline <= now) {
            conn_close(c, GD_ETIMEDOUT, 0);
        } else if (c->state == CC_BUSY && c->throttled) {
            refill(c, now);
            if (c->tokens >= 1) {
                c->throttled = 0;
                uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
            }
        } else if (c->state == CC_LINGER && c->close_at <= now) {
            conn_close(c, 0, 0);
        }
    }
    /* Queued requests past their deadline. */
    struct creq **pp = &p->qhead, *prev = NULL;
    while (*pp) {
        struct creq *r = *pp;
        if (r->deadline && r->deadline <= now) {
            *pp = r->next;
            if (p->qtail == r) p->qtail = prev;
            p->nqueued--;
            finish(r, r->deadline == 1 ? GD_ECONNREFUSED : GD_ETIMEDOUT, NULL);
            if (p->closing) break;
        } else {
            prev = r;
            pp = &r->next;
        }
    }
    if (!p->closing) sweep_later(p, now);
    p->sweeping = 0;
    if (!p->closing && p->nbusy == 0 && p->nqueued == 0 && p->nlater == 0 && p->nlinger == 0)
        uv_timer_stop(&p->sweep);
    drain_check(p);
}

/* ---- public ---- */

gd_httpc_pool *gd_httpc_pool_new(uv_loop_t *loop, uint32_t ip, int port, int max_conns,
                                 int max_queue)
{
    gd_httpc_pool *p = gd_calloc(1, sizeof *p);
    p->magic = POOL_MAGIC;
    p->loop = loop;
    p->ip = ip;
    p->port = port;
    p->max_conns = max_conns > 0 ? max_conns : 1;
    p->max_queue = max_queue > 0 ? max_queue : 1;
    uv_timer_init(loop, &p->sweep);
    p->sweep.data = p;
    p->handles = 1;
    return p;
}

void gd_httpc_pool_set_source(gd_httpc_pool *p, uint32_t src_ip)
{
    p->src_ip = src_ip;
}

static void on_timer_closed(uv_handle_t *h)
{
    gd_httpc_pool *p = h->data;
    GD_CHECK_OBJ(p, POOL_MAGIC);
    p->handles--;
    maybe_free_pool(p);
}

void gd_httpc_pool_drain(gd_httpc_pool *p)
{
    GD_CHECK_OBJ(p, POOL_MAGIC);
    if (p->closing || p->draining) return;
    p->draining = 1;
    drain_check(p);
}

void gd_httpc_pool_close(gd_httpc_pool *p)
{
    GD_CHECK_OBJ(p, POOL_MAGIC);
    if (p->closing) return;
    p->closing = 1;
    struct creq *r;
    while ((r = dequeue(p)) != NULL) finish(r, GD_ECLOSED, NULL);
    while ((r = p->later) != NULL) {
        p->later = r->next;
        p->nlater--;
        finish(r, GD_ECLOSED, NULL);
    }
    for (struct cconn *c = p->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c, GD_ECLOSED, 0);
    }
    uv_close((uv_handle_t *)&p->sweep, on_timer_closed);
}

static int request(gd_httpc_pool *p, char *data, size_t len, int borrowed, const gd_httpc_opts *o,
                   gd_httpc_cb cb, void *ud)
{
    GD_CHECK_OBJ(p, POOL_MAGIC);
    if (p->closing || p->draining) return GD_ECLOSED;
    if (p->nqueued + p->nlater >= p->max_queue) return GD_EFULL;
    struct creq *r = gd_calloc(1, sizeof *r);
    r->data = data;
    r->borrowed = borrowed;
    r->len = len;
    r->cb = cb;
    r->ud = ud;
    /* The loop's time, not a clock read per request: it is at most one loop turn
     * old, which only brings a deadline of seconds that much forward. */
    r->deadline = o->timeout_ms ? uv_now(p->loop) + o->timeout_ms : 0;
    if (r->deadline == 1) r->deadline = 2;
    sweep_on(p);
    if (o->delay_ms || o->fate != GD_HTTPC_SEND || o->read_rate || o->close_delay_ms) {
        r->fate = o->fate;
        r->status = o->status;
        if (o->fate == GD_HTTPC_ANSWER) r->body = gd_strdup(o->body ? o->body : "");
        r->read_rate = o->read_rate;
        r->close_delay_ms = o->close_delay_ms;
        if (o->delay_ms || o->fate != GD_HTTPC_SEND) {
            /* Out of the queue until its time: even a fate without a delay comes from
             * the sweep, never from inside this call. */
            r->due = o->fate == GD_HTTPC_DROP ? UINT64_MAX : uv_now(p->loop) + o->delay_ms;
            r->next = p->later;
            p->later = r;
            p->nlater++;
            return 0;
        }
    }
    enqueue(p, r, 0);
    pump(p);
    return 0;
}

int gd_httpc_request_opts(gd_httpc_pool *p, const char *req, size_t len, int copy,
                          const gd_httpc_opts *o, gd_httpc_cb cb, void *ud)
{
    if (!copy) return request(p, (char *)req, len, 1, o, cb, ud);
    if (p->closing || p->draining || p->nqueued + p->nlater >= p->max_queue)
        return p->closing || p->draining ? GD_ECLOSED : GD_EFULL;
    char *dup = gd_malloc(len);
    memcpy(dup, req, len);
    int r = request(p, dup, len, 0, o, cb, ud);
    if (r < 0) gd_free(dup);
    return r;
}

int gd_httpc_request(gd_httpc_pool *p, const char *req, size_t len, uint64_t timeout_ms,
                     gd_httpc_cb cb, void *ud)
{
    gd_httpc_opts o = {.timeout_ms = timeout_ms};
    return gd_httpc_request_opts(p, req, len, 1, &o, cb, ud);
}

int gd_httpc_request_ref(gd_httpc_pool *p, const char *req, size_t len, uint64_t timeout_ms,
                         gd_httpc_cb cb, void *ud)
{
    gd_httpc_opts o = {.timeout_ms = timeout_ms};
    return request(p, (char *)req, len, 1, &o, cb, ud);
}

int gd_httpc_pool_conns(const gd_httpc_pool *p)
{
    return p->nconns;
}
