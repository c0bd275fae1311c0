/* CloudWatch (API version 2010-08-01, the query protocol as awscli 2.9 speaks it) over
 * the server's metric store and the team's alarms: GetMetricStatistics, GetMetricData,
 * ListMetrics, DescribeAlarms, and PutMetricAlarm / DeleteAlarms as operations on the
 * team's `alarm` resources. AWS's namespaces and dimensions name our resources: AWS/ELB
 * LoadBalancerName (a clb), AWS/ApplicationELB LoadBalancer and TargetGroup (an alb,
 * a target_group), AWS/EC2 InstanceId and AutoScalingGroupName, AWS/AutoScaling
 * AutoScalingGroupName, AWS/CloudFront DistributionId, AWS/RDS DBInstanceIdentifier (a
 * db), AWS/ElastiCache ReplicationGroupId or CacheClusterId (a cache_cluster), AWS/ECS
 * ClusterName (a cluster) and ServiceName (an ecs_service). */
#include "core/mem.h"
#include "model/stat.h"
#include "server/aws_int.h"
#include "server/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIMS 10
#define MAX_STATS 10
#define LIST_PAGE 500

struct dim {
    const char *name, *value;
};

/* The hex digits of an id after its prefix. */
static const char *digits(const char *id)
{
    const char *d = strchr(id, '-');
    return d ? d + 1 : id;
}

/* Where a resource's metric lives in CloudWatch: its namespace and one dimension
 * (value into val, 200 bytes). 0, or -1 for a type CloudWatch has no metrics of. */
static int place_of(const json_t *r, const char *metric, const char **ns, const char **dname,
                    char *val)
{
    const char *type = gd_jstr(r, "type"), *name = gd_jstr(r, "name"), *id = gd_jstr(r, "id");
    if (!strcmp(type, "clb")) {
        *ns = "AWS/ELB", *dname = "LoadBalancerName";
        snprintf(val, 200, "%s", name);
    } else if (!strcmp(type, "alb")) {
        *ns = "AWS/ApplicationELB", *dname = "LoadBalancer";
        snprintf(val, 200, "app/%s/%s", name, digits(id));
    } else if (!strcmp(type, "target_group")) {
        *ns = "AWS/ApplicationELB", *dname = "TargetGroup";
        snprintf(val, 200, "targetgroup/%s/%s", name, digits(id));
    } else if (!strcmp(type, "instance")) {
        *ns = "AWS/EC2", *dname = "InstanceId";
        snprintf(val, 200, "%s", id);
    } else if (!strcmp(type, "asg")) {
        *ns = !strncmp(metric, "Group", 5) ? "AWS/AutoScaling" : "AWS/EC2";
        *dname = "AutoScalingGroupName";
        snprintf(val, 200, "%s", name);
    } else if (!strcmp(type, "cdn")) {
        *ns = "AWS/CloudFront", *dname = "DistributionId";
        snprintf(val, 200, "%s", id);
    } else if (!strcmp(type, "db")) {
        *ns = "AWS/RDS", *dname = "DBInstanceIdentifier";
        snprintf(val, 200, "%s", name);
    } else if (!strcmp(type, "cache_cluster")) {
        *ns = "AWS/ElastiCache", *dname = "ReplicationGroupId";
        snprintf(val, 200, "%s", name);
    } else if (!strcmp(type, "cluster") || !strcmp(type, "ecs_service")) {
        *ns = "AWS/ECS", *dname = !strcmp(type, "cluster") ? "ClusterName" : "ServiceName";
        snprintf(val, 200, "%s", name);
    } else {
        return -1;
    }
    return 0;
}

/* The team's resource a namespace and dimensions name, or NULL (borrowed from all).
 * A dimension value may be our name, our id, or AWS's form of them. */
