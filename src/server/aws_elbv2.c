/* Elastic Load Balancing v2 (API version 2015-12-01, the query protocol) over the
 * team's alb and target_group resources: load balancers, target groups (an alb's own
 * implicit group `default` is `targetgroup/ALB/ID`), the one listener of an alb, its
 * rules, target health from what the alb's edge last reported, and tags. Changes are
 * operations of ops.c under the key's principal, each audited as the AWS call it is
 * (CreateTargetGroup, RegisterTargets, CreateRule ...). */
#include "core/mem.h"
#include "model/schema.h"
#include "model/state.h"
#include "server/aws_int.h"
#include "server/launcher_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARN_PREFIX "arn:aws:elasticloadbalancing:us-east-1:"
#define MAX_ITEMS 100 /* ARNs, names, targets, conditions of one request */

/* The team's resources, read once per call. */
/* The part of a resource id after its type's prefix ("alb-0a1b" -> "0a1b"). */
static const char *digits(const char *id)
{
    const char *d = strchr(id, '-');
    return d ? d + 1 : id;
}

/* A stable 16-hex-digit id of a listener or rule (FNV-1a of what names it). */
static void hex_id(const char *what, const char *of, const char *more, char out[17])
{
    uint64_t h = 1469598103934665603ull;
    const char *parts[3] = {what, of, more};
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; p && *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- ARNs ---- */

static void lb_arn(gd_aws_ctx *cx, const json_t *alb, char *out, size_t n)
{
    snprintf(out, n, ARN_PREFIX "%s:loadbalancer/app/%s/%s", cx->account, gd_jstr(alb, "name"),
             digits(gd_jstr(alb, "id")));
}

/* A target group's ARN: a target_group resource, or an alb's implicit group. */
static void tg_arn(gd_aws_ctx *cx, const json_t *res, char *out, size_t n)
{
    snprintf(out, n, ARN_PREFIX "%s:targetgroup/%s/%s", cx->account, gd_jstr(res, "name"),
             digits(gd_jstr(res, "id")));
}

static void listener_arn(gd_aws_ctx *cx, const json_t *alb, char *out, size_t n)
{
    char lid[17];
    hex_id("listener", gd_jstr(alb, "id"), NULL, lid);
    snprintf(out, n, ARN_PREFIX "%s:listener/app/%s/%s/%s", cx->account, gd_jstr(alb, "name"),
             digits(gd_jstr(alb, "id")), lid);
}

/* A rule's ARN; prio NULL for the default rule. */
static void rule_arn(gd_aws_ctx *cx, const json_t *alb, const char *prio, char *out, size_t n)
{
    char lid[17], rid[17];
    hex_id("listener", gd_jstr(alb, "id"), NULL, lid);
    hex_id("rule", gd_jstr(alb, "id"), prio ? prio : "default", rid);
    snprintf(out, n, ARN_PREFIX "%s:listener-rule/app/%s/%s/%s/%s", cx->account,
             gd_jstr(alb, "name"), digits(gd_jstr(alb, "id")), lid, rid);
}

/* The resource of type whose ARN is arn (kind: "loadbalancer/app", "targetgroup" ...),
 * compared whole; NULL when the team has none (another team's ARN included). */
static json_t *by_arn(gd_aws_ctx *cx, const char *arn, const char *type)
{
    char want[512];
    size_t i;
    json_t *r;
    json_array_foreach(cx->all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), type) != 0) continue;
        if (!strcmp(type, "alb"))
            lb_arn(cx, r, want, sizeof want);
        else
            tg_arn(cx, r, want, sizeof want);
        if (!strcmp(want, arn)) return r;
    }
    return NULL;
}

/* A target group: a target_group resource, or the implicit group of an alb. */
struct tg {
    json_t *res; /* borrowed from cx->all */
    int implicit;
};

static int find_tg(gd_aws_ctx *cx, const char *arn, struct tg *t)
{
    t->res = by_arn(cx, arn, "target_group");
    t->implicit = 0;
    char want[512];
    size_t i;
    json_t *r;
    json_array_foreach(cx->all, i, r)
    {
        if (t->res) break;
        if (strcmp(gd_jstr(r, "type"), "alb") != 0) continue;
        tg_arn(cx, r, want, sizeof want); /* its own group: targetgroup/ALB/ID */
        if (!strcmp(want, arn)) t->res = r, t->implicit = 1;
    }
    return t->res ? 0 : -1;
}

/* The alb whose listener (rule NULL) or rule (its priority into prio, "" for the
 * default rule) arn names. */
static json_t *find_listener(gd_aws_ctx *cx, const char *arn, char *prio, size_t pn)
{
    char want[512];
    size_t i, j;
    json_t *r, *rule;
    json_array_foreach(cx->all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "alb") != 0) continue;
        if (!prio) {
            listener_arn(cx, r, want, sizeof want);
            if (!strcmp(want, arn)) return r;
            continue;
        }
        rule_arn(cx, r, NULL, want, sizeof want);
        if (!strcmp(want, arn)) {
            snprintf(prio, pn, "%s", "");
            return r;
        }
        json_array_foreach(json_object_get(json_object_get(r, "spec"), "rules"), j, rule)
        {
            char p[24];
            snprintf(p, sizeof p, "%lld",
                     (long long)json_integer_value(json_object_get(rule, "priority")));
            rule_arn(cx, r, p, want, sizeof want);
            if (!strcmp(want, arn)) {
                snprintf(prio, pn, "%s", p);
                return r;
            }
        }
    }
    return NULL;
}

/* ---- common parameters ---- */

/* A numbered list parameter; -1 after answering ValidationError. */
static int list_param(gd_aws_call *k, const char *prefix, const char **out)
{
    char err[200];
    int n = gd_aws_param_list(&k->params, prefix, out, MAX_ITEMS, err, sizeof err);
    if (n < 0) gd_aws_fail(k, 400, "ValidationError", "%s", err);
    return n;
}

/* Marker and PageSize (1..400); -1 after answering. */
static int paging(gd_aws_call *k, long *start, long *max)
{
    return gd_aws_paging(k, "PageSize", 1, 400, 400, "ValidationError", "Marker", "ValidationError",
                         max, start);
}

/* An operation's refusal in ELB's words: the code for a resource not found, 409
 * DependencyViolation as ResourceInUse, a group of another alb as
 * TargetGroupAssociationLimit. Frees r. */
static void op_failed(gd_aws_call *k, gd_op_result *r, const char *not_found)
{
    if (r->code && !strcmp(r->code, "DependencyViolation"))
        gd_aws_fail(k, 400, "ResourceInUse", "%s", r->message);
    else if (r->code && !strcmp(r->code, "AlreadyExists"))
        gd_aws_fail(k, 400, not_found, "%s", r->message);
    else if (r->status == 400 && strstr(r->message, "already serves"))
        gd_aws_fail(k, 400, "TargetGroupAssociationLimit", "%s", r->message);
    else
        gd_aws_fail_op(k, r, not_found);
    gd_op_result_free(r);
}

/* An UpdateResource of res recorded as the AWS call event; 0, or -1 after answering. */
static int update(gd_aws_call *k, const char *event, const json_t *res, json_t *patch,
                  const char *not_found)
{
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:o}", "spec", patch);
    gd_op_update_as(k->g, &a, event, gd_jstr(res, "id"), body, &r);
    json_decref(body);
    if (r.code) {
        op_failed(k, &r, not_found);
        return -1;
    }
    gd_op_result_free(&r);
    return 0;
}

/* ---- load balancers ---- */

static const char *vpc_of_subnet(gd_aws_ctx *cx, const char *subnet)
{
    json_t *sn = gd_aws_find(cx->all, "subnet", subnet);
    const char *vpc = gd_jstr(json_object_get(sn, "spec"), "vpc");
    return gd_aws_id_of(cx->all, "vpc", vpc);
}

static const char *alb_vpc(gd_aws_ctx *cx, const json_t *alb)
{
    json_t *sns = json_object_get(json_object_get(alb, "spec"), "subnets");
    return vpc_of_subnet(cx, json_string_value(json_array_get(sns, 0)));
}

