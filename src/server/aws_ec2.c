/* EC2 (API version 2016-11-15) over the team's resources: instances, subnets, VPCs,
 * security groups, launch templates and zones, in EC2's query dialect (lowercase XML
 * with <item> lists). Reads come from the store; every write is an operation of
 * ops.c under the key's principal. */
#include "core/addr.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/aws_int.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS 1000
#define MAX_FILTERS 50
#define MAX_VALUES 200

/* ---- what every describe shares ---- */

/* The team's resources, read once per call. */
struct filter {
    const char *name;
    const char *vals[MAX_VALUES];
    int nvals;
};

/* Filter.N.Name and Filter.N.Value.M; names must be among allowed (or tag:KEY). Their
 * count, or -1 after answering. */
static int parse_filters(gd_aws_call *k, struct filter *f, const char *const *allowed)
{
    char err[200];
    int n = 0;
    for (;; n++) {
        const char *name = gd_aws_param(&k->params, "Filter.%d.Name", n + 1);
        if (!name) break;
        if (n == MAX_FILTERS) {
            gd_aws_fail(k, 400, "FilterLimitExceeded", "at most %d filters", MAX_FILTERS);
            return -1;
        }
        int ok = !strncmp(name, "tag:", 4) && name[4];
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(allowed[i], name);
        if (!ok) {
            char allow[600];
            gd_join(allowed, allow, sizeof allow);
            gd_aws_fail(k, 400, "InvalidParameterValue",
                        "The filter '%.64s' is invalid (allowed: %s, tag:KEY)", name, allow);
            return -1;
        }
        char prefix[40];
        snprintf(prefix, sizeof prefix, "Filter.%d.Value", n + 1);
        f[n].name = name;
        f[n].nvals = gd_aws_param_list(&k->params, prefix, f[n].vals, MAX_VALUES, err, sizeof err);
        if (f[n].nvals < 0) {
            gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
            return -1;
        }
    }
    return n;
}

/* 1 when an item with these filterable fields (name: a string or a list of strings)
 * and tags passes every filter: some value of the field matches some value of the
 * filter. */
static int filters_pass(const struct filter *f, int nf, const json_t *fields, const json_t *tags)
{
    for (int i = 0; i < nf; i++) {
        json_t *vals = json_array();
        if (!strncmp(f[i].name, "tag:", 4)) {
            json_t *v = json_object_get(tags, f[i].name + 4);
            if (v) json_array_append(vals, v);
        } else if (!strcmp(f[i].name, "tag-key") || !strcmp(f[i].name, "tag-value")) {
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)tags, key, v) json_array_append_new(
                vals, f[i].name[4] == 'k' ? json_string(key) : json_incref(v));
        } else {
            json_t *v = json_object_get(fields, f[i].name);
            if (json_is_array(v))
                json_array_extend(vals, v);
            else if (v)
                json_array_append(vals, v);
        }
        int hit = 0;
        size_t j;
        json_t *v;
        json_array_foreach(vals, j, v) for (int m = 0; m < f[i].nvals && !hit; m++) hit =
            gd_aws_match(f[i].vals[m], json_string_value(v));
        json_decref(vals);
        if (!hit) return 0;
    }
    return 1;
}

/* <tagSet> of a tags object. */
static void tag_set(gd_xml *x, const json_t *tags)
{
    if (!json_object_size(tags)) {
        gd_xml_raw(x, "<tagSet/>");
        return;
    }
    gd_xml_open(x, "tagSet");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)tags, key, v)
    {
        gd_xml_open(x, "item");
        gd_xml_text(x, "key", key);
        gd_xml_text(x, "value", json_string_value(v));
        gd_xml_close(x, "item");
    }
    gd_xml_close(x, "tagSet");
}

/* The tags of a resource as AWS shows them: a Name tag with its name (unless it has
 * one), and for an instance its template's and group's and aws:autoscaling:groupName.
 * A new object. */
static json_t *tags_of(gd_aws_ctx *cx, const json_t *r)
{
    json_t *tags = json_object();
    const json_t *spec = json_object_get(r, "spec"), *st = json_object_get(r, "status");
    json_object_set_new(tags, "Name", json_string(gd_jstr(r, "name")));
    if (!strcmp(gd_jstr(r, "type"), "instance")) {
        const char *from[2] = {gd_jstr(spec, "launch_template"), gd_jstr(st, "asg")};
        const char *types[2] = {"launch_template", "asg"};
        for (int i = 0; i < 2; i++) {
            json_t *o = *from[i] ? gd_aws_find(cx->all, types[i], from[i]) : NULL;
            json_object_update(tags, json_object_get(json_object_get(o, "spec"), "tags"));
        }
        if (*gd_jstr(st, "asg"))
            json_object_set_new(tags, "aws:autoscaling:groupName", json_string(gd_jstr(st, "asg")));
    }
    json_object_update(tags, json_object_get(spec, "tags"));
    return tags;
}

