/* Auto Scaling (API version 2011-01-01, the query protocol) over the team's asg
 * resources: groups, their instances and activities, desired capacity and the
 * group's settings. Changes are operations of ops.c under the key's principal
 * (SetDesiredCapacity, and UpdateResource of the group for UpdateAutoScalingGroup). */
#include "core/mem.h"
#include "model/state.h"
#include "server/aws_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 1600
#define MAX_SUBNETS 16

static void members(gd_xml *x, const char *tag, const json_t *list)
{
    if (!json_array_size(list)) {
        gd_xml_raw(x, "<");
        gd_xml_raw(x, tag);
        gd_xml_raw(x, "/>");
        return;
    }
    gd_xml_open(x, tag);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) gd_xml_text(x, "member", json_string_value(v));
    gd_xml_close(x, tag);
}

/* The id of a resource as an ARN's last part: its hex digits. */
static const char *digits(const char *id)
{
    const char *d = strchr(id, '-');
    return d ? d + 1 : id;
}

static void lt_xml(gd_aws_ctx *cx, gd_xml *x, const char *name)
{
    gd_xml_open(x, "LaunchTemplate");
    gd_xml_text(x, "LaunchTemplateId", gd_aws_id_of(cx->all, "launch_template", name));
    gd_xml_text(x, "LaunchTemplateName", name);
    gd_xml_text(x, "Version", "$Default");
    gd_xml_close(x, "LaunchTemplate");
}

/* An instance's lifecycle state as a group sees it, or NULL when it is no longer one
 * of its members. */
static const char *lifecycle(const json_t *inst)
{
    const json_t *st = json_object_get(inst, "status");
    gd_inst_state s = gd_inst_state_of(st);
    if (s == GD_INST_TERMINATED || s == GD_INST_UNKNOWN) return NULL;
    if (!strcmp(gd_jstr(st, "lifecycle"), "Terminating")) return "Terminating";
    if (s == GD_INST_PENDING) return "Pending";
    if (s == GD_INST_STOPPED) return "Standby";
    return "InService";
}

static void instance_member(gd_aws_ctx *cx, gd_xml *x, const json_t *inst, int with_group)
{
    const json_t *st = json_object_get(inst, "status"), *spec = json_object_get(inst, "spec");
    char az[16];
    gd_xml_open(x, "member");
    gd_xml_text(x, "InstanceId", gd_jstr(inst, "id"));
    gd_xml_text(x, "InstanceType", gd_jstr(st, "instance_type"));
    if (with_group) gd_xml_text(x, "AutoScalingGroupName", gd_jstr(st, "asg"));
    gd_xml_text(x, "AvailabilityZone", gd_aws_az(gd_jstr(st, "az"), az));
    gd_xml_text(x, "LifecycleState", lifecycle(inst));
    gd_xml_text(x, "HealthStatus",
                !strcmp(gd_jstr(st, "health"), "OutOfService") ? "Unhealthy" : "Healthy");
    lt_xml(cx, x, gd_jstr(spec, "launch_template"));
    gd_xml_text(x, "ProtectedFromScaleIn",
                json_is_true(json_object_get(spec, "protected_from_scale_in")) ? "true" : "false");
    gd_xml_close(x, "member");
}

