/* MyClothes.com (see clothes.h and doc/clothes.md): routes a request, checks what it
 * can at once (the path, the body, a signed cookie), holds a slot for the route's
 * service time, then loads the session from its mode's store, applies the shop's
 * operation (services/cart.c), stores the session back when it changed and answers. */
#include "services/clothes.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "services/cart.h"
#include "services/catalog.h"
#include "services/session_cookie.h"
#include "services/session_mem.h"
#include "services/shop_cache.h"
#include "services/shop_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOTHES_MAGIC 0x434c4f54u
#define CREQ_MAGIC 0x43524551u
#define MAX_BODY (16 * 1024)          /* bytes of a request body */
#define SESSION_TEXT_MAX (256 * 1024) /* bytes of a session loaded from a store */
#define DEFAULT_MAX_SESSIONS 10000
#define DEFAULT_MAX_SESSION_BYTES (64u << 20)
#define ROUTES "/products, /products/{id}, /cart, /cart/items, /checkout, /orders, /profile"

enum route {
    R_CATALOG,     /* GET /products */
    R_PRODUCT,     /* GET /products/{id} */
    R_CART,        /* GET /cart */
    R_ADD,         /* POST /cart/items */
    R_REMOVE,      /* DELETE /cart/items/{id} */
    R_CHECKOUT,    /* POST /checkout */
    R_ORDERS,      /* GET /orders */
    R_PROFILE,     /* GET /profile */
    R_PROFILE_PUT, /* PUT /profile */
};

/* A request's life, changed only in set_step(). */
enum step {
    S_QUEUED,       /* waiting for a slot, or holding one for its service time */
    S_LOADING,      /* redis: GET sess:<sid> sent */
    S_STORING,      /* redis: SET sess:<sid> sent */
    S_CACHE_GET,    /* cache: GET gd:product:<id> (or gd:products) sent */
    S_DB_READ,      /* database mode: the product read is in the database */
    S_INVALIDATING, /* cache: a committed checkout's DEL sent */
};

struct gd_clothes {
    uint32_t magic;
    gd_clothes_conf conf;
    gd_slots *slots;
    gd_catalog cat;
    char *catalog_json;               /* GET /products, made once */
    char *product_json[GD_CATALOG_N]; /* GET /products/{id} */
    gd_smem *mem;                     /* memory mode */
    gd_sredis *redis;                 /* redis mode, or the cache (one connection) */
    uint64_t ttl_ms;                  /* redis: wall ms of a session's TTL */
    uint64_t sessions_new, sessions_lost, too_large, orders;
    uint64_t refused[GD_SCOOKIE_TOO_LARGE + 1];
    gd_shopdb *db;           /* database mode (GAMEDAY_DB_URL), else NULL */
    uint64_t db_unavailable; /* answered 503 at once: the database down */
    /* the cache-aside (conf.cache): its entries' EX in wall seconds, and its counts */
    uint64_t cache_ex_s;
    uint64_t cache_results[GD_SHOPCACHE_NRESULTS];
    uint64_t cache_sets_failed, cache_invalidated, cache_invalidations_failed;
};

/* A request that uses the session, from its arrival to its answer. */
struct creq {
    uint32_t magic;
    gd_clothes *cl;
    gd_http_conn *conn;
    enum route route;
    enum step step;
    long long product;
    int qty;
    char *body; /* PUT /profile: its body, checked already */
    size_t body_len;
    char sid[GD_SID_LEN + 1]; /* memory, redis: the session id presented (valid), or "" */
    char *cookie;             /* cookie: the session text the cookie held, or NULL */
    json_t *sess;
    int is_new;
    int status; /* redis: the answer, made before the session is written back */
    json_t *doc;
    enum gd_shopcache_result cached; /* cache: where the read was answered from */
};

static void set_step(struct creq *r, enum step s)
{
    r->step = s;
}

const char *gd_sess_mode_name(enum gd_sess_mode m)
{
    return m == GD_SESS_COOKIE ? "cookie" : m == GD_SESS_REDIS ? "redis" : "memory";
}

int gd_sess_mode_parse(const char *s, enum gd_sess_mode *out)
{
    static const enum gd_sess_mode all[] = {GD_SESS_MEMORY, GD_SESS_COOKIE, GD_SESS_REDIS};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++) {
        if (!strcmp(s, gd_sess_mode_name(all[i]))) {
            *out = all[i];
            return 0;
        }
    }
    return GD_EINVAL;
}

gd_slots *gd_clothes_slots(gd_clothes *c)
{
    GD_CHECK_OBJ(c, CLOTHES_MAGIC);
    return c->slots;
}

/* ---- answers ---- */

static void answer(gd_clothes *cl, gd_http_conn *c, int status, const char *extra, const char *body,
                   size_t len)
{
    gd_buf h;
    gd_buf_init(&h, 8192);
    gd_buf_puts(&h, gd_slots_xid(cl->slots));
    gd_buf_puts(&h, "Cache-Control: no-store\r\n");
    if (extra) gd_buf_puts(&h, extra);
    if (status >= 200 && status < 300) gd_slots_count_served(cl->slots);
    gd_slots_reply(cl->slots, c, status, gd_buf_cstr(&h), "application/json", body, len);
    gd_buf_free(&h);
}

