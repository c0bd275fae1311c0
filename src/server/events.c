/* Scenario events: CEO messages and changes, and chaos, fired at their game time. Each
 * acts through the operations layer as a player would, under its own principal, so it
 * is checked, audited and refused by a team's protections the same way. Random choices
 * come from the scenario's seed and the event's index: every team loses its instance of
 * the same rank (model/chaos.h). */
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "model/chaos.h"
#include "model/state.h"
#include "server/game_int.h"
#include "server/launcher_int.h"
#include "server/monkey.h"
#include "server/ops.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chaos acts through the operations layer, as a player would, under its own
 * principal: checked and audited the same way. The error code ("" when it was done)
 * goes to code. */
static void chaos_op(gd_game *g, int team, const char *principal, const char *action,
                     const char *target, const json_t *body, char *code, size_t n)
{
    gd_actor who = {.team = team, .principal = principal, .trust = GD_TRUST_GAME};
    gd_op_result r;
    gd_op_action(g, &who, action, target, body, &r);
    if (r.code)
        gd_warn("chaos_refused", "team=%d action=%s target=%s code=%s", team, action, target,
                r.code);
    snprintf(code, n, "%s", r.code ? r.code : "");
    gd_op_result_free(&r);
}

/* ": message", or "" when the event has none. */
static const char *sep(const gd_event *ev)
{
    return ev->message ? ": " : "";
}

static const char *msg(const gd_event *ev)
{
    return ev->message ? ev->message : "";
}

/* terminate_random: `count` running instances of the group (or of the team when the
 * target is no asg), by rank in launch order, with the event's own generator: the same
 * ranks in every team. */
static void terminate_random(gd_game *g, const gd_event *ev, const char *principal,
                             const json_t *force)
{
    const char *asg = ev->target && !strncmp(ev->target, "asg/", 4) ? ev->target + 4 : NULL;
    /* An event of the scenario is drawn by its index; the instructor's own, by its time. */
    uintptr_t at = (uintptr_t)ev, first = (uintptr_t)g->sc->events;
    uint64_t index = at >= first && at < first + (uintptr_t)g->sc->nevents * sizeof *ev
                         ? (uint64_t)((at - first) / sizeof *ev)
                         : 1000000u + (uint64_t)(ev->at * 1000);
    json_t *inst = gd_store_res_list(g->db, 0, "instance", 0);
    for (int t = 1; t <= g->nteams; t++) {
        json_t *cand = gd_chaos_candidates(inst, t, asg);
        gd_rand rnd;
        gd_chaos_rand(&rnd, g->sc->seed, "event", "", index);
        for (int k = 0; k < ev->count && json_array_size(cand) > 0; k++) {
            size_t n = json_array_size(cand);
            size_t rank = (size_t)gd_chaos_rank(gd_rand_u64(&rnd), n);
            char id[48], code[64], reason[700];
            snprintf(id, sizeof id, "%s", gd_jstr(json_array_get(cand, rank), "id"));
            chaos_op(g, t, principal, "terminate", id, force, code, sizeof code);
            if (!*code)
                snprintf(reason, sizeof reason, "terminated %s (rank %zu of %zu in %s)%s%s", id,
                         rank + 1, n, ev->target, sep(ev), msg(ev));
            else
                snprintf(reason, sizeof reason,
                         "could not terminate %s (rank %zu of %zu in %s): %s", id, rank + 1, n,
                         ev->target, code);
            gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
            json_array_remove(cand, rank);
        }
        json_decref(cand);
    }
    json_decref(inst);
}

/* "the CEO's" for the CEO, "<principal>'s" for anyone else. */
static const char *whose(const char *principal, char *buf, size_t n)
{
    if (!strcmp(principal, "ceo"))
        snprintf(buf, n, "the CEO's");
    else
        snprintf(buf, n, "%s's", principal);
    return buf;
}

