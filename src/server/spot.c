/* Spot instances: interrupted at times drawn from the scenario's seed (the same for
 * every team), each after a notice, as EC2 gives a two-minute warning. The victim of an
 * interruption is, in every team, its oldest running spot instance not already under
 * notice: teams that run the same fleet lose the same instance. */
#include "core/clock.h"
#include "core/log.h"
#include "model/state.h"
#include "server/launcher_int.h"
#include "server/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int is_spot(json_t *r)
{
    return !strcmp(gd_jstr(json_object_get(r, "status"), "market"), "spot");
}

/* Gives team t's notice for the interruption at `at`; 0 when it runs no spot instance. */
static int notify(gd_game *g, json_t *instances, int team, double at, double now)
{
    json_t *victim = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        if ((int)json_integer_value(json_object_get(r, "team")) != team || !is_spot(r) ||
            gd_inst_state_of(st) != GD_INST_RUNNING || json_object_get(st, "interruption_at"))
            continue;
        json_t *vs = victim ? json_object_get(victim, "status") : NULL;
        double t = gd_jnum(st, "launched_at", 0), vt = vs ? gd_jnum(vs, "launched_at", 0) : 0;
        if (!victim || t < vt || (t == vt && strcmp(gd_jstr(r, "id"), gd_jstr(victim, "id")) < 0))
            victim = r;
    }
    if (!victim) return 0;
    const char *id = gd_jstr(victim, "id");
    gd_launcher_set_status(g, id, json_pack("{s:f,s:f}", "interruption_at", at, "notice_at", now));
    char when[32], line[256];
    gd_clock_hms(at, when, sizeof when);
    snprintf(line, sizeof line,
             "Spot interruption notice: %s (%s) will be terminated at %s: capacity is needed "
             "back",
             id, gd_jstr(victim, "name"), when);
    gd_store_ledger_add(g->db, now, team, "ec2-spot", 0, line);
    gd_game_audit(g, team, "ec2", NULL, "SpotInstanceInterruptionWarning",
                  json_pack("{s:s}", "instanceId", id),
                  json_pack("{s:s,s:f}", "instanceAction", "terminate", "time", at), NULL);
    gd_info("spot_notice", "team=%d id=%s at=%.0f", team, id, at);
    const char *asg = gd_jstr(json_object_get(victim, "status"), "asg");
    if (*asg) {
        json_t *a = gd_store_res_live(g->db, team, asg, "asg");
        if (a && json_is_true(json_object_get(json_object_get(a, "spec"), "capacity_rebalance")))
            gd_asg_activity(g, gd_jstr(a, "id"),
                            "Launching a new EC2 instance ahead of a Spot "
                            "interruption",
                            line);
        json_decref(a);
    }
    return 1;
}

void gd_spot_reconcile(gd_game *g, json_t *instances, double now)
{
    const gd_scenario *sc = g->sc;
    if (!g->spot_loaded) {
        /* After a restart: the generator walked up to the next one to notify (once). */
        g->spot_next = (int)gd_game_kv_num(g, "spot_next", 0);
        gd_spot_times_init(&g->spot_times, sc);
        g->spot_at = INFINITY;
        for (int k = 0; k <= g->spot_next && g->spot_times.t <= g->duration; k++)
            g->spot_at = gd_spot_times_next(&g->spot_times);
        g->spot_loaded = 1;
    }
    /* Notices due: each interruption once, for every team at the same game time. */
    for (int given = 0;
         g->spot_at - sc->spot.notice <= now && g->spot_at <= g->duration && given < 16; given++) {
        for (int t = 1; t <= g->nteams; t++) notify(g, instances, t, g->spot_at, now);
        g->spot_next++;
        gd_game_kv_setf(g, "spot_next", "%d", g->spot_next);
        g->spot_at = gd_spot_times_next(&g->spot_times);
    }
    /* Interruptions due. The list may predate this pass's notices: those are at least
     * a notice away. */
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        json_t *at = json_object_get(st, "interruption_at");
        if (!at || now < json_number_value(at) || !gd_inst_state_live(gd_inst_state_of(st)))
            continue;
        int team = (int)json_integer_value(json_object_get(r, "team"));
        /* A physical loss: no termination protection or deny policy stops it. */
        gd_actor who = {
            .team = team, .principal = "ec2-spot", .trust = GD_TRUST_GAME, .physical = 1};
        gd_op_result res;
        gd_op_terminate(g, &who, gd_jstr(r, "id"), 0, "spot interruption", &res);
        gd_op_result_free(&res);
    }
}
