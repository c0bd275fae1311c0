/* The shop's database (see shop_db.h): two relays (the writer's endpoint and the
 * readers'), a pool of leased connections behind each, and the jobs (a product read, a
 * checkout, the schema). A job's life is its step, changed in set_step(): waiting for
 * a lease, its first query out, holding its slot on a timer, its COMMIT (or ROLLBACK)
 * out, done. */
#include "services/shop_db.h"
#include "core/addr.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hist.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pgc.h"
#include "core/promtext.h"
#include "core/resolver.h"
#include "model/db.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SHOPDB_MAGIC 0x53484442u
#define RELAY_MAGIC 0x52454c59u
#define RCONN_MAGIC 0x52434f4eu
#define JOB_MAGIC 0x4a4f4221u
#define MAX_WAITING 256
#define PIPE_HIGH (256 * 1024) /* bytes queued to one side before the other stops reading */
#define MAX_POOL 64

/* ---- the relay: libpq -> abstract unix socket -> TCP from the instance's address ---- */

struct relay {
    uint32_t magic;
    uv_loop_t *loop;
    char host[256]; /* the endpoint's name (or an address) */
    int port;
    uint32_t src;
    char sock[108]; /* the abstract name libpq connects to ("@..."), without the path */
    uv_pipe_t listener;
    uint32_t ips[8];
    int nips, next;
    uint64_t valid_until; /* loop ms: the answer's TTL */
    int resolving;
    struct rconn *waiting; /* connections waiting for the name */
    uint64_t connects, failures;
};

struct rconn {
    uint32_t magic;
    struct relay *rl;
    uv_pipe_t client;
    uv_tcp_t up;
    uv_connect_t creq;
    int up_open, closing, handles;
    struct rconn *next_wait;
};

struct wreq {
    uv_write_t w;
    struct rconn *c;
    uv_stream_t *from; /* read again once this side drained */
    char data[];
};

static void rconn_closed(uv_handle_t *h)
{
    struct rconn *c = h->data;
    GD_CHECK_OBJ(c, RCONN_MAGIC);
    if (--c->handles > 0) return;
    c->magic = 0;
    gd_free(c);
}

static void rconn_close(struct rconn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->client, rconn_closed);
    if (c->up_open) uv_close((uv_handle_t *)&c->up, rconn_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    b->base = gd_malloc(65536);
    b->len = 65536;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* The side that was stopped reads again (its peer drained). */
static void resume(uv_stream_t *s)
{
    uv_read_start(s, on_alloc, on_read);
}

static void on_written(uv_write_t *w, int status)
{
    struct wreq *q = (struct wreq *)w;
    struct rconn *c = q->c;
    GD_CHECK_OBJ(c, RCONN_MAGIC);
    if (status < 0) rconn_close(c);
    uv_stream_t *to = w->handle;
    if (!c->closing && to->write_queue_size < PIPE_HIGH / 2) resume(q->from);
    gd_free(q);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct rconn *c = s->data;
    GD_CHECK_OBJ(c, RCONN_MAGIC);
    if (n < 0 || c->closing) {
        gd_free(b->base);
        rconn_close(c);
        return;
    }
    if (n == 0) {
        gd_free(b->base);
        return;
    }
    uv_stream_t *to =
        s == (uv_stream_t *)&c->client ? (uv_stream_t *)&c->up : (uv_stream_t *)&c->client;
    struct wreq *q = gd_malloc(sizeof *q + (size_t)n);
    q->c = c;
    q->from = s;
    memcpy(q->data, b->base, (size_t)n);
    gd_free(b->base);
    uv_buf_t wb = uv_buf_init(q->data, (unsigned)n);
    if (uv_write(&q->w, to, &wb, 1, on_written) < 0) {
        gd_free(q);
        rconn_close(c);
        return;
    }
    if (to->write_queue_size > PIPE_HIGH) uv_read_stop(s); /* the other side is slow */
}

static void on_up_connected(uv_connect_t *r, int status)
{
    struct rconn *c = r->data;
    GD_CHECK_OBJ(c, RCONN_MAGIC);
    if (c->closing) return;
    if (status < 0) {
        c->rl->failures++;
        c->rl->valid_until = 0; /* ask the name again next time: it may have moved */
        rconn_close(c);
        return;
    }
    c->rl->connects++;
    c->up.data = c;
    uv_read_start((uv_stream_t *)&c->client, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&c->up, on_alloc, on_read);
}

static void dial(struct rconn *c)
{
    struct relay *rl = c->rl;
    if (rl->nips == 0) {
        rconn_close(c);
        return;
    }
    uint32_t ip = rl->ips[rl->next++ % rl->nips];
    uv_tcp_init(rl->loop, &c->up);
    c->up.data = c;
    c->up_open = 1;
    c->handles++;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(rl->src)};
    struct sockaddr_in dst = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)rl->port), .sin_addr.s_addr = htonl(ip)};
    c->creq.data = c;
    if (uv_tcp_bind(&c->up, (const struct sockaddr *)&src, 0) < 0 ||
        uv_tcp_connect(&c->creq, &c->up, (const struct sockaddr *)&dst, on_up_connected) < 0) {
        rl->failures++;
        rconn_close(c);
    }
}