static json_t *resource_of(json_t *all, const char *ns, const struct dim *d, int nd)
{
    static const struct {
        const char *ns, *dim, *type, *form; /* form: AWS's "<form>/NAME/ID" */
    } map[] = {
        {"AWS/ApplicationELB", "TargetGroup", "target_group", "targetgroup"},
        {"AWS/ApplicationELB", "LoadBalancer", "alb", "app"},
        {"AWS/ELB", "LoadBalancerName", "clb", NULL},
        {"AWS/EC2", "InstanceId", "instance", NULL},
        {"AWS/EC2", "AutoScalingGroupName", "asg", NULL},
        {"AWS/AutoScaling", "AutoScalingGroupName", "asg", NULL},
        {"AWS/CloudFront", "DistributionId", "cdn", NULL},
        {"AWS/RDS", "DBInstanceIdentifier", "db", NULL},
        {"AWS/ElastiCache", "ReplicationGroupId", "cache_cluster", NULL},
        {"AWS/ElastiCache", "CacheClusterId", "cache_cluster", NULL},
        /* a service's metrics carry ClusterName too: ServiceName first */
        {"AWS/ECS", "ServiceName", "ecs_service", NULL},
        {"AWS/ECS", "ClusterName", "cluster", NULL},
    };
    for (size_t m = 0; m < sizeof map / sizeof map[0]; m++) {
        if (strcmp(map[m].ns, ns) != 0) continue;
        for (int i = 0; i < nd; i++) {
            if (strcmp(d[i].name, map[m].dim) != 0) continue;
            const char *v = d[i].value;
            char name[128];
            size_t fl = map[m].form ? strlen(map[m].form) : 0;
            if (fl && !strncmp(v, map[m].form, fl) && v[fl] == '/') {
                snprintf(name, sizeof name, "%.*s", (int)strcspn(v + fl + 1, "/"), v + fl + 1);
                v = name;
            }
            /* a cache node's id ("sessions-002") names its group: the metrics are the
             * group's */
            size_t vl = strlen(v);
            if (!strcmp(map[m].dim, "CacheClusterId") && vl > 4 && vl < sizeof name &&
                v[vl - 4] == '-' && strspn(v + vl - 3, "0123456789") == 3) {
                snprintf(name, sizeof name, "%.*s", (int)(vl - 4), v);
                v = name;
            }
            json_t *r = gd_aws_find(all, map[m].type, v);
            if (r) return r;
        }
    }
    return NULL;
}

/* <prefix>Dimensions.member.N.Name/Value; the count or -1 after answering. */
static int dimensions_at(gd_aws_call *k, const char *prefix, struct dim *d)
{
    int n = 0;
    for (;; n++) {
        const char *name = gd_aws_param(&k->params, "%sDimensions.member.%d.Name", prefix, n + 1);
        const char *value = gd_aws_param(&k->params, "%sDimensions.member.%d.Value", prefix, n + 1);
        if (!name) break;
        if (n == MAX_DIMS) {
            gd_aws_fail(k, 400, "InvalidParameterValue",
                        "The collection Dimensions must not have a size greater than %d.",
                        MAX_DIMS);
            return -1;
        }
        d[n].name = name;
        d[n].value = value ? value : "";
    }
    return n;
}

static int dimensions(gd_aws_call *k, struct dim *d)
{
    return dimensions_at(k, "", d);
}

static const char *num(double v, char *out)
{
    snprintf(out, 40, "%.10g", v);
    return out;
}

