/* Scenario events: CEO messages and chaos, fired at their game time. Chaos acts
 * through the operations layer as a player would, under its own principal, so it is
 * checked and audited the same way. */
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "model/state.h"
#include "server/game_int.h"
#include "server/launcher_int.h"
#include "server/ops.h"

#include <stdio.h>
#include <string.h>

/* Chaos acts through the operations layer, as a player would, under its own
 * principal: checked and audited the same way. */
static void chaos_op(gd_game *g, int team, const char *principal, const char *action,
                     const char *target, const json_t *body)
{
    gd_actor who = {.team = team, .principal = principal, .trust = GD_TRUST_GAME};
    gd_op_result r;
    gd_op_action(g, &who, action, target, body, &r);
    if (r.code)
        gd_warn("chaos_refused", "team=%d action=%s target=%s code=%s", team, action, target,
                r.code);
    gd_op_result_free(&r);
}

void gd_events_fire(gd_game *g, const gd_event *ev)
{
    json_t *force = json_pack("{s:b}", "force", 1);
    const char *principal = ev->principal ? ev->principal : "chaos-monkey";
    gd_info("scenario_event", "action=%s target=%s principal=%s", ev->action,
            ev->target ? ev->target : "-", principal);
    if (ev->message) {
        snprintf(g->message, sizeof g->message, "%s", ev->message);
        gd_store_kv_set(g->db, "message", g->message);
    }
    if (!strcmp(ev->action, "az_outage")) {
        /* The zone is down for `for`: every instance in it is lost, nothing launches
         * there, and a load balancer with no subnet elsewhere goes with it (edgepush). */
        const char *az = ev->target + 3;
        double until = gd_game_now(g) + ev->for_s;
        char hms[32];
        gd_az_set_down(g, az, until);
        gd_clock_hms(until, hms, sizeof hms);
        gd_warn("az_outage", "az=%s until=%.0f", az, until);
        for (int t = 1; t <= g->nteams; t++) {
            json_t *inst = gd_store_res_list(g->db, t, "instance", 0);
            size_t i;
            json_t *r;
            int lost = 0;
            json_array_foreach(inst, i, r)
            {
                json_t *st = json_object_get(r, "status");
                gd_inst_state s = gd_inst_state_of(st);
                if ((s == GD_INST_RUNNING || s == GD_INST_PENDING) &&
                    !strcmp(gd_jstr(st, "az"), az)) {
                    chaos_op(g, t, principal, "terminate", gd_jstr(r, "id"), force);
                    lost++;
                }
            }
            json_decref(inst);
            char reason[700];
            snprintf(reason, sizeof reason,
                     "availability zone %s is down until %s: %d instance%s lost%s%s", az, hms, lost,
                     lost == 1 ? "" : "s", ev->message ? ". " : "", ev->message ? ev->message : "");
            gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
        }
        json_decref(force);
        return;
    }
    for (int t = 1; t <= g->nteams; t++) {
        char reason[600];
        if (!strcmp(ev->action, "message")) {
            snprintf(reason, sizeof reason, "%s", ev->message ? ev->message : "");
            gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
            continue;
        }
        const char *slash = ev->target ? strchr(ev->target, '/') : NULL;
        const char *name = slash ? slash + 1 : ev->target ? ev->target : "";
        if (!strcmp(ev->action, "terminate_random")) {
            /* Running instances of the group (or of the team when the target is "instances"). */
            json_t *inst = gd_store_res_list(g->db, t, "instance", 0);
            json_t *cand = json_array();
            size_t i;
            json_t *r;
            json_array_foreach(inst, i, r)
            {
                json_t *st = json_object_get(r, "status");
                if (gd_inst_state_of(st) != GD_INST_RUNNING) continue;
                if (slash && !strncmp(ev->target, "asg/", 4) &&
                    strcmp(gd_jstr(st, "asg"), name) != 0)
                    continue;
                json_array_append(cand, r);
            }
            for (int k = 0; k < ev->count && json_array_size(cand) > 0; k++) {
                size_t pick = (size_t)(gd_rand_u64(&g->rnd) % json_array_size(cand));
                const char *id = gd_jstr(json_array_get(cand, pick), "id");
                chaos_op(g, t, principal, "terminate", id, force);
                snprintf(reason, sizeof reason, "terminated %s%s%s", id, ev->message ? ": " : "",
                         ev->message ? ev->message : "");
                gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
                json_array_remove(cand, pick);
            }
            json_decref(cand);
            json_decref(inst);
        } else if (!strcmp(ev->action, "terminate")) {
            chaos_op(g, t, principal, "terminate", name, force);
            snprintf(reason, sizeof reason, "terminated %s", name);
            gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
        } else if (!strcmp(ev->action, "scale")) {
            json_t *asg = gd_store_res_get(g->db, t, name);
            if (asg) {
                /* Like SetDesiredCapacity, the group's min..max bound the change. */
                json_t *spec = json_object_get(asg, "spec");
                json_int_t mn = json_integer_value(json_object_get(spec, "min"));
                json_int_t mx = json_integer_value(json_object_get(spec, "max"));
                json_int_t want = ev->count < mn ? mn : ev->count > mx ? mx : ev->count;
                json_t *b = json_pack("{s:I}", "desired", want);
                chaos_op(g, t, principal, "scale", name, b);
                json_decref(b);
                snprintf(reason, sizeof reason, "set %s desired to %d", name, ev->count);
                gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
            }
            json_decref(asg);
        }
    }
    json_decref(force);
}
