/* Containers (ECS): each ecs_service's scheduler keeps desired_count tasks, places the
 * pending ones on its cluster's container instances (running instances whose launch
 * template names the cluster) by bin-packing or spread over zones, or on Fargate in
 * its subnets, starts each task as its own `gameday instance` process on its own
 * address once its start_time has passed, and stops the tasks whose host, service or
 * process is gone. Tasks live in the store (type task), so a server restart re-adopts
 * their processes. The clusters' and services' status and metrics come from here. */
#include "server/ecs.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/ecs.h"
#include "model/registry.h"
#include "model/state.h"
#include "server/launcher_int.h"
#include "server/metrics.h"
#include "server/ops.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stopped tasks a service keeps listed; older ones are deleted (bounded store). */
#define STOPPED_KEPT 20
/* Events a service keeps in its status, newest last. */
#define EVENTS_KEPT 20
/* Revisions of a task definition kept for a rollback, the newest included. */
#define REVISIONS_KEPT 10

static int team_of(const json_t *r)
{
    return (int)json_integer_value(json_object_get(r, "team"));
}

static json_t *spec_of(const json_t *r)
{
    return json_object_get(r, "spec");
}

static json_t *status_of(const json_t *r)
{
    return json_object_get(r, "status");
}

static const char *tstate(const json_t *task)
{
    const char *s = gd_jstr(status_of(task), "state");
    return *s ? s : "pending";
}

static int stopped(const json_t *task)
{
    return !strcmp(tstate(task), "stopped");
}

/* The live resource of team named name in list, or NULL. */
static json_t *find(json_t *list, int team, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i,
                       r) if (team_of(r) == team && !strcmp(gd_jstr(r, "name"), name)) return r;
    return NULL;
}

int gd_ecs_ip_in_use(json_t *tasks, uint32_t ip)
{
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        uint32_t used;
        if (stopped(t)) continue;
        if (gd_ip_parse(gd_jstr(status_of(t), "ip"), &used) == 0 && used == ip) return 1;
    }
    return 0;
}

/* Appends an event to a service's status (AWS's service events), unless it repeats the
 * newest one. */
static void service_event(gd_game *g, json_t *svc, const char *msg)
{
    json_t *events = json_object_get(status_of(svc), "events");
    size_t n = json_array_size(events);
    if (n && !strcmp(gd_jstr(json_array_get(events, n - 1), "message"), msg)) return;
    json_t *ev = json_is_array(events) ? json_deep_copy(events) : json_array();
    json_array_append_new(ev, json_pack("{s:f,s:s}", "time", gd_game_now(g), "message", msg));
    while (json_array_size(ev) > EVENTS_KEPT) json_array_remove(ev, 0);
    gd_info("ecs_event", "team=%d service=%s msg=\"%s\"", team_of(svc), gd_jstr(svc, "name"), msg);
    /* keep the caller's copy current, so that a second event of the pass sees this one */
    json_object_set(status_of(svc), "events", ev);
    gd_launcher_set_status(g, gd_jstr(svc, "id"), json_pack("{s:o}", "events", ev));
}

/* ---- revisions and deployments ---- */

int gd_ecs_revision_of(const json_t *td)
{
    int r = (int)gd_jnum(status_of(td), "revision", 1);
    return r < 1 ? 1 : r;
}

void gd_ecs_new_revision(gd_game *g, json_t *td, json_t *old_spec)
{
    int rev = gd_ecs_revision_of(td);
    json_t *revs = json_object_get(status_of(td), "revisions");
    json_t *keep = json_is_object(revs) ? json_deep_copy(revs) : json_object();
    char key[16];
    snprintf(key, sizeof key, "%d", rev);
    json_object_set(keep, key, old_spec);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(keep, tmp, k, v)
    {
        if (atoi(k) <= rev + 1 - REVISIONS_KEPT) json_object_del(keep, k);
    }
    gd_launcher_set_status(g, gd_jstr(td, "id"),
                           json_pack("{s:i,s:o}", "revision", rev + 1, "revisions", keep));
    gd_info("task_definition_revision", "team=%d name=%s revision=%d", team_of(td),
            gd_jstr(td, "name"), rev + 1);
}

json_t *gd_ecs_revision_spec(const json_t *td, int rev)
{
    if (rev == gd_ecs_revision_of(td)) return spec_of(td);
    char key[16];
    snprintf(key, sizeof key, "%d", rev);
    return json_object_get(json_object_get(status_of(td), "revisions"), key);
}

void gd_ecs_task_key(const json_t *t, char *out, size_t n)
{
    snprintf(out, n, "%s:%d", gd_jstr(spec_of(t), "task_definition"),
             (int)gd_jnum(status_of(t), "revision", 1));
}

/* What a service deploys, as "family:revision": its task definition's newest revision,
 * unless the circuit breaker rolled that one back; then the last completed one. 0, or
 * -1 when its task definition is gone. */
static int deploy_target(gd_game *g, const json_t *svc, char *out, size_t n)
{
    const char *name = gd_jstr(spec_of(svc), "task_definition");
    json_t *td = gd_store_res_live(g->db, team_of(svc), name, "task_definition");
    if (!td) return -1;
    snprintf(out, n, "%s:%d", name, gd_ecs_revision_of(td));
    json_decref(td);
    json_t *st = status_of(svc);
    if (!strcmp(gd_jstr(st, "rolled_back_from"), out) && *gd_jstr(st, "stable_task_definition"))
        snprintf(out, n, "%s", gd_jstr(st, "stable_task_definition"));
    return 0;
}

/* Splits "family:revision" (into family, of size n). */
static int split_key(const char *key, char *family, size_t n)
{
    snprintf(family, n, "%s", key);
    char *colon = strrchr(family, ':');
    int rev = colon ? atoi(colon + 1) : 1;
    if (colon) *colon = 0;
    return rev < 1 ? 1 : rev;
}