static void get_metric_statistics(gd_aws_call *k)
{
    struct dim d[MAX_DIMS];
    const char *stats[MAX_STATS], *ext[MAX_STATS];
    char err[200];
    const char *ns = gd_aws_param(&k->params, "Namespace");
    const char *metric = gd_aws_param(&k->params, "MetricName");
    const char *t0 = gd_aws_param(&k->params, "StartTime"),
               *t1 = gd_aws_param(&k->params, "EndTime");
    const char *unit_asked = gd_aws_param(&k->params, "Unit");
    long period;
    int nd = dimensions(k, d);
    if (nd < 0) return;
    int ns_ = gd_aws_param_list(&k->params, "Statistics.member", stats, 5, err, sizeof err);
    int ne = ns_ < 0 ? -1
                     : gd_aws_param_list(&k->params, "ExtendedStatistics.member", ext, 10, err,
                                         sizeof err);
    if (ns_ < 0 || ne < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    const char *missing = !ns                                   ? "Namespace"
                          : !metric                             ? "MetricName"
                          : !t0                                 ? "StartTime"
                          : !t1                                 ? "EndTime"
                          : !gd_aws_param(&k->params, "Period") ? "Period"
                                                                : NULL;
    if (missing) {
        gd_aws_fail(k, 400, "MissingParameter", "The parameter %s is required.", missing);
        return;
    }
    if (gd_aws_param_int(&k->params, "Period", 1, 86400 * 7, 60, &period, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "%s (game seconds: durations are game time in gameday)", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    double w0, w1;
    if (gd_aws_parse_time(t0, &w0) < 0 || gd_aws_parse_time(t1, &w1) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "The parameter %s must be an ISO 8601 time, e.g. 2026-12-07T10:00:00Z",
                    gd_aws_parse_time(t0, &w0) < 0 ? "StartTime" : "EndTime");
        return;
    }
    if (w0 >= w1) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "The parameter StartTime must be less than the parameter EndTime.");
        return;
    }
    if (ns_ + ne == 0) {
        gd_aws_fail(k, 400, "InvalidParameterCombination",
                    "Must specify either Statistics or ExtendedStatistics");
        return;
    }
    gd_stat st[MAX_STATS * 2];
    const char *names[MAX_STATS * 2];
    int nstat = 0;
    for (int i = 0; i < ns_ + ne; i++) {
        const char *s = i < ns_ ? stats[i] : ext[i - ns_];
        if (gd_stat_parse(s, &st[nstat]) < 0 ||
            (i < ns_) != (st[nstat].kind != GD_STAT_PERCENTILE)) {
            gd_aws_fail(k, 400, "InvalidParameterValue",
                        i < ns_ ? "The parameter Statistics.member.%d '%.20s' is not one of "
                                  "Average, Sum, Minimum, Maximum, SampleCount"
                                : "The parameter ExtendedStatistics.member.%d '%.20s' is not a "
                                  "percentile p0..p100",
                        i < ns_ ? i + 1 : i - ns_ + 1, s);
            return;
        }
        names[nstat++] = s;
    }
    double g0 = gd_aws_game_of(k->g, w0), g1 = gd_aws_game_of(k->g, w1);
    double n = (g1 - g0) / (double)period;
    if (n > GD_METRIC_MAX_PERIODS) {
        gd_aws_fail(k, 400, "InvalidParameterCombination",
                    "You have requested up to %.0f datapoints, which exceeds the limit of 1,440. "
                    "You may reduce the datapoints requested by increasing Period (game seconds), "
                    "or decreasing the time range.",
                    ceil(n));
        return;
    }
    const char *dstat, *unit;
    gd_metric_kind(metric, &dstat, &unit);
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *r = resource_of(all, ns, d, nd);
    json_t *series[MAX_STATS * 2] = {0};
    if (r && !(unit_asked && strcmp(unit_asked, unit) != 0))
        for (int i = 0; i < nstat; i++)
            series[i] = gd_metrics_stats(k->g->metrics, gd_jstr(r, "id"), metric, g0, g1,
                                         (double)period, &st[i]);
    json_decref(all);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_text(&x, "Label", metric);
    gd_xml_open(&x, "Datapoints");
    size_t i;
    json_t *p;
    json_array_foreach(series[0], i, p)
    {
        char when[32], v[40];
        double t = json_number_value(json_array_get(p, 0));
        gd_xml_open(&x, "member");
        gd_xml_text(&x, "Timestamp", gd_aws_iso(gd_aws_wall_of(k->g, t), when));
        int any_ext = 0;
        for (int s = 0; s < nstat; s++) {
            json_t *q = json_array_get(series[s], i);
            if (!q || fabs(json_number_value(json_array_get(q, 0)) - t) > 1e-6) continue;
            if (st[s].kind == GD_STAT_PERCENTILE) {
                any_ext = 1;
                continue;
            }
            gd_xml_text(&x, names[s], num(json_number_value(json_array_get(q, 1)), v));
        }
        if (any_ext) {
            gd_xml_open(&x, "ExtendedStatistics");
            for (int s = 0; s < nstat; s++) {
                json_t *q = json_array_get(series[s], i);
                if (st[s].kind != GD_STAT_PERCENTILE || !q) continue;
                gd_xml_open(&x, "entry");
                gd_xml_text(&x, "key", names[s]);
                gd_xml_text(&x, "value", num(json_number_value(json_array_get(q, 1)), v));
                gd_xml_close(&x, "entry");
            }
            gd_xml_close(&x, "ExtendedStatistics");
        }
        gd_xml_text(&x, "Unit", unit);
        gd_xml_close(&x, "member");
    }
    gd_xml_close(&x, "Datapoints");
    for (int s = 0; s < nstat; s++) json_decref(series[s]);
    gd_aws_xml_send(k, &x);
}

static void list_metrics(gd_aws_call *k)
{
    struct dim d[MAX_DIMS];
    const char *want_ns = gd_aws_param(&k->params, "Namespace");
    const char *want_metric = gd_aws_param(&k->params, "MetricName");
    gd_aws_param(&k->params, "RecentlyActive"); /* every series is recent: kept in memory */
    int nd = dimensions(k, d);
    if (nd < 0) return;
    int start = gd_aws_page_start(k, gd_aws_param(&k->params, "NextToken"), "InvalidNextToken");
    if (start < 0 || gd_aws_unread(k) < 0) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "Metrics");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        json_t *latest = gd_metrics_latest(k->g->metrics, gd_jstr(r, "id"));
        const char *metric;
        json_t *v;
        json_object_foreach(latest, metric, v)
        {
            const char *ns, *dname;
            char val[200];
            if (place_of(r, metric, &ns, &dname, val) < 0) break;
            if ((want_ns && strcmp(want_ns, ns)) || (want_metric && strcmp(want_metric, metric)))
                continue;
            int pass = 1;
            for (int j = 0; j < nd && pass; j++)
                pass = !strcmp(d[j].name, dname) && (!*d[j].value || !strcmp(d[j].value, val));
            if (!pass || seen++ < start) continue;
            if (shown == LIST_PAGE) {
                more = 1;
                break;
            }
            shown++;
            gd_xml_open(&x, "member");
            gd_xml_text(&x, "Namespace", ns);
            gd_xml_text(&x, "MetricName", metric);
            gd_xml_raw(&x, "<Dimensions><member>");
            gd_xml_text(&x, "Name", dname);
            gd_xml_text(&x, "Value", val);
            gd_xml_raw(&x, "</member></Dimensions>");
            gd_xml_close(&x, "member");
        }
        json_decref(latest);
        if (more) break;
    }
    gd_xml_close(&x, "Metrics");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "NextToken", gd_aws_page_token(start + shown, tok));
    }
    json_decref(all);
    gd_aws_xml_send(k, &x);
}

