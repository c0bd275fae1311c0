/* Amazon ECS (API version 2014-11-13, JSON 1.1) over the cluster, task_definition,
 * ecs_service and task types: DescribeClusters, ListClusters, ListServices,
 * DescribeServices (with its deployments), UpdateService (desiredCount, taskDefinition,
 * deploymentConfiguration: through the operations layer as an UpdateResource recorded
 * as UpdateService), ListTasks, DescribeTasks, DescribeTaskDefinition (any kept
 * revision), RegisterTaskDefinition (a new revision). Names and ARNs are accepted
 * wherever AWS takes either. */
#include "core/mem.h"
#include "server/aws_int.h"
#include "server/ecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARN_PREFIX "arn:aws:ecs:us-east-1:"

/* The last part of an ARN ("arn:...:cluster/prod" -> "prod", "service/prod/web" ->
 * "web"), without a task definition's ":1"; a plain name as it is. Into out. */
static const char *name_of(const char *s, char *out, size_t n)
{
    const char *slash = strrchr(s, '/');
    snprintf(out, n, "%s", slash ? slash + 1 : s);
    if (!strncmp(s, "arn:", 4) || slash) {
        char *colon = strrchr(out, ':');
        if (colon && strstr(s, "task-definition/")) *colon = 0;
    } else {
        char *colon = strchr(out, ':'); /* family:revision */
        if (colon) *colon = 0;
    }
    return out;
}

static void cluster_arn(gd_aws_ctx *cx, const char *name, char *out, size_t n)
{
    snprintf(out, n, ARN_PREFIX "%s:cluster/%s", cx->account, name);
}

static void service_arn(gd_aws_ctx *cx, const json_t *svc, char *out, size_t n)
{
    snprintf(out, n, ARN_PREFIX "%s:service/%s/%s", cx->account,
             gd_jstr(json_object_get(svc, "spec"), "cluster"), gd_jstr(svc, "name"));
}

static void task_arn(gd_aws_ctx *cx, const json_t *t, char *out, size_t n)
{
    snprintf(out, n, ARN_PREFIX "%s:task/%s/%s", cx->account,
             gd_jstr(json_object_get(t, "spec"), "cluster"), gd_jstr(t, "id"));
}

/* The ARN of "family:revision" (or of a family alone: revision 1). */
static void taskdef_arn(gd_aws_ctx *cx, const char *key, char *out, size_t n)
{
    snprintf(out, n, ARN_PREFIX "%s:task-definition/%s%s", cx->account, key,
             strchr(key, ':') ? "" : ":1");
}

/* The revision a taskDefinition parameter names ("family:3", its ARN): 0 when it
 * names none (the newest). */
static int revision_param(const char *td)
{
    const char *slash = strrchr(td, '/'), *colon = strrchr(slash ? slash : td, ':');
    if (!colon || (!slash && !strncmp(td, "arn:", 4))) return 0;
    int rev = atoi(colon + 1);
    return rev > 0 ? rev : -1;
}

/* AWS's deployments of a service: PRIMARY, what it deploys, then one ACTIVE per older
 * revision it still has live tasks of. */
static json_t *deployments_json(gd_aws_ctx *cx, const json_t *svc, const char *primary)
{
    json_t *st = json_object_get(svc, "status");
    json_t *by = json_object(); /* key -> [running, pending] */
    json_object_set_new(by, primary, json_pack("[i,i]", 0, 0));
    size_t i;
    json_t *t;
    json_array_foreach(cx->all, i, t)
    {
        json_t *ts = json_object_get(t, "status");
        const char *state = gd_jstr(ts, "state");
        if (strcmp(gd_jstr(t, "type"), "task") != 0 || !strcmp(state, "stopped") ||
            strcmp(gd_jstr(json_object_get(t, "spec"), "ecs_service"), gd_jstr(svc, "name")))
            continue;
        char key[200];
        gd_ecs_task_key(t, key, sizeof key);
        json_t *c = json_object_get(by, key);
        if (!c) json_object_set_new(by, key, c = json_pack("[i,i]", 0, 0));
        int run = !strcmp(state, "running");
        size_t slot = run ? 0 : 1;
        json_array_set_new(c, slot, json_integer(json_integer_value(json_array_get(c, slot)) + 1));
    }
    json_t *out = json_array();
    const char *key;
    json_t *c;
    json_object_foreach(by, key, c)
    {
        int prim = !strcmp(key, primary);
        char arn[240], id[240];
        taskdef_arn(cx, key, arn, sizeof arn);
        snprintf(id, sizeof id, "ecs-svc/%s/%s", gd_jstr(svc, "name"), key);
        const char *rs = gd_jstr(st, "deployment_state");
        json_t *d =
            json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:s}", "id", id, "status",
                      prim ? "PRIMARY" : "ACTIVE", "taskDefinition", arn, "desiredCount",
                      prim ? (int)gd_jnum(json_object_get(svc, "spec"), "desired_count", 1) : 0,
                      "runningCount", (int)json_integer_value(json_array_get(c, 0)), "pendingCount",
                      (int)json_integer_value(json_array_get(c, 1)), "failedTasks",
                      prim ? (int)gd_jnum(st, "failed_tasks", 0) : 0, "launchType",
                      gd_jstr(json_object_get(svc, "spec"), "launch_type"));
        if (prim && *rs) json_object_set_new(d, "rolloutState", json_string(rs));
        if (prim)
            json_array_insert_new(out, 0, d);
        else
            json_array_append_new(out, d);
    }
    json_decref(by);
    return out;
}