static void group_xml(gd_aws_ctx *cx, gd_xml *x, const json_t *asg)
{
    const json_t *spec = json_object_get(asg, "spec");
    const char *name = gd_jstr(asg, "name");
    char when[32], arn[256];
    gd_xml_open(x, "member");
    gd_xml_text(x, "AutoScalingGroupName", name);
    snprintf(arn, sizeof arn,
             "arn:aws:autoscaling:us-east-1:%s:autoScalingGroup:%s:autoScalingGroupName/%s",
             cx->account, digits(gd_jstr(asg, "id")), name);
    gd_xml_text(x, "AutoScalingGroupARN", arn);
    lt_xml(cx, x, gd_jstr(spec, "launch_template"));
    gd_xml_textf(x, "MinSize", "%lld", (long long)json_integer_value(json_object_get(spec, "min")));
    gd_xml_textf(x, "MaxSize", "%lld", (long long)json_integer_value(json_object_get(spec, "max")));
    gd_xml_textf(x, "DesiredCapacity", "%lld",
                 (long long)json_integer_value(json_object_get(spec, "desired")));
    gd_xml_text(x, "DefaultCooldown", "300");
    /* Zones and VPCZoneIdentifier from its subnets. */
    json_t *zones = json_array(), *clbs = json_array(), *tgs = json_array();
    gd_buf vz;
    gd_buf_init(&vz, 4096);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "subnets"), i, v)
    {
        json_t *sn = gd_aws_find(cx->all, "subnet", json_string_value(v));
        char az[16];
        gd_aws_az(gd_jstr(json_object_get(sn, "spec"), "az"), az);
        int dup = 0;
        size_t j;
        json_t *z;
        json_array_foreach(zones, j, z) dup |= !strcmp(json_string_value(z), az);
        if (*az && !dup) json_array_append_new(zones, json_string(az));
        gd_buf_printf(&vz, "%s%s", i ? "," : "", sn ? gd_jstr(sn, "id") : json_string_value(v));
    }
    json_array_foreach(json_object_get(spec, "load_balancers"), i, v)
    {
        json_t *lb = gd_aws_find(cx->all, "alb", json_string_value(v));
        if (!lb) {
            json_array_append(clbs, v);
            continue;
        }
        snprintf(arn, sizeof arn, "arn:aws:elasticloadbalancing:us-east-1:%s:targetgroup/%s/%s",
                 cx->account, json_string_value(v), digits(gd_jstr(lb, "id")));
        json_array_append_new(tgs, json_string(arn));
    }
    json_array_foreach(json_object_get(spec, "target_groups"), i, v)
    {
        json_t *tg = gd_aws_find(cx->all, "target_group", json_string_value(v));
        snprintf(arn, sizeof arn, "arn:aws:elasticloadbalancing:us-east-1:%s:targetgroup/%s/%s",
                 cx->account, json_string_value(v), digits(gd_jstr(tg, "id")));
        json_array_append_new(tgs, json_string(arn));
    }
    members(x, "AvailabilityZones", zones);
    members(x, "LoadBalancerNames", clbs);
    members(x, "TargetGroupARNs", tgs);
    json_decref(zones);
    json_decref(clbs);
    json_decref(tgs);
    gd_xml_text(x, "HealthCheckType", gd_jstr(spec, "health_check_type"));
    gd_xml_textf(x, "HealthCheckGracePeriod", "%.0f", gd_jnum(spec, "health_check_grace", 300));
    gd_xml_open(x, "Instances");
    json_array_foreach(cx->all, i, v)
    {
        if (strcmp(gd_jstr(v, "type"), "instance") != 0 || !lifecycle(v) ||
            strcmp(gd_jstr(json_object_get(v, "status"), "asg"), name) != 0)
            continue;
        instance_member(cx, x, v, 0);
    }
    gd_xml_close(x, "Instances");
    gd_xml_text(x, "CreatedTime",
                gd_aws_iso(gd_aws_wall_of(cx->k->g, gd_jnum(asg, "created", 0)), when));
    gd_xml_raw(x, "<SuspendedProcesses/>");
    gd_xml_text(x, "VPCZoneIdentifier", gd_buf_cstr(&vz));
    gd_buf_free(&vz);
    gd_xml_raw(x, "<EnabledMetrics/>");
    const json_t *tags = json_object_get(spec, "tags");
    if (json_object_size(tags)) {
        gd_xml_open(x, "Tags");
        const char *key;
        json_object_foreach((json_t *)tags, key, v)
        {
            gd_xml_open(x, "member");
            gd_xml_text(x, "ResourceId", name);
            gd_xml_text(x, "ResourceType", "auto-scaling-group");
            gd_xml_text(x, "Key", key);
            gd_xml_text(x, "Value", json_string_value(v));
            gd_xml_text(x, "PropagateAtLaunch", "true");
            gd_xml_close(x, "member");
        }
        gd_xml_close(x, "Tags");
    } else {
        gd_xml_raw(x, "<Tags/>");
    }
    gd_xml_raw(x, "<TerminationPolicies><member>Default</member></TerminationPolicies>");
    gd_xml_text(x, "NewInstancesProtectedFromScaleIn",
                json_is_true(json_object_get(spec, "new_instances_protected_from_scale_in"))
                    ? "true"
                    : "false");
    gd_xml_text(x, "CapacityRebalance",
                json_is_true(json_object_get(spec, "capacity_rebalance")) ? "true" : "false");
    const char *err = gd_jstr(json_object_get(asg, "status"), "last_error");
    if (*err) gd_xml_text(x, "Status", err);
    gd_xml_close(x, "member");
}

