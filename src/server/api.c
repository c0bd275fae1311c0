/* The HTTP/JSON API under /api/v1, the scoreboard page and /metrics. Reads of the
 * scoreboard are public; everything else needs a bearer token (a team's, the admin's,
 * or the internal one for loadgens), and every mutation is audited. */
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "model/schema.h"
#include "core/webassets.h"
#include "model/rules.h"
#include "server/game.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct who {
    int team;     /* the team acted on (0: none) */
    int admin;    /* admin token: any team */
    int internal; /* loadgen token */
    char principal[32];
};

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int seg_is(const char *p, size_t n, const char *s)
{
    return strlen(s) == n && !memcmp(p, s, n);
}

/* Splits "/api/v1/a/b/c" into up to 6 segments after the prefix. */
static int split(const gd_http_req *req, const char **seg, size_t *len, int max)
{
    const char *p = req->path + 7, *end = req->path + req->path_len;
    int n = 0;
    while (p < end && n < max) {
        if (*p == '/') p++;
        const char *s = p;
        while (p < end && *p != '/') p++;
        if (p > s) {
            seg[n] = s;
            len[n] = (size_t)(p - s);
            n++;
        }
    }
    return n;
}

static int query_int(const gd_http_req *req, const char *name, int def)
{
    char v[32];
    if (gd_http_query_get(req->query, req->query_len, name, v, sizeof v) <= 0) return def;
    return atoi(v);
}

/* Who is asking: 0, or -1 after answering 401/403. */
static int authenticate(gd_game *g, gd_http_conn *c, gd_http_req *req, struct who *w)
{
    memset(w, 0, sizeof *w);
    size_t n;
    const char *a = gd_http_header_get(req->headers, req->nheaders, "authorization", &n);
    if (!a || n < 8 || strncmp(a, "Bearer ", 7) != 0) {
        gd_http_respond_error(c, 401, "MissingAuthenticationToken",
                              "send Authorization: Bearer TOKEN (the team token printed by "
                              "'gameday play', or in game.json)");
        return -1;
    }
    char tok[80];
    snprintf(tok, sizeof tok, "%.*s", (int)(n - 7 < 79 ? n - 7 : 79), a + 7);
    if (!strcmp(tok, g->admin_token)) {
        w->admin = 1;
        w->team = query_int(req, "team", g->nteams == 1 ? 1 : 0);
        snprintf(w->principal, sizeof w->principal, "admin");
        return 0;
    }
    if (!strcmp(tok, g->internal_token)) {
        w->internal = 1;
        snprintf(w->principal, sizeof w->principal, "gameday");
        return 0;
    }
    int team = gd_store_team_by_token(g->db, tok);
    if (team <= 0) {
        gd_http_respond_error(c, 403, "InvalidToken", "the token is not valid for this game");
        return -1;
    }
    int asked = query_int(req, "team", team);
    if (asked != team) {
        gd_http_respond_error(c, 403, "AccessDenied", "a team token acts on its own team only");
        return -1;
    }
    w->team = team;
    snprintf(w->principal, sizeof w->principal, "team-%d", team);
    return 0;
}

static json_t *body_json(gd_http_conn *c, gd_http_req *req)
{
    json_error_t je;
    json_t *j = json_loadb(req->body, req->body_len, 0, &je);
    if (!j || !json_is_object(j)) {
        char msg[256];
        snprintf(msg, sizeof msg, "the body must be a JSON object (line %d column %d: %s)", je.line,
                 je.column, j ? "not an object" : je.text);
        json_decref(j);
        gd_http_respond_error(c, 400, "InvalidJSON", msg);
        return NULL;
    }
    return j;
}

static void respond_errs(gd_http_conn *c, const char *code, gd_errs *errs)
{
    json_t *list = json_array();
    for (int i = 0; i < errs->n; i++) json_array_append_new(list, json_string(errs->msgs[i]));
    json_t *j = json_pack("{s:{s:s,s:s,s:o}}", "error", "code", code, "message",
                          errs->n ? errs->msgs[0] : "invalid", "errors", list);
    gd_http_respond_json(c, 400, j);
}

