/* Instance refresh (EC2 Auto Scaling's StartInstanceRefresh): a group's instances that
 * were launched from another version of its launch template are replaced, one at a
 * time and launch-before-terminate, so that the group never has fewer warm instances
 * than its desired capacity and no customer request is lost: the refresh launches one
 * instance of the new version; once it is running, past its warm-up and in service in
 * every load balancer that has it, the group's scale-in takes one of the old version
 * (deregistered and drained first). A new instance that fails its health checks fails
 * the refresh; with auto_rollback the template goes back to the version the refresh
 * started from (a new version with that spec) and the refresh replaces the new
 * instances with it. The refresh lives in the group's status ("refresh"). */
#include "core/log.h"
#include "model/state.h"
#include "server/game_int.h"
#include "server/launcher_int.h"
#include "server/ops.h"
#include "server/refresh.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int in_list(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(
        a, i, v) if (!strcmp(json_string_value(v) ? json_string_value(v) : "", s)) return 1;
    return 0;
}

static int active(const char *st)
{
    return !strcmp(st, "InProgress") || !strcmp(st, "RollbackInProgress");
}

int gd_refresh_active(const json_t *asg)
{
    json_t *rf = json_object_get(json_object_get(asg, "status"), "refresh");
    return rf && active(gd_jstr(rf, "status"));
}

int gd_refresh_target(const json_t *asg)
{
    json_t *rf = json_object_get(json_object_get(asg, "status"), "refresh");
    return rf && active(gd_jstr(rf, "status")) ? (int)gd_jnum(rf, "to_version", 0) : 0;
}

static void set_refresh(gd_game *g, json_t *asg, json_t *rf)
{
    gd_launcher_set_status(g, gd_jstr(asg, "id"), json_pack("{s:O}", "refresh", rf));
    json_object_set(json_object_get(asg, "status"), "refresh", rf);
}

/* Its state in the edges that have it: 1 in service in all, 0 not yet, -1 out of
 * service past its first checks (failed), 2 in none. */
static int in_service(gd_game *g, const char *id)
{
    int seen = 0, ok = 1;
    for (gd_edge_link *e = g->edges; e; e = e->next) {
        size_t q;
        json_t *t;
        json_array_foreach(json_object_get(e->stats, "targets"), q, t)
        {
            if (strcmp(gd_jstr(t, "id"), id) != 0) continue;
            seen = 1;
            if (!strcmp(gd_jstr(t, "state"), "OutOfService") && gd_jnum(t, "health_fail", 0) >= 2)
                return -1;
            if (strcmp(gd_jstr(t, "state"), "InService") != 0) ok = 0;
        }
    }
    return seen ? ok : 2;
}

int gd_refresh_outdated(const json_t *asg, const json_t *inst)
{
    json_t *rf = json_object_get(json_object_get(asg, "status"), "refresh");
    if (!rf || !active(gd_jstr(rf, "status"))) return 0;
    int v = (int)gd_jnum(json_object_get(inst, "status"), "lt_version", 1);
    /* Rolling back, the instances of the version it started from are already right. */
    if (!strcmp(gd_jstr(rf, "status"), "RollbackInProgress") &&
        v == (int)gd_jnum(rf, "from_version", -1))
        return 0;
    return v != (int)gd_jnum(rf, "to_version", 0);
}

