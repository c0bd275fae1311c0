/* The shopper model (src/loadgen/shopper.c): the cookie jar, the expected cart's
 * bookkeeping, the visit's plan and steps, and the verdict on answers. The answers come
 * from the shop's own logic (src/services/cart.c) run here in process, so that a right
 * shop is judged right and each way of losing a cart is judged as what it is. */
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/rand.h"
#include "loadgen/shopper.h"
#include "model/scenario.h"
#include "services/cart.h"
#include "services/catalog.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000ull

static gd_catalog cat;
static gd_shop_world world;
static gd_scenario sc;

static void setup(void)
{
    gd_catalog_make(&cat, "my-clothes");
    world = (gd_shop_world){.cat = &cat, .price = gd_shop_catalog_price, .price_ud = &cat};
    memset(&sc, 0, sizeof sc);
    sc.shoppers.items_min = 2;
    sc.shoppers.items_max = 3;
    sc.shoppers.qty_max = 3;
    sc.shoppers.remove_share = 0;
    sc.shoppers.checkout_share = 1;
    sc.shoppers.profile_share = 1;
}

/* ---- the jar ---- */

static const char *header(gd_jar *j, uint64_t now, char *out, size_t n)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 16);
    cr_assert_eq(gd_jar_header(j, now, &b), 0);
    snprintf(out, n, "%.*s", (int)b.len, b.data ? b.data : "");
    gd_buf_free(&b);
    return out;
}

#define SET(j, s, now) gd_jar_set(j, s, strlen(s), now)

Test(jar, keeps_replaces_and_sends_back_as_a_browser)
{
    long before = gd_mem_live();
    gd_jar j = {0};
    char h[512];
    cr_assert_str_eq(header(&j, 0, h, sizeof h), "", "an empty jar sends no Cookie header");
    cr_assert_eq(SET(&j, "sid=abc; Path=/; HttpOnly; SameSite=Lax", 0), 0);
    cr_assert_eq(SET(&j, "GDALB=t1.99.sig; Path=/; Max-Age=60", 0), 0);
    cr_assert_str_eq(gd_jar_get(&j, "sid"), "abc");
    cr_assert_str_eq(header(&j, 0, h, sizeof h), "Cookie: sid=abc; GDALB=t1.99.sig\r\n");
    cr_assert_eq(SET(&j, "sid=def; Path=/", 0), 0);
    cr_assert_str_eq(gd_jar_get(&j, "sid"), "def", "the same name is replaced");
    cr_assert_eq(j.n, 2);
    /* Max-Age runs out (wall seconds): the stickiness cookie goes, the session stays */
    cr_assert_str_eq(header(&j, 61 * SEC, h, sizeof h), "Cookie: sid=def\r\n");
    cr_assert_null(gd_jar_get(&j, "GDALB"));
    /* Max-Age=0 deletes */
    cr_assert_eq(SET(&j, "sid=; Max-Age=0", 0), 0);
    cr_assert_null(gd_jar_get(&j, "sid"));
    cr_assert_eq(j.n, 0);
    cr_assert_eq(j.bytes, 0u);
    gd_jar_clear(&j);
    cr_assert_eq(gd_mem_live(), before, "the jar frees what it held");
}

