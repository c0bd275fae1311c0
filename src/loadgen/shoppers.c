/* MyClothes.com's shoppers on the loadgen's loop: a bounded crowd, a min-heap of the
 * times their think times end, one request in flight per shopper through the
 * endpoint's keep-alive pool, and the counts the loadgen reports (doc/clothes.md, "The
 * shoppers"). */
#include "loadgen/shoppers.h"
#include "loadgen/shopper.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "core/rand.h"
#include "services/catalog.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SHOPPER_MAGIC 0x53484f50u
#define TICK_MAX 20000     /* requests one tick sends at most (the rest: the next tick) */
#define REQ_MAX (16 << 10) /* bytes of one request: head, cookies (<= 8 KB), body */
#define DETAILS_MAX 8      /* distinct details per outcome and report ("other" beyond) */
#define LOG_MAX 10         /* outcome lines logged per report window */
#define ORDERS_KEPT 20     /* verified orders kept for GET /orders of the loadgen */

struct shopper {
    uint32_t magic;
    gd_shop_visit v;
    gd_jar jar;
    gd_rand rnd;      /* its own stream: a team's shoppers do the same whatever the timing */
    uint64_t wake_ns; /* its next request is due (the heap's key) */
    uint64_t due_ns;  /* the request in flight was due */
    int busy;         /* a request in flight */
    int leaving;      /* the game is over: freed when its answer comes */
};

struct detail {
    char key[64];
    uint64_t n;
};

struct counts {
    uint64_t n[GD_SHOP_NOUT];
    struct detail by[GD_SHOP_NOUT][DETAILS_MAX + 1]; /* the last slot is "other" */
    int nby[GD_SHOP_NOUT];
    uint64_t sessions_lost, started, finished, abandoned, dropped;
    int logged;
};

static struct {
    uv_loop_t *loop;
    const gd_scenario *sc;
    gd_shoppers_record_fn rec;
    gd_catalog cat;
    gd_shop_world world;
    gd_httpc_pool *pool;
    char host[64];
    struct shopper **heap; /* by wake_ns; only shoppers not busy */
    int nheap, cap;
    int active; /* in the shop: in the heap or busy */
    uint64_t next_id, inflight, sent;
    int stopped;
    struct counts w;     /* this report window */
    struct counts total; /* since the start (metrics) */
    json_t *orders;      /* the last ORDERS_KEPT verified orders */
    gd_buf req;
} S;

/* ---- the heap of think times ---- */

static void heap_swap(int a, int b)
{
    struct shopper *t = S.heap[a];
    S.heap[a] = S.heap[b];
    S.heap[b] = t;
}

static void heap_push(struct shopper *s)
{
    int i = S.nheap++;
    S.heap[i] = s;
    while (i > 0 && S.heap[(i - 1) / 2]->wake_ns > S.heap[i]->wake_ns) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct shopper *heap_pop(void)
{
    struct shopper *top = S.heap[0];
    S.heap[0] = S.heap[--S.nheap];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < S.nheap && S.heap[l]->wake_ns < S.heap[m]->wake_ns) m = l;
        if (r < S.nheap && S.heap[r]->wake_ns < S.heap[m]->wake_ns) m = r;
        if (m == i) break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}

/* ---- counting ---- */

static void count_detail(struct counts *c, int o, const char *key)
{
    c->n[o]++;
    for (int i = 0; i < c->nby[o]; i++)
        if (!strcmp(c->by[o][i].key, key)) {
            c->by[o][i].n++;
            return;
        }
    if (c->nby[o] < DETAILS_MAX) {
        struct detail *d = &c->by[o][c->nby[o]++];
        snprintf(d->key, sizeof d->key, "%s", key);
        d->n = 1;
        return;
    }
    struct detail *other = &c->by[o][DETAILS_MAX];
    if (c->nby[o] == DETAILS_MAX) {
        snprintf(other->key, sizeof other->key, "other");
        other->n = 0;
        c->nby[o] = DETAILS_MAX + 1;
    }
    other->n++;
}

/* The detail an outcome is told with in the ledger: where it happened. */
static void detail_of(int o, const gd_shop_verdict *d, enum gd_outcome transport, int status,
                      int new_session, const char *iid, char *out, size_t n)
{
    /* an answer without X-Instance-Id came from the load balancer itself (502, 503) */
    const char *where = iid && *iid ? iid : "the load balancer";
    if (o == GD_SHOP_CHECKOUT_FAILED && transport != GD_OK_ANSWER)
        snprintf(out, n, "%s", transport == GD_TIMEOUT ? "timeout" : "no answer");
    else if (o == GD_SHOP_CHECKOUT_FAILED)
        snprintf(out, n, "%d %s %s", status, iid && *iid ? "on" : "from", where);
    else if (o == GD_SHOP_CART_LOST)
        snprintf(out, n, "%s on %s", new_session ? "new session" : "emptied", where);
    else
        snprintf(out, n, "on %s", where);
}

