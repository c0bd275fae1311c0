/* libFuzzer target for what a shopper reads: the answers of a team's shop (which a team
 * may replace by a program of its own, so they are hostile input) and the Set-Cookie
 * headers that come with them. Every input is a run of answers, split at NUL bytes:
 * each one's first byte chooses its status, whether it came at all and whether it says
 * X-Session: new, the rest is its body and also a Set-Cookie value. The visit must end,
 * every verdict stay in range, the expected cart within its bounds, the jar within its
 * own. Build and run with fuzz/run shopper. */
#include "core/buf.h"
#include "core/mem.h"
#include "core/rand.h"
#include "loadgen/shopper.h"
#include "services/catalog.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "shopper_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static gd_catalog cat;
static gd_shop_world world;
static gd_scenario sc;
static int ready;

static void cart_ok(const gd_shop_cart *c)
{
    CHECK(c->n >= 0 && c->n <= GD_SHOP_LINES_MAX);
    for (int i = 0; i < c->n; i++) CHECK(c->l[i].lo >= 0 && c->l[i].lo <= c->l[i].hi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 201, 404, 409, 400, 413, 500, 502, 503, 504};
    if (!ready) {
        gd_catalog_make(&cat, "fuzz");
        world = (gd_shop_world){.cat = &cat, .price = gd_shop_catalog_price, .price_ud = &cat};
        sc.shoppers.items_min = 1;
        sc.shoppers.items_max = 4;
        sc.shoppers.qty_max = 3;
        sc.shoppers.remove_share = 0.5;
        sc.shoppers.checkout_share = 1;
        sc.shoppers.profile_share = 1;
        ready = 1;
    }
    gd_rand r;
    gd_rand_seed(&r, size);
    gd_shop_visit v;
    gd_shop_visit_plan(&v, &sc, &r, 1);
    gd_jar jar = {0};
    gd_buf b;
    gd_buf_init(&b, 1 << 16);
    size_t off = 0;
    int steps = 0;
    while (off < size && v.step != GD_STEP_DONE) {
        const uint8_t *end = memchr(data + off, 0, size - off);
        size_t len = end ? (size_t)(end - (data + off)) : size - off;
        uint8_t head = len ? data[off] : 0;
        const char *body = (const char *)data + off + (len ? 1 : 0);
        size_t blen = len ? len - 1 : 0;
        gd_shop_req q;
        gd_shop_visit_request(&v, &world, &r, 0, &q);
        CHECK(q.method && q.path[0] == '/');
        enum gd_outcome transport = (head & 0x30) == 0x30   ? GD_TIMEOUT
                                    : (head & 0x30) == 0x20 ? GD_ERROR
                                                            : GD_OK_ANSWER;
        gd_shop_verdict d = gd_shop_visit_answer(
            &v, &world, 0, transport, statuses[(head & 0x0f) % 10], (head & 0x40) != 0, body, blen);
        CHECK(d.page >= GD_OK_ANSWER && d.page <= GD_WRONG);
        CHECK(d.shop < (1u << GD_SHOP_NOUT));
        CHECK(strlen(d.why) < sizeof d.why);
        cart_ok(&v.cart);
        gd_jar_set(&jar, body, blen, (uint64_t)steps * 1000000000ull);
        CHECK(jar.n <= GD_JAR_COOKIES && jar.bytes <= GD_JAR_BYTES);
        gd_buf_reset(&b);
        CHECK(gd_jar_header(&jar, (uint64_t)steps * 1000000000ull, &b) == 0);
        CHECK(++steps <= 2 * GD_SHOP_ITEMS_MAX + 16);
        off += len + 1;
    }
    gd_buf_free(&b);
    gd_jar_clear(&jar);
    CHECK(jar.n == 0 && jar.bytes == 0);
    return 0;
}
