/* MyClothes.com, the stateful built-in service of an instance (`gameday instance
 * clothes`): a shop over HTTP/JSON with a catalogue, product pages, a cart, a checkout,
 * orders and a profile, on the machine of services/slots.h (slots, queue, faults,
 * security groups, /health, /metrics). Its sessions live where the architecture puts
 * them (enum gd_sess_mode): in the process, in a signed cookie, or in Redis. The API,
 * the modes and their failures are in doc/clothes.md. */
#ifndef GD_SERVICES_CLOTHES_H
#define GD_SERVICES_CLOTHES_H

#include "services/session_redis.h"
#include "services/shop_db.h"
#include "services/slots.h"

#include <stddef.h>
#include <uv.h>

enum gd_sess_mode {
    GD_SESS_MEMORY, /* a sid cookie, the session in this process (LRU-bounded) */
    GD_SESS_COOKIE, /* the session itself in a signed cookie */
    GD_SESS_REDIS,  /* a sid cookie, the session in Redis */
};

/** "memory", "cookie", "redis". */
const char *gd_sess_mode_name(enum gd_sess_mode m);
/** The mode named s; GD_EINVAL for another name. */
int gd_sess_mode_parse(const char *s, enum gd_sess_mode *out);

typedef struct gd_clothes_conf {
    const char *id;   /* instance id, sent back in X-Instance-Id */
    const char *salt; /* the catalogue's (services/catalog.h) */
    int slots, queue;
    double service_ms; /* game ms of a product page; the other routes take shares of it */
    enum gd_sess_mode sessions;
    /* cookie: the HMAC key (every instance of a team has the same) */
    unsigned char key[64];
    size_t keylen;
    /* memory: at most this many sessions and bytes of their text (0: 10000, 64 MiB) */
    size_t max_sessions, max_session_bytes;
    /* redis: where, and the sessions' time to live in game seconds (0: 3600) */
    gd_sredis_conf redis;
    double ttl_s;
    /* database mode: the catalogue and orders in PostgreSQL (db.url NULL: in memory) */
    gd_shopdb_conf db;
    /* database mode: 1 for a cache-aside of the product reads in the Redis of `redis`
     * (services/shop_cache.h), and its entries' time to live in game seconds (0: 300) */
    int cache;
    double cache_ttl_s;
} gd_clothes_conf;

typedef struct gd_clothes gd_clothes;

/** Starts the shop on ip:port on loop (and, in redis mode or with the cache, the
 *  connection to Redis: one, shared by both). 0, or a gd_err (GD_EEXIST: the address is
 *  in use; GD_EINVAL: a cookie mode without a key, a redis mode or a cache without an
 *  address, a cache without a database). */
int gd_clothes_start(uv_loop_t *loop, const gd_clothes_conf *conf, const char *ip, int port,
                     gd_clothes **out);

/** The machine the shop runs on (its ACL, faults and metrics). */
gd_slots *gd_clothes_slots(gd_clothes *c);

/** The game milliseconds a route holds a slot, as a share of a product page's. */
#define GD_CLOTHES_SHARE_PRODUCTS 1.0 /* GET /products, GET /products/{id} */
#define GD_CLOTHES_SHARE_CART 0.5     /* GET /cart, POST /cart/items, DELETE /cart/items/{id} */
#define GD_CLOTHES_SHARE_CHECKOUT 2.0 /* POST /checkout */
#define GD_CLOTHES_SHARE_ORDERS 0.5   /* GET /orders */
#define GD_CLOTHES_SHARE_PROFILE 0.25 /* GET /profile, PUT /profile */

#endif