int gd_ecs_run_task(gd_game *g, int team, json_t *svc, const char *principal, char id_out[40])
{
    json_t *ss = spec_of(svc);
    char key[200] = "", family[200] = "";
    int rev = 1;
    json_t *td = NULL, *ts = NULL;
    if (deploy_target(g, svc, key, sizeof key) == 0) {
        rev = split_key(key, family, sizeof family);
        td = gd_store_res_live(g->db, team, family, "task_definition");
        ts = gd_ecs_revision_spec(td, rev);
    }
    json_t *req = json_pack("{s:s,s:s,s:s}", "service", gd_jstr(svc, "name"), "cluster",
                            gd_jstr(ss, "cluster"), "taskDefinition",
                            *key ? key : gd_jstr(ss, "task_definition"));
    if (!ts) {
        gd_game_audit(
            g, team, principal, NULL, "RunTask", req,
            json_pack("{s:s}", "message",
                      td ? "that revision is no longer kept" : "its task definition is gone"),
            "ClientException");
        json_decref(td);
        return GD_ENOENT;
    }
    double seq = gd_game_kv_num(g, "ecs_task_seq", 0) + 1;
    gd_game_kv_setf(g, "ecs_task_seq", "%.0f", seq);
    char name[160];
    snprintf(name, sizeof name, "%s-%.0f", gd_jstr(svc, "name"), seq);
    double now = gd_game_now(g);
    json_t *spec =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "ecs_service", gd_jstr(svc, "name"), "cluster",
                  gd_jstr(ss, "cluster"), "task_definition", gd_jstr(td, "name"), "launch_type",
                  gd_jstr(ss, "launch_type"), "desired_status", "running");
    json_t *st = json_pack("{s:s,s:i,s:i,s:i,s:f,s:i,s:O}", "state", "pending", "cpu",
                           (int)gd_jnum(ts, "cpu", 256), "memory", (int)gd_jnum(ts, "memory", 512),
                           "port", (int)gd_jnum(ts, "port", 8000), "created_at", now, "revision",
                           rev, "task_spec", ts);
    char id[40];
    int r = gd_store_res_create(g->db, team, "task", name, spec, st, now, id);
    json_decref(spec);
    json_decref(st);
    json_decref(td);
    if (r < 0) {
        gd_game_audit(g, team, principal, NULL, "RunTask", req,
                      json_pack("{s:s}", "message", gd_strerror(r)), "ServerException");
        return r;
    }
    if (id_out) snprintf(id_out, 40, "%s", id);
    gd_game_audit(g, team, principal, NULL, "RunTask", req,
                  json_pack("{s:s,s:s}", "taskId", id, "name", name), NULL);
    gd_info("task_pending", "team=%d id=%s service=%s by=%s", team, id, gd_jstr(svc, "name"),
            principal);
    return 0;
}

/* The task is stopped in the store, its process (if any) told to end. */
static void mark_stopped(gd_game *g, const char *id, const char *reason, int hard)
{
    gd_proc *p = gd_proc_find(g, id, GD_PROC_TASK, 0);
    if (p) gd_proc_stop(p, hard ? SIGKILL : SIGTERM, reason);
    gd_launcher_set_status(g, id,
                           json_pack("{s:s,s:f,s:s,s:i}", "state", "stopped", "stopped_at",
                                     gd_game_now(g), "stopped_reason", reason, "pid", 0));
}

/* The longest deregistration delay of the target groups of task t's service, game
 * seconds; 0 when it has none. */
static double drain_delay(gd_game *g, const json_t *t)
{
    json_t *svc =
        gd_store_res_live(g->db, team_of(t), gd_jstr(spec_of(t), "ecs_service"), "ecs_service");
    double d = 0;
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(spec_of(svc), "target_groups"), i, n)
    {
        json_t *tg = gd_store_res_live(g->db, team_of(t), json_string_value(n), "target_group");
        double x = gd_jnum(spec_of(tg), "deregistration_delay", 300);
        if (tg && x > d) d = x;
        json_decref(tg);
    }
    json_decref(svc);
    return d;
}

int gd_ecs_stop_task(gd_game *g, int team, const char *id, int hard, const char *principal,
                     const char *reason)
{
    json_t *t = gd_store_res_live(g->db, team, id, "task");
    json_t *req = json_pack("{s:s,s:s}", "task", id, "reason", reason);
    if (!t || stopped(t)) {
        gd_game_audit(g, team, principal, NULL, "StopTask", req,
                      json_pack("{s:s}", "message", t ? "the task is stopped" : "no such task"),
                      t ? "InvalidParameterException" : "ClientException");
        json_decref(t);
        return t ? GD_EEXIST : GD_ENOENT;
    }
    const char *tid = gd_jstr(t, "id");
    double delay = hard || strcmp(tstate(t), "running") != 0 ? 0 : drain_delay(g, t);
    if (gd_instance_leaving(t) && !hard) {
        json_decref(t); /* draining already: it stops when drained */
        json_decref(req);
        return 0;
    }
    if (delay > 0) {
        /* Deregistered first: the edges send it nothing new, and it stops once they
         * have drained it or the longest deregistration delay has passed. */
        double now = gd_game_now(g);
        gd_launcher_set_status(g, tid,
                               json_pack("{s:s,s:f,s:f,s:s}", "lifecycle", "Terminating",
                                         "drain_since", now, "drain_until", now + delay,
                                         "stopping_reason", reason));
        gd_game_audit(g, team, principal, NULL, "StopTask", req,
                      json_pack("{s:s,s:s,s:s,s:f}", "taskId", tid, "lastStatus", "DEACTIVATING",
                                "stoppedReason", reason, "deregistrationDelay", delay),
                      NULL);
        gd_info("task_draining", "id=%s by=%s delay=%.0f reason=\"%s\"", tid, principal, delay,
                reason);
        json_decref(t);
        return 0;
    }
    mark_stopped(g, tid, reason, hard);
    gd_game_audit(
        g, team, principal, NULL, "StopTask", req,
        json_pack("{s:s,s:s,s:s}", "taskId", tid, "lastStatus", "STOPPED", "stoppedReason", reason),
        NULL);
    gd_info("task_stopped", "id=%s by=%s reason=\"%s\"", tid, principal, reason);
    json_decref(t);
    return 0;
}