/* MaxRecords (1..hi) and NextToken; -1 after answering. */
static int paging(gd_aws_call *k, long hi, long def, long *start, long *max)
{
    return gd_aws_paging(k, "MaxRecords", 1, hi, def, "ValidationError", "NextToken",
                         "InvalidNextToken", max, start);
}

static void describe_groups(gd_aws_call *k)
{
    static const char *names[MAX_NAMES];
    char err[200];
    long start, max;
    int nn = gd_aws_param_list(&k->params, "AutoScalingGroupNames.member", names, MAX_NAMES, err,
                               sizeof err);
    if (nn < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    /* Filters: tag:KEY, tag-key, tag-value (the group's tags). */
    struct {
        const char *name;
        const char *vals[100];
        int n;
    } f[10];
    int nf = 0;
    for (;; nf++) {
        const char *name = gd_aws_param(&k->params, "Filters.member.%d.Name", nf + 1);
        if (!name) break;
        if (nf == 10 ||
            (strncmp(name, "tag:", 4) && strcmp(name, "tag-key") && strcmp(name, "tag-value"))) {
            gd_aws_fail(k, 400, "ValidationError",
                        "Filters: '%.60s' is not a filter of this game (allowed: tag:KEY, "
                        "tag-key, tag-value; at most 10)",
                        name);
            return;
        }
        char prefix[48];
        snprintf(prefix, sizeof prefix, "Filters.member.%d.Values.member", nf + 1);
        f[nf].name = name;
        f[nf].n = gd_aws_param_list(&k->params, prefix, f[nf].vals, 100, err, sizeof err);
        if (f[nf].n < 0) {
            gd_aws_fail(k, 400, "ValidationError", "%s", err);
            return;
        }
    }
    if (paging(k, 100, 50, &start, &max) < 0 || gd_aws_unread(k) < 0) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "AutoScalingGroups");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "asg") != 0) continue;
        if (nn && !gd_aws_in_list(names, nn, gd_jstr(r, "name"))) continue;
        const json_t *tags = json_object_get(json_object_get(r, "spec"), "tags");
        int pass = 1;
        for (int j = 0; j < nf && pass; j++) {
            int hit = 0;
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)tags, key, v)
            {
                const char *val = json_string_value(v);
                for (int m = 0; m < f[j].n && !hit; m++) {
                    if (!strncmp(f[j].name, "tag:", 4))
                        hit = !strcmp(f[j].name + 4, key) && gd_aws_match(f[j].vals[m], val);
                    else
                        hit = gd_aws_match(f[j].vals[m], f[j].name[4] == 'k' ? key : val);
                }
            }
            pass = hit;
        }
        if (!pass || seen++ < start) continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        group_xml(&cx, &x, r);
    }
    gd_xml_close(&x, "AutoScalingGroups");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "NextToken", gd_aws_page_token(start + shown, tok));
    }
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* Answers the ValidationError of a request without AutoScalingGroupName. */
static void missing_group_name(gd_aws_call *k)
{
    gd_aws_fail(k, 400, "ValidationError",
                "1 validation error detected: Value null at 'autoScalingGroupName' failed to "
                "satisfy constraint: Member must not be null");
}

