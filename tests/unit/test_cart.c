/* The shop's logic (src/services/cart.c, catalog.c): the catalogue from the salt, the
 * cart's lines and bounds, the checkout, the profile's checks, a session from outside
 * checked whole. */
#include "core/err.h"
#include "services/cart.h"
#include "services/catalog.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static gd_catalog cat;

static void setup(void)
{
    gd_catalog_make(&cat, "my-clothes");
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "bad test JSON: %s", e.text);
    return j;
}

Test(catalog, drawn_from_the_salt, .init = setup)
{
    gd_catalog again, other;
    gd_catalog_make(&again, "my-clothes");
    gd_catalog_make(&other, "another-salt");
    cr_assert(!memcmp(&cat, &again, sizeof cat), "the same salt, the same catalogue");
    int same_price = 0;
    for (int i = 0; i < GD_CATALOG_N; i++) {
        const gd_product *p = &cat.p[i];
        cr_assert_eq(p->id, i + 1);
        cr_assert_geq(p->price_cents, 499);
        cr_assert_leq(p->price_cents, 11599);
        cr_assert_eq(p->price_cents % 100, 99);
        cr_assert_geq(p->stock, 10);
        cr_assert_leq(p->stock, 500);
        cr_assert_gt(strlen(p->name), 5);
        same_price += p->price_cents == other.p[i].price_cents;
    }
    cr_assert_lt(same_price, GD_CATALOG_N / 4, "another salt, another catalogue");
    cr_assert_null(gd_catalog_find(&cat, 0));
    cr_assert_null(gd_catalog_find(&cat, GD_CATALOG_N + 1));
    cr_assert_eq(gd_catalog_find(&cat, 7), &cat.p[6]);
}

Test(cart, add_merge_remove_total, .init = setup)
{
    json_t *s = gd_sess_new();
    char err[256];
    const gd_product *a = gd_catalog_find(&cat, 3), *b = gd_catalog_find(&cat, 8);
    cr_assert_eq(gd_cart_add(s, a, 2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gd_cart_add(s, b, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gd_cart_add(s, a, 3, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gd_cart_total(s), 5LL * a->price_cents + b->price_cents);
    json_t *v = gd_cart_view(s);
    char *d = dump(v), want[256];
    snprintf(want, sizeof want,
             "{\"items\":[{\"product\":3,\"qty\":5,\"price_cents\":%d},{\"product\":8,\"qty\":1,"
             "\"price_cents\":%d}],\"total_cents\":%lld}",
             a->price_cents, b->price_cents, 5LL * a->price_cents + b->price_cents);
    cr_assert_str_eq(d, want, "one line per product, qty added up");
    free(d);
    json_decref(v);
    cr_assert_eq(gd_cart_remove(s, 3), 0);
    cr_assert_eq(gd_cart_remove(s, 3), GD_ENOENT, "gone already");
    cr_assert_eq(gd_cart_remove(s, 42), GD_ENOENT, "never there");
    cr_assert_eq(gd_cart_total(s), b->price_cents);
    json_decref(s);
}

Test(cart, a_line_holds_at_most_99_and_the_stock, .init = setup)
{
    json_t *s = gd_sess_new();
    char err[256];
    const gd_product *p = NULL;
    for (int i = 0; i < GD_CATALOG_N && !p; i++)
        if (cat.p[i].stock >= 100) p = &cat.p[i];
    cr_assert_not_null(p);
    cr_assert_eq(gd_cart_add(s, p, 99, err, sizeof err), 0);
    cr_assert_eq(gd_cart_add(s, p, 1, err, sizeof err), GD_EFULL);
    char want[200];
    snprintf(want, sizeof want,
             "product %d: the cart would hold 100 of it; at most 99 of one product (it holds 99)",
             p->id);
    cr_assert_str_eq(err, want);
    cr_assert_eq(gd_cart_total(s), 99LL * p->price_cents, "unchanged by the refusal");
    const gd_product *low = NULL;
    for (int i = 0; i < GD_CATALOG_N && !low; i++)
        if (cat.p[i].stock < 99) low = &cat.p[i];
    cr_assert_not_null(low);
    cr_assert_eq(gd_cart_add(s, low, low->stock + 1, err, sizeof err), GD_EFULL);
    snprintf(want, sizeof want, "product %d: only %d in stock (the cart would hold %d)", low->id,
             low->stock, low->stock + 1);
    cr_assert_str_eq(err, want);
    json_decref(s);
}

Test(cart, checkout_makes_an_order_and_empties_the_cart, .init = setup)
{
    json_t *s = gd_sess_new(), *o = NULL;
    char err[256];
    cr_assert_eq(gd_cart_checkout(s, "o-1", &o), GD_ENOENT, "an empty cart");
    cr_assert_eq(json_array_size(gd_sess_orders(s)), 0);
    const gd_product *a = gd_catalog_find(&cat, 1);
    gd_cart_add(s, a, 4, err, sizeof err);
    cr_assert_eq(gd_cart_checkout(s, "o-1", &o), 0);
    cr_assert_str_eq(json_string_value(json_object_get(o, "order_id")), "o-1");
    cr_assert_eq(json_integer_value(json_object_get(o, "total_cents")), 4LL * a->price_cents);
    cr_assert_eq(json_array_size(json_object_get(o, "items")), 1);
    cr_assert_eq(gd_cart_total(s), 0);
    json_t *v = gd_cart_view(s);
    cr_assert_eq(json_array_size(json_object_get(v, "items")), 0);
    json_decref(v);
    json_decref(o);
    /* the oldest orders go beyond GD_ORDERS_MAX */
    for (int i = 2; i <= GD_ORDERS_MAX + 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "o-%d", i);
        gd_cart_add(s, a, 1, err, sizeof err);
        cr_assert_eq(gd_cart_checkout(s, id, &o), 0);
        json_decref(o);
    }
    json_t *orders = gd_sess_orders(s);
    cr_assert_eq(json_array_size(orders), GD_ORDERS_MAX);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(orders, 0), "order_id")),
                     "o-6");
    char e2[160];
    cr_assert_eq(gd_sess_check(s, &cat, e2, sizeof e2), 0, "%s", e2);
    json_decref(s);
}