static void on_resolved(void *ud, int err, const uint32_t *ips, int n, double ttl)
{
    struct relay *rl = ud;
    GD_CHECK_OBJ(rl, RELAY_MAGIC);
    rl->resolving = 0;
    if (!err && n > 0) {
        rl->nips = n > 8 ? 8 : n;
        memcpy(rl->ips, ips, sizeof *ips * (size_t)rl->nips);
        uint64_t ms = gd_clock_wall_ms(ttl * 1000);
        rl->valid_until = uv_now(rl->loop) + (ms ? ms : 1);
    } else {
        gd_warn("db_resolve_failed", "name=%s err=%s", rl->host, gd_strerror(err));
        rl->nips = 0;
    }
    struct rconn *w = rl->waiting;
    rl->waiting = NULL;
    while (w) {
        struct rconn *nx = w->next_wait;
        if (!w->closing) dial(w);
        w = nx;
    }
}

static void on_client(uv_stream_t *srv, int status)
{
    struct relay *rl = srv->data;
    GD_CHECK_OBJ(rl, RELAY_MAGIC);
    if (status < 0) return;
    struct rconn *c = gd_calloc(1, sizeof *c);
    c->magic = RCONN_MAGIC;
    c->rl = rl;
    uv_pipe_init(rl->loop, &c->client, 0);
    c->client.data = c;
    c->handles = 1;
    if (uv_accept(srv, (uv_stream_t *)&c->client) < 0) {
        rconn_close(c);
        return;
    }
    uint32_t ip;
    if (gd_ip_parse(rl->host, &ip) == 0) {
        rl->ips[0] = ip;
        rl->nips = 1;
        dial(c);
    } else if (rl->nips && uv_now(rl->loop) < rl->valid_until) {
        dial(c);
    } else {
        c->next_wait = rl->waiting;
        rl->waiting = c;
        if (!rl->resolving) {
            rl->resolving = 1;
            gd_resolver_lookup(rl->host, on_resolved, rl);
        }
    }
}

static int relay_start(uv_loop_t *loop, struct relay *rl, const char *tag)
{
    rl->magic = RELAY_MAGIC;
    rl->loop = loop;
    snprintf(rl->sock, sizeof rl->sock, "gameday-%d-%s", (int)getpid(), tag);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return GD_EIO;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char path[160];
    /* libpq connects to "<host>/.s.PGSQL.<port>"; host "@x" is the abstract name x */
    int l = snprintf(path, sizeof path, "%s/.s.PGSQL.%d", rl->sock, rl->port);
    memcpy(a.sun_path + 1, path, (size_t)l);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)l);
    if (bind(fd, (struct sockaddr *)&a, alen) < 0 || listen(fd, 128) < 0) {
        close(fd);
        return GD_EIO;
    }
    uv_pipe_init(loop, &rl->listener, 0);
    rl->listener.data = rl;
    if (uv_pipe_open(&rl->listener, fd) < 0 ||
        uv_listen((uv_stream_t *)&rl->listener, 128, on_client) < 0)
        return GD_EIO;
    return 0;
}

