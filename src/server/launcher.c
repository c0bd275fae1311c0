/* The launcher: one reconcile pass runs each reconciler of the table below in turn,
 * on one view of the store. The reconcilers live with what they drive: the
 * autoscaler (autoscaler.c), instance boots (instances.c), the edges and target
 * groups (edgepush.c); processes are in proc.c, addresses in netalloc.c. */
#include "model/registry.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/functions.h"
#include "server/ecs.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gd_launcher_set_status(gd_game *g, const char *id, json_t *fields)
{
    json_t *r = gd_store_res_get(g->db, 0, id);
    if (!r) {
        json_decref(fields);
        return;
    }
    json_t *st = json_deep_copy(json_object_get(r, "status"));
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    json_object_update(st, fields);
    gd_store_res_set_status(g->db, id, st, gd_game_now(g));
    json_decref(st);
    json_decref(fields);
    json_decref(r);
}

json_t *gd_launcher_list_flagged(gd_game *g, int team, unsigned flags)
{
    const char *names[32];
    size_t n = gd_registry_names(flags, names, 32);
    json_t *all = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *x = gd_store_res_list(g->db, team, names[k], 0);
        json_array_extend(all, x);
        json_decref(x);
    }
    return all;
}

/* ---- loadgens ---- */

void gd_launcher_start_loadgen(gd_game *g, int team)
{
    if (gd_proc_find(g, NULL, GD_PROC_LOADGEN, team)) return;
    char steam[16], server[48], endpoint[48], dur[32], e_tok[128], e_speed[64], e_epoch[64];
    char logname[32];
    snprintf(steam, sizeof steam, "%d", team);
    snprintf(server, sizeof server, "%s:%d", g->host, g->port);
    gd_game_endpoint(g, team, endpoint, sizeof endpoint);
    snprintf(dur, sizeof dur, "%.3f", g->duration);
    snprintf(e_tok, sizeof e_tok, "GAMEDAY_INTERNAL_TOKEN=%s", g->internal_token);
    snprintf(logname, sizeof logname, "loadgen-%d", team);
    gd_proc_clock_env(e_speed, e_epoch, sizeof e_speed);
    char *env[] = {e_tok, e_speed, e_epoch, NULL};
    char maddr[48];
    snprintf(maddr, sizeof maddr, "127.%d.255.250:9100", team + g->net - 1);
    char dns[48], name[128];
    gd_dns_addr(g, dns, sizeof dns);
    if (g->sc->dns.resolve) {
        char zone[64];
        gd_dns_zone(team, zone, sizeof zone);
        snprintf(name, sizeof name, "%s.%s", g->sc->dns.resolve, zone);
    }
    char *args[] = {g->exe,       "loadgen",  "--scenario", g->sc->path,  "--team",
                    steam,        "--server", server,       "--endpoint", endpoint,
                    "--duration", dur,        "--metrics",  maddr,        NULL,
                    NULL,         NULL,       NULL,         NULL};
    if (g->sc->dns.resolve) { /* customers find the service by name */
        args[14] = "--dns";
        args[15] = dns;
        args[16] = "--resolve";
        args[17] = name;
    }
    gd_proc *p = gd_proc_spawn(g, GD_PROC_LOADGEN, team, NULL, args, env, logname);
    if (p) {
        char key[32], val[16];
        snprintf(key, sizeof key, "loadgen_pid_%d", team);
        snprintf(val, sizeof val, "%d", p->pid);
        gd_store_kv_set(g->db, key, val);
    }
}

/* ---- reconcile ---- */

/* Customers arrive once the team's endpoint serves: its edge took its first config. */
static int endpoint_ready(gd_game *g, int team)
{
    char key[32];
    snprintf(key, sizeof key, "endpoint_%d", team);
    char *name = gd_store_kv_get(g->db, key);
    json_t *r = name ? gd_store_res_get(g->db, team, name) : NULL;
    gd_free(name);
    /* Customers who resolve the name wait for the zones to be served. */
    int ready = !g->sc->dns.resolve || (g->dns && g->dns->pushed);
    if (r && gd_registry_has(gd_jstr(r, "type"), GD_RT_EDGE)) {
        gd_edge_link *e = gd_edge_link_find(g, gd_jstr(r, "id"));
        ready = ready && e && e->pushed;
    }
    json_decref(r);
    return ready;
}

