/* The edge push: one edge process per load balancer or cdn, the configuration
 * document built from its resource, its targets and its target groups, pushed over
 * the edge's admin port when it changes, and the edge's /stats read back once a
 * second into metrics, target health and the target groups' status. */
#include "core/addr.h"
#include "core/check.h"
#include "model/schema.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/faults.h"
#include "server/invalidations.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>

#define EDGE_ADMIN_PORT 9901
#define EDGE_FAULTS_MAX 16 /* faults an edge takes in one config (src/edge/fault.h) */

gd_edge_link *gd_edge_link_find(gd_game *g, const char *res_id)
{
    for (gd_edge_link *e = g->edges; e; e = e->next)
        if (!strcmp(e->res_id, res_id)) return e;
    return NULL;
}

/* The health an edge last reported for a target of one of its groups (1 InService), or
 * -1 unknown. */
static int last_health(gd_edge_link *e, const char *id, const char *group)
{
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(e ? e->stats : NULL, "targets"), k, t)
    {
        if (!strcmp(gd_jstr(t, "id"), id) && !strcmp(gd_jstr(t, "target_group"), group))
            return !strcmp(gd_jstr(t, "state"), "InService");
    }
    return -1;
}

/* The first live resource of `team` named `name` in list, or NULL. */
static json_t *find_res(json_t *list, int team, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        if ((int)json_integer_value(json_object_get(r, "team")) == team &&
            !strcmp(gd_jstr(r, "name"), name))
            return r;
    }
    return NULL;
}

/* The running instances of `team` registered with a target group: named in `names` (by
 * name or id), or launched by a group whose spec field `field` ("load_balancers" or
 * "target_groups") lists `owner`. Each is reached at its ip:port. Its healthy flag is
 * what edge e last said of it in `group`; unknown, it is `boot` for the instances the
 * game started with. */
static json_t *group_targets(int team, json_t *names, const char *field, const char *owner,
                             int port, int boot, json_t *instances, json_t *asgs, gd_edge_link *e,
                             const char *group)
{
    json_t *targets = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        if ((int)json_integer_value(json_object_get(r, "team")) != team) continue;
        json_t *ist = json_object_get(r, "status");
        if (gd_inst_state_of(ist) != GD_INST_RUNNING || gd_instance_leaving(r)) continue;
        int reg = 0;
        size_t k;
        json_t *x;
        json_array_foreach(names, k, x)
        {
            const char *n = json_string_value(x);
            if (n && (!strcmp(n, gd_jstr(r, "name")) || !strcmp(n, gd_jstr(r, "id")))) reg = 1;
        }
        json_t *asg = *gd_jstr(ist, "asg") ? find_res(asgs, team, gd_jstr(ist, "asg")) : NULL;
        json_array_foreach(json_object_get(json_object_get(asg, "spec"), field), k, x)
        {
            if (json_string_value(x) && !strcmp(json_string_value(x), owner)) reg = 1;
        }
        /* an ECS task: its service's target groups (gd_ecs_targets), at its own port */
        int task = !strcmp(gd_jstr(r, "type"), "task");
        if (task) json_array_foreach(json_object_get(ist, field), k, x)
            {
                if (json_string_value(x) && !strcmp(json_string_value(x), owner)) reg = 1;
            }
        if (!reg) continue;
        char addr[40];
        snprintf(addr, sizeof addr, "%s:%d", gd_jstr(ist, "ip"),
                 task ? (int)gd_jnum(ist, "port", port) : port);
        int known = last_health(e, gd_jstr(r, "id"), group);
        int healthy = known >= 0 ? known : boot && json_is_true(json_object_get(ist, "initial"));
        json_array_append_new(targets,
                              json_pack("{s:s,s:s,s:s,s:b}", "id", gd_jstr(r, "id"), "addr", addr,
                                        "az", gd_jstr(ist, "az"), "healthy", healthy));
    }
    return targets;
}

/* A target group of target type lambda: its function is its one target, at the
 * function's address (services/lambda.c answers the invocations there). */
static json_t *function_targets(gd_game *g, int team, const char *fn, gd_edge_link *e,
                                const char *group)
{
    json_t *targets = json_array();
    json_t *f = gd_store_res_live(g->db, team, fn, "function");
    json_t *st = json_object_get(f, "status");
    if (f && *gd_jstr(st, "ip") && gd_proc_find(g, gd_jstr(f, "id"), GD_PROC_FUNCTION, 0)) {
        char addr[40];
        snprintf(addr, sizeof addr, "%s:%d", gd_jstr(st, "ip"), (int)gd_jnum(st, "port", 8000));
        int known = last_health(e, gd_jstr(f, "id"), group);
        json_array_append_new(targets,
                              json_pack("{s:s,s:s,s:s,s:b}", "id", gd_jstr(f, "id"), "addr", addr,
                                        "az", gd_jstr(st, "az"), "healthy", known != 0));
    }
    json_decref(f);
    return targets;
}

