/* The autoscaler: each auto scaling group toward its desired count, spread over its
 * subnets; instances its load balancers find unhealthy replaced (health check type
 * ELB); scale-in deregisters and drains before it terminates. It acts through the
 * operations layer under the principal "autoscaling", as a player would. It also
 * samples the fleet's own metrics (CPU, group sizes) that scaling policies watch. */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/launcher_int.h"
#include "server/refresh.h"
#include "server/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 once no edge can still send to the instance or have a request in flight on it:
 * every edge has accepted a document without it and answered /stats since, and those
 * stats list it nowhere (an edge forgets a deregistered target when it is drained). */
int gd_target_drained(gd_game *g, const char *id)
{
    char quoted[48];
    snprintf(quoted, sizeof quoted, "\"%s\"", id);
    for (gd_edge_link *e = g->edges; e; e = e->next) {
        /* An edge with no accepted document yet (just spawned, or a restarted server
         * that has not pushed again) may still have the target. */
        if (!e->pushed || strstr(e->pushed, quoted)) return 0;
        if (e->stats_from <= e->pushed_at) return 0;
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(e->stats, "targets"), i,
                           t) if (!strcmp(gd_jstr(t, "id"), id)) return 0;
    }
    return 1;
}

/* The longest deregistration delay of the load balancers and target groups an asg
 * registers its instances with (clb: connection_draining), game seconds; 0 when none. */
/* The autoscaler as an actor: the game's own, under the principal "autoscaling". */
static gd_actor autoscaling(int team)
{
    return (gd_actor){.team = team, .principal = "autoscaling", .trust = GD_TRUST_GAME};
}

/* Terminates through the operations layer; the outcome is in the audit trail. */
static void terminate(gd_game *g, int team, const char *id, const char *reason)
{
    gd_actor who = autoscaling(team);
    gd_op_result r;
    gd_op_terminate(g, &who, id, 0, reason, &r);
    gd_op_result_free(&r);
}

void gd_asg_activity(gd_game *g, const char *asg_id, const char *description, const char *cause)
{
    json_t *r = gd_store_res_get(g->db, 0, asg_id);
    if (!r) return;
    json_t *old = json_object_get(json_object_get(r, "status"), "activities");
    json_t *a = json_array();
    size_t n = json_array_size(old), from = n >= GD_ASG_ACTIVITIES ? n - GD_ASG_ACTIVITIES + 1 : 0;
    for (size_t i = from; i < n; i++) json_array_append(a, json_array_get(old, i));
    json_array_append_new(a, json_pack("{s:f,s:s,s:s}", "time", gd_game_now(g), "description",
                                       description, "cause", cause));
    json_decref(r);
    gd_launcher_set_status(g, asg_id, json_pack("{s:o}", "activities", a));
}

/* The availability zone of an instance (its subnet's), "" when unknown. */
static const char *az_of(json_t *m)
{
    return gd_jstr(json_object_get(m, "status"), "az");
}

/* AWS's default termination policy, for one instance to go on scale-in: of the
 * members not protected from scale-in and not chosen yet, those in the availability
 * zone with the most members; of those, the ones of another launch template or type
 * than the group's now; of those, the newest (billing is per second, so AWS's "closest
 * to the next billing hour" does not tell them apart: the newest has served least).
 * -1 when every member left is protected. */
static int scale_in_victim(json_t *mine, const json_t *asg, const char *lt, const char *itype,
                           const char *chosen)
{
    /* Members left in each zone: one pass (a zone is one of a few names). */
    json_t *per_az = json_object();
    size_t n = json_array_size(mine), i;
    for (i = 0; i < n; i++) {
        const char *az = az_of(json_array_get(mine, i));
        if (!chosen[i])
            json_object_set_new(per_az, az,
                                json_integer(json_integer_value(json_object_get(per_az, az)) + 1));
    }
    int best = -1, best_az = -1, best_old = -1, best_out = -1;
    double best_t = -1e18;
    for (i = 0; i < n; i++) {
        json_t *m = json_array_get(mine, i), *ms = json_object_get(m, "spec");
        if (chosen[i] || json_is_true(json_object_get(ms, "protected_from_scale_in"))) continue;
        int in_az = (int)json_integer_value(json_object_get(per_az, az_of(m)));
        int old = strcmp(gd_jstr(ms, "launch_template"), lt) != 0 ||
                  (*itype && strcmp(gd_jstr(json_object_get(m, "status"), "instance_type"), itype));
        double t = gd_jnum(json_object_get(m, "status"), "launched_at", 0);
        /* An instance refresh in progress: the members it replaces go first. */
        int out = gd_refresh_outdated(asg, m);
        if (out > best_out ||
            (out == best_out &&
             (in_az > best_az ||
              (in_az == best_az && (old > best_old || (old == best_old && t > best_t)))))) {
            best = (int)i;
            best_out = out;
            best_az = in_az;
            best_old = old;
            best_t = t;
        }
    }
    json_decref(per_az);
    return best;
}

