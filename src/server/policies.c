/* Scaling policies. A simple or step policy runs when an alarm
 * names it; a target tracking policy watches its metric itself, once per minute, and
 * sets the group's desired capacity so that the metric per instance comes back to its
 * target. Every change is a SetDesiredCapacity through the operations layer by
 * "autoscaling", so it is checked and audited as a player's would be. The formulas,
 * where AWS publishes none, are in doc/cloudwatch.md. */
#include "core/log.h"
#include "model/ecs.h"
#include "model/stat.h"
#include "model/state.h"
#include "server/launcher_int.h"
#include "server/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TT_PERIOD 60    /* target tracking's datapoints: one a minute */
#define TT_OUT_N 3      /* scale out on 3 of 3 datapoints above the target */
#define TT_IN_N 15      /* scale in on 15 of 15 below it */
#define TT_IN_SHARE 0.9 /* "below" for scale-in: under 90 % of the target */

/* SetDesiredCapacity by the autoscaler, within the group's min..max. 1 if it changed. */
static int set_desired(gd_game *g, int team, json_t *asg, long long want, const char *why)
{
    json_t *spec = json_object_get(asg, "spec");
    long long mn = (long long)gd_jnum(spec, "min", 0), mx = (long long)gd_jnum(spec, "max", 0);
    long long cur = (long long)gd_jnum(spec, "desired", 0);
    if (want < mn) want = mn;
    if (want > mx) want = mx;
    if (want == cur) return 0;
    gd_actor who = {.team = team, .principal = "autoscaling", .trust = GD_TRUST_GAME};
    gd_op_result r;
    json_t *body = json_pack("{s:I}", "desired", (json_int_t)want);
    int rc = gd_op_action(g, &who, "scale", gd_jstr(asg, "name"), body, &r);
    json_decref(body);
    if (rc == 0) {
        gd_info("policy_scaled", "team=%d asg=%s from=%lld to=%lld why=%s", team,
                gd_jstr(asg, "name"), cur, want, gd_log_q(why));
        char line[400];
        snprintf(line, sizeof line, "%s: desired %lld -> %lld (%s)", gd_jstr(asg, "name"), cur,
                 want, why);
        gd_store_ledger_add(g->db, gd_game_now(g), team, "autoscaling", 0, line);
        snprintf(line, sizeof line, "Setting the desired capacity from %lld to %lld", cur, want);
        gd_asg_activity(g, gd_jstr(asg, "id"), line, why);
    }
    gd_op_result_free(&r);
    return rc == 0;
}

/* An ECS service's desired_count by Application Auto Scaling, within the policy's
 * min_capacity..max_capacity (1..GD_ECS_MAX_TASKS when absent): a scale action through
 * the operations layer (audited UpdateService by "autoscaling"). 1 if it changed. */
static int set_count(gd_game *g, int team, json_t *p, json_t *svc, long long want, const char *why)
{
    json_t *ps = json_object_get(p, "spec");
    long long mn = (long long)gd_jnum(ps, "min_capacity", 1);
    long long mx = (long long)gd_jnum(ps, "max_capacity", GD_ECS_MAX_TASKS);
    long long cur = (long long)gd_jnum(json_object_get(svc, "spec"), "desired_count", 1);
    if (want < mn) want = mn;
    if (want > mx) want = mx;
    if (want == cur) return 0;
    gd_actor who = {.team = team, .principal = "autoscaling", .trust = GD_TRUST_GAME};
    gd_op_result r;
    json_t *body = json_pack("{s:I}", "desired", (json_int_t)want);
    int rc = gd_op_action(g, &who, "scale", gd_jstr(svc, "name"), body, &r);
    json_decref(body);
    if (rc == 0) {
        gd_info("policy_scaled", "team=%d ecs_service=%s from=%lld to=%lld why=%s", team,
                gd_jstr(svc, "name"), cur, want, gd_log_q(why));
        char line[400];
        snprintf(line, sizeof line, "%s: desired_count %lld -> %lld (%s)", gd_jstr(svc, "name"),
                 cur, want, why);
        gd_store_ledger_add(g->db, gd_game_now(g), team, "autoscaling", 0, line);
    }
    gd_op_result_free(&r);
    return rc == 0;
}

