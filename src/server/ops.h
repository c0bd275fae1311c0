/* The operations layer: every write to the resources goes through these functions,
 * whoever asks (the REST API for players and the instructor, scenario events and chaos,
 * the autoscaler). Each one checks its input through the model's registry, writes the
 * store, leaves exactly one audit record (principal, source IP, parameters, response
 * or an AWS-style error code) and returns its outcome with an HTTP status and an
 * AWS-style code. Nothing else writes specs, creates or deletes resources. Any of them
 * asked by a principal a deny_policy of the team names (for that event and resource) is
 * refused first: 403 AccessDenied, audited. */
#ifndef GD_SERVER_OPS_H
#define GD_SERVER_OPS_H

#include "core/conf.h"
#include "server/game.h"

#include <jansson.h>

/* How far a caller is trusted. Only the scenario (events, chaos, the autoscaler) and
 * the instructor may give a launch template a command of their own; a team may give
 * only the commands the scenario lists in allowed_commands. */
enum gd_trust { GD_TRUST_TEAM, GD_TRUST_ADMIN, GD_TRUST_GAME };

/* Who acts. */
typedef struct gd_actor {
    int team;              /* the team acted on, 1..nteams */
    const char *principal; /* "team-1", "admin", "autoscaling", "chaos-monkey" */
    const char *source_ip; /* NULL when the game itself acts */
    enum gd_trust trust;
    /* The game's own physical losses (an AZ outage, a spot interruption): no
     * termination protection and no deny policy stops them. */
    int physical;
} gd_actor;

/* What an operation did. */
typedef struct gd_op_result {
    int status;       /* 200, 201, 400, 403, 404, 409 or 500 */
    const char *code; /* AWS-style error code ("ValidationError"), NULL on success */
    char message[1024];
    /* The request field the message is about, as a path of the request's body
     * ("spec.max", "desired", "name"), or "" when it names none (see gd_op_field_of). */
    char field[128];
    json_t *errors; /* ValidationError: every problem, one string each (owned) */
    json_t *body;   /* on success: the answer (owned), e.g. the resource */
} gd_op_result;

/** The answer as the API sends it: the body, or {"error":{code,message,errors,field}}
 *  (field only when the message names one). Takes the result's references; the result
 *  is empty afterwards. */
json_t *gd_op_answer(gd_op_result *r);
/** The field a message is about: its leading path up to ": " when it has one
 *  ("spec.max: asg 'web': field 'max': ..." gives "spec.max", "desired: must be an
 *  integer" gives "desired"), else "". Every message of the operations and of the
 *  model's checks starts so when it concerns one field. Returns buf. */
const char *gd_op_field_of(const char *msg, char *buf, size_t n);
/** Frees what a result holds. */
void gd_op_result_free(gd_op_result *r);

/** Checks a spec of `type` named `name` for a team, in place (defaults filled): whether
 *  `who` may give it what it asks (a launch template's command that differs from the
 *  one in old_spec, NULL for a new resource, must be in allowed_commands unless the
 *  scenario or the instructor asks), its fields (gd_schema_check), then the resource
 *  against `resources` (the team's live resources; one of the same name is replaced)
 *  with the team's octet `team_octet`. Pure: no store, no audit; the scenario loader
 *  runs the same model checks. 0, or a negative code with out filled (400
 *  ValidationError, 403 UnauthorizedOperation). */
int gd_op_check_spec(const gd_actor *who, const char *type, const char *name, json_t *spec,
                     const json_t *old_spec, const json_t *resources, int team_octet,
                     const json_t *allowed_commands, gd_op_result *out);

/** Creates a resource from {"type", "name", "spec"} (CreateResource; an instance is
 *  launched: RunInstances). 201 with the resource. */
int gd_op_create(gd_game *g, const gd_actor *who, const json_t *body, gd_op_result *out);
/** Merges {"spec": {...}} into a resource's spec (UpdateResource). 200 with it. */
int gd_op_update(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                 gd_op_result *out);
/** gd_op_update recorded under an event name of its own (the AWS call it serves:
 *  RegisterTargets, CreateRule ...): the same checks, and the deny policies and
 *  throttles of UpdateResource. */