static int need_team(gd_http_conn *c, struct who *w)
{
    if (w->team > 0) return 0;
    gd_http_respond_error(c, 400, "MissingTeam", "the admin token needs ?team=N here");
    return -1;
}

/* ---- resources ---- */

static int valid_name(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > 48) return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
    return 1;
}

/* An alb's rules forward to "default" or to a live target_group of the team; then the
 * edge's own check of the rules. */
static void check_rules(gd_game *g, int team, json_t *spec, gd_errs *errs)
{
    json_t *rules = json_object_get(spec, "rules");
    if (json_array_size(rules) == 0) return;
    json_t *tgs = gd_store_res_list(g->db, team, "target_group", 0);
    const char *names[102];
    char allow[512];
    size_t n = gd_schema_tg_names(tgs, names, 102, allow, sizeof allow), i;
    json_t *r;
    int bad = 0;
    json_array_foreach(rules, i, r)
    {
        const char *tg = gd_schema_rule_forward(r);
        int known = !tg;
        for (size_t k = 0; k < n && !known; k++) known = !strcmp(names[k], tg);
        if (known) continue;
        gd_errs_add(errs,
                    "spec.rules[%zu].action.target_group: no target_group named '%s' in team %d "
                    "(allowed: %s)",
                    i, tg, team, allow);
        bad = 1;
    }
    char err[256];
    if (!bad && gd_rules_check(rules, names, err, sizeof err) < 0)
        gd_errs_add(errs, "spec.%s", err);
    json_decref(tgs);
}

/* A target group serves one load balancer, as in AWS (TargetGroupAssociationLimit):
 * the groups alb `self` sends to must not be another alb's of the team. */
static void check_group_owner(gd_game *g, int team, const char *self, json_t *spec, gd_errs *errs)
{
    json_t *used = gd_schema_alb_groups(spec);
    json_t *albs = json_array_size(used) ? gd_store_res_list(g->db, team, "alb", 0) : NULL;
    size_t i;
    json_t *u;
    json_array_foreach(used, i, u)
    {
        const char *owner = gd_schema_tg_owner(albs, self, json_string_value(u), 0);
        if (owner)
            gd_errs_add(errs,
                        "spec: target_group '%s' already serves alb '%s' (a target group "
                        "serves one load balancer)",
                        json_string_value(u), owner);
    }
    json_decref(albs);
    json_decref(used);
}

/* Checks that every name a spec refers to is a live resource of the right type, and
 * that a subnet lies inside its VPC without overlapping another subnet. */
static void check_refs(gd_game *g, int team, const char *type, const char *name, json_t *spec,
                       gd_errs *errs)
{
    size_t nrefs;
    const gd_schema_ref *refs = gd_schema_refs(&nrefs);
    for (size_t k = 0; k < nrefs; k++) {
        if (strcmp(refs[k].type, type) != 0) continue;
        json_t *v = json_object_get(spec, refs[k].field);
        json_t *list = json_is_array(v) ? json_incref(v) : json_pack("[O]", v ? v : json_null());
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x)
        {
            const char *n = json_string_value(x);
            if (!n) continue;
            if (!strcmp(refs[k].field, "default_target_group") && !strcmp(n, GD_SCHEMA_IMPLICIT_TG))
                continue; /* the alb's own group: the same as none */
            json_t *r = gd_store_res_get(g->db, team, n);
            if (!r || json_is_true(json_object_get(r, "deleted")) ||
                !gd_schema_type_is(str(r, "type"), refs[k].target))
                gd_errs_add(errs, "spec.%s: no %s named '%s' in team %d", refs[k].field,
                            !strcmp(refs[k].target, "lb") ? "load balancer" : refs[k].target, n,
                            team);
            json_decref(r);
        }
        json_decref(list);
    }
    if (!strcmp(type, "alb")) {
        check_rules(g, team, spec, errs);
        check_group_owner(g, team, name, spec, errs);
    }
    if (strcmp(type, "subnet") != 0) return;
    gd_cidr c, o;
    if (gd_cidr_parse(str(spec, "cidr"), team + g->net - 1, &c) < 0) return;
    json_t *vpc = gd_store_res_get(g->db, team, str(spec, "vpc"));
    if (vpc &&
        gd_cidr_parse(str(json_object_get(vpc, "spec"), "cidr"), team + g->net - 1, &o) == 0 &&
        !gd_cidr_contains(o, c))
        gd_errs_add(errs, "spec.cidr: %s is not inside vpc '%s' (%s)", str(spec, "cidr"),
                    str(vpc, "name"), str(json_object_get(vpc, "spec"), "cidr"));
    json_decref(vpc);
    json_t *subnets = gd_store_res_list(g->db, team, "subnet", 0);
    size_t i;
    json_t *sn;
    json_array_foreach(subnets, i, sn)
    {
        if (!strcmp(str(sn, "name"), name)) continue;
        if (gd_cidr_parse(str(json_object_get(sn, "spec"), "cidr"), team + g->net - 1, &o) == 0 &&
            gd_cidr_overlaps(c, o))
            gd_errs_add(errs, "spec.cidr: %s overlaps subnet '%s' (%s)", str(spec, "cidr"),
                        str(sn, "name"), str(json_object_get(sn, "spec"), "cidr"));
    }
    json_decref(subnets);
}