static void lb_xml(gd_aws_ctx *cx, gd_xml *x, const json_t *alb)
{
    const json_t *spec = json_object_get(alb, "spec"), *st = json_object_get(alb, "status");
    char arn[512], when[32];
    lb_arn(cx, alb, arn, sizeof arn);
    gd_xml_open(x, "member");
    gd_xml_text(x, "LoadBalancerArn", arn);
    gd_xml_text(x, "DNSName", gd_jstr(st, "dns_name"));
    gd_xml_text(x, "CanonicalHostedZoneId", "Z35SXDOTRQ7X7K");
    gd_xml_text(x, "CreatedTime",
                gd_aws_iso(gd_aws_wall_of(cx->k->g, gd_jnum(alb, "created", 0)), when));
    gd_xml_text(x, "LoadBalancerName", gd_jstr(alb, "name"));
    gd_xml_text(x, "Scheme", "internet-facing");
    gd_xml_text(x, "VpcId", alb_vpc(cx, alb));
    const char *state = gd_jstr(st, "state");
    gd_xml_open(x, "State");
    gd_xml_text(x, "Code",
                !strcmp(state, "active")     ? "active"
                : !strcmp(state, "impaired") ? "active_impaired"
                : !strcmp(state, "failed")   ? "failed"
                                             : "provisioning");
    if (*gd_jstr(st, "last_error")) gd_xml_text(x, "Reason", gd_jstr(st, "last_error"));
    gd_xml_close(x, "State");
    gd_xml_text(x, "Type", "application");
    gd_xml_open(x, "AvailabilityZones");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "subnets"), i, v)
    {
        json_t *sn = gd_aws_find(cx->all, "subnet", json_string_value(v));
        char az[16];
        gd_xml_open(x, "member");
        gd_xml_text(x, "ZoneName", gd_aws_az(gd_jstr(json_object_get(sn, "spec"), "az"), az));
        gd_xml_text(x, "SubnetId", gd_jstr(sn, "id"));
        gd_xml_close(x, "member");
    }
    gd_xml_close(x, "AvailabilityZones");
    gd_xml_open(x, "SecurityGroups");
    json_array_foreach(json_object_get(spec, "security_groups"), i, v)
        gd_xml_text(x, "member", gd_aws_id_of(cx->all, "security_group", json_string_value(v)));
    gd_xml_close(x, "SecurityGroups");
    gd_xml_text(x, "IpAddressType", "ipv4");
    gd_xml_close(x, "member");
}

static void describe_load_balancers(gd_aws_call *k)
{
    static const char *arns[MAX_ITEMS], *names[MAX_ITEMS];
    long start, max;
    int na = list_param(k, "LoadBalancerArns.member", arns);
    int nn = na < 0 ? -1 : list_param(k, "Names.member", names);
    if (na < 0 || nn < 0 || paging(k, &start, &max) < 0 || gd_aws_unread(k) < 0) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    for (int i = 0; i < na; i++)
        if (!by_arn(&cx, arns[i], "alb")) {
            gd_aws_fail(k, 400, "LoadBalancerNotFound",
                        "One or more load balancers not found: '%.200s' is no alb of this team",
                        arns[i]);
            gd_aws_ctx_close(&cx);
            return;
        }
    for (int i = 0; i < nn; i++)
        if (!gd_aws_find(cx.all, "alb", names[i]) ||
            strcmp(gd_jstr(gd_aws_find(cx.all, "alb", names[i]), "name"), names[i]) != 0) {
            gd_aws_fail(k, 400, "LoadBalancerNotFound",
                        "One or more load balancers not found: no alb named '%.64s'", names[i]);
            gd_aws_ctx_close(&cx);
            return;
        }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "LoadBalancers");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "alb") != 0) continue;
        char arn[512];
        lb_arn(&cx, r, arn, sizeof arn);
        if ((na && !gd_aws_in_list(arns, na, arn)) ||
            (nn && !gd_aws_in_list(names, nn, gd_jstr(r, "name"))))
            continue;
        if (seen++ < start) continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        lb_xml(&cx, &x, r);
    }
    gd_xml_close(&x, "LoadBalancers");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "NextMarker", gd_aws_page_token(start + shown, tok));
    }
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* ---- target groups ---- */

/* The settings of a group: the target_group's spec, or the alb's for its own. */
static const json_t *tg_spec(const struct tg *t)
{
    return json_object_get(t->res, "spec");
}

static int tg_port(const struct tg *t)
{
    return (int)gd_jnum(tg_spec(t), t->implicit ? "instance_port" : "port", 8000);
}

/* The name an alb's spec calls the group by. */
static const char *tg_ref(const struct tg *t)
{
    return t->implicit ? GD_SCHEMA_IMPLICIT_TG : gd_jstr(t->res, "name");
}

/* The albs that send to the group (borrowed), into out; their count. */
static int tg_albs(gd_aws_ctx *cx, const struct tg *t, json_t **out, int max)
{
    if (t->implicit) {
        out[0] = t->res;
        return 1;
    }
    int n = 0;
    size_t i, j;
    json_t *r, *v;
    json_array_foreach(cx->all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "alb") != 0 || n == max) continue;
        json_t *used = gd_schema_alb_groups(json_object_get(r, "spec"));
        int uses = 0;
        json_array_foreach(used, j, v) uses |=
            !strcmp(json_string_value(v), gd_jstr(t->res, "name"));
        json_decref(used);
        if (uses) out[n++] = r;
    }
    return n;
}

static const char *team_vpc(gd_aws_ctx *cx)
{
    size_t i;
    json_t *r;
    json_array_foreach(cx->all, i, r) if (!strcmp(gd_jstr(r, "type"), "vpc")) return gd_jstr(r,
                                                                                             "id");
    return "";
}

static void tg_xml(gd_aws_ctx *cx, gd_xml *x, const struct tg *t)
{
    const json_t *spec = tg_spec(t), *hc = json_object_get(spec, "health_check");
    char arn[512];
    tg_arn(cx, t->res, arn, sizeof arn);
    gd_xml_open(x, "member");
    gd_xml_text(x, "TargetGroupArn", arn);
    gd_xml_text(x, "TargetGroupName", gd_jstr(t->res, "name"));
    gd_xml_text(x, "Protocol", "HTTP");
    gd_xml_textf(x, "Port", "%d", tg_port(t));
    gd_xml_text(x, "VpcId", t->implicit ? alb_vpc(cx, t->res) : team_vpc(cx));
    gd_xml_text(x, "HealthCheckProtocol", "HTTP");
    gd_xml_text(x, "HealthCheckPort", "traffic-port");
    gd_xml_text(x, "HealthCheckEnabled", "true");
    gd_xml_textf(x, "HealthCheckIntervalSeconds", "%.0f", gd_jnum(hc, "interval", 30));
    gd_xml_textf(x, "HealthCheckTimeoutSeconds", "%.0f", gd_jnum(hc, "timeout", 5));
    gd_xml_textf(x, "HealthyThresholdCount", "%.0f", gd_jnum(hc, "healthy_threshold", 5));
    gd_xml_textf(x, "UnhealthyThresholdCount", "%.0f", gd_jnum(hc, "unhealthy_threshold", 2));
    gd_xml_text(x, "HealthCheckPath", hc && *gd_jstr(hc, "path") ? gd_jstr(hc, "path") : "/health");
    gd_xml_open(x, "Matcher");
    gd_xml_text(x, "HttpCode", hc && *gd_jstr(hc, "matcher") ? gd_jstr(hc, "matcher") : "200");
    gd_xml_close(x, "Matcher");
    json_t *albs[16];
    int n = tg_albs(cx, t, albs, 16);
    gd_xml_open(x, "LoadBalancerArns");
    for (int i = 0; i < n; i++) {
        lb_arn(cx, albs[i], arn, sizeof arn);
        gd_xml_text(x, "member", arn);
    }
    gd_xml_close(x, "LoadBalancerArns");
    gd_xml_text(x, "TargetType", "instance");
    gd_xml_text(x, "ProtocolVersion", "HTTP1");
    gd_xml_text(x, "IpAddressType", "ipv4");
    gd_xml_close(x, "member");
}