Test(jar, refuses_what_a_browser_would_and_stays_bounded)
{
    long before = gd_mem_live();
    gd_jar j = {0};
    cr_assert_eq(SET(&j, "no-equals-sign", 0), GD_EINVAL);
    cr_assert_eq(SET(&j, "=value", 0), GD_EINVAL);
    cr_assert_eq(SET(&j, "bad name=1", 0), GD_EINVAL);
    static char big[GD_JAR_VALUE_MAX + 16];
    memcpy(big, "session=", 8);
    memset(big + 8, 'a', GD_JAR_VALUE_MAX + 1);
    big[8 + GD_JAR_VALUE_MAX + 1] = 0;
    cr_assert_eq(SET(&j, big, 0), GD_EFULL, "a value over GD_JAR_VALUE_MAX is refused");
    big[8 + 4096] = 0; /* a 4 KB cookie session fits */
    cr_assert_eq(SET(&j, big, 0), 0);
    char c[32];
    for (int i = 1; i < GD_JAR_COOKIES; i++) {
        snprintf(c, sizeof c, "c%d=%d", i, i);
        cr_assert_eq(SET(&j, c, 0), 0);
    }
    cr_assert_eq(j.n, GD_JAR_COOKIES);
    cr_assert_eq(SET(&j, "one-more=1", 0), GD_EFULL, "at most GD_JAR_COOKIES cookies");
    cr_assert_eq(SET(&j, "c1=2", 0), 0, "a known one is still replaced");
    cr_assert_eq(j.refused, 5u);
    cr_assert_leq(j.bytes, (size_t)GD_JAR_BYTES);
    gd_jar_clear(&j);
    cr_assert_eq(gd_mem_live(), before);
}

/* ---- the expected cart ---- */

Test(cart_model, adds_removes_and_widens_after_an_unknown_outcome)
{
    gd_shop_cart c = {0};
    cr_assert_eq(gd_shop_cart_expect_add(&c, 7, 2, 2999), 0);
    cr_assert_eq(gd_shop_cart_expect_add(&c, 9, 1, 499), 0);
    cr_assert_eq(gd_shop_cart_held(&c), 2);
    gd_shop_cart before = c;
    gd_shop_cart_expect_add(&c, 7, 1, 2999);
    cr_assert_eq(gd_shop_cart_line(&c, 7)->lo, 3);
    /* the add's answer never came: 2 or 3 of product 7 */
    gd_shop_cart_widen(&c, &before);
    cr_assert_eq(gd_shop_cart_line(&c, 7)->lo, 2);
    cr_assert_eq(gd_shop_cart_line(&c, 7)->hi, 3);
    before = c;
    gd_shop_cart_expect_add(&c, 11, 1, 999);
    gd_shop_cart_widen(&c, &before);
    cr_assert_eq(gd_shop_cart_line(&c, 11)->lo, 0, "a new line may be missing");
    cr_assert_eq(gd_shop_cart_line(&c, 11)->hi, 1, "or there");
    before = c;
    gd_shop_cart_expect_remove(&c, 9);
    cr_assert_eq(gd_shop_cart_line(&c, 9)->hi, 0);
    gd_shop_cart_widen(&c, &before);
    cr_assert_eq(gd_shop_cart_line(&c, 9)->lo, 0);
    cr_assert_eq(gd_shop_cart_line(&c, 9)->hi, 1, "a removal that may not have happened");
    cr_assert_eq(gd_shop_cart_held(&c), 1, "only product 7 is held for sure");
    gd_shop_cart_expect_empty(&c, 1);
    cr_assert_eq(gd_shop_cart_held(&c), 0);
    cr_assert_eq(gd_shop_cart_line(&c, 7)->hi, 3, "an unknown checkout: maybe still there");
    gd_shop_cart_expect_empty(&c, 0);
    cr_assert_eq(gd_shop_cart_line(&c, 7)->hi, 0);
    gd_shop_cart full = {0};
    for (int i = 0; i < GD_SHOP_LINES_MAX; i++)
        cr_assert_eq(gd_shop_cart_expect_add(&full, i + 1, 1, 499), 0);
    cr_assert_eq(gd_shop_cart_expect_add(&full, 100, 1, 499), GD_EFULL);
}

/* ---- the plan ---- */

