/* One MyClothes.com shopper, without I/O: its cookie jar, its visit (the steps it takes
 * and the requests they make) and what it expects its cart and orders to hold, and the
 * check of every answer against what it did. loadgen/shoppers.c drives many of them on
 * the loop; this file only decides, so that it is testable alone. */
#ifndef GD_LOADGEN_SHOPPER_H
#define GD_LOADGEN_SHOPPER_H

#include "core/buf.h"
#include "core/rand.h"
#include "model/scenario.h"
#include "services/catalog.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the cookie jar ---------------------------------------------------------------- */

#define GD_JAR_COOKIES 8      /* cookies a jar holds at most */
#define GD_JAR_BYTES 8192     /* bytes of their names and values together, at most */
#define GD_JAR_NAME_MAX 64    /* bytes of one cookie's name */
#define GD_JAR_VALUE_MAX 5000 /* bytes of one cookie's value (a cookie session is <= 4 KB) */

typedef struct gd_jar_cookie {
    char *name, *value;  /* owned */
    uint64_t expires_ns; /* monotonic wall time it goes (0: with the browser, i.e. the visit) */
} gd_jar_cookie;

typedef struct gd_jar {
    gd_jar_cookie c[GD_JAR_COOKIES];
    int n;
    size_t bytes;
    uint64_t refused; /* Set-Cookie headers refused: malformed or over the bounds */
} gd_jar;

/** Takes one Set-Cookie header's value as a browser does: name=value, then attributes
 *  of which only Max-Age counts (wall seconds; 0 or less deletes the cookie; an edge's
 *  stickiness cookie carries one). A cookie of the same name is replaced. 0, or
 *  GD_EINVAL (no name=value) or GD_EFULL (over a bound above), the jar unchanged. */
int gd_jar_set(gd_jar *j, const char *v, size_t len, uint64_t now_ns);
/** The value of cookie name (NUL-terminated, owned by the jar), NULL when absent. */
const char *gd_jar_get(const gd_jar *j, const char *name);
/** Appends "Cookie: a=1; b=2\r\n" with every cookie not expired at now_ns (expired ones
 *  are dropped); nothing when none is left. 0, or the gd_buf error. */
int gd_jar_header(gd_jar *j, uint64_t now_ns, gd_buf *b);
/** Frees every cookie. */
void gd_jar_clear(gd_jar *j);

/* ---- the catalogue's prices, as the shoppers see them ------------------------------ */

/* The price a shopper expects for product at game time t, in cents; -1 for a product
 * that does not exist. The default is the catalogue's fixed price; when prices change
 * while a game runs (the managed database), a scenario's price feed goes here, and a
 * page or cart that shows another price is a stale_price. */
typedef int (*gd_shop_price_fn)(void *ud, int product, double t);

typedef struct gd_shop_world {
    const gd_catalog *cat; /* names and ids of the products */
    gd_shop_price_fn price;
    void *price_ud;
} gd_shop_world;

/** The default price feed: ud is a gd_catalog, the price never changes. */
int gd_shop_catalog_price(void *ud, int product, double t);

/* ---- what a shopper expects its cart to hold --------------------------------------- */

#define GD_SHOP_ITEMS_MAX 20 /* products one visit adds, at most (shoppers.items_max) */
#define GD_SHOP_LINES_MAX 32 /* cart lines a shopper keeps track of */

/* A line of the cart as the shopper knows it: qty between lo and hi (they differ after
 * a change whose answer never came: it may or may not have been applied), at the price
 * the product had when the shopper added it. lo = hi = 0: not in the cart. */
typedef struct gd_shop_line {
    int product, lo, hi, price_cents;
} gd_shop_line;

typedef struct gd_shop_cart {
    gd_shop_line l[GD_SHOP_LINES_MAX];
    int n;
} gd_shop_cart;

/** The line of product, NULL when the cart has none (or it is full, for the adder). */
gd_shop_line *gd_shop_cart_line(gd_shop_cart *c, int product);
/** Expects qty more of product at price_cents. GD_EFULL when no line is left. */
int gd_shop_cart_expect_add(gd_shop_cart *c, int product, int qty, int price_cents);
/** Expects product's line gone. */
void gd_shop_cart_expect_remove(gd_shop_cart *c, int product);
/** After a change whose answer never came: every line may be as in before or as in c. */
void gd_shop_cart_widen(gd_shop_cart *c, const gd_shop_cart *before);
/** Expects an empty cart, or (uncertain) one that may still be as it was. */
void gd_shop_cart_expect_empty(gd_shop_cart *c, int uncertain);
/** Lines held for sure (lo > 0). */
int gd_shop_cart_held(const gd_shop_cart *c);

