/* The FIS action registry and the experiment_template checker (see fis.h). */
#include "model/fis.h"

#include "core/conf.h"
#include "model/stat.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(n, k, req, dflt) .name = (n), .kind = (k), .required = (req), .def = (dflt)
#define RANGE(lo, hi) .ranged = 1, .min = (lo), .max = (hi)

/* ---- parameters ---------------------------------------------------------------------- */

static const char *const lb_links[] = {"target", "client", "origin", NULL};
static const char *const az_names[] = {"a", "b", "c", "d", "e", "f", NULL};
static const char *const node_roles[] = {"primary", "replica", NULL};

#define DURATION                                                                                   \
    {                                                                                              \
        F("duration", GD_F_DUR, 1, NULL), RANGE(1, 86400)                                          \
    }
#define PROBABILITY                                                                                \
    {                                                                                              \
        F("probability", GD_F_NUM, 0, "1"), RANGE(0, 1)                                            \
    }
#define LINK                                                                                       \
    {                                                                                              \
        F("link", GD_F_ENUM, 0, "\"target\""), .enums = lb_links                                   \
    }
#define END                                                                                        \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const gd_field p_none[] = {END};
static const gd_field p_stop[] = {
    {F("startInstancesAfterDuration", GD_F_DUR, 0, NULL), RANGE(1, 86400)}, END};
static const gd_field p_wait[] = {DURATION, END};
static const gd_field p_latency[] = {DURATION,
                                     LINK,
                                     {F("latency", GD_F_DUR, 1, NULL), RANGE(0.001, 600)},
                                     {F("jitter", GD_F_DUR, 0, "0"), RANGE(0, 600)},
                                     PROBABILITY,
                                     END};
static const gd_field p_error[] = {
    DURATION, LINK, {F("status", GD_F_INT, 0, "503"), RANGE(400, 599)}, PROBABILITY, END};
static const gd_field p_lossy[] = {DURATION, LINK, PROBABILITY, END};
static const gd_field p_bandwidth[] = {
    DURATION, LINK, {F("bytesPerSecond", GD_F_INT, 1, NULL), RANGE(1, 1e9)}, END};
static const gd_field p_slow_close[] = {
    DURATION, LINK, {F("delay", GD_F_DUR, 1, NULL), RANGE(0.001, 600)}, END};
static const gd_field p_slot_hog[] = {
    DURATION, {F("slots", GD_F_INT, 0, "1"), RANGE(1, 1000)}, END};
static const gd_field p_inst_latency[] = {
    DURATION, {F("latency", GD_F_DUR, 1, NULL), RANGE(0.001, 60)}, END};
static const gd_field p_dns[] = {DURATION, PROBABILITY, END};
static const gd_field p_dns_wrong[] = {
    DURATION, PROBABILITY, {F("address", GD_F_STR, 0, "\"127.0.0.2\"")}, END};
static const gd_field p_throttle[] = {DURATION,
                                      {F("operations", GD_F_STRS, 0, "[\"*\"]"), RANGE(1, 50)},
                                      {F("percentage", GD_F_NUM, 0, "100"), RANGE(0, 100)},
                                      END};
static const gd_field p_ice[] = {
    DURATION,
    {F("availabilityZoneIdentifiers", GD_F_STRS, 0, "[]"), RANGE(0, 6)},
    {F("percentage", GD_F_NUM, 0, "100"), RANGE(0, 100)},
    END};
static const gd_field p_az[] = {
    DURATION, {F("availabilityZone", GD_F_ENUM, 1, NULL), .enums = az_names}, END};
static const gd_field p_node_loss[] = {
    {F("role", GD_F_ENUM, 0, "\"primary\""), .enums = node_roles}, END};

static const gd_field p_conn_exhaust[] = {
    DURATION, {F("connections", GD_F_INT, 0, "20"), RANGE(1, 64)}, END};