int gd_refresh_start(gd_game *g, json_t *asg, const json_t *body, char *err, size_t n)
{
    int team = (int)json_integer_value(json_object_get(asg, "team"));
    json_t *spec = json_object_get(asg, "spec");
    if (gd_refresh_active(asg)) {
        snprintf(err, n, "an instance refresh of '%s' is already in progress (%s)",
                 gd_jstr(asg, "name"),
                 gd_jstr(json_object_get(json_object_get(asg, "status"), "refresh"), "id"));
        return 409;
    }
    json_t *warm = json_object_get(body, "instance_warmup");
    double warmup = 30;
    if (warm &&
        (!json_is_number(warm) || json_number_value(warm) < 0 || json_number_value(warm) > 3600)) {
        snprintf(err, n, "instance_warmup: game seconds from 0 to 3600");
        return 400;
    }
    if (warm) warmup = json_number_value(warm);
    json_t *rb = json_object_get(body, "auto_rollback");
    if (rb && !json_is_boolean(rb)) {
        snprintf(err, n, "auto_rollback: true or false");
        return 400;
    }
    /* How many may be out of service, and how many extra may run: AWS's
     * MinHealthyPercentage and MaxHealthyPercentage (default here: 100 and 110, one new
     * instance at a time before an old one goes). */
    static const struct {
        const char *key;
        double lo, hi, def;
    } prefs[] = {{"min_healthy_percentage", 0, 100, 100},
                 {"max_healthy_percentage", 100, 200, 110},
                 {"checkpoint_delay", 0, 172800, 3600}};
    double pv[3];
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(body, prefs[i].key);
        if (v && (!json_is_number(v) || json_number_value(v) < prefs[i].lo ||
                  json_number_value(v) > prefs[i].hi)) {
            snprintf(err, n, "%s: from %.0f to %.0f", prefs[i].key, prefs[i].lo, prefs[i].hi);
            return 400;
        }
        pv[i] = v ? json_number_value(v) : prefs[i].def;
    }
    if (pv[0] >= 100 && pv[1] <= 100) {
        snprintf(err, n,
                 "min_healthy_percentage and max_healthy_percentage: not both 100 (the refresh "
                 "could neither launch before nor terminate before it replaces)");
        return 400;
    }
    json_t *cps = json_object_get(body, "checkpoint_percentages");
    size_t ci;
    json_t *cv;
    double last = 0;
    int cps_ok = !cps || (json_is_array(cps) && json_array_size(cps) <= 10);
    json_array_foreach(cps, ci, cv)
    {
        cps_ok &=
            json_is_integer(cv) && json_integer_value(cv) > last && json_integer_value(cv) <= 100;
        if (json_is_integer(cv)) last = (double)json_integer_value(cv);
    }
    if (!cps_ok) {
        snprintf(err, n, "checkpoint_percentages: up to 10 integers from 1 to 100, ascending");
        return 400;
    }
    json_t *lt =
        gd_store_res_live(g->db, team, gd_jstr(spec, "launch_template"), "launch_template");
    if (!lt) {
        snprintf(err, n, "the group's launch template '%s' is gone",
                 gd_jstr(spec, "launch_template"));
        return 409;
    }
    json_t *lst = json_object_get(lt, "status");
    int to = (int)gd_jnum(lst, "version", 1);
    /* The version to go back to: the one the group's instances run now (the oldest
     * launched of them), whose spec the template kept. */
    int from = (int)gd_jnum(lst, "previous_version", 0);
    json_t *rf =
        json_pack("{s:s,s:s,s:f,s:i,s:i,s:f,s:b,s:i,s:i,s:i,s:s}", "id", "", "status", "InProgress",
                  "started", gd_game_now(g), "to_version", to, "from_version", from,
                  "instance_warmup", warmup, "auto_rollback", json_is_true(rb), "replaced", 0,
                  "launched", 0, "min_healthy_percentage", (int)pv[0], "reason", "");
    json_object_set_new(rf, "max_healthy_percentage", json_integer((int)pv[1]));
    json_object_set_new(rf, "checkpoint_delay", json_real(pv[2]));
    json_object_set_new(rf, "checkpoint_percentages", cps ? json_deep_copy(cps) : json_array());
    json_object_set_new(rf, "checkpoint_index", json_integer(0));
    char id[48];
    snprintf(id, sizeof id, "ir-%s-%d-%.0f", gd_jstr(asg, "name"), to, gd_game_now(g));
    json_object_set_new(rf, "id", json_string(id));
    if (from > 0) json_object_set(rf, "from_spec", json_object_get(lst, "previous_spec"));
    set_refresh(g, asg, rf);
    json_decref(rf);
    char what[200];
    snprintf(what, sizeof what, "Instance refresh %s started: to launch template version %d", id,
             to);
    gd_asg_activity(g, gd_jstr(asg, "id"), what,
                    "StartInstanceRefresh: replace, one at a time, every instance launched from "
                    "another version");
    gd_info("refresh_started", "team=%d asg=%s id=%s to=%d", team, gd_jstr(asg, "name"), id, to);
    json_decref(lt);
    return 200;
}

int gd_refresh_cancel(gd_game *g, json_t *asg, char *err, size_t n)
{
    if (!gd_refresh_active(asg)) {
        snprintf(err, n, "no instance refresh of '%s' is in progress", gd_jstr(asg, "name"));
        return 409;
    }
    json_t *rf = json_deep_copy(json_object_get(json_object_get(asg, "status"), "refresh"));
    json_object_set_new(rf, "status", json_string("Cancelled"));
    json_object_set_new(rf, "ended", json_real(gd_game_now(g)));
    json_object_set_new(rf, "reason", json_string("cancelled by the team"));
    set_refresh(g, asg, rf);
    json_decref(rf);
    gd_asg_activity(g, gd_jstr(asg, "id"), "Instance refresh cancelled", "CancelInstanceRefresh");
    return 200;
}

