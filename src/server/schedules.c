/* Scheduled actions: at their game time (once, `at`) or on each game minute their cron
 * `recurrence` matches, they set their group's min, max and desired capacity together,
 * as an UpdateResource by "autoscaling" through the operations layer. A desired
 * capacity the action does not give is kept, within the new min..max. An action never
 * runs for a time before it was created, and a recurrence runs at most once a minute
 * (the latest due minute when the server was busy or down). */
#include "core/log.h"
#include "model/cron.h"
#include "server/launcher_int.h"
#include "server/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_CATCH_UP 1440 /* game minutes a recurrence looks back, at most */

static void run_action(gd_game *g, int team, json_t *act, json_t *asg, double now)
{
    json_t *spec = json_object_get(act, "spec"), *as = json_object_get(asg, "spec");
    long long mn = (long long)gd_jnum(spec, "min", gd_jnum(as, "min", 0));
    long long mx = (long long)gd_jnum(spec, "max", gd_jnum(as, "max", 0));
    long long d = (long long)gd_jnum(spec, "desired", gd_jnum(as, "desired", 0));
    if (mx < mn) mx = mn; /* a min above the group's max raises it, as AWS does */
    if (d < mn) d = mn;
    if (d > mx) d = mx;
    gd_actor who = {.team = team, .principal = "autoscaling", .trust = GD_TRUST_GAME};
    gd_op_result r;
    json_t *body = json_pack("{s:{s:I,s:I,s:I}}", "spec", "min", (json_int_t)mn, "max",
                             (json_int_t)mx, "desired", (json_int_t)d);
    int rc = gd_op_update(g, &who, gd_jstr(asg, "id"), body, &r);
    json_decref(body);
    gd_info("scheduled_action", "team=%d action=%s asg=%s min=%lld max=%lld desired=%lld code=%s",
            team, gd_jstr(act, "name"), gd_jstr(asg, "name"), mn, mx, d, r.code ? r.code : "-");
    char line[300];
    snprintf(line, sizeof line, "scheduled action %s: %s min %lld, max %lld, desired %lld%s%s",
             gd_jstr(act, "name"), gd_jstr(asg, "name"), mn, mx, d, rc ? ": " : "",
             rc ? r.message : "");
    gd_store_ledger_add(g->db, now, team, "autoscaling", 0, line);
    if (rc == 0) {
        char what[120];
        snprintf(what, sizeof what, "Updating the group: min %lld, max %lld, desired %lld", mn, mx,
                 d);
        snprintf(line, sizeof line, "scheduled action %s", gd_jstr(act, "name"));
        gd_asg_activity(g, gd_jstr(asg, "id"), what, line);
    }
    gd_op_result_free(&r);
}

static void reconcile_action(gd_game *g, json_t *act, double now)
{
    int team = (int)json_integer_value(json_object_get(act, "team"));
    json_t *spec = json_object_get(act, "spec"), *st = json_object_get(act, "status");
    double created = gd_jnum(act, "created", 0);
    long long now_m = (long long)floor(now / 60);
    int due = 0;
    json_t *fields;
    if (json_object_get(spec, "at")) {
        double at = gd_jnum(spec, "at", 0);
        if (json_object_get(st, "ran_at") || json_object_get(st, "expired")) return;
        if (at < created) {
            /* Its time had passed when it was made: AWS refuses such a start time. */
            gd_launcher_set_status(g, gd_jstr(act, "id"), json_pack("{s:b}", "expired", 1));
            return;
        }
        if (now < at) return;
        due = 1;
        fields = json_pack("{s:f}", "ran_at", now);
    } else {
        gd_cron c;
        char err[128];
        if (gd_cron_parse(gd_jstr(spec, "recurrence"), &c, err, sizeof err) < 0) return;
        long long from = json_object_get(st, "checked_until")
                             ? (long long)gd_jnum(st, "checked_until", 0) + 1
                             : (long long)ceil(created / 60);
        if (from > now_m) return;
        if (now_m - from > MAX_CATCH_UP) from = now_m - MAX_CATCH_UP;
        for (long long m = now_m; m >= from && !due; m--) due = gd_cron_match(&c, m);
        fields = json_pack("{s:I}", "checked_until", (json_int_t)now_m);
        if (due) json_object_set_new(fields, "ran_at", json_real(now));
    }
    gd_launcher_set_status(g, gd_jstr(act, "id"), fields);
    if (!due) return;
    json_t *asg = gd_store_res_live(g->db, team, gd_jstr(spec, "asg"), "asg");
    if (asg) run_action(g, team, act, asg, now);
    json_decref(asg);
}

void gd_schedules_reconcile(gd_game *g, json_t *actions, double now)
{
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) reconcile_action(g, a, now);
}