/* ---- the pools and jobs ---- */

enum jstep {
    J_WAITING, /* for a lease */
    J_FIRST,   /* BEGIN, take_slot, the work: out */
    J_HOLD,    /* holding the slot (its game ms on a timer) */
    J_END,     /* COMMIT or ROLLBACK out */
};

enum jkind { JK_PRODUCTS, JK_CHECKOUT, JK_SCHEMA };

struct pool {
    gd_pgc *c[MAX_POOL];
    int leased[MAX_POOL];
    int n;
    struct relay rl;
};

struct job {
    uint32_t magic;
    gd_shopdb *d;
    enum jkind kind;
    enum jstep step;
    struct pool *pool;
    int lease;
    long long id; /* products: 0 all, or one */
    char *first, *commit;
    json_t *doc;
    int err;
    char msg[256];
    uint64_t t0; /* mono ns */
    uv_timer_t hold;
    gd_shopdb_cb cb;
    void *arg;
    struct job *next;
};

struct gd_shopdb {
    uint32_t magic;
    uv_loop_t *loop;
    struct pool w, r;
    int has_readers;
    const gd_catalog *cat;
    struct job *wait_head, *wait_tail;
    int nwaiting;
    int schema_done, schema_running;
    uv_timer_t schema_retry;
    uint64_t ok[2], failed[2], unavailable, short_stock; /* [0] reads, [1] writes */
    gd_hist lat[2];                                      /* wall us, reads and writes */
};

static void set_step(struct job *j, enum jstep s)
{
    j->step = s;
}

static void pump(gd_shopdb *d);

static void job_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    json_decref(j->doc);
    gd_free(j->first);
    gd_free(j->commit);
    j->magic = 0;
    gd_free(j);
}

/* The job's end: its lease back, its callback, its memory (after the timer closes). */
static void job_done(struct job *j)
{
    gd_shopdb *d = j->d;
    if (j->lease >= 0) j->pool->leased[j->lease] = 0;
    j->lease = -1;
    int w = j->kind == JK_CHECKOUT;
    if (j->kind != JK_SCHEMA) {
        if (j->err == 0) {
            d->ok[w]++;
            gd_hist_add(&d->lat[w], (gd_clock_mono_ns() - j->t0) / 1000);
        } else if (j->err == GD_EFULL) {
            d->short_stock++;
        } else {
            d->failed[w]++;
        }
    }
    json_t *doc = j->doc;
    j->doc = NULL;
    if (j->cb)
        j->cb(j->arg, j->err, doc, j->msg);
    else
        json_decref(doc);
    uv_close((uv_handle_t *)&j->hold, job_closed);
    pump(d);
}

static void on_end(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct job *j = arg;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    if (err && !j->err) {
        j->err = GD_EIO;
        snprintf(j->msg, sizeof j->msg, "%s", msg);
    }
    job_done(j);
}

static void end(struct job *j, const char *sql)
{
    set_step(j, J_END);
    if (gd_pgc_query(j->pool->c[j->lease], sql, on_end, j) < 0) {
        if (!j->err) j->err = GD_EIO, snprintf(j->msg, sizeof j->msg, "the connection went");
        job_done(j);
    }
}

static void on_hold(uv_timer_t *t)
{
    struct job *j = t->data;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    end(j, j->commit);
}