/* A subnet's CIDR with the team's octet in place of T. */
static const char *subnet_cidr(gd_aws_ctx *cx, const json_t *sn, char out[24])
{
    gd_cidr c;
    const char *raw = gd_jstr(json_object_get(sn, "spec"), "cidr");
    if (gd_cidr_parse(raw, cx->k->team + cx->k->g->net - 1, &c) < 0) return raw;
    return gd_cidr_format(c, out);
}

/* The id of the team's vpc of a subnet (by its spec's vpc name, else the first vpc). */
static const char *vpc_id_of(gd_aws_ctx *cx, const char *vpc_name)
{
    const char *id = vpc_name && *vpc_name ? gd_aws_id_of(cx->all, "vpc", vpc_name) : "";
    if (!*id) {
        size_t i;
        json_t *r;
        json_array_foreach(cx->all, i,
                           r) if (!strcmp(gd_jstr(r, "type"), "vpc")) return gd_jstr(r, "id");
    }
    return id;
}

/* Ids ("<prefix>-...") of a numbered list parameter, each checked for its prefix. The
 * count, or -1 after answering <malformed_code>. */
static int id_list(gd_aws_call *k, const char *param, const char *prefix, const char *malformed,
                   const char **ids)
{
    char err[200];
    int n = gd_aws_param_list(&k->params, param, ids, MAX_IDS, err, sizeof err);
    if (n < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return -1;
    }
    size_t pl = strlen(prefix);
    for (int i = 0; i < n; i++)
        if (strncmp(ids[i], prefix, pl) != 0 || ids[i][pl] != '-' || !ids[i][pl + 1]) {
            gd_aws_fail(k, 400, malformed, "Invalid id: \"%.64s\" (expecting \"%s-...\")", ids[i],
                        prefix);
            return -1;
        }
    return n;
}

/* Answers NotFound when one of ids is no resource of type of the team; -1 then. */
static int ids_exist(gd_aws_ctx *cx, const char **ids, int n, const char *type, const char *code,
                     const char *what)
{
    gd_buf miss;
    gd_buf_init(&miss, 4096);
    int nm = 0;
    for (int i = 0; i < n; i++) {
        json_t *r = gd_aws_find(cx->all, type, ids[i]);
        if (r && !strcmp(gd_jstr(r, "id"), ids[i])) continue;
        gd_buf_printf(&miss, "%s%s", nm++ ? ", " : "", ids[i]);
    }
    if (nm)
        gd_aws_fail(cx->k, 400, code, "The %s ID%s '%s' do%s not exist", what, nm > 1 ? "s" : "",
                    gd_buf_cstr(&miss), nm > 1 ? "" : "es");
    gd_buf_free(&miss);
    return nm ? -1 : 0;
}

static int in_ids(const char **ids, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(ids[i], id)) return 1;
    return 0;
}