static const gd_fis_action actions[] = {
    {"aws:ec2:terminate-instances", "terminates the target instances", "Instances", "instance",
     p_none, 0},
    {"aws:ec2:stop-instances",
     "stops the target instances; with startInstancesAfterDuration, starts them again after it",
     "Instances", "instance", p_stop, 0},
    {"aws:ec2:reboot-instances", "stops and starts the target instances (their processes restart)",
     "Instances", "instance", p_none, 0},
    {"aws:fis:wait", "waits for its duration (to order other actions)", NULL, NULL, p_wait,
     GD_FIS_LASTS},
    {"aws:fis:inject-api-throttle-error",
     "the team's own API calls (operations, by event name, or *) fail with ThrottlingException",
     NULL, NULL, p_throttle, GD_FIS_LASTS},
    {"aws:ec2:api-insufficient-instance-capacity-error",
     "launches (RunInstances, by anyone of the team) in the zones given (all if none) fail with "
     "InsufficientInstanceCapacity",
     NULL, NULL, p_ice, GD_FIS_LASTS},
    {"gameday:az:outage",
     "an availability zone goes down for the team: its instances there are lost and nothing "
     "launches there until the end",
     NULL, NULL, p_az, GD_FIS_LASTS},
    {"gameday:network:latency", "adds latency (with jitter) on a link of a load balancer or cdn",
     "LoadBalancers", "lb", p_latency, GD_FIS_LASTS},
    {"gameday:network:error", "answers requests on a link with an error status instead",
     "LoadBalancers", "lb", p_error, GD_FIS_LASTS},
    {"gameday:network:reset", "resets connections on a link", "LoadBalancers", "lb", p_lossy,
     GD_FIS_LASTS},
    {"gameday:network:bandwidth", "limits the bytes a second of responses on a link",
     "LoadBalancers", "lb", p_bandwidth, GD_FIS_LASTS},
    {"gameday:network:blackhole", "requests on a link are never answered", "LoadBalancers", "lb",
     p_lossy, GD_FIS_LASTS},
    {"gameday:network:slow-close", "connections on a link close only after a delay",
     "LoadBalancers", "lb", p_slow_close, GD_FIS_LASTS},
    {"gameday:instance:slot-hog",
     "a runaway process holds some of each target instance's slots (emulated CPU)", "Instances",
     "instance", p_slot_hog, GD_FIS_LASTS},
    {"gameday:instance:disk-full",
     "each target instance's disk is full: it answers every request (health checks too) 500",
     "Instances", "instance", p_wait, GD_FIS_LASTS},
    {"gameday:instance:latency",
     "each answer of the target instances (health checks too) leaves that much later, as if "
     "the process stalled",
     "Instances", "instance", p_inst_latency, GD_FIS_LASTS},
    {"gameday:ec2:security-group-deny",
     "each target security group lets nothing in (its ingress rules are emptied, then put back)",
     "SecurityGroups", "security_group", p_wait, GD_FIS_LASTS},
    {"gameday:dns:outage", "queries for the target records go unanswered (resolvers time out)",
     "Records", "dns_record", p_dns, GD_FIS_LASTS},
    {"gameday:dns:servfail", "queries for the target records are answered SERVFAIL", "Records",
     "dns_record", p_dns, GD_FIS_LASTS},
    {"gameday:dns:wrong-answer", "the target records answer a wrong address", "Records",
     "dns_record", p_dns_wrong, GD_FIS_LASTS},
    {"gameday:elasticache:node-loss",
     "kill -9 of one node of each target cache cluster: its primary, or a replica (role)",
     "ReplicationGroups", "cache_cluster", p_node_loss, 0},
    {"aws:elasticache:replicationgroup-interrupt-az-power",
     "the target cache clusters' nodes in a zone lose power: they die, and none starts there "
     "until the end",
     "ReplicationGroups", "cache_cluster", p_az, GD_FIS_LASTS},
    {"aws:rds:failover-db-cluster",
     "fails each target db over to its standby (multi_az): the primary is killed, the standby "
     "promoted, the endpoint moved",
     "Clusters", "db", p_none, 0},
    {"aws:rds:reboot-db-instances", "restarts each target db's primary (a fast shutdown)",
     "DBInstances", "db", p_none, 0},
    {"gameday:rds:replica-lag",
     "each target db's replicas stop replaying WAL (pg_wal_replay_pause) for the duration: "
     "their reads go stale and ReplicaLag grows",
     "DBInstances", "db", p_wait, GD_FIS_LASTS},
    {"gameday:rds:connection-exhaustion",
     "a runaway client holds that many connections to each target db's primary for the "
     "duration (its max_connections runs out sooner)",
     "DBInstances", "db", p_conn_exhaust, GD_FIS_LASTS},
};
#define NACTIONS (sizeof actions / sizeof actions[0])

const gd_fis_action *gd_fis_actions(size_t *n)
{
    *n = NACTIONS;
    return actions;
}