static void finish(gd_game *g, json_t *asg, json_t *rf, const char *status, const char *reason)
{
    json_object_set_new(rf, "status", json_string(status));
    json_object_set_new(rf, "ended", json_real(gd_game_now(g)));
    json_object_set_new(rf, "reason", json_string(reason));
    json_object_set_new(rf, "percentage_complete", json_integer(100));
    set_refresh(g, asg, rf);
    char what[200];
    snprintf(what, sizeof what, "Instance refresh %s: %s", gd_jstr(rf, "id"), status);
    gd_asg_activity(g, gd_jstr(asg, "id"), what, reason);
    gd_info("refresh_ended", "asg=%s id=%s status=%s reason=%s", gd_jstr(asg, "name"),
            gd_jstr(rf, "id"), status, gd_log_q(reason));
}

int gd_refresh_step(gd_game *g, json_t *asg, json_t *mine, int desired)
{
    if (!gd_refresh_active(asg)) return desired;
    int team = (int)json_integer_value(json_object_get(asg, "team"));
    json_t *rf = json_deep_copy(json_object_get(json_object_get(asg, "status"), "refresh"));
    int to = (int)gd_jnum(rf, "to_version", 0);
    double warmup = gd_jnum(rf, "instance_warmup", 30), now = gd_game_now(g);
    /* A new instance fails the refresh only when its load balancers find it out of
     * service past the group's health check grace period (or the warm-up, if longer):
     * before that it may just not have passed its first checks yet. */
    double grace = gd_jnum(json_object_get(asg, "spec"), "health_check_grace", 300);
    if (grace < warmup) grace = warmup;
    int old = 0, warming = 0, failed = 0, newer = 0;
    const char *bad_id = NULL;
    size_t i;
    json_t *m;
    json_t *seen = json_object_get(rf, "new_ids");
    if (!json_is_array(seen)) {
        seen = json_array();
        json_object_set_new(rf, "new_ids", seen);
    }
    json_array_foreach(mine, i, m)
    {
        json_t *st = json_object_get(m, "status");
        if (gd_refresh_outdated(asg, m)) {
            old++;
            continue;
        }
        newer++;
        if ((int)gd_jnum(st, "lt_version", 1) == to && !in_list(seen, gd_jstr(m, "id")))
            json_array_append_new(seen, json_string(gd_jstr(m, "id")));
        if (gd_inst_state_of(st) != GD_INST_RUNNING) {
            warming++;
            continue;
        }
        int s = in_service(g, gd_jstr(m, "id"));
        if (s < 0 && now >= gd_jnum(st, "running_at", now) + grace) {
            failed++;
            bad_id = gd_jstr(m, "id");
        } else if (s == 0 || s < 0 || now < gd_jnum(st, "running_at", now) + warmup) {
            warming++;
        }
    }
    int total = old + newer;
    json_object_set_new(rf, "instances_to_update", json_integer(old));
    json_object_set_new(rf, "percentage_complete",
                        json_integer(total ? (int)floor(100.0 * (total - old) / total) : 100));
    /* New instances that keep failing (dying before they serve) fail it too. */
    int launched = (int)json_array_size(seen);
    /* One of the new version that is no longer a member was lost: the group replaced it
     * (its load balancers' health checks) or it died. */
    size_t si;
    json_t *sid;
    json_array_foreach(seen, si, sid)
    {
        int here = 0;
        json_array_foreach(mine, i, m) here |= !strcmp(gd_jstr(m, "id"), json_string_value(sid));
        if (!here && !failed) {
            failed = 1;
            bad_id = json_string_value(sid);
        }
    }
    json_object_set_new(rf, "launched", json_integer(launched));
    if (!failed && launched > 2 * (int)json_array_size(mine) + 2) {
        failed = 1;
        bad_id = "(instances of the new version keep failing)";
    }
    const char *st = gd_jstr(rf, "status");
    if (failed && !strcmp(st, "InProgress")) {
        char why[300];
        if (bad_id && bad_id[0] == '(')
            snprintf(why, sizeof why,
                     "instances of launch template version %d keep failing their health checks "
                     "(%d launched)",
                     to, launched);
        else
            snprintf(why, sizeof why,
                     "instance %s of launch template version %d failed its health checks", bad_id,
                     to);
        json_t *from_spec = json_object_get(rf, "from_spec");
        if (json_is_true(json_object_get(rf, "auto_rollback")) && from_spec) {
            /* Back to the spec the refresh started from, as a new version of the
             * template, then replace the new instances with it. */
            json_t *spec = json_object_get(asg, "spec");
            gd_actor who = {.team = team, .principal = "autoscaling", .trust = GD_TRUST_GAME};
            gd_op_result res;
            json_t *body = json_pack("{s:O}", "spec", from_spec);
            int r = gd_op_update_as(g, &who, "RollbackInstanceRefresh",
                                    gd_jstr(spec, "launch_template"), body, &res);
            json_decref(body);
            int back = r == 0 ? (int)gd_jnum(json_object_get(res.body, "status"), "version", 0) : 0;
            gd_op_result_free(&res);
            if (back > 0) {
                json_object_set_new(rf, "status", json_string("RollbackInProgress"));
                json_object_set_new(rf, "to_version", json_integer(back));
                json_object_set_new(rf, "rolled_back_from", json_integer(to));
                json_object_set_new(rf, "reason", json_string(why));
                json_object_set_new(rf, "failure", json_string(why));
                json_object_set_new(rf, "new_ids", json_array());
                set_refresh(g, asg, rf);
                gd_asg_activity(g, gd_jstr(asg, "id"), "Instance refresh rolling back", why);
                gd_info("refresh_rollback", "asg=%s id=%s to=%d", gd_jstr(asg, "name"),
                        gd_jstr(rf, "id"), back);
                json_decref(rf);
                return desired;
            }
        }
        finish(g, asg, rf, "Failed", why);
        json_decref(rf);
        return desired;
    }
    if (failed) { /* the rollback's own instances fail: stop there */
        finish(g, asg, rf, "RollbackFailed", "the rolled-back version fails its health checks too");
        json_decref(rf);
        return desired;
    }
    if (old == 0) {
        int rolled = !strcmp(st, "RollbackInProgress");
        char why[600];
        if (rolled)
            snprintf(why, sizeof why,
                     "rolled back: %s; every instance runs launch template "
                     "version %d",
                     gd_jstr(rf, "failure"), to);
        else
            snprintf(why, sizeof why, "every instance runs launch template version %d", to);
        finish(g, asg, rf, rolled ? "RollbackSuccessful" : "Successful", why);
        json_decref(rf);
        return desired;
    }
    int have = (int)json_array_size(mine), want = desired;
    /* A checkpoint: once the share replaced reaches it, no more replacing for its
     * delay (those warming up still finish). */
    json_t *cps = json_object_get(rf, "checkpoint_percentages");
    int ck = (int)gd_jnum(rf, "checkpoint_index", 0);
    int pct = (int)gd_jnum(rf, "percentage_complete", 0);
    if (ck < (int)json_array_size(cps) && pct >= json_integer_value(json_array_get(cps, ck))) {
        if (!json_object_get(rf, "checkpoint_until")) {
            double until = now + gd_jnum(rf, "checkpoint_delay", 3600);
            char why[160];
            snprintf(why, sizeof why, "waiting at checkpoint %d%% (%d%% complete) for %.0f s",
                     (int)json_integer_value(json_array_get(cps, ck)), pct,
                     gd_jnum(rf, "checkpoint_delay", 3600));
            json_object_set_new(rf, "checkpoint_until", json_real(until));
            json_object_set_new(rf, "reason", json_string(why));
            gd_asg_activity(g, gd_jstr(asg, "id"), "Instance refresh at a checkpoint", why);
            gd_info("refresh_checkpoint", "asg=%s id=%s pct=%d", gd_jstr(asg, "name"),
                    gd_jstr(rf, "id"), pct);
        }
        if (now < gd_jnum(rf, "checkpoint_until", 0)) {
            set_refresh(g, asg, rf);
            json_decref(rf);
            return have > desired ? have : desired;
        }
        json_object_del(rf, "checkpoint_until");
        json_object_set_new(rf, "checkpoint_index", json_integer(ck + 1));
        json_object_set_new(rf, "reason", json_string(""));
    }
    /* Launch before terminate, a batch within max_healthy_percentage; or, at 100,
     * terminate before launch, a batch within min_healthy_percentage. */
    int maxp = (int)gd_jnum(rf, "max_healthy_percentage", 110);
    int minp = (int)gd_jnum(rf, "min_healthy_percentage", 100);
    int up = maxp > 100 ? desired * (maxp - 100) / 100 : 0;
    if (maxp > 100 && up < 1) up = 1;
    int down = maxp > 100 ? 0 : desired - (desired * minp + 99) / 100;
    if (maxp <= 100 && down < 1) down = 1;
    if (up > old) up = old;
    if (down > old) down = old;
    if (warming > 0)
        want = have > desired ? have : desired; /* hold until the new ones serve */
    else if (up > 0)
        want = have <= desired ? desired + up : desired; /* launch a batch, then retire */
    else
        want = have >= desired ? desired - down : desired; /* retire a batch, then launch */
    set_refresh(g, asg, rf);
    json_decref(rf);
    return want;
}