/* An alarm's actions (scaling policies) as ARNs. */
static void actions_xml(gd_xml *x, const char *tag, const json_t *names, const json_t *all,
                        const char *account)
{
    if (!json_array_size(names)) {
        gd_xml_raw(x, "<");
        gd_xml_raw(x, tag);
        gd_xml_raw(x, "/>");
        return;
    }
    gd_xml_open(x, tag);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_t *p = gd_aws_find(all, "scaling_policy", json_string_value(n));
        char arn[300];
        snprintf(arn, sizeof arn,
                 "arn:aws:autoscaling:us-east-1:%s:scalingPolicy:%s:autoScalingGroupName/"
                 "%s:policyName/%s",
                 account, digits(gd_jstr(p, "id")), gd_jstr(json_object_get(p, "spec"), "asg"),
                 json_string_value(n));
        gd_xml_text(x, "member", arn);
    }
    gd_xml_close(x, tag);
}

static void describe_alarms(gd_aws_call *k)
{
    static const char *names[100];
    const char *types[2];
    char err[200], account[16];
    long max;
    int nn = gd_aws_param_list(&k->params, "AlarmNames.member", names, 100, err, sizeof err);
    int nt =
        nn < 0 ? -1 : gd_aws_param_list(&k->params, "AlarmTypes.member", types, 2, err, sizeof err);
    if (nn < 0 || nt < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    const char *prefix = gd_aws_param(&k->params, "AlarmNamePrefix");
    const char *state = gd_aws_param(&k->params, "StateValue");
    if (state && strcmp(state, "OK") && strcmp(state, "ALARM") &&
        strcmp(state, "INSUFFICIENT_DATA")) {
        gd_aws_fail(k, 400, "ValidationError",
                    "StateValue: '%.20s' (allowed: OK, ALARM, INSUFFICIENT_DATA)", state);
        return;
    }
    if (gd_aws_param_int(&k->params, "MaxRecords", 1, 100, 50, &max, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    int start = gd_aws_page_start(k, gd_aws_param(&k->params, "NextToken"), "InvalidNextToken");
    if (start < 0 || gd_aws_unread(k) < 0) return;
    int metric_alarms = nt == 0;
    for (int i = 0; i < nt; i++) metric_alarms |= !strcmp(types[i], "MetricAlarm");
    gd_aws_account(k->team, account);
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_raw(&x, "<CompositeAlarms/>");
    gd_xml_open(&x, "MetricAlarms");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a)
    {
        if (!metric_alarms || strcmp(gd_jstr(a, "type"), "alarm") != 0) continue;
        const char *name = gd_jstr(a, "name");
        const json_t *spec = json_object_get(a, "spec"), *st = json_object_get(a, "status");
        const char *sv = *gd_jstr(st, "state") ? gd_jstr(st, "state") : "INSUFFICIENT_DATA";
        int hit = nn == 0;
        for (int j = 0; j < nn; j++) hit |= !strcmp(names[j], name);
        if (!hit || (prefix && strncmp(name, prefix, strlen(prefix)) != 0) ||
            (state && strcmp(state, sv) != 0) || seen++ < start)
            continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        char when[32], arn[200], v[40], val[200];
        const char *metric = gd_jstr(spec, "metric"), *ns = "", *dname = "";
        json_t *r = NULL, *q;
        size_t j;
        json_array_foreach(all, j, q) /* by name or id, whatever its type */
        {
            if (!strcmp(gd_jstr(q, "name"), gd_jstr(spec, "resource")) ||
                !strcmp(gd_jstr(q, "id"), gd_jstr(spec, "resource")))
                r = q;
        }
        int placed = r && place_of(r, metric, &ns, &dname, val) == 0;
        gd_xml_open(&x, "member");
        gd_xml_text(&x, "AlarmName", name);
        snprintf(arn, sizeof arn, "arn:aws:cloudwatch:us-east-1:%s:alarm:%s", account, name);
        gd_xml_text(&x, "AlarmArn", arn);
        gd_xml_text(&x, "AlarmConfigurationUpdatedTimestamp",
                    gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(a, "updated", 0)), when));
        gd_xml_text(&x, "ActionsEnabled", "true");
        actions_xml(&x, "OKActions", json_object_get(spec, "ok_actions"), all, account);
        actions_xml(&x, "AlarmActions", json_object_get(spec, "alarm_actions"), all, account);
        gd_xml_raw(&x, "<InsufficientDataActions/>");
        gd_xml_text(&x, "StateValue", sv);
        gd_xml_text(&x, "StateReason",
                    *gd_jstr(st, "reason") ? gd_jstr(st, "reason")
                                           : "Unchecked: Initial alarm creation");
        gd_xml_text(
            &x, "StateUpdatedTimestamp",
            gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(st, "state_updated", gd_jnum(a, "created", 0))),
                       when));
        gd_xml_text(&x, "MetricName", metric);
        if (placed) {
            gd_xml_text(&x, "Namespace", ns);
            gd_xml_raw(&x, "<Dimensions><member>");
            gd_xml_text(&x, "Name", dname);
            gd_xml_text(&x, "Value", val);
            gd_xml_raw(&x, "</member></Dimensions>");
        } else {
            gd_xml_raw(&x, "<Dimensions/>");
        }
        const char *stat = gd_jstr(spec, "statistic");
        gd_xml_text(&x, stat[0] == 'p' ? "ExtendedStatistic" : "Statistic", stat);
        gd_xml_text(&x, "Period", num(gd_jnum(spec, "period", 60), v));
        gd_xml_textf(&x, "EvaluationPeriods", "%lld",
                     (long long)json_integer_value(json_object_get(spec, "evaluation_periods")));
        if (json_object_get(spec, "datapoints_to_alarm"))
            gd_xml_textf(
                &x, "DatapointsToAlarm", "%lld",
                (long long)json_integer_value(json_object_get(spec, "datapoints_to_alarm")));
        gd_xml_text(&x, "Threshold", num(gd_jnum(spec, "threshold", 0), v));
        gd_xml_text(&x, "ComparisonOperator", gd_jstr(spec, "comparison"));
        gd_xml_text(&x, "TreatMissingData", gd_jstr(spec, "treat_missing_data"));
        gd_xml_close(&x, "member");
    }
    gd_xml_close(&x, "MetricAlarms");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "NextToken", gd_aws_page_token(start + shown, tok));
    }
    json_decref(all);
    gd_aws_xml_send(k, &x);
}

