/* HTTP/1.1 server: accept, parse with http-parser (held strict where Debian's build is
 * lenient), dispatch one request at a time per connection, batch the answers of one read
 * into one write, refuse requests over a limit, sweep slow and idle connections. */
#include "core/http.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_MAGIC 0x48535256u
#define CONN_MAGIC 0x48434f4eu
#define READ_SIZE 16384 /* room offered to each read */
#define SWEEP_MIN_MS 50 /* shortest sweep period */
#define SLOW_MS 10      /* period of the pacing and delayed-close timer */

/* A connection's life, changed only in set_state(). */
enum conn_state {
    CS_READING,    /* waiting for (more of) a request */
    CS_DISPATCHED, /* a request is with the handler, not answered yet */
    CS_LINGERING,  /* the server closes it at close_at (a slow_close fault); not reading */
    CS_CLOSING,    /* uv_close called; freed in the close callback */
};

/* Bytes of the current request, as offsets from its first byte (c->base). */
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
    gd_buf in;      /* bytes read; the current request starts at `base` */
    size_t base;    /* bytes before it were answered (dropped by compact()) */
    size_t fed;     /* bytes of `in` given to the parser */
    size_t msg_end; /* end of the current request in `in` */
    gd_buf out;     /* answers not yet written */
    gd_buf body;    /* the current request's body */
    struct span url;
    struct span hname[GD_HTTP_MAX_HEADERS], hval[GD_HTTP_MAX_HEADERS];
    int nh;
    int last_was_value;
    /* scan_head()'s progress through the current head (offsets from base) */
    size_t scan;       /* bytes checked */
    size_t line_start; /* start of the line being checked */
    size_t head_end;   /* just past the empty line that ends the head; 0 until seen */
    size_t colon;      /* the first ':' of the line being checked, once seen */
    int line_seen;     /* the request line was checked */
    int line_sp;       /* spaces in the request line */
    size_t last_sp;    /* the last of them */
    int nfields;       /* header field lines checked */
    int head_done;     /* the parser is past the head: fields now are trailers */
    int skip_fields;   /* past the head, or past max_headers fields (scan_head refuses) */
    int reject;        /* status a parser callback refused the request with, or 0 */
    const char *reject_why;
    int complete;
    int in_process;  /* inside process(): answers are batched, written at the end */
    int close_after; /* close once `out` is written */
    int pending;     /* closed while a request was with its handler */
    int handle_closed;
    int read_paused; /* input full while a request is with its handler */
    int out_paused;  /* unsent output over max_unsent: neither reading nor parsing */
    int reading;     /* uv_read_start is in effect */
    int fake;        /* no socket (gd_http_conn_fake): output goes to sink */
    gd_buf *sink;
    uint64_t served; /* requests dispatched on this connection */
    gd_http_req req;
    uint64_t last_active; /* loop time of the last read or answer */
    uint64_t head_start;  /* loop time the current request's first byte arrived */
    uint32_t peer_ip;
    char peer[16];
    void *data;
    /* network faults (gd_http_conn_set_rate, _set_close_delay) */
    uint64_t rate;      /* bytes per second the answers go out at most, 0 = no limit */
    double tokens;      /* bytes that may go out now */
    uint64_t refill_at; /* loop time of the last refill */
    uint64_t close_delay_ms, close_at;
};

static void set_state(gd_http_conn *c, enum conn_state s)
{
    c->state = s;
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
    GD_CHECK_OBJ(c, CONN_MAGIC);
    c->handle_closed = 1;
    /* A request still with its handler keeps the memory until it is answered. */
    if (!c->pending) conn_free(c);
}

static void conn_close(gd_http_conn *c)
{
    if (c->state == CS_CLOSING) return;
    c->pending = c->state == CS_DISPATCHED;
    set_state(c, CS_CLOSING);
    if (c->fake) return; /* freed by gd_http_conn_free_fake */
    c->reading = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void process(gd_http_conn *c);
static void flush_out(gd_http_conn *c);
static void slow_on(gd_http_server *s);

/* A close the server decides (the answer said so, the idle timeout): at once, or
 * close_delay_ms later, the connection reading nothing meanwhile. */
static void server_close(gd_http_conn *c)
{
    if (c->state == CS_LINGERING) return;
    if (c->close_delay_ms == 0 || c->fake || c->state != CS_READING) {
        conn_close(c);
        return;
    }
    set_state(c, CS_LINGERING);
    c->close_at = uv_now(c->srv->loop) + c->close_delay_ms;
    c->reading = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    slow_on(c->srv);
}

/* Reads while the connection is open, its input has room and its output is under
 * max_unsent; starts or stops the socket's reading when that changes (an epoll_ctl:
 * only off the normal path). */
static void update_reading(gd_http_conn *c)
{
    int want =
        c->state != CS_CLOSING && c->state != CS_LINGERING && !c->read_paused && !c->out_paused;
    if (c->fake || want == c->reading) return;
    c->reading = want;
    if (want)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_read_stop((uv_stream_t *)&c->tcp);
}

/* Stops reading until the request with the handler is answered. */
static void pause_reading(gd_http_conn *c)
{
    c->read_paused = 1;
    update_reading(c);
}

/* Answers written or queued and not yet taken by the socket. */
static inline size_t unsent(const gd_http_conn *c)
{
    return c->out.len + (c->fake ? 0 : c->tcp.write_queue_size);
}

size_t gd_http_conn_unsent(const gd_http_conn *c)
{
    return unsent(c);
}

/* ---- writing ---- */

int gd_tcp_send_now(uv_tcp_t *t, const char *p, size_t len)
{
    uv_os_fd_t fd;
    if (t->write_queue_size != 0 || uv_fileno((uv_handle_t *)t, &fd) != 0) return 0;
    for (;;) {
        ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS
                   ? 0
                   : uv_translate_sys_error(errno);
    }
}

struct wreq {
    uv_write_t w;
    gd_http_conn *c;
    char data[];
};

static void on_written(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    gd_http_conn *c = r->c;
    GD_CHECK_OBJ(c, CONN_MAGIC);
    gd_free(r);
    if (c->state == CS_CLOSING) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->state == CS_LINGERING) return;
    if (c->close_after && c->tcp.write_queue_size == 0 && c->out.len == 0) server_close(c);
    if (c->out_paused && c->state == CS_READING) {
        c->last_active = c->head_start = uv_now(c->srv->loop); /* the client reads */
        if (unsent(c) > c->srv->max_unsent) return;
        /* Drained under the cap: parse what waited, then read again. */
        c->out_paused = 0;
        process(c);
        flush_out(c);
        update_reading(c);
    }
}