/* One more failed task of a service's deployment (its circuit breaker counts them): a
 * task of the revision being deployed; an old one's failure is not the new one's. */
static void count_failure(gd_game *g, const json_t *task)
{
    json_t *svc = gd_store_res_live(g->db, team_of(task), gd_jstr(spec_of(task), "ecs_service"),
                                    "ecs_service");
    char key[200];
    gd_ecs_task_key(task, key, sizeof key);
    if (svc && !strcmp(gd_jstr(status_of(svc), "deployment_task_definition"), key))
        gd_launcher_set_status(g, gd_jstr(svc, "id"),
                               json_pack("{s:i}", "failed_tasks",
                                         (int)gd_jnum(status_of(svc), "failed_tasks", 0) + 1));
    json_decref(svc);
}

void gd_ecs_proc_exited(gd_game *g, const char *task_id, const char *why)
{
    json_t *t = gd_store_res_get(g->db, 0, task_id);
    if (t && !stopped(t)) {
        char reason[224];
        snprintf(reason, sizeof reason, "Essential container in task exited (%s)", why);
        gd_launcher_set_status(g, task_id,
                               json_pack("{s:s,s:f,s:s,s:i}", "state", "stopped", "stopped_at",
                                         gd_game_now(g), "stopped_reason", reason, "pid", 0));
        gd_game_audit(
            g, team_of(t), "ecs", NULL, "TaskStateChange", json_pack("{s:s}", "taskId", task_id),
            json_pack("{s:s,s:s}", "lastStatus", "STOPPED", "stoppedReason", reason), NULL);
        count_failure(g, t);
    }
    json_decref(t);
}

/* ---- container instances ---- */

/* A cluster's container instance: a running instance whose launch template names it,
 * with what its placed tasks leave free. */
struct host {
    json_t *inst; /* borrowed */
    const char *cluster;
    int team;
    int draining; /* a scale-in drains it: no new task; its tasks stop */
    int cpu_reg, mem_reg, cpu_free, mem_free, tasks;
};

#define MAX_HOSTS 256

static size_t collect_hosts(gd_game *g, json_t *instances, json_t *lts, struct host *h, size_t max)
{
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        if (n == max) break;
        json_t *st = status_of(r);
        if (gd_inst_state_of(st) != GD_INST_RUNNING) continue;
        json_t *lt = find(lts, team_of(r), gd_jstr(spec_of(r), "launch_template"));
        const char *cl = gd_jstr(spec_of(lt), "ecs_cluster");
        if (!*cl) continue;
        h[n] = (struct host){
            .inst = r, .cluster = cl, .team = team_of(r), .draining = gd_instance_leaving(r)};
        gd_ecs_registered(gd_jstr(st, "instance_type"), &h[n].cpu_reg, &h[n].mem_reg);
        h[n].cpu_free = h[n].cpu_reg;
        h[n].mem_free = h[n].mem_reg;
        n++;
    }
    return n;
}

static struct host *host_of(struct host *h, size_t n, const char *inst_id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(gd_jstr(h[i].inst, "id"), inst_id)) return &h[i];
    return NULL;
}

/* ---- the pass ---- */

/* The target group in which an edge reports task t out of service after at least two
 * failed checks (before that it is `initial`, as for an asg's ELB health check), or
 * NULL. */
static const char *elb_unhealthy(gd_game *g, const json_t *t)
{
    for (gd_edge_link *e = g->edges; e; e = e->next) {
        size_t q;
        json_t *x;
        json_array_foreach(json_object_get(e->stats, "targets"), q, x)
        {
            if (!strcmp(gd_jstr(x, "id"), gd_jstr(t, "id")) &&
                !strcmp(gd_jstr(x, "state"), "OutOfService") && gd_jnum(x, "health_fail", 0) >= 2)
                return gd_jstr(x, "target_group");
        }
    }
    return NULL;
}

/* Tasks whose service, host or process is gone stop, and so do those their target
 * groups find unhealthy; the others' reservations are taken from their hosts. */
