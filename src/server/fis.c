/* The experiment runner: FIS experiments of a team, from start_experiment to their end.
 *
 * An experiment is a resource (type experiment) whose status this runner alone writes:
 * its state (pending -> initiating -> running -> completed, or stopping -> stopped, or
 * failed), the template as it was when it started, the resolved targets, each
 * action's state with its reason and times, and the steady-state hypothesis checked
 * before and after. Every tick (gd_fis_tick) advances the experiments that have not
 * ended: actions start when those they startAfter have completed, lasting actions are
 * undone when their duration is up, a stop condition in ALARM stops the experiment and
 * undoes every running action at once.
 *
 * Actions act as the principal `fis`, through the operations layer where a player could
 * do the same (TerminateInstances, StopInstances, UpdateResource of a security group),
 * so protections and audit apply; the faults a player could not cause (a link's
 * latency, a hogged instance, a DNS outage, API throttling) go to the fault table
 * (faults.c), which the reconcilers push to the real processes, and each injection and
 * each rollback leaves its own audit record (InjectFault, RollbackFault). */
#include "server/fis.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "model/fis.h"
#include "model/stat.h"
#include "server/cache_cluster.h"
#include "server/faults.h"
#include "server/game_int.h"
#include "server/launcher_int.h"
#include "server/ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRINCIPAL "fis"

static int final_state(const char *s)
{
    return !strcmp(s, "completed") || !strcmp(s, "stopped") || !strcmp(s, "failed");
}