/* AWS's rounding of a percent change: above 1 down, between 0 and 1 to 1, between -1
 * and 0 to -1, below -1 up; then at least min_adjustment_magnitude either way. */
static long long percent_change(long long cur, double pct, long long mam)
{
    double d = (double)cur * pct / 100.0;
    long long c = d >= 1    ? (long long)floor(d)
                  : d > 0   ? 1
                  : d <= -1 ? (long long)ceil(d)
                  : d < 0   ? -1
                            : 0;
    if (mam > 0 && c != 0 && llabs(c) < mam) c = c > 0 ? mam : -mam;
    return c;
}

void gd_policy_execute(gd_game *g, int team, const char *policy, const char *alarm, double value,
                       double threshold)
{
    json_t *p = gd_store_res_live(g->db, team, policy, "scaling_policy");
    if (!p) return;
    json_t *spec = json_object_get(p, "spec"), *st = json_object_get(p, "status");
    const char *type = gd_jstr(spec, "policy_type");
    double now = gd_game_now(g);
    /* what it scales: the group, or the ECS service (its desired_count) */
    json_t *svc = *gd_jstr(spec, "ecs_service")
                      ? gd_store_res_live(g->db, team, gd_jstr(spec, "ecs_service"), "ecs_service")
                      : NULL;
    json_t *asg =
        svc ? json_incref(svc) : gd_store_res_live(g->db, team, gd_jstr(spec, "asg"), "asg");
    if (!asg || !strcmp(type, "TargetTrackingScaling") || now < gd_jnum(st, "cooldown_until", 0)) {
        json_decref(svc);
        json_decref(asg);
        json_decref(p);
        return;
    }
    long long adj = 0;
    int found = 0;
    if (!strcmp(type, "StepScaling")) {
        /* The step whose [lower, upper) holds how far the metric is past the threshold. */
        double d = value - threshold;
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(spec, "step_adjustments"), i, s)
        {
            json_t *lo = json_object_get(s, "lower"), *hi = json_object_get(s, "upper");
            if ((!lo || d >= json_number_value(lo)) && (!hi || d < json_number_value(hi))) {
                adj = (long long)json_integer_value(json_object_get(s, "adjustment"));
                found = 1;
                break;
            }
        }
    } else {
        adj = (long long)gd_jnum(spec, "scaling_adjustment", 0);
        found = 1;
    }
    long long cur =
        (long long)gd_jnum(json_object_get(asg, "spec"), svc ? "desired_count" : "desired", 0);
    const char *at = gd_jstr(spec, "adjustment_type");
    long long want =
        !strcmp(at, "ExactCapacity") ? adj
        : !strcmp(at, "PercentChangeInCapacity")
            ? cur + percent_change(cur, (double)adj,
                                   (long long)gd_jnum(spec, "min_adjustment_magnitude", 0))
            : cur + adj;
    char why[200];
    snprintf(why, sizeof why, "policy %s on alarm %s", policy, alarm);
    if (found &&
        (svc ? set_count(g, team, p, svc, want, why) : set_desired(g, team, asg, want, why))) {
        /* Simple scaling waits its cooldown; step scaling its instances' warm-up. */
        double wait = !strcmp(type, "StepScaling") ? gd_jnum(spec, "estimated_instance_warmup", 300)
                                                   : gd_jnum(spec, "cooldown", 300);
        gd_launcher_set_status(g, gd_jstr(p, "id"),
                               json_pack("{s:f,s:s,s:I,s:f}", "last_executed", now, "last_alarm",
                                         alarm, "last_desired", (json_int_t)want, "cooldown_until",
                                         now + wait));
    }
    json_decref(svc);
    json_decref(asg);
    json_decref(p);
}

