/* The shop's cache-aside (doc/clothes.md, "database mode"): the pure part of it. What a
 * product read is cached under in Redis, for how long in wall seconds, and which keys a
 * checkout must delete once its COMMIT is in. The requests that use them are in
 * services/clothes.c. */
#ifndef GD_SERVICES_SHOP_CACHE_H
#define GD_SERVICES_SHOP_CACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GD_SHOPCACHE_KEY_MAX 32            /* bytes of a key with its NUL */
#define GD_SHOPCACHE_DEFAULT_TTL_S 300     /* game seconds, when cache_ttl is absent */
#define GD_SHOPCACHE_TTL_MAX_S 86400       /* game seconds, the most cache_ttl allows */
#define GD_SHOPCACHE_CATALOG "gd:products" /* the key of GET /products */

/* Where a product read was answered from: counted in
 * gameday_shop_cache_requests_total{result}. */
enum gd_shopcache_result {
    GD_SHOPCACHE_HIT,   /* from Redis */
    GD_SHOPCACHE_MISS,  /* not in Redis: read from the database, then SET */
    GD_SHOPCACHE_ERROR, /* Redis down or failing: read from the database */
    GD_SHOPCACHE_NRESULTS,
};

/** "hit", "miss", "error". */
const char *gd_shopcache_result_name(enum gd_shopcache_result r);

/** The cache modes of GAMEDAY_CACHE: "none" (*on 0) or "redis" (*on 1); 0, or
 *  GD_EINVAL for another text (*on unchanged). */
int gd_shopcache_mode_parse(const char *s, int *on);

/** The key of product id (1..) into out: "gd:product:<id>"; id 0 is the catalogue,
 *  GD_SHOPCACHE_CATALOG. 0, or GD_EINVAL (a negative id, out too small). */
int gd_shopcache_key(long long id, char *out, size_t n);

/** The EX of a cached read: game_s (the launch template's cache_ttl) in wall seconds at
 *  the game's speed, rounded to the nearest second and at least 1 (Redis' EX counts
 *  whole seconds). A speed <= 0 counts as 1. */
uint64_t gd_shopcache_ttl_s(double game_s, double speed);

/** The keys a committed checkout makes stale: the catalogue's first, then each product
 *  of order's items ({"product": id, ...}) once, in the order they come. Writes at most
 *  max keys; returns how many, or GD_EINVAL (not an order with items of positive
 *  product ids), GD_ETOOBIG (more than max keys). */
int gd_shopcache_invalidation(const json_t *order, char (*keys)[GD_SHOPCACHE_KEY_MAX], int max);

#endif