int gd_fis_final(const json_t *exp)
{
    return final_state(gd_jstr(json_object_get(exp, "status"), "state"));
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- the event stream ---- */

static void say(gd_game *g, int team, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(gd_game *g, int team, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    gd_store_ledger_add(g->db, gd_game_now(g), team, PRINCIPAL, 0, line);
}

/* ---- targets ---- */

/* The tags of a resource: its own; for an instance also its launch template's and its
 * group's, and aws:autoscaling:groupName as EC2 sets it. A new object. */
static json_t *tags_of(gd_game *g, int team, const json_t *r)
{
    json_t *tags = json_object();
    const json_t *spec = json_object_get(r, "spec"), *st = json_object_get(r, "status");
    if (!strcmp(gd_jstr(r, "type"), "instance")) {
        const char *from[2] = {gd_jstr(spec, "launch_template"), gd_jstr(st, "asg")};
        for (int i = 0; i < 2; i++) {
            if (!*from[i]) continue;
            json_t *o = gd_store_res_get(g->db, team, from[i]);
            json_object_update(tags, json_object_get(json_object_get(o, "spec"), "tags"));
            json_decref(o);
        }
        if (*gd_jstr(st, "asg"))
            json_object_set_new(tags, "aws:autoscaling:groupName", json_string(gd_jstr(st, "asg")));
    }
    json_object_update(tags, json_object_get(spec, "tags"));
    return tags;
}

/* What a filter's path reads of a resource ("" when it has none). */
static const char *path_value(const json_t *r, const char *path)
{
    const json_t *st = json_object_get(r, "status");
    if (!strcmp(path, "State.Name")) return gd_jstr(st, "state");
    if (!strcmp(path, "Placement.AvailabilityZone")) return gd_jstr(st, "az");
    if (!strcmp(path, "AutoScalingGroupName")) return gd_jstr(st, "asg");
    if (!strcmp(path, "InstanceType")) return gd_jstr(st, "instance_type");
    if (!strcmp(path, "SubnetId")) return gd_jstr(st, "subnet");
    return "";
}

static int matches(gd_game *g, int team, const json_t *r, const json_t *t)
{
    json_t *ids = json_object_get(t, "resourceIds"), *want = json_object_get(t, "resourceTags");
    json_t *filters = json_object_get(t, "filters");
    size_t i;
    json_t *v;
    if (ids) {
        int hit = 0;
        json_array_foreach(ids, i, v) hit |= !strcmp(json_string_value(v), gd_jstr(r, "id")) ||
                                             !strcmp(json_string_value(v), gd_jstr(r, "name"));
        if (!hit) return 0;
    }
    if (want) {
        json_t *have = tags_of(g, team, r);
        const char *k;
        int ok = 1;
        json_object_foreach(want, k, v) ok &=
            !strcmp(gd_jstr(have, k), json_string_value(v)) && json_object_get(have, k);
        json_decref(have);
        if (!ok) return 0;
    }
    json_array_foreach(filters, i, v)
    {
        const char *have = path_value(r, gd_jstr(v, "path"));
        size_t j;
        json_t *w;
        int hit = 0;
        json_array_foreach(json_object_get(v, "values"), j, w) hit |=
            !strcmp(have, json_string_value(w));
        if (!hit) return 0;
    }
    /* Instances: the running and pending ones, unless a filter asks for a state. */
    if (!strcmp(gd_jstr(r, "type"), "instance") && !filters) {
        const char *s = gd_jstr(json_object_get(r, "status"), "state");
        if (strcmp(s, "running") != 0 && strcmp(s, "pending") != 0) return 0;
    }
    return 1;
}

/* Resolves one target of the template: the team's live resources of its type that
 * match, ordered by launch (so that the same seed picks the same ranks in every team),
 * then the selection mode's share of them, chosen by the seeded generator. */
static json_t *resolve(gd_game *g, int team, const json_t *t, gd_rand *rnd)
{
    const char *rt = gd_fis_resource_type(gd_jstr(t, "resourceType"));
    json_t *all = gd_store_res_list(g->db, team, NULL, 0), *cand = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r) if (gd_fis_type_matches(rt, gd_jstr(r, "type")) &&
                                      matches(g, team, r, t)) json_array_append(cand, r);
    json_decref(all);
    gd_fis_selection sel;
    if (gd_fis_selection_parse(gd_jstr(t, "selectionMode"), &sel) < 0) sel.mode = GD_FIS_ALL;
    size_t take = gd_fis_selection_take(&sel, json_array_size(cand));
    json_t *out = json_array();
    while (json_array_size(out) < take) {
        size_t pick =
            sel.mode == GD_FIS_ALL ? 0 : (size_t)(gd_rand_u64(rnd) % json_array_size(cand));
        json_array_append_new(out, json_string(gd_jstr(json_array_get(cand, pick), "id")));
        json_array_remove(cand, pick);
    }
    json_decref(cand);
    return out;
}

/* ---- the actions' effects ---- */

typedef struct run {
    gd_game *g;
    int team;
    const char *exp_id, *exp_name;
    json_t *st; /* the experiment's status (being rewritten) */
    double now;
} run;

static gd_actor fis_actor(int team)
{
    gd_actor a = {.team = team, .principal = PRINCIPAL, .trust = GD_TRUST_GAME};
    return a;
}

/* A fault on one resource, audited as InjectFault. */
static void inject(run *x, json_t *act_st, const char *action, const char *target,
                   json_t *fault /* stolen */)
{
    char id[160], by[96];
    snprintf(id, sizeof id, "%s/%s/%s", x->exp_id, action, target);
    snprintf(by, sizeof by, "fis %s", x->exp_id);
    gd_faults_add(x->g, x->team, target, id, fault, by);
    json_t *list = json_object_get(act_st, "faults");
    if (!list) json_object_set_new(act_st, "faults", list = json_array());
    json_array_append_new(list,
                          json_pack("{s:s,s:s,s:O}", "id", id, "target", target, "fault", fault));
    gd_game_audit(x->g, x->team, PRINCIPAL, NULL, "InjectFault",
                  json_pack("{s:s,s:s,s:s,s:O}", "experimentId", x->exp_id, "action", action,
                            "target", target, "fault", fault),
                  json_pack("{s:s}", "faultId", id), NULL);
    json_decref(fault);
}

/* Game milliseconds as the wall milliseconds a process waits (network time runs with
 * the game clock, as service time does). */
static double wall_ms(double game_s)
{
    double ms = game_s * 1000.0 / gd_clock_speed();
    return ms < 1 ? 1 : ms;
}

/* The fault an edge is told for a gameday:network:* action. */
static json_t *network_fault(const char *kind, const json_t *p, const char *target_type)
{
    const char *link = gd_jstr(p, "link");
    (void)target_type;
    json_t *f = json_pack("{s:s,s:s}", "kind", kind, "link",
                          !strcmp(link, "client") ? "client" : "upstream");
    if (json_object_get(p, "probability"))
        json_object_set(f, "probability", json_object_get(p, "probability"));
    if (!strcmp(kind, "latency")) {
        json_object_set_new(f, "latency_ms",
                            json_integer((json_int_t)wall_ms(gd_jnum(p, "latency", 0))));
        double j = gd_jnum(p, "jitter", 0);
        json_object_set_new(f, "jitter_ms", json_integer(j > 0 ? (json_int_t)wall_ms(j) : 0));
    } else if (!strcmp(kind, "error")) {
        json_object_set(f, "status", json_object_get(p, "status"));
    } else if (!strcmp(kind, "bandwidth")) {
        double b = gd_jnum(p, "bytesPerSecond", 1) * gd_clock_speed();
        json_object_set_new(f, "bytes_per_s", json_integer(b > 1e9 ? 1000000000 : (json_int_t)b));
    } else if (!strcmp(kind, "slow_close")) {
        json_object_set_new(f, "delay_ms",
                            json_integer((json_int_t)wall_ms(gd_jnum(p, "delay", 0))));
    }
    return f;
}

/* A zone's outage takes the load balancers that live only in it (every subnet of theirs
 * in the zone): their one node is gone, so customers' packets go nowhere (a client-link
 * blackhole until the end). One with a subnet elsewhere loses nothing: AWS takes the
 * dead node out of its DNS name. A cdn is global. Returns how many went dark. */
static int lbs_go_dark(run *x, json_t *act_st, const char *action, const char *az)
{
    int dark = 0;
    static const char *const types[] = {"clb", "alb"};
    for (size_t t = 0; t < 2; t++) {
        json_t *lbs = gd_store_res_list(x->g->db, x->team, types[t], 0);
        size_t i, j;
        json_t *lb, *sn;
        json_array_foreach(lbs, i, lb)
        {
            const json_t *subnets = json_object_get(json_object_get(lb, "spec"), "subnets");
            int in = 0, out = 0;
            json_array_foreach(subnets, j, sn)
            {
                json_t *s = gd_store_res_live(x->g->db, x->team, json_string_value(sn), "subnet");
                if (s && !strcmp(gd_jstr(json_object_get(s, "spec"), "az"), az))
                    in++;
                else
                    out++;
                json_decref(s);
            }
            if (in == 0 || out > 0) continue;
            inject(x, act_st, action, gd_jstr(lb, "id"),
                   json_pack("{s:s,s:s}", "kind", "blackhole", "link", "client"));
            say(x->g, x->team, "%s %s lives only in zone %s: it is dark (experiment %s)", types[t],
                gd_jstr(lb, "name"), az, x->exp_id);
            dark++;
        }
        json_decref(lbs);
    }
    return dark;
}

/* One instance operation (terminate, stop, start) as fis; appends its outcome. */
static int instance_op(run *x, const char *op, const char *id, json_t *done, json_t *refused)
{
    gd_actor who = fis_actor(x->team);
    gd_op_result r;
    json_t *body = json_object();
    gd_op_action(x->g, &who, op, id, body, &r);
    json_decref(body);
    if (r.code)
        json_array_append_new(refused, json_pack("{s:s,s:s,s:s}", "id", id, "errorCode", r.code,
                                                 "message", r.message));
    else
        json_array_append_new(done, json_string(id));
    int ok = r.code == NULL;
    gd_op_result_free(&r);
    return ok;
}

static void describe(char *buf, size_t n, const char *verb, json_t *done, json_t *refused)
{
    size_t off = (size_t)snprintf(buf, n, "%s %zu", verb, json_array_size(done));
    size_t i;
    json_t *v;
    json_array_foreach(done, i, v) off += (size_t)snprintf(buf + off, off < n ? n - off : 0, "%s%s",
                                                           i ? ", " : ": ", json_string_value(v));
    if (json_array_size(refused)) {
        off += (size_t)snprintf(buf + off, off < n ? n - off : 0, "; refused %zu",
                                json_array_size(refused));
        json_array_foreach(refused, i, v) off +=
            (size_t)snprintf(buf + off, off < n ? n - off : 0, "%s%s (%s)", i ? ", " : ": ",
                             gd_jstr(v, "id"), gd_jstr(v, "errorCode"));
    }
}

/* Starts an action: its effect now. Fills act_st (state, reason, until, what to undo).
 * Returns 0, or -1 when it failed (its reason says why). */
static int start_action(run *x, const char *name, const json_t *a, json_t *act_st)
{
    const gd_fis_action *def = gd_fis_action_find(gd_jstr(a, "actionId"));
    const json_t *p = json_object_get(a, "parameters");
    json_t *targets = NULL;
    char reason[600] = "";
    if (def->target_key) {
        const char *tn = gd_jstr(json_object_get(a, "targets"), def->target_key);
        targets = json_object_get(json_object_get(x->st, "targets"), tn);
    }
    const char *id = def->id;
    double dur = gd_jnum(p, "duration", 0);
    size_t i;
    json_t *v;
    json_t *done = json_array(), *refused = json_array();
    int rc = 0;
    double until = dur > 0 ? x->now + dur : x->now;
    if (!strcmp(id, "aws:ec2:terminate-instances")) {
        json_array_foreach(targets, i, v)
            instance_op(x, "terminate", json_string_value(v), done, refused);
        describe(reason, sizeof reason, "terminated", done, refused);
        json_array_foreach(done, i, v)
            say(x->g, x->team, "%s terminated by experiment %s", json_string_value(v), x->exp_id);
    } else if (!strcmp(id, "aws:ec2:stop-instances") || !strcmp(id, "aws:ec2:reboot-instances")) {
        int reboot = !strcmp(id, "aws:ec2:reboot-instances");
        json_array_foreach(targets, i, v)
            instance_op(x, "stop", json_string_value(v), done, refused);
        describe(reason, sizeof reason, reboot ? "rebooting" : "stopped", done, refused);
        double after = gd_jnum(p, "startInstancesAfterDuration", 0);
        if (reboot || after > 0) {
            json_object_set(act_st, "undo_start", done); /* started again at its end */
            until = reboot ? x->now : x->now + after;
            json_object_set_new(act_st, "lasts", json_true());
        }
        json_array_foreach(done, i, v)
            say(x->g, x->team, "%s %s by experiment %s", json_string_value(v),
                reboot ? "rebooted" : "stopped", x->exp_id);
    } else if (!strcmp(id, "aws:fis:wait")) {
        snprintf(reason, sizeof reason, "waiting");
    } else if (!strcmp(id, "aws:fis:inject-api-throttle-error") ||
               !strcmp(id, "aws:ec2:api-insufficient-instance-capacity-error")) {
        int throttle = !strcmp(id, "aws:fis:inject-api-throttle-error");
        json_t *f = throttle ? json_pack("{s:s,s:O,s:O}", "kind", "throttle", "operations",
                                         json_object_get(p, "operations"), "percentage",
                                         json_object_get(p, "percentage"))
                             : json_pack("{s:s,s:O,s:O}", "kind", "insufficient_capacity", "azs",
                                         json_object_get(p, "availabilityZoneIdentifiers"),
                                         "percentage", json_object_get(p, "percentage"));
        char api[32];
        snprintf(api, sizeof api, "api-%d", x->team);
        inject(x, act_st, name, api, f);
        snprintf(reason, sizeof reason, "%s of the team's %s, %.0f %%",
                 throttle ? "throttling" : "no capacity for", throttle ? "API calls" : "launches",
                 gd_jnum(p, "percentage", 100));
        say(x->g, x->team, "%s for %.0fs by experiment %s", reason, dur, x->exp_id);
    } else if (!strcmp(id, "gameday:az:outage")) {
        const char *az = gd_jstr(p, "availabilityZone");
        char api[32];
        snprintf(api, sizeof api, "api-%d", x->team);
        inject(x, act_st, name, api,
               json_pack("{s:s,s:[s],s:i}", "kind", "insufficient_capacity", "azs", az,
                         "percentage", 100));
        json_t *inst = gd_store_res_list(x->g->db, x->team, "instance", 0);
        json_t *r;
        json_array_foreach(inst, i, r)
        {
            json_t *st = json_object_get(r, "status");
            const char *s = gd_jstr(st, "state");
            if ((!strcmp(s, "running") || !strcmp(s, "pending")) &&
                !strcmp(gd_jstr(st, "az"), az)) {
                /* A zone's loss is not an API call: nothing protects an instance from it. */
                gd_actor who = fis_actor(x->team);
                who.physical = 1;
                gd_op_result res;
                char why[96];
                snprintf(why, sizeof why, "availability zone %s is down (experiment %s)", az,
                         x->exp_id);
                gd_op_terminate(x->g, &who, gd_jstr(r, "id"), 1, why, &res);
                if (!res.code) json_array_append_new(done, json_string(gd_jstr(r, "id")));
                gd_op_result_free(&res);
            }
        }
        json_decref(inst);
        int dark = lbs_go_dark(x, act_st, name, az);
        describe(reason, sizeof reason, "zone down; instances lost", done, refused);
        if (dark) {
            size_t l = strlen(reason);
            snprintf(reason + l, sizeof reason - l, "; %d load balancer%s dark", dark,
                     dark == 1 ? "" : "s");
        }
        say(x->g, x->team,
            "availability zone %s is down for %.0fs (experiment %s): %zu instances "
            "lost",
            az, dur, x->exp_id, json_array_size(done));
    } else if (!strncmp(id, "gameday:network:", 16)) {
        char kind[32];
        snprintf(kind, sizeof kind, "%s", id + 16);
        if (!strcmp(kind, "slow-close")) snprintf(kind, sizeof kind, "slow_close");
        json_array_foreach(targets, i, v)
        {
            json_t *lb = gd_store_res_get(x->g->db, x->team, json_string_value(v));
            inject(x, act_st, name, json_string_value(v),
                   network_fault(kind, p, gd_jstr(lb, "type")));
            json_array_append(done, v);
            char what[96] = "";
            if (!strcmp(kind, "latency"))
                snprintf(what, sizeof what, " %.0f ms", gd_jnum(p, "latency", 0) * 1000);
            else if (!strcmp(kind, "error"))
                snprintf(what, sizeof what, " %d", (int)gd_jnum(p, "status", 503));
            say(x->g, x->team, "%s%s on %s (%s link) for %.0fs by experiment %s", kind, what,
                gd_jstr(lb, "name"), gd_jstr(p, "link"), dur, x->exp_id);
            json_decref(lb);
        }
        describe(reason, sizeof reason, kind, done, refused);
    } else if (!strncmp(id, "gameday:instance:", 17)) {
        const char *k = id + 17; /* slot-hog, disk-full, latency */
        json_array_foreach(targets, i, v)
        {
            json_t *f;
            char what[64];
            if (!strcmp(k, "slot-hog")) {
                f = json_pack("{s:s,s:O}", "kind", "slot_hog", "slots",
                              json_object_get(p, "slots"));
                snprintf(what, sizeof what, "slot hog (%d slots)", (int)gd_jnum(p, "slots", 1));
            } else if (!strcmp(k, "disk-full")) {
                f = json_pack("{s:s}", "kind", "disk_full");
                snprintf(what, sizeof what, "disk full");
            } else {
                f = json_pack("{s:s,s:I}", "kind", "latency", "latency_ms",
                              (json_int_t)wall_ms(gd_jnum(p, "latency", 0)));
                snprintf(what, sizeof what, "latency %.0f ms", gd_jnum(p, "latency", 0) * 1000);
            }
            inject(x, act_st, name, json_string_value(v), f);
            json_array_append(done, v);
            say(x->g, x->team, "%s on %s for %.0fs by experiment %s", what, json_string_value(v),
                dur, x->exp_id);
        }
        describe(reason, sizeof reason,
                 !strcmp(k, "slot-hog")    ? "slots hogged on"
                 : !strcmp(k, "disk-full") ? "disk full on"
                                           : "latency on",
                 done, refused);
    } else if (!strcmp(id, "gameday:ec2:security-group-deny")) {
        json_t *saved = json_object();
        json_array_foreach(targets, i, v)
        {
            json_t *sg = gd_store_res_get(x->g->db, x->team, json_string_value(v));
            json_t *ingress = json_object_get(json_object_get(sg, "spec"), "ingress");
            gd_actor who = fis_actor(x->team);
            gd_op_result r;
            json_t *body = json_pack("{s:{s:[]}}", "spec", "ingress");
            gd_op_update(x->g, &who, json_string_value(v), body, &r);
            json_decref(body);
            if (r.code) {
                json_array_append_new(refused,
                                      json_pack("{s:O,s:s}", "id", v, "errorCode", r.code));
            } else {
                json_object_set(saved, json_string_value(v), ingress ? ingress : json_array());
                json_array_append(done, v);
                say(x->g, x->team, "security group %s lets nothing in for %.0fs by experiment %s",
                    gd_jstr(sg, "name"), dur, x->exp_id);
            }
            gd_op_result_free(&r);
            json_decref(sg);
        }
        json_object_set_new(act_st, "undo_ingress", saved);
        describe(reason, sizeof reason, "denying", done, refused);
    } else if (!strcmp(id, "gameday:elasticache:node-loss")) {
        const char *role = gd_jstr(p, "role");
        json_array_foreach(targets, i, v)
        {
            char node[96], by[96];
            snprintf(by, sizeof by, "experiment %s", x->exp_id);
            if (gd_cache_kill_node(x->g, x->team, json_string_value(v), *role ? role : "primary",
                                   by, node, sizeof node) < 0) {
                json_array_append_new(
                    refused, json_pack("{s:O,s:s}", "id", v, "errorCode", "NoRunningNode"));
                continue;
            }
            json_array_append(done, v);
            gd_game_audit(x->g, x->team, PRINCIPAL, NULL, "InjectFault",
                          json_pack("{s:s,s:s,s:O,s:s}", "experimentId", x->exp_id, "action", name,
                                    "target", v, "node", node),
                          json_pack("{s:s}", "kill", "SIGKILL"), NULL);
            say(x->g, x->team, "cache node %s (%s of %s) killed by experiment %s", node,
                *role ? role : "primary", json_string_value(v), x->exp_id);
        }
        describe(reason, sizeof reason, "node lost in", done, refused);
    } else if (!strcmp(id, "aws:elasticache:replicationgroup-interrupt-az-power")) {
        const char *az = gd_jstr(p, "availabilityZone");
        json_array_foreach(targets, i, v)
        {
            inject(x, act_st, name, json_string_value(v),
                   json_pack("{s:s,s:s}", "kind", "az_power", "az", az));
            json_array_append(done, v);
            say(x->g, x->team,
                "the nodes of cache cluster %s in zone %s lose power for %.0fs (experiment %s)",
                json_string_value(v), az, dur, x->exp_id);
        }
        describe(reason, sizeof reason, "power lost in the zone for", done, refused);
    } else if (!strncmp(id, "gameday:dns:", 12)) {
        const char *k = id + 12;
        const char *kind = !strcmp(k, "wrong-answer") ? "wrong" : k;
        json_array_foreach(targets, i, v)
        {
            json_t *f = json_pack("{s:s,s:O}", "kind", kind, "probability",
                                  json_object_get(p, "probability"));
            if (!strcmp(kind, "wrong"))
                json_object_set(f, "address", json_object_get(p, "address"));
            inject(x, act_st, name, json_string_value(v), f);
            json_array_append(done, v);
            say(x->g, x->team, "dns %s on %s for %.0fs by experiment %s", kind,
                json_string_value(v), dur, x->exp_id);
        }
        describe(reason, sizeof reason, kind, done, refused);
    } else if (!strncmp(id, "aws:rds:", 8)) {
        int failover = !strcmp(id, "aws:rds:failover-db-cluster");
        json_array_foreach(targets, i, v)
        {
            char err[256], cause[96];
            snprintf(cause, sizeof cause, "experiment %s", x->exp_id);
            int r = failover ? gd_db_failover(x->g, x->team, json_string_value(v), PRINCIPAL, NULL,
                                              cause, err, sizeof err)
                             : gd_db_reboot(x->g, x->team, json_string_value(v), PRINCIPAL, NULL,
                                            err, sizeof err);
            if (r < 0)
                json_array_append_new(refused, json_pack("{s:O,s:s,s:s}", "id", v, "errorCode",
                                                         "InvalidDBInstanceState", "message", err));
            else
                json_array_append(done, v);
        }
        describe(reason, sizeof reason, failover ? "failing over" : "rebooting", done, refused);
        gd_launcher_reconcile(x->g);
    } else if (!strncmp(id, "gameday:rds:", 12)) {
        int lag = !strcmp(id, "gameday:rds:replica-lag");
        json_array_foreach(targets, i, v)
        {
            json_t *f = lag ? json_pack("{s:s}", "kind", "replica_lag")
                            : json_pack("{s:s,s:O}", "kind", "connection_exhaustion", "connections",
                                        json_object_get(p, "connections"));
            inject(x, act_st, name, json_string_value(v), f);
            json_array_append(done, v);
            say(x->g, x->team, "%s on db %s for %.0fs by experiment %s",
                lag ? "replica lag" : "connection exhaustion", json_string_value(v), dur,
                x->exp_id);
        }
        describe(reason, sizeof reason, lag ? "replay paused on" : "connections held on", done,
                 refused);
    }
    if (def->target_key && json_array_size(done) == 0 && json_array_size(targets) > 0) rc = -1;
    json_object_set_new(act_st, "state", json_string(rc < 0 ? "failed" : "running"));
    json_object_set_new(act_st, "reason", json_string(reason));
    json_object_set_new(act_st, "startTime", json_real(x->now));
    json_object_set_new(act_st, "until", json_real(until));
    json_object_set_new(act_st, "done", done);
    json_object_set_new(act_st, "refused", refused);
    gd_info("fis_action_start", "experiment=%s action=%s id=%s reason=\"%s\"", x->exp_id, name, id,
            reason);
    return rc;
}

/* Undoes what an action did that lasts: its faults, the ingress it emptied, the
 * instances it stopped. final: the state it ends in. */
static void end_action(run *x, const char *name, json_t *act_st, const char *final, const char *why)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(act_st, "faults"), i, v)
    {
        gd_faults_remove(x->g, gd_jstr(v, "id"));
        gd_game_audit(x->g, x->team, PRINCIPAL, NULL, "RollbackFault",
                      json_pack("{s:s,s:s,s:s}", "experimentId", x->exp_id, "action", name,
                                "target", gd_jstr(v, "target")),
                      json_pack("{s:s}", "faultId", gd_jstr(v, "id")), NULL);
    }
    const char *k;
    json_object_foreach(json_object_get(act_st, "undo_ingress"), k, v)
    {
        gd_actor who = fis_actor(x->team);
        gd_op_result r;
        json_t *body = json_pack("{s:{s:O}}", "spec", "ingress", v);
        gd_op_update(x->g, &who, k, body, &r);
        json_decref(body);
        if (r.code)
            gd_warn("fis_rollback_failed", "experiment=%s action=%s target=%s code=%s", x->exp_id,
                    name, k, r.code);
        gd_op_result_free(&r);
    }
    json_t *none = json_array(), *ref = json_array();
    json_array_foreach(json_object_get(act_st, "undo_start"), i, v)
        instance_op(x, "start", json_string_value(v), none, ref);
    json_decref(none);
    json_decref(ref);
    json_object_set_new(act_st, "state", json_string(final));
    json_object_set_new(act_st, "endTime", json_real(x->now));
    if (why) json_object_set_new(act_st, "reason", json_string(why));
    gd_info("fis_action_end", "experiment=%s action=%s state=%s", x->exp_id, name, final);
}

