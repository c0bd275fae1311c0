/* Sessions in Redis through hiredis' async API on libuv (see session_redis.h). The
 * connection's life is one state enum changed in set_state(); every command has its own
 * timer, so that a Redis that stops answering (SIGSTOP, a full network) fails the
 * request instead of holding it for ever: hiredis 0.14 has no command timeout. The
 * events glue is ours, not hiredis' adapters/libuv.h: that one drops libuv's error
 * status, which libuv gives (and stops the poll) when a connect is refused or a
 * connection reset, so hiredis would never learn of either. */
#include "services/session_redis.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#define REDIS_MAGIC 0x52454449u
#define OP_MAGIC 0x52454f50u
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define KEY_PREFIX "sess:"

/* The connection's life, changed only in set_state(). */
enum rstate {
    RS_DOWN,       /* no connection; the retry timer runs */
    RS_CONNECTING, /* connect in progress */
    RS_HANDSHAKE,  /* connected; AUTH and PING sent, not answered yet */
    RS_UP,         /* PING answered: commands go out */
};

enum errkind { E_REPLY, E_TIMEOUT, E_LOST, E_UNAVAILABLE, E_NKINDS };
static const char *const errkind_names[E_NKINDS] = {"error_reply", "timeout", "connection_lost",
                                                    "unavailable"};

struct gd_sredis {
    uint32_t magic;
    uv_loop_t *loop;
    gd_sredis_conf conf;
    char ip[16], addr[32], source[16];
    char *user, *password;
    redisAsyncContext *ctx; /* NULL while down */
    enum rstate state;
    int logged;       /* the state last logged: -1 none yet, 0 down, 1 up */
    uv_timer_t retry; /* reconnect after the backoff; the handshake's deadline */
    uint64_t backoff_ms;
    uint64_t errors[E_NKINDS];
    uint64_t connects_ok, connects_failed;
    char last_error[128];
};

/* One command on its way. Freed once hiredis has called back (always exactly once: with
 * the reply, or NULL when the connection goes) and its timer is closed. */
struct op {
    uint32_t magic;
    gd_sredis *r;
    gd_sredis_cb cb;
    void *arg;
    int delivered; /* cb called (the reply, or the timeout before it) */
    uv_timer_t timer;
};

static void connect_now(gd_sredis *r);
static void drop(gd_sredis *r, const char *why);

/* ---- hiredis on the loop: one uv_poll_t per connection ---- */

#define EV_MAGIC 0x52455645u

struct events {
    uint32_t magic;
    redisAsyncContext *ac; /* NULL once hiredis has cleaned up */
    uv_poll_t poll;
    int want; /* UV_READABLE | UV_WRITABLE */
};

static void on_poll(uv_poll_t *h, int status, int ready)
{
    struct events *e = h->data;
    GD_CHECK_OBJ(e, EV_MAGIC);
    if (status < 0) {
        /* POLLERR: a refused connect, a reset. libuv stopped the poll; hiredis finds the
         * socket's error on its next read (or connect check) and disconnects. */
        if (e->ac) redisAsyncHandleRead(e->ac);
        return;
    }
    if (e->ac && (ready & UV_READABLE)) redisAsyncHandleRead(e->ac);
    if (e->ac && (ready & UV_WRITABLE)) redisAsyncHandleWrite(e->ac);
}

static void ev_update(struct events *e, int add, int del)
{
    e->want = (e->want | add) & ~del;
    if (e->want)
        uv_poll_start(&e->poll, e->want, on_poll);
    else
        uv_poll_stop(&e->poll);
}

static void ev_add_read(void *p)
{
    ev_update(p, UV_READABLE, 0);
}

static void ev_del_read(void *p)
{
    ev_update(p, 0, UV_READABLE);
}

static void ev_add_write(void *p)
{
    ev_update(p, UV_WRITABLE, 0);
}

static void ev_del_write(void *p)
{
    ev_update(p, 0, UV_WRITABLE);
}

static void on_poll_closed(uv_handle_t *h)
{
    struct events *e = h->data;
    GD_CHECK_OBJ(e, EV_MAGIC);
    e->magic = 0;
    gd_free(e);
}

