/* CloudWatch alarms: each alarm watches one metric of one resource in the metric store.
 * Once per period it takes the statistic of each of the last evaluation_periods
 * periods that have ended, and goes to ALARM when at least datapoints_to_alarm of them
 * breach the threshold, OK when fewer do, INSUFFICIENT_DATA when it has no datapoint
 * (treat_missing_data says what a missing period counts as). A change of state is kept
 * in the alarm's history, logged, and (notify) put in the team's event stream; the
 * alarm's actions are scaling policies, run on entering ALARM or OK and, for ALARM,
 * again every period while it lasts, as Auto Scaling's are. See doc/cloudwatch.md. */
#include "core/log.h"
#include "model/stat.h"
#include "server/alarms.h"
#include "server/launcher_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define HISTORY_MAX 20

static int breaches(const char *cmp, double v, double threshold)
{
    if (!strcmp(cmp, "GreaterThanOrEqualToThreshold")) return v >= threshold;
    if (!strcmp(cmp, "LessThanThreshold")) return v < threshold;
    if (!strcmp(cmp, "LessThanOrEqualToThreshold")) return v <= threshold;
    return v > threshold; /* GreaterThanThreshold */
}

int gd_alarm_evaluate(const gd_alarm_input *in, gd_alarm_verdict *out)
{
    int present = 0, breaching = 0, n = in->evaluation_periods;
    int m = in->datapoints_to_alarm > 0 ? in->datapoints_to_alarm : n;
    const char *miss = in->treat_missing_data ? in->treat_missing_data : "missing";
    out->last = NAN;
    for (int i = 0; i < n; i++) {
        double v = in->values[i];
        if (isnan(v)) {
            if (!strcmp(miss, "breaching")) present++, breaching++;
            if (!strcmp(miss, "notBreaching")) present++;
            continue;
        }
        out->last = v;
        present++;
        breaching += breaches(in->comparison, v, in->threshold);
    }
    out->breaching = breaching;
    out->present = present;
    if (present == 0)
        out->state = !strcmp(miss, "ignore") ? in->current : GD_ALARM_INSUFFICIENT_DATA;
    else
        out->state = breaching >= m ? GD_ALARM_ALARM : GD_ALARM_OK;
    return 0;
}

const char *gd_alarm_state_name(gd_alarm_state s)
{
    return s == GD_ALARM_OK ? "OK" : s == GD_ALARM_ALARM ? "ALARM" : "INSUFFICIENT_DATA";
}

gd_alarm_state gd_alarm_state_of(const char *name)
{
    if (name && !strcmp(name, "OK")) return GD_ALARM_OK;
    if (name && !strcmp(name, "ALARM")) return GD_ALARM_ALARM;
    return GD_ALARM_INSUFFICIENT_DATA;
}

static void run_actions(gd_game *g, int team, json_t *names, const char *alarm, double value,
                        double threshold)
{
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
        gd_policy_execute(g, team, json_string_value(n), alarm, value, threshold);
}

static void reconcile_alarm(gd_game *g, json_t *a, double now)
{
    int team = (int)json_integer_value(json_object_get(a, "team"));
    const char *id = gd_jstr(a, "id"), *name = gd_jstr(a, "name");
    json_t *spec = json_object_get(a, "spec"), *st = json_object_get(a, "status");
    double period = gd_jnum(spec, "period", 60);
    double pe = gd_metrics_settled(now, period);
    if (pe <= gd_jnum(st, "evaluated_until", -1)) return;
    int n = (int)gd_jnum(spec, "evaluation_periods", 1);
    gd_stat stat;
    if (gd_stat_parse(gd_jstr(spec, "statistic"), &stat) < 0) return; /* checked on write */
    double values[100];
    json_t *res = gd_store_res_live(g->db, team, gd_jstr(spec, "resource"), NULL);
    gd_metrics_periods(g->metrics, res ? gd_jstr(res, "id") : "", gd_jstr(spec, "metric"), pe, n,
                       period, &stat, values);
    gd_alarm_state cur = gd_alarm_state_of(json_string_value(json_object_get(st, "state")));
    gd_alarm_input in = {.values = values,
                         .evaluation_periods = n,
                         .datapoints_to_alarm = (int)gd_jnum(spec, "datapoints_to_alarm", 0),
                         .threshold = gd_jnum(spec, "threshold", 0),
                         .comparison = gd_jstr(spec, "comparison"),
                         .treat_missing_data = gd_jstr(spec, "treat_missing_data"),
                         .current = cur};
    gd_alarm_verdict v;
    gd_alarm_evaluate(&in, &v);
    int changed = v.state != cur || !json_object_get(st, "state");
    char reason[256];
    if (v.present == 0)
        snprintf(reason, sizeof reason, "no datapoints of %s %s in the last %d period(s) of %.0fs",
                 gd_jstr(spec, "resource"), gd_jstr(spec, "metric"), n, period);
    else
        snprintf(reason, sizeof reason,
                 "%d of the last %d datapoint(s) of %s %s (%s per %.0fs, last %.6g) breach %s %g",
                 v.breaching, n, gd_jstr(spec, "resource"), gd_jstr(spec, "metric"),
                 gd_jstr(spec, "statistic"), period, v.last, gd_jstr(spec, "comparison"),
                 in.threshold);
    json_t *fields = json_pack("{s:f,s:o?}", "evaluated_until", pe, "last_value",
                               isnan(v.last) ? NULL : json_real(v.last));
    if (changed) {
        json_t *hist = json_deep_copy(json_object_get(st, "history"));
        if (!json_is_array(hist)) {
            json_decref(hist);
            hist = json_array();
        }
        json_array_append_new(
            hist, json_pack("{s:f,s:s,s:s,s:s}", "time", now, "from",
                            json_object_get(st, "state") ? gd_alarm_state_name(cur) : "-", "to",
                            gd_alarm_state_name(v.state), "reason", reason));
        while (json_array_size(hist) > HISTORY_MAX) json_array_remove(hist, 0);
        json_object_set_new(fields, "state", json_string(gd_alarm_state_name(v.state)));
        json_object_set_new(fields, "reason", json_string(reason));
        json_object_set_new(fields, "state_updated", json_real(now));
        json_object_set_new(fields, "history", hist);
    }
    gd_launcher_set_status(g, id, fields);
    json_decref(res);
    if (!changed && v.state != GD_ALARM_ALARM) return;
    if (changed) {
        gd_info("alarm_state", "team=%d alarm=%s from=%s to=%s", team, name,
                gd_alarm_state_name(cur), gd_alarm_state_name(v.state));
        if (json_is_true(json_object_get(spec, "notify")) &&
            (json_object_get(st, "state") || v.state == GD_ALARM_ALARM)) {
            char line[400];
            snprintf(line, sizeof line, "alarm %s: %s -> %s: %s", name, gd_alarm_state_name(cur),
                     gd_alarm_state_name(v.state), reason);
            gd_store_ledger_add(g->db, now, team, "cloudwatch", 0, line);
        }
    }
    if (v.state == GD_ALARM_ALARM)
        run_actions(g, team, json_object_get(spec, "alarm_actions"), name, v.last, in.threshold);
    else if (v.state == GD_ALARM_OK && changed)
        run_actions(g, team, json_object_get(spec, "ok_actions"), name, v.last, in.threshold);
}

void gd_alarms_reconcile(gd_game *g, json_t *alarms, double now)
{
    size_t i;
    json_t *a;
    json_array_foreach(alarms, i, a) reconcile_alarm(g, a, now);
}