/* ---- steady state ---- */

/* Every probe now: {"passed", "probes": [{name, value|null, passed, detail}]}. */
static json_t *probe_all(gd_game *g, int team, const json_t *hyp, double now)
{
    json_t *out = json_array();
    int passed = 1;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(hyp, "probes"), i, p)
    {
        json_t *res = gd_store_res_live(g->db, team, gd_jstr(p, "resource"), NULL);
        double period = gd_jnum(p, "period", 60), v = NAN;
        gd_stat stat;
        if (res && gd_stat_parse(gd_jstr(p, "statistic"), &stat) == 0)
            gd_metrics_periods(g->metrics, gd_jstr(res, "id"), gd_jstr(p, "metric"),
                               gd_metrics_settled(now, period), 1, period, &stat, &v);
        const json_t *tol = json_object_get(p, "tolerance");
        json_t *mn = json_object_get(tol, "min"), *mx = json_object_get(tol, "max");
        int ok =
            !isnan(v) && (!mn || v >= json_number_value(mn)) && (!mx || v <= json_number_value(mx));
        char detail[200];
        if (!res)
            snprintf(detail, sizeof detail, "no resource '%s'", gd_jstr(p, "resource"));
        else if (isnan(v))
            snprintf(detail, sizeof detail, "no datapoint of %s in the last period",
                     gd_jstr(p, "metric"));
        else
            snprintf(detail, sizeof detail, "%s %s of %s = %g (tolerance %s%g..%s%g)",
                     gd_jstr(p, "statistic"), gd_jstr(p, "metric"), gd_jstr(p, "resource"), v,
                     mn ? "" : "-inf", mn ? json_number_value(mn) : 0.0, mx ? "" : "+inf",
                     mx ? json_number_value(mx) : 0.0);
        json_array_append_new(out, json_pack("{s:s,s:o,s:b,s:s}", "name", gd_jstr(p, "name"),
                                             "value", isnan(v) ? json_null() : json_real(v),
                                             "passed", ok, "detail", detail));
        passed &= ok;
        json_decref(res);
    }
    return json_pack("{s:b,s:f,s:o}", "passed", passed, "time", now, "probes", out);
}