/* The rows of a products SELECT as the shop's JSON. */
static json_t *rows_json(PGresult *r, int one)
{
    json_t *all = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(all, json_pack("{s:i,s:s,s:i,s:i}", "id", atoi(PQgetvalue(r, i, 0)),
                                             "name", PQgetvalue(r, i, 1), "price_cents",
                                             atoi(PQgetvalue(r, i, 2)), "stock",
                                             atoi(PQgetvalue(r, i, 3))));
    if (!one) return all;
    json_t *p = json_incref(json_array_get(all, 0));
    json_decref(all);
    return p;
}

static void on_first(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct job *j = arg;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    if (err) {
        j->err = err == GD_EDB ? GD_EIO : err;
        snprintf(j->msg, sizeof j->msg, "%s", msg);
        if (err == GD_EDB) { /* the transaction is aborted: end it before the lease goes */
            end(j, "ROLLBACK");
            return;
        }
        job_done(j);
        return;
    }
    double hold_ms = 0;
    if (j->kind == JK_SCHEMA) {
        j->d->schema_done = 1;
        gd_info("db_schema_ready", "products=%d", GD_CATALOG_N);
        job_done(j);
        return;
    }
    /* results: BEGIN, take_slot(), the work */
    if (nres >= 3 && PQntuples(res[1]) == 1) hold_ms = atof(PQgetvalue(res[1], 0, 0));
    PGresult *work = nres >= 3 ? res[2] : NULL;
    if (j->kind == JK_PRODUCTS) {
        if (!work || (j->id && PQntuples(work) != 1)) {
            j->err = GD_EIO;
            snprintf(j->msg, sizeof j->msg, "product %lld is not in the database", j->id);
            end(j, "ROLLBACK");
            return;
        }
        j->doc = rows_json(work, j->id != 0);
    } else {
        long long lines = json_array_size(json_object_get(j->doc, "items"));
        long long took = work && PQntuples(work) == 1 ? atoll(PQgetvalue(work, 0, 0)) : -1;
        if (took != lines) { /* a product's stock is short: nothing is taken */
            j->err = GD_EFULL;
            snprintf(j->msg, sizeof j->msg,
                     "out of stock: a product of the cart has fewer left than the cart holds");
            gd_free(j->commit);
            j->commit = gd_strdup("ROLLBACK");
        }
    }
    set_step(j, J_HOLD);
    uv_timer_start(&j->hold, on_hold, gd_clock_wall_ms(hold_ms), 0);
}

/* A free connection of pool p, or -1. */
static int lease(struct pool *p)
{
    for (int pass = 0; pass < 2; pass++) /* first one that can send now */
        for (int i = 0; i < p->n; i++)
            if (!p->leased[i] && !gd_pgc_busy(p->c[i]) && (pass || !gd_pgc_backing_off(p->c[i]))) {
                p->leased[i] = 1;
                return i;
            }
    return -1;
}

static void start_job(struct job *j, int l)
{
    j->lease = l;
    set_step(j, J_FIRST);
    int rc = gd_pgc_query(j->pool->c[l], j->first, on_first, j);
    if (rc < 0) {
        j->err = GD_EAGAIN;
        snprintf(j->msg, sizeof j->msg, "database unavailable: %s",
                 gd_pgc_error(j->pool->c[l])[0] ? gd_pgc_error(j->pool->c[l]) : "connecting");
        job_done(j);
    }
}

/* Waiting jobs take the connections that are free, in order. */
static void pump(gd_shopdb *d)
{
    while (d->wait_head) {
        struct job *j = d->wait_head;
        int l = lease(j->pool);
        if (l < 0) return;
        d->wait_head = j->next;
        if (!d->wait_head) d->wait_tail = NULL;
        d->nwaiting--;
        start_job(j, l);
    }
}

/* 1 when every connection of p failed lately and waits out its backoff: the db is
 * down until the first backoff ends (then a query tries again). */