/* Paced output (a bandwidth fault): what the rate allows since the last refill, the
 * rest left in `out` for the slow timer. Nothing goes through uv_write. */
static void flush_paced(gd_http_conn *c)
{
    uint64_t now = uv_now(c->srv->loop);
    double burst = c->rate / 20 > 1 ? (double)(c->rate / 20) : 1; /* 50 ms of bytes */
    c->tokens += (double)c->rate * (double)(now - c->refill_at) / 1000;
    if (c->tokens > burst) c->tokens = burst;
    c->refill_at = now;
    size_t n = c->out.len < (size_t)c->tokens ? c->out.len : (size_t)c->tokens;
    if (n) {
        int k = gd_tcp_send_now(&c->tcp, c->out.data, n);
        if (k < 0) {
            gd_buf_reset(&c->out);
            conn_close(c);
            return;
        }
        if (k > 0) {
            gd_buf_consume(&c->out, (size_t)k);
            c->tokens -= k;
            c->last_active = now; /* the idle timeout counts from the last byte out */
        }
    }
    if (c->out.len) {
        slow_on(c->srv);
        return;
    }
    if (c->close_after && c->tcp.write_queue_size == 0) server_close(c);
}

static void flush_out(gd_http_conn *c)
{
    if (c->out.len == 0 || c->state == CS_CLOSING || c->state == CS_LINGERING) return;
    if (c->fake) {
        if (c->sink) gd_buf_append(c->sink, c->out.data, c->out.len);
        gd_buf_reset(&c->out);
        if (c->close_after) conn_close(c);
        return;
    }
    if (c->rate) {
        flush_paced(c);
        return;
    }
    int n = gd_tcp_send_now(&c->tcp, c->out.data, c->out.len);
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
    if (c->close_after) server_close(c);
}

/* Answers a request the server refuses (4xx or 5xx, a one-line reason) and closes the
 * connection: after a framing error the next request's start is unknown. Off the
 * normal path, so printf is fine here. */
static void bad_request(gd_http_conn *c, int status, const char *why)
{
    if (c->state != CS_READING || c->close_after) return;
    c->srv->bad_requests++;
    gd_debug("http_bad_request", "peer=%s status=%d why=%s", c->peer, status, gd_log_q(why));
    char b[320];
    int n = snprintf(b, sizeof b,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, gd_http_reason(status), strlen(why) + 1, why);
    gd_buf_append(&c->out, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
    c->close_after = 1;
    pause_reading(c);
    flush_out(c);
}

/* ---- parsing ---- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* A byte a field value or chunk extension must not hold: CTLs but HT, and DEL. */
static int is_ctl(unsigned char ch)
{
    return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

static int max_fields(const gd_http_server *s)
{
    return s->max_headers < GD_HTTP_MAX_HEADERS ? s->max_headers : GD_HTTP_MAX_HEADERS;
}

#define ONES 0x0101010101010101ull

/* block_specials(p): a mask with a bit for each of the BLOCK bytes at p that is a
 * control byte, SP or DEL; byte k's bit is bit (k << POS_SHIFT) + FIRST_BIT. */
#if defined(__SSE2__) && !defined(GD_HTTP_NO_SIMD) /* GD_HTTP_NO_SIMD: the portable path */
#include <emmintrin.h>
#define BLOCK 16
#define POS_SHIFT 0
#define FIRST_BIT 0
static inline uint64_t block_specials(const unsigned char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x20)), x); /* x <= 0x20 */
    __m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));
    return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(low, del));
}
#else
#define BLOCK 8
#define POS_SHIFT 3
#define FIRST_BIT 7
static inline uint64_t block_specials(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ull, m7 = ones * 0x7f;
    uint64_t w, y;
    memcpy(&w, p, 8);
    y = w ^ m7; /* zero where w is DEL */
    /* Per byte, no carry between bytes: bit 7 of (x & 0x7f) + 0x5f is clear iff the low
     * seven bits are below 0x21; ~w keeps bytes below 0x80. */
    uint64_t low = ~((w & m7) + ones * 0x5f) & ~w, del = ~(((y & m7) + m7) | y);
    return (low | del) & (ones * 0x80);
}
#endif