/* An alb target group document from the settings an alb or a target_group holds
 * (algorithm, health_check, stickiness, deregistration_delay, slow_start,
 * cross_zone); its targets are reached, and checked, at `port`. Takes targets. */
static json_t *group_doc(const char *name, json_t *spec, int port, json_t *targets)
{
    json_t *hc = json_object_get(spec, "health_check");
    json_t *hcd = json_pack("{s:s,s:i,s:f,s:f,s:i,s:i}", "path",
                            hc ? gd_jstr(hc, "path") : "/health", "port", port, "interval",
                            gd_jnum(hc, "interval", 30), "timeout", gd_jnum(hc, "timeout", 5),
                            "healthy_threshold", (int)gd_jnum(hc, "healthy_threshold", 5),
                            "unhealthy_threshold", (int)gd_jnum(hc, "unhealthy_threshold", 2));
    if (json_object_get(hc, "matcher"))
        json_object_set(hcd, "matcher", json_object_get(hc, "matcher"));
    json_t *tg = json_pack("{s:s,s:s,s:o,s:f,s:f,s:b,s:o}", "name", name, "algorithm",
                           gd_jstr(spec, "algorithm"), "health_check", hcd, "deregistration_delay",
                           gd_jnum(spec, "deregistration_delay", 300), "slow_start",
                           gd_jnum(spec, "slow_start", 0), "cross_zone",
                           !json_is_false(json_object_get(spec, "cross_zone")), "targets", targets);
    json_t *sticky = json_object_get(spec, "stickiness");
    if (strcmp(gd_jstr(sticky, "type"), "lb_cookie") == 0 ||
        strcmp(gd_jstr(sticky, "type"), "app_cookie") == 0) {
        json_t *sj = json_pack("{s:s,s:f}", "type", gd_jstr(sticky, "type"), "duration",
                               gd_jnum(sticky, "duration", 86400));
        if (json_object_get(sticky, "cookie_name"))
            json_object_set(sj, "cookie_name", json_object_get(sticky, "cookie_name"));
        json_object_set_new(tg, "stickiness", sj);
    }
    return tg;
}

/* The document an edge process is configured with, for a clb, alb or cdn resource.
 * tgs lists the target_group resources. */
