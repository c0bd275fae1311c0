/* HTTP/1.1 server on libuv + http-parser: keep-alive, pipelined requests answered in
 * order (responses to one read go out in one write), bounded buffers, idle timeout.
 * A handler answers at once or later (gd_http_respond* may be called from any later
 * callback); bytes that arrive meanwhile wait and are parsed after the answer. */
#ifndef GD_HTTP_H
#define GD_HTTP_H

#include "core/buf.h"

#include <http_parser.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define GD_HTTP_MAX_HEADERS 64
#define GD_HTTP_MAX_HEAD (32 * 1024)   /* request line + headers */
#define GD_HTTP_MAX_BODY (1024 * 1024) /* request body */

/* Request line with its CRLF; wall ms from a request's first byte to the end of its head. */
#define GD_HTTP_MAX_LINE (8 * 1024)
#define GD_HTTP_HEADER_TIMEOUT_MS 10000

/* Unsent output (answers not yet written plus bytes queued in uv_write) over which a
 * connection stops reading and parsing its pipelined requests, until the client has
 * read enough to bring it back under (HAProxy's and nginx's output backpressure). */
#define GD_HTTP_MAX_UNSENT (256 * 1024)

typedef struct gd_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} gd_http_header;

/* One parsed request. Its pointers are valid during the handler call only: a handler
 * that answers later copies what it needs (the connection reads on meanwhile). */
typedef struct gd_http_req {
    int method; /* enum http_method */
    const char *url;
    size_t url_len;
    const char *path; /* url without the query */
    size_t path_len;
    const char *query; /* after '?', NULL if none */
    size_t query_len;
    gd_http_header headers[GD_HTTP_MAX_HEADERS];
    int nheaders;
    const char *body;
    size_t body_len;
    int keep_alive;
    int http_minor;
} gd_http_req;

typedef struct gd_http_conn gd_http_conn;
typedef struct gd_http_server gd_http_server;
typedef void (*gd_http_handler)(gd_http_conn *c, gd_http_req *req, void *ud);

struct gd_http_server {
    uint32_t magic;
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t sweep;
    gd_http_handler handler;
    void *ud;
    gd_http_conn *conns; /* all open connections (doubly linked) */
    uint64_t idle_ms;    /* wall ms a connection may idle between requests */
    int nconns, max_conns;
    int listening, closing;
    uint64_t accepted, requests, bad_requests;
    void (*on_closed)(gd_http_server *s);
    /* Limits, set by init to the defaults above. Lower them to tighten (max_headers is
     * capped at GD_HTTP_MAX_HEADERS). A request over one is refused, and its connection
     * closed: request line over max_line 414, head over max_head or more than max_headers
     * fields 431, body over max_body 413 (a larger Content-Length before its body). */
    size_t max_line, max_head, max_body;
    int max_headers;
    /* Wall ms a request may take from its first byte to the end of its head (408), and
     * a new connection to send its first byte (then closed without an answer). */
    uint64_t header_timeout_ms;
    uint64_t timeouts; /* connections refused with 408 by header_timeout_ms or idle_ms */
    /* Optional: asked for each accepted connection (its peer, host order); 0 closes it at
     * once, before a byte is read (a security group's deny), counted in denied. */
    int (*admit)(gd_http_server *s, uint32_t peer_ip);
    void *admit_ud;
    uint64_t denied;
    /* Unsent output over which a connection stops reading (GD_HTTP_MAX_UNSENT), and how
     * many times a connection stopped for it. A connection stopped for longer than idle_ms
     * without the client reading anything is closed. */
    size_t max_unsent;
    uint64_t output_pauses;
    /* Paced output and delayed closes (gd_http_conn_set_rate, _set_close_delay): one
     * timer, running only while a connection needs it. */
    uv_timer_t slow;
    int handles; /* the listener and the two timers, until all have closed */
};

/** Prepares a server; nothing listens yet. idle timeout 60 s wall, 10000 connections.
 *  Limits GD_HTTP_MAX_*, header timeout GD_HTTP_HEADER_TIMEOUT_MS (fields to tighten). */
void gd_http_server_init(gd_http_server *s, uv_loop_t *loop, gd_http_handler h, void *ud);
/** Listens on ip:port (ip must be in 127.0.0.0/8 unless allow_any). 0, or GD_EEXIST
 *  when the address is in use, GD_EINVAL when the address is not local. */
int gd_http_server_listen(gd_http_server *s, const char *ip, int port);
/** Stops listening and closes every connection; on_closed (may be NULL) runs when done. */
void gd_http_server_close(gd_http_server *s, void (*on_closed)(gd_http_server *s));

/** Answers the connection's current request. extra_headers is "" or NULL or lines
 *  each ending in "\r\n". Safe to call after the client went away (then it only
 *  releases the request). Call exactly once per request. */
void gd_http_respond(gd_http_conn *c, int status, const char *extra_headers, const char *ctype,
                     const void *body, size_t len);
/** Answers with a JSON body (takes ownership of j). */
void gd_http_respond_json(gd_http_conn *c, int status, json_t *j);
/** Answers {"error":{"code":code,"message":msg}} with the status. */
void gd_http_respond_error(gd_http_conn *c, int status, const char *code, const char *msg);
/** Sends bytes already formatted as a whole HTTP response (status line to body). */
void gd_http_respond_raw(gd_http_conn *c, const void *data, size_t len, int keep_alive);

/* ---- streamed answers (server-sent events) ----
 * A streamed answer has a head with "Connection: close" and no Content-Length; its body
 * is whatever gd_http_stream_write adds until gd_http_stream_end. Meanwhile the request
 * stays with its handler: the connection parses nothing more and no idle timeout
 * applies to it. */