/* An operation's refusal: a group that does not exist in AWS's words. Frees r. */
static void not_found_or(gd_aws_call *k, gd_op_result *r, const char *name)
{
    if (r->status == 404)
        gd_aws_fail(k, 400, "ValidationError", "AutoScalingGroup name not found - %.100s (%s)",
                    name, r->message);
    else
        gd_aws_fail_op(k, r, NULL);
    gd_op_result_free(r);
}

static void set_desired_capacity(gd_aws_call *k)
{
    char err[200];
    long desired;
    int honor;
    const char *name = gd_aws_param(&k->params, "AutoScalingGroupName");
    if (!gd_aws_param(&k->params, "DesiredCapacity")) {
        gd_aws_fail(k, 400, "ValidationError",
                    "1 validation error detected: Value null at 'desiredCapacity' failed to "
                    "satisfy constraint: Member must not be null");
        return;
    }
    if (gd_aws_param_int(&k->params, "DesiredCapacity", 0, 1000, 0, &desired, err, sizeof err) <
            0 ||
        gd_aws_param_bool(&k->params, "HonorCooldown", 0, &honor, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    if (!name || !*name) {
        missing_group_name(k);
        return;
    }
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:I}", "desired", (json_int_t)desired);
    gd_op_action(k->g, &a, "scale", name, body, &r); /* audited, refused or not */
    json_decref(body);
    if (r.code) {
        not_found_or(k, &r, name);
        return;
    }
    gd_op_result_free(&r);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_aws_xml_send(k, &x);
}

/* "subnet-a, subnet-b" as the subnets' names, into names (a new array); -1 after
 * answering. */
static int zone_identifier(gd_aws_call *k, const char *vz, json_t **names)
{
    json_t *all = gd_store_res_list(k->g->db, k->team, "subnet", 0);
    *names = json_array();
    const char *p = vz;
    int r = 0;
    while (*p && r == 0) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)(n < 63 ? n : 63), p);
        json_t *sn = gd_aws_find(all, "subnet", id);
        if (!sn || strcmp(gd_jstr(sn, "id"), id) != 0) {
            gd_aws_fail(k, 400, "ValidationError", "The subnet ID '%s' does not exist", id);
            r = -1;
        } else if (json_array_size(*names) == MAX_SUBNETS) {
            gd_aws_fail(k, 400, "ValidationError", "VPCZoneIdentifier: at most %d subnets",
                        MAX_SUBNETS);
            r = -1;
        } else {
            json_array_append_new(*names, json_string(gd_jstr(sn, "name")));
        }
        p += n;
    }
    if (r == 0 && !json_array_size(*names)) {
        gd_aws_fail(k, 400, "ValidationError", "VPCZoneIdentifier: give at least one subnet ID");
        r = -1;
    }
    json_decref(all);
    if (r < 0) {
        json_decref(*names);
        *names = NULL;
    }
    return r;
}