static void sweep(gd_game *g, json_t *tasks, json_t *services, struct host *h, size_t nh,
                  double now)
{
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        if (stopped(t)) continue;
        json_t *st = status_of(t), *sp = spec_of(t);
        const char *id = gd_jstr(t, "id");
        const char *ci = gd_jstr(st, "container_instance");
        char why[160] = "";
        json_t *svc = find(services, team_of(t), gd_jstr(sp, "ecs_service"));
        const char *sick = NULL;
        if (gd_instance_leaving(t) &&
            (now >= gd_jnum(st, "drain_until", 0) || gd_target_drained(g, id))) {
            const char *said = gd_jstr(st, "stopping_reason");
            mark_stopped(g, id, *said ? said : "Task stopped", 0);
            gd_info("task_stopped", "id=%s by=ecs reason=\"%s\" drained=%d", id, said,
                    now < gd_jnum(st, "drain_until", 0));
            json_object_set_new(st, "state", json_string("stopped")); /* this pass's view */
            continue;
        }
        if (svc && !strcmp(tstate(t), "running") && !gd_instance_leaving(t) &&
            json_array_size(json_object_get(spec_of(svc), "target_groups")) > 0 &&
            now >=
                gd_jnum(st, "running_at", now) + gd_jnum(spec_of(svc), "health_check_grace", 0) &&
            (sick = elb_unhealthy(g, t)) != NULL) {
            snprintf(why, sizeof why, "Task failed ELB health checks in (target-group %s)", sick);
            count_failure(g, t);
        } else if (!svc)
            snprintf(why, sizeof why, "Service %s deleted", gd_jstr(sp, "ecs_service"));
        else if (*ci && !host_of(h, nh, ci))
            snprintf(why, sizeof why, "Host EC2 (instance %s) terminated.", ci);
        else if (*ci && host_of(h, nh, ci)->draining)
            snprintf(why, sizeof why, "Container instance %s is being drained (scale-in)", ci);
        else if (!strcmp(tstate(t), "running") && !gd_proc_find(g, id, GD_PROC_TASK, 0))
            snprintf(why, sizeof why, "the process was lost");
        if (*why) {
            gd_actor who = {.team = team_of(t), .principal = "ecs", .trust = GD_TRUST_GAME};
            gd_op_result out;
            gd_op_stop_task(g, &who, id, 1, why, &out);
            gd_op_result_free(&out);
            json_object_set_new(st, "state", json_string("stopped")); /* this pass's view */
            continue;
        }
        struct host *x = *ci ? host_of(h, nh, ci) : NULL;
        if (x) {
            x->cpu_free -= (int)gd_jnum(st, "cpu", 0);
            x->mem_free -= (int)gd_jnum(st, "memory", 0);
            x->tasks++;
        }
    }
}

/* newest first among the service's live tasks: pending unplaced, pending, running */
static int stop_rank(const json_t *t)
{
    json_t *st = status_of(t);
    if (!strcmp(tstate(t), "running")) return 2;
    return *gd_jstr(st, "ip") ? 1 : 0;
}

/* The ids the edges count InService now ({id: true}), read once a pass; NULL while
 * some edge has not answered its stats yet (a restarted server): nothing is known. */
static json_t *in_service_ids(gd_game *g)
{
    json_t *ids = json_object();
    for (gd_edge_link *e = g->edges; e; e = e->next) {
        if (!e->stats) {
            json_decref(ids);
            return NULL;
        }
        size_t q;
        json_t *x;
        json_array_foreach(json_object_get(e->stats, "targets"), q, x)
        {
            if (!strcmp(gd_jstr(x, "state"), "InService"))
                json_object_set(ids, gd_jstr(x, "id"), json_true());
        }
    }
    return ids;
}

/* 1 when task t is running and, if its service has target groups, an edge counts it
 * InService (up: in_service_ids): what a rolling deployment may rely on. */
static int task_healthy(const json_t *up, const json_t *svc, const json_t *t)
{
    if (strcmp(tstate(t), "running") != 0) return 0;
    if (json_array_size(json_object_get(spec_of(svc), "target_groups")) == 0) return 1;
    return up && json_object_get(up, gd_jstr(t, "id")) != NULL;
}

/* The least advanced of list, the newest first among equals; unhealthy ones before
 * healthy ones when by_health. NULL when list is empty. */
static json_t *least_advanced(const json_t *up, const json_t *svc, json_t *list, int by_health)
{
    json_t *pick = NULL;
    int pick_rank = 1 << 20;
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        int rk = stop_rank(t) + (by_health ? 4 * task_healthy(up, svc, t) : 0);
        if (rk < pick_rank || (rk == pick_rank && gd_jnum(status_of(t), "created_at", 0) >=
                                                      gd_jnum(status_of(pick), "created_at", 0)))
            pick = t, pick_rank = rk;
    }
    return pick;
}

/* Stops task t of svc (draining it first when it is in target groups), and takes it
 * out of list. */
static void stop_one(gd_game *g, json_t *svc, json_t *list, json_t *t, const char *why)
{
    gd_actor who = {.team = team_of(svc), .principal = "ecs", .trust = GD_TRUST_GAME};
    gd_op_result out;
    gd_op_stop_task(g, &who, gd_jstr(t, "id"), 0, why, &out);
    gd_op_result_free(&out);
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (x == t)
    {
        json_array_remove(list, i);
        break;
    }
}

/* A service's deployment changes state: its status, an event, a log line. */
static void deployment_state(gd_game *g, json_t *svc, const char *state, const char *key,
                             const char *msg)
{
    json_t *f = json_pack("{s:s}", "deployment_state", state);
    if (!strcmp(state, "COMPLETED"))
        json_object_set_new(f, "stable_task_definition", json_string(key));
    json_object_set(status_of(svc), "deployment_state", json_object_get(f, "deployment_state"));
    gd_launcher_set_status(g, gd_jstr(svc, "id"), f);
    gd_info("ecs_deployment", "team=%d service=%s task_definition=%s state=%s", team_of(svc),
            gd_jstr(svc, "name"), key, state);
    if (msg) service_event(g, svc, msg);
}

/* The scheduler of one service. Its deployment is the revision deploy_target names;
 * tasks of any other are old. New tasks start while fewer than desired_count are new
 * and the live ones stay within maximum_percent; an old task stops (drained first)
 * while the healthy ones stay at least minimum_healthy_percent, unhealthy ones first;
 * extra new ones stop, the least advanced first. The circuit breaker counts the
 * deployment's failed tasks; tripped, it starts no more of them, and with rollback
 * the service goes back to its last completed revision, a deployment of its own. */
