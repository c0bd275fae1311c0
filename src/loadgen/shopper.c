/* One MyClothes.com shopper, without I/O: a browser's cookie jar, the visit's plan and
 * steps, the cart it expects, and the verdict on every answer (doc/clothes.md, "The
 * shoppers"). */
#include "loadgen/shopper.h"
#include "core/err.h"
#include "core/mem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the cookie jar ---------------------------------------------------------------- */

static int find_cookie(const gd_jar *j, const char *name, size_t nl)
{
    for (int i = 0; i < j->n; i++)
        if (strlen(j->c[i].name) == nl && !memcmp(j->c[i].name, name, nl)) return i;
    return -1;
}

static void drop_cookie(gd_jar *j, int i)
{
    j->bytes -= strlen(j->c[i].name) + strlen(j->c[i].value);
    gd_free(j->c[i].name);
    gd_free(j->c[i].value);
    j->c[i] = j->c[--j->n];
    memset(&j->c[j->n], 0, sizeof j->c[j->n]);
}

static size_t trim(const char **s, size_t n)
{
    while (n && (**s == ' ' || **s == '\t')) (*s)++, n--;
    while (n && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t')) n--;
    return n;
}

int gd_jar_set(gd_jar *j, const char *v, size_t len, uint64_t now_ns)
{
    const char *semi = memchr(v, ';', len);
    size_t pair = semi ? (size_t)(semi - v) : len;
    const char *eq = memchr(v, '=', pair);
    if (!eq) {
        j->refused++;
        return GD_EINVAL;
    }
    const char *name = v, *val = eq + 1;
    size_t nl = trim(&name, (size_t)(eq - v)), vl = trim(&val, pair - (size_t)(eq - v) - 1);
    if (nl == 0 || nl > GD_JAR_NAME_MAX || vl > GD_JAR_VALUE_MAX) {
        j->refused++;
        return nl == 0 ? GD_EINVAL : GD_EFULL;
    }
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] <= ' ' || name[i] == '=' || name[i] == ',' || name[i] == 127) {
            j->refused++;
            return GD_EINVAL;
        }
    /* Attributes: only Max-Age matters here (the shop's cookies live with the browser). */
    int64_t max_age = INT64_MIN;
    const char *a = semi;
    while (a && a < v + len) {
        const char *s = a + 1, *end = memchr(s, ';', (size_t)(v + len - s));
        size_t al = end ? (size_t)(end - s) : (size_t)(v + len - s);
        al = trim(&s, al);
        if (al > 8 && !strncasecmp(s, "max-age=", 8)) {
            char num[24];
            size_t k = al - 8 < sizeof num - 1 ? al - 8 : sizeof num - 1;
            memcpy(num, s + 8, k);
            num[k] = 0;
            char *e;
            long long m = strtoll(num, &e, 10);
            if (*e == 0 && e != num) max_age = m;
        }
        a = end;
    }
    int i = find_cookie(j, name, nl);
    if (max_age != INT64_MIN && max_age <= 0) { /* the server deletes it */
        if (i >= 0) drop_cookie(j, i);
        return 0;
    }
    size_t old = i >= 0 ? strlen(j->c[i].name) + strlen(j->c[i].value) : 0;
    if (j->bytes - old + nl + vl > GD_JAR_BYTES || (i < 0 && j->n == GD_JAR_COOKIES)) {
        j->refused++;
        return GD_EFULL;
    }
    if (i < 0) {
        i = j->n++;
        j->c[i].name = gd_strndup(name, nl);
    } else {
        gd_free(j->c[i].value);
    }
    j->c[i].value = gd_strndup(val, vl);
    j->c[i].expires_ns =
        max_age == INT64_MIN
            ? 0
            : now_ns + (uint64_t)(max_age > 86400000 ? 86400000 : max_age) * 1000000000ull;
    j->bytes = j->bytes - old + nl + vl;
    return 0;
}