static void answer_json(gd_clothes *cl, gd_http_conn *c, int status, const char *extra, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    answer(cl, c, status, extra, s, strlen(s));
    free(s);
}

/* {"error": msg}; bytes of msg outside printable ASCII become '?', so that no input
 * echoed in a message can make it invalid JSON text. */
static json_t *error_doc(const char *msg)
{
    char m[512];
    size_t i = 0;
    for (; msg[i] && i < sizeof m - 1; i++) m[i] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
    m[i] = 0;
    return json_pack("{s:s}", "error", m);
}

static void answer_error(gd_clothes *cl, gd_http_conn *c, int status, const char *extra,
                         const char *msg)
{
    if (status == 400) gd_slots_count_bad(cl->slots);
    answer_json(cl, c, status, extra, error_doc(msg));
}

/* ---- requests ---- */

static int path_is(const gd_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && !memcmp(r->path, p, n);
}

/* The id after prefix in the path ("/products/17"): 1 with *id set; 0 when the path is
 * not prefix + digits (then *id is -1 when it is prefix + something else). */
static int path_id(const gd_http_req *r, const char *prefix, long long *id)
{
    size_t n = strlen(prefix);
    *id = 0;
    if (r->path_len <= n || memcmp(r->path, prefix, n)) return 0;
    *id = -1;
    size_t d = r->path_len - n;
    if (d > 6) return 0;
    long long v = 0;
    for (size_t i = n; i < r->path_len; i++) {
        if (r->path[i] < '0' || r->path[i] > '9') return 0;
        v = v * 10 + (r->path[i] - '0');
    }
    *id = v;
    return 1;
}

static void no_such_product(gd_clothes *cl, gd_http_conn *c)
{
    char m[128];
    snprintf(m, sizeof m, "no such product (ids 1..%d: GET /products lists them)", GD_CATALOG_N);
    answer_error(cl, c, 404, NULL, m);
}

static void wrong_method(gd_clothes *cl, gd_http_conn *c, const char *allow)
{
    char m[128], h[64];
    snprintf(m, sizeof m, "method not allowed here (allowed: %s)", allow);
    snprintf(h, sizeof h, "Allow: %s\r\n", allow);
    answer_error(cl, c, 405, h, m);
}

static double service_ms(const gd_clothes *cl, enum route r)
{
    double share = GD_CLOTHES_SHARE_PRODUCTS;
    switch (r) {
    case R_CATALOG:
    case R_PRODUCT:
        share = GD_CLOTHES_SHARE_PRODUCTS;
        break;
    case R_CART:
    case R_ADD:
    case R_REMOVE:
        share = GD_CLOTHES_SHARE_CART;
        break;
    case R_CHECKOUT:
        share = GD_CLOTHES_SHARE_CHECKOUT;
        break;
    case R_ORDERS:
        share = GD_CLOTHES_SHARE_ORDERS;
        break;
    case R_PROFILE:
    case R_PROFILE_PUT:
        share = GD_CLOTHES_SHARE_PROFILE;
        break;
    }
    return cl->conf.service_ms * share;
}

static void creq_free(struct creq *r)
{
    json_decref(r->sess);
    json_decref(r->doc);
    gd_free(r->body);
    gd_free(r->cookie);
    r->magic = 0;
    gd_free(r);
}

/* The end of a session request: answer, give the slot back, free. */
static void finish(struct creq *r, int status, const char *extra, json_t *doc)
{
    gd_clothes *cl = r->cl;
    if (r->route == R_CHECKOUT && status == 201) cl->orders++;
    answer_json(cl, r->conn, status, extra, doc);
    creq_free(r);
    gd_slots_release(cl->slots);
}

static void unavailable(struct creq *r)
{
    gd_clothes *cl = r->cl;
    json_t *doc = error_doc("session store unavailable");
    answer_json(cl, r->conn, 503, "Retry-After: 1\r\n", doc);
    creq_free(r);
    gd_slots_release(cl->slots);
}

/* A new empty session, with a new id in the id modes. 0, or GD_EIO (no randomness). */
static int start_new(struct creq *r)
{
    if (r->cl->conf.sessions != GD_SESS_COOKIE && gd_sid_new(r->sid) < 0) return GD_EIO;
    json_decref(r->sess);
    r->sess = gd_sess_new();
    r->is_new = 1;
    r->cl->sessions_new++;
    return 0;
}

/* A session text from a store: parsed and checked, else NULL. */
static json_t *parse_session(gd_clothes *cl, const char *text, size_t len)
{
    json_error_t je;
    json_t *s = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    char err[160];
    if (s && gd_sess_check(s, &cl->cat, err, sizeof err) < 0) {
        json_decref(s);
        s = NULL;
    }
    return s;
}

/* The shop's operation on the loaded session: *doc gets the answer's body; returns its
 * status. *changed is 1 when the session must be stored back. */