int gd_op_update_as(gd_game *g, const gd_actor *who, const char *event, const char *id,
                    const json_t *body, gd_op_result *out);
/** Deletes a resource (DeleteResource; an instance is terminated; a group's instances
 *  are terminated with it). 409 DependencyViolation while another resource needs it. */
int gd_op_delete(gd_game *g, const gd_actor *who, const char *id, gd_op_result *out);
/** An action on a resource: "scale" (SetDesiredCapacity, {"desired": N} on an asg),
 *  "terminate" (TerminateInstances, optional {"force": bool}), "set_endpoint"
 *  (ChangeResourceRecordSets, {"name": entry}: target is ignored), "failover"
 *  (TestFailover of a cache_cluster, no body), "db_failover" (FailoverDBCluster of a
 *  db, no body), "reboot" (RebootDBInstance of a db, no body), "invalidate" (CreateInvalidation of
 *  a cdn, {"paths": [...], "caller_reference": ref}: 201 with the invalidation, 200 with
 *  the same one for a reference given again with the same paths, 409
 *  InvalidationBatchAlreadyExists with others). body may be NULL where the action takes
 *  none. */
int gd_op_action(gd_game *g, const gd_actor *who, const char *action, const char *target,
                 const json_t *body, gd_op_result *out);

/* ---- the game's own operations: the bootstrap and the autoscaler, not the API ---- */

/* What RunInstances launches. */
typedef struct gd_launch {
    const char *name;              /* NULL: "<asg or template>-<8 hex digits>" */
    const char *launch_template;   /* its name */
    const char *instance_type;     /* NULL: the template's */
    const char *subnet;            /* its name */
    const char *asg;               /* the group it belongs to, NULL for none */
    int booted;                    /* running at once (the starting architecture) */
    int protect;                   /* protected_from_scale_in (the group's new instances) */
    const char *market;            /* NULL: the template's */
    const json_t *security_groups; /* NULL: the template's */
    /* termination_protection, a boolean; NULL: the template's */
    const json_t *termination_protection;
} gd_launch;

/** RunInstances: a pending instance (running when l->booted). 201 with it, its id in
 *  id_out (may be NULL); 400 InsufficientFreeAddressesInSubnet or InvalidParameterValue,
 *  409 AlreadyExists. Audited once. */
int gd_op_run_instance(gd_game *g, const gd_actor *who, const gd_launch *l, char id_out[40],
                       gd_op_result *out);
/** TerminateInstances with a reason shown on the instance ("scale-in by autoscaling").
 *  404 InvalidInstanceID.NotFound; 400 OperationNotPermitted for an instance with
 *  termination_protection, unless autoscaling or a physical loss (who->physical) asks;
 *  403 AccessDenied when a deny_policy of the team denies the principal. Audited once. */
int gd_op_terminate(gd_game *g, const gd_actor *who, const char *id, int hard, const char *reason,
                    gd_op_result *out);
/** DeregisterTargets for a scale-in: the instance leaves every target group now and is
 *  terminated once drained or after `delay` game seconds (the autoscaler does that).
 *  Audited once. */
int gd_op_deregister(gd_game *g, const gd_actor *who, const char *id, const char *asg, double delay,
                     gd_op_result *out);

/** RunTask for an ecs_service (id or name): a pending task its scheduler places. 201
 *  with it; 404 when the service is gone. Audited once (by the launcher's primitive). */
int gd_op_run_task(gd_game *g, const gd_actor *who, const char *service, gd_op_result *out);
/** StopTask: the task stops with reason (SIGKILL when hard). 404 when there is no such
 *  task, 400 when it is stopped already. Audited once. */
int gd_op_stop_task(gd_game *g, const gd_actor *who, const char *id, int hard, const char *reason,
                    gd_op_result *out);

#endif