Test(visit, plans_follow_the_scenario_and_the_seed, .init = setup)
{
    gd_rand r1, r2;
    gd_rand_seed(&r1, 42);
    gd_rand_seed(&r2, 42);
    sc.shoppers.items_min = 1;
    sc.shoppers.items_max = 5;
    sc.shoppers.qty_max = 2;
    sc.shoppers.checkout_share = 0.5;
    sc.shoppers.profile_share = 0;
    int seen[6] = {0}, checkouts = 0;
    for (int n = 0; n < 2000; n++) {
        gd_shop_visit a, b;
        gd_shop_visit_plan(&a, &sc, &r1, (uint64_t)n);
        gd_shop_visit_plan(&b, &sc, &r2, (uint64_t)n);
        cr_assert(!memcmp(a.product, b.product, sizeof a.product), "the seed decides");
        cr_assert_geq(a.nitems, 1);
        cr_assert_leq(a.nitems, 5);
        seen[a.nitems]++;
        for (int i = 0; i < a.nitems; i++) {
            cr_assert_geq(a.product[i], 1);
            cr_assert_leq(a.product[i], GD_CATALOG_N);
            cr_assert_geq(a.qty[i], 1);
            cr_assert_leq(a.qty[i], 2);
            for (int k = 0; k < i; k++) cr_assert_neq(a.product[k], a.product[i]);
        }
        cr_assert_not(a.has_profile, "profile_share 0");
        checkouts += a.will_checkout;
        cr_assert_eq(a.step, GD_STEP_CATALOGUE);
    }
    for (int k = 1; k <= 5; k++) cr_assert_gt(seen[k], 300, "items %d: %d of 2000", k, seen[k]);
    cr_assert_gt(checkouts, 900);
    cr_assert_lt(checkouts, 1100);
}

/* ---- a shop in process: the real cart logic, one session ---- */

struct fake_shop {
    json_t *sess;
    int lose;       /* the next session request finds no session */
    int drop_line;  /* the next session request finds this product's line gone */
    int price_up;   /* product pages say this much more */
    int order_bump; /* the order's first line claims this much more qty */
    int no_stock;   /* the next checkout finds a product short (database mode) */
    char iid[16];
};

struct answer {
    int status, new_session;
    char *body;
};

