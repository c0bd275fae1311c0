/* HTTP/1.1 server: accept, parse with http-parser, dispatch one request at a time per
 * connection, batch the answers of one read into one write, sweep idle connections. */
#include "core/http.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SERVER_MAGIC 0x48535256u
#define CONN_MAGIC 0x48434f4eu

/* A connection's life, changed only in set_state(). */
enum conn_state {
    CS_READING,    /* waiting for (more of) a request */
    CS_DISPATCHED, /* a request is with the handler, not answered yet */
    CS_CLOSING,    /* uv_close called; freed in the close callback */
};

struct span {
    size_t off, len;
};

struct gd_http_conn {
    uint32_t magic;
    uv_tcp_t tcp;
    gd_http_server *srv;
    gd_http_conn *prev, *next;
    http_parser parser;
    enum conn_state state;
    gd_buf in;      /* bytes read, from the start of the current request */
    size_t fed;     /* bytes of `in` given to the parser */
    size_t msg_end; /* end of the current request in `in` */
    gd_buf out;     /* answers not yet written */
    gd_buf body;    /* the current request's body */
    struct span url;
    struct span hname[GD_HTTP_MAX_HEADERS], hval[GD_HTTP_MAX_HEADERS];
    int nh;
    int last_was_value;
    int too_many_headers;
    int complete;
    int in_process;  /* inside process(): answers are batched, written at the end */
    int close_after; /* close once `out` is written */
    int pending;     /* closed while a request was with its handler */
    int handle_closed;
    gd_http_req req;
    uint64_t last_active;
    uint32_t peer_ip;
    char peer[16];
    void *data;
};

static void set_state(gd_http_conn *c, enum conn_state s)
{
    c->state = s;
}

static void conn_check(const gd_http_conn *c)
{
    if (c == NULL || c->magic != CONN_MAGIC) {
        gd_error("http_bad_conn", "ptr=%p", (const void *)c);
        abort();
    }
}

/* ---- closing ---- */

static void conn_free(gd_http_conn *c)
{
    gd_http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    gd_buf_free(&c->in);
    gd_buf_free(&c->out);
    gd_buf_free(&c->body);
    c->magic = 0;
    gd_free(c);
    if (s->closing && s->nconns == 0 && !s->listening && s->on_closed) {
        void (*cb)(gd_http_server *) = s->on_closed;
        s->on_closed = NULL;
        cb(s);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    gd_http_conn *c = h->data;
    c->handle_closed = 1;
    /* A request still with its handler keeps the memory until it is answered. */
    if (!c->pending) conn_free(c);
}

static void conn_close(gd_http_conn *c)
{
    if (c->state == CS_CLOSING) return;
    c->pending = c->state == CS_DISPATCHED;
    set_state(c, CS_CLOSING);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- writing ---- */

struct wreq {
    uv_write_t w;
    gd_http_conn *c;
    char data[];
};

static void on_written(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    gd_http_conn *c = r->c;
    gd_free(r);
    if (c->state == CS_CLOSING) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after && c->tcp.write_queue_size == 0) conn_close(c);
}

static void flush_out(gd_http_conn *c)
{
    if (c->out.len == 0 || c->state == CS_CLOSING) return;
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS) n = 0;
    if (n < 0) {
        gd_buf_reset(&c->out);
        conn_close(c);
        return;
    }
    if ((size_t)n < c->out.len) {
        size_t rest = c->out.len - (size_t)n;
        struct wreq *r = gd_malloc(sizeof *r + rest);
        r->c = c;
        memcpy(r->data, c->out.data + n, rest);
        uv_buf_t rb = uv_buf_init(r->data, (unsigned)rest);
        gd_buf_reset(&c->out);
        if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &rb, 1, on_written) < 0) {
            gd_free(r);
            conn_close(c);
        }
        return;
    }
    gd_buf_reset(&c->out);
    if (c->close_after) conn_close(c);
}

/* ---- parsing ---- */

static void span_add(gd_http_conn *c, struct span *sp, const char *at, size_t len)
{
    size_t off = (size_t)(at - c->in.data);
    if (sp->len == 0) sp->off = off;
    sp->len = off + len - sp->off;
}

static int p_on_message_begin(http_parser *p)
{
    gd_http_conn *c = p->data;
    c->url.len = 0;
    c->nh = 0;
    c->last_was_value = 0;
    c->too_many_headers = 0;
    gd_buf_reset(&c->body);
    return 0;
}