static const char *first_failed(const json_t *check)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(check, "probes"), i,
                       p) if (!json_is_true(json_object_get(p, "passed"))) return gd_jstr(p,
                                                                                          "detail");
    return "";
}

/* ---- the state machine ---- */

static void set_state(run *x, const char *state, const char *reason)
{
    json_object_set_new(x->st, "state", json_string(state));
    if (reason) json_object_set_new(x->st, "reason", json_string(reason));
    if (final_state(state)) json_object_set_new(x->st, "endTime", json_real(x->now));
    gd_info("fis_experiment", "id=%s team=%d state=%s reason=\"%s\"", x->exp_id, x->team, state,
            reason ? reason : "");
}

/* Ends every action that has not: running ones are undone (stopped), pending ones
 * cancelled. */
static void halt(run *x, const char *why)
{
    json_t *acts = json_object_get(x->st, "actions");
    const char *k;
    json_t *a;
    json_object_foreach(acts, k, a)
    {
        const char *s = gd_jstr(a, "state");
        if (!strcmp(s, "running"))
            end_action(x, k, a, "stopped", why);
        else if (!strcmp(s, "pending"))
            json_object_set_new(a, "state", json_string("cancelled")),
                json_object_set_new(a, "reason", json_string(why));
    }
}

/* A stop condition in ALARM: its reason, or NULL. */
static int stop_condition(run *x, char *why, size_t n)
{
    const json_t *tmpl = json_object_get(x->st, "template");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(tmpl, "stopConditions"), i, c)
    {
        if (strcmp(gd_jstr(c, "source"), "aws:cloudwatch:alarm") != 0) continue;
        json_t *al = gd_store_res_live(x->g->db, x->team, gd_jstr(c, "value"), "alarm");
        const json_t *st = json_object_get(al, "status");
        int alarm = al && !strcmp(gd_jstr(st, "state"), "ALARM");
        if (alarm)
            snprintf(why, n, "stop condition: alarm '%s' is in ALARM (%s)", gd_jstr(c, "value"),
                     gd_jstr(st, "reason"));
        json_decref(al);
        if (alarm) return 1;
    }
    return 0;
}

