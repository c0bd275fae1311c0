/* CloudWatch (API version 2010-08-01, the query protocol as awscli 2.9 speaks it) over
 * the server's metric store and the team's alarms: GetMetricStatistics, ListMetrics,
 * DescribeAlarms. AWS's namespaces and dimensions name our resources: AWS/ELB
 * LoadBalancerName (a clb), AWS/ApplicationELB LoadBalancer and TargetGroup (an alb,
 * a target_group), AWS/EC2 InstanceId and AutoScalingGroupName, AWS/AutoScaling
 * AutoScalingGroupName, AWS/CloudFront DistributionId. Read-only. */
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
            json_t *r = gd_aws_find(all, map[m].type, v);
            if (r) return r;
        }
    }
    return NULL;
}

/* Dimensions.member.N.Name/Value; the count or -1 after answering. */
static int dimensions(gd_aws_call *k, struct dim *d)
{
    int n = 0;
    for (;; n++) {
        const char *name = gd_aws_param(&k->params, "Dimensions.member.%d.Name", n + 1);
        const char *value = gd_aws_param(&k->params, "Dimensions.member.%d.Value", n + 1);
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

static const gd_aws_action actions[] = {
    {"DescribeAlarms", describe_alarms},
    {"GetMetricStatistics", get_metric_statistics},
    {"ListMetrics", list_metrics},
};

const gd_aws_service gd_aws_cloudwatch = {
    .signing_name = "monitoring",
    .version = "2010-08-01",
    .xmlns = "http://monitoring.amazonaws.com/doc/2010-08-01/",
    .protocol = GD_AWS_QUERY,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