static char *dumps(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static struct answer shop_answer(struct fake_shop *f, const gd_shop_req *q)
{
    struct answer a = {200, 0, NULL};
    char err[256];
    long long id = 0;
    if (!strncmp(q->path, "/products/", 10)) {
        const gd_product *p = gd_catalog_find(&cat, atoi(q->path + 10));
        json_t *j = gd_product_json(p);
        json_object_set_new(j, "price_cents", json_integer(p->price_cents + f->price_up));
        a.body = dumps(j);
        return a;
    }
    if (!strcmp(q->path, "/products")) {
        json_t *all = json_array();
        for (int i = 0; i < GD_CATALOG_N; i++)
            json_array_append_new(all, gd_product_json(&cat.p[i]));
        a.body = dumps(all);
        return a;
    }
    if (!f->sess || f->lose) {
        json_decref(f->sess);
        f->sess = gd_sess_new();
        a.new_session = 1;
        f->lose = 0;
    }
    if (f->drop_line) {
        gd_cart_remove(f->sess, f->drop_line);
        f->drop_line = 0;
    }
    if (!strcmp(q->method, "PUT")) {
        cr_assert_eq(gd_profile_update(f->sess, q->body, strlen(q->body), err, sizeof err), 0, "%s",
                     err);
        a.body = dumps(json_incref(gd_sess_profile(f->sess)));
    } else if (!strcmp(q->method, "POST") && !strcmp(q->path, "/cart/items")) {
        int qty;
        cr_assert_eq(gd_cart_parse_add(q->body, strlen(q->body), &id, &qty, err, sizeof err), 0);
        cr_assert_eq(gd_cart_add(f->sess, gd_catalog_find(&cat, id), qty, err, sizeof err), 0);
        a.body = dumps(gd_cart_view(f->sess));
    } else if (!strcmp(q->path, "/cart")) {
        a.body = dumps(gd_cart_view(f->sess));
    } else if (!strcmp(q->method, "DELETE")) {
        if (gd_cart_remove(f->sess, atoi(q->path + strlen("/cart/items/"))) < 0) {
            a.status = 404;
            a.body = strdup("{\"error\": \"not in the cart\"}");
        } else {
            a.body = dumps(gd_cart_view(f->sess));
        }
    } else if (!strcmp(q->path, "/checkout") && f->no_stock) {
        f->no_stock = 0;
        a.status = 409;
        a.body = strdup("{\"error\": \"out of stock: a product of the cart has fewer left than "
                        "the cart holds\"}");
    } else if (!strcmp(q->path, "/checkout")) {
        json_t *order;
        if (gd_cart_checkout(f->sess, "o-0123456789abcdef", &order) < 0) {
            a.status = 409;
            a.body = strdup("{\"error\": \"the cart is empty\"}");
        } else {
            if (f->order_bump) {
                json_t *l = json_array_get(json_object_get(order, "items"), 0);
                long long qty = json_integer_value(json_object_get(l, "qty"));
                long long pr = json_integer_value(json_object_get(l, "price_cents"));
                json_object_set_new(l, "qty", json_integer(qty + f->order_bump));
                long long t = json_integer_value(json_object_get(order, "total_cents"));
                json_object_set_new(order, "total_cents", json_integer(t + f->order_bump * pr));
            }
            a.status = 201;
            a.body = dumps(order);
        }
    } else if (!strcmp(q->path, "/orders")) {
        a.body = dumps(json_incref(gd_sess_orders(f->sess)));
    } else {
        cr_assert_fail("the shopper asked for %s %s", q->method, q->path);
    }
    return a;
}

/* One step: the shopper's request, the fake shop's answer, the verdict. */
static gd_shop_verdict step(gd_shop_visit *v, struct fake_shop *f, gd_rand *r, gd_shop_req *q)
{
    gd_shop_visit_request(v, &world, r, 0, q);
    struct answer a = shop_answer(f, q);
    gd_shop_verdict d = gd_shop_visit_answer(v, &world, 0, GD_OK_ANSWER, a.status, a.new_session,
                                             a.body, strlen(a.body));
    free(a.body);
    return d;
}

#define BIT(o) (1u << (o))

/* Runs the visit to its end; returns the OR of the shop outcomes and counts pages. */
static unsigned run(gd_shop_visit *v, struct fake_shop *f, gd_rand *r, int *pages, int *wrong)
{
    unsigned all = 0;
    gd_shop_req q;
    for (int n = 0; v->step != GD_STEP_DONE; n++) {
        cr_assert_lt(n, 64, "a visit ends");
        gd_shop_verdict d = step(v, f, r, &q);
        all |= d.shop;
        (*pages)++;
        if (d.page != GD_OK_ANSWER) (*wrong)++;
    }
    return all;
}

Test(visit, a_shop_that_keeps_the_session_is_judged_right, .init = setup)
{
    long before = gd_mem_live();
    gd_rand r;
    gd_rand_seed(&r, 7);
    sc.shoppers.remove_share = 1;
    for (int n = 0; n < 50; n++) {
        gd_shop_visit v;
        gd_shop_visit_plan(&v, &sc, &r, (uint64_t)n);
        struct fake_shop f = {0};
        int pages = 0, bad = 0;
        unsigned all = run(&v, &f, &r, &pages, &bad);
        cr_assert_eq(all, BIT(GD_SHOP_CHECKOUT), "visit %d: outcomes %#x", n, all);
        cr_assert_eq(bad, 0);
        /* catalogue, profile, 2 per item, cart, remove, checkout, orders */
        cr_assert_eq(pages, 6 + 2 * v.nitems, "visit %d of %d items: %d pages", n, v.nitems, pages);
        cr_assert(v.checked_out);
        cr_assert_str_eq(v.order_id, "o-0123456789abcdef");
        json_decref(f.sess);
    }
    cr_assert_eq(gd_mem_live(), before);
}

/* The visit's steps up to (not including) the step `until`; returns the answers' OR. */
static unsigned run_until(gd_shop_visit *v, struct fake_shop *f, gd_rand *r,
                          enum gd_shop_step until, int item)
{
    unsigned all = 0;
    gd_shop_req q;
    while (v->step != GD_STEP_DONE && !(v->step == until && v->item >= item))
        all |= step(v, f, r, &q).shop;
    return all;
}

Test(visit, a_new_session_loses_the_cart, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 1);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 1);
    struct fake_shop f = {0};
    cr_assert_eq(run_until(&v, &f, &r, GD_STEP_ADD, 1), 0, "the first add is fine");
    cr_assert_eq(gd_shop_cart_held(&v.cart), 1);
    f.lose = 1; /* the second add lands on an instance that never saw the session */
    gd_shop_req q;
    gd_shop_verdict d = step(&v, &f, &r, &q);
    cr_assert_eq(d.page, GD_OK_ANSWER, "the page itself is right for the session it found");
    cr_assert_eq(d.shop, BIT(GD_SHOP_CART_LOST));
    cr_assert(d.session_lost);
    cr_assert_eq(gd_shop_cart_held(&v.cart), 1, "the shopper goes on with what it sees");
    /* and from there on, nothing else is wrong */
    int pages = 0, bad = 0;
    cr_assert_eq(run(&v, &f, &r, &pages, &bad), BIT(GD_SHOP_CHECKOUT));
    cr_assert_eq(bad, 0);
    json_decref(f.sess);
}

