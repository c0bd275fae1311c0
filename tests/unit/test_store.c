/* Unit tests for src/server/store.c: the SQLite state of the control plane, including
 * what must survive a close and reopen of the same file. */
#include "core/err.h"
#include "core/mem.h"
#include "model/schema.h"
#include "server/store.h"

#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* TEST-ONLY STUB: src/core/schema.c (another module) was not written yet when these
 * tests were. Weak, so the real gd_schema_id_prefix wins whenever it is linked in;
 * the tests ask gd_schema_id_prefix() for the expected prefix, so they hold for both. */
__attribute__((weak)) const char *gd_schema_id_prefix(const char *type)
{
    if (type && strcmp(type, "instance") == 0) return "i";
    return type;
}

static char dir[64];
static char path[128];
static gd_store *s;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/gd-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/state.db", dir);
    cr_assert_eq(gd_store_open(path, &s), 0);
    cr_assert_not_null(s);
}

static void teardown(void)
{
    gd_store_close(s);
    s = NULL;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void reopen(void)
{
    gd_store_close(s);
    s = NULL;
    cr_assert_eq(gd_store_open(path, &s), 0);
}

/* Creates a resource and returns its id in a static buffer (valid until the next call). */
static const char *mk(int team, const char *type, const char *name, const char *spec_json)
{
    static char id[40];
    json_t *spec = spec_json ? json_loads(spec_json, 0, NULL) : NULL;
    int rc = gd_store_res_create(s, team, type, name, spec, NULL, 1.0, id);
    json_decref(spec);
    cr_assert_eq(rc, 0, "create %s/%s: expected 0, got %d", type, name, rc);
    return id;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, open_creates_file_and_reopens)
{
    cr_assert_eq(access(path, F_OK), 0, "expected %s to exist", path);
    reopen();
    /* bytes 18 and 19 of a SQLite file header are 2 in WAL mode */
    unsigned char hdr[20] = {0};
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
    fclose(f);
    cr_assert_eq(hdr[18], 2, "expected WAL (2), got %d", hdr[18]);
    cr_assert_eq(hdr[19], 2, "expected WAL (2), got %d", hdr[19]);
    json_t *teams = gd_store_teams(s);
    cr_assert_eq(json_array_size(teams), 0);
    json_decref(teams);
}

Test(store, open_rejects_bad_arguments)
{
    gd_store *t = (gd_store *)1;
    cr_assert_eq(gd_store_open(NULL, &t), GD_EINVAL);
    cr_assert_null(t);
    cr_assert_eq(gd_store_open("/nonexistent-dir-gd/x/state.db", &t), GD_EDB);
    cr_assert_null(t);
}

Test(store, everything_survives_close_and_reopen)
{
    cr_assert_eq(gd_store_team_put(s, 1, "team-1", "tok-1"), 0);
    cr_assert_eq(gd_store_ledger_add(s, 10, 1, "loadgen", 5.5, "ok requests"), 0);
    cr_assert_eq(gd_store_ledger_add(s, 20, 1, "billing", -1.25, "cost"), 0);
    char id[40];
    json_t *spec = json_pack("{s:i}", "count", 3);
    json_t *status = json_pack("{s:s}", "state", "running");
    cr_assert_eq(gd_store_res_create(s, 1, "instance", "web-1", spec, status, 2.0, id), 0);
    json_t *req = json_pack("{s:s}", "name", "web-1");
    cr_assert_eq(gd_store_audit(s, 2.0, 1, "team-1", "127.0.0.1", "RunInstances", req, NULL, NULL),
                 0);
    cr_assert_eq(gd_store_kv_set(s, "game.start", "0"), 0);

    reopen();

    cr_assert_float_eq(gd_store_score(s, 1), 4.25, 1e-9);
    cr_assert_eq(gd_store_team_by_token(s, "tok-1"), 1);
    json_t *r = gd_store_res_get(s, 0, id);
    cr_assert_not_null(r);
    cr_assert_str_eq(str(r, "name"), "web-1");
    cr_assert_str_eq(str(r, "type"), "instance");
    cr_assert(json_equal(json_object_get(r, "spec"), spec));
    cr_assert(json_equal(json_object_get(r, "status"), status));
    cr_assert_float_eq(json_real_value(json_object_get(r, "created")), 2.0, 1e-9);
    cr_assert(json_is_false(json_object_get(r, "deleted")));
    json_t *a = gd_store_audit_list(s, 0, 0, 10);
    cr_assert_eq(json_array_size(a), 1);
    json_t *e = json_array_get(a, 0);
    cr_assert_str_eq(str(e, "eventName"), "RunInstances");
    cr_assert(json_equal(json_object_get(e, "requestParameters"), req));
    char *v = gd_store_kv_get(s, "game.start");
    cr_assert_str_eq(v, "0");
    gd_free(v);
    json_decref(a);
    json_decref(r);
    json_decref(req);
    json_decref(spec);
    json_decref(status);
}

Test(store, ids_have_type_prefix_and_8_lowercase_hex)
{
    const char *types[] = {"instance", "subnet", "lb"};
    for (int t = 0; t < 3; t++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", t);
        const char *id = mk(1, types[t], name, NULL);
        const char *prefix = gd_schema_id_prefix(types[t]);
        size_t pl = strlen(prefix);
        cr_assert_eq(strncmp(id, prefix, pl), 0, "id %s should start with %s", id, prefix);
        cr_assert_eq(id[pl], '-');
        cr_assert_eq(strlen(id + pl + 1), 8, "id %s should end in 8 hex digits", id);
        for (int i = 0; i < 8; i++) {
            char c = id[pl + 1 + i];
            cr_assert(isxdigit((unsigned char)c) && !isupper((unsigned char)c), "id %s", id);
        }
    }
    /* many ids, all distinct */
    json_t *seen = json_object();
    for (int i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        const char *id = mk(2, "instance", name, NULL);
        cr_assert_null(json_object_get(seen, id), "duplicate id %s", id);
        json_object_set_new(seen, id, json_true());
    }
    json_decref(seen);
}

Test(store, duplicate_live_name_in_a_team_is_eexist)
{
    char id[40];
    mk(1, "instance", "web", NULL);
    cr_assert_eq(gd_store_res_create(s, 1, "instance", "web", NULL, NULL, 2, id), GD_EEXIST);
    cr_assert_str_eq(id, "", "a failed create leaves id_out empty");
    /* names are per team and across types */
    cr_assert_eq(gd_store_res_create(s, 1, "subnet", "web", NULL, NULL, 2, id), GD_EEXIST);
    cr_assert_eq(gd_store_res_create(s, 2, "instance", "web", NULL, NULL, 2, id), 0);
    json_t *l = gd_store_res_list(s, 0, NULL, 1);
    cr_assert_eq(json_array_size(l), 2);
    json_decref(l);
}

Test(store, delete_then_recreate_same_name)
{
    char first[40];
    strcpy(first, mk(1, "instance", "web", "{\"v\":1}"));
    cr_assert_eq(gd_store_res_delete(s, first, 5.0), 0);
    cr_assert_eq(gd_store_res_delete(s, first, 6.0), GD_ENOENT, "already deleted");
    cr_assert_eq(gd_store_res_delete(s, "i-00000000", 6.0), GD_ENOENT);
    cr_assert_null(gd_store_res_get(s, 1, "web"), "no live resource named web");

    json_t *old = gd_store_res_get(s, 1, first);
    cr_assert_not_null(old, "a deleted row stays readable by id");
    cr_assert(json_is_true(json_object_get(old, "deleted")));
    cr_assert_float_eq(json_real_value(json_object_get(old, "updated")), 5.0, 1e-9);
    json_decref(old);

    char second[40];
    strcpy(second, mk(1, "instance", "web", "{\"v\":2}"));
    cr_assert_str_neq(first, second);
    json_t *cur = gd_store_res_get(s, 1, "web");
    cr_assert_str_eq(str(cur, "id"), second);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(cur, "spec"), "v")), 2);
    json_decref(cur);

    json_t *live = gd_store_res_list(s, 1, NULL, 0);
    json_t *all = gd_store_res_list(s, 1, NULL, 1);
    cr_assert_eq(json_array_size(live), 1);
    cr_assert_eq(json_array_size(all), 2);
    cr_assert_str_eq(str(json_array_get(all, 0), "id"), first, "ordered by creation");
    cr_assert_str_eq(str(json_array_get(all, 1), "id"), second);
    json_decref(live);
    json_decref(all);
}