static int deps_done(const json_t *a, const json_t *acts)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(a, "startAfter"), i, v)
    {
        const char *s = gd_jstr(json_object_get(acts, json_string_value(v)), "state");
        if (strcmp(s, "completed") != 0) return 0;
    }
    return 1;
}

static void begin(run *x)
{
    const json_t *tmpl = json_object_get(x->st, "template");
    gd_rand rnd;
    gd_rand_seed(&rnd, x->g->sc->seed ^ fnv(gd_jstr(x->st, "template_name")) ^
                           (uint64_t)gd_jnum(x->st, "ordinal", 0) * 0x9e3779b97f4a7c15ull);
    json_t *targets = json_object();
    const char *k;
    json_t *t;
    char why[600];
    set_state(x, "initiating", "resolving targets");
    json_object_foreach(json_object_get(tmpl, "targets"), k, t)
    {
        json_t *ids = resolve(x->g, x->team, t, &rnd);
        json_object_set_new(targets, k, ids);
    }
    json_object_set_new(x->st, "targets", targets);
    /* A target that an action uses and that resolved to nothing fails the experiment,
     * as in FIS. */
    json_t *a;
    json_object_foreach(json_object_get(tmpl, "actions"), k, a)
    {
        const gd_fis_action *def = gd_fis_action_find(gd_jstr(a, "actionId"));
        if (!def || !def->target_key) continue;
        const char *tn = gd_jstr(json_object_get(a, "targets"), def->target_key);
        if (json_array_size(json_object_get(targets, tn)) == 0) {
            snprintf(why, sizeof why, "target '%s' (of action '%s') resolved to no resource", tn,
                     k);
            halt(x, why);
            set_state(x, "failed", why);
            return;
        }
    }
    if (stop_condition(x, why, sizeof why)) {
        char w2[700];
        snprintf(w2, sizeof w2, "not started: %s", why);
        halt(x, w2);
        set_state(x, "failed", w2);
        return;
    }
    const json_t *hyp = json_object_get(tmpl, "steadyStateHypothesis");
    if (hyp) {
        json_t *before = probe_all(x->g, x->team, hyp, x->now);
        int ok = json_is_true(json_object_get(before, "passed"));
        if (!ok)
            snprintf(why, sizeof why, "the steady state does not hold before: %s",
                     first_failed(before));
        json_object_set_new(json_object_get(x->st, "hypothesis"), "before", before);
        if (!ok) {
            halt(x, why);
            set_state(x, "failed", why);
            return;
        }
    }
    json_object_set_new(x->st, "startTime", json_real(x->now));
    set_state(x, "running", "running its actions");
}