/* Names of live resources that depend on res (AWS: DependencyViolation). */
static void dependents(gd_game *g, int team, json_t *res, gd_buf *out)
{
    json_t *all = gd_store_res_list(g->db, team, NULL, 0);
    const char *name = str(res, "name"), *type = str(res, "type");
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        json_t *spec = json_object_get(r, "spec"), *st = json_object_get(r, "status");
        int dep = 0;
        size_t nrefs;
        const gd_schema_ref *refs = gd_schema_refs(&nrefs);
        for (size_t k = 0; k < nrefs; k++) {
            if (strcmp(refs[k].type, str(r, "type")) != 0 ||
                !gd_schema_type_is(type, refs[k].target))
                continue;
            json_t *v = json_object_get(spec, refs[k].field);
            if (json_is_string(v) && !strcmp(json_string_value(v), name)) dep = 1;
            size_t q;
            json_t *x;
            json_array_foreach(v, q, x) if (json_is_string(x) &&
                                            !strcmp(json_string_value(x), name)) dep = 1;
        }
        /* An alb's rules name target groups inside their actions. */
        if (!strcmp(type, "target_group") && !strcmp(str(r, "type"), "alb")) {
            json_t *used = gd_schema_alb_groups(spec);
            size_t q;
            json_t *x;
            json_array_foreach(used, q, x) dep |= !strcmp(json_string_value(x), name);
            json_decref(used);
        }
        /* Instances launched by a group sit in its subnets without naming them. */
        if (!strcmp(type, "subnet") && !strcmp(str(r, "type"), "instance") &&
            !strcmp(str(st, "subnet"), name) && strcmp(str(st, "state"), "terminated") != 0)
            dep = 1;
        if (!strcmp(str(r, "type"), "instance") && !strcmp(str(st, "state"), "terminated")) dep = 0;
        if (dep)
            gd_buf_printf(out, "%s%s %s", out->len ? ", " : "", str(r, "type"), str(r, "name"));
    }
    json_decref(all);
}