/* ---- target tracking ---- */

/* The series a target tracking policy watches: the resource id and the metric. asg is
 * what it scales, a group or an ecs_service (both name target_groups). */
static int tt_series(gd_game *g, int team, json_t *spec, json_t *asg, char *id, size_t n,
                     const char **metric)
{
    json_t *as = json_object_get(asg, "spec");
    if (strcmp(gd_jstr(spec, "metric"), "ALBRequestCountPerTarget") != 0) {
        *metric = "CPUUtilization"; /* ASG- or ECSServiceAverageCPUUtilization */
        snprintf(id, n, "%s", gd_jstr(asg, "id"));
        return 0;
    }
    /* ALBRequestCountPerTarget: of the named target group, else of the owner's first
     * target group, else of the first alb among its load balancers (its own group). */
    *metric = "RequestCountPerTarget";
    const char *tg = gd_jstr(spec, "target_group");
    if (!*tg) tg = json_string_value(json_array_get(json_object_get(as, "target_groups"), 0));
    json_t *r = tg ? gd_store_res_live(g->db, team, tg, "target_group") : NULL;
    size_t i;
    json_t *lb;
    json_array_foreach(json_object_get(as, "load_balancers"), i, lb)
    {
        if (r) break;
        r = gd_store_res_live(g->db, team, json_string_value(lb), "alb");
    }
    if (!r) return -1;
    snprintf(id, n, "%s", gd_jstr(r, "id"));
    json_decref(r);
    return 0;
}

/* The group's running instances (its metric is spread over them). */
static int running_members(json_t *instances, int team, const char *asg)
{
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        n += (int)json_integer_value(json_object_get(r, "team")) == team &&
             !strcmp(gd_jstr(st, "asg"), asg) && gd_inst_state_of(st) == GD_INST_RUNNING &&
             !gd_instance_leaving(r);
    }
    return n;
}

/* How many instances the metric of the period ending at pe was spread over: a target
 * group's registered targets, or a group's in-service instances (AWS/AutoScaling). */
static double measured_over(gd_game *g, const char *id, const char *metric, double pe)
{
    gd_stat avg;
    gd_stat_parse("Average", &avg);
    static const char *const alb[] = {"HealthyHostCount", "UnHealthyHostCount", NULL};
    static const char *const cpu[] = {"GroupInServiceInstances", NULL};
    const char *const *names = !strcmp(metric, "CPUUtilization") ? cpu : alb;
    double n = 0;
    for (int i = 0; names[i]; i++) {
        double v;
        gd_metrics_periods(g->metrics, id, names[i], pe, 1, TT_PERIOD, &avg, &v);
        if (!isnan(v)) n += v;
    }
    return n;
}

/* One policy's wish for its group: 1 out, -1 in, 0 none; *want the capacity. */
static int tt_wish(gd_game *g, json_t *p, json_t *asg, json_t *instances, double pe,
                   long long *want, double *value)
{
    int team = (int)json_integer_value(json_object_get(p, "team"));
    json_t *spec = json_object_get(p, "spec");
    char id[40];
    const char *metric;
    if (tt_series(g, team, spec, asg, id, sizeof id, &metric) < 0) return 0;
    gd_stat st;
    gd_stat_parse(!strcmp(metric, "CPUUtilization") ? "Average" : "Sum", &st);
    double v[TT_IN_N];
    gd_metrics_periods(g->metrics, id, metric, pe, TT_IN_N, TT_PERIOD, &st, v);
    double target = gd_jnum(spec, "target_value", 1);
    *value = v[TT_IN_N - 1];
    int above = 0, below = 0;
    for (int i = TT_IN_N - TT_OUT_N; i < TT_IN_N; i++) above += !isnan(v[i]) && v[i] > target;
    for (int i = 0; i < TT_IN_N; i++) below += !isnan(v[i]) && v[i] < target * TT_IN_SHARE;
    if (isnan(*value)) return 0;
    /* The capacity that brings the metric per instance back to the target: the
     * instances the last datapoint was measured over (not those launched since, which
     * would overshoot), times value / target, rounded up both ways (out adds the most,
     * in removes the fewest). */
    double n = measured_over(g, id, metric, pe);
    if (!(n > 0)) n = running_members(instances, team, gd_jstr(asg, "name"));
    *want = (long long)ceil((n > 0 ? n : 1) * *value / target - 1e-9);
    long long cur = (long long)gd_jnum(json_object_get(asg, "spec"), "desired", 0);
    if (above == TT_OUT_N && *want > cur) return 1;
    /* No scale-in while instances of the last scale-out are warming up. */
    double warm = gd_jnum(spec, "estimated_instance_warmup", 300);
    if (below == TT_IN_N && *want < cur &&
        !json_is_true(json_object_get(spec, "disable_scale_in")) &&
        pe >= gd_jnum(json_object_get(p, "status"), "scaled_out_at", -1e18) + warm)
        return -1;
    return 0;
}

