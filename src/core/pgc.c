/* A PostgreSQL connection on libuv (see pgc.h). Its life is one state enum changed in
 * set_state(). The socket libpq uses is watched by a uv_poll_t of its own (a struct
 * with its magic), remade if libpq changes sockets while connecting; one timer is the
 * deadline of the connect or the query in flight, then the backoff's end. */
#include "core/pgc.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

#define PGC_MAGIC 0x50474343u
#define PW_MAGIC 0x50475057u
#define Q_MAGIC 0x50475151u
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 500 /* low: a db back from a failover or its start is found soon */
#define MAX_QUEUED 64

enum pstate {
    PC_DOWN,       /* no connection (in its backoff while `backoff_until` is ahead) */
    PC_CONNECTING, /* PQconnectPoll in progress */
    PC_IDLE,       /* connected, nothing out */
    PC_BUSY,       /* a query is out */
};

struct query {
    uint32_t magic;
    char *sql;
    gd_pgc_cb cb;
    void *arg;
    struct query *next;
};

/* The watch on one socket of libpq's; freed in its close callback. */
struct pwatch {
    uint32_t magic;
    gd_pgc *c; /* NULL once the connection no longer uses it */
    uv_poll_t poll;
};

struct gd_pgc {
    uint32_t magic;
    uv_loop_t *loop;
    char *conninfo;
    uint64_t timeout_ms, backoff_ms, backoff_until;
    PGconn *conn;
    enum pstate state;
    struct pwatch *w;
    int fd, events;
    uv_timer_t timer;
    uv_timer_t kick; /* a connect started from the loop, not from gd_pgc_query */
    int open_handles;
    struct query *head, *tail; /* head is the one out when PC_BUSY */
    int nqueued;
    PGresult *res[GD_PGC_MAX_RESULTS];
    int nres;
    int closing;
    char error[256];
};

static void pump(gd_pgc *c);

static void set_state(gd_pgc *c, enum pstate s)
{
    c->state = s;
}

static void on_watch_closed(uv_handle_t *h)
{
    struct pwatch *w = h->data;
    GD_CHECK_OBJ(w, PW_MAGIC);
    w->magic = 0;
    gd_free(w);
}

static void unwatch(gd_pgc *c)
{
    if (!c->w) return;
    c->w->c = NULL;
    uv_poll_stop(&c->w->poll);
    uv_close((uv_handle_t *)&c->w->poll, on_watch_closed);
    c->w = NULL;
    c->fd = -1;
    c->events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches libpq's socket for events (UV_READABLE | UV_WRITABLE). */
static void watch(gd_pgc *c, int events)
{
    int fd = c->conn ? PQsocket(c->conn) : -1;
    if (fd < 0) return;
    if (c->w && c->fd != fd) unwatch(c);
    if (!c->w) {
        struct pwatch *w = gd_calloc(1, sizeof *w);
        w->magic = PW_MAGIC;
        w->c = c;
        if (uv_poll_init_socket(c->loop, &w->poll, fd) != 0) {
            w->magic = 0;
            gd_free(w);
            return;
        }
        w->poll.data = w;
        c->w = w;
        c->fd = fd;
        c->events = 0;
    }
    if (events != c->events) {
        c->events = events;
        uv_poll_start(&c->w->poll, events, on_poll);
    }
}

static void clear_results(gd_pgc *c)
{
    for (int i = 0; i < c->nres; i++) PQclear(c->res[i]);
    c->nres = 0;
}

/* Takes the query out of the queue, calls it back and frees it. 1 if c was freed (or
 * is closing) during the call. */
static int deliver(gd_pgc *c, int err, const char *msg)
{
    struct query *q = c->head;
    if (!q) return 0;
    c->head = q->next;
    if (!c->head) c->tail = NULL;
    c->nqueued--;
    q->cb(q->arg, err, c->res, c->nres, msg ? msg : "");
    clear_results(c);
    q->magic = 0;
    gd_free(q->sql);
    gd_free(q);
    return c->closing;
}

/* The connection failed or went: every query waiting fails, the backoff starts. */
static void fail_all(gd_pgc *c, int err, const char *why)
{
    snprintf(c->error, sizeof c->error, "%s", why);
    for (size_t i = strlen(c->error); i > 0 && (c->error[i - 1] == '\n' || c->error[i - 1] == ' ');
         i--)
        c->error[i - 1] = 0;
    unwatch(c);
    if (c->conn) PQfinish(c->conn);
    c->conn = NULL;
    set_state(c, PC_DOWN);
    uv_timer_stop(&c->timer);
    c->backoff_until = uv_now(c->loop) + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", c->error);
    while (c->head)
        if (deliver(c, err, msg)) return;
}

static void on_timer(uv_timer_t *t)
{
    gd_pgc *c = t->data;
    GD_CHECK_OBJ(c, PGC_MAGIC);
    if (c->state == PC_CONNECTING)
        fail_all(c, GD_ETIMEDOUT, "connect timed out");
    else if (c->state == PC_BUSY)
        fail_all(c, GD_ETIMEDOUT, "query timed out");
}

static void connect_poll(gd_pgc *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->conn);
    if (st == PGRES_POLLING_FAILED) {
        fail_all(c, GD_EIO, PQerrorMessage(c->conn));
    } else if (st == PGRES_POLLING_OK) {
        PQsetnonblocking(c->conn, 1);
        uv_timer_stop(&c->timer);
        c->backoff_ms = BACKOFF_MIN_MS;
        c->error[0] = 0;
        set_state(c, PC_IDLE);
        watch(c, UV_READABLE);
        pump(c);
    } else {
        watch(c, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE);
    }
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

void gd_pgc_connect(gd_pgc *c)
{
    GD_CHECK_OBJ(c, PGC_MAGIC);
    if (c->state != PC_DOWN || c->closing || uv_now(c->loop) < c->backoff_until) return;
    c->conn = PQconnectStart(c->conninfo);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        fail_all(c, GD_EIO, c->conn ? PQerrorMessage(c->conn) : "out of memory");
        return;
    }
    PQsetNoticeProcessor(c->conn, quiet, NULL); /* notices ("already exists") are not errors */
    set_state(c, PC_CONNECTING);
    uv_timer_start(&c->timer, on_timer, c->timeout_ms, 0);
    connect_poll(c);
}