const gd_fis_action *gd_fis_action_find(const char *id)
{
    for (size_t i = 0; id && i < NACTIONS; i++)
        if (!strcmp(actions[i].id, id)) return &actions[i];
    return NULL;
}

/* ---- targets ------------------------------------------------------------------------- */

static const struct {
    const char *fis, *ours;
} rtypes[] = {
    {"aws:ec2:instance", "instance"},
    {"aws:ec2:autoscaling-group", "asg"},
    {"aws:elasticloadbalancing:loadbalancer", "lb"},
    {"aws:cloudfront:distribution", "cdn"},
    {"aws:ec2:security-group", "security_group"},
    {"aws:route53:record-set", "dns_record"},
    {"aws:ec2:subnet", "subnet"},
    {"aws:elasticache:replicationgroup", "cache_cluster"},
    {"aws:rds:cluster", "db"},
    {"aws:rds:db", "db"},
};
#define NRTYPES (sizeof rtypes / sizeof rtypes[0])

const char *gd_fis_resource_type(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < NRTYPES; i++)
        if (!strcmp(rtypes[i].fis, name) || !strcmp(rtypes[i].ours, name)) return rtypes[i].ours;
    if (!strcmp(name, "clb") || !strcmp(name, "alb")) return name;
    return NULL;
}

int gd_fis_type_matches(const char *rt, const char *type)
{
    if (!rt || !type) return 0;
    if (!strcmp(rt, "lb"))
        return !strcmp(type, "clb") || !strcmp(type, "alb") || !strcmp(type, "cdn");
    return !strcmp(rt, type);
}

/* Whether a target of resourceType rt can serve an action that wants `want`. */
static int target_serves(const char *rt, const char *want)
{
    if (!strcmp(want, "lb"))
        return !strcmp(rt, "lb") || !strcmp(rt, "clb") || !strcmp(rt, "alb") || !strcmp(rt, "cdn");
    return !strcmp(rt, want);
}

int gd_fis_selection_parse(const char *s, gd_fis_selection *out)
{
    if (!s) return -1;
    if (!strcmp(s, "ALL")) {
        out->mode = GD_FIS_ALL, out->n = 0;
        return 0;
    }
    const char *open = strchr(s, '(');
    size_t l = strlen(s);
    if (!open || l < 3 || s[l - 1] != ')') return -1;
    char *end;
    double v = strtod(open + 1, &end);
    if (end == open + 1 || end != s + l - 1 || !isfinite(v)) return -1;
    if (!strncmp(s, "COUNT(", 6) && open == s + 5 && v >= 1 && v == floor(v) && v <= 1000)
        out->mode = GD_FIS_COUNT;
    else if (!strncmp(s, "PERCENT(", 8) && open == s + 7 && v > 0 && v <= 100)
        out->mode = GD_FIS_PERCENT;
    else
        return -1;
    out->n = v;
    return 0;
}

size_t gd_fis_selection_take(const gd_fis_selection *s, size_t have)
{
    switch (s->mode) {
    case GD_FIS_ALL:
        return have;
    case GD_FIS_COUNT:
        return (size_t)s->n < have ? (size_t)s->n : have;
    case GD_FIS_PERCENT: {
        /* FIS rounds down, but a percentage of a non-empty set takes at least one. */
        size_t k = (size_t)floor((double)have * s->n / 100.0);
        if (k == 0 && have > 0) k = 1;
        return k;
    }
    }
    return have;
}

int gd_fis_duration(const json_t *v, double *seconds)
{
    const char *s = json_string_value(v);
    if (!s || s[0] != 'P') return gd_duration_json(v, seconds) == 0 ? 0 : -1;
    /* ISO 8601 as FIS takes it: PT[nH][nM][nS], optionally nD before the T. */
    double total = 0;
    int in_time = 0, parts = 0;
    for (const char *p = s + 1; *p;) {
        if (*p == 'T') {
            if (in_time) return -1;
            in_time = 1, p++;
            continue;
        }
        char *end;
        double n = strtod(p, &end);
        if (end == p || n < 0 || !isfinite(n)) return -1;
        char u = *end;
        if (u == 'D' && !in_time)
            total += n * 86400;
        else if (u == 'H' && in_time)
            total += n * 3600;
        else if (u == 'M' && in_time)
            total += n * 60;
        else if (u == 'S' && in_time)
            total += n;
        else
            return -1;
        parts++;
        p = end + 1;
    }
    if (!parts) return -1;
    *seconds = total;
    return 0;
}