/* MaxResults (lo..hi) and NextToken: the first item and how many; -1 after answering. */
static int paging(gd_aws_call *k, long lo, long hi, int nids, long *start, long *max)
{
    char err[200];
    int has = gd_aws_param(&k->params, "MaxResults") != NULL;
    if (gd_aws_param_int(&k->params, "MaxResults", lo, hi, 100000, max, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return -1;
    }
    if (has && nids) {
        gd_aws_fail(k, 400, "InvalidParameterCombination",
                    "The parameter MaxResults cannot be used with a list of ids");
        return -1;
    }
    int s = gd_aws_page_start(k, gd_aws_param(&k->params, "NextToken"), "InvalidNextToken");
    if (s < 0) return -1;
    *start = s;
    return 0;
}

static int dry_run(gd_aws_call *k)
{
    int dry;
    char err[200];
    if (gd_aws_param_bool(&k->params, "DryRun", 0, &dry, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return -1;
    }
    if (!dry) return 0;
    if (gd_aws_unread(k) < 0) return -1;
    gd_aws_fail(k, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    return -1;
}

/* ---- instances ---- */

static int state_code(gd_inst_state s)
{
    switch (s) {
    case GD_INST_PENDING:
        return 0;
    case GD_INST_RUNNING:
        return 16;
    case GD_INST_TERMINATED:
        return 48;
    case GD_INST_STOPPED:
        return 80;
    default:
        return 0;
    }
}

static void state_xml(gd_xml *x, const char *tag, gd_inst_state s)
{
    gd_xml_open(x, tag);
    gd_xml_textf(x, "code", "%d", state_code(s));
    gd_xml_text(x, "name", gd_inst_state_name(s));
    gd_xml_close(x, tag);
}

/* The hex digits of an id after its prefix ("i-1a2b3c4d" -> "1a2b3c4d"). */
static const char *id_digits(const char *id)
{
    const char *d = strchr(id, '-');
    return d ? d + 1 : id;
}

/* The filterable fields of an instance. A new object. */
static json_t *instance_fields(gd_aws_ctx *cx, const json_t *r)
{
    const json_t *st = json_object_get(r, "status"), *spec = json_object_get(r, "spec");
    const json_t *sn = gd_aws_find(cx->all, "subnet", gd_jstr(st, "subnet"));
    char az[16], code[8], ami[48], res[48], dns[64], ipd[20];
    gd_inst_state s = gd_inst_state_of(st);
    snprintf(code, sizeof code, "%d", state_code(s));
    snprintf(ami, sizeof ami, "ami-%s",
             id_digits(gd_aws_id_of(cx->all, "launch_template", gd_jstr(spec, "launch_template"))));
    snprintf(res, sizeof res, "r-%s", id_digits(gd_jstr(r, "id")));
    snprintf(ipd, sizeof ipd, "%s", gd_jstr(st, "ip"));
    for (char *p = ipd; *p; p++)
        if (*p == '.') *p = '-';
    snprintf(dns, sizeof dns, "ip-%s.ec2.internal", ipd);
    const char *it = *gd_jstr(st, "instance_type") ? gd_jstr(st, "instance_type")
                                                   : gd_jstr(spec, "instance_type");
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "instance-id",
                     gd_jstr(r, "id"), "instance-state-name", gd_inst_state_name(s),
                     "instance-state-code", code, "instance-type", it, "availability-zone",
                     gd_aws_az(gd_jstr(st, "az"), az), "subnet-id", sn ? gd_jstr(sn, "id") : "",
                     "vpc-id",
                     vpc_id_of(cx, sn ? gd_jstr(json_object_get(sn, "spec"), "vpc") : NULL),
                     "private-ip-address", gd_jstr(st, "ip"), "private-dns-name", dns, "image-id",
                     ami, "reservation-id", res);
}

static const char *const instance_filters[] = {"instance-id",
                                               "instance-state-name",
                                               "instance-state-code",
                                               "instance-type",
                                               "availability-zone",
                                               "subnet-id",
                                               "vpc-id",
                                               "private-ip-address",
                                               "private-dns-name",
                                               "image-id",
                                               "reservation-id",
                                               "tag-key",
                                               "tag-value",
                                               NULL};

/* The security groups of an instance: its own, else its template's. */
static const json_t *instance_groups(gd_aws_ctx *cx, const json_t *r)
{
    const json_t *spec = json_object_get(r, "spec");
    const json_t *sg = json_object_get(spec, "security_groups");
    if (!json_is_array(sg)) {
        json_t *lt = gd_aws_find(cx->all, "launch_template", gd_jstr(spec, "launch_template"));
        sg = json_object_get(json_object_get(lt, "spec"), "security_groups");
    }
    return sg;
}

static void group_set(gd_aws_ctx *cx, gd_xml *x, const json_t *groups)
{
    if (!json_array_size(groups)) {
        gd_xml_raw(x, "<groupSet/>");
        return;
    }
    gd_xml_open(x, "groupSet");
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        gd_xml_open(x, "item");
        gd_xml_text(x, "groupId", gd_aws_id_of(cx->all, "security_group", json_string_value(g)));
        gd_xml_text(x, "groupName", json_string_value(g));
        gd_xml_close(x, "item");
    }
    gd_xml_close(x, "groupSet");
}

static void instance_xml(gd_aws_ctx *cx, gd_xml *x, const json_t *r, const json_t *f,
                         const json_t *tags)
{
    const json_t *st = json_object_get(r, "status"), *spec = json_object_get(r, "spec");
    gd_inst_state s = gd_inst_state_of(st);
    char when[32];
    double launched = gd_jnum(st, "launched_at", gd_jnum(r, "created", 0));
    gd_xml_open(x, "item");
    gd_xml_text(x, "instanceId", gd_jstr(r, "id"));
    gd_xml_text(x, "imageId", gd_jstr(f, "image-id"));
    state_xml(x, "instanceState", s);
    gd_xml_text(x, "privateDnsName", gd_jstr(f, "private-dns-name"));
    gd_xml_raw(x, "<dnsName/>");
    gd_xml_text(x, "reason", gd_jstr(st, "reason"));
    gd_xml_text(x, "amiLaunchIndex", "0");
    gd_xml_text(x, "instanceType", gd_jstr(f, "instance-type"));
    gd_xml_text(x, "launchTime", gd_aws_iso(gd_aws_wall_of(cx->k->g, launched), when));
    gd_xml_open(x, "placement");
    gd_xml_text(x, "availabilityZone", gd_jstr(f, "availability-zone"));
    gd_xml_raw(x, "<groupName/>");
    gd_xml_text(x, "tenancy", "default");
    gd_xml_close(x, "placement");
    gd_xml_raw(x, "<monitoring><state>disabled</state></monitoring>");
    gd_xml_text(x, "subnetId", gd_jstr(f, "subnet-id"));
    gd_xml_text(x, "vpcId", gd_jstr(f, "vpc-id"));
    gd_xml_text(x, "privateIpAddress", gd_jstr(st, "ip"));
    gd_xml_text(x, "sourceDestCheck", "true");
    group_set(cx, x, instance_groups(cx, r));
    gd_xml_text(x, "architecture", "x86_64");
    gd_xml_text(x, "rootDeviceType", "ebs");
    gd_xml_text(x, "virtualizationType", "hvm");
    const char *market = *gd_jstr(st, "market") ? gd_jstr(st, "market") : gd_jstr(spec, "market");
    if (!strcmp(market, "spot")) gd_xml_text(x, "instanceLifecycle", "spot");
    tag_set(x, tags);
    gd_xml_text(x, "hypervisor", "xen");
    gd_xml_close(x, "item");
}

static void describe_instances(gd_aws_call *k)
{
    gd_aws_ctx cx;
    struct filter f[MAX_FILTERS];
    const char *ids[MAX_IDS];
    long start, max;
    int nids = id_list(k, "InstanceId", "i", "InvalidInstanceID.Malformed", ids);
    int nf = nids < 0 ? -1 : parse_filters(k, f, instance_filters);
    if (nf < 0 || paging(k, 5, 1000, nids, &start, &max) < 0 || dry_run(k) < 0 ||
        gd_aws_unread(k) < 0)
        return;
    gd_aws_ctx_open(&cx, k);
    if (ids_exist(&cx, ids, nids, "instance", "InvalidInstanceID.NotFound", "instance") < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "reservationSet");
    long seen = 0, shown = 0;
    size_t i;
    json_t *r;
    int more = 0;
    json_array_foreach(cx.all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "instance") != 0) continue;
        if (nids && !in_ids(ids, nids, gd_jstr(r, "id"))) continue;
        json_t *fields = instance_fields(&cx, r), *tags = tags_of(&cx, r);
        if (filters_pass(f, nf, fields, tags) && seen++ >= start) {
            if (shown == max) {
                more = 1;
            } else {
                shown++;
                gd_xml_open(&x, "item");
                gd_xml_text(&x, "reservationId", gd_jstr(fields, "reservation-id"));
                gd_xml_text(&x, "ownerId", cx.account);
                gd_xml_raw(&x, "<groupSet/><instancesSet>");
                instance_xml(&cx, &x, r, fields, tags);
                gd_xml_raw(&x, "</instancesSet>");
                gd_xml_close(&x, "item");
            }
        }
        json_decref(fields);
        json_decref(tags);
        if (more) break;
    }
    gd_xml_close(&x, "reservationSet");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "nextToken", gd_aws_page_token(start + shown, tok));
    }
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* TerminateInstances, StopInstances, StartInstances: every id is checked first (one
 * unknown: nothing is done), then each is one operation, audited as the REST API's. */