/* Checks the bytes of the current head that arrived since the last call (RFC 9112 §2.2,
 * §3, §5.2), where http-parser, built non-strict, is lenient:
 * - lines end in CRLF: a bare CR or bare LF is refused, not taken as a line end (the
 *   parser takes a bare LF anywhere, and a bare CR where it ends the head);
 * - no NUL, DEL or other control byte but HT (the parser lets DEL open a value, and HT
 *   and FF into a target); no HT and single spaces in the request line, which ends
 *   in "HTTP/" (the parser checks only its H and digits);
 * - no line starting with whitespace (obs-fold, or before the first field), no
 *   whitespace before a field's colon (the parser takes "Name : v" as "Name ");
 * - a request line within max_line, a head within max_head and max_headers fields.
 * Sets head_end past the empty line. Returns 0, or the status to refuse with, *why and
 * *at: the offset of the faulty byte from base. The parser is fed only what comes
 * before it, so the first fault in the bytes is the one reported whatever the reads.
 * Only control bytes, SP and DEL need a look (~2 a line): they are found a block of
 * bytes at a time. */
static int scan_head(gd_http_conn *c, const char **why, size_t *at)
{
    const gd_http_server *s = c->srv;
    const unsigned char *b = (const unsigned char *)c->in.data + c->base;
    size_t end = c->in.len - c->base, i = c->scan, ls = c->line_start;
    size_t lim_line = c->line_seen ? SIZE_MAX : ls + s->max_line;
    size_t lim = s->max_head < lim_line ? s->max_head : lim_line; /* first byte over */
    size_t stop = end < lim ? end : lim;
    int st = 0;
    while (i < stop) {
        size_t blk = i, len = 1; /* the bytes m covers */
        uint64_t m;
        if (stop - i >= BLOCK) {
            len = BLOCK;
            m = block_specials(b + i);
            if (m == 0) {
                i += BLOCK;
                continue;
            }
        } else if (b[i] > ' ' && b[i] != 0x7f) {
            i++;
            continue;
        } else {
            m = (uint64_t)1 << FIRST_BIT; /* b[i] alone */
        }
        for (; m; m &= m - 1) {
            size_t j = blk + ((size_t)__builtin_ctzll(m) >> POS_SHIFT);
            if (j < i) continue; /* an LF, taken with its CR */
            i = j;
            unsigned char ch = b[i];
            if (ch == ' ') {
                if (!c->line_seen) {
                    if (i == ls || b[i - 1] == ' ') {
                        st = 400, *why = "malformed request line";
                        goto out;
                    }
                    c->line_sp++;
                    c->last_sp = i;
                } else if (i == ls) {
                    st = 400, *why = "header line starts with whitespace (obs-fold)";
                    goto out;
                } else if (c->colon < ls) { /* the line's first space: a colon before it? */
                    const unsigned char *col =
                        b[i - 1] == ':' ? b + i - 1 : memchr(b + ls, ':', i - ls);
                    if (col == NULL) {
                        st = 400, *why = "whitespace in a header field name";
                        goto out;
                    }
                    c->colon = (size_t)(col - b);
                }
            } else if (ch == '\r') {
                if (i + 1 >= stop) goto out; /* decided when the next byte is here */
                if (b[i + 1] != '\n') {
                    st = 400, *why = "CR not followed by LF";
                    i++;
                    goto out;
                }
                i++; /* the end of a line: i on its LF */
                if (!c->line_seen) {
                    if (i - 1 > ls) { /* the request line */
                        if (c->line_sp != 2 || i - 1 - c->last_sp != 9 ||
                            memcmp(b + c->last_sp + 1, "HTTP/", 5) != 0) {
                            /* The parser takes "HTDP/1.1" (it checks only the H and the
                             * digits), and a lone space at the end; HTTP-version is
                             * "HTTP/" DIGIT "." DIGIT. */
                            st = 400, *why = "malformed request line";
                            goto out;
                        }
                        c->line_seen = 1;
                        lim_line = SIZE_MAX;
                    } else { /* an empty line before it: skipped (RFC 9112 §2.2) */
                        lim_line = i + 1 + s->max_line;
                    }
                    lim = s->max_head < lim_line ? s->max_head : lim_line;
                    stop = end < lim ? end : lim;
                } else if (i - 1 == ls) {
                    c->head_end = ++i;
                    goto out;
                } else if (++c->nfields > max_fields(s)) {
                    st = 431, *why = "too many header fields";
                    goto out;
                }
                ls = i + 1;
            } else if (ch == '\n') { /* not after a CR: a CRLF's LF goes with its CR */
                st = 400, *why = "line ends in a bare LF";
                goto out;
            } else if (ch == '\t') {
                if (!c->line_seen) {
                    st = 400, *why = "tab in the request line";
                    goto out;
                }
                if (i == ls) {
                    st = 400, *why = "header line starts with whitespace (obs-fold)";
                    goto out;
                }
            } else {
                st = 400, *why = ch ? "control character in the head" : "NUL in the head";
                goto out;
            }
            i++;
        }
        /* The rest of what m covers is plain (stop may have grown past it: the request
         * line's end lifts its limit). */
        if (i < blk + len) i = blk + len;
    }
out:
    c->scan = i;
    c->line_start = ls;
    if (st) {
        *at = i;
        return st;
    }
    if (c->head_end == 0 && end > lim) {
        *at = lim;
        if (lim == lim_line) {
            *why = "request line too long";
            return 414;
        }
        *why = "header section too large";
        return 431;
    }
    return 0;
}