Test(store, get_by_name_is_scoped_to_the_team)
{
    char id[40];
    strcpy(id, mk(1, "lb", "front", NULL));
    json_t *r = gd_store_res_get(s, 1, "front");
    cr_assert_str_eq(str(r, "id"), id);
    json_decref(r);
    cr_assert_null(gd_store_res_get(s, 2, "front"), "team 2 has no 'front'");
    cr_assert_null(gd_store_res_get(s, 2, id), "team 2 cannot read team 1's id");
    cr_assert_null(gd_store_res_get(s, 0, "front"), "team 0 looks up by id only");
    r = gd_store_res_get(s, 0, id);
    cr_assert_eq(json_integer_value(json_object_get(r, "team")), 1);
    json_decref(r);
}

Test(store, list_filters_by_team_and_type)
{
    mk(1, "instance", "a", NULL);
    mk(1, "subnet", "b", NULL);
    mk(2, "instance", "c", NULL);
    mk(1, "instance", "d", NULL);
    struct {
        int team;
        const char *type;
        size_t n;
        const char *names;
    } cases[] = {
        {0, NULL, 4, "abcd"},      {1, NULL, 3, "abd"},      {2, NULL, 1, "c"},
        {0, "instance", 3, "acd"}, {1, "instance", 2, "ad"}, {2, "subnet", 0, ""},
        {3, NULL, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *l = gd_store_res_list(s, cases[i].team, cases[i].type, 0);
        cr_assert_eq(json_array_size(l), cases[i].n, "team %d type %s: expected %zu, got %zu",
                     cases[i].team, cases[i].type ? cases[i].type : "*", cases[i].n,
                     json_array_size(l));
        char got[8] = "";
        for (size_t k = 0; k < json_array_size(l) && k < 7; k++)
            got[k] = str(json_array_get(l, k), "name")[0];
        cr_assert_str_eq(got, cases[i].names);
        json_decref(l);
    }
}

Test(store, set_spec_and_status)
{
    char id[40];
    strcpy(id, mk(1, "instance", "web", "{\"size\":\"t3.micro\"}"));
    json_t *st = json_pack("{s:s}", "state", "running");
    cr_assert_eq(gd_store_res_set_status(s, id, st, 7.0), 0);
    json_t *sp = json_pack("{s:s}", "size", "t3.large");
    cr_assert_eq(gd_store_res_set_spec(s, id, sp, 8.0), 0);
    json_t *r = gd_store_res_get(s, 0, id);
    cr_assert(json_equal(json_object_get(r, "status"), st));
    cr_assert(json_equal(json_object_get(r, "spec"), sp));
    cr_assert_float_eq(json_real_value(json_object_get(r, "created")), 1.0, 1e-9);
    cr_assert_float_eq(json_real_value(json_object_get(r, "updated")), 8.0, 1e-9);
    json_decref(r);

    /* NULL means an empty object */
    cr_assert_eq(gd_store_res_set_spec(s, id, NULL, 9.0), 0);
    r = gd_store_res_get(s, 0, id);
    cr_assert(json_is_object(json_object_get(r, "spec")));
    cr_assert_eq(json_object_size(json_object_get(r, "spec")), 0);
    json_decref(r);

    cr_assert_eq(gd_store_res_set_spec(s, "i-ffffffff", sp, 9.0), GD_ENOENT);
    cr_assert_eq(gd_store_res_set_status(s, "i-ffffffff", st, 9.0), GD_ENOENT);
    /* a deleted resource keeps taking status (e.g. "terminated") but not a new spec */
    cr_assert_eq(gd_store_res_delete(s, id, 10.0), 0);
    cr_assert_eq(gd_store_res_set_spec(s, id, sp, 11.0), GD_ENOENT);
    cr_assert_eq(gd_store_res_set_status(s, id, st, 11.0), 0);
    json_decref(st);
    json_decref(sp);
}

Test(store, bad_input_does_not_crash)
{
    char id[40];
    cr_assert_eq(gd_store_res_create(s, 1, NULL, "x", NULL, NULL, 0, id), GD_EINVAL);
    cr_assert_eq(gd_store_res_create(s, 1, "instance", NULL, NULL, NULL, 0, id), GD_EINVAL);
    cr_assert_eq(gd_store_res_create(s, 1, "instance", "", NULL, NULL, 0, id), GD_EINVAL);
    cr_assert_eq(gd_store_res_create(NULL, 1, "instance", "x", NULL, NULL, 0, id), GD_EINVAL);
    cr_assert_eq(gd_store_res_create(s, 1, "instance", "x", NULL, NULL, 0, NULL), 0,
                 "id_out may be NULL");
    cr_assert_null(gd_store_res_get(s, 1, NULL));
    cr_assert_eq(gd_store_res_delete(s, NULL, 0), GD_EINVAL);
    cr_assert_eq(gd_store_team_by_token(s, NULL), 0);
    cr_assert_eq(gd_store_team_put(s, 0, "x", "t"), GD_EINVAL);
    cr_assert_eq(gd_store_team_put(s, 255, "x", "t"), GD_EINVAL);
    cr_assert_eq(gd_store_kv_set(s, NULL, "v"), GD_EINVAL);
    cr_assert_null(gd_store_kv_get(s, NULL));
    cr_assert_eq(gd_store_audit(s, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL), 0);
    gd_store_close(NULL);
}

Test(store, audit_since_limit_and_team)
{
    json_t *req = json_pack("{s:s,s:i}", "name", "web", "count", 2);
    json_t *resp = json_pack("{s:s}", "id", "i-0000abcd");
    for (int i = 1; i <= 6; i++) {
        int team = i % 2 ? 1 : 2;
        cr_assert_eq(gd_store_audit(s, 10.0 * i, team, i == 6 ? "chaos" : "player", "127.0.0.9",
                                    "TerminateInstances", i == 1 ? req : NULL, i == 1 ? resp : NULL,
                                    i == 2 ? "AccessDenied" : NULL),
                     0);
    }
    json_t *all = gd_store_audit_list(s, 0, 0, 0);
    cr_assert_eq(json_array_size(all), 6, "limit 0 = no limit");
    json_t *e1 = json_array_get(all, 0), *e2 = json_array_get(all, 1);
    cr_assert_eq(json_integer_value(json_object_get(e1, "seq")), 1);
    cr_assert_float_eq(json_number_value(json_object_get(e1, "eventTime")), 10.0, 1e-9);
    cr_assert_str_eq(str(e1, "sourceIP"), "127.0.0.9");
    cr_assert_str_eq(str(e1, "principal"), "player");
    cr_assert(json_equal(json_object_get(e1, "requestParameters"), req));
    cr_assert(json_equal(json_object_get(e1, "responseElements"), resp));
    cr_assert(json_is_null(json_object_get(e1, "errorCode")));
    cr_assert(json_is_null(json_object_get(e2, "requestParameters")));
    cr_assert(json_is_null(json_object_get(e2, "responseElements")));
    cr_assert_str_eq(str(e2, "errorCode"), "AccessDenied");
    const char *wall = str(e1, "eventWall");
    cr_assert_not_null(wall);
    cr_assert_eq(strlen(wall), 24, "YYYY-MM-DDTHH:MM:SS.mmmZ, got %s", wall);
    cr_assert_eq(wall[10], 'T');
    cr_assert_eq(wall[23], 'Z');
    json_decref(all);

    json_t *page = gd_store_audit_list(s, 0, 2, 2);
    cr_assert_eq(json_array_size(page), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(page, 0), "seq")), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(page, 1), "seq")), 4);
    json_decref(page);

    json_t *t2 = gd_store_audit_list(s, 2, 0, 10);
    cr_assert_eq(json_array_size(t2), 3, "team 2 has seqs 2, 4, 6");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(t2, 2), "seq")), 6);
    cr_assert_str_eq(str(json_array_get(t2, 2), "principal"), "chaos");
    json_decref(t2);

    json_t *none = gd_store_audit_list(s, 0, 6, 10);
    cr_assert_eq(json_array_size(none), 0);
    json_decref(none);

    json_t *last = gd_store_audit_list(s, 1, 0, -2);
    cr_assert_eq(json_array_size(last), 2, "newest 2 of team 1 (seqs 3, 5)");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(last, 0), "seq")), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(last, 1), "seq")), 5);
    json_decref(last);
    json_decref(req);
    json_decref(resp);
}