/* ---- GetMetricData ---- */

#define MAX_QUERIES 100

struct query {
    const char *id, *label, *metric;
    json_t *series; /* [[t, v], ...] oldest first */
    int ret;
};

static void get_metric_data(gd_aws_call *k)
{
    static struct query q[MAX_QUERIES];
    char err[200];
    const char *t0 = gd_aws_param(&k->params, "StartTime"),
               *t1 = gd_aws_param(&k->params, "EndTime");
    const char *scan = gd_aws_param(&k->params, "ScanBy");
    long maxdp;
    int nq = 0, failed = 0;
    if (gd_aws_param_int(&k->params, "MaxDatapoints", 1, 100800, 100800, &maxdp, err, sizeof err) <
        0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    int start = gd_aws_page_start(k, gd_aws_param(&k->params, "NextToken"), "InvalidNextToken");
    if (start < 0) return;
    double w0 = 0, w1 = 0;
    if (!t0 || !t1) {
        gd_aws_fail(k, 400, "MissingParameter", "The parameter %s is required.",
                    !t0 ? "StartTime" : "EndTime");
        return;
    }
    if (gd_aws_parse_time(t0, &w0) < 0 || gd_aws_parse_time(t1, &w1) < 0 || w0 >= w1) {
        gd_aws_fail(k, 400, "ValidationError",
                    "StartTime and EndTime must be ISO 8601 times, StartTime before EndTime");
        return;
    }
    if (scan && strcmp(scan, "TimestampDescending") && strcmp(scan, "TimestampAscending")) {
        gd_aws_fail(k, 400, "ValidationError",
                    "ScanBy: '%.32s' (allowed: TimestampDescending, TimestampAscending)", scan);
        return;
    }
    double g0 = gd_aws_game_of(k->g, w0), g1 = gd_aws_game_of(k->g, w1);
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    for (;; nq++) {
        char p[64];
        snprintf(p, sizeof p, "MetricDataQueries.member.%d.", nq + 1);
        const char *id = gd_aws_param(&k->params, "%sId", p);
        if (!id) break;
        if (nq == MAX_QUERIES) {
            gd_aws_fail(k, 400, "ValidationError",
                        "The collection MetricDataQueries must not have more than %d members",
                        MAX_QUERIES);
            failed = 1;
            break;
        }
        struct query *x = &q[nq];
        memset(x, 0, sizeof *x);
        x->id = id;
        x->label = gd_aws_param(&k->params, "%sLabel", p);
        int ret;
        long period;
        struct dim d[MAX_DIMS];
        gd_stat st;
        char key[128];
        snprintf(key, sizeof key, "%sReturnData", p);
        if (gd_aws_param_bool(&k->params, key, 1, &ret, err, sizeof err) < 0) {
            gd_aws_fail(k, 400, "ValidationError", "%s", err);
            failed = 1;
            break;
        }
        x->ret = ret;
        if (gd_aws_param(&k->params, "%sExpression", p)) {
            gd_aws_fail(k, 400, "ValidationError",
                        "MetricDataQueries.member.%d.Expression: metric math is not supported in "
                        "this game yet; give a MetricStat",
                        nq + 1);
            failed = 1;
            break;
        }
        gd_aws_param(&k->params, "%sPeriod", p); /* only for expressions */
        const char *ns = gd_aws_param(&k->params, "%sMetricStat.Metric.Namespace", p);
        const char *metric = gd_aws_param(&k->params, "%sMetricStat.Metric.MetricName", p);
        const char *stat = gd_aws_param(&k->params, "%sMetricStat.Stat", p);
        const char *unit = gd_aws_param(&k->params, "%sMetricStat.Unit", p);
        snprintf(key, sizeof key, "%sMetricStat.Period", p);
        char dp[96];
        snprintf(dp, sizeof dp, "%sMetricStat.Metric.", p);
        int nd = dimensions_at(k, dp, d);
        if (nd < 0) {
            failed = 1;
            break;
        }
        if (!ns || !metric || !stat || !gd_aws_param(&k->params, "%s", key)) {
            gd_aws_fail(k, 400, "ValidationError",
                        "MetricDataQueries.member.%d: a MetricStat needs Metric.Namespace, "
                        "Metric.MetricName, Period and Stat",
                        nq + 1);
            failed = 1;
            break;
        }
        if (gd_aws_param_int(&k->params, key, 1, 86400 * 7, 60, &period, err, sizeof err) < 0) {
            gd_aws_fail(k, 400, "ValidationError", "%s (game seconds)", err);
            failed = 1;
            break;
        }
        if (gd_stat_parse(stat, &st) < 0) {
            gd_aws_fail(k, 400, "ValidationError",
                        "MetricDataQueries.member.%d.MetricStat.Stat: '%.20s' (allowed: Average, "
                        "Sum, Minimum, Maximum, SampleCount, p0..p100)",
                        nq + 1, stat);
            failed = 1;
            break;
        }
        if ((g1 - g0) / (double)period > GD_METRIC_MAX_PERIODS) {
            gd_aws_fail(k, 400, "ValidationError",
                        "MetricDataQueries.member.%d: more than 1,440 periods of %ld game "
                        "seconds; increase Period or shorten the range",
                        nq + 1, period);
            failed = 1;
            break;
        }
        x->metric = metric;
        const char *dstat, *munit;
        gd_metric_kind(metric, &dstat, &munit);
        json_t *r = resource_of(all, ns, d, nd);
        if (r && !(unit && strcmp(unit, munit) != 0))
            x->series = gd_metrics_stats(k->g->metrics, gd_jstr(r, "id"), metric, g0, g1,
                                         (double)period, &st);
    }
    if (!failed && nq == 0)
        gd_aws_fail(k, 400, "ValidationError",
                    "The parameter MetricDataQueries must contain at least one query"),
            failed = 1;
    if (!failed && gd_aws_unread(k) < 0) failed = 1;
    if (failed) {
        for (int i = 0; i < nq && i < MAX_QUERIES; i++) json_decref(q[i].series);
        json_decref(all);
        return;
    }
    int desc = !scan || !strcmp(scan, "TimestampDescending");
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "MetricDataResults");
    long seen = 0, shown = 0;
    int more = 0;
    for (int i = 0; i < nq; i++) {
        if (!q[i].ret) continue;
        size_t n = json_array_size(q[i].series);
        char v[40], when[32];
        gd_xml_open(&x, "member");
        gd_xml_text(&x, "Id", q[i].id);
        gd_xml_text(&x, "Label", q[i].label ? q[i].label : q[i].metric);
        /* the points of this page, in the order asked */
        size_t from = n, to = n;
        for (size_t j = 0; j < n; j++) {
            if (seen++ < start) continue;
            if (shown == maxdp) {
                more = 1;
                break;
            }
            if (from == n) from = j;
            to = j + 1;
            shown++;
        }
        gd_xml_open(&x, "Timestamps");
        for (size_t j = from; j < to; j++) {
            json_t *p = json_array_get(q[i].series, desc ? from + to - 1 - j : j);
            gd_xml_text(
                &x, "member",
                gd_aws_iso(gd_aws_wall_of(k->g, json_number_value(json_array_get(p, 0))), when));
        }
        gd_xml_close(&x, "Timestamps");
        gd_xml_open(&x, "Values");
        for (size_t j = from; j < to; j++) {
            json_t *p = json_array_get(q[i].series, desc ? from + to - 1 - j : j);
            gd_xml_text(&x, "member", num(json_number_value(json_array_get(p, 1)), v));
        }
        gd_xml_close(&x, "Values");
        gd_xml_text(&x, "StatusCode", more ? "PartialData" : "Complete");
        gd_xml_close(&x, "member");
    }
    gd_xml_close(&x, "MetricDataResults");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "NextToken", gd_aws_page_token(start + shown, tok));
    }
    gd_xml_raw(&x, "<Messages/>");
    for (int i = 0; i < nq; i++) json_decref(q[i].series);
    json_decref(all);
    gd_aws_xml_send(k, &x);
}