/* Walks a chunked body strictly (RFC 9112 §7.1): http-parser takes a bare CR after a
 * chunk size, any two bytes after chunk data, a bare LF in an extension. b[0..n) holds
 * the body and trailers as the parser framed them. NULL if fine, else what is wrong. */
static const char *check_chunked(const unsigned char *b, size_t n)
{
    size_t i = 0;
    for (;;) {
        uint64_t size = 0;
        int digits = 0;
        for (; i < n && hexval(b[i]) >= 0; i++, digits++) {
            if (digits == 16) return "chunk size too long";
            size = size * 16 + (uint64_t)hexval(b[i]);
        }
        if (digits == 0) return "malformed chunk size";
        size_t ws = i;
        while (i < n && (b[i] == ' ' || b[i] == '\t')) i++;
        if (i < n && b[i] == ';') {
            for (i++; i < n && b[i] != '\r'; i++)
                if (is_ctl(b[i])) return "control character in a chunk extension";
        } else if (i != ws) {
            return "whitespace after a chunk size";
        }
        if (n - i < 2 || b[i] != '\r' || b[i + 1] != '\n')
            return "chunk size line not ended by CRLF";
        i += 2;
        if (size == 0) break;
        if (n - i < 2 || size > n - i - 2) return "chunk longer than the body";
        i += size;
        if (b[i] != '\r' || b[i + 1] != '\n') return "chunk data not followed by CRLF";
        i += 2;
    }
    for (;;) { /* trailer section */
        if (n - i >= 2 && b[i] == '\r' && b[i + 1] == '\n') {
            i += 2;
            break;
        }
        size_t ns = i;
        while (i < n && is_tchar(b[i])) i++;
        if (i == ns || i == n || b[i] != ':') return "malformed trailer field";
        for (i++; i < n && b[i] != '\r'; i++)
            if (is_ctl(b[i])) return "control character in a trailer field";
        if (n - i < 2 || b[i + 1] != '\n') return "trailer line not ended by CRLF";
        i += 2;
    }
    return i == n ? NULL : "chunked body framing";
}

/* Notes why a parser callback refuses the request; process() answers. */
static int refuse(gd_http_conn *c, int status, const char *why)
{
    c->reject = status;
    c->reject_why = why;
    return -1;
}

static void span_add(gd_http_conn *c, struct span *sp, const char *at, size_t len)
{
    size_t off = (size_t)(at - c->in.data) - c->base;
    if (sp->len == 0) sp->off = off;
    sp->len = off + len - sp->off;
}

static int p_on_message_begin(http_parser *p)
{
    gd_http_conn *c = p->data;
    c->url.len = 0;
    c->nh = 0;
    c->last_was_value = 0;
    c->head_done = c->skip_fields = 0;
    c->body.len = 0; /* fill_req goes by the length */
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
    /* A trailer field is checked by check_chunked, not kept. Past max_headers, scan_head
     * refuses at the end of the line: refusing here would depend on read boundaries. */
    if (c->skip_fields) return 0;
    if (c->last_was_value || c->nh == 0) {
        if (c->nh >= max_fields(c->srv)) {
            c->skip_fields = 1;
            return 0;
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
    if (c->skip_fields) return 0;
    if (c->nh == 0) return 1;
    c->last_was_value = 1;
    span_add(c, &c->hval[c->nh - 1], at, len);
    return 0;
}

/* n[0..len) is `lower` in any case. n holds only tchars (the parser and scan_head refuse
 * the rest), and setting bit 5 of a tchar lowers a letter and makes no other a letter or
 * '-'. */
static inline int name_is(const char *n, const char *lower, size_t len)
{
    if (len >= 8) {
        uint64_t a, b;
        memcpy(&a, n, 8);
        memcpy(&b, lower, 8);
        return (a | ONES * 0x20) == b && name_is(n + 8, lower + 8, len - 8);
    }
    if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, n, 4);
        memcpy(&b, lower, 4);
        return (a | 0x20202020u) == b && name_is(n + 4, lower + 4, len - 4);
    }
    for (size_t i = 0; i < len; i++)
        if ((n[i] | 0x20) != lower[i]) return 0;
    return 1;
}

/* "chunked", any case, with optional whitespace after it (the parser skips it before). */
static int is_chunked(const char *v, size_t n)
{
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    return n == 7 && !strncasecmp(v, "chunked", 7);
}

/* The head is complete: refuses what http-parser lets through but a peer could frame or
 * route differently (RFC 9112 §3.2, §6.1, §6.3), and a body declared over max_body
 * before it arrives. */