Test(store, ledger_sums_between_and_lists)
{
    double pts[] = {1, 2, 4, 8, 16};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(gd_store_ledger_add(s, 10.0 * i, 1, "loadgen", pts[i], "reqs"), 0);
    cr_assert_eq(gd_store_ledger_add(s, 15, 2, "billing", -100, "cost"), 0);

    cr_assert_float_eq(gd_store_score(s, 1), 31.0, 1e-9);
    cr_assert_float_eq(gd_store_score(s, 2), -100.0, 1e-9);
    cr_assert_float_eq(gd_store_score(s, 3), 0.0, 1e-9, "no rows -> 0");
    /* [10, 30): the rows at t=10 and t=20 */
    cr_assert_float_eq(gd_store_score_between(s, 1, 10, 30), 6.0, 1e-9);
    cr_assert_float_eq(gd_store_score_between(s, 1, 0, 0), 0.0, 1e-9);
    cr_assert_float_eq(gd_store_score_between(s, 2, 0, 100), -100.0, 1e-9);

    json_t *l = gd_store_ledger_list(s, 1, 1, 2);
    cr_assert_eq(json_array_size(l), 2);
    json_t *r = json_array_get(l, 0);
    cr_assert_eq(json_integer_value(json_object_get(r, "seq")), 2);
    cr_assert_float_eq(json_number_value(json_object_get(r, "time")), 10.0, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(r, "points")), 2.0, 1e-9);
    cr_assert_str_eq(str(r, "source"), "loadgen");
    cr_assert_str_eq(str(r, "reason"), "reqs");
    cr_assert_eq(json_integer_value(json_object_get(r, "team")), 1);
    json_decref(l);

    l = gd_store_ledger_list(s, 1, 0, -2);
    cr_assert_eq(json_array_size(l), 2, "newest 2, oldest first");
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(l, 0), "points")), 8.0,
                       1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(l, 1), "points")), 16.0,
                       1e-9);
    json_decref(l);

    l = gd_store_ledger_list(s, 0, 0, 0);
    cr_assert_eq(json_array_size(l), 6, "team 0 = all teams");
    json_decref(l);
}

