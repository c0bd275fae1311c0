/* The shop's cache-aside, its pure part (src/services/shop_cache.c): keys, the TTL in
 * wall seconds, the keys a checkout invalidates. */
#include "core/err.h"
#include "services/shop_cache.h"

#include <criterion/criterion.h>
#include <string.h>

Test(shop_cache, keys_name_a_product_or_the_catalogue)
{
    char k[GD_SHOPCACHE_KEY_MAX];
    cr_assert_eq(gd_shopcache_key(17, k, sizeof k), 0);
    cr_assert_str_eq(k, "gd:product:17");
    cr_assert_eq(gd_shopcache_key(0, k, sizeof k), 0);
    cr_assert_str_eq(k, "gd:products");
    cr_assert_eq(gd_shopcache_key(-1, k, sizeof k), GD_EINVAL);
    char small[8];
    cr_assert_eq(gd_shopcache_key(200, small, sizeof small), GD_EINVAL, "does not fit");
}

Test(shop_cache, ttl_is_game_seconds_over_speed_at_least_one)
{
    cr_assert_eq(gd_shopcache_ttl_s(300, 60), 5);
    cr_assert_eq(gd_shopcache_ttl_s(300, 1), 300);
    cr_assert_eq(gd_shopcache_ttl_s(90, 60), 2, "1.5 rounds to 2");
    cr_assert_eq(gd_shopcache_ttl_s(80, 60), 1, "1.33 rounds to 1");
    cr_assert_eq(gd_shopcache_ttl_s(10, 60), 1, "never below 1 s");
    cr_assert_eq(gd_shopcache_ttl_s(86400, 0), 86400, "no speed: 1");
}

Test(shop_cache, modes)
{
    int on = 7;
    cr_assert_eq(gd_shopcache_mode_parse("redis", &on), 0);
    cr_assert_eq(on, 1);
    cr_assert_eq(gd_shopcache_mode_parse("none", &on), 0);
    cr_assert_eq(on, 0);
    on = 7;
    cr_assert_eq(gd_shopcache_mode_parse("memcached", &on), GD_EINVAL);
    cr_assert_eq(gd_shopcache_mode_parse(NULL, &on), GD_EINVAL);
    cr_assert_eq(on, 7, "unchanged on a bad mode");
}

Test(shop_cache, a_checkout_invalidates_the_catalogue_and_each_product_once)
{
    json_t *order = json_loads("{\"order_id\":\"o-1\",\"items\":[{\"product\":3,\"qty\":1},"
                               "{\"product\":12,\"qty\":2},{\"product\":3,\"qty\":4}]}",
                               0, NULL);
    char keys[8][GD_SHOPCACHE_KEY_MAX];
    cr_assert_eq(gd_shopcache_invalidation(order, keys, 8), 3);
    cr_assert_str_eq(keys[0], "gd:products");
    cr_assert_str_eq(keys[1], "gd:product:3");
    cr_assert_str_eq(keys[2], "gd:product:12");
    cr_assert_eq(gd_shopcache_invalidation(order, keys, 2), GD_ETOOBIG);
    json_decref(order);
}

Test(shop_cache, a_bad_order_invalidates_nothing)
{
    char keys[4][GD_SHOPCACHE_KEY_MAX];
    json_t *o = json_loads("{\"items\":[{\"product\":\"3\"}]}", 0, NULL);
    cr_assert_eq(gd_shopcache_invalidation(o, keys, 4), GD_EINVAL);
    json_decref(o);
    o = json_loads("{\"items\":[{\"product\":0}]}", 0, NULL);
    cr_assert_eq(gd_shopcache_invalidation(o, keys, 4), GD_EINVAL);
    json_decref(o);
    o = json_loads("{}", 0, NULL);
    cr_assert_eq(gd_shopcache_invalidation(o, keys, 4), GD_EINVAL);
    json_decref(o);
    o = json_loads("{\"items\":[]}", 0, NULL);
    cr_assert_eq(gd_shopcache_invalidation(o, keys, 4), 1, "the catalogue alone");
    json_decref(o);
}