static int p_on_headers_complete(http_parser *p)
{
    gd_http_conn *c = p->data;
    const gd_http_server *s = c->srv;
    const char *base = c->in.data + c->base;
    c->head_done = c->skip_fields = 1;
    if (p->http_major != 1) return refuse(c, 505, "only HTTP/1.0 and 1.1 are served");
    int hosts = 0, nte = 0, te = 0;
    for (int i = 0; i < c->nh; i++) {
        const char *n = base + c->hname[i].off;
        size_t nl = c->hname[i].len;
        if (nl == 4 && name_is(n, "host", 4)) {
            hosts++;
        } else if (nl == 17 && name_is(n, "transfer", 8) && name_is(n + 8, "-encoding", 9)) {
            nte++;
            te = i;
        }
    }
    if (hosts > 1) return refuse(c, 400, "more than one Host header");
    if (hosts == 0 && p->http_minor > 0) return refuse(c, 400, "no Host header");
    if (nte || (p->flags & F_CHUNKED)) {
        if (p->flags & F_CONTENTLENGTH)
            return refuse(c, 400, "both Content-Length and Transfer-Encoding");
        if (p->http_minor == 0) return refuse(c, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (nte != 1) return refuse(c, 400, "more than one Transfer-Encoding header");
        if (!is_chunked(base + c->hval[te].off, c->hval[te].len)) {
            /* Chunked last but after another coding: understood framing, unknown coding. */
            if (p->flags & F_CHUNKED) return refuse(c, 501, "transfer coding other than chunked");
            return refuse(c, 400, "Transfer-Encoding not chunked");
        }
    }
    if (p->method == HTTP_CONNECT && (p->flags & (F_CONTENTLENGTH | F_CHUNKED)))
        return refuse(c, 400, "CONNECT with a body");
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > s->max_body)
        return refuse(c, 413, "request body too large");
    return 0;
}

static int p_on_body(http_parser *p, const char *at, size_t len)
{
    gd_http_conn *c = p->data;
    if (c->body.len + len > c->srv->max_body || gd_buf_append(&c->body, at, len))
        return refuse(c, 413, "request body too large");
    return 0;
}

static int p_on_message_complete(http_parser *p)
{
    gd_http_conn *c = p->data;
    c->complete = 1;
    p->http_errno = HPE_PAUSED; /* http_parser_pause(p, 1), without a library call */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = p_on_message_begin,
    .on_url = p_on_url,
    .on_header_field = p_on_header_field,
    .on_header_value = p_on_header_value,
    .on_headers_complete = p_on_headers_complete,
    .on_body = p_on_body,
    .on_message_complete = p_on_message_complete,
};

/* Where the path starts in an absolute-form target ("http://host:1/p?q", RFC 9112
 * §3.2.2); t itself for the other forms. */
static const char *origin_form(const char *t, const char *end)
{
    size_t n = (size_t)(end - t);
    if (n > 7 && !strncasecmp(t, "http://", 7))
        t += 7;
    else if (n > 8 && !strncasecmp(t, "https://", 8))
        t += 8;
    else
        return t;
    while (t < end && *t != '/' && *t != '?') t++;
    return t;
}

static void fill_req(gd_http_conn *c)
{
    gd_http_req *r = &c->req;
    const char *base = c->in.data + c->base;
    r->method = c->parser.method;
    r->url = base + c->url.off;
    r->url_len = c->url.len;
    const char *end = r->url + r->url_len, *p = r->url;
    if (r->url_len && *p != '/') p = origin_form(p, end);
    const char *q = memchr(p, '?', (size_t)(end - p));
    r->path = p;
    r->path_len = (size_t)((q ? q : end) - p);
    if (r->path_len == 0) r->path = "/", r->path_len = 1; /* "http://h?q", CONNECT "?:1" */
    r->query = q ? q + 1 : NULL;
    r->query_len = q ? (size_t)(end - q - 1) : 0;
    r->nheaders = c->nh;
    for (int i = 0; i < c->nh; i++) {
        size_t vl = c->hval[i].len;
        const char *v = vl ? base + c->hval[i].off : "";
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--; /* trailing OWS */
        r->headers[i].name = base + c->hname[i].off;
        r->headers[i].name_len = c->hname[i].len;
        r->headers[i].value = v;
        r->headers[i].value_len = vl;
    }
    r->body = c->body.len ? c->body.data : "";
    r->body_len = c->body.len;
    r->keep_alive = http_should_keep_alive(&c->parser);
    r->http_minor = c->parser.http_minor;
}

/* Answers a parse error: the callback's reason if one refused, else the parser's. */
static void refuse_parse(gd_http_conn *c, enum http_errno e)
{
    if (c->reject) {
        bad_request(c, c->reject, c->reject_why);
        return;
    }
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        bad_request(c, 431, "header section too large");
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        bad_request(c, 400, "Content-Length repeated or with Transfer-Encoding");
        break;
    case HPE_INVALID_CONTENT_LENGTH:
        bad_request(c, 400, "invalid Content-Length");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        bad_request(c, 400, "Transfer-Encoding not chunked");
        break;
    default:
        bad_request(c, 400, http_errno_description(e));
    }
}

/* Drops the answered requests from the front of `in`: once per read, not once per
 * request, so a pipelined batch costs one memmove. */
static void compact(gd_http_conn *c)
{
    if (c->base == 0) return;
    gd_buf_consume(&c->in, c->base);
    c->fed -= c->base;
    c->base = 0;
}