static void instance_action(gd_aws_call *k, const char *op, const char *set)
{
    const char *ids[MAX_IDS];
    int force = 0, nids = id_list(k, "InstanceId", "i", "InvalidInstanceID.Malformed", ids);
    char err[200];
    if (nids < 0) return;
    if (!strcmp(op, "stop") &&
        gd_aws_param_bool(&k->params, "Force", 0, &force, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    if (strcmp(op, "stop") == 0) gd_aws_param(&k->params, "Hibernate"); /* not modelled: a stop */
    if (dry_run(k) < 0 || gd_aws_unread(k) < 0) return;
    if (nids == 0) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter InstanceId");
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    if (ids_exist(&cx, ids, nids, "instance", "InvalidInstanceID.NotFound", "instance") < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    /* EC2 refuses the whole call when one instance is protected. */
    for (int i = 0; i < nids && !strcmp(op, "terminate"); i++) {
        json_t *r = gd_aws_find(cx.all, "instance", ids[i]);
        if (json_is_true(json_object_get(json_object_get(r, "spec"), "termination_protection")) &&
            gd_inst_state_of_res(r) != GD_INST_TERMINATED) {
            gd_aws_fail(k, 400, "OperationNotPermitted",
                        "The instance '%s' may not be terminated. Modify its "
                        "'disableApiTermination' instance attribute and try again.",
                        ids[i]);
            gd_aws_ctx_close(&cx);
            return;
        }
    }
    gd_inst_state before[MAX_IDS];
    for (int i = 0; i < nids; i++)
        before[i] = gd_inst_state_of_res(gd_aws_find(cx.all, "instance", ids[i]));
    gd_aws_ctx_close(&cx);
    gd_actor a = gd_aws_actor(k);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, set);
    for (int i = 0; i < nids; i++) {
        gd_op_result res;
        /* Terminating a terminated instance succeeds and changes nothing, as in EC2. */
        gd_op_action(k->g, &a, op, ids[i], NULL, &res);
        if (res.code) {
            gd_xml_free(&x);
            gd_aws_fail_op(k, &res, "InvalidInstanceID.NotFound");
            gd_op_result_free(&res);
            return;
        }
        gd_inst_state now = gd_inst_state_of_res(res.body);
        gd_op_result_free(&res);
        gd_xml_open(&x, "item");
        gd_xml_text(&x, "instanceId", ids[i]);
        state_xml(&x, "currentState", now);
        state_xml(&x, "previousState", before[i]);
        gd_xml_close(&x, "item");
    }
    gd_xml_close(&x, set);
    gd_aws_xml_send(k, &x);
}

static void terminate_instances(gd_aws_call *k)
{
    instance_action(k, "terminate", "instancesSet");
}
static void stop_instances(gd_aws_call *k)
{
    instance_action(k, "stop", "instancesSet");
}
static void start_instances(gd_aws_call *k)
{
    instance_action(k, "start", "instancesSet");
}

/* ---- subnets ---- */

static json_t *subnet_fields(gd_aws_ctx *cx, const json_t *sn)
{
    char cidr[24], az[16];
    const json_t *spec = json_object_get(sn, "spec");
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "subnet-id", gd_jstr(sn, "id"), "vpc-id",
                     vpc_id_of(cx, gd_jstr(spec, "vpc")), "cidr-block", subnet_cidr(cx, sn, cidr),
                     "availability-zone", gd_aws_az(gd_jstr(spec, "az"), az), "state", "available");
}

/* Free usable addresses of a subnet: its usable ones less those live instances and
 * load balancers hold. */
static long subnet_free(gd_aws_ctx *cx, const json_t *sn)
{
    gd_cidr c;
    if (gd_cidr_parse(gd_jstr(json_object_get(sn, "spec"), "cidr"), cx->k->team + cx->k->g->net - 1,
                      &c) < 0)
        return 0;
    long n = gd_cidr_usable(c);
    size_t i;
    json_t *r;
    json_array_foreach(cx->all, i, r)
    {
        const json_t *st = json_object_get(r, "status");
        uint32_t ip;
        const char *type = gd_jstr(r, "type");
        if (strcmp(type, "instance") && strcmp(type, "clb") && strcmp(type, "alb")) continue;
        if (!strcmp(type, "instance") && gd_inst_state_of(st) == GD_INST_TERMINATED) continue;
        if (gd_ip_parse(gd_jstr(st, "ip"), &ip) == 0 && gd_cidr_contains_ip(c, ip) && ip != c.base)
            n--;
    }
    return n < 0 ? 0 : n;
}

static void subnet_xml(gd_aws_ctx *cx, gd_xml *x, const char *tag, const json_t *sn,
                       const json_t *f)
{
    const json_t *spec = json_object_get(sn, "spec");
    char arn[160], azid[16];
    gd_xml_open(x, tag);
    gd_xml_text(x, "subnetId", gd_jstr(sn, "id"));
    snprintf(arn, sizeof arn, "arn:aws:ec2:us-east-1:%s:subnet/%s", cx->account, gd_jstr(sn, "id"));
    gd_xml_text(x, "subnetArn", arn);
    gd_xml_text(x, "state", "available");
    gd_xml_text(x, "ownerId", cx->account);
    gd_xml_text(x, "vpcId", gd_jstr(f, "vpc-id"));
    gd_xml_text(x, "cidrBlock", gd_jstr(f, "cidr-block"));
    gd_xml_textf(x, "availableIpAddressCount", "%ld", subnet_free(cx, sn));
    gd_xml_text(x, "availabilityZone", gd_jstr(f, "availability-zone"));
    const char *z = gd_jstr(spec, "az");
    snprintf(azid, sizeof azid, "use1-az%d", *z ? *z - 'a' + 1 : 1);
    gd_xml_text(x, "availabilityZoneId", azid);
    gd_xml_text(x, "defaultForAz", "false");
    gd_xml_text(x, "mapPublicIpOnLaunch",
                json_is_true(json_object_get(spec, "public")) ? "true" : "false");
    gd_xml_text(x, "assignIpv6AddressOnCreation", "false");
    json_t *tags = tags_of(cx, sn);
    tag_set(x, tags);
    json_decref(tags);
    gd_xml_close(x, tag);
}

static const char *const subnet_filters[] = {"subnet-id",         "vpc-id", "cidr-block",
                                             "availability-zone", "state",  "tag-key",
                                             "tag-value",         NULL};

/* A describe of one type: ids, filters, pages; write() answers one item. */
static void describe(gd_aws_call *k, const char *type, const char *id_param, const char *prefix,
                     const char *malformed, const char *notfound, const char *what,
                     const char *const *allowed, const char *set,
                     json_t *(*fields)(gd_aws_ctx *cx, const json_t *r),
                     void (*write)(gd_aws_ctx *cx, gd_xml *x, const char *tag, const json_t *r,
                                   const json_t *f))
{
    gd_aws_ctx cx;
    struct filter f[MAX_FILTERS];
    const char *ids[MAX_IDS];
    long start, max;
    const char *names[MAX_IDS];
    char err[200];
    int nids = id_list(k, id_param, prefix, malformed, ids), nn = 0;
    /* Security groups are also named (GroupName.N); a launch template too. */
    const char *name_param = !strcmp(type, "security_group")    ? "GroupName"
                             : !strcmp(type, "launch_template") ? "LaunchTemplateName"
                                                                : NULL;
    if (nids >= 0 && name_param &&
        (nn = gd_aws_param_list(&k->params, name_param, names, MAX_IDS, err, sizeof err)) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    int nf = nids < 0 ? -1 : parse_filters(k, f, allowed);
    if (nf < 0 || paging(k, 5, 1000, nids + nn, &start, &max) < 0 || dry_run(k) < 0 ||
        gd_aws_unread(k) < 0)
        return;
    gd_aws_ctx_open(&cx, k);
    if (ids_exist(&cx, ids, nids, type, notfound, what) < 0) {
        gd_aws_ctx_close(&cx);
        return;
    }
    for (int i = 0; i < nn; i++)
        if (!*gd_aws_id_of(cx.all, type, names[i])) {
            gd_aws_fail(k, 400,
                        !strcmp(type, "security_group")
                            ? "InvalidGroup.NotFound"
                            : "InvalidLaunchTemplateName.NotFoundException",
                        "The %s '%.64s' does not exist", what, names[i]);
            gd_aws_ctx_close(&cx);
            return;
        }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, set);
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), type) != 0) continue;
        if (nids && !in_ids(ids, nids, gd_jstr(r, "id"))) continue;
        if (nn && !in_ids(names, nn, gd_jstr(r, "name"))) continue;
        json_t *fl = fields(&cx, r), *tags = tags_of(&cx, r);
        if (filters_pass(f, nf, fl, tags) && seen++ >= start) {
            if (shown == max)
                more = 1;
            else {
                shown++;
                write(&cx, &x, "item", r, fl);
            }
        }
        json_decref(fl);
        json_decref(tags);
        if (more) break;
    }
    gd_xml_close(&x, set);
    if (more) {
        char tok[32];
        gd_xml_text(&x, "nextToken", gd_aws_page_token(start + shown, tok));
    }
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