const char *gd_jar_get(const gd_jar *j, const char *name)
{
    int i = find_cookie(j, name, strlen(name));
    return i >= 0 ? j->c[i].value : NULL;
}

int gd_jar_header(gd_jar *j, uint64_t now_ns, gd_buf *b)
{
    for (int i = j->n - 1; i >= 0; i--)
        if (j->c[i].expires_ns && j->c[i].expires_ns <= now_ns) drop_cookie(j, i);
    if (j->n == 0) return 0;
    int rc = gd_buf_puts(b, "Cookie: ");
    for (int i = 0; i < j->n && rc == 0; i++)
        rc = gd_buf_printf(b, "%s%s=%s", i ? "; " : "", j->c[i].name, j->c[i].value);
    return rc ? rc : gd_buf_puts(b, "\r\n");
}

void gd_jar_clear(gd_jar *j)
{
    while (j->n) drop_cookie(j, j->n - 1);
    j->bytes = 0;
}

/* ---- prices ---------------------------------------------------------------------------- */

int gd_shop_catalog_price(void *ud, int product, double t)
{
    const gd_product *p = gd_catalog_find(ud, product);
    return p ? p->price_cents : -1;
}

static int price_now(const gd_shop_world *w, int product, double t)
{
    return w->price ? w->price(w->price_ud, product, t) : -1;
}

/* ---- the expected cart ------------------------------------------------------------------ */

gd_shop_line *gd_shop_cart_line(gd_shop_cart *c, int product)
{
    for (int i = 0; i < c->n; i++)
        if (c->l[i].product == product) return &c->l[i];
    return NULL;
}

int gd_shop_cart_expect_add(gd_shop_cart *c, int product, int qty, int price_cents)
{
    gd_shop_line *l = gd_shop_cart_line(c, product);
    if (!l) {
        if (c->n == GD_SHOP_LINES_MAX) return GD_EFULL;
        l = &c->l[c->n++];
        *l = (gd_shop_line){product, 0, 0, price_cents};
    }
    l->lo += qty;
    l->hi += qty;
    l->price_cents = price_cents;
    return 0;
}

void gd_shop_cart_expect_remove(gd_shop_cart *c, int product)
{
    gd_shop_line *l = gd_shop_cart_line(c, product);
    if (l) l->lo = l->hi = 0;
}

void gd_shop_cart_widen(gd_shop_cart *c, const gd_shop_cart *before)
{
    for (int i = 0; i < before->n; i++) {
        const gd_shop_line *b = &before->l[i];
        gd_shop_line *l = gd_shop_cart_line(c, b->product);
        if (!l) {
            if (c->n == GD_SHOP_LINES_MAX) continue;
            l = &c->l[c->n++];
            *l = (gd_shop_line){b->product, 0, 0, b->price_cents};
        }
        if (b->lo < l->lo) l->lo = b->lo;
        if (b->hi > l->hi) l->hi = b->hi;
    }
    /* a line the change added that before did not have may be absent */
    for (int i = 0; i < c->n; i++) {
        int found = 0;
        for (int k = 0; k < before->n; k++) found |= before->l[k].product == c->l[i].product;
        if (!found) c->l[i].lo = 0;
    }
}

void gd_shop_cart_expect_empty(gd_shop_cart *c, int uncertain)
{
    for (int i = 0; i < c->n; i++) {
        c->l[i].lo = 0;
        if (!uncertain) c->l[i].hi = 0;
    }
}

int gd_shop_cart_held(const gd_shop_cart *c)
{
    int n = 0;
    for (int i = 0; i < c->n; i++) n += c->l[i].lo > 0;
    return n;
}

/* ---- the visit ---------------------------------------------------------------------------- */

const char *gd_shop_step_name(enum gd_shop_step s)
{
    static const char *const names[] = {"catalogue", "profile",  "product", "add", "cart",
                                        "remove",    "checkout", "orders",  "done"};
    return (int)s >= 0 && s <= GD_STEP_DONE ? names[s] : "?";
}