/* Parses what was read and dispatches complete requests, one at a time. */
static void process(gd_http_conn *c)
{
    c->in_process = 1;
    while (c->state == CS_READING && !c->close_after) {
        if (unsent(c) > c->srv->max_unsent) {
            /* A client that sends and does not read: write what the socket takes, and
             * stop reading and parsing while the rest is over the cap (on_written
             * resumes). Off the normal path: one read's answers are far under it. */
            flush_out(c);
            if (c->state != CS_READING || c->close_after) break;
            if (unsent(c) > c->srv->max_unsent) {
                c->out_paused = 1;
                c->srv->output_pauses++;
                update_reading(c);
                break;
            }
        }
        const char *why = NULL;
        size_t at = 0;
        int st = c->head_end ? 0 : scan_head(c, &why, &at);
        size_t stop = st ? c->base + at : c->in.len;
        if (c->fed < stop) {
            size_t n =
                http_parser_execute(&c->parser, &settings, c->in.data + c->fed, stop - c->fed);
            c->fed += n;
            enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
            if (e == HPE_PAUSED) {
                c->parser.http_errno = HPE_OK; /* http_parser_pause(.., 0) */
            } else if (e != HPE_OK) {
                refuse_parse(c, e);
                break;
            }
        }
        if (st) {
            bad_request(c, st, why);
            break;
        }
        if (!c->complete) break;
        c->msg_end = c->fed;
        if ((c->parser.flags & F_CHUNKED) &&
            (why = check_chunked((const unsigned char *)c->in.data + c->base + c->head_end,
                                 c->msg_end - c->base - c->head_end)) != NULL) {
            bad_request(c, 400, why);
            break;
        }
        fill_req(c);
        c->served++;
        c->srv->requests++;
        set_state(c, CS_DISPATCHED);
        c->srv->handler(c, &c->req, c->srv->ud);
        /* The handler may have answered already (state back to READING) or not. */
    }
    c->in_process = 0;
    if (c->state == CS_READING) compact(c);
}

/* len bytes were appended to `in`. */
static void conn_received(gd_http_conn *c, size_t len)
{
    uint64_t now = uv_now(c->srv->loop);
    if (c->in.len == c->base) c->head_start = now; /* a request's first byte */
    c->in.len += len;
    c->in.data[c->in.len] = 0;
    c->last_active = now;
    /* While a request is with its handler, what arrives waits in `in` (parsed once the
     * answer went out): reading on costs no epoll_ctl per request. */
    if (c->state != CS_READING) return;
    process(c);
    flush_out(c);
}

/* The input buffer is full. */
static void conn_nobufs(gd_http_conn *c)
{
    /* Pipelined requests behind one with its handler, or an answer still going out:
     * read again once it is answered (backpressure, not an error). */
    if (c->state == CS_DISPATCHED || c->close_after)
        pause_reading(c);
    else
        bad_request(c, 413, "request too large");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    gd_http_conn *c = h->data;
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (gd_buf_reserve(&c->in, READ_SIZE) < 0) {
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
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (nread == UV_ENOBUFS)
        conn_nobufs(c);
    else if (nread < 0)
        conn_close(c);
    else if (nread > 0)
        conn_received(c, (size_t)nread);
}

/* Links a new connection into s and gives it its buffers and parser. */
static void conn_setup(gd_http_server *s, gd_http_conn *c)
{
    c->magic = CONN_MAGIC;
    c->srv = s;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    gd_buf_init(&c->in, s->max_head + s->max_body + READ_SIZE);
    gd_buf_init(&c->out, 64 * 1024 * 1024);
    gd_buf_init(&c->body, s->max_body);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->last_active = c->head_start = uv_now(s->loop);
    set_state(c, CS_READING);
}

static void on_unaccepted_closed(uv_handle_t *h)
{
    gd_free(h->data); /* the connection, not the handle inside it */
}

static void on_connection(uv_stream_t *ls, int status)
{
    gd_http_server *s = ls->data;
    GD_CHECK_OBJ(s, SERVER_MAGIC);
    if (status < 0) return;
    gd_http_conn *c = gd_calloc(1, sizeof *c);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_unaccepted_closed);
        return;
    }
    s->accepted++;
    conn_setup(s, c);
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
    if (s->admit && !s->admit(s, c->peer_ip)) {
        s->denied++;
        conn_close(c);
        return;
    }
    c->reading = 1;
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
    c->base = c->msg_end; /* the next request starts here; compact() drops the rest */
    c->scan = c->line_start = c->head_end = 0;
    c->colon = 0;
    c->line_seen = c->line_sp = c->head_done = c->nfields = 0;
    c->last_sp = 0;
    c->url.len = 0;
    set_state(c, CS_READING);
    if (!c->req.keep_alive) c->close_after = 1;
    c->last_active = c->head_start = uv_now(c->srv->loop);
    if (c->read_paused && !c->close_after) {
        c->read_paused = 0;
        update_reading(c);
    }
    if (c->in_process) return; /* process() goes on parsing; the caller flushes once */
    process(c);
    flush_out(c);
}