/* -1 after answering InvalidParameterException when the body has a field not in
 * fields. */
static int known(gd_aws_call *k, const char *const *fields)
{
    const char *f;
    json_t *v;
    json_object_foreach(k->body, f, v)
    {
        int ok = 0;
        for (int i = 0; fields[i]; i++) ok |= !strcmp(fields[i], f);
        if (!ok) {
            char allow[300];
            gd_join(fields, allow, sizeof allow);
            gd_aws_fail(k, 400, "InvalidParameterException",
                        "%.60s: not a parameter of %s (allowed: %s)", f, k->action, allow);
            return -1;
        }
    }
    return 0;
}

/* A string field (def when absent); NULL after answering when it is not a string. */
static const char *str_field(gd_aws_call *k, const char *key, const char *def)
{
    json_t *v = json_object_get(k->body, key);
    if (!v) return def;
    if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) > 1600) {
        gd_aws_fail(k, 400, "InvalidParameterException", "%s: a non-empty string", key);
        return NULL;
    }
    return json_string_value(v);
}

/* The body's `cluster` (name or ARN; "default" when absent) as a cluster of the team;
 * NULL after answering ClusterNotFoundException. */
static json_t *cluster_param(gd_aws_call *k, gd_aws_ctx *cx)
{
    const char *c = str_field(k, "cluster", "default");
    if (!c) return NULL;
    char name[200];
    json_t *r = gd_aws_find(cx->all, "cluster", name_of(c, name, sizeof name));
    if (!r) gd_aws_fail(k, 400, "ClusterNotFoundException", "Cluster not found.");
    return r;
}

/* The body's `key` as a list of 1..max strings; NULL after answering. */
static json_t *list_field(gd_aws_call *k, const char *key, size_t max, int required)
{
    json_t *v = json_object_get(k->body, key);
    if (!v && !required) return json_array();
    size_t i;
    json_t *x;
    int ok = json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= max;
    json_array_foreach(v, i, x) ok &= json_is_string(x);
    if (!ok) {
        gd_aws_fail(k, 400, "InvalidParameterException", "%s: a list of 1..%zu names or ARNs", key,
                    max);
        return NULL;
    }
    return json_incref(v);
}

/* maxResults (1..100, default 100) and nextToken; 0, or -1 after answering. */
static int paging(gd_aws_call *k, long *max, long *start)
{
    json_t *mr = json_object_get(k->body, "maxResults");
    *max = 100;
    if (mr) {
        if (!json_is_integer(mr) || json_integer_value(mr) < 1 || json_integer_value(mr) > 100) {
            gd_aws_fail(k, 400, "InvalidParameterException", "maxResults: allowed 1..100");
            return -1;
        }
        *max = (long)json_integer_value(mr);
    }
    const char *tok = str_field(k, "nextToken", NULL);
    if (!tok && json_object_get(k->body, "nextToken")) return -1;
    *start = gd_aws_page_start(k, tok, "InvalidParameterException");
    return *start < 0 ? -1 : 0;
}

/* {key: arns[start..start+max), nextToken?} (takes arns). */
static void send_page(gd_aws_call *k, const char *key, json_t *arns, long max, long start)
{
    json_t *page = json_array();
    long n = (long)json_array_size(arns);
    for (long i = start; i < n && i < start + max; i++)
        json_array_append(page, json_array_get(arns, (size_t)i));
    json_t *out = json_pack("{s:o}", key, page);
    if (start + max < n) {
        char tok[32];
        json_object_set_new(out, "nextToken", json_string(gd_aws_page_token(start + max, tok)));
    }
    json_decref(arns);
    gd_aws_json_send(k, out);
}

static json_t *cluster_json(gd_aws_ctx *cx, const json_t *c)
{
    json_t *st = json_object_get(c, "status");
    char arn[200];
    cluster_arn(cx, gd_jstr(c, "name"), arn, sizeof arn);
    int services = 0;
    size_t i;
    json_t *r;
    json_array_foreach(cx->all, i, r) services +=
        !strcmp(gd_jstr(r, "type"), "ecs_service") &&
        !strcmp(gd_jstr(json_object_get(r, "spec"), "cluster"), gd_jstr(c, "name"));
    return json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i}", "clusterArn", arn, "clusterName",
                     gd_jstr(c, "name"), "status", "ACTIVE", "registeredContainerInstancesCount",
                     (int)gd_jnum(st, "registered_container_instances", 0), "runningTasksCount",
                     (int)gd_jnum(st, "running_tasks", 0), "pendingTasksCount",
                     (int)gd_jnum(st, "pending_tasks", 0), "activeServicesCount", services);
}

