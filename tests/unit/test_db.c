/* The managed database's pure pieces (src/model/db.c): classes, placement of nodes,
 * pg_hba.conf from the security groups' blocks, libpq conninfo, the spec's checks. */
#include "core/buf.h"
#include "model/db.h"
#include "model/schema.h"

#include <criterion/criterion.h>
#include <string.h>

Test(db, classes_have_prices_slots_and_connections)
{
    const gd_dbclass *c = gd_dbclass_find("db.t3.micro");
    cr_assert_not_null(c);
    cr_assert_float_eq(c->price, 0.018, 1e-9);
    cr_assert_eq(c->slots, 5);
    cr_assert_eq(c->max_connections, 112);
    cr_assert_eq(gd_dbclass_find("db.r5.large")->max_connections, 1802);
    cr_assert_null(gd_dbclass_find("db.t2.nano"));
    size_t n;
    gd_dbclass_all(&n);
    cr_assert_eq(n, 4);
}

Test(db, placement_spreads_standby_and_replicas)
{
    const char *azs[] = {"a", "a", "b"};
    gd_db_place p[GD_DB_MAX_NODES];
    int n = gd_db_place_nodes(azs, 3, 2, 1, p, GD_DB_MAX_NODES);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(p[0].role, GD_DB_PRIMARY);
    cr_assert_eq(p[0].subnet, 0);
    cr_assert_str_eq(p[1].role, GD_DB_STANDBY);
    cr_assert_eq(p[1].subnet, 2, "the standby goes to the first subnet of another zone");
    cr_assert_str_eq(p[2].role, GD_DB_REPLICA);
    cr_assert_eq(p[2].subnet, 1);
    cr_assert_eq(p[3].subnet, 2);
    /* one zone only: no standby possible */
    cr_assert_eq(gd_db_place_nodes(azs, 2, 0, 1, p, GD_DB_MAX_NODES), -1);
    /* a single subnet takes every replica */
    n = gd_db_place_nodes(azs, 1, 3, 0, p, GD_DB_MAX_NODES);
    cr_assert_eq(n, 4);
    cr_assert_eq(p[3].subnet, 0);
}

Test(db, hba_from_blocks_refuses_everything_else)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 16);
    cr_assert_eq(gd_db_hba("127.9.1.0/24\nnot-a-block\n127.9.2.7/32\n", "shop", "app", &b), 0);
    const char *t = gd_buf_cstr(&b);
    cr_assert(strstr(t, "local   all          all                           trust\n"));
    cr_assert(strstr(t, "host    shop         app      127.9.1.0/24         scram-sha-256\n"));
    cr_assert(strstr(t, "host    shop         app      127.9.2.7/32         scram-sha-256\n"));
    cr_assert_null(strstr(t, "not-a-block"));
    int hosts = 0;
    for (const char *p = t; (p = strstr(p, "\nhost ")); p++) hosts++;
    cr_assert_eq(hosts, 2, "one host line per block, nothing more");
    gd_buf_reset(&b);
    gd_db_hba("", "shop", "app", &b);
    cr_assert_null(strstr(gd_buf_cstr(&b), "\nhost "), "no group rule: no network source");
    gd_buf_free(&b);
}

Test(db, conninfo_quotes_values)
{
    char out[256];
    int n = gd_db_conninfo(out, sizeof out, "shop.db.team1.gameday.test", 5432, "shop", "app",
                           "pa'ss\\w", "application_name=x");
    cr_assert_gt(n, 0);
    cr_assert_str_eq(out, "host='shop.db.team1.gameday.test' port='5432' dbname='shop' "
                          "user='app' password='pa\\'ss\\\\w' application_name=x");
    cr_assert_eq(gd_db_conninfo(out, 20, "h", 1, "d", "u", "p", NULL), -10);
}

Test(db, idents)
{
    cr_assert(gd_db_ident_ok("shop_1"));
    cr_assert(!gd_db_ident_ok("Shop"));
    cr_assert(!gd_db_ident_ok("1shop"));
    cr_assert(!gd_db_ident_ok("sh;op"));
    cr_assert(!gd_db_ident_ok(""));
}

Test(db, spec_defaults_and_bad_names)
{
    json_t *s = json_loads("{\"subnets\": [\"a\"]}", 0, NULL);
    gd_errs e = {0};
    cr_assert_eq(gd_schema_check("db", "orders", s, NULL, "spec", &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(s, "instance_class")), "db.t3.micro");
    cr_assert_eq(json_integer_value(json_object_get(s, "port")), 5432);
    cr_assert_eq(json_integer_value(json_object_get(s, "read_replicas")), 0);
    cr_assert(json_is_false(json_object_get(s, "multi_az")));
    json_decref(s);
    gd_errs_free(&e);
    s = json_loads("{\"subnets\": [\"a\"], \"read_replicas\": 6, \"username\": \"postgres\","
                   " \"instance_class\": \"db.x1.huge\"}",
                   0, NULL);
    gd_errs e2 = {0};
    cr_assert_eq(gd_schema_check("db", "orders", s, NULL, "spec", &e2), 3);
    cr_assert(strstr(e2.msgs[0], "read_replicas") || strstr(e2.msgs[1], "read_replicas") ||
              strstr(e2.msgs[2], "read_replicas"));
    int named = 0;
    for (int i = 0; i < e2.n; i++)
        named |= strstr(e2.msgs[i], "'postgres' is PostgreSQL's or gameday's own") != NULL;
    cr_assert(named);
    gd_errs_free(&e2);
    json_decref(s);
}