void gd_http_respond_raw(gd_http_conn *c, const void *data, size_t len, int keep_alive)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
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
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (c->state != CS_CLOSING) {
        gd_buf *o = &c->out;
        int r = gd_http_status_line(o, status);
        if (ctype) r |= put_str(o, "Content-Type: ") | put_str(o, ctype) | put_str(o, "\r\n");
        r |= put_str(o, "Content-Length: ") | put_uint(o, len) | put_str(o, "\r\n");
        if (extra_headers) r |= put_str(o, extra_headers);
        if (!c->req.keep_alive)
            r |= put_str(o, "Connection: close\r\n");
        else if (c->req.http_minor == 0) /* an HTTP/1.0 client keeps it only if told */
            r |= put_str(o, "Connection: keep-alive\r\n");
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

/* ---- streamed answers ---- */

int gd_http_stream_begin(gd_http_conn *c, int status, const char *extra_headers, const char *ctype)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (c->state == CS_CLOSING) return GD_ECLOSED;
    gd_buf *o = &c->out;
    int r = gd_http_status_line(o, status);
    if (ctype) r |= put_str(o, "Content-Type: ") | put_str(o, ctype) | put_str(o, "\r\n");
    if (extra_headers) r |= put_str(o, extra_headers);
    r |= put_str(o, "Connection: close\r\n\r\n");
    c->req.keep_alive = 0;
    if (r) return GD_ETOOBIG;
    if (!c->in_process) flush_out(c); /* inside process() the caller flushes */
    return 0;
}

int gd_http_stream_write(gd_http_conn *c, const void *data, size_t len, size_t max_unsent)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (c->state == CS_CLOSING) return GD_ECLOSED;
    if (unsent(c) + len > max_unsent) return GD_EAGAIN;
    if (gd_buf_append(&c->out, data, len) < 0) return GD_ETOOBIG;
    if (!c->in_process) flush_out(c);
    return c->state == CS_CLOSING ? GD_ECLOSED : 0;
}

void gd_http_stream_end(gd_http_conn *c)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    int gone = c->state == CS_CLOSING; /* then answered() may free c */
    c->req.keep_alive = 0;
    answered(c);
    /* Nothing left to write: no write callback will close it. */
    if (!gone && c->state == CS_READING && c->close_after && unsent(c) == 0) server_close(c);
}

int gd_http_conn_set_sndbuf(gd_http_conn *c, int bytes)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    uv_os_fd_t fd;
    if (c->fake) return 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) < 0)
        return GD_EIO;
    return 0;
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

/* ---- network faults ---- */

void gd_http_conn_abort(gd_http_conn *c, int reset)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    int dispatched = c->state == CS_DISPATCHED || (c->state == CS_CLOSING && c->pending);
    if (reset && c->state != CS_CLOSING && !c->fake) {
        uv_os_fd_t fd;
        struct linger l = {1, 0}; /* close() then sends a RST, not a FIN */
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    conn_close(c);
    if (dispatched) answered(c); /* releases the request; may free c */
}

void gd_http_conn_set_rate(gd_http_conn *c, uint64_t bytes_per_s)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    if (bytes_per_s == c->rate) return;
    c->rate = bytes_per_s;
    c->tokens = 0;
    c->refill_at = uv_now(c->srv->loop);
}

void gd_http_conn_set_close_delay(gd_http_conn *c, uint64_t ms)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    c->close_delay_ms = ms;
}

/* The slow timer: paced output goes on, and delayed closes happen when due. It stops
 * once no connection needs it. */
static void on_slow(uv_timer_t *t)
{
    gd_http_server *s = t->data;
    GD_CHECK_OBJ(s, SERVER_MAGIC);
    uint64_t now = uv_now(s->loop);
    int more = 0;
    for (gd_http_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CS_LINGERING) {
            if (now >= c->close_at)
                conn_close(c);
            else
                more = 1;
            continue;
        }
        if (c->state == CS_CLOSING || !c->rate || c->fake) continue;
        if (c->out.len) flush_paced(c);
        /* Drained under the cap: parse what waited, then read again (as on_written). */
        if (c->state == CS_READING && c->out_paused && unsent(c) <= s->max_unsent) {
            c->out_paused = 0;
            c->last_active = c->head_start = now;
            process(c);
            flush_out(c);
            update_reading(c);
        }
        more |= c->state == CS_LINGERING || (c->state != CS_CLOSING && c->out.len > 0);
    }
    if (!more) uv_timer_stop(t);
}

static void slow_on(gd_http_server *s)
{
    if (s->handles && !s->closing && !uv_is_active((uv_handle_t *)&s->slow))
        uv_timer_start(&s->slow, on_slow, SLOW_MS, SLOW_MS);
}

/* ---- a connection without a socket (tests, fuzzing) ---- */

gd_http_conn *gd_http_conn_fake(gd_http_server *s, gd_buf *sink)
{
    gd_http_conn *c = gd_calloc(1, sizeof *c);
    c->fake = 1;
    c->sink = sink;
    conn_setup(s, c);
    strcpy(c->peer, "?");
    return c;
}

size_t gd_http_conn_feed(gd_http_conn *c, const void *data, size_t len)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    size_t taken = 0;
    /* The same steps as on_alloc and on_read, one read per free stretch of `in`. */
    while (taken < len && c->state != CS_CLOSING && !c->read_paused) {
        if (gd_buf_reserve(&c->in, READ_SIZE) < 0) {
            conn_nobufs(c);
            continue;
        }
        size_t n = c->in.cap - c->in.len - 1;
        if (n > len - taken) n = len - taken;
        memcpy(c->in.data + c->in.len, (const char *)data + taken, n);
        taken += n;
        conn_received(c, n);
    }
    return taken;
}