static int p_on_url(http_parser *p, const char *at, size_t len)
{
    gd_http_conn *c = p->data;
    span_add(c, &c->url, at, len);
    return 0;
}

static int p_on_header_field(http_parser *p, const char *at, size_t len)
{
    gd_http_conn *c = p->data;
    if (c->last_was_value || c->nh == 0) {
        if (c->nh == GD_HTTP_MAX_HEADERS) {
            c->too_many_headers = 1;
            return 1;
        }
        c->hname[c->nh].len = 0;
        c->hval[c->nh].len = 0;
        c->nh++;
        c->last_was_value = 0;
    }
    span_add(c, &c->hname[c->nh - 1], at, len);
    return 0;
}

static int p_on_header_value(http_parser *p, const char *at, size_t len)
{
    gd_http_conn *c = p->data;
    if (c->nh == 0) return 1;
    c->last_was_value = 1;
    span_add(c, &c->hval[c->nh - 1], at, len);
    return 0;
}

static int p_on_body(http_parser *p, const char *at, size_t len)
{
    gd_http_conn *c = p->data;
    return gd_buf_append(&c->body, at, len) ? 1 : 0;
}

static int p_on_message_complete(http_parser *p)
{
    gd_http_conn *c = p->data;
    c->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = p_on_message_begin,
    .on_url = p_on_url,
    .on_header_field = p_on_header_field,
    .on_header_value = p_on_header_value,
    .on_body = p_on_body,
    .on_message_complete = p_on_message_complete,
};

static void fill_req(gd_http_conn *c)
{
    gd_http_req *r = &c->req;
    const char *base = c->in.data;
    r->method = c->parser.method;
    r->url = base + c->url.off;
    r->url_len = c->url.len;
    const char *q = memchr(r->url, '?', r->url_len);
    r->path = r->url;
    r->path_len = q ? (size_t)(q - r->url) : r->url_len;
    r->query = q ? q + 1 : NULL;
    r->query_len = q ? r->url_len - r->path_len - 1 : 0;
    r->nheaders = c->nh;
    for (int i = 0; i < c->nh; i++) {
        r->headers[i].name = base + c->hname[i].off;
        r->headers[i].name_len = c->hname[i].len;
        r->headers[i].value = c->hval[i].len ? base + c->hval[i].off : "";
        r->headers[i].value_len = c->hval[i].len;
    }
    r->body = c->body.len ? c->body.data : "";
    r->body_len = c->body.len;
    r->keep_alive = http_should_keep_alive(&c->parser);
    r->http_minor = c->parser.http_minor;
}

static void bad_request(gd_http_conn *c, int status, const char *why)
{
    c->srv->bad_requests++;
    gd_debug("http_bad_request", "peer=%s why=%s", c->peer, gd_log_q(why));
    char b[256];
    int n = snprintf(b, sizeof b,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, gd_http_reason(status), strlen(why) + 1, why);
    gd_buf_append(&c->out, b, (size_t)n);
    c->close_after = 1;
    set_state(c, CS_READING);
    flush_out(c);
}

