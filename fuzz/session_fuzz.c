/* libFuzzer target for what a shopper sends the clothes service and what it reads back
 * from a session store: every input is a session cookie's value (src/services/
 * session_cookie.c), a session document from a cookie or Redis (src/services/cart.c's
 * check, then the shop's operations on it), the body of POST /cart/items and of
 * PUT /profile. A refusal must say why and change nothing; what is taken stays within
 * its bounds, and a checked session stays valid through every operation. Build and run
 * with fuzz/run session. */
#include "core/err.h"
#include "services/cart.h"
#include "services/catalog.h"
#include "services/session_cookie.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "session_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const unsigned char KEY[32] = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";
static gd_catalog cat;
static int ready;

static void still_valid(const json_t *s)
{
    char err[160];
    char *t = json_dumps(s, JSON_COMPACT);
    json_t *again = json_loads(t, 0, NULL);
    CHECK(again && gd_sess_check(again, &cat, err, sizeof err) == 0);
    json_decref(again);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        gd_catalog_make(&cat, "fuzz");
        ready = 1;
    }
    const char *in = (const char *)data;
    /* a cookie value: refused with a reason, or its payload */
    static char out[GD_SCOOKIE_MAX + 1], sealed[GD_SCOOKIE_MAX + 1];
    enum gd_scookie_why why = GD_SCOOKIE_OK;
    int n = gd_scookie_open(KEY, sizeof KEY, in, size, out, sizeof out, &why);
    CHECK(n >= 0 ? why == GD_SCOOKIE_OK && (size_t)n < sizeof out
                 : n == GD_EINVAL && why != GD_SCOOKIE_OK);
    /* sealed, any text opens again to itself */
    int m = gd_scookie_seal(KEY, sizeof KEY, in, size, sealed, sizeof sealed);
    if (m >= 0) {
        CHECK(gd_scookie_open(KEY, sizeof KEY, sealed, (size_t)m, out, sizeof out, &why) ==
              (int)size);
        CHECK(why == GD_SCOOKIE_OK && !memcmp(out, in, size));
    } else {
        CHECK(m == GD_ETOOBIG);
    }
    /* a session document from outside: checked, then every operation keeps it valid */
    char err[256];
    json_t *s = json_loadb(in, size, JSON_REJECT_DUPLICATES, NULL);
    if (s && gd_sess_check(s, &cat, err, sizeof err) == 0) {
        gd_cart_add(s, &cat.p[size % GD_CATALOG_N], 1 + (int)(size % GD_CART_QTY_MAX), err,
                    sizeof err);
        still_valid(s);
        json_t *o = NULL;
        if (gd_cart_checkout(s, "o-fuzz", &o) == 0) json_decref(o);
        still_valid(s);
        gd_cart_remove(s, 1);
        json_t *v = gd_cart_view(s);
        CHECK(json_integer_value(json_object_get(v, "total_cents")) >= 0);
        json_decref(v);
        still_valid(s);
    } else if (s) {
        CHECK(err[0]);
    }
    json_decref(s);
    /* the bodies of POST /cart/items and PUT /profile */
    long long product;
    int qty = 0;
    if (gd_cart_parse_add(in, size, &product, &qty, err, sizeof err) == 0)
        CHECK(qty >= 1 && qty <= GD_CART_QTY_MAX);
    else
        CHECK(err[0]);
    s = gd_sess_new();
    err[0] = 0;
    if (gd_profile_update(s, in, size, err, sizeof err) < 0) {
        CHECK(err[0]);
        char *t = json_dumps(gd_sess_profile(s), JSON_COMPACT);
        CHECK(!strcmp(t, "{\"name\":\"\",\"email\":\"\"}"));
        free(t);
    }
    still_valid(s);
    json_decref(s);
    return 0;
}