Test(store, ledger_sum_survives_reopen_inside_transactions)
{
    cr_assert_eq(gd_store_begin(s), 0);
    for (int i = 0; i < 100; i++) gd_store_ledger_add(s, i, 3, "loadgen", 0.5, "ok");
    cr_assert_eq(gd_store_commit(s), 0);
    reopen();
    cr_assert_float_eq(gd_store_score(s, 3), 50.0, 1e-9);
}

Test(store, nested_transactions_commit_at_the_outer_level)
{
    gd_store *other;
    cr_assert_eq(gd_store_open(path, &other), 0);
    cr_assert_eq(gd_store_begin(s), 0);
    cr_assert_eq(gd_store_begin(s), 0);
    cr_assert_eq(gd_store_ledger_add(s, 1, 1, "x", 7, "r"), 0);
    cr_assert_eq(gd_store_commit(s), 0);
    cr_assert_float_eq(gd_store_score(other, 1), 0.0, 1e-9, "inner commit is not a commit");
    cr_assert_eq(gd_store_commit(s), 0);
    cr_assert_float_eq(gd_store_score(other, 1), 7.0, 1e-9, "outer commit is visible");
    cr_assert_eq(gd_store_commit(s), GD_EINVAL, "commit without begin");
    gd_store_close(other);
}

Test(store, kv_set_get_overwrite_delete)
{
    cr_assert_null(gd_store_kv_get(s, "speed"));
    cr_assert_eq(gd_store_kv_set(s, "speed", "60"), 0);
    cr_assert_eq(gd_store_kv_set(s, "speed", "120"), 0);
    char *v = gd_store_kv_get(s, "speed");
    cr_assert_str_eq(v, "120");
    gd_free(v);
    cr_assert_eq(gd_store_kv_set(s, "speed", NULL), 0);
    cr_assert_null(gd_store_kv_get(s, "speed"), "NULL value deletes the key");
}