Test(visit, a_line_gone_from_a_known_session_is_an_item_lost, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 2);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 2);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_CART, 0);
    cr_assert_geq(gd_shop_cart_held(&v.cart), 2);
    f.drop_line = v.product[0];
    gd_shop_req q;
    gd_shop_verdict d = step(&v, &f, &r, &q);
    cr_assert_eq(q.method[0], 'G');
    cr_assert_eq(d.shop, BIT(GD_SHOP_ITEM_LOST), "one line of several: %#x", d.shop);
    cr_assert_not(d.session_lost);
    cr_assert_neq(strstr(d.why, "in the cart"), NULL, "%s", d.why);
    json_decref(f.sess);
}

Test(visit, a_checkout_on_a_lost_cart_fails_and_loses_it, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 3);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 3);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_CHECKOUT, 0);
    cr_assert_eq(v.step, GD_STEP_CHECKOUT);
    f.lose = 1;
    gd_shop_req q;
    gd_shop_verdict d = step(&v, &f, &r, &q);
    cr_assert_eq(d.shop, BIT(GD_SHOP_CART_LOST) | BIT(GD_SHOP_CHECKOUT_FAILED));
    cr_assert_eq(d.page, GD_OK_ANSWER, "409 is the shop's right answer to an empty cart");
    cr_assert_eq(v.step, GD_STEP_DONE, "a failed checkout ends the visit");
    json_decref(f.sess);
}

Test(visit, an_out_of_stock_checkout_costs_the_team_nothing, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 3);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 3);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_CHECKOUT, 0);
    cr_assert_eq(v.step, GD_STEP_CHECKOUT);
    int held = gd_shop_cart_held(&v.cart);
    f.no_stock = 1;
    gd_shop_req q;
    gd_shop_verdict d = step(&v, &f, &r, &q);
    cr_assert_eq(d.shop, 0u, "a product short of stock is no lost cart: %#x", d.shop);
    cr_assert_eq(d.page, GD_OK_ANSWER);
    cr_assert_neq(strstr(d.why, "out of stock"), NULL, "%s", d.why);
    cr_assert_eq(gd_shop_cart_held(&v.cart), held, "the shop kept the cart");
    cr_assert_eq(v.step, GD_STEP_DONE, "the shopper leaves");
    json_decref(f.sess);
}