/* ---- PutMetricAlarm, DeleteAlarms ---- */

/* The scaling policies' names of a list of actions (their ARNs, or names); -1 after
 * answering ValidationError for an action that is not one of the team's policies. */
static int alarm_actions(gd_aws_call *k, const char *prefix, const json_t *all, json_t **out)
{
    const char *arns[5];
    char err[200];
    *out = json_array();
    int n = gd_aws_param_list(&k->params, prefix, arns, 5, err, sizeof err);
    if (n < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s (at most 5 actions)", err);
        goto bad;
    }
    for (int i = 0; i < n; i++) {
        const char *p = strstr(arns[i], ":policyName/");
        const char *name = p ? p + strlen(":policyName/") : arns[i];
        json_t *pol = gd_aws_find(all, "scaling_policy", name);
        if (!pol || (!p && !strncmp(arns[i], "arn:", 4))) {
            gd_aws_fail(k, 400, "ValidationError",
                        "%s.%d: '%.200s' is not a scaling policy of this team (an alarm's actions "
                        "in this game are Auto Scaling policies: arn:aws:autoscaling:...:"
                        "policyName/NAME; SNS, EC2 and SSM actions are not supported)",
                        prefix, i + 1, arns[i]);
            goto bad;
        }
        json_array_append_new(*out, json_string(gd_jstr(pol, "name")));
    }
    return 0;
bad:
    json_decref(*out);
    *out = NULL;
    return -1;
}