static void update_group(gd_aws_call *k)
{
    char err[200];
    const char *name = gd_aws_param(&k->params, "AutoScalingGroupName");
    json_t *patch = json_object();
    static const struct {
        const char *param, *field;
        long lo, hi;
    } ints[] = {{"MinSize", "min", 0, 1000},
                {"MaxSize", "max", 0, 1000},
                {"DesiredCapacity", "desired", 0, 1000},
                {"HealthCheckGracePeriod", "health_check_grace", 0, 7200}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long v;
        if (!gd_aws_param(&k->params, "%s", ints[i].param)) continue;
        if (gd_aws_param_int(&k->params, ints[i].param, ints[i].lo, ints[i].hi, 0, &v, err,
                             sizeof err) < 0) {
            gd_aws_fail(k, 400, "ValidationError", "%s", err);
            json_decref(patch);
            return;
        }
        json_object_set_new(patch, ints[i].field, json_integer(v));
    }
    static const struct {
        const char *param, *field;
    } bools[] = {{"NewInstancesProtectedFromScaleIn", "new_instances_protected_from_scale_in"},
                 {"CapacityRebalance", "capacity_rebalance"}};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        int b;
        if (!gd_aws_param(&k->params, "%s", bools[i].param)) continue;
        if (gd_aws_param_bool(&k->params, bools[i].param, 0, &b, err, sizeof err) < 0) {
            gd_aws_fail(k, 400, "ValidationError", "%s", err);
            json_decref(patch);
            return;
        }
        json_object_set_new(patch, bools[i].field, json_boolean(b));
    }
    const char *hct = gd_aws_param(&k->params, "HealthCheckType");
    if (hct) json_object_set_new(patch, "health_check_type", json_string(hct));
    const char *ltn = gd_aws_param(&k->params, "LaunchTemplate.LaunchTemplateName");
    const char *lti = gd_aws_param(&k->params, "LaunchTemplate.LaunchTemplateId");
    const char *ltv = gd_aws_param(&k->params, "LaunchTemplate.Version");
    const char *vz = gd_aws_param(&k->params, "VPCZoneIdentifier");
    if (gd_aws_unread(k) < 0) {
        json_decref(patch);
        return;
    }
    if (ltv && strcmp(ltv, "$Default") && strcmp(ltv, "$Latest") && strcmp(ltv, "1")) {
        gd_aws_fail(k, 400, "ValidationError",
                    "LaunchTemplate.Version: a launch template has one version in this game "
                    "(allowed: $Default, $Latest, 1)");
        json_decref(patch);
        return;
    }
    if (!name || !*name) {
        missing_group_name(k);
        json_decref(patch);
        return;
    }
    json_t *asg = gd_store_res_live(k->g->db, k->team, name, "asg");
    if (!asg) { /* the operation refuses it, audited as the REST API's refusal is */
        gd_actor a = gd_aws_actor(k);
        gd_op_result r;
        json_t *body = json_pack("{s:o}", "spec", patch);
        gd_op_update(k->g, &a, name, body, &r);
        json_decref(body);
        not_found_or(k, &r, name);
        return;
    }
    if (ltn || lti) {
        json_t *lt = gd_store_res_live(k->g->db, k->team, lti ? lti : ltn, "launch_template");
        if (!lt) {
            gd_aws_fail(k, 400, "ValidationError", "The launch template '%.64s' does not exist",
                        lti ? lti : ltn);
            json_decref(asg);
            json_decref(patch);
            return;
        }
        json_object_set_new(patch, "launch_template", json_string(gd_jstr(lt, "name")));
        json_decref(lt);
    }
    json_t *subnets = NULL;
    if (vz && zone_identifier(k, vz, &subnets) < 0) {
        json_decref(asg);
        json_decref(patch);
        return;
    }
    if (subnets) json_object_set_new(patch, "subnets", subnets);
    /* As AWS: a new MinSize above the desired capacity raises it, a new MaxSize below
     * it lowers it, when DesiredCapacity is not given. */
    const json_t *spec = json_object_get(asg, "spec");
    if (!json_object_get(patch, "desired")) {
        json_int_t d = json_integer_value(json_object_get(spec, "desired"));
        json_t *mn = json_object_get(patch, "min"), *mx = json_object_get(patch, "max");
        if (mn && json_integer_value(mn) > d) d = json_integer_value(mn);
        if (mx && json_integer_value(mx) < d) d = json_integer_value(mx);
        if (d != json_integer_value(json_object_get(spec, "desired")))
            json_object_set_new(patch, "desired", json_integer(d));
    }
    json_decref(asg);
    if (!json_object_size(patch)) { /* nothing to change: AWS answers success */
        json_decref(patch);
        gd_xml x;
        gd_aws_xml_begin(k, &x);
        gd_aws_xml_send(k, &x);
        return;
    }
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:o}", "spec", patch);
    gd_op_update(k->g, &a, name, body, &r);
    json_decref(body);
    if (r.code) {
        not_found_or(k, &r, name);
        return;
    }
    gd_op_result_free(&r);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_aws_xml_send(k, &x);
}