static int uniform(gd_rand *r, int lo, int hi)
{
    return lo + (int)(gd_rand_u64(r) % (uint64_t)(hi - lo + 1));
}

void gd_shop_visit_plan(gd_shop_visit *v, const gd_scenario *sc, gd_rand *r, uint64_t id)
{
    memset(v, 0, sizeof *v);
    v->id = id;
    int lo = sc->shoppers.items_min, hi = sc->shoppers.items_max;
    if (hi > GD_SHOP_ITEMS_MAX) hi = GD_SHOP_ITEMS_MAX;
    if (lo < 1) lo = 1;
    if (lo > hi) lo = hi;
    v->nitems = uniform(r, lo, hi);
    int qmax = sc->shoppers.qty_max > 0 ? sc->shoppers.qty_max : 1;
    for (int i = 0; i < v->nitems; i++) {
        int p, dup;
        do { /* distinct products: each add is a line of its own */
            p = uniform(r, 1, GD_CATALOG_N);
            dup = 0;
            for (int k = 0; k < i; k++) dup |= v->product[k] == p;
        } while (dup);
        v->product[i] = p;
        v->qty[i] = uniform(r, 1, qmax);
    }
    v->will_remove = gd_rand_double(r) < sc->shoppers.remove_share;
    v->will_checkout = gd_rand_double(r) < sc->shoppers.checkout_share;
    v->has_profile = gd_rand_double(r) < sc->shoppers.profile_share;
    snprintf(v->name, sizeof v->name, "Shopper %llu", (unsigned long long)id);
    snprintf(v->email, sizeof v->email, "shopper%llu@myclothes.test", (unsigned long long)id);
    v->step = GD_STEP_CATALOGUE;
}

enum gd_shop_step gd_shop_visit_next(gd_shop_visit *v)
{
    if (v->errors >= GD_SHOP_ERRORS_MAX) return v->step = GD_STEP_DONE;
    switch (v->step) {
    case GD_STEP_CATALOGUE:
        if (v->has_profile) return v->step = GD_STEP_PROFILE;
        /* fall through */
    case GD_STEP_PROFILE:
        v->item = 0;
        return v->step = v->nitems ? GD_STEP_PRODUCT : GD_STEP_CART;
    case GD_STEP_PRODUCT:
        return v->step = GD_STEP_ADD;
    case GD_STEP_ADD:
        if (++v->item < v->nitems) return v->step = GD_STEP_PRODUCT;
        return v->step = GD_STEP_CART;
    case GD_STEP_CART:
        if (v->will_remove && gd_shop_cart_held(&v->cart)) return v->step = GD_STEP_REMOVE;
        /* fall through */
    case GD_STEP_REMOVE:
        if (v->will_checkout && gd_shop_cart_held(&v->cart)) return v->step = GD_STEP_CHECKOUT;
        return v->step = GD_STEP_DONE;
    case GD_STEP_CHECKOUT:
        if (v->checked_out && v->has_profile) return v->step = GD_STEP_ORDERS;
        return v->step = GD_STEP_DONE;
    case GD_STEP_ORDERS:
    case GD_STEP_DONE:
        break;
    }
    return v->step = GD_STEP_DONE;
}