static void describe_subnets(gd_aws_call *k)
{
    describe(k, "subnet", "SubnetId", "subnet", "InvalidSubnetID.Malformed",
             "InvalidSubnetID.NotFound", "subnet", subnet_filters, "subnetSet", subnet_fields,
             subnet_xml);
}

/* A resource name from a Name tag, or "" when none was given; -1 after answering. */
static int name_tag(gd_aws_call *k, const char *rtype, char *out, size_t n)
{
    out[0] = 0;
    for (int i = 1;; i++) {
        const char *t = gd_aws_param(&k->params, "TagSpecification.%d.ResourceType", i);
        if (!t) break;
        if (strcmp(t, rtype) != 0) {
            gd_aws_fail(k, 400, "InvalidParameterValue",
                        "TagSpecification.%d.ResourceType: '%.40s' (allowed: %s)", i, t, rtype);
            return -1;
        }
        for (int j = 1;; j++) {
            const char *key = gd_aws_param(&k->params, "TagSpecification.%d.Tag.%d.Key", i, j);
            const char *val = gd_aws_param(&k->params, "TagSpecification.%d.Tag.%d.Value", i, j);
            if (!key) break;
            if (strcmp(key, "Name") != 0) {
                gd_aws_fail(k, 400, "InvalidParameterValue",
                            "tag '%.60s': a %s keeps only its Name tag in this game (its name)",
                            key, rtype);
                return -1;
            }
            snprintf(out, n, "%s", val ? val : "");
        }
    }
    return 0;
}

