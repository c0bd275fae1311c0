/* The session document of MyClothes.com and the shop's operations on it (see cart.h). */
#include "services/cart.h"
#include "core/err.h"

#include <stdio.h>
#include <string.h>

#define BAD(...) (snprintf(err, n, __VA_ARGS__), GD_EINVAL)
#define PRICE_MAX 100000000LL /* cents of one line's price: a bound for outside data */

json_t *gd_sess_new(void)
{
    return json_pack("{s:[],s:{s:s,s:s},s:[]}", "cart", "profile", "name", "", "email", "",
                     "orders");
}

json_t *gd_sess_profile(const json_t *s)
{
    return json_object_get(s, "profile");
}

json_t *gd_sess_orders(const json_t *s)
{
    return json_object_get(s, "orders");
}

static json_t *cart_of(const json_t *s)
{
    return json_object_get(s, "cart");
}

/* A whole number in lo..hi. */
static int int_in(const json_t *v, long long lo, long long hi, long long *out)
{
    if (!json_is_integer(v)) return 0;
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return 0;
    if (out) *out = x;
    return 1;
}

/* Only the keys in allowed (NULL-terminated); the first other one in *bad. */
static int keys_only(const json_t *o, const char *const *allowed, const char **bad)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (!strcmp(k, allowed[i])) ok = 1;
        if (!ok) {
            *bad = k;
            return 0;
        }
    }
    return 1;
}

/* No control characters (the profile is shown back in pages and logs). */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* A list of cart lines, as the cart or an order holds them. */
static int check_lines(const json_t *l, const gd_catalog *c, const char *where, char *err, size_t n)
{
    static const char *const keys[] = {"product", "qty", "price_cents", NULL};
    if (!json_is_array(l) || json_array_size(l) > GD_CATALOG_N)
        return BAD("%s: a list of at most %d lines", where, GD_CATALOG_N);
    char seen[GD_CATALOG_N + 1] = {0};
    size_t i;
    json_t *x;
    json_array_foreach(l, i, x)
    {
        const char *bad = NULL;
        long long id;
        if (!json_is_object(x) || !keys_only(x, keys, &bad))
            return BAD("%s[%zu]: a line {product, qty, price_cents}", where, i);
        if (!int_in(json_object_get(x, "product"), 1, GD_CATALOG_N, &id) || !gd_catalog_find(c, id))
            return BAD("%s[%zu].product: a product id 1..%d", where, i, GD_CATALOG_N);
        if (seen[id]++) return BAD("%s[%zu].product: product %lld twice", where, i, id);
        if (!int_in(json_object_get(x, "qty"), 1, GD_CART_QTY_MAX, NULL))
            return BAD("%s[%zu].qty: 1..%d", where, i, GD_CART_QTY_MAX);
        if (!int_in(json_object_get(x, "price_cents"), 0, PRICE_MAX, NULL))
            return BAD("%s[%zu].price_cents: 0..%lld", where, i, PRICE_MAX);
    }
    return 0;
}