static int apply(struct creq *r, json_t **doc, int *changed)
{
    gd_clothes *cl = r->cl;
    char err[256];
    *changed = 0;
    switch (r->route) {
    case R_CART:
        *doc = gd_cart_view(r->sess);
        return 200;
    case R_ADD: {
        const gd_product *p = gd_catalog_find(&cl->cat, r->product);
        if (gd_cart_add(r->sess, p, r->qty, err, sizeof err) < 0) {
            *doc = error_doc(err);
            return 409;
        }
        *changed = 1;
        *doc = gd_cart_view(r->sess);
        return 200;
    }
    case R_REMOVE:
        if (gd_cart_remove(r->sess, r->product) < 0) {
            snprintf(err, sizeof err, "product %lld is not in the cart", r->product);
            *doc = error_doc(err);
            return 404;
        }
        *changed = 1;
        *doc = gd_cart_view(r->sess);
        return 200;
    case R_CHECKOUT: {
        char oid[GD_SID_LEN + 1], name[24];
        if (gd_sid_new(oid) < 0) {
            *doc = error_doc("no random bytes for an order id: try again");
            return 500;
        }
        snprintf(name, sizeof name, "o-%.16s", oid);
        json_t *order;
        if (gd_cart_checkout(r->sess, name, &order) < 0) {
            *doc = error_doc("the cart is empty: add items with POST /cart/items first");
            return 409;
        }
        *changed = 1;
        *doc = order;
        return 201;
    }
    case R_ORDERS:
        *doc = json_incref(gd_sess_orders(r->sess));
        return 200;
    case R_PROFILE:
        *doc = json_incref(gd_sess_profile(r->sess));
        return 200;
    case R_PROFILE_PUT:
        if (gd_profile_update(r->sess, r->body, r->body_len, err, sizeof err) < 0) {
            *doc = error_doc(err);
            return 400;
        }
        *changed = 1;
        *doc = json_incref(gd_sess_profile(r->sess));
        return 200;
    default:
        *doc = error_doc("not a session route");
        return 500;
    }
}

/* The headers that tell the client about its session: a new one, a new cookie. */
static void session_headers(struct creq *r, gd_buf *h, const char *cookie_value)
{
    if (r->is_new) gd_buf_puts(h, "X-Session: new\r\n");
    if (cookie_value)
        gd_buf_printf(h, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax\r\n", GD_SCOOKIE_NAME,
                      cookie_value);
    else if (r->is_new && r->cl->conf.sessions != GD_SESS_COOKIE)
        gd_buf_printf(h, "Set-Cookie: sid=%s; Path=/; HttpOnly; SameSite=Lax\r\n", r->sid);
}

static void on_stored(void *arg, int status, const char *text, size_t len)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    if (status < 0) { /* the change did not reach the store: the client must retry */
        unavailable(r);
        return;
    }
    /* The answer was made before the write; it goes out now that the write is in. */
    json_t *doc = r->doc;
    r->doc = NULL;
    gd_buf h;
    gd_buf_init(&h, 1024);
    session_headers(r, &h, NULL);
    finish(r, r->status, gd_buf_cstr(&h), doc);
    gd_buf_free(&h);
}

static void store_answer(struct creq *r, int status, json_t *doc, int changed);

/* The DEL of a committed checkout's keys is answered (or failed: the entries stay stale
 * until their TTL): the order goes on to the session and the answer. */
static void on_invalidated(void *arg, int status, const char *text, size_t len)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    gd_clothes *cl = r->cl;
    json_t *order = r->doc;
    r->doc = NULL;
    if (status < 0) {
        cl->cache_invalidations_failed++;
        gd_warn("cache_invalidate_failed", "order=%s error=%s",
                gd_log_q(json_string_value(json_object_get(order, "order_id"))),
                gd_strerror(status));
    } else {
        cl->cache_invalidated++;
    }
    store_answer(r, 201, order, 1);
}

/* A checkout changed stock (its COMMIT is in): the cached reads of its products and of
 * the catalogue are deleted before it is answered, so that a read after the answer (on
 * any instance) finds the new stock. */
static void invalidate(struct creq *r, json_t *order)
{
    gd_clothes *cl = r->cl;
    char keys[GD_CATALOG_N + 1][GD_SHOPCACHE_KEY_MAX];
    const char *argv[GD_CATALOG_N + 1];
    int n = gd_shopcache_invalidation(order, keys, GD_CATALOG_N + 1);
    for (int i = 0; i < n; i++) argv[i] = keys[i];
    r->doc = order;
    set_step(r, S_INVALIDATING);
    int rc = n > 0 ? gd_sredis_del_keys(cl->redis, argv, n, on_invalidated, r) : n;
    if (rc < 0) on_invalidated(r, rc, NULL, 0);
}

/* A checkout's transaction in the database is over: the session (its cart emptied, the
 * order added) is stored and the order answered; else the session stays as it was. */
static void on_db_checkout(void *arg, int err, json_t *doc, const char *msg)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    json_decref(doc);
    json_t *order = r->doc;
    r->doc = NULL;
    if (err == 0) {
        if (r->cl->conf.cache) {
            invalidate(r, order);
            return;
        }
        store_answer(r, 201, order, 1);
        return;
    }
    json_decref(order);
    if (err == GD_EFULL) {
        finish(r, 409, NULL, error_doc(msg));
        return;
    }
    char m[320];
    snprintf(m, sizeof m, "database unavailable: %s", msg);
    gd_clothes *cl = r->cl;
    answer_json(cl, r->conn, 503, "Retry-After: 1\r\n", error_doc(m));
    creq_free(r);
    gd_slots_release(cl->slots);
}