/* Parses what was read and dispatches complete requests, one at a time. */
static void process(gd_http_conn *c)
{
    c->in_process = 1;
    while (c->state == CS_READING && !c->close_after) {
        if (c->fed < c->in.len) {
            size_t n =
                http_parser_execute(&c->parser, &settings, c->in.data + c->fed, c->in.len - c->fed);
            c->fed += n;
            enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
            if (e == HPE_PAUSED) {
                http_parser_pause(&c->parser, 0);
            } else if (e != HPE_OK) {
                if (c->too_many_headers)
                    bad_request(c, 431, "too many headers");
                else if (e == HPE_CB_body)
                    bad_request(c, 413, "body too large");
                else if (e == HPE_HEADER_OVERFLOW)
                    bad_request(c, 431, "header too large");
                else
                    bad_request(c, 400, http_errno_description(e));
                break;
            }
        }
        if (!c->complete) return;
        c->msg_end = c->fed;
        fill_req(c);
        c->srv->requests++;
        set_state(c, CS_DISPATCHED);
        c->srv->handler(c, &c->req, c->srv->ud);
        /* The handler may have answered already (state back to READING) or not. */
    }
    c->in_process = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    gd_http_conn *c = h->data;
    if (gd_buf_reserve(&c->in, 16384) < 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len - 1;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    gd_http_conn *c = st->data;
    conn_check(c);
    if (nread == UV_ENOBUFS) {
        bad_request(c, 413, "request too large");
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    c->in.len += (size_t)nread;
    c->in.data[c->in.len] = 0;
    c->last_active = uv_now(c->srv->loop);
    /* While a request is with its handler, what arrives waits in `in` (parsed once the
     * answer went out): reading on costs no epoll_ctl per request. */
    if (c->state != CS_READING) return;
    process(c);
    flush_out(c);
}

static void on_connection(uv_stream_t *ls, int status)
{
    gd_http_server *s = ls->data;
    if (status < 0) return;
    gd_http_conn *c = gd_calloc(1, sizeof *c);
    c->magic = CONN_MAGIC;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)gd_free);
        return;
    }
    s->accepted++;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    gd_buf_init(&c->in, GD_HTTP_MAX_HEAD + GD_HTTP_MAX_BODY + 16384);
    gd_buf_init(&c->out, 64 * 1024 * 1024);
    gd_buf_init(&c->body, GD_HTTP_MAX_BODY);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->last_active = uv_now(s->loop);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        c->peer_ip = ntohl(sin->sin_addr.s_addr);
        inet_ntop(AF_INET, &sin->sin_addr, c->peer, sizeof c->peer);
    } else {
        strcpy(c->peer, "?");
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (s->nconns > s->max_conns) {
        conn_close(c);
        return;
    }
    set_state(c, CS_READING);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- answering ---- */

static void answered(gd_http_conn *c)
{
    if (c->state == CS_CLOSING) {
        c->pending = 0;
        c->complete = 0;
        if (c->handle_closed) conn_free(c);
        return;
    }
    c->complete = 0;
    c->req.url = NULL;
    gd_buf_consume(&c->in, c->msg_end);
    c->fed -= c->msg_end;
    c->msg_end = 0;
    c->url.len = 0;
    set_state(c, CS_READING);
    if (!c->req.keep_alive) c->close_after = 1;
    c->last_active = uv_now(c->srv->loop);
    if (c->in_process) return; /* process() goes on parsing; the caller flushes once */
    process(c);
    flush_out(c);
}

void gd_http_respond_raw(gd_http_conn *c, const void *data, size_t len, int keep_alive)
{
    conn_check(c);
    if (c->state != CS_CLOSING) {
        if (gd_buf_append(&c->out, data, len) < 0) c->close_after = 1;
        if (!keep_alive) c->req.keep_alive = 0;
    }
    answered(c);
}

/* Appends the decimal form of v. */
static int put_uint(gd_buf *b, size_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return gd_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

static int put_str(gd_buf *b, const char *s)
{
    return gd_buf_append(b, s, strlen(s));
}

void gd_http_respond(gd_http_conn *c, int status, const char *extra_headers, const char *ctype,
                     const void *body, size_t len)
{
    conn_check(c);
    if (c->state != CS_CLOSING) {
        gd_buf *o = &c->out;
        int r = gd_http_status_line(o, status);
        if (ctype) r |= put_str(o, "Content-Type: ") | put_str(o, ctype) | put_str(o, "\r\n");
        r |= put_str(o, "Content-Length: ") | put_uint(o, len) | put_str(o, "\r\n");
        if (extra_headers) r |= put_str(o, extra_headers);
        if (!c->req.keep_alive) r |= put_str(o, "Connection: close\r\n");
        r |= gd_buf_append(o, "\r\n", 2);
        if (len) r |= gd_buf_append(o, body, len);
        if (r) c->close_after = 1;
    }
    answered(c);
}

int gd_http_status_line(gd_buf *b, int status)
{
    char line[64];
    const char *reason = gd_http_reason(status);
    size_t rl = strlen(reason);
    if (status < 100 || status > 999 || rl > 40) return GD_EINVAL;
    memcpy(line, "HTTP/1.1 ", 9);
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    line[12] = ' ';
    memcpy(line + 13, reason, rl);
    memcpy(line + 13 + rl, "\r\n", 2);
    return gd_buf_append(b, line, 15 + rl);
}

int gd_http_put_uint(gd_buf *b, size_t v)
{
    return put_uint(b, v);
}

void gd_http_respond_json(gd_http_conn *c, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = s ? strlen(s) : 0;
    gd_http_respond(c, status, "Cache-Control: no-store\r\n", "application/json", s ? s : "", n);
    free(s);
}

void gd_http_respond_error(gd_http_conn *c, int status, const char *code, const char *msg)
{
    gd_http_respond_json(c, status,
                         json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

const char *gd_http_conn_peer(const gd_http_conn *c)
{
    return c->peer;
}

uint32_t gd_http_conn_peer_ip(const gd_http_conn *c)
{
    return c->peer_ip;
}

void gd_http_conn_set_data(gd_http_conn *c, void *data)
{
    c->data = data;
}

void *gd_http_conn_data(const gd_http_conn *c)
{
    return c->data;
}

/* ---- server ---- */

static void on_sweep(uv_timer_t *t)
{
    gd_http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (gd_http_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CS_READING && now - c->last_active > s->idle_ms) conn_close(c);
    }
}

void gd_http_server_init(gd_http_server *s, uv_loop_t *loop, gd_http_handler h, void *ud)
{
    memset(s, 0, sizeof *s);
    s->magic = SERVER_MAGIC;
    s->loop = loop;
    s->handler = h;
    s->ud = ud;
    s->idle_ms = 60000;
    s->max_conns = 10000;
}

int gd_http_server_listen(gd_http_server *s, const char *ip, int port)
{
    struct sockaddr_in sa;
    if (uv_ip4_addr(ip, port, &sa) < 0) return GD_EINVAL;
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) return GD_EINVAL;
    uv_tcp_init(s->loop, &s->tcp);
    s->tcp.data = s;
    int r = uv_tcp_bind(&s->tcp, (struct sockaddr *)&sa, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&s->tcp, 1024, on_connection);
    if (r < 0) {
        uv_close((uv_handle_t *)&s->tcp, NULL);
        return gd_err_from_uv(r);
    }
    s->listening = 1;
    uv_timer_init(s->loop, &s->sweep);
    s->sweep.data = s;
    uv_timer_start(&s->sweep, on_sweep, 1000, 1000);
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    gd_http_server *s = h->data;
    s->listening = 0;
    if (s->nconns == 0 && s->on_closed) {
        void (*cb)(gd_http_server *) = s->on_closed;
        s->on_closed = NULL;
        cb(s);
    }
}

void gd_http_server_close(gd_http_server *s, void (*on_closed)(gd_http_server *s))
{
    s->closing = 1;
    s->on_closed = on_closed;
    for (gd_http_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    if (s->listening) {
        uv_close((uv_handle_t *)&s->sweep, NULL);
        uv_close((uv_handle_t *)&s->tcp, on_listener_closed);
    } else if (on_closed && s->nconns == 0) {
        s->on_closed = NULL;
        on_closed(s);
    }
}

/* ---- helpers ---- */

const char *gd_http_header_get(const gd_http_header *h, int n, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (int i = 0; i < n; i++) {
        if (h[i].name_len == nl && !strncasecmp(h[i].name, name, nl)) {
            if (len) *len = h[i].value_len;
            return h[i].value;
        }
    }
    return NULL;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int gd_http_query_get(const char *query, size_t qlen, const char *name, char *out, size_t outlen)
{
    if (query == NULL) return -1;
    size_t nl = strlen(name);
    const char *p = query, *end = query + qlen;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - p) == nl && !memcmp(p, name, nl)) {
            size_t o = 0;
            for (const char *v = eq ? eq + 1 : pe; v < pe; v++) {
                int ch = (unsigned char)*v;
                if (ch == '+')
                    ch = ' ';
                else if (ch == '%' && pe - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    ch = hexval(v[1]) * 16 + hexval(v[2]);
                    v += 2;
                }
                if (o + 1 >= outlen) return GD_ETOOBIG;
                out[o++] = (char)ch;
            }
            out[o] = 0;
            return (int)o;
        }
        p = pe + 1;
    }
    return -1;
}

int gd_http_urlencode(gd_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int r;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            r = gd_buf_append(b, s + i, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            r = gd_buf_append(b, e, 3);
        }
        if (r) return r;
    }
    return 0;
}

const char *gd_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    return "Unknown";
}