/* ---- the template checker -------------------------------------------------------------- */

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}

static const char *const target_keys[] = {"resourceType", "resourceIds",   "resourceTags",
                                          "filters",      "selectionMode", NULL};
static const char *const action_keys[] = {"actionId", "description", "parameters",
                                          "targets",  "startAfter",  NULL};
static const char *const probe_keys[] = {"name",   "resource",  "metric", "statistic",
                                         "period", "tolerance", NULL};

static int in(const char *const *list, const char *k)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], k)) return 1;
    return 0;
}

static void join(const char *const *list, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; list[i] && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", list[i]);
}

/* Unknown keys of a mapping: one error each. */
static void known(gd_spec_check *x, json_t *obj, const char *const *keys, const char *fpath)
{
    const char *k;
    json_t *v;
    char allow[256], fp[200];
    join(keys, allow, sizeof allow);
    json_object_foreach(obj, k, v) if (!in(keys, k))
    {
        snprintf(fp, sizeof fp, "%s.%s", fpath, k);
        gd_spec_fail(x, obj, k, NULL, fp, allow, "unknown field");
    }
}

static void check_target(gd_spec_check *x, const char *name, json_t *t)
{
    char fp[200], allow[400];
    snprintf(fp, sizeof fp, "targets.%s", name);
    if (!name_ok(name)) {
        gd_spec_fail(x, json_object_get(gd_spec_top(x), "targets"), name, NULL, fp,
                     "1..64 letters, digits, - and _", "not a valid target name");
        return;
    }
    if (!json_is_object(t)) {
        gd_spec_fail(x, json_object_get(gd_spec_top(x), "targets"), name, t, fp,
                     "a mapping {resourceType, resourceIds | resourceTags | filters, "
                     "selectionMode}",
                     "not a mapping");
        return;
    }
    known(x, t, target_keys, fp);
    json_t *rt = json_object_get(t, "resourceType");
    size_t off = 0;
    for (size_t i = 0; i < NRTYPES; i++)
        off += (size_t)snprintf(allow + off, sizeof allow - off, "%s%s (%s)", i ? ", " : "",
                                rtypes[i].fis, rtypes[i].ours);
    if (!gd_fis_resource_type(json_string_value(rt))) {
        char f2[224];
        snprintf(f2, sizeof f2, "%s.resourceType", fp);
        gd_spec_fail(x, t, "resourceType", rt, f2, allow,
                     rt ? "not a resource type a target can have" : "missing");
    }
    json_t *ids = json_object_get(t, "resourceIds"), *tags = json_object_get(t, "resourceTags"),
           *filters = json_object_get(t, "filters");
    char f2[224];
    if (ids) {
        int ok = json_is_array(ids) && json_array_size(ids) > 0 && json_array_size(ids) <= 100;
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) ok &= json_is_string(v);
        snprintf(f2, sizeof f2, "%s.resourceIds", fp);
        if (!ok)
            gd_spec_fail(x, t, "resourceIds", ids, f2, "a list of 1..100 resource names or ids",
                         "not a list of names");
    }
    if (tags) {
        int ok = json_is_object(tags) && json_object_size(tags) > 0 && json_object_size(tags) <= 50;
        const char *k;
        json_t *v;
        json_object_foreach(tags, k, v) ok &= json_is_string(v);
        snprintf(f2, sizeof f2, "%s.resourceTags", fp);
        if (!ok)
            gd_spec_fail(x, t, "resourceTags", tags, f2, "a mapping of 1..50 tags, key: value",
                         "not a mapping of tags");
    }
    if (filters) {
        int ok = json_is_array(filters) && json_array_size(filters) <= 10;
        size_t i;
        json_t *f;
        json_array_foreach(filters, i, f)
        {
            json_t *vals = json_object_get(f, "values");
            ok &= json_is_object(f) && json_is_string(json_object_get(f, "path")) &&
                  json_is_array(vals) && json_array_size(vals) > 0 && json_object_size(f) == 2;
            size_t j;
            json_t *v;
            json_array_foreach(vals, j, v) ok &= json_is_string(v);
        }
        snprintf(f2, sizeof f2, "%s.filters", fp);
        if (!ok)
            gd_spec_fail(x, t, "filters", filters, f2,
                         "a list of at most 10 {path: State.Name | Placement.AvailabilityZone | "
                         "AutoScalingGroupName | InstanceType | SubnetId, values: [text...]}",
                         "not a list of filters");
    }
    if (!ids && !tags && !filters)
        gd_spec_fail(x, t, NULL, NULL, fp, "resourceIds, resourceTags or filters",
                     "a target names its resources by ids, tags or filters");
    if (ids && tags) {
        snprintf(f2, sizeof f2, "%s.resourceTags", fp);
        gd_spec_fail(x, t, "resourceTags", tags, f2, "resourceIds or resourceTags",
                     "a target has ids or tags, not both (as in FIS)");
    }
    json_t *sm = json_object_get(t, "selectionMode");
    gd_fis_selection sel;
    if (!sm) {
        json_object_set_new(t, "selectionMode", json_string("ALL"));
    } else if (gd_fis_selection_parse(json_string_value(sm), &sel) < 0) {
        snprintf(f2, sizeof f2, "%s.selectionMode", fp);
        gd_spec_fail(x, t, "selectionMode", sm, f2, "ALL, COUNT(n) with n 1..1000, PERCENT(p)",
                     "not a selection mode");
    }
}