/* The session is loaded (or new): apply the operation, store, answer. */
static void run(struct creq *r)
{
    gd_clothes *cl = r->cl;
    json_t *doc = NULL;
    int changed = 0;
    int status = apply(r, &doc, &changed);
    if (cl->db && r->route == R_CHECKOUT && status == 201) {
        r->doc = doc; /* the order; the session is stored once the database took it */
        int rc = gd_shopdb_checkout(cl->db, r->sid[0] ? r->sid : "cookie", doc, on_db_checkout, r);
        if (rc < 0) {
            r->doc = NULL;
            json_decref(doc);
            cl->db_unavailable++;
            json_t *e = error_doc("database unavailable");
            answer_json(cl, r->conn, 503, "Retry-After: 1\r\n", e);
            creq_free(r);
            gd_slots_release(cl->slots);
        }
        return;
    }
    store_answer(r, status, doc, changed);
}

/* Stores the session when it changed (or is new) in its mode's store, then answers. */
static void store_answer(struct creq *r, int status, json_t *doc, int changed)
{
    gd_clothes *cl = r->cl;
    int store = changed || r->is_new;
    gd_buf h;
    gd_buf_init(&h, 8192);
    if (store && cl->conf.sessions == GD_SESS_MEMORY) {
        char *text = json_dumps(r->sess, JSON_COMPACT);
        int rc = gd_smem_put(cl->mem, r->sid, text, strlen(text));
        free(text);
        if (rc < 0) { /* a session larger than the whole table: never kept */
            json_decref(doc);
            cl->too_large++;
            finish(r, 413, NULL, error_doc("session too large for this instance's memory"));
            gd_buf_free(&h);
            return;
        }
    } else if (store && cl->conf.sessions == GD_SESS_COOKIE) {
        char *text = json_dumps(r->sess, JSON_COMPACT);
        char value[GD_SCOOKIE_MAX];
        int n =
            gd_scookie_seal(cl->conf.key, cl->conf.keylen, text, strlen(text), value, sizeof value);
        free(text);
        if (n < 0) { /* the previous cookie stays the client's session */
            json_decref(doc);
            cl->too_large++;
            finish(r, 413, NULL,
                   error_doc(r->route == R_ADD
                                 ? "cart too large for a cookie session (4 KB): remove items or "
                                   "use server-side sessions"
                                 : "session too large for a cookie session (4 KB): remove "
                                   "items or use server-side sessions"));
            gd_buf_free(&h);
            return;
        }
        session_headers(r, &h, value);
        finish(r, status, gd_buf_cstr(&h), doc);
        gd_buf_free(&h);
        return;
    } else if (store && cl->conf.sessions == GD_SESS_REDIS) {
        char *text = json_dumps(r->sess, JSON_COMPACT);
        /* The answer waits in the request until the write is in (on_stored). */
        r->doc = doc;
        r->status = status;
        set_step(r, S_STORING);
        int rc = gd_sredis_set(cl->redis, r->sid, text, strlen(text), cl->ttl_ms, on_stored, r);
        free(text);
        gd_buf_free(&h);
        if (rc < 0) unavailable(r);
        return;
    }
    session_headers(r, &h, NULL);
    finish(r, status, gd_buf_cstr(&h), doc);
    gd_buf_free(&h);
}

static void on_loaded(void *arg, int status, const char *text, size_t len)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    gd_clothes *cl = r->cl;
    if (status == GD_EIO) { /* never a silent new session */
        unavailable(r);
        return;
    }
    json_t *s = status == 0 && len <= SESSION_TEXT_MAX ? parse_session(cl, text, len) : NULL;
    if (s) {
        r->sess = s;
    } else {
        cl->sessions_lost++; /* expired, never stored here, or not a session */
        if (start_new(r) < 0) {
            unavailable(r);
            return;
        }
    }
    run(r);
}

/* The request has held its slot for the service time: its session now. */
static void on_turn(gd_slots *s, void *arg)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    gd_clothes *cl = r->cl;
    switch (cl->conf.sessions) {
    case GD_SESS_MEMORY: {
        size_t len;
        const char *text = r->sid[0] ? gd_smem_get(cl->mem, r->sid, &len) : NULL;
        if (text) r->sess = parse_session(cl, text, len);
        if (!r->sess) {
            if (r->sid[0]) cl->sessions_lost++;
            if (start_new(r) < 0) {
                unavailable(r);
                return;
            }
        }
        run(r);
        return;
    }
    case GD_SESS_COOKIE:
        if (r->cookie) r->sess = parse_session(cl, r->cookie, strlen(r->cookie));
        if (!r->sess) start_new(r);
        run(r);
        return;
    case GD_SESS_REDIS:
        if (!r->sid[0]) {
            if (start_new(r) < 0) {
                unavailable(r);
                return;
            }
            run(r);
            return;
        }
        set_step(r, S_LOADING);
        if (gd_sredis_get(cl->redis, r->sid, on_loaded, r) < 0) unavailable(r);
        return;
    }
}