static void describe_clusters(gd_aws_call *k)
{
    static const char *const fields[] = {"clusters", "include", NULL};
    if (known(k, fields) < 0) return;
    json_t *want = list_field(k, "clusters", 100, 0);
    if (!want) return;
    if (json_array_size(want) == 0) json_array_append_new(want, json_string("default"));
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *out = json_array(), *failures = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(want, i, x)
    {
        char name[200], arn[240];
        json_t *c =
            gd_aws_find(cx.all, "cluster", name_of(json_string_value(x), name, sizeof name));
        if (c) {
            json_array_append_new(out, cluster_json(&cx, c));
        } else {
            cluster_arn(&cx, name, arn, sizeof arn);
            json_array_append_new(failures,
                                  json_pack("{s:s,s:s}", "arn", arn, "reason", "MISSING"));
        }
    }
    json_decref(want);
    gd_aws_ctx_close(&cx);
    gd_aws_json_send(k, json_pack("{s:o,s:o}", "clusters", out, "failures", failures));
}

static void list_clusters(gd_aws_call *k)
{
    static const char *const fields[] = {"maxResults", "nextToken", NULL};
    long max, start;
    if (known(k, fields) < 0 || paging(k, &max, &start) < 0) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *arns = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "cluster") != 0) continue;
        char arn[200];
        cluster_arn(&cx, gd_jstr(r, "name"), arn, sizeof arn);
        json_array_append_new(arns, json_string(arn));
    }
    gd_aws_ctx_close(&cx);
    send_page(k, "clusterArns", arns, max, start);
}

static int launch_type_ok(gd_aws_call *k, const char *lt)
{
    if (!lt || !strcmp(lt, "EC2") || !strcmp(lt, "FARGATE")) return 0;
    gd_aws_fail(k, 400, "InvalidParameterException", "launchType: allowed EC2, FARGATE");
    return -1;
}

static void list_services(gd_aws_call *k)
{
    static const char *const fields[] = {"cluster",    "maxResults",         "nextToken",
                                         "launchType", "schedulingStrategy", NULL};
    long max, start;
    if (known(k, fields) < 0 || paging(k, &max, &start) < 0) return;
    const char *lt = str_field(k, "launchType", NULL);
    if ((!lt && json_object_get(k->body, "launchType")) || launch_type_ok(k, lt) < 0) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *c = cluster_param(k, &cx);
    if (!c) {
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *arns = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        json_t *sp = json_object_get(r, "spec");
        if (strcmp(gd_jstr(r, "type"), "ecs_service") != 0 ||
            strcmp(gd_jstr(sp, "cluster"), gd_jstr(c, "name")) != 0 ||
            (lt && strcmp(gd_jstr(sp, "launch_type"), lt) != 0))
            continue;
        char arn[240];
        service_arn(&cx, r, arn, sizeof arn);
        json_array_append_new(arns, json_string(arn));
    }
    gd_aws_ctx_close(&cx);
    send_page(k, "serviceArns", arns, max, start);
}