static void create_subnet(gd_aws_call *k)
{
    const char *cidr = gd_aws_param(&k->params, "CidrBlock");
    const char *vpc = gd_aws_param(&k->params, "VpcId");
    const char *azname = gd_aws_param(&k->params, "AvailabilityZone");
    char name[128];
    if (name_tag(k, "subnet", name, sizeof name) < 0 || dry_run(k) < 0 || gd_aws_unread(k) < 0)
        return;
    if (!cidr || !vpc) {
        gd_aws_fail(k, 400, "MissingParameter", "The request must contain the parameter %s",
                    !cidr ? "CidrBlock" : "VpcId");
        return;
    }
    char z = azname ? gd_aws_zone(azname) : 'a';
    if (!z) {
        gd_aws_fail(
            k, 400, "InvalidParameterValue",
            "Value (%.40s) for parameter availabilityZone is invalid. Subnets can currently "
            "only be created in the following availability zones: us-east-1a, us-east-1b, "
            "us-east-1c, us-east-1d, us-east-1e, us-east-1f.",
            azname);
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *v = gd_aws_find(cx.all, "vpc", vpc);
    if (!v || strcmp(gd_jstr(v, "id"), vpc) != 0) {
        gd_aws_fail(k, 400, "InvalidVpcID.NotFound", "The vpc ID '%.40s' does not exist", vpc);
        gd_aws_ctx_close(&cx);
        return;
    }
    gd_cidr c;
    if (!name[0]) { /* no Name tag: one from its block, "subnet-3-0-24" for 127.T.3.0/24 */
        if (gd_cidr_parse(cidr, 0, &c) == 0)
            snprintf(name, sizeof name, "subnet-%u-%u-%d", (c.base >> 8) & 255, c.base & 255,
                     c.prefix);
        else
            snprintf(name, sizeof name, "subnet");
    }
    char zs[2] = {z, 0};
    json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "type", "subnet", "name", name, "spec",
                             "vpc", gd_jstr(v, "name"), "cidr", cidr, "az", zs);
    gd_aws_ctx_close(&cx);
    gd_actor a = gd_aws_actor(k);
    gd_op_result res;
    gd_op_create(k->g, &a, body, &res);
    json_decref(body);
    if (res.code) {
        /* ops.c's ValidationError is EC2's InvalidParameterValue (EC2 has no ValidationError). */
        if (!strcmp(res.code, "ValidationError") || !strcmp(res.code, "AlreadyExists"))
            res.code =
                strstr(res.message, "overlap") ? "InvalidSubnet.Conflict" : "InvalidParameterValue";
        gd_aws_fail_op(k, &res, NULL);
        gd_op_result_free(&res);
        return;
    }
    gd_aws_ctx_open(&cx, k);
    json_t *sn = gd_aws_find(cx.all, "subnet", gd_jstr(res.body, "id"));
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    if (sn) {
        json_t *f = subnet_fields(&cx, sn);
        subnet_xml(&cx, &x, "subnet", sn, f);
        json_decref(f);
    }
    gd_aws_ctx_close(&cx);
    gd_op_result_free(&res);
    gd_aws_xml_send(k, &x);
}