/** Writes the head of a streamed answer to c's current request (extra_headers as for
 *  gd_http_respond). 0, or GD_ECLOSED when the client has gone (then still call
 *  gd_http_stream_end). */
int gd_http_stream_begin(gd_http_conn *c, int status, const char *extra_headers, const char *ctype);
/** Queues len bytes of a streamed body and writes what the socket takes now. Nothing is
 *  queued when the unsent output would then pass max_unsent: GD_EAGAIN (a slow reader:
 *  the caller skips this piece). GD_ECLOSED once the client has gone. */
int gd_http_stream_write(gd_http_conn *c, const void *data, size_t len, size_t max_unsent);
/** Ends a streamed answer: what is queued goes out, then the connection closes. Call it
 *  exactly once per gd_http_stream_begin, also after the client went away (it releases
 *  the request); c may be freed by it. */
void gd_http_stream_end(gd_http_conn *c);
/** Sets the socket's send buffer (SO_SNDBUF) of c, so that a slow reader's backlog
 *  stays in the connection's own bounded output. 0 or GD_EIO. */
int gd_http_conn_set_sndbuf(gd_http_conn *c, int bytes);

/** The client's address ("127.1.0.4") and numeric form (host order). */
const char *gd_http_conn_peer(const gd_http_conn *c);
uint32_t gd_http_conn_peer_ip(const gd_http_conn *c);
/** Bytes of answers the connection has not written yet (queued or not yet tried). */
size_t gd_http_conn_unsent(const gd_http_conn *c);
/* Network faults (the edge's, src/edge/fault.c): what a connection's link does wrong. */

/** Ends the current request of c without an answer and closes the connection at once;
 *  reset: with a TCP RST (SO_LINGER 0) instead of a FIN. It stands for the request's
 *  answer (nothing more is sent for it), also when the client has gone meanwhile. */
void gd_http_conn_abort(gd_http_conn *c, int reset);
/** From now on, the answers on c are written at most bytes_per_s, in pieces every 10 ms
 *  (0: as fast as the socket takes them). */
void gd_http_conn_set_rate(gd_http_conn *c, uint64_t bytes_per_s);
/** A close the server decides on c (Connection: close once the answers are out, the
 *  idle timeout) happens ms later (0: at once); meanwhile c reads nothing. */
void gd_http_conn_set_close_delay(gd_http_conn *c, uint64_t ms);

/** Per-connection user pointer, for handlers that answer later. */
void gd_http_conn_set_data(gd_http_conn *c, void *data);
void *gd_http_conn_data(const gd_http_conn *c);

/** Finds a header (case-insensitive); NULL if absent, else its value and length. */
const char *gd_http_header_get(const gd_http_header *h, int n, const char *name, size_t *len);
/** Finds a query parameter and URL-decodes it into out (NUL-terminated). Returns its
 *  length, or -1 if absent, or GD_ETOOBIG if it does not fit. */
int gd_http_query_get(const char *query, size_t qlen, const char *name, char *out, size_t outlen);
/** Writes what the socket takes now, as uv_try_write does, but with send(2): the
 *  socket path is shorter than write(2)'s. Returns bytes written (0: would block, or
 *  earlier writes are still queued on t), or a negative libuv error. */
int gd_tcp_send_now(uv_tcp_t *t, const char *p, size_t len);
/** Standard reason phrase ("OK", "Service Unavailable"). */
const char *gd_http_reason(int status);
/** Appends "HTTP/1.1 <status> <reason>\r\n" to b (no printf). */
int gd_http_status_line(gd_buf *b, int status);
/** Appends the decimal form of v to b (no printf). */
int gd_http_put_uint(gd_buf *b, size_t v);
/** Appends a percent-encoded copy of s (query-value safe) to b. */
int gd_http_urlencode(gd_buf *b, const char *s, size_t n);

/** The value of cookie `name` in the request's Cookie headers (its length in *len,
 *  trailing spaces trimmed), or NULL when no pair has that name. A pair without '='
 *  is skipped. Points into the request. */
const char *gd_http_cookie(const gd_http_req *req, const char *name, size_t *len);

/* Requests are refused (4xx, 501 or 505, and the connection closed) where Debian's
 * http-parser 2.9.4 is lenient and a proxy behind or in front of this server could read the bytes
 * differently (request smuggling): bare CR or bare LF line ends, NUL and control bytes, obs-fold,
 * whitespace before the colon, Content-Length twice or with Transfer-Encoding, a Transfer-Encoding
 * other than "chunked", sloppy chunk framing, more than one Host. Trailer fields are
 * checked but not added to the request's headers. */

/* ---- testing and fuzzing: a connection without a socket ---- */

/** Opens a connection on s (which need not listen) that has no socket: its bytes come
 *  from gd_http_conn_feed and what the server would send is appended to sink (may be
 *  NULL; a full sink drops the rest). Requests go to s->handler as from the network.
 *  The caller frees it with gd_http_conn_free_fake. */
gd_http_conn *gd_http_conn_fake(gd_http_server *s, gd_buf *sink);
/** As if len bytes were read from the client. Returns how many were taken: fewer than
 *  len when the input buffer is full while a request is with its handler (answer it,
 *  then feed the rest), none once the connection is closing. */
size_t gd_http_conn_feed(gd_http_conn *c, const void *data, size_t len);
/** 1 once the server has closed the connection (or will, once its answers are out). */
int gd_http_conn_closing(const gd_http_conn *c);
/** Frees a connection from gd_http_conn_fake. A request with its handler must have
 *  been answered first. */
void gd_http_conn_free_fake(gd_http_conn *c);

#endif