Test(visit, a_checkout_without_an_answer_fails, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 4);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 4);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_CHECKOUT, 0);
    gd_shop_req q;
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    gd_shop_verdict d = gd_shop_visit_answer(&v, &world, 0, GD_TIMEOUT, 0, 0, NULL, 0);
    cr_assert_eq(d.page, GD_TIMEOUT);
    cr_assert_eq(d.shop, BIT(GD_SHOP_CHECKOUT_FAILED));
    cr_assert_eq(v.step, GD_STEP_DONE);
    /* a 503 the same, as an error */
    gd_shop_visit_plan(&v, &sc, &r, 5);
    run_until(&v, &f, &r, GD_STEP_CHECKOUT, 0);
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    const char *b = "{\"error\": \"session store unavailable\"}";
    d = gd_shop_visit_answer(&v, &world, 0, GD_OK_ANSWER, 503, 0, b, strlen(b));
    cr_assert_eq(d.page, GD_ERROR);
    cr_assert_eq(d.shop, BIT(GD_SHOP_CHECKOUT_FAILED));
    json_decref(f.sess);
}

Test(visit, an_order_unlike_the_cart_is_wrong, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 6);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 6);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_CHECKOUT, 0);
    f.order_bump = 1;
    gd_shop_req q;
    gd_shop_verdict d = step(&v, &f, &r, &q);
    cr_assert_eq(d.shop, BIT(GD_SHOP_ORDER_WRONG), "%#x %s", d.shop, d.why);
    cr_assert_neq(strstr(d.why, "order line"), NULL, "%s", d.why);
    json_decref(f.sess);
}

static int price_up_100(void *ud, int product, double t)
{
    return gd_shop_catalog_price(ud, product, t) + (t >= 60 ? 100 : 0);
}

Test(visit, a_price_that_is_not_the_current_one_is_stale, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 8);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 8);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_PRODUCT, 0);
    /* the shop's page says more than the catalogue */
    f.price_up = 100;
    gd_shop_req q;
    gd_shop_verdict d = step(&v, &f, &r, &q);
    cr_assert_eq(d.shop, BIT(GD_SHOP_STALE_PRICE));
    cr_assert_eq(d.page, GD_OK_ANSWER);
    /* the hook: prices went up at 1:00 and the shop still shows the old ones */
    gd_shop_world later = world;
    later.price = price_up_100;
    gd_shop_visit_plan(&v, &sc, &r, 9);
    gd_shop_visit_request(&v, &later, &r, 120, &q);
    struct answer a = shop_answer(&f, &q);
    d = gd_shop_visit_answer(&v, &later, 120, GD_OK_ANSWER, a.status, 0, a.body, strlen(a.body));
    free(a.body);
    cr_assert_eq(d.shop, BIT(GD_SHOP_STALE_PRICE), "the catalogue page, after the update");
    json_decref(f.sess);
}

Test(visit, an_add_without_an_answer_may_or_may_not_be_in_the_cart, .init = setup)
{
    for (int applied = 0; applied <= 1; applied++) {
        gd_rand r;
        gd_rand_seed(&r, 10);
        gd_shop_visit v;
        gd_shop_visit_plan(&v, &sc, &r, 10);
        struct fake_shop f = {0};
        run_until(&v, &f, &r, GD_STEP_ADD, 1);
        gd_shop_req q;
        gd_shop_visit_request(&v, &world, &r, 0, &q);
        if (applied) free(shop_answer(&f, &q).body); /* the shop took it; the answer was lost */
        gd_shop_verdict d = gd_shop_visit_answer(&v, &world, 0, GD_TIMEOUT, 0, 0, NULL, 0);
        cr_assert_eq(d.page, GD_TIMEOUT);
        cr_assert_eq(d.shop, 0u);
        /* the rest of the visit: the cart is right either way */
        int pages = 0, bad = 0;
        unsigned all = run(&v, &f, &r, &pages, &bad);
        cr_assert_eq(all, BIT(GD_SHOP_CHECKOUT), "applied %d: %#x", applied, all);
        cr_assert_eq(bad, 0);
        json_decref(f.sess);
    }
}

