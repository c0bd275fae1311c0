/* A MyClothes.com session as a JSON document, and what the shop does to it: the cart
 * (add, remove, view), the checkout (an order from the cart), the profile. Pure: the
 * session modes (memory, cookie, redis) store and load the document; this file never
 * does I/O, so that the cart logic is the same in every mode and testable alone.
 *
 *   {"cart":    [{"product": ID, "qty": 1..99, "price_cents": N}],
 *    "profile": {"name": "...", "email": "..."},
 *    "orders":  [{"order_id": "o-...", "items": [lines], "total_cents": N}]} */
#ifndef GD_SERVICES_CART_H
#define GD_SERVICES_CART_H

#include "services/catalog.h"

#include <jansson.h>
#include <stddef.h>

#define GD_CART_QTY_MAX 99 /* of one product in a cart */
#define GD_ORDERS_MAX 20   /* orders a session keeps (the oldest go) */
#define GD_NAME_MAX 64     /* bytes of profile.name */
#define GD_EMAIL_MAX 254   /* bytes of profile.email */
#define GD_ORDER_ID_MAX 40 /* bytes of an order id */

/** A new empty session (empty cart, empty profile, no order). */
json_t *gd_sess_new(void);

/** Checks a session that comes from outside the process (a cookie, Redis): the shape
 *  above, products of catalogue c, no product twice in a list, the bounds above. 0, or
 *  GD_EINVAL with err saying what is wrong ("cart[2].qty: ..."). */
int gd_sess_check(const json_t *s, const gd_catalog *c, char *err, size_t n);

/** Parses the body of POST /cart/items, {"product": ID, "qty": 1..99}: 0 with *product
 *  and *qty set, or GD_EINVAL with err saying what is wrong and what is allowed. The
 *  product is not looked up (an unknown one is the caller's 404). */
int gd_cart_parse_add(const char *body, size_t len, long long *product, int *qty, char *err,
                      size_t n);

/** Adds qty of p to the cart (a new line, or more on its line, at p's price now). 0, or
 *  GD_EFULL with err when the line would hold more than GD_CART_QTY_MAX or p's stock
 *  (the cart is then unchanged). */
int gd_cart_add(json_t *s, const gd_product *p, int qty, char *err, size_t n);

/** Removes product's line. 0, or GD_ENOENT when it is not in the cart. */
int gd_cart_remove(json_t *s, long long product);

/** The sum of qty x price_cents over the cart's lines. */
long long gd_cart_total(const json_t *s);

/** {"items": [lines], "total_cents": N}, a new reference. */
json_t *gd_cart_view(const json_t *s);

/** Turns the cart into an order named order_id: *order gets {"order_id", "items",
 *  "total_cents"} (a new reference), the order joins the session's orders (the oldest
 *  beyond GD_ORDERS_MAX go) and the cart is emptied. GD_ENOENT for an empty cart
 *  (nothing changes). */
int gd_cart_checkout(json_t *s, const char *order_id, json_t **order);

/** Applies the body of PUT /profile, {"name"?, "email"?} (at least one; a name of
 *  1..GD_NAME_MAX bytes, an email of 3..GD_EMAIL_MAX with one '@', no control
 *  characters). 0, or GD_EINVAL with err, the session unchanged. */
int gd_profile_update(json_t *s, const char *body, size_t len, char *err, size_t n);

/** The session's profile object and orders list (borrowed references). */
json_t *gd_sess_profile(const json_t *s);
json_t *gd_sess_orders(const json_t *s);

#endif
