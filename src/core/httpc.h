/* HTTP/1.1 client on libuv + http-parser: a keep-alive connection pool per origin,
 * requests given as ready-made bytes, deadlines checked by one sweep timer per pool
 * (no timer per request), one quiet retry when a reused connection turns out closed.
 * Callbacks run from the loop, never from inside gd_httpc_request. */
#ifndef GD_HTTPC_H
#define GD_HTTPC_H

#include "core/http.h"

#include <stdint.h>
#include <uv.h>

typedef struct gd_httpc_resp {
    int status;
    const char *body; /* NUL-terminated */
    size_t body_len;
    gd_http_header headers[GD_HTTP_MAX_HEADERS];
    int nheaders;
    uint64_t first_byte_ns; /* monotonic time of the first response byte */
} gd_httpc_resp;

/* err is 0 with resp set, or GD_ECONNREFUSED, GD_ECONNRESET (closed before any answer
 * byte: safe to retry an idempotent request elsewhere), GD_ETIMEDOUT, GD_EPROTO
 * (malformed or cut-short answer), GD_EFULL (pool queue full), GD_ECLOSED (pool
 * closed). resp is valid during the call. */
typedef void (*gd_httpc_cb)(void *ud, int err, const gd_httpc_resp *resp);

typedef struct gd_httpc_pool gd_httpc_pool;

/** A pool to ip:port (host order ip) that opens up to max_conns connections; further
 *  requests wait in a queue of up to max_queue. */
gd_httpc_pool *gd_httpc_pool_new(uv_loop_t *loop, uint32_t ip, int port, int max_conns,
                                 int max_queue);
/** Binds outgoing connections to a source address (host order; 0 = any). */
void gd_httpc_pool_set_source(gd_httpc_pool *p, uint32_t src_ip);
/** Closes every connection; pending requests get GD_ECLOSED; memory is freed once
 *  the last handle has closed. */
void gd_httpc_pool_close(gd_httpc_pool *p);
/** Stops taking requests (GD_ECLOSED) but lets the ones in flight and queued finish,
 *  then closes as gd_httpc_pool_close does: for a pool being replaced. */
void gd_httpc_pool_drain(gd_httpc_pool *p);
/** Sends req (a whole request: request line, headers, body; copied) and calls cb
 *  once with the answer or an error. timeout_ms is wall time from now to the full
 *  answer (0 = none). Returns 0, or GD_EFULL/GD_ECLOSED without calling cb. */
int gd_httpc_request(gd_httpc_pool *p, const char *req, size_t len, uint64_t timeout_ms,
                     gd_httpc_cb cb, void *ud);
/** The same without a copy: req must stay valid and unchanged until cb has run (the
 *  edge keeps a proxied request for a retry anyway). */
int gd_httpc_request_ref(gd_httpc_pool *p, const char *req, size_t len, uint64_t timeout_ms,
                         gd_httpc_cb cb, void *ud);
/* How one request travels: what the edge's network faults (src/edge/fault.c) change
 * about it. A zero-filled struct is a plain request. */
typedef enum gd_httpc_fate {
    GD_HTTPC_SEND = 0, /* sent to the target */
    GD_HTTPC_ANSWER,   /* not sent: answered `status` with `body`, as if the target had */
    GD_HTTPC_RESET,    /* not sent: fails GD_ECONNRESET, as a reset connection would */
    GD_HTTPC_DROP,     /* not sent and never answered: fails GD_ETIMEDOUT at its deadline */
} gd_httpc_fate;

typedef struct gd_httpc_opts {
    uint64_t timeout_ms;     /* wall ms from the call to the full answer (0 = none) */
    uint64_t delay_ms;       /* wall ms before it is sent, or its fate comes (a latency) */
    gd_httpc_fate fate;      /* GD_HTTPC_SEND, or how it ends without being sent */
    int status;              /* GD_HTTPC_ANSWER: the status */
    const char *body;        /* GD_HTTPC_ANSWER: the text/plain body (copied; NULL = "") */
    uint64_t read_rate;      /* bytes per second its answer is read at most (0 = no limit) */
    uint64_t close_delay_ms; /* when its answer ends the connection, the close waits this */
} gd_httpc_opts;

/** gd_httpc_request (copy set) or gd_httpc_request_ref (copy 0) with options. A delayed
 *  or unsent request waits outside the queue (it holds no connection) but counts
 *  against max_queue. Returns 0, or GD_EFULL/GD_ECLOSED without calling cb. */
int gd_httpc_request_opts(gd_httpc_pool *p, const char *req, size_t len, int copy,
                          const gd_httpc_opts *o, gd_httpc_cb cb, void *ud);
/** Connections open. */
int gd_httpc_pool_conns(const gd_httpc_pool *p);

#endif