static void create_resource(gd_game *g, gd_http_conn *c, gd_http_req *req, struct who *w)
{
    if (need_team(c, w) < 0) return;
    json_t *b = body_json(c, req);
    if (!b) return;
    const char *type = str(b, "type"), *name = str(b, "name");
    json_t *spec = json_deep_copy(json_object_get(b, "spec"));
    if (!spec) spec = json_object();
    gd_errs errs = {0};
    if (!gd_schema_known(type)) {
        char allow[200] = "";
        for (const char *const *t = gd_schema_types(); *t; t++)
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
                     allow[0] ? ", " : "", *t);
        gd_errs_add(&errs, "type: '%s' is not a resource type (allowed: %s)", type, allow);
    } else if (!valid_name(name)) {
        gd_errs_add(&errs,
                    "name: '%s' is not a valid name (allowed: [a-z0-9-], 1..48 "
                    "characters)",
                    name);
    } else if (gd_schema_check(type, name, spec, NULL, "spec", &errs) == 0) {
        check_refs(g, w->team, type, name, spec, &errs);
    }
    const char *event = "CreateResource";
    if (errs.n) {
        gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), event, json_incref(b), NULL,
                      "ValidationError");
        respond_errs(c, "ValidationError", &errs);
        gd_errs_free(&errs);
        json_decref(spec);
        json_decref(b);
        return;
    }
    char id[40], err[256];
    int r;
    if (!strcmp(type, "instance")) {
        r = gd_launcher_run_instance(g, w->team, name, str(spec, "launch_template"),
                                     json_string_value(json_object_get(spec, "instance_type")),
                                     str(spec, "subnet"), NULL, 0, w->principal,
                                     gd_http_conn_peer(c), id, err, sizeof err);
        if (r < 0) {
            gd_http_respond_error(
                c, r == GD_EEXIST ? 409 : 400,
                r == GD_EFULL ? "InsufficientFreeAddressesInSubnet" : "InvalidParameterValue", err);
            json_decref(spec);
            json_decref(b);
            return;
        }
    } else {
        r = gd_store_res_create(g->db, w->team, type, name, spec, NULL, gd_game_now(g), id);
        gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), event, json_incref(b),
                      r == 0 ? json_pack("{s:s}", "id", id) : NULL,
                      r == GD_EEXIST ? "AlreadyExists"
                      : r < 0        ? "InternalError"
                                     : NULL);
        if (r < 0) {
            gd_http_respond_error(
                c, r == GD_EEXIST ? 409 : 500, r == GD_EEXIST ? "AlreadyExists" : "InternalError",
                r == GD_EEXIST ? "a resource of that name exists" : gd_strerror(r));
            json_decref(spec);
            json_decref(b);
            return;
        }
    }
    gd_launcher_reconcile(g);
    gd_http_respond_json(c, 201, gd_store_res_get(g->db, w->team, id));
    json_decref(spec);
    json_decref(b);
}

static void update_resource(gd_game *g, gd_http_conn *c, gd_http_req *req, struct who *w,
                            json_t *res, json_t *patch, const char *event)
{
    const char *type = str(res, "type"), *name = str(res, "name");
    json_t *spec = json_deep_copy(json_object_get(res, "spec"));
    json_object_update(spec, patch);
    gd_errs errs = {0};
    if (gd_schema_check(type, name, spec, NULL, "spec", &errs) == 0)
        check_refs(g, w->team, type, name, spec, &errs);
    json_t *req_params = json_pack("{s:s,s:O}", "id", str(res, "id"), "spec", patch);
    if (errs.n) {
        gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), event, req_params, NULL,
                      "ValidationError");
        respond_errs(c, "ValidationError", &errs);
        gd_errs_free(&errs);
        json_decref(spec);
        return;
    }
    int r = gd_store_res_set_spec(g->db, str(res, "id"), spec, gd_game_now(g));
    gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), event, req_params,
                  r == 0 ? json_pack("{s:O}", "spec", spec) : NULL, r < 0 ? "InternalError" : NULL);
    json_decref(spec);
    if (r < 0) {
        gd_http_respond_error(c, 500, "InternalError", gd_strerror(r));
        return;
    }
    gd_launcher_reconcile(g);
    gd_http_respond_json(c, 200, gd_store_res_get(g->db, w->team, str(res, "id")));
}