/* Parameters as FIS writes them (strings: "PT5M", "50") become what the field table
 * checks (seconds, numbers), in place. */
static void normalise_params(const gd_field *fields, json_t *params)
{
    for (int i = 0; fields[i].name; i++) {
        json_t *v = json_object_get(params, fields[i].name);
        if (!json_is_string(v)) continue;
        const char *s = json_string_value(v);
        double d;
        char *end;
        if (fields[i].kind == GD_F_DUR && gd_fis_duration(v, &d) == 0) {
            json_object_set_new(params, fields[i].name, json_real(d));
        } else if (fields[i].kind == GD_F_NUM || fields[i].kind == GD_F_INT) {
            d = strtod(s, &end);
            if (end != s && !*end && isfinite(d))
                json_object_set_new(params, fields[i].name,
                                    fields[i].kind == GD_F_INT && d == floor(d)
                                        ? json_integer((json_int_t)d)
                                        : json_real(d));
        } else if (fields[i].kind == GD_F_STRS) { /* "RunInstances,UpdateResource" */
            json_t *list = json_array();
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", s);
            for (char *save, *tok = strtok_r(buf, ", ", &save); tok;
                 tok = strtok_r(NULL, ", ", &save))
                json_array_append_new(list, json_string(tok));
            json_object_set_new(params, fields[i].name, list);
        }
    }
}