static void step_running(run *x)
{
    char why[600];
    if (stop_condition(x, why, sizeof why)) {
        set_state(x, "stopping", why);
        halt(x, why);
        set_state(x, "stopped", why);
        say(x->g, x->team, "experiment %s stopped: %s", x->exp_id, why);
        return;
    }
    const json_t *tmpl = json_object_get(x->st, "template");
    json_t *acts = json_object_get(x->st, "actions");
    const char *k;
    json_t *a;
    int all_done = 1;
    /* Undo those whose time is up first, then start those now free to start. */
    json_object_foreach(acts, k, a)
    {
        if (strcmp(gd_jstr(a, "state"), "running") != 0) continue;
        if (gd_jnum(a, "until", 0) <= x->now) end_action(x, k, a, "completed", NULL);
    }
    json_object_foreach(acts, k, a)
    {
        if (!strcmp(gd_jstr(a, "state"), "pending") &&
            deps_done(json_object_get(json_object_get(tmpl, "actions"), k), acts)) {
            if (start_action(x, k, json_object_get(json_object_get(tmpl, "actions"), k), a) < 0) {
                snprintf(why, sizeof why, "action '%s' failed: %s", k, gd_jstr(a, "reason"));
                set_state(x, "stopping", why);
                halt(x, why);
                set_state(x, "failed", why);
                say(x->g, x->team, "experiment %s failed: %s", x->exp_id, why);
                return;
            }
            /* One that does not last (terminate, stop without a restart) is done. */
            const gd_fis_action *def = gd_fis_action_find(
                gd_jstr(json_object_get(json_object_get(tmpl, "actions"), k), "actionId"));
            if (!(def->flags & GD_FIS_LASTS) && !json_is_true(json_object_get(a, "lasts")))
                end_action(x, k, a, "completed", NULL);
        }
        const char *s = gd_jstr(a, "state");
        all_done &= !strcmp(s, "completed");
    }
    if (!all_done) return;
    /* Every action completed: the steady state is checked once its probes' period has
     * passed since the last one ended, so that it measures the recovered system. */
    const json_t *hyp = json_object_get(tmpl, "steadyStateHypothesis");
    if (hyp && !json_object_get(x->st, "verify_at")) {
        double wait = 0;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(hyp, "probes"), i,
                           p) if (gd_jnum(p, "period", 60) > wait) wait = gd_jnum(p, "period", 60);
        json_object_set_new(x->st, "verify_at", json_real(x->now + wait));
        json_object_set_new(x->st, "reason", json_string("checking the steady state after"));
        return;
    }
    if (hyp && x->now < gd_jnum(x->st, "verify_at", 0)) return;
    char done[700];
    if (hyp) {
        json_t *after = probe_all(x->g, x->team, hyp, x->now);
        int ok = json_is_true(json_object_get(after, "passed"));
        json_t *h = json_object_get(x->st, "hypothesis");
        json_object_set_new(h, "after", after);
        json_object_set_new(h, "result", json_string(ok ? "passed" : "failed"));
        snprintf(done, sizeof done, "every action completed; steady-state hypothesis %s%s%s",
                 ok ? "passed" : "failed", ok ? "" : ": ", ok ? "" : first_failed(after));
    } else {
        snprintf(done, sizeof done, "every action completed");
    }
    set_state(x, "completed", done);
    say(x->g, x->team, "experiment %s completed: %s", x->exp_id, done);
}