static double asg_drain_delay(gd_game *g, int team, json_t *spec)
{
    double d = 0;
    static const char *const fields[] = {"load_balancers", "target_groups"};
    for (int f = 0; f < 2; f++) {
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(spec, fields[f]), i, n)
        {
            json_t *r = gd_store_res_get(g->db, team, json_string_value(n));
            json_t *rs = json_object_get(r, "spec");
            double x = !strcmp(gd_jstr(r, "type"), "clb") ? gd_jnum(rs, "connection_draining", 300)
                       : !strcmp(gd_jstr(r, "type"), "cdn")
                           ? 0
                           : gd_jnum(rs, "deregistration_delay", 300);
            if (r && x > d) d = x;
            json_decref(r);
        }
    }
    return d;
}

void gd_autoscaler_reconcile(gd_game *g, json_t *asg, json_t *instances)
{
    int team = (int)json_integer_value(json_object_get(asg, "team"));
    const char *name = gd_jstr(asg, "name");
    json_t *spec = json_object_get(asg, "spec");
    int desired = (int)gd_jnum(spec, "desired", 0);
    json_t *mine = json_array();
    size_t i;
    json_t *r;
    double now = gd_game_now(g);
    json_array_foreach(instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        if ((int)json_integer_value(json_object_get(r, "team")) != team ||
            strcmp(gd_jstr(st, "asg"), name) != 0 || !gd_inst_state_live(gd_inst_state_of(st)))
            continue;
        if (json_object_get(st, "interruption_at") &&
            json_is_true(json_object_get(spec, "capacity_rebalance"))) {
            /* Capacity rebalancing: a spot instance under notice is replaced now, and
             * serves until its interruption. */
            continue;
        } else if (!gd_instance_leaving(r)) {
            json_array_append(mine, r);
        } else if (now >= gd_jnum(st, "drain_until", 0) || gd_target_drained(g, gd_jstr(r, "id"))) {
            /* Deregistered and drained: it goes now. Terminating asks for another
             * pass, with what is true then, so this group's stale view stops here. */
            terminate(g, team, gd_jstr(r, "id"), "scale-in");
            json_decref(mine);
            return;
        }
    }
    /* Health check type ELB: an instance its load balancers report out of service,
     * once past the grace period, is replaced (EC2: only a dead process is). */
    if (!strcmp(gd_jstr(spec, "health_check_type"), "ELB")) {
        double grace = gd_jnum(spec, "health_check_grace", 300);
        for (size_t k = json_array_size(mine); k-- > 0;) {
            json_t *m = json_array_get(mine, k);
            json_t *mst = json_object_get(m, "status");
            if (gd_inst_state_of(mst) != GD_INST_RUNNING ||
                now < gd_jnum(mst, "running_at", now) + grace)
                continue;
            /* Out of service in any group of any edge. A target that has failed
             * fewer than two checks (the least unhealthy threshold) is still
             * `initial`, as AWS has it: just registered, e.g. in a group it joined. An
             * InService target needs at least two failures to go out anyway. */
            int out = 0;
            for (gd_edge_link *e = g->edges; e; e = e->next) {
                size_t q;
                json_t *t;
                json_array_foreach(json_object_get(e->stats, "targets"), q, t)
                {
                    if (!strcmp(gd_jstr(t, "id"), gd_jstr(m, "id")) &&
                        !strcmp(gd_jstr(t, "state"), "OutOfService") &&
                        gd_jnum(t, "health_fail", 2) >= 2)
                        out = 1;
                }
            }
            if (out) {
                /* Terminating asks for another pass, this group included, with
                 * what is true then: the replacement and any other unhealthy member
                 * are handled there, so this group's stale view stops here. */
                char what[160];
                snprintf(what, sizeof what, "Terminating EC2 instance: %s", gd_jstr(m, "id"));
                gd_asg_activity(g, gd_jstr(asg, "id"), what,
                                "its load balancer found it unhealthy (health check type ELB)");
                terminate(g, team, gd_jstr(m, "id"), "ELB health check failed");
                json_decref(mine);
                return;
            }
        }
    }
    int have = (int)json_array_size(mine);
    desired = gd_refresh_step(g, asg, mine, desired);
    json_t *ast = json_object_get(asg, "status");
    if (have < desired && now >= gd_jnum(ast, "retry_at", 0)) {
        json_t *subnets = json_object_get(spec, "subnets");
        for (int k = have; k < desired; k++) {
            /* Spread over the group's subnets: the one with fewest of ours first. */
            const char *best = NULL;
            int best_n = 1 << 30;
            size_t si;
            json_t *sj;
            json_array_foreach(subnets, si, sj)
            {
                int cnt = 0;
                size_t mi;
                json_t *m;
                json_array_foreach(mine, mi, m) cnt +=
                    !strcmp(gd_jstr(json_object_get(m, "status"), "subnet"), json_string_value(sj));
                if (cnt < best_n) {
                    best_n = cnt;
                    best = json_string_value(sj);
                }
            }
            char id[40];
            gd_actor who = autoscaling(team);
            gd_op_result res;
            gd_launch l = {.launch_template = gd_jstr(spec, "launch_template"),
                           .subnet = best,
                           .asg = name,
                           .protect = json_is_true(
                               json_object_get(spec, "new_instances_protected_from_scale_in"))};
            int rc = gd_op_run_instance(g, &who, &l, id, &res);
            if (rc < 0 &&
                (!strcmp(res.code, "InsufficientFreeAddressesInSubnet") ||
                 !strcmp(res.code, "InsufficientInstanceCapacity")) &&
                json_array_size(subnets) > 1) {
                /* Try the other subnets before giving up. */
                json_array_foreach(subnets, si, sj)
                {
                    if (!strcmp(json_string_value(sj), best)) continue;
                    gd_op_result_free(&res);
                    l.subnet = json_string_value(sj);
                    rc = gd_op_run_instance(g, &who, &l, id, &res);
                    if (rc == 0) break;
                }
            }
            if (rc < 0) {
                gd_warn("asg_launch_failed", "team=%d asg=%s code=%s err=%s", team, name, res.code,
                        gd_log_q(res.message));
                gd_launcher_set_status(
                    g, gd_jstr(asg, "id"),
                    json_pack("{s:s,s:f}", "last_error", res.message, "retry_at", now + 30));
                gd_op_result_free(&res);
                break;
            }
            gd_op_result_free(&res);
            char what[160], why[200];
            snprintf(what, sizeof what, "Launching a new EC2 instance: %s in subnet %s", id,
                     l.subnet);
            snprintf(why, sizeof why,
                     "the desired capacity is %d and the group had %d live instance%s", desired, k,
                     k == 1 ? "" : "s");
            gd_asg_activity(g, gd_jstr(asg, "id"), what, why);
            json_t *inst = gd_store_res_get(g->db, team, id);
            if (inst) json_array_append_new(mine, inst);
            if (json_object_get(ast, "last_error"))
                gd_launcher_set_status(g, gd_jstr(asg, "id"),
                                       json_pack("{s:n,s:i}", "last_error", "retry_at", 0));
        }
    } else if (have > desired) {
        /* Scale in: the newest instances go first. One registered with load balancers
         * is deregistered first and terminated once its edges have drained it (no
         * request in flight) or its longest deregistration delay has passed, as EC2
         * Auto Scaling does; the others go at once. */
        double delay = asg_drain_delay(g, team, spec);
        char *chosen = gd_calloc((size_t)have, 1);
        json_t *lt =
            gd_store_res_live(g->db, team, gd_jstr(spec, "launch_template"), "launch_template");
        const char *itype = gd_jstr(json_object_get(lt, "spec"), "instance_type");
        for (int k = have - 1; k >= desired; k--) {
            int v = scale_in_victim(mine, asg, gd_jstr(spec, "launch_template"), itype, chosen);
            if (v < 0) {
                if (!json_object_get(ast, "scale_in_blocked"))
                    gd_launcher_set_status(
                        g, gd_jstr(asg, "id"),
                        json_pack("{s:s}", "scale_in_blocked",
                                  "every instance left is protected from scale-in"));
                break;
            }
            chosen[v] = 1;
            json_t *m = json_array_get(mine, (size_t)v);
            const char *mid = gd_jstr(m, "id");
            char what[160], why[200];
            snprintf(what, sizeof what, "Terminating EC2 instance: %s in zone %s", mid, az_of(m));
            snprintf(why, sizeof why,
                     "the desired capacity is %d and the group had %d: the default termination "
                     "policy chose it (zone with the most instances, then an older template or "
                     "type, then the newest)",
                     desired, have);
            gd_asg_activity(g, gd_jstr(asg, "id"), what, why);
            if (delay > 0 && gd_inst_state_of_res(m) == GD_INST_RUNNING) {
                gd_actor who = autoscaling(team);
                gd_op_result res;
                gd_op_deregister(g, &who, mid, name, delay, &res);
                gd_op_result_free(&res);
            } else {
                terminate(g, team, mid, "scale-in");
            }
        }
        json_decref(lt);
        gd_free(chosen);
    } else if (json_object_get(ast, "scale_in_blocked")) {
        gd_launcher_set_status(g, gd_jstr(asg, "id"), json_pack("{s:n}", "scale_in_blocked"));
    }
    json_decref(mine);
}