/* update and detach_target_group: the CEO's change to one resource of a team, as an
 * UpdateResource. A refusal by the team's protections costs ceo.refusal_penalty. */
static void ceo_change(gd_game *g, const gd_event *ev, int team, const char *principal)
{
    char type[64], line[900], who_s[80];
    const char *slash = strchr(ev->target, '/');
    snprintf(type, sizeof type, "%.*s", (int)(slash - ev->target), ev->target);
    const char *name = slash + 1;
    double now = gd_game_now(g);
    whose(principal, who_s, sizeof who_s);
    json_t *res = gd_store_res_live(g->db, team, name, type);
    if (!res) {
        snprintf(line, sizeof line, "%s change to %s was not made: the team has no %s '%s'%s%s",
                 who_s, ev->target, type, name, sep(ev), msg(ev));
        gd_store_ledger_add(g->db, now, team, principal, 0, line);
        gd_chaos_count(g, team, principal, GD_CHAOS_SKIPPED);
        return;
    }
    json_t *spec = json_object_get(res, "spec"), *patch;
    if (ev->patch) {
        patch = json_deep_copy(ev->patch);
        gd_scenario_patch_fit(type, spec, patch);
    } else { /* detach_target_group */
        json_t *tgs = json_array();
        size_t i;
        json_t *v;
        int had = 0;
        json_array_foreach(json_object_get(spec, "target_groups"), i, v)
        {
            if (!strcmp(json_string_value(v), ev->group))
                had = 1;
            else
                json_array_append(tgs, v);
        }
        if (!had) {
            snprintf(line, sizeof line,
                     "%s change to %s was not made: it is not in target group '%s'%s%s", who_s,
                     ev->target, ev->group, sep(ev), msg(ev));
            gd_store_ledger_add(g->db, now, team, principal, 0, line);
            gd_chaos_count(g, team, principal, GD_CHAOS_SKIPPED);
            json_decref(tgs);
            json_decref(res);
            return;
        }
        patch = json_pack("{s:o}", "target_groups", tgs);
    }
    char *what = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *body = json_pack("{s:o}", "spec", patch);
    gd_actor who = {.team = team, .principal = principal, .trust = GD_TRUST_GAME};
    gd_op_result r;
    gd_op_update(g, &who, gd_jstr(res, "id"), body, &r);
    json_decref(body);
    json_decref(res);
    double points = 0;
    if (!r.code) {
        snprintf(line, sizeof line, "%s change to %s was applied (%.300s)%s%s", who_s, ev->target,
                 what ? what : "", sep(ev), msg(ev));
        gd_info("ceo_change", "team=%d principal=%s target=%s", team, principal, ev->target);
        gd_chaos_count(g, team, principal, GD_CHAOS_DONE);
    } else if (gd_chaos_refused(r.code)) {
        points = g->sc->ceo.refusal_penalty > 0 ? -g->sc->ceo.refusal_penalty : 0;
        snprintf(line, sizeof line, "%s change to %s was refused: %s", who_s, ev->target, r.code);
        gd_warn("ceo_refused", "team=%d principal=%s target=%s code=%s penalty=%g", team, principal,
                ev->target, r.code, -points);
        gd_chaos_count(g, team, principal, GD_CHAOS_REFUSED);
    } else {
        snprintf(line, sizeof line, "%s change to %s failed: %s: %.400s", who_s, ev->target, r.code,
                 r.message);
        gd_warn("ceo_failed", "team=%d principal=%s target=%s code=%s msg=%s", team, principal,
                ev->target, r.code, gd_log_q(r.message));
        gd_chaos_count(g, team, principal, GD_CHAOS_FAILED);
    }
    gd_store_ledger_add(g->db, now, team, principal, points, line);
    free(what);
    gd_op_result_free(&r);
}

/* start_experiment: the team's experiment_template of that name starts, through the
 * operations layer's StartExperiment (audited, refused as for a player's call). A team
 * that deleted its template is told so in its event stream; nothing else happens. */