/* hiredis frees the context: the poll goes (in its close callback). */
static void ev_cleanup(void *p)
{
    struct events *e = p;
    GD_CHECK_OBJ(e, EV_MAGIC);
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, on_poll_closed);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct events *e = gd_calloc(1, sizeof *e);
    e->magic = EV_MAGIC;
    if (uv_poll_init_socket(loop, &e->poll, ac->c.fd) != 0) {
        e->magic = 0;
        gd_free(e);
        return -1;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

static void set_state(gd_sredis *r, enum rstate s, const char *why)
{
    r->state = s;
    if (s == RS_UP && r->logged != 1) {
        gd_info("redis_up", "addr=%s", r->addr);
        r->logged = 1;
    } else if (s == RS_DOWN && r->logged != 0) {
        snprintf(r->last_error, sizeof r->last_error, "%s", why ? why : "");
        gd_warn("redis_down", "addr=%s error=%s", r->addr, gd_log_q(r->last_error));
        r->logged = 0;
    }
}

static void on_retry(uv_timer_t *t)
{
    gd_sredis *r = t->data;
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (r->state == RS_DOWN) {
        connect_now(r);
    } else if (r->state != RS_UP && r->ctx) {
        /* The connect or the handshake took longer than the timeout: give up on it. */
        r->connects_failed++;
        drop(r, "connect timed out");
    }
}

/* The connection failed or went: down, and a new one after the backoff. */
static void lost(gd_sredis *r, const char *why)
{
    set_state(r, RS_DOWN, why);
    uv_timer_start(&r->retry, on_retry, r->backoff_ms, 0);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* Drops the connection (a command timed out, the handshake was refused): pending
 * commands are called back with NULL at once, from redisAsyncFree. */
static void drop(gd_sredis *r, const char *why)
{
    redisAsyncContext *c = r->ctx;
    if (!c) return;
    r->ctx = NULL;
    lost(r, why);
    redisAsyncFree(c);
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
    gd_sredis *r = c->data;
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (r->ctx != c) return; /* one we dropped ourselves */
    r->ctx = NULL;
    lost(r, c->errstr[0] ? c->errstr : "connection closed");
}

static void on_handshake(redisAsyncContext *c, void *reply, void *priv)
{
    gd_sredis *r = c->data;
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    redisReply *rep = reply;
    if (r->ctx != c || r->state != RS_HANDSHAKE) return;
    if (!rep) return; /* the connection went: on_disconnect */
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[128];
        snprintf(why, sizeof why, "%s", rep->str);
        r->connects_failed++;
        drop(r, why); /* AUTH refused (WRONGPASS, NOAUTH...): retried with the backoff */
        return;
    }
    if (priv == NULL) return; /* the AUTH's OK: the PING's answer makes it up */
    r->connects_ok++;
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_stop(&r->retry);
    set_state(r, RS_UP, NULL);
}

static void on_connect(const redisAsyncContext *c, int status)
{
    gd_sredis *r = c->data;
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (r->ctx != c) return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this call */
        r->ctx = NULL;
        r->connects_failed++;
        lost(r, c->errstr[0] ? c->errstr : "connect failed");
        return;
    }
    r->state = RS_HANDSHAKE;
    redisAsyncContext *ac = r->ctx;
    if (r->password && r->user)
        redisAsyncCommand(ac, on_handshake, NULL, "AUTH %s %s", r->user, r->password);
    else if (r->password)
        redisAsyncCommand(ac, on_handshake, NULL, "AUTH %s", r->password);
    redisAsyncCommand(ac, on_handshake, (void *)1, "PING");
}

static void connect_now(gd_sredis *r)
{
    redisAsyncContext *c = r->source[0] ? redisAsyncConnectBind(r->ip, r->conf.port, r->source)
                                        : redisAsyncConnect(r->ip, r->conf.port);
    if (!c) {
        r->connects_failed++;
        lost(r, "out of memory");
        return;
    }
    if (c->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", c->errstr);
        redisAsyncFree(c);
        r->connects_failed++;
        lost(r, why);
        return;
    }
    c->data = r;
    if (attach(c, r->loop) < 0) {
        redisAsyncFree(c);
        r->connects_failed++;
        lost(r, "cannot attach to the loop");
        return;
    }
    redisAsyncSetConnectCallback(c, on_connect);
    redisAsyncSetDisconnectCallback(c, on_disconnect);
    r->ctx = c;
    r->state = RS_CONNECTING;
    /* The deadline of the connect and the handshake (on_retry gives up on them). */
    uv_timer_start(&r->retry, on_retry, r->conf.timeout_ms, 0);
}