static json_t *service_json(gd_aws_ctx *cx, const json_t *svc)
{
    json_t *sp = json_object_get(svc, "spec"), *st = json_object_get(svc, "status");
    char arn[240], carn[200], tdarn[200];
    service_arn(cx, svc, arn, sizeof arn);
    cluster_arn(cx, gd_jstr(sp, "cluster"), carn, sizeof carn);
    const char *primary = gd_jstr(st, "deployment_task_definition");
    if (!*primary) primary = gd_jstr(sp, "task_definition");
    taskdef_arn(cx, primary, tdarn, sizeof tdarn);
    json_t *lbs = json_array();
    size_t i;
    json_t *x;
    const json_t *td = gd_aws_find(cx->all, "task_definition", gd_jstr(sp, "task_definition"));
    int port = (int)gd_jnum(json_object_get(td, "spec"), "port", 8000);
    json_array_foreach(json_object_get(sp, "target_groups"), i, x)
    {
        const json_t *tg = gd_aws_find(cx->all, "target_group", json_string_value(x));
        const char *id = gd_jstr(tg, "id"), *d = strchr(id, '-');
        char tarn[240];
        snprintf(tarn, sizeof tarn, "arn:aws:elasticloadbalancing:us-east-1:%s:targetgroup/%s/%s",
                 cx->account, json_string_value(x), d ? d + 1 : id);
        json_array_append_new(lbs,
                              json_pack("{s:s,s:s,s:i}", "targetGroupArn", tarn, "containerName",
                                        gd_jstr(sp, "task_definition"), "containerPort", port));
    }
    json_t *events = json_array();
    json_t *ev = json_object_get(st, "events");
    for (size_t n = json_array_size(ev); n-- > 0;) { /* AWS lists the newest first */
        json_t *e = json_array_get(ev, n);
        char id[64];
        snprintf(id, sizeof id, "%s-%zu", gd_jstr(svc, "id"), n);
        json_array_append_new(events, json_pack("{s:s,s:f,s:s}", "id", id, "createdAt",
                                                gd_aws_wall_of(cx->k->g, gd_jnum(e, "time", 0)),
                                                "message", gd_jstr(e, "message")));
    }
    int spread = !strcmp(gd_jstr(sp, "placement_strategy"), "spread");
    json_t *strategy = json_pack("[{s:s,s:s}]", "type", spread ? "spread" : "binpack", "field",
                                 spread ? "attribute:ecs.availability-zone" : "cpu");
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:o,s:o,s:s,s:f}", "serviceArn",
                            arn, "serviceName", gd_jstr(svc, "name"), "clusterArn", carn, "status",
                            "ACTIVE", "desiredCount", (int)gd_jnum(sp, "desired_count", 1),
                            "runningCount", (int)gd_jnum(st, "running_count", 0), "pendingCount",
                            (int)gd_jnum(st, "pending_count", 0), "launchType",
                            gd_jstr(sp, "launch_type"), "taskDefinition", tdarn, "loadBalancers",
                            lbs, "events", events, "schedulingStrategy", "REPLICA", "createdAt",
                            gd_aws_wall_of(cx->k->g, gd_jnum(svc, "created", 0)));
    json_object_set_new(out, "placementStrategy", strategy);
    json_object_set_new(out, "deployments", deployments_json(cx, svc, primary));
    json_object_set_new(out, "deploymentConfiguration",
                        json_pack("{s:{s:b,s:b},s:i,s:i}", "deploymentCircuitBreaker", "enable",
                                  json_is_true(json_object_get(sp, "circuit_breaker")), "rollback",
                                  json_is_true(json_object_get(sp, "rollback")), "maximumPercent",
                                  (int)gd_jnum(sp, "maximum_percent", 200), "minimumHealthyPercent",
                                  (int)gd_jnum(sp, "minimum_healthy_percent", 100)));
    return out;
}

/* DescribeServices and DescribeTasks: the resources of `type` named in the list field
 * `field` (at most max) that belong to the cluster asked for, each as json_of makes it;
 * the others as failures (MISSING), as ECS answers. */
static void describe_in_cluster(gd_aws_call *k, const char *field, int max, const char *type,
                                json_t *(*json_of)(gd_aws_ctx *cx, const json_t *r))
{
    const char *const fields[] = {"cluster", field, "include", NULL};
    if (known(k, fields) < 0) return;
    json_t *want = list_field(k, field, max, 1);
    if (!want) return;
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *c = cluster_param(k, &cx);
    if (!c) {
        json_decref(want);
        gd_aws_ctx_close(&cx);
        return;
    }
    json_t *out = json_array(), *failures = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(want, i, x)
    {
        char name[200];
        json_t *r = gd_aws_find(cx.all, type, name_of(json_string_value(x), name, sizeof name));
        if (r && !strcmp(gd_jstr(json_object_get(r, "spec"), "cluster"), gd_jstr(c, "name")))
            json_array_append_new(out, json_of(&cx, r));
        else
            json_array_append_new(
                failures, json_pack("{s:s,s:s}", "arn", json_string_value(x), "reason", "MISSING"));
    }
    json_decref(want);
    gd_aws_ctx_close(&cx);
    gd_aws_json_send(k, json_pack("{s:o,s:o}", field, out, "failures", failures));
}

static void describe_services(gd_aws_call *k)
{
    describe_in_cluster(k, "services", 10, "ecs_service", service_json);
}