static void check_action(gd_spec_check *x, const char *name, json_t *a, json_t *targets)
{
    char fp[200], f2[240], allow[1024];
    snprintf(fp, sizeof fp, "actions.%s", name);
    json_t *all = json_object_get(gd_spec_top(x), "actions");
    if (!name_ok(name)) {
        gd_spec_fail(x, all, name, NULL, fp, "1..64 letters, digits, - and _",
                     "not a valid action name");
        return;
    }
    if (!json_is_object(a)) {
        gd_spec_fail(x, all, name, a, fp,
                     "a mapping {actionId, description, parameters, targets, startAfter}",
                     "not a mapping");
        return;
    }
    known(x, a, action_keys, fp);
    json_t *idv = json_object_get(a, "actionId");
    const gd_fis_action *act = gd_fis_action_find(json_string_value(idv));
    if (!act) {
        size_t off = 0;
        for (size_t i = 0; i < NACTIONS; i++)
            off += (size_t)snprintf(allow + off, sizeof allow - off, "%s%s", i ? ", " : "",
                                    actions[i].id);
        snprintf(f2, sizeof f2, "%s.actionId", fp);
        gd_spec_fail(x, a, "actionId", idv, f2, allow, idv ? "not an action" : "missing");
        return;
    }
    json_t *desc = json_object_get(a, "description");
    if (desc && !json_is_string(desc)) {
        snprintf(f2, sizeof f2, "%s.description", fp);
        gd_spec_fail(x, a, "description", desc, f2, "text", "not text");
    }
    /* Parameters, against the action's table. */
    json_t *params = json_object_get(a, "parameters");
    if (!params) {
        params = json_object();
        json_object_set_new(a, "parameters", params);
    }
    snprintf(f2, sizeof f2, "%s.parameters", fp);
    if (!json_is_object(params)) {
        gd_spec_fail(x, a, "parameters", params, f2, "a mapping of the action's parameters",
                     "not a mapping");
    } else {
        normalise_params(act->params, params);
        gd_spec_check_fields(x, act->params, params, f2);
    }
    /* Its target: the one key the action takes, naming a target of the right type. */
    json_t *tg = json_object_get(a, "targets");
    snprintf(f2, sizeof f2, "%s.targets", fp);
    if (!act->target_key) {
        if (tg && (!json_is_object(tg) || json_object_size(tg) > 0))
            gd_spec_fail(x, a, "targets", tg, f2, "none", "%s takes no target", act->id);
    } else if (!json_is_object(tg) || json_object_size(tg) != 1 ||
               !json_is_string(json_object_get(tg, act->target_key))) {
        snprintf(allow, sizeof allow, "{%s: <a target's name>}", act->target_key);
        gd_spec_fail(x, a, "targets", tg, f2, allow, tg ? "not the action's target" : "missing");
    } else {
        const char *tn = json_string_value(json_object_get(tg, act->target_key));
        json_t *t = json_object_get(targets, tn);
        char names[512] = "", g3[280];
        size_t off = 0;
        const char *k;
        json_t *v;
        json_object_foreach(targets, k, v) off +=
            (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? ", " : "", k);
        snprintf(g3, sizeof g3, "%s.%s", f2, act->target_key);
        const char *rt =
            gd_fis_resource_type(json_string_value(json_object_get(t, "resourceType")));
        if (!t)
            gd_spec_fail(x, tg, act->target_key, json_object_get(tg, act->target_key), g3,
                         *names ? names : "a target of the template's targets",
                         "no target named '%s'", tn);
        else if (rt && !target_serves(rt, act->target_type))
            gd_spec_fail(
                x, tg, act->target_key, json_object_get(tg, act->target_key), g3,
                !strcmp(act->target_type, "lb") ? "a target of clb, alb or cdn" : act->target_type,
                "%s acts on %s, and target '%s' is of %s", act->id,
                !strcmp(act->target_type, "lb") ? "load balancers and cdns" : act->target_type, tn,
                rt);
    }
    /* startAfter: other actions of the template. */
    json_t *sa = json_object_get(a, "startAfter");
    if (sa) {
        snprintf(f2, sizeof f2, "%s.startAfter", fp);
        size_t i;
        json_t *v;
        if (!json_is_array(sa)) {
            gd_spec_fail(x, a, "startAfter", sa, f2, "a list of the template's action names",
                         "not a list");
        } else {
            json_array_foreach(sa, i, v)
            {
                const char *s = json_string_value(v);
                if (!s || !json_is_object(json_object_get(all, s)) || !strcmp(s, name))
                    gd_spec_fail(x, sa, NULL, v, f2, "the names of the template's other actions",
                                 "'%s' is not another action of the template", s ? s : "?");
            }
        }
    }
}

/* 1 if following startAfter from `name` comes back to it (depth-bounded by the count). */
static int cycles(json_t *all, const char *from, const char *name, int depth)
{
    if (depth > 32) return 1;
    json_t *sa = json_object_get(json_object_get(all, from), "startAfter");
    size_t i;
    json_t *v;
    json_array_foreach(sa, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !json_object_get(all, s)) continue;
        if (!strcmp(s, name) || cycles(all, s, name, depth + 1)) return 1;
    }
    return 0;
}

static void check_stop(gd_spec_check *x, json_t *list)
{
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        char fp[64];
        snprintf(fp, sizeof fp, "stopConditions[%zu]", i);
        const char *src = json_string_value(json_object_get(c, "source"));
        json_t *val = json_object_get(c, "value");
        size_t n = json_object_size(c);
        if (src && !strcmp(src, "none") && n == 1) continue;
        if (!src || strcmp(src, "aws:cloudwatch:alarm") != 0 || !json_is_string(val) || n != 2)
            gd_spec_fail(x, list, NULL, c, fp,
                         "{source: aws:cloudwatch:alarm, value: <an alarm's name>} or "
                         "{source: none}",
                         "not a stop condition");
    }
}