/* Target tracking of an ECS service: its running tasks' average CPUUtilization
 * (ECSServiceAverageCPUUtilization), or its target group's requests per target a minute
 * (ALBRequestCountPerTarget), per minute against the target, with the same rules as
 * a group's (out on 3 of 3 datapoints above, in on 15 of 15 under 90 %, after the
 * warm-up of the last scale-out), each policy on its own. */
static void track_service(gd_game *g, json_t *p, double pe)
{
    int team = (int)json_integer_value(json_object_get(p, "team"));
    json_t *spec = json_object_get(p, "spec");
    json_t *svc = gd_store_res_live(g->db, team, gd_jstr(spec, "ecs_service"), "ecs_service");
    if (!svc) return;
    /* its metric: the service's CPU, or its target group's requests per target */
    char id[40];
    const char *series;
    if (tt_series(g, team, spec, svc, id, sizeof id, &series) < 0) {
        json_decref(svc);
        return;
    }
    int rpt = !strcmp(series, "RequestCountPerTarget");
    gd_stat stat;
    gd_stat_parse(rpt ? "Sum" : "Average", &stat);
    double v[TT_IN_N];
    gd_metrics_periods(g->metrics, id, series, pe, TT_IN_N, TT_PERIOD, &stat, v);
    double target = gd_jnum(spec, "target_value", 1), value = v[TT_IN_N - 1];
    int above = 0, below = 0;
    for (int i = TT_IN_N - TT_OUT_N; i < TT_IN_N; i++) above += !isnan(v[i]) && v[i] > target;
    for (int i = 0; i < TT_IN_N; i++) below += !isnan(v[i]) && v[i] < target * TT_IN_SHARE;
    double n = rpt ? measured_over(g, id, "RequestCountPerTarget", pe) : 0;
    if (!(n > 0)) n = gd_jnum(json_object_get(svc, "status"), "running_count", 0);
    long long want = isnan(value) ? 0 : (long long)ceil((n > 0 ? n : 1) * value / target - 1e-9);
    long long cur = (long long)gd_jnum(json_object_get(svc, "spec"), "desired_count", 1);
    double warm = gd_jnum(spec, "estimated_instance_warmup", 300);
    int w = isnan(value)                      ? 0
            : above == TT_OUT_N && want > cur ? 1
            : below == TT_IN_N && want < cur &&
                    !json_is_true(json_object_get(spec, "disable_scale_in")) &&
                    pe >= gd_jnum(json_object_get(p, "status"), "scaled_out_at", -1e18) + warm
                ? -1
                : 0;
    gd_launcher_set_status(g, gd_jstr(p, "id"),
                           json_pack("{s:f,s:o?,s:s}", "evaluated_until", pe, "last_value",
                                     isnan(value) ? NULL : json_real(value), "wish",
                                     w > 0   ? "out"
                                     : w < 0 ? "in"
                                             : "hold"));
    char why[256];
    snprintf(why, sizeof why, "target tracking %s: %s %.4g %s target %g", gd_jstr(p, "name"),
             rpt ? "ALBRequestCountPerTarget" : "ECSServiceAverageCPUUtilization", value,
             w > 0 ? ">" : "<", target);
    if (w != 0 && set_count(g, team, p, svc, want, why) && w > 0)
        gd_launcher_set_status(g, gd_jstr(p, "id"), json_pack("{s:f}", "scaled_out_at", pe));
    json_decref(svc);
}