static void on_cache_set(void *arg, int status, const char *text, size_t len)
{
    gd_clothes *cl = arg;
    GD_CHECK_OBJ(cl, CLOTHES_MAGIC);
    if (status < 0) cl->cache_sets_failed++;
}

static void on_db_page(void *arg, int err, json_t *doc, const char *msg)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    gd_clothes *cl = r->cl;
    if (err == 0 && cl->conf.cache) {
        /* X-Cache: Miss, and the read into the cache for the next ones (when it is up:
         * a SET that cannot go now is not retried) */
        char *s = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        answer(cl, r->conn, 200, "X-Cache: Miss\r\n", s, strlen(s));
        char key[GD_SHOPCACHE_KEY_MAX];
        if (gd_sredis_up(cl->redis) &&
            gd_shopcache_key(r->route == R_PRODUCT ? r->product : 0, key, sizeof key) == 0 &&
            gd_sredis_set_key_ex(cl->redis, key, s, strlen(s), cl->cache_ex_s, on_cache_set, cl) <
                0)
            cl->cache_sets_failed++;
        free(s);
    } else if (err == 0) {
        answer_json(cl, r->conn, 200, NULL, doc);
    } else {
        char m[320];
        snprintf(m, sizeof m, "database unavailable: %s", msg);
        answer_json(cl, r->conn, 503, "Retry-After: 1\r\n", error_doc(m));
    }
    creq_free(r);
    gd_slots_release(cl->slots);
}

/* A product read from the database (its price and stock now): a query slot of the db. */
static void db_read(struct creq *r)
{
    gd_clothes *cl = r->cl;
    set_step(r, S_DB_READ);
    if (gd_shopdb_products(cl->db, r->route == R_PRODUCT ? r->product : 0, on_db_page, r) == 0)
        return;
    cl->db_unavailable++;
    answer_json(cl, r->conn, 503, "Retry-After: 1\r\n", error_doc("database unavailable"));
    creq_free(r);
    gd_slots_release(cl->slots);
}

/* 1 when text is what a product read caches: a product object, or the catalogue's array. */
static int cached_ok(const struct creq *r, const char *text, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    int ok = r->route == R_PRODUCT ? json_is_object(j) : json_is_array(j);
    json_decref(j);
    return ok;
}

/* The cache's answer to a product read: a hit is answered from it (no database query);
 * a miss, a failure or a value that is not a read of ours goes to the database. */
static void on_cache_got(void *arg, int status, const char *text, size_t len)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    gd_clothes *cl = r->cl;
    if (status == 0 && cached_ok(r, text, len)) {
        cl->cache_results[r->cached = GD_SHOPCACHE_HIT]++;
        answer(cl, r->conn, 200, "X-Cache: Hit\r\n", text, len);
        creq_free(r);
        gd_slots_release(cl->slots);
        return;
    }
    r->cached = status == GD_ENOENT ? GD_SHOPCACHE_MISS : GD_SHOPCACHE_ERROR;
    cl->cache_results[r->cached]++;
    db_read(r);
}

/* A page of the catalogue has held its slot: the same for everyone, from the process's
 * catalogue, or read from the database (its price and stock now), through the cache
 * when it is on. */
static void on_page(gd_slots *s, void *arg)
{
    struct creq *r = arg;
    GD_CHECK_OBJ(r, CREQ_MAGIC);
    gd_clothes *cl = r->cl;
    if (cl->db && cl->conf.cache) {
        char key[GD_SHOPCACHE_KEY_MAX];
        set_step(r, S_CACHE_GET);
        if (gd_shopcache_key(r->route == R_PRODUCT ? r->product : 0, key, sizeof key) == 0 &&
            gd_sredis_get_key(cl->redis, key, on_cache_got, r) == 0)
            return;
        cl->cache_results[r->cached = GD_SHOPCACHE_ERROR]++; /* down: the database */
        db_read(r);
        return;
    }
    if (cl->db) {
        db_read(r);
        return;
    }
    const char *page = r->route == R_CATALOG ? cl->catalog_json : cl->product_json[r->product - 1];
    answer(cl, r->conn, 200, NULL, page, strlen(page));
    creq_free(r);
    gd_slots_release(s);
}

/* The session request's checks that need no slot: its cookie, the store's state. 0, or
 * -1 when it was answered. */