/* deploymentConfiguration into spec fields; 0, or -1 after answering. */
static int deployment_config(gd_aws_call *k, json_t *dc, json_t *spec)
{
    static const struct {
        const char *aws, *field;
    } ints[] = {{"maximumPercent", "maximum_percent"},
                {"minimumHealthyPercent", "minimum_healthy_percent"}};
    const char *f;
    json_t *v;
    json_object_foreach(dc, f, v)
    {
        int done = 0;
        for (size_t i = 0; i < 2; i++)
            if (!strcmp(f, ints[i].aws)) {
                if (!json_is_integer(v)) {
                    gd_aws_fail(k, 400, "InvalidParameterException",
                                "deploymentConfiguration.%s: an integer", f);
                    return -1;
                }
                json_object_set(spec, ints[i].field, v);
                done = 1;
            }
        if (!strcmp(f, "deploymentCircuitBreaker") && json_is_object(v)) {
            json_t *en = json_object_get(v, "enable"), *rb = json_object_get(v, "rollback");
            if ((en && !json_is_boolean(en)) || (rb && !json_is_boolean(rb))) {
                gd_aws_fail(k, 400, "InvalidParameterException",
                            "deploymentConfiguration.deploymentCircuitBreaker: enable and "
                            "rollback are booleans");
                return -1;
            }
            if (en) json_object_set(spec, "circuit_breaker", en);
            if (rb) json_object_set(spec, "rollback", rb);
            done = 1;
        }
        if (!done) {
            gd_aws_fail(k, 400, "InvalidParameterException",
                        "deploymentConfiguration.%.60s: allowed maximumPercent, "
                        "minimumHealthyPercent, deploymentCircuitBreaker",
                        f);
            return -1;
        }
    }
    return 0;
}

/* UpdateService: desiredCount, taskDefinition (a family or its newest revision: that
 * is a deployment) and deploymentConfiguration, as one UpdateResource recorded as
 * UpdateService. */