void gd_policies_track(gd_game *g, json_t *policies, double now)
{
    double pe = gd_metrics_settled(now, TT_PERIOD);
    json_t *instances = NULL, *done = json_object();
    size_t i, j;
    json_t *p, *q;
    json_array_foreach(policies, i, p)
    {
        json_t *spec = json_object_get(p, "spec");
        if (strcmp(gd_jstr(spec, "policy_type"), "TargetTrackingScaling") != 0 ||
            pe <= gd_jnum(json_object_get(p, "status"), "evaluated_until", -1))
            continue;
        if (*gd_jstr(spec, "ecs_service")) {
            track_service(g, p, pe);
            continue;
        }
        int team = (int)json_integer_value(json_object_get(p, "team"));
        char key[96];
        snprintf(key, sizeof key, "%d/%s", team, gd_jstr(spec, "asg"));
        if (json_object_get(done, key)) continue;
        json_object_set_new(done, key, json_true());
        json_t *asg = gd_store_res_live(g->db, team, gd_jstr(spec, "asg"), "asg");
        if (!asg) continue;
        if (!instances) instances = gd_store_res_list(g->db, 0, "instance", 0);
        /* Every target tracking policy of the group: out if any asks, in only if all
         * agree (to the largest capacity any of them wants). */
        int outs = 0, ins = 0, n = 0;
        long long out_to = 0, in_to = 0;
        char why[256] = "";
        json_array_foreach(policies, j, q)
        {
            json_t *qs = json_object_get(q, "spec");
            if ((int)json_integer_value(json_object_get(q, "team")) != team ||
                strcmp(gd_jstr(qs, "asg"), gd_jstr(spec, "asg")) != 0 ||
                strcmp(gd_jstr(qs, "policy_type"), "TargetTrackingScaling") != 0)
                continue;
            n++;
            long long want = 0;
            double value = NAN;
            int w = tt_wish(g, q, asg, instances, pe, &want, &value);
            gd_launcher_set_status(g, gd_jstr(q, "id"),
                                   json_pack("{s:f,s:o?,s:s}", "evaluated_until", pe, "last_value",
                                             isnan(value) ? NULL : json_real(value), "wish",
                                             w > 0   ? "out"
                                             : w < 0 ? "in"
                                                     : "hold"));
            if (w > 0 && (!outs || want > out_to)) {
                out_to = want;
                snprintf(why, sizeof why, "target tracking %s: %s %.4g > target %g",
                         gd_jstr(q, "name"), gd_jstr(qs, "metric"), value,
                         gd_jnum(qs, "target_value", 0));
            }
            outs += w > 0;
            if (w < 0) {
                if (!ins || want > in_to) in_to = want;
                ins++;
            }
        }
        if (outs && set_desired(g, team, asg, out_to, why)) {
            json_array_foreach(policies, j, q)
            {
                json_t *qs = json_object_get(q, "spec");
                if ((int)json_integer_value(json_object_get(q, "team")) == team &&
                    !strcmp(gd_jstr(qs, "asg"), gd_jstr(spec, "asg")))
                    gd_launcher_set_status(g, gd_jstr(q, "id"),
                                           json_pack("{s:f}", "scaled_out_at", pe));
            }
        } else if (ins == n && n > 0) {
            snprintf(why, sizeof why,
                     "target tracking: 15 minutes under the target of every "
                     "policy of the group");
            set_desired(g, team, asg, in_to, why);
        }
        json_decref(asg);
    }
    json_decref(instances);
    json_decref(done);
}