/* Reads what arrived; when the query in flight is complete, calls it back. */
static void read_results(gd_pgc *c)
{
    if (!PQconsumeInput(c->conn)) {
        fail_all(c, GD_EIO, PQerrorMessage(c->conn));
        return;
    }
    while (c->state == PC_BUSY && !PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        if (!r) { /* the query is complete */
            uv_timer_stop(&c->timer);
            set_state(c, PC_IDLE);
            const char *msg = NULL;
            int err = 0;
            for (int i = 0; i < c->nres; i++)
                if (PQresultStatus(c->res[i]) == PGRES_FATAL_ERROR) {
                    err = GD_EDB;
                    msg = PQresultErrorMessage(c->res[i]);
                    break;
                }
            char m[512];
            snprintf(m, sizeof m, "%s", msg ? msg : "");
            size_t l = strlen(m);
            while (l && m[l - 1] == '\n') m[--l] = 0;
            if (deliver(c, err, m)) return;
            pump(c);
            return;
        }
        if (c->nres < GD_PGC_MAX_RESULTS)
            c->res[c->nres++] = r;
        else
            PQclear(r);
    }
    if (c->conn && PQstatus(c->conn) == CONNECTION_BAD)
        fail_all(c, GD_EIO, PQerrorMessage(c->conn));
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pwatch *w = h->data;
    GD_CHECK_OBJ(w, PW_MAGIC);
    gd_pgc *c = w->c;
    if (!c) return;
    GD_CHECK_OBJ(c, PGC_MAGIC);
    if (c->state == PC_CONNECTING) {
        connect_poll(c);
        return;
    }
    if (status < 0) { /* an error on the socket: libpq finds it when it reads */
        events = UV_READABLE;
    }
    if ((events & UV_WRITABLE) && c->conn) {
        int f = PQflush(c->conn);
        if (f < 0) {
            fail_all(c, GD_EIO, PQerrorMessage(c->conn));
            return;
        }
        if (f == 0) watch(c, UV_READABLE);
    }
    if ((events & UV_READABLE) && c->conn) {
        if (c->state == PC_BUSY) {
            read_results(c);
        } else if (!PQconsumeInput(c->conn) || PQstatus(c->conn) == CONNECTION_BAD) {
            fail_all(c, GD_EIO, PQerrorMessage(c->conn)); /* the server closed it */
        } else {
            PGresult *r; /* notices, a NOTIFY: nothing waits for them */
            while (!PQisBusy(c->conn) && (r = PQgetResult(c->conn))) PQclear(r);
        }
    }
}