static void update_service(gd_aws_call *k)
{
    static const char *const fields[] = {
        "cluster", "service", "desiredCount", "taskDefinition", "deploymentConfiguration", NULL};
    if (known(k, fields) < 0) return;
    const char *sv = str_field(k, "service", NULL);
    if (!sv) {
        if (!json_object_get(k->body, "service"))
            gd_aws_fail(k, 400, "InvalidParameterException", "service: required");
        return;
    }
    json_t *dc = json_object_get(k->body, "desiredCount");
    if (dc && !json_is_integer(dc)) {
        gd_aws_fail(k, 400, "InvalidParameterException", "desiredCount: an integer");
        return;
    }
    const char *tdp = str_field(k, "taskDefinition", NULL);
    if (!tdp && json_object_get(k->body, "taskDefinition")) return;
    json_t *conf = json_object_get(k->body, "deploymentConfiguration");
    if (conf && !json_is_object(conf)) {
        gd_aws_fail(k, 400, "InvalidParameterException", "deploymentConfiguration: an object");
        return;
    }
    json_t *spec = json_object();
    if (dc) json_object_set(spec, "desired_count", dc);
    if (conf && deployment_config(k, conf, spec) < 0) {
        json_decref(spec);
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *c = cluster_param(k, &cx);
    char name[200], fam[200];
    json_t *s = c ? gd_aws_find(cx.all, "ecs_service", name_of(sv, name, sizeof name)) : NULL;
    if (c && (!s || strcmp(gd_jstr(json_object_get(s, "spec"), "cluster"), gd_jstr(c, "name")))) {
        gd_aws_fail(k, 400, "ServiceNotFoundException", "Service not found.");
        s = NULL;
    } else if (s && tdp) {
        json_t *td = gd_aws_find(cx.all, "task_definition", name_of(tdp, fam, sizeof fam));
        int newest = gd_ecs_revision_of(td);
        int rev = revision_param(tdp);
        if (!td || (rev && rev != newest)) {
            gd_aws_fail(k, 400, "ClientException",
                        td ? "taskDefinition: only the newest revision of %s (%d) can be "
                             "deployed (a rollback is the circuit breaker's)"
                           : "TaskDefinition not found: %s",
                        fam, newest);
            s = NULL;
        } else {
            json_object_set_new(spec, "task_definition", json_string(fam));
        }
    }
    if (s && json_object_size(spec)) {
        gd_actor a = gd_aws_actor(k);
        gd_op_result r;
        json_t *body = json_pack("{s:O}", "spec", spec);
        gd_op_update_as(k->g, &a, "UpdateService", gd_jstr(s, "id"), body, &r);
        json_decref(body);
        if (r.code) {
            gd_aws_fail_op(k, &r, "ServiceNotFoundException");
        } else {
            gd_op_result_free(&r);
            json_t *fresh = gd_store_res_get(k->g->db, k->team, gd_jstr(s, "id"));
            gd_aws_json_send(k, json_pack("{s:o}", "service", service_json(&cx, fresh)));
            json_decref(fresh);
        }
    } else if (s) {
        gd_aws_json_send(k, json_pack("{s:o}", "service", service_json(&cx, s)));
    }
    json_decref(spec);
    gd_aws_ctx_close(&cx);
}

/* AWS's lastStatus and desiredStatus of a task. */
static const char *last_status(const json_t *t)
{
    json_t *st = json_object_get(t, "status");
    const char *s = gd_jstr(st, "state");
    if (!strcmp(s, "running"))
        return !strcmp(gd_jstr(st, "lifecycle"), "Terminating") ? "DEACTIVATING" : "RUNNING";
    return !strcmp(s, "stopped") ? "STOPPED" : "PENDING";
}

static const char *desired_status(const json_t *t)
{
    const char *l = last_status(t);
    return !strcmp(l, "STOPPED") || !strcmp(l, "DEACTIVATING") ? "STOPPED" : "RUNNING";
}

static void list_tasks(gd_aws_call *k)
{
    static const char *const fields[] = {"cluster",    "serviceName", "desiredStatus", "launchType",
                                         "maxResults", "nextToken",   "family",        NULL};
    long max, start;
    if (known(k, fields) < 0 || paging(k, &max, &start) < 0) return;
    const char *svc = str_field(k, "serviceName", NULL);
    const char *ds = str_field(k, "desiredStatus", "RUNNING");
    const char *lt = str_field(k, "launchType", NULL);
    const char *fam = str_field(k, "family", NULL);
    if ((!svc && json_object_get(k->body, "serviceName")) || !ds ||
        (!lt && json_object_get(k->body, "launchType")) ||
        (!fam && json_object_get(k->body, "family")) || launch_type_ok(k, lt) < 0)
        return;
    if (strcmp(ds, "RUNNING") && strcmp(ds, "PENDING") && strcmp(ds, "STOPPED")) {
        gd_aws_fail(k, 400, "InvalidParameterException",
                    "desiredStatus: allowed RUNNING, PENDING, STOPPED");
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *c = cluster_param(k, &cx);
    if (!c) {
        gd_aws_ctx_close(&cx);
        return;
    }
    char sname[200], fname[200];
    if (svc) name_of(svc, sname, sizeof sname);
    if (fam) name_of(fam, fname, sizeof fname);
    if (svc && !gd_aws_find(cx.all, "ecs_service", sname)) {
        gd_aws_ctx_close(&cx);
        gd_aws_fail(k, 400, "ServiceNotFoundException", "Service not found.");
        return;
    }
    json_t *arns = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(cx.all, i, r)
    {
        json_t *sp = json_object_get(r, "spec");
        if (strcmp(gd_jstr(r, "type"), "task") != 0 ||
            strcmp(gd_jstr(sp, "cluster"), gd_jstr(c, "name")) != 0 ||
            (svc && strcmp(gd_jstr(sp, "ecs_service"), sname) != 0) ||
            (fam && strcmp(gd_jstr(sp, "task_definition"), fname) != 0) ||
            (lt && strcmp(gd_jstr(sp, "launch_type"), lt) != 0))
            continue;
        /* PENDING is AWS's RUNNING desired status too: it lists tasks not yet running */
        if (!strcmp(ds, "PENDING") ? strcmp(last_status(r), "PENDING") != 0
                                   : strcmp(desired_status(r), ds) != 0)
            continue;
        char arn[240];
        task_arn(&cx, r, arn, sizeof arn);
        json_array_append_new(arns, json_string(arn));
    }
    gd_aws_ctx_close(&cx);
    send_page(k, "taskArns", arns, max, start);
}

static json_t *task_json(gd_aws_ctx *cx, const json_t *t)
{
    json_t *sp = json_object_get(t, "spec"), *st = json_object_get(t, "status");
    char arn[240], carn[200], tdarn[200], group[200], az[16], cpu[16], mem[16];
    task_arn(cx, t, arn, sizeof arn);
    cluster_arn(cx, gd_jstr(sp, "cluster"), carn, sizeof carn);
    char key[200];
    gd_ecs_task_key(t, key, sizeof key);
    taskdef_arn(cx, key, tdarn, sizeof tdarn);
    snprintf(group, sizeof group, "service:%s", gd_jstr(sp, "ecs_service"));
    snprintf(cpu, sizeof cpu, "%d", (int)gd_jnum(st, "cpu", 256));
    snprintf(mem, sizeof mem, "%d", (int)gd_jnum(st, "memory", 512));
    gd_aws_az(gd_jstr(st, "az"), az);
    json_t *nics = json_array();
    if (*gd_jstr(st, "ip"))
        json_array_append_new(nics, json_pack("{s:s}", "privateIpv4Address", gd_jstr(st, "ip")));
    json_t *container =
        json_pack("{s:s,s:s,s:s,s:o}", "name", gd_jstr(sp, "task_definition"), "taskArn", arn,
                  "lastStatus", last_status(t), "networkInterfaces", nics);
    json_t *out =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[o],s:f}", "taskArn", arn, "clusterArn",
                  carn, "taskDefinitionArn", tdarn, "lastStatus", last_status(t), "desiredStatus",
                  desired_status(t), "launchType", gd_jstr(sp, "launch_type"), "cpu", cpu, "memory",
                  mem, "group", group, "containers", container, "createdAt",
                  gd_aws_wall_of(cx->k->g, gd_jnum(st, "created_at", 0)));
    if (*az) json_object_set_new(out, "availabilityZone", json_string(az));
    const char *ci = gd_jstr(st, "container_instance");
    if (*ci) {
        char ciarn[240];
        snprintf(ciarn, sizeof ciarn, ARN_PREFIX "%s:container-instance/%s/%s", cx->account,
                 gd_jstr(sp, "cluster"), ci);
        json_object_set_new(out, "containerInstanceArn", json_string(ciarn));
    }
    if (json_object_get(st, "running_at"))
        json_object_set_new(out, "startedAt",
                            json_real(gd_aws_wall_of(cx->k->g, gd_jnum(st, "running_at", 0))));
    if (!strcmp(last_status(t), "STOPPED")) {
        json_object_set_new(out, "stoppedAt",
                            json_real(gd_aws_wall_of(cx->k->g, gd_jnum(st, "stopped_at", 0))));
        json_object_set_new(out, "stoppedReason", json_string(gd_jstr(st, "stopped_reason")));
    }
    if (*gd_jstr(st, "pending_reason"))
        json_object_set_new(out, "gamedayPendingReason",
                            json_string(gd_jstr(st, "pending_reason")));
    return out;
}