static void put_metric_alarm(gd_aws_call *k)
{
    char err[200];
    struct dim d[MAX_DIMS];
    const char *name = gd_aws_param(&k->params, "AlarmName");
    const char *ns = gd_aws_param(&k->params, "Namespace");
    const char *metric = gd_aws_param(&k->params, "MetricName");
    const char *stat = gd_aws_param(&k->params, "Statistic");
    const char *ext = gd_aws_param(&k->params, "ExtendedStatistic");
    const char *cmp = gd_aws_param(&k->params, "ComparisonOperator");
    const char *tmd = gd_aws_param(&k->params, "TreatMissingData");
    const char *unit = gd_aws_param(&k->params, "Unit");
    const char *thr = gd_aws_param(&k->params, "Threshold");
    const char *insuf = gd_aws_param(&k->params, "InsufficientDataActions.member.1");
    long period, evals, m;
    int enabled;
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *acts = NULL, *oks = NULL;
    int nd = dimensions(k, d);
    if (nd < 0) goto out;
    if (gd_aws_param_int(&k->params, "Period", 10, 86400, 60, &period, err, sizeof err) < 0 ||
        gd_aws_param_int(&k->params, "EvaluationPeriods", 1, 100, 1, &evals, err, sizeof err) < 0 ||
        gd_aws_param_int(&k->params, "DatapointsToAlarm", 1, 100, evals, &m, err, sizeof err) < 0 ||
        gd_aws_param_bool(&k->params, "ActionsEnabled", 1, &enabled, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s (Period: game seconds, 10..86400)", err);
        goto out;
    }
    if (alarm_actions(k, "AlarmActions.member", all, &acts) < 0 ||
        alarm_actions(k, "OKActions.member", all, &oks) < 0)
        goto out;
    if (gd_aws_param(&k->params, "Metrics.member.1.Id")) {
        gd_aws_fail(k, 400, "ValidationError",
                    "Metrics: alarms on metric math are not supported in this game; give "
                    "Namespace, MetricName and Dimensions");
        goto out;
    }
    if (gd_aws_unread(k) < 0) goto out;
    const char *missing = !name                                            ? "AlarmName"
                          : !metric                                        ? "MetricName"
                          : !ns                                            ? "Namespace"
                          : !cmp                                           ? "ComparisonOperator"
                          : !thr                                           ? "Threshold"
                          : !gd_aws_param(&k->params, "EvaluationPeriods") ? "EvaluationPeriods"
                                                                           : NULL;
    if (missing) {
        gd_aws_fail(k, 400, "ValidationError", "The parameter %s is required.", missing);
        goto out;
    }
    if (!stat == !ext) {
        gd_aws_fail(k, 400, "ValidationError",
                    "Exactly one of Statistic and ExtendedStatistic must be given.");
        goto out;
    }
    gd_stat st;
    if (gd_stat_parse(stat ? stat : ext, &st) < 0 ||
        (stat != NULL) == (st.kind == GD_STAT_PERCENTILE)) {
        gd_aws_fail(k, 400, "ValidationError",
                    stat ? "Statistic: '%.20s' (allowed: Average, Sum, Minimum, Maximum, "
                           "SampleCount)"
                         : "ExtendedStatistic: '%.20s' (allowed: p0..p100)",
                    stat ? stat : ext);
        goto out;
    }
    char *end;
    double threshold = strtod(thr, &end);
    if (*end || end == thr) {
        gd_aws_fail(k, 400, "ValidationError", "Threshold: '%.40s' is not a number", thr);
        goto out;
    }
    if (m > evals) {
        gd_aws_fail(k, 400, "ValidationError",
                    "DatapointsToAlarm (%ld) must not be greater than EvaluationPeriods (%ld)", m,
                    evals);
        goto out;
    }
    if (!enabled) {
        gd_aws_fail(k, 400, "ValidationError",
                    "ActionsEnabled false is not supported in this game: an alarm's actions "
                    "always run (give no actions instead)");
        goto out;
    }
    if (insuf) {
        gd_aws_fail(k, 400, "ValidationError",
                    "InsufficientDataActions are not supported in this game (alarm actions and "
                    "OK actions are)");
        goto out;
    }
    const char *dstat, *munit;
    gd_metric_kind(metric, &dstat, &munit);
    if (unit && strcmp(unit, munit) != 0) {
        gd_aws_fail(k, 400, "ValidationError",
                    "Unit: %.32s is not the unit of %.64s in this game (%s)", unit, metric, munit);
        goto out;
    }
    json_t *r = resource_of(all, ns, d, nd);
    if (!r) {
        gd_aws_fail(k, 400, "ValidationError",
                    "No resource of this team has the metric %.64s in %.64s with these "
                    "Dimensions (an alarm in this game watches one resource: e.g. AWS/RDS "
                    "DBInstanceIdentifier, AWS/ElastiCache ReplicationGroupId; see doc/aws.md)",
                    metric, ns);
        goto out;
    }
    /* PutMetricAlarm replaces the whole alarm: every field is given */
    json_t *spec =
        json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:f,s:s,s:s,s:O,s:O}", "resource", gd_jstr(r, "name"),
                  "metric", metric, "statistic", stat ? stat : ext, "period", (json_int_t)period,
                  "evaluation_periods", (json_int_t)evals, "datapoints_to_alarm", (json_int_t)m,
                  "threshold", threshold, "comparison", cmp, "treat_missing_data",
                  tmd ? tmd : "missing", "alarm_actions", acts, "ok_actions", oks);
    gd_actor a = gd_aws_actor(k);
    gd_op_result res;
    json_t *old = gd_aws_find(all, "alarm", name);
    if (old && strcmp(gd_jstr(old, "name"), name) == 0) {
        json_t *body = json_pack("{s:o}", "spec", spec);
        gd_op_update(k->g, &a, gd_jstr(old, "id"), body, &res);
        json_decref(body);
    } else {
        json_t *body = json_pack("{s:s,s:s,s:o}", "type", "alarm", "name", name, "spec", spec);
        gd_op_create(k->g, &a, body, &res);
        json_decref(body);
    }
    if (res.code) {
        if (!strcmp(res.code, "ValidationError") || res.status == 409)
            gd_aws_fail(k, 400, "ValidationError", "%s", res.message);
        else
            gd_aws_fail_op(k, &res, NULL);
        gd_op_result_free(&res);
        goto out;
    }
    gd_op_result_free(&res);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_aws_xml_send(k, &x);