static void advance(gd_game *g, json_t *exp)
{
    run x = {.g = g,
             .team = (int)json_integer_value(json_object_get(exp, "team")),
             .exp_id = gd_jstr(exp, "id"),
             .exp_name = gd_jstr(exp, "name"),
             .st = json_deep_copy(json_object_get(exp, "status")),
             .now = gd_game_now(g)};
    char *before = json_dumps(x.st, JSON_SORT_KEYS | JSON_COMPACT);
    const char *state = gd_jstr(x.st, "state");
    const char *stop = gd_jstr(x.st, "stop_requested");
    if (*stop && !final_state(state)) {
        set_state(&x, "stopping", stop);
        halt(&x, stop);
        set_state(&x, "stopped", stop);
        say(g, x.team, "experiment %s stopped: %s", x.exp_id, stop);
    } else if (!strcmp(state, "pending")) {
        begin(&x);
        if (!strcmp(gd_jstr(x.st, "state"), "running")) step_running(&x);
    } else if (!strcmp(state, "running")) {
        step_running(&x);
    }
    char *after = json_dumps(x.st, JSON_SORT_KEYS | JSON_COMPACT);
    if (strcmp(before, after) != 0) gd_store_res_set_status(g->db, x.exp_id, x.st, x.now);
    free(before);
    free(after);
    json_decref(x.st);
}