static void delete_resource(gd_game *g, gd_http_conn *c, struct who *w, json_t *res)
{
    const char *id = str(res, "id");
    gd_buf deps;
    gd_buf_init(&deps, 4096);
    if (strcmp(str(res, "type"), "instance") != 0) dependents(g, w->team, res, &deps);
    if (deps.len) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s '%s' is in use by: %s", str(res, "type"), str(res, "name"),
                 gd_buf_cstr(&deps));
        gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), "DeleteResource",
                      json_pack("{s:s,s:s}", "id", id, "type", str(res, "type")),
                      json_pack("{s:s}", "message", msg), "DependencyViolation");
        gd_http_respond_error(c, 409, "DependencyViolation", msg);
        gd_buf_free(&deps);
        return;
    }
    gd_buf_free(&deps);
    if (!strcmp(str(res, "type"), "instance")) {
        gd_launcher_terminate(g, w->team, id, 0, w->principal, gd_http_conn_peer(c), "terminated");
        gd_http_respond_json(c, 200, gd_store_res_get(g->db, w->team, id));
        return;
    }
    if (!strcmp(str(res, "type"), "asg")) {
        /* Deleting a group terminates its instances (AWS: force delete). */
        json_t *inst = gd_store_res_list(g->db, w->team, "instance", 0);
        size_t i;
        json_t *r;
        json_array_foreach(inst, i, r)
        {
            json_t *st = json_object_get(r, "status");
            if (!strcmp(str(st, "asg"), str(res, "name")) && strcmp(str(st, "state"), "terminated"))
                gd_launcher_terminate(g, w->team, str(r, "id"), 0, w->principal,
                                      gd_http_conn_peer(c), "group deleted");
        }
        json_decref(inst);
    }
    int r = gd_store_res_delete(g->db, id, gd_game_now(g));
    gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), "DeleteResource",
                  json_pack("{s:s,s:s}", "id", id, "type", str(res, "type")), NULL,
                  r < 0 ? "NotFound" : NULL);
    gd_launcher_reconcile(g);
    gd_http_respond_json(c, 200, json_pack("{s:s,s:b}", "id", id, "deleted", r == 0));
}

static void scale(gd_game *g, gd_http_conn *c, gd_http_req *req, struct who *w, const char *name,
                  size_t nl)
{
    char nm[64];
    snprintf(nm, sizeof nm, "%.*s", (int)(nl < 63 ? nl : 63), name);
    json_t *b = body_json(c, req);
    if (!b) return;
    json_t *asg = gd_store_res_get(g->db, w->team, nm);
    json_t *d = json_object_get(b, "desired");
    if (!asg || strcmp(str(asg, "type"), "asg") != 0) {
        gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), "SetDesiredCapacity",
                      json_incref(b), NULL, "ResourceNotFound");
        gd_http_respond_error(c, 404, "NotFound", "no autoscaling group of that name");
    } else if (!json_is_integer(d)) {
        gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), "SetDesiredCapacity",
                      json_incref(b), NULL, "ValidationError");
        gd_http_respond_error(c, 400, "ValidationError", "desired: must be an integer");
    } else {
        json_t *spec = json_object_get(asg, "spec");
        json_int_t mn = json_integer_value(json_object_get(spec, "min"));
        json_int_t mx = json_integer_value(json_object_get(spec, "max"));
        json_int_t v = json_integer_value(d);
        if (v < mn || v > mx) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "desired %lld is outside the group's min..max (%lld..%lld); change max first",
                     (long long)v, (long long)mn, (long long)mx);
            gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), "SetDesiredCapacity",
                          json_incref(b), NULL, "ValidationError");
            gd_http_respond_error(c, 400, "ValidationError", msg);
        } else {
            json_t *patch = json_pack("{s:I}", "desired", v);
            update_resource(g, c, req, w, asg, patch, "SetDesiredCapacity");
            json_decref(patch);
        }
    }
    json_decref(asg);
    json_decref(b);
}

static void terminate(gd_game *g, gd_http_conn *c, gd_http_req *req, struct who *w, const char *id,
                      size_t il)
{
    char iid[64];
    snprintf(iid, sizeof iid, "%.*s", (int)(il < 63 ? il : 63), id);
    json_t *b = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
    int force = json_is_true(json_object_get(b, "force"));
    json_decref(b);
    int r = gd_launcher_terminate(g, w->team, iid, force, w->principal, gd_http_conn_peer(c),
                                  "terminated");
    if (r < 0) {
        gd_http_respond_error(c, 404, "InvalidInstanceID.NotFound",
                              "no instance of that id or name");
        return;
    }
    gd_http_respond_json(c, 200, gd_store_res_get(g->db, w->team, iid));
}

/* Points the team's public name (what customers resolve) at another load balancer
 * or CDN, like changing a Route 53 alias record. */