/* What one reconcile pass reads: the store's view, refreshed after each step that
 * changes it. */
struct pass {
    double now;
    json_t *asgs, *instances, *edges, *tgs;
    json_t *targets; /* instances and running ECS tasks: what target groups register */
};

static void refresh_instances(gd_game *g, struct pass *p)
{
    json_decref(p->instances);
    p->instances = gd_store_res_list(g->db, 0, "instance", 0);
}

/* Auto scaling groups: launch or terminate toward desired (autoscaler). */
static void rc_asgs(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_array_foreach(p->asgs, i, r) gd_autoscaler_reconcile(g, r, p->instances);
    refresh_instances(g, p);
}

/* Security groups: each instance's allow list, before instances boot with it. */
static void rc_sgs(gd_game *g, struct pass *p)
{
    gd_sgs_reconcile(g, p->instances);
    refresh_instances(g, p);
}

/* Cache clusters: their nodes (redis-server processes), checks and failover, before the
 * instances boot (a launch template's session_store names a cluster's endpoint) and the
 * nat's mappings are pushed (elastic_ip, below). */
static void rc_cache(gd_game *g, struct pass *p)
{
    json_t *clusters = gd_store_res_list(g->db, 0, "cache_cluster", 0);
    gd_cache_reconcile(g, clusters);
    json_decref(clusters);
}

/* Instances: boot the pending ones that are due; a running one with no process is lost. */
static void rc_instances(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_array_foreach(p->instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        gd_inst_state state = gd_inst_state_of(st);
        if (state == GD_INST_PENDING && p->now >= gd_jnum(st, "boot_until", 0)) {
            gd_instance_boot(g, r);
        } else if (state == GD_INST_RUNNING &&
                   !gd_proc_find(g, gd_jstr(r, "id"), GD_PROC_INSTANCE, 0)) {
            gd_launcher_set_status(
                g, gd_jstr(r, "id"),
                json_pack("{s:s,s:f,s:s}", "state", gd_inst_state_name(GD_INST_TERMINATED),
                          "terminated_at", p->now, "reason", "the process was lost"));
        }
    }
    refresh_instances(g, p);
}

/* ECS: the services' tasks, on their clusters' container instances (running ones, so
 * after the instances) or Fargate, before the edges register the running tasks. */
static void rc_ecs(gd_game *g, struct pass *p)
{
    gd_ecs_reconcile(g, p->instances, p->now);
    json_decref(p->targets);
    p->targets = gd_ecs_targets(g, p->instances);
}

/* Every type that runs as an edge (GD_RT_EDGE: clb, alb, cdn): its process, its
 * configuration document and its stats; the edges of deleted ones stop. */
static void rc_edges(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_t *targets = p->targets ? p->targets : p->instances;
    json_array_foreach(p->edges, i, r) gd_edgepush_reconcile(g, r, targets, p->asgs, p->tgs);
    gd_edgepush_forget(g, p->edges);
}

/* Functions: their daemons (gameday lambda), configuration and counters, before the
 * edges put them in their target groups. */
static void rc_functions(gd_game *g, struct pass *p)
{
    (void)p;
    gd_functions_reconcile(g);
}

/* Target groups: their status from the edges that use them. */
static void rc_target_groups(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_t *targets = p->targets ? p->targets : p->instances;
    json_array_foreach(p->tgs, i, r) gd_edgepush_tg_status(g, r, p->edges, targets, p->asgs);
}

/* The fleet's own metrics (CPUUtilization, group sizes), once a wall second. */
static void rc_fleet_metrics(gd_game *g, struct pass *p)
{
    gd_fleet_metrics(g, p->asgs, p->instances, p->now);
}

/* Alarms: each evaluated once per period; their actions run scaling policies. */
static void rc_alarms(gd_game *g, struct pass *p)
{
    json_t *alarms = gd_store_res_list(g->db, 0, "alarm", 0);
    gd_alarms_reconcile(g, alarms, p->now);
    json_decref(alarms);
}

/* Target tracking policies, once a minute. */
static void rc_policies(gd_game *g, struct pass *p)
{
    json_t *policies = gd_store_res_list(g->db, 0, "scaling_policy", 0);
    gd_policies_track(g, policies, p->now);
    json_decref(policies);
}