static void schedule(gd_game *g, json_t *svc, json_t *tasks, const json_t *up)
{
    int team = team_of(svc);
    json_t *ss = spec_of(svc), *sst = status_of(svc);
    const char *name = gd_jstr(svc, "name");
    int desired = (int)gd_jnum(ss, "desired_count", 1);
    char target[200];
    if (deploy_target(g, svc, target, sizeof target) < 0) return; /* RunTask would fail */
    json_t *fresh = json_array(), *old = json_array();
    int draining = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        if (stopped(t) || team_of(t) != team || strcmp(gd_jstr(spec_of(t), "ecs_service"), name))
            continue;
        if (gd_instance_leaving(t)) {
            draining++;
            continue;
        }
        char key[200];
        gd_ecs_task_key(t, key, sizeof key);
        json_array_append(strcmp(key, target) ? old : fresh, t);
    }
    char msg[512];
    /* A new revision to deploy: the breaker's count starts again. */
    if (strcmp(gd_jstr(sst, "deployment_task_definition"), target) != 0) {
        json_t *f = json_pack("{s:s,s:i}", "deployment_task_definition", target, "failed_tasks", 0);
        json_object_set(sst, "deployment_task_definition",
                        json_object_get(f, "deployment_task_definition"));
        json_object_set(sst, "failed_tasks", json_object_get(f, "failed_tasks"));
        gd_launcher_set_status(g, gd_jstr(svc, "id"), f);
        snprintf(msg, sizeof msg, "(service %s) has started a deployment of %s.", name, target);
        deployment_state(g, svc, "IN_PROGRESS", target, msg);
    }
    int failed = (int)gd_jnum(sst, "failed_tasks", 0);
    int tripped = json_is_true(json_object_get(ss, "circuit_breaker")) &&
                  failed >= gd_ecs_breaker_threshold(desired);
    if (tripped && strcmp(gd_jstr(sst, "deployment_state"), "FAILED") != 0) {
        const char *stable = gd_jstr(sst, "stable_task_definition");
        int back =
            json_is_true(json_object_get(ss, "rollback")) && *stable && strcmp(stable, target) != 0;
        snprintf(msg, sizeof msg,
                 "(service %s) (deployment of %s) deployment failed: tasks failed to start "
                 "(%d failed tasks).%s%s",
                 name, target, failed, back ? " Rolling back to " : "", back ? stable : "");
        deployment_state(g, svc, "FAILED", target, msg);
        if (back) {
            /* The next pass deploys the last completed revision, until a newer one. */
            gd_launcher_set_status(g, gd_jstr(svc, "id"),
                                   json_pack("{s:s}", "rolled_back_from", target));
            gd_game_audit(g, team, "ecs", NULL, "RollbackServiceDeployment",
                          json_pack("{s:s,s:s}", "service", name, "taskDefinition", target),
                          json_pack("{s:s,s:i}", "rolledBackTo", stable, "failedTasks", failed),
                          NULL);
            json_decref(fresh);
            json_decref(old);
            return;
        }
    }
    int max_total = desired * (int)gd_jnum(ss, "maximum_percent", 200) / 100;
    int min_healthy = (desired * (int)gd_jnum(ss, "minimum_healthy_percent", 100) + 99) / 100;
    if (max_total < desired) max_total = desired;
    int healthy = 0;
    json_array_foreach(fresh, i, t) healthy += task_healthy(up, svc, t);
    json_array_foreach(old, i, t) healthy += task_healthy(up, svc, t);
    /* Old tasks go while enough stay healthy (a failed deployment keeps them). Health
     * is the edges' word: until every edge has answered its stats once (a restarted
     * server), none is known, and none goes. */
    int known = up || json_array_size(json_object_get(ss, "target_groups")) == 0;
    snprintf(msg, sizeof msg, "Deployment of %s by (service %s)", target, name);
    while (json_array_size(old) > 0 && !tripped && known) {
        json_t *pick = least_advanced(up, svc, old, 1);
        int h = task_healthy(up, svc, pick);
        if (h && healthy - 1 < min_healthy) break;
        healthy -= h;
        stop_one(g, svc, old, pick, msg);
    }
    /* New ones start up to desired_count within maximum_percent. */
    int want = tripped ? 0 : desired;
    int live = (int)(json_array_size(fresh) + json_array_size(old));
    gd_actor who = {.team = team, .principal = "ecs", .trust = GD_TRUST_GAME};
    for (int k = (int)json_array_size(fresh); k < want && live < max_total && k < GD_ECS_MAX_TASKS;
         k++, live++) {
        gd_op_result out;
        gd_op_run_task(g, &who, gd_jstr(svc, "id"), &out);
        gd_op_result_free(&out);
    }
    snprintf(msg, sizeof msg, "Scaling activity initiated by (service %s)", name);
    while ((int)json_array_size(fresh) > desired)
        stop_one(g, svc, fresh, least_advanced(up, svc, fresh, 0), msg);
    int fresh_healthy = 0;
    json_array_foreach(fresh, i, t) fresh_healthy += task_healthy(up, svc, t);
    if (json_array_size(old) == 0 && draining == 0 && (int)json_array_size(fresh) == desired &&
        fresh_healthy == desired && !strcmp(gd_jstr(sst, "deployment_state"), "IN_PROGRESS")) {
        snprintf(msg, sizeof msg, "(service %s) (deployment of %s) deployment completed.", name,
                 target);
        deployment_state(g, svc, "COMPLETED", target, msg);
    }
    json_decref(fresh);
    json_decref(old);
}