static void set_endpoint(gd_game *g, gd_http_conn *c, gd_http_req *req, struct who *w)
{
    json_t *b = body_json(c, req);
    if (!b) return;
    const char *name = str(b, "name");
    json_t *r = gd_store_res_get(g->db, w->team, name);
    const char *type = str(r, "type");
    int ok = r && (!strcmp(type, "clb") || !strcmp(type, "alb") || !strcmp(type, "cdn"));
    gd_game_audit(g, w->team, w->principal, gd_http_conn_peer(c), "ChangeResourceRecordSets",
                  json_incref(b), ok ? json_pack("{s:s}", "endpoint", name) : NULL,
                  ok ? NULL : "InvalidChangeBatch");
    if (!ok) {
        gd_http_respond_error(c, 400, "InvalidChangeBatch",
                              "name: not a clb, alb or cdn of this team");
    } else {
        char key[32];
        snprintf(key, sizeof key, "endpoint_%d", w->team);
        gd_store_kv_set(g->db, key, name);
        gd_http_respond_json(c, 200, json_pack("{s:s}", "name", name));
    }
    json_decref(r);
    json_decref(b);
}

/* ---- metrics ---- */

static void metrics(gd_game *g, gd_http_conn *c)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 22);
    gd_prom_head(&b, "gameday_game_clock_seconds", "gauge", "Game time since the start");
    gd_prom_sample(&b, "gameday_game_clock_seconds", "", gd_game_now(g));
    gd_prom_head(&b, "gameday_score", "gauge", "Score (sum of the ledger)");
    for (int t = 1; t <= g->nteams; t++) {
        char l[32];
        snprintf(l, sizeof l, "team=\"%d\"", t);
        gd_prom_sample(&b, "gameday_score", l, gd_store_score(g->db, t));
    }
    gd_prom_head(&b, "gameday_customer_requests_total", "counter", "Customer requests by outcome");
    static const char *names[] = {"ok", "error", "timeout", "wrong"};
    for (int t = 1; t <= g->nteams; t++)
        for (int k = 0; k < 4; k++) {
            char l[64];
            snprintf(l, sizeof l, "team=\"%d\",outcome=\"%s\"", t, names[k]);
            gd_prom_sample(&b, "gameday_customer_requests_total", l, (double)g->teams[t].n[k]);
        }
    gd_prom_head(&b, "gameday_cost_dollars_total", "counter", "Billed dollars (with multiplier)");
    for (int t = 1; t <= g->nteams; t++) {
        char l[32];
        snprintf(l, sizeof l, "team=\"%d\"", t);
        gd_prom_sample(&b, "gameday_cost_dollars_total", l, g->teams[t].cost_usd);
    }
    int np = 0;
    for (gd_proc *p = g->procs; p; p = p->next) np++;
    gd_prom_head(&b, "gameday_processes", "gauge", "Child processes watched");
    gd_prom_sample(&b, "gameday_processes", "", np);
    gd_prom_head(&b, "gameday_api_requests_total", "counter", "API requests served");
    gd_prom_sample(&b, "gameday_api_requests_total", "", (double)g->api.requests);
    gd_http_respond(c, 200, NULL, "text/plain; version=0.0.4", b.data, b.len);
    gd_buf_free(&b);
}

/* ---- routing ---- */

static void static_file(gd_http_conn *c, gd_http_req *req)
{
    const char *p = req->path;
    size_t n = req->path_len;
    if (n == 1) {
        p = "/index.html";
        n = 11;
    }
    for (const struct gd_web_asset *a = gd_web_assets; a->path; a++) {
        if (strlen(a->path) == n && !memcmp(a->path, p, n)) {
            gd_http_respond(c, 200, "Cache-Control: no-cache\r\n", a->content_type, a->data,
                            a->len);
            return;
        }
    }
    gd_http_respond_error(c, 404, "NotFound", "no such page; the API lives under /api/v1");
}