void gd_shop_visit_request(gd_shop_visit *v, const gd_shop_world *w, gd_rand *r, double t,
                           gd_shop_req *q)
{
    memset(q, 0, sizeof *q);
    q->want = 200;
    v->before = v->cart;
    v->held_before = gd_shop_cart_held(&v->cart);
    v->target = 0;
    switch (v->step) {
    case GD_STEP_CATALOGUE:
    case GD_STEP_DONE:
        q->method = "GET";
        snprintf(q->path, sizeof q->path, "/products");
        break;
    case GD_STEP_PROFILE:
        q->method = "PUT";
        snprintf(q->path, sizeof q->path, "/profile");
        snprintf(q->body, sizeof q->body, "{\"name\": \"%s\", \"email\": \"%s\"}", v->name,
                 v->email);
        break;
    case GD_STEP_PRODUCT:
        v->target = v->product[v->item];
        q->method = "GET";
        snprintf(q->path, sizeof q->path, "/products/%d", v->target);
        break;
    case GD_STEP_ADD: {
        v->target = v->product[v->item];
        int qty = v->qty[v->item];
        q->method = "POST";
        snprintf(q->path, sizeof q->path, "/cart/items");
        snprintf(q->body, sizeof q->body, "{\"product\": %d, \"qty\": %d}", v->target, qty);
        gd_shop_cart_expect_add(&v->cart, v->target, qty, price_now(w, v->target, t));
        break;
    }
    case GD_STEP_CART:
    case GD_STEP_ORDERS:
        q->method = "GET";
        snprintf(q->path, sizeof q->path, v->step == GD_STEP_CART ? "/cart" : "/orders");
        break;
    case GD_STEP_REMOVE: {
        int held[GD_SHOP_LINES_MAX], n = 0;
        for (int i = 0; i < v->cart.n; i++)
            if (v->cart.l[i].lo > 0) held[n++] = v->cart.l[i].product;
        v->target = n ? held[gd_rand_u64(r) % (uint64_t)n] : v->product[0];
        q->method = "DELETE";
        snprintf(q->path, sizeof q->path, "/cart/items/%d", v->target);
        gd_shop_cart_expect_remove(&v->cart, v->target);
        break;
    }
    case GD_STEP_CHECKOUT:
        q->method = "POST";
        snprintf(q->path, sizeof q->path, "/checkout");
        q->want = 201;
        break;
    }
}

/* ---- verdicts ------------------------------------------------------------------------ */

#define BIT(o) (1u << (o))