/* ---- VPCs ---- */

static json_t *vpc_fields(gd_aws_ctx *cx, const json_t *v)
{
    gd_cidr c;
    char cidr[24];
    const char *raw = gd_jstr(json_object_get(v, "spec"), "cidr");
    if (gd_cidr_parse(*raw ? raw : "127.T.0.0/16", cx->k->team + cx->k->g->net - 1, &c) == 0)
        raw = gd_cidr_format(c, cidr);
    return json_pack("{s:s,s:s,s:s,s:s}", "vpc-id", gd_jstr(v, "id"), "cidr", raw, "state",
                     "available", "is-default", "false");
}

static void vpc_xml(gd_aws_ctx *cx, gd_xml *x, const char *tag, const json_t *v, const json_t *f)
{
    gd_xml_open(x, tag);
    gd_xml_text(x, "vpcId", gd_jstr(v, "id"));
    gd_xml_text(x, "ownerId", cx->account);
    gd_xml_text(x, "state", "available");
    gd_xml_text(x, "cidrBlock", gd_jstr(f, "cidr"));
    gd_xml_open(x, "cidrBlockAssociationSet");
    gd_xml_open(x, "item");
    gd_xml_textf(x, "associationId", "vpc-cidr-assoc-%s", id_digits(gd_jstr(v, "id")));
    gd_xml_text(x, "cidrBlock", gd_jstr(f, "cidr"));
    gd_xml_raw(x, "<cidrBlockState><state>associated</state></cidrBlockState>");
    gd_xml_close(x, "item");
    gd_xml_close(x, "cidrBlockAssociationSet");
    gd_xml_text(x, "dhcpOptionsId", "default");
    gd_xml_text(x, "instanceTenancy", "default");
    gd_xml_text(x, "isDefault", "false");
    json_t *tags = tags_of(cx, v);
    tag_set(x, tags);
    json_decref(tags);
    gd_xml_close(x, tag);
}

static const char *const vpc_filters[] = {"vpc-id",  "cidr",      "state", "is-default",
                                          "tag-key", "tag-value", NULL};

static void describe_vpcs(gd_aws_call *k)
{
    describe(k, "vpc", "VpcId", "vpc", "InvalidVpcID.Malformed", "InvalidVpcID.NotFound", "vpc",
             vpc_filters, "vpcSet", vpc_fields, vpc_xml);
}

/* ---- security groups ---- */

static json_t *sg_fields(gd_aws_ctx *cx, const json_t *sg)
{
    return json_pack("{s:s,s:s,s:s}", "group-id", gd_jstr(sg, "id"), "group-name",
                     gd_jstr(sg, "name"), "vpc-id", vpc_id_of(cx, NULL));
}

/* One ingress rule as an ipPermissions item: tcp on its port (all traffic without). */
static void rule_xml(gd_aws_ctx *cx, gd_xml *x, const json_t *rule)
{
    long port = (long)json_integer_value(json_object_get(rule, "port"));
    gd_xml_open(x, "item");
    gd_xml_text(x, "ipProtocol", port ? "tcp" : "-1");
    if (port) {
        gd_xml_textf(x, "fromPort", "%ld", port);
        gd_xml_textf(x, "toPort", "%ld", port);
    }
    const char *from = gd_jstr(rule, "from"), *src = gd_jstr(rule, "source_group");
    if (*src) {
        gd_xml_raw(x, "<groups><item>");
        gd_xml_text(x, "userId", cx->account);
        gd_xml_text(x, "groupId", gd_aws_id_of(cx->all, "security_group", src));
        gd_xml_text(x, "groupName", src);
        gd_xml_raw(x, "</item></groups><ipRanges/>");
    } else {
        gd_cidr c;
        char cb[24];
        if (gd_cidr_parse(from, cx->k->team + cx->k->g->net - 1, &c) == 0)
            from = gd_cidr_format(c, cb);
        gd_xml_raw(x, "<groups/><ipRanges><item>");
        gd_xml_text(x, "cidrIp", from);
        gd_xml_raw(x, "</item></ipRanges>");
    }
    gd_xml_close(x, "item");
}