Test(store, teams_and_tokens)
{
    cr_assert_eq(gd_store_team_put(s, 2, "team-2", "tok-b"), 0);
    cr_assert_eq(gd_store_team_put(s, 1, "team-1", "tok-a"), 0);
    cr_assert_eq(gd_store_team_by_token(s, "tok-a"), 1);
    cr_assert_eq(gd_store_team_by_token(s, "tok-b"), 2);
    cr_assert_eq(gd_store_team_by_token(s, "nope"), 0);
    cr_assert_eq(gd_store_team_by_token(s, ""), 0);
    cr_assert_eq(gd_store_team_put(s, 3, "team-3", "tok-a"), GD_EEXIST, "tokens are unique");

    /* replace team 1: the old token no longer works */
    cr_assert_eq(gd_store_team_put(s, 1, "blue", "tok-c"), 0);
    cr_assert_eq(gd_store_team_by_token(s, "tok-a"), 0);
    cr_assert_eq(gd_store_team_by_token(s, "tok-c"), 1);

    json_t *t = gd_store_teams(s);
    cr_assert_eq(json_array_size(t), 2);
    json_t *t1 = json_array_get(t, 0);
    cr_assert_eq(json_integer_value(json_object_get(t1, "id")), 1, "ordered by id");
    cr_assert_str_eq(str(t1, "name"), "blue");
    cr_assert_str_eq(str(t1, "token"), "tok-c");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(t, 1), "id")), 2);
    json_decref(t);
}

Test(store, big_spec_round_trips_and_frees_what_it_takes)
{
    long before = gd_mem_live();
    json_t *spec = json_object();
    for (int i = 0; i < 500; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%d", i);
        json_object_set_new(spec, k, json_string("a fairly long value to pass 1 KiB"));
    }
    char id[40];
    cr_assert_eq(gd_store_res_create(s, 1, "instance", "big", spec, spec, 1, id), 0);
    cr_assert_eq(gd_store_res_set_spec(s, id, spec, 2), 0);
    json_t *r = gd_store_res_get(s, 1, "big");
    cr_assert(json_equal(json_object_get(r, "spec"), spec));
    cr_assert(json_equal(json_object_get(r, "status"), spec));
    char *v = (gd_store_kv_set(s, "k", "v"), gd_store_kv_get(s, "k"));
    gd_free(v);
    cr_assert_eq(gd_mem_live(), before, "gd_ allocations balanced: %ld before, %ld after", before,
                 gd_mem_live());
    json_decref(r);
    json_decref(spec);
}

Test(store, res_live_skips_deleted_and_other_types)
{
    char id[40];
    snprintf(id, sizeof id, "%s", mk(1, "asg", "web", "{}"));
    json_t *r = gd_store_res_live(s, 1, "web", "asg");
    cr_assert_not_null(r);
    cr_assert_str_eq(str(r, "id"), id);
    json_decref(r);
    r = gd_store_res_live(s, 1, id, NULL);
    cr_assert_not_null(r, "by id, any type");
    json_decref(r);
    cr_assert_null(gd_store_res_live(s, 1, "web", "alb"), "another type");
    cr_assert_null(gd_store_res_live(s, 1, "nothing", NULL));
    cr_assert_null(gd_store_res_live(s, 1, NULL, NULL));
    cr_assert_eq(gd_store_res_delete(s, id, 3.0), 0);
    cr_assert_null(gd_store_res_live(s, 1, id, NULL), "deleted");
    r = gd_store_res_get(s, 1, id);
    cr_assert_not_null(r, "a deleted resource can still be read");
    json_decref(r);
}

/* A team's live instances by type, counted in SQL: pending and running only, this team
 * only, deleted rows left out. */
Test(store, live_instances_by_type)
{
    struct {
        int team;
        const char *name, *state, *type;
    } rows[] = {{1, "a", "running", "t3.micro"},  {1, "b", "pending", "t3.micro"},
                {1, "c", "running", "c5.xlarge"}, {1, "d", "terminated", "c5.xlarge"},
                {1, "e", "stopped", "m5.large"},  {2, "f", "running", "t3.micro"}};
    char id[40];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *st = json_pack("{s:s,s:s}", "state", rows[i].state, "instance_type", rows[i].type);
        cr_assert_eq(
            gd_store_res_create(s, rows[i].team, "instance", rows[i].name, NULL, st, 1, id), 0);
        json_decref(st);
    }
    cr_assert_eq(gd_store_res_delete(s, id, 2), 0); /* team 2's only one */
    json_t *t = gd_store_live_types(s, 1);
    char *d = json_dumps(t, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(d, "{\"c5.xlarge\":1,\"t3.micro\":2}");
    free(d);
    json_decref(t);
    t = gd_store_live_types(s, 2);
    cr_assert_eq(json_object_size(t), 0, "a deleted row does not count");
    json_decref(t);
}

/* ---- the audit trail: resources, filters, bounds, migration ---- */

/* Appends one audit record from JSON texts (NULL: none); returns nothing. */
static void audit_add(double t, int team, const char *principal, const char *event,
                      const char *req_json, const char *resp_json, const char *code)
{
    json_t *req = req_json ? json_loads(req_json, 0, NULL) : NULL;
    json_t *resp = resp_json ? json_loads(resp_json, 0, NULL) : NULL;
    cr_assert(req_json == NULL || req, "bad test JSON %s", req_json);
    cr_assert(resp_json == NULL || resp, "bad test JSON %s", resp_json);
    cr_assert_eq(gd_store_audit(s, t, team, principal, "internal", event, req, resp, code), 0);
    json_decref(req);
    json_decref(resp);
}