static json_t *edge_config(gd_game *g, json_t *lb, json_t *instances, json_t *asgs, json_t *tgs)
{
    const char *type = gd_jstr(lb, "type");
    json_t *spec = json_object_get(lb, "spec"), *st = json_object_get(lb, "status");
    int iport = (int)gd_jnum(spec, "instance_port", 8000);
    char listen[40];
    snprintf(listen, sizeof listen, "%s:%d", gd_jstr(st, "ip"), (int)gd_jnum(st, "port", 8080));
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:f}", "mode", type, "id", gd_jstr(lb, "id"), "name",
                            gd_jstr(lb, "name"), "listen", listen, "idle_timeout",
                            gd_jnum(spec, "idle_timeout", 60));
    /* The network faults an experiment put on its links (doc/edge.md "Faults"). An edge
     * refuses a config of more than EDGE_FAULTS_MAX (and would then miss its new targets
     * too): the oldest EDGE_FAULTS_MAX go, newer ones wait until one of them ends. */
    json_t *faults = gd_faults_for(g, gd_jstr(lb, "id"));
    while (json_array_size(faults) > EDGE_FAULTS_MAX) json_array_remove(faults, EDGE_FAULTS_MAX);
    if (json_array_size(faults) > 0)
        json_object_set_new(doc, "faults", faults);
    else
        json_decref(faults);
    int team = (int)json_integer_value(json_object_get(lb, "team"));
    json_t *sgs = json_object_get(spec, "security_groups");
    if (json_is_array(sgs)) { /* its security groups: who may connect to its port */
        gd_buf b;
        gd_buf_init(&b, 1 << 20);
        gd_sg_allow(g, team, sgs, (int)gd_jnum(st, "port", 8080), &b);
        json_t *allow = json_array();
        const char *t = b.len ? gd_buf_cstr(&b) : "";
        while (*t) {
            size_t n = strcspn(t, "\n");
            if (n) json_array_append_new(allow, json_stringn(t, n));
            t += n + (t[n] == '\n');
        }
        json_object_set_new(doc, "allow", allow);
        gd_buf_free(&b);
    }
    if (!strcmp(type, "cdn")) {
        /* The origin is a load balancer of the same team. */
        json_t *o = gd_store_res_get(g->db, team, gd_jstr(spec, "origin"));
        json_t *ost = json_object_get(o, "status");
        char origin[40];
        snprintf(origin, sizeof origin, "%s:%d", gd_jstr(ost, "ip"),
                 (int)gd_jnum(ost, "port", 8080));
        json_t *qs = json_object_get(spec, "query_include")
                         ? json_pack("{s:O}", "include", json_object_get(spec, "query_include"))
                         : json_string(gd_jstr(spec, "query_strings"));
        json_object_set_new(
            doc, "origin",
            json_pack("{s:s}", "addr", *gd_jstr(ost, "ip") ? origin : "127.0.0.1:1"));
        json_object_set_new(
            doc, "cache",
            json_pack("{s:I,s:[{s:s,s:o,s:O,s:O,s:f,s:f,s:f,s:f,s:f}]}", "max_bytes",
                      (json_int_t)gd_jnum(spec, "max_bytes", 67108864), "behaviors", "path", "*",
                      "query_strings", qs, "headers", json_object_get(spec, "headers"), "cookies",
                      json_object_get(spec, "cookies"), "min_ttl", gd_jnum(spec, "min_ttl", 0),
                      "default_ttl", gd_jnum(spec, "default_ttl", 86400), "max_ttl",
                      gd_jnum(spec, "max_ttl", 31536000), "stale_while_revalidate",
                      gd_jnum(spec, "stale_while_revalidate", 0), "stale_if_error",
                      gd_jnum(spec, "stale_if_error", 0)));
        json_decref(o);
        return doc;
    }
    /* The game starts with a running system: the first fleet behind the first load
     * balancers is in service. Later, a respawned edge keeps what its predecessor
     * knew; anything else must pass its health checks. */
    int boot = json_is_true(json_object_get(st, "bootstrap"));
    gd_edge_link *e = gd_edge_link_find(g, gd_jstr(lb, "id"));
    json_t *targets =
        group_targets(team, json_object_get(spec, "instances"), "load_balancers",
                      gd_jstr(lb, "name"), iport, boot, instances, asgs, e, GD_SCHEMA_IMPLICIT_TG);
    if (!strcmp(type, "clb")) {
        json_object_set_new(doc, "deregistration_delay",
                            json_real(gd_jnum(spec, "connection_draining", 300)));
        json_t *hc = json_object_get(spec, "health_check");
        json_object_set_new(
            doc, "health_check",
            json_pack("{s:s,s:i,s:f,s:f,s:i,s:i}", "path", hc ? gd_jstr(hc, "path") : "/health",
                      "port", iport, "interval", gd_jnum(hc, "interval", 30), "timeout",
                      gd_jnum(hc, "timeout", 5), "healthy_threshold",
                      (int)gd_jnum(hc, "healthy_threshold", 10), "unhealthy_threshold",
                      (int)gd_jnum(hc, "unhealthy_threshold", 2)));
        json_object_set_new(doc, "targets", targets);
        return doc;
    }
    /* An alb: its own group "default", then each target_group it sends to. */
    json_t *groups = json_pack("[o]", group_doc(GD_SCHEMA_IMPLICIT_TG, spec, iport, targets));
    json_t *used = gd_schema_alb_groups(spec);
    size_t i;
    json_t *n;
    json_array_foreach(used, i, n)
    {
        const char *name = json_string_value(n);
        json_t *tg = find_res(tgs, team, name), *tgs_spec = json_object_get(tg, "spec");
        if (!tg) continue; /* the edge refuses the document: it names a group it lacks */
        int port = (int)gd_jnum(tgs_spec, "port", 8000);
        const char *fn = json_string_value(json_object_get(tgs_spec, "function"));
        json_t *gdoc = group_doc(name, tgs_spec, port,
                                 fn ? function_targets(g, team, fn, e, name)
                                    : group_targets(team, json_object_get(tgs_spec, "instances"),
                                                    "target_groups", name, port, boot, instances,
                                                    asgs, e, name));
        if (fn) json_object_set_new(gdoc, "target_type", json_string("lambda"));
        json_array_append_new(groups, gdoc);
    }
    json_decref(used);
    json_object_set_new(doc, "target_groups", groups);
    const char *dflt = json_string_value(json_object_get(spec, "default_target_group"));
    json_object_set_new(doc, "default_action",
                        json_pack("{s:s,s:s}", "type", "forward", "target_group",
                                  dflt ? dflt : GD_SCHEMA_IMPLICIT_TG));
    json_t *rules = json_object_get(spec, "rules");
    if (json_array_size(rules)) json_object_set(doc, "rules", rules);
    return doc;
}