static void describe_activities(gd_aws_call *k)
{
    long start, max;
    int deleted;
    char err[200];
    const char *name = gd_aws_param(&k->params, "AutoScalingGroupName");
    if (gd_aws_param_bool(&k->params, "IncludeDeletedGroups", 0, &deleted, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    if (paging(k, 100, 100, &start, &max) < 0 || gd_aws_unread(k) < 0) return;
    json_t *asgs = gd_store_res_list(k->g->db, k->team, "asg", deleted);
    /* Every activity of the groups asked for, newest first. */
    json_t *acts = json_array();
    size_t i, j;
    json_t *r, *a;
    json_array_foreach(asgs, i, r)
    {
        if (name && strcmp(gd_jstr(r, "name"), name) != 0) continue;
        json_t *list = json_object_get(json_object_get(r, "status"), "activities");
        json_array_foreach(list, j, a)
        {
            json_t *e = json_deep_copy(a);
            json_object_set_new(e, "asg", json_string(gd_jstr(r, "name")));
            json_object_set_new(e, "asg_id", json_string(gd_jstr(r, "id")));
            json_object_set_new(e, "n", json_integer((json_int_t)j));
            json_array_append_new(acts, e);
        }
    }
    json_decref(asgs);
    size_t n = json_array_size(acts);
    /* Sorted by time, newest first (insertion sort: at most 50 a group). */
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && gd_jnum(json_array_get(acts, j), "time", 0) >
                                 gd_jnum(json_array_get(acts, j - 1), "time", 0);
             j--) {
            json_t *t = json_incref(json_array_get(acts, j));
            json_array_set(acts, j, json_array_get(acts, j - 1));
            json_array_set_new(acts, j - 1, t);
        }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "Activities");
    long shown = 0;
    for (i = (size_t)start; i < n && shown < max; i++, shown++) {
        a = json_array_get(acts, i);
        char when[32];
        double t = gd_aws_wall_of(k->g, gd_jnum(a, "time", 0));
        gd_xml_open(&x, "member");
        gd_xml_textf(&x, "ActivityId", "%.8s-0000-4000-8000-%012llx", digits(gd_jstr(a, "asg_id")),
                     (unsigned long long)(gd_jnum(a, "time", 0) * 1000) ^
                         (unsigned long long)json_integer_value(json_object_get(a, "n")));
        gd_xml_text(&x, "AutoScalingGroupName", gd_jstr(a, "asg"));
        gd_xml_text(&x, "Description", gd_jstr(a, "description"));
        gd_xml_text(&x, "Cause", gd_jstr(a, "cause"));
        gd_xml_text(&x, "StartTime", gd_aws_iso(t, when));
        gd_xml_text(&x, "EndTime", gd_aws_iso(t, when));
        gd_xml_text(&x, "StatusCode", "Successful");
        gd_xml_text(&x, "Progress", "100");
        gd_xml_text(&x, "Details", "{}");
        gd_xml_close(&x, "member");
    }
    gd_xml_close(&x, "Activities");
    if (i < n) {
        char tok[32];
        gd_xml_text(&x, "NextToken", gd_aws_page_token((long)i, tok));
    }
    json_decref(acts);
    gd_aws_xml_send(k, &x);
}

static void describe_instances(gd_aws_call *k)
{
    static const char *ids[MAX_NAMES];
    char err[200];
    long start, max;
    int ni = gd_aws_param_list(&k->params, "InstanceIds.member", ids, MAX_NAMES, err, sizeof err);
    if (ni < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    if (paging(k, 50, 50, &start, &max) < 0 || gd_aws_unread(k) < 0) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "AutoScalingInstances");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "instance") != 0 || !lifecycle(r) ||
            !*gd_jstr(json_object_get(r, "status"), "asg"))
            continue;
        if (ni && !gd_aws_in_list(ids, ni, gd_jstr(r, "id"))) continue;
        if (seen++ < start) continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        instance_member(&cx, &x, r, 1);
    }
    gd_xml_close(&x, "AutoScalingInstances");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "NextToken", gd_aws_page_token(start + shown, tok));
    }
    gd_aws_ctx_close(&cx);
    gd_aws_xml_send(k, &x);
}