Test(cart, the_add_body_says_what_is_wrong)
{
    long long p;
    int q;
    char err[256];
    const char *ok = "{\"product\": 12, \"qty\": 3}";
    cr_assert_eq(gd_cart_parse_add(ok, strlen(ok), &p, &q, err, sizeof err), 0, "%s", err);
    cr_assert_eq(p, 12);
    cr_assert_eq(q, 3);
    struct {
        const char *body, *want;
    } bad[] = {
        {"", "body: missing; expected {\"product\": ID, \"qty\": 1..99}"},
        {"[1]", "body: expected an object {\"product\": ID, \"qty\": 1..99}"},
        {"{\"product\": 1, \"qty\": 1, \"colour\": \"red\"}",
         "body: unknown key \"colour\" (allowed: product, qty)"},
        {"{\"qty\": 1}",
         "product: missing; expected a product id, a whole number (GET /products lists them)"},
        {"{\"product\": \"3\", \"qty\": 1}", "product: not a whole number; expected a product id, "
                                             "a whole number (GET /products lists them)"},
        {"{\"product\": 3}", "qty: missing; expected a whole number 1..99"},
        {"{\"product\": 3, \"qty\": 0}",
         "qty: out of range or not a whole number; expected a whole number 1..99"},
        {"{\"product\": 3, \"qty\": 100}",
         "qty: out of range or not a whole number; expected a whole number 1..99"},
        {"{\"product\": 3, \"qty\": 1.5}",
         "qty: out of range or not a whole number; expected a whole number 1..99"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(gd_cart_parse_add(bad[i].body, strlen(bad[i].body), &p, &q, err, sizeof err),
                     GD_EINVAL, "%s", bad[i].body);
        cr_assert_str_eq(err, bad[i].want);
    }
    const char *garbage = "{\"product\": ";
    cr_assert_eq(gd_cart_parse_add(garbage, strlen(garbage), &p, &q, err, sizeof err), GD_EINVAL);
    cr_assert(strstr(err, "body: not JSON (line 1 column") == err, "%s", err);
}

Test(cart, profile_updates_are_checked)
{
    json_t *s = gd_sess_new();
    char err[256];
    const char *ok = "{\"name\": \"Ann Lee\", \"email\": \"ann@example.com\"}";
    cr_assert_eq(gd_profile_update(s, ok, strlen(ok), err, sizeof err), 0, "%s", err);
    char *d = dump(gd_sess_profile(s));
    cr_assert_str_eq(d, "{\"name\":\"Ann Lee\",\"email\":\"ann@example.com\"}");
    free(d);
    const char *bad[] = {
        "{}",
        "{\"age\": 3}",
        "{\"name\": \"\"}",
        "{\"name\": 7}",
        "{\"name\": \"a\\u0007b\"}",
        "{\"email\": \"nobody\"}",
        "{\"email\": \"a@b@c\"}",
        "{\"email\": \"@b\"}",
        "{\"name\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        cr_assert_eq(gd_profile_update(s, bad[i], strlen(bad[i]), err, sizeof err), GD_EINVAL, "%s",
                     bad[i]);
        cr_assert_gt(strlen(err), 10, "a message for %s", bad[i]);
    }
    d = dump(gd_sess_profile(s));
    cr_assert_str_eq(d, "{\"name\":\"Ann Lee\",\"email\":\"ann@example.com\"}", "unchanged");
    free(d);
    json_decref(s);
}