/* The seqs of a listing, as "1 3 5" (a static buffer); takes the list. */
static const char *seqs(json_t *list)
{
    static char out[4096];
    size_t o = 0, i;
    json_t *r;
    out[0] = 0;
    cr_assert_not_null(list, "the listing failed");
    json_array_foreach(list, i, r) o +=
        (size_t)snprintf(out + o, sizeof out - o, "%s%lld", o ? " " : "",
                         (long long)json_integer_value(json_object_get(r, "seq")));
    json_decref(list);
    return out;
}

static const char *found(gd_audit_filter *f)
{
    return seqs(gd_store_audit_find(s, f));
}

Test(store, audit_records_name_the_resources_they_touched)
{
    char web1[40], web2[40], asg[40];
    snprintf(web1, sizeof web1, "%s", mk(1, "instance", "web-1", NULL));
    snprintf(web2, sizeof web2, "%s", mk(1, "instance", "web-2", NULL));
    snprintf(asg, sizeof asg, "%s", mk(1, "asg", "web", "{\"launch_template\":\"lt\"}"));
    mk(2, "instance", "web-1", NULL); /* the same name in another team */
    char req[256], resp[256];
    /* 1: a termination names its instance in the request and the response: once */
    snprintf(req, sizeof req, "{\"instanceId\":\"%s\",\"force\":true}", web1);
    snprintf(
        resp, sizeof resp,
        "{\"instanceId\":\"%s\",\"previousState\":\"running\",\"currentState\":\"terminated\"}",
        web1);
    audit_add(10, 1, "chaos-monkey", "TerminateInstances", req, resp, NULL);
    /* 2: a launch into a group: the group (by name) and the instance (by id) */
    snprintf(resp, sizeof resp, "{\"instanceId\":\"%s\",\"name\":\"web-2\"}", web2);
    audit_add(20, 1, "autoscaling", "RunInstances", "{\"launch_template\":\"lt\",\"asg\":\"web\"}",
              resp, NULL);
    /* 3: a refused call on an instance that does not exist keeps what it named */
    audit_add(30, 1, "team-1", "TerminateInstances", "{\"instanceId\":\"i-nope\"}", NULL,
              "InvalidInstanceID.NotFound");
    /* 4: what a spec refers to is not touched; the created resource is */
    audit_add(40, 1, "team-1", "CreateResource",
              "{\"type\":\"asg\",\"name\":\"web\",\"spec\":{\"name\":\"web-1\",\"id\":\"x\"}}",
              NULL, NULL);
    /* 5: ids nested a few levels down, in a list */
    snprintf(req, sizeof req, "{\"targets\":{\"Instances\":{\"resourceIds\":[\"%s\",\"%s\"]}}}",
             web1, web2);
    audit_add(50, 1, "fis", "StartExperiment", req, NULL, NULL);

    json_t *all = gd_store_audit_list(s, 1, 0, 0);
    cr_assert_eq(json_array_size(all), 5);
    json_t *r1 = json_object_get(json_array_get(all, 0), "resources");
    cr_assert_eq(json_array_size(r1), 1, "one instance, named twice");
    cr_assert_str_eq(str(json_array_get(r1, 0), "id"), web1);
    cr_assert_str_eq(str(json_array_get(r1, 0), "name"), "web-1");
    cr_assert_str_eq(str(json_array_get(r1, 0), "type"), "instance");
    json_t *r2 = json_object_get(json_array_get(all, 1), "resources");
    cr_assert_eq(json_array_size(r2), 2);
    cr_assert_str_eq(str(json_array_get(r2, 0), "id"), asg, "the group's name resolved to its id");
    cr_assert_str_eq(str(json_array_get(r2, 0), "type"), "asg");
    cr_assert_str_eq(str(json_array_get(r2, 1), "id"), web2);
    json_t *r3 = json_object_get(json_array_get(all, 2), "resources");
    cr_assert_eq(json_array_size(r3), 1);
    cr_assert_str_eq(str(json_array_get(r3, 0), "id"), "i-nope");
    cr_assert_null(json_object_get(json_array_get(r3, 0), "name"), "nothing known of it");
    json_t *r4 = json_object_get(json_array_get(all, 3), "resources");
    cr_assert_eq(json_array_size(r4), 1, "the spec's values are not resources touched");
    cr_assert_str_eq(str(json_array_get(r4, 0), "name"), "web");
    json_t *r5 = json_object_get(json_array_get(all, 4), "resources");
    cr_assert_eq(json_array_size(r5), 2);
    cr_assert_str_eq(str(json_array_get(r5, 0), "name"), "web-1");
    cr_assert_str_eq(str(json_array_get(r5, 1), "name"), "web-2");
    json_decref(all);

    /* resource= matches an id or a name, within what each record named */
    gd_audit_filter f;
    gd_audit_filter_init(&f);
    f.team = 1;
    f.resource = web1;
    cr_assert_str_eq(found(&f), "1 5");
    f.resource = "web-1";
    cr_assert_str_eq(found(&f), "1 5", "by name too");
    f.resource = "web";
    cr_assert_str_eq(found(&f), "2 4");
    f.resource = "i-nope";
    cr_assert_str_eq(found(&f), "3");
    f.resource = "web-%";
    cr_assert_str_eq(found(&f), "", "no pattern matching: '%%' is a character");
    f.resource = "x";
    cr_assert_str_eq(found(&f), "", "a spec's id is not a resource of the record");
}