int gd_http_conn_closing(const gd_http_conn *c)
{
    return c->state == CS_CLOSING || c->state == CS_LINGERING || c->close_after;
}

void gd_http_conn_free_fake(gd_http_conn *c)
{
    GD_CHECK_OBJ(c, CONN_MAGIC);
    set_state(c, CS_CLOSING);
    c->handle_closed = 1;
    conn_free(c);
}

/* ---- server ---- */

/* A quarter of the shortest timeout: a connection outlives its timeout by at most that. */
static uint64_t sweep_period(const gd_http_server *s)
{
    uint64_t t = s->idle_ms < s->header_timeout_ms ? s->idle_ms : s->header_timeout_ms;
    t /= 4;
    return t < SWEEP_MIN_MS ? SWEEP_MIN_MS : t;
}

/* Closes connections that idled past idle_ms (or, never used, past header_timeout_ms),
 * and answers 408 to those slower than header_timeout_ms to send a head (slowloris) or
 * idle_ms between body bytes. One timer per server, whatever the connection count. */
static void on_sweep(uv_timer_t *t)
{
    gd_http_server *s = t->data;
    GD_CHECK_OBJ(s, SERVER_MAGIC);
    uint64_t now = uv_now(s->loop);
    for (gd_http_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->state != CS_READING) continue;
        if (c->out_paused) { /* a client that does not read its answers */
            if (now - c->last_active > s->idle_ms) conn_close(c);
            continue;
        }
        if (c->close_after || c->in.len == c->base) {
            uint64_t limit = c->served || c->close_after ? s->idle_ms : s->header_timeout_ms;
            if (now - c->last_active > limit) server_close(c);
        } else if (!c->head_done ? now - c->head_start > s->header_timeout_ms
                                 : now - c->last_active > s->idle_ms) {
            s->timeouts++;
            bad_request(c, 408,
                        c->head_done ? "request body stalled"
                                     : "request head not received in time");
        }
    }
    /* The timeouts may have changed since (the edge sets idle_ms on a listening server). */
    uint64_t p = sweep_period(s);
    if (uv_timer_get_repeat(t) != p) uv_timer_start(t, on_sweep, p, p);
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
    s->max_line = GD_HTTP_MAX_LINE;
    s->max_head = GD_HTTP_MAX_HEAD;
    s->max_headers = GD_HTTP_MAX_HEADERS;
    s->max_body = GD_HTTP_MAX_BODY;
    s->header_timeout_ms = GD_HTTP_HEADER_TIMEOUT_MS;
    s->max_unsent = GD_HTTP_MAX_UNSENT;
}

int gd_http_server_listen(gd_http_server *s, const char *ip, int port)
{
    struct sockaddr_in sa;
    if (uv_ip4_addr(ip, port, &sa) < 0) return GD_EINVAL;
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) return GD_EINVAL;
    /* Bound and listening before libuv sees it: a failure leaves no handle closing in
     * memory the caller may free or pass here again (a retry on the next port). */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0) return gd_err_from_uv(-errno);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        return gd_err_from_uv(-e);
    }
    uv_tcp_init(s->loop, &s->tcp);
    s->tcp.data = s;
    int r = uv_tcp_open(&s->tcp, fd);
    if (r == 0) r = uv_listen((uv_stream_t *)&s->tcp, 1024, on_connection);
    if (r < 0) { /* not seen in practice: the socket listens already */
        gd_error("http_listen", "addr=%s:%d err=%s", ip, port, uv_strerror(r));
        abort();
    }
    s->listening = 1;
    uv_timer_init(s->loop, &s->sweep);
    s->sweep.data = s;
    uint64_t p = sweep_period(s);
    uv_timer_start(&s->sweep, on_sweep, p, p);
    uv_timer_init(s->loop, &s->slow);
    s->slow.data = s;
    s->handles = 3;
    return 0;
}

/* The listener's and the timers' close callback: the server is closed once all three
 * (and every connection) are. */
static void on_listener_closed(uv_handle_t *h)
{
    gd_http_server *s = h->data;
    GD_CHECK_OBJ(s, SERVER_MAGIC);
    if (--s->handles > 0) return;
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
        uv_close((uv_handle_t *)&s->sweep, on_listener_closed);
        uv_close((uv_handle_t *)&s->slow, on_listener_closed);
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
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

const char *gd_http_cookie(const gd_http_req *req, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (int i = 0; i < req->nheaders; i++) {
        const gd_http_header *h = &req->headers[i];
        if (h->name_len != 6 || strncasecmp(h->name, "cookie", 6)) continue;
        const char *p = h->value, *end = h->value + h->value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';')) p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi ? semi : end;
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            if (eq && (size_t)(eq - p) == nl && !memcmp(p, name, nl)) {
                const char *v = eq + 1, *ve = stop;
                while (ve > v && ve[-1] == ' ') ve--;
                *vlen = (size_t)(ve - v);
                return v;
            }
            p = stop;
        }
    }
    return NULL;
}