static void why(gd_shop_verdict *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why(gd_shop_verdict *d, const char *fmt, ...)
{
    if (d->why[0]) return; /* the first reason is the one told */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
}

static int int_of(const json_t *o, const char *k, long long *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 0;
}

/* A product as the catalogue and the price feed have it: 0, 1 (a price that is not the
 * current one: *stale), or -1 (not the product: wrong). */
static int check_product(const gd_shop_world *w, const json_t *p, double t, long long want_id,
                         gd_shop_verdict *d)
{
    long long id, price, stock;
    const char *name = json_string_value(json_object_get(p, "name"));
    if (!json_is_object(p) || int_of(p, "id", &id) || int_of(p, "price_cents", &price) ||
        int_of(p, "stock", &stock) || !name) {
        why(d, "a product without id, name, price_cents and stock");
        return -1;
    }
    const gd_product *c = gd_catalog_find(w->cat, id);
    if (!c || (want_id && id != want_id) || strcmp(c->name, name) != 0) {
        why(d, "product %lld is not the catalogue's", id);
        return -1;
    }
    int now = price_now(w, (int)id, t);
    if (now >= 0 && price != now) {
        why(d, "product %lld costs %lld, the catalogue says %d", id, price, now);
        return 1;
    }
    return 0;
}

/* Reads a cart answer {"items": [...], "total_cents"} into got (lo = hi = qty); -1 when
 * it is not a cart or its total is not the sum of its lines. */
static int read_cart(const json_t *doc, gd_shop_cart *got, gd_shop_verdict *d)
{
    memset(got, 0, sizeof *got);
    json_t *items = json_object_get(doc, "items");
    long long total, sum = 0;
    if (!json_is_array(items) || int_of(doc, "total_cents", &total)) {
        why(d, "a cart without items and total_cents");
        return -1;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        long long p, q, c;
        if (int_of(it, "product", &p) || int_of(it, "qty", &q) || int_of(it, "price_cents", &c) ||
            q < 1 || q > 99 || c < 0 || p < 1 || p > GD_CATALOG_N) {
            why(d, "cart line %zu is not {product, qty, price_cents}", i);
            return -1;
        }
        if (got->n == GD_SHOP_LINES_MAX || gd_shop_cart_line(got, (int)p)) {
            why(d, "cart has product %lld twice, or too many lines", p);
            return -1;
        }
        got->l[got->n++] = (gd_shop_line){(int)p, (int)q, (int)q, (int)c};
        sum += q * c;
    }
    if (sum != total) {
        why(d, "cart total %lld is not the sum of its lines (%lld)", total, sum);
        return -1;
    }
    return 0;
}

/* A cart answer against what the shopper expects (v->cart, after its change). The
 * shopper then holds what it saw. */
static void judge_cart(gd_shop_visit *v, const json_t *doc, int new_session, gd_shop_verdict *d)
{
    gd_shop_cart got;
    if (read_cart(doc, &got, d) < 0) {
        d->page = GD_WRONG;
        gd_shop_cart_widen(&v->cart, &v->before);
        return;
    }
    int held = 0, missing = 0, gone = 0;
    for (int i = 0; i < v->cart.n; i++) {
        gd_shop_line *e = &v->cart.l[i];
        if (e->lo <= 0) continue;
        held++;
        gd_shop_line *g = gd_shop_cart_line(&got, e->product);
        int q = g ? g->lo : 0;
        if (q < e->lo) {
            missing++;
            gone += q == 0;
            why(d, "product %d: %d in the cart, %d expected", e->product, q, e->lo);
        }
    }
    for (int i = 0; i < got.n; i++) {
        gd_shop_line *g = &got.l[i], *e = gd_shop_cart_line(&v->cart, g->product);
        if (!e || g->lo > e->hi) {
            if (!new_session) {
                d->page = GD_WRONG;
                why(d, "product %d: %d in the cart, at most %d expected", g->product, g->lo,
                    e ? e->hi : 0);
            }
        } else if (g->price_cents != e->price_cents) {
            d->shop |= BIT(GD_SHOP_STALE_PRICE);
            why(d, "product %d in the cart at %d, added at %d", g->product, g->price_cents,
                e->price_cents);
        }
    }
    if (new_session && v->held_before > 0) {
        d->shop |= BIT(GD_SHOP_CART_LOST);
    } else if (missing > 0) {
        d->shop |= BIT(missing == held && gone == held ? GD_SHOP_CART_LOST : GD_SHOP_ITEM_LOST);
    }
    v->cart = got;
}

static void lost_session(gd_shop_visit *v, int new_session, gd_shop_verdict *d)
{
    if (!new_session) return;
    if (v->session_held) {
        d->session_lost = 1;
        why(d, "a new session: the shop did not know this shopper's");
    }
    v->session_held = 0;
    v->profile_set = 0;
}

static void judge_order(gd_shop_visit *v, const json_t *doc, gd_shop_verdict *d)
{
    const char *oid = json_string_value(json_object_get(doc, "order_id"));
    gd_shop_cart got;
    if (!oid || strncmp(oid, "o-", 2) != 0 || strlen(oid) >= sizeof v->order_id ||
        read_cart(doc, &got, d) < 0) {
        d->page = GD_WRONG;
        d->shop |= BIT(GD_SHOP_ORDER_WRONG);
        why(d, "an order without order_id, items and total_cents");
        gd_shop_cart_expect_empty(&v->cart, 1);
        return;
    }
    int ok = 1;
    for (int i = 0; i < v->cart.n; i++) {
        gd_shop_line *e = &v->cart.l[i], *g = gd_shop_cart_line(&got, e->product);
        int q = g ? g->lo : 0;
        if (q < e->lo || q > e->hi || (g && g->price_cents != e->price_cents)) {
            ok = 0;
            why(d, "order line of product %d: %d at %d, the cart had %d at %d", e->product, q,
                g ? g->price_cents : 0, e->lo, e->price_cents);
        }
    }
    for (int i = 0; i < got.n; i++)
        if (!gd_shop_cart_line(&v->cart, got.l[i].product)) {
            ok = 0;
            why(d, "order has product %d, which the cart did not", got.l[i].product);
        }
    d->shop |= BIT(ok ? GD_SHOP_CHECKOUT : GD_SHOP_ORDER_WRONG);
    snprintf(v->order_id, sizeof v->order_id, "%s", oid);
    long long total = 0;
    int_of(doc, "total_cents", &total);
    v->order_total = total;
    v->checked_out = 1;
    v->session_held = 1;
    gd_shop_cart_expect_empty(&v->cart, 0);
}

static void judge_orders(gd_shop_visit *v, const json_t *doc, int new_session, gd_shop_verdict *d)
{
    if (!json_is_array(doc)) {
        d->page = GD_WRONG;
        why(d, "orders are not a list");
        return;
    }
    size_t i;
    json_t *o;
    json_array_foreach(doc, i, o)
    {
        const char *oid = json_string_value(json_object_get(o, "order_id"));
        long long total;
        if (!oid || strcmp(oid, v->order_id) != 0) continue;
        if (int_of(o, "total_cents", &total) || total != v->order_total) {
            d->shop |= BIT(GD_SHOP_ORDER_WRONG);
            why(d, "order %s reads back with another total", oid);
        }
        return;
    }
    if (!new_session) { /* the session is there, the order is not */
        d->shop |= BIT(GD_SHOP_ORDER_WRONG);
        why(d, "order %s is not in the orders", v->order_id);
    }
}

static int is_change(enum gd_shop_step s)
{
    return s == GD_STEP_ADD || s == GD_STEP_REMOVE || s == GD_STEP_PROFILE || s == GD_STEP_CHECKOUT;
}

/* A checkout's 409 that says a product ran short, not that the cart was empty. */
static int out_of_stock(const json_t *doc)
{
    const char *e = json_string_value(json_object_get(doc, "error"));
    return e && !strncmp(e, "out of stock", 12);
}

gd_shop_verdict gd_shop_visit_answer(gd_shop_visit *v, const gd_shop_world *w, double t,
                                     enum gd_outcome transport, int status, int new_session,
                                     const char *body, size_t len)
{
    gd_shop_verdict d = {.page = GD_OK_ANSWER};
    enum gd_shop_step s = v->step;
    int want = s == GD_STEP_CHECKOUT ? 201 : 200;
    int answered = transport == GD_OK_ANSWER;
    /* No answer, or a server error: a change may or may not have been applied. */
    if (!answered || status >= 500) {
        d.page = answered ? GD_ERROR : transport;
        if (answered)
            why(&d, "%s answered %d", gd_shop_step_name(s), status);
        else
            why(&d, "%s: %s", gd_shop_step_name(s), transport == GD_TIMEOUT ? "timeout" : "error");
        if (s == GD_STEP_CHECKOUT) {
            d.shop |= BIT(GD_SHOP_CHECKOUT_FAILED);
            gd_shop_cart_expect_empty(&v->cart, 1);
        } else if (is_change(s)) {
            gd_shop_cart_widen(&v->cart, &v->before);
        }
        v->errors++;
        gd_shop_visit_next(v);
        return d;
    }
    json_t *doc = json_loadb(body ? body : "", len, 0, NULL);
    if (s != GD_STEP_CATALOGUE && s != GD_STEP_PRODUCT) lost_session(v, new_session, &d);
    if (status == want && !doc) {
        d.page = GD_WRONG;
        why(&d, "%s: the answer is not JSON", gd_shop_step_name(s));
        if (s == GD_STEP_CHECKOUT) d.shop |= BIT(GD_SHOP_ORDER_WRONG);
        if (is_change(s)) gd_shop_cart_widen(&v->cart, &v->before);
        if (s == GD_STEP_CHECKOUT) gd_shop_cart_expect_empty(&v->cart, 1);
    } else if (status == want) {
        switch (s) {
        case GD_STEP_CATALOGUE: {
            int stale = 0, bad = !json_is_array(doc) || json_array_size(doc) != GD_CATALOG_N;
            size_t i;
            json_t *p;
            if (bad) why(&d, "the catalogue does not have its %d products", GD_CATALOG_N);
            json_array_foreach(doc, i, p)
            {
                int r = check_product(w, p, t, 0, &d);
                bad |= r < 0;
                stale |= r > 0;
            }
            if (bad) d.page = GD_WRONG;
            if (stale) d.shop |= BIT(GD_SHOP_STALE_PRICE);
            break;
        }
        case GD_STEP_PRODUCT: {
            int r = check_product(w, doc, t, v->target, &d);
            if (r < 0) d.page = GD_WRONG;
            if (r > 0) d.shop |= BIT(GD_SHOP_STALE_PRICE);
            break;
        }
        case GD_STEP_PROFILE: {
            const char *n = json_string_value(json_object_get(doc, "name"));
            const char *e = json_string_value(json_object_get(doc, "email"));
            if (!n || !e || strcmp(n, v->name) || strcmp(e, v->email)) {
                d.page = GD_WRONG;
                why(&d, "the profile does not read back as it was set");
            } else {
                v->profile_set = v->session_held = 1;
            }
            break;
        }
        case GD_STEP_ADD:
        case GD_STEP_CART:
        case GD_STEP_REMOVE:
            judge_cart(v, doc, new_session, &d);
            if (gd_shop_cart_held(&v->cart)) v->session_held = 1;
            break;
        case GD_STEP_CHECKOUT:
            judge_order(v, doc, &d);
            break;
        case GD_STEP_ORDERS:
            judge_orders(v, doc, new_session, &d);
            break;
        case GD_STEP_DONE:
            break;
        }
    } else if (s == GD_STEP_REMOVE && status == 404 && v->held_before > 0) {
        /* the shop answered right for the cart it has: the line the shopper held is gone */
        d.shop |= BIT(new_session ? GD_SHOP_CART_LOST : GD_SHOP_ITEM_LOST);
        why(&d, "product %d was not in the cart any more", v->target);
        if (new_session)
            gd_shop_cart_expect_empty(&v->cart, 0);
        else
            gd_shop_cart_expect_remove(&v->cart, v->target);
    } else if (s == GD_STEP_CHECKOUT && status == 409 && out_of_stock(doc)) {
        /* the database had fewer of a product than the cart holds (doc/clothes.md): the
         * shop took nothing and kept the cart. The merchandise's problem, not the
         * team's: no points either way; the shopper leaves with its cart as it was. */
        why(&d, "checkout refused: %s", json_string_value(json_object_get(doc, "error")));
        v->cart = v->before;
        v->step = GD_STEP_DONE;
        json_decref(doc);
        return d;
    } else if (s == GD_STEP_CHECKOUT && status == 409 && v->held_before > 0) {
        /* the shop found an empty cart where the shopper had items */
        d.shop |= BIT(GD_SHOP_CART_LOST) | BIT(GD_SHOP_CHECKOUT_FAILED);
        why(&d, "checkout found an empty cart (%d lines expected)", v->held_before);
        gd_shop_cart_expect_empty(&v->cart, 0);
    } else {
        /* a refusal (4xx): nothing changed */
        d.page = GD_ERROR;
        why(&d, "%s answered %d", gd_shop_step_name(s), status);
        if (s == GD_STEP_CHECKOUT) d.shop |= BIT(GD_SHOP_CHECKOUT_FAILED);
        v->cart = v->before;
        v->errors++;
    }
    json_decref(doc);
    gd_shop_visit_next(v);
    return d;
}