static void describe_target_groups(gd_aws_call *k)
{
    static const char *arns[MAX_ITEMS], *names[MAX_ITEMS];
    long start, max;
    int na = list_param(k, "TargetGroupArns.member", arns);
    int nn = na < 0 ? -1 : list_param(k, "Names.member", names);
    const char *lba = gd_aws_param(&k->params, "LoadBalancerArn");
    if (na < 0 || nn < 0 || paging(k, &start, &max) < 0 || gd_aws_unread(k) < 0) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *lb = lba ? by_arn(&cx, lba, "alb") : NULL;
    struct tg t;
    const char *missing = NULL;
    if (lba && !lb) {
        gd_aws_fail(k, 400, "LoadBalancerNotFound", "Load balancer '%.200s' not found", lba);
        gd_aws_ctx_close(&cx);
        return;
    }
    for (int i = 0; i < na && !missing; i++)
        if (find_tg(&cx, arns[i], &t) < 0) missing = arns[i];
    /* The groups, each once: the target_group resources, then the albs' own. */
    json_t *list = json_array();
    for (int pass = 0; pass < 2; pass++) {
        size_t i;
        json_t *r;
        json_array_foreach(cx.all, i, r)
        {
            if (strcmp(gd_jstr(r, "type"), pass ? "alb" : "target_group") != 0) continue;
            json_array_append_new(list, json_pack("{s:O,s:b}", "res", r, "implicit", pass));
        }
    }
    for (int i = 0; i < nn && !missing; i++) {
        int found = 0;
        size_t j;
        json_t *e;
        json_array_foreach(list, j, e) found |=
            !strcmp(gd_jstr(json_object_get(e, "res"), "name"), names[i]);
        if (!found) missing = names[i];
    }
    if (missing) {
        gd_aws_fail(k, 400, "TargetGroupNotFound",
                    "One or more target groups not found: '%.200s' is no target group of this "
                    "team",
                    missing);
        json_decref(list);
        gd_aws_ctx_close(&cx);
        return;
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "TargetGroups");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        t.res = json_object_get(e, "res");
        t.implicit = json_is_true(json_object_get(e, "implicit"));
        char arn[512];
        tg_arn(&cx, t.res, arn, sizeof arn);
        if (na && !gd_aws_in_list(arns, na, arn)) continue;
        if (nn && !gd_aws_in_list(names, nn, gd_jstr(t.res, "name"))) continue;
        if (lb) {
            json_t *albs[16];
            int n = tg_albs(&cx, &t, albs, 16), hit = 0;
            for (int j = 0; j < n; j++) hit |= !strcmp(gd_jstr(albs[j], "id"), gd_jstr(lb, "id"));
            if (!hit) continue;
        }
        if (seen++ < start) continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        tg_xml(&cx, &x, &t);
    }
    gd_xml_close(&x, "TargetGroups");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "NextMarker", gd_aws_page_token(start + shown, tok));
    }
    json_decref(list);
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* Reads the health check parameters of CreateTargetGroup into hc; -1 after answering. */
static int health_params(gd_aws_call *k, json_t *hc, long port)
{
    static const struct {
        const char *param, *field;
        long lo, hi;
    } ints[] = {{"HealthCheckIntervalSeconds", "interval", 5, 300},
                {"HealthCheckTimeoutSeconds", "timeout", 2, 120},
                {"HealthyThresholdCount", "healthy_threshold", 2, 10},
                {"UnhealthyThresholdCount", "unhealthy_threshold", 2, 10}};
    char err[200];
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long v;
        if (!gd_aws_param(&k->params, "%s", ints[i].param)) continue;
        if (gd_aws_param_int(&k->params, ints[i].param, ints[i].lo, ints[i].hi, 0, &v, err,
                             sizeof err) < 0) {
            gd_aws_fail(k, 400, "ValidationError", "%s", err);
            return -1;
        }
        json_object_set_new(hc, ints[i].field, json_integer(v));
    }
    const char *path = gd_aws_param(&k->params, "HealthCheckPath");
    const char *code = gd_aws_param(&k->params, "Matcher.HttpCode");
    const char *proto = gd_aws_param(&k->params, "HealthCheckProtocol");
    const char *hport = gd_aws_param(&k->params, "HealthCheckPort");
    int enabled;
    if (gd_aws_param_bool(&k->params, "HealthCheckEnabled", 1, &enabled, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return -1;
    }
    if (!enabled || (proto && strcmp(proto, "HTTP") != 0)) {
        gd_aws_fail(k, 400, "ValidationError",
                    "HealthCheckProtocol: this game checks targets over HTTP, always (allowed: "
                    "HTTP, HealthCheckEnabled true)");
        return -1;
    }
    if (hport && strcmp(hport, "traffic-port") != 0 && atol(hport) != port) {
        gd_aws_fail(k, 400, "ValidationError",
                    "HealthCheckPort: this game checks a target on its traffic port (allowed: "
                    "traffic-port, %ld)",
                    port);
        return -1;
    }
    if (path) json_object_set_new(hc, "path", json_string(path));
    if (code) json_object_set_new(hc, "matcher", json_string(code));
    return 0;
}

static void create_target_group(gd_aws_call *k)
{
    char err[200];
    const char *name = gd_aws_param(&k->params, "Name");
    const char *proto = gd_aws_param(&k->params, "Protocol");
    const char *vpc = gd_aws_param(&k->params, "VpcId");
    const char *type = gd_aws_param(&k->params, "TargetType");
    const char *pv = gd_aws_param(&k->params, "ProtocolVersion");
    const char *ipt = gd_aws_param(&k->params, "IpAddressType");
    long port;
    if (gd_aws_param_int(&k->params, "Port", 1, 65535, 8000, &port, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    json_t *hc = json_object();
    if (health_params(k, hc, port) < 0 || gd_aws_unread(k) < 0) {
        json_decref(hc);
        return;
    }
    const char *bad = !name || !*name                         ? "Name: give the group's name"
                      : proto && strcmp(proto, "HTTP") != 0   ? "Protocol: allowed: HTTP"
                      : type && strcmp(type, "instance") != 0 ? "TargetType: allowed: instance"
                      : pv && strcmp(pv, "HTTP1") != 0        ? "ProtocolVersion: allowed: HTTP1"
                      : ipt && strcmp(ipt, "ipv4") != 0       ? "IpAddressType: allowed: ipv4"
                                                              : NULL;
    if (bad) {
        gd_aws_fail(k, 400, "ValidationError", "%s", bad);
        json_decref(hc);
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *v = vpc ? gd_aws_find(cx.all, "vpc", vpc) : NULL;
    if (vpc && (!v || strcmp(gd_jstr(v, "id"), vpc) != 0)) {
        gd_aws_fail(k, 400, "ValidationError", "The VPC ID '%.64s' is not found", vpc);
        json_decref(hc);
        gd_aws_ctx_close(&cx);
        return;
    }
    gd_aws_ctx_close(&cx);
    json_t *spec = json_pack("{s:I}", "port", (json_int_t)port);
    if (json_object_size(hc))
        json_object_set_new(spec, "health_check", hc);
    else
        json_decref(hc);
    json_t *body = json_pack("{s:s,s:s,s:o}", "type", "target_group", "name", name, "spec", spec);
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    gd_op_create(k->g, &a, body, &r); /* CreateResource: CloudTrail's CreateTargetGroup */
    json_decref(body);
    if (r.code) {
        op_failed(k, &r, "DuplicateTargetGroupName");
        return;
    }
    gd_op_result_free(&r);
    gd_aws_ctx_open(&cx, k);
    struct tg t = {gd_aws_find(cx.all, "target_group", name), 0};
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "TargetGroups");
    if (t.res) tg_xml(&cx, &x, &t);
    gd_xml_close(&x, "TargetGroups");
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* The group an action names by TargetGroupArn; -1 after answering. */
static int named_tg(gd_aws_ctx *cx, struct tg *t)
{
    const char *arn = gd_aws_param(&cx->k->params, "TargetGroupArn");
    if (!arn || !*arn) {
        gd_aws_fail(cx->k, 400, "ValidationError", "TargetGroupArn: give a target group's ARN");
        return -1;
    }
    if (find_tg(cx, arn, t) < 0) {
        gd_aws_fail(cx->k, 400, "TargetGroupNotFound",
                    "Target groups '%.200s' not found (another team's groups are not found "
                    "either)",
                    arn);
        return -1;
    }
    return 0;
}

static void empty_answer(gd_aws_call *k)
{
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_aws_xml_send(k, &x);
}

static void delete_target_group(gd_aws_call *k)
{
    const char *arn = gd_aws_param(&k->params, "TargetGroupArn");
    if (gd_aws_unread(k) < 0) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    struct tg t;
    if (named_tg(&cx, &t) < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    (void)arn;
    if (t.implicit) {
        gd_aws_fail(k, 400, "ResourceInUse",
                    "Target group '%s' is the alb's own group: it goes with the alb",
                    gd_jstr(t.res, "name"));
        gd_aws_ctx_close(&cx);
        return;
    }
    char id[64];
    snprintf(id, sizeof id, "%s", gd_jstr(t.res, "id"));
    gd_aws_ctx_close(&cx);
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    gd_op_delete(k->g, &a, id, &r); /* DeleteResource: CloudTrail's DeleteTargetGroup */
    if (r.code) {
        op_failed(k, &r, "TargetGroupNotFound");
        return;
    }
    gd_op_result_free(&r);
    empty_answer(k);
}

/* ---- targets ---- */

/* Whether the group's spec lists the instance (by name or id). */
static int listed(const json_t *names, const json_t *inst)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        const char *n = json_string_value(v);
        if (n && (!strcmp(n, gd_jstr(inst, "id")) || !strcmp(n, gd_jstr(inst, "name")))) return 1;
    }
    return 0;
}

/* The Auto Scaling group that registers inst with the group, or NULL. */
static const json_t *asg_registers(gd_aws_ctx *cx, const struct tg *t, const json_t *inst)
{
    const char *asg = gd_jstr(json_object_get(inst, "status"), "asg");
    if (!*asg) return NULL;
    json_t *g = gd_aws_find(cx->all, "asg", asg);
    const char *field = t->implicit ? "load_balancers" : "target_groups";
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(g, "spec"), field), i, v)
    {
        if (json_string_value(v) && !strcmp(json_string_value(v), gd_jstr(t->res, "name")))
            return g;
    }
    return NULL;
}