static void sg_xml(gd_aws_ctx *cx, gd_xml *x, const char *tag, const json_t *sg, const json_t *f)
{
    gd_xml_open(x, tag);
    gd_xml_text(x, "ownerId", cx->account);
    gd_xml_text(x, "groupId", gd_jstr(sg, "id"));
    gd_xml_text(x, "groupName", gd_jstr(sg, "name"));
    gd_xml_text(x, "groupDescription", gd_jstr(sg, "name"));
    gd_xml_text(x, "vpcId", gd_jstr(f, "vpc-id"));
    json_t *ingress = json_object_get(json_object_get(sg, "spec"), "ingress");
    if (json_array_size(ingress)) {
        gd_xml_open(x, "ipPermissions");
        size_t i;
        json_t *rule;
        json_array_foreach(ingress, i, rule) rule_xml(cx, x, rule);
        gd_xml_close(x, "ipPermissions");
    } else {
        gd_xml_raw(x, "<ipPermissions/>");
    }
    gd_xml_raw(x, "<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item>"
                  "<cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissionsEgress>");
    json_t *tags = tags_of(cx, sg);
    tag_set(x, tags);
    json_decref(tags);
    gd_xml_close(x, tag);
}

static const char *const sg_filters[] = {"group-id", "group-name", "vpc-id",
                                         "tag-key",  "tag-value",  NULL};

static void describe_security_groups(gd_aws_call *k)
{
    describe(k, "security_group", "GroupId", "sg", "InvalidGroupId.Malformed",
             "InvalidGroup.NotFound", "security group", sg_filters, "securityGroupInfo", sg_fields,
             sg_xml);
}

/* ---- launch templates ---- */

static json_t *lt_fields(gd_aws_ctx *cx, const json_t *lt)
{
    return json_pack("{s:s,s:s}", "launch-template-id", gd_jstr(lt, "id"), "launch-template-name",
                     gd_jstr(lt, "name"));
}

static void lt_xml(gd_aws_ctx *cx, gd_xml *x, const char *tag, const json_t *lt, const json_t *f)
{
    char when[32];
    gd_xml_open(x, tag);
    gd_xml_text(x, "launchTemplateId", gd_jstr(lt, "id"));
    gd_xml_text(x, "launchTemplateName", gd_jstr(lt, "name"));
    gd_xml_text(x, "createTime",
                gd_aws_iso(gd_aws_wall_of(cx->k->g, gd_jnum(lt, "created", 0)), when));
    gd_xml_textf(x, "createdBy", "arn:aws:iam::%s:root", cx->account);
    gd_xml_text(x, "defaultVersionNumber", "1");
    gd_xml_text(x, "latestVersionNumber", "1");
    json_t *tags = json_deep_copy(json_object_get(json_object_get(lt, "spec"), "tags"));
    if (!tags) tags = json_object();
    tag_set(x, tags);
    json_decref(tags);
    gd_xml_close(x, tag);
}

static const char *const lt_filters[] = {"launch-template-id", "launch-template-name", "tag-key",
                                         "tag-value", NULL};

static void describe_launch_templates(gd_aws_call *k)
{
    describe(k, "launch_template", "LaunchTemplateId", "lt", "InvalidLaunchTemplateId.Malformed",
             "InvalidLaunchTemplateId.NotFound", "launch template", lt_filters, "launchTemplates",
             lt_fields, lt_xml);
}

/* ---- zones ---- */

static void describe_availability_zones(gd_aws_call *k)
{
    if (dry_run(k) < 0) return;
    gd_aws_param(&k->params, "AllAvailabilityZones");
    const char *names[8];
    char err[200];
    int nn = gd_aws_param_list(&k->params, "ZoneName", names, 8, err, sizeof err);
    if (nn < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "availabilityZoneInfo");
    for (char z = 'a'; z <= 'f'; z++) {
        char az[16], zs[2] = {z, 0};
        gd_aws_az(zs, az);
        int want = nn == 0;
        for (int i = 0; i < nn; i++) want |= !strcmp(names[i], az);
        if (!want) continue;
        int down = gd_az_down_until(k->g, zs) > 0;
        gd_xml_open(&x, "item");
        gd_xml_text(&x, "zoneName", az);
        gd_xml_textf(&x, "zoneId", "use1-az%d", z - 'a' + 1);
        gd_xml_text(&x, "zoneState", down ? "impaired" : "available");
        gd_xml_text(&x, "regionName", "us-east-1");
        gd_xml_text(&x, "zoneType", "availability-zone");
        gd_xml_text(&x, "optInStatus", "opt-in-not-required");
        gd_xml_raw(&x, "<messageSet/>");
        gd_xml_close(&x, "item");
    }
    gd_xml_close(&x, "availabilityZoneInfo");
    gd_aws_xml_send(k, &x);
}

static const gd_aws_action actions[] = {
    {"CreateSubnet", create_subnet},
    {"DescribeAvailabilityZones", describe_availability_zones},
    {"DescribeInstances", describe_instances},
    {"DescribeLaunchTemplates", describe_launch_templates},
    {"DescribeSecurityGroups", describe_security_groups},
    {"DescribeSubnets", describe_subnets},
    {"DescribeVpcs", describe_vpcs},
    {"StartInstances", start_instances},
    {"StopInstances", stop_instances},
    {"TerminateInstances", terminate_instances},
};

const gd_aws_service gd_aws_ec2 = {
    .signing_name = "ec2",
    .version = "2016-11-15",
    .xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/",
    .protocol = GD_AWS_EC2,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