Test(visit, answers_that_are_not_the_shop_s_are_wrong, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 11);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 11);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_CART, 0);
    gd_shop_req q;
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    /* a cart with a product the shopper never added */
    const char *extra = "{\"items\": [{\"product\": 200, \"qty\": 1, \"price_cents\": 499}], "
                        "\"total_cents\": 499}";
    gd_shop_verdict d =
        gd_shop_visit_answer(&v, &world, 0, GD_OK_ANSWER, 200, 0, extra, strlen(extra));
    cr_assert_eq(d.page, GD_WRONG);
    cr_assert(d.shop & BIT(GD_SHOP_CART_LOST), "and what it held is gone: %#x", d.shop);
    /* not JSON, a total that is not the sum */
    gd_shop_visit_plan(&v, &sc, &r, 12);
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    d = gd_shop_visit_answer(&v, &world, 0, GD_OK_ANSWER, 200, 0, "<html>", 6);
    cr_assert_eq(d.page, GD_WRONG);
    run_until(&v, &f, &r, GD_STEP_CART, 0);
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    const char *sum = "{\"items\": [], \"total_cents\": 5}";
    d = gd_shop_visit_answer(&v, &world, 0, GD_OK_ANSWER, 200, 0, sum, strlen(sum));
    cr_assert_eq(d.page, GD_WRONG);
    cr_assert_neq(strstr(d.why, "not the sum"), NULL, "%s", d.why);
    json_decref(f.sess);
}

Test(visit, orders_read_back_and_a_lost_session_is_told_apart, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 13);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 13);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_ORDERS, 0);
    cr_assert_eq(v.step, GD_STEP_ORDERS);
    f.lose = 1; /* the orders page lands where the session is unknown */
    gd_shop_req q;
    gd_shop_verdict d = step(&v, &f, &r, &q);
    cr_assert_eq(d.shop, 0u, "no cart to lose after a checkout");
    cr_assert(d.session_lost, "but the session (with its orders) is gone");
    /* the session is there, the order is not: wrong */
    gd_shop_visit_plan(&v, &sc, &r, 14);
    json_decref(f.sess);
    f.sess = NULL;
    run_until(&v, &f, &r, GD_STEP_ORDERS, 0);
    json_array_clear(gd_sess_orders(f.sess));
    d = step(&v, &f, &r, &q);
    cr_assert_eq(d.shop, BIT(GD_SHOP_ORDER_WRONG));
    json_decref(f.sess);
}

Test(visit, a_remove_of_a_line_the_shop_lost, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 15);
    sc.shoppers.remove_share = 1;
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 15);
    struct fake_shop f = {0};
    run_until(&v, &f, &r, GD_STEP_REMOVE, 0);
    gd_shop_req q;
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    gd_cart_remove(f.sess, v.target); /* gone before the shopper asks */
    struct answer a = shop_answer(&f, &q);
    cr_assert_eq(a.status, 404);
    gd_shop_verdict d =
        gd_shop_visit_answer(&v, &world, 0, GD_OK_ANSWER, a.status, 0, a.body, strlen(a.body));
    free(a.body);
    cr_assert_eq(d.shop, BIT(GD_SHOP_ITEM_LOST));
    cr_assert_eq(d.page, GD_OK_ANSWER);
    json_decref(f.sess);
}

Test(visit, two_failed_pages_end_a_visit, .init = setup)
{
    gd_rand r;
    gd_rand_seed(&r, 16);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 16);
    gd_shop_req q;
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    gd_shop_verdict d = gd_shop_visit_answer(&v, &world, 0, GD_ERROR, 0, 0, NULL, 0);
    cr_assert_eq(d.page, GD_ERROR);
    cr_assert_neq(v.step, GD_STEP_DONE);
    gd_shop_visit_request(&v, &world, &r, 0, &q);
    const char *b = "{\"error\": \"no healthy target\"}";
    gd_shop_visit_answer(&v, &world, 0, GD_OK_ANSWER, 503, 0, b, strlen(b));
    cr_assert_eq(v.step, GD_STEP_DONE);
    cr_assert_str_eq(gd_shop_step_name(GD_STEP_CHECKOUT), "checkout");
}