/* After a server restart: the faults of running actions, in memory only, again. */
static void reapply(gd_game *g, json_t *exp)
{
    const json_t *st = json_object_get(exp, "status");
    if (strcmp(gd_jstr(st, "state"), "running") != 0) return;
    const char *k;
    json_t *a;
    json_object_foreach(json_object_get(st, "actions"), k, a)
    {
        if (strcmp(gd_jstr(a, "state"), "running") != 0) continue;
        size_t i;
        json_t *f;
        char by[96];
        snprintf(by, sizeof by, "fis %s", gd_jstr(exp, "id"));
        json_array_foreach(json_object_get(a, "faults"), i, f)
            gd_faults_add(g, (int)json_integer_value(json_object_get(exp, "team")),
                          gd_jstr(f, "target"), gd_jstr(f, "id"), json_object_get(f, "fault"), by);
    }
}

void gd_fis_tick(gd_game *g)
{
    if (g->fis_busy) return; /* an action's operation ran the reconcilers, which tick */
    g->fis_busy = 1;
    json_t *list = gd_store_res_list(g->db, 0, "experiment", 0);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!g->fis_loaded) reapply(g, e);
        if (!gd_fis_final(e)) advance(g, e);
    }
    g->fis_loaded = 1;
    json_decref(list);
    g->fis_busy = 0;
}

json_t *gd_fis_new_status(gd_game *g, const json_t *tmpl, int ordinal)
{
    json_t *spec = json_object_get(tmpl, "spec");
    json_t *acts = json_object();
    const char *k;
    json_t *a;
    json_object_foreach(json_object_get(spec, "actions"), k, a) json_object_set_new(
        acts, k, json_pack("{s:s,s:s}", "state", "pending", "reason", "waiting to start"));
    return json_pack("{s:s,s:s,s:O,s:s,s:i,s:f,s:o,s:{}}", "state", "pending", "reason", "starting",
                     "template", spec, "template_name", gd_jstr(tmpl, "name"), "ordinal", ordinal,
                     "createdTime", gd_game_now(g), "actions", acts, "hypothesis");
}