static int pool_down(const struct pool *p)
{
    for (int i = 0; i < p->n; i++)
        if (!gd_pgc_backing_off(p->c[i])) return 0;
    return 1;
}

static int submit(gd_shopdb *d, struct pool *p, enum jkind kind, char *first, char *commit,
                  gd_shopdb_cb cb, void *arg, json_t *doc)
{
    if ((pool_down(p) && kind != JK_SCHEMA) || d->nwaiting >= MAX_WAITING) {
        gd_free(first);
        gd_free(commit);
        json_decref(doc);
        d->unavailable++;
        return GD_EAGAIN;
    }
    struct job *j = gd_calloc(1, sizeof *j);
    j->magic = JOB_MAGIC;
    j->d = d;
    j->kind = kind;
    j->pool = p;
    j->lease = -1;
    j->first = first;
    j->commit = commit;
    j->cb = cb;
    j->arg = arg;
    j->doc = doc;
    j->t0 = gd_clock_mono_ns();
    uv_timer_init(d->loop, &j->hold);
    j->hold.data = j;
    set_step(j, J_WAITING);
    if (d->wait_tail)
        d->wait_tail->next = j;
    else
        d->wait_head = j;
    d->wait_tail = j;
    d->nwaiting++;
    /* a job starts from the loop (its callback must never run within this call) */
    return 0;
}

static void on_kick(uv_idle_t *h)
{
    gd_shopdb *d = h->data;
    GD_CHECK_OBJ(d, SHOPDB_MAGIC);
    uv_idle_stop(h);
    pump(d);
}

static uv_idle_t kick;

static void kick_later(gd_shopdb *d)
{
    kick.data = d;
    uv_idle_start(&kick, on_kick);
}

int gd_shopdb_products(gd_shopdb *d, long long id, gd_shopdb_cb cb, void *arg)
{
    GD_CHECK_OBJ(d, SHOPDB_MAGIC);
    char where[48] = "";
    if (id) snprintf(where, sizeof where, " WHERE id = %lld", id);
    char *q =
        gd_sprintf("BEGIN READ ONLY; SELECT gameday.take_slot(); SELECT id, name, price_cents, "
                   "stock FROM products%s ORDER BY id",
                   where);
    int rc = submit(d, d->has_readers ? &d->r : &d->w, JK_PRODUCTS, q, gd_strdup("COMMIT"), cb, arg,
                    NULL);
    if (rc == 0) {
        d->wait_tail->id = id;
        kick_later(d);
    }
    return rc;
}

int gd_shopdb_checkout(gd_shopdb *d, const char *sid, const json_t *order, gd_shopdb_cb cb,
                       void *arg)
{
    GD_CHECK_OBJ(d, SHOPDB_MAGIC);
    gd_buf v;
    gd_buf_init(&v, 1 << 16);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(order, "items"), i, it)
        gd_buf_printf(&v, "%s(%lld, %lld)", i ? ", " : "",
                      (long long)json_integer_value(json_object_get(it, "product")),
                      (long long)json_integer_value(json_object_get(it, "qty")));
    char *first = gd_sprintf(
        "BEGIN; SELECT gameday.take_slot(); WITH want(id, qty) AS (VALUES %s), took AS (UPDATE "
        "products p SET stock = p.stock - w.qty FROM want w WHERE p.id = w.id AND p.stock >= "
        "w.qty RETURNING p.id) SELECT count(*) FROM took",
        gd_buf_cstr(&v));
    gd_buf_free(&v);
    char *items = json_dumps(json_object_get(order, "items"), JSON_COMPACT);
    size_t il = strlen(items) * 2 + 8;
    char *qi = gd_malloc(il), qo[80], qs[80];
    int okq =
        gd_pgc_quote(items, qi, il) > 0 &&
        gd_pgc_quote(json_string_value(json_object_get(order, "order_id")), qo, sizeof qo) > 0 &&
        gd_pgc_quote(sid, qs, sizeof qs) > 0;
    free(items);
    if (!okq) {
        gd_free(qi);
        gd_free(first);
        return GD_EINVAL;
    }
    char *commit = gd_sprintf("INSERT INTO orders (order_id, sid, items, total_cents) VALUES "
                              "(%s, %s, %s::jsonb, %lld); COMMIT",
                              qo, qs, qi,
                              (long long)json_integer_value(json_object_get(order, "total_cents")));
    gd_free(qi);
    int rc = submit(d, &d->w, JK_CHECKOUT, first, commit, cb, arg, json_deep_copy(order));
    if (rc == 0) kick_later(d);
    return rc;
}