/* Sends the next query when idle; connects when down. */
static void pump(gd_pgc *c)
{
    if (!c->head || c->closing) return;
    if (c->state == PC_DOWN) {
        gd_pgc_connect(c);
        return;
    }
    if (c->state != PC_IDLE) return;
    if (!PQsendQuery(c->conn, c->head->sql)) {
        fail_all(c, GD_EIO, PQerrorMessage(c->conn));
        return;
    }
    set_state(c, PC_BUSY);
    uv_timer_start(&c->timer, on_timer, c->timeout_ms, 0);
    int f = PQflush(c->conn);
    if (f < 0) {
        fail_all(c, GD_EIO, PQerrorMessage(c->conn));
        return;
    }
    watch(c, f ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static void on_kick(uv_timer_t *t)
{
    gd_pgc *c = t->data;
    GD_CHECK_OBJ(c, PGC_MAGIC);
    pump(c);
}

gd_pgc *gd_pgc_new(uv_loop_t *loop, const char *conninfo, uint64_t timeout_ms)
{
    gd_pgc *c = gd_calloc(1, sizeof *c);
    c->magic = PGC_MAGIC;
    c->loop = loop;
    c->conninfo = gd_sprintf("%s sslmode=disable gssencmode=disable", conninfo);
    c->timeout_ms = timeout_ms ? timeout_ms : 2000;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->fd = -1;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_init(loop, &c->kick);
    c->kick.data = c;
    c->open_handles = 2;
    return c;
}

int gd_pgc_query(gd_pgc *c, const char *sql, gd_pgc_cb cb, void *arg)
{
    GD_CHECK_OBJ(c, PGC_MAGIC);
    if (c->closing) return GD_ECLOSED;
    if (c->state == PC_DOWN && uv_now(c->loop) < c->backoff_until) return GD_EAGAIN;
    if (c->nqueued >= MAX_QUEUED) return GD_EFULL;
    struct query *q = gd_calloc(1, sizeof *q);
    q->magic = Q_MAGIC;
    q->sql = gd_strdup(sql);
    q->cb = cb;
    q->arg = arg;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->nqueued++;
    if (c->state == PC_DOWN) /* a connect may fail at once: its callback comes from the loop */
        uv_timer_start(&c->kick, on_kick, 0, 0);
    else
        pump(c);
    return 0;
}

int gd_pgc_up(const gd_pgc *c)
{
    return c->state == PC_IDLE || c->state == PC_BUSY;
}

int gd_pgc_backing_off(const gd_pgc *c)
{
    return c->state == PC_DOWN && uv_now(c->loop) < c->backoff_until;
}

int gd_pgc_busy(const gd_pgc *c)
{
    return c->head != NULL;
}

const char *gd_pgc_error(const gd_pgc *c)
{
    return c->error;
}

static void on_timer_closed(uv_handle_t *h)
{
    gd_pgc *c = h->data;
    GD_CHECK_OBJ(c, PGC_MAGIC);
    if (--c->open_handles > 0) return;
    c->magic = 0;
    gd_free(c->conninfo);
    gd_free(c);
}

void gd_pgc_free(gd_pgc *c)
{
    if (!c) return;
    GD_CHECK_OBJ(c, PGC_MAGIC);
    if (c->closing) return;
    c->closing = 1;
    unwatch(c);
    if (c->conn) PQfinish(c->conn);
    c->conn = NULL;
    while (c->head) {
        struct query *q = c->head;
        c->head = q->next;
        q->magic = 0;
        gd_free(q->sql);
        gd_free(q);
    }
    c->tail = NULL;
    clear_results(c);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->kick, on_timer_closed);
}

int gd_pgc_quote(const char *s, char *out, size_t n)
{
    size_t o = 0;
    if (n < 3) return -1;
    out[o++] = '\'';
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n') return -1;
        if (o + 3 >= n) return -1;
        if (*p == '\'') out[o++] = '\'';
        out[o++] = *p;
    }
    if (o + 2 > n) return -1;
    out[o++] = '\'';
    out[o] = 0;
    return (int)o;
}
