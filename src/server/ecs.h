/* Containers (ECS) in the server: the services' schedulers, the placement of their
 * tasks on the clusters' container instances (or Fargate), the tasks' processes, their
 * exits and re-adoption, the clusters' and services' status and metrics. Private to
 * src/server. */
#ifndef GD_SERVER_ECS_H
#define GD_SERVER_ECS_H

#include "server/game_int.h"

#include <jansson.h>
#include <stdint.h>

/** One pass: every service toward its desired_count (new tasks pending, extra ones
 *  stopped), pending tasks placed and started once their start_time has passed, tasks
 *  whose host, service or process is gone stopped; status and metrics of the clusters
 *  and services. instances: every instance in the store. */
void gd_ecs_reconcile(gd_game *g, json_t *instances, double now);
/** instances plus every running task, each with status.target_groups its service's
 *  (what the edges register): a new array. */
json_t *gd_ecs_targets(gd_game *g, json_t *instances);
/** A task's process ended (why: how): the task is stopped, audited TaskStateChange
 *  unless the scheduler stopped it itself. */
void gd_ecs_proc_exited(gd_game *g, const char *task_id, const char *why);
/** A task definition's spec changed (old_spec before): its revision goes up by one and
 *  old_spec is kept as the revision it was (the last few), for a rollback. */
void gd_ecs_new_revision(gd_game *g, json_t *td, json_t *old_spec);
/** A task definition's newest revision (1 when it never changed). */
int gd_ecs_revision_of(const json_t *td);
/** The spec of revision rev of task definition td (borrowed), or NULL when it is no
 *  longer kept (the last 10 are). */
json_t *gd_ecs_revision_spec(const json_t *td, int rev);
/** "family:revision" of a task: what it was started from (into out, of size n). */
void gd_ecs_task_key(const json_t *t, char *out, size_t n);
/** 1 if ip is the address of a task of tasks that is not stopped. */
int gd_ecs_ip_in_use(json_t *tasks, uint32_t ip);

/** RunTask: a new pending task of service svc (a resource), audited. 0 with its id, or
 *  a negative code. Called by ops.c only (gd_op_run_task). */
int gd_ecs_run_task(gd_game *g, int team, json_t *svc, const char *principal, char id_out[40]);
/** StopTask: the task stops (SIGTERM, SIGKILL when hard), with reason; audited. 0, or
 *  GD_ENOENT (no such task) / GD_EEXIST (already stopped). Called by ops.c only. */
int gd_ecs_stop_task(gd_game *g, int team, const char *id, int hard, const char *principal,
                     const char *reason);

#endif