/* Scheduled actions: a group's min, max and desired at their game time. */
static void rc_schedules(gd_game *g, struct pass *p)
{
    json_t *actions = gd_store_res_list(g->db, 0, "scheduled_action", 0);
    gd_schedules_reconcile(g, actions, p->now);
    json_decref(actions);
}

/* Spot interruptions: the notice, then the termination. */
static void rc_spot(gd_game *g, struct pass *p)
{
    gd_spot_reconcile(g, p->instances, p->now);
    refresh_instances(g, p);
}

/* Managed databases: their postgres nodes, replication, failover, metrics. */
static void rc_dbs(gd_game *g, struct pass *p)
{
    json_t *dbs = gd_store_res_list(g->db, 0, "db", 0);
    gd_db_reconcile(g, dbs);
    json_decref(dbs);
}

/* DNS: the game's name server and every team's records. */
static void rc_dns(gd_game *g, struct pass *p)
{
    json_t *records = gd_store_res_list(g->db, 0, "dns_record", 0);
    gd_dnspush_reconcile(g, records);
    json_decref(records);
}

/* Elastic IPs: their addresses and the nat's mappings. */
static void rc_eips(gd_game *g, struct pass *p)
{
    json_t *eips = gd_store_res_list(g->db, 0, "elastic_ip", 0);
    gd_eips_reconcile(g, eips, p->instances);
    json_decref(eips);
}

/* Loadgens: a team's customers start once its endpoint serves. */
static void rc_loadgens(gd_game *g, struct pass *p)
{
    if (g->ended) return;
    for (int t = 1; t <= g->nteams; t++)
        if (!g->teams[t].loadgen_done && endpoint_ready(g, t)) gd_launcher_start_loadgen(g, t);
}

/* The reconciler table, in the order a pass runs them. A new resource type that
 * needs one adds a line here (see doc/architecture.md, "Adding a resource type"). */
static const struct {
    const char *what;
    void (*fn)(gd_game *g, struct pass *p);
} reconcilers[] = {
    {"asg", rc_asgs},
    {"security_group", rc_sgs},
    {"cache_cluster", rc_cache},
    {"db", rc_dbs},
    {"instance", rc_instances},
    {"function", rc_functions},
    {"ecs", rc_ecs},
    {"edges", rc_edges},
    {"target_group", rc_target_groups},
    {"fleet metrics", rc_fleet_metrics},
    {"alarm", rc_alarms},
    {"scaling_policy", rc_policies},
    {"scheduled_action", rc_schedules},
    {"spot", rc_spot},
    {"elastic_ip", rc_eips},
    {"dns_record", rc_dns},
    {"loadgens", rc_loadgens},
};

/* Passes a write made during a pass may ask for, before the rest waits for the tick. */
#define MAX_AGAIN 4

static void pass_once(gd_game *g)
{
    struct pass p = {.now = gd_game_now(g),
                     .asgs = gd_store_res_list(g->db, 0, "asg", 0),
                     .instances = gd_store_res_list(g->db, 0, "instance", 0),
                     .edges = gd_launcher_list_flagged(g, 0, GD_RT_EDGE),
                     .tgs = gd_store_res_list(g->db, 0, "target_group", 0)};
    for (size_t k = 0; k < sizeof reconcilers / sizeof reconcilers[0]; k++)
        reconcilers[k].fn(g, &p);
    json_decref(p.asgs);
    json_decref(p.instances);
    json_decref(p.edges);
    json_decref(p.tgs);
    json_decref(p.targets);
}

/* Passes never nest: a reconciler's write (through the operations layer, which
 * reconciles after each one) only asks for another pass, run once this one is over,
 * on a fresh view of the store. So no reconciler meets a list that a nested pass has
 * made stale behind its back. */
void gd_launcher_reconcile(gd_game *g)
{
    if (g->stopping) return;
    if (g->reconciling) {
        g->reconcile_again = 1;
        return;
    }
    g->reconciling = 1;
    int n = 0;
    do {
        g->reconcile_again = 0;
        pass_once(g);
    } while (g->reconcile_again && ++n < MAX_AGAIN);
    g->reconciling = 0;
}