static void start_experiment(gd_game *g, const gd_event *ev, int team, const char *principal)
{
    char line[700];
    double now = gd_game_now(g);
    json_t *tmpl = gd_store_res_live(g->db, team, ev->template, "experiment_template");
    if (!tmpl) {
        snprintf(line, sizeof line,
                 "no experiment started: the team has no experiment_template '%s'%s%s",
                 ev->template, sep(ev), msg(ev));
        gd_store_ledger_add(g->db, now, team, principal, 0, line);
        gd_info("experiment_event_skip", "team=%d template=%s reason=no-template", team,
                ev->template);
        return;
    }
    json_decref(tmpl);
    gd_actor who = {.team = team, .principal = principal, .trust = GD_TRUST_GAME};
    gd_op_result r;
    gd_op_action(g, &who, "start_experiment", ev->template, NULL, &r);
    /* A started experiment has its own line (ops.c); the event's message goes with it. */
    if (r.code) {
        snprintf(line, sizeof line, "experiment template %s was not started: %s: %.400s",
                 ev->template, r.code, r.message);
        gd_warn("experiment_event_failed", "team=%d template=%s code=%s msg=%s", team, ev->template,
                r.code, gd_log_q(r.message));
        gd_store_ledger_add(g->db, now, team, principal, 0, line);
    } else if (ev->message) {
        gd_store_ledger_add(g->db, now, team, principal, 0, ev->message);
    }
    gd_op_result_free(&r);
}

/* az_outage: the zone is down for `for`: every instance in it is lost (a physical
 * loss: no protection stops it), nothing launches there, and a load balancer with no
 * subnet elsewhere goes with it (edgepush). */
static void az_outage(gd_game *g, const gd_event *ev, const char *principal)
{
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
            if ((s == GD_INST_RUNNING || s == GD_INST_PENDING) && !strcmp(gd_jstr(st, "az"), az)) {
                gd_actor who = {
                    .team = t, .principal = principal, .trust = GD_TRUST_GAME, .physical = 1};
                gd_op_result res;
                gd_op_terminate(g, &who, gd_jstr(r, "id"), 1, "availability zone outage", &res);
                gd_op_result_free(&res);
                lost++;
            }
        }
        json_decref(inst);
        char reason[700];
        snprintf(reason, sizeof reason,
                 "availability zone %s is down until %s: %d instance%s lost%s%s", az, hms, lost,
                 lost == 1 ? "" : "s", ev->message ? ". " : "", msg(ev));
        gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
    }
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
        az_outage(g, ev, principal);
    } else if (!strcmp(ev->action, "terminate_random")) {
        terminate_random(g, ev, principal, force);
    } else {
        for (int t = 1; t <= g->nteams; t++) {
            char reason[700], code[64];
            const char *slash = ev->target ? strchr(ev->target, '/') : NULL;
            const char *name = slash ? slash + 1 : ev->target ? ev->target : "";
            if (!strcmp(ev->action, "message")) {
                gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, msg(ev));
            } else if (!strcmp(ev->action, "update") ||
                       !strcmp(ev->action, "detach_target_group")) {
                ceo_change(g, ev, t, principal);
            } else if (!strcmp(ev->action, "start_experiment")) {
                start_experiment(g, ev, t, principal);
            } else if (!strcmp(ev->action, "terminate")) {
                chaos_op(g, t, principal, "terminate", name, force, code, sizeof code);
                if (*code)
                    snprintf(reason, sizeof reason, "could not terminate %s: %s", name, code);
                else
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
                    chaos_op(g, t, principal, "scale", name, b, code, sizeof code);
                    json_decref(b);
                    if (*code)
                        snprintf(reason, sizeof reason, "could not set %s desired to %d: %s", name,
                                 ev->count, code);
                    else
                        snprintf(reason, sizeof reason, "set %s desired to %d", name, ev->count);
                    gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
                }
                json_decref(asg);
            }
        }
    }
    json_decref(force);
}