/* ---- one visit ---------------------------------------------------------------------- */

enum gd_shop_step {
    GD_STEP_CATALOGUE = 0, /* GET /products */
    GD_STEP_PROFILE,       /* PUT /profile */
    GD_STEP_PRODUCT,       /* GET /products/{id} */
    GD_STEP_ADD,           /* POST /cart/items */
    GD_STEP_CART,          /* GET /cart */
    GD_STEP_REMOVE,        /* DELETE /cart/items/{id} */
    GD_STEP_CHECKOUT,      /* POST /checkout */
    GD_STEP_ORDERS,        /* GET /orders */
    GD_STEP_DONE,
};

/** "catalogue", "profile", ... for logs and metrics. */
const char *gd_shop_step_name(enum gd_shop_step s);

#define GD_SHOP_ERRORS_MAX 2 /* failed pages after which a shopper gives up its visit */

typedef struct gd_shop_visit {
    uint64_t id;
    /* the plan, drawn when the shopper arrives */
    int nitems;
    int product[GD_SHOP_ITEMS_MAX], qty[GD_SHOP_ITEMS_MAX];
    int will_remove, will_checkout, has_profile;
    /* where it is */
    enum gd_shop_step step;
    int item;   /* the plan's item the PRODUCT and ADD steps are at */
    int target; /* the product of the request in flight (ADD, PRODUCT, REMOVE) */
    int errors; /* failed pages so far */
    /* what it expects */
    gd_shop_cart cart, before; /* now, and before the change in flight */
    int held_before;           /* lines held for sure before the request in flight */
    int profile_set;           /* its profile is in its session */
    int session_held;          /* its session holds something it put there */
    char name[32], email[48];
    char order_id[48]; /* its order, once checked out */
    long long order_total;
    int checked_out;
} gd_shop_visit;

/** Draws a visit for shopper id: items_min..items_max distinct products (uniform over
 *  the catalogue) of 1..qty_max each, and whether it removes one, checks out and has a
 *  profile (the shares of sc->shoppers). The first step is the catalogue. */
void gd_shop_visit_plan(gd_shop_visit *v, const gd_scenario *sc, gd_rand *r, uint64_t id);

/* A request as the visit's current step makes it. */
typedef struct gd_shop_req {
    const char *method;
    char path[64];
    char body[160]; /* "" for none */
    int want;       /* the status a right answer has (200, 201 for a checkout) */
} gd_shop_req;

/** The request of the current step, and what the shopper expects from it (its cart
 *  after the change). r picks the line a REMOVE takes out; t is the game time (the
 *  price of what it adds). */
void gd_shop_visit_request(gd_shop_visit *v, const gd_shop_world *w, gd_rand *r, double t,
                           gd_shop_req *out);

/* How the answer to one request is judged. */
typedef struct gd_shop_verdict {
    enum gd_outcome page; /* the page itself: ok, error, timeout or wrong */
    unsigned shop;        /* a bit (1u << gd_shop_outcome) for each shop outcome found */
    int session_lost;     /* a new session while the old one held something */
    char why[96];         /* what was wrong, for the log ("" when nothing was) */
} gd_shop_verdict;

/** Judges the answer to the current step and moves the visit on: transport is
 *  GD_OK_ANSWER when an answer came (status, new_session = "X-Session: new", body), or
 *  GD_ERROR / GD_TIMEOUT when none did in time. The cart is then set to what the answer
 *  showed (the shopper continues from what it sees), or widened when no answer told.
 *  The next step is chosen: see gd_shop_visit_next. */
gd_shop_verdict gd_shop_visit_answer(gd_shop_visit *v, const gd_shop_world *w, double t,
                                     enum gd_outcome transport, int status, int new_session,
                                     const char *body, size_t len);

/** Moves the visit to its next step after the current one: catalogue, profile (if it
 *  has one), a product page and an add per item, the cart, a removal (if planned and a
 *  line is held), the checkout (if planned and a line is held), its orders (if it has a
 *  profile and checked out), done. A shopper whose pages failed GD_SHOP_ERRORS_MAX
 *  times, or whose checkout failed, is done. */
enum gd_shop_step gd_shop_visit_next(gd_shop_visit *v);

#endif