static int admit_session(gd_clothes *cl, gd_http_conn *c, const gd_http_req *req, struct creq *r)
{
    size_t vl = 0;
    if (cl->conf.sessions == GD_SESS_COOKIE) {
        const char *v = gd_http_cookie(req, GD_SCOOKIE_NAME, &vl);
        if (!v) return 0;
        char *text = gd_malloc(GD_SCOOKIE_MAX);
        enum gd_scookie_why why;
        int n = gd_scookie_open(cl->conf.key, cl->conf.keylen, v, vl, text, GD_SCOOKIE_MAX, &why);
        if (n >= 0) {
            json_error_t je;
            json_t *s = json_loadb(text, (size_t)n, JSON_REJECT_DUPLICATES, &je);
            char err[160];
            if (!s || gd_sess_check(s, &cl->cat, err, sizeof err) < 0) why = GD_SCOOKIE_BAD_JSON;
            json_decref(s);
        }
        if (why != GD_SCOOKIE_OK) {
            gd_free(text);
            cl->refused[why]++;
            char m[96];
            snprintf(m, sizeof m, "session cookie refused: %s", gd_scookie_why_text(why));
            answer_error(cl, c, 400, NULL, m);
            return -1;
        }
        r->cookie = text;
        return 0;
    }
    const char *v = gd_http_cookie(req, "sid", &vl);
    if (v && gd_sid_valid(v, vl)) {
        memcpy(r->sid, v, GD_SID_LEN);
        r->sid[GD_SID_LEN] = 0;
    } else if (v) {
        cl->sessions_lost++; /* not an id this shop gives: a new session */
    }
    if (cl->conf.sessions == GD_SESS_REDIS && !gd_sredis_up(cl->redis)) {
        /* Known down: refused at once, as a refused connect would be (no slot). */
        gd_sredis_note_unavailable(cl->redis);
        answer_error(cl, c, 503, "Retry-After: 1\r\n", "session store unavailable");
        return -1;
    }
    return 0;
}

static void on_request(gd_slots *s, gd_http_conn *c, gd_http_req *req, void *ud)
{
    gd_clothes *cl = ud;
    GD_CHECK_OBJ(cl, CLOTHES_MAGIC);
    long long id;
    int m = req->method;
    enum route route;
    if (path_is(req, "/products")) {
        if (m != HTTP_GET) {
            wrong_method(cl, c, "GET");
            return;
        }
        route = R_CATALOG;
    } else if (path_id(req, "/products/", &id) || id == -1) {
        if (m != HTTP_GET) {
            wrong_method(cl, c, "GET");
            return;
        }
        if (!gd_catalog_find(&cl->cat, id)) {
            no_such_product(cl, c);
            return;
        }
        route = R_PRODUCT;
    } else if (path_is(req, "/cart")) {
        if (m != HTTP_GET) {
            wrong_method(cl, c, "GET");
            return;
        }
        route = R_CART;
    } else if (path_is(req, "/cart/items")) {
        if (m != HTTP_POST) {
            wrong_method(cl, c, "POST");
            return;
        }
        route = R_ADD;
    } else if (path_id(req, "/cart/items/", &id) || id == -1) {
        if (m != HTTP_DELETE) {
            wrong_method(cl, c, "DELETE");
            return;
        }
        if (!gd_catalog_find(&cl->cat, id)) {
            no_such_product(cl, c);
            return;
        }
        route = R_REMOVE;
    } else if (path_is(req, "/checkout")) {
        if (m != HTTP_POST) {
            wrong_method(cl, c, "POST");
            return;
        }
        route = R_CHECKOUT;
    } else if (path_is(req, "/orders")) {
        if (m != HTTP_GET) {
            wrong_method(cl, c, "GET");
            return;
        }
        route = R_ORDERS;
    } else if (path_is(req, "/profile")) {
        if (m != HTTP_GET && m != HTTP_PUT) {
            wrong_method(cl, c, "GET, PUT");
            return;
        }
        route = m == HTTP_GET ? R_PROFILE : R_PROFILE_PUT;
    } else {
        answer_error(cl, c, 404, NULL, "no such page; the shop serves " ROUTES);
        return;
    }
    int from_cache = cl->conf.cache && (route == R_CATALOG || route == R_PRODUCT) &&
                     gd_sredis_up(cl->redis); /* a hit needs no database */
    if (cl->db && (route == R_CATALOG || route == R_PRODUCT || route == R_CHECKOUT) &&
        !from_cache &&
        !gd_shopdb_up(cl->db)) { /* known down: refused at once, as a refused connect is */
        cl->db_unavailable++;
        answer_error(cl, c, 503, "Retry-After: 1\r\n", "database unavailable");
        return;
    }
    if (route == R_CATALOG || route == R_PRODUCT) { /* no session: a page of the catalogue */
        struct creq *r = gd_calloc(1, sizeof *r);
        r->magic = CREQ_MAGIC;
        r->cl = cl;
        r->conn = c;
        r->route = route;
        r->product = route == R_PRODUCT ? id : 0;
        if (gd_slots_run(s, service_ms(cl, route), on_page, r) < 0) {
            creq_free(r);
            answer_error(cl, c, 503, "Retry-After: 1\r\n",
                         "overloaded: all slots busy and the queue is full");
        }
        return;
    }
    char err[256];
    long long product = 0;
    int qty = 0;
    if (route == R_ADD) {
        if (gd_cart_parse_add(req->body, req->body_len, &product, &qty, err, sizeof err) < 0) {
            answer_error(cl, c, 400, NULL, err);
            return;
        }
        if (!gd_catalog_find(&cl->cat, product)) {
            no_such_product(cl, c);
            return;
        }
    } else if (route == R_REMOVE) {
        product = id;
    } else if (route == R_PROFILE_PUT) {
        json_t *scratch = gd_sess_new(); /* the body's checks, on a session of nobody's */
        int rc = gd_profile_update(scratch, req->body, req->body_len, err, sizeof err);
        json_decref(scratch);
        if (rc < 0) {
            answer_error(cl, c, 400, NULL, err);
            return;
        }
    }
    struct creq *r = gd_calloc(1, sizeof *r);
    r->magic = CREQ_MAGIC;
    r->cl = cl;
    r->conn = c;
    r->route = route;
    r->product = product;
    r->qty = qty;
    set_step(r, S_QUEUED);
    if (route == R_PROFILE_PUT) {
        r->body = gd_malloc(req->body_len + 1);
        memcpy(r->body, req->body, req->body_len);
        r->body[req->body_len] = 0;
        r->body_len = req->body_len;
    }
    if (admit_session(cl, c, req, r) < 0) {
        creq_free(r);
        return;
    }
    if (gd_slots_run(s, service_ms(cl, route), on_turn, r) < 0) {
        creq_free(r);
        answer_error(cl, c, 503, "Retry-After: 1\r\n",
                     "overloaded: all slots busy and the queue is full");
    }
}