static void free_shopper(struct shopper *s)
{
    gd_jar_clear(&s->jar);
    s->magic = 0;
    gd_free(s);
    S.active--;
}

/* Keeps a verified order with the cookies its shopper holds after it (in cookie mode
 * the order is in them), so that it can be read back through the shop. */
static void keep_order(struct shopper *s, const char *body, size_t len)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    if (!o) return;
    gd_buf b;
    gd_buf_init(&b, REQ_MAX);
    gd_jar_header(&s->jar, uv_hrtime(), &b);
    /* "Cookie: a=1; b=2\r\n" -> "a=1; b=2" */
    const char *c = b.len > 10 ? b.data + 8 : "";
    int cl = b.len > 10 ? (int)b.len - 10 : 0;
    char *cookie = gd_strndup(c, (size_t)cl);
    gd_buf_free(&b);
    json_object_set_new(o, "shopper", json_integer((json_int_t)s->v.id));
    json_object_set_new(o, "cookie", json_string(cookie));
    gd_free(cookie);
    json_array_append_new(S.orders, o);
    if (json_array_size(S.orders) > ORDERS_KEPT) json_array_remove(S.orders, 0);
}

/* ---- one request ---- */

static void judged(struct shopper *s, gd_shop_verdict *d, enum gd_outcome transport, int status,
                   int new_session, const char *iid, double lat, const char *body, size_t len);

static const char *header(const gd_httpc_resp *r, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (int i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == nl && !strncasecmp(r->headers[i].name, name, nl)) {
            *len = r->headers[i].value_len;
            return r->headers[i].value;
        }
    return NULL;
}

static void on_answer(void *ud, int err, const gd_httpc_resp *resp)
{
    struct shopper *s = ud;
    GD_CHECK_OBJ(s, SHOPPER_MAGIC);
    S.inflight--;
    s->busy = 0;
    uint64_t now = uv_hrtime();
    double lat = gd_clock_game_ms(now - s->due_ns) / 1000.0;
    enum gd_outcome transport = GD_OK_ANSWER;
    if (err == GD_ETIMEDOUT || (!err && lat > S.sc->client_timeout))
        transport = GD_TIMEOUT;
    else if (err)
        transport = GD_ERROR;
    int new_session = 0, status = 0;
    char iid[40] = "";
    const char *body = NULL;
    size_t blen = 0;
    if (transport == GD_OK_ANSWER) {
        status = resp->status;
        body = resp->body;
        blen = resp->body_len;
        for (int i = 0; i < resp->nheaders; i++) {
            const gd_http_header *h = &resp->headers[i];
            if (h->name_len == 10 && !strncasecmp(h->name, "set-cookie", 10))
                gd_jar_set(&s->jar, h->value, h->value_len, now);
        }
        size_t l;
        const char *v = header(resp, "x-session", &l);
        new_session = v && l == 3 && !strncasecmp(v, "new", 3);
        v = header(resp, "x-instance-id", &l);
        if (v) snprintf(iid, sizeof iid, "%.*s", (int)(l < sizeof iid ? l : sizeof iid - 1), v);
    }
    gd_shop_verdict d = gd_shop_visit_answer(&s->v, &S.world, gd_clock_now(), transport, status,
                                             new_session, body, blen);
    judged(s, &d, transport, status, new_session, iid, lat, body, blen);
}

/* Counts a verdict, then the shopper thinks, leaves, or is freed. */
static void judged(struct shopper *s, gd_shop_verdict *d, enum gd_outcome transport, int status,
                   int new_session, const char *iid, double lat, const char *body, size_t len)
{
    S.rec(d->page, lat);
    char key[64];
    for (int o = 0; o < GD_SHOP_NOUT; o++) {
        if (!(d->shop & (1u << o))) continue;
        detail_of(o, d, transport, status, new_session, iid, key, sizeof key);
        count_detail(&S.w, o, key);
        count_detail(&S.total, o, key);
        if (o == GD_SHOP_CHECKOUT && body) keep_order(s, body, len);
    }
    if (d->session_lost) S.w.sessions_lost++, S.total.sessions_lost++;
    int bad = d->shop & ~(1u << GD_SHOP_CHECKOUT);
    if ((bad || d->page != GD_OK_ANSWER) && S.w.logged < LOG_MAX) {
        S.w.logged++;
        char outs[128] = "";
        size_t off = 0;
        for (int o = 0; o < GD_SHOP_NOUT; o++)
            if (bad & (1u << o))
                off += (size_t)snprintf(outs + off, sizeof outs - off, "%s%s", off ? "," : "",
                                        gd_shop_outcome_name((enum gd_shop_outcome)o));
        static const char *pages[] = {"ok", "error", "timeout", "wrong"};
        gd_info("shopper_outcome", "shopper=%llu page=%s shop=%s status=%d instance=%s why=%s",
                (unsigned long long)s->v.id, pages[d->page], off ? outs : "-", status,
                *iid ? iid : "-", gd_log_q(d->why));
    }
    if (s->leaving || S.stopped) {
        free_shopper(s);
        return;
    }
    if (s->v.step == GD_STEP_DONE) {
        if (s->v.errors >= GD_SHOP_ERRORS_MAX)
            S.w.abandoned++, S.total.abandoned++;
        else
            S.w.finished++, S.total.finished++;
        free_shopper(s);
        return;
    }
    double mean = S.sc->shoppers.think_time, think = 0;
    if (mean > 0) {
        think = gd_rand_exp(&s->rnd, 1.0 / mean);
        if (think > 5 * mean) think = 5 * mean;
    }
    s->wake_ns = uv_hrtime() + (uint64_t)(think / gd_clock_speed() * 1e9);
    heap_push(s);
}