Test(cart, a_session_from_outside_is_checked_whole, .init = setup)
{
    char err[160];
    json_t *s = gd_sess_new();
    cr_assert_eq(gd_sess_check(s, &cat, err, sizeof err), 0, "%s", err);
    json_decref(s);
    struct {
        const char *text, *want;
    } bad[] = {
        {"[]", "session: an object {cart, profile, orders}"},
        {"{\"cart\":[],\"profile\":{\"name\":\"\",\"email\":\"\"},\"orders\":[],\"admin\":true}",
         "session: an object {cart, profile, orders}"},
        {"{\"cart\":[{\"product\":999,\"qty\":1,\"price_cents\":1}],\"profile\":{\"name\":\"\","
         "\"email\":\"\"},\"orders\":[]}",
         "cart[0].product: a product id 1..200"},
        {"{\"cart\":[{\"product\":2,\"qty\":1,\"price_cents\":1},{\"product\":2,\"qty\":1,"
         "\"price_cents\":1}],\"profile\":{\"name\":\"\",\"email\":\"\"},\"orders\":[]}",
         "cart[1].product: product 2 twice"},
        {"{\"cart\":[{\"product\":2,\"qty\":500,\"price_cents\":1}],\"profile\":{\"name\":\"\","
         "\"email\":\"\"},\"orders\":[]}",
         "cart[0].qty: 1..99"},
        {"{\"cart\":[{\"product\":2,\"qty\":5,\"price_cents\":-1}],\"profile\":{\"name\":\"\","
         "\"email\":\"\"},\"orders\":[]}",
         "cart[0].price_cents: 0..100000000"},
        {"{\"cart\":[],\"profile\":{\"name\":3,\"email\":\"\"},\"orders\":[]}",
         "profile: {name, email}, strings of at most 64 and 254 bytes"},
        {"{\"cart\":[],\"profile\":{\"name\":\"\",\"email\":\"\"},\"orders\":[{\"order_id\":\"\","
         "\"items\":[],\"total_cents\":0}]}",
         "orders[0]: {order_id, items, total_cents}, an id of 1..40 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = parse(bad[i].text);
        cr_assert_eq(gd_sess_check(s, &cat, err, sizeof err), GD_EINVAL, "%s", bad[i].text);
        cr_assert_str_eq(err, bad[i].want);
        json_decref(s);
    }
}