/* The cache-aside's series: where product reads were answered from, its writes, and
 * its connection to Redis (the sessions' too in redis mode). */
static void cache_metrics(const gd_clothes *cl, gd_buf *b, const char *labels)
{
    char l[256];
    gd_prom_head(b, "gameday_shop_cache_requests_total", "counter",
                 "Product reads by where they were answered from (hit: Redis; miss: not in it, "
                 "read from the database; error: Redis down or failing, read from the database)");
    for (int k = 0; k < GD_SHOPCACHE_NRESULTS; k++) {
        snprintf(l, sizeof l, "%s,result=\"%s\"", labels, gd_shopcache_result_name(k));
        gd_prom_sample(b, "gameday_shop_cache_requests_total", l, (double)cl->cache_results[k]);
    }
    gd_prom_head(b, "gameday_shop_cache_up", "gauge", "1 while the connection to the cache is up");
    gd_prom_sample(b, "gameday_shop_cache_up", labels, gd_sredis_up(cl->redis));
    gd_prom_head(b, "gameday_shop_cache_sets_failed_total", "counter",
                 "Reads of the database that could not be written to the cache");
    gd_prom_sample(b, "gameday_shop_cache_sets_failed_total", labels,
                   (double)cl->cache_sets_failed);
    gd_prom_head(b, "gameday_shop_cache_invalidations_total", "counter",
                 "Checkouts' DEL of the keys they made stale, by result (failed: stale until "
                 "the TTL)");
    snprintf(l, sizeof l, "%s,result=\"ok\"", labels);
    gd_prom_sample(b, "gameday_shop_cache_invalidations_total", l, (double)cl->cache_invalidated);
    snprintf(l, sizeof l, "%s,result=\"failed\"", labels);
    gd_prom_sample(b, "gameday_shop_cache_invalidations_total", l,
                   (double)cl->cache_invalidations_failed);
    uint64_t errors, ok, failed;
    gd_sredis_counts(cl->redis, &errors, &ok, &failed);
    gd_prom_head(b, "gameday_shop_cache_redis_errors_total", "counter",
                 "Commands to the cache's Redis that failed (refused while down, timed out, "
                 "error replies, the connection lost)");
    gd_prom_sample(b, "gameday_shop_cache_redis_errors_total", labels, (double)errors);
    gd_prom_head(b, "gameday_shop_cache_connects_total", "counter",
                 "Connections to the cache's Redis made (ok) or failed (retried with a backoff)");
    snprintf(l, sizeof l, "%s,result=\"ok\"", labels);
    gd_prom_sample(b, "gameday_shop_cache_connects_total", l, (double)ok);
    snprintf(l, sizeof l, "%s,result=\"failed\"", labels);
    gd_prom_sample(b, "gameday_shop_cache_connects_total", l, (double)failed);
}