/* The tables and the catalogue, idempotently (every instance tries, the first wins). */
static void schema_job(gd_shopdb *d);

static void on_schema(void *arg, int err, json_t *doc, const char *msg)
{
    gd_shopdb *d = arg;
    GD_CHECK_OBJ(d, SHOPDB_MAGIC);
    json_decref(doc);
    d->schema_running = 0;
    if (err) gd_warn("db_schema_failed", "error=%s", gd_log_q(msg));
}

static void on_schema_retry(uv_timer_t *t)
{
    gd_shopdb *d = t->data;
    GD_CHECK_OBJ(d, SHOPDB_MAGIC);
    if (!d->schema_done && !d->schema_running) schema_job(d);
}

static void schema_job(gd_shopdb *d)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    gd_buf_printf(&b, "CREATE TABLE IF NOT EXISTS products (id int PRIMARY KEY, name text NOT "
                      "NULL, price_cents int NOT NULL, stock int NOT NULL CHECK (stock >= 0)); "
                      "CREATE TABLE IF NOT EXISTS orders (order_id text PRIMARY KEY, sid text "
                      "NOT NULL, items jsonb NOT NULL, total_cents bigint NOT NULL, created "
                      "timestamptz NOT NULL DEFAULT now()); INSERT INTO products VALUES ");
    for (int i = 0; i < GD_CATALOG_N; i++) {
        const gd_product *p = &d->cat->p[i];
        char qn[128];
        gd_pgc_quote(p->name, qn, sizeof qn);
        gd_buf_printf(&b, "%s(%d, %s, %d, %d)", i ? ", " : "", p->id, qn, p->price_cents, p->stock);
    }
    gd_buf_printf(&b, " ON CONFLICT (id) DO NOTHING");
    d->schema_running = 1;
    if (submit(d, &d->w, JK_SCHEMA, gd_strdup(gd_buf_cstr(&b)), NULL, on_schema, d, NULL) == 0)
        kick_later(d);
    else
        d->schema_running = 0;
    gd_buf_free(&b);
}

static int pool_start(uv_loop_t *loop, struct pool *p, const char *url, const char *src,
                      const char *tag, int n, uint64_t timeout_ms)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (!opts) {
        PQfreemem(err);
        return GD_EINVAL;
    }
    const char *host = NULL, *port = "5432", *dbname = NULL, *user = NULL, *pw = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val) continue;
        if (!strcmp(o->keyword, "host")) host = o->val;
        if (!strcmp(o->keyword, "port")) port = o->val;
        if (!strcmp(o->keyword, "dbname")) dbname = o->val;
        if (!strcmp(o->keyword, "user")) user = o->val;
        if (!strcmp(o->keyword, "password")) pw = o->val;
    }
    int rc = 0;
    if (!host || strlen(host) >= sizeof p->rl.host || gd_ip_parse(src, &p->rl.src) < 0)
        rc = GD_EINVAL;
    if (rc == 0) {
        snprintf(p->rl.host, sizeof p->rl.host, "%s", host);
        p->rl.port = atoi(port);
        rc = relay_start(loop, &p->rl, tag);
    }
    if (rc == 0) {
        char at[128], ci[1024];
        snprintf(at, sizeof at, "@%s", p->rl.sock);
        char extra[64];
        snprintf(extra, sizeof extra, "application_name=gameday-shop");
        gd_db_conninfo(ci, sizeof ci, at, p->rl.port, dbname, user, pw, extra);
        p->n = n;
        for (int i = 0; i < n; i++) p->c[i] = gd_pgc_new(loop, ci, timeout_ms);
    }
    PQconninfoFree(opts);
    return rc;
}

