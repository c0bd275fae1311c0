/* The shop's cache-aside, its pure part (see shop_cache.h): keys, the TTL in wall
 * seconds, the keys a checkout invalidates. */
#include "services/shop_cache.h"
#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *gd_shopcache_result_name(enum gd_shopcache_result r)
{
    return r == GD_SHOPCACHE_HIT ? "hit" : r == GD_SHOPCACHE_MISS ? "miss" : "error";
}

int gd_shopcache_mode_parse(const char *s, int *on)
{
    if (s && !strcmp(s, "none")) {
        *on = 0;
        return 0;
    }
    if (s && !strcmp(s, "redis")) {
        *on = 1;
        return 0;
    }
    return GD_EINVAL;
}

int gd_shopcache_key(long long id, char *out, size_t n)
{
    if (id < 0) return GD_EINVAL;
    int w =
        id ? snprintf(out, n, "gd:product:%lld", id) : snprintf(out, n, "%s", GD_SHOPCACHE_CATALOG);
    return w < 0 || (size_t)w >= n ? GD_EINVAL : 0;
}

uint64_t gd_shopcache_ttl_s(double game_s, double speed)
{
    if (!(speed > 0)) speed = 1;
    double s = game_s / speed;
    if (!(s >= 1)) return 1; /* also NaN */
    return (uint64_t)llround(s);
}

int gd_shopcache_invalidation(const json_t *order, char (*keys)[GD_SHOPCACHE_KEY_MAX], int max)
{
    const json_t *items = json_object_get(order, "items");
    if (!json_is_array(items)) return GD_EINVAL;
    if (max < 1) return GD_ETOOBIG;
    int n = 0;
    gd_shopcache_key(0, keys[n++], GD_SHOPCACHE_KEY_MAX);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        const json_t *p = json_object_get(it, "product");
        if (!json_is_integer(p) || json_integer_value(p) < 1) return GD_EINVAL;
        char k[GD_SHOPCACHE_KEY_MAX];
        if (gd_shopcache_key(json_integer_value(p), k, sizeof k) < 0) return GD_EINVAL;
        int seen = 0;
        for (int j = 1; j < n && !seen; j++) seen = !strcmp(keys[j], k);
        if (seen) continue;
        if (n >= max) return GD_ETOOBIG;
        memcpy(keys[n++], k, sizeof k);
    }
    return n;
}