static void metrics(gd_slots *s, gd_buf *b, const char *labels, void *ud)
{
    gd_clothes *cl = ud;
    GD_CHECK_OBJ(cl, CLOTHES_MAGIC);
    char l[256];
    snprintf(l, sizeof l, "%s,mode=\"%s\"", labels, gd_sess_mode_name(cl->conf.sessions));
    gd_prom_head(b, "gameday_clothes_session_mode", "gauge",
                 "1, labelled with where this instance keeps its sessions");
    gd_prom_sample(b, "gameday_clothes_session_mode", l, 1);
    gd_prom_head(b, "gameday_clothes_sessions_new_total", "counter",
                 "Sessions started (X-Session: new)");
    gd_prom_sample(b, "gameday_clothes_sessions_new_total", labels, (double)cl->sessions_new);
    gd_prom_head(b, "gameday_clothes_sessions_lost_total", "counter",
                 "Requests whose session id this instance or its store did not know (a new "
                 "session was started)");
    gd_prom_sample(b, "gameday_clothes_sessions_lost_total", labels, (double)cl->sessions_lost);
    gd_prom_head(b, "gameday_clothes_cookies_refused_total", "counter",
                 "Session cookies refused 400, by reason");
    for (int w = GD_SCOOKIE_BAD_ENCODING; w <= GD_SCOOKIE_TOO_LARGE; w++) {
        snprintf(l, sizeof l, "%s,reason=\"%s\"", labels, gd_scookie_why_label(w));
        gd_prom_sample(b, "gameday_clothes_cookies_refused_total", l, (double)cl->refused[w]);
    }
    gd_prom_head(b, "gameday_clothes_sessions_too_large_total", "counter",
                 "Changes refused 413: the session would not fit its store (a 4 KB cookie)");
    gd_prom_sample(b, "gameday_clothes_sessions_too_large_total", labels, (double)cl->too_large);
    gd_prom_head(b, "gameday_clothes_orders_total", "counter", "Checkouts answered 201");
    gd_prom_sample(b, "gameday_clothes_orders_total", labels, (double)cl->orders);
    if (cl->mem) {
        gd_prom_head(b, "gameday_clothes_sessions", "gauge", "Sessions held in this process");
        gd_prom_sample(b, "gameday_clothes_sessions", labels, (double)gd_smem_count(cl->mem));
        gd_prom_head(b, "gameday_clothes_session_bytes", "gauge",
                     "Bytes of the sessions held in this process");
        gd_prom_sample(b, "gameday_clothes_session_bytes", labels, (double)gd_smem_bytes(cl->mem));
        gd_prom_head(b, "gameday_clothes_sessions_evicted_total", "counter",
                     "Sessions dropped to make room (least recently used first)");
        gd_prom_sample(b, "gameday_clothes_sessions_evicted_total", labels,
                       (double)gd_smem_evicted(cl->mem));
    }
    if (cl->redis && cl->conf.sessions == GD_SESS_REDIS) gd_sredis_metrics(cl->redis, b, labels);
    if (cl->db) gd_shopdb_metrics(cl->db, b, labels);
    if (cl->conf.cache) cache_metrics(cl, b, labels);
}

int gd_clothes_start(uv_loop_t *loop, const gd_clothes_conf *conf, const char *ip, int port,
                     gd_clothes **out)
{
    if (conf->sessions == GD_SESS_COOKIE &&
        (conf->keylen < GD_SCOOKIE_KEY_MIN || conf->keylen > GD_SCOOKIE_KEY_MAX))
        return GD_EINVAL;
    if ((conf->sessions == GD_SESS_REDIS || conf->cache) &&
        (!conf->redis.ip || conf->redis.port < 1 || conf->redis.port > 65535))
        return GD_EINVAL;
    if (conf->cache && !conf->db.url) return GD_EINVAL; /* it caches the database's reads */
    gd_clothes *cl = gd_calloc(1, sizeof *cl);
    cl->magic = CLOTHES_MAGIC;
    cl->conf = *conf;
    gd_catalog_make(&cl->cat, conf->salt);
    json_t *all = json_array();
    for (int i = 0; i < GD_CATALOG_N; i++) {
        json_t *p = gd_product_json(&cl->cat.p[i]);
        char *t = json_dumps(p, JSON_COMPACT);
        cl->product_json[i] = gd_strdup(t);
        free(t);
        json_array_append_new(all, p);
    }
    char *t = json_dumps(all, JSON_COMPACT);
    cl->catalog_json = gd_strdup(t);
    free(t);
    json_decref(all);
    gd_slots_conf sc = {.id = conf->id ? conf->id : "local",
                        .slots = conf->slots,
                        .queue = conf->queue,
                        .max_body = MAX_BODY,
                        .handler = on_request,
                        .metrics = metrics,
                        .ud = cl};
    int r = gd_slots_start(loop, &sc, ip, port, &cl->slots);
    if (r < 0) {
        for (int i = 0; i < GD_CATALOG_N; i++) gd_free(cl->product_json[i]);
        gd_free(cl->catalog_json);
        cl->magic = 0;
        gd_free(cl);
        return r;
    }
    if (conf->sessions == GD_SESS_MEMORY)
        cl->mem = gd_smem_new(conf->max_sessions ? conf->max_sessions : DEFAULT_MAX_SESSIONS,
                              conf->max_session_bytes ? conf->max_session_bytes
                                                      : DEFAULT_MAX_SESSION_BYTES);
    if (conf->sessions == GD_SESS_REDIS) {
        double ttl = conf->ttl_s > 0 ? conf->ttl_s : 3600;
        cl->ttl_ms = gd_clock_wall_ms(ttl * 1000);
        if (cl->ttl_ms < 1) cl->ttl_ms = 1;
    }
    if (conf->sessions == GD_SESS_REDIS || conf->cache)
        gd_sredis_start(loop, &conf->redis, &cl->redis);
    if (conf->cache) {
        double ttl = conf->cache_ttl_s > 0 ? conf->cache_ttl_s : GD_SHOPCACHE_DEFAULT_TTL_S;
        cl->cache_ex_s = gd_shopcache_ttl_s(ttl, gd_clock_speed());
        gd_info("shop_cache", "mode=redis addr=%s:%d ttl_game_s=%g ex_s=%llu", conf->redis.ip,
                conf->redis.port, ttl, (unsigned long long)cl->cache_ex_s);
    }
    if (conf->db.url) {
        r = gd_shopdb_start(loop, &conf->db, &cl->cat, &cl->db);
        if (r < 0) return r; /* the instance exits */
    }
    *out = cl;
    return 0;
}