int gd_shopdb_start(uv_loop_t *loop, const gd_shopdb_conf *conf, const gd_catalog *cat,
                    gd_shopdb **out)
{
    if (!conf->url || conf->pool < 1 || conf->pool > MAX_POOL || !conf->src_ip) return GD_EINVAL;
    gd_shopdb *d = gd_calloc(1, sizeof *d);
    d->magic = SHOPDB_MAGIC;
    d->loop = loop;
    d->cat = cat;
    uint64_t to = conf->timeout_ms ? conf->timeout_ms : 2000;
    int rc = pool_start(loop, &d->w, conf->url, conf->src_ip, "w", conf->pool, to);
    if (rc == 0 && conf->read_url && *conf->read_url) {
        rc = pool_start(loop, &d->r, conf->read_url, conf->src_ip, "r", conf->pool, to);
        d->has_readers = rc == 0;
    }
    if (rc < 0) return rc; /* the process exits: nothing to free */
    uv_idle_init(loop, &kick);
    uv_timer_init(loop, &d->schema_retry);
    d->schema_retry.data = d;
    uv_timer_start(&d->schema_retry, on_schema_retry, 0, 1000);
    *out = d;
    return 0;
}

int gd_shopdb_up(const gd_shopdb *d)
{
    return !pool_down(&d->w);
}

void gd_shopdb_metrics(const gd_shopdb *d, gd_buf *b, const char *labels)
{
    char l[256];
    static const char *const kind[2] = {"read", "write"};
    gd_prom_head(b, "gameday_clothes_db_up", "gauge",
                 "1 while the database answers (a connection up, or none failed lately)");
    gd_prom_sample(b, "gameday_clothes_db_up", labels, gd_shopdb_up(d));
    gd_prom_head(b, "gameday_clothes_db_queries_total", "counter",
                 "Database transactions by kind (read: products, write: checkouts) and result");
    for (int k = 0; k < 2; k++) {
        snprintf(l, sizeof l, "%s,kind=\"%s\",result=\"ok\"", labels, kind[k]);
        gd_prom_sample(b, "gameday_clothes_db_queries_total", l, (double)d->ok[k]);
        snprintf(l, sizeof l, "%s,kind=\"%s\",result=\"failed\"", labels, kind[k]);
        gd_prom_sample(b, "gameday_clothes_db_queries_total", l, (double)d->failed[k]);
    }
    gd_prom_head(b, "gameday_clothes_db_unavailable_total", "counter",
                 "Requests answered 503 at once: the database down, or its queue full");
    gd_prom_sample(b, "gameday_clothes_db_unavailable_total", labels, (double)d->unavailable);
    gd_prom_head(b, "gameday_clothes_db_out_of_stock_total", "counter",
                 "Checkouts refused 409: a product's stock was short");
    gd_prom_sample(b, "gameday_clothes_db_out_of_stock_total", labels, (double)d->short_stock);
    gd_prom_head(b, "gameday_clothes_db_query_seconds", "summary",
                 "Wall seconds from a transaction's ask to its end (queue, slot, hold, commit)");
    for (int k = 0; k < 2; k++) {
        static const double qs[] = {0.5, 0.99};
        for (int q = 0; q < 2; q++) {
            snprintf(l, sizeof l, "%s,kind=\"%s\",quantile=\"%g\"", labels, kind[k], qs[q]);
            gd_prom_sample(b, "gameday_clothes_db_query_seconds", l,
                           (double)gd_hist_percentile(&d->lat[k], qs[q] * 100) / 1e6);
        }
    }
}