/* ---- the fleet's metrics ---- */

void gd_fleet_metrics(gd_game *g, json_t *asgs, json_t *instances, double now)
{
    uint64_t t = uv_now(g->loop);
    if (g->fleet_sampled_at && t < g->fleet_sampled_at + GD_METRIC_SAMPLE_MS) return;
    g->fleet_sampled_at = t; /* as often as the edges' stats */
    /* Busy slots as the load balancers see them: requests in flight to the instance
     * (an instance's slots serve only what its edges send it). The instance's CPU is
     * emulated this way: a request holds one slot for its service time. */
    json_t *inflight = json_object();
    for (gd_edge_link *e = g->edges; e; e = e->next) {
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(e->stats, "targets"), k, x)
        {
            const char *id = gd_jstr(x, "id");
            json_object_set_new(inflight, id,
                                json_real(gd_jnum(inflight, id, 0) + gd_jnum(x, "inflight", 0)));
        }
    }
    json_t *slots_of = json_object(), *sum = json_object(), *cnt = json_object();
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        if (gd_inst_state_of(st) != GD_INST_RUNNING) continue;
        int team = (int)json_integer_value(json_object_get(r, "team"));
        char key[96];
        snprintf(key, sizeof key, "%d/%s", team,
                 gd_jstr(json_object_get(r, "spec"), "launch_template"));
        if (!json_object_get(slots_of, key)) {
            json_t *lt = gd_store_res_live(g->db, team,
                                           gd_jstr(json_object_get(r, "spec"), "launch_template"),
                                           "launch_template");
            json_object_set_new(slots_of, key,
                                json_real(gd_jnum(json_object_get(lt, "spec"), "slots", 5)));
            json_decref(lt);
        }
        double slots = gd_jnum(st, "slots", gd_jnum(slots_of, key, 5)); /* by its type */
        double busy = gd_jnum(inflight, gd_jstr(r, "id"), 0);
        double cpu = 100.0 * (busy < slots ? busy : slots) / (slots > 0 ? slots : 1);
        gd_metrics_put(g->metrics, gd_jstr(r, "id"), "CPUUtilization", now, cpu);
        const char *asg = gd_jstr(st, "asg");
        if (!*asg || gd_instance_leaving(r)) continue;
        snprintf(key, sizeof key, "%d/%s", team, asg);
        json_object_set_new(sum, key, json_real(gd_jnum(sum, key, 0) + cpu));
        json_object_set_new(cnt, key, json_real(gd_jnum(cnt, key, 0) + 1));
    }
    json_array_foreach(asgs, i, r)
    {
        char key[96];
        snprintf(key, sizeof key, "%d/%s", (int)json_integer_value(json_object_get(r, "team")),
                 gd_jstr(r, "name"));
        double n = gd_jnum(cnt, key, 0);
        const char *id = gd_jstr(r, "id");
        if (n > 0) gd_metrics_put(g->metrics, id, "CPUUtilization", now, gd_jnum(sum, key, 0) / n);
        gd_metrics_put(g->metrics, id, "GroupDesiredCapacity", now,
                       gd_jnum(json_object_get(r, "spec"), "desired", 0));
        gd_metrics_put(g->metrics, id, "GroupInServiceInstances", now, n);
    }
    json_decref(inflight);
    json_decref(slots_of);
    json_decref(sum);
    json_decref(cnt);
}