int gd_sess_check(const json_t *s, const gd_catalog *c, char *err, size_t n)
{
    static const char *const top[] = {"cart", "profile", "orders", NULL};
    static const char *const prof[] = {"name", "email", NULL};
    static const char *const ord[] = {"order_id", "items", "total_cents", NULL};
    const char *bad = NULL;
    if (!json_is_object(s) || !keys_only(s, top, &bad))
        return BAD("session: an object {cart, profile, orders}");
    int rc = check_lines(cart_of(s), c, "cart", err, n);
    if (rc < 0) return rc;
    const json_t *p = gd_sess_profile(s);
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *email = json_string_value(json_object_get(p, "email"));
    if (!json_is_object(p) || !keys_only(p, prof, &bad) || !name || !email ||
        strlen(name) > GD_NAME_MAX || strlen(email) > GD_EMAIL_MAX || !printable(name) ||
        !printable(email))
        return BAD("profile: {name, email}, strings of at most %d and %d bytes", GD_NAME_MAX,
                   GD_EMAIL_MAX);
    const json_t *o = gd_sess_orders(s);
    if (!json_is_array(o) || json_array_size(o) > GD_ORDERS_MAX)
        return BAD("orders: a list of at most %d orders", GD_ORDERS_MAX);
    size_t i;
    json_t *x;
    json_array_foreach(o, i, x)
    {
        const char *id = json_string_value(json_object_get(x, "order_id"));
        if (!json_is_object(x) || !keys_only(x, ord, &bad) || !id || !*id ||
            strlen(id) > GD_ORDER_ID_MAX || !printable(id))
            return BAD("orders[%zu]: {order_id, items, total_cents}, an id of 1..%d bytes", i,
                       GD_ORDER_ID_MAX);
        char where[32];
        snprintf(where, sizeof where, "orders[%zu].items", i);
        if ((rc = check_lines(json_object_get(x, "items"), c, where, err, n)) < 0) return rc;
        if (!int_in(json_object_get(x, "total_cents"), 0, PRICE_MAX * GD_CATALOG_N * 100, NULL))
            return BAD("orders[%zu].total_cents: a whole number of cents", i);
    }
    return 0;
}

int gd_cart_parse_add(const char *body, size_t len, long long *product, int *qty, char *err,
                      size_t n)
{
    static const char *const keys[] = {"product", "qty", NULL};
    json_error_t je;
    json_t *b = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    int rc = 0;
    const char *bad = NULL;
    long long q;
    if (!b) {
        rc =
            len ? BAD("body: not JSON (line %d column %d: %s); expected {\"product\": ID, "
                      "\"qty\": 1..%d}",
                      je.line, je.column, je.text, GD_CART_QTY_MAX)
                : BAD("body: missing; expected {\"product\": ID, \"qty\": 1..%d}", GD_CART_QTY_MAX);
    } else if (!json_is_object(b)) {
        rc = BAD("body: expected an object {\"product\": ID, \"qty\": 1..%d}", GD_CART_QTY_MAX);
    } else if (!keys_only(b, keys, &bad)) {
        rc = BAD("body: unknown key \"%.40s\" (allowed: product, qty)", bad);
    } else if (!json_is_integer(json_object_get(b, "product"))) {
        rc = BAD("product: %s; expected a product id, a whole number (GET /products lists "
                 "them)",
                 json_object_get(b, "product") ? "not a whole number" : "missing");
    } else if (!int_in(json_object_get(b, "qty"), 1, GD_CART_QTY_MAX, &q)) {
        rc = BAD("qty: %s; expected a whole number 1..%d",
                 json_object_get(b, "qty") ? "out of range or not a whole number" : "missing",
                 GD_CART_QTY_MAX);
    } else {
        *product = json_integer_value(json_object_get(b, "product"));
        *qty = (int)q;
    }
    json_decref(b);
    return rc;
}

/* The cart line of product id, and its index; NULL when it has none. */
static json_t *line_of(const json_t *cart, long long id, size_t *at)
{
    size_t i;
    json_t *x;
    json_array_foreach(cart, i, x)
    {
        if (json_integer_value(json_object_get(x, "product")) == id) {
            if (at) *at = i;
            return x;
        }
    }
    return NULL;
}