int gd_sredis_start(uv_loop_t *loop, const gd_sredis_conf *conf, gd_sredis **out)
{
    if (!conf->ip || strlen(conf->ip) >= 16 || conf->port < 1 || conf->port > 65535)
        return GD_EINVAL;
    gd_sredis *r = gd_calloc(1, sizeof *r);
    r->magic = REDIS_MAGIC;
    r->loop = loop;
    r->conf = *conf;
    if (!r->conf.timeout_ms) r->conf.timeout_ms = 1000;
    snprintf(r->ip, sizeof r->ip, "%s", conf->ip);
    if (conf->source_ip && strlen(conf->source_ip) < sizeof r->source)
        snprintf(r->source, sizeof r->source, "%s", conf->source_ip);
    r->conf.source_ip = NULL; /* r->source holds it */
    snprintf(r->addr, sizeof r->addr, "%s:%d", conf->ip, conf->port);
    r->user = conf->user && *conf->user ? gd_strdup(conf->user) : NULL;
    r->password = conf->password && *conf->password ? gd_strdup(conf->password) : NULL;
    r->conf.user = r->user;
    r->conf.password = r->password;
    r->logged = -1;
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->retry);
    r->retry.data = r;
    connect_now(r);
    *out = r;
    return 0;
}

int gd_sredis_up(const gd_sredis *r)
{
    return r->state == RS_UP;
}

void gd_sredis_note_unavailable(gd_sredis *r)
{
    r->errors[E_UNAVAILABLE]++;
}

static void on_op_closed(uv_handle_t *h)
{
    struct op *o = h->data;
    GD_CHECK_OBJ(o, OP_MAGIC);
    o->magic = 0;
    gd_free(o);
}

static void deliver(struct op *o, int status, const char *text, size_t len)
{
    if (o->delivered) return;
    o->delivered = 1;
    o->cb(o->arg, status, text, len);
}

static void on_op_timeout(uv_timer_t *t)
{
    struct op *o = t->data;
    GD_CHECK_OBJ(o, OP_MAGIC);
    gd_sredis *r = o->r;
    r->errors[E_TIMEOUT]++;
    deliver(o, GD_EIO, NULL, 0);
    /* A store that does not answer in time is taken for down: the connection goes
     * (its other commands fail now) and is made again. */
    drop(r, "a command timed out");
}

static void on_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct op *o = priv;
    GD_CHECK_OBJ(o, OP_MAGIC);
    redisReply *rep = reply;
    uv_timer_stop(&o->timer);
    if (!o->delivered) {
        if (!rep) {
            o->r->errors[E_LOST]++;
            deliver(o, GD_EIO, NULL, 0);
        } else if (rep->type == REDIS_REPLY_ERROR) {
            o->r->errors[E_REPLY]++;
            deliver(o, GD_EIO, NULL, 0);
        } else if (rep->type == REDIS_REPLY_NIL) {
            deliver(o, GD_ENOENT, NULL, 0);
        } else if (rep->type == REDIS_REPLY_STRING) {
            deliver(o, 0, rep->str, rep->len);
        } else { /* SET's +OK, DEL's count */
            deliver(o, 0, NULL, 0);
        }
    }
    uv_close((uv_handle_t *)&o->timer, on_op_closed);
}

static struct op *new_op(gd_sredis *r, gd_sredis_cb cb, void *arg)
{
    struct op *o = gd_calloc(1, sizeof *o);
    o->magic = OP_MAGIC;
    o->r = r;
    o->cb = cb;
    o->arg = arg;
    uv_timer_init(r->loop, &o->timer);
    o->timer.data = o;
    return o;
}

/* A command hiredis would not take (its context is going): failed, from the loop. */
static void on_op_failed(uv_timer_t *t)
{
    struct op *o = t->data;
    GD_CHECK_OBJ(o, OP_MAGIC);
    deliver(o, GD_EIO, NULL, 0);
    uv_close((uv_handle_t *)&o->timer, on_op_closed);
}

/* The command is out, with its deadline; or it could not go, and fails later. */
static void sent(gd_sredis *r, struct op *o, int rc)
{
    if (rc != REDIS_OK) { /* hiredis will not call back */
        r->errors[E_LOST]++;
        uv_timer_start(&o->timer, on_op_failed, 0, 0);
        return;
    }
    uv_timer_start(&o->timer, on_op_timeout, r->conf.timeout_ms, 0);
}

int gd_sredis_get(gd_sredis *r, const char *sid, gd_sredis_cb cb, void *arg)
{
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (r->state != RS_UP || !r->ctx) {
        r->errors[E_UNAVAILABLE]++;
        return GD_EAGAIN;
    }
    struct op *o = new_op(r, cb, arg);
    sent(r, o, redisAsyncCommand(r->ctx, on_reply, o, "GET " KEY_PREFIX "%s", sid));
    return 0;
}

