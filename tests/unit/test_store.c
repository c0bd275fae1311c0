/* Unit tests for src/server/store.c: the SQLite state of the control plane, including
 * what must survive a close and reopen of the same file. */
#include "core/err.h"
#include "core/mem.h"
#include "model/schema.h"
#include "server/store.h"

#include <criterion/criterion.h>
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