/* StartInstanceRefresh: Preferences.InstanceWarmup (seconds) and
 * Preferences.AutoRollback; the refresh itself is refresh.c's. */
static void start_refresh(gd_aws_call *k)
{
    char err[200];
    long warm = 30;
    int rollback = 0;
    const char *name = gd_aws_param(&k->params, "AutoScalingGroupName");
    const char *strategy = gd_aws_param(&k->params, "Strategy");
    if (gd_aws_param_int(&k->params, "Preferences.InstanceWarmup", 0, 3600, 30, &warm, err,
                         sizeof err) < 0 ||
        gd_aws_param_bool(&k->params, "Preferences.AutoRollback", 0, &rollback, err, sizeof err) <
            0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    if (strategy && strcmp(strategy, "Rolling") != 0) {
        gd_aws_fail(k, 400, "ValidationError", "Strategy: only Rolling is supported");
        return;
    }
    long minp = 100, maxp = 110, delay = 3600;
    if (gd_aws_param_int(&k->params, "Preferences.MinHealthyPercentage", 0, 100, 100, &minp, err,
                         sizeof err) < 0 ||
        gd_aws_param_int(&k->params, "Preferences.MaxHealthyPercentage", 100, 200, 110, &maxp, err,
                         sizeof err) < 0 ||
        gd_aws_param_int(&k->params, "Preferences.CheckpointDelay", 0, 172800, 3600, &delay, err,
                         sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    const char *cp[10];
    int ncp = gd_aws_param_list(&k->params, "Preferences.CheckpointPercentages.member", cp, 10, err,
                                sizeof err);
    if (ncp < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s", err);
        return;
    }
    json_t *cps = json_array();
    for (int i = 0; i < ncp; i++) json_array_append_new(cps, json_integer(atol(cp[i])));
    gd_aws_param(&k->params, "Preferences.SkipMatching"); /* accepted: it is what we do */
    if (gd_aws_unread(k) < 0) {
        json_decref(cps);
        return;
    }
    if (!name || !*name) {
        missing_group_name(k);
        return;
    }
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:I,s:b,s:I,s:I,s:I,s:o}", "instance_warmup", (json_int_t)warm,
                             "auto_rollback", rollback, "min_healthy_percentage", (json_int_t)minp,
                             "max_healthy_percentage", (json_int_t)maxp, "checkpoint_delay",
                             (json_int_t)delay, "checkpoint_percentages", cps);
    gd_op_action(k->g, &a, "start_instance_refresh", name, body, &r);
    json_decref(body);
    if (r.code) {
        if (r.status == 409)
            gd_aws_fail(k, 400, "InstanceRefreshInProgress", "%s", r.message);
        else
            not_found_or(k, &r, name);
        gd_op_result_free(&r);
        return;
    }
    json_t *rf = json_object_get(json_object_get(r.body, "status"), "refresh");
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_text(&x, "InstanceRefreshId", gd_jstr(rf, "id"));
    gd_aws_xml_send(k, &x);
    gd_op_result_free(&r);
}

/* The one parameter AutoScalingGroupName, or NULL once the error is answered. */
static const char *group_only(gd_aws_call *k)
{
    const char *name = gd_aws_param(&k->params, "AutoScalingGroupName");
    if (gd_aws_unread(k) < 0) return NULL;
    if (!name || !*name) {
        missing_group_name(k);
        return NULL;
    }
    return name;
}

static void cancel_refresh(gd_aws_call *k)
{
    const char *name = group_only(k);
    if (!name) return;
    json_t *asg = gd_store_res_live(k->g->db, k->team, name, "asg");
    char id[64];
    snprintf(id, sizeof id, "%s",
             gd_jstr(json_object_get(json_object_get(asg, "status"), "refresh"), "id"));
    json_decref(asg);
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    gd_op_action(k->g, &a, "cancel_instance_refresh", name, NULL, &r);
    if (r.code) {
        if (r.status == 409)
            gd_aws_fail(k, 400, "ActiveInstanceRefreshNotFound", "%s", r.message);
        else
            not_found_or(k, &r, name);
        gd_op_result_free(&r);
        return;
    }
    gd_op_result_free(&r);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_text(&x, "InstanceRefreshId", id);
    gd_aws_xml_send(k, &x);
}

static void describe_refreshes(gd_aws_call *k)
{
    const char *name = group_only(k);
    if (!name) return;
    json_t *asg = gd_store_res_live(k->g->db, k->team, name, "asg");
    json_t *rf = json_object_get(json_object_get(asg, "status"), "refresh");
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "InstanceRefreshes");
    if (rf) {
        char when[32];
        gd_xml_open(&x, "member");
        gd_xml_text(&x, "InstanceRefreshId", gd_jstr(rf, "id"));
        gd_xml_text(&x, "AutoScalingGroupName", name);
        gd_xml_text(&x, "Status", gd_jstr(rf, "status"));
        gd_xml_text(&x, "StatusReason", gd_jstr(rf, "reason"));
        gd_xml_text(&x, "StartTime",
                    gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(rf, "started", 0)), when));
        if (json_object_get(rf, "ended"))
            gd_xml_text(&x, "EndTime",
                        gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(rf, "ended", 0)), when));
        gd_xml_textf(&x, "PercentageComplete", "%d", (int)gd_jnum(rf, "percentage_complete", 0));
        gd_xml_textf(&x, "InstancesToUpdate", "%d", (int)gd_jnum(rf, "instances_to_update", 0));
        gd_xml_open(&x, "Preferences");
        gd_xml_textf(&x, "InstanceWarmup", "%.0f", gd_jnum(rf, "instance_warmup", 30));
        gd_xml_textf(&x, "MinHealthyPercentage", "%d",
                     (int)gd_jnum(rf, "min_healthy_percentage", 100));
        gd_xml_textf(&x, "MaxHealthyPercentage", "%d",
                     (int)gd_jnum(rf, "max_healthy_percentage", 110));
        json_t *cpl = json_object_get(rf, "checkpoint_percentages");
        if (json_array_size(cpl)) {
            size_t ci;
            json_t *cv;
            gd_xml_open(&x, "CheckpointPercentages");
            json_array_foreach(cpl, ci, cv)
                gd_xml_textf(&x, "member", "%lld", (long long)json_integer_value(cv));
            gd_xml_close(&x, "CheckpointPercentages");
            gd_xml_textf(&x, "CheckpointDelay", "%.0f", gd_jnum(rf, "checkpoint_delay", 3600));
        }
        gd_xml_text(&x, "AutoRollback",
                    json_is_true(json_object_get(rf, "auto_rollback")) ? "true" : "false");
        gd_xml_close(&x, "Preferences");
        gd_xml_close(&x, "member");
    }
    gd_xml_close(&x, "InstanceRefreshes");
    json_decref(asg);
    gd_aws_xml_send(k, &x);
}

static const gd_aws_action actions[] = {
    {"DescribeAutoScalingGroups", describe_groups},
    {"DescribeAutoScalingInstances", describe_instances},
    {"DescribeScalingActivities", describe_activities},
    {"SetDesiredCapacity", set_desired_capacity},
    {"UpdateAutoScalingGroup", update_group},
    {"StartInstanceRefresh", start_refresh},
    {"CancelInstanceRefresh", cancel_refresh},
    {"DescribeInstanceRefreshes", describe_refreshes},
};

const gd_aws_service gd_aws_autoscaling = {
    .signing_name = "autoscaling",
    .version = "2011-01-01",
    .xmlns = "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    .protocol = GD_AWS_QUERY,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