Test(store, audit_filters_combine_with_and)
{
    /* seq: time team principal event error */
    audit_add(5, 1, "gameday", "CreateResource", "{\"name\":\"web\"}", NULL, NULL); /* 1 */
    audit_add(60, 1, "team-1", "TerminateInstances", "{\"instanceId\":\"i-1\"}", NULL,
              NULL); /* 2 */
    audit_add(61, 2, "team-2", "TerminateInstances", "{\"instanceId\":\"i-2\"}", NULL,
              NULL); /* 3 */
    audit_add(120, 1, "chaos-monkey", "TerminateInstances", "{\"instanceId\":\"i-3\"}", NULL,
              NULL); /* 4 */
    audit_add(121, 1, "team-1", "TerminateInstances", "{\"instanceId\":\"i-3\"}",
              "{\"message\":\"no instance\"}", "InvalidInstanceID.NotFound"); /* 5 */
    audit_add(180, 1, "autoscaling", "SetDesiredCapacity", "{\"autoScalingGroupName\":\"web\"}",
              NULL, NULL); /* 6 */
    audit_add(181, 2, "chaos-monkey", "TerminateInstances", "{\"instanceId\":\"i-9\"}", NULL,
              NULL); /* 7 */

    gd_audit_filter f;
    gd_audit_filter_init(&f);
    cr_assert_str_eq(found(&f), "1 2 3 4 5 6 7", "no condition: everything");
    f.principal = "chaos-monkey";
    cr_assert_str_eq(found(&f), "4 7");
    f.team = 1;
    cr_assert_str_eq(found(&f), "4", "and the team");
    f.team = 0;
    f.principal = NULL;
    f.event = "TerminateInstances";
    cr_assert_str_eq(found(&f), "2 3 4 5 7");
    f.errors = GD_AUDIT_ERRORS_ONLY;
    cr_assert_str_eq(found(&f), "5");
    f.errors = GD_AUDIT_ERRORS_NONE;
    cr_assert_str_eq(found(&f), "2 3 4 7");
    f.from = 61;
    f.until = 121;
    cr_assert_str_eq(found(&f), "3 4", "from is inclusive, until exclusive");
    f.resource = "i-3";
    cr_assert_str_eq(found(&f), "4");
    f.errors = GD_AUDIT_ANY;
    f.until = INFINITY;
    cr_assert_str_eq(found(&f), "4 5");
    f.principal = "team-1";
    cr_assert_str_eq(found(&f), "5", "every condition at once");
    f.principal = "Team-1";
    cr_assert_str_eq(found(&f), "", "principals compare exactly");

    gd_audit_filter_init(&f);
    f.event = "TerminateInstances";
    f.since = 3;
    cr_assert_str_eq(found(&f), "4 5 7", "since: seq after it");
    f.limit = 2;
    cr_assert_str_eq(found(&f), "4 5", "the oldest 2");
    f.limit = -2;
    cr_assert_str_eq(found(&f), "5 7", "the newest 2, oldest first");
    f.from = NAN;
    cr_assert_str_eq(found(&f), "", "a NaN bound selects nothing");
    cr_assert_null(gd_store_audit_find(NULL, &f));
    cr_assert_null(gd_store_audit_find(s, NULL));
    cr_assert_eq(gd_store_audit_count(s), 7);
    cr_assert_eq(gd_store_audit_count(NULL), 0);
}

Test(store, audit_record_fields_as_cloudtrail)
{
    audit_add(723.4, 1, "chaos-monkey", "TerminateInstances", "{\"instanceId\":\"i-1\"}", NULL,
              NULL);
    audit_add(3 * 3600 + 5, 1, "team-1", "StopInstances", "{\"instanceId\":\"i-1\"}",
              "{\"message\":\"it is terminated\"}", "IncorrectInstanceState");
    json_t *all = gd_store_audit_list(s, 0, 0, 0);
    json_t *a = json_array_get(all, 0), *b = json_array_get(all, 1);
    cr_assert_str_eq(str(a, "gameTime"), "00:12:03");
    cr_assert_str_eq(str(b, "gameTime"), "03:00:05");
    cr_assert_float_eq(json_number_value(json_object_get(a, "eventTime")), 723.4, 1e-9);
    const char *w = str(a, "eventTimeWall"), *ms = str(a, "eventWall");
    cr_assert_not_null(w);
    cr_assert_eq(strlen(w), 20, "YYYY-MM-DDTHH:MM:SSZ, got %s", w);
    cr_assert_eq(w[10], 'T');
    cr_assert_eq(w[19], 'Z');
    cr_assert_eq(strncmp(w, ms, 19), 0, "the same time as eventWall (%s, %s)", w, ms);
    cr_assert_str_eq(str(a, "sourceIPAddress"), "internal");
    cr_assert_str_eq(str(a, "sourceIP"), "internal");
    cr_assert(json_is_false(json_object_get(a, "readOnly")));
    cr_assert(json_is_null(json_object_get(a, "errorCode")));
    cr_assert(json_is_null(json_object_get(a, "errorMessage")));
    cr_assert_str_eq(str(b, "errorCode"), "IncorrectInstanceState");
    cr_assert_str_eq(str(b, "errorMessage"), "it is terminated");
    json_decref(all);
}