static void send_step(struct shopper *s)
{
    gd_shop_req q;
    s->due_ns = s->wake_ns;
    gd_shop_visit_request(&s->v, &S.world, &s->rnd, gd_clock_now(), &q);
    if (!S.pool) {
        gd_shop_verdict d =
            gd_shop_visit_answer(&s->v, &S.world, gd_clock_now(), GD_ERROR, 0, 0, NULL, 0);
        judged(s, &d, GD_ERROR, 0, 0, "", 0, NULL, 0);
        return;
    }
    gd_buf *b = &S.req;
    gd_buf_reset(b);
    uint64_t now = uv_hrtime();
    int rc = gd_buf_printf(b,
                           "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gameday-shopper\r\n"
                           "Accept: application/json\r\n",
                           q.method, q.path, S.host);
    if (!rc) rc = gd_jar_header(&s->jar, now, b);
    if (!rc && q.body[0])
        rc = gd_buf_printf(b, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           strlen(q.body), q.body);
    else if (!rc && !strcmp(q.method, "POST"))
        rc = gd_buf_puts(b, "Content-Length: 0\r\n\r\n");
    else if (!rc)
        rc = gd_buf_puts(b, "\r\n");
    double left_ms = S.sc->client_timeout * 1000.0 / gd_clock_speed() -
                     (double)(now > s->due_ns ? now - s->due_ns : 0) / 1e6;
    if (left_ms < 1) left_ms = 1;
    if (rc == 0) {
        S.inflight++;
        s->busy = 1;
        S.sent++;
        rc = gd_httpc_request(S.pool, b->data, b->len, (uint64_t)left_ms, on_answer, s);
        if (rc < 0) {
            S.inflight--;
            s->busy = 0;
        }
    }
    if (rc < 0) { /* never sent: the page fails at once */
        gd_shop_verdict d =
            gd_shop_visit_answer(&s->v, &S.world, gd_clock_now(), GD_ERROR, 0, 0, NULL, 0);
        judged(s, &d, GD_ERROR, 0, 0, "", 0, NULL, 0);
    }
}

/* ---- the crowd ---- */

int gd_shoppers_init(uv_loop_t *loop, const gd_scenario *sc, gd_shoppers_record_fn rec)
{
    memset(&S, 0, sizeof S);
    S.loop = loop;
    S.sc = sc;
    S.rec = rec;
    gd_catalog_make(&S.cat, sc->salt);
    S.world = (gd_shop_world){.cat = &S.cat, .price = gd_shop_catalog_price, .price_ud = &S.cat};
    S.cap = sc->shoppers.max_active > 0 ? sc->shoppers.max_active : 1;
    S.heap = gd_calloc((size_t)S.cap, sizeof *S.heap);
    S.orders = json_array();
    gd_buf_init(&S.req, REQ_MAX);
    return S.heap && S.orders ? 0 : GD_ENOMEM;
}

void gd_shoppers_set_endpoint(gd_httpc_pool *pool, const char *host)
{
    S.pool = pool;
    snprintf(S.host, sizeof S.host, "%s", host && *host ? host : "-");
}

int gd_shoppers_arrive(uint64_t due_ns)
{
    if (S.stopped) return GD_ECLOSED;
    if (S.active >= S.cap) {
        S.w.dropped++;
        S.total.dropped++;
        return GD_EFULL;
    }
    struct shopper *s = gd_calloc(1, sizeof *s);
    s->magic = SHOPPER_MAGIC;
    uint64_t id = ++S.next_id;
    gd_rand_seed(&s->rnd, S.sc->seed ^ (id * 0x9e3779b97f4a7c15ull));
    gd_shop_visit_plan(&s->v, S.sc, &s->rnd, id);
    s->wake_ns = due_ns;
    S.active++;
    S.w.started++;
    S.total.started++;
    heap_push(s);
    return 0;
}