static int registered(gd_aws_ctx *cx, const struct tg *t, const json_t *inst)
{
    gd_inst_state s = gd_inst_state_of(json_object_get(inst, "status"));
    if (s == GD_INST_TERMINATED || s == GD_INST_UNKNOWN) return 0;
    return listed(json_object_get(tg_spec(t), "instances"), inst) || asg_registers(cx, t, inst);
}

/* Reads Targets.member.N.Id (and Port, AvailabilityZone) into ids; their count, or -1
 * after answering. An id that is no instance of the team is InvalidTarget. */
static int targets_param(gd_aws_ctx *cx, const struct tg *t, const char **ids, int need)
{
    gd_aws_call *k = cx->k;
    int n = 0;
    for (;; n++) {
        const char *id = gd_aws_param(&k->params, "Targets.member.%d.Id", n + 1);
        if (!id) break;
        if (n == MAX_ITEMS) {
            gd_aws_fail(k, 400, "TooManyTargets", "at most %d targets a request", MAX_ITEMS);
            return -1;
        }
        const char *port = gd_aws_param(&k->params, "Targets.member.%d.Port", n + 1);
        gd_aws_param(&k->params, "Targets.member.%d.AvailabilityZone", n + 1);
        if (port && atol(port) != tg_port(t)) {
            gd_aws_fail(k, 400, "ValidationError",
                        "Targets.member.%d.Port: this game sends to a group's port, %d", n + 1,
                        tg_port(t));
            return -1;
        }
        json_t *inst = gd_aws_find(cx->all, "instance", id);
        gd_inst_state s = gd_inst_state_of(json_object_get(inst, "status"));
        if (!inst || strcmp(gd_jstr(inst, "id"), id) != 0 || s == GD_INST_TERMINATED) {
            gd_aws_fail(k, 400, "InvalidTarget",
                        "The following targets are not valid instances of this team: '%.64s'", id);
            return -1;
        }
        ids[n] = id;
    }
    if (need && !n) {
        gd_aws_fail(k, 400, "ValidationError", "Targets: give at least one target (Id=i-...)");
        return -1;
    }
    return n;
}

static void change_targets(gd_aws_call *k, int reg)
{
    static const char *ids[MAX_ITEMS];
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    struct tg t;
    int n;
    if (named_tg(&cx, &t) < 0 || (n = targets_param(&cx, &t, ids, 1)) < 0 || gd_aws_unread(k) < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *list = json_deep_copy(json_object_get(tg_spec(&t), "instances"));
    if (!list) list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *inst = gd_aws_find(cx.all, "instance", ids[i]);
        if (reg) {
            /* the spec names an instance by its name (the model's reference) */
            if (!listed(list, inst))
                json_array_append_new(list, json_string(gd_jstr(inst, "name")));
            continue;
        }
        const json_t *asg = asg_registers(&cx, &t, inst);
        if (!listed(list, inst)) {
            gd_aws_fail(k, 400, "InvalidTarget",
                        asg ? "The target '%s' is registered by Auto Scaling group '%s': change "
                              "the group's target groups"
                            : "The target '%s' is not registered with this target group%s",
                        ids[i], asg ? gd_jstr(asg, "name") : "");
            json_decref(list);
            gd_aws_ctx_close(&cx);
            return;
        }
        for (size_t j = json_array_size(list); j-- > 0;) {
            const char *v = json_string_value(json_array_get(list, j));
            if (v && (!strcmp(v, ids[i]) || !strcmp(v, gd_jstr(inst, "name"))))
                json_array_remove(list, j);
        }
    }
    json_t *res = json_incref(t.res);
    gd_aws_ctx_close(&cx);
    int r = update(k, reg ? "RegisterTargets" : "DeregisterTargets", res,
                   json_pack("{s:o}", "instances", list), "TargetGroupNotFound");
    json_decref(res);
    if (r == 0) empty_answer(k);
}

static void register_targets(gd_aws_call *k)
{
    change_targets(k, 1);
}

static void deregister_targets(gd_aws_call *k)
{
    change_targets(k, 0);
}

/* One target's health: what the edges of the albs that use the group last said. */
static void health_xml(gd_aws_ctx *cx, gd_xml *x, const struct tg *t, const json_t *inst,
                       json_t **albs, int nalbs)
{
    const char *state = "unused", *reason = "Target.NotInUse",
               *desc = "Target group is not configured to receive traffic from the load balancer";
    gd_inst_state s = gd_inst_state_of(json_object_get(inst, "status"));
    if (!inst) {
        reason = "Target.NotRegistered";
        desc = "Target is not registered to the target group";
    } else if (!registered(cx, t, inst)) {
        reason = "Target.NotRegistered";
        desc = "Target is not registered to the target group";
    } else if (s != GD_INST_RUNNING) {
        reason = "Target.InvalidState";
        desc = "Target is in the stopped or pending state";
    } else if (nalbs) {
        state = "initial";
        reason = "Elb.RegistrationInProgress";
        desc = "Target registration is in progress";
        for (int i = 0; i < nalbs; i++) {
            gd_edge_link *e = gd_edge_link_find(cx->k->g, gd_jstr(albs[i], "id"));
            size_t j;
            json_t *r;
            json_array_foreach(json_object_get(e ? e->stats : NULL, "targets"), j, r)
            {
                if (strcmp(gd_jstr(r, "id"), gd_jstr(inst, "id")) != 0 ||
                    strcmp(gd_jstr(r, "target_group"), tg_ref(t)) != 0)
                    continue;
                const char *es = gd_jstr(r, "state");
                if (!strcmp(es, "InService")) {
                    state = "healthy", reason = desc = NULL;
                } else if (!strcmp(es, "draining")) {
                    state = "draining", reason = "Target.DeregistrationInProgress";
                    desc = "Target deregistration is in progress";
                } else if (gd_jnum(r, "health_fail", 0) > 0) {
                    state = "unhealthy", reason = "Target.FailedHealthChecks";
                    desc = "Health checks failed";
                } else {
                    state = "initial", reason = "Elb.InitialHealthChecking";
                    desc = "Initial health checks in progress";
                }
            }
        }
    }
    gd_xml_open(x, "member");
    gd_xml_open(x, "Target");
    gd_xml_text(x, "Id", gd_jstr(inst, "id"));
    gd_xml_textf(x, "Port", "%d", tg_port(t));
    char az[16];
    if (inst)
        gd_xml_text(x, "AvailabilityZone",
                    gd_aws_az(gd_jstr(json_object_get(inst, "status"), "az"), az));
    gd_xml_close(x, "Target");
    gd_xml_textf(x, "HealthCheckPort", "%d", tg_port(t));
    gd_xml_open(x, "TargetHealth");
    gd_xml_text(x, "State", state);
    gd_xml_text(x, "Reason", reason);
    gd_xml_text(x, "Description", desc);
    gd_xml_close(x, "TargetHealth");
    gd_xml_close(x, "member");
}