int gd_sredis_set(gd_sredis *r, const char *sid, const char *text, size_t len, uint64_t ttl_ms,
                  gd_sredis_cb cb, void *arg)
{
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (r->state != RS_UP || !r->ctx) {
        r->errors[E_UNAVAILABLE]++;
        return GD_EAGAIN;
    }
    struct op *o = new_op(r, cb, arg);
    sent(r, o,
         redisAsyncCommand(r->ctx, on_reply, o, "SET " KEY_PREFIX "%s %b PX %llu", sid, text, len,
                           (unsigned long long)(ttl_ms ? ttl_ms : 1)));
    return 0;
}

int gd_sredis_get_key(gd_sredis *r, const char *key, gd_sredis_cb cb, void *arg)
{
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (r->state != RS_UP || !r->ctx) {
        r->errors[E_UNAVAILABLE]++;
        return GD_EAGAIN;
    }
    struct op *o = new_op(r, cb, arg);
    sent(r, o, redisAsyncCommand(r->ctx, on_reply, o, "GET %s", key));
    return 0;
}

int gd_sredis_set_key_ex(gd_sredis *r, const char *key, const char *text, size_t len,
                         uint64_t ttl_s, gd_sredis_cb cb, void *arg)
{
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (r->state != RS_UP || !r->ctx) {
        r->errors[E_UNAVAILABLE]++;
        return GD_EAGAIN;
    }
    struct op *o = new_op(r, cb, arg);
    sent(r, o,
         redisAsyncCommand(r->ctx, on_reply, o, "SET %s %b EX %llu", key, text, len,
                           (unsigned long long)(ttl_s ? ttl_s : 1)));
    return 0;
}

int gd_sredis_del_keys(gd_sredis *r, const char *const *keys, int n, gd_sredis_cb cb, void *arg)
{
    GD_CHECK_OBJ(r, REDIS_MAGIC);
    if (n < 1 || n > GD_SREDIS_MAX_KEYS) return GD_EINVAL;
    if (r->state != RS_UP || !r->ctx) {
        r->errors[E_UNAVAILABLE]++;
        return GD_EAGAIN;
    }
    const char *argv[GD_SREDIS_MAX_KEYS + 1];
    size_t lens[GD_SREDIS_MAX_KEYS + 1];
    argv[0] = "DEL";
    lens[0] = 3;
    for (int i = 0; i < n; i++) {
        argv[i + 1] = keys[i];
        lens[i + 1] = strlen(keys[i]);
    }
    struct op *o = new_op(r, cb, arg);
    sent(r, o, redisAsyncCommandArgv(r->ctx, on_reply, o, n + 1, argv, lens));
    return 0;
}

void gd_sredis_counts(const gd_sredis *r, uint64_t *errors, uint64_t *connects_ok,
                      uint64_t *connects_failed)
{
    uint64_t e = 0;
    for (int k = 0; k < E_NKINDS; k++) e += r->errors[k];
    *errors = e;
    *connects_ok = r->connects_ok;
    *connects_failed = r->connects_failed;
}

void gd_sredis_metrics(const gd_sredis *r, gd_buf *b, const char *labels)
{
    char l[256];
    gd_prom_head(b, "gameday_clothes_session_store_up", "gauge",
                 "1 while the connection to the session store (Redis) is up");
    gd_prom_sample(b, "gameday_clothes_session_store_up", labels, r->state == RS_UP);
    gd_prom_head(b, "gameday_clothes_redis_errors_total", "counter",
                 "Session store commands that failed, by kind (unavailable: refused at once "
                 "while the store was down)");
    for (int k = 0; k < E_NKINDS; k++) {
        snprintf(l, sizeof l, "%s,kind=\"%s\"", labels, errkind_names[k]);
        gd_prom_sample(b, "gameday_clothes_redis_errors_total", l, (double)r->errors[k]);
    }
    gd_prom_head(b, "gameday_clothes_redis_connects_total", "counter",
                 "Connections to the session store made (ok) or failed");
    snprintf(l, sizeof l, "%s,result=\"ok\"", labels);
    gd_prom_sample(b, "gameday_clothes_redis_connects_total", l, (double)r->connects_ok);
    snprintf(l, sizeof l, "%s,result=\"failed\"", labels);
    gd_prom_sample(b, "gameday_clothes_redis_connects_total", l, (double)r->connects_failed);
}