Test(store, audit_listings_are_bounded)
{
    cr_assert_eq(gd_store_begin(s), 0);
    for (int i = 0; i < GD_AUDIT_MAX_ROWS + 5; i++)
        audit_add(i, 1, "autoscaling", "SetDesiredCapacity", NULL, NULL, NULL);
    cr_assert_eq(gd_store_commit(s), 0);
    gd_audit_filter f;
    gd_audit_filter_init(&f);
    json_t *l = gd_store_audit_find(s, &f);
    cr_assert_eq(json_array_size(l), GD_AUDIT_MAX_ROWS, "limit 0: at most the maximum");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(l, 0), "seq")), 1);
    json_decref(l);
    f.limit = 5000;
    l = gd_store_audit_find(s, &f);
    cr_assert_eq(json_array_size(l), GD_AUDIT_MAX_ROWS, "more than the maximum: the maximum");
    json_decref(l);
    f.limit = -5000;
    l = gd_store_audit_find(s, &f);
    cr_assert_eq(json_array_size(l), GD_AUDIT_MAX_ROWS);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(l, 0), "seq")), 6,
                 "the newest 1000 are seqs 6..1005");
    json_decref(l);
    f.limit = 0;
    f.since = GD_AUDIT_MAX_ROWS;
    cr_assert_str_eq(found(&f), "1001 1002 1003 1004 1005", "since pages on");
}

Test(store, audit_filters_survive_close_and_reopen)
{
    char id[40];
    snprintf(id, sizeof id, "%s", mk(1, "instance", "web-1", NULL));
    char req[128];
    snprintf(req, sizeof req, "{\"instanceId\":\"%s\"}", id);
    audit_add(90, 1, "chaos-monkey", "TerminateInstances", req, NULL, NULL);
    json_t *before = gd_store_audit_list(s, 0, 0, 0);
    reopen();
    json_t *after = gd_store_audit_list(s, 0, 0, 0);
    cr_assert(json_equal(before, after), "the same records after a reopen");
    json_decref(before);
    json_decref(after);
    gd_audit_filter f;
    gd_audit_filter_init(&f);
    f.team = 1;
    f.resource = "web-1";
    f.principal = "chaos-monkey";
    cr_assert_str_eq(found(&f), "1");
}

/* A state.db as the version before resources were recorded wrote it. */
static void write_old_db(const char *p)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(
        db,
        "CREATE TABLE resources (id TEXT PRIMARY KEY, team INTEGER, type TEXT, name TEXT,"
        " spec TEXT, status TEXT, created REAL, updated REAL, deleted INTEGER NOT NULL DEFAULT 0,"
        " deleted_at REAL);"
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL, wall TEXT,"
        " team INTEGER, principal TEXT, source_ip TEXT, event_name TEXT, request TEXT,"
        " response TEXT, error_code TEXT);"
        "CREATE INDEX audit_team ON audit (team, seq);"
        "INSERT INTO resources VALUES ('i-0abc1234', 1, 'instance', 'web-7', '{}', '{}', 1, 1, 0,"
        " NULL);"
        "INSERT INTO audit (time, wall, team, principal, source_ip, event_name, request, response,"
        " error_code) VALUES (723.5, '2026-12-07T03:10:00.250Z', 1, 'chaos-monkey', 'internal',"
        " 'TerminateInstances', '{\"instanceId\":\"i-0abc1234\",\"force\":true}', NULL, NULL);"
        "PRAGMA user_version = 1;",
        NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "old schema: %s", msg ? msg : "?");
    sqlite3_close(db);
}

Test(store, an_old_state_db_is_migrated_and_keeps_its_records)
{
    gd_store_close(s);
    s = NULL;
    unlink(path);
    write_old_db(path);
    cr_assert_eq(gd_store_open(path, &s), 0, "the old file opens");
    json_t *all = gd_store_audit_list(s, 0, 0, 0);
    cr_assert_eq(json_array_size(all), 1, "its record is kept");
    json_t *a = json_array_get(all, 0);
    cr_assert_str_eq(str(a, "principal"), "chaos-monkey");
    cr_assert_str_eq(str(a, "eventTimeWall"), "2026-12-07T03:10:00Z");
    cr_assert_str_eq(str(a, "gameTime"), "00:12:03");
    json_t *res = json_object_get(a, "resources");
    cr_assert_eq(json_array_size(res), 1, "resources filled from the old request");
    cr_assert_str_eq(str(json_array_get(res, 0), "id"), "i-0abc1234");
    cr_assert_str_eq(str(json_array_get(res, 0), "name"), "web-7");
    json_decref(all);
    gd_audit_filter f;
    gd_audit_filter_init(&f);
    f.resource = "web-7";
    cr_assert_str_eq(found(&f), "1", "and the filters see it");
    audit_add(800, 1, "team-1", "DeleteResource", "{\"id\":\"i-0abc1234\"}", NULL, NULL);
    reopen(); /* a second open finds the column: nothing to migrate */
    f.team = 1;
    cr_assert_str_eq(found(&f), "1 2");
}