out:
    json_decref(acts);
    json_decref(oks);
    json_decref(all);
}

static void delete_alarms(gd_aws_call *k)
{
    static const char *names[100];
    char err[200];
    int n = gd_aws_param_list(&k->params, "AlarmNames.member", names, 100, err, sizeof err);
    if (n < 0) {
        gd_aws_fail(k, 400, "ValidationError", "%s (at most 100 alarm names)", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    if (n == 0) {
        gd_aws_fail(k, 400, "ValidationError", "The parameter AlarmNames is required.");
        return;
    }
    json_t *all = gd_store_res_list(k->g->db, k->team, "alarm", 0);
    for (int i = 0; i < n; i++) { /* every alarm is found before any is deleted */
        json_t *a = gd_aws_find(all, "alarm", names[i]);
        if (!a || strcmp(gd_jstr(a, "name"), names[i]) != 0) {
            gd_aws_fail(k, 404, "ResourceNotFound", "Alarm %.200s does not exist (nothing deleted)",
                        names[i]);
            json_decref(all);
            return;
        }
    }
    gd_actor who = gd_aws_actor(k);
    for (int i = 0; i < n; i++) {
        json_t *a = gd_aws_find(all, "alarm", names[i]);
        gd_op_result res;
        gd_op_delete(k->g, &who, gd_jstr(a, "id"), &res);
        if (res.code) {
            gd_aws_fail_op(k, &res, "ResourceNotFound");
            gd_op_result_free(&res);
            json_decref(all);
            return;
        }
        gd_op_result_free(&res);
    }
    json_decref(all);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_aws_xml_send(k, &x);
}

static const gd_aws_action actions[] = {
    {"DeleteAlarms", delete_alarms},    {"DescribeAlarms", describe_alarms},
    {"GetMetricData", get_metric_data}, {"GetMetricStatistics", get_metric_statistics},
    {"ListMetrics", list_metrics},      {"PutMetricAlarm", put_metric_alarm},
};

const gd_aws_service gd_aws_cloudwatch = {
    .signing_name = "monitoring",
    .version = "2010-08-01",
    .xmlns = "http://monitoring.amazonaws.com/doc/2010-08-01/",
    .protocol = GD_AWS_QUERY,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