int gd_cart_add(json_t *s, const gd_product *p, int qty, char *err, size_t n)
{
    json_t *cart = cart_of(s);
    json_t *line = line_of(cart, p->id, NULL);
    long long had = line ? json_integer_value(json_object_get(line, "qty")) : 0;
    long long want = had + qty;
    if (qty < 1 || want > GD_CART_QTY_MAX) {
        snprintf(err, n,
                 "product %d: the cart would hold %lld of it; at most %d of one product "
                 "(it holds %lld)",
                 p->id, want, GD_CART_QTY_MAX, had);
        return GD_EFULL;
    }
    if (want > p->stock) {
        snprintf(err, n, "product %d: only %d in stock (the cart would hold %lld)", p->id, p->stock,
                 want);
        return GD_EFULL;
    }
    if (line) {
        json_object_set_new(line, "qty", json_integer(want));
        json_object_set_new(line, "price_cents", json_integer(p->price_cents));
    } else {
        json_array_append_new(cart, json_pack("{s:i,s:I,s:i}", "product", p->id, "qty",
                                              (json_int_t)want, "price_cents", p->price_cents));
    }
    return 0;
}

int gd_cart_remove(json_t *s, long long product)
{
    size_t at;
    if (!line_of(cart_of(s), product, &at)) return GD_ENOENT;
    json_array_remove(cart_of(s), at);
    return 0;
}

static long long lines_total(const json_t *lines)
{
    long long t = 0;
    size_t i;
    json_t *x;
    json_array_foreach(lines, i, x)
    {
        t += json_integer_value(json_object_get(x, "qty")) *
             json_integer_value(json_object_get(x, "price_cents"));
    }
    return t;
}

long long gd_cart_total(const json_t *s)
{
    return lines_total(cart_of(s));
}

json_t *gd_cart_view(const json_t *s)
{
    return json_pack("{s:O,s:I}", "items", cart_of(s), "total_cents", (json_int_t)gd_cart_total(s));
}

int gd_cart_checkout(json_t *s, const char *order_id, json_t **order)
{
    json_t *cart = cart_of(s);
    if (json_array_size(cart) == 0) return GD_ENOENT;
    json_t *o = json_pack("{s:s,s:O,s:I}", "order_id", order_id, "items", cart, "total_cents",
                          (json_int_t)lines_total(cart));
    json_t *orders = gd_sess_orders(s);
    json_array_append(orders, o);
    while (json_array_size(orders) > GD_ORDERS_MAX) json_array_remove(orders, 0);
    json_object_set_new(s, "cart", json_array());
    *order = o;
    return 0;
}

int gd_profile_update(json_t *s, const char *body, size_t len, char *err, size_t n)
{
    static const char *const keys[] = {"name", "email", NULL};
    json_error_t je;
    json_t *b = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    const char *bad = NULL;
    int rc = 0;
    if (!b) {
        rc = BAD("body: %s; expected {\"name\": \"...\", \"email\": \"...\"}",
                 len ? "not JSON" : "missing");
        goto done;
    }
    if (!json_is_object(b) || json_object_size(b) == 0) {
        rc = BAD("body: expected an object with name, email or both");
        goto done;
    }
    if (!keys_only(b, keys, &bad)) {
        rc = BAD("body: unknown key \"%.40s\" (allowed: name, email)", bad);
        goto done;
    }
    json_t *nm = json_object_get(b, "name"), *em = json_object_get(b, "email");
    if (nm) {
        const char *v = json_string_value(nm);
        if (!v || !*v || strlen(v) > GD_NAME_MAX || !printable(v)) {
            rc = BAD("name: a string of 1..%d bytes without control characters", GD_NAME_MAX);
            goto done;
        }
    }
    if (em) {
        const char *v = json_string_value(em);
        const char *at = v ? strchr(v, '@') : NULL;
        if (!v || strlen(v) < 3 || strlen(v) > GD_EMAIL_MAX || !printable(v) || !at || at == v ||
            !at[1] || strchr(at + 1, '@') || strchr(v, ' ')) {
            rc = BAD("email: an address like name@example.com (3..%d bytes, one '@', no "
                     "spaces)",
                     GD_EMAIL_MAX);
            goto done;
        }
    }
    json_t *p = gd_sess_profile(s);
    if (nm) json_object_set(p, "name", nm);
    if (em) json_object_set(p, "email", em);
done:
    json_decref(b);
    return rc;
}