/* The subnet of a Fargate service whose zone has the fewest of its tasks. */
static const char *fargate_subnet(gd_game *g, json_t *svc, json_t *tasks, char *az_out, size_t n)
{
    int team = team_of(svc);
    const char *best = NULL;
    int best_n = 1 << 30;
    size_t i, k;
    json_t *sn, *t;
    json_array_foreach(json_object_get(spec_of(svc), "subnets"), i, sn)
    {
        json_t *s = gd_store_res_live(g->db, team, json_string_value(sn), "subnet");
        if (!s) continue;
        const char *az = gd_jstr(spec_of(s), "az");
        int c = 0;
        json_array_foreach(tasks, k, t) c +=
            !stopped(t) && team_of(t) == team &&
            !strcmp(gd_jstr(spec_of(t), "ecs_service"), gd_jstr(svc, "name")) &&
            !strcmp(gd_jstr(status_of(t), "az"), az);
        if (c < best_n && gd_az_down_until(g, az) <= 0) {
            best_n = c;
            best = json_string_value(sn);
            snprintf(az_out, n, "%s", az);
        }
        json_decref(s);
    }
    return best;
}

/* Places the pending tasks that have no address yet: on a container instance of their
 * cluster, or on Fargate. */
static void place(gd_game *g, json_t *tasks, json_t *services, struct host *h, size_t nh)
{
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        json_t *st = status_of(t), *sp = spec_of(t);
        if (strcmp(tstate(t), "pending") != 0 || *gd_jstr(st, "ip")) continue;
        int team = team_of(t);
        json_t *svc = find(services, team, gd_jstr(sp, "ecs_service"));
        if (!svc) continue;
        double start_time = gd_jnum(json_object_get(st, "task_spec"), "start_time", 10);
        int cpu = (int)gd_jnum(st, "cpu", 256), mem = (int)gd_jnum(st, "memory", 512);
        const char *subnet = NULL, *inst_id = "", *itype = NULL;
        char az[8] = "";
        const char *reason = NULL;
        struct host *x = NULL;
        if (!strcmp(gd_jstr(sp, "launch_type"), "FARGATE")) {
            subnet = fargate_subnet(g, svc, tasks, az, sizeof az);
            if (!subnet) reason = "no subnet of the service can take a task now";
        } else {
            /* the hosts of its cluster, as placement sees them */
            gd_ecs_host ph[MAX_HOSTS];
            size_t map[MAX_HOSTS], n = 0;
            for (size_t k = 0; k < nh; k++) {
                if (h[k].team != team || h[k].draining ||
                    strcmp(h[k].cluster, gd_jstr(sp, "cluster")) != 0)
                    continue;
                int m = 0;
                size_t j;
                json_t *o;
                json_array_foreach(tasks, j, o) m +=
                    !stopped(o) && team_of(o) == team &&
                    !strcmp(gd_jstr(spec_of(o), "ecs_service"), gd_jstr(sp, "ecs_service")) &&
                    !strcmp(gd_jstr(status_of(o), "container_instance"), gd_jstr(h[k].inst, "id"));
                ph[n] = (gd_ecs_host){.az = gd_jstr(status_of(h[k].inst), "az"),
                                      .cpu_free = h[k].cpu_free,
                                      .mem_free = h[k].mem_free,
                                      .mine = m};
                map[n++] = k;
            }
            enum gd_ecs_strategy s = !strcmp(gd_jstr(spec_of(svc), "placement_strategy"), "spread")
                                         ? GD_ECS_SPREAD
                                         : GD_ECS_BINPACK;
            int at = gd_ecs_place(ph, n, cpu, mem, s, &reason);
            if (at >= 0) {
                x = &h[map[at]];
                json_t *ist = status_of(x->inst);
                subnet = gd_jstr(ist, "subnet");
                inst_id = gd_jstr(x->inst, "id");
                itype = gd_jstr(ist, "instance_type");
                snprintf(az, sizeof az, "%s", gd_jstr(ist, "az"));
            }
        }
        char err[256] = "";
        uint32_t ip = 0;
        if (!reason && gd_net_alloc_ip(g, team, subnet, &ip, err, sizeof err) < 0) reason = err;
        if (reason) {
            if (strcmp(gd_jstr(st, "pending_reason"), reason) != 0)
                gd_launcher_set_status(g, gd_jstr(t, "id"),
                                       json_pack("{s:s}", "pending_reason", reason));
            char msg[512];
            snprintf(msg, sizeof msg,
                     "service %s was unable to place a task because no container instance met "
                     "all of its requirements. Reason: %s",
                     gd_jstr(svc, "name"), reason);
            service_event(g, svc, msg);
            continue;
        }
        if (x) {
            x->cpu_free -= cpu;
            x->mem_free -= mem;
            x->tasks++;
        }
        char ipb[16];
        gd_ip_format(ip, ipb);
        int slots = gd_ecs_task_slots(cpu, itype, g->sc->process_slots);
        double now = gd_game_now(g);
        json_t *fields =
            json_pack("{s:s,s:s,s:s,s:s,s:i,s:f,s:f,s:s}", "ip", ipb, "subnet", subnet, "az", az,
                      "container_instance", inst_id, "slots", slots, "placed_at", now, "start_at",
                      now + start_time, "pending_reason", "");
        json_object_set_new(fields, "billed_until", json_real(now));
        json_object_set(st, "ip", json_object_get(fields, "ip")); /* this pass's view */
        json_object_set(st, "az", json_object_get(fields, "az"));
        json_object_set(st, "container_instance", json_object_get(fields, "container_instance"));
        gd_launcher_set_status(g, gd_jstr(t, "id"), fields);
        char msg[256];
        snprintf(msg, sizeof msg, "service %s has started 1 tasks: (task %s) on %s",
                 gd_jstr(svc, "name"), gd_jstr(t, "id"), *inst_id ? inst_id : "FARGATE");
        service_event(g, svc, msg);
        gd_info("task_placed", "team=%d id=%s ip=%s host=%s slots=%d", team, gd_jstr(t, "id"), ipb,
                *inst_id ? inst_id : "FARGATE", slots);
    }
}