/* A target_group's status: the albs that send to it, its registered running instances,
 * and how many of those its albs' edges last counted InService (in every alb that
 * has it) or OutOfService. Written only when it changes. */
void gd_edgepush_tg_status(gd_game *g, json_t *tg, json_t *lbs, json_t *instances, json_t *asgs)
{
    int team = (int)json_integer_value(json_object_get(tg, "team"));
    const char *name = gd_jstr(tg, "name");
    json_t *spec = json_object_get(tg, "spec");
    json_t *albs = json_array(), *seen = json_object();
    size_t i, k;
    json_t *r, *t;
    json_array_foreach(lbs, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "alb") != 0 ||
            (int)json_integer_value(json_object_get(r, "team")) != team)
            continue;
        json_t *used = gd_schema_alb_groups(json_object_get(r, "spec"));
        int uses = 0;
        json_array_foreach(used, k, t) uses |= !strcmp(json_string_value(t), name);
        json_decref(used);
        if (!uses) continue;
        json_array_append_new(albs, json_string(gd_jstr(r, "name")));
        gd_edge_link *e = gd_edge_link_find(g, gd_jstr(r, "id"));
        json_array_foreach(json_object_get(e ? e->stats : NULL, "targets"), k, t)
        {
            if (strcmp(gd_jstr(t, "target_group"), name) != 0) continue;
            const char *state = gd_jstr(t, "state");
            if (!strcmp(state, "OutOfService"))
                json_object_set_new(seen, gd_jstr(t, "id"), json_false());
            else if (!strcmp(state, "InService") && !json_object_get(seen, gd_jstr(t, "id")))
                json_object_set_new(seen, gd_jstr(t, "id"), json_true());
        }
    }
    int healthy = 0, unhealthy = 0;
    const char *id;
    json_object_foreach(seen, id, t)
    {
        healthy += json_is_true(t);
        unhealthy += json_is_false(t);
    }
    json_decref(seen);
    json_t *reg = group_targets(team, json_object_get(spec, "instances"), "target_groups", name,
                                8000, 0, instances, asgs, NULL, name);
    json_t *fresh =
        json_pack("{s:o,s:i,s:i,s:i}", "load_balancers", albs, "targets", (int)json_array_size(reg),
                  "healthy", healthy, "unhealthy", unhealthy);
    json_decref(reg);
    json_t *st = json_object_get(tg, "status");
    int same = 1;
    json_object_foreach(fresh, id, t) same &= json_equal(json_object_get(st, id), t);
    if (same)
        json_decref(fresh);
    else
        gd_launcher_set_status(g, gd_jstr(tg, "id"), fresh);
}

/* The metrics of the target_group resources an alb's edge sends to, from its stats
 * (its own group "default" is the alb's, in the alb's metrics). */
static void group_metrics(gd_game *g, gd_edge_link *e, double now, const json_t *cur)
{
    json_t *groups = json_object_get(cur, "target_groups");
    if (json_array_size(groups) < 2) return;
    json_t *lb = gd_store_res_get(g->db, 0, e->res_id);
    int team = (int)json_integer_value(json_object_get(lb, "team"));
    json_decref(lb);
    size_t i, k;
    json_t *x, *p;
    json_array_foreach(groups, i, x)
    {
        const char *name = gd_jstr(x, "name");
        if (!strcmp(name, GD_SCHEMA_IMPLICIT_TG)) continue;
        json_t *tg = gd_store_res_get(g->db, team, name);
        if (tg && !strcmp(gd_jstr(tg, "type"), "target_group")) {
            const json_t *prev = NULL;
            json_array_foreach(json_object_get(e->stats, "target_groups"), k,
                               p) if (!strcmp(gd_jstr(p, "name"), name)) prev = p;
            gd_metrics_from_group(g->metrics, gd_jstr(tg, "id"), now, prev, x);
        }
        json_decref(tg);
    }
}

static void on_stats(void *ud, int err, const gd_httpc_resp *resp)
{
    gd_edge_link *e = ud;
    GD_CHECK_OBJ(e, GD_EDGE_LINK_MAGIC);
    e->stats_inflight = 0;
    if (err || resp->status != 200) return;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (j) {
        gd_game *g = e->admin_loop->data;
        double now = gd_game_now(g);
        gd_metrics_from_edge(g->metrics, e->res_id, now, e->stats, j);
        group_metrics(g, e, now, j);
        json_decref(e->stats);
        e->stats = j;
        e->stats_from = e->stats_at;
    }
}