static void on_request(gd_http_conn *c, gd_http_req *req, void *ud)
{
    gd_game *g = ud;
    if (req->path_len < 7 || memcmp(req->path, "/api/v1", 7) != 0) {
        if (req->path_len == 8 && !memcmp(req->path, "/metrics", 8))
            metrics(g, c);
        else
            static_file(c, req);
        return;
    }
    const char *seg[6] = {0};
    size_t len[6] = {0};
    int ns = split(req, seg, len, 6);
    int get = req->method == HTTP_GET, post = req->method == HTTP_POST;
    /* Public reads. */
    if (get && ns == 1 && seg_is(seg[0], len[0], "health")) {
        gd_http_respond_json(c, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (get && ns == 1 && seg_is(seg[0], len[0], "game")) {
        gd_http_respond_json(c, 200, gd_game_info(g));
        return;
    }
    if (get && ns == 1 && seg_is(seg[0], len[0], "scoreboard")) {
        gd_http_respond_json(c, 200, gd_game_scoreboard(g));
        return;
    }
    if (get && ns == 1 && seg_is(seg[0], len[0], "status")) {
        gd_http_respond_json(c, 200, gd_game_status(g));
        return;
    }
    if (get && ns == 1 && seg_is(seg[0], len[0], "result")) {
        gd_http_respond_json(c, 200, gd_game_result(g));
        return;
    }
    if (get && ns >= 3 && seg_is(seg[0], len[0], "teams") && seg_is(seg[2], len[2], "score")) {
        int t = atoi(seg[1]);
        if (t < 1 || t > g->nteams) {
            gd_http_respond_error(c, 404, "NotFound", "no such team");
        } else if (ns == 3) {
            gd_http_respond_json(
                c, 200, json_pack("{s:i,s:f}", "team", t, "score", gd_store_score(g->db, t)));
        } else {
            gd_http_respond_json(c, 200,
                                 gd_store_ledger_list(g->db, t, query_int(req, "since", 0),
                                                      query_int(req, "limit", 200)));
        }
        return;
    }
    struct who w;
    if (authenticate(g, c, req, &w) < 0) return;
    if (post && ns == 2 && seg_is(seg[0], len[0], "internal") && seg_is(seg[1], len[1], "report")) {
        if (!w.internal && !w.admin) {
            gd_http_respond_error(c, 403, "AccessDenied", "reports come from gameday's loadgens");
            return;
        }
        json_t *b = body_json(c, req);
        if (!b) return;
        char err[200];
        int r = gd_game_report(g, b, err, sizeof err);
        int team = (int)json_integer_value(json_object_get(b, "team"));
        json_decref(b);
        if (r < 0) {
            gd_http_respond_error(c, 400, "InvalidReport", err);
            return;
        }
        char ep[48];
        gd_game_endpoint(g, team, ep, sizeof ep);
        gd_http_respond_json(c, 200, json_pack("{s:s}", "endpoint", ep));
        return;
    }
    if (w.internal) {
        gd_http_respond_error(c, 403, "AccessDenied", "the internal token only sends reports");
        return;
    }
    const char *what = ns ? seg[0] : "";
    size_t wl = ns ? len[0] : 0;
    if (get && ns == 1 && seg_is(what, wl, "teams")) {
        json_t *teams = gd_store_teams(g->db);
        size_t i;
        json_t *t;
        json_array_foreach(teams, i, t) json_object_del(t, "token");
        gd_http_respond_json(c, 200, teams);
    } else if (get && ns == 1 && seg_is(what, wl, "score")) {
        if (need_team(c, &w) < 0) return;
        gd_http_respond_json(
            c, 200, json_pack("{s:i,s:f}", "team", w.team, "score", gd_store_score(g->db, w.team)));
    } else if (get && ns == 2 && seg_is(what, wl, "score") && seg_is(seg[1], len[1], "events")) {
        gd_http_respond_json(c, 200,
                             gd_store_ledger_list(g->db, w.team, query_int(req, "since", 0),
                                                  query_int(req, "limit", 200)));
    } else if (get && ns == 1 && seg_is(what, wl, "audit")) {
        gd_http_respond_json(c, 200,
                             gd_store_audit_list(g->db, w.team, query_int(req, "since", 0),
                                                 query_int(req, "limit", 500)));
    } else if (get && ns == 1 && seg_is(what, wl, "instances")) {
        gd_http_respond_json(c, 200, gd_launcher_instances(g, w.team));
    } else if (post && ns == 3 && seg_is(what, wl, "instances") &&
               seg_is(seg[2], len[2], "terminate")) {
        if (need_team(c, &w) < 0) return;
        terminate(g, c, req, &w, seg[1], len[1]);
    } else if (post && ns == 3 && seg_is(what, wl, "asgs") && seg_is(seg[2], len[2], "scale")) {
        if (need_team(c, &w) < 0) return;
        scale(g, c, req, &w, seg[1], len[1]);
    } else if (get && ns == 1 && seg_is(what, wl, "metrics")) {
        char res[64] = "", metric[64] = "";
        gd_http_query_get(req->query, req->query_len, "resource", res, sizeof res);
        gd_http_query_get(req->query, req->query_len, "metric", metric, sizeof metric);
        json_t *r = res[0] ? gd_store_res_get(g->db, w.team, res) : NULL;
        if (!r) {
            gd_http_respond_error(c, 404, "NotFound",
                                  "resource=NAME: no such resource in the team");
            return;
        }
        if (metric[0])
            gd_http_respond_json(
                c, 200,
                gd_metrics_series(g->metrics, str(r, "id"), metric, query_int(req, "since", 0)));
        else
            gd_http_respond_json(c, 200, gd_metrics_latest(g->metrics, str(r, "id")));
        json_decref(r);
    } else if (ns == 1 && seg_is(what, wl, "endpoint")) {
        if (need_team(c, &w) < 0) return;
        if (get) {
            char ep[48], key[32];
            gd_game_endpoint(g, w.team, ep, sizeof ep);
            snprintf(key, sizeof key, "endpoint_%d", w.team);
            char *name = gd_store_kv_get(g->db, key);
            gd_http_respond_json(c, 200,
                                 json_pack("{s:s,s:s}", "name", name ? name : "", "address", ep));
            gd_free(name);
        } else {
            set_endpoint(g, c, req, &w);
        }
    } else if (get && ns == 1 && seg_is(what, wl, "resources")) {
        char type[32] = "";
        gd_http_query_get(req->query, req->query_len, "type", type, sizeof type);
        gd_http_respond_json(c, 200, gd_store_res_list(g->db, w.team, type[0] ? type : NULL, 0));
    } else if (post && ns == 1 && seg_is(what, wl, "resources")) {
        create_resource(g, c, req, &w);
    } else if (ns == 2 && seg_is(what, wl, "resources")) {
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)(len[1] < 63 ? len[1] : 63), seg[1]);
        if (need_team(c, &w) < 0) return;
        json_t *res = gd_store_res_get(g->db, w.team, id);
        if (res && !get && json_is_true(json_object_get(res, "deleted"))) {
            json_decref(res);
            res = NULL; /* a deleted resource can be read, not changed */
        }
        if (!res) {
            if (!get)
                gd_game_audit(g, w.team, w.principal, gd_http_conn_peer(c),
                              req->method == HTTP_DELETE ? "DeleteResource" : "UpdateResource",
                              json_pack("{s:s}", "id", id), NULL, "ResourceNotFound");
            gd_http_respond_error(c, 404, "NotFound", "no resource of that id or name");
        } else if (get) {
            gd_http_respond_json(c, 200, json_incref(res));
        } else if (req->method == HTTP_PATCH || req->method == HTTP_PUT) {
            json_t *b = body_json(c, req);
            if (b) {
                json_t *patch = json_object_get(b, "spec");
                if (!json_is_object(patch)) {
                    gd_http_respond_error(c, 400, "ValidationError",
                                          "the body must be {\"spec\": {field: value, ...}}");
                } else {
                    update_resource(g, c, req, &w, res, patch, "UpdateResource");
                }
                json_decref(b);
            }
        } else if (req->method == HTTP_DELETE) {
            delete_resource(g, c, &w, res);
        } else {
            gd_http_respond_error(c, 405, "MethodNotAllowed", "GET, PATCH or DELETE");
        }
        json_decref(res);
    } else {
        gd_http_respond_error(c, 404, "NotFound", "no such API path; see doc/api.md");
    }
}

int gd_api_start(gd_game *g)
{
    gd_http_server_init(&g->api, g->loop, on_request, g);
    int r = gd_http_server_listen(&g->api, g->host, g->port);
    if (r < 0) {
        gd_error("listen_failed", "addr=%s:%d err=%s", g->host, g->port, gd_strerror(r));
        fprintf(stderr, "gameday server: cannot listen on %s:%d: %s\n", g->host, g->port,
                r == GD_EEXIST ? "address in use (another game running? try --port)"
                               : gd_strerror(r));
    }
    return r;
}