/* Starts a placed task's process: `gameday instance <service>` on its address. */
static void boot(gd_game *g, json_t *t)
{
    int team = team_of(t);
    const char *id = gd_jstr(t, "id");
    json_t *st = status_of(t);
    json_t *ts = json_object_get(st, "task_spec"); /* its revision's */
    char e_addr[96], e_ip[48], e_port[32], e_id[80], e_salt[160], e_slots[48], e_queue[48];
    char e_svc[64], e_speed[64], e_epoch[64], e_rel[48], svc[16];
    snprintf(e_addr, sizeof e_addr, "GAMEDAY_ADDR=%s:%d", gd_jstr(st, "ip"),
             (int)gd_jnum(st, "port", 8000));
    snprintf(e_ip, sizeof e_ip, "GAMEDAY_IP=%s", gd_jstr(st, "ip"));
    snprintf(e_port, sizeof e_port, "PORT=%d", (int)gd_jnum(st, "port", 8000));
    snprintf(e_id, sizeof e_id, "GAMEDAY_INSTANCE_ID=%s", id);
    snprintf(e_salt, sizeof e_salt, "GAMEDAY_SALT=%s", g->sc->salt);
    snprintf(e_slots, sizeof e_slots, "GAMEDAY_SLOTS=%d", (int)gd_jnum(st, "slots", 1));
    snprintf(e_queue, sizeof e_queue, "GAMEDAY_QUEUE=%d", (int)gd_jnum(ts, "queue", 32));
    snprintf(e_svc, sizeof e_svc, "GAMEDAY_SERVICE_MS=%.0f", gd_jnum(ts, "service_time", 4) * 1000);
    snprintf(svc, sizeof svc, "%s", *gd_jstr(ts, "service") ? gd_jstr(ts, "service") : "unicorn");
    snprintf(e_rel, sizeof e_rel, "GAMEDAY_SERVICE_VERSION=%s",
             *gd_jstr(ts, "service_version") ? gd_jstr(ts, "service_version") : "v2");
    gd_proc_clock_env(e_speed, e_epoch, sizeof e_speed);
    char *env[] = {e_addr,  e_ip,  e_port,  e_id,    e_salt, e_slots,
                   e_queue, e_svc, e_speed, e_epoch, e_rel,  NULL};
    char *args[] = {g->exe, "instance", svc, NULL};
    gd_proc *p = gd_proc_spawn(g, GD_PROC_TASK, team, id, args, env, id);
    if (p)
        gd_launcher_set_status(g, id,
                               json_pack("{s:s,s:i,s:f}", "state", "running", "pid", p->pid,
                                         "running_at", gd_game_now(g)));
    else
        gd_launcher_set_status(g, id,
                               json_pack("{s:s,s:f,s:s}", "state", "stopped", "stopped_at",
                                         gd_game_now(g), "stopped_reason",
                                         "CannotStartContainerError: the process failed to start"));
}

/* Stopped tasks beyond STOPPED_KEPT a service are deleted, the oldest first. */
static void forget_stopped(gd_game *g, json_t *tasks)
{
    json_t *count = json_object();
    /* newest first: tasks are listed by creation, so walk backwards */
    for (size_t i = json_array_size(tasks); i-- > 0;) {
        json_t *t = json_array_get(tasks, i);
        if (!stopped(t)) continue;
        char key[128];
        snprintf(key, sizeof key, "%d/%s", team_of(t), gd_jstr(spec_of(t), "ecs_service"));
        int c = (int)gd_jnum(count, key, 0) + 1;
        json_object_set_new(count, key, json_integer(c));
        if (c > STOPPED_KEPT) gd_store_res_delete(g->db, gd_jstr(t, "id"), gd_game_now(g));
    }
    json_decref(count);
}

/* Writes fields into r's status when any differs from what it holds (takes fields). */
static void set_if_changed(gd_game *g, json_t *r, json_t *fields)
{
    const char *k;
    json_t *v;
    int same = 1;
    json_object_foreach(fields, k, v) same &= json_equal(json_object_get(status_of(r), k), v);
    if (same)
        json_decref(fields);
    else
        gd_launcher_set_status(g, gd_jstr(r, "id"), fields);
}