void gd_shoppers_tick(uint64_t now_ns)
{
    for (int n = 0; n < TICK_MAX && S.nheap > 0 && S.heap[0]->wake_ns <= now_ns && !S.stopped; n++)
        send_step(heap_pop());
}

void gd_shoppers_stop(void)
{
    if (S.stopped) return;
    S.stopped = 1;
    int left = S.nheap;
    while (S.nheap > 0) free_shopper(heap_pop());
    gd_info("shoppers_done",
            "started=%llu finished=%llu abandoned=%llu dropped=%llu left=%d "
            "answering=%llu",
            (unsigned long long)S.total.started, (unsigned long long)S.total.finished,
            (unsigned long long)S.total.abandoned, (unsigned long long)S.total.dropped, left,
            (unsigned long long)S.inflight);
}

uint64_t gd_shoppers_inflight(void)
{
    return S.inflight;
}

uint64_t gd_shoppers_sent(void)
{
    return S.sent;
}

json_t *gd_shoppers_report(void)
{
    json_t *n = json_object(), *by = json_object();
    for (int o = 0; o < GD_SHOP_NOUT; o++) {
        const char *name = gd_shop_outcome_name((enum gd_shop_outcome)o);
        json_object_set_new(n, name, json_integer((json_int_t)S.w.n[o]));
        if (S.w.nby[o] == 0) continue;
        json_t *d = json_object();
        for (int i = 0; i < S.w.nby[o]; i++)
            json_object_set_new(d, S.w.by[o][i].key, json_integer((json_int_t)S.w.by[o][i].n));
        json_object_set_new(by, name, d);
    }
    json_t *j =
        json_pack("{s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:i}", "n", n, "by", by, "sessions_lost",
                  (json_int_t)S.w.sessions_lost, "started", (json_int_t)S.w.started, "finished",
                  (json_int_t)S.w.finished, "abandoned", (json_int_t)S.w.abandoned, "dropped",
                  (json_int_t)S.w.dropped, "active", S.active);
    if (S.w.dropped)
        gd_warn("shoppers_turned_away", "n=%llu max_active=%d", (unsigned long long)S.w.dropped,
                S.cap);
    memset(&S.w, 0, sizeof S.w);
    return j;
}

void gd_shoppers_metrics(gd_buf *b, int team)
{
    char l[96];
    snprintf(l, sizeof l, "team=\"%d\"", team);
    gd_prom_head(b, "gameday_loadgen_shoppers_active", "gauge", "Shoppers in the shop now");
    gd_prom_sample(b, "gameday_loadgen_shoppers_active", l, S.active);
    gd_prom_head(b, "gameday_loadgen_shoppers_total", "counter",
                 "Shoppers by how their visit went: started, finished, abandoned (gave up "
                 "after failed pages), dropped (turned away: max_active in the shop)");
    const struct {
        const char *state;
        uint64_t n;
    } st[] = {{"started", S.total.started},
              {"finished", S.total.finished},
              {"abandoned", S.total.abandoned},
              {"dropped", S.total.dropped}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        snprintf(l, sizeof l, "team=\"%d\",state=\"%s\"", team, st[i].state);
        gd_prom_sample(b, "gameday_loadgen_shoppers_total", l, (double)st[i].n);
    }
    gd_prom_head(b, "gameday_loadgen_shop_outcomes_total", "counter",
                 "What shoppers found: checkouts, carts and items lost, failed checkouts, "
                 "wrong orders, stale prices");
    for (int o = 0; o < GD_SHOP_NOUT; o++) {
        snprintf(l, sizeof l, "team=\"%d\",outcome=\"%s\"", team,
                 gd_shop_outcome_name((enum gd_shop_outcome)o));
        gd_prom_sample(b, "gameday_loadgen_shop_outcomes_total", l, (double)S.total.n[o]);
    }
    snprintf(l, sizeof l, "team=\"%d\"", team);
    gd_prom_head(b, "gameday_loadgen_sessions_lost_total", "counter",
                 "Answers with a new session while the shopper's session held something");
    gd_prom_sample(b, "gameday_loadgen_sessions_lost_total", l, (double)S.total.sessions_lost);
    gd_prom_head(b, "gameday_loadgen_shopper_requests_total", "counter", "Shopper requests sent");
    gd_prom_sample(b, "gameday_loadgen_shopper_requests_total", l, (double)S.sent);
}

json_t *gd_shoppers_orders(void)
{
    return json_deep_copy(S.orders);
}