static void describe_target_health(gd_aws_call *k)
{
    static const char *ids[MAX_ITEMS];
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    struct tg t;
    int n;
    if (named_tg(&cx, &t) < 0 || (n = targets_param(&cx, &t, ids, 0)) < 0 || gd_aws_unread(k) < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *albs[16];
    int nalbs = tg_albs(&cx, &t, albs, 16);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "TargetHealthDescriptions");
    if (n) {
        for (int i = 0; i < n; i++)
            health_xml(&cx, &x, &t, gd_aws_find(cx.all, "instance", ids[i]), albs, nalbs);
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(cx.all, i, r)
        {
            if (!strcmp(gd_jstr(r, "type"), "instance") && registered(&cx, &t, r))
                health_xml(&cx, &x, &t, r, albs, nalbs);
        }
    }
    gd_xml_close(&x, "TargetHealthDescriptions");
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* ---- attributes ---- */

static void attr(gd_xml *x, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void attr(gd_xml *x, const char *key, const char *fmt, ...)
{
    char v[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    gd_xml_open(x, "member");
    gd_xml_text(x, "Key", key);
    gd_xml_text(x, "Value", v);
    gd_xml_close(x, "member");
}

static void attributes_xml(gd_xml *x, const json_t *spec)
{
    const json_t *st = json_object_get(spec, "stickiness");
    const char *type = st ? gd_jstr(st, "type") : "none";
    int on = !strcmp(type, "lb_cookie") || !strcmp(type, "app_cookie");
    gd_xml_open(x, "Attributes");
    attr(x, "deregistration_delay.timeout_seconds", "%.0f",
         gd_jnum(spec, "deregistration_delay", 300));
    attr(x, "stickiness.enabled", "%s", on ? "true" : "false");
    attr(x, "stickiness.type", "%s", !strcmp(type, "app_cookie") ? "app_cookie" : "lb_cookie");
    attr(x, "stickiness.lb_cookie.duration_seconds", "%.0f", gd_jnum(st, "duration", 86400));
    attr(x, "stickiness.app_cookie.cookie_name", "%s", gd_jstr(st, "cookie_name"));
    attr(x, "stickiness.app_cookie.duration_seconds", "%.0f", gd_jnum(st, "duration", 86400));
    attr(x, "slow_start.duration_seconds", "%.0f", gd_jnum(spec, "slow_start", 0));
    attr(x, "load_balancing.algorithm.type", "%s",
         *gd_jstr(spec, "algorithm") ? gd_jstr(spec, "algorithm") : "round_robin");
    attr(x, "load_balancing.cross_zone.enabled", "%s",
         json_is_false(json_object_get(spec, "cross_zone")) ? "false" : "true");
    gd_xml_close(x, "Attributes");
}

static void describe_tg_attributes(gd_aws_call *k)
{
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    struct tg t;
    if (named_tg(&cx, &t) < 0 || gd_aws_unread(k) < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    attributes_xml(&x, tg_spec(&t));
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* A whole number of seconds within lo..hi; -1 when it is not. */
static long seconds(const char *v, long lo, long hi)
{
    char *end;
    long n = strtol(v, &end, 10);
    return *v && !*end && n >= lo && n <= hi ? n : -1;
}

static void modify_tg_attributes(gd_aws_call *k)
{
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    struct tg t;
    if (named_tg(&cx, &t) < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *patch = json_object();
    json_t *sticky = json_deep_copy(json_object_get(tg_spec(&t), "stickiness"));
    if (!sticky) sticky = json_object();
    int enabled = -1;
    const char *stype = NULL, *bad = NULL;
    int n = 0;
    for (;; n++) {
        const char *key = gd_aws_param(&k->params, "Attributes.member.%d.Key", n + 1);
        if (!key) break;
        const char *v = gd_aws_param(&k->params, "Attributes.member.%d.Value", n + 1);
        if (!v) v = "";
        long s;
        if (!strcmp(key, "deregistration_delay.timeout_seconds")) {
            if ((s = seconds(v, 0, 3600)) < 0)
                bad = "deregistration_delay.timeout_seconds: 0..3600";
            json_object_set_new(patch, "deregistration_delay", json_integer(s));
        } else if (!strcmp(key, "slow_start.duration_seconds")) {
            if ((s = seconds(v, 0, 900)) < 0 || (s > 0 && s < 30))
                bad = "slow_start.duration_seconds: 0, or 30..900";
            json_object_set_new(patch, "slow_start", json_integer(s));
        } else if (!strcmp(key, "stickiness.enabled")) {
            enabled = !strcmp(v, "true") ? 1 : !strcmp(v, "false") ? 0 : -2;
            if (enabled == -2) bad = "stickiness.enabled: true or false";
        } else if (!strcmp(key, "stickiness.type")) {
            stype = v;
            if (strcmp(v, "lb_cookie") && strcmp(v, "app_cookie"))
                bad = "stickiness.type: lb_cookie or app_cookie";
        } else if (!strcmp(key, "stickiness.lb_cookie.duration_seconds") ||
                   !strcmp(key, "stickiness.app_cookie.duration_seconds")) {
            if ((s = seconds(v, 1, 604800)) < 0) bad = "stickiness duration_seconds: 1..604800";
            json_object_set_new(sticky, "duration", json_integer(s));
        } else if (!strcmp(key, "stickiness.app_cookie.cookie_name")) {
            json_object_set_new(sticky, "cookie_name", json_string(v));
        } else if (!strcmp(key, "load_balancing.algorithm.type")) {
            json_object_set_new(patch, "algorithm", json_string(v)); /* the model checks it */
        } else if (!strcmp(key, "load_balancing.cross_zone.enabled")) {
            if (strcmp(v, "true") && strcmp(v, "false"))
                bad = "load_balancing.cross_zone.enabled: true or false";
            json_object_set_new(patch, "cross_zone", json_boolean(!strcmp(v, "true")));
        } else {
            gd_aws_fail(k, 400, "ValidationError",
                        "Attribute key '%.80s' is not recognized by this game (allowed: "
                        "deregistration_delay.timeout_seconds, stickiness.enabled, "
                        "stickiness.type, stickiness.lb_cookie.duration_seconds, "
                        "stickiness.app_cookie.cookie_name, "
                        "stickiness.app_cookie.duration_seconds, slow_start.duration_seconds, "
                        "load_balancing.algorithm.type, load_balancing.cross_zone.enabled)",
                        key);
            json_decref(patch);
            json_decref(sticky);
            gd_aws_ctx_close(&cx);
            return;
        }
        if (bad) break;
    }
    if (!bad && !n) bad = "Attributes: give at least one Key=...,Value=...";
    if (bad) {
        gd_aws_fail(k, 400, "ValidationError", "%s", bad);
        json_decref(patch);
        json_decref(sticky);
        gd_aws_ctx_close(&cx);
        return;
    }
    if (gd_aws_unread(k) < 0) {
        json_decref(patch);
        json_decref(sticky);
        gd_aws_ctx_close(&cx);
        return;
    }
    const char *cur = gd_jstr(sticky, "type");
    int was_on = !strcmp(cur, "lb_cookie") || !strcmp(cur, "app_cookie");
    if (enabled == 0)
        json_object_set_new(sticky, "type", json_string("none"));
    else if (enabled == 1 || (stype && was_on))
        json_object_set_new(sticky, "type",
                            json_string(stype    ? stype
                                        : was_on ? cur
                                                 : "lb_cookie"));
    if (strcmp(gd_jstr(sticky, "type"), "app_cookie") != 0) json_object_del(sticky, "cookie_name");
    if (!json_equal(sticky, json_object_get(tg_spec(&t), "stickiness")))
        json_object_set(patch, "stickiness", sticky);
    json_decref(sticky);
    json_t *res = json_incref(t.res);
    int implicit = t.implicit;
    gd_aws_ctx_close(&cx);
    int r = update(k, "ModifyTargetGroupAttributes", res, patch, "TargetGroupNotFound");
    if (r == 0) {
        json_t *now = gd_store_res_get(k->g->db, k->team, gd_jstr(res, "id"));
        gd_xml x;
        gd_aws_xml_begin(k, &x);
        attributes_xml(&x, json_object_get(now, "spec"));
        (void)implicit;
        json_decref(now);
        gd_aws_xml_send(k, &x);
    }
    json_decref(res);
}

/* ---- listeners and rules ---- */

/* The group an action forwards to (Actions.member.1 / DefaultActions.member.1), as an
 * alb's spec names it for the alb; NULL after answering. */
static const char *forward_param(gd_aws_ctx *cx, const char *list, const json_t *alb, char *out,
                                 size_t n)
{
    gd_aws_call *k = cx->k;
    const char *type = gd_aws_param(&k->params, "%s.member.1.Type", list);
    const char *arn = gd_aws_param(&k->params, "%s.member.1.TargetGroupArn", list);
    const char *fw = gd_aws_param(
        &k->params, "%s.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn", list);
    gd_aws_param(&k->params, "%s.member.1.Order", list);
    gd_aws_param(&k->params, "%s.member.1.ForwardConfig.TargetGroups.member.1.Weight", list);
    if (gd_aws_param(&k->params, "%s.member.2.Type", list) ||
        gd_aws_param(&k->params, "%s.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn",
                     list)) {
        gd_aws_fail(k, 400, "TooManyActions",
                    "%s: this game takes one forward action to one target group", list);
        return NULL;
    }
    if (!type || strcmp(type, "forward") != 0 || (!arn && !fw)) {
        gd_aws_fail(k, 400, "ValidationError",
                    "%s: give one action of Type forward with a TargetGroupArn (fixed-response "
                    "and redirect are not served by this API yet)",
                    list);
        return NULL;
    }
    struct tg t;
    if (find_tg(cx, arn ? arn : fw, &t) < 0) {
        gd_aws_fail(k, 400, "TargetGroupNotFound", "Target group '%.200s' not found",
                    arn ? arn : fw);
        return NULL;
    }
    if (t.implicit && strcmp(gd_jstr(t.res, "id"), gd_jstr(alb, "id")) != 0) {
        gd_aws_fail(k, 400, "TargetGroupAssociationLimit",
                    "Target group '%s' is alb %s's own: it serves no other load balancer",
                    gd_jstr(t.res, "name"), gd_jstr(t.res, "name"));
        return NULL;
    }
    snprintf(out, n, "%s", tg_ref(&t));
    return out;
}

/* The ARN of the group an alb's spec names (GD_SCHEMA_IMPLICIT_TG: its own). */
static void ref_arn(gd_aws_ctx *cx, const json_t *alb, const char *ref, char *out, size_t n)
{
    json_t *tg =
        strcmp(ref, GD_SCHEMA_IMPLICIT_TG) ? gd_aws_find(cx->all, "target_group", ref) : NULL;
    tg_arn(cx, tg ? tg : alb, out, n);
}

static void forward_xml(gd_aws_ctx *cx, gd_xml *x, const json_t *alb, const char *ref)
{
    char arn[512];
    ref_arn(cx, alb, ref, arn, sizeof arn);
    gd_xml_open(x, "member");
    gd_xml_text(x, "Type", "forward");
    gd_xml_text(x, "TargetGroupArn", arn);
    gd_xml_text(x, "Order", "1");
    gd_xml_open(x, "ForwardConfig");
    gd_xml_raw(x, "<TargetGroups><member>");
    gd_xml_text(x, "TargetGroupArn", arn);
    gd_xml_text(x, "Weight", "1");
    gd_xml_raw(x, "</member></TargetGroups>");
    gd_xml_raw(
        x, "<TargetGroupStickinessConfig><Enabled>false</Enabled></TargetGroupStickinessConfig>");
    gd_xml_close(x, "ForwardConfig");
    gd_xml_close(x, "member");
}

static const char *default_ref(const json_t *alb)
{
    const char *d =
        json_string_value(json_object_get(json_object_get(alb, "spec"), "default_target_group"));
    return d ? d : GD_SCHEMA_IMPLICIT_TG;
}

static void listener_xml(gd_aws_ctx *cx, gd_xml *x, const json_t *alb)
{
    char arn[512];
    gd_xml_open(x, "member");
    listener_arn(cx, alb, arn, sizeof arn);
    gd_xml_text(x, "ListenerArn", arn);
    lb_arn(cx, alb, arn, sizeof arn);
    gd_xml_text(x, "LoadBalancerArn", arn);
    gd_xml_textf(x, "Port", "%.0f", gd_jnum(json_object_get(alb, "spec"), "port", 8080));
    gd_xml_text(x, "Protocol", "HTTP");
    gd_xml_open(x, "DefaultActions");
    forward_xml(cx, x, alb, default_ref(alb));
    gd_xml_close(x, "DefaultActions");
    gd_xml_close(x, "member");
}

static void describe_listeners(gd_aws_call *k)
{
    static const char *arns[MAX_ITEMS];
    long start, max;
    int na = list_param(k, "ListenerArns.member", arns);
    const char *lba = gd_aws_param(&k->params, "LoadBalancerArn");
    if (na < 0 || paging(k, &start, &max) < 0 || gd_aws_unread(k) < 0) return;
    if (!lba && !na) {
        gd_aws_fail(k, 400, "ValidationError",
                    "You must specify either listener ARNs or a load balancer ARN");
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *lb = lba ? by_arn(&cx, lba, "alb") : NULL;
    if (lba && !lb) {
        gd_aws_fail(k, 400, "LoadBalancerNotFound", "Load balancer '%.200s' not found", lba);
        gd_aws_ctx_close(&cx);
        return;
    }
    for (int i = 0; i < na; i++)
        if (!find_listener(&cx, arns[i], NULL, 0)) {
            gd_aws_fail(k, 400, "ListenerNotFound", "One or more listeners not found: '%.200s'",
                        arns[i]);
            gd_aws_ctx_close(&cx);
            return;
        }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "Listeners");
    long seen = 0;
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "alb") != 0) continue;
        char arn[512];
        listener_arn(&cx, r, arn, sizeof arn);
        if (lb && strcmp(gd_jstr(r, "id"), gd_jstr(lb, "id")) != 0) continue;
        if (na && !gd_aws_in_list(arns, na, arn)) continue;
        if (seen++ < start || seen > start + max) continue;
        listener_xml(&cx, &x, r);
    }
    gd_xml_close(&x, "Listeners");
    if (seen > start + max) {
        char tok[32];
        gd_xml_text(&x, "NextMarker", gd_aws_page_token(start + max, tok));
    }
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* The alb a request names by LoadBalancerArn (listener 0) or ListenerArn; NULL after
 * answering. */
static json_t *named_alb(gd_aws_ctx *cx, int listener)
{
    const char *p = listener ? "ListenerArn" : "LoadBalancerArn";
    const char *arn = gd_aws_param(&cx->k->params, "%s", p);
    json_t *alb = !arn ? NULL : listener ? find_listener(cx, arn, NULL, 0) : by_arn(cx, arn, "alb");
    if (!arn)
        gd_aws_fail(cx->k, 400, "ValidationError", "%s: give its ARN", p);
    else if (!alb)
        gd_aws_fail(cx->k, 400, listener ? "ListenerNotFound" : "LoadBalancerNotFound",
                    "%s '%.200s' not found", listener ? "Listener" : "Load balancer", arn);
    return alb;
}

static void create_listener(gd_aws_call *k)
{
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *alb = named_alb(&cx, 0);
    char err[200], ref[64];
    long port;
    const char *proto = gd_aws_param(&k->params, "Protocol");
    if (!alb || !forward_param(&cx, "DefaultActions", alb, ref, sizeof ref)) {
        gd_aws_ctx_close(&cx);
        return;
    }
    long own = (long)gd_jnum(json_object_get(alb, "spec"), "port", 8080);
    if (gd_aws_param_int(&k->params, "Port", 1, 65535, own, &port, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        gd_aws_ctx_close(&cx);
        return;
    }
    if (gd_aws_unread(k) < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    if (proto && strcmp(proto, "HTTP") != 0) {
        gd_aws_fail(k, 400, "UnsupportedProtocol", "Protocol '%.20s': allowed: HTTP", proto);
        gd_aws_ctx_close(&cx);
        return;
    }
    if (port != own) {
        gd_aws_fail(k, 400, "TooManyListeners",
                    "An alb of this game has one listener, on its port %ld: create it on that "
                    "port to set its default action",
                    own);
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *res = json_incref(alb);
    gd_aws_ctx_close(&cx);
    int r = update(k, "CreateListener", res, json_pack("{s:s}", "default_target_group", ref),
                   "LoadBalancerNotFound");
    if (r == 0) {
        gd_aws_ctx_open(&cx, k);
        json_t *now = gd_aws_find(cx.all, "alb", gd_jstr(res, "id"));
        gd_xml x;
        gd_aws_xml_begin(k, &x);
        gd_xml_open(&x, "Listeners");
        if (now) listener_xml(&cx, &x, now);
        gd_xml_close(&x, "Listeners");
        gd_aws_ctx_close(&cx);
        gd_aws_xml_send(k, &x);
    }
    json_decref(res);
}

/* A pattern value, or each of a list's, as members of tag. */
static void values_xml(gd_xml *x, const char *tag, const json_t *v)
{
    gd_xml_open(x, tag);
    if (json_is_string(v)) gd_xml_text(x, "member", json_string_value(v));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) gd_xml_text(x, "member", json_string_value(e));
    gd_xml_close(x, tag);
}

static void rule_xml(gd_aws_ctx *cx, gd_xml *x, const json_t *alb, const json_t *rule)
{
    char arn[512], prio[24];
    snprintf(prio, sizeof prio, "%lld",
             (long long)json_integer_value(json_object_get(rule, "priority")));
    rule_arn(cx, alb, rule ? prio : NULL, arn, sizeof arn);
    gd_xml_open(x, "member");
    gd_xml_text(x, "RuleArn", arn);
    gd_xml_text(x, "Priority", rule ? prio : "default");
    gd_xml_open(x, "Conditions");
    const json_t *c = json_object_get(rule, "conditions");
    static const char *const fields[][3] = {{"path", "path-pattern", "PathPatternConfig"},
                                            {"host", "host-header", "HostHeaderConfig"}};
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(c, fields[i][0]);
        if (!v) continue;
        gd_xml_open(x, "member");
        gd_xml_text(x, "Field", fields[i][1]);
        values_xml(x, "Values", v);
        gd_xml_open(x, fields[i][2]);
        values_xml(x, "Values", v);
        gd_xml_close(x, fields[i][2]);
        gd_xml_close(x, "member");
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(c, "header"), key, v)
    {
        gd_xml_open(x, "member");
        gd_xml_text(x, "Field", "http-header");
        gd_xml_open(x, "HttpHeaderConfig");
        gd_xml_text(x, "HttpHeaderName", key);
        values_xml(x, "Values", v);
        gd_xml_close(x, "HttpHeaderConfig");
        gd_xml_close(x, "member");
    }
    if (json_object_size(json_object_get(c, "query"))) {
        gd_xml_open(x, "member");
        gd_xml_text(x, "Field", "query-string");
        gd_xml_raw(x, "<QueryStringConfig><Values>");
        json_object_foreach((json_t *)json_object_get(c, "query"), key, v)
        {
            size_t i;
            json_t *e;
            if (json_is_string(v)) {
                gd_xml_open(x, "member");
                gd_xml_text(x, "Key", key);
                gd_xml_text(x, "Value", json_string_value(v));
                gd_xml_close(x, "member");
            }
            json_array_foreach(v, i, e)
            {
                gd_xml_open(x, "member");
                gd_xml_text(x, "Key", key);
                gd_xml_text(x, "Value", json_string_value(e));
                gd_xml_close(x, "member");
            }
        }
        gd_xml_raw(x, "</Values></QueryStringConfig>");
        gd_xml_close(x, "member");
    }
    gd_xml_close(x, "Conditions");
    gd_xml_open(x, "Actions");
    const json_t *a = json_object_get(rule, "action");
    const char *type = rule ? gd_jstr(a, "type") : "forward";
    if (!strcmp(type, "forward")) {
        forward_xml(cx, x, alb, rule ? gd_jstr(a, "target_group") : default_ref(alb));
    } else if (!strcmp(type, "fixed_response")) {
        gd_xml_open(x, "member");
        gd_xml_text(x, "Type", "fixed-response");
        gd_xml_text(x, "Order", "1");
        gd_xml_open(x, "FixedResponseConfig");
        gd_xml_textf(x, "StatusCode", "%.0f", gd_jnum(a, "status", 200));
        gd_xml_text(x, "ContentType",
                    *gd_jstr(a, "content_type") ? gd_jstr(a, "content_type") : "text/plain");
        gd_xml_text(x, "MessageBody", gd_jstr(a, "body"));
        gd_xml_close(x, "FixedResponseConfig");
        gd_xml_close(x, "member");
    } else {
        gd_xml_open(x, "member");
        gd_xml_text(x, "Type", "redirect");
        gd_xml_text(x, "Order", "1");
        gd_xml_open(x, "RedirectConfig");
        gd_xml_textf(x, "StatusCode", "HTTP_%.0f", gd_jnum(a, "status", 301));
        gd_xml_close(x, "RedirectConfig");
        gd_xml_close(x, "member");
    }
    gd_xml_close(x, "Actions");
    gd_xml_text(x, "IsDefault", rule ? "false" : "true");
    gd_xml_close(x, "member");
}

/* The alb's rules sorted by priority (a new array of borrowed rules). */
static json_t *sorted_rules(const json_t *alb)
{
    json_t *out = json_array();
    size_t i, j;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(alb, "spec"), "rules"), i, r)
    {
        json_int_t p = json_integer_value(json_object_get(r, "priority"));
        for (j = 0; j < json_array_size(out); j++)
            if (json_integer_value(json_object_get(json_array_get(out, j), "priority")) > p) break;
        json_array_insert(out, j, r);
    }
    return out;
}

static void describe_rules(gd_aws_call *k)
{
    static const char *arns[MAX_ITEMS];
    long start, max;
    int na = list_param(k, "RuleArns.member", arns);
    const char *la = gd_aws_param(&k->params, "ListenerArn");
    if (na < 0 || paging(k, &start, &max) < 0 || gd_aws_unread(k) < 0) return;
    if (!la && !na) {
        gd_aws_fail(k, 400, "ValidationError", "You must specify either listener or rule ARNs");
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *lis = la ? find_listener(&cx, la, NULL, 0) : NULL;
    if (la && !lis) {
        gd_aws_fail(k, 400, "ListenerNotFound", "Listener '%.200s' not found", la);
        gd_aws_ctx_close(&cx);
        return;
    }
    char prio[24];
    for (int i = 0; i < na; i++)
        if (!find_listener(&cx, arns[i], prio, sizeof prio)) {
            gd_aws_fail(k, 400, "RuleNotFound", "One or more rules not found: '%.200s'", arns[i]);
            gd_aws_ctx_close(&cx);
            return;
        }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "Rules");
    long seen = 0;
    size_t i, j;
    json_t *alb, *rule;
    json_array_foreach(cx.all, i, alb)
    {
        if (strcmp(gd_jstr(alb, "type"), "alb") != 0) continue;
        if (lis && strcmp(gd_jstr(alb, "id"), gd_jstr(lis, "id")) != 0) continue;
        json_t *rules = sorted_rules(alb);
        json_array_append_new(rules, json_null()); /* the default rule, last */
        json_array_foreach(rules, j, rule)
        {
            char arn[512], p[24];
            snprintf(p, sizeof p, "%lld",
                     (long long)json_integer_value(json_object_get(rule, "priority")));
            rule_arn(&cx, alb, json_is_null(rule) ? NULL : p, arn, sizeof arn);
            if (na && !gd_aws_in_list(arns, na, arn)) continue;
            if (seen++ < start || seen > start + max) continue;
            rule_xml(&cx, &x, alb, json_is_null(rule) ? NULL : rule);
        }
        json_decref(rules);
    }
    gd_xml_close(&x, "Rules");
    if (seen > start + max) {
        char tok[32];
        gd_xml_text(&x, "NextMarker", gd_aws_page_token(start + max, tok));
    }
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* Conditions.member.N of CreateRule as the game's conditions; NULL after answering. */
static json_t *conditions_param(gd_aws_call *k)
{
    json_t *c = json_object();
    int n = 0;
    for (;; n++) {
        const char *field = gd_aws_param(&k->params, "Conditions.member.%d.Field", n + 1);
        if (!field) break;
        const char *key = !strcmp(field, "path-pattern")  ? "path"
                          : !strcmp(field, "host-header") ? "host"
                                                          : NULL;
        if (!key) {
            gd_aws_fail(k, 400, "ValidationError",
                        "Conditions.member.%d.Field: '%.40s' is not served by this API yet "
                        "(allowed: path-pattern, host-header)",
                        n + 1, field);
            json_decref(c);
            return NULL;
        }
        const char *vals[MAX_ITEMS];
        char prefix[96], err[200];
        snprintf(prefix, sizeof prefix, "Conditions.member.%d.Values.member", n + 1);
        int nv = gd_aws_param_list(&k->params, prefix, vals, MAX_ITEMS, err, sizeof err);
        if (nv == 0) {
            snprintf(prefix, sizeof prefix, "Conditions.member.%d.%s.Values.member", n + 1,
                     key[0] == 'p' ? "PathPatternConfig" : "HostHeaderConfig");
            nv = gd_aws_param_list(&k->params, prefix, vals, MAX_ITEMS, err, sizeof err);
        }
        if (nv <= 0 || json_object_get(c, key)) {
            if (nv < 0)
                gd_aws_fail(k, 400, "ValidationError", "%s", err);
            else if (nv == 0)
                gd_aws_fail(k, 400, "ValidationError", "Conditions.member.%d: give its Values",
                            n + 1);
            else
                gd_aws_fail(k, 400, "ValidationError",
                            "Conditions: one %s condition a rule, with several values", field);
            json_decref(c);
            return NULL;
        }
        json_t *v;
        if (nv == 1) {
            v = json_string(vals[0]);
        } else {
            v = json_array();
            for (int i = 0; i < nv; i++) json_array_append_new(v, json_string(vals[i]));
        }
        json_object_set_new(c, key, v);
    }
    if (!n) {
        gd_aws_fail(k, 400, "ValidationError", "Conditions: give at least one condition");
        json_decref(c);
        return NULL;
    }
    return c;
}

static void create_rule(gd_aws_call *k)
{
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *alb = named_alb(&cx, 1);
    char err[200], ref[64];
    long prio;
    json_t *cond = NULL;
    if (!alb || !forward_param(&cx, "Actions", alb, ref, sizeof ref) ||
        !(cond = conditions_param(k))) {
        gd_aws_ctx_close(&cx);
        return;
    }
    if (!gd_aws_param(&k->params, "Priority") ||
        gd_aws_param_int(&k->params, "Priority", 1, 50000, 0, &prio, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "Priority: give a whole number in 1..50000");
        json_decref(cond);
        gd_aws_ctx_close(&cx);
        return;
    }
    if (gd_aws_unread(k) < 0) {
        json_decref(cond);
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *rules = json_deep_copy(json_object_get(json_object_get(alb, "spec"), "rules"));
    if (!rules) rules = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) if (json_integer_value(json_object_get(r, "priority")) == prio)
    {
        gd_aws_fail(k, 400, "PriorityInUse", "Priority '%ld' is currently in use", prio);
        json_decref(rules);
        json_decref(cond);
        gd_aws_ctx_close(&cx);
        return;
    }
    json_array_append_new(rules, json_pack("{s:I,s:o,s:{s:s,s:s}}", "priority", (json_int_t)prio,
                                           "conditions", cond, "action", "type", "forward",
                                           "target_group", ref));
    json_t *res = json_incref(alb);
    gd_aws_ctx_close(&cx);
    int rc = update(k, "CreateRule", res, json_pack("{s:o}", "rules", rules), "ListenerNotFound");
    if (rc == 0) {
        gd_aws_ctx_open(&cx, k);
        json_t *now = gd_aws_find(cx.all, "alb", gd_jstr(res, "id"));
        gd_xml x;
        gd_aws_xml_begin(k, &x);
        gd_xml_open(&x, "Rules");
        json_array_foreach(json_object_get(json_object_get(now, "spec"), "rules"), i, r)
        {
            if (json_integer_value(json_object_get(r, "priority")) == prio)
                rule_xml(&cx, &x, now, r);
        }
        gd_xml_close(&x, "Rules");
        gd_aws_ctx_close(&cx);
        gd_aws_xml_send(k, &x);
    }
    json_decref(res);
}

static void delete_rule(gd_aws_call *k)
{
    const char *arn = gd_aws_param(&k->params, "RuleArn");
    if (gd_aws_unread(k) < 0) return;
    if (!arn) {
        gd_aws_fail(k, 400, "ValidationError", "RuleArn: give the rule's ARN");
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    char prio[24];
    json_t *alb = find_listener(&cx, arn, prio, sizeof prio);
    if (!alb) {
        gd_aws_fail(k, 400, "RuleNotFound", "One or more rules not found: '%.200s'", arn);
        gd_aws_ctx_close(&cx);
        return;
    }
    if (!*prio) {
        gd_aws_fail(k, 400, "OperationNotPermitted", "Default rule '%.200s' cannot be deleted",
                    arn);
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *rules = json_deep_copy(json_object_get(json_object_get(alb, "spec"), "rules"));
    for (size_t i = json_array_size(rules); i-- > 0;)
        if (json_integer_value(json_object_get(json_array_get(rules, i), "priority")) == atol(prio))
            json_array_remove(rules, i);
    json_t *res = json_incref(alb);
    gd_aws_ctx_close(&cx);
    if (update(k, "DeleteRule", res, json_pack("{s:o}", "rules", rules), "RuleNotFound") == 0)
        empty_answer(k);
    json_decref(res);
}

/* ---- tags ---- */

static void describe_tags(gd_aws_call *k)
{
    static const char *arns[MAX_ITEMS];
    int na = list_param(k, "ResourceArns.member", arns);
    if (na < 0 || gd_aws_unread(k) < 0) return;
    if (!na || na > 20) {
        gd_aws_fail(k, 400, "ValidationError", "ResourceArns: give 1..20 ARNs");
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    for (int i = 0; i < na; i++) {
        struct tg t;
        char prio[24];
        const char *code = NULL;
        if (strstr(arns[i], ":loadbalancer/") && !by_arn(&cx, arns[i], "alb"))
            code = "LoadBalancerNotFound";
        else if (strstr(arns[i], ":targetgroup/") && find_tg(&cx, arns[i], &t) < 0)
            code = "TargetGroupNotFound";
        else if (strstr(arns[i], ":listener/") && !find_listener(&cx, arns[i], NULL, 0))
            code = "ListenerNotFound";
        else if (strstr(arns[i], ":listener-rule/") &&
                 !find_listener(&cx, arns[i], prio, sizeof prio))
            code = "RuleNotFound";
        else if (!strstr(arns[i], ":loadbalancer/") && !strstr(arns[i], ":targetgroup/") &&
                 !strstr(arns[i], ":listener/") && !strstr(arns[i], ":listener-rule/"))
            code = "ValidationError";
        if (code) {
            gd_aws_fail(k, 400, code,
                        "'%.200s' is no load balancer, target group, listener or rule of this team",
                        arns[i]);
            gd_aws_ctx_close(&cx);
            return;
        }
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "TagDescriptions");
    for (int i = 0; i < na; i++) {
        gd_xml_open(&x, "member");
        gd_xml_text(&x, "ResourceArn", arns[i]);
        gd_xml_raw(&x, "<Tags/>"); /* albs and target groups carry no tags in this game */
        gd_xml_close(&x, "member");
    }
    gd_xml_close(&x, "TagDescriptions");
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

static const gd_aws_action actions[] = {
    {"DescribeLoadBalancers", describe_load_balancers},
    {"DescribeTargetGroups", describe_target_groups},
    {"CreateTargetGroup", create_target_group},
    {"DeleteTargetGroup", delete_target_group},
    {"RegisterTargets", register_targets},
    {"DeregisterTargets", deregister_targets},
    {"DescribeTargetHealth", describe_target_health},
    {"DescribeTargetGroupAttributes", describe_tg_attributes},
    {"ModifyTargetGroupAttributes", modify_tg_attributes},
    {"DescribeListeners", describe_listeners},
    {"CreateListener", create_listener},
    {"DescribeRules", describe_rules},
    {"CreateRule", create_rule},
    {"DeleteRule", delete_rule},
    {"DescribeTags", describe_tags},
};

const gd_aws_service gd_aws_elbv2 = {
    .signing_name = "elasticloadbalancing",
    .version = "2015-12-01",
    .xmlns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    .protocol = GD_AWS_QUERY,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