static void describe_tasks(gd_aws_call *k)
{
    describe_in_cluster(k, "tasks", 100, "task", task_json);
}

/* A task definition's revision rev (spec: that revision's) as ECS describes it: one
 * container, whose image is gameday/<service>:<release>. */
static json_t *taskdef_json(gd_aws_ctx *cx, const json_t *r, int rev, const json_t *sp)
{
    char key[220], arn[260], cpu[16], mem[16], image[64];
    snprintf(key, sizeof key, "%s:%d", gd_jstr(r, "name"), rev);
    taskdef_arn(cx, key, arn, sizeof arn);
    int c = (int)gd_jnum(sp, "cpu", 256), m = (int)gd_jnum(sp, "memory", 512);
    snprintf(cpu, sizeof cpu, "%d", c);
    snprintf(mem, sizeof mem, "%d", m);
    const char *rel = gd_jstr(sp, "service_version");
    snprintf(image, sizeof image, "gameday/%s:%s",
             *gd_jstr(sp, "service") ? gd_jstr(sp, "service") : "unicorn", *rel ? rel : "v2");
    return json_pack(
        "{s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:[s,s],s:[{s:s,s:s,s:i,s:i,s:b,s:[{s:i,s:s}]}]}",
        "taskDefinitionArn", arn, "family", gd_jstr(r, "name"), "revision", rev, "status", "ACTIVE",
        "cpu", cpu, "memory", mem, "networkMode", "awsvpc", "requiresCompatibilities", "EC2",
        "FARGATE", "containerDefinitions", "name", gd_jstr(r, "name"), "image", image, "cpu", c,
        "memory", m, "essential", 1, "portMappings", "containerPort",
        (int)gd_jnum(sp, "port", 8000), "protocol", "tcp");
}

static void describe_task_definition(gd_aws_call *k)
{
    static const char *const fields[] = {"taskDefinition", "include", NULL};
    if (known(k, fields) < 0) return;
    const char *td = str_field(k, "taskDefinition", NULL);
    if (!td) {
        if (!json_object_get(k->body, "taskDefinition"))
            gd_aws_fail(k, 400, "InvalidParameterException", "taskDefinition: required");
        return;
    }
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    char name[200];
    json_t *r = gd_aws_find(cx.all, "task_definition", name_of(td, name, sizeof name));
    int rev = revision_param(td);
    if (rev == 0) rev = gd_ecs_revision_of(r);
    const json_t *sp = r ? gd_ecs_revision_spec(r, rev) : NULL;
    if (!sp) {
        gd_aws_ctx_close(&cx);
        gd_aws_fail(k, 400, "ClientException",
                    "Unable to describe task definition (kept: the last 10 revisions).");
        return;
    }
    json_t *out = taskdef_json(&cx, r, rev, sp);
    gd_aws_ctx_close(&cx);
    gd_aws_json_send(k, json_pack("{s:o}", "taskDefinition", out));
}

/* cpu or memory: an integer, or a string of one (task level); -1 when absent, -2 bad. */
static int units(const json_t *v)
{
    if (!v) return -1;
    if (json_is_integer(v)) return (int)json_integer_value(v);
    if (!json_is_string(v)) return -2;
    char *end;
    long n = strtol(json_string_value(v), &end, 10);
    return *end || end == json_string_value(v) || n < 0 || n > 1000000 ? -2 : (int)n;
}

/* RegisterTaskDefinition: a new revision of a family (a task_definition changed through
 * the operations layer, recorded as RegisterTaskDefinition), or a new family. The one
 * container's image gameday/<unicorn|time>[:v1..v4] is the service and its release;
 * cpu, memory and the first port mapping are the task definition's. What ECS has no
 * field for (service_time, queue, start_time) stays as the family had it. */