void gd_edgepush_reconcile(gd_game *g, json_t *lb, json_t *instances, json_t *asgs, json_t *tgs)
{
    int team = (int)json_integer_value(json_object_get(lb, "team"));
    const char *id = gd_jstr(lb, "id");
    json_t *spec = json_object_get(lb, "spec"), *st = json_object_get(lb, "status");
    if (!*gd_jstr(st, "ip")) {
        uint32_t ip;
        char err[256], ipb[16];
        const char *subnet = json_string_value(json_array_get(json_object_get(spec, "subnets"), 0));
        int cdn = !strcmp(gd_jstr(lb, "type"), "cdn");
        if (cdn ? gd_net_alloc_cdn_ip(g, team, &ip) < 0
                : (!subnet || gd_net_alloc_ip(g, team, subnet, &ip, err, sizeof err) < 0)) {
            if (cdn) snprintf(err, sizeof err, "no free edge address");
            gd_launcher_set_status(g, id,
                                   json_pack("{s:s,s:s}", "state", "failed", "last_error",
                                             subnet || cdn ? err : "no subnet"));
            return;
        }
        gd_ip_format(ip, ipb);
        char dns[128];
        snprintf(dns, sizeof dns,
                 cdn ? "%s-%d.cloudfront.gameday.internal" : "%s-%d.elb.gameday.internal",
                 gd_jstr(lb, "name"), team);
        gd_launcher_set_status(g, id,
                               json_pack("{s:s,s:s,s:i,s:s}", "state", "active", "ip", ipb, "port",
                                         (int)gd_jnum(spec, "port", 8080), "dns_name", dns));
        return; /* picked up on the next pass with its address */
    }
    /* A load balancer has a node in each zone of its subnets; when every one of them
     * is down (an AZ outage), so is the load balancer, until one comes back. */
    if (strcmp(gd_jstr(lb, "type"), "cdn") != 0 &&
        (gd_az_any_down(g) || !strcmp(gd_jstr(st, "state"), "impaired"))) {
        int up = 0;
        size_t k;
        json_t *sn;
        json_array_foreach(json_object_get(spec, "subnets"), k, sn)
        {
            json_t *sr = gd_store_res_get(g->db, team, json_string_value(sn));
            up |= gd_az_down_until(g, gd_jstr(json_object_get(sr, "spec"), "az")) == 0;
            json_decref(sr);
        }
        gd_proc *pr = gd_proc_find(g, id, GD_PROC_EDGE, 0);
        if (!up) {
            if (pr) gd_proc_stop(pr, SIGKILL, "every availability zone of its subnets is down");
            if (strcmp(gd_jstr(st, "state"), "impaired") != 0)
                gd_launcher_set_status(g, id, json_pack("{s:s}", "state", "impaired"));
            return;
        }
        if (!strcmp(gd_jstr(st, "state"), "impaired"))
            gd_launcher_set_status(g, id, json_pack("{s:s}", "state", "active"));
    }
    gd_edge_link *e = gd_edge_link_find(g, id);
    uint32_t ip;
    gd_ip_parse(gd_jstr(st, "ip"), &ip);
    if (!e) e = gd_link_add(g, &g->edges, id, ip, EDGE_ADMIN_PORT);
    if (!gd_proc_find(g, id, GD_PROC_EDGE, 0)) {
        char admin[48], e_tok[128], e_speed[64], e_epoch[64];
        snprintf(admin, sizeof admin, "%s:%d", gd_jstr(st, "ip"), EDGE_ADMIN_PORT);
        snprintf(e_tok, sizeof e_tok, "GAMEDAY_ADMIN_TOKEN=%s", g->internal_token);
        gd_proc_clock_env(e_speed, e_epoch, sizeof e_speed);
        char *env[] = {e_tok, e_speed, e_epoch, NULL};
        char *args[] = {g->exe, "edge", "--admin", admin, NULL};
        gd_proc *p = gd_proc_spawn(g, GD_PROC_EDGE, team, id, args, env, id);
        gd_free(e->pushed);
        e->pushed = NULL;
        if (p) gd_launcher_set_status(g, id, json_pack("{s:i,s:s}", "pid", p->pid, "admin", admin));
    }
    gd_link_push(g, e, edge_config(g, lb, instances, asgs, tgs));
    if (!strcmp(gd_jstr(lb, "type"), "cdn")) gd_inv_push(g, lb, e);
    gd_link_poll_stats(g, e, on_stats);
}

void gd_edgepush_forget(gd_game *g, json_t *edges)
{
    gd_link_forget(g, &g->edges, edges, GD_PROC_EDGE, "load balancer deleted");
}