static void check_hypothesis(gd_spec_check *x, json_t *h)
{
    if (!h) return;
    static const char *const hkeys[] = {"title", "probes", NULL};
    if (!json_is_object(h)) {
        gd_spec_fail(x, gd_spec_top(x), "steadyStateHypothesis", h, "steadyStateHypothesis",
                     "a mapping {title, probes}", "not a mapping");
        return;
    }
    known(x, h, hkeys, "steadyStateHypothesis");
    json_t *probes = json_object_get(h, "probes");
    if (!json_is_array(probes) || json_array_size(probes) < 1 || json_array_size(probes) > 10) {
        gd_spec_fail(x, h, "probes", probes, "steadyStateHypothesis.probes",
                     "a list of 1..10 probes {name, resource, metric, statistic, period, "
                     "tolerance: {min, max}}",
                     probes ? "not a list of probes" : "missing");
        return;
    }
    size_t i;
    json_t *p;
    json_array_foreach(probes, i, p)
    {
        char fp[96], f2[128];
        snprintf(fp, sizeof fp, "steadyStateHypothesis.probes[%zu]", i);
        if (!json_is_object(p)) {
            gd_spec_fail(x, probes, NULL, p, fp, "a mapping", "not a mapping");
            continue;
        }
        known(x, p, probe_keys, fp);
        static const char *const need[] = {"name", "resource", "metric", NULL};
        for (int k = 0; need[k]; k++)
            if (!json_is_string(json_object_get(p, need[k]))) {
                snprintf(f2, sizeof f2, "%s.%s", fp, need[k]);
                gd_spec_fail(x, p, need[k], json_object_get(p, need[k]), f2, "text",
                             json_object_get(p, need[k]) ? "not text" : "missing");
            }
        json_t *st = json_object_get(p, "statistic");
        gd_stat stat;
        snprintf(f2, sizeof f2, "%s.statistic", fp);
        if (!st)
            json_object_set_new(p, "statistic", json_string("Average"));
        else if (!json_is_string(st) || gd_stat_parse(json_string_value(st), &stat) < 0)
            gd_spec_fail(x, p, "statistic", st, f2,
                         "Average, Sum, Minimum, Maximum, SampleCount, p0..p100",
                         "not a statistic");
        json_t *per = json_object_get(p, "period");
        double s = 60;
        snprintf(f2, sizeof f2, "%s.period", fp);
        if (per && (gd_fis_duration(per, &s) < 0 || s < 10 || s > 86400))
            gd_spec_fail(x, p, "period", per, f2, "a duration 10s..1d", "not a period");
        else
            json_object_set_new(p, "period", json_real(s));
        json_t *tol = json_object_get(p, "tolerance");
        json_t *mn = json_object_get(tol, "min"), *mx = json_object_get(tol, "max");
        snprintf(f2, sizeof f2, "%s.tolerance", fp);
        if (!json_is_object(tol) || (!mn && !mx) || (mn && !json_is_number(mn)) ||
            (mx && !json_is_number(mx)) || json_object_size(tol) != (size_t)(!!mn + !!mx))
            gd_spec_fail(x, p, "tolerance", tol, f2, "{min: N, max: N} (one or both)",
                         tol ? "not a tolerance" : "missing");
        else if (mn && mx && json_number_value(mn) > json_number_value(mx))
            gd_spec_fail(x, p, "tolerance", tol, f2, "min <= max", "min is above max");
    }
}

void gd_fis_check_template(gd_spec_check *x, json_t *spec)
{
    json_t *targets = json_object_get(spec, "targets"), *acts = json_object_get(spec, "actions");
    const char *k;
    json_t *v;
    if (json_is_object(targets) && !gd_spec_is_bad(x, "targets"))
        json_object_foreach(targets, k, v) check_target(x, k, v);
    if (json_is_object(acts) && !gd_spec_is_bad(x, "actions")) {
        if (json_object_size(acts) == 0)
            gd_spec_fail(x, spec, "actions", acts, "actions", "1..20 actions", "no action");
        json_object_foreach(acts, k, v) check_action(x, k, v, targets);
        json_object_foreach(acts, k, v) if (json_is_object(v) && cycles(acts, k, k, 0))
        {
            char fp[200];
            snprintf(fp, sizeof fp, "actions.%s.startAfter", k);
            gd_spec_fail(x, v, "startAfter", json_object_get(v, "startAfter"), fp,
                         "an order without cycles", "startAfter comes back to '%s'", k);
            break;
        }
    }
    if (json_is_array(json_object_get(spec, "stopConditions")) &&
        !gd_spec_is_bad(x, "stopConditions"))
        check_stop(x, json_object_get(spec, "stopConditions"));
    check_hypothesis(x, json_object_get(spec, "steadyStateHypothesis"));
}