static void register_task_definition(gd_aws_call *k)
{
    static const char *const fields[] = {"family",
                                         "containerDefinitions",
                                         "cpu",
                                         "memory",
                                         "networkMode",
                                         "requiresCompatibilities",
                                         "executionRoleArn",
                                         "taskRoleArn",
                                         "tags",
                                         NULL};
    if (known(k, fields) < 0) return;
    const char *fam = str_field(k, "family", NULL);
    json_t *cds = json_object_get(k->body, "containerDefinitions");
    if (!fam) {
        if (!json_object_get(k->body, "family"))
            gd_aws_fail(k, 400, "ClientException", "family: required");
        return;
    }
    if (!json_is_array(cds) || json_array_size(cds) != 1 ||
        !json_is_object(json_array_get(cds, 0))) {
        gd_aws_fail(k, 400, "ClientException",
                    "containerDefinitions: one container (a task runs one process of the service)");
        return;
    }
    json_t *c0 = json_array_get(cds, 0);
    const char *image = json_string_value(json_object_get(c0, "image"));
    char svc[16] = "", rel[8] = "v2";
    if (!image || sscanf(image, "gameday/%15[a-z]", svc) != 1 ||
        (strcmp(svc, "unicorn") && strcmp(svc, "time"))) {
        gd_aws_fail(k, 400, "ClientException",
                    "containerDefinitions[0].image: allowed gameday/unicorn or gameday/time, "
                    "with a tag v1..v4 (none: v2)");
        return;
    }
    const char *tag = strchr(image, ':');
    if (tag && (strlen(tag + 1) != 2 || tag[1] != 'v' || tag[2] < '1' || tag[2] > '4')) {
        gd_aws_fail(k, 400, "ClientException",
                    "containerDefinitions[0].image: the tag is a release, v1..v4 (got '%.16s')",
                    tag + 1);
        return;
    }
    if (tag) snprintf(rel, sizeof rel, "%s", tag + 1);
    int cpu = units(json_object_get(k->body, "cpu")),
        mem = units(json_object_get(k->body, "memory"));
    if (cpu == -1) cpu = units(json_object_get(c0, "cpu"));
    if (mem == -1) mem = units(json_object_get(c0, "memory"));
    if (cpu == -2 || mem == -2) {
        gd_aws_fail(k, 400, "ClientException", "cpu, memory: integers (cpu units, MiB)");
        return;
    }
    json_t *spec = json_pack("{s:s,s:s}", "service", svc, "service_version", rel);
    if (cpu >= 0) json_object_set_new(spec, "cpu", json_integer(cpu));
    if (mem >= 0) json_object_set_new(spec, "memory", json_integer(mem));
    json_t *pm = json_array_get(json_object_get(c0, "portMappings"), 0);
    if (json_is_integer(json_object_get(pm, "containerPort")))
        json_object_set(spec, "port", json_object_get(pm, "containerPort"));
    gd_aws_ctx cx;
    gd_aws_ctx_open(&cx, k);
    json_t *r = gd_aws_find(cx.all, "task_definition", fam);
    char id[64] = "";
    if (r) snprintf(id, sizeof id, "%s", gd_jstr(r, "id"));
    gd_aws_ctx_close(&cx);
    gd_actor a = gd_aws_actor(k);
    gd_op_result res;
    json_t *body =
        *id ? json_pack("{s:o}", "spec", spec)
            : json_pack("{s:s,s:s,s:o}", "type", "task_definition", "name", fam, "spec", spec);
    if (*id)
        gd_op_update_as(k->g, &a, "RegisterTaskDefinition", id, body, &res);
    else
        gd_op_create(k->g, &a, body, &res);
    json_decref(body);
    if (res.code) {
        if (!strcmp(res.code, "ValidationError")) res.code = "ClientException";
        gd_aws_fail_op(k, &res, "ClientException");
        gd_op_result_free(&res);
        return;
    }
    gd_op_result_free(&res);
    gd_aws_ctx_open(&cx, k);
    r = gd_aws_find(cx.all, "task_definition", fam);
    json_t *out =
        r ? taskdef_json(&cx, r, gd_ecs_revision_of(r), json_object_get(r, "spec")) : json_object();
    gd_aws_ctx_close(&cx);
    gd_aws_json_send(k, json_pack("{s:o}", "taskDefinition", out));
}

static const gd_aws_action actions[] = {
    {"DescribeClusters", describe_clusters},
    {"ListClusters", list_clusters},
    {"ListServices", list_services},
    {"DescribeServices", describe_services},
    {"UpdateService", update_service},
    {"ListTasks", list_tasks},
    {"DescribeTasks", describe_tasks},
    {"DescribeTaskDefinition", describe_task_definition},
    {"RegisterTaskDefinition", register_task_definition},
};

const gd_aws_service gd_aws_ecs = {
    .signing_name = "ecs",
    .version = "2014-11-13",
    .protocol = GD_AWS_JSON,
    .target_prefix = "AmazonEC2ContainerServiceV20141113",
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