/* Services' and clusters' counts; AWS/ECS metrics once a sample period. */
static void observe(gd_game *g, json_t *tasks, json_t *services, struct host *h, size_t nh,
                    double now)
{
    uint64_t wall = uv_now(g->loop);
    int sample = !g->ecs_sampled_at || wall >= g->ecs_sampled_at + GD_METRIC_SAMPLE_MS;
    if (sample) g->ecs_sampled_at = wall;
    /* busy slots as the edges see them, for the services' CPUUtilization */
    json_t *inflight = json_object();
    if (sample)
        for (gd_edge_link *e = g->edges; e; e = e->next) {
            size_t k;
            json_t *x;
            json_array_foreach(json_object_get(e->stats, "targets"), k, x)
            {
                const char *id = gd_jstr(x, "id");
                json_object_set_new(
                    inflight, id, json_real(gd_jnum(inflight, id, 0) + gd_jnum(x, "inflight", 0)));
            }
        }
    size_t i, k;
    json_t *s, *t;
    json_array_foreach(services, i, s)
    {
        int running = 0, pending = 0;
        double busy = 0, slots = 0;
        json_array_foreach(tasks, k, t)
        {
            if (stopped(t) || team_of(t) != team_of(s) ||
                strcmp(gd_jstr(spec_of(t), "ecs_service"), gd_jstr(s, "name")) != 0)
                continue;
            if (!strcmp(tstate(t), "running")) {
                running++;
                double sl = gd_jnum(status_of(t), "slots", 1),
                       b = gd_jnum(inflight, gd_jstr(t, "id"), 0);
                slots += sl;
                busy += b < sl ? b : sl;
            } else {
                pending++;
            }
        }
        json_t *fields =
            json_pack("{s:i,s:i,s:i}", "running_count", running, "pending_count", pending,
                      "desired_count", (int)gd_jnum(spec_of(s), "desired_count", 1));
        set_if_changed(g, s, fields);
        if (!sample) continue;
        gd_metrics_put(g->metrics, gd_jstr(s, "id"), "RunningTaskCount", now, running);
        if (slots > 0)
            gd_metrics_put(g->metrics, gd_jstr(s, "id"), "CPUUtilization", now, 100 * busy / slots);
    }
    json_decref(inflight);
    json_t *clusters = gd_store_res_list(g->db, 0, "cluster", 0);
    json_t *c;
    json_array_foreach(clusters, i, c)
    {
        int ncis = 0, cpu_reg = 0, cpu_res = 0, mem_reg = 0, mem_res = 0, running = 0, pending = 0;
        json_t *cis = json_array();
        for (size_t j = 0; j < nh; j++) {
            if (h[j].team != team_of(c) || h[j].draining ||
                strcmp(h[j].cluster, gd_jstr(c, "name")) != 0)
                continue;
            ncis++;
            cpu_reg += h[j].cpu_reg;
            mem_reg += h[j].mem_reg;
            cpu_res += h[j].cpu_reg - h[j].cpu_free;
            mem_res += h[j].mem_reg - h[j].mem_free;
            json_array_append_new(
                cis, json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i}", "id", gd_jstr(h[j].inst, "id"),
                               "instance_type", gd_jstr(status_of(h[j].inst), "instance_type"),
                               "az", gd_jstr(status_of(h[j].inst), "az"), "cpu_registered",
                               h[j].cpu_reg, "cpu_free", h[j].cpu_free, "memory_registered",
                               h[j].mem_reg, "memory_free", h[j].mem_free, "tasks", h[j].tasks));
        }
        json_array_foreach(tasks, k, t)
        {
            if (stopped(t) || team_of(t) != team_of(c) ||
                strcmp(gd_jstr(spec_of(t), "cluster"), gd_jstr(c, "name")) != 0)
                continue;
            running += !strcmp(tstate(t), "running");
            pending += strcmp(tstate(t), "running") != 0;
        }
        set_if_changed(g, c,
                       json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:o}",
                                 "registered_container_instances", ncis, "running_tasks", running,
                                 "pending_tasks", pending, "cpu_registered", cpu_reg,
                                 "cpu_reserved", cpu_res, "memory_registered", mem_reg,
                                 "memory_reserved", mem_res, "container_instances", cis));
        if (!sample || cpu_reg == 0) continue;
        gd_metrics_put(g->metrics, gd_jstr(c, "id"), "CPUReservation", now,
                       100.0 * cpu_res / cpu_reg);
        gd_metrics_put(g->metrics, gd_jstr(c, "id"), "MemoryReservation", now,
                       100.0 * mem_res / (mem_reg > 0 ? mem_reg : 1));
    }
    json_decref(clusters);
}

void gd_ecs_reconcile(gd_game *g, json_t *instances, double now)
{
    json_t *services = gd_store_res_list(g->db, 0, "ecs_service", 0);
    json_t *tasks = gd_store_res_list(g->db, 0, "task", 0);
    if (json_array_size(services) == 0 && json_array_size(tasks) == 0) {
        json_decref(services);
        json_decref(tasks);
        return;
    }
    json_t *lts = gd_store_res_list(g->db, 0, "launch_template", 0);
    static struct host h[MAX_HOSTS];
    size_t nh = collect_hosts(g, instances, lts, h, MAX_HOSTS);
    sweep(g, tasks, services, h, nh, now);
    size_t i;
    json_t *s, *t;
    json_t *up = in_service_ids(g); /* once a pass, for every service */
    json_array_foreach(services, i, s) schedule(g, s, tasks, up);
    json_decref(up);
    json_decref(tasks);
    tasks = gd_store_res_list(g->db, 0, "task", 0); /* with the new ones */
    place(g, tasks, services, h, nh);
    json_decref(tasks);
    tasks = gd_store_res_list(g->db, 0, "task", 0); /* placed, with their start_at */
    json_array_foreach(tasks, i, t)
    {
        json_t *st = status_of(t);
        if (!strcmp(tstate(t), "pending") && *gd_jstr(st, "ip") &&
            now >= gd_jnum(st, "start_at", 0))
            boot(g, t);
    }
    json_decref(tasks);
    tasks = gd_store_res_list(g->db, 0, "task", 0);
    observe(g, tasks, services, h, nh, now);
    forget_stopped(g, tasks);
    json_decref(tasks);
    json_decref(services);
    json_decref(lts);
}

json_t *gd_ecs_targets(gd_game *g, json_t *instances)
{
    json_t *all = json_copy(instances);
    json_t *tasks = gd_store_res_list(g->db, 0, "task", 0);
    if (json_array_size(tasks) == 0) {
        json_decref(tasks);
        return all;
    }
    json_t *services = gd_store_res_list(g->db, 0, "ecs_service", 0);
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        if (strcmp(tstate(t), "running") != 0) continue;
        json_t *svc = find(services, team_of(t), gd_jstr(spec_of(t), "ecs_service"));
        if (!svc) continue;
        json_object_set(status_of(t), "target_groups",
                        json_object_get(spec_of(svc), "target_groups"));
        json_array_append(all, t);
    }
    json_decref(services);
    json_decref(tasks);
    return all;
}
